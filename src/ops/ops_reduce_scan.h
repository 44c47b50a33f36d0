/* ops_reduce_scan.h: op constructors of the reductions and scans family (declarations only; included by ops.h,
 * whose ownership and error rules apply). */
#ifndef MX_OPS_REDUCE_SCAN_H
#define MX_OPS_REDUCE_SCAN_H

#include "../core/reduce_scan_enums.h"

/* ---- axes ----
 * Every `axes, naxes` pair below: naxes < 0 (axes may be NULL) means every axis, naxes == 0
 * no axis. Axes may be negative; out of range -> IndexError "[op] Invalid axis ...",
 * repeated -> ValueError "[op] Duplicate axes detected in reduction.". */
/* Sorted unique normalised axes into out (capacity ndim); returns their count or -1. */
int mx_reduce_axes_normalize(const char *op, const int *axes, int naxes, int ndim, int32_t *out);

/* ---- reductions (spec/python-api.md section 8, result dtypes spec/semantics.md 2.1) ---- */
mx_array *mx_prod(mx_array *a, const int *axes, int naxes, bool keepdims, mx_stream s);
mx_array *mx_max(mx_array *a, const int *axes, int naxes, bool keepdims, mx_stream s);
mx_array *mx_min(mx_array *a, const int *axes, int naxes, bool keepdims, mx_stream s);
mx_array *mx_all(mx_array *a, const int *axes, int naxes, bool keepdims, mx_stream s);
mx_array *mx_any(mx_array *a, const int *axes, int naxes, bool keepdims, mx_stream s);
mx_array *mx_mean(mx_array *a, const int *axes, int naxes, bool keepdims, mx_stream s);
mx_array *mx_var(mx_array *a, const int *axes, int naxes, bool keepdims, int ddof, mx_stream s);
mx_array *mx_std(mx_array *a, const int *axes, int naxes, bool keepdims, int ddof, mx_stream s);
mx_array *mx_logsumexp(mx_array *a, const int *axes, int naxes, bool keepdims, mx_stream s);
/* Median (at_least_float; NaN if a reduction holds one); an empty axis list returns a. */
mx_array *mx_median(mx_array *a, const int *axes, int naxes, bool keepdims, mx_stream s);
/* int32 count of the elements != 0. */
mx_array *mx_count_nonzero(mx_array *a, const int *axes, int naxes, bool keepdims, mx_stream s);
/* The number of elements in the given axes (its reciprocal when inverted) as a 0-d array
 * of dtype t, computed from the shape (mlx-c's number_of_elements). */
mx_array *mx_number_of_elements(mx_array *a, const int *axes, int naxes, bool inverted,
                                mx_dtype t, mx_stream s);

/* ---- arg reductions: uint32 indices. `axis, naxis`: naxis < 0 = the flattened array,
 * naxis == 1 = that axis, anything else is a TypeError. ---- */
mx_array *mx_argmax(mx_array *a, const int *axis, int naxis, bool keepdims, mx_stream s);
mx_array *mx_argmin(mx_array *a, const int *axis, int naxis, bool keepdims, mx_stream s);

/* ---- softmax over axes (precise: float16/bfloat16 computed in float32) ---- */
mx_array *mx_softmax(mx_array *a, const int *axes, int naxes, bool precise, mx_stream s);

/* ---- scans along one axis (`axis, naxis` as the arg reductions: naxis < 0 scans the
 * flattened array) ---- */
/* The Scan primitive of `kind` in a's own dtype (no promotion), axis already normalised.
 * Used by the public scans and by the rules. */
mx_array *mx_scan(mx_array *a, mx_scan_kind kind, int axis, bool reverse, bool inclusive,
                  mx_stream s);
/* dtype_has: a is cast to dtype first (the dtype argument of cumsum/cumprod). */
mx_array *mx_cumsum(mx_array *a, const int *axis, int naxis, bool reverse, bool inclusive,
                    bool dtype_has, mx_dtype dtype, mx_stream s);
mx_array *mx_cumprod(mx_array *a, const int *axis, int naxis, bool reverse, bool inclusive,
                     bool dtype_has, mx_dtype dtype, mx_stream s);
mx_array *mx_cummax(mx_array *a, const int *axis, int naxis, bool reverse, bool inclusive,
                    mx_stream s);
mx_array *mx_cummin(mx_array *a, const int *axis, int naxis, bool reverse, bool inclusive,
                    mx_stream s);
mx_array *mx_logcumsumexp(mx_array *a, const int *axis, int naxis, bool reverse,
                          bool inclusive, mx_stream s);

/* ---- differences ---- */
/* n-th discrete difference along axis (n >= 0; bool differences are not_equal). */
mx_array *mx_diff(mx_array *a, int n, int axis, mx_stream s);

#endif
