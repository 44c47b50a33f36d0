/* transforms.c: the transformations of the mlx-c API (mlx/c/transforms.h and
 * mlx/c/transforms_impl.h) over src/transforms: eval, vjp/jvp, value_and_grad, custom
 * functions and checkpoint, and the detail vmap used by bindings. Closures are called
 * through closure_private.h. */
#include "closure_private.h"

#include <stdlib.h>
#include <string.h>

#include "eval.h"
#include "mlx/c/transforms.h"
#include "mlx/c/transforms_impl.h"

#define HERE __FILE__, __LINE__

int mlx_eval(const mlx_vector_array outputs) {
  mx_array *const *nodes;
  int n;
  if (mx_capi_vector_nodes(outputs, &nodes, &n)) return 1;
  if (mx_eval(nodes, n) != 0) return mx_capi_report(HERE);
  return 0;
}

int mlx_async_eval(const mlx_vector_array outputs) {
  mx_array *const *nodes;
  int n;
  if (mx_capi_vector_nodes(outputs, &nodes, &n)) return 1;
  if (mx_async_eval(nodes, n) != 0) return mx_capi_report(HERE);
  return 0;
}

static mx_cls *closure_box(void *ctx, bool required) {
  if (!ctx && required) {
    mx_capi_fail(HERE, MX_EINVAL, "expected a non-empty mlx_closure");
    return NULL;
  }
  return ctx;
}

/* Output vectors of the transforms: nodes (stolen) into *res; 0 or 1 + report. */
static int set_out(mlx_vector_array *res, mx_array **nodes, int n) {
  return mx_capi_set_vector_at(res, nodes, n, HERE);
}

static int vjp_jvp(mlx_vector_array *res_0, mlx_vector_array *res_1, const mlx_closure fun,
                   const mlx_vector_array primals, const mlx_vector_array other, bool is_vjp) {
  mx_cls *c = closure_box(fun.ctx, true);
  mx_array *const *p, *const *t;
  int np, nt;
  if (!c || mx_capi_vector_nodes(primals, &p, &np) || mx_capi_vector_nodes(other, &t, &nt)) return 1;
  if (!res_0 || !res_1) return mx_capi_fail(HERE, MX_EINVAL, "expected non-null output pointers");
  if (!is_vjp && np != nt)
    return mx_capi_fail(HERE, MX_EINVAL, "[jvp] Number of inputs does not match number of tangents.");
  mx_array **outs = calloc(MX_MAX_OUTPUTS, sizeof *outs);
  mx_array **res = calloc(is_vjp ? (size_t)np + 1 : MX_MAX_OUTPUTS, sizeof *res);
  int n_out = 0, rc;
  if (!outs || !res) {
    free(outs);
    free(res);
    return mx_capi_fail(HERE, MX_ENOMEM, "[malloc] out of memory.");
  }
  mx_error_clear();
  rc = is_vjp ? mx_vjp(mx_cls_core(c), p, np, t, nt, outs, MX_MAX_OUTPUTS, &n_out, res)
              : mx_jvp(mx_cls_core(c), p, np, t, outs, MX_MAX_OUTPUTS, &n_out, res);
  int status;
  if (rc != 0) {
    status = mx_capi_report(HERE);
  } else {
    int nres = is_vjp ? np : n_out;
    status = set_out(res_0, outs, n_out);
    if (status == 0) status = set_out(res_1, res, nres);
    else
      for (int i = 0; i < nres; i++) mx_array_release(res[i]);
  }
  free(outs);
  free(res);
  return status;
}

int mlx_vjp(mlx_vector_array *res_0, mlx_vector_array *res_1, const mlx_closure fun,
            const mlx_vector_array primals, const mlx_vector_array cotangents) {
  return vjp_jvp(res_0, res_1, fun, primals, cotangents, true);
}

int mlx_jvp(mlx_vector_array *res_0, mlx_vector_array *res_1, const mlx_closure fun,
            const mlx_vector_array primals, const mlx_vector_array tangents) {
  return vjp_jvp(res_0, res_1, fun, primals, tangents, false);
}

/* ---- value_and_grad: a closure of the function and the argument numbers ---- */

typedef struct vag_payload {
  mx_cls *fun;
  int n;
  int argnums[];
} vag_payload;

static void vag_free(void *p) {
  vag_payload *v = p;
  mx_cls_release(v->fun);
  free(v);
}

