/* linalg_decomp.cu: the SVD, Eigh and Eig primitives on CUDA through cuSOLVER, the twins of
 * cpu/linalg_decomp.c with its output contract (S descending, Eigh's w ascending, Eig's
 * results complex64, full U and Vt, float32 / float64 / complex64). Batches of matrices up
 * to 32 x 32 go to the Jacobi batched routines (gesvdjBatched, syevjBatched), larger ones
 * to gesvdj, syevd and geev one matrix at a time. */
#include <string.h>

#include <type_traits>

#include "linalg.cuh"

#define LA_JACOBI_MAX 32      /* the batched Jacobi routines' largest matrix */
#define LA_CHUNK (1 << 16)    /* matrices per batched call */

/* ---- typed cuSOLVER entry points ---- */

static cusolverStatus_t la_gesvdj_size(cusolverDnHandle_t h, cusolverEigMode_t jz, int m, int n,
                                       const float *a, const float *s, const float *u,
                                       const float *v, int *lw, gesvdjInfo_t p) {
  return cusolverDnSgesvdj_bufferSize(h, jz, 0, m, n, a, m, s, u, m, v, n, lw, p);
}
static cusolverStatus_t la_gesvdj_size(cusolverDnHandle_t h, cusolverEigMode_t jz, int m, int n,
                                       const double *a, const double *s, const double *u,
                                       const double *v, int *lw, gesvdjInfo_t p) {
  return cusolverDnDgesvdj_bufferSize(h, jz, 0, m, n, a, m, s, u, m, v, n, lw, p);
}
static cusolverStatus_t la_gesvdj_size(cusolverDnHandle_t h, cusolverEigMode_t jz, int m, int n,
                                       const cuComplex *a, const float *s, const cuComplex *u,
                                       const cuComplex *v, int *lw, gesvdjInfo_t p) {
  return cusolverDnCgesvdj_bufferSize(h, jz, 0, m, n, a, m, s, u, m, v, n, lw, p);
}
static cusolverStatus_t la_gesvdj(cusolverDnHandle_t h, cusolverEigMode_t jz, int m, int n,
                                  float *a, float *s, float *u, float *v, float *w, int lw,
                                  int *info, gesvdjInfo_t p) {
  return cusolverDnSgesvdj(h, jz, 0, m, n, a, m, s, u, m, v, n, w, lw, info, p);
}
static cusolverStatus_t la_gesvdj(cusolverDnHandle_t h, cusolverEigMode_t jz, int m, int n,
                                  double *a, double *s, double *u, double *v, double *w, int lw,
                                  int *info, gesvdjInfo_t p) {
  return cusolverDnDgesvdj(h, jz, 0, m, n, a, m, s, u, m, v, n, w, lw, info, p);
}
static cusolverStatus_t la_gesvdj(cusolverDnHandle_t h, cusolverEigMode_t jz, int m, int n,
                                  cuComplex *a, float *s, cuComplex *u, cuComplex *v,
                                  cuComplex *w, int lw, int *info, gesvdjInfo_t p) {
  return cusolverDnCgesvdj(h, jz, 0, m, n, a, m, s, u, m, v, n, w, lw, info, p);
}

