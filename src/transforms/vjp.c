/* vjp.c: reverse-mode differentiation (DESIGN section 7). The function runs on tracer
 * copies of the primals; the traced graph is walked iteratively in reverse post-order,
 * each op's vjp rule (written with ops) turning output cotangents into input cotangents,
 * which accumulate per node. A node's cotangent is dropped once its op has consumed it. */
#include <stdlib.h>
#include <string.h>

#include "../core/error.h"
#include "../core/eval.h"
#include "../core/prim.h"
#include "graph_walk.h"
#include "transforms.h"

/* Accumulates g (scope-owned) into the map entry of node k. */
static int accumulate(mx_node_map *m, const mx_array *k, mx_array *g, mx_stream s) {
  if (!g) return 0;
  mx_array *prev = mx_node_map_get(m, k);
  mx_array *sum = prev ? mx_add(prev, g, s) : g;
  if (!sum) return -1;
  return mx_node_map_put(m, k, mx_keep(sum));
}

/* Cotangents of every traced node from outs back to the tracers. grads[i] gets a new
 * reference (zeros where no path reaches tracer i). */
static int backward(mx_array *const *outs, int n_out, mx_array *const *cots, mx_array *const *tracers,
                    mx_array *const *primals, int n, mx_array **grads) {
  mx_node_map cot = {0};
  mx_array **order = NULL;
  size_t n_order = 0;
  int rc = 0;
  for (int i = 0; i < n; i++) grads[i] = NULL;
  {
    MX_SCOPE_BEGIN;
    for (int i = 0; i < n_out && rc == 0; i++)
      if (cots[i]) rc = accumulate(&cot, outs[i], cots[i], outs[i]->op ? outs[i]->op->stream : mx_stream_default());
    MX_SCOPE_END;
  }
  if (rc == 0) rc = mx_traced_order(outs, n_out, &order, &n_order);
  for (size_t oi = n_order; rc == 0 && oi-- > 0;) {
    mx_array *a = order[oi];
    mx_op *op = a->op;
    bool is_tracer_input = false; /* the copies standing for the primals end the walk */
    for (int i = 0; i < n && !is_tracer_input; i++) is_tracer_input = a == tracers[i];
    if (is_tracer_input) continue;
    /* siblings are adjacent in the order: the first met takes every sibling's cotangent */
    mx_array *small_c[8];
    mx_array **c = op->n_out <= 8 ? small_c : calloc((size_t)op->n_out, sizeof *c);
    int argn[64];
    int *argnums = op->n_in <= 64 ? argn : malloc((size_t)op->n_in * sizeof(int));
    mx_array *small_g[64];
    mx_array **g = op->n_in <= 64 ? small_g : calloc((size_t)op->n_in, sizeof *g);
    mx_array *small_o[8];
    mx_array **o = op->n_out <= 8 ? small_o : calloc((size_t)op->n_out, sizeof *o);
    if (!c || !argnums || !g || !o) {
      rc = mx_fail_int(MX_ENOMEM, "[vjp] out of memory.");
    } else {
      bool any = false;
      for (int k = 0; k < op->n_out; k++) {
        o[k] = op->outputs[k];
        c[k] = o[k] ? mx_node_map_take(&cot, o[k]) : NULL;
        any |= c[k] != NULL;
      }
      int na = 0;
      for (int i = 0; i < op->n_in; i++)
        if (op->inputs[i]->tracer) argnums[na++] = i;
      const mx_prim_vt *vt = &mx_prims[op->prim];
      if (any && na) {
        if (!vt->vjp) {
          rc = mx_fail_int(MX_ERUNTIME, "[%s] vjp is not implemented.", mx_prim_name(op->prim));
        } else {
          MX_SCOPE_BEGIN;
          for (int j = 0; j < na; j++) g[j] = NULL;
          rc = vt->vjp(op, op->inputs, c, argnums, na, o, g);
          for (int j = 0; rc == 0 && j < na; j++)
            rc = accumulate(&cot, op->inputs[argnums[j]], g[j], op->stream);
          MX_SCOPE_END;
        }
      }
      for (int k = 0; k < op->n_out; k++) mx_array_release(c[k]);
    }
    if (c != small_c) free(c);
    if (argnums != argn) free(argnums);
    if (g != small_g) free(g);
    if (o != small_o) free(o);
  }
  for (size_t i = 0; i < n_order; i++) mx_array_release(order[i]);
  free(order);
  for (int i = 0; rc == 0 && i < n; i++) {
    mx_array *gi = mx_node_map_take(&cot, tracers[i]);
    if (!gi) {
      gi = mx_zeros_like(primals[i], mx_stream_default());
      if (!gi) rc = -1;
    }
    grads[i] = gi;
  }
  mx_node_map_free(&cot);
  if (rc != 0)
    for (int i = 0; i < n; i++) {
      mx_array_release(grads[i]);
      grads[i] = NULL;
    }
  return rc;
}

