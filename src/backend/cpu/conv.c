/* conv.c: the Convolution primitive on the CPU. Output rows (n, *spatial_out) are taken in
 * blocks; each block's im2col matrix (row: groups x taps x C_in/groups) is filled on the
 * thread pool, reading the input in place through its strides (taps outside the input, or
 * between the points of a dilated input, are zeros), then one OpenBLAS GEMM per group
 * multiplies it by the packed weights. A 1x1, stride-1 convolution of an input whose rows are
 * evenly spaced skips the im2col. float16/bfloat16 compute in float32, float64 and complex64
 * through dgemm/cgemm. Depends on cpu.h, pool.h and cblas. */
#include <cblas.h>
#include <limits.h>
#include <stdatomic.h>
#include <string.h>

#include "cpu.h"
#include "pool.h"

#define CONV_NONE INT64_MIN        /* table entry of a tap that reads a zero */
#define CONV_BLOCK_ELEMS (1 << 21) /* im2col elements per block (8 MiB of float32) */

typedef struct conv_plan {
  int nsp;                    /* spatial dims */
  mx_dtype t, ct;             /* tensor dtype, compute dtype */
  int esz, csz;               /* their element sizes */
  int64_t groups, cig, cog, cout;
  int64_t kprod, kg, ktot;    /* taps, contraction length per group, im2col row length */
  int64_t m;                  /* output rows: N * prod(spatial_out) */
  const int32_t *oshape, *kshape; /* [nsp] */
  int64_t sn, sc;             /* input strides of the batch and channel dims */
  int64_t **tab;              /* [nsp][O_d * K_d]: element offset along dim d, or CONV_NONE */
  const char *x;
} conv_plan;

typedef struct conv_job {
  const conv_plan *p;
  char *col;                  /* block rows x ktot, compute dtype */
  int64_t r0;                 /* first output row of the block */
  _Atomic int failed;         /* a worker could not allocate its counters */
} conv_job;

/* n elements from src (element stride ss, tensor dtype) to contiguous dst (compute dtype). */
static void conv_copy(char *dst, const char *src, int64_t n, int64_t ss, const conv_plan *p) {
  if (p->t != p->ct) {
    mx_cpu_convert(src, p->t, ss, dst, p->ct, 1, n);
  } else if (ss == 1) {
    memcpy(dst, src, (size_t)(n * p->esz));
  } else if (p->esz == 4) {
    const uint32_t *s = (const uint32_t *)src;
    uint32_t *d = (uint32_t *)dst;
    for (int64_t i = 0; i < n; i++) d[i] = s[i * ss];
  } else {
    const uint64_t *s = (const uint64_t *)src;
    uint64_t *d = (uint64_t *)dst;
    for (int64_t i = 0; i < n; i++) d[i] = s[i * ss];
  }
}

/* Fills im2col rows [b, e) of the block (pool callback). */
static void conv_im2col(void *ctx, int64_t b, int64_t e) {
  conv_job *j = (conv_job *)ctx;
  const conv_plan *p = j->p;
  int nsp = p->nsp;
  /* per dim: the row's table (offsets for its output coordinate) and the tap counter */
  const int64_t *rows_inline[8];
  int64_t kidx_inline[8];
  const int64_t **row = rows_inline;
  int64_t *kidx = kidx_inline;
  if (nsp > 8) {
    row = (const int64_t **)malloc((size_t)nsp * sizeof(*row));
    kidx = (int64_t *)malloc((size_t)nsp * sizeof(*kidx));
    if (!row || !kidx) {
      atomic_store(&j->failed, 1);
      free((void *)row);
      free(kidx);
      return;
    }
  }
  int64_t cseg = p->cig * p->csz, gseg = p->kg * p->csz, gsrc = p->cig * p->sc * p->esz;
  for (int64_t r = b; r < e; r++) {
    char *dst = j->col + r * p->ktot * p->csz;
    int64_t rem = j->r0 + r;
    for (int d = nsp - 1; d >= 0; d--) {
      row[d] = p->tab[d] + (rem % p->oshape[d]) * p->kshape[d];
      rem /= p->oshape[d];
      kidx[d] = 0;
    }
    const char *base = p->x + rem * p->sn * p->esz;
    for (int64_t k = 0; k < p->kprod; k++) {
      int64_t off = 0;
      bool valid = true;
      for (int d = 0; d < nsp && valid; d++) {
        int64_t v = row[d][kidx[d]];
        valid = v != CONV_NONE;
        off += v;
      }
      char *seg = dst + k * cseg;
      const char *src = base + off * p->esz;
      for (int64_t g = 0; g < p->groups; g++) {
        if (valid) conv_copy(seg + g * gseg, src + g * gsrc, p->cig, p->sc, p);
        else memset(seg + g * gseg, 0, (size_t)cseg);
      }
      for (int d = nsp - 1; d >= 0; d--) {
        if (++kidx[d] < p->kshape[d]) break;
        kidx[d] = 0;
      }
    }
  }
  if (nsp > 8) {
    free((void *)row);
    free(kidx);
  }
}

