/* vjp.c: reverse-mode differentiation (DESIGN section 7). The function runs on tracer
 * copies of the primals; the traced graph is walked iteratively in reverse post-order,
 * each op's vjp rule (written with ops) turning output cotangents into input cotangents,
 * which accumulate per node. Only nodes on a path from the primals are differentiated;
 * StopGradient ends a path. A node's cotangent is dropped once its op has consumed it. */
#include <stdio.h>
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

static int set_add(mx_node_map *set, mx_array *a) {
  mx_array_retain(a);
  return mx_node_map_put(set, a, a);
}

/* Marks every node of order that depends on a tracer copy through differentiable ops. */
static int mark_needs_grad(mx_array *const *order, size_t n_order, mx_node_map *needs) {
  for (size_t oi = 0; oi < n_order; oi++) {
    mx_array *a = order[oi];
    mx_op *op = a->op;
    if (mx_node_map_get(needs, a) || op->prim == MX_PRIM_STOP_GRADIENT) continue;
    bool any = false;
    for (int i = 0; i < op->n_in && !any; i++) any = mx_node_map_get(needs, op->inputs[i]) != NULL;
    if (!any) continue;
    for (int k = 0; k < op->n_out; k++)
      if (op->outputs[k] && set_add(needs, op->outputs[k]) != 0) return -1;
  }
  return 0;
}

/* Runs one op's vjp rule on the cotangents of its outputs. */
static int backward_op(mx_op *op, mx_node_map *cot, const mx_node_map *needs) {
  mx_array *small_c[8], *small_o[8], *small_g[64];
  int small_a[64];
  mx_array **c = op->n_out <= 8 ? small_c : calloc((size_t)op->n_out, sizeof *c);
  mx_array **o = op->n_out <= 8 ? small_o : calloc((size_t)op->n_out, sizeof *o);
  mx_array **g = op->n_in <= 64 ? small_g : calloc((size_t)op->n_in, sizeof *g);
  int *argnums = op->n_in <= 64 ? small_a : malloc((size_t)op->n_in * sizeof(int));
  int rc = 0;
  if (!c || !o || !g || !argnums) {
    rc = mx_fail_int(MX_ENOMEM, "[vjp] out of memory.");
    goto done;
  }
  bool any = false;
  for (int k = 0; k < op->n_out; k++) {
    o[k] = op->outputs[k];
    c[k] = o[k] ? mx_node_map_take(cot, o[k]) : NULL;
    any |= c[k] != NULL;
  }
  int na = 0;
  for (int i = 0; i < op->n_in; i++)
    if (mx_node_map_get(needs, op->inputs[i])) argnums[na++] = i;
  const mx_prim_vt *vt = &mx_prims[op->prim];
  if (any && na) {
    if (!vt->vjp) {
      rc = mx_rule_missing("vjp", op);
    } else {
      MX_SCOPE_BEGIN;
      for (int j = 0; j < na; j++) g[j] = NULL;
      rc = vt->vjp(op, op->inputs, c, argnums, na, o, g);
      for (int j = 0; rc == 0 && j < na; j++)
        rc = accumulate(cot, op->inputs[argnums[j]], g[j], op->stream);
      MX_SCOPE_END;
    }
  }
  for (int k = 0; k < op->n_out; k++) mx_array_release(c[k]);
done:
  if (c && c != small_c) free(c);
  if (o && o != small_o) free(o);
  if (g && g != small_g) free(g);
  if (argnums && argnums != small_a) free(argnums);
  return rc;
}

/* Cotangents of every traced node from outs back to the tracers. grads[i] gets a new
 * reference (zeros where no path reaches tracer i). cots[i] may be NULL (no cotangent). */
