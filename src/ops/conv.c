/* conv.c: the convolution ops (spec/python-api.md section 11, channels-last as MLX):
 * conv_general (argument checks with MLX's messages, negative padding as a crop, then the
 * Convolution primitive), conv1d/2d/3d, conv_transpose1d/2d/3d (input dilation + flipped
 * weights, as MLX), convolve, and the Python int-or-tuple forms. Depends on ops.h. */
#include "ops.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/error.h"

#define CONV_MAX_SPATIAL 3 /* MLX's limit for the public ops */
#define CONV_STR 256

/* "(1,2)" as MLX prints vectors and shapes (truncated with "..." past cap). */
static void conv_str(char *buf, size_t cap, int n, const int32_t *v) {
  size_t len = (size_t)snprintf(buf, cap, "(");
  for (int i = 0; i < n && len < cap; i++) {
    if (len + 16 >= cap) {
      snprintf(buf + len, cap - len, "...");
      return;
    }
    len += (size_t)snprintf(buf + len, cap - len, i ? ",%d" : "%d", (int)v[i]);
  }
  if (len < cap) snprintf(buf + len, cap - len, ")");
}

/* MLX's vector broadcast: 0 entries -> nsp copies of dflt, 1 entry -> nsp copies of it,
 * else the entries as given. Writes up to `cap` values; returns the resulting length. */
static int conv_expand(const int *v, int n, int dflt, int nsp, int32_t *out, int cap) {
  if (n <= 1) {
    for (int i = 0; i < nsp; i++) out[i] = n ? v[0] : dflt;
    return nsp;
  }
  for (int i = 0; i < n && i < cap; i++) out[i] = v[i];
  return n;
}

/* Prints the broadcast form of a list argument (see conv_expand). */
static void conv_arg_str(char *buf, size_t cap, const int *v, int n, int dflt, int nsp) {
  if (n > 1) {
    int32_t tmp[64];
    int m = n < 64 ? n : 64;
    for (int i = 0; i < m; i++) tmp[i] = v[i];
    conv_str(buf, cap, m, tmp);
    return;
  }
  int32_t tmp[CONV_MAX_SPATIAL];
  conv_expand(v, n, dflt, nsp, tmp, CONV_MAX_SPATIAL);
  conv_str(buf, cap, nsp, tmp);
}

/* Output size along one spatial dim by MLX's formula (C division, so a window reaching
 * past the padded input by less than a stride still counts). May be <= 0. */
static int64_t conv_axis_size(int64_t len, int64_t k, int64_t stride, int64_t lo, int64_t hi,
                              int64_t kdil, int64_t idil) {
  int64_t in_d = 1 + idil * (len - 1), k_d = 1 + kdil * (k - 1);
  return (in_d + lo + hi - k_d) / stride + 1;
}

mx_array *mx_conv_apply(mx_array *in, mx_array *wt, const mx_p_convolution *p, mx_stream s) {
  if (!in || !wt || !p) return NULL;
  int nd = in->ndim, nsp = nd - 2;
  if (nsp < 0 || wt->ndim != nd || p->strides.n != nsp || p->padding_lo.n != nsp ||
      p->padding_hi.n != nsp || p->kernel_dilation.n != nsp || p->input_dilation.n != nsp ||
      p->groups < 1)
    return mx_fail(MX_EINVAL, "[conv] Inconsistent convolution parameters for %d-d inputs.", nd);
  for (int d = 0; d < nsp; d++)
    if (p->strides.v[d] < 1 || p->kernel_dilation.v[d] < 1 || p->input_dilation.v[d] < 1)
      return mx_fail(MX_EINVAL, "[conv] Strides and dilations must be positive.");
  int32_t *shape = malloc((size_t)nd * sizeof(int32_t));
  if (!shape) return mx_fail(MX_ENOMEM, "[conv] out of memory.");
  mx_array *r = NULL;
  shape[0] = in->shape[0];
  shape[nd - 1] = wt->shape[0];
  for (int d = 0; d < nsp; d++) {
    int64_t o = conv_axis_size(in->shape[1 + d], wt->shape[1 + d], p->strides.v[d],
                               p->padding_lo.v[d], p->padding_hi.v[d], p->kernel_dilation.v[d],
                               p->input_dilation.v[d]);
    if (o > INT32_MAX) {
      free(shape);
      return mx_fail(MX_EINVAL, "[conv] The output is too large along spatial axis %d.", d + 1);
    }
    shape[1 + d] = o > 0 ? (int32_t)o : 0;
  }
  mx_dtype t = mx_promote_types(in->dtype, wt->dtype);
  MX_SCOPE_BEGIN;
  if (mx_shape_size("conv", nd, shape) >= 0) {
    mx_array *x[2] = {mx_astype(in, t, s), mx_astype(wt, t, s)};
    r = mx_op_make1(MX_PRIM_CONVOLUTION, p, s, 2, x, t, nd, shape);
  }
  free(shape);
  MX_SCOPE_RETURN(r);
}

