/* test_unary_creation.c: the unary-math and creation family from C: the generated mlx-c
 * wrappers (mlx_arange, mlx_linspace, mlx_full_like, mlx_nan_to_num with optional floats,
 * mlx_round, mlx_eye, mlx_tri, mlx_tril, mlx_hanning, mlx_real ...) and the vmap rules of
 * the new primitives, called directly on op records (element-wise members against a loop
 * over the mapped axis, Arange unmapped). Returns the failure count. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "mlx/c/mlx.h"
#include "../../src/core/error.h"
#include "../../src/core/prim.h"
#include "../../src/ops/ops.h"
#include "check.h"

#define NEAR(a, b) (fabs((double)(a) - (double)(b)) <= 1e-6 * (1.0 + fabs((double)(b))))

static mlx_stream S;

static mlx_array vec_f32(const float *v, int n) {
  return mlx_array_new_data(v, &n, 1, MLX_FLOAT32);
}

static int all_near(mlx_array a, const float *want, int n) {
  if ((int)mlx_array_size(a) != n || mlx_array_dtype(a) != MLX_FLOAT32) return 0;
  const float *d = mlx_array_data_float32(a);
  if (!d) return 0;
  for (int i = 0; i < n; i++)
    if (!(NEAR(d[i], want[i]) || (isnan(d[i]) && isnan(want[i])))) return 0;
  return 1;
}

static void error_sink(const char *msg, void *data) { snprintf(data, 256, "%s", msg); }

static void test_capi_creation(void) {
  mlx_array r = mlx_array_new();
  CHECK(mlx_arange(&r, 0, 3, 0.5, MLX_FLOAT32, S) == 0);
  const float ar[] = {0, 0.5f, 1, 1.5f, 2, 2.5f};
  CHECK(all_near(r, ar, 6));
  CHECK(mlx_linspace(&r, 0, 1, 5, MLX_FLOAT32, S) == 0);
  const float ls[] = {0, 0.25f, 0.5f, 0.75f, 1};
  CHECK(all_near(r, ls, 5));
  CHECK(mlx_eye(&r, 2, 3, 1, MLX_FLOAT32, S) == 0);
  const float ey[] = {0, 1, 0, 0, 0, 1};
  CHECK(all_near(r, ey, 6) && mlx_array_ndim(r) == 2 && mlx_array_dim(r, 1) == 3);
  CHECK(mlx_identity(&r, 2, MLX_FLOAT32, S) == 0);
  const float id[] = {1, 0, 0, 1};
  CHECK(all_near(r, id, 4));
  CHECK(mlx_tri(&r, 2, 2, 0, MLX_FLOAT32, S) == 0);
  const float tr[] = {1, 0, 1, 1};
  CHECK(all_near(r, tr, 4));
  mlx_array ones = mlx_array_new();
  int shape[2] = {2, 2};
  CHECK(mlx_ones(&ones, shape, 2, MLX_FLOAT32, S) == 0);
  CHECK(mlx_triu(&r, ones, 1, S) == 0);
  const float tu[] = {0, 1, 0, 0};
  CHECK(all_near(r, tu, 4));
  CHECK(mlx_tril(&r, ones, -1, S) == 0);
  const float tl[] = {0, 0, 1, 0};
  CHECK(all_near(r, tl, 4));
  mlx_array five = mlx_array_new_float(5.0f);
  CHECK(mlx_full_like(&r, ones, five, MLX_INT32, S) == 0);
  /* full is a broadcast view here: element (i, j) sits at strides . (i, j) */
  CHECK(mlx_array_dtype(r) == MLX_INT32 && mlx_array_size(r) == 4);
  if (mlx_array_data_int32(r)) {
    const size_t *st = mlx_array_strides(r);
    CHECK(mlx_array_data_int32(r)[st[0] + st[1]] == 5);
  }
  CHECK(mlx_full(&r, shape, 2, five, MLX_FLOAT16, S) == 0);
  CHECK(mlx_array_dtype(r) == MLX_FLOAT16 && mlx_array_size(r) == 4);
  CHECK(mlx_hanning(&r, 3, S) == 0);
  const float hn[] = {0, 1, 0};
  CHECK(all_near(r, hn, 3));
  CHECK(mlx_bartlett(&r, 1, S) == 0 && mlx_array_size(r) == 1);
  /* meshgrid: (3,) and (2,) give two (2, 3) grids with "xy" indexing */
  const float gx[] = {1, 2, 3}, gy[] = {4, 5};
  mlx_array ax = vec_f32(gx, 3), ay = vec_f32(gy, 2);
  mlx_vector_array in = mlx_vector_array_new(), grids = mlx_vector_array_new();
  mlx_vector_array_append_value(in, ax);
  mlx_vector_array_append_value(in, ay);
  CHECK(mlx_meshgrid(&grids, in, false, "xy", S) == 0 && mlx_vector_array_size(grids) == 2);
  mlx_array g1 = mlx_array_new();
  CHECK(mlx_vector_array_get(&g1, grids, 1) == 0 && mlx_array_ndim(g1) == 2 &&
        mlx_array_dim(g1, 0) == 2 && mlx_array_dim(g1, 1) == 3);
  mlx_array g1c = mlx_array_new();
  CHECK(mlx_copy(&g1c, g1, S) == 0); /* a broadcast view until copied */
  const float wy[] = {4, 4, 4, 5, 5, 5};
  CHECK(all_near(g1c, wy, 6));
  char msg[256] = "";
  mlx_set_error_handler(error_sink, msg, NULL);
  CHECK(mlx_meshgrid(&grids, in, true, "yx", S) == 1 && strstr(msg, "[meshgrid] Invalid indexing"));
  mlx_set_error_handler(NULL, NULL, NULL);
  mlx_array_free(g1c);
  mlx_array_free(g1);
  mlx_vector_array_free(grids);
  mlx_vector_array_free(in);
  mlx_array_free(ax);
  mlx_array_free(ay);
  mlx_array_free(five);
  mlx_array_free(ones);
  mlx_array_free(r);
}

