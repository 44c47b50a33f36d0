/* strbuf.h: a growing, NUL-terminated text buffer for generated source code. Appends that run
 * out of memory set oom and are ignored from then on; the owner frees p. */
#ifndef MX_STRBUF_H
#define MX_STRBUF_H

#include <stdbool.h>
#include <stddef.h>

typedef struct mx_strbuf {
  char *p;
  size_t n, cap;
  bool oom;
} mx_strbuf;

/* Appends printf-style text. */
void mx_strbuf_add(mx_strbuf *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
