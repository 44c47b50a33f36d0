/* test_reduce_scan.c: the mlx-c wrappers of the reductions and scans family (plain, _axis
 * and _axes variants, ddof, precise, median, number_of_elements) on small known inputs, and the
 * error path of a bad axis (the call returns 1 through the installed handler). Returns
 * nonzero on failure. */
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
#define CLOSE(a, b) (fabs((double)(a) - (double)(b)) <= 1e-5 * (1.0 + fabs((double)(b))))

static int errors = 0;
static char last_error[512];
static void on_error(const char *msg, void *data) {
  (void)data;
  errors++;
  snprintf(last_error, sizeof last_error, "%s", msg);
}

/* The float32 elements of r after eval (NULL on failure). */
static const float *floats(mlx_array r) {
  return mlx_array_eval(r) == 0 ? mlx_array_data_float32(r) : NULL;
}

static void test_reductions(mlx_stream s) {
  float data[6] = {1, 5, 3, 4, 2, 6}; /* [[1, 5, 3], [4, 2, 6]] */
  int shape[2] = {2, 3};
  mlx_array a = mlx_array_new_data(data, shape, 2, MLX_FLOAT32);
  mlx_array r = mlx_array_new();
  float f = 0;
  int axes[2] = {1, 0};

  CHECK(mlx_prod(&r, a, false, s) == 0 && mlx_array_item_float32(&f, r) == 0 && CLOSE(f, 720));
  CHECK(mlx_prod_axis(&r, a, 1, true, s) == 0 && mlx_array_ndim(r) == 2);
  const float *p = floats(r);
  CHECK(p && CLOSE(p[0], 15) && CLOSE(p[1], 48));
  CHECK(mlx_max_axes(&r, a, axes, 2, false, s) == 0 && mlx_array_item_float32(&f, r) == 0 &&
        CLOSE(f, 6));
  CHECK(mlx_min_axis(&r, a, 0, false, s) == 0 && (p = floats(r)) && CLOSE(p[0], 1) &&
        CLOSE(p[1], 2) && CLOSE(p[2], 3));
  CHECK(mlx_mean(&r, a, false, s) == 0 && mlx_array_item_float32(&f, r) == 0 && CLOSE(f, 3.5));
  CHECK(mlx_var(&r, a, false, 1, s) == 0 && mlx_array_item_float32(&f, r) == 0 && CLOSE(f, 3.5));
  CHECK(mlx_std_axis(&r, a, 1, false, 0, s) == 0 && (p = floats(r)) &&
        CLOSE(p[0], sqrt(8.0 / 3.0)) && CLOSE(p[1], sqrt(8.0 / 3.0)));
  CHECK(mlx_var_axes(&r, a, axes, 1, true, 0, s) == 0 && mlx_array_dim(r, 1) == 1);
  CHECK(mlx_logsumexp_axis(&r, a, 1, false, s) == 0 && (p = floats(r)) &&
        CLOSE(p[0], log(exp(1.0) + exp(5.0) + exp(3.0))));
  bool b = false;
  CHECK(mlx_all(&r, a, false, s) == 0 && mlx_array_item_bool(&b, r) == 0 && b);
  CHECK(mlx_any_axes(&r, a, axes, 0, false, s) == 0 && mlx_array_ndim(r) == 2);

  uint32_t u = 9;
  CHECK(mlx_argmax(&r, a, false, s) == 0 && mlx_array_item_uint32(&u, r) == 0 && u == 5);
  CHECK(mlx_argmin_axis(&r, a, 1, false, s) == 0 && mlx_array_eval(r) == 0);
  const uint32_t *q = mlx_array_data_uint32(r);
  CHECK(q && q[0] == 0 && q[1] == 1);

  CHECK(mlx_softmax_axis(&r, a, 1, true, s) == 0 && (p = floats(r)) &&
        CLOSE(p[0] + p[1] + p[2], 1.0));
  CHECK(mlx_softmax(&r, a, false, s) == 0 && (p = floats(r)));
  if (p) {
    double sum = 0;
    for (int i = 0; i < 6; i++) sum += p[i];
    CHECK(CLOSE(sum, 1.0));
  }
  CHECK(mlx_softmax_axes(&r, a, axes, 1, false, s) == 0 && mlx_array_ndim(r) == 2);

  CHECK(mlx_median(&r, a, axes, 1, false, s) == 0 && (p = floats(r)) && CLOSE(p[0], 3) &&
        CLOSE(p[1], 4));
  CHECK(mlx_number_of_elements(&r, a, axes, 1, false, MLX_INT32, s) == 0);
  int n = 0;
  CHECK(mlx_array_item_int32(&n, r) == 0 && n == 3);
  CHECK(mlx_number_of_elements(&r, a, axes, 2, true, MLX_FLOAT32, s) == 0 &&
        mlx_array_item_float32(&f, r) == 0 && CLOSE(f, 1.0 / 6.0));

  /* a bad axis fails through the handler with MLX's exception text */
  int before = errors;
  CHECK(mlx_sum_axis(&r, a, 2, false, s) != 0 && errors == before + 1);
  CHECK(strstr(last_error, "Invalid axis 2") != NULL);
  int empty_shape[2] = {0, 3};
  mlx_array e = mlx_array_new_data(data, empty_shape, 2, MLX_FLOAT32);
  CHECK(mlx_max_axis(&r, e, 0, false, s) != 0 && strstr(last_error, "size 0") != NULL);
  mlx_array_free(e);
  mlx_array_free(r);
  mlx_array_free(a);
}

