/* gather_scatter.c: Gather, GatherAxis, Scatter, ScatterAxis, MaskedScatter, DynamicSlice
 * and DynamicSliceUpdate on the CPU, for every dtype, with index arrays of any integer dtype
 * and any strides. Indices wrap once when negative; then gathers (and dynamic slices)
 * clamp them so the window lies inside the input, while scatters skip an update whose
 * window would leave the output. So no index value reads or writes outside a buffer.
 * Depends on cpu.h (iterator, strided copy) and formulas.h (the reduction formulas). */
#include <string.h>

#include "../formulas.h"
#include "cpu.h"
#include "pool.h"
#include "array.h"       /* mx_row_strides, layout flags */
#include "param_enums.h"

/* ---- indices ---- */

static int check_index_dtype(const char *op, mx_dtype t) {
  if (!mx_dtype_is_integer(t)) return mx_fail_int(MX_ETYPE, "[%s] Cannot gather with indices type.", op);
  return 0;
}

/* ---- an odometer over a shape for several strided operands (any count) ---- */

typedef struct odo {
  int ndim, nops;
  const int32_t *shape;
  int64_t *cnt, *strides, *off; /* cnt[ndim], strides[nops * ndim], off[nops] */
  void *mem;
} odo;

static int odo_init(odo *o, int ndim, const int32_t *shape, int nops) {
  o->ndim = ndim;
  o->nops = nops;
  o->shape = shape;
  size_t n = (size_t)ndim + (size_t)nops * (size_t)ndim + (size_t)nops + 1;
  o->mem = calloc(n, sizeof(int64_t));
  if (!o->mem) return mx_fail_int(MX_ENOMEM, "[malloc] Unable to allocate %zu bytes.", n * 8);
  o->cnt = (int64_t *)o->mem;
  o->strides = o->cnt + ndim;
  o->off = o->strides + (size_t)nops * (size_t)ndim;
  return 0;
}

/* Operand op steps by the last `ndim` of the given strides (leading ones are ignored). */
static void odo_set(odo *o, int op, const int64_t *strides) {
  for (int d = 0; d < o->ndim; d++) o->strides[op * o->ndim + d] = strides[d];
}

/* Positions the odometer at linear index pos (row-major over its shape). */
static void odo_seek(odo *o, int64_t pos) {
  for (int op = 0; op < o->nops; op++) o->off[op] = 0;
  for (int d = o->ndim - 1; d >= 0; d--) {
    int64_t c = o->shape[d] ? pos % o->shape[d] : 0;
    pos = o->shape[d] ? pos / o->shape[d] : 0;
    o->cnt[d] = c;
    for (int op = 0; op < o->nops; op++) o->off[op] += c * o->strides[op * o->ndim + d];
  }
}

static void odo_next(odo *o) {
  for (int d = o->ndim - 1; d >= 0; d--) {
    if (++o->cnt[d] < o->shape[d]) {
      for (int op = 0; op < o->nops; op++) o->off[op] += o->strides[op * o->ndim + d];
      return;
    }
    o->cnt[d] = 0;
    for (int op = 0; op < o->nops; op++)
      o->off[op] -= (o->shape[d] - 1) * o->strides[op * o->ndim + d];
  }
}

static void odo_free(odo *o) { free(o->mem); }

/* ---- inputs that share memory with the output (donation picked another input) ---- */

typedef struct held {
  mx_tensor t;
  void *mem;
} held;

static bool overlaps(const mx_tensor *a, const mx_tensor *out) {
  if (a->size == 0 || out->size == 0) return false;
  int64_t lo = 0, hi = 0;
  for (int d = 0; d < a->ndim; d++) {
    int64_t e = (int64_t)(a->shape[d] - 1) * a->strides[d];
    if (e > 0) hi += e;
    else lo += e;
  }
  const char *b0 = (const char *)a->data + lo * mx_dtype_size(a->dtype);
  const char *b1 = (const char *)a->data + (hi + 1) * mx_dtype_size(a->dtype);
  const char *o0 = (const char *)out->data;
  const char *o1 = o0 + out->size * mx_dtype_size(out->dtype);
  return b0 < o1 && o0 < b1;
}

/* h->t is in itself, or a row-contiguous private copy of it when it overlaps out. */
static int hold_input(held *h, const mx_tensor *in, const mx_tensor *out) {
  h->t = *in;
  h->mem = NULL;
  if (!overlaps(in, out)) return 0;
  int nd = in->ndim;
  size_t es = (size_t)mx_dtype_size(in->dtype);
  size_t bytes = (size_t)in->size * es + (size_t)(nd > 0 ? nd : 1) * sizeof(int64_t);
  h->mem = malloc(bytes);
  if (!h->mem) return mx_fail_int(MX_ENOMEM, "[malloc] Unable to allocate %zu bytes.", bytes);
  int64_t *st = (int64_t *)h->mem;
  mx_row_strides(nd, in->shape, st);
  h->t.strides = st;
  h->t.data = (char *)h->mem + (size_t)(nd > 0 ? nd : 1) * sizeof(int64_t);
  h->t.flags = MX_ROW_CONTIG;
  return mx_cpu_copy_strided(in, &h->t);
}

static void held_free(held *h, int n) {
  for (int i = 0; i < n; i++) free(h[i].mem);
}

/* out = a, unless out already is a (donated). */
static int copy_base(const mx_tensor *a, mx_tensor *out) {
  if (out->data == a->data && out->dtype == a->dtype && mx_cpu_is_row_contig(a)) return 0;
  return mx_cpu_copy_strided(a, out);
}

