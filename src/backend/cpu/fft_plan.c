/* fft_plan.c: building, caching and running one-dimensional FFT plans (fft_plan.h).
 * Stockham autosort stages (decimation in frequency): a stage of radix r on a sub-length
 * len = r * m with stride s reads x[q + s (p + j m)] and writes the r-point DFT times
 * w_len^{p k} to y[q + s (r p + k)], ping-ponging between the data and a scratch buffer. */
#include "fft_plan.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"

#define FFT_CACHE_MAX 64 /* plans kept once nothing uses them */

static const double two_pi = 6.283185307179586476925286766559;

/* exp(-2 pi i num / den), num reduced mod den first so the angle stays small. */
static mx_fft_c32 unit_root(int64_t num, int64_t den) {
  num %= den;
  if (num < 0) num += den;
  double a = -two_pi * (double)num / (double)den;
  mx_fft_c32 w = {(float)cos(a), (float)sin(a)};
  return w;
}

static inline mx_fft_c32 cmul(mx_fft_c32 a, mx_fft_c32 b) {
  mx_fft_c32 r = {a.re * b.re - a.im * b.im, a.re * b.im + a.im * b.re};
  return r;
}

/* ---- butterflies: one stage over all (p, q) ---- */

static void stage2(int64_t s, int64_t m, const mx_fft_c32 *tw, const mx_fft_c32 *x,
                   mx_fft_c32 *y) {
  for (int64_t p = 0; p < m; p++) {
    mx_fft_c32 w = tw[p];
    const mx_fft_c32 *x0 = x + s * p, *x1 = x + s * (p + m);
    mx_fft_c32 *y0 = y + s * 2 * p, *y1 = y0 + s;
    for (int64_t q = 0; q < s; q++) {
      mx_fft_c32 a = x0[q], b = x1[q];
      mx_fft_c32 d = {a.re - b.re, a.im - b.im};
      y0[q].re = a.re + b.re;
      y0[q].im = a.im + b.im;
      y1[q] = cmul(d, w);
    }
  }
}

static void stage4(int64_t s, int64_t m, const mx_fft_c32 *tw, const mx_fft_c32 *x,
                   mx_fft_c32 *y) {
  for (int64_t p = 0; p < m; p++) {
    mx_fft_c32 w1 = tw[3 * p], w2 = tw[3 * p + 1], w3 = tw[3 * p + 2];
    const mx_fft_c32 *x0 = x + s * p, *x1 = x + s * (p + m), *x2 = x + s * (p + 2 * m),
                     *x3 = x + s * (p + 3 * m);
    mx_fft_c32 *y0 = y + s * 4 * p, *y1 = y0 + s, *y2 = y0 + 2 * s, *y3 = y0 + 3 * s;
    for (int64_t q = 0; q < s; q++) {
      mx_fft_c32 a0 = x0[q], a1 = x1[q], a2 = x2[q], a3 = x3[q];
      float t0r = a0.re + a2.re, t0i = a0.im + a2.im;
      float t1r = a0.re - a2.re, t1i = a0.im - a2.im;
      float t2r = a1.re + a3.re, t2i = a1.im + a3.im;
      float t3r = a1.re - a3.re, t3i = a1.im - a3.im;
      mx_fft_c32 b0 = {t0r + t2r, t0i + t2i};
      mx_fft_c32 b2 = {t0r - t2r, t0i - t2i};
      mx_fft_c32 b1 = {t1r + t3i, t1i - t3r}; /* t1 - i t3 */
      mx_fft_c32 b3 = {t1r - t3i, t1i + t3r}; /* t1 + i t3 */
      y0[q] = b0;
      y1[q] = cmul(b1, w1);
      y2[q] = cmul(b2, w2);
      y3[q] = cmul(b3, w3);
    }
  }
}

