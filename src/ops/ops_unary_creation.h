/* ops_unary_creation.h: op constructors of the unary math and creation family (declarations only; included by ops.h,
 * whose ownership and error rules apply). */
#ifndef MX_OPS_UNARY_CREATION_H
#define MX_OPS_UNARY_CREATION_H

#endif