static void copy_elem(char *dst, const char *src, int size) {
  switch (size) {
  case 1: *(uint8_t *)dst = *(const uint8_t *)src; break;
  case 2: memcpy(dst, src, 2); break;
  case 4: memcpy(dst, src, 4); break;
  default: memcpy(dst, src, 8); break;
  }
}

/* Row starts a 1-d index array names PREFETCH_AHEAD positions later, touched early: the
 * rows are random, so their loads otherwise stall one after another. */
#define PREFETCH_AHEAD 8
static inline const char *ahead_row(const mx_tensor *idx, int64_t q, int64_t dim, int64_t rstride,
                                    const mx_tensor *t) {
  int64_t v = mx_index_wrap(mx_index_load(mx_cpu_at(idx, q * idx->strides[0]), 0, idx->dtype), dim);
  return v >= 0 && v < dim ? mx_cpu_at(t, v * rstride) : NULL;
}
#define PREFETCH_ROW(ptr, bytes, rw)                                                       \
  do {                                                                                     \
    const char *p_ = (ptr);                                                                \
    if (p_)                                                                                \
      for (size_t b_ = 0; b_ < (bytes) && b_ < 1024; b_ += 64) __builtin_prefetch(p_ + b_, rw); \
  } while (0)

/* ---- scatter reductions: dst[i * ds] = f(dst[i * ds], src[i * ss]) ---- */

typedef void (*comb_fn)(char *dst, int64_t ds, const char *src, int64_t ss, int64_t n);

#define COMB_FN(name, stem, sfx)                                                           \
  static void comb_##name##_##sfx(char *d_, int64_t ds, const char *s_, int64_t ss,       \
                                  int64_t n) {                                             \
    MX_ST_##sfx *d = (MX_ST_##sfx *)d_;                                                    \
    const MX_ST_##sfx *s = (const MX_ST_##sfx *)s_;                                        \
    for (int64_t i = 0; i < n; i++)                                                        \
      d[i * ds] = MX_SV_##sfx(MX_FN(stem, sfx)(MX_LD_##sfx(d[i * ds]), MX_LD_##sfx(s[i * ss]))); \
  }
#define COMB_ALL(unused, sfx)      \
  COMB_FN(sum, add, sfx)           \
  COMB_FN(prod, multiply, sfx)     \
  COMB_FN(max, maximum, sfx)       \
  COMB_FN(min, minimum, sfx)
MX_DTYPE_SFX_LIST(COMB_ALL, _)

#define ENT_SUM(unused, sfx) [MX_DT_##sfx] = comb_sum_##sfx,
#define ENT_PROD(unused, sfx) [MX_DT_##sfx] = comb_prod_##sfx,
#define ENT_MAX(unused, sfx) [MX_DT_##sfx] = comb_max_##sfx,
#define ENT_MIN(unused, sfx) [MX_DT_##sfx] = comb_min_##sfx,
static const comb_fn comb_sum[MX_DTYPE_COUNT] = {MX_DTYPE_SFX_LIST(ENT_SUM, _)};
static const comb_fn comb_prod[MX_DTYPE_COUNT] = {MX_DTYPE_SFX_LIST(ENT_PROD, _)};
static const comb_fn comb_max[MX_DTYPE_COUNT] = {MX_DTYPE_SFX_LIST(ENT_MAX, _)};
static const comb_fn comb_min[MX_DTYPE_COUNT] = {MX_DTYPE_SFX_LIST(ENT_MIN, _)};

static void comb_assign(mx_dtype t, char *dst, int64_t ds, const char *src, int64_t ss, int64_t n) {
  mx_cpu_convert(src, t, ss, dst, t, ds, n);
}

/* NULL for assignment. */
static comb_fn comb_for(int reduce, mx_dtype t) {
  switch (reduce) {
  case MX_REDUCE_SUM: return comb_sum[t];
  case MX_REDUCE_PROD: return comb_prod[t];
  case MX_REDUCE_MAX: return comb_max[t];
  case MX_REDUCE_MIN: return comb_min[t];
  default: return NULL;
  }
}

/* ---- windows: an iterator over a window shape for (dst, src) strides, reused per index ---- */

typedef struct window {
  mx_cpu_iter it;
  int64_t len, sd, ss;
} window;

static int window_init(window *w, int ndim, const int32_t *shape, const int64_t *dst_strides,
                       const int64_t *src_strides) {
  const int64_t *st[2] = {dst_strides, src_strides};
  if (mx_cpu_iter_init(&w->it, 2, ndim, shape, st) < 0) return -1;
  w->len = mx_cpu_iter_len(&w->it);
  w->sd = mx_cpu_iter_stride(&w->it, 0);
  w->ss = mx_cpu_iter_stride(&w->it, 1);
  return 0;
}

/* Applies f (NULL: assignment) from src + sbase to dst + dbase over the window. */
static void window_apply(window *w, comb_fn f, mx_dtype t, char *dst, const char *src) {
  int64_t offs[2];
  int es = mx_dtype_size(t);
  mx_cpu_iter_seek(&w->it, 0, offs);
  for (int64_t r = 0; r < w->it.nruns; r++) {
    char *d = dst + offs[0] * es;
    const char *s = src + offs[1] * es;
    if (f) f(d, w->sd, s, w->ss, w->len);
    else comb_assign(t, d, w->sd, s, w->ss, w->len);
    mx_cpu_iter_next(&w->it, offs);
  }
}

/* ---- Gather: in a, idx_0..idx_{k-1}; out idx.shape + slice_sizes (row-contiguous) ---- */

