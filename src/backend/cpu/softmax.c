/* softmax.c: the Softmax and LogSumExp primitives on the CPU, both over the last axis of
 * a strided floating input (LogSumExp keeps that axis as size 1). Each row is loaded into
 * a float32 scratch (float64 for float64), so float16/bfloat16 always accumulate in
 * float32 whatever `precise` says. Rows of -inf give NaN (softmax) and -inf (logsumexp);
 * rows with a NaN give NaN. Float32 rows use a branch-free exp that vectorizes. */
#include <math.h>

#include "../formulas.h"
#include "cpu.h"
#include "runs.h"

#define ROW_LANES 8

/* exp(x) for x in [-inf, 0] (softmax after the max is subtracted): Cody-Waite reduction
 * by ln 2 and Cephes' degree-6 polynomial, about 1 ulp; below -87.3 (the normal range)
 * it returns 0. Branch-free so the loops around it vectorize. */
static inline uint32_t f32_bits(float f) {
  uint32_t u;
  __builtin_memcpy(&u, &f, sizeof u);
  return u;
}

static inline float f32_of(uint32_t u) {
  float f;
  __builtin_memcpy(&f, &u, sizeof f);
  return f;
}

/* c ? a : b on bits (a floating-point ?: stays a branch under trapping math). */
static inline float sel_f32(int c, float a, float b) {
  uint32_t m = 0u - (uint32_t)(c != 0);
  return f32_of((f32_bits(a) & m) | (f32_bits(b) & ~m));
}


static inline float exp_nonpos_f32(float x) {
  const float lo = -87.33654f;
  int under = x < lo; /* below the normal range: 0 */
  float xc = sel_f32(under, lo, x);
  int32_t n = (int32_t)(xc * 1.44269504088896341f - 0.5f); /* round to nearest: xc <= 0 */
  float fn = (float)n;
  float r = xc - fn * 0.693359375f + fn * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  return sel_f32(under, 0.0f, p * f32_of((uint32_t)(n + 127) << 23));
}

/* Maximum of a float32 row, and whether the row holds a non-finite value (x - x is NaN
 * exactly for inf and NaN; no comparison flag, so the loop vectorizes). */
static float row_max_f32(const float *v, int64_t n, bool *nonfinite) {
  float m[ROW_LANES], z[ROW_LANES];
  for (int k = 0; k < ROW_LANES; k++) m[k] = -INFINITY, z[k] = 0.0f;
  int64_t i = 0;
  for (; i + ROW_LANES <= n; i += ROW_LANES)
    for (int k = 0; k < ROW_LANES; k++) {
      float x = v[i + k];
      m[k] = sel_f32(x > m[k], x, m[k]);
      z[k] += x - x;
    }
  for (int k = 0; i < n; i++, k++) {
    m[k] = sel_f32(v[i] > m[k], v[i], m[k]);
    z[k] += v[i] - v[i];
  }
  float r = m[0], zs = z[0];
  for (int k = 1; k < ROW_LANES; k++) {
    r = m[k] > r ? m[k] : r;
    zs += z[k];
  }
  *nonfinite = zs != zs;
  return r;
}

/* v[i] = exp(v[i] - m) in place; returns the sum (m finite). */
static float row_exp_sum_f32(float *restrict v, int64_t n, float m) {
  for (int64_t i = 0; i < n; i++) v[i] = exp_nonpos_f32(v[i] - m);
  float s[ROW_LANES] = {0};
  int64_t i = 0;
  for (; i + ROW_LANES <= n; i += ROW_LANES)
    for (int k = 0; k < ROW_LANES; k++) s[k] += v[i + k];
  for (int k = 0; i < n; i++, k++) s[k] += v[i];
  float r = 0;
  for (int k = 0; k < ROW_LANES; k++) r += s[k];
  return r;
}

/* A float32 row with an infinity or a NaN: a NaN gives NaN; an infinite maximum gives
 * NaN (softmax, inf - inf) or that maximum (logsumexp); else -inf entries weigh 0. */
