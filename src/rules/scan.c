/* scan.c: rules of the Scan primitive (cumsum, cumprod, cummax, cummin, logcumsumexp),
 * written with ops (mostly scans) so they differentiate again. cumprod rules stay exact
 * with zeros (the first zero in scan order gets the product of the others); logcumsumexp
 * rules work in log space; cummax/cummin route through their "source" elements. */
#include "rules.h"

#include <math.h>
#include <stdlib.h>

void mx_rules_register_scan(void);

static mx_array *scalar(double v, mx_array *like) { return mx_scalar_like(v, like); }

static const char *scan_name(int kind) {
  static const char *const names[] = {"cumsum", "cumprod", "cummin", "cummax", "logcumsumexp"};
  return kind >= 0 && kind <= MX_SCAN_LOGADDEXP ? names[kind] : "scan";
}

/* log|v| where v has sign `positive` (v > 0) or negative (v < 0), -inf elsewhere. */
static mx_array *log_part(mx_array *v, bool positive, mx_stream s) {
  mx_array *zero = scalar(0.0, v), *ninf = scalar(-INFINITY, v);
  mx_array *sel = positive ? mx_greater(v, zero, s) : mx_less(v, zero, s);
  mx_array *mag = positive ? v : mx_negative(v, s);
  mx_array *safe = mx_where(sel, mag, scalar(1.0, v), s);
  return mx_where(sel, mx_log(safe, s), ninf, s);
}

/* exp(a) - exp(b), with -inf - -inf giving 0. */
static mx_array *exp_diff(mx_array *a, mx_array *b, mx_stream s) {
  return mx_subtract(mx_exp(a, s), mx_exp(b, s), s);
}

/* ---- cummax / cummin ----
 * Output j (in scan order) comes from the last i <= j with x_i == out_j (MLX's rule); those
 * i are the "sources" (plus the first element, which sources what nothing else does, e.g.
 * after a NaN). Gradients move values between outputs and sources with scans only: a
 * non-decreasing sequence (a cumsum of a nonnegative part) restricted to the sources can be
 * looked up at the next source with a cummin, at the previous one with a cummax. Computed
 * in float32 for 16-bit floats (and integers), since they difference cumulative sums. */

/* The element first in scan order along ax, as a bool array broadcastable to x. */
static mx_array *first_in_order(mx_array *x, int ax, bool rev, mx_stream s) {
  int32_t *shape = malloc((size_t)x->ndim * sizeof(int32_t));
  if (!shape) return mx_fail(MX_ENOMEM, "[vjp] out of memory.");
  for (int i = 0; i < x->ndim; i++) shape[i] = i == ax ? x->shape[ax] : 1;
  mx_array *ones = mx_ones(shape, x->ndim, MX_INT32, s);
  free(shape);
  mx_array *before = mx_scan(ones, MX_SCAN_SUM, ax, rev, false, s);
  return mx_equal(before, mx_zeros_like(before, s), s);
}

static mx_array *extremum_sources(mx_array *x, int kind, int ax, bool rev, mx_stream s) {
  mx_array *inc = mx_scan(x, kind, ax, rev, true, s);
  return mx_maximum(mx_equal(x, inc, s), first_in_order(x, ax, rev, s), s);
}

static mx_dtype work_dtype(mx_dtype t) {
  return t == MX_FLOAT64 || t == MX_FLOAT32 || t == MX_COMPLEX64 ? t : MX_FLOAT32;
}

/* Signed value v = v+ - v-, each part nonnegative. */
static mx_array *nonneg_part(mx_array *v, bool positive, mx_stream s) {
  mx_array *w = positive ? v : mx_negative(v, s);
  return mx_maximum(w, mx_zeros_like(w, s), s);
}

static mx_array *extremum_vjp(const mx_p_scan *r, mx_array *x, mx_array *g, mx_stream s) {
  int ax = r->axis;
  bool rev = r->reverse;
  mx_dtype out_t = g->dtype;
  g = mx_astype(g, work_dtype(out_t), s);
  mx_array *src = extremum_sources(x, r->kind, ax, rev, s);
  mx_array *inf = scalar(INFINITY, g), *grad = NULL;
  for (int part = 0; part < 2; part++) {
    /* cotangents flowing to source i: the outputs from i (i + 1 when exclusive) up to the
     * next source, i.e. a cumsum at the next source minus the cumsum at i */
    mx_array *gp = nonneg_part(g, part == 0, s);
    mx_array *acc = mx_scan(gp, MX_SCAN_SUM, ax, rev, !r->inclusive, s);
    mx_array *total = mx_sum(gp, &ax, 1, true, s);
    mx_array *nxt = mx_scan(mx_where(src, acc, inf, s), MX_SCAN_MIN, ax, !rev, false, s);
    mx_array *seg = mx_subtract(mx_minimum(nxt, total, s), acc, s);
    grad = grad ? mx_subtract(grad, seg, s) : seg;
  }
  grad = mx_where(src, grad, mx_zeros_like(g, s), s);
  return mx_astype(grad, out_t, s);
}

