/* strbuf.c: the growing text buffer of strbuf.h. */
#include "strbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

void mx_strbuf_add(mx_strbuf *s, const char *fmt, ...) {
  if (s->oom) return;
  for (;;) {
    va_list ap;
    va_start(ap, fmt);
    size_t room = s->cap - s->n;
    int k = vsnprintf(s->p ? s->p + s->n : NULL, s->p ? room : 0, fmt, ap);
    va_end(ap);
    if (k < 0) {
      s->oom = true;
      return;
    }
    if (s->p && (size_t)k < room) {
      s->n += (size_t)k;
      return;
    }
    size_t cap = s->cap ? s->cap : 4096;
    while (cap - s->n <= (size_t)k) cap *= 2;
    char *q = realloc(s->p, cap);
    if (!q) {
      s->oom = true;
      return;
    }
    s->p = q;
    s->cap = cap;
  }
}
