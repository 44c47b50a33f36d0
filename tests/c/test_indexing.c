/* test_indexing.c: the indexing, gather/scatter and sorting functions of the mlx-c API
 * (gather, scatter and its reductions, take, the along-axis ops, masked_scatter, static and
 * dynamic slices and slice updates, sort/argsort/partition/topk), including index arrays of
 * several integer dtypes and out-of-range indices: gathers clamp, scatters drop, nothing
 * reads or writes outside a buffer (run under ASan by CI). Returns nonzero on failure. */
#include <math.h>
#include <stdint.h>
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

static int errors_seen = 0;
static mlx_stream g_stream;
static void count_error(const char *msg, void *data) {
  (void)msg;
  (void)data;
  errors_seen++;
}

/* a (n,) or shaped float32 array from data */
static mlx_array f32(const float *data, const int *shape, int ndim) {
  return mlx_array_new_data(data, shape, ndim, MLX_FLOAT32);
}

static mlx_array i32(const int32_t *data, int n) {
  int shape[1] = {n};
  return mlx_array_new_data(data, shape, 1, MLX_INT32);
}

/* Evaluates r and compares its float32 values with want (n of them). */
static int expect_f32(mlx_array r, const float *want, size_t n) {
  if (mlx_array_eval(r) != 0 || mlx_array_size(r) != n) return 0;
  mlx_array c = mlx_array_new(); /* a row-contiguous float32 copy (r may be a strided view) */
  int ok = mlx_astype(&c, r, MLX_FLOAT32, g_stream) == 0 && mlx_copy(&c, c, g_stream) == 0 &&
           mlx_array_eval(c) == 0;
  const float *p = ok ? mlx_array_data_float32(c) : NULL;
  for (size_t i = 0; ok && i < n; i++) ok = p[i] == want[i];
  mlx_array_free(c);
  return ok;
}

