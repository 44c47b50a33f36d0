/* conv.cu: Convolution and ConvolutionWeight on CUDA, the twins of cpu/conv.c. Blocks of
 * output rows are unfolded (im2col: one row of taps x channels per output point, zeros where
 * a tap falls in the padding or between dilated input points) into stream-ordered scratch,
 * then each group is one GEMM through mx_cuda_gemm: out_g = col_g @ w_g^T forward,
 * dw_g += cot_g^T @ col_g for the weight (float32 accumulation for float16/bfloat16). */
#include "elementwise.cuh"

#define CONV_MAX_DIMS 8                      /* spatial dims held in the kernel parameter */
#define CONV_SCRATCH_BYTES ((int64_t)256 << 20) /* im2col block size cap */

struct conv_geom {
  int32_t nsp;
  int64_t rows0;                  /* first output row of the block */
  int64_t cig, kprod, ktot;       /* channels per group, taps, row length (groups * taps * cig) */
  int64_t sn, sc;                 /* input strides (elements) of the batch and channel dims */
  int64_t oshape[CONV_MAX_DIMS], kshape[CONV_MAX_DIMS];
  int64_t stride[CONV_MAX_DIMS], lo[CONV_MAX_DIMS], kdil[CONV_MAX_DIMS];
  int64_t e[CONV_MAX_DIMS], span[CONV_MAX_DIMS], xs[CONV_MAX_DIMS];
  int32_t flip;
};

/* col[i, j] for the block's rows i (n elements in all): j = (group, tap, channel). */
template <class T>
__global__ void __launch_bounds__(MXC_THREADS)
conv_im2col(const __grid_constant__ conv_geom G, const T *__restrict__ x, T *__restrict__ col,
            int64_t n) {
  const int64_t step = (int64_t)gridDim.x * blockDim.x;
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += step) {
    int64_t r = G.rows0 + i / G.ktot, j = i % G.ktot;
    int64_t c = j % G.cig, t = j / G.cig;
    int64_t tap = t % G.kprod, g = t / G.kprod;
    int64_t off = 0;
    bool zero = false;
    for (int d = G.nsp - 1; d >= 0; d--) {
      int64_t o = r % G.oshape[d], k = tap % G.kshape[d];
      r /= G.oshape[d];
      tap /= G.kshape[d];
      if (G.flip) k = G.kshape[d] - 1 - k;
      int64_t pos = o * G.stride[d] - G.lo[d] + k * G.kdil[d];
      if (pos < 0 || pos >= G.span[d] || (G.e[d] > 1 && pos % G.e[d] != 0)) zero = true;
      else off += (G.e[d] > 1 ? pos / G.e[d] : pos) * G.xs[d];
    }
    col[i] = zero ? T{} : x[r * G.sn + off + (g * G.cig + c) * G.sc];
  }
}

/* Storage type of one element of the given size (the unfold only moves bits). */
template <int S> struct conv_bits;
template <> struct conv_bits<2> { typedef uint16_t T; };
template <> struct conv_bits<4> { typedef uint32_t T; };
template <> struct conv_bits<8> { typedef uint64_t T; };

static int conv_unfold(const conv_geom &G, const void *x, void *col, int64_t rows, int esz,
                       cudaStream_t q, int dev) {
  int64_t n = rows * G.ktot;
  unsigned blocks = mxc_blocks(n, MXC_THREADS, dev);
  switch (esz) {
    case 2:
      conv_im2col<conv_bits<2>::T><<<blocks, MXC_THREADS, 0, q>>>(
          G, (const uint16_t *)x, (uint16_t *)col, n);
      break;
    case 4:
      conv_im2col<conv_bits<4>::T><<<blocks, MXC_THREADS, 0, q>>>(
          G, (const uint32_t *)x, (uint32_t *)col, n);
      break;
    case 8:
      conv_im2col<conv_bits<8>::T><<<blocks, MXC_THREADS, 0, q>>>(
          G, (const uint64_t *)x, (uint64_t *)col, n);
      break;
    default:
      return mx_fail_int(MX_ETYPE, "[conv] Unsupported element size %d.", esz);
  }
  MX_CUDA_CHECK_LAUNCH("conv");
  return 0;
}

/* Shared checks and the geometry of an input x (N, *S, C_in) read by a kernel of spatial
 * shape kshape for outputs of spatial shape oshape. 1 when there is nothing to compute. */