static cusolverStatus_t la_gesvdjb_size(cusolverDnHandle_t h, cusolverEigMode_t jz, int m, int n,
                                        const float *a, const float *s, const float *u,
                                        const float *v, int *lw, gesvdjInfo_t p, int nb) {
  return cusolverDnSgesvdjBatched_bufferSize(h, jz, m, n, a, m, s, u, m, v, n, lw, p, nb);
}
static cusolverStatus_t la_gesvdjb_size(cusolverDnHandle_t h, cusolverEigMode_t jz, int m, int n,
                                        const double *a, const double *s, const double *u,
                                        const double *v, int *lw, gesvdjInfo_t p, int nb) {
  return cusolverDnDgesvdjBatched_bufferSize(h, jz, m, n, a, m, s, u, m, v, n, lw, p, nb);
}
static cusolverStatus_t la_gesvdjb_size(cusolverDnHandle_t h, cusolverEigMode_t jz, int m, int n,
                                        const cuComplex *a, const float *s, const cuComplex *u,
                                        const cuComplex *v, int *lw, gesvdjInfo_t p, int nb) {
  return cusolverDnCgesvdjBatched_bufferSize(h, jz, m, n, a, m, s, u, m, v, n, lw, p, nb);
}
static cusolverStatus_t la_gesvdjb(cusolverDnHandle_t h, cusolverEigMode_t jz, int m, int n,
                                   float *a, float *s, float *u, float *v, float *w, int lw,
                                   int *info, gesvdjInfo_t p, int nb) {
  return cusolverDnSgesvdjBatched(h, jz, m, n, a, m, s, u, m, v, n, w, lw, info, p, nb);
}
static cusolverStatus_t la_gesvdjb(cusolverDnHandle_t h, cusolverEigMode_t jz, int m, int n,
                                   double *a, double *s, double *u, double *v, double *w, int lw,
                                   int *info, gesvdjInfo_t p, int nb) {
  return cusolverDnDgesvdjBatched(h, jz, m, n, a, m, s, u, m, v, n, w, lw, info, p, nb);
}
static cusolverStatus_t la_gesvdjb(cusolverDnHandle_t h, cusolverEigMode_t jz, int m, int n,
                                   cuComplex *a, float *s, cuComplex *u, cuComplex *v,
                                   cuComplex *w, int lw, int *info, gesvdjInfo_t p, int nb) {
  return cusolverDnCgesvdjBatched(h, jz, m, n, a, m, s, u, m, v, n, w, lw, info, p, nb);
}

static cusolverStatus_t la_syevjb_size(cusolverDnHandle_t h, cusolverEigMode_t jz,
                                       cublasFillMode_t up, int n, const float *a,
                                       const float *w, int *lw, syevjInfo_t p, int nb) {
  return cusolverDnSsyevjBatched_bufferSize(h, jz, up, n, a, n, w, lw, p, nb);
}
static cusolverStatus_t la_syevjb_size(cusolverDnHandle_t h, cusolverEigMode_t jz,
                                       cublasFillMode_t up, int n, const double *a,
                                       const double *w, int *lw, syevjInfo_t p, int nb) {
  return cusolverDnDsyevjBatched_bufferSize(h, jz, up, n, a, n, w, lw, p, nb);
}
static cusolverStatus_t la_syevjb_size(cusolverDnHandle_t h, cusolverEigMode_t jz,
                                       cublasFillMode_t up, int n, const cuComplex *a,
                                       const float *w, int *lw, syevjInfo_t p, int nb) {
  return cusolverDnCheevjBatched_bufferSize(h, jz, up, n, a, n, w, lw, p, nb);
}
static cusolverStatus_t la_syevjb(cusolverDnHandle_t h, cusolverEigMode_t jz, cublasFillMode_t up,
                                  int n, float *a, float *w, float *work, int lw, int *info,
                                  syevjInfo_t p, int nb) {
  return cusolverDnSsyevjBatched(h, jz, up, n, a, n, w, work, lw, info, p, nb);
}
static cusolverStatus_t la_syevjb(cusolverDnHandle_t h, cusolverEigMode_t jz, cublasFillMode_t up,
                                  int n, double *a, double *w, double *work, int lw, int *info,
                                  syevjInfo_t p, int nb) {
  return cusolverDnDsyevjBatched(h, jz, up, n, a, n, w, work, lw, info, p, nb);
}
static cusolverStatus_t la_syevjb(cusolverDnHandle_t h, cusolverEigMode_t jz, cublasFillMode_t up,
                                  int n, cuComplex *a, float *w, cuComplex *work, int lw,
                                  int *info, syevjInfo_t p, int nb) {
  return cusolverDnCheevjBatched(h, jz, up, n, a, n, w, work, lw, info, p, nb);
}

/* Destroys the Jacobi parameter objects at scope exit. */
struct la_gesvdj_params {
  gesvdjInfo_t p = nullptr;
  ~la_gesvdj_params() { if (p) cusolverDnDestroyGesvdjInfo(p); }
};
struct la_syevj_params {
  syevjInfo_t p = nullptr;
  ~la_syevj_params() { if (p) cusolverDnDestroySyevjInfo(p); }
};

