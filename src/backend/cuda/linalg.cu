/* linalg.cu: the Inverse, Cholesky, LUF and QRF primitives on CUDA, the twins of
 * cpu/linalg.c and the QRF part of cpu/linalg_decomp.c, with their output contract: each
 * matrix of the batch is copied into column-major scratch, factorized, and written back in
 * the output's layout. Matrices up to 32 x 32 run LAPACK's unblocked algorithms one thread
 * per matrix (an inverse's columns one thread each; linalg_small.cuh); larger ones call
 * cuSOLVER (getrf + getrs, trtri, potrf, getrf, geqrf + orgqr) matrix by matrix. Also the
 * helpers of linalg.cuh. */
#include <pthread.h>
#include <string.h>

#include "linalg.cuh"
#include "linalg_small.cuh"

/* ---- the calling thread's handles ---- */

#define LA_MAX_DEVICES 16

struct la_thread {
  cusolverDnHandle_t h[LA_MAX_DEVICES];
  cusolverDnParams_t params[LA_MAX_DEVICES];
  la_thread *next; /* in the pool */
};

static pthread_key_t la_key;
static bool la_key_ok;
static pthread_once_t la_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t la_pool_lock = PTHREAD_MUTEX_INITIALIZER;
static la_thread *la_pool; /* handles of threads that have exited */

/* Thread exit: no CUDA call here (the process may be tearing CUDA down); the handles wait
 * in the pool for the next thread. */
static void la_thread_exit(void *v) {
  la_thread *t = (la_thread *)v;
  pthread_mutex_lock(&la_pool_lock);
  t->next = la_pool;
  la_pool = t;
  pthread_mutex_unlock(&la_pool_lock);
}

static void la_key_init(void) { la_key_ok = pthread_key_create(&la_key, la_thread_exit) == 0; }

cusolverDnHandle_t la_handle(const la_batch *b, cusolverDnParams_t *params) {
  int dev = b->dev;
  if (dev < 0 || dev >= LA_MAX_DEVICES) {
    mx_fail_int(MX_ERUNTIME, "[%s::eval_gpu] Device %d is out of range.", b->prim, dev);
    return nullptr;
  }
  pthread_once(&la_once, la_key_init);
  if (!la_key_ok) {
    mx_fail_int(MX_ERUNTIME, "[%s::eval_gpu] Cannot keep per-thread cuSOLVER handles.", b->prim);
    return nullptr;
  }
  la_thread *t = (la_thread *)pthread_getspecific(la_key);
  if (!t) {
    pthread_mutex_lock(&la_pool_lock);
    t = la_pool;
    if (t) la_pool = t->next;
    pthread_mutex_unlock(&la_pool_lock);
    if (!t) t = (la_thread *)calloc(1, sizeof *t);
    if (!t) {
      mx_fail_int(MX_ENOMEM, "[malloc] Unable to allocate %zu bytes.", sizeof *t);
      return nullptr;
    }
    t->next = nullptr;
    if (pthread_setspecific(la_key, t) != 0) {
      la_thread_exit(t);
      mx_fail_int(MX_ERUNTIME, "[%s::eval_gpu] Cannot keep per-thread cuSOLVER handles.",
                  b->prim);
      return nullptr;
    }
  }
  if (!t->h[dev]) {
    cusolverDnHandle_t h;
    cusolverStatus_t s = cusolverDnCreate(&h);
    if (s != CUSOLVER_STATUS_SUCCESS) {
      la_fail_status(b, "handle creation", s);
      return nullptr;
    }
    s = cusolverDnCreateParams(&t->params[dev]);
    if (s != CUSOLVER_STATUS_SUCCESS) {
      cusolverDnDestroy(h);
      la_fail_status(b, "parameter creation", s);
      return nullptr;
    }
    t->h[dev] = h;
  }
  cusolverStatus_t s = cusolverDnSetStream(t->h[dev], b->q);
  if (s != CUSOLVER_STATUS_SUCCESS) {
    la_fail_status(b, "set stream", s);
    return nullptr;
  }
  if (params) *params = t->params[dev];
  return t->h[dev];
}

/* ---- shared helpers (linalg.cuh) ---- */

