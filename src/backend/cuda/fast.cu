/* fast.cu: the mx.fast primitives on CUDA, twins of cpu/fast_norm.c, fast_rope.c and
 * fast_sdpa.c: RMSNorm and LayerNorm (a block per row, float32 accumulation, 16-byte loads
 * on contiguous rows), RoPE (every variant: traditional, inverse, given frequencies, batched
 * offsets) and ScaledDotProductAttention (float16/bfloat16: attention.cuh's split-key
 * decoding merged by the last split and tensor-core flash prefill for head dims 64 and 128;
 * otherwise split-key decoding with a combine pass, or per head scores by mx_cuda_gemm, a
 * masked softmax kernel and a second GEMM). Masks, causal, GQA and sinks as on the CPU. */
#include "attention.cuh"
#include "lm.cuh"

/* ---------------------------------------------------------------- block reductions */

template <class C>
__device__ __forceinline__ C f_block_sum(C v, C *sh) {
  v = lm_warp_sum(v);
  __syncthreads();
  if ((threadIdx.x & 31) == 0) sh[threadIdx.x >> 5] = v;
  __syncthreads();
  C r = 0;
  for (int k = 0; k < (int)(blockDim.x >> 5); k++) r += sh[k];
  return r;
}

template <class C>
__device__ __forceinline__ C f_block_max(C v, C *sh) {
  v = lm_warp_max(v);
  __syncthreads();
  if ((threadIdx.x & 31) == 0) sh[threadIdx.x >> 5] = v;
  __syncthreads();
  C r = sh[0];
  for (int k = 1; k < (int)(blockDim.x >> 5); k++) r = sh[k] > r ? sh[k] : r;
  return r;
}

/* Calls f(k, value) for every element k of a row of d elements (element stride sx), with
 * 16-byte loads when vec. */
template <class Tr, class F>
__device__ __forceinline__ void f_row_each(const typename Tr::S *xr, int64_t d, int64_t sx,
                                           bool vec, F f) {
  typedef typename Tr::S S;
  constexpr int VS = 16 / (int)sizeof(S);
  if (vec) {
    const mxc_pack<S, VS> *xp = (const mxc_pack<S, VS> *)xr;
    for (int64_t p = threadIdx.x; p < d / VS; p += blockDim.x) {
      mxc_pack<S, VS> pk = xp[p];
#pragma unroll
      for (int e = 0; e < VS; e++) f(p * VS + e, Tr::ld(pk.v[e]));
    }
  } else {
    for (int64_t k = threadIdx.x; k < d; k += blockDim.x) f(k, Tr::ld(xr[k * sx]));
  }
}

/* ---------------------------------------------------------------- RMSNorm / LayerNorm */

template <class Tr>
__device__ __forceinline__ typename Tr::C f_round(typename Tr::C v) {
  return Tr::ld(Tr::sv(v)); /* identity for float32 and float64 */
}

template <class Tr>
__global__ void __launch_bounds__(256) f_norm_k(const typename Tr::S *x, int64_t sx,
                                                const __grid_constant__ mxc_layout<1> L,
                                                const typename Tr::S *w, int64_t ws,
                                                const typename Tr::S *bb, int64_t bs,
                                                typename Tr::S *out, int64_t rows, int64_t d,
                                                double eps_, bool layer, bool vec) {
  typedef typename Tr::C C;
  __shared__ C sh[32];
  const C eps = (C)eps_, inv_d = (C)1 / (C)d;
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    int64_t off[1];
    mxc_offsets<1>(L, r, off);
    const typename Tr::S *xr = x + off[0];
    C mu = 0;
    if (layer) {
      C s = 0;
      f_row_each<Tr>(xr, d, sx, vec, [&](int64_t, C v) { s += v; });
      mu = f_block_sum(s, sh) * inv_d;
    }
    C sq = 0;
    f_row_each<Tr>(xr, d, sx, vec, [&](int64_t, C v) {
      C c = v - mu;
      sq += c * c;
    });
    C var = f_block_sum(sq, sh) * inv_d;
    C rs = (C)1 / sqrt(var + eps);
    typename Tr::S *o = out + r * d;
    f_row_each<Tr>(xr, d, sx, vec, [&](int64_t k, C v) {
      C n = f_round<Tr>((v - mu) * rs) * Tr::ld(w[k * ws]);
      if (layer) n = f_round<Tr>(n) + Tr::ld(bb[k * bs]);
      o[k] = Tr::sv(n);
    });
  }
}

