/* ops_binary_logic.h: op constructors of the binary, logical, bitwise, operators family (declarations only; included by ops.h,
 * whose ownership and error rules apply). Defined in binary_logic.c (primitives) and
 * binary_compose.c (clip, closeness, array_equal). Operands arrive already typed: Python
 * scalars are converted weakly by the bindings (spec/semantics.md section 2.2). */
#ifndef MX_OPS_BINARY_LOGIC_H
#define MX_OPS_BINARY_LOGIC_H

/* ---- arithmetic: promote(a, b) unless noted (spec/semantics.md 2.1) ---- */
/* Integers and bool: floor quotient (x // 0 = 0); floats: floor(a / b); complex: a / b. */
mx_array *mx_floor_divide(mx_array *a, mx_array *b, mx_stream s);
/* Result takes the divisor's sign; EINVAL for complex. */
mx_array *mx_remainder(mx_array *a, mx_array *b, mx_stream s);
/* out[0] = floor_divide(a, b), out[1] = remainder(a, b) from one primitive (new references);
 * 0, or -1 with both NULL. EINVAL for complex. */
int mx_divmod(mx_array *a, mx_array *b, mx_stream s, mx_array **out);
/* The same for bindings whose call chooses the count: *out is malloc'd (2 entries). */
int mx_divmod_list(mx_array *a, mx_array *b, mx_stream s, mx_array ***out, int *n);
/* Integer powers by squaring (negative exponents give 0), float/complex pow. */
mx_array *mx_power(mx_array *a, mx_array *b, mx_stream s);
/* at_least_float(promote(a, b)). arctan2: EINVAL for complex. */
mx_array *mx_logaddexp(mx_array *a, mx_array *b, mx_stream s);
mx_array *mx_arctan2(mx_array *a, mx_array *b, mx_stream s);

/* ---- bitwise: integer or bool only (ERUNTIME otherwise, as MLX); shifts of bool give
 * uint8 ---- */
mx_array *mx_bitwise_and(mx_array *a, mx_array *b, mx_stream s);
mx_array *mx_bitwise_or(mx_array *a, mx_array *b, mx_stream s);
mx_array *mx_bitwise_xor(mx_array *a, mx_array *b, mx_stream s);
mx_array *mx_left_shift(mx_array *a, mx_array *b, mx_stream s);
mx_array *mx_right_shift(mx_array *a, mx_array *b, mx_stream s);

/* ---- logical: operands cast to bool, bool result ---- */
mx_array *mx_logical_and(mx_array *a, mx_array *b, mx_stream s);
mx_array *mx_logical_or(mx_array *a, mx_array *b, mx_stream s);
mx_array *mx_logical_xor(mx_array *a, mx_array *b, mx_stream s);

/* ---- composites ---- */
/* minimum(maximum(a, a_min), a_max); a_min or a_max may be NULL (= None), not both. */
mx_array *mx_clip(mx_array *a, mx_array *a_min, mx_array *a_max, mx_stream s);
/* 0-d bool: same shape and every element equal (NaN == NaN when equal_nan). */
mx_array *mx_array_equal(mx_array *a, mx_array *b, bool equal_nan, mx_stream s);
/* |a - b| <= atol + rtol * |b| element-wise, infinities equal only to themselves. */
mx_array *mx_isclose(mx_array *a, mx_array *b, double rtol, double atol, bool equal_nan,
                     mx_stream s);
/* 0-d bool: all(isclose(...)). */
mx_array *mx_allclose(mx_array *a, mx_array *b, double rtol, double atol, bool equal_nan,
                      mx_stream s);

#endif
