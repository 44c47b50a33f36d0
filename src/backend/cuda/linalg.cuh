/* linalg.cuh: what the cuSOLVER kernels (linalg.cu, linalg_decomp.cu) share: the calling
 * thread's cuSOLVER handle, the batch of matrices a kernel works on, copies between the
 * kernels' tensors and column-major scratch, the info codes read back and the errors worded
 * as the CPU kernels word them. CUDA C++ only. Depends on cuda.h and cuSOLVER. */
#ifndef MX_CUDA_LINALG_CUH
#define MX_CUDA_LINALG_CUH

#include <cuComplex.h>
#include <cusolverDn.h>

#include "cuda.h"

#define LA_THREADS 64 /* threads per block of the one-thread-per-matrix kernels */

/* The matrices of one kernel call: the input's leading dims are the batch. */
struct la_batch {
  const char *prim; /* class name for messages: "Inverse", "SVD", ... */
  cudaStream_t q;
  int dev;
  int64_t nb; /* matrices */
  int m, n;   /* rows and columns of each */
};

/* Fills b from the kernel's context and input; the input's dtype must be float32 or
 * float64 (or complex64 when cplx); op names the mx.linalg function in that error. 0 or
 * -1 + error. */
int la_batch_init(la_batch *b, const char *prim, const char *op, const mx_kernel_ctx *ctx,
                  const mx_tensor *in, bool cplx);

/* The calling thread's cuSOLVER handle for b's device with its stream set to b->q, and
 * that handle's 64-bit API parameters when params is given. NULL + error. Each thread keeps
 * its handles; when it exits they go to a pool the next new thread takes them from. */
cusolverDnHandle_t la_handle(const la_batch *b, cusolverDnParams_t *params);

/* "[<prim>::eval_gpu] cuSOLVER <what> failed (status s)." as -1. */
int la_fail_status(const la_batch *b, const char *what, cusolverStatus_t s);

/* "[<prim>::eval_gpu] <what> failed with error code <code>", the CPU kernels' words. */
int la_fail_info(const la_batch *b, const char *what, int code);

/* Copies between tensor t (shape (batch..., tail dims)) and scratch, where element (i, j)
 * of matrix k of the batch lies at k * mstride + i * rs + j * cs (tail = 2) or
 * k * mstride + i * rs (tail = 1); same dtype, enqueued on b->q. 0 or -1 + error. */
int la_copy(const la_batch *b, const mx_tensor *t, void *scratch, int tail, int64_t rs,
            int64_t cs, int64_t mstride, bool to_scratch);

/* The first non-zero of the count info codes at dinfo (device memory) in *code, 0 when all
 * are zero. Waits for b->q. 0 or -1 + error. */
int la_first_info(const la_batch *b, const int *dinfo, int64_t count, int *code);

/* A host workspace for the 64-bit API, freed once the stream has finished with it. */
struct la_host_ws {
  void *p;
  cudaStream_t q;
  explicit la_host_ws(cudaStream_t q_) : p(nullptr), q(q_) {}
  ~la_host_ws() {
    if (p) {
      cudaStreamSynchronize(q);
      free(p);
    }
  }
  /* false with the error set when n bytes cannot be had (n == 0: nothing, true) */
  bool alloc(size_t n) {
    if (n == 0) return true;
    p = malloc(n);
    if (!p) mx_fail_int(MX_ENOMEM, "[malloc] Unable to allocate %zu bytes.", n);
    return p != nullptr;
  }
};

/* cuSOLVER's data type of a float32, float64 or complex64 element. */
static inline cudaDataType la_cuda_type(mx_dtype t) {
  return t == MX_FLOAT64 ? CUDA_R_64F : t == MX_COMPLEX64 ? CUDA_C_32F : CUDA_R_32F;
}

/* Blocks of LA_THREADS for one thread per matrix. */
static inline unsigned la_blocks(int64_t nb, int dev) { return mxc_blocks(nb, LA_THREADS, dev); }

/* nb column-major n x n identities at x (one: the element 1). */
template <class T>
__global__ void la_k_identity(T *x, int n, int64_t nb, T one) {
  int64_t nn = (int64_t)n * n, total = nb * nn;
  for (int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; e < total;
       e += (int64_t)gridDim.x * blockDim.x) {
    int64_t r = e % nn;
    x[e] = r % n == r / n ? one : T{};
  }
}

#define LA_CHECK_LAUNCH(b)                                                                 \
  do {                                                                                     \
    cudaError_t e_ = cudaGetLastError();                                                   \
    if (e_ != cudaSuccess)                                                                 \
      return mx_fail_int(MX_ERUNTIME, "[%s::eval_gpu] CUDA error: %s", (b)->prim,          \
                         cudaGetErrorString(e_));                                          \
  } while (0)

/* Returns la_fail_status from the enclosing function when the cuSOLVER call fails. */
#define LA_CHECK(b, what, call)                                                            \
  do {                                                                                     \
    cusolverStatus_t s_ = (call);                                                          \
    if (s_ != CUSOLVER_STATUS_SUCCESS) return la_fail_status((b), (what), s_);             \
  } while (0)

#endif
