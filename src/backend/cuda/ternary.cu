/* ternary.cu: the ternary family (Select) on CUDA, the twin of cpu/ternary.c: one functor
 * per (member, dtype) from MX_TERNARY_PRIMS and formulas.h (ternary formulas take storage
 * types; the condition is bool), run by elementwise.cuh over the broadcast operands. */
#include "elementwise.cuh"

#define TER_OP(stem, sfx)                                                                  \
  struct ter_##stem##_##sfx {                                                              \
    static constexpr int NIN = 3;                                                          \
    typedef bool T0;                                                                       \
    typedef MX_ST_##sfx T1, T2, O;                                                         \
    __device__ static O apply(T0 c, T1 x, T2 y) { return mx_f_##stem##_##sfx(c, x, y); }   \
  };
#define TER_CASE(stem, sfx) \
  case MX_DT_##sfx: return ew_run<ter_##stem##_##sfx>;

static int ternary_forward(const char *name, ew_launch_fn fn, const mx_kernel_ctx *ctx,
                           const mx_tensor *in, int n_in, mx_tensor *out, int n_out) {
  if (n_in != 3 || n_out != 1)
    return mx_fail_int(MX_EINVAL, "[%s] Expected 3 inputs and 1 output.", name);
  if (in[0].dtype != MX_BOOL)
    return mx_fail_int(MX_ETYPE, "[%s] The condition must be bool, got %s.", name,
                       mx_dtype_name(in[0].dtype));
  mx_dtype t = in[1].dtype;
  if (in[2].dtype != t)
    return mx_fail_int(MX_ETYPE, "[%s] Inputs have different dtypes (%s, %s).", name,
                       mx_dtype_name(t), mx_dtype_name(in[2].dtype));
  if ((unsigned)t >= MX_DTYPE_COUNT || !fn || (unsigned)out->dtype >= MX_DTYPE_COUNT)
    return mx_fail_int(MX_ETYPE, "[%s] Not supported for dtype %s.", name, mx_dtype_name(t));
  if (!mxc_is_row_contig(out))
    return mx_fail_int(MX_EINVAL, "[%s] The output must be row-contiguous.", name);
  if (out->size == 0) return 0;
  ew_bstride_set bs;
  if (bs.init(name, in, 3, out) < 0) return -1;
  const int64_t *strides[3] = {bs.s[0], bs.s[1], bs.s[2]};
  return ew_dispatch(fn, t, name, ctx, in, strides, out);
}

#define TERNARY_DEFINE(NAME, stem)                                                         \
  MX_F_##stem##_TYPES(TER_OP, stem)                                                        \
  static ew_launch_fn ternary_pick_##stem(mx_dtype t) {                                    \
    switch (t) {                                                                           \
      MX_F_##stem##_TYPES(TER_CASE, stem)                                                  \
      default: return nullptr;                                                             \
    }                                                                                      \
  }                                                                                        \
  extern "C" int mx_cuda_ternary_##stem(const mx_kernel_ctx *ctx, const mx_tensor *in,     \
                                        int n_in, mx_tensor *out, int n_out) {             \
    ew_launch_fn fn = n_in >= 2 ? ternary_pick_##stem(in[1].dtype) : nullptr;              \
    return ternary_forward(#stem, fn, ctx, in, n_in, out, n_out);                          \
  }
MX_TERNARY_PRIMS(TERNARY_DEFINE)
