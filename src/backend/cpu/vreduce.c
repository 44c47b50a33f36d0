/* vreduce.c: vreduce.h's loops, one build of vreduce_body.h per instruction set,
 * dispatched on vmath.h's level. */
#include "vreduce.h"

#include <math.h>
#include <stddef.h>

#include "cpu.h"
#include "param_enums.h"
#include "vmath.h"
#include "isa_region.h"

MX_ISA_BEGIN("avx512f,avx512dq,avx512vl,avx2,fma")
#define VD_(name) vd512_##name
#define VD_NB 64
#include "vreduce_body.h"
#undef VD_
#undef VD_NB
MX_ISA_END

MX_ISA_BEGIN("avx2,fma")
#define VD_(name) vd256_##name
#define VD_NB 32
#include "vreduce_body.h"
#undef VD_
#undef VD_NB
MX_ISA_END

#define VD_(name) vd128_##name
#define VD_NB 16
#include "vreduce_body.h"
#undef VD_
#undef VD_NB

static mx_vred_fn vd_pick(int kind, int f64, int cols) {
  int l = mx_vm_level();
  return l == 2 ? vd512_pick(kind, f64, cols)
                : l == 1 ? vd256_pick(kind, f64, cols) : vd128_pick(kind, f64, cols);
}

mx_vred_fn mx_vred_run(int kind, int f64) { return vd_pick(kind, f64, 0); }
mx_vred_fn mx_vred_cols(int kind, int f64) { return vd_pick(kind, f64, 1); }
