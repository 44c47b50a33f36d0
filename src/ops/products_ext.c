/* products_ext.c: structured matrix products: gather_mm (the GatherMM primitive over
 * flattened batches), block_masked_mm and segmented_mm (composed from masks and matmul),
 * hadamard_transform (the Hadamard primitive). Depends on ops.h. */
#include "layout_util.h"

#include <stdlib.h>
#include <math.h>
#include <string.h>

/* Promoted dtype of a and b if it is real floating, else ValueError. */
static int pe_float_type(const char *op, mx_array *a, mx_array *b, mx_dtype *t) {
  *t = mx_promote_types(a->dtype, b->dtype);
  if (mx_dtype_is_floating(*t)) return 0;
  return mx_fail_int(MX_EINVAL, "[%s] Only real floating point types are supported but %s and %s "
                                "were provided which results in %s, which is not a real floating "
                                "point type.", op, mx_dtype_name(a->dtype), mx_dtype_name(b->dtype),
                     mx_dtype_name(*t));
}

static int pe_check_k(const char *op, mx_array *a, mx_array *b) {
  if (a->shape[a->ndim - 1] == b->shape[b->ndim - 2]) return 0;
  char x[256], y[256];
  mx_lay_shape_str(x, sizeof x, a->ndim, a->shape);
  mx_lay_shape_str(y, sizeof y, b->ndim, b->shape);
  return mx_fail_int(MX_EINVAL, "[%s] Last dimension of first input with shape %s must match second "
                                "to last dimension of second input with shape %s.", op, x, y);
}

/* Drops the axes that 1-D operands gained (-2 for a, -1 for b). */
static mx_array *pe_unexpand(mx_array *r, bool a1, bool b1, mx_stream s) {
  if (!r) return NULL;
  int ax[2], n = 0;
  if (a1) ax[n++] = r->ndim - 2;
  if (b1) ax[n++] = r->ndim - 1;
  return n ? mx_squeeze(r, ax, n, s) : r;
}

/* ---- gather_mm ---- */

static int64_t pe_batch(const mx_array *x) {
  int64_t n = 1;
  for (int d = 0; d < x->ndim - 2; d++) n *= x->shape[d];
  return n;
}

/* arange over x's flattened batch, shaped as x's batch dims. */
static mx_array *pe_default_indices(mx_array *x, mx_stream s) {
  mx_array *r = mx_arange(0, (double)pe_batch(x), 1, MX_UINT32, s);
  return mx_reshape(r, x->shape, x->ndim - 2, s);
}

mx_array *mx_gather_mm(mx_array *a, mx_array *b, mx_array *lhs_indices, mx_array *rhs_indices,
                       bool sorted_indices, mx_stream s) {
  if (!a || !b) return NULL;
  if (a->ndim == 0 || b->ndim == 0)
    return mx_fail(MX_EINVAL, "[gather_mm] Got 0 dimension input. Inputs must have at least one dimension.");
  mx_dtype t;
  if (pe_float_type("gather_mm", a, b, &t) < 0) return NULL;
  if ((lhs_indices && !mx_dtype_is_integer(lhs_indices->dtype)) ||
      (rhs_indices && !mx_dtype_is_integer(rhs_indices->dtype)))
    return mx_fail(MX_EINVAL, "[gather_mm] Got indices with invalid dtype. Indices must be integral.");
  mx_array *r = NULL;
  int32_t *buf = NULL;
  MX_SCOPE_BEGIN;
  bool a1 = a->ndim == 1, b1 = b->ndim == 1;
  mx_array *A = a1 ? mx_expand_dims(a, 0, s) : a, *B = b1 ? mx_expand_dims(b, 1, s) : b;
  if (!A || !B || pe_check_k("gather_mm", A, B) < 0) goto end;
  mx_array *li = lhs_indices ? lhs_indices : pe_default_indices(A, s);
  mx_array *ri = rhs_indices ? rhs_indices : pe_default_indices(B, s);
  if (!li || !ri) goto end;
  int nb = li->ndim > ri->ndim ? li->ndim : ri->ndim;
  if (!(buf = mx_lay_dims("gather_mm", nb + 2))) goto end;
  if (mx_broadcast_shapes("broadcast_shapes", li->ndim, li->shape, ri->ndim, ri->shape, buf) < 0)
    goto end;
  int64_t ba = pe_batch(A), bb = pe_batch(B), count = 1;
  for (int d = 0; d < nb; d++) count *= buf[d];
  if (count > 0 && (ba == 0 || bb == 0)) {
    mx_fail(MX_EINDEX, "[gather_mm] Cannot gather matrices from an empty batch.");
    goto end;
  }
  int32_t M = A->shape[A->ndim - 2], K = A->shape[A->ndim - 1], N = B->shape[B->ndim - 1];
  int32_t sa[3] = {(int32_t)ba, M, K}, sb[3] = {(int32_t)bb, K, N};
  mx_array *in[4] = {mx_reshape(mx_astype(A, t, s), sa, 3, s), mx_reshape(mx_astype(B, t, s), sb, 3, s),
                     mx_broadcast_to(li, buf, nb, s), mx_broadcast_to(ri, buf, nb, s)};
  if (!in[0] || !in[1] || !in[2] || !in[3]) goto end;
  buf[nb] = M, buf[nb + 1] = N;
  mx_p_gather_mm p = {sorted_indices};
  r = pe_unexpand(mx_op_make1(MX_PRIM_GATHER_MM, &p, s, 4, in, t, nb + 2, buf), a1, b1, s);
end:
  free(buf);
  MX_SCOPE_RETURN(r);
}

