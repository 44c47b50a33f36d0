/* test_capi_random_dist.c: the mlx-c samplers (bernoulli, truncated_normal, gumbel,
 * categorical variants, laplace, permutation variants) and the distributed group functions
 * on the singleton group: shapes, dtypes, reproducibility with a key, agreement between the
 * variants and errors reported through the handler. */
#include <stdio.h>
#include <string.h>

#include "mlx/c/mlx.h"

static int failures = 0;
#define CHECK(cond)                                                   \
  do {                                                                \
    if (!(cond)) {                                                    \
      fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond); \
      failures++;                                                     \
    }                                                                 \
  } while (0)

static int errors = 0;
static char last_error[512];
static void on_error(const char *msg, void *data) {
  (void)data;
  errors++;
  snprintf(last_error, sizeof last_error, "%s", msg);
}

static bool same_u32(mlx_array a, mlx_array b) {
  if (mlx_array_eval(a) || mlx_array_eval(b) || mlx_array_size(a) != mlx_array_size(b)) return false;
  return memcmp(mlx_array_data_uint32(a), mlx_array_data_uint32(b), mlx_array_size(a) * 4) == 0;
}

static void test_samplers(mlx_stream s) {
  mlx_array key = mlx_array_new(), res = mlx_array_new(), res2 = mlx_array_new();
  CHECK(mlx_random_key(&key, 7) == 0);
  int shape[2] = {4, 6};
  mlx_array p = mlx_array_new_float(0.25f);
  CHECK(mlx_random_bernoulli(&res, p, shape, 2, key, s) == 0);
  CHECK(mlx_array_dtype(res) == MLX_BOOL && mlx_array_size(res) == 24);
  mlx_array lo = mlx_array_new_float(-1.0f), hi = mlx_array_new_float(1.0f);
  CHECK(mlx_random_truncated_normal(&res, lo, hi, shape, 2, MLX_FLOAT16, key, s) == 0);
  CHECK(mlx_array_dtype(res) == MLX_FLOAT16 && mlx_array_ndim(res) == 2);
  CHECK(mlx_random_gumbel(&res, shape, 2, MLX_FLOAT32, key, s) == 0);
  CHECK(mlx_random_laplace(&res, shape, 1, MLX_FLOAT64, 1.0f, 2.0f, key, s) == 0);
  CHECK(mlx_array_dtype(res) == MLX_FLOAT64 && mlx_array_size(res) == 4);

  float logits[6] = {0.1f, 2.0f, -1.0f, 0.5f, 0.0f, 1.0f};
  int lshape[2] = {2, 3};
  mlx_array l = mlx_array_new_data(logits, lshape, 2, MLX_FLOAT32);
  CHECK(mlx_random_categorical(&res, l, -1, key, s) == 0 && mlx_array_size(res) == 2);
  CHECK(mlx_array_dtype(res) == MLX_UINT32);
  int cshape[2] = {5, 2};
  CHECK(mlx_random_categorical_shape(&res, l, 1, cshape, 2, key, s) == 0 && mlx_array_size(res) == 10);
  CHECK(mlx_random_categorical_num_samples(&res, l, -1, 8, key, s) == 0 && mlx_array_size(res) == 16);

  CHECK(mlx_random_permutation_arange(&res, 10, key, s) == 0 && mlx_array_size(res) == 10);
  mlx_array x = mlx_array_new_data((int[]){0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, (int[]){10}, 1, MLX_INT32);
  CHECK(mlx_random_permutation(&res2, x, 0, key, s) == 0);
  mlx_array res2u = mlx_array_new();
  CHECK(mlx_astype(&res2u, res2, MLX_UINT32, s) == 0);
  CHECK(same_u32(res, res2u)); /* shuffling arange(10) gives permutation(10) */

  mlx_array mean = mlx_array_new_data((float[]){1, 2}, (int[]){2}, 1, MLX_FLOAT32);
  mlx_array cov = mlx_array_new_data((float[]){2, 0.5f, 0.5f, 1}, (int[]){2, 2}, 2, MLX_FLOAT32);
  CHECK(mlx_random_multivariate_normal(&res, mean, cov, (int[]){3}, 1, MLX_FLOAT32, key, s) == 0);
  CHECK(mlx_array_size(res) == 6 && mlx_array_ndim(res) == 2);
  mlx_array_free(mean);
  mlx_array_free(cov);

  /* an empty key draws from the C API's own sequence */
  CHECK(mlx_random_gumbel(&res, shape, 2, MLX_FLOAT32, mlx_array_new(), s) == 0);

  int before = errors;
  CHECK(mlx_random_gumbel(&res, shape, 2, MLX_INT32, key, s) == 1);
  CHECK(errors == before + 1 && strstr(last_error, "[uniform]") != NULL);
  CHECK(mlx_random_categorical(&res, l, 3, key, s) == 1);
  CHECK(strstr(last_error, "[categorical] Invalid axis 3") != NULL);

  mlx_array arrays[] = {key, res, res2, res2u, p, lo, hi, l, x};
  for (size_t i = 0; i < sizeof arrays / sizeof *arrays; i++) mlx_array_free(arrays[i]);
}

static void test_distributed(mlx_stream s) {
  CHECK(!mlx_distributed_is_available("any") && !mlx_distributed_is_available("mpi"));
  mlx_distributed_group g = mlx_distributed_group_new();
  CHECK(mlx_distributed_group_size(g) == 1 && mlx_distributed_group_rank(g) == 0);
  CHECK(mlx_distributed_init(&g, false, "any") == 0);
  CHECK(g.ctx && mlx_distributed_group_size(g) == 1);
  int before = errors;
  CHECK(mlx_distributed_init(&g, true, "nccl") == 1 && errors == before + 1);
  mlx_distributed_group sub = mlx_distributed_group_new();
  CHECK(mlx_distributed_group_split(&sub, g, 0, -1) == 1);
  CHECK(strstr(last_error, "Cannot split") != NULL);

  mlx_array x = mlx_array_new_data((float[]){1, 2, 3}, (int[]){3}, 1, MLX_FLOAT32);
  mlx_array r = mlx_array_new();
  int (*fns[])(mlx_array *, const mlx_array, const mlx_distributed_group, const mlx_stream) = {
      mlx_distributed_all_sum, mlx_distributed_all_max, mlx_distributed_all_min,
      mlx_distributed_all_gather, mlx_distributed_sum_scatter};
  for (int i = 0; i < 5; i++) {
    CHECK(fns[i](&r, x, g, s) == 0 && mlx_array_eval(r) == 0);
    CHECK(mlx_array_size(r) == 3 && mlx_array_data_float32(r)[2] == 3.0f);
  }
  CHECK(mlx_distributed_all_sum(&r, x, mlx_distributed_group_new(), s) == 0);
  CHECK(mlx_distributed_send(&r, x, 0, g, s) == 1 && strstr(last_error, "singleton") != NULL);
  CHECK(mlx_distributed_recv(&r, (int[]){3}, 1, MLX_FLOAT32, 0, g, s) == 1);
  CHECK(mlx_distributed_recv_like(&r, x, 0, g, s) == 1);
  mlx_array_free(x);
  mlx_array_free(r);
  mlx_distributed_group_free(sub);
  mlx_distributed_group_free(g);
}

int main(void) {
  mlx_set_error_handler(on_error, NULL, NULL);
  mlx_stream s = mlx_default_cpu_stream_new();
  test_samplers(s);
  test_distributed(s);
  mlx_stream_free(s);
  if (failures) fprintf(stderr, "%d failure(s)\n", failures);
  return failures != 0;
}
