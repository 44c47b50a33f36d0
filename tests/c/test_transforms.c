/* test_transforms.c: the transformations through the mlx-c API (closures, vjp/jvp,
 * value_and_grad, custom functions, checkpoint, detail vmap, compile) as mlx-c's examples
 * use them, including the rules of the Compiled primitive (a compiled closure called under
 * vjp/jvp/vmap is replayed with Compiled ops on tracers), closure payload destructors and
 * errors from callbacks, and an export round trip through the core API. Returns nonzero on
 * failure. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "mlx/c/mlx.h"
#include "../../src/transforms/transforms.h"
#include "error.h"

static int failures = 0;
#define CHECK(cond)                                                   \
  do {                                                                \
    if (!(cond)) {                                                    \
      fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond); \
      failures++;                                                     \
    }                                                                 \
  } while (0)
#define CLOSE(a, b) (fabs((double)(a) - (double)(b)) <= 1e-5 * (1.0 + fabs((double)(b))))

static mlx_stream cpu(void) { return mlx_default_cpu_stream_new(); }

static mlx_array vec3(float a, float b, float c) {
  float d[3] = {a, b, c};
  int shape[1] = {3};
  return mlx_array_new_data(d, shape, 1, MLX_FLOAT32);
}

/* Element i of a float32 array (evaluates). */
static float at(mlx_array a, int i) {
  mlx_array_eval(a);
  const float *p = mlx_array_data_float32(a);
  return p ? p[i] : NAN;
}

static mlx_array get(mlx_vector_array v, size_t i) {
  mlx_array a = mlx_array_new();
  mlx_vector_array_get(&a, v, i);
  return a;
}

/* f(x) = exp(x) * x + x for one input */
static int f_exp(mlx_vector_array *res, const mlx_vector_array in) {
  mlx_stream s = cpu();
  mlx_array x = get(in, 0), e = mlx_array_new(), y = mlx_array_new();
  mlx_exp(&e, x, s);
  mlx_multiply(&y, e, x, s);
  mlx_add(&y, y, x, s);
  int rc = mlx_vector_array_set_value(res, y);
  mlx_array_free(x);
  mlx_array_free(e);
  mlx_array_free(y);
  mlx_stream_free(s);
  return rc;
}

static float df_exp(float x) { return expf(x) * (x + 1) + 1; }

static int dtor_calls;
static void count_dtor(void *p) { dtor_calls++; }

static int add_payload(mlx_vector_array *res, const mlx_vector_array in, void *payload) {
  mlx_stream s = cpu();
  mlx_array x = get(in, 0), y = mlx_array_new();
  mlx_add(&y, x, *(mlx_array *)payload, s);
  int rc = mlx_vector_array_set_value(res, y);
  mlx_array_free(x);
  mlx_array_free(y);
  mlx_stream_free(s);
  return rc;
}

static int failing(mlx_vector_array *res, const mlx_vector_array in) { return 1; }

static int last_errors;
static char last_msg[1024];
static void record(const char *msg, void *data) {
  last_errors++;
  snprintf(last_msg, sizeof last_msg, "%s", msg);
}

static void test_closures(void) {
  mlx_array one = mlx_array_new_float(1.0f);
  mlx_closure c = mlx_closure_new_func_payload(add_payload, &one, count_dtor);
  mlx_closure copy = mlx_closure_new();
  CHECK(mlx_closure_set(&copy, c) == 0);
  mlx_vector_array in = mlx_vector_array_new_value(one), out = mlx_vector_array_new();
  CHECK(mlx_closure_apply(&out, copy, in) == 0);
  mlx_array r = get(out, 0);
  float v = 0;
  mlx_array_item_float32(&v, r);
  CHECK(v == 2.0f);
  mlx_closure_free(c);
  CHECK(dtor_calls == 0); /* the copy still holds the payload */
  mlx_closure_free(copy);
  CHECK(dtor_calls == 1);

  mlx_set_error_handler(record, NULL, NULL);
  mlx_closure bad = mlx_closure_new_func(failing);
  CHECK(mlx_closure_apply(&out, bad, in) != 0);
  CHECK(last_errors == 1 && strstr(last_msg, "mlx_closure returned a non-zero value"));
  mlx_vector_array vj = mlx_vector_array_new(), o = mlx_vector_array_new();
  CHECK(mlx_vjp(&o, &vj, bad, in, in) != 0);
  CHECK(last_errors == 2 && strstr(last_msg, "mlx_closure returned a non-zero value"));
  mlx_set_error_handler(NULL, NULL, NULL);
  mlx_closure_free(bad);
  mlx_array_free(r);
  mlx_array_free(one);
  mlx_vector_array_free(in);
  mlx_vector_array_free(out);
  mlx_vector_array_free(vj);
  mlx_vector_array_free(o);
}

