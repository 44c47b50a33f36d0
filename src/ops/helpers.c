/* helpers.c: shape and axis helpers shared by the op constructors. */
#include "ops.h"

#include <stdio.h>

#include "../core/error.h"

int mx_broadcast_shapes(const char *op, int na, const int32_t *a, int nb, const int32_t *b,
                        int32_t *out) {
  int n = na > nb ? na : nb;
  for (int i = 0; i < n; i++) {
    int32_t da = i < n - na ? 1 : a[i - (n - na)];
    int32_t db = i < n - nb ? 1 : b[i - (n - nb)];
    if (da != db && da != 1 && db != 1) {
      char sa[128] = "", sb[128] = "";
      int la = 0, lb = 0;
      for (int k = 0; k < na && la < 100; k++) la += snprintf(sa + la, sizeof sa - (size_t)la, k ? ",%d" : "%d", a[k]);
      for (int k = 0; k < nb && lb < 100; k++) lb += snprintf(sb + lb, sizeof sb - (size_t)lb, k ? ",%d" : "%d", b[k]);
      return mx_fail_int(MX_EINVAL, "[%s] Shapes (%s) and (%s) cannot be broadcast.", op, sa, sb);
    }
    out[i] = da == 1 ? db : da;
  }
  return n;
}

int mx_normalize_axis(const char *op, int axis, int ndim) {
  if (axis < -ndim || axis >= ndim)
    return mx_fail_int(MX_EINDEX, "[%s] Invalid axis %d for array with %d dimensions.", op, axis, ndim);
  return axis < 0 ? axis + ndim : axis;
}
