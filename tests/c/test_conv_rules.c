/* test_conv_rules.c: the vmap rules of the Convolution and ConvolutionWeight primitives
 * against an explicit loop (input batched, weights/cotangent batched, both, at various axes,
 * with groups, dilations, negative padding and flip, empty batches), every convolution op once
 * on valid and invalid arguments (error paths under the sanitizer builds), and the mlx-c
 * wrappers of the family. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "mlx/c/mlx.h"
#include "prim.h"
#include "../../src/ops/ops.h"
#include "../../src/transforms/transforms.h"

static mx_stream S;

/* A float64 array of the given shape with deterministic pseudo-random values. */
static mx_array *data(int ndim, const int32_t *shape, unsigned seed) {
  int64_t n = 1;
  for (int d = 0; d < ndim; d++) n *= shape[d];
  double *v = malloc((size_t)(n ? n : 1) * sizeof(double));
  unsigned x = seed * 2654435761u + 12345u;
  for (int64_t i = 0; i < n; i++) {
    x = x * 1103515245u + 12345u;
    v[i] = (double)((x >> 8) % 2001) / 1000.0 - 1.0;
  }
  mx_array *a = mx_scope_adopt(mx_array_from_data(v, MX_FLOAT64, ndim, shape));
  free(v);
  return a;
}

/* Entry b of x along axis (the axis removed). */
static mx_array *take(mx_array *x, int axis, int b) {
  int nd = x->ndim;
  int32_t start[8], stop[8], step[8], shape[8];
  for (int d = 0, k = 0; d < nd; d++) {
    start[d] = d == axis ? b : 0;
    stop[d] = d == axis ? b + 1 : x->shape[d];
    step[d] = 1;
    if (d != axis) shape[k++] = x->shape[d];
  }
  return mx_reshape(mx_slice(x, start, stop, step, S), shape, nd - 1, S);
}

static double *values(mx_array *x) {
  mx_array *c = mx_contiguous(mx_astype(x, MX_FLOAT64, S), false, S);
  if (!c || mx_array_eval(c) != 0) return NULL;
  double *out = malloc((size_t)(x->size ? x->size : 1) * sizeof(double));
  memcpy(out, mx_array_host_data(c), (size_t)x->size * sizeof(double));
  return out;
}

static bool close_values(mx_array *a, mx_array *b) {
  if (!a || !b || a->ndim != b->ndim || a->size != b->size) return false;
  for (int d = 0; d < a->ndim; d++)
    if (a->shape[d] != b->shape[d]) return false;
  double *x = values(a), *y = values(b);
  bool ok = x && y;
  for (int64_t i = 0; ok && i < a->size; i++) ok = fabs(x[i] - y[i]) <= 1e-12 * (1 + fabs(y[i]));
  free(x);
  free(y);
  return ok;
}

/* The Convolution primitive on (x, w) with the given parameters for nsp spatial dims. */
typedef struct conv_case {
  int nsp;
  int32_t st[3], lo[3], hi[3], kd[3], id[3];
  int groups;
  bool flip;
  int32_t kernel[3]; /* ConvolutionWeight cases: the weights' spatial shape */
} conv_case;

static const conv_case *CUR;
static mx_prim PRIM = MX_PRIM_CONVOLUTION;

static mx_array *build(mx_array *const *in) {
  const conv_case *c = CUR;
  mx_p_convolution p = {{c->nsp, c->st}, {c->nsp, c->lo}, {c->nsp, c->hi}, {c->nsp, c->kd},
                        {c->nsp, c->id}, c->groups, c->flip};
  if (PRIM == MX_PRIM_CONV_WEIGHT) return mx_conv_weight_apply(in[0], in[1], &p, c->kernel, S);
  return mx_conv_apply(in[0], in[1], &p, S);
}