static void test_vjp_jvp_value_and_grad(void) {
  mlx_closure f = mlx_closure_new_func(f_exp);
  mlx_array x = vec3(0.5f, 1.0f, -1.0f), t = vec3(1.0f, 2.0f, 3.0f);
  mlx_vector_array px = mlx_vector_array_new_value(x), pt = mlx_vector_array_new_value(t);
  mlx_vector_array outs = mlx_vector_array_new(), res = mlx_vector_array_new();
  CHECK(mlx_vjp(&outs, &res, f, px, pt) == 0);
  mlx_array g = get(res, 0);
  for (int i = 0; i < 3; i++) CHECK(CLOSE(at(g, i), at(t, i) * df_exp(at(x, i))));
  CHECK(mlx_jvp(&outs, &res, f, px, pt) == 0);
  mlx_array j = get(res, 0);
  for (int i = 0; i < 3; i++) CHECK(CLOSE(at(j, i), at(t, i) * df_exp(at(x, i))));
  mlx_array_free(g);
  mlx_array_free(j);

  /* value_and_grad of sum(f(x)) */
  mlx_closure_value_and_grad vag = mlx_closure_value_and_grad_new();
  int argnums[1] = {0};
  CHECK(mlx_value_and_grad(&vag, f, argnums, 1) == 0);
  mlx_vector_array vals = mlx_vector_array_new(), grads = mlx_vector_array_new();
  mlx_set_error_handler(record, NULL, NULL);
  int before = last_errors;
  CHECK(mlx_closure_value_and_grad_apply(&vals, &grads, vag, px) != 0); /* f(x) is not a scalar */
  CHECK(last_errors == before + 1 && strstr(last_msg, "does not match cotangent shape"));
  mlx_set_error_handler(NULL, NULL, NULL);
  mlx_closure_value_and_grad_free(vag);
  mlx_vector_array_free(vals);
  mlx_vector_array_free(grads);
  mlx_closure_free(f);
  mlx_array_free(x);
  mlx_array_free(t);
  mlx_vector_array_free(px);
  mlx_vector_array_free(pt);
  mlx_vector_array_free(outs);
  mlx_vector_array_free(res);
}

static int sum_sq(mlx_vector_array *res, const mlx_vector_array in) {
  mlx_stream s = cpu();
  mlx_array x = get(in, 0), y = mlx_array_new();
  mlx_multiply(&y, x, x, s);
  mlx_sum(&y, y, false, s);
  int rc = mlx_vector_array_set_value(res, y);
  mlx_array_free(x);
  mlx_array_free(y);
  mlx_stream_free(s);
  return rc;
}

static void test_value_and_grad_scalar(void) {
  mlx_closure f = mlx_closure_new_func(sum_sq);
  mlx_closure_value_and_grad vag = mlx_closure_value_and_grad_new();
  int argnums[1] = {0};
  CHECK(mlx_value_and_grad(&vag, f, argnums, 1) == 0);
  mlx_array x = vec3(1.0f, 2.0f, 3.0f);
  mlx_vector_array in = mlx_vector_array_new_value(x), vals = mlx_vector_array_new(),
                   grads = mlx_vector_array_new();
  CHECK(mlx_closure_value_and_grad_apply(&vals, &grads, vag, in) == 0);
  mlx_array v = get(vals, 0), g = get(grads, 0);
  CHECK(at(v, 0) == 14.0f);
  for (int i = 0; i < 3; i++) CHECK(at(g, i) == 2.0f * (float)(i + 1));
  mlx_array_free(v);
  mlx_array_free(g);
  mlx_array_free(x);
  mlx_vector_array_free(in);
  mlx_vector_array_free(vals);
  mlx_vector_array_free(grads);
  mlx_closure_value_and_grad_free(vag);
  mlx_closure_free(f);
}

