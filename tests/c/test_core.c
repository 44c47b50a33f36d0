/* test_core.c: invariant tests of the core (DESIGN section 10): deep graphs through eval,
 * release, vjp and DOT export; sibling release; an error inside a task reaching eval;
 * donation on the KV-cache update; residency under the fake device; memory accounting. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/core/allocator.h"
#include "../../src/core/error.h"
#include "../../src/core/eval.h"
#include "../../src/core/print.h"
#include "../../src/ops/ops.h"
#include "../../src/transforms/transforms.h"
#include "check.h"

#define CPU mx_default_stream((mx_device){MX_CPU, 0})
#define GPU mx_default_stream((mx_device){MX_GPU, 0})

static float item_f32(mx_array *a) {
  float *p = mx_array_host_data(a);
  return p ? *p : NAN;
}

static void test_deep_chain_eval_and_free(void) {
  mx_array *one = mx_array_scalar_f64(1.0, MX_FLOAT32);
  mx_array *y = mx_array_scalar_f64(0.0, MX_FLOAT32);
  for (int i = 0; i < 1000000; i++) {
    mx_array *n = mx_add(y, one, CPU);
    mx_array_release(y);
    y = n;
  }
  CHECK_OK(mx_eval(&y, 1));
  CHECK(item_f32(y) == 1000000.0f);
  mx_array_release(y);
  /* an unevaluated deep chain frees without recursion */
  y = mx_array_scalar_f64(0.0, MX_FLOAT32);
  for (int i = 0; i < 1000000; i++) {
    mx_array *n = mx_add(y, one, CPU);
    mx_array_release(y);
    y = n;
  }
  mx_array_release(y);
  mx_array_release(one);
}

static int chain_fn(void *payload, mx_array *const *in, int n_in, mx_array **out, int max_out, int *n_out) {
  int depth = *(int *)payload;
  mx_array *y = mx_keep(in[0]);
  for (int i = 0; i < depth; i++) {
    mx_array *n = mx_add(y, in[0], CPU);
    mx_array_release(y);
    y = n;
  }
  out[0] = mx_sum(y, NULL, -1, false, CPU);
  mx_array_release(y);
  *n_out = 1;
  return out[0] ? 0 : -1;
}

static void test_deep_chain_grad_and_dot(void) {
  int depth = 1000000;
  mx_closure fn = {chain_fn, &depth};
  int32_t shape[1] = {3};
  float xs[3] = {1, 2, 3};
  mx_array *x = mx_array_from_data(xs, MX_FLOAT32, 1, shape);
  mx_array *outs[1], *grads[1];
  int n_out = 0, argnum = 0;
  CHECK_OK(mx_value_and_grad(fn, &x, 1, &argnum, 1, outs, 1, &n_out, grads));
  if (n_out == 1) {
    CHECK_OK(mx_eval(grads, 1));
    float *g = mx_array_host_data(grads[0]);
    CHECK(g && g[0] == (float)(depth + 1) && g[2] == (float)(depth + 1));
    mx_array_release(outs[0]);
    mx_array_release(grads[0]);
  }
  mx_array_release(x);
}

static void test_deep_dot_export(void) {
  mx_array *one = mx_array_scalar_f64(1.0, MX_FLOAT32);
  mx_array *y = mx_exp(one, CPU);
  for (int i = 0; i < 100000; i++) {
    mx_array *n = mx_add(y, one, CPU);
    mx_array_release(y);
    y = n;
  }
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  const char *name = "out";
  CHECK_OK(mx_export_to_dot(f, &y, &name, 1));
  fclose(f);
  CHECK(text && strstr(text, "digraph") && strstr(text, "Add") && strstr(text, "out"));
  CHECK(len > 100000 * 20);
  free(text);
  mx_array_release(y);
  mx_array_release(one);
}

static void test_siblings_freed(void) {
  size_t before = mx_memory_active();
  int32_t shape[1] = {1024};
  mx_array *a = mx_ones(shape, 1, MX_FLOAT32, CPU);
  mx_array *b = mx_exp(a, CPU);
  mx_array *in[2] = {a, b}, *out[2];
  CHECK_OK(mx_depends(in, 2, NULL, 0, out));
  mx_array_release(out[0]);
  CHECK_OK(mx_eval(&out[1], 1));
  mx_array_release(out[1]);
  mx_array_release(a);
  mx_array_release(b);
  mx_synchronize(CPU);
  CHECK(mx_memory_active() == before);
}

