/* ops_products_ext.h: op constructors of einsum and the structured products (gather_mm, block_masked_mm, segmented_mm, hadamard_transform)
 * (declarations only; included by ops.h, whose ownership and error rules apply). */
#ifndef MX_OPS_PRODUCTS_EXT_H
#define MX_OPS_PRODUCTS_EXT_H

/* ---- einsum (src/ops/einsum.c, einsum_path.c) ---- */
/* Einstein summation over n operands (MLX's parsing, greedy path and contractions). */
mx_array *mx_einsum(const char *subscripts, mx_array *const *operands, int n, mx_stream s);
/* The contraction path: *path (malloc'd) holds, per step, the count of operands it takes
 * followed by their positions in the running operand list; *path_len steps; *description
 * (malloc'd) the text einsum_path prints. 0, or -1 + error. */
int mx_einsum_path(const char *subscripts, mx_array *const *operands, int n, int **path,
                   int *path_len, char **description);

/* ---- structured products (src/ops/products_ext.c) ---- */
/* (..., M, K) x (..., K, N) matrices picked from a's and b's flattened batches by the index
 * arrays (NULL: every matrix in order); the indices broadcast to the result's batch shape. */
mx_array *mx_gather_mm(mx_array *a, mx_array *b, mx_array *lhs_indices, mx_array *rhs_indices,
                       bool sorted_indices, mx_stream s);
/* matmul with (block_size x block_size)-block masks on the output, a and b (any may be NULL;
 * bool masks select, numeric masks scale). */
mx_array *mx_block_masked_mm(mx_array *a, mx_array *b, int block_size, mx_array *mask_out,
                             mx_array *mask_lhs, mx_array *mask_rhs, mx_stream s);
/* (M, K) x (K, N) over the K range [start, end) of each row of segments (..., 2). */
mx_array *mx_segmented_mm(mx_array *a, mx_array *b, mx_array *segments, mx_stream s);
/* Walsh-Hadamard transform of the last axis (n = m * 2^k, m in 1, 12, 20, 28), times scale
 * (1/sqrt(n) unless has_scale). */
mx_array *mx_hadamard_transform(mx_array *a, double scale, bool has_scale, mx_stream s);
/* The Hadamard primitive on a floating array with the factor m (1, 12, 20, 28) already
 * checked; transpose applies the transposed m x m factor (the rules use it). */
mx_array *mx_hadamard_prim(mx_array *a, double scale, int m, bool transpose, mx_stream s);

#endif
