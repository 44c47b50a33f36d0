/* linalg.c: the batch driver of the LAPACK kernels and the Inverse (getrf+getri, trtri),
 * Cholesky (potrf) and LUF (getrf) primitives on the CPU. Each matrix is copied into a
 * column-major scratch (LAPACK overwrites its input), factorized, and written row-major. */
#include "linalg.h"

#include <stdatomic.h>
#include <string.h>

#include "pool.h"

int64_t mx_la_batch_offset(const mx_tensor *t, int64_t b) {
  int64_t off = 0;
  for (int d = t->ndim - 3; d >= 0 && b > 0; d--) {
    int64_t i = b % t->shape[d];
    b /= t->shape[d];
    off += i * t->strides[d];
  }
  return off;
}

void mx_la_load(const mx_tensor *t, int64_t b, int rows, int cols, void *dst, int ld) {
  int esz = mx_dtype_size(t->dtype);
  int64_t sr = t->ndim >= 2 ? t->strides[t->ndim - 2] : 0, sc = t->strides[t->ndim - 1];
  int64_t base = mx_la_batch_offset(t, b);
  if (esz == 4) {
    const uint32_t *s = (const uint32_t *)t->data + base;
    uint32_t *d = dst;
    for (int j = 0; j < cols; j++)
      for (int i = 0; i < rows; i++) d[i + (int64_t)j * ld] = s[i * sr + j * sc];
  } else {
    const uint64_t *s = (const uint64_t *)t->data + base;
    uint64_t *d = dst;
    for (int j = 0; j < cols; j++)
      for (int i = 0; i < rows; i++) d[i + (int64_t)j * ld] = s[i * sr + j * sc];
  }
}

void mx_la_store(const void *src, int ld, int rows, int cols, void *dst, int esz) {
  if (esz == 4) {
    const uint32_t *s = src;
    uint32_t *d = dst;
    for (int i = 0; i < rows; i++)
      for (int j = 0; j < cols; j++) d[(int64_t)i * cols + j] = s[i + (int64_t)j * ld];
  } else {
    const uint64_t *s = src;
    uint64_t *d = dst;
    for (int i = 0; i < rows; i++)
      for (int j = 0; j < cols; j++) d[(int64_t)i * cols + j] = s[i + (int64_t)j * ld];
  }
}

typedef struct la_run {
  mx_la_one_fn one;
  void *job;
  size_t ws_bytes;
  mx_la_fail fail;
} la_run;

static void la_range(void *ctx, int64_t begin, int64_t end) {
  la_run *r = ctx;
  void *ws = malloc(r->ws_bytes ? r->ws_bytes : 1);
  if (!ws) {
    atomic_store(&r->fail.what, "workspace allocation");
    atomic_store(&r->fail.code, -1);
    return;
  }
  for (int64_t b = begin; b < end && atomic_load(&r->fail.code) == 0; b++) {
    const char *what = NULL;
    int code = r->one(r->job, b, ws, &what);
    if (code != 0) {
      int zero = 0;
      if (atomic_compare_exchange_strong(&r->fail.code, &zero, code))
        atomic_store(&r->fail.what, what);
    }
  }
  free(ws);
}

int mx_la_run(const char *prim, int64_t nbatch, int64_t cost, size_t ws_bytes, mx_la_one_fn one,
              void *job) {
  la_run r = {one, job, ws_bytes, {0, NULL}};
  if (nbatch <= 0) return 0;
  /* Small matrices: one per pool task; large ones: one at a time (OpenBLAS threads them). */
  if (nbatch > 1 && cost <= 128 * 128) {
    int64_t grain = 4096 / (cost > 0 ? cost : 1);
    mx_cpu_parallel_for(nbatch, grain > 1 ? grain : 1, la_range, &r);
  } else {
    la_range(&r, 0, nbatch);
  }
  int code = atomic_load(&r.fail.code);
  if (code == 0) return 0;
  const char *what = atomic_load(&r.fail.what);
  if (code == -1 && what && !strcmp(what, "workspace allocation"))
    return mx_fail_int(MX_ENOMEM, "[malloc] Unable to allocate %zu bytes.", ws_bytes);
  return mx_fail_int(MX_ERUNTIME, "[%s::eval_cpu] %s failed with error code %d", prim,
                     what ? what : "LAPACK", code);
}

