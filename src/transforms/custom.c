/* custom.c: custom_function and checkpoint (spec/semantics.md section 11). The function
 * runs once; a CustomTransforms op then takes its outputs (stop_gradient'd, so nothing flows
 * through the body) followed by the primals, and its outputs alias the first inputs. Its
 * rules call the user's vjp/jvp/vmap closures, or fall back to transforming the function
 * itself (a checkpoint recomputes it, ordered after the forward outputs). */
#include <stdlib.h>
#include <string.h>

#include "../core/error.h"
#include "../core/prim.h"
#include "transforms.h"

static mx_custom *fns_of(const mx_op *op) {
  return (mx_custom *)((const mx_p_custom *)mx_op_params(op))->fns;
}

static bool same_shape(const mx_array *a, const mx_array *b) {
  return a->ndim == b->ndim && (a->ndim == 0 || !memcmp(a->shape, b->shape, (size_t)a->ndim * sizeof(int32_t)));
}

/* Adopts new references into the current scope (rules run inside one). */
static void adopt_all(mx_array **v, int n) {
  for (int i = 0; i < n; i++)
    if (v[i]) v[i] = mx_scope_adopt(v[i]);
}

static void release_all(mx_array **v, int n) {
  for (int i = 0; i < n; i++) {
    mx_array_release(v[i]);
    v[i] = NULL;
  }
}

/* Calls a user callback with scopes suspended: its results are new references. */
#define CALL_USER(rc, expr)              \
  do {                                   \
    int tok_ = mx_scope_suspend();       \
    rc = (expr);                         \
    mx_scope_resume(tok_);               \
    if (rc != 0 && mx_error_kind_get() == MX_OK) mx_fail_int(MX_ERUNTIME, "%s", ""); \
  } while (0)

static int custom_vjp(const mx_op *op, mx_array *const *p, mx_array *const *cot,
                      const int *argnums, int n_argnums, mx_array *const *outputs,
                      mx_array **grads) {
  mx_custom *f = fns_of(op);
  int m = op->n_out, np = op->n_in - m;
  bool any = false;
  for (int j = 0; j < n_argnums; j++) {
    grads[j] = NULL;
    any |= argnums[j] >= m;
  }
  if (!any) return 0;
  mx_array **c = calloc((size_t)m, sizeof *c), **outs = calloc((size_t)m, sizeof *outs);
  mx_array **g = calloc((size_t)np + 1, sizeof *g), **fwd = NULL, **deps = NULL;
  int rc = (c && outs && g) ? 0 : mx_fail_int(MX_ENOMEM, "[custom_function] out of memory.");
  for (int k = 0; rc == 0 && k < m; k++) {
    outs[k] = outputs[k] ? outputs[k] : op->inputs[k];
    c[k] = cot[k] ? cot[k] : mx_zeros_like(outs[k], op->stream);
    if (!c[k]) rc = -1;
  }
  if (rc == 0 && f->vjp) {
    CALL_USER(rc, f->vjp(f->payload, p + m, np, c, outs, m, g));
    for (int i = 0; rc == 0 && i < np; i++)
      if (g[i] && !same_shape(g[i], p[m + i]))
        rc = mx_fail_int(MX_EINVAL, "[custom_function] The vjp returned a cotangent of a different "
                                    "shape than its primal (input %d).", i);
  } else if (rc == 0) {
    /* differentiate the function itself; a checkpoint recomputes it after the forward pass */
    mx_array *const *prim = p + m;
    if (f->checkpoint) {
      deps = calloc((size_t)np + 1, sizeof *deps);
      rc = deps ? mx_depends(p + m, np, outs, m, deps) : mx_fail_int(MX_ENOMEM, "[checkpoint] out of memory.");
      prim = deps;
    }
    fwd = calloc((size_t)MX_MAX_OUTPUTS, sizeof *fwd);
    int nf = 0;
    if (rc == 0 && !fwd) rc = mx_fail_int(MX_ENOMEM, "[custom_function] out of memory.");
    if (rc == 0) rc = mx_vjp(f->fun, prim, np, c, m, fwd, MX_MAX_OUTPUTS, &nf, g);
    if (fwd) release_all(fwd, nf);
  }
  if (rc == 0) {
    adopt_all(g, np);
    for (int j = 0; j < n_argnums; j++) grads[j] = argnums[j] >= m ? g[argnums[j] - m] : NULL;
  } else if (g) {
    release_all(g, np);
  }
  free(c);
  free(outs);
  free(g);
  free(fwd);
  free(deps);
  return rc;
}

