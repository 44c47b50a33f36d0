/* reduce.c: the Reduce primitive on the CPU: and/or/sum/prod/min/max over sorted axes kept
 * as size-1 dims. Inputs are converted tile by tile into the accumulator dtype (formulas.h:
 * u64 for integer sums, f32 for float16/bfloat16/float32, ...), combined, and converted
 * into the output dtype. Row strategy when the reduced elements are closest in memory,
 * column strategy (a vector of accumulators) when the kept ones are; when those form short
 * contiguous runs (pooling windows, per-channel sums) and no conversion is needed, the table
 * strategy combines each run in registers from a list of the reduced elements' offsets, in
 * the same order as the column strategy (bool -> int32 counts too). Output elements are
 * split over the pool; a few outputs over one long contiguous run split that run into fixed
 * blocks instead (partials combined in block order, so the result does not depend on the
 * thread count). float32/float64 sum/max/min use vreduce.h's vector loops. */
#include <stdatomic.h>

#include "../formulas.h"
#include "cpu.h"
#include "pool.h"
#include "vreduce.h"

#define RED_LANES 8

/* The table loops of float32/float64 sum/max/min, built for the baseline, AVX2 and AVX-512
 * and chosen at load time (not under ThreadSanitizer: ifunc resolvers run before it). */
#if defined(__x86_64__) && defined(__GNUC__) && defined(__linux__) && \
    !defined(__SANITIZE_THREAD__) && !defined(__clang__)
#define RED_CLONES __attribute__((target_clones("default", "arch=x86-64-v3", "arch=x86-64-v4")))
#else
#define RED_CLONES
#endif

typedef void (*mx_red_table_fn)(void *out, const char *x, const int64_t *off, int64_t nr,
                                int64_t n, bool first);

typedef struct red_ops {
  void (*init)(void *acc, int64_t n);               /* acc[0..n) = identity */
  void (*run)(void *acc1, const void *x, int64_t n); /* *acc1 = combine(*acc1, x[0..n)) */
  void (*cols)(void *acc, const void *x, int64_t n); /* acc[j] = combine(acc[j], x[j]) */
  /* out[j] = combine over r of x[off[r] + j] (off in bytes), for j in [0, n), starting from
   * the identity when first, else from out[j] */
  mx_red_table_fn table;
} red_ops;

/* run: RED_LANES partial accumulators (vectorisable, and shorter addition chains). */
#define RED_DEF(kind, sfx)                                                                \
  static void red_init_##kind##_##sfx(void *a_, int64_t n) {                              \
    MX_ST_##sfx *a = (MX_ST_##sfx *)a_;                                                   \
    MX_ST_##sfx v = mx_red_init_##kind##_##sfx();                                         \
    for (int64_t i = 0; i < n; i++) a[i] = v;                                             \
  }                                                                                       \
  static void red_run_##kind##_##sfx(void *a_, const void *x_, int64_t n) {               \
    const MX_ST_##sfx *x = (const MX_ST_##sfx *)x_;                                       \
    MX_ST_##sfx lane[RED_LANES];                                                          \
    for (int k = 0; k < RED_LANES; k++) lane[k] = mx_red_init_##kind##_##sfx();           \
    int64_t i = 0;                                                                        \
    for (; i + RED_LANES <= n; i += RED_LANES)                                            \
      for (int k = 0; k < RED_LANES; k++) lane[k] = mx_red_##kind##_##sfx(lane[k], x[i + k]); \
    for (int k = 0; i < n; i++, k++) lane[k] = mx_red_##kind##_##sfx(lane[k], x[i]);     \
    for (int k = RED_LANES / 2; k > 0; k /= 2)                                            \
      for (int j = 0; j < k; j++) lane[j] = mx_red_##kind##_##sfx(lane[j], lane[j + k]);  \
    MX_ST_##sfx *a = (MX_ST_##sfx *)a_;                                                   \
    *a = mx_red_##kind##_##sfx(*a, lane[0]);                                              \
  }                                                                                       \
  static void red_cols_##kind##_##sfx(void *a_, const void *x_, int64_t n) {              \
    MX_ST_##sfx *a = (MX_ST_##sfx *)a_;                                                   \
    const MX_ST_##sfx *x = (const MX_ST_##sfx *)x_;                                       \
    for (int64_t i = 0; i < n; i++) a[i] = mx_red_##kind##_##sfx(a[i], x[i]);             \
  }                                                                                       \
  static void red_table_##kind##_##sfx(void *o_, const char *x, const int64_t *off,       \
                                       int64_t nr, int64_t n, bool first) {               \
    MX_ST_##sfx *o = (MX_ST_##sfx *)o_;                                                   \
    MX_ST_##sfx v = mx_red_init_##kind##_##sfx();                                         \
    if (first)                                                                            \
      for (int64_t i = 0; i < n; i++) o[i] = v;                                           \
    for (int64_t r = 0; r < nr; r++) {                                                    \
      const MX_ST_##sfx *xr = (const MX_ST_##sfx *)(x + off[r]);                          \
      for (int64_t i = 0; i < n; i++) o[i] = mx_red_##kind##_##sfx(o[i], xr[i]);          \
    }                                                                                     \
  }