template <class Tr>
static int f_norm_launch(const mx_kernel_ctx *ctx, const mx_tensor *in, bool layer,
                         mx_tensor *out) {
  cudaStream_t q = (cudaStream_t)ctx->queue;
  int dev = ctx->device_index;
  const mx_tensor *x = &in[0], *w = &in[1], *b = layer ? &in[2] : nullptr;
  int nd = x->ndim;
  int64_t d = x->shape[nd - 1], sx = x->strides[nd - 1], rows = out->size / d;
  int32_t small[16];
  int32_t *shape = nd <= 16 ? small : (int32_t *)malloc(sizeof(int32_t) * (size_t)nd);
  if (!shape) return mx_fail_int(MX_ENOMEM, "[malloc] Unable to allocate.");
  for (int k = 0; k < nd; k++) shape[k] = k == nd - 1 ? 1 : x->shape[k];
  const int64_t *strides[1] = {x->strides};
  mxc_layout<1> L;
  void *ext = nullptr;
  int rc = mxc_layout_init<1>(&L, nd, shape, strides, q, &ext);
  if (shape != small) free(shape);
  if (rc < 0) return -1;
  /* 16-byte loads: unit stride, rows a whole number of packs, every row start aligned */
  bool vec = sx == 1 && (d * (int64_t)sizeof(typename Tr::S)) % 16 == 0 &&
             mxc_align_of(x->data) >= 16;
  for (int k = 0; k < nd - 1 && vec; k++)
    vec = x->shape[k] == 1 || (x->strides[k] * (int64_t)sizeof(typename Tr::S)) % 16 == 0;
  int64_t ws = w->ndim ? w->strides[w->ndim - 1] : 0;
  int64_t bs = b && b->ndim ? b->strides[b->ndim - 1] : 0;
  unsigned threads = d >= 4096 ? 256 : (d >= 1024 ? 128 : 64);
  unsigned blocks = (unsigned)(rows < (int64_t)mxc_sm_count(dev) * 32 ? rows
                                                                      : mxc_sm_count(dev) * 32);
  f_norm_k<Tr><<<blocks, threads, 0, q>>>(
      (const typename Tr::S *)x->data, sx, L, (const typename Tr::S *)w->data, ws,
      b ? (const typename Tr::S *)b->data : nullptr, bs, (typename Tr::S *)out->data, rows, d,
      *(const double *)ctx->params, layer, vec);
  cudaError_t e = cudaGetLastError();
  if (ext) mx_cuda_scratch_free(ext, q);
  MX_CUDA_CHECK(layer ? "layer_norm" : "rms_norm", e);
  return 0;
}

static int f_norm(const mx_kernel_ctx *ctx, const mx_tensor *in, bool layer, mx_tensor *out) {
  const char *name = layer ? "layer_norm" : "rms_norm";
  if (out->size == 0) return 0;
  for (int k = 0; k < (layer ? 3 : 2); k++)
    if (in[k].dtype != out->dtype)
      return mx_fail_int(MX_ETYPE, "[%s] CUDA expects every input in %s.", name,
                         mx_dtype_name(out->dtype));
  switch (out->dtype) {
    case MX_FLOAT16: return f_norm_launch<lm_f16>(ctx, in, layer, out);
    case MX_BFLOAT16: return f_norm_launch<lm_bf16>(ctx, in, layer, out);
    case MX_FLOAT32: return f_norm_launch<lm_f32>(ctx, in, layer, out);
    case MX_FLOAT64: return f_norm_launch<lm_f64>(ctx, in, layer, out);
    default:
      return mx_fail_int(MX_ETYPE, "[%s] Not supported for %s.", name, mx_dtype_name(out->dtype));
  }
}

int mx_cuda_rms_norm(const mx_kernel_ctx *ctx, const mx_tensor *in, int n_in, mx_tensor *out,
                     int n_out) {
  (void)n_in;
  (void)n_out;
  return f_norm(ctx, in, false, out);
}

int mx_cuda_layer_norm(const mx_kernel_ctx *ctx, const mx_tensor *in, int n_in, mx_tensor *out,
                       int n_out) {
  (void)n_in;
  (void)n_out;
  return f_norm(ctx, in, true, out);
}

/* ---------------------------------------------------------------- RoPE */

struct f_rope_args {
  const void *x;          /* row-contiguous, rows x d */
  void *out;
  const int32_t *off;     /* offsets: off[b * off_stride] (off_stride 0: one offset) */
  int64_t off_stride;
  const float *freqs;     /* NULL: base */
  int64_t fs;
  int64_t n, d, t_len, rows_per_batch;
  int dims, dt;
  float base, scale;
  bool traditional, forward;
};

template <class Tr>
__global__ void __launch_bounds__(256) f_rope_k(const f_rope_args a) {
  typedef typename Tr::S S;
  typedef typename Tr::C C;
  const S *x = (const S *)a.x;
  S *y = (S *)a.out;
  const int half = a.dims / 2;
  for (int64_t idx = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; idx < a.n;
       idx += (int64_t)gridDim.x * blockDim.x) {
    int64_t r = idx / a.d, jj = idx - r * a.d;
    if (jj >= 2 * half) {
      y[idx] = x[idx];
      continue;
    }
    int i;
    bool first;
    int64_t pa, pb;
    if (a.traditional) {
      i = (int)(jj / 2);
      first = (jj & 1) == 0;
      pa = 2 * i;
      pb = 2 * i + 1;
    } else {
      first = jj < half;
      i = first ? (int)jj : (int)jj - half;
      pa = i;
      pb = i + half;
    }
    float inv = a.freqs ? 1.0f / a.freqs[i * a.fs] : mx_f_rope_inv_freq(i, half, a.base);
    int32_t o = a.off[(r / a.rows_per_batch) * a.off_stride];
    float th = mx_f_rope_theta(r % a.t_len, o, a.scale, inv);
    float c = lm_round(cosf(th), a.dt), s = lm_round(sinf(th), a.dt);
    C x1 = Tr::ld(x[r * a.d + pa]), x2 = Tr::ld(x[r * a.d + pb]), v;
    if constexpr (sizeof(C) == sizeof(double)) {
      double cc = c, ss = s;
      if (a.forward) v = first ? x1 * cc - x2 * ss : x1 * ss + x2 * cc;
      else v = first ? x2 * ss + x1 * cc : x2 * cc - x1 * ss;
    } else {
      float o1, o2;
      mx_f_rope_pair(x1, x2, c, s, a.forward, &o1, &o2);
      v = first ? o1 : o2;
    }
    y[idx] = Tr::sv(v);
  }
}

