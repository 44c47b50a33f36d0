/* test_reduce_scan_rules.c: the vmap rules of the reductions-and-scans primitives (Reduce,
 * ArgReduce, Scan, Softmax, LogSumExp) against an explicit loop: the rule applied to
 * inputs batched along each possible axis must equal the primitive applied to each batch
 * entry. Values are exact (the same kernels run on the same numbers). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "param_enums.h"
#include "prim.h"
#include "../../src/ops/ops.h"

static mx_stream S;

/* A float32 array of shape filled with distinct values in a scrambled order (no ties). */
static mx_array *data(int ndim, const int32_t *shape) {
  int64_t n = 1;
  for (int d = 0; d < ndim; d++) n *= shape[d];
  float *v = malloc((size_t)(n ? n : 1) * sizeof(float));
  for (int64_t i = 0; i < n; i++) v[i] = (float)((i * 37) % 101) * 0.25f - 9.0f;
  mx_array *a = mx_scope_adopt(mx_array_from_data(v, MX_FLOAT32, ndim, shape));
  free(v);
  return a;
}

/* Entry b of x along axis (the axis removed). */
static mx_array *entry(mx_array *x, int axis, int b) {
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

/* Row-major float64 copy of x (evaluated); caller frees. */
static double *values(mx_array *x) {
  mx_array *c = mx_copy(mx_astype(x, MX_FLOAT64, S), S);
  if (!c || mx_array_eval(c) != 0) return NULL;
  double *out = malloc((size_t)(x->size ? x->size : 1) * sizeof(double));
  memcpy(out, mx_array_host_data(c), (size_t)x->size * sizeof(double));
  return out;
}

static bool same_values(mx_array *a, mx_array *b) {
  if (!a || !b || a->ndim != b->ndim || a->size != b->size || a->dtype != b->dtype) return false;
  for (int d = 0; d < a->ndim; d++)
    if (a->shape[d] != b->shape[d]) return false;
  double *x = values(a), *y = values(b);
  bool ok = x && y;
  for (int64_t i = 0; ok && i < a->size; i++) ok = x[i] == y[i] || (isnan(x[i]) && isnan(y[i]));
  free(x);
  free(y);
  return ok;
}

typedef mx_array *(*build_fn)(mx_array *x);

/* x carries a batch of size B at `axis`. The primitive that f builds on entry 0 is vmapped
 * over x and compared with f on every entry. */
static void check_vmap(const char *name, mx_prim prim, build_fn f, mx_array *x, int axis) {
  MX_SCOPE_BEGIN;
  mx_array *e0 = entry(x, axis, 0);
  mx_array *probe = f(e0);
  if (!probe || !probe->op || probe->op->prim != prim || probe->op->inputs[0] != e0) {
    fprintf(stderr, "%s: the builder did not make the primitive on its input\n", name);
    check_failures++;
  } else {
    mx_array *out[1] = {NULL};
    int out_axes[1] = {-2}, axes[1] = {axis};
    int rc = mx_prims[prim].vmap(probe->op, &x, axes, out, out_axes);
    CHECK(rc == 0 && out[0] && out_axes[0] >= 0);
    for (int b = 0; rc == 0 && out[0] && out_axes[0] >= 0 && b < x->shape[axis]; b++) {
      if (!same_values(entry(out[0], out_axes[0], b), f(entry(x, axis, b)))) {
        fprintf(stderr, "%s (batch axis %d): entry %d differs\n", name, axis, b);
        check_failures++;
        break;
      }
    }
  }
  MX_SCOPE_END;
  if (mx_error_kind_get() != MX_OK) {
    fprintf(stderr, "%s: %s\n", name, mx_error_message());
    mx_error_clear();
    check_failures++;
  }
}

/* An unbatched input: the rule must give the primitive's own result, unmapped. */
static void check_unbatched(const char *name, mx_prim prim, build_fn f, mx_array *x) {
  MX_SCOPE_BEGIN;
  mx_array *probe = f(x);
  mx_array *out[1] = {NULL};
  int out_axes[1] = {-2}, axes[1] = {-1};
  CHECK(probe && probe->op && probe->op->prim == prim);
  if (probe && probe->op) {
    int rc = mx_prims[prim].vmap(probe->op, &x, axes, out, out_axes);
    CHECK(rc == 0 && out_axes[0] == -1 && same_values(out[0], probe));
  }
  MX_SCOPE_END;
  (void)name;
}

/* ---- builders on a 3-d input (their primitive must consume x unchanged) ---- */
static mx_array *b_sum_02(mx_array *x) {
  int ax[2] = {0, 2};
  return mx_reduce("sum", MX_REDUCE_SUM, MX_FLOAT32, x, ax, 2, true, S);
}
static mx_array *b_max_1(mx_array *x) {
  int ax = 1;
  return mx_reduce("max", MX_REDUCE_MAX, MX_FLOAT32, x, &ax, 1, true, S);
}
static mx_array *b_prod_all(mx_array *x) {
  return mx_reduce("prod", MX_REDUCE_PROD, MX_FLOAT32, x, NULL, -1, true, S);
}
static mx_array *b_any_last(mx_array *x) {
  int ax = -1;
  return mx_reduce("any", MX_REDUCE_OR, MX_BOOL, x, &ax, 1, true, S);
}
static mx_array *b_argmax_0(mx_array *x) {
  int ax = 0;
  return mx_argmax(x, &ax, 1, true, S);
}
static mx_array *b_argmin_2(mx_array *x) {
  int ax = 2;
  return mx_argmin(x, &ax, 1, true, S);
}
static mx_array *b_cumsum_1(mx_array *x) { return mx_scan(x, MX_SCAN_SUM, 1, false, true, S); }
static mx_array *b_cumprod_0r(mx_array *x) { return mx_scan(x, MX_SCAN_PROD, 0, true, true, S); }
static mx_array *b_cummax_2x(mx_array *x) { return mx_scan(x, MX_SCAN_MAX, 2, false, false, S); }
static mx_array *b_cummin_1rx(mx_array *x) { return mx_scan(x, MX_SCAN_MIN, 1, true, false, S); }
static mx_array *b_lcse_0(mx_array *x) { return mx_scan(x, MX_SCAN_LOGADDEXP, 0, false, true, S); }
static mx_array *b_softmax(mx_array *x) {
  int ax = -1;
  return mx_softmax(x, &ax, 1, false, S);
}
static mx_array *b_logsumexp(mx_array *x) {
  int ax = -1;
  return mx_logsumexp(x, &ax, 1, true, S);
}

static const struct {
  const char *name;
  mx_prim prim;
  build_fn f;
} cases[] = {
    {"sum (0, 2)", MX_PRIM_REDUCE, b_sum_02},       {"max 1", MX_PRIM_REDUCE, b_max_1},
    {"prod all", MX_PRIM_REDUCE, b_prod_all},       {"any -1", MX_PRIM_REDUCE, b_any_last},
    {"argmax 0", MX_PRIM_ARG_REDUCE, b_argmax_0},   {"argmin 2", MX_PRIM_ARG_REDUCE, b_argmin_2},
    {"cumsum 1", MX_PRIM_SCAN, b_cumsum_1},         {"cumprod 0 rev", MX_PRIM_SCAN, b_cumprod_0r},
    {"cummax 2 excl", MX_PRIM_SCAN, b_cummax_2x},   {"cummin 1 rev excl", MX_PRIM_SCAN, b_cummin_1rx},
    {"logcumsumexp 0", MX_PRIM_SCAN, b_lcse_0},     {"softmax", MX_PRIM_SOFTMAX, b_softmax},
    {"logsumexp", MX_PRIM_LOGSUMEXP, b_logsumexp},
};

static void test_vmap_every_batch_axis(void) {
  int32_t shape[4] = {3, 4, 2, 5}; /* the batch (size 3, 4, 2 or 5) goes at each position */
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    for (int axis = 0; axis < 4; axis++) {
      /* rotate the shape so the batch size differs from the entry's dims at each axis */
      int32_t sh[4];
      for (int d = 0; d < 4; d++) sh[d] = shape[(d + axis) % 4];
      MX_SCOPE_BEGIN;
      mx_array *x = data(4, sh);
      check_vmap(cases[c].name, cases[c].prim, cases[c].f, x, axis);
      MX_SCOPE_END;
    }
  }
}

static void test_vmap_unbatched(void) {
  int32_t shape[3] = {4, 2, 5};
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    MX_SCOPE_BEGIN;
    check_unbatched(cases[c].name, cases[c].prim, cases[c].f, data(3, shape));
    MX_SCOPE_END;
  }
}

int main(void) {
  S = mx_stream_default();
  RUN(test_vmap_every_batch_axis);
  RUN(test_vmap_unbatched);
  return check_failures ? 1 : 0;
}