#define RED_ENTRY(kind, sfx) \
  [MX_DT_##sfx] = {red_init_##kind##_##sfx, red_run_##kind##_##sfx, red_cols_##kind##_##sfx, \
                   red_table_##kind##_##sfx},

MX_RED_and_TYPES(RED_DEF, and)
MX_RED_or_TYPES(RED_DEF, or)
MX_RED_sum_TYPES(RED_DEF, sum)
MX_RED_prod_TYPES(RED_DEF, prod)
MX_RED_min_TYPES(RED_DEF, min)
MX_RED_max_TYPES(RED_DEF, max)

/* Table loops kept in registers: blocks of B outputs, each combined over every reduced
 * element before it is stored (blocks of 16, then 8, then 4, then one at a time). Same
 * order of combination as red_table_*. */
#define RED_VBLOCK(kind, sfx, B)                                                           \
  for (; j + (B) <= n; j += (B)) {                                                         \
    MX_ST_##sfx a[B];                                                                      \
    for (int k = 0; k < (B); k++) a[k] = first ? mx_red_init_##kind##_##sfx() : o[j + k];  \
    for (int64_t r = 0; r < nr; r++) {                                                     \
      const MX_ST_##sfx *xr = (const MX_ST_##sfx *)(x + off[r]) + j;                       \
      for (int k = 0; k < (B); k++) a[k] = mx_red_##kind##_##sfx(a[k], xr[k]);             \
    }                                                                                      \
    for (int k = 0; k < (B); k++) o[j + k] = a[k];                                         \
  }
#define RED_VTABLE_DEF(kind, sfx)                                                          \
  RED_CLONES static void red_vtable_##kind##_##sfx(void *o_, const char *x, const int64_t *off, \
                                                   int64_t nr, int64_t n, bool first) {    \
    MX_ST_##sfx *o = (MX_ST_##sfx *)o_;                                                    \
    int64_t j = 0;                                                                         \
    RED_VBLOCK(kind, sfx, 16)                                                              \
    RED_VBLOCK(kind, sfx, 8)                                                               \
    RED_VBLOCK(kind, sfx, 4)                                                               \
    RED_VBLOCK(kind, sfx, 1)                                                               \
  }
RED_VTABLE_DEF(sum, f32)
RED_VTABLE_DEF(max, f32)
RED_VTABLE_DEF(min, f32)
RED_VTABLE_DEF(sum, f64)
RED_VTABLE_DEF(max, f64)
RED_VTABLE_DEF(min, f64)

