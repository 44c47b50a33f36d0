/* isa_region.h: MX_ISA_BEGIN("avx2,fma") ... MX_ISA_END compiles the functions between them
 * for that instruction set (GCC's target pragmas, clang's attribute push), for kernels that
 * pick their instruction set at run time. */
#ifndef MX_ISA_REGION_H
#define MX_ISA_REGION_H

#define MX_ISA_STR_(x) #x
#define MX_ISA_PRAGMA_(x) _Pragma(MX_ISA_STR_(x))
#if defined(__clang__)
#define MX_ISA_BEGIN(targets) \
  MX_ISA_PRAGMA_(clang attribute push(__attribute__((target(targets))), apply_to = function))
#define MX_ISA_END MX_ISA_PRAGMA_(clang attribute pop)
#else
#define MX_ISA_BEGIN(targets) MX_ISA_PRAGMA_(GCC push_options) MX_ISA_PRAGMA_(GCC target(targets))
#define MX_ISA_END MX_ISA_PRAGMA_(GCC pop_options)
#endif

#endif