int mx_cuda_rope(const mx_kernel_ctx *ctx, const mx_tensor *in, int n_in, mx_tensor *out,
                 int n_out) {
  (void)n_out;
  const mx_p_rope *p = (const mx_p_rope *)ctx->params;
  if (out->size == 0) return 0;
  cudaStream_t q = (cudaStream_t)ctx->queue;
  int dev = ctx->device_index;
  const mx_tensor *x = &in[0];
  if (x->dtype != out->dtype || !mx_dtype_is_floating(x->dtype))
    return mx_fail_int(MX_ETYPE, "[rope] Not supported for %s.", mx_dtype_name(x->dtype));
  mxc_scratch_guard gx(q), go(q), gf(q);
  f_rope_args a;
  a.x = lm_stage(x, x->dtype, gx, q, dev);
  a.off = a.x ? (const int32_t *)lm_stage(&in[1], MX_INT32, go, q, dev) : nullptr;
  if (!a.off) return -1;
  a.off_stride = in[1].size == 1 ? 0 : 1;
  a.freqs = nullptr;
  a.fs = 1;
  if (n_in > 2 && !(a.freqs = (const float *)lm_stage(&in[2], MX_FLOAT32, gf, q, dev))) return -1;
  int nd = x->ndim;
  a.out = out->data;
  a.n = out->size;
  a.d = x->shape[nd - 1];
  a.t_len = x->shape[nd - 2];
  a.rows_per_batch = (out->size / a.d) / x->shape[0];
  if (a.rows_per_batch < 1) a.rows_per_batch = 1;
  a.dims = p->dims;
  a.dt = x->dtype;
  a.base = (float)p->base;
  a.scale = (float)p->scale;
  a.traditional = p->traditional;
  a.forward = p->forward;
  unsigned blocks = mxc_blocks(a.n, 256, dev);
  switch (x->dtype) {
    case MX_FLOAT16: f_rope_k<lm_f16><<<blocks, 256, 0, q>>>(a); break;
    case MX_BFLOAT16: f_rope_k<lm_bf16><<<blocks, 256, 0, q>>>(a); break;
    case MX_FLOAT64: f_rope_k<lm_f64><<<blocks, 256, 0, q>>>(a); break;
    default: f_rope_k<lm_f32><<<blocks, 256, 0, q>>>(a); break;
  }
  MX_CUDA_CHECK_LAUNCH("rope");
  return 0;
}

/* ---------------------------------------------------------------- attention */

struct f_sdpa_args {
  const void *q, *k, *v;
  int64_t qs[3], ks[3], vs[3]; /* batch, head, row strides (elements); unit last stride */
  const void *mask;            /* NULL when none */
  int mdt;
  int64_t ms[4];
  const double *sinks;         /* (Nq,) or NULL */
  void *out;                   /* (B, Nq, Tq, Dv) row-contiguous */
  float *part;                 /* rows x nsplit x (Dv + 2) partials */
  int64_t B, NQ, NKV, TQ, TK, D, DV;
  int64_t nsplit, chunk;
  double scale, masked;
  bool causal;
};

/* The adjusted score of key j for query i of (b, h): mask, then causal. */
__device__ __forceinline__ float f_sdpa_adjust(const f_sdpa_args &a, float s, int64_t b,
                                               int64_t h, int64_t i, int64_t j) {
  if (a.mask) {
    int64_t mo = b * a.ms[0] + h * a.ms[1] + i * a.ms[2] + j * a.ms[3];
    if (a.mdt == MX_BOOL) s = ((const bool *)a.mask)[mo] ? s : (float)a.masked;
    else s += lm_ldf(a.mask, a.mdt, mo);
  }
  if (a.causal && !mx_f_sdpa_causal_visible(i, j, a.TQ, a.TK)) s = (float)a.masked;
  return s;
}

#define SDPA_WARPS 4
#define SDPA_KU 8 /* keys per warp per step (loads in flight) */

/* Split-key decoding: block (row, split); each warp runs an online softmax over every
 * SDPA_WARPS-th key of the split, lane l holding dims [128c + 4l, 128c + 4l + 4). */
/* The end of a decode block, after the warps stored their running max, sum and DV
 * accumulators (acc: SDPA_WARPS rows, ld apart) and synchronized: merges the warps, then
 * writes the output row (one split, sinks applied) or the split's partial (max, sum, DV
 * sums) for f_sdpa_combine. */