static inline bool la_jacobi_batch(int m, int n) {
  return m <= LA_JACOBI_MAX && n <= LA_JACOBI_MAX;
}

/* ---- kernels ---- */

__global__ void la_k_conj(cuComplex *x, int64_t n) {
  for (int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; e < n;
       e += (int64_t)gridDim.x * blockDim.x)
    x[e].y = -x[e].y;
}

/* Eig's outputs from geev's: w (n per matrix, complex of the input's precision) as complex64,
 * and VR (n x n column-major) as complex64 row-major columns; for real input a conjugate
 * pair (positive imaginary part first) shares columns c (real part) and c + 1 (imaginary),
 * as LAPACK stores it. One thread per (matrix, row). */
template <class T, class TW>
__global__ void la_k_eig_out(const TW *w, const T *vr, cuComplex *wo, cuComplex *vo, int n,
                             int64_t nb, bool vectors) {
  int64_t nn = (int64_t)n * n;
  for (int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; e < nb * n;
       e += (int64_t)gridDim.x * blockDim.x) {
    int64_t b = e / n;
    int r = (int)(e % n);
    const TW *wb = w + b * n;
    wo[e] = make_cuComplex((float)wb[r].x, (float)wb[r].y);
    if (!vectors) continue;
    const T *v = vr + b * nn;
    cuComplex *o = vo + b * nn + (int64_t)r * n;
    for (int c = 0; c < n; c++) {
      if constexpr (std::is_same<T, cuComplex>::value) {
        o[c] = v[r + (int64_t)c * n];
      } else {
        bool pair = wb[c].y != 0 && c + 1 < n;
        float re = (float)v[r + (int64_t)c * n];
        float im = pair ? (float)v[r + (int64_t)(c + 1) * n] : 0.0f;
        o[c] = make_cuComplex(re, im);
        if (pair) {
          o[c + 1] = make_cuComplex(re, -im);
          c++;
        }
      }
    }
  }
}

/* ---- SVD ----
 * cuSOLVER factorizes B = A when m >= n, else B = A^T (the row-major input read as
 * column-major), so B is r x c with r >= c: B = UB S VB^H. Then U is UB (m >= n) or
 * conj(VB), and Vt is VB^H or UB^T: the c x c factor is conjugated, after which U is the
 * m x m factor read transposed and Vt the n x n factor read as it lies. */

template <class T>
static T la_one() {
  if constexpr (std::is_same<T, cuComplex>::value) return make_cuComplex(1.0f, 0.0f);
  else return T(1);
}

