/* op.h: the op record shared by all outputs of one primitive application (DESIGN section 1):
 * kind, parameters (immutable, refcounted), strong references to inputs, weak pointers to
 * the outputs. Outputs hold the strong references to the record, so siblings never form a
 * cycle. Weak pointers are read and cleared only under the graph lock (eval.h). */
#ifndef MX_OP_H
#define MX_OP_H

#include "array.h"
#include "prims_gen.h"

struct mx_op {
  _Atomic int64_t refs;
  mx_prim prim;
  int32_t n_in, n_out;
  mx_stream stream;
  void *params;             /* mx_params_* blob (prims_gen.h), NULL if the prim has none */
  mx_array **inputs;        /* strong */
  mx_array **outputs;       /* weak; NULL once that output node is freed */
  struct mx_out_spec *out_specs; /* n_out > 1 only: a freed sibling is still computed */
};

/* What one output looks like. */
struct mx_out_spec {
  mx_dtype dtype;
  int32_t ndim;
  const int32_t *shape;
};
typedef struct mx_out_spec mx_out_spec;

/* Builds the op record and its n_out output nodes (each a NEW reference, adopted by the
 * current scope if one is open). params points to the prim's parameter struct (deep-copied)
 * or NULL. Any NULL input: returns -1 at once. Checks the stream is usable on this thread.
 * Outputs are tracers if any input is. */
int mx_op_make(mx_prim prim, const void *params, mx_stream s, int n_in, mx_array *const *in,
               int n_out, const mx_out_spec *specs, mx_array **out);
/* Single-output convenience: returns the output or NULL. */
mx_array *mx_op_make1(mx_prim prim, const void *params, mx_stream s, int n_in,
                      mx_array *const *in, mx_dtype t, int ndim, const int32_t *shape);

void mx_op_retain(mx_op *op);
void mx_op_release(mx_op *op);

/* Parameters of a's producer, typed by the caller: (const mx_p_sum *)mx_op_params(op). */
static inline const void *mx_op_params(const mx_op *op) { return op->params; }

#endif