/* x and w carry a batch of size B at axes[0] / axes[1] (or -1). */
static void check_vmap(const char *name, const conv_case *c, mx_array *x, mx_array *w,
                       const int *axes, int B) {
  MX_SCOPE_BEGIN;
  CUR = c;
  mx_array *batched[2] = {x, w}, *in[2];
  for (int i = 0; i < 2; i++) {
    in[i] = batched[i];
    if (axes[i] >= 0 && B > 0) {
      in[i] = take(batched[i], axes[i], 0);
    } else if (axes[i] >= 0) { /* an empty batch: the unbatched shape, any values */
      int32_t shape[8];
      for (int d = 0, k = 0; d < batched[i]->ndim; d++)
        if (d != axes[i]) shape[k++] = batched[i]->shape[d];
      in[i] = data(batched[i]->ndim - 1, shape, 1);
    }
  }
  mx_array *probe = build(in);
  bool ok = probe && probe->op && probe->op->prim == PRIM &&
            probe->op->inputs[0] == in[0] && probe->op->inputs[1] == in[1];
  if (!ok) {
    fprintf(stderr, "%s: the builder did not make the primitive on its inputs\n", name);
    check_failures++;
  } else {
    mx_array *out[1] = {NULL};
    int out_axes[1] = {-2};
    int rc = mx_prims[PRIM].vmap(probe->op, batched, axes, out, out_axes);
    CHECK(rc == 0 && out[0]);
    for (int b = 0; rc == 0 && out[0] && b < B; b++) {
      for (int i = 0; i < 2; i++) in[i] = axes[i] < 0 ? batched[i] : take(batched[i], axes[i], b);
      mx_array *want = build(in);
      mx_array *got = out_axes[0] < 0 ? out[0] : take(out[0], out_axes[0], b);
      if (!close_values(got, want)) {
        fprintf(stderr, "%s: batch entry %d differs\n", name, b);
        check_failures++;
        break;
      }
    }
    if (rc == 0 && out[0] && B == 0) CHECK(out[0]->size == 0 && out_axes[0] >= 0);
  }
  MX_SCOPE_END;
  if (mx_error_kind_get() != MX_OK) {
    fprintf(stderr, "%s: %s\n", name, mx_error_message());
    check_failures++;
    mx_error_clear();
  }
}

static void test_vmap_1d(void) {
  MX_SCOPE_BEGIN;
  conv_case c = {1, {2}, {1}, {-1}, {2}, {1}, 2, false, {0}};
  int32_t xs[4] = {3, 2, 9, 4}, ws[3] = {6, 3, 2}, xb[4] = {2, 9, 4, 3}, wb[4] = {6, 3, 2, 3};
  int32_t x1[3] = {2, 9, 4};
  int a_in[2] = {0, -1}, a_w[2] = {-1, 3}, a_both[2] = {3, 3};
  check_vmap("1d input batched", &c, data(4, xs, 1), data(3, ws, 2), a_in, 3);
  check_vmap("1d weights batched", &c, data(3, x1, 3), data(4, wb, 4), a_w, 3);
  check_vmap("1d both batched", &c, data(4, xb, 5), data(4, wb, 6), a_both, 3);
  conv_case f = {1, {1}, {2}, {0}, {1}, {3}, 1, true, {0}};
  int32_t w2[3] = {2, 3, 4}, w2b[4] = {2, 2, 3, 4};
  int a_w0[2] = {-1, 1};
  check_vmap("1d flipped, input dilation", &f, data(3, x1, 7), data(4, w2b, 8), a_w0, 2);
  int a_x1[2] = {1, -1};
  int32_t xs1[4] = {2, 3, 9, 4};
  check_vmap("1d input batched at axis 1", &f, data(4, xs1, 9), data(3, w2, 10), a_x1, 3);
  MX_SCOPE_END;
}

static void test_vmap_2d(void) {
  MX_SCOPE_BEGIN;
  conv_case c = {2, {2, 1}, {1, 0}, {0, 2}, {1, 2}, {1, 2}, 1, true, {0}};
  int32_t xs[5] = {2, 5, 4, 3, 2}, ws[4] = {4, 2, 2, 2}, wb[5] = {4, 2, 2, 2, 3};
  int a_x[2] = {3, -1}, a_xw[2] = {3, 4};
  check_vmap("2d input batched (axis 3)", &c, data(5, xs, 11), data(4, ws, 12), a_x, 3);
  check_vmap("2d both batched", &c, data(5, xs, 13), data(5, wb, 14), a_xw, 3);
  MX_SCOPE_END;
}

