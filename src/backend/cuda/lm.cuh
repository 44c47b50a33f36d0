/* lm.cuh: what the language-model kernels (quantized.cu, fast.cu, products_ext.cu) share:
 * floating storage traits, row-contiguous staging of an input into scratch, warp sums and
 * per-dtype scalar loads/stores chosen at run time. Depends on cuda.h. */
#ifndef MX_CUDA_LM_CUH
#define MX_CUDA_LM_CUH

#include "cuda.h"

/* Storage type S and compute type C of one floating dtype. */
#define LM_TRAITS(a, sfx)                                                                  \
  struct lm_##sfx {                                                                        \
    typedef MX_ST_##sfx S;                                                                 \
    typedef MX_CT_##sfx C;                                                                 \
    static constexpr mx_dtype dt = MX_DT_##sfx;                                            \
    __device__ static C ld(S v) { return MX_LD_##sfx(v); }                                 \
    __device__ static S sv(C v) { return MX_SV_##sfx(v); }                                 \
  };
MX_FLOAT_SFX(LM_TRAITS, _)
#undef LM_TRAITS

/* Value at element i of base (dtype t) as float (floating and integer dtypes). */
__device__ __forceinline__ float lm_ldf(const void *base, int t, int64_t i) {
  switch (t) {
    case MX_FLOAT16: return mx_f16_to_f32(((const mx_f16 *)base)[i]);
    case MX_BFLOAT16: return mx_bf16_to_f32(((const mx_bf16 *)base)[i]);
    case MX_FLOAT64: return (float)((const double *)base)[i];
    case MX_BOOL: return ((const bool *)base)[i] ? 1.0f : 0.0f;
    case MX_UINT8: return (float)((const uint8_t *)base)[i];
    case MX_INT32: return (float)((const int32_t *)base)[i];
    default: return ((const float *)base)[i];
  }
}

/* v (float) stored at element i of base with dtype t (floating dtypes). */
__device__ __forceinline__ void lm_stf(void *base, int t, int64_t i, float v) {
  switch (t) {
    case MX_FLOAT16: ((mx_f16 *)base)[i] = mx_f32_to_f16(v); break;
    case MX_BFLOAT16: ((mx_bf16 *)base)[i] = mx_f32_to_bf16(v); break;
    case MX_FLOAT64: ((double *)base)[i] = (double)v; break;
    default: ((float *)base)[i] = v; break;
  }
}

/* v rounded to dtype t and back (the float arithmetic of MLX's half-precision ops). */
__device__ __forceinline__ float lm_round(float v, int t) {
  if (t == MX_FLOAT16) return mx_f16_to_f32(mx_f32_to_f16(v));
  if (t == MX_BFLOAT16) return mx_bf16_to_f32(mx_f32_to_bf16(v));
  return v;
}

template <class C>
__device__ __forceinline__ C lm_warp_sum(C v) {
#pragma unroll
  for (int d = 16; d > 0; d >>= 1) v += __shfl_xor_sync(0xffffffffu, v, d);
  return v;
}

template <class C>
__device__ __forceinline__ C lm_warp_max(C v) {
#pragma unroll
  for (int d = 16; d > 0; d >>= 1) {
    C o = __shfl_xor_sync(0xffffffffu, v, d);
    v = o > v ? o : v;
  }
  return v;
}

static inline bool lm_row_contig(const mx_tensor *t) {
  if (t->flags & 1u) return true; /* MX_ROW_CONTIG */
  int64_t s = 1;
  for (int d = t->ndim - 1; d >= 0; d--) {
    if (t->shape[d] != 1 && t->strides[d] != s) return false;
    s *= t->shape[d];
  }
  return true;
}

/* t as a row-contiguous buffer of dtype dt: t's own data when it already is one, else a
 * converted copy in scratch held by g (freed with it). NULL + error on failure. */
static inline const void *lm_stage(const mx_tensor *t, mx_dtype dt, mxc_scratch_guard &g,
                                   cudaStream_t q, int dev) {
  if (t->dtype == dt && lm_row_contig(t)) return t->data;
  size_t bytes = (size_t)(t->size > 0 ? t->size : 1) * (size_t)mx_dtype_size(dt);
  void *p = g.alloc(bytes);
  if (!p) return nullptr;
  if (t->size == 0) return p;
  int nd = t->ndim;
  int64_t small[16];
  int64_t *st = nd <= 16 ? small : (int64_t *)malloc(sizeof(int64_t) * (size_t)nd);
  if (!st) {
    mx_fail(MX_ENOMEM, "[malloc] Unable to allocate %zu bytes.", sizeof(int64_t) * (size_t)nd);
    return nullptr;
  }
  int64_t s = 1;
  for (int d = nd - 1; d >= 0; d--) {
    st[d] = s;
    s *= t->shape[d];
  }
  mx_tensor dst = {p, dt, nd, t->shape, st, t->size, 1};
  int rc = mx_cuda_copy_strided(t, &dst, q, dev);
  if (st != small) free(st);
  return rc < 0 ? nullptr : p;
}

/* quantized.cu: float32 values of packed w in the nvfp4 / mxfp8 modes (codes of `bits` bits,
 * one uint8 scale per group of gs; gsc: the nvfp4 global scale or NULL), with the rounding
 * steps of the Dequantize kernel. Enqueues on q; 0 or -1 + error. */
int mx_cuda_dequantize_fp_f32(const uint32_t *w, const uint8_t *sc, const float *gsc,
                              float *out, int64_t groups, int gs, int bits, int mode,
                              cudaStream_t q, int dev);

#endif
