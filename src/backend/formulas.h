/* formulas.h: the scalar formula of every unary/binary/compare/ternary family member of
 * tables/prims.def, the reduction identities and combines (mx_reduce_kind), the astype
 * conversions and the Threefry-2x32-20 hash, written once for the CPU kernels, CUDA and
 * NVRTC (DESIGN section 6): C11/CUDA C++ common subset, MX_HD static inline. Depends on
 * common.h, half.h and param_enums.h only.
 *
 * Naming: mx_f_<stem>_<sfx>(...) is the formula of the prims.def stem for one compute class;
 * MX_F_<stem>_TYPES(X, a) lists the dtype suffixes it supports as X(a, sfx). float16 and
 * bfloat16 compute in float (their formula suffix is f32); select works on storage types.
 * Suffixes: b u8 u16 u32 u64 i8 i16 i32 i64 f16 f32 f64 bf16 c64. */
#ifndef MX_FORMULAS_H
#define MX_FORMULAS_H

#include "common.h"
#include "dtype.h"
#include "half.h"
#include "param_enums.h"

#if !defined(__CUDACC_RTC__)
#include <math.h>
#elif !defined(INFINITY) /* NVRTC has the math functions built in, not math.h's macros */
#define INFINITY __int_as_float(0x7f800000)
#define NAN __int_as_float(0x7fffffff)
#endif

#define MX_CAT_(a, b) a##b
#define MX_CAT(a, b) MX_CAT_(a, b)

/* ---- per-suffix traits ----
 * MX_ST_x storage type, MX_CT_x compute type, MX_FS_x formula suffix, MX_LD_x/MX_SV_x
 * storage->compute and compute->storage, MX_DT_x the dtype enum, MX_SC_x the source class
 * of astype conversions (b, i = widened to int64, u = widened to uint64, f, d, c). */
#define MX_ST_b bool
#define MX_ST_u8 uint8_t
#define MX_ST_u16 uint16_t
#define MX_ST_u32 uint32_t
#define MX_ST_u64 uint64_t
#define MX_ST_i8 int8_t
#define MX_ST_i16 int16_t
#define MX_ST_i32 int32_t
#define MX_ST_i64 int64_t
#define MX_ST_f16 mx_f16
#define MX_ST_f32 float
#define MX_ST_f64 double
#define MX_ST_bf16 mx_bf16
#define MX_ST_c64 mx_c64

#define MX_CT_b bool
#define MX_CT_u8 uint8_t
#define MX_CT_u16 uint16_t
#define MX_CT_u32 uint32_t
#define MX_CT_u64 uint64_t
#define MX_CT_i8 int8_t
#define MX_CT_i16 int16_t
#define MX_CT_i32 int32_t
#define MX_CT_i64 int64_t
#define MX_CT_f16 float
#define MX_CT_f32 float
#define MX_CT_f64 double
#define MX_CT_bf16 float
#define MX_CT_c64 mx_c64

#define MX_FS_b b
#define MX_FS_u8 u8
#define MX_FS_u16 u16
#define MX_FS_u32 u32
#define MX_FS_u64 u64
#define MX_FS_i8 i8
#define MX_FS_i16 i16
#define MX_FS_i32 i32
#define MX_FS_i64 i64
#define MX_FS_f16 f32
#define MX_FS_f32 f32
#define MX_FS_f64 f64
#define MX_FS_bf16 f32
#define MX_FS_c64 c64

#define MX_LD_b(v) (v)
#define MX_LD_u8(v) (v)
#define MX_LD_u16(v) (v)
#define MX_LD_u32(v) (v)
#define MX_LD_u64(v) (v)
#define MX_LD_i8(v) (v)
#define MX_LD_i16(v) (v)
#define MX_LD_i32(v) (v)
#define MX_LD_i64(v) (v)
#define MX_LD_f16(v) mx_f16_to_f32(v)
#define MX_LD_f32(v) (v)
#define MX_LD_f64(v) (v)
#define MX_LD_bf16(v) mx_bf16_to_f32(v)
#define MX_LD_c64(v) (v)

#define MX_SV_b(v) (v)
#define MX_SV_u8(v) (v)
#define MX_SV_u16(v) (v)
#define MX_SV_u32(v) (v)
#define MX_SV_u64(v) (v)
#define MX_SV_i8(v) (v)
#define MX_SV_i16(v) (v)
#define MX_SV_i32(v) (v)
#define MX_SV_i64(v) (v)
#define MX_SV_f16(v) mx_f32_to_f16(v)
#define MX_SV_f32(v) (v)
#define MX_SV_f64(v) (v)
#define MX_SV_bf16(v) mx_f32_to_bf16(v)
#define MX_SV_c64(v) (v)

#define MX_DT_b MX_BOOL
#define MX_DT_u8 MX_UINT8
#define MX_DT_u16 MX_UINT16
#define MX_DT_u32 MX_UINT32
#define MX_DT_u64 MX_UINT64
#define MX_DT_i8 MX_INT8
#define MX_DT_i16 MX_INT16
#define MX_DT_i32 MX_INT32
#define MX_DT_i64 MX_INT64
#define MX_DT_f16 MX_FLOAT16
#define MX_DT_f32 MX_FLOAT32
#define MX_DT_f64 MX_FLOAT64
#define MX_DT_bf16 MX_BFLOAT16
#define MX_DT_c64 MX_COMPLEX64

#define MX_SC_b b
#define MX_SC_u8 u
#define MX_SC_u16 u
#define MX_SC_u32 u
#define MX_SC_u64 u
#define MX_SC_i8 i
#define MX_SC_i16 i
#define MX_SC_i32 i
#define MX_SC_i64 i
#define MX_SC_f16 f
#define MX_SC_f32 f
#define MX_SC_f64 d
#define MX_SC_bf16 f
#define MX_SC_c64 c

/* The formula of `stem` for dtype suffix `sfx` (f16/bf16 resolve to the f32 formula). */
#define MX_FN(stem, sfx) MX_CAT(mx_f_##stem##_, MX_FS_##sfx)

/* Every dtype suffix, X(a, sfx). Two copies so that one can be nested inside the other. */
#define MX_DTYPE_SFX_LIST(X, a) \
  X(a, b) X(a, u8) X(a, u16) X(a, u32) X(a, u64) X(a, i8) X(a, i16) X(a, i32) X(a, i64) \
  X(a, f16) X(a, f32) X(a, f64) X(a, bf16) X(a, c64)
#define MX_DTYPE_SFX_LIST2(X, a) \
  X(a, b) X(a, u8) X(a, u16) X(a, u32) X(a, u64) X(a, i8) X(a, i16) X(a, i32) X(a, i64) \
  X(a, f16) X(a, f32) X(a, f64) X(a, bf16) X(a, c64)

#define MX_INT_SFX(X, a) \
  X(a, u8) X(a, u16) X(a, u32) X(a, u64) X(a, i8) X(a, i16) X(a, i32) X(a, i64)
#define MX_FLOAT_SFX(X, a) X(a, f16) X(a, f32) X(a, f64) X(a, bf16)

/* ---- which dtypes each family member accepts (the op layer promotes before) ---- */
#define MX_F_abs_TYPES(X, a) X(a, b) MX_INT_SFX(X, a) MX_FLOAT_SFX(X, a) X(a, c64)
#define MX_F_negative_TYPES(X, a) MX_INT_SFX(X, a) MX_FLOAT_SFX(X, a) X(a, c64)
#define MX_F_exp_TYPES(X, a) MX_FLOAT_SFX(X, a) X(a, c64)
#define MX_F_log_TYPES(X, a) MX_FLOAT_SFX(X, a) X(a, c64)
#define MX_F_sqrt_TYPES(X, a) MX_FLOAT_SFX(X, a) X(a, c64)
#define MX_F_erfinv_TYPES(X, a) MX_FLOAT_SFX(X, a)
#define MX_F_floor_TYPES(X, a) X(a, b) MX_INT_SFX(X, a) MX_FLOAT_SFX(X, a)
#define MX_F_sign_TYPES(X, a) X(a, b) MX_INT_SFX(X, a) MX_FLOAT_SFX(X, a) X(a, c64)
#define MX_F_copy_TYPES(X, a) MX_DTYPE_SFX_LIST(X, a)
#define MX_F_astype_TYPES(X, a) MX_DTYPE_SFX_LIST(X, a)

#define MX_F_add_TYPES(X, a) MX_DTYPE_SFX_LIST(X, a)
#define MX_F_subtract_TYPES(X, a) MX_DTYPE_SFX_LIST(X, a)
#define MX_F_multiply_TYPES(X, a) MX_DTYPE_SFX_LIST(X, a)
#define MX_F_divide_TYPES(X, a) MX_DTYPE_SFX_LIST(X, a)
#define MX_F_maximum_TYPES(X, a) MX_DTYPE_SFX_LIST(X, a)
#define MX_F_minimum_TYPES(X, a) MX_DTYPE_SFX_LIST(X, a)

/* comparisons: inputs of one dtype, bool output */
#define MX_F_equal_TYPES(X, a) MX_DTYPE_SFX_LIST(X, a)
#define MX_F_not_equal_TYPES(X, a) MX_DTYPE_SFX_LIST(X, a)
#define MX_F_less_TYPES(X, a) MX_DTYPE_SFX_LIST(X, a)
#define MX_F_less_equal_TYPES(X, a) MX_DTYPE_SFX_LIST(X, a)
#define MX_F_greater_TYPES(X, a) MX_DTYPE_SFX_LIST(X, a)
#define MX_F_greater_equal_TYPES(X, a) MX_DTYPE_SFX_LIST(X, a)

#define MX_F_select_TYPES(X, a) MX_DTYPE_SFX_LIST(X, a)

/* Comparisons of real values (integers, bool, floats: NaN compares false except !=). */
#define MX_F_COMPARE(sfx, T)                                                             \
  MX_HD static inline bool mx_f_equal_##sfx(T x, T y) { return x == y; }                 \
  MX_HD static inline bool mx_f_not_equal_##sfx(T x, T y) { return x != y; }             \
  MX_HD static inline bool mx_f_less_##sfx(T x, T y) { return x < y; }                   \
  MX_HD static inline bool mx_f_less_equal_##sfx(T x, T y) { return x <= y; }            \
  MX_HD static inline bool mx_f_greater_##sfx(T x, T y) { return x > y; }                \
  MX_HD static inline bool mx_f_greater_equal_##sfx(T x, T y) { return x >= y; }

/* ---- integer and bool formulas ----
 * Integer arithmetic wraps (done in the unsigned type WU, at least 32 bits wide, so no
 * signed overflow and no int promotion overflow); division by zero gives 0 and
 * INT_MIN / -1 wraps, where C would trap. floor is the identity. */
