/* random.c: the RandomBits primitive on the CPU: Threefry-2x32-20 counter blocks laid out
 * exactly as spec/semantics.md section 7.3 (and MLX), one contiguous block per key of a
 * (..., 2) uint32 key batch, written little-endian as uint8/uint16/uint32 per width. */
#include "../formulas.h"
#include "cpu.h"

/* Stores word idx of a block of `bytes` bytes, little-endian, truncating the last one. */
static void bits_put(uint8_t *blk, int64_t bytes, int64_t idx, uint32_t w) {
  int64_t at = 4 * idx;
  if (at + 4 <= bytes) { /* compilers merge these into one store on little-endian hosts */
    blk[at] = (uint8_t)w;
    blk[at + 1] = (uint8_t)(w >> 8);
    blk[at + 2] = (uint8_t)(w >> 16);
    blk[at + 3] = (uint8_t)(w >> 24);
    return;
  }
  for (int64_t k = 0; at + k < bytes; k++) blk[at + k] = (uint8_t)(w >> (8 * k));
}

/* One key's block: W = ceil(bytes / 4) words, h = W / 2 counter pairs (j, j + h + o)
 * filling words j and j + h + o, and for odd W the middle word from counter (h, 0). */
static void bits_block(uint32_t k0, uint32_t k1, uint8_t *blk, int64_t bytes) {
  int64_t W = (bytes + 3) / 4, h = W / 2, o = W % 2;
  for (int64_t j = 0; j < h; j++) {
    uint32_t y0, y1;
    mx_threefry2x32(k0, k1, (uint32_t)j, (uint32_t)(j + h + o), &y0, &y1);
    bits_put(blk, bytes, j, y0);
    bits_put(blk, bytes, j + h + o, y1);
  }
  if (o) {
    uint32_t y0, y1;
    mx_threefry2x32(k0, k1, (uint32_t)h, 0u, &y0, &y1);
    bits_put(blk, bytes, h, y0);
  }
}

int mx_cpu_random_bits(const mx_kernel_ctx *ctx, const mx_tensor *in, int n_in, mx_tensor *out,
                       int n_out) {
  const mx_p_random_bits *p = (const mx_p_random_bits *)ctx->params;
  if (n_in != 1 || n_out != 1 || !p)
    return mx_fail_int(MX_EINVAL, "[random_bits] Expected 1 key input, 1 output and parameters.");
  const mx_tensor *key = in;
  if (key->dtype != MX_UINT32 || key->ndim < 1 || key->shape[key->ndim - 1] != 2)
    return mx_fail_int(MX_EINVAL, "[random_bits] Keys must be uint32 of shape (..., 2).");
  if ((p->width != 1 && p->width != 2 && p->width != 4) || mx_dtype_size(out->dtype) != p->width)
    return mx_fail_int(MX_EINVAL, "[random_bits] Width %d does not match output dtype %s.",
                       (int)p->width, mx_dtype_name(out->dtype));
  if (!mx_cpu_is_row_contig(out))
    return mx_fail_int(MX_EINVAL, "[random_bits] The output must be row-contiguous.");
  int64_t nkeys = key->size / 2;
  if (out->size == 0) return 0;
  if (nkeys == 0 || out->size % nkeys != 0)
    return mx_fail_int(MX_EINVAL, "[random_bits] %lld outputs cannot be split over %lld keys.",
                       (long long)out->size, (long long)nkeys);
  int64_t bytes = out->size / nkeys * p->width;
  int64_t klast = key->strides[key->ndim - 1];
  const uint32_t *kd = (const uint32_t *)key->data;
  const int64_t *ks[1] = {key->strides};
  mx_cpu_iter it; /* over the key batch dims */
  if (mx_cpu_iter_init(&it, 1, key->ndim - 1, key->shape, ks) < 0) return -1;
  int64_t kn = mx_cpu_iter_len(&it), kst = mx_cpu_iter_stride(&it, 0), offs[1], i = 0;
  mx_cpu_iter_seek(&it, 0, offs);
  for (int64_t r = 0; r < it.nruns; r++) {
    for (int64_t j = 0; j < kn; j++, i++) {
      const uint32_t *k = kd + offs[0] + j * kst;
      bits_block(k[0], k[klast], (uint8_t *)out->data + i * bytes, bytes);
    }
    mx_cpu_iter_next(&it, offs);
  }
  mx_cpu_iter_free(&it);
  return 0;
}
