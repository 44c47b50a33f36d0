/* shape_join.c: joining and splitting along axes: concatenate (the Concatenate primitive),
 * stack, unstack, split (slices: views, no copy), repeat, tile, flip and roll, composed as
 * MLX composes them. Depends on ops.h. */
#include "layout_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- concatenate and stack ---- */

static mx_array *concat_shapes_error(mx_array *const *arrays, int n, int axis) {
  char msg[MX_ERROR_MAX];
  size_t len = 0;
  for (int i = 0; i < n && len + 64 < sizeof msg; i++) {
    char b[128];
    mx_lay_shape_str(b, sizeof b, arrays[i]->ndim, arrays[i]->shape);
    len += (size_t)snprintf(msg + len, sizeof msg - len, "%s, ", b);
  }
  return mx_fail(MX_EINVAL,
                 "[concatenate] All the input array dimensions must match exactly except for the "
                 "concatenation axis. However, the provided shapes are %sand the concatenation "
                 "axis is %d.", msg, axis);
}

static mx_array *concat_along(mx_array *const *arrays, int n, int axis, mx_stream s) {
  if (n == 1) return mx_scope_adopt(mx_keep(arrays[0]));
  int nd = arrays[0]->ndim;
  int ax = mx_lay_axis("concatenate", axis, nd);
  if (ax < 0) return NULL;
  int64_t total = 0;
  mx_dtype t = arrays[0]->dtype;
  for (int i = 0; i < n; i++) {
    mx_array *a = arrays[i];
    if (a->ndim != nd)
      return mx_fail(MX_EINVAL, "[concatenate] All the input arrays must have the same number of "
                                "dimensions. However, got arrays with dimensions %d and %d.", nd, a->ndim);
    for (int d = 0; d < nd; d++)
      if (d != ax && a->shape[d] != arrays[0]->shape[d]) return concat_shapes_error(arrays, n, axis);
    total += a->shape[ax];
    t = mx_promote_types(t, a->dtype);
  }
  if (total > INT32_MAX)
    return mx_fail(MX_EINVAL, "[concatenate] The concatenated axis would have %lld elements.",
                   (long long)total);
  int32_t *shape = mx_lay_dims("concatenate", nd);
  mx_array **in = malloc((size_t)n * sizeof *in);
  mx_array *r = NULL;
  if (!shape || !in) {
    free(shape);
    free(in);
    return mx_fail(MX_ENOMEM, "[concatenate] out of memory.");
  }
  memcpy(shape, arrays[0]->shape, (size_t)nd * sizeof(int32_t));
  shape[ax] = (int32_t)total;
  if (mx_shape_size("concatenate", nd, shape) >= 0) {
    MX_SCOPE_BEGIN;
    bool ok = true;
    for (int i = 0; i < n; i++) ok &= (in[i] = mx_astype(arrays[i], t, s)) != NULL;
    mx_p_concatenate p = {ax};
    r = ok ? mx_keep(mx_op_make1(MX_PRIM_CONCATENATE, &p, s, n, in, t, nd, shape)) : NULL;
    MX_SCOPE_END;
    r = mx_scope_adopt(r);
  }
  free(shape);
  free(in);
  return r;
}

mx_array *mx_concatenate(mx_array *const *arrays, int n, const int *axis, mx_stream s) {
  for (int i = 0; i < n; i++)
    if (!arrays[i]) return NULL;
  if (n == 0) return mx_fail(MX_EINVAL, "[concatenate] No arrays provided for concatenation");
  if (axis) return concat_along(arrays, n, *axis, s);
  mx_array **flat = malloc((size_t)n * sizeof *flat);
  if (!flat) return mx_fail(MX_ENOMEM, "[concatenate] out of memory.");
  MX_SCOPE_BEGIN;
  bool ok = true;
  for (int i = 0; i < n; i++) ok &= (flat[i] = mx_flatten(arrays[i], 0, -1, s)) != NULL;
  mx_array *r = ok ? concat_along(flat, n, 0, s) : NULL;
  free(flat);
  MX_SCOPE_RETURN(r);
}