/* ---- block_masked_mm ---- */

/* A block mask (batch..., tr, tc) broadcast to `batch` and expanded to rows x cols elements. */
static mx_array *pe_expand_mask(mx_array *m, const int32_t *batch, int nb, int32_t tr, int32_t tc,
                                int32_t rows, int32_t cols, int bs, mx_stream s) {
  int nd = nb + 4;
  int32_t sh[MX_INLINE_DIMS + 8], *shape = nd <= MX_INLINE_DIMS + 8 ? sh : malloc((size_t)nd * sizeof(int32_t));
  int32_t *st = shape ? malloc((size_t)3 * (size_t)(nb + 2) * sizeof(int32_t)) : NULL;
  if (!shape || !st) {
    if (shape != sh) free(shape);
    return mx_fail(MX_ENOMEM, "[block_masked_mm] out of memory.");
  }
  memcpy(shape, batch, (size_t)nb * sizeof(int32_t));
  shape[nb] = tr, shape[nb + 1] = tc;
  mx_array *x = mx_broadcast_to(m, shape, nb + 2, s);
  shape[nb] = tr, shape[nb + 1] = 1, shape[nb + 2] = tc, shape[nb + 3] = 1;
  x = mx_reshape(x, shape, nd, s);
  shape[nb + 1] = bs, shape[nb + 3] = bs;
  x = mx_broadcast_to(x, shape, nd, s);
  shape[nb] = tr * bs, shape[nb + 1] = tc * bs;
  x = mx_reshape(x, shape, nb + 2, s);
  int32_t *start = st, *stop = st + nb + 2, *step = stop + nb + 2;
  for (int d = 0; d < nb + 2; d++) start[d] = 0, stop[d] = shape[d], step[d] = 1;
  stop[nb] = rows, stop[nb + 1] = cols;
  if (x) x = mx_slice(x, start, stop, step, s);
  free(st);
  if (shape != sh) free(shape);
  return x;
}

/* x with the masked-out elements zeroed (bool mask) or scaled (numeric mask). */
static mx_array *pe_apply_mask(mx_array *x, mx_array *m, mx_stream s) {
  if (!x || !m) return NULL;
  if (m->dtype == MX_BOOL) return mx_where(m, x, mx_scalar_like(0, x), s);
  return mx_multiply(x, mx_astype(m, x->dtype, s), s);
}

mx_array *mx_block_masked_mm(mx_array *a, mx_array *b, int block_size, mx_array *mask_out,
                             mx_array *mask_lhs, mx_array *mask_rhs, mx_stream s) {
  if (!a || !b) return NULL;
  if (!mask_out && !mask_lhs && !mask_rhs) return mx_matmul(a, b, s);
  if (block_size != 32 && block_size != 64)
    return mx_fail(MX_EINVAL, "[block_masked_mm] Only block_sizes 32, 64 are supported.Got block size %d.",
                   block_size);
  if (a->ndim == 0 || b->ndim == 0)
    return mx_fail(MX_EINVAL, "[block_masked_mm] Got 0 dimension input. Inputs must have at least one dimension.");
  mx_dtype t;
  if (pe_float_type("block_masked_mm", a, b, &t) < 0) return NULL;
  mx_array *r = NULL;
  int32_t *batch = NULL;
  MX_SCOPE_BEGIN;
  bool a1 = a->ndim == 1, b1 = b->ndim == 1;
  mx_array *A = a1 ? mx_expand_dims(a, 0, s) : a, *B = b1 ? mx_expand_dims(b, 1, s) : b;
  if (!A || !B || pe_check_k("block_masked_mm", A, B) < 0) goto end;
  A = mx_astype(A, t, s), B = mx_astype(B, t, s);
  int nb = (A->ndim > B->ndim ? A->ndim : B->ndim) - 2;
  if (!(batch = mx_lay_dims("block_masked_mm", nb))) goto end;
  if (mx_broadcast_shapes("broadcast_shapes", A->ndim - 2, A->shape, B->ndim - 2, B->shape, batch) < 0)
    goto end;
  int32_t M = A->shape[A->ndim - 2], K = A->shape[A->ndim - 1], N = B->shape[B->ndim - 1];
  int32_t tm = (M + block_size - 1) / block_size, tk = (K + block_size - 1) / block_size;
  int32_t tn = (N + block_size - 1) / block_size;
  if (mask_lhs) A = pe_apply_mask(A, pe_expand_mask(mask_lhs, batch, nb, tm, tk, M, K, block_size, s), s);
  if (mask_rhs) B = pe_apply_mask(B, pe_expand_mask(mask_rhs, batch, nb, tk, tn, K, N, block_size, s), s);
  mx_array *out = mx_matmul(A, B, s);
  if (mask_out) out = pe_apply_mask(out, pe_expand_mask(mask_out, batch, nb, tm, tn, M, N, block_size, s), s);
  r = pe_unexpand(out, a1, b1, s);
end:
  free(batch);
  MX_SCOPE_RETURN(r);
}