int la_fail_status(const la_batch *b, const char *what, cusolverStatus_t s) {
  return mx_fail_int(MX_ERUNTIME, "[%s::eval_gpu] cuSOLVER %s failed (status %d).", b->prim,
                     what, (int)s);
}

int la_fail_info(const la_batch *b, const char *what, int code) {
  return mx_fail_int(MX_ERUNTIME, "[%s::eval_gpu] %s failed with error code %d", b->prim, what,
                     code);
}

int la_batch_init(la_batch *b, const char *prim, const char *op, const mx_kernel_ctx *ctx,
                  const mx_tensor *in, bool cplx) {
  b->prim = prim;
  b->q = (cudaStream_t)ctx->queue;
  b->dev = ctx->device_index;
  mx_dtype t = in->dtype;
  if (t != MX_FLOAT32 && t != MX_FLOAT64 && !(cplx && t == MX_COMPLEX64))
    return mx_fail_int(MX_EINVAL, "[linalg::%s] %s is not supported on the GPU.", op,
                       mx_dtype_name(t));
  if (in->ndim < 2)
    return mx_fail_int(MX_EINVAL, "[linalg::%s] Arrays must have >= 2 dimensions.", op);
  b->m = in->shape[in->ndim - 2];
  b->n = in->shape[in->ndim - 1];
  b->nb = 1;
  for (int d = 0; d < in->ndim - 2; d++) b->nb *= in->shape[d];
  return 0;
}

int la_copy(const la_batch *b, const mx_tensor *t, void *scratch, int tail, int64_t rs,
            int64_t cs, int64_t mstride, bool to_scratch) {
  if (t->size == 0) return 0;
  int nd = t->ndim, nbd = nd - tail;
  int64_t *st = (int64_t *)malloc(sizeof(int64_t) * (size_t)(nd > 0 ? nd : 1));
  if (!st) return mx_fail_int(MX_ENOMEM, "[malloc] Unable to allocate %zu bytes.", (size_t)nd * 8);
  int64_t acc = mstride;
  for (int d = nbd - 1; d >= 0; d--) {
    st[d] = acc;
    acc *= t->shape[d];
  }
  st[nbd] = rs;
  if (tail == 2) st[nbd + 1] = cs;
  mx_tensor v = {scratch, t->dtype, nd, t->shape, st, t->size, 0};
  int rc = to_scratch ? mx_cuda_copy_strided(t, &v, b->q, b->dev)
                      : mx_cuda_copy_strided(&v, (mx_tensor *)t, b->q, b->dev);
  free(st);
  return rc;
}

int la_first_info(const la_batch *b, const int *dinfo, int64_t count, int *code) {
  *code = 0;
  if (count <= 0) return 0;
  size_t bytes = (size_t)count * sizeof(int);
  int *h = (int *)malloc(bytes);
  if (!h) return mx_fail_int(MX_ENOMEM, "[malloc] Unable to allocate %zu bytes.", bytes);
  cudaError_t e = cudaMemcpyAsync(h, dinfo, bytes, cudaMemcpyDeviceToHost, b->q);
  if (e == cudaSuccess) e = cudaStreamSynchronize(b->q);
  if (e != cudaSuccess) {
    free(h);
    return mx_fail_int(MX_ERUNTIME, "[%s::eval_gpu] CUDA error: %s", b->prim,
                       cudaGetErrorString(e));
  }
  for (int64_t i = 0; i < count; i++)
    if (h[i] != 0) {
      *code = h[i];
      break;
    }
  free(h);
  return 0;
}

/* ---- kernels: one thread per matrix (linalg_small.cuh), and batch-wide helpers ---- */

#define LA_FOR_MATRIX(b, nb)                                                               \
  for (int64_t b = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; b < (nb);               \
       b += (int64_t)gridDim.x * blockDim.x)
#define LA_FOR_ELEMENT(e, total)                                                           \
  for (int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; e < (total);            \
       e += (int64_t)gridDim.x * blockDim.x)

/* Column c of the inverse of matrix b, one thread per (matrix, column): of the triangle
 * (info per matrix from the diagonal), or of the matrix from its LU factors (la_k_getrf
 * before: a holds them, ipiv their swaps; a matrix with a zero pivot is skipped). */
