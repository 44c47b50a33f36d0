/* fft.c: the FFT primitive on the CPU. One pass per transformed axis: the lines along the
 * axis (every position of the other dims) are gathered a group at a time into contiguous
 * scratch, transformed with a cached plan (fft_plan.h) and scattered, split over the pool.
 * A real forward transform does its real axis (the last of axes) first; a real inverse
 * does it last, after complex passes into a scratch copy. Inverses run as
 * conj(fft(conj(x))) and divide by the length. */
#include <stdint.h>
#include <string.h>

#include "array.h"
#include "cpu.h"
#include "fft_plan.h"
#include "pool.h"
#include "../kernel_checks.h"

typedef enum { PASS_C2C, PASS_R2C, PASS_C2R } pass_mode;

enum { GROUP_MAX = 16, GROUP_BYTES = 1 << 18 };

/* One pass over the lines along `axis`: src and dst share every other dim. */
typedef struct fft_pass {
  const mx_tensor *src;
  const mx_tensor *dst;
  int axis;
  pass_mode mode;
  bool inverse;
  int64_t n;              /* logical transform length */
  int64_t n_src, n_dst;   /* entries along the axis */
  float scale;
  const mx_fft_plan *plan;
  /* the other dims, outermost first, size-1 dims dropped */
  int nd;
  int64_t *shape, *ss, *ds;
  int64_t nlines;
  int64_t group;          /* lines transformed together */
  int64_t line_len;       /* scratch entries per line */
  _Atomic int failed;
} fft_pass;

static inline int64_t abs64(int64_t v) { return v < 0 ? -v : v; }

/* Offsets of line l in src and dst. */
static void line_offsets(const fft_pass *ps, int64_t l, int64_t *so, int64_t *dso) {
  int64_t a = 0, b = 0;
  for (int d = ps->nd - 1; d >= 0; d--) {
    int64_t i = l % ps->shape[d];
    l /= ps->shape[d];
    a += i * ps->ss[d];
    b += i * ps->ds[d];
  }
  *so = a;
  *dso = b;
}

/* Gathers g lines of cnt entries (stride sa along the line, si between lines) from src at
 * offset off into buf (line stride ll); real sources fill the real parts (packed: as
 * consecutive floats), conj negates imaginary parts. */
static void gather(const fft_pass *ps, int64_t off, int64_t si, int64_t g, int64_t cnt,
                   mx_fft_c32 *buf, int64_t ll, bool packed, bool conj) {
  int64_t sa = ps->src->strides[ps->axis];
  if (ps->src->dtype == MX_FLOAT32) {
    const float *x = (const float *)ps->src->data + off;
    for (int64_t b = 0; b < g; b++) {
      const float *xl = x + b * si;
      if (packed) {
        float *o = (float *)(buf + b * ll);
        for (int64_t j = 0; j < cnt; j++) o[j] = xl[j * sa];
      } else {
        mx_fft_c32 *o = buf + b * ll;
        for (int64_t j = 0; j < cnt; j++) {
          o[j].re = xl[j * sa];
          o[j].im = 0;
        }
      }
    }
    return;
  }
  const mx_fft_c32 *x = (const mx_fft_c32 *)ps->src->data + off;
  float sg = conj ? -1.0f : 1.0f;
  if (abs64(sa) <= abs64(si) || g == 1) {
    for (int64_t b = 0; b < g; b++) {
      const mx_fft_c32 *xl = x + b * si;
      mx_fft_c32 *o = buf + b * ll;
      for (int64_t j = 0; j < cnt; j++) {
        o[j].re = xl[j * sa].re;
        o[j].im = sg * xl[j * sa].im;
      }
    }
  } else {
    for (int64_t j = 0; j < cnt; j++) {
      const mx_fft_c32 *xj = x + j * sa;
      for (int64_t b = 0; b < g; b++) {
        buf[b * ll + j].re = xj[b * si].re;
        buf[b * ll + j].im = sg * xj[b * si].im;
      }
    }
  }
}

/* Scatters g lines of cnt complex entries (times scale, conj on request) to dst. */
static void scatter_c(const fft_pass *ps, int64_t off, int64_t si, int64_t g, int64_t cnt,
                      const mx_fft_c32 *buf, int64_t ll, bool conj, float scale) {
  int64_t sa = ps->dst->strides[ps->axis];
  mx_fft_c32 *y = (mx_fft_c32 *)ps->dst->data + off;
  float si_ = conj ? -scale : scale;
  if (abs64(sa) <= abs64(si) || g == 1) {
    for (int64_t b = 0; b < g; b++) {
      mx_fft_c32 *yl = y + b * si;
      const mx_fft_c32 *v = buf + b * ll;
      for (int64_t j = 0; j < cnt; j++) {
        yl[j * sa].re = scale * v[j].re;
        yl[j * sa].im = si_ * v[j].im;
      }
    }
  } else {
    for (int64_t j = 0; j < cnt; j++) {
      mx_fft_c32 *yj = y + j * sa;
      for (int64_t b = 0; b < g; b++) {
        yj[b * si].re = scale * buf[b * ll + j].re;
        yj[b * si].im = si_ * buf[b * ll + j].im;
      }
    }
  }
}

