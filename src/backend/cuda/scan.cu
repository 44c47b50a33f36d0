/* scan.cu: the Scan primitive on CUDA, the twin of cpu/scan.c: cumsum / cumprod / cummin /
 * cummax / logcumsumexp, inclusive or exclusive, forward or reverse, along one axis of a
 * strided input (float16/bfloat16 accumulate in float32, combines from formulas.h). Many
 * rows (and every complex logcumsumexp): a thread per row, in order (the CPU's exact combine
 * order); few rows: a block per row, 256-element chunks scanned in shared memory with a
 * running carry. */
#include "reduce_scan_enums.h"
#include "elementwise.cuh"

#define SC_TRAITS(kind, sfx)                                                               \
  struct sc_##kind##_##sfx {                                                               \
    typedef MX_ST_##sfx S;                                                                 \
    typedef MX_CT_##sfx C;                                                                 \
    __device__ static C ld(S v) { return MX_LD_##sfx(v); }                                 \
    __device__ static S sv(C v) { return MX_SV_##sfx(v); }                                 \
    __device__ static C init() { return MX_CAT(mx_scan_init_##kind##_, MX_FS_##sfx)(); }   \
    __device__ static C op(C a, C x) { return MX_CAT(mx_scan_##kind##_, MX_FS_##sfx)(a, x); } \
  };
MX_SCAN_sum_TYPES(SC_TRAITS, sum)
MX_SCAN_prod_TYPES(SC_TRAITS, prod)
MX_SCAN_min_TYPES(SC_TRAITS, min)
MX_SCAN_max_TYPES(SC_TRAITS, max)
MX_SCAN_logaddexp_TYPES(SC_TRAITS, logaddexp)

/* Scans whose combine is not associative enough to reorder: the complex logaddexp's
 * principal logarithm wraps by 2*pi depending on the grouping, so it always runs in the
 * CPU's order (a thread per row). */
template <class Tr>
constexpr bool sc_in_order() { return false; }
template <>
constexpr bool sc_in_order<sc_logaddexp_c64>() { return true; }

/* x, y point at each row's first scanned element (the last one for reverse scans, with
 * sx, sy negated by the launcher). L: rows (ops: out, in). */
template <class Tr>
__global__ void __launch_bounds__(MXC_THREADS) sc_thread_rows(
    const typename Tr::S *x, typename Tr::S *y, int64_t rows, int64_t n, int64_t sx,
    int64_t sy, bool inclusive, const __grid_constant__ mxc_layout<2> L) {
  typedef typename Tr::C C;
  const int64_t step = (int64_t)gridDim.x * blockDim.x;
  for (int64_t r = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; r < rows; r += step) {
    int64_t off[2];
    mxc_offsets<2>(L, r, off);
    const typename Tr::S *xr = x + off[1];
    typename Tr::S *yr = y + off[0];
    C acc = Tr::init();
    if (inclusive) {
      for (int64_t k = 0; k < n; k++) {
        acc = Tr::op(acc, Tr::ld(xr[k * sx]));
        yr[k * sy] = Tr::sv(acc);
      }
    } else {
      for (int64_t k = 0; k < n; k++) {
        yr[k * sy] = Tr::sv(acc);
        acc = Tr::op(acc, Tr::ld(xr[k * sx]));
      }
    }
  }
}

template <class Tr>
__global__ void __launch_bounds__(256) sc_block_rows(const typename Tr::S *x, typename Tr::S *y,
                                                     int64_t rows, int64_t n, int64_t sx,
                                                     int64_t sy, bool inclusive,
                                                     const __grid_constant__ mxc_layout<2> L) {
  typedef typename Tr::C C;
  __shared__ C sh[256];
  const int t = threadIdx.x;
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    int64_t off[2];
    mxc_offsets<2>(L, r, off);
    const typename Tr::S *xr = x + off[1];
    typename Tr::S *yr = y + off[0];
    C carry = Tr::init();
    for (int64_t c0 = 0; c0 < n; c0 += 256) {
      int64_t k = c0 + t;
      C v = k < n ? Tr::ld(xr[k * sx]) : Tr::init();
      sh[t] = v;
      __syncthreads();
      for (int d = 1; d < 256; d <<= 1) { /* Hillis-Steele, left operand first */
        C w = t >= d ? Tr::op(sh[t - d], sh[t]) : sh[t];
        __syncthreads();
        sh[t] = w;
        __syncthreads();
      }
      if (k < n) {
        C res;
        if (inclusive) res = Tr::op(carry, sh[t]);
        else res = t == 0 ? carry : Tr::op(carry, sh[t - 1]);
        yr[k * sy] = Tr::sv(res);
      }
      C total = sh[255];
      __syncthreads();
      carry = Tr::op(carry, total);
    }
  }
}

template <class Tr>
static int sc_launch(const mx_tensor *in, mx_tensor *out, int axis, bool reverse, bool inclusive,
                     cudaStream_t q, int dev) {
  int nd = in->ndim;
  int64_t n = in->shape[axis], sx = in->strides[axis], sy = out->strides[axis];
  const int64_t *strides[2] = {out->strides, in->strides};
  mxc_layout<2> L;
  void *ext = nullptr;
  if (mxc_rows_layout<2>(&L, nd, in->shape, axis, strides, q, &ext) < 0) return -1;
  mxc_scratch_guard g(q);
  g.p = ext;
  int64_t rows = L.n;
  const typename Tr::S *x = (const typename Tr::S *)in->data;
  typename Tr::S *y = (typename Tr::S *)out->data;
  if (reverse) {
    x += (n - 1) * sx;
    y += (n - 1) * sy;
    sx = -sx;
    sy = -sy;
  }
  if (sc_in_order<Tr>() || rows >= (int64_t)mxc_sm_count(dev) * 64 || n <= 16) {
    sc_thread_rows<Tr><<<mxc_blocks(rows, MXC_THREADS, dev), MXC_THREADS, 0, q>>>(
        x, y, rows, n, sx, sy, inclusive, L);
  } else {
    unsigned b = (unsigned)(rows < 65535 * 16 ? rows : 65535 * 16);
    sc_block_rows<Tr><<<b, 256, 0, q>>>(x, y, rows, n, sx, sy, inclusive, L);
  }
  MX_CUDA_CHECK_LAUNCH("scan");
  return 0;
}

typedef int (*sc_fn)(const mx_tensor *, mx_tensor *, int, bool, bool, cudaStream_t, int);

int mx_cuda_scan(const mx_kernel_ctx *ctx, const mx_tensor *in, int n_in, mx_tensor *out,
                 int n_out) {
  static const char *const names[5] = {"cumsum", "cumprod", "cummin", "cummax", "logcumsumexp"};
  const mx_p_scan *p = (const mx_p_scan *)ctx->params;
  if (n_in != 1 || n_out != 1 || !p)
    return mx_fail_int(MX_EINVAL, "[scan] Expected 1 input, 1 output and parameters.");
  if (p->kind < MX_SCAN_SUM || p->kind > MX_SCAN_LOGADDEXP)
    return mx_fail_int(MX_EINVAL, "[scan] Unknown scan kind %d.", (int)p->kind);
  const char *name = names[p->kind];
  mx_dtype t = in->dtype;
  sc_fn fn = nullptr;
#define SC_CASE(kind, sfx) case MX_DT_##sfx: fn = sc_launch<sc_##kind##_##sfx>; break;
  if ((unsigned)t < MX_DTYPE_COUNT) {
    switch (p->kind) {
      case MX_SCAN_SUM: switch (t) { MX_SCAN_sum_TYPES(SC_CASE, sum) default: break; } break;
      case MX_SCAN_PROD: switch (t) { MX_SCAN_prod_TYPES(SC_CASE, prod) default: break; } break;
      case MX_SCAN_MIN: switch (t) { MX_SCAN_min_TYPES(SC_CASE, min) default: break; } break;
      case MX_SCAN_MAX: switch (t) { MX_SCAN_max_TYPES(SC_CASE, max) default: break; } break;
      default: switch (t) { MX_SCAN_logaddexp_TYPES(SC_CASE, logaddexp) default: break; } break;
    }
  }
#undef SC_CASE
  if (!fn || out->dtype != t)
    return mx_fail_int(MX_ETYPE, "[%s] Not supported for %s -> %s.", name, mx_dtype_name(t),
                       mx_dtype_name(out->dtype));
  int nd = in->ndim, axis = p->axis;
  if (axis < 0 || axis >= nd || out->ndim != nd)
    return mx_fail_int(MX_EINVAL, "[%s] Invalid axis %d for an array with %d dimensions.", name,
                       axis, nd);
  if (out->size == 0) return 0;
  return fn(in, out, axis, p->reverse, p->inclusive, (cudaStream_t)ctx->queue, ctx->device_index);
}
