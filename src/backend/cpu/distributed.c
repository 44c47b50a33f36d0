/* distributed.c: CPU kernels of the collectives (AllReduce, AllGather, ReduceScatter, Send,
 * Recv): a strided input is first copied row-major, then the bytes go to the transport of
 * the primitive's group (core/distributed.h), which blocks until its peers took part. */
#include <stdlib.h>
#include <string.h>

#include "../../core/array.h"
#include "../../core/distributed.h"
#include "cpu.h"

/* A row-major view of in: in itself when contiguous, else a copy in *tmp (freed by the
 * caller). NULL + error when out of memory. */
static const void *contiguous_data(const mx_tensor *in, void **tmp) {
  *tmp = NULL;
  if (mx_cpu_is_row_contig(in) || in->size == 0) return in->data;
  size_t nbytes = (size_t)in->size * mx_dtype_size(in->dtype);
  void *buf = malloc(nbytes);
  if (!buf) return mx_fail(MX_ENOMEM, "[distributed] out of memory.");
  mx_tensor dst = *in;
  dst.data = buf;
  int64_t *st = malloc((size_t)(in->ndim ? in->ndim : 1) * sizeof(int64_t));
  if (!st) {
    free(buf);
    return mx_fail(MX_ENOMEM, "[distributed] out of memory.");
  }
  int64_t acc = 1;
  for (int i = in->ndim - 1; i >= 0; i--) {
    st[i] = acc;
    acc *= in->shape[i];
  }
  dst.strides = st;
  dst.flags = MX_ROW_CONTIG;
  int rc = mx_cpu_copy_strided(in, &dst);
  free(st);
  if (rc < 0) {
    free(buf);
    return NULL;
  }
  *tmp = buf;
  return buf;
}

static int need_transport(const mx_group *g, const void *fn, const char *what) {
  if (g && g->backend && fn) return 0;
  return mx_fail_int(MX_ERUNTIME, "[%s] The group's transport does not provide it.", what);
}

static int out_contig(const mx_tensor *out, const char *what) {
  if (mx_cpu_is_row_contig(out)) return 0;
  return mx_fail_int(MX_EINVAL, "[%s] The output must be row-contiguous.", what);
}

int mx_cpu_all_reduce(const mx_kernel_ctx *ctx, const mx_tensor *in, int n_in, mx_tensor *out,
                      int n_out) {
  (void)n_in, (void)n_out;
  const mx_p_all_reduce *p = ctx->params;
  mx_group *g = (mx_group *)p->group;
  if (need_transport(g, g ? (const void *)g->backend->all_reduce : NULL, "all_reduce") < 0 ||
      out_contig(out, "all_reduce") < 0)
    return -1;
  void *tmp;
  const void *src = contiguous_data(in, &tmp);
  if (!src) return -1;
  int rc = g->backend->all_reduce(g, src, out->data, out->size, out->dtype, p->kind);
  free(tmp);
  return rc;
}

int mx_cpu_all_gather(const mx_kernel_ctx *ctx, const mx_tensor *in, int n_in, mx_tensor *out,
                      int n_out) {
  (void)n_in, (void)n_out;
  const mx_p_all_gather *p = ctx->params;
  mx_group *g = (mx_group *)p->group;
  if (need_transport(g, g ? (const void *)g->backend->all_gather : NULL, "all_gather") < 0 ||
      out_contig(out, "all_gather") < 0)
    return -1;
  void *tmp;
  const void *src = contiguous_data(in, &tmp);
  if (!src) return -1;
  int rc = g->backend->all_gather(g, src, out->data, in->size * (int64_t)mx_dtype_size(in->dtype));
  free(tmp);
  return rc;
}

int mx_cpu_reduce_scatter(const mx_kernel_ctx *ctx, const mx_tensor *in, int n_in,
                          mx_tensor *out, int n_out) {
  (void)n_in, (void)n_out;
  const mx_p_reduce_scatter *p = ctx->params;
  mx_group *g = (mx_group *)p->group;
  if (need_transport(g, g ? (const void *)g->backend->reduce_scatter : NULL, "sum_scatter") < 0 ||
      out_contig(out, "sum_scatter") < 0)
    return -1;
  void *tmp;
  const void *src = contiguous_data(in, &tmp);
  if (!src) return -1;
  int rc = g->backend->reduce_scatter(g, src, out->data, out->size, out->dtype, p->kind);
  free(tmp);
  return rc;
}

int mx_cpu_send(const mx_kernel_ctx *ctx, const mx_tensor *in, int n_in, mx_tensor *out,
                int n_out) {
  (void)n_in, (void)n_out;
  const mx_p_send *p = ctx->params;
  mx_group *g = (mx_group *)p->group;
  if (need_transport(g, g ? (const void *)g->backend->send : NULL, "send") < 0 ||
      out_contig(out, "send") < 0)
    return -1;
  void *tmp;
  const void *src = contiguous_data(in, &tmp);
  if (!src) return -1;
  int64_t nbytes = in->size * (int64_t)mx_dtype_size(in->dtype);
  int rc = g->backend->send(g, src, nbytes, p->dst);
  if (rc == 0 && nbytes) memcpy(out->data, src, (size_t)nbytes); /* the output is x */
  free(tmp);
  return rc;
}

int mx_cpu_recv(const mx_kernel_ctx *ctx, const mx_tensor *in, int n_in, mx_tensor *out,
                int n_out) {
  (void)in, (void)n_in, (void)n_out;
  const mx_p_recv *p = ctx->params;
  mx_group *g = (mx_group *)p->group;
  if (need_transport(g, g ? (const void *)g->backend->recv : NULL, "recv") < 0 ||
      out_contig(out, "recv") < 0)
    return -1;
  return g->backend->recv(g, out->data, out->size * (int64_t)mx_dtype_size(out->dtype), p->src);
}
