/* test_capi_fast.c: the mlx-c functions of mx.fast as an mlx-c program calls them:
 * rms_norm and layer_norm with and without their parameters, rope with an int and an array
 * offset, attention with each mask mode, errors through the handler, and the custom-kernel
 * objects whose launch reports the missing GPU back-end. References are computed here. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "mlx/c/mlx.h"

static int failures = 0;
#define CHECK(cond)                                                          \
  do {                                                                       \
    if (!(cond)) {                                                           \
      fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);        \
      failures++;                                                            \
    }                                                                        \
  } while (0)

static int errors = 0;
static char last_error[1024];
static void record_error(const char *msg, void *data) {
  (void)data;
  errors++;
  snprintf(last_error, sizeof last_error, "%s", msg);
}

static mlx_array farr(const float *v, const int *shape, int ndim) {
  return mlx_array_new_data(v, shape, ndim, MLX_FLOAT32);
}

static bool close_to(mlx_array r, const float *want, int n, float tol) {
  if (mlx_array_eval(r) != 0 || mlx_array_dtype(r) != MLX_FLOAT32 || (int)mlx_array_size(r) != n)
    return false;
  const float *p = mlx_array_data_float32(r);
  for (int i = 0; i < n; i++)
    if (!(fabsf(p[i] - want[i]) <= tol * (1.0f + fabsf(want[i])))) return false;
  return true;
}

static void test_norms(mlx_stream s) {
  const float xv[6] = {1, -2, 3, 0.5f, 0.25f, -4};
  const float wv[3] = {2, 1, -1}, bv[3] = {0.5f, 0, 1};
  const int xs[2] = {2, 3}, ws[1] = {3};
  mlx_array x = farr(xv, xs, 2), w = farr(wv, ws, 1), b = farr(bv, ws, 1), r = mlx_array_new();
  mlx_array none = mlx_array_new();
  float want[6], want_w[6], want_l[6];
  for (int row = 0; row < 2; row++) {
    const float *v = xv + 3 * row;
    float ss = 0, mu = 0, var = 0;
    for (int i = 0; i < 3; i++) ss += v[i] * v[i], mu += v[i];
    mu /= 3;
    for (int i = 0; i < 3; i++) var += (v[i] - mu) * (v[i] - mu);
    var /= 3;
    for (int i = 0; i < 3; i++) {
      want[3 * row + i] = v[i] / sqrtf(ss / 3 + 1e-5f);
      want_w[3 * row + i] = want[3 * row + i] * wv[i];
      want_l[3 * row + i] = (v[i] - mu) / sqrtf(var + 1e-5f) * wv[i] + bv[i];
    }
  }
  CHECK(mlx_fast_rms_norm(&r, x, none, 1e-5f, s) == 0 && close_to(r, want, 6, 1e-5f));
  CHECK(mlx_fast_rms_norm(&r, x, w, 1e-5f, s) == 0 && close_to(r, want_w, 6, 1e-5f));
  CHECK(mlx_fast_layer_norm(&r, x, w, b, 1e-5f, s) == 0 && close_to(r, want_l, 6, 1e-5f));
  errors = 0;
  CHECK(mlx_fast_rms_norm(&r, x, b, 1e-5f, s) == 0); /* a weight of the right size */
  const int bad_s[1] = {2};
  mlx_array bad = farr(wv, bad_s, 1);
  CHECK(mlx_fast_layer_norm(&r, x, bad, none, 1e-5f, s) == 1 && errors == 1);
  CHECK(strstr(last_error, "[layer_norm] weight must have the same size") != NULL);
  mlx_array_free(bad);
  mlx_array_free(x);
  mlx_array_free(w);
  mlx_array_free(b);
  mlx_array_free(r);
}

static void test_rope(mlx_stream s) {
  /* (1, 1, 2, 2): one pair at positions offset and offset + 1, base 10000, dims 2 */
  const float xv[4] = {1, 0, 0, 1};
  const int xs[4] = {1, 1, 2, 2};
  mlx_array x = farr(xv, xs, 4), r = mlx_array_new(), none = mlx_array_new();
  mlx_optional_float base = {10000.0f, true};
  float want[4];
  for (int t = 0; t < 2; t++) {
    float th = (float)(t + 3);
    const float *v = xv + 2 * t;
    want[2 * t] = v[0] * cosf(th) - v[1] * sinf(th);
    want[2 * t + 1] = v[0] * sinf(th) + v[1] * cosf(th);
  }
  CHECK(mlx_fast_rope(&r, x, 2, false, base, 1.0f, 3, none, s) == 0 && close_to(r, want, 4, 1e-5f));
  mlx_array off = mlx_array_new_int(3);
  CHECK(mlx_fast_rope_dynamic(&r, x, 2, true, base, 1.0f, off, none, s) == 0 &&
        close_to(r, want, 4, 1e-5f));
  errors = 0;
  mlx_optional_float nobase = {0.0f, false};
  CHECK(mlx_fast_rope(&r, x, 2, false, nobase, 1.0f, 0, none, s) == 1 && errors == 1);
  CHECK(strstr(last_error, "[rope] Neither base nor freqs has a value") != NULL);
  mlx_array_free(off);
  mlx_array_free(x);
  mlx_array_free(r);
}