/* C (m x n, ldc) = A (m x k, lda) @ B^T with B (n x k, ldb), in the compute dtype. */
static void conv_gemm(mx_dtype ct, int m, int n, int k, const void *a, int lda, const void *b,
                      int ldb, void *c, int ldc) {
  switch (ct) {
  case MX_FLOAT64:
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, n, k, 1.0, (const double *)a, lda,
                (const double *)b, ldb, 0.0, (double *)c, ldc);
    break;
  case MX_COMPLEX64: {
    const float one[2] = {1.0f, 0.0f}, zero[2] = {0.0f, 0.0f};
    cblas_cgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, n, k, one, a, lda, b, ldb, zero, c,
                ldc);
    break;
  }
  default:
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, n, k, 1.0f, (const float *)a, lda,
                (const float *)b, ldb, 0.0f, (float *)c, ldc);
    break;
  }
}

/* Builds the per-dim tap tables. 0, or -1 + ENOMEM. */
static int conv_tables(conv_plan *p, const mx_tensor *x, const mx_p_convolution *prm) {
  for (int d = 0; d < p->nsp; d++) {
    int64_t od = p->oshape[d], kdim = p->kshape[d], len = x->shape[1 + d];
    int64_t s = prm->strides.v[d], lo = prm->padding_lo.v[d], kd = prm->kernel_dilation.v[d];
    int64_t id = prm->input_dilation.v[d], xs = x->strides[1 + d];
    int64_t *t = (int64_t *)malloc((size_t)(od * kdim > 0 ? od * kdim : 1) * sizeof(int64_t));
    if (!t) return mx_fail_int(MX_ENOMEM, "[conv] out of memory.");
    p->tab[d] = t;
    for (int64_t o = 0; o < od; o++) {
      for (int64_t k = 0; k < kdim; k++) {
        int64_t kk = prm->flip ? kdim - 1 - k : k;
        int64_t pos = o * s + kk * kd - lo;
        int64_t q = pos >= 0 && pos % id == 0 ? pos / id : -1;
        t[o * kdim + k] = q >= 0 && q < len ? q * xs : CONV_NONE;
      }
    }
  }
  return 0;
}

/* Whether the output rows (n, *spatial) read the input rows one to one at a single stride;
 * sets *ld to it. */
static bool conv_rows_direct(const conv_plan *p, const mx_tensor *x, int64_t *ld) {
  if (p->kprod != 1 || p->t != p->ct || (p->sc != 1 && p->cig > 1)) return false;
  for (int d = 0; d < p->nsp; d++) {
    if (p->oshape[d] != x->shape[1 + d]) return false;
    for (int64_t o = 0; o < p->oshape[d]; o++)
      if (p->tab[d][o] != o * x->strides[1 + d]) return false;
  }
  mx_cpu_iter it;
  const int64_t *st[1] = {x->strides};
  if (mx_cpu_iter_init(&it, 1, x->ndim - 1, x->shape, st) < 0) {
    mx_error_clear();
    return false;
  }
  bool ok = it.ndim == 1;
  *ld = mx_cpu_iter_stride(&it, 0);
  mx_cpu_iter_free(&it);
  if (p->m == 1) *ld = p->ktot > 0 ? p->ktot : 1;
  return ok && *ld >= p->ktot && *ld <= INT_MAX;
}

