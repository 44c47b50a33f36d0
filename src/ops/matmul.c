/* matmul.c: matrix products. 1-D operands get a dimension inserted (front for a, back for
 * b) and removed again; batch dimensions broadcast; the kernel sees (..., M, K) x (..., K, N)
 * with equal batch shapes. Only inexact types (spec/semantics.md section 14). */
#include "layout_util.h"

#include <stdlib.h>
#include <string.h>

mx_array *mx_matmul(mx_array *a, mx_array *b, mx_stream s) {
  if (!a || !b) return NULL;
  if (a->ndim == 0 || b->ndim == 0)
    return mx_fail(MX_EINVAL, "[matmul] Got 0 dimension input. Inputs must have at least one dimension.");
  mx_dtype t = mx_promote_types(a->dtype, b->dtype);
  if (!mx_dtype_is_inexact(t))
    return mx_fail(MX_EINVAL,
                   "[matmul] Only inexact types are supported but %s and %s were provided which "
                   "results in %s, which is not a floating point type.",
                   mx_dtype_name(a->dtype), mx_dtype_name(b->dtype), mx_dtype_name(t));
  MX_SCOPE_BEGIN;
  mx_array *r = NULL;
  mx_array *A = mx_astype(a, t, s), *B = mx_astype(b, t, s);
  if (a->ndim == 1) A = mx_expand_dims(A, 0, s);
  if (b->ndim == 1) B = mx_expand_dims(B, 1, s);
  if (!A || !B) goto out;
  int M = A->shape[A->ndim - 2], K = A->shape[A->ndim - 1];
  int K2 = B->shape[B->ndim - 2], N = B->shape[B->ndim - 1];
  if (K != K2) {
    char sa_[256], sb_[256];
    mx_lay_shape_str(sa_, sizeof sa_, A->ndim, A->shape);
    mx_lay_shape_str(sb_, sizeof sb_, B->ndim, B->shape);
    mx_fail(MX_EINVAL, "[matmul] Last dimension of first input with shape %s must match second to "
                       "last dimension of second input with shape %s.", sa_, sb_);
    goto out;
  }
  int nb = (A->ndim > B->ndim ? A->ndim : B->ndim) - 2;
  int32_t *shape = malloc((size_t)(nb + 2) * 3 * sizeof(int32_t));
  if (!shape) {
    mx_fail(MX_ENOMEM, "[matmul] out of memory.");
    goto out;
  }
  int32_t *sa = shape + nb + 2, *sb = shape + 2 * (nb + 2);
  if (mx_broadcast_shapes("broadcast_shapes", A->ndim - 2, A->shape, B->ndim - 2, B->shape, shape) < 0) {
    free(shape);
    goto out;
  }
  memcpy(sa, shape, (size_t)nb * sizeof(int32_t));
  memcpy(sb, shape, (size_t)nb * sizeof(int32_t));
  sa[nb] = M, sa[nb + 1] = K;
  sb[nb] = K, sb[nb + 1] = N;
  shape[nb] = M, shape[nb + 1] = N;
  mx_array *in[2] = {mx_broadcast_to(A, sa, nb + 2, s), mx_broadcast_to(B, sb, nb + 2, s)};
  r = (in[0] && in[1]) ? mx_op_make1(MX_PRIM_MATMUL, NULL, s, 2, in, t, nb + 2, shape) : NULL;
  if (r && (a->ndim == 1 || b->ndim == 1)) {
    int nd = nb;
    if (a->ndim != 1) shape[nd++] = M;
    if (b->ndim != 1) shape[nd++] = N;
    r = mx_reshape(r, shape, nd, s);
  }
  free(shape);
out:
  MX_SCOPE_RETURN(r);
}