template <class T, class R>
static int la_svd_t(const la_batch *b, bool uv, const mx_tensor *in, mx_tensor *out) {
  int m = b->m, n = b->n, k = m < n ? m : n;
  bool tall = m >= n;
  int r = tall ? m : n, c = tall ? n : m;
  int64_t nb = b->nb, mn = (int64_t)m * n, rr = (int64_t)r * r, cc = (int64_t)c * c;
  mxc_scratch_guard ga(b->q), gs(b->q), gu(b->q), gv(b->q), gi(b->q), gw(b->q);
  if (k == 0) { /* U and Vt are identities, as LAPACK leaves them */
    if (!uv) return 0;
    T *ub = (T *)gu.alloc((size_t)(nb * m * (int64_t)m) * sizeof(T));
    T *vb = (T *)gv.alloc((size_t)(nb * n * (int64_t)n) * sizeof(T));
    if (!ub || !vb) return -1;
    la_k_identity<T><<<mxc_blocks(nb * m * (int64_t)m + 1, MXC_THREADS, b->dev), MXC_THREADS, 0,
                        b->q>>>(ub, m, nb, la_one<T>());
    la_k_identity<T><<<mxc_blocks(nb * n * (int64_t)n + 1, MXC_THREADS, b->dev), MXC_THREADS, 0,
                        b->q>>>(vb, n, nb, la_one<T>());
    LA_CHECK_LAUNCH(b);
    if (la_copy(b, &out[0], ub, 2, 1, m, (int64_t)m * m, false) < 0) return -1;
    return la_copy(b, &out[2], vb, 2, 1, n, (int64_t)n * n, false);
  }
  T *a = (T *)ga.alloc((size_t)(nb * mn) * sizeof(T));
  R *s = (R *)gs.alloc((size_t)(nb * k) * sizeof(R));
  T *ub = (T *)gu.alloc((size_t)(nb * rr) * sizeof(T));
  T *vb = (T *)gv.alloc((size_t)(nb * cc) * sizeof(T));
  int *info = (int *)gi.alloc((size_t)nb * sizeof(int));
  if (!a || !s || !ub || !vb || !info) return -1;
  if (la_copy(b, in, a, 2, tall ? 1 : n, tall ? m : 1, mn, true) < 0) return -1;
  cusolverDnHandle_t h = la_handle(b, nullptr);
  if (!h) return -1;
  la_gesvdj_params prm;
  LA_CHECK(b, "gesvdj parameters", cusolverDnCreateGesvdjInfo(&prm.p));
  cusolverEigMode_t jz = uv ? CUSOLVER_EIG_MODE_VECTOR : CUSOLVER_EIG_MODE_NOVECTOR;
  int lw = 0;
  if (la_jacobi_batch(m, n)) {
    LA_CHECK(b, "gesvdj parameters", cusolverDnXgesvdjSetSortEig(prm.p, 1));
    int chunk = nb < LA_CHUNK ? (int)nb : LA_CHUNK;
    LA_CHECK(b, "gesvdjBatched workspace query",
             la_gesvdjb_size(h, jz, r, c, a, s, ub, vb, &lw, prm.p, chunk));
    T *work = (T *)gw.alloc((size_t)lw * sizeof(T));
    if (!work) return -1;
    for (int64_t o = 0; o < nb; o += chunk) {
      int cnt = nb - o < chunk ? (int)(nb - o) : chunk;
      LA_CHECK(b, "gesvdjBatched",
               la_gesvdjb(h, jz, r, c, a + o * mn, s + o * k, ub + o * rr, vb + o * cc, work, lw,
                          info + o, prm.p, cnt));
    }
  } else {
    LA_CHECK(b, "gesvdj workspace query", la_gesvdj_size(h, jz, r, c, a, s, ub, vb, &lw, prm.p));
    T *work = (T *)gw.alloc((size_t)lw * sizeof(T));
    if (!work) return -1;
    for (int64_t j = 0; j < nb; j++)
      LA_CHECK(b, "gesvdj",
               la_gesvdj(h, jz, r, c, a + j * mn, s + j * k, ub + j * rr, vb + j * cc, work, lw,
                         info + j, prm.p));
  }
  int code = 0;
  if (la_first_info(b, info, nb, &code) < 0) return -1;
  if (code != 0) return la_fail_info(b, "SVD", code);
  if (la_copy(b, &out[uv ? 1 : 0], s, 1, 1, 0, k, false) < 0) return -1;
  if (!uv) return 0;
  if (std::is_same<T, cuComplex>::value) {
    la_k_conj<<<mxc_blocks(nb * cc, MXC_THREADS, b->dev), MXC_THREADS, 0, b->q>>>(
        (cuComplex *)vb, nb * cc);
    LA_CHECK_LAUNCH(b);
  }
  if (la_copy(b, &out[0], tall ? ub : vb, 2, 1, m, (int64_t)m * m, false) < 0) return -1;
  return la_copy(b, &out[2], tall ? vb : ub, 2, n, 1, (int64_t)n * n, false);
}

int mx_cuda_svd(const mx_kernel_ctx *ctx, const mx_tensor *in, int n_in, mx_tensor *out,
                int n_out) {
  const mx_p_svd *p = (const mx_p_svd *)ctx->params;
  la_batch b;
  if (la_batch_init(&b, "SVD", "svd", ctx, &in[0], true) < 0) return -1;
  if (b.nb == 0) return 0;
  switch (in[0].dtype) {
    case MX_FLOAT64: return la_svd_t<double, double>(&b, p->compute_uv, &in[0], out);
    case MX_COMPLEX64: return la_svd_t<cuComplex, float>(&b, p->compute_uv, &in[0], out);
    default: return la_svd_t<float, float>(&b, p->compute_uv, &in[0], out);
  }
}

/* ---- Eigh: ascending w of the lower (upper) triangle, V's columns the vectors ---- */