static void stage3(int64_t s, int64_t m, const mx_fft_c32 *tw, const mx_fft_c32 *x,
                   mx_fft_c32 *y) {
  const float h = 0.86602540378443864676f; /* sin(2 pi / 3) */
  for (int64_t p = 0; p < m; p++) {
    mx_fft_c32 w1 = tw[2 * p], w2 = tw[2 * p + 1];
    const mx_fft_c32 *x0 = x + s * p, *x1 = x + s * (p + m), *x2 = x + s * (p + 2 * m);
    mx_fft_c32 *y0 = y + s * 3 * p, *y1 = y0 + s, *y2 = y0 + 2 * s;
    for (int64_t q = 0; q < s; q++) {
      mx_fft_c32 a0 = x0[q], a1 = x1[q], a2 = x2[q];
      float tr = a1.re + a2.re, ti = a1.im + a2.im;
      float dr = h * (a1.re - a2.re), di = h * (a1.im - a2.im);
      float ur = a0.re - 0.5f * tr, ui = a0.im - 0.5f * ti;
      mx_fft_c32 b0 = {a0.re + tr, a0.im + ti};
      mx_fft_c32 b1 = {ur + di, ui - dr}; /* u - i d */
      mx_fft_c32 b2 = {ur - di, ui + dr};
      y0[q] = b0;
      y1[q] = cmul(b1, w1);
      y2[q] = cmul(b2, w2);
    }
  }
}

static void stage5(int64_t s, int64_t m, const mx_fft_c32 *tw, const mx_fft_c32 *x,
                   mx_fft_c32 *y) {
  const float c1 = 0.30901699437494742410f, c2 = -0.80901699437494742410f;
  const float s1 = 0.95105651629515357212f, s2 = 0.58778525229247312917f;
  for (int64_t p = 0; p < m; p++) {
    const mx_fft_c32 *w = tw + 4 * p;
    const mx_fft_c32 *x0 = x + s * p;
    mx_fft_c32 *y0 = y + s * 5 * p;
    for (int64_t q = 0; q < s; q++) {
      mx_fft_c32 a0 = x0[q], a1 = x0[q + s * m], a2 = x0[q + 2 * s * m], a3 = x0[q + 3 * s * m],
                 a4 = x0[q + 4 * s * m];
      float t1r = a1.re + a4.re, t1i = a1.im + a4.im, d1r = a1.re - a4.re, d1i = a1.im - a4.im;
      float t2r = a2.re + a3.re, t2i = a2.im + a3.im, d2r = a2.re - a3.re, d2i = a2.im - a3.im;
      float u1r = a0.re + c1 * t1r + c2 * t2r, u1i = a0.im + c1 * t1i + c2 * t2i;
      float u2r = a0.re + c2 * t1r + c1 * t2r, u2i = a0.im + c2 * t1i + c1 * t2i;
      float v1r = s1 * d1r + s2 * d2r, v1i = s1 * d1i + s2 * d2i;
      float v2r = s2 * d1r - s1 * d2r, v2i = s2 * d1i - s1 * d2i;
      mx_fft_c32 b0 = {a0.re + t1r + t2r, a0.im + t1i + t2i};
      mx_fft_c32 b1 = {u1r + v1i, u1i - v1r}, b4 = {u1r - v1i, u1i + v1r};
      mx_fft_c32 b2 = {u2r + v2i, u2i - v2r}, b3 = {u2r - v2i, u2i + v2r};
      y0[q] = b0;
      y0[q + s] = cmul(b1, w[0]);
      y0[q + 2 * s] = cmul(b2, w[1]);
      y0[q + 3 * s] = cmul(b3, w[2]);
      y0[q + 4 * s] = cmul(b4, w[3]);
    }
  }
}

/* Odd prime radix r: b_k = a_0 + sum_j cos(2 pi j k / r) t_j -+ i sum_j sin(...) d_j with
 * t_j = a_j + a_{r-j}, d_j = a_j - a_{r-j} (j, k = 1 .. (r - 1) / 2). */