template <class Tr>
__device__ __forceinline__ void f_sdpa_finish(const f_sdpa_args &a, int64_t row, int64_t split,
                                              int64_t h, const float *sm_m, const float *sm_l,
                                              const float *acc, int ld) {
  typedef typename Tr::S S;
  float M = sm_m[0];
  for (int w = 1; w < SDPA_WARPS; w++) M = sm_m[w] > M ? sm_m[w] : M;
  float wt[SDPA_WARPS], L = 0.0f;
  for (int w = 0; w < SDPA_WARPS; w++) {
    wt[w] = sm_m[w] == -INFINITY ? 0.0f : expf(sm_m[w] - M);
    L += wt[w] == 0.0f ? 0.0f : sm_l[w] * wt[w];
  }
  if (a.nsplit == 1) {
    if (a.sinks) {
      float sk = (float)a.sinks[h], M2 = sk > M ? sk : M;
      float f = M == -INFINITY ? 0.0f : expf(M - M2);
      for (int w = 0; w < SDPA_WARPS; w++) wt[w] *= f;
      L = L * f + expf(sk - M2);
    }
    S *o = (S *)a.out + row * a.DV;
    for (int64_t d = threadIdx.x; d < a.DV; d += blockDim.x) {
      float s = 0.0f;
      for (int w = 0; w < SDPA_WARPS; w++)
        if (wt[w] != 0.0f) s += acc[w * ld + d] * wt[w];
      o[d] = Tr::sv(L == 0.0f ? NAN : s / L);
    }
  } else {
    float *pp = a.part + (row * a.nsplit + split) * (a.DV + 2);
    if (threadIdx.x == 0) {
      pp[0] = M;
      pp[1] = L;
    }
    for (int64_t d = threadIdx.x; d < a.DV; d += blockDim.x) {
      float s = 0.0f;
      for (int w = 0; w < SDPA_WARPS; w++)
        if (wt[w] != 0.0f) s += acc[w * ld + d] * wt[w];
      pp[2 + d] = s;
    }
  }
}

template <class Tr, int DCH>
__global__ void __launch_bounds__(32 * SDPA_WARPS) f_sdpa_decode(const f_sdpa_args a) {
  typedef typename Tr::S S;
  __shared__ float sm_m[SDPA_WARPS], sm_l[SDPA_WARPS];
  __shared__ float sm_acc[SDPA_WARPS][DCH * 128];
  const int lane = threadIdx.x & 31, wp = threadIdx.x >> 5;
  const int64_t row = blockIdx.x, split = blockIdx.y;
  const int64_t iq = row % a.TQ, h = (row / a.TQ) % a.NQ, b = row / (a.TQ * a.NQ);
  const int64_t hk = h / (a.NQ / a.NKV);
  int64_t j0 = split * a.chunk, j1 = j0 + a.chunk < a.TK ? j0 + a.chunk : a.TK;
  if (a.causal && iq + (a.TK - a.TQ) >= 0 && j1 > iq + (a.TK - a.TQ) + 1)
    j1 = iq + (a.TK - a.TQ) + 1;
  float qv[DCH][4], acc[DCH][4];
  bool qon[DCH], von[DCH];
  const S *qr = (const S *)a.q + b * a.qs[0] + h * a.qs[1] + iq * a.qs[2];
#pragma unroll
  for (int c = 0; c < DCH; c++) {
    int64_t d0 = c * 128 + lane * 4;
    qon[c] = d0 < a.D;
    von[c] = d0 < a.DV;
#pragma unroll
    for (int e = 0; e < 4; e++) {
      qv[c][e] = 0.0f;
      acc[c][e] = 0.0f;
    }
    if (qon[c]) {
      mxc_pack<S, 4> pk = *(const mxc_pack<S, 4> *)(qr + d0);
#pragma unroll
      for (int e = 0; e < 4; e++) qv[c][e] = Tr::ld(pk.v[e]) * (float)a.scale;
    }
  }
  float m = -INFINITY, l = 0.0f;
  const S *kb = (const S *)a.k + b * a.ks[0] + hk * a.ks[1];
  const S *vb = (const S *)a.v + b * a.vs[0] + hk * a.vs[1];
  for (int64_t jb = j0 + wp * SDPA_KU; jb < j1; jb += SDPA_WARPS * SDPA_KU) {
    mxc_pack<S, 4> kp[SDPA_KU][DCH], vp[SDPA_KU][DCH];
#pragma unroll
    for (int u = 0; u < SDPA_KU; u++) {
      int64_t jj = jb + u < j1 ? jb + u : j1 - 1;
#pragma unroll
      for (int c = 0; c < DCH; c++) {
        if (qon[c]) kp[u][c] = *(const mxc_pack<S, 4> *)(kb + jj * a.ks[2] + c * 128 + lane * 4);
        if (von[c]) vp[u][c] = *(const mxc_pack<S, 4> *)(vb + jj * a.vs[2] + c * 128 + lane * 4);
      }
    }
    float sc[SDPA_KU];
#pragma unroll
    for (int u = 0; u < SDPA_KU; u++) {
      float s = 0.0f;
#pragma unroll
      for (int c = 0; c < DCH; c++)
        if (qon[c])
#pragma unroll
          for (int e = 0; e < 4; e++) s += qv[c][e] * Tr::ld(kp[u][c].v[e]);
      sc[u] = s;
    }
#pragma unroll
    for (int d = 16; d > 0; d >>= 1)
#pragma unroll
      for (int u = 0; u < SDPA_KU; u++) sc[u] += __shfl_xor_sync(0xffffffffu, sc[u], d);
    float bm = -INFINITY;
#pragma unroll
    for (int u = 0; u < SDPA_KU; u++) {
      sc[u] = jb + u < j1 ? f_sdpa_adjust(a, sc[u], b, h, iq, jb + u) : -INFINITY;
      bm = sc[u] > bm ? sc[u] : bm;
    }
    if (bm > m) {
      float alpha = m == -INFINITY ? 0.0f : expf(m - bm);
      l *= alpha;
#pragma unroll
      for (int c = 0; c < DCH; c++)
#pragma unroll
        for (int e = 0; e < 4; e++) acc[c][e] *= alpha;
      m = bm;
    }
    if (m == -INFINITY) { /* NaN scores still weigh: they poison the row as on the CPU */
      bool nan = false;
#pragma unroll
      for (int u = 0; u < SDPA_KU; u++) nan |= sc[u] != sc[u];
      if (!nan) continue;
    }
#pragma unroll
    for (int u = 0; u < SDPA_KU; u++) {
      float p = sc[u] == -INFINITY ? 0.0f : expf(sc[u] - m);
      l += p;
      if (p == 0.0f) continue; /* a key of weight 0 adds nothing, not even inf * 0 */
#pragma unroll
      for (int c = 0; c < DCH; c++)
        if (von[c])
#pragma unroll
          for (int e = 0; e < 4; e++) acc[c][e] += p * Tr::ld(vp[u][c].v[e]);
    }
  }
  /* merge the warps */
  if (lane == 0) {
    sm_m[wp] = m;
    sm_l[wp] = l;
  }
#pragma unroll
  for (int c = 0; c < DCH; c++)
#pragma unroll
    for (int e = 0; e < 4; e++) sm_acc[wp][c * 128 + lane * 4 + e] = acc[c][e];
  __syncthreads();
  f_sdpa_finish<Tr>(a, row, split, h, sm_m, sm_l, &sm_acc[0][0], DCH * 128);
}

