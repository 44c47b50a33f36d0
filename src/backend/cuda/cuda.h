/* cuda.h: what the CUDA kernel files share (CUDA C++ only, never included by C): the kernel
 * entry points register.cu installs, stream-ordered scratch memory from the backend glue,
 * MX_CUDA_CHECK, launch sizing, and the collapsed N-d layout (inline up to MXC_MAXD dims,
 * device memory beyond) with its device-side offset computation. Depends on core/kernel.h,
 * core/error.h, prims_gen.h and backend/formulas.h. */
#ifndef MX_BACKEND_CUDA_H
#define MX_BACKEND_CUDA_H

#include <cuda_runtime.h>

/* prims_gen.h includes object.h, whose C11 atomics C++ does not have; kernels only see
 * mx_object pointers inside parameter structs, so an opaque declaration stands in. */
#ifndef MX_OBJECT_H
#define MX_OBJECT_H
typedef struct mx_object mx_object;
#endif

extern "C" {
#include "error.h"
#include "kernel.h"
#include "prims_gen.h"
}
#include "../formulas.h"

extern "C" {
/* Stream-ordered device scratch from the backend glue: nbytes usable on stream q once the
 * work already enqueued on q reaches this point; NULL with the error set on
 * failure. mx_cuda_scratch_free(p, q) releases it after the work enqueued on q so far
 * (NULL is a no-op). Defined by the backend glue (backend.c). */
void *mx_cuda_scratch(size_t nbytes, cudaStream_t q);
void mx_cuda_scratch_free(void *p, cudaStream_t q);
/* n zeroed counters that stay with stream q (NULL + error on failure): a kernel that counts
 * arriving blocks in them sets each back to zero before it ends, so the next kernel on q
 * finds them zero without a memset. */
unsigned *mx_cuda_tickets(size_t n, cudaStream_t q);

/* The kernel of primitive `prim` (mx_prim), NULL when CUDA has none. */
mx_kernel_fn mx_cuda_kernel(int prim);
bool mx_cuda_host_scalars(int prim); /* elementwise kernels: MX_ON_HOST inputs by value */

/* ---- copy.cu: shared by the views, slice_update, matmul, reduce and the dtype fallbacks ----
 * Same semantics as mx_cpu_copy_strided: equal shapes copy element by multi-index (strided,
 * broadcast or negative strides on either side); different shapes of equal size need a
 * row-contiguous dst and receive src in row-major order. Converts dtypes with the astype
 * rules. Enqueues on q. 0, or -1 with the error set. */
int mx_cuda_copy_strided(const mx_tensor *src, mx_tensor *dst, cudaStream_t q, int device);
/* n contiguous elements of dtype st at src into dtype dt at dst (contiguous). */
int mx_cuda_convert(const void *src, mx_dtype st, void *dst, mx_dtype dt, int64_t n,
                    cudaStream_t q, int device);

/* ---- matmul.cu: one row-major GEMM for other kernels (conv) ----
 * C (M x N, rows ldc apart) = A (M x K) @ B (K x N), plus C when accumulate; each operand
 * row-major or column-major with its leading dim, all of dtype t (float32 without TF32 unless
 * MLX_ENABLE_TF32=1; halves accumulate in float32). Enqueues on q. 0, or -1 + error. */
int mx_cuda_gemm(int dev, mx_dtype t, const void *a, bool a_colmajor, int64_t lda,
                 const void *b, bool b_colmajor, int64_t ldb, void *c, int64_t ldc,
                 bool accumulate, int64_t M, int64_t N, int64_t K, cudaStream_t q);

/* Every family member's kernel is declared; register.cu installs those that exist. */
#define MX_CUDA_KERNEL(name)                                                               \
  int name(const mx_kernel_ctx *ctx, const mx_tensor *in, int n_in, mx_tensor *out, int n_out);
#define MX_CUDA_DECL_UNARY(NAME, stem) MX_CUDA_KERNEL(mx_cuda_unary_##stem)
#define MX_CUDA_DECL_BINARY(NAME, stem) MX_CUDA_KERNEL(mx_cuda_binary_##stem)
#define MX_CUDA_DECL_COMPARE(NAME, stem) MX_CUDA_KERNEL(mx_cuda_compare_##stem)
#define MX_CUDA_DECL_TERNARY(NAME, stem) MX_CUDA_KERNEL(mx_cuda_ternary_##stem)
#define MX_CUDA_DECL_STEM(NAME, stem) MX_CUDA_KERNEL(mx_cuda_##stem)
MX_UNARY_PRIMS(MX_CUDA_DECL_UNARY)
MX_BINARY_PRIMS(MX_CUDA_DECL_BINARY)
MX_COMPARE_PRIMS(MX_CUDA_DECL_COMPARE)
MX_TERNARY_PRIMS(MX_CUDA_DECL_TERNARY)
MX_REDUCE_PRIMS(MX_CUDA_DECL_STEM)
MX_VIEW_PRIMS(MX_CUDA_DECL_STEM)
MX_INDEXING_PRIMS(MX_CUDA_DECL_STEM)
MX_MATMUL_PRIMS(MX_CUDA_DECL_STEM)
MX_RANDOM_PRIMS(MX_CUDA_DECL_STEM)
MX_GRAPH_PRIMS(MX_CUDA_DECL_STEM)
MX_BINARY_TWO_PRIMS(MX_CUDA_DECL_STEM)
MX_CREATION_PRIMS(MX_CUDA_DECL_STEM)
MX_SCAN_PRIMS(MX_CUDA_DECL_STEM)
MX_CONV_PRIMS(MX_CUDA_DECL_STEM)
MX_CUDA_KERNEL(mx_cuda_copy)
MX_CUDA_KERNEL(mx_cuda_compiled) /* compiled.c over compiled.cu */
MX_CUDA_KERNEL(mx_cuda_astype)
/* language-model kernels: quantized.cu, fast.cu, products_ext.cu */
MX_CUDA_KERNEL(mx_cuda_quantized_matmul)
MX_CUDA_KERNEL(mx_cuda_gather_qmm)
MX_CUDA_KERNEL(mx_cuda_quantize)
MX_CUDA_KERNEL(mx_cuda_dequantize)
MX_CUDA_KERNEL(mx_cuda_to_fp8)
MX_CUDA_KERNEL(mx_cuda_from_fp8)
MX_CUDA_KERNEL(mx_cuda_rms_norm)
MX_CUDA_KERNEL(mx_cuda_custom_kernel)
MX_CUDA_KERNEL(mx_cuda_layer_norm)
MX_CUDA_KERNEL(mx_cuda_rope)
MX_CUDA_KERNEL(mx_cuda_sdpa)
MX_CUDA_KERNEL(mx_cuda_gather_mm)
/* ==== section GF: FFT (fft.cu, cuFFT) and Hadamard (hadamard.cu) ==== */
MX_CUDA_KERNEL(mx_cuda_fft)
MX_CUDA_KERNEL(mx_cuda_hadamard)
/* (end of section GF) */
#undef MX_CUDA_DECL_UNARY
#undef MX_CUDA_DECL_BINARY
#undef MX_CUDA_DECL_COMPARE
#undef MX_CUDA_DECL_TERNARY
#undef MX_CUDA_DECL_STEM
}

