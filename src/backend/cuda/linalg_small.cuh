/* linalg_small.cuh: LAPACK's unblocked factorizations (getf2, getrs on the identity, trtri,
 * potf2, geqr2 + org2r) of one column-major matrix, written once for the host and the device:
 * linalg.cu runs them one thread per matrix on batches of matrices up to 32 x 32, where a
 * library call per matrix would cost more than the arithmetic. Depends on common.h. */
#ifndef MX_CUDA_LINALG_SMALL_CUH
#define MX_CUDA_LINALG_SMALL_CUH

#include <float.h>
#include <math.h>
#include <stdint.h>

#include "common.h"

#define LA_SMALL 32 /* the largest dimension these routines are used for */

/* element (i, j) of the column-major matrix a with leading dimension ld */
#define LA_AT(a, ld, i, j) ((a)[(i) + (int64_t)(j) * (ld)])

MX_HD static inline float la_abs(float x) { return fabsf(x); }
MX_HD static inline double la_abs(double x) { return fabs(x); }
MX_HD static inline float la_sqrt(float x) { return sqrtf(x); }
MX_HD static inline double la_sqrt(double x) { return sqrt(x); }
MX_HD static inline float la_copysign(float x, float y) { return copysignf(x, y); }
MX_HD static inline double la_copysign(double x, double y) { return copysign(x, y); }
MX_HD static inline float la_sfmin(float) { return FLT_MIN; }
MX_HD static inline double la_sfmin(double) { return DBL_MIN; }

/* sqrt(x^2 + y^2) without needless overflow (LAPACK's lapy2). */
template <class T>
MX_HD static inline T la_hypot(T x, T y) {
  T ax = la_abs(x), ay = la_abs(y);
  T w = ax > ay ? ax : ay, z = ax > ay ? ay : ax;
  if (z == T(0) || w != w) return w + z;
  T r = z / w;
  return w * la_sqrt(T(1) + r * r);
}

/* LU with partial pivoting of the m x n matrix a (getf2): L (unit diagonal) below the
 * diagonal, U on and above it; ipiv[0, min(m, n)) the 1-based rows swapped with each row.
 * Returns 0, or the 1-based index of the first exactly zero pivot (the factorization still
 * completes, as LAPACK's does). */
template <class T>
MX_HD static inline int la_small_getrf(T *a, int ld, int m, int n, int64_t *ipiv) {
  int k = m < n ? m : n, info = 0;
  for (int j = 0; j < k; j++) {
    int p = j;
    T best = la_abs(LA_AT(a, ld, j, j));
    for (int i = j + 1; i < m; i++) {
      T v = la_abs(LA_AT(a, ld, i, j));
      if (v > best) {
        best = v;
        p = i;
      }
    }
    ipiv[j] = p + 1;
    if (LA_AT(a, ld, p, j) != T(0)) {
      if (p != j)
        for (int c = 0; c < n; c++) {
          T t = LA_AT(a, ld, j, c);
          LA_AT(a, ld, j, c) = LA_AT(a, ld, p, c);
          LA_AT(a, ld, p, c) = t;
        }
      T piv = LA_AT(a, ld, j, j);
      if (la_abs(piv) >= la_sfmin(piv)) {
        T r = T(1) / piv;
        for (int i = j + 1; i < m; i++) LA_AT(a, ld, i, j) *= r;
      } else {
        for (int i = j + 1; i < m; i++) LA_AT(a, ld, i, j) /= piv;
      }
    } else if (info == 0) {
      info = j + 1;
    }
    for (int c = j + 1; c < n; c++) {
      T u = LA_AT(a, ld, j, c);
      for (int i = j + 1; i < m; i++) LA_AT(a, ld, i, c) -= LA_AT(a, ld, i, j) * u;
    }
  }
  return info;
}

/* Column c of x (n x n, leading dim ldx) = the inverse of the matrix whose LU factors
 * (la_small_getrf, no zero pivot) are lu: column c of the identity solved through P, L and
 * U (getrs). */