/* bool -> int32 sums (counts, as of the masks of max/min gradients): the bytes added in
 * int32 registers; the same values as the uint64 accumulator for counts below 2^31. */
RED_CLONES static void red_vtable_count_i32(void *o_, const char *x, const int64_t *off,
                                            int64_t nr, int64_t n, bool first) {
  int32_t *o = (int32_t *)o_;
  int64_t j = 0;
  for (; j + 16 <= n; j += 16) {
    int32_t a[16];
    for (int k = 0; k < 16; k++) a[k] = first ? 0 : o[j + k];
    for (int64_t r = 0; r < nr; r++) {
      const uint8_t *xr = (const uint8_t *)(x + off[r]) + j;
      for (int k = 0; k < 16; k++) a[k] += xr[k];
    }
    for (int k = 0; k < 16; k++) o[j + k] = a[k];
  }
  for (; j < n; j++) {
    int32_t a = first ? 0 : o[j];
    for (int64_t r = 0; r < nr; r++) a += ((const uint8_t *)(x + off[r]))[j];
    o[j] = a;
  }
}

static mx_red_table_fn red_vtable(int kind, bool f64) {
  switch (kind) {
  case MX_REDUCE_SUM: return f64 ? red_vtable_sum_f64 : red_vtable_sum_f32;
  case MX_REDUCE_MAX: return f64 ? red_vtable_max_f64 : red_vtable_max_f32;
  case MX_REDUCE_MIN: return f64 ? red_vtable_min_f64 : red_vtable_min_f32;
  default: return NULL;
  }
}

/* Indexed [kind][accumulator dtype]. */
static const red_ops red_tab[6][MX_DTYPE_COUNT] = {
    [MX_REDUCE_AND] = {MX_RED_and_TYPES(RED_ENTRY, and)},
    [MX_REDUCE_OR] = {MX_RED_or_TYPES(RED_ENTRY, or)},
    [MX_REDUCE_SUM] = {MX_RED_sum_TYPES(RED_ENTRY, sum)},
    [MX_REDUCE_PROD] = {MX_RED_prod_TYPES(RED_ENTRY, prod)},
    [MX_REDUCE_MIN] = {MX_RED_min_TYPES(RED_ENTRY, min)},
    [MX_REDUCE_MAX] = {MX_RED_max_TYPES(RED_ENTRY, max)},
};

static const char *const red_names[6] = {"all", "any", "sum", "prod", "min", "max"};

static mx_dtype acc_dtype(int kind, mx_dtype in, mx_dtype out) {
  switch (kind) {
  case MX_REDUCE_AND:
  case MX_REDUCE_OR:
    return MX_BOOL;
  case MX_REDUCE_SUM:
  case MX_REDUCE_PROD:
    if (out == MX_BOOL) return MX_BOOL;
    if (mx_dtype_is_integer(out)) return MX_UINT64;
    if (out == MX_FLOAT16 || out == MX_BFLOAT16) return MX_FLOAT32;
    return out;
  default: /* min / max */
    return (in == MX_FLOAT16 || in == MX_BFLOAT16) ? MX_FLOAT32 : in;
  }
}

/* The reduction, with dims split into kept (K) and reduced (R) groups. */
typedef struct red_plan {
  const mx_tensor *in;
  mx_tensor *out;
  mx_dtype acc;
  int asz, isz, osz;
  const red_ops *ops;
  int nk, nr;
  int32_t *kshape, *rshape; /* [nk], [nr] */
  int64_t *kstr, *rstr;     /* input strides */
  int64_t *roff;            /* table strategy: byte offsets of the first nroff reduced */
  int64_t nroff, nred;      /* elements, of nred; more than nroff only for one run of */
  int64_t rchunk;           /* uniform stride, whose next nroff start rchunk bytes later */
} red_plan;

typedef union red_tile {
  uint64_t u[MX_CPU_TILE];
  mx_c64 c[MX_CPU_TILE];
} red_tile;