static void test_vmap_empty_batch(void) {
  MX_SCOPE_BEGIN;
  conv_case c = {1, {1}, {0}, {0}, {1}, {1}, 1, false, {0}};
  int32_t x1[3] = {2, 5, 2}, wb[4] = {0, 3, 3, 2}, xb[4] = {0, 2, 5, 2}, w1[3] = {3, 3, 2};
  int a_w[2] = {-1, 0}, a_x[2] = {0, -1};
  check_vmap("empty weight batch", &c, data(3, x1, 1), data(4, wb, 2), a_w, 0);
  check_vmap("empty input batch", &c, data(4, xb, 3), data(3, w1, 4), a_x, 0);
  MX_SCOPE_END;
}

static void test_vmap_weight(void) {
  MX_SCOPE_BEGIN;
  PRIM = MX_PRIM_CONV_WEIGHT;
  /* x (2, 9, 4) and cotangent (2, 3, 6) of a stride-2, dilation-2, 2-group conv with K = 3 */
  conv_case c = {1, {2}, {1}, {-1}, {2}, {1}, 2, true, {3}};
  int32_t xb[4] = {3, 2, 9, 4}, x1[3] = {2, 9, 4}, cb[4] = {2, 3, 3, 6}, c1[3] = {2, 3, 6};
  int a_x[2] = {0, -1}, a_c[2] = {-1, 2}, a_both[2] = {0, 2};
  check_vmap("weight: input batched", &c, data(4, xb, 1), data(3, c1, 2), a_x, 3);
  check_vmap("weight: cotangent batched", &c, data(3, x1, 3), data(4, cb, 4), a_c, 3);
  check_vmap("weight: both batched", &c, data(4, xb, 5), data(4, cb, 6), a_both, 3);
  conv_case d = {2, {1, 2}, {1, 0}, {0, 1}, {1, 1}, {2, 1}, 1, false, {2, 2}};
  int32_t xd[5] = {2, 3, 4, 2, 2}, cd[5] = {2, 5, 2, 2, 3};
  int a_d[2] = {3, 3};
  check_vmap("weight 2d: both batched", &d, data(5, xd, 7), data(5, cd, 8), a_d, 2);
  int32_t xe[4] = {0, 2, 9, 4};
  check_vmap("weight: empty batch", &c, data(4, xe, 9), data(3, c1, 10), a_x, 0);
  PRIM = MX_PRIM_CONVOLUTION;
  MX_SCOPE_END;
}

/* ---- vjp rules through the transformation: bilinear identities ----
 * f(x, w) = <conv(x, w), c> is linear in each argument, so <df/dx, x> = <df/dw, w> = f; the
 * same holds one order up for h(x) = <d/dw f(x, w), r>, which goes through ConvolutionWeight's
 * own vjp. */
typedef struct vjp_case {
  const conv_case *c;
  mx_array *cot;   /* the output cotangent */
  mx_array *r;     /* the weight-gradient probe */
  mx_array *w;     /* the fixed weights of h */
} vjp_case;

static int close_scalar(mx_array *a, mx_array *b) {
  double *x = values(a), *y = values(b);
  int ok = x && y && fabs(x[0] - y[0]) <= 1e-9 * (1 + fabs(y[0]));
  if (!ok && x && y) fprintf(stderr, "  %.17g vs %.17g\n", x[0], y[0]);
  free(x);
  free(y);
  return ok;
}

static mx_array *dot(mx_array *a, mx_array *b) {
  return mx_sum(mx_multiply(a, b, S), NULL, -1, false, S);
}

/* The closures run with the caller's scope suspended: ops return owned references. */
static int fn_conv(void *payload, mx_array *const *in, int n_in, mx_array **out, int max_out,
                   int *n_out) {
  (void)n_in;
  (void)max_out;
  CUR = ((vjp_case *)payload)->c;
  out[0] = build(in);
  *n_out = 1;
  return out[0] ? 0 : -1;
}

/* mx_vjp with the caller's scope suspended (the transformation owns its temporaries). */
static int vjp_call(mx_closure f, mx_array *const *prim, int n, mx_array *const *cot,
                    mx_array **outs, mx_array **grads) {
  int tok = mx_scope_suspend(), n_out = 0;
  int rc = mx_vjp(f, prim, n, cot, 1, outs, 1, &n_out, grads);
  mx_scope_resume(tok);
  return rc;
}

