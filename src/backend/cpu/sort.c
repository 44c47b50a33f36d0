/* sort.c: Sort, ArgSort, Partition and ArgPartition on the CPU, row by row along the axis
 * (rows over the pool; one long row sorts over the pool itself). Real dtypes go to
 * sort_radix.c; complex rows are loaded as (key, index) pairs, sorted by a stable merge sort
 * or selected by a three-way quickselect, and the values (copied bit for bit) or the uint32
 * indices are written. Order: NaN after every number, complex lexicographic (real, then
 * imaginary), as MLX. SearchSorted: binary search per value. Uses cpu.h's iterator. */
#include <math.h>
#include <string.h>

#include "../formulas.h"
#include "cpu.h"
#include "pool.h"
#include "sort_radix.h"

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

/* Complex rows are sorted as (key, index) pairs, so comparisons read contiguous memory.
 * load: a row into pairs; msort: stable sort; select: kth in place, smaller before. */
#define SORT_FNS(unused, sfx)                                                               \
  typedef struct pair_##sfx {                                                              \
    MX_CT_##sfx k;                                                                         \
    uint32_t i;                                                                            \
  } pair_##sfx;                                                                            \
  static void load_##sfx(const char *src, int64_t stride, int64_t n, void *out) {         \
    pair_##sfx *p = (pair_##sfx *)out;                                                     \
    const MX_ST_##sfx *s = (const MX_ST_##sfx *)src;                                       \
    for (int64_t j = 0; j < n; j++) {                                                      \
      p[j].k = MX_LD_##sfx(s[j * stride]);                                                 \
      p[j].i = (uint32_t)j;                                                                \
    }                                                                                      \
  }                                                                                        \
  static uint32_t index_##sfx(const void *p, int64_t j) { return ((const pair_##sfx *)p)[j].i; } \
  static void msort_##sfx(void *a_, void *t_, int64_t n) {                                \
    pair_##sfx *a = (pair_##sfx *)a_, *t = (pair_##sfx *)t_;                               \
    for (int64_t lo = 0; lo < n; lo += INSERTION_RUN) {                                    \
      int64_t hi = lo + INSERTION_RUN < n ? lo + INSERTION_RUN : n;                        \
      for (int64_t j = lo + 1; j < hi; j++) {                                              \
        pair_##sfx v = a[j];                                                               \
        int64_t m = j;                                                                     \
        while (m > lo && MX_SORT_LT_##sfx(v.k, a[m - 1].k)) {                              \
          a[m] = a[m - 1];                                                                 \
          m--;                                                                             \
        }                                                                                  \
        a[m] = v;                                                                          \
      }                                                                                    \
    }                                                                                      \
    pair_##sfx *from = a, *to = t;                                                         \
    for (int64_t w = INSERTION_RUN; w < n; w *= 2) {                                       \
      for (int64_t lo = 0; lo < n; lo += 2 * w) {                                          \
        int64_t mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n;       \
        int64_t x = lo, y = mid, o = lo;                                                   \
        if (mid >= hi || !MX_SORT_LT_##sfx(from[mid].k, from[mid - 1].k)) { /* in order */ \
          if (from != to) memcpy(to + lo, from + lo, (size_t)(hi - lo) * sizeof *from);    \
          continue;                                                                        \
        }                                                                                  \
        while (x < mid && y < hi)                                                          \
          to[o++] = MX_SORT_LT_##sfx(from[y].k, from[x].k) ? from[y++] : from[x++];        \
        while (x < mid) to[o++] = from[x++];                                               \
        while (y < hi) to[o++] = from[y++];                                                \
      }                                                                                    \
      pair_##sfx *sw = from;                                                               \
      from = to;                                                                           \
      to = sw;                                                                             \
    }                                                                                      \
    if (from != a) memcpy(a, from, (size_t)n * sizeof *a);                                 \
  }                                                                                        \
  static void select_##sfx(void *a_, void *t_, int64_t n, int64_t kth) {                  \
    pair_##sfx *a = (pair_##sfx *)a_;                                                      \
    int64_t lo = 0, hi = n; /* [lo, hi) holds kth */                                       \
    int budget = 2;                                                                        \
    for (int64_t m = n; m > 1; m >>= 1) budget += 2;                                       \
    while (hi - lo > INSERTION_RUN) {                                                      \
      if (budget-- == 0) { /* pathological input: sort what is left */                     \
        msort_##sfx(a + lo, t_, hi - lo);                                                  \
        return;                                                                            \
      }                                                                                    \
      MX_CT_##sfx x0 = a[lo].k, x1 = a[lo + (hi - lo) / 2].k, x2 = a[hi - 1].k, p;         \
      if (MX_SORT_LT_##sfx(x0, x1))                                                        \
        p = MX_SORT_LT_##sfx(x1, x2) ? x1 : (MX_SORT_LT_##sfx(x0, x2) ? x2 : x0);          \
      else                                                                                 \
        p = MX_SORT_LT_##sfx(x0, x2) ? x0 : (MX_SORT_LT_##sfx(x1, x2) ? x2 : x1);          \
      /* three-way: [lo, lt) < p, [lt, j) == p, (gt, hi) > p */                            \
      int64_t lt = lo, j = lo, gt = hi - 1;                                                \
      while (j <= gt) {                                                                    \
        pair_##sfx v = a[j];                                                               \
        if (MX_SORT_LT_##sfx(v.k, p)) {                                                    \
          a[j++] = a[lt];                                                                  \
          a[lt++] = v;                                                                     \
        } else if (MX_SORT_LT_##sfx(p, v.k)) {                                             \
          a[j] = a[gt];                                                                    \
          a[gt--] = v;                                                                     \
        } else {                                                                           \
          j++;                                                                             \
        }                                                                                  \
      }                                                                                    \
      if (kth < lt) hi = lt;                                                               \
      else if (kth > gt) lo = gt + 1;                                                      \
      else return;                                                                         \
    }                                                                                      \
    msort_##sfx(a + lo, t_, hi - lo);                                                      \
  }
