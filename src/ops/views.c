/* views.c: schedule-time resolution of view primitives (prim.h mx_view_fn): the output
 * shares the input's buffer with new strides and offset. Reshape of an input that is not
 * row-contiguous returns 0 so a copy kernel runs instead. */
#include "ops.h"

#include <stdatomic.h>

#include "../core/prim.h"

static void share(mx_array *out, const mx_array *in, int64_t offset) {
  mx_buffer_retain(in->buf);
  mx_buffer_release(out->buf);
  out->buf = in->buf;
  out->offset = offset;
  out->flags = mx_layout_flags(out->ndim, out->shape, out->strides);
}

static int view_reshape(const mx_op *op, mx_array *const *in, mx_array *const *out) {
  if (!(in[0]->flags & MX_ROW_CONTIG)) return 0;
  if (!out[0]) return 1;
  mx_row_strides(out[0]->ndim, out[0]->shape, out[0]->strides);
  share(out[0], in[0], in[0]->offset);
  return 1;
}

static int view_identity(const mx_op *op, mx_array *const *in, mx_array *const *out) {
  for (int k = 0; k < op->n_out; k++) {
    if (!out[k]) continue;
    for (int d = 0; d < in[k]->ndim; d++) out[k]->strides[d] = in[k]->strides[d];
    share(out[k], in[k], in[k]->offset);
  }
  return 1;
}

static int view_transpose(const mx_op *op, mx_array *const *in, mx_array *const *out) {
  const mx_p_transpose *p = mx_op_params(op);
  if (!out[0]) return 1;
  for (int d = 0; d < out[0]->ndim; d++) out[0]->strides[d] = in[0]->strides[p->axes.v[d]];
  share(out[0], in[0], in[0]->offset);
  return 1;
}

static int view_broadcast(const mx_op *op, mx_array *const *in, mx_array *const *out) {
  if (!out[0]) return 1;
  const mx_array *a = in[0];
  int lead = out[0]->ndim - a->ndim;
  for (int d = 0; d < out[0]->ndim; d++) {
    int k = d - lead;
    out[0]->strides[d] = (k < 0 || (a->shape[k] == 1 && out[0]->shape[d] != 1)) ? 0 : a->strides[k];
  }
  share(out[0], a, a->offset);
  return 1;
}

static int view_slice(const mx_op *op, mx_array *const *in, mx_array *const *out) {
  const mx_p_slice *p = mx_op_params(op);
  if (!out[0]) return 1;
  const mx_array *a = in[0];
  int64_t off = a->offset;
  for (int d = 0; d < a->ndim; d++) {
    if (out[0]->shape[d] > 0) off += (int64_t)p->start.v[d] * a->strides[d];
    out[0]->strides[d] = a->strides[d] * p->strides.v[d];
  }
  share(out[0], a, off);
  return 1;
}

void mx_prims_register_views(void) {
  mx_prims[MX_PRIM_RESHAPE].view = view_reshape;
  mx_prims[MX_PRIM_TRANSPOSE].view = view_transpose;
  mx_prims[MX_PRIM_BROADCAST].view = view_broadcast;
  mx_prims[MX_PRIM_SLICE].view = view_slice;
  mx_prims[MX_PRIM_STOP_GRADIENT].view = view_identity;
  mx_prims[MX_PRIM_DEPENDS].view = view_identity;
}
