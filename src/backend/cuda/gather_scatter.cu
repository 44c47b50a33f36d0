/* gather_scatter.cu: Gather, GatherAxis, Scatter, ScatterAxis, DynamicSlice and
 * DynamicSliceUpdate on CUDA, twins of cpu/gather_scatter.c: every dtype, index arrays of any
 * integer dtype and any strides; negative indices wrap once, then gathers / dynamic slices
 * clamp the window into the input and scatters drop an update whose window would leave the
 * output. Scatter reductions (sum/prod/max/min) use compare-and-swap loops on the aligned
 * 32/64-bit word holding the element (atomicAdd for float32 sums). One thread per element.
 * MaskedScatter: mask flags, a CUB exclusive prefix sum, a write pass. */
#include <type_traits>

#include <cub/device/device_scan.cuh>

#include "elementwise.cuh"

/* ---- indices ---- */

static int gs_check_index(const char *op, mx_dtype t) {
  if (!mx_dtype_is_integer(t))
    return mx_fail_int(MX_ETYPE, "[%s] Cannot gather with indices type.", op);
  return 0;
}

/* Unsigned storage of an element size. */
template <int ES> struct gs_word;
template <> struct gs_word<1> { typedef uint8_t T; };
template <> struct gs_word<2> { typedef uint16_t T; };
template <> struct gs_word<4> { typedef uint32_t T; };
template <> struct gs_word<8> { typedef uint64_t T; };

/* ---- host helpers: donation overlap, base copy ---- */

static bool gs_overlaps(const mx_tensor *a, const mx_tensor *out) {
  if (a->size == 0 || out->size == 0) return false;
  int64_t lo = 0, hi = 0;
  for (int d = 0; d < a->ndim; d++) {
    int64_t e = (int64_t)(a->shape[d] - 1) * a->strides[d];
    if (e > 0) hi += e;
    else lo += e;
  }
  const char *b0 = (const char *)a->data + lo * mx_dtype_size(a->dtype);
  const char *b1 = (const char *)a->data + (hi + 1) * mx_dtype_size(a->dtype);
  const char *o0 = (const char *)out->data;
  const char *o1 = o0 + out->size * mx_dtype_size(out->dtype);
  return b0 < o1 && o0 < b1;
}

/* An input, or a row-contiguous scratch copy of it when it overlaps the output. */
struct gs_held {
  mx_tensor t;
  int64_t *st;
  mxc_scratch_guard g;
  gs_held(cudaStream_t q) : st(nullptr), g(q) {}
  ~gs_held() { free(st); }
  int hold(const mx_tensor *in, const mx_tensor *out, int dev) {
    t = *in;
    if (!gs_overlaps(in, out)) return 0;
    int nd = in->ndim;
    st = (int64_t *)malloc(sizeof(int64_t) * (size_t)(nd > 0 ? nd : 1));
    if (!st) return mx_fail_int(MX_ENOMEM, "[malloc] Unable to allocate strides.");
    int64_t s = 1;
    for (int d = nd - 1; d >= 0; d--) {
      st[d] = s;
      s *= in->shape[d];
    }
    if (!g.alloc((size_t)in->size * (size_t)mx_dtype_size(in->dtype))) return -1;
    t.data = g.p;
    t.strides = st;
    t.flags = 0;
    return mx_cuda_copy_strided(in, &t, g.q, dev);
  }
};

static int gs_copy_base(const mx_tensor *a, mx_tensor *out, cudaStream_t q, int dev) {
  if (out->data == a->data && out->dtype == a->dtype && mxc_is_row_contig(a)) return 0;
  return mx_cuda_copy_strided(a, out, q, dev);
}

/* ---- atomic read-modify-write of any element size ---- */

template <class S, class F>
__device__ __forceinline__ void gs_atomic(S *p, S val, F f) {
  if constexpr (sizeof(S) == 4 || sizeof(S) == 8) {
    typedef typename gs_word<sizeof(S)>::T W;
    typedef typename std::conditional<sizeof(S) == 4, unsigned int, unsigned long long>::type A;
    A *a = (A *)p;
    A old = *(volatile A *)a, assumed;
    do {
      assumed = old;
      S cur;
      W cw = (W)assumed;
      memcpy(&cur, &cw, sizeof(S));
      S nv = f(cur, val);
      W nw;
      memcpy(&nw, &nv, sizeof(S));
      old = atomicCAS(a, assumed, (A)nw);
    } while (old != assumed);
  } else {
    typedef typename gs_word<sizeof(S)>::T W;
    uintptr_t addr = (uintptr_t)p;
    unsigned int *a = (unsigned int *)(addr & ~(uintptr_t)3);
    unsigned shift = (unsigned)(addr & 3) * 8;
    unsigned mask = (sizeof(S) == 1 ? 0xffu : 0xffffu) << shift;
    unsigned old = *(volatile unsigned *)a, assumed;
    do {
      assumed = old;
      W cw = (W)((assumed & mask) >> shift);
      S cur;
      memcpy(&cur, &cw, sizeof(S));
      S nv = f(cur, val);
      W nw;
      memcpy(&nw, &nv, sizeof(S));
      unsigned nword = (assumed & ~mask) | (((unsigned)nw << shift) & mask);
      old = atomicCAS(a, assumed, nword);
    } while (old != assumed);
  }
}