typedef struct gather_job {
  const mx_p_gather *p;
  const mx_tensor *in;
  mx_tensor *out;
  int ind;                  /* index rank */
  int64_t wsize;            /* elements per window */
  const int64_t *wstr;      /* row-major strides of the window */
  _Atomic int failed;
} gather_job;

static void gather_range(void *ctx, int64_t begin, int64_t end) {
  gather_job *jb = (gather_job *)ctx;
  const mx_p_gather *p = jb->p;
  const mx_tensor *in = jb->in, *a = &in[0];
  int k = p->axes.n, nd = a->ndim, es = mx_dtype_size(a->dtype);
  window w;
  odo o;
  if (window_init(&w, nd, p->slice_sizes.v, jb->wstr, a->strides) < 0) {
    jb->failed = 1;
    return;
  }
  if (odo_init(&o, jb->ind, jb->out->shape, k) < 0) {
    mx_cpu_iter_free(&w.it);
    jb->failed = 1;
    return;
  }
  for (int j = 0; j < k; j++) odo_set(&o, j, in[1 + j].strides);
  odo_seek(&o, begin);
  char *dst = (char *)jb->out->data + begin * jb->wsize * es;
  /* a window that is one contiguous run of the input (whole rows): a memcpy per index */
  bool flat = w.it.nruns == 1 && (w.len == 1 || (w.sd == 1 && w.ss == 1));
  size_t wbytes = (size_t)jb->wsize * (size_t)es;
  bool ahead = flat && k == 1 && jb->ind == 1 && wbytes >= 64;
  int64_t dim0 = k == 1 ? a->shape[p->axes.v[0]] : 0, rs0 = k == 1 ? a->strides[p->axes.v[0]] : 0;
  for (int64_t pos = begin; pos < end; pos++) {
    if (ahead && pos + PREFETCH_AHEAD < end)
      PREFETCH_ROW(ahead_row(&in[1], pos + PREFETCH_AHEAD, dim0 - p->slice_sizes.v[p->axes.v[0]] + 1, rs0, a), wbytes, 0);
    int64_t base = 0;
    for (int j = 0; j < k; j++) {
      int ax = p->axes.v[j];
      int64_t v = mx_index_load(mx_cpu_at(&in[1 + j], o.off[j]), 0, in[1 + j].dtype);
      base += mx_index_clamp(v, a->shape[ax], p->slice_sizes.v[ax]) * a->strides[ax];
    }
    if (jb->wsize == 1) copy_elem(dst, mx_cpu_at(a, base), es);
    else if (flat) memcpy(dst, mx_cpu_at(a, base), wbytes);
    else window_apply(&w, NULL, a->dtype, dst, mx_cpu_at(a, base));
    dst += jb->wsize * es;
    odo_next(&o);
  }
  odo_free(&o);
  mx_cpu_iter_free(&w.it);
}

int mx_cpu_gather(const mx_kernel_ctx *ctx, const mx_tensor *in, int n_in, mx_tensor *out,
                  int n_out) {
  const mx_p_gather *p = (const mx_p_gather *)ctx->params;
  if (!p || n_out != 1 || n_in != p->axes.n + 1)
    return mx_fail_int(MX_EINVAL, "[gather] Inputs do not match the parameters.");
  const mx_tensor *a = &in[0];
  int k = p->axes.n, nd = a->ndim, ind = out->ndim - nd;
  if (ind < 0 || p->slice_sizes.n != nd)
    return mx_fail_int(MX_EINVAL, "[gather] Output does not match the parameters.");
  if (out->size == 0) return 0;
  if (!mx_cpu_is_row_contig(out))
    return mx_fail_int(MX_EINVAL, "[gather] The output must be row-contiguous.");
  for (int j = 0; j < k; j++)
    if (check_index_dtype("gather", in[1 + j].dtype) < 0) return -1;
  int64_t wsize = 1;
  for (int d = 0; d < nd; d++) wsize *= p->slice_sizes.v[d];
  int64_t *wstr = (int64_t *)malloc((size_t)(nd > 0 ? nd : 1) * sizeof(int64_t));
  if (!wstr) return mx_fail_int(MX_ENOMEM, "[malloc] Unable to allocate window strides.");
  mx_row_strides(nd, p->slice_sizes.v, wstr);
  int64_t npos = 1;
  for (int d = 0; d < ind; d++) npos *= out->shape[d];
  gather_job jb = {p, in, out, ind, wsize, wstr, 0};
  int64_t grain = MX_CPU_PARALLEL_GRAIN / wsize > 1 ? MX_CPU_PARALLEL_GRAIN / wsize : 1;
  mx_cpu_parallel_for(npos, grain, gather_range, &jb);
  free(wstr);
  if (jb.failed) return mx_fail_int(MX_ENOMEM, "[gather] Unable to allocate iteration state.");
  return 0;
}

/* ---- GatherAxis / ScatterAxis over the pool: operands seen as [pre, axis, post] ---- */

/* Strides of an operand whose dims before `ax` collapse into one and whose dims after it
 * collapse into one (size-1 dims ignored; broadcast dims have stride 0). False otherwise. */
static bool axis_view(int nd, const int32_t *shape, const int64_t *st, int ax, int64_t v3[3]) {
  v3[1] = st[ax];
  for (int g = 0; g < 2; g++) {
    int lo = g == 0 ? 0 : ax + 1, hi = g == 0 ? ax : nd;
    int64_t s = 0, expect = -1;
    for (int d = hi - 1; d >= lo; d--) {
      if (shape[d] == 1) continue;
      if (expect < 0) s = st[d];
      else if (st[d] != expect) return false;
      expect = st[d] * shape[d];
      if (st[d] == 0) expect = 0;
    }
    v3[g == 0 ? 0 : 2] = s;
  }
  return true;
}