static int vag_apply(mlx_vector_array *values, mlx_vector_array *grads, const mlx_vector_array in,
                     void *payload) {
  vag_payload *v = payload;
  mx_array *const *p;
  int np;
  if (mx_capi_vector_nodes(in, &p, &np)) return 1;
  mx_array **outs = calloc(MX_MAX_OUTPUTS, sizeof *outs), **g = calloc((size_t)v->n + 1, sizeof *g);
  int n_out = 0, rc = (outs && g) ? 0 : mx_fail_int(MX_ENOMEM, "[value_and_grad] out of memory.");
  if (rc == 0) rc = mx_value_and_grad(mx_cls_core(v->fun), p, np, v->argnums, v->n, outs, MX_MAX_OUTPUTS, &n_out, g);
  if (rc == 0) {
    mlx_vector_array a = mx_cls_vector(outs, n_out), b = mx_cls_vector(g, v->n);
    for (int i = 0; i < n_out; i++) mx_array_release(outs[i]);
    for (int i = 0; i < v->n; i++) mx_array_release(g[i]);
    if (!a.ctx || !b.ctx) rc = -1;
    mlx_vector_array_free(*values);
    mlx_vector_array_free(*grads);
    *values = a;
    *grads = b;
  }
  free(outs);
  free(g);
  return rc ? 1 : 0;
}

int mlx_value_and_grad(mlx_closure_value_and_grad *res, const mlx_closure fun, const int *argnums,
                       size_t argnums_num) {
  mx_cls *c = closure_box(fun.ctx, true);
  if (!c) return 1;
  if (!res) return mx_capi_fail(HERE, MX_EINVAL, "expected a non-null output pointer");
  if (argnums_num == 0) return mx_capi_fail(HERE, MX_EINVAL, "[grad] Must specify at least one argument.");
  vag_payload *v = malloc(sizeof *v + argnums_num * sizeof(int));
  if (!v) return mx_capi_fail(HERE, MX_ENOMEM, "[malloc] out of memory.");
  mx_cls_retain(c);
  v->fun = c;
  v->n = (int)argnums_num;
  memcpy(v->argnums, argnums, argnums_num * sizeof(int));
  mx_cls *box = mx_cls_new(MX_CLS_VAG, (void (*)(void))vag_apply, true, v, vag_free);
  if (!box) {
    vag_free(v);
    return mx_capi_report(HERE);
  }
  mx_cls_release(res->ctx);
  res->ctx = box;
  return 0;
}

/* ---- custom functions ---- */

typedef struct custom_payload {
  mx_cls *fun, *vjp, *jvp, *vmap;
  bool checkpoint;
} custom_payload;

static void custom_payload_free(void *p) {
  custom_payload *c = p;
  mx_cls_release(c->fun);
  mx_cls_release(c->vjp);
  mx_cls_release(c->jvp);
  mx_cls_release(c->vmap);
  free(c);
}

/* The core object of one call: a copy of the payload's closures. */
typedef struct capi_custom {
  mx_custom base;
  custom_payload cls;
} capi_custom;

static void capi_custom_destroy(mx_object *o) {
  capi_custom *c = (capi_custom *)o;
  mx_cls_release(c->cls.fun);
  mx_cls_release(c->cls.vjp);
  mx_cls_release(c->cls.jvp);
  mx_cls_release(c->cls.vmap);
  free(c);
}

static int rule_vjp(void *payload, mx_array *const *primals, int n_p, mx_array *const *cots,
                    mx_array *const *outputs, int n_out, mx_array **grads) {
  capi_custom *c = payload;
  mlx_vector_array a = mx_cls_vector(primals, n_p), b = mx_cls_vector(cots, n_out);
  mlx_vector_array d = mx_cls_vector(outputs, n_out), r = {NULL};
  int n = 0, rc = (a.ctx && b.ctx && d.ctx) ? mx_cls_call_custom(c->cls.vjp, &r, a, b, d) : -1;
  if (rc == 0) rc = mx_cls_take(r, grads, n_p, &n);
  if (rc == 0 && n != n_p) {
    for (int i = 0; i < n; i++) mx_array_release(grads[i]);
    rc = mx_fail_int(MX_EINVAL, "[custom_function] The vjp returned %d cotangents for %d primals.", n, n_p);
  }
  mlx_vector_array_free(a);
  mlx_vector_array_free(b);
  mlx_vector_array_free(d);
  mlx_vector_array_free(r);
  return rc ? -1 : 0;
}

