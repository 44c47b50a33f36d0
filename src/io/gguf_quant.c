/* gguf_quant.c: GGML block types (gguf.h). Q4_0 / Q4_1 / Q8_0 become MLX affine triples
 * (group 32; GGML's split-nibble order rearranged into MLX's LSB-first order; Q8_0 codes
 * offset by 128); every other block type is decoded with GGML's reference formulas and
 * rounded to float16. Blocks are read byte by byte: file data need not be aligned. */
#include <string.h>

#include "../core/half.h"
#include "gguf.h"

static const mx_ggml_type types[] = {
    [MX_GGML_F32] = {"f32", 1, 4, MX_FLOAT32},
    [MX_GGML_F16] = {"f16", 1, 2, MX_FLOAT16},
    [MX_GGML_Q4_0] = {"q4_0", 32, 18, -1},
    [MX_GGML_Q4_1] = {"q4_1", 32, 20, -1},
    [MX_GGML_Q5_0] = {"q5_0", 32, 22, -1},
    [MX_GGML_Q5_1] = {"q5_1", 32, 24, -1},
    [MX_GGML_Q8_0] = {"q8_0", 32, 34, -1},
    [MX_GGML_Q8_1] = {"q8_1", 32, 36, -1},
    [MX_GGML_Q2_K] = {"q2_k", 256, 84, -1},
    [MX_GGML_Q3_K] = {"q3_k", 256, 110, -1},
    [MX_GGML_Q4_K] = {"q4_k", 256, 144, -1},
    [MX_GGML_Q5_K] = {"q5_k", 256, 176, -1},
    [MX_GGML_Q6_K] = {"q6_k", 256, 210, -1},
    [MX_GGML_Q8_K] = {"q8_k", 256, 292, -1},
    [MX_GGML_I8] = {"i8", 1, 1, MX_INT8},
    [MX_GGML_I16] = {"i16", 1, 2, MX_INT16},
    [MX_GGML_I32] = {"i32", 1, 4, MX_INT32},
    [MX_GGML_I64] = {"i64", 1, 8, MX_INT64},
    [MX_GGML_F64] = {"f64", 1, 8, MX_FLOAT64},
    [MX_GGML_BF16] = {"bf16", 1, 2, MX_BFLOAT16},
};

const mx_ggml_type *mx_ggml_type_get(uint32_t type) {
  if (type >= MX_ARRAY_LEN(types) || !types[type].name) return NULL;
  return &types[type];
}

static float f16at(const uint8_t *p) { return mx_f16_to_f32((mx_f16)(p[0] | p[1] << 8)); }
static uint16_t u16at(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }

/* ---- affine triples ----------------------------------------------------------------------- */

int mx_ggml_to_affine(uint32_t type, const uint8_t *src, int ndim, const int32_t *shape,
                      mx_array **w, mx_array **scales, mx_array **biases) {
  int bits = type == MX_GGML_Q8_0 ? 8 : 4;
  int32_t wshape[MX_INLINE_DIMS], sshape[MX_INLINE_DIMS];
  if (ndim < 1 || ndim > MX_INLINE_DIMS || shape[ndim - 1] % 32 != 0)
    return mx_fail_int(MX_ERUNTIME, "[load_gguf] tensor has incompatible last dim shape: %d",
                       ndim ? shape[ndim - 1] : 0);
  for (int d = 0; d < ndim; d++) wshape[d] = sshape[d] = shape[d];
  wshape[ndim - 1] = shape[ndim - 1] / 32 * bits;
  sshape[ndim - 1] = shape[ndim - 1] / 32;
  *w = mx_array_from_data(NULL, MX_UINT32, ndim, wshape);
  *scales = *w ? mx_array_from_data(NULL, MX_FLOAT16, ndim, sshape) : NULL;
  *biases = *scales ? mx_array_from_data(NULL, MX_FLOAT16, ndim, sshape) : NULL;
  if (!*biases) {
    mx_array_release(*w);
    mx_array_release(*scales);
    *w = *scales = NULL;
    return -1;
  }
  uint8_t *wq = (*w)->buf->host;
  uint16_t *sc = (*scales)->buf->host, *bi = (*biases)->buf->host;
  int64_t nblocks = (*scales)->size;
  int bytes = mx_ggml_type_get(type)->bytes;
  for (int64_t i = 0; i < nblocks; i++, src += bytes) {
    uint16_t d = u16at(src);
    sc[i] = d;
    if (type == MX_GGML_Q4_1) {
      bi[i] = u16at(src + 2);
    } else {
      float off = type == MX_GGML_Q8_0 ? -128.0f : -8.0f;
      bi[i] = mx_f32_to_f16(off * mx_f16_to_f32(d));
    }
    if (bits == 8) {
      for (int j = 0; j < 32; j++) wq[j] = src[2 + j] ^ 0x80; /* int8 -> uint8 offset 128 */
      wq += 32;
      continue;
    }
    /* GGML: element j < 16 is the low nibble of qs[j], j >= 16 the high nibble of qs[j-16];
     * MLX: element k is nibble k of the little-endian bit stream */
    const uint8_t *qs = src + (type == MX_GGML_Q4_1 ? 4 : 2);
    for (int k = 0; k < 8; k++) {
      wq[k] = (uint8_t)((qs[2 * k] & 0x0F) | (qs[2 * k + 1] & 0x0F) << 4);
      wq[8 + k] = (uint8_t)((qs[2 * k] >> 4) | (qs[2 * k + 1] >> 4) << 4);
    }
    wq += 16;
  }
  return 0;
}