/* ---- segmented_mm ---- */

mx_array *mx_segmented_mm(mx_array *a, mx_array *b, mx_array *segments, mx_stream s) {
  if (!a || !b || !segments) return NULL;
  if (a->ndim != 2 || b->ndim != 2) return mx_fail(MX_EINVAL, "[segmented_mm] Batched matmul not supported");
  if (!mx_dtype_is_integer(segments->dtype))
    return mx_fail(MX_EINVAL, "[segmented_mm] Got segments with invalid dtype. Segments must be integral.");
  if (segments->ndim < 1 || segments->shape[segments->ndim - 1] != 2) {
    char x[256];
    mx_lay_shape_str(x, sizeof x, segments->ndim, segments->shape);
    return mx_fail(MX_EINVAL, "[segmented_mm] The segments should have shape (..., 2) but %s was provided.", x);
  }
  mx_dtype t;
  if (pe_float_type("segmented_mm", a, b, &t) < 0 || pe_check_k("segmented_mm", a, b) < 0) return NULL;
  int ns = segments->ndim - 1;
  int32_t *st = mx_lay_dims("segmented_mm", 3 * (ns + 1) + 2);
  if (!st) return NULL;
  mx_array *r = NULL;
  MX_SCOPE_BEGIN;
  int32_t K = a->shape[1];
  int32_t *start = st, *stop = st + ns + 1, *step = stop + ns + 1, *shape = step + ns + 1;
  for (int d = 0; d <= ns; d++) start[d] = 0, stop[d] = segments->shape[d], step[d] = 1;
  stop[ns] = 1;
  mx_array *lo = mx_slice(segments, start, stop, step, s); /* (..., 1) */
  start[ns] = 1, stop[ns] = 2;
  mx_array *hi = mx_slice(segments, start, stop, step, s);
  mx_array *k = mx_arange(0, K, 1, MX_INT64, s);
  mx_array *in = mx_logical_and(mx_greater_equal(k, lo, s), mx_less(k, hi, s), s); /* (..., K) */
  memcpy(shape, segments->shape, (size_t)ns * sizeof(int32_t));
  shape[ns] = 1, shape[ns + 1] = K;
  in = mx_reshape(in, shape, ns + 2, s); /* (..., 1, K) */
  mx_array *A = mx_astype(a, t, s);
  r = mx_matmul(mx_where(in, A, mx_scalar_like(0, A), s), mx_astype(b, t, s), s);
  free(st);
  MX_SCOPE_RETURN(r);
}

/* ---- hadamard_transform ---- */

mx_array *mx_hadamard_transform(mx_array *a, double scale, bool has_scale, mx_stream s) {
  if (!a) return NULL;
  if (a->size == 0) return mx_fail(MX_EINVAL, "[hadamard_transform] Does not support empty arrays.");
  int64_t n = a->ndim ? a->shape[a->ndim - 1] : 1, m = n;
  while (m % 2 == 0) m /= 2;
  if (m != 1 && m != 3 && m != 5 && m != 7)
    return mx_fail(MX_EINVAL, "[hadamard] Only supports n = m*2^k where m in (1, 12, 20, 28).");
  if (m != 1) {
    if (n % (4 * m) != 0)
      return mx_fail(MX_EINVAL, "[hadamard] Only supports n = m*2^k where m in (1, 12, 20, 28).");
    m *= 4;
  }
  mx_dtype t = mx_dtype_is_floating(a->dtype) ? a->dtype : MX_FLOAT32;
  double sc = has_scale ? scale : 1.0 / sqrt((double)n);
  MX_SCOPE_BEGIN;
  mx_array *r = mx_hadamard_prim(mx_astype(a, t, s), sc, (int)m, false, s);
  MX_SCOPE_RETURN(r);
}

mx_array *mx_hadamard_prim(mx_array *a, double scale, int m, bool transpose, mx_stream s) {
  if (!a) return NULL;
  mx_p_hadamard p = {scale, m, transpose};
  return mx_op_make1(MX_PRIM_HADAMARD, &p, s, 1, &a, a->dtype, a->ndim, a->shape);
}
