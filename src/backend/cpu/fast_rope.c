/* fast_rope.c: the RoPE primitive on the CPU in one pass: each row (the last axis at one
 * batch, head and position) is rotated pair by pair with angles from formulas.h (float32,
 * as MLX's reference), cos/sin rounded to the input dtype; features past dims are copied.
 * Rows are split over the thread pool; the input may be strided. */
#include <math.h>
#include <stdatomic.h>

#include "../formulas.h"
#include "fast_rows.h"
#include "pool.h"

typedef struct rope_job {
  const mx_tensor *x, *off, *freqs;
  mx_tensor *out;
  const mx_p_rope *p;
  int64_t d, t_len, rows_per_batch;
  _Atomic int failed;
} rope_job;

static int32_t rope_offset(const rope_job *j, int64_t b) {
  const int32_t *o = j->off->data;
  if (j->off->size == 1) return o[0];
  return o[b * (j->off->ndim ? j->off->strides[0] : 0)];
}

/* cos/sin of every pair of row r into c and s (float32, rounded through the dtype). */
static void rope_angles(const rope_job *j, const float *inv, int64_t r, float *c, float *s) {
  int half = j->p->dims / 2;
  int64_t t = r % j->t_len;
  int32_t off = rope_offset(j, r / j->rows_per_batch);
  for (int i = 0; i < half; i++) {
    float th = mx_f_rope_theta(t, off, (float)j->p->scale, inv[i]);
    c[i] = cosf(th);
    s[i] = sinf(th);
  }
  mx_fast_round_f32(c, half, j->x->dtype);
  mx_fast_round_f32(s, half, j->x->dtype);
}

/* Pair i reads x1 at a, x2 at b: halves, or interleaved when traditional. float32 rows use
 * the shared formula; float64 rows rotate in float64 with the same float32 angles. */
static void rope_row_f32(const rope_job *j, float *v, const float *c, const float *s) {
  int half = j->p->dims / 2;
  bool fwd = j->p->forward, trad = j->p->traditional;
  for (int i = 0; i < half; i++) {
    int64_t a = trad ? 2 * i : i, b = trad ? 2 * i + 1 : i + half;
    mx_f_rope_pair(v[a], v[b], c[i], s[i], fwd, &v[a], &v[b]);
  }
}

static void rope_row_f64(const rope_job *j, double *v, const float *c, const float *s) {
  int half = j->p->dims / 2;
  bool fwd = j->p->forward, trad = j->p->traditional;
  for (int i = 0; i < half; i++) {
    int64_t a = trad ? 2 * i : i, b = trad ? 2 * i + 1 : i + half;
    double x1 = v[a], x2 = v[b], cc = c[i], ss = s[i];
    v[a] = fwd ? x1 * cc - x2 * ss : x2 * ss + x1 * cc;
    v[b] = fwd ? x1 * ss + x2 * cc : x2 * cc - x1 * ss;
  }
}

static void rope_range(void *ctx, int64_t r0, int64_t r1) {
  rope_job *j = ctx;
  int half = j->p->dims / 2;
  int64_t d = j->d;
  bool f64 = j->x->dtype == MX_FLOAT64;
  size_t esz = f64 ? sizeof(double) : sizeof(float);
  char *mem = malloc((size_t)d * esz + (size_t)(3 * half + 1) * sizeof(float));
  if (!mem) {
    atomic_store(&j->failed, 1);
    return;
  }
  void *row = mem;
  float *inv = (float *)(mem + (size_t)d * esz), *c = inv + half, *s = c + half;
  if (j->freqs) {
    const float *f = j->freqs->data;
    int64_t fs = j->freqs->strides[0];
    for (int i = 0; i < half; i++) inv[i] = 1.0f / f[i * fs];
  } else {
    for (int i = 0; i < half; i++) inv[i] = mx_f_rope_inv_freq(i, half, (float)j->p->base);
  }
  mx_dtype dt = j->x->dtype, ct = f64 ? MX_FLOAT64 : MX_FLOAT32;
  int64_t sx = mx_fast_last_stride(j->x), osz = mx_dtype_size(dt);
  for (int64_t r = r0; r < r1; r++) {
    mx_cpu_convert(mx_cpu_at(j->x, mx_fast_row_offset(j->x, r)), dt, sx, row, ct, 1, d);
    rope_angles(j, inv, r, c, s);
    if (f64)
      rope_row_f64(j, row, c, s);
    else
      rope_row_f32(j, row, c, s);
    mx_cpu_convert(row, ct, 1, (char *)j->out->data + r * d * osz, dt, 1, d);
  }
  free(mem);
}

int mx_cpu_rope(const mx_kernel_ctx *ctx, const mx_tensor *in, int n_in, mx_tensor *out,
                int n_out) {
  (void)n_out;
  rope_job j = {&in[0], &in[1], n_in > 2 ? &in[2] : NULL, out, ctx->params, 0, 0, 0, 0};
  if (out->size == 0) return 0;
  int nd = in[0].ndim;
  j.d = in[0].shape[nd - 1];
  j.t_len = in[0].shape[nd - 2];
  int64_t rows = out->size / j.d;
  j.rows_per_batch = rows / in[0].shape[0];
  int64_t grain = MX_CPU_PARALLEL_GRAIN / j.d;
  mx_cpu_parallel_for(rows, grain > 0 ? grain : 1, rope_range, &j);
  if (atomic_load(&j.failed))
    return mx_fail_int(MX_ENOMEM, "[malloc] Unable to allocate %lld bytes.",
                       (long long)j.d * 8 + 64);
  return 0;
}