static int conv_setup(const char *what, const mx_p_convolution *prm, const mx_tensor *x,
                      const mx_tensor *other, const mx_tensor *out, const int32_t *oshape,
                      const int32_t *kshape, int64_t cout, int64_t cig, conv_geom *G) {
  mx_dtype t = out->dtype;
  if (x->dtype != t || other->dtype != t)
    return mx_fail_int(MX_ETYPE, "[%s] Inputs and output must share one dtype.", what);
  if (t != MX_FLOAT32 && t != MX_FLOAT64 && t != MX_FLOAT16 && t != MX_BFLOAT16 &&
      t != MX_COMPLEX64)
    return mx_fail_int(MX_ETYPE, "[%s] Unsupported dtype %s.", what, mx_dtype_name(t));
  int nd = out->ndim, nsp = nd - 2;
  if (nd < 2 || x->ndim != nd || other->ndim != nd || prm->strides.n != nsp)
    return mx_fail_int(MX_EINVAL, "[%s] Inconsistent shapes or parameters.", what);
  if (nsp > CONV_MAX_DIMS)
    return mx_fail_int(MX_EINVAL, "[%s] At most %d spatial dims on the GPU, got %d.", what,
                       CONV_MAX_DIMS, nsp);
  if (!mxc_is_row_contig(out))
    return mx_fail_int(MX_EINVAL, "[%s] The output must be row-contiguous.", what);
  if (prm->groups < 1 || x->shape[nd - 1] != prm->groups * cig || cout % prm->groups != 0)
    return mx_fail_int(MX_EINVAL, "[%s] Channels do not match the groups.", what);
  memset(G, 0, sizeof *G);
  G->nsp = nsp;
  G->cig = cig;
  G->kprod = 1;
  for (int d = 0; d < nsp; d++) {
    G->oshape[d] = oshape[d];
    G->kshape[d] = kshape[d];
    G->kprod *= kshape[d];
    G->stride[d] = prm->strides.v[d];
    G->lo[d] = prm->padding_lo.v[d];
    G->kdil[d] = prm->kernel_dilation.v[d];
    G->e[d] = prm->input_dilation.v[d];
    int64_t len = x->shape[1 + d];
    G->span[d] = len > 0 ? (len - 1) * G->e[d] + 1 : 0;
    G->xs[d] = x->strides[1 + d];
  }
  G->ktot = G->kprod * cig * prm->groups;
  G->sn = x->strides[0];
  G->sc = x->strides[nd - 1];
  G->flip = prm->flip;
  return out->size == 0 ? 1 : 0;
}

/* Output rows N * prod(oshape). */
static int64_t conv_rows(const mx_tensor *x, const conv_geom &G) {
  int64_t m = x->shape[0];
  for (int d = 0; d < G.nsp; d++) m *= G.oshape[d];
  return m;
}

/* src as a row-contiguous tensor of dtype t: itself or a converted copy in g's scratch. */
static const char *conv_contig(const mx_tensor *src, mx_dtype t, mxc_scratch_guard *g,
                               int64_t *str, cudaStream_t q, int dev) {
  if (src->dtype == t && mxc_is_row_contig(src)) return (const char *)src->data;
  if (!g->alloc((size_t)src->size * (size_t)mx_dtype_size(t))) return nullptr;
  int64_t s = 1;
  for (int d = src->ndim - 1; d >= 0; d--) {
    str[d] = s;
    s *= src->shape[d];
  }
  mx_tensor c = *src;
  c.data = g->p;
  c.dtype = t;
  c.strides = str;
  c.flags = 0;
  return mx_cuda_copy_strided(src, &c, q, dev) < 0 ? nullptr : (const char *)g->p;
}

/* Rows per im2col block: all of them when they fit the scratch cap. */
static int64_t conv_block_rows(int64_t m, int64_t ktot, int esz) {
  int64_t per = ktot * esz > 0 ? ktot * esz : 1;
  int64_t rows = CONV_SCRATCH_BYTES / per;
  return rows < 1 ? 1 : rows > m ? m : rows;
}

extern "C" int mx_cuda_convolution(const mx_kernel_ctx *ctx, const mx_tensor *in, int n_in,
                                   mx_tensor *out, int n_out) {
  if (n_in != 2 || n_out != 1 || !ctx->params)
    return mx_fail_int(MX_EINVAL, "[conv] Expected 2 inputs, 1 output and parameters.");
  const mx_p_convolution *prm = (const mx_p_convolution *)ctx->params;
  const mx_tensor *x = &in[0], *w = &in[1];
  int nd = out->ndim;
  if (nd < 2 || w->ndim != nd || out->shape[nd - 1] != w->shape[0] ||
      out->shape[0] != x->shape[0])
    return mx_fail_int(MX_EINVAL, "[conv] Inconsistent shapes or parameters.");
  conv_geom G;
  int64_t cout = w->shape[0], cig = w->shape[nd - 1];
  int rc = conv_setup("conv", prm, x, w, out, out->shape + 1, w->shape + 1, cout, cig, &G);
  if (rc != 0) return rc < 0 ? -1 : 0;
  cudaStream_t q = (cudaStream_t)ctx->queue;
  int dev = ctx->device_index;
  mx_dtype t = out->dtype;
  int esz = mx_dtype_size(t);
  int64_t kg = G.kprod * cig, cog = cout / prm->groups, m = conv_rows(x, G);
  if (kg == 0) {
    MX_CUDA_CHECK("conv", cudaMemsetAsync(out->data, 0, (size_t)out->size * (size_t)esz, q));
    return 0;
  }
  int64_t wstr[CONV_MAX_DIMS + 2];
  mxc_scratch_guard gw(q), gcol(q);
  const char *wd = conv_contig(w, t, &gw, wstr, q, dev);
  if (!wd) return -1;
  int64_t mb = conv_block_rows(m, G.ktot, esz);
  if (!gcol.alloc((size_t)(mb * G.ktot * esz))) return -1;
  char *o = (char *)out->data;
  for (int64_t r0 = 0; r0 < m; r0 += mb) {
    int64_t rows = m - r0 < mb ? m - r0 : mb;
    G.rows0 = r0;
    if (conv_unfold(G, x->data, gcol.p, rows, esz, q, dev) < 0) return -1;
    for (int64_t g = 0; g < prm->groups; g++) {
      /* (rows x kg, row-major, ld ktot) @ w_g^T (kg x cog: w_g is cog x kg row-major) */
      if (mx_cuda_gemm(dev, t, (const char *)gcol.p + g * kg * esz, false, G.ktot,
                       wd + g * cog * kg * esz, true, kg, o + (r0 * cout + g * cog) * esz, cout,
                       false, rows, cog, kg, q) < 0)
        return -1;
    }
  }
  return 0;
}

