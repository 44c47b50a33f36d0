/* ops_shape_layout.h: op constructors of the shapes, views, layout, matmul products family (declarations only; included by ops.h,
 * whose ownership and error rules apply). */
#ifndef MX_OPS_SHAPE_LAYOUT_H
#define MX_OPS_SHAPE_LAYOUT_H

/* Functions returning several arrays fill out[0..n) (caller-sized) or, where the count is
 * theirs to choose, malloc *out (the caller frees it after taking or releasing the arrays) and
 * set *n_out. They return 0, or -1 with the error set and nothing left to release. Axes may
 * be negative; out-of-range axes raise IndexError "[op] Axis a is out of bounds for array
 * with n dimensions." as MLX does. */

/* ---- reshaping ---- */
/* Merges axes start..end (clamped to the array; 0-d arrays become (1,)). */
mx_array *mx_flatten(mx_array *a, int start_axis, int end_axis, mx_stream s);
/* Splits one axis into shape (one -1 inferred). */
mx_array *mx_unflatten(mx_array *a, int axis, const int32_t *shape, int n, mx_stream s);
/* Removes size-1 axes: the listed ones, or every one when naxes < 0. */
mx_array *mx_squeeze(mx_array *a, const int *axes, int naxes, mx_stream s);
/* Inserts size-1 axes at the given positions of the output. */
mx_array *mx_expand_dims_axes(mx_array *a, const int *axes, int naxes, mx_stream s);
/* Prepends/appends size-1 axes up to ndim dims (NumPy's atleast_1d/2d/3d placement). */
mx_array *mx_atleast(mx_array *a, int ndim, mx_stream s);
int mx_atleast_list(mx_array *const *in, int n, int ndim, mx_array **out, mx_stream s);
/* Broadcast result of n shapes into *out (malloc'd); returns its ndim or -1. */
int mx_broadcast_shapes_n(const int32_t *const *shapes, const int *ndims, int n, int32_t **out);
int mx_broadcast_arrays(mx_array *const *in, int n, mx_array **out, mx_stream s);
/* Coordinate grids; indexing "xy" or "ij". */
int mx_meshgrid(mx_array *const *in, int n, bool sparse, const char *indexing, mx_array **out,
                mx_stream s);

/* ---- joining and splitting ---- */
/* axis NULL: every input flattened, joined along axis 0. Inputs promote to one dtype. */
mx_array *mx_concatenate(mx_array *const *arrays, int n, const int *axis, mx_stream s);
mx_array *mx_stack(mx_array *const *arrays, int n, int axis, mx_stream s);
int mx_unstack(mx_array *a, int axis, mx_array ***out, int *n_out, mx_stream s);
/* Equal sections (num_splits must divide the axis) or split points. */
int mx_split(mx_array *a, int num_splits, int axis, mx_array ***out, int *n_out, mx_stream s);
int mx_split_sections(mx_array *a, const int *indices, int n, int axis, mx_array ***out,
                      int *n_out, mx_stream s);
/* Python's split: sections when scalar, else split points. */
int mx_split_py(mx_array *a, const int *v, int n, bool scalar, int axis, mx_array ***out,
                int *n_out, mx_stream s);
/* axis NULL: the flattened array. */
mx_array *mx_repeat(mx_array *a, int repeats, const int *axis, mx_stream s);
mx_array *mx_tile(mx_array *a, const int *reps, int n, mx_stream s);
/* naxes < 0: every axis. Views with negative strides, no copy. */
mx_array *mx_flip(mx_array *a, const int *axes, int naxes, mx_stream s);
/* naxes < 0: the flattened array, rolled by the sum of the shifts. An int shift
 * (shift_scalar) applies to every axis; an int axis (axes_scalar) takes the sum of the
 * shifts; otherwise axes pair with the first naxes shifts (fewer shifts: ValueError). */
mx_array *mx_roll(mx_array *a, const int *shift, int nshift, bool shift_scalar, const int *axes,
                  int naxes, bool axes_scalar, mx_stream s);

/* ---- padding: mode "constant", "edge", "reflect" or "symmetric" ---- */
/* naxes axes with nlow and nhigh sizes (the three counts must agree). */
mx_array *mx_pad(mx_array *a, const int *axes, int naxes, const int32_t *low, int nlow,
                 const int32_t *high, int nhigh, mx_array *value, const char *mode, mx_stream s);
/* pairs: n (low, high) pairs, one per axis or a single one for all axes; value NULL: 0. */
mx_array *mx_pad_pairs(mx_array *a, const int32_t *pairs, int n, const char *mode,
                       mx_array *value, mx_stream s);

/* ---- strided views and layout ---- */
/* Over the row-major data of a; nshape < 0: a's shape, nstrides < 0: row-major strides of
 * shape. Every element reached must lie inside a (ValueError otherwise). */
mx_array *mx_as_strided(mx_array *a, const int32_t *shape, int nshape, const int64_t *strides,
                        int nstrides, int64_t offset, mx_stream s);
/* The Python binding's form (int lists, None as n < 0). */
mx_array *mx_as_strided_py(mx_array *a, const int *shape, int nshape, const int *strides,
                           int nstrides, int offset, mx_stream s);
mx_array *mx_contiguous(mx_array *a, bool allow_col_major, mx_stream s);
/* Bit reinterpretation; the last axis rescales by the ratio of the item sizes. */
mx_array *mx_view(mx_array *a, mx_dtype t, mx_stream s);

/* ---- diagonals ---- */
mx_array *mx_diagonal(mx_array *a, int offset, int axis1, int axis2, mx_stream s);
/* 1-D -> matrix with a on diagonal k; 2-D -> its k-th diagonal. */
mx_array *mx_diag(mx_array *a, int k, mx_stream s);
/* has_dtype false: the sum's own result dtype. */
mx_array *mx_trace(mx_array *a, int offset, int axis1, int axis2, bool has_dtype, mx_dtype t,
                   mx_stream s);

/* ---- products ---- */
/* alpha * (a @ b) + beta * c, c broadcast to the product's shape. */
mx_array *mx_addmm(mx_array *c, mx_array *a, mx_array *b, double alpha, double beta,
                   mx_stream s);
mx_array *mx_inner(mx_array *a, mx_array *b, mx_stream s);
mx_array *mx_outer(mx_array *a, mx_array *b, mx_stream s);
mx_array *mx_vecdot(mx_array *a, mx_array *b, int axis, mx_stream s);
mx_array *mx_kron(mx_array *a, mx_array *b, mx_stream s);
mx_array *mx_tensordot(mx_array *a, mx_array *b, const int *axes_a, int na, const int *axes_b,
                       int nb, mx_stream s);
/* Contracts the last `axis` dims of a with the first `axis` dims of b. */
mx_array *mx_tensordot_axis(mx_array *a, mx_array *b, int axis, mx_stream s);

/* Installs the schedule-time view functions of AsStrided, Contiguous and View (called with
 * the rules at library init). */
void mx_views_register_layout(void);

#endif
