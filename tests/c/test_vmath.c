/* test_vmath.c: the vectorised float32 functions of vmath.h against libm over a dense sweep
 * of float32 bit patterns (every pattern with MLX_VMATH_EXHAUSTIVE=1), on every instruction
 * set the CPU has: within 1 ulp of the double-precision result (tanh, computed in float:
 * 2 ulp), NaN/inf/zero exactly as the float libm function, and bit-identical wherever an
 * element sits in the array. */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/backend/cpu/vmath.h"
#include "check.h"

typedef double (*ref_fn)(double);

/* sigmoid's float formula around a correctly rounded exp: ours must be within 1 ulp of it
 * (its final 1 - y magnifies any difference in e^-|x|, so libm's expf is no reference) */
static float sigmoid_rounded_exp(float x) {
  float v = (float)exp((double)(x < 0 ? x : -x));
  float y = 1.0f / (1.0f + v);
  return x < 0 ? 1.0f - y : y;
}
static double ref_sigmoid(double x) { return sigmoid_rounded_exp((float)x); }

/* sigmoid as formulas.h computes it in float, with libm's expf */
static float sigmoid_float(float x) {
  float y = 1.0f / (1.0f + expf(x < 0 ? x : -x));
  return x < 0 ? 1.0f - y : y;
}

typedef struct vm_case {
  const char *name;
  mx_vm_f32_fn fn;
  ref_fn ref;      /* double-precision reference */
  float (*ff)(float); /* float libm: special values must match it */
  double max_ulp;     /* 0: 1 ulp */
} vm_case;

static float f_sin(float x) { return sinf(x); }
static float f_cos(float x) { return cosf(x); }

static const vm_case cases[] = {
    {"exp", mx_vm_exp_f32, exp, expf, 0.0},         {"expm1", mx_vm_expm1_f32, expm1, expm1f, 0.0},
    {"log", mx_vm_log_f32, log, logf, 0.0},         {"log1p", mx_vm_log1p_f32, log1p, log1pf, 0.0},
    {"log2", mx_vm_log2_f32, log2, log2f, 0.0},     {"log10", mx_vm_log10_f32, log10, log10f, 0.0},
    {"sin", mx_vm_sin_f32, sin, f_sin, 0.0},        {"cos", mx_vm_cos_f32, cos, f_cos, 0.0},
    {"tanh", mx_vm_tanh_f32, tanh, tanhf, 2.0},     {"erf", mx_vm_erf_f32, erf, erff, 0.0},
    {"sigmoid", mx_vm_sigmoid_f32, ref_sigmoid, sigmoid_float, 0.0},
};

static uint32_t bits_of(float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  return u;
}
static float float_of(uint32_t u) {
  float f;
  memcpy(&f, &u, 4);
  return f;
}

/* distance in representable floats between a and b (same sign side handled) */
static int64_t ulp_dist(float a, float b) {
  int64_t ia = bits_of(a), ib = bits_of(b);
  if (ia & 0x80000000) ia = -(ia & 0x7fffffff);
  if (ib & 0x80000000) ib = -(ib & 0x7fffffff);
  return ia > ib ? ia - ib : ib - ia;
}

/* |got - exact| in units of the float spacing at the exact value */
static double ulp_err(float got, double exact) {
  double a = fabs(exact);
  int e;
  frexp(a, &e);
  double ulp = ldexp(1.0, (e - 24 > -149 ? e - 24 : -149));
  if (a >= 0x1p128) return isinf(got) ? 0.0 : 1e9;
  return fabs((double)got - exact) / ulp;
}

#define CHUNK 4096

