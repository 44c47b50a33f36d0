/* layout.c: CPU kernels of the section-D primitives: AsStrided, Contiguous and View when
 * their schedule-time view was not possible, Concatenate and Pad (regions of the output
 * filled by strided copies, every dtype), and AddMM (Matmul's GEMM, then the epilogue of
 * formulas.h). Uses the strided copy of copy.c and the iterator of cpu.h. */
#include <string.h>

#include "../formulas.h"
#include "cpu.h"

static int expect_io(const char *op, int n_in, int want_in, int n_out) {
  if ((want_in >= 0 && n_in != want_in) || n_out != 1)
    return mx_fail_int(MX_EINVAL, "[%s] Expected %d input(s) and 1 output, got %d and %d.", op,
                       want_in, n_in, n_out);
  return 0;
}

/* int64 scratch of n entries: inline up to MX_CPU_ITER_INLINE, else malloc'd. */
typedef struct lay_buf {
  int64_t *v;
  int64_t inline_v[MX_CPU_ITER_INLINE];
} lay_buf;

static int64_t *lay_alloc(lay_buf *b, int n) {
  b->v = b->inline_v;
  if (n > MX_CPU_ITER_INLINE && !(b->v = (int64_t *)malloc((size_t)n * sizeof(int64_t))))
    mx_fail(MX_ENOMEM, "[malloc] Unable to allocate %zu bytes.", (size_t)n * sizeof(int64_t));
  return b->v;
}

static void lay_free(lay_buf *b) {
  if (b->v != b->inline_v) free(b->v);
}

/* A view into t: data moved by off elements, with the given shape and strides. */
static mx_tensor region(const mx_tensor *t, int64_t off, int ndim, const int32_t *shape,
                        const int64_t *strides) {
  mx_tensor r = *t;
  r.data = mx_cpu_at(t, off);
  r.ndim = ndim;
  r.shape = shape;
  r.strides = strides;
  r.size = 1;
  for (int d = 0; d < ndim; d++) r.size *= shape[d];
  r.flags = 0;
  return r;
}

/* ---- AsStrided: element k of the (1-D) input is at k * step ---- */
int mx_cpu_as_strided(const mx_kernel_ctx *ctx, const mx_tensor *in, int n_in, mx_tensor *out,
                      int n_out) {
  if (expect_io("as_strided", n_in, 1, n_out) < 0) return -1;
  const mx_p_as_strided *p = (const mx_p_as_strided *)ctx->params;
  if (!p || p->strides.n != out->ndim || in->ndim > 1)
    return mx_fail_int(MX_EINVAL, "[as_strided] Parameters do not match the dimensions.");
  if (out->size == 0) return 0;
  int64_t step = in->ndim == 1 ? in->strides[0] : 1;
  lay_buf b;
  if (!lay_alloc(&b, out->ndim)) return -1;
  for (int d = 0; d < out->ndim; d++) b.v[d] = p->strides.v[d] * step;
  mx_tensor v = region(in, p->offset * step, out->ndim, out->shape, b.v);
  int rc = mx_cpu_copy_strided(&v, out);
  lay_free(&b);
  return rc;
}

/* ---- Contiguous: a row-major copy ---- */
int mx_cpu_contiguous(const mx_kernel_ctx *ctx, const mx_tensor *in, int n_in, mx_tensor *out,
                      int n_out) {
  (void)ctx;
  if (expect_io("contiguous", n_in, 1, n_out) < 0) return -1;
  return mx_cpu_copy_strided(in, out);
}