static void test_scans(mlx_stream s) {
  int32_t data[6] = {1, 2, 3, 4, 5, 6};
  int shape[2] = {2, 3};
  mlx_array a = mlx_array_new_data(data, shape, 2, MLX_INT32);
  mlx_array r = mlx_array_new();
  CHECK(mlx_cumsum(&r, a, 1, true, false, s) == 0 && mlx_array_eval(r) == 0);
  const int32_t *p = mlx_array_data_int32(r);
  CHECK(p && p[0] == 5 && p[1] == 3 && p[2] == 0 && p[3] == 11 && p[4] == 6 && p[5] == 0);
  CHECK(mlx_cumprod(&r, a, 0, false, true, s) == 0 && mlx_array_eval(r) == 0);
  p = mlx_array_data_int32(r);
  CHECK(p && p[3] == 4 && p[4] == 10 && p[5] == 18);
  CHECK(mlx_cummax(&r, a, -1, true, true, s) == 0 && mlx_array_eval(r) == 0);
  p = mlx_array_data_int32(r);
  CHECK(p && p[0] == 3 && p[2] == 3 && p[3] == 6);
  CHECK(mlx_cummin(&r, a, 1, false, true, s) == 0 && mlx_array_eval(r) == 0);
  p = mlx_array_data_int32(r);
  CHECK(p && p[2] == 1 && p[5] == 4);
  CHECK(mlx_logcumsumexp(&r, a, 1, false, true, s) == 0 && mlx_array_dtype(r) == MLX_FLOAT32);
  const float *f = floats(r);
  CHECK(f && CLOSE(f[1], log(exp(1.0) + exp(2.0))));
  int before = errors;
  CHECK(mlx_cumsum(&r, a, 3, false, true, s) != 0 && errors == before + 1);
  mlx_array_free(r);
  mlx_array_free(a);
}

int main(void) {
  mlx_set_error_handler(on_error, NULL, NULL);
  mlx_stream s = mlx_default_cpu_stream_new();
  test_reductions(s);
  test_scans(s);
  mlx_stream_free(s);
  if (failures) {
    fprintf(stderr, "test_reduce_scan: %d failure(s)\n", failures);
    return 1;
  }
  printf("test_reduce_scan: all passed\n");
  return 0;
}
