/* fft.c: the mx.fft ops. Every transform resolves n/s and axes as MLX does, slices or
 * zero-pads the input to the transform's input lengths, applies the FFT primitive (complex64,
 * or float32 for a real input) and scales for the requested normalisation. fftfreq,
 * rfftfreq and the shifts compose existing ops. */
#include "ops.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/error.h"

int mx_fft_norm_parse(const char *norm) {
  if (!norm) return -1;
  if (!strcmp(norm, "backward")) return MX_FFT_NORM_BACKWARD;
  if (!strcmp(norm, "ortho")) return MX_FFT_NORM_ORTHO;
  if (!strcmp(norm, "forward")) return MX_FFT_NORM_FORWARD;
  return -1;
}

mx_array *mx_fft_prim(mx_array *a, const int *axes, int naxes, bool inverse, bool real,
                      int out_len, mx_stream s) {
  if (!a) return NULL;
  if (naxes < 1) return mx_fail(MX_EINVAL, "[fft] Expected at least one axis.");
  int32_t small[8];
  int32_t *shape = a->ndim <= 8 ? small : malloc((size_t)a->ndim * sizeof(int32_t));
  if (!shape) return mx_fail(MX_ENOMEM, "[fft] out of memory.");
  memcpy(shape, a->shape, (size_t)a->ndim * sizeof(int32_t));
  int last = axes[naxes - 1];
  if (real && !inverse) shape[last] = shape[last] / 2 + 1;
  if (real && inverse) shape[last] = out_len;
  mx_dtype in_t = real && !inverse ? MX_FLOAT32 : MX_COMPLEX64;
  mx_dtype out_t = real && inverse ? MX_FLOAT32 : MX_COMPLEX64;
  mx_p_fft p = {{naxes, axes}, inverse, real, real && inverse ? out_len : 0};
  MX_SCOPE_BEGIN;
  mx_array *x = mx_astype(a, in_t, s);
  mx_array *r = x ? mx_op_make1(MX_PRIM_FFT, &p, s, 1, &x, out_t, a->ndim, shape) : NULL;
  if (shape != small) free(shape);
  MX_SCOPE_RETURN(r);
}

/* "(3,-2)" style list for messages. */
static void fmt_list(char *buf, size_t cap, const int *v, int n) {
  size_t k = (size_t)snprintf(buf, cap, "(");
  for (int i = 0; i < n && k < cap; i++)
    k += (size_t)snprintf(buf + k, cap - k, i ? ",%d" : "%d", v[i]);
  if (k < cap) snprintf(buf + k, cap - k, ")");
}

/* Slices or zero-pads x to in_shape, applies the primitive and scales for norm. ax holds
 * naxes distinct normalised axes, n their transform lengths. */
static mx_array *fft_apply(const char *name, mx_array *x, const int32_t *in_shape, const int *ax,
                           const int *n, int naxes, bool real, bool inverse, int norm,
                           mx_stream s) {
  int nd = x->ndim;
  bool cut = false, grow = false;
  for (int d = 0; d < nd; d++) {
    cut |= in_shape[d] < x->shape[d];
    grow |= in_shape[d] > x->shape[d];
  }
  int32_t *mem = (cut || grow) ? malloc((size_t)nd * 3 * sizeof(int32_t)) : NULL;
  if ((cut || grow) && !mem) return mx_fail(MX_ENOMEM, "[%s] out of memory.", name);
  MX_SCOPE_BEGIN;
  if (cut) {
    int32_t *zero = mem, *stop = mem + nd, *one = mem + 2 * nd;
    for (int d = 0; d < nd; d++) {
      zero[d] = 0;
      one[d] = 1;
      stop[d] = in_shape[d] < x->shape[d] ? in_shape[d] : x->shape[d];
    }
    x = mx_slice(x, zero, stop, one, s);
  }
  if (x && grow) {
    for (int d = 0; d < nd; d++) {
      mem[2 * d] = 0;
      mem[2 * d + 1] = in_shape[d] > x->shape[d] ? in_shape[d] - x->shape[d] : 0;
    }
    x = mx_astype(x, real && !inverse ? MX_FLOAT32 : MX_COMPLEX64, s);
    x = mx_pad_pairs(x, mem, nd, "constant", NULL, s);
  }
  free(mem);
  mx_array *out = mx_fft_prim(x, ax, naxes, inverse, real, n[naxes - 1], s);
  if (out && norm != MX_FFT_NORM_BACKWARD) {
    double count = 1;
    for (int i = 0; i < naxes; i++) count *= n[i];
    double f = norm == MX_FFT_NORM_ORTHO ? sqrt(count) : count;
    /* the primitive's inverse already divides by count */
    bool up = inverse;
    out = mx_multiply(out, mx_scalar_like(up ? f : 1.0 / f, out), s);
  }
  MX_SCOPE_RETURN(out);
}

