/* test_capi.c: exercises the mlx-c compatible C API the way mlx-c's examples do: arrays from
 * data and scalars, generated op wrappers (add, divide in place, sum, reshape, matmul, ...),
 * eval/item/data, vectors, strings, devices/streams, memory, random keys, and the error
 * handler (a failing call returns 1 without exiting). Returns nonzero on failure. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

/* ---- a recording error handler ---- */
typedef struct err_log {
  int count;
  char last[1024];
} err_log;

static void record_error(const char *msg, void *data) {
  err_log *log = data;
  log->count++;
  snprintf(log->last, sizeof log->last, "%s", msg);
}

static int dtor_calls = 0;
static void count_dtor(void *p) {
  (void)p;
  dtor_calls++;
}

static int managed_frees = 0;
static void managed_free(void *p) {
  free(p);
  managed_frees++;
}

/* DESIGN section 4 wants buffers released by the time synchronize returns, but compute
 * tasks may still be dropping theirs: wait up to 2 s for done(arg) and say how long it took,
 * so the delay stays visible without making the test flaky. */
static void settle(bool (*done)(const void *), const void *arg, const char *what) {
  for (int ms = 0; ms < 2000 && !done(arg); ms++) {
    struct timespec ts = {0, 1000000};
    nanosleep(&ts, NULL);
    if (done(arg)) fprintf(stderr, "note: %s came %d ms after synchronize\n", what, ms + 1);
  }
}

static bool counter_set(const void *p) { return *(const int *)p != 0; }
static bool active_below(const void *p) {
  size_t now = 0;
  mlx_get_active_memory(&now);
  return now < *(const size_t *)p;
}

static void print_array(const char *msg, mlx_array arr) {
  mlx_string s = mlx_string_new();
  CHECK(mlx_array_tostring(&s, arr) == 0);
  printf("%s\n%s\n", msg, mlx_string_data(s));
  mlx_string_free(s);
}

