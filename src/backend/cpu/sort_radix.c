/* sort_radix.c: sorts and partitions one row of a real dtype (sort_radix.h). Values become
 * unsigned keys whose order is MLX's order; a row is sorted as bare keys (values that map
 * back exactly) or as (key, index) elements (indices wanted, or a float row holding -0.0 or
 * NaN, whose bits the keys merge). Keys of 8-32 bits pair with their index in one uint64. */
#include "sort_radix.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "pool.h"
#include "sort_net.h"
#include "sort_select.h"

#define SMALL_ROW 48        /* rows up to this length use insertion sort */
#define MAX_DIGIT_BITS 11
#define MAX_PASSES 6        /* 64-bit keys in 11-bit digits */
#define HIST_BYTES ((size_t)MAX_PASSES * ((size_t)1 << MAX_DIGIT_BITS) * sizeof(uint32_t))
#define PARALLEL_ROW (1 << 17) /* a row at least this long sorts over the pool */
#define MSD_ROW (1 << 16)      /* a row at least this long starts with a top-digit pass */

typedef struct pair64 {
  uint64_t k, i;
} pair64;

/* ---- keys: order-preserving maps of the raw bits to unsigned integers ---- */

static inline uint8_t key_b(uint8_t u, unsigned *lossy) {
  (void)lossy;
  return u != 0;
}
static inline uint8_t unkey_b(uint8_t k) { return k; }
#define KEY_UNSIGNED(sfx, W)                                                                \
  static inline uint##W##_t key_##sfx(uint##W##_t u, unsigned *lossy) {                     \
    (void)lossy;                                                                            \
    return u;                                                                               \
  }                                                                                         \
  static inline uint##W##_t unkey_##sfx(uint##W##_t k) { return k; }
#define KEY_SIGNED(sfx, W)                                                                  \
  static inline uint##W##_t key_##sfx(uint##W##_t u, unsigned *lossy) {                     \
    (void)lossy;                                                                            \
    return u ^ ((uint##W##_t)1 << (W - 1));                                                 \
  }                                                                                         \
  static inline uint##W##_t unkey_##sfx(uint##W##_t k) { return k ^ ((uint##W##_t)1 << (W - 1)); }
/* Floats: NaN (any sign or payload) maps to the largest key, -0.0 to +0.0's key; both mark
 * the row lossy. Otherwise negative numbers have every bit flipped, positive ones the sign. */
#define KEY_FLOAT(sfx, W, INF)                                                              \
  static inline uint##W##_t key_##sfx(uint##W##_t u, unsigned *lossy) {                     \
    typedef uint##W##_t T;                                                                  \
    const T sign = (T)1 << (W - 1);                                                         \
    unsigned nan = (T)(u & ~sign) > (T)(INF), nzero = u == sign;                            \
    *lossy |= nan | nzero;                                                                  \
    u &= (T)((T)nzero - 1); /* branch-free: random signs would defeat the predictor */       \
    T k = u ^ (T)((T)(0 - (T)(u >> (W - 1))) | sign);                                       \
    return k | (T)(0 - (T)nan);                                                             \
  }                                                                                         \
  static inline uint##W##_t unkey_##sfx(uint##W##_t k) {                                    \
    typedef uint##W##_t T;                                                                  \
    const T sign = (T)1 << (W - 1);                                                         \
    return k ^ (T)((T)((T)(k >> (W - 1)) - 1) | sign);                                      \
  }
KEY_UNSIGNED(u8, 8)
KEY_UNSIGNED(u16, 16)
KEY_UNSIGNED(u32, 32)
KEY_UNSIGNED(u64, 64)
KEY_SIGNED(i8, 8)
KEY_SIGNED(i16, 16)
KEY_SIGNED(i32, 32)
KEY_SIGNED(i64, 64)
KEY_FLOAT(f16, 16, 0x7C00u)
KEY_FLOAT(bf16, 16, 0x7F80u)
KEY_FLOAT(f32, 32, 0x7F800000u)
KEY_FLOAT(f64, 64, 0x7FF0000000000000ull)

/* ---- loads and stores of a range [b, e) of the row ---- */

typedef unsigned (*load_fn)(const char *src, int64_t is, int64_t b, int64_t e, void *out);
typedef void (*storek_fn)(const void *in, int64_t b, int64_t e, char *dst, int64_t os);

