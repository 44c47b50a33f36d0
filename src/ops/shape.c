/* shape.c: reshape, transpose, broadcast_to, expand_dims, slice and slice_update. Each is
 * a view primitive (resolved at schedule time, ops/views.c) except slice_update, which
 * writes a region of a copy of src (or of src itself when donated). */
#include "ops.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/error.h"

static void shape_str(char *buf, size_t cap, int n, const int32_t *s) {
  int len = snprintf(buf, cap, "(");
  for (int i = 0; i < n && len < (int)cap - 16; i++) len += snprintf(buf + len, cap - (size_t)len, i ? ", %d" : "%d", s[i]);
  snprintf(buf + len, cap - (size_t)len, ")");
}

mx_array *mx_reshape(mx_array *a, const int32_t *shape, int ndim, mx_stream s) {
  if (!a) return NULL;
  int32_t small[MX_INLINE_DIMS];
  int32_t *sh = ndim <= MX_INLINE_DIMS ? small : malloc((size_t)ndim * sizeof(int32_t));
  if (!sh) return mx_fail(MX_ENOMEM, "[reshape] out of memory.");
  int infer = -1;
  int64_t known = 1;
  mx_array *r = NULL;
  for (int i = 0; i < ndim; i++) {
    sh[i] = shape[i];
    if (shape[i] == -1) {
      if (infer >= 0) {
        mx_fail(MX_EINVAL, "[reshape] Can only infer one dimension.");
        goto out;
      }
      infer = i;
    } else if (shape[i] < 0) {
      mx_fail(MX_EINVAL, "[reshape] Invalid dimension %d.", shape[i]);
      goto out;
    } else {
      known *= shape[i];
    }
  }
  if (infer >= 0) {
    if (known == 0 || a->size % known != 0) {
      char b[256];
      shape_str(b, sizeof b, ndim, shape);
      mx_fail(MX_EINVAL, "[reshape] Cannot infer the shape of an array of size %lld into shape %s.",
              (long long)a->size, b);
      goto out;
    }
    sh[infer] = (int32_t)(a->size / known);
    known *= sh[infer];
  }
  if (known != a->size) {
    char b[256];
    shape_str(b, sizeof b, ndim, shape);
    mx_fail(MX_EINVAL, "[reshape] Cannot reshape array of size %lld into shape %s.", (long long)a->size, b);
    goto out;
  }
  if (ndim == a->ndim && memcmp(sh, a->shape, (size_t)ndim * sizeof(int32_t)) == 0) {
    r = mx_scope_adopt(mx_keep(a));
    goto out;
  }
  mx_p_reshape p = {{ndim, sh}};
  r = mx_op_make1(MX_PRIM_RESHAPE, &p, s, 1, &a, a->dtype, ndim, sh);
out:
  if (sh != small) free(sh);
  return r;
}

mx_array *mx_transpose(mx_array *a, const int *axes, int naxes, mx_stream s) {
  if (!a) return NULL;
  int nd = a->ndim;
  int32_t *buf = malloc((size_t)(2 * nd + 1) * sizeof(int32_t));
  if (!buf) return mx_fail(MX_ENOMEM, "[transpose] out of memory.");
  int32_t *perm = buf, *shape = buf + nd;
  mx_array *r = NULL;
  if (naxes < 0) {
    for (int i = 0; i < nd; i++) perm[i] = nd - 1 - i;
  } else {
    if (naxes != nd) {
      mx_fail(MX_EINVAL, "[transpose] Received %d axes for array with %d dimensions.", naxes, nd);
      goto out;
    }
    for (int i = 0; i < nd; i++) {
      int ax = axes[i];
      if (ax < -nd || ax >= nd) {
        mx_fail(MX_EINVAL, "[transpose] Invalid axis (%d) for array with %d dimensions.", ax, nd);
        goto out;
      }
      perm[i] = ax < 0 ? ax + nd : ax;
      for (int j = 0; j < i; j++)
        if (perm[j] == perm[i]) {
          mx_fail(MX_EINVAL, "[transpose] Repeat axes not allowed in transpose.");
          goto out;
        }
    }
  }
  for (int i = 0; i < nd; i++) shape[i] = a->shape[perm[i]];
  mx_p_transpose p = {{nd, perm}};
  r = mx_op_make1(MX_PRIM_TRANSPOSE, &p, s, 1, &a, a->dtype, nd, shape);
out:
  free(buf);
  return r;
}

