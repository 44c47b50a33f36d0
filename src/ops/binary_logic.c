/* binary_logic.c: the binary ops of section B that make primitives: floor_divide,
 * remainder, divmod, power, logaddexp, arctan2, bitwise and shifts, logical and/or/xor.
 * Operands are cast to the computation dtype and broadcast (stride-0 views) first, so the
 * kernels see one dtype and one shape, as in src/ops/binary.c. */
#include "ops.h"

#include <stdlib.h>

#include "../core/error.h"

/* Broadcast shape of a and b into *shape (inline or malloc'd: free if != small); ndim or -1. */
static int common_shape(mx_array *a, mx_array *b, int32_t *small, int32_t **shape) {
  int n = a->ndim > b->ndim ? a->ndim : b->ndim;
  *shape = n <= MX_INLINE_DIMS ? small : malloc((size_t)n * sizeof(int32_t));
  if (!*shape) return mx_fail_int(MX_ENOMEM, "[broadcast_shapes] out of memory.");
  return mx_broadcast_shapes("broadcast_shapes", a->ndim, a->shape, b->ndim, b->shape, *shape);
}

/* a and b cast to t and broadcast into in[2], then n_out outputs of dtype out_t each. */
static int make(mx_prim p, mx_array *a, mx_array *b, mx_dtype t, mx_dtype out_t, int n_out,
                mx_stream s, mx_array **out) {
  for (int k = 0; k < n_out; k++) out[k] = NULL;
  if (!a || !b) return -1;
  int32_t small[MX_INLINE_DIMS], *shape;
  int n = common_shape(a, b, small, &shape);
  int rc = -1;
  if (n >= 0) {
    MX_SCOPE_BEGIN;
    mx_array *in[2] = {mx_broadcast_to(mx_astype(a, t, s), shape, n, s),
                       mx_broadcast_to(mx_astype(b, t, s), shape, n, s)};
    mx_out_spec specs[2] = {{out_t, n, shape}, {out_t, n, shape}};
    mx_array *res[2] = {NULL, NULL};
    if (in[0] && in[1]) rc = mx_op_make(p, NULL, s, 2, in, n_out, specs, res);
    for (int k = 0; rc == 0 && k < n_out; k++) out[k] = mx_keep(res[k]);
    MX_SCOPE_END;
    for (int k = 0; rc == 0 && k < n_out; k++) out[k] = mx_scope_adopt(out[k]);
  }
  if (shape != small) free(shape);
  return rc;
}

static mx_array *make1(mx_prim p, mx_array *a, mx_array *b, mx_dtype t, mx_dtype out_t,
                       mx_stream s) {
  mx_array *r;
  return make(p, a, b, t, out_t, 1, s, &r) == 0 ? r : NULL;
}

mx_array *mx_floor_divide(mx_array *a, mx_array *b, mx_stream s) {
  if (!a || !b) return NULL;
  mx_dtype t = mx_promote_types(a->dtype, b->dtype);
  if (t == MX_COMPLEX64) return mx_divide(a, b, s); /* no floor for complex, as MLX */
  if (mx_dtype_is_inexact(t)) {
    MX_SCOPE_BEGIN;
    mx_array *r = mx_floor(mx_divide(a, b, s), s);
    MX_SCOPE_RETURN(r);
  }
  /* MLX's integer Divide is the floor quotient */
  return make1(MX_PRIM_DIVIDE, a, b, t, t, s);
}

mx_array *mx_remainder(mx_array *a, mx_array *b, mx_stream s) {
  if (!a || !b) return NULL;
  mx_dtype t = mx_promote_types(a->dtype, b->dtype);
  if (t == MX_COMPLEX64) return mx_fail(MX_EINVAL, "[remainder] Complex type not supported.");
  return make1(MX_PRIM_REMAINDER, a, b, t, t, s);
}

int mx_divmod(mx_array *a, mx_array *b, mx_stream s, mx_array **out) {
  out[0] = out[1] = NULL;
  if (!a || !b) return -1;
  mx_dtype t = mx_promote_types(a->dtype, b->dtype);
  if (t == MX_COMPLEX64) return mx_fail_int(MX_EINVAL, "[divmod] Complex type not supported.");
  return make(MX_PRIM_DIVMOD, a, b, t, t, 2, s, out);
}

