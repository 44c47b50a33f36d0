/* copy.cu: strided copy and astype between all 14 dtypes on CUDA, the twin of cpu/copy.c
 * (conversions are the astype formulas of formulas.h), and the kernels built on it: Copy,
 * AsType, the view primitives when a view cannot be resolved at schedule time (Reshape,
 * Transpose, Broadcast, Slice, StopGradient) and Depends. Contiguous conversions run the
 * vectorised linear kernel of elementwise.cuh; transposes go through shared-memory tiles. */
#include "elementwise.cuh"

/* ---- conversion functors: cvt_<s>_<d> for the linear kernel ---- */
#define CVT_OP(s, d)                                                                       \
  struct cvt_##s##_##d {                                                                   \
    static constexpr int NIN = 1;                                                          \
    typedef MX_ST_##s T0, T1, T2;                                                          \
    typedef MX_ST_##d O;                                                                   \
    __device__ static O apply(T0 v) { return MX_CVT(s, d, v); }                            \
  };
#define CVT_ROW(unused, s) MX_DTYPE_SFX_LIST2(CVT_OP, s)
MX_DTYPE_SFX_LIST(CVT_ROW, _)

#define CVT_CASE_D(s, d) \
  case MX_DT_##d: return ew_run_linear<cvt_##s##_##d>;
#define CVT_CASE_S(unused, s)                                                              \
  case MX_DT_##s:                                                                          \
    switch (dt) {                                                                          \
      MX_DTYPE_SFX_LIST2(CVT_CASE_D, s)                                                    \
      default: return nullptr;                                                             \
    }
static ew_linear_fn cvt_pick(mx_dtype st, mx_dtype dt) {
  switch (st) {
    MX_DTYPE_SFX_LIST(CVT_CASE_S, _)
    default: return nullptr;
  }
}

/* ---- strided movers: same element size (bits copied) or a conversion ---- */
template <class T>
struct mv_same {
  __device__ static void move(const void *src, int64_t so, void *dst, int64_t dof, mx_dtype) {
    ((T *)dst)[dof] = ((const T *)src)[so];
  }
};

#define CVT_STORE_D(s, d) \
  case MX_DT_##d: ((MX_ST_##d *)dst)[dof] = MX_CVT(s, d, v); break;
#define MV_CVT(unused, s)                                                                  \
  struct mv_cvt_##s {                                                                      \
    __device__ static void move(const void *src, int64_t so, void *dst, int64_t dof,       \
                                mx_dtype dt) {                                             \
      MX_ST_##s v = ((const MX_ST_##s *)src)[so];                                          \
      switch (dt) {                                                                        \
        MX_DTYPE_SFX_LIST2(CVT_STORE_D, s)                                                 \
        default: break;                                                                    \
      }                                                                                    \
    }                                                                                      \
  };
MX_DTYPE_SFX_LIST(MV_CVT, _)

/* dst[off0] = src[off1] over the collapsed layout (operand 0 dst, 1 src). */
template <class Mv>
__global__ void __launch_bounds__(MXC_THREADS) copy_general(const void *src, void *dst,
                                                            mx_dtype dt,
                                                            const __grid_constant__ mxc_layout<2> L) {
  const int64_t nsteps = (L.n + EW_ITEMS - 1) / EW_ITEMS;
  const int64_t step = (int64_t)gridDim.x * blockDim.x;
  for (int64_t t = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; t < nsteps; t += step) {
    int64_t i = t * EW_ITEMS, off[2];
    int cnt = L.n - i < EW_ITEMS ? (int)(L.n - i) : EW_ITEMS;
    int64_t pos = mxc_offsets<2>(L, i, off);
    if (pos + cnt <= L.shape[0]) {
#pragma unroll
      for (int k = 0; k < EW_ITEMS; k++)
        if (k < cnt) Mv::move(src, off[1] + k * L.strides[1][0], dst, off[0] + k * L.strides[0][0], dt);
    } else {
#pragma unroll 1
      for (int k = 0; k < cnt; k++) {
        if (k > 0) mxc_offsets<2>(L, i + k, off);
        Mv::move(src, off[1], dst, off[0], dt);
      }
    }
  }
}