/* ---- Inverse ---- */

typedef struct inv_job {
  const mx_tensor *in;
  mx_tensor *out;
  int n;
  bool tri, upper;
} inv_job;

/* Zeroes the triangle of the column-major n x n matrix a that a lower (upper) factor lacks. */
static void la_zero_other(void *a, int n, bool upper, int esz) {
  for (int j = 0; j < n; j++)
    for (int i = 0; i < n; i++)
      if (upper ? i > j : i < j) memset((char *)a + ((size_t)i + (size_t)j * n) * esz, 0, esz);
}

static int inv_one(void *job_, int64_t b, void *ws, const char **what) {
  inv_job *j = job_;
  int n = j->n, ld = n > 1 ? n : 1;
  bool f64 = j->in->dtype == MX_FLOAT64;
  int esz = f64 ? 8 : 4;
  void *a = ws;
  lapack_int *ipiv = (lapack_int *)((char *)ws + (size_t)n * n * esz);
  mx_la_load(j->in, b, n, n, a, ld);
  lapack_int info;
  char uplo = j->upper ? 'U' : 'L';
  if (j->tri) {
    info = f64 ? LAPACKE_dtrtri(LAPACK_COL_MAJOR, uplo, 'N', n, a, ld)
               : LAPACKE_strtri(LAPACK_COL_MAJOR, uplo, 'N', n, a, ld);
    if (info != 0) {
      *what = "triangular inversion";
      return info;
    }
    la_zero_other(a, n, j->upper, esz);
  } else {
    info = f64 ? LAPACKE_dgetrf(LAPACK_COL_MAJOR, n, n, a, ld, ipiv)
               : LAPACKE_sgetrf(LAPACK_COL_MAJOR, n, n, a, ld, ipiv);
    if (info != 0) {
      *what = "LU factorization";
      return info;
    }
    info = f64 ? LAPACKE_dgetri(LAPACK_COL_MAJOR, n, a, ld, ipiv)
               : LAPACKE_sgetri(LAPACK_COL_MAJOR, n, a, ld, ipiv);
    if (info != 0) {
      *what = "inversion";
      return info;
    }
  }
  mx_la_store(a, ld, n, n, (char *)j->out->data + (size_t)b * n * n * esz, esz);
  return 0;
}

int mx_cpu_inverse(const mx_kernel_ctx *ctx, const mx_tensor *in, int n_in, mx_tensor *out,
                   int n_out) {
  const mx_p_inverse *p = ctx->params;
  int n = in[0].shape[in[0].ndim - 1];
  inv_job j = {&in[0], &out[0], n, p->tri, p->upper};
  int64_t nb = n ? in[0].size / ((int64_t)n * n) : 0;
  size_t ws = (size_t)n * n * mx_dtype_size(in[0].dtype) + (size_t)n * sizeof(lapack_int);
  return mx_la_run("Inverse", nb, (int64_t)n * n, ws, inv_one, &j);
}

/* ---- Cholesky: LAPACK's result as it is, also when the matrix is not positive definite
 * (the factorization stops at the failing column), as MLX ---- */

