/* arg_reduce.c: argmax and argmin (the ArgReduce primitive). uint32 indices; axis None
 * reduces the flattened array; ties and NaN pick the first index (as MLX and NumPy). */
#include "ops.h"

#include <stdlib.h>

#include "../core/error.h"

/* The reduction along one normalised axis, kept as size 1 unless !keepdims. */
static mx_array *arg_reduce_axis(mx_arg_reduce_kind kind, mx_array *a, int axis, bool keepdims,
                                 mx_stream s) {
  if (!a) return NULL;
  int nd = a->ndim;
  int32_t small[2 * MX_INLINE_DIMS];
  int32_t *kept = nd <= MX_INLINE_DIMS ? small : malloc((size_t)nd * 2 * sizeof(int32_t));
  if (!kept) return mx_fail(MX_ENOMEM, "[argmax] out of memory.");
  int32_t *squeezed = kept + nd;
  for (int i = 0, j = 0; i < nd; i++) {
    kept[i] = i == axis ? 1 : a->shape[i];
    if (i != axis) squeezed[j++] = a->shape[i];
  }
  MX_SCOPE_BEGIN;
  mx_array *r;
  if (a->shape[axis] == 1) {
    r = mx_zeros(kept, nd, MX_UINT32, s);
  } else {
    mx_p_arg_reduce p = {kind, axis};
    r = mx_op_make1(MX_PRIM_ARG_REDUCE, &p, s, 1, &a, MX_UINT32, nd, kept);
  }
  if (!keepdims) r = mx_reshape(r, squeezed, nd - 1, s);
  if (kept != small) free(kept);
  MX_SCOPE_RETURN(r);
}

static mx_array *arg_reduce(const char *name, mx_arg_reduce_kind kind, mx_array *a,
                            const int *axis, int naxis, bool keepdims, mx_stream s) {
  if (!a) return NULL;
  if (naxis >= 0 && naxis != 1)
    return mx_fail(MX_ETYPE, "[%s] Expected an integer axis or None, got %d axes.", name, naxis);
  if (a->size == 0)
    return mx_fail(MX_EINVAL, "[%s] Cannot %s reduce zero size array.", name, name);
  if (naxis == 1) {
    int ax = mx_normalize_axis(name, axis[0], a->ndim);
    if (ax < 0) return NULL;
    return arg_reduce_axis(kind, a, ax, keepdims, s);
  }
  /* flattened: reduce a (size,) view, then give it a's rank (keepdims) or none */
  int nd = a->ndim;
  int32_t small[MX_INLINE_DIMS];
  int32_t *ones = nd <= MX_INLINE_DIMS ? small : malloc((size_t)nd * sizeof(int32_t));
  if (!ones) return mx_fail(MX_ENOMEM, "[%s] out of memory.", name);
  for (int i = 0; i < nd; i++) ones[i] = 1;
  int32_t flat = (int32_t)a->size;
  MX_SCOPE_BEGIN;
  mx_array *r = arg_reduce_axis(kind, mx_reshape(a, &flat, 1, s), 0, true, s);
  r = mx_reshape(r, ones, keepdims ? nd : 0, s);
  if (ones != small) free(ones);
  MX_SCOPE_RETURN(r);
}

mx_array *mx_argmax(mx_array *a, const int *axis, int naxis, bool keepdims, mx_stream s) {
  return arg_reduce("argmax", MX_ARG_REDUCE_MAX, a, axis, naxis, keepdims, s);
}

mx_array *mx_argmin(mx_array *a, const int *axis, int naxis, bool keepdims, mx_stream s) {
  return arg_reduce("argmin", MX_ARG_REDUCE_MIN, a, axis, naxis, keepdims, s);
}