/* Transposing copy of one element size: planes of (dim 1 = rows i, dim 0 = cols j) where
 * dst is contiguous along j and src along i; 32 x 32 tiles through shared memory so both
 * sides are read and written along their contiguous dim. Dims >= 2 (the batch) through B. */
#define TT 32
template <class T>
__global__ void __launch_bounds__(TT * 8) copy_transpose(const T *src, T *dst, int64_t cols,
                                                          int64_t rows, int64_t ss0, int64_t sd1,
                                                          int64_t nbatch,
                                                          const __grid_constant__ mxc_layout<2> B) {
  __shared__ T tile[TT][TT + 1];
  const int64_t j0 = (int64_t)blockIdx.x * TT, i0 = (int64_t)blockIdx.y * TT;
  const int tx = threadIdx.x, ty = threadIdx.y;
  for (int64_t b = blockIdx.z; b < nbatch; b += gridDim.z) {
    int64_t off[2] = {0, 0};
    if (nbatch > 1) mxc_offsets<2>(B, b, off);
    const T *s = src + off[1];
    T *d = dst + off[0];
    for (int jj = ty; jj < TT; jj += 8) {
      int64_t i = i0 + tx, j = j0 + jj;
      if (i < rows && j < cols) tile[jj][tx] = s[i + j * ss0];
    }
    __syncthreads();
    for (int ii = ty; ii < TT; ii += 8) {
      int64_t i = i0 + ii, j = j0 + tx;
      if (i < rows && j < cols) d[i * sd1 + j] = tile[tx][ii];
    }
    __syncthreads();
  }
}

static int copy_launch_error(const char *name) {
  cudaError_t e = cudaGetLastError();
  if (e != cudaSuccess)
    return mx_fail_int(MX_ERUNTIME, "[%s] CUDA error: %s", name, cudaGetErrorString(e));
  return 0;
}

template <class T>
static int transpose_launch(const mx_tensor *src, const mx_tensor *dst, const mxc_layout<2> &L,
                            cudaStream_t q) {
  /* batch layout: the collapsed dims >= 2 */
  int nb = L.ndim - 2;
  int32_t bshape[MXC_MAXD];
  int64_t bs_d[MXC_MAXD], bs_s[MXC_MAXD];
  int64_t nbatch = 1;
  for (int k = 0; k < nb; k++) { /* outermost first for mxc_layout_init */
    int d = L.ndim - 1 - k;
    bshape[k] = (int32_t)L.shape[d];
    bs_d[k] = L.strides[0][d];
    bs_s[k] = L.strides[1][d];
    nbatch *= L.shape[d];
  }
  mxc_layout<2> B;
  const int64_t *bst[2] = {bs_d, bs_s};
  void *ext = nullptr;
  if (mxc_layout_init<2>(&B, nb, bshape, bst, q, &ext) < 0) return -1;
  dim3 grid((unsigned)((L.shape[0] + TT - 1) / TT), (unsigned)((L.shape[1] + TT - 1) / TT),
            (unsigned)(nbatch < 65535 ? nbatch : 65535));
  copy_transpose<T><<<grid, dim3(TT, 8), 0, q>>>((const T *)src->data, (T *)dst->data,
                                                  L.shape[0], L.shape[1], L.strides[1][0],
                                                  L.strides[0][1], nbatch, B);
  return copy_launch_error("copy");
}

static bool same_shape(const mx_tensor *a, const mx_tensor *b) {
  if (a->ndim != b->ndim) return false;
  for (int d = 0; d < a->ndim; d++)
    if (a->shape[d] != b->shape[d]) return false;
  return true;
}

