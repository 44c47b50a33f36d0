/* common.c: shared rule helpers (rules.h) and the registration entry point. */
#include "rules.h"

#include <stdlib.h>

mx_array *mx_rule_to_front(mx_array *x, int axis, mx_stream s) {
  if (axis <= 0) return x;
  return mx_moveaxis(x, axis, 0, s);
}

mx_array *mx_rule_pad_after_batch(mx_array *x, int ndim, mx_stream s) {
  if (!x || x->ndim >= ndim) return x;
  int32_t *shape = malloc((size_t)ndim * sizeof(int32_t));
  if (!shape) return mx_fail(MX_ENOMEM, "[vmap] out of memory.");
  int pad = ndim - x->ndim;
  shape[0] = x->shape[0];
  for (int i = 1; i <= pad; i++) shape[i] = 1;
  for (int i = 1; i < x->ndim; i++) shape[pad + i] = x->shape[i];
  mx_array *r = mx_reshape(x, shape, ndim, s);
  free(shape);
  return r;
}

int mx_rule_vmap_elementwise(const mx_op *op, mx_array *const *inputs, const int *axes,
                             mx_array **outputs, int *out_axes) {
  int n = op->n_in;
  mx_array *in[3];
  int rank = 0;
  for (int i = 0; i < n; i++) {
    int r = inputs[i]->ndim - (axes[i] >= 0 ? 1 : 0);
    if (r > rank) rank = r;
  }
  for (int i = 0; i < n; i++) {
    in[i] = inputs[i];
    if (axes[i] >= 0) {
      in[i] = mx_rule_to_front(inputs[i], axes[i], op->stream);
      in[i] = mx_rule_pad_after_batch(in[i], rank + 1, op->stream);
    }
  }
  mx_dtype out_t = op->outputs[0] ? op->outputs[0]->dtype : inputs[0]->dtype;
  if (op->prim == MX_PRIM_ASTYPE) {
    outputs[0] = mx_astype(in[0], out_t, op->stream);
  } else if (mx_prim_has_params(op->prim)) {
    return mx_fail_int(MX_ERUNTIME, "[vmap] %s has parameters.", mx_prim_name(op->prim));
  } else {
    outputs[0] = mx_elementwise_by_prim(op->prim, in, n, out_t, op->stream);
  }
  out_axes[0] = 0;
  return outputs[0] ? 0 : -1;
}

void mx_prims_register_rules(void) {
  mx_rules_register_unary();
  mx_rules_register_binary();
  mx_rules_register_reduce();
  mx_rules_register_shape();
  mx_rules_register_misc();
  /* ==== section A: unary math and creation ==== */
  /* after mx_rules_register_unary: replaces its generic rule on the section A members */
  void mx_rules_register_unary_math(void);
  mx_rules_register_unary_math();
  /* (end of section A) */

  /* ==== section B: binary, logical, bitwise, operators ==== */
  /* after mx_rules_register_binary: replaces the generic rules it gave the new members */
  void mx_rules_register_binary_math(void); /* rules/binary_math.c */
  mx_rules_register_binary_math();
  /* (end of section B) */

  /* ==== section C: reductions and scans ==== */
  {
    void mx_rules_register_reduce_scan(void); /* reduce_scan.c */
    mx_rules_register_reduce_scan();
  }
  /* (end of section C) */

  /* ==== section D: shapes, views, layout, matmul products ==== */
  void mx_rules_register_shape_layout(void); /* rules/shape_layout.c (+ its view functions) */
  mx_rules_register_shape_layout();
  /* (end of section D) */

  /* ==== section E: indexing, gather/scatter, sorting ==== */
  void mx_rules_register_indexing_sort(void); /* rules/indexing_sort.c */
  mx_rules_register_indexing_sort();
  /* (end of section E) */

  /* ==== section F: file I/O ==== */
  void mx_rules_register_io(void);
  mx_rules_register_io();
  /* (end of section F) */

  /* ==== section I: convolution ==== */
  void mx_rules_register_conv(void); /* rules/conv.c */
  mx_rules_register_conv();
  /* (end of section I) */

  /* ==== section J: random samplers and distributed ==== */
  void mx_rules_register_distributed(void); /* rules/distributed.c */
  mx_rules_register_distributed();
  /* (end of section J) */

  /* ==== section L: linear algebra ==== */
  void mx_rules_register_linalg(void); /* rules/linalg.c */
  mx_rules_register_linalg();
  /* (end of section L) */

  /* ==== section T: FFT ==== */
  {
    void mx_rules_register_fft(void); /* rules/fft.c */
    mx_rules_register_fft();
  }
  /* (end of section T) */

  /* ==== section Q: quantization ==== */
  void mx_rules_register_quantized(void); /* rules/quantized.c */
  mx_rules_register_quantized();
  void mx_rules_register_qqmm(void); /* rules/qqmm.c */
  mx_rules_register_qqmm();
  /* (end of section Q) */

  /* ==== section S: mx.fast ==== */
  void mx_rules_register_fast(void); /* rules/fast.c */
  mx_rules_register_fast();
  /* (end of section S) */

  /* ==== section M: einsum and structured products ==== */
  void mx_rules_register_products_ext(void); /* rules/products_ext.c */
  mx_rules_register_products_ext();
  /* (end of section M) */
}
