/* quantized_mma.cu: the tensor-core GEMV of QuantizedMatmul and GatherQMM for 4-bit affine
 * weights with float16/bfloat16 x, scales and biases and up to 8 rows of x (mma.m16n8k16,
 * float32 accumulation; a weight is dequantized as s * code + b rounded once to x's dtype).
 * Depends on quantized_mma.cuh. */
#include "quantized_mma.cuh"

/* ---- GEMV: out[i, m, n] for m < M <= 8 ----
 * A block owns 16 weight rows; its S warps take every S-th 128-wide k step and add their
 * partial sums through shared memory. In a step lane (g, t) loads 32 codes (16 bytes) of rows
 * g and g + 8 at k = 128 st + 32 t and dequantizes them as the A operand; a word's codes become
 * the pairs (c0,c4) (c1,c5) (c2,c6) (c3,c7), so x (the B operand, its row g as column g) is
 * taken in the same order: (x0,x4) (x1,x5) for the first product, (x2,x6) (x3,x7) for the
 * second. The packed weights are the only global loads of the main loop, issued one step
 * ahead: before it the block stores its rows' scales and biases in shared memory as words
 * (s | b << 16), row stride G + QS so that the 8 rows of a load fall in distinct banks, and,
 * when XS, x in the order the B fragments take it (16-byte chunk c = 16 st + 4 t + i of a row
 * at 16 st + 4 i + t, halves reordered to (x0,x4,x1,x5,x2,x6,x3,x7)), so one conflict-free
 * 16-byte load gives a lane both products' B; else x is read from global memory in each step.
 * The two products of a word accumulate in two register sets (two mma chains). On the H100,
 * (1, 4096) x (14336, 4096) bf16 g64: 12.9 us in benchmarks/gpu_lm.py (85% of the bandwidth
 * bound); with the scales read from global memory in each step (qmm_workbench.cu D1 against
 * D9) it took 16.6 against 14.1-14.7 us: each 2-byte scale load touched 8 cache lines. */
__host__ __device__ static int qmma_qs(int gs) { return gs < 128 ? 128 / gs : 1; }

