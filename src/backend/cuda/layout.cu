/* layout.cu: CUDA kernels of the section-D primitives, the twin of cpu/layout.c: AsStrided,
 * Contiguous and View when their schedule-time view was not possible, Concatenate and Pad
 * (regions of the output filled by the strided copies of copy.cu, every dtype), and AddMM
 * (Matmul's cuBLASLt GEMM, then the epilogue formula mx_f_addmm_* of formulas.h). */
#include "elementwise.cuh"

static int expect_io(const char *op, int n_in, int want_in, int n_out) {
  if ((want_in >= 0 && n_in != want_in) || n_out != 1)
    return mx_fail_int(MX_EINVAL, "[%s] Expected %d input(s) and 1 output, got %d and %d.", op,
                       want_in, n_in, n_out);
  return 0;
}

/* int64 host scratch of n entries, inline up to 16. */
struct lay_buf {
  int64_t *v;
  int64_t inl[16];
  lay_buf() : v(inl) {}
  ~lay_buf() { if (v != inl) free(v); }
  int64_t *alloc(int n) {
    if (n > 16 && !(v = (int64_t *)malloc((size_t)n * sizeof(int64_t)))) {
      v = inl;
      mx_fail(MX_ENOMEM, "[malloc] Unable to allocate %zu bytes.", (size_t)n * sizeof(int64_t));
      return nullptr;
    }
    return v;
  }
};

/* A view into t: data moved by off elements, with the given shape and strides. */
static mx_tensor region(const mx_tensor *t, int64_t off, int ndim, const int32_t *shape,
                        const int64_t *strides) {
  mx_tensor r = *t;
  r.data = (char *)t->data + off * (int64_t)mx_dtype_size(t->dtype);
  r.ndim = ndim;
  r.shape = shape;
  r.strides = strides;
  r.size = 1;
  for (int d = 0; d < ndim; d++) r.size *= shape[d];
  r.flags = 0;
  return r;
}

#define Q(ctx) ((cudaStream_t)(ctx)->queue)

/* ---- AsStrided: element k of the (1-D) input is at k * step ---- */
extern "C" int mx_cuda_as_strided(const mx_kernel_ctx *ctx, const mx_tensor *in, int n_in,
                                  mx_tensor *out, int n_out) {
  if (expect_io("as_strided", n_in, 1, n_out) < 0) return -1;
  const mx_p_as_strided *p = (const mx_p_as_strided *)ctx->params;
  if (!p || p->strides.n != out->ndim || in->ndim > 1)
    return mx_fail_int(MX_EINVAL, "[as_strided] Parameters do not match the dimensions.");
  if (out->size == 0) return 0;
  int64_t step = in->ndim == 1 ? in->strides[0] : 1;
  lay_buf b;
  if (!b.alloc(out->ndim)) return -1;
  for (int d = 0; d < out->ndim; d++) b.v[d] = p->strides.v[d] * step;
  mx_tensor v = region(in, p->offset * step, out->ndim, out->shape, b.v);
  return mx_cuda_copy_strided(&v, out, Q(ctx), ctx->device_index);
}

/* ---- Contiguous: a row-major copy ---- */
extern "C" int mx_cuda_contiguous(const mx_kernel_ctx *ctx, const mx_tensor *in, int n_in,
                                  mx_tensor *out, int n_out) {
  if (expect_io("contiguous", n_in, 1, n_out) < 0) return -1;
  return mx_cuda_copy_strided(in, out, Q(ctx), ctx->device_index);
}

/* ---- View: the input's row-major bytes, read as the output dtype ---- */
extern "C" int mx_cuda_view(const mx_kernel_ctx *ctx, const mx_tensor *in, int n_in,
                            mx_tensor *out, int n_out) {
  if (expect_io("view", n_in, 1, n_out) < 0) return -1;
  if ((int64_t)in->size * mx_dtype_size(in->dtype) !=
      (int64_t)out->size * mx_dtype_size(out->dtype))
    return mx_fail_int(MX_EINVAL, "[view] Input and output byte sizes differ.");
  lay_buf b;
  if (!b.alloc(in->ndim)) return -1;
  int64_t acc = 1;
  for (int d = in->ndim - 1; d >= 0; d--) {
    b.v[d] = acc;
    acc *= in->shape[d];
  }
  mx_tensor as_in = *out; /* out's buffer seen with the input's dtype, shape and row strides */
  as_in.dtype = in->dtype;
  as_in.ndim = in->ndim;
  as_in.shape = in->shape;
  as_in.strides = b.v;
  as_in.size = in->size;
  return mx_cuda_copy_strided(in, &as_in, Q(ctx), ctx->device_index);
}

/* ---- Concatenate: each input into its slab of the output ---- */
extern "C" int mx_cuda_concatenate(const mx_kernel_ctx *ctx, const mx_tensor *in, int n_in,
                                   mx_tensor *out, int n_out) {
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
      if (mx_cuda_copy_strided(&in[i], &r, Q(ctx), ctx->device_index) < 0) return -1;
    }
    at += in[i].shape[ax];
  }
  return 0;
}

