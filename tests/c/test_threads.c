/* test_threads.c: 8 threads build and evaluate graphs at once (some inputs shared), on the
 * CPU and on the (fake, asynchronous) GPU with cross-device waits and a GPU stream shared by
 * all threads; a stream made by new_stream cannot be used from another thread. Run under
 * TSan in CI. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/core/error.h"
#include "../../src/core/eval.h"
#include "../../src/ops/ops.h"
#include "check.h"

#define N_THREADS 8
#define N_ITERS 300

static mx_array *shared;
static mx_stream owned;
static int worker_failures[N_THREADS];
static int foreign_stream_ok[N_THREADS];

static void *worker(void *arg) {
  int id = (int)(intptr_t)arg;
  mx_stream s = mx_default_stream((mx_device){MX_CPU, 0});
  int32_t shape[2] = {16, 16};
  for (int it = 0; it < N_ITERS; it++) {
    mx_array *a = mx_full(shape, 2, shared, MX_FLOAT32, s);
    mx_array *b = mx_multiply(a, shared, s);
    mx_array *k = mx_array_scalar_f64(id, MX_FLOAT32);
    mx_array *c = mx_add(b, k, s);
    mx_array_release(k);
    mx_array *m = mx_matmul(c, a, s);
    mx_array *r = mx_sum(m, NULL, -1, false, s);
    if (mx_eval(&r, 1) != 0) {
      worker_failures[id]++;
    } else {
      float v = *(float *)mx_array_host_data(r);
      float want = 16.0f * 16.0f * 16.0f * (4.0f + id) * 2.0f;
      if (fabsf(v - want) > 1e-3f * want) worker_failures[id]++;
    }
    mx_array_release(a);
    mx_array_release(b);
    mx_array_release(c);
    mx_array_release(m);
    mx_array_release(r);
  }
  mx_array *x = mx_exp(shared, owned);
  foreign_stream_ok[id] = x != NULL;
  if (!x) foreign_stream_ok[id] = -(mx_error_kind_get() == MX_ERUNTIME ? 1 : 0);
  mx_error_clear();
  mx_array_release(x);
  mx_clear_streams();
  return NULL;
}

static void test_threads_build_and_eval(void) {
  shared = mx_array_scalar_f64(2.0, MX_FLOAT32);
  owned = mx_new_stream((mx_device){MX_CPU, 0});
  pthread_t t[N_THREADS];
  for (int i = 0; i < N_THREADS; i++) pthread_create(&t[i], NULL, worker, (void *)(intptr_t)i);
  for (int i = 0; i < N_THREADS; i++) pthread_join(t[i], NULL);
  for (int i = 0; i < N_THREADS; i++) {
    CHECK(worker_failures[i] == 0);
    CHECK(foreign_stream_ok[i] == -1); /* RuntimeError on a stream of another thread */
  }
  mx_array *x = mx_exp(shared, owned); /* the creating thread may use it */
  CHECK(x != NULL);
  CHECK_OK(mx_eval(&x, 1));
  mx_array_release(x);
  mx_array_release(shared);
}

/* Each thread's default GPU stream, its CPU stream and one GPU stream every thread uses:
 * tasks launched by the submitting thread, by the stream's worker (a wait on the CPU task
 * first) and completed by the waiting thread or the completer, some through async_eval. */
static mx_stream shared_gpu;

static void *gpu_worker(void *arg) {
  int id = (int)(intptr_t)arg;
  mx_stream g = mx_default_stream((mx_device){MX_GPU, 0});
  mx_stream c = mx_default_stream((mx_device){MX_CPU, 0});
  int32_t shape[2] = {16, 16};
  for (int it = 0; it < N_ITERS; it++) {
    mx_array *a = mx_full(shape, 2, shared, MX_FLOAT32, g);
    mx_array *b = mx_multiply(a, shared, c);
    mx_array *k = mx_array_scalar_f64(id, MX_FLOAT32);
    mx_array *d = mx_add(b, k, (it & 1) ? shared_gpu : g);
    mx_array_release(k);
    mx_array *m = mx_matmul(d, a, g);
    mx_array *r = mx_sum(m, NULL, -1, false, it % 3 == 0 ? shared_gpu : g);
    int rc = it % 4 == 0 ? mx_async_eval(&r, 1) : mx_eval(&r, 1);
    float *v = rc == 0 ? mx_array_host_data(r) : NULL;
    float want = 16.0f * 16.0f * 16.0f * (4.0f + id) * 2.0f;
    if (!v || fabsf(*v - want) > 1e-3f * want) worker_failures[id]++;
    mx_array_release(a);
    mx_array_release(b);
    mx_array_release(d);
    mx_array_release(m);
    mx_array_release(r);
  }
  mx_clear_streams();
  return NULL;
}

static void test_threads_gpu_streams(void) {
  memset(worker_failures, 0, sizeof worker_failures);
  shared = mx_array_scalar_f64(2.0, MX_FLOAT32);
  shared_gpu = mx_new_thread_unsafe_stream((mx_device){MX_GPU, 0});
  pthread_t t[N_THREADS];
  for (int i = 0; i < N_THREADS; i++) pthread_create(&t[i], NULL, gpu_worker, (void *)(intptr_t)i);
  for (int i = 0; i < N_THREADS; i++) pthread_join(t[i], NULL);
  for (int i = 0; i < N_THREADS; i++) CHECK(worker_failures[i] == 0);
  CHECK_OK(mx_synchronize(shared_gpu));
  mx_array_release(shared);
}

int main(void) {
  setenv("MLX_FAKE_GPU", "1", 0); /* MLX_FAKE_GPU=0 runs it on a real GPU */
  RUN(test_threads_build_and_eval);
  RUN(test_threads_gpu_streams);
  mx_synchronize_all();
  return check_failures ? 1 : 0;
}
