/* scope.c: thread-local autorelease pools (scope.h). One growable stack of arrays per
 * thread; a scope is a mark into it. */
#include "scope.h"

#include <pthread.h>
#include <stdlib.h>

#include "error.h"

typedef struct pool {
  mx_array **v;
  size_t n, cap;
  int depth;
} pool;

static _Thread_local pool tp;
static pthread_key_t pool_key;
static pthread_once_t pool_once = PTHREAD_ONCE_INIT;

static void pool_free(void *p) {
  pool *pl = p;
  free(pl->v);
  pl->v = NULL;
  pl->n = pl->cap = 0;
}

static void pool_key_init(void) { pthread_key_create(&pool_key, pool_free); }

size_t mx_scope_begin(void) {
  tp.depth++;
  return tp.n;
}

void mx_scope_end(size_t mark) {
  MX_ASSERT(tp.depth > 0 && mark <= tp.n);
  while (tp.n > mark) mx_array_release(tp.v[--tp.n]);
  tp.depth--;
}

bool mx_scope_active(void) { return tp.depth > 0; }

mx_array *mx_scope_adopt(mx_array *a) {
  if (!a || tp.depth == 0) return a;
  if (tp.n == tp.cap) {
    size_t cap = tp.cap ? tp.cap * 2 : 64;
    mx_array **nv = realloc(tp.v, cap * sizeof *nv);
    if (!nv) {
      mx_array_release(a);
      return mx_fail(MX_ENOMEM, "[scope] Unable to grow the scope.");
    }
    if (!tp.v) { /* first use on this thread: free at thread exit */
      pthread_once(&pool_once, pool_key_init);
      pthread_setspecific(pool_key, &tp);
    }
    tp.v = nv;
    tp.cap = cap;
  }
  tp.v[tp.n++] = a;
  return a;
}

mx_array *mx_keep(mx_array *a) {
  mx_array_retain(a);
  return a;
}

int mx_scope_suspend(void) {
  int d = tp.depth;
  tp.depth = 0;
  return d;
}

void mx_scope_resume(int token) { tp.depth = token; }