typedef struct axis_job {
  const mx_tensor *src, *idx, *dst; /* gather: a, idx, out; scatter: updates, idx, out */
  int64_t s3[3], x3[3], d3[3];     /* [pre, axis, post] strides of src, idx, dst */
  int64_t pre, len, post, chunk, nchunks, dim;
  comb_fn f;                       /* scatter reduction, NULL: assignment */
} axis_job;

/* One run of n positions: index j reads ix[j * xs]; gather copies src[j * ss + v * vs] to
 * dst[j * ds]; scatter combines src[j * ss] into dst[j * ds + v * vs]. */
#define AXIS_RUNS(iname, IT, ename, ET)                                                     \
  static void grun_##iname##_##ename(int64_t n, const void *ix_, int64_t xs, const void *s_, \
                                     int64_t ss, int64_t vs, void *d_, int64_t ds, int64_t dim) { \
    const IT *ix = (const IT *)ix_;                                                         \
    const ET *s = (const ET *)s_;                                                           \
    ET *d = (ET *)d_;                                                                       \
    if (xs == 1 && ds == 1 && ss == 0 && vs == 1) { /* a contiguous last axis */            \
      for (int64_t j = 0; j < n; j++) {                                                     \
        int64_t v = (int64_t)ix[j];                                                         \
        v = v < 0 ? v + dim : v;                                                            \
        d[j] = s[v < 0 ? 0 : (v >= dim ? dim - 1 : v)];                                     \
      }                                                                                     \
      return;                                                                               \
    }                                                                                       \
    for (int64_t j = 0; j < n; j++) {                                                       \
      int64_t v = (int64_t)ix[j * xs];                                                      \
      v = v < 0 ? v + dim : v;                                                              \
      v = v < 0 ? 0 : (v >= dim ? dim - 1 : v);                                             \
      d[j * ds] = s[j * ss + v * vs];                                                       \
    }                                                                                       \
  }                                                                                         \
  static void srun_##iname##_##ename(int64_t n, const void *ix_, int64_t xs, const void *s_, \
                                     int64_t ss, int64_t vs, void *d_, int64_t ds, int64_t dim) { \
    const IT *ix = (const IT *)ix_;                                                         \
    const ET *s = (const ET *)s_;                                                           \
    ET *d = (ET *)d_;                                                                       \
    if (xs == 1 && ss == 1 && ds == 0 && vs == 1) { /* a contiguous last axis */            \
      for (int64_t j = 0; j < n; j++) {                                                     \
        int64_t v = (int64_t)ix[j];                                                         \
        v = v < 0 ? v + dim : v;                                                            \
        if (v >= 0 && v < dim) d[v] = s[j];                                                 \
      }                                                                                     \
      return;                                                                               \
    }                                                                                       \
    for (int64_t j = 0; j < n; j++) {                                                       \
      int64_t v = (int64_t)ix[j * xs];                                                      \
      v = v < 0 ? v + dim : v;                                                              \
      if (v >= 0 && v < dim) d[j * ds + v * vs] = s[j * ss];                                \
    }                                                                                       \
  }
#define AXIS_RUNS_E(iname, IT)                  \
  AXIS_RUNS(iname, IT, e1, uint8_t)             \
  AXIS_RUNS(iname, IT, e2, uint16_t)            \
  AXIS_RUNS(iname, IT, e4, uint32_t)            \
  AXIS_RUNS(iname, IT, e8, uint64_t)
AXIS_RUNS_E(i8, int8_t)
AXIS_RUNS_E(i16, int16_t)
AXIS_RUNS_E(i32, int32_t)
AXIS_RUNS_E(i64, int64_t)
AXIS_RUNS_E(u8, uint8_t)
AXIS_RUNS_E(u16, uint16_t)
AXIS_RUNS_E(u32, uint32_t)

typedef void (*axis_run_fn)(int64_t, const void *, int64_t, const void *, int64_t, int64_t, void *,
                            int64_t, int64_t);
#define AXIS_ROW(iname) {grun_##iname##_e1, grun_##iname##_e2, grun_##iname##_e4, grun_##iname##_e8}
#define AXIS_SROW(iname) {srun_##iname##_e1, srun_##iname##_e2, srun_##iname##_e4, srun_##iname##_e8}
static const axis_run_fn grun_tab[MX_DTYPE_COUNT][4] = {
    [MX_INT8] = AXIS_ROW(i8),   [MX_INT16] = AXIS_ROW(i16), [MX_INT32] = AXIS_ROW(i32),
    [MX_INT64] = AXIS_ROW(i64), [MX_UINT8] = AXIS_ROW(u8),  [MX_UINT16] = AXIS_ROW(u16),
    [MX_UINT32] = AXIS_ROW(u32)};
static const axis_run_fn srun_tab[MX_DTYPE_COUNT][4] = {
    [MX_INT8] = AXIS_SROW(i8),   [MX_INT16] = AXIS_SROW(i16), [MX_INT32] = AXIS_SROW(i32),
    [MX_INT64] = AXIS_SROW(i64), [MX_UINT8] = AXIS_SROW(u8),  [MX_UINT16] = AXIS_SROW(u16),
    [MX_UINT32] = AXIS_SROW(u32)};

static int esize_slot(int es) { return es == 1 ? 0 : es == 2 ? 1 : es == 4 ? 2 : 3; }