/* loadk: bare keys (returns the lossy flag); loadp: (key, index) elements; storek: values
 * from bare keys. */
#define ROW_IO(sfx, W, P)                                                                   \
  static unsigned loadk_##sfx(const char *src, int64_t is, int64_t b, int64_t e, void *out) { \
    uint##W##_t *o = (uint##W##_t *)out;                                                    \
    unsigned lossy = 0;                                                                     \
    for (int64_t j = b; j < e; j++) {                                                       \
      uint##W##_t u;                                                                        \
      memcpy(&u, src + j * is * (W / 8), W / 8);                                            \
      o[j] = key_##sfx(u, &lossy);                                                          \
    }                                                                                       \
    return lossy;                                                                           \
  }                                                                                         \
  static unsigned loadp_##sfx(const char *src, int64_t is, int64_t b, int64_t e, void *out) { \
    unsigned lossy = 0;                                                                     \
    for (int64_t j = b; j < e; j++) {                                                       \
      uint##W##_t u;                                                                        \
      memcpy(&u, src + j * is * (W / 8), W / 8);                                            \
      PAIR_SET_##P(out, j, key_##sfx(u, &lossy));                                           \
    }                                                                                       \
    return lossy;                                                                           \
  }                                                                                         \
  static void storek_##sfx(const void *in, int64_t b, int64_t e, char *dst, int64_t os) {   \
    const uint##W##_t *k = (const uint##W##_t *)in;                                         \
    uint##W##_t *d = (uint##W##_t *)dst;                                                    \
    if (os == 1)                                                                            \
      for (int64_t j = b; j < e; j++) d[j] = unkey_##sfx(k[j]);                             \
    else                                                                                    \
      for (int64_t j = b; j < e; j++) d[j * os] = unkey_##sfx(k[j]);                        \
  }
#define PAIR_SET_P32(out, j, key) ((uint64_t *)(out))[j] = ((uint64_t)(key) << 32) | (uint64_t)(j)
#define PAIR_SET_P64(out, j, key)                                                           \
  do {                                                                                      \
    ((pair64 *)(out))[j].k = (key);                                                         \
    ((pair64 *)(out))[j].i = (uint64_t)(j);                                                 \
  } while (0)
ROW_IO(b, 8, P32)
ROW_IO(u8, 8, P32)
ROW_IO(u16, 16, P32)
ROW_IO(u32, 32, P32)
ROW_IO(u64, 64, P64)
ROW_IO(i8, 8, P32)
ROW_IO(i16, 16, P32)
ROW_IO(i32, 32, P32)
ROW_IO(i64, 64, P64)
ROW_IO(f16, 16, P32)
ROW_IO(bf16, 16, P32)
ROW_IO(f32, 32, P32)
ROW_IO(f64, 64, P64)

/* Element formats: bare keys of 8..64 bits, or (key, index) pairs. */
enum { FMT_K8, FMT_K16, FMT_K32, FMT_K64, FMT_P32, FMT_P64 };

typedef struct dt_info {
  int bits, kbits; /* storage bits; key bits that vary */
  load_fn loadk, loadp;
  storek_fn storek;
} dt_info;

#define INFO(sfx, W, KB) {W, KB, loadk_##sfx, loadp_##sfx, storek_##sfx}
static const dt_info dt_tab[MX_DTYPE_COUNT] = {
    [MX_BOOL] = INFO(b, 8, 1),       [MX_UINT8] = INFO(u8, 8, 8),
    [MX_UINT16] = INFO(u16, 16, 16), [MX_UINT32] = INFO(u32, 32, 32),
    [MX_UINT64] = INFO(u64, 64, 64), [MX_INT8] = INFO(i8, 8, 8),
    [MX_INT16] = INFO(i16, 16, 16),  [MX_INT32] = INFO(i32, 32, 32),
    [MX_INT64] = INFO(i64, 64, 64),  [MX_FLOAT16] = INFO(f16, 16, 16),
    [MX_BFLOAT16] = INFO(bf16, 16, 16), [MX_FLOAT32] = INFO(f32, 32, 32),
    [MX_FLOAT64] = INFO(f64, 64, 64),
};

/* ---- the sorting core, one instance per element format ---- */

typedef struct plan {
  int passes, bits;
  uint32_t nb, mask;
} plan;