static void test_arrays(mlx_stream s) {
  float data[6] = {1, 2, 3, 4, 5, 6};
  int shape[2] = {2, 3};
  mlx_array arr = mlx_array_new_data(data, shape, 2, MLX_FLOAT32);
  CHECK(arr.ctx != NULL);
  CHECK(mlx_array_ndim(arr) == 2);
  CHECK(mlx_array_size(arr) == 6);
  CHECK(mlx_array_dim(arr, 0) == 2 && mlx_array_dim(arr, -1) == 3);
  CHECK(mlx_array_shape(arr)[1] == 3);
  CHECK(mlx_array_dtype(arr) == MLX_FLOAT32);
  CHECK(mlx_array_itemsize(arr) == 4 && mlx_array_nbytes(arr) == 24);
  CHECK(mlx_dtype_size(MLX_FLOAT64) == 8 && mlx_dtype_size(MLX_BFLOAT16) == 2);
  print_array("hello world!", arr);

  /* in place: the output handle aliases an input (mlx-c's example.c) */
  mlx_array two = mlx_array_new_int(2);
  CHECK(mlx_divide(&arr, arr, two, s) == 0);
  CHECK(mlx_array_dtype(arr) == MLX_FLOAT32);
  CHECK(mlx_array_eval(arr) == 0);
  const float *p = mlx_array_data_float32(arr);
  CHECK(p != NULL);
  if (p) {
    for (int i = 0; i < 6; i++) CHECK(CLOSE(p[i], (i + 1) / 2.0));
  }
  print_array("divide by 2!", arr);

  /* add / multiply / sum */
  mlx_array b = mlx_array_new(), total = mlx_array_new();
  CHECK(mlx_add(&b, arr, arr, s) == 0);         /* 1 2 3 4 5 6 */
  CHECK(mlx_multiply(&b, b, two, s) == 0);      /* 2 4 6 8 10 12 (float32 x int32) */
  CHECK(mlx_sum(&total, b, false, s) == 0);
  float f = 0;
  CHECK(mlx_array_item_float32(&f, total) == 0 && CLOSE(f, 42.0));
  double d = 0;
  CHECK(mlx_array_item_float64(&d, total) == 0 && CLOSE(d, 42.0));
  int axes[1] = {1};
  CHECK(mlx_sum_axes(&total, b, axes, 1, true, s) == 0);
  CHECK(mlx_array_ndim(total) == 2 && mlx_array_dim(total, 1) == 1);
  CHECK(mlx_sum_axis(&total, b, 0, false, s) == 0);
  CHECK(mlx_array_eval(total) == 0);
  p = mlx_array_data_float32(total);
  CHECK(p && CLOSE(p[0], 10) && CLOSE(p[1], 14) && CLOSE(p[2], 18));

  /* reshape / transpose / matmul: (2,3) @ (3,2) */
  int shape32[2] = {3, 2};
  mlx_array r = mlx_array_new(), t = mlx_array_new(), mm = mlx_array_new();
  CHECK(mlx_reshape(&r, b, shape32, 2, s) == 0);
  CHECK(mlx_array_dim(r, 0) == 3 && mlx_array_dim(r, 1) == 2);
  CHECK(mlx_transpose(&t, r, s) == 0);
  CHECK(mlx_array_dim(t, 0) == 2 && mlx_array_dim(t, 1) == 3);
  int perm[2] = {1, 0};
  CHECK(mlx_transpose_axes(&t, t, perm, 2, s) == 0);
  CHECK(mlx_array_dim(t, 0) == 3);
  CHECK(mlx_matmul(&mm, b, r, s) == 0); /* b (2,3) @ r (3,2) */
  CHECK(mlx_array_eval(mm) == 0);
  p = mlx_array_data_float32(mm);
  /* b = [[2,4,6],[8,10,12]], r = [[2,4],[6,8],[10,12]] */
  CHECK(p && CLOSE(p[0], 2 * 2 + 4 * 6 + 6 * 10) && CLOSE(p[1], 2 * 4 + 4 * 8 + 6 * 12) &&
        CLOSE(p[2], 8 * 2 + 10 * 6 + 12 * 10) && CLOSE(p[3], 8 * 4 + 10 * 8 + 12 * 12));

  /* other wrappers */
  mlx_array x = mlx_array_new();
  CHECK(mlx_maximum(&x, b, two, s) == 0);
  CHECK(mlx_negative(&x, x, s) == 0);
  CHECK(mlx_abs(&x, x, s) == 0);
  CHECK(mlx_sqrt(&x, x, s) == 0);
  CHECK(mlx_exp(&x, x, s) == 0);
  CHECK(mlx_log(&x, x, s) == 0);
  CHECK(mlx_floor(&x, x, s) == 0);
  CHECK(mlx_stop_gradient(&x, x, s) == 0);
  CHECK(mlx_array_eval(x) == 0);
  p = mlx_array_data_float32(x);
  CHECK(p && CLOSE(p[0], 1) && CLOSE(p[5], 3)); /* floor(sqrt(2)), floor(sqrt(12)) */

  mlx_array cond = mlx_array_new(), w = mlx_array_new();
  mlx_array five = mlx_array_new_float(5.0f);
  CHECK(mlx_greater(&cond, b, five, s) == 0);
  CHECK(mlx_array_dtype(cond) == MLX_BOOL);
  CHECK(mlx_where(&w, cond, b, five, s) == 0);
  CHECK(mlx_sum(&w, w, false, s) == 0);
  CHECK(mlx_array_item_float32(&f, w) == 0 && CLOSE(f, 5 + 5 + 6 + 8 + 10 + 12));
  bool any = false;
  CHECK(mlx_sum(&w, cond, false, s) == 0);
  CHECK(mlx_array_item_bool(&any, w) == 0 && any);
  int32_t ntrue = 0;
  CHECK(mlx_array_item_int32(&ntrue, w) == 0 && ntrue == 4);

  /* creation, astype, broadcast_to, expand_dims */
  int zshape[2] = {2, 2};
  mlx_array z = mlx_array_new(), o = mlx_array_new(), fl = mlx_array_new();
  CHECK(mlx_zeros(&z, zshape, 2, MLX_FLOAT32, s) == 0);
  CHECK(mlx_ones(&o, zshape, 2, MLX_INT32, s) == 0);
  CHECK(mlx_full(&fl, zshape, 2, five, MLX_FLOAT16, s) == 0);
  CHECK(mlx_array_dtype(fl) == MLX_FLOAT16);
  CHECK(mlx_add(&z, z, o, s) == 0);
  CHECK(mlx_astype(&z, z, MLX_FLOAT64, s) == 0);
  CHECK(mlx_array_dtype(z) == MLX_FLOAT64);
  int bshape[3] = {3, 2, 2};
  CHECK(mlx_broadcast_to(&z, z, bshape, 3, s) == 0);
  CHECK(mlx_expand_dims(&z, z, 0, s) == 0);
  CHECK(mlx_array_ndim(z) == 4 && mlx_array_dim(z, 1) == 3);
  CHECK(mlx_sum(&z, z, false, s) == 0);
  CHECK(mlx_array_item_float64(&d, z) == 0 && d == 12.0);
  float16_t h;
  CHECK(mlx_array_item_float16(&h, fl) != 0); /* size 4: not a scalar */
  mlx_array h1 = mlx_array_new();
  CHECK(mlx_sum_axes(&h1, fl, (int[]){0, 1}, 2, false, s) == 0);
  CHECK(mlx_array_item_float16(&h, h1) == 0);
  uint16_t hbits;
  memcpy(&hbits, &h, 2);
  CHECK(hbits == 0x4d00); /* 20.0 in binary16 */

  /* scalars of every constructor, set_* into existing handles */
  mlx_array sc = mlx_array_new_bool(true);
  CHECK(mlx_array_dtype(sc) == MLX_BOOL);
  CHECK(mlx_array_set_float64(&sc, 2.5) == 0 && mlx_array_dtype(sc) == MLX_FLOAT64);
  CHECK(mlx_array_set_complex(&sc, 1.0f, -2.0f) == 0 && mlx_array_dtype(sc) == MLX_COMPLEX64);
  mlx_complex64_t c;
  CHECK(mlx_array_item_complex64(&c, sc) == 0);
  float parts[2];
  memcpy(parts, &c, sizeof parts);
  CHECK(parts[0] == 1.0f && parts[1] == -2.0f);
  int64_t i64data[3] = {-1, 0, 1};
  int one_shape[1] = {3};
  CHECK(mlx_array_set_data(&sc, i64data, one_shape, 1, MLX_INT64) == 0);
  CHECK(mlx_array_eval(sc) == 0);
  const int64_t *ip = mlx_array_data_int64(sc);
  CHECK(ip && ip[0] == -1 && ip[2] == 1);
  mlx_array copy = mlx_array_new();
  CHECK(mlx_array_set(&copy, sc) == 0);
  CHECK(mlx_array_size(copy) == 3);
  CHECK(mlx_copy(&copy, copy, s) == 0);

  /* managed memory: the dtor runs once the last reference dies */
  float *owned = malloc(6 * sizeof *owned);
  for (int i = 0; i < 6; i++) owned[i] = (float)i;
  mlx_array m = mlx_array_new_data_managed(owned, shape, 2, MLX_FLOAT32, managed_free);
  mlx_array msum = mlx_array_new();
  CHECK(mlx_sum(&msum, m, false, s) == 0);
  CHECK(mlx_array_item_float32(&f, msum) == 0 && CLOSE(f, 15));
  print_array("managed", m);
  mlx_array_free(m);
  mlx_array_free(msum);
  CHECK(mlx_synchronize(s) == 0);
  settle(counter_set, &managed_frees, "the managed buffer's release");
  CHECK(managed_frees == 1);

  mlx_array arrays[] = {arr, two, b, total, r, t, mm, x, cond, w, five, z, o, fl, h1, sc, copy};
  for (size_t i = 0; i < sizeof arrays / sizeof arrays[0]; i++) mlx_array_free(arrays[i]);
}

