/* scratch.cu: FALLBACK stream-ordered scratch (cudaMallocAsync / cudaFreeAsync on the
 * device's default pool) for the kernels of this directory. Weak: the backend glue
 * (backend.c) defines mx_cuda_scratch / mx_cuda_scratch_free with its caching allocator and
 * overrides these; they exist so the kernels and tests link before and without it. */
#include "cuda.h"

extern "C" __attribute__((weak)) void *mx_cuda_scratch(size_t nbytes, cudaStream_t q) {
  void *p = nullptr;
  cudaError_t e = cudaMallocAsync(&p, nbytes ? nbytes : 1, q);
  if (e != cudaSuccess) {
    (void)cudaGetLastError(); /* not a sticky error: do not leave it for launch checks */
    mx_fail(MX_ENOMEM, "[malloc] Unable to allocate %zu bytes on the device (%s).", nbytes,
            cudaGetErrorString(e));
    return nullptr;
  }
  return p;
}

extern "C" __attribute__((weak)) void mx_cuda_scratch_free(void *p, cudaStream_t q) {
  if (p) (void)cudaFreeAsync(p, q);
}
