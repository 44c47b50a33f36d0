/* conv.c: the Convolution and ConvolutionWeight primitives on the CPU. Output rows
 * (n, *spatial_out) are taken in blocks; each block's im2col matrix (row: groups x taps x
 * C_in/groups) is filled on the thread pool, reading the input in place through its strides
 * (taps outside the input, or between the points of a dilated input, are zeros). Convolution
 * multiplies it by the packed weights (one OpenBLAS GEMM per group and block);
 * ConvolutionWeight accumulates cotangent^T @ im2col over the blocks. A 1x1, stride-1
 * convolution of an input whose rows are evenly spaced skips the im2col; input dilation goes
 * through the phase classes of conv_phase.c, groups with few channels to the direct loops of
 * conv_grouped.c, one group with few input channels to those of conv_lines.c, 3x3 stride-1
 * float32 2-D convolutions to the Winograd tiles of conv_winograd.c, 1-D single-channel convolutions to the dot products of conv_single.c.
 * float16/bfloat16 compute in float32, float64 and complex64 through dgemm/cgemm. Depends on
 * conv.h, gemm.h and pool.h. */
#include <limits.h>
#include <stdatomic.h>
#include <string.h>

#include "conv.h"
#include "gemm.h"
#include "pool.h"

#define CONV_BLOCK_ELEMS (1 << 20) /* im2col elements per block (4 MiB of float32) */

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

/* One im2col row when the taps along the last dim read consecutive input points (one
 * group, unit channel stride, no conversion, kernel dilation 1, no flip): a copy per run of
 * in-range taps, zeros around it. row/kidx as set by mx_cpu_conv_row. */
static void conv_im2col_runs(const conv_plan *p, char *dst, const char *base,
                             const int64_t *row, int64_t *kidx) {
  int last = p->nsp - 1;
  const conv_dim *c = &p->dims[last];
  int64_t klen = p->kshape[last], outer = p->kprod / klen, cseg = p->cig * p->csz;
  int64_t first = row[last] + c->koff[0];                  /* position of tap 0 */
  int64_t k0 = first >= 0 ? 0 : -first, k1 = c->span - first;
  k0 = k0 < klen ? k0 : klen;
  k1 = k1 < k0 ? k0 : (k1 < klen ? k1 : klen);
  for (int64_t t = 0; t < outer; t++, dst += klen * cseg) {
    int64_t off = 0;
    for (int d = 0; d < last && off != CONV_NONE; d++) {
      const conv_dim *cd = &p->dims[d];
      int64_t pos = row[d] + cd->koff[kidx[d]];
      if (pos < 0 || pos >= cd->span || (cd->e > 1 && pos % cd->e != 0))
        off = CONV_NONE;
      else
        off += (cd->e > 1 ? pos / cd->e : pos) * cd->xs;
    }
    for (int d = last - 1; d >= 0; d--) {
      if (++kidx[d] < p->kshape[d]) break;
      kidx[d] = 0;
    }
    if (off == CONV_NONE || k1 == k0) {
      memset(dst, 0, (size_t)(klen * cseg));
      continue;
    }
    memset(dst, 0, (size_t)(k0 * cseg));
    memcpy(dst + k0 * cseg, base + (off + (first + k0) * c->xs) * p->esz,
           (size_t)((k1 - k0) * cseg));
    memset(dst + k1 * cseg, 0, (size_t)((klen - k1) * cseg));
  }
}

