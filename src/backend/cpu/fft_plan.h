/* fft_plan.h: one-dimensional FFT plans of any length for the CPU FFT kernel (fft.c):
 * mixed-radix Stockham stages (radix 4, 2, 3, 5 and generic odd primes up to
 * MX_FFT_MAX_GENERIC) with twiddles computed in double and stored in float, or Bluestein's
 * chirp-z convolution for lengths with a larger prime factor. Plans are immutable, shared
 * through a thread-safe cache keyed by length and kind, and computed in float32. */
#ifndef MX_CPU_FFT_PLAN_H
#define MX_CPU_FFT_PLAN_H

#include <stdbool.h>
#include <stdint.h>

#define MX_FFT_MAX_GENERIC 67   /* largest prime radix done by a direct DFT butterfly */
#define MX_FFT_MAX_STAGES 64

typedef struct mx_fft_c32 {
  float re, im;
} mx_fft_c32;

typedef struct mx_fft_plan mx_fft_plan;

struct mx_fft_plan {
  int64_t n;
  bool real;                    /* real plan: n even, packed half-length transform */
  int nstages;
  int radix[MX_FFT_MAX_STAGES];
  mx_fft_c32 *tw[MX_FFT_MAX_STAGES];  /* stage twiddles w_{len}^{p k}: [p * (r - 1) + k - 1] */
  mx_fft_c32 *rot[MX_FFT_MAX_STAGES]; /* generic radix r: w_r^j, j < r (NULL otherwise) */
  /* Bluestein: sub is a plan of length m >= 2n - 1, chirp[k] = exp(-i pi k^2 / n) (k < n),
   * kern the transform of the conjugate chirp divided by m (m entries). */
  const mx_fft_plan *sub;
  int64_t m;
  mx_fft_c32 *chirp, *kern;
  /* real plan: sub is the complex plan of n / 2, half[k] = w_n^k (k < n / 2) */
  mx_fft_c32 *half;
  int64_t work;                 /* complex scratch entries mx_fft_exec needs */
  /* cache bookkeeping */
  int64_t refs;
  mx_fft_plan *next;
};

/* The cached complex plan of length n (or the real plan of even n), a new reference; NULL
 * with the error set when out of memory. */
const mx_fft_plan *mx_fft_plan_get(int64_t n, bool real);
void mx_fft_plan_release(const mx_fft_plan *p);

/* Forward DFT of x (p->n entries) in place; work holds p->work entries. */
void mx_fft_exec(const mx_fft_plan *p, mx_fft_c32 *x, mx_fft_c32 *work);

/* Real plans (n even, h = n / 2): forward: the n reals of x (as h packed complex values)
 * become the h + 1 outputs in y (y may not alias x). Inverse: the h + 1 values of y (their
 * imaginary parts at 0 and h ignored) become n * the real sequence, packed into x (h complex
 * entries). Both unnormalised; work holds p->work entries. */
void mx_fft_exec_r2c(const mx_fft_plan *p, mx_fft_c32 *x, mx_fft_c32 *y, mx_fft_c32 *work);
void mx_fft_exec_c2r(const mx_fft_plan *p, const mx_fft_c32 *y, mx_fft_c32 *x,
                     mx_fft_c32 *work);

#endif