/* ---- Pad: the fill value into the border slabs, the input into the interior ---- */
extern "C" int mx_cuda_pad(const mx_kernel_ctx *ctx, const mx_tensor *in, int n_in,
                           mx_tensor *out, int n_out) {
  if (expect_io("pad", n_in, 2, n_out) < 0) return -1;
  const mx_p_pad *p = (const mx_p_pad *)ctx->params;
  const mx_tensor *a = &in[0], *v = &in[1];
  int nd = out->ndim;
  if (!p || a->ndim != nd || v->size != 1 || a->dtype != out->dtype || v->dtype != out->dtype)
    return mx_fail_int(MX_EINVAL, "[pad] Inputs do not match the output.");
  int32_t *shape = (int32_t *)malloc((size_t)(nd > 0 ? nd : 1) * sizeof(int32_t));
  lay_buf zb;
  int64_t *zero = zb.alloc(nd);
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
      rc = mx_cuda_copy_strided(&src, &dst, Q(ctx), ctx->device_index);
    }
  }
  if (rc == 0 && a->size > 0) {
    mx_tensor dst = region(out, inner, nd, a->shape, out->strides);
    rc = mx_cuda_copy_strided(a, &dst, Q(ctx), ctx->device_index);
  }
  free(shape);
  return rc;
}

/* ---- AddMM: out = a @ b, then out = alpha * out + beta * c ---- */

template <class T, bool HALF, bool BF>
__global__ void __launch_bounds__(MXC_THREADS) addmm_epilogue(T *out, const T *c, int64_t n,
                                                              double alpha, double beta,
                                                              const __grid_constant__ mxc_layout<1> L) {
  const int64_t step = (int64_t)gridDim.x * blockDim.x;
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += step) {
    int64_t off = 0;
    mxc_offsets<1>(L, i, &off);
    if constexpr (sizeof(T) == 8) {
      out[i] = mx_f_addmm_f64(out[i], c[off], alpha, beta);
    } else if constexpr (HALF) {
      out[i] = mx_f32_to_f16(mx_f_addmm_f32(mx_f16_to_f32(out[i]), mx_f16_to_f32(c[off]),
                                            (float)alpha, (float)beta));
    } else if constexpr (BF) {
      out[i] = mx_f32_to_bf16(mx_f_addmm_f32(mx_bf16_to_f32(out[i]), mx_bf16_to_f32(c[off]),
                                             (float)alpha, (float)beta));
    } else {
      out[i] = mx_f_addmm_f32(out[i], c[off], (float)alpha, (float)beta);
    }
  }
}

extern "C" int mx_cuda_addmm(const mx_kernel_ctx *ctx, const mx_tensor *in, int n_in,
                             mx_tensor *out, int n_out) {
  if (expect_io("addmm", n_in, 3, n_out) < 0) return -1;
  const mx_p_addmm *p = (const mx_p_addmm *)ctx->params;
  const mx_tensor *c = &in[2];
  mx_dtype t = out->dtype;
  if (!p || c->dtype != t || c->ndim != out->ndim)
    return mx_fail_int(MX_EINVAL, "[addmm] The addend does not match the output.");
  if (t != MX_FLOAT32 && t != MX_FLOAT64 && t != MX_FLOAT16 && t != MX_BFLOAT16)
    return mx_fail_int(MX_ETYPE, "[addmm] Only real floating point types are supported, got %s.",
                       mx_dtype_name(t));
  if (mx_cuda_matmul(ctx, in, 2, out, 1) < 0) return -1;
  if (out->size == 0) return 0;
  cudaStream_t q = Q(ctx);
  int dev = ctx->device_index;
  lay_buf b;
  if (!b.alloc(out->ndim) || ew_bstrides("addmm", c, out, b.v) < 0) return -1;
  mxc_layout<1> L;
  const int64_t *st[1] = {b.v};
  void *ext = nullptr;
  if (mxc_layout_init<1>(&L, out->ndim, out->shape, st, q, &ext) < 0) return -1;
  mxc_scratch_guard g(q);
  g.p = ext;
  unsigned blocks = mxc_blocks(out->size, MXC_THREADS, dev);
  switch (t) {
    case MX_FLOAT64:
      addmm_epilogue<double, false, false><<<blocks, MXC_THREADS, 0, q>>>(
          (double *)out->data, (const double *)c->data, out->size, p->alpha, p->beta, L);
      break;
    case MX_FLOAT32:
      addmm_epilogue<float, false, false><<<blocks, MXC_THREADS, 0, q>>>(
          (float *)out->data, (const float *)c->data, out->size, p->alpha, p->beta, L);
      break;
    case MX_FLOAT16:
      addmm_epilogue<mx_f16, true, false><<<blocks, MXC_THREADS, 0, q>>>(
          (mx_f16 *)out->data, (const mx_f16 *)c->data, out->size, p->alpha, p->beta, L);
      break;
    default:
      addmm_epilogue<mx_bf16, false, true><<<blocks, MXC_THREADS, 0, q>>>(
          (mx_bf16 *)out->data, (const mx_bf16 *)c->data, out->size, p->alpha, p->beta, L);
      break;
  }
  MX_CUDA_CHECK_LAUNCH("addmm");
  return 0;
}
