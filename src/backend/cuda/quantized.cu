/* quantized.cu: the quant family on CUDA, twins of cpu/quantized.c and quantized_matmul.c:
 * QuantizedMatmul and GatherQMM (few rows of x: a GEMV kernel, a warp per 4 output columns
 * reading 32-code units of packed words with vector loads and accumulating in float32, or for
 * 4-bit affine weights with half-precision x the tensor-core GEMV of quantized_mma.cu; more
 * rows with those weights on a Hopper GPU: the wgmma GEMM of quantized_wgmma.cu;
 * otherwise the weights are unpacked to x's dtype in scratch and multiplied by mx_cuda_gemm),
 * Quantize, Dequantize, ToFP8 and FromFP8 (bit-exact with the CPU through formulas.h). */
#include "lm.cuh"
#include "quantized_mma.cuh"

#define QMM_SMALL_M 8 /* rows of x up to which the GEMV kernel runs */
#define QMM_CHUNK_BYTES ((int64_t)1 << 30) /* unpacked weights per GEMM */

/* ---- decoding: a unit is 32 consecutive codes of one row, BITS words ---- */

template <int MODE>
__device__ __forceinline__ float q_scale_at(const void *p, int sdt, int64_t g) {
  if constexpr (MODE == MX_QMODE_AFFINE) {
    return lm_ldf(p, sdt, g);
  } else {
    uint8_t b = ((const uint8_t *)p)[g];
    return MODE == MX_QMODE_NVFP4 ? mx_q_from_fp8(b) : mx_q_e8m0_value(b);
  }
}

template <int BITS>
__device__ __forceinline__ void q_load_words(const uint32_t *p, uint32_t (&w)[BITS]) {
  if constexpr (BITS % 4 == 0) {
#pragma unroll
    for (int k = 0; k < BITS / 4; k++) {
      uint4 v = ((const uint4 *)p)[k];
      w[4 * k] = v.x;
      w[4 * k + 1] = v.y;
      w[4 * k + 2] = v.z;
      w[4 * k + 3] = v.w;
    }
  } else if constexpr (BITS % 2 == 0) {
#pragma unroll
    for (int k = 0; k < BITS / 2; k++) {
      uint2 v = ((const uint2 *)p)[k];
      w[2 * k] = v.x;
      w[2 * k + 1] = v.y;
    }
  } else {
#pragma unroll
    for (int k = 0; k < BITS; k++) w[k] = p[k];
  }
}

/* ---- GEMV: out[i, m, n] = sum_k x[xi, m, k] * w[wi, n, k] ----
 * A block of W warps; a warp computes R output columns. Each lane takes every 32nd unit of
 * their rows and first issues the loads of UPL units of every row (words, scales, biases),
 * then per unit converts the x values once for the R rows and accumulates per group part
 * s * sum(x q) + b * sum(x) (the affine decode factored out of the dot product). */

struct q_gemv_args {
  const void *x;          /* nx x M x K, T */
  const uint32_t *w;      /* nw x N x K*BITS/32 */
  const void *sc, *bi;    /* nw x N x K/gs */
  void *out;              /* nmat x M x N, T */
  const uint32_t *lhs, *rhs; /* per product x and w batch (NULL: QuantizedMatmul's) */
  int64_t nx, nw;
  int M, N, K, gs, gsh, sdt; /* gsh: log2(gs), or -1 when gs is no power of two */
  bool w_batched;
};

/* The group of element e of a row (shift when the group size is a power of two). */
__device__ __forceinline__ int q_group(int e, int gs, int gsh) {
  return gsh >= 0 ? e >> gsh : e / gs;
}

/* Scale bytes of the fp modes as scale traits (S, ld) like lm_<dtype>. */
struct q_fp8_scale {
  typedef uint8_t S;
  __device__ static float ld(uint8_t b) { return mx_q_from_fp8(b); }
};
struct q_e8m0_scale {
  typedef uint8_t S;
  __device__ static float ld(uint8_t b) { return mx_q_e8m0_value(b); }
};

/* Code i of a unit as a float: affine codes exactly through the 2^23 mantissa trick. */
template <int MODE, int BITS>
__device__ __forceinline__ float q_code_value(const uint32_t (&w)[BITS], int i) {
  constexpr uint32_t mask = (1u << BITS) - 1u;
  const int pos = i * BITS, wd = pos >> 5, sh = pos & 31;
  uint32_t c = w[wd] >> sh;
  if (sh + BITS > 32) c |= w[wd + 1] << (32 - sh);
  c &= mask;
  if constexpr (MODE == MX_QMODE_AFFINE) return __int_as_float(0x4B000000u | c) - 8388608.0f;
  else if constexpr (MODE == MX_QMODE_MXFP8) return mx_q_from_fp8((uint8_t)c);
  else return mx_q_e2m1_value(c);
}

/* Code i (a compile-time constant once unrolled) of a unit. Affine codes of 2, 4 or 8 bits
 * stay in place within their 16-bit half of the word: with the exponent 127 + 23 - sh or-ed
 * in, the word reads 2^(23 - sh) + c exactly (sh: the code's shift in the half). */
