/* triangle.c: tril and triu, a where() against a mask built from row/column iotas of the
 * last two axes (so their gradients come from Select's rules). */
#include "ops.h"

#include "../core/error.h"

/* Keeps the entries with col - row <= k (lower) or >= k (upper) of the last two dims. */
static mx_array *triangle(const char *op, bool lower, mx_array *x, int k, mx_stream s) {
  if (!x) return NULL;
  if (x->ndim < 2) return mx_fail(MX_EINVAL, "[%s] array must be at least 2-D", op);
  int nd = x->ndim;
  MX_SCOPE_BEGIN;
  mx_array *rows = mx_index_iota(x->shape[nd - 2], 2, 0), *cols = mx_index_iota(x->shape[nd - 1], 2, 1);
  mx_array *diff = mx_subtract(cols, rows, s);
  mx_array *kk = diff ? mx_scope_adopt(mx_array_scalar_i64(k, MX_INT32)) : NULL;
  mx_array *mask = lower ? mx_less_equal(diff, kk, s) : mx_greater_equal(diff, kk, s);
  mx_array *r = mx_where(mask, x, mx_zeros_like(x, s), s);
  MX_SCOPE_RETURN(r);
}

mx_array *mx_tril(mx_array *x, int k, mx_stream s) { return triangle("tril", true, x, k, s); }
mx_array *mx_triu(mx_array *x, int k, mx_stream s) { return triangle("triu", false, x, k, s); }
