/* test_threads_pool.c: the CPU thread pool covers every index exactly once, from one caller
 * and from several callers at once (the busy pool runs loops inline). Run under TSan in CI. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "../../src/backend/cpu/pool.h"
#include "check.h"

typedef struct counts {
  _Atomic int *hits;
} counts;

static void mark(void *ctx, int64_t b, int64_t e) {
  counts *c = ctx;
  for (int64_t i = b; i < e; i++) atomic_fetch_add(&c->hits[i], 1);
}

static int covered_once(int64_t n, int64_t grain) {
  counts c = {calloc((size_t)n + 1, sizeof(int))};
  mx_cpu_parallel_for(n, grain, mark, &c);
  int ok = 1;
  for (int64_t i = 0; i < n; i++) ok &= c.hits[i] == 1;
  free(c.hits);
  return ok;
}

static void test_pool_single_caller(void) {
  CHECK(mx_cpu_pool_size() >= 1);
  CHECK(covered_once(0, 16));
  CHECK(covered_once(1, 16));
  CHECK(covered_once(100, 16));
  CHECK(covered_once(1 << 20, 1000));
  CHECK(covered_once(12345, 7));
}

static void *caller(void *arg) {
  int *ok = arg;
  for (int i = 0; i < 50; i++) *ok &= covered_once(50000 + i, 1000);
  return NULL;
}

static void test_pool_concurrent_callers(void) {
  pthread_t t[4];
  int ok[4] = {1, 1, 1, 1};
  for (int i = 0; i < 4; i++) pthread_create(&t[i], NULL, caller, &ok[i]);
  for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
  for (int i = 0; i < 4; i++) CHECK(ok[i]);
}

int main(void) {
  RUN(test_pool_single_caller);
  RUN(test_pool_concurrent_callers);
  return check_failures ? 1 : 0;
}