template <int MODE, int BITS>
__device__ __forceinline__ float q_code_fast(const uint32_t (&w)[BITS], const uint32_t (&hi)[BITS],
                                             int i) {
  if constexpr (MODE == MX_QMODE_AFFINE && (BITS == 2 || BITS == 4 || BITS == 8)) {
    constexpr int PER = 32 / BITS, HALF = 16 / BITS;
    const int wd = i / PER, ci = i % PER, sh = (ci % HALF) * BITS;
    const uint32_t h = ci < HALF ? w[wd] : hi[wd];
    const uint32_t e = (uint32_t)(127 + 23 - sh) << 23;
    return __uint_as_float((h & (((1u << BITS) - 1u) << sh)) | e) - __uint_as_float(e);
  } else {
    return q_code_value<MODE, BITS>(w, i);
  }
}

/* WHOLE: every unit lies in one group (group size a multiple of 32), else in two halves. */
template <class Tr, class Sc, int MODE, int BITS, bool WHOLE, int R, int UPL, int W>
__global__ void __launch_bounds__(32 * W) q_gemv_t(const q_gemv_args a) {
  typedef typename Tr::S S;
  typedef typename Sc::S SS;
  constexpr int VS = 16 / (int)sizeof(S); /* elements per 16-byte pack of x */
  constexpr int NG = WHOLE ? 1 : 2;
  constexpr bool AFF = MODE == MX_QMODE_AFFINE;
  const int lane = threadIdx.x & 31;
  const int n0 = (blockIdx.x * W + (threadIdx.x >> 5)) * R;
  if (n0 >= a.N) return;
  const int64_t i = blockIdx.y;
  int64_t xi = a.lhs ? (int64_t)a.lhs[i] : i;
  int64_t wi = a.rhs ? (int64_t)a.rhs[i] : (a.w_batched ? i : 0);
  if (xi >= a.nx) xi = a.nx - 1;
  if (wi >= a.nw) wi = a.nw - 1;
  const int U = a.K / 32, G = a.K / a.gs;
  const uint32_t *wrow[R];
  const SS *srow[R], *brow[R];
#pragma unroll
  for (int r = 0; r < R; r++) {
    const int64_t row = wi * a.N + (n0 + r < a.N ? n0 + r : n0);
    wrow[r] = a.w + row * U * BITS;
    srow[r] = (const SS *)a.sc + row * G;
    brow[r] = AFF ? (const SS *)a.bi + row * G : nullptr;
  }
  const S *xb = (const S *)a.x + xi * (int64_t)a.M * a.K;
  for (int m = 0; m < a.M; m++) { /* rows of x one after another: the weights hit L2 */
    float acc[R];
#pragma unroll
    for (int r = 0; r < R; r++) acc[r] = 0.0f;
    for (int u0 = lane; u0 < U; u0 += 32 * UPL) {
      uint32_t wv[UPL][R][BITS];
      SS sv[UPL][R][NG], bv[UPL][R][NG];
#pragma unroll
      for (int j = 0; j < UPL; j++) {
        const int u = u0 + 32 * j;
        if (u < U) {
          const int g0 = q_group(u * 32, a.gs, a.gsh), g1 = q_group(u * 32 + 16, a.gs, a.gsh);
#pragma unroll
          for (int r = 0; r < R; r++) {
            q_load_words<BITS>(wrow[r] + u * BITS, wv[j][r]);
            sv[j][r][0] = srow[r][g0];
            if constexpr (!WHOLE) sv[j][r][NG - 1] = srow[r][g1];
            if constexpr (AFF) {
              bv[j][r][0] = brow[r][g0];
              if constexpr (!WHOLE) bv[j][r][NG - 1] = brow[r][g1];
            }
          }
        }
      }
#pragma unroll
      for (int j = 0; j < UPL; j++) {
        const int u = u0 + 32 * j;
        if (u < U) {
          float xv[32];
          const mxc_pack<S, VS> *xp = (const mxc_pack<S, VS> *)(xb + (int64_t)m * a.K + u * 32);
#pragma unroll
          for (int p = 0; p < 32 / VS; p++) {
            mxc_pack<S, VS> pk = xp[p];
#pragma unroll
            for (int e = 0; e < VS; e++) xv[p * VS + e] = Tr::ld(pk.v[e]);
          }
          float xs0 = 0.0f, xs1 = 0.0f;
          if constexpr (AFF) {
#pragma unroll
            for (int k = 0; k < 16; k++) {
              xs0 += xv[k];
              xs1 += xv[16 + k];
            }
          }
#pragma unroll
          for (int r = 0; r < R; r++) {
            uint32_t hi[BITS];
#pragma unroll
            for (int t = 0; t < BITS; t++) hi[t] = wv[j][r][t] >> 16;
            float d0 = 0.0f, d1 = 0.0f;
#pragma unroll
            for (int k = 0; k < 16; k++) {
              d0 += xv[k] * q_code_fast<MODE, BITS>(wv[j][r], hi, k);
              d1 += xv[16 + k] * q_code_fast<MODE, BITS>(wv[j][r], hi, 16 + k);
            }
            const float s0 = Sc::ld(sv[j][r][0]), s1 = Sc::ld(sv[j][r][NG - 1]);
            if constexpr (AFF) {
              const float b0 = Sc::ld(bv[j][r][0]), b1 = Sc::ld(bv[j][r][NG - 1]);
              if constexpr (WHOLE) acc[r] += s0 * (d0 + d1) + b0 * (xs0 + xs1);
              else acc[r] += s0 * d0 + s1 * d1 + (b0 * xs0 + b1 * xs1);
            } else {
              acc[r] += WHOLE ? s0 * (d0 + d1) : s0 * d0 + s1 * d1;
            }
          }
        }
      }
    }
#pragma unroll
    for (int r = 0; r < R; r++) {
      float s = lm_warp_sum(acc[r]);
      if (lane == 0 && n0 + r < a.N)
        ((S *)a.out)[(i * a.M + m) * (int64_t)a.N + n0 + r] = Tr::sv(s);
    }
  }
}