/* Data pointers are row-major even for broadcast and transposed results. */
static void test_data_row_major(mlx_stream s) {
  int shape[2] = {2, 3};
  mlx_array z = mlx_array_new();
  CHECK(mlx_zeros(&z, shape, 2, MLX_FLOAT32, s) == 0);
  const float *pz = mlx_array_data_float32(z);
  CHECK(pz != NULL);
  for (int i = 0; pz && i < 6; i++) CHECK(pz[i] == 0.0f);
  float xs[6] = {1, 2, 3, 4, 5, 6};
  mlx_array x = mlx_array_new_data(xs, shape, 2, MLX_FLOAT32);
  mlx_array t = mlx_array_new();
  CHECK(mlx_transpose(&t, x, s) == 0);
  const float *pt = mlx_array_data_float32(t);
  const float want[6] = {1, 4, 2, 5, 3, 6};
  for (int i = 0; pt && i < 6; i++) CHECK(pt[i] == want[i]);
  mlx_array_free(z);
  mlx_array_free(x);
  mlx_array_free(t);
}

static void test_vectors_strings(mlx_stream s) {
  mlx_array a = mlx_array_new_float(1.0f), b = mlx_array_new_float(2.0f);
  mlx_vector_array v = mlx_vector_array_new();
  CHECK(mlx_vector_array_size(v) == 0);
  CHECK(mlx_vector_array_append_value(v, a) == 0);
  CHECK(mlx_vector_array_append_data(v, (mlx_array[]){b, a}, 2) == 0);
  CHECK(mlx_vector_array_size(v) == 3);
  mlx_array got = mlx_array_new();
  CHECK(mlx_vector_array_get(&got, v, 1) == 0);
  float f = 0;
  CHECK(mlx_array_item_float32(&f, got) == 0 && f == 2.0f);
  CHECK(mlx_eval(v) == 0);
  CHECK(mlx_async_eval(v) == 0);

  /* an empty handle (as a closure's output arrives) accepts set, not append */
  mlx_vector_array empty = {NULL};
  CHECK(mlx_vector_array_set_value(&empty, b) == 0);
  CHECK(mlx_vector_array_size(empty) == 1);

  /* depends: outputs equal the inputs */
  mlx_vector_array deps = mlx_vector_array_new_value(b), outs = mlx_vector_array_new();
  CHECK(mlx_depends(&outs, v, deps) == 0);
  CHECK(mlx_vector_array_size(outs) == 3);
  CHECK(mlx_vector_array_get(&got, outs, 0) == 0);
  CHECK(mlx_array_item_float32(&f, got) == 0 && f == 1.0f);

  mlx_vector_vector_array vv = mlx_vector_vector_array_new_value(v);
  CHECK(mlx_vector_vector_array_append_value(vv, deps) == 0);
  CHECK(mlx_vector_vector_array_size(vv) == 2);
  mlx_vector_array inner = mlx_vector_array_new();
  CHECK(mlx_vector_vector_array_get(&inner, vv, 0) == 0);
  CHECK(mlx_vector_array_size(inner) == 3);

  int ints[3] = {4, 5, 6};
  mlx_vector_int vi = mlx_vector_int_new_data(ints, 3);
  CHECK(mlx_vector_int_append_value(vi, 7) == 0);
  int iv = 0;
  CHECK(mlx_vector_int_size(vi) == 4 && mlx_vector_int_get(&iv, vi, 3) == 0 && iv == 7);

  const char *words[2] = {"alpha", "beta"};
  mlx_vector_string vs = mlx_vector_string_new_data(words, 2);
  char *w = NULL;
  CHECK(mlx_vector_string_get(&w, vs, 1) == 0 && w && strcmp(w, "beta") == 0);
  mlx_vector_string vs2 = mlx_vector_string_new();
  CHECK(mlx_vector_string_set(&vs2, vs) == 0 && mlx_vector_string_size(vs2) == 2);

  mlx_string str = mlx_string_new_data("hello"), str2 = mlx_string_new();
  CHECK(strcmp(mlx_string_data(str), "hello") == 0);
  CHECK(mlx_string_set(&str2, str) == 0 && strcmp(mlx_string_data(str2), "hello") == 0);
  mlx_string ver = mlx_string_new();
  CHECK(mlx_version(&ver) == 0 && strlen(mlx_string_data(ver)) > 0);
  printf("MLX version: %s\n", mlx_string_data(ver));

  (void)s;
  mlx_array_free(a);
  mlx_array_free(b);
  mlx_array_free(got);
  mlx_vector_array_free(v);
  mlx_vector_array_free(empty);
  mlx_vector_array_free(deps);
  mlx_vector_array_free(outs);
  mlx_vector_array_free(inner);
  mlx_vector_vector_array_free(vv);
  mlx_vector_int_free(vi);
  mlx_vector_string_free(vs);
  mlx_vector_string_free(vs2);
  mlx_string_free(str);
  mlx_string_free(str2);
  mlx_string_free(ver);
}

