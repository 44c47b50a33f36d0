/* fast_sdpa_body.h: the attention paths of fast_sdpa.c for one compute type, included once
 * per type with SDPA_T (float or double), SDPA_SFX (f32 or f64), SDPA_EXP (expf or exp) and
 * SDPA_GEMM (cblas_sgemm or cblas_dgemm) defined. Tiled: a unit is up to SDPA_QB query rows
 * of one (batch, head) against one chunk of keys, in blocks of SDPA_KB keys with an online
 * softmax (the running maximum m, the weight sum l and the weighted values acc are rescaled
 * when the maximum grows). Blocked: see sdpa_blocked below. */
#define SDPA_FN_(name, sfx) name##_##sfx
#define SDPA_FN(name, sfx) SDPA_FN_(name, sfx)

static SDPA_T SDPA_FN(sdpa_dot, SDPA_SFX)(const SDPA_T *a, const SDPA_T *b, int64_t n) {
  SDPA_T acc[8] = {0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int k = 0; k < 8; k++) acc[k] += a[i + k] * b[i + k];
  for (int k = 0; i < n; i++, k++) acc[k] += a[i] * b[i];
  return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

/* Rows of a raw (B, H, T, E) input as the compute type: row t of (b, h) into dst (E values),
 * converted unless the input already is the compute type with unit stride (then a pointer
 * into it is returned and dst is untouched). */
static const SDPA_T *SDPA_FN(sdpa_row, SDPA_SFX)(const sdpa_job *j, const mx_tensor *t,
                                                 int64_t b, int64_t h, int64_t i, SDPA_T *dst) {
  int64_t off = b * t->strides[0] + h * t->strides[1] + i * t->strides[2];
  int64_t e = t->shape[3];
  if (t->dtype == j->ct && (t->strides[3] == 1 || e <= 1)) return (const SDPA_T *)t->data + off;
  if (t->dtype == MX_FLOAT16 && j->ct == MX_FLOAT32) {
    mx_fast_f16_row((const uint16_t *)t->data + off, t->strides[3], (float *)dst, e);
    return dst;
  }
  if (t->dtype == MX_BFLOAT16 && j->ct == MX_FLOAT32 && (t->strides[3] == 1 || e <= 1)) {
    const uint16_t *src = (const uint16_t *)t->data + off;
    for (int64_t i = 0; i < e; i++) ((float *)dst)[i] = mx_f32_from_bits((uint32_t)src[i] << 16);
    return dst;
  }
  mx_cpu_convert(mx_cpu_at(t, off), t->dtype, t->strides[3], dst, j->ct, 1, e);
  return dst;
}

/* Runs unit u; scratch holds the unit's buffers (sdpa_scratch_size). The rows of a unit
 * are (query head of the group, query) pairs of one key/value head: r -> head
 * hk * rep + r / TQ, query r % TQ; the group shares each key block. */
SDPA_CLONES static void SDPA_FN(sdpa_unit, SDPA_SFX)(const sdpa_job *j, int64_t u,
                                                     SDPA_T *scratch) {
  const int64_t D = j->d, DV = j->dv, TQ = j->tq, TK = j->tk, REP = j->nq / j->nkv;
  int64_t kc = u % j->nkc, rest = u / j->nkc;
  int64_t qb = rest % j->nqb, bk = rest / j->nqb;
  int64_t hk = bk % j->nkv, b = bk / j->nkv;
  int64_t r0 = qb * SDPA_QB, r1 = r0 + SDPA_QB < REP * TQ ? r0 + SDPA_QB : REP * TQ, nr = r1 - r0;
  int64_t j0 = kc * j->kchunk, j1 = j0 + j->kchunk < TK ? j0 + j->kchunk : TK;
  SDPA_T *qs = scratch, *acc = qs + SDPA_QB * D, *m = acc + SDPA_QB * DV, *l = m + SDPA_QB;
  SDPA_T *s = l + SDPA_QB, *mb = s + SDPA_QB * SDPA_KB, *kbuf = mb + SDPA_KB;
  SDPA_T *vbuf = kbuf + SDPA_KB * D;
  const SDPA_T masked = (SDPA_T)j->masked;
  const SDPA_T scale = (SDPA_T)j->scale;
  int64_t hq[SDPA_QB], iq[SDPA_QB], imin = TQ, imax = -1;
  for (int64_t r = 0; r < nr; r++) {
    hq[r] = hk * REP + (r0 + r) / TQ;
    iq[r] = (r0 + r) % TQ;
    imin = iq[r] < imin ? iq[r] : imin;
    imax = iq[r] > imax ? iq[r] : imax;
    const SDPA_T *qr = SDPA_FN(sdpa_row, SDPA_SFX)(j, j->q, b, hq[r], iq[r], qs + r * D);
    for (int64_t d = 0; d < D; d++) qs[r * D + d] = qr[d] * scale;
    for (int64_t d = 0; d < DV; d++) acc[r * DV + d] = 0;
    m[r] = -INFINITY;
    l[r] = 0;
    if (j->sinks && kc == 0) {
      m[r] = ((const SDPA_T *)j->sinks)[hq[r] * j->sinks_stride];
      l[r] = 1;
    }
  }
  /* Causal: when every row of the unit sees at least one key, keys past the last row's
   * limit weigh exactly zero and are skipped. */
  if (j->causal && imin + (TK - TQ) >= 0) {
    int64_t lim = imax + (TK - TQ) + 1;
    if (j1 > lim) j1 = lim;
  }
  for (int64_t kb = j0; kb < j1; kb += SDPA_KB) {
    int64_t nk = kb + SDPA_KB < j1 ? SDPA_KB : j1 - kb;
    const SDPA_T *vrow[SDPA_KB];
    for (int64_t jj = 0; jj < nk; jj++) {
      const SDPA_T *kr = SDPA_FN(sdpa_row, SDPA_SFX)(j, j->k, b, hk, kb + jj, kbuf + jj * D);
      vrow[jj] = SDPA_FN(sdpa_row, SDPA_SFX)(j, j->v, b, hk, kb + jj, vbuf + jj * DV);
      for (int64_t r = 0; r < nr; r++)
        s[r * SDPA_KB + jj] = SDPA_FN(sdpa_dot, SDPA_SFX)(qs + r * D, kr, D);
    }
    for (int64_t r = 0; r < nr; r++) {
      SDPA_T *sr = s + r * SDPA_KB;
      int64_t i = iq[r];
      if (j->mask) {
        const char *mp = (const char *)j->mask->data +
                         (b * j->mask->strides[0] + hq[r] * j->mask->strides[1] +
                          i * j->mask->strides[2] + kb * j->mask->strides[3]) *
                             (int64_t)mx_dtype_size(j->mask->dtype);
        mx_cpu_convert(mp, j->mask->dtype, j->mask->strides[3], mb, j->ct, 1, nk);
        if (j->mask->dtype == MX_BOOL)
          for (int64_t jj = 0; jj < nk; jj++) sr[jj] = mb[jj] != 0 ? sr[jj] : masked;
        else
          for (int64_t jj = 0; jj < nk; jj++) sr[jj] += mb[jj];
      }
      if (j->causal)
        for (int64_t jj = 0; jj < nk; jj++)
          if (!mx_f_sdpa_causal_visible(i, kb + jj, TQ, TK)) sr[jj] = masked;
      SDPA_T bm = -INFINITY;
      for (int64_t jj = 0; jj < nk; jj++) bm = sr[jj] > bm ? sr[jj] : bm;
      SDPA_T mnew = bm > m[r] ? bm : m[r];
      if (mnew == -INFINITY) { /* every score so far is -inf: nothing weighs yet */
        for (int64_t jj = 0; jj < nk; jj++) sr[jj] = sr[jj] != sr[jj] ? sr[jj] : 0;
        continue;
      }
      if (mnew != m[r]) {
        SDPA_T alpha = SDPA_EXP(m[r] - mnew);
        l[r] *= alpha;
        for (int64_t d = 0; d < DV; d++) acc[r * DV + d] *= alpha;
        m[r] = mnew;
      }
      SDPA_T sum = 0;
      for (int64_t jj = 0; jj < nk; jj++) {
        sr[jj] = SDPA_EXP(sr[jj] - mnew);
        sum += sr[jj];
      }
      l[r] += sum;
    }
    for (int64_t jj = 0; jj < nk; jj++) {
      const SDPA_T *vr = vrow[jj];
      for (int64_t r = 0; r < nr; r++) {
        SDPA_T p = s[r * SDPA_KB + jj];
        if (p == 0) continue;
        SDPA_T *ar = acc + r * DV;
        for (int64_t d = 0; d < DV; d++) ar[d] += p * vr[d];
      }
    }
  }
  for (int64_t r = 0; r < nr; r++) {
    int64_t row = (b * j->nq + hq[r]) * TQ + iq[r];
    if (j->nkc == 1) {
      SDPA_T inv = 1 / l[r];
      SDPA_T *o = acc + r * DV;
      for (int64_t d = 0; d < DV; d++) o[d] = l[r] == 0 ? (SDPA_T)NAN : o[d] * inv;
      mx_cpu_convert(o, j->ct, 1, (char *)j->out->data + row * DV * j->osz, j->out->dtype, 1, DV);
    } else {
      SDPA_T *part = (SDPA_T *)j->part + (row * j->nkc + kc) * (DV + 2);
      part[0] = m[r];
      part[1] = l[r];
      for (int64_t d = 0; d < DV; d++) part[2 + d] = acc[r * DV + d];
    }
  }
}

/* Merges the key chunks of one output row. */
static void SDPA_FN(sdpa_combine, SDPA_SFX)(const sdpa_job *j, int64_t row, SDPA_T *o) {
  const int64_t DV = j->dv;
  const SDPA_T *part = (const SDPA_T *)j->part + row * j->nkc * (DV + 2);
  SDPA_T M = -INFINITY, L = 0;
  for (int64_t c = 0; c < j->nkc; c++) M = part[c * (DV + 2)] > M ? part[c * (DV + 2)] : M;
  for (int64_t d = 0; d < DV; d++) o[d] = 0;
  if (M != -INFINITY)
    for (int64_t c = 0; c < j->nkc; c++) {
      const SDPA_T *pc = part + c * (DV + 2);
      if (pc[0] == -INFINITY) continue;
      SDPA_T f = SDPA_EXP(pc[0] - M);
      L += pc[1] * f;
      for (int64_t d = 0; d < DV; d++) o[d] += pc[2 + d] * f;
    }
  SDPA_T inv = 1 / L;
  for (int64_t d = 0; d < DV; d++) o[d] = L == 0 ? (SDPA_T)NAN : o[d] * inv;
  mx_cpu_convert(o, j->ct, 1, (char *)j->out->data + row * DV * j->osz, j->out->dtype, 1, DV);
}

/* ---- the blocked path for many queries: per (batch, head, chunk of SDPA_QC queries) the
 * logits of the chunk against every key it can see come from one GEMM (BLAS threads it),
 * the rows are normalized on the pool, and a second GEMM weighs the values. ---- */

typedef struct SDPA_FN(sdpa_rows, SDPA_SFX) {
  const sdpa_job *j;
  SDPA_T *sc;            /* nr x nk logits, normalized in place */
  int64_t b, h, i0, nk;
} SDPA_FN(sdpa_rows, SDPA_SFX);

static void SDPA_FN(sdpa_softmax_rows, SDPA_SFX)(void *ctx, int64_t r0, int64_t r1) {
  const SDPA_FN(sdpa_rows, SDPA_SFX) *c = ctx;
  const sdpa_job *j = c->j;
  const SDPA_T masked = (SDPA_T)j->masked;
  int64_t nk = c->nk;
  SDPA_T *mb = NULL;
  if (j->mask) {
    mb = malloc((size_t)(nk > 0 ? nk : 1) * sizeof(SDPA_T));
    if (!mb) {
      atomic_store((_Atomic int *)&j->failed, 1);
      return;
    }
  }
  for (int64_t r = r0; r < r1; r++) {
    SDPA_T *sr = c->sc + r * nk;
    int64_t i = c->i0 + r;
    if (j->mask) {
      const char *mp = (const char *)j->mask->data +
                       (c->b * j->mask->strides[0] + c->h * j->mask->strides[1] +
                        i * j->mask->strides[2]) * (int64_t)mx_dtype_size(j->mask->dtype);
      mx_cpu_convert(mp, j->mask->dtype, j->mask->strides[3], mb, j->ct, 1, nk);
      if (j->mask->dtype == MX_BOOL)
        for (int64_t jj = 0; jj < nk; jj++) sr[jj] = mb[jj] != 0 ? sr[jj] : masked;
      else
        for (int64_t jj = 0; jj < nk; jj++) sr[jj] += mb[jj];
    }
    if (j->causal)
      for (int64_t jj = 0; jj < nk; jj++)
        if (!mx_f_sdpa_causal_visible(i, jj, j->tq, j->tk)) sr[jj] = masked;
    SDPA_T m = -INFINITY, sink = 0;
    if (j->sinks) {
      sink = ((const SDPA_T *)j->sinks)[c->h * j->sinks_stride];
      m = sink;
    }
    for (int64_t jj = 0; jj < nk; jj++) m = sr[jj] > m ? sr[jj] : m;
    SDPA_T l = j->sinks ? SDPA_EXP(sink - m) : 0;
    for (int64_t jj = 0; jj < nk; jj++) {
      sr[jj] = SDPA_EXP(sr[jj] - m);
      l += sr[jj];
    }
    SDPA_T inv = 1 / l;
    for (int64_t jj = 0; jj < nk; jj++) sr[jj] *= inv;
  }
  free(mb);
}

static int SDPA_FN(sdpa_blocked, SDPA_SFX)(sdpa_job *j) {
  const int64_t D = j->d, DV = j->dv, TQ = j->tq, TK = j->tk;
  size_t sc_n = (size_t)SDPA_QC * (size_t)TK;
  SDPA_T *sc = malloc(sc_n * sizeof(SDPA_T) + (size_t)SDPA_QC * (size_t)DV * sizeof(SDPA_T));
  if (!sc)
    return mx_fail_int(MX_ENOMEM, "[malloc] Unable to allocate %zu bytes.", sc_n * sizeof(SDPA_T));
  SDPA_T *o = sc + sc_n;
  bool direct = j->out->dtype == j->ct;
  for (int64_t b = 0; b < j->b; b++)
    for (int64_t h = 0; h < j->nq; h++) {
      int64_t hk = h / (j->nq / j->nkv);
      const SDPA_T *kp = (const SDPA_T *)j->ko.data + b * j->ko.sb + hk * j->ko.sh;
      const SDPA_T *vp = (const SDPA_T *)j->vo.data + b * j->vo.sb + hk * j->vo.sh;
      for (int64_t i0 = 0; i0 < TQ; i0 += SDPA_QC) {
        int64_t nr = i0 + SDPA_QC < TQ ? SDPA_QC : TQ - i0;
        int64_t nk = TK;
        if (j->causal && i0 + (TK - TQ) >= 0) { /* keys past the last row's limit weigh 0 */
          int64_t lim = i0 + nr - 1 + (TK - TQ) + 1;
          nk = lim < TK ? lim : TK;
        }
        const SDPA_T *qp = (const SDPA_T *)j->qo.data + b * j->qo.sb + h * j->qo.sh + i0 * j->qo.st;
        SDPA_GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, (int)nr, (int)nk, (int)D,
                  (SDPA_T)j->scale, qp, (int)j->qo.st, kp, (int)j->ko.st, 0, sc, (int)nk);
        SDPA_FN(sdpa_rows, SDPA_SFX) rc = {j, sc, b, h, i0, nk};
        int64_t grain = MX_CPU_PARALLEL_GRAIN / (nk + 1);
        mx_cpu_parallel_for(nr, grain > 0 ? grain : 1, SDPA_FN(sdpa_softmax_rows, SDPA_SFX), &rc);
        if (atomic_load(&j->failed)) break;
        int64_t row = (b * j->nq + h) * TQ + i0;
        SDPA_T *dst = direct ? (SDPA_T *)j->out->data + row * DV : o;
        SDPA_GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)nr, (int)DV, (int)nk, 1, sc,
                  (int)nk, vp, (int)j->vo.st, 0, dst, (int)DV);
        if (!direct)
          mx_cpu_convert(o, j->ct, 1, (char *)j->out->data + row * DV * j->osz, j->out->dtype, 1,
                         nr * DV);
      }
    }
  free(sc);
  if (atomic_load(&j->failed))
    return mx_fail_int(MX_ENOMEM, "[malloc] Unable to allocate %lld bytes.",
                       (long long)TK * (long long)sizeof(SDPA_T));
  return 0;
}

#undef SDPA_FN
#undef SDPA_FN_
