/* fuse.c: element-wise chains of a tape become Compiled ops (DESIGN section 6). Starting
 * from the last op, a region grows backwards over unary/binary/compare/ternary ops of the
 * same stream and output shape whose results are used only inside the region, up to a
 * depth of MAX_DEPTH; Broadcast ops feeding it are absorbed (their input is read with
 * broadcast strides). A region of two or more ops is replaced by one Compiled op whose
 * program runs the ops tile by tile (compiled_kernel.c). */
#include <stdlib.h>
#include <string.h>

#include "../core/error.h"
#include "tape.h"

#define MAX_DEPTH 11
#define MAX_INSTR 64
#define MAX_INPUTS 24

static bool fusable(const mx_tape *t, int k) {
  const mx_tape_op *op = &t->ops[k];
  if (op->dead || op->n_out != 1 || op->n_in > 3) return false;
  const char *f = mx_prim_family(op->prim);
  if (strcmp(f, "unary") && strcmp(f, "binary") && strcmp(f, "compare") && strcmp(f, "ternary"))
    return false;
  return mx_program_can_run(op->prim, op->stream);
}

static bool same_shape(const mx_tape_op *a, const mx_tape_op *b) {
  return a->ndims[0] == b->ndims[0] &&
         !memcmp(a->shapes[0], b->shapes[0], (size_t)a->ndims[0] * sizeof(int32_t));
}

static bool same_stream(mx_stream a, mx_stream b) {
  return a.index == b.index && a.device.type == b.device.type && a.device.index == b.device.index;
}

typedef struct region {
  int32_t *member;   /* op indices */
  int32_t *depth;
  int n;
  mx_cref inputs[MAX_INPUTS];
  int n_inputs;
} region;

static bool in_region(const region *r, int k) {
  for (int i = 0; i < r->n; i++)
    if (r->member[i] == k) return true;
  return false;
}

/* Uses of op k's (single) output by members of r. */
static int uses_in_region(const mx_tape *t, const region *r, int k) {
  int n = 0;
  for (int i = 0; i < r->n; i++) {
    const mx_tape_op *op = &t->ops[r->member[i]];
    for (int j = 0; j < op->n_in; j++) n += op->in[j].kind == MX_REF_OP && op->in[j].index == k;
  }
  return n;
}

/* The region input standing for reference ref (a Broadcast inside is read through). */
static int input_slot(region *r, mx_cref ref) {
  for (int i = 0; i < r->n_inputs; i++)
    if (r->inputs[i].kind == ref.kind && r->inputs[i].index == ref.index && r->inputs[i].out == ref.out)
      return i;
  if (r->n_inputs == MAX_INPUTS) return -1;
  r->inputs[r->n_inputs] = ref;
  return r->n_inputs++;
}

static int by_index(const void *a, const void *b) {
  return *(const int32_t *)a - *(const int32_t *)b;
}

/* Grows r from its root over the ops it alone uses. */
static void grow(const mx_tape *t, const int32_t *uses, const bool *taken, region *r) {
  const mx_tape_op *root = &t->ops[r->member[0]];
  bool changed = true;
  while (changed && r->n < MAX_INSTR) {
    changed = false;
    for (int m = 0; m < r->n && r->n < MAX_INSTR; m++) {
      const mx_tape_op *op = &t->ops[r->member[m]];
      if (r->depth[m] >= MAX_DEPTH) continue;
      for (int j = 0; j < op->n_in && r->n < MAX_INSTR; j++) {
        mx_cref in = op->in[j];
        if (in.kind != MX_REF_OP || in_region(r, in.index) || taken[in.index]) continue;
        int k = in.index;
        if (!fusable(t, k) || !same_stream(t->ops[k].stream, root->stream) ||
            !same_shape(&t->ops[k], root) || uses_in_region(t, r, k) != uses[k])
          continue;
        r->member[r->n] = k;
        r->depth[r->n] = r->depth[m] + 1;
        r->n++;
        changed = true;
      }
    }
  }
}

