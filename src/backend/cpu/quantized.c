/* quantized.c: the Quantize, Dequantize, ToFP8 and FromFP8 kernels on the CPU
 * (spec/semantics.md section 8), bit-exact with MLX: affine groups in float32, the fp modes
 * with MLX's per-operation rounding in w's dtype; groups split over the thread pool. Also
 * the shared loading/decoding helpers of quantized.h. */
#include "quantized.h"

#include <math.h>
#include <string.h>

#include "array.h"
#include "pool.h"

void *mx_cpu_q_load(const mx_tensor *t, mx_dtype dt) {
  size_t es = (size_t)mx_dtype_size(dt);
  size_t bytes = (size_t)(t->size > 0 ? t->size : 1) * es;
  void *buf = malloc(bytes);
  if (!buf) return mx_fail(MX_ENOMEM, "[malloc] Unable to allocate %zu bytes.", bytes);
  if (t->size == 0) return buf;
  if (mx_cpu_is_row_contig(t)) {
    mx_cpu_convert(t->data, t->dtype, 1, buf, dt, 1, t->size);
    return buf;
  }
  int64_t *st = malloc((size_t)(t->ndim > 0 ? t->ndim : 1) * sizeof(int64_t));
  if (!st) {
    free(buf);
    return mx_fail(MX_ENOMEM, "[malloc] Unable to allocate.");
  }
  mx_row_strides(t->ndim, t->shape, st);
  mx_tensor dst = {buf, dt, t->ndim, t->shape, st, t->size, MX_ROW_CONTIG};
  int rc = mx_cpu_copy_strided(t, &dst);
  free(st);
  if (rc < 0) {
    free(buf);
    return NULL;
  }
  return buf;
}

int mx_cpu_q_group_params(const mx_tensor *scales, const mx_tensor *biases, int mode,
                          float gscale, float **sc, float **bi) {
  int64_t n = scales->size;
  *sc = NULL;
  *bi = NULL;
  if (mode == MX_QMODE_AFFINE) {
    *sc = mx_cpu_q_load(scales, MX_FLOAT32);
    *bi = *sc ? mx_cpu_q_load(biases, MX_FLOAT32) : NULL;
  } else {
    uint8_t *raw = mx_cpu_q_load(scales, MX_UINT8);
    *sc = raw ? malloc((size_t)(n > 0 ? n : 1) * sizeof(float)) : NULL;
    *bi = *sc ? calloc((size_t)(n > 0 ? n : 1), sizeof(float)) : NULL;
    if (*bi)
      for (int64_t i = 0; i < n; i++)
        (*sc)[i] = mode == MX_QMODE_NVFP4 ? mx_q_from_fp8(raw[i]) * gscale
                                          : mx_q_e8m0_value(raw[i]);
    free(raw);
  }
  if (*sc && *bi) return 0;
  free(*sc);
  free(*bi);
  *sc = *bi = NULL;
  if (mx_error_kind_get() == MX_OK) mx_fail(MX_ENOMEM, "[malloc] Unable to allocate.");
  return -1;
}

void mx_cpu_q_decode(const uint32_t *words, int n, int bits, int gs, int mode, const float *sc,
                     const float *bi, float *out) {
  uint32_t mask = (1u << bits) - 1u;
  if (mode == MX_QMODE_AFFINE && 32 % bits == 0) { /* codes never straddle words */
    int per = 32 / bits;
    for (int g = 0; g < n / gs; g++) {
      float s = sc[g], b = bi[g];
      for (int i = 0; i < gs; i += per) {
        uint32_t wv = *words++;
        for (int k = 0; k < per; k++, wv >>= bits) *out++ = s * (float)(wv & mask) + b;
      }
    }
    return;
  }
  uint64_t acc = 0;
  int have = 0;
  for (int g = 0; g < n / gs; g++) {
    float s = sc[g], b = bi[g];
    for (int i = 0; i < gs; i++) {
      if (have < bits) {
        acc |= (uint64_t)(*words++) << have;
        have += 32;
      }
      uint32_t c = (uint32_t)acc & mask;
      acc >>= bits;
      have -= bits;
      float v = mode == MX_QMODE_AFFINE ? (float)c
                : mode == MX_QMODE_MXFP8 ? mx_q_from_fp8((uint8_t)c)
                                         : mx_q_e2m1_value(c);
      *out++ = s * v + b;
    }
  }
}

