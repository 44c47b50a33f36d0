/* test_capi_export.c: mlx-c's mlx_closure_kwargs and export API (mlx/c/export.h) as an
 * mlx-c program uses them: export and import of positional and keyword functions, keyword
 * arrays filling input slots after the positional ones, multi-trace exporters, shapeless
 * traces, and failures reported through the error handler. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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
static char last_error[2048];
static void record_error(const char *msg, void *data) {
  (void)data;
  errors++;
  snprintf(last_error, sizeof last_error, "%s", msg);
}

static char dir[256];
static void path_in(char *buf, size_t n, const char *name) { snprintf(buf, n, "%s/%s", dir, name); }

static mlx_array scalar(float v) { return mlx_array_new_float(v); }

/* The only output of res as a float; NAN when it is not one float32 value. */
static float only_value(mlx_vector_array res) {
  if (mlx_vector_array_size(res) != 1) return NAN;
  mlx_array a = mlx_array_new();
  float v = NAN;
  if (mlx_vector_array_get(&a, res, 0) == 0 && mlx_array_eval(a) == 0 && mlx_array_size(a) == 1 &&
      mlx_array_dtype(a) == MLX_FLOAT32)
    mlx_array_item_float32(&v, a);
  mlx_array_free(a);
  return v;
}

static int inc(mlx_vector_array *res, const mlx_vector_array in) {
  mlx_array x = mlx_array_new(), one = scalar(1.0f), y = mlx_array_new();
  mlx_stream s = mlx_default_cpu_stream_new();
  int rc = mlx_vector_array_get(&x, in, 0);
  if (rc == 0) rc = mlx_add(&y, x, one, s);
  if (rc == 0) rc = mlx_vector_array_set_value(res, y);
  mlx_array_free(x), mlx_array_free(one), mlx_array_free(y), mlx_stream_free(s);
  return rc;
}

/* mul(args, {x, y}) = x * y - (number of positional args) */
static int mul_kw(mlx_vector_array *res, const mlx_vector_array args, const mlx_map_string_to_array kw,
                  void *payload) {
  (void)payload;
  mlx_array x = mlx_array_new(), y = mlx_array_new(), z = mlx_array_new(), k = scalar((float)mlx_vector_array_size(args));
  mlx_stream s = mlx_default_cpu_stream_new();
  int rc = mlx_map_string_to_array_get(&x, kw, "x");
  if (rc == 0) rc = mlx_map_string_to_array_get(&y, kw, "y");
  if (rc == 0) rc = mlx_multiply(&z, x, y, s);
  if (rc == 0) rc = mlx_subtract(&z, z, k, s);
  if (rc == 0) rc = mlx_vector_array_set_value(res, z);
  mlx_array_free(x), mlx_array_free(y), mlx_array_free(z), mlx_array_free(k), mlx_stream_free(s);
  return rc;
}

static int payload_freed = 0;
static void count_free(void *p) {
  (void)p;
  payload_freed++;
}

static void test_closure_kwargs_apply(void) {
  mlx_closure_kwargs f = mlx_closure_kwargs_new_func_payload(mul_kw, NULL, count_free);
  mlx_closure_kwargs g = mlx_closure_kwargs_new();
  CHECK(mlx_closure_kwargs_set(&g, f) == 0);
  mlx_vector_array args = mlx_vector_array_new(), res = mlx_vector_array_new();
  mlx_map_string_to_array kw = mlx_map_string_to_array_new();
  mlx_array a = scalar(3.0f), b = scalar(4.0f);
  mlx_map_string_to_array_insert(kw, "x", a);
  mlx_map_string_to_array_insert(kw, "y", b);
  CHECK(mlx_closure_kwargs_apply(&res, g, args, kw) == 0);
  CHECK(only_value(res) == 12.0f);
  mlx_vector_array_append_value(args, a);
  CHECK(mlx_closure_kwargs_apply(&res, f, args, kw) == 0);
  CHECK(only_value(res) == 11.0f);
  /* a missing keyword makes the callback fail: reported through the handler */
  mlx_map_string_to_array empty = mlx_map_string_to_array_new();
  int before = errors;
  CHECK(mlx_closure_kwargs_apply(&res, f, args, empty) != 0);
  CHECK(errors == before + 1);
  mlx_closure_kwargs_free(f);
  CHECK(payload_freed == 0); /* g still holds it */
  mlx_closure_kwargs_free(g);
  CHECK(payload_freed == 1);
  mlx_map_string_to_array_free(kw), mlx_map_string_to_array_free(empty);
  mlx_vector_array_free(args), mlx_vector_array_free(res);
  mlx_array_free(a), mlx_array_free(b);
}