#define GS_COMB(name, stem, sfx)                                                           \
  struct gs_##name##_##sfx {                                                               \
    typedef MX_ST_##sfx S;                                                                 \
    __device__ S operator()(S d, S s) const {                                              \
      return MX_SV_##sfx(MX_FN(stem, sfx)(MX_LD_##sfx(d), MX_LD_##sfx(s)));                \
    }                                                                                      \
  };
#define GS_COMB_ALL(unused, sfx) \
  GS_COMB(sum, add, sfx) GS_COMB(prod, multiply, sfx) GS_COMB(max, maximum, sfx) GS_COMB(min, minimum, sfx)
MX_DTYPE_SFX_LIST(GS_COMB_ALL, _)

/* Assignment: a plain store of the element's bits. */
template <class S>
struct gs_assign {
  typedef S ST;
};
template <class F> struct requires_assign : std::false_type {};
template <class S> struct requires_assign<gs_assign<S>> : std::true_type {};

template <class F>
__device__ __forceinline__ void gs_apply(typename F::S *d, typename F::S s) {
  if constexpr (std::is_same<F, gs_sum_f32>::value) atomicAdd(d, s);
  else gs_atomic(d, s, F());
}

/* ---- Gather ---- */

/* Per-index-array parameters, in device scratch after the index shape. */
struct gs_iarr {
  const void *p;
  int32_t dt, axis;
  int64_t dim, astride, w;
};

template <int ES>
__global__ void __launch_bounds__(MXC_THREADS) gs_gather(
    const void *a, void *out, int64_t n, int64_t wsize, int k, int ind, const int64_t *ishape,
    const int64_t *istr, const gs_iarr *arr, const __grid_constant__ mxc_layout<1> W) {
  typedef typename gs_word<ES>::T T;
  const int64_t step = (int64_t)gridDim.x * blockDim.x;
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += step) {
    int64_t pos = i / wsize, w = i - pos * wsize, woff[1];
    mxc_offsets<1>(W, w, woff);
    int64_t base = woff[0];
    for (int j = 0; j < k; j++) {
      int64_t off = 0, r = pos;
      for (int d = ind - 1; d >= 0; d--) {
        int64_t s = ishape[d], c = r % s;
        r /= s;
        off += c * istr[j * ind + d];
      }
      const gs_iarr &ar = arr[j];
      base += mx_index_clamp(mx_index_load(ar.p, off, ar.dt), ar.dim, ar.w) * ar.astride;
    }
    ((T *)out)[i] = ((const T *)a)[base];
  }
}

/* Uploads the index shape, strides and gs_iarr records of k index arrays (ind dims). */
static void *gs_upload_index(const mx_tensor *idx, int k, int ind, const int32_t *ishape,
                             const int *axes, const int64_t *dims, const int64_t *astr,
                             const int64_t *wins, cudaStream_t q, int64_t **d_shape,
                             int64_t **d_str, gs_iarr **d_arr) {
  size_t n64 = (size_t)ind + (size_t)k * (size_t)ind;
  size_t bytes = n64 * 8 + (size_t)k * sizeof(gs_iarr) + 8;
  char *h = (char *)malloc(bytes);
  if (!h) {
    mx_fail_int(MX_ENOMEM, "[malloc] Unable to allocate %zu bytes.", bytes);
    return nullptr;
  }
  int64_t *hs = (int64_t *)h;
  for (int d = 0; d < ind; d++) hs[d] = ishape[d];
  for (int j = 0; j < k; j++)
    for (int d = 0; d < ind; d++) {
      /* the index arrays' leading dims (as the CPU); dims they lack or hold once: stride 0 */
      bool has = d < idx[j].ndim && idx[j].shape[d] != 1;
      hs[ind + j * ind + d] = has ? idx[j].strides[d] : 0;
    }
  gs_iarr *ha = (gs_iarr *)(h + n64 * 8);
  for (int j = 0; j < k; j++) {
    ha[j].p = idx[j].data;
    ha[j].dt = idx[j].dtype;
    ha[j].axis = axes[j];
    ha[j].dim = dims[j];
    ha[j].astride = astr[j];
    ha[j].w = wins[j];
  }
  void *dv = mx_cuda_scratch(bytes, q);
  if (!dv) {
    free(h);
    return nullptr;
  }
  cudaError_t e = cudaMemcpyAsync(dv, h, bytes, cudaMemcpyHostToDevice, q);
  free(h);
  if (e != cudaSuccess) {
    mx_cuda_scratch_free(dv, q);
    mx_fail_int(MX_ERUNTIME, "[gather] CUDA error: %s", cudaGetErrorString(e));
    return nullptr;
  }
  *d_shape = (int64_t *)dv;
  *d_str = (int64_t *)dv + ind;
  *d_arr = (gs_iarr *)((char *)dv + n64 * 8);
  return dv;
}