/* ---- unpacking whole rows into dtype T (the GEMM path) ----
 * A thread writes 8 consecutive values (BITS bytes of codes), so a warp's stores are
 * contiguous. */

template <class Tr, int MODE, int BITS>
__global__ void __launch_bounds__(256) q_unpack(const uint32_t *w, const void *sc, const void *bi,
                                                int sdt, typename Tr::S *out, int64_t octs,
                                                int gs, int gsh) {
  typedef typename Tr::S S;
  constexpr int VS = 16 / (int)sizeof(S) < 8 ? 16 / (int)sizeof(S) : 8;
  constexpr uint32_t mask = (1u << BITS) - 1u;
  constexpr int IN = 4; /* octets a thread has in flight */
  const int64_t stride = (int64_t)gridDim.x * blockDim.x;
  for (int64_t t0 = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; t0 < octs; t0 += IN * stride) {
    uint64_t v[IN];
    float s[IN], b[IN];
#pragma unroll
    for (int u = 0; u < IN; u++) {
      const int64_t t = t0 + u * stride;
      v[u] = 0;
      s[u] = b[u] = 0.0f;
      if (t < octs) {
        const int64_t bit0 = t * 8 * BITS, wd = bit0 >> 5;
        const int sh = (int)(bit0 & 31);
        v[u] = w[wd];
        if (sh + 8 * BITS > 32) v[u] |= (uint64_t)w[wd + 1] << 32;
        v[u] >>= sh;
        const int64_t g = gsh >= 0 ? (t * 8) >> gsh : t * 8 / gs;
        s[u] = q_scale_at<MODE>(sc, sdt, g);
        if constexpr (MODE == MX_QMODE_AFFINE) b[u] = lm_ldf(bi, sdt, g);
      }
    }
#pragma unroll
    for (int u = 0; u < IN; u++) {
      const int64_t t = t0 + u * stride;
      if (t >= octs) break;
      float f[8];
#pragma unroll
      for (int k = 0; k < 8; k++) {
        const uint32_t c = (uint32_t)(v[u] >> (k * BITS)) & mask;
        float q;
        if constexpr (MODE == MX_QMODE_AFFINE) q = __int_as_float(0x4B000000u | c) - 8388608.0f;
        else if constexpr (MODE == MX_QMODE_MXFP8) q = mx_q_from_fp8((uint8_t)c);
        else q = mx_q_e2m1_value(c);
        f[k] = s[u] * q + b[u];
      }
      mxc_pack<S, VS> *op = (mxc_pack<S, VS> *)(out + t * 8);
#pragma unroll
      for (int p = 0; p < 8 / VS; p++) {
        mxc_pack<S, VS> pk;
#pragma unroll
        for (int e = 0; e < VS; e++) pk.v[e] = Tr::sv(f[p * VS + e]);
        op[p] = pk;
      }
    }
  }
}

/* ---- dispatch over (dtype, mode, bits) ---- */

struct q_job {
  int dev;
  cudaStream_t q;
  q_gemv_args g;
  int mode, bits;
  mx_dtype t; /* compute/storage dtype of x, the unpacked weights and the output */
};

template <class Tr, int MODE, int BITS>
static void q_launch(const q_job &j, bool gemv, int64_t nmat, const uint32_t *w, const void *sc,
                     const void *bi, void *tile, int64_t units) {
  if (gemv) {
    /* group sizes (checked by q_drive): affine and mx units lie in one group, nvfp4's in two */
    constexpr bool WH = MODE != MX_QMODE_NVFP4;
    /* 4 warps of 4 columns each, 2 units per row in flight per lane */
    dim3 grid((unsigned)((j.g.N + 15) / 16), (unsigned)nmat);
#define QG(SC) q_gemv_t<Tr, SC, MODE, BITS, WH, 4, 2, 4><<<grid, 128, 0, j.q>>>(j.g)
    if constexpr (MODE == MX_QMODE_AFFINE) {
      if (j.g.sdt == (int)Tr::dt) {
        QG(Tr);
      } else {
        QG(lm_f32);
      }
    } else if constexpr (MODE == MX_QMODE_NVFP4) {
      QG(q_fp8_scale);
    } else {
      QG(q_e8m0_scale);
    }
#undef QG
  } else {
    q_unpack<Tr, MODE, BITS><<<mxc_blocks(units * 4, 256, j.dev), 256, 0, j.q>>>(
        w, sc, bi, j.g.sdt, (typename Tr::S *)tile, units * 4, j.g.gs, j.g.gsh);
  }
}