template <class T>
__global__ void __launch_bounds__(LA_THREADS)
    la_k_inverse_cols(const T *a, T *x, int n, int64_t nb, bool tri, bool upper,
                      const int64_t *ipiv, int *info) {
  int64_t nn = (int64_t)n * n;
  LA_FOR_ELEMENT(e, nb * n) {
    int64_t b = e / n;
    int c = (int)(e % n);
    const T *ab = a + b * nn;
    T *xb = x + b * nn;
    if (tri) {
      int r = la_small_trtri_check(ab, n, n);
      if (c == 0) info[b] = r;
      if (r == 0) la_small_trtri_col(ab, n, n, upper, xb, n, c);
    } else if (info[b] == 0) {
      la_small_getri_col(ab, n, n, ipiv + b * n, xb, n, c);
    }
  }
}

template <class T>
__global__ void __launch_bounds__(LA_THREADS) la_k_potrf(T *a, int n, int64_t nb, bool upper) {
  LA_FOR_MATRIX(b, nb) la_small_potrf(a + b * (int64_t)n * n, n, n, upper);
}

/* LU of each m x n matrix of a; info (when given) the first zero pivot per matrix. */
template <class T>
__global__ void __launch_bounds__(LA_THREADS)
    la_k_getrf(T *a, int m, int n, int64_t nb, int64_t *ipiv, int *info) {
  int k = m < n ? m : n;
  LA_FOR_MATRIX(b, nb) {
    int r = la_small_getrf(a + b * (int64_t)m * n, m, m, n, ipiv + b * k);
    if (info) info[b] = r;
  }
}

/* R (k x n, column-major) of each m x n matrix of a, and Q in a's first k columns. */
template <class T>
__global__ void __launch_bounds__(LA_THREADS) la_k_qr(T *a, T *r, int m, int n, int64_t nb) {
  int k = m < n ? m : n;
  LA_FOR_MATRIX(b, nb) {
    T *ab = a + b * (int64_t)m * n, *rb = r + b * (int64_t)k * n;
    T tau[LA_SMALL];
    la_small_geqrf(ab, m, m, n, tau);
    for (int c = 0; c < n; c++)
      for (int i = 0; i < k; i++) LA_AT(rb, k, i, c) = c >= i ? LA_AT(ab, m, i, c) : T(0);
    la_small_orgqr(ab, m, m, k, tau);
  }
}

/* The upper part of the first k rows of each m x n matrix of a into r (k x n). */
template <class T>
__global__ void la_k_take_r(const T *a, T *r, int m, int n, int64_t nb) {
  int k = m < n ? m : n;
  int64_t kn = (int64_t)k * n;
  LA_FOR_ELEMENT(e, nb * kn) {
    int64_t b = e / kn, o = e % kn;
    int i = (int)(o % k), c = (int)(o / k);
    r[e] = c >= i ? a[b * (int64_t)m * n + i + (int64_t)c * m] : T(0);
  }
}

/* Zeroes the triangle of each column-major n x n matrix that a lower (upper) factor lacks. */
template <class T>
__global__ void la_k_zero_other(T *a, int n, int64_t nb, bool upper) {
  int64_t nn = (int64_t)n * n;
  LA_FOR_ELEMENT(e, nb * nn) {
    int64_t o = e % nn;
    int i = (int)(o % n), j = (int)(o / n);
    if (upper ? i > j : i < j) a[e] = T(0);
  }
}

/* LAPACK's 1-based row swaps (k per matrix) as LUF's outputs: 0-based pivots, and rows
 * (m per matrix) with A = L[rows] @ U; perm is m entries of scratch per matrix. */
__global__ void la_k_pivots(const int64_t *ipiv, uint32_t *piv, uint32_t *rows, uint32_t *perm,
                            int m, int k, int64_t nb) {
  LA_FOR_MATRIX(b, nb) {
    const int64_t *ip = ipiv + b * k;
    uint32_t *pv = piv + b * k, *rw = rows + b * m, *pm = perm + b * m;
    for (int i = 0; i < m; i++) pm[i] = (uint32_t)i;
    for (int i = 0; i < k; i++) {
      int t = (int)ip[i] - 1;
      pv[i] = (uint32_t)t;
      uint32_t s = pm[i];
      pm[i] = pm[t];
      pm[t] = s;
    }
    for (int i = 0; i < m; i++) rw[pm[i]] = (uint32_t)i;
  }
}

