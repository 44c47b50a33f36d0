/* linalg_decomp.c: the QRF (geqrf+orgqr), SVD (gesdd), Eig (geev) and Eigh (syevd/heevd)
 * primitives on the CPU, one LAPACK call per matrix of the batch (linalg.h's driver).
 * Real and complex64 inputs; Eig's results are complex64 whatever the input. */
#include <string.h>

#include "half.h"
#include "linalg.h"

typedef struct dec_job {
  const mx_tensor *in;
  mx_tensor *out;
  int n_out, m, n;
  bool flag, upper; /* SVD: compute_uv; Eig/Eigh: compute_eigenvectors */
} dec_job;

static int64_t dec_batch(const mx_tensor *t) {
  int64_t nb = 1;
  for (int d = 0; d < t->ndim - 2; d++) nb *= t->shape[d];
  return nb;
}

static void dec_init(dec_job *j, const mx_tensor *in, mx_tensor *out, int n_out) {
  j->in = in;
  j->out = out;
  j->n_out = n_out;
  j->m = in->shape[in->ndim - 2];
  j->n = in->shape[in->ndim - 1];
}

static int imax1(int v) { return v > 1 ? v : 1; }

/* ---- QRF ---- */

static int qrf_one(void *job_, int64_t b, void *ws, const char **what) {
  dec_job *j = job_;
  int m = j->m, n = j->n, k = m < n ? m : n, ld = imax1(m);
  bool f64 = j->in->dtype == MX_FLOAT64;
  int esz = f64 ? 8 : 4;
  char *a = ws, *tau = (char *)ws + (size_t)m * n * esz;
  mx_la_load(j->in, b, m, n, a, ld);
  lapack_int info = 0;
  if (k > 0)
    info = f64 ? LAPACKE_dgeqrf(LAPACK_COL_MAJOR, m, n, (double *)a, ld, (double *)tau)
               : LAPACKE_sgeqrf(LAPACK_COL_MAJOR, m, n, (float *)a, ld, (float *)tau);
  if (info != 0) {
    *what = "QR factorization";
    return info;
  }
  char *r = (char *)j->out[1].data + (size_t)b * k * n * esz;
  for (int i = 0; i < k; i++)
    for (int c = 0; c < n; c++) {
      char *dst = r + ((size_t)i * n + c) * esz;
      if (c >= i)
        memcpy(dst, a + ((size_t)i + (size_t)c * ld) * esz, esz);
      else
        memset(dst, 0, esz);
    }
  if (k > 0)
    info = f64 ? LAPACKE_dorgqr(LAPACK_COL_MAJOR, m, k, k, (double *)a, ld, (double *)tau)
               : LAPACKE_sorgqr(LAPACK_COL_MAJOR, m, k, k, (float *)a, ld, (float *)tau);
  if (info != 0) {
    *what = "QR factorization";
    return info;
  }
  mx_la_store(a, ld, m, k, (char *)j->out[0].data + (size_t)b * m * k * esz, esz);
  return 0;
}

int mx_cpu_qrf(const mx_kernel_ctx *ctx, const mx_tensor *in, int n_in, mx_tensor *out,
               int n_out) {
  dec_job j;
  dec_init(&j, &in[0], out, n_out);
  int k = j.m < j.n ? j.m : j.n;
  size_t esz = mx_dtype_size(in[0].dtype);
  return mx_la_run("QRF", dec_batch(&in[0]), (int64_t)j.m * j.n,
                   ((size_t)j.m * j.n + (size_t)imax1(k)) * esz, qrf_one, &j);
}

/* ---- SVD: full U and Vt; S descending ---- */

/* An identity of n x n elements of esz bytes (the factors of an empty matrix). */
static void dec_identity(char *dst, int n, int esz, bool f64) {
  memset(dst, 0, (size_t)n * n * esz);
  for (int i = 0; i < n; i++) {
    char *e = dst + ((size_t)i * n + i) * esz;
    if (f64) *(double *)e = 1.0;
    else *(float *)e = 1.0f; /* complex64: real part 1 */
  }
}

