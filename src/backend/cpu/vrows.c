/* vrows.c: vrows.h's kernels, one build of vrows_body.h per instruction set, dispatched on
 * vmath.h's level (MLX_VMATH_ISA caps it for tests as it does for vmath). */
#include "vrows.h"

#include <math.h>
#include <stddef.h>

#include "vmath.h"
#include "isa_region.h"

MX_ISA_BEGIN("avx512f,avx512dq,avx512vl,avx2,fma")
#define VR_W 16
#define VR_(name) vr512_##name
#include "vrows_body.h"
#undef VR_W
#undef VR_
MX_ISA_END

MX_ISA_BEGIN("avx2,fma")
#define VR_W 8
#define VR_(name) vr256_##name
#include "vrows_body.h"
#undef VR_W
#undef VR_
MX_ISA_END

#define VR_W 4
#define VR_(name) vr128_##name
#include "vrows_body.h"
#undef VR_W
#undef VR_

float mx_vr_max_f32(const float *x, int64_t n, bool *nonfinite) {
  int l = mx_vm_level();
  return l == 2 ? vr512_max(x, n, nonfinite)
                : l == 1 ? vr256_max(x, n, nonfinite) : vr128_max(x, n, nonfinite);
}

float mx_vr_exp_sum_f32(const float *x, float *y, int64_t n, float m) {
  int l = mx_vm_level();
  return l == 2 ? vr512_exp_sum(x, y, n, m)
                : l == 1 ? vr256_exp_sum(x, y, n, m) : vr128_exp_sum(x, y, n, m);
}

void mx_vr_scale_f32(float *y, int64_t n, float s) {
  int l = mx_vm_level();
  if (l == 2) vr512_scale(y, n, s);
  else if (l == 1) vr256_scale(y, n, s);
  else vr128_scale(y, n, s);
}
