/* binary.c: element-wise binary ops. Both operands are cast to the promoted dtype and
 * broadcast to the common shape (stride-0 views), so kernels see equal shapes. */
#include "ops.h"

#include <stdlib.h>

#include "../core/error.h"

/* Casts and broadcasts a and b; returns the op's output (scope rules) or NULL. */
static mx_array *binary(const char *name, mx_prim p, mx_array *a, mx_array *b, mx_dtype t,
                        mx_dtype out_t, mx_stream s) {
  if (!a || !b) return NULL;
  int n = a->ndim > b->ndim ? a->ndim : b->ndim;
  int32_t small[MX_INLINE_DIMS];
  int32_t *shape = n <= MX_INLINE_DIMS ? small : malloc((size_t)n * sizeof(int32_t));
  if (!shape) return mx_fail(MX_ENOMEM, "[%s] out of memory.", name);
  if (mx_broadcast_shapes("broadcast_shapes", a->ndim, a->shape, b->ndim, b->shape, shape) < 0) {
    if (shape != small) free(shape);
    return NULL;
  }
  MX_SCOPE_BEGIN;
  mx_array *in[2] = {mx_broadcast_to(mx_astype(a, t, s), shape, n, s),
                     mx_broadcast_to(mx_astype(b, t, s), shape, n, s)};
  mx_array *r = (in[0] && in[1]) ? mx_op_make1(p, NULL, s, 2, in, out_t, n, shape) : NULL;
  if (shape != small) free(shape);
  MX_SCOPE_RETURN(r);
}

mx_array *mx_add(mx_array *a, mx_array *b, mx_stream s) {
  if (!a || !b) return NULL;
  mx_dtype t = mx_promote_types(a->dtype, b->dtype);
  return binary("add", MX_PRIM_ADD, a, b, t, t, s);
}

mx_array *mx_subtract(mx_array *a, mx_array *b, mx_stream s) {
  if (!a || !b) return NULL;
  mx_dtype t = mx_promote_types(a->dtype, b->dtype); /* bool - bool is xor, as MLX */
  return binary("subtract", MX_PRIM_SUBTRACT, a, b, t, t, s);
}

mx_array *mx_multiply(mx_array *a, mx_array *b, mx_stream s) {
  if (!a || !b) return NULL;
  mx_dtype t = mx_promote_types(a->dtype, b->dtype);
  return binary("multiply", MX_PRIM_MULTIPLY, a, b, t, t, s);
}

mx_array *mx_divide(mx_array *a, mx_array *b, mx_stream s) {
  if (!a || !b) return NULL;
  mx_dtype t = mx_at_least_float(mx_promote_types(a->dtype, b->dtype));
  return binary("divide", MX_PRIM_DIVIDE, a, b, t, t, s);
}

mx_array *mx_maximum(mx_array *a, mx_array *b, mx_stream s) {
  if (!a || !b) return NULL;
  mx_dtype t = mx_promote_types(a->dtype, b->dtype);
  return binary("maximum", MX_PRIM_MAXIMUM, a, b, t, t, s);
}

mx_array *mx_minimum(mx_array *a, mx_array *b, mx_stream s) {
  if (!a || !b) return NULL;
  mx_dtype t = mx_promote_types(a->dtype, b->dtype);
  return binary("minimum", MX_PRIM_MINIMUM, a, b, t, t, s);
}

mx_array *mx_where(mx_array *cond, mx_array *x, mx_array *y, mx_stream s) {
  if (!cond || !x || !y) return NULL;
  int n = cond->ndim;
  if (x->ndim > n) n = x->ndim;
  if (y->ndim > n) n = y->ndim;
  int32_t small[2][MX_INLINE_DIMS];
  int32_t *s1 = n <= MX_INLINE_DIMS ? small[0] : malloc((size_t)n * sizeof(int32_t));
  int32_t *s2 = n <= MX_INLINE_DIMS ? small[1] : malloc((size_t)n * sizeof(int32_t));
  mx_array *r = NULL;
  if (!s1 || !s2) {
    mx_fail(MX_ENOMEM, "[where] out of memory.");
  } else {
    int n1 = mx_broadcast_shapes("where", cond->ndim, cond->shape, x->ndim, x->shape, s1);
    int n2 = n1 < 0 ? -1 : mx_broadcast_shapes("where", n1, s1, y->ndim, y->shape, s2);
    if (n2 >= 0) {
      mx_dtype t = mx_promote_types(x->dtype, y->dtype);
      MX_SCOPE_BEGIN;
      mx_array *in[3] = {mx_broadcast_to(mx_astype(cond, MX_BOOL, s), s2, n2, s),
                         mx_broadcast_to(mx_astype(x, t, s), s2, n2, s),
                         mx_broadcast_to(mx_astype(y, t, s), s2, n2, s)};
      mx_array *o = (in[0] && in[1] && in[2]) ? mx_op_make1(MX_PRIM_SELECT, NULL, s, 3, in, t, n2, s2) : NULL;
      r = mx_keep(o);
      MX_SCOPE_END;
      r = mx_scope_adopt(r);
    }
  }
  if (s1 && s1 != small[0]) free(s1);
  if (s2 && s2 != small[1]) free(s2);
  return r;
}

static mx_array *compare(const char *name, mx_prim p, mx_array *a, mx_array *b, mx_stream s) {
  if (!a || !b) return NULL;
  mx_dtype t = mx_promote_types(a->dtype, b->dtype);
  return binary(name, p, a, b, t, MX_BOOL, s);
}

mx_array *mx_equal(mx_array *a, mx_array *b, mx_stream s) { return compare("equal", MX_PRIM_EQUAL, a, b, s); }
mx_array *mx_not_equal(mx_array *a, mx_array *b, mx_stream s) { return compare("not_equal", MX_PRIM_NOT_EQUAL, a, b, s); }
mx_array *mx_less(mx_array *a, mx_array *b, mx_stream s) { return compare("less", MX_PRIM_LESS, a, b, s); }
mx_array *mx_less_equal(mx_array *a, mx_array *b, mx_stream s) { return compare("less_equal", MX_PRIM_LESS_EQUAL, a, b, s); }
mx_array *mx_greater(mx_array *a, mx_array *b, mx_stream s) { return compare("greater", MX_PRIM_GREATER, a, b, s); }
mx_array *mx_greater_equal(mx_array *a, mx_array *b, mx_stream s) { return compare("greater_equal", MX_PRIM_GREATER_EQUAL, a, b, s); }

mx_array *mx_elementwise_by_prim(int prim, mx_array *const *in, int n, mx_dtype out_t, mx_stream s) {
  for (int i = 0; i < n; i++)
    if (!in[i]) return NULL;
  if (n == 1) {
    if (prim == MX_PRIM_ASTYPE) return mx_astype(in[0], out_t, s);
    return mx_op_make1(prim, NULL, s, 1, in, out_t, in[0]->ndim, in[0]->shape);
  }
  if (n == 3) return mx_where(in[0], in[1], in[2], s);
  if (mx_prim_family(prim)[0] == 'c') out_t = MX_BOOL; /* compare */
  return binary(mx_prim_name(prim), prim, in[0], in[1], in[0]->dtype, out_t, s);
}

mx_array *mx_scalar_like(double v, mx_array *a) {
  if (!a) return NULL;
  return mx_scope_adopt(mx_array_scalar_f64(v, a->dtype));
}