static int custom_jvp(const mx_op *op, mx_array *const *p, mx_array *const *t,
                      mx_array *const *outputs, mx_array **out) {
  mx_custom *f = fns_of(op);
  int m = op->n_out, np = op->n_in - m;
  bool any = false;
  for (int i = 0; i < np; i++) any |= t[m + i] != NULL;
  for (int k = 0; k < m; k++) out[k] = NULL;
  if (!any) return 0;
  mx_array **o = calloc((size_t)MX_MAX_OUTPUTS, sizeof *o), **tz = calloc((size_t)np + 1, sizeof *tz);
  int rc = (o && tz) ? 0 : mx_fail_int(MX_ENOMEM, "[custom_function] out of memory.");
  if (rc == 0 && f->jvp) {
    CALL_USER(rc, f->jvp(f->payload, p + m, np, t + m, o, m));
    for (int k = 0; rc == 0 && k < m; k++)
      if (o[k] && outputs[k] && !same_shape(o[k], outputs[k]))
        rc = mx_fail_int(MX_EINVAL, "[custom_function] The jvp returned a tangent of a different "
                                    "shape than its output (output %d).", k);
    if (rc == 0) adopt_all(o, m);
    else release_all(o, m);
  } else if (rc == 0) {
    for (int i = 0; rc == 0 && i < np; i++) {
      tz[i] = t[m + i] ? t[m + i] : mx_zeros_like(p[m + i], op->stream);
      if (!tz[i]) rc = -1;
    }
    mx_array **fwd = calloc((size_t)MX_MAX_OUTPUTS, sizeof *fwd);
    int nf = 0;
    if (rc == 0 && !fwd) rc = mx_fail_int(MX_ENOMEM, "[custom_function] out of memory.");
    if (rc == 0) rc = mx_jvp(f->fun, p + m, np, tz, fwd, MX_MAX_OUTPUTS, &nf, o);
    if (rc == 0 && nf != m) {
      release_all(o, nf);
      rc = mx_fail_int(MX_EINVAL, "[custom_function] The function returned %d outputs, %d before.", nf, m);
    }
    if (rc == 0) adopt_all(o, m);
    if (fwd) release_all(fwd, nf);
    free(fwd);
  }
  for (int k = 0; rc == 0 && k < m; k++) out[k] = o[k];
  free(o);
  free(tz);
  return rc;
}

static int custom_vmap(const mx_op *op, mx_array *const *in, const int *axes, mx_array **outputs,
                       int *out_axes) {
  mx_custom *f = fns_of(op);
  int m = op->n_out, np = op->n_in - m;
  bool any = false;
  for (int i = 0; i < np; i++) any |= axes[m + i] >= 0;
  if (!any) { /* only values captured by the function are batched: its outputs already are */
    for (int k = 0; k < m; k++) {
      outputs[k] = in[k];
      out_axes[k] = axes[k];
    }
    return 0;
  }
  mx_array **o = calloc((size_t)MX_MAX_OUTPUTS, sizeof *o);
  int *oa = calloc((size_t)MX_MAX_OUTPUTS, sizeof *oa);
  int rc = (o && oa) ? 0 : mx_fail_int(MX_ENOMEM, "[custom_function] out of memory.");
  int no = 0;
  if (rc == 0 && f->vmap) {
    CALL_USER(rc, f->vmap(f->payload, in + m, axes + m, np, o, oa, MX_MAX_OUTPUTS, &no));
  } else if (rc == 0) {
    rc = mx_vmap(f->fun, in + m, np, axes + m, NULL, o, MX_MAX_OUTPUTS, &no);
  }
  if (rc == 0 && no != m) {
    release_all(o, no);
    rc = mx_fail_int(MX_EINVAL, "[custom_function] The vmap function returned %d outputs; the "
                                "function has %d.", no, m);
  }
  if (rc == 0) {
    adopt_all(o, m);
    for (int k = 0; k < m; k++) {
      outputs[k] = o[k];
      out_axes[k] = oa[k];
    }
  }
  free(o);
  free(oa);
  return rc;
}

