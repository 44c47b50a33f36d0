/* ops_linalg.h: op constructors of mx.linalg (decompositions through LAPACKE, norms, solves)
 * (declarations only; included by ops.h, whose ownership and error rules apply). */
#ifndef MX_OPS_LINALG_H
#define MX_OPS_LINALG_H

#endif
