/* jvp.c: forward-mode differentiation: tangents flow through the traced graph in
 * post-order, each op's jvp rule mapping input tangents to output tangents. StopGradient
 * passes no tangent. */
#include <stdlib.h>
#include <string.h>

#include "../core/error.h"
#include "../core/eval.h"
#include "../core/prim.h"
#include "graph_walk.h"
#include "transforms.h"

/* Runs one op's jvp rule if any input carries a tangent. */
static int forward_op(mx_op *op, mx_node_map *tan) {
  if (op->prim == MX_PRIM_STOP_GRADIENT) return 0;
  mx_array *small_t[64], *small_o[8];
  mx_array **t = op->n_in <= 64 ? small_t : calloc((size_t)op->n_in, sizeof *t);
  mx_array **o = op->n_out <= 8 ? small_o : calloc((size_t)op->n_out, sizeof *o);
  int rc = 0;
  if (!t || !o) {
    rc = mx_fail_int(MX_ENOMEM, "[jvp] out of memory.");
    goto done;
  }
  bool any = false;
  for (int i = 0; i < op->n_in; i++) {
    t[i] = mx_node_map_get(tan, op->inputs[i]);
    any |= t[i] != NULL;
  }
  if (!any) goto done;
  const mx_prim_vt *vt = &mx_prims[op->prim];
  if (!vt->jvp) {
    rc = mx_rule_missing("jvp", op);
    goto done;
  }
  MX_SCOPE_BEGIN;
  for (int k = 0; k < op->n_out; k++) o[k] = NULL;
  rc = vt->jvp(op, op->inputs, t, op->outputs, o);
  for (int k = 0; rc == 0 && k < op->n_out; k++)
    if (o[k] && op->outputs[k]) rc = mx_node_map_put(tan, op->outputs[k], mx_keep(o[k]));
  MX_SCOPE_END;
done:
  if (t && t != small_t) free(t);
  if (o && o != small_o) free(o);
  return rc;
}

static int mx_jvp_impl(mx_closure fn, mx_array *const *primals, int n, mx_array *const *tangents,
           mx_array **outs, int max_out, int *n_out, mx_array **jvps) {
  mx_array **tracers = calloc((size_t)(n ? n : 1), sizeof *tracers);
  if (!tracers) return mx_fail_int(MX_ENOMEM, "[jvp] out of memory.");
  mx_node_map tan = {0};
  int rc = 0;
  *n_out = 0;
  mx_trace_push();
  for (int i = 0; rc == 0 && i < n; i++) {
    if (!primals[i] || !tangents[i]) {
      rc = mx_fail_int(MX_EINVAL, "[jvp] primal or tangent %d is empty.", i);
      break;
    }
    if (primals[i]->ndim != tangents[i]->ndim ||
        memcmp(primals[i]->shape, tangents[i]->shape, (size_t)primals[i]->ndim * sizeof(int32_t))) {
      rc = mx_fail_int(MX_EINVAL, "[jvp] Input shape does not match shape of tangent.");
      break;
    }
    mx_stream s = primals[i]->op ? primals[i]->op->stream : mx_stream_default();
    tracers[i] = mx_copy(primals[i], s);
    if (!tracers[i]) {
      rc = -1;
      break;
    }
    tracers[i]->tracer = 1;
    mx_array *t = mx_astype(tangents[i], primals[i]->dtype, s);
    if (!t || mx_node_map_put(&tan, tracers[i], t) != 0) rc = -1;
  }
  if (rc == 0) rc = mx_trace_call(fn, tracers, n, outs, max_out, n_out);
  mx_array **order = NULL;
  size_t n_order = 0;
  if (rc == 0) rc = mx_traced_order(outs, *n_out, &order, &n_order);
  for (size_t oi = 0; rc == 0 && oi < n_order; oi++) {
    mx_op *op = order[oi]->op;
    bool done = false; /* a primal copy, or a sibling already handled */
    for (int k = 0; k < op->n_out; k++) done |= op->outputs[k] && mx_node_map_get(&tan, op->outputs[k]);
    if (!done) rc = forward_op(op, &tan);
  }
  for (size_t i = 0; i < n_order; i++) mx_array_release(order[i]);
  free(order);
  for (int k = 0; rc == 0 && k < *n_out; k++) {
    mx_array *v = mx_node_map_get(&tan, outs[k]);
    if (v) mx_array_retain(v);
    else v = mx_zeros_like(outs[k], outs[k]->op ? outs[k]->op->stream : mx_stream_default());
    jvps[k] = v;
    if (!v) {
      for (int j = 0; j < k; j++) mx_array_release(jvps[j]);
      rc = -1;
    }
  }
  mx_node_map_free(&tan);
  for (int i = 0; i < n; i++) mx_array_release(tracers[i]);
  free(tracers);
  mx_trace_pop();
  if (rc != 0) {
    for (int k = 0; k < *n_out; k++) mx_array_release(outs[k]);
    *n_out = 0;
    return rc;
  }
  mx_trace_finish(outs, *n_out, jvps, *n_out);
  return 0;
}

int mx_jvp(mx_closure fn, mx_array *const *primals, int n, mx_array *const *tangents,
           mx_array **outs, int max_out, int *n_out, mx_array **jvps) {
  int scopes = mx_scope_suspend(); /* results are owned references, whatever the caller's scope */
  int rc = mx_jvp_impl(fn, primals, n, tangents, outs, max_out, n_out, jvps);
  mx_scope_resume(scopes);
  return rc;
}
