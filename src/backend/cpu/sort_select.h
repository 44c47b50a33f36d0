/* sort_select.h: the first steps of a partition (select the kth smallest) of unsigned 32-bit
 * keys, bare or as the top half of (key, index) pairs, with AVX-512: quickselect whose
 * partitioning passes compress vectors into a scratch buffer, until the range holding kth is
 * short. Keys and pairs with the same keys end in the same order. */
#ifndef MX_CPU_SORT_SELECT_H
#define MX_CPU_SORT_SELECT_H

#include <stdbool.h>
#include <stdint.h>

/* Rearranges a[0, n) (t: n elements of scratch; order by key) so that a[0, *lo) <= a[*lo, *hi) <= a[*hi, n)
 * with *lo <= kth < *hi and *hi - *lo short, and returns true; the caller selects within
 * [*lo, *hi). Returns false (a untouched) without AVX-512. */
bool mx_cpu_select_u32(uint32_t *a, uint32_t *t, int64_t n, int64_t kth, int64_t *lo, int64_t *hi);
/* Pairs: key in the top 32 bits, compared by key alone. */
bool mx_cpu_select_pairs(uint64_t *a, uint64_t *t, int64_t n, int64_t kth, int64_t *lo,
                         int64_t *hi);

#endif