/* Combines n elements at x (element stride s) into *acc. */
static void red_span(const red_plan *p, const char *x, int64_t s, int64_t n, void *acc,
                     red_tile *tmp) {
  bool direct = p->in->dtype == p->acc && s == 1;
  if (direct) {
    p->ops->run(acc, x, n);
    return;
  }
  for (int64_t j = 0; j < n; j += MX_CPU_TILE) {
    int64_t c = n - j < MX_CPU_TILE ? n - j : MX_CPU_TILE;
    mx_cpu_convert(x + j * s * p->isz, p->in->dtype, s, tmp, p->acc, 1, c);
    p->ops->run(acc, tmp, c);
  }
}

/* Combines the elements at in + base + R-offsets into *acc (one accumulator). */
static void red_row(const red_plan *p, mx_cpu_iter *rit, int64_t base, void *acc, red_tile *tmp) {
  int64_t n = mx_cpu_iter_len(rit), s = mx_cpu_iter_stride(rit, 0), offs[1];
  mx_cpu_iter_seek(rit, 0, offs);
  for (int64_t r = 0; r < rit->nruns; r++) {
    red_span(p, mx_cpu_at(p->in, base + offs[0]), s, n, acc, tmp);
    mx_cpu_iter_next(rit, offs);
  }
}

/* Output elements [o0, o1) on one thread: kept and reduced iterators of its own. */
typedef struct red_job {
  const red_plan *p;
  bool cols;
  _Atomic int failed;
} red_job;

/* Row strategy: one accumulator per output element, reduced elements walked as runs. */
static void red_rows_range(const red_plan *p, mx_cpu_iter *kit, mx_cpu_iter *rit, int64_t o0,
                           int64_t o1) {
  red_tile tmp;
  uint64_t acc[2]; /* room for any accumulator (c64 = 8 bytes) */
  int64_t kn = mx_cpu_iter_len(kit), kstride = mx_cpu_iter_stride(kit, 0), koffs[1];
  int64_t j = o0 % kn;
  mx_cpu_iter_seek(kit, o0 / kn, koffs);
  for (int64_t o = o0; o < o1; o++) {
    p->ops->init(acc, 1);
    red_row(p, rit, koffs[0] + j * kstride, acc, &tmp);
    mx_cpu_convert(acc, p->acc, 1, mx_cpu_at(p->out, o), p->out->dtype, 1, 1);
    if (++j == kn) {
      j = 0;
      mx_cpu_iter_next(kit, koffs);
    }
  }
}

/* Column strategy: a strip of accumulators along the innermost kept dim (up to RED_STRIP,
 * on the heap); every reduced element offset adds one (strided or contiguous) slice into it,
 * so contiguous rows are read whole. */
#define RED_STRIP 8192

static int red_cols_range(const red_plan *p, mx_cpu_iter *kit, mx_cpu_iter *rit, int64_t o0,
                          int64_t o1) {
  int64_t kn = mx_cpu_iter_len(kit), kst = mx_cpu_iter_stride(kit, 0), koffs[1], roffs[1];
  int64_t rn = mx_cpu_iter_len(rit), rst = mx_cpu_iter_stride(rit, 0);
  int64_t strip = kn < RED_STRIP ? kn : RED_STRIP;
  bool direct = p->in->dtype == p->acc && kst == 1;
  char *acc = (char *)malloc((size_t)(2 * strip * p->asz));
  if (!acc) return -1;
  char *tmp = acc + strip * p->asz;
  int64_t o = o0;
  mx_cpu_iter_seek(kit, o0 / kn, koffs);
  while (o < o1) {
    int64_t j = o % kn, end = o1 - o < kn - j ? o1 - o + j : kn;
    for (; j < end; j += strip) {
      int64_t c = end - j < strip ? end - j : strip;
      p->ops->init(acc, c);
      mx_cpu_iter_seek(rit, 0, roffs);
      for (int64_t rr = 0; rr < rit->nruns; rr++) {
        for (int64_t i = 0; i < rn; i++) {
          const char *x = mx_cpu_at(p->in, koffs[0] + j * kst + roffs[0] + i * rst);
          if (direct) {
            p->ops->cols(acc, x, c);
          } else {
            mx_cpu_convert(x, p->in->dtype, kst, tmp, p->acc, 1, c);
            p->ops->cols(acc, tmp, c);
          }
        }
        mx_cpu_iter_next(rit, roffs);
      }
      mx_cpu_convert(acc, p->acc, 1, mx_cpu_at(p->out, o), p->out->dtype, 1, c);
      o += c;
    }
    if (end == kn) mx_cpu_iter_next(kit, koffs);
  }
  free(acc);
  return 0;
}