mx_array *mx_conv_weight_apply(mx_array *in, mx_array *cot, const mx_p_convolution *p,
                               const int32_t *kernel, mx_stream s) {
  if (!in || !cot || !p || !kernel) return NULL;
  int nd = in->ndim, nsp = nd - 2;
  if (nsp < 0 || cot->ndim != nd || p->strides.n != nsp || p->padding_lo.n != nsp ||
      p->padding_hi.n != nsp || p->kernel_dilation.n != nsp || p->input_dilation.n != nsp ||
      p->groups < 1 || in->shape[0] != cot->shape[0] || in->shape[nd - 1] % p->groups != 0 ||
      cot->shape[nd - 1] % p->groups != 0)
    return mx_fail(MX_EINVAL, "[conv] Inconsistent convolution weight-gradient arguments.");
  for (int d = 0; d < nsp; d++) {
    if (p->strides.v[d] < 1 || p->kernel_dilation.v[d] < 1 || p->input_dilation.v[d] < 1 ||
        kernel[d] < 0)
      return mx_fail(MX_EINVAL, "[conv] Strides and dilations must be positive.");
    int64_t o = conv_axis_size(in->shape[1 + d], kernel[d], p->strides.v[d], p->padding_lo.v[d],
                               p->padding_hi.v[d], p->kernel_dilation.v[d],
                               p->input_dilation.v[d]);
    if ((o > 0 ? o : 0) != cot->shape[1 + d])
      return mx_fail(MX_EINVAL, "[conv] The cotangent does not match the convolution's output.");
  }
  int32_t *shape = malloc((size_t)nd * sizeof(int32_t));
  if (!shape) return mx_fail(MX_ENOMEM, "[conv] out of memory.");
  shape[0] = cot->shape[nd - 1];
  memcpy(shape + 1, kernel, (size_t)nsp * sizeof(int32_t));
  shape[nd - 1] = in->shape[nd - 1] / p->groups;
  mx_dtype t = mx_promote_types(in->dtype, cot->dtype);
  mx_array *r = NULL;
  MX_SCOPE_BEGIN;
  if (mx_shape_size("conv", nd, shape) >= 0) {
    mx_array *x[2] = {mx_astype(in, t, s), mx_astype(cot, t, s)};
    mx_p_conv_weight w = {p->strides,        p->padding_lo, p->padding_hi, p->kernel_dilation,
                          p->input_dilation, p->groups,     p->flip,       {nsp, kernel}};
    r = mx_op_make1(MX_PRIM_CONV_WEIGHT, &w, s, 2, x, t, nd, shape);
  }
  free(shape);
  MX_SCOPE_RETURN(r);
}

/* MLX's run_conv_checks (plus a positive group count, which MLX does not check). */
static int conv_check_arrays(mx_array *in, mx_array *wt, int nsp, int groups) {
  char a[CONV_STR], b[CONV_STR];
  if (!mx_dtype_is_floating(in->dtype))
    return mx_fail_int(MX_EINVAL, "[conv] Invalid input array with type %s. Convolution "
                                  "currently only supports floating point types",
                       mx_dtype_name(in->dtype));
  if (wt->ndim != nsp + 2)
    return mx_fail_int(MX_EINVAL, "[conv] Invalid weight array with %d dimensions for %dD "
                                  "convolution. Expected an array with %d dimensions following "
                                  "the format [C_out, ..., C_in].", wt->ndim, nsp, nsp + 2);
  int64_t cin = in->shape[nsp + 1], wcin = wt->shape[nsp + 1], cout = wt->shape[0];
  conv_str(a, sizeof a, in->ndim, in->shape);
  conv_str(b, sizeof b, wt->ndim, wt->shape);
  if (cin % groups != 0)
    return mx_fail_int(MX_EINVAL, "[conv] The input channels must be divisible by the number "
                                  "of groups. Got input with shape %s and %d groups.", a, groups);
  if (groups > 1 && cout % groups != 0)
    return mx_fail_int(MX_EINVAL, "[conv] If groups > 1, the output channels must be divisible "
                                  "by the number of groups. Got %lld output channels and %d "
                                  "groups.", (long long)cout, groups);
  if (cin != groups * wcin) {
    if (groups == 1)
      return mx_fail_int(MX_EINVAL, "[conv] Expect the input channels in the input and weight "
                                    "array to match but got shapes - input: %s and weight: %s",
                         a, b);
    return mx_fail_int(MX_EINVAL, "Given groups=%d and weights of shape %s, expected to have "
                                  "%lld input channels but got %lld input channels instead.",
                       groups, b, (long long)(groups * wcin), (long long)cin);
  }
  return 0;
}