/* custom vjp: 100 * cotangent */
static int my_vjp(mlx_vector_array *res, const mlx_vector_array primals, const mlx_vector_array cots,
                  const mlx_vector_array outputs) {
  mlx_stream s = cpu();
  mlx_array c = get(cots, 0), h = mlx_array_new_float(100.0f), g = mlx_array_new();
  mlx_multiply(&g, c, h, s);
  int rc = mlx_vector_array_set_value(res, g);
  mlx_array_free(c);
  mlx_array_free(h);
  mlx_array_free(g);
  mlx_stream_free(s);
  return rc;
}

static int my_jvp(mlx_vector_array *res, const mlx_vector_array primals, const mlx_vector_array tans,
                  const int *argnums, size_t n) {
  mlx_stream s = cpu();
  mlx_array t = get(tans, 0), k = mlx_array_new_float(7.0f), y = mlx_array_new();
  mlx_multiply(&y, t, k, s);
  int rc = n == 1 && argnums[0] == 0 ? mlx_vector_array_set_value(res, y) : 1;
  mlx_array_free(t);
  mlx_array_free(k);
  mlx_array_free(y);
  mlx_stream_free(s);
  return rc;
}

static int my_vmap(mlx_vector_array *res, mlx_vector_int *axes_out, const mlx_vector_array in,
                   const int *axes, size_t n) {
  mlx_stream s = cpu();
  mlx_array x = get(in, 0), k = mlx_array_new_float(1000.0f), y = mlx_array_new();
  mlx_multiply(&y, x, k, s);
  int rc = mlx_vector_array_set_value(res, y);
  if (rc == 0) rc = mlx_vector_int_set_value(axes_out, axes[0]);
  mlx_array_free(x);
  mlx_array_free(k);
  mlx_array_free(y);
  mlx_stream_free(s);
  return rc;
}

static void test_custom_function_and_checkpoint(void) {
  mlx_closure f = mlx_closure_new_func(f_exp), cf = mlx_closure_new(), ck = mlx_closure_new();
  mlx_closure_custom v = mlx_closure_custom_new_func(my_vjp);
  mlx_closure_custom_jvp j = mlx_closure_custom_jvp_new_func(my_jvp);
  mlx_closure_custom_vmap m = mlx_closure_custom_vmap_new_func(my_vmap);
  CHECK(mlx_custom_function(&cf, f, v, j, m) == 0);
  CHECK(mlx_checkpoint(&ck, f) == 0);
  mlx_array x = vec3(0.5f, 1.0f, -1.0f), t = vec3(1.0f, 2.0f, 3.0f);
  mlx_vector_array px = mlx_vector_array_new_value(x), pt = mlx_vector_array_new_value(t);
  mlx_vector_array outs = mlx_vector_array_new(), res = mlx_vector_array_new();
  CHECK(mlx_closure_apply(&outs, cf, px) == 0);
  mlx_array o = get(outs, 0);
  CHECK(CLOSE(at(o, 1), expf(1.0f) + 1.0f));
  CHECK(mlx_vjp(&outs, &res, cf, px, pt) == 0);
  mlx_array g = get(res, 0);
  CHECK(at(g, 2) == 300.0f);
  CHECK(mlx_jvp(&outs, &res, cf, px, pt) == 0);
  mlx_array_free(g);
  g = get(res, 0);
  CHECK(at(g, 1) == 14.0f);
  /* vmap over a batch of 2 rows through the custom rule */
  float d[6] = {1, 2, 3, 4, 5, 6};
  int shape[2] = {2, 3};
  mlx_array xb = mlx_array_new_data(d, shape, 2, MLX_FLOAT32);
  mlx_vector_array bin = mlx_vector_array_new_value(xb), s_in = mlx_vector_array_new(),
                   s_out = mlx_vector_array_new(), vres = mlx_vector_array_new();
  int in_axes[1] = {0}, out_axes[1] = {0};
  CHECK(mlx_detail_vmap_trace(&s_in, &s_out, cf, bin, in_axes, 1) == 0);
  CHECK(mlx_detail_vmap_replace(&vres, bin, s_in, s_out, in_axes, 1, out_axes, 1) == 0);
  mlx_array vb = get(vres, 0);
  CHECK(at(vb, 4) == 5000.0f);
  /* checkpoint: the function's own derivative */
  CHECK(mlx_vjp(&outs, &res, ck, px, pt) == 0);
  mlx_array_free(g);
  g = get(res, 0);
  for (int i = 0; i < 3; i++) CHECK(CLOSE(at(g, i), at(t, i) * df_exp(at(x, i))));
  mlx_array_free(g);
  mlx_array_free(o);
  mlx_array_free(vb);
  mlx_array_free(xb);
  mlx_array_free(x);
  mlx_array_free(t);
  mlx_vector_array_free(px);
  mlx_vector_array_free(pt);
  mlx_vector_array_free(outs);
  mlx_vector_array_free(res);
  mlx_vector_array_free(bin);
  mlx_vector_array_free(s_in);
  mlx_vector_array_free(s_out);
  mlx_vector_array_free(vres);
  mlx_closure_free(f);
  mlx_closure_free(cf);
  mlx_closure_free(ck);
  mlx_closure_custom_free(v);
  mlx_closure_custom_jvp_free(j);
  mlx_closure_custom_vmap_free(m);
}

