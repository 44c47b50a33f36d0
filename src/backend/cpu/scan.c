/* scan.c: the Scan primitive on the CPU (cumsum, cumprod, cummin, cummax, logcumsumexp):
 * inclusive or exclusive, forward or reverse, along one axis of a strided input into an
 * output of the same shape and dtype. Combines and identities come from formulas.h
 * (float16/bfloat16 accumulate in float32). Row strategy when the scanned axis is the
 * closest in memory, else a strip of accumulators advanced one slice of the axis at a time. */
#include "reduce_scan_enums.h"
#include "../formulas.h"
#include "cpu.h"
#include "runs.h"

/* One scan of n elements: x with element stride sx, y with stride sy (both may be
 * negative, for reverse scans). */
typedef void (*scan_row_fn)(const void *x, int64_t sx, void *y, int64_t sy, int64_t n,
                            bool inclusive);
/* c independent scans of n elements: element (k, j) at x[k * sxk + j * sxj]. */
typedef void (*scan_cols_fn)(const void *x, int64_t sxk, int64_t sxj, void *y, int64_t syk,
                             int64_t syj, int64_t n, int64_t c, bool inclusive);

#define SCAN_CT(sfx) MX_CT_##sfx
#define SCAN_OP(kind, sfx) MX_CAT(mx_scan_##kind##_, MX_FS_##sfx)
#define SCAN_INIT(kind, sfx) MX_CAT(mx_scan_init_##kind##_, MX_FS_##sfx)

