/* test_layout_rules.c: the vmap rules of the section-D primitives (Concatenate, Pad,
 * AsStrided, Contiguous, View, AddMM) against an explicit loop: the rule applied to batched
 * inputs must equal the primitive applied to each batch entry. Also a few mlx-c wrappers of
 * the family (split, pad, tensordot) through the public API. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "mlx/c/mlx.h"
#include "prim.h"
#include "../../src/ops/ops.h"

static mx_stream S;

/* A float32 array of the given shape filled with i * 0.5 - 3 (row-major), or a view of one. */
static mx_array *iota(int ndim, const int32_t *shape) {
  int64_t n = 1;
  for (int d = 0; d < ndim; d++) n *= shape[d];
  float *v = malloc((size_t)(n ? n : 1) * sizeof(float));
  for (int64_t i = 0; i < n; i++) v[i] = (float)i * 0.5f - 3.0f;
  mx_array *a = mx_scope_adopt(mx_array_from_data(v, MX_FLOAT32, ndim, shape));
  free(v);
  return a;
}

/* Entry b of x along axis (the axis removed). */
static mx_array *take(mx_array *x, int axis, int b) {
  int nd = x->ndim;
  int32_t start[8], stop[8], step[8], shape[8];
  for (int d = 0, k = 0; d < nd; d++) {
    start[d] = d == axis ? b : 0;
    stop[d] = d == axis ? b + 1 : x->shape[d];
    step[d] = 1;
    if (d != axis) shape[k++] = x->shape[d];
  }
  return mx_reshape(mx_slice(x, start, stop, step, S), shape, nd - 1, S);
}

/* Row-major float64 copy of x (evaluated). Caller frees. */
static double *values(mx_array *x) {
  mx_array *c = mx_contiguous(mx_astype(x, MX_FLOAT64, S), false, S);
  if (!c || mx_array_eval(c) != 0) return NULL;
  double *out = malloc((size_t)(x->size ? x->size : 1) * sizeof(double));
  memcpy(out, mx_array_host_data(c), (size_t)x->size * sizeof(double));
  return out;
}

static bool same_values(mx_array *a, mx_array *b) {
  if (!a || !b || a->ndim != b->ndim || a->size != b->size) return false;
  for (int d = 0; d < a->ndim; d++)
    if (a->shape[d] != b->shape[d]) return false;
  double *x = values(a), *y = values(b);
  bool ok = x && y;
  for (int64_t i = 0; ok && i < a->size; i++) ok = x[i] == y[i] || (isnan(x[i]) && isnan(y[i]));
  free(x);
  free(y);
  return ok;
}

typedef mx_array *(*build_fn)(mx_array *const *in);

/* batched[i] carries a batch of size B at axes[i] (or none, -1). The primitive built by f on
 * the entry-0 inputs is vmapped over the batched inputs and compared entry by entry. */
static void check_vmap(const char *name, mx_prim prim, build_fn f, int n, mx_array *const *batched,
                       const int *axes, int B) {
  MX_SCOPE_BEGIN;
  mx_array *in[4];
  for (int i = 0; i < n; i++) in[i] = axes[i] < 0 ? batched[i] : take(batched[i], axes[i], 0);
  mx_array *probe = f(in);
  bool ok = probe && probe->op && probe->op->prim == prim;
  if (ok)
    for (int i = 0; i < n; i++) ok &= probe->op->inputs[i] == in[i];
  if (!ok) {
    fprintf(stderr, "%s: the builder did not make the primitive on its inputs\n", name);
    check_failures++;
  } else {
    mx_array *out[1] = {NULL};
    int out_axes[1] = {-2};
    int rc = mx_prims[prim].vmap(probe->op, batched, axes, out, out_axes);
    CHECK(rc == 0 && out[0]);
    if (rc == 0 && out[0]) {
      for (int b = 0; b < B; b++) {
        for (int i = 0; i < n; i++) in[i] = axes[i] < 0 ? batched[i] : take(batched[i], axes[i], b);
        mx_array *want = f(in);
        mx_array *got = out_axes[0] < 0 ? out[0] : take(out[0], out_axes[0], b);
        if (!same_values(got, want)) {
          fprintf(stderr, "%s: batch entry %d differs\n", name, b);
          check_failures++;
          break;
        }
      }
    }
  }
  MX_SCOPE_END;
  if (mx_error_kind_get() != MX_OK) {
    fprintf(stderr, "%s: %s\n", name, mx_error_message());
    mx_error_clear();
  }
}