static int compiled_calls;
static int f_counted(mlx_vector_array *res, const mlx_vector_array in) {
  compiled_calls++;
  return f_exp(res, in);
}

static void test_compile(void) {
  mlx_closure f = mlx_closure_new_func(f_counted), cf = mlx_closure_new();
  CHECK(mlx_compile(&cf, f, false) == 0);
  mlx_array x = vec3(0.5f, 1.0f, -1.0f), t = vec3(1.0f, 2.0f, 3.0f);
  mlx_vector_array px = mlx_vector_array_new_value(x), pt = mlx_vector_array_new_value(t);
  mlx_vector_array outs = mlx_vector_array_new(), ref = mlx_vector_array_new(),
                   res = mlx_vector_array_new();
  size_t before = mx_compile_cache_size();
  CHECK(mlx_closure_apply(&outs, cf, px) == 0);
  CHECK(mlx_closure_apply(&outs, cf, px) == 0);
  CHECK(compiled_calls == 1 && mx_compile_cache_size() == before + 1);
  CHECK(mlx_closure_apply(&ref, f, px) == 0);
  mlx_array a = get(outs, 0), b = get(ref, 0);
  for (int i = 0; i < 3; i++) CHECK(at(a, i) == at(b, i)); /* fused result equals eager bitwise */
  /* under vjp/jvp/vmap the compiled trace is replayed on tracers: the Compiled rules */
  CHECK(mlx_vjp(&outs, &res, cf, px, pt) == 0);
  mlx_array g = get(res, 0);
  for (int i = 0; i < 3; i++) CHECK(CLOSE(at(g, i), at(t, i) * df_exp(at(x, i))));
  mlx_array_free(g);
  CHECK(mlx_jvp(&outs, &res, cf, px, pt) == 0);
  g = get(res, 0);
  for (int i = 0; i < 3; i++) CHECK(CLOSE(at(g, i), at(t, i) * df_exp(at(x, i))));
  float d[6] = {1, 2, 3, -1, -2, -3};
  int shape[2] = {2, 3};
  mlx_array xb = mlx_array_new_data(d, shape, 2, MLX_FLOAT32);
  mlx_vector_array bin = mlx_vector_array_new_value(xb), s_in = mlx_vector_array_new(),
                   s_out = mlx_vector_array_new(), vres = mlx_vector_array_new();
  int axes[1] = {0};
  CHECK(mlx_detail_vmap_trace(&s_in, &s_out, cf, bin, axes, 1) == 0);
  CHECK(mlx_detail_vmap_replace(&vres, bin, s_in, s_out, axes, 1, axes, 1) == 0);
  mlx_array vb = get(vres, 0);
  CHECK(CLOSE(at(vb, 4), expf(-2.0f) * -2.0f - 2.0f));
  mlx_closure_free(cf); /* drops its cache entries */
  cf = mlx_closure_new();
  CHECK(mx_compile_cache_size() == before);
  CHECK(mlx_set_compile_mode(MLX_COMPILE_MODE_DISABLED) == 0);
  CHECK(mlx_compile(&cf, f, false) == 0);
  compiled_calls = 0;
  CHECK(mlx_closure_apply(&outs, cf, px) == 0 && mlx_closure_apply(&outs, cf, px) == 0);
  CHECK(compiled_calls == 2);
  CHECK(mlx_enable_compile() == 0);
  mlx_array_free(a);
  mlx_array_free(b);
  mlx_array_free(g);
  mlx_array_free(vb);
  mlx_array_free(xb);
  mlx_array_free(x);
  mlx_array_free(t);
  mlx_vector_array_free(px);
  mlx_vector_array_free(pt);
  mlx_vector_array_free(outs);
  mlx_vector_array_free(ref);
  mlx_vector_array_free(res);
  mlx_vector_array_free(bin);
  mlx_vector_array_free(s_in);
  mlx_vector_array_free(s_out);
  mlx_vector_array_free(vres);
  mlx_closure_free(f);
  mlx_closure_free(cf);
}