/* Runs fn on tracer copies of the primals. tracers[i] are new references. */
static int trace(mx_closure fn, mx_array *const *primals, int n, mx_array **tracers,
                 mx_array **outs, int max_out, int *n_out) {
  *n_out = 0;
  for (int i = 0; i < n; i++) tracers[i] = NULL;
  for (int i = 0; i < n; i++) {
    if (!primals[i]) return mx_fail_int(MX_EINVAL, "[vjp] primal %d is empty.", i);
    tracers[i] = mx_copy(primals[i], mx_stream_default());
    if (!tracers[i]) return -1;
    tracers[i]->tracer = 1;
  }
  mx_trace_push();
  int scopes = mx_scope_suspend();
  int rc = fn.fn(fn.payload, tracers, n, outs, max_out, n_out);
  mx_scope_resume(scopes);
  mx_trace_pop();
  if (rc != 0) {
    for (int k = 0; k < *n_out; k++) mx_array_release(outs[k]);
    *n_out = 0;
  }
  return rc;
}

static void release_all(mx_array **v, int n) {
  for (int i = 0; i < n; i++) {
    mx_array_release(v[i]);
    v[i] = NULL;
  }
}

int mx_vjp(mx_closure fn, mx_array *const *primals, int n, mx_array *const *cotangents,
           int n_cot, mx_array **outs, int max_out, int *n_out, mx_array **grads) {
  mx_array **tracers = calloc((size_t)(n ? n : 1), sizeof *tracers);
  mx_array **cots = calloc((size_t)(n_cot ? n_cot : 1), sizeof *cots);
  if (!tracers || !cots) {
    free(tracers);
    free(cots);
    return mx_fail_int(MX_ENOMEM, "[vjp] out of memory.");
  }
  int rc = trace(fn, primals, n, tracers, outs, max_out, n_out);
  if (rc == 0 && *n_out != n_cot)
    rc = mx_fail_int(MX_EINVAL,
                     "[vjp] Number of outputs to compute gradients for (%d) does not match number of "
                     "cotangents (%d).", *n_out, n_cot);
  for (int i = 0; rc == 0 && i < n_cot; i++) {
    mx_array *o = outs[i], *c = cotangents[i];
    if (!c) continue;
    if (o->ndim != c->ndim || (o->ndim && memcmp(o->shape, c->shape, (size_t)o->ndim * sizeof(int32_t))))
      rc = mx_fail_int(MX_EINVAL, "[vjp] Output shape does not match cotangent shape for output %d.", i);
    else
      cots[i] = mx_astype(c, o->dtype, mx_stream_default());
    if (rc == 0 && !cots[i]) rc = -1;
  }
  if (rc == 0) rc = backward(outs, *n_out, cots, tracers, primals, n, grads);
  release_all(cots, n_cot);
  release_all(tracers, n);
  free(tracers);
  free(cots);
  if (rc != 0) {
    release_all(outs, *n_out);
    *n_out = 0;
  }
  return rc;
}

int mx_value_and_grad(mx_closure fn, mx_array *const *primals, int n, const int *argnums,
                      int n_argnums, mx_array **outs, int max_out, int *n_out, mx_array **grads) {
  for (int j = 0; j < n_argnums; j++)
    if (argnums[j] < 0 || argnums[j] >= n)
      return mx_fail_int(MX_EINVAL, "[value_and_grad] Invalid argument number %d for a function of %d arguments.",
                         argnums[j], n);
  mx_array **tracers = calloc((size_t)(n ? n : 1), sizeof *tracers);
  mx_array **all = calloc((size_t)(n ? n : 1), sizeof *all);
  if (!tracers || !all) {
    free(tracers);
    free(all);
    return mx_fail_int(MX_ENOMEM, "[value_and_grad] out of memory.");
  }
  /* only the differentiated arguments are traced; the rest pass through unchanged */
  mx_array **args = calloc((size_t)(n ? n : 1), sizeof *args);
  int rc = args ? 0 : mx_fail_int(MX_ENOMEM, "[value_and_grad] out of memory.");
  for (int i = 0; rc == 0 && i < n; i++) args[i] = primals[i];
  mx_array **sel = calloc((size_t)(n_argnums ? n_argnums : 1), sizeof *sel);
  mx_array **selp = calloc((size_t)(n_argnums ? n_argnums : 1), sizeof *selp);
  if (!sel || !selp) rc = mx_fail_int(MX_ENOMEM, "[value_and_grad] out of memory.");
  for (int j = 0; rc == 0 && j < n_argnums; j++) {
    int i = argnums[j];
    if (!all[i]) {
      all[i] = mx_copy(primals[i], mx_stream_default());
      if (!all[i]) rc = -1;
      else all[i]->tracer = 1;
    }
    sel[j] = all[i];
    selp[j] = primals[i];
    if (rc == 0) args[i] = all[i];
  }
  *n_out = 0;
  if (rc == 0) {
    mx_trace_push();
    int scopes = mx_scope_suspend();
    rc = fn.fn(fn.payload, args, n, outs, max_out, n_out);
    mx_scope_resume(scopes);
    mx_trace_pop();
  }
  if (rc == 0 && (*n_out < 1 || outs[0]->ndim != 0))
    rc = mx_fail_int(MX_EINVAL, "[value_and_grad] The function must return a scalar (0-d) array as its first output.");
  mx_array *seed = NULL;
  if (rc == 0) {
    seed = mx_array_scalar_f64(1.0, outs[0]->dtype);
    if (!seed) rc = -1;
  }
  if (rc == 0) rc = backward(outs, 1, &seed, sel, selp, n_argnums, grads);
  mx_array_release(seed);
  release_all(all, n);
  free(tracers);
  free(all);
  free(args);
  free(sel);
  free(selp);
  if (rc != 0) {
    release_all(outs, *n_out);
    *n_out = 0;
  }
  return rc;
}