template <class T>
MX_HD static inline void la_small_getri_col(const T *lu, int ld, int n, const int64_t *ipiv,
                                            T *x, int ldx, int c) {
  for (int i = 0; i < n; i++) LA_AT(x, ldx, i, c) = i == c ? T(1) : T(0);
  for (int j = 0; j < n; j++) {
    int p = (int)ipiv[j] - 1;
    if (p != j) {
      T t = LA_AT(x, ldx, j, c);
      LA_AT(x, ldx, j, c) = LA_AT(x, ldx, p, c);
      LA_AT(x, ldx, p, c) = t;
    }
  }
  for (int i = 0; i < n; i++) {
    T s = LA_AT(x, ldx, i, c);
    for (int r = 0; r < i; r++) s -= LA_AT(lu, ld, i, r) * LA_AT(x, ldx, r, c);
    LA_AT(x, ldx, i, c) = s;
  }
  for (int i = n - 1; i >= 0; i--) {
    T s = LA_AT(x, ldx, i, c);
    for (int r = i + 1; r < n; r++) s -= LA_AT(lu, ld, i, r) * LA_AT(x, ldx, r, c);
    LA_AT(x, ldx, i, c) = s / LA_AT(lu, ld, i, i);
  }
}

/* The whole inverse, column by column. */
template <class T>
MX_HD static inline void la_small_getri(const T *lu, int ld, int n, const int64_t *ipiv, T *x,
                                        int ldx) {
  for (int c = 0; c < n; c++) la_small_getri_col(lu, ld, n, ipiv, x, ldx, c);
}

/* The 1-based index of the first zero on the diagonal of the n x n matrix a, or 0: trtri's
 * singularity check (non-unit diagonal). */
template <class T>
MX_HD static inline int la_small_trtri_check(const T *a, int ld, int n) {
  for (int i = 0; i < n; i++)
    if (LA_AT(a, ld, i, i) == T(0)) return i + 1;
  return 0;
}

/* Column c of x (n x n) = the inverse of the lower (upper) triangle of a, zero in the other
 * triangle; a passed la_small_trtri_check. */
template <class T>
MX_HD static inline void la_small_trtri_col(const T *a, int ld, int n, bool upper, T *x, int ldx,
                                            int c) {
  if (!upper) {
    for (int i = 0; i < n; i++) {
      if (i < c) {
        LA_AT(x, ldx, i, c) = T(0);
        continue;
      }
      T s = i == c ? T(1) : T(0);
      for (int r = c; r < i; r++) s -= LA_AT(a, ld, i, r) * LA_AT(x, ldx, r, c);
      LA_AT(x, ldx, i, c) = s / LA_AT(a, ld, i, i);
    }
  } else {
    for (int i = n - 1; i >= 0; i--) {
      if (i > c) {
        LA_AT(x, ldx, i, c) = T(0);
        continue;
      }
      T s = i == c ? T(1) : T(0);
      for (int r = i + 1; r <= c; r++) s -= LA_AT(a, ld, i, r) * LA_AT(x, ldx, r, c);
      LA_AT(x, ldx, i, c) = s / LA_AT(a, ld, i, i);
    }
  }
}

/* x (n x n) = the inverse of the lower (upper) triangle of a, the other triangle zero
 * (trtri). Returns 0, or la_small_trtri_check's index (x is then not written). */
template <class T>
MX_HD static inline int la_small_trtri(const T *a, int ld, int n, bool upper, T *x, int ldx) {
  int info = la_small_trtri_check(a, ld, n);
  if (info == 0)
    for (int c = 0; c < n; c++) la_small_trtri_col(a, ld, n, upper, x, ldx, c);
  return info;
}

/* Cholesky factor of the lower (upper) triangle of the n x n matrix a, in place, the other
 * triangle zeroed (potf2, as OpenBLAS runs it for n <= 32). A non-positive pivot stops the
 * factorization with that pivot stored on the diagonal and the later columns as they were;
 * returns its 1-based index, or 0. The upper factor is the transpose of the lower one of
 * the transposed triangle, so both read a through one index map. */
