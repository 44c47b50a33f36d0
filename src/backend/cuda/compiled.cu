/* compiled.cu: the Compiled primitive on CUDA: one pass over the output runs a fused region's
 * program (compiled_prog.h) element by element. Each instruction applies its family member's
 * formula of formulas.h in the dtype the eager kernel computes in, then converts with the
 * astype rules when its result dtype differs -- the expressions of unary.cu, binary.cu and
 * ternary.cu, so a compiled chain equals the eager one bit for bit. Values live in 8-byte
 * registers; inputs are read in place (contiguous, one broadcast element, or any strides
 * broadcast to the output shape). */
#include "compiled_prog.h"
#include "elementwise.cuh"

#define CP_THREADS 128

struct cp_args {
  mxc_cprog prog;
  const void *ptr[MXC_CP_MAX_IN];
  int32_t esz[MXC_CP_MAX_IN];
  int32_t mode[MXC_CP_MAX_IN]; /* 0 contiguous like the output, 1 one element, 2 strided */
  int32_t ndim, out_esz;
  int64_t n;
  const int64_t *geo; /* mode 2: the output shape, then each input's broadcast strides */
};

template <class T>
__device__ __forceinline__ T cp_get(uint64_t v) {
  T x;
  memcpy(&x, &v, sizeof(T));
  return x;
}
template <class T>
__device__ __forceinline__ uint64_t cp_put(T x) {
  uint64_t v = 0;
  memcpy(&v, &x, sizeof(T));
  return v;
}

/* ---- one instruction: the formulas of the element-wise families ---- */
#define CP_U_DT(stem, sfx)                                                                 \
  case MX_DT_##sfx:                                                                        \
    return cp_put<MX_ST_##sfx>(MX_SV_##sfx(MX_FN(stem, sfx)(MX_LD_##sfx(cp_get<MX_ST_##sfx>(a[0])))));
#define CP_B_DT(stem, sfx)                                                                 \
  case MX_DT_##sfx:                                                                        \
    return cp_put<MX_ST_##sfx>(MX_SV_##sfx(MX_FN(stem, sfx)(                               \
        MX_LD_##sfx(cp_get<MX_ST_##sfx>(a[0])), MX_LD_##sfx(cp_get<MX_ST_##sfx>(a[1])))));