/* Table strategy (short contiguous kept runs, few reduced elements, input, accumulator and
 * output of one dtype): each kept run is combined straight into the output from the listed
 * offsets of the reduced elements. */
static void red_table_range(const red_plan *p, mx_cpu_iter *kit, int64_t o0, int64_t o1) {
  int64_t kn = mx_cpu_iter_len(kit), koffs[1];
  int64_t o = o0, j = o0 % kn;
  mx_cpu_iter_seek(kit, o0 / kn, koffs);
  while (o < o1) {
    int64_t c = kn - j < o1 - o ? kn - j : o1 - o;
    char *y = mx_cpu_at(p->out, o);
    const char *x = mx_cpu_at(p->in, koffs[0] + j);
    for (int64_t r0 = 0; r0 < p->nred; r0 += p->nroff, x += p->rchunk) {
      int64_t nr = p->nred - r0 < p->nroff ? p->nred - r0 : p->nroff;
      p->ops->table(y, x, p->roff, nr, c, r0 == 0);
    }
    o += c;
    j = 0;
    mx_cpu_iter_next(kit, koffs);
  }
}

static void red_chunk(void *ctx, int64_t o0, int64_t o1) {
  red_job *j = (red_job *)ctx;
  const red_plan *p = j->p;
  const int64_t *ks[1] = {p->kstr}, *rs[1] = {p->rstr};
  mx_cpu_iter kit, rit;
  if (mx_cpu_iter_init(&kit, 1, p->nk, p->kshape, ks) < 0) {
    mx_error_clear();
    atomic_store(&j->failed, 1);
    return;
  }
  if (p->roff) {
    red_table_range(p, &kit, o0, o1);
    mx_cpu_iter_free(&kit);
    return;
  }
  if (mx_cpu_iter_init(&rit, 1, p->nr, p->rshape, rs) < 0) {
    mx_error_clear();
    mx_cpu_iter_free(&kit);
    atomic_store(&j->failed, 1);
    return;
  }
  if (j->cols) {
    if (red_cols_range(p, &kit, &rit, o0, o1) < 0) atomic_store(&j->failed, 1);
  } else {
    red_rows_range(p, &kit, &rit, o0, o1);
  }
  mx_cpu_iter_free(&rit);
  mx_cpu_iter_free(&kit);
}

/* One output over a single long run, split into RED_BLOCK-element blocks. */
#define RED_BLOCK 65536

typedef struct red_split_job {
  const red_plan *p;
  const char *x;
  int64_t s, n;
  char *partial; /* [nblocks] accumulators */
} red_split_job;

static void red_split_chunk(void *ctx, int64_t b0, int64_t b1) {
  red_split_job *j = (red_split_job *)ctx;
  red_tile tmp;
  for (int64_t b = b0; b < b1; b++) {
    int64_t e0 = b * RED_BLOCK, c = j->n - e0 < RED_BLOCK ? j->n - e0 : RED_BLOCK;
    void *acc = j->partial + b * j->p->asz;
    j->p->ops->init(acc, 1);
    red_span(j->p, j->x + e0 * j->s * j->p->isz, j->s, c, acc, &tmp);
  }
}

