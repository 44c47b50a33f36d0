/* sort_net.c: bitonic sorting networks for short rows of unsigned 32-bit and 64-bit keys
 * (sort_net.h). A row is padded with the largest key to a power-of-two count of AVX-512
 * vectors; compare-exchanges between lanes of one vector use a permute and a masked blend,
 * those between vectors a plain min/max; AVX2 has a twin of 8 or 4 lanes. Other CPUs return
 * false (sort_radix.c falls back to its radix and insertion sorts). */
#include "sort_net.h"

#include <string.h>

#include "vmath.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

#define NET_ATTR __attribute__((target("avx512f")))

/* Lanes whose bit log2(j) is set, j = 1, 2, 4, 8: they take the larger key of a pair. */
static const __mmask16 bits16[4] = {0xAAAA, 0xCCCC, 0xF0F0, 0xFF00};
static const __mmask8 bits8[3] = {0xAA, 0xCC, 0xF0};

/* One network over m vectors of L lanes (m * L a power of two), as loops. Stage (k, j) pairs
 * element i with i ^ j; the pair is ascending where bit k of i is clear. */
#define NET_FN(name, W, L, LOG, MT, bits, ALL, U)                                              \
  NET_ATTR static inline __attribute__((always_inline)) void name(__m512i *v, int m) {      \
    const int P = m * L;                                                                    \
    __m512i lane = W == 32 ? _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0) \
                           : _mm512_set_epi64(7, 6, 5, 4, 3, 2, 1, 0);                       \
    U for (int k = 2; k <= P; k <<= 1)                                                      \
      U for (int j = k >> 1; j > 0; j >>= 1) {                                              \
        if (j >= L) { /* between vectors p and p | j / L */                                 \
          int jv = j >> LOG;                                                                \
          U for (int p = 0; p < m; p++) {                                                   \
            if (p & jv) continue;                                                           \
            int q = p | jv;                                                                 \
            __m512i lo = _mm512_min_epu##W(v[p], v[q]), hi = _mm512_max_epu##W(v[p], v[q]); \
            bool desc = ((p << LOG) & k) != 0;                                              \
            v[p] = desc ? hi : lo;                                                          \
            v[q] = desc ? lo : hi;                                                          \
          }                                                                                 \
          continue;                                                                         \
        }                                                                                   \
        __m512i perm = W == 32 ? _mm512_xor_si512(lane, _mm512_set1_epi32(j))               \
                               : _mm512_xor_si512(lane, _mm512_set1_epi64(j));              \
        MT mj = bits[__builtin_ctz(j)], mk = k < L ? bits[__builtin_ctz(k)] : 0;            \
        U for (int p = 0; p < m; p++) {                                                     \
          __m512i x = v[p], y = _mm512_permutexvar_epi##W(perm, x);                         \
          __m512i lo = _mm512_min_epu##W(x, y), hi = _mm512_max_epu##W(x, y);               \
          MT dir = k >= L ? (((p << LOG) & k) ? (MT)ALL : (MT)0) : mk;                      \
          v[p] = _mm512_mask_blend_epi##W((MT)(mj ^ dir), lo, hi);                          \
        }                                                                                   \
      }                                                                                     \
  }
#define UNROLL _Pragma("GCC unroll 16")
#ifdef __clang__ /* counts known at run time only: clang picks its own factor */
#define UNROLL_SOME
#else
#define UNROLL_SOME _Pragma("GCC unroll 8")
#endif
/* longer rows: one loop over vectors in memory (unrolling them would not fit registers) */
NET_FN(net32_loop, 32, 16, 4, __mmask16, bits16, 0xFFFF, UNROLL_SOME)
NET_FN(net64_loop, 64, 8, 3, __mmask8, bits8, 0xFF, UNROLL_SOME)
NET_ATTR __attribute__((noinline)) static void net32_long(__m512i *v, int m) { net32_loop(v, m); }
NET_ATTR __attribute__((noinline)) static void net64_long(__m512i *v, int m) { net64_loop(v, m); }

/* One stage (k, j) over m vectors; with constants for all three the loop over vectors unrolls
 * and the row stays in registers. */