/* Reduction runs (and uint64 indices, which saturate): one element at a time. */
static void axis_run_slow(const axis_job *jb, bool scatter, int64_t n, const char *ix, int64_t xs,
                          const char *s, int64_t ss, int64_t vs, char *d, int64_t ds) {
  int es = mx_dtype_size(jb->dst->dtype), xe = mx_dtype_size(jb->idx->dtype);
  for (int64_t j = 0; j < n; j++) {
    int64_t v = mx_index_load(ix + j * xs * xe, 0, jb->idx->dtype);
    if (!scatter) {
      v = mx_index_clamp(v, jb->dim, 1);
      copy_elem(d + j * ds * es, s + (j * ss + v * vs) * es, es);
      continue;
    }
    v = mx_index_wrap(v, jb->dim);
    if (v < 0 || v >= jb->dim) continue;
    char *t = d + (j * ds + v * vs) * es;
    if (jb->f) jb->f(t, 1, s + j * ss * es, 1, 1);
    else copy_elem(t, s + j * ss * es, es);
  }
}

/* Items are (pre position, chunk of post); no two items touch the same output elements, and
 * each item applies its updates in index order, so scatters match a serial loop. */
static void axis_range(axis_job *jb, bool scatter, int64_t b, int64_t e) {
  int es = mx_dtype_size(jb->dst->dtype), se = mx_dtype_size(jb->src->dtype),
      xe = mx_dtype_size(jb->idx->dtype);
  axis_run_fn fast = jb->f ? NULL
                     : scatter ? srun_tab[jb->idx->dtype][esize_slot(es)]
                               : grun_tab[jb->idx->dtype][esize_slot(es)];
  const int64_t *s3 = jb->s3, *x3 = jb->x3, *d3 = jb->d3;
  for (int64_t it = b; it < e; it++) {
    int64_t p = it / jb->nchunks, c0 = (it % jb->nchunks) * jb->chunk;
    int64_t c1 = c0 + jb->chunk < jb->post ? c0 + jb->chunk : jb->post;
    const char *ix = (const char *)jb->idx->data + (p * x3[0] + c0 * x3[2]) * xe;
    const char *s = (const char *)jb->src->data + (p * s3[0] + c0 * s3[2]) * se;
    char *d = (char *)jb->dst->data + (p * d3[0] + c0 * d3[2]) * es;
    /* gather: the source moves along the axis by the index; scatter: the destination */
    int64_t vs = scatter ? d3[1] : s3[1];
    if (jb->post == 1) { /* one run along the axis */
      int64_t ss = scatter ? s3[1] : 0, ds = scatter ? 0 : d3[1];
      if (fast) fast(jb->len, ix, x3[1], s, ss, vs, d, ds, jb->dim);
      else axis_run_slow(jb, scatter, jb->len, ix, x3[1], s, ss, vs, d, ds);
      continue;
    }
    for (int64_t i = 0; i < jb->len; i++) { /* runs along post, one per axis position */
      const char *ixi = ix + i * x3[1] * xe;
      const char *si = scatter ? s + i * s3[1] * se : s;
      char *di = scatter ? d : d + i * d3[1] * es;
      if (fast) fast(c1 - c0, ixi, x3[2], si, s3[2], vs, di, d3[2], jb->dim);
      else axis_run_slow(jb, scatter, c1 - c0, ixi, x3[2], si, s3[2], vs, di, d3[2]);
    }
  }
}

static void gather_axis_range(void *ctx, int64_t b, int64_t e) { axis_range((axis_job *)ctx, false, b, e); }
static void scatter_axis_range(void *ctx, int64_t b, int64_t e) { axis_range((axis_job *)ctx, true, b, e); }

/* Sets up the job when every operand has a [pre, axis, post] view; false: use the serial path.
 * shape: the index shape; src/dst differ from it only along ax. */
static bool axis_job_init(axis_job *jb, const mx_tensor *src, const mx_tensor *idx,
                          const mx_tensor *dst, int ax, int64_t dim) {
  int nd = idx->ndim;
  if (!axis_view(nd, src->shape, src->strides, ax, jb->s3) ||
      !axis_view(nd, idx->shape, idx->strides, ax, jb->x3) ||
      !axis_view(nd, dst->shape, dst->strides, ax, jb->d3))
    return false;
  jb->src = src;
  jb->idx = idx;
  jb->dst = dst;
  jb->pre = 1;
  jb->post = 1;
  for (int d = 0; d < ax; d++) jb->pre *= idx->shape[d];
  for (int d = ax + 1; d < nd; d++) jb->post *= idx->shape[d];
  jb->len = idx->shape[ax];
  jb->dim = dim;
  jb->chunk = jb->post > 1024 ? 512 : jb->post;
  jb->nchunks = (jb->post + jb->chunk - 1) / jb->chunk;
  return true;
}

static void axis_job_run(axis_job *jb, bool scatter) {
  int64_t per = jb->len * jb->chunk, items = jb->pre * jb->nchunks;
  int64_t grain = MX_CPU_PARALLEL_GRAIN / per > 1 ? MX_CPU_PARALLEL_GRAIN / per : 1;
  mx_cpu_parallel_for(items, grain, scatter ? scatter_axis_range : gather_axis_range, jb);
}

/* ---- GatherAxis: in a, idx (a's shape but along axis); out idx.shape ---- */

