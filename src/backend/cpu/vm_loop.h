/* vm_loop.h: the blocked loop, its three instruction-set builds and the run-time pick that
 * every vmath function shares. MX_VM_DEFINE(pfx, T, BLOCK, stem, entry) needs pfx_stem_1 (one
 * element) and pfx_fixup_stem(x, t, n) (a block's fix-up) and defines entry(x, y, n). */
#ifndef MX_CPU_VM_LOOP_H
#define MX_CPU_VM_LOOP_H

#include <stdint.h>
#include <string.h>

#include "vmath.h"

/* Blocks go through a local array so that x == y works and the fix-up still sees the
 * inputs; a short tail is padded into a block. */
#define MX_VM_LOOP(pfx, T, BLOCK, stem, isa, attr)                                        \
  attr static void pfx##_##stem##_##isa(const T *x, T *y, int64_t n) {                    \
    T t[BLOCK];                                                                           \
    int64_t i = 0;                                                                        \
    for (; i + BLOCK <= n; i += BLOCK) {                                                  \
      for (int k = 0; k < BLOCK; k++) t[k] = pfx##_##stem##_1(x[i + k]);                  \
      pfx##_fixup_##stem(x + i, t, BLOCK);                                                \
      memcpy(y + i, t, sizeof t);                                                         \
    }                                                                                     \
    if (i < n) {                                                                          \
      T b[BLOCK] = {0};                                                                   \
      int r = (int)(n - i);                                                               \
      memcpy(b, x + i, (size_t)r * sizeof(T));                                            \
      for (int k = 0; k < BLOCK; k++) t[k] = pfx##_##stem##_1(b[k]);                      \
      pfx##_fixup_##stem(b, t, r);                                                        \
      memcpy(y + i, t, (size_t)r * sizeof(T));                                            \
    }                                                                                     \
  }

#define MX_VM_DEFINE(pfx, T, BLOCK, stem, entry)                                          \
  MX_VM_LOOP(pfx, T, BLOCK, stem, avx512,                                                 \
             __attribute__((target("avx512f,avx512dq,avx512vl,avx2,fma"))))                \
  MX_VM_LOOP(pfx, T, BLOCK, stem, avx2, __attribute__((target("avx2,fma"))))              \
  MX_VM_LOOP(pfx, T, BLOCK, stem, base, )                                                 \
  void entry(const T *x, T *y, int64_t n) {                                               \
    int l = mx_vm_level();                                                                \
    if (l == 2) pfx##_##stem##_avx512(x, y, n);                                           \
    else if (l == 1) pfx##_##stem##_avx2(x, y, n);                                        \
    else pfx##_##stem##_base(x, y, n);                                                    \
  }

#endif