static int red_split(const red_plan *p, int64_t kept, int64_t n, int64_t s) {
  const int64_t *ks[1] = {p->kstr}, *rs[1] = {p->rstr};
  int64_t nb = (n + RED_BLOCK - 1) / RED_BLOCK, roff[1], koffs[1];
  char *partial = (char *)malloc((size_t)(nb * p->asz));
  mx_cpu_iter kit, rit;
  if (!partial) return mx_fail_int(MX_ENOMEM, "[malloc] Unable to allocate kernel scratch.");
  if (mx_cpu_iter_init(&kit, 1, p->nk, p->kshape, ks) < 0) {
    free(partial);
    return -1;
  }
  if (mx_cpu_iter_init(&rit, 1, p->nr, p->rshape, rs) < 0) {
    free(partial);
    mx_cpu_iter_free(&kit);
    return -1;
  }
  mx_cpu_iter_seek(&rit, 0, roff);
  int64_t kn = mx_cpu_iter_len(&kit), kst = mx_cpu_iter_stride(&kit, 0), j = 0;
  mx_cpu_iter_seek(&kit, 0, koffs);
  for (int64_t o = 0; o < kept; o++) {
    red_split_job job = {p, mx_cpu_at(p->in, koffs[0] + j * kst + roff[0]), s, n, partial};
    mx_cpu_parallel_for(nb, 1, red_split_chunk, &job);
    uint64_t acc[2];
    p->ops->init(acc, 1);
    p->ops->run(acc, partial, nb);
    mx_cpu_convert(acc, p->acc, 1, mx_cpu_at(p->out, o), p->out->dtype, 1, 1);
    if (++j == kn) {
      j = 0;
      mx_cpu_iter_next(&kit, koffs);
    }
  }
  mx_cpu_iter_free(&rit);
  mx_cpu_iter_free(&kit);
  free(partial);
  return 0;
}

/* The reduced dims as one run: its length and stride, or false. */
static bool red_one_run(const red_plan *p, int64_t *n, int64_t *s) {
  const int64_t *rs[1] = {p->rstr};
  mx_cpu_iter rit;
  if (mx_cpu_iter_init(&rit, 1, p->nr, p->rshape, rs) < 0) {
    mx_error_clear();
    return false;
  }
  bool one = rit.nruns == 1;
  *n = mx_cpu_iter_len(&rit);
  *s = mx_cpu_iter_stride(&rit, 0);
  mx_cpu_iter_free(&rit);
  return one;
}

/* The table strategy's offsets when it applies (the innermost kept dim contiguous and at most
 * RED_TABLE_RUN long, one dtype throughout, and at most RED_TABLE_MAX reduced elements or
 * one run of them): the byte offsets of the first (up to RED_TABLE_MAX) reduced elements in
 * iteration order, with p's nroff, nred and rchunk set; or NULL. */
#define RED_TABLE_RUN 256
#define RED_TABLE_MAX 4096

static int64_t *red_table_offsets(red_plan *p, int64_t reduced, bool count) {
  if (!count && (p->in->dtype != p->acc || p->out->dtype != p->acc || !p->ops->table))
    return NULL;
  int64_t kn = 0, kst = 0;
  for (int i = p->nk - 1; i >= 0 && kn == 0; i--)
    if (p->kshape[i] > 1) {
      kn = p->kshape[i];
      kst = p->kstr[i];
    }
  if (kst != 1 || kn > RED_TABLE_RUN) return NULL;
  const int64_t *rs[1] = {p->rstr};
  mx_cpu_iter rit;
  if (mx_cpu_iter_init(&rit, 1, p->nr, p->rshape, rs) < 0) {
    mx_error_clear();
    return NULL;
  }
  int64_t rn = mx_cpu_iter_len(&rit), rst = mx_cpu_iter_stride(&rit, 0), k = 0, ro[1];
  bool one_run = rit.nruns == 1;
  int64_t *off = NULL;
  if (reduced <= RED_TABLE_MAX || one_run) {
    p->nred = reduced;
    p->nroff = reduced < RED_TABLE_MAX ? reduced : RED_TABLE_MAX;
    p->rchunk = p->nroff * rst * p->isz;
    off = (int64_t *)malloc((size_t)p->nroff * sizeof(int64_t));
  }
  if (off) {
    mx_cpu_iter_seek(&rit, 0, ro);
    for (int64_t r = 0; r < rit.nruns && k < p->nroff; r++) {
      for (int64_t i = 0; i < rn && k < p->nroff; i++) off[k++] = (ro[0] + i * rst) * p->isz;
      mx_cpu_iter_next(&rit, ro);
    }
  }
  mx_cpu_iter_free(&rit);
  return off;
}