int mx_cpu_gather_axis(const mx_kernel_ctx *ctx, const mx_tensor *in, int n_in, mx_tensor *out,
                       int n_out) {
  const mx_p_gather_axis *p = (const mx_p_gather_axis *)ctx->params;
  if (!p || n_in != 2 || n_out != 1 || in[0].ndim != out->ndim || in[1].ndim != out->ndim ||
      p->axis < 0 || p->axis >= out->ndim)
    return mx_fail_int(MX_EINVAL, "[gather_axis] Inputs do not match the parameters.");
  if (out->size == 0) return 0;
  if (check_index_dtype("GatherAxis::eval_cpu", in[1].dtype) < 0) return -1;
  const mx_tensor *a = &in[0], *idx = &in[1];
  int nd = out->ndim, ax = p->axis, es = mx_dtype_size(a->dtype);
  int64_t dim = a->shape[ax], astride = a->strides[ax];
  if (dim == 0) return mx_fail_int(MX_EINVAL, "[gather_axis] Cannot gather from an empty axis.");
  axis_job jb = {0};
  if (a->dtype == out->dtype && axis_job_init(&jb, a, idx, out, ax, dim)) {
    axis_job_run(&jb, false);
    return 0;
  }
  int64_t *ast = (int64_t *)malloc((size_t)nd * sizeof(int64_t));
  if (!ast) return mx_fail_int(MX_ENOMEM, "[malloc] Unable to allocate strides.");
  for (int d = 0; d < nd; d++) ast[d] = d == ax ? 0 : a->strides[d];
  const int64_t *st[3] = {out->strides, idx->strides, ast};
  mx_cpu_iter it;
  if (mx_cpu_iter_init(&it, 3, nd, out->shape, st) < 0) {
    free(ast);
    return -1;
  }
  int64_t len = mx_cpu_iter_len(&it), so = mx_cpu_iter_stride(&it, 0),
          si = mx_cpu_iter_stride(&it, 1), sa = mx_cpu_iter_stride(&it, 2), offs[3];
  mx_cpu_iter_seek(&it, 0, offs);
  for (int64_t r = 0; r < it.nruns; r++) {
    for (int64_t i = 0; i < len; i++) {
      int64_t v = mx_index_clamp(mx_index_load(mx_cpu_at(idx, offs[1] + i * si), 0, idx->dtype), dim, 1);
      copy_elem(mx_cpu_at(out, offs[0] + i * so), mx_cpu_at(a, offs[2] + i * sa + v * astride), es);
    }
    mx_cpu_iter_next(&it, offs);
  }
  mx_cpu_iter_free(&it);
  free(ast);
  return 0;
}

/* ---- Scatter: in a, idx_0..idx_{k-1}, updates (idx.shape + window); out a's shape ---- */

/* Updates are applied in their order. Over the pool, part q of `parts` applies only the
 * updates whose index along axes[0] lies in its share of that axis; windows one wide along
 * it never overlap across parts, so each output element sees its updates in the same order
 * as a serial loop (duplicates and reductions included). */
typedef struct scatter_job {
  const mx_p_scatter *p;
  const held *h;            /* k indices, then the updates */
  mx_tensor *out;
  const int32_t *wshape;
  int ind, parts;
  int64_t npos;
  comb_fn f;
  _Atomic int failed;
} scatter_job;

static void scatter_range(void *ctx, int64_t qb, int64_t qe) {
  scatter_job *jb = (scatter_job *)ctx;
  const mx_p_scatter *p = jb->p;
  const held *h = jb->h;
  mx_tensor *out = jb->out;
  int k = p->axes.n, nd = out->ndim;
  const mx_tensor *upd = &h[k].t;
  int64_t dim0 = k > 0 ? out->shape[p->axes.v[0]] : 1;
  int64_t vlo = dim0 * qb / jb->parts, vhi = dim0 * qe / jb->parts;
  window w;
  odo o;
  if (window_init(&w, nd, jb->wshape, out->strides, upd->strides + jb->ind) < 0) {
    jb->failed = 1;
    return;
  }
  if (odo_init(&o, jb->ind, upd->shape, k + 1) < 0) {
    mx_cpu_iter_free(&w.it);
    jb->failed = 1;
    return;
  }
  for (int j = 0; j <= k; j++) odo_set(&o, j, h[j].t.strides); /* updates: its leading dims */
  size_t wbytes = (size_t)w.len * (size_t)mx_dtype_size(out->dtype);
  bool ahead = k == 1 && jb->ind == 1 && w.it.nruns == 1 && w.sd == 1 && wbytes >= 64;
  int64_t rs0 = k == 1 ? out->strides[p->axes.v[0]] : 0;
  for (int64_t pos = 0; pos < jb->npos; pos++) {
    if (ahead && pos + PREFETCH_AHEAD < jb->npos)
      PREFETCH_ROW(ahead_row(&h[0].t, pos + PREFETCH_AHEAD, dim0, rs0, out), wbytes, 1);
    int64_t base = 0;
    bool inside = true;
    for (int j = 0; j < k && inside; j++) {
      int ax = p->axes.v[j];
      int64_t v = mx_index_wrap(mx_index_load(mx_cpu_at(&h[j].t, o.off[j]), 0, h[j].t.dtype), out->shape[ax]);
      if (v < 0 || v > out->shape[ax] - jb->wshape[ax]) inside = false;
      else if (j == 0 && (v < vlo || v >= vhi)) inside = false; /* another part's */
      else base += v * out->strides[ax];
    }
    if (inside) window_apply(&w, jb->f, out->dtype, mx_cpu_at(out, base), mx_cpu_at(upd, o.off[k]));
    odo_next(&o);
  }
  odo_free(&o);
  mx_cpu_iter_free(&w.it);
}

