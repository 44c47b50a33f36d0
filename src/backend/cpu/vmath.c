/* vmath.c: the float32 functions of vmath.h. Each element is widened to double, reduced
 * (exp: x = n ln2 + r; log: x = 2^e m; sin/cos: x = n pi/2 + r) and evaluated with
 * polynomials accurate to ~1e-13, then rounded once to float; special values are selected
 * at the end. Loops run over fixed blocks (a short tail is padded into a block), so every
 * element takes the same instructions wherever it sits in the array. Built with
 * -fno-trapping-math -fno-math-errno (CMakeLists.txt) so that selects vectorise. */
#include "vmath.h"
#include "vm_loop.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define VM_INLINE static inline __attribute__((always_inline))
#define VM_BLOCK 16

static const double VM_SHIFT = 0x1.8p52; /* adding it rounds a double to an integer */
static const double VM_LOG2E = 1.4426950408889634;
static const double VM_LN2 = 0.6931471805599453;
static const double VM_LN2_HI = 6.93147180369123816490e-01; /* leading bits: n*hi is exact */
static const double VM_LN2_LO = 1.90821492927058770002e-10;

VM_INLINE int64_t vm_bits(double d) {
  int64_t i;
  memcpy(&i, &d, sizeof i);
  return i;
}
VM_INLINE double vm_double(int64_t i) {
  double d;
  memcpy(&d, &i, sizeof d);
  return d;
}

/* e^r - 1 for |r| <= ln2/2: r + r^2 g(r), g a degree-6 least-squares fit on Chebyshev
 * nodes (relative error 1.1e-11). */
VM_INLINE double vm_expm1_poly(double r) {
  double g = 2.4867871654885214e-05;
  g = g * r + 0.000198992795390452;
  g = g * r + 0.001388883911025723;
  g = g * r + 0.008333298476371546;
  g = g * r + 0.04166666678624967;
  g = g * r + 0.1666666671901669;
  g = g * r + 0.4999999999995519;
  return r + r * r * g;
}

/* x = n ln2 + r with |r| <= ln2/2 (|x| < 2^30): returns r, and n as a double and an int. */
VM_INLINE double vm_exp_reduce(double x, double *nd, int64_t *ni) {
  double t = x * VM_LOG2E + VM_SHIFT;
  *nd = t - VM_SHIFT;
  *ni = vm_bits(t) - vm_bits(VM_SHIFT);
  return (x - *nd * VM_LN2_HI) - *nd * VM_LN2_LO;
}

/* 2^n for integer n in the normal double range */
VM_INLINE double vm_pow2(int64_t n) { return vm_double((int64_t)((uint64_t)(n + 1023) << 52)); }

/* e^x for x in [-700, 700] */
VM_INLINE double vm_exp_d(double x) {
  double nd;
  int64_t n;
  double q = vm_expm1_poly(vm_exp_reduce(x, &nd, &n));
  return vm_double(vm_bits(1.0 + q) + (int64_t)((uint64_t)n << 52));
}

/* e^x - 1 for x in [-700, 700], accurate relative to the result near 0 */
VM_INLINE double vm_expm1_d(double x) {
  double nd;
  int64_t n;
  double q = vm_expm1_poly(vm_exp_reduce(x, &nd, &n));
  double s = vm_pow2(n);
  return nd == 0.0 ? q : s * q + (s - 1.0);
}

/* log(m) and e with x = 2^e m, m in [sqrt(1/2), sqrt(2)), for finite x > 0:
 * log(1+f) = 2s + s R(s^2) with s = f/(2+f), arranged as f - (f^2/2 - s (f^2/2 + R)). */
VM_INLINE double vm_log_m(double x, double *e) {
  int64_t ix = vm_bits(x);
  int64_t k = (ix - 0x3fe6a09e667f3bcdLL) >> 52;
  double m = vm_double(ix - (int64_t)((uint64_t)k << 52));
  *e = vm_double(k + vm_bits(VM_SHIFT)) - VM_SHIFT;
  double f = m - 1.0, s = f / (2.0 + f), z = s * s;
  double R = 2.0 / 15;
  R = R * z + 2.0 / 13;
  R = R * z + 2.0 / 11;
  R = R * z + 2.0 / 9;
  R = R * z + 2.0 / 7;
  R = R * z + 2.0 / 5;
  R = R * z + 2.0 / 3;
  R *= z;
  double hfsq = 0.5 * f * f;
  return f - (hfsq - s * (hfsq + R));
}