/* Merges the split partials of one row with a block of 128 threads: the split weights
 * first, in parallel into wsh (nsplit floats of shared memory), then every output dim.
 * The partials are read once, past L1. */
template <class Tr>
__device__ __forceinline__ void f_sdpa_combine_row(const f_sdpa_args &a, int64_t row,
                                                   float *wsh, float *red) {
  const int64_t h = (row / a.TQ) % a.NQ;
  const int64_t P = a.DV + 2;
  const float *pp = a.part + row * a.nsplit * P;
  float M = -INFINITY;
  for (int64_t s = threadIdx.x; s < a.nsplit; s += blockDim.x) {
    const float ms = __ldcg(pp + s * P);
    M = ms > M ? ms : M;
  }
  M = lm_warp_max(M);
  if ((threadIdx.x & 31) == 0) red[threadIdx.x >> 5] = M;
  __syncthreads();
  M = red[0];
  for (int w = 1; w < (int)(blockDim.x >> 5); w++) M = red[w] > M ? red[w] : M;
  float sk = a.sinks ? (float)a.sinks[h] : -INFINITY;
  const float M2 = sk > M ? sk : M;
  float L = 0.0f;
  for (int64_t s = threadIdx.x; s < a.nsplit; s += blockDim.x) {
    float ms = __ldcg(pp + s * P);
    float wgt = ms == -INFINITY ? 0.0f : expf(ms - M2);
    wsh[s] = wgt;
    L += wgt == 0.0f ? 0.0f : __ldcg(pp + s * P + 1) * wgt;
  }
  L = lm_warp_sum(L);
  __syncthreads();
  if ((threadIdx.x & 31) == 0) red[threadIdx.x >> 5] = L;
  __syncthreads();
  L = 0.0f;
  for (int w = 0; w < (int)(blockDim.x >> 5); w++) L += red[w];
  if (a.sinks) L += expf(sk - M2);
  typename Tr::S *o = (typename Tr::S *)a.out + row * a.DV;
  for (int64_t d = threadIdx.x; d < a.DV; d += blockDim.x) {
    float acc = 0.0f;
#pragma unroll 8
    for (int64_t s = 0; s < a.nsplit; s++)
      if (wsh[s] != 0.0f) acc += __ldcg(pp + s * P + 2 + d) * wsh[s];
    o[d] = Tr::sv(L == 0.0f ? NAN : acc / L);
  }
}

/* Merges the split partials of every row (block per row). */
template <class Tr>
__global__ void __launch_bounds__(128) f_sdpa_combine(const f_sdpa_args a) {
  extern __shared__ float wsh[];
  __shared__ float red[4];
  f_sdpa_combine_row<Tr>(a, blockIdx.x, wsh, red);
}

/* The GEMM path's softmax: rows of the scores sc (TQ x TK for head h of batch b, dtype S)
 * become probabilities in place. Block per row. */