mx_array *mx_stack(mx_array *const *arrays, int n, int axis, mx_stream s) {
  for (int i = 0; i < n; i++)
    if (!arrays[i]) return NULL;
  if (n == 0) return mx_fail(MX_EINVAL, "[stack] No arrays provided for stacking");
  int nd = arrays[0]->ndim;
  for (int i = 1; i < n; i++)
    if (arrays[i]->ndim != nd ||
        memcmp(arrays[i]->shape, arrays[0]->shape, (size_t)nd * sizeof(int32_t)) != 0)
      return mx_fail(MX_EINVAL, "[stack] All arrays must have the same shape");
  int ax = mx_lay_axis("stack", axis, nd + 1);
  if (ax < 0) return NULL;
  mx_array **ex = malloc((size_t)n * sizeof *ex);
  if (!ex) return mx_fail(MX_ENOMEM, "[stack] out of memory.");
  MX_SCOPE_BEGIN;
  bool ok = true;
  for (int i = 0; i < n; i++) ok &= (ex[i] = mx_expand_dims_axes(arrays[i], &ax, 1, s)) != NULL;
  mx_array *r = ok ? concat_along(ex, n, ax, s) : NULL;
  free(ex);
  MX_SCOPE_RETURN(r);
}

/* ---- splitting: every piece is a slice of a (a view) ---- */

/* Pieces [bounds[i], bounds[i+1]) along ax, with NumPy slice clamping of each bound. */
static int split_at(mx_array *a, int ax, const int64_t *bounds, int npieces, mx_array ***out,
                    int *n_out, mx_stream s) {
  int nd = a->ndim;
  mx_array **v = calloc((size_t)(npieces > 0 ? npieces : 1), sizeof *v);
  int32_t *start = mx_lay_dims("split", 3 * nd);
  if (!v || !start) {
    free(v);
    free(start);
    return mx_fail_int(MX_ENOMEM, "[split] out of memory.");
  }
  int32_t *stop = start + nd, *step = stop + nd;
  int rc = 0;
  int64_t n = a->shape[ax];
  MX_SCOPE_BEGIN;
  for (int d = 0; d < nd; d++) start[d] = 0, stop[d] = a->shape[d], step[d] = 1;
  for (int i = 0; i < npieces && rc == 0; i++) {
    int64_t lo = bounds[i], hi = bounds[i + 1];
    lo = lo < 0 ? lo + n : lo;
    hi = hi < 0 ? hi + n : hi;
    lo = lo < 0 ? 0 : lo > n ? n : lo;
    hi = hi < 0 ? 0 : hi > n ? n : hi;
    start[ax] = (int32_t)lo;
    stop[ax] = (int32_t)(hi < lo ? lo : hi);
    if (!(v[i] = mx_slice(a, start, stop, step, s))) rc = -1;
  }
  if (rc == 0) mx_lay_keep_all(v, npieces);
  MX_SCOPE_END;
  free(start);
  if (rc < 0) {
    free(v);
    return -1;
  }
  mx_lay_adopt_all(v, npieces);
  *out = v;
  *n_out = npieces;
  return 0;
}

int mx_split_sections(mx_array *a, const int *indices, int n, int axis, mx_array ***out,
                      int *n_out, mx_stream s) {
  *out = NULL;
  *n_out = 0;
  if (!a) return -1;
  int ax = mx_lay_axis("split", axis, a->ndim);
  if (ax < 0) return -1;
  int64_t *bounds = malloc((size_t)(n + 2) * sizeof *bounds);
  if (!bounds) return mx_fail_int(MX_ENOMEM, "[split] out of memory.");
  bounds[0] = 0;
  for (int i = 0; i < n; i++) bounds[i + 1] = indices[i];
  bounds[n + 1] = a->shape[ax];
  int rc = split_at(a, ax, bounds, n + 1, out, n_out, s);
  free(bounds);
  return rc;
}

int mx_split(mx_array *a, int num_splits, int axis, mx_array ***out, int *n_out, mx_stream s) {
  *out = NULL;
  *n_out = 0;
  if (!a) return -1;
  int ax = mx_lay_axis("split", axis, a->ndim);
  if (ax < 0) return -1;
  if (num_splits <= 0)
    return mx_fail_int(MX_EINVAL, "[split] num_splits must be positive and non-zero but got %d.",
                       num_splits);
  if (a->shape[ax] % num_splits != 0) {
    char b[256];
    mx_lay_shape_str(b, sizeof b, a->ndim, a->shape);
    return mx_fail_int(MX_EINVAL, "Array split does not result in sub arrays with equal size: "
                       "attempting %d splits along axis %d for shape %s.", num_splits, axis, b);
  }
  int64_t step = a->shape[ax] / num_splits;
  int64_t *bounds = malloc((size_t)(num_splits + 1) * sizeof *bounds);
  if (!bounds) return mx_fail_int(MX_ENOMEM, "[split] out of memory.");
  for (int i = 0; i <= num_splits; i++) bounds[i] = i * step;
  int rc = split_at(a, ax, bounds, num_splits, out, n_out, s);
  free(bounds);
  return rc;
}