#define STAGE_FN(name, W, L, LOG, MT, bits, ALL)                                            \
  NET_ATTR static inline __attribute__((always_inline)) void name(__m512i *v, int m, int k, \
                                                                  int j) {                  \
    if (j >= L) {                                                                           \
      int jv = j >> LOG;                                                                    \
      for (int p = 0; p < m; p++) {                                                         \
        if (p & jv) continue;                                                               \
        int q = p | jv;                                                                     \
        __m512i lo = _mm512_min_epu##W(v[p], v[q]), hi = _mm512_max_epu##W(v[p], v[q]);     \
        bool desc = ((p << LOG) & k) != 0;                                                  \
        v[p] = desc ? hi : lo;                                                              \
        v[q] = desc ? lo : hi;                                                              \
      }                                                                                     \
      return;                                                                               \
    }                                                                                       \
    __m512i lane = W == 32 ? _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0) \
                           : _mm512_set_epi64(7, 6, 5, 4, 3, 2, 1, 0);                       \
    __m512i perm = W == 32 ? _mm512_xor_si512(lane, _mm512_set1_epi32(j))                   \
                           : _mm512_xor_si512(lane, _mm512_set1_epi64(j));                  \
    MT mj = bits[__builtin_ctz(j)], mk = k < L ? bits[__builtin_ctz(k)] : 0;                \
    for (int p = 0; p < m; p++) {                                                           \
      __m512i x = v[p], y = _mm512_permutexvar_epi##W(perm, x);                             \
      __m512i lo = _mm512_min_epu##W(x, y), hi = _mm512_max_epu##W(x, y);                   \
      MT dir = k >= L ? (((p << LOG) & k) ? (MT)ALL : (MT)0) : mk;                          \
      v[p] = _mm512_mask_blend_epi##W((MT)(mj ^ dir), lo, hi);                              \
    }                                                                                       \
  }
STAGE_FN(stage32, 32, 16, 4, __mmask16, bits16, 0xFFFF)
STAGE_FN(stage64, 64, 8, 3, __mmask8, bits8, 0xFF)

/* The stages (k, j) of a network of P elements, spelled out: S(k, j) per stage. */
#define K_2 S(2, 1)
#define K_4 S(4, 2) S(4, 1)
#define K_8 S(8, 4) S(8, 2) S(8, 1)
#define K_16 S(16, 8) S(16, 4) S(16, 2) S(16, 1)
#define K_32 S(32, 16) S(32, 8) S(32, 4) S(32, 2) S(32, 1)
#define K_64 S(64, 32) S(64, 16) S(64, 8) S(64, 4) S(64, 2) S(64, 1)
#define K_128 S(128, 64) S(128, 32) S(128, 16) S(128, 8) S(128, 4) S(128, 2) S(128, 1)
#define K_256 S(256, 128) S(256, 64) S(256, 32) S(256, 16) S(256, 8) S(256, 4) S(256, 2) S(256, 1)
#define UPTO_8 K_2 K_4 K_8
#define UPTO_16 UPTO_8 K_16
#define UPTO_32 UPTO_16 K_32
#define UPTO_64 UPTO_32 K_64
#define UPTO_128 UPTO_64 K_128
#define UPTO_256 UPTO_128 K_256

/* Loads a[0, n) into vectors padded with the largest key, sorts, stores a[0, n). */
#define NET_SORT(name, longer, T, W, L)                                                        \
  NET_ATTR static void name(T *a, int n) {                                                  \
    __m512i v[MX_SORTNET_MAX / L], pad = _mm512_set1_epi##W(-1);                            \
    int m = 1;                                                                              \
    while (m * L < n) m <<= 1;                                                              \
    for (int p = 0; p < m; p++) {                                                           \
      int left = n - p * L;                                                                 \
      if (left >= L) v[p] = _mm512_loadu_si512(a + p * L);                                  \
      else if (left > 0) v[p] = _mm512_mask_loadu_epi##W(pad, (1u << left) - 1, a + p * L); \
      else v[p] = pad;                                                                      \
    }                                                                                       \
    NETS_##L(v, m, longer)                                                                  \
    for (int p = 0; p * L < n; p++) {                                                       \
      int left = n - p * L;                                                                 \
      if (left >= L) _mm512_storeu_si512(a + p * L, v[p]);                                  \
      else _mm512_mask_storeu_epi##W(a + p * L, (1u << left) - 1, v[p]);                    \
    }                                                                                       \
  }
