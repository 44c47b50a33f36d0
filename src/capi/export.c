/* export.c: mlx-c's export API (mlx/c/export.h) over the core's exported-function sets
 * (src/transforms/export.c): exporters tracing plain or keyword closures into .mlxfn files,
 * and imported functions matched by their total input count. */
#include <stdlib.h>
#include <string.h>

#include "closure_private.h"
#include "map_private.h"
#include "mlx/c/export.h"

#define HERE __FILE__, __LINE__

/* ---- inputs: positional arrays then keyword arrays sorted by key ---- */

typedef struct call_inputs {
  mx_array **nodes;  /* borrowed */
  const char **names; /* the n_kw keys, sorted; borrowed from the map */
  int n_args, n_kw;
} call_inputs;

static void inputs_free(call_inputs *c) {
  free(c->nodes);
  free(c->names);
}

/* 0, or 1 with the error reported. kwargs may be an empty handle (no keywords). */
static int inputs_of(const mlx_vector_array args, const mlx_map_string_to_array *kwargs, call_inputs *c) {
  memset(c, 0, sizeof *c);
  mx_array *const *pos;
  if (mx_capi_vector_nodes(args, &pos, &c->n_args) != 0) return 1;
  size_t nk = kwargs ? mx_capi_map_size(kwargs->ctx) : 0;
  c->n_kw = (int)nk;
  c->nodes = malloc((size_t)(c->n_args + c->n_kw + 1) * sizeof *c->nodes);
  c->names = malloc((nk + 1) * sizeof *c->names);
  size_t *order = malloc((nk + 1) * sizeof *order);
  if (!c->nodes || !c->names || !order) {
    free(order);
    inputs_free(c);
    return mx_capi_fail(HERE, MX_ENOMEM, "[export_function] out of memory.");
  }
  for (int i = 0; i < c->n_args; i++) c->nodes[i] = pos[i];
  for (size_t j = 0; j < nk; j++) { /* insertion sort by key: keyword lists are short */
    size_t at = j;
    while (at > 0 && strcmp(mx_capi_map_key(kwargs->ctx, order[at - 1]), mx_capi_map_key(kwargs->ctx, j)) > 0) {
      order[at] = order[at - 1];
      at--;
    }
    order[at] = j;
  }
  for (size_t j = 0; j < nk; j++) {
    c->names[j] = mx_capi_map_key(kwargs->ctx, order[j]);
    c->nodes[c->n_args + j] = mx_capi_map_node(kwargs->ctx, order[j]);
  }
  free(order);
  return 0;
}

/* ---- the core closure over an mlx_closure_kwargs: split the inputs back ---- */

typedef struct kw_call {
  mx_cls *cls;
  int n_args, n_kw;
  const char **names;
} kw_call;

static int kw_core_call(void *payload, mx_array *const *in, int n_in, mx_array **out, int max_out,
                        int *n_out) {
  const kw_call *k = payload;
  *n_out = 0;
  if (n_in != k->n_args + k->n_kw) return mx_fail_int(MX_EINVAL, "[export_function] Wrong input count.");
  mlx_vector_array args = mx_cls_vector(in, k->n_args), res = {NULL};
  mlx_map_string_to_array kw = mlx_map_string_to_array_new();
  int rc = args.ctx && kw.ctx ? 0 : -1;
  for (int j = 0; rc == 0 && j < k->n_kw; j++) {
    mlx_array h = mlx_array_new();
    mx_array_retain(in[k->n_args + j]);
    rc = mx_capi_set_array(&h, in[k->n_args + j]);
    if (rc == 0) rc = mlx_map_string_to_array_insert(kw, k->names[j], h);
    mlx_array_free(h);
  }
  if (rc == 0) rc = mx_cls_call_kwargs(k->cls, &res, args, kw);
  if (rc == 0) rc = mx_cls_take(res, out, max_out, n_out);
  mlx_vector_array_free(res);
  mlx_vector_array_free(args);
  mlx_map_string_to_array_free(kw);
  return rc ? -1 : 0;
}

/* ---- exporters ---- */

typedef struct exporter {
  mx_exported *e;
  char *path;
  mx_cls *fn;  /* a plain closure, or NULL for one-shot keyword exports */
  bool shapeless;
} exporter;

static void exporter_free(exporter *x) {
  if (!x) return;
  mx_exported_free(x->e);
  free(x->path);
  mx_cls_release(x->fn);
  free(x);
}

static exporter *exporter_new(const char *file, mx_cls *fn, bool shapeless) {
  if (!file) {
    mx_capi_fail(HERE, MX_EINVAL, "[export_function] expected a file name");
    return NULL;
  }
  exporter *x = calloc(1, sizeof *x);
  size_t len = strlen(file);
  if (x) x->path = malloc(len + 1);
  if (x && x->path) x->e = mx_exported_new(NULL);
  if (!x || !x->path || !x->e) {
    exporter_free(x);
    mx_capi_fail(HERE, MX_ENOMEM, "[export_function] out of memory.");
    return NULL;
  }
  memcpy(x->path, file, len + 1);
  mx_cls_retain(fn);
  x->fn = fn;
  x->shapeless = shapeless;
  return x;
}

