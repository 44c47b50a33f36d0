/* elementwise.cuh: the one element-wise engine behind unary.cu, binary.cu and ternary.cu.
 * An Op supplies NIN, its input storage types T0..T2 (all three named, unused ones any
 * type), output storage type O and apply(); ew_run picks the linear kernel (contiguous or one-element broadcast operands,
 * 16-byte vector loads/stores when aligned) or the general kernel (strided/broadcast
 * operands through a collapsed layout). Grid-stride loops, 64-bit indices. Depends on cuda.h. */
#ifndef MX_CUDA_ELEMENTWISE_CUH
#define MX_CUDA_ELEMENTWISE_CUH

#include "cuda.h"

struct ew_args {
  void *out;
  const void *in[3];
  int64_t n;
  uint32_t scalar; /* linear kernel: bit k set when input k is one broadcast element */
  uint32_t vec;    /* every streamed pointer is aligned for packs (general: the output) */
  uint32_t byval;  /* bit k set when input k is the one element held in sval[k] */
  uint64_t sval[3];
};

/* Input k's element at offset off: from the arguments when passed by value. */
template <class T>
__device__ __forceinline__ T ew_elem(const ew_args &a, int k, int64_t off) {
  if (a.byval & (1u << k)) {
    T v;
    memcpy(&v, &a.sval[k], sizeof(T));
    return v;
  }
  return ((const T *)a.in[k])[off];
}

template <class Op>
struct ew_width {
  static constexpr int s0 = (int)sizeof(typename Op::T0);
  static constexpr int s1 = Op::NIN >= 2 ? (int)sizeof(typename Op::T1) : 1;
  static constexpr int s2 = Op::NIN >= 3 ? (int)sizeof(typename Op::T2) : 1;
  static constexpr int so = (int)sizeof(typename Op::O);
  static constexpr int m01 = s0 > s1 ? s0 : s1;
  static constexpr int m2o = s2 > so ? s2 : so;
  static constexpr int S = m01 > m2o ? m01 : m2o;
  static constexpr int V = 16 / S; /* elements per thread per step */
};

template <class T, int V>
__device__ __forceinline__ void ew_load(T (&x)[V], const ew_args &a, int k, int64_t i0) {
  const T *q = (const T *)a.in[k];
  if (a.scalar & (1u << k)) {
    T v = ew_elem<T>(a, k, 0);
#pragma unroll
    for (int k = 0; k < V; k++) x[k] = v;
  } else {
    mxc_pack<T, V> pk = *(const mxc_pack<T, V> *)(q + i0);
#pragma unroll
    for (int k = 0; k < V; k++) x[k] = pk.v[k];
  }
}

template <class Op>
__device__ __forceinline__ typename Op::O ew_apply_at(const ew_args &a, const int64_t *off) {
  typename Op::T0 x0 = ew_elem<typename Op::T0>(a, 0, off[0]);
  if constexpr (Op::NIN == 1) {
    return Op::apply(x0);
  } else if constexpr (Op::NIN == 2) {
    typename Op::T1 x1 = ew_elem<typename Op::T1>(a, 1, off[1]);
    return Op::apply(x0, x1);
  } else {
    typename Op::T1 x1 = ew_elem<typename Op::T1>(a, 1, off[1]);
    typename Op::T2 x2 = ew_elem<typename Op::T2>(a, 2, off[2]);
    return Op::apply(x0, x1, x2);
  }
}