template <class T>
MX_HD static inline int la_small_potrf(T *a, int ld, int n, bool upper) {
#define LA_L(i, j) (upper ? LA_AT(a, ld, j, i) : LA_AT(a, ld, i, j))
  int info = 0;
  for (int j = 0; j < n; j++) {
    T dot = T(0);
    for (int r = 0; r < j; r++) dot += LA_L(j, r) * LA_L(j, r);
    T ajj = LA_L(j, j) - dot;
    if (ajj <= T(0)) {
      LA_L(j, j) = ajj;
      info = j + 1;
      break;
    }
    ajj = la_sqrt(ajj);
    LA_L(j, j) = ajj;
    T rcp = T(1) / ajj;
    for (int i = j + 1; i < n; i++) {
      T s = T(0);
      for (int r = 0; r < j; r++) s += LA_L(i, r) * LA_L(j, r);
      LA_L(i, j) = (LA_L(i, j) - s) * rcp;
    }
  }
  for (int j = 1; j < n; j++)
    for (int i = 0; i < j; i++) LA_L(i, j) = T(0);
#undef LA_L
  return info;
}

/* Householder QR of the m x n matrix a (geqr2): R on and above the diagonal, the reflectors'
 * vectors (unit first entry implied) below it, their scalars in tau[0, min(m, n)). The
 * signs are LAPACK's (beta = -sign(alpha) * norm), so R matches the CPU's. */
template <class T>
MX_HD static inline void la_small_geqrf(T *a, int ld, int m, int n, T *tau) {
  int k = m < n ? m : n;
  for (int j = 0; j < k; j++) {
    T alpha = LA_AT(a, ld, j, j), ss = T(0), mx = T(0);
    for (int i = j + 1; i < m; i++) {
      T v = la_abs(LA_AT(a, ld, i, j));
      mx = v > mx ? v : mx;
    }
    if (mx > T(0))
      for (int i = j + 1; i < m; i++) {
        T v = LA_AT(a, ld, i, j) / mx;
        ss += v * v;
      }
    T xnorm = mx * la_sqrt(ss);
    T t = T(0);
    if (xnorm != T(0)) {
      T beta = -la_copysign(la_hypot(alpha, xnorm), alpha);
      t = (beta - alpha) / beta;
      T scal = T(1) / (alpha - beta);
      for (int i = j + 1; i < m; i++) LA_AT(a, ld, i, j) *= scal;
      LA_AT(a, ld, j, j) = beta;
    }
    tau[j] = t;
    if (t != T(0))
      for (int c = j + 1; c < n; c++) {
        T w = LA_AT(a, ld, j, c);
        for (int i = j + 1; i < m; i++) w += LA_AT(a, ld, i, j) * LA_AT(a, ld, i, c);
        T tw = t * w;
        LA_AT(a, ld, j, c) -= tw;
        for (int i = j + 1; i < m; i++) LA_AT(a, ld, i, c) -= LA_AT(a, ld, i, j) * tw;
      }
  }
}

/* The first k columns of Q = H(0) ... H(k-1) from la_small_geqrf's reflectors, in place in
 * the first k columns of a (org2r). */
template <class T>
MX_HD static inline void la_small_orgqr(T *a, int ld, int m, int k, const T *tau) {
  for (int i = k - 1; i >= 0; i--) {
    T t = tau[i];
    if (i < k - 1) {
      LA_AT(a, ld, i, i) = T(1);
      if (t != T(0))
        for (int c = i + 1; c < k; c++) {
          T w = T(0);
          for (int r = i; r < m; r++) w += LA_AT(a, ld, r, i) * LA_AT(a, ld, r, c);
          T tw = t * w;
          for (int r = i; r < m; r++) LA_AT(a, ld, r, c) -= LA_AT(a, ld, r, i) * tw;
        }
    }
    for (int r = i + 1; r < m; r++) LA_AT(a, ld, r, i) *= -t;
    LA_AT(a, ld, i, i) = T(1) - t;
    for (int l = 0; l < i; l++) LA_AT(a, ld, l, i) = T(0);
  }
}

#endif
