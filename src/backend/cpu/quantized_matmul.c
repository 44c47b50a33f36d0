/* quantized_matmul.c: the QuantizedMatmul and GatherQMM kernels on the CPU. The weights are
 * never dequantized whole: with few rows of x (decode) each thread unpacks the weight rows
 * of its output columns group by group and accumulates float32 dot products (large
 * transposed affine products take qdot.h's integer path instead); with more rows
 * (prefill) tiles of the weights are unpacked into a scratch and multiplied by sgemm.
 * Depends on quantized.h, pool.h and cblas. */
#include <cblas.h>
#include <string.h>

#include "pool.h"
#include "qdot.h"
#include "qmv_cols.h"
#include "quantized.h"

#define QMM_SMALL_M 8    /* up to this many rows of x: the unpack-and-dot path */
#define QMM_TILE 128     /* weight rows per unpacked tile on the sgemm path */

/* One quantized matrix and the x rows it multiplies. */
typedef struct qmm_mat {
  const float *x;       /* M x K, row-major */
  const uint32_t *w;    /* rows x words_per_row */
  const float *sc, *bi; /* rows x groups_per_row */
  float *out;           /* M x N, row-major */
  int M, N, K;
  int bits, gs, mode;
  bool transpose;       /* w rows are the N outputs (K along the row) */
} qmm_mat;

static int64_t qmm_words(const qmm_mat *m, int len) { return (int64_t)len * m->bits / 32; }

/* Unpacks rows [r0, r1) of the weight matrix into tile (row length rl). */
typedef struct qmm_tile_job {
  const qmm_mat *m;
  float *tile;
  int r0, rl;
} qmm_tile_job;

static void qmm_tile_range(void *ctx, int64_t b, int64_t e) {
  const qmm_tile_job *j = ctx;
  const qmm_mat *m = j->m;
  int ng = j->rl / m->gs;
  for (int64_t r = b; r < e; r++) {
    int64_t row = j->r0 + r;
    mx_cpu_q_decode(m->w + row * qmm_words(m, j->rl), j->rl, m->bits, m->gs, m->mode,
                    m->sc + row * ng, m->bi + row * ng, j->tile + r * j->rl);
  }
}

static float qmm_dot(const float *a, const float *b, int n) {
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int i = 0;
  for (; i + 8 <= n; i += 8)
    for (int k = 0; k < 8; k++) acc[k] += a[i + k] * b[i + k];
  float s = 0.0f;
  for (; i < n; i++) s += a[i] * b[i];
  for (int k = 0; k < 8; k++) s += acc[k];
  return s;
}

/* transpose, small M: threads own output columns n; each unpacks row n and dots it. */
static void qmm_t_rows(void *ctx, int64_t b, int64_t e) {
  const qmm_mat *m = ctx;
  float *row = malloc((size_t)m->K * sizeof(float));
  if (!row) return; /* reported by the caller's preallocation check */
  int ng = m->K / m->gs;
  for (int64_t n = b; n < e; n++) {
    mx_cpu_q_decode(m->w + n * qmm_words(m, m->K), m->K, m->bits, m->gs, m->mode,
                    m->sc + n * ng, m->bi + n * ng, row);
    for (int i = 0; i < m->M; i++)
      m->out[(int64_t)i * m->N + n] = qmm_dot(m->x + (int64_t)i * m->K, row, m->K);
  }
  free(row);
}

/* no transpose, small M: threads own blocks of output columns (whole groups) and walk K. */
static void qmm_n_cols(void *ctx, int64_t b, int64_t e) {
  const qmm_mat *m = ctx;
  int64_t c0 = b * m->gs, c1 = e * m->gs;
  int len = (int)(c1 - c0);
  float *seg = malloc((size_t)len * sizeof(float));
  if (!seg) return;
  int ng = m->N / m->gs;
  for (int i = 0; i < m->M; i++) memset(m->out + (int64_t)i * m->N + c0, 0, (size_t)len * 4);
  for (int64_t k = 0; k < m->K; k++) {
    mx_cpu_q_decode(m->w + k * qmm_words(m, m->N) + qmm_words(m, (int)c0), len, m->bits, m->gs,
                    m->mode, m->sc + k * ng + b, m->bi + k * ng + b, seg);
    for (int i = 0; i < m->M; i++) {
      float xv = m->x[(int64_t)i * m->K + k];
      float *o = m->out + (int64_t)i * m->N + c0;
      for (int c = 0; c < len; c++) o[c] += xv * seg[c];
    }
  }
  free(seg);
}