/* Returns -1 from the enclosing function with "[name] CUDA error: ..." when expr fails. */
#define MX_CUDA_CHECK(name, expr)                                                          \
  do {                                                                                     \
    cudaError_t e_ = (expr);                                                               \
    if (e_ != cudaSuccess)                                                                 \
      return mx_fail_int(MX_ERUNTIME, "[%s] CUDA error: %s", (name), cudaGetErrorString(e_)); \
  } while (0)
/* After a launch: configuration errors surface through cudaGetLastError. */
#define MX_CUDA_CHECK_LAUNCH(name) MX_CUDA_CHECK(name, cudaGetLastError())

#define MXC_THREADS 256 /* threads per block of the element-wise kernels */
#define MXC_MAXD 8      /* collapsed dims held inline in a kernel parameter */

/* Streaming multiprocessors of device dev (cached). */
int mxc_sm_count(int dev);
/* Compute capability of device dev as 10 major + minor, 0 when unknown (cached). */
int mxc_compute_capability(int dev);

/* Blocks for `items` work items at `per_block` items per block, capped for grid-stride
 * loops at a few waves of the device. */
static inline unsigned mxc_blocks(int64_t items, int64_t per_block, int dev) {
  int64_t b = (items + per_block - 1) / per_block;
  int64_t cap = (int64_t)mxc_sm_count(dev) * 16;
  if (b > cap) b = cap;
  return (unsigned)(b < 1 ? 1 : b);
}