static void test_devices_streams(void) {
  int n = -1;
  CHECK(mlx_device_count(&n, MLX_CPU) == 0 && n >= 1);
  CHECK(mlx_device_count(&n, MLX_GPU) == 0 && n >= 0);
  mlx_device dev = mlx_device_new();
  CHECK(mlx_get_default_device(&dev) == 0 && dev.ctx != NULL);
  mlx_device cpu = mlx_device_new_type(MLX_CPU, 0);
  bool ok = false;
  CHECK(mlx_device_is_available(&ok, cpu) == 0 && ok);
  mlx_device_type type;
  int index = -1;
  CHECK(mlx_device_get_type(&type, cpu) == 0 && type == MLX_CPU);
  CHECK(mlx_device_get_index(&index, cpu) == 0 && index == 0);
  mlx_string str = mlx_string_new();
  CHECK(mlx_device_tostring(&str, cpu) == 0 && strcmp(mlx_string_data(str), "Device(cpu, 0)") == 0);

  mlx_device_info info = mlx_device_info_new();
  CHECK(mlx_device_info_get(&info, cpu) == 0);
  mlx_vector_string keys = mlx_vector_string_new();
  CHECK(mlx_device_info_get_keys(&keys, info) == 0);
  for (size_t i = 0; i < mlx_vector_string_size(keys); i++) {
    char *key;
    mlx_vector_string_get(&key, keys, i);
    bool is_string = false;
    mlx_device_info_is_string(&is_string, info, key);
    if (is_string) {
      const char *value;
      CHECK(mlx_device_info_get_string(&value, info, key) == 0);
      printf("%s: %s\n", key, value);
    } else {
      size_t value;
      CHECK(mlx_device_info_get_size(&value, info, key) == 0);
      printf("%s: %zu\n", key, value);
    }
  }
  const char *missing;
  CHECK(mlx_device_info_get_string(&missing, info, "no such key") == 2);

  mlx_stream s1 = mlx_default_cpu_stream_new(), s2 = mlx_stream_new();
  CHECK(mlx_get_default_stream(&s2, cpu) == 0);
  CHECK(mlx_stream_equal(s1, s2));
  mlx_device sd = mlx_device_new();
  CHECK(mlx_stream_get_device(&sd, s1) == 0 && mlx_device_equal(sd, cpu));
  CHECK(mlx_stream_get_index(&index, s1) == 0 && index >= 0);
  CHECK(mlx_stream_tostring(&str, s1) == 0);
  printf("%s\n", mlx_string_data(str));
  mlx_stream s3 = mlx_stream_new_device(cpu);
  CHECK(s3.ctx != NULL && !mlx_stream_equal(s1, s3));
  CHECK(mlx_synchronize(s1) == 0);
  mlx_stream gpu = mlx_default_gpu_stream_new(); /* aliases the CPU without a GPU */
  CHECK(gpu.ctx != NULL);
  CHECK(mlx_set_default_stream(s1) == 0);
  CHECK(mlx_set_default_device(cpu) == 0);

  mlx_string_free(str);
  mlx_device_info_free(info);
  mlx_vector_string_free(keys);
  mlx_device_free(dev);
  mlx_device_free(cpu);
  mlx_device_free(sd);
  mlx_stream_free(s1);
  mlx_stream_free(s2);
  mlx_stream_free(s3);
  mlx_stream_free(gpu);
}

