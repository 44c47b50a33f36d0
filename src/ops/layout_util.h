/* layout_util.h: helpers private to the shape/layout op files (src/ops/shape_*.c, pad.c,
 * strided.c, diagonal.c, products.c): MLX-worded axis checks, shape printing and small
 * allocation helpers. Depends on ops.h and core/error.h. */
#ifndef MX_LAYOUT_UTIL_H
#define MX_LAYOUT_UTIL_H

#include "ops.h"

#include "../core/error.h"

/* Normalised axis, or -1 + IndexError "[op] Axis a is out of bounds for array with n
 * dimensions." */
int mx_lay_axis(const char *op, int axis, int ndim);
/* "(2,3)" as MLX prints shapes in messages; truncated with "..." past cap. */
void mx_lay_shape_str(char *buf, size_t cap, int n, const int32_t *shape);
/* malloc of n (>= 0) elements, at least one; NULL + ENOMEM "[op] out of memory.". */
int32_t *mx_lay_dims(const char *op, int n);
int *mx_lay_ints(const char *op, int n);

/* Makes an op result that escapes the caller's scope: keeps each element, to be adopted
 * after MX_SCOPE_END by mx_lay_adopt_all. */
void mx_lay_keep_all(mx_array **v, int n);
void mx_lay_adopt_all(mx_array **v, int n);
/* Releases n owned arrays (NULLs allowed). */
void mx_lay_release_all(mx_array **v, int n);

#endif
