/* vmap.c: vectorization (DESIGN section 7, spec/semantics.md section 11). The function is
 * traced once on placeholders (per-example shapes, no data: evaluating one raises); the
 * traced graph is then replayed iteratively in post-order, each op whose inputs carry a
 * batch axis going through its primitive's vmap rule, which says where the batch axis of
 * each output went. Subgraphs that touch no placeholder pass through unchanged. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/error.h"
#include "../core/eval.h"
#include "../core/prim.h"
#include "graph_walk.h"
#include "transforms.h"

static void shape_str(int ndim, const int32_t *shape, char *buf, size_t cap) {
  int len = snprintf(buf, cap, "(");
  for (int d = 0; d < ndim && len < (int)cap; d++)
    len += snprintf(buf + len, cap - (size_t)len, d ? ",%d" : "%d", (int)shape[d]);
  if (len < (int)cap) snprintf(buf + len, cap - (size_t)len, ")");
}

/* The common size of the mapped axes, or -1 + error when they disagree. */
static int64_t batch_size(mx_array *const *inputs, int n, const int *in_axes) {
  int64_t size = -1;
  for (int i = 0; i < n; i++) {
    if (in_axes[i] < 0) continue;
    mx_array *x = inputs[i];
    if (!x) return mx_fail_int(MX_EINVAL, "[vmap] input %d is empty.", i);
    if (x->ndim == 0)
      return mx_fail_int(MX_EINVAL, "[vmap] Cannot vmap an input with zero dimensions.");
    if (in_axes[i] >= x->ndim) {
      char sh[256];
      shape_str(x->ndim, x->shape, sh, sizeof sh);
      return mx_fail_int(MX_EINDEX, "[vmap] Invalid vectorization axis %d for array with shape %s",
                         in_axes[i], sh);
    }
    size = x->shape[in_axes[i]]; /* the last one, compared below as MLX does */
  }
  for (int i = 0; i < n; i++)
    if (in_axes[i] >= 0 && inputs[i]->shape[in_axes[i]] != size)
      return mx_fail_int(MX_EINVAL, "[vmap] Inconsistent axis sizes: %lld and %lld.",
                         (long long)inputs[i]->shape[in_axes[i]], (long long)size);
  return size;
}

/* A data-less tracer leaf standing for one example of x mapped along axis. */
static mx_array *placeholder(const mx_array *x, int axis) {
  int32_t small[MX_INLINE_DIMS];
  int32_t *shape = x->ndim - 1 <= MX_INLINE_DIMS ? small : malloc((size_t)x->ndim * sizeof(int32_t));
  if (!shape) return mx_fail(MX_ENOMEM, "[vmap] out of memory.");
  for (int d = 0, k = 0; d < x->ndim; d++)
    if (d != axis) shape[k++] = x->shape[d];
  mx_array *p = mx_array_alloc_node(x->dtype, x->ndim - 1, shape);
  if (shape != small) free(shape);
  if (p) p->tracer = 1;
  return p;
}

static int mx_vmap_trace_impl(mx_closure fn, mx_array *const *inputs, int n, const int *in_axes,
                  mx_array **s_inputs, mx_array **s_outs, int max_out, int *n_out) {
  *n_out = 0;
  for (int i = 0; i < n; i++) s_inputs[i] = NULL;
  bool any = false;
  for (int i = 0; i < n; i++) any |= in_axes[i] >= 0;
  if (n > 0 && !any) return mx_fail_int(MX_EINVAL, "At least one of in_axes must be non-None.");
  if (batch_size(inputs, n, in_axes) == -1 && mx_error_kind_get() != MX_OK) return -1;
  int rc = 0;
  for (int i = 0; rc == 0 && i < n; i++) {
    if (in_axes[i] >= 0) {
      s_inputs[i] = placeholder(inputs[i], in_axes[i]);
      if (!s_inputs[i]) rc = -1;
    } else {
      mx_array_retain(inputs[i]);
      s_inputs[i] = inputs[i];
    }
  }
  if (rc == 0) {
    mx_trace_push();
    rc = mx_trace_call(fn, s_inputs, n, s_outs, max_out, n_out);
    mx_trace_pop();
  }
  if (rc != 0)
    for (int i = 0; i < n; i++) {
      mx_array_release(s_inputs[i]);
      s_inputs[i] = NULL;
    }
  return rc;
}