/* h(x) = <grad_w f(x, w), r> */
static int fn_h(void *payload, mx_array *const *in, int n_in, mx_array **out, int max_out,
                int *n_out) {
  (void)n_in;
  (void)max_out;
  vjp_case *v = (vjp_case *)payload;
  mx_array *prim[2] = {in[0], v->w}, *grads[2] = {NULL, NULL}, *outs[1] = {NULL};
  mx_closure f = {fn_conv, v};
  int rc = vjp_call(f, prim, 2, &v->cot, outs, grads);
  out[0] = NULL;
  if (rc == 0) {
    MX_SCOPE_BEGIN;
    out[0] = mx_keep(dot(grads[1], v->r));
    MX_SCOPE_END;
  }
  mx_array_release(outs[0]);
  mx_array_release(grads[0]);
  mx_array_release(grads[1]);
  *n_out = 1;
  return out[0] ? 0 : -1;
}

static void check_bilinear(const char *name, const conv_case *c, mx_array *x, mx_array *w) {
  MX_SCOPE_BEGIN;
  CUR = c;
  mx_array *in[2] = {x, w}, *y = build(in);
  vjp_case v = {c, y ? data(y->ndim, y->shape, 17) : NULL, data(w->ndim, w->shape, 19), w};
  mx_array *outs[1] = {NULL}, *grads[2] = {NULL, NULL}, *g2[1] = {NULL};
  mx_closure f = {fn_conv, &v};
  int rc = y ? vjp_call(f, in, 2, &v.cot, outs, grads) : -1;
  CHECK(rc == 0);
  if (rc == 0) {
    mx_array *fv = dot(outs[0], v.cot);
    if (!close_scalar(dot(grads[0], x), fv) || !close_scalar(dot(grads[1], w), fv)) {
      fprintf(stderr, "%s: first order\n", name);
      check_failures++;
    }
    mx_closure h = {fn_h, &v};
    mx_array *one = mx_scope_adopt(mx_array_scalar_f64(1.0, MX_FLOAT64)), *hout[1] = {NULL};
    rc = vjp_call(h, &x, 1, &one, hout, g2);
    CHECK(rc == 0);
    if (rc == 0 && !close_scalar(dot(g2[0], x), hout[0])) {
      fprintf(stderr, "%s: second order\n", name);
      check_failures++;
    }
    mx_array_release(hout[0]);
    mx_array_release(g2[0]);
  }
  mx_array_release(outs[0]);
  mx_array_release(grads[0]);
  mx_array_release(grads[1]);
  MX_SCOPE_END;
  if (mx_error_kind_get() != MX_OK) {
    fprintf(stderr, "%s: %s\n", name, mx_error_message());
    check_failures++;
    mx_error_clear();
  }
}

static void test_vjp_rules(void) {
  MX_SCOPE_BEGIN;
  int32_t xs[3] = {2, 9, 4}, ws[3] = {6, 3, 2}, wd[3] = {4, 3, 1}, wb[3] = {18, 3, 9};
  int32_t xb[3] = {2, 7, 18}, x2[4] = {2, 5, 6, 4}, w2[4] = {4, 2, 3, 4};
  conv_case grouped = {1, {2}, {1}, {-1}, {2}, {1}, 2, true, {0}};
  conv_case depth = {1, {1}, {2}, {1}, {1}, {1}, 4, false, {0}};
  conv_case phased = {1, {1}, {2}, {3}, {1}, {3}, 1, true, {0}};
  conv_case wide = {1, {2}, {1}, {1}, {1}, {2}, 2, false, {0}};
  conv_case plane = {2, {1, 2}, {1, 0}, {0, 2}, {2, 1}, {2, 1}, 1, false, {0}};
  check_bilinear("grouped, flipped", &grouped, data(3, xs, 1), data(3, ws, 2));
  check_bilinear("depthwise", &depth, data(3, xs, 3), data(3, wd, 4));
  int32_t w4[3] = {5, 3, 4};
  check_bilinear("input dilation 3", &phased, data(3, xs, 5), data(3, w4, 6));
  check_bilinear("wide groups, input dilation 2", &wide, data(3, xb, 7), data(3, wb, 8));
  check_bilinear("2d", &plane, data(4, x2, 9), data(4, w2, 10));
  MX_SCOPE_END;
}

/* ---- every op on valid and invalid arguments ---- */
static int evals(mx_array *a) {
  int ok = a && mx_array_eval(a) == 0;
  mx_error_clear();
  return ok;
}