/* Whether the one-thread-per-matrix kernels beat a cuSOLVER call per matrix: always up to
 * 16 x 16; up to 32 x 32 when there are enough matrices to keep the GPU busy. */
static bool la_small_path(const la_batch *b) {
  int d = b->m > b->n ? b->m : b->n;
  return d <= 16 || (d <= LA_SMALL && b->nb >= 8);
}

/* ---- Inverse ---- */

template <class T>
static int la_inverse_t(const la_batch *b, const mx_p_inverse *p, const mx_tensor *in,
                        mx_tensor *out) {
  int n = b->n;
  int64_t nb = b->nb, nn = (int64_t)n * n;
  cudaDataType dt = la_cuda_type(in->dtype);
  mxc_scratch_guard ga(b->q), gx(b->q), gi(b->q), gp(b->q), gw(b->q);
  T *a = (T *)ga.alloc((size_t)(nb * nn) * sizeof(T));
  int *info = (int *)gi.alloc((size_t)nb * sizeof(int) + sizeof(int));
  if (!a || !info) return -1;
  if (la_copy(b, in, a, 2, 1, n, nn, true) < 0) return -1;
  T *res = a;
  la_host_ws hw(b->q);
  if (la_small_path(b)) {
    T *x = (T *)gx.alloc((size_t)(nb * nn) * sizeof(T));
    int64_t *ipiv = (int64_t *)gp.alloc((size_t)(nb * n) * sizeof(int64_t));
    if (!x || !ipiv) return -1;
    if (!p->tri) {
      la_k_getrf<T><<<la_blocks(nb, b->dev), LA_THREADS, 0, b->q>>>(a, n, n, nb, ipiv, info);
      LA_CHECK_LAUNCH(b);
    }
    la_k_inverse_cols<T><<<la_blocks(nb * n, b->dev), LA_THREADS, 0, b->q>>>(
        a, x, n, nb, p->tri, p->upper, ipiv, info);
    LA_CHECK_LAUNCH(b);
    res = x;
  } else if (p->tri) {
    cusolverDnHandle_t h = la_handle(b, nullptr);
    if (!h) return -1;
    cublasFillMode_t uplo = p->upper ? CUBLAS_FILL_MODE_UPPER : CUBLAS_FILL_MODE_LOWER;
    size_t dws = 0, hws = 0;
    LA_CHECK(b, "trtri workspace query",
             cusolverDnXtrtri_bufferSize(h, uplo, CUBLAS_DIAG_NON_UNIT, n, dt, a, n, &dws, &hws));
    void *work = gw.alloc(dws);
    if (!work || !hw.alloc(hws)) return -1;
    for (int64_t k = 0; k < nb; k++)
      LA_CHECK(b, "trtri",
               cusolverDnXtrtri(h, uplo, CUBLAS_DIAG_NON_UNIT, n, dt, a + k * nn, n, work, dws,
                                hw.p, hws, info + k));
    la_k_zero_other<T><<<mxc_blocks(nb * nn, MXC_THREADS, b->dev), MXC_THREADS, 0, b->q>>>(
        a, n, nb, p->upper);
    LA_CHECK_LAUNCH(b);
  } else {
    cusolverDnParams_t prm;
    cusolverDnHandle_t h = la_handle(b, &prm);
    if (!h) return -1;
    T *x = (T *)gx.alloc((size_t)(nb * nn) * sizeof(T));
    int64_t *ipiv = (int64_t *)gp.alloc((size_t)(nb * n) * sizeof(int64_t));
    if (!x || !ipiv) return -1;
    size_t dws = 0, hws = 0;
    LA_CHECK(b, "getrf workspace query",
             cusolverDnXgetrf_bufferSize(h, prm, n, n, dt, a, n, dt, &dws, &hws));
    void *work = gw.alloc(dws);
    if (!work || !hw.alloc(hws)) return -1;
    T one = T(1);
    la_k_identity<T><<<mxc_blocks(nb * nn, MXC_THREADS, b->dev), MXC_THREADS, 0, b->q>>>(
        x, n, nb, one);
    LA_CHECK_LAUNCH(b);
    for (int64_t k = 0; k < nb; k++) {
      LA_CHECK(b, "getrf",
               cusolverDnXgetrf(h, prm, n, n, dt, a + k * nn, n, ipiv + k * n, dt, work, dws,
                                hw.p, hws, info + k));
      /* a singular matrix gives infinities here; its info code raises below */
      LA_CHECK(b, "getrs",
               cusolverDnXgetrs(h, prm, CUBLAS_OP_N, n, n, dt, a + k * nn, n, ipiv + k * n, dt,
                                x + k * nn, n, info + nb));
    }
    res = x;
  }
  int code = 0;
  if (la_first_info(b, info, nb, &code) < 0) return -1;
  if (code != 0) return la_fail_info(b, p->tri ? "triangular inversion" : "LU factorization", code);
  return la_copy(b, out, res, 2, 1, n, nn, false);
}

