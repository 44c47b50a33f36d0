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

/* ---- custom CUDA kernels (fast_kernel.c; CustomKernel primitive, GPU streams only) ---- */
typedef enum mx_ck_template_kind {
  MX_CK_TEMPLATE_DTYPE, MX_CK_TEMPLATE_INT, MX_CK_TEMPLATE_BOOL
} mx_ck_template_kind;
/* A template argument: `using name = <dtype>;`, `constexpr int/bool name = value;`. */
typedef struct mx_ck_template {
  const char *name;
  mx_ck_template_kind kind;
  int value;                /* an mx_dtype, an int or 0/1 */
} mx_ck_template;
/* What mx.fast.cuda_kernel(...) was built with. */
typedef struct mx_ck_def {
  const char *name, *source, *header;
  const char *const *input_names;
  int n_inputs;
  const char *const *output_names;
  int n_outputs;
  bool ensure_row_contiguous;
  int shared_memory;        /* dynamic shared memory bytes */
} mx_ck_def;
/* What one call of a kernel asks for; grid counts threads (as MLX's), not blocks. */
typedef struct mx_ck_launch {
  const int32_t *const *out_shapes;
  const int *out_ndims;
  const mx_dtype *out_dtypes;
  int n_out;
  int grid[3], group[3];
  const mx_ck_template *templates;
  int n_templates;
  bool has_init;            /* outputs start as init_value (else uninitialized) */
  float init_value;
  bool verbose;             /* print the generated source */
} mx_ck_launch;
struct mx_ck_scalar;
/* The CUDA type a dtype has in generated kernels ("float", "__half", ...). */
const char *mx_ck_type_name(mx_dtype t);
/* The source generated for inputs of these dtypes and ranks (malloc'd), the C++ name of its
 * kernel in *entry (malloc'd) and each input's layout arguments (MX_CK_* flags) in layout;
 * prints the source when l->verbose. NULL with the error set. */
char *mx_fast_cuda_kernel_source(const mx_ck_def *d, const mx_dtype *in_dtypes,
                                 const int *in_ndims, const mx_ck_launch *l, char **entry,
                                 uint8_t *layout);
/* Generates the kernel for these inputs and applies it: out gets l->n_out new references.
 * 0, or -1 with the error set (ValueError on a CPU stream, as MLX). */
int mx_fast_cuda_kernel(const mx_ck_def *d, mx_array *const *inputs, int n_inputs,
                        const mx_ck_launch *l, mx_stream s, mx_array **out);
/* A PTX or cubin image whose entry `name` takes the input pointers, the output pointers, then
 * the scalars (l->templates and l->verbose are ignored). */
int mx_fast_precompiled_cuda_kernel(const char *name, const void *compiled, size_t compiled_len,
                                    mx_array *const *inputs, int n_inputs,
                                    const mx_ck_launch *l, const struct mx_ck_scalar *scalars,
                                    int n_scalars, int shared_memory,
                                    bool ensure_row_contiguous, mx_stream s, mx_array **out);

/* The primitives on already validated and cast inputs (rules). */
mx_array *mx_fast_rope_apply(mx_array *a, mx_array *offset, mx_array *freqs,
                             const mx_p_rope *p, mx_stream s);
mx_array *mx_fast_sdpa_apply(mx_array *q, mx_array *k, mx_array *v, mx_array *mask,
                             mx_array *sinks, const mx_p_sdpa *p, mx_stream s);

#endif