static int fails(mx_array *a, mx_error_kind kind) {
  int ok = a == NULL && mx_error_kind_get() == kind;
  mx_error_clear();
  return ok;
}

static void test_ops_valid_and_invalid(void) {
  MX_SCOPE_BEGIN;
  int32_t xs[3] = {2, 8, 4}, ws[3] = {6, 3, 4}, wg[3] = {6, 3, 2}, x2[4] = {1, 5, 5, 2};
  int32_t w2[4] = {2, 3, 3, 2}, x3[5] = {1, 3, 4, 4, 2}, w3[5] = {2, 2, 2, 3, 1};
  mx_array *x = data(3, xs, 1), *w = data(3, ws, 2), *g = data(3, wg, 3);
  CHECK(evals(mx_conv1d(x, w, 2, 1, 2, 1, S)) && evals(mx_conv1d(x, g, 1, 0, 1, 2, S)));
  CHECK(fails(mx_conv1d(x, g, 1, 0, 1, 3, S), MX_EINVAL));
  CHECK(fails(mx_conv1d(x, w, 0, 0, 1, 1, S), MX_EINVAL));
  CHECK(fails(mx_conv1d(x, w, 1, 0, 1, 0, S), MX_EINVAL));
  CHECK(fails(mx_conv1d(x, w, 1, -5, 1, 1, S), MX_EINVAL));
  CHECK(fails(mx_conv1d(mx_astype(x, MX_INT32, S), w, 1, 0, 1, 1, S), MX_EINVAL));
  CHECK(fails(mx_conv1d(x, data(2, ws, 1), 1, 0, 1, 1, S), MX_EINVAL));
  int one[1] = {1}, two[2] = {1, 2}, lo[1] = {-1}, hi[1] = {2};
  CHECK(evals(mx_conv_general(x, w, one, 1, lo, 1, hi, 1, two, 1, two + 1, 1, 1, true, S)));
  CHECK(fails(mx_conv_general(x, w, two, 2, NULL, 0, NULL, 0, NULL, 0, NULL, 0, 1, false, S),
              MX_EINVAL));
  CHECK(fails(mx_conv_general(x, w, NULL, -1, NULL, 0, NULL, 0, NULL, 0, NULL, 0, 1, false, S),
              MX_ETYPE));
  CHECK(evals(mx_conv_transpose1d(x, w, 2, 1, 1, 1, 1, S)));
  CHECK(fails(mx_conv_transpose1d(data(1, xs + 1, 4), w, 1, 0, 1, 0, 1, S), MX_EINVAL));
  mx_array *a2 = data(4, x2, 5), *b2 = data(4, w2, 6);
  int st2[2] = {2, 1}, pd2[2] = {1, 0}, dl2[2] = {1, 2}, op2[2] = {1, 0};
  CHECK(evals(mx_conv_nd(a2, b2, 2, st2, pd2, dl2, 1, S)));
  CHECK(evals(mx_conv_transpose_nd(a2, b2, 2, st2, pd2, dl2, op2, 1, S)));
  CHECK(fails(mx_conv_nd_py("conv2d", 2, a2, b2, st2, 1, false, pd2, 2, false, dl2, 2, false,
                            NULL, 0, false, 1, S), MX_ETYPE));
  CHECK(evals(mx_conv_nd_py("conv2d", 2, a2, b2, st2, 1, true, pd2, 2, false, dl2, 2, false,
                            NULL, 0, false, 1, S)));
  int st3[3] = {1, 1, 1}, pd3[3] = {0, 1, 0}, dl3[3] = {1, 1, 1};
  CHECK(evals(mx_conv_nd(data(5, x3, 7), data(5, w3, 8), 3, st3, pd3, dl3, 2, S)));
  int32_t v5[1] = {5}, v3[1] = {3};
  mx_array *a = data(1, v5, 9), *v = data(1, v3, 10);
  CHECK(evals(mx_convolve(a, v, "same", S)) && evals(mx_convolve(v, a, "valid", S)));
  CHECK(fails(mx_convolve(a, v, "circular", S), MX_EINVAL));
  CHECK(fails(mx_convolve(x, v, "full", S), MX_EINVAL));
  MX_SCOPE_END;
}

