/* ops_fft.h: op constructors of mx.fft (discrete Fourier transforms of any length)
 * (declarations only; included by ops.h, whose ownership and error rules apply). */
#ifndef MX_OPS_FFT_H
#define MX_OPS_FFT_H

/* Normalisations (the values of mlx-c's mlx_fft_norm). */
enum { MX_FFT_NORM_BACKWARD = 0, MX_FFT_NORM_ORTHO = 1, MX_FFT_NORM_FORWARD = 2 };

/* "backward", "ortho", "forward" -> MX_FFT_NORM_*; anything else (or NULL) -> -1, which
 * the ops below reject with MLX's ValueError. */
int mx_fft_norm_parse(const char *norm);

/* The FFT primitive: axes distinct and normalised; out_len is the output length along the
 * last axis (used when real && inverse, else ignored). Input is cast to complex64 (float32
 * for a real forward transform). The inverse divides by the product of the lengths. */
mx_array *mx_fft_prim(mx_array *a, const int *axes, int naxes, bool inverse, bool real,
                      int out_len, mx_stream s);

/* One-dimensional: n NULL means the input's length (irfft: 2 * (m - 1)). */
mx_array *mx_fft_fft(mx_array *a, const int *n, int axis, int norm, mx_stream s);
mx_array *mx_fft_ifft(mx_array *a, const int *n, int axis, int norm, mx_stream s);
mx_array *mx_fft_rfft(mx_array *a, const int *n, int axis, int norm, mx_stream s);
mx_array *mx_fft_irfft(mx_array *a, const int *n, int axis, int norm, mx_stream s);

/* Multi-dimensional: n_s < 0 means s is None (the input's lengths); n_axes < 0 means axes
 * is None (every axis; s must then be None as well). */
#define MX_FFT_ND_DECL(name)                                                               \
  mx_array *mx_fft_##name(mx_array *a, const int *sz, int n_s, const int *axes, int n_axes, \
                          int norm, mx_stream s);
MX_FFT_ND_DECL(fft2)
MX_FFT_ND_DECL(ifft2)
MX_FFT_ND_DECL(rfft2)
MX_FFT_ND_DECL(irfft2)
MX_FFT_ND_DECL(fftn)
MX_FFT_ND_DECL(ifftn)
MX_FFT_ND_DECL(rfftn)
MX_FFT_ND_DECL(irfftn)
#undef MX_FFT_ND_DECL

/* Sample frequencies (float32): fftfreq has n entries, rfftfreq n // 2 + 1. */
mx_array *mx_fft_fftfreq(int n, double d, mx_stream s);
mx_array *mx_fft_rfftfreq(int n, double d, mx_stream s);

/* Rolls by n // 2 (fftshift) or -(n // 2) (ifftshift) along axes (every axis when
 * naxes < 0). */
mx_array *mx_fft_fftshift(mx_array *a, const int *axes, int naxes, mx_stream s);
mx_array *mx_fft_ifftshift(mx_array *a, const int *axes, int naxes, mx_stream s);

#endif
