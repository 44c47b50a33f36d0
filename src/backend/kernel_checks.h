/* kernel_checks.h: the argument checks a CPU kernel and its CUDA twin share (C and CUDA
 * C++). Each returns 0, or -1 with the error set. */
#ifndef MX_KERNEL_CHECKS_H
#define MX_KERNEL_CHECKS_H

#ifdef __cplusplus
extern "C" {
#endif
#include "dtype.h"
#include "error.h"
#include "kernel.h"
#include "prims_gen.h"
#ifdef __cplusplus
}
#endif

/* FFT: one input, one output, the dtypes of the transform's direction, valid axes. */
static inline int mx_check_fft(const mx_p_fft *p, const mx_tensor *in, int n_in,
                               const mx_tensor *out, int n_out) {
  if (n_in != 1 || n_out != 1 || !p || p->axes.n < 1)
    return mx_fail_int(MX_EINVAL, "[fft] Expected 1 input, 1 output and axes.");
  mx_dtype want_in = p->real && !p->inverse ? MX_FLOAT32 : MX_COMPLEX64;
  mx_dtype want_out = p->real && p->inverse ? MX_FLOAT32 : MX_COMPLEX64;
  if (in->dtype != want_in || out->dtype != want_out || in->ndim != out->ndim)
    return mx_fail_int(MX_ETYPE, "[fft] Not supported for %s -> %s.", mx_dtype_name(in->dtype),
                       mx_dtype_name(out->dtype));
  for (int i = 0; i < p->axes.n; i++)
    if (p->axes.v[i] < 0 || p->axes.v[i] >= in->ndim)
      return mx_fail_int(MX_EINVAL, "[fft] Invalid axis %d for an array with %d dimensions.",
                         p->axes.v[i], in->ndim);
  return 0;
}

/* GatherMM: a (Ba, M, K), b (Bb, K, N) and two index arrays, floating operands of the
 * output dtype. */
static inline int mx_check_gather_mm(const mx_tensor *in, int n_in, const mx_tensor *out,
                                     int n_out) {
  if (n_in != 4 || n_out != 1)
    return mx_fail_int(MX_EINVAL, "[gather_mm] Expected 4 inputs and 1 output.");
  mx_dtype t = out->dtype;
  if (in[0].ndim != 3 || in[1].ndim != 3 || in[0].dtype != t || in[1].dtype != t)
    return mx_fail_int(MX_EINVAL, "[gather_mm] Expected 3-D operands of the output dtype.");
  if (t != MX_FLOAT32 && t != MX_FLOAT64 && t != MX_FLOAT16 && t != MX_BFLOAT16)
    return mx_fail_int(MX_ETYPE, "[gather_mm] Unsupported dtype %s.", mx_dtype_name(t));
  return 0;
}

#endif
