/* products.c: matrix products beyond matmul: addmm (the AddMM primitive), tensordot (transpose
 * + reshape + matmul, as MLX), inner, outer, vecdot and kron. Depends on ops.h. */
#include "layout_util.h"

#include <stdlib.h>
#include <string.h>

/* ---- addmm ---- */

mx_array *mx_addmm(mx_array *c, mx_array *a, mx_array *b, double alpha, double beta,
                   mx_stream s) {
  if (!c || !a || !b) return NULL;
  if (a->ndim == 0 || b->ndim == 0)
    return mx_fail(MX_EINVAL, "[addmm] Got 0 dimension input. Inputs must have at least one dimension.");
  mx_dtype t = mx_promote_types(mx_promote_types(a->dtype, b->dtype), c->dtype);
  if (!mx_dtype_is_floating(t))
    return mx_fail(MX_EINVAL, "[addmm] Only real floating point types are supported but %s, %s "
                              "and %s were provided which results in %s, which is not a real "
                              "floating point type.", mx_dtype_name(a->dtype),
                   mx_dtype_name(b->dtype), mx_dtype_name(c->dtype), mx_dtype_name(t));
  int nd = (a->ndim > b->ndim ? a->ndim : b->ndim) + 2;
  int32_t *buf = mx_lay_dims("addmm", 5 * nd);
  if (!buf) return NULL;
  int32_t *out = buf, *sa = buf + nd, *sb = sa + nd, *fin = sb + nd, *cb = fin + nd;
  mx_array *r = NULL;
  MX_SCOPE_BEGIN;
  mx_array *A = mx_astype(a, t, s), *B = mx_astype(b, t, s);
  if (a->ndim == 1) A = mx_expand_dims(A, 0, s);
  if (b->ndim == 1) B = mx_expand_dims(B, 1, s);
  if (!A || !B) goto end;
  int M = A->shape[A->ndim - 2], K = A->shape[A->ndim - 1];
  int K2 = B->shape[B->ndim - 2], N = B->shape[B->ndim - 1];
  if (K != K2) {
    char x[256], y[256];
    mx_lay_shape_str(x, sizeof x, A->ndim, A->shape);
    mx_lay_shape_str(y, sizeof y, B->ndim, B->shape);
    mx_fail(MX_EINVAL, "[addmm] Last dimension of first input with shape %s must match second to "
                       "last dimension of second input with shape %s.", x, y);
    goto end;
  }
  int nb = mx_broadcast_shapes("broadcast_shapes", A->ndim - 2, A->shape, B->ndim - 2, B->shape, out);
  if (nb < 0) goto end;
  memcpy(sa, out, (size_t)nb * sizeof(int32_t));
  memcpy(sb, out, (size_t)nb * sizeof(int32_t));
  sa[nb] = M, sa[nb + 1] = K, sb[nb] = K, sb[nb + 1] = N;
  out[nb] = M, out[nb + 1] = N;
  int nf = nb; /* the result's shape without the dims of 1-D operands */
  memcpy(fin, out, (size_t)nb * sizeof(int32_t));
  if (a->ndim != 1) fin[nf++] = M;
  if (b->ndim != 1) fin[nf++] = N;
  int ncb = mx_broadcast_shapes("broadcast_shapes", c->ndim, c->shape, nf, fin, cb);
  if (ncb < 0) goto end;
  if (ncb != nf || memcmp(cb, fin, (size_t)nf * sizeof(int32_t)) != 0) {
    mx_fail(MX_EINVAL, "[addmm] input c must broadcast to the output shape");
    goto end;
  }
  mx_array *C = mx_reshape(mx_broadcast_to(mx_astype(c, t, s), fin, nf, s), out, nb + 2, s);
  mx_array *in[3] = {mx_broadcast_to(A, sa, nb + 2, s), mx_broadcast_to(B, sb, nb + 2, s), C};
  if (!in[0] || !in[1] || !in[2]) goto end;
  mx_p_addmm p = {alpha, beta};
  mx_array *x = mx_op_make1(MX_PRIM_ADDMM, &p, s, 3, in, t, nb + 2, out);
  r = nf == nb + 2 ? x : mx_reshape(x, fin, nf, s);
end:
  free(buf);
  MX_SCOPE_RETURN(r);
}

/* ---- tensordot ---- */