static int svd_one(void *job_, int64_t b, void *ws, const char **what) {
  dec_job *j = job_;
  int m = j->m, n = j->n, k = m < n ? m : n, ld = imax1(m);
  mx_dtype t = j->in->dtype;
  bool f64 = t == MX_FLOAT64, cplx = t == MX_COMPLEX64;
  int esz = mx_dtype_size(t), ssz = f64 ? 8 : 4;
  char *a = ws, *s = a + (size_t)m * n * esz, *u = s + (size_t)imax1(k) * ssz;
  char *vt = u + (size_t)m * m * esz;
  mx_la_load(j->in, b, m, n, a, ld);
  char jobz = j->flag ? 'A' : 'N';
  lapack_int info = 0;
  if (k > 0) {
    if (cplx)
      info = LAPACKE_cgesdd(LAPACK_COL_MAJOR, jobz, m, n, (float _Complex *)a, ld, (float *)s,
                            (float _Complex *)u, ld, (float _Complex *)vt, imax1(n));
    else if (f64)
      info = LAPACKE_dgesdd(LAPACK_COL_MAJOR, jobz, m, n, (double *)a, ld, (double *)s,
                            (double *)u, ld, (double *)vt, imax1(n));
    else
      info = LAPACKE_sgesdd(LAPACK_COL_MAJOR, jobz, m, n, (float *)a, ld, (float *)s,
                            (float *)u, ld, (float *)vt, imax1(n));
  }
  if (info != 0) {
    *what = "SVD";
    return info;
  }
  int si = j->flag ? 1 : 0;
  memcpy((char *)j->out[si].data + (size_t)b * k * ssz, s, (size_t)k * ssz);
  if (j->flag) {
    char *uo = (char *)j->out[0].data + (size_t)b * m * m * esz;
    char *vo = (char *)j->out[2].data + (size_t)b * n * n * esz;
    if (k == 0) {
      dec_identity(uo, m, esz, f64);
      dec_identity(vo, n, esz, f64);
    } else {
      mx_la_store(u, ld, m, m, uo, esz);
      mx_la_store(vt, imax1(n), n, n, vo, esz);
    }
  }
  return 0;
}

int mx_cpu_svd(const mx_kernel_ctx *ctx, const mx_tensor *in, int n_in, mx_tensor *out,
               int n_out) {
  const mx_p_svd *p = ctx->params;
  dec_job j;
  dec_init(&j, &in[0], out, n_out);
  j.flag = p->compute_uv;
  int k = j.m < j.n ? j.m : j.n;
  size_t esz = mx_dtype_size(in[0].dtype);
  size_t ws = ((size_t)j.m * j.n + (size_t)j.m * j.m + (size_t)j.n * j.n) * esz +
              (size_t)imax1(k) * 8;
  return mx_la_run("SVD", dec_batch(&in[0]), (int64_t)j.m * j.n, ws, svd_one, &j);
}

/* ---- Eig: complex64 eigenvalues and right eigenvectors (columns) ---- */

static int eig_one(void *job_, int64_t b, void *ws, const char **what) {
  dec_job *j = job_;
  int n = j->n, ld = imax1(n);
  mx_dtype t = j->in->dtype;
  bool f64 = t == MX_FLOAT64;
  int esz = mx_dtype_size(t);
  char *a = ws, *w = a + (size_t)n * n * esz, *wi = w + (size_t)imax1(n) * 8;
  char *v = wi + (size_t)imax1(n) * 8;
  mx_la_load(j->in, b, n, n, a, ld);
  char jobvr = j->flag ? 'V' : 'N';
  lapack_int info = 0;
  mx_c64 *wo = (mx_c64 *)j->out[0].data + (size_t)b * n;
  mx_c64 *vo = j->flag ? (mx_c64 *)j->out[1].data + (size_t)b * n * n : NULL;
  if (n == 0) return 0;
  if (t == MX_COMPLEX64) {
    info = LAPACKE_cgeev(LAPACK_COL_MAJOR, 'N', jobvr, n, (float _Complex *)a, ld,
                         (float _Complex *)w, NULL, 1, (float _Complex *)v, ld);
    if (info != 0) goto fail;
    memcpy(wo, w, (size_t)n * sizeof(mx_c64));
    if (vo) mx_la_store(v, ld, n, n, vo, 8);
    return 0;
  }
  info = f64 ? LAPACKE_dgeev(LAPACK_COL_MAJOR, 'N', jobvr, n, (double *)a, ld, (double *)w,
                             (double *)wi, NULL, 1, (double *)v, ld)
             : LAPACKE_sgeev(LAPACK_COL_MAJOR, 'N', jobvr, n, (float *)a, ld, (float *)w,
                             (float *)wi, NULL, 1, (float *)v, ld);
  if (info != 0) goto fail;
#define EIG_AT(p, i) (f64 ? ((double *)(p))[i] : (double)((float *)(p))[i])
  for (int c = 0; c < n; c++) wo[c] = (mx_c64){(float)EIG_AT(w, c), (float)EIG_AT(wi, c)};
  if (!vo) return 0;
  /* a conjugate pair (wi > 0 first) shares columns c (real part) and c + 1 (imaginary) */
  for (int c = 0; c < n; c++) {
    bool pair = EIG_AT(wi, c) != 0.0 && c + 1 < n;
    for (int r = 0; r < n; r++) {
      float re = (float)EIG_AT(v, r + (size_t)c * ld);
      float im = pair ? (float)EIG_AT(v, r + (size_t)(c + 1) * ld) : 0.0f;
      vo[(size_t)r * n + c] = (mx_c64){re, im};
      if (pair) vo[(size_t)r * n + c + 1] = (mx_c64){re, -im};
    }
    if (pair) c++;
  }
#undef EIG_AT
  return 0;
fail:
  *what = "Eigenvalue decomposition";
  return info;
}

