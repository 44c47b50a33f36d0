/* binary.c: the binary and compare families on the CPU. One tile function per (member,
 * dtype) is generated from MX_BINARY_PRIMS / MX_COMPARE_PRIMS and formulas.h; one driver
 * walks the (broadcast, strided) operands as runs into the row-contiguous output, with
 * contiguous and scalar-broadcast loops the compiler can vectorise. */
#include "../formulas.h"
#include "binary_fast.h"
#include "cpu.h"
#include "pool.h"
#include "tile_gather.h"

/* o[0..n) = f(a[i*sa], b[i*sb]): o contiguous. */
typedef void (*binary_tile_fn)(const void *a, int64_t sa, const void *b, int64_t sb, void *o,
                               int64_t n);

#define BIN_NOWRAP(v) (v)

/* F: formula, OT: output storage type, WRAP: compute -> output storage. */
#define BIN_TILE(fname, sfx, F, OT, WRAP)                                                 \
  static void fname(const void *a_, int64_t sa, const void *b_, int64_t sb, void *o_,     \
                    int64_t n) {                                                          \
    const MX_ST_##sfx *a = (const MX_ST_##sfx *)a_;                                       \
    const MX_ST_##sfx *b = (const MX_ST_##sfx *)b_;                                       \
    OT *o = (OT *)o_;                                                                     \
    if (sa == 1 && sb == 1) {                                                             \
      for (int64_t i = 0; i < n; i++) o[i] = WRAP(F(MX_LD_##sfx(a[i]), MX_LD_##sfx(b[i]))); \
    } else if (sa == 0 && sb == 1) {                                                      \
      MX_CT_##sfx av = MX_LD_##sfx(a[0]);                                                 \
      for (int64_t i = 0; i < n; i++) o[i] = WRAP(F(av, MX_LD_##sfx(b[i])));              \
    } else if (sa == 1 && sb == 0) {                                                      \
      MX_CT_##sfx bv = MX_LD_##sfx(b[0]);                                                 \
      for (int64_t i = 0; i < n; i++) o[i] = WRAP(F(MX_LD_##sfx(a[i]), bv));              \
    } else {                                                                              \
      for (int64_t i = 0; i < n; i++)                                                     \
        o[i] = WRAP(F(MX_LD_##sfx(a[i * sa]), MX_LD_##sfx(b[i * sb])));                   \
    }                                                                                     \
  }

#define BINARY_TILE(stem, sfx) \
  BIN_TILE(binary_##stem##_##sfx, sfx, MX_FN(stem, sfx), MX_ST_##sfx, MX_SV_##sfx)
#define COMPARE_TILE(stem, sfx) \
  BIN_TILE(compare_##stem##_##sfx, sfx, MX_FN(stem, sfx), bool, BIN_NOWRAP)

#define BINARY_ENTRY(stem, sfx) [MX_DT_##sfx] = binary_##stem##_##sfx,
#define COMPARE_ENTRY(stem, sfx) [MX_DT_##sfx] = compare_##stem##_##sfx,

static int binary_forward(const char *name, int prim, const binary_tile_fn *tab, bool compare,
                          const mx_tensor *in, int n_in, mx_tensor *out, int n_out);

#define BINARY_DEFINE(NAME, stem)                                                          \
  MX_F_##stem##_TYPES(BINARY_TILE, stem)                                                   \
  static const binary_tile_fn binary_tab_##stem[MX_DTYPE_COUNT] = {                        \
      MX_F_##stem##_TYPES(BINARY_ENTRY, stem)};                                            \
  int mx_cpu_binary_##stem(const mx_kernel_ctx *ctx, const mx_tensor *in, int n_in,        \
                           mx_tensor *out, int n_out) {                                    \
    (void)ctx;                                                                             \
    return binary_forward(#stem, MX_PRIM_##NAME, binary_tab_##stem, false, in, n_in, out, n_out);          \
  }
MX_BINARY_PRIMS(BINARY_DEFINE)

#define COMPARE_DEFINE(NAME, stem)                                                         \
  MX_F_##stem##_TYPES(COMPARE_TILE, stem)                                                  \
  static const binary_tile_fn compare_tab_##stem[MX_DTYPE_COUNT] = {                       \
      MX_F_##stem##_TYPES(COMPARE_ENTRY, stem)};                                           \
  int mx_cpu_compare_##stem(const mx_kernel_ctx *ctx, const mx_tensor *in, int n_in,       \
                            mx_tensor *out, int n_out) {                                   \
    (void)ctx;                                                                             \
    return binary_forward(#stem, MX_PRIM_##NAME, compare_tab_##stem, true, in, n_in, out, n_out);          \
  }
MX_COMPARE_PRIMS(COMPARE_DEFINE)

/* Runs [r0, r1) of the iteration (a thread pool can split this range later). */
static void binary_runs(binary_tile_fn fn, mx_dtype res_t, const mx_tensor *in, mx_tensor *out,
                        mx_cpu_iter *it, int64_t r0, int64_t r1) {
  int64_t n = mx_cpu_iter_len(it), offs[3];
  int64_t sa = mx_cpu_iter_stride(it, 1), sb = mx_cpu_iter_stride(it, 2);
  int isz = mx_dtype_size(in[0].dtype), osz = mx_dtype_size(out->dtype);
  bool convert = res_t != out->dtype;
  uint64_t tile[MX_CPU_TILE]; /* result in res_t before a dtype change */
  mx_cpu_iter_seek(it, r0, offs);
  for (int64_t r = r0; r < r1; r++) {
    const char *a = (const char *)in[0].data + offs[1] * isz;
    const char *b = (const char *)in[1].data + offs[2] * isz;
    char *o = (char *)out->data + offs[0] * osz;
    if (!convert) {
      fn(a, sa, b, sb, o, n);
    } else {
      for (int64_t j = 0; j < n; j += MX_CPU_TILE) {
        int64_t c = n - j < MX_CPU_TILE ? n - j : MX_CPU_TILE;
        fn(a + j * sa * isz, sa, b + j * sb * isz, sb, tile, c);
        mx_cpu_convert(tile, res_t, 1, o + j * osz, out->dtype, 1, c);
      }
    }
    mx_cpu_iter_next(it, offs);
  }
}

/* A loop split over the thread pool: by elements of a single run, or by runs (each range
 * with its own iterator, since iterators carry a position). */
typedef struct binary_job {
  binary_tile_fn fn;
  mx_dtype res_t;
  const mx_tensor *in;
  mx_tensor *out;
  mx_cpu_iter *it;
  const int64_t *const *strides;
  int rc;
} binary_job;

static void binary_elements(void *ctx, int64_t b, int64_t e) {
  binary_job *j = ctx;
  int64_t sa = mx_cpu_iter_stride(j->it, 1), sb = mx_cpu_iter_stride(j->it, 2);
  int64_t so = mx_cpu_iter_stride(j->it, 0);
  int isz = mx_dtype_size(j->in[0].dtype), osz = mx_dtype_size(j->out->dtype);
  mx_tensor a = j->in[0], c = j->in[1], o = *j->out;
  a.data = (char *)a.data + b * sa * isz;
  c.data = (char *)c.data + b * sb * isz;
  o.data = (char *)o.data + b * so * osz;
  mx_cpu_iter sub;
  int32_t len = (int32_t)(e - b);
  int64_t s0[1] = {so}, s1[1] = {sa}, s2[1] = {sb};
  const int64_t *st[3] = {s0, s1, s2};
  if (mx_cpu_iter_init(&sub, 3, 1, &len, st) != 0) {
    j->rc = -1;
    return;
  }
  mx_tensor ins[2] = {a, c};
  binary_runs(j->fn, j->res_t, ins, &o, &sub, 0, sub.nruns);
  mx_cpu_iter_free(&sub);
}

static void binary_run_range(void *ctx, int64_t r0, int64_t r1) {
  binary_job *j = ctx;
  mx_cpu_iter sub;
  if (mx_cpu_iter_init(&sub, 3, j->out->ndim, j->out->shape, j->strides) != 0) {
    j->rc = -1;
    return;
  }
  binary_runs(j->fn, j->res_t, j->in, j->out, &sub, r0, r1);
  mx_cpu_iter_free(&sub);
}

static int binary_forward(const char *name, int prim, const binary_tile_fn *tab, bool compare,
                          const mx_tensor *in, int n_in, mx_tensor *out, int n_out) {
  if (n_in != 2 || n_out != 1)
    return mx_fail_int(MX_EINVAL, "[%s] Expected 2 inputs and 1 output.", name);
  mx_dtype t = in[0].dtype;
  if (in[1].dtype != t)
    return mx_fail_int(MX_ETYPE, "[%s] Inputs have different dtypes (%s, %s).", name,
                       mx_dtype_name(t), mx_dtype_name(in[1].dtype));
  if ((unsigned)t >= MX_DTYPE_COUNT || !tab[t])
    return mx_fail_int(MX_ETYPE, "[%s] Not supported for dtype %s.", name, mx_dtype_name(t));
  if ((unsigned)out->dtype >= MX_DTYPE_COUNT)
    return mx_fail_int(MX_ETYPE, "[%s] Invalid output dtype.", name);
  if (!mx_cpu_is_row_contig(out))
    return mx_fail_int(MX_EINVAL, "[%s] The output must be row-contiguous.", name);
  if (out->size == 0) return 0;
  mx_cpu_bstrides ba, bb;
  if (mx_cpu_bstrides_init(&ba, name, &in[0], out) < 0) return -1;
  if (mx_cpu_bstrides_init(&bb, name, &in[1], out) < 0) {
    mx_cpu_bstrides_free(&ba);
    return -1;
  }
  const int64_t *strides[3] = {out->strides, ba.s, bb.s};
  mx_cpu_iter it;
  int rc = mx_cpu_iter_init(&it, 3, out->ndim, out->shape, strides);
  if (rc == 0) {
    binary_tile_fn fast = mx_cpu_binary_fast(prim, t);
    binary_job job = {fast ? fast : tab[t], compare ? MX_BOOL : t, in, out, &it, strides, 0};
    int64_t len = mx_cpu_iter_len(&it);
    if (it.nruns > 1 && len < 64 && out->size >= 4096) { /* short runs: contiguous tiles */
      rc = mx_cpu_binary_tiled(job.fn, job.res_t, in, out);
    } else if (it.nruns == 1) { /* one long run: split its elements */
      mx_cpu_parallel_for(len, MX_CPU_PARALLEL_GRAIN, binary_elements, &job);
    } else {
      int64_t grain = MX_CPU_PARALLEL_GRAIN / (len > 0 ? len : 1);
      mx_cpu_parallel_for(it.nruns, grain > 0 ? grain : 1, binary_run_range, &job);
    }
    if (rc == 0) rc = job.rc;
    mx_cpu_iter_free(&it);
  }
  mx_cpu_bstrides_free(&ba);
  mx_cpu_bstrides_free(&bb);
  return rc;
}
