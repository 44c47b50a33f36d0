/* qmma_fragments.cuh: the 4-bit tensor-core steps every quantized kernel shares (the GEMV and
 * Hopper GEMM of quantized_mma.cuh, benchmarks/qmm_workbench.cu's variants): packed words into
 * mma A fragments, and the 16-row GEMV block's reduction and store. H is a dtype trait with
 * MAGIC (the pair (2^E, 2^E) whose low mantissa bits take a code) and dq((MAGIC + c, MAGIC +
 * c'), s2, b2) = (s c + b, s c' + b). Depends only on the CUDA headers. */
#ifndef MX_CUDA_QMMA_FRAGMENTS_CUH
#define MX_CUDA_QMMA_FRAGMENTS_CUH

#include <cuda_runtime.h>
#include <stdint.h>

/* The low nibbles of v's two halves as the pair (MAGIC + c, MAGIC + c'): one lop3, (v & mask) |
 * MAGIC, which the compiler writes as two. */
template <class H>
__device__ __forceinline__ uint32_t qmma_codes(uint32_t v) {
  uint32_t r;
  asm("lop3.b32 %0, %1, %2, %3, 0xEA;" : "=r"(r) : "r"(v), "n"(0x000F000F), "n"(H::MAGIC));
  return r;
}

/* Word i of a lane's 16-byte units of rows g (wa) and g + 8 (wb) as the A fragments of two
 * k16 steps: its code pairs (c_p, c_p+4) dequantized (scale and bias pairs s, b of each row),
 * f0 = pairs 0 and 1, f1 = pairs 2 and 3; x meets them as (x0,x4) (x1,x5) | (x2,x6) (x3,x7). */
template <class H>
__device__ __forceinline__ void qmma_fragments(uint32_t wa, uint32_t wb, uint32_t sa, uint32_t ba,
                                               uint32_t sb, uint32_t bb, uint32_t (&f0)[4],
                                               uint32_t (&f1)[4]) {
  uint32_t pa[4], pb[4];
#pragma unroll
  for (int p = 0; p < 4; p++) {
    pa[p] = H::dq(qmma_codes<H>(wa >> (4 * p)), sa, ba);
    pb[p] = H::dq(qmma_codes<H>(wb >> (4 * p)), sb, bb);
  }
  f0[0] = pa[0];
  f0[1] = pb[0];
  f0[2] = pa[1];
  f0[3] = pb[1];
  f1[0] = pa[2];
  f1[1] = pb[2];
  f1[2] = pa[3];
  f1[3] = pb[3];
}

/* The end of a 16-row GEMV block of S warps: each warp's mma sums acc (lane (g, t): rows g,
 * g + 8 by columns 2t, 2t + 1, the block's 16 weight rows by 8 rows of x) added through red,
 * then store(m, n, sum) for every m < M, n = n0 + row < N. Every thread of the block calls it. */
template <int S, class Store>
__device__ __forceinline__ void qmma_store16(float (&red)[S][16][8], const float (&acc)[4], int M,
                                             int N, int n0, Store store) {
  const int warp = threadIdx.x >> 5, g = (threadIdx.x & 31) >> 2, t = threadIdx.x & 3;
  red[warp][g][2 * t] = acc[0];
  red[warp][g][2 * t + 1] = acc[1];
  red[warp][g + 8][2 * t] = acc[2];
  red[warp][g + 8][2 * t + 1] = acc[3];
  __syncthreads();
  for (int e = threadIdx.x; e < 128; e += 32 * S) {
    const int row = e >> 3, m = e & 7, n = n0 + row;
    if (m >= M || n >= N) continue;
    float s = 0.0f;
#pragma unroll
    for (int w = 0; w < S; w++) s += red[w][row][m];
    store(m, n, s);
  }
}

#endif