int mx_cpu_convolution(const mx_kernel_ctx *ctx, const mx_tensor *in, int n_in, mx_tensor *out,
                       int n_out) {
  if (n_in != 2 || n_out != 1)
    return mx_fail_int(MX_EINVAL, "[conv] Expected 2 inputs and 1 output.");
  const mx_p_convolution *prm = (const mx_p_convolution *)ctx->params;
  const mx_tensor *x = &in[0], *w = &in[1];
  mx_dtype t = out->dtype;
  int nd = out->ndim, nsp = nd - 2;
  if (x->dtype != t || w->dtype != t)
    return mx_fail_int(MX_ETYPE, "[conv] Inputs and output must share one dtype.");
  if (t != MX_FLOAT32 && t != MX_FLOAT64 && t != MX_FLOAT16 && t != MX_BFLOAT16 &&
      t != MX_COMPLEX64)
    return mx_fail_int(MX_ETYPE, "[conv] Unsupported dtype %s.", mx_dtype_name(t));
  if (!prm || nsp < 0 || x->ndim != nd || w->ndim != nd || prm->strides.n != nsp)
    return mx_fail_int(MX_EINVAL, "[conv] Inconsistent shapes or parameters.");
  if (!mx_cpu_is_row_contig(out))
    return mx_fail_int(MX_EINVAL, "[conv] The output must be row-contiguous.");
  if (out->size == 0) return 0;

  conv_plan p;
  memset(&p, 0, sizeof p);
  p.nsp = nsp;
  p.t = t;
  p.ct = t == MX_FLOAT16 || t == MX_BFLOAT16 ? MX_FLOAT32 : t;
  p.esz = mx_dtype_size(t);
  p.csz = mx_dtype_size(p.ct);
  p.groups = prm->groups;
  p.cout = w->shape[0];
  if (p.groups < 1 || x->shape[nd - 1] != p.groups * (int64_t)w->shape[nd - 1] ||
      p.cout % p.groups != 0 || out->shape[nd - 1] != p.cout)
    return mx_fail_int(MX_EINVAL, "[conv] Channels do not match the groups.");
  p.cig = w->shape[nd - 1];
  p.cog = p.cout / p.groups;
  p.kprod = 1;
  for (int d = 0; d < nsp; d++) p.kprod *= w->shape[1 + d];
  p.kg = p.kprod * p.cig;
  p.ktot = p.kg * p.groups;
  p.m = out->size / p.cout;
  p.oshape = out->shape + 1;
  p.kshape = w->shape + 1;
  p.sn = x->strides[0];
  p.sc = x->strides[nd - 1];
  p.x = (const char *)x->data;
  if (p.kg == 0) {
    memset(out->data, 0, (size_t)out->size * (size_t)p.esz);
    return 0;
  }
  if (p.kg > INT_MAX || p.ktot > INT_MAX || p.cout > INT_MAX)
    return mx_fail_int(MX_EINVAL, "[conv] The kernel is too large for BLAS.");

  int rc = 0;
  char *wbuf = NULL, *col = NULL, *cbuf = NULL;
  int64_t *tabs_inline[8];
  p.tab = nsp <= 8 ? tabs_inline : (int64_t **)calloc((size_t)nsp, sizeof(int64_t *));
  if (!p.tab) return mx_fail_int(MX_ENOMEM, "[conv] out of memory.");
  for (int d = 0; d < nsp; d++) p.tab[d] = NULL;
  rc = conv_tables(&p, x, prm);

  /* Weights as a contiguous (C_out, kg) matrix of the compute dtype. */
  const char *wp = (const char *)w->data;
  if (rc == 0 && (t != p.ct || !mx_cpu_is_row_contig(w))) {
    wbuf = (char *)malloc((size_t)(p.cout * p.kg * p.csz));
    int64_t *wst = (int64_t *)malloc((size_t)nd * sizeof(int64_t));
    if (!wbuf || !wst) {
      rc = mx_fail_int(MX_ENOMEM, "[conv] out of memory.");
    } else {
      int64_t acc = 1;
      for (int d = nd - 1; d >= 0; d--) wst[d] = acc, acc *= w->shape[d];
      mx_tensor dst = {wbuf, p.ct, nd, w->shape, wst, w->size, 0};
      rc = mx_cpu_copy_strided(w, &dst);
      wp = wbuf;
    }
    free(wst);
  }

  int64_t ld = 0;
  bool direct = rc == 0 && conv_rows_direct(&p, x, &ld);
  int64_t mb = direct ? p.m : CONV_BLOCK_ELEMS / p.ktot;
  if (mb < 1) mb = 1;
  if (mb > p.m) mb = p.m;
  if (mb > INT_MAX) mb = INT_MAX;
  if (rc == 0 && !direct && !(col = (char *)malloc((size_t)(mb * p.ktot * p.csz))))
    rc = mx_fail_int(MX_ENOMEM, "[malloc] Unable to allocate %lld bytes.",
                     (long long)(mb * p.ktot * p.csz));
  if (rc == 0 && t != p.ct && !(cbuf = (char *)malloc((size_t)(mb * p.cout * p.csz))))
    rc = mx_fail_int(MX_ENOMEM, "[malloc] Unable to allocate %lld bytes.",
                     (long long)(mb * p.cout * p.csz));

  for (int64_t r0 = 0; rc == 0 && r0 < p.m; r0 += mb) {
    int64_t rows = p.m - r0 < mb ? p.m - r0 : mb;
    const char *a = p.x + r0 * ld * p.esz;
    int64_t lda = ld;
    if (!direct) {
      conv_job j = {&p, col, r0, 0};
      int64_t grain = 32768 / p.ktot;
      mx_cpu_parallel_for(rows, grain > 0 ? grain : 1, conv_im2col, &j);
      if (atomic_load(&j.failed)) {
        rc = mx_fail_int(MX_ENOMEM, "[conv] out of memory.");
        break;
      }
      a = col;
      lda = p.ktot;
    }
    char *c = cbuf ? cbuf : (char *)out->data + r0 * p.cout * p.esz;
    for (int64_t g = 0; g < p.groups; g++) {
      int64_t aoff = direct ? g * p.cig * p.sc * p.esz : g * p.kg * p.csz;
      conv_gemm(p.ct, (int)rows, (int)p.cog, (int)p.kg, a + aoff, (int)lda,
                wp + g * p.cog * p.kg * p.csz, (int)p.kg, c + g * p.cog * p.csz, (int)p.cout);
    }
    if (cbuf)
      mx_cpu_convert(cbuf, p.ct, 1, (char *)out->data + r0 * p.cout * p.esz, t, 1,
                     rows * p.cout);
  }

  for (int d = 0; d < nsp; d++) free(p.tab[d]);
  if (p.tab != tabs_inline) free(p.tab);
  free(wbuf);
  free(col);
  free(cbuf);
  return rc;
}