template <class H, int S, bool XS>
__global__ void __launch_bounds__(32 * S) qmma_gemv_k(const qmma_args a, int gsh, bool sbvec) {
  typedef typename H::L::S T;
  extern __shared__ uint4 qmma_smem[];
  __shared__ float red[S][16][8];
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, g = lane >> 2, t = lane & 3;
  const int n0 = blockIdx.x * 16;
  const int KW = a.K / 8, G = a.K / a.gs, nst = (a.K + 127) / 128, GP = G + qmma_qs(a.gs);
  const int KC = nst * 16; /* 16-byte chunks of a stored row of x */
  int64_t xi, wi;
  qmma_indices(a, blockIdx.y, &xi, &wi);
  uint4 *xs = qmma_smem;
  uint32_t *sbs = (uint32_t *)(qmma_smem + (XS ? a.M * KC : 0));
  const uint32_t *wr[2];
#pragma unroll
  for (int h = 0; h < 2; h++) {
    const int row = n0 + 8 * h + g;
    wr[h] = a.w + (wi * a.N + (row < a.N ? row : a.N - 1)) * (int64_t)KW;
  }
  uint4 R[2][2]; /* two register sets in turn: one step's words in use, the next's in flight */
  auto load = [&](uint4 (&W)[2], int st) {
    const int k0 = st * 128 + 32 * t;
    if (st < nst) {
#pragma unroll
      for (int h = 0; h < 2; h++)
        W[h] = k0 < a.K ? *(const uint4 *)(wr[h] + k0 / 8) : make_uint4(0, 0, 0, 0);
    }
  };
  load(R[0], warp);
  const T *xg = (const T *)a.x + xi * a.M * (int64_t)a.K;
  if constexpr (XS) {
    for (int c = threadIdx.x; c < a.M * KC; c += 32 * S) {
      const int m = c / KC, cc = c % KC;
      const uint4 v = cc * 8 < a.K ? *(const uint4 *)(xg + (int64_t)m * a.K + cc * 8)
                                   : make_uint4(0, 0, 0, 0);
      const int d = (cc & ~15) | ((cc & 3) << 2) | ((cc >> 2) & 3);
      xs[m * KC + d] = make_uint4(__byte_perm(v.x, v.z, 0x5410), __byte_perm(v.x, v.z, 0x7632),
                                  __byte_perm(v.y, v.w, 0x5410), __byte_perm(v.y, v.w, 0x7632));
    }
  }
  const uint16_t *sc = (const uint16_t *)a.sc, *bi = (const uint16_t *)a.bi;
  const int64_t r0 = wi * a.N;
  if (sbvec) { /* G % 8 == 0, scales and biases 16-byte aligned */
    for (int c = threadIdx.x; c < 16 * (G / 8); c += 32 * S) {
      const int r = c / (G / 8), j = c % (G / 8);
      const int64_t row = r0 + (n0 + r < a.N ? n0 + r : a.N - 1);
      const uint4 sv = ((const uint4 *)(sc + row * G))[j], bv = ((const uint4 *)(bi + row * G))[j];
      uint32_t *o = sbs + r * GP + 8 * j;
      const uint32_t s4[4] = {sv.x, sv.y, sv.z, sv.w}, b4[4] = {bv.x, bv.y, bv.z, bv.w};
#pragma unroll
      for (int q = 0; q < 4; q++) {
        o[2 * q] = __byte_perm(s4[q], b4[q], 0x5410);
        o[2 * q + 1] = __byte_perm(s4[q], b4[q], 0x7632);
      }
    }
  } else {
    for (int e = threadIdx.x; e < 16 * G; e += 32 * S) {
      const int r = e / G, j = e % G;
      const int64_t row = r0 + (n0 + r < a.N ? n0 + r : a.N - 1);
      sbs[r * GP + j] = (uint32_t)sc[row * G + j] | ((uint32_t)bi[row * G + j] << 16);
    }
  }
  __syncthreads();
  const int xrow = g < a.M ? g : a.M - 1;
  const uint4 *xr = xs + xrow * KC + t;
  const T *xgr = xg + (int64_t)xrow * a.K;
  const uint32_t *sb0 = sbs + g * GP, *sb1 = sbs + (g + 8) * GP;
  float acc[4] = {0.0f, 0.0f, 0.0f, 0.0f}, acc2[4] = {0.0f, 0.0f, 0.0f, 0.0f}; /* two mma chains */
  auto compute = [&](const uint4 (&W)[2], int st) {
    const int k0 = st * 128 + 32 * t;
    const bool ok = k0 < a.K; /* K is a multiple of 32 */
    const int gi = qmma_group(k0, a.gs, gsh);
    const uint32_t p0 = ok ? sb0[gi] : 0u, p1 = ok ? sb1[gi] : 0u;
    const uint32_t sa = __byte_perm(p0, 0, 0x1010), ba = __byte_perm(p0, 0, 0x3232);
    const uint32_t sb = __byte_perm(p1, 0, 0x1010), bb = __byte_perm(p1, 0, 0x3232);
    uint4 xq[4];
    if constexpr (!XS) {
#pragma unroll
      for (int i = 0; i < 4; i++)
        xq[i] = ok ? *(const uint4 *)(xgr + k0 + 8 * i) : make_uint4(0, 0, 0, 0);
    }
#pragma unroll
    for (int i = 0; i < 4; i++) {
      uint32_t xb0, xb1, xb2, xb3;
      if constexpr (XS) {
        const uint4 v = xr[16 * st + 4 * i];
        xb0 = v.x, xb1 = v.y, xb2 = v.z, xb3 = v.w;
      } else {
        xb0 = __byte_perm(xq[i].x, xq[i].z, 0x5410), xb1 = __byte_perm(xq[i].x, xq[i].z, 0x7632);
        xb2 = __byte_perm(xq[i].y, xq[i].w, 0x5410), xb3 = __byte_perm(xq[i].y, xq[i].w, 0x7632);
      }
      const uint32_t wa = i == 0 ? W[0].x : i == 1 ? W[0].y : i == 2 ? W[0].z : W[0].w;
      const uint32_t wb = i == 0 ? W[1].x : i == 1 ? W[1].y : i == 2 ? W[1].z : W[1].w;
      uint32_t f0[4], f1[4];
      qmma_fragments<H>(wa, wb, sa, ba, sb, bb, f0, f1);
      H::mma(acc, f0, xb0, xb1);
      H::mma(acc2, f1, xb2, xb3);
    }
  };
  for (int st = warp; st < nst;) {
    load(R[1], st + S);
    compute(R[0], st);
    st += S;
    if (st >= nst) break;
    load(R[0], st + S);
    compute(R[1], st);
    st += S;
  }
  const float sum[4] = {acc[0] + acc2[0], acc[1] + acc2[1], acc[2] + acc2[2], acc[3] + acc2[3]};
  qmma_store16<S>(red, sum, a.M, a.N, n0, [&](int m, int n, float s) {
    ((T *)a.out)[((int64_t)blockIdx.y * a.M + m) * a.N + n] = H::L::sv(s);
  });
}

