/* sort.cu: Sort, ArgSort, Partition, ArgPartition and SearchSorted on CUDA, twins of
 * cpu/sort.c. Rows along the axis become (key, index) pairs in scratch, padded to a power of
 * two, and go through a bitonic sorting network in global memory (one launch per step);
 * rows of 2048 and more of non-complex dtypes go to CUB's radix sort (sort_radix.cu).
 * Pairs compare by key (NaN after every number, complex lexicographic), then by index, so
 * the result equals the CPU's stable sort; partitions are full sorts (a valid partition). */
#include "elementwise.cuh"

template <int ES> struct gs_word_t;
template <> struct gs_word_t<1> { typedef uint8_t T; };
template <> struct gs_word_t<2> { typedef uint16_t T; };
template <> struct gs_word_t<4> { typedef uint32_t T; };
template <> struct gs_word_t<8> { typedef uint64_t T; };

template <class C> __device__ __forceinline__ bool so_lt(C a, C b) { return a < b; }
__device__ __forceinline__ bool so_lt(float a, float b) { return a < b || (b != b && a == a); }
__device__ __forceinline__ bool so_lt(double a, double b) { return a < b || (b != b && a == a); }
__device__ __forceinline__ bool so_lt(mx_c64 a, mx_c64 b) {
  bool na = a.re != a.re || a.im != a.im, nb = b.re != b.re || b.im != b.im;
  if (na || nb) return !na && nb;
  return a.re < b.re || (a.re == b.re && a.im < b.im);
}

#define SO_TRAITS(a, sfx)                                                                  \
  struct so_##sfx {                                                                        \
    typedef MX_ST_##sfx S;                                                                 \
    typedef MX_CT_##sfx C;                                                                 \
    __device__ static C ld(S v) { return MX_LD_##sfx(v); }                                 \
  };
MX_DTYPE_SFX_LIST(SO_TRAITS, _)

template <class C>
struct so_pair {
  C k;
  uint32_t i; /* >= n: padding, after everything */
};

template <class C>
__device__ __forceinline__ bool so_pair_lt(const so_pair<C> &a, const so_pair<C> &b, uint32_t n) {
  bool pa = a.i >= n, pb = b.i >= n;
  if (pa || pb) return pa && pb ? a.i < b.i : pb;
  if (so_lt(a.k, b.k)) return true;
  if (so_lt(b.k, a.k)) return false;
  return a.i < b.i;
}

/* L: rows (ops: in, out) over the shape with the axis set to 1. */
template <class Tr>
__global__ void __launch_bounds__(MXC_THREADS) so_load(const typename Tr::S *x, int64_t sx,
                                                       so_pair<typename Tr::C> *pr, int64_t rows,
                                                       int64_t n, int64_t P,
                                                       const __grid_constant__ mxc_layout<2> L) {
  const int64_t total = rows * P, step = (int64_t)gridDim.x * blockDim.x;
  for (int64_t t = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; t < total; t += step) {
    int64_t r = t / P, j = t - r * P;
    so_pair<typename Tr::C> p;
    p.i = (uint32_t)j;
    if (j < n) {
      int64_t off[2];
      mxc_offsets<2>(L, r, off);
      p.k = Tr::ld(x[off[0] + j * sx]);
    } else {
      p.k = typename Tr::C();
    }
    pr[t] = p;
  }
}

template <class C>
__global__ void __launch_bounds__(MXC_THREADS) so_step(so_pair<C> *pr, int64_t rows, int64_t P,
                                                       int64_t k, int64_t j, int lj, uint32_t n) {
  const int64_t half = P / 2, total = rows * half, step = (int64_t)gridDim.x * blockDim.x;
  for (int64_t t = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; t < total; t += step) {
    int64_t r = t / half, w = t - r * half;
    int64_t lo = w & (j - 1), idx = ((w >> lj) << (lj + 1)) | lo, par = idx | j;
    so_pair<C> *row = pr + r * P;
    so_pair<C> a = row[idx], b = row[par];
    bool asc = (idx & k) == 0;
    if (asc ? so_pair_lt(b, a, n) : so_pair_lt(a, b, n)) {
      row[idx] = b;
      row[par] = a;
    }
  }
}

template <class Tr, int ES>
__global__ void __launch_bounds__(MXC_THREADS) so_write(const typename Tr::S *x, int64_t sx,
                                                        const so_pair<typename Tr::C> *pr,
                                                        void *y, int64_t sy, bool want_index,
                                                        int64_t rows, int64_t n, int64_t P,
                                                        const __grid_constant__ mxc_layout<2> L) {
  typedef typename gs_word_t<ES>::T T;
  const int64_t total = rows * n, step = (int64_t)gridDim.x * blockDim.x;
  for (int64_t t = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; t < total; t += step) {
    int64_t r = t / n, j = t - r * n, off[2];
    mxc_offsets<2>(L, r, off);
    uint32_t src = pr[r * P + j].i;
    if (want_index) ((uint32_t *)y)[off[1] + j * sy] = src;
    else ((T *)y)[off[1] + j * sy] = ((const T *)x)[off[0] + (int64_t)src * sx];
  }
}

