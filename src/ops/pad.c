/* pad.c: pad in the four modes of MLX. "constant" is the Pad primitive (inputs: the array
 * and its 0-d fill value); "edge" concatenates broadcast edge slices; "reflect" and
 * "symmetric" take a window of the periodic extension of each axis (the axis followed by its
 * mirror image), which handles pads longer than the axis as NumPy does. Depends on ops.h. */
#include "layout_util.h"

#include <stdlib.h>
#include <string.h>

enum { PAD_CONSTANT, PAD_EDGE, PAD_REFLECT, PAD_SYMMETRIC };

static int pad_mode(const char *mode) {
  if (strcmp(mode, "constant") == 0) return PAD_CONSTANT;
  if (strcmp(mode, "edge") == 0) return PAD_EDGE;
  if (strcmp(mode, "reflect") == 0) return PAD_REFLECT;
  if (strcmp(mode, "symmetric") == 0) return PAD_SYMMETRIC;
  return mx_fail_int(MX_EINVAL, "Invalid padding mode (%s) passed to pad", mode);
}

/* a[lo:hi] along ax. */
static mx_array *take_range(mx_array *a, int ax, int32_t lo, int32_t hi, mx_stream s) {
  int nd = a->ndim;
  int32_t *start = mx_lay_dims("pad", 3 * nd);
  if (!start) return NULL;
  int32_t *stop = start + nd, *step = stop + nd;
  for (int d = 0; d < nd; d++) start[d] = 0, stop[d] = a->shape[d], step[d] = 1;
  start[ax] = lo;
  stop[ax] = hi;
  mx_array *r = mx_slice(a, start, stop, step, s);
  free(start);
  return r;
}

/* a with its size-1 slab along ax broadcast to width w. */
static mx_array *widen(mx_array *slab, int ax, int32_t w, mx_stream s) {
  int32_t *shape = mx_lay_dims("pad", slab->ndim);
  if (!shape) return NULL;
  memcpy(shape, slab->shape, (size_t)slab->ndim * sizeof(int32_t));
  shape[ax] = w;
  mx_array *r = mx_broadcast_to(slab, shape, slab->ndim, s);
  free(shape);
  return r;
}

static mx_array *edge_axis(mx_array *a, int ax, int32_t lo, int32_t hi, mx_stream s) {
  int32_t n = a->shape[ax];
  mx_array *parts[3];
  int np = 0;
  MX_SCOPE_BEGIN;
  if (lo > 0) parts[np++] = widen(take_range(a, ax, 0, 1, s), ax, lo, s);
  parts[np++] = a;
  if (hi > 0) parts[np++] = widen(take_range(a, ax, n - 1, n, s), ax, hi, s);
  mx_array *r = mx_concatenate(parts, np, &ax, s);
  MX_SCOPE_RETURN(r);
}

/* Window [start, start + len) of the periodic extension of a along ax, where one period is
 * a followed by its mirror image (without the end points for reflect). */
static mx_array *mirror_axis(mx_array *a, int ax, int32_t lo, int32_t hi, bool symmetric,
                             mx_stream s) {
  int64_t n = a->shape[ax];
  int64_t reach = symmetric ? n : n - 1; /* pads up to this long mirror the axis once */
  if (lo <= reach && hi <= reach) {
    int32_t skip = symmetric ? 0 : 1;
    mx_array *parts[3];
    int np = 0;
    MX_SCOPE_BEGIN;
    if (lo > 0) parts[np++] = mx_flip(take_range(a, ax, skip, skip + lo, s), &ax, 1, s);
    parts[np++] = a;
    if (hi > 0)
      parts[np++] = mx_flip(take_range(a, ax, (int32_t)n - skip - hi, (int32_t)n - skip, s), &ax, 1, s);
    mx_array *r = mx_concatenate(parts, np, &ax, s);
    MX_SCOPE_RETURN(r);
  }
  int64_t p = symmetric ? 2 * n : 2 * n - 2;
  int64_t len = lo + n + hi;
  int64_t start = (p - lo % p) % p;
  int64_t reps = (start + len + p - 1) / p;
  if (reps * p > INT32_MAX)
    return mx_fail(MX_EINVAL, "[pad] The padded axis would exceed %d elements.", INT32_MAX);
  int nd = a->ndim;
  int *tile = mx_lay_ints("pad", nd);
  if (!tile) return NULL;
  for (int d = 0; d < nd; d++) tile[d] = d == ax ? (int)reps : 1;
  MX_SCOPE_BEGIN;
  mx_array *back = mx_flip(a, &ax, 1, s);
  if (!symmetric) back = back ? take_range(back, ax, 1, (int32_t)n - 1, s) : NULL;
  mx_array *parts[2] = {a, back};
  mx_array *period = back ? mx_concatenate(parts, 2, &ax, s) : NULL;
  mx_array *r = take_range(mx_tile(period, tile, nd, s), ax, (int32_t)start, (int32_t)(start + len), s);
  free(tile);
  MX_SCOPE_RETURN(r);
}