int mx_cpu_scatter(const mx_kernel_ctx *ctx, const mx_tensor *in, int n_in, mx_tensor *out,
                   int n_out) {
  const mx_p_scatter *p = (const mx_p_scatter *)ctx->params;
  if (!p || n_out != 1 || n_in != p->axes.n + 2 || in[0].ndim != out->ndim)
    return mx_fail_int(MX_EINVAL, "[scatter] Inputs do not match the parameters.");
  int k = p->axes.n, nd = out->ndim;
  held h[n_in > 0 ? n_in : 1];
  int nh = 0, rc = 0;
  for (int j = 1; j < n_in && rc == 0; j++, nh++) rc = hold_input(&h[j - 1], &in[j], out);
  if (rc == 0) rc = copy_base(&in[0], out);
  const mx_tensor *upd = &h[k].t;
  int ind = upd->ndim - nd;
  if (rc == 0 && ind < 0) rc = mx_fail_int(MX_EINVAL, "[scatter] Updates do not match the output.");
  for (int j = 0; j < k && rc == 0; j++) rc = check_index_dtype("scatter", h[j].t.dtype);
  if (rc != 0 || upd->size == 0) {
    held_free(h, nh);
    return rc;
  }
  const int32_t *wshape = upd->shape + ind;
  int64_t npos = 1, wsize = 1;
  for (int d = 0; d < ind; d++) npos *= upd->shape[d];
  for (int d = 0; d < nd; d++) wsize *= wshape[d];
  /* split over the pool when windows are rows one wide along axes[0] and large enough that
   * every part reading all the indices costs little */
  int parts = 1;
  if (k > 0 && wshape[p->axes.v[0]] == 1 && wsize >= 16 && npos * wsize >= 2 * MX_CPU_PARALLEL_GRAIN)
    parts = mx_cpu_pool_size();
  if (k > 0 && parts > out->shape[p->axes.v[0]]) parts = out->shape[p->axes.v[0]];
  if (parts < 1) parts = 1;
  scatter_job jb = {p, h, out, wshape, ind, parts, npos, comb_for(p->reduce, out->dtype), 0};
  mx_cpu_parallel_for(parts, 1, scatter_range, &jb);
  held_free(h, nh);
  if (jb.failed) return mx_fail_int(MX_ENOMEM, "[scatter] Unable to allocate iteration state.");
  return 0;
}

/* ---- ScatterAxis: in a, idx, updates (idx.shape); out a's shape ---- */

int mx_cpu_scatter_axis(const mx_kernel_ctx *ctx, const mx_tensor *in, int n_in, mx_tensor *out,
                        int n_out) {
  const mx_p_scatter_axis *p = (const mx_p_scatter_axis *)ctx->params;
  if (!p || n_in != 3 || n_out != 1 || in[0].ndim != out->ndim || in[1].ndim != out->ndim ||
      in[2].ndim != out->ndim || p->axis < 0 || p->axis >= out->ndim)
    return mx_fail_int(MX_EINVAL, "[scatter_axis] Inputs do not match the parameters.");
  held h[2];
  int rc = hold_input(&h[0], &in[1], out);
  int nh = 1;
  if (rc == 0) {
    rc = hold_input(&h[1], &in[2], out);
    nh = 2;
  }
  if (rc == 0) rc = copy_base(&in[0], out);
  if (rc == 0) rc = check_index_dtype("scatter_axis", in[1].dtype);
  const mx_tensor *idx = &h[0].t, *upd = &h[1].t;
  if (rc != 0 || idx->size == 0) {
    held_free(h, nh);
    return rc;
  }
  int nd = out->ndim, ax = p->axis, es = mx_dtype_size(out->dtype);
  int64_t dim = out->shape[ax], ostride = out->strides[ax];
  comb_fn f = comb_for(p->reduce, out->dtype);
  axis_job jb = {0};
  if (upd->dtype == out->dtype && axis_job_init(&jb, upd, idx, out, ax, dim)) {
    jb.f = f;
    axis_job_run(&jb, true);
    held_free(h, nh);
    return 0;
  }
  int64_t *ost = (int64_t *)malloc((size_t)nd * sizeof(int64_t));
  if (!ost) {
    held_free(h, nh);
    return mx_fail_int(MX_ENOMEM, "[malloc] Unable to allocate strides.");
  }
  for (int d = 0; d < nd; d++) ost[d] = d == ax ? 0 : out->strides[d];
  const int64_t *st[3] = {ost, idx->strides, upd->strides};
  mx_cpu_iter it;
  if (mx_cpu_iter_init(&it, 3, nd, idx->shape, st) < 0) {
    free(ost);
    held_free(h, nh);
    return -1;
  }
  int64_t len = mx_cpu_iter_len(&it), so = mx_cpu_iter_stride(&it, 0),
          si = mx_cpu_iter_stride(&it, 1), su = mx_cpu_iter_stride(&it, 2), offs[3];
  mx_cpu_iter_seek(&it, 0, offs);
  for (int64_t r = 0; r < it.nruns; r++) {
    for (int64_t i = 0; i < len; i++) {
      int64_t v = mx_index_wrap(mx_index_load(mx_cpu_at(idx, offs[1] + i * si), 0, idx->dtype), dim);
      if (v < 0 || v >= dim) continue;
      char *d = mx_cpu_at(out, offs[0] + i * so + v * ostride);
      const char *s = mx_cpu_at(upd, offs[2] + i * su);
      if (f) f(d, 1, s, 1, 1);
      else copy_elem(d, s, es);
    }
    mx_cpu_iter_next(&it, offs);
  }
  mx_cpu_iter_free(&it);
  free(ost);
  held_free(h, nh);
  return 0;
}

