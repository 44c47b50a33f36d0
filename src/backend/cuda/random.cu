/* random.cu: the RandomBits primitive on CUDA, the twin of cpu/random.c: Threefry-2x32-20
 * (formulas.h) counter blocks laid out exactly as the CPU kernel and MLX, one contiguous
 * block per key of a (..., 2) uint32 key batch, little-endian words truncated to the block's
 * byte count. One thread per counter pair; keys may be strided. */
#include "elementwise.cuh"

/* Word w of a block of `bytes` bytes at blk: one 32-bit store when whole and aligned. */
__device__ __forceinline__ void bits_put(uint8_t *blk, int64_t bytes, int64_t w, uint32_t v) {
  int64_t at = 4 * w;
  uint8_t *p = blk + at;
  if (at + 4 <= bytes && ((uintptr_t)p & 3u) == 0) {
    *(uint32_t *)p = v; /* the GPU is little-endian, as the layout */
    return;
  }
  for (int k = 0; k < 4 && at + k < bytes; k++) p[k] = (uint8_t)(v >> (8 * k));
}

/* Work item t = key * pairs + j: counter pair (j, j + h + o) fills words j and j + h + o;
 * for odd W the middle word h comes from counter (h, 0). */
__global__ void __launch_bounds__(MXC_THREADS) random_bits_kernel(
    const uint32_t *keys, int64_t klast, uint8_t *out, int64_t bytes, int64_t nkeys,
    const __grid_constant__ mxc_layout<1> KB) {
  const int64_t W = (bytes + 3) / 4, h = W / 2, o = W % 2, pairs = h + o;
  const int64_t total = nkeys * pairs, step = (int64_t)gridDim.x * blockDim.x;
  for (int64_t t = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; t < total; t += step) {
    int64_t key = t / pairs, j = t - key * pairs, koff = 0;
    mxc_offsets<1>(KB, key, &koff);
    uint32_t k0 = keys[koff], k1 = keys[koff + klast], y0, y1;
    uint8_t *blk = out + key * bytes;
    if (j < h) {
      mx_threefry2x32(k0, k1, (uint32_t)j, (uint32_t)(j + h + o), &y0, &y1);
      bits_put(blk, bytes, j, y0);
      bits_put(blk, bytes, j + h + o, y1);
    } else {
      mx_threefry2x32(k0, k1, (uint32_t)h, 0u, &y0, &y1);
      bits_put(blk, bytes, h, y0);
    }
  }
}

extern "C" int mx_cuda_random_bits(const mx_kernel_ctx *ctx, const mx_tensor *in, int n_in,
                                   mx_tensor *out, int n_out) {
  const mx_p_random_bits *p = (const mx_p_random_bits *)ctx->params;
  if (n_in != 1 || n_out != 1 || !p)
    return mx_fail_int(MX_EINVAL, "[random_bits] Expected 1 key input, 1 output and parameters.");
  const mx_tensor *key = in;
  if (key->dtype != MX_UINT32 || key->ndim < 1 || key->shape[key->ndim - 1] != 2)
    return mx_fail_int(MX_EINVAL, "[random_bits] Keys must be uint32 of shape (..., 2).");
  if ((p->width != 1 && p->width != 2 && p->width != 4) || mx_dtype_size(out->dtype) != p->width)
    return mx_fail_int(MX_EINVAL, "[random_bits] Width %d does not match output dtype %s.",
                       (int)p->width, mx_dtype_name(out->dtype));
  if (!mxc_is_row_contig(out))
    return mx_fail_int(MX_EINVAL, "[random_bits] The output must be row-contiguous.");
  int64_t nkeys = key->size / 2;
  if (out->size == 0) return 0;
  if (nkeys == 0 || out->size % nkeys != 0)
    return mx_fail_int(MX_EINVAL, "[random_bits] %lld outputs cannot be split over %lld keys.",
                       (long long)out->size, (long long)nkeys);
  int64_t bytes = out->size / nkeys * p->width;
  cudaStream_t q = (cudaStream_t)ctx->queue;
  int dev = ctx->device_index;
  mxc_layout<1> KB; /* over the key batch dims */
  const int64_t *ks[1] = {key->strides};
  void *ext = nullptr;
  if (mxc_layout_init<1>(&KB, key->ndim - 1, key->shape, ks, q, &ext) < 0) return -1;
  mxc_scratch_guard g(q);
  g.p = ext;
  int64_t W = (bytes + 3) / 4, pairs = W / 2 + W % 2;
  random_bits_kernel<<<mxc_blocks(nkeys * pairs, MXC_THREADS, dev), MXC_THREADS, 0, q>>>(
      (const uint32_t *)key->data, key->strides[key->ndim - 1], (uint8_t *)out->data, bytes,
      nkeys, KB);
  MX_CUDA_CHECK_LAUNCH("random_bits");
  return 0;
}