mx_array *mx_broadcast_to(mx_array *a, const int32_t *shape, int ndim, mx_stream s) {
  if (!a) return NULL;
  if (ndim == a->ndim && (ndim == 0 || memcmp(shape, a->shape, (size_t)ndim * sizeof(int32_t)) == 0))
    return mx_scope_adopt(mx_keep(a));
  bool ok = ndim >= a->ndim;
  for (int i = 0; ok && i < a->ndim; i++) {
    int32_t d = a->shape[a->ndim - 1 - i], t = shape[ndim - 1 - i];
    ok = d == t || d == 1;
  }
  for (int i = 0; ok && i < ndim; i++) ok = shape[i] >= 0;
  if (!ok) {
    char sa[256], sb[256];
    shape_str(sa, sizeof sa, a->ndim, a->shape);
    shape_str(sb, sizeof sb, ndim, shape);
    return mx_fail(MX_EINVAL, "[broadcast_to] Cannot broadcast array of shape %s into shape %s.", sa, sb);
  }
  if (mx_shape_size("broadcast_to", ndim, shape) < 0) return NULL;
  mx_p_broadcast p = {{ndim, shape}};
  return mx_op_make1(MX_PRIM_BROADCAST, &p, s, 1, &a, a->dtype, ndim, shape);
}

mx_array *mx_expand_dims(mx_array *a, int axis, mx_stream s) {
  if (!a) return NULL;
  int nd = a->ndim + 1;
  if (axis < -nd || axis >= nd)
    return mx_fail(MX_EINVAL, "[expand_dims] Invalid axis %d for output array with %d dimensions.", axis, nd);
  if (axis < 0) axis += nd;
  int32_t *shape = malloc((size_t)nd * sizeof(int32_t));
  if (!shape) return mx_fail(MX_ENOMEM, "[expand_dims] out of memory.");
  for (int i = 0, j = 0; i < nd; i++) shape[i] = i == axis ? 1 : a->shape[j++];
  mx_array *r = mx_reshape(a, shape, nd, s);
  free(shape);
  return r;
}

/* Output extent of start:stop:step over a dimension of size n (already clamped). */
static int32_t slice_len(int32_t start, int32_t stop, int32_t step) {
  if (step > 0) return stop > start ? (stop - start + step - 1) / step : 0;
  return start > stop ? (start - stop - step - 1) / -step : 0;
}

static int check_slice(const char *name, const mx_array *a, const int32_t *start,
                       const int32_t *stop, const int32_t *strides, int32_t *shape) {
  for (int i = 0; i < a->ndim; i++) {
    if (strides[i] == 0) return mx_fail_int(MX_EINVAL, "[%s] Slice step cannot be zero.", name);
    int32_t n = a->shape[i];
    bool ok = strides[i] > 0 ? (start[i] >= 0 && start[i] <= n && stop[i] >= 0 && stop[i] <= n)
                             : (start[i] >= -1 && start[i] < n && stop[i] >= -1 && stop[i] < n);
    if (!ok && n > 0)
      return mx_fail_int(MX_EINVAL, "[%s] Slice [%d:%d:%d] is out of bounds for axis %d of size %d.",
                         name, start[i], stop[i], strides[i], i, n);
    shape[i] = n == 0 ? 0 : slice_len(start[i], stop[i], strides[i]);
  }
  return 0;
}