/* The op applied again to inputs v (same shapes as its own), outputs mapped unbatched. */
static int rebuild_op(mx_op *op, mx_array *const *v, mx_node_map *map) {
  mx_out_spec small[8];
  mx_out_spec *specs = op->n_out <= 8 ? small : malloc((size_t)op->n_out * sizeof *specs);
  mx_array *small_o[8];
  mx_array **o = op->n_out <= 8 ? small_o : malloc((size_t)op->n_out * sizeof *o);
  int rc = (specs && o) ? 0 : mx_fail_int(MX_ENOMEM, "[vmap] out of memory.");
  for (int k = 0; rc == 0 && k < op->n_out; k++) {
    const mx_array *a = op->outputs[k];
    specs[k] = a ? (mx_out_spec){a->dtype, a->ndim, a->shape} : op->out_specs[k];
  }
  if (rc == 0) {
    MX_SCOPE_BEGIN;
    rc = mx_op_make(op->prim, op->params, op->stream, op->n_in, v, op->n_out, specs, o);
    for (int k = 0; rc == 0 && k < op->n_out; k++)
      if (op->outputs[k]) rc = mx_node_map_put_tagged(map, op->outputs[k], mx_keep(o[k]), -1);
    MX_SCOPE_END;
  }
  if (specs && specs != small) free(specs);
  if (o && o != small_o) free(o);
  return rc;
}

/* Runs op's vmap rule when one of its inputs is batched; maps its outputs. */
static int replay_op(mx_op *op, mx_node_map *map) {
  mx_array *small_v[16], *small_o[8];
  int small_a[16], small_oa[8];
  mx_array **v = op->n_in <= 16 ? small_v : calloc((size_t)op->n_in, sizeof *v);
  int *axes = op->n_in <= 16 ? small_a : malloc((size_t)op->n_in * sizeof(int));
  mx_array **o = op->n_out <= 8 ? small_o : calloc((size_t)op->n_out, sizeof *o);
  int *oaxes = op->n_out <= 8 ? small_oa : malloc((size_t)op->n_out * sizeof(int));
  int rc = 0;
  if (!v || !axes || !o || !oaxes) {
    rc = mx_fail_int(MX_ENOMEM, "[vmap] out of memory.");
    goto done;
  }
  bool any = false;
  for (int i = 0; i < op->n_in; i++) {
    int32_t ax = -1;
    mx_array *m = mx_node_map_get_tagged(map, op->inputs[i], &ax);
    v[i] = m ? m : op->inputs[i];
    axes[i] = m ? ax : -1;
    any |= axes[i] >= 0;
  }
  if (!any) {
    /* no batched input, but some input was replaced by an unbatched value (a rule gave an
     * output without batch axis): the op is rebuilt as it was on the new inputs */
    bool replaced = false;
    for (int i = 0; i < op->n_in; i++) replaced |= v[i] != op->inputs[i];
    if (replaced) rc = rebuild_op(op, v, map);
    goto done;
  }
  const mx_prim_vt *vt = &mx_prims[op->prim];
  if (!vt->vmap) {
    rc = mx_rule_missing("vmap", op);
    goto done;
  }
  MX_SCOPE_BEGIN;
  for (int k = 0; k < op->n_out; k++) {
    o[k] = NULL;
    oaxes[k] = -1;
  }
  rc = vt->vmap(op, v, axes, o, oaxes);
  for (int k = 0; rc == 0 && k < op->n_out; k++) {
    if (!op->outputs[k]) continue;
    if (!o[k]) {
      rc = mx_fail_int(MX_ERUNTIME, "[vmap] The vmap rule of %s gave no output %d.",
                       mx_prim_name(op->prim), k);
      break;
    }
    rc = mx_node_map_put_tagged(map, op->outputs[k], mx_keep(o[k]), oaxes[k]);
  }
  MX_SCOPE_END;
done:
  if (v && v != small_v) free(v);
  if (axes && axes != small_a) free(axes);
  if (o && o != small_o) free(o);
  if (oaxes && oaxes != small_oa) free(oaxes);
  return rc;
}

/* Puts the batch axis of v (at ax, or none when ax < 0) at want; new reference. */
static mx_array *place_axis(mx_array *v, int ax, int want, int64_t batch, mx_stream s) {
  if (ax == want) {
    mx_array_retain(v);
    return v;
  }
  if (want < 0)
    return mx_fail(MX_EINVAL, "[vmap] Axis -1 invalid for output with %d dimensions.", v->ndim);
  if (ax < 0) { /* not batched: every example gets the same value */
    if (want > v->ndim)
      return mx_fail(MX_EINVAL, "[vmap] Axis %d invalid for output with %d dimensions.", want, v->ndim);
    MX_SCOPE_BEGIN;
    mx_array *e = mx_expand_dims(v, want, s);
    mx_array *r = NULL;
    if (e) {
      int32_t small[MX_INLINE_DIMS];
      int32_t *shape = e->ndim <= MX_INLINE_DIMS ? small : malloc((size_t)e->ndim * sizeof(int32_t));
      if (shape) {
        memcpy(shape, e->shape, (size_t)e->ndim * sizeof(int32_t));
        shape[want] = (int32_t)batch;
        r = mx_broadcast_to(e, shape, e->ndim, s);
        if (shape != small) free(shape);
      } else {
        mx_fail(MX_ENOMEM, "[vmap] out of memory.");
      }
    }
    MX_SCOPE_RETURN(r);
  }
  if (want >= v->ndim)
    return mx_fail(MX_EINVAL, "[vmap] Axis %d invalid for output with %d dimensions.", want, v->ndim);
  MX_SCOPE_BEGIN;
  mx_array *r = mx_moveaxis(v, ax, want, s);
  MX_SCOPE_RETURN(r);
}