#define MX_F_INT_COMMON(sfx, T, WU)                                                      \
  MX_HD static inline T mx_f_negative_##sfx(T x) { return (T)(0u - (WU)x); }             \
  MX_HD static inline T mx_f_floor_##sfx(T x) { return x; }                              \
  MX_HD static inline T mx_f_copy_##sfx(T x) { return x; }                               \
  MX_HD static inline T mx_f_astype_##sfx(T x) { return x; }                             \
  MX_HD static inline T mx_f_add_##sfx(T x, T y) { return (T)((WU)x + (WU)y); }          \
  MX_HD static inline T mx_f_subtract_##sfx(T x, T y) { return (T)((WU)x - (WU)y); }     \
  MX_HD static inline T mx_f_multiply_##sfx(T x, T y) { return (T)((WU)x * (WU)y); }     \
  MX_HD static inline T mx_f_maximum_##sfx(T x, T y) { return x > y ? x : y; }           \
  MX_HD static inline T mx_f_minimum_##sfx(T x, T y) { return x < y ? x : y; }           \
  MX_HD static inline T mx_f_select_##sfx(bool c, T x, T y) { return c ? x : y; }        \
  MX_F_COMPARE(sfx, T)

#define MX_F_SIGNED(sfx, T, WU)                                                          \
  MX_F_INT_COMMON(sfx, T, WU)                                                            \
  MX_HD static inline T mx_f_abs_##sfx(T x) { return x < 0 ? (T)(0u - (WU)x) : x; }      \
  MX_HD static inline T mx_f_sign_##sfx(T x) { return (T)((x > 0) - (x < 0)); }          \
  /* floor division, as MLX's integer Divide (reached through floor_divide) */             \
  MX_HD static inline T mx_f_divide_##sfx(T x, T y) {                                    \
    if (y == 0 || y == -1) return y == 0 ? (T)0 : (T)(0u - (WU)x);                       \
    return (T)(x / y - ((x % y != 0) && ((x < 0) != (y < 0))));                         \
  }

#define MX_F_UNSIGNED(sfx, T, WU)                                                        \
  MX_F_INT_COMMON(sfx, T, WU)                                                            \
  MX_HD static inline T mx_f_abs_##sfx(T x) { return x; }                                \
  MX_HD static inline T mx_f_sign_##sfx(T x) { return (T)(x != 0); }                     \
  MX_HD static inline T mx_f_divide_##sfx(T x, T y) { return y == 0 ? (T)0 : (T)(x / y); }

MX_F_UNSIGNED(u8, uint8_t, uint32_t)
MX_F_UNSIGNED(u16, uint16_t, uint32_t)
MX_F_UNSIGNED(u32, uint32_t, uint32_t)
MX_F_UNSIGNED(u64, uint64_t, uint64_t)
MX_F_SIGNED(i8, int8_t, uint32_t)
MX_F_SIGNED(i16, int16_t, uint32_t)
MX_F_SIGNED(i32, int32_t, uint32_t)
MX_F_SIGNED(i64, int64_t, uint64_t)

/* bool: C++ bool arithmetic stored back into bool, as MLX: + is or, - is xor, * is and. */
MX_HD static inline bool mx_f_abs_b(bool x) { return x; }
MX_HD static inline bool mx_f_sign_b(bool x) { return x; }
MX_HD static inline bool mx_f_floor_b(bool x) { return x; }
MX_HD static inline bool mx_f_copy_b(bool x) { return x; }
MX_HD static inline bool mx_f_astype_b(bool x) { return x; }
MX_HD static inline bool mx_f_add_b(bool x, bool y) { return x || y; }
MX_HD static inline bool mx_f_subtract_b(bool x, bool y) { return x != y; }
MX_HD static inline bool mx_f_multiply_b(bool x, bool y) { return x && y; }
MX_HD static inline bool mx_f_divide_b(bool x, bool y) { return y && x; }
MX_HD static inline bool mx_f_maximum_b(bool x, bool y) { return x || y; }
MX_HD static inline bool mx_f_minimum_b(bool x, bool y) { return x && y; }
MX_HD static inline bool mx_f_select_b(bool c, bool x, bool y) { return c ? x : y; }
MX_F_COMPARE(b, bool)

/* select on the 16-bit float storage types and on the other storage types */
MX_HD static inline mx_f16 mx_f_select_f16(bool c, mx_f16 x, mx_f16 y) { return c ? x : y; }
MX_HD static inline mx_bf16 mx_f_select_bf16(bool c, mx_bf16 x, mx_bf16 y) { return c ? x : y; }
MX_HD static inline float mx_f_select_f32(bool c, float x, float y) { return c ? x : y; }
MX_HD static inline double mx_f_select_f64(bool c, double x, double y) { return c ? x : y; }
MX_HD static inline mx_c64 mx_f_select_c64(bool c, mx_c64 x, mx_c64 y) { return c ? x : y; }

/* ---- erfinv ----
 * float32: the two-branch polynomial in t = log(1 - a^2) that MLX's CPU backend uses
 * (max error about 2.4 ulp), so sampled normals match MLX. float64: a float-accurate
 * start (the same polynomial in double, or the erfc tail asymptote) refined by Newton
 * steps on erf / erfc, accurate to a few ulp of double. */
MX_HD static inline float mx_f_erfinv_f32(float a) {
  float t = logf(fmaf(a, 0.0f - a, 1.0f));
  float p;
  if (fabsf(t) > 6.125f) {
    p = 3.03697567e-10f;
    p = fmaf(p, t, 2.93243101e-8f);
    p = fmaf(p, t, 1.22150334e-6f);
    p = fmaf(p, t, 2.84108955e-5f);
    p = fmaf(p, t, 3.93552968e-4f);
    p = fmaf(p, t, 3.02698812e-3f);
    p = fmaf(p, t, 4.83185798e-3f);
    p = fmaf(p, t, -2.64646143e-1f);
    p = fmaf(p, t, 8.40016484e-1f);
  } else {
    p = 5.43877832e-9f;
    p = fmaf(p, t, 1.43285448e-7f);
    p = fmaf(p, t, 1.22774793e-6f);
    p = fmaf(p, t, 1.12963626e-7f);
    p = fmaf(p, t, -5.61530760e-5f);
    p = fmaf(p, t, -1.47697632e-4f);
    p = fmaf(p, t, 2.31468678e-3f);
    p = fmaf(p, t, 1.15392581e-2f);
    p = fmaf(p, t, -2.32015476e-1f);
    p = fmaf(p, t, 8.86226892e-1f);
  }
  return a * p;
}

MX_HD static inline double mx_f_erfinv_f64(double y) {
  double ay = fabs(y);
  if (!(ay < 1.0)) { /* NaN, +-1, |y| > 1 */
    if (ay == 1.0) return y > 0 ? (double)INFINITY : -(double)INFINITY;
    return y != y ? y : (double)NAN;
  }
  double q = 1.0 - ay; /* exact for ay >= 0.5, where it is used */
  double t = log(q * (1.0 + ay));
  double x;
  if (t > -16.0) {
    double p;
    if (fabs(t) > 6.125) {
      p = 3.03697567e-10;
      p = p * t + 2.93243101e-8;
      p = p * t + 1.22150334e-6;
      p = p * t + 2.84108955e-5;
      p = p * t + 3.93552968e-4;
      p = p * t + 3.02698812e-3;
      p = p * t + 4.83185798e-3;
      p = p * t - 2.64646143e-1;
      p = p * t + 8.40016484e-1;
    } else {
      p = 5.43877832e-9;
      p = p * t + 1.43285448e-7;
      p = p * t + 1.22774793e-6;
      p = p * t + 1.12963626e-7;
      p = p * t - 5.61530760e-5;
      p = p * t - 1.47697632e-4;
      p = p * t + 2.31468678e-3;
      p = p * t + 1.15392581e-2;
      p = p * t - 2.32015476e-1;
      p = p * t + 8.86226892e-1;
    }
    x = ay * p;
  } else { /* erfc(x) ~ exp(-x^2) / (x sqrt(pi)) */
    double L = -log(q);
    x = sqrt(L - 0.5 * log(3.141592653589793 * L));
  }
  for (int i = 0; i < 6; i++) {
    double f = ay < 0.5 ? erf(x) - ay : q - erfc(x);
    double dx = f / (1.1283791670955126 * exp(-x * x)); /* erf' = 2/sqrt(pi) e^{-x^2} */
    x -= dx;
    if (fabs(dx) <= 1e-17 * x) break;
  }
  return y < 0 ? -x : x;
}

/* ---- float32 (also float16/bfloat16 through float) and float64 ---- */
#define MX_F_FLOAT(sfx, T, ABS, EXP, LOG, SQRT, FLOOR)                                   \
  MX_HD static inline T mx_f_abs_##sfx(T x) { return ABS(x); }                           \
  MX_HD static inline T mx_f_negative_##sfx(T x) { return -x; }                          \
  /* as MLX: -1, 0 or 1, and 0 for NaN */                                                \
  MX_HD static inline T mx_f_sign_##sfx(T x) { return x < 0 ? (T)-1 : (x > 0 ? (T)1 : (T)0); } \
  MX_HD static inline T mx_f_exp_##sfx(T x) { return EXP(x); }                           \
  MX_HD static inline T mx_f_log_##sfx(T x) { return LOG(x); }                           \
  MX_HD static inline T mx_f_sqrt_##sfx(T x) { return SQRT(x); }                         \
  MX_HD static inline T mx_f_floor_##sfx(T x) { return FLOOR(x); }                       \
  MX_HD static inline T mx_f_copy_##sfx(T x) { return x; }                               \
  MX_HD static inline T mx_f_astype_##sfx(T x) { return x; }                             \
  MX_HD static inline T mx_f_add_##sfx(T x, T y) { return x + y; }                       \
  MX_HD static inline T mx_f_subtract_##sfx(T x, T y) { return x - y; }                  \
  MX_HD static inline T mx_f_multiply_##sfx(T x, T y) { return x * y; }                  \
  MX_HD static inline T mx_f_divide_##sfx(T x, T y) { return x / y; }                    \
  /* NaN-propagating, in MLX's order: a NaN y wins, then a NaN x */                       \
  MX_HD static inline T mx_f_maximum_##sfx(T x, T y) {                                   \
    return y != y ? y : (x != x ? x : (x > y ? x : y));                                  \
  }                                                                                      \
  MX_HD static inline T mx_f_minimum_##sfx(T x, T y) {                                   \
    return y != y ? y : (x != x ? x : (x < y ? x : y));                                  \
  }                                                                                      \
  MX_F_COMPARE(sfx, T)

MX_F_FLOAT(f32, float, fabsf, expf, logf, sqrtf, floorf)
MX_F_FLOAT(f64, double, fabs, exp, log, sqrt, floor)

/* ---- complex64 ---- */
MX_HD static inline bool mx_c64_isnan(mx_c64 z) { return z.re != z.re || z.im != z.im; }
/* MLX orders complex numbers lexicographically (real part, then imaginary part). */
MX_HD static inline bool mx_c64_gt(mx_c64 a, mx_c64 b) {
  return a.re > b.re || (a.re == b.re && a.im > b.im);
}