int mx_cpu_eig(const mx_kernel_ctx *ctx, const mx_tensor *in, int n_in, mx_tensor *out,
               int n_out) {
  const mx_p_eig *p = ctx->params;
  dec_job j;
  dec_init(&j, &in[0], out, n_out);
  j.flag = p->compute_eigenvectors;
  size_t esz = mx_dtype_size(in[0].dtype);
  size_t ws = (size_t)j.n * j.n * esz * 2 + (size_t)imax1(j.n) * 16;
  return mx_la_run("Eig", dec_batch(&in[0]), (int64_t)j.n * j.n, ws, eig_one, &j);
}

/* ---- Eigh: ascending real eigenvalues of the lower (upper) triangle ---- */

static int eigh_one(void *job_, int64_t b, void *ws, const char **what) {
  dec_job *j = job_;
  int n = j->n, ld = imax1(n);
  mx_dtype t = j->in->dtype;
  bool f64 = t == MX_FLOAT64;
  int esz = mx_dtype_size(t), wsz = f64 ? 8 : 4;
  char *a = ws, *w = a + (size_t)n * n * esz;
  if (n == 0) return 0;
  mx_la_load(j->in, b, n, n, a, ld);
  char jobz = j->flag ? 'V' : 'N', uplo = j->upper ? 'U' : 'L';
  lapack_int info =
      t == MX_COMPLEX64
          ? LAPACKE_cheevd(LAPACK_COL_MAJOR, jobz, uplo, n, (float _Complex *)a, ld, (float *)w)
      : f64 ? LAPACKE_dsyevd(LAPACK_COL_MAJOR, jobz, uplo, n, (double *)a, ld, (double *)w)
            : LAPACKE_ssyevd(LAPACK_COL_MAJOR, jobz, uplo, n, (float *)a, ld, (float *)w);
  if (info != 0) {
    *what = "Eigenvalue decomposition";
    return info;
  }
  memcpy((char *)j->out[0].data + (size_t)b * n * wsz, w, (size_t)n * wsz);
  if (j->flag) mx_la_store(a, ld, n, n, (char *)j->out[1].data + (size_t)b * n * n * esz, esz);
  return 0;
}

int mx_cpu_eigh(const mx_kernel_ctx *ctx, const mx_tensor *in, int n_in, mx_tensor *out,
                int n_out) {
  const mx_p_eigh *p = ctx->params;
  dec_job j;
  dec_init(&j, &in[0], out, n_out);
  j.flag = p->compute_eigenvectors;
  j.upper = p->upper;
  size_t ws = (size_t)j.n * j.n * mx_dtype_size(in[0].dtype) + (size_t)imax1(j.n) * 8;
  return mx_la_run("Eigh", dec_batch(&in[0]), (int64_t)j.n * j.n, ws, eigh_one, &j);
}