/* The shared driver: axes (naxes >= 0, negative allowed) and their transform lengths n, as
 * the caller resolved them; validates them as MLX's fftn does (whose messages every
 * transform reports as "[fftn]"). */
static mx_array *fft_impl(const char *name, mx_array *a, const int *n, const int *axes,
                          int naxes, bool real, bool inverse, int norm, mx_stream s) {
  if (!a) return NULL;
  if (norm < MX_FFT_NORM_BACKWARD || norm > MX_FFT_NORM_FORWARD)
    return mx_fail(MX_EINVAL,
                   "[%s] Invalid norm. Expected one of {'backward', 'ortho', 'forward'}.", name);
  if (a->ndim < 1)
    return mx_fail(MX_EINVAL, "[%s] Requires array with at least one dimension.", name);
  if (naxes == 0) {
    mx_array_retain(a);
    return mx_scope_adopt(a);
  }
  int nd = a->ndim;
  int *ax = malloc((size_t)naxes * sizeof(int) + (size_t)nd * sizeof(int32_t));
  if (!ax) return mx_fail(MX_ENOMEM, "[%s] out of memory.", name);
  int32_t *in_shape = (int32_t *)(ax + naxes);
  char buf[256];
  mx_array *r = NULL;
  for (int i = 0; i < naxes; i++) {
    if (axes[i] < -nd || axes[i] >= nd) {
      mx_fail(MX_EINDEX, "[%s] Invalid axis %d for array with %d dimensions.", name, axes[i],
              nd);
      goto done;
    }
    ax[i] = axes[i] < 0 ? axes[i] + nd : axes[i];
  }
  for (int i = 0; i < naxes; i++)
    for (int j = 0; j < i; j++)
      if (ax[i] == ax[j]) {
        fmt_list(buf, sizeof buf, axes, naxes);
        mx_fail(MX_EINVAL, "[fftn] Duplicated axis received %s", buf);
        goto done;
      }
  for (int i = 0; i < naxes; i++)
    if (n[i] <= 0) {
      fmt_list(buf, sizeof buf, n, naxes);
      mx_fail(MX_EINVAL, "[fftn] Invalid FFT output size requested %s", buf);
      goto done;
    }
  memcpy(in_shape, a->shape, (size_t)nd * sizeof(int32_t));
  for (int i = 0; i < naxes; i++) in_shape[ax[i]] = n[i];
  if (real && inverse) in_shape[ax[naxes - 1]] = n[naxes - 1] / 2 + 1;
  r = fft_apply(name, a, in_shape, ax, n, naxes, real, inverse, norm, s);
done:
  free(ax);
  return r;
}

/* ---- one-dimensional ---- */

static mx_array *fft_1d(const char *name, mx_array *a, const int *n_opt, int axis,
                        bool real, bool inverse, int norm, mx_stream s) {
  if (!a) return NULL;
  if (a->ndim < 1 || axis < -a->ndim || axis >= a->ndim)
    return mx_fail(MX_EINDEX, "[%s] Invalid axis %d for array with %d dimensions.", name, axis,
                   a->ndim);
  int len = a->shape[axis < 0 ? axis + a->ndim : axis];
  int n = n_opt ? *n_opt : real && inverse ? 2 * (len - 1) : len;
  return fft_impl(name, a, &n, &axis, 1, real, inverse, norm, s);
}

mx_array *mx_fft_fft(mx_array *a, const int *n, int axis, int norm, mx_stream s) {
  return fft_1d("fft", a, n, axis, false, false, norm, s);
}
mx_array *mx_fft_ifft(mx_array *a, const int *n, int axis, int norm, mx_stream s) {
  return fft_1d("ifft", a, n, axis, false, true, norm, s);
}
mx_array *mx_fft_rfft(mx_array *a, const int *n, int axis, int norm, mx_stream s) {
  return fft_1d("rfft", a, n, axis, true, false, norm, s);
}
mx_array *mx_fft_irfft(mx_array *a, const int *n, int axis, int norm, mx_stream s) {
  return fft_1d("irfft", a, n, axis, true, true, norm, s);
}

/* ---- multi-dimensional ---- */

