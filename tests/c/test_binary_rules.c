/* test_binary_rules.c: the vmap rules of the section B primitives (remainder, power,
 * logaddexp, arctan2, bitwise, shifts, logical, divmod, integer floor division) against a
 * loop over the batch: the rule applied to batched inputs (batch axis 0 or 1, or unmapped)
 * must equal the op applied sample by sample. Python has no mx.vmap yet, so this is where
 * the rules are exercised. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "../../src/core/error.h"
#include "../../src/core/prim.h"
#include "../../src/ops/ops.h"
#include "check.h"

#define CPU mx_default_stream((mx_device){MX_CPU, 0})
#define B 3 /* batch */
#define N 4 /* per-sample length */

typedef mx_array *(*binfn)(mx_array *, mx_array *, mx_stream);

static mx_array *divmod_q(mx_array *a, mx_array *b, mx_stream s) {
  mx_array *o[2];
  if (mx_divmod(a, b, s, o) < 0) return NULL;
  mx_array_release(o[1]);
  return o[0];
}

static mx_array *divmod_r(mx_array *a, mx_array *b, mx_stream s) {
  mx_array *o[2];
  if (mx_divmod(a, b, s, o) < 0) return NULL;
  mx_array_release(o[0]);
  return o[1];
}

/* Values for element i of operand `which` in dtype t: nonzero, mixed signs where signed. */
static double value(mx_dtype t, int which, int i) {
  static const double fa[] = {0.7, 1.9, -2.3, 3.1, 0.4, -1.2, 2.6, 1.1, -0.8, 2.2, 1.5, -3.4};
  static const double fb[] = {1.3, -0.6, 2.1, 0.9, -1.7, 2.4, 0.5, 1.8, -2.2, 0.3, 1.6, 2.9};
  static const int ia[] = {7, -7, 5, -12, 9, 3, -4, 11, 6, -1, 8, -9};
  static const int ib[] = {2, 3, -2, 5, -3, 4, 2, -5, 3, 2, -4, 1};
  if (t == MX_BOOL) return ((i * 7 + which * 3) % 3) != 0;
  if (mx_dtype_is_integer(t)) {
    int v = which == 0 ? ia[i % 12] : ib[i % 12];
    return mx_dtype_is_signed(t) ? v : abs(v);
  }
  return which == 0 ? fa[i % 12] : fb[i % 12];
}

/* Batched operand: shape (N) if ax < 0, (B, N) if ax == 0, (N, B) if ax == 1. */
static mx_array *operand(mx_dtype t, int which, int ax) {
  double v[B * N];
  for (int i = 0; i < B * N; i++) v[i] = value(t, which, i);
  int32_t shape[2] = {B, N};
  mx_array *d = mx_array_from_data(v, MX_FLOAT64, ax < 0 ? 1 : 2, ax < 0 ? shape + 1 : shape);
  mx_array *c = mx_astype(d, t, CPU);
  mx_array_release(d);
  if (ax != 1) return c;
  mx_array *tr = mx_transpose(c, NULL, -1, CPU);
  mx_array_release(c);
  return tr;
}

/* Sample i of a batched operand (itself when unmapped). */
static mx_array *sample(mx_array *x, int ax, int i) {
  if (ax < 0) {
    mx_array_retain(x);
    return x;
  }
  int32_t start[2] = {0, 0}, stop[2] = {x->shape[0], x->shape[1]}, str[2] = {1, 1};
  start[ax] = i;
  stop[ax] = i + 1;
  mx_array *sl = mx_slice(x, start, stop, str, CPU);
  int32_t n = N;
  mx_array *r = mx_reshape(sl, &n, 1, CPU);
  mx_array_release(sl);
  return r;
}

static double *as_f64(mx_array *x) {
  mx_array *d = mx_astype(x, MX_FLOAT64, CPU);
  double *out = NULL;
  if (d && mx_array_eval(d) == 0) {
    out = malloc((size_t)d->size * sizeof(double));
    double *p = mx_array_host_data(d);
    for (int64_t i = 0; p && i < d->size; i++) out[i] = p[i];
  }
  mx_array_release(d);
  return out;
}

static bool same(double x, double y) {
  if (isnan(x) || isnan(y)) return isnan(x) && isnan(y);
  return fabs(x - y) <= 1e-5 * (1.0 + fabs(y));
}

/* out_index: which output of the primitive f's result is (DivMod has two). The rule runs
 * on sample 0's op record before anything is evaluated (evaluation detaches records). */
