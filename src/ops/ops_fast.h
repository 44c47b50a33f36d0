/* ops_fast.h: op constructors of mx.fast (fused normalization, rotary embedding, attention)
 * (declarations only; included by ops.h, whose ownership and error rules apply). */
#ifndef MX_OPS_FAST_H
#define MX_OPS_FAST_H

#endif
