/* random.c: random ops over explicit keys (spec/semantics.md section 7): keys, the
 * Threefry bits primitive, and uniform/normal/randint as exact op sequences so results are
 * bit-identical with MLX. The per-thread global key lives in the Python layer (and in the
 * C API wrapper), never here. */
#include "ops.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/error.h"

mx_array *mx_random_key(uint64_t seed) {
  uint32_t k[2] = {(uint32_t)(seed >> 32), (uint32_t)(seed & 0xffffffffu)};
  int32_t shape[1] = {2};
  return mx_scope_adopt(mx_array_from_data(k, MX_UINT32, 1, shape));
}

mx_array *mx_random_bits(const int32_t *shape, int ndim, int width, mx_array *key, mx_stream s) {
  if (!key) return NULL;
  if (key->dtype != MX_UINT32 || key->ndim < 1 || key->shape[key->ndim - 1] != 2)
    return mx_fail(MX_EINVAL, "[bits] Expected key with shape (..., 2) and dtype uint32.");
  mx_dtype t = width == 1 ? MX_UINT8 : width == 2 ? MX_UINT16 : width == 4 ? MX_UINT32 : MX_DTYPE_COUNT;
  if (t == MX_DTYPE_COUNT) return mx_fail(MX_EINVAL, "[bits] Bit width must be in {1, 2, 4} but got %d.", width);
  if (mx_shape_size("bits", ndim, shape) < 0) return NULL;
  int kb = key->ndim - 1, nd = kb + ndim;
  int32_t *out = malloc((size_t)(nd + 1) * sizeof(int32_t));
  if (!out) return mx_fail(MX_ENOMEM, "[bits] out of memory.");
  memcpy(out, key->shape, (size_t)kb * sizeof(int32_t));
  if (ndim) memcpy(out + kb, shape, (size_t)ndim * sizeof(int32_t));
  mx_p_random_bits p = {width};
  mx_array *r = mx_op_make1(MX_PRIM_RANDOM_BITS, &p, s, 1, &key, t, nd, out);
  free(out);
  return r;
}

mx_array *mx_random_split(mx_array *key, int num, mx_stream s) {
  if (num < 0) return mx_fail(MX_EINVAL, "[split] num must be non-negative, got %d.", num);
  int32_t shape[2] = {num, 2};
  return mx_random_bits(shape, 2, 4, key, s);
}

/* Largest float32 below 1 that is representable in t (as float32). */
static float upper_below_one(mx_dtype t) {
  if (t == MX_FLOAT16) return 1.0f - 1.0f / 2048.0f;
  if (t == MX_BFLOAT16) return 1.0f - 1.0f / 256.0f;
  return nextafterf(1.0f, 0.0f);
}

mx_array *mx_random_uniform(mx_array *low, mx_array *high, const int32_t *shape, int ndim,
                            mx_dtype t, mx_array *key, mx_stream s) {
  if (!low || !high || !key) return NULL;
  if (!mx_dtype_is_floating(t))
    return mx_fail(MX_EINVAL, "[uniform] Can only generate uniform numbers with real floating point type.");
  if (t != MX_FLOAT32 && t != MX_FLOAT16 && t != MX_BFLOAT16)
    return mx_fail(MX_ERUNTIME, "[uniform] Unsupported type.");
  MX_SCOPE_BEGIN;
  mx_array *r = NULL;
  mx_array *lo = mx_astype(low, t, s), *hi = mx_astype(high, t, s);
  mx_array *range = mx_subtract(hi, lo, s);
  if (range) {
    int n = ndim > range->ndim ? ndim : range->ndim;
    int32_t *bs = malloc((size_t)(n + 1) * sizeof(int32_t));
    int nb = bs ? mx_broadcast_shapes("broadcast_shapes", ndim, shape, range->ndim, range->shape, bs) : -1;
    if (nb >= 0 && (nb != ndim || (ndim && memcmp(bs, shape, (size_t)ndim * sizeof(int32_t)) != 0))) {
      char sa[128] = "", sb[128] = "";
      for (int i = 0, la = 0; i < ndim && la < 100; i++) la += snprintf(sa + la, sizeof sa - (size_t)la, i ? ",%d" : "%d", shape[i]);
      for (int i = 0, lb = 0; i < nb && lb < 100; i++) lb += snprintf(sb + lb, sizeof sb - (size_t)lb, i ? ",%d" : "%d", bs[i]);
      mx_fail(MX_EINVAL, "[uniform] Cannot generate random values of shape (%s) from broadcasted shape (%s).", sa, sb);
      nb = -1;
    }
    free(bs);
    if (nb >= 0) {
      mx_array *u = mx_random_bits(shape, ndim, 4, key, s);
      mx_array *maxval = mx_scope_adopt(mx_array_scalar_f64(4294967295.0, MX_FLOAT32));
      u = mx_divide(u, maxval, s);
      u = mx_minimum(u, mx_scope_adopt(mx_array_scalar_f64(upper_below_one(t), MX_FLOAT32)), s);
      u = mx_astype(u, t, s);
      r = mx_add(mx_multiply(range, u, s), lo, s);
    }
  }
  MX_SCOPE_RETURN(r);
}