mx_array *mx_slice(mx_array *a, const int32_t *start, const int32_t *stop,
                   const int32_t *strides, mx_stream s) {
  if (!a) return NULL;
  int nd = a->ndim;
  int32_t *shape = malloc((size_t)(nd + 1) * sizeof(int32_t));
  if (!shape) return mx_fail(MX_ENOMEM, "[slice] out of memory.");
  mx_array *r = NULL;
  if (check_slice("slice", a, start, stop, strides, shape) == 0) {
    if (nd == 0 || memcmp(shape, a->shape, (size_t)nd * sizeof(int32_t)) == 0) {
      bool identity = true;
      for (int i = 0; i < nd; i++) identity &= start[i] == 0 && strides[i] == 1;
      if (identity) {
        free(shape);
        return mx_scope_adopt(mx_keep(a));
      }
    }
    mx_p_slice p = {{nd, start}, {nd, stop}, {nd, strides}};
    r = mx_op_make1(MX_PRIM_SLICE, &p, s, 1, &a, a->dtype, nd, shape);
  }
  free(shape);
  return r;
}

mx_array *mx_slice_update(mx_array *src, mx_array *update, const int32_t *start,
                          const int32_t *stop, const int32_t *strides, mx_stream s) {
  if (!src || !update) return NULL;
  int nd = src->ndim;
  int32_t *shape = malloc((size_t)(nd + 1) * sizeof(int32_t));
  if (!shape) return mx_fail(MX_ENOMEM, "[slice_update] out of memory.");
  mx_array *r = NULL;
  if (check_slice("slice_update", src, start, stop, strides, shape) == 0) {
    MX_SCOPE_BEGIN;
    mx_array *u = mx_broadcast_to(mx_astype(update, src->dtype, s), shape, nd, s);
    if (u) {
      mx_p_slice_update p = {{nd, start}, {nd, stop}, {nd, strides}};
      mx_array *in[2] = {src, u};
      r = mx_keep(mx_op_make1(MX_PRIM_SLICE_UPDATE, &p, s, 2, in, src->dtype, nd, src->shape));
    }
    MX_SCOPE_END;
    r = mx_scope_adopt(r);
  }
  free(shape);
  return r;
}

mx_array *mx_moveaxis(mx_array *a, int source, int destination, mx_stream s) {
  if (!a) return NULL;
  int nd = a->ndim;
  int src = mx_normalize_axis("moveaxis", source, nd);
  if (src < 0) return NULL;
  int dst = mx_normalize_axis("moveaxis", destination, nd);
  if (dst < 0) return NULL;
  if (src == dst) return mx_scope_adopt(mx_keep(a));
  int *perm = malloc((size_t)nd * sizeof(int));
  if (!perm) return mx_fail(MX_ENOMEM, "[moveaxis] out of memory.");
  perm[dst] = src; /* the other slots take the remaining axes in order */
  for (int i = 0, j = 0; i < nd; i++) {
    if (i == dst) continue;
    if (j == src) j++;
    perm[i] = j++;
  }
  mx_array *r = mx_transpose(a, perm, nd, s);
  free(perm);
  return r;
}

mx_array *mx_swapaxes(mx_array *a, int axis1, int axis2, mx_stream s) {
  if (!a) return NULL;
  int nd = a->ndim;
  int x = mx_normalize_axis("swapaxes", axis1, nd);
  if (x < 0) return NULL;
  int y = mx_normalize_axis("swapaxes", axis2, nd);
  if (y < 0) return NULL;
  int *perm = malloc((size_t)(nd ? nd : 1) * sizeof(int));
  if (!perm) return mx_fail(MX_ENOMEM, "[swapaxes] out of memory.");
  for (int i = 0; i < nd; i++) perm[i] = i;
  perm[x] = y;
  perm[y] = x;
  mx_array *r = mx_transpose(a, perm, nd, s);
  free(perm);
  return r;
}
