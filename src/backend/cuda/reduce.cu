/* reduce.cu: the Reduce primitive on CUDA, the twin of cpu/reduce.c: and/or/sum/prod/min/max
 * over sorted axes kept as size-1 dims, accumulating in the dtype of formulas.h (u64 for
 * integer sums, f32 for float16/bfloat16, ...). Row kernel (reduced elements closest in
 * memory: 1..256 threads per output, 16-byte loads, warp shuffles) and column kernel (kept
 * elements closest: one thread per output column, reduced rows split over threadIdx.y);
 * either splits long reductions over blocks and finishes with a second pass. */
#include "elementwise.cuh"

/* ---- one functor per (kind, input, accumulator) ---- */
#define RED_KIND_and MX_REDUCE_AND
#define RED_KIND_or MX_REDUCE_OR
#define RED_KIND_sum MX_REDUCE_SUM
#define RED_KIND_prod MX_REDUCE_PROD
#define RED_KIND_min MX_REDUCE_MIN
#define RED_KIND_max MX_REDUCE_MAX

/* Stores an accumulator converted to dtype dt (the output, or the accumulator's own dtype for
 * partial results). */
#define RED_STORE_CASE(a, d) \
  case MX_DT_##d: ((MX_ST_##d *)out)[i] = MX_CVT(a, d, v); break;
#define RED_STORE_FN(unused, a)                                                            \
  __device__ static inline void red_store_##a(void *out, int64_t i, mx_dtype dt, MX_ST_##a v) { \
    switch (dt) {                                                                          \
      MX_DTYPE_SFX_LIST2(RED_STORE_CASE, a)                                                \
      default: break;                                                                      \
    }                                                                                      \
  }
/* accumulator dtypes: every one but float16/bfloat16 */
RED_STORE_FN(_, b) MX_INT_SFX(RED_STORE_FN, _) RED_STORE_FN(_, f32) RED_STORE_FN(_, f64)
RED_STORE_FN(_, c64)

