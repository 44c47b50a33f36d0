/* vmath.h: vectorised transcendental functions for the CPU unary kernels. The float32 ones
 * evaluate in double precision with polynomial range reduction (no libm call in the loop)
 * and rounds once to float, so results are within 1 ulp of the exact value (nearly always
 * the correctly rounded one) with libm's NaN/inf/zero/denormal behaviour. Each function is
 * built for AVX-512, AVX2+FMA and baseline x86-64 and picks one at run time. */
#ifndef MX_CPU_VMATH_H
#define MX_CPU_VMATH_H

#include <stdint.h>

/* y[i] = f(x[i]) for i in [0, n); x and y may be the same array. */
typedef void (*mx_vm_f32_fn)(const float *x, float *y, int64_t n);

#define MX_VM_STEMS(X) \
  X(exp) X(expm1) X(log) X(log1p) X(log2) X(log10) X(sin) X(cos) X(tanh) X(erf) X(sigmoid)

#define MX_VM_DECL(stem) void mx_vm_##stem##_f32(const float *x, float *y, int64_t n);
MX_VM_STEMS(MX_VM_DECL)
#undef MX_VM_DECL

/* float64: y[i] = f(x[i]) within 1 ulp of the exact value (expm1, log1p: 1.5; tanh: 2), with
 * libm's NaN/inf/zero/denormal behaviour; vmath64.c. */
typedef void (*mx_vm_f64_fn)(const double *x, double *y, int64_t n);

#define MX_VM64_STEMS(X) X(exp) X(expm1) X(log) X(log1p) X(sin) X(cos) X(tanh)

#define MX_VM64_DECL(stem) void mx_vm_##stem##_f64(const double *x, double *y, int64_t n);
MX_VM64_STEMS(MX_VM64_DECL)
#undef MX_VM64_DECL

/* The instruction set in use: "avx512f", "avx2" or "baseline". */
const char *mx_vm_isa(void);
/* Caps the instruction set (2 avx512f, 1 avx2, 0 baseline; the CPU's best when higher) and
 * returns the level now in use. For tests; MLX_VMATH_ISA=avx2|baseline does it at start. */
int mx_vm_set_level(int level);
/* The level in use (2 avx512f, 1 avx2, 0 baseline), for the other dispatched kernels. */
int mx_vm_level(void);

#endif