static void test_memory(mlx_stream s) {
  size_t active = 0, peak = 0, cache = 0, limit = 0, prev = 0;
  CHECK(mlx_synchronize(s) == 0);
  CHECK(mlx_get_active_memory(&active) == 0);
  CHECK(mlx_get_peak_memory(&peak) == 0 && peak >= active);
  CHECK(mlx_get_cache_memory(&cache) == 0);
  CHECK(mlx_get_memory_limit(&limit) == 0 && limit > 0);
  CHECK(mlx_set_cache_limit(&prev, 0) == 0);
  CHECK(mlx_set_cache_limit(&cache, prev) == 0 && cache == 0);
  CHECK(mlx_set_memory_limit(&prev, limit) == 0 && prev == limit);
  CHECK(mlx_set_wired_limit(&prev, 0) == 0);
  CHECK(mlx_reset_peak_memory() == 0);
  CHECK(mlx_clear_cache() == 0);

  int shape[1] = {1 << 16};
  mlx_array big = mlx_array_new(), one = mlx_array_new_float(1.0f);
  CHECK(mlx_zeros(&big, shape, 1, MLX_FLOAT32, s) == 0);
  CHECK(mlx_add(&big, big, one, s) == 0 && mlx_array_eval(big) == 0); /* materialised */
  mlx_array_free(one);
  size_t with = 0;
  CHECK(mlx_get_active_memory(&with) == 0 && with >= sizeof(float) * (1 << 16));
  mlx_array_free(big);
  CHECK(mlx_synchronize(s) == 0);
  settle(active_below, &with, "the release of active memory");
  size_t after = 0;
  CHECK(mlx_get_active_memory(&after) == 0 && after < with);
}