template <class Tr>
static int q_dispatch_t(const q_job &j, bool gemv, int64_t nmat, const uint32_t *w,
                        const void *sc, const void *bi, void *tile, int64_t units) {
#define QL(M, B) q_launch<Tr, M, B>(j, gemv, nmat, w, sc, bi, tile, units)
  switch (j.mode) {
    case MX_QMODE_AFFINE:
      switch (j.bits) {
        case 1: QL(MX_QMODE_AFFINE, 1); break;
        case 2: QL(MX_QMODE_AFFINE, 2); break;
        case 3: QL(MX_QMODE_AFFINE, 3); break;
        case 4: QL(MX_QMODE_AFFINE, 4); break;
        case 5: QL(MX_QMODE_AFFINE, 5); break;
        case 6: QL(MX_QMODE_AFFINE, 6); break;
        case 8: QL(MX_QMODE_AFFINE, 8); break;
        default:
          return mx_fail_int(MX_EINVAL, "[quantized_matmul] %d bits are not supported.", j.bits);
      }
      break;
    case MX_QMODE_MXFP4: QL(MX_QMODE_MXFP4, 4); break;
    case MX_QMODE_MXFP8: QL(MX_QMODE_MXFP8, 8); break;
    case MX_QMODE_NVFP4: QL(MX_QMODE_NVFP4, 4); break;
    default: return mx_fail_int(MX_EINVAL, "[quantized_matmul] Unknown mode %d.", j.mode);
  }
#undef QL
  MX_CUDA_CHECK_LAUNCH("quantized_matmul");
  return 0;
}

static int q_dispatch(const q_job &j, bool gemv, int64_t nmat, const uint32_t *w, const void *sc,
                      const void *bi, void *tile, int64_t units) {
  switch (j.t) {
    case MX_FLOAT16: return q_dispatch_t<lm_f16>(j, gemv, nmat, w, sc, bi, tile, units);
    case MX_BFLOAT16: return q_dispatch_t<lm_bf16>(j, gemv, nmat, w, sc, bi, tile, units);
    default: return q_dispatch_t<lm_f32>(j, gemv, nmat, w, sc, bi, tile, units);
  }
}

static int64_t q_batches(const mx_tensor *t) {
  int64_t b = 1;
  for (int d = 0; d < t->ndim - 2; d++) b *= t->shape[d];
  return b;
}

/* Stages t row-contiguous in dtype dt, also when t's data is not 16-byte aligned. */
static const void *q_stage_aligned(const mx_tensor *t, mx_dtype dt, mxc_scratch_guard &g,
                                   cudaStream_t q, int dev) {
  const void *p = lm_stage(t, dt, g, q, dev);
  if (!p || mxc_align_of(p) >= 16 || t->size == 0) return p;
  size_t bytes = (size_t)t->size * (size_t)mx_dtype_size(dt);
  void *c = g.alloc(bytes);
  if (!c) return nullptr;
  cudaError_t e = cudaMemcpyAsync(c, p, bytes, cudaMemcpyDeviceToDevice, q);
  if (e != cudaSuccess)
    return mx_fail(MX_ERUNTIME, "[quantized_matmul] CUDA error: %s", cudaGetErrorString(e));
  return c;
}

