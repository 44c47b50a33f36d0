/* views_layout.c: schedule-time resolution (core/prim.h mx_view_fn) of AsStrided, Contiguous
 * and View: the output shares the input's buffer when its layout allows -- always for
 * AsStrided (its input is the flattened array), for Contiguous when the input already is,
 * for View when the input is row-contiguous at an offset the new item size divides.
 * Otherwise 0 is returned and the CPU kernel copies (backend/cpu/layout.c). */
#include "ops.h"

#include "../core/prim.h"

static void share(mx_array *out, const mx_array *in, int64_t offset) {
  mx_buffer_retain(in->buf);
  mx_buffer_release(out->buf);
  out->buf = in->buf;
  out->offset = offset;
  out->flags = mx_layout_flags(out->ndim, out->shape, out->strides);
}

static int view_as_strided(const mx_op *op, mx_array *const *in, mx_array *const *out) {
  const mx_p_as_strided *p = mx_op_params(op);
  if (!out[0]) return 1;
  const mx_array *x = in[0]; /* 1-D: element k of the row-major data sits at k * step */
  int64_t step = x->ndim == 1 ? x->strides[0] : 1;
  for (int d = 0; d < out[0]->ndim; d++) out[0]->strides[d] = p->strides.v[d] * step;
  share(out[0], x, x->offset + p->offset * step);
  return 1;
}

static int view_contiguous(const mx_op *op, mx_array *const *in, mx_array *const *out) {
  const mx_p_contiguous *p = mx_op_params(op);
  const mx_array *x = in[0];
  if (!(x->flags & MX_ROW_CONTIG) && !(p->allow_col_major && (x->flags & MX_COL_CONTIG))) return 0;
  if (!out[0]) return 1;
  for (int d = 0; d < x->ndim; d++) out[0]->strides[d] = x->strides[d];
  share(out[0], x, x->offset);
  return 1;
}

static int view_bits(const mx_op *op, mx_array *const *in, mx_array *const *out) {
  const mx_array *x = in[0];
  int64_t ib = mx_dtype_size(x->dtype);
  int64_t ob = out[0] ? mx_dtype_size(out[0]->dtype) : ib;
  if (!(x->flags & MX_ROW_CONTIG) || (x->offset * ib) % ob != 0) return 0;
  if (!out[0]) return 1;
  mx_row_strides(out[0]->ndim, out[0]->shape, out[0]->strides);
  share(out[0], x, x->offset * ib / ob);
  return 1;
}

void mx_views_register_layout(void) {
  mx_prims[MX_PRIM_AS_STRIDED].view = view_as_strided;
  mx_prims[MX_PRIM_CONTIGUOUS].view = view_contiguous;
  mx_prims[MX_PRIM_VIEW].view = view_bits;
}
