/* qqmm.cu: the QQMatmul kernel on CUDA, twin of cpu/qqmm.c. x (and w when it comes as
 * floats) is quantized and dequantized group by group into float32 scratch (nvfp4 / mxfp8,
 * MLX's rounding steps as in mx.quantize); packed w is dequantized to float32; then one
 * float32 mx_cuda_gemm per batch of w and a conversion to the output dtype. */
#include "lm.cuh"

/* dst = dequantize(quantize(src)) for `groups` groups of gs values; one thread per group.
 * t: the dtype the values came in (MLX rounds the scale and the scaled values to it);
 * gsc: the nvfp4 global scale or NULL. */
__global__ void __launch_bounds__(256) qq_fake_k(const float *src, float *dst, int64_t groups,
                                                 int gs, int t, int mode, const float *gsc) {
  for (int64_t g = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; g < groups;
       g += (int64_t)gridDim.x * blockDim.x) {
    const float *w = src + g * gs;
    float *o = dst + g * gs;
    float enc = 0.0f, dec = 1.0f;
    if (gsc) {
      enc = __fdiv_rn(448.0f * 6.0f, gsc[0]);
      dec = __fdiv_rn(gsc[0], 448.0f * 6.0f);
    }
    float amax = 0.0f;
    for (int i = 0; i < gs; i++) amax = fabsf(w[i]) > amax ? fabsf(w[i]) : amax;
    float sc = lm_round(__fdiv_rn(amax, mode == MX_QMODE_MXFP8 ? 448.0f : 6.0f), t);
    float div, post = 1.0f, s;
    if (mode == MX_QMODE_NVFP4) {
      uint8_t sb = mx_q_to_fp8(enc > 0.0f ? __fmul_rn(sc, enc) : sc);
      div = lm_round(mx_q_from_fp8(sb), t);
      if (enc > 0.0f) post = enc;
      s = __fmul_rn(mx_q_from_fp8(sb), dec);
    } else {
      uint8_t sb = mx_q_e8m0_encode(sc);
      div = lm_round(ldexpf(1.0f, (int)sb - 127), t);
      s = mx_q_e8m0_value(sb);
    }
    for (int i = 0; i < gs; i++) {
      float q = lm_round(__fdiv_rn(w[i], div), t);
      if (post != 1.0f) q = __fmul_rn(q, post);
      float v = mode == MX_QMODE_MXFP8 ? mx_q_from_fp8(mx_q_to_fp8(q))
                                       : mx_q_e2m1_value(mx_q_e2m1_nearest(q));
      o[i] = __fmul_rn(v, s);
    }
  }
}

/* A float32 scratch copy of float input t, quantized and dequantized along its last axis. */
static float *mx_cuda_qq_fake(const mx_tensor *t, int gs, int mode, const float *gsc,
                              mxc_scratch_guard &gin, mxc_scratch_guard &gout, cudaStream_t q,
                              int dev) {
  const float *src = (const float *)lm_stage(t, MX_FLOAT32, gin, q, dev);
  if (!src) return nullptr;
  float *dst = (float *)gout.alloc(sizeof(float) * (size_t)(t->size > 0 ? t->size : 1));
  if (!dst) return nullptr;
  int64_t groups = t->size / gs;
  if (groups > 0) {
    qq_fake_k<<<mxc_blocks(groups, 256, dev), 256, 0, q>>>(src, dst, groups, gs, t->dtype, mode,
                                                          gsc);
    if (cudaGetLastError() != cudaSuccess)
      return (float *)mx_fail(MX_ERUNTIME, "[qqmm] CUDA error: kernel launch failed.");
  }
  return dst;
}

int mx_cuda_qqmatmul(const mx_kernel_ctx *ctx, const mx_tensor *in, int n_in, mx_tensor *out,
                     int n_out) {
  (void)n_out;
  const mx_p_qqmatmul *p = (const mx_p_qqmatmul *)ctx->params;
  if (out->size == 0) return 0;
  cudaStream_t q = (cudaStream_t)ctx->queue;
  int dev = ctx->device_index;
  const mx_tensor *x = &in[0], *w = &in[1];
  const bool packed = w->dtype == MX_UINT32;
  const int first_g = packed ? 3 : 2;
  const bool has_g = n_in >= first_g + 2;
  const int K = x->shape[x->ndim - 1];
  const int N = out->shape[out->ndim - 1];
  const int64_t rows = out->size / N;
  int64_t nb = 1; /* batches of w (its dims before the last two), matched by x's */
  for (int d = 0; d < w->ndim - 2; d++) nb *= w->shape[d];
  const int64_t mb = rows / nb;
  mxc_scratch_guard ggx(q), ggw(q), gxi(q), gxo(q), gwi(q), gwo(q), gsc(q), go(q);
  const float *gx = nullptr, *gw = nullptr;
  if (has_g) {
    gx = (const float *)lm_stage(&in[first_g], MX_FLOAT32, ggx, q, dev);
    gw = gx ? (const float *)lm_stage(&in[first_g + 1], MX_FLOAT32, ggw, q, dev) : nullptr;
    if (!gw) return -1;
  }
  float *of = out->dtype == MX_FLOAT32 && lm_row_contig(out) ? (float *)out->data
                                                             : (float *)go.alloc(
                                                                   sizeof(float) * out->size);
  if (!of) return -1;
  if (K == 0) {
    MX_CUDA_CHECK("qqmm", cudaMemsetAsync(of, 0, sizeof(float) * (size_t)out->size, q));
  } else {
    const float *xf = mx_cuda_qq_fake(x, p->group_size, p->mode, gx, gxi, gxo, q, dev);
    if (!xf) return -1;
    const float *wf;
    if (!packed) {
      wf = mx_cuda_qq_fake(w, p->group_size, p->mode, gw, gwi, gwo, q, dev);
    } else {
      const uint32_t *wq = (const uint32_t *)lm_stage(w, MX_UINT32, gwi, q, dev);
      const uint8_t *sb = wq ? (const uint8_t *)lm_stage(&in[2], MX_UINT8, gsc, q, dev) : nullptr;
      float *d = sb ? (float *)gwo.alloc(sizeof(float) * (size_t)nb * N * K) : nullptr;
      if (d && mx_cuda_dequantize_fp_f32(wq, sb, gw, d, nb * N * (int64_t)K / p->group_size,
                                         p->group_size, p->bits, p->mode, q, dev) < 0)
        return -1;
      wf = d;
    }
    if (!wf) return -1;
    for (int64_t b = 0; b < nb; b++) /* of[b] = xf[b] @ wf[b]^T */
      if (mx_cuda_gemm(dev, MX_FLOAT32, xf + b * mb * K, false, K, wf + b * (int64_t)N * K, true,
                       K, of + b * mb * N, N, false, mb, N, K, q) < 0)
        return -1;
  }
  if (of != (float *)out->data)
    return mx_cuda_convert(of, MX_FLOAT32, out->data, out->dtype, out->size, q, dev);
  return 0;
}