static void stage_generic(int r, int64_t s, int64_t m, const mx_fft_c32 *tw,
                          const mx_fft_c32 *rot, const mx_fft_c32 *x, mx_fft_c32 *y) {
  mx_fft_c32 t[MX_FFT_MAX_GENERIC], d[MX_FFT_MAX_GENERIC];
  int half = (r - 1) / 2;
  for (int64_t p = 0; p < m; p++) {
    const mx_fft_c32 *w = tw + (r - 1) * p;
    mx_fft_c32 *y0 = y + s * r * p;
    for (int64_t q = 0; q < s; q++) {
      const mx_fft_c32 *xq = x + q + s * p;
      mx_fft_c32 a0 = xq[0], b0 = a0;
      for (int j = 1; j <= half; j++) {
        mx_fft_c32 u = xq[s * m * j], v = xq[s * m * (r - j)];
        t[j].re = u.re + v.re;
        t[j].im = u.im + v.im;
        d[j].re = u.re - v.re;
        d[j].im = u.im - v.im;
        b0.re += t[j].re;
        b0.im += t[j].im;
      }
      y0[q] = b0;
      for (int k = 1; k <= half; k++) {
        float er = a0.re, ei = a0.im, orr = 0, oi = 0;
        int idx = 0;
        for (int j = 1; j <= half; j++) {
          idx += k;
          if (idx >= r) idx -= r;
          float c = rot[idx].re, sn = -rot[idx].im;
          er += c * t[j].re;
          ei += c * t[j].im;
          orr += sn * d[j].re;
          oi += sn * d[j].im;
        }
        mx_fft_c32 bk = {er + oi, ei - orr}, bm = {er - oi, ei + orr};
        y0[q + s * k] = cmul(bk, w[k - 1]);
        y0[q + s * (r - k)] = cmul(bm, w[r - k - 1]);
      }
    }
  }
}

static void run_stages(const mx_fft_plan *p, mx_fft_c32 *x, mx_fft_c32 *work) {
  mx_fft_c32 *src = x, *dst = work;
  int64_t s = 1;
  for (int i = 0; i < p->nstages; i++) {
    int r = p->radix[i];
    int64_t m = p->n / (s * r);
    switch (r) {
      case 2: stage2(s, m, p->tw[i], src, dst); break;
      case 3: stage3(s, m, p->tw[i], src, dst); break;
      case 4: stage4(s, m, p->tw[i], src, dst); break;
      case 5: stage5(s, m, p->tw[i], src, dst); break;
      default: stage_generic(r, s, m, p->tw[i], p->rot[i], src, dst); break;
    }
    mx_fft_c32 *t = src;
    src = dst;
    dst = t;
    s *= r;
  }
  if (src != x) memcpy(x, src, (size_t)p->n * sizeof(mx_fft_c32));
}

static void run_bluestein(const mx_fft_plan *p, mx_fft_c32 *x, mx_fft_c32 *work) {
  int64_t n = p->n, m = p->m;
  mx_fft_c32 *a = work, *w2 = work + m;
  for (int64_t j = 0; j < n; j++) a[j] = cmul(x[j], p->chirp[j]);
  memset(a + n, 0, (size_t)(m - n) * sizeof(mx_fft_c32));
  mx_fft_exec(p->sub, a, w2);
  /* inverse transform of a * kern through conj(fft(conj(.))) */
  for (int64_t k = 0; k < m; k++) {
    mx_fft_c32 v = cmul(a[k], p->kern[k]);
    a[k].re = v.re;
    a[k].im = -v.im;
  }
  mx_fft_exec(p->sub, a, w2);
  for (int64_t k = 0; k < n; k++) {
    mx_fft_c32 v = {a[k].re, -a[k].im};
    x[k] = cmul(v, p->chirp[k]);
  }
}

void mx_fft_exec(const mx_fft_plan *p, mx_fft_c32 *x, mx_fft_c32 *work) {
  if (p->sub && !p->real)
    run_bluestein(p, x, work);
  else
    run_stages(p, x, work);
}

void mx_fft_exec_r2c(const mx_fft_plan *p, mx_fft_c32 *x, mx_fft_c32 *y, mx_fft_c32 *work) {
  int64_t h = p->n / 2;
  mx_fft_exec(p->sub, x, work);
  y[0].re = x[0].re + x[0].im;
  y[0].im = 0;
  y[h].re = x[0].re - x[0].im;
  y[h].im = 0;
  for (int64_t k = 1; k < h; k++) {
    mx_fft_c32 a = x[k], b = {x[h - k].re, -x[h - k].im};
    mx_fft_c32 e = {0.5f * (a.re + b.re), 0.5f * (a.im + b.im)};
    mx_fft_c32 o = {0.5f * (a.im - b.im), -0.5f * (a.re - b.re)}; /* (a - b) / 2i */
    mx_fft_c32 t = cmul(p->half[k], o);
    y[k].re = e.re + t.re;
    y[k].im = e.im + t.im;
  }
}