int mx_split_py(mx_array *a, const int *v, int n, bool scalar, int axis, mx_array ***out,
                int *n_out, mx_stream s) {
  if (scalar) return mx_split(a, v[0], axis, out, n_out, s);
  return mx_split_sections(a, v, n, axis, out, n_out, s);
}

int mx_unstack(mx_array *a, int axis, mx_array ***out, int *n_out, mx_stream s) {
  *out = NULL;
  *n_out = 0;
  if (!a) return -1;
  int ax = mx_lay_axis("unstack", axis, a->ndim);
  if (ax < 0) return -1;
  int n = a->shape[ax];
  mx_array **pieces = NULL;
  int np = 0, rc;
  MX_SCOPE_BEGIN;
  rc = n == 0 ? 0 : mx_split(a, n, ax, &pieces, &np, s);
  for (int i = 0; i < np && rc == 0; i++)
    if (!(pieces[i] = mx_squeeze(pieces[i], &ax, 1, s))) rc = -1;
  if (rc == 0) mx_lay_keep_all(pieces, np);
  MX_SCOPE_END;
  if (rc < 0) {
    free(pieces);
    return -1;
  }
  mx_lay_adopt_all(pieces, np);
  *out = pieces;
  *n_out = np;
  return 0;
}

/* ---- repeat and tile: reshape + broadcast + reshape ---- */

mx_array *mx_repeat(mx_array *a, int repeats, const int *axis, mx_stream s) {
  if (!a) return NULL;
  if (!axis) {
    MX_SCOPE_BEGIN;
    int zero = 0;
    mx_array *r = mx_repeat(mx_flatten(a, 0, -1, s), repeats, &zero, s);
    MX_SCOPE_RETURN(r);
  }
  int nd = a->ndim;
  int ax = mx_lay_axis("repeat", *axis, nd);
  if (ax < 0) return NULL;
  if (repeats < 0) return mx_fail(MX_EINVAL, "[repeat] Number of repeats cannot be negative");
  if (repeats == 1) return mx_scope_adopt(mx_keep(a));
  if ((int64_t)a->shape[ax] * repeats > INT32_MAX)
    return mx_fail(MX_EINVAL, "[repeat] The repeated axis would have %lld elements.",
                   (long long)a->shape[ax] * repeats);
  int32_t *wide = mx_lay_dims("repeat", 2 * nd + 1);
  if (!wide) return NULL;
  int32_t *fin = wide + nd + 1;
  /* (..., S_ax, repeats, ...) then (..., S_ax * repeats, ...) */
  for (int d = 0, j = 0; d <= nd; d++) wide[d] = d == ax + 1 ? repeats : a->shape[j++];
  for (int d = 0; d < nd; d++) fin[d] = d == ax ? a->shape[d] * repeats : a->shape[d];
  int after = ax + 1;
  MX_SCOPE_BEGIN;
  mx_array *r = mx_broadcast_to(mx_expand_dims_axes(a, &after, 1, s), wide, nd + 1, s);
  r = mx_reshape(r, fin, nd, s);
  free(wide);
  MX_SCOPE_RETURN(r);
}

mx_array *mx_tile(mx_array *a, const int *reps, int n, mx_stream s) {
  if (!a) return NULL;
  for (int i = 0; i < n; i++)
    if (reps[i] < 0) return mx_fail(MX_EINVAL, "[broadcast_to] Negative dimensions not allowed.");
  int nd = a->ndim > n ? a->ndim : n;
  int32_t *buf = mx_lay_dims("tile", 6 * nd);
  if (!buf) return NULL;
  int32_t *shape = buf, *rp = buf + nd, *expand = rp + nd, *broad = expand + 2 * nd;
  for (int d = 0; d < nd; d++) {
    int sa = d - (nd - a->ndim), sr = d - (nd - n);
    shape[d] = sa < 0 ? 1 : a->shape[sa];
    rp[d] = sr < 0 ? 1 : reps[sr];
  }
  int ne = 0;
  for (int d = 0; d < nd; d++) {
    if (rp[d] != 1) expand[ne] = 1, broad[ne++] = rp[d];
    expand[ne] = shape[d], broad[ne++] = shape[d];
  }
  bool big = false;
  for (int d = 0; d < nd; d++) {
    int64_t e = (int64_t)rp[d] * shape[d];
    big |= e > INT32_MAX;
    shape[d] = (int32_t)e; /* now the final shape */
  }
  mx_array *r = NULL;
  if (big) {
    mx_fail(MX_EINVAL, "[tile] A tiled dimension would exceed %d elements.", INT32_MAX);
  } else {
    MX_SCOPE_BEGIN;
    mx_array *x = mx_broadcast_to(mx_reshape(a, expand, ne, s), broad, ne, s);
    r = mx_keep(mx_reshape(x, shape, nd, s));
    MX_SCOPE_END;
    r = mx_scope_adopt(r);
  }
  free(buf);
  return r;
}

