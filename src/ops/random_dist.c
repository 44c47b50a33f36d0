/* random_dist.c: the samplers of mx.random built on bits/uniform (spec/semantics.md 7.4):
 * bernoulli, truncated_normal, gumbel, categorical, laplace, permutation and
 * multivariate_normal, each the exact op sequence MLX uses so results are bit-identical. */
#include "ops.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/error.h"

static mx_array *scalar(double v, mx_dtype t) { return mx_scope_adopt(mx_array_scalar_f64(v, t)); }

/* out = broadcast(a, b) named as MLX's broadcast_shapes does; returns ndim or -1. out holds
 * max(na, nb) entries. */
static int bcast(int na, const int32_t *a, int nb, const int32_t *b, int32_t *out) {
  return mx_broadcast_shapes("broadcast_shapes", na, a, nb, b, out);
}

/* "(2,3)" into buf (truncated past cap). */
static const char *shape_str(char *buf, size_t cap, int n, const int32_t *shape) {
  size_t l = (size_t)snprintf(buf, cap, "(");
  for (int i = 0; i < n && l + 16 < cap; i++) l += (size_t)snprintf(buf + l, cap - l, i ? ",%d" : "%d", shape[i]);
  snprintf(buf + l, cap - l, ")");
  return buf;
}

static bool same_shape(int na, const int32_t *a, int nb, const int32_t *b) {
  return na == nb && (na == 0 || memcmp(a, b, (size_t)na * sizeof(int32_t)) == 0);
}

mx_array *mx_random_bernoulli(mx_array *p, const int32_t *shape, int ndim, mx_array *key,
                              mx_stream s) {
  if (!p || !key) return NULL;
  if (!mx_dtype_is_floating(p->dtype))
    return mx_fail(MX_EINVAL, "[bernoulli] bernoulli probability `p` must be a float type.");
  if (ndim < 0) {
    shape = p->shape;
    ndim = p->ndim;
  }
  MX_SCOPE_BEGIN;
  mx_array *r = NULL;
  /* p scaled to [0, next float above UINT32_MAX]: p >= 1 gives all true, p <= 0 all false. */
  mx_array *upper = scalar(nextafterf(4294967295.0f, INFINITY), MX_FLOAT32);
  mx_array *b = mx_random_bits(shape, ndim, 4, key, s);
  mx_array *res = mx_less(b, mx_multiply(p, upper, s), s);
  if (res && !same_shape(res->ndim, res->shape, ndim, shape))
    mx_fail(MX_EINVAL, "[bernoulli] shape of `p` is incompatible with argument `shape`.");
  else
    r = res;
  MX_SCOPE_RETURN(r);
}

mx_array *mx_random_truncated_normal(mx_array *lower, mx_array *upper, const int32_t *shape,
                                     int ndim, mx_dtype t, mx_array *key, mx_stream s) {
  if (!lower || !upper || !key) return NULL;
  if (!mx_dtype_is_floating(t))
    return mx_fail(MX_EINVAL, "[trunc_normal] trunc_normal only accepts floating point dtypes.");
  int n = lower->ndim > upper->ndim ? lower->ndim : upper->ndim;
  int32_t *bs = malloc((size_t)(n + 1) * sizeof(int32_t));
  if (!bs) return mx_fail(MX_ENOMEM, "[trunc_normal] out of memory.");
  if (ndim < 0) {
    ndim = bcast(lower->ndim, lower->shape, upper->ndim, upper->shape, bs);
    shape = bs;
  }
  mx_array *r = NULL;
  if (ndim >= 0) {
    MX_SCOPE_BEGIN;
    mx_array *sqrt2 = scalar(sqrt(2.0), t);
    mx_array *lo = mx_astype(lower, t, s), *hi = mx_astype(upper, t, s);
    mx_array *a = mx_erf(mx_divide(lo, sqrt2, s), s);
    mx_array *b = mx_erf(mx_divide(hi, sqrt2, s), s);
    mx_array *u = mx_random_uniform(a, b, shape, ndim, t, key, s);
    mx_array *out = mx_multiply(sqrt2, mx_erfinv(u, s), s);
    r = mx_keep(mx_maximum(mx_minimum(hi, out, s), lo, s));
    MX_SCOPE_END;
  }
  free(bs);
  return r ? mx_scope_adopt(r) : NULL;
}

mx_array *mx_random_gumbel(const int32_t *shape, int ndim, mx_dtype t, mx_array *key, mx_stream s) {
  if (!key) return NULL;
  if (!mx_dtype_is_floating(t))
    return mx_fail(MX_EINVAL, "[uniform] Can only generate uniform numbers with real floating point type.");
  MX_SCOPE_BEGIN;
  mx_array *u = mx_random_uniform(scalar(0.0, t), scalar(1.0, t), shape, ndim, t, key, s);
  mx_array *r = mx_negative(mx_log(mx_negative(mx_log(u, s), s), s), s);
  MX_SCOPE_RETURN(r);
}

