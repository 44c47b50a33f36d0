/* ops_indexing_sort.h: op constructors of the indexing, gather/scatter and sorting family
 * (declarations only; included by ops.h, whose ownership and error rules apply).
 * Index arrays may have any integer dtype; negative indices wrap once. Out-of-range indices
 * never touch memory outside a buffer: gathers and dynamic slices clamp into range, scatters
 * drop the update (spec/semantics.md section 4 leaves them undefined). */
#ifndef MX_OPS_INDEXING_SORT_H
#define MX_OPS_INDEXING_SORT_H

#include "../core/param_enums.h"

/* Scatter reductions: -1 assigns, otherwise an mx_reduce_kind (core/param_enums.h). */
#define MX_SCATTER_NONE (-1)

/* ---- gather / scatter (src/ops/gather_scatter.c) ---- */
/* out[i..., w...] = a[idx_0[i], ..., w...] with indices[j] indexing axes[j]; the index arrays
 * broadcast together; slice_sizes has a->ndim entries. Output idx.shape + slice_sizes. */
mx_array *mx_gather(mx_array *a, mx_array *const *indices, int n_idx, const int *axes,
                    int n_axes, const int32_t *slice_sizes, int n_sizes, mx_stream s);
/* updates: idx.shape + a window of a->ndim dims, cast to a's dtype. reduce as above. */
mx_array *mx_scatter_reduce(int reduce, mx_array *a, mx_array *const *indices, int n_idx,
                            mx_array *updates, const int *axes, int n_axes, mx_stream s);
mx_array *mx_scatter(mx_array *a, mx_array *const *indices, int n_idx, mx_array *updates,
                     const int *axes, int n_axes, mx_stream s);
mx_array *mx_scatter_add(mx_array *a, mx_array *const *indices, int n_idx, mx_array *updates,
                         const int *axes, int n_axes, mx_stream s);
mx_array *mx_scatter_prod(mx_array *a, mx_array *const *indices, int n_idx, mx_array *updates,
                          const int *axes, int n_axes, mx_stream s);
mx_array *mx_scatter_max(mx_array *a, mx_array *const *indices, int n_idx, mx_array *updates,
                         const int *axes, int n_axes, mx_stream s);
mx_array *mx_scatter_min(mx_array *a, mx_array *const *indices, int n_idx, mx_array *updates,
                         const int *axes, int n_axes, mx_stream s);

/* ---- take, along-axis ops, masked scatter (src/ops/take.c) ---- */
mx_array *mx_take(mx_array *a, mx_array *indices, mx_stream s);            /* flattened */
mx_array *mx_take_axis(mx_array *a, mx_array *indices, int axis, mx_stream s);
mx_array *mx_take_along_axis(mx_array *a, mx_array *indices, int axis, mx_stream s);
mx_array *mx_put_along_axis(mx_array *a, mx_array *indices, mx_array *values, int axis,
                            mx_stream s);
mx_array *mx_scatter_add_axis(mx_array *a, mx_array *indices, mx_array *values, int axis,
                              mx_stream s);
/* Python bindings of `axis: int | None`: axis_n < 0 means None (the flattened array). */
mx_array *mx_take_opt(mx_array *a, mx_array *indices, const int *axis, int axis_n, mx_stream s);
mx_array *mx_take_along_axis_opt(mx_array *a, mx_array *indices, const int *axis, int axis_n,
                                 mx_stream s);
mx_array *mx_put_along_axis_opt(mx_array *a, mx_array *indices, mx_array *values,
                                const int *axis, int axis_n, mx_stream s);
/* The True positions of mask (broadcast to a's shape, row-major) take src's elements in
 * order; the kernel raises if src has fewer elements than there are True positions. */
mx_array *mx_masked_scatter(mx_array *a, mx_array *mask, mx_array *src, mx_stream s);

/* ---- dynamic slices and slice updates with a reduction (src/ops/slice_dynamic.c) ---- */
/* start: integer array of 0 or 1 dims, one entry per axis; slice_size has a->ndim entries.
 * Each start wraps once if negative and is clamped so the window lies inside a. */