/* ---- builders (their arrays must be the primitive's inputs unchanged) ---- */
static mx_array *b_concat3(mx_array *const *in) {
  int ax = 1;
  return mx_concatenate(in, 3, &ax, S);
}
static mx_array *b_pad(mx_array *const *in) {
  int axes[2] = {0, 1};
  int32_t lo[2] = {1, 0}, hi[2] = {2, 3};
  return mx_pad(in[0], axes, 2, lo, 2, hi, 2, in[1], "constant", S);
}
static mx_array *b_strided(mx_array *const *in) {
  int32_t shape[2] = {3, 2};
  int64_t st[2] = {2, -1};
  return mx_as_strided(in[0], shape, 2, st, 2, 1, S);
}
static mx_array *b_contig(mx_array *const *in) { return mx_contiguous(in[0], false, S); }
static mx_array *b_view_u8(mx_array *const *in) { return mx_view(in[0], MX_UINT8, S); }
static mx_array *b_view_i32(mx_array *const *in) { return mx_view(in[0], MX_INT32, S); }
static mx_array *b_addmm(mx_array *const *in) { return mx_addmm(in[2], in[0], in[1], 1.5, -0.5, S); }

static void test_concatenate_vmap(void) {
  MX_SCOPE_BEGIN;
  int32_t s0[3] = {3, 2, 4}, s1[2] = {2, 1}, s2[3] = {2, 3, 2};
  mx_array *x[3] = {iota(3, s0), iota(2, s1), iota(3, s2)};
  int axes[3] = {0, -1, 1};
  check_vmap("concatenate", MX_PRIM_CONCATENATE, b_concat3, 3, x, axes, 3);
  int32_t t0[3] = {2, 2, 3}, t1[3] = {2, 4, 2};
  mx_array *y[3] = {iota(3, t0), iota(2, s1), mx_transpose(iota(3, t1), NULL, -1, S)};
  int axes2[3] = {0, -1, 2};
  check_vmap("concatenate (transposed)", MX_PRIM_CONCATENATE, b_concat3, 3, y, axes2, 2);
  MX_SCOPE_END;
}

static void test_pad_vmap(void) {
  MX_SCOPE_BEGIN;
  int32_t sa[3] = {2, 4, 3}, sv[1] = {4};
  mx_array *a = iota(3, sa), *v = iota(1, sv), *v0 = mx_array_scalar_f64(7.0, MX_FLOAT32);
  mx_scope_adopt(v0);
  mx_array *x1[2] = {a, v0};
  int ax1[2] = {1, -1};
  check_vmap("pad (value unbatched)", MX_PRIM_PAD, b_pad, 2, x1, ax1, 4);
  mx_array *x2[2] = {a, v};
  int ax2[2] = {1, 0};
  check_vmap("pad (value batched)", MX_PRIM_PAD, b_pad, 2, x2, ax2, 4);
  int32_t sb[2] = {2, 3};
  mx_array *x3[2] = {iota(2, sb), v};
  int ax3[2] = {-1, 0};
  check_vmap("pad (only the value batched)", MX_PRIM_PAD, b_pad, 2, x3, ax3, 4);
  MX_SCOPE_END;
}

static void test_as_strided_vmap(void) {
  MX_SCOPE_BEGIN;
  int32_t s0[2] = {3, 6}, s1[2] = {6, 2};
  mx_array *x0[1] = {iota(2, s0)}, *x1[1] = {iota(2, s1)};
  int a0[1] = {0}, a1[1] = {1};
  check_vmap("as_strided (axis 0)", MX_PRIM_AS_STRIDED, b_strided, 1, x0, a0, 3);
  check_vmap("as_strided (axis 1)", MX_PRIM_AS_STRIDED, b_strided, 1, x1, a1, 2);
  MX_SCOPE_END;
}

static void test_contiguous_and_view_vmap(void) {
  MX_SCOPE_BEGIN;
  int32_t s[3] = {2, 3, 4};
  mx_array *t[1] = {mx_transpose(iota(3, s), NULL, -1, S)}; /* (4, 3, 2), not contiguous */
  int a1[1] = {1}, a2[1] = {2}, a0[1] = {0};
  check_vmap("contiguous", MX_PRIM_CONTIGUOUS, b_contig, 1, t, a1, 3);
  mx_array *x[1] = {iota(3, s)};
  check_vmap("view u8 (batch last)", MX_PRIM_VIEW, b_view_u8, 1, x, a2, 4);
  check_vmap("view u8 (batch first)", MX_PRIM_VIEW, b_view_u8, 1, x, a0, 2);
  check_vmap("view i32 (batch last)", MX_PRIM_VIEW, b_view_i32, 1, x, a2, 4);
  MX_SCOPE_END;
}