MX_HD static inline mx_c64 mx_f_abs_c64(mx_c64 z) { return mx_c64_make(hypotf(z.re, z.im), 0.0f); }
MX_HD static inline mx_c64 mx_f_negative_c64(mx_c64 z) { return mx_c64_make(-z.re, -z.im); }
/* z / |z|, and 0 at 0 (as MLX) */
MX_HD static inline mx_c64 mx_f_sign_c64(mx_c64 z) {
  if (z.re == 0.0f && z.im == 0.0f) return z;
  float h = hypotf(z.re, z.im);
  return mx_c64_make(z.re / h, z.im / h);
}
MX_HD static inline mx_c64 mx_f_copy_c64(mx_c64 z) { return z; }
MX_HD static inline mx_c64 mx_f_astype_c64(mx_c64 z) { return z; }

MX_HD static inline mx_c64 mx_f_exp_c64(mx_c64 z) {
  float r = expf(z.re);
  if (z.im == 0.0f) return mx_c64_make(r, z.im);
  return mx_c64_make(r * cosf(z.im), r * sinf(z.im));
}

MX_HD static inline mx_c64 mx_f_log_c64(mx_c64 z) {
  return mx_c64_make(logf(hypotf(z.re, z.im)), atan2f(z.im, z.re));
}

/* Principal square root, computed in double so |re| + |z| cannot overflow. */
MX_HD static inline mx_c64 mx_f_sqrt_c64(mx_c64 z) {
  double re = z.re, im = z.im;
  if (re == 0.0 && im == 0.0) return mx_c64_make(0.0f, z.im);
  if (im == (double)INFINITY || im == -(double)INFINITY)
    return mx_c64_make((float)INFINITY, z.im);
  double t = sqrt(0.5 * (fabs(re) + hypot(re, im)));
  if (re >= 0.0) return mx_c64_make((float)t, (float)(im / (2.0 * t)));
  return mx_c64_make((float)(fabs(im) / (2.0 * t)), (float)(signbit(im) ? -t : t));
}

MX_HD static inline mx_c64 mx_f_add_c64(mx_c64 a, mx_c64 b) {
  return mx_c64_make(a.re + b.re, a.im + b.im);
}
MX_HD static inline mx_c64 mx_f_subtract_c64(mx_c64 a, mx_c64 b) {
  return mx_c64_make(a.re - b.re, a.im - b.im);
}
MX_HD static inline mx_c64 mx_f_multiply_c64(mx_c64 a, mx_c64 b) {
  return mx_c64_make(a.re * b.re - a.im * b.im, a.re * b.im + a.im * b.re);
}
/* Smith's algorithm (no overflow of |b|^2); a real divisor divides each part. */
MX_HD static inline mx_c64 mx_f_divide_c64(mx_c64 a, mx_c64 b) {
  if (b.im == 0.0f) return mx_c64_make(a.re / b.re, a.im / b.re);
  if (fabsf(b.re) >= fabsf(b.im)) {
    float r = b.im / b.re, d = b.re + b.im * r;
    return mx_c64_make((a.re + a.im * r) / d, (a.im - a.re * r) / d);
  }
  float r = b.re / b.im, d = b.re * r + b.im;
  return mx_c64_make((a.re * r + a.im) / d, (a.im * r - a.re) / d);
}
MX_HD static inline mx_c64 mx_f_maximum_c64(mx_c64 a, mx_c64 b) {
  if (mx_c64_isnan(b)) return b;
  if (mx_c64_isnan(a)) return a;
  return mx_c64_gt(a, b) ? a : b;
}
MX_HD static inline mx_c64 mx_f_minimum_c64(mx_c64 a, mx_c64 b) {
  if (mx_c64_isnan(b)) return b;
  if (mx_c64_isnan(a)) return a;
  return mx_c64_gt(b, a) ? a : b;
}

MX_HD static inline bool mx_f_equal_c64(mx_c64 a, mx_c64 b) { return a.re == b.re && a.im == b.im; }
MX_HD static inline bool mx_f_not_equal_c64(mx_c64 a, mx_c64 b) {
  return !(a.re == b.re && a.im == b.im);
}
MX_HD static inline bool mx_f_greater_c64(mx_c64 a, mx_c64 b) { return mx_c64_gt(a, b); }
MX_HD static inline bool mx_f_less_c64(mx_c64 a, mx_c64 b) { return mx_c64_gt(b, a); }
MX_HD static inline bool mx_f_greater_equal_c64(mx_c64 a, mx_c64 b) {
  return a.re > b.re || (a.re == b.re && a.im >= b.im);
}
MX_HD static inline bool mx_f_less_equal_c64(mx_c64 a, mx_c64 b) {
  return mx_f_greater_equal_c64(b, a);
}

/* ---- astype conversions: mx_cvt_<source class>_<destination suffix> ----
 * Float -> integer is defined for every input (C leaves it undefined out of range): it
 * gives what x86-64 compilers produce for in-range values and their out-of-range pattern
 * elsewhere: 8/16/32-bit targets go through int32 (NaN/out of range -> INT32_MIN, then
 * wrapped), uint32/int64 through int64 (-> INT64_MIN), uint64 through the 2^63 split.
 * Complex -> real takes the real part; anything -> bool is "!= 0". */
MX_HD static inline int32_t mx_d2i32(double v) {
  return (v > -2147483649.0 && v < 2147483648.0) ? (int32_t)v : INT32_MIN;
}
MX_HD static inline int64_t mx_d2i64(double v) {
  return (v >= -9223372036854775808.0 && v < 9223372036854775808.0) ? (int64_t)v : INT64_MIN;
}
MX_HD static inline uint64_t mx_d2u64(double v) {
  if (v >= 9223372036854775808.0 && v < 18446744073709551616.0)
    return (uint64_t)(int64_t)(v - 9223372036854775808.0) + 9223372036854775808ull;
  return (uint64_t)mx_d2i64(v);
}

#define MX_CVT_D2_b(v) ((v) != 0)
#define MX_CVT_D2_u8(v) ((uint8_t)mx_d2i32(v))
#define MX_CVT_D2_u16(v) ((uint16_t)mx_d2i32(v))
#define MX_CVT_D2_u32(v) ((uint32_t)mx_d2i64(v))
#define MX_CVT_D2_u64(v) (mx_d2u64(v))
#define MX_CVT_D2_i8(v) ((int8_t)mx_d2i32(v))
#define MX_CVT_D2_i16(v) ((int16_t)mx_d2i32(v))
#define MX_CVT_D2_i32(v) (mx_d2i32(v))
#define MX_CVT_D2_i64(v) (mx_d2i64(v))

/* integer / bool sources (S = the widened source type) */
#define MX_CVT_FROM_INT(sc, S)                                                              \
  MX_HD static inline bool mx_cvt_##sc##_b(S v) { return v != 0; }                         \
  MX_HD static inline uint8_t mx_cvt_##sc##_u8(S v) { return (uint8_t)v; }                 \
  MX_HD static inline uint16_t mx_cvt_##sc##_u16(S v) { return (uint16_t)v; }              \
  MX_HD static inline uint32_t mx_cvt_##sc##_u32(S v) { return (uint32_t)v; }              \
  MX_HD static inline uint64_t mx_cvt_##sc##_u64(S v) { return (uint64_t)v; }              \
  MX_HD static inline int8_t mx_cvt_##sc##_i8(S v) { return (int8_t)v; }                   \
  MX_HD static inline int16_t mx_cvt_##sc##_i16(S v) { return (int16_t)v; }                \
  MX_HD static inline int32_t mx_cvt_##sc##_i32(S v) { return (int32_t)v; }                \
  MX_HD static inline int64_t mx_cvt_##sc##_i64(S v) { return (int64_t)v; }                \
  MX_HD static inline mx_f16 mx_cvt_##sc##_f16(S v) { return mx_f32_to_f16((float)v); }    \
  MX_HD static inline float mx_cvt_##sc##_f32(S v) { return (float)v; }                    \
  MX_HD static inline double mx_cvt_##sc##_f64(S v) { return (double)v; }                  \
  MX_HD static inline mx_bf16 mx_cvt_##sc##_bf16(S v) { return mx_f32_to_bf16((float)v); } \
  MX_HD static inline mx_c64 mx_cvt_##sc##_c64(S v) { return mx_c64_make((float)v, 0.0f); }

MX_CVT_FROM_INT(b, bool)
MX_CVT_FROM_INT(i, int64_t)
MX_CVT_FROM_INT(u, uint64_t)

/* float / double / complex sources: F(v) gives the real value used for numeric targets */
#define MX_CVT_FROM_FLOAT(sc, S, RE, NZ)                                                    \
  MX_HD static inline bool mx_cvt_##sc##_b(S v) { return NZ(v); }                          \
  MX_HD static inline uint8_t mx_cvt_##sc##_u8(S v) { return MX_CVT_D2_u8((double)RE(v)); }  \
  MX_HD static inline uint16_t mx_cvt_##sc##_u16(S v) { return MX_CVT_D2_u16((double)RE(v)); } \
  MX_HD static inline uint32_t mx_cvt_##sc##_u32(S v) { return MX_CVT_D2_u32((double)RE(v)); } \
  MX_HD static inline uint64_t mx_cvt_##sc##_u64(S v) { return MX_CVT_D2_u64((double)RE(v)); } \
  MX_HD static inline int8_t mx_cvt_##sc##_i8(S v) { return MX_CVT_D2_i8((double)RE(v)); }   \
  MX_HD static inline int16_t mx_cvt_##sc##_i16(S v) { return MX_CVT_D2_i16((double)RE(v)); } \
  MX_HD static inline int32_t mx_cvt_##sc##_i32(S v) { return MX_CVT_D2_i32((double)RE(v)); } \
  MX_HD static inline int64_t mx_cvt_##sc##_i64(S v) { return MX_CVT_D2_i64((double)RE(v)); } \
  MX_HD static inline mx_f16 mx_cvt_##sc##_f16(S v) { return mx_f32_to_f16((float)RE(v)); }   \
  MX_HD static inline float mx_cvt_##sc##_f32(S v) { return (float)RE(v); }                  \
  MX_HD static inline double mx_cvt_##sc##_f64(S v) { return (double)RE(v); }                \
  MX_HD static inline mx_bf16 mx_cvt_##sc##_bf16(S v) { return mx_f32_to_bf16((float)RE(v)); }

#define MX_RE_REAL(v) (v)
#define MX_RE_CPLX(v) ((v).re)
#define MX_NZ_REAL(v) ((v) != 0)
#define MX_NZ_CPLX(v) ((v).re != 0 || (v).im != 0)