void mx_fft_exec_c2r(const mx_fft_plan *p, const mx_fft_c32 *y, mx_fft_c32 *x,
                     mx_fft_c32 *work) {
  int64_t h = p->n / 2;
  for (int64_t k = 0; k < h; k++) {
    mx_fft_c32 a = y[k], b = {y[h - k].re, -y[h - k].im};
    if (k == 0) a.im = b.im = 0;
    mx_fft_c32 e = {a.re + b.re, a.im + b.im};
    mx_fft_c32 wc = {p->half[k].re, -p->half[k].im};
    mx_fft_c32 o = cmul((mx_fft_c32){a.re - b.re, a.im - b.im}, wc);
    /* store conj(e + i o) for the inverse through the forward transform */
    x[k].re = e.re - o.im;
    x[k].im = -(e.im + o.re);
  }
  mx_fft_exec(p->sub, x, work);
  for (int64_t k = 0; k < h; k++) x[k].im = -x[k].im;
}

/* ---- building ---- */

static void plan_free(mx_fft_plan *p) {
  if (!p) return;
  for (int i = 0; i < p->nstages; i++) {
    free(p->tw[i]);
    free(p->rot[i]);
  }
  if (p->sub) mx_fft_plan_release(p->sub);
  free(p->chirp);
  free(p->kern);
  free(p->half);
  free(p);
}

/* Splits n into radices; returns the unfactored rest (1 when n is fully factored). */
static int64_t factorize(mx_fft_plan *p, int64_t n) {
  p->nstages = 0;
  while (n % 4 == 0 && p->nstages < MX_FFT_MAX_STAGES) {
    p->radix[p->nstages++] = 4;
    n /= 4;
  }
  if (n % 2 == 0) {
    p->radix[p->nstages++] = 2;
    n /= 2;
  }
  for (int f = 3; f <= MX_FFT_MAX_GENERIC && n > 1; f += 2) {
    while (n % f == 0 && p->nstages < MX_FFT_MAX_STAGES) {
      p->radix[p->nstages++] = f;
      n /= f;
    }
  }
  return n;
}

static int build_stages(mx_fft_plan *p) {
  int64_t s = 1;
  for (int i = 0; i < p->nstages; i++) {
    int r = p->radix[i];
    int64_t len = p->n / s, m = len / r;
    p->tw[i] = malloc((size_t)(m * (r - 1)) * sizeof(mx_fft_c32));
    if (!p->tw[i]) return -1;
    for (int64_t q = 0; q < m; q++)
      for (int k = 1; k < r; k++) p->tw[i][q * (r - 1) + k - 1] = unit_root(q * k, len);
    if (r > 5) {
      p->rot[i] = malloc((size_t)r * sizeof(mx_fft_c32));
      if (!p->rot[i]) return -1;
      for (int j = 0; j < r; j++) p->rot[i][j] = unit_root(j, r);
    }
    s *= r;
  }
  return 0;
}

static int build_bluestein(mx_fft_plan *p) {
  int64_t n = p->n, m = 1;
  while (m < 2 * n - 1) m *= 2;
  p->m = m;
  p->sub = mx_fft_plan_get(m, false);
  if (!p->sub) return -1;
  p->chirp = malloc((size_t)n * sizeof(mx_fft_c32));
  p->kern = calloc((size_t)m, sizeof(mx_fft_c32));
  mx_fft_c32 *work = malloc((size_t)p->sub->work * sizeof(mx_fft_c32));
  if (!p->chirp || !p->kern || !work) {
    free(work);
    return -1;
  }
  for (int64_t k = 0; k < n; k++) {
    /* exp(-i pi k^2 / n) = w_{2n}^{k^2 mod 2n}, exact index arithmetic */
    int64_t k2 = (k * k) % (2 * n); /* k < n < 2^31 */
    p->chirp[k] = unit_root(k2, 2 * n);
  }
  p->kern[0].re = p->chirp[0].re;
  p->kern[0].im = -p->chirp[0].im;
  for (int64_t k = 1; k < n; k++) {
    mx_fft_c32 c = {p->chirp[k].re, -p->chirp[k].im};
    p->kern[k] = c;
    p->kern[m - k] = c;
  }
  mx_fft_exec(p->sub, p->kern, work);
  float inv = (float)(1.0 / (double)m);
  for (int64_t k = 0; k < m; k++) {
    p->kern[k].re *= inv;
    p->kern[k].im *= inv;
  }
  free(work);
  p->work = m + p->sub->work;
  return 0;
}