/* ---- MaskedScatter: in a, mask (bool, a's shape), src (1-d); out a's shape ---- */

int mx_cpu_masked_scatter(const mx_kernel_ctx *ctx, const mx_tensor *in, int n_in, mx_tensor *out,
                          int n_out) {
  if (n_in != 3 || n_out != 1 || in[1].ndim != out->ndim || in[1].dtype != MX_BOOL ||
      in[2].ndim != 1 || in[2].dtype != out->dtype)
    return mx_fail_int(MX_EINVAL, "[masked_scatter] Inputs do not match the output.");
  held h[2];
  int rc = hold_input(&h[0], &in[1], out);
  int nh = 1;
  if (rc == 0) {
    rc = hold_input(&h[1], &in[2], out);
    nh = 2;
  }
  if (rc == 0) rc = copy_base(&in[0], out);
  if (rc != 0 || out->size == 0) {
    held_free(h, nh);
    return rc;
  }
  const mx_tensor *mask = &h[0].t, *src = &h[1].t;
  int es = mx_dtype_size(out->dtype);
  int64_t n_src = src->size, ss = src->strides[0], k = 0;
  const int64_t *st[2] = {out->strides, mask->strides};
  mx_cpu_iter it;
  if (mx_cpu_iter_init(&it, 2, out->ndim, out->shape, st) < 0) {
    held_free(h, nh);
    return -1;
  }
  int64_t len = mx_cpu_iter_len(&it), so = mx_cpu_iter_stride(&it, 0),
          sm = mx_cpu_iter_stride(&it, 1), offs[2];
  mx_cpu_iter_seek(&it, 0, offs);
  for (int64_t r = 0; r < it.nruns && rc == 0; r++) {
    const bool *m = (const bool *)mask->data + offs[1];
    for (int64_t i = 0; i < len; i++) {
      if (!m[i * sm]) continue;
      if (k >= n_src) {
        rc = mx_fail_int(MX_ERUNTIME, "[MaskedScatter::eval_cpu] Source does not have enough elements for mask.");
        break;
      }
      copy_elem(mx_cpu_at(out, offs[0] + i * so), mx_cpu_at(src, k * ss), es);
      k++;
    }
    mx_cpu_iter_next(&it, offs);
  }
  mx_cpu_iter_free(&it);
  held_free(h, nh);
  return rc;
}

/* ---- DynamicSlice / DynamicSliceUpdate: starts read from an index array ---- */

/* Element offset of the window of shape wshape whose starts along axes come from start. */
static int64_t window_offset(const mx_tensor *start, const mx_ints *axes, const int32_t *shape,
                             const int64_t *strides, const int32_t *wshape) {
  int64_t off = 0;
  for (int j = 0; j < axes->n; j++) {
    int ax = axes->v[j];
    int64_t v = mx_index_load(mx_cpu_at(start, j * (start->ndim ? start->strides[0] : 0)), 0, start->dtype);
    off += mx_index_clamp(v, shape[ax], wshape[ax]) * strides[ax];
  }
  return off;
}

int mx_cpu_dynamic_slice(const mx_kernel_ctx *ctx, const mx_tensor *in, int n_in, mx_tensor *out,
                         int n_out) {
  const mx_p_dynamic_slice *p = (const mx_p_dynamic_slice *)ctx->params;
  if (!p || n_in != 2 || n_out != 1 || in[0].ndim != out->ndim || in[1].size != p->axes.n)
    return mx_fail_int(MX_EINVAL, "[slice] Inputs do not match the parameters.");
  if (check_index_dtype("slice", in[1].dtype) < 0) return -1;
  if (out->size == 0) return 0;
  const mx_tensor *a = &in[0];
  int64_t off = window_offset(&in[1], &p->axes, a->shape, a->strides, out->shape);
  mx_tensor v = *out;
  v.data = mx_cpu_at(a, off);
  v.dtype = a->dtype;
  v.strides = a->strides;
  v.flags = 0;
  return mx_cpu_copy_strided(&v, out);
}

int mx_cpu_dynamic_slice_update(const mx_kernel_ctx *ctx, const mx_tensor *in, int n_in,
                                mx_tensor *out, int n_out) {
  const mx_p_dynamic_slice_update *p = (const mx_p_dynamic_slice_update *)ctx->params;
  if (!p || n_in != 3 || n_out != 1 || in[0].ndim != out->ndim || in[1].ndim != out->ndim ||
      in[2].size != p->axes.n)
    return mx_fail_int(MX_EINVAL, "[slice_update] Inputs do not match the parameters.");
  if (check_index_dtype("slice_update", in[2].dtype) < 0) return -1;
  held h[2];
  int rc = hold_input(&h[0], &in[1], out);
  int nh = 1;
  if (rc == 0) {
    rc = hold_input(&h[1], &in[2], out);
    nh = 2;
  }
  if (rc == 0) rc = copy_base(&in[0], out);
  const mx_tensor *upd = &h[0].t;
  if (rc == 0 && upd->size > 0) {
    int64_t off = window_offset(&h[1].t, &p->axes, out->shape, out->strides, upd->shape);
    mx_tensor region = *upd;
    region.data = mx_cpu_at(out, off);
    region.dtype = out->dtype;
    region.strides = out->strides;
    region.flags = 0;
    rc = mx_cpu_copy_strided(upd, &region);
  }
  held_free(h, nh);
  return rc;
}