/* ---- the element functions ---- */

VM_INLINE float vm_exp1(float xf) {
  double x = xf;
  x = x > 89.0 ? 89.0 : x; /* beyond: the float result is inf or 0 already */
  x = x < -104.0 ? -104.0 : x;
  float y = (float)vm_exp_d(x);
  return xf != xf ? xf + xf : y;
}

VM_INLINE float vm_expm1_1(float xf) {
  double x = xf;
  x = x > 89.0 ? 89.0 : x;
  x = x < -104.0 ? -104.0 : x;
  float y = (float)vm_expm1_d(x);
  return xf != xf ? xf + xf : (xf == 0.0f ? xf : y);
}

/* log family: `which` 0 = ln, 1 = log2, 2 = log10; log1p goes through ln(u) + correction */
VM_INLINE double vm_log_any(double x, int which) {
  double e, L = vm_log_m(x, &e);
  if (which == 1) return e + L * 1.4426950408889634;
  if (which == 2) return e * 0.30102999566398120 + L * 0.43429448190325176;
  return e * VM_LN2 + L;
}

VM_INLINE float vm_log_special(float xf, float y) {
  if (xf != xf) return xf + xf;
  y = xf == INFINITY ? INFINITY : y;
  y = xf == 0.0f ? -INFINITY : y;
  return xf < 0.0f ? NAN : y;
}

VM_INLINE float vm_log_f(float xf, int which) {
  bool ok = xf > 0.0f && xf < INFINITY;
  float y = (float)vm_log_any(ok ? (double)xf : 1.0, which);
  return vm_log_special(xf, y);
}

VM_INLINE float vm_log1(float xf) { return vm_log_f(xf, 0); }
VM_INLINE float vm_log2_1(float xf) { return vm_log_f(xf, 1); }
VM_INLINE float vm_log10_1(float xf) { return vm_log_f(xf, 2); }

VM_INLINE float vm_log1p_1(float xf) {
  bool ok = xf > -1.0f && xf < INFINITY;
  double x = ok ? (double)xf : 0.0;
  double u = 1.0 + x, c = (x - (u - 1.0)) / u; /* what rounding 1 + x lost */
  float y = (float)(vm_log_any(u, 0) + c);
  if (xf != xf) return xf + xf;
  y = xf == INFINITY ? INFINITY : y;
  y = xf == -1.0f ? -INFINITY : y;
  y = xf == 0.0f ? xf : y;
  return xf < -1.0f ? NAN : y;
}

/* sin and cos: x = n pi/2 + r, |r| <= pi/4, for |x| < 2^20 (larger |x| is fixed up with
 * the scalar libm call); pi/2 in three parts, the first two short enough that n * part
 * is exact. */
#define VM_TRIG_LIMIT 0x1p20f

VM_INLINE double vm_trig_reduce(double x, int64_t *q) {
  double t = x * 0.63661977236758134 + VM_SHIFT;
  double nd = t - VM_SHIFT;
  *q = vm_bits(t) - vm_bits(VM_SHIFT);
  return ((x - nd * 1.57079632673412561417e+00) - nd * 6.07710050630396597660e-11) -
         nd * 2.02226624871116645580e-21;
}

VM_INLINE double vm_sin_poly(double r) { /* Taylor to r^13 */
  double z = r * r, p = 1.6059043836821613e-10;
  p = p * z - 2.505210838544172e-08;
  p = p * z + 2.7557319223985893e-06;
  p = p * z - 1.984126984126984e-04;
  p = p * z + 8.333333333333333e-03;
  p = p * z - 0.16666666666666666;
  return r + r * z * p;
}

VM_INLINE double vm_cos_poly(double r) { /* Taylor to r^14 */
  double z = r * r, p = -1.1470745597729725e-11;
  p = p * z + 2.08767569878681e-09;
  p = p * z - 2.755731922398589e-07;
  p = p * z + 2.48015873015873e-05;
  p = p * z - 1.388888888888889e-03;
  p = p * z + 4.1666666666666664e-02;
  p = p * z - 0.5;
  return 1.0 + z * p;
}