/* one function over bit patterns lo, lo+step, ... below 2^32 plus the listed specials */
static void check_case(const vm_case *c, uint64_t step, const char *isa) {
  float *x = malloc(CHUNK * sizeof(float)), *y = malloc(CHUNK * sizeof(float));
  double worst = 0.0;
  float worst_x = 0.0f;
  int64_t bad_special = 0, bad_ulp = 0;
  static const float specials[] = {0.0f, -0.0f, 1.0f, -1.0f, INFINITY, -INFINITY, NAN,
                                   1e-45f, -1e-45f, 1e-38f, 88.72f, 88.73f, -87.3f, -103.9f,
                                   -104.0f, 9.0f, 20.0f, 3.92f, 1048576.0f, 1e30f, -1e30f,
                                   0.5f, 2.0f, 8.0f, 1000.0f, 1e-8f, -1e-8f};
  uint64_t u = 0;
  size_t ns = sizeof specials / sizeof specials[0], si = 0;
  while (u < 0x100000000ull || si < ns) {
    int n = 0;
    while (n < CHUNK && si < ns) x[n++] = specials[si++];
    while (n < CHUNK && u < 0x100000000ull) {
      x[n++] = float_of((uint32_t)u);
      u += step;
    }
    c->fn(x, y, n);
    for (int i = 0; i < n; i++) {
      float lib = c->ff(x[i]);
      if (isnan(lib) || isinf(lib) || lib == 0.0f) {
        bool same = isnan(lib) ? isnan(y[i]) : bits_of(lib) == bits_of(y[i]);
        if (!same && bad_special++ < 5)
          fprintf(stderr, "  %s[%s](%a) = %a, libm %a\n", c->name, isa, x[i], y[i], lib);
        continue;
      }
      double err;
      if (c->ff == sigmoid_float) {
        err = (double)ulp_dist(y[i], sigmoid_rounded_exp(x[i]));
      } else {
        err = ulp_err(y[i], c->ref((double)x[i]));
      }
      if (err > worst) worst = err, worst_x = x[i];
      if (err > (c->max_ulp > 0 ? c->max_ulp : 1.0) && bad_ulp++ < 5)
        fprintf(stderr, "  %s[%s](%a) = %a, exact %.17g (%.3f ulp)\n", c->name, isa, x[i], y[i],
                c->ref((double)x[i]), err);
    }
  }
  fprintf(stderr, "  %-8s %-9s worst %.3f ulp at %a\n", c->name, isa, worst, worst_x);
  CHECK(bad_special == 0);
  CHECK(bad_ulp == 0);
  free(x);
  free(y);
}

/* MLX_VMATH_EXHAUSTIVE=1: every bit pattern, on the best instruction set only;
 * MLX_VMATH_ONLY=name: one function. */
static void test_vmath_accuracy(void) {
  const char *all = getenv("MLX_VMATH_EXHAUSTIVE"), *only = getenv("MLX_VMATH_ONLY");
  bool exhaustive = all && *all == '1';
  int top = mx_vm_set_level(2);
  for (int level = top; level >= (exhaustive ? top : 0); level--) {
    if (mx_vm_set_level(level) != level) continue;
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++)
      if (!only || strcmp(only, cases[k].name) == 0)
        check_case(&cases[k], exhaustive ? 1 : 1021, mx_vm_isa());
  }
  mx_vm_set_level(2);
}

/* An element's result does not depend on its position, the length, or x == y. */
static void test_vmath_position(void) {
  enum { N = 103 };
  float x[N + 1], whole[N], one[1], shifted[N + 1], inplace[N];
  uint32_t s = 12345;
  for (int i = 0; i < N; i++) {
    s = s * 1664525u + 1013904223u;
    x[i] = ((float)(s >> 8) / 16777216.0f - 0.5f) * 40.0f;
  }
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    const vm_case *c = &cases[k];
    c->fn(x, whole, N);
    memcpy(shifted + 1, x, sizeof(float) * N);
    c->fn(shifted + 1, shifted + 1, N - 5);
    memcpy(inplace, x, sizeof inplace);
    c->fn(inplace, inplace, N);
    int same = 1;
    for (int i = 0; i < N; i++) {
      c->fn(&x[i], one, 1);
      same &= bits_of(one[0]) == bits_of(whole[i]) && bits_of(inplace[i]) == bits_of(whole[i]);
      if (i < N - 5) same &= bits_of(shifted[i + 1]) == bits_of(whole[i]);
    }
    if (!same) fprintf(stderr, "  %s differs by position\n", c->name);
    CHECK(same);
  }
}

int main(void) {
  RUN(test_vmath_position);
  RUN(test_vmath_accuracy);
  return check_failures;
}