int mx_cuda_inverse(const mx_kernel_ctx *ctx, const mx_tensor *in, int n_in, mx_tensor *out,
                    int n_out) {
  const mx_p_inverse *p = (const mx_p_inverse *)ctx->params;
  la_batch b;
  if (la_batch_init(&b, "Inverse", "inv", ctx, &in[0], false) < 0) return -1;
  if (b.nb == 0 || b.n == 0) return 0;
  return in[0].dtype == MX_FLOAT64 ? la_inverse_t<double>(&b, p, &in[0], &out[0])
                                   : la_inverse_t<float>(&b, p, &in[0], &out[0]);
}

/* ---- Cholesky: as on the CPU, a matrix that is not positive definite is no error ---- */

template <class T>
static int la_cholesky_t(const la_batch *b, bool upper, const mx_tensor *in, mx_tensor *out) {
  int n = b->n;
  int64_t nb = b->nb, nn = (int64_t)n * n;
  mxc_scratch_guard ga(b->q), gi(b->q), gw(b->q);
  T *a = (T *)ga.alloc((size_t)(nb * nn) * sizeof(T));
  if (!a || la_copy(b, in, a, 2, 1, n, nn, true) < 0) return -1;
  la_host_ws hw(b->q);
  if (n <= LA_SMALL) { /* potf2, as OpenBLAS factorizes up to 32 x 32: the same partial
                        * factor for a matrix that is not positive definite */
    la_k_potrf<T><<<la_blocks(nb, b->dev), LA_THREADS, 0, b->q>>>(a, n, nb, upper);
    LA_CHECK_LAUNCH(b);
  } else {
    cusolverDnParams_t prm;
    cusolverDnHandle_t h = la_handle(b, &prm);
    if (!h) return -1;
    cudaDataType dt = la_cuda_type(in->dtype);
    cublasFillMode_t uplo = upper ? CUBLAS_FILL_MODE_UPPER : CUBLAS_FILL_MODE_LOWER;
    size_t dws = 0, hws = 0;
    LA_CHECK(b, "potrf workspace query",
             cusolverDnXpotrf_bufferSize(h, prm, uplo, n, dt, a, n, dt, &dws, &hws));
    void *work = gw.alloc(dws);
    int *info = (int *)gi.alloc((size_t)nb * sizeof(int));
    if (!work || !info || !hw.alloc(hws)) return -1;
    for (int64_t k = 0; k < nb; k++)
      LA_CHECK(b, "potrf",
               cusolverDnXpotrf(h, prm, uplo, n, dt, a + k * nn, n, dt, work, dws, hw.p, hws,
                                info + k));
    la_k_zero_other<T><<<mxc_blocks(nb * nn, MXC_THREADS, b->dev), MXC_THREADS, 0, b->q>>>(
        a, n, nb, upper);
    LA_CHECK_LAUNCH(b);
  }
  return la_copy(b, out, a, 2, 1, n, nn, false);
}

