/* compiled_jit.c: the Compiled primitive on CUDA through code generation: a fused region's
 * program becomes one straight-line kernel (each instruction the eager kernel's expression of
 * formulas.h in the same dtype, so results equal the unfused ops bit for bit), compiled by
 * NVRTC once per distinct program, input layout class and rank, then cached. Inputs are read
 * contiguous like the output, as one broadcast element, or through broadcast strides. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cuda_runtime.h>

#include "../../core/strbuf.h"
#include "../../core/array.h"
#include "../../core/error.h"
#include "../../core/kernel.h"
#include "compiled_prog.h"
#include "jit.h"
#include "prims_gen.h"

#define CJ_MAX_DIMS 8
#define CJ_THREADS 256

extern const int mx_nvrtc_header_count;
extern const char *const mx_nvrtc_header_names[];
extern const char *const mx_nvrtc_header_texts[];

static const char *const cj_sfx[MX_DTYPE_COUNT] = {
    [MX_BOOL] = "b",     [MX_UINT8] = "u8",   [MX_UINT16] = "u16", [MX_UINT32] = "u32",
    [MX_UINT64] = "u64", [MX_INT8] = "i8",    [MX_INT16] = "i16",  [MX_INT32] = "i32",
    [MX_INT64] = "i64",  [MX_FLOAT16] = "f16", [MX_FLOAT32] = "f32", [MX_FLOAT64] = "f64",
    [MX_BFLOAT16] = "bf16", [MX_COMPLEX64] = "c64"};

typedef enum { CJ_UNARY, CJ_BINARY, CJ_COMPARE, CJ_TERNARY, CJ_NONE } cj_family;

/* The prims.def stem and family of an element-wise primitive. */
static cj_family cj_stem(int prim, const char **stem) {
  switch (prim) {
#define CJ_U(NAME, s) case MX_PRIM_##NAME: *stem = #s; return CJ_UNARY;
#define CJ_B(NAME, s) case MX_PRIM_##NAME: *stem = #s; return CJ_BINARY;
#define CJ_C(NAME, s) case MX_PRIM_##NAME: *stem = #s; return CJ_COMPARE;
#define CJ_T(NAME, s) case MX_PRIM_##NAME: *stem = #s; return CJ_TERNARY;
    MX_UNARY_PRIMS(CJ_U)
    MX_BINARY_PRIMS(CJ_B)
    MX_COMPARE_PRIMS(CJ_C)
    MX_TERNARY_PRIMS(CJ_T)
#undef CJ_U
#undef CJ_B
#undef CJ_C
#undef CJ_T
    default: return CJ_NONE;
  }
}


/* The operand's value expression and dtype: an earlier result r<k> or input x<j>. */
static const char *cj_operand(char *buf, size_t cap, const mxc_cprog *p, const mx_tensor *in,
                              int32_t a, mx_dtype *t) {
  if (a >= 0) {
    snprintf(buf, cap, "r%d", a);
    *t = (mx_dtype)p->ins[a].dtype;
  } else {
    snprintf(buf, cap, "x%d", -a - 1);
    *t = in[-a - 1].dtype;
  }
  return buf;
}

/* Input access classes, as the interpreter's: 0 contiguous like the output, 1 one element,
 * 2 broadcast strides. */
static int cj_mode(const mx_tensor *x, const mx_tensor *out) {
  bool zero = true;
  for (int d = 0; d < x->ndim; d++) zero &= x->shape[d] == 1 || x->strides[d] == 0;
  if (x->size == 1 || zero) return 1;
  bool same = x->ndim == out->ndim;
  for (int d = 0; same && d < x->ndim; d++) same = x->shape[d] == out->shape[d];
  return same && (x->flags & MX_ROW_CONTIG) ? 0 : 2;
}

/* The kernel source; NULL with *unsupported set when the program has something the
 * generator does not express (the interpreter runs it then). */
