/* common.h: portability macros shared by every layer (C11 and the C/CUDA common subset).
 * MX_HD marks functions callable from host and device; MX_ASSERT is for broken invariants
 * (bugs), never for user errors, which go through error.h. */
#ifndef MX_COMMON_H
#define MX_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#if defined(__CUDACC__)
#define MX_HD __host__ __device__
#else
#define MX_HD
#endif

#define MX_LIKELY(x) __builtin_expect(!!(x), 1)
#define MX_UNLIKELY(x) __builtin_expect(!!(x), 0)

#ifndef __CUDACC__
void mx_assert_fail(const char *expr, const char *file, int line);
#define MX_ASSERT(e) ((e) ? (void)0 : mx_assert_fail(#e, __FILE__, __LINE__))
#endif

#define MX_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define MX_INLINE_DIMS 8 /* shapes up to this many dims live inside the node */

#endif