mx_array *mx_slice_dynamic(mx_array *a, mx_array *start, const int *axes, int n_axes,
                           const int32_t *slice_size, int n_sizes, mx_stream s);
/* The window is update's shape, left-padded with 1s to src's rank. */
mx_array *mx_slice_update_dynamic(mx_array *src, mx_array *update, mx_array *start,
                                  const int *axes, int n_axes, mx_stream s);
/* src with the region start:stop:strides combined with update (cast and broadcast). */
mx_array *mx_slice_update_add(mx_array *src, mx_array *update, const int32_t *start,
                              const int32_t *stop, const int32_t *strides, mx_stream s);
mx_array *mx_slice_update_prod(mx_array *src, mx_array *update, const int32_t *start,
                               const int32_t *stop, const int32_t *strides, mx_stream s);
mx_array *mx_slice_update_max(mx_array *src, mx_array *update, const int32_t *start,
                              const int32_t *stop, const int32_t *strides, mx_stream s);
mx_array *mx_slice_update_min(mx_array *src, mx_array *update, const int32_t *start,
                              const int32_t *stop, const int32_t *strides, mx_stream s);

/* C API forms of the static slice ops: explicit lengths (each must equal the rank), start and
 * stop normalised as Python slices (negative counts from the end, out-of-range clamps).
 * reduce: MX_SCATTER_NONE assigns, else MX_REDUCE_SUM/PROD/MAX/MIN. */
mx_array *mx_slice_static(mx_array *a, const int32_t *start, int n_start, const int32_t *stop,
                          int n_stop, const int32_t *strides, int n_strides, mx_stream s);
mx_array *mx_slice_update_static(int reduce, mx_array *src, mx_array *update,
                                 const int32_t *start, int n_start, const int32_t *stop,
                                 int n_stop, const int32_t *strides, int n_strides, mx_stream s);

/* ---- sorting and selection (src/ops/sort.c); plain forms work on the flattened array ---- */
mx_array *mx_sort(mx_array *a, mx_stream s);
mx_array *mx_sort_axis(mx_array *a, int axis, mx_stream s);
mx_array *mx_argsort(mx_array *a, mx_stream s);
mx_array *mx_argsort_axis(mx_array *a, int axis, mx_stream s);
mx_array *mx_partition(mx_array *a, int kth, mx_stream s);
mx_array *mx_partition_axis(mx_array *a, int kth, int axis, mx_stream s);
mx_array *mx_argpartition(mx_array *a, int kth, mx_stream s);
mx_array *mx_argpartition_axis(mx_array *a, int kth, int axis, mx_stream s);
mx_array *mx_topk(mx_array *a, int k, mx_stream s);
mx_array *mx_topk_axis(mx_array *a, int k, int axis, mx_stream s);
/* `axis: int | None` forms for the bindings (axis_n < 0: flattened). */
mx_array *mx_sort_opt(mx_array *a, const int *axis, int axis_n, mx_stream s);
mx_array *mx_argsort_opt(mx_array *a, const int *axis, int axis_n, mx_stream s);
mx_array *mx_partition_opt(mx_array *a, int kth, const int *axis, int axis_n, mx_stream s);
mx_array *mx_argpartition_opt(mx_array *a, int kth, const int *axis, int axis_n, mx_stream s);
mx_array *mx_topk_opt(mx_array *a, int k, const int *axis, int axis_n, mx_stream s);

/* Insertion points (uint32) of values into the 1-d sorted a (both promoted to one dtype):
 * the first position whose entry is not less than (right: greater than) the value. */
mx_array *mx_searchsorted(mx_array *a, mx_array *values, bool right, mx_stream s);

/* ---- triangles (src/ops/triangle.c); diagonal and diag are section D's ---- */
mx_array *mx_tril(mx_array *x, int k, mx_stream s);
mx_array *mx_triu(mx_array *x, int k, mx_stream s);

/* ---- helpers shared with the rules ---- */
/* int32 0, 1, ..., n-1 laid along dim `axis` of an ndim-dim shape of 1s (a constant). */
mx_array *mx_index_iota(int32_t n, int ndim, int axis);

#endif