/* ---- mlx-c ---- */
static void test_capi(void) {
  mlx_stream s = mlx_default_cpu_stream_new();
  float xd[5] = {1, 2, 3, 4, 5}, wd[2] = {1, 10};
  int xs[3] = {1, 5, 1}, ws[3] = {1, 2, 1};
  mlx_array x = mlx_array_new_data(xd, xs, 3, MLX_FLOAT32);
  mlx_array w = mlx_array_new_data(wd, ws, 3, MLX_FLOAT32);
  mlx_array r = mlx_array_new();
  CHECK(mlx_conv1d(&r, x, w, 1, 0, 1, 1, s) == 0);
  mlx_array_eval(r);
  CHECK(mlx_array_ndim(r) == 3 && mlx_array_shape(r)[1] == 4);
  CHECK(mlx_array_data_float32(r)[0] == 21.0f && mlx_array_data_float32(r)[3] == 54.0f);
  CHECK(mlx_conv_transpose1d(&r, x, w, 2, 0, 1, 1, 1, s) == 0);
  mlx_array_eval(r);
  CHECK(mlx_array_shape(r)[1] == 11 && mlx_array_data_float32(r)[1] == 10.0f &&
        mlx_array_data_float32(r)[2] == 2.0f);
  int st[1] = {1}, lo[1] = {1}, hi[1] = {0}, one[1] = {1};
  CHECK(mlx_conv_general(&r, x, w, st, 1, lo, 1, hi, 1, one, 1, one, 1, 1, true, s) == 0);
  mlx_array_eval(r);
  CHECK(mlx_array_shape(r)[1] == 5 && mlx_array_data_float32(r)[0] == 1.0f);
  float x2d[9] = {0, 1, 2, 3, 4, 5, 6, 7, 8}, w2d[4] = {1, 1, 1, 1};
  int x2s[4] = {1, 3, 3, 1}, w2s[4] = {1, 2, 2, 1};
  mlx_array x2 = mlx_array_new_data(x2d, x2s, 4, MLX_FLOAT32);
  mlx_array w2 = mlx_array_new_data(w2d, w2s, 4, MLX_FLOAT32);
  CHECK(mlx_conv2d(&r, x2, w2, 1, 1, 0, 0, 1, 1, 1, s) == 0);
  mlx_array_eval(r);
  CHECK(mlx_array_shape(r)[1] == 2 && mlx_array_data_float32(r)[3] == 24.0f);
  CHECK(mlx_conv_transpose2d(&r, x2, w2, 1, 1, 0, 0, 1, 1, 0, 0, 1, s) == 0);
  mlx_array_eval(r);
  CHECK(mlx_array_shape(r)[1] == 4 && mlx_array_data_float32(r)[15] == 8.0f);
  int x3s[5] = {1, 1, 3, 3, 1}, w3s[5] = {1, 1, 2, 2, 1};
  mlx_array x3 = mlx_array_new_data(x2d, x3s, 5, MLX_FLOAT32);
  mlx_array w3 = mlx_array_new_data(w2d, w3s, 5, MLX_FLOAT32);
  CHECK(mlx_conv3d(&r, x3, w3, 1, 1, 1, 0, 0, 0, 1, 1, 1, 1, s) == 0);
  mlx_array_eval(r);
  CHECK(mlx_array_data_float32(r)[0] == 8.0f);
  CHECK(mlx_conv_transpose3d(&r, x3, w3, 1, 1, 1, 0, 0, 0, 1, 1, 1, 0, 0, 0, 1, s) == 0);
  /* an error goes through the handler and leaves the result as it was */
  CHECK(mlx_conv1d(&r, x, w, 0, 0, 1, 1, s) != 0);
  mlx_array_free(x);
  mlx_array_free(w);
  mlx_array_free(x2);
  mlx_array_free(w2);
  mlx_array_free(x3);
  mlx_array_free(w3);
  mlx_array_free(r);
  mlx_stream_free(s);
}

static void quiet(const char *msg, void *data) {
  (void)msg;
  (void)data;
}

int main(void) {
  S = mx_stream_default();
  mlx_set_error_handler(quiet, NULL, NULL);
  RUN(test_vmap_1d);
  RUN(test_vmap_2d);
  RUN(test_vmap_empty_batch);
  RUN(test_vmap_weight);
  RUN(test_vjp_rules);
  RUN(test_ops_valid_and_invalid);
  RUN(test_capi);
  return check_failures ? 1 : 0;
}