/* Blocks for `items` work items at `per_block` items per block: one item per thread (a
 * streaming kernel over 2^28 float32 reaches the copy bandwidth this way, and 5% less with
 * the grid capped at 16 blocks per SM); the grid-stride loop takes what a grid cannot hold. */
static inline unsigned mxc_blocks_all(int64_t items, int64_t per_block) {
  int64_t b = (items + per_block - 1) / per_block;
  const int64_t cap = (int64_t)1 << 30;
  return (unsigned)(b < 1 ? 1 : b > cap ? cap : b);
}

/* Frees a scratch block at scope exit, stream-ordered. */
struct mxc_scratch_guard {
  void *p;
  cudaStream_t q;
  mxc_scratch_guard(cudaStream_t q_) : p(nullptr), q(q_) {}
  ~mxc_scratch_guard() { if (p) mx_cuda_scratch_free(p, q); }
  void *alloc(size_t n) { return p = mx_cuda_scratch(n ? n : 1, q); }
};

/* ---- collapsed layouts ----
 * NOPS operands walked over one shape. Dims of size 1 are dropped and dims every operand
 * steps through contiguously are merged; dims are stored innermost first. With ndim <=
 * MXC_MAXD everything lives in the struct (a __grid_constant__ kernel parameter); beyond,
 * `ext` points to device memory holding shape[ndim] then strides[NOPS][ndim], and dim 0
 * is also kept inline. */
template <int NOPS>
struct mxc_layout {
  int32_t ndim;
  int32_t small;   /* every index fits in 32 bits: cheaper divisions */
  int64_t n;       /* elements */
  int64_t shape[MXC_MAXD];
  int64_t strides[NOPS][MXC_MAXD];
  const int64_t *ext;
};

/* Collapses `ndim` dims of `shape` for NOPS operands (strides[op][d], elements). When the
 * result has more than MXC_MAXD dims its arrays are uploaded to scratch on q; *ext_out
 * receives that block (free it after the launch, stream-ordered). 0 or -1 + error. */
