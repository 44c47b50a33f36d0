/* binary_two.c: DivMod on the CPU, the one binary primitive with two outputs: the floor
 * quotient and the remainder of one pass, from the floor_divide / remainder formulas of
 * formulas.h. Same walk as binary.c: broadcast/strided inputs, row-contiguous outputs. */
#include "../formulas.h"
#include "cpu.h"

/* q[i], r[i] = a[i*sa] // b[i*sb], a[i*sa] % b[i*sb]: q and r contiguous. */
typedef void (*divmod_tile_fn)(const void *a, int64_t sa, const void *b, int64_t sb, void *q,
                               void *r, int64_t n);

#define DIVMOD_TILE(stem, sfx)                                                              \
  static void divmod_##sfx(const void *a_, int64_t sa, const void *b_, int64_t sb, void *q_, \
                           void *r_, int64_t n) {                                           \
    const MX_ST_##sfx *a = (const MX_ST_##sfx *)a_;                                         \
    const MX_ST_##sfx *b = (const MX_ST_##sfx *)b_;                                         \
    MX_ST_##sfx *q = (MX_ST_##sfx *)q_;                                                     \
    MX_ST_##sfx *r = (MX_ST_##sfx *)r_;                                                     \
    for (int64_t i = 0; i < n; i++) {                                                       \
      MX_CT_##sfx x = MX_LD_##sfx(a[i * sa]), y = MX_LD_##sfx(b[i * sb]);                   \
      q[i] = MX_SV_##sfx(MX_FN(floor_divide, sfx)(x, y));                                   \
      r[i] = MX_SV_##sfx(MX_FN(remainder, sfx)(x, y));                                      \
    }                                                                                       \
  }
#define DIVMOD_ENTRY(stem, sfx) [MX_DT_##sfx] = divmod_##sfx,

MX_F_divmod_TYPES(DIVMOD_TILE, divmod)
static const divmod_tile_fn divmod_tab[MX_DTYPE_COUNT] = {MX_F_divmod_TYPES(DIVMOD_ENTRY, divmod)};

int mx_cpu_divmod(const mx_kernel_ctx *ctx, const mx_tensor *in, int n_in, mx_tensor *out,
                  int n_out) {
  (void)ctx;
  if (n_in != 2 || n_out != 2)
    return mx_fail_int(MX_EINVAL, "[divmod] Expected 2 inputs and 2 outputs.");
  mx_dtype t = in[0].dtype;
  if (in[1].dtype != t || out[0].dtype != t || out[1].dtype != t)
    return mx_fail_int(MX_ETYPE, "[divmod] Inputs and outputs must share one dtype.");
  if ((unsigned)t >= MX_DTYPE_COUNT || !divmod_tab[t])
    return mx_fail_int(MX_ETYPE, "[divmod] Not supported for dtype %s.", mx_dtype_name(t));
  if (!mx_cpu_is_row_contig(&out[0]) || !mx_cpu_is_row_contig(&out[1]) ||
      out[0].size != out[1].size)
    return mx_fail_int(MX_EINVAL, "[divmod] The outputs must be row-contiguous and alike.");
  if (out[0].size == 0) return 0;
  mx_cpu_bstrides ba, bb;
  if (mx_cpu_bstrides_init(&ba, "divmod", &in[0], &out[0]) < 0) return -1;
  if (mx_cpu_bstrides_init(&bb, "divmod", &in[1], &out[0]) < 0) {
    mx_cpu_bstrides_free(&ba);
    return -1;
  }
  const int64_t *strides[3] = {out[0].strides, ba.s, bb.s};
  mx_cpu_iter it;
  int rc = mx_cpu_iter_init(&it, 3, out[0].ndim, out[0].shape, strides);
  if (rc == 0) {
    divmod_tile_fn fn = divmod_tab[t];
    int64_t n = mx_cpu_iter_len(&it), offs[3];
    int64_t sa = mx_cpu_iter_stride(&it, 1), sb = mx_cpu_iter_stride(&it, 2);
    int sz = mx_dtype_size(t);
    mx_cpu_iter_seek(&it, 0, offs);
    for (int64_t run = 0; run < it.nruns; run++) {
      fn((const char *)in[0].data + offs[1] * sz, sa, (const char *)in[1].data + offs[2] * sz,
         sb, (char *)out[0].data + offs[0] * sz, (char *)out[1].data + offs[0] * sz, n);
      mx_cpu_iter_next(&it, offs);
    }
    mx_cpu_iter_free(&it);
  }
  mx_cpu_bstrides_free(&ba);
  mx_cpu_bstrides_free(&bb);
  return rc;
}