/* Fills im2col rows [b, e) of the block (pool callback). */
static void conv_im2col(void *ctx, int64_t b, int64_t e) {
  conv_job *j = (conv_job *)ctx;
  const conv_plan *p = j->p;
  int nsp = p->nsp;
  /* per dim: the row's table (offsets for its output coordinate) and the tap counter */
  int64_t rows_inline[8], kidx_inline[8];
  int64_t *row = rows_inline, *kidx = kidx_inline;
  if (nsp > 8) {
    row = (int64_t *)malloc((size_t)nsp * sizeof(*row));
    kidx = (int64_t *)malloc((size_t)nsp * sizeof(*kidx));
    if (!row || !kidx) {
      atomic_store(&j->failed, 1);
      free(row);
      free(kidx);
      return;
    }
  }
  int64_t cseg = p->cig * p->csz, gseg = p->kg * p->csz, gsrc = p->cig * p->sc * p->esz;
  for (int64_t r = b; r < e; r++) {
    char *dst = j->col + r * p->ktot * p->csz;
    const char *base = mx_cpu_conv_row(p, j->r0 + r, row, kidx);
    if (p->runs) {
      conv_im2col_runs(p, dst, base, row, kidx);
      continue;
    }
    for (int64_t k = 0; k < p->kprod; k++) {
      int64_t off = mx_cpu_conv_tap(p, row, kidx);
      char *seg = dst + k * cseg;
      for (int64_t g = 0; g < p->groups; g++) {
        if (off != CONV_NONE)
          conv_copy(seg + g * gseg, base + off * p->esz + g * gsrc, p->cig, p->sc, p);
        else
          memset(seg + g * gseg, 0, (size_t)cseg);
      }
    }
  }
  if (nsp > 8) {
    free(row);
    free(kidx);
  }
}

void mx_cpu_conv_gemm(mx_dtype ct, bool ta, bool tb, int m, int n, int k, const void *a, int lda,
                      const void *b, int ldb, bool accumulate, void *c, int ldc) {
  mx_cpu_gemm(ct, ta, tb, m, n, k, a, lda, b, ldb, accumulate, c, ldc);
}

/* Fills the per-dim read positions. 0, or -1 + ENOMEM. */
static int conv_dims_fill(conv_plan *p, const mx_tensor *x, const mx_p_convolution *prm) {
  for (int d = 0; d < p->nsp; d++) {
    conv_dim *c = &p->dims[d];
    int64_t od = p->oshape[d], kdim = p->kshape[d], len = x->shape[1 + d];
    int64_t s = prm->strides.v[d], lo = prm->padding_lo.v[d], kd = prm->kernel_dilation.v[d];
    c->e = prm->input_dilation.v[d];
    c->span = len > 0 ? (len - 1) * c->e + 1 : 0;
    c->xs = x->strides[1 + d];
    c->base = (int64_t *)malloc((size_t)(od > 0 ? od : 1) * sizeof(int64_t));
    c->koff = (int64_t *)malloc((size_t)(kdim > 0 ? kdim : 1) * sizeof(int64_t));
    if (!c->base || !c->koff) return mx_fail_int(MX_ENOMEM, "[conv] out of memory.");
    for (int64_t o = 0; o < od; o++) c->base[o] = o * s - lo;
    for (int64_t k = 0; k < kdim; k++) c->koff[k] = (prm->flip ? kdim - 1 - k : k) * kd;
  }
  return 0;
}

/* Whether the output rows (n, *spatial) read the input rows one to one at a single stride;
 * sets *ld to it. */