static int chol_one(void *job_, int64_t b, void *ws, const char **what) {
  inv_job *j = job_;
  int n = j->n, ld = n > 1 ? n : 1;
  bool f64 = j->in->dtype == MX_FLOAT64;
  int esz = f64 ? 8 : 4;
  mx_la_load(j->in, b, n, n, ws, ld);
  char uplo = j->upper ? 'U' : 'L';
  if (f64)
    LAPACKE_dpotrf(LAPACK_COL_MAJOR, uplo, n, ws, ld);
  else
    LAPACKE_spotrf(LAPACK_COL_MAJOR, uplo, n, ws, ld);
  la_zero_other(ws, n, j->upper, esz);
  mx_la_store(ws, ld, n, n, (char *)j->out->data + (size_t)b * n * n * esz, esz);
  return 0;
}

int mx_cpu_cholesky(const mx_kernel_ctx *ctx, const mx_tensor *in, int n_in, mx_tensor *out,
                    int n_out) {
  const mx_p_cholesky *p = ctx->params;
  int n = in[0].shape[in[0].ndim - 1];
  inv_job j = {&in[0], &out[0], n, false, p->upper};
  int64_t nb = n ? in[0].size / ((int64_t)n * n) : 0;
  return mx_la_run("Cholesky", nb, (int64_t)n * n, (size_t)n * n * mx_dtype_size(in[0].dtype),
                   chol_one, &j);
}

/* ---- LUF: (LU, pivots, perm); a zero pivot is no error (det and lu see it) ---- */

typedef struct luf_job {
  const mx_tensor *in;
  mx_tensor *out;
  int m, n;
} luf_job;

static int luf_one(void *job_, int64_t b, void *ws, const char **what) {
  luf_job *j = job_;
  int m = j->m, n = j->n, k = m < n ? m : n, ld = m > 1 ? m : 1;
  bool f64 = j->in->dtype == MX_FLOAT64;
  int esz = f64 ? 8 : 4;
  void *a = ws;
  lapack_int *ipiv = (lapack_int *)((char *)ws + (size_t)m * n * esz);
  uint32_t *perm = (uint32_t *)(ipiv + (k > 0 ? k : 1));
  mx_la_load(j->in, b, m, n, a, ld);
  if (k > 0) {
    lapack_int info = f64 ? LAPACKE_dgetrf(LAPACK_COL_MAJOR, m, n, a, ld, ipiv)
                          : LAPACKE_sgetrf(LAPACK_COL_MAJOR, m, n, a, ld, ipiv);
    if (info < 0) {
      *what = "LU factorization";
      return info;
    }
  }
  mx_la_store(a, ld, m, n, (char *)j->out[0].data + (size_t)b * m * n * esz, esz);
  uint32_t *piv = (uint32_t *)j->out[1].data + (size_t)b * k;
  uint32_t *rows = (uint32_t *)j->out[2].data + (size_t)b * m;
  for (int i = 0; i < m; i++) perm[i] = (uint32_t)i;
  for (int i = 0; i < k; i++) {
    int t = (int)ipiv[i] - 1;
    piv[i] = (uint32_t)t;
    uint32_t s = perm[i];
    perm[i] = perm[t];
    perm[t] = s;
  }
  /* row i of P A is row perm[i] of A; A = L[rows] @ U needs the inverse permutation */
  for (int i = 0; i < m; i++) rows[perm[i]] = (uint32_t)i;
  return 0;
}

int mx_cpu_luf(const mx_kernel_ctx *ctx, const mx_tensor *in, int n_in, mx_tensor *out,
               int n_out) {
  int m = in[0].shape[in[0].ndim - 2], n = in[0].shape[in[0].ndim - 1];
  int k = m < n ? m : n;
  luf_job j = {&in[0], out, m, n};
  int64_t nb = 1;
  for (int d = 0; d < in[0].ndim - 2; d++) nb *= in[0].shape[d];
  size_t ws = (size_t)m * n * mx_dtype_size(in[0].dtype) +
              (size_t)(k > 0 ? k : 1) * sizeof(lapack_int) + (size_t)m * sizeof(uint32_t);
  return mx_la_run("LUF", nb, (int64_t)m * n, ws, luf_one, &j);
}
