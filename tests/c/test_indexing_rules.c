/* test_indexing_rules.c: the vmap rules of the indexing and sorting primitives (there is no
 * vmap transform yet, so each rule is called directly): for inputs mapped along various
 * axes, or not mapped, the rule's result must equal the primitive applied example by
 * example. Uses the internal API (ops.h, prim.h). Returns the failure count. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/core/error.h"
#include "../../src/core/prim.h"
#include "../../src/ops/ops.h"
#include "check.h"

static mx_stream S;

/* An array of the given shape with values base, base+1, ... (as float32, then cast). */
static mx_array *iota(int ndim, const int32_t *shape, float base, mx_dtype t) {
  int64_t n = 1;
  for (int d = 0; d < ndim; d++) n *= shape[d];
  float *v = malloc((size_t)(n > 0 ? n : 1) * sizeof(float));
  for (int64_t i = 0; i < n; i++) v[i] = base + (float)((i * 7) % 23) - 5.0f;
  mx_array *a = mx_array_from_data(v, MX_FLOAT32, ndim, shape);
  free(v);
  return mx_astype(mx_scope_adopt(a), t, S);
}

static mx_array *ints(int ndim, const int32_t *shape, const int32_t *v) {
  return mx_scope_adopt(mx_array_from_data(v, MX_INT32, ndim, shape));
}

/* x[b] along axis. */
static mx_array *take_b(mx_array *x, int axis, int b) {
  int32_t i = b;
  mx_array *idx = mx_scope_adopt(mx_array_from_data(&i, MX_INT32, 0, NULL));
  return mx_take_axis(x, idx, axis, S);
}

/* Inserts a batch axis of size B at `axis` by stacking B shifted copies of x (x + b). */
static mx_array *batch_of(mx_array *x, int B, int axis) {
  mx_array *acc = NULL;
  for (int b = 0; b < B; b++) {
    mx_array *xb = x->dtype == MX_BOOL ? x : mx_add(x, mx_scalar_like((double)b, x), S);
    if (x->dtype == MX_BOOL && b % 2) xb = mx_equal(x, mx_zeros_like(x, S), S);
    xb = mx_expand_dims(xb, 0, S);
    if (!acc) {
      acc = xb;
    } else { /* concatenate along 0 through a slice_update into a bigger array */
      int32_t shape[8];
      memcpy(shape, acc->shape, sizeof(int32_t) * (size_t)acc->ndim);
      shape[0] += 1;
      mx_array *big = mx_zeros(shape, acc->ndim, acc->dtype, S);
      int32_t st[8] = {0}, sp[8], sd[8];
      for (int d = 0; d < acc->ndim; d++) sp[d] = acc->shape[d], sd[d] = 1;
      big = mx_slice_update(big, acc, st, sp, sd, S);
      st[0] = acc->shape[0];
      sp[0] = acc->shape[0] + 1;
      acc = mx_slice_update(big, xb, st, sp, sd, S);
    }
  }
  return axis ? mx_moveaxis(acc, 0, axis, S) : acc;
}

/* True if a and b (any dtypes) hold the same values. */
static bool same(mx_array *a, mx_array *b) {
  if (!a || !b || a->ndim != b->ndim) return false;
  for (int d = 0; d < a->ndim; d++)
    if (a->shape[d] != b->shape[d]) return false;
  mx_array *eq = mx_reduce("all", 0 /* MX_REDUCE_AND */, MX_BOOL,
                           mx_equal(mx_astype(a, MX_FLOAT64, S), mx_astype(b, MX_FLOAT64, S), S),
                           NULL, -1, false, S);
  if (!eq || mx_array_eval(eq) != 0) return false;
  return *(const bool *)mx_array_host_data(eq);
}

/* out0: the primitive applied to example 0 (built by the caller from take_b of the batched
 * inputs). Checks the prim's vmap rule on the batched inputs against per-example results. */
