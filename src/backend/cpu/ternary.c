/* ternary.c: the ternary family (Select) on the CPU: one tile function per (member, dtype)
 * generated from MX_TERNARY_PRIMS and formulas.h (ternary formulas take storage types),
 * one driver over the broadcast/strided condition and operands, split over the pool. Select
 * runs with a contiguous condition and contiguous or broadcast operands take the vectorised
 * loops of vselect.h. */
#include "../formulas.h"
#include "cpu.h"
#include "pool.h"
#include "vselect.h"

/* o[0..n) = f(c[i*sc], x[i*sx], y[i*sy]): c bool, o contiguous. */
typedef void (*ternary_tile_fn)(const bool *c, int64_t sc, const void *x, int64_t sx,
                                const void *y, int64_t sy, void *o, int64_t n);

#define TERNARY_TILE(stem, sfx)                                                           \
  static void ternary_##stem##_##sfx(const bool *c, int64_t sc, const void *x_, int64_t sx, \
                                     const void *y_, int64_t sy, void *o_, int64_t n) {   \
    const MX_ST_##sfx *x = (const MX_ST_##sfx *)x_;                                       \
    const MX_ST_##sfx *y = (const MX_ST_##sfx *)y_;                                       \
    MX_ST_##sfx *o = (MX_ST_##sfx *)o_;                                                   \
    if (sc == 1 && sx == 1 && sy == 1) {                                                  \
      for (int64_t i = 0; i < n; i++) o[i] = mx_f_##stem##_##sfx(c[i], x[i], y[i]);       \
    } else {                                                                              \
      for (int64_t i = 0; i < n; i++)                                                     \
        o[i] = mx_f_##stem##_##sfx(c[i * sc], x[i * sx], y[i * sy]);                      \
    }                                                                                     \
  }

#define TERNARY_ENTRY(stem, sfx) [MX_DT_##sfx] = ternary_##stem##_##sfx,

static int ternary_forward(const char *name, const ternary_tile_fn *tab, bool vsel,
                           const mx_tensor *in, int n_in, mx_tensor *out, int n_out);

#define TERNARY_DEFINE(NAME, stem)                                                         \
  MX_F_##stem##_TYPES(TERNARY_TILE, stem)                                                  \
  static const ternary_tile_fn ternary_tab_##stem[MX_DTYPE_COUNT] = {                      \
      MX_F_##stem##_TYPES(TERNARY_ENTRY, stem)};                                           \
  int mx_cpu_ternary_##stem(const mx_kernel_ctx *ctx, const mx_tensor *in, int n_in,       \
                            mx_tensor *out, int n_out) {                                   \
    (void)ctx;                                                                             \
    return ternary_forward(#stem, ternary_tab_##stem, MX_PRIM_##NAME == MX_PRIM_SELECT, in, \
                           n_in, out, n_out);                                              \
  }
MX_TERNARY_PRIMS(TERNARY_DEFINE)

/* What one call works on: the kernel, the operands and the iteration; `vsel` lets runs
 * take vselect.h's loops. */
typedef struct ternary_job {
  ternary_tile_fn fn;
  bool vsel;
  const mx_tensor *in;
  mx_tensor *out;
  const int64_t *const *strides;
  int64_t run_strides[4]; /* along the single run, when there is one */
  int rc;
} ternary_job;

/* Runs [r0, r1) of the iteration `it`. */
static void ternary_runs(const ternary_job *j, const mx_tensor *in, mx_tensor *out,
                         mx_cpu_iter *it, int64_t r0, int64_t r1) {
  int64_t n = mx_cpu_iter_len(it), offs[4];
  int64_t sc = mx_cpu_iter_stride(it, 1), sx = mx_cpu_iter_stride(it, 2);
  int64_t sy = mx_cpu_iter_stride(it, 3);
  mx_dtype t = in[1].dtype;
  int isz = mx_dtype_size(t), osz = mx_dtype_size(out->dtype);
  bool convert = t != out->dtype;
  bool vec = j->vsel && !convert && sc == 1 && (sx == 0 || sx == 1) && (sy == 0 || sy == 1);
  uint64_t tile[MX_CPU_TILE];
  mx_cpu_iter_seek(it, r0, offs);
  for (int64_t r = r0; r < r1; r++) {
    const bool *c = (const bool *)in[0].data + offs[1];
    const char *x = (const char *)in[1].data + offs[2] * isz;
    const char *y = (const char *)in[2].data + offs[3] * isz;
    char *o = (char *)out->data + offs[0] * osz;
    if (vec && mx_vsel_run(isz, c, x, sx, y, sy, o, n)) {
      /* done */
    } else if (!convert) {
      j->fn(c, sc, x, sx, y, sy, o, n);
    } else {
      for (int64_t q = 0; q < n; q += MX_CPU_TILE) {
        int64_t k = n - q < MX_CPU_TILE ? n - q : MX_CPU_TILE;
        j->fn(c + q * sc, sc, x + q * sx * isz, sx, y + q * sy * isz, sy, tile, k);
        mx_cpu_convert(tile, t, 1, o + q * osz, out->dtype, 1, k);
      }
    }
    mx_cpu_iter_next(it, offs);
  }
}