/* The shared driver of QuantizedMatmul and GatherQMM (lhs/rhs: device uint32 indices). */
static int q_drive(const mx_kernel_ctx *ctx, const mx_tensor *x, const mx_tensor *w,
                   const mx_tensor *scales, const mx_tensor *biases, const uint32_t *lhs,
                   const uint32_t *rhs, int64_t nmat, mx_tensor *out, int bits, int gs,
                   int mode, bool transpose) {
  cudaStream_t q = (cudaStream_t)ctx->queue;
  int dev = ctx->device_index;
  const int K = x->shape[x->ndim - 1];
  const int M = x->ndim > 1 ? x->shape[x->ndim - 2] : 1;
  const int N = out->shape[out->ndim - 1];
  if (gs % 16 != 0 || (transpose ? K : N) % 32 != 0)
    return mx_fail_int(MX_EINVAL,
                       "[quantized_matmul] CUDA needs the group size a multiple of 16 and the "
                       "packed dimension a multiple of 32 (K=%d, N=%d, group_size=%d).",
                       K, N, gs);
  mx_dtype t = out->dtype;
  if (t != MX_FLOAT32 && t != MX_FLOAT16 && t != MX_BFLOAT16) t = MX_FLOAT32;
  mxc_scratch_guard gx(q), gw(q), gs_(q), gb(q), go(q), gt(q);
  const void *xd = q_stage_aligned(x, t, gx, q, dev);
  const uint32_t *wd = xd ? (const uint32_t *)q_stage_aligned(w, MX_UINT32, gw, q, dev) : nullptr;
  if (!wd) return -1;
  /* affine scales and biases: x's dtype when they have it, else float32 */
  mx_dtype sdt = mode != MX_QMODE_AFFINE ? MX_UINT8 : scales->dtype == t ? t : MX_FLOAT32;
  if (mode == MX_QMODE_AFFINE && biases->dtype != sdt) sdt = MX_FLOAT32;
  const void *scd = lm_stage(scales, sdt, gs_, q, dev);
  const void *bid = nullptr;
  if (!scd) return -1;
  if (mode == MX_QMODE_AFFINE && !(bid = lm_stage(biases, sdt, gb, q, dev))) return -1;
  void *od = out->data;
  if (t != out->dtype || mxc_align_of(od) < 2) {
    od = go.alloc((size_t)out->size * (size_t)mx_dtype_size(t));
    if (!od) return -1;
  }
  q_job j;
  j.dev = dev;
  j.q = q;
  j.mode = mode;
  j.bits = bits;
  j.t = t;
  j.g.x = xd;
  j.g.w = wd;
  j.g.sc = scd;
  j.g.bi = bid;
  j.g.out = od;
  j.g.lhs = lhs;
  j.g.rhs = rhs;
  j.g.nx = q_batches(x) > 0 ? q_batches(x) : 1;
  j.g.nw = q_batches(w);
  j.g.M = M;
  j.g.N = N;
  j.g.K = K;
  j.g.gs = gs;
  j.g.gsh = (gs & (gs - 1)) == 0 ? __builtin_ctz((unsigned)gs) : -1;
  j.g.sdt = sdt;
  j.g.w_batched = w->ndim > 2;
  const int rows = transpose ? N : K, rl = transpose ? K : N;
  const int64_t wmat = (int64_t)rows * rl / 32 * bits, gmat = (int64_t)rows * rl / gs;
  const size_t es = (size_t)mx_dtype_size(t);
  int rc = 0;
  const bool whole = gs % 32 == 0;
  const qmma_args qa = {xd, wd, scd, bid, od, lhs, rhs, j.g.nx, j.g.nw, nmat,
                        M,  N,  K,   gs,  w->ndim > 2, t};
  if (mode == MX_QMODE_AFFINE && bits == 4 && sdt == t && transpose && M <= QMM_SMALL_M &&
      mx_cuda_qmma_gemv_fits(&qa)) {
    rc = mx_cuda_qmma_gemv(&qa, q);
  } else if (mode == MX_QMODE_AFFINE && bits == 4 && sdt == t && transpose &&
             mx_cuda_qmma_gemm_fits(&qa, dev)) {
    rc = mx_cuda_qmma_gemm(&qa, q, dev);
  } else if (transpose && M <= QMM_SMALL_M && nmat <= 65535 && whole == (mode != MX_QMODE_NVFP4)) {
    rc = q_dispatch(j, true, nmat, nullptr, nullptr, nullptr, nullptr, 0);
  } else {
    /* unpack each needed weight matrix into scratch, then one GEMM per product */
    uint32_t *hl = nullptr, *hr = nullptr;
    if (lhs) {
      hl = (uint32_t *)malloc(sizeof(uint32_t) * (size_t)nmat * 2);
      if (!hl) return mx_fail_int(MX_ENOMEM, "[malloc] Unable to allocate.");
      hr = hl + nmat;
      cudaError_t e = cudaMemcpyAsync(hl, lhs, sizeof(uint32_t) * nmat, cudaMemcpyDeviceToHost, q);
      if (e == cudaSuccess)
        e = cudaMemcpyAsync(hr, rhs, sizeof(uint32_t) * nmat, cudaMemcpyDeviceToHost, q);
      if (e == cudaSuccess) e = cudaStreamSynchronize(q);
      if (e != cudaSuccess) {
        free(hl);
        return mx_fail_int(MX_ERUNTIME, "[gather_qmm] CUDA error: %s", cudaGetErrorString(e));
      }
    }
    int64_t ch = QMM_CHUNK_BYTES / ((int64_t)rl * (int64_t)es);
    ch = ch < 256 ? 256 : ch / 128 * 128;
    if (ch > rows || !transpose) ch = rows; /* K chunks would round partial sums to T */
    void *tile = gt.alloc((size_t)ch * rl * es);
    int64_t have = -1;
    for (int64_t i = 0; i < nmat && rc == 0 && tile; i++) {
      int64_t xi = hl ? hl[i] : i, wi = hr ? hr[i] : (w->ndim > 2 ? i : 0);
      if (xi >= j.g.nx) xi = j.g.nx - 1;
      if (wi >= j.g.nw) wi = j.g.nw - 1;
      const char *xm = (const char *)xd + xi * (int64_t)M * K * es;
      char *om = (char *)od + i * (int64_t)M * N * es;
      for (int64_t r0 = 0; r0 < rows && rc == 0; r0 += ch) {
        int64_t nr = rows - r0 < ch ? rows - r0 : ch;
        if (!(ch == rows && wi == have)) {
          int64_t gofs = wi * gmat + r0 * (rl / gs);
          const char *sb = (const char *)scd + gofs * mx_dtype_size(sdt);
          const char *bb = bid ? (const char *)bid + gofs * mx_dtype_size(sdt) : nullptr;
          rc = q_dispatch(j, false, 0, wd + wi * wmat + r0 * (rl / 32) * bits, sb, bb, tile,
                          nr * rl / 32);
          have = wi;
        }
        if (rc != 0) break;
        if (transpose) /* out[:, r0:r0+nr] = x @ W[r0:r0+nr]^T */
          rc = mx_cuda_gemm(dev, t, xm, false, K, tile, true, K, om + r0 * es, N, false, M, nr,
                            K, q);
        else /* out (+)= x[:, r0:r0+nr] @ W[r0:r0+nr] */
          rc = mx_cuda_gemm(dev, t, xm + r0 * es, false, K, tile, false, N, om, N, r0 > 0, M, N,
                            nr, q);
      }
    }
    free(hl);
    if (!tile) rc = -1;
  }
  if (rc == 0 && od != out->data)
    rc = mx_cuda_convert(od, t, out->data, out->dtype, out->size, q, dev);
  return rc;
}

