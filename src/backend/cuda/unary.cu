/* unary.cu: the unary family on CUDA, the twin of cpu/unary.c. One functor per (member,
 * dtype) is generated from MX_UNARY_PRIMS and the formulas of formulas.h (only the dtypes
 * MX_F_<stem>_TYPES lists are instantiated); elementwise.cuh runs it. Copy and AsType
 * forward to copy.cu. Adding a unary op touches prims.def and formulas.h only. */
#include "elementwise.cuh"

#define UN_OP(stem, sfx)                                                                   \
  struct un_##stem##_##sfx {                                                               \
    static constexpr int NIN = 1;                                                          \
    typedef MX_ST_##sfx T0, T1, T2; /* T1, T2 unused */                                      \
    typedef MX_ST_##sfx O;                                                                 \
    __device__ static O apply(T0 x) { return MX_SV_##sfx(MX_FN(stem, sfx)(MX_LD_##sfx(x))); } \
  };
#define UN_CASE(stem, sfx) \
  case MX_DT_##sfx: return ew_run<un_##stem##_##sfx>;

/* abs, real and imag of complex64 are float32 (as MLX): the formula and the c64 -> f32
 * conversion fused, instead of a complex result in scratch and an astype. */
template <class Base>
struct un_c2f {
  static constexpr int NIN = 1;
  typedef mx_c64 T0, T1, T2;
  typedef float O;
  __device__ static O apply(T0 x) { return MX_CVT(c64, f32, Base::apply(x)); }
};

/* fn computes in the input dtype (res_dt); out->dtype may differ (converted). */
static int unary_forward(const char *name, ew_launch_fn fn, mx_dtype res_dt,
                         const mx_kernel_ctx *ctx, const mx_tensor *in, int n_in,
                         mx_tensor *out, int n_out) {
  if (n_in != 1 || n_out != 1)
    return mx_fail_int(MX_EINVAL, "[%s] Expected 1 input and 1 output.", name);
  if ((unsigned)in->dtype >= MX_DTYPE_COUNT || !fn)
    return mx_fail_int(MX_ETYPE, "[%s] Not supported for dtype %s.", name,
                       mx_dtype_name(in->dtype));
  if ((unsigned)out->dtype >= MX_DTYPE_COUNT)
    return mx_fail_int(MX_ETYPE, "[%s] Invalid output dtype.", name);
  if (in->ndim != out->ndim || in->size != out->size)
    return mx_fail_int(MX_EINVAL, "[%s] Input and output shapes differ.", name);
  if (!mxc_is_row_contig(out))
    return mx_fail_int(MX_EINVAL, "[%s] The output must be row-contiguous.", name);
  if (out->size == 0) return 0;
  const int64_t *strides[1] = {in->strides};
  return ew_dispatch(fn, res_dt, name, ctx, in, strides, out);
}

/* Copy and AsType (identity formulas) are strided copies: copy.cu. */
#define MXC_PROBE_ARG(a, b, ...) b
#define MXC_PROBE(...) MXC_PROBE_ARG(__VA_ARGS__, 0, 0)
#define UN_IS_COPY_copy ~, 1
#define UN_IS_COPY_astype ~, 1
#define UN_IS_COPY(stem) MXC_PROBE(UN_IS_COPY_##stem)
#define UN_IS_C2F_abs ~, 1
#define UN_IS_C2F_real ~, 1
#define UN_IS_C2F_imag ~, 1
#define UN_IS_C2F(stem) MXC_PROBE(UN_IS_C2F_##stem)
#define UN_C2F_0(stem) \
  static ew_launch_fn unary_c2f_##stem(void) { return nullptr; }
#define UN_C2F_1(stem) \
  static ew_launch_fn unary_c2f_##stem(void) { return ew_run<un_c2f<un_##stem##_c64>>; }

#define UNARY_DEFINE_0(NAME, stem)                                                         \
  MX_F_##stem##_TYPES(UN_OP, stem)                                                         \
  static ew_launch_fn unary_pick_##stem(mx_dtype t) {                                      \
    switch (t) {                                                                           \
      MX_F_##stem##_TYPES(UN_CASE, stem)                                                   \
      default: return nullptr;                                                             \
    }                                                                                      \
  }                                                                                        \
  MX_CAT(UN_C2F_, UN_IS_C2F(stem))(stem)                                                   \
  extern "C" int mx_cuda_unary_##stem(const mx_kernel_ctx *ctx, const mx_tensor *in,       \
                                      int n_in, mx_tensor *out, int n_out) {               \
    if (n_in < 1) return unary_forward(#stem, nullptr, MX_BOOL, ctx, in, n_in, out, n_out); \
    ew_launch_fn fn = unary_pick_##stem(in->dtype);                                        \
    mx_dtype res = in->dtype;                                                              \
    if (in->dtype == MX_COMPLEX64 && out->dtype == MX_FLOAT32 && unary_c2f_##stem()) {     \
      fn = unary_c2f_##stem();                                                             \
      res = MX_FLOAT32;                                                                    \
    }                                                                                      \
    return unary_forward(#stem, fn, res, ctx, in, n_in, out, n_out);                       \
  }
#define UNARY_DEFINE_1(NAME, stem)                                                         \
  extern "C" int mx_cuda_unary_##stem(const mx_kernel_ctx *ctx, const mx_tensor *in,       \
                                      int n_in, mx_tensor *out, int n_out) {               \
    return mx_cuda_##stem(ctx, in, n_in, out, n_out);                                      \
  }
#define UNARY_DEFINE(NAME, stem) MX_CAT(UNARY_DEFINE_, UN_IS_COPY(stem))(NAME, stem)

MX_UNARY_PRIMS(UNARY_DEFINE)