int mx_divmod_list(mx_array *a, mx_array *b, mx_stream s, mx_array ***out, int *n) {
  *n = 0;
  *out = calloc(2, sizeof **out);
  if (!*out) return mx_fail_int(MX_ENOMEM, "[divmod] out of memory.");
  if (mx_divmod(a, b, s, *out) < 0) return -1;
  *n = 2;
  return 0;
}

mx_array *mx_power(mx_array *a, mx_array *b, mx_stream s) {
  if (!a || !b) return NULL;
  mx_dtype t = mx_promote_types(a->dtype, b->dtype);
  return make1(MX_PRIM_POWER, a, b, t, t, s);
}

mx_array *mx_logaddexp(mx_array *a, mx_array *b, mx_stream s) {
  if (!a || !b) return NULL;
  mx_dtype t = mx_at_least_float(mx_promote_types(a->dtype, b->dtype));
  return make1(MX_PRIM_LOGADDEXP, a, b, t, t, s);
}

mx_array *mx_arctan2(mx_array *a, mx_array *b, mx_stream s) {
  if (!a || !b) return NULL;
  mx_dtype t = mx_at_least_float(mx_promote_types(a->dtype, b->dtype));
  if (t == MX_COMPLEX64) return mx_fail(MX_EINVAL, "[arctan2] Not supported for complex64.");
  return make1(MX_PRIM_ARCTAN2, a, b, t, t, s);
}

/* Bitwise family: t is the computation and result dtype. The message names the operands'
 * dtypes, or t twice for right_shift (MLX casts its operands first there). */
static mx_array *bitwise(const char *name, mx_prim p, mx_array *a, mx_array *b, mx_dtype t,
                         mx_stream s) {
  if (!(mx_dtype_is_integer(t) || t == MX_BOOL)) {
    bool cast = p == MX_PRIM_RIGHT_SHIFT;
    return mx_fail(MX_ERUNTIME,
                   "[%s] Only allowed on integer or boolean types but got types %s and %s.", name,
                   mx_dtype_name(cast ? t : a->dtype), mx_dtype_name(cast ? t : b->dtype));
  }
  return make1(p, a, b, t, t, s);
}

mx_array *mx_bitwise_and(mx_array *a, mx_array *b, mx_stream s) {
  if (!a || !b) return NULL;
  return bitwise("bitwise_and", MX_PRIM_BITWISE_AND, a, b, mx_promote_types(a->dtype, b->dtype), s);
}

mx_array *mx_bitwise_or(mx_array *a, mx_array *b, mx_stream s) {
  if (!a || !b) return NULL;
  return bitwise("bitwise_or", MX_PRIM_BITWISE_OR, a, b, mx_promote_types(a->dtype, b->dtype), s);
}

mx_array *mx_bitwise_xor(mx_array *a, mx_array *b, mx_stream s) {
  if (!a || !b) return NULL;
  return bitwise("bitwise_xor", MX_PRIM_BITWISE_XOR, a, b, mx_promote_types(a->dtype, b->dtype), s);
}

static mx_dtype shift_type(mx_array *a, mx_array *b) {
  mx_dtype t = mx_promote_types(a->dtype, b->dtype);
  return t == MX_BOOL ? MX_UINT8 : t;
}

mx_array *mx_left_shift(mx_array *a, mx_array *b, mx_stream s) {
  if (!a || !b) return NULL;
  return bitwise("left_shift", MX_PRIM_LEFT_SHIFT, a, b, shift_type(a, b), s);
}

mx_array *mx_right_shift(mx_array *a, mx_array *b, mx_stream s) {
  if (!a || !b) return NULL;
  return bitwise("right_shift", MX_PRIM_RIGHT_SHIFT, a, b, shift_type(a, b), s);
}

mx_array *mx_logical_and(mx_array *a, mx_array *b, mx_stream s) {
  return make1(MX_PRIM_LOGICAL_AND, a, b, MX_BOOL, MX_BOOL, s);
}

mx_array *mx_logical_or(mx_array *a, mx_array *b, mx_stream s) {
  return make1(MX_PRIM_LOGICAL_OR, a, b, MX_BOOL, MX_BOOL, s);
}

mx_array *mx_logical_xor(mx_array *a, mx_array *b, mx_stream s) {
  if (!a || !b) return NULL;
  MX_SCOPE_BEGIN;
  mx_array *r = mx_not_equal(mx_astype(a, MX_BOOL, s), mx_astype(b, MX_BOOL, s), s);
  MX_SCOPE_RETURN(r);
}