/* ---- dequantization (GGML reference formulas) ------------------------------------------- */

static void deq_q4_0(const uint8_t *b, float *y) {
  float d = f16at(b);
  for (int j = 0; j < 16; j++) {
    y[j] = ((b[2 + j] & 0x0F) - 8) * d;
    y[j + 16] = ((b[2 + j] >> 4) - 8) * d;
  }
}

static void deq_q4_1(const uint8_t *b, float *y) {
  float d = f16at(b), m = f16at(b + 2);
  for (int j = 0; j < 16; j++) {
    y[j] = (b[4 + j] & 0x0F) * d + m;
    y[j + 16] = (b[4 + j] >> 4) * d + m;
  }
}

static uint32_t u32at(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void deq_q5(const uint8_t *b, float *y, bool has_min) {
  float d = f16at(b), m = has_min ? f16at(b + 2) : 0.0f;
  const uint8_t *p = b + (has_min ? 4 : 2);
  uint32_t qh = u32at(p);
  const uint8_t *qs = p + 4;
  for (int j = 0; j < 16; j++) {
    int h0 = ((qh >> j) << 4) & 0x10, h1 = (qh >> (j + 12)) & 0x10;
    int x0 = (qs[j] & 0x0F) | h0, x1 = (qs[j] >> 4) | h1;
    if (has_min) {
      y[j] = x0 * d + m;
      y[j + 16] = x1 * d + m;
    } else {
      y[j] = (x0 - 16) * d;
      y[j + 16] = (x1 - 16) * d;
    }
  }
}

static void deq_q8_0(const uint8_t *b, float *y) {
  float d = f16at(b);
  for (int j = 0; j < 32; j++) y[j] = (int8_t)b[2 + j] * d;
}

static void deq_q8_1(const uint8_t *b, float *y) {
  float d = f16at(b);
  for (int j = 0; j < 32; j++) y[j] = (int8_t)b[4 + j] * d;
}

static void deq_q2_k(const uint8_t *b, float *y) {
  const uint8_t *scales = b, *q = b + 16;
  float d = f16at(b + 80), dmin = f16at(b + 82);
  int is = 0;
  for (int n = 0; n < 256; n += 128) {
    int shift = 0;
    for (int j = 0; j < 4; j++) {
      for (int half = 0; half < 2; half++) {
        uint8_t sc = scales[is++];
        float dl = d * (sc & 0x0F), ml = dmin * (sc >> 4);
        for (int l = 0; l < 16; l++) *y++ = dl * ((q[l + 16 * half] >> shift) & 3) - ml;
      }
      shift += 2;
    }
    q += 32;
  }
}

static void deq_q3_k(const uint8_t *b, float *y) {
  const uint8_t *hm = b, *q = b + 32, *sraw = b + 96;
  float d_all = f16at(b + 108);
  /* 16 6-bit scales packed in 12 bytes */
  uint32_t aux[4];
  memcpy(aux, sraw, 12);
  const uint32_t kmask1 = 0x03030303u, kmask2 = 0x0f0f0f0fu;
  uint32_t tmp = aux[2];
  aux[2] = ((aux[0] >> 4) & kmask2) | (((tmp >> 4) & kmask1) << 4);
  aux[3] = ((aux[1] >> 4) & kmask2) | (((tmp >> 6) & kmask1) << 4);
  aux[0] = (aux[0] & kmask2) | (((tmp >> 0) & kmask1) << 4);
  aux[1] = (aux[1] & kmask2) | (((tmp >> 2) & kmask1) << 4);
  int8_t scales[16];
  for (int i = 0; i < 16; i++) scales[i] = (int8_t)(uint8_t)(aux[i / 4] >> (8 * (i % 4)));
  int is = 0;
  uint8_t m = 1;
  for (int n = 0; n < 256; n += 128) {
    int shift = 0;
    for (int j = 0; j < 4; j++) {
      for (int half = 0; half < 2; half++) {
        float dl = d_all * (scales[is++] - 32);
        for (int l = 0; l < 16; l++) {
          int k = l + 16 * half;
          *y++ = dl * (((q[k] >> shift) & 3) - ((hm[k] & m) ? 0 : 4));
        }
      }
      shift += 2;
      m = (uint8_t)(m << 1);
    }
    q += 32;
  }
}

static void scale_min_k4(int j, const uint8_t *q, uint8_t *d, uint8_t *m) {
  if (j < 4) {
    *d = q[j] & 63;
    *m = q[j + 4] & 63;
  } else {
    *d = (uint8_t)((q[j + 4] & 0x0F) | ((q[j - 4] >> 6) << 4));
    *m = (uint8_t)((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
  }
}

static void deq_q4_k(const uint8_t *b, float *y) {
  float d = f16at(b), dmin = f16at(b + 2);
  const uint8_t *scales = b + 4, *q = b + 16;
  int is = 0;
  for (int j = 0; j < 256; j += 64) {
    uint8_t sc, m;
    scale_min_k4(is, scales, &sc, &m);
    float d1 = d * sc, m1 = dmin * m;
    scale_min_k4(is + 1, scales, &sc, &m);
    float d2 = d * sc, m2 = dmin * m;
    for (int l = 0; l < 32; l++) *y++ = d1 * (q[l] & 0x0F) - m1;
    for (int l = 0; l < 32; l++) *y++ = d2 * (q[l] >> 4) - m2;
    q += 32;
    is += 2;
  }
}

static void deq_q5_k(const uint8_t *b, float *y) {
  float d = f16at(b), dmin = f16at(b + 2);
  const uint8_t *scales = b + 4, *qh = b + 16, *ql = b + 48;
  int is = 0;
  uint8_t u1 = 1, u2 = 2;
  for (int j = 0; j < 256; j += 64) {
    uint8_t sc, m;
    scale_min_k4(is, scales, &sc, &m);
    float d1 = d * sc, m1 = dmin * m;
    scale_min_k4(is + 1, scales, &sc, &m);
    float d2 = d * sc, m2 = dmin * m;
    for (int l = 0; l < 32; l++) *y++ = d1 * ((ql[l] & 0x0F) + ((qh[l] & u1) ? 16 : 0)) - m1;
    for (int l = 0; l < 32; l++) *y++ = d2 * ((ql[l] >> 4) + ((qh[l] & u2) ? 16 : 0)) - m2;
    ql += 32;
    is += 2;
    u1 = (uint8_t)(u1 << 2);
    u2 = (uint8_t)(u2 << 2);
  }
}

static void deq_q6_k(const uint8_t *b, float *y) {
  const uint8_t *ql = b, *qh = b + 128;
  const int8_t *sc = (const int8_t *)(b + 192);
  float d = f16at(b + 208);
  for (int n = 0; n < 256; n += 128) {
    for (int l = 0; l < 32; l++) {
      int is = l / 16;
      int q1 = (int)((ql[l] & 0x0F) | ((qh[l] >> 0) & 3) << 4) - 32;
      int q2 = (int)((ql[l + 32] & 0x0F) | ((qh[l] >> 2) & 3) << 4) - 32;
      int q3 = (int)((ql[l] >> 4) | ((qh[l] >> 4) & 3) << 4) - 32;
      int q4 = (int)((ql[l + 32] >> 4) | ((qh[l] >> 6) & 3) << 4) - 32;
      y[l] = d * sc[is] * q1;
      y[l + 32] = d * sc[is + 2] * q2;
      y[l + 64] = d * sc[is + 4] * q3;
      y[l + 96] = d * sc[is + 6] * q4;
    }
    y += 128;
    ql += 64;
    qh += 32;
    sc += 8;
  }
}

static void deq_q8_k(const uint8_t *b, float *y) {
  float d;
  memcpy(&d, b, 4);
  for (int j = 0; j < 256; j++) y[j] = d * (int8_t)b[4 + j];
}

mx_array *mx_ggml_dequantize_f16(uint32_t type, const uint8_t *src, int ndim,
                                 const int32_t *shape) {
  const mx_ggml_type *t = mx_ggml_type_get(type);
  mx_array *a = mx_array_from_data(NULL, MX_FLOAT16, ndim, shape);
  if (!a) return NULL;
  uint16_t *out = a->buf->host;
  int64_t nblocks = a->size / t->block;
  float y[256];
  for (int64_t i = 0; i < nblocks; i++, src += t->bytes) {
    switch (type) {
    case MX_GGML_Q4_0: deq_q4_0(src, y); break;
    case MX_GGML_Q4_1: deq_q4_1(src, y); break;
    case MX_GGML_Q5_0: deq_q5(src, y, false); break;
    case MX_GGML_Q5_1: deq_q5(src, y, true); break;
    case MX_GGML_Q8_0: deq_q8_0(src, y); break;
    case MX_GGML_Q8_1: deq_q8_1(src, y); break;
    case MX_GGML_Q2_K: deq_q2_k(src, y); break;
    case MX_GGML_Q3_K: deq_q3_k(src, y); break;
    case MX_GGML_Q4_K: deq_q4_k(src, y); break;
    case MX_GGML_Q5_K: deq_q5_k(src, y); break;
    case MX_GGML_Q6_K: deq_q6_k(src, y); break;
    case MX_GGML_Q8_K: deq_q8_k(src, y); break;
    default:
      mx_array_release(a);
      return mx_fail(MX_ERUNTIME, "[load_gguf] cannot dequantize type %s.", t->name);
    }
    for (int j = 0; j < t->block; j++) *out++ = mx_f32_to_f16(y[j]);
  }
  return a;
}
