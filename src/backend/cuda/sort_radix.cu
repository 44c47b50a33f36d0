/* sort_radix.cu: long rows of Sort, ArgSort, Partition and ArgPartition on CUDA through
 * CUB's stable device radix sort. Each value becomes an unsigned key whose order is the
 * CPU's (numbers ascending, -0.0 equal to 0.0, every NaN last and equal to the others), each
 * row is sorted as (key, index) pairs, so equal keys keep their input order as the CPU's
 * stable sort does, and the result is the indices or the gathered values. */
#include <cub/device/device_radix_sort.cuh>
#include <cub/device/device_segmented_radix_sort.cuh>

#include "elementwise.cuh"

/* per dtype: the key type and its bits, and the key of a stored value */
#define RK_UNSIGNED(sfx, KT, BITS)                                                         \
  struct rk_##sfx {                                                                        \
    typedef MX_ST_##sfx S;                                                                 \
    typedef KT K;                                                                          \
    static constexpr int bits = BITS;                                                      \
    __device__ static K key(S v) { return (K)v; }                                          \
  };
#define RK_SIGNED(sfx, KT, UT, BITS)                                                       \
  struct rk_##sfx {                                                                        \
    typedef MX_ST_##sfx S;                                                                 \
    typedef KT K;                                                                          \
    static constexpr int bits = BITS;                                                      \
    __device__ static K key(S v) { return (K)(UT)v ^ ((K)1 << (BITS - 1)); }               \
  };
RK_UNSIGNED(b, uint32_t, 8)
RK_UNSIGNED(u8, uint32_t, 8)
RK_UNSIGNED(u16, uint32_t, 16)
RK_UNSIGNED(u32, uint32_t, 32)
RK_UNSIGNED(u64, uint64_t, 64)
RK_SIGNED(i8, uint32_t, uint8_t, 8)
RK_SIGNED(i16, uint32_t, uint16_t, 16)
RK_SIGNED(i32, uint32_t, uint32_t, 32)
RK_SIGNED(i64, uint64_t, uint64_t, 64)