MX_CVT_FROM_FLOAT(f, float, MX_RE_REAL, MX_NZ_REAL)
MX_CVT_FROM_FLOAT(d, double, MX_RE_REAL, MX_NZ_REAL)
MX_CVT_FROM_FLOAT(c, mx_c64, MX_RE_CPLX, MX_NZ_CPLX)
MX_HD static inline mx_c64 mx_cvt_f_c64(float v) { return mx_c64_make(v, 0.0f); }
MX_HD static inline mx_c64 mx_cvt_d_c64(double v) { return mx_c64_make((float)v, 0.0f); }
MX_HD static inline mx_c64 mx_cvt_c_c64(mx_c64 v) { return v; }

/* One element of dtype suffix s (storage value v) converted to dtype suffix d. */
#define MX_CVT(s, d, v) MX_CAT(MX_CAT(mx_cvt_, MX_SC_##s), _##d)(MX_LD_##s(v))

/* ---- reductions: identity mx_red_init_<kind>_<acc>() and combine mx_red_<kind>_<acc> ----
 * Accumulators: and/or in bool; sum/prod in u64 for every integer output (wrap-around is
 * the same in any width), f32 for float16/bfloat16/float32, f64, c64, and bool (sum = or,
 * prod = and); min/max in the input type (float16/bfloat16 through f32), NaN-propagating. */
#define MX_RED_and_TYPES(X, a) X(a, b)
#define MX_RED_or_TYPES(X, a) X(a, b)
#define MX_RED_sum_TYPES(X, a) X(a, b) X(a, u64) X(a, f32) X(a, f64) X(a, c64)
#define MX_RED_prod_TYPES(X, a) X(a, b) X(a, u64) X(a, f32) X(a, f64) X(a, c64)
#define MX_RED_MINMAX_TYPES(X, a) \
  X(a, b) MX_INT_SFX(X, a) X(a, f32) X(a, f64) X(a, c64)
#define MX_RED_min_TYPES(X, a) MX_RED_MINMAX_TYPES(X, a)
#define MX_RED_max_TYPES(X, a) MX_RED_MINMAX_TYPES(X, a)

MX_HD static inline bool mx_red_init_and_b(void) { return true; }
MX_HD static inline bool mx_red_and_b(bool a, bool x) { return a && x; }
MX_HD static inline bool mx_red_init_or_b(void) { return false; }
MX_HD static inline bool mx_red_or_b(bool a, bool x) { return a || x; }

MX_HD static inline bool mx_red_init_sum_b(void) { return false; }
MX_HD static inline bool mx_red_sum_b(bool a, bool x) { return a || x; }
MX_HD static inline bool mx_red_init_prod_b(void) { return true; }
MX_HD static inline bool mx_red_prod_b(bool a, bool x) { return a && x; }

MX_HD static inline uint64_t mx_red_init_sum_u64(void) { return 0; }
MX_HD static inline uint64_t mx_red_sum_u64(uint64_t a, uint64_t x) { return a + x; }
MX_HD static inline uint64_t mx_red_init_prod_u64(void) { return 1; }
MX_HD static inline uint64_t mx_red_prod_u64(uint64_t a, uint64_t x) { return a * x; }

MX_HD static inline float mx_red_init_sum_f32(void) { return 0.0f; }
MX_HD static inline float mx_red_sum_f32(float a, float x) { return a + x; }
MX_HD static inline float mx_red_init_prod_f32(void) { return 1.0f; }
MX_HD static inline float mx_red_prod_f32(float a, float x) { return a * x; }
MX_HD static inline double mx_red_init_sum_f64(void) { return 0.0; }
MX_HD static inline double mx_red_sum_f64(double a, double x) { return a + x; }
MX_HD static inline double mx_red_init_prod_f64(void) { return 1.0; }
MX_HD static inline double mx_red_prod_f64(double a, double x) { return a * x; }
MX_HD static inline mx_c64 mx_red_init_sum_c64(void) { return mx_c64_make(0.0f, 0.0f); }
MX_HD static inline mx_c64 mx_red_sum_c64(mx_c64 a, mx_c64 x) { return mx_f_add_c64(a, x); }
MX_HD static inline mx_c64 mx_red_init_prod_c64(void) { return mx_c64_make(1.0f, 0.0f); }
MX_HD static inline mx_c64 mx_red_prod_c64(mx_c64 a, mx_c64 x) { return mx_f_multiply_c64(a, x); }

#define MX_RED_MINMAX(sfx, T, LO, HI)                                                   \
  MX_HD static inline T mx_red_init_min_##sfx(void) { return HI; }                      \
  MX_HD static inline T mx_red_min_##sfx(T a, T x) { return mx_f_minimum_##sfx(a, x); } \
  MX_HD static inline T mx_red_init_max_##sfx(void) { return LO; }                      \
  MX_HD static inline T mx_red_max_##sfx(T a, T x) { return mx_f_maximum_##sfx(a, x); }

MX_RED_MINMAX(b, bool, false, true)
MX_RED_MINMAX(u8, uint8_t, 0, UINT8_MAX)
MX_RED_MINMAX(u16, uint16_t, 0, UINT16_MAX)
MX_RED_MINMAX(u32, uint32_t, 0, UINT32_MAX)
MX_RED_MINMAX(u64, uint64_t, 0, UINT64_MAX)
MX_RED_MINMAX(i8, int8_t, INT8_MIN, INT8_MAX)
MX_RED_MINMAX(i16, int16_t, INT16_MIN, INT16_MAX)
MX_RED_MINMAX(i32, int32_t, INT32_MIN, INT32_MAX)
MX_RED_MINMAX(i64, int64_t, INT64_MIN, INT64_MAX)
MX_RED_MINMAX(f32, float, -(float)INFINITY, (float)INFINITY)
MX_RED_MINMAX(f64, double, -(double)INFINITY, (double)INFINITY)
MX_RED_MINMAX(c64, mx_c64, mx_c64_make(-(float)INFINITY, -(float)INFINITY),
              mx_c64_make((float)INFINITY, (float)INFINITY))

/* ---- index arrays: the out-of-range policy of gather/scatter and dynamic slices ----
 * An index of any integer dtype (element off of base) as int64, uint64 beyond INT64_MAX
 * saturating; a negative index wraps once; a window of w elements is clamped into [0, dim).
 * Reads clamp, writes drop: the CPU and CUDA kernels both call these. */
MX_HD static inline int64_t mx_index_load(const void *base, int64_t off, int dt) {
  switch (dt) {
    case MX_UINT8: return ((const uint8_t *)base)[off];
    case MX_UINT16: return ((const uint16_t *)base)[off];
    case MX_UINT32: return ((const uint32_t *)base)[off];
    case MX_UINT64: {
      uint64_t v = ((const uint64_t *)base)[off];
      return v > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)v;
    }
    case MX_INT8: return ((const int8_t *)base)[off];
    case MX_INT16: return ((const int16_t *)base)[off];
    case MX_INT32: return ((const int32_t *)base)[off];
    case MX_INT64: return ((const int64_t *)base)[off];
    default: return 0;
  }
}

MX_HD static inline int64_t mx_index_wrap(int64_t v, int64_t dim) { return v < 0 ? v + dim : v; }

MX_HD static inline int64_t mx_index_clamp(int64_t v, int64_t dim, int64_t w) {
  v = mx_index_wrap(v, dim);
  int64_t hi = dim - w;
  return v < 0 ? 0 : (v > hi ? hi : v);
}

/* ---- Threefry-2x32 with 20 rounds (spec/semantics.md section 7.2) ---- */
MX_HD static inline uint32_t mx_rotl32(uint32_t x, int r) {
  return (x << r) | (x >> (32 - r));
}

MX_HD static inline void mx_threefry2x32(uint32_t k0, uint32_t k1, uint32_t x0, uint32_t x1,
                                         uint32_t *y0, uint32_t *y1) {
  const uint32_t ks[3] = {k0, k1, k0 ^ k1 ^ 0x1BD11BDAu};
  const int rot[2][4] = {{13, 15, 26, 6}, {17, 29, 16, 24}};
  x0 += ks[0];
  x1 += ks[1];
  for (int i = 0; i < 5; i++) {
    for (int r = 0; r < 4; r++) {
      x0 += x1;
      x1 = mx_rotl32(x1, rot[i % 2][r]);
      x1 ^= x0;
    }
    x0 += ks[(i + 1) % 3];
    x1 += ks[(i + 2) % 3] + (uint32_t)(i + 1);
  }
  *y0 = x0;
  *y1 = x1;
}

/* ==== section A: unary math and creation ==== */
/* Which dtypes each member accepts. Math members see floating or complex64 inputs only (the
 * op layer promotes integers to float32); the others keep integer and bool inputs. */
#define MX_F_square_TYPES(X, a) X(a, b) MX_INT_SFX(X, a) MX_FLOAT_SFX(X, a) X(a, c64)
#define MX_F_rsqrt_TYPES(X, a) MX_FLOAT_SFX(X, a) X(a, c64)
#define MX_F_expm1_TYPES(X, a) MX_FLOAT_SFX(X, a)
#define MX_F_log2_TYPES(X, a) MX_FLOAT_SFX(X, a) X(a, c64)
#define MX_F_log10_TYPES(X, a) MX_FLOAT_SFX(X, a) X(a, c64)
#define MX_F_log1p_TYPES(X, a) MX_FLOAT_SFX(X, a) X(a, c64)
#define MX_F_sin_TYPES(X, a) MX_FLOAT_SFX(X, a) X(a, c64)
#define MX_F_cos_TYPES(X, a) MX_FLOAT_SFX(X, a) X(a, c64)
#define MX_F_tan_TYPES(X, a) MX_FLOAT_SFX(X, a) X(a, c64)
#define MX_F_arcsin_TYPES(X, a) MX_FLOAT_SFX(X, a) X(a, c64)
#define MX_F_arccos_TYPES(X, a) MX_FLOAT_SFX(X, a) X(a, c64)
#define MX_F_arctan_TYPES(X, a) MX_FLOAT_SFX(X, a) X(a, c64)
#define MX_F_sinh_TYPES(X, a) MX_FLOAT_SFX(X, a) X(a, c64)
#define MX_F_cosh_TYPES(X, a) MX_FLOAT_SFX(X, a) X(a, c64)
#define MX_F_tanh_TYPES(X, a) MX_FLOAT_SFX(X, a) X(a, c64)
#define MX_F_arcsinh_TYPES(X, a) MX_FLOAT_SFX(X, a) X(a, c64)
#define MX_F_arccosh_TYPES(X, a) MX_FLOAT_SFX(X, a) X(a, c64)
#define MX_F_arctanh_TYPES(X, a) MX_FLOAT_SFX(X, a) X(a, c64)
#define MX_F_erf_TYPES(X, a) MX_FLOAT_SFX(X, a)
#define MX_F_sigmoid_TYPES(X, a) MX_FLOAT_SFX(X, a)
#define MX_F_ceil_TYPES(X, a) X(a, b) MX_INT_SFX(X, a) MX_FLOAT_SFX(X, a)
#define MX_F_round_TYPES(X, a) X(a, b) MX_INT_SFX(X, a) MX_FLOAT_SFX(X, a) X(a, c64)
#define MX_F_logical_not_TYPES(X, a) X(a, b)
#define MX_F_bitwise_invert_TYPES(X, a) X(a, b) MX_INT_SFX(X, a)
#define MX_F_conjugate_TYPES(X, a) X(a, c64)
#define MX_F_real_TYPES(X, a) X(a, c64)
#define MX_F_imag_TYPES(X, a) X(a, c64)

