/* sort_net.h: short rows of unsigned keys sorted by a bitonic network on vector registers
 * (AVX-512 or AVX2, chosen at run time). 32-bit and 64-bit keys; ties are identical keys, so the
 * order among them does not matter (sort_radix.c packs an index into 64-bit keys). */
#ifndef MX_CPU_SORT_NET_H
#define MX_CPU_SORT_NET_H

#include <stdbool.h>
#include <stdint.h>

#define MX_SORTNET_MAX 1024 /* longest row the networks take */

/* Sort a[0, n) ascending in place and return true, or return false (n too long, or no
 * vector unit for it) leaving a untouched. */
bool mx_cpu_sortnet_u32(uint32_t *a, int64_t n);
bool mx_cpu_sortnet_u64(uint64_t *a, int64_t n);

#endif