/* The outputs alias the first n_out inputs (the forward values). */
static int custom_view(const mx_op *op, mx_array *const *in, mx_array *const *out) {
  for (int k = 0; k < op->n_out; k++) {
    mx_array *o = out[k];
    if (!o) continue;
    for (int d = 0; d < in[k]->ndim; d++) o->strides[d] = in[k]->strides[d];
    mx_buffer_retain(in[k]->buf);
    mx_buffer_release(o->buf);
    o->buf = in[k]->buf;
    o->offset = in[k]->offset;
    o->flags = mx_layout_flags(o->ndim, o->shape, o->strides);
  }
  return 1;
}

__attribute__((constructor)) static void register_custom(void) {
  mx_prims[MX_PRIM_CUSTOM].vjp = custom_vjp;
  mx_prims[MX_PRIM_CUSTOM].jvp = custom_jvp;
  mx_prims[MX_PRIM_CUSTOM].vmap = custom_vmap;
  mx_prims[MX_PRIM_CUSTOM].view = custom_view;
}

static int mx_custom_function_impl(mx_custom *fns, mx_array *const *in, int n, mx_array **outs, int max_out,
                       int *n_out) {
  *n_out = 0;
  mx_array **o = calloc((size_t)max_out + 1, sizeof *o);
  if (!o) return mx_fail_int(MX_ENOMEM, "[custom_function] out of memory.");
  int m = 0;
  int rc = mx_trace_call(fns->fun, in, n, o, max_out, &m);
  if (rc == 0 && m == 0)
    rc = mx_fail_int(MX_EINVAL, "[custom_function] The function must return at least one array.");
  mx_array **op_in = rc == 0 ? calloc((size_t)(m + n), sizeof *op_in) : NULL;
  mx_out_spec *specs = rc == 0 ? calloc((size_t)m, sizeof *specs) : NULL;
  if (rc == 0 && (!op_in || !specs)) rc = mx_fail_int(MX_ENOMEM, "[custom_function] out of memory.");
  if (rc == 0) {
    mx_stream s = o[0]->op ? o[0]->op->stream : mx_stream_default();
    MX_SCOPE_BEGIN;
    for (int k = 0; k < m; k++) {
      op_in[k] = mx_stop_gradient(o[k], s);
      specs[k] = (mx_out_spec){o[k]->dtype, o[k]->ndim, o[k]->shape};
    }
    for (int i = 0; i < n; i++) op_in[m + i] = in[i];
    mx_p_custom params = {&fns->base};
    rc = mx_op_make(MX_PRIM_CUSTOM, &params, s, m + n, op_in, m, specs, outs);
    for (int k = 0; rc == 0 && k < m; k++) outs[k] = mx_keep(outs[k]);
    MX_SCOPE_END;
  }
  if (rc == 0) *n_out = m;
  release_all(o, m);
  free(o);
  free(op_in);
  free(specs);
  return rc;
}

int mx_custom_function(mx_custom *fns, mx_array *const *in, int n, mx_array **outs, int max_out,
                       int *n_out) {
  int scopes = mx_scope_suspend(); /* results are owned references, whatever the caller's scope */
  int rc = mx_custom_function_impl(fns, in, n, outs, max_out, n_out);
  mx_scope_resume(scopes);
  return rc;
}
