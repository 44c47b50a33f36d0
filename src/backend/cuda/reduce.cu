/* reduce.cu: the Reduce primitive on CUDA, the twin of cpu/reduce.c: and/or/sum/prod/min/max
 * over sorted axes kept as size-1 dims, accumulating in the dtype of formulas.h (u64 for
 * integer sums, f32 for float16/bfloat16, ...). Row kernel (reduced elements closest in
 * memory: 1..256 threads per output, batches of 16-byte loads, warp shuffles), vector column
 * kernel (contiguous kept elements, aligned rows: a thread loads a vector of outputs per row)
 * and scalar column kernel (the other layouts); each splits long reductions over blocks and
 * finishes with a second pass over the partials. */
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
  int64_t chunk;  /* column kernels: reduced elements per split */
  int64_t rs;     /* vector column kernel: stride between reduced rows (elements) */
  int32_t P;      /* splits per output (P > 1: out holds partials in the accumulator dtype) */
  int32_t G;      /* row kernel: threads per output (1..32 or the block) */
};

#define RED_U 8 /* independent loads in flight per thread in the streaming loops */

/* Combines the U vectors vp[v], vp[v + step], ... into acc, every load issued first. */
template <class Op, int U, int V>
__device__ __forceinline__ typename Op::Acc red_batch(const mxc_pack<typename Op::In, V> *vp,
                                                      int64_t v, int64_t step,
                                                      typename Op::Acc acc) {
  mxc_pack<typename Op::In, V> pk[U];
#pragma unroll
  for (int u = 0; u < U; u++) pk[u] = vp[v + u * step];
#pragma unroll
  for (int u = 0; u < U; u++) {
    typename Op::Acc t = Op::load(pk[u].v[0]);
#pragma unroll
    for (int k = 1; k < V; k++) t = Op::comb(t, Op::load(pk[u].v[k]));
    acc = Op::comb(acc, t);
  }
  return acc;
}

/* Combines the elements first, first + step, ... of p[0..len) (contiguous) into acc: 16-byte
 * loads after an unaligned head, RED_U at a time (then 4, then 1). The step-apart threads of
 * every split of one output together cover each element once. */
template <class Op>
__device__ __forceinline__ typename Op::Acc red_contig(const typename Op::In *p, int64_t len,
                                                       int64_t first, int64_t step,
                                                       typename Op::Acc acc) {
  using In = typename Op::In;
  constexpr int V = 16 / (int)sizeof(In);
  uintptr_t addr = (uintptr_t)p;
  int64_t head = (int64_t)(((16u - (unsigned)(addr & 15u)) & 15u) / sizeof(In));
  if (addr % sizeof(In) != 0 || head > len) head = len;
  for (int64_t j = first; j < head; j += step) acc = Op::comb(acc, Op::load(p[j]));
  const mxc_pack<In, V> *vp = (const mxc_pack<In, V> *)(p + head);
  const int64_t nv = (len - head) / V;
  int64_t v = first;
  for (; v + (RED_U - 1) * step < nv; v += RED_U * step)
    acc = red_batch<Op, RED_U>(vp, v, step, acc);
  if (v + 3 * step < nv) {
    acc = red_batch<Op, 4>(vp, v, step, acc);
    v += 4 * step;
  }
  for (; v < nv; v += step) acc = red_batch<Op, 1>(vp, v, step, acc);
  for (int64_t j = head + nv * V + first; j < len; j += step) acc = Op::comb(acc, Op::load(p[j]));
  return acc;
}

