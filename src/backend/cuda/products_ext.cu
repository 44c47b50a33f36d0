/* products_ext.cu: GatherMM on CUDA, the twin of cpu/gather_mm.c: the index pairs (any
 * integer dtype, wrapped once and clamped into each batch) are read back to the host, then
 * each output matrix is one mx_cuda_gemm of the selected (M, K) and (K, N) matrices. */
#include "lm.cuh"
#include "../kernel_checks.h"

int mx_cuda_gather_mm(const mx_kernel_ctx *ctx, const mx_tensor *in, int n_in, mx_tensor *out,
                      int n_out) {
  if (mx_check_gather_mm(in, n_in, out, n_out) < 0) return -1;
  const mx_tensor *a = &in[0], *b = &in[1], *li = &in[2], *ri = &in[3];
  mx_dtype t = out->dtype;
  if (out->size == 0) return 0;
  cudaStream_t q = (cudaStream_t)ctx->queue;
  int dev = ctx->device_index;
  int nb = out->ndim - 2;
  int64_t M = out->shape[nb], N = out->shape[nb + 1], K = a->shape[2];
  int64_t Ba = a->shape[0], Bb = b->shape[0];
  size_t es = (size_t)mx_dtype_size(t);
  if (K == 0) {
    MX_CUDA_CHECK("gather_mm", cudaMemsetAsync(out->data, 0, (size_t)out->size * es, q));
    return 0;
  }
  if (Ba == 0 || Bb == 0)
    return mx_fail_int(MX_EINDEX, "[gather_mm] Cannot gather matrices from an empty batch.");
  int64_t nmat = out->size / (M * N);
  mxc_scratch_guard ga(q), gb(q), gl(q), gr(q);
  const char *ad = (const char *)lm_stage(a, t, ga, q, dev);
  const char *bd = ad ? (const char *)lm_stage(b, t, gb, q, dev) : nullptr;
  const int64_t *ld = bd ? (const int64_t *)lm_stage(li, MX_INT64, gl, q, dev) : nullptr;
  const int64_t *rd = ld ? (const int64_t *)lm_stage(ri, MX_INT64, gr, q, dev) : nullptr;
  if (!rd) return -1;
  int64_t *h = (int64_t *)malloc(sizeof(int64_t) * (size_t)nmat * 2);
  if (!h) return mx_fail_int(MX_ENOMEM, "[malloc] Unable to allocate.");
  cudaError_t e = cudaMemcpyAsync(h, ld, sizeof(int64_t) * nmat, cudaMemcpyDeviceToHost, q);
  if (e == cudaSuccess)
    e = cudaMemcpyAsync(h + nmat, rd, sizeof(int64_t) * nmat, cudaMemcpyDeviceToHost, q);
  if (e == cudaSuccess) e = cudaStreamSynchronize(q);
  if (e != cudaSuccess) {
    free(h);
    return mx_fail_int(MX_ERUNTIME, "[gather_mm] CUDA error: %s", cudaGetErrorString(e));
  }
  int rc = 0;
  for (int64_t i = 0; i < nmat && rc == 0; i++) {
    int64_t ia = mx_index_clamp(h[i], Ba, 1), ib = mx_index_clamp(h[nmat + i], Bb, 1);
    rc = mx_cuda_gemm(dev, t, ad + ia * M * K * es, false, K, bd + ib * K * N * es, false, N,
                      (char *)out->data + i * M * N * es, N, false, M, N, K, q);
  }
  free(h);
  return rc;
}