#define CP_C_DT(stem, sfx)                                                                 \
  case MX_DT_##sfx:                                                                        \
    return cp_put<bool>(MX_FN(stem, sfx)(MX_LD_##sfx(cp_get<MX_ST_##sfx>(a[0])),          \
                                         MX_LD_##sfx(cp_get<MX_ST_##sfx>(a[1]))));
#define CP_T_DT(stem, sfx)                                                                 \
  case MX_DT_##sfx:                                                                        \
    return cp_put<MX_ST_##sfx>(mx_f_##stem##_##sfx(                                        \
        cp_get<bool>(a[0]), cp_get<MX_ST_##sfx>(a[1]), cp_get<MX_ST_##sfx>(a[2])));
#define CP_FAMILY(DT)                                                                      \
  switch (t) {                                                                             \
    DT                                                                                     \
    default: return 0;                                                                     \
  }
#define CP_UNARY(NAME, stem) \
  case MX_PRIM_##NAME: CP_FAMILY(MX_F_##stem##_TYPES(CP_U_DT, stem))
#define CP_BINARY(NAME, stem) \
  case MX_PRIM_##NAME: CP_FAMILY(MX_F_##stem##_TYPES(CP_B_DT, stem))
#define CP_COMPARE(NAME, stem) \
  case MX_PRIM_##NAME: CP_FAMILY(MX_F_##stem##_TYPES(CP_C_DT, stem))
#define CP_TERNARY(NAME, stem) \
  case MX_PRIM_##NAME: CP_FAMILY(MX_F_##stem##_TYPES(CP_T_DT, stem))

__device__ __noinline__ uint64_t cp_eval(int prim, int t, const uint64_t *a) {
  switch (prim) {
    MX_UNARY_PRIMS(CP_UNARY)
    MX_BINARY_PRIMS(CP_BINARY)
    MX_COMPARE_PRIMS(CP_COMPARE)
    MX_TERNARY_PRIMS(CP_TERNARY)
    default: return 0;
  }
}

/* The astype conversion of a value of dtype `from` to dtype `to`. */
#define CP_CVT_D(s, d) \
  case MX_DT_##d: return cp_put<MX_ST_##d>(MX_CVT(s, d, cp_get<MX_ST_##s>(v)));
#define CP_CVT_S(unused, s)                                                                \
  case MX_DT_##s:                                                                          \
    switch (to) {                                                                          \
      MX_DTYPE_SFX_LIST2(CP_CVT_D, s)                                                      \
      default: return 0;                                                                   \
    }
__device__ __noinline__ uint64_t cp_cvt(uint64_t v, int from, int to) {
  switch (from) {
    MX_DTYPE_SFX_LIST(CP_CVT_S, _)
    default: return 0;
  }
}

/* ---- the kernel ---- */
__device__ __forceinline__ uint64_t cp_read(const void *p, int64_t off, int esz) {
  switch (esz) {
    case 1: return ((const uint8_t *)p)[off];
    case 2: return ((const uint16_t *)p)[off];
    case 4: return ((const uint32_t *)p)[off];
    default: return ((const uint64_t *)p)[off];
  }
}

__device__ __forceinline__ uint64_t cp_input(const cp_args &A, int j, int64_t i) {
  int64_t off = i;
  if (A.mode[j] == 1) {
    off = 0;
  } else if (A.mode[j] == 2) {
    const int64_t *shape = A.geo, *str = A.geo + (int64_t)A.ndim * (1 + j);
    int64_t rem = i;
    off = 0;
    for (int d = A.ndim - 1; d >= 0; d--) {
      int64_t c = rem % shape[d];
      rem /= shape[d];
      off += c * str[d];
    }
  }
  return cp_read(A.ptr[j], off, A.esz[j]);
}

__global__ void __launch_bounds__(CP_THREADS) cp_kernel(const __grid_constant__ cp_args A,
                                                         void *out) {
  const int64_t step = (int64_t)gridDim.x * blockDim.x;
  uint64_t r[MXC_CP_MAX_INSTR];
  const int last = A.prog.n_instr - 1;
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < A.n; i += step) {
    for (int k = 0; k <= last; k++) {
      const mxc_cinstr &ins = A.prog.ins[k];
      uint64_t a[3] = {0, 0, 0};
      for (int j = 0; j < ins.n_in; j++) {
        int32_t s = ins.in[j];
        a[j] = s >= 0 ? r[s] : cp_input(A, -s - 1, i);
      }
      uint64_t v = cp_eval(ins.prim, ins.tin, a);
      r[k] = ins.res != ins.dtype ? cp_cvt(v, ins.res, ins.dtype) : v;
    }
    switch (A.out_esz) {
      case 1: ((uint8_t *)out)[i] = (uint8_t)r[last]; break;
      case 2: ((uint16_t *)out)[i] = (uint16_t)r[last]; break;
      case 4: ((uint32_t *)out)[i] = (uint32_t)r[last]; break;
      default: ((uint64_t *)out)[i] = r[last]; break;
    }
  }
}

/* ---- host ---- */
#define CP_OK_DT(stem, sfx) case MX_DT_##sfx: return true;
#define CP_OK(NAME, stem)                                                                  \
  case MX_PRIM_##NAME:                                                                     \
    switch (t) {                                                                           \
      MX_F_##stem##_TYPES(CP_OK_DT, stem)                                                  \
      default: return false;                                                               \
    }
/* Whether the interpreter has prim's formula for dtype t (exactly the eager kernels' set). */
static bool cp_supported(int prim, int t) {
  switch (prim) {
    MX_UNARY_PRIMS(CP_OK)
    MX_BINARY_PRIMS(CP_OK)
    MX_COMPARE_PRIMS(CP_OK)
    MX_TERNARY_PRIMS(CP_OK)
    default: return false;
  }
}

static bool cp_same_shape(const mx_tensor *a, const mx_tensor *b) {
  if (a->ndim != b->ndim) return false;
  for (int d = 0; d < a->ndim; d++)
    if (a->shape[d] != b->shape[d]) return false;
  return true;
}

extern "C" int mx_cuda_compiled_run(const mxc_cprog *p, const mx_tensor *in, int n_in,
                                    mx_tensor *out, void *queue, int dev) {
  if (n_in != p->n_in || n_in > MXC_CP_MAX_IN || p->n_instr < 1)
    return mx_fail_int(MX_EINVAL, "[Compiled] Inconsistent program.");
  if (!mxc_is_row_contig(out))
    return mx_fail_int(MX_EINVAL, "[Compiled] The output must be row-contiguous.");
  for (int k = 0; k < p->n_instr; k++) {
    const mxc_cinstr *ins = &p->ins[k];
    if (!cp_supported(ins->prim, ins->tin) || (unsigned)ins->dtype >= MX_DTYPE_COUNT ||
        (unsigned)ins->res >= MX_DTYPE_COUNT)
      return mx_fail_int(MX_ETYPE, "[%s] Not supported for dtype %s.", mx_prim_name(ins->prim),
                         mx_dtype_name((mx_dtype)ins->tin));
  }
  if (p->ins[p->n_instr - 1].dtype != (int32_t)out->dtype)
    return mx_fail_int(MX_ETYPE, "[Compiled] The program's result is not of the output dtype.");
  if (out->size == 0) return 0;
  cudaStream_t q = (cudaStream_t)queue;
  cp_args A;
  memset(&A, 0, sizeof A);
  A.prog = *p;
  A.n = out->size;
  A.ndim = out->ndim;
  A.out_esz = mx_dtype_size(out->dtype);
  bool geo = false;
  for (int j = 0; j < n_in; j++) {
    const mx_tensor *x = &in[j];
    A.ptr[j] = x->data;
    A.esz[j] = mx_dtype_size(x->dtype);
    bool zero_strides = true;
    for (int d = 0; d < x->ndim; d++) zero_strides &= x->shape[d] == 1 || x->strides[d] == 0;
    if (x->size == 1 || zero_strides) A.mode[j] = 1;
    else if (cp_same_shape(x, out) && mxc_is_row_contig(x)) A.mode[j] = 0;
    else A.mode[j] = 2, geo = true;
  }
  mxc_scratch_guard g(q);
  if (geo) {
    int nd = out->ndim;
    size_t count = (size_t)nd * (size_t)(1 + n_in);
    int64_t *h = (int64_t *)calloc(count ? count : 1, sizeof(int64_t));
    if (!h) return mx_fail_int(MX_ENOMEM, "[malloc] Unable to allocate %zu bytes.", count * 8);
    int rc = 0;
    for (int d = 0; d < nd; d++) h[d] = out->shape[d];
    for (int j = 0; rc == 0 && j < n_in; j++)
      if (A.mode[j] == 2) rc = ew_bstrides("Compiled", &in[j], out, h + (size_t)nd * (1 + j));
    if (rc == 0 && !g.alloc(count * sizeof(int64_t))) rc = -1;
    if (rc == 0) {
      /* pageable source: the call returns once the bytes are staged, so freeing is safe */
      cudaError_t e = cudaMemcpyAsync(g.p, h, count * sizeof(int64_t), cudaMemcpyHostToDevice, q);
      if (e != cudaSuccess)
        rc = mx_fail_int(MX_ERUNTIME, "[Compiled] CUDA error: %s", cudaGetErrorString(e));
    }
    free(h);
    if (rc < 0) return -1;
    A.geo = (const int64_t *)g.p;
  }
  cp_kernel<<<mxc_blocks(A.n, CP_THREADS, dev), CP_THREADS, 0, q>>>(A, out->data);
  MX_CUDA_CHECK_LAUNCH("Compiled");
  return 0;
}
