/* sort.c: Sort, ArgSort, Partition and ArgPartition on the CPU. Each row along the axis is
 * loaded as keys (float16/bfloat16 widened to float32), its index permutation is sorted by
 * a stable bottom-up merge sort or selected by a three-way quickselect, and the values
 * (copied bit for bit) or the uint32 indices are written. Order: NaN after every number,
 * complex lexicographic (real, then imaginary), as MLX. Uses cpu.h's iterator. */
#include <math.h>
#include <string.h>

#include "../formulas.h"
#include "cpu.h"

/* strict weak orderings: a < b, with NaN greater than everything and equal to NaN */
#define LT_PLAIN(a, b) ((a) < (b))
#define LT_FLOAT(a, b) ((a) < (b) || ((b) != (b) && (a) == (a)))
static inline bool lt_c64(mx_c64 a, mx_c64 b) {
  bool na = a.re != a.re || a.im != a.im, nb = b.re != b.re || b.im != b.im;
  if (na || nb) return !na && nb;
  return a.re < b.re || (a.re == b.re && a.im < b.im);
}
#define LT_C64(a, b) lt_c64((a), (b))

#define MX_SORT_LT_b LT_PLAIN
#define MX_SORT_LT_u8 LT_PLAIN
#define MX_SORT_LT_u16 LT_PLAIN
#define MX_SORT_LT_u32 LT_PLAIN
#define MX_SORT_LT_u64 LT_PLAIN
#define MX_SORT_LT_i8 LT_PLAIN
#define MX_SORT_LT_i16 LT_PLAIN
#define MX_SORT_LT_i32 LT_PLAIN
#define MX_SORT_LT_i64 LT_PLAIN
#define MX_SORT_LT_f16 LT_FLOAT
#define MX_SORT_LT_f32 LT_FLOAT
#define MX_SORT_LT_f64 LT_FLOAT
#define MX_SORT_LT_bf16 LT_FLOAT
#define MX_SORT_LT_c64 LT_C64

#define INSERTION_RUN 16