static int backward(mx_array *const *outs, int n_out, mx_array *const *cots,
                    mx_array *const *tracers, mx_array *const *primals, int n, mx_array **grads) {
  mx_node_map cot = {0}, needs = {0};
  mx_array **order = NULL;
  size_t n_order = 0;
  int rc = 0;
  for (int i = 0; i < n; i++) grads[i] = NULL;
  for (int i = 0; i < n && rc == 0; i++) rc = set_add(&needs, tracers[i]);
  {
    MX_SCOPE_BEGIN;
    for (int i = 0; i < n_out && rc == 0; i++)
      if (cots[i])
        rc = accumulate(&cot, outs[i], cots[i], outs[i]->op ? outs[i]->op->stream : mx_stream_default());
    MX_SCOPE_END;
  }
  if (rc == 0) rc = mx_traced_order(outs, n_out, &order, &n_order);
  if (rc == 0) rc = mark_needs_grad(order, n_order, &needs);
  for (size_t oi = n_order; rc == 0 && oi-- > 0;) {
    mx_array *a = order[oi];
    bool is_primal = false; /* the copies standing for the primals end the walk */
    for (int i = 0; i < n && !is_primal; i++) is_primal = a == tracers[i];
    if (is_primal || !mx_node_map_get(&needs, a)) continue;
    /* siblings are adjacent in the order: the first met takes every sibling's cotangent */
    rc = backward_op(a->op, &cot, &needs);
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
  mx_node_map_free(&needs);
  if (rc != 0)
    for (int i = 0; i < n; i++) {
      mx_array_release(grads[i]);
      grads[i] = NULL;
    }
  return rc;
}

/* Tracer copies of the primals (new references in tracers[i]). */
static int make_tracers(const char *tag, mx_array *const *primals, int n, mx_array **tracers) {
  for (int i = 0; i < n; i++) tracers[i] = NULL;
  for (int i = 0; i < n; i++) {
    if (!primals[i]) return mx_fail_int(MX_EINVAL, "[%s] primal %d is empty.", tag, i);
    mx_stream s = primals[i]->op ? primals[i]->op->stream : mx_stream_default();
    tracers[i] = mx_copy(primals[i], s);
    if (!tracers[i]) return -1;
    tracers[i]->tracer = 1;
  }
  return 0;
}

static void release_all(mx_array **v, int n) {
  for (int i = 0; i < n; i++) {
    mx_array_release(v[i]);
    v[i] = NULL;
  }
}

static bool is_stop_gradient(const mx_array *a) {
  return a->op && a->op->prim == MX_PRIM_STOP_GRADIENT;
}

static void shape_str(const mx_array *a, char *buf, size_t cap) {
  int len = snprintf(buf, cap, "(");
  for (int d = 0; d < a->ndim && len < (int)cap; d++)
    len += snprintf(buf + len, cap - (size_t)len, d ? ",%d" : "%d", (int)a->shape[d]);
  if (len < (int)cap) snprintf(buf + len, cap - (size_t)len, ")");
}

/* Pairs the outputs that are not stop_gradient'd with the cotangents in order, as MLX:
 * paired[k] = cotangent cast to output k's dtype (new reference) or NULL. */
static int pair_cotangents(mx_array *const *outs, int n_out, mx_array *const *cotangents,
                           int n_cot, mx_array **paired) {
  int ci = 0;
  for (int k = 0; k < n_out; k++) {
    paired[k] = NULL;
    if (is_stop_gradient(outs[k])) continue;
    if (ci >= n_cot)
      return mx_fail_int(MX_EINVAL,
                         "[vjp] Number of outputs to compute gradients for (%d) does not match "
                         "number of cotangents (%d).", n_out, n_cot);
    mx_array *o = outs[k], *c = cotangents[ci++];
    if (!c) return mx_fail_int(MX_EINVAL, "[vjp] cotangent %d is empty.", ci - 1);
    if (o->ndim != c->ndim ||
        (o->ndim && memcmp(o->shape, c->shape, (size_t)o->ndim * sizeof(int32_t)))) {
      char so[256], sc[256];
      shape_str(o, so, sizeof so);
      shape_str(c, sc, sizeof sc);
      return mx_fail_int(MX_EINVAL, "[vjp] Output shape %s does not match cotangent shape %s.%s", so,
                         sc, n_out == 1 && o->size == 1
                                 ? " If you are using grad your function must return a scalar."
                                 : "");
    }
    mx_stream s = o->op ? o->op->stream : mx_stream_default();
    paired[k] = mx_astype(c, o->dtype, s);
    if (!paired[k]) return -1;
  }
  return 0;
}

/* Calls fn on args under a trace (scopes suspended: fn's results are new references). */
int mx_trace_call(mx_closure fn, mx_array *const *args, int n, mx_array **outs, int max_out,
                  int *n_out) {
  *n_out = 0;
  int scopes = mx_scope_suspend();
  int rc = fn.fn(fn.payload, args, n, outs, max_out, n_out);
  mx_scope_resume(scopes);
  if (rc != 0) {
    for (int k = 0; k < *n_out; k++) mx_array_release(outs[k]);
    *n_out = 0;
    if (mx_error_kind_get() == MX_OK) mx_fail_int(MX_ERUNTIME, "%s", "");
    return -1;
  }
  for (int k = 0; k < *n_out; k++)
    if (!outs[k]) {
      for (int j = 0; j < *n_out; j++) mx_array_release(outs[j]);
      *n_out = 0;
      return mx_fail_int(MX_EINVAL, "[transform] The function returned an empty array.");
    }
  return 0;
}

static int mx_vjp_impl(mx_closure fn, mx_array *const *primals, int n, mx_array *const *cotangents,
           int n_cot, mx_array **outs, int max_out, int *n_out, mx_array **grads) {
  mx_array **tracers = calloc((size_t)(n ? n : 1), sizeof *tracers);
  mx_array **cots = calloc((size_t)max_out + 1, sizeof *cots);
  *n_out = 0;
  if (!tracers || !cots) {
    free(tracers);
    free(cots);
    return mx_fail_int(MX_ENOMEM, "[vjp] out of memory.");
  }
  mx_trace_push();
  int rc = make_tracers("vjp", primals, n, tracers);
  if (rc == 0) rc = mx_trace_call(fn, tracers, n, outs, max_out, n_out);
  if (rc == 0) rc = pair_cotangents(outs, *n_out, cotangents, n_cot, cots);
  if (rc == 0) rc = backward(outs, *n_out, cots, tracers, primals, n, grads);
  release_all(cots, *n_out);
  release_all(tracers, n);
  mx_trace_pop();
  free(tracers);
  free(cots);
  if (rc != 0) {
    release_all(outs, *n_out);
    *n_out = 0;
    return rc;
  }
  mx_trace_finish(outs, *n_out, grads, n);
  return 0;
}

static int mx_value_and_grad_impl(mx_closure fn, mx_array *const *primals, int n, const int *argnums,
                      int n_argnums, mx_array **outs, int max_out, int *n_out, mx_array **grads) {
  *n_out = 0;
  if (n_argnums < 1) return mx_fail_int(MX_EINVAL, "[grad] Must specify at least one argument.");
  for (int j = 0; j < n_argnums; j++) {
    if (argnums[j] < 0 || argnums[j] >= n)
      return mx_fail_int(MX_EINVAL, "[grad] Invalid argument number for function with %d inputs.", n);
    for (int k = 0; k < j; k++)
      if (argnums[k] == argnums[j])
        return mx_fail_int(MX_EINVAL, "[grad] Repeat argument number not allowed in grad.");
  }
  mx_array **args = calloc((size_t)n + 1, sizeof *args);
  mx_array **sel = calloc((size_t)n_argnums, sizeof *sel);
  mx_array **selp = calloc((size_t)n_argnums, sizeof *selp);
  int rc = (args && sel && selp) ? 0 : mx_fail_int(MX_ENOMEM, "[value_and_grad] out of memory.");
  mx_trace_push();
  /* only the differentiated arguments are traced; the rest pass through unchanged */
  for (int i = 0; rc == 0 && i < n; i++) args[i] = primals[i];
  for (int j = 0; rc == 0 && j < n_argnums; j++) selp[j] = primals[argnums[j]];
  if (rc == 0) rc = make_tracers("value_and_grad", selp, n_argnums, sel);
  for (int j = 0; rc == 0 && j < n_argnums; j++) args[argnums[j]] = sel[j];
  if (rc == 0) rc = mx_trace_call(fn, args, n, outs, max_out, n_out);
  if (rc == 0 && *n_out < 1)
    rc = mx_fail_int(MX_EINVAL, "[vjp] Number of outputs to compute gradients for (0) does not "
                                "match number of cotangents (1).");
  /* auxiliary outputs carry no gradient */
  for (int k = 1; rc == 0 && k < *n_out; k++) {
    mx_stream s = outs[k]->op ? outs[k]->op->stream : mx_stream_default();
    mx_array *sg = mx_stop_gradient(outs[k], s);
    if (!sg) rc = -1;
    else {
      mx_array_release(outs[k]);
      outs[k] = sg;
    }
  }
  mx_array *seed = NULL, *cot0 = NULL;
  if (rc == 0) {
    seed = mx_array_scalar_f64(1.0, MX_FLOAT32);
    rc = seed ? pair_cotangents(outs, 1, &seed, 1, &cot0) : -1;
  }
  if (rc == 0) rc = backward(outs, 1, &cot0, sel, selp, n_argnums, grads);
  mx_array_release(seed);
  mx_array_release(cot0);
  if (sel) release_all(sel, n_argnums);
  mx_trace_pop();
  free(args);
  free(sel);
  free(selp);
  if (rc != 0) {
    release_all(outs, *n_out);
    *n_out = 0;
    return rc;
  }
  mx_trace_finish(outs, *n_out, grads, n_argnums);
  return 0;
}

int mx_vjp(mx_closure fn, mx_array *const *primals, int n, mx_array *const *cotangents,
           int n_cot, mx_array **outs, int max_out, int *n_out, mx_array **grads) {
  int scopes = mx_scope_suspend(); /* results are owned references, whatever the caller's scope */
  int rc = mx_vjp_impl(fn, primals, n, cotangents, n_cot, outs, max_out, n_out, grads);
  mx_scope_resume(scopes);
  return rc;
}

int mx_value_and_grad(mx_closure fn, mx_array *const *primals, int n, const int *argnums,
                      int n_argnums, mx_array **outs, int max_out, int *n_out, mx_array **grads) {
  int scopes = mx_scope_suspend(); /* results are owned references, whatever the caller's scope */
  int rc = mx_value_and_grad_impl(fn, primals, n, argnums, n_argnums, outs, max_out, n_out, grads);
  mx_scope_resume(scopes);
  return rc;
}