static plan plan_for(int kbits, int64_t n) {
  int db = n < 65536 ? 8 : MAX_DIGIT_BITS;
  plan p;
  p.passes = (kbits + db - 1) / db;
  p.bits = (kbits + p.passes - 1) / p.passes;
  p.nb = 1u << p.bits;
  p.mask = p.nb - 1;
  return p;
}

/* A pass over the pool: parts of the row count their digits, then scatter. */
typedef struct ppass {
  const void *from;
  void *to;
  int64_t n, part;
  int sh;
  uint32_t nb, mask;
  uint32_t *cnt; /* [parts][nb] */
} ppass;

/* Buckets of a long row after its top-digit pass: bucket k is [start[k], start[k + 1]) of t,
 * sorted into a; groups of buckets [group[g], group[g + 1]) are the pool's items. */
typedef struct msd_job {
  void *a, *t;
  const int64_t *start, *group;
  int bits;
} msd_job;

/* Long partitions of 32-bit keys start with sort_select.c's vector steps. */
#define SEL_k8(a, t, n, k, lo, hi) false
#define SEL_k16(a, t, n, k, lo, hi) false
#define SEL_k32(a, t, n, k, lo, hi) \
  ((n) > SMALL_ROW * 64 && mx_cpu_select_u32((uint32_t *)(a), (uint32_t *)(t), (n), (k), (lo), (hi)))
#define SEL_k64(a, t, n, k, lo, hi) false
/* pairs of 32-bit keys only: partitions of narrower dtypes use bare keys, which must agree */
#define SEL_p32(a, t, n, k, lo, hi)                                                          \
  ((n) > SMALL_ROW * 64 && kbits == 32 &&                                                    \
   mx_cpu_select_pairs((uint64_t *)(a), (uint64_t *)(t), (n), (k), (lo), (hi)))
#define SEL_p64(a, t, n, k, lo, hi) false

/* Narrow keys take the 32-bit network through a widened copy. */
#define NET_NARROW(name, T)                                                                 \
  static bool name(T *a, int64_t n) {                                                       \
    uint32_t w[MX_SORTNET_MAX];                                                             \
    if (n > MX_SORTNET_MAX) return false;                                                   \
    for (int64_t i = 0; i < n; i++) w[i] = a[i];                                            \
    if (!mx_cpu_sortnet_u32(w, n)) return false;                                            \
    for (int64_t i = 0; i < n; i++) a[i] = (T)w[i];                                         \
    return true;                                                                            \
  }
NET_NARROW(net_narrow8, uint8_t)
NET_NARROW(net_narrow16, uint16_t)

/* Short rows whose elements are whole keys go to the networks (the widest: 64 bits). */
#define NET_k8(a, n) net_narrow8((uint8_t *)(a), (n))
#define NET_k16(a, n) net_narrow16((uint16_t *)(a), (n))
#define NET_k32(a, n) mx_cpu_sortnet_u32((uint32_t *)(a), (n))
#define NET_k64(a, n) mx_cpu_sortnet_u64((uint64_t *)(a), (n))
#define NET_p32(a, n) mx_cpu_sortnet_u64((uint64_t *)(a), (n))
#define NET_p64(a, n) ((void)(a), false)

#define K_IDENT(e) ((uint64_t)(e))
#define K_P32(e) ((e) >> 32)
#define K_P64(e) ((e).k)