/* Rows of up to 16 vectors run a spelled-out network (constant stages), longer ones a loop. */
#define S(k, j) STG(v, M, k, j);
#define NETS_16(v, m, longer)                                                                \
  switch (m) {                                                                              \
  case 1: { enum { M = 1 }; UPTO_16 } break;                                                \
  case 2: { enum { M = 2 }; UPTO_32 } break;                                                \
  case 4: { enum { M = 4 }; UPTO_64 } break;                                                \
  case 8: { enum { M = 8 }; UPTO_128 } break;                                               \
  case 16: { enum { M = 16 }; UPTO_256 } break;                                             \
  default: longer(v, m); break;                                                             \
  }
#define NETS_8(v, m, longer)                                                                 \
  switch (m) {                                                                              \
  case 1: { enum { M = 1 }; UPTO_8 } break;                                                 \
  case 2: { enum { M = 2 }; UPTO_16 } break;                                                \
  case 4: { enum { M = 4 }; UPTO_32 } break;                                                \
  case 8: { enum { M = 8 }; UPTO_64 } break;                                                \
  case 16: { enum { M = 16 }; UPTO_128 } break;                                             \
  default: longer(v, m); break;                                                             \
  }
#define STG stage32
NET_SORT(sort32, net32_long, uint32_t, 32, 16)
#undef STG
#define STG stage64
NET_SORT(sort64, net64_long, uint64_t, 64, 8)
#undef STG

/* AVX2: 8 or 4 lanes; lanes are picked by byte blends, 64-bit keys compared as signed
 * after flipping their top bit (AVX2 has no unsigned 64-bit compare). */
#define A2_ATTR __attribute__((target("avx2")))

A2_ATTR static inline __m256i a2_min32(__m256i x, __m256i y) { return _mm256_min_epu32(x, y); }
A2_ATTR static inline __m256i a2_max32(__m256i x, __m256i y) { return _mm256_max_epu32(x, y); }
A2_ATTR static inline __m256i a2_gt64(__m256i x, __m256i y) {
  const __m256i sign = _mm256_set1_epi64x(INT64_MIN);
  return _mm256_cmpgt_epi64(_mm256_xor_si256(x, sign), _mm256_xor_si256(y, sign));
}
A2_ATTR static inline __m256i a2_min64(__m256i x, __m256i y) {
  return _mm256_blendv_epi8(x, y, a2_gt64(x, y));
}
A2_ATTR static inline __m256i a2_max64(__m256i x, __m256i y) {
  return _mm256_blendv_epi8(y, x, a2_gt64(x, y));
}

/* SUB: 32-bit sub-lanes per key (1 or 2); lane index l of a key is l32 / SUB. */
#define A2_NET_FN(name, W, L, LOG, SUB, U)                                                     \
  A2_ATTR static inline __attribute__((always_inline)) void name(__m256i *v, int m) {       \
    const int P = m * L;                                                                    \
    const __m256i l32 = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), ones = _mm256_set1_epi32(-1); \
    const __m256i key = _mm256_srli_epi32(l32, SUB - 1); /* each sub-lane's key index */    \
    U for (int k = 2; k <= P; k <<= 1)                                                      \
      U for (int j = k >> 1; j > 0; j >>= 1) {                                              \
        if (j >= L) {                                                                       \
          int jv = j >> LOG;                                                                \
          U for (int p = 0; p < m; p++) {                                                   \
            if (p & jv) continue;                                                           \
            int q = p | jv;                                                                 \
            __m256i lo = a2_min##W(v[p], v[q]), hi = a2_max##W(v[p], v[q]);                 \
            bool desc = ((p << LOG) & k) != 0;                                              \
            v[p] = desc ? hi : lo;                                                          \
            v[q] = desc ? lo : hi;                                                          \
          }                                                                                 \
          continue;                                                                         \
        }                                                                                   \
        __m256i perm = _mm256_xor_si256(l32, _mm256_set1_epi32(j * SUB));                   \
        __m256i bj = _mm256_set1_epi32(j), bk = _mm256_set1_epi32(k);                       \
        __m256i mj = _mm256_cmpeq_epi32(_mm256_and_si256(key, bj), bj);                     \
        __m256i mk = k < L ? _mm256_cmpeq_epi32(_mm256_and_si256(key, bk), bk)              \
                           : _mm256_setzero_si256();                                        \
        U for (int p = 0; p < m; p++) {                                                     \
          __m256i x = v[p], y = _mm256_permutevar8x32_epi32(x, perm);                       \
          __m256i lo = a2_min##W(x, y), hi = a2_max##W(x, y);                               \
          __m256i dir = k >= L ? (((p << LOG) & k) ? ones : _mm256_setzero_si256()) : mk;   \
          v[p] = _mm256_blendv_epi8(lo, hi, _mm256_xor_si256(mj, dir));                     \
        }                                                                                   \
      }                                                                                     \
  }