/* Equal shapes (src->shape): dst[idx] = convert(src[idx]) with the given stride arrays. */
static int copy_same_shape(const mx_tensor *src, const int64_t *sstr, const mx_tensor *dst,
                           const int64_t *dstr, cudaStream_t q, int dev) {
  mxc_layout<2> L;
  const int64_t *st[2] = {dstr, sstr};
  void *ext = nullptr;
  if (mxc_layout_init<2>(&L, src->ndim, src->shape, st, q, &ext) < 0) return -1;
  mxc_scratch_guard ext_guard(q);
  ext_guard.p = ext;
  if (L.n == 0) return 0;
  mx_dtype stt = src->dtype, dtt = dst->dtype;
  int esz = mx_dtype_size(stt);
  bool same = stt == dtt;
  if (L.ndim == 1 && L.strides[0][0] == 1 && (L.strides[1][0] == 1 || L.strides[1][0] == 0)) {
    if (same && L.strides[1][0] == 1) {
      MX_CUDA_CHECK("copy", cudaMemcpyAsync(dst->data, src->data, (size_t)L.n * (size_t)esz,
                                            cudaMemcpyDeviceToDevice, q));
      return 0;
    }
    if (!same) {
      const void *in[1] = {src->data};
      return cvt_pick(stt, dtt)("astype", q, dev, in, L.strides[1][0] == 0 ? 1u : 0u,
                                dst->data, L.n);
    }
  }
  if (same && L.ndim >= 2 && L.ndim <= MXC_MAXD && L.strides[0][0] == 1 && L.strides[1][1] == 1 &&
      L.strides[1][0] != 1 && L.shape[0] >= 16 && L.shape[1] >= 16 &&
      (L.shape[1] + TT - 1) / TT <= 65535) {
    switch (esz) {
      case 1: return transpose_launch<uint8_t>(src, dst, L, q);
      case 2: return transpose_launch<uint16_t>(src, dst, L, q);
      case 4: return transpose_launch<uint32_t>(src, dst, L, q);
      default: return transpose_launch<uint64_t>(src, dst, L, q);
    }
  }
  unsigned blocks = mxc_blocks((L.n + EW_ITEMS - 1) / EW_ITEMS, MXC_THREADS, dev);
  if (same) {
    switch (esz) {
      case 1: copy_general<mv_same<uint8_t>><<<blocks, MXC_THREADS, 0, q>>>(src->data, dst->data, dtt, L); break;
      case 2: copy_general<mv_same<uint16_t>><<<blocks, MXC_THREADS, 0, q>>>(src->data, dst->data, dtt, L); break;
      case 4: copy_general<mv_same<uint32_t>><<<blocks, MXC_THREADS, 0, q>>>(src->data, dst->data, dtt, L); break;
      default: copy_general<mv_same<uint64_t>><<<blocks, MXC_THREADS, 0, q>>>(src->data, dst->data, dtt, L); break;
    }
  } else {
#define MV_LAUNCH(unused, s) \
  case MX_DT_##s: copy_general<mv_cvt_##s><<<blocks, MXC_THREADS, 0, q>>>(src->data, dst->data, dtt, L); break;
    switch (stt) {
      MX_DTYPE_SFX_LIST(MV_LAUNCH, _)
      default: break;
    }
#undef MV_LAUNCH
  }
  return copy_launch_error("copy");
}

extern "C" int mx_cuda_convert(const void *src, mx_dtype st, void *dst, mx_dtype dt, int64_t n,
                               cudaStream_t q, int dev) {
  if ((unsigned)st >= MX_DTYPE_COUNT || (unsigned)dt >= MX_DTYPE_COUNT)
    return mx_fail_int(MX_ETYPE, "[astype] Invalid dtype.");
  if (n <= 0) return 0;
  if (st == dt) {
    MX_CUDA_CHECK("copy", cudaMemcpyAsync(dst, src, (size_t)n * (size_t)mx_dtype_size(st),
                                          cudaMemcpyDeviceToDevice, q));
    return 0;
  }
  const void *in[1] = {src};
  return cvt_pick(st, dt)("astype", q, dev, in, 0u, dst, n);
}

