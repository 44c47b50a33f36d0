/* ops_unary_creation.h: op constructors of the unary math and creation family (declarations only; included by ops.h,
 * whose ownership and error rules apply). Result dtypes follow spec/semantics.md 2.1. */
#ifndef MX_OPS_UNARY_CREATION_H
#define MX_OPS_UNARY_CREATION_H

/* ---- creation (ops/creation_range.c) ---- */
/* start, start + step, ... below stop (above for step < 0), in dtype t (not bool). */
mx_array *mx_arange(double start, double stop, double step, mx_dtype t, mx_stream s);
/* num values from start to stop (stop excluded unless endpoint), computed in float32
 * (float64 when t is float64) then cast to t. */
mx_array *mx_linspace(double start, double stop, int num, bool endpoint, mx_dtype t,
                      mx_stream s);
/* vals cast to t and broadcast against a's shape. */
mx_array *mx_full_like(mx_array *a, mx_array *vals, mx_dtype t, mx_stream s);
/* n x m with ones on diagonal k (n, m >= 0). */
mx_array *mx_eye(int n, int m, int k, mx_dtype t, mx_stream s);
mx_array *mx_identity(int n, mx_dtype t, mx_stream s);
/* n x m, ones at and below diagonal k (negative n or m count as 0). */
mx_array *mx_tri(int n, int m, int k, mx_dtype t, mx_stream s);
/* Window functions of length M (float32; empty for M < 1). */
mx_array *mx_bartlett(int M, mx_stream s);
mx_array *mx_hanning(int M, mx_stream s);
mx_array *mx_hamming(int M, mx_stream s);
mx_array *mx_blackman(int M, mx_stream s);

/* ---- unary math (ops/unary_math.c): integer and bool inputs become float32 where MLX's
 * op does (at_least_float); others keep the input dtype ---- */
mx_array *mx_square(mx_array *a, mx_stream s);
mx_array *mx_rsqrt(mx_array *a, mx_stream s);
mx_array *mx_reciprocal(mx_array *a, mx_stream s);
mx_array *mx_expm1(mx_array *a, mx_stream s);
mx_array *mx_log2(mx_array *a, mx_stream s);
mx_array *mx_log10(mx_array *a, mx_stream s);
mx_array *mx_log1p(mx_array *a, mx_stream s);
mx_array *mx_sin(mx_array *a, mx_stream s);
mx_array *mx_cos(mx_array *a, mx_stream s);
mx_array *mx_tan(mx_array *a, mx_stream s);
mx_array *mx_arcsin(mx_array *a, mx_stream s);
mx_array *mx_arccos(mx_array *a, mx_stream s);
mx_array *mx_arctan(mx_array *a, mx_stream s);
mx_array *mx_sinh(mx_array *a, mx_stream s);
mx_array *mx_cosh(mx_array *a, mx_stream s);
mx_array *mx_tanh(mx_array *a, mx_stream s);
mx_array *mx_arcsinh(mx_array *a, mx_stream s);
mx_array *mx_arccosh(mx_array *a, mx_stream s);
mx_array *mx_arctanh(mx_array *a, mx_stream s);
mx_array *mx_degrees(mx_array *a, mx_stream s);
mx_array *mx_radians(mx_array *a, mx_stream s);
mx_array *mx_erf(mx_array *a, mx_stream s);
mx_array *mx_sigmoid(mx_array *a, mx_stream s);
mx_array *mx_ceil(mx_array *a, mx_stream s);
/* Toward zero: where(a < 0, ceil(a), floor(a)). */
mx_array *mx_trunc(mx_array *a, mx_stream s);
/* Half-to-even; decimals != 0 rounds a * 10^decimals and scales back (result in a's dtype). */
mx_array *mx_round(mx_array *a, int decimals, mx_stream s);
mx_array *mx_positive(mx_array *a, mx_stream s);
mx_array *mx_logical_not(mx_array *a, mx_stream s);     /* bool result */
mx_array *mx_bitwise_invert(mx_array *a, mx_stream s);  /* integers and bool only */
mx_array *mx_conjugate(mx_array *a, mx_stream s);       /* identity for real dtypes */
mx_array *mx_real(mx_array *a, mx_stream s);            /* complex64 -> float32 */
mx_array *mx_imag(mx_array *a, mx_stream s);            /* zeros for real dtypes */

/* ---- predicates and nan_to_num (ops/unary_predicates.c): bool results ---- */
mx_array *mx_isnan(mx_array *a, mx_stream s);
mx_array *mx_isinf(mx_array *a, mx_stream s);
mx_array *mx_isfinite(mx_array *a, mx_stream s);
mx_array *mx_isposinf(mx_array *a, mx_stream s);
mx_array *mx_isneginf(mx_array *a, mx_stream s);
/* NaN -> nan, +inf -> posinf (default: the dtype's max), -inf -> neginf (default: -max).
 * Integer and bool inputs are returned unchanged; float64 and complex64 raise, as MLX. */
mx_array *mx_nan_to_num(mx_array *a, float nan, bool has_posinf, float posinf, bool has_neginf,
                        float neginf, mx_stream s);

#endif