/* ---- flip and roll ---- */

mx_array *mx_flip(mx_array *a, const int *axes, int naxes, mx_stream s) {
  if (!a) return NULL;
  int nd = a->ndim;
  int32_t *start = mx_lay_dims("flip", 3 * nd);
  if (!start) return NULL;
  int32_t *stop = start + nd, *step = stop + nd;
  for (int d = 0; d < nd; d++) start[d] = 0, stop[d] = a->shape[d], step[d] = 1;
  mx_array *r = NULL;
  for (int i = 0; i < (naxes < 0 ? nd : naxes); i++) {
    int ax = naxes < 0 ? i : mx_lay_axis("flip", axes[i], nd);
    if (ax < 0) goto out;
    start[ax] = a->shape[ax] - 1; /* -1 stop: just before index 0 */
    stop[ax] = -1;
    step[ax] = -1;
  }
  r = mx_slice(a, start, stop, step, s);
out:
  free(start);
  return r;
}

/* Rolls one axis by k (0 < k < n): the last k elements come first. */
static mx_array *roll_axis(mx_array *a, int ax, int64_t k, mx_stream s) {
  int nd = a->ndim;
  int32_t *start = mx_lay_dims("roll", 3 * nd);
  if (!start) return NULL;
  int32_t *stop = start + nd, *step = stop + nd;
  for (int d = 0; d < nd; d++) start[d] = 0, stop[d] = a->shape[d], step[d] = 1;
  int32_t cut = (int32_t)(a->shape[ax] - k);
  MX_SCOPE_BEGIN;
  start[ax] = cut;
  mx_array *tail = mx_slice(a, start, stop, step, s);
  start[ax] = 0;
  stop[ax] = cut;
  mx_array *parts[2] = {tail, mx_slice(a, start, stop, step, s)};
  mx_array *r = parts[0] && parts[1] ? concat_along(parts, 2, ax, s) : NULL;
  free(start);
  MX_SCOPE_RETURN(r);
}

static int64_t positive_mod(int64_t x, int64_t n) {
  int64_t m = x % n;
  return m < 0 ? m + n : m;
}

mx_array *mx_roll(mx_array *a, const int *shift, int nshift, bool shift_scalar, const int *axes,
                  int naxes, bool axes_scalar, mx_stream s) {
  if (!a) return NULL;
  int64_t total = 0;
  for (int i = 0; i < nshift; i++) total += shift[i];
  if (naxes < 0) { /* the flattened array, reshaped back */
    MX_SCOPE_BEGIN;
    int zero = 0;
    mx_array *flat = mx_flatten(a, 0, -1, s);
    int k = flat && flat->shape[0] ? (int)positive_mod(total, flat->shape[0]) : 0;
    mx_array *r = flat ? mx_roll(flat, &k, 1, true, &zero, 1, true, s) : NULL;
    r = mx_reshape(r, a->shape, a->ndim, s);
    MX_SCOPE_RETURN(r);
  }
  if (!shift_scalar && !axes_scalar && nshift < naxes)
    return mx_fail(MX_EINVAL, "[roll] At least one shift value per axis is required, %d provided "
                              "for %d axes.", nshift, naxes);
  for (int i = 0; i < naxes; i++)
    if (axes[i] < -a->ndim || axes[i] >= a->ndim)
      return mx_fail(MX_EINDEX, "[roll] Invalid axis %d for array with %d dimensions.", axes[i],
                     a->ndim);
  MX_SCOPE_BEGIN;
  mx_array *r = a;
  for (int i = 0; i < naxes && r; i++) {
    int ax = axes[i] < 0 ? axes[i] + a->ndim : axes[i];
    int64_t k = shift_scalar ? shift[0] : axes_scalar ? total : shift[i];
    int64_t n = a->shape[ax];
    k = n ? positive_mod(k, n) : 0;
    if (k) r = roll_axis(r, ax, k, s);
  }
  MX_SCOPE_RETURN(r);
}
