/* distributed.c: the collective ops of mx.distributed. On a group of size 1 every
 * collective is the identity (MLX returns its input, so no primitive is made and gradients,
 * vmap and compile pass straight through); larger groups make AllReduce, AllGather,
 * ReduceScatter, Send and Recv records whose kernels call the group's transport. */
#include "ops.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/distributed.h"
#include "../core/error.h"

/* g, or the global group when g is NULL; *owned is the reference to release (or NULL). */
static mx_group *group_or_global(mx_group *g, mx_group **owned) {
  *owned = NULL;
  if (g) return g;
  return *owned = mx_dist_init(false, "any");
}

static mx_array *identity(mx_array *x) {
  mx_array_retain(x);
  return mx_scope_adopt(x);
}

/* One output of shape/dtype from the primitive's record; x may be NULL (Recv). */
static mx_array *make(mx_prim prim, const void *params, mx_array *x, mx_dtype t, int ndim,
                      const int32_t *shape, mx_stream s) {
  mx_out_spec spec = {t, ndim, shape};
  mx_array *out = NULL;
  if (mx_op_make(prim, params, s, x ? 1 : 0, x ? &x : NULL, 1, &spec, &out) < 0) return NULL;
  return out;
}

static mx_array *all_reduce(int kind, mx_array *x, mx_group *group, mx_stream s) {
  if (!x) return NULL;
  mx_group *owned, *g = group_or_global(group, &owned);
  if (!g) return NULL;
  mx_array *r;
  if (g->size == 1) {
    r = identity(x);
  } else {
    mx_p_all_reduce p = {kind, &g->obj};
    r = make(MX_PRIM_ALL_REDUCE, &p, x, x->dtype, x->ndim, x->shape, s);
  }
  mx_group_release(owned);
  return r;
}

mx_array *mx_dist_all_sum(mx_array *x, mx_group *g, mx_stream s) { return all_reduce(MX_DIST_SUM, x, g, s); }
mx_array *mx_dist_all_max(mx_array *x, mx_group *g, mx_stream s) { return all_reduce(MX_DIST_MAX, x, g, s); }
mx_array *mx_dist_all_min(mx_array *x, mx_group *g, mx_stream s) { return all_reduce(MX_DIST_MIN, x, g, s); }

mx_array *mx_dist_all_gather(mx_array *x, mx_group *group, mx_stream s) {
  if (!x) return NULL;
  mx_group *owned, *g = group_or_global(group, &owned);
  if (!g) return NULL;
  mx_array *r;
  if (g->size == 1) {
    r = identity(x);
  } else {
    /* a 0-d input gathers into a vector of the group's size */
    int nd = x->ndim ? x->ndim : 1;
    int32_t *shape = malloc((size_t)nd * sizeof(int32_t));
    if (!shape) {
      r = mx_fail(MX_ENOMEM, "[all_gather] out of memory.");
    } else {
      if (x->ndim) memcpy(shape, x->shape, (size_t)nd * sizeof(int32_t));
      shape[0] = (x->ndim ? shape[0] : 1) * g->size;
      mx_p_all_gather p = {&g->obj};
      r = make(MX_PRIM_ALL_GATHER, &p, x, x->dtype, nd, shape, s);
      free(shape);
    }
  }
  mx_group_release(owned);
  return r;
}

/* "(2,3)" into buf. */
static const char *shape_str(char *buf, size_t cap, int n, const int32_t *shape) {
  size_t l = (size_t)snprintf(buf, cap, "(");
  for (int i = 0; i < n && l + 16 < cap; i++) l += (size_t)snprintf(buf + l, cap - l, i ? ",%d" : "%d", shape[i]);
  snprintf(buf + l, cap - l, ")");
  return buf;
}

mx_array *mx_dist_sum_scatter(mx_array *x, mx_group *group, mx_stream s) {
  if (!x) return NULL;
  mx_group *owned, *g = group_or_global(group, &owned);
  if (!g) return NULL;
  mx_array *r;
  if (g->size == 1) {
    r = identity(x);
  } else if (x->ndim == 0 || x->shape[0] % g->size != 0) {
    char sb[128];
    r = mx_fail(MX_EINVAL, "[sum_scatter] Invalid shape=%s for a group of size %d. The first "
                           "dimension (axis 0) must be divisible by the group size.",
                shape_str(sb, sizeof sb, x->ndim, x->shape), g->size);
  } else {
    int32_t *shape = malloc((size_t)x->ndim * sizeof(int32_t));
    if (!shape) {
      r = mx_fail(MX_ENOMEM, "[sum_scatter] out of memory.");
    } else {
      memcpy(shape, x->shape, (size_t)x->ndim * sizeof(int32_t));
      shape[0] /= g->size;
      mx_p_reduce_scatter p = {MX_DIST_SUM, &g->obj};
      r = make(MX_PRIM_REDUCE_SCATTER, &p, x, x->dtype, x->ndim, shape, s);
      free(shape);
    }
  }
  mx_group_release(owned);
  return r;
}

mx_array *mx_dist_send(mx_array *x, int dst, mx_group *group, mx_stream s) {
  if (!x) return NULL;
  mx_group *owned, *g = group_or_global(group, &owned);
  if (!g) return NULL;
  mx_array *r;
  if (g->size == 1) {
    r = mx_fail(MX_EINVAL, "Cannot send to a singleton group");
  } else if (dst < 0 || dst >= g->size) {
    r = mx_fail(MX_EINVAL, "Invalid destination=%d for a group of size %d", dst, g->size);
  } else {
    mx_p_send p = {dst, &g->obj};
    r = make(MX_PRIM_SEND, &p, x, x->dtype, x->ndim, x->shape, s);
  }
  mx_group_release(owned);
  return r;
}

mx_array *mx_dist_recv(const int32_t *shape, int ndim, mx_dtype t, int src, mx_group *group,
                       mx_stream s) {
  mx_group *owned, *g = group_or_global(group, &owned);
  if (!g) return NULL;
  mx_array *r;
  if (g->size == 1) {
    r = mx_fail(MX_EINVAL, "Cannot recv from a singleton group");
  } else if (src < 0 || src >= g->size) {
    r = mx_fail(MX_EINVAL, "Invalid source=%d for a group of size %d", src, g->size);
  } else if (mx_shape_size("recv", ndim, shape) < 0) {
    r = NULL;
  } else {
    mx_p_recv p = {src, &g->obj};
    r = make(MX_PRIM_RECV, &p, NULL, t, ndim, shape, s);
  }
  mx_group_release(owned);
  return r;
}

mx_array *mx_dist_recv_like(mx_array *x, int src, mx_group *g, mx_stream s) {
  if (!x) return NULL;
  return mx_dist_recv(x->shape, x->ndim, x->dtype, src, g, s);
}
