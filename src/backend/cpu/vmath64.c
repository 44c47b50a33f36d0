/* vmath64.c: the float64 functions of vmath.h. exp/expm1: x = n ln2 + r (r kept as two
 * doubles), Taylor polynomials to r^13; log/log1p: x = 2^k m, log(1+f) = 2s + s R(s^2) with
 * s = f/(2+f) (denormal inputs of log go to libm); sin/cos: x = n pi/2 + r (pi/2 in three
 * parts, r as two doubles), |x| >= 2^19 left to libm; tanh = E/(E+2) with E = expm1(2|x|).
 * Same block loops and dispatch as vmath.c; built with -fno-trapping-math -fno-math-errno
 * so that selects vectorise. */
#include <math.h>
#include <stdbool.h>
#include <string.h>

#include "vm_loop.h"
#include "vmath.h"

#define V64_INLINE static inline __attribute__((always_inline))
#define V64_BLOCK 8

static const double V64_SHIFT = 0x1.8p52;
static const double V64_LN2_HI = 6.93147180369123816490e-01; /* 32 bits: n * hi is exact */
static const double V64_LN2_LO = 1.90821492927058770002e-10;

V64_INLINE int64_t v64_bits(double d) {
  int64_t i;
  memcpy(&i, &d, sizeof i);
  return i;
}
V64_INLINE double v64_double(int64_t i) {
  double d;
  memcpy(&d, &i, sizeof d);
  return d;
}
/* 2^n for n in [-1022, 1024] (1024 gives inf) */
V64_INLINE double v64_pow2(int64_t n) { return v64_double((int64_t)((uint64_t)(n + 1023) << 52)); }

/* (e^r - 1 - r) / r^2 for |r| <= ln2/2: Taylor to r^13 (truncation below 1e-17) */
V64_INLINE double v64_expm1_g(double r) {
  double g = 1.0 / 6227020800.0;
  g = g * r + 1.0 / 479001600.0;
  g = g * r + 1.0 / 39916800.0;
  g = g * r + 1.0 / 3628800.0;
  g = g * r + 1.0 / 362880.0;
  g = g * r + 1.0 / 40320.0;
  g = g * r + 1.0 / 5040.0;
  g = g * r + 1.0 / 720.0;
  g = g * r + 1.0 / 120.0;
  g = g * r + 1.0 / 24.0;
  g = g * r + 1.0 / 6.0;
  return g * r + 0.5;
}

/* e^x - 1 = 2^n (1 + r + ql) - 1 for |x| < 2^30: returns r (|r| <= ln2/2), ql (the rest of
 * e^r - 1, with what rounding r lost) and n */
V64_INLINE double v64_expm1_parts(double x, int64_t *n, double *ql) {
  double t = x * 1.4426950408889634 + V64_SHIFT;
  double nd = t - V64_SHIFT;
  *n = v64_bits(t) - v64_bits(V64_SHIFT);
  double hi = x - nd * V64_LN2_HI, lo = nd * V64_LN2_LO;
  double r = hi - lo, c = (hi - r) - lo;
  *ql = r * r * v64_expm1_g(r) + c;
  return r;
}

/* 2^n (1 + r + ql) - 1 for n <= 60, summed so that n = 0 and n = 1 round once */
V64_INLINE double v64_expm1_join(int64_t n, double r, double ql) {
  double s = v64_pow2(n);
  return ((s - 1.0) + s * r) + s * ql;
}

V64_INLINE double v64_exp1(double x) {
  double xc = x > 709.8 ? 709.8 : x; /* beyond: inf or 0 */
  xc = xc < -745.2 ? -745.2 : xc;
  int64_t n;
  double ql, r = v64_expm1_parts(xc, &n, &ql);
  int64_t n1 = n >> 1; /* 2^n in two factors: its extremes are no double */
  double y = (1.0 + (r + ql)) * v64_pow2(n1) * v64_pow2(n - n1);
  return x != x ? x + x : y;
}

