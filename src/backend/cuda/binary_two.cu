/* binary_two.cu: DivMod on CUDA, the twin of cpu/binary_two.c: the floor quotient and the
 * remainder of one pass (floor_divide / remainder formulas of formulas.h), broadcast/strided
 * inputs through a collapsed layout, two row-contiguous outputs. */
#include "elementwise.cuh"

#define DM_OP(stem, sfx)                                                                   \
  struct dm_##sfx {                                                                        \
    typedef MX_ST_##sfx T;                                                                 \
    __device__ static void apply(T x_, T y_, T *q, T *r) {                                 \
      MX_CT_##sfx x = MX_LD_##sfx(x_), y = MX_LD_##sfx(y_);                                \
      *q = MX_SV_##sfx(MX_FN(floor_divide, sfx)(x, y));                                    \
      *r = MX_SV_##sfx(MX_FN(remainder, sfx)(x, y));                                       \
    }                                                                                      \
  };
MX_F_divmod_TYPES(DM_OP, divmod)

template <class Op>
__global__ void __launch_bounds__(MXC_THREADS) divmod_kernel(const void *a, const void *b,
                                                             void *q, void *r, int64_t n,
                                                             const __grid_constant__ mxc_layout<2> L) {
  using T = typename Op::T;
  const T *x = (const T *)a, *y = (const T *)b;
  T *qo = (T *)q, *ro = (T *)r;
  const int64_t step = (int64_t)gridDim.x * blockDim.x;
  for (int64_t t = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; t < (n + EW_ITEMS - 1) / EW_ITEMS;
       t += step) {
    int64_t i = t * EW_ITEMS, off[2];
    int cnt = n - i < EW_ITEMS ? (int)(n - i) : EW_ITEMS;
    int64_t pos = mxc_offsets<2>(L, i, off);
#pragma unroll 1
    for (int k = 0; k < cnt; k++) {
      if (k > 0) {
        if (++pos < L.shape[0]) {
          off[0] += L.strides[0][0];
          off[1] += L.strides[1][0];
        } else {
          pos = mxc_offsets<2>(L, i + k, off);
        }
      }
      Op::apply(x[off[0]], y[off[1]], qo + i + k, ro + i + k);
    }
  }
}

typedef void (*dm_launch_fn)(const void *a, const void *b, void *q, void *r, int64_t n,
                             const mxc_layout<2> &L, unsigned blocks, cudaStream_t s);
template <class Op>
static void dm_launch(const void *a, const void *b, void *q, void *r, int64_t n,
                      const mxc_layout<2> &L, unsigned blocks, cudaStream_t s) {
  divmod_kernel<Op><<<blocks, MXC_THREADS, 0, s>>>(a, b, q, r, n, L);
}
#define DM_CASE(stem, sfx) \
  case MX_DT_##sfx: return dm_launch<dm_##sfx>;
static dm_launch_fn dm_pick(mx_dtype t) {
  switch (t) {
    MX_F_divmod_TYPES(DM_CASE, divmod)
    default: return nullptr;
  }
}

extern "C" int mx_cuda_divmod(const mx_kernel_ctx *ctx, const mx_tensor *in, int n_in,
                              mx_tensor *out, int n_out) {
  if (n_in != 2 || n_out != 2)
    return mx_fail_int(MX_EINVAL, "[divmod] Expected 2 inputs and 2 outputs.");
  mx_dtype t = in[0].dtype;
  if (in[1].dtype != t || out[0].dtype != t || out[1].dtype != t)
    return mx_fail_int(MX_ETYPE, "[divmod] Inputs and outputs must share one dtype.");
  dm_launch_fn fn = (unsigned)t < MX_DTYPE_COUNT ? dm_pick(t) : nullptr;
  if (!fn) return mx_fail_int(MX_ETYPE, "[divmod] Not supported for dtype %s.", mx_dtype_name(t));
  if (!mxc_is_row_contig(&out[0]) || !mxc_is_row_contig(&out[1]) || out[0].size != out[1].size)
    return mx_fail_int(MX_EINVAL, "[divmod] The outputs must be row-contiguous and alike.");
  if (out[0].size == 0) return 0;
  ew_bstride_set bs;
  if (bs.init("divmod", in, 2, &out[0]) < 0) return -1;
  cudaStream_t q = (cudaStream_t)ctx->queue;
  mxc_layout<2> L;
  const int64_t *st[2] = {bs.s[0], bs.s[1]};
  void *ext = nullptr;
  if (mxc_layout_init<2>(&L, out[0].ndim, out[0].shape, st, q, &ext) < 0) return -1;
  mxc_scratch_guard g(q);
  g.p = ext;
  int64_t n = out[0].size;
  fn(in[0].data, in[1].data, out[0].data, out[1].data, n, L,
     mxc_blocks((n + EW_ITEMS - 1) / EW_ITEMS, MXC_THREADS, ctx->device_index), q);
  MX_CUDA_CHECK_LAUNCH("divmod");
  return 0;
}
