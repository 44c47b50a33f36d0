/* shape_count.c: NumberOfElements on the CPU: the product of the input's sizes over the
 * parameter axes (or its inverse), read from the shape at evaluation, stored as a scalar of
 * the output dtype. The input's data is never read. */
#include "../../core/array.h"
#include "../shape_count.h"
#include "cpu.h"

int mx_cpu_number_of_elements(const mx_kernel_ctx *ctx, const mx_tensor *in, int n_in,
                              mx_tensor *out, int n_out) {
  double v;
  if (n_in != 1 || n_out != 1 || mx_shape_count(ctx->params, &in[0], &v) < 0)
    return mx_fail_int(MX_EINVAL, "[number_of_elements] Axes do not match the input.");
  mx_dtype_store_f64(out->data, out->dtype, v);
  return 0;
}
