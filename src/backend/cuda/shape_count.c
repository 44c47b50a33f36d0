/* shape_count.c: NumberOfElements on CUDA, the twin of cpu/shape_count.c: the scalar is
 * computed on the host from the shape and copied into the output on the task's stream. */
#include <cuda_runtime.h>

#include "../../core/array.h"
#include "../shape_count.h"

int mx_cuda_number_of_elements(const mx_kernel_ctx *ctx, const mx_tensor *in, int n_in,
                               mx_tensor *out, int n_out) {
  double v;
  if (n_in != 1 || n_out != 1 || mx_shape_count(ctx->params, &in[0], &v) < 0)
    return mx_fail_int(MX_EINVAL, "[number_of_elements] Axes do not match the input.");
  unsigned char bytes[16];
  mx_dtype_store_f64(bytes, out->dtype, v);
  /* pageable source: the copy is staged before the call returns */
  cudaError_t e = cudaMemcpyAsync(out->data, bytes, (size_t)mx_dtype_size(out->dtype),
                                  cudaMemcpyHostToDevice, (cudaStream_t)ctx->queue);
  if (e != cudaSuccess)
    return mx_fail_int(MX_ERUNTIME, "[number_of_elements] CUDA error: %s", cudaGetErrorString(e));
  return 0;
}