mx_array *mx_conv_general(mx_array *in, mx_array *wt, const int *stride, int nstride,
                          const int *pad_lo, int nlo, const int *pad_hi, int nhi,
                          const int *kernel_dilation, int nkd, const int *input_dilation,
                          int nid, int groups, bool flip, mx_stream s) {
  if (!in || !wt) return NULL;
  if (groups < 1)
    return mx_fail(MX_EINVAL, "[conv] The number of groups must be a positive integer. Got %d.",
                   groups);
  const char *none = nstride < 0 ? "stride" : nlo < 0 || nhi < 0 ? "padding"
                   : nkd < 0 ? "kernel_dilation" : nid < 0 ? "input_dilation" : NULL;
  if (none)
    return mx_fail(MX_ETYPE, "conv_general(): incompatible function arguments: %s must be an int "
                             "or a sequence of ints, got None.", none);
  int nsp = in->ndim - 2;
  if (nsp < 1 || nsp > CONV_MAX_SPATIAL)
    return mx_fail(MX_EINVAL, "[conv] Only works for inputs with 1-3 spatial dimensions. The "
                              "inputs must be in the format [N, ..., C_in]");
  if (conv_check_arrays(in, wt, nsp, groups) < 0) return NULL;
  int32_t st[CONV_MAX_SPATIAL], lo[CONV_MAX_SPATIAL], hi[CONV_MAX_SPATIAL];
  int32_t kd[CONV_MAX_SPATIAL], id[CONV_MAX_SPATIAL];
  char a[CONV_STR], b[CONV_STR], c[CONV_STR];
  if (conv_expand(stride, nstride, 1, nsp, st, nsp) != nsp) {
    conv_arg_str(a, sizeof a, stride, nstride, 1, nsp);
    return mx_fail(MX_EINVAL, "[conv] Invalid strides %s for %dD convolution.", a, nsp);
  }
  if (conv_expand(pad_lo, nlo, 0, nsp, lo, nsp) != nsp ||
      conv_expand(pad_hi, nhi, 0, nsp, hi, nsp) != nsp) {
    conv_arg_str(a, sizeof a, pad_lo, nlo, 0, nsp);
    conv_arg_str(b, sizeof b, pad_hi, nhi, 0, nsp);
    return mx_fail(MX_EINVAL, "[conv] Invalid padding %s | %s for %dD convolution.", a, b, nsp);
  }
  if (conv_expand(kernel_dilation, nkd, 1, nsp, kd, nsp) != nsp) {
    conv_arg_str(a, sizeof a, kernel_dilation, nkd, 1, nsp);
    return mx_fail(MX_EINVAL, "[conv] Invalid kernel dilation %s for %dD convolution.", a, nsp);
  }
  if (conv_expand(input_dilation, nid, 1, nsp, id, nsp) != nsp) {
    conv_arg_str(a, sizeof a, input_dilation, nid, 1, nsp);
    return mx_fail(MX_EINVAL, "[conv] Invalid input dilation %s for %dD convolution.", a, nsp);
  }
  mx_array *r = NULL;
  MX_SCOPE_BEGIN;
  mx_dtype t = mx_promote_types(in->dtype, wt->dtype);
  mx_array *x = mx_astype(in, t, s), *w = mx_astype(wt, t, s);
  /* Negative padding crops the input, with MLX's slice normalisation of the stop. */
  bool crop = false;
  for (int d = 0; d < nsp; d++) crop |= lo[d] < 0 || hi[d] < 0;
  if (x && crop) {
    int nd = x->ndim;
    int32_t start[CONV_MAX_SPATIAL + 2], stop[CONV_MAX_SPATIAL + 2], step[CONV_MAX_SPATIAL + 2];
    for (int i = 0; i < nd; i++) start[i] = 0, stop[i] = x->shape[i], step[i] = 1;
    for (int d = 0; d < nsp; d++) {
      int64_t n = x->shape[1 + d], b0 = 0, e0 = n;
      if (lo[d] < 0) b0 = -(int64_t)lo[d], lo[d] = 0;
      if (hi[d] < 0) {
        e0 = n + hi[d];
        if (e0 < 0) e0 += n;
        hi[d] = 0;
      }
      b0 = b0 > n ? n : b0;
      e0 = e0 < 0 ? 0 : (e0 > n ? n : e0);
      start[1 + d] = (int32_t)b0;
      stop[1 + d] = (int32_t)(e0 < b0 ? b0 : e0);
    }
    x = mx_slice(x, start, stop, step, s);
  }
  bool ok = x && w;
  for (int d = 0; ok && d < nsp; d++) {
    if (kd[d] <= 0) {
      conv_str(a, sizeof a, nsp, kd);
      mx_fail(MX_EINVAL, "[conv] Kernel dilation sizes must be positive. Got kernel dilation "
                         "%s.", a);
      ok = false;
    } else if (id[d] <= 0) {
      conv_str(a, sizeof a, nsp, id);
      mx_fail(MX_EINVAL, "[conv] Input dilation sizes must be positive. Got input dilation %s.",
              a);
      ok = false;
    } else if (st[d] <= 0) {
      conv_str(a, sizeof a, nsp, st);
      mx_fail(MX_EINVAL, "[conv] Stride sizes must be positive. Got strides %s.", a);
      ok = false;
    } else {
      int64_t o = conv_axis_size(x->shape[1 + d], w->shape[1 + d], st[d], lo[d], hi[d], kd[d],
                                 id[d]);
      if (o <= 0) {
        conv_str(a, sizeof a, x->ndim, x->shape);
        conv_str(b, sizeof b, nsp, lo);
        conv_str(c, sizeof c, nsp, hi);
        char e[CONV_STR];
        conv_str(e, sizeof e, w->ndim, w->shape);
        mx_fail(MX_EINVAL, "[conv] Spatial dimensions of input after padding cannot be smaller "
                           "than weight spatial dimensions. Got error at axis %d for input with "
                           "shape %s, padding low %s, padding high %s, and weight of shape %s.",
                d + 1, a, b, c, e);
        ok = false;
      }
    }
  }
  if (ok) {
    mx_p_convolution p = {{nsp, st}, {nsp, lo}, {nsp, hi}, {nsp, kd}, {nsp, id}, groups, flip};
    r = mx_conv_apply(x, w, &p, s);
  }
  MX_SCOPE_RETURN(r);
}

