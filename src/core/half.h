/* half.h: float16 and bfloat16 stored as uint16_t, complex64 as {re, im}, and the
 * float <-> f16 / bf16 conversions (round-to-nearest-even, NaN kept NaN) shared by the CPU
 * kernels, CUDA and NVRTC (DESIGN section 6). Written in the subset C11 and CUDA C++ share:
 * no _Complex, _Generic, compound literals or restrict. Depends on common.h only. */
#ifndef MX_HALF_H
#define MX_HALF_H

#include "common.h"

#if !defined(__CUDACC_RTC__)
#include <string.h> /* memcpy bit casts on the host */
#endif
#if !defined(__CUDACC__) && defined(__F16C__) && (defined(__x86_64__) || defined(__i386__))
#include <immintrin.h>
#define MX_HALF_F16C 1
#endif

typedef uint16_t mx_f16;   /* IEEE binary16 bits */
typedef uint16_t mx_bf16;  /* bfloat16 bits: the top half of a float32 */
typedef struct mx_c64 {
  float re, im;
} mx_c64;

/* Bit casts between float and uint32 (memcpy on the host, intrinsics on the device). */
MX_HD static inline uint32_t mx_f32_bits(float f) {
#if defined(__CUDA_ARCH__)
  return (uint32_t)__float_as_uint(f);
#else
  uint32_t u;
  memcpy(&u, &f, sizeof u);
  return u;
#endif
}

MX_HD static inline float mx_f32_from_bits(uint32_t u) {
#if defined(__CUDA_ARCH__)
  return __uint_as_float(u);
#else
  float f;
  memcpy(&f, &u, sizeof f);
  return f;
#endif
}

/* float -> binary16, round to nearest even; overflow gives +-inf, NaN stays a quiet NaN
 * (payload truncated), values below half the smallest subnormal give +-0. */
MX_HD static inline mx_f16 mx_f32_to_f16_portable(float f) {
  uint32_t x = mx_f32_bits(f);
  uint32_t sign = (x >> 16) & 0x8000u;
  uint32_t ax = x & 0x7fffffffu;
  if (ax >= 0x7f800000u) /* inf or NaN */
    return (mx_f16)(sign | 0x7c00u | (ax > 0x7f800000u ? 0x0200u | ((ax >> 13) & 0x3ffu) : 0u));
  if (ax >= 0x477ff000u) /* >= 65520: rounds past 65504 */
    return (mx_f16)(sign | 0x7c00u);
  if (ax < 0x38800000u) { /* below 2^-14: a binary16 subnormal (or zero) */
    uint32_t e = ax >> 23;
    if (e < 102u) return (mx_f16)sign; /* < 2^-25: rounds to zero */
    uint32_t mant = (ax & 0x7fffffu) | 0x800000u;
    uint32_t shift = 126u - e; /* 14..24: value / 2^-24 = mant >> shift */
    uint32_t r = mant >> shift;
    uint32_t rem = mant & ((1u << shift) - 1u);
    uint32_t half = 1u << (shift - 1u);
    if (rem > half || (rem == half && (r & 1u))) r++;
    return (mx_f16)(sign | r);
  }
  uint32_t r = (ax >> 13) - (112u << 10); /* rebias 127 -> 15 */
  uint32_t rem = ax & 0x1fffu;
  if (rem > 0x1000u || (rem == 0x1000u && (r & 1u))) r++; /* a carry bumps the exponent */
  return (mx_f16)(sign | r);
}

MX_HD static inline float mx_f16_to_f32_portable(mx_f16 h) {
  uint32_t sign = ((uint32_t)h & 0x8000u) << 16;
  uint32_t e = ((uint32_t)h >> 10) & 0x1fu;
  uint32_t m = (uint32_t)h & 0x3ffu;
  if (e == 0x1fu) return mx_f32_from_bits(sign | 0x7f800000u | (m << 13));
  if (e == 0u) {
    float v = (float)m * 5.9604644775390625e-08f; /* m * 2^-24, exact */
    return sign ? -v : v;
  }
  return mx_f32_from_bits(sign | ((e + 112u) << 23) | (m << 13));
}

/* Hardware conversions where present (F16C on the host, cvt on the device); they agree
 * with the portable versions except possibly in NaN payloads. */
MX_HD static inline mx_f16 mx_f32_to_f16(float f) {
#if defined(__CUDA_ARCH__)
  unsigned short h;
  asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h) : "f"(f));
  return (mx_f16)h;
#elif defined(MX_HALF_F16C)
  return (mx_f16)_cvtss_sh(f, 0); /* 0 = _MM_FROUND_TO_NEAREST_INT */
#else
  return mx_f32_to_f16_portable(f);
#endif
}

MX_HD static inline float mx_f16_to_f32(mx_f16 h) {
#if defined(__CUDA_ARCH__)
  float f;
  asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"((unsigned short)h));
  return f;
#elif defined(MX_HALF_F16C)
  return _cvtsh_ss(h);
#else
  return mx_f16_to_f32_portable(h);
#endif
}

/* float -> bfloat16, round to nearest even; every NaN becomes 0x7FC0, as MLX's conversion
 * (on the CPU and the GPU alike). */
MX_HD static inline mx_bf16 mx_f32_to_bf16(float f) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  if (f != f) return (mx_bf16)0x7fc0u;
  unsigned short b;
  asm("cvt.rn.bf16.f32 %0, %1;" : "=h"(b) : "f"(f));
  return (mx_bf16)b;
#else
  uint32_t x = mx_f32_bits(f);
  if ((x & 0x7fffffffu) > 0x7f800000u) return (mx_bf16)0x7fc0u;
  x += 0x7fffu + ((x >> 16) & 1u);
  return (mx_bf16)(x >> 16);
#endif
}

MX_HD static inline float mx_bf16_to_f32(mx_bf16 b) {
  return mx_f32_from_bits((uint32_t)b << 16);
}

MX_HD static inline mx_c64 mx_c64_make(float re, float im) {
  mx_c64 z;
  z.re = re;
  z.im = im;
  return z;
}

#endif