template <class T, class R>
static int la_eigh_t(const la_batch *b, const mx_p_eigh *p, const mx_tensor *in,
                     mx_tensor *out) {
  int n = b->n;
  int64_t nb = b->nb, nn = (int64_t)n * n;
  mxc_scratch_guard ga(b->q), gw(b->q), gi(b->q), gk(b->q);
  T *a = (T *)ga.alloc((size_t)(nb * nn) * sizeof(T));
  R *w = (R *)gw.alloc((size_t)(nb * n) * sizeof(R));
  int *info = (int *)gi.alloc((size_t)nb * sizeof(int));
  if (!a || !w || !info || la_copy(b, in, a, 2, 1, n, nn, true) < 0) return -1;
  cusolverDnParams_t xp;
  cusolverDnHandle_t h = la_handle(b, &xp);
  if (!h) return -1;
  cusolverEigMode_t jz = p->compute_eigenvectors ? CUSOLVER_EIG_MODE_VECTOR
                                                 : CUSOLVER_EIG_MODE_NOVECTOR;
  cublasFillMode_t up = p->upper ? CUBLAS_FILL_MODE_UPPER : CUBLAS_FILL_MODE_LOWER;
  la_host_ws hw(b->q);
  if (la_jacobi_batch(n, n)) {
    la_syevj_params prm;
    LA_CHECK(b, "syevj parameters", cusolverDnCreateSyevjInfo(&prm.p));
    LA_CHECK(b, "syevj parameters", cusolverDnXsyevjSetSortEig(prm.p, 1));
    int chunk = nb < LA_CHUNK ? (int)nb : LA_CHUNK, lw = 0;
    LA_CHECK(b, "syevjBatched workspace query",
             la_syevjb_size(h, jz, up, n, a, w, &lw, prm.p, chunk));
    T *work = (T *)gk.alloc((size_t)lw * sizeof(T));
    if (!work) return -1;
    for (int64_t o = 0; o < nb; o += chunk) {
      int cnt = nb - o < chunk ? (int)(nb - o) : chunk;
      LA_CHECK(b, "syevjBatched",
               la_syevjb(h, jz, up, n, a + o * nn, w + o * n, work, lw, info + o, prm.p, cnt));
    }
  } else {
    cudaDataType dt = la_cuda_type(in->dtype);
    cudaDataType wt = in->dtype == MX_FLOAT64 ? CUDA_R_64F : CUDA_R_32F;
    size_t dws = 0, hws = 0;
    LA_CHECK(b, "syevd workspace query",
             cusolverDnXsyevd_bufferSize(h, xp, jz, up, n, dt, a, n, wt, w, dt, &dws, &hws));
    void *work = gk.alloc(dws);
    if (!work || !hw.alloc(hws)) return -1;
    for (int64_t j = 0; j < nb; j++)
      LA_CHECK(b, "syevd",
               cusolverDnXsyevd(h, xp, jz, up, n, dt, a + j * nn, n, wt, w + j * n, dt, work, dws,
                                hw.p, hws, info + j));
  }
  int code = 0;
  if (la_first_info(b, info, nb, &code) < 0) return -1;
  if (code != 0) return la_fail_info(b, "Eigenvalue decomposition", code);
  if (la_copy(b, &out[0], w, 1, 1, 0, n, false) < 0) return -1;
  if (!p->compute_eigenvectors) return 0;
  return la_copy(b, &out[1], a, 2, 1, n, nn, false);
}

int mx_cuda_eigh(const mx_kernel_ctx *ctx, const mx_tensor *in, int n_in, mx_tensor *out,
                 int n_out) {
  const mx_p_eigh *p = (const mx_p_eigh *)ctx->params;
  la_batch b;
  if (la_batch_init(&b, "Eigh", "eigh", ctx, &in[0], true) < 0) return -1;
  if (b.nb == 0 || b.n == 0) return 0;
  switch (in[0].dtype) {
    case MX_FLOAT64: return la_eigh_t<double, double>(&b, p, &in[0], out);
    case MX_COMPLEX64: return la_eigh_t<cuComplex, float>(&b, p, &in[0], out);
    default: return la_eigh_t<float, float>(&b, p, &in[0], out);
  }
}

/* ---- Eig: geev, right eigenvectors only ---- */