VM_INLINE float vm_trig(float xf, int cosine) {
  bool ok = fabsf(xf) < VM_TRIG_LIMIT;
  int64_t q;
  double r = vm_trig_reduce(ok ? (double)xf : 0.0, &q);
  double s = vm_sin_poly(r), c = vm_cos_poly(r);
  q += cosine;
  double v = (q & 1) ? c : s;
  v = (q & 2) ? -v : v;
  float y = (float)v;
  if (xf != xf) return xf + xf;
  y = ok ? y : NAN; /* inf; finite large values are replaced by the caller's fix-up */
  return (!cosine && xf == 0.0f) ? xf : y;
}

VM_INLINE float vm_sin1(float xf) { return vm_trig(xf, 0); }
VM_INLINE float vm_cos1(float xf) { return vm_trig(xf, 1); }

/* tanh in float arithmetic (within 2 ulp, not always correctly rounded; MLX's own tanh is
 * not either): |x| < 0.625: x + x^3 P(x^2), P a degree-5 least-squares fit (0.05 ulp);
 * else 1 - 2 / (e^{2|x|} + 1) with a float e^t (Cody-Waite by ln 2, Cephes' degree-6
 * polynomial). |x| >= 9.1 gives 1 (the float result rounds to it from 9.02 on). */
VM_INLINE float vm_tanh1(float xf) {
  float a = fabsf(xf);
  a = a > 9.1f ? 9.1f : a;
  float z = a * a;
  float p = 0.002148957457393408f;
  p = p * z - 0.00818463321775198f;
  p = p * z + 0.021703990176320076f;
  p = p * z - 0.05394745245575905f;
  p = p * z + 0.13333211839199066f;
  p = p * z - 0.3333333134651184f;
  float small = a + a * z * p;
  float t = a + a;
  float n = (t * 1.44269504088896341f + 0x1.8p23f) - 0x1.8p23f; /* round to an integer */
  float r = (t - n * 0.693359375f) + n * 2.12194440e-4f;
  float q = 1.9875691500e-4f;
  q = q * r + 1.3981999507e-3f;
  q = q * r + 8.3334519073e-3f;
  q = q * r + 4.1665795894e-2f;
  q = q * r + 1.6666665459e-1f;
  q = q * r + 5.0000001201e-1f;
  q = q * r * r + r + 1.0f;
  int32_t ni = (int32_t)n;
  uint32_t sb = (uint32_t)(ni + 127) << 23;
  float sc;
  memcpy(&sc, &sb, sizeof sc);
  float big = 1.0f - 2.0f / (q * sc + 1.0f);
  float y = copysignf(a < 0.625f ? small : big, xf);
  return xf != xf ? xf + xf : y;
}

/* erf: |x| < 0.85: x P(x^2) (Taylor, 13 terms); else 1 - e^{-x^2} erfcx(|x|) with erfcx a
 * degree-12 least-squares fit around 1.425 (|x| < 2) or 3.25 (|x| up to 4.5; beyond that
 * erf rounds to 1 in float). */
static const double vm_erf_small[13] = {
    1.1283791670955126,    -0.37612638903183754,   0.11283791670955126,
    -0.026866170645131252, 0.005223977625442188,   -0.0008548327023450852,
    0.00012055332981789664, -1.492565035840625e-05, 1.6462114365889246e-06,
    -1.6365844691234924e-07, 1.4807192815879218e-08, -1.2290555301717926e-09,
    9.422759064650411e-11};
static const double vm_erfcx_a[13] = {
    0.3342998134329164,     -0.17562469880809412,  0.08403461762225514,
    -0.037250246104146796,  0.015476508872378295,  -0.006078480946449654,
    0.0022715508325553612,  -0.0008119404394543688, 0.0002786914510398981,
    -9.17886292561009e-05,  2.933438692192159e-05, -1.0034214552776718e-05,
    3.022750209866011e-06};
static const double vm_erfcx_b[13] = {
    0.16633534842798886,    -0.04719940222920063,  0.012937290810183789,
    -0.0034354729383550427, 0.0008860053184113539, -0.00022237426122739438,
    5.441759008946777e-05,  -1.3022626940333651e-05, 3.0439153934909844e-06,
    -6.764471550781805e-07, 1.5121794400478294e-07, -4.347388997782889e-08,
    9.479276284491224e-09};