/* ---- View: the input's row-major bytes, read as the output dtype ---- */
int mx_cpu_view(const mx_kernel_ctx *ctx, const mx_tensor *in, int n_in, mx_tensor *out,
                int n_out) {
  (void)ctx;
  if (expect_io("view", n_in, 1, n_out) < 0) return -1;
  if ((int64_t)in->size * mx_dtype_size(in->dtype) != (int64_t)out->size * mx_dtype_size(out->dtype))
    return mx_fail_int(MX_EINVAL, "[view] Input and output byte sizes differ.");
  lay_buf b;
  if (!lay_alloc(&b, in->ndim)) return -1;
  int64_t acc = 1;
  for (int d = in->ndim - 1; d >= 0; d--) b.v[d] = acc, acc *= in->shape[d];
  mx_tensor as_in = *out; /* out's buffer seen with the input's dtype, shape and row strides */
  as_in.dtype = in->dtype;
  as_in.ndim = in->ndim;
  as_in.shape = in->shape;
  as_in.strides = b.v;
  as_in.size = in->size;
  int rc = mx_cpu_copy_strided(in, &as_in);
  lay_free(&b);
  return rc;
}

/* ---- Concatenate: each input into its slab of the output ---- */
int mx_cpu_concatenate(const mx_kernel_ctx *ctx, const mx_tensor *in, int n_in, mx_tensor *out,
                       int n_out) {
  if (expect_io("concatenate", n_in, -1, n_out) < 0) return -1;
  const mx_p_concatenate *p = (const mx_p_concatenate *)ctx->params;
  int ax = p ? p->axis : -1;
  if (ax < 0 || ax >= out->ndim)
    return mx_fail_int(MX_EINVAL, "[concatenate] Axis does not match the output dimensions.");
  int64_t at = 0;
  for (int i = 0; i < n_in; i++) {
    if (in[i].ndim != out->ndim || in[i].dtype != out->dtype)
      return mx_fail_int(MX_EINVAL, "[concatenate] Input %d does not match the output.", i);
    if (at + in[i].shape[ax] > out->shape[ax])
      return mx_fail_int(MX_EINVAL, "[concatenate] Inputs exceed the output along the axis.");
    if (in[i].size > 0) {
      mx_tensor r = region(out, at * out->strides[ax], out->ndim, in[i].shape, out->strides);
      if (mx_cpu_copy_strided(&in[i], &r) < 0) return -1;
    }
    at += in[i].shape[ax];
  }
  return 0;
}

/* ---- Pad: the fill value into the border slabs, the input into the interior ---- */
int mx_cpu_pad(const mx_kernel_ctx *ctx, const mx_tensor *in, int n_in, mx_tensor *out,
               int n_out) {
  if (expect_io("pad", n_in, 2, n_out) < 0) return -1;
  const mx_p_pad *p = (const mx_p_pad *)ctx->params;
  const mx_tensor *a = &in[0], *v = &in[1];
  int nd = out->ndim;
  if (!p || a->ndim != nd || v->size != 1 || a->dtype != out->dtype || v->dtype != out->dtype)
    return mx_fail_int(MX_EINVAL, "[pad] Inputs do not match the output.");
  int32_t *shape = (int32_t *)malloc((size_t)(nd > 0 ? nd : 1) * sizeof(int32_t));
  lay_buf zb;
  int64_t *zero = lay_alloc(&zb, nd);
  int rc = (shape && zero) ? 0 : mx_fail_int(MX_ENOMEM, "[malloc] Unable to allocate pad scratch.");
  int64_t inner = 0;
  for (int d = 0; d < nd && rc == 0; d++) zero[d] = 0;
  for (int i = 0; i < p->axes.n && rc == 0; i++) {
    int d = p->axes.v[i];
    if (d < 0 || d >= nd) {
      rc = mx_fail_int(MX_EINVAL, "[pad] Invalid axis %d.", d);
      break;
    }
    inner += (int64_t)p->low.v[i] * out->strides[d];
    for (int side = 0; side < 2 && rc == 0; side++) {
      int32_t w = side == 0 ? p->low.v[i] : p->high.v[i];
      if (w == 0) continue;
      memcpy(shape, out->shape, (size_t)nd * sizeof(int32_t));
      shape[d] = w;
      int64_t off = side == 0 ? 0 : (int64_t)(p->low.v[i] + a->shape[d]) * out->strides[d];
      mx_tensor dst = region(out, off, nd, shape, out->strides);
      if (dst.size == 0) continue;
      mx_tensor src = dst; /* the 0-d value broadcast over the slab */
      src.data = v->data;
      src.strides = zero;
      rc = mx_cpu_copy_strided(&src, &dst);
    }
  }
  if (rc == 0 && a->size > 0) {
    mx_tensor dst = region(out, inner, nd, a->shape, out->strides);
    rc = mx_cpu_copy_strided(a, &dst);
  }
  free(shape);
  lay_free(&zb);
  return rc;
}