static void check_vmap(const char *what, mx_array *out0, mx_array **batched, const int *axes, int B) {
  if (!out0 || !out0->op) {
    fprintf(stderr, "%s: no primitive output (%s)\n", what, mx_error_message());
    check_failures++;
    return;
  }
  const mx_op *op = out0->op;
  const mx_prim_vt *vt = &mx_prims[op->prim];
  mx_array *outs[1] = {NULL};
  int out_axes[1] = {-2};
  if (!vt->vmap || vt->vmap(op, batched, axes, outs, out_axes) != 0 || !outs[0]) {
    fprintf(stderr, "%s: vmap rule failed: %s\n", what, mx_error_message());
    check_failures++;
    return;
  }
  mx_array *got = outs[0];
  for (int b = 0; b < B; b++) {
    mx_array *in_b[8];
    for (int i = 0; i < op->n_in; i++) in_b[i] = axes[i] >= 0 ? take_b(batched[i], axes[i], b) : batched[i];
    mx_array *ref = mx_op_make1(op->prim, op->params, op->stream, op->n_in, in_b, out0->dtype,
                                out0->ndim, out0->shape);
    mx_array *g = out_axes[0] >= 0 ? take_b(got, out_axes[0], b) : got;
    if (!same(g, ref)) {
      fprintf(stderr, "%s: example %d differs (out axis %d): %s\n", what, b, out_axes[0], mx_error_message());
      check_failures++;
      return;
    }
  }
}

/* Builds batched inputs from per-example inputs ex[i] (axis < 0: unmapped), then out0 by
 * calling make on the example-0 inputs, and checks. */
typedef mx_array *(*make_fn)(mx_array **in, void *ctx);
static void run_case(const char *what, make_fn make, void *ctx, mx_array **ex, const int *axes, int n, int B) {
  mx_array *batched[8], *in0[8];
  for (int i = 0; i < n; i++) {
    batched[i] = axes[i] >= 0 ? batch_of(ex[i], B, axes[i]) : ex[i];
    in0[i] = axes[i] >= 0 ? take_b(batched[i], axes[i], 0) : ex[i];
  }
  check_vmap(what, make(in0, ctx), batched, axes, B);
}

/* ---- per-primitive builders: they must return the primitive's own output ---- */

static mx_array *mk_gather(mx_array **in, void *ctx) {
  int k = *(int *)ctx;
  int axes[2] = {0, 2};
  int32_t sizes[3] = {1, in[0]->shape[1], 1};
  return mx_gather(in[0], in + 1, k, axes, k, sizes, 3, S);
}

static mx_array *mk_scatter(mx_array **in, void *ctx) {
  int reduce = *(int *)ctx;
  int axes[1] = {1};
  return mx_scatter_reduce(reduce, in[0], in + 1, 1, in[2], axes, 1, S);
}

static mx_array *mk_gather_axis(mx_array **in, void *ctx) {
  return mx_take_along_axis(in[0], in[1], *(int *)ctx, S);
}

static mx_array *mk_scatter_axis(mx_array **in, void *ctx) {
  int axis = ((int *)ctx)[0], sum = ((int *)ctx)[1];
  return sum ? mx_scatter_add_axis(in[0], in[1], in[2], axis, S) : mx_put_along_axis(in[0], in[1], in[2], axis, S);
}

static mx_array *mk_masked(mx_array **in, void *ctx) {
  (void)ctx;
  return mx_masked_scatter(in[0], in[1], in[2], S);
}

static mx_array *mk_dslice(mx_array **in, void *ctx) {
  (void)ctx;
  int axes[2] = {0, 1};
  int32_t size[2] = {2, 3};
  return mx_slice_dynamic(in[0], in[1], axes, 2, size, 2, S);
}

static mx_array *mk_dslice_update(mx_array **in, void *ctx) {
  (void)ctx;
  int axes[1] = {1};
  return mx_slice_update_dynamic(in[0], in[1], in[2], axes, 1, S);
}

