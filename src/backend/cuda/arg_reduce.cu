/* arg_reduce.cu: ArgReduce on CUDA, the twin of cpu/arg_reduce.c: argmin / argmax along one
 * axis (kept as size 1), uint32 indices, comparisons from formulas.h (ties keep the first
 * index, the first NaN wins). Rows split over a warp or a 256-thread block (each lane scans
 * its strided share in order, then (value, index) pairs combine by shuffles with ties to
 * the lower index); a thread per output when the axis is not the contiguous one. */
#include "reduce_scan_enums.h"
#include "elementwise.cuh"

#define AGR_TRAITS(kind, sfx)                                                              \
  struct agr_##kind##_##sfx {                                                              \
    typedef MX_ST_##sfx S;                                                                 \
    typedef MX_CT_##sfx C;                                                                 \
    __device__ static C ld(S v) { return MX_LD_##sfx(v); }                                 \
    __device__ static bool better(C x, C b) {                                              \
      return MX_CAT(mx_##kind##_better_, MX_FS_##sfx)(x, b);                               \
    }                                                                                      \
  };
MX_DTYPE_SFX_LIST(AGR_TRAITS, argmin)
MX_DTYPE_SFX_LIST(AGR_TRAITS, argmax)

/* Does (x, ix) beat (b, ib) in the sequential order? */
template <class Tr>
__device__ __forceinline__ bool agr_wins(typename Tr::C x, uint32_t ix, typename Tr::C b,
                                         uint32_t ib) {
  if (Tr::better(x, b)) return true;
  if (Tr::better(b, x)) return false;
  return ix < ib;
}

/* TPR threads (32 or 256) per row; rows of the collapsed output layout L (op 0 out, op 1 in). */
template <class Tr, int TPR>
__global__ void __launch_bounds__(256) agr_rows(const typename Tr::S *x, uint32_t *y,
                                                int64_t rows, int64_t n, int64_t sx,
                                                const __grid_constant__ mxc_layout<2> L) {
  typedef typename Tr::C C;
  constexpr int RPB = 256 / TPR;
  __shared__ C sv[8];
  __shared__ uint32_t si[8];
  const int lane = threadIdx.x % TPR, sub = threadIdx.x / TPR;
  for (int64_t r0 = (int64_t)blockIdx.x * RPB; r0 < rows; r0 += (int64_t)gridDim.x * RPB) {
    int64_t r = r0 + sub;
    bool active = r < rows;
    int64_t off[2] = {0, 0};
    if (active) mxc_offsets<2>(L, r, off);
    C best = Tr::ld(x[off[1]]);
    uint32_t bi = 0xffffffffu;
    if (active && lane < n) {
      best = Tr::ld(x[off[1] + (int64_t)lane * sx]);
      bi = (uint32_t)lane;
      for (int64_t k = lane + TPR; k < n; k += TPR) {
        C v = Tr::ld(x[off[1] + k * sx]);
        if (Tr::better(v, best)) {
          best = v;
          bi = (uint32_t)k;
        }
      }
    }
#pragma unroll
    for (int d = 16; d > 0; d >>= 1) {
      C ov = mxc_shfl_down(best, d);
      uint32_t oi = __shfl_down_sync(0xffffffffu, bi, d);
      if (oi != 0xffffffffu && (bi == 0xffffffffu || agr_wins<Tr>(ov, oi, best, bi))) {
        best = ov;
        bi = oi;
      }
    }
    if constexpr (TPR > 32) {
      const int w = threadIdx.x / 32;
      if ((threadIdx.x & 31) == 0) {
        sv[w] = best;
        si[w] = bi;
      }
      __syncthreads();
      if (threadIdx.x == 0) {
        for (int k = 1; k < TPR / 32; k++)
          if (si[k] != 0xffffffffu && (bi == 0xffffffffu || agr_wins<Tr>(sv[k], si[k], best, bi))) {
            best = sv[k];
            bi = si[k];
          }
      }
      __syncthreads();
    }
    if (active && lane == 0) y[off[0]] = bi;
  }
}

/* One thread per output: the whole axis in order. */
template <class Tr>
__global__ void __launch_bounds__(MXC_THREADS) agr_cols(const typename Tr::S *x, uint32_t *y,
                                                        int64_t rows, int64_t n, int64_t sx,
                                                        const __grid_constant__ mxc_layout<2> L) {
  typedef typename Tr::C C;
  const int64_t step = (int64_t)gridDim.x * blockDim.x;
  for (int64_t r = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; r < rows; r += step) {
    int64_t off[2];
    mxc_offsets<2>(L, r, off);
    const typename Tr::S *p = x + off[1];
    C best = Tr::ld(p[0]);
    uint32_t bi = 0;
    for (int64_t k = 1; k < n; k++) {
      C v = Tr::ld(p[k * sx]);
      if (Tr::better(v, best)) {
        best = v;
        bi = (uint32_t)k;
      }
    }
    y[off[0]] = bi;
  }
}

template <class Tr>
static int agr_launch(const mx_tensor *in, mx_tensor *out, int axis, cudaStream_t q, int dev) {
  int64_t n = in->shape[axis], sx = in->strides[axis], rows = out->size;
  const int64_t *strides[2] = {out->strides, in->strides};
  mxc_layout<2> L;
  void *ext = nullptr;
  if (mxc_layout_init<2>(&L, out->ndim, out->shape, strides, q, &ext) < 0) return -1;
  const typename Tr::S *x = (const typename Tr::S *)in->data;
  uint32_t *y = (uint32_t *)out->data;
  int64_t inner_in = L.ndim >= 1 ? L.strides[1][0] : 0;
  int64_t wave = (int64_t)mxc_sm_count(dev) * 256;
  bool cols = n > 1 && (sx > 1 || sx < -1) && rows >= wave && (inner_in == 1 || inner_in == -1);
  if (cols) {
    agr_cols<Tr><<<mxc_blocks(rows, MXC_THREADS, dev), MXC_THREADS, 0, q>>>(x, y, rows, n, sx, L);
  } else if (n > 1024 && rows < (int64_t)mxc_sm_count(dev) * 8) {
    unsigned b = (unsigned)(rows < 65535 * 16 ? rows : 65535 * 16);
    agr_rows<Tr, 256><<<b, 256, 0, q>>>(x, y, rows, n, sx, L);
  } else {
    agr_rows<Tr, 32><<<mxc_blocks(rows, 8, dev), 256, 0, q>>>(x, y, rows, n, sx, L);
  }
  cudaError_t e = cudaGetLastError();
  if (ext) mx_cuda_scratch_free(ext, q);
  MX_CUDA_CHECK("arg_reduce", e);
  return 0;
}

typedef int (*agr_fn)(const mx_tensor *, mx_tensor *, int, cudaStream_t, int);

int mx_cuda_arg_reduce(const mx_kernel_ctx *ctx, const mx_tensor *in, int n_in, mx_tensor *out,
                       int n_out) {
  const mx_p_arg_reduce *p = (const mx_p_arg_reduce *)ctx->params;
  if (n_in != 1 || n_out != 1 || !p)
    return mx_fail_int(MX_EINVAL, "[arg_reduce] Expected 1 input, 1 output and parameters.");
  if (p->kind != MX_ARG_REDUCE_MIN && p->kind != MX_ARG_REDUCE_MAX)
    return mx_fail_int(MX_EINVAL, "[arg_reduce] Unknown kind %d.", (int)p->kind);
  const char *name = p->kind == MX_ARG_REDUCE_MIN ? "argmin" : "argmax";
  mx_dtype t = in->dtype;
  if ((unsigned)t >= MX_DTYPE_COUNT || out->dtype != MX_UINT32)
    return mx_fail_int(MX_ETYPE, "[%s] Not supported for %s -> %s.", name, mx_dtype_name(t),
                       mx_dtype_name(out->dtype));
  int nd = in->ndim, axis = p->axis;
  if (axis < 0 || axis >= nd || out->ndim != nd || out->shape[axis] != 1)
    return mx_fail_int(MX_EINVAL, "[%s] Invalid axis %d for an array with %d dimensions.", name,
                       axis, nd);
  if (out->size == 0) return 0;
  if (in->shape[axis] == 0)
    return mx_fail_int(MX_EINVAL, "[%s] Cannot %s reduce zero size array.", name, name);
#define AGR_ENTRY(kind, sfx) case MX_DT_##sfx: fn = agr_launch<agr_##kind##_##sfx>; break;
  agr_fn fn = nullptr;
  if (p->kind == MX_ARG_REDUCE_MIN) {
    switch (t) { MX_DTYPE_SFX_LIST(AGR_ENTRY, argmin) default: break; }
  } else {
    switch (t) { MX_DTYPE_SFX_LIST(AGR_ENTRY, argmax) default: break; }
  }
#undef AGR_ENTRY
  if (!fn) return mx_fail_int(MX_ETYPE, "[%s] Not supported for %s.", name, mx_dtype_name(t));
  return fn(in, out, axis, (cudaStream_t)ctx->queue, ctx->device_index);
}
