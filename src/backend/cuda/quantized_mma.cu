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
 * read in the same order: (x0,x4) (x1,x5) for the first product, (x2,x6) (x3,x7) for the
 * second. PREFETCH: the next step's loads are issued before the current step's arithmetic. */
struct qmma_step {
  uint4 w[2], x[4]; /* codes of rows g and g + 8; 32 values of x */
  uint32_t s[2], b[2]; /* (s, s) and (b, b) of the two rows */
};

template <class H, int S, bool PREFETCH>
__global__ void __launch_bounds__(32 * S) qmma_gemv_k(const qmma_args a, int gsh) {
  typedef typename H::L::S T;
  __shared__ float red[S][16][8];
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, g = lane >> 2, t = lane & 3;
  const int n0 = blockIdx.x * 16;
  const int KW = a.K / 8, G = a.K / a.gs, nst = (a.K + 127) / 128;
  int64_t xi, wi;
  qmma_indices(a, blockIdx.y, &xi, &wi);
  const uint32_t *wr[2];
  const uint16_t *sr[2], *br[2];
#pragma unroll
  for (int h = 0; h < 2; h++) {
    const int row = n0 + 8 * h + g;
    const int64_t grow = wi * a.N + (row < a.N ? row : a.N - 1);
    wr[h] = a.w + grow * KW;
    sr[h] = (const uint16_t *)a.sc + grow * G;
    br[h] = (const uint16_t *)a.bi + grow * G;
  }
  const T *xr = (const T *)a.x + (xi * a.M + (g < a.M ? g : a.M - 1)) * (int64_t)a.K;
  auto load = [&](qmma_step &B, int st) {
    const int k0 = st * 128 + 32 * t;
    const bool ok = k0 < a.K; /* K is a multiple of 32 */
    const int gi = qmma_group(k0, a.gs, gsh);
#pragma unroll
    for (int h = 0; h < 2; h++) {
      B.w[h] = ok ? *(const uint4 *)(wr[h] + k0 / 8) : make_uint4(0, 0, 0, 0);
      B.s[h] = ok ? qmma_dup(sr[h][gi]) : 0u;
      B.b[h] = ok ? qmma_dup(br[h][gi]) : 0u;
    }
#pragma unroll
    for (int i = 0; i < 4; i++)
      B.x[i] = ok ? *(const uint4 *)(xr + k0 + 8 * i) : make_uint4(0, 0, 0, 0);
  };
  float acc[4] = {0.0f, 0.0f, 0.0f, 0.0f};
  auto compute = [&](const qmma_step &B) {
#pragma unroll
    for (int i = 0; i < 4; i++) {
      const uint4 xq = B.x[i];
      const uint32_t xb0 = __byte_perm(xq.x, xq.z, 0x5410), xb1 = __byte_perm(xq.x, xq.z, 0x7632);
      const uint32_t xb2 = __byte_perm(xq.y, xq.w, 0x5410), xb3 = __byte_perm(xq.y, xq.w, 0x7632);
      const uint32_t wa = i == 0 ? B.w[0].x : i == 1 ? B.w[0].y : i == 2 ? B.w[0].z : B.w[0].w;
      const uint32_t wb = i == 0 ? B.w[1].x : i == 1 ? B.w[1].y : i == 2 ? B.w[1].z : B.w[1].w;
      uint32_t f0[4], f1[4];
      qmma_fragments<H>(wa, wb, B.s[0], B.b[0], B.s[1], B.b[1], f0, f1);
      H::mma(acc, f0, xb0, xb1);
      H::mma(acc, f1, xb2, xb3);
    }
  };
  qmma_step A, B;
  int st = warp;
  if constexpr (PREFETCH) {
    if (st < nst) load(A, st);
    while (st < nst) { /* two register sets in turn: load one while the other is used */
      if (st + S < nst) load(B, st + S);
      compute(A);
      st += S;
      if (st >= nst) break;
      if (st + S < nst) load(A, st + S);
      compute(B);
      st += S;
    }
  } else {
    for (; st < nst; st += S) { /* one register set: more warps resident hide the loads */
      load(A, st);
      compute(A);
    }
  }
  red[warp][g][2 * t] = acc[0];
  red[warp][g][2 * t + 1] = acc[1];
  red[warp][g + 8][2 * t] = acc[2];
  red[warp][g + 8][2 * t + 1] = acc[3];
  __syncthreads();
  for (int e = threadIdx.x; e < 128; e += 32 * S) {
    const int row = e >> 3, m = e & 7, n = n0 + row;
    if (m >= a.M || n >= a.N) continue;
    float s = 0.0f;
#pragma unroll
    for (int w = 0; w < S; w++) s += red[w][row][m];
    ((T *)a.out)[((int64_t)blockIdx.y * a.M + m) * a.N + n] = H::L::sv(s);
  }
}

/* ---- dispatch ---- */

static int qmma_gsh(int gs) { return (gs & (gs - 1)) == 0 ? __builtin_ctz((unsigned)gs) : -1; }

bool mx_cuda_qmma_gemv_fits(const qmma_args *a) {
  return (a->t == MX_FLOAT16 || a->t == MX_BFLOAT16) && a->gs % 32 == 0 && a->K % 32 == 0 &&
         a->N > 0 && a->M > 0 && a->M <= 8 && a->nmat >= 1 && a->nmat <= 65535 &&
         mxc_align_of(a->x) >= 16 && mxc_align_of(a->w) >= 16;
}

template <class H>
static void qmma_gemv_launch(const qmma_args *a, cudaStream_t q) {
  dim3 grid((unsigned)((a->N + 15) / 16), (unsigned)a->nmat);
  /* few blocks (N small against K): 8 warps split K, each with the next step's loads in
   * flight; else 4 warps, a step at a time, so more blocks stay resident (qmm_workbench.cu,
   * D1 against D3: (1, 4096) x (14336, 4096) 16.2 against 19.8 us on the H100) */
  if ((int64_t)grid.x * grid.y < 512)
    qmma_gemv_k<H, 8, true><<<grid, 256, 0, q>>>(*a, qmma_gsh(a->gs));
  else
    qmma_gemv_k<H, 4, false><<<grid, 128, 0, q>>>(*a, qmma_gsh(a->gs));
}

int mx_cuda_qmma_gemv(const qmma_args *a, cudaStream_t q) {
  if (a->t == MX_BFLOAT16) qmma_gemv_launch<qmma_bf16>(a, q);
  else qmma_gemv_launch<qmma_f16>(a, q);
  MX_CUDA_CHECK_LAUNCH("quantized_matmul");
  return 0;
}