/* Elements [b, e) of a single run (pool part). */
static void ternary_elements(void *ctx, int64_t b, int64_t e) {
  ternary_job *j = ctx;
  mx_tensor in[3], out = *j->out;
  int32_t len = (int32_t)(e - b);
  int64_t st[4][1];
  const int64_t *stp[4];
  for (int k = 0; k < 4; k++) {
    st[k][0] = j->run_strides[k];
    stp[k] = st[k];
  }
  for (int k = 0; k < 3; k++) {
    in[k] = j->in[k];
    in[k].data = (char *)in[k].data + b * st[k + 1][0] * mx_dtype_size(in[k].dtype);
  }
  out.data = (char *)out.data + b * st[0][0] * mx_dtype_size(out.dtype);
  mx_cpu_iter sub;
  if (mx_cpu_iter_init(&sub, 4, 1, &len, stp) != 0) {
    j->rc = -1;
    return;
  }
  ternary_runs(j, in, &out, &sub, 0, sub.nruns);
  mx_cpu_iter_free(&sub);
}

/* Runs [r0, r1) (pool part), with an iterator of its own. */
static void ternary_run_range(void *ctx, int64_t r0, int64_t r1) {
  ternary_job *j = ctx;
  mx_cpu_iter sub;
  if (mx_cpu_iter_init(&sub, 4, j->out->ndim, j->out->shape, j->strides) != 0) {
    j->rc = -1;
    return;
  }
  ternary_runs(j, j->in, j->out, &sub, r0, r1);
  mx_cpu_iter_free(&sub);
}

static int ternary_forward(const char *name, const ternary_tile_fn *tab, bool vsel,
                           const mx_tensor *in, int n_in, mx_tensor *out, int n_out) {
  if (n_in != 3 || n_out != 1)
    return mx_fail_int(MX_EINVAL, "[%s] Expected 3 inputs and 1 output.", name);
  if (in[0].dtype != MX_BOOL)
    return mx_fail_int(MX_ETYPE, "[%s] The condition must be bool, got %s.", name,
                       mx_dtype_name(in[0].dtype));
  mx_dtype t = in[1].dtype;
  if (in[2].dtype != t)
    return mx_fail_int(MX_ETYPE, "[%s] Inputs have different dtypes (%s, %s).", name,
                       mx_dtype_name(t), mx_dtype_name(in[2].dtype));
  if ((unsigned)t >= MX_DTYPE_COUNT || !tab[t] || (unsigned)out->dtype >= MX_DTYPE_COUNT)
    return mx_fail_int(MX_ETYPE, "[%s] Not supported for dtype %s.", name, mx_dtype_name(t));
  if (!mx_cpu_is_row_contig(out))
    return mx_fail_int(MX_EINVAL, "[%s] The output must be row-contiguous.", name);
  if (out->size == 0) return 0;
  mx_cpu_bstrides bs[3];
  int nb = 0, rc = 0;
  for (; nb < 3 && rc == 0; nb++) rc = mx_cpu_bstrides_init(&bs[nb], name, &in[nb], out);
  if (rc < 0) nb--; /* the failed one freed itself */
  if (rc == 0) {
    const int64_t *strides[4] = {out->strides, bs[0].s, bs[1].s, bs[2].s};
    mx_cpu_iter it;
    rc = mx_cpu_iter_init(&it, 4, out->ndim, out->shape, strides);
    if (rc == 0) {
      ternary_job job = {tab[t], vsel, in, out, strides, {0}, 0};
      for (int k = 0; k < 4; k++) job.run_strides[k] = mx_cpu_iter_stride(&it, k);
      /* a select costs about a copy: parts must outweigh waking a helper */
      int64_t len = mx_cpu_iter_len(&it), elems = 4 * MX_CPU_PARALLEL_GRAIN;
      if (it.nruns == 1) {
        mx_cpu_parallel_for(len, elems, ternary_elements, &job);
      } else {
        int64_t grain = elems / (len > 0 ? len : 1);
        mx_cpu_parallel_for(it.nruns, grain > 0 ? grain : 1, ternary_run_range, &job);
      }
      rc = job.rc;
      mx_cpu_iter_free(&it);
    }
  }
  for (int i = 0; i < nb; i++) mx_cpu_bstrides_free(&bs[i]);
  return rc;
}