int mx_cuda_quantized_matmul(const mx_kernel_ctx *ctx, const mx_tensor *in, int n_in,
                             mx_tensor *out, int n_out) {
  (void)n_out;
  const mx_p_quantized_matmul *p = (const mx_p_quantized_matmul *)ctx->params;
  if (out->size == 0) return 0;
  const mx_tensor *x = &in[0];
  int K = x->shape[x->ndim - 1], M = x->ndim > 1 ? x->shape[x->ndim - 2] : 1;
  if (K == 0) {
    MX_CUDA_CHECK("quantized_matmul",
                  cudaMemsetAsync(out->data, 0, (size_t)out->size * mx_dtype_size(out->dtype),
                                  (cudaStream_t)ctx->queue));
    return 0;
  }
  int64_t nmat = x->size / ((int64_t)K * M);
  return q_drive(ctx, x, &in[1], &in[2], n_in > 3 ? &in[3] : nullptr, nullptr, nullptr, nmat,
                 out, p->bits, p->group_size, p->mode, p->transpose);
}

int mx_cuda_gather_qmm(const mx_kernel_ctx *ctx, const mx_tensor *in, int n_in, mx_tensor *out,
                       int n_out) {
  (void)n_out;
  const mx_p_gather_qmm *p = (const mx_p_gather_qmm *)ctx->params;
  if (out->size == 0) return 0;
  cudaStream_t q = (cudaStream_t)ctx->queue;
  int dev = ctx->device_index;
  const mx_tensor *li = &in[n_in - 2], *ri = &in[n_in - 1];
  const mx_tensor *x = &in[0];
  if (x->shape[x->ndim - 1] == 0) {
    MX_CUDA_CHECK("gather_qmm",
                  cudaMemsetAsync(out->data, 0, (size_t)out->size * mx_dtype_size(out->dtype), q));
    return 0;
  }
  mxc_scratch_guard gl(q), gr(q);
  const uint32_t *lhs = (const uint32_t *)lm_stage(li, MX_UINT32, gl, q, dev);
  const uint32_t *rhs = lhs ? (const uint32_t *)lm_stage(ri, MX_UINT32, gr, q, dev) : nullptr;
  if (!rhs) return -1;
  return q_drive(ctx, x, &in[1], &in[2], p->mode == MX_QMODE_AFFINE ? &in[3] : nullptr, lhs, rhs,
                 li->size, out, p->bits, p->group_size, p->mode, p->transpose);
}

/* ---- Quantize: one thread per group ---- */