template <class Tr>
__global__ void __launch_bounds__(256) f_sdpa_softmax(const f_sdpa_args a, typename Tr::S *sc,
                                                      int64_t b, int64_t h) {
  typedef typename Tr::C C;
  __shared__ C sh[32];
  const int64_t i = blockIdx.x;
  typename Tr::S *sr = sc + i * a.TK;
  const C scale = (C)a.scale;
  auto score = [&](int64_t j) -> C {
    C s = Tr::ld(sr[j]) * scale;
    if (a.mask) {
      int64_t mo = b * a.ms[0] + h * a.ms[1] + i * a.ms[2] + j * a.ms[3];
      if (a.mdt == MX_BOOL) s = ((const bool *)a.mask)[mo] ? s : (C)a.masked;
      else if (a.mdt == MX_FLOAT64) s += (C)((const double *)a.mask)[mo];
      else s += (C)lm_ldf(a.mask, a.mdt, mo);
    }
    if (a.causal && !mx_f_sdpa_causal_visible(i, j, a.TQ, a.TK)) s = (C)a.masked;
    return s;
  };
  C m = -(C)INFINITY;
  for (int64_t j = threadIdx.x; j < a.TK; j += blockDim.x) {
    C s = score(j);
    m = s > m || s != s ? s : m;
  }
  m = f_block_max(m, sh);
  if (a.sinks) m = (C)a.sinks[h] > m ? (C)a.sinks[h] : m;
  C l = 0;
  if (m != -(C)INFINITY)
    for (int64_t j = threadIdx.x; j < a.TK; j += blockDim.x) l += exp(score(j) - m);
  l = f_block_sum(l, sh);
  if (a.sinks && m != -(C)INFINITY) l += exp((C)a.sinks[h] - m);
  C inv = (C)1 / l;
  for (int64_t j = threadIdx.x; j < a.TK; j += blockDim.x) {
    C p = l == 0 || m == -(C)INFINITY ? (C)NAN : exp(score(j) - m) * inv;
    sr[j] = Tr::sv(p);
  }
}

/* Stages t (B, H, T, E) so that its last stride is 1 and rows do not overlap. */
static const void *f_sdpa_stage(const mx_tensor *t, mxc_scratch_guard &g, cudaStream_t q,
                                int dev, int64_t (&st)[3], int align_elems) {
  bool ok = (t->strides[3] == 1 || t->shape[3] <= 1) &&
            (t->shape[2] <= 1 || t->strides[2] >= t->shape[3]);
  const void *p = t->data;
  if (ok && align_elems > 1) {
    ok = mxc_align_of(p) >= align_elems * mx_dtype_size(t->dtype);
    for (int d = 0; d < 3 && ok; d++) ok = t->shape[d] <= 1 || t->strides[d] % align_elems == 0;
  }
  if (ok) {
    st[0] = t->strides[0];
    st[1] = t->strides[1];
    st[2] = t->shape[2] <= 1 ? t->shape[3] : t->strides[2];
    return p;
  }
  size_t bytes = (size_t)(t->size > 0 ? t->size : 1) * mx_dtype_size(t->dtype);
  void *c = g.alloc(bytes);
  if (!c) return nullptr;
  int64_t rs[4] = {0, 0, 0, 1};
  for (int d = 2; d >= 0; d--) rs[d] = rs[d + 1] * t->shape[d + 1];
  mx_tensor dst = {c, t->dtype, 4, t->shape, rs, t->size, 1};
  if (mx_cuda_copy_strided(t, &dst, q, dev) < 0) return nullptr;
  st[0] = rs[0];
  st[1] = rs[1];
  st[2] = rs[2];
  return c;
}

/* Tuning of the attention.cuh paths (benchmarks/attention_bench.cu, H100) */
#define F_ATT_PF_WARPS 4      /* prefill: warps per block, */
#define F_ATT_PF_MI 1         /* 16-row fragments per warp, */
#define F_ATT_PF_STAGES 3     /* K/V tiles in flight; */
#define F_ATT_PF_PLAIN_MI 2   /* unmasked D = 128: 32 rows per warp and 2 stages (1.2x faster */
#define F_ATT_PF_PLAIN_STAGES 2 /* at (32, 2048, 128)) when that grid has 2 blocks per SM */
#define F_ATT_DEC_WARPS 8     /* decode: warps per block, */
#define F_ATT_DEC_KU 4        /* keys in flight per half warp, */
#define F_ATT_DEC_BLOCKS_PER_SM 2 /* blocks per SM resident (<= 128 registers), */
#define F_ATT_DEC_MIN_KEYS 128 /* keys per split at least */

template <bool BF>
static cudaError_t f_att_prefill(const att_args &t, int mode, int sms, cudaStream_t q) {
  const int64_t rows2 = 16 * F_ATT_PF_PLAIN_MI * F_ATT_PF_WARPS;
  if (mode == ATT_PLAIN && t.D == 128 && t.NQ * t.B * ((t.TQ + rows2 - 1) / rows2) >= 2 * sms)
    return att_flash_launch_mode_k<BF, 128, F_ATT_PF_WARPS, F_ATT_PF_PLAIN_MI,
                                   F_ATT_PF_PLAIN_STAGES, ATT_PLAIN>(t, q);
  if (t.D == 64)
    return att_flash_launch_k<BF, 64, F_ATT_PF_WARPS, F_ATT_PF_MI, F_ATT_PF_STAGES>(t, mode, q);
  return att_flash_launch_k<BF, 128, F_ATT_PF_WARPS, F_ATT_PF_MI, F_ATT_PF_STAGES>(t, mode, q);
}

static int f_cc_major(int dev) {
  int v = 0;
  if (cudaDeviceGetAttribute(&v, cudaDevAttrComputeCapabilityMajor, dev) != cudaSuccess) {
    (void)cudaGetLastError();
    return 0;
  }
  return v;
}

