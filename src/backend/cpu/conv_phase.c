/* conv_phase.c: convolutions with input dilation (transposed convolutions, the input
 * cotangents of strided ones) on the CPU without multiplying the dilation's zeros. Along a dim
 * with stride s and input dilation e, output positions o split into phase classes
 * o mod e / gcd(s, e) whose taps either read input points for every o of the class or never
 * do; each class is a smaller convolution (its own read positions, its taps' packed weights)
 * run by the blocked im2col + GEMM driver of conv.c, its rows scattered into the output.
 * ConvolutionWeight gathers the class's cotangent rows and writes its taps' gradients (the
 * classes' tap sets are disjoint). Depends on conv.h. */
#include <string.h>

#include "conv.h"

static int64_t phase_gcd(int64_t a, int64_t b) {
  while (b) {
    int64_t t = a % b;
    a = b;
    b = t;
  }
  return a;
}

int64_t mx_cpu_conv_phase_count(const mx_p_convolution *prm) {
  int64_t n = 1;
  for (int d = 0; d < prm->strides.n; d++) {
    int64_t e = prm->input_dilation.v[d];
    n *= e / phase_gcd(prm->strides.v[d], e);
  }
  return n;
}

/* The current class and its sub-convolution. */
typedef struct phase {
  const conv_plan *p;
  const mx_p_convolution *prm;
  int nsp;
  int64_t kmax;
  int64_t *mem;               /* one block for the per-dim arrays below */
  int64_t *per, *cls, *idx;   /* [nsp]: period, current class, a row's class coordinates */
  int32_t *n, *nv;            /* [nsp]: class rows, class taps (the sub-plan's shapes) */
  int32_t *v;                 /* [nsp * kmax]: the class's taps along each dim */
  conv_plan q;
  bool has_q;
} phase;

static int phase_init(phase *ph, const conv_plan *p, const mx_p_convolution *prm) {
  memset(ph, 0, sizeof *ph);
  ph->p = p;
  ph->prm = prm;
  int nsp = ph->nsp = p->nsp;
  ph->kmax = 1;
  for (int d = 0; d < nsp; d++)
    if (p->kshape[d] > ph->kmax) ph->kmax = p->kshape[d];
  size_t words = (size_t)(3 * nsp) + (size_t)(nsp + nsp + nsp * ph->kmax + 1) / 2 + 1;
  ph->mem = (int64_t *)calloc(words, sizeof(int64_t));
  if (!ph->mem) return mx_fail_int(MX_ENOMEM, "[conv] out of memory.");
  ph->per = ph->mem;
  ph->cls = ph->per + nsp;
  ph->idx = ph->cls + nsp;
  ph->n = (int32_t *)(ph->idx + nsp);
  ph->nv = ph->n + nsp;
  ph->v = ph->nv + nsp;
  for (int d = 0; d < nsp; d++) {
    int64_t e = prm->input_dilation.v[d];
    ph->per[d] = e / phase_gcd(prm->strides.v[d], e);
  }
  return 0;
}

static void phase_drop_plan(phase *ph) {
  if (ph->has_q) mx_cpu_conv_plan_free(&ph->q);
  ph->has_q = false;
}

static void phase_free(phase *ph) {
  phase_drop_plan(ph);
  free(ph->mem);
}