static bool conv_rows_direct(const conv_plan *p, const mx_tensor *x, int64_t *ld) {
  if (p->kprod != 1 || p->t != p->ct || (p->sc != 1 && p->cig > 1)) return false;
  for (int d = 0; d < p->nsp; d++) {
    if (p->oshape[d] != x->shape[1 + d]) return false;
    const conv_dim *c = &p->dims[d];
    if (c->e != 1) return false;
    for (int64_t o = 0; o < p->oshape[d]; o++)
      if (c->base[o] + c->koff[0] != o) return false;
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

int mx_cpu_conv_plan_init(conv_plan *p, const mx_p_convolution *prm, const mx_tensor *x,
                           mx_dtype t, const int32_t *oshape, const int32_t *kshape,
                           int64_t cout, int64_t cig) {
  int nsp = x->ndim - 2;
  memset(p, 0, sizeof *p);
  p->nsp = nsp;
  p->t = t;
  p->ct = t == MX_FLOAT16 || t == MX_BFLOAT16 ? MX_FLOAT32 : t;
  p->esz = mx_dtype_size(t);
  p->csz = mx_dtype_size(p->ct);
  p->groups = prm->groups;
  p->cout = cout;
  p->cig = cig;
  if (p->groups < 1 || x->shape[nsp + 1] != p->groups * cig || cout % p->groups != 0)
    return mx_fail_int(MX_EINVAL, "[conv] Channels do not match the groups.");
  p->cog = cout / p->groups;
  p->kprod = 1;
  p->m = x->shape[0];
  for (int d = 0; d < nsp; d++) p->kprod *= kshape[d], p->m *= oshape[d];
  p->kg = p->kprod * cig;
  p->ktot = p->kg * p->groups;
  p->oshape = oshape;
  p->kshape = kshape;
  p->sn = x->strides[0];
  p->sc = x->strides[nsp + 1];
  p->x = (const char *)x->data;
  if (p->kg > INT_MAX || p->ktot > INT_MAX || cout > INT_MAX)
    return mx_fail_int(MX_EINVAL, "[conv] The kernel is too large for BLAS.");
  p->dims = nsp <= 8 ? p->dims_inline : (conv_dim *)calloc((size_t)nsp, sizeof(conv_dim));
  if (!p->dims) return mx_fail_int(MX_ENOMEM, "[conv] out of memory.");
  memset(p->dims, 0, (size_t)nsp * sizeof(conv_dim));
  if (conv_dims_fill(p, x, prm) < 0) return -1;
  /* taps along the last dim read consecutive points: im2col copies whole runs */
  if (nsp > 0 && p->groups == 1 && p->sc == 1 && p->esz == p->csz && t == p->ct) {
    const conv_dim *c = &p->dims[nsp - 1];
    p->runs = c->e == 1 && c->xs == p->cig && p->kshape[nsp - 1] > 0;
    for (int64_t k = 0; p->runs && k < p->kshape[nsp - 1]; k++)
      p->runs = c->koff[k] == c->koff[0] + k;
  }
  return 0;
}

void mx_cpu_conv_plan_free(conv_plan *p) {
  if (!p->dims) return;
  for (int d = 0; d < p->nsp; d++) free(p->dims[d].base), free(p->dims[d].koff);
  if (p->dims != p->dims_inline) free(p->dims);
  p->dims = NULL;
}

const char *mx_cpu_conv_pack(const mx_tensor *src, mx_dtype ct, char **buf) {
  *buf = NULL;
  if (src->dtype == ct && mx_cpu_is_row_contig(src)) return (const char *)src->data;
  int nd = src->ndim;
  *buf = (char *)malloc((size_t)(src->size > 0 ? src->size : 1) * (size_t)mx_dtype_size(ct));
  int64_t *st = (int64_t *)malloc((size_t)(nd > 0 ? nd : 1) * sizeof(int64_t));
  if (!*buf || !st) {
    free(st);
    free(*buf);
    *buf = NULL;
    return mx_fail(MX_ENOMEM, "[conv] out of memory.");
  }
  int64_t acc = 1;
  for (int d = nd - 1; d >= 0; d--) st[d] = acc, acc *= src->shape[d];
  mx_tensor dst = {*buf, ct, nd, src->shape, st, src->size, 0};
  int rc = mx_cpu_copy_strided(src, &dst);
  free(st);
  return rc == 0 ? *buf : NULL;
}

int64_t mx_cpu_conv_block_rows(const conv_plan *p, const mx_tensor *x, bool *direct, int64_t *ld) {
  *ld = 0;
  *direct = conv_rows_direct(p, x, ld);
  int64_t mb = *direct ? p->m : CONV_BLOCK_ELEMS / p->ktot;
  if (mb < 1) mb = 1;
  if (mb > p->m) mb = p->m;
  return mb > INT_MAX ? INT_MAX : mb;
}

int mx_cpu_conv_blocks(const conv_plan *p, const mx_tensor *x, conv_block_fn fn, void *ctx) {
  int64_t ld;
  bool direct;
  int64_t mb = mx_cpu_conv_block_rows(p, x, &direct, &ld);
  char *col = NULL;
  if (!direct && !(col = (char *)malloc((size_t)(mb * p->ktot * p->csz))))
    return mx_fail_int(MX_ENOMEM, "[malloc] Unable to allocate %lld bytes.",
                       (long long)(mb * p->ktot * p->csz));
  int rc = 0;
  for (int64_t r0 = 0; r0 < p->m; r0 += mb) {
    int64_t rows = p->m - r0 < mb ? p->m - r0 : mb;
    if (direct) {
      fn(p, r0, rows, p->x + r0 * ld * p->esz, ld, true, ctx);
      continue;
    }
    conv_job j = {p, col, r0, 0};
    int64_t grain = 32768 / p->ktot;
    mx_cpu_parallel_for(rows, grain > 0 ? grain : 1, conv_im2col, &j);
    if (atomic_load(&j.failed)) {
      rc = mx_fail_int(MX_ENOMEM, "[conv] out of memory.");
      break;
    }
    fn(p, r0, rows, col, p->ktot, false, ctx);
  }
  free(col);
  return rc;
}

int64_t mx_cpu_conv_group_offset(const conv_plan *p, int64_t g, bool direct) {
  return direct ? g * p->cig * p->sc * p->esz : g * p->kg * p->csz;
}

/* ---- Convolution ---- */
typedef struct conv_fwd {
  const char *w;    /* (C_out, kg) compute dtype */
  char *out;        /* output rows, tensor dtype */
  char *cbuf;       /* a block of output rows in the compute dtype, or NULL */
} conv_fwd;

static void conv_forward_block(const conv_plan *p, int64_t r0, int64_t n, const char *a,
                               int64_t lda, bool direct, void *ctx) {
  conv_fwd *f = (conv_fwd *)ctx;
  char *c = f->cbuf ? f->cbuf : f->out + r0 * p->cout * p->esz;
  for (int64_t g = 0; g < p->groups; g++)
    mx_cpu_conv_gemm(p->ct, false, true, (int)n, (int)p->cog, (int)p->kg,
                     a + mx_cpu_conv_group_offset(p, g, direct), (int)lda,
                     f->w + g * p->cog * p->kg * p->csz, (int)p->kg, false,
                     c + g * p->cog * p->csz, (int)p->cout);
  if (f->cbuf)
    mx_cpu_convert(f->cbuf, p->ct, 1, f->out + r0 * p->cout * p->esz, p->t, 1, n * p->cout);
}

/* Shared argument checks: dtypes, ranks, contiguous output. 1 when there is nothing to do. */
static int conv_check(const char *what, const mx_tensor *a, const mx_tensor *b,
                      const mx_tensor *out, int nsp_params) {
  mx_dtype t = out->dtype;
  if (a->dtype != t || b->dtype != t)
    return mx_fail_int(MX_ETYPE, "[%s] Inputs and output must share one dtype.", what);
  if (t != MX_FLOAT32 && t != MX_FLOAT64 && t != MX_FLOAT16 && t != MX_BFLOAT16 &&
      t != MX_COMPLEX64)
    return mx_fail_int(MX_ETYPE, "[%s] Unsupported dtype %s.", what, mx_dtype_name(t));
  int nd = out->ndim;
  if (nd < 2 || a->ndim != nd || b->ndim != nd || nsp_params != nd - 2)
    return mx_fail_int(MX_EINVAL, "[%s] Inconsistent shapes or parameters.", what);
  if (!mx_cpu_is_row_contig(out))
    return mx_fail_int(MX_EINVAL, "[%s] The output must be row-contiguous.", what);
  return out->size == 0 ? 1 : 0;
}

/* ---- grouped convolutions with few channels per group (conv_grouped.c) ---- */

static mx_dtype conv_compute_dtype(mx_dtype t) {
  return t == MX_FLOAT16 || t == MX_BFLOAT16 ? MX_FLOAT32 : t;
}

/* Whether the direct loops (grouped with few channels, one group with few input channels, or
 * 1-D single channel) take it; kshape: the kernel's nsp spatial dims. */
static bool conv_direct(const mx_p_convolution *prm, const int32_t *kshape, int64_t cig,
                        int64_t cout, mx_dtype ct) {
  if (prm->groups < 1 || cout % prm->groups != 0) return false;
  if (mx_cpu_conv_grouped_ok(prm->groups, cig, cout / prm->groups, ct)) return true;
  int nsp = prm->strides.n;
  bool undilated = true;
  int64_t ktot = cig;
  for (int d = 0; d < nsp; d++) {
    undilated = undilated && prm->input_dilation.v[d] == 1;
    ktot *= kshape[d];
  }
  if (!undilated || prm->groups != 1 || (ct != MX_FLOAT32 && ct != MX_FLOAT64)) return false;
  if (nsp == 1 && cig == 1 && cout == 1) return true; /* conv_single.c */
  return nsp >= 1 && cig <= 4 && ktot <= 32 && cout <= 256; /* conv_lines.c */
}

/* x viewed in the compute dtype ct with unit channel stride: x itself, or a row-major copy
 * (*buf, strides in *st). */
static int conv_input_as(const mx_tensor *x, mx_dtype ct, mx_tensor *xc, char **buf,
                         int64_t **st) {
  *xc = *x;
  *buf = NULL;
  *st = NULL;
  if (x->dtype == ct && (x->strides[x->ndim - 1] == 1 || x->shape[x->ndim - 1] <= 1)) return 0;
  int nd = x->ndim;
  if (!(*st = (int64_t *)malloc((size_t)nd * sizeof(int64_t))))
    return mx_fail_int(MX_ENOMEM, "[conv] out of memory.");
  int64_t acc = 1;
  for (int d = nd - 1; d >= 0; d--) (*st)[d] = acc, acc *= x->shape[d];
  if (!mx_cpu_conv_pack(x, ct, buf)) return -1;
  xc->data = *buf;
  xc->dtype = ct;
  xc->strides = *st;
  return 0;
}

/* w (C_out, K..., C_in/g) as a row-major (K..., C_in/g, C_out) array of dtype ct in *buf. */
static const char *conv_pack_taps_major(const mx_tensor *w, mx_dtype ct, char **buf) {
  int nd = w->ndim;
  int32_t *shape = (int32_t *)malloc((size_t)nd * sizeof(int32_t));
  int64_t *st = (int64_t *)malloc((size_t)nd * sizeof(int64_t));
  int64_t *dst_st = (int64_t *)malloc((size_t)nd * sizeof(int64_t));
  *buf = (char *)malloc((size_t)(w->size > 0 ? w->size : 1) * (size_t)mx_dtype_size(ct));
  const char *r = NULL;
  if (!shape || !st || !dst_st || !*buf) {
    mx_fail(MX_ENOMEM, "[conv] out of memory.");
  } else {
    for (int d = 0; d < nd - 1; d++) shape[d] = w->shape[d + 1], st[d] = w->strides[d + 1];
    shape[nd - 1] = w->shape[0];
    st[nd - 1] = w->strides[0];
    int64_t acc = 1;
    for (int d = nd - 1; d >= 0; d--) dst_st[d] = acc, acc *= shape[d];
    mx_tensor src = {w->data, w->dtype, nd, shape, st, w->size, 0};
    mx_tensor dst = {*buf, ct, nd, shape, dst_st, w->size, 0};
    if (mx_cpu_copy_strided(&src, &dst) == 0) r = *buf;
  }
  free(shape);
  free(st);
  free(dst_st);
  return r;
}

static int conv_forward_grouped(const mx_p_convolution *prm, const mx_tensor *x,
                                const mx_tensor *w, mx_tensor *out, mx_dtype ct) {
  int nd = out->ndim;
  mx_tensor xc;
  char *xbuf = NULL, *wbuf = NULL;
  int64_t *xst = NULL;
  conv_plan p;
  memset(&p, 0, sizeof p);
  int rc = conv_input_as(x, ct, &xc, &xbuf, &xst);
  if (rc == 0)
    rc = mx_cpu_conv_plan_init(&p, prm, &xc, ct, out->shape + 1, w->shape + 1, w->shape[0],
                               w->shape[nd - 1]);
  const char *wk = rc == 0 ? conv_pack_taps_major(w, ct, &wbuf) : NULL;
  if (rc == 0 && !wk) rc = -1;
  if (rc == 0)
    rc = mx_cpu_conv_single_ok(&p)  ? mx_cpu_conv_single_forward(&p, prm, wk, out)
         : mx_cpu_conv_lines_ok(&p) ? mx_cpu_conv_lines_forward(&p, wk, out)
                                    : mx_cpu_conv_grouped_forward(&p, wk, out);
  mx_cpu_conv_plan_free(&p);
  free(xbuf);
  free(xst);
  free(wbuf);
  return rc;
}

static int conv_weight_grouped(const mx_p_convolution *prm, const mx_tensor *x,
                               const mx_tensor *cot, mx_tensor *out, mx_dtype ct) {
  int nd = out->ndim;
  mx_tensor xc;
  char *xbuf = NULL, *cbuf = NULL;
  int64_t *xst = NULL;
  conv_plan p;
  memset(&p, 0, sizeof p);
  int rc = conv_input_as(x, ct, &xc, &xbuf, &xst);
  if (rc == 0)
    rc = mx_cpu_conv_plan_init(&p, prm, &xc, ct, cot->shape + 1, out->shape + 1, out->shape[0],
                               out->shape[nd - 1]);
  const char *c = rc == 0 ? mx_cpu_conv_pack(cot, ct, &cbuf) : NULL;
  if (rc == 0 && !c) rc = -1;
  if (rc == 0)
    rc = mx_cpu_conv_single_ok(&p)  ? mx_cpu_conv_single_weight(&p, prm, c, out)
         : mx_cpu_conv_lines_ok(&p) ? mx_cpu_conv_lines_weight(&p, c, out)
                                    : mx_cpu_conv_grouped_weight(&p, c, out);
  mx_cpu_conv_plan_free(&p);
  free(xbuf);
  free(xst);
  free(cbuf);
  return rc;
}

int mx_cpu_convolution(const mx_kernel_ctx *ctx, const mx_tensor *in, int n_in, mx_tensor *out,
                       int n_out) {
  if (n_in != 2 || n_out != 1 || !ctx->params)
    return mx_fail_int(MX_EINVAL, "[conv] Expected 2 inputs, 1 output and parameters.");
  const mx_p_convolution *prm = (const mx_p_convolution *)ctx->params;
  const mx_tensor *x = &in[0], *w = &in[1];
  int rc = conv_check("conv", x, w, out, prm->strides.n);
  if (rc != 0) return rc < 0 ? -1 : 0;
  int nd = out->ndim;
  if (out->shape[nd - 1] != w->shape[0] || out->shape[0] != x->shape[0] || prm->groups < 1)
    return mx_fail_int(MX_EINVAL, "[conv] Inconsistent shapes or parameters.");
  mx_dtype ct = conv_compute_dtype(out->dtype);
  if (conv_direct(prm, w->shape + 1, w->shape[nd - 1], w->shape[0], ct))
    return conv_forward_grouped(prm, x, w, out, ct);
  conv_plan p;
  rc = mx_cpu_conv_plan_init(&p, prm, x, out->dtype, out->shape + 1, w->shape + 1, w->shape[0],
                             w->shape[nd - 1]);
  char *wbuf = NULL;
  conv_fwd f = {NULL, (char *)out->data, NULL};
  int wino = rc == 0 && p.kg > 0 && mx_cpu_conv_winograd_ok(&p)
                 ? mx_cpu_conv_winograd_forward(&p, w, out) : 1;
  if (rc == 0 && p.kg == 0) {
    memset(out->data, 0, (size_t)out->size * (size_t)p.esz);
  } else if (rc == 0 && wino <= 0) {
    rc = wino;
  } else if (rc == 0) {
    f.w = mx_cpu_conv_pack(w, p.ct, &wbuf);
    bool direct;
    int64_t ld, mb = mx_cpu_conv_block_rows(&p, x, &direct, &ld);
    if (!f.w) {
      rc = -1;
    } else if (p.t != p.ct && !(f.cbuf = (char *)malloc((size_t)(mb * p.cout * p.csz)))) {
      rc = mx_fail_int(MX_ENOMEM, "[malloc] Unable to allocate %lld bytes.",
                       (long long)(mb * p.cout * p.csz));
    } else if (mx_cpu_conv_phase_count(prm) > 1) {
      rc = mx_cpu_conv_phased_forward(&p, prm, x, f.w, out);
    } else {
      rc = mx_cpu_conv_blocks(&p, x, conv_forward_block, &f);
    }
  }
  mx_cpu_conv_plan_free(&p);
  free(wbuf);
  free(f.cbuf);
  return rc;
}

/* ---- ConvolutionWeight: (C_out, kg) = sum over blocks of cot_block^T @ im2col_block ---- */
void mx_cpu_conv_weight_block(const conv_plan *p, int64_t r0, int64_t n, const char *a,
                              int64_t lda, bool direct, void *ctx) {
  conv_wgt *f = (conv_wgt *)ctx;
  for (int64_t g = 0; g < p->groups; g++)
    mx_cpu_conv_gemm(p->ct, true, false, (int)p->cog, (int)p->kg, (int)n,
              f->cot + (r0 * p->cout + g * p->cog) * p->csz, (int)p->cout,
              a + mx_cpu_conv_group_offset(p, g, direct), (int)lda, r0 > 0,
              f->acc + g * p->cog * p->kg * p->csz, (int)p->kg);
}

int mx_cpu_conv_weight(const mx_kernel_ctx *ctx, const mx_tensor *in, int n_in, mx_tensor *out,
                       int n_out) {
  if (n_in != 2 || n_out != 1 || !ctx->params)
    return mx_fail_int(MX_EINVAL, "[conv] Expected 2 inputs, 1 output and parameters.");
  const mx_p_conv_weight *pw = (const mx_p_conv_weight *)ctx->params;
  mx_p_convolution prm = {pw->strides,        pw->padding_lo, pw->padding_hi, pw->kernel_dilation,
                          pw->input_dilation, pw->groups,     pw->flip};
  const mx_tensor *x = &in[0], *cot = &in[1];
  int rc = conv_check("conv_weight", x, cot, out, prm.strides.n);
  if (rc != 0) return rc < 0 ? -1 : 0;
  int nd = out->ndim;
  if (cot->shape[nd - 1] != out->shape[0] || cot->shape[0] != x->shape[0] || prm.groups < 1)
    return mx_fail_int(MX_EINVAL, "[conv_weight] Inconsistent shapes or parameters.");
  mx_dtype ct = conv_compute_dtype(out->dtype);
  if (conv_direct(&prm, out->shape + 1, out->shape[nd - 1], out->shape[0], ct))
    return conv_weight_grouped(&prm, x, cot, out, ct);
  conv_plan p;
  rc = mx_cpu_conv_plan_init(&p, &prm, x, out->dtype, cot->shape + 1, out->shape + 1,
                             out->shape[0], out->shape[nd - 1]);
  char *cbuf = NULL, *abuf = NULL;
  conv_wgt f = {NULL, (char *)out->data};
  if (rc == 0 && p.m == 0) {
    memset(out->data, 0, (size_t)out->size * (size_t)p.esz);
  } else if (rc == 0) {
    f.cot = mx_cpu_conv_pack(cot, p.ct, &cbuf);
    if (!f.cot) {
      rc = -1;
    } else if (p.t != p.ct && !(f.acc = abuf = (char *)malloc((size_t)(out->size * p.csz)))) {
      rc = mx_fail_int(MX_ENOMEM, "[conv] out of memory.");
    } else if (mx_cpu_conv_winograd_ok(&p) &&
               (rc = mx_cpu_conv_winograd_weight(&p, (const float *)f.cot, out)) != 1) {
      /* done (0), or failed (-1); 1: a NaN or inf for im2col to place */
    } else if (mx_cpu_conv_phase_count(&prm) > 1) {
      rc = mx_cpu_conv_phased_weight(&p, &prm, x, f.cot, out);
    } else {
      rc = mx_cpu_conv_blocks(&p, x, mx_cpu_conv_weight_block, &f);
      if (rc == 0 && abuf) mx_cpu_convert(abuf, p.ct, 1, out->data, p.t, 1, out->size);
    }
  }
  mx_cpu_conv_plan_free(&p);
  free(cbuf);
  free(abuf);
  return rc;
}
