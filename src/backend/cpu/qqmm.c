/* qqmm.c: the QQMatmul kernel on the CPU. x is quantized and dequantized group by group
 * (nvfp4 / mxfp8, as mx.quantize would), w too when it comes as floats; the product of the
 * two float32 matrices is sgemm (float w) or quantized_matmul's kernel (packed w), then
 * converted to the output dtype. Depends on quantized.h, cblas. */
#include <cblas.h>
#include <string.h>

#include "quantized.h"

/* The float32 value of a scalar input. */
static int qq_scalar(const mx_tensor *t, float *v) {
  float *p = mx_cpu_q_load(t, MX_FLOAT32);
  if (!p) return -1;
  *v = p[0];
  free(p);
  return 0;
}

/* Float32 copy of a float matrix quantized and dequantized along its last axis. */
static float *qq_fake(const mx_tensor *t, int gs, int mode, const float *g) {
  float *v = mx_cpu_q_load(t, MX_FLOAT32);
  if (v && t->size > 0) mx_cpu_q_fake_quant(v, t->size, t->dtype, gs, mode, g);
  return v;
}

int mx_cpu_qqmatmul(const mx_kernel_ctx *ctx, const mx_tensor *in, int n_in, mx_tensor *out,
                    int n_out) {
  (void)n_out;
  const mx_p_qqmatmul *p = ctx->params;
  if (out[0].size == 0) return 0;
  const mx_tensor *x = &in[0], *w = &in[1];
  bool packed = w->dtype == MX_UINT32;
  int first_g = packed ? 3 : 2;
  bool has_g = n_in >= first_g + 2;
  float gx = 1.0f, gw = 1.0f;
  if (has_g && (qq_scalar(&in[first_g], &gx) < 0 || qq_scalar(&in[first_g + 1], &gw) < 0))
    return -1;
  int K = x->shape[x->ndim - 1];
  int N = out[0].shape[out[0].ndim - 1];
  int64_t rows = out[0].size / N;
  int64_t nb = 1; /* batches of w (its dims before the last two), matched by x's */
  for (int d = 0; d < w->ndim - 2; d++) nb *= w->shape[d];
  int64_t mb = rows / nb;
  float *of = malloc((size_t)out[0].size * sizeof(float));
  float *xf = of ? qq_fake(x, p->group_size, p->mode, has_g ? &gx : NULL) : NULL;
  float *wf = NULL, *sc = NULL, *bi = NULL;
  uint32_t *wq = NULL;
  int rc = -1;
  if (!xf) goto done;
  if (K == 0) {
    memset(of, 0, (size_t)out[0].size * sizeof(float));
  } else if (!packed) {
    wf = qq_fake(w, p->group_size, p->mode, has_g ? &gw : NULL);
    if (!wf) goto done;
    for (int64_t b = 0; b < nb; b++)
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)mb, N, K, 1.0f,
                  xf + b * mb * K, K, wf + b * (int64_t)N * K, K, 0.0f, of + b * mb * N, N);
  } else {
    float dec = has_g ? gw / (448.0f * 6.0f) : 1.0f;
    if (mx_cpu_q_group_params(&in[2], NULL, p->mode, dec, &sc, &bi) < 0) goto done;
    wq = mx_cpu_q_load(w, MX_UINT32);
    if (!wq) goto done;
    int64_t words = (int64_t)K * p->bits / 32, ng = K / p->group_size;
    for (int64_t b = 0; b < nb; b++)
      if (mx_cpu_qmm_rows(xf + b * mb * K, (int)mb, K, wq + b * N * words, sc + b * N * ng,
                          bi + b * N * ng, N, p->bits, p->group_size, p->mode,
                          of + b * mb * N) < 0)
        goto done;
  }
  mx_cpu_convert(of, MX_FLOAT32, 1, out[0].data, out[0].dtype, 1, out[0].size);
  rc = 0;
done:
  free(of);
  free(xf);
  free(wf);
  free(sc);
  free(bi);
  free(wq);
  return rc;
}
