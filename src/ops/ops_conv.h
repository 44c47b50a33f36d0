/* ops_conv.h: op constructors of the convolution family (declarations only; included by
 * ops.h, whose ownership and error rules apply). Layouts are channels-last as MLX's:
 * input (N, *spatial, C_in), weight (C_out, *kernel, C_in / groups), output
 * (N, *spatial_out, C_out). Messages are MLX's ("[conv] ..."). */
#ifndef MX_OPS_CONV_H
#define MX_OPS_CONV_H

/* N-d convolution with strides, (lo, hi) padding (negative: the input is cropped), kernel
 * and input dilation, groups and an optional kernel flip. Each list holds one entry per
 * spatial dim, or one entry (used for every dim), or none (the default). The result dtype
 * is the promotion of the two dtypes; the input must be a floating type. */
mx_array *mx_conv_general(mx_array *in, mx_array *wt, const int *stride, int nstride,
                          const int *pad_lo, int nlo, const int *pad_hi, int nhi,
                          const int *kernel_dilation, int nkd, const int *input_dilation,
                          int nid, int groups, bool flip, mx_stream s);
/* conv1d/2d/3d: nd entries in stride, padding (both sides) and dilation. */
mx_array *mx_conv_nd(mx_array *in, mx_array *wt, int nd, const int *stride, const int *padding,
                     const int *dilation, int groups, mx_stream s);
mx_array *mx_conv1d(mx_array *in, mx_array *wt, int stride, int padding, int dilation, int groups,
                    mx_stream s);
/* Transposed convolutions (MLX's formulation: input dilation by the stride, padding
 * dilated_kernel - 1 - padding (+ output_padding on the high side), flipped weights). */
mx_array *mx_conv_transpose_nd(mx_array *in, mx_array *wt, int nd, const int *stride,
                               const int *padding, const int *dilation,
                               const int *output_padding, int groups, mx_stream s);
mx_array *mx_conv_transpose1d(mx_array *in, mx_array *wt, int stride, int padding, int dilation,
                              int output_padding, int groups, mx_stream s);
/* The Python forms of conv2d/3d and conv_transpose2d/3d: each argument an int (*_scalar,
 * one entry, used for every dim) or a sequence of nd ints; other lengths are a TypeError
 * naming `name`. output_padding NULL for the forward convolutions. */
mx_array *mx_conv_nd_py(const char *name, int nd, mx_array *in, mx_array *wt, const int *stride,
                        int nstride, bool stride_scalar, const int *padding, int npadding,
                        bool padding_scalar, const int *dilation, int ndilation,
                        bool dilation_scalar, const int *output_padding, int noutput_padding,
                        bool output_padding_scalar, int groups, mx_stream s);
/* 1-D discrete convolution of a and v (the longer one slides), mode "full", "same" or
 * "valid", as numpy.convolve. */
mx_array *mx_convolve(mx_array *a, mx_array *v, const char *mode, mx_stream s);

/* The Convolution primitive applied with fully specified parameters (one entry per spatial
 * dim, any padding sign): no MLX argument checks, inputs cast to a common dtype. For rules. */
mx_array *mx_conv_apply(mx_array *in, mx_array *wt, const mx_p_convolution *p, mx_stream s);
/* The ConvolutionWeight primitive: the cotangent of the weights (C_out, *kernel, C_in/groups)
 * of mx_conv_apply(in, w, p) given the output's cotangent cot (kernel: w's spatial shape). */
mx_array *mx_conv_weight_apply(mx_array *in, mx_array *cot, const mx_p_convolution *p,
                               const int32_t *kernel, mx_stream s);

#endif
