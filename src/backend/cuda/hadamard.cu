/* hadamard.cu: the Hadamard primitive on CUDA, the twin of cpu/hadamard.c: each row of the
 * last axis, viewed as (m, n / m), gets the Walsh-Hadamard butterflies along n / m, then the
 * m x m factor of formulas.h along m (m = 12, 20, 28), then the scale; float32 compute
 * (float64 for float64). One block per row, the row in shared memory (scratch when long). */
#include "elementwise.cuh"

__constant__ char hd_m12[] = MX_HADAMARD_M12;
__constant__ char hd_m20[] = MX_HADAMARD_M20;
__constant__ char hd_m28[] = MX_HADAMARD_M28;

#define HD_SHARED_MAX (48 * 1024)

#define HD_TRAITS(a, sfx)                                                                  \
  struct hd_##sfx {                                                                        \
    typedef MX_ST_##sfx S;                                                                 \
    typedef MX_CT_##sfx C;                                                                 \
    __device__ static C ld(S v) { return MX_LD_##sfx(v); }                                 \
    __device__ static S sv(C v) { return MX_SV_##sfx(v); }                                 \
  };
MX_FLOAT_SFX(HD_TRAITS, _)

extern __shared__ double hd_smem[];

/* Rows of n = m * p entries: row r starts at x + (offset of r in L), entries sx apart; the
 * output is row-contiguous. gbuf: n entries of scratch per block, or NULL for shared memory. */
template <class Tr>
__global__ void __launch_bounds__(256) hd_rows(const typename Tr::S *x, typename Tr::S *y,
                                               int64_t rows, int64_t n, int64_t sx, int m,
                                               bool tr, double scale, typename Tr::C *gbuf,
                                               const __grid_constant__ mxc_layout<1> L) {
  typedef typename Tr::C C;
  C *buf = gbuf ? gbuf + (int64_t)blockIdx.x * n : (C *)hd_smem;
  const char *tab = m == 12 ? hd_m12 : m == 20 ? hd_m20 : hd_m28;
  const int64_t p = n / m, half = p / 2, pairs = n / 2;
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    int64_t off[1];
    mxc_offsets<1>(L, r, off);
    const typename Tr::S *xr = x + off[0];
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x) buf[i] = Tr::ld(xr[i * sx]);
    __syncthreads();
    for (int64_t h = 1; h < p; h *= 2) {
      for (int64_t t = threadIdx.x; t < pairs; t += blockDim.x) {
        int64_t seg = t / half, j = t - seg * half;
        int64_t i = seg * p + (j / h) * 2 * h + j % h;
        C u = buf[i], w = buf[i + h];
        buf[i] = u + w;
        buf[i + h] = u - w;
      }
      __syncthreads();
    }
    if (m > 1) {
      for (int64_t c = threadIdx.x; c < p; c += blockDim.x) {
        C v[28];
        for (int k = 0; k < m; k++) v[k] = buf[k * p + c];
        for (int o = 0; o < m; o++) {
          C acc = 0;
          for (int k = 0; k < m; k++) {
            int s = tr ? mx_f_hadamard_sign(tab, m, o, k) : mx_f_hadamard_sign(tab, m, k, o);
            acc += s > 0 ? v[k] : -v[k];
          }
          buf[o * p + c] = acc;
        }
      }
      __syncthreads();
    }
    typename Tr::S *yr = y + r * n;
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x)
      yr[i] = Tr::sv((C)((double)buf[i] * scale));
    __syncthreads();
  }
}

template <class Tr>
static int hd_launch(const mx_tensor *in, mx_tensor *out, int64_t n, int m, bool tr,
                     double scale, cudaStream_t q, int dev) {
  typedef typename Tr::C C;
  int nd = in->ndim;
  int64_t sx = nd ? in->strides[nd - 1] : 1;
  int32_t small[16] = {0};
  int32_t *shape = nd <= 16 ? small : (int32_t *)malloc(sizeof(int32_t) * (size_t)nd);
  if (!shape)
    return mx_fail_int(MX_ENOMEM, "[malloc] Unable to allocate %zu bytes.", (size_t)nd * 4);
  for (int d = 0; d < nd; d++) shape[d] = d == nd - 1 ? 1 : in->shape[d];
  const int64_t *strides[1] = {in->strides};
  mxc_layout<1> L;
  void *ext = nullptr;
  int rc = mxc_layout_init<1>(&L, nd, shape, strides, q, &ext);
  if (shape != small) free(shape);
  if (rc < 0) return -1;
  mxc_scratch_guard ext_guard(q);
  ext_guard.p = ext;
  int64_t rows = out->size / n;
  size_t row_bytes = (size_t)n * sizeof(C);
  bool shared = row_bytes <= HD_SHARED_MAX;
  int64_t cap = (int64_t)mxc_sm_count(dev) * (shared ? 16 : 4);
  unsigned blocks = (unsigned)(rows < cap ? rows : cap);
  unsigned threads = n <= 64 ? 32 : n <= 256 ? 128 : 256;
  mxc_scratch_guard buf_guard(q);
  C *gbuf = nullptr;
  if (!shared) {
    gbuf = (C *)buf_guard.alloc((size_t)blocks * row_bytes);
    if (!gbuf) return -1;
  }
  hd_rows<Tr><<<blocks, threads, shared ? row_bytes : 0, q>>>(
      (const typename Tr::S *)in->data, (typename Tr::S *)out->data, rows, n, sx, m, tr, scale,
      gbuf, L);
  MX_CUDA_CHECK_LAUNCH("hadamard");
  return 0;
}

int mx_cuda_hadamard(const mx_kernel_ctx *ctx, const mx_tensor *in, int n_in, mx_tensor *out,
                     int n_out) {
  if (n_in != 1 || n_out != 1)
    return mx_fail_int(MX_EINVAL, "[hadamard] Expected 1 input and 1 output.");
  const mx_p_hadamard *p = (const mx_p_hadamard *)ctx->params;
  mx_dtype t = in->dtype;
  if (t != out->dtype || (t != MX_FLOAT32 && t != MX_FLOAT64 && t != MX_FLOAT16 && t != MX_BFLOAT16))
    return mx_fail_int(MX_ETYPE, "[hadamard] Unsupported type.");
  if (!mxc_is_row_contig(out))
    return mx_fail_int(MX_EINVAL, "[hadamard] The output must be row-contiguous.");
  if (out->size == 0) return 0;
  int64_t n = in->ndim ? in->shape[in->ndim - 1] : 1;
  int m = p->m;
  if (m != 1 && m != 12 && m != 20 && m != 28)
    return mx_fail_int(MX_EINVAL, "[hadamard] Bad factor m = %d.", m);
  int64_t pw = n / m;
  if (n % m != 0 || (pw & (pw - 1)) != 0)
    return mx_fail_int(MX_EINVAL, "[hadamard] Size %lld is not %d times a power of two.",
                       (long long)n, m);
  cudaStream_t q = (cudaStream_t)ctx->queue;
  int dev = ctx->device_index;
  switch (t) {
    case MX_FLOAT16: return hd_launch<hd_f16>(in, out, n, m, p->transpose, p->scale, q, dev);
    case MX_BFLOAT16: return hd_launch<hd_bf16>(in, out, n, m, p->transpose, p->scale, q, dev);
    case MX_FLOAT32: return hd_launch<hd_f32>(in, out, n, m, p->transpose, p->scale, q, dev);
    default: return hd_launch<hd_f64>(in, out, n, m, p->transpose, p->scale, q, dev);
  }
}
