/* softmax.c: the Softmax and LogSumExp primitives on the CPU, both over the last axis of
 * a strided floating input (LogSumExp keeps that axis as size 1). Each row is loaded into
 * a float32 scratch (float64 for float64), so float16/bfloat16 always accumulate in
 * float32 whatever `precise` says. Rows of -inf give NaN (softmax) and -inf (logsumexp);
 * rows with a NaN give NaN. Float32 rows run the vectorised kernels of vrows.h (in place
 * on contiguous rows, no scratch), float64 rows vmath.h's exp; rows are split over the pool. */
#include <math.h>
#include <stdatomic.h>

#include "../formulas.h"
#include "cpu.h"
#include "pool.h"
#include "vmath.h"
#include "vrows.h"

/* A float32 row x with an infinity or a NaN: a NaN gives NaN; an infinite maximum gives
 * NaN (softmax, inf - inf) or that maximum (logsumexp); else -inf entries weigh 0 and the
 * regular path copes (returns false). y: the softmax output, or NULL. */
static bool row_special_f32(const float *x, float *y, int64_t n, float *lse) {
  float m = -INFINITY;
  bool nan = false;
  for (int64_t i = 0; i < n; i++) {
    nan |= x[i] != x[i];
    m = x[i] > m ? x[i] : m;
  }
  if (!nan && m != INFINITY && m != -INFINITY) return false;
  for (int64_t i = 0; y && i < n; i++) y[i] = NAN;
  *lse = nan ? NAN : m;
  return true;
}

static double row_max_f64(const double *v, int64_t n, bool *nan) {
  double m = -INFINITY;
  bool bad = false;
  for (int64_t i = 0; i < n; i++) {
    m = v[i] > m ? v[i] : m;
    bad |= v[i] != v[i];
  }
  *nan = bad;
  return m;
}

typedef enum { ROW_OP_SOFTMAX, ROW_OP_LSE } row_op;

/* One float32 row x -> y (softmax; y may be x) or -> *lse. */
static void row_f32(row_op op, const float *x, float *y, int64_t n, double *lse) {
  bool nonfinite;
  float m = mx_vr_max_f32(x, n, &nonfinite), special;
  if (nonfinite && row_special_f32(x, op == ROW_OP_SOFTMAX ? y : NULL, n, &special)) {
    *lse = special;
    return;
  }
  float s = mx_vr_exp_sum_f32(x, op == ROW_OP_SOFTMAX ? y : NULL, n, m);
  if (op == ROW_OP_LSE) {
    *lse = m + logf(s);
    return;
  }
  mx_vr_scale_f32(y, n, 1.0f / s);
}

/* One row of n elements in scratch `buf` (float or double): softmax in place, or the
 * logsumexp returned in *lse. */
static void row_compute(row_op op, bool dbl, void *buf, int64_t n, double *lse) {
  if (!dbl) {
    row_f32(op, (float *)buf, (float *)buf, n, lse);
    return;
  }
  bool nan;
  double *v = (double *)buf;
  double m = row_max_f64(v, n, &nan);
  if (nan || (op == ROW_OP_LSE && (m == INFINITY || m == -INFINITY))) {
    for (int64_t i = 0; op == ROW_OP_SOFTMAX && i < n; i++) v[i] = NAN;
    *lse = nan ? NAN : m;
    return;
  }
  for (int64_t i = 0; i < n; i++) v[i] -= m;
  mx_vm_exp_f64(v, v, n); /* the row is scratch: exponentiated in place */
  double s = 0;
  for (int64_t i = 0; i < n; i++) s += v[i];
  if (op == ROW_OP_LSE) {
    *lse = m + log(s);
    return;
  }
  for (int64_t i = 0; i < n; i++) v[i] /= s;
}

typedef struct rows_job {
  row_op op;
  const mx_tensor *in;
  mx_tensor *out;
  int64_t n, sx, sy;
  int nd;
  const int32_t *shape; /* the input shape with the last axis set to 1 */
  const int64_t *const *strides;
  _Atomic int failed;
} rows_job;