int mx_cuda_gather(const mx_kernel_ctx *ctx, const mx_tensor *in, int n_in, mx_tensor *out,
                   int n_out) {
  const mx_p_gather *p = (const mx_p_gather *)ctx->params;
  if (!p || n_out != 1 || n_in != p->axes.n + 1)
    return mx_fail_int(MX_EINVAL, "[gather] Inputs do not match the parameters.");
  const mx_tensor *a = &in[0];
  int k = p->axes.n, nd = a->ndim, ind = out->ndim - nd;
  if (ind < 0 || p->slice_sizes.n != nd)
    return mx_fail_int(MX_EINVAL, "[gather] Output does not match the parameters.");
  if (out->size == 0) return 0;
  if (!mxc_is_row_contig(out))
    return mx_fail_int(MX_EINVAL, "[gather] The output must be row-contiguous.");
  for (int j = 0; j < k; j++)
    if (gs_check_index("gather", in[1 + j].dtype) < 0) return -1;
  cudaStream_t q = (cudaStream_t)ctx->queue;
  int dev = ctx->device_index;
  int64_t wsize = 1;
  for (int d = 0; d < nd; d++) wsize *= p->slice_sizes.v[d];
  const int64_t *wst[1] = {a->strides};
  mxc_layout<1> W;
  void *wext = nullptr;
  if (mxc_layout_init<1>(&W, nd, p->slice_sizes.v, wst, q, &wext) < 0) return -1;
  mxc_scratch_guard wg(q);
  wg.p = wext;
  int64_t *dims = (int64_t *)malloc(sizeof(int64_t) * 3 * (size_t)(k + 1));
  if (!dims) return mx_fail_int(MX_ENOMEM, "[malloc] Unable to allocate index records.");
  int64_t *astr = dims + (k + 1), *wins = astr + (k + 1);
  for (int j = 0; j < k; j++) {
    int ax = p->axes.v[j];
    dims[j] = a->shape[ax];
    astr[j] = a->strides[ax];
    wins[j] = p->slice_sizes.v[ax];
  }
  int64_t *ds = nullptr, *dst = nullptr;
  gs_iarr *darr = nullptr;
  void *blk = gs_upload_index(in + 1, k, ind, out->shape, p->axes.v, dims, astr, wins, q, &ds,
                              &dst, &darr);
  free(dims);
  if (!blk) return -1;
  mxc_scratch_guard bg(q);
  bg.p = blk;
  int64_t n = out->size;
  unsigned b = mxc_blocks(n, MXC_THREADS, dev);
  switch (mx_dtype_size(a->dtype)) {
    case 1: gs_gather<1><<<b, MXC_THREADS, 0, q>>>(a->data, out->data, n, wsize, k, ind, ds, dst, darr, W); break;
    case 2: gs_gather<2><<<b, MXC_THREADS, 0, q>>>(a->data, out->data, n, wsize, k, ind, ds, dst, darr, W); break;
    case 4: gs_gather<4><<<b, MXC_THREADS, 0, q>>>(a->data, out->data, n, wsize, k, ind, ds, dst, darr, W); break;
    default: gs_gather<8><<<b, MXC_THREADS, 0, q>>>(a->data, out->data, n, wsize, k, ind, ds, dst, darr, W); break;
  }
  MX_CUDA_CHECK_LAUNCH("gather");
  return 0;
}

/* ---- GatherAxis: L over out's shape, ops (out, idx, a with the axis stride 0) ---- */

template <int ES>
__global__ void __launch_bounds__(MXC_THREADS) gs_gather_axis(
    const void *a, const void *idx, int idt, void *out, int64_t n, int64_t dim, int64_t astride,
    const __grid_constant__ mxc_layout<3> L) {
  typedef typename gs_word<ES>::T T;
  const int64_t step = (int64_t)gridDim.x * blockDim.x;
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += step) {
    int64_t off[3];
    mxc_offsets<3>(L, i, off);
    int64_t v = mx_index_clamp(mx_index_load(idx, off[1], idt), dim, 1);
    ((T *)out)[off[0]] = ((const T *)a)[off[2] + v * astride];
  }
}

