/* indexing_internal.h: helpers shared by the indexing and sorting op files (private to
 * src/ops; implemented in gather_scatter.c). */
#ifndef MX_INDEXING_INTERNAL_H
#define MX_INDEXING_INTERNAL_H

#include "ops.h"

/* "(2,3,4)" into buf. */
void mx_ix_shape_str(char *buf, size_t cap, int n, const int32_t *s);
/* 0, or -1 + EINVAL unless idx has an integer dtype (bool rejected). */
int mx_ix_check_index_dtype(const char *op, const mx_array *idx);
/* Checks dtypes and broadcasts n index arrays to their common shape: out[i] scope-owned.
 * 0 or -1 with the error set. */
int mx_ix_broadcast_indices(const char *op, mx_array *const *in, int n, mx_array **out,
                            mx_stream s);

#endif
