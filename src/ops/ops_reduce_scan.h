/* ops_reduce_scan.h: op constructors of the reductions and scans family (declarations only; included by ops.h,
 * whose ownership and error rules apply). */
#ifndef MX_OPS_REDUCE_SCAN_H
#define MX_OPS_REDUCE_SCAN_H

#endif