mx_array *mx_conv_nd(mx_array *in, mx_array *wt, int nd, const int *stride, const int *padding,
                     const int *dilation, int groups, mx_stream s) {
  int ones[CONV_MAX_SPATIAL] = {1, 1, 1};
  return mx_conv_general(in, wt, stride, nd, padding, nd, padding, nd, dilation, nd, ones, nd,
                         groups, false, s);
}

mx_array *mx_conv1d(mx_array *in, mx_array *wt, int stride, int padding, int dilation, int groups,
                    mx_stream s) {
  return mx_conv_nd(in, wt, 1, &stride, &padding, &dilation, groups, s);
}

mx_array *mx_conv_transpose_nd(mx_array *in, mx_array *wt, int nd, const int *stride,
                               const int *padding, const int *dilation,
                               const int *output_padding, int groups, mx_stream s) {
  if (!in || !wt) return NULL;
  int lo[CONV_MAX_SPATIAL] = {0, 0, 0}, hi[CONV_MAX_SPATIAL] = {0, 0, 0};
  int ones[CONV_MAX_SPATIAL] = {1, 1, 1};
  /* With too few dims the padding stays 0 and conv_general reports the shapes. */
  if (in->ndim > nd && wt->ndim > nd) {
    for (int i = 0; i < nd; i++) {
      int64_t kd = 1 + (int64_t)dilation[i] * (wt->shape[1 + i] - 1);
      int64_t l = kd - padding[i] - 1, h = l + output_padding[i];
      if (l < INT32_MIN || l > INT32_MAX || h < INT32_MIN || h > INT32_MAX)
        return mx_fail(MX_EINVAL, "[conv] The transposed convolution's padding is too large.");
      lo[i] = (int)l;
      hi[i] = (int)h;
    }
  }
  return mx_conv_general(in, wt, ones, nd, lo, nd, hi, nd, dilation, nd, stride, nd, groups,
                         true, s);
}

