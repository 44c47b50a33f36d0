/* ops_conv.h: op constructors of the convolution family (declarations only; included by
 * ops.h, whose ownership and error rules apply). */
#ifndef MX_OPS_CONV_H
#define MX_OPS_CONV_H

#endif