/* The flow of mlx-c's example-export.c. */
static void test_export_import_example(void) {
  char inc_path[512], mul_path[512];
  path_in(inc_path, sizeof inc_path, "inc_func.bin");
  path_in(mul_path, sizeof mul_path, "mul_func.bin");
  mlx_closure cls = mlx_closure_new_func(inc);
  mlx_array x = scalar(1.0f);
  mlx_vector_array args = mlx_vector_array_new_value(x);
  CHECK(mlx_export_function(inc_path, cls, args, false) == 0);
  mlx_closure_free(cls);

  mlx_imported_function f = mlx_imported_function_new(inc_path);
  CHECK(f.ctx != NULL);
  mlx_vector_array res = mlx_vector_array_new();
  CHECK(mlx_imported_function_apply(&res, f, args) == 0);
  CHECK(only_value(res) == 2.0f);
  /* no positional args: the keyword array fills the input slot */
  mlx_vector_array none = mlx_vector_array_new();
  mlx_map_string_to_array kw = mlx_map_string_to_array_new();
  mlx_array two = scalar(2.0f);
  mlx_map_string_to_array_insert(kw, "x", two);
  CHECK(mlx_imported_function_apply_kwargs(&res, f, none, kw) == 0);
  CHECK(only_value(res) == 3.0f);
  /* wrong input count or dtype: reported */
  int before = errors;
  CHECK(mlx_imported_function_apply(&res, f, none) != 0);
  CHECK(errors == before + 1 && strstr(last_error, "No imported function found") != NULL);
  mlx_array xi = mlx_array_new_int(1);
  mlx_vector_array iargs = mlx_vector_array_new_value(xi);
  CHECK(mlx_imported_function_apply(&res, f, iargs) != 0);
  mlx_imported_function_free(f);

  mlx_closure_kwargs mul = mlx_closure_kwargs_new_func_payload(mul_kw, NULL, NULL);
  mlx_array three = scalar(3.0f);
  mlx_map_string_to_array_insert(kw, "x", three); /* overwrites x = 2 */
  mlx_map_string_to_array_insert(kw, "y", three);
  CHECK(mlx_export_function_kwargs(mul_path, mul, none, kw, false) == 0);
  mlx_closure_kwargs_free(mul);
  mlx_imported_function g = mlx_imported_function_new(mul_path);
  CHECK(mlx_imported_function_apply_kwargs(&res, g, none, kw) == 0);
  CHECK(only_value(res) == 9.0f);
  /* the same two arrays as positional inputs fill the (sorted) keyword slots x, y */
  mlx_array five = scalar(5.0f);
  mlx_vector_array two_args = mlx_vector_array_new_value(five);
  mlx_vector_array_append_value(two_args, three);
  CHECK(mlx_imported_function_apply(&res, g, two_args) == 0);
  CHECK(only_value(res) == 15.0f);
  mlx_imported_function_free(g);

  mlx_vector_array_free(args), mlx_vector_array_free(none), mlx_vector_array_free(res);
  mlx_vector_array_free(iargs), mlx_vector_array_free(two_args);
  mlx_map_string_to_array_free(kw);
  mlx_array_free(x), mlx_array_free(two), mlx_array_free(three), mlx_array_free(five), mlx_array_free(xi);
  unlink(inc_path);
  unlink(mul_path);
}

static int sum_rows(mlx_vector_array *res, const mlx_vector_array in) {
  mlx_array x = mlx_array_new(), y = mlx_array_new();
  mlx_stream s = mlx_default_cpu_stream_new();
  int rc = mlx_vector_array_get(&x, in, 0);
  if (rc == 0) rc = mlx_sum_axis(&y, x, -1, false, s);
  if (rc == 0) rc = mlx_vector_array_set_value(res, y);
  mlx_array_free(x), mlx_array_free(y), mlx_stream_free(s);
  return rc;
}