V64_INLINE double v64_expm1_1(double x) {
  double xc = x > 709.8 ? 709.8 : x;
  xc = xc < -40.0 ? -40.0 : xc; /* below, the double result is -1 */
  int64_t n;
  double ql, r = v64_expm1_parts(xc, &n, &ql);
  int64_t n1 = n >> 1;
  double big = (1.0 + (r + ql)) * v64_pow2(n1) * v64_pow2(n - n1); /* e^x: the -1 is lost */
  double small = v64_expm1_join(n < 60 ? n : 60, r, ql);
  double y = xc > 40.0 ? big : small;
  y = x == 0.0 ? x : y;
  return x != x ? x + x : y;
}

/* log of a normal x > 0 (denormal inputs of log are fixed up with libm): R(z)/z a degree-6
 * Chebyshev economisation of sum 2 z^k/(2k+3) on z <= 0.02946 (relative error 1.3e-15, ~1e-17
 * in the log), evaluated by Estrin's scheme (a short dependency chain) */
V64_INLINE double v64_log_pos(double x) {
  int64_t ix = v64_bits(x);
  int64_t k = (ix - 0x3fe6a09e667f3bcdLL) >> 52;
  double m = v64_double(ix - (int64_t)((uint64_t)k << 52));
  double kd = v64_double(k + v64_bits(V64_SHIFT)) - V64_SHIFT; /* exact int64 -> double */
  double f = m - 1.0, s = f / (2.0 + f), z = s * s, z2 = z * z;
  double R = (0.6666666666666667 + 0.399999999998894 * z) +
             z2 * (0.28571428629215906 + 0.22222210708634105 * z) +
             (z2 * z2) * ((0.1818291564964436 + 0.1533094154175355 * z) +
                          z2 * 0.14625182401608483);
  R *= z;
  double hfsq = 0.5 * f * f;
  return kd * V64_LN2_HI + (f - (hfsq - (s * (hfsq + R) + kd * V64_LN2_LO)));
}

V64_INLINE double v64_log1(double x) {
  bool ok = x > 0.0 && x < INFINITY;
  double y = v64_log_pos(ok ? x : 1.0);
  y = x == INFINITY ? x : y;
  y = x == 0.0 ? -INFINITY : y;
  y = x < 0.0 ? NAN : y;
  return x != x ? x + x : y;
}

V64_INLINE double v64_log1p_1(double x) {
  bool ok = x > -1.0 && x < INFINITY;
  double xc = ok ? x : 0.0;
  double u = 1.0 + xc, c = (xc - (u - 1.0)) / u; /* what rounding 1 + x lost */
  double y = v64_log_pos(u) + c;
  y = fabs(x) < 0x1p-30 ? x - 0.5 * x * x : y; /* there log(u) + c would cancel */
  y = x == INFINITY ? x : y;
  y = x == -1.0 ? -INFINITY : y;
  y = x == 0.0 ? x : y;
  y = x < -1.0 ? NAN : y;
  return x != x ? x + x : y;
}

/* sin and cos: x = n pi/2 + r + rl, |r| <= pi/4, for |x| < 2^19 (n * the first two parts of
 * pi/2, 33 bits each, are exact; the third is the double nearest the rest); larger finite |x|
 * are fixed up with libm. */
#define V64_TRIG_LIMIT 0x1p19