static void check(const char *name, binfn f, mx_prim prim, int out_index, mx_dtype t, int ax_a,
                  int ax_b) {
  mx_array *a = operand(t, 0, ax_a), *b = operand(t, 1, ax_b);
  mx_array *r[B];
  for (int i = 0; i < B; i++) {
    mx_array *ai = sample(a, ax_a, i), *bi = sample(b, ax_b, i);
    r[i] = f(ai, bi, CPU);
    mx_array_release(ai);
    mx_array_release(bi);
  }
  mx_array *batched = NULL;
  int out_ax = -1;
  if (!r[0] || !r[0]->op || r[0]->op->prim != prim) {
    fprintf(stderr, "%s %s: not made by the expected primitive\n", name, mx_dtype_name(t));
    check_failures++;
  } else {
    MX_SCOPE_BEGIN;
    mx_array *ins[2] = {a, b}, *outs[2] = {NULL, NULL};
    int axes[2] = {ax_a, ax_b}, out_axes[2] = {-1, -1};
    CHECK_OK(mx_prims[prim].vmap(r[0]->op, ins, axes, outs, out_axes));
    batched = mx_keep(outs[out_index]);
    out_ax = out_axes[out_index];
    MX_SCOPE_END;
  }
  if (batched) {
    mx_array *o = mx_moveaxis(batched, out_ax, 0, CPU);
    CHECK(o && o->ndim == 2 && o->shape[0] == B && o->shape[1] == N);
    CHECK(o && o->dtype == r[0]->dtype);
    double *got = o ? as_f64(o) : NULL;
    for (int i = 0; got && i < B; i++) {
      double *want = r[i] ? as_f64(r[i]) : NULL;
      CHECK(want != NULL);
      for (int j = 0; want && j < N; j++) {
        if (!same(got[i * N + j], want[j])) {
          fprintf(stderr, "%s %s axes (%d, %d) elem %d: got %g want %g\n", name,
                  mx_dtype_name(t), ax_a, ax_b, i * N + j, got[i * N + j], want[j]);
          check_failures++;
          break;
        }
      }
      free(want);
    }
    free(got);
    mx_array_release(o);
    mx_array_release(batched);
  }
  for (int i = 0; i < B; i++) mx_array_release(r[i]);
  mx_array_release(a);
  mx_array_release(b);
}

static void check_all_axes(const char *name, binfn f, mx_prim prim, int out_index, mx_dtype t) {
  static const int pairs[][2] = {{0, 0}, {1, 0}, {0, -1}, {-1, 1}, {1, 1}};
  for (size_t k = 0; k < sizeof pairs / sizeof pairs[0]; k++)
    check(name, f, prim, out_index, t, pairs[k][0], pairs[k][1]);
}

static void test_vmap_math(void) {
  check_all_axes("remainder", mx_remainder, MX_PRIM_REMAINDER, 0, MX_FLOAT32);
  check_all_axes("remainder", mx_remainder, MX_PRIM_REMAINDER, 0, MX_INT32);
  check_all_axes("power", mx_power, MX_PRIM_POWER, 0, MX_INT16);
  check_all_axes("logaddexp", mx_logaddexp, MX_PRIM_LOGADDEXP, 0, MX_FLOAT32);
  check_all_axes("arctan2", mx_arctan2, MX_PRIM_ARCTAN2, 0, MX_FLOAT64);
  check_all_axes("power", mx_power, MX_PRIM_POWER, 0, MX_FLOAT32);
  check_all_axes("floor_divide", mx_floor_divide, MX_PRIM_DIVIDE, 0, MX_INT8);
}

static void test_vmap_bitwise_logical(void) {
  check_all_axes("bitwise_and", mx_bitwise_and, MX_PRIM_BITWISE_AND, 0, MX_INT32);
  check_all_axes("bitwise_or", mx_bitwise_or, MX_PRIM_BITWISE_OR, 0, MX_UINT8);
  check_all_axes("bitwise_xor", mx_bitwise_xor, MX_PRIM_BITWISE_XOR, 0, MX_BOOL);
  check_all_axes("left_shift", mx_left_shift, MX_PRIM_LEFT_SHIFT, 0, MX_UINT16);
  check_all_axes("right_shift", mx_right_shift, MX_PRIM_RIGHT_SHIFT, 0, MX_INT64);
  check_all_axes("logical_and", mx_logical_and, MX_PRIM_LOGICAL_AND, 0, MX_BOOL);
  check_all_axes("logical_or", mx_logical_or, MX_PRIM_LOGICAL_OR, 0, MX_BOOL);
}

static void test_vmap_divmod(void) {
  check_all_axes("divmod.q", divmod_q, MX_PRIM_DIVMOD, 0, MX_FLOAT32);
  check_all_axes("divmod.r", divmod_r, MX_PRIM_DIVMOD, 1, MX_FLOAT32);
  check_all_axes("divmod.q", divmod_q, MX_PRIM_DIVMOD, 0, MX_INT32);
  check_all_axes("divmod.r", divmod_r, MX_PRIM_DIVMOD, 1, MX_INT32);
}

/* Every section B primitive has a CPU kernel and all three rules. */
static void test_registered(void) {
  static const mx_prim prims[] = {MX_PRIM_REMAINDER,   MX_PRIM_POWER,       MX_PRIM_LOGADDEXP,
                                  MX_PRIM_ARCTAN2,     MX_PRIM_BITWISE_AND, MX_PRIM_BITWISE_OR,
                                  MX_PRIM_BITWISE_XOR, MX_PRIM_LEFT_SHIFT,  MX_PRIM_RIGHT_SHIFT,
                                  MX_PRIM_LOGICAL_AND, MX_PRIM_LOGICAL_OR,  MX_PRIM_DIVMOD};
  for (size_t i = 0; i < sizeof prims / sizeof prims[0]; i++) {
    const mx_prim_vt *vt = &mx_prims[prims[i]];
    if (!vt->eval_cpu || !vt->vjp || !vt->jvp || !vt->vmap) {
      fprintf(stderr, "%s: missing kernel or rule\n", mx_prim_name(prims[i]));
      check_failures++;
    }
  }
}

int main(void) {
  RUN(test_registered);
  RUN(test_vmap_math);
  RUN(test_vmap_bitwise_logical);
  RUN(test_vmap_divmod);
  mx_synchronize_all();
  return check_failures ? 1 : 0;
}
