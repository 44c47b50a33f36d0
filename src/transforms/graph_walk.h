/* graph_walk.h: what the transformations share: a pointer map from nodes to arrays, the
 * iterative post-order of the traced part of a graph (nodes marked tracer), and the end of
 * a trace. */
#ifndef MX_GRAPH_WALK_H
#define MX_GRAPH_WALK_H

#include "../core/op.h"

typedef struct mx_node_map {
  const mx_array **keys;
  mx_array **vals;          /* owned references (NULL = none) */
  size_t n, cap;
  int32_t *tags;            /* one int per entry (vmap: the mapped axis) */
} mx_node_map;

mx_array *mx_node_map_get(const mx_node_map *m, const mx_array *k);
/* Stores v (a NEW reference, stolen) for k, releasing any previous value. -1 on ENOMEM. */
int mx_node_map_put(mx_node_map *m, const mx_array *k, mx_array *v_steal);
/* The same with an int stored beside the value; get_tagged returns NULL when k is absent. */
int mx_node_map_put_tagged(mx_node_map *m, const mx_array *k, mx_array *v_steal, int32_t tag);
mx_array *mx_node_map_get_tagged(const mx_node_map *m, const mx_array *k, int32_t *tag);
/* Removes and returns k's value (owned) or NULL. */
mx_array *mx_node_map_take(mx_node_map *m, const mx_array *k);
void mx_node_map_free(mx_node_map *m);

/* Post-order (inputs first) of tracer nodes with an op reachable from outs; retained.
 * *order is malloc'd; release each entry and free it. */
int mx_traced_order(mx_array *const *outs, int n, mx_array ***order, size_t *n_order);

/* Ends a transformation's results: when no transformation is active on this thread any
 * more (trace depth 0), the tracer flags of everything reachable from a and b are cleared,
 * so evaluating the results detaches and frees their graphs as for any array. */
void mx_trace_finish(mx_array *const *a, int na, mx_array *const *b, int nb);

/* MLX's error for a primitive without the rule `which` ("vjp", "jvp", "vmap"): ValueError
 * "[Primitive::vjp] Not implemented for View int32." Returns -1. */
int mx_rule_missing(const char *which, const mx_op *op);

#endif