template <class Tr>
static int so_launch(const char *op, const mx_tensor *in, mx_tensor *out, int axis,
                     bool want_index, cudaStream_t q, int dev) {
  typedef typename Tr::C C;
  int nd = in->ndim;
  int64_t n = in->shape[axis], sx = in->strides[axis], sy = out->strides[axis];
  if (n > (int64_t)UINT32_MAX / 2)
    return mx_fail_int(MX_EINVAL, "[%s] Rows of %lld elements are too long.", op, (long long)n);
  int64_t P = 1;
  while (P < n) P <<= 1;
  const int64_t *strides[2] = {in->strides, out->strides};
  mxc_layout<2> L;
  void *ext = nullptr;
  if (mxc_rows_layout<2>(&L, nd, in->shape, axis, strides, q, &ext) < 0) return -1;
  mxc_scratch_guard g(q), pg(q);
  g.p = ext;
  int64_t rows = L.n;
  so_pair<C> *pr = (so_pair<C> *)pg.alloc(sizeof(so_pair<C>) * (size_t)(rows * P));
  if (!pr) return -1;
  const typename Tr::S *x = (const typename Tr::S *)in->data;
  so_load<Tr><<<mxc_blocks(rows * P, MXC_THREADS, dev), MXC_THREADS, 0, q>>>(x, sx, pr, rows, n,
                                                                            P, L);
  MX_CUDA_CHECK_LAUNCH(op);
  unsigned bs = mxc_blocks(rows * P / 2, MXC_THREADS, dev);
  for (int64_t k = 2; k <= P; k <<= 1) {
    for (int64_t j = k >> 1; j > 0; j >>= 1) {
      int lj = 0;
      while ((1LL << lj) < j) lj++;
      so_step<C><<<bs, MXC_THREADS, 0, q>>>(pr, rows, P, k, j, lj, (uint32_t)n);
    }
  }
  MX_CUDA_CHECK_LAUNCH(op);
  unsigned bw = mxc_blocks(rows * n, MXC_THREADS, dev);
  switch (mx_dtype_size(in->dtype)) {
    case 1: so_write<Tr, 1><<<bw, MXC_THREADS, 0, q>>>(x, sx, pr, out->data, sy, want_index, rows, n, P, L); break;
    case 2: so_write<Tr, 2><<<bw, MXC_THREADS, 0, q>>>(x, sx, pr, out->data, sy, want_index, rows, n, P, L); break;
    case 4: so_write<Tr, 4><<<bw, MXC_THREADS, 0, q>>>(x, sx, pr, out->data, sy, want_index, rows, n, P, L); break;
    default: so_write<Tr, 8><<<bw, MXC_THREADS, 0, q>>>(x, sx, pr, out->data, sy, want_index, rows, n, P, L); break;
  }
  MX_CUDA_CHECK_LAUNCH(op);
  return 0;
}

typedef int (*so_fn)(const char *, const mx_tensor *, mx_tensor *, int, bool, cudaStream_t, int);

/* sort_radix.cu: long rows of non-complex dtypes; 1 when it does not take the rows. */
extern "C" int mx_cuda_sort_radix(const char *op, const mx_tensor *in, mx_tensor *out, int axis,
                                  bool want_index, cudaStream_t q, int dev);

static int so_rows(const mx_kernel_ctx *ctx, const char *op, const mx_tensor *in, int n_in,
                   mx_tensor *out, int n_out, int axis, int64_t kth, bool want_index) {
  if (n_in != 1 || n_out != 1 || in->ndim != out->ndim || axis < 0 || axis >= in->ndim)
    return mx_fail_int(MX_EINVAL, "[%s] Expected one input and one output of equal rank.", op);
  if ((unsigned)in->dtype >= MX_DTYPE_COUNT)
    return mx_fail_int(MX_ETYPE, "[%s] Invalid dtype.", op);
  int64_t n = in->shape[axis];
  if (out->size == 0 || n == 0) return 0;
  if (kth >= n) return mx_fail_int(MX_EINVAL, "[%s] kth out of range.", op);
  if (want_index && out->dtype != MX_UINT32)
    return mx_fail_int(MX_ETYPE, "[%s] Index output must be uint32.", op);
  if (!want_index && out->dtype != in->dtype)
    return mx_fail_int(MX_ETYPE, "[%s] Output dtype must match the input.", op);
  int r = mx_cuda_sort_radix(op, in, out, axis, want_index, (cudaStream_t)ctx->queue,
                             ctx->device_index);
  if (r <= 0) return r;
  so_fn fn = nullptr;
#define SO_CASE(a, sfx) case MX_DT_##sfx: fn = so_launch<so_##sfx>; break;
  switch (in->dtype) {
    MX_DTYPE_SFX_LIST(SO_CASE, _)
    default: break;
  }
#undef SO_CASE
  if (!fn) return mx_fail_int(MX_ETYPE, "[%s] Invalid dtype.", op);
  return fn(op, in, out, axis, want_index, (cudaStream_t)ctx->queue, ctx->device_index);
}