template <int NOPS>
static int mxc_layout_init(mxc_layout<NOPS> *L, int ndim, const int32_t *shape,
                           const int64_t *const *strides, cudaStream_t q, void **ext_out) {
  *ext_out = nullptr;
  L->ext = nullptr;
  int cap = ndim > 1 ? ndim : 1;
  int64_t inl_shape[MXC_MAXD], inl_str[NOPS][MXC_MAXD];
  int64_t *shp = inl_shape, *str = &inl_str[0][0], *heap = nullptr;
  if (cap > MXC_MAXD) {
    heap = (int64_t *)malloc(sizeof(int64_t) * (size_t)cap * (1 + NOPS));
    if (!heap)
      return mx_fail_int(MX_ENOMEM, "[malloc] Unable to allocate %zu bytes.",
                         sizeof(int64_t) * (size_t)cap * (1 + NOPS));
    shp = heap;
    str = heap + cap;
  }
  int stride_cap = cap > MXC_MAXD ? cap : MXC_MAXD;
  int64_t n = 1;
  int nd = 0; /* innermost first */
  for (int d = ndim - 1; d >= 0; d--) {
    int64_t sz = shape[d];
    n *= sz;
    if (sz == 1) continue;
    if (nd > 0 && sz != 0 && shp[nd - 1] != 0) {
      bool merge = true;
      for (int op = 0; op < NOPS && merge; op++)
        merge = strides[op][d] == str[op * stride_cap + nd - 1] * shp[nd - 1];
      if (merge) {
        shp[nd - 1] *= sz;
        continue;
      }
    }
    shp[nd] = sz;
    for (int op = 0; op < NOPS; op++) str[op * stride_cap + nd] = strides[op][d];
    nd++;
  }
  if (nd == 0) {
    shp[0] = 1;
    for (int op = 0; op < NOPS; op++) str[op * stride_cap] = 0;
    nd = 1;
  }
  L->ndim = nd;
  L->n = n;
  L->small = n <= (int64_t)UINT32_MAX;
  for (int d = 0; d < MXC_MAXD; d++) {
    L->shape[d] = d < nd ? shp[d] : 1;
    for (int op = 0; op < NOPS; op++) L->strides[op][d] = d < nd ? str[op * stride_cap + d] : 0;
  }
  int rc = 0;
  if (nd > MXC_MAXD) {
    size_t bytes = sizeof(int64_t) * (size_t)nd * (1 + NOPS);
    int64_t *packed = (int64_t *)malloc(bytes);
    void *dev = packed ? mx_cuda_scratch(bytes, q) : nullptr;
    if (!packed) rc = mx_fail_int(MX_ENOMEM, "[malloc] Unable to allocate %zu bytes.", bytes);
    else if (!dev) rc = -1;
    if (rc == 0) {
      for (int d = 0; d < nd; d++) packed[d] = shp[d];
      for (int op = 0; op < NOPS; op++)
        for (int d = 0; d < nd; d++) packed[nd + op * nd + d] = str[op * stride_cap + d];
      /* pageable source: the call returns once the bytes are staged, so freeing is safe */
      cudaError_t e = cudaMemcpyAsync(dev, packed, bytes, cudaMemcpyHostToDevice, q);
      if (e != cudaSuccess) {
        mx_cuda_scratch_free(dev, q);
        rc = mx_fail_int(MX_ERUNTIME, "[copy] CUDA error: %s", cudaGetErrorString(e));
      } else {
        L->ext = (const int64_t *)dev;
        *ext_out = dev;
      }
    }
    free(packed);
  }
  free(heap);
  return rc;
}

/* The layout of the rows along `axis` of a shape (that axis set to 1) over the operands'
 * strides: row r starts at the offsets mxc_offsets gives for r. As mxc_layout_init. */
template <int NOPS>
static int mxc_rows_layout(mxc_layout<NOPS> *L, int ndim, const int32_t *shape, int axis,
                           const int64_t *const *strides, cudaStream_t q, void **ext_out) {
  int32_t small[16] = {0};
  int32_t *rows = ndim <= 16 ? small : (int32_t *)malloc(sizeof(int32_t) * (size_t)ndim);
  if (!rows)
    return mx_fail_int(MX_ENOMEM, "[malloc] Unable to allocate %zu bytes.", (size_t)ndim * 4);
  for (int d = 0; d < ndim; d++) rows[d] = d == axis ? 1 : shape[d];
  int rc = mxc_layout_init<NOPS>(L, ndim, rows, strides, q, ext_out);
  if (rows != small) free(rows);
  return rc;
}

/* Offsets (elements) of flat row-major index i for every operand; returns i's position
 * along dim 0 (the innermost). */
