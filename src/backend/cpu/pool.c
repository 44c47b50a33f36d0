/* pool.c: a fork-join thread pool for CPU kernels (pool.h). Helpers sleep on a condition
 * variable until a job is posted; ranges are claimed with an atomic counter; the caller
 * works too and waits for the last range. One job at a time: a caller that finds the pool
 * taken runs its loop inline rather than queueing behind another stream's kernel. */
#include "pool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

typedef struct job {
  mx_cpu_range_fn fn;
  void *ctx;
  int64_t n, chunk, n_chunks;
  _Atomic int64_t next;     /* next chunk to claim */
  _Atomic int64_t done;     /* chunks finished */
} job;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER, finished = PTHREAD_COND_INITIALIZER;
static pthread_mutex_t owner = PTHREAD_MUTEX_INITIALIZER; /* held by the job's caller */
static job *current;
static int active;           /* helpers holding `current` (under mu) */
static uint64_t generation;
static int n_threads;        /* helpers + caller; 0 = not started */
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void run_chunks(job *j) {
  for (;;) {
    int64_t c = atomic_fetch_add(&j->next, 1);
    if (c >= j->n_chunks) return;
    int64_t b = c * j->chunk, e = b + j->chunk < j->n ? b + j->chunk : j->n;
    j->fn(j->ctx, b, e);
    if (atomic_fetch_add(&j->done, 1) + 1 == j->n_chunks) {
      pthread_mutex_lock(&mu);
      pthread_cond_broadcast(&finished);
      pthread_mutex_unlock(&mu);
    }
  }
}

static void *helper_main(void *arg) {
  uint64_t seen = 0;
  for (;;) {
    pthread_mutex_lock(&mu);
    while (generation == seen) pthread_cond_wait(&wake, &mu);
    seen = generation;
    job *j = current;
    if (j) active++;
    pthread_mutex_unlock(&mu);
    if (!j) continue;
    run_chunks(j);
    pthread_mutex_lock(&mu);
    if (--active == 0) pthread_cond_broadcast(&finished);
    pthread_mutex_unlock(&mu);
  }
  return arg;
}

static void after_fork_child(void) {
  /* the helpers do not exist in the child: run everything inline there */
  n_threads = 1;
}

static void start(void) {
  long cores = sysconf(_SC_NPROCESSORS_ONLN);
  const char *env = getenv("MLX_NUM_THREADS");
  if (env && atoi(env) > 0) cores = atoi(env);
  if (cores < 1) cores = 1;
  n_threads = 1;
  for (long i = 1; i < cores; i++) {
    pthread_t t;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&t, &attr, helper_main, NULL) == 0) n_threads++;
    pthread_attr_destroy(&attr);
  }
  pthread_atfork(NULL, NULL, after_fork_child);
}

int mx_cpu_pool_size(void) {
  pthread_once(&once, start);
  return n_threads;
}

void mx_cpu_parallel_for(int64_t n, int64_t grain, mx_cpu_range_fn fn, void *ctx) {
  if (n <= 0) return;
  if (grain < 1) grain = 1;
  int threads = mx_cpu_pool_size();
  if (threads == 1 || n < 2 * grain || pthread_mutex_trylock(&owner) != 0) {
    fn(ctx, 0, n);
    return;
  }
  int64_t chunks = n / grain;
  if (chunks > 4 * (int64_t)threads) chunks = 4 * (int64_t)threads;
  job j = {fn, ctx, n, (n + chunks - 1) / chunks, 0, 0, 0};
  j.n_chunks = (n + j.chunk - 1) / j.chunk;
  pthread_mutex_lock(&mu);
  current = &j;
  generation++;
  pthread_cond_broadcast(&wake);
  pthread_mutex_unlock(&mu);
  run_chunks(&j);
  pthread_mutex_lock(&mu);
  while (atomic_load(&j.done) < j.n_chunks) pthread_cond_wait(&finished, &mu);
  current = NULL;
  while (active > 0) pthread_cond_wait(&finished, &mu); /* no helper still reads &j */
  pthread_mutex_unlock(&mu);
  pthread_mutex_unlock(&owner);
}