mx_array *mx_random_normal(const int32_t *shape, int ndim, mx_dtype t, mx_array *loc,
                           mx_array *scale, mx_array *key, mx_stream s) {
  if (!key) return NULL;
  if (!mx_dtype_is_inexact(t))
    return mx_fail(MX_EINVAL, "[normal] Can only generate normal numbers with floating point type.");
  MX_SCOPE_BEGIN;
  mx_array *r = NULL;
  mx_array *lo = mx_scope_adopt(mx_array_scalar_f64(nextafterf(-1.0f, 0.0f), MX_FLOAT32));
  mx_array *hi = mx_scope_adopt(mx_array_scalar_f64(1.0, MX_FLOAT32));
  if (t == MX_COMPLEX64) {
    /* float32 pairs viewed as complex: each part N(0, 1/2), no sqrt(2) factor */
    int32_t *cs = malloc((size_t)(ndim + 1) * sizeof(int32_t));
    if (!cs) {
      r = mx_fail(MX_ENOMEM, "[normal] out of memory.");
    } else {
      if (ndim) memcpy(cs, shape, (size_t)ndim * sizeof(int32_t));
      cs[ndim] = 2;
      mx_array *y = mx_erfinv(mx_random_uniform(lo, hi, cs, ndim + 1, MX_FLOAT32, key, s), s);
      free(cs);
      int last = -1;
      y = mx_squeeze(mx_view(y, MX_COMPLEX64, s), &last, 1, s);
      if (scale) y = mx_multiply(scale, y, s);
      if (loc) y = mx_add(loc, y, s);
      r = y;
    }
  } else {
    mx_array *y = mx_astype(mx_erfinv(mx_random_uniform(lo, hi, shape, ndim, MX_FLOAT32, key, s), s), t, s);
    mx_array *f = mx_scope_adopt(mx_array_scalar_f64(sqrt(2.0), t));
    if (scale) f = mx_multiply(f, mx_astype(scale, t, s), s);
    y = mx_multiply(f, y, s);
    if (loc) y = mx_add(mx_astype(loc, t, s), y, s);
    r = y;
  }
  MX_SCOPE_RETURN(r);
}

mx_array *mx_random_randint(mx_array *low, mx_array *high, const int32_t *shape, int ndim,
                            mx_dtype t, mx_array *key, mx_stream s) {
  if (!low || !high || !key) return NULL;
  if (!mx_dtype_is_integer(t) && t != MX_BOOL)
    return mx_fail(MX_EINVAL, "[randint] randint only accepts integer dtypes and bool.");
  MX_SCOPE_BEGIN;
  mx_array *u = mx_random_uniform(low, high, shape, ndim, MX_FLOAT32, key, s);
  mx_array *r = mx_astype(mx_floor(u, s), t, s);
  mx_array *hi1 = mx_subtract(mx_astype(high, t, s), mx_scope_adopt(mx_array_scalar_f64(1.0, t)), s);
  r = mx_maximum(mx_minimum(r, hi1, s), mx_astype(low, t, s), s);
  MX_SCOPE_RETURN(r);
}