/* Gumbel-max: argmax(gumbel(shape with the category axis inserted) + logits). */
static mx_array *categorical_gumbel(mx_array *logits, int axis, const int32_t *shape, int ndim,
                                    mx_array *key, mx_stream s) {
  int32_t *gs = malloc((size_t)(ndim + 1) * sizeof(int32_t));
  if (!gs) return mx_fail(MX_ENOMEM, "[categorical] out of memory.");
  int off = axis + ndim - logits->ndim + 1;
  for (int i = 0, j = 0; i <= ndim; i++) gs[i] = i == off ? logits->shape[axis] : shape[j++];
  MX_SCOPE_BEGIN;
  mx_array *g = mx_random_gumbel(gs, ndim + 1, MX_FLOAT32, key, s);
  mx_array *r = mx_keep(mx_argmax(mx_add(g, logits, s), &off, 1, false, s));
  MX_SCOPE_END;
  free(gs);
  return r ? mx_scope_adopt(r) : NULL;
}

/* Inverse CDF for one distribution (logits of size n along axis, every other dim 1): count the
 * entries of the exclusive cumulative sum of exp(l - max l) at or below u * total, minus one. */
static mx_array *categorical_inverse_cdf(mx_array *logits, const int32_t *shape, int ndim,
                                         mx_array *key, mx_stream s) {
  int32_t n = (int32_t)logits->size;
  MX_SCOPE_BEGIN;
  mx_array *l = mx_reshape(mx_astype(logits, MX_FLOAT32, s), &n, 1, s);
  mx_array *e = mx_exp(mx_subtract(l, mx_max(l, NULL, -1, false, s), s), s);
  int ax = 0;
  mx_array *cdf = mx_cumsum(e, &ax, 1, false, false, false, MX_FLOAT32, s);
  mx_array *u = mx_random_uniform(scalar(0.0, MX_FLOAT32), scalar(1.0, MX_FLOAT32), shape, ndim,
                                  MX_FLOAT32, key, s);
  u = mx_multiply(u, mx_sum(e, NULL, -1, false, s), s);
  mx_array *idx = mx_searchsorted(cdf, u, true, s);
  mx_array *r = mx_astype(mx_subtract(idx, mx_scope_adopt(mx_array_scalar_i64(1, MX_UINT32)), s),
                          MX_UINT32, s);
  MX_SCOPE_RETURN(r);
}

static mx_array *categorical_impl(mx_array *logits, int axis, const int32_t *shape, int ndim,
                                  mx_array *key, mx_stream s) {
  int64_t n = logits->shape[axis];
  bool one_dist = n > 0 && logits->size == n;
  if (one_dist && ndim > 0) return categorical_inverse_cdf(logits, shape, ndim, key, s);
  return categorical_gumbel(logits, axis, shape, ndim, key, s);
}

mx_array *mx_random_categorical(mx_array *logits, int axis, const int32_t *shape, int ndim,
                                const int *num_samples, mx_array *key, mx_stream s) {
  if (!logits || !key) return NULL;
  if (ndim >= 0 && num_samples)
    return mx_fail(MX_EINVAL, "[categorical] At most one of shape or num_samples can be specified.");
  int ax = axis < 0 ? axis + logits->ndim : axis;
  if (ax < 0 || ax >= logits->ndim)
    return mx_fail(MX_EINDEX, "[categorical] Invalid axis %d for logits with %d dimensions.", axis,
                   logits->ndim);
  int nd = logits->ndim;
  int32_t *red = malloc((size_t)(2 * nd + (ndim > 0 ? ndim : 0) + 2) * sizeof(int32_t));
  int32_t *bs = red ? red + nd : NULL;
  if (!red) return mx_fail(MX_ENOMEM, "[categorical] out of memory.");
  for (int i = 0, j = 0; i < nd; i++)
    if (i != ax) red[j++] = logits->shape[i];
  mx_array *r = NULL;
  if (num_samples) {
    /* logits gain a trailing unit axis; the samples take the place of the reduced axis there. */
    if (*num_samples < 0) {
      mx_fail(MX_EINVAL, "[bits] Negative dimensions not allowed.");
    } else {
      MX_SCOPE_BEGIN;
      mx_array *l = mx_expand_dims(logits, -1, s);
      red[nd - 1] = *num_samples;
      r = l ? mx_keep(categorical_impl(l, ax, red, nd, key, s)) : NULL;
      MX_SCOPE_END;
      r = r ? mx_scope_adopt(r) : NULL;
    }
  } else if (ndim >= 0) {
    int nb = bcast(ndim, shape, nd - 1, red, bs);
    if (nb >= 0 && !same_shape(nb, bs, ndim, shape)) {
      char sa[128], sb[128];
      mx_fail(MX_EINVAL, "[categorical] Requested shape %s is not broadcast compatible with reduced "
                         "logits shape%s.", shape_str(sa, sizeof sa, ndim, shape),
              shape_str(sb, sizeof sb, nd - 1, red));
    } else if (nb >= 0) {
      r = categorical_impl(logits, ax, shape, ndim, key, s);
    }
  } else {
    r = categorical_impl(logits, ax, red, nd - 1, key, s);
  }
  free(red);
  return r;
}