static char *cj_source(const mxc_cprog *p, const mx_tensor *in, const int *mode,
                       const mx_tensor *out, int n_geo, int nd, bool *unsupported) {
  mx_strbuf s = {0};
  char b0[16], b1[16], b2[16];
  *unsupported = false;
  /* cj_keep: each instruction's float result is rounded as the eager kernel stores it; the
   * empty asm stops NVRTC from contracting a multiply of one instruction and an add of the
   * next into one FMA (eager kernels never can) */
  mx_strbuf_add(
      &s,
      "#include \"formulas.h\"\n\n"
      "template <class T> __device__ __forceinline__ T cj_keep(T v) { return v; }\n"
      "__device__ __forceinline__ float cj_keep(float v) { asm volatile(\"\" : \"+f\"(v)); "
      "return v; }\n"
      "__device__ __forceinline__ double cj_keep(double v) { asm volatile(\"\" : \"+d\"(v)); "
      "return v; }\n"
      "__device__ __forceinline__ mx_c64 cj_keep(mx_c64 v) {\n"
      "  asm volatile(\"\" : \"+f\"(v.re), \"+f\"(v.im));\n  return v;\n}\n\n"
      "struct cj_args {\n  const void *ptr[%d];\n  int64_t n;\n"
      "  int64_t shape[%d];\n  int64_t st[%d][%d];\n};\n\n"
      "extern \"C\" __global__ void __launch_bounds__(%d) mx_fused(const __grid_constant__ "
      "cj_args A, void *out_) {\n  MX_ST_%s *out = (MX_ST_%s *)out_;\n"
      "  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < A.n;\n"
      "       i += (int64_t)gridDim.x * blockDim.x) {\n",
      p->n_in, nd > 0 ? nd : 1, n_geo > 0 ? n_geo : 1, nd > 0 ? nd : 1, CJ_THREADS,
      cj_sfx[out->dtype], cj_sfx[out->dtype]);
  if (n_geo > 0) {
    mx_strbuf_add(&s, "    int64_t rem = i, c;\n    int64_t g[%d] = {0};\n", n_geo);
    for (int d = nd - 1; d >= 0; d--) {
      mx_strbuf_add(&s, "    c = rem %% A.shape[%d];\n", d);
      if (d > 0) mx_strbuf_add(&s, "    rem /= A.shape[%d];\n", d);
      for (int k = 0; k < n_geo; k++)
        mx_strbuf_add(&s, "    g[%d] += c * A.st[%d][%d];\n", k, k, d);
    }
  }
  for (int j = 0, k = 0; j < p->n_in; j++) {
    const char *t = cj_sfx[in[j].dtype];
    if (mode[j] == 2)
      mx_strbuf_add(&s, "    const MX_ST_%s x%d = ((const MX_ST_%s *)A.ptr[%d])[g[%d]];\n", t, j, t,
                    j, k++);
    else
      mx_strbuf_add(&s, "    const MX_ST_%s x%d = ((const MX_ST_%s *)A.ptr[%d])[%s];\n", t, j, t, j,
             mode[j] == 1 ? "0" : "i");
  }
  for (int k = 0; k < p->n_instr; k++) {
    const mxc_cinstr *ins = &p->ins[k];
    const char *stem;
    cj_family fam = cj_stem(ins->prim, &stem);
    /* complex formulas and erfinv's polynomial contract multiply-adds inside the eager
     * kernels, which a kernel compiled without contraction would not match bit for bit */
    if (fam == CJ_NONE || (unsigned)ins->tin >= MX_DTYPE_COUNT ||
        (unsigned)ins->dtype >= MX_DTYPE_COUNT || (unsigned)ins->res >= MX_DTYPE_COUNT ||
        ins->tin == MX_COMPLEX64 || ins->dtype == MX_COMPLEX64 || ins->prim == MX_PRIM_ERFINV) {
      *unsupported = true;
      break;
    }
    const char *t = cj_sfx[ins->tin], *res = cj_sfx[ins->res];
    mx_dtype ta, tb, tc;
    const char *a = cj_operand(b0, sizeof b0, p, in, ins->in[0], &ta);
    const char *b = ins->n_in > 1 ? cj_operand(b1, sizeof b1, p, in, ins->in[1], &tb) : NULL;
    const char *c = ins->n_in > 2 ? cj_operand(b2, sizeof b2, p, in, ins->in[2], &tc) : NULL;
    /* operands must already be in the compute dtype (the interpreter reads their bits so) */
    bool typed = fam == CJ_TERNARY ? ins->n_in == 3 && ta == MX_BOOL && (int)tb == ins->tin &&
                                         (int)tc == ins->tin
                 : fam == CJ_UNARY ? ins->n_in == 1 && (int)ta == ins->tin
                                   : ins->n_in == 2 && (int)ta == ins->tin && (int)tb == ins->tin;
    if (!typed) {
      *unsupported = true;
      break;
    }
    const char *dst = ins->res == ins->dtype ? "r" : "q";
    switch (fam) {
      case CJ_UNARY:
        mx_strbuf_add(&s,
                      "    const MX_ST_%s %s%d = cj_keep(MX_SV_%s(MX_FN(%s, %s)(MX_LD_%s(%s))));\n",
                      res, dst, k, t, stem, t, t, a);
        break;
      case CJ_BINARY:
        mx_strbuf_add(&s,
                      "    const MX_ST_%s %s%d = cj_keep(MX_SV_%s(MX_FN(%s, %s)(MX_LD_%s(%s), "
                      "MX_LD_%s(%s))));\n",
                      res, dst, k, t, stem, t, t, a, t, b);
        break;
      case CJ_COMPARE:
        mx_strbuf_add(&s, "    const bool %s%d = MX_FN(%s, %s)(MX_LD_%s(%s), MX_LD_%s(%s));\n", dst,
                      k, stem, t, t, a, t, b);
        break;
      case CJ_TERNARY:
        mx_strbuf_add(&s, "    const MX_ST_%s %s%d = mx_f_%s_%s(%s, %s, %s);\n", res, dst, k, stem,
                      t, a, b, c);
        break;
      default: break;
    }
    if (ins->res != ins->dtype)
      mx_strbuf_add(&s, "    const MX_ST_%s r%d = cj_keep(MX_CVT(%s, %s, q%d));\n",
                    cj_sfx[ins->dtype], k, res, cj_sfx[ins->dtype], k);
  }
  mx_strbuf_add(&s, "    out[i] = r%d;\n  }\n}\n", p->n_instr - 1);
  if (*unsupported || s.oom) {
    free(s.p);
    if (s.oom && !*unsupported) return mx_fail(MX_ENOMEM, "[Compiled] Out of memory.");
    return NULL;
  }
  return s.p;
}

