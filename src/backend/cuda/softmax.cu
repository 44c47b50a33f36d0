/* softmax.cu: Softmax and LogSumExp on CUDA, the twins of cpu/softmax.c: rows over the last
 * axis of a strided floating input (LogSumExp keeps it as size 1), computed in float32
 * (float64 for float64) whatever `precise` says. A row with a NaN gives NaN; an infinite
 * maximum gives NaN (softmax) or that maximum (logsumexp); else -inf entries weigh 0.
 * A warp per row (a 256-thread block for long rows): max pass, exp-sum pass, write pass. */
#include "elementwise.cuh"

#define SM_TRAITS(a, sfx)                                                                  \
  struct sm_##sfx {                                                                        \
    typedef MX_ST_##sfx S;                                                                 \
    typedef MX_CT_##sfx C;                                                                 \
    __device__ static C ld(S v) { return MX_LD_##sfx(v); }                                 \
    __device__ static S sv(C v) { return MX_SV_##sfx(v); }                                 \
  };
MX_FLOAT_SFX(SM_TRAITS, _)

__device__ __forceinline__ float sm_exp(float x) { return expf(x); }
__device__ __forceinline__ double sm_exp(double x) { return exp(x); }
__device__ __forceinline__ float sm_log(float x) { return logf(x); }
__device__ __forceinline__ double sm_log(double x) { return log(x); }

/* Row-wide combine of TPR lanes (32: shuffles; 256: shuffles then shared memory); every
 * lane of the row gets the result. */
template <int TPR, class C, class F>
__device__ __forceinline__ C sm_allreduce(C v, F f, C *sh) {
#pragma unroll
  for (int d = 16; d > 0; d >>= 1) v = f(v, mxc_shfl_down(v, d));
  if constexpr (TPR == 32) {
    return __shfl_sync(0xffffffffu, v, 0);
  } else {
    __syncthreads();
    if ((threadIdx.x & 31) == 0) sh[threadIdx.x / 32] = v;
    __syncthreads();
    C r = sh[0];
    for (int k = 1; k < TPR / 32; k++) r = f(r, sh[k]);
    return r;
  }
}

struct sm_max_op {
  template <class C>
  __device__ C operator()(C a, C b) const { return b > a ? b : a; }
};
struct sm_add_op {
  template <class C>
  __device__ C operator()(C a, C b) const { return a + b; }
};
struct sm_or_op {
  __device__ int operator()(int a, int b) const { return a | b; }
};

/* L: rows over the input shape with the last axis set to 1 (op 0 out, op 1 in). */
template <class Tr, int TPR, bool LSE>
__global__ void __launch_bounds__(256) sm_rows(const typename Tr::S *x, typename Tr::S *y,
                                               int64_t rows, int64_t n, int64_t sx, int64_t sy,
                                               const __grid_constant__ mxc_layout<2> L) {
  typedef typename Tr::C C;
  constexpr int RPB = 256 / TPR;
  __shared__ C shc[8];
  __shared__ int shi[8];
  const int lane = threadIdx.x % TPR, sub = threadIdx.x / TPR;
  for (int64_t r0 = (int64_t)blockIdx.x * RPB; r0 < rows; r0 += (int64_t)gridDim.x * RPB) {
    int64_t r = r0 + sub;
    bool active = r < rows;
    int64_t off[2] = {0, 0};
    if (active) mxc_offsets<2>(L, r, off);
    const typename Tr::S *xr = x + off[1];
    int64_t m_n = active ? n : 0;
    C m = -(C)INFINITY;
    int nan = 0;
    for (int64_t k = lane; k < m_n; k += TPR) {
      C v = Tr::ld(xr[k * sx]);
      nan |= v != v;
      m = v > m ? v : m;
    }
    m = sm_allreduce<TPR>(m, sm_max_op(), shc);
    nan = sm_allreduce<TPR>(nan, sm_or_op(), shi);
    bool special = nan || m == (C)INFINITY || m == -(C)INFINITY;
    C s = 0;
    if (!special)
      for (int64_t k = lane; k < m_n; k += TPR) s += sm_exp(Tr::ld(xr[k * sx]) - m);
    s = sm_allreduce<TPR>(s, sm_add_op(), shc);
    if (!active) continue;
    if (LSE) {
      if (lane == 0) {
        C v = nan ? (C)NAN : (special ? m : m + sm_log(s));
        y[off[0]] = Tr::sv(v);
      }
    } else {
      typename Tr::S *yr = y + off[0];
      C inv = (C)1 / s;
      for (int64_t k = lane; k < n; k += TPR) {
        C v = special ? (C)NAN : sm_exp(Tr::ld(xr[k * sx]) - m) * inv;
        yr[k * sy] = Tr::sv(v);
      }
    }
  }
}

template <class Tr, bool LSE>
static int sm_launch(const char *name, const mx_tensor *in, mx_tensor *out, cudaStream_t q,
                     int dev) {
  int nd = in->ndim;
  int64_t n = in->shape[nd - 1], sx = in->strides[nd - 1], sy = out->strides[nd - 1];
  int32_t small[16] = {0};
  int32_t *shape = nd <= 16 ? small : (int32_t *)malloc(sizeof(int32_t) * (size_t)nd);
  if (!shape) return mx_fail_int(MX_ENOMEM, "[malloc] Unable to allocate %zu bytes.", (size_t)nd * 4);
  for (int d = 0; d < nd; d++) shape[d] = d == nd - 1 ? 1 : in->shape[d];
  const int64_t *strides[2] = {out->strides, in->strides};
  mxc_layout<2> L;
  void *ext = nullptr;
  int rc = mxc_layout_init<2>(&L, nd, shape, strides, q, &ext);
  if (shape != small) free(shape);
  if (rc < 0) return -1;
  int64_t rows = L.n;
  const typename Tr::S *x = (const typename Tr::S *)in->data;
  typename Tr::S *y = (typename Tr::S *)out->data;
  if (n > 1024 && rows < (int64_t)mxc_sm_count(dev) * 8) {
    unsigned b = (unsigned)(rows < 65535 * 16 ? rows : 65535 * 16);
    sm_rows<Tr, 256, LSE><<<b, 256, 0, q>>>(x, y, rows, n, sx, sy, L);
  } else {
    sm_rows<Tr, 32, LSE><<<mxc_blocks(rows, 8, dev), 256, 0, q>>>(x, y, rows, n, sx, sy, L);
  }
  cudaError_t e = cudaGetLastError();
  if (ext) mx_cuda_scratch_free(ext, q);
  MX_CUDA_CHECK(name, e);
  return 0;
}

template <bool LSE>
static int sm_forward(const char *name, const mx_kernel_ctx *ctx, const mx_tensor *in, int n_in,
                      mx_tensor *out, int n_out) {
  if (n_in != 1 || n_out != 1)
    return mx_fail_int(MX_EINVAL, "[%s] Expected 1 input and 1 output.", name);
  mx_dtype t = in->dtype;
  if (!mx_dtype_is_floating(t) || out->dtype != t)
    return mx_fail_int(MX_ETYPE, "[%s] Not supported for %s -> %s.", name, mx_dtype_name(t),
                       mx_dtype_name(out->dtype));
  int nd = in->ndim;
  if (nd < 1 || out->ndim != nd)
    return mx_fail_int(MX_EINVAL, "[%s] Expected an input with at least one dimension.", name);
  if (out->size == 0 || in->shape[nd - 1] == 0) return 0; /* the CPU writes nothing either */
  cudaStream_t q = (cudaStream_t)ctx->queue;
  int dev = ctx->device_index;
  switch (t) {
    case MX_FLOAT16: return sm_launch<sm_f16, LSE>(name, in, out, q, dev);
    case MX_BFLOAT16: return sm_launch<sm_bf16, LSE>(name, in, out, q, dev);
    case MX_FLOAT32: return sm_launch<sm_f32, LSE>(name, in, out, q, dev);
    case MX_FLOAT64: return sm_launch<sm_f64, LSE>(name, in, out, q, dev);
    default:
      return mx_fail_int(MX_ETYPE, "[%s] Not supported for %s -> %s.", name, mx_dtype_name(t),
                         mx_dtype_name(out->dtype));
  }
}

int mx_cuda_softmax(const mx_kernel_ctx *ctx, const mx_tensor *in, int n_in, mx_tensor *out,
                    int n_out) {
  return sm_forward<false>("softmax", ctx, in, n_in, out, n_out);
}

int mx_cuda_logsumexp(const mx_kernel_ctx *ctx, const mx_tensor *in, int n_in, mx_tensor *out,
                      int n_out) {
  return sm_forward<true>("logsumexp", ctx, in, n_in, out, n_out);
}