VM_INLINE float vm_erf1(float xf) {
  double a = fabs((double)xf);
  a = a > 4.5 ? 4.5 : a;
  double z = a * a, ps = vm_erf_small[12];
  for (int k = 11; k >= 0; k--) ps = ps * z + vm_erf_small[k];
  bool hi = a >= 2.0;
  double u = a - (hi ? 3.25 : 1.425), pb = hi ? vm_erfcx_b[12] : vm_erfcx_a[12];
  for (int k = 11; k >= 0; k--) pb = pb * u + (hi ? vm_erfcx_b[k] : vm_erfcx_a[k]);
  double y = a < 0.85 ? a * ps : 1.0 - vm_exp_d(-z) * pb;
  float r = copysignf((float)y, xf);
  return xf != xf ? xf + xf : r;
}

/* sigmoid in float arithmetic around exp, as formulas.h writes it */
VM_INLINE float vm_sigmoid1(float xf) {
  float v = vm_exp1(xf < 0.0f ? xf : -xf);
  float y = 1.0f / (1.0f + v);
  return xf < 0.0f ? 1.0f - y : y;
}

#define vm_exp_1 vm_exp1
#define vm_log_1 vm_log1
#define vm_sin_1 vm_sin1
#define vm_cos_1 vm_cos1
#define vm_tanh_1 vm_tanh1
#define vm_erf_1 vm_erf1
#define vm_sigmoid_1 vm_sigmoid1

/* sin/cos of finite |x| >= 2^20 need a long reduction: those few go to libm */
VM_INLINE void vm_fixup_none(const float *x, float *t, int n) { (void)x, (void)t, (void)n; }
VM_INLINE void vm_fixup_sin(const float *x, float *t, int n) {
  for (int k = 0; k < n; k++)
    if (fabsf(x[k]) >= VM_TRIG_LIMIT && fabsf(x[k]) < INFINITY) t[k] = sinf(x[k]);
}
VM_INLINE void vm_fixup_cos(const float *x, float *t, int n) {
  for (int k = 0; k < n; k++)
    if (fabsf(x[k]) >= VM_TRIG_LIMIT && fabsf(x[k]) < INFINITY) t[k] = cosf(x[k]);
}
#define vm_fixup_exp vm_fixup_none
#define vm_fixup_expm1 vm_fixup_none
#define vm_fixup_log vm_fixup_none
#define vm_fixup_log1p vm_fixup_none
#define vm_fixup_log2 vm_fixup_none
#define vm_fixup_log10 vm_fixup_none
#define vm_fixup_tanh vm_fixup_none
#define vm_fixup_erf vm_fixup_none
#define vm_fixup_sigmoid vm_fixup_none



/* ---- dispatch ---- */

static int vm_level = -1; /* 2 avx512, 1 avx2, 0 baseline; set before any kernel runs */

static int vm_detect(void) {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
      __builtin_cpu_supports("avx512vl"))
    return 2;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return 1;
  return 0;
}

/* MLX_VMATH_ISA=avx2|baseline caps the choice (for testing each build of the loops). */
__attribute__((constructor)) static void vm_init(void) {
  int lvl = vm_detect();
  const char *env = getenv("MLX_VMATH_ISA");
  if (env && strcmp(env, "baseline") == 0) lvl = 0;
  else if (env && strcmp(env, "avx2") == 0 && lvl > 1) lvl = 1;
  vm_level = lvl;
}

int mx_vm_set_level(int level) {
  int best = vm_detect();
  vm_level = level < best ? (level < 0 ? 0 : level) : best;
  return vm_level;
}

int mx_vm_level(void) {
  if (vm_level < 0) vm_init();
  return vm_level;
}

const char *mx_vm_isa(void) {
  if (vm_level < 0) vm_init();
  return vm_level == 2 ? "avx512f" : vm_level == 1 ? "avx2" : "baseline";
}

/* One loop per (function, instruction set) and the entry that picks one. */
#define VM_DEFINE(stem) MX_VM_DEFINE(vm, float, VM_BLOCK, stem, mx_vm_##stem##_f32)
MX_VM_STEMS(VM_DEFINE)
