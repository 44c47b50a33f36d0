/* error.c: the mlx-c error handler (mlx/c/error.h) and the reporting helpers of
 * capi_private.h. A failure is reported as "<message> at <file>:<line>"; the default handler
 * prints it and returns (DESIGN section 1: the library never exits on a user error). */
#include "capi_private.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

static void default_handler(const char *msg, void *data) {
  (void)data;
  printf("MLX error: %s\n", msg);
  fflush(stdout);
}

static pthread_mutex_t handler_lock = PTHREAD_MUTEX_INITIALIZER;
static mlx_error_handler_func handler = default_handler;
static void *handler_data;
static void (*handler_dtor)(void *);

void mlx_set_error_handler(mlx_error_handler_func h, void *data, void (*dtor)(void *)) {
  pthread_mutex_lock(&handler_lock);
  void *old_data = handler_data;
  void (*old_dtor)(void *) = handler_dtor;
  handler = h ? h : default_handler;
  handler_data = data;
  handler_dtor = dtor;
  pthread_mutex_unlock(&handler_lock);
  if (old_dtor) old_dtor(old_data);
}

void mx_capi_error_at(const char *file, int line, const char *msg) {
  char buf[MX_ERROR_MAX + 512];
  snprintf(buf, sizeof buf, "%s at %s:%d", msg, file, line);
  pthread_mutex_lock(&handler_lock);
  mlx_error_handler_func h = handler;
  void *data = handler_data;
  pthread_mutex_unlock(&handler_lock);
  h(buf, data);
}

void _mlx_error(const char *file, const int line, const char *fmt, ...) {
  char msg[MX_ERROR_MAX + 256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  mx_capi_error_at(file, line, msg);
}

int mx_capi_report(const char *file, int line) {
  const char *msg = mx_error_message();
  mx_capi_error_at(file, line, msg && msg[0] ? msg : "unknown error");
  mx_error_clear();
  return 1;
}

int mx_capi_fail(const char *file, int line, int kind, const char *fmt, ...) {
  char msg[MX_ERROR_MAX];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  mx_error_restore((mx_error_kind)kind, msg);
  return mx_capi_report(file, line);
}
