/* softmax.cu: Softmax and LogSumExp on CUDA, the twins of cpu/softmax.c: rows over the last
 * axis of a strided floating input (LogSumExp keeps it as size 1), computed in float32
 * (float64 for float64) whatever `precise` says. A row with a NaN gives NaN; an infinite
 * maximum gives NaN (softmax) or that maximum (logsumexp); else -inf entries weigh 0.
 * Rows of up to 4096 16-byte vectors with aligned starts and a contiguous last axis are held
 * in registers (a warp or a block per row, one read, one write); other rows take a warp (a
 * 256-thread block for long rows) and three passes: max, exp-sum, write. */
#include "elementwise.cuh"

/* bfloat16 of a value that is not NaN (MX_SV_bf16 also canonicalises NaN) */
__device__ __forceinline__ mx_bf16 sm_bf16_rn(float f) {
  unsigned short b;
  asm("cvt.rn.bf16.f32 %0, %1;" : "=h"(b) : "f"(f));
  return (mx_bf16)b;
}
#define SM_SVN_f16(v) MX_SV_f16(v)
#define SM_SVN_f32(v) MX_SV_f32(v)
#define SM_SVN_f64(v) MX_SV_f64(v)
#define SM_SVN_bf16(v) sm_bf16_rn(v)

/* svn: sv for values known not to be NaN */
#define SM_TRAITS(a, sfx)                                                                  \
  struct sm_##sfx {                                                                        \
    typedef MX_ST_##sfx S;                                                                 \
    typedef MX_CT_##sfx C;                                                                 \
    __device__ static C ld(S v) { return MX_LD_##sfx(v); }                                 \
    __device__ static S sv(C v) { return MX_SV_##sfx(v); }                                 \
    __device__ static S svn(C v) { return SM_SVN_##sfx(v); }                               \
  };
MX_FLOAT_SFX(SM_TRAITS, _)

__device__ __forceinline__ float sm_exp(float x) { return expf(x); }
__device__ __forceinline__ double sm_exp(double x) { return exp(x); }
__device__ __forceinline__ float sm_log(float x) { return logf(x); }
__device__ __forceinline__ double sm_log(double x) { return log(x); }
/* maximum ignoring a NaN operand */
__device__ __forceinline__ float sm_fmax(float a, float b) { return fmaxf(a, b); }
__device__ __forceinline__ double sm_fmax(double a, double b) { return fmax(a, b); }

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

/* Rows held in registers: TPR threads per row (4..32 lanes of a warp in a 256-thread block,
 * or the whole block), each converting VPT vectors of 16 bytes to C; the row is read once
 * and written once, exp evaluated once per element. Row starts (mxc_offsets of L, op 0 out,
 * op 1 in) are 16-byte aligned, the last axis contiguous; elements past n read as -inf. The
 * maximum skips NaNs: with a finite maximum a NaN shows in the sum, otherwise the row is
 * searched for one. Half-width rows keep 64 registers (4 blocks of 256 per SM: loads of more
 * rows in flight beat a few spilled registers); float64 would spill too much. */
#define SM_REG_MINB(S, TPR) (sizeof(S) == 8 ? 1 : TPR < 256 ? 4 : 1024 / TPR)
template <class Tr, int TPR, int VPT, bool LSE>
__global__ void __launch_bounds__(TPR < 256 ? 256 : TPR, SM_REG_MINB(typename Tr::S, TPR))
    sm_rows_reg(const typename Tr::S *x, typename Tr::S *y, int64_t rows, int n,
                const __grid_constant__ mxc_layout<2> L) {
  typedef typename Tr::S S;
  typedef typename Tr::C C;
  constexpr int BT = TPR < 256 ? 256 : TPR, RPB = BT / TPR, V = 16 / (int)sizeof(S);
  typedef mxc_pack<S, V> Pack;
  __shared__ C shm[BT / 32], shs[BT / 32];
  const int lane = (int)threadIdx.x % TPR, sub = (int)threadIdx.x / TPR;
  for (int64_t r0 = (int64_t)blockIdx.x * RPB; r0 < rows; r0 += (int64_t)gridDim.x * RPB) {
    const int64_t r = r0 + sub;
    const bool active = r < rows; /* uniform over the row's threads */
    int64_t off[2] = {0, 0};
    if (active) mxc_offsets<2>(L, r, off);
    const S *xr = x + off[1];
    /* every full vector's load is issued before any is used */
    Pack pk[VPT];
#pragma unroll
    for (int i = 0; i < VPT; i++) {
      const int j = (lane + i * TPR) * V;
      if (active && j + V <= n) pk[i] = *(const Pack *)(xr + j);
    }
    C v[VPT][V];
    C m = -(C)INFINITY;
#pragma unroll
    for (int i = 0; i < VPT; i++) {
      const int j = (lane + i * TPR) * V;
      if (active && j + V <= n) {
#pragma unroll
        for (int k = 0; k < V; k++) v[i][k] = Tr::ld(pk[i].v[k]);
      } else {
#pragma unroll
        for (int k = 0; k < V; k++)
          v[i][k] = active && j + k < n ? Tr::ld(xr[j + k]) : -(C)INFINITY;
      }
#pragma unroll
      for (int k = 0; k < V; k++) m = sm_fmax(m, v[i][k]);
    }
#pragma unroll
    for (int d = (TPR < 32 ? TPR : 32) / 2; d > 0; d >>= 1)
      m = sm_fmax(m, __shfl_xor_sync(0xffffffffu, m, d));
    if constexpr (TPR > 32) {
      if ((threadIdx.x & 31) == 0) shm[threadIdx.x / 32] = m;
      __syncthreads();
      m = shm[0];
#pragma unroll
      for (int k = 1; k < BT / 32; k++) m = sm_fmax(m, shm[k]);
    }
    const bool special = m == (C)INFINITY || m == -(C)INFINITY; /* uniform over the row */
    C s = 0;
    int nan = 0;
    if (!special) {
#pragma unroll
      for (int i = 0; i < VPT; i++)
#pragma unroll
        for (int k = 0; k < V; k++) {
          v[i][k] = sm_exp(v[i][k] - m);
          s += v[i][k];
        }
    } else {
#pragma unroll
      for (int i = 0; i < VPT; i++)
#pragma unroll
        for (int k = 0; k < V; k++) nan |= v[i][k] != v[i][k];
    }
    if constexpr (TPR <= 32) { /* the rows of a warp may differ in `special` */
      const unsigned grp = (unsigned)(threadIdx.x & 31) & ~(unsigned)(TPR - 1);
      nan = (__ballot_sync(0xffffffffu, nan) >> grp) & (TPR < 32 ? (1u << TPR) - 1u : ~0u);
    } else if (special) {
      nan = __syncthreads_or(nan);
    }
#pragma unroll
    for (int d = (TPR < 32 ? TPR : 32) / 2; d > 0; d >>= 1) s += __shfl_xor_sync(0xffffffffu, s, d);
    if constexpr (TPR > 32) {
      if ((threadIdx.x & 31) == 0) shs[threadIdx.x / 32] = s;
      __syncthreads();
      s = shs[0];
#pragma unroll
      for (int k = 1; k < BT / 32; k++) s += shs[k];
    }
    if (!special) nan = s != s;
    if (!active) continue;
    if (LSE) {
      if (lane == 0) y[off[0]] = Tr::sv(nan ? (C)NAN : (special ? m : m + sm_log(s)));
      continue;
    }
    S *yr = y + off[0];
    const C inv = (C)1 / s;
    const bool bad = special || nan;
    const S qnan = Tr::sv((C)NAN);
#pragma unroll
    for (int i = 0; i < VPT; i++) {
      const int j = (lane + i * TPR) * V;
      if (j + V <= n) {
        Pack pk;
#pragma unroll
        for (int k = 0; k < V; k++) pk.v[k] = bad ? qnan : Tr::svn(v[i][k] * inv);
        *(Pack *)(yr + j) = pk;
      } else {
#pragma unroll
        for (int k = 0; k < V; k++)
          if (j + k < n) yr[j + k] = bad ? qnan : Tr::svn(v[i][k] * inv);
      }
    }
  }
}

template <class Tr, int TPR, int VPT, bool LSE>
static void sm_reg_launch(const typename Tr::S *x, typename Tr::S *y, int64_t rows, int n,
                          const mxc_layout<2> &L, cudaStream_t q) {
  constexpr int BT = TPR < 256 ? 256 : TPR, RPB = BT / TPR;
  int64_t b = (rows + RPB - 1) / RPB;
  if (b > (1 << 30)) b = 1 << 30;
  sm_rows_reg<Tr, TPR, VPT, LSE><<<(unsigned)b, BT, 0, q>>>(x, y, rows, n, L);
}

/* Launches sm_rows_reg when the rows fit (false: the caller uses sm_rows). */
template <class Tr, bool LSE>
static bool sm_reg_try(const typename Tr::S *x, typename Tr::S *y, int64_t rows, int64_t n,
                       int64_t sx, int64_t sy, const mxc_layout<2> &L, cudaStream_t q) {
  constexpr int64_t V = 16 / (int64_t)sizeof(typename Tr::S);
  const int64_t nv = (n + V - 1) / V;
  if (sx != 1 || (!LSE && sy != 1) || L.ext || nv > 4096) return false;
  if ((uintptr_t)x % 16 != 0 || (!LSE && (uintptr_t)y % 16 != 0)) return false;
  for (int d = 0; d < L.ndim; d++) {
    if (L.strides[1][d] * (int64_t)sizeof(typename Tr::S) % 16 != 0) return false;
    if (!LSE && L.strides[0][d] * (int64_t)sizeof(typename Tr::S) % 16 != 0) return false;
  }
  const int ni = (int)n;
  if (nv <= 4) sm_reg_launch<Tr, 4, 1, LSE>(x, y, rows, ni, L, q);
  else if (nv <= 8) sm_reg_launch<Tr, 8, 1, LSE>(x, y, rows, ni, L, q);
  else if (nv <= 16) sm_reg_launch<Tr, 16, 1, LSE>(x, y, rows, ni, L, q);
  else if (nv <= 32) sm_reg_launch<Tr, 32, 1, LSE>(x, y, rows, ni, L, q);
  else if (nv <= 64) sm_reg_launch<Tr, 32, 2, LSE>(x, y, rows, ni, L, q);
  else if (nv <= 128) sm_reg_launch<Tr, 32, 4, LSE>(x, y, rows, ni, L, q);
  else if (nv <= 256) sm_reg_launch<Tr, 256, 1, LSE>(x, y, rows, ni, L, q);
  else if (nv <= 512) sm_reg_launch<Tr, 256, 2, LSE>(x, y, rows, ni, L, q);
  else if (nv <= 1024) sm_reg_launch<Tr, 256, 4, LSE>(x, y, rows, ni, L, q);
  else if (nv <= 2048) sm_reg_launch<Tr, 1024, 2, LSE>(x, y, rows, ni, L, q);
  else sm_reg_launch<Tr, 1024, 4, LSE>(x, y, rows, ni, L, q);
  return true;
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
  if (!sm_reg_try<Tr, LSE>(x, y, rows, n, sx, sy, L, q)) {
    if (n > 1024 && rows < (int64_t)mxc_sm_count(dev) * 8) {
      unsigned b = (unsigned)(rows < 65535 * 16 ? rows : 65535 * 16);
      sm_rows<Tr, 256, LSE><<<b, 256, 0, q>>>(x, y, rows, n, sx, sy, L);
    } else {
      sm_rows<Tr, 32, LSE><<<mxc_blocks(rows, 8, dev), 256, 0, q>>>(x, y, rows, n, sx, sy, L);
    }
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