int mx_cuda_gather_axis(const mx_kernel_ctx *ctx, const mx_tensor *in, int n_in, mx_tensor *out,
                        int n_out) {
  const mx_p_gather_axis *p = (const mx_p_gather_axis *)ctx->params;
  if (!p || n_in != 2 || n_out != 1 || in[0].ndim != out->ndim || in[1].ndim != out->ndim ||
      p->axis < 0 || p->axis >= out->ndim)
    return mx_fail_int(MX_EINVAL, "[gather_axis] Inputs do not match the parameters.");
  if (out->size == 0) return 0;
  if (gs_check_index("GatherAxis::eval_cpu", in[1].dtype) < 0) return -1;
  const mx_tensor *a = &in[0], *idx = &in[1];
  int nd = out->ndim, ax = p->axis;
  cudaStream_t q = (cudaStream_t)ctx->queue;
  int dev = ctx->device_index;
  int64_t *ast = (int64_t *)malloc((size_t)nd * sizeof(int64_t));
  if (!ast) return mx_fail_int(MX_ENOMEM, "[malloc] Unable to allocate strides.");
  for (int d = 0; d < nd; d++) ast[d] = d == ax ? 0 : a->strides[d];
  const int64_t *st[3] = {out->strides, idx->strides, ast};
  mxc_layout<3> L;
  void *ext = nullptr;
  int rc = mxc_layout_init<3>(&L, nd, out->shape, st, q, &ext);
  free(ast);
  if (rc < 0) return -1;
  mxc_scratch_guard g(q);
  g.p = ext;
  int64_t n = out->size, dim = a->shape[ax], as = a->strides[ax];
  unsigned b = mxc_blocks(n, MXC_THREADS, dev);
  switch (mx_dtype_size(a->dtype)) {
    case 1: gs_gather_axis<1><<<b, MXC_THREADS, 0, q>>>(a->data, idx->data, idx->dtype, out->data, n, dim, as, L); break;
    case 2: gs_gather_axis<2><<<b, MXC_THREADS, 0, q>>>(a->data, idx->data, idx->dtype, out->data, n, dim, as, L); break;
    case 4: gs_gather_axis<4><<<b, MXC_THREADS, 0, q>>>(a->data, idx->data, idx->dtype, out->data, n, dim, as, L); break;
    default: gs_gather_axis<8><<<b, MXC_THREADS, 0, q>>>(a->data, idx->data, idx->dtype, out->data, n, dim, as, L); break;
  }
  MX_CUDA_CHECK_LAUNCH("gather_axis");
  return 0;
}

/* ---- Scatter ---- */

/* F: a combine functor (F::S the storage type), or gs_assign<T> for plain stores.
 * U: layout of the full updates shape (its strides); W: window shape with out's strides. */
template <class F>
__global__ void __launch_bounds__(MXC_THREADS) gs_scatter(
    void *out, const void *upd, int64_t n, int64_t wsize, int k, int ind, const int64_t *ishape,
    const int64_t *istr, const gs_iarr *arr, const __grid_constant__ mxc_layout<1> U,
    const __grid_constant__ mxc_layout<1> W) {
  const int64_t step = (int64_t)gridDim.x * blockDim.x;
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += step) {
    int64_t pos = i / wsize, w = i - pos * wsize, woff[1], uoff[1];
    mxc_offsets<1>(W, w, woff);
    int64_t base = woff[0];
    bool inside = true;
    for (int j = 0; j < k; j++) {
      int64_t off = 0, r = pos;
      for (int d = ind - 1; d >= 0; d--) {
        int64_t s = ishape[d], c = r % s;
        r /= s;
        off += c * istr[j * ind + d];
      }
      const gs_iarr &ar = arr[j];
      int64_t v = mx_index_wrap(mx_index_load(ar.p, off, ar.dt), ar.dim);
      if (v < 0 || v > ar.dim - ar.w) inside = false;
      else base += v * ar.astride;
    }
    if (!inside) continue;
    mxc_offsets<1>(U, i, uoff);
    if constexpr (requires_assign<F>::value) {
      typedef typename F::ST T;
      ((T *)out)[base] = ((const T *)upd)[uoff[0]];
    } else {
      typedef typename F::S S;
      gs_apply<F>((S *)out + base, ((const S *)upd)[uoff[0]]);
    }
  }
}

/* Launches kernel K<F> for the reduce kind and dtype: F from the combine family, or an
 * assignment by element size. */