/* The ATT_MASK_* code of a mask dtype, -1 when attention.cuh does not read it. */
static int f_att_mask_kind(int t) {
  switch (t) {
    case MX_BOOL: return ATT_MASK_BOOL;
    case MX_UINT8: return ATT_MASK_U8;
    case MX_INT32: return ATT_MASK_I32;
    case MX_FLOAT16: return ATT_MASK_F16;
    case MX_BFLOAT16: return ATT_MASK_BF16;
    case MX_FLOAT32: return ATT_MASK_F32;
    case MX_FLOAT64: return ATT_MASK_F64;
    default: return -1;
  }
}

static att_args f_att_args(const f_sdpa_args &a, int mkind) {
  att_args t;
  memset(&t, 0, sizeof(t));
  t.q = a.q;
  t.k = a.k;
  t.v = a.v;
  for (int d = 0; d < 3; d++) {
    t.qs[d] = a.qs[d];
    t.ks[d] = a.ks[d];
    t.vs[d] = a.vs[d];
  }
  t.mask = a.mask;
  t.mkind = mkind;
  for (int d = 0; d < 4; d++) t.ms[d] = a.ms[d];
  t.sinks = a.sinks;
  t.out = a.out;
  t.B = a.B;
  t.NQ = a.NQ;
  t.NKV = a.NKV;
  t.TQ = a.TQ;
  t.TK = a.TK;
  t.D = a.D;
  t.DV = a.DV;
  t.scale = (float)a.scale;
  t.masked = (float)a.masked;
  t.causal = a.causal;
  return t;
}

