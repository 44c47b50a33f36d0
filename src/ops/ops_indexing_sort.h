/* ops_indexing_sort.h: op constructors of the indexing, gather/scatter, sorting family (declarations only; included by ops.h,
 * whose ownership and error rules apply). */
#ifndef MX_OPS_INDEXING_SORT_H
#define MX_OPS_INDEXING_SORT_H

#endif