mx_array *mx_tensordot(mx_array *a, mx_array *b, const int *axes_a, int na, const int *axes_b,
                       int nb, mx_stream s) {
  if (!a || !b) return NULL;
  if (na != nb) return mx_fail(MX_EINVAL, "[tensordot] axes must have the same size.");
  int da = a->ndim, db = b->ndim;
  int *pa = mx_lay_ints("tensordot", da + db);
  bool *used = calloc((size_t)(da + db + 1), 1);
  int32_t *shape = mx_lay_dims("tensordot", da + db);
  mx_array *r = NULL;
  if (!pa || !used || !shape) {
    mx_fail(MX_ENOMEM, "[tensordot] out of memory.");
    goto out;
  }
  int *pb = pa + da;
  bool *ua = used, *ub = used + da;
  int64_t contracted = 1, fa = 1, fb = 1;
  for (int i = 0; i < na; i++) {
    int x = mx_lay_axis("tensordot", axes_a[i], da), y = x < 0 ? -1 : mx_lay_axis("tensordot", axes_b[i], db);
    if (y < 0) goto out;
    if (ua[x] || ub[y]) {
      mx_fail(MX_EINVAL, "[tensordot] Repeated axes are not allowed.");
      goto out;
    }
    if (a->shape[x] != b->shape[y]) {
      mx_fail(MX_EINVAL, "[tensordot] a and b must have the same shape on the contracted axes.");
      goto out;
    }
    ua[x] = ub[y] = true;
    pa[da - na + i] = x; /* contracted axes last in a, first in b, in the given order */
    pb[i] = y;
    contracted *= a->shape[x];
  }
  int n = 0, k = 0;
  for (int d = 0; d < da; d++)
    if (!ua[d]) pa[k++] = d, shape[n++] = a->shape[d], fa *= a->shape[d];
  k = na;
  for (int d = 0; d < db; d++)
    if (!ub[d]) pb[k++] = d, shape[n++] = b->shape[d], fb *= b->shape[d];
  if (fa > INT32_MAX || fb > INT32_MAX || contracted > INT32_MAX) {
    mx_fail(MX_EINVAL, "[tensordot] The flattened operands exceed %d rows or columns.", INT32_MAX);
    goto out;
  }
  int32_t ma[2] = {(int32_t)fa, (int32_t)contracted}, mb[2] = {(int32_t)contracted, (int32_t)fb};
  MX_SCOPE_BEGIN;
  mx_array *x = mx_reshape(mx_transpose(a, pa, da, s), ma, 2, s);
  mx_array *y = mx_reshape(mx_transpose(b, pb, db, s), mb, 2, s);
  r = mx_keep(mx_reshape(mx_matmul(x, y, s), shape, n, s));
  MX_SCOPE_END;
  r = mx_scope_adopt(r);
out:
  free(pa);
  free(used);
  free(shape);
  return r;
}

mx_array *mx_tensordot_axis(mx_array *a, mx_array *b, int axis, mx_stream s) {
  if (!a || !b) return NULL;
  if (axis < 0) return mx_fail(MX_EINVAL, "[tensordot] axis must be greater or equal to 0.");
  if (axis > a->ndim || axis > b->ndim)
    return mx_fail(MX_EINVAL, "[tensordot] axis must be less than the number of dimensions of a and b.");
  int *ax = mx_lay_ints("tensordot", 2 * axis);
  if (!ax) return NULL;
  for (int i = 0; i < axis; i++) ax[i] = a->ndim - axis + i, ax[axis + i] = i;
  mx_array *r = mx_tensordot(a, b, ax, axis, ax + axis, axis, s);
  free(ax);
  return r;
}

/* ---- inner, outer, vecdot, kron ---- */

mx_array *mx_inner(mx_array *a, mx_array *b, mx_stream s) {
  if (!a || !b) return NULL;
  if (a->ndim == 0 || b->ndim == 0) return mx_multiply(a, b, s);
  if (a->shape[a->ndim - 1] != b->shape[b->ndim - 1])
    return mx_fail(MX_EINVAL, "[inner] a and b must have the same last dimension.");
  int la = -1, lb = -1;
  return mx_tensordot(a, b, &la, 1, &lb, 1, s);
}