mx_array *mx_pad(mx_array *a, const int *axes, int naxes, const int32_t *low, int nlow,
                 const int32_t *high, int nhigh, mx_array *value, const char *mode, mx_stream s) {
  if (!a || !value) return NULL;
  int nd = a->ndim;
  if (nlow != naxes || nhigh != naxes)
    return mx_fail(MX_EINVAL, "Invalid number of padding sizes passed to pad with axes of size %d",
                   naxes);
  for (int i = 0; i < naxes; i++) {
    if (low[i] < 0)
      return mx_fail(MX_EINVAL, "Invalid low padding size (%d) passed to pad for axis %d. Padding "
                                "sizes must be non-negative", low[i], i);
    if (high[i] < 0)
      return mx_fail(MX_EINVAL, "Invalid high padding size (%d) passed to pad for axis %d. Padding "
                                "sizes must be non-negative", high[i], i);
  }
  int m = pad_mode(mode);
  if (m < 0) return NULL;
  if (value->size != 1)
    return mx_fail(MX_EINVAL, "[pad] The padding value must be a scalar, got an array of size %lld.",
                   (long long)value->size);
  int32_t *buf = mx_lay_dims("pad", 4 * nd);
  if (!buf) return NULL;
  int32_t *lo = buf, *hi = buf + nd, *shape = hi + nd, *ax_list = shape + nd;
  memset(buf, 0, (size_t)(2 * nd) * sizeof(int32_t));
  mx_array *r = NULL;
  for (int i = 0; i < naxes; i++) {
    int ax = mx_lay_axis("pad", axes[i], nd);
    if (ax < 0) goto out;
    lo[ax] += low[i];
    hi[ax] += high[i];
  }
  int nax = 0;
  for (int d = 0; d < nd; d++) {
    int64_t e = (int64_t)a->shape[d] + lo[d] + hi[d];
    if (e > INT32_MAX) {
      mx_fail(MX_EINVAL, "[pad] Axis %d would have %lld elements.", d, (long long)e);
      goto out;
    }
    shape[d] = (int32_t)e;
    if (lo[d] || hi[d]) ax_list[nax++] = d;
    if ((lo[d] || hi[d]) && a->shape[d] == 0 && (m == PAD_REFLECT || m == PAD_SYMMETRIC)) {
      mx_fail(MX_EINVAL, "[pad] Cannot pad empty axis %d using mode '%s'.", d, mode);
      goto out;
    }
  }
  if (mx_shape_size("pad", nd, shape) < 0) goto out;
  if (nax == 0) {
    r = mx_scope_adopt(mx_keep(a));
    goto out;
  }
  MX_SCOPE_BEGIN;
  mx_array *x = a;
  if (m == PAD_CONSTANT) {
    mx_array *v = mx_reshape(mx_astype(value, a->dtype, s), NULL, 0, s);
    int32_t *plo = mx_lay_dims("pad", 2 * nax);
    if (v && plo) {
      int32_t *phi = plo + nax;
      for (int i = 0; i < nax; i++) plo[i] = lo[ax_list[i]], phi[i] = hi[ax_list[i]];
      mx_p_pad p = {{nax, ax_list}, {nax, plo}, {nax, phi}};
      mx_array *in[2] = {a, v};
      x = mx_op_make1(MX_PRIM_PAD, &p, s, 2, in, a->dtype, nd, shape);
    } else {
      x = NULL;
    }
    free(plo);
  } else {
    for (int i = 0; i < nax && x; i++) {
      int d = ax_list[i];
      int32_t n = a->shape[d];
      if (n == 0) { /* edge of an empty axis: zeros, as MLX gives */
        int32_t zl = lo[d], zh = hi[d];
        mx_array *zero = mx_zeros(NULL, 0, a->dtype, s);
        x = mx_pad(x, &d, 1, &zl, 1, &zh, 1, zero, "constant", s);
      } else if (m == PAD_EDGE || n == 1) {
        x = edge_axis(x, d, lo[d], hi[d], s);
      } else {
        x = mirror_axis(x, d, lo[d], hi[d], m == PAD_SYMMETRIC, s);
      }
    }
  }
  r = mx_keep(x);
  MX_SCOPE_END;
  r = mx_scope_adopt(r);
out:
  free(buf);
  return r;
}

mx_array *mx_pad_pairs(mx_array *a, const int32_t *pairs, int n, const char *mode,
                       mx_array *value, mx_stream s) {
  if (!a) return NULL;
  if (!value) {
    MX_SCOPE_BEGIN;
    mx_array *r = mx_pad_pairs(a, pairs, n, mode, mx_zeros(NULL, 0, a->dtype, s), s);
    MX_SCOPE_RETURN(r);
  }
  int nd = a->ndim;
  if (n != 1 && n != nd)
    return mx_fail(MX_EINVAL, "Invalid number of padding sizes passed to pad with axes of size %d",
                   nd);
  int32_t *buf = mx_lay_dims("pad", 3 * nd);
  if (!buf) return NULL;
  int *axes = (int *)buf;
  int32_t *lo = buf + nd, *hi = lo + nd;
  for (int d = 0; d < nd; d++) {
    const int32_t *p = pairs + 2 * (n == 1 ? 0 : d);
    axes[d] = d, lo[d] = p[0], hi[d] = p[1];
  }
  mx_array *r = mx_pad(a, axes, nd, lo, nd, hi, nd, value, mode, s);
  free(buf);
  return r;
}