static void test_gather_scatter(mlx_stream s) {
  float data[12] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};
  int shape[2] = {3, 4};
  mlx_array a = f32(data, shape, 2);
  int32_t rows[3] = {2, 0, -1};
  mlx_array idx = i32(rows, 3);
  mlx_array r = mlx_array_new();

  /* gather_single: rows 2, 0, 2 with a (1, 4) window each -> (3, 1, 4) */
  int sizes[2] = {1, 4};
  CHECK(mlx_gather_single(&r, a, idx, 0, sizes, 2, s) == 0);
  CHECK(mlx_array_ndim(r) == 3 && mlx_array_dim(r, 0) == 3 && mlx_array_dim(r, 2) == 4);
  float g1[12] = {8, 9, 10, 11, 0, 1, 2, 3, 8, 9, 10, 11};
  CHECK(expect_f32(r, g1, 12));

  /* gather with two index arrays: elements (2, 1), (0, 3), (2, 0) */
  int32_t cols[3] = {1, 3, 0};
  mlx_array idx2 = i32(cols, 3);
  mlx_array both[2] = {idx, idx2};
  mlx_vector_array vec = mlx_vector_array_new_data(both, 2);
  int axes[2] = {0, 1};
  int ones[2] = {1, 1};
  CHECK(mlx_gather(&r, a, vec, axes, 2, ones, 2, s) == 0);
  float g2[3] = {9, 3, 8};
  CHECK(expect_f32(r, g2, 3));

  /* scatter_add with a repeated row accumulates; scatter assigns */
  int32_t srows[3] = {1, 1, 0};
  mlx_array sidx = i32(srows, 3);
  float ones12[12] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
  int ushape[3] = {3, 1, 4};
  mlx_array upd = f32(ones12, ushape, 3);
  CHECK(mlx_scatter_add_single(&r, a, sidx, upd, 0, s) == 0);
  float sa[12] = {1, 2, 3, 4, 6, 7, 8, 9, 8, 9, 10, 11};
  CHECK(expect_f32(r, sa, 12));
  mlx_vector_array v1 = mlx_vector_array_new_value(sidx);
  int ax0[1] = {0};
  CHECK(mlx_scatter_max(&r, a, v1, upd, ax0, 1, s) == 0);
  float smax[12] = {1, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};
  CHECK(expect_f32(r, smax, 12));
  CHECK(mlx_scatter_prod(&r, a, v1, upd, ax0, 1, s) == 0);
  CHECK(expect_f32(r, data, 12));
  CHECK(mlx_scatter_min_single(&r, a, sidx, upd, 0, s) == 0);
  float smin[12] = {0, 1, 1, 1, 1, 1, 1, 1, 8, 9, 10, 11};
  CHECK(expect_f32(r, smin, 12));
  CHECK(mlx_scatter(&r, a, v1, upd, ax0, 1, s) == 0);
  float sset[12] = {1, 1, 1, 1, 1, 1, 1, 1, 8, 9, 10, 11};
  CHECK(expect_f32(r, sset, 12));

  /* out-of-range indices of every width: gathers clamp, scatters drop */
  int64_t far64[4] = {INT64_MAX, INT64_MIN, 3, -4};
  int dims1[1] = {4};
  mlx_array far = mlx_array_new_data(far64, dims1, 1, MLX_INT64);
  CHECK(mlx_take_axis(&r, a, far, 0, s) == 0);
  float tk[16] = {8, 9, 10, 11, 0, 1, 2, 3, 8, 9, 10, 11, 0, 1, 2, 3};
  CHECK(expect_f32(r, tk, 16));
  uint8_t far8[4] = {255, 200, 3, 1};
  mlx_array far_u8 = mlx_array_new_data(far8, dims1, 1, MLX_UINT8);
  CHECK(mlx_take(&r, a, far_u8, s) == 0);
  float tk8[4] = {11, 11, 3, 1};
  CHECK(expect_f32(r, tk8, 4));
  float four[16] = {-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1};
  int u4[3] = {4, 1, 4};
  mlx_array upd4 = f32(four, u4, 3);
  CHECK(mlx_scatter_add_single(&r, a, far, upd4, 0, s) == 0);
  float dropped[12] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};
  CHECK(expect_f32(r, dropped, 12));

  /* take_along_axis / put_along_axis / scatter_add_axis */
  int32_t along[3] = {3, 0, 1};
  int ashape[2] = {3, 1};
  mlx_array aidx = mlx_array_new_data(along, ashape, 2, MLX_INT32);
  CHECK(mlx_take_along_axis(&r, a, aidx, 1, s) == 0);
  float ta[3] = {3, 4, 9};
  CHECK(expect_f32(r, ta, 3));
  mlx_array minus = mlx_array_new_float(-5.0f);
  CHECK(mlx_put_along_axis(&r, a, aidx, minus, 1, s) == 0);
  float pa[12] = {0, 1, 2, -5, -5, 5, 6, 7, 8, -5, 10, 11};
  CHECK(expect_f32(r, pa, 12));
  CHECK(mlx_scatter_add_axis(&r, a, aidx, minus, 1, s) == 0);
  float saa[12] = {0, 1, 2, -2, -1, 5, 6, 7, 8, 4, 10, 11};
  CHECK(expect_f32(r, saa, 12));

  /* masked_scatter */
  bool mbits[4] = {true, false, true, false};
  int mshape[2] = {1, 4};
  mlx_array mask = mlx_array_new_data(mbits, mshape, 2, MLX_BOOL);
  float src[6] = {100, 101, 102, 103, 104, 105};
  int sshape[1] = {6};
  mlx_array srca = f32(src, sshape, 1);
  CHECK(mlx_masked_scatter(&r, a, mask, srca, s) == 0);
  float ms[12] = {100, 1, 101, 3, 102, 5, 103, 7, 104, 9, 105, 11};
  CHECK(expect_f32(r, ms, 12));
  mlx_array short_src = f32(src, (int[1]){2}, 1);
  CHECK(mlx_masked_scatter(&r, a, mask, short_src, s) == 0);
  int before = errors_seen;
  CHECK(mlx_array_eval(r) != 0 && errors_seen == before + 1); /* too few source elements */

  mlx_array arrays[] = {a, idx, r, idx2, sidx, upd, far, far_u8, upd4, aidx, minus, mask, srca, short_src};
  for (size_t i = 0; i < sizeof arrays / sizeof arrays[0]; i++) mlx_array_free(arrays[i]);
  mlx_vector_array_free(vec);
  mlx_vector_array_free(v1);
}