static void test_exporter_traces_and_shapeless(void) {
  char path[512];
  path_in(path, sizeof path, "rows.mlxfn");
  mlx_closure cls = mlx_closure_new_func(sum_rows);
  mlx_function_exporter ex = mlx_function_exporter_new(path, cls, false);
  mlx_closure_free(cls); /* the exporter keeps its own reference */
  float d1[3] = {1, 2, 3}, d2[4] = {1, 2, 3, 4};
  int s1 = 3, s2[2] = {2, 2};
  mlx_array a = mlx_array_new_data(d1, &s1, 1, MLX_FLOAT32), b = mlx_array_new_data(d2, s2, 2, MLX_FLOAT32);
  mlx_vector_array va = mlx_vector_array_new_value(a), vb = mlx_vector_array_new_value(b);
  CHECK(mlx_function_exporter_apply(ex, va) == 0);
  CHECK(mlx_function_exporter_apply(ex, vb) == 0);
  mlx_map_string_to_array kw = mlx_map_string_to_array_new();
  mlx_map_string_to_array_insert(kw, "z", a);
  int before = errors;
  CHECK(mlx_function_exporter_apply_kwargs(ex, va, kw) != 0); /* a plain closure takes none */
  CHECK(errors == before + 1);
  mlx_function_exporter_free(ex);

  mlx_imported_function f = mlx_imported_function_new(path);
  mlx_vector_array res = mlx_vector_array_new();
  CHECK(mlx_imported_function_apply(&res, f, va) == 0);
  CHECK(only_value(res) == 6.0f);
  CHECK(mlx_imported_function_apply(&res, f, vb) == 0);
  mlx_array r = mlx_array_new();
  CHECK(mlx_vector_array_get(&r, res, 0) == 0 && mlx_array_eval(r) == 0);
  CHECK(mlx_array_size(r) == 2 && mlx_array_data_float32(r)[0] == 3.0f && mlx_array_data_float32(r)[1] == 7.0f);
  mlx_imported_function_free(f);

  /* shapeless: one trace serves other lengths */
  cls = mlx_closure_new_func(sum_rows);
  CHECK(mlx_export_function(path, cls, va, true) == 0);
  mlx_closure_free(cls);
  f = mlx_imported_function_new(path);
  float d5[5] = {1, 1, 1, 1, 10};
  int s5 = 5;
  mlx_array c = mlx_array_new_data(d5, &s5, 1, MLX_FLOAT32);
  mlx_vector_array vc = mlx_vector_array_new_value(c);
  CHECK(mlx_imported_function_apply(&res, f, vc) == 0);
  CHECK(only_value(res) == 14.0f);
  mlx_imported_function_free(f);

  mlx_array_free(a), mlx_array_free(b), mlx_array_free(c), mlx_array_free(r);
  mlx_vector_array_free(va), mlx_vector_array_free(vb), mlx_vector_array_free(vc), mlx_vector_array_free(res);
  mlx_map_string_to_array_free(kw);
  unlink(path);
}

static void test_errors(void) {
  int before = errors;
  mlx_imported_function f = mlx_imported_function_new("/nonexistent/dir/f.mlxfn");
  CHECK(f.ctx == NULL && errors == before + 1);
  mlx_vector_array res = mlx_vector_array_new(), args = mlx_vector_array_new();
  CHECK(mlx_imported_function_apply(&res, f, args) != 0);
  mlx_closure empty = mlx_closure_new();
  CHECK(mlx_export_function("x.mlxfn", empty, args, false) != 0);
  mlx_closure cls = mlx_closure_new_func(inc);
  CHECK(mlx_export_function("/nonexistent/dir/f.mlxfn", cls, args, false) != 0); /* inc needs an input */
  mlx_closure_free(cls);
  mlx_vector_array_free(res), mlx_vector_array_free(args);
}

int main(void) {
  snprintf(dir, sizeof dir, "/tmp/mlxc_export_%d", (int)getpid());
  if (mkdir(dir, 0700) != 0) return 1;
  mlx_set_error_handler(record_error, NULL, NULL);
  test_closure_kwargs_apply();
  test_export_import_example();
  test_exporter_traces_and_shapeless();
  test_errors();
  rmdir(dir);
  if (failures) fprintf(stderr, "%d failures (last error: %s)\n", failures, last_error);
  return failures ? 1 : 0;
}