static void test_sdpa(mlx_stream s) {
  /* one head, two queries over two keys of dim 1: q = [1, 2], k = [1, -1], v = [10, 20] */
  const float qv[2] = {1, 2}, kv[2] = {1, -1}, vv[2] = {10, 20};
  const int sh[4] = {1, 1, 2, 1};
  mlx_array q = farr(qv, sh, 4), k = farr(kv, sh, 4), v = farr(vv, sh, 4), r = mlx_array_new();
  mlx_array none = mlx_array_new();
  float want[2], want_c[2] = {10, 0};
  for (int i = 0; i < 2; i++) {
    float a = expf(0.5f * qv[i] * kv[0]), b = expf(0.5f * qv[i] * kv[1]);
    want[i] = (a * vv[0] + b * vv[1]) / (a + b);
  }
  want_c[1] = want[1];
  CHECK(mlx_fast_scaled_dot_product_attention(&r, q, k, v, 0.5f, "", none, none, s) == 0 &&
        close_to(r, want, 2, 1e-5f));
  CHECK(mlx_fast_scaled_dot_product_attention(&r, q, k, v, 0.5f, "causal", none, none, s) == 0 &&
        close_to(r, want_c, 2, 1e-5f));
  const bool mv[4] = {true, false, true, false}; /* only key 0 is visible */
  const int ms[2] = {2, 2};
  mlx_array m = mlx_array_new_data(mv, ms, 2, MLX_BOOL);
  const float want_m[2] = {10, 10};
  CHECK(mlx_fast_scaled_dot_product_attention(&r, q, k, v, 0.5f, "array", m, none, s) == 0 &&
        close_to(r, want_m, 2, 1e-5f));
  errors = 0;
  CHECK(mlx_fast_scaled_dot_product_attention(&r, q, k, v, 0.5f, "bogus", none, none, s) == 1);
  CHECK(errors == 1 && strstr(last_error, "Invalid mask_mode bogus") != NULL);
  CHECK(mlx_fast_scaled_dot_product_attention(&r, q, k, v, 0.5f, "causal", m, none, s) == 1);
  mlx_array_free(m);
  mlx_array_free(q);
  mlx_array_free(k);
  mlx_array_free(v);
  mlx_array_free(r);
}

static void test_kernels(mlx_stream s) {
  const char *names_in[1] = {"a"}, *names_out[1] = {"b"};
  mlx_vector_string in = mlx_vector_string_new_data(names_in, 1);
  mlx_vector_string out = mlx_vector_string_new_data(names_out, 1);
  mlx_fast_metal_kernel mk = mlx_fast_metal_kernel_new("k", in, out, "b[0] = a[0];", "", true, false);
  mlx_fast_metal_kernel_config mc = mlx_fast_metal_kernel_config_new();
  const int shape[1] = {3};
  CHECK(mk.ctx != NULL && mc.ctx != NULL);
  CHECK(mlx_fast_metal_kernel_config_add_output_arg(mc, shape, 1, MLX_FLOAT32) == 0);
  CHECK(mlx_fast_metal_kernel_config_set_grid(mc, 3, 1, 1) == 0);
  CHECK(mlx_fast_metal_kernel_config_set_thread_group(mc, 3, 1, 1) == 0);
  CHECK(mlx_fast_metal_kernel_config_set_init_value(mc, 0.0f) == 0);
  CHECK(mlx_fast_metal_kernel_config_set_verbose(mc, false) == 0);
  CHECK(mlx_fast_metal_kernel_config_add_template_arg_dtype(mc, "T", MLX_FLOAT32) == 0);
  CHECK(mlx_fast_metal_kernel_config_add_template_arg_int(mc, "N", 3) == 0);
  CHECK(mlx_fast_metal_kernel_config_add_template_arg_bool(mc, "B", true) == 0);
  mlx_vector_array ins = mlx_vector_array_new(), outs = mlx_vector_array_new();
  errors = 0;
  CHECK(mlx_fast_metal_kernel_apply(&outs, mk, ins, mc, s) == 1 && errors == 1);
  CHECK(strstr(last_error, "[metal_kernel] No Metal back-end.") != NULL);
  mlx_fast_cuda_kernel ck = mlx_fast_cuda_kernel_new("k", in, out, "b[0] = a[0];", "", true, 0);
  mlx_fast_cuda_kernel_config cc = mlx_fast_cuda_kernel_config_new();
  CHECK(mlx_fast_cuda_kernel_config_add_output_arg(cc, shape, 1, MLX_FLOAT32) == 0);
  CHECK(mlx_fast_cuda_kernel_apply(&outs, ck, ins, cc, s) == 1 && errors == 2);
  CHECK(strstr(last_error, "[cuda_kernel]") != NULL);
  mlx_fast_cuda_kernel_config empty = {NULL};
  CHECK(mlx_fast_cuda_kernel_config_set_grid(empty, 1, 1, 1) == 1 && errors == 3);
  mlx_fast_cuda_kernel_config_free(cc);
  mlx_fast_cuda_kernel_free(ck);
  mlx_fast_metal_kernel_config_free(mc);
  mlx_fast_metal_kernel_free(mk);
  mlx_vector_array_free(ins);
  mlx_vector_array_free(outs);
  mlx_vector_string_free(in);
  mlx_vector_string_free(out);
}

int main(void) {
  mlx_set_error_handler(record_error, NULL, NULL);
  mlx_stream s = mlx_default_cpu_stream_new();
  test_norms(s);
  test_rope(s);
  test_sdpa(s);
  test_kernels(s);
  mlx_stream_free(s);
  if (failures) fprintf(stderr, "%d failures\n", failures);
  return failures ? 1 : 0;
}