#define SCAN_DEF(kind, sfx)                                                              \
  static void scan_row_##kind##_##sfx(const void *x_, int64_t sx, void *y_, int64_t sy,   \
                                      int64_t n, bool inclusive) {                        \
    const MX_ST_##sfx *x = (const MX_ST_##sfx *)x_;                                       \
    MX_ST_##sfx *y = (MX_ST_##sfx *)y_;                                                   \
    SCAN_CT(sfx) acc = SCAN_INIT(kind, sfx)();                                            \
    if (inclusive) {                                                                      \
      for (int64_t k = 0; k < n; k++) {                                                   \
        acc = SCAN_OP(kind, sfx)(acc, MX_LD_##sfx(x[k * sx]));                            \
        y[k * sy] = MX_SV_##sfx(acc);                                                     \
      }                                                                                   \
    } else {                                                                              \
      for (int64_t k = 0; k < n; k++) {                                                   \
        y[k * sy] = MX_SV_##sfx(acc);                                                     \
        acc = SCAN_OP(kind, sfx)(acc, MX_LD_##sfx(x[k * sx]));                            \
      }                                                                                   \
    }                                                                                     \
  }                                                                                       \
  static void scan_cols_##kind##_##sfx(const void *x_, int64_t sxk, int64_t sxj, void *y_, \
                                       int64_t syk, int64_t syj, int64_t n, int64_t c,    \
                                       bool inclusive) {                                  \
    const MX_ST_##sfx *x = (const MX_ST_##sfx *)x_;                                       \
    MX_ST_##sfx *y = (MX_ST_##sfx *)y_;                                                   \
    SCAN_CT(sfx) acc[MX_CPU_TILE];                                                        \
    for (int64_t j = 0; j < c; j++) acc[j] = SCAN_INIT(kind, sfx)();                      \
    for (int64_t k = 0; k < n; k++) {                                                     \
      const MX_ST_##sfx *xk = x + k * sxk;                                                \
      MX_ST_##sfx *yk = y + k * syk;                                                      \
      if (inclusive) {                                                                    \
        for (int64_t j = 0; j < c; j++) {                                                 \
          acc[j] = SCAN_OP(kind, sfx)(acc[j], MX_LD_##sfx(xk[j * sxj]));                  \
          yk[j * syj] = MX_SV_##sfx(acc[j]);                                              \
        }                                                                                 \
      } else {                                                                            \
        for (int64_t j = 0; j < c; j++) {                                                 \
          yk[j * syj] = MX_SV_##sfx(acc[j]);                                              \
          acc[j] = SCAN_OP(kind, sfx)(acc[j], MX_LD_##sfx(xk[j * sxj]));                  \
        }                                                                                 \
      }                                                                                   \
    }                                                                                     \
  }

#define SCAN_ENTRY(kind, sfx) [MX_DT_##sfx] = {scan_row_##kind##_##sfx, scan_cols_##kind##_##sfx},

MX_SCAN_sum_TYPES(SCAN_DEF, sum)
MX_SCAN_prod_TYPES(SCAN_DEF, prod)
MX_SCAN_min_TYPES(SCAN_DEF, min)
MX_SCAN_max_TYPES(SCAN_DEF, max)
MX_SCAN_logaddexp_TYPES(SCAN_DEF, logaddexp)

typedef struct scan_fns {
  scan_row_fn row;
  scan_cols_fn cols;
} scan_fns;

/* Indexed [mx_scan_kind][dtype]. */
static const scan_fns scan_tab[5][MX_DTYPE_COUNT] = {
    [MX_SCAN_SUM] = {MX_SCAN_sum_TYPES(SCAN_ENTRY, sum)},
    [MX_SCAN_PROD] = {MX_SCAN_prod_TYPES(SCAN_ENTRY, prod)},
    [MX_SCAN_MIN] = {MX_SCAN_min_TYPES(SCAN_ENTRY, min)},
    [MX_SCAN_MAX] = {MX_SCAN_max_TYPES(SCAN_ENTRY, max)},
    [MX_SCAN_LOGADDEXP] = {MX_SCAN_logaddexp_TYPES(SCAN_ENTRY, logaddexp)},
};

static const char *const scan_names[5] = {"cumsum", "cumprod", "cummin", "cummax",
                                          "logcumsumexp"};

static int64_t abs64(int64_t v) { return v < 0 ? -v : v; }

typedef struct scan_job {
  const scan_fns *fn;
  const mx_tensor *in;
  mx_tensor *out;
  int64_t n, sx, sy; /* the scanned axis: length and strides */
  bool reverse, inclusive;
} scan_job;

static int scan_runs(void *ctx, mx_cpu_iter *it, int64_t r0, int64_t r1) {
  const scan_job *j = (const scan_job *)ctx;
  int esz = mx_dtype_size(j->in->dtype);
  int64_t n = j->n, sx = j->sx, sy = j->sy;
  int64_t len = mx_cpu_iter_len(it), so = mx_cpu_iter_stride(it, 0);
  int64_t si = mx_cpu_iter_stride(it, 1), offs[2];
  /* a reverse scan walks the axis backwards from its last element */
  int64_t start_x = j->reverse ? (n - 1) * sx : 0, start_y = j->reverse ? (n - 1) * sy : 0;
  int64_t step_x = j->reverse ? -sx : sx, step_y = j->reverse ? -sy : sy;
  bool rows = len == 1 || abs64(sx) <= abs64(si);
  mx_cpu_iter_seek(it, r0, offs);
  for (int64_t r = r0; r < r1; r++) {
    const char *x = (const char *)j->in->data + (offs[1] + start_x) * esz;
    char *y = (char *)j->out->data + (offs[0] + start_y) * esz;
    if (rows) {
      for (int64_t k = 0; k < len; k++)
        j->fn->row(x + k * si * esz, step_x, y + k * so * esz, step_y, n, j->inclusive);
    } else {
      for (int64_t k = 0; k < len; k += MX_CPU_TILE) {
        int64_t c = len - k < MX_CPU_TILE ? len - k : MX_CPU_TILE;
        j->fn->cols(x + k * si * esz, step_x, si, y + k * so * esz, step_y, so, n, c,
                    j->inclusive);
      }
    }
    mx_cpu_iter_next(it, offs);
  }
  return 0;
}

int mx_cpu_scan(const mx_kernel_ctx *ctx, const mx_tensor *in, int n_in, mx_tensor *out,
                int n_out) {
  const mx_p_scan *p = (const mx_p_scan *)ctx->params;
  if (n_in != 1 || n_out != 1 || !p)
    return mx_fail_int(MX_EINVAL, "[scan] Expected 1 input, 1 output and parameters.");
  if (p->kind < MX_SCAN_SUM || p->kind > MX_SCAN_LOGADDEXP)
    return mx_fail_int(MX_EINVAL, "[scan] Unknown scan kind %d.", (int)p->kind);
  const char *name = scan_names[p->kind];
  mx_dtype t = in->dtype;
  if ((unsigned)t >= MX_DTYPE_COUNT || out->dtype != t || !scan_tab[p->kind][t].row)
    return mx_fail_int(MX_ETYPE, "[%s] Not supported for %s -> %s.", name, mx_dtype_name(t),
                       mx_dtype_name(out->dtype));
  int nd = in->ndim, axis = p->axis;
  if (axis < 0 || axis >= nd || out->ndim != nd)
    return mx_fail_int(MX_EINVAL, "[%s] Invalid axis %d for an array with %d dimensions.", name,
                       axis, nd);
  if (out->size == 0) return 0;
  scan_job j = {&scan_tab[p->kind][t], in, out, in->shape[axis], in->strides[axis],
                out->strides[axis], p->reverse, p->inclusive};
  /* every position of the other dims (the axis set to size 1) starts one scan */
  int32_t small[MX_CPU_ITER_INLINE] = {0};
  int32_t *shape = nd <= MX_CPU_ITER_INLINE ? small : (int32_t *)malloc((size_t)nd * sizeof(int32_t));
  if (!shape) return mx_fail_int(MX_ENOMEM, "[malloc] Unable to allocate %zu bytes.", (size_t)nd * 4);
  for (int d = 0; d < nd; d++) shape[d] = d == axis ? 1 : in->shape[d];
  const int64_t *strides[2] = {out->strides, in->strides};
  int rc = mx_cpu_parallel_runs(2, nd, shape, strides, j.n, scan_runs, &j);
  if (shape != small) free(shape);
  return rc;
}
