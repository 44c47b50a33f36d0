/* io.c: the Load kernel (src/io/io.h): copies the raw bytes of a file region (a uint8
 * array, possibly strided after vmap) into the typed output, then byte-swaps each unit of
 * `swap` bytes (big-endian .npy data). Depends on cpu.h's strided copy. */
#include <string.h>

#include "array.h"
#include "cpu.h"

static void swap_units(uint8_t *p, int64_t nbytes, int unit) {
  for (int64_t i = 0; i + unit <= nbytes; i += unit) {
    for (int a = 0, b = unit - 1; a < b; a++, b--) {
      uint8_t t = p[i + a];
      p[i + a] = p[i + b];
      p[i + b] = t;
    }
  }
}

int mx_cpu_load(const mx_kernel_ctx *ctx, const mx_tensor *in, int n_in, mx_tensor *out,
                int n_out) {
  const mx_p_load *p = ctx->params;
  int64_t nbytes = out[0].size * mx_dtype_size(out[0].dtype);
  if (in[0].size != nbytes)
    return mx_fail_int(MX_ERUNTIME, "[Load] expected %lld bytes, got %lld.", (long long)nbytes,
                       (long long)in[0].size);
  if (nbytes == 0) return 0;
  if (mx_cpu_is_row_contig(&in[0])) {
    memcpy(out[0].data, in[0].data, (size_t)nbytes);
  } else {
    /* the output's bytes seen as a row-contiguous uint8 tensor of the input's shape */
    int64_t strides_small[MX_INLINE_DIMS];
    int64_t *st = strides_small;
    if (in[0].ndim > MX_INLINE_DIMS) st = malloc((size_t)in[0].ndim * sizeof(int64_t));
    if (!st) return mx_fail_int(MX_ENOMEM, "[Load] out of memory.");
    mx_row_strides(in[0].ndim, in[0].shape, st);
    mx_tensor bytes = {out[0].data, MX_UINT8, in[0].ndim, in[0].shape, st, in[0].size,
                       MX_ROW_CONTIG};
    int rc = mx_cpu_copy_strided(&in[0], &bytes);
    if (st != strides_small) free(st);
    if (rc != 0) return rc;
  }
  if (p && p->swap > 1) swap_units(out[0].data, nbytes, p->swap);
  return 0;
}
