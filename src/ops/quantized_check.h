/* quantized_check.h: argument checks shared by the quantized op files (quantized.c,
 * qqmm.c), with MLX's messages; each returns 0, or -1 with the error set. */
#ifndef MX_OPS_QUANTIZED_CHECK_H
#define MX_OPS_QUANTIZED_CHECK_H

#include "ops.h"

/* g (may be NULL) is a float32 scalar global scale and the mode is nvfp4. */
int mx_q_global_check(const char *op, int mode, mx_array *g);
/* MLX's validate_quantized_input: packed w (uint32) and its scales/biases fit x; inner and
 * outer receive the expanded matrix dims as x sees them. */
int mx_q_qmm_dims(const char *op, mx_array *x, mx_array *w, mx_array *scales, mx_array *biases,
                  bool transpose, int gs, int bits, int *inner, int *outer);

#endif