static void test_random(mlx_stream s) {
  mlx_array key = mlx_array_new(), both = mlx_array_new(), k0 = mlx_array_new(),
            k1 = mlx_array_new();
  CHECK(mlx_random_key(&key, 0) == 0);
  CHECK(mlx_random_split_num(&both, key, 2, s) == 0);
  CHECK(mlx_array_eval(both) == 0);
  const uint32_t *u = mlx_array_data_uint32(both);
  /* spec/semantics.md 7.5 (= JAX's split(PRNGKey(0))) */
  CHECK(u && u[0] == 0xf71f4ea9u && u[1] == 0x39a405d9u && u[2] == 0xa20e4081u &&
        u[3] == 0x4bdfae2fu);
  CHECK(mlx_random_split(&k0, &k1, key, s) == 0);
  CHECK(mlx_array_ndim(k1) == 1 && mlx_array_dim(k1, 0) == 2);
  CHECK(mlx_array_eval(k1) == 0);
  u = mlx_array_data_uint32(k1);
  CHECK(u && u[0] == 0xa20e4081u && u[1] == 0x4bdfae2fu);

  int shape[1] = {4};
  mlx_array lo = mlx_array_new_float(0.0f), hi = mlx_array_new_float(1.0f), x = mlx_array_new();
  CHECK(mlx_random_uniform(&x, lo, hi, shape, 1, MLX_FLOAT32, key, s) == 0);
  CHECK(mlx_array_eval(x) == 0);
  const float *p = mlx_array_data_float32(x);
  CHECK(p && fabsf(p[0] - 0.9653215f) < 1e-5f && fabsf(p[1] - 0.2251590f) < 1e-5f);
  /* no key: drawn from the C API's own sequence */
  CHECK(mlx_random_seed(0) == 0);
  CHECK(mlx_random_uniform(&x, lo, hi, shape, 1, MLX_FLOAT32, mlx_array_empty, s) == 0);
  CHECK(mlx_array_eval(x) == 0);
  p = mlx_array_data_float32(x);
  CHECK(p && fabsf(p[0] - 0.8724144f) < 1e-5f);
  CHECK(mlx_random_normal(&x, shape, 1, MLX_FLOAT32, 1.0f, 2.0f, mlx_array_empty, s) == 0);
  CHECK(mlx_random_normal_broadcast(&x, shape, 1, MLX_FLOAT32, lo, mlx_array_empty, key, s) == 0);
  mlx_array ilo = mlx_array_new_int(0), ihi = mlx_array_new_int(10);
  CHECK(mlx_random_randint(&x, ilo, ihi, shape, 1, MLX_INT32, key, s) == 0);
  CHECK(mlx_array_dtype(x) == MLX_INT32);
  int shape3[1] = {3};
  CHECK(mlx_random_bits(&x, shape3, 1, 4, key, s) == 0 && mlx_array_eval(x) == 0);
  u = mlx_array_data_uint32(x);
  CHECK(u && u[0] == 0xf71f4ea9u && u[1] == 0x508efb2cu && u[2] == 0xa20e4081u);
  mlx_array arrays[] = {key, both, k0, k1, lo, hi, x, ilo, ihi};
  for (size_t i = 0; i < sizeof arrays / sizeof arrays[0]; i++) mlx_array_free(arrays[i]);
}

