/* linalg.c: the mlx-c linalg functions with a pair result (qr, eig, eigh, lu_factor); the
 * other linalg wrappers are generated into capi_ops_gen.c. */
#include "capi_private.h"

#define HERE __FILE__, __LINE__

typedef int (*la_pair_fn)(mx_array *a, const char *uplo, mx_stream s, mx_array **out);

static int la_pair(mlx_array *res_0, mlx_array *res_1, const mlx_array a, const char *uplo,
                   const mlx_stream s, la_pair_fn f) {
  mx_stream st;
  if (mx_capi_stream(s, &st)) return 1;
  mx_array *x = mx_capi_node(a);
  mx_array *out[2] = {NULL, NULL};
  if (!x || f(x, uplo, st, out) != 0) return mx_capi_report(HERE);
  if (mx_capi_set_array_at(res_0, out[0], HERE)) {
    mx_array_release(out[1]);
    return 1;
  }
  return mx_capi_set_array_at(res_1, out[1], HERE);
}

static int qr_fn(mx_array *a, const char *u, mx_stream s, mx_array **o) {
  return mx_linalg_qr(a, s, o);
}
static int eig_fn(mx_array *a, const char *u, mx_stream s, mx_array **o) {
  return mx_linalg_eig(a, s, o);
}
static int eigh_fn(mx_array *a, const char *u, mx_stream s, mx_array **o) {
  return mx_linalg_eigh(a, u, s, o);
}
static int luf_fn(mx_array *a, const char *u, mx_stream s, mx_array **o) {
  return mx_linalg_lu_factor(a, s, o);
}

int mlx_linalg_qr(mlx_array *res_0, mlx_array *res_1, const mlx_array a, const mlx_stream s) {
  return la_pair(res_0, res_1, a, NULL, s, qr_fn);
}

int mlx_linalg_eig(mlx_array *res_0, mlx_array *res_1, const mlx_array a, const mlx_stream s) {
  return la_pair(res_0, res_1, a, NULL, s, eig_fn);
}

int mlx_linalg_eigh(mlx_array *res_0, mlx_array *res_1, const mlx_array a, const char *UPLO,
                    const mlx_stream s) {
  return la_pair(res_0, res_1, a, UPLO ? UPLO : "L", s, eigh_fn);
}

int mlx_linalg_lu_factor(mlx_array *res_0, mlx_array *res_1, const mlx_array a,
                         const mlx_stream s) {
  return la_pair(res_0, res_1, a, NULL, s, luf_fn);
}
