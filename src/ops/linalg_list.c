/* linalg_list.c: the list forms of the multi-result mx.linalg ops, for the generated Python
 * bindings and mlx-c wrappers (tuple / vector results whose length the op chooses). */
#include "ops.h"

#include <stdlib.h>

/* Allocates *out for n arrays, runs f's result into it; on failure frees it. */
static int la_list(int n, int rc, mx_array **tmp, mx_array ***out, int *n_out) {
  *out = NULL;
  *n_out = 0;
  if (rc < 0) return -1;
  *out = malloc((size_t)n * sizeof **out);
  if (!*out) {
    if (!mx_scope_active())
      for (int i = 0; i < n; i++) mx_array_release(tmp[i]);
    return mx_fail_int(MX_ENOMEM, "[linalg] out of memory.");
  }
  for (int i = 0; i < n; i++) (*out)[i] = tmp[i];
  *n_out = n;
  return 0;
}

int mx_linalg_qr_list(mx_array *a, mx_stream s, mx_array ***out, int *n) {
  mx_array *t[2];
  return la_list(2, mx_linalg_qr(a, s, t), t, out, n);
}

int mx_linalg_svd_list(mx_array *a, bool compute_uv, mx_stream s, mx_array ***out, int *n) {
  mx_array *t[3];
  return la_list(compute_uv ? 3 : 1, mx_linalg_svd(a, compute_uv, s, t), t, out, n);
}

int mx_linalg_eig_list(mx_array *a, mx_stream s, mx_array ***out, int *n) {
  mx_array *t[2];
  return la_list(2, mx_linalg_eig(a, s, t), t, out, n);
}

int mx_linalg_eigh_list(mx_array *a, const char *uplo, mx_stream s, mx_array ***out, int *n) {
  mx_array *t[2];
  return la_list(2, mx_linalg_eigh(a, uplo, s, t), t, out, n);
}

int mx_linalg_lu_list(mx_array *a, mx_stream s, mx_array ***out, int *n) {
  mx_array *t[3];
  return la_list(3, mx_linalg_lu(a, s, t), t, out, n);
}

int mx_linalg_lu_factor_list(mx_array *a, mx_stream s, mx_array ***out, int *n) {
  mx_array *t[2];
  return la_list(2, mx_linalg_lu_factor(a, s, t), t, out, n);
}

int mx_linalg_slogdet_list(mx_array *a, mx_stream s, mx_array ***out, int *n) {
  mx_array *t[2];
  return la_list(2, mx_linalg_slogdet(a, s, t), t, out, n);
}
