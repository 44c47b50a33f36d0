/* sort_select.c: quickselect steps for long partitions of 32-bit keys (sort_select.h). Each
 * step partitions the range around a median-of-three pivot from one buffer into the other:
 * per vector, the keys below the pivot are compressed to the front and the rest to the back
 * (full-vector stores; their spill lands in the gap not yet written). The side without kth is
 * final and moved to a; the other side is partitioned next. */
#include "sort_select.h"

#include <string.h>

#include "vmath.h"

#define SEL_SHORT 2048 /* ranges this short are left to the caller's scalar select */

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

#define SEL_ATTR __attribute__((target("avx512f")))

/* x[lo, hi) into y[lo, hi): elements below `bound` (le: not above it) first; returns where
 * they end. Blocks of 16 elements (one vector of 32-bit keys, two of 64-bit pairs) so that
 * keys and pairs holding the same keys move alike: partition and argpartition agree. */
SEL_ATTR static int64_t part32(const uint32_t *x, uint32_t *y, int64_t lo, int64_t hi,
                               uint32_t bound, bool le) {
  int64_t l = lo, r = hi, i = lo; /* r - l == hi - i: the gap left to fill */
  __m512i bv = _mm512_set1_epi32((int)bound);
  for (; r - l >= 32; i += 16) { /* both spills stay inside the gap */
    __m512i v = _mm512_loadu_si512(x + i);
    __mmask16 m = le ? _mm512_cmple_epu32_mask(v, bv) : _mm512_cmplt_epu32_mask(v, bv);
    int c = __builtin_popcount(m);
    _mm512_storeu_si512(y + l, _mm512_maskz_compress_epi32(m, v));
    __m512i rv = _mm512_maskz_compress_epi32((__mmask16)~m, v);
    _mm512_storeu_si512(y + r - 16, _mm512_maskz_expand_epi32((__mmask16)(~0u << c), rv));
    l += c;
    r -= 16 - c;
  }
  for (; i < hi; i++) {
    uint32_t e = x[i];
    if (le ? e <= bound : e < bound) y[l++] = e;
    else y[--r] = e;
  }
  return l;
}

SEL_ATTR static int64_t part64(const uint64_t *x, uint64_t *y, int64_t lo, int64_t hi,
                               uint64_t bound, bool le) {
  int64_t l = lo, r = hi, i = lo;
  __m512i bv = _mm512_set1_epi64((long long)bound);
  for (; r - l >= 32; i += 16) {
    __m512i v0 = _mm512_loadu_si512(x + i), v1 = _mm512_loadu_si512(x + i + 8);
    __mmask8 m0 = le ? _mm512_cmple_epu64_mask(v0, bv) : _mm512_cmplt_epu64_mask(v0, bv);
    __mmask8 m1 = le ? _mm512_cmple_epu64_mask(v1, bv) : _mm512_cmplt_epu64_mask(v1, bv);
    int c0 = __builtin_popcount(m0), c1 = __builtin_popcount(m1);
    _mm512_storeu_si512(y + l, _mm512_maskz_compress_epi64(m0, v0));
    _mm512_storeu_si512(y + l + c0, _mm512_maskz_compress_epi64(m1, v1));
    __m512i r1 = _mm512_maskz_compress_epi64((__mmask8)~m1, v1);
    _mm512_storeu_si512(y + r - 8, _mm512_maskz_expand_epi64((__mmask8)(~0u << c1), r1));
    __m512i r0 = _mm512_maskz_compress_epi64((__mmask8)~m0, v0);
    _mm512_storeu_si512(y + r - (8 - c1) - 8, _mm512_maskz_expand_epi64((__mmask8)(~0u << c0), r0));
    l += c0 + c1;
    r -= 16 - c0 - c1;
  }
  for (; i < hi; i++) {
    uint64_t e = x[i];
    if (le ? e <= bound : e < bound) y[l++] = e;
    else y[--r] = e;
  }
  return l;
}