/* Runs a strategy over the output elements on the CPU pool. */
static int red_parallel(const red_plan *p, bool cols, int64_t kept, int64_t reduced) {
  red_job j = {p, cols, 0};
  int64_t grain = MX_CPU_PARALLEL_GRAIN / reduced;
  if (cols) { /* a thread takes whole cache lines of a short kept run, or 64 elements */
    int64_t kn = 1;
    for (int i = p->nk - 1; i >= 0 && kn == 1; i--) kn = p->kshape[i];
    if (grain < kn && grain < 64) grain = kn < 64 ? kn : 64;
  }
  mx_cpu_parallel_for(kept, grain > 0 ? grain : 1, red_chunk, &j);
  if (atomic_load(&j.failed))
    return mx_fail_int(MX_ENOMEM, "[malloc] Unable to allocate kernel scratch.");
  return 0;
}

/* A reduction over an empty axis: every output is the identity. */
static void red_fill_identity(const red_plan *p) {
  red_tile acc;
  int64_t n = p->out->size;
  p->ops->init(&acc, n < MX_CPU_TILE ? n : MX_CPU_TILE);
  for (int64_t j = 0; j < n; j += MX_CPU_TILE) {
    int64_t c = n - j < MX_CPU_TILE ? n - j : MX_CPU_TILE;
    mx_cpu_convert(&acc, p->acc, 1, mx_cpu_at(p->out, j), p->out->dtype, 1, c);
  }
}

static int64_t abs64(int64_t v) { return v < 0 ? -v : v; }

