/* softmax.c: the Softmax and LogSumExp primitives on the CPU, both over the last axis of
 * a strided floating input (LogSumExp keeps that axis as size 1). Each row is loaded into
 * a float32 scratch (float64 for float64), so float16/bfloat16 always accumulate in
 * float32 whatever `precise` says. Rows of -inf give NaN (softmax) and -inf (logsumexp). */
#include <math.h>

#include "../formulas.h"
#include "cpu.h"

/* Converts n elements (stride s) of dtype t into float or double scratch. */
static void row_load(const mx_tensor *in, const char *x, int64_t s, void *buf, int64_t n) {
  mx_cpu_convert(x, in->dtype, s, buf, in->dtype == MX_FLOAT64 ? MX_FLOAT64 : MX_FLOAT32, 1, n);
}

#define ROW_MAX(T, buf, n, m)                               \
  do {                                                      \
    m = buf[0];                                             \
    for (int64_t i_ = 1; i_ < n; i_++) {                    \
      T v_ = buf[i_];                                       \
      if (v_ > m || v_ != v_) m = v_;                       \
      if (m != m) break;                                    \
    }                                                       \
  } while (0)

/* softmax of one row in place */
#define ROW_SOFTMAX(T, EXP, buf, n)                         \
  do {                                                      \
    T m_;                                                   \
    ROW_MAX(T, buf, n, m_);                                 \
    T s_ = 0;                                               \
    for (int64_t i_ = 0; i_ < n; i_++) {                    \
      buf[i_] = EXP(buf[i_] - m_);                          \
      s_ += buf[i_];                                        \
    }                                                       \
    T r_ = (T)1 / s_;                                       \
    for (int64_t i_ = 0; i_ < n; i_++) buf[i_] *= r_;       \
  } while (0)

/* log(sum(exp(row))): the maximum itself when it is infinite (or NaN) */
#define ROW_LSE(T, EXP, LOG, buf, n, out)                   \
  do {                                                      \
    T m_;                                                   \
    ROW_MAX(T, buf, n, m_);                                 \
    if (m_ != m_ || m_ == (T)INFINITY || m_ == -(T)INFINITY) { \
      out = m_;                                             \
    } else {                                                \
      T s_ = 0;                                             \
      for (int64_t i_ = 0; i_ < n; i_++) s_ += EXP(buf[i_] - m_); \
      out = m_ + LOG(s_);                                   \
    }                                                       \
  } while (0)

typedef enum { ROW_OP_SOFTMAX, ROW_OP_LSE } row_op;

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
  int64_t n = in->shape[nd - 1], sx = in->strides[nd - 1], sy = out->strides[nd - 1];
  bool dbl = t == MX_FLOAT64;
  size_t bytes = (size_t)(n > 0 ? n : 1) * (dbl ? sizeof(double) : sizeof(float));
  void *buf = malloc(bytes);
  if (!buf) return mx_fail_int(MX_ENOMEM, "[malloc] Unable to allocate %zu bytes.", bytes);

  int32_t small[MX_CPU_ITER_INLINE];
  int32_t *shape = nd <= MX_CPU_ITER_INLINE ? small : (int32_t *)malloc((size_t)nd * sizeof(int32_t));
  if (!shape) {
    free(buf);
    return mx_fail_int(MX_ENOMEM, "[malloc] Unable to allocate %zu bytes.", (size_t)nd * 4);
  }
  for (int d = 0; d < nd; d++) shape[d] = d == nd - 1 ? 1 : in->shape[d];
  const int64_t *strides[2] = {out->strides, in->strides};
  mx_cpu_iter it;
  int rc = mx_cpu_iter_init(&it, 2, nd, shape, strides);
  if (shape != small) free(shape);
  if (rc < 0) {
    free(buf);
    return -1;
  }
  int esz = mx_dtype_size(t);
  int64_t len = mx_cpu_iter_len(&it), so = mx_cpu_iter_stride(&it, 0);
  int64_t si = mx_cpu_iter_stride(&it, 1), offs[2];
  mx_dtype bt = dbl ? MX_FLOAT64 : MX_FLOAT32;
  mx_cpu_iter_seek(&it, 0, offs);
  for (int64_t r = 0; r < it.nruns; r++) {
    for (int64_t j = 0; j < len; j++) {
      const char *x = (const char *)in->data + (offs[1] + j * si) * esz;
      char *y = (char *)out->data + (offs[0] + j * so) * esz;
      if (n == 0) continue; /* logsumexp of nothing: the op layer refuses it */
      row_load(in, x, sx, buf, n);
      if (op == ROW_OP_SOFTMAX) {
        if (dbl) ROW_SOFTMAX(double, exp, ((double *)buf), n);
        else ROW_SOFTMAX(float, expf, ((float *)buf), n);
        mx_cpu_convert(buf, bt, 1, y, t, sy, n);
      } else if (dbl) {
        double v;
        ROW_LSE(double, exp, log, ((double *)buf), n, v);
        *(double *)y = v;
      } else {
        float v;
        ROW_LSE(float, expf, logf, ((float *)buf), n, v);
        mx_cpu_convert(&v, MX_FLOAT32, 1, y, t, 1, 1);
      }
    }
    mx_cpu_iter_next(&it, offs);
  }
  mx_cpu_iter_free(&it);
  free(buf);
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