/* ---- AddMM: out = a @ b, then out = alpha * out + beta * c ---- */
int mx_cpu_addmm(const mx_kernel_ctx *ctx, const mx_tensor *in, int n_in, mx_tensor *out,
                 int n_out) {
  if (expect_io("addmm", n_in, 3, n_out) < 0) return -1;
  const mx_p_addmm *p = (const mx_p_addmm *)ctx->params;
  const mx_tensor *c = &in[2];
  mx_dtype t = out->dtype;
  if (!p || c->dtype != t || c->ndim != out->ndim)
    return mx_fail_int(MX_EINVAL, "[addmm] The addend does not match the output.");
  if (t != MX_FLOAT32 && t != MX_FLOAT64 && t != MX_FLOAT16 && t != MX_BFLOAT16)
    return mx_fail_int(MX_ETYPE, "[addmm] Only real floating point types are supported, got %s.",
                       mx_dtype_name(t));
  if (mx_cpu_matmul(ctx, in, 2, out, 1) < 0) return -1;
  if (out->size == 0) return 0;
  const int64_t *strides[2] = {out->strides, c->strides};
  mx_cpu_iter it;
  if (mx_cpu_iter_init(&it, 2, out->ndim, out->shape, strides) < 0) return -1;
  int64_t n = mx_cpu_iter_len(&it), so = mx_cpu_iter_stride(&it, 0), sc = mx_cpu_iter_stride(&it, 1);
  int64_t offs[2];
  float af = (float)p->alpha, bf = (float)p->beta;
  mx_cpu_iter_seek(&it, 0, offs);
  for (int64_t r = 0; r < it.nruns; r++) {
    char *o = mx_cpu_at(out, offs[0]);
    const char *cc = mx_cpu_at(c, offs[1]);
    switch (t) {
    case MX_FLOAT64:
      for (int64_t i = 0; i < n; i++)
        ((double *)o)[i * so] = mx_f_addmm_f64(((double *)o)[i * so], ((const double *)cc)[i * sc],
                                               p->alpha, p->beta);
      break;
    case MX_FLOAT32:
      for (int64_t i = 0; i < n; i++)
        ((float *)o)[i * so] = mx_f_addmm_f32(((float *)o)[i * so], ((const float *)cc)[i * sc], af, bf);
      break;
    case MX_FLOAT16:
      for (int64_t i = 0; i < n; i++)
        ((mx_f16 *)o)[i * so] = mx_f32_to_f16(mx_f_addmm_f32(
            mx_f16_to_f32(((mx_f16 *)o)[i * so]), mx_f16_to_f32(((const mx_f16 *)cc)[i * sc]), af, bf));
      break;
    default:
      for (int64_t i = 0; i < n; i++)
        ((mx_bf16 *)o)[i * so] = mx_f32_to_bf16(mx_f_addmm_f32(
            mx_bf16_to_f32(((mx_bf16 *)o)[i * so]), mx_bf16_to_f32(((const mx_bf16 *)cc)[i * sc]), af, bf));
      break;
    }
    mx_cpu_iter_next(&it, offs);
  }
  mx_cpu_iter_free(&it);
  return 0;
}
