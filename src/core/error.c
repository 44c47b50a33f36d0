/* error.c: thread-local error state and the assertion hook (see error.h). */
#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static _Thread_local mx_error_kind tl_kind;
static _Thread_local char tl_msg[MX_ERROR_MAX];

static void set_error(mx_error_kind kind, const char *fmt, va_list ap) {
  tl_kind = kind;
  vsnprintf(tl_msg, sizeof tl_msg, fmt, ap);
}

void *mx_fail(mx_error_kind kind, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  set_error(kind, fmt, ap);
  va_end(ap);
  return NULL;
}

int mx_fail_int(mx_error_kind kind, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  set_error(kind, fmt, ap);
  va_end(ap);
  return -1;
}

mx_error_kind mx_error_kind_get(void) { return tl_kind; }
const char *mx_error_message(void) { return tl_msg; }

void mx_error_clear(void) {
  tl_kind = MX_OK;
  tl_msg[0] = '\0';
}

void mx_error_save(mx_error_kind *kind, char msg[MX_ERROR_MAX]) {
  *kind = tl_kind;
  memcpy(msg, tl_msg, MX_ERROR_MAX);
}

void mx_error_restore(mx_error_kind kind, const char *msg) {
  tl_kind = kind;
  snprintf(tl_msg, sizeof tl_msg, "%s", msg);
}

void mx_assert_fail(const char *expr, const char *file, int line) {
  fprintf(stderr, "mlx internal error: assertion `%s` failed at %s:%d\n", expr, file, line);
  abort();
}