/* Builds the program of r and turns its root into the Compiled op. */
static int emit(mx_tape *t, const int32_t *uses, region *r, bool *taken) {
  qsort(r->member, (size_t)r->n, sizeof *r->member, by_index); /* topological: tape order */
  mx_pinstr *ins = calloc((size_t)r->n, sizeof *ins);
  if (!ins) return mx_fail_int(MX_ENOMEM, "[compile] out of memory.");
  int root = r->member[r->n - 1];
  int32_t absorbed[MAX_INSTR * 3];
  int n_absorbed = 0;
  r->n_inputs = 0;
  for (int m = 0; m < r->n; m++) {
    const mx_tape_op *op = &t->ops[r->member[m]];
    ins[m].prim = op->prim;
    ins[m].params = op->params;
    ins[m].dtype = op->dtypes[0];
    ins[m].n_in = op->n_in;
    for (int j = 0; j < op->n_in; j++) {
      mx_cref in = op->in[j];
      int pos = -1;
      for (int q = 0; q < m && in.kind == MX_REF_OP; q++)
        if (r->member[q] == in.index) pos = q;
      if (pos >= 0) {
        ins[m].in[j] = pos;
        continue;
      }
      /* a Broadcast used only here is read through: its input broadcasts to the shape */
      if (in.kind == MX_REF_OP && t->ops[in.index].prim == MX_PRIM_BROADCAST &&
          uses_in_region(t, r, in.index) == uses[in.index] &&
          same_stream(t->ops[in.index].stream, op->stream)) {
        absorbed[n_absorbed++] = in.index;
        in = t->ops[in.index].in[0];
      }
      int slot = input_slot(r, in);
      if (slot < 0) {
        free(ins);
        return 1; /* too many inputs: leave the region unfused */
      }
      ins[m].in[j] = -(slot + 1);
    }
  }
  mx_program *prog = mx_program_new(r->n_inputs, r->n, ins);
  free(ins);
  if (!prog) return -1;
  mx_tape_op *rop = &t->ops[root];
  mx_p_compiled params = {&prog->base};
  void *blob = mx_params_new(MX_PRIM_COMPILED, &params);
  mx_object_release(&prog->base);
  mx_cref *nin = malloc((size_t)r->n_inputs * sizeof *nin);
  if (!blob || !nin) {
    mx_params_release(blob);
    free(nin);
    return blob ? mx_fail_int(MX_ENOMEM, "[compile] out of memory.") : -1;
  }
  memcpy(nin, r->inputs, (size_t)r->n_inputs * sizeof *nin);
  mx_params_release(rop->params);
  rop->params = blob;
  rop->prim = MX_PRIM_COMPILED;
  free(rop->in);
  rop->in = nin;
  rop->n_in = r->n_inputs;
  for (int m = 0; m < r->n - 1; m++) t->ops[r->member[m]].dead = true;
  for (int i = 0; i < n_absorbed; i++) {
    taken[absorbed[i]] = true;
    t->ops[absorbed[i]].dead = true;
  }
  return 0;
}

int mx_tape_fuse(mx_tape *t) {
  int32_t *uses = calloc((size_t)t->n_ops + 1, sizeof *uses);
  bool *taken = calloc((size_t)t->n_ops + 1, sizeof *taken);
  region r = {0};
  r.member = malloc(MAX_INSTR * sizeof *r.member);
  r.depth = malloc(MAX_INSTR * sizeof *r.depth);
  int rc = (uses && taken && r.member && r.depth) ? 0 : mx_fail_int(MX_ENOMEM, "[compile] out of memory.");
  for (int k = 0; rc == 0 && k < t->n_ops; k++)
    for (int j = 0; j < t->ops[k].n_in; j++)
      if (t->ops[k].in[j].kind == MX_REF_OP) uses[t->ops[k].in[j].index]++;
  for (int k = 0; rc == 0 && k < t->n_outputs; k++)
    if (t->outputs[k].kind == MX_REF_OP) uses[t->outputs[k].index]++;
  for (int k = t->n_ops - 1; rc == 0 && k >= 0; k--) {
    if (taken[k] || !fusable(t, k)) continue;
    r.n = 1;
    r.member[0] = k;
    r.depth[0] = 0;
    grow(t, uses, taken, &r);
    if (r.n < 2) continue;
    for (int m = 0; m < r.n; m++) taken[r.member[m]] = true;
    int e = emit(t, uses, &r, taken);
    if (e < 0) rc = -1;
  }
  free(uses);
  free(taken);
  free(r.member);
  free(r.depth);
  return rc;
}