int mx_cuda_cholesky(const mx_kernel_ctx *ctx, const mx_tensor *in, int n_in, mx_tensor *out,
                     int n_out) {
  const mx_p_cholesky *p = (const mx_p_cholesky *)ctx->params;
  la_batch b;
  if (la_batch_init(&b, "Cholesky", "cholesky", ctx, &in[0], false) < 0) return -1;
  if (b.nb == 0 || b.n == 0) return 0;
  return in[0].dtype == MX_FLOAT64 ? la_cholesky_t<double>(&b, p->upper, &in[0], &out[0])
                                   : la_cholesky_t<float>(&b, p->upper, &in[0], &out[0]);
}

/* ---- LUF: (LU, pivots, rows); a zero pivot is no error ---- */

template <class T>
static int la_luf_t(const la_batch *b, const mx_tensor *in, mx_tensor *out) {
  int m = b->m, n = b->n, k = m < n ? m : n;
  int64_t nb = b->nb, mn = (int64_t)m * n;
  mxc_scratch_guard ga(b->q), gp(b->q), gu(b->q), gi(b->q), gw(b->q);
  T *a = (T *)ga.alloc((size_t)(nb * mn) * sizeof(T));
  int64_t *ipiv = (int64_t *)gp.alloc((size_t)(nb * k) * sizeof(int64_t));
  /* pivots (nb * k), rows (nb * m), then the permutation scratch (nb * m) */
  uint32_t *piv = (uint32_t *)gu.alloc((size_t)(nb * (k + 2 * (int64_t)m)) * sizeof(uint32_t));
  if (!a || !ipiv || !piv) return -1;
  uint32_t *rows = piv + nb * k, *perm = rows + nb * m;
  la_host_ws hw(b->q);
  if (k > 0) {
    if (la_copy(b, in, a, 2, 1, m, mn, true) < 0) return -1;
    if (la_small_path(b)) {
      la_k_getrf<T><<<la_blocks(nb, b->dev), LA_THREADS, 0, b->q>>>(a, m, n, nb, ipiv,
                                                                    nullptr);
      LA_CHECK_LAUNCH(b);
    } else {
      cusolverDnParams_t prm;
      cusolverDnHandle_t h = la_handle(b, &prm);
      if (!h) return -1;
      cudaDataType dt = la_cuda_type(in->dtype);
      size_t dws = 0, hws = 0;
      LA_CHECK(b, "getrf workspace query",
               cusolverDnXgetrf_bufferSize(h, prm, m, n, dt, a, m, dt, &dws, &hws));
      void *work = gw.alloc(dws);
      int *info = (int *)gi.alloc((size_t)nb * sizeof(int));
      if (!work || !info || !hw.alloc(hws)) return -1;
      for (int64_t j = 0; j < nb; j++)
        LA_CHECK(b, "getrf",
                 cusolverDnXgetrf(h, prm, m, n, dt, a + j * mn, m, ipiv + j * k, dt, work, dws,
                                  hw.p, hws, info + j));
    }
  }
  la_k_pivots<<<la_blocks(nb, b->dev), LA_THREADS, 0, b->q>>>(ipiv, piv, rows, perm, m, k, nb);
  LA_CHECK_LAUNCH(b);
  if (la_copy(b, &out[0], a, 2, 1, m, mn, false) < 0 ||
      la_copy(b, &out[1], piv, 1, 1, 0, k, false) < 0)
    return -1;
  return la_copy(b, &out[2], rows, 1, 1, 0, m, false);
}

int mx_cuda_luf(const mx_kernel_ctx *ctx, const mx_tensor *in, int n_in, mx_tensor *out,
                int n_out) {
  la_batch b;
  if (la_batch_init(&b, "LUF", "lu_factor", ctx, &in[0], false) < 0) return -1;
  if (b.nb == 0) return 0;
  return in[0].dtype == MX_FLOAT64 ? la_luf_t<double>(&b, &in[0], out)
                                   : la_luf_t<float>(&b, &in[0], out);
}

/* ---- QRF: Q (m x k) and R (k x n), R's signs as LAPACK's ---- */