/* bool and integers: square wraps (in the unsigned type WU), ceil and round are the
 * identity, bitwise_invert flips every bit (bool: logical not). */
#define MX_F_INT_A(sfx, T, WU)                                                           \
  MX_HD static inline T mx_f_square_##sfx(T x) { return (T)((WU)x * (WU)x); }            \
  MX_HD static inline T mx_f_ceil_##sfx(T x) { return x; }                               \
  MX_HD static inline T mx_f_round_##sfx(T x) { return x; }                              \
  MX_HD static inline T mx_f_bitwise_invert_##sfx(T x) { return (T)~(WU)x; }

MX_F_INT_A(u8, uint8_t, uint32_t)
MX_F_INT_A(u16, uint16_t, uint32_t)
MX_F_INT_A(u32, uint32_t, uint32_t)
MX_F_INT_A(u64, uint64_t, uint64_t)
MX_F_INT_A(i8, int8_t, uint32_t)
MX_F_INT_A(i16, int16_t, uint32_t)
MX_F_INT_A(i32, int32_t, uint32_t)
MX_F_INT_A(i64, int64_t, uint64_t)

MX_HD static inline bool mx_f_square_b(bool x) { return x; }
MX_HD static inline bool mx_f_ceil_b(bool x) { return x; }
MX_HD static inline bool mx_f_round_b(bool x) { return x; }
MX_HD static inline bool mx_f_bitwise_invert_b(bool x) { return !x; }
MX_HD static inline bool mx_f_logical_not_b(bool x) { return !x; }

/* float32 (also float16/bfloat16 through float) and float64. round is half-to-even (rint);
 * sigmoid is 1/(1+e^-|x|), mirrored for x < 0 as MLX computes it (0 and 1 saturate exactly). */
#define MX_F_FLOAT_A(sfx, T, SQRT, EXPM1, LOG2, LOG10, LOG1P, SIN, COS, TAN, ASIN, ACOS, ATAN, \
                     SINH, COSH, TANH, ASINH, ACOSH, ATANH, ERF, EXP, CEIL, RINT)         \
  MX_HD static inline T mx_f_square_##sfx(T x) { return x * x; }                         \
  MX_HD static inline T mx_f_rsqrt_##sfx(T x) { return (T)1 / SQRT(x); }                 \
  MX_HD static inline T mx_f_expm1_##sfx(T x) { return EXPM1(x); }                       \
  MX_HD static inline T mx_f_log2_##sfx(T x) { return LOG2(x); }                         \
  MX_HD static inline T mx_f_log10_##sfx(T x) { return LOG10(x); }                       \
  MX_HD static inline T mx_f_log1p_##sfx(T x) { return LOG1P(x); }                       \
  MX_HD static inline T mx_f_sin_##sfx(T x) { return SIN(x); }                           \
  MX_HD static inline T mx_f_cos_##sfx(T x) { return COS(x); }                           \
  MX_HD static inline T mx_f_tan_##sfx(T x) { return TAN(x); }                           \
  MX_HD static inline T mx_f_arcsin_##sfx(T x) { return ASIN(x); }                       \
  MX_HD static inline T mx_f_arccos_##sfx(T x) { return ACOS(x); }                       \
  MX_HD static inline T mx_f_arctan_##sfx(T x) { return ATAN(x); }                       \
  MX_HD static inline T mx_f_sinh_##sfx(T x) { return SINH(x); }                         \
  MX_HD static inline T mx_f_cosh_##sfx(T x) { return COSH(x); }                         \
  MX_HD static inline T mx_f_tanh_##sfx(T x) { return TANH(x); }                         \
  MX_HD static inline T mx_f_arcsinh_##sfx(T x) { return ASINH(x); }                     \
  MX_HD static inline T mx_f_arccosh_##sfx(T x) { return ACOSH(x); }                     \
  MX_HD static inline T mx_f_arctanh_##sfx(T x) { return ATANH(x); }                     \
  MX_HD static inline T mx_f_erf_##sfx(T x) { return ERF(x); }                           \
  MX_HD static inline T mx_f_sigmoid_##sfx(T x) {                                        \
    T y = (T)1 / ((T)1 + EXP(x < 0 ? x : -x));                                           \
    return x < 0 ? (T)1 - y : y;                                                         \
  }                                                                                      \
  MX_HD static inline T mx_f_ceil_##sfx(T x) { return CEIL(x); }                         \
  MX_HD static inline T mx_f_round_##sfx(T x) { return RINT(x); }

MX_F_FLOAT_A(f32, float, sqrtf, expm1f, log2f, log10f, log1pf, sinf, cosf, tanf, asinf, acosf,
             atanf, sinhf, coshf, tanhf, asinhf, acoshf, atanhf, erff, expf, ceilf, rintf)
MX_F_FLOAT_A(f64, double, sqrt, expm1, log2, log10, log1p, sin, cos, tan, asin, acos, atan, sinh,
             cosh, tanh, asinh, acosh, atanh, erf, exp, ceil, rint)

/* ---- complex64: computed in double (mx_cd), rounded once to complex64 ----
 * Principal branches as C99 / NumPy: asinh(z) = log1p(w) with w = z + z^2/(sqrt(z^2+1)+1)
 * (accurate near 0, odd symmetry for re < 0), asin(z) = -i asinh(iz), acos by Kahan's formula,
 * atanh(z) = (log1p(z) - log1p(-z)) / 2, atan(z) = -i atanh(iz),
 * acosh(z) = log(z + sqrt(z+1) sqrt(z-1)); tanh by Kahan's formula (no overflow for
 * large |re|), tan(z) = -i tanh(iz). */
typedef struct mx_cd {
  double re, im;
} mx_cd;

MX_HD static inline mx_cd mx_cd_make(double re, double im) {
  mx_cd z;
  z.re = re;
  z.im = im;
  return z;
}
MX_HD static inline mx_cd mx_cd_of(mx_c64 z) { return mx_cd_make(z.re, z.im); }
MX_HD static inline mx_c64 mx_cd_c64(mx_cd z) { return mx_c64_make((float)z.re, (float)z.im); }
MX_HD static inline mx_cd mx_cd_add(mx_cd a, mx_cd b) { return mx_cd_make(a.re + b.re, a.im + b.im); }
MX_HD static inline mx_cd mx_cd_sub(mx_cd a, mx_cd b) { return mx_cd_make(a.re - b.re, a.im - b.im); }
MX_HD static inline mx_cd mx_cd_mul(mx_cd a, mx_cd b) {
  return mx_cd_make(a.re * b.re - a.im * b.im, a.re * b.im + a.im * b.re);
}
MX_HD static inline mx_cd mx_cd_times_i(mx_cd z) { return mx_cd_make(-z.im, z.re); }
MX_HD static inline mx_cd mx_cd_times_minus_i(mx_cd z) { return mx_cd_make(z.im, -z.re); }
MX_HD static inline mx_cd mx_cd_div(mx_cd a, mx_cd b) {
  if (b.im == 0.0) return mx_cd_make(a.re / b.re, a.im / b.re);
  if (fabs(b.re) >= fabs(b.im)) {
    double r = b.im / b.re, d = b.re + b.im * r;
    return mx_cd_make((a.re + a.im * r) / d, (a.im - a.re * r) / d);
  }
  double r = b.re / b.im, d = b.re * r + b.im;
  return mx_cd_make((a.re * r + a.im) / d, (a.im * r - a.re) / d);
}
MX_HD static inline mx_cd mx_cd_log(mx_cd z) {
  return mx_cd_make(log(hypot(z.re, z.im)), atan2(z.im, z.re));
}
/* log(1 + z) without losing small z */
MX_HD static inline mx_cd mx_cd_log1p(mx_cd z) {
  double h = hypot(1.0 + z.re, z.im);
  double re = h < 0.5 || h > 2.0 ? log(h) : 0.5 * log1p(z.re * (2.0 + z.re) + z.im * z.im);
  return mx_cd_make(re, atan2(z.im, 1.0 + z.re));
}
MX_HD static inline mx_cd mx_cd_sqrt(mx_cd z) {
  double re = z.re, im = z.im;
  if (re == 0.0 && im == 0.0) return mx_cd_make(0.0, im);
  if (im == (double)INFINITY || im == -(double)INFINITY) return mx_cd_make((double)INFINITY, im);
  double t = sqrt(0.5 * (fabs(re) + hypot(re, im)));
  if (re >= 0.0) return mx_cd_make(t, im / (2.0 * t));
  return mx_cd_make(fabs(im) / (2.0 * t), signbit(im) ? -t : t);
}
MX_HD static inline mx_cd mx_cd_sinh(mx_cd z) {
  return mx_cd_make(sinh(z.re) * cos(z.im), cosh(z.re) * sin(z.im));
}
MX_HD static inline mx_cd mx_cd_cosh(mx_cd z) {
  return mx_cd_make(cosh(z.re) * cos(z.im), sinh(z.re) * sin(z.im));
}
MX_HD static inline mx_cd mx_cd_tanh(mx_cd z) {
  if (fabs(z.re) > 22.0) { /* tanh(re) is +-1 in double; the imaginary part decays */
    double e = exp(-2.0 * fabs(z.re));
    return mx_cd_make(z.re > 0 ? 1.0 : -1.0, 4.0 * sin(z.im) * cos(z.im) * e);
  }
  double t = tan(z.im), beta = 1.0 + t * t, s = sinh(z.re), rho = sqrt(1.0 + s * s);
  double den = 1.0 + beta * s * s;
  return mx_cd_make(beta * rho * s / den, t / den);
}
/* asinh and atanh are odd: the sign of re (zeros included) is applied last, which puts
 * signed zeros on the right side of the branch cuts as C99 does */
MX_HD static inline mx_cd mx_cd_asinh(mx_cd z) {
  bool neg = signbit(z.re);
  if (neg) z = mx_cd_make(-z.re, -z.im);
  mx_cd z2 = mx_cd_mul(z, z);
  mx_cd r = mx_cd_sqrt(mx_cd_make(z2.re + 1.0, z2.im));
  mx_cd w;
  if (hypot(z.re, z.im) > 1e150) {
    w = mx_cd_add(z, mx_cd_sub(r, mx_cd_make(1.0, 0.0))); /* z^2 would overflow */
  } else {
    w = mx_cd_add(z, mx_cd_div(z2, mx_cd_make(r.re + 1.0, r.im)));
  }
  mx_cd y = mx_cd_log1p(w);
  return neg ? mx_cd_make(-y.re, -y.im) : y;
}
MX_HD static inline mx_cd mx_cd_atanh(mx_cd z) {
  bool neg = signbit(z.re);
  if (neg) z = mx_cd_make(-z.re, -z.im);
  mx_cd d = mx_cd_sub(mx_cd_log1p(z), mx_cd_log1p(mx_cd_make(-z.re, -z.im)));
  return neg ? mx_cd_make(-0.5 * d.re, -0.5 * d.im) : mx_cd_make(0.5 * d.re, 0.5 * d.im);
}

