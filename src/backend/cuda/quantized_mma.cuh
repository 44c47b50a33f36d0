/* quantized_mma.cuh: the tensor-core GEMV of QuantizedMatmul and GatherQMM for 4-bit affine
 * weights with float16/bfloat16 x, scales and biases (quantized_mma.cu, called by
 * quantized.cu). Depends on cuda.h. */
#ifndef MX_CUDA_QUANTIZED_MMA_CUH
#define MX_CUDA_QUANTIZED_MMA_CUH

#include "cuda.h"

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

/* The GEMV for M <= 8: false when a's dtype, shapes, group size or alignment are not its own
 * (the caller then takes the general path). mx_cuda_qmma_gemv enqueues on q: 0, or -1 with
 * the error set. */
bool mx_cuda_qmma_gemv_fits(const qmma_args *a);
int mx_cuda_qmma_gemv(const qmma_args *a, cudaStream_t q);

#endif