static void test_error_inside_task(void) {
  int32_t shape[1] = {256};
  float ones[256];
  for (int i = 0; i < 256; i++) ones[i] = 1.0f;
  /* 256 elements on the host only (mx_ones would be a broadcast scalar: passed by value) */
  mx_array *a = mx_array_from_data(ones, MX_FLOAT32, 1, shape);
  mx_array *b = mx_exp(a, GPU); /* the GPU task uploads a: an allocation inside the task */
  mx_memory_inject_failures(1, true);
  CHECK(mx_eval(&b, 1) != 0);
  CHECK(mx_error_kind_get() == MX_ENOMEM);
  CHECK(strstr(mx_error_message(), "[malloc] Unable to allocate") != NULL);
  mx_error_clear();
  mx_memory_inject_failures(0, false);
  mx_array *c = mx_exp(a, GPU); /* the process keeps working */
  CHECK_OK(mx_eval(&c, 1));
  CHECK(fabsf(item_f32(c) - expf(1.0f)) < 1e-6f);
  mx_array_release(a);
  mx_array_release(b);
  mx_array_release(c);
}

static void test_donation_kv_cache(void) {
  int32_t shape[4] = {1, 8, 4096, 128}, kshape[4] = {1, 8, 1, 128};
  mx_array *cache = mx_zeros(shape, 4, MX_FLOAT32, CPU);
  mx_array *k = mx_ones(kshape, 4, MX_FLOAT32, CPU);
  CHECK_OK(mx_eval(&k, 1));
  size_t bytes = (size_t)8 * 4096 * 128 * 4;
  void *first = NULL;
  bool same = true;
  for (int i = 0; i < 1000; i++) {
    int32_t start[4] = {0, 0, i, 0}, stop[4] = {1, 8, i + 1, 128}, strides[4] = {1, 1, 1, 1};
    mx_array *n = mx_slice_update(cache, k, start, stop, strides, CPU);
    mx_array_release(cache);
    cache = n;
    CHECK_OK(mx_eval(&cache, 1));
    if (i == 1) {
      first = cache->buf;
      mx_memory_reset_peak();
    } else if (i > 1) {
      same &= cache->buf == first;
    }
  }
  CHECK(same);
  CHECK(mx_memory_peak() <= mx_memory_active() + bytes / 8);
  float *p = mx_array_host_data(cache);
  CHECK(p && p[0] == 1.0f && p[999 * 128] == 1.0f && p[1000 * 128] == 0.0f);
  mx_array_release(cache);
  mx_array_release(k);
}

static void test_residency_fake_gpu(void) {
  int32_t shape[1] = {1000};
  float xs[1000];
  for (int i = 0; i < 1000; i++) xs[i] = (float)i;
  mx_synchronize(CPU);
  size_t base = mx_memory_active();
  mx_array *a = mx_array_from_data(xs, MX_FLOAT32, 1, shape);
  mx_array *b = mx_add(a, a, GPU);
  CHECK_OK(mx_eval(&b, 1));
  CHECK(!mx_buffer_valid_on(b->buf, MX_MEM_HOST) && mx_buffer_valid_on(b->buf, MX_MEM_DEVICE));
  CHECK(mx_buffer_valid_on(a->buf, MX_MEM_DEVICE)); /* uploaded once on first GPU use */
  size_t after = mx_memory_active();
  CHECK(after - base >= 3 * 4000); /* a on host and device, b on device */
  float *pb = mx_array_host_data(b); /* host mirror after the producer's event */
  CHECK(mx_memory_active() - after >= 4000);
  bool ok = pb != NULL;
  for (int i = 0; ok && i < 1000; i++) ok = pb[i] == 2.0f * i;
  CHECK(ok);
  mx_array *c = mx_add(b, b, CPU); /* a CPU op reads the mirror */
  float *pc = mx_array_host_data(c);
  ok = pc != NULL;
  for (int i = 0; ok && i < 1000; i++) ok = pc[i] == 4.0f * i;
  CHECK(ok);
  mx_array_release(a);
  mx_array_release(b);
  mx_array_release(c);
  mx_synchronize(CPU);
  mx_synchronize(GPU);
  CHECK(mx_memory_active() == base);
}