MX_HD static inline mx_c64 mx_f_square_c64(mx_c64 z) { return mx_f_multiply_c64(z, z); }
MX_HD static inline mx_c64 mx_f_rsqrt_c64(mx_c64 z) {
  return mx_f_divide_c64(mx_c64_make(1.0f, 0.0f), mx_f_sqrt_c64(z));
}
MX_HD static inline mx_c64 mx_f_log2_c64(mx_c64 z) {
  mx_cd l = mx_cd_log(mx_cd_of(z));
  return mx_cd_c64(mx_cd_make(l.re / 0.69314718055994531, l.im / 0.69314718055994531));
}
MX_HD static inline mx_c64 mx_f_log10_c64(mx_c64 z) {
  mx_cd l = mx_cd_log(mx_cd_of(z));
  return mx_cd_c64(mx_cd_make(l.re / 2.3025850929940457, l.im / 2.3025850929940457));
}
MX_HD static inline mx_c64 mx_f_log1p_c64(mx_c64 z) { return mx_cd_c64(mx_cd_log1p(mx_cd_of(z))); }
MX_HD static inline mx_c64 mx_f_sinh_c64(mx_c64 z) { return mx_cd_c64(mx_cd_sinh(mx_cd_of(z))); }
MX_HD static inline mx_c64 mx_f_cosh_c64(mx_c64 z) { return mx_cd_c64(mx_cd_cosh(mx_cd_of(z))); }
MX_HD static inline mx_c64 mx_f_tanh_c64(mx_c64 z) { return mx_cd_c64(mx_cd_tanh(mx_cd_of(z))); }
/* sin(z) = -i sinh(iz), cos(z) = cosh(iz), tan(z) = -i tanh(iz) */
MX_HD static inline mx_c64 mx_f_sin_c64(mx_c64 z) {
  return mx_cd_c64(mx_cd_times_minus_i(mx_cd_sinh(mx_cd_times_i(mx_cd_of(z)))));
}
MX_HD static inline mx_c64 mx_f_cos_c64(mx_c64 z) {
  return mx_cd_c64(mx_cd_cosh(mx_cd_times_i(mx_cd_of(z))));
}
MX_HD static inline mx_c64 mx_f_tan_c64(mx_c64 z) {
  return mx_cd_c64(mx_cd_times_minus_i(mx_cd_tanh(mx_cd_times_i(mx_cd_of(z)))));
}
MX_HD static inline mx_c64 mx_f_arcsinh_c64(mx_c64 z) { return mx_cd_c64(mx_cd_asinh(mx_cd_of(z))); }
MX_HD static inline mx_c64 mx_f_arcsin_c64(mx_c64 z) {
  return mx_cd_c64(mx_cd_times_minus_i(mx_cd_asinh(mx_cd_times_i(mx_cd_of(z)))));
}
/* Kahan: re = 2 atan2(re sqrt(1-z), re sqrt(1+z)), im = asinh(im(conj(sqrt(1+z)) sqrt(1-z))) */
MX_HD static inline mx_c64 mx_f_arccos_c64(mx_c64 z) {
  mx_cd x = mx_cd_of(z);
  mx_cd s1 = mx_cd_sqrt(mx_cd_make(1.0 - x.re, -x.im)), s2 = mx_cd_sqrt(mx_cd_make(1.0 + x.re, x.im));
  return mx_cd_c64(mx_cd_make(2.0 * atan2(s1.re, s2.re), asinh(s2.re * s1.im - s2.im * s1.re)));
}
MX_HD static inline mx_c64 mx_f_arccosh_c64(mx_c64 z) {
  mx_cd x = mx_cd_of(z);
  mx_cd p = mx_cd_mul(mx_cd_sqrt(mx_cd_make(x.re + 1.0, x.im)), mx_cd_sqrt(mx_cd_make(x.re - 1.0, x.im)));
  return mx_cd_c64(mx_cd_log(mx_cd_add(x, p)));
}
MX_HD static inline mx_c64 mx_f_arctanh_c64(mx_c64 z) { return mx_cd_c64(mx_cd_atanh(mx_cd_of(z))); }
MX_HD static inline mx_c64 mx_f_arctan_c64(mx_c64 z) {
  return mx_cd_c64(mx_cd_times_minus_i(mx_cd_atanh(mx_cd_times_i(mx_cd_of(z)))));
}
/* half-to-even on each part */
MX_HD static inline mx_c64 mx_f_round_c64(mx_c64 z) { return mx_c64_make(rintf(z.re), rintf(z.im)); }
MX_HD static inline mx_c64 mx_f_conjugate_c64(mx_c64 z) { return mx_c64_make(z.re, -z.im); }
/* the part lands in .re; the driver converts complex64 -> float32 by taking .re */
MX_HD static inline mx_c64 mx_f_real_c64(mx_c64 z) { return mx_c64_make(z.re, 0.0f); }
MX_HD static inline mx_c64 mx_f_imag_c64(mx_c64 z) { return mx_c64_make(z.im, 0.0f); }

/* (end of section A) */

/* ==== section B: binary, logical, bitwise, operators ==== */
#define MX_F_remainder_TYPES(X, a) X(a, b) MX_INT_SFX(X, a) MX_FLOAT_SFX(X, a)
#define MX_F_floor_divide_TYPES(X, a) X(a, b) MX_INT_SFX(X, a) MX_FLOAT_SFX(X, a)
#define MX_F_divmod_TYPES(X, a) X(a, b) MX_INT_SFX(X, a) MX_FLOAT_SFX(X, a)
#define MX_F_power_TYPES(X, a) MX_DTYPE_SFX_LIST(X, a)
#define MX_F_logaddexp_TYPES(X, a) MX_FLOAT_SFX(X, a) X(a, c64)
#define MX_F_arctan2_TYPES(X, a) MX_FLOAT_SFX(X, a)
#define MX_F_bitwise_and_TYPES(X, a) X(a, b) MX_INT_SFX(X, a)
#define MX_F_bitwise_or_TYPES(X, a) X(a, b) MX_INT_SFX(X, a)
#define MX_F_bitwise_xor_TYPES(X, a) X(a, b) MX_INT_SFX(X, a)
#define MX_F_left_shift_TYPES(X, a) MX_INT_SFX(X, a)
#define MX_F_right_shift_TYPES(X, a) MX_INT_SFX(X, a)
#define MX_F_logical_and_TYPES(X, a) X(a, b)
#define MX_F_logical_or_TYPES(X, a) X(a, b)

/* Integers. remainder takes the divisor's sign (Python); x % 0 gives x and MIN % -1 gives
 * 0 where C would trap (MLX gives the same). floor_divide is the (floor) divide formula.
 * power by squaring wraps in WU; a negative exponent gives 0, as MLX. Shifts compute in
 * the C-promoted type P (int32 for 8/16-bit types) with the count taken modulo its width,
 * which is what MLX's CPU kernels produce on x86-64. */
#define MX_F_INT_BINARY_MATH(sfx, T, WU, P, UP, M)                                        \
  MX_HD static inline T mx_f_floor_divide_##sfx(T x, T y) { return mx_f_divide_##sfx(x, y); } \
  MX_HD static inline T mx_f_power_##sfx(T x, T y) {                                      \
    if (y < (T)1) return (T)(y == 0);                                                     \
    WU base = (WU)x, r = 1u;                                                              \
    for (; y; y = (T)(y >> 1)) {                                                          \
      if (y & 1) r *= base;                                                               \
      base *= base;                                                                       \
    }                                                                                     \
    return (T)r;                                                                          \
  }                                                                                       \
  MX_HD static inline T mx_f_bitwise_and_##sfx(T x, T y) { return (T)(x & y); }          \
  MX_HD static inline T mx_f_bitwise_or_##sfx(T x, T y) { return (T)(x | y); }           \
  MX_HD static inline T mx_f_bitwise_xor_##sfx(T x, T y) { return (T)(x ^ y); }          \
  MX_HD static inline T mx_f_left_shift_##sfx(T x, T y) {                                \
    return (T)((UP)(P)x << ((unsigned)y & M));                                            \
  }                                                                                       \
  MX_HD static inline T mx_f_right_shift_##sfx(T x, T y) {                               \
    return (T)((P)x >> ((unsigned)y & M));                                                \
  }

#define MX_F_REM_SIGNED(sfx, T)                                                           \
  MX_HD static inline T mx_f_remainder_##sfx(T x, T y) {                                 \
    if (y == 0 || y == -1) return y == 0 ? x : (T)0;                                      \
    T r = (T)(x % y);                                                                     \
    return (r != 0 && ((r < 0) != (y < 0))) ? (T)(r + y) : r;                             \
  }
#define MX_F_REM_UNSIGNED(sfx, T)                                                         \
  MX_HD static inline T mx_f_remainder_##sfx(T x, T y) { return y == 0 ? x : (T)(x % y); }

MX_F_INT_BINARY_MATH(u8, uint8_t, uint32_t, int32_t, uint32_t, 31u)
MX_F_INT_BINARY_MATH(u16, uint16_t, uint32_t, int32_t, uint32_t, 31u)
MX_F_INT_BINARY_MATH(u32, uint32_t, uint32_t, uint32_t, uint32_t, 31u)
MX_F_INT_BINARY_MATH(u64, uint64_t, uint64_t, uint64_t, uint64_t, 63u)
MX_F_INT_BINARY_MATH(i8, int8_t, uint32_t, int32_t, uint32_t, 31u)
MX_F_INT_BINARY_MATH(i16, int16_t, uint32_t, int32_t, uint32_t, 31u)
MX_F_INT_BINARY_MATH(i32, int32_t, uint32_t, int32_t, uint32_t, 31u)
MX_F_INT_BINARY_MATH(i64, int64_t, uint64_t, int64_t, uint64_t, 63u)
MX_F_REM_UNSIGNED(u8, uint8_t)
MX_F_REM_UNSIGNED(u16, uint16_t)
MX_F_REM_UNSIGNED(u32, uint32_t)
MX_F_REM_UNSIGNED(u64, uint64_t)
MX_F_REM_SIGNED(i8, int8_t)
MX_F_REM_SIGNED(i16, int16_t)
MX_F_REM_SIGNED(i32, int32_t)
MX_F_REM_SIGNED(i64, int64_t)

