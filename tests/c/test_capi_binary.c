/* test_capi_binary.c: the mlx-c functions of the binary/logical/bitwise family
 * (spec/c-api.md section 2.1) as an mlx-c program calls them: results through out
 * parameters, divmod into a vector, clip with an empty (null) bound, closeness with its
 * tolerances, and failures reported through the handler with status 1. */
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

static mlx_array ints(const int *v, int n) { return mlx_array_new_data(v, &n, 1, MLX_INT32); }
static mlx_array floats(const float *v, int n) { return mlx_array_new_data(v, &n, 1, MLX_FLOAT32); }

/* Evaluates r and compares it, as int32 or float32, with want[0..n). */
static bool equals_i(mlx_array r, const int *want, int n) {
  if (mlx_array_eval(r) != 0 || mlx_array_dtype(r) != MLX_INT32 || (int)mlx_array_size(r) != n)
    return false;
  const int *p = mlx_array_data_int32(r);
  for (int i = 0; i < n; i++)
    if (p[i] != want[i]) return false;
  return true;
}

static bool equals_f(mlx_array r, const float *want, int n) {
  if (mlx_array_eval(r) != 0 || mlx_array_dtype(r) != MLX_FLOAT32 || (int)mlx_array_size(r) != n)
    return false;
  const float *p = mlx_array_data_float32(r);
  for (int i = 0; i < n; i++)
    if (fabsf(p[i] - want[i]) > 1e-5f * (1.0f + fabsf(want[i]))) return false;
  return true;
}

static bool item_bool(mlx_array r) {
  bool b = false;
  return mlx_array_item_bool(&b, r) == 0 && b;
}