static void test_capi_unary(void) {
  const float x[] = {NAN, INFINITY, -INFINITY, 1.25f};
  mlx_array a = vec_f32(x, 4), r = mlx_array_new();
  mlx_optional_float none = {0.0f, false}, five = {5.0f, true};
  CHECK(mlx_nan_to_num(&r, a, 1.0f, none, five, S) == 0);
  const float n1[] = {1, 3.4028234663852886e38f, 5, 1.25f};
  CHECK(all_near(r, n1, 4));
  CHECK(mlx_isnan(&r, a, S) == 0 && mlx_array_dtype(r) == MLX_BOOL && mlx_array_data_bool(r)[0]);
  CHECK(mlx_isfinite(&r, a, S) == 0 && mlx_array_data_bool(r)[3] && !mlx_array_data_bool(r)[1]);
  const float y[] = {0.25f, 1.5f, 2.5f, -0.75f};
  mlx_array b = vec_f32(y, 4);
  CHECK(mlx_round(&r, b, 0, S) == 0);
  const float rd[] = {0, 2, 2, -1};
  CHECK(all_near(r, rd, 4));
  CHECK(mlx_sigmoid(&r, b, S) == 0);
  float sg[4];
  for (int i = 0; i < 4; i++) sg[i] = 1.0f / (1.0f + expf(-y[i]));
  CHECK(all_near(r, sg, 4));
  CHECK(mlx_arctan(&r, b, S) == 0);
  float at[4];
  for (int i = 0; i < 4; i++) at[i] = atanf(y[i]);
  CHECK(all_near(r, at, 4));
  mlx_array z = mlx_array_new_complex(3.0f, -4.0f);
  float part = 0;
  CHECK(mlx_imag(&r, z, S) == 0 && mlx_array_item_float32(&part, r) == 0 && part == -4.0f);
  CHECK(mlx_real(&r, z, S) == 0 && mlx_array_item_float32(&part, r) == 0 && part == 3.0f);
  CHECK(mlx_conjugate(&r, z, S) == 0);
  mlx_complex64_t c;
  CHECK(mlx_array_item_complex64(&c, r) == 0);
  /* an MLX error comes back as 1 through the handler */
  char msg[256] = "";
  mlx_set_error_handler(error_sink, msg, NULL);
  CHECK(mlx_bitwise_invert(&r, b, S) == 1);
  CHECK(strstr(msg, "[bitwise_invert]") != NULL);
  CHECK(mlx_arange(&r, 0, 3, 0, MLX_INT32, S) == 1 && strstr(msg, "step must be nonzero"));
  mlx_set_error_handler(NULL, NULL, NULL);
  mlx_array_free(z);
  mlx_array_free(a);
  mlx_array_free(b);
  mlx_array_free(r);
}

/* A row-contiguous copy that outlives the scope (NULL passes through). */
static mx_array *copy_kept(mx_array *a) {
  return a ? mx_keep(mx_copy(a, mx_stream_default())) : NULL;
}

