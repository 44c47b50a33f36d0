/* op.c: op records (op.h). mx_op_make builds one record and its output nodes; every
 * output holds a strong reference to the record and the record only weak pointers back. */
#include "op.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "scope.h"

int mx_op_make(mx_prim prim, const void *params, mx_stream s, int n_in, mx_array *const *in,
               int n_out, const mx_out_spec *specs, mx_array **out) {
  for (int i = 0; i < n_out; i++) out[i] = NULL;
  for (int i = 0; i < n_in; i++)
    if (!in[i]) return -1;
  if (mx_stream_check_usable(s) != 0) return -1;
  size_t spec_bytes = 0;
  if (n_out > 1) {
    spec_bytes = (size_t)n_out * sizeof(mx_out_spec);
    for (int k = 0; k < n_out; k++) spec_bytes += (size_t)specs[k].ndim * sizeof(int32_t);
  }
  mx_op *op = calloc(1, sizeof *op + (size_t)(n_in + n_out) * sizeof(mx_array *) + spec_bytes);
  if (!op) return mx_fail_int(MX_ENOMEM, "[malloc] Unable to allocate an op record.");
  op->prim = prim;
  op->n_in = n_in;
  op->n_out = n_out;
  op->stream = s;
  op->inputs = (mx_array **)(op + 1);
  op->outputs = op->inputs + n_in;
  if (n_out > 1) {
    op->out_specs = (mx_out_spec *)(op->outputs + n_out);
    int32_t *dims = (int32_t *)(op->out_specs + n_out);
    for (int k = 0; k < n_out; k++) {
      op->out_specs[k] = specs[k];
      if (specs[k].ndim) memcpy(dims, specs[k].shape, (size_t)specs[k].ndim * sizeof(int32_t));
      op->out_specs[k].shape = dims;
      dims += specs[k].ndim;
    }
  }
  if (params && mx_prim_has_params(prim)) {
    op->params = mx_params_new(prim, params);
    if (!op->params) {
      free(op);
      return -1;
    }
  }
  bool tracer = false;
  for (int i = 0; i < n_in; i++) {
    mx_array_retain(in[i]);
    op->inputs[i] = in[i];
    tracer |= in[i]->tracer;
  }
  atomic_init(&op->refs, 0);
  for (int k = 0; k < n_out; k++) {
    mx_array *a = mx_array_alloc_node(specs[k].dtype, specs[k].ndim, specs[k].shape);
    if (!a) {
      for (int j = 0; j < k; j++) mx_array_release(out[j]);
      if (k == 0) { /* no output holds the record yet */
        atomic_store(&op->refs, 1);
        mx_op_release(op);
      }
      for (int j = 0; j < n_out; j++) out[j] = NULL;
      return -1;
    }
    a->tracer = tracer;
    a->op = op;
    a->out_index = k;
    atomic_fetch_add(&op->refs, 1);
    op->outputs[k] = a;
    out[k] = a;
  }
  for (int k = 0; k < n_out; k++) out[k] = mx_scope_adopt(out[k]);
  return 0;
}

mx_array *mx_op_make1(mx_prim prim, const void *params, mx_stream s, int n_in,
                      mx_array *const *in, mx_dtype t, int ndim, const int32_t *shape) {
  mx_out_spec spec = {t, ndim, shape};
  mx_array *out;
  if (mx_op_make(prim, params, s, n_in, in, 1, &spec, &out) != 0) return NULL;
  return out;
}

void mx_op_retain(mx_op *op) { atomic_fetch_add_explicit(&op->refs, 1, memory_order_relaxed); }

void mx_op_release(mx_op *op) {
  if (!op) return;
  int64_t old = atomic_fetch_sub_explicit(&op->refs, 1, memory_order_acq_rel);
  MX_ASSERT(old > 0);
  if (old != 1) return;
  mx_params_release(op->params);
  for (int i = 0; i < op->n_in; i++) mx_array_release(op->inputs[i]);
  free(op);
}
