/* tape.c: building, freeing and compacting tapes (tape.h). */
#include "tape.h"

#include <stdlib.h>
#include <string.h>

#include "../core/error.h"

static void op_free(mx_tape_op *op) {
  mx_params_release(op->params);
  free(op->in);
  if (op->shapes)
    for (int k = 0; k < op->n_out; k++) free(op->shapes[k]);
  free(op->shapes);
  free(op->dtypes);
  free(op->ndims);
  memset(op, 0, sizeof *op);
}

void mx_tape_free(mx_tape *t) {
  for (int i = 0; i < t->n_ops; i++) op_free(&t->ops[i]);
  free(t->ops);
  for (int i = 0; i < t->n_consts; i++) mx_array_release(t->consts[i]);
  free(t->consts);
  if (t->in_shapes)
    for (int i = 0; i < t->n_inputs; i++) free(t->in_shapes[i]);
  free(t->in_shapes);
  free(t->in_dtypes);
  free(t->in_ndims);
  free(t->outputs);
  memset(t, 0, sizeof *t);
}

int mx_tape_add_op(mx_tape *t, int prim, const void *params, mx_stream s, int n_in,
                   const mx_cref *in, int n_out, const mx_dtype *dtypes, const int32_t *ndims,
                   const int32_t *const *shapes) {
  if (t->n_ops == t->cap_ops) {
    int cap = t->cap_ops ? t->cap_ops * 2 : 64;
    mx_tape_op *nv = realloc(t->ops, (size_t)cap * sizeof *nv);
    if (!nv) return mx_fail_int(MX_ENOMEM, "[compile] out of memory.");
    t->ops = nv;
    t->cap_ops = cap;
  }
  mx_tape_op *op = &t->ops[t->n_ops];
  memset(op, 0, sizeof *op);
  op->prim = prim;
  op->stream = s;
  op->n_in = n_in;
  op->n_out = n_out;
  op->in = malloc((size_t)(n_in ? n_in : 1) * sizeof *op->in);
  op->dtypes = malloc((size_t)n_out * sizeof *op->dtypes);
  op->ndims = malloc((size_t)n_out * sizeof *op->ndims);
  op->shapes = calloc((size_t)n_out, sizeof *op->shapes);
  if (!op->in || !op->dtypes || !op->ndims || !op->shapes) goto oom;
  if (n_in) memcpy(op->in, in, (size_t)n_in * sizeof *in);
  for (int k = 0; k < n_out; k++) {
    op->dtypes[k] = dtypes[k];
    op->ndims[k] = ndims[k];
    op->shapes[k] = malloc((size_t)(ndims[k] ? ndims[k] : 1) * sizeof(int32_t));
    if (!op->shapes[k]) goto oom;
    if (ndims[k]) memcpy(op->shapes[k], shapes[k], (size_t)ndims[k] * sizeof(int32_t));
  }
  if (params) mx_params_retain((void *)params);
  op->params = (void *)params;
  return t->n_ops++;
oom:
  op_free(op);
  return mx_fail_int(MX_ENOMEM, "[compile] out of memory.");
}

int mx_tape_add_const(mx_tape *t, mx_array *a) {
  if (t->n_consts == t->cap_consts) {
    int cap = t->cap_consts ? t->cap_consts * 2 : 16;
    mx_array **nv = realloc(t->consts, (size_t)cap * sizeof *nv);
    if (!nv) return mx_fail_int(MX_ENOMEM, "[compile] out of memory.");
    t->consts = nv;
    t->cap_consts = cap;
  }
  mx_array_retain(a);
  t->consts[t->n_consts] = a;
  return t->n_consts++;
}

int mx_tape_compact(mx_tape *t) {
  bool *live = calloc((size_t)t->n_ops + 1, sizeof *live);
  bool *clive = calloc((size_t)t->n_consts + 1, sizeof *clive);
  int32_t *map = malloc(((size_t)t->n_ops + 1) * sizeof *map);
  int32_t *cmap = malloc(((size_t)t->n_consts + 1) * sizeof *cmap);
  if (!live || !clive || !map || !cmap) {
    free(live);
    free(clive);
    free(map);
    free(cmap);
    return mx_fail_int(MX_ENOMEM, "[compile] out of memory.");
  }
  for (int k = 0; k < t->n_outputs; k++) {
    if (t->outputs[k].kind == MX_REF_OP) live[t->outputs[k].index] = true;
    if (t->outputs[k].kind == MX_REF_CONST) clive[t->outputs[k].index] = true;
  }
  for (int i = t->n_ops - 1; i >= 0; i--) {
    if (!live[i] || t->ops[i].dead) {
      live[i] = false;
      continue;
    }
    for (int j = 0; j < t->ops[i].n_in; j++) {
      mx_cref r = t->ops[i].in[j];
      if (r.kind == MX_REF_OP) live[r.index] = true;
      if (r.kind == MX_REF_CONST) clive[r.index] = true;
    }
  }
  int n = 0;
  for (int i = 0; i < t->n_ops; i++) {
    if (!live[i]) {
      op_free(&t->ops[i]);
      map[i] = -1;
      continue;
    }
    map[i] = n;
    if (n != i) t->ops[n] = t->ops[i];
    n++;
  }
  t->n_ops = n;
  int nc = 0;
  for (int i = 0; i < t->n_consts; i++) {
    if (!clive[i]) {
      mx_array_release(t->consts[i]);
      cmap[i] = -1;
      continue;
    }
    cmap[i] = nc;
    t->consts[nc++] = t->consts[i];
  }
  t->n_consts = nc;
  for (int i = 0; i < t->n_ops; i++)
    for (int j = 0; j < t->ops[i].n_in; j++) {
      mx_cref *r = &t->ops[i].in[j];
      if (r->kind == MX_REF_OP) r->index = map[r->index];
      else if (r->kind == MX_REF_CONST) r->index = cmap[r->index];
    }
  for (int k = 0; k < t->n_outputs; k++) {
    mx_cref *r = &t->outputs[k];
    if (r->kind == MX_REF_OP) r->index = map[r->index];
    else if (r->kind == MX_REF_CONST) r->index = cmap[r->index];
  }
  free(live);
  free(clive);
  free(map);
  free(cmap);
  return 0;
}