/* The vmap rule of `prim` applied to x (B, n) mapped along axis 0 equals the op on each row. */
static void check_vmap_rows(mx_array *(*op)(mx_array *, mx_stream), const float *data, int B,
                            int n) {
  mx_stream s = mx_stream_default();
  int32_t shape[2] = {B, n};
  mx_array *x = mx_array_from_data(data, MX_FLOAT32, 2, shape);
  mx_array *row0 = mx_array_from_data(data, MX_FLOAT32, 1, &n);
  mx_array *y0 = op(row0, s); /* its op record carries the primitive */
  CHECK(x && row0 && y0 && y0->op);
  if (!y0 || !y0->op) return;
  const mx_op *rec = y0->op;
  /* transposed copy: the batch axis is 1 there */
  int perm[2] = {1, 0};
  mx_array *xt = mx_transpose(x, perm, 2, s);
  MX_SCOPE_BEGIN;
  mx_array *out[1] = {NULL};
  int out_axes[1] = {-2};
  mx_array *in[1] = {x};
  int axes[1] = {0};
  int rc = mx_prims[rec->prim].vmap(rec, in, axes, out, out_axes);
  mx_array *in_t[1] = {xt};
  int axes_t[1] = {1};
  mx_array *out_t[1] = {NULL};
  int out_axes_t[1] = {-2};
  int rc_t = mx_prims[rec->prim].vmap(rec, in_t, axes_t, out_t, out_axes_t);
  /* the mapped axis of the result, wherever the rule left it, to the front */
  mx_array *front = rc || out_axes[0] < 0 ? NULL : mx_moveaxis(out[0], out_axes[0], 0, s);
  mx_array *front_t = rc_t || out_axes_t[0] < 0 ? NULL : mx_moveaxis(out_t[0], out_axes_t[0], 0, s);
  mx_array *kept = copy_kept(front), *kept_t = copy_kept(front_t);
  MX_SCOPE_END;
  CHECK_OK(rc);
  CHECK_OK(rc_t);
  CHECK(out_axes[0] >= 0 && out_axes_t[0] >= 0);
  CHECK(kept && kept->ndim == 2 && kept->shape[0] == B && kept->shape[1] == n);
  if (kept && kept_t && mx_array_eval(kept) == 0 && mx_array_eval(kept_t) == 0) {
    for (int b = 0; b < B; b++) {
      mx_array *row = mx_array_from_data(data + b * n, MX_FLOAT32, 1, &n);
      mx_array *want = op(row, s);
      mx_array *got_b = mx_astype(want, kept->dtype, s);
      CHECK(mx_array_eval(got_b) == 0);
      size_t isz = mx_dtype_size(kept->dtype);
      const char *g = mx_array_host_data(kept), *gt = mx_array_host_data(kept_t);
      const char *w = mx_array_host_data(got_b);
      CHECK(g && w && memcmp(g + (size_t)b * n * isz, w, (size_t)n * isz) == 0);
      CHECK(gt && memcmp(gt + (size_t)b * n * isz, w, (size_t)n * isz) == 0);
      mx_array_release(row);
      mx_array_release(want);
      mx_array_release(got_b);
    }
  }
  mx_array_release(kept);
  mx_array_release(kept_t);
  mx_array_release(xt);
  mx_array_release(y0);
  mx_array_release(row0);
  mx_array_release(x);
}

static mx_array *round0(mx_array *a, mx_stream s) { return mx_round(a, 0, s); }

static void test_vmap_rules(void) {
  const float d[] = {0.1f, -0.7f, 0.5f, 0.9f, -0.2f, 0.3f, 0.6f, -0.95f, 0.05f, 0.45f, -0.5f, 0.8f};
  mx_array *(*ops[])(mx_array *, mx_stream) = {
      mx_sin,   mx_cos,     mx_tan,    mx_arcsin, mx_arccos, mx_arctan, mx_sinh,
      mx_cosh,  mx_tanh,    mx_arcsinh, mx_arctanh, mx_erf,  mx_sigmoid, mx_expm1,
      mx_log1p, mx_square,  mx_rsqrt,  mx_ceil,   round0,    mx_logical_not, mx_log2,
      mx_log10, mx_abs,     mx_exp};
  for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) check_vmap_rows(ops[i], d, 3, 4);
}

/* Real / Imag / Abs of complex64 under vmap keep the mapped axis and give float32 even when
 * the traced output node is gone. */