static mx_array *mk_sort(mx_array **in, void *ctx) {
  int which = ((int *)ctx)[0], axis = ((int *)ctx)[1];
  switch (which) {
  case 0: return mx_sort_axis(in[0], axis, S);
  case 1: return mx_argsort_axis(in[0], axis, S);
  case 2: return mx_partition_axis(in[0], 1, axis, S);
  default: return mx_argpartition_axis(in[0], 2, axis, S);
  }
}

static void test_gather_vmap(void) {
  MX_SCOPE_BEGIN;
  /* the primitive's index inputs share one shape (the op broadcasts them) */
  int32_t ash[3] = {4, 3, 5}, ish[2] = {2, 3};
  int32_t iv[6] = {3, -1, 0, 2, 2, 1}, jv[6] = {4, 0, 2, 1, 1, 3};
  mx_array *ex[3] = {iota(3, ash, 0, MX_FLOAT32), ints(2, ish, iv), ints(2, ish, jv)};
  int k = 2;
  int combos[][3] = {{0, -1, -1}, {2, -1, -1}, {-1, 0, -1}, {-1, 1, 0}, {1, 0, -1}, {0, 2, 1}, {3, 0, 0}};
  for (size_t c = 0; c < sizeof combos / sizeof combos[0]; c++) {
    /* an unmapped index batched by shifting would change the values: only map in range */
    run_case("gather", mk_gather, &k, ex, combos[c], 3, 2);
  }
  k = 1;
  int one[][2] = {{0, -1}, {-1, 0}, {1, 1}};
  for (size_t c = 0; c < 3; c++) run_case("gather1", mk_gather, &k, ex, one[c], 2, 3);
  MX_SCOPE_END;
}

static void test_scatter_vmap(void) {
  MX_SCOPE_BEGIN;
  int32_t ash[2] = {3, 6}, ish[1] = {2}, ush[3] = {2, 3, 1};
  int32_t iv[2] = {4, 1};
  mx_array *ex[3] = {iota(2, ash, 0, MX_FLOAT32), ints(1, ish, iv), iota(3, ush, 10, MX_FLOAT32)};
  int reduces[3] = {MX_SCATTER_NONE, MX_REDUCE_SUM, MX_REDUCE_MAX};
  int combos[][3] = {{0, -1, -1}, {-1, 0, -1}, {-1, -1, 0}, {1, 0, 2}, {-1, 0, 3}, {2, -1, 1}};
  for (int r = 0; r < 3; r++)
    for (size_t c = 0; c < sizeof combos / sizeof combos[0]; c++)
      run_case("scatter", mk_scatter, &reduces[r], ex, combos[c], 3, 2);
  MX_SCOPE_END;
}

static void test_along_axis_vmap(void) {
  MX_SCOPE_BEGIN;
  int32_t ash[2] = {3, 5}, ish[2] = {3, 2};
  int32_t iv[6] = {0, 4, 1, 1, 3, 2};
  mx_array *ex[3] = {iota(2, ash, 0, MX_FLOAT32), ints(2, ish, iv), iota(2, ish, 50, MX_FLOAT32)};
  int axis = 1;
  int combos[][3] = {{0, -1, -1}, {-1, 0, -1}, {2, 1, -1}, {-1, -1, 0}, {1, 0, 2}, {0, -1, 1}};
  for (size_t c = 0; c < sizeof combos / sizeof combos[0]; c++) {
    run_case("gather_axis", mk_gather_axis, &axis, ex, combos[c], 2, 3);
    int ctx[2] = {1, 0};
    run_case("put_along_axis", mk_scatter_axis, ctx, ex, combos[c], 3, 3);
    ctx[1] = 1;
    run_case("scatter_add_axis", mk_scatter_axis, ctx, ex, combos[c], 3, 3);
  }
  MX_SCOPE_END;
}