__global__ void __launch_bounds__(256) q_quantize_k(const float *w, int wt, uint32_t *wq,
                                                    void *scales, void *biases, int st, int gs,
                                                    int bits, int mode, const float *gscale,
                                                    int64_t groups) {
  for (int64_t g = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; g < groups;
       g += (int64_t)gridDim.x * blockDim.x) {
    const float *wg = w + g * gs;
    float scale = 1.0f, bias = 0.0f, div = 1.0f, post = 1.0f;
    if (mode == MX_QMODE_AFFINE) {
      float wmin = INFINITY, wmax = -INFINITY;
      for (int i = 0; i < gs; i++) {
        wmax = wg[i] > wmax ? wg[i] : wmax;
        wmin = wg[i] < wmin ? wg[i] : wmin;
      }
      mx_q_affine_params(wmin, wmax, bits, &scale, &bias);
      lm_stf(scales, st, g, scale);
      lm_stf(biases, st, g, bias);
    } else {
      float amax = 0.0f;
      for (int i = 0; i < gs; i++) amax = fabsf(wg[i]) > amax ? fabsf(wg[i]) : amax;
      float sc = lm_round(__fdiv_rn(amax, mode == MX_QMODE_MXFP8 ? 448.0f : 6.0f), wt);
      uint8_t sb;
      if (mode == MX_QMODE_NVFP4) {
        float enc = gscale ? __fdiv_rn(448.0f * 6.0f, gscale[0]) : 0.0f;
        sb = mx_q_to_fp8(enc > 0.0f ? __fmul_rn(sc, enc) : sc);
        div = lm_round(mx_q_from_fp8(sb), wt);
        if (enc > 0.0f) post = enc;
      } else {
        sb = mx_q_e8m0_encode(sc);
        div = lm_round(ldexpf(1.0f, (int)sb - 127), wt);
      }
      ((uint8_t *)scales)[g] = sb;
    }
    uint32_t *out = wq + g * (int64_t)gs * bits / 32;
    uint64_t acc = 0;
    int have = 0;
    for (int i = 0; i < gs; i++) {
      uint32_t c;
      if (mode == MX_QMODE_AFFINE) {
        c = mx_q_affine_code(wg[i], scale, bias, bits);
      } else {
        float qv = lm_round(__fdiv_rn(wg[i], div), wt);
        if (post != 1.0f) qv = __fmul_rn(qv, post);
        c = mode == MX_QMODE_MXFP8 ? mx_q_to_fp8(qv) : mx_q_e2m1_nearest(qv);
      }
      acc |= (uint64_t)c << have;
      have += bits;
      if (have >= 32) {
        *out++ = (uint32_t)acc;
        acc >>= 32;
        have -= 32;
      }
    }
  }
}

int mx_cuda_quantize(const mx_kernel_ctx *ctx, const mx_tensor *in, int n_in, mx_tensor *out,
                     int n_out) {
  const mx_p_quantize *p = (const mx_p_quantize *)ctx->params;
  if (p->group_size > 128)
    return mx_fail_int(MX_EINVAL, "[quantize] Group size %d is too large.", p->group_size);
  if (in[0].size == 0) return 0;
  cudaStream_t q = (cudaStream_t)ctx->queue;
  int dev = ctx->device_index;
  mxc_scratch_guard gw(q), gg(q);
  const float *w = (const float *)lm_stage(&in[0], MX_FLOAT32, gw, q, dev);
  if (!w) return -1;
  const float *gsc = nullptr;
  if (n_in > 1 && !(gsc = (const float *)lm_stage(&in[1], MX_FLOAT32, gg, q, dev))) return -1;
  int64_t groups = in[0].size / p->group_size;
  q_quantize_k<<<mxc_blocks(groups, 256, dev), 256, 0, q>>>(
      w, in[0].dtype, (uint32_t *)out[0].data, out[1].data, n_out > 2 ? out[2].data : nullptr,
      out[1].dtype, p->group_size, p->bits, p->mode, gsc, groups);
  MX_CUDA_CHECK_LAUNCH("quantize");
  return 0;
}

/* ---- Dequantize: one thread per group, MLX's rounding steps ---- */

__global__ void __launch_bounds__(256) q_dequantize_k(const uint32_t *w, const void *sc,
                                                      const void *bi, int sdt, int bdt, int ct,
                                                      void *out, int ot, int gs, int bits,
                                                      int mode, const float *gptr,
                                                      int64_t groups) {
  const uint32_t mask = (1u << bits) - 1u;
  const int64_t wpg = (int64_t)gs * bits / 32;
  for (int64_t g = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; g < groups;
       g += (int64_t)gridDim.x * blockDim.x) {
    const uint32_t *wp = w + g * wpg;
    float s = 1.0f, b = 0.0f;
    double sd = 0.0, bd = 0.0;
    if (mode == MX_QMODE_AFFINE) {
      s = lm_ldf(sc, sdt, g); /* float32 group parameters, as the CPU kernel */
      b = lm_ldf(bi, bdt, g);
      sd = s;
      bd = b;
    } else {
      uint8_t sb = ((const uint8_t *)sc)[g];
      if (mode == MX_QMODE_NVFP4) {
        s = mx_q_from_fp8(sb);
        if (gptr) s = __fmul_rn(s, __fdiv_rn(gptr[0], 448.0f * 6.0f));
      } else {
        s = mx_q_e8m0_value(sb);
      }
    }
    uint64_t acc = 0;
    int have = 0;
    for (int i = 0; i < gs; i++) {
      if (have < bits) {
        acc |= (uint64_t)(*wp++) << have;
        have += 32;
      }
      uint32_t c = (uint32_t)acc & mask;
      acc >>= bits;
      have -= bits;
      int64_t e = g * gs + i;
      if (mode == MX_QMODE_AFFINE && ct == MX_FLOAT64) {
        double v = __dadd_rn(__dmul_rn((double)c, sd), bd);
        if (ot == MX_FLOAT64) ((double *)out)[e] = v;
        else lm_stf(out, ot, e, (float)v);
        continue;
      }
      float v;
      if (mode == MX_QMODE_AFFINE)
        v = lm_round(__fadd_rn(lm_round(__fmul_rn((float)c, s), ct), b), ct);
      else if (mode == MX_QMODE_MXFP8)
        v = __fmul_rn(lm_round(mx_q_from_fp8((uint8_t)c), ot), s);
      else
        v = __fmul_rn(mx_q_e2m1_value(c), s);
      lm_stf(out, ot, e, v);
    }
  }
}