#define CORE(tag, E, KEY)                                                                   \
  static void bhist_##tag(const void *buf, int64_t b, int64_t e, uint32_t *h, int sh,       \
                          uint32_t mask) {                                                  \
    const E *a = (const E *)buf;                                                            \
    for (int64_t i = b; i < e; i++) h[(KEY(a[i]) >> sh) & mask]++;                          \
  }                                                                                         \
  static void isort_##tag(E *a, int64_t n) {                                                \
    for (int64_t j = 1; j < n; j++) {                                                       \
      E v = a[j];                                                                           \
      uint64_t kv = KEY(v);                                                                 \
      int64_t m = j;                                                                        \
      while (m > 0 && kv < KEY(a[m - 1])) {                                                 \
        a[m] = a[m - 1];                                                                    \
        m--;                                                                                \
      }                                                                                     \
      a[m] = v;                                                                             \
    }                                                                                       \
  }                                                                                         \
  /* Stable sort of a[0, n) by key; t is as large; returns a or t, whichever holds it. */   \
  static E *rsort_##tag(E *a, E *t, int64_t n, int kbits, uint32_t *hist) {                 \
    if (n <= MX_SORTNET_MAX && NET_##tag(a, n)) return a;                                   \
    if (n <= SMALL_ROW) {                                                                   \
      isort_##tag(a, n);                                                                    \
      return a;                                                                             \
    }                                                                                       \
    plan pl = plan_for(kbits, n);                                                           \
    memset(hist, 0, (size_t)pl.passes * pl.nb * sizeof *hist);                              \
    for (int64_t i = 0; i < n; i++) {                                                       \
      uint64_t k = KEY(a[i]);                                                               \
      for (int p = 0; p < pl.passes; p++) hist[p * pl.nb + ((k >> (p * pl.bits)) & pl.mask)]++; \
    }                                                                                       \
    E *from = a, *to = t;                                                                   \
    for (int p = 0; p < pl.passes; p++) {                                                   \
      uint32_t *h = hist + p * pl.nb;                                                       \
      int sh = p * pl.bits;                                                                 \
      if (h[(KEY(from[0]) >> sh) & pl.mask] == (uint32_t)n) continue; /* one digit value */ \
      uint32_t s = 0;                                                                       \
      for (uint32_t b = 0; b < pl.nb; b++) {                                                \
        uint32_t c = h[b];                                                                  \
        h[b] = s;                                                                           \
        s += c;                                                                             \
      }                                                                                     \
      for (int64_t i = 0; i < n; i++) {                                                     \
        E e = from[i];                                                                      \
        to[h[(KEY(e) >> sh) & pl.mask]++] = e;                                              \
      }                                                                                     \
      E *sw = from;                                                                         \
      from = to;                                                                            \
      to = sw;                                                                              \
    }                                                                                       \
    return from;                                                                            \
  }                                                                                         \
  static void phist_##tag(void *ctx, int64_t b, int64_t e) {                                \
    ppass *x = (ppass *)ctx;                                                                \
    const E *from = (const E *)x->from;                                                     \
    for (int64_t part = b; part < e; part++) {                                              \
      uint32_t *h = x->cnt + part * x->nb;                                                  \
      memset(h, 0, x->nb * sizeof *h);                                                      \
      int64_t lo = part * x->part, hi = lo + x->part < x->n ? lo + x->part : x->n;          \
      for (int64_t i = lo; i < hi; i++) h[(KEY(from[i]) >> x->sh) & x->mask]++;             \
    }                                                                                       \
  }                                                                                         \
  static void pscatter_##tag(void *ctx, int64_t b, int64_t e) {                             \
    ppass *x = (ppass *)ctx;                                                                \
    const E *from = (const E *)x->from;                                                     \
    E *to = (E *)x->to;                                                                     \
    for (int64_t part = b; part < e; part++) {                                              \
      uint32_t *h = x->cnt + part * x->nb;                                                  \
      int64_t lo = part * x->part, hi = lo + x->part < x->n ? lo + x->part : x->n;          \
      for (int64_t i = lo; i < hi; i++) {                                                   \
        E v = from[i];                                                                      \
        to[h[(KEY(v) >> x->sh) & x->mask]++] = v;                                           \
      }                                                                                     \
    }                                                                                       \
  }                                                                                         \
  /* rsort with each pass split into `parts` parts over the pool; cnt holds parts * 2^11. */ \
  static E *prsort_##tag(E *a, E *t, int64_t n, int kbits, uint32_t *cnt, int parts) {      \
    plan pl = plan_for(kbits, n);                                                           \
    ppass x = {a, t, n, (n + parts - 1) / parts, 0, pl.nb, pl.mask, cnt};                \
    for (int p = 0; p < pl.passes; p++) {                                                   \
      x.sh = p * pl.bits;                                                                   \
      mx_cpu_parallel_for(parts, 1, phist_##tag, &x);                                       \
      uint32_t d0 = (uint32_t)((KEY(((const E *)x.from)[0]) >> x.sh) & pl.mask), s = 0;     \
      int64_t tot = 0;                                                                      \
      for (int q = 0; q < parts; q++) tot += cnt[q * pl.nb + d0];                           \
      if (tot == n) continue;                                                               \
      for (uint32_t b = 0; b < pl.nb; b++)                                                  \
        for (int q = 0; q < parts; q++) {                                                   \
          uint32_t c = cnt[q * pl.nb + b];                                                  \
          cnt[q * pl.nb + b] = s;                                                           \
          s += c;                                                                           \
        }                                                                                   \
      mx_cpu_parallel_for(parts, 1, pscatter_##tag, &x);                                    \
      void *sw = (void *)x.from;                                                            \
      x.from = x.to;                                                                        \
      x.to = sw;                                                                            \
    }                                                                                       \
    return (E *)x.from;                                                                     \
  }                                                                                         \
  /* Sorts the bucket t[0, m) by its low `bits` key bits into a[0, m) (the bits above are    \
   * equal); passes whose digit is constant are skipped. buf (m elements, or NULL) lets an   \
   * even number of passes end in a without a final copy. */                                \
  static void bucket_##tag(E *a, E *t, E *buf, int64_t m, int bits, uint32_t *hist) {       \
    if (m <= SMALL_ROW || bits == 0) {                                                      \
      memcpy(a, t, (size_t)m * sizeof(E));                                                  \
      if (bits) isort_##tag(a, m);                                                          \
      return;                                                                               \
    }                                                                                       \
    int db = m >= 1024 || bits > 40 ? MAX_DIGIT_BITS : 8;                                   \
    int passes = (bits + db - 1) / db, pb = (bits + passes - 1) / passes, live[MAX_PASSES], nl = 0; \
    uint32_t nb = 1u << pb, mask = nb - 1;                                                  \
    memset(hist, 0, (size_t)passes * nb * sizeof *hist);                                    \
    if (passes == 2) {                                                                      \
      for (int64_t i = 0; i < m; i++) {                                                     \
        uint64_t k = KEY(t[i]);                                                             \
        hist[k & mask]++;                                                                   \
        hist[nb + ((k >> pb) & mask)]++;                                                    \
      }                                                                                     \
    } else {                                                                                \
      for (int64_t i = 0; i < m; i++) {                                                     \
        uint64_t k = KEY(t[i]);                                                             \
        for (int p = 0; p < passes; p++) hist[p * nb + ((k >> (p * pb)) & mask)]++;         \
      }                                                                                     \
    }                                                                                       \
    for (int p = 0; p < passes; p++)                                                        \
      if (hist[p * nb + ((KEY(t[0]) >> (p * pb)) & mask)] != (uint32_t)m) live[nl++] = p;   \
    E *from = t, *to = nl % 2 == 0 && buf ? buf : a;                                        \
    for (int q = 0; q < nl; q++) {                                                          \
      uint32_t *h = hist + live[q] * nb, s = 0;                                             \
      int sh = live[q] * pb;                                                                \
      for (uint32_t b = 0; b < nb; b++) {                                                   \
        uint32_t c = h[b];                                                                  \
        h[b] = s;                                                                           \
        s += c;                                                                             \
      }                                                                                     \
      for (int64_t i = 0; i < m; i++) {                                                     \
        E e = from[i];                                                                      \
        to[h[(KEY(e) >> sh) & mask]++] = e;                                                 \
      }                                                                                     \
      from = to;                                                                            \
      to = from == buf ? a : from == a ? t : a;                                             \
    }                                                                                       \
    if (from != a) memcpy(a, from, (size_t)m * sizeof(E));                                  \
  }                                                                                         \
  static void buckets_##tag(void *ctx, int64_t b, int64_t e) {                              \
    msd_job *x = (msd_job *)ctx;                                                            \
    uint32_t hist[MAX_PASSES << MAX_DIGIT_BITS];                                            \
    for (int64_t g = b; g < e; g++) {                                                       \
      int64_t b0 = x->group[g], b1 = x->group[g + 1], big = 0;                              \
      for (int64_t k = b0; k < b1; k++)                                                     \
        if (x->start[k + 1] - x->start[k] > big) big = x->start[k + 1] - x->start[k];       \
      E *buf = (E *)malloc((size_t)big * sizeof(E));                                        \
      for (int64_t k = b0; k < b1; k++) {                                                   \
        int64_t lo = x->start[k];                                                           \
        bucket_##tag((E *)x->a + lo, (E *)x->t + lo, buf, x->start[k + 1] - lo, x->bits, hist); \
      }                                                                                     \
      free(buf);                                                                            \
    }                                                                                       \
  }                                                                                         \
  /* A long row: one pass over the pool on the top digit, then each bucket (about n / 2^11  \
   * elements, cache-sized) by LSD on the rest, buckets over the pool. Keys whose top digit \
   * leaves one bucket too large for two threads to share go to prsort. */                  \
  static E *msd_##tag(E *a, E *t, int64_t n, int kbits, uint32_t *cnt, int parts, bool counted) { \
    int tb = MAX_DIGIT_BITS;                                                                \
    uint32_t nb = 1u << tb;                                                                 \
    ppass x = {a, t, n, (n + parts - 1) / parts, kbits - tb, nb, nb - 1, cnt};           \
    if (kbits <= 16) return prsort_##tag(a, t, n, kbits, cnt, parts);                       \
    if (!counted) mx_cpu_parallel_for(parts, 1, phist_##tag, &x);                           \
    int64_t *start = (int64_t *)malloc((2 * (size_t)nb + 2) * sizeof(int64_t));             \
    if (!start) return prsort_##tag(a, t, n, kbits, cnt, parts);                            \
    int64_t *group = start + nb + 1, s = 0, big = 0, ng = 0;                                \
    for (uint32_t b = 0; b < nb; b++) {                                                     \
      start[b] = s;                                                                         \
      for (int q = 0; q < parts; q++) {                                                     \
        uint32_t c = cnt[q * nb + b];                                                       \
        cnt[q * nb + b] = (uint32_t)s;                                                      \
        s += c;                                                                             \
      }                                                                                     \
      if (s - start[b] > big) big = s - start[b];                                           \
    }                                                                                       \
    start[nb] = s;                                                                          \
    if (big > n / (2 * parts)) {                                                            \
      free(start);                                                                          \
      return prsort_##tag(a, t, n, kbits, cnt, parts);                                      \
    }                                                                                       \
    mx_cpu_parallel_for(parts, 1, pscatter_##tag, &x);                                      \
    int64_t share = n / (8 * parts) > 1 ? n / (8 * parts) : 1, acc = 0;                     \
    group[ng++] = 0;                                                                        \
    for (uint32_t b = 0; b < nb; b++) {                                                     \
      acc += start[b + 1] - start[b];                                                       \
      if (acc >= share && b + 1 < nb) {                                                     \
        group[ng++] = b + 1;                                                                \
        acc = 0;                                                                            \
      }                                                                                     \
    }                                                                                       \
    group[ng] = nb;                                                                         \
    msd_job j = {a, t, start, group, kbits - tb};                                           \
    mx_cpu_parallel_for(ng, 1, buckets_##tag, &j);                                          \
    free(start);                                                                            \
    return a;                                                                               \
  }                                                                                         \
  /* a[lo, hi) reordered so elements with key < p (le: <= p) come first; returns their end. \
   * Branch-free: the comparison feeds an index, not a jump. */                            \
  static int64_t lomuto_##tag(E *a, int64_t lo, int64_t hi, uint64_t p, bool le) {          \
    int64_t m = lo;                                                                         \
    for (int64_t j = lo; j < hi; j++) {                                                     \
      E v = a[j];                                                                           \
      uint64_t kv = KEY(v);                                                                 \
      int64_t c = le ? kv <= p : kv < p;                                                    \
      a[j] = a[m];                                                                          \
      a[m] = v;                                                                             \
      m += c;                                                                               \
    }                                                                                       \
    return m;                                                                               \
  }                                                                                         \
  /* Moves the kth smallest to a[kth], smaller keys before it and larger after. */          \
  static void select_##tag(E *a, E *t, int64_t n, int64_t kth, int kbits, uint32_t *hist) { \
    int64_t lo = 0, hi = n; /* [0, lo) <= [lo, hi) <= [hi, n) */                            \
    int budget = 2;                                                                         \
    for (int64_t m = n; m > 1; m >>= 1) budget += 2;                                        \
    while (hi - lo > SMALL_ROW) {                                                           \
      if (budget-- == 0) { /* pathological input: sort what is left */                      \
        E *r = rsort_##tag(a + lo, t, hi - lo, kbits, hist);                                \
        if (r != a + lo) memcpy(a + lo, r, (size_t)(hi - lo) * sizeof(E));                  \
        return;                                                                             \
      }                                                                                     \
      uint64_t x0 = KEY(a[lo]), x1 = KEY(a[lo + (hi - lo) / 2]), x2 = KEY(a[hi - 1]), p;    \
      if (x0 < x1) p = x1 < x2 ? x1 : (x0 < x2 ? x2 : x0);                                  \
      else p = x0 < x2 ? x0 : (x1 < x2 ? x2 : x1);                                          \
      int64_t lt = lomuto_##tag(a, lo, hi, p, false);                                       \
      if (kth < lt) {                                                                       \
        hi = lt;                                                                            \
      } else if (lt > lo) {                                                                 \
        lo = lt;                                                                            \
      } else { /* p is the least key left: split off the keys equal to it */                \
        int64_t eq = lomuto_##tag(a, lo, hi, p, true);                                      \
        if (kth < eq) return;                                                               \
        lo = eq;                                                                            \
      }                                                                                     \
    }                                                                                       \
    isort_##tag(a + lo, hi - lo);                                                           \
  }                                                                                         \
  /* cnt (long rows): each part's top-digit counts, already counted when `counted` */     \
  static void *run_##tag(void *a, void *t, int64_t n, int64_t kth, int kbits, uint32_t *hist, \
                         uint32_t *cnt, int parts, bool counted) {                          \
    if (kth >= 0) { /* vector steps narrow the range first where they can */               \
      int64_t lo = 0, hi = n;                                                               \
      if (!SEL_##tag(a, t, n, kth, &lo, &hi)) lo = 0, hi = n;                               \
      select_##tag((E *)a + lo, (E *)t, hi - lo, kth - lo, kbits, hist);                    \
      return a;                                                                             \
    }                                                                                       \
    if (cnt) return msd_##tag((E *)a, (E *)t, n, kbits, cnt, parts, counted);               \
    return rsort_##tag((E *)a, (E *)t, n, kbits, hist);                                     \
  }
CORE(k8, uint8_t, K_IDENT)
CORE(k16, uint16_t, K_IDENT)
CORE(k32, uint32_t, K_IDENT)
CORE(k64, uint64_t, K_IDENT)
CORE(p32, uint64_t, K_P32)
CORE(p64, pair64, K_P64)

typedef void *(*run_fn)(void *, void *, int64_t, int64_t, int, uint32_t *, uint32_t *, int, bool);
static const run_fn run_tab[] = {run_k8, run_k16, run_k32, run_k64, run_p32, run_p64};
typedef void (*bhist_fn)(const void *, int64_t, int64_t, uint32_t *, int, uint32_t);
static const bhist_fn bhist_tab[] = {bhist_k8, bhist_k16, bhist_k32, bhist_k64, bhist_p32, bhist_p64};

/* ---- writing pairs back: indices, or values copied bit for bit from the row ---- */

static inline uint64_t pair_index(const void *p, int fmt, int64_t j) {
  return fmt == FMT_P32 ? (uint32_t)((const uint64_t *)p)[j] : ((const pair64 *)p)[j].i;
}

static void store_pairs(const mx_sortrow *r, int fmt, const void *p, int64_t b, int64_t e) {
  if (r->want_index) {
    uint32_t *d = (uint32_t *)r->dst;
    for (int64_t j = b; j < e; j++) d[j * r->os] = (uint32_t)pair_index(p, fmt, j);
    return;
  }
  int es = mx_dtype_size(r->t);
  for (int64_t j = b; j < e; j++) {
    const char *s = r->src + (int64_t)pair_index(p, fmt, j) * r->is * es;
    char *d = r->dst + j * r->os * es;
    switch (es) {
    case 1: *d = *s; break;
    case 2: memcpy(d, s, 2); break;
    case 4: memcpy(d, s, 4); break;
    default: memcpy(d, s, 8); break;
    }
  }
}

/* ---- loads and stores of a long row over the pool ---- */

typedef struct pio {
  const mx_sortrow *r;
  const dt_info *d;
  void *buf;
  int fmt;
  bool pairs;
  _Atomic unsigned lossy;
  uint32_t *cnt; /* NULL, or per part the counts of the top digit: (key >> sh) & mask */
  int sh;
  uint32_t mask;
  int64_t part; /* elements per part */
} pio;

#define LOAD_BLOCK 4096 /* keys counted right after their load, while in cache */

static void pload(void *ctx, int64_t qb, int64_t qe) {
  pio *x = (pio *)ctx;
  load_fn f = x->pairs ? x->d->loadp : x->d->loadk;
  unsigned l = 0;
  for (int64_t q = qb; q < qe; q++) {
    int64_t lo = q * x->part, hi = lo + x->part < x->r->n ? lo + x->part : x->r->n;
    uint32_t *h = x->cnt ? x->cnt + q * ((int64_t)x->mask + 1) : NULL;
    if (h) memset(h, 0, ((size_t)x->mask + 1) * sizeof *h);
    for (int64_t b = lo; b < hi; b += LOAD_BLOCK) {
      int64_t e = b + LOAD_BLOCK < hi ? b + LOAD_BLOCK : hi;
      l |= f(x->r->src, x->r->is, b, e, x->buf);
      if (h) bhist_tab[x->fmt](x->buf, b, e, h, x->sh, x->mask);
    }
  }
  if (l) atomic_fetch_or(&x->lossy, l);
}

static void pstore(void *ctx, int64_t b, int64_t e) {
  pio *x = (pio *)ctx;
  if (x->pairs) store_pairs(x->r, x->fmt, x->buf, b, e);
  else x->d->storek(x->buf, b, e, x->r->dst, x->r->os);
}

bool mx_cpu_sortrow_supported(mx_dtype t) {
  return (unsigned)t < MX_DTYPE_COUNT && dt_tab[t].loadk != NULL;
}

size_t mx_cpu_sortrow_scratch(mx_dtype t, int64_t n) {
  size_t es = dt_tab[t].bits == 64 ? sizeof(pair64) : sizeof(uint64_t);
  return HIST_BYTES + 2 * (size_t)n * es;
}

void *mx_cpu_sortrow_alloc(size_t bytes) {
  const size_t huge = (size_t)2 << 20;
  if (bytes < 4 * huge) return malloc(bytes);
  void *p = NULL;
  if (posix_memalign(&p, huge, bytes) != 0) return NULL;
#ifdef MADV_HUGEPAGE
  madvise(p, bytes, MADV_HUGEPAGE); /* a scatter pass touches thousands of pages at once */
#endif
  return p;
}

void mx_cpu_sortrow_run(const mx_sortrow *r, void *scratch, bool parallel) {
  const dt_info *d = &dt_tab[r->t];
  int64_t n = r->n;
  uint32_t *hist = (uint32_t *)scratch;
  char *a = (char *)scratch + HIST_BYTES;
  int parts = parallel && n >= PARALLEL_ROW && r->kth < 0 ? mx_cpu_pool_size() : 1;
  uint32_t *cnt = NULL; /* long rows: the top-digit counts of each part (msd) */
  if (r->kth < 0 && (parts > 1 || n >= MSD_ROW)) {
    cnt = (uint32_t *)malloc((size_t)parts * ((size_t)1 << MAX_DIGIT_BITS) * sizeof *cnt);
    if (!cnt) parts = 1;
  }
  int64_t grain = parts > 1 ? (n + parts - 1) / parts : n;
  int tb = d->kbits < MAX_DIGIT_BITS ? d->kbits : MAX_DIGIT_BITS;
  pio io = {r, d, a, 0, r->want_index, 0, cnt, d->kbits - tb, (1u << tb) - 1, grain};
  if (!io.pairs) { /* bare keys unless the row has values the keys cannot give back */
    io.fmt = d->bits == 8 ? FMT_K8 : d->bits == 16 ? FMT_K16 : d->bits == 32 ? FMT_K32 : FMT_K64;
    if (r->os == 1) io.buf = r->dst; /* keys as wide as the values: sort in the output */
    mx_cpu_parallel_for(parts, 1, pload, &io);
    io.pairs = atomic_load(&io.lossy) != 0;
  }
  char *t = a + (size_t)n * (d->bits == 64 ? sizeof(pair64) : sizeof(uint64_t));
  if (io.pairs) {
    io.fmt = d->bits == 64 ? FMT_P64 : FMT_P32;
    io.buf = a;
    mx_cpu_parallel_for(parts, 1, pload, &io);
  }
  io.buf = run_tab[io.fmt](io.buf, t, n, r->kth, d->kbits, hist, cnt, parts, cnt != NULL);
  mx_cpu_parallel_for(n, grain, pstore, &io); /* in place when the keys ended in the output */
  free(cnt);
}