template <int NOPS, class IDX>
__device__ __forceinline__ int64_t mxc_offsets_t(const mxc_layout<NOPS> &L, int64_t i_,
                                                 int64_t *off) {
  IDX i = (IDX)i_;
  int64_t pos0 = 0;
#pragma unroll
  for (int op = 0; op < NOPS; op++) off[op] = 0;
  if (L.ndim <= MXC_MAXD) {
#pragma unroll
    for (int d = 0; d < MXC_MAXD; d++) {
      if (d < L.ndim) {
        IDX s = (IDX)L.shape[d];
        IDX qt = i / s;
        IDX r = i - qt * s;
        if (d == 0) pos0 = (int64_t)r;
#pragma unroll
        for (int op = 0; op < NOPS; op++) off[op] += (int64_t)r * L.strides[op][d];
        i = qt;
      }
    }
  } else {
    const int64_t *shp = L.ext, *str = L.ext + L.ndim;
    for (int d = 0; d < L.ndim; d++) {
      IDX s = (IDX)shp[d];
      IDX qt = i / s;
      IDX r = i - qt * s;
      if (d == 0) pos0 = (int64_t)r;
#pragma unroll
      for (int op = 0; op < NOPS; op++) off[op] += (int64_t)r * str[op * L.ndim + d];
      i = qt;
    }
  }
  return pos0;
}

template <int NOPS>
struct mxc_offs {
  int64_t o[NOPS];
  int64_t pos;
};

/* The general case out of line: one copy per operand count and translation unit, shared by
 * every kernel instantiation (the index math is most of a strided kernel's code). */
template <int NOPS>
__device__ __noinline__ mxc_offs<NOPS> mxc_offsets_general(const mxc_layout<NOPS> *L, int64_t i) {
  mxc_offs<NOPS> r;
  if (L->small) r.pos = mxc_offsets_t<NOPS, uint32_t>(*L, i, r.o);
  else r.pos = mxc_offsets_t<NOPS, uint64_t>(*L, i, r.o);
  return r;
}

/* Up to two collapsed dims with 32-bit indices inline (one division); the rest out of line. */
template <int NOPS>
__device__ __forceinline__ int64_t mxc_offsets(const mxc_layout<NOPS> &L, int64_t i,
                                               int64_t *off) {
  if (L.ndim <= 2 && L.small) { /* unused dims have stride 0 */
    uint32_t ii = (uint32_t)i, s0 = (uint32_t)L.shape[0];
    uint32_t qt = ii / s0, r = ii - qt * s0;
#pragma unroll
    for (int op = 0; op < NOPS; op++)
      off[op] = (int64_t)r * L.strides[op][0] + (int64_t)qt * L.strides[op][1];
    return (int64_t)r;
  }
  mxc_offs<NOPS> r = mxc_offsets_general<NOPS>(&L, i);
#pragma unroll
  for (int op = 0; op < NOPS; op++) off[op] = r.o[op];
  return r.pos;
}

/* A 16-byte (or smaller) vector of N elements of T, for vectorised loads and stores. */
template <class T, int N>
struct alignas(sizeof(T) * N) mxc_pack {
  T v[N];
};

/* Largest power of two (<= 16) dividing the address. */
static inline int mxc_align_of(const void *p) {
  uintptr_t a = (uintptr_t)p;
  int al = 16;
  while (al > 1 && (a % (uintptr_t)al) != 0) al >>= 1;
  return al;
}

/* Bitwise shuffle of any trivially copyable value of <= 8 bytes (bool, ints, floats, c64). */
template <class T>
__device__ __forceinline__ T mxc_shfl_down(T v, int delta) {
  static_assert(sizeof(T) <= 8, "shuffle of at most 8 bytes");
  if constexpr (sizeof(T) <= 4) {
    uint32_t u = 0;
    memcpy(&u, &v, sizeof(T));
    u = __shfl_down_sync(0xffffffffu, u, delta);
    T r;
    memcpy(&r, &u, sizeof(T));
    return r;
  } else {
    uint64_t u = 0;
    memcpy(&u, &v, sizeof(T));
    u = __shfl_down_sync(0xffffffffu, (unsigned long long)u, delta);
    T r;
    memcpy(&r, &u, sizeof(T));
    return r;
  }
}

#endif