int mx_cuda_dequantize(const mx_kernel_ctx *ctx, const mx_tensor *in, int n_in, mx_tensor *out,
                       int n_out) {
  (void)n_out;
  const mx_p_dequantize *p = (const mx_p_dequantize *)ctx->params;
  if (out->size == 0) return 0;
  if (p->group_size > 128)
    return mx_fail_int(MX_EINVAL, "[dequantize] Group size %d is too large.", p->group_size);
  cudaStream_t q = (cudaStream_t)ctx->queue;
  int dev = ctx->device_index;
  mxc_scratch_guard gw(q), gs_(q), gb(q), gg(q);
  const uint32_t *w = (const uint32_t *)lm_stage(&in[0], MX_UINT32, gw, q, dev);
  if (!w) return -1;
  bool affine = p->mode == MX_QMODE_AFFINE;
  const void *sc = lm_stage(&in[1], in[1].dtype, gs_, q, dev);
  const void *bi = nullptr;
  if (!sc) return -1;
  if (affine && !(bi = lm_stage(&in[2], in[2].dtype, gb, q, dev))) return -1;
  const float *gptr = nullptr;
  if (p->mode == MX_QMODE_NVFP4 && n_in > 2 &&
      !(gptr = (const float *)lm_stage(&in[2], MX_FLOAT32, gg, q, dev)))
    return -1;
  int ct = affine ? mx_promote_types(in[1].dtype, in[2].dtype) : MX_FLOAT32;
  int64_t groups = out->size / p->group_size;
  q_dequantize_k<<<mxc_blocks(groups, 256, dev), 256, 0, q>>>(
      w, sc, bi, in[1].dtype, affine ? in[2].dtype : MX_FLOAT32, ct, out->data, out->dtype,
      p->group_size, p->bits, p->mode, gptr, groups);
  MX_CUDA_CHECK_LAUNCH("dequantize");
  return 0;
}

int mx_cuda_dequantize_fp_f32(const uint32_t *w, const uint8_t *sc, const float *gsc,
                              float *out, int64_t groups, int gs, int bits, int mode,
                              cudaStream_t q, int dev) {
  if (groups == 0) return 0;
  q_dequantize_k<<<mxc_blocks(groups, 256, dev), 256, 0, q>>>(
      w, sc, nullptr, MX_UINT8, MX_FLOAT32, MX_FLOAT32, out, MX_FLOAT32, gs, bits, mode, gsc,
      groups);
  MX_CUDA_CHECK_LAUNCH("dequantize");
  return 0;
}

/* ---- ToFP8 / FromFP8 ---- */

__global__ void __launch_bounds__(256) q_to_fp8_k(const float *x, uint8_t *y, int64_t n) {
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
       i += (int64_t)gridDim.x * blockDim.x)
    y[i] = mx_q_to_fp8(x[i]);
}

__global__ void __launch_bounds__(256) q_from_fp8_k(const uint8_t *x, void *y, int ot, int64_t n) {
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
       i += (int64_t)gridDim.x * blockDim.x)
    lm_stf(y, ot, i, mx_q_from_fp8(x[i]));
}

int mx_cuda_to_fp8(const mx_kernel_ctx *ctx, const mx_tensor *in, int n_in, mx_tensor *out,
                   int n_out) {
  (void)n_in;
  (void)n_out;
  if (out->size == 0) return 0;
  cudaStream_t q = (cudaStream_t)ctx->queue;
  mxc_scratch_guard g(q);
  const float *x = (const float *)lm_stage(&in[0], MX_FLOAT32, g, q, ctx->device_index);
  if (!x) return -1;
  q_to_fp8_k<<<mxc_blocks(out->size, 256, ctx->device_index), 256, 0, q>>>(
      x, (uint8_t *)out->data, out->size);
  MX_CUDA_CHECK_LAUNCH("to_fp8");
  return 0;
}

int mx_cuda_from_fp8(const mx_kernel_ctx *ctx, const mx_tensor *in, int n_in, mx_tensor *out,
                     int n_out) {
  (void)n_in;
  (void)n_out;
  if (out->size == 0) return 0;
  cudaStream_t q = (cudaStream_t)ctx->queue;
  mxc_scratch_guard g(q);
  const uint8_t *x = (const uint8_t *)lm_stage(&in[0], MX_UINT8, g, q, ctx->device_index);
  if (!x) return -1;
  q_from_fp8_k<<<mxc_blocks(out->size, 256, ctx->device_index), 256, 0, q>>>(
      x, out->data, out->dtype, out->size);
  MX_CUDA_CHECK_LAUNCH("from_fp8");
  return 0;
}