/* ---- Quantize ---- */

typedef struct q_quant_job {
  const float *w;     /* row-major float32 copy of w */
  mx_dtype wt;        /* w's dtype: the fp modes round every step to it */
  uint32_t *wq;
  void *scales, *biases;
  mx_dtype st;
  int gs, bits, mode;
  float enc;          /* nvfp4 global scale encoding, 0 when none */
} q_quant_job;

/* Stores v converted to dtype t at element i of base. */
static void q_store(void *base, mx_dtype t, int64_t i, float v) {
  mx_cpu_convert(&v, MX_FLOAT32, 1, (char *)base + i * (int64_t)mx_dtype_size(t), t, 1, 1);
}

/* Codes of one group -> packed words (the group starts on a word boundary). */
static void q_pack(const uint32_t *codes, int n, int bits, uint32_t *out) {
  uint64_t acc = 0;
  int have = 0;
  for (int i = 0; i < n; i++) {
    acc |= (uint64_t)codes[i] << have;
    have += bits;
    if (have >= 32) {
      *out++ = (uint32_t)acc;
      acc >>= 32;
      have -= 32;
    }
  }
}

/* Codes of one fp-mode group of w (MLX's rounding of every step to t) and its scale byte;
 * enc is the nvfp4 global-scale encoding, 0 when none. */
static uint8_t q_fp_group(const float *w, int gs, mx_dtype t, int mode, float enc,
                          uint32_t *codes) {
  float amax = 0.0f;
  for (int i = 0; i < gs; i++) amax = fabsf(w[i]) > amax ? fabsf(w[i]) : amax;
  float sc = mx_cpu_q_round(amax / (mode == MX_QMODE_MXFP8 ? 448.0f : 6.0f), t);
  float div, post = 1.0f;
  uint8_t sb;
  if (mode == MX_QMODE_NVFP4) {
    sb = mx_q_to_fp8(enc > 0.0f ? sc * enc : sc);
    div = mx_cpu_q_round(mx_q_from_fp8(sb), t);
    if (enc > 0.0f) post = enc;
  } else {
    sb = mx_q_e8m0_encode(sc);
    div = mx_cpu_q_round(ldexpf(1.0f, (int)sb - 127), t);
  }
  for (int i = 0; i < gs; i++) {
    float q = mx_cpu_q_round(w[i] / div, t);
    if (post != 1.0f) q *= post;
    codes[i] = mode == MX_QMODE_MXFP8 ? mx_q_to_fp8(q) : mx_q_e2m1_nearest(q);
  }
  return sb;
}

static void q_quant_group(const q_quant_job *j, int64_t g, uint32_t *codes) {
  const float *w = j->w + g * j->gs;
  int gs = j->gs;
  if (j->mode == MX_QMODE_AFFINE) {
    float wmin = INFINITY, wmax = -INFINITY;
    for (int i = 0; i < gs; i++) {
      wmax = w[i] > wmax ? w[i] : wmax;
      wmin = w[i] < wmin ? w[i] : wmin;
    }
    float scale, bias;
    mx_q_affine_params(wmin, wmax, j->bits, &scale, &bias);
    for (int i = 0; i < gs; i++) codes[i] = mx_q_affine_code(w[i], scale, bias, j->bits);
    q_store(j->scales, j->st, g, scale);
    q_store(j->biases, j->st, g, bias);
  } else {
    ((uint8_t *)j->scales)[g] = q_fp_group(w, gs, j->wt, j->mode, j->enc, codes);
  }
  q_pack(codes, gs, j->bits, j->wq + g * (int64_t)gs * j->bits / 32);
}

/* ---- fp-mode quantize-dequantize in place ---- */

typedef struct q_fake_job {
  float *v;
  mx_dtype t;
  int gs, mode;
  float enc, dec; /* nvfp4 global-scale encoding (0: none) and decoding factor */
} q_fake_job;