/* bool as C++ bool arithmetic: x % y is x % 1 = 0 or (by zero) x; x ** y is 1 or x */
MX_HD static inline bool mx_f_remainder_b(bool x, bool y) { return !y && x; }
MX_HD static inline bool mx_f_floor_divide_b(bool x, bool y) { return mx_f_divide_b(x, y); }
MX_HD static inline bool mx_f_power_b(bool x, bool y) { return !y || x; }
MX_HD static inline bool mx_f_bitwise_and_b(bool x, bool y) { return x && y; }
MX_HD static inline bool mx_f_bitwise_or_b(bool x, bool y) { return x || y; }
MX_HD static inline bool mx_f_bitwise_xor_b(bool x, bool y) { return x != y; }
MX_HD static inline bool mx_f_logical_and_b(bool x, bool y) { return x && y; }
MX_HD static inline bool mx_f_logical_or_b(bool x, bool y) { return x || y; }

/* Floats (float16/bfloat16 through float). logaddexp = max + log1p(exp(min - max)), and
 * max itself when an operand is -inf or +inf (no inf - inf); NaN propagates. */
#define MX_F_FLOAT_BINARY_MATH(sfx, T, FMOD, FLOOR, POW, ATAN2, LOG1P, EXP)               \
  MX_HD static inline T mx_f_remainder_##sfx(T x, T y) {                                 \
    T r = FMOD(x, y);                                                                     \
    return (r != 0 && ((r < 0) != (y < 0))) ? r + y : r;                                  \
  }                                                                                       \
  MX_HD static inline T mx_f_floor_divide_##sfx(T x, T y) { return FLOOR(x / y); }       \
  MX_HD static inline T mx_f_power_##sfx(T x, T y) { return POW(x, y); }                 \
  MX_HD static inline T mx_f_arctan2_##sfx(T x, T y) { return ATAN2(x, y); }             \
  MX_HD static inline T mx_f_logaddexp_##sfx(T x, T y) {                                 \
    T hi = mx_f_maximum_##sfx(x, y), lo = mx_f_minimum_##sfx(x, y);                       \
    if (lo == -(T)INFINITY || hi == (T)INFINITY) return hi;                               \
    return hi + LOG1P(EXP(lo - hi));                                                      \
  }

MX_F_FLOAT_BINARY_MATH(f32, float, fmodf, floorf, powf, atan2f, log1pf, expf)
MX_F_FLOAT_BINARY_MATH(f64, double, fmod, floor, pow, atan2, log1p, exp)

/* complex64: z ** w = exp(w log z) in polar form (0 ** w = 0 for real w > 0; 0 ** 0 is
 * NaN, as MLX); log1p keeps precision near 0 through |1+z|^2 = 1 + x(2+x) + y^2. */
MX_HD static inline mx_c64 mx_f_power_c64(mx_c64 z, mx_c64 w) {
  if (z.re == 0.0f && z.im == 0.0f && w.im == 0.0f && w.re > 0.0f) return mx_c64_make(0.0f, 0.0f);
  float lr = logf(hypotf(z.re, z.im)), th = atan2f(z.im, z.re);
  float mag = expf(w.re * lr - w.im * th), ph = w.im * lr + w.re * th;
  return mx_c64_make(mag * cosf(ph), mag * sinf(ph));
}

MX_HD static inline mx_c64 mx_c64_log1p(mx_c64 z) {
  float th = atan2f(z.im, z.re + 1.0f);
  if (hypotf(z.re, z.im) < 0.5f) {
    float r = z.re * (2.0f + z.re) + z.im * z.im;
    return mx_c64_make(r == 0.0f ? z.re : 0.5f * log1pf(r), th);
  }
  return mx_c64_make(logf(hypotf(z.re + 1.0f, z.im)), th);
}

MX_HD static inline mx_c64 mx_f_logaddexp_c64(mx_c64 x, mx_c64 y) {
  mx_c64 hi = mx_f_maximum_c64(x, y), lo = mx_f_minimum_c64(x, y);
  if ((lo.re == -(float)INFINITY && lo.im == 0.0f) || (hi.re == (float)INFINITY && hi.im == 0.0f))
    return hi;
  return mx_f_add_c64(hi, mx_c64_log1p(mx_f_exp_c64(mx_f_subtract_c64(lo, hi))));
}
/* (end of section B) */

/* ==== section C: reductions and scans ==== */
/* Scans (Scan primitive, mx_scan_kind): mx_scan_init_<kind>_<fs>() is the identity (the
 * first output of an exclusive scan) and mx_scan_<kind>_<fs>(acc, x) the combine, in the
 * compute class of the formula suffix fs (float16/bfloat16 accumulate in float32).
 * Integer sums and products wrap; min/max propagate NaN as maximum/minimum do. */
#define MX_SCAN_sum_TYPES(X, a) MX_DTYPE_SFX_LIST(X, a)
#define MX_SCAN_prod_TYPES(X, a) MX_DTYPE_SFX_LIST(X, a)
#define MX_SCAN_min_TYPES(X, a) MX_DTYPE_SFX_LIST(X, a)
#define MX_SCAN_max_TYPES(X, a) MX_DTYPE_SFX_LIST(X, a)
#define MX_SCAN_logaddexp_TYPES(X, a) MX_FLOAT_SFX(X, a) X(a, c64)

#define MX_SCAN_DEF(fs, T, ZERO, ONE)                                                    \
  MX_HD static inline T mx_scan_init_sum_##fs(void) { return ZERO; }                     \
  MX_HD static inline T mx_scan_sum_##fs(T a, T x) { return mx_f_add_##fs(a, x); }       \
  MX_HD static inline T mx_scan_init_prod_##fs(void) { return ONE; }                     \
  MX_HD static inline T mx_scan_prod_##fs(T a, T x) { return mx_f_multiply_##fs(a, x); } \
  MX_HD static inline T mx_scan_init_min_##fs(void) { return mx_red_init_min_##fs(); }   \
  MX_HD static inline T mx_scan_min_##fs(T a, T x) { return mx_f_minimum_##fs(a, x); }   \
  MX_HD static inline T mx_scan_init_max_##fs(void) { return mx_red_init_max_##fs(); }   \
  MX_HD static inline T mx_scan_max_##fs(T a, T x) { return mx_f_maximum_##fs(a, x); }

MX_SCAN_DEF(b, bool, false, true)
MX_SCAN_DEF(u8, uint8_t, 0, 1)
MX_SCAN_DEF(u16, uint16_t, 0, 1)
MX_SCAN_DEF(u32, uint32_t, 0, 1)
MX_SCAN_DEF(u64, uint64_t, 0, 1)
MX_SCAN_DEF(i8, int8_t, 0, 1)
MX_SCAN_DEF(i16, int16_t, 0, 1)
MX_SCAN_DEF(i32, int32_t, 0, 1)
MX_SCAN_DEF(i64, int64_t, 0, 1)
MX_SCAN_DEF(f32, float, 0.0f, 1.0f)
MX_SCAN_DEF(f64, double, 0.0, 1.0)
MX_SCAN_DEF(c64, mx_c64, mx_c64_make(0.0f, 0.0f), mx_c64_make(1.0f, 0.0f))

/* log(exp(a) + exp(x)) without overflow; exact at infinities, NaN-propagating. */
#define MX_SCAN_LOGADDEXP_REAL(fs, T, LOG1P, EXP)                                        \
  MX_HD static inline T mx_scan_init_logaddexp_##fs(void) { return -(T)INFINITY; }        \
  MX_HD static inline T mx_scan_logaddexp_##fs(T a, T x) {                               \
    if (a != a) return a;                                                                 \
    if (x != x) return x;                                                                 \
    T m = a > x ? a : x, n = a > x ? x : a;                                               \
    if (m == (T)INFINITY || n == -(T)INFINITY) return m;                                  \
    return m + LOG1P(EXP(n - m));                                                         \
  }
MX_SCAN_LOGADDEXP_REAL(f32, float, log1pf, expf)
MX_SCAN_LOGADDEXP_REAL(f64, double, log1p, exp)

/* Complex: the operand with the larger real part factored out (principal logarithm). */
MX_HD static inline mx_c64 mx_scan_init_logaddexp_c64(void) {
  return mx_c64_make(-(float)INFINITY, 0.0f);
}
MX_HD static inline mx_c64 mx_scan_logaddexp_c64(mx_c64 a, mx_c64 x) {
  if (mx_c64_isnan(a)) return a;
  if (mx_c64_isnan(x)) return x;
  mx_c64 m = a.re >= x.re ? a : x, n = a.re >= x.re ? x : a;
  if (m.re == (float)INFINITY || n.re == -(float)INFINITY) return m;
  mx_c64 e = mx_f_exp_c64(mx_f_subtract_c64(n, m));
  return mx_f_add_c64(m, mx_f_log_c64(mx_c64_make(1.0f + e.re, e.im)));
}

/* Arg reductions: does candidate x replace the current best b? Ties keep the first index;
 * the first NaN wins and is kept (as NumPy and MLX). Complex values order
 * lexicographically. */
#define MX_ARGRED_INT(fs, T)                                                             \
  MX_HD static inline bool mx_argmax_better_##fs(T x, T b) { return x > b; }             \
  MX_HD static inline bool mx_argmin_better_##fs(T x, T b) { return x < b; }
MX_ARGRED_INT(b, bool)
MX_ARGRED_INT(u8, uint8_t)
MX_ARGRED_INT(u16, uint16_t)
MX_ARGRED_INT(u32, uint32_t)
MX_ARGRED_INT(u64, uint64_t)
MX_ARGRED_INT(i8, int8_t)
MX_ARGRED_INT(i16, int16_t)
MX_ARGRED_INT(i32, int32_t)
MX_ARGRED_INT(i64, int64_t)

#define MX_ARGRED_FLOAT(fs, T)                                                           \
  MX_HD static inline bool mx_argmax_better_##fs(T x, T b) {                             \
    return b == b && (x > b || x != x);                                                  \
  }                                                                                      \
  MX_HD static inline bool mx_argmin_better_##fs(T x, T b) {                             \
    return b == b && (x < b || x != x);                                                  \
  }
MX_ARGRED_FLOAT(f32, float)
MX_ARGRED_FLOAT(f64, double)

MX_HD static inline bool mx_argmax_better_c64(mx_c64 x, mx_c64 b) {
  return !mx_c64_isnan(b) && (mx_c64_isnan(x) || mx_c64_gt(x, b));
}
MX_HD static inline bool mx_argmin_better_c64(mx_c64 x, mx_c64 b) {
  return !mx_c64_isnan(b) && (mx_c64_isnan(x) || mx_c64_gt(b, x));
}
/* (end of section C) */

/* ==== section D: shapes, views, layout, matmul products ==== */
/* AddMM's epilogue: alpha * (a @ b) + beta * c, in the compute type (float for f16/bf16). */
MX_HD static inline float mx_f_addmm_f32(float ab, float c, float alpha, float beta) {
  return alpha * ab + beta * c;
}
MX_HD static inline double mx_f_addmm_f64(double ab, double c, double alpha, double beta) {
  return alpha * ab + beta * c;
}
/* (end of section D) */