/* Per dtype: load a row's keys, then sort (stable) or select the kth of the index array. */
#define SORT_FNS(unused, sfx)                                                               \
  static void load_keys_##sfx(const char *src, int64_t stride, int64_t n, void *keys_) {  \
    MX_CT_##sfx *keys = (MX_CT_##sfx *)keys_;                                              \
    const MX_ST_##sfx *s = (const MX_ST_##sfx *)src;                                       \
    for (int64_t i = 0; i < n; i++) keys[i] = MX_LD_##sfx(s[i * stride]);                  \
  }                                                                                        \
  static void msort_##sfx(const void *keys_, uint32_t *idx, uint32_t *tmp, int64_t n) {   \
    const MX_CT_##sfx *k = (const MX_CT_##sfx *)keys_;                                     \
    for (int64_t lo = 0; lo < n; lo += INSERTION_RUN) {                                    \
      int64_t hi = lo + INSERTION_RUN < n ? lo + INSERTION_RUN : n;                        \
      for (int64_t i = lo + 1; i < hi; i++) {                                              \
        uint32_t v = idx[i];                                                               \
        int64_t j = i;                                                                     \
        while (j > lo && MX_SORT_LT_##sfx(k[v], k[idx[j - 1]])) {                          \
          idx[j] = idx[j - 1];                                                             \
          j--;                                                                             \
        }                                                                                  \
        idx[j] = v;                                                                        \
      }                                                                                    \
    }                                                                                      \
    uint32_t *from = idx, *to = tmp;                                                       \
    for (int64_t w = INSERTION_RUN; w < n; w *= 2) {                                       \
      for (int64_t lo = 0; lo < n; lo += 2 * w) {                                          \
        int64_t mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n;       \
        int64_t i = lo, j = mid, o = lo;                                                   \
        while (i < mid && j < hi)                                                          \
          to[o++] = MX_SORT_LT_##sfx(k[from[j]], k[from[i]]) ? from[j++] : from[i++];      \
        while (i < mid) to[o++] = from[i++];                                               \
        while (j < hi) to[o++] = from[j++];                                                \
      }                                                                                    \
      uint32_t *t = from;                                                                  \
      from = to;                                                                           \
      to = t;                                                                              \
    }                                                                                      \
    if (from != idx) memcpy(idx, from, (size_t)n * sizeof(uint32_t));                      \
  }                                                                                        \
  /* Leaves idx[kth] in sorted position, smaller keys before it, larger after. */          \
  static void select_##sfx(const void *keys_, uint32_t *idx, uint32_t *tmp, int64_t n,    \
                           int64_t kth) {                                                  \
    const MX_CT_##sfx *k = (const MX_CT_##sfx *)keys_;                                     \
    int64_t lo = 0, hi = n; /* [lo, hi) holds kth */                                       \
    int budget = 2;                                                                        \
    for (int64_t m = n; m > 1; m >>= 1) budget += 2;                                       \
    while (hi - lo > INSERTION_RUN) {                                                      \
      if (budget-- == 0) { /* pathological input: sort what is left */                     \
        msort_##sfx(keys_, idx + lo, tmp, hi - lo);                                        \
        return;                                                                            \
      }                                                                                    \
      uint32_t a = idx[lo], b = idx[lo + (hi - lo) / 2], c = idx[hi - 1], piv;             \
      if (MX_SORT_LT_##sfx(k[a], k[b]))                                                    \
        piv = MX_SORT_LT_##sfx(k[b], k[c]) ? b : (MX_SORT_LT_##sfx(k[a], k[c]) ? c : a);   \
      else                                                                                 \
        piv = MX_SORT_LT_##sfx(k[a], k[c]) ? a : (MX_SORT_LT_##sfx(k[b], k[c]) ? c : b);   \
      MX_CT_##sfx p = k[piv];                                                              \
      /* three-way: [lo, lt) < p, [lt, i) == p, (gt, hi) > p */                            \
      int64_t lt = lo, i = lo, gt = hi - 1;                                                \
      while (i <= gt) {                                                                    \
        uint32_t v = idx[i];                                                               \
        if (MX_SORT_LT_##sfx(k[v], p)) {                                                   \
          idx[i++] = idx[lt];                                                              \
          idx[lt++] = v;                                                                   \
        } else if (MX_SORT_LT_##sfx(p, k[v])) {                                            \
          idx[i] = idx[gt];                                                                \
          idx[gt--] = v;                                                                   \
        } else {                                                                           \
          i++;                                                                             \
        }                                                                                  \
      }                                                                                    \
      if (kth < lt) hi = lt;                                                               \
      else if (kth > gt) lo = gt + 1;                                                      \
      else return;                                                                         \
    }                                                                                      \
    msort_##sfx(keys_, idx + lo, tmp, hi - lo);                                            \
  }
MX_DTYPE_SFX_LIST(SORT_FNS, _)

typedef void (*load_fn)(const char *, int64_t, int64_t, void *);
typedef void (*sort_fn)(const void *, uint32_t *, uint32_t *, int64_t);
typedef void (*select_fn)(const void *, uint32_t *, uint32_t *, int64_t, int64_t);
#define ENT_LOAD(unused, sfx) [MX_DT_##sfx] = load_keys_##sfx,
#define ENT_SORT(unused, sfx) [MX_DT_##sfx] = msort_##sfx,
#define ENT_SELECT(unused, sfx) [MX_DT_##sfx] = select_##sfx,
static const load_fn load_tab[MX_DTYPE_COUNT] = {MX_DTYPE_SFX_LIST(ENT_LOAD, _)};
static const sort_fn sort_tab[MX_DTYPE_COUNT] = {MX_DTYPE_SFX_LIST(ENT_SORT, _)};
static const select_fn select_tab[MX_DTYPE_COUNT] = {MX_DTYPE_SFX_LIST(ENT_SELECT, _)};

static void copy_elem(char *dst, const char *src, int size) {
  switch (size) {
  case 1: *(uint8_t *)dst = *(const uint8_t *)src; break;
  case 2: memcpy(dst, src, 2); break;
  case 4: memcpy(dst, src, 4); break;
  default: memcpy(dst, src, 8); break;
  }
}

/* kth < 0: full sort; else select. want_index: uint32 indices, else values. */
static int sort_rows(const char *op, const mx_tensor *in, int n_in, mx_tensor *out, int n_out,
                     int axis, int64_t kth, bool want_index) {
  if (n_in != 1 || n_out != 1 || in->ndim != out->ndim || axis < 0 || axis >= in->ndim)
    return mx_fail_int(MX_EINVAL, "[%s] Expected one input and one output of equal rank.", op);
  if ((unsigned)in->dtype >= MX_DTYPE_COUNT)
    return mx_fail_int(MX_ETYPE, "[%s] Invalid dtype.", op);
  int64_t n = in->shape[axis];
  if (out->size == 0 || n == 0) return 0;
  if (kth >= n) return mx_fail_int(MX_EINVAL, "[%s] kth out of range.", op);
  int nd = in->ndim, on = nd - 1;
  int esize = mx_dtype_size(in->dtype), osize = mx_dtype_size(out->dtype);
  if (want_index && out->dtype != MX_UINT32)
    return mx_fail_int(MX_ETYPE, "[%s] Index output must be uint32.", op);
  if (!want_index && out->dtype != in->dtype)
    return mx_fail_int(MX_ETYPE, "[%s] Output dtype must match the input.", op);
  size_t kbytes = ((size_t)n * (in->dtype == MX_FLOAT64 || in->dtype == MX_INT64 ||
                                        in->dtype == MX_UINT64 || in->dtype == MX_COMPLEX64
                                    ? 8
                                    : 4) +
                   7) & ~(size_t)7;
  size_t ibytes = (2 * (size_t)n * sizeof(uint32_t) + 7) & ~(size_t)7;
  size_t bytes = kbytes + ibytes + (size_t)(on > 0 ? on : 1) * (sizeof(int32_t) + 2 * sizeof(int64_t));
  char *mem = (char *)malloc(bytes);
  if (!mem) return mx_fail_int(MX_ENOMEM, "[malloc] Unable to allocate %zu bytes.", bytes);
  void *keys = mem;
  uint32_t *idx = (uint32_t *)(mem + kbytes), *tmp = idx + n;
  int64_t *ostr_in = (int64_t *)(mem + kbytes + ibytes), *ostr_out = ostr_in + (on > 0 ? on : 1);
  int32_t *oshape = (int32_t *)(ostr_out + (on > 0 ? on : 1));
  for (int d = 0, k = 0; d < nd; d++) {
    if (d == axis) continue;
    oshape[k] = in->shape[d];
    ostr_in[k] = in->strides[d];
    ostr_out[k] = out->strides[d];
    k++;
  }
  const int64_t *strides[2] = {ostr_in, ostr_out};
  mx_cpu_iter it;
  if (mx_cpu_iter_init(&it, 2, on, oshape, strides) < 0) {
    free(mem);
    return -1;
  }
  int64_t len = mx_cpu_iter_len(&it), s0 = mx_cpu_iter_stride(&it, 0),
          s1 = mx_cpu_iter_stride(&it, 1), offs[2];
  int64_t is = in->strides[axis], os = out->strides[axis];
  load_fn load = load_tab[in->dtype];
  mx_cpu_iter_seek(&it, 0, offs);
  for (int64_t r = 0; r < it.nruns; r++) {
    for (int64_t j = 0; j < len; j++) {
      const char *src = mx_cpu_at(in, offs[0] + j * s0);
      char *dst = mx_cpu_at(out, offs[1] + j * s1);
      load(src, is, n, keys);
      for (int64_t i = 0; i < n; i++) idx[i] = (uint32_t)i;
      if (kth < 0) sort_tab[in->dtype](keys, idx, tmp, n);
      else select_tab[in->dtype](keys, idx, tmp, n, kth);
      if (want_index) {
        for (int64_t i = 0; i < n; i++) ((uint32_t *)dst)[i * os] = idx[i];
      } else {
        for (int64_t i = 0; i < n; i++)
          copy_elem(dst + i * os * osize, src + (int64_t)idx[i] * is * esize, esize);
      }
    }
    mx_cpu_iter_next(&it, offs);
  }
  mx_cpu_iter_free(&it);
  free(mem);
  return 0;
}

int mx_cpu_sort(const mx_kernel_ctx *ctx, const mx_tensor *in, int n_in, mx_tensor *out, int n_out) {
  const mx_p_sort *p = (const mx_p_sort *)ctx->params;
  return sort_rows("sort", in, n_in, out, n_out, p ? p->axis : -1, -1, false);
}

int mx_cpu_argsort(const mx_kernel_ctx *ctx, const mx_tensor *in, int n_in, mx_tensor *out,
                   int n_out) {
  const mx_p_argsort *p = (const mx_p_argsort *)ctx->params;
  return sort_rows("argsort", in, n_in, out, n_out, p ? p->axis : -1, -1, true);
}

int mx_cpu_partition(const mx_kernel_ctx *ctx, const mx_tensor *in, int n_in, mx_tensor *out,
                     int n_out) {
  const mx_p_partition *p = (const mx_p_partition *)ctx->params;
  return sort_rows("partition", in, n_in, out, n_out, p ? p->axis : -1, p ? p->kth : 0, false);
}

int mx_cpu_argpartition(const mx_kernel_ctx *ctx, const mx_tensor *in, int n_in, mx_tensor *out,
                        int n_out) {
  const mx_p_argpartition *p = (const mx_p_argpartition *)ctx->params;
  return sort_rows("argpartition", in, n_in, out, n_out, p ? p->axis : -1, p ? p->kth : 0, true);
}