static int qmm_run(const qmm_mat *m) {
  if (m->M == 0 || m->N == 0) return 0;
  if (m->K == 0) {
    memset(m->out, 0, (size_t)m->M * m->N * sizeof(float));
    return 0;
  }
  if (m->transpose && mx_cpu_qdot_applies(m->M, m->N, m->K, m->bits, m->gs, m->mode)) {
    int rc = mx_cpu_qdot_matmul(m->x, m->M, m->K, m->w, m->sc, m->bi, m->N, m->bits, m->gs,
                                m->out);
    if (rc <= 0) return rc;
  }
  if (!m->transpose && m->M <= QMM_SMALL_M && m->mode == MX_QMODE_AFFINE) {
    int rc = mx_cpu_qmv_cols(m->x, m->M, m->K, m->w, m->sc, m->bi, m->N, m->bits, m->gs,
                             m->out);
    if (rc <= 0) return rc;
  }
  if (m->M <= QMM_SMALL_M) {
    /* probe that the per-thread scratch can be had, so a failure is reported */
    void *probe = malloc((size_t)(m->transpose ? m->K : m->N) * sizeof(float));
    if (!probe) return mx_fail_int(MX_ENOMEM, "[quantized_matmul] out of memory.");
    free(probe);
    if (m->transpose) {
      int64_t grain = 1 + (int64_t)32768 / (m->K > 0 ? m->K : 1);
      mx_cpu_parallel_for(m->N, grain, qmm_t_rows, (void *)m);
    } else {
      int64_t groups = m->N / m->gs;
      int64_t grain = 1 + (int64_t)4096 / ((int64_t)m->gs * (m->K > 0 ? m->K : 1) / 64 + 1);
      mx_cpu_parallel_for(groups, grain, qmm_n_cols, (void *)m);
    }
    return 0;
  }
  int rl = m->transpose ? m->K : m->N;
  int rows = m->transpose ? m->N : m->K;
  float *tile = malloc((size_t)QMM_TILE * rl * sizeof(float));
  if (!tile) return mx_fail_int(MX_ENOMEM, "[quantized_matmul] out of memory.");
  for (int r0 = 0; r0 < rows; r0 += QMM_TILE) {
    int nr = rows - r0 < QMM_TILE ? rows - r0 : QMM_TILE;
    qmm_tile_job tj = {m, tile, r0, rl};
    mx_cpu_parallel_for(nr, 4, qmm_tile_range, &tj);
    if (m->transpose)
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m->M, nr, m->K, 1.0f, m->x, m->K,
                  tile, rl, 0.0f, m->out + r0, m->N);
    else
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m->M, m->N, nr, 1.0f, m->x + r0,
                  m->K, tile, rl, r0 ? 1.0f : 0.0f, m->out, m->N);
  }
  free(tile);
  return 0;
}

int mx_cpu_qmm_rows(const float *x, int M, int K, const uint32_t *w, const float *sc,
                    const float *bi, int N, int bits, int gs, int mode, float *out) {
  qmm_mat m = {x, w, sc, bi, out, M, N, K, bits, gs, mode, true};
  return qmm_run(&m);
}

/* Element offset of flat batch index i of t (its dims before the last two). */
static int64_t qmm_batch_offset(const mx_tensor *t, int64_t i) {
  int64_t off = 0;
  for (int d = t->ndim - 3; d >= 0; d--) {
    off += (i % t->shape[d]) * t->strides[d];
    i /= t->shape[d];
  }
  return off;
}

static bool qmm_last2_contig(const mx_tensor *t) {
  int n = t->ndim;
  return (t->shape[n - 1] == 1 || t->strides[n - 1] == 1) &&
         (t->shape[n - 2] == 1 || t->strides[n - 2] == t->shape[n - 1]);
}

/* Float32 scales and biases of every group: borrowed from the inputs when they already are
 * row-contiguous float32 affine parameters (*own stays 0), else decoded copies. */
static int qmm_group_params(const mx_tensor *scales, const mx_tensor *biases, int mode,
                            float **sc, float **bi, bool *own) {
  *own = !(mode == MX_QMODE_AFFINE && biases && scales->dtype == MX_FLOAT32 &&
           biases->dtype == MX_FLOAT32 && mx_cpu_is_row_contig(scales) &&
           mx_cpu_is_row_contig(biases));
  if (*own) return mx_cpu_q_group_params(scales, biases, mode, 1.0f, sc, bi);
  *sc = scales->data;
  *bi = biases->data;
  return 0;
}

/* The shared driver: nmat products; matrix i uses x batch xi(i) and w batch wi(i). */
typedef struct qmm_args {
  const mx_tensor *x, *w, *scales, *biases;
  const uint32_t *lhs, *rhs; /* NULL: QuantizedMatmul's batch mapping */
  int64_t nmat, x_batches, w_batches;
  mx_tensor *out;
  int bits, gs, mode;
  bool transpose;
} qmm_args;

