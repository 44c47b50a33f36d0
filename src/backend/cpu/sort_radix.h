/* sort_radix.h: one row of a sort or partition for every real dtype, on order-preserving
 * unsigned keys: vector sorting networks for short rows (sort_net.h), LSD radix sort above,
 * and for long rows a top-digit pass then cache-sized LSD bucket sorts (over the thread pool);
 * all stable. Quickselect for partitions. Order as MLX: NaN after +inf, -0.0 equal to 0.0,
 * ties in input order. Complex rows are sorted by sort.c's comparison sort. */
#ifndef MX_CPU_SORT_RADIX_H
#define MX_CPU_SORT_RADIX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dtype.h"

/* One row: n elements of dtype t read at src (element stride is); written to dst (element
 * stride os) as values of dtype t, or as uint32 indices when want_index. kth < 0 sorts,
 * else partitions around kth. */
typedef struct mx_sortrow {
  mx_dtype t;
  const char *src;
  int64_t is;
  char *dst;
  int64_t os;
  int64_t n, kth;
  bool want_index;
} mx_sortrow;

/* True for the dtypes this file sorts (every dtype but complex64). */
bool mx_cpu_sortrow_supported(mx_dtype t);
/* Scratch bytes mx_cpu_sortrow needs for a row of n elements of t. */
size_t mx_cpu_sortrow_scratch(mx_dtype t, int64_t n);
/* malloc, or for a large scratch memory aligned and advised for huge pages; free() frees it. */
void *mx_cpu_sortrow_alloc(size_t bytes);
/* Sorts or partitions the row using scratch; parallel: the row may use the thread pool. */
void mx_cpu_sortrow_run(const mx_sortrow *r, void *scratch, bool parallel);

#endif
