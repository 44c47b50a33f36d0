/* creation.cu: Arange on CUDA, the twin of cpu/creation.c: first value and step converted
 * to the dtype (step = T(start + step) - T(start)), then accumulated in the dtype. Integers
 * wrap, so v0 + i * d (mod 2^bits) is exact and runs in parallel; floats run in parallel
 * only when every partial sum is an exactly representable integer, else one thread
 * replays the CPU's sequential accumulation (rounding at every step). */
#include "elementwise.cuh"

template <class S>
__global__ void __launch_bounds__(MXC_THREADS) ar_int(S *out, S v0, S d, int64_t n) {
  const int64_t step = (int64_t)gridDim.x * blockDim.x;
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += step)
    out[i] = (S)((uint64_t)v0 + (uint64_t)i * (uint64_t)d);
}

#define AR_TRAITS(a, sfx)                                                                  \
  struct ar_##sfx {                                                                        \
    typedef MX_ST_##sfx S;                                                                 \
    typedef MX_CT_##sfx C;                                                                 \
    __host__ __device__ static C cvt(double x) { return MX_LD_##sfx(MX_CAT(mx_cvt_d_, sfx)(x)); } \
    __host__ __device__ static C add(C x, C y) {                                           \
      return MX_LD_##sfx(MX_SV_##sfx(MX_FN(add, sfx)(x, y)));                              \
    }                                                                                      \
    __host__ __device__ static C sub(C x, C y) {                                           \
      return MX_LD_##sfx(MX_SV_##sfx(MX_FN(subtract, sfx)(x, y)));                         \
    }                                                                                      \
    __host__ __device__ static S sv(C x) { return MX_SV_##sfx(x); }                        \
  };
MX_FLOAT_SFX(AR_TRAITS, _) AR_TRAITS(_, c64)

__host__ __device__ static inline double ar_re(float v) { return v; }
__host__ __device__ static inline double ar_re(double v) { return v; }
__host__ __device__ static inline double ar_re(mx_c64 v) { return v.re; }

/* The CPU loop, verbatim, on one thread. */
template <class Tr>
__global__ void ar_serial(typename Tr::S *out, typename Tr::C v, typename Tr::C d, int64_t n) {
  if (blockIdx.x != 0 || threadIdx.x != 0) return;
  for (int64_t i = 0; i < n; i++) {
    out[i] = Tr::sv(v);
    v = Tr::add(v, d);
  }
}

/* Integral v0 and d with every |partial sum| representable: v0 + i * d is exact. */
template <class Tr>
__global__ void __launch_bounds__(MXC_THREADS) ar_exact(typename Tr::S *out, typename Tr::C v0,
                                                        typename Tr::C d, int64_t n) {
  const int64_t step = (int64_t)gridDim.x * blockDim.x;
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += step) {
    if (i == 0) out[0] = Tr::sv(v0); /* keeps a -0.0 start */
    else out[i] = Tr::sv(Tr::add(v0, Tr::cvt((double)i * ar_re(d))));
  }
}

template <class Tr>
static int ar_float(double start, double step, void *out, int64_t n, double limit,
                    cudaStream_t q, int dev) {
  typedef typename Tr::C C;
  C v0 = Tr::cvt(start);
  C d = Tr::sub(Tr::cvt(start + step), v0);
  double a = ar_re(v0), b = ar_re(d);
  bool exact = a == floor(a) && b == floor(b) && fabs(a) <= limit &&
               fabs(b) * (double)(n > 0 ? n - 1 : 0) <= limit - fabs(a);
  if (exact)
    ar_exact<Tr><<<mxc_blocks(n, MXC_THREADS, dev), MXC_THREADS, 0, q>>>(
        (typename Tr::S *)out, v0, d, n);
  else
    ar_serial<Tr><<<1, 1, 0, q>>>((typename Tr::S *)out, v0, d, n);
  MX_CUDA_CHECK_LAUNCH("arange");
  return 0;
}

template <class S>
static int ar_integer(S v0, S next, void *out, int64_t n, cudaStream_t q, int dev) {
  S d = (S)((uint64_t)next - (uint64_t)v0);
  ar_int<S><<<mxc_blocks(n, MXC_THREADS, dev), MXC_THREADS, 0, q>>>((S *)out, v0, d, n);
  MX_CUDA_CHECK_LAUNCH("arange");
  return 0;
}

int mx_cuda_arange(const mx_kernel_ctx *ctx, const mx_tensor *in, int n_in, mx_tensor *out,
                   int n_out) {
  (void)in;
  const mx_p_arange *p = (const mx_p_arange *)ctx->params;
  if (n_in != 0 || n_out != 1 || !p)
    return mx_fail_int(MX_EINVAL, "[arange] Expected no inputs, one output and parameters.");
  if (!mxc_is_row_contig(out))
    return mx_fail_int(MX_EINVAL, "[arange] The output must be row-contiguous.");
  cudaStream_t q = (cudaStream_t)ctx->queue;
  int dev = ctx->device_index;
  int64_t n = out->size;
  double s = p->start, st = p->step;
  switch (out->dtype) {
#define AR_INT_CASE(a, sfx)                                                                \
  case MX_DT_##sfx:                                                                        \
    return ar_integer<MX_ST_##sfx>(mx_cvt_d_##sfx(s), mx_cvt_d_##sfx(s + st), out->data, n, q, dev);
    MX_INT_SFX(AR_INT_CASE, _)
#undef AR_INT_CASE
    case MX_FLOAT16: return ar_float<ar_f16>(s, st, out->data, n, 2048.0, q, dev);
    case MX_BFLOAT16: return ar_float<ar_bf16>(s, st, out->data, n, 256.0, q, dev);
    case MX_FLOAT32: return ar_float<ar_f32>(s, st, out->data, n, 16777216.0, q, dev);
    case MX_FLOAT64: return ar_float<ar_f64>(s, st, out->data, n, 9007199254740992.0, q, dev);
    case MX_COMPLEX64: return ar_float<ar_c64>(s, st, out->data, n, 16777216.0, q, dev);
    default:
      return mx_fail_int(MX_EINVAL, "%s not supported for arange.", mx_dtype_name(out->dtype));
  }
}