V64_INLINE void v64_trig(double x, int cosine, double *out) {
  bool ok = fabs(x) < V64_TRIG_LIMIT;
  double xc = ok ? x : 0.0;
  double t = xc * 0.63661977236758134 + V64_SHIFT;
  double nd = t - V64_SHIFT;
  int64_t q = v64_bits(t) - v64_bits(V64_SHIFT) + cosine;
  double a = xc - nd * 1.57079632673412561417e+00; /* exact */
  double b = nd * 6.07710050630396597660e-11;      /* exact */
  double r1 = a - b, bv = a - r1, av = a - (r1 + bv); /* two-sum of a and -b */
  double tail = (av - (b - bv)) - nd * 2.02226624879595063154e-21; /* pi/2 - both parts */
  double r = r1 + tail, rl = (r1 - r) + tail;
  double z = r * r;
  double ps = 1.0 / 355687428096000.0; /* sin: r + r z P(z), Taylor to r^17 */
  ps = ps * z - 1.0 / 1307674368000.0;
  ps = ps * z + 1.0 / 6227020800.0;
  ps = ps * z - 1.0 / 39916800.0;
  ps = ps * z + 1.0 / 362880.0;
  ps = ps * z - 1.0 / 5040.0;
  ps = ps * z + 1.0 / 120.0;
  ps = ps * z - 1.0 / 6.0;
  double sn = r + (r * z * ps + rl);
  double pc = 1.0 / 6402373705728000.0; /* cos: 1 - z/2 + z^2 Q(z), Taylor to r^18 */
  pc = pc * z - 1.0 / 20922789888000.0;
  pc = pc * z + 1.0 / 87178291200.0;
  pc = pc * z - 1.0 / 479001600.0;
  pc = pc * z + 1.0 / 3628800.0;
  pc = pc * z - 1.0 / 40320.0;
  pc = pc * z + 1.0 / 720.0;
  pc = pc * z - 1.0 / 24.0;
  double hz = 0.5 * z, w = 1.0 - hz;
  double cs = w + (((1.0 - w) - hz) + (z * z * -pc - r * rl));
  double v = (q & 1) ? cs : sn;
  v = (q & 2) ? -v : v;
  v = ok ? v : NAN; /* inf; finite large values are replaced by the fix-up */
  v = (!cosine && x == 0.0) ? x : v;
  *out = x != x ? x + x : v;
}

V64_INLINE double v64_sin1(double x) {
  double y;
  v64_trig(x, 0, &y);
  return y;
}
V64_INLINE double v64_cos1(double x) {
  double y;
  v64_trig(x, 1, &y);
  return y;
}

/* tanh a = E / (E + 2), E = expm1(2a), a = min(|x|, 22) (the result is 1 from 19.1 on); the
 * rounding of E + 2 (d + dl, two-sum) is taken back through 1/(E + 2) = (1 - y) / 2. */
V64_INLINE double v64_tanh1(double x) {
  double a = fabs(x);
  a = a > 22.0 ? 22.0 : a;
  int64_t n;
  double ql, r = v64_expm1_parts(a + a, &n, &ql);
  double e = v64_expm1_join(n, r, ql);
  double d = e + 2.0;
  double hi = e > 2.0 ? e : 2.0, lo = e > 2.0 ? 2.0 : e;
  double dl = (hi - d) + lo;
  double y = e / d;
  y = y - (y * dl) * ((1.0 - y) * 0.5);
  y = copysign(y, x);
  return x != x ? x + x : y;
}

#define v64_exp_1 v64_exp1
#define v64_log_1 v64_log1
#define v64_sin_1 v64_sin1
#define v64_cos_1 v64_cos1
#define v64_tanh_1 v64_tanh1

V64_INLINE void v64_fixup_none(const double *x, double *t, int n) { (void)x, (void)t, (void)n; }
V64_INLINE void v64_fixup_sin(const double *x, double *t, int n) {
  for (int k = 0; k < n; k++)
    if (fabs(x[k]) >= V64_TRIG_LIMIT && fabs(x[k]) < INFINITY) t[k] = sin(x[k]);
}
V64_INLINE void v64_fixup_cos(const double *x, double *t, int n) {
  for (int k = 0; k < n; k++)
    if (fabs(x[k]) >= V64_TRIG_LIMIT && fabs(x[k]) < INFINITY) t[k] = cos(x[k]);
}
V64_INLINE void v64_fixup_log(const double *x, double *t, int n) {
  for (int k = 0; k < n; k++)
    if (x[k] > 0.0 && x[k] < 0x1p-1022) t[k] = log(x[k]);
}
#define v64_fixup_exp v64_fixup_none
#define v64_fixup_expm1 v64_fixup_none
#define v64_fixup_log1p v64_fixup_none
#define v64_fixup_tanh v64_fixup_none

/* One loop per (function, instruction set) and the entry that picks one. */
#define V64_DEFINE(stem) MX_VM_DEFINE(v64, double, V64_BLOCK, stem, mx_vm_##stem##_f64)
MX_VM64_STEMS(V64_DEFINE)
