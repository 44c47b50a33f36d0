/* test_capi_linalg.c: the mlx-c linalg functions (mlx/c/linalg.h) as an mlx-c program calls
 * them: single results, pairs (qr, eigh, lu_factor), vectors (svd, lu), the three norm
 * variants with a null axis, and a failure reported through the handler with status 1. */
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

static bool equals_f(mlx_array r, const float *want, int n) {
  if (mlx_array_eval(r) != 0 || mlx_array_dtype(r) != MLX_FLOAT32 || (int)mlx_array_size(r) != n)
    return false;
  const float *p = mlx_array_data_float32(r);
  for (int i = 0; i < n; i++)
    if (fabsf(p[i] - want[i]) > 1e-5f * (1.0f + fabsf(want[i]))) return false;
  return true;
}

int main(void) {
  mlx_set_error_handler(record_error, NULL, NULL);
  mlx_stream s = mlx_default_cpu_stream_new();
  const float av[] = {4, 1, 1, 3};
  const int shape[] = {2, 2};
  mlx_array a = mlx_array_new_data(av, shape, 2, MLX_FLOAT32);
  mlx_array r = mlx_array_new(), r1 = mlx_array_new();

  CHECK(mlx_linalg_inv(&r, a, s) == 0);
  const float inv[] = {3.0f / 11, -1.0f / 11, -1.0f / 11, 4.0f / 11};
  CHECK(equals_f(r, inv, 4));
  CHECK(mlx_linalg_cholesky(&r, a, false, s) == 0);
  const float chol[] = {2, 0, 0.5f, sqrtf(2.75f)};
  CHECK(equals_f(r, chol, 4));
  CHECK(mlx_linalg_eigh(&r, &r1, a, "L", s) == 0);
  const float w[] = {(7 - sqrtf(5)) / 2, (7 + sqrtf(5)) / 2};
  CHECK(equals_f(r, w, 2));
  CHECK(mlx_linalg_eigvalsh(&r, a, "U", s) == 0);
  CHECK(equals_f(r, w, 2));
  CHECK(mlx_linalg_qr(&r, &r1, a, s) == 0);
  CHECK(mlx_array_eval(r1) == 0 && fabsf(fabsf(mlx_array_data_float32(r1)[0]) - sqrtf(17)) < 1e-5f);
  CHECK(mlx_linalg_lu_factor(&r, &r1, a, s) == 0);
  const float lu[] = {4, 1, 0.25f, 2.75f};
  CHECK(equals_f(r, lu, 4));

  mlx_vector_array v = mlx_vector_array_new();
  CHECK(mlx_linalg_svd(&v, a, true, s) == 0 && mlx_vector_array_size(v) == 3);
  CHECK(mlx_linalg_svd(&v, a, false, s) == 0 && mlx_vector_array_size(v) == 1);
  CHECK(mlx_vector_array_get(&r, v, 0) == 0);
  const float sv[] = {(7 + sqrtf(5)) / 2, (7 - sqrtf(5)) / 2};
  CHECK(equals_f(r, sv, 2));
  CHECK(mlx_linalg_lu(&v, a, s) == 0 && mlx_vector_array_size(v) == 3);

  const float fro = sqrtf(27), one = 5;
  CHECK(mlx_linalg_norm_l2(&r, a, NULL, 0, false, s) == 0 && equals_f(r, &fro, 1));
  CHECK(mlx_linalg_norm_matrix(&r, a, "fro", NULL, 0, false, s) == 0 && equals_f(r, &fro, 1));
  CHECK(mlx_linalg_norm(&r, a, 1.0, NULL, 0, false, s) == 0 && equals_f(r, &one, 1));
  const int axis[] = {1};
  const float rows[] = {5, 4};
  CHECK(mlx_linalg_norm(&r, a, 1.0, axis, 1, false, s) == 0 && equals_f(r, rows, 2));

  const float bv[] = {1, 2};
  const int bshape[] = {2};
  mlx_array b = mlx_array_new_data(bv, bshape, 1, MLX_FLOAT32);
  CHECK(mlx_linalg_solve(&r, a, b, s) == 0);
  const float x[] = {1.0f / 11, 7.0f / 11};
  CHECK(equals_f(r, x, 2));

  int before = errors;
  CHECK(mlx_linalg_inv(&r, b, s) == 1 && errors == before + 1);
  CHECK(strstr(last_error, "[linalg::inv] Arrays must have >= 2 dimensions") != NULL);

  mlx_vector_array_free(v);
  mlx_array_free(a);
  mlx_array_free(b);
  mlx_array_free(r);
  mlx_array_free(r1);
  mlx_stream_free(s);
  return failures;
}
