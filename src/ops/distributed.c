/* distributed.c: the collective ops of mx.distributed. On a group of size 1 every
 * collective is the identity (MLX returns its input), so gradients, vmap and compile pass
 * through; larger groups hand the array to their transport (core/distributed.h). */
#include "ops.h"

#include <stddef.h>

#include "../core/distributed.h"
#include "../core/error.h"

typedef mx_array *(*collective_fn)(mx_group *, mx_array *, mx_stream);

/* g, or a new reference to the global group when g is NULL (released by the caller). */
static mx_group *group_or_global(mx_group *g, mx_group **owned) {
  *owned = NULL;
  if (g) return g;
  return *owned = mx_dist_init(false, "any");
}

static mx_array *identity(mx_array *x) {
  mx_array_retain(x);
  return mx_scope_adopt(x);
}

static mx_array *collective(const char *name, size_t slot, mx_array *x, mx_group *group,
                            mx_stream s) {
  if (!x) return NULL;
  mx_group *owned, *g = group_or_global(group, &owned);
  if (!g) return NULL;
  mx_array *r;
  if (g->size == 1) {
    r = identity(x);
  } else {
    collective_fn fn = g->backend ? *(collective_fn *)((const char *)g->backend + slot) : NULL;
    r = fn ? fn(g, x, s) : mx_fail(MX_ERUNTIME, "[%s] The group's backend has no %s.", name, name);
  }
  mx_group_release(owned);
  return r;
}

mx_array *mx_dist_all_sum(mx_array *x, mx_group *g, mx_stream s) {
  return collective("all_sum", offsetof(mx_dist_backend, all_sum), x, g, s);
}
mx_array *mx_dist_all_max(mx_array *x, mx_group *g, mx_stream s) {
  return collective("all_max", offsetof(mx_dist_backend, all_max), x, g, s);
}
mx_array *mx_dist_all_min(mx_array *x, mx_group *g, mx_stream s) {
  return collective("all_min", offsetof(mx_dist_backend, all_min), x, g, s);
}
mx_array *mx_dist_all_gather(mx_array *x, mx_group *g, mx_stream s) {
  return collective("all_gather", offsetof(mx_dist_backend, all_gather), x, g, s);
}
mx_array *mx_dist_sum_scatter(mx_array *x, mx_group *g, mx_stream s) {
  return collective("sum_scatter", offsetof(mx_dist_backend, sum_scatter), x, g, s);
}

mx_array *mx_dist_send(mx_array *x, int dst, mx_group *group, mx_stream s) {
  if (!x) return NULL;
  mx_group *owned, *g = group_or_global(group, &owned);
  if (!g) return NULL;
  mx_array *r;
  if (g->size == 1)
    r = mx_fail(MX_EINVAL, "Cannot send to a singleton group");
  else if (dst < 0 || dst >= g->size)
    r = mx_fail(MX_EINVAL, "[send] Invalid destination=%d for a group of size %d", dst, g->size);
  else
    r = g->backend && g->backend->send ? g->backend->send(g, x, dst, s)
                                       : mx_fail(MX_ERUNTIME, "[send] The group's backend cannot send.");
  mx_group_release(owned);
  return r;
}

mx_array *mx_dist_recv(const int32_t *shape, int ndim, mx_dtype t, int src, mx_group *group,
                       mx_stream s) {
  mx_group *owned, *g = group_or_global(group, &owned);
  if (!g) return NULL;
  mx_array *r;
  if (g->size == 1)
    r = mx_fail(MX_EINVAL, "Cannot recv from a singleton group");
  else if (src < 0 || src >= g->size)
    r = mx_fail(MX_EINVAL, "[recv] Invalid source=%d for a group of size %d", src, g->size);
  else if (mx_shape_size("recv", ndim, shape) < 0)
    r = NULL;
  else
    r = g->backend && g->backend->recv ? g->backend->recv(g, shape, ndim, t, src, s)
                                       : mx_fail(MX_ERUNTIME, "[recv] The group's backend cannot receive.");
  mx_group_release(owned);
  return r;
}

mx_array *mx_dist_recv_like(mx_array *x, int src, mx_group *g, mx_stream s) {
  if (!x) return NULL;
  return mx_dist_recv(x->shape, x->ndim, x->dtype, src, g, s);
}
