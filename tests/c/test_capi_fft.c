/* test_capi_fft.c: the mlx-c functions of mlx/c/fft.h as an mlx-c program calls them: each
 * transform with its mlx_fft_norm, n/axes arguments, frequencies and shifts, checked
 * against a direct O(n^2) DFT in double, and failures reported through the handler. */
#include <complex.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "mlx/c/mlx.h"

static int failures = 0;
#define CHECK(cond)                                                          \
  do {                                                                       \
    if (!(cond)) {                                                           \
      fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);        \
      failures++;                                                            \
    }                                                                        \
  } while (0)

static int errors = 0;
static char last_error[1024];
static void record_error(const char *msg, void *data) {
  (void)data;
  errors++;
  snprintf(last_error, sizeof last_error, "%s", msg);
}

#define N 12
static const double pi = 3.14159265358979323846;

/* Direct DFT of x (n entries), sign -1 forward, +1 inverse (unscaled). */
static void dft(const double complex *x, int n, int sign, double complex *y) {
  for (int k = 0; k < n; k++) {
    double complex acc = 0;
    for (int j = 0; j < n; j++) acc += x[j] * cexp(sign * 2.0 * pi * I * (double)(j * k % n) / n);
    y[k] = acc;
  }
}

static bool close_c(mlx_array r, const double complex *want, int n, double scale) {
  if (mlx_array_eval(r) != 0 || mlx_array_dtype(r) != MLX_COMPLEX64 || (int)mlx_array_size(r) != n)
    return false;
  const mlx_complex64_t *p = mlx_array_data_complex64(r);
  for (int i = 0; i < n; i++)
    if (cabs((double complex)p[i] - want[i] * scale) > 1e-4) return false;
  return true;
}

static bool close_f(mlx_array r, const double *want, int n) {
  if (mlx_array_eval(r) != 0 || mlx_array_dtype(r) != MLX_FLOAT32 || (int)mlx_array_size(r) != n)
    return false;
  const float *p = mlx_array_data_float32(r);
  for (int i = 0; i < n; i++)
    if (fabs(p[i] - want[i]) > 1e-5) return false;
  return true;
}

