/* binary_fast.c: binary_fast.h's tiles, one build of binary_fast_body.h for AVX-512 and
 * one for AVX2+FMA (with F16C for float16), chosen by vmath.h's level; baseline CPUs keep
 * binary.c's generic tiles. */
#include "binary_fast.h"

#include <immintrin.h>

#include "../formulas.h"
#include "vmath.h"
#include "isa_region.h"

MX_ISA_BEGIN("avx512f,avx512dq,avx512vl,avx512bw,avx2,fma,f16c")
#define BF_(name) bf512_##name
#define BF_F16_IN(x, t, c)                                                                 \
  {                                                                                        \
    int64_t i = 0;                                                                         \
    for (; i + 16 <= c; i += 16)                                                           \
      _mm512_storeu_ps(t + i, _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(x + i)))); \
    for (; i < c; i++) t[i] = _cvtsh_ss(x[i]);                                             \
  }
#define BF_F16_OUT(t, y, c)                                                                \
  {                                                                                        \
    int64_t i = 0;                                                                         \
    for (; i + 16 <= c; i += 16)                                                           \
      _mm256_storeu_si256((__m256i *)(y + i),                                              \
                          _mm512_cvtps_ph(_mm512_loadu_ps(t + i), _MM_FROUND_TO_NEAREST_INT)); \
    for (; i < c; i++) y[i] = _cvtss_sh(t[i], _MM_FROUND_TO_NEAREST_INT);                  \
  }
#include "binary_fast_body.h"
#undef BF_
#undef BF_F16_IN
#undef BF_F16_OUT
#undef BF_TILE
#undef BF_HALF_TILE
#undef BF_HALF_ARITH
#undef BF_HALF_CMP
#undef BF_ARITH_STEMS
#undef BF_CMP_STEMS
#undef BF_HALF_A
#undef BF_HALF_C
#undef BF_HALF_CHUNK
MX_ISA_END

MX_ISA_BEGIN("avx2,fma,f16c")
#define BF_(name) bf256_##name
#define BF_F16_IN(x, t, c)                                                                 \
  {                                                                                        \
    int64_t i = 0;                                                                         \
    for (; i + 8 <= c; i += 8)                                                             \
      _mm256_storeu_ps(t + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(x + i)))); \
    for (; i < c; i++) t[i] = _cvtsh_ss(x[i]);                                             \
  }
#define BF_F16_OUT(t, y, c)                                                                \
  {                                                                                        \
    int64_t i = 0;                                                                         \
    for (; i + 8 <= c; i += 8)                                                             \
      _mm_storeu_si128((__m128i *)(y + i),                                                 \
                       _mm256_cvtps_ph(_mm256_loadu_ps(t + i), _MM_FROUND_TO_NEAREST_INT)); \
    for (; i < c; i++) y[i] = _cvtss_sh(t[i], _MM_FROUND_TO_NEAREST_INT);                  \
  }
#include "binary_fast_body.h"
MX_ISA_END

mx_bf_tile_fn mx_cpu_binary_fast(int prim, mx_dtype t) {
  int l = mx_vm_level();
  return l == 2 ? bf512_lookup(prim, t) : l == 1 ? bf256_lookup(prim, t) : NULL;
}