/* Contiguous output; each input contiguous or a single broadcast element. */
template <class Op>
__global__ void __launch_bounds__(MXC_THREADS) ew_linear(ew_args a) {
  constexpr int V = ew_width<Op>::V;
  using O = typename Op::O;
  const int64_t nsteps = (a.n + V - 1) / V;
  const int64_t step = (int64_t)gridDim.x * blockDim.x;
  O *out = (O *)a.out;
  for (int64_t t = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; t < nsteps; t += step) {
    const int64_t i0 = t * V;
    if (a.vec && i0 + V <= a.n) {
      mxc_pack<O, V> r;
      typename Op::T0 x0[V];
      ew_load<typename Op::T0, V>(x0, a, 0, i0);
      if constexpr (Op::NIN == 1) {
#pragma unroll
        for (int k = 0; k < V; k++) r.v[k] = Op::apply(x0[k]);
      } else if constexpr (Op::NIN == 2) {
        typename Op::T1 x1[V];
        ew_load<typename Op::T1, V>(x1, a, 1, i0);
#pragma unroll
        for (int k = 0; k < V; k++) r.v[k] = Op::apply(x0[k], x1[k]);
      } else {
        typename Op::T1 x1[V];
        typename Op::T2 x2[V];
        ew_load<typename Op::T1, V>(x1, a, 1, i0);
        ew_load<typename Op::T2, V>(x2, a, 2, i0);
#pragma unroll
        for (int k = 0; k < V; k++) r.v[k] = Op::apply(x0[k], x1[k], x2[k]);
      }
      *(mxc_pack<O, V> *)(out + i0) = r;
    } else {
      for (int k = 0; k < V && i0 + k < a.n; k++) {
        int64_t i = i0 + k, off[3];
        off[0] = (a.scalar & 1u) ? 0 : i;
        off[1] = (a.scalar & 2u) ? 0 : i;
        off[2] = (a.scalar & 4u) ? 0 : i;
        out[i] = ew_apply_at<Op>(a, off);
      }
    }
  }
}

#define EW_ITEMS 4 /* consecutive elements per thread in the general kernel */

/* Contiguous output; inputs through the collapsed layout L (NIN operands). */
template <class Op>
__global__ void __launch_bounds__(MXC_THREADS) ew_general(ew_args a,
                                                          const __grid_constant__ mxc_layout<Op::NIN> L) {
  constexpr int N = Op::NIN;
  using O = typename Op::O;
  O *out = (O *)a.out;
  const int64_t nsteps = (a.n + EW_ITEMS - 1) / EW_ITEMS;
  const int64_t step = (int64_t)gridDim.x * blockDim.x;
  const int64_t inner = L.shape[0];
  for (int64_t t = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; t < nsteps; t += step) {
    int64_t i = t * EW_ITEMS, off[3] = {0, 0, 0};
    int cnt = a.n - i < EW_ITEMS ? (int)(a.n - i) : EW_ITEMS;
    int64_t pos = mxc_offsets<N>(L, i, off);
    if (pos + cnt <= inner) { /* the common case: all items along one innermost run */
      O r[EW_ITEMS];
#pragma unroll
      for (int k = 0; k < EW_ITEMS; k++) {
        if (k < cnt) {
          r[k] = ew_apply_at<Op>(a, off);
#pragma unroll
          for (int op = 0; op < N; op++) off[op] += L.strides[op][0];
        }
      }
      if constexpr (sizeof(O) * EW_ITEMS <= 16) { /* one vector store when aligned */
        if (a.vec && cnt == EW_ITEMS) {
          mxc_pack<O, EW_ITEMS> pk;
#pragma unroll
          for (int k = 0; k < EW_ITEMS; k++) pk.v[k] = r[k];
          *(mxc_pack<O, EW_ITEMS> *)(out + i) = pk;
          continue;
        }
      }
#pragma unroll
      for (int k = 0; k < EW_ITEMS; k++)
        if (k < cnt) out[i + k] = r[k];
    } else { /* the items cross into the next run: full index per item */
#pragma unroll 1
      for (int k = 0; k < cnt; k++) {
        if (k > 0) mxc_offsets<N>(L, i + k, off);
        out[i + k] = ew_apply_at<Op>(a, off);
      }
    }
  }
}