static mx_array *fft_nd(const char *name, mx_array *a, const int *sz, int n_s, const int *axes,
                        int n_axes, bool real, bool inverse, int norm, mx_stream s) {
  if (!a) return NULL;
  if (n_axes < 0 && n_s >= 0)
    return mx_fail(MX_EINVAL, "[%s] `axes` should not be `None` if `s` is not `None`.", name);
  if (n_s >= 0 && n_s != n_axes)
    return mx_fail(MX_EINVAL, "[%s] Shape and axes have different sizes.", name);
  int k = n_axes < 0 ? a->ndim : n_axes;
  int *mem = malloc((size_t)(2 * k + 1) * sizeof(int));
  if (!mem) return mx_fail(MX_ENOMEM, "[%s] out of memory.", name);
  int *ax = mem, *n = mem + k;
  for (int i = 0; i < k; i++) ax[i] = n_axes < 0 ? i : axes[i];
  mx_array *r = NULL;
  for (int i = 0; i < k; i++) {
    if (n_s >= 0) {
      n[i] = sz[i];
      continue;
    }
    if (ax[i] < -a->ndim || ax[i] >= a->ndim) {
      mx_fail(MX_EINDEX, "[%s] Invalid axis %d for array with %d dimensions.", name, ax[i],
              a->ndim);
      goto done;
    }
    n[i] = a->shape[ax[i] < 0 ? ax[i] + a->ndim : ax[i]];
    if (real && inverse && i == k - 1) n[i] = 2 * (n[i] - 1);
  }
  r = fft_impl(name, a, n, ax, k, real, inverse, norm, s);
done:
  free(mem);
  return r;
}

#define FFT_ND_DEF(name, real, inverse)                                                     \
  mx_array *mx_fft_##name(mx_array *a, const int *sz, int n_s, const int *axes, int n_axes, \
                          int norm, mx_stream s) {                                          \
    return fft_nd(#name, a, sz, n_s, axes, n_axes, real, inverse, norm, s);                 \
  }
FFT_ND_DEF(fft2, false, false)
FFT_ND_DEF(ifft2, false, true)
FFT_ND_DEF(rfft2, true, false)
FFT_ND_DEF(irfft2, true, true)
FFT_ND_DEF(fftn, false, false)
FFT_ND_DEF(ifftn, false, true)
FFT_ND_DEF(rfftn, true, false)
FFT_ND_DEF(irfftn, true, true)

/* ---- frequencies ---- */

static mx_array *freqs(const char *name, int n, double d, bool half, mx_stream s) {
  if (n <= 0) return mx_fail(MX_EINVAL, "[%s] `n` must be greater than 0.", name);
  if (d == 0) return mx_fail(MX_EINVAL, "[%s] `d` must be non-zero.", name);
  MX_SCOPE_BEGIN;
  mx_array *k;
  if (half) {
    k = mx_arange(0, (double)(n / 2 + 1), 1, MX_FLOAT32, s);
  } else {
    /* 0, 1, ..., (n - 1) // 2, then -(n // 2), ..., -1 */
    mx_array *pos = mx_arange(0, (double)((n - 1) / 2 + 1), 1, MX_FLOAT32, s);
    mx_array *neg = mx_arange(-(double)(n / 2), 0, 1, MX_FLOAT32, s);
    mx_array *parts[2] = {pos, neg};
    int axis = 0;
    k = neg && neg->size ? mx_concatenate(parts, 2, &axis, s) : pos;
  }
  mx_array *r = k ? mx_divide(k, mx_scalar_like((double)n * d, k), s) : NULL;
  MX_SCOPE_RETURN(r);
}

mx_array *mx_fft_fftfreq(int n, double d, mx_stream s) { return freqs("fftfreq", n, d, false, s); }
mx_array *mx_fft_rfftfreq(int n, double d, mx_stream s) { return freqs("rfftfreq", n, d, true, s); }

/* ---- shifts ---- */

static mx_array *shift(const char *name, mx_array *a, const int *axes, int naxes, bool inv,
                       mx_stream s) {
  if (!a) return NULL;
  int k = naxes < 0 ? a->ndim : naxes;
  if (k == 0) {
    mx_array_retain(a);
    return mx_scope_adopt(a);
  }
  int *mem = malloc((size_t)k * 2 * sizeof(int));
  if (!mem) return mx_fail(MX_ENOMEM, "[%s] out of memory.", name);
  int *ax = mem, *sh = mem + k;
  mx_array *r = NULL;
  for (int i = 0; i < k; i++) {
    ax[i] = naxes < 0 ? i : axes[i];
    int d = ax[i] < 0 ? ax[i] + a->ndim : ax[i];
    if (d < 0 || d >= a->ndim) {
      mx_fail(MX_EINDEX, "[%s] Invalid axis %d for array with %d dimensions.", name, ax[i],
              a->ndim);
      goto done;
    }
    sh[i] = inv ? -(a->shape[d] / 2) : a->shape[d] / 2;
  }
  r = mx_roll(a, sh, k, false, ax, k, false, s);
done:
  free(mem);
  return r;
}

mx_array *mx_fft_fftshift(mx_array *a, const int *axes, int naxes, mx_stream s) {
  return shift("fftshift", a, axes, naxes, false, s);
}
mx_array *mx_fft_ifftshift(mx_array *a, const int *axes, int naxes, mx_stream s) {
  return shift("ifftshift", a, axes, naxes, true, s);
}