A2_NET_FN(a2net32, 32, 8, 3, 1, UNROLL)
A2_NET_FN(a2net64, 64, 4, 2, 2, UNROLL)
A2_NET_FN(a2net32_loop, 32, 8, 3, 1, UNROLL_SOME)
A2_NET_FN(a2net64_loop, 64, 4, 2, 2, UNROLL_SOME)
A2_ATTR __attribute__((noinline)) static void a2net32_long(__m256i *v, int m) { a2net32_loop(v, m); }
A2_ATTR __attribute__((noinline)) static void a2net64_long(__m256i *v, int m) { a2net64_loop(v, m); }

#define A2_MAX64 256 /* longer rows of 64-bit keys sort faster by radix than on 4 lanes */

/* Through a padded copy: AVX2's masked loads fill with zeros, not the largest key. */
#define A2_NET_SORT(name, net, T, L)                                                        \
  A2_ATTR static void name(T *a, int n) {                                                   \
    __m256i v[MX_SORTNET_MAX / L];                                                          \
    T buf[MX_SORTNET_MAX] __attribute__((aligned(32)));                                     \
    int m = 1;                                                                              \
    while (m * L < n) m <<= 1;                                                              \
    memcpy(buf, a, (size_t)n * sizeof(T));                                                  \
    memset(buf + n, 0xFF, (size_t)(m * L - n) * sizeof(T));                                 \
    for (int p = 0; p < m; p++) v[p] = _mm256_load_si256((const __m256i *)(buf + p * L));   \
    switch (m) {                                                                            \
    case 1: net(v, 1); break;                                                               \
    case 2: net(v, 2); break;                                                               \
    case 4: net(v, 4); break;                                                               \
    case 8: net(v, 8); break;                                                               \
    default: net##_long(v, m); break;                                                       \
    }                                                                                       \
    for (int p = 0; p < m; p++) _mm256_store_si256((__m256i *)(buf + p * L), v[p]);         \
    memcpy(a, buf, (size_t)n * sizeof(T));                                                  \
  }
A2_NET_SORT(a2sort32, a2net32, uint32_t, 8)
A2_NET_SORT(a2sort64, a2net64, uint64_t, 4)

/* 2: AVX-512, 1: AVX2, 0: none (the instruction set vmath.c picked, MLX_VMATH_ISA caps it) */
static int net_level(void) {
  const char *isa = mx_vm_isa();
  return strcmp(isa, "avx512f") == 0 ? 2 : strcmp(isa, "avx2") == 0 ? 1 : 0;
}

bool mx_cpu_sortnet_u32(uint32_t *a, int64_t n) {
  int lvl = n > MX_SORTNET_MAX ? 0 : net_level();
  if (lvl == 0) return false;
  if (n > 1) {
    if (lvl == 2) sort32(a, (int)n);
    else a2sort32(a, (int)n);
  }
  return true;
}

bool mx_cpu_sortnet_u64(uint64_t *a, int64_t n) {
  int lvl = n > MX_SORTNET_MAX ? 0 : net_level();
  if (lvl == 0 || (lvl == 1 && n > A2_MAX64)) return false;
  if (n > 1) {
    if (lvl == 2) sort64(a, (int)n);
    else a2sort64(a, (int)n);
  }
  return true;
}

#else

bool mx_cpu_sortnet_u32(uint32_t *a, int64_t n) {
  (void)a, (void)n;
  return false;
}

bool mx_cpu_sortnet_u64(uint64_t *a, int64_t n) {
  (void)a, (void)n;
  return false;
}

#endif