extern "C" int mx_cuda_conv_weight(const mx_kernel_ctx *ctx, const mx_tensor *in, int n_in,
                                   mx_tensor *out, int n_out) {
  if (n_in != 2 || n_out != 1 || !ctx->params)
    return mx_fail_int(MX_EINVAL, "[conv] Expected 2 inputs, 1 output and parameters.");
  const mx_p_conv_weight *pw = (const mx_p_conv_weight *)ctx->params;
  mx_p_convolution prm = {pw->strides,        pw->padding_lo, pw->padding_hi, pw->kernel_dilation,
                          pw->input_dilation, pw->groups,     pw->flip};
  const mx_tensor *x = &in[0], *cot = &in[1];
  int nd = out->ndim;
  if (nd < 2 || cot->ndim != nd || cot->shape[nd - 1] != out->shape[0] ||
      cot->shape[0] != x->shape[0])
    return mx_fail_int(MX_EINVAL, "[conv_weight] Inconsistent shapes or parameters.");
  conv_geom G;
  int64_t cout = out->shape[0], cig = out->shape[nd - 1];
  int rc = conv_setup("conv_weight", &prm, x, cot, out, cot->shape + 1, out->shape + 1, cout,
                      cig, &G);
  if (rc != 0) return rc < 0 ? -1 : 0;
  cudaStream_t q = (cudaStream_t)ctx->queue;
  int dev = ctx->device_index;
  mx_dtype t = out->dtype;
  mx_dtype ct = t == MX_FLOAT16 || t == MX_BFLOAT16 ? MX_FLOAT32 : t;
  int esz = mx_dtype_size(t), csz = mx_dtype_size(ct);
  int64_t kg = G.kprod * cig, cog = cout / prm.groups, m = conv_rows(x, G);
  if (m == 0) {
    MX_CUDA_CHECK("conv_weight",
                  cudaMemsetAsync(out->data, 0, (size_t)out->size * (size_t)esz, q));
    return 0;
  }
  int64_t cstr[CONV_MAX_DIMS + 2];
  mxc_scratch_guard gc(q), gcol(q), gcolf(q), gacc(q);
  const char *cd = conv_contig(cot, ct, &gc, cstr, q, dev);
  if (!cd) return -1;
  char *acc = (char *)out->data;
  if (ct != t && !(acc = (char *)gacc.alloc((size_t)(out->size * csz)))) return -1;
  int64_t mb = conv_block_rows(m, G.ktot, esz + (ct != t ? csz : 0));
  if (!gcol.alloc((size_t)(mb * G.ktot * esz))) return -1;
  if (ct != t && !gcolf.alloc((size_t)(mb * G.ktot * csz))) return -1;
  for (int64_t r0 = 0; r0 < m; r0 += mb) {
    int64_t rows = m - r0 < mb ? m - r0 : mb;
    G.rows0 = r0;
    if (conv_unfold(G, x->data, gcol.p, rows, esz, q, dev) < 0) return -1;
    const char *col = (const char *)gcol.p;
    if (ct != t) {
      if (mx_cuda_convert(gcol.p, t, gcolf.p, ct, rows * G.ktot, q, dev) < 0) return -1;
      col = (const char *)gcolf.p;
    }
    for (int64_t g = 0; g < prm.groups; g++) {
      /* cot_g^T (cog x rows: column-major, ld cout) @ col_g (rows x kg, ld ktot) */
      if (mx_cuda_gemm(dev, ct, cd + (r0 * cout + g * cog) * csz, true, cout,
                       col + g * kg * csz, false, G.ktot, acc + g * cog * kg * csz, kg, r0 > 0,
                       cog, kg, rows, q) < 0)
        return -1;
    }
  }
  if (ct != t) return mx_cuda_convert(acc, ct, out->data, t, out->size, q, dev);
  return 0;
}