/* ==== section E: indexing, gather/scatter, sorting ==== */
/* (end of section E) */

/* ==== section I: convolution ==== */
/* (end of section I) */

/* ==== section J: random samplers and distributed ==== */
/* (end of section J) */

/* ==== section L: linear algebra ==== */
/* (end of section L) */

/* ==== section T: FFT ==== */
/* (end of section T) */

/* ==== section Q: quantization ==== */
/* Scalar pieces of the quantized formats (spec/semantics.md section 8); the mode values are
 * those of mx_qmode in src/ops/ops_quantized.h. */
#define MX_QMODE_AFFINE 0
#define MX_QMODE_MXFP4 1
#define MX_QMODE_MXFP8 2
#define MX_QMODE_NVFP4 3

/* E2M1 code (bit 3 = sign) -> value. */
MX_HD static inline float mx_q_e2m1_value(uint32_t code) {
  const float mag[8] = {0.0f, 0.5f, 1.0f, 1.5f, 2.0f, 3.0f, 4.0f, 6.0f};
  float v = mag[code & 7u];
  return (code & 8u) ? -v : v;
}

/* The E2M1 code nearest to v, ties to the lower code (+0 before -0), NaN -> 0. */
MX_HD static inline uint32_t mx_q_e2m1_nearest(float v) {
  uint32_t best = 0;
  float bd = fabsf(v);
  for (uint32_t c = 1; c < 16; c++) {
    float d = fabsf(v - mx_q_e2m1_value(c));
    if (d < bd) {
      bd = d;
      best = c;
    }
  }
  return best;
}

/* float -> FP8 E4M3 byte: nearest, ties to even, saturating at +-448 (NaN and inf too). */
MX_HD static inline uint8_t mx_q_to_fp8(float x) {
  uint8_t sign = (mx_f32_bits(x) >> 31) ? 0x80u : 0u;
  float a = fabsf(x);
  if (!(a < 464.0f)) return (uint8_t)(sign | 0x7Eu);
  if (a < 0.015625f) { /* subnormal: multiples of 2^-9 (8 rounds up into the first normal) */
    return (uint8_t)(sign | (uint8_t)rintf(a * 512.0f));
  }
  int e;
  float m = frexpf(a, &e); /* a = m * 2^e, m in [0.5, 1) */
  float q = rintf((m * 2.0f - 1.0f) * 8.0f);
  int be = e - 1 + 7;
  if (q >= 8.0f) {
    q = 0.0f;
    be++;
  }
  if (be > 15 || (be == 15 && q > 6.0f)) return (uint8_t)(sign | 0x7Eu);
  return (uint8_t)(sign | (uint8_t)(be << 3) | (uint8_t)q);
}

/* FP8 E4M3 byte -> float (0x7F / 0xFF are NaN). */
MX_HD static inline float mx_q_from_fp8(uint8_t b) {
  uint32_t e = (b >> 3) & 15u, m = b & 7u;
  float v;
  if ((b & 0x7Fu) == 0x7Fu) {
    v = NAN;
  } else if (e == 0) {
    v = (float)m * 0.001953125f;
  } else {
    v = ldexpf(1.0f + (float)m * 0.125f, (int)e - 7);
  }
  return (b & 0x80u) ? -v : v;
}

/* E8M0 scale byte -> 2^(s - 127) (0 -> 2^-127, 255 -> +inf), as the bfloat16 decode. */
MX_HD static inline float mx_q_e8m0_value(uint8_t s) {
  if (s == 255) return INFINITY;
  return ldexpf(1.0f, (int)s - 127);
}

/* The E8M0 byte of an mx scale: ceil(log2(x)) + 127 clamped to [0, 254]; 0 -> 127,
 * non-finite -> 255. */
MX_HD static inline uint8_t mx_q_e8m0_encode(float x) {
  if (x == 0.0f) return 127;
  if (!(fabsf(x) < INFINITY)) return 255;
  int e;
  float m = frexpf(fabsf(x), &e);
  int c = m > 0.5f ? e : e - 1;
  c = c < -127 ? -127 : (c > 127 ? 127 : c);
  return (uint8_t)(c + 127);
}

/* Affine group parameters from the group's min and max (float32, MLX's formulas). */
MX_HD static inline void mx_q_affine_params(float wmin, float wmax, int bits, float *scale,
                                            float *bias) {
  float n_bins = (float)((1 << bits) - 1);
  float s = (wmax - wmin) / n_bins;
  s = s < 1e-7f ? 1e-7f : s;
  if (bits == 1) { /* one bit: the plain min/max grid, no exact zero */
    *scale = s;
    *bias = wmin;
    return;
  }
  bool neg_edge = fabsf(wmin) > fabsf(wmax);
  s = neg_edge ? s : -s;
  float edge = neg_edge ? wmin : wmax;
  float q0 = rintf(edge / s);
  float b = 0.0f;
  if (q0 != 0.0f) {
    s = edge / q0;
    b = edge;
  }
  *scale = s;
  *bias = b;
}

/* The affine code of v in a group with (scale, bias). */
MX_HD static inline uint32_t mx_q_affine_code(float v, float scale, float bias, int bits) {
  float n_bins = (float)((1 << bits) - 1);
  float q = rintf((v - bias) / scale);
  q = q < 0.0f ? 0.0f : q;
  q = q > n_bins ? n_bins : q;
  return (uint32_t)q;
}
/* (end of section Q) */

/* ==== section S: mx.fast ==== */
/* Rotary embedding (spec/semantics.md 12.2), in float32 as MLX's reference: the inverse
 * frequency of pair i is exp(-i * ln(base) / (dims/2)) (or 1 / freqs[i]); the angle of
 * position t is ((t + offset) * scale) * inv_freq. */
MX_HD static inline float mx_f_rope_inv_freq(int i, int half_dims, float base) {
  float step = logf(base) / (float)half_dims;
  return expf((float)(-i) * step);
}

MX_HD static inline float mx_f_rope_theta(int64_t t, int32_t offset, float scale, float inv) {
  float pos = ((float)t + (float)offset) * scale;
  return pos * inv;
}

/* One rotated pair: forward (x1 c - x2 s, x1 s + x2 c), inverse (x1 c + x2 s, x2 c - x1 s). */
MX_HD static inline void mx_f_rope_pair(float x1, float x2, float c, float s, bool forward,
                                        float *o1, float *o2) {
  if (forward) {
    *o1 = x1 * c - x2 * s;
    *o2 = x1 * s + x2 * c;
  } else {
    *o1 = x2 * s + x1 * c;
    *o2 = x2 * c - x1 * s;
  }
}

/* The score a boolean (or causal) attention mask gives a hidden key: the lowest finite
 * value of the output dtype, as MLX's reference (a fully hidden row averages the values). */
MX_HD static inline double mx_f_sdpa_masked_score(mx_dtype t) {
  switch (t) {
    case MX_FLOAT16: return -65504.0;
    case MX_BFLOAT16: return -3.3895313892515355e38;
    case MX_FLOAT64: return -1.7976931348623157e308;
    default: return -3.4028234663852886e38;
  }
}

/* Causal visibility of key j to query i with tq queries over tk keys (lower-right aligned). */
MX_HD static inline bool mx_f_sdpa_causal_visible(int64_t i, int64_t j, int64_t tq, int64_t tk) {
  return j <= i + (tk - tq);
}
/* (end of section S) */

/* ==== section M: einsum and structured products ==== */
/* (end of section M) */

/* ==== section GF: Hadamard m-matrices ====
 * The m x m factors (m = 12, 20, 28) of the Hadamard transform of sizes m * 2^k, shared by
 * the CPU and CUDA kernels: one string literal of m * m signs, row c (m characters) being the
 * transform of the c-th unit vector, so character [c * m + r] is the coefficient ('+' or
 * '-') of input c in output r. The matrices MLX uses, read off its transform of the identity. */
#define MX_HADAMARD_M12 \
  "+-++++++++++" \
  "--+-+-+-+-+-" \
  "+++-++----++" \
  "+---+--+-++-" \
  "+++++-++----" \
  "+-+---+--+-+" \
  "++--+++-++--" \
  "+--++---+--+" \
  "++----+++-++" \
  "+--+-++---+-" \
  "++++----+++-" \
  "+-+--+-++---"
#define MX_HADAMARD_M20 \
  "+-----++++--++--+--+" \
  "-+---+-+++---+++-+--" \
  "--+--++-+++---+-+-+-" \
  "---+-+++-+++-----+-+" \
  "----+++++--++--+--+-" \
  "+----+----+-++---++-" \
  "-+----+----+-++---++" \
  "--+----+--+-+-++---+" \
  "---+----+-++-+-++---" \
  "----+----+-++-+-++--" \
  "++--+-+--++----+----" \
  "+++--+-+---+----+---" \
  "-+++--+-+---+----+--" \
  "--+++--+-+---+----+-" \
  "+--+++--+-----+----+" \
  "+-++-++--+-+++++----" \
  "-+-+++++--+-+++-+---" \
  "+-+-+-+++-++-++--+--" \
  "++-+---++++++-+---+-" \
  "-++-++--++++++-----+"
#define MX_HADAMARD_M28 \
  "+--------++++--+-++-+-++--++" \
  "-+--------+++++-+-++-+-++--+" \
  "--+----+---+++-+-+-++++-++--" \
  "---+---++---+++-+-+-+-++-++-" \
  "----+--+++---+++-+-+---++-++" \
  "-----+-++++----++-+-++--++-+" \
  "------+-++++--+-++-+-++--++-" \
  "++----++------+--++---+-++-+" \
  "+++-----+------+--++-+-+-++-" \
  "-+++-----+------+--++-+-+-++" \
  "--+++-----+---+--+--++-+-+-+" \
  "---+++-----+--++--+--++-+-+-" \
  "----+++-----+--++--+--++-+-+" \
  "+----++------+--++--++-++-+-" \
  "+-+--+--++--+++------++----+" \
  "-+-+--++-++--+-+-----+++----" \
  "+-+-+--++-++----+-----+++---" \
  "-+-+-+--++-++----+-----+++--" \
  "--+-+-+--++-++----+-----+++-" \
  "+--+-+-+--++-+-----+-----+++" \
  "-+--+-+++--++-------++----++" \
  "+--++--+-+--+---++++-+------" \
  "-+--++--+-+--+---++++-+-----" \
  "--+--+++-+-+--+---+++--+----" \
  "+--+--+-+-+-+-++---++---+---" \
  "++--+----+-+-++++---+----+--" \
  "-++--+-+--+-+-++++--------+-" \
  "--++--+-+--+-+-++++--------+"

/* Sign (+1 or -1) of input c in output r of the m-matrix `tab` (one of the above). */
MX_HD static inline int mx_f_hadamard_sign(const char *tab, int m, int c, int r) {
  return tab[c * m + r] == '+' ? 1 : -1;
}
/* (end of section GF) */

#endif