static mx_fft_plan *plan_build(int64_t n, bool real) {
  mx_fft_plan *p = calloc(1, sizeof *p);
  if (!p) return NULL;
  p->n = n;
  p->real = real;
  p->refs = 1;
  if (real) {
    int64_t h = n / 2;
    p->sub = mx_fft_plan_get(h, false);
    p->half = malloc((size_t)h * sizeof(mx_fft_c32));
    if (!p->sub || !p->half) goto fail;
    for (int64_t k = 0; k < h; k++) p->half[k] = unit_root(k, n);
    p->work = p->sub->work;
    return p;
  }
  if (factorize(p, n) == 1) {
    if (build_stages(p) < 0) goto fail;
    p->work = n;
  } else {
    p->nstages = 0;
    if (build_bluestein(p) < 0) goto fail;
  }
  return p;
fail:
  plan_free(p);
  return NULL;
}

/* ---- cache ---- */

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static mx_fft_plan *cache_head;
static int cache_count;

static mx_fft_plan *cache_find(int64_t n, bool real) {
  for (mx_fft_plan *p = cache_head; p; p = p->next)
    if (p->n == n && p->real == real) return p;
  return NULL;
}

/* Drops unused plans beyond the limit, oldest (last in the list) first. Under the lock. */
static void cache_trim(mx_fft_plan **dead) {
  while (cache_count > FFT_CACHE_MAX) {
    mx_fft_plan **pp = &cache_head, **victim = NULL;
    for (; *pp; pp = &(*pp)->next)
      if ((*pp)->refs == 1) victim = pp;
    if (!victim) return;
    mx_fft_plan *v = *victim;
    *victim = v->next;
    v->next = *dead;
    *dead = v;
    cache_count--;
  }
}

const mx_fft_plan *mx_fft_plan_get(int64_t n, bool real) {
  real = real && n % 2 == 0 && n >= 2;
  pthread_mutex_lock(&cache_lock);
  mx_fft_plan *p = cache_find(n, real);
  if (p) p->refs++;
  pthread_mutex_unlock(&cache_lock);
  if (p) return p;
  /* built outside the lock (building takes sub-plans through this function) */
  mx_fft_plan *fresh = plan_build(n, real);
  if (!fresh) {
    mx_fail(MX_ENOMEM, "[fft] Unable to allocate a plan of length %lld.", (long long)n);
    return NULL;
  }
  mx_fft_plan *dead = NULL;
  pthread_mutex_lock(&cache_lock);
  p = cache_find(n, real);
  if (p) {
    p->refs++;
    fresh->next = dead;
    dead = fresh;
  } else {
    p = fresh;
    p->refs = 2; /* the cache's and the caller's */
    p->next = cache_head;
    cache_head = p;
    cache_count++;
    cache_trim(&dead);
  }
  pthread_mutex_unlock(&cache_lock);
  while (dead) {
    mx_fft_plan *nx = dead->next;
    plan_free(dead);
    dead = nx;
  }
  return p;
}

void mx_fft_plan_release(const mx_fft_plan *cp) {
  if (!cp) return;
  mx_fft_plan *p = (mx_fft_plan *)cp;
  bool drop = false;
  pthread_mutex_lock(&cache_lock);
  drop = --p->refs == 0;
  pthread_mutex_unlock(&cache_lock);
  if (drop) plan_free(p);
}
