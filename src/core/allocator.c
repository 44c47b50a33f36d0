/* allocator.c: size-class caching allocators for host and device memory and the memory
 * counters behind mx.get_active_memory & co. (DESIGN section 4). One mutex guards the
 * counters and free lists; blocks are handed out by size class so a freed block of a class
 * serves the next request of that class. */
#include "allocator.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include "device.h"
#include "error.h"

#define N_CLASSES 256

typedef struct free_list {
  void **blocks;
  int n, cap;
} free_list;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static free_list cache[2][N_CLASSES];
static size_t active, peak, cached;
static size_t memory_limit, cache_limit, wired_limit;
static bool limits_set;
static int inject_count;
static bool inject_tasks_only;

_Thread_local bool mx_in_task; /* set by stream workers while a task runs */

/* Class of n bytes: 16-byte steps up to 256, then four classes per power of two. */
static int size_class(size_t n, size_t *class_bytes) {
  if (n <= 256) {
    size_t c = (n + 15) / 16;
    if (c == 0) c = 1;
    *class_bytes = c * 16;
    return (int)c - 1;
  }
  int lg = 63 - __builtin_clzll((unsigned long long)(n - 1)); /* 2^lg < n <= 2^(lg+1) */
  size_t base = (size_t)1 << lg, step = base / 4;
  size_t sub = (n - base + step - 1) / step; /* 1..4 */
  *class_bytes = base + sub * step;
  int idx = 16 + (lg - 8) * 4 + (int)sub - 1;
  return idx < N_CLASSES ? idx : -1;  /* -1: too large to cache */
}

static void init_limits_locked(void) {
  if (limits_set) return;
  long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  size_t ram = (pages > 0 && page > 0) ? (size_t)pages * (size_t)page : (size_t)8 << 30;
  memory_limit = ram / 10 * 9;
  cache_limit = memory_limit;
  limits_set = true;
}

static void *raw_alloc(size_t n, mx_mem_where where) {
  if (where == MX_MEM_HOST) return malloc(n ? n : 1);
  const mx_gpu_backend *g = mx_gpu();
  return g ? g->malloc(n ? n : 1) : NULL;
}

static void raw_free(void *p, mx_mem_where where) {
  if (where == MX_MEM_HOST) {
    free(p);
  } else {
    const mx_gpu_backend *g = mx_gpu();
    if (g) g->free(p);
  }
}

static void clear_cache_locked(void) {
  for (int w = 0; w < 2; w++) {
    for (int c = 0; c < N_CLASSES; c++) {
      free_list *fl = &cache[w][c];
      for (int i = 0; i < fl->n; i++) raw_free(fl->blocks[i], (mx_mem_where)w);
      fl->n = 0;
    }
  }
  cached = 0;
}

void *mx_mem_alloc(size_t nbytes, mx_mem_where where) {
  size_t cb;
  int c = size_class(nbytes, &cb);
  if (c < 0) cb = nbytes;
  pthread_mutex_lock(&mu);
  init_limits_locked();
  if (inject_count > 0 && (!inject_tasks_only || mx_in_task)) {
    inject_count--;
    pthread_mutex_unlock(&mu);
    return mx_fail(MX_ENOMEM, "[malloc] Unable to allocate %zu bytes.", nbytes);
  }
  void *p = NULL;
  if (c >= 0 && cache[where][c].n > 0) {
    p = cache[where][c].blocks[--cache[where][c].n];
    cached -= cb;
  }
  pthread_mutex_unlock(&mu);
  if (!p) {
    p = raw_alloc(cb, where);
    if (!p) {
      pthread_mutex_lock(&mu);
      clear_cache_locked();
      pthread_mutex_unlock(&mu);
      p = raw_alloc(cb, where);
      if (!p) return mx_fail(MX_ENOMEM, "[malloc] Unable to allocate %zu bytes.", nbytes);
    }
  }
  pthread_mutex_lock(&mu);
  active += cb;
  if (active > peak) peak = active;
  pthread_mutex_unlock(&mu);
  return p;
}

void mx_mem_free(void *p, size_t nbytes, mx_mem_where where) {
  if (!p) return;
  size_t cb;
  int c = size_class(nbytes, &cb);
  if (c < 0) cb = nbytes;
  pthread_mutex_lock(&mu);
  MX_ASSERT(active >= cb);
  active -= cb;
  if (c >= 0 && cached + cb <= cache_limit) {
    free_list *fl = &cache[where][c];
    if (fl->n == fl->cap) {
      int cap = fl->cap ? fl->cap * 2 : 8;
      void **nb = realloc(fl->blocks, (size_t)cap * sizeof(void *));
      if (nb) {
        fl->blocks = nb;
        fl->cap = cap;
      }
    }
    if (fl->n < fl->cap) {
      fl->blocks[fl->n++] = p;
      cached += cb;
      pthread_mutex_unlock(&mu);
      return;
    }
  }
  pthread_mutex_unlock(&mu);
  raw_free(p, where);
}

#define LOCKED_READ(expr)            \
  do {                               \
    pthread_mutex_lock(&mu);         \
    init_limits_locked();            \
    size_t v_ = (expr);              \
    pthread_mutex_unlock(&mu);       \
    return v_;                       \
  } while (0)

size_t mx_memory_active(void) { LOCKED_READ(active); }
size_t mx_memory_peak(void) { LOCKED_READ(peak); }
size_t mx_memory_cache(void) { LOCKED_READ(cached); }
size_t mx_memory_limit(void) { LOCKED_READ(memory_limit); }

void mx_memory_reset_peak(void) {
  pthread_mutex_lock(&mu);
  peak = 0;
  pthread_mutex_unlock(&mu);
}

size_t mx_memory_set_limit(size_t limit) {
  pthread_mutex_lock(&mu);
  init_limits_locked();
  size_t old = memory_limit;
  memory_limit = limit;
  pthread_mutex_unlock(&mu);
  return old;
}

size_t mx_memory_set_cache_limit(size_t limit) {
  pthread_mutex_lock(&mu);
  init_limits_locked();
  size_t old = cache_limit;
  cache_limit = limit;
  if (cached > cache_limit) clear_cache_locked();
  pthread_mutex_unlock(&mu);
  return old;
}

size_t mx_memory_set_wired_limit(size_t limit) {
  pthread_mutex_lock(&mu);
  size_t old = wired_limit;
  wired_limit = limit;
  pthread_mutex_unlock(&mu);
  return old;
}

void mx_memory_clear_cache(void) {
  pthread_mutex_lock(&mu);
  clear_cache_locked();
  pthread_mutex_unlock(&mu);
}

void mx_memory_inject_failures(int count, bool in_tasks_only) {
  pthread_mutex_lock(&mu);
  inject_count = count;
  inject_tasks_only = in_tasks_only;
  pthread_mutex_unlock(&mu);
}