/* Adds a trace of the core closure fn on the inputs and rewrites the file. */
static int exporter_add(exporter *x, mx_closure fn, const call_inputs *c) {
  mx_error_clear();
  int rc = mx_exported_add(x->e, fn, c->nodes, c->n_args, c->names, c->n_kw, x->shapeless);
  if (rc == 0) rc = mx_exported_save(x->e, x->path);
  return rc ? mx_capi_report(HERE) : 0;
}

static int add_plain(exporter *x, const mlx_vector_array args, const mlx_map_string_to_array *kwargs) {
  call_inputs c;
  if (inputs_of(args, kwargs, &c) != 0) return 1;
  int rc = c.n_kw ? mx_capi_fail(HERE, MX_EINVAL, "[export_function] The function was given as an "
                                 "mlx_closure, which takes no keyword arguments.")
                  : exporter_add(x, mx_cls_core(x->fn), &c);
  inputs_free(&c);
  return rc;
}

int mlx_export_function(const char *file, const mlx_closure fun, const mlx_vector_array args, bool shapeless) {
  if (!fun.ctx) return mx_capi_fail(HERE, MX_EINVAL, "expected a non-empty mlx_closure");
  exporter *x = exporter_new(file, fun.ctx, shapeless);
  if (!x) return 1;
  int rc = add_plain(x, args, NULL);
  exporter_free(x);
  return rc;
}

int mlx_export_function_kwargs(const char *file, const mlx_closure_kwargs fun, const mlx_vector_array args,
                               const mlx_map_string_to_array kwargs, bool shapeless) {
  if (!fun.ctx) return mx_capi_fail(HERE, MX_EINVAL, "expected a non-empty mlx_closure_kwargs");
  exporter *x = exporter_new(file, NULL, shapeless);
  if (!x) return 1;
  call_inputs c;
  int rc = inputs_of(args, &kwargs, &c);
  if (rc == 0) {
    kw_call k = {fun.ctx, c.n_args, c.n_kw, c.names};
    rc = exporter_add(x, (mx_closure){kw_core_call, &k}, &c);
    inputs_free(&c);
  }
  exporter_free(x);
  return rc;
}

mlx_function_exporter mlx_function_exporter_new(const char *file, const mlx_closure fun, bool shapeless) {
  if (!fun.ctx) {
    mx_capi_fail(HERE, MX_EINVAL, "expected a non-empty mlx_closure");
    return (mlx_function_exporter){NULL};
  }
  return (mlx_function_exporter){exporter_new(file, fun.ctx, shapeless)};
}

int mlx_function_exporter_free(mlx_function_exporter xfunc) {
  exporter_free(xfunc.ctx);
  return 0;
}

int mlx_function_exporter_apply(const mlx_function_exporter xfunc, const mlx_vector_array args) {
  if (!xfunc.ctx) return mx_capi_fail(HERE, MX_EINVAL, "expected a non-empty mlx_function_exporter");
  return add_plain(xfunc.ctx, args, NULL);
}

int mlx_function_exporter_apply_kwargs(const mlx_function_exporter xfunc, const mlx_vector_array args,
                                       const mlx_map_string_to_array kwargs) {
  if (!xfunc.ctx) return mx_capi_fail(HERE, MX_EINVAL, "expected a non-empty mlx_function_exporter");
  return add_plain(xfunc.ctx, args, &kwargs);
}

/* ---- imported functions ---- */

mlx_imported_function mlx_imported_function_new(const char *file) {
  if (!file) {
    mx_capi_fail(HERE, MX_EINVAL, "[import_function] expected a file name");
    return (mlx_imported_function){NULL};
  }
  mx_error_clear();
  mx_exported *e = mx_exported_load(file);
  if (!e) mx_capi_report(HERE);
  return (mlx_imported_function){e};
}

int mlx_imported_function_free(mlx_imported_function xfunc) {
  mx_exported_free(xfunc.ctx);
  return 0;
}

static int imported_apply(mlx_vector_array *res, const mlx_imported_function xfunc, const mlx_vector_array args,
                          const mlx_map_string_to_array *kwargs) {
  if (!xfunc.ctx) return mx_capi_fail(HERE, MX_EINVAL, "expected a non-empty mlx_imported_function");
  if (!res) return mx_capi_fail(HERE, MX_EINVAL, "expected a non-null output pointer");
  call_inputs c;
  if (inputs_of(args, kwargs, &c) != 0) return 1;
  mx_error_clear();
  mx_array **outs = malloc(MX_MAX_OUTPUTS * sizeof *outs);
  int n_out = 0, rc;
  if (!outs) rc = mx_capi_fail(HERE, MX_ENOMEM, "[import_function] out of memory.");
  else if (mx_exported_call_flat(xfunc.ctx, c.nodes, c.n_args + c.n_kw, outs, MX_MAX_OUTPUTS, &n_out) != 0)
    rc = mx_capi_report(HERE);
  else
    rc = mx_capi_set_vector_at(res, outs, n_out, HERE);
  free(outs);
  inputs_free(&c);
  return rc;
}

int mlx_imported_function_apply(mlx_vector_array *res, const mlx_imported_function xfunc,
                                const mlx_vector_array args) {
  return imported_apply(res, xfunc, args, NULL);
}

int mlx_imported_function_apply_kwargs(mlx_vector_array *res, const mlx_imported_function xfunc,
                                       const mlx_vector_array args, const mlx_map_string_to_array kwargs) {
  return imported_apply(res, xfunc, args, &kwargs);
}