static void test_memory_api(void) {
  mx_synchronize(CPU);
  size_t base = mx_memory_active();
  int32_t shape[1] = {1 << 20};
  mx_array *a = mx_ones(shape, 1, MX_FLOAT32, CPU);
  mx_array *b = mx_exp(a, CPU);
  CHECK_OK(mx_eval(&b, 1));
  CHECK(mx_memory_active() >= base + (4u << 20));
  mx_array_release(a);
  mx_array_release(b);
  mx_synchronize(CPU);
  CHECK(mx_memory_active() == base);
  CHECK(mx_memory_cache() >= (4u << 20));
  mx_memory_reset_peak();
  CHECK(mx_memory_peak() == 0);
  size_t old = mx_memory_set_cache_limit(0);
  CHECK(mx_memory_cache() == 0);
  mx_memory_set_cache_limit(old);
}

static void test_errors_and_print(void) {
  int32_t shape[2] = {2, 3}, bad[2] = {4, 2};
  int xs[6] = {1, 2, 3, 4, 5, 6};
  mx_array *a = mx_array_from_data(xs, MX_INT32, 2, shape);
  CHECK(mx_reshape(a, bad, 2, CPU) == NULL);
  CHECK(mx_error_kind_get() == MX_EINVAL && strncmp(mx_error_message(), "[reshape]", 9) == 0);
  mx_error_clear();
  CHECK(mx_exp(NULL, CPU) == NULL);
  char *text = NULL;
  CHECK_OK(mx_array_format(a, true, &text));
  CHECK(text && strcmp(text, "array([[1, 2, 3],\n       [4, 5, 6]], dtype=int32)") == 0);
  free(text);
  mx_array *t = mx_transpose(a, NULL, -1, CPU);
  CHECK_OK(mx_array_format(t, true, &text));
  CHECK(text && strcmp(text, "array([[1, 4],\n       [2, 5],\n       [3, 6]], dtype=int32)") == 0);
  free(text);
  mx_array_release(t);
  mx_array_release(a);
}

static void test_random_vectors(void) {
  mx_array *k = mx_random_key(0);
  mx_array *s = mx_random_split(k, 2, CPU);
  uint32_t *v = mx_array_host_data(s);
  CHECK(v && v[0] == 0xf71f4ea9u && v[1] == 0x39a405d9u && v[2] == 0xa20e4081u && v[3] == 0x4bdfae2fu);
  mx_array *lo = mx_array_scalar_f64(0, MX_FLOAT32), *hi = mx_array_scalar_f64(1, MX_FLOAT32);
  int32_t shape[1] = {4};
  mx_array *u = mx_random_uniform(lo, hi, shape, 1, MX_FLOAT32, k, CPU);
  float *pu = mx_array_host_data(u);
  const float want[4] = {0.9653215f, 0.2251590f, 0.6330300f, 0.2963818f};
  for (int i = 0; pu && i < 4; i++) CHECK(fabsf(pu[i] - want[i]) < 1e-6f);
  mx_array *nrm = mx_random_normal(shape, 1, MX_FLOAT32, NULL, NULL, k, CPU);
  float *pn = mx_array_host_data(nrm);
  const float wn[4] = {1.816087f, -0.754885f, 0.339889f, -0.534835f};
  for (int i = 0; pn && i < 4; i++) CHECK(fabsf(pn[i] - wn[i]) < 1e-4f);
  mx_array_release(k);
  mx_array_release(s);
  mx_array_release(lo);
  mx_array_release(hi);
  mx_array_release(u);
  mx_array_release(nrm);
}

int main(void) {
  setenv("MLX_FAKE_GPU", "1", 1);
  RUN(test_errors_and_print);
  RUN(test_memory_api);
  RUN(test_siblings_freed);
  RUN(test_deep_chain_eval_and_free);
  RUN(test_deep_chain_grad_and_dot);
  RUN(test_deep_dot_export);
  RUN(test_error_inside_task);
  RUN(test_donation_kv_cache);
  RUN(test_residency_fake_gpu);
  RUN(test_random_vectors);
  mx_synchronize_all();
  return check_failures ? 1 : 0;
}