/* Builds the sub-plan of the current class. 0, or -1 + ENOMEM. Its m or kprod may be 0. */
static int phase_build(phase *ph) {
  const conv_plan *p = ph->p;
  const mx_p_convolution *prm = ph->prm;
  int nsp = ph->nsp;
  phase_drop_plan(ph);
  conv_plan *q = &ph->q;
  *q = *p;
  q->dims = nsp <= 8 ? q->dims_inline : (conv_dim *)calloc((size_t)nsp, sizeof(conv_dim));
  if (!q->dims) return mx_fail_int(MX_ENOMEM, "[conv] out of memory.");
  memset(q->dims, 0, (size_t)nsp * sizeof(conv_dim));
  ph->has_q = true;
  q->m = p->m;
  q->kprod = 1;
  for (int d = 0; d < nsp; d++) {
    int64_t od = p->oshape[d], kdim = p->kshape[d], c = ph->cls[d], per = ph->per[d];
    int64_t s = prm->strides.v[d], lo = prm->padding_lo.v[d], kd = prm->kernel_dilation.v[d];
    int64_t e = prm->input_dilation.v[d];
    ph->n[d] = (int32_t)(od > c ? (od - c + per - 1) / per : 0);
    ph->nv[d] = 0;
    for (int64_t k = 0; k < kdim; k++) {
      int64_t kk = prm->flip ? kdim - 1 - k : k;
      if ((c * s + kk * kd - lo) % e == 0) ph->v[d * ph->kmax + ph->nv[d]++] = (int32_t)k;
    }
    q->m = q->m / (od > 0 ? od : 1) * ph->n[d];
    q->kprod *= ph->nv[d];
    conv_dim *qd = &q->dims[d];
    const conv_dim *pd = &p->dims[d];
    *qd = *pd;
    qd->base = (int64_t *)malloc((size_t)(ph->n[d] > 0 ? ph->n[d] : 1) * sizeof(int64_t));
    qd->koff = (int64_t *)malloc((size_t)(ph->nv[d] > 0 ? ph->nv[d] : 1) * sizeof(int64_t));
    if (!qd->base || !qd->koff) return mx_fail_int(MX_ENOMEM, "[conv] out of memory.");
    for (int64_t i = 0; i < ph->n[d]; i++) qd->base[i] = pd->base[c + i * per];
    for (int64_t j = 0; j < ph->nv[d]; j++) qd->koff[j] = pd->koff[ph->v[d * ph->kmax + j]];
  }
  if (p->m == 0) q->m = 0;
  /* runs of consecutive taps along the last dim survive only if the class keeps them all */
  if (q->runs) q->runs = nsp > 0 && ph->nv[nsp - 1] == p->kshape[nsp - 1];
  q->oshape = ph->n;
  q->kshape = ph->nv;
  q->kg = q->kprod * q->cig;
  q->ktot = q->kg * q->groups;
  return 0;
}

/* Advances to the next class; false after the last. */
static bool phase_next(phase *ph) {
  for (int d = ph->nsp - 1; d >= 0; d--) {
    if (++ph->cls[d] < ph->per[d]) return true;
    ph->cls[d] = 0;
  }
  return false;
}

/* The output row (of the full convolution) of the class's row r. */
static int64_t phase_row(phase *ph, int64_t r) {
  for (int d = ph->nsp - 1; d >= 0; d--) {
    ph->idx[d] = r % ph->n[d];
    r /= ph->n[d];
  }
  for (int d = 0; d < ph->nsp; d++)
    r = r * ph->p->oshape[d] + ph->cls[d] + ph->idx[d] * ph->per[d];
  return r;
}

/* Full tap index of the class's tap j (per-dim taps in ph->v). */
static int64_t phase_tap(const phase *ph, int64_t j) {
  int64_t full = 0, stride = 1;
  for (int d = ph->nsp - 1; d >= 0; d--) {
    int64_t jd = j % ph->nv[d];
    j /= ph->nv[d];
    full += ph->v[d * ph->kmax + jd] * stride;
    stride *= ph->p->kshape[d];
  }
  return full;
}

/* ---- Convolution ---- */
typedef struct phase_fwd {
  phase *ph;
  const char *w;    /* the class's weights (C_out, kg) */
  char *tmp;        /* a block of class rows x C_out, compute dtype */
  char *out;
  mx_dtype t;
} phase_fwd;

static void phase_forward_block(const conv_plan *q, int64_t r0, int64_t n, const char *a,
                                int64_t lda, bool direct, void *ctx) {
  phase_fwd *f = (phase_fwd *)ctx;
  for (int64_t g = 0; g < q->groups; g++)
    mx_cpu_conv_gemm(q->ct, false, true, (int)n, (int)q->cog, (int)q->kg,
                     a + mx_cpu_conv_group_offset(q, g, direct), (int)lda,
                     f->w + g * q->cog * q->kg * q->csz, (int)q->kg, false,
                     f->tmp + g * q->cog * q->csz, (int)q->cout);
  int osz = mx_dtype_size(f->t);
  for (int64_t i = 0; i < n; i++)
    mx_cpu_convert(f->tmp + i * q->cout * q->csz, q->ct, 1,
                   f->out + phase_row(f->ph, r0 + i) * q->cout * osz, f->t, 1, q->cout);
}