static void test_vmap_complex_to_real(void) {
  mx_stream s = mx_stream_default();
  const float d[] = {1, 2, -3, 4, 0.5f, -1, 2, 2}; /* 4 complex numbers: (2, 2) */
  int32_t shape[2] = {2, 2}, one = 2;
  mx_array *raw = mx_array_from_data(d, MX_COMPLEX64, 2, shape);
  mx_array *row = mx_array_from_data(d, MX_COMPLEX64, 1, &one);
  mx_array *(*ops[])(mx_array *, mx_stream) = {mx_real, mx_imag, mx_abs};
  for (int k = 0; k < 3; k++) {
    mx_array *y = ops[k](row, s);
    CHECK(y && y->op);
    if (!y || !y->op) continue;
    mx_op *rec = y->op;
    mx_op_retain(rec);
    mx_array_release(y); /* the output node dies; the record stays */
    MX_SCOPE_BEGIN;
    mx_array *in[1] = {raw}, *out[1] = {NULL};
    int axes[1] = {1}, out_axes[1] = {-2};
    int rc = mx_prims[rec->prim].vmap(rec, in, axes, out, out_axes);
    mx_array *kept = mx_keep(out[0]);
    MX_SCOPE_END;
    CHECK_OK(rc);
    CHECK(out_axes[0] == 1);
    CHECK(kept && kept->dtype == MX_FLOAT32 && kept->ndim == 2);
    if (kept && mx_array_eval(kept) == 0) {
      const float *v = mx_array_host_data(kept);
      float want = k == 0 ? 1.0f : k == 1 ? 2.0f : sqrtf(5.0f);
      CHECK(v && NEAR(v[0], want));
    }
    mx_array_release(kept);
    mx_op_release(rec);
  }
  mx_array_release(row);
  mx_array_release(raw);
}

static void test_arange_vmap_and_rules(void) {
  mx_stream s = mx_stream_default();
  mx_array *a = mx_arange(1, 7, 2, MX_INT32, s);
  CHECK(a && a->op && a->op->prim == MX_PRIM_ARANGE);
  if (!a) return;
  MX_SCOPE_BEGIN;
  mx_array *out[1] = {NULL};
  int out_axes[1] = {0};
  int rc = mx_prims[MX_PRIM_ARANGE].vmap(a->op, NULL, NULL, out, out_axes);
  mx_array *kept = mx_keep(out[0]);
  MX_SCOPE_END;
  CHECK_OK(rc);
  CHECK(out_axes[0] == -1);
  CHECK(kept && mx_array_eval(kept) == 0 && kept->dtype == MX_INT32 && kept->size == 3);
  if (kept && kept->size == 3) {
    const int32_t *v = mx_array_host_data(kept);
    CHECK(v && v[0] == 1 && v[1] == 3 && v[2] == 5);
  }
  CHECK(mx_prims[MX_PRIM_ARANGE].vjp && mx_prims[MX_PRIM_ARANGE].jvp);
  /* every new unary member has rules and a CPU kernel */
  const mx_prim members[] = {MX_PRIM_SQUARE, MX_PRIM_RSQRT, MX_PRIM_EXPM1, MX_PRIM_LOG2, MX_PRIM_LOG10,
                             MX_PRIM_LOG1P, MX_PRIM_SIN, MX_PRIM_COS, MX_PRIM_TAN, MX_PRIM_ARCSIN,
                             MX_PRIM_ARCCOS, MX_PRIM_ARCTAN, MX_PRIM_SINH, MX_PRIM_COSH, MX_PRIM_TANH,
                             MX_PRIM_ARCSINH, MX_PRIM_ARCCOSH, MX_PRIM_ARCTANH, MX_PRIM_ERF,
                             MX_PRIM_SIGMOID, MX_PRIM_CEIL, MX_PRIM_ROUND, MX_PRIM_LOGICAL_NOT,
                             MX_PRIM_BITWISE_INVERT, MX_PRIM_CONJUGATE, MX_PRIM_REAL, MX_PRIM_IMAG,
                             MX_PRIM_ARANGE};
  for (size_t i = 0; i < sizeof members / sizeof members[0]; i++) {
    const mx_prim_vt *vt = &mx_prims[members[i]];
    CHECK(vt->eval_cpu && vt->vjp && vt->jvp && vt->vmap);
  }
  mx_array_release(kept);
  mx_array_release(a);
}

int main(void) {
  S = mlx_default_cpu_stream_new();
  RUN(test_capi_creation);
  RUN(test_capi_unary);
  RUN(test_vmap_rules);
  RUN(test_vmap_complex_to_real);
  RUN(test_arange_vmap_and_rules);
  mlx_stream_free(S);
  return check_failures ? 1 : 0;
}