#define GS_KIND_SWITCH(LAUNCH, reduce, dt, es, name)                                        \
  do {                                                                                     \
    if ((reduce) < 0 || ((reduce) != MX_REDUCE_SUM && (reduce) != MX_REDUCE_PROD &&       \
                         (reduce) != MX_REDUCE_MAX && (reduce) != MX_REDUCE_MIN)) {       \
      switch (es) {                                                                        \
        case 1: LAUNCH(gs_assign<uint8_t>); break;                                         \
        case 2: LAUNCH(gs_assign<uint16_t>); break;                                        \
        case 4: LAUNCH(gs_assign<uint32_t>); break;                                        \
        default: LAUNCH(gs_assign<uint64_t>); break;                                       \
      }                                                                                    \
      break;                                                                               \
    }                                                                                      \
    switch (dt) {                                                                          \
      MX_DTYPE_SFX_LIST(GS_KIND_CASE_##LAUNCH, reduce)                                     \
      default: return mx_fail_int(MX_ETYPE, "[%s] Unsupported dtype.", name);               \
    }                                                                                      \
  } while (0)

#define GS_KIND_CASE(LAUNCH, reduce, sfx)                                                  \
  case MX_DT_##sfx:                                                                        \
    switch (reduce) {                                                                      \
      case MX_REDUCE_SUM: LAUNCH(gs_sum_##sfx); break;                                     \
      case MX_REDUCE_PROD: LAUNCH(gs_prod_##sfx); break;                                   \
      case MX_REDUCE_MAX: LAUNCH(gs_max_##sfx); break;                                     \
      default: LAUNCH(gs_min_##sfx); break;                                                \
    }                                                                                      \
    break;

#define SC_LAUNCH(F)                                                                       \
  gs_scatter<F><<<b, MXC_THREADS, 0, q>>>(out->data, upd->data, n, wsize, k, ind, ds, dst, \
                                          darr, U, W)
#define GS_KIND_CASE_SC_LAUNCH(reduce, sfx) GS_KIND_CASE(SC_LAUNCH, reduce, sfx)

int mx_cuda_scatter(const mx_kernel_ctx *ctx, const mx_tensor *in, int n_in, mx_tensor *out,
                    int n_out) {
  const mx_p_scatter *p = (const mx_p_scatter *)ctx->params;
  if (!p || n_out != 1 || n_in != p->axes.n + 2 || in[0].ndim != out->ndim)
    return mx_fail_int(MX_EINVAL, "[scatter] Inputs do not match the parameters.");
  int k = p->axes.n, nd = out->ndim;
  cudaStream_t q = (cudaStream_t)ctx->queue;
  int dev = ctx->device_index;
  if (n_in > 34) return mx_fail_int(MX_EINVAL, "[scatter] Too many index arrays.");
  gs_held h[33] = {q, q, q, q, q, q, q, q, q, q, q, q, q, q, q, q, q,
                   q, q, q, q, q, q, q, q, q, q, q, q, q, q, q, q};
  for (int j = 1; j < n_in; j++)
    if (h[j - 1].hold(&in[j], out, dev) < 0) return -1;
  if (gs_copy_base(&in[0], out, q, dev) < 0) return -1;
  const mx_tensor *upd = &h[k].t;
  int ind = upd->ndim - nd;
  if (ind < 0) return mx_fail_int(MX_EINVAL, "[scatter] Updates do not match the output.");
  for (int j = 0; j < k; j++)
    if (gs_check_index("scatter", h[j].t.dtype) < 0) return -1;
  if (upd->size == 0) return 0;
  const int32_t *wshape = upd->shape + ind;
  int64_t wsize = 1;
  for (int d = 0; d < nd; d++) wsize *= wshape[d];
  mxc_layout<1> U, W;
  void *uext = nullptr, *wext = nullptr;
  const int64_t *ust[1] = {upd->strides}, *wst[1] = {out->strides};
  if (mxc_layout_init<1>(&U, upd->ndim, upd->shape, ust, q, &uext) < 0) return -1;
  mxc_scratch_guard ug(q), wg(q);
  ug.p = uext;
  if (mxc_layout_init<1>(&W, nd, wshape, wst, q, &wext) < 0) return -1;
  wg.p = wext;
  mx_tensor idx[32];
  int64_t dims[33], astr[33], wins[33];
  for (int j = 0; j < k; j++) {
    int ax = p->axes.v[j];
    idx[j] = h[j].t;
    dims[j] = out->shape[ax];
    astr[j] = out->strides[ax];
    wins[j] = wshape[ax];
  }
  int64_t *ds = nullptr, *dst = nullptr;
  gs_iarr *darr = nullptr;
  void *blk = gs_upload_index(idx, k, ind, upd->shape, p->axes.v, dims, astr, wins, q, &ds,
                              &dst, &darr);
  if (!blk) return -1;
  mxc_scratch_guard bg(q);
  bg.p = blk;
  int64_t n = upd->size;
  unsigned b = mxc_blocks(n, MXC_THREADS, dev);
  GS_KIND_SWITCH(SC_LAUNCH, p->reduce, out->dtype, mx_dtype_size(out->dtype), "scatter");
  MX_CUDA_CHECK_LAUNCH("scatter");
  return 0;
}

/* ---- ScatterAxis: L over idx's shape, ops (out with the axis stride 0, idx, updates) ---- */

template <class F>
__global__ void __launch_bounds__(MXC_THREADS) gs_scatter_axis(
    void *out, const void *idx, int idt, const void *upd, int64_t n, int64_t dim,
    int64_t ostride, const __grid_constant__ mxc_layout<3> L) {
  const int64_t step = (int64_t)gridDim.x * blockDim.x;
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += step) {
    int64_t off[3];
    mxc_offsets<3>(L, i, off);
    int64_t v = mx_index_wrap(mx_index_load(idx, off[1], idt), dim);
    if (v < 0 || v >= dim) continue;
    int64_t o = off[0] + v * ostride;
    if constexpr (requires_assign<F>::value) {
      typedef typename F::ST T;
      ((T *)out)[o] = ((const T *)upd)[off[2]];
    } else {
      typedef typename F::S S;
      gs_apply<F>((S *)out + o, ((const S *)upd)[off[2]]);
    }
  }
}

#define SA_LAUNCH(F)                                                                       \
  gs_scatter_axis<F><<<b, MXC_THREADS, 0, q>>>(out->data, idx->data, idx->dtype, upd->data, n, \
                                               dim, os, L)
#define GS_KIND_CASE_SA_LAUNCH(reduce, sfx) GS_KIND_CASE(SA_LAUNCH, reduce, sfx)

int mx_cuda_scatter_axis(const mx_kernel_ctx *ctx, const mx_tensor *in, int n_in, mx_tensor *out,
                         int n_out) {
  const mx_p_scatter_axis *p = (const mx_p_scatter_axis *)ctx->params;
  if (!p || n_in != 3 || n_out != 1 || in[0].ndim != out->ndim || in[1].ndim != out->ndim ||
      in[2].ndim != out->ndim || p->axis < 0 || p->axis >= out->ndim)
    return mx_fail_int(MX_EINVAL, "[scatter_axis] Inputs do not match the parameters.");
  cudaStream_t q = (cudaStream_t)ctx->queue;
  int dev = ctx->device_index;
  gs_held h0(q), h1(q);
  if (h0.hold(&in[1], out, dev) < 0 || h1.hold(&in[2], out, dev) < 0) return -1;
  if (gs_copy_base(&in[0], out, q, dev) < 0) return -1;
  if (gs_check_index("scatter_axis", in[1].dtype) < 0) return -1;
  const mx_tensor *idx = &h0.t, *upd = &h1.t;
  if (idx->size == 0) return 0;
  int nd = out->ndim, ax = p->axis;
  int64_t dim = out->shape[ax], os = out->strides[ax];
  int64_t *ost = (int64_t *)malloc((size_t)nd * sizeof(int64_t));
  if (!ost) return mx_fail_int(MX_ENOMEM, "[malloc] Unable to allocate strides.");
  for (int d = 0; d < nd; d++) ost[d] = d == ax ? 0 : out->strides[d];
  const int64_t *st[3] = {ost, idx->strides, upd->strides};
  mxc_layout<3> L;
  void *ext = nullptr;
  int rc = mxc_layout_init<3>(&L, nd, idx->shape, st, q, &ext);
  free(ost);
  if (rc < 0) return -1;
  mxc_scratch_guard g(q);
  g.p = ext;
  int64_t n = idx->size;
  unsigned b = mxc_blocks(n, MXC_THREADS, dev);
  GS_KIND_SWITCH(SA_LAUNCH, p->reduce, out->dtype, mx_dtype_size(out->dtype), "scatter_axis");
  MX_CUDA_CHECK_LAUNCH("scatter_axis");
  return 0;
}

/* ---- DynamicSlice / DynamicSliceUpdate: window starts read on the device ---- */

struct gs_dyn {
  int32_t k;
  int32_t dt;
  int64_t sstride;          /* the start array's stride */
  int64_t dim[MXC_MAXD], str[MXC_MAXD], w[MXC_MAXD]; /* per listed axis of the sliced array */
};

__device__ __forceinline__ int64_t gs_dyn_offset(const void *start, const gs_dyn &D) {
  int64_t off = 0;
  for (int j = 0; j < D.k; j++)
    off += mx_index_clamp(mx_index_load(start, j * D.sstride, D.dt), D.dim[j], D.w[j]) * D.str[j];
  return off;
}

/* L over the window shape: op 0 the destination, op 1 the source; `dyn_dst`: the dynamic
 * offset applies to the destination (update) or the source (slice). */
template <int ES>
__global__ void __launch_bounds__(MXC_THREADS) gs_dyn_copy(
    void *dst, const void *src, const void *start, int64_t n, bool dyn_dst,
    const __grid_constant__ gs_dyn D, const __grid_constant__ mxc_layout<2> L) {
  typedef typename gs_word<ES>::T T;
  int64_t base = gs_dyn_offset(start, D);
  int64_t bd = dyn_dst ? base : 0, bs = dyn_dst ? 0 : base;
  const int64_t step = (int64_t)gridDim.x * blockDim.x;
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += step) {
    int64_t off[2];
    mxc_offsets<2>(L, i, off);
    ((T *)dst)[bd + off[0]] = ((const T *)src)[bs + off[1]];
  }
}

static int gs_dyn_run(const char *name, const mx_tensor *start, const mx_ints *axes,
                      const int32_t *shape, const int64_t *strides, const mx_tensor *win,
                      const int64_t *dst_str, void *dst, const int64_t *src_str, const void *src,
                      bool dyn_dst, int es, cudaStream_t q, int dev) {
  if (axes->n > MXC_MAXD) return mx_fail_int(MX_EINVAL, "[%s] Too many axes.", name);
  gs_dyn D;
  memset(&D, 0, sizeof D);
  D.k = axes->n;
  D.dt = start->dtype;
  D.sstride = start->ndim ? start->strides[0] : 0;
  for (int j = 0; j < axes->n; j++) {
    int ax = axes->v[j];
    D.dim[j] = shape[ax];
    D.str[j] = strides[ax];
    D.w[j] = win->shape[ax];
  }
  const int64_t *st[2] = {dst_str, src_str};
  mxc_layout<2> L;
  void *ext = nullptr;
  if (mxc_layout_init<2>(&L, win->ndim, win->shape, st, q, &ext) < 0) return -1;
  mxc_scratch_guard g(q);
  g.p = ext;
  int64_t n = win->size;
  unsigned b = mxc_blocks(n, MXC_THREADS, dev);
  switch (es) {
    case 1: gs_dyn_copy<1><<<b, MXC_THREADS, 0, q>>>(dst, src, start->data, n, dyn_dst, D, L); break;
    case 2: gs_dyn_copy<2><<<b, MXC_THREADS, 0, q>>>(dst, src, start->data, n, dyn_dst, D, L); break;
    case 4: gs_dyn_copy<4><<<b, MXC_THREADS, 0, q>>>(dst, src, start->data, n, dyn_dst, D, L); break;
    default: gs_dyn_copy<8><<<b, MXC_THREADS, 0, q>>>(dst, src, start->data, n, dyn_dst, D, L); break;
  }
  MX_CUDA_CHECK_LAUNCH(name);
  return 0;
}

int mx_cuda_dynamic_slice(const mx_kernel_ctx *ctx, const mx_tensor *in, int n_in,
                          mx_tensor *out, int n_out) {
  const mx_p_dynamic_slice *p = (const mx_p_dynamic_slice *)ctx->params;
  if (!p || n_in != 2 || n_out != 1 || in[0].ndim != out->ndim || in[1].size != p->axes.n)
    return mx_fail_int(MX_EINVAL, "[slice] Inputs do not match the parameters.");
  if (gs_check_index("slice", in[1].dtype) < 0) return -1;
  if (out->size == 0) return 0;
  const mx_tensor *a = &in[0];
  if (out->dtype != a->dtype)
    return mx_fail_int(MX_ETYPE, "[slice] The output dtype must match the input.");
  return gs_dyn_run("slice", &in[1], &p->axes, a->shape, a->strides, out, out->strides,
                    out->data, a->strides, a->data, false, mx_dtype_size(a->dtype),
                    (cudaStream_t)ctx->queue, ctx->device_index);
}

int mx_cuda_dynamic_slice_update(const mx_kernel_ctx *ctx, const mx_tensor *in, int n_in,
                                 mx_tensor *out, int n_out) {
  const mx_p_dynamic_slice_update *p = (const mx_p_dynamic_slice_update *)ctx->params;
  if (!p || n_in != 3 || n_out != 1 || in[0].ndim != out->ndim || in[1].ndim != out->ndim ||
      in[2].size != p->axes.n)
    return mx_fail_int(MX_EINVAL, "[slice_update] Inputs do not match the parameters.");
  if (gs_check_index("slice_update", in[2].dtype) < 0) return -1;
  cudaStream_t q = (cudaStream_t)ctx->queue;
  int dev = ctx->device_index;
  gs_held h0(q), h1(q);
  if (h0.hold(&in[1], out, dev) < 0 || h1.hold(&in[2], out, dev) < 0) return -1;
  if (gs_copy_base(&in[0], out, q, dev) < 0) return -1;
  const mx_tensor *upd = &h0.t;
  if (upd->size == 0) return 0;
  mx_tensor u = *upd;
  gs_held conv(q); /* updates of another dtype: converted first */
  mxc_scratch_guard cg(q);
  int64_t *cst = nullptr;
  if (upd->dtype != out->dtype) {
    if (!cg.alloc((size_t)upd->size * (size_t)mx_dtype_size(out->dtype))) return -1;
    cst = (int64_t *)malloc(sizeof(int64_t) * (size_t)(upd->ndim > 0 ? upd->ndim : 1));
    if (!cst) return mx_fail_int(MX_ENOMEM, "[malloc] Unable to allocate strides.");
    int64_t s = 1;
    for (int d = upd->ndim - 1; d >= 0; d--) {
      cst[d] = s;
      s *= upd->shape[d];
    }
    u.data = cg.p;
    u.dtype = out->dtype;
    u.strides = cst;
    if (mx_cuda_copy_strided(upd, &u, q, dev) < 0) {
      free(cst);
      return -1;
    }
  }
  int rc = gs_dyn_run("slice_update", &h1.t, &p->axes, out->shape, out->strides, &u,
                      out->strides, out->data, u.strides, u.data, true,
                      mx_dtype_size(out->dtype), q, dev);
  free(cst);
  return rc;
}

/* ---- MaskedScatter: true mask positions (row-major) take src's elements in order ----
 * flags -> exclusive prefix sum (CUB) -> a thread per position. The total is read back
 * (one stream synchronization) to report a source shorter than the mask like the CPU. */
__global__ void __launch_bounds__(MXC_THREADS) gs_mask_flags(const bool *mask, int64_t *flags,
                                                             int64_t n,
                                                             const __grid_constant__ mxc_layout<2> L) {
  const int64_t step = (int64_t)gridDim.x * blockDim.x;
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += step) {
    int64_t off[2];
    mxc_offsets<2>(L, i, off);
    flags[i] = mask[off[1]] ? 1 : 0;
  }
}

template <int ES>
__global__ void __launch_bounds__(MXC_THREADS) gs_mask_write(
    const bool *mask, const int64_t *pos, void *out, const void *src, int64_t ss, int64_t n_src,
    int64_t n, const __grid_constant__ mxc_layout<2> L) {
  typedef typename gs_word<ES>::T T;
  const int64_t step = (int64_t)gridDim.x * blockDim.x;
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += step) {
    int64_t off[2];
    mxc_offsets<2>(L, i, off);
    if (!mask[off[1]]) continue;
    int64_t k = pos[i];
    if (k < n_src) ((T *)out)[off[0]] = ((const T *)src)[k * ss];
  }
}

int mx_cuda_masked_scatter(const mx_kernel_ctx *ctx, const mx_tensor *in, int n_in,
                           mx_tensor *out, int n_out) {
  if (n_in != 3 || n_out != 1 || in[1].ndim != out->ndim || in[1].dtype != MX_BOOL ||
      in[2].ndim != 1 || in[2].dtype != out->dtype)
    return mx_fail_int(MX_EINVAL, "[masked_scatter] Inputs do not match the output.");
  cudaStream_t q = (cudaStream_t)ctx->queue;
  int dev = ctx->device_index;
  gs_held h0(q), h1(q);
  if (h0.hold(&in[1], out, dev) < 0 || h1.hold(&in[2], out, dev) < 0) return -1;
  if (gs_copy_base(&in[0], out, q, dev) < 0) return -1;
  if (out->size == 0) return 0;
  const mx_tensor *mask = &h0.t, *src = &h1.t;
  int64_t n = out->size, n_src = src->size, ss = src->ndim ? src->strides[0] : 0;
  const int64_t *st[2] = {out->strides, mask->strides};
  mxc_layout<2> L;
  void *ext = nullptr;
  if (mxc_layout_init<2>(&L, out->ndim, out->shape, st, q, &ext) < 0) return -1;
  mxc_scratch_guard g(q), fg(q), tg(q);
  g.p = ext;
  /* flags[n], then the scan into pos[n + 1] (the last entry: the total) */
  int64_t *flags = (int64_t *)fg.alloc(sizeof(int64_t) * (size_t)(2 * n + 2));
  if (!flags) return -1;
  int64_t *pos = flags + n + 1;
  unsigned b = mxc_blocks(n, MXC_THREADS, dev);
  gs_mask_flags<<<b, MXC_THREADS, 0, q>>>((const bool *)mask->data, flags, n, L);
  MX_CUDA_CHECK_LAUNCH("masked_scatter");
  MX_CUDA_CHECK("masked_scatter", cudaMemsetAsync(flags + n, 0, sizeof(int64_t), q));
  size_t tbytes = 0;
  MX_CUDA_CHECK("masked_scatter",
                cub::DeviceScan::ExclusiveSum(nullptr, tbytes, flags, pos, n + 1, q));
  if (!tg.alloc(tbytes)) return -1;
  MX_CUDA_CHECK("masked_scatter",
                cub::DeviceScan::ExclusiveSum(tg.p, tbytes, flags, pos, n + 1, q));
  switch (mx_dtype_size(out->dtype)) {
    case 1: gs_mask_write<1><<<b, MXC_THREADS, 0, q>>>((const bool *)mask->data, pos, out->data, src->data, ss, n_src, n, L); break;
    case 2: gs_mask_write<2><<<b, MXC_THREADS, 0, q>>>((const bool *)mask->data, pos, out->data, src->data, ss, n_src, n, L); break;
    case 4: gs_mask_write<4><<<b, MXC_THREADS, 0, q>>>((const bool *)mask->data, pos, out->data, src->data, ss, n_src, n, L); break;
    default: gs_mask_write<8><<<b, MXC_THREADS, 0, q>>>((const bool *)mask->data, pos, out->data, src->data, ss, n_src, n, L); break;
  }
  MX_CUDA_CHECK_LAUNCH("masked_scatter");
  int64_t total = 0;
  MX_CUDA_CHECK("masked_scatter",
                cudaMemcpyAsync(&total, pos + n, sizeof(int64_t), cudaMemcpyDeviceToHost, q));
  MX_CUDA_CHECK("masked_scatter", cudaStreamSynchronize(q));
  if (total > n_src)
    return mx_fail_int(MX_ERUNTIME,
                       "[MaskedScatter::eval_cpu] Source does not have enough elements for mask.");
  return 0;
}
