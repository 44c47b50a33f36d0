/* sort_net.c: bitonic sorting networks for short rows of unsigned 32-bit and 64-bit keys
 * (sort_net.h). A row is padded with the largest key to a power-of-two count of AVX-512
 * vectors; compare-exchanges between lanes of one vector use a permute and a masked blend,
 * those between vectors a plain min/max. Other CPUs return false (sort_radix.c falls back). */
#include "sort_net.h"

#include <string.h>

#include "vmath.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

#define NET_ATTR __attribute__((target("avx512f")))

/* Lanes whose bit log2(j) is set, j = 1, 2, 4, 8: they take the larger key of a pair. */
static const __mmask16 bits16[4] = {0xAAAA, 0xCCCC, 0xF0F0, 0xFF00};
static const __mmask8 bits8[3] = {0xAA, 0xCC, 0xF0};

/* One network over m vectors of L lanes (m * L a power of two). Stage (k, j) pairs element
 * i with i ^ j; the pair is ascending where bit k of i is clear. */
#define NET_FN(name, W, L, LOG, MT, bits, ALL)                                              \
  NET_ATTR static inline __attribute__((always_inline)) void name(__m512i *v, int m) {      \
    const int P = m * L;                                                                    \
    __m512i lane = W == 32 ? _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0) \
                           : _mm512_set_epi64(7, 6, 5, 4, 3, 2, 1, 0);                       \
    _Pragma("GCC unroll 16") for (int k = 2; k <= P; k <<= 1)                               \
      _Pragma("GCC unroll 16") for (int j = k >> 1; j > 0; j >>= 1) {                       \
        if (j >= L) { /* between vectors p and p | j / L */                                 \
          int jv = j >> LOG;                                                                \
          _Pragma("GCC unroll 16") for (int p = 0; p < m; p++) {                            \
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
        _Pragma("GCC unroll 16") for (int p = 0; p < m; p++) {                              \
          __m512i x = v[p], y = _mm512_permutexvar_epi##W(perm, x);                         \
          __m512i lo = _mm512_min_epu##W(x, y), hi = _mm512_max_epu##W(x, y);               \
          MT dir = k >= L ? (((p << LOG) & k) ? (MT)ALL : (MT)0) : mk;                      \
          v[p] = _mm512_mask_blend_epi##W((MT)(mj ^ dir), lo, hi);                          \
        }                                                                                   \
      }                                                                                     \
  }
NET_FN(net32, 32, 16, 4, __mmask16, bits16, 0xFFFF)
NET_FN(net64, 64, 8, 3, __mmask8, bits8, 0xFF)
/* longer rows: one loop over vectors in memory (unrolling them would not fit registers) */
NET_ATTR __attribute__((noinline)) static void net32_long(__m512i *v, int m) { net32(v, m); }
NET_ATTR __attribute__((noinline)) static void net64_long(__m512i *v, int m) { net64(v, m); }

/* Loads a[0, n) into vectors padded with the largest key, sorts, stores a[0, n). */
#define NET_SORT(name, net, T, W, L)                                                        \
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
    switch (m) { /* constant counts: the network unrolls into registers */                  \
    case 1: net(v, 1); break;                                                               \
    case 2: net(v, 2); break;                                                               \
    case 4: net(v, 4); break;                                                               \
    case 8: net(v, 8); break;                                                               \
    case 16: net(v, 16); break;                                                             \
    default: net##_long(v, m); break;                                                       \
    }                                                                                       \
    for (int p = 0; p * L < n; p++) {                                                       \
      int left = n - p * L;                                                                 \
      if (left >= L) _mm512_storeu_si512(a + p * L, v[p]);                                  \
      else _mm512_mask_storeu_epi##W(a + p * L, (1u << left) - 1, v[p]);                    \
    }                                                                                       \
  }
NET_SORT(sort32, net32, uint32_t, 32, 16)
NET_SORT(sort64, net64, uint64_t, 64, 8)

static bool net_ok(void) { return strcmp(mx_vm_isa(), "avx512f") == 0; }

bool mx_cpu_sortnet_u32(uint32_t *a, int64_t n) {
  if (n > MX_SORTNET_MAX || !net_ok()) return false;
  if (n > 1) sort32(a, (int)n);
  return true;
}

bool mx_cpu_sortnet_u64(uint64_t *a, int64_t n) {
  if (n > MX_SORTNET_MAX || !net_ok()) return false;
  if (n > 1) sort64(a, (int)n);
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