SORT_FNS(_, c64)

typedef void (*load_fn)(const char *, int64_t, int64_t, void *);
typedef uint32_t (*index_fn)(const void *, int64_t);
typedef void (*sort_fn)(void *, void *, int64_t);
typedef void (*select_fn)(void *, void *, int64_t, int64_t);
#define ENT_LOAD(unused, sfx) [MX_DT_##sfx] = load_##sfx,
#define ENT_INDEX(unused, sfx) [MX_DT_##sfx] = index_##sfx,
#define ENT_SORT(unused, sfx) [MX_DT_##sfx] = msort_##sfx,
#define ENT_SELECT(unused, sfx) [MX_DT_##sfx] = select_##sfx,
#define ENT_PAIR(unused, sfx) [MX_DT_##sfx] = sizeof(pair_##sfx),
static const load_fn load_tab[MX_DTYPE_COUNT] = {ENT_LOAD(_, c64)};
static const index_fn index_tab[MX_DTYPE_COUNT] = {ENT_INDEX(_, c64)};
static const sort_fn sort_tab[MX_DTYPE_COUNT] = {ENT_SORT(_, c64)};
static const select_fn select_tab[MX_DTYPE_COUNT] = {ENT_SELECT(_, c64)};
static const size_t pair_size[MX_DTYPE_COUNT] = {ENT_PAIR(_, c64)};

static void copy_elem(char *dst, const char *src, int size) {
  switch (size) {
  case 1: *(uint8_t *)dst = *(const uint8_t *)src; break;
  case 2: memcpy(dst, src, 2); break;
  case 4: memcpy(dst, src, 4); break;
  default: memcpy(dst, src, 8); break;
  }
}

/* One sort/select job over rows; chunks of rows run on the pool, each with its own scratch. */
typedef struct rows_job {
  const mx_tensor *in;
  mx_tensor *out;
  int on;                   /* outer rank (the axis removed) */
  const int32_t *oshape;
  const int64_t *ostr_in, *ostr_out;
  int64_t n, kth, is, os;   /* row length, kth (< 0: sort), strides along the axis */
  bool want_index, parallel; /* parallel: each row may use the pool */
  _Atomic int failed;
} rows_job;