static bool row_special_f32(float *v, int64_t n, bool softmax, float *lse) {
  float m = -INFINITY;
  bool nan = false;
  for (int64_t i = 0; i < n; i++) {
    nan |= v[i] != v[i];
    m = v[i] > m ? v[i] : m;
  }
  if (!nan && m != INFINITY && m != -INFINITY) return false; /* the regular path copes */
  for (int64_t i = 0; softmax && i < n; i++) v[i] = NAN;
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

/* One row of n elements in scratch `buf` (float or double): softmax in place, or the
 * logsumexp returned in *lse. */
static void row_compute(row_op op, bool dbl, void *buf, int64_t n, double *lse) {
  bool nan;
  if (!dbl) {
    float *v = (float *)buf, special;
    float m = row_max_f32(v, n, &nan);
    if (nan && row_special_f32(v, n, op == ROW_OP_SOFTMAX, &special)) {
      *lse = special;
      return;
    }
    float s = row_exp_sum_f32(v, n, m);
    if (op == ROW_OP_LSE) {
      *lse = m + logf(s);
      return;
    }
    float inv = 1.0f / s;
    for (int64_t i = 0; i < n; i++) v[i] *= inv;
    return;
  }
  double *v = (double *)buf;
  double m = row_max_f64(v, n, &nan);
  if (nan || (op == ROW_OP_LSE && (m == INFINITY || m == -INFINITY))) {
    for (int64_t i = 0; op == ROW_OP_SOFTMAX && i < n; i++) v[i] = NAN;
    *lse = nan ? NAN : m;
    return;
  }
  double s = 0;
  for (int64_t i = 0; i < n; i++) {
    double e = exp(v[i] - m);
    if (op == ROW_OP_SOFTMAX) v[i] = e;
    s += e;
  }
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
} rows_job;

/* Rows of runs [r0, r1): each run is `len` rows along the iterator's innermost dim. */
static int rows_range(void *ctx, mx_cpu_iter *it, int64_t r0, int64_t r1) {
  const rows_job *j = (const rows_job *)ctx;
  mx_dtype t = j->in->dtype;
  bool dbl = t == MX_FLOAT64;
  mx_dtype bt = dbl ? MX_FLOAT64 : MX_FLOAT32;
  int64_t n = j->n;
  void *buf = malloc((size_t)(n > 0 ? n : 1) * (size_t)mx_dtype_size(bt));
  if (!buf) return -1;
  int esz = mx_dtype_size(t);
  int64_t len = mx_cpu_iter_len(it), so = mx_cpu_iter_stride(it, 0);
  int64_t si = mx_cpu_iter_stride(it, 1), offs[2];
  mx_cpu_iter_seek(it, r0, offs);
  for (int64_t r = r0; r < r1; r++) {
    for (int64_t k = 0; k < len && n > 0; k++) {
      const char *x = (const char *)j->in->data + (offs[1] + k * si) * esz;
      char *y = (char *)j->out->data + (offs[0] + k * so) * esz;
      mx_cpu_convert(x, t, j->sx, buf, bt, 1, n);
      double lse = 0;
      row_compute(j->op, dbl, buf, n, &lse);
      if (j->op == ROW_OP_SOFTMAX) {
        mx_cpu_convert(buf, bt, 1, y, t, j->sy, n);
      } else if (dbl) {
        *(double *)y = lse;
      } else {
        float v = (float)lse;
        mx_cpu_convert(&v, MX_FLOAT32, 1, y, t, 1, 1);
      }
    }
    mx_cpu_iter_next(it, offs);
  }
  free(buf);
  return 0;
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
  if (out->size == 0) return 0;
  rows_job j = {op, in, out, in->shape[nd - 1], in->strides[nd - 1], out->strides[nd - 1]};
  /* walk every row: the last axis set to size 1 */
  int32_t small[MX_CPU_ITER_INLINE] = {0};
  int32_t *shape = nd <= MX_CPU_ITER_INLINE ? small : (int32_t *)malloc((size_t)nd * sizeof(int32_t));
  if (!shape) return mx_fail_int(MX_ENOMEM, "[malloc] Unable to allocate %zu bytes.", (size_t)nd * 4);
  for (int d = 0; d < nd; d++) shape[d] = d == nd - 1 ? 1 : in->shape[d];
  const int64_t *strides[2] = {out->strides, in->strides};
  int rc = mx_cpu_parallel_runs(2, nd, shape, strides, 8 * (j.n + 1), rows_range, &j);
  if (shape != small) free(shape);
  return rc;
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