static void test_errors(mlx_stream s, err_log *log) {
  float data[6] = {1, 2, 3, 4, 5, 6};
  int shape[1] = {6}, bad[1] = {4};
  mlx_array a = mlx_array_new_data(data, shape, 1, MLX_FLOAT32), r = mlx_array_new();
  int before = log->count;
  CHECK(mlx_reshape(&r, a, bad, 1, s) == 1); /* returns, does not exit */
  CHECK(log->count == before + 1);
  CHECK(strstr(log->last, "[reshape]") != NULL);
  CHECK(strstr(log->last, " at ") != NULL && strstr(log->last, ":") != NULL);
  CHECK(r.ctx == NULL); /* untouched */
  printf("reported: %s\n", log->last);

  /* empty handles */
  CHECK(mlx_add(&r, a, mlx_array_empty, s) == 1);
  CHECK(strstr(log->last, "expected a non-empty mlx_array") != NULL);
  mlx_stream none = mlx_stream_new();
  CHECK(mlx_exp(&r, a, none) == 1);
  CHECK(strstr(log->last, "mlx_stream") != NULL);
  /* item on a non-scalar, out-of-range vector access */
  float f;
  CHECK(mlx_array_item_float32(&f, a) == 1);
  mlx_vector_array v = mlx_vector_array_new();
  CHECK(mlx_vector_array_get(&r, v, 3) == 1);
  CHECK(mlx_vector_array_append_value((mlx_vector_array){NULL}, a) == 1);
  int before2 = log->count;
  mlx_error("custom %d", 42);
  CHECK(log->count == before2 + 1 && strncmp(log->last, "custom 42 at ", 13) == 0);

  /* the default handler prints and returns: the program keeps running */
  mlx_set_error_handler(NULL, NULL, NULL);
  CHECK(mlx_reshape(&r, a, bad, 1, s) == 1);
  mlx_vector_array_free(v);
  mlx_array_free(a);
  mlx_array_free(r);
}

int main(void) {
  err_log *log = calloc(1, sizeof *log);
  mlx_set_error_handler(record_error, log, count_dtor);
  mlx_stream s = mlx_default_cpu_stream_new();
  CHECK(s.ctx != NULL);

  test_arrays(s);
  test_data_row_major(s);
  test_vectors_strings(s);
  test_devices_streams();
  test_memory(s);
  test_random(s);
  test_errors(s, log); /* restores the default handler: its dtor runs */
  CHECK(dtor_calls == 1);

  mlx_stream_free(s);
  free(log);
  if (failures) {
    fprintf(stderr, "test_capi: %d failure(s)\n", failures);
    return 1;
  }
  printf("test_capi: all passed\n");
  return 0;
}
