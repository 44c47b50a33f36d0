/* ops_fast.h: op constructors of mx.fast (fused normalization, rotary embedding, attention)
 * (declarations only; included by ops.h, whose ownership and error rules apply). */
#ifndef MX_OPS_FAST_H
#define MX_OPS_FAST_H

/* weight (and bias) may be NULL: no scaling (shift). Result dtype: promote(x, weight[, bias]). */
mx_array *mx_fast_rms_norm(mx_array *x, mx_array *weight, double eps, mx_stream s);
mx_array *mx_fast_layer_norm(mx_array *x, mx_array *weight, mx_array *bias, double eps,
                             mx_stream s);
/* Exactly one of base (has_base) and freqs (NULL: absent); offset: integer 0-d or (B,). */
mx_array *mx_fast_rope(mx_array *a, int dims, bool traditional, bool has_base, double base,
                       double scale, mx_array *offset, mx_array *freqs, mx_stream s);
mx_array *mx_fast_rope_int(mx_array *a, int dims, bool traditional, bool has_base, double base,
                           double scale, int offset, mx_array *freqs, mx_stream s);
/* mask_mode: NULL or "" (mask is used when given), "causal" (mask must be NULL) or "array";
 * mask: bool (true = visible) or additive; sinks (Nq,) or NULL. */
mx_array *mx_fast_sdpa(mx_array *q, mx_array *k, mx_array *v, double scale,
                       const char *mask_mode, mx_array *mask, mx_array *sinks, mx_stream s);

/* The primitives on already validated and cast inputs (rules). */
mx_array *mx_fast_rope_apply(mx_array *a, mx_array *offset, mx_array *freqs,
                             const mx_p_rope *p, mx_stream s);
mx_array *mx_fast_sdpa_apply(mx_array *q, mx_array *k, mx_array *v, mx_array *mask,
                             mx_array *sinks, const mx_p_sdpa *p, mx_stream s);

#endif
