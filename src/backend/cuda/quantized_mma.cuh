/* quantized_mma.cuh: the tensor-core kernels of QuantizedMatmul and GatherQMM for 4-bit
 * affine weights with float16/bfloat16 x, scales and biases: the GEMV (quantized_mma.cu) and
 * the Hopper GEMM (quantized_wgmma.cu), called by quantized.cu; the dtype traits they share.
 * Depends on lm.cuh. */
#ifndef MX_CUDA_QUANTIZED_MMA_CUH
#define MX_CUDA_QUANTIZED_MMA_CUH

#include "lm.cuh"

/* Products out[i] (M x N) = x[xi] (M x K) @ dequantize(w[wi])^T for i < nmat: x (nx x M x K),
 * w (nw x N x K/8 words of 4-bit codes), scales and biases (nw x N x K/gs), all of dtype t
 * except w, row-contiguous and 16-byte aligned (x, w). xi = lhs[i] and wi = rhs[i] when
 * given (device uint32), else xi = i and wi = i or 0 (w_batched); both clamped to nx/nw. */
struct qmma_args {
  const void *x;
  const uint32_t *w;
  const void *sc, *bi;
  void *out;
  const uint32_t *lhs, *rhs;
  int64_t nx, nw, nmat;
  int M, N, K, gs;
  bool w_batched;
  mx_dtype t;
};

/* ---- packed half arithmetic of one dtype: MAGIC is the pair (2^E, 2^E) whose low mantissa
 * bits take a 4-bit code exactly (bf16 128 + c, f16 1024 + c) ---- */

struct qmma_bf16 {
  typedef lm_bf16 L;
  static constexpr uint32_t MAGIC = 0x43004300u;
  /* (MAGIC + c, MAGIC + c') -> (s c + b, s c' + b) */
  __device__ static uint32_t dq(uint32_t h, uint32_t s2, uint32_t b2) {
    uint32_t c, d;
    asm("sub.rn.bf16x2 %0, %1, %2;" : "=r"(c) : "r"(h), "r"(MAGIC));
    asm("fma.rn.bf16x2 %0, %1, %2, %3;" : "=r"(d) : "r"(c), "r"(s2), "r"(b2));
    return d;
  }
  __device__ static void mma(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, "
        "{%8,%9}, {%0,%1,%2,%3};"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
  }
};

struct qmma_f16 {
  typedef lm_f16 L;
  static constexpr uint32_t MAGIC = 0x64006400u;
  __device__ static uint32_t dq(uint32_t h, uint32_t s2, uint32_t b2) {
    uint32_t c, d;
    asm("sub.rn.f16x2 %0, %1, %2;" : "=r"(c) : "r"(h), "r"(MAGIC));
    asm("fma.rn.f16x2 %0, %1, %2, %3;" : "=r"(d) : "r"(c), "r"(s2), "r"(b2));
    return d;
  }
  __device__ static void mma(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, "
        "{%8,%9}, {%0,%1,%2,%3};"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
  }
};

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

/* A 16-bit value v as the pair (v, v). */
__device__ __forceinline__ uint32_t qmma_dup(uint32_t v) { return v | (v << 16); }

__device__ __forceinline__ int qmma_group(int k, int gs, int gsh) {
  return gsh >= 0 ? k >> gsh : k / gs;
}

__device__ __forceinline__ void qmma_indices(const qmma_args &a, int64_t i, int64_t *xi,
                                             int64_t *wi) {
  int64_t x = a.lhs ? (int64_t)a.lhs[i] : i;
  int64_t w = a.rhs ? (int64_t)a.rhs[i] : (a.w_batched ? i : 0);
  *xi = x < a.nx ? x : a.nx - 1;
  *wi = w < a.nw ? w : a.nw - 1;
}

/* The GEMV for M <= 8: false when a's dtype, shapes, group size or alignment are not its own
 * (the caller then takes the general path). mx_cuda_qmma_gemv enqueues on q: 0, or -1 with
 * the error set. */
bool mx_cuda_qmma_gemv_fits(const qmma_args *a);
int mx_cuda_qmma_gemv(const qmma_args *a, cudaStream_t q);

/* The GEMM for more rows of x on a compute capability 9.0 device (wgmma; built only when the
 * CUDA architectures include 90): false when a is not its own (as above, plus K a multiple of
 * 128 and group size 32, 64 or 128). mx_cuda_qmma_gemm enqueues on q: 0, or -1 with the error
 * set. */
bool mx_cuda_qmma_gemm_fits(const qmma_args *a, int dev);
int mx_cuda_qmma_gemm(const qmma_args *a, cudaStream_t q, int dev);

#endif