int mx_cpu_reduce(const mx_kernel_ctx *ctx, const mx_tensor *in, int n_in, mx_tensor *out,
                  int n_out) {
  const mx_p_reduce *prm = (const mx_p_reduce *)ctx->params;
  if (n_in != 1 || n_out != 1 || !prm)
    return mx_fail_int(MX_EINVAL, "[reduce] Expected 1 input, 1 output and parameters.");
  if (prm->kind < MX_REDUCE_AND || prm->kind > MX_REDUCE_MAX)
    return mx_fail_int(MX_EINVAL, "[reduce] Unknown reduction kind %d.", (int)prm->kind);
  const char *name = red_names[prm->kind];
  if ((unsigned)in->dtype >= MX_DTYPE_COUNT || (unsigned)out->dtype >= MX_DTYPE_COUNT)
    return mx_fail_int(MX_ETYPE, "[%s] Invalid dtype.", name);
  red_plan p;
  p.in = in;
  p.out = out;
  p.acc = acc_dtype(prm->kind, in->dtype, out->dtype);
  p.ops = &red_tab[prm->kind][p.acc];
  red_ops vops; /* float32/float64 sum, max, min: the vector loops */
  bool vfloat = p.acc == MX_FLOAT32 || p.acc == MX_FLOAT64;
  if (vfloat && mx_vred_run(prm->kind, p.acc == MX_FLOAT64)) {
    vops.init = p.ops->init;
    vops.run = mx_vred_run(prm->kind, p.acc == MX_FLOAT64);
    vops.cols = mx_vred_cols(prm->kind, p.acc == MX_FLOAT64);
    vops.table = red_vtable(prm->kind, p.acc == MX_FLOAT64);
    p.ops = &vops;
  }
  if (!p.ops->init)
    return mx_fail_int(MX_ETYPE, "[%s] Not supported for %s -> %s.", name,
                       mx_dtype_name(in->dtype), mx_dtype_name(out->dtype));
  if (!mx_cpu_is_row_contig(out))
    return mx_fail_int(MX_EINVAL, "[%s] The output must be row-contiguous.", name);
  p.asz = mx_dtype_size(p.acc);
  p.isz = mx_dtype_size(in->dtype);
  p.osz = mx_dtype_size(out->dtype);

  /* Split dims into kept and reduced groups; check the output element count. */
  int nd = in->ndim;
  size_t bytes = (size_t)(nd + 1) * 2 * (sizeof(int32_t) + sizeof(int64_t));
  char *mem = (char *)malloc(bytes);
  if (!mem) return mx_fail_int(MX_ENOMEM, "[malloc] Unable to allocate %zu bytes.", bytes);
  p.kstr = (int64_t *)mem;
  p.rstr = p.kstr + nd + 1;
  p.kshape = (int32_t *)(p.rstr + nd + 1);
  p.rshape = p.kshape + nd + 1;
  p.nk = p.nr = 0;
  p.roff = NULL;
  int rc = 0, ai = 0;
  int64_t kept = 1, reduced = 1;
  for (int d = 0; d < nd && rc == 0; d++) {
    bool red = ai < prm->axes.n && prm->axes.v[ai] == d;
    if (red) ai++;
    if (red) {
      p.rshape[p.nr] = in->shape[d];
      p.rstr[p.nr++] = in->strides[d];
      reduced *= in->shape[d];
    } else {
      p.kshape[p.nk] = in->shape[d];
      p.kstr[p.nk++] = in->strides[d];
      kept *= in->shape[d];
    }
  }
  if (ai != prm->axes.n)
    rc = mx_fail_int(MX_EINVAL, "[%s] Axes must be sorted, unique and below %d.", name, nd);
  else if (kept != out->size)
    rc = mx_fail_int(MX_EINVAL, "[%s] Output has %lld elements, expected %lld.", name,
                     (long long)out->size, (long long)kept);
  if (rc == 0 && kept > 0) {
    if (reduced == 0) {
      red_fill_identity(&p);
    } else {
      /* Compare the innermost non-trivial stride of each group. */
      int64_t kmin = -1, rmin = -1;
      for (int i = p.nk - 1; i >= 0 && kmin < 0; i--)
        if (p.kshape[i] > 1) kmin = abs64(p.kstr[i]);
      for (int i = p.nr - 1; i >= 0 && rmin < 0; i--)
        if (p.rshape[i] > 1) rmin = abs64(p.rstr[i]);
      int64_t rn, rs;
      p.roff = NULL;
      if (kmin >= 0 && rmin >= 0 && kmin < rmin) {
        /* counts of a bool mask below 2^31: int32 registers */
        bool count = prm->kind == MX_REDUCE_SUM && in->dtype == MX_BOOL &&
                     out->dtype == MX_INT32 && reduced < INT32_MAX;
        red_ops cops;
        if (count) {
          cops = *p.ops;
          cops.table = red_vtable_count_i32;
          p.ops = &cops;
        }
        p.roff = red_table_offsets(&p, reduced, count);
        rc = red_parallel(&p, true, kept, reduced);
        free(p.roff);
      }
      else if (kept < mx_cpu_pool_size() && reduced >= 4 * RED_BLOCK && red_one_run(&p, &rn, &rs))
        rc = red_split(&p, kept, rn, rs);
      else
        rc = red_parallel(&p, false, kept, reduced);
    }
  }
  free(mem);
  return rc;
}