static void q_fake_range(void *ctx, int64_t b, int64_t e) {
  const q_fake_job *j = ctx;
  uint32_t codes[128];
  for (int64_t g = b; g < e; g++) {
    float *w = j->v + g * j->gs;
    uint8_t sb = q_fp_group(w, j->gs, j->t, j->mode, j->enc, codes);
    float s = j->mode == MX_QMODE_NVFP4 ? mx_q_from_fp8(sb) * j->dec : mx_q_e8m0_value(sb);
    for (int i = 0; i < j->gs; i++)
      w[i] = (j->mode == MX_QMODE_MXFP8 ? mx_q_from_fp8((uint8_t)codes[i])
                                        : mx_q_e2m1_value(codes[i])) * s;
  }
}

void mx_cpu_q_fake_quant(float *v, int64_t n, mx_dtype t, int gs, int mode, const float *gscale) {
  q_fake_job j = {v, t, gs, mode, 0.0f, 1.0f};
  if (gscale) {
    j.enc = (448.0f * 6.0f) / *gscale;
    j.dec = *gscale / (448.0f * 6.0f);
  }
  mx_cpu_parallel_for(n / gs, 64, q_fake_range, &j);
}

static void q_quant_range(void *ctx, int64_t b, int64_t e) {
  const q_quant_job *j = ctx;
  uint32_t codes[128];
  for (int64_t g = b; g < e; g++) q_quant_group(j, g, codes);
}

int mx_cpu_quantize(const mx_kernel_ctx *ctx, const mx_tensor *in, int n_in, mx_tensor *out,
                    int n_out) {
  const mx_p_quantize *p = ctx->params;
  if (p->group_size > 128)
    return mx_fail_int(MX_EINVAL, "[quantize] Group size %d is too large.", p->group_size);
  q_quant_job j = {0};
  j.wt = in[0].dtype;
  j.gs = p->group_size;
  j.bits = p->bits;
  j.mode = p->mode;
  j.wq = out[0].data;
  j.scales = out[1].data;
  j.biases = n_out > 2 ? out[2].data : NULL;
  j.st = out[1].dtype;
  if (n_in > 1) {
    float *g = mx_cpu_q_load(&in[1], MX_FLOAT32);
    if (!g) return -1;
    j.enc = (448.0f * 6.0f) / g[0];
    free(g);
  }
  float *w = mx_cpu_q_load(&in[0], MX_FLOAT32);
  if (!w) return -1;
  j.w = w;
  int64_t groups = in[0].size / p->group_size;
  mx_cpu_parallel_for(groups, 64, q_quant_range, &j);
  free(w);
  return 0;
}

/* ---- Dequantize ---- */

typedef struct q_deq_job {
  const uint32_t *w;
  const float *sc, *bi;
  void *out;
  mx_dtype ot, ct;   /* output dtype; affine: the dtype MLX computes q * s + b in */
  int gs, bits, mode;
  int64_t words_per_group;
} q_deq_job;

static void q_deq_range(void *ctx, int64_t b, int64_t e) {
  const q_deq_job *j = ctx;
  float vals[128];
  uint32_t codes[128];
  uint32_t mask = (1u << j->bits) - 1u;
  for (int64_t g = b; g < e; g++) {
    const uint32_t *wp = j->w + g * j->words_per_group;
    uint64_t acc = 0;
    int have = 0;
    for (int i = 0; i < j->gs; i++) {
      if (have < j->bits) {
        acc |= (uint64_t)(*wp++) << have;
        have += 32;
      }
      codes[i] = (uint32_t)acc & mask;
      acc >>= j->bits;
      have -= j->bits;
    }
    if (j->mode == MX_QMODE_AFFINE && j->ct == MX_FLOAT64) {
      double s = j->sc[g], bb = j->bi[g];
      double dv[128];
      for (int i = 0; i < j->gs; i++) dv[i] = (double)codes[i] * s + bb;
      mx_cpu_convert(dv, MX_FLOAT64, 1, (char *)j->out + g * j->gs * (int64_t)mx_dtype_size(j->ot),
                     j->ot, 1, j->gs);
      continue;
    }
    float s = j->sc[g], bb = j->bi[g];
    for (int i = 0; i < j->gs; i++) {
      if (j->mode == MX_QMODE_AFFINE)
        vals[i] = mx_cpu_q_round(mx_cpu_q_round((float)codes[i] * s, j->ct) + bb, j->ct);
      else if (j->mode == MX_QMODE_MXFP8)
        vals[i] = mx_cpu_q_round(mx_q_from_fp8((uint8_t)codes[i]), j->ot) * s;
      else
        vals[i] = mx_q_e2m1_value(codes[i]) * s;
    }
    mx_cpu_convert(vals, MX_FLOAT32, 1, (char *)j->out + g * j->gs * (int64_t)mx_dtype_size(j->ot),
                   j->ot, 1, j->gs);
  }
}

