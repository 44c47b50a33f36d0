/* simplify.c: common-subexpression merging on a tape (DESIGN section 6). Two ops are one
 * when they have the same primitive, equal parameters (mx_params_equal), the same stream,
 * the same inputs after merging and the same output specs; equal scalar constants (same
 * dtype and bytes) are one constant. Ops are visited in topological order, so merged
 * inputs are already canonical. Merged ops become dead and mx_tape_compact drops them. */
#include <stdlib.h>
#include <string.h>

#include "../core/error.h"
#include "tape.h"

static uint64_t mix(uint64_t h, uint64_t v) {
  h ^= v + 0x9E3779B97F4A7C15ull + (h << 6) + (h >> 2);
  return h;
}

static uint64_t op_hash(const mx_tape_op *op) {
  uint64_t h = mx_params_hash(op->prim, op->params);
  h = mix(h, (uint64_t)op->stream.index * 131 + (uint64_t)op->stream.device.type * 7 +
                 (uint64_t)op->stream.device.index);
  for (int i = 0; i < op->n_in; i++)
    h = mix(h, ((uint64_t)op->in[i].kind << 60) ^ ((uint64_t)op->in[i].index << 16) ^ (uint64_t)op->in[i].out);
  for (int k = 0; k < op->n_out; k++) {
    h = mix(h, (uint64_t)op->dtypes[k] * 31 + (uint64_t)op->ndims[k]);
    for (int d = 0; d < op->ndims[k]; d++) h = mix(h, (uint64_t)op->shapes[k][d]);
  }
  return h;
}

static bool op_equal(const mx_tape_op *a, const mx_tape_op *b) {
  if (a->prim != b->prim || a->n_in != b->n_in || a->n_out != b->n_out ||
      a->stream.index != b->stream.index || a->stream.device.type != b->stream.device.type ||
      a->stream.device.index != b->stream.device.index)
    return false;
  if (!mx_params_equal(a->prim, a->params, b->params)) return false;
  for (int i = 0; i < a->n_in; i++)
    if (a->in[i].kind != b->in[i].kind || a->in[i].index != b->in[i].index || a->in[i].out != b->in[i].out)
      return false;
  for (int k = 0; k < a->n_out; k++)
    if (a->dtypes[k] != b->dtypes[k] || a->ndims[k] != b->ndims[k] ||
        (a->ndims[k] && memcmp(a->shapes[k], b->shapes[k], (size_t)a->ndims[k] * sizeof(int32_t))))
      return false;
  return true;
}

/* A canonical index for each constant: evaluated scalars of equal dtype and bytes merge. */
static int canon_consts(const mx_tape *t, int32_t *canon) {
  for (int i = 0; i < t->n_consts; i++) {
    canon[i] = i;
    mx_array *a = t->consts[i];
    if (a->size != 1 || a->op || mx_array_status(a) != MX_AVAILABLE || !a->buf) continue;
    const void *pa = mx_array_host_data(a);
    if (!pa) return -1;
    for (int j = 0; j < i; j++) {
      mx_array *b = t->consts[j];
      if (canon[j] != j || b->size != 1 || b->op || mx_array_status(b) != MX_AVAILABLE || !b->buf ||
          b->dtype != a->dtype || b->ndim != a->ndim ||
          (a->ndim && memcmp(a->shape, b->shape, (size_t)a->ndim * sizeof(int32_t))))
        continue;
      const void *pb = mx_array_host_data(b);
      if (!pb) return -1;
      if (!memcmp(pa, pb, (size_t)mx_dtype_size(a->dtype))) {
        canon[i] = j;
        break;
      }
    }
  }
  return 0;
}

int mx_tape_simplify(mx_tape *t) {
  int32_t *ccanon = malloc(((size_t)t->n_consts + 1) * sizeof *ccanon);
  int32_t *canon = malloc(((size_t)t->n_ops + 1) * sizeof *canon);
  size_t cap = 16;
  while (cap < (size_t)t->n_ops * 2) cap *= 2;
  int32_t *table = malloc(cap * sizeof *table);
  uint64_t *hashes = malloc(((size_t)t->n_ops + 1) * sizeof *hashes);
  int rc = (ccanon && canon && table && hashes) ? 0 : mx_fail_int(MX_ENOMEM, "[compile] out of memory.");
  if (rc == 0) rc = canon_consts(t, ccanon);
  for (size_t i = 0; rc == 0 && i < cap; i++) table[i] = -1;
  for (int k = 0; rc == 0 && k < t->n_ops; k++) {
    mx_tape_op *op = &t->ops[k];
    canon[k] = k;
    for (int i = 0; i < op->n_in; i++) {
      mx_cref *r = &op->in[i];
      if (r->kind == MX_REF_OP) r->index = canon[r->index];
      else if (r->kind == MX_REF_CONST) r->index = ccanon[r->index];
    }
    if (op->dead) continue;
    uint64_t h = op_hash(op);
    hashes[k] = h;
    size_t s = (size_t)h & (cap - 1);
    for (; table[s] >= 0; s = (s + 1) & (cap - 1)) {
      int j = table[s];
      if (hashes[j] == h && op_equal(&t->ops[j], op)) {
        canon[k] = j;
        op->dead = true;
        break;
      }
    }
    if (!op->dead) table[s] = k;
  }
  for (int k = 0; rc == 0 && k < t->n_outputs; k++) {
    mx_cref *r = &t->outputs[k];
    if (r->kind == MX_REF_OP) r->index = canon[r->index];
    else if (r->kind == MX_REF_CONST) r->index = ccanon[r->index];
  }
  free(ccanon);
  free(canon);
  free(table);
  free(hashes);
  return rc;
}