static void test_masked_vmap(void) {
  MX_SCOPE_BEGIN;
  int32_t ash[2] = {2, 3}, ssh[1] = {6};
  int32_t mv[6] = {1, 0, 1, 0, 0, 1};
  mx_array *mask = mx_astype(ints(2, ash, mv), MX_BOOL, S);
  mx_array *ex[3] = {iota(2, ash, 0, MX_FLOAT32), mask, iota(1, ssh, 30, MX_FLOAT32)};
  int combos[][3] = {{0, -1, -1}, {-1, 0, -1}, {-1, -1, 0}, {1, 2, 0}, {-1, 1, 1}};
  for (size_t c = 0; c < sizeof combos / sizeof combos[0]; c++)
    run_case("masked_scatter", mk_masked, NULL, ex, combos[c], 3, 2);
  MX_SCOPE_END;
}

static void test_dynamic_slice_vmap(void) {
  MX_SCOPE_BEGIN;
  int32_t ash[2] = {4, 6}, ssh[1] = {2}, ush[2] = {4, 2}, s1[1] = {1};
  int32_t sv[2] = {1, 2}, s1v[1] = {3};
  mx_array *ex[2] = {iota(2, ash, 0, MX_FLOAT32), ints(1, ssh, sv)};
  int combos[][2] = {{0, -1}, {-1, 0}, {1, 0}, {2, 0}};
  for (size_t c = 0; c < 4; c++) run_case("dynamic_slice", mk_dslice, NULL, ex, combos[c], 2, 3);
  mx_array *ex2[3] = {ex[0], iota(2, ush, 40, MX_FLOAT32), ints(1, s1, s1v)};
  int combos2[][3] = {{0, -1, -1}, {-1, 0, -1}, {-1, -1, 0}, {1, 2, 0}, {2, -1, 0}};
  for (size_t c = 0; c < 5; c++) run_case("dynamic_slice_update", mk_dslice_update, NULL, ex2, combos2[c], 3, 3);
  MX_SCOPE_END;
}

static void test_sort_vmap(void) {
  MX_SCOPE_BEGIN;
  int32_t ash[2] = {3, 5};
  mx_array *ex[1] = {iota(2, ash, 0, MX_FLOAT32)};
  for (int which = 0; which < 4; which++)
    for (int axis = 0; axis < 2; axis++)
      for (int bax = 0; bax < 3; bax++) {
        int ctx[2] = {which, axis}, axes[1] = {bax};
        run_case("sort", mk_sort, ctx, ex, axes, 1, 2);
      }
  MX_SCOPE_END;
}

static mx_array *mk_search(mx_array **in, void *ctx) {
  return mx_searchsorted(in[0], in[1], *(int *)ctx != 0, S);
}

static void test_searchsorted_vmap(void) {
  MX_SCOPE_BEGIN;
  int32_t ash[1] = {6}, vsh[2] = {2, 3};
  int32_t av[6] = {0, 2, 2, 5, 7, 9}, vv[6] = {2, -1, 9, 4, 10, 7};
  mx_array *ex[2] = {ints(1, ash, av), ints(2, vsh, vv)};
  int combos[][2] = {{-1, 0}, {-1, 2}, {0, -1}, {0, 1}};
  for (int right = 0; right < 2; right++)
    for (size_t c = 0; c < 4; c++) run_case("searchsorted", mk_search, &right, ex, combos[c], 2, 3);
  MX_SCOPE_END;
}

int main(void) {
  S = mx_stream_default();
  RUN(test_gather_vmap);
  RUN(test_scatter_vmap);
  RUN(test_along_axis_vmap);
  RUN(test_masked_vmap);
  RUN(test_dynamic_slice_vmap);
  RUN(test_sort_vmap);
  RUN(test_searchsorted_vmap);
  mx_synchronize_all();
  return check_failures;
}