template <class Tr>
static int f_sdpa_run(const mx_kernel_ctx *ctx, const mx_tensor *in, mx_tensor *out) {
  const mx_p_sdpa *p = (const mx_p_sdpa *)ctx->params;
  cudaStream_t q = (cudaStream_t)ctx->queue;
  int dev = ctx->device_index;
  typedef typename Tr::S S;
  f_sdpa_args a;
  memset(&a, 0, sizeof(a));
  a.B = in[0].shape[0];
  a.NQ = in[0].shape[1];
  a.TQ = in[0].shape[2];
  a.D = in[0].shape[3];
  a.NKV = in[1].shape[1];
  a.TK = in[1].shape[2];
  a.DV = in[2].shape[3];
  a.scale = p->scale;
  a.causal = p->causal;
  a.masked = mx_f_sdpa_masked_score(out->dtype);
  a.out = out->data;
  int k = 3;
  const mx_tensor *mask = p->has_mask ? &in[k++] : nullptr;
  const mx_tensor *sinks = p->has_sinks ? &in[k++] : nullptr;
  if (a.TK == 0) {
    MX_CUDA_CHECK("scaled_dot_product_attention",
                  cudaMemsetAsync(out->data, 0, (size_t)out->size * sizeof(S), q));
    return 0;
  }
  mxc_scratch_guard gq(q), gk(q), gv(q), gs(q), gp(q);
  if (mask) {
    a.mask = mask->data;
    a.mdt = mask->dtype;
    for (int d = 0; d < 4; d++) a.ms[d] = mask->shape[d] == 1 ? 0 : mask->strides[d];
  }
  if (sinks && !(a.sinks = (const double *)lm_stage(sinks, MX_FLOAT64, gs, q, dev))) return -1;
  bool decode = sizeof(S) <= 4 && a.TQ <= 4 && a.D % 4 == 0 && a.DV % 4 == 0 && a.D <= 256 &&
                a.DV <= 256 && a.D > 0 && a.DV > 0 && a.NQ % a.NKV == 0;
  const int cc = f_cc_major(dev), mkind = mask ? f_att_mask_kind(mask->dtype) : 0;
  /* the kernels of attention.cuh: 2-byte dtypes, 16-byte aligned rows */
  const bool att_ok = sizeof(S) == 2 && mkind >= 0 && a.NQ % a.NKV == 0;
  const bool att_dec = att_ok && decode && cc >= 8 && a.D <= 128 && a.DV <= 128 &&
                       a.D % 8 == 0 && a.DV % 8 == 0;
  const bool flash = att_ok && !decode && cc >= 8 && (a.D == 64 || a.D == 128) &&
                     a.DV == a.D && !(a.causal && (mask || a.TQ > a.TK)) && a.NQ <= 65535 &&
                     a.B <= 65535 && a.scale > 0 && a.scale < INFINITY &&
                     mxc_align_of(out->data) >= 16;
  int al = att_dec || flash ? 8 : decode ? 4 : 1;
  a.q = f_sdpa_stage(&in[0], gq, q, dev, a.qs, al);
  a.k = a.q ? f_sdpa_stage(&in[1], gk, q, dev, a.ks, al) : nullptr;
  a.v = a.k ? f_sdpa_stage(&in[2], gv, q, dev, a.vs, al) : nullptr;
  if (!a.v) return -1;
  const char *name = "scaled_dot_product_attention";
  const int64_t rows = a.B * a.NQ * a.TQ;
  if (att_dec || flash) {
    att_args t = f_att_args(a, mkind);
    constexpr bool bf = Tr::dt == MX_BFLOAT16;
    if (flash) {
      MX_CUDA_CHECK(name, f_att_prefill<bf>(t, a.causal ? ATT_CAUSAL : mask ? ATT_ARRAY : ATT_PLAIN,
                                            mxc_sm_count(dev), q));
      return 0;
    }
    /* key splits merged by the last block of each row; every block resident at once */
    if (rows > INT32_MAX) return mx_fail_int(MX_EINVAL, "[%s] Too many query rows.", name);
    int64_t ns = (int64_t)mxc_sm_count(dev) * F_ATT_DEC_BLOCKS_PER_SM / rows;
    int64_t maxs = (a.TK + F_ATT_DEC_MIN_KEYS - 1) / F_ATT_DEC_MIN_KEYS;
    ns = ns < maxs ? ns : maxs;
    const int64_t most = ATT_DEC_MAX_SPLITS(F_ATT_DEC_WARPS);
    ns = ns < 1 ? 1 : (ns > most ? most : ns);
    t.chunk = (a.TK + ns - 1) / ns;
    ns = (a.TK + t.chunk - 1) / t.chunk;
    if (ns > 1) {
      t.part = (float *)gp.alloc(sizeof(float) * (size_t)(rows * ns * (a.DV + 2)));
      t.ticket = t.part ? mx_cuda_tickets((size_t)rows, q) : nullptr;
      if (!t.ticket) return -1;
    }
    MX_CUDA_CHECK(name, (att_decode_launch_k<bf, F_ATT_DEC_KU, F_ATT_DEC_WARPS>(t, rows, (int)ns,
                                                                              q)));
    return 0;
  }
  if (decode) {
    int64_t want = (int64_t)mxc_sm_count(dev) * 8;
    int64_t ns = (want + rows - 1) / rows, maxs = (a.TK + 127) / 128;
    ns = ns < maxs ? ns : maxs;
    ns = ns < 1 ? 1 : (ns > 4096 ? 4096 : ns);
    a.chunk = (a.TK + ns - 1) / ns;
    a.nsplit = (a.TK + a.chunk - 1) / a.chunk;
    if (a.nsplit > 1) {
      a.part = (float *)gp.alloc(sizeof(float) * (size_t)(rows * a.nsplit * (a.DV + 2)));
      if (!a.part) return -1;
    }
    if (rows > INT32_MAX) return mx_fail_int(MX_EINVAL, "[%s] Too many query rows.", name);
    dim3 grid((unsigned)rows, (unsigned)a.nsplit);
    if (a.D <= 128 && a.DV <= 128)
      f_sdpa_decode<Tr, 1><<<grid, 32 * SDPA_WARPS, 0, q>>>(a);
    else
      f_sdpa_decode<Tr, 2><<<grid, 32 * SDPA_WARPS, 0, q>>>(a);
    MX_CUDA_CHECK_LAUNCH(name);
    if (a.nsplit > 1) {
      f_sdpa_combine<Tr><<<(unsigned)rows, 128, sizeof(float) * (size_t)a.nsplit, q>>>(a);
      MX_CUDA_CHECK_LAUNCH(name);
    }
    return 0;
  }
  /* GEMM path: per (batch, head) scores, softmax in place, then the values */
  S *sc = (S *)gp.alloc(sizeof(S) * (size_t)(a.TQ * a.TK));
  if (!sc) return -1;
  mx_dtype t = out->dtype;
  for (int64_t b = 0; b < a.B; b++) {
    for (int64_t h = 0; h < a.NQ; h++) {
      int64_t hk = h / (a.NQ / a.NKV);
      const S *qp = (const S *)a.q + b * a.qs[0] + h * a.qs[1];
      const S *kp = (const S *)a.k + b * a.ks[0] + hk * a.ks[1];
      const S *vp = (const S *)a.v + b * a.vs[0] + hk * a.vs[1];
      S *op = (S *)out->data + (b * a.NQ + h) * a.TQ * a.DV;
      if (a.D == 0) {
        MX_CUDA_CHECK(name, cudaMemsetAsync(sc, 0, sizeof(S) * (size_t)(a.TQ * a.TK), q));
      } else if (mx_cuda_gemm(dev, t, qp, false, a.qs[2], kp, true, a.ks[2], sc, a.TK, false,
                              a.TQ, a.TK, a.D, q) < 0) {
        return -1;
      }
      f_sdpa_softmax<Tr><<<(unsigned)a.TQ, 256, 0, q>>>(a, sc, b, h);
      MX_CUDA_CHECK_LAUNCH(name);
      if (mx_cuda_gemm(dev, t, sc, false, a.TK, vp, false, a.vs[2], op, a.DV, false, a.TQ, a.DV,
                       a.TK, q) < 0)
        return -1;
    }
  }
  return 0;
}

int mx_cuda_sdpa(const mx_kernel_ctx *ctx, const mx_tensor *in, int n_in, mx_tensor *out,
                 int n_out) {
  (void)n_in;
  (void)n_out;
  if (out->size == 0) return 0;
  for (int k = 0; k < 3; k++)
    if (in[k].dtype != out->dtype)
      return mx_fail_int(MX_ETYPE, "[scaled_dot_product_attention] CUDA expects q, k and v in %s.",
                         mx_dtype_name(out->dtype));
  switch (out->dtype) {
    case MX_FLOAT16: return f_sdpa_run<lm_f16>(ctx, in, out);
    case MX_BFLOAT16: return f_sdpa_run<lm_bf16>(ctx, in, out);
    case MX_FLOAT32: return f_sdpa_run<lm_f32>(ctx, in, out);
    case MX_FLOAT64: return f_sdpa_run<lm_f64>(ctx, in, out);
    default:
      return mx_fail_int(MX_ETYPE, "[scaled_dot_product_attention] Not supported for %s.",
                         mx_dtype_name(out->dtype));
  }
}
