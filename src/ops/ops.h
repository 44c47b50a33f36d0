/* ops.h: op constructors (DESIGN layer src/ops): validate arguments, promote dtypes, infer
 * output shapes without data, and make op records (core/op.h). Every function follows the
 * ownership rule of core/array.h: returns a NEW reference (scope-owned inside a scope) or
 * NULL with the error set; any NULL array argument returns NULL at once. Messages name the
 * op as MLX does: "[reshape] ...". */
#ifndef MX_OPS_H
#define MX_OPS_H

#include "../core/array.h"
#include "../core/op.h"
#include "../core/scope.h"

/* ---- creation ---- */
mx_array *mx_full(const int32_t *shape, int ndim, mx_array *vals, mx_dtype t, mx_stream s);
mx_array *mx_zeros(const int32_t *shape, int ndim, mx_dtype t, mx_stream s);
mx_array *mx_ones(const int32_t *shape, int ndim, mx_dtype t, mx_stream s);
mx_array *mx_copy(mx_array *a, mx_stream s);
mx_array *mx_zeros_like(mx_array *a, mx_stream s);
mx_array *mx_ones_like(mx_array *a, mx_stream s);

/* ---- unary ---- */
mx_array *mx_abs(mx_array *a, mx_stream s);
mx_array *mx_negative(mx_array *a, mx_stream s);
mx_array *mx_exp(mx_array *a, mx_stream s);
mx_array *mx_log(mx_array *a, mx_stream s);
mx_array *mx_sqrt(mx_array *a, mx_stream s);
mx_array *mx_erfinv(mx_array *a, mx_stream s);
mx_array *mx_floor(mx_array *a, mx_stream s);
mx_array *mx_sign(mx_array *a, mx_stream s);
mx_array *mx_stop_gradient(mx_array *a, mx_stream s);

/* ---- binary (broadcasting; both arguments already typed: weak scalars are converted by the
 * bindings, spec/semantics.md section 2.2) ---- */
mx_array *mx_add(mx_array *a, mx_array *b, mx_stream s);
mx_array *mx_subtract(mx_array *a, mx_array *b, mx_stream s);
mx_array *mx_multiply(mx_array *a, mx_array *b, mx_stream s);
mx_array *mx_divide(mx_array *a, mx_array *b, mx_stream s);
mx_array *mx_maximum(mx_array *a, mx_array *b, mx_stream s);
mx_array *mx_minimum(mx_array *a, mx_array *b, mx_stream s);

/* ---- comparisons (bool results) ---- */
mx_array *mx_equal(mx_array *a, mx_array *b, mx_stream s);
mx_array *mx_not_equal(mx_array *a, mx_array *b, mx_stream s);
mx_array *mx_less(mx_array *a, mx_array *b, mx_stream s);
mx_array *mx_less_equal(mx_array *a, mx_array *b, mx_stream s);
mx_array *mx_greater(mx_array *a, mx_array *b, mx_stream s);
mx_array *mx_greater_equal(mx_array *a, mx_array *b, mx_stream s);

/* ---- ternary ---- */
mx_array *mx_where(mx_array *cond, mx_array *x, mx_array *y, mx_stream s);

/* ---- reductions: axes NULL with naxes < 0 reduces every axis ---- */
mx_array *mx_sum(mx_array *a, const int *axes, int naxes, bool keepdims, mx_stream s);
/* The shared driver: kind is mx_reduce_kind, out_t the result dtype; name for messages. */
mx_array *mx_reduce(const char *name, int kind, mx_dtype out_t, mx_array *a, const int *axes,
                    int naxes, bool keepdims, mx_stream s);

/* ---- shapes and views ---- */
mx_array *mx_reshape(mx_array *a, const int32_t *shape, int ndim, mx_stream s);
mx_array *mx_transpose(mx_array *a, const int *axes, int naxes /* < 0: reverse */, mx_stream s);
mx_array *mx_broadcast_to(mx_array *a, const int32_t *shape, int ndim, mx_stream s);
mx_array *mx_expand_dims(mx_array *a, int axis, mx_stream s);
mx_array *mx_moveaxis(mx_array *a, int source, int destination, mx_stream s);
mx_array *mx_swapaxes(mx_array *a, int axis1, int axis2, mx_stream s);
/* start/stop/strides have a->ndim entries, already normalised (as MLX's C++ slice). */
mx_array *mx_slice(mx_array *a, const int32_t *start, const int32_t *stop,
                   const int32_t *strides, mx_stream s);
mx_array *mx_slice_update(mx_array *src, mx_array *update, const int32_t *start,
                          const int32_t *stop, const int32_t *strides, mx_stream s);
mx_array *mx_astype(mx_array *a, mx_dtype t, mx_stream s);

/* ---- linear algebra ---- */
mx_array *mx_matmul(mx_array *a, mx_array *b, mx_stream s);

/* ---- graph ---- */
/* outputs[i] equals inputs[i] but is ordered after every dependency. */
int mx_depends(mx_array *const *inputs, int n_in, mx_array *const *deps, int n_deps,
               mx_array **outputs);

/* ---- random (explicit keys: uint32 arrays of shape (2,)) ---- */
mx_array *mx_random_key(uint64_t seed);
mx_array *mx_random_bits(const int32_t *shape, int ndim, int width, mx_array *key, mx_stream s);
mx_array *mx_random_split(mx_array *key, int num, mx_stream s);   /* (num, 2) */
mx_array *mx_random_uniform(mx_array *low, mx_array *high, const int32_t *shape, int ndim,
                            mx_dtype t, mx_array *key, mx_stream s);
mx_array *mx_random_normal(const int32_t *shape, int ndim, mx_dtype t, mx_array *loc,
                           mx_array *scale, mx_array *key, mx_stream s); /* loc/scale may be NULL */
mx_array *mx_random_randint(mx_array *low, mx_array *high, const int32_t *shape, int ndim,
                            mx_dtype t, mx_array *key, mx_stream s);

/* ---- generic construction (used by vmap rules): the family op for a primitive ---- */
mx_array *mx_elementwise_by_prim(int prim, mx_array *const *in, int n, mx_dtype out_t,
                                 mx_stream s);
/* Scalar constant of a's dtype (scope rules). */
mx_array *mx_scalar_like(double v, mx_array *a);

/* ---- helpers shared by op files ---- */
/* Broadcast result shape of two shapes into out (capacity >= max ndim); returns ndim or -1. */
int mx_broadcast_shapes(const char *op, int na, const int32_t *a, int nb, const int32_t *b,
                        int32_t *out);
/* Normalises an axis against ndim; -1 + EINDEX "[op] Invalid axis ..." when out of range. */
int mx_normalize_axis(const char *op, int axis, int ndim);

/* ---- the families of the breadth issues, one header each ---- */
#include "ops_unary_creation.h"
#include "ops_binary_logic.h"
#include "ops_reduce_scan.h"
#include "ops_shape_layout.h"
#include "ops_indexing_sort.h"
#include "ops_conv.h"
#include "ops_random_dist.h"
#include "ops_linalg.h"
#include "ops_fft.h"
#include "ops_quantized.h"
#include "ops_fast.h"
#include "ops_products_ext.h"

#endif