/* Strides of `in` broadcast to `out`'s shape (NumPy rules), into s[out->ndim]. */
static inline int ew_bstrides(const char *name, const mx_tensor *in, const mx_tensor *out,
                              int64_t *s) {
  int nd = out->ndim, lead = nd - in->ndim;
  if (lead < 0) goto bad;
  for (int d = 0; d < nd; d++) {
    if (d < lead) {
      s[d] = 0;
    } else if (in->shape[d - lead] == out->shape[d]) {
      s[d] = out->shape[d] == 1 ? 0 : in->strides[d - lead];
    } else if (in->shape[d - lead] == 1) {
      s[d] = 0;
    } else {
      goto bad;
    }
  }
  return 0;
bad:
  return mx_fail_int(MX_EINVAL, "[%s] An input of %d dims does not broadcast to the output.",
                     name, in->ndim);
}

/* Runs Op on n elements into contiguous dst; each input contiguous, or one broadcast element
 * when its bit is set in `scalar` -- held in sval[k] when its bit is set in `byval`. */
template <class Op>
static int ew_launch_linear(const char *name, cudaStream_t q, int dev, const void *const *in,
                            uint32_t scalar, void *dst, int64_t n, uint32_t byval,
                            const uint64_t *sval) {
  constexpr int N = Op::NIN, V = ew_width<Op>::V;
  const int sizes[3] = {(int)sizeof(typename Op::T0), ew_width<Op>::s1, ew_width<Op>::s2};
  ew_args a;
  a.out = dst;
  a.n = n;
  a.scalar = scalar | byval;
  a.byval = byval;
  a.vec = mxc_align_of(dst) >= (int)sizeof(typename Op::O) * V;
  for (int k = 0; k < 3; k++) {
    a.in[k] = k < N ? in[k] : nullptr;
    a.sval[k] = sval && (byval & (1u << k)) ? sval[k] : 0;
  }
  for (int k = 0; k < N; k++)
    if (!(scalar & (1u << k)) && mxc_align_of(in[k]) < sizes[k] * V) a.vec = 0;
  ew_linear<Op><<<mxc_blocks_all((n + V - 1) / V, MXC_THREADS), MXC_THREADS, 0, q>>>(a);
  cudaError_t e = cudaGetLastError();
  if (e != cudaSuccess)
    return mx_fail_int(MX_ERUNTIME, "[%s] CUDA error: %s", name, cudaGetErrorString(e));
  return 0;
}
template <class Op>
static int ew_run_linear(const char *name, cudaStream_t q, int dev, const void *const *in,
                         uint32_t scalar, void *dst, int64_t n) {
  return ew_launch_linear<Op>(name, q, dev, in, scalar, dst, n, 0, nullptr);
}
typedef int (*ew_linear_fn)(const char *name, cudaStream_t q, int dev, const void *const *in,
                            uint32_t scalar, void *dst, int64_t n);

/* Runs Op over inputs already broadcast to out's shape (strides[k] per input, over
 * out->ndim dims) into `dst` (contiguous, n = out->size elements of Op::O). */
