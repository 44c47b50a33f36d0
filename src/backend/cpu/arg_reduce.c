/* arg_reduce.c: the ArgReduce primitive on the CPU (argmin / argmax along one axis, kept
 * as size 1, uint32 indices). Comparisons come from formulas.h: ties keep the first
 * index and the first NaN wins. Row strategy when the reduced axis is the closest in
 * memory, else a strip of running bests advanced one slice of the axis at a time. */
#include "reduce_scan_enums.h"
#include "../formulas.h"
#include "cpu.h"
#include "runs.h"

/* One reduction of n elements of x (stride sx): the index of the best one. */
typedef uint32_t (*argred_row_fn)(const void *x, int64_t sx, int64_t n);
/* c reductions: element (k, j) at x[k * sxk + j * sxj]; indices to y[j * sy]. */
typedef void (*argred_cols_fn)(const void *x, int64_t sxk, int64_t sxj, int64_t n, int64_t c,
                               uint32_t *y, int64_t sy);

#define ARGRED_BETTER(kind, sfx) MX_CAT(mx_##kind##_better_, MX_FS_##sfx)

#define ARGRED_DEF(kind, sfx)                                                            \
  static uint32_t argred_row_##kind##_##sfx(const void *x_, int64_t sx, int64_t n) {     \
    const MX_ST_##sfx *x = (const MX_ST_##sfx *)x_;                                       \
    MX_CT_##sfx best = MX_LD_##sfx(x[0]);                                                 \
    uint32_t bi = 0;                                                                      \
    for (int64_t k = 1; k < n; k++) {                                                     \
      MX_CT_##sfx v = MX_LD_##sfx(x[k * sx]);                                             \
      if (ARGRED_BETTER(kind, sfx)(v, best)) {                                            \
        best = v;                                                                         \
        bi = (uint32_t)k;                                                                 \
      }                                                                                   \
    }                                                                                     \
    return bi;                                                                            \
  }                                                                                       \
  static void argred_cols_##kind##_##sfx(const void *x_, int64_t sxk, int64_t sxj,        \
                                         int64_t n, int64_t c, uint32_t *y, int64_t sy) { \
    const MX_ST_##sfx *x = (const MX_ST_##sfx *)x_;                                       \
    MX_CT_##sfx best[MX_CPU_TILE];                                                        \
    uint32_t bi[MX_CPU_TILE];                                                             \
    for (int64_t j = 0; j < c; j++) {                                                     \
      best[j] = MX_LD_##sfx(x[j * sxj]);                                                  \
      bi[j] = 0;                                                                          \
    }                                                                                     \
    for (int64_t k = 1; k < n; k++) {                                                     \
      const MX_ST_##sfx *xk = x + k * sxk;                                                \
      for (int64_t j = 0; j < c; j++) {                                                   \
        MX_CT_##sfx v = MX_LD_##sfx(xk[j * sxj]);                                         \
        if (ARGRED_BETTER(kind, sfx)(v, best[j])) {                                       \
          best[j] = v;                                                                    \
          bi[j] = (uint32_t)k;                                                            \
        }                                                                                 \
      }                                                                                   \
    }                                                                                     \
    for (int64_t j = 0; j < c; j++) y[j * sy] = bi[j];                                    \
  }

#define ARGRED_ENTRY(kind, sfx) \
  [MX_DT_##sfx] = {argred_row_##kind##_##sfx, argred_cols_##kind##_##sfx},

MX_DTYPE_SFX_LIST(ARGRED_DEF, argmin)
MX_DTYPE_SFX_LIST(ARGRED_DEF, argmax)

typedef struct argred_fns {
  argred_row_fn row;
  argred_cols_fn cols;
} argred_fns;

/* Indexed [mx_arg_reduce_kind][dtype]. */
static const argred_fns argred_tab[2][MX_DTYPE_COUNT] = {
    [MX_ARG_REDUCE_MIN] = {MX_DTYPE_SFX_LIST(ARGRED_ENTRY, argmin)},
    [MX_ARG_REDUCE_MAX] = {MX_DTYPE_SFX_LIST(ARGRED_ENTRY, argmax)},
};

static int64_t abs64(int64_t v) { return v < 0 ? -v : v; }

typedef struct argred_job {
  const argred_fns *fn;
  const mx_tensor *in;
  mx_tensor *out;
  int64_t n, sx; /* the reduced axis: length and stride */
} argred_job;

static int argred_runs(void *ctx, mx_cpu_iter *it, int64_t r0, int64_t r1) {
  const argred_job *j = (const argred_job *)ctx;
  int esz = mx_dtype_size(j->in->dtype);
  int64_t len = mx_cpu_iter_len(it), so = mx_cpu_iter_stride(it, 0);
  int64_t si = mx_cpu_iter_stride(it, 1), offs[2];
  bool rows = len == 1 || abs64(j->sx) <= abs64(si);
  uint32_t *y0 = (uint32_t *)j->out->data;
  mx_cpu_iter_seek(it, r0, offs);
  for (int64_t r = r0; r < r1; r++) {
    const char *x = (const char *)j->in->data + offs[1] * esz;
    uint32_t *y = y0 + offs[0];
    if (rows) {
      for (int64_t k = 0; k < len; k++) y[k * so] = j->fn->row(x + k * si * esz, j->sx, j->n);
    } else {
      for (int64_t k = 0; k < len; k += MX_CPU_TILE) {
        int64_t c = len - k < MX_CPU_TILE ? len - k : MX_CPU_TILE;
        j->fn->cols(x + k * si * esz, j->sx, si, j->n, c, y + k * so, so);
      }
    }
    mx_cpu_iter_next(it, offs);
  }
  return 0;
}

int mx_cpu_arg_reduce(const mx_kernel_ctx *ctx, const mx_tensor *in, int n_in, mx_tensor *out,
                      int n_out) {
  const mx_p_arg_reduce *p = (const mx_p_arg_reduce *)ctx->params;
  if (n_in != 1 || n_out != 1 || !p)
    return mx_fail_int(MX_EINVAL, "[arg_reduce] Expected 1 input, 1 output and parameters.");
  if (p->kind != MX_ARG_REDUCE_MIN && p->kind != MX_ARG_REDUCE_MAX)
    return mx_fail_int(MX_EINVAL, "[arg_reduce] Unknown kind %d.", (int)p->kind);
  const char *name = p->kind == MX_ARG_REDUCE_MIN ? "argmin" : "argmax";
  mx_dtype t = in->dtype;
  if ((unsigned)t >= MX_DTYPE_COUNT || out->dtype != MX_UINT32)
    return mx_fail_int(MX_ETYPE, "[%s] Not supported for %s -> %s.", name, mx_dtype_name(t),
                       mx_dtype_name(out->dtype));
  int nd = in->ndim, axis = p->axis;
  if (axis < 0 || axis >= nd || out->ndim != nd || out->shape[axis] != 1)
    return mx_fail_int(MX_EINVAL, "[%s] Invalid axis %d for an array with %d dimensions.", name,
                       axis, nd);
  if (out->size == 0) return 0;
  if (in->shape[axis] == 0)
    return mx_fail_int(MX_EINVAL, "[%s] Cannot %s reduce zero size array.", name, name);
  argred_job j = {&argred_tab[p->kind][t], in, out, in->shape[axis], in->strides[axis]};
  const int64_t *strides[2] = {out->strides, in->strides};
  return mx_cpu_parallel_runs(2, nd, out->shape, strides, j.n, argred_runs, &j);
}