mx_array *mx_random_laplace(const int32_t *shape, int ndim, mx_dtype t, double loc, double scale,
                            mx_array *key, mx_stream s) {
  if (!key) return NULL;
  if (!mx_dtype_is_floating(t))
    return mx_fail(MX_EINVAL, "[laplace] Only real floating point types are supported.");
  float locf = (float)loc, scalef = (float)scale;
  MX_SCOPE_BEGIN;
  mx_array *lo = scalar(nextafterf(-1.0f, 0.0f), MX_FLOAT32), *hi = scalar(1.0, MX_FLOAT32);
  mx_array *u = mx_random_uniform(lo, hi, shape, ndim, MX_FLOAT32, key, s);
  mx_array *r = mx_multiply(mx_sign(u, s), mx_log1p(mx_multiply(scalar(-1.0, t), mx_abs(u, s), s), s), s);
  r = mx_astype(r, t, s);
  if (scalef != 1.0f) r = mx_multiply(scalar(scalef, t), r, s);
  if (locf != 0.0f) r = mx_add(scalar(locf, t), r, s);
  MX_SCOPE_RETURN(r);
}

mx_array *mx_random_permutation_arange(int n, mx_array *key, mx_stream s) {
  if (!key) return NULL;
  if (n < 0) return mx_fail(MX_EINVAL, "[bits] Negative dimensions not allowed.");
  MX_SCOPE_BEGIN;
  int32_t shape[1] = {n};
  mx_array *r = mx_argsort(mx_random_bits(shape, 1, 4, key, s), s);
  MX_SCOPE_RETURN(r);
}

mx_array *mx_random_permutation(mx_array *x, int axis, mx_array *key, mx_stream s) {
  if (!x || !key) return NULL;
  int ax = axis < 0 ? axis + x->ndim : axis;
  if (ax < 0 || ax >= x->ndim)
    return mx_fail(MX_EINDEX, "[permutation] Invalid axis %d for array with %d dimensions.", axis,
                   x->ndim);
  MX_SCOPE_BEGIN;
  mx_array *r = mx_take_axis(x, mx_random_permutation_arange(x->shape[ax], key, s), ax, s);
  MX_SCOPE_RETURN(r);
}

mx_array *mx_random_multivariate_normal(mx_array *mean, mx_array *cov, const int32_t *shape,
                                        int ndim, mx_dtype t, mx_array *key, mx_stream s) {
  if (!mean || !cov || !key) return NULL;
  if (t != MX_FLOAT32) return mx_fail(MX_EINVAL, "[multivariate_normal] dtype must be float32.");
  if (mean->ndim < 1)
    return mx_fail(MX_EINVAL, "[multivariate_normal] mean must have at least one dimension.");
  if (cov->ndim < 2)
    return mx_fail(MX_EINVAL, "[multivariate_normal] cov must have at least two dimensions.");
  int32_t n = mean->shape[mean->ndim - 1];
  if (cov->shape[cov->ndim - 1] != cov->shape[cov->ndim - 2])
    return mx_fail(MX_EINVAL, "[multivariate_normal] last two dimensions of cov must be equal.");
  if (n != cov->shape[cov->ndim - 1])
    return mx_fail(MX_EINVAL, "[multivariate_normal] mean and cov must have compatible shapes.");
  int cap = cov->ndim + mean->ndim + ndim + 1;
  int32_t *b1 = malloc((size_t)cap * 2 * sizeof(int32_t));
  if (!b1) return mx_fail(MX_ENOMEM, "[multivariate_normal] out of memory.");
  int32_t *b2 = b1 + cap;
  /* batch shape: broadcast of cov's and mean's batch dims and the requested shape */
  int nb = bcast(cov->ndim - 2, cov->shape, mean->ndim - 1, mean->shape, b1);
  if (nb >= 0) nb = bcast(nb, b1, ndim, shape, b2);
  mx_array *r = NULL;
  if (nb >= 0) {
    b2[nb] = n;
    MX_SCOPE_BEGIN;
    mx_array *usv[3] = {NULL, NULL, NULL};
    if (mx_linalg_svd(mx_astype(cov, MX_FLOAT32, s), true, s, usv) == 0) {
      mx_array *sq = mx_expand_dims(mx_sqrt(usv[1], s), -2, s);
      mx_array *std = mx_astype(mx_matmul(mx_multiply(usv[0], sq, s), usv[2], s), t, s);
      mx_array *z = mx_random_normal(b2, nb + 1, t, scalar(0.0, t), scalar(1.0, t), key, s);
      int ax = -2;
      mx_array *y = mx_squeeze(mx_matmul(mx_expand_dims(z, -2, s), std, s), &ax, 1, s);
      r = mx_keep(mx_add(mean, y, s));
    }
    MX_SCOPE_END;
  }
  free(b1);
  return r ? mx_scope_adopt(r) : NULL;
}