int mx_cpu_dequantize(const mx_kernel_ctx *ctx, const mx_tensor *in, int n_in, mx_tensor *out,
                      int n_out) {
  const mx_p_dequantize *p = ctx->params;
  if (out[0].size == 0) return 0;
  if (p->group_size > 128)
    return mx_fail_int(MX_EINVAL, "[dequantize] Group size %d is too large.", p->group_size);
  float gscale = 1.0f;
  if (p->mode == MX_QMODE_NVFP4 && n_in > 2) {
    float *g = mx_cpu_q_load(&in[2], MX_FLOAT32);
    if (!g) return -1;
    gscale = g[0] / (448.0f * 6.0f);
    free(g);
  }
  float *sc, *bi;
  if (mx_cpu_q_group_params(&in[1], p->mode == MX_QMODE_AFFINE ? &in[2] : NULL, p->mode, gscale,
                            &sc, &bi) < 0)
    return -1;
  uint32_t *w = mx_cpu_q_load(&in[0], MX_UINT32);
  if (!w) {
    free(sc);
    free(bi);
    return -1;
  }
  q_deq_job j = {w, sc, bi, out[0].data, out[0].dtype, MX_FLOAT32, p->group_size, p->bits,
                 p->mode, (int64_t)p->group_size * p->bits / 32};
  if (p->mode == MX_QMODE_AFFINE) j.ct = mx_promote_types(in[1].dtype, in[2].dtype);
  mx_cpu_parallel_for(out[0].size / p->group_size, 64, q_deq_range, &j);
  free(w);
  free(sc);
  free(bi);
  return 0;
}

/* ---- ToFP8 / FromFP8 ---- */

typedef struct q_fp8_job {
  const void *src;
  void *dst;
  mx_dtype dt;
} q_fp8_job;

static void q_to_fp8_range(void *ctx, int64_t b, int64_t e) {
  const q_fp8_job *j = ctx;
  const float *x = j->src;
  uint8_t *y = j->dst;
  for (int64_t i = b; i < e; i++) y[i] = mx_q_to_fp8(x[i]);
}

static void q_from_fp8_range(void *ctx, int64_t b, int64_t e) {
  const q_fp8_job *j = ctx;
  const uint8_t *x = j->src;
  float tile[MX_CPU_TILE];
  for (int64_t i = b; i < e; i += MX_CPU_TILE) {
    int64_t n = e - i < MX_CPU_TILE ? e - i : MX_CPU_TILE;
    for (int64_t k = 0; k < n; k++) tile[k] = mx_q_from_fp8(x[i + k]);
    mx_cpu_convert(tile, MX_FLOAT32, 1, (char *)j->dst + i * (int64_t)mx_dtype_size(j->dt), j->dt,
                   1, n);
  }
}

int mx_cpu_to_fp8(const mx_kernel_ctx *ctx, const mx_tensor *in, int n_in, mx_tensor *out,
                  int n_out) {
  float *x = mx_cpu_q_load(&in[0], MX_FLOAT32);
  if (!x) return -1;
  q_fp8_job j = {x, out[0].data, MX_UINT8};
  mx_cpu_parallel_for(out[0].size, MX_CPU_PARALLEL_GRAIN, q_to_fp8_range, &j);
  free(x);
  return 0;
}

int mx_cpu_from_fp8(const mx_kernel_ctx *ctx, const mx_tensor *in, int n_in, mx_tensor *out,
                    int n_out) {
  uint8_t *x = mx_cpu_q_load(&in[0], MX_UINT8);
  if (!x) return -1;
  q_fp8_job j = {x, out[0].data, out[0].dtype};
  mx_cpu_parallel_for(out[0].size, MX_CPU_PARALLEL_GRAIN, q_from_fp8_range, &j);
  free(x);
  return 0;
}