static void rows_range(void *ctx, int64_t begin, int64_t end) {
  rows_job *jb = (rows_job *)ctx;
  const mx_tensor *in = jb->in;
  mx_tensor *out = jb->out;
  int64_t n = jb->n;
  bool radix = mx_cpu_sortrow_supported(in->dtype);
  size_t pbytes = (pair_size[in->dtype] * (size_t)n + 7) & ~(size_t)7;
  char *mem = (char *)(radix ? mx_cpu_sortrow_alloc(mx_cpu_sortrow_scratch(in->dtype, n))
                                : malloc(2 * pbytes));
  const int64_t *strides[2] = {jb->ostr_in, jb->ostr_out};
  mx_cpu_iter it;
  if (!mem || mx_cpu_iter_init(&it, 2, jb->on, jb->oshape, strides) < 0) {
    free(mem);
    jb->failed = 1;
    return;
  }
  void *pairs = mem, *tmp = mem + pbytes;
  int esize = mx_dtype_size(in->dtype), osize = mx_dtype_size(out->dtype);
  int64_t len = mx_cpu_iter_len(&it), s0 = mx_cpu_iter_stride(&it, 0),
          s1 = mx_cpu_iter_stride(&it, 1), offs[2];
  load_fn load = load_tab[in->dtype];
  index_fn at = index_tab[in->dtype];
  int64_t run = begin / len, j = begin % len;
  mx_cpu_iter_seek(&it, run, offs);
  for (int64_t row = begin; row < end; row++) {
    const char *src = mx_cpu_at(in, offs[0] + j * s0);
    char *dst = mx_cpu_at(out, offs[1] + j * s1);
    if (radix) {
      mx_sortrow r = {in->dtype, src, jb->is, dst, jb->os, n, jb->kth, jb->want_index};
      mx_cpu_sortrow_run(&r, mem, jb->parallel);
      goto next;
    }
    load(src, jb->is, n, pairs);
    if (jb->kth < 0) sort_tab[in->dtype](pairs, tmp, n);
    else select_tab[in->dtype](pairs, tmp, n, jb->kth);
    if (jb->want_index) {
      for (int64_t i = 0; i < n; i++) ((uint32_t *)dst)[i * jb->os] = at(pairs, i);
    } else { /* the values themselves, bit for bit */
      for (int64_t i = 0; i < n; i++)
        copy_elem(dst + i * jb->os * osize, src + (int64_t)at(pairs, i) * jb->is * esize, esize);
    }
  next:
    if (++j == len) {
      j = 0;
      mx_cpu_iter_next(&it, offs);
    }
  }
  mx_cpu_iter_free(&it);
  free(mem);
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
  if (want_index && out->dtype != MX_UINT32)
    return mx_fail_int(MX_ETYPE, "[%s] Index output must be uint32.", op);
  if (!want_index && out->dtype != in->dtype)
    return mx_fail_int(MX_ETYPE, "[%s] Output dtype must match the input.", op);
  int nd = in->ndim, on = nd - 1, cap = on > 0 ? on : 1;
  char *mem = (char *)malloc((size_t)cap * (sizeof(int32_t) + 2 * sizeof(int64_t)));
  if (!mem) return mx_fail_int(MX_ENOMEM, "[malloc] Unable to allocate row strides.");
  int64_t *ostr_in = (int64_t *)mem, *ostr_out = ostr_in + cap;
  int32_t *oshape = (int32_t *)(ostr_out + cap);
  for (int d = 0, k = 0; d < nd; d++) {
    if (d == axis) continue;
    oshape[k] = in->shape[d];
    ostr_in[k] = in->strides[d];
    ostr_out[k] = out->strides[d];
    k++;
  }
  rows_job jb = {in, out, on, oshape, ostr_in, ostr_out, n, kth, in->strides[axis],
                 out->strides[axis], want_index, false, 0};
  int64_t rows = out->size / n;
  if (rows < mx_cpu_pool_size() && n >= MX_CPU_PARALLEL_GRAIN) {
    jb.parallel = true; /* few long rows: one after another, each over the pool */
    rows_range(&jb, 0, rows);
  } else {
    int64_t grain = MX_CPU_PARALLEL_GRAIN / n > 1 ? MX_CPU_PARALLEL_GRAIN / n : 1;
    mx_cpu_parallel_for(rows, grain, rows_range, &jb);
  }
  free(mem);
  if (jb.failed) return mx_fail_int(MX_ENOMEM, "[%s] Unable to allocate sort scratch.", op);
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

/* ---- SearchSorted: binary search of each value in the 1-d sorted input ---- */

#define SEARCH_FN(unused, sfx)                                                              \
  static uint32_t search_##sfx(const char *a_, int64_t as, int64_t n, const char *v_,     \
                               bool right) {                                               \
    const MX_ST_##sfx *a = (const MX_ST_##sfx *)a_;                                        \
    MX_CT_##sfx v = MX_LD_##sfx(*(const MX_ST_##sfx *)v_);                                 \
    int64_t lo = 0, hi = n;                                                                \
    while (lo < hi) {                                                                      \
      int64_t mid = lo + (hi - lo) / 2;                                                    \
      MX_CT_##sfx x = MX_LD_##sfx(a[mid * as]);                                            \
      bool go_right = right ? !MX_SORT_LT_##sfx(v, x) : MX_SORT_LT_##sfx(x, v);            \
      if (go_right) lo = mid + 1;                                                          \
      else hi = mid;                                                                       \
    }                                                                                      \
    return (uint32_t)lo;                                                                   \
  }