static int rule_jvp(void *payload, mx_array *const *primals, int n_p, mx_array *const *tangents,
                    mx_array **out_t, int n_out) {
  capi_custom *c = payload;
  mx_array **t = calloc((size_t)n_p + 1, sizeof *t);
  int *argnums = calloc((size_t)n_p + 1, sizeof *argnums), nt = 0;
  if (!t || !argnums) {
    free(t);
    free(argnums);
    return mx_fail_int(MX_ENOMEM, "[custom_function] out of memory.");
  }
  for (int i = 0; i < n_p; i++)
    if (tangents[i]) {
      t[nt] = tangents[i];
      argnums[nt++] = i;
    }
  mlx_vector_array a = mx_cls_vector(primals, n_p), b = mx_cls_vector(t, nt), r = {NULL};
  int n = 0, rc = (a.ctx && b.ctx) ? mx_cls_call_jvp(c->cls.jvp, &r, a, b, argnums, (size_t)nt) : -1;
  if (rc == 0) rc = mx_cls_take(r, out_t, n_out, &n);
  if (rc == 0 && n != n_out) {
    for (int i = 0; i < n; i++) mx_array_release(out_t[i]);
    rc = mx_fail_int(MX_EINVAL, "[custom_function] The jvp returned %d tangents for %d outputs.", n, n_out);
  }
  mlx_vector_array_free(a);
  mlx_vector_array_free(b);
  mlx_vector_array_free(r);
  free(t);
  free(argnums);
  return rc ? -1 : 0;
}

static int rule_vmap(void *payload, mx_array *const *in, const int *axes, int n, mx_array **outs,
                     int *out_axes, int max_out, int *n_out) {
  capi_custom *c = payload;
  mlx_vector_array a = mx_cls_vector(in, n), r = {NULL};
  mlx_vector_int ra = {NULL};
  int rc = a.ctx ? mx_cls_call_vmap(c->cls.vmap, &r, &ra, a, axes, (size_t)n) : -1;
  if (rc == 0) rc = mx_cls_take(r, outs, max_out, n_out);
  if (rc == 0) {
    size_t na = ra.ctx ? mlx_vector_int_size(ra) : 0;
    if ((int)na != *n_out) {
      for (int i = 0; i < *n_out; i++) mx_array_release(outs[i]);
      *n_out = 0;
      rc = mx_fail_int(MX_EINVAL, "[custom_function] The vmap returned %zu axes for its outputs.", na);
    }
    for (size_t i = 0; rc == 0 && i < na; i++) mlx_vector_int_get(&out_axes[i], ra, i);
  }
  mlx_vector_array_free(a);
  mlx_vector_array_free(r);
  mlx_vector_int_free(ra);
  return rc ? -1 : 0;
}

static int custom_apply(mlx_vector_array *res, const mlx_vector_array in, void *payload) {
  custom_payload *p = payload;
  mx_array *const *nodes;
  int n;
  if (mx_capi_vector_nodes(in, &nodes, &n)) return 1;
  capi_custom *c = calloc(1, sizeof *c);
  mx_array **outs = calloc(MX_MAX_OUTPUTS, sizeof *outs);
  if (!c || !outs) {
    free(c);
    free(outs);
    mx_fail_int(MX_ENOMEM, "[custom_function] out of memory.");
    return 1;
  }
  mx_object_init(&c->base.base, capi_custom_destroy);
  c->cls = *p;
  mx_cls_retain(p->fun);
  mx_cls_retain(p->vjp);
  mx_cls_retain(p->jvp);
  mx_cls_retain(p->vmap);
  c->base.fun = mx_cls_core(p->fun);
  c->base.vjp = p->vjp ? rule_vjp : NULL;
  c->base.jvp = p->jvp ? rule_jvp : NULL;
  c->base.vmap = p->vmap ? rule_vmap : NULL;
  c->base.payload = c;
  c->base.checkpoint = p->checkpoint;
  int n_out = 0;
  int rc = mx_custom_function(&c->base, nodes, n, outs, MX_MAX_OUTPUTS, &n_out);
  mx_object_release(&c->base.base);
  if (rc == 0) {
    mlx_vector_array v = mx_cls_vector(outs, n_out);
    for (int i = 0; i < n_out; i++) mx_array_release(outs[i]);
    if (!v.ctx) rc = -1;
    mlx_vector_array_free(*res);
    *res = v;
  }
  free(outs);
  return rc ? 1 : 0;
}