int main(void) {
  mlx_set_error_handler(record_error, NULL, NULL);
  mlx_stream s = mlx_default_cpu_stream_new();
  const int av[] = {-7, 7, -7, 7, 9}, bv[] = {2, 2, -2, -2, 0};
  mlx_array a = ints(av, 5), b = ints(bv, 5), r = mlx_array_new();

  CHECK(mlx_floor_divide(&r, a, b, s) == 0);
  CHECK(equals_i(r, (const int[]){-4, 3, 3, -4, 0}, 5));
  CHECK(mlx_remainder(&r, a, b, s) == 0);
  CHECK(equals_i(r, (const int[]){1, 1, -1, -1, 9}, 5));

  mlx_vector_array qr = mlx_vector_array_new();
  CHECK(mlx_divmod(&qr, a, b, s) == 0);
  CHECK(mlx_vector_array_size(qr) == 2);
  mlx_array q = mlx_array_new();
  CHECK(mlx_vector_array_get(&q, qr, 0) == 0 && equals_i(q, (const int[]){-4, 3, 3, -4, 0}, 5));
  CHECK(mlx_vector_array_get(&q, qr, 1) == 0 && equals_i(q, (const int[]){1, 1, -1, -1, 9}, 5));

  const int ev[] = {2, 0, 3, 1, 1};
  mlx_array e = ints(ev, 5);
  CHECK(mlx_power(&r, a, e, s) == 0);
  CHECK(equals_i(r, (const int[]){49, 1, -343, 7, 9}, 5));

  const float xv[] = {1.0f, 2.0f, -1.0f}, yv[] = {3.0f, -1.0f, -1.0f};
  mlx_array x = floats(xv, 3), y = floats(yv, 3);
  CHECK(mlx_logaddexp(&r, x, y, s) == 0);
  CHECK(equals_f(r, (const float[]){logf(expf(1) + expf(3)), logf(expf(2) + expf(-1)),
                                    logf(2 * expf(-1))}, 3));
  CHECK(mlx_arctan2(&r, x, y, s) == 0);
  CHECK(equals_f(r, (const float[]){atan2f(1, 3), atan2f(2, -1), atan2f(-1, -1)}, 3));

  CHECK(mlx_bitwise_and(&r, a, e, s) == 0 && equals_i(r, (const int[]){-7 & 2, 0, -7 & 3, 1, 1}, 5));
  CHECK(mlx_bitwise_or(&r, a, e, s) == 0 && equals_i(r, (const int[]){-7 | 2, 7, -7 | 3, 7, 9}, 5));
  CHECK(mlx_bitwise_xor(&r, a, e, s) == 0 && equals_i(r, (const int[]){-7 ^ 2, 7, -7 ^ 3, 6, 8}, 5));
  CHECK(mlx_left_shift(&r, a, e, s) == 0 && equals_i(r, (const int[]){-28, 7, -56, 14, 18}, 5));
  CHECK(mlx_right_shift(&r, a, e, s) == 0 && equals_i(r, (const int[]){-2, 7, -1, 3, 4}, 5));

  CHECK(mlx_logical_and(&r, a, b, s) == 0 && mlx_array_dtype(r) == MLX_BOOL);
  CHECK(mlx_array_eval(r) == 0);
  const bool *lb = mlx_array_data_bool(r);
  CHECK(lb && lb[0] && !lb[4]);
  CHECK(mlx_logical_or(&r, b, b, s) == 0 && mlx_array_eval(r) == 0);
  lb = mlx_array_data_bool(r);
  CHECK(lb && lb[0] && !lb[4]);

  /* clip: an empty handle is a missing bound; both missing fails */
  mlx_array lo = mlx_array_new_int(0), none = mlx_array_new();
  CHECK(mlx_clip(&r, a, lo, none, s) == 0 && equals_i(r, (const int[]){0, 7, 0, 7, 9}, 5));
  CHECK(mlx_clip(&r, a, none, lo, s) == 0 && equals_i(r, (const int[]){-7, 0, -7, 0, 0}, 5));
  int before = errors;
  CHECK(mlx_clip(&r, a, none, none, s) == 1);
  CHECK(errors == before + 1 && strstr(last_error, "At most one of a_min and a_max") != NULL);

  /* closeness */
  const float x2v[] = {1.0f, 2.0f + 1e-6f, -1.0f};
  mlx_array x2 = floats(x2v, 3);
  CHECK(mlx_array_equal(&r, x, x2, false, s) == 0 && !item_bool(r));
  CHECK(mlx_array_equal(&r, x, x, false, s) == 0 && item_bool(r));
  CHECK(mlx_allclose(&r, x, x2, 1e-5, 1e-8, false, s) == 0 && item_bool(r));
  CHECK(mlx_allclose(&r, x, x2, 0.0, 0.0, false, s) == 0 && !item_bool(r));
  CHECK(mlx_isclose(&r, x, x2, 0.0, 0.0, false, s) == 0 && mlx_array_eval(r) == 0);
  lb = mlx_array_data_bool(r);
  CHECK(lb && lb[0] && !lb[1] && lb[2]);

  /* errors come back as status 1 through the handler; the out-parameter may alias an input */
  before = errors;
  CHECK(mlx_bitwise_and(&r, x, y, s) == 1);
  CHECK(errors == before + 1 && strstr(last_error, "[bitwise_and]") != NULL);
  mlx_array z = mlx_array_new_complex(1, 1);
  CHECK(mlx_remainder(&r, z, x, s) == 1);
  mlx_array_free(z);
  mlx_array c = ints(av, 5);
  CHECK(mlx_floor_divide(&c, c, b, s) == 0 && equals_i(c, (const int[]){-4, 3, 3, -4, 0}, 5));

  mlx_array_free(c);
  mlx_array_free(x2);
  mlx_array_free(lo);
  mlx_array_free(none);
  mlx_array_free(x);
  mlx_array_free(y);
  mlx_array_free(e);
  mlx_array_free(q);
  mlx_vector_array_free(qr);
  mlx_array_free(r);
  mlx_array_free(a);
  mlx_array_free(b);
  mlx_stream_free(s);
  fprintf(stderr, "test_capi_binary: %d failures\n", failures);
  return failures ? 1 : 0;
}