/* Row strategy: group g = o * P + p of G threads reduces split p of output o, the reduced
 * elements interleaved over the P * G threads of the output. */
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
      const int64_t first = p * G + lane, step = (int64_t)a.P * G;
      int64_t koff = 0;
      mxc_offsets<1>(K, o, &koff);
      if (R.ndim == 1) {
        const int64_t rs = R.strides[0][0];
        const In *base = in + koff;
        if (rs == 1) {
          acc = red_contig<Op>(base, a.nr, first, step, acc);
        } else {
          for (int64_t j = first; j < a.nr; j += step) acc = Op::comb(acc, Op::load(base[j * rs]));
        }
      } else {
        for (int64_t r = first; r < a.nr; r += step) {
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

/* Outputs per thread of the vector column kernel: one load of at most 16 bytes, at most 32
 * bytes of accumulators. */
template <class Op>
struct red_cv {
  static constexpr int a = 16 / (int)sizeof(typename Op::In);
  static constexpr int b = 32 / (int)sizeof(typename Op::Acc);
  static constexpr int V = a < b ? a : b;
};

/* Vector column strategy: outputs contiguous (in[o] is output o's first element), reduced
 * row r at in + r * a.rs, rows aligned for V-element vectors. Block (TX, TY): thread x owns
 * the V outputs from (blockIdx.x * TX + x) * V, the TY thread rows share the reduced range of
 * split blockIdx.y, RED_U rows in flight. Partials are stored at p * nout + o. */
template <class Op>
__global__ void __launch_bounds__(MXC_THREADS) red_colv(red_args a) {
  using Acc = typename Op::Acc;
  using In = typename Op::In;
  constexpr int V = red_cv<Op>::V;
  typedef mxc_pack<In, V> Pack;
  __shared__ Acc part[MXC_THREADS][V];
  const In *in = (const In *)a.in;
  const int TX = (int)blockDim.x, TY = (int)blockDim.y;
  const int tx = (int)threadIdx.x, ty = (int)threadIdx.y;
  const int64_t p = blockIdx.y, rs = a.rs;
  const int64_t r0 = p * a.chunk, r1 = r0 + a.chunk < a.nr ? r0 + a.chunk : a.nr;
  const int64_t o0 = ((int64_t)blockIdx.x * TX + tx) * V;
  Acc acc[V];
#pragma unroll
  for (int k = 0; k < V; k++) acc[k] = Op::init();
  const In *base = in + o0;
  int64_t r = r0 + ty;
  if (o0 + V <= a.nout) {
    for (; r + (int64_t)(RED_U - 1) * TY < r1; r += (int64_t)RED_U * TY) {
      Pack pk[RED_U];
#pragma unroll
      for (int u = 0; u < RED_U; u++) pk[u] = *(const Pack *)(base + (r + (int64_t)u * TY) * rs);
#pragma unroll
      for (int u = 0; u < RED_U; u++)
#pragma unroll
        for (int k = 0; k < V; k++) acc[k] = Op::comb(acc[k], Op::load(pk[u].v[k]));
    }
    for (; r < r1; r += TY) {
      Pack pk = *(const Pack *)(base + r * rs);
#pragma unroll
      for (int k = 0; k < V; k++) acc[k] = Op::comb(acc[k], Op::load(pk.v[k]));
    }
  } else if (o0 < a.nout) {
    const int nk = (int)(a.nout - o0);
    for (; r < r1; r += TY)
#pragma unroll
      for (int k = 0; k < V; k++)
        if (k < nk) acc[k] = Op::comb(acc[k], Op::load(base[r * rs + k]));
  }
  if (TY > 1) {
    const int t = ty * TX + tx;
#pragma unroll
    for (int k = 0; k < V; k++) part[t][k] = acc[k];
    __syncthreads();
    if (ty == 0)
      for (int j = 1; j < TY; j++)
#pragma unroll
        for (int k = 0; k < V; k++) acc[k] = Op::comb(acc[k], part[j * TX + tx][k]);
  }
  if (ty == 0)
#pragma unroll
    for (int k = 0; k < V; k++)
      if (o0 + k < a.nout) Op::store(a.out, p * a.nout + o0 + k, a.odt, acc[k]);
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
                             dim3 grid, dim3 block, cudaStream_t q);

template <class Op>
static int red_row_launch(const red_args &a, const mxc_layout<1> &K, const mxc_layout<1> &R,
                          dim3 grid, dim3 block, cudaStream_t q) {
  red_row<Op><<<grid, block, 0, q>>>(a, K, R);
  MX_CUDA_CHECK_LAUNCH("reduce");
  return 0;
}

template <class Op>
static int red_col_launch(const red_args &a, const mxc_layout<1> &K, const mxc_layout<1> &R,
                          dim3 grid, dim3 block, cudaStream_t q) {
  red_col<Op><<<grid, block, 0, q>>>(a, K, R);
  MX_CUDA_CHECK_LAUNCH("reduce");
  return 0;
}

template <class Op>
static int red_colv_launch(const red_args &a, const mxc_layout<1> &, const mxc_layout<1> &,
                           dim3 grid, dim3 block, cudaStream_t q) {
  red_colv<Op><<<grid, block, 0, q>>>(a);
  MX_CUDA_CHECK_LAUNCH("reduce");
  return 0;
}

/* Resident MXC_THREADS-thread blocks of `kernel` per SM (at least 1). */
template <class F>
static int red_occupancy(F kernel) {
  int n = 0;
  if (cudaOccupancyMaxActiveBlocksPerMultiprocessor(&n, kernel, MXC_THREADS, 0) != cudaSuccess) {
    cudaGetLastError();
    n = 0;
  }
  return n > 0 ? n : 1;
}

template <class Op>
struct red_occ {
  static int row() {
    static const int n = red_occupancy(red_row<Op>);
    return n;
  }
  static int colv() {
    static const int n = red_occupancy(red_colv<Op>);
    return n;
  }
};

struct red_fns {
  red_launch_fn row, col, colv;
  int (*row_occ)();
  int (*colv_occ)();
  int cv;   /* outputs per thread of colv */
  int isz;  /* input element size (bytes) */
};

#define RED_PICK(kind, isfx, asfx)                                                         \
  if (kind_ == RED_KIND_##kind && in_ == MX_DT_##isfx && acc_ == MX_DT_##asfx) {           \
    typedef red_##kind##_##isfx##_##asfx Op;                                               \
    f.row = red_row_launch<Op>;                                                            \
    f.col = red_col_launch<Op>;                                                            \
    f.colv = red_colv_launch<Op>;                                                          \
    f.row_occ = red_occ<Op>::row;                                                          \
    f.colv_occ = red_occ<Op>::colv;                                                        \
    f.cv = red_cv<Op>::V;                                                                  \
    f.isz = (int)sizeof(Op::In);                                                           \
    return f;                                                                              \
  }
static red_fns red_pick(int kind_, mx_dtype in_, mx_dtype acc_) {
  red_fns f = {nullptr, nullptr, nullptr, nullptr, nullptr, 1, 1};
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

/* True when the vector column kernel of f can read `a`: outputs contiguous (K one dim of
 * stride 1), reduced rows one dim of stride rs, every row start aligned for its vectors. */
static bool red_colv_ok(const red_fns &f, const void *in, const mxc_layout<1> &K,
                        const mxc_layout<1> &R) {
  if (!f.colv || K.ndim != 1 || R.ndim != 1 || K.strides[0][0] != 1) return false;
  const int64_t vb = (int64_t)f.cv * f.isz;
  return (uintptr_t)in % (uintptr_t)vb == 0 && R.strides[0][0] % f.cv == 0;
}

/* Launch shape of the vector column kernel over nout outputs and nr rows, split over rows
 * until the device is full: sets a.P, a.chunk, a.rs. */
static void red_colv_shape(red_args *a, const red_fns &f, int64_t rs, int nsm, dim3 *grid,
                           dim3 *block) {
  /* up to 8 thread rows while there are rows for their loads, outputs over the rest */
  const int64_t nvc = cdiv(a->nout, f.cv);
  int TY = 8;
  while (TY > 1 && (int64_t)TY * RED_U > a->nr) TY /= 2;
  int TX = MXC_THREADS / TY;
  while (TX > 32 && TX / 2 >= nvc) TX /= 2;
  TY = MXC_THREADS / TX;
  const int64_t gx = cdiv(nvc, TX), target = (int64_t)nsm * f.colv_occ();
  int64_t P = 1;
  if (gx < target) {
    P = target / gx;
    int64_t maxp = cdiv(a->nr, (int64_t)TY * RED_U * 4);
    if (P > maxp) P = maxp;
    if (P > 65535) P = 65535;
    if (P < 1) P = 1;
  }
  a->chunk = a->nr > 0 ? cdiv(a->nr, P) : 1;
  a->P = (int32_t)(a->nr > 0 ? cdiv(a->nr, a->chunk) : 1);
  a->rs = rs;
  *grid = dim3((unsigned)gx, (unsigned)a->P);
  *block = dim3((unsigned)TX, (unsigned)TY);
}

/* Runs the reduction of `a` (in, nout, nr set) with layouts K, R; fns for the input dtype,
 * fin for (accumulator, accumulator) when a split needs a second pass. */
static int red_run(red_args a, const mxc_layout<1> &K, const mxc_layout<1> &R, red_fns fns,
                   red_fns fin, mx_dtype acc, int nsm, cudaStream_t q, int dev) {
  bool cols = false;
  if (K.n > 1 && R.n > 1) cols = abs64(K.strides[0][0]) < abs64(R.strides[0][0]);
  const bool vcols = cols && red_colv_ok(fns, a.in, K, R);
  mx_dtype odt = a.odt;
  void *out = a.out;
  a.P = 1;
  a.chunk = a.nr > 0 ? a.nr : 1;
  a.rs = 0;
  dim3 grid, block;
  red_launch_fn first;
  if (vcols) {
    red_colv_shape(&a, fns, R.strides[0][0], nsm, &grid, &block);
    first = fns.colv;
  } else if (cols) {
    int64_t gx = cdiv(a.nout, RED_COL_X);
    if (gx < 2 * nsm && a.nr >= 256) {
      int64_t P = cdiv(4 * nsm, gx), maxp = cdiv(a.nr, 64);
      if (P > maxp) P = maxp;
      if (P > 65535) P = 65535;
      a.chunk = cdiv(a.nr, P);
      a.P = (int32_t)cdiv(a.nr, a.chunk);
    }
    grid = dim3(mxc_blocks(a.nout, RED_COL_X, dev), (unsigned)a.P);
    block = dim3(RED_COL_X, RED_COL_Y);
    first = fns.col;
  } else {
    /* short rows: a few lanes per output; long rows: a block each (blocks in row order
     * stream best), very long rows split over blocks: one wave for few outputs, several
     * waves (a short tail) for a few waves' worth */
    const int64_t resident = (int64_t)nsm * fns.row_occ();
    int64_t G = 256;
    if (a.nr < 4096) {
      G = 1;
      while (G < 32 && G * 8 < a.nr) G *= 2;
    }
    a.G = (int32_t)G;
    if (G == 256 && a.nr >= 16384 && a.nout < 4 * resident) {
      int64_t P = a.nout * 2 <= resident ? resident / a.nout : cdiv(4 * resident, a.nout);
      const int64_t maxp = cdiv(a.nr, 8192);
      if (P > maxp) P = maxp;
      a.P = (int32_t)P;
    }
    if (G == 256) {
      const int64_t nb = a.nout * a.P;
      grid = dim3((unsigned)(nb < (1 << 30) ? nb : (1 << 30)));
    } else {
      grid = dim3(mxc_blocks(a.nout * a.P, MXC_THREADS / a.G, dev));
    }
    block = dim3(MXC_THREADS);
    first = fns.row;
  }
  mxc_scratch_guard part(q);
  if (a.P > 1) {
    if (!part.alloc((size_t)a.nout * (size_t)a.P * (size_t)mx_dtype_size(acc))) return -1;
    a.out = part.p;
    a.odt = acc;
  }
  if (first(a, K, R, grid, block, q) < 0) return -1;
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
  if (cols && a.nout > 1 && red_colv_ok(fin, b.in, K2, R2)) {
    /* narrow tiles: more blocks over the few rows of partials */
    b.rs = b.nout;
    return fin.colv(b, K2, R2, dim3((unsigned)cdiv(cdiv(b.nout, fin.cv), 32)),
                    dim3(32, MXC_THREADS / 32), q);
  }
  if (cols)
    return fin.col(b, K2, R2, dim3(mxc_blocks(b.nout, RED_COL_X, dev)),
                   dim3(RED_COL_X, RED_COL_Y), q);
  int64_t G = 1;
  while (G < 32 && G * 8 < b.nr) G *= 2;
  b.G = (int32_t)G;
  return fin.row(b, K2, R2, dim3(mxc_blocks(b.nout, MXC_THREADS / G, dev)), dim3(MXC_THREADS), q);
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