/* grad, vmap and compile from several threads at once (trace state is per thread) */
static void *worker(void *arg) {
  int *bad = arg;
  mlx_closure f = mlx_closure_new_func(f_exp), cf = mlx_closure_new();
  mlx_compile(&cf, f, false);
  for (int it = 0; it < 20; it++) {
    mlx_array x = vec3(0.1f * (float)it, 1.0f, 2.0f), t = vec3(1.0f, 1.0f, 1.0f);
    mlx_vector_array px = mlx_vector_array_new_value(x), pt = mlx_vector_array_new_value(t);
    mlx_vector_array outs = mlx_vector_array_new(), res = mlx_vector_array_new();
    if (mlx_vjp(&outs, &res, cf, px, pt) != 0) (*bad)++;
    mlx_array g = get(res, 0);
    if (!CLOSE(at(g, 0), df_exp(at(x, 0)))) (*bad)++;
    mlx_array_free(g);
    mlx_array_free(x);
    mlx_array_free(t);
    mlx_vector_array_free(px);
    mlx_vector_array_free(pt);
    mlx_vector_array_free(outs);
    mlx_vector_array_free(res);
  }
  mlx_closure_free(f);
  mlx_closure_free(cf);
  return NULL;
}

static void test_threads(void) {
  pthread_t th[4];
  int bad[4] = {0};
  for (int i = 0; i < 4; i++) pthread_create(&th[i], NULL, worker, &bad[i]);
  for (int i = 0; i < 4; i++) pthread_join(th[i], NULL);
  for (int i = 0; i < 4; i++) CHECK(bad[i] == 0);
}

/* ---- export through the core API: a trace saved, loaded and replayed ---- */
static int core_fn(void *payload, mx_array *const *in, int n, mx_array **out, int max_out, int *n_out) {
  mx_stream s = mx_stream_default();
  out[0] = mx_add(mx_exp(in[0], s), in[1], s); /* scopes are suspended: a new reference */
  *n_out = out[0] ? 1 : 0;
  return out[0] ? 0 : -1;
}

static void test_export_round_trip(void) {
  int32_t shape[1] = {3};
  float xa[3] = {0.0f, 1.0f, 2.0f}, ya[3] = {1.0f, 1.0f, 1.0f};
  mx_array *in[2] = {mx_array_from_data(xa, MX_FLOAT32, 1, shape), mx_array_from_data(ya, MX_FLOAT32, 1, shape)};
  const char *names[1] = {"y"};
  mx_exported *e = mx_exported_new("meta");
  CHECK(e && mx_exported_add(e, (mx_closure){core_fn, NULL}, in, 1, names, 1, false) == 0);
  char path[64];
  snprintf(path, sizeof path, "/tmp/mlx_test_export_%d.mlxfn", (int)getpid());
  CHECK(mx_exported_save(e, path) == 0);
  mx_exported_free(e);
  mx_exported *g = mx_exported_load(path);
  CHECK(g && !strcmp(mx_exported_metadata(g), "meta"));
  mx_array *out[4];
  int n = 0;
  CHECK(g && mx_exported_call(g, in, 1, names, 1, out, 4, &n) == 0 && n == 1);
  if (n == 1) {
    const float *p = mx_array_host_data(out[0]);
    for (int i = 0; p && i < 3; i++) CHECK(CLOSE(p[i], expf(xa[i]) + 1.0f));
    mx_array_release(out[0]);
  }
  CHECK(g && mx_exported_call(g, in, 2, NULL, 0, out, 4, &n) != 0); /* no such trace */
  mx_error_clear();
  mx_exported_free(g);
  remove(path);
  mx_array_release(in[0]);
  mx_array_release(in[1]);
}

int main(void) {
  test_closures();
  test_vjp_jvp_value_and_grad();
  test_value_and_grad_scalar();
  test_custom_function_and_checkpoint();
  test_compile();
  test_threads();
  test_export_round_trip();
  if (failures) fprintf(stderr, "%d failure(s)\n", failures);
  return failures ? 1 : 0;
}