static void test_addmm_vmap(void) {
  MX_SCOPE_BEGIN;
  int32_t sa[3] = {3, 2, 4}, sb[2] = {4, 5}, sc[3] = {2, 5, 3}, sb3[3] = {4, 3, 5};
  mx_array *x[3] = {iota(3, sa), iota(2, sb), iota(3, sc)};
  int axes[3] = {0, -1, 2};
  check_vmap("addmm", MX_PRIM_ADDMM, b_addmm, 3, x, axes, 3);
  int32_t sa2[2] = {2, 4}, sc2[2] = {2, 5};
  mx_array *y[3] = {iota(2, sa2), iota(3, sb3), iota(2, sc2)};
  int axes2[3] = {-1, 1, -1};
  check_vmap("addmm (b batched)", MX_PRIM_ADDMM, b_addmm, 3, y, axes2, 3);
  MX_SCOPE_END;
}

/* ---- every op once on valid and on invalid arguments (leak and error-path coverage under
 * the sanitizer builds) ---- */
static int evals(mx_array *a) {
  int ok = a && mx_array_eval(a) == 0;
  mx_error_clear();
  return ok;
}

static int fails(mx_array *a) {
  int ok = a == NULL && mx_error_kind_get() != MX_OK;
  mx_error_clear();
  return ok;
}

static void test_ops_valid_and_invalid(void) {
  MX_SCOPE_BEGIN;
  int32_t s23[2] = {2, 3}, s6[1] = {6}, bad[2] = {4, 2}, two[2] = {-1, -1};
  mx_array *a = iota(2, s23), *v = iota(1, s6), *z = mx_zeros(NULL, 0, MX_FLOAT32, S);
  int ax0 = 0, ax1 = 1, ax5 = 5, dup[2] = {0, -2}, neg = -1;
  CHECK(evals(mx_flatten(a, 0, -1, S)) && fails(mx_flatten(a, 1, 0, S)));
  CHECK(evals(mx_unflatten(v, 0, s23, 2, S)) && fails(mx_unflatten(v, 0, bad, 2, S)));
  CHECK(fails(mx_unflatten(v, 0, two, 2, S)) && fails(mx_unflatten(v, 3, s23, 2, S)));
  CHECK(evals(mx_squeeze(mx_expand_dims_axes(a, dup, 1, S), &ax0, 1, S)));
  int dup4[2] = {1, -3}; /* the same axis of a 4-d result */
  CHECK(fails(mx_squeeze(a, &ax0, 1, S)) && fails(mx_expand_dims_axes(a, dup4, 2, S)));
  CHECK(fails(mx_expand_dims_axes(a, &ax5, 1, S)));
  mx_array *pair[2] = {a, v}, *out[3] = {NULL, NULL, NULL}, **list = NULL;
  int n = 0;
  CHECK(mx_broadcast_arrays(pair, 2, out, S) == -1 && out[0] == NULL);
  mx_error_clear();
  CHECK(mx_meshgrid(pair, 2, false, "zz", out, S) == -1);
  mx_error_clear();
  /* results are owned by the open scope, lists are the caller's to free */
  CHECK(mx_meshgrid(pair, 2, true, "ij", out, S) == 0 && evals(out[1]));
  CHECK(mx_atleast_list(pair, 2, 3, out, S) == 0 && evals(out[0]) && out[1]->ndim == 3);
  CHECK(fails(mx_concatenate(pair, 2, &ax1, S)) && evals(mx_concatenate(pair, 2, NULL, S)));
  CHECK(fails(mx_concatenate(pair, 0, &ax0, S)) && fails(mx_stack(pair, 2, 0, S)));
  CHECK(mx_split(a, 4, 1, &list, &n, S) == -1 && list == NULL);
  mx_error_clear();
  CHECK(mx_split(a, 3, 1, &list, &n, S) == 0 && n == 3 && evals(list[2]));
  free(list);
  CHECK(mx_unstack(a, 1, &list, &n, S) == 0 && n == 3 && evals(list[0]));
  free(list);
  CHECK(fails(mx_repeat(a, -1, &ax0, S)) && evals(mx_repeat(a, 2, NULL, S)));
  CHECK(fails(mx_tile(a, &neg, 1, S)) && evals(mx_tile(a, s23, 2, S)));
  CHECK(fails(mx_flip(a, &ax5, 1, S)) && evals(mx_flip(a, NULL, -1, S)));
  CHECK(fails(mx_roll(a, &ax1, 1, false, dup, 2, false, S)) &&
        evals(mx_roll(a, &ax1, 1, true, dup, 2, false, S)));
  int32_t lo[2] = {1, 2}, hi[2] = {3, 0}, nlo[2] = {-1, 0};
  const char *modes[4] = {"constant", "edge", "reflect", "symmetric"};
  int axes2[2] = {0, 1};
  for (int m = 0; m < 4; m++) CHECK(evals(mx_pad(a, axes2, 2, lo, 2, hi, 2, z, modes[m], S)));
  CHECK(fails(mx_pad(a, axes2, 2, lo, 2, hi, 2, z, "wrap", S)));
  CHECK(fails(mx_pad(a, axes2, 2, nlo, 2, hi, 2, z, "constant", S)));
  CHECK(fails(mx_pad(a, axes2, 2, lo, 1, hi, 2, z, "constant", S)));
  CHECK(fails(mx_pad(a, axes2, 2, lo, 2, hi, 2, v, "constant", S)));
  int64_t st[2] = {3, 1};
  CHECK(evals(mx_as_strided(a, s23, 2, st, 2, 0, S)) && fails(mx_as_strided(a, s23, 2, st, 2, 1, S)));
  CHECK(fails(mx_view(z, MX_UINT8, S)) && evals(mx_view(a, MX_UINT16, S)));
  CHECK(evals(mx_contiguous(mx_transpose(a, NULL, -1, S), false, S)));
  CHECK(evals(mx_diag(v, -2, S)) && evals(mx_diag(a, 1, S)) && fails(mx_diag(z, 0, S)));
  CHECK(evals(mx_trace(a, 0, 0, 1, true, MX_FLOAT16, S)) && fails(mx_diagonal(a, 0, 1, 1, S)));
  int32_t s32[2] = {3, 2};
  mx_array *b = iota(2, s32);
  CHECK(evals(mx_addmm(z, a, b, 2.0, 1.0, S)) && fails(mx_addmm(a, a, b, 1.0, 1.0, S)));
  CHECK(evals(mx_tensordot_axis(a, b, 1, S)) && fails(mx_tensordot_axis(a, b, 3, S)));
  CHECK(evals(mx_inner(a, a, S)) && evals(mx_outer(a, v, S)) && evals(mx_kron(a, b, S)));
  CHECK(evals(mx_vecdot(a, a, 0, S)) && fails(mx_vecdot(a, v, 0, S)));
  MX_SCOPE_END;
}