/* Each input's access class in mode; the number of strided ones, or -1 when the generator
 * does not take this layout. */
static int cj_modes(const mxc_cprog *p, const mx_tensor *in, int n_in, const mx_tensor *out,
                    int *mode) {
  int n_geo = 0;
  if (n_in != p->n_in || n_in > MXC_CP_MAX_IN || p->n_instr < 1 ||
      p->ins[p->n_instr - 1].dtype != (int32_t)out->dtype || !(out->flags & MX_ROW_CONTIG))
    return -1;
  for (int j = 0; j < n_in; j++) {
    mode[j] = cj_mode(&in[j], out);
    if (mode[j] == 2) {
      if (in[j].ndim > out->ndim) return -1;
      n_geo++;
    }
  }
  return n_geo > 0 && out->ndim > CJ_MAX_DIMS ? -1 : n_geo;
}

char *mx_cuda_compiled_jit_source(const mxc_cprog *p, const mx_tensor *in, int n_in,
                                  const mx_tensor *out) {
  int mode[MXC_CP_MAX_IN];
  int n_geo = cj_modes(p, in, n_in, out, mode);
  bool unsupported = false;
  char *src = n_geo < 0 ? NULL : cj_source(p, in, mode, out, n_geo, out->ndim, &unsupported);
  if (!src && (n_geo < 0 || unsupported))
    mx_fail(MX_EINVAL, "[Compiled] The fused kernel generator does not take this program.");
  return src;
}

int mx_cuda_compiled_jit(const mxc_cprog *p, const mx_tensor *in, int n_in, mx_tensor *out,
                         void *queue, int dev) {
  int mode[MXC_CP_MAX_IN];
  int n_geo = cj_modes(p, in, n_in, out, mode), nd = out->ndim;
  if (n_geo < 0) return 1;
  if (out->size == 0) return 0;
  bool unsupported;
  char *src = cj_source(p, in, mode, out, n_geo, nd, &unsupported);
  if (!src) return unsupported ? 1 : -1;
  /* no contraction: a multiply of one instruction must not fuse with an add of the next
   * (the eager kernels round each result to memory) */
  mx_jit_headers h = {mx_nvrtc_header_count, mx_nvrtc_header_names, mx_nvrtc_header_texts, true};
  CUfunction fn;
  int rc = mx_cuda_jit_function(dev, src, strlen(src), false, "mx_fused", &h, "Compiled", &fn);
  free(src);
  if (rc < 0) return -1;

  /* cj_args: the input pointers, n, the output shape, each strided input's broadcast
   * strides (all 8-byte words, in that order) */
  int ndw = nd > 0 ? nd : 1, ngw = n_geo > 0 ? n_geo : 1;
  size_t words = (size_t)n_in + 1 + (size_t)ndw + (size_t)ngw * (size_t)ndw;
  uint64_t *args = calloc(words, sizeof *args);
  if (!args) return mx_fail_int(MX_ENOMEM, "[Compiled] Out of memory.");
  for (int j = 0; j < n_in; j++) args[j] = (uint64_t)(uintptr_t)in[j].data;
  args[n_in] = (uint64_t)out->size;
  int64_t *shape = (int64_t *)(args + n_in + 1), *st = shape + ndw;
  for (int d = 0; d < nd; d++) shape[d] = out->shape[d];
  for (int j = 0, k = 0; j < n_in; j++) {
    if (mode[j] != 2) continue;
    const mx_tensor *x = &in[j];
    for (int d = 0; d < nd; d++) {
      int xd = d - (nd - x->ndim);
      st[k * ndw + d] = xd >= 0 && x->shape[xd] != 1 ? x->strides[xd] : 0;
    }
    k++;
  }
  void *out_ptr = out->data;
  void *params[2] = {args, &out_ptr};
  int64_t blocks = (out->size + CJ_THREADS - 1) / CJ_THREADS;
  if (blocks > 8192) blocks = 8192;
  CUresult e = cuLaunchKernel(fn, (unsigned)blocks, 1, 1, CJ_THREADS, 1, 1, 0, (CUstream)queue,
                              params, NULL);
  free(args);
  if (e != CUDA_SUCCESS) {
    const char *es = NULL;
    cuGetErrorString(e, &es);
    return mx_fail_int(MX_ERUNTIME, "[Compiled] Launching the fused kernel failed: %s.",
                       es ? es : "unknown error");
  }
  return 0;
}
