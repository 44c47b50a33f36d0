/* fft.c: rules of the FFT primitive, written with the FFT op so they differentiate again.
 * The transforms are linear: jvp applies the same transform to the tangent; vjp applies the
 * adjoint (complex: the opposite direction, rescaled; real forward: the real inverse of the
 * cotangent with its interior frequencies halved; real inverse: the real forward transform
 * with its interior frequencies doubled); vmap moves the batch axis to the front. */
#include "rules.h"

#include <stdlib.h>

void mx_rules_register_fft(void);

/* Product of the transform lengths (the real inverse's last one is its output's, p->n). */
static double fft_count(const mx_p_fft *p, mx_array *in) {
  double c = 1;
  int na = p->axes.n;
  for (int i = 0; i < na; i++)
    c *= p->real && p->inverse && i == na - 1 ? p->n : in->shape[p->axes.v[i]];
  return c;
}

/* Weights along the real axis of a half spectrum of n_half = n / 2 + 1 entries: `inner` on
 * the frequencies whose conjugate is folded away, 1 on DC (and Nyquist when n is even),
 * shaped to broadcast against an array of ndim dims. */
static mx_array *half_weights(int n, int ndim, int axis, double inner, mx_stream s) {
  int half = n / 2 + 1;
  mx_array *idx = mx_arange(0, half, 1, MX_FLOAT32, s);
  mx_array *dc = mx_equal(idx, mx_scalar_like(0, idx), s);
  mx_array *edge = n % 2 == 0 ? mx_maximum(dc, mx_equal(idx, mx_scalar_like(half - 1, idx), s), s)
                              : dc;
  mx_array *w = mx_where(edge, mx_scalar_like(1, idx), mx_scalar_like(inner, idx), s);
  int32_t *shape = malloc((size_t)ndim * sizeof(int32_t));
  if (!shape) return mx_fail(MX_ENOMEM, "[fft] out of memory.");
  for (int d = 0; d < ndim; d++) shape[d] = d == axis ? half : 1;
  mx_array *r = mx_reshape(w, shape, ndim, s);
  free(shape);
  return r;
}

static int fft_vjp(const mx_op *op, mx_array *const *p, mx_array *const *cot,
                   const int *argnums, int n_argnums, mx_array *const *outputs,
                   mx_array **grads) {
  (void)argnums;
  if (n_argnums == 0) return 0;
  const mx_p_fft *r = mx_op_params(op);
  mx_stream s = op->stream;
  mx_array *x = p[0], *g = cot[0];
  if (!g) {
    grads[0] = NULL;
    return 0;
  }
  int na = r->axes.n, last = r->axes.v[na - 1];
  const int *axes = r->axes.v;
  (void)outputs;
  double count = fft_count(r, x);
  mx_array *res;
  if (!r->real) {
    /* forward: F^H g = count * ifft(g); inverse: F g / count */
    res = mx_fft_prim(g, axes, na, !r->inverse, false, 0, s);
    res = mx_multiply(res, mx_scalar_like(r->inverse ? 1.0 / count : count, res), s);
  } else if (!r->inverse) {
    int n = x->shape[last];
    mx_array *w = half_weights(n, x->ndim, last, 0.5, s);
    mx_array *gw = mx_multiply(mx_astype(g, MX_COMPLEX64, s), w, s);
    res = mx_fft_prim(gw, axes, na, true, true, n, s);
    res = mx_multiply(res, mx_scalar_like(count, res), s);
  } else {
    mx_array *f = mx_fft_prim(mx_astype(g, MX_FLOAT32, s), axes, na, false, true, 0, s);
    mx_array *w = half_weights(r->n, x->ndim, last, 2.0, s);
    res = mx_multiply(mx_multiply(f, w, s), mx_scalar_like(1.0 / count, f), s);
  }
  grads[0] = res;
  return res ? 0 : -1;
}

static int fft_jvp(const mx_op *op, mx_array *const *p, mx_array *const *t,
                   mx_array *const *outputs, mx_array **res) {
  (void)p;
  (void)outputs;
  const mx_p_fft *r = mx_op_params(op);
  if (!t[0]) {
    res[0] = NULL;
    return 0;
  }
  res[0] = mx_fft_prim(t[0], r->axes.v, r->axes.n, r->inverse, r->real, r->n, op->stream);
  return res[0] ? 0 : -1;
}

static int fft_vmap(const mx_op *op, mx_array *const *in, const int *axes, mx_array **outputs,
                    int *out_axes) {
  const mx_p_fft *r = mx_op_params(op);
  int na = r->axes.n;
  if (axes[0] < 0) { /* unbatched: the transform as it was */
    outputs[0] = mx_fft_prim(in[0], r->axes.v, na, r->inverse, r->real, r->n, op->stream);
    out_axes[0] = -1;
    return outputs[0] ? 0 : -1;
  }
  int *ax = malloc((size_t)na * sizeof(int));
  if (!ax) return mx_fail_int(MX_ENOMEM, "[fft] out of memory.");
  for (int i = 0; i < na; i++) ax[i] = r->axes.v[i] + 1;
  mx_array *x = mx_rule_to_front(in[0], axes[0], op->stream);
  outputs[0] = mx_fft_prim(x, ax, na, r->inverse, r->real, r->n, op->stream);
  free(ax);
  out_axes[0] = 0;
  return outputs[0] ? 0 : -1;
}

void mx_rules_register_fft(void) {
  mx_prims[MX_PRIM_FFT].vjp = fft_vjp;
  mx_prims[MX_PRIM_FFT].jvp = fft_jvp;
  mx_prims[MX_PRIM_FFT].vmap = fft_vmap;
}
