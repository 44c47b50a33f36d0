/* scope.c: thread-local autorelease pools (scope.h). One growable stack of arrays per
 * thread; a scope is a mark into it. */
#include "scope.h"

#include <stdlib.h>

#include "error.h"

typedef struct pool {
  mx_array **v;
  size_t n, cap;
  int depth;
} pool;

static _Thread_local pool tp;

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