/* Scatters g real lines: packed (consecutive floats) or the real parts of complex entries. */
static void scatter_r(const fft_pass *ps, int64_t off, int64_t si, int64_t g, int64_t cnt,
                      const mx_fft_c32 *buf, int64_t ll, bool packed, float scale) {
  int64_t sa = ps->dst->strides[ps->axis];
  float *y = (float *)ps->dst->data + off;
  for (int64_t b = 0; b < g; b++) {
    float *yl = y + b * si;
    if (packed) {
      const float *v = (const float *)(buf + b * ll);
      for (int64_t j = 0; j < cnt; j++) yl[j * sa] = scale * v[j];
    } else {
      const mx_fft_c32 *v = buf + b * ll;
      for (int64_t j = 0; j < cnt; j++) yl[j * sa] = scale * v[j].re;
    }
  }
}

/* Transforms one gathered line in place (line: line_len entries, the output where the
 * mode's layout puts it; see pass_lines). */
static void transform_line(const fft_pass *ps, mx_fft_c32 *line, mx_fft_c32 *work) {
  const mx_fft_plan *p = ps->plan;
  int64_t n = ps->n;
  switch (ps->mode) {
    case PASS_C2C:
      mx_fft_exec(p, line, work);
      break;
    case PASS_R2C:
      if (p->real) {
        /* packed reals in line[0 .. n/2), spectrum to line[n/2 ..] */
        mx_fft_exec_r2c(p, line, line + n / 2, work);
      } else {
        mx_fft_exec(p, line, work);
      }
      break;
    case PASS_C2R:
      if (p->real) {
        /* spectrum in line[0 .. n/2], packed reals to line[n/2 + 1 ..] */
        mx_fft_exec_c2r(p, line, line + n / 2 + 1, work);
      } else {
        /* Hermitian extension, then the inverse through conj(fft(conj(.))) */
        line[0].im = 0;
        for (int64_t k = 1; k <= n / 2; k++) {
          line[n - k].re = line[k].re;
          line[n - k].im = -line[k].im;
        }
        for (int64_t k = 0; k < n; k++) line[k].im = -line[k].im;
        mx_fft_exec(p, line, work);
      }
      break;
  }
}

static void pass_range(void *ctx, int64_t l0, int64_t l1) {
  fft_pass *ps = (fft_pass *)ctx;
  int64_t ll = ps->line_len, gmax = ps->group;
  mx_fft_c32 *mem = malloc((size_t)(gmax * ll + ps->plan->work) * sizeof(mx_fft_c32));
  if (!mem) {
    ps->failed = 1;
    return;
  }
  mx_fft_c32 *work = mem + gmax * ll;
  int64_t inner = ps->nd ? ps->shape[ps->nd - 1] : 1;
  int64_t si = ps->nd ? ps->ss[ps->nd - 1] : 0, di = ps->nd ? ps->ds[ps->nd - 1] : 0;
  bool realp = ps->plan->real;
  int64_t n = ps->n, h = n / 2;
  for (int64_t l = l0; l < l1;) {
    /* a group: consecutive lines along the innermost other dim */
    int64_t pos = l % inner, g = inner - pos;
    if (g > l1 - l) g = l1 - l;
    if (g > gmax) g = gmax;
    int64_t so, dso;
    line_offsets(ps, l, &so, &dso);
    switch (ps->mode) {
      case PASS_C2C:
        gather(ps, so, si, g, ps->n_src, mem, ll, false, ps->inverse);
        break;
      case PASS_R2C:
        gather(ps, so, si, g, ps->n_src, mem, ll, realp, false);
        break;
      case PASS_C2R:
        gather(ps, so, si, g, ps->n_src, mem, ll, false, false);
        break;
    }
    for (int64_t b = 0; b < g; b++) transform_line(ps, mem + b * ll, work);
    switch (ps->mode) {
      case PASS_C2C:
        scatter_c(ps, dso, di, g, n, mem, ll, ps->inverse, ps->scale);
        break;
      case PASS_R2C:
        scatter_c(ps, dso, di, g, ps->n_dst, realp ? mem + h : mem, ll, false, 1.0f);
        break;
      case PASS_C2R:
        scatter_r(ps, dso, di, g, n, realp ? mem + h + 1 : mem, ll, realp, ps->scale);
        break;
    }
    l += g;
  }
  free(mem);
}