/* Rows [r0, r1) in row-major order; the iterator's runs hold `len` rows each. */
static void rows_chunk(void *ctx, int64_t r0, int64_t r1) {
  rows_job *j = (rows_job *)ctx;
  mx_dtype t = j->in->dtype;
  bool dbl = t == MX_FLOAT64;
  mx_dtype bt = dbl ? MX_FLOAT64 : MX_FLOAT32;
  int64_t n = j->n;
  bool direct = t == MX_FLOAT32 && j->sx == 1 && (j->sy == 1 || j->op == ROW_OP_LSE);
  void *buf = direct ? NULL : malloc((size_t)n * (size_t)mx_dtype_size(bt));
  mx_cpu_iter it;
  if ((!direct && !buf) || mx_cpu_iter_init(&it, 2, j->nd, j->shape, j->strides) < 0) {
    mx_error_clear();
    free(buf);
    atomic_store(&j->failed, 1);
    return;
  }
  int esz = mx_dtype_size(t);
  int64_t len = mx_cpu_iter_len(&it), so = mx_cpu_iter_stride(&it, 0);
  int64_t si = mx_cpu_iter_stride(&it, 1), offs[2], k = r0 % len;
  mx_cpu_iter_seek(&it, r0 / len, offs);
  for (int64_t r = r0; r < r1; r++) {
    const char *x = (const char *)j->in->data + (offs[1] + k * si) * esz;
    char *y = (char *)j->out->data + (offs[0] + k * so) * esz;
    double lse = 0;
    if (direct) {
      row_f32(j->op, (const float *)x, (float *)y, n, &lse);
    } else {
      mx_cpu_convert(x, t, j->sx, buf, bt, 1, n);
      row_compute(j->op, dbl, buf, n, &lse);
      if (j->op == ROW_OP_SOFTMAX) mx_cpu_convert(buf, bt, 1, y, t, j->sy, n);
    }
    if (j->op == ROW_OP_LSE) {
      if (dbl) {
        *(double *)y = lse;
      } else {
        float v = (float)lse;
        mx_cpu_convert(&v, MX_FLOAT32, 1, y, t, 1, 1);
      }
    }
    if (++k == len) {
      k = 0;
      mx_cpu_iter_next(&it, offs);
    }
  }
  mx_cpu_iter_free(&it);
  free(buf);
}

static int rows_forward(const char *name, row_op op, const mx_tensor *in, int n_in,
                        mx_tensor *out, int n_out) {
  if (n_in != 1 || n_out != 1)
    return mx_fail_int(MX_EINVAL, "[%s] Expected 1 input and 1 output.", name);
  mx_dtype t = in->dtype;
  if (!mx_dtype_is_floating(t) || out->dtype != t)
    return mx_fail_int(MX_ETYPE, "[%s] Not supported for %s -> %s.", name, mx_dtype_name(t),
                       mx_dtype_name(out->dtype));
  int nd = in->ndim;
  if (nd < 1 || out->ndim != nd)
    return mx_fail_int(MX_EINVAL, "[%s] Expected an input with at least one dimension.", name);
  if (out->size == 0 || in->shape[nd - 1] == 0) return 0;
  /* walk every row: the last axis set to size 1 */
  int32_t small[MX_CPU_ITER_INLINE] = {0};
  int32_t *shape = nd <= MX_CPU_ITER_INLINE ? small : (int32_t *)malloc((size_t)nd * sizeof(int32_t));
  if (!shape) return mx_fail_int(MX_ENOMEM, "[malloc] Unable to allocate %zu bytes.", (size_t)nd * 4);
  int64_t rows = 1;
  for (int d = 0; d < nd; d++) {
    shape[d] = d == nd - 1 ? 1 : in->shape[d];
    rows *= shape[d];
  }
  const int64_t *strides[2] = {out->strides, in->strides};
  rows_job j = {op, in, out, in->shape[nd - 1], in->strides[nd - 1], out->strides[nd - 1],
                nd, shape, strides, 0};
  /* about 16K elements per part: each costs a few ns, a helper's wake-up some 10 us */
  int64_t grain = 16384 / j.n;
  mx_cpu_parallel_for(rows, grain > 0 ? grain : 1, rows_chunk, &j);
  if (shape != small) free(shape);
  if (atomic_load(&j.failed))
    return mx_fail_int(MX_ENOMEM, "[malloc] Unable to allocate kernel scratch.");
  return 0;
}

int mx_cpu_softmax(const mx_kernel_ctx *ctx, const mx_tensor *in, int n_in, mx_tensor *out,
                   int n_out) {
  (void)ctx;
  return rows_forward("softmax", ROW_OP_SOFTMAX, in, n_in, out, n_out);
}

int mx_cpu_logsumexp(const mx_kernel_ctx *ctx, const mx_tensor *in, int n_in, mx_tensor *out,
                     int n_out) {
  (void)ctx;
  return rows_forward("logsumexp", ROW_OP_LSE, in, n_in, out, n_out);
}