mx_array *mx_outer(mx_array *a, mx_array *b, mx_stream s) {
  if (!a || !b) return NULL;
  int32_t col[2] = {-1, 1};
  MX_SCOPE_BEGIN;
  mx_array *r = mx_multiply(mx_reshape(a, col, 2, s), mx_flatten(b, 0, -1, s), s);
  MX_SCOPE_RETURN(r);
}

/* Complex conjugate of a complex64 array through its (re, im) float32 pairs. */
static mx_array *conj64(mx_array *a, mx_stream s) {
  int nd = a->ndim;
  int32_t *pairs = mx_lay_dims("vecdot", nd + 1);
  if (!pairs) return NULL;
  memcpy(pairs, a->shape, (size_t)nd * sizeof(int32_t));
  pairs[nd] = 2;
  float sign[2] = {1.0f, -1.0f};
  int32_t two = 2;
  MX_SCOPE_BEGIN;
  mx_array *f = mx_reshape(mx_view(mx_contiguous(a, false, s), MX_FLOAT32, s), pairs, nd + 1, s);
  mx_array *flipped = mx_multiply(f, mx_scope_adopt(mx_array_from_data(sign, MX_FLOAT32, 1, &two)), s);
  mx_array *r = mx_reshape(mx_view(mx_flatten(flipped, nd - 1, nd, s), MX_COMPLEX64, s), a->shape, nd, s);
  free(pairs);
  MX_SCOPE_RETURN(r);
}

mx_array *mx_vecdot(mx_array *a, mx_array *b, int axis, mx_stream s) {
  if (!a || !b) return NULL;
  if (a->ndim == 0 || b->ndim == 0) return mx_fail(MX_EINVAL, "[vecdot] inputs must be at least 1D.");
  int nd = a->ndim > b->ndim ? a->ndim : b->ndim;
  if (axis < -nd || axis >= nd) return mx_fail(MX_EINDEX, "[vecdot] axis is out of bounds.");
  int ax = axis < 0 ? axis + nd : axis;
  if (a->ndim != b->ndim) return mx_fail(MX_EINVAL, "[vecdot] axis is out of bounds.");
  if (a->shape[ax] != b->shape[ax])
    return mx_fail(MX_EINVAL, "[vecdot] a and b must have the same size along axis.");
  MX_SCOPE_BEGIN;
  mx_array *x = a;
  if (mx_promote_types(a->dtype, b->dtype) == MX_COMPLEX64)
    x = conj64(mx_astype(a, MX_COMPLEX64, s), s);
  mx_array *r = mx_sum(mx_multiply(x, b, s), &ax, 1, false, s);
  MX_SCOPE_RETURN(r);
}

mx_array *mx_kron(mx_array *a, mx_array *b, mx_stream s) {
  if (!a || !b) return NULL;
  if (a->size == 0 || b->size == 0) return mx_fail(MX_EINVAL, "[kron] Input arrays cannot be empty.");
  int nd = a->ndim > b->ndim ? a->ndim : b->ndim;
  int32_t *buf = mx_lay_dims("kron", 5 * nd);
  if (!buf) return NULL;
  int32_t *ea = buf, *eb = buf + 2 * nd, *fin = eb + 2 * nd;
  bool big = false;
  for (int d = 0; d < nd; d++) {
    int ia = d - (nd - a->ndim), ib = d - (nd - b->ndim);
    int32_t x = ia < 0 ? 1 : a->shape[ia], y = ib < 0 ? 1 : b->shape[ib];
    ea[2 * d] = x, ea[2 * d + 1] = 1; /* a: (a0, 1, a1, 1, ...), b: (1, b0, 1, b1, ...) */
    eb[2 * d] = 1, eb[2 * d + 1] = y;
    big |= (int64_t)x * y > INT32_MAX;
    fin[d] = (int32_t)((int64_t)x * y);
  }
  mx_array *r = NULL;
  if (big) {
    mx_fail(MX_EINVAL, "[kron] A result dimension would exceed %d elements.", INT32_MAX);
  } else {
    MX_SCOPE_BEGIN;
    mx_array *x = mx_multiply(mx_reshape(a, ea, 2 * nd, s), mx_reshape(b, eb, 2 * nd, s), s);
    r = mx_keep(mx_reshape(x, fin, nd, s));
    MX_SCOPE_END;
    r = mx_scope_adopt(r);
  }
  free(buf);
  return r;
}