template <class T, class TW>
static int la_eig_t(const la_batch *b, bool vectors, const mx_tensor *in, mx_tensor *out) {
  int n = b->n;
  int64_t nb = b->nb, nn = (int64_t)n * n;
  mxc_scratch_guard ga(b->q), gw(b->q), gv(b->q), gi(b->q), gk(b->q), go(b->q);
  T *a = (T *)ga.alloc((size_t)(nb * nn) * sizeof(T));
  TW *w = (TW *)gw.alloc((size_t)(nb * n) * sizeof(TW));
  T *vr = (T *)gv.alloc((size_t)(nb * nn) * sizeof(T));
  int *info = (int *)gi.alloc((size_t)nb * sizeof(int));
  cuComplex *wo = (cuComplex *)go.alloc((size_t)(nb * (n + nn)) * sizeof(cuComplex));
  if (!a || !w || !vr || !info || !wo || la_copy(b, in, a, 2, 1, n, nn, true) < 0) return -1;
  cuComplex *vo = wo + nb * n;
  cusolverDnParams_t xp;
  cusolverDnHandle_t h = la_handle(b, &xp);
  if (!h) return -1;
  cudaDataType dt = la_cuda_type(in->dtype);
  cudaDataType wt = in->dtype == MX_FLOAT64 ? CUDA_C_64F : CUDA_C_32F;
  cusolverEigMode_t jvr = vectors ? CUSOLVER_EIG_MODE_VECTOR : CUSOLVER_EIG_MODE_NOVECTOR;
  size_t dws = 0, hws = 0;
  LA_CHECK(b, "geev workspace query",
           cusolverDnXgeev_bufferSize(h, xp, CUSOLVER_EIG_MODE_NOVECTOR, jvr, n, dt, a, n, wt, w,
                                      dt, nullptr, n, dt, vr, n, dt, &dws, &hws));
  la_host_ws hw(b->q);
  void *work = gk.alloc(dws);
  if (!work || !hw.alloc(hws)) return -1;
  for (int64_t j = 0; j < nb; j++) {
    LA_CHECK(b, "geev",
             cusolverDnXgeev(h, xp, CUSOLVER_EIG_MODE_NOVECTOR, jvr, n, dt, a + j * nn, n, wt,
                             w + j * n, dt, nullptr, n, dt, vr + j * nn, n, dt, work, dws, hw.p,
                             hws, info + j));
    /* the host workspace is reused by the next matrix */
    cudaError_t e = hws > 0 ? cudaStreamSynchronize(b->q) : cudaSuccess;
    if (e != cudaSuccess)
      return mx_fail_int(MX_ERUNTIME, "[%s::eval_gpu] CUDA error: %s", b->prim,
                         cudaGetErrorString(e));
  }
  int code = 0;
  if (la_first_info(b, info, nb, &code) < 0) return -1;
  if (code != 0) return la_fail_info(b, "Eigenvalue decomposition", code);
  la_k_eig_out<T, TW><<<mxc_blocks(nb * n, MXC_THREADS, b->dev), MXC_THREADS, 0, b->q>>>(
      w, vr, wo, vo, n, nb, vectors);
  LA_CHECK_LAUNCH(b);
  if (la_copy(b, &out[0], wo, 1, 1, 0, n, false) < 0) return -1;
  if (!vectors) return 0;
  return la_copy(b, &out[1], vo, 2, n, 1, nn, false);
}

int mx_cuda_eig(const mx_kernel_ctx *ctx, const mx_tensor *in, int n_in, mx_tensor *out,
                int n_out) {
  const mx_p_eig *p = (const mx_p_eig *)ctx->params;
  la_batch b;
  if (la_batch_init(&b, "Eig", "eig", ctx, &in[0], true) < 0) return -1;
  if (b.nb == 0 || b.n == 0) return 0;
  bool v = p->compute_eigenvectors;
  switch (in[0].dtype) {
    case MX_FLOAT64: return la_eig_t<double, cuDoubleComplex>(&b, v, &in[0], out);
    case MX_COMPLEX64: return la_eig_t<cuComplex, cuComplex>(&b, v, &in[0], out);
    default: return la_eig_t<float, cuComplex>(&b, v, &in[0], out);
  }
}