/* ---- dispatch ---- */

static int qmma_gsh(int gs) { return (gs & (gs - 1)) == 0 ? __builtin_ctz((unsigned)gs) : -1; }

/* Dynamic shared memory of a block: the scale and bias words, and x when XS. */
static size_t qmma_gemv_smem(const qmma_args *a, bool xs) {
  const size_t sb = (size_t)16 * (a->K / a->gs + qmma_qs(a->gs)) * 4;
  return sb + (xs ? (size_t)a->M * ((a->K + 127) / 128) * 256 : 0);
}

/* x goes to shared memory when it adds at most 16 KB: more would cut the blocks resident per SM
 * (workbench D9, M = 5: x in smem 19.8 us against 16.2 from global memory) */
static bool qmma_gemv_xs(const qmma_args *a) {
  return qmma_gemv_smem(a, true) - qmma_gemv_smem(a, false) <= 16 * 1024;
}

#define QMMA_GEMV_SMEM_MAX (160 * 1024)

bool mx_cuda_qmma_gemv_fits(const qmma_args *a) {
  return (a->t == MX_FLOAT16 || a->t == MX_BFLOAT16) && a->gs % 32 == 0 && a->K % 32 == 0 &&
         a->N > 0 && a->M > 0 && a->M <= 8 && a->nmat >= 1 && a->nmat <= 65535 &&
         mxc_align_of(a->x) >= 16 && mxc_align_of(a->w) >= 16 &&
         qmma_gemv_smem(a, false) <= QMMA_GEMV_SMEM_MAX;
}

template <class H, int S, bool XS>
static int qmma_gemv_go(const qmma_args *a, dim3 grid, cudaStream_t q) {
  const size_t smem = qmma_gemv_smem(a, XS);
  if (smem > 48 * 1024) /* long rows: past the default limit (fits caps it) */
    MX_CUDA_CHECK("quantized_matmul",
                  cudaFuncSetAttribute(qmma_gemv_k<H, S, XS>,
                                       cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem));
  const bool sbvec = (a->K / a->gs) % 8 == 0 && mxc_align_of(a->sc) >= 16 && mxc_align_of(a->bi) >= 16;
  qmma_gemv_k<H, S, XS><<<grid, 32 * S, smem, q>>>(*a, qmma_gsh(a->gs), sbvec);
  MX_CUDA_CHECK_LAUNCH("quantized_matmul");
  return 0;
}

template <class H>
static int qmma_gemv_launch(const qmma_args *a, cudaStream_t q) {
  dim3 grid((unsigned)((a->N + 15) / 16), (unsigned)a->nmat);
  const bool xs = qmma_gemv_xs(a);
  /* few blocks (N small against K): 8 warps split K; else 4, so that more blocks stay resident
   * (workbench D9, (1, 4096) x (14336, 4096): 4 warps 14.1-14.7 us, 8 warps 15.6) */
  if ((int64_t)grid.x * grid.y < 512)
    return xs ? qmma_gemv_go<H, 8, true>(a, grid, q) : qmma_gemv_go<H, 8, false>(a, grid, q);
  return xs ? qmma_gemv_go<H, 4, true>(a, grid, q) : qmma_gemv_go<H, 4, false>(a, grid, q);
}

int mx_cuda_qmma_gemv(const qmma_args *a, cudaStream_t q) {
  return a->t == MX_BFLOAT16 ? qmma_gemv_launch<qmma_bf16>(a, q) : qmma_gemv_launch<qmma_f16>(a, q);
}
