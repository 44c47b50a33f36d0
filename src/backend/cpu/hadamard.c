/* hadamard.c: the Hadamard primitive on the CPU: each row of the last axis, viewed as
 * (m, n / m), gets the fast Walsh-Hadamard butterflies along n / m, then the m x m matrix
 * along m (m = 12, 20, 28), then the scale; computed in float32 (float64 for float64 rows),
 * rows split over the thread pool. */
#include <string.h>

#include "../formulas.h"
#include "cpu.h"
#include "pool.h"

/* The m-matrices (formulas.h): character [c * m + r] is the sign of input c in output r. */
static const char hd_t12[] = MX_HADAMARD_M12;
static const char hd_t20[] = MX_HADAMARD_M20;
static const char hd_t28[] = MX_HADAMARD_M28;

static const char *hd_table(int m) {
  return m == 12 ? hd_t12 : m == 20 ? hd_t20 : hd_t28;
}

typedef struct hd_ctx {
  const mx_tensor *in;
  mx_tensor *out;
  int64_t n;
  int m;
  bool tr;
  double scale;
  _Atomic int failed;
} hd_ctx;

#define HD_ROW(T, NAME)                                                                   \
  static void NAME(T *x, T *tmp, int64_t n, int m, bool tr, double scale) {                        \
    int64_t p = n / m;                                                                    \
    for (int64_t r = 0; r < m; r++) {                                                     \
      T *v = x + r * p;                                                                   \
      for (int64_t h = 1; h < p; h *= 2)                                                  \
        for (int64_t i = 0; i < p; i += 2 * h)                                            \
          for (int64_t j = i; j < i + h; j++) {                                           \
            T u = v[j], w = v[j + h];                                                     \
            v[j] = u + w, v[j + h] = u - w;                                               \
          }                                                                               \
    }                                                                                     \
    if (m > 1) {                                                                          \
      const char *tab = hd_table(m);                                               \
      for (int64_t c = 0; c < p; c++) {                                                   \
        for (int r = 0; r < m; r++) {                                                     \
          T acc = 0;                                                                      \
          for (int k = 0; k < m; k++) acc += (tr ? tab[r * m + k] : tab[k * m + r]) == '+' ? x[k * p + c] : -x[k * p + c]; \
          tmp[r] = acc;                                                                   \
        }                                                                                 \
        for (int r = 0; r < m; r++) x[r * p + c] = tmp[r];                                \
      }                                                                                   \
    }                                                                                     \
    for (int64_t i = 0; i < n; i++) x[i] = (T)(x[i] * scale);                             \
  }
HD_ROW(float, hd_row_f32)
HD_ROW(double, hd_row_f64)

static void hd_range(void *vctx, int64_t begin, int64_t end) {
  hd_ctx *c = (hd_ctx *)vctx;
  const mx_tensor *in = c->in;
  mx_dtype t = in->dtype, wt = t == MX_FLOAT64 ? MX_FLOAT64 : MX_FLOAT32;
  int64_t n = c->n;
  int wsz = mx_dtype_size(wt), osz = mx_dtype_size(t);
  char *row = malloc((size_t)(n + 32) * (size_t)wsz);
  if (!row) {
    c->failed = 1;
    return;
  }
  char *tmp = row + n * wsz;
  int nd = in->ndim - 1;
  int64_t stride_last = in->ndim ? in->strides[in->ndim - 1] : 1;
  for (int64_t r = begin; r < end; r++) {
    int64_t off = 0, rem = r;
    for (int d = nd - 1; d >= 0; d--) {
      off += (rem % in->shape[d]) * in->strides[d];
      rem /= in->shape[d];
    }
    mx_cpu_convert(mx_cpu_at(in, off), t, stride_last, row, wt, 1, n);
    if (wt == MX_FLOAT64) hd_row_f64((double *)row, (double *)tmp, n, c->m, c->tr, c->scale);
    else hd_row_f32((float *)row, (float *)tmp, n, c->m, c->tr, c->scale);
    mx_cpu_convert(row, wt, 1, (char *)c->out->data + r * n * osz, t, 1, n);
  }
  free(row);
}

int mx_cpu_hadamard(const mx_kernel_ctx *ctx, const mx_tensor *in, int n_in, mx_tensor *out,
                    int n_out) {
  if (n_in != 1 || n_out != 1) return mx_fail_int(MX_EINVAL, "[hadamard] Expected 1 input and 1 output.");
  const mx_p_hadamard *p = (const mx_p_hadamard *)ctx->params;
  mx_dtype t = in->dtype;
  if (t != out->dtype || (t != MX_FLOAT32 && t != MX_FLOAT64 && t != MX_FLOAT16 && t != MX_BFLOAT16))
    return mx_fail_int(MX_ETYPE, "[hadamard] Unsupported type.");
  if (!mx_cpu_is_row_contig(out)) return mx_fail_int(MX_EINVAL, "[hadamard] The output must be row-contiguous.");
  if (out->size == 0) return 0;
  int64_t n = in->ndim ? in->shape[in->ndim - 1] : 1;
  int m = p->m;
  if (m != 1 && m != 12 && m != 20 && m != 28) return mx_fail_int(MX_EINVAL, "[hadamard] Bad factor m = %d.", m);
  hd_ctx c = {in, out, n, m, p->transpose, p->scale, 0};
  int64_t rows = out->size / n, grain = MX_CPU_PARALLEL_GRAIN / n;
  mx_cpu_parallel_for(rows, grain > 0 ? grain : 1, hd_range, &c);
  return c.failed ? mx_fail_int(MX_ENOMEM, "[malloc] Unable to allocate a hadamard row.") : 0;
}