extern "C" int mx_cuda_copy_strided(const mx_tensor *src, mx_tensor *dst, cudaStream_t q,
                                    int dev) {
  if ((unsigned)src->dtype >= MX_DTYPE_COUNT || (unsigned)dst->dtype >= MX_DTYPE_COUNT)
    return mx_fail_int(MX_ETYPE, "[copy] Invalid dtype.");
  if (same_shape(src, dst))
    return dst->size == 0 ? 0 : copy_same_shape(src, src->strides, dst, dst->strides, q, dev);
  if (src->size != dst->size)
    return mx_fail_int(MX_EINVAL, "[copy] Cannot copy %lld elements into %lld.",
                       (long long)src->size, (long long)dst->size);
  if (!mxc_is_row_contig(dst))
    return mx_fail_int(MX_EINVAL, "[copy] A reshaping copy needs a row-contiguous destination.");
  if (dst->size == 0) return 0;
  /* row-major walk of src: dst seen with src's shape and row-contiguous strides */
  int nd = src->ndim;
  int64_t inl[16] = {0}, *rs = inl;
  if (nd > 16 && !(rs = (int64_t *)malloc(sizeof(int64_t) * (size_t)nd)))
    return mx_fail_int(MX_ENOMEM, "[malloc] Unable to allocate %zu bytes.",
                       sizeof(int64_t) * (size_t)nd);
  int64_t acc = 1;
  for (int d = nd - 1; d >= 0; d--) {
    rs[d] = acc;
    acc *= src->shape[d];
  }
  int rc = copy_same_shape(src, src->strides, dst, rs, q, dev);
  if (rs != inl) free(rs);
  return rc;
}

/* ---- kernels ---- */

static int expect_io(const char *op, int n_in, int want_in, int n_out) {
  if (n_in != want_in || n_out != 1)
    return mx_fail_int(MX_EINVAL, "[%s] Expected %d input(s) and 1 output, got %d and %d.", op,
                       want_in, n_in, n_out);
  return 0;
}

static int copy_forward(const char *op, const mx_kernel_ctx *ctx, const mx_tensor *in, int n_in,
                        mx_tensor *out, int n_out) {
  if (expect_io(op, n_in, 1, n_out) < 0) return -1;
  if (in->size != out->size)
    return mx_fail_int(MX_EINVAL, "[%s] Input has %lld elements, output %lld.", op,
                       (long long)in->size, (long long)out->size);
  return mx_cuda_copy_strided(in, out, (cudaStream_t)ctx->queue, ctx->device_index);
}

extern "C" int mx_cuda_copy(const mx_kernel_ctx *ctx, const mx_tensor *in, int n_in,
                            mx_tensor *out, int n_out) {
  return copy_forward("copy", ctx, in, n_in, out, n_out);
}

extern "C" int mx_cuda_astype(const mx_kernel_ctx *ctx, const mx_tensor *in, int n_in,
                              mx_tensor *out, int n_out) {
  return copy_forward("astype", ctx, in, n_in, out, n_out);
}

extern "C" int mx_cuda_stop_gradient(const mx_kernel_ctx *ctx, const mx_tensor *in, int n_in,
                                     mx_tensor *out, int n_out) {
  return copy_forward("stop_gradient", ctx, in, n_in, out, n_out);
}

extern "C" int mx_cuda_reshape(const mx_kernel_ctx *ctx, const mx_tensor *in, int n_in,
                               mx_tensor *out, int n_out) {
  return copy_forward("reshape", ctx, in, n_in, out, n_out);
}

/* Transpose, Broadcast, Slice: the view of the input (strides in a host array), copied. */
struct view_strides {
  int64_t *s;
  int64_t inl[16];
  view_strides() : s(inl) {}
  ~view_strides() { if (s != inl) free(s); }
  bool init(int nd) {
    if (nd > 16 && !(s = (int64_t *)malloc(sizeof(int64_t) * (size_t)nd))) {
      s = inl;
      mx_fail(MX_ENOMEM, "[malloc] Unable to allocate %zu bytes.", sizeof(int64_t) * (size_t)nd);
      return false;
    }
    return true;
  }
};