mx_array *mx_conv_transpose1d(mx_array *in, mx_array *wt, int stride, int padding, int dilation,
                              int output_padding, int groups, mx_stream s) {
  return mx_conv_transpose_nd(in, wt, 1, &stride, &padding, &dilation, &output_padding, groups,
                              s);
}

/* One int-or-tuple argument of the Python forms into nd entries. */
static int conv_py_arg(const char *fn, const char *arg, int nd, const int *v, int n,
                       bool scalar, int *out) {
  if (n < 0)
    return mx_fail_int(MX_ETYPE, "%s(): incompatible function arguments: %s must be an int or a "
                                 "tuple of %d ints, got None.", fn, arg, nd);
  if (scalar && n == 1) {
    for (int i = 0; i < nd; i++) out[i] = v[0];
    return 0;
  }
  if (!scalar && n == nd) {
    memcpy(out, v, (size_t)nd * sizeof(int));
    return 0;
  }
  return mx_fail_int(MX_ETYPE, "%s(): incompatible function arguments: %s must be an int or a "
                               "tuple of %d ints, got a sequence of %d.", fn, arg, nd, n);
}

mx_array *mx_conv_nd_py(const char *name, int nd, mx_array *in, mx_array *wt, const int *stride,
                        int nstride, bool stride_scalar, const int *padding, int npadding,
                        bool padding_scalar, const int *dilation, int ndilation,
                        bool dilation_scalar, const int *output_padding, int noutput_padding,
                        bool output_padding_scalar, int groups, mx_stream s) {
  if (!in || !wt) return NULL;
  if (nd < 1 || nd > CONV_MAX_SPATIAL)
    return mx_fail(MX_EINVAL, "[conv] %dD convolutions are not supported.", nd);
  int st[CONV_MAX_SPATIAL], pd[CONV_MAX_SPATIAL], dl[CONV_MAX_SPATIAL], op[CONV_MAX_SPATIAL];
  if (conv_py_arg(name, "stride", nd, stride, nstride, stride_scalar, st) < 0 ||
      conv_py_arg(name, "padding", nd, padding, npadding, padding_scalar, pd) < 0 ||
      conv_py_arg(name, "dilation", nd, dilation, ndilation, dilation_scalar, dl) < 0)
    return NULL;
  if (!output_padding) return mx_conv_nd(in, wt, nd, st, pd, dl, groups, s);
  if (conv_py_arg(name, "output_padding", nd, output_padding, noutput_padding,
                  output_padding_scalar, op) < 0)
    return NULL;
  return mx_conv_transpose_nd(in, wt, nd, st, pd, dl, op, groups, s);
}

mx_array *mx_convolve(mx_array *a, mx_array *v, const char *mode, mx_stream s) {
  if (!a || !v) return NULL;
  if (a->ndim != 1 || v->ndim != 1) return mx_fail(MX_EINVAL, "[convolve] Inputs must be 1D.");
  if (a->size == 0 || v->size == 0)
    return mx_fail(MX_EINVAL, "[convolve] Inputs cannot be empty.");
  mx_array *in = a->size < v->size ? v : a, *wt = a->size < v->size ? a : v;
  int m = wt->shape[0], lo = 0, hi = 0;
  if (strcmp(mode, "full") == 0) {
    lo = hi = m - 1;
  } else if (strcmp(mode, "same") == 0) {
    lo = m / 2;
    hi = m - 1 - lo;
  } else if (strcmp(mode, "valid") != 0) {
    return mx_fail(MX_EINVAL, "[convolve] Invalid mode.");
  }
  mx_array *r = NULL;
  MX_SCOPE_BEGIN;
  int32_t xs[3] = {1, in->shape[0], 1}, ws[3] = {1, m, 1}, flat = -1;
  int zero = 0, one = 1;
  mx_array *x = mx_reshape(in, xs, 3, s);
  mx_array *w = mx_reshape(mx_flip(wt, &zero, 1, s), ws, 3, s);
  r = mx_reshape(mx_conv_general(x, w, &one, 1, &lo, 1, &hi, 1, &one, 1, &one, 1, 1, false, s),
                 &flat, 1, s);
  MX_SCOPE_RETURN(r);
}
