/* random.c: the RandomBits primitive on the CPU: Threefry-2x32-20 counter blocks laid out
 * exactly as spec/semantics.md section 7.3 (and MLX), one contiguous block per key of a
 * (..., 2) uint32 key batch, written little-endian as uint8/uint16/uint32 per width. */
#include "../formulas.h"
#include "cpu.h"

/* Stores word idx little-endian (compilers merge the bytes into one store). */
static inline void bits_put_full(uint8_t *blk, int64_t idx, uint32_t w) {
  uint8_t *p = blk + 4 * idx;
  p[0] = (uint8_t)w;
  p[1] = (uint8_t)(w >> 8);
  p[2] = (uint8_t)(w >> 16);
  p[3] = (uint8_t)(w >> 24);
}

/* Stores word idx of a block of `bytes` bytes, truncating the last one. */
static void bits_put(uint8_t *blk, int64_t bytes, int64_t idx, uint32_t w) {
  int64_t at = 4 * idx;
  if (at + 4 <= bytes) {
    bits_put_full(blk, idx, w);
    return;
  }
  for (int64_t k = 0; at + k < bytes; k++) blk[at + k] = (uint8_t)(w >> (8 * k));
}

#define BITS_LANES 8

/* mx_threefry2x32 on BITS_LANES counter pairs at once (same rounds, vectorisable). */
static void threefry_lanes(uint32_t k0, uint32_t k1, uint32_t *x0, uint32_t *x1) {
  const uint32_t ks[3] = {k0, k1, k0 ^ k1 ^ 0x1BD11BDAu};
  static const int rot[2][4] = {{13, 15, 26, 6}, {17, 29, 16, 24}};
  for (int l = 0; l < BITS_LANES; l++) {
    x0[l] += ks[0];
    x1[l] += ks[1];
  }
  for (int i = 0; i < 5; i++) {
    for (int r = 0; r < 4; r++) {
      int s = rot[i % 2][r];
      for (int l = 0; l < BITS_LANES; l++) {
        x0[l] += x1[l];
        x1[l] = (x1[l] << s) | (x1[l] >> (32 - s));
        x1[l] ^= x0[l];
      }
    }
    for (int l = 0; l < BITS_LANES; l++) {
      x0[l] += ks[(i + 1) % 3];
      x1[l] += ks[(i + 2) % 3] + (uint32_t)(i + 1);
    }
  }
}

/* One key's block: W = ceil(bytes / 4) words, h = W / 2 counter pairs (j, j + h + o)
 * filling words j and j + h + o, and for odd W the middle word from counter (h, 0). */
static void bits_block(uint32_t k0, uint32_t k1, uint8_t *blk, int64_t bytes) {
  int64_t W = (bytes + 3) / 4, h = W / 2, o = W % 2, j = 0;
  for (; j + BITS_LANES <= h; j += BITS_LANES) {
    uint32_t y0[BITS_LANES], y1[BITS_LANES];
    for (int l = 0; l < BITS_LANES; l++) {
      y0[l] = (uint32_t)(j + l);
      y1[l] = (uint32_t)(j + l + h + o);
    }
    threefry_lanes(k0, k1, y0, y1);
    if (4 * (j + BITS_LANES + h + o) <= bytes) { /* every word of the group is whole */
      for (int l = 0; l < BITS_LANES; l++) {
        bits_put_full(blk, j + l, y0[l]);
        bits_put_full(blk, j + l + h + o, y1[l]);
      }
    } else {
      for (int l = 0; l < BITS_LANES; l++) {
        bits_put(blk, bytes, j + l, y0[l]);
        bits_put(blk, bytes, j + l + h + o, y1[l]);
      }
    }
  }
  for (; j < h; j++) {
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