/* KEYOF: an element's key; LT/LE: the bound for "key < p" / "key <= p". */
#define KEY32(e) (e)
#define LT32(p) (p)
#define LE32(p) (p)
#define KEYP(e) ((uint32_t)((e) >> 32))
#define LTP(p) ((uint64_t)(p) << 32)
#define LEP(p) (((uint64_t)(p) << 32) | 0xFFFFFFFFu)

#define SELECT_FN(name, part, T, KEYOF, LT, LE)                                             \
  SEL_ATTR static void name(T *a, T *t, int64_t n, int64_t kth, int64_t *lo_, int64_t *hi_) { \
    T *x = a, *y = t;                                                                       \
    int64_t lo = 0, hi = n;                                                                 \
    int budget = 8;                                                                         \
    for (int64_t m = n; m > 1; m >>= 1) budget += 2;                                        \
    while (hi - lo > SEL_SHORT && budget-- > 0) {                                           \
      uint32_t x0 = KEYOF(x[lo]), x1 = KEYOF(x[lo + (hi - lo) / 2]), x2 = KEYOF(x[hi - 1]), p; \
      if (x0 < x1) p = x1 < x2 ? x1 : (x0 < x2 ? x2 : x0);                                  \
      else p = x0 < x2 ? x0 : (x1 < x2 ? x2 : x1);                                          \
      int64_t m = part(x, y, lo, hi, LT(p), false);                                         \
      if (m == lo) { /* p is the least key: split off the keys equal to it */               \
        m = part(x, y, lo, hi, LE(p), true);                                                \
        if (kth < m) { /* kth holds p: done */                                              \
          if (y != a) memcpy(a + lo, y + lo, (size_t)(hi - lo) * sizeof(T));                \
          *lo_ = kth;                                                                       \
          *hi_ = kth + 1;                                                                   \
          return;                                                                           \
        }                                                                                   \
      }                                                                                     \
      if (kth < m) {                                                                        \
        if (y != a) memcpy(a + m, y + m, (size_t)(hi - m) * sizeof(T));                     \
        hi = m;                                                                             \
      } else {                                                                              \
        if (y != a) memcpy(a + lo, y + lo, (size_t)(m - lo) * sizeof(T));                   \
        lo = m;                                                                             \
      }                                                                                     \
      T *sw = x;                                                                            \
      x = y;                                                                                \
      y = sw;                                                                               \
    }                                                                                       \
    if (x != a) memcpy(a + lo, x + lo, (size_t)(hi - lo) * sizeof(T));                      \
    *lo_ = lo;                                                                              \
    *hi_ = hi;                                                                              \
  }
SELECT_FN(select32, part32, uint32_t, KEY32, LT32, LE32)
SELECT_FN(selectp, part64, uint64_t, KEYP, LTP, LEP)

static bool sel_ok(void) { return strcmp(mx_vm_isa(), "avx512f") == 0; }

bool mx_cpu_select_u32(uint32_t *a, uint32_t *t, int64_t n, int64_t kth, int64_t *lo, int64_t *hi) {
  if (!sel_ok()) return false;
  select32(a, t, n, kth, lo, hi);
  return true;
}

bool mx_cpu_select_pairs(uint64_t *a, uint64_t *t, int64_t n, int64_t kth, int64_t *lo,
                         int64_t *hi) {
  if (!sel_ok()) return false;
  selectp(a, t, n, kth, lo, hi);
  return true;
}

#else

bool mx_cpu_select_u32(uint32_t *a, uint32_t *t, int64_t n, int64_t kth, int64_t *lo, int64_t *hi) {
  (void)a, (void)t, (void)n, (void)kth, (void)lo, (void)hi;
  return false;
}

bool mx_cpu_select_pairs(uint64_t *a, uint64_t *t, int64_t n, int64_t kth, int64_t *lo,
                         int64_t *hi) {
  (void)a, (void)t, (void)n, (void)kth, (void)lo, (void)hi;
  return false;
}

#endif