static int mx_vmap_replace_impl(mx_array *const *inputs, mx_array *const *s_inputs, int n, const int *in_axes,
                    mx_array *const *s_outs, int n_out, const int *out_axes, mx_array **outs) {
  for (int k = 0; k < n_out; k++) outs[k] = NULL;
  int64_t batch = batch_size(inputs, n, in_axes);
  if (batch == -1 && mx_error_kind_get() != MX_OK) return -1;
  mx_node_map map = {0};
  mx_array **order = NULL;
  size_t n_order = 0;
  int rc = 0;
  mx_trace_push();
  for (int i = 0; rc == 0 && i < n; i++) {
    if (in_axes[i] < 0) continue;
    mx_array_retain(inputs[i]);
    rc = mx_node_map_put_tagged(&map, s_inputs[i], inputs[i], in_axes[i]);
  }
  if (rc == 0) rc = mx_traced_order(s_outs, n_out, &order, &n_order);
  for (size_t oi = 0; rc == 0 && oi < n_order; oi++) {
    mx_op *op = order[oi]->op;
    bool done = false; /* a sibling already replayed the op */
    for (int k = 0; k < op->n_out && !done; k++) {
      int32_t ax;
      done = op->outputs[k] && mx_node_map_get_tagged(&map, op->outputs[k], &ax);
    }
    if (!done) rc = replay_op(op, &map);
  }
  for (size_t i = 0; i < n_order; i++) mx_array_release(order[i]);
  free(order);
  for (int k = 0; rc == 0 && k < n_out; k++) {
    int32_t ax = -1;
    mx_array *v = mx_node_map_get_tagged(&map, s_outs[k], &ax);
    if (!v) {
      v = s_outs[k];
      ax = -1;
    }
    mx_stream s = v->op ? v->op->stream : mx_stream_default();
    outs[k] = place_axis(v, ax, out_axes ? out_axes[k] : 0, batch, s);
    if (!outs[k]) rc = -1;
  }
  mx_node_map_free(&map);
  mx_trace_pop();
  if (rc != 0) {
    for (int k = 0; k < n_out; k++) {
      mx_array_release(outs[k]);
      outs[k] = NULL;
    }
    return -1;
  }
  mx_trace_finish(outs, n_out, NULL, 0);
  return 0;
}

int mx_vmap(mx_closure fn, mx_array *const *inputs, int n, const int *in_axes,
            const int *out_axes, mx_array **outs, int max_out, int *n_out) {
  *n_out = 0;
  mx_array **s_in = calloc((size_t)n + 1, sizeof *s_in);
  mx_array **s_out = calloc((size_t)max_out + 1, sizeof *s_out);
  int *zeros = calloc((size_t)n + 1, sizeof *zeros);
  if (!s_in || !s_out || !zeros) {
    free(s_in);
    free(s_out);
    free(zeros);
    return mx_fail_int(MX_ENOMEM, "[vmap] out of memory.");
  }
  int ns = 0;
  int rc = mx_vmap_trace(fn, inputs, n, in_axes ? in_axes : zeros, s_in, s_out, max_out, &ns);
  if (rc == 0) rc = mx_vmap_replace(inputs, s_in, n, in_axes ? in_axes : zeros, s_out, ns, out_axes, outs);
  if (rc == 0) *n_out = ns;
  for (int i = 0; i < n; i++) mx_array_release(s_in[i]);
  for (int k = 0; k < ns; k++) mx_array_release(s_out[k]);
  free(s_in);
  free(s_out);
  free(zeros);
  return rc;
}

int mx_vmap_trace(mx_closure fn, mx_array *const *inputs, int n, const int *in_axes,
                  mx_array **s_inputs, mx_array **s_outs, int max_out, int *n_out) {
  int scopes = mx_scope_suspend(); /* results are owned references, whatever the caller's scope */
  int rc = mx_vmap_trace_impl(fn, inputs, n, in_axes, s_inputs, s_outs, max_out, n_out);
  mx_scope_resume(scopes);
  return rc;
}

int mx_vmap_replace(mx_array *const *inputs, mx_array *const *s_inputs, int n, const int *in_axes,
                    mx_array *const *s_outs, int n_out, const int *out_axes, mx_array **outs) {
  int scopes = mx_scope_suspend(); /* results are owned references, whatever the caller's scope */
  int rc = mx_vmap_replace_impl(inputs, s_inputs, n, in_axes, s_outs, n_out, out_axes, outs);
  mx_scope_resume(scopes);
  return rc;
}