int mx_cpu_conv_phased_forward(const conv_plan *p, const mx_p_convolution *prm,
                               const mx_tensor *x, const char *w, mx_tensor *out) {
  memset(out->data, 0, (size_t)out->size * (size_t)mx_dtype_size(out->dtype));
  phase ph;
  int rc = phase_init(&ph, p, prm);
  char *wc = NULL, *tmp = NULL;
  bool more = rc == 0;
  while (more) {
    rc = phase_build(&ph);
    const conv_plan *q = &ph.q;
    if (rc == 0 && q->m > 0 && q->kprod > 0) {
      bool direct;
      int64_t ld, mb = mx_cpu_conv_block_rows(q, x, &direct, &ld);
      free(wc);
      free(tmp);
      wc = (char *)malloc((size_t)(q->cout * q->kg * q->csz));
      tmp = (char *)malloc((size_t)(mb * q->cout * q->csz));
      if (!wc || !tmp) {
        rc = mx_fail_int(MX_ENOMEM, "[conv] out of memory.");
      } else {
        for (int64_t o = 0; o < q->cout; o++)
          for (int64_t j = 0; j < q->kprod; j++)
            memcpy(wc + (o * q->kg + j * q->cig) * q->csz,
                   w + (o * p->kg + phase_tap(&ph, j) * p->cig) * p->csz,
                   (size_t)(q->cig * q->csz));
        phase_fwd f = {&ph, wc, tmp, (char *)out->data, out->dtype};
        rc = mx_cpu_conv_blocks(q, x, phase_forward_block, &f);
      }
    }
    more = rc == 0 && phase_next(&ph);
  }
  phase_free(&ph);
  free(wc);
  free(tmp);
  return rc;
}

/* ---- ConvolutionWeight ---- */
int mx_cpu_conv_phased_weight(const conv_plan *p, const mx_p_convolution *prm,
                              const mx_tensor *x, const char *cot, mx_tensor *out) {
  char *acc = (char *)calloc((size_t)(out->size > 0 ? out->size : 1), (size_t)p->csz);
  if (!acc) return mx_fail_int(MX_ENOMEM, "[conv] out of memory.");
  phase ph;
  int rc = phase_init(&ph, p, prm);
  char *cg = NULL, *ac = NULL;
  bool more = rc == 0;
  while (more) {
    rc = phase_build(&ph);
    const conv_plan *q = &ph.q;
    if (rc == 0 && q->m > 0 && q->kprod > 0) {
      free(cg);
      free(ac);
      cg = (char *)malloc((size_t)(q->m * q->cout * q->csz));
      ac = (char *)malloc((size_t)(q->cout * q->kg * q->csz));
      if (!cg || !ac) {
        rc = mx_fail_int(MX_ENOMEM, "[conv] out of memory.");
      } else {
        for (int64_t r = 0; r < q->m; r++)
          memcpy(cg + r * q->cout * q->csz, cot + phase_row(&ph, r) * q->cout * q->csz,
                 (size_t)(q->cout * q->csz));
        conv_wgt f = {cg, ac};
        rc = mx_cpu_conv_blocks(q, x, mx_cpu_conv_weight_block, &f);
        for (int64_t o = 0; rc == 0 && o < q->cout; o++)
          for (int64_t j = 0; j < q->kprod; j++)
            memcpy(acc + (o * p->kg + phase_tap(&ph, j) * p->cig) * p->csz,
                   ac + (o * q->kg + j * q->cig) * q->csz, (size_t)(q->cig * q->csz));
      }
    }
    more = rc == 0 && phase_next(&ph);
  }
  if (rc == 0) mx_cpu_convert(acc, p->ct, 1, out->data, out->dtype, 1, out->size);
  phase_free(&ph);
  free(cg);
  free(ac);
  free(acc);
  return rc;
}
