/* distributed.c: the mlx-c group handle (a box owning one core group reference) and the
 * collectives of mlx/c/distributed_group.h over src/ops/distributed.c. */
#include "capi_private.h"

#include <stdlib.h>

#include "../core/distributed.h"
#include "../core/error.h"

#define HERE __FILE__, __LINE__

typedef struct mx_capi_group_box {
  mx_group *g;
} mx_capi_group_box;

static mx_group *group_of(mlx_distributed_group h) {
  return h.ctx ? ((mx_capi_group_box *)h.ctx)->g : NULL;
}

/* Stores g (stolen) into *res; NULL g reports the pending error. 0 or 1. */
static int set_group(mlx_distributed_group *res, mx_group *g) {
  if (!g) return mx_capi_report(HERE);
  mx_capi_group_box *b = res->ctx;
  if (!b && !(b = calloc(1, sizeof *b))) {
    mx_group_release(g);
    return mx_capi_fail(HERE, MX_ENOMEM, "[distributed] out of memory.");
  }
  mx_group_release(b->g);
  b->g = g;
  res->ctx = b;
  return 0;
}

mlx_distributed_group mlx_distributed_group_new(void) { return (mlx_distributed_group){NULL}; }

int mlx_distributed_group_free(mlx_distributed_group group) {
  mx_capi_group_box *b = group.ctx;
  if (b) {
    mx_group_release(b->g);
    free(b);
  }
  return 0;
}

/* The group of a handle, the global group for an empty one: a NEW reference. */
static mx_group *resolve(mlx_distributed_group h) {
  mx_group *g = group_of(h);
  if (g) {
    mx_group_retain(g);
    return g;
  }
  return mx_dist_init(false, "any");
}

int mlx_distributed_group_rank(mlx_distributed_group group) {
  mx_group *g = resolve(group);
  int r = g ? g->rank : -1;
  mx_group_release(g);
  return r;
}

int mlx_distributed_group_size(mlx_distributed_group group) {
  mx_group *g = resolve(group);
  int r = g ? g->size : -1;
  mx_group_release(g);
  return r;
}

int mlx_distributed_group_split(mlx_distributed_group *res, mlx_distributed_group group, int color,
                                int key) {
  mx_group *g = resolve(group);
  mx_group *r = g ? mx_group_split(g, color, key) : NULL;
  mx_group_release(g);
  return set_group(res, r);
}

bool mlx_distributed_is_available(const char *bk) {
  int r = mx_dist_is_available(bk ? bk : "any");
  if (r < 0) mx_capi_report(HERE);
  return r == 1;
}

int mlx_distributed_init(mlx_distributed_group *res, bool strict, const char *bk) {
  return set_group(res, mx_dist_init(strict, bk ? bk : "any"));
}

typedef mx_array *(*collective_fn)(mx_array *, mx_group *, mx_stream);

static int collective(mlx_array *res, mlx_array x, mlx_distributed_group group, mlx_stream s,
                      collective_fn fn) {
  mx_stream cs;
  if (mx_capi_stream(s, &cs)) return 1;
  mx_array *node = mx_capi_node(x);
  return mx_capi_set_array_at(res, node ? fn(node, group_of(group), cs) : NULL, HERE);
}

int mlx_distributed_all_sum(mlx_array *res, const mlx_array x, const mlx_distributed_group group,
                            const mlx_stream s) {
  return collective(res, x, group, s, mx_dist_all_sum);
}
int mlx_distributed_all_max(mlx_array *res, const mlx_array x, const mlx_distributed_group group,
                            const mlx_stream s) {
  return collective(res, x, group, s, mx_dist_all_max);
}
int mlx_distributed_all_min(mlx_array *res, const mlx_array x, const mlx_distributed_group group,
                            const mlx_stream s) {
  return collective(res, x, group, s, mx_dist_all_min);
}
int mlx_distributed_all_gather(mlx_array *res, const mlx_array x, const mlx_distributed_group group,
                               const mlx_stream s) {
  return collective(res, x, group, s, mx_dist_all_gather);
}
int mlx_distributed_sum_scatter(mlx_array *res, const mlx_array x,
                                const mlx_distributed_group group, const mlx_stream s) {
  return collective(res, x, group, s, mx_dist_sum_scatter);
}

int mlx_distributed_send(mlx_array *res, const mlx_array x, int dst,
                         const mlx_distributed_group group, const mlx_stream s) {
  mx_stream cs;
  if (mx_capi_stream(s, &cs)) return 1;
  mx_array *node = mx_capi_node(x);
  return mx_capi_set_array_at(res, node ? mx_dist_send(node, dst, group_of(group), cs) : NULL, HERE);
}

int mlx_distributed_recv(mlx_array *res, const int *shape, size_t shape_num, mlx_dtype dtype,
                         int src, const mlx_distributed_group group, const mlx_stream s) {
  mx_stream cs;
  if (mx_capi_stream(s, &cs)) return 1;
  return mx_capi_set_array_at(res, mx_dist_recv((const int32_t *)shape, (int)shape_num,
                                                (mx_dtype)dtype, src, group_of(group), cs), HERE);
}

int mlx_distributed_recv_like(mlx_array *res, const mlx_array x, int src,
                              const mlx_distributed_group group, const mlx_stream s) {
  mx_stream cs;
  if (mx_capi_stream(s, &cs)) return 1;
  mx_array *node = mx_capi_node(x);
  return mx_capi_set_array_at(res, node ? mx_dist_recv_like(node, src, group_of(group), cs) : NULL,
                              HERE);
}
