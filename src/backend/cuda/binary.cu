/* binary.cu: the binary and compare families on CUDA, the twin of cpu/binary.c. One functor
 * per (member, dtype) is generated from MX_BINARY_PRIMS / MX_COMPARE_PRIMS and formulas.h;
 * elementwise.cuh runs it over the broadcast operands (linear kernel for contiguous and
 * scalar-broadcast operands, general kernel otherwise) into the row-contiguous output. */
#include "elementwise.cuh"

#define BIN_OP(stem, sfx)                                                                  \
  struct bin_##stem##_##sfx {                                                              \
    static constexpr int NIN = 2;                                                          \
    typedef MX_ST_##sfx T0, T1, T2; /* T2 unused */                                        \
    typedef MX_ST_##sfx O;                                                                 \
    __device__ static O apply(T0 x, T1 y) {                                                \
      return MX_SV_##sfx(MX_FN(stem, sfx)(MX_LD_##sfx(x), MX_LD_##sfx(y)));                \
    }                                                                                      \
  };
#define CMP_OP(stem, sfx)                                                                  \
  struct cmp_##stem##_##sfx {                                                              \
    static constexpr int NIN = 2;                                                          \
    typedef MX_ST_##sfx T0, T1, T2; /* T2 unused */                                        \
    typedef bool O;                                                                        \
    __device__ static O apply(T0 x, T1 y) { return MX_FN(stem, sfx)(MX_LD_##sfx(x), MX_LD_##sfx(y)); } \
  };
#define BIN_CASE(stem, sfx) \
  case MX_DT_##sfx: return ew_run<bin_##stem##_##sfx>;
#define CMP_CASE(stem, sfx) \
  case MX_DT_##sfx: return ew_run<cmp_##stem##_##sfx>;

static int binary_forward(const char *name, ew_launch_fn fn, bool compare,
                          const mx_kernel_ctx *ctx, const mx_tensor *in, int n_in,
                          mx_tensor *out, int n_out) {
  if (n_in != 2 || n_out != 1)
    return mx_fail_int(MX_EINVAL, "[%s] Expected 2 inputs and 1 output.", name);
  mx_dtype t = in[0].dtype;
  if (in[1].dtype != t)
    return mx_fail_int(MX_ETYPE, "[%s] Inputs have different dtypes (%s, %s).", name,
                       mx_dtype_name(t), mx_dtype_name(in[1].dtype));
  if ((unsigned)t >= MX_DTYPE_COUNT || !fn)
    return mx_fail_int(MX_ETYPE, "[%s] Not supported for dtype %s.", name, mx_dtype_name(t));
  if ((unsigned)out->dtype >= MX_DTYPE_COUNT)
    return mx_fail_int(MX_ETYPE, "[%s] Invalid output dtype.", name);
  if (!mxc_is_row_contig(out))
    return mx_fail_int(MX_EINVAL, "[%s] The output must be row-contiguous.", name);
  if (out->size == 0) return 0;
  ew_bstride_set bs;
  if (bs.init(name, in, 2, out) < 0) return -1;
  const int64_t *strides[2] = {bs.s[0], bs.s[1]};
  return ew_dispatch(fn, compare ? MX_BOOL : t, name, ctx, in, strides, out);
}

#define BINARY_DEFINE(NAME, stem)                                                          \
  MX_F_##stem##_TYPES(BIN_OP, stem)                                                        \
  static ew_launch_fn binary_pick_##stem(mx_dtype t) {                                     \
    switch (t) {                                                                           \
      MX_F_##stem##_TYPES(BIN_CASE, stem)                                                  \
      default: return nullptr;                                                             \
    }                                                                                      \
  }                                                                                        \
  extern "C" int mx_cuda_binary_##stem(const mx_kernel_ctx *ctx, const mx_tensor *in,      \
                                       int n_in, mx_tensor *out, int n_out) {              \
    ew_launch_fn fn = n_in >= 1 ? binary_pick_##stem(in[0].dtype) : nullptr;               \
    return binary_forward(#stem, fn, false, ctx, in, n_in, out, n_out);                    \
  }
MX_BINARY_PRIMS(BINARY_DEFINE)

#define COMPARE_DEFINE(NAME, stem)                                                         \
  MX_F_##stem##_TYPES(CMP_OP, stem)                                                        \
  static ew_launch_fn compare_pick_##stem(mx_dtype t) {                                    \
    switch (t) {                                                                           \
      MX_F_##stem##_TYPES(CMP_CASE, stem)                                                  \
      default: return nullptr;                                                             \
    }                                                                                      \
  }                                                                                        \
  extern "C" int mx_cuda_compare_##stem(const mx_kernel_ctx *ctx, const mx_tensor *in,     \
                                        int n_in, mx_tensor *out, int n_out) {             \
    ew_launch_fn fn = n_in >= 1 ? compare_pick_##stem(in[0].dtype) : nullptr;              \
    return binary_forward(#stem, fn, true, ctx, in, n_in, out, n_out);                     \
  }
MX_COMPARE_PRIMS(COMPARE_DEFINE)