static int copy_view(const mx_kernel_ctx *ctx, const mx_tensor *in, void *data,
                     const int64_t *strides, mx_tensor *out) {
  mx_tensor v = *out;
  v.data = data;
  v.dtype = in->dtype;
  v.strides = strides;
  v.flags = 0;
  return mx_cuda_copy_strided(&v, out, (cudaStream_t)ctx->queue, ctx->device_index);
}

extern "C" int mx_cuda_transpose(const mx_kernel_ctx *ctx, const mx_tensor *in, int n_in,
                                 mx_tensor *out, int n_out) {
  if (expect_io("transpose", n_in, 1, n_out) < 0) return -1;
  const mx_p_transpose *p = (const mx_p_transpose *)ctx->params;
  if (!p || p->axes.n != in->ndim || out->ndim != in->ndim)
    return mx_fail_int(MX_EINVAL, "[transpose] Axes do not match the input dimensions.");
  view_strides vs;
  if (!vs.init(in->ndim)) return -1;
  for (int i = 0; i < in->ndim; i++) {
    int ax = p->axes.v[i];
    if (ax < 0 || ax >= in->ndim || in->shape[ax] != out->shape[i])
      return mx_fail_int(MX_EINVAL, "[transpose] Invalid axis %d for output dim %d.", ax, i);
    vs.s[i] = in->strides[ax];
  }
  return copy_view(ctx, in, in->data, vs.s, out);
}

extern "C" int mx_cuda_broadcast(const mx_kernel_ctx *ctx, const mx_tensor *in, int n_in,
                                 mx_tensor *out, int n_out) {
  if (expect_io("broadcast", n_in, 1, n_out) < 0) return -1;
  if (in->ndim > out->ndim)
    return mx_fail_int(MX_EINVAL, "[broadcast] Input has more dims than the output.");
  view_strides vs;
  if (!vs.init(out->ndim)) return -1;
  int lead = out->ndim - in->ndim;
  for (int i = 0; i < out->ndim; i++) {
    if (i < lead) {
      vs.s[i] = 0;
      continue;
    }
    int32_t s = in->shape[i - lead];
    if (s == out->shape[i])
      vs.s[i] = in->strides[i - lead];
    else if (s == 1)
      vs.s[i] = 0;
    else
      return mx_fail_int(MX_EINVAL, "[broadcast] Cannot broadcast dim %d of size %d to %d.", i,
                         s, out->shape[i]);
  }
  return copy_view(ctx, in, in->data, vs.s, out);
}

extern "C" int mx_cuda_slice(const mx_kernel_ctx *ctx, const mx_tensor *in, int n_in,
                             mx_tensor *out, int n_out) {
  if (expect_io("slice", n_in, 1, n_out) < 0) return -1;
  const mx_p_slice *p = (const mx_p_slice *)ctx->params;
  if (!p || p->start.n != in->ndim || p->strides.n != in->ndim || out->ndim != in->ndim)
    return mx_fail_int(MX_EINVAL, "[slice] Parameters do not match the input dimensions.");
  view_strides vs;
  if (!vs.init(in->ndim)) return -1;
  int64_t off = 0;
  for (int i = 0; i < in->ndim; i++) {
    if (out->shape[i] > 0) off += (int64_t)p->start.v[i] * in->strides[i];
    vs.s[i] = in->strides[i] * p->strides.v[i];
  }
  char *base = (char *)in->data + (out->size ? off * (int64_t)mx_dtype_size(in->dtype) : 0);
  return copy_view(ctx, in, base, vs.s, out);
}

/* Depends: outputs are the first n_out inputs, ordered after the rest; copy unless aliased. */
extern "C" int mx_cuda_depends(const mx_kernel_ctx *ctx, const mx_tensor *in, int n_in,
                               mx_tensor *out, int n_out) {
  if (n_out > n_in) return mx_fail_int(MX_EINVAL, "[depends] More outputs than inputs.");
  for (int i = 0; i < n_out; i++) {
    if (out[i].data == in[i].data && out[i].dtype == in[i].dtype) continue;
    if (mx_cuda_copy_strided(&in[i], &out[i], (cudaStream_t)ctx->queue, ctx->device_index) < 0)
      return -1;
  }
  return 0;
}
