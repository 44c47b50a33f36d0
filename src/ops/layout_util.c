/* layout_util.c: helpers of layout_util.h shared by the shape/layout op files. */
#include "layout_util.h"

#include <stdio.h>
#include <stdlib.h>

int mx_lay_axis(const char *op, int axis, int ndim) {
  if (axis < -ndim || axis >= ndim)
    return mx_fail_int(MX_EINDEX, "[%s] Axis %d is out of bounds for array with %d dimensions.", op,
                       axis, ndim);
  return axis < 0 ? axis + ndim : axis;
}

void mx_lay_shape_str(char *buf, size_t cap, int n, const int32_t *shape) {
  size_t len = (size_t)snprintf(buf, cap, "(");
  for (int i = 0; i < n && len < cap; i++) {
    if (len + 16 >= cap) {
      snprintf(buf + len, cap - len, "...");
      len = cap;
      break;
    }
    len += (size_t)snprintf(buf + len, cap - len, i ? ",%d" : "%d", shape[i]);
  }
  if (len < cap) snprintf(buf + len, cap - len, ")");
}

int32_t *mx_lay_dims(const char *op, int n) {
  int32_t *p = malloc((size_t)(n > 0 ? n : 1) * sizeof(int32_t));
  if (!p) mx_fail(MX_ENOMEM, "[%s] out of memory.", op);
  return p;
}

int *mx_lay_ints(const char *op, int n) {
  int *p = malloc((size_t)(n > 0 ? n : 1) * sizeof(int));
  if (!p) mx_fail(MX_ENOMEM, "[%s] out of memory.", op);
  return p;
}

void mx_lay_keep_all(mx_array **v, int n) {
  for (int i = 0; i < n; i++) v[i] = mx_keep(v[i]);
}

void mx_lay_adopt_all(mx_array **v, int n) {
  for (int i = 0; i < n; i++) v[i] = mx_scope_adopt(v[i]);
}

void mx_lay_release_all(mx_array **v, int n) {
  for (int i = 0; v && i < n; i++)
    if (v[i]) mx_array_release(v[i]);
}