static int qmm_drive(const qmm_args *a) {
  const mx_tensor *x = a->x, *w = a->w;
  int K = x->shape[x->ndim - 1];
  int M = x->ndim > 1 ? x->shape[x->ndim - 2] : 1;
  int N = a->out->shape[a->out->ndim - 1];
  int wrows = w->shape[w->ndim - 2];
  int64_t wmat = (int64_t)wrows * w->shape[w->ndim - 1];
  int64_t gmat = (int64_t)wrows * (a->transpose ? K : N) / a->gs;
  float *xf = mx_cpu_q_load(x, MX_FLOAT32);
  float *of = xf ? malloc((size_t)(a->nmat * M * N > 0 ? a->nmat * M * N : 1) * 4) : NULL;
  float *sc = NULL, *bi = NULL;
  bool own = true;
  uint32_t *wc = NULL;
  int rc = -1;
  if (!of) goto done;
  if (qmm_group_params(a->scales, a->biases, a->mode, &sc, &bi, &own) < 0) goto done;
  const uint32_t *wbase = w->data;
  bool strided = w->ndim > 2 && qmm_last2_contig(w);
  if (!qmm_last2_contig(w) || w->ndim == 2) {
    if (!mx_cpu_is_row_contig(w)) {
      wc = mx_cpu_q_load(w, MX_UINT32);
      if (!wc) goto done;
      wbase = wc;
    }
    strided = false;
  }
  for (int64_t i = 0; i < a->nmat; i++) {
    int64_t xi = a->lhs ? a->lhs[i] : i;
    int64_t wi = a->rhs ? a->rhs[i] : (w->ndim > 2 ? i : 0);
    if (xi >= a->x_batches) xi = a->x_batches - 1;
    if (wi >= a->w_batches) wi = a->w_batches - 1;
    qmm_mat m = {xf + xi * M * K,
                 wbase + (strided ? qmm_batch_offset(w, wi) : wi * wmat),
                 sc + wi * gmat,
                 bi + wi * gmat,
                 of + i * M * N,
                 M, N, K, a->bits, a->gs, a->mode, a->transpose};
    if (qmm_run(&m) < 0) goto done;
  }
  mx_cpu_convert(of, MX_FLOAT32, 1, a->out->data, a->out->dtype, 1, a->nmat * M * N);
  rc = 0;
done:
  free(xf);
  free(of);
  if (own) {
    free(sc);
    free(bi);
  }
  free(wc);
  return rc;
}

static int64_t qmm_batches(const mx_tensor *t) {
  int64_t b = 1;
  for (int d = 0; d < t->ndim - 2; d++) b *= t->shape[d];
  return b;
}

int mx_cpu_quantized_matmul(const mx_kernel_ctx *ctx, const mx_tensor *in, int n_in,
                            mx_tensor *out, int n_out) {
  const mx_p_quantized_matmul *p = ctx->params;
  if (out[0].size == 0) return 0;
  const mx_tensor *x = &in[0];
  int K = x->shape[x->ndim - 1];
  int M = x->ndim > 1 ? x->shape[x->ndim - 2] : 1;
  int64_t nmat = K && M ? x->size / ((int64_t)K * M) : out[0].size / ((int64_t)M * out[0].shape[out[0].ndim - 1]);
  qmm_args a = {x, &in[1], &in[2], n_in > 3 ? &in[3] : NULL, NULL, NULL, nmat,
                nmat, qmm_batches(&in[1]), &out[0], p->bits, p->group_size, p->mode,
                p->transpose};
  return qmm_drive(&a);
}

int mx_cpu_gather_qmm(const mx_kernel_ctx *ctx, const mx_tensor *in, int n_in, mx_tensor *out,
                      int n_out) {
  const mx_p_gather_qmm *p = ctx->params;
  if (out[0].size == 0) return 0;
  const mx_tensor *li = &in[n_in - 2], *ri = &in[n_in - 1];
  uint32_t *lhs = mx_cpu_q_load(li, MX_UINT32);
  uint32_t *rhs = lhs ? mx_cpu_q_load(ri, MX_UINT32) : NULL;
  int rc = -1;
  if (rhs) {
    qmm_args a = {&in[0], &in[1], &in[2], p->mode == MX_QMODE_AFFINE ? &in[3] : NULL, lhs, rhs,
                  li->size, qmm_batches(&in[0]), qmm_batches(&in[1]), &out[0], p->bits,
                  p->group_size, p->mode, p->transpose};
    rc = qmm_drive(&a);
  }
  free(lhs);
  free(rhs);
  return rc;
}