static mx_array *extremum_jvp(const mx_p_scan *r, mx_array *x, mx_array *t, mx_stream s) {
  int ax = r->axis;
  bool rev = r->reverse, incl = r->inclusive;
  mx_dtype out_t = t->dtype;
  t = mx_astype(t, work_dtype(out_t), s);
  mx_array *src = extremum_sources(x, r->kind, ax, rev, s);
  mx_array *ninf = scalar(-INFINITY, t), *res = NULL;
  for (int part = 0; part < 2; part++) {
    /* t at the output's source: the step of a cumsum there, looked up with a cummax */
    mx_array *tp = nonneg_part(t, part == 0, s);
    mx_array *at = mx_scan(tp, MX_SCAN_SUM, ax, rev, true, s);
    mx_array *before = mx_scan(tp, MX_SCAN_SUM, ax, rev, false, s);
    mx_array *la = mx_scan(mx_where(src, at, ninf, s), MX_SCAN_MAX, ax, rev, incl, s);
    mx_array *lb = mx_scan(mx_where(src, before, ninf, s), MX_SCAN_MAX, ax, rev, incl, s);
    mx_array *v = mx_subtract(la, lb, s);
    res = res ? mx_subtract(res, v, s) : v;
  }
  if (!incl) /* the first output of an exclusive scan is the constant identity */
    res = mx_where(first_in_order(x, ax, rev, s), mx_zeros_like(t, s), res, s);
  return mx_astype(res, out_t, s);
}

static int scan_vjp(const mx_op *op, mx_array *const *p, mx_array *const *cot,
                    const int *argnums, int n_argnums, mx_array *const *outputs,
                    mx_array **grads) {
  (void)argnums;
  const mx_p_scan *r = mx_op_params(op);
  mx_stream s = op->stream;
  if (n_argnums == 0) return 0;
  mx_array *x = p[0], *g = cot[0];
  if (!g) {
    grads[0] = NULL;
    return 0;
  }
  int ax = r->axis;
  bool rev = r->reverse, incl = r->inclusive;
  mx_array *out = outputs[0] ? outputs[0] : mx_scan(x, r->kind, ax, rev, incl, s);
  switch (r->kind) {
    case MX_SCAN_SUM:
      grads[0] = mx_scan(g, MX_SCAN_SUM, ax, !rev, incl, s);
      break;
    case MX_SCAN_PROD: {
      /* Positions from the first zero on (in scan order) have an inclusive product of 0;
       * the first zero's gradient is the scan of the others, later ones get 0. */
      mx_array *zero = scalar(0.0, x);
      mx_array *inc = incl ? out : mx_scan(x, MX_SCAN_PROD, ax, rev, true, s);
      mx_array *exc = incl ? mx_scan(x, MX_SCAN_PROD, ax, rev, false, s) : out;
      mx_array *at_or_after = mx_equal(inc, zero, s);
      mx_array *first = mx_multiply(at_or_after, mx_not_equal(exc, zero, s), s);
      mx_array *with_one = mx_scan(mx_where(first, scalar(1.0, x), x, s), MX_SCAN_PROD, ax, rev,
                                   incl, s);
      mx_array *g_first = mx_scan(mx_multiply(with_one, g, s), MX_SCAN_SUM, ax, !rev, incl, s);
      mx_array *g_rest = mx_divide(mx_scan(mx_multiply(out, g, s), MX_SCAN_SUM, ax, !rev, incl, s),
                                   x, s);
      mx_array *g_zero = mx_zeros_like(g_rest, s);
      grads[0] = mx_where(first, g_first, mx_where(at_or_after, g_zero, g_rest, s), s);
      break;
    }
    case MX_SCAN_LOGADDEXP: {
      /* d out_j / d x_i = exp(x_i - out_j) on each window: sum it in log space, split by
       * the cotangent's sign; windows whose output is -inf contribute nothing. */
      mx_array *ninf = scalar(-INFINITY, out);
      mx_array *dead = mx_equal(out, ninf, s);
      mx_array *lp = mx_where(dead, ninf, mx_subtract(log_part(g, true, s), out, s), s);
      mx_array *ln = mx_where(dead, ninf, mx_subtract(log_part(g, false, s), out, s), s);
      mx_array *sp = mx_scan(lp, MX_SCAN_LOGADDEXP, ax, !rev, incl, s);
      mx_array *sn = mx_scan(ln, MX_SCAN_LOGADDEXP, ax, !rev, incl, s);
      grads[0] = exp_diff(mx_add(sp, x, s), mx_add(sn, x, s), s);
      break;
    }
    case MX_SCAN_MAX:
    case MX_SCAN_MIN:
      grads[0] = extremum_vjp(r, x, g, s);
      break;
    default:
      return mx_fail_int(MX_ERUNTIME, "[%s] Unknown scan kind.", scan_name(r->kind));
  }
  return grads[0] ? 0 : -1;
}