int mx_cuda_sort(const mx_kernel_ctx *ctx, const mx_tensor *in, int n_in, mx_tensor *out,
                 int n_out) {
  const mx_p_sort *p = (const mx_p_sort *)ctx->params;
  return so_rows(ctx, "sort", in, n_in, out, n_out, p ? p->axis : -1, -1, false);
}

int mx_cuda_argsort(const mx_kernel_ctx *ctx, const mx_tensor *in, int n_in, mx_tensor *out,
                    int n_out) {
  const mx_p_argsort *p = (const mx_p_argsort *)ctx->params;
  return so_rows(ctx, "argsort", in, n_in, out, n_out, p ? p->axis : -1, -1, true);
}

int mx_cuda_partition(const mx_kernel_ctx *ctx, const mx_tensor *in, int n_in, mx_tensor *out,
                      int n_out) {
  const mx_p_partition *p = (const mx_p_partition *)ctx->params;
  return so_rows(ctx, "partition", in, n_in, out, n_out, p ? p->axis : -1, p ? p->kth : 0, false);
}

int mx_cuda_argpartition(const mx_kernel_ctx *ctx, const mx_tensor *in, int n_in, mx_tensor *out,
                         int n_out) {
  const mx_p_argpartition *p = (const mx_p_argpartition *)ctx->params;
  return so_rows(ctx, "argpartition", in, n_in, out, n_out, p ? p->axis : -1, p ? p->kth : 0,
                 true);
}

/* ---- SearchSorted: a thread per value, the CPU's binary search ---- */

template <class Tr>
__global__ void __launch_bounds__(MXC_THREADS) so_search(const typename Tr::S *a, int64_t as,
                                                         int64_t n, const typename Tr::S *v,
                                                         uint32_t *y, int64_t total, bool right,
                                                         const __grid_constant__ mxc_layout<2> L) {
  typedef typename Tr::C C;
  const int64_t step = (int64_t)gridDim.x * blockDim.x;
  for (int64_t t = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; t < total; t += step) {
    int64_t off[2];
    mxc_offsets<2>(L, t, off);
    C val = Tr::ld(v[off[0]]);
    int64_t lo = 0, hi = n;
    while (lo < hi) {
      int64_t mid = lo + (hi - lo) / 2;
      C x = Tr::ld(a[mid * as]);
      bool go_right = right ? !so_lt(val, x) : so_lt(x, val);
      if (go_right) lo = mid + 1;
      else hi = mid;
    }
    y[off[1]] = (uint32_t)lo;
  }
}

template <class Tr>
static int ss_launch(const mx_tensor *a, const mx_tensor *v, mx_tensor *out, bool right,
                     cudaStream_t q, int dev) {
  int64_t n = a->shape[0], as = n > 1 ? a->strides[0] : 0;
  const int64_t *st[2] = {v->strides, out->strides};
  mxc_layout<2> L;
  void *ext = nullptr;
  if (mxc_layout_init<2>(&L, out->ndim, out->shape, st, q, &ext) < 0) return -1;
  mxc_scratch_guard g(q);
  g.p = ext;
  so_search<Tr><<<mxc_blocks(out->size, MXC_THREADS, dev), MXC_THREADS, 0, q>>>(
      (const typename Tr::S *)a->data, as, n, (const typename Tr::S *)v->data,
      (uint32_t *)out->data, out->size, right, L);
  MX_CUDA_CHECK_LAUNCH("searchsorted");
  return 0;
}

typedef int (*ss_fn)(const mx_tensor *, const mx_tensor *, mx_tensor *, bool, cudaStream_t, int);

int mx_cuda_search_sorted(const mx_kernel_ctx *ctx, const mx_tensor *in, int n_in,
                          mx_tensor *out, int n_out) {
  const mx_p_search_sorted *p = (const mx_p_search_sorted *)ctx->params;
  if (!p || n_in != 2 || n_out != 1 || in[0].ndim != 1 || in[0].dtype != in[1].dtype ||
      out->dtype != MX_UINT32 || out->ndim != in[1].ndim ||
      (unsigned)in[0].dtype >= MX_DTYPE_COUNT)
    return mx_fail_int(MX_EINVAL, "[searchsorted] Inputs do not match the output.");
  if (out->size == 0) return 0;
  ss_fn fn = nullptr;
#define SS_CASE(a, sfx) case MX_DT_##sfx: fn = ss_launch<so_##sfx>; break;
  switch (in[0].dtype) {
    MX_DTYPE_SFX_LIST(SS_CASE, _)
    default: break;
  }
#undef SS_CASE
  if (!fn) return mx_fail_int(MX_EINVAL, "[searchsorted] Inputs do not match the output.");
  return fn(&in[0], &in[1], out, p->right, (cudaStream_t)ctx->queue, ctx->device_index);
}