static void test_slices(mlx_stream s) {
  float data[12] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};
  int shape[2] = {3, 4};
  mlx_array a = f32(data, shape, 2);
  mlx_array r = mlx_array_new();
  /* static slice with negative bounds and a negative stride: a[-1:0:-1, 1:100:2] */
  int start[2] = {-1, 1}, stop[2] = {0, 100}, strides[2] = {-1, 2};
  CHECK(mlx_slice(&r, a, start, 2, stop, 2, strides, 2, s) == 0);
  float sl[4] = {9, 11, 5, 7};
  CHECK(expect_f32(r, sl, 4));
  int bad[1] = {0};
  int before = errors_seen;
  CHECK(mlx_slice(&r, a, bad, 1, stop, 2, strides, 2, s) != 0 && errors_seen == before + 1);
  /* dynamic slice: a start beyond the end is clamped */
  int32_t st[1] = {7};
  mlx_array start_arr = i32(st, 1);
  int axes[1] = {1};
  int size[2] = {2, 2};
  CHECK(mlx_slice_dynamic(&r, a, start_arr, axes, 1, size, 2, s) == 0);
  float ds[4] = {2, 3, 6, 7};
  CHECK(expect_f32(r, ds, 4));
  float u[4] = {-1, -2, -3, -4};
  int ushape[2] = {2, 2};
  mlx_array upd = f32(u, ushape, 2);
  CHECK(mlx_slice_update_dynamic(&r, a, upd, start_arr, axes, 1, s) == 0);
  float dsu[12] = {0, 1, -1, -2, 4, 5, -3, -4, 8, 9, 10, 11};
  CHECK(expect_f32(r, dsu, 12));
  /* static slice updates with reductions on a[1:3, 0:4:2] */
  int b0[2] = {1, 0}, e0[2] = {3, 4}, s0[2] = {1, 2};
  CHECK(mlx_slice_update(&r, a, upd, b0, 2, e0, 2, s0, 2, s) == 0);
  float su[12] = {0, 1, 2, 3, -1, 5, -2, 7, -3, 9, -4, 11};
  CHECK(expect_f32(r, su, 12));
  CHECK(mlx_slice_update_add(&r, a, upd, b0, 2, e0, 2, s0, 2, s) == 0);
  float sadd[12] = {0, 1, 2, 3, 3, 5, 4, 7, 5, 9, 6, 11};
  CHECK(expect_f32(r, sadd, 12));
  CHECK(mlx_slice_update_prod(&r, a, upd, b0, 2, e0, 2, s0, 2, s) == 0);
  float sprod[12] = {0, 1, 2, 3, -4, 5, -12, 7, -24, 9, -40, 11};
  CHECK(expect_f32(r, sprod, 12));
  CHECK(mlx_slice_update_max(&r, a, upd, b0, 2, e0, 2, s0, 2, s) == 0);
  CHECK(expect_f32(r, data, 12));
  CHECK(mlx_slice_update_min(&r, a, upd, b0, 2, e0, 2, s0, 2, s) == 0);
  CHECK(expect_f32(r, su, 12));
  mlx_array_free(a);
  mlx_array_free(r);
  mlx_array_free(start_arr);
  mlx_array_free(upd);
}

static void test_sorting(mlx_stream s) {
  float data[6] = {3, NAN, -1, 2, -INFINITY, 2};
  int shape[1] = {6};
  mlx_array a = f32(data, shape, 1);
  mlx_array r = mlx_array_new();
  CHECK(mlx_argsort(&r, a, s) == 0 && mlx_array_eval(r) == 0);
  CHECK(mlx_array_dtype(r) == MLX_UINT32);
  const uint32_t *p = mlx_array_data_uint32(r);
  uint32_t want[6] = {4, 2, 3, 5, 0, 1};
  for (int i = 0; p && i < 6; i++) CHECK(p[i] == want[i]);
  CHECK(mlx_topk(&r, a, 2, s) == 0 && mlx_array_eval(r) == 0);
  const float *f = mlx_array_data_float32(r);
  CHECK(f && ((f[0] == 3 && isnan(f[1])) || (isnan(f[0]) && f[1] == 3)));
  CHECK(mlx_partition_axis(&r, a, 1, 0, s) == 0 && mlx_array_eval(r) == 0);
  f = mlx_array_data_float32(r);
  CHECK(f && f[0] == -INFINITY && f[1] == -1);
  int before = errors_seen;
  CHECK(mlx_partition(&r, a, 6, s) != 0 && errors_seen == before + 1);
  CHECK(mlx_sort_axis(&r, a, 1, s) != 0 && errors_seen == before + 2);
  mlx_array_free(a);
  mlx_array_free(r);
}

int main(void) {
  mlx_set_error_handler(count_error, NULL, NULL);
  mlx_stream s = mlx_default_cpu_stream_new();
  g_stream = s;
  test_gather_scatter(s);
  test_slices(s);
  test_sorting(s);
  mlx_stream_free(s);
  if (failures) {
    fprintf(stderr, "test_indexing: %d failure(s)\n", failures);
    return 1;
  }
  printf("test_indexing: all passed\n");
  return 0;
}