/* Runs one pass; src and dst may be the same tensor (each line is read before written). */
static int run_pass(const mx_tensor *src, const mx_tensor *dst, int axis, pass_mode mode,
                    bool inverse) {
  fft_pass ps = {0};
  ps.src = src;
  ps.dst = dst;
  ps.axis = axis;
  ps.mode = mode;
  ps.inverse = inverse;
  ps.n_src = src->shape[axis];
  ps.n_dst = dst->shape[axis];
  ps.n = mode == PASS_R2C ? ps.n_src : ps.n_dst;
  ps.scale = inverse ? (float)(1.0 / (double)ps.n) : 1.0f;
  int nd = src->ndim;
  int64_t *dims = malloc((size_t)(3 * (nd > 0 ? nd : 1)) * sizeof(int64_t));
  if (!dims) return mx_fail_int(MX_ENOMEM, "[fft] Unable to allocate kernel scratch.");
  ps.shape = dims;
  ps.ss = dims + nd;
  ps.ds = dims + 2 * nd;
  ps.nlines = 1;
  for (int d = 0; d < nd; d++) {
    if (d == axis || src->shape[d] == 1) continue;
    ps.shape[ps.nd] = src->shape[d];
    ps.ss[ps.nd] = src->strides[d];
    ps.ds[ps.nd] = dst->strides[d];
    ps.nd++;
    ps.nlines *= src->shape[d];
  }
  ps.plan = mx_fft_plan_get(ps.n, mode != PASS_C2C);
  if (!ps.plan) {
    free(dims);
    return -1;
  }
  int64_t n = ps.n;
  /* C2R of an odd length builds the full spectrum in the line; real plans keep the input
   * (or packed reals) and the spectrum side by side */
  ps.line_len = ps.plan->real ? n / 2 + (n / 2 + 1) + 1 : n;
  int64_t g = GROUP_BYTES / (ps.line_len * (int64_t)sizeof(mx_fft_c32));
  ps.group = g < 1 ? 1 : g > GROUP_MAX ? GROUP_MAX : g;
  int64_t cost = n * 8;
  for (int64_t t = n; t > 1; t >>= 1) cost += n;
  int64_t grain = MX_CPU_PARALLEL_GRAIN / cost;
  mx_cpu_parallel_for(ps.nlines, grain > 0 ? grain : 1, pass_range, &ps);
  mx_fft_plan_release(ps.plan);
  free(dims);
  if (ps.failed) return mx_fail_int(MX_ENOMEM, "[fft] Unable to allocate kernel scratch.");
  return 0;
}

int mx_cpu_fft(const mx_kernel_ctx *ctx, const mx_tensor *in, int n_in, mx_tensor *out,
               int n_out) {
  const mx_p_fft *p = (const mx_p_fft *)ctx->params;
  if (mx_check_fft(p, in, n_in, out, n_out) < 0) return -1;
  int na = p->axes.n;
  const int32_t *axes = p->axes.v;
  if (out->size == 0) return 0;
  int last = axes[na - 1];
  if (!p->real) {
    const mx_tensor *src = in;
    for (int i = na - 1; i >= 0; i--) {
      if (run_pass(src, out, axes[i], PASS_C2C, p->inverse) < 0) return -1;
      src = out;
    }
    return 0;
  }
  if (!p->inverse) {
    if (run_pass(in, out, last, PASS_R2C, false) < 0) return -1;
    for (int i = na - 2; i >= 0; i--)
      if (run_pass(out, out, axes[i], PASS_C2C, false) < 0) return -1;
    return 0;
  }
  if (na == 1) return run_pass(in, out, last, PASS_C2R, true);
  /* complex inverse passes into a row-contiguous scratch copy of the input's shape */
  int64_t *st = malloc((size_t)in->ndim * sizeof(int64_t));
  mx_fft_c32 *tmp = malloc((size_t)in->size * sizeof(mx_fft_c32));
  int rc = -1;
  if (!st || !tmp) {
    rc = mx_fail_int(MX_ENOMEM, "[malloc] Unable to allocate %zu bytes.",
                     (size_t)in->size * sizeof(mx_fft_c32));
    goto done;
  }
  int64_t acc = 1;
  for (int d = in->ndim - 1; d >= 0; d--) {
    st[d] = acc;
    acc *= in->shape[d];
  }
  mx_tensor t = {tmp, MX_COMPLEX64, in->ndim, in->shape, st, in->size, MX_ROW_CONTIG};
  const mx_tensor *src = in;
  for (int i = na - 2; i >= 0; i--) {
    if (run_pass(src, &t, axes[i], PASS_C2C, true) < 0) goto done;
    src = &t;
  }
  rc = run_pass(&t, out, last, PASS_C2R, true);
done:
  free(st);
  free(tmp);
  return rc;
}
