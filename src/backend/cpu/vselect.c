/* vselect.c: vselect.h's kernel. One loop per (element width, broadcast pattern, instruction
 * set); the compiler vectorises each into masked blends. */
#include "vselect.h"

#include "vmath.h"

#define VS_ATTR_avx512 __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,avx2,fma")))
#define VS_ATTR_avx2 __attribute__((target("avx2,fma")))
#define VS_ATTR_base

/* the condition is read as a byte: 0 false, anything else true, as C's bool conversion */
#define VS_LOOPS(T, isa)                                                                  \
  VS_ATTR_##isa static void vs_##T##_##isa(const bool *c_, const T *x, int64_t xs,          \
                                           const T *y, int64_t ys, T *o, int64_t n) {     \
    const uint8_t *c = (const uint8_t *)c_;                                               \
    if (xs && ys) {                                                                       \
      for (int64_t i = 0; i < n; i++) o[i] = c[i] ? x[i] : y[i];                          \
    } else if (xs) {                                                                      \
      T b = y[0];                                                                         \
      for (int64_t i = 0; i < n; i++) o[i] = c[i] ? x[i] : b;                             \
    } else if (ys) {                                                                      \
      T a = x[0];                                                                         \
      for (int64_t i = 0; i < n; i++) o[i] = c[i] ? a : y[i];                             \
    } else {                                                                              \
      T a = x[0], b = y[0];                                                               \
      for (int64_t i = 0; i < n; i++) o[i] = c[i] ? a : b;                                \
    }                                                                                     \
  }

#define VS_ISAS(T) VS_LOOPS(T, avx512) VS_LOOPS(T, avx2) VS_LOOPS(T, base)
VS_ISAS(uint8_t)
VS_ISAS(uint16_t)
VS_ISAS(uint32_t)
VS_ISAS(uint64_t)

#define VS_CALL(T)                                                                        \
  do {                                                                                    \
    int l = mx_vm_level();                                                                \
    if (l == 2) vs_##T##_avx512(c, x, x_step, y, y_step, o, n);                            \
    else if (l == 1) vs_##T##_avx2(c, x, x_step, y, y_step, o, n);                         \
    else vs_##T##_base(c, x, x_step, y, y_step, o, n);                                     \
  } while (0)

bool mx_vsel_run(int width, const bool *c, const void *x, int64_t x_step, const void *y,
                 int64_t y_step, void *o, int64_t n) {
  switch (width) {
    case 1: VS_CALL(uint8_t); return true;
    case 2: VS_CALL(uint16_t); return true;
    case 4: VS_CALL(uint32_t); return true;
    case 8: VS_CALL(uint64_t); return true;
    default: return false;
  }
}