__device__ __forceinline__ uint32_t rk_float_key(float v) {
  if (v != v) return 0xFFFFFFFFu;
  if (v == 0.0f) v = 0.0f;
  uint32_t b = __float_as_uint(v);
  return (b & 0x80000000u) ? ~b : (b | 0x80000000u);
}
#define RK_FLOAT(sfx)                                                                      \
  struct rk_##sfx {                                                                        \
    typedef MX_ST_##sfx S;                                                                 \
    typedef uint32_t K;                                                                    \
    static constexpr int bits = 32;                                                        \
    __device__ static K key(S v) { return rk_float_key(MX_LD_##sfx(v)); }                  \
  };
RK_FLOAT(f16)
RK_FLOAT(f32)
RK_FLOAT(bf16)
struct rk_f64 {
  typedef double S;
  typedef uint64_t K;
  static constexpr int bits = 64;
  __device__ static K key(double v) {
    if (v != v) return ~0ull;
    if (v == 0.0) v = 0.0;
    uint64_t b = (uint64_t)__double_as_longlong(v);
    return (b >> 63) ? ~b : (b | (1ull << 63));
  }
};

/* L: rows (ops: in, out) over the shape with the axis set to 1. */
template <class Tr>
__global__ void __launch_bounds__(MXC_THREADS) rk_load(const typename Tr::S *x, int64_t sx,
                                                       typename Tr::K *keys, uint32_t *idx,
                                                       int64_t rows, int64_t n,
                                                       const __grid_constant__ mxc_layout<2> L) {
  const int64_t total = rows * n, step = (int64_t)gridDim.x * blockDim.x;
  for (int64_t t = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; t < total; t += step) {
    int64_t r = t / n, j = t - r * n, off[2];
    mxc_offsets<2>(L, r, off);
    keys[t] = Tr::key(x[off[0] + j * sx]);
    idx[t] = (uint32_t)j;
  }
}

template <class T>
__global__ void __launch_bounds__(MXC_THREADS) rk_write(const T *x, int64_t sx, const uint32_t *src,
                                                        void *y, int64_t sy, bool want_index,
                                                        int64_t rows, int64_t n,
                                                        const __grid_constant__ mxc_layout<2> L) {
  const int64_t total = rows * n, step = (int64_t)gridDim.x * blockDim.x;
  for (int64_t t = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; t < total; t += step) {
    int64_t r = t / n, j = t - r * n, off[2];
    mxc_offsets<2>(L, r, off);
    uint32_t s = src[t];
    if (want_index) ((uint32_t *)y)[off[1] + j * sy] = s;
    else ((T *)y)[off[1] + j * sy] = x[off[0] + (int64_t)s * sx];
  }
}

__global__ void rk_offsets(int *o, int64_t rows, int64_t n) {
  for (int64_t r = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; r <= rows;
       r += (int64_t)gridDim.x * blockDim.x)
    o[r] = (int)(r * n);
}

template <class Tr>
static int rk_launch(const char *op, const mx_tensor *in, mx_tensor *out, int axis,
                     bool want_index, cudaStream_t q, int dev) {
  typedef typename Tr::K K;
  int nd = in->ndim;
  int64_t n = in->shape[axis], sx = in->strides[axis], sy = out->strides[axis];
  const int64_t *strides[2] = {in->strides, out->strides};
  mxc_layout<2> L;
  void *ext = nullptr;
  if (mxc_rows_layout<2>(&L, nd, in->shape, axis, strides, q, &ext) < 0) return -1;
  mxc_scratch_guard g(q), kg(q), ig(q), tg(q), og(q);
  g.p = ext;
  const int64_t rows = L.n, total = rows * n;
  if (total > INT32_MAX)
    return mx_fail_int(MX_EINVAL, "[%s] %lld elements are too many for one radix sort.", op,
                       (long long)total);
  K *keys = (K *)kg.alloc(2 * sizeof(K) * (size_t)total);
  uint32_t *idx = (uint32_t *)ig.alloc(2 * sizeof(uint32_t) * (size_t)total);
  if (!keys || !idx) return -1;
  const typename Tr::S *x = (const typename Tr::S *)in->data;
  unsigned blocks = mxc_blocks(total, MXC_THREADS, dev);
  rk_load<Tr><<<blocks, MXC_THREADS, 0, q>>>(x, sx, keys, idx, rows, n, L);
  MX_CUDA_CHECK_LAUNCH(op);
  cub::DoubleBuffer<K> kb(keys, keys + total);
  cub::DoubleBuffer<uint32_t> vb(idx, idx + total);
  size_t temp = 0;
  cudaError_t e;
  int *offs = nullptr;
  if (rows == 1) {
    e = cub::DeviceRadixSort::SortPairs(nullptr, temp, kb, vb, (int)total, 0, Tr::bits, q);
  } else {
    offs = (int *)og.alloc(sizeof(int) * (size_t)(rows + 1));
    if (!offs) return -1;
    rk_offsets<<<mxc_blocks(rows + 1, MXC_THREADS, dev), MXC_THREADS, 0, q>>>(offs, rows, n);
    e = cub::DeviceSegmentedRadixSort::SortPairs(nullptr, temp, kb, vb, (int)total, (int)rows,
                                                 offs, offs + 1, 0, Tr::bits, q);
  }
  if (e == cudaSuccess) {
    void *t = tg.alloc(temp ? temp : 1);
    if (!t) return -1;
    if (rows == 1)
      e = cub::DeviceRadixSort::SortPairs(t, temp, kb, vb, (int)total, 0, Tr::bits, q);
    else
      e = cub::DeviceSegmentedRadixSort::SortPairs(t, temp, kb, vb, (int)total, (int)rows, offs,
                                                   offs + 1, 0, Tr::bits, q);
  }
  if (e != cudaSuccess) {
    cudaGetLastError();
    return mx_fail_int(MX_ERUNTIME, "[%s] CUDA radix sort failed: %s", op, cudaGetErrorString(e));
  }
  const uint32_t *src = vb.Current();
  switch (mx_dtype_size(in->dtype)) {
    case 1: rk_write<uint8_t><<<blocks, MXC_THREADS, 0, q>>>((const uint8_t *)x, sx, src, out->data, sy, want_index, rows, n, L); break;
    case 2: rk_write<uint16_t><<<blocks, MXC_THREADS, 0, q>>>((const uint16_t *)x, sx, src, out->data, sy, want_index, rows, n, L); break;
    case 4: rk_write<uint32_t><<<blocks, MXC_THREADS, 0, q>>>((const uint32_t *)x, sx, src, out->data, sy, want_index, rows, n, L); break;
    default: rk_write<uint64_t><<<blocks, MXC_THREADS, 0, q>>>((const uint64_t *)x, sx, src, out->data, sy, want_index, rows, n, L); break;
  }
  MX_CUDA_CHECK_LAUNCH(op);
  return 0;
}

/* Rows of at least this many elements go to the radix sort. */
#define RK_MIN_ROW 2048

extern "C" int mx_cuda_sort_radix(const char *op, const mx_tensor *in, mx_tensor *out, int axis,
                                  bool want_index, cudaStream_t q, int dev) {
  if (in->shape[axis] < RK_MIN_ROW || in->shape[axis] > (int64_t)UINT32_MAX / 2) return 1;
  switch (in->dtype) {
#define RK_CASE(sfx) case MX_DT_##sfx: return rk_launch<rk_##sfx>(op, in, out, axis, want_index, q, dev);
    RK_CASE(b) RK_CASE(u8) RK_CASE(u16) RK_CASE(u32) RK_CASE(u64)
    RK_CASE(i8) RK_CASE(i16) RK_CASE(i32) RK_CASE(i64)
    RK_CASE(f16) RK_CASE(f32) RK_CASE(f64) RK_CASE(bf16)
#undef RK_CASE
    default: return 1; /* complex64 keeps the comparison sort */
  }
}