template <class Op>
static int ew_run(const char *name, const mx_kernel_ctx *ctx, const mx_tensor *in,
                  const int64_t *const *strides, const mx_tensor *out, void *dst) {
  constexpr int N = Op::NIN;
  cudaStream_t q = (cudaStream_t)ctx->queue;
  int dev = ctx->device_index;
  mxc_layout<N> L;
  void *ext = nullptr;
  if (mxc_layout_init<N>(&L, out->ndim, out->shape, strides, q, &ext) < 0) return -1;
  const void *ptrs[3] = {nullptr, nullptr, nullptr};
  uint32_t byval = 0;
  uint64_t sval[3] = {0, 0, 0};
  for (int k = 0; k < N; k++) {
    ptrs[k] = in[k].data;
    if (in[k].flags & MX_ON_HOST) { /* one element, read here (DESIGN section 4) */
      byval |= 1u << k;
      memcpy(&sval[k], in[k].data, (size_t)mx_dtype_size(in[k].dtype));
      ptrs[k] = nullptr;
    }
  }
  uint32_t scalar = 0;
  bool linear = L.ndim == 1;
  for (int k = 0; k < N && linear; k++) {
    int64_t s = L.strides[k][0];
    if (s == 0 || (byval & (1u << k))) scalar |= 1u << k;
    else if (s != 1) linear = false;
  }
  if (linear) return ew_launch_linear<Op>(name, q, dev, ptrs, scalar, dst, out->size, byval, sval);
  ew_args a;
  a.out = dst;
  a.n = out->size;
  a.scalar = 0;
  a.byval = byval;
  for (int k = 0; k < 3; k++) a.sval[k] = sval[k];
  a.vec = mxc_align_of(dst) >= (int)sizeof(typename Op::O) * EW_ITEMS; /* output packs */
  for (int k = 0; k < 3; k++) a.in[k] = ptrs[k];
  unsigned blocks = mxc_blocks((a.n + EW_ITEMS - 1) / EW_ITEMS, MXC_THREADS, dev);
  ew_general<Op><<<blocks, MXC_THREADS, 0, q>>>(a, L);
  cudaError_t e = cudaGetLastError();
  if (ext) mx_cuda_scratch_free(ext, q);
  if (e != cudaSuccess)
    return mx_fail_int(MX_ERUNTIME, "[%s] CUDA error: %s", name, cudaGetErrorString(e));
  return 0;
}

/* The launcher type each family's dispatch table holds. `res_dt` is Op's output dtype;
 * when out->dtype differs the result goes through scratch and an astype. */
typedef int (*ew_launch_fn)(const char *name, const mx_kernel_ctx *ctx, const mx_tensor *in,
                            const int64_t *const *strides, const mx_tensor *out, void *dst);

/* Runs a launcher into out, converting through scratch when out's dtype is not res_dt. */
static inline int ew_dispatch(ew_launch_fn fn, mx_dtype res_dt, const char *name,
                              const mx_kernel_ctx *ctx, const mx_tensor *in,
                              const int64_t *const *strides, mx_tensor *out) {
  if (out->dtype == res_dt) return fn(name, ctx, in, strides, out, out->data);
  cudaStream_t q = (cudaStream_t)ctx->queue;
  mxc_scratch_guard tmp(q);
  if (!tmp.alloc((size_t)out->size * (size_t)mx_dtype_size(res_dt))) return -1;
  if (fn(name, ctx, in, strides, out, tmp.p) < 0) return -1;
  return mx_cuda_convert(tmp.p, res_dt, out->data, out->dtype, out->size, q, ctx->device_index);
}

/* True if t's strides are row-major for its shape (size-1 dims ignored). */
static inline bool mxc_is_row_contig(const mx_tensor *t) {
  if (t->size == 0) return true; /* nothing to address */
  int64_t expect = 1;
  for (int d = t->ndim - 1; d >= 0; d--) {
    if (t->shape[d] == 1) continue;
    if (t->strides[d] != expect) return false;
    expect *= t->shape[d];
  }
  return true;
}

/* Broadcast strides for up to 3 inputs, inline up to 16 dims, heap beyond. */
struct ew_bstride_set {
  int64_t *s[3];
  int64_t inl[3][16];
  int64_t *heap;
  ew_bstride_set() : heap(nullptr) {}
  ~ew_bstride_set() { free(heap); }
  int init(const char *name, const mx_tensor *in, int n_in, const mx_tensor *out) {
    int nd = out->ndim;
    if (nd > 16) {
      heap = (int64_t *)malloc(sizeof(int64_t) * 3 * (size_t)nd);
      if (!heap)
        return mx_fail_int(MX_ENOMEM, "[malloc] Unable to allocate %zu bytes.",
                           sizeof(int64_t) * 3 * (size_t)nd);
    }
    for (int k = 0; k < 3; k++) s[k] = heap ? heap + k * nd : inl[k];
    for (int k = 0; k < n_in; k++)
      if (ew_bstrides(name, &in[k], out, s[k]) < 0) return -1;
    return 0;
  }
};

#endif