MX_DTYPE_SFX_LIST(SEARCH_FN, _)
typedef uint32_t (*search_fn)(const char *, int64_t, int64_t, const char *, bool);
#define ENT_SEARCH(unused, sfx) [MX_DT_##sfx] = search_##sfx,
static const search_fn search_tab[MX_DTYPE_COUNT] = {MX_DTYPE_SFX_LIST(ENT_SEARCH, _)};

int mx_cpu_search_sorted(const mx_kernel_ctx *ctx, const mx_tensor *in, int n_in, mx_tensor *out,
                         int n_out) {
  const mx_p_search_sorted *p = (const mx_p_search_sorted *)ctx->params;
  if (!p || n_in != 2 || n_out != 1 || in[0].ndim != 1 || in[0].dtype != in[1].dtype ||
      out->dtype != MX_UINT32 || out->ndim != in[1].ndim || (unsigned)in[0].dtype >= MX_DTYPE_COUNT)
    return mx_fail_int(MX_EINVAL, "[searchsorted] Inputs do not match the output.");
  if (out->size == 0) return 0;
  const mx_tensor *a = &in[0], *v = &in[1];
  int64_t n = a->shape[0], as = n > 1 ? a->strides[0] : 0;
  int es = mx_dtype_size(v->dtype);
  search_fn f = search_tab[v->dtype];
  const int64_t *st[2] = {v->strides, out->strides};
  mx_cpu_iter it;
  if (mx_cpu_iter_init(&it, 2, out->ndim, out->shape, st) < 0) return -1;
  int64_t len = mx_cpu_iter_len(&it), sv = mx_cpu_iter_stride(&it, 0), so = mx_cpu_iter_stride(&it, 1),
          offs[2];
  mx_cpu_iter_seek(&it, 0, offs);
  for (int64_t r = 0; r < it.nruns; r++) {
    const char *vp = (const char *)v->data + offs[0] * es;
    uint32_t *op = (uint32_t *)out->data + offs[1];
    for (int64_t i = 0; i < len; i++) op[i * so] = f((const char *)a->data, as, n, vp + i * sv * es, p->right);
    mx_cpu_iter_next(&it, offs);
  }
  mx_cpu_iter_free(&it);
  return 0;
}