int main(void) {
  mlx_set_error_handler(record_error, NULL, NULL);
  mlx_stream s = mlx_default_cpu_stream_new();
  float xv[N];
  double complex xc[N], want[N], tmp[N];
  for (int i = 0; i < N; i++) {
    xv[i] = (float)sin(0.7 * i) + 0.25f * (float)i;
    xc[i] = xv[i];
  }
  int n = N;
  mlx_array x = mlx_array_new_data(xv, &n, 1, MLX_FLOAT32), r = mlx_array_new();

  dft(xc, N, -1, want);
  CHECK(mlx_fft_fft(&r, x, N, -1, MLX_FFT_NORM_BACKWARD, s) == 0 && close_c(r, want, N, 1));
  CHECK(mlx_fft_fft(&r, x, N, 0, MLX_FFT_NORM_ORTHO, s) == 0 && close_c(r, want, N, 1 / sqrt(N)));
  CHECK(mlx_fft_rfft(&r, x, N, 0, MLX_FFT_NORM_FORWARD, s) == 0 &&
        close_c(r, want, N / 2 + 1, 1.0 / N));
  /* n truncates: the DFT of the first 5 entries */
  dft(xc, 5, -1, tmp);
  CHECK(mlx_fft_fft(&r, x, 5, -1, MLX_FFT_NORM_BACKWARD, s) == 0 && close_c(r, tmp, 5, 1));

  /* round trips through the inverses */
  mlx_array spec = mlx_array_new();
  CHECK(mlx_fft_rfft(&spec, x, N, -1, MLX_FFT_NORM_BACKWARD, s) == 0);
  double xd[N];
  for (int i = 0; i < N; i++) xd[i] = xv[i];
  CHECK(mlx_fft_irfft(&r, spec, N, -1, MLX_FFT_NORM_BACKWARD, s) == 0 && close_f(r, xd, N));
  CHECK(mlx_fft_fft(&spec, x, N, -1, MLX_FFT_NORM_ORTHO, s) == 0);
  CHECK(mlx_fft_ifft(&r, spec, N, -1, MLX_FFT_NORM_ORTHO, s) == 0 && close_c(r, xc, N, 1));

  /* two dimensions: (3, 4), fft2 over both axes = fftn with explicit sizes */
  int shape2[2] = {3, 4}, sz[2] = {3, 4}, axes[2] = {0, 1};
  mlx_array m = mlx_array_new_data(xv, shape2, 2, MLX_FLOAT32), r2 = mlx_array_new();
  CHECK(mlx_fft_fft2(&r, m, sz, 2, axes, 2, MLX_FFT_NORM_BACKWARD, s) == 0);
  CHECK(mlx_fft_fftn(&r2, m, sz, 2, axes, 2, MLX_FFT_NORM_BACKWARD, s) == 0);
  {
    double complex ref[N];
    for (int a = 0; a < 3; a++)
      for (int b = 0; b < 4; b++) {
        double complex acc = 0;
        for (int i = 0; i < 3; i++)
          for (int j = 0; j < 4; j++)
            acc += xc[i * 4 + j] * cexp(-2.0 * pi * I * ((double)(a * i) / 3 + (double)(b * j) / 4));
        ref[a * 4 + b] = acc;
      }
    CHECK(close_c(r, ref, N, 1) && close_c(r2, ref, N, 1));
  }
  CHECK(mlx_fft_rfft2(&r, m, sz, 2, axes, 2, MLX_FFT_NORM_BACKWARD, s) == 0 &&
        mlx_fft_irfft2(&r2, r, sz, 2, axes, 2, MLX_FFT_NORM_BACKWARD, s) == 0 &&
        close_f(r2, xd, N));
  CHECK(mlx_fft_rfftn(&r, m, sz, 2, axes, 2, MLX_FFT_NORM_ORTHO, s) == 0 &&
        mlx_fft_irfftn(&r2, r, sz, 2, axes, 2, MLX_FFT_NORM_ORTHO, s) == 0 &&
        close_f(r2, xd, N));
  CHECK(mlx_fft_fftn(&r, m, sz, 2, axes, 2, MLX_FFT_NORM_FORWARD, s) == 0 &&
        mlx_fft_ifftn(&r2, r, sz, 2, axes, 2, MLX_FFT_NORM_FORWARD, s) == 0 &&
        mlx_fft_ifft2(&r, r2, sz, 2, axes, 2, MLX_FFT_NORM_BACKWARD, s) == 0);

  /* frequencies and shifts */
  CHECK(mlx_fft_fftfreq(&r, 5, 0.5, s) == 0 &&
        close_f(r, (const double[]){0, 0.4, 0.8, -0.8, -0.4}, 5));
  CHECK(mlx_fft_rfftfreq(&r, 6, 1.0, s) == 0 &&
        close_f(r, (const double[]){0, 1.0 / 6, 2.0 / 6, 0.5}, 4));
  float sv[5] = {0, 1, 2, 3, 4};
  int five = 5, ax0 = 0;
  mlx_array v = mlx_array_new_data(sv, &five, 1, MLX_FLOAT32);
  CHECK(mlx_fft_fftshift(&r, v, &ax0, 1, s) == 0 &&
        close_f(r, (const double[]){3, 4, 0, 1, 2}, 5));
  CHECK(mlx_fft_ifftshift(&r, v, &ax0, 1, s) == 0 &&
        close_f(r, (const double[]){2, 3, 4, 0, 1}, 5));

  /* failures: status 1 and MLX's message through the handler */
  errors = 0;
  CHECK(mlx_fft_fft(&r, x, 0, -1, MLX_FFT_NORM_BACKWARD, s) == 1 && errors == 1 &&
        strstr(last_error, "Invalid FFT output size requested (0)"));
  CHECK(mlx_fft_fft(&r, x, 4, 3, MLX_FFT_NORM_BACKWARD, s) == 1 && errors == 2 &&
        strstr(last_error, "[fft] Invalid axis 3"));
  CHECK(mlx_fft_fft(&r, x, 4, 0, (mlx_fft_norm)7, s) == 1 && errors == 3 &&
        strstr(last_error, "Invalid norm"));
  CHECK(mlx_fft_fftn(&r, m, sz, 1, axes, 2, MLX_FFT_NORM_BACKWARD, s) == 1 && errors == 4 &&
        strstr(last_error, "Shape and axes have different sizes"));
  CHECK(mlx_fft_fftfreq(&r, 0, 1.0, s) == 1 && errors == 5 &&
        strstr(last_error, "`n` must be greater than 0"));

  mlx_array_free(v);
  mlx_array_free(m);
  mlx_array_free(r2);
  mlx_array_free(spec);
  mlx_array_free(r);
  mlx_array_free(x);
  mlx_stream_free(s);
  fprintf(stderr, "test_capi_fft: %d failures\n", failures);
  return failures ? 1 : 0;
}
