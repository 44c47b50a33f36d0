/* ops_binary_logic.h: op constructors of the binary, logical, bitwise, operators family (declarations only; included by ops.h,
 * whose ownership and error rules apply). */
#ifndef MX_OPS_BINARY_LOGIC_H
#define MX_OPS_BINARY_LOGIC_H

#endif
