/* creation.c: the creation family on the CPU -- Arange, which has no inputs and writes
 * start, start + step, ... in the output dtype the way MLX's CPU backend does: first value
 * and step converted to the dtype (step = T(start + step) - T(start)), then accumulated in
 * the dtype (integers wrap, float16/bfloat16 round at every step). */
#include "../formulas.h"
#include "cpu.h"

#define ARANGE_FILL(a, sfx)                                                               \
  static void arange_##sfx(double start, double step, void *out_, int64_t n) {           \
    MX_ST_##sfx *out = (MX_ST_##sfx *)out_;                                               \
    MX_CT_##sfx v = MX_LD_##sfx(MX_CAT(mx_cvt_d_, sfx)(start));                           \
    MX_CT_##sfx next = MX_LD_##sfx(MX_CAT(mx_cvt_d_, sfx)(start + step));                 \
    MX_CT_##sfx d = MX_LD_##sfx(MX_SV_##sfx(MX_FN(subtract, sfx)(next, v)));              \
    for (int64_t i = 0; i < n; i++) {                                                     \
      out[i] = MX_SV_##sfx(v);                                                            \
      v = MX_LD_##sfx(MX_SV_##sfx(MX_FN(add, sfx)(v, d)));                                \
    }                                                                                     \
  }

#define ARANGE_TYPES(X, a) MX_INT_SFX(X, a) MX_FLOAT_SFX(X, a) X(a, c64)
ARANGE_TYPES(ARANGE_FILL, _)

typedef void (*arange_fn)(double start, double step, void *out, int64_t n);
#define ARANGE_ENTRY(a, sfx) [MX_DT_##sfx] = arange_##sfx,
static const arange_fn arange_tab[MX_DTYPE_COUNT] = {ARANGE_TYPES(ARANGE_ENTRY, _)};

int mx_cpu_arange(const mx_kernel_ctx *ctx, const mx_tensor *in, int n_in, mx_tensor *out,
                  int n_out) {
  (void)in;
  const mx_p_arange *p = (const mx_p_arange *)ctx->params;
  if (n_in != 0 || n_out != 1 || !p)
    return mx_fail_int(MX_EINVAL, "[arange] Expected no inputs, one output and parameters.");
  if ((unsigned)out->dtype >= MX_DTYPE_COUNT || !arange_tab[out->dtype])
    return mx_fail_int(MX_EINVAL, "%s not supported for arange.", mx_dtype_name(out->dtype));
  if (!mx_cpu_is_row_contig(out))
    return mx_fail_int(MX_EINVAL, "[arange] The output must be row-contiguous.");
  arange_tab[out->dtype](p->start, p->step, out->data, out->size);
  return 0;
}
