/* ops_products_ext.h: op constructors of einsum and the structured products (gather_mm, block_masked_mm, segmented_mm, hadamard_transform)
 * (declarations only; included by ops.h, whose ownership and error rules apply). */
#ifndef MX_OPS_PRODUCTS_EXT_H
#define MX_OPS_PRODUCTS_EXT_H

#endif