#define RED_DEF(kind, isfx, asfx)                                                          \
  struct red_##kind##_##isfx##_##asfx {                                                    \
    typedef MX_ST_##isfx In;                                                               \
    typedef MX_ST_##asfx Acc;                                                              \
    __device__ static Acc init() { return mx_red_init_##kind##_##asfx(); }                 \
    __device__ static Acc comb(Acc a, Acc b) { return mx_red_##kind##_##asfx(a, b); }      \
    __device__ static Acc load(In v) { return MX_CVT(isfx, asfx, v); }                     \
    __device__ static void store(void *out, int64_t i, mx_dtype dt, Acc v) {               \
      red_store_##asfx(out, i, dt, v);                                                     \
    }                                                                                      \
  };

/* The instantiated triples: every input dtype with its natural accumulator for each kind
 * (the accumulator of the op layer's output dtype), plus sum/prod into bool. Any other
 * (input, accumulator) pair first converts the input to the accumulator dtype. */
#define RED_SUMACC_b u64
#define RED_SUMACC_u8 u64
#define RED_SUMACC_u16 u64
#define RED_SUMACC_u32 u64
#define RED_SUMACC_u64 u64
#define RED_SUMACC_i8 u64
#define RED_SUMACC_i16 u64
#define RED_SUMACC_i32 u64
#define RED_SUMACC_i64 u64
#define RED_SUMACC_f16 f32
#define RED_SUMACC_f32 f32
#define RED_SUMACC_f64 f64
#define RED_SUMACC_bf16 f32
#define RED_SUMACC_c64 c64
#define RED_CALL(X, k, i, a) X(k, i, a)
#define RED_I_AND(X, s) RED_CALL(X, and, s, b)
#define RED_I_OR(X, s) RED_CALL(X, or, s, b)
#define RED_I_SUM(X, s) RED_CALL(X, sum, s, RED_SUMACC_##s)
#define RED_I_PROD(X, s) RED_CALL(X, prod, s, RED_SUMACC_##s)
#define RED_I_MIN(X, s) RED_CALL(X, min, s, MX_FS_##s)
#define RED_I_MAX(X, s) RED_CALL(X, max, s, MX_FS_##s)
#define RED_INSTANCES(X)                                                                   \
  MX_DTYPE_SFX_LIST(RED_I_AND, X)                                                          \
  MX_DTYPE_SFX_LIST(RED_I_OR, X)                                                           \
  MX_DTYPE_SFX_LIST(RED_I_SUM, X)                                                          \
  MX_DTYPE_SFX_LIST(RED_I_PROD, X)                                                         \
  MX_DTYPE_SFX_LIST(RED_I_MIN, X)                                                          \
  MX_DTYPE_SFX_LIST(RED_I_MAX, X)                                                          \
  X(sum, b, b)                                                                             \
  X(prod, b, b)

RED_INSTANCES(RED_DEF)

/* ---- kernels ---- */

struct red_args {
  const void *in;
  void *out;
  mx_dtype odt;   /* dtype written to out */
  int64_t nout;   /* kept elements */
  int64_t nr;     /* reduced elements per output */
  int64_t chunk;  /* reduced elements per split */
  int32_t P;      /* splits per output (P > 1: out holds partials in the accumulator dtype) */
  int32_t G;      /* row kernel: threads per output (1..32 or the block) */
};

/* Combines p[0..len) (contiguous) into acc, lanes lane, lane + G, ...: 16-byte loads after an
 * unaligned head. */
template <class Op>
__device__ __forceinline__ typename Op::Acc red_contig(const typename Op::In *p, int64_t len,
                                                       int lane, int G, typename Op::Acc acc) {
  using In = typename Op::In;
  using Acc = typename Op::Acc;
  constexpr int V = 16 / (int)sizeof(In);
  uintptr_t addr = (uintptr_t)p;
  int64_t head = (int64_t)(((16u - (unsigned)(addr & 15u)) & 15u) / sizeof(In));
  if (addr % sizeof(In) != 0 || head > len) head = len;
  for (int64_t j = lane; j < head; j += G) acc = Op::comb(acc, Op::load(p[j]));
  const mxc_pack<In, V> *vp = (const mxc_pack<In, V> *)(p + head);
  const int64_t nv = (len - head) / V;
#pragma unroll 4
  for (int64_t v = lane; v < nv; v += G) {
    mxc_pack<In, V> pk = vp[v];
    Acc t = Op::load(pk.v[0]);
#pragma unroll
    for (int k = 1; k < V; k++) t = Op::comb(t, Op::load(pk.v[k]));
    acc = Op::comb(acc, t);
  }
  for (int64_t j = head + nv * V + lane; j < len; j += G) acc = Op::comb(acc, Op::load(p[j]));
  return acc;
}

/* Row strategy: group g = o * P + p of G threads reduces split p of output o. */
template <class Op>
__global__ void __launch_bounds__(MXC_THREADS) red_row(red_args a,
                                                       const __grid_constant__ mxc_layout<1> K,
                                                       const __grid_constant__ mxc_layout<1> R) {
  using Acc = typename Op::Acc;
  using In = typename Op::In;
  __shared__ Acc warp_acc[MXC_THREADS / 32];
  const In *in = (const In *)a.in;
  const int G = a.G, gpb = (int)blockDim.x / G;
  const int lane = (int)threadIdx.x % G, gi = (int)threadIdx.x / G;
  const int64_t ngroups = a.nout * a.P;
  for (int64_t gb = (int64_t)blockIdx.x * gpb; gb < ngroups; gb += (int64_t)gridDim.x * gpb) {
    const int64_t g = gb + gi;
    Acc acc = Op::init();
    if (g < ngroups) {
      int64_t o = g, p = 0;
      if (a.P > 1) {
        o = g / a.P;
        p = g - o * a.P;
      }
      int64_t r0 = p * a.chunk, r1 = r0 + a.chunk < a.nr ? r0 + a.chunk : a.nr;
      int64_t koff = 0;
      mxc_offsets<1>(K, o, &koff);
      if (R.ndim == 1) {
        const int64_t rs = R.strides[0][0];
        const In *base = in + koff + r0 * rs;
        const int64_t len = r1 - r0;
        if (rs == 1) {
          acc = red_contig<Op>(base, len, lane, G, acc);
        } else {
          for (int64_t j = lane; j < len; j += G) acc = Op::comb(acc, Op::load(base[j * rs]));
        }
      } else {
        for (int64_t r = r0 + lane; r < r1; r += G) {
          int64_t roff = 0;
          mxc_offsets<1>(R, r, &roff);
          acc = Op::comb(acc, Op::load(in[koff + roff]));
        }
      }
    }
    for (int d = (G < 32 ? G : 32) / 2; d > 0; d >>= 1) acc = Op::comb(acc, mxc_shfl_down(acc, d));
    if (G > 32) { /* one group per block: combine the warps */
      const int w = (int)threadIdx.x / 32, nw = G / 32;
      if ((threadIdx.x & 31) == 0) warp_acc[w] = acc;
      __syncthreads();
      if (w == 0) {
        acc = (int)threadIdx.x < nw ? warp_acc[threadIdx.x] : Op::init();
        for (int d = 16; d > 0; d >>= 1) acc = Op::comb(acc, mxc_shfl_down(acc, d));
      }
      __syncthreads();
    }
    if (lane == 0 && g < ngroups) Op::store(a.out, g, a.odt, acc);
  }
}

#define RED_COL_X 32
#define RED_COL_Y 8

/* Column strategy: thread x owns output o (consecutive outputs are close in memory), the
 * RED_COL_Y rows of the block share the reduced range of split blockIdx.y. Partials are
 * stored at p * nout + o. */
template <class Op>
__global__ void __launch_bounds__(RED_COL_X *RED_COL_Y) red_col(red_args a,
                                                               const __grid_constant__ mxc_layout<1> K,
                                                               const __grid_constant__ mxc_layout<1> R) {
  using Acc = typename Op::Acc;
  using In = typename Op::In;
  __shared__ Acc part[RED_COL_Y][RED_COL_X + 1];
  const In *in = (const In *)a.in;
  const int tx = (int)threadIdx.x, ty = (int)threadIdx.y;
  const int64_t p = blockIdx.y;
  const int64_t r0 = p * a.chunk, r1 = r0 + a.chunk < a.nr ? r0 + a.chunk : a.nr;
  for (int64_t ob = (int64_t)blockIdx.x * RED_COL_X; ob < a.nout;
       ob += (int64_t)gridDim.x * RED_COL_X) {
    const int64_t o = ob + tx;
    Acc acc = Op::init();
    if (o < a.nout) {
      int64_t koff = 0;
      mxc_offsets<1>(K, o, &koff);
      if (R.ndim == 1) {
        const int64_t rs = R.strides[0][0];
#pragma unroll 4
        for (int64_t r = r0 + ty; r < r1; r += RED_COL_Y)
          acc = Op::comb(acc, Op::load(in[koff + r * rs]));
      } else {
        for (int64_t r = r0 + ty; r < r1; r += RED_COL_Y) {
          int64_t roff = 0;
          mxc_offsets<1>(R, r, &roff);
          acc = Op::comb(acc, Op::load(in[koff + roff]));
        }
      }
    }
    part[ty][tx] = acc;
    __syncthreads();
    if (ty == 0) {
#pragma unroll
      for (int k = 1; k < RED_COL_Y; k++) acc = Op::comb(acc, part[k][tx]);
      if (o < a.nout) Op::store(a.out, p * a.nout + o, a.odt, acc);
    }
    __syncthreads();
  }
}

/* ---- host side ---- */

typedef int (*red_launch_fn)(const red_args &a, const mxc_layout<1> &K, const mxc_layout<1> &R,
                             unsigned blocks, cudaStream_t q);

template <class Op>
static int red_row_launch(const red_args &a, const mxc_layout<1> &K, const mxc_layout<1> &R,
                          unsigned blocks, cudaStream_t q) {
  red_row<Op><<<blocks, MXC_THREADS, 0, q>>>(a, K, R);
  MX_CUDA_CHECK_LAUNCH("reduce");
  return 0;
}

template <class Op>
static int red_col_launch(const red_args &a, const mxc_layout<1> &K, const mxc_layout<1> &R,
                          unsigned blocks, cudaStream_t q) {
  red_col<Op><<<dim3(blocks, (unsigned)a.P), dim3(RED_COL_X, RED_COL_Y), 0, q>>>(a, K, R);
  MX_CUDA_CHECK_LAUNCH("reduce");
  return 0;
}

struct red_fns {
  red_launch_fn row, col;
};

#define RED_PICK(kind, isfx, asfx)                                                         \
  if (kind_ == RED_KIND_##kind && in_ == MX_DT_##isfx && acc_ == MX_DT_##asfx) {           \
    f.row = red_row_launch<red_##kind##_##isfx##_##asfx>;                                  \
    f.col = red_col_launch<red_##kind##_##isfx##_##asfx>;                                  \
    return f;                                                                              \
  }
static red_fns red_pick(int kind_, mx_dtype in_, mx_dtype acc_) {
  red_fns f = {nullptr, nullptr};
  RED_INSTANCES(RED_PICK)
  return f;
}

static const char *const red_names[6] = {"all", "any", "sum", "prod", "min", "max"};

static mx_dtype acc_dtype(int kind, mx_dtype in, mx_dtype out) {
  switch (kind) {
    case MX_REDUCE_AND:
    case MX_REDUCE_OR: return MX_BOOL;
    case MX_REDUCE_SUM:
    case MX_REDUCE_PROD:
      if (out == MX_BOOL) return MX_BOOL;
      if (mx_dtype_is_integer(out)) return MX_UINT64;
      if (out == MX_FLOAT16 || out == MX_BFLOAT16) return MX_FLOAT32;
      return out;
    default: return (in == MX_FLOAT16 || in == MX_BFLOAT16) ? MX_FLOAT32 : in;
  }
}

static int64_t abs64(int64_t v) { return v < 0 ? -v : v; }
static int64_t cdiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

/* Runs the reduction of `a` (in, nout, nr set) with layouts K, R; fns for the input dtype,
 * fin for (accumulator, accumulator) when a split needs a second pass. */
static int red_run(red_args a, const mxc_layout<1> &K, const mxc_layout<1> &R, red_fns fns,
                   red_fns fin, mx_dtype acc, int nsm, cudaStream_t q, int dev) {
  bool cols = false;
  if (K.n > 1 && R.n > 1) cols = abs64(K.strides[0][0]) < abs64(R.strides[0][0]);
  mx_dtype odt = a.odt;
  void *out = a.out;
  a.P = 1;
  a.chunk = a.nr > 0 ? a.nr : 1;
  if (cols) {
    int64_t gx = cdiv(a.nout, RED_COL_X);
    if (gx < 2 * nsm && a.nr >= 256) {
      int64_t P = cdiv(4 * nsm, gx), maxp = cdiv(a.nr, 64);
      if (P > maxp) P = maxp;
      if (P > 65535) P = 65535;
      a.chunk = cdiv(a.nr, P);
      a.P = (int32_t)cdiv(a.nr, a.chunk);
    }
  } else {
    int64_t G = 256;
    if (a.nr < 4096) {
      G = 1;
      while (G < 32 && G * 8 < a.nr) G *= 2;
    }
    a.G = (int32_t)G;
    if (G == 256 && a.nout < 2 * nsm && a.nr >= 16384) {
      int64_t P = cdiv(4 * nsm, a.nout), maxp = cdiv(a.nr, 8192);
      if (P > maxp) P = maxp;
      a.chunk = cdiv(a.nr, P);
      a.P = (int32_t)cdiv(a.nr, a.chunk);
    }
  }
  mxc_scratch_guard part(q);
  if (a.P > 1) {
    if (!part.alloc((size_t)a.nout * (size_t)a.P * (size_t)mx_dtype_size(acc))) return -1;
    a.out = part.p;
    a.odt = acc;
  }
  if (cols) {
    if (fns.col(a, K, R, mxc_blocks(a.nout, RED_COL_X, dev), q) < 0) return -1;
  } else {
    if (fns.row(a, K, R, mxc_blocks(a.nout * a.P, MXC_THREADS / a.G, dev), q) < 0) return -1;
  }
  if (a.P == 1) return 0;
  /* second pass over the partials: [nout][P] (rows) or [P][nout] (columns) */
  red_args b = a;
  b.in = part.p;
  b.out = out;
  b.odt = odt;
  b.nr = a.P;
  b.chunk = a.P;
  b.P = 1;
  mxc_layout<1> K2, R2;
  const int32_t kshape[1] = {(int32_t)(a.nout < INT32_MAX ? a.nout : 1)};
  const int32_t rshape[1] = {a.P};
  int64_t ks = cols ? 1 : a.P, rs = cols ? a.nout : 1;
  const int64_t *kst[1] = {&ks}, *rst[1] = {&rs};
  void *e1 = nullptr, *e2 = nullptr;
  if (a.nout > INT32_MAX) return mx_fail_int(MX_EINVAL, "[reduce] Too many outputs to split.");
  if (mxc_layout_init<1>(&K2, 1, kshape, kst, q, &e1) < 0) return -1;
  if (mxc_layout_init<1>(&R2, 1, rshape, rst, q, &e2) < 0) return -1;
  if (cols) return fin.col(b, K2, R2, mxc_blocks(b.nout, RED_COL_X, dev), q);
  int64_t G = 1;
  while (G < 32 && G * 8 < b.nr) G *= 2;
  b.G = (int32_t)G;
  return fin.row(b, K2, R2, mxc_blocks(b.nout, MXC_THREADS / G, dev), q);
}

extern "C" int mx_cuda_reduce(const mx_kernel_ctx *ctx, const mx_tensor *in, int n_in,
                              mx_tensor *out, int n_out) {
  const mx_p_reduce *prm = (const mx_p_reduce *)ctx->params;
  if (n_in != 1 || n_out != 1 || !prm)
    return mx_fail_int(MX_EINVAL, "[reduce] Expected 1 input, 1 output and parameters.");
  if (prm->kind < MX_REDUCE_AND || prm->kind > MX_REDUCE_MAX)
    return mx_fail_int(MX_EINVAL, "[reduce] Unknown reduction kind %d.", (int)prm->kind);
  const char *name = red_names[prm->kind];
  if ((unsigned)in->dtype >= MX_DTYPE_COUNT || (unsigned)out->dtype >= MX_DTYPE_COUNT)
    return mx_fail_int(MX_ETYPE, "[%s] Invalid dtype.", name);
  if (!mxc_is_row_contig(out))
    return mx_fail_int(MX_EINVAL, "[%s] The output must be row-contiguous.", name);
  cudaStream_t q = (cudaStream_t)ctx->queue;
  int dev = ctx->device_index;
  mx_dtype acc = acc_dtype(prm->kind, in->dtype, out->dtype);
  red_fns fin = red_pick(prm->kind, acc, acc);
  if (!fin.row)
    return mx_fail_int(MX_ETYPE, "[%s] Not supported for %s -> %s.", name,
                       mx_dtype_name(in->dtype), mx_dtype_name(out->dtype));

  /* kept (K) and reduced (R) dims of the input, outermost first */
  int nd = in->ndim;
  size_t bytes = (size_t)(nd + 1) * 3 * (sizeof(int32_t) + sizeof(int64_t));
  char *mem = (char *)malloc(bytes);
  if (!mem) return mx_fail_int(MX_ENOMEM, "[malloc] Unable to allocate %zu bytes.", bytes);
  int64_t *kstr = (int64_t *)mem, *rstr = kstr + nd + 1, *cstr = rstr + nd + 1;
  int32_t *kshape = (int32_t *)(cstr + nd + 1), *rshape = kshape + nd + 1;
  int nk = 0, nr = 0, ai = 0, rc = 0;
  int64_t kept = 1, reduced = 1;
  for (int d = 0; d < nd; d++) {
    bool red = ai < prm->axes.n && prm->axes.v[ai] == d;
    if (red) {
      ai++;
      rshape[nr] = in->shape[d];
      rstr[nr++] = in->strides[d];
      reduced *= in->shape[d];
    } else {
      kshape[nk] = in->shape[d];
      kstr[nk++] = in->strides[d];
      kept *= in->shape[d];
    }
  }
  if (ai != prm->axes.n)
    rc = mx_fail_int(MX_EINVAL, "[%s] Axes must be sorted, unique and below %d.", name, nd);
  else if (kept != out->size)
    rc = mx_fail_int(MX_EINVAL, "[%s] Output has %lld elements, expected %lld.", name,
                     (long long)out->size, (long long)kept);
  if (rc < 0 || kept == 0) {
    free(mem);
    return rc;
  }

  mxc_scratch_guard conv(q);
  const void *src = in->data;
  red_fns fns = red_pick(prm->kind, in->dtype, acc);
  if (!fns.row && reduced > 0) {
    /* no fused instance: the input converted to the accumulator dtype, row-contiguous */
    if (!conv.alloc((size_t)in->size * (size_t)mx_dtype_size(acc))) rc = -1;
    int64_t s = 1;
    for (int d = nd - 1; d >= 0; d--) {
      cstr[d] = s;
      s *= in->shape[d];
    }
    if (rc == 0) {
      mx_tensor t = *in;
      t.data = conv.p;
      t.dtype = acc;
      t.strides = cstr;
      t.flags = 0;
      rc = mx_cuda_copy_strided(in, &t, q, dev);
    }
    /* recompute the strides of both groups for the contiguous copy */
    for (int d = 0, k = 0, r = 0, j = 0; d < nd; d++) {
      bool red = j < prm->axes.n && prm->axes.v[j] == d;
      if (red) {
        j++;
        rstr[r++] = cstr[d];
      } else {
        kstr[k++] = cstr[d];
      }
    }
    src = conv.p;
    fns = fin;
  }
  if (!fns.row) fns = fin; /* nothing to read: only the identity is written */

  mxc_layout<1> K, R;
  void *ke = nullptr, *re = nullptr;
  const int64_t *ks[1] = {kstr}, *rs[1] = {rstr};
  if (rc == 0) rc = mxc_layout_init<1>(&K, nk, kshape, ks, q, &ke);
  mxc_scratch_guard kg(q);
  kg.p = ke;
  if (rc == 0) rc = mxc_layout_init<1>(&R, nr, rshape, rs, q, &re);
  mxc_scratch_guard rg(q);
  rg.p = re;
  free(mem);
  if (rc < 0) return rc;

  red_args a;
  a.in = src;
  a.out = out->data;
  a.odt = out->dtype;
  a.nout = kept;
  a.nr = reduced;
  a.chunk = 1;
  a.P = 1;
  a.G = 1;
  return red_run(a, K, R, fns, fin, acc, mxc_sm_count(dev), q, dev);
}
