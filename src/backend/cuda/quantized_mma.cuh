/* quantized_mma.cuh: the tensor-core kernels of QuantizedMatmul and GatherQMM for 4-bit
 * affine weights with float16/bfloat16 x, scales and biases: the GEMV (quantized_mma.cu) and
 * the Hopper GEMM (quantized_wgmma.cu), called by quantized.cu; the dtype traits they share.
 * Depends on lm.cuh and qmma_fragments.cuh (the fragment decode and the GEMV epilogue). */
#ifndef MX_CUDA_QUANTIZED_MMA_CUH
#define MX_CUDA_QUANTIZED_MMA_CUH

#include "lm.cuh"
#include "qmma_fragments.cuh"

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