static cusolverStatus_t la_orgqr_size(cusolverDnHandle_t h, int m, int k, const float *a,
                                      const float *tau, int *lwork) {
  return cusolverDnSorgqr_bufferSize(h, m, k, k, a, m, tau, lwork);
}
static cusolverStatus_t la_orgqr_size(cusolverDnHandle_t h, int m, int k, const double *a,
                                      const double *tau, int *lwork) {
  return cusolverDnDorgqr_bufferSize(h, m, k, k, a, m, tau, lwork);
}
static cusolverStatus_t la_orgqr(cusolverDnHandle_t h, int m, int k, float *a, const float *tau,
                                 float *work, int lwork, int *info) {
  return cusolverDnSorgqr(h, m, k, k, a, m, tau, work, lwork, info);
}
static cusolverStatus_t la_orgqr(cusolverDnHandle_t h, int m, int k, double *a,
                                 const double *tau, double *work, int lwork, int *info) {
  return cusolverDnDorgqr(h, m, k, k, a, m, tau, work, lwork, info);
}

template <class T>
static int la_qrf_t(const la_batch *b, const mx_tensor *in, mx_tensor *out) {
  int m = b->m, n = b->n, k = m < n ? m : n;
  int64_t nb = b->nb, mn = (int64_t)m * n, kn = (int64_t)k * n;
  mxc_scratch_guard ga(b->q), gr(b->q), gt(b->q), gi(b->q), gw(b->q);
  T *a = (T *)ga.alloc((size_t)(nb * mn) * sizeof(T));
  T *r = (T *)gr.alloc((size_t)(nb * kn) * sizeof(T));
  if (!a || !r || la_copy(b, in, a, 2, 1, m, mn, true) < 0) return -1;
  la_host_ws hw(b->q);
  if (la_small_path(b)) {
    la_k_qr<T><<<la_blocks(nb, b->dev), LA_THREADS, 0, b->q>>>(a, r, m, n, nb);
    LA_CHECK_LAUNCH(b);
  } else {
    cusolverDnParams_t prm;
    cusolverDnHandle_t h = la_handle(b, &prm);
    if (!h) return -1;
    cudaDataType dt = la_cuda_type(in->dtype);
    T *tau = (T *)gt.alloc((size_t)(nb * k) * sizeof(T));
    int *info = (int *)gi.alloc((size_t)nb * sizeof(int));
    if (!tau || !info) return -1;
    size_t dws = 0, hws = 0;
    int lwork = 0;
    LA_CHECK(b, "geqrf workspace query",
             cusolverDnXgeqrf_bufferSize(h, prm, m, n, dt, a, m, dt, tau, dt, &dws, &hws));
    LA_CHECK(b, "orgqr workspace query", la_orgqr_size(h, m, k, a, tau, &lwork));
    if ((size_t)lwork * sizeof(T) > dws) dws = (size_t)lwork * sizeof(T);
    void *work = gw.alloc(dws);
    if (!work || !hw.alloc(hws)) return -1;
    for (int64_t j = 0; j < nb; j++)
      LA_CHECK(b, "geqrf",
               cusolverDnXgeqrf(h, prm, m, n, dt, a + j * mn, m, dt, tau + j * k, dt, work, dws,
                                hw.p, hws, info + j));
    la_k_take_r<T><<<mxc_blocks(nb * kn, MXC_THREADS, b->dev), MXC_THREADS, 0, b->q>>>(a, r, m,
                                                                                      n, nb);
    LA_CHECK_LAUNCH(b);
    for (int64_t j = 0; j < nb; j++)
      LA_CHECK(b, "orgqr",
               la_orgqr(h, m, k, a + j * mn, tau + j * k, (T *)work, lwork, info + j));
  }
  if (la_copy(b, &out[0], a, 2, 1, m, mn, false) < 0) return -1;
  return la_copy(b, &out[1], r, 2, 1, k, kn, false);
}

int mx_cuda_qrf(const mx_kernel_ctx *ctx, const mx_tensor *in, int n_in, mx_tensor *out,
                int n_out) {
  la_batch b;
  if (la_batch_init(&b, "QRF", "qr", ctx, &in[0], false) < 0) return -1;
  if (b.nb == 0 || b.m == 0 || b.n == 0) return 0;
  return in[0].dtype == MX_FLOAT64 ? la_qrf_t<double>(&b, &in[0], out)
                                   : la_qrf_t<float>(&b, &in[0], out);
}