static int make_custom(mlx_closure *res, const mlx_closure fun, void *vjp, void *jvp, void *vmap,
                       bool checkpoint) {
  mx_cls *f = closure_box(fun.ctx, true);
  if (!f) return 1;
  if (!res) return mx_capi_fail(HERE, MX_EINVAL, "expected a non-null output pointer");
  custom_payload *p = calloc(1, sizeof *p);
  if (!p) return mx_capi_fail(HERE, MX_ENOMEM, "[malloc] out of memory.");
  p->fun = f;
  p->vjp = vjp;
  p->jvp = jvp;
  p->vmap = vmap;
  p->checkpoint = checkpoint;
  mx_cls_retain(p->fun);
  mx_cls_retain(p->vjp);
  mx_cls_retain(p->jvp);
  mx_cls_retain(p->vmap);
  mx_cls *box = mx_cls_new(MX_CLS_PLAIN, (void (*)(void))custom_apply, true, p, custom_payload_free);
  if (!box) {
    custom_payload_free(p);
    return mx_capi_report(HERE);
  }
  mx_cls_release(res->ctx);
  res->ctx = box;
  return 0;
}

int mlx_custom_function(mlx_closure *res, const mlx_closure fun, const mlx_closure_custom fun_vjp,
                        const mlx_closure_custom_jvp fun_jvp, const mlx_closure_custom_vmap fun_vmap) {
  return make_custom(res, fun, fun_vjp.ctx, fun_jvp.ctx, fun_vmap.ctx, false);
}

int mlx_custom_vjp(mlx_closure *res, const mlx_closure fun, const mlx_closure_custom fun_vjp) {
  return make_custom(res, fun, fun_vjp.ctx, NULL, NULL, false);
}

int mlx_checkpoint(mlx_closure *res, const mlx_closure fun) {
  return make_custom(res, fun, NULL, NULL, NULL, true);
}

/* ---- detail vmap ---- */

int mlx_detail_vmap_trace(mlx_vector_array *res_0, mlx_vector_array *res_1, const mlx_closure fun,
                          const mlx_vector_array inputs, const int *in_axes, size_t in_axes_num) {
  mx_cls *c = closure_box(fun.ctx, true);
  mx_array *const *in;
  int n;
  if (!c || mx_capi_vector_nodes(inputs, &in, &n)) return 1;
  if (!res_0 || !res_1) return mx_capi_fail(HERE, MX_EINVAL, "expected non-null output pointers");
  if ((size_t)n != in_axes_num)
    return mx_capi_fail(HERE, MX_EINVAL, "[vmap] The number of in axes (%zu) must match the number of "
                        "inputs (%d).", in_axes_num, n);
  mx_array **s_in = calloc((size_t)n + 1, sizeof *s_in), **s_out = calloc(MX_MAX_OUTPUTS, sizeof *s_out);
  if (!s_in || !s_out) {
    free(s_in);
    free(s_out);
    return mx_capi_fail(HERE, MX_ENOMEM, "[malloc] out of memory.");
  }
  int n_out = 0, status;
  mx_error_clear();
  if (mx_vmap_trace(mx_cls_core(c), in, n, in_axes, s_in, s_out, MX_MAX_OUTPUTS, &n_out) != 0) {
    status = mx_capi_report(HERE);
  } else {
    status = set_out(res_0, s_in, n);
    if (status == 0) status = set_out(res_1, s_out, n_out);
    else
      for (int k = 0; k < n_out; k++) mx_array_release(s_out[k]);
  }
  free(s_in);
  free(s_out);
  return status;
}

int mlx_detail_vmap_replace(mlx_vector_array *res, const mlx_vector_array inputs,
                            const mlx_vector_array s_inputs, const mlx_vector_array s_outputs,
                            const int *in_axes, size_t in_axes_num, const int *out_axes,
                            size_t out_axes_num) {
  mx_array *const *in, *const *si, *const *so;
  int n, ns, no;
  if (mx_capi_vector_nodes(inputs, &in, &n) || mx_capi_vector_nodes(s_inputs, &si, &ns) ||
      mx_capi_vector_nodes(s_outputs, &so, &no))
    return 1;
  if (!res) return mx_capi_fail(HERE, MX_EINVAL, "expected a non-null output pointer");
  if (ns != n || (size_t)n != in_axes_num)
    return mx_capi_fail(HERE, MX_EINVAL, "[vmap] The number of in axes (%zu) must match the number of "
                        "inputs (%d).", in_axes_num, n);
  if ((size_t)no != out_axes_num)
    return mx_capi_fail(HERE, MX_EINVAL, "[vmap] The number of out axes must match the number of outputs.");
  mx_array **outs = calloc((size_t)no + 1, sizeof *outs);
  if (!outs) return mx_capi_fail(HERE, MX_ENOMEM, "[malloc] out of memory.");
  mx_error_clear();
  int status = mx_vmap_replace(in, si, n, in_axes, so, no, out_axes, outs) != 0 ? mx_capi_report(HERE)
                                                                              : set_out(res, outs, no);
  free(outs);
  return status;
}
