/* stream.c: mlx_stream handles (mlx/c/stream.h) boxing a core stream value (core/stream.h).
 * Without a GPU backend mlx_default_gpu_stream_new() gives the CPU default stream, so mlx-c
 * programs written for a GPU stream (the closure/grad/export examples) still run. */
#include "capi_private.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HERE __FILE__, __LINE__

int mx_capi_stream(mlx_stream s, mx_stream *out) {
  mx_capi_stream_box *b = s.ctx;
  if (!b) {
    mx_capi_fail(HERE, MX_EINVAL, "expected a non-empty mlx_stream");
    return -1;
  }
  *out = b->s;
  return 0;
}

int mx_capi_set_stream(mlx_stream *res, mx_stream s) {
  if (!res) return mx_capi_fail(HERE, MX_EINVAL, "expected a non-null mlx_stream pointer");
  mx_capi_stream_box *b = res->ctx;
  if (!b) {
    b = malloc(sizeof *b);
    if (!b) return mx_capi_fail(HERE, MX_ENOMEM, "[malloc] Unable to allocate a stream.");
    res->ctx = b;
  }
  b->s = s;
  return 0;
}

static mlx_stream new_handle(mx_stream s) {
  mlx_stream h = {NULL};
  mx_capi_set_stream(&h, s);
  return h;
}

mlx_stream mlx_stream_new(void) {
  mlx_stream h = {NULL};
  return h;
}

mlx_stream mlx_stream_new_device(mlx_device dev) {
  mx_device d;
  if (mx_capi_device(dev, &d)) return mlx_stream_new();
  if (!mx_device_is_available(d)) {
    mx_capi_fail(HERE, MX_EINVAL, "[new_stream] Device %s:%d is not available.",
                 d.type == MX_GPU ? "gpu" : "cpu", (int)d.index);
    return mlx_stream_new();
  }
  return new_handle(mx_new_stream(d));
}

int mlx_stream_set(mlx_stream *stream, const mlx_stream src) {
  mx_stream s;
  if (mx_capi_stream(src, &s)) return 1;
  return mx_capi_set_stream(stream, s);
}

int mlx_stream_free(mlx_stream stream) {
  free(stream.ctx);
  return 0;
}

int mlx_stream_tostring(mlx_string *str, mlx_stream stream) {
  mx_stream s;
  if (mx_capi_stream(stream, &s)) return 1;
  char buf[96];
  int n = snprintf(buf, sizeof buf, "Stream(Device(%s, %d), %d)",
                   s.device.type == MX_GPU ? "gpu" : "cpu", (int)s.device.index, (int)s.index);
  char *text = n >= 0 ? malloc((size_t)n + 1) : NULL;
  if (text) memcpy(text, buf, (size_t)n + 1);
  return mx_capi_set_string(str, text);
}

bool mlx_stream_equal(mlx_stream lhs, mlx_stream rhs) {
  mx_stream a, b;
  if (mx_capi_stream(lhs, &a) || mx_capi_stream(rhs, &b)) return false;
  return mx_stream_equal(a, b);
}

int mlx_stream_get_device(mlx_device *dev, mlx_stream stream) {
  mx_stream s;
  if (mx_capi_stream(stream, &s)) return 1;
  return mx_capi_set_device(dev, s.device);
}

int mlx_stream_get_index(int *index, mlx_stream stream) {
  mx_stream s;
  if (mx_capi_stream(stream, &s)) return 1;
  *index = s.index;
  return 0;
}

int mlx_synchronize(mlx_stream stream) {
  mx_stream s;
  if (mx_capi_stream(stream, &s)) return 1;
  if (mx_synchronize(s) != 0) return mx_capi_report(HERE);
  return 0;
}

int mlx_get_default_stream(mlx_stream *stream, mlx_device dev) {
  mx_device d;
  if (mx_capi_device(dev, &d)) return 1;
  if (!mx_device_is_available(d))
    return mx_capi_fail(HERE, MX_EINVAL, "[default_stream] Device %s:%d is not available.",
                        d.type == MX_GPU ? "gpu" : "cpu", (int)d.index);
  return mx_capi_set_stream(stream, mx_default_stream(d));
}

int mlx_set_default_stream(mlx_stream stream) {
  mx_stream s;
  if (mx_capi_stream(stream, &s)) return 1;
  if (mx_set_default_stream(s) != 0) return mx_capi_report(HERE);
  return 0;
}

mlx_stream mlx_default_cpu_stream_new(void) {
  mx_device d = {MX_CPU, 0};
  return new_handle(mx_default_stream(d));
}

mlx_stream mlx_default_gpu_stream_new(void) {
  mx_device d = {MX_GPU, 0};
  if (!mx_device_is_available(d)) d.type = MX_CPU; /* CPU-only: alias (see the header) */
  return new_handle(mx_default_stream(d));
}
