/* test_vmath64.c: the float64 functions of vmath.h against an exact reference (long double
 * libm, 64-bit mantissa) on dense samples over every binade plus special values, on every
 * instruction set the CPU has: within each function's ulp bound, NaN/inf/zero/denormal
 * exactly as the double libm function, and bit-identical wherever an element sits. */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/backend/cpu/vmath.h"
#include "check.h"

typedef struct vm64_case {
  const char *name;
  mx_vm_f64_fn fn;
  long double (*ref)(long double);
  double (*lib)(double);
  double max_ulp; /* against the exact value */
  int max_exp;    /* samples have |x| < 2^max_exp (beyond: the saturated or libm regime) */
} vm64_case;

static const vm64_case cases[] = {
    {"exp", mx_vm_exp_f64, expl, exp, 1.0, 10},
    {"expm1", mx_vm_expm1_f64, expm1l, expm1, 1.5, 10},
    {"log", mx_vm_log_f64, logl, log, 1.0, 1024},
    {"log1p", mx_vm_log1p_f64, log1pl, log1p, 1.5, 1024},
    {"sin", mx_vm_sin_f64, sinl, sin, 1.0, 22},
    {"cos", mx_vm_cos_f64, cosl, cos, 1.0, 22},
    {"tanh", mx_vm_tanh_f64, tanhl, tanh, 2.5, 6},
};

static uint64_t bits_of(double d) {
  uint64_t u;
  memcpy(&u, &d, 8);
  return u;
}

/* |got - exact| in units of the double spacing at the exact value */
static double ulp_err(double got, long double exact) {
  long double a = fabsl(exact);
  int e;
  frexpl(a, &e);
  long double ulp = ldexpl(1.0L, e - 53 > -1074 ? e - 53 : -1074);
  if (a >= 0x1p1024L) return isinf(got) ? 0.0 : 1e9;
  return (double)(fabsl((long double)got - exact) / ulp);
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rng_next(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return rng_state;
}

enum { PER_BINADE = 2000 };

static void check_case(const vm64_case *c, const char *isa) {
  static const double specials[] = {0.0, -0.0, 1.0, -1.0, INFINITY, -INFINITY, NAN, 5e-324,
                                    -5e-324, 2.2250738585072014e-308, 1e-300, 709.78, 709.79,
                                    -745.13, -745.2, -708.4, 40.0, -40.0, 22.0, 19.1, 0x1p19,
                                    -0x1p19, 0x1p19 - 1.0, 1e300, -1e300, 1e-17, 0.5, -0.5,
                                    -1.0 + 0x1p-53, 1.5707963267948966, 3.141592653589793,
                                    1e10, 355.0, -1e-320};
  int ns = (int)(sizeof specials / sizeof specials[0]);
  int nb = (c->max_exp + 1074) * PER_BINADE;
  int n = ns + 2 * nb;
  double *x = malloc((size_t)n * sizeof(double)), *y = malloc((size_t)n * sizeof(double));
  memcpy(x, specials, sizeof specials);
  for (int i = 0; i < nb; i++) { /* each binade from 2^-1074 to 2^max_exp, both signs */
    double m = 1.0 + (double)(rng_next() >> 11) * 0x1p-53;
    double v = ldexp(m, i / PER_BINADE - 1074);
    x[ns + 2 * i] = v;
    x[ns + 2 * i + 1] = -v;
  }
  c->fn(x, y, n);
  double worst = 0.0, worst_x = 0.0;
  int64_t bad_special = 0, bad_ulp = 0;
  for (int i = 0; i < n; i++) {
    double lib = c->lib(x[i]);
    if (isnan(lib) || isinf(lib) || lib == 0.0) {
      bool same = isnan(lib) ? isnan(y[i]) : bits_of(lib) == bits_of(y[i]);
      if (!same && bad_special++ < 5)
        fprintf(stderr, "  %s[%s](%a) = %a, libm %a\n", c->name, isa, x[i], y[i], lib);
      continue;
    }
    double err = ulp_err(y[i], c->ref((long double)x[i]));
    if (err > worst) worst = err, worst_x = x[i];
    if (err > c->max_ulp && bad_ulp++ < 5)
      fprintf(stderr, "  %s[%s](%a) = %a, exact %.21Lg (%.3f ulp)\n", c->name, isa, x[i], y[i],
              c->ref((long double)x[i]), err);
  }
  fprintf(stderr, "  %-6s %-9s worst %.3f ulp at %a\n", c->name, isa, worst, worst_x);
  CHECK(bad_special == 0);
  CHECK(bad_ulp == 0);
  free(x);
  free(y);
}

static void test_vmath64_accuracy(void) {
  int top = mx_vm_set_level(2);
  for (int level = top; level >= 0; level--) {
    if (mx_vm_set_level(level) != level) continue;
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++)
      check_case(&cases[k], mx_vm_isa());
  }
  mx_vm_set_level(2);
}

/* An element's result does not depend on its position, the length, or x == y. */
static void test_vmath64_position(void) {
  enum { N = 53 };
  double x[N + 1], whole[N], one[1], shifted[N + 1], inplace[N];
  for (int i = 0; i < N; i++) x[i] = ((double)(rng_next() >> 11) * 0x1p-53 - 0.5) * 60.0;
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    const vm64_case *c = &cases[k];
    c->fn(x, whole, N);
    memcpy(shifted + 1, x, sizeof(double) * N);
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
  RUN(test_vmath64_position);
  RUN(test_vmath64_accuracy);
  return check_failures;
}