static int scan_jvp(const mx_op *op, mx_array *const *p, mx_array *const *t,
                    mx_array *const *outputs, mx_array **res) {
  const mx_p_scan *r = mx_op_params(op);
  mx_stream s = op->stream;
  if (!t[0]) {
    res[0] = NULL;
    return 0;
  }
  mx_array *x = p[0], *tx = t[0];
  int ax = r->axis;
  bool rev = r->reverse, incl = r->inclusive;
  mx_array *out = outputs[0] ? outputs[0] : mx_scan(x, r->kind, ax, rev, incl, s);
  switch (r->kind) {
    case MX_SCAN_SUM:
      res[0] = mx_scan(tx, MX_SCAN_SUM, ax, rev, incl, s);
      break;
    case MX_SCAN_PROD: {
      /* Windows without a zero: out * scan(t / x). Windows whose only zero is the first
       * one: t at that zero times the product of the others. Others: 0. */
      mx_array *zero = mx_equal(x, scalar(0.0, x), s);
      mx_array *count = mx_scan(mx_astype(zero, MX_INT32, s), MX_SCAN_SUM, ax, rev, true, s);
      mx_array *first = mx_multiply(zero, mx_equal(count, mx_scalar_like(1.0, count), s), s);
      mx_array *tz0 = mx_zeros_like(tx, s);
      mx_array *q = mx_where(zero, tz0, mx_divide(tx, mx_where(zero, scalar(1.0, x), x, s), s), s);
      mx_array *part1 = mx_multiply(out, mx_scan(q, MX_SCAN_SUM, ax, rev, incl, s), s);
      mx_array *tz = mx_scan(mx_where(first, tx, tz0, s), MX_SCAN_SUM, ax, rev, incl, s);
      mx_array *with_one = mx_scan(mx_where(first, scalar(1.0, x), x, s), MX_SCAN_PROD, ax, rev,
                                   incl, s);
      res[0] = mx_astype(mx_add(part1, mx_multiply(tz, with_one, s), s), out->dtype, s);
      break;
    }
    case MX_SCAN_LOGADDEXP: {
      /* d out_j = sum_i t_i exp(x_i - out_j) over the window, in log space by sign */
      mx_array *ninf = scalar(-INFINITY, out);
      mx_array *dead = mx_equal(out, ninf, s);
      mx_array *sp = mx_scan(mx_add(log_part(tx, true, s), x, s), MX_SCAN_LOGADDEXP, ax, rev,
                             incl, s);
      mx_array *sn = mx_scan(mx_add(log_part(tx, false, s), x, s), MX_SCAN_LOGADDEXP, ax, rev,
                             incl, s);
      mx_array *d = exp_diff(mx_subtract(sp, out, s), mx_subtract(sn, out, s), s);
      res[0] = mx_where(dead, mx_zeros_like(out, s), d, s);
      break;
    }
    case MX_SCAN_MAX:
    case MX_SCAN_MIN:
      res[0] = extremum_jvp(r, x, tx, s);
      break;
    default:
      return mx_fail_int(MX_ERUNTIME, "[%s] Unknown scan kind.", scan_name(r->kind));
  }
  return res[0] ? 0 : -1;
}

static int scan_vmap(const mx_op *op, mx_array *const *in, const int *axes, mx_array **outputs,
                     int *out_axes) {
  const mx_p_scan *r = mx_op_params(op);
  mx_array *x = mx_rule_to_front(in[0], axes[0], op->stream);
  int shift = axes[0] >= 0 ? 1 : 0;
  outputs[0] = mx_scan(x, r->kind, r->axis + shift, r->reverse, r->inclusive, op->stream);
  out_axes[0] = shift ? 0 : -1;
  return outputs[0] ? 0 : -1;
}

void mx_rules_register_scan(void) {
  mx_prims[MX_PRIM_SCAN].vjp = scan_vjp;
  mx_prims[MX_PRIM_SCAN].jvp = scan_jvp;
  mx_prims[MX_PRIM_SCAN].vmap = scan_vmap;
}