/* ---- mlx-c ---- */
static void test_capi(void) {
  mlx_stream s = mlx_default_cpu_stream_new();
  float data[6] = {0, 1, 2, 3, 4, 5};
  int shape[2] = {2, 3};
  mlx_array a = mlx_array_new_data(data, shape, 2, MLX_FLOAT32);
  mlx_vector_array parts = mlx_vector_array_new();
  CHECK(mlx_split(&parts, a, 3, 1, s) == 0 && mlx_vector_array_size(parts) == 3);
  int idx[1] = {1};
  CHECK(mlx_split_sections(&parts, a, idx, 1, 0, s) == 0 && mlx_vector_array_size(parts) == 2);
  mlx_array p = mlx_array_new(), zero = mlx_array_new_float(0.0f);
  CHECK(mlx_pad_symmetric(&p, a, 1, zero, "edge", s) == 0);
  CHECK(mlx_array_ndim(p) == 2 && mlx_array_shape(p)[0] == 4 && mlx_array_shape(p)[1] == 5);
  mlx_array_eval(p);
  CHECK(mlx_array_data_float32(p)[0] == 0.0f && mlx_array_data_float32(p)[19] == 5.0f);
  int ax_a[1] = {1}, ax_b[1] = {1};
  mlx_array t = mlx_array_new();
  CHECK(mlx_tensordot(&t, a, a, ax_a, 1, ax_b, 1, s) == 0);
  mlx_array_eval(t);
  CHECK(mlx_array_ndim(t) == 2 && mlx_array_data_float32(t)[3] == 50.0f);
  mlx_vector_array_free(parts);
  mlx_array_free(a);
  mlx_array_free(p);
  mlx_array_free(zero);
  mlx_array_free(t);
  mlx_stream_free(s);
}

int main(void) {
  S = mx_stream_default();
  RUN(test_concatenate_vmap);
  RUN(test_pad_vmap);
  RUN(test_as_strided_vmap);
  RUN(test_contiguous_and_view_vmap);
  RUN(test_addmm_vmap);
  RUN(test_ops_valid_and_invalid);
  RUN(test_capi);
  return check_failures ? 1 : 0;
}
