/* ops_quantized.h: op constructors of quantize/dequantize and the quantized matrix products
 * (declarations only; included by ops.h, whose ownership and error rules apply). */
#ifndef MX_OPS_QUANTIZED_H
#define MX_OPS_QUANTIZED_H

#endif
