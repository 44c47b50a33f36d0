/* custom_kernel.c: the CustomKernel primitive on CUDA (mx.fast.cuda_kernel and
 * precompiled_cuda_kernel): copies inputs that must be row-contiguous, fills outputs that
 * start from an initial value, marshals the arguments in the generated signature's order
 * (each input's pointer then the shape/strides/ndim it asked for, the outputs, the scalars)
 * and launches the JIT-compiled or loaded function on the task's stream. */
#include <cuda_runtime.h>
#include <stdlib.h>
#include <string.h>

#include "../../core/error.h"
#include "../../core/kernel.h"
#include "../../core/array.h"
#include "../../ops/custom_kernel.h"
#include "jit.h"
#include "prims_gen.h"

/* copy.cu and backend.c (C linkage) */
int mx_cuda_copy_strided(const mx_tensor *src, mx_tensor *dst, cudaStream_t q, int device);
void *mx_cuda_scratch(size_t nbytes, cudaStream_t q);
void mx_cuda_scratch_free(void *p, cudaStream_t q);

/* One kernel argument, big enough for a Strides array. */
typedef union ck_arg {
  CUdeviceptr ptr;
  int32_t shape[MX_CK_MAX_NDIM];
  int64_t strides[MX_CK_MAX_NDIM];
  int32_t i;
  float f;
  bool b;
} ck_arg;

static const char *ck_what(const mx_custom_kernel *k) {
  return k->precompiled ? "precompiled_cuda_kernel" : "cuda_kernel";
}

/* Sets every element of out to the 16-byte pattern bits (one element of out's dtype). */
static int ck_fill(mx_tensor *out, const unsigned char *bits, cudaStream_t q, int dev,
                   void **scratch) {
  if (out->size == 0) return 0;
  void *one = mx_cuda_scratch(16, q);
  if (!one) return -1;
  *scratch = one;
  /* pageable source: staged before the call returns, ordered before the copy below on q */
  if (cudaMemcpyAsync(one, bits, 16, cudaMemcpyHostToDevice, q) != cudaSuccess) {
    cudaGetLastError();
    return mx_fail_int(MX_ERUNTIME, "[cuda_kernel] Could not set the initial value.");
  }
  int64_t *st = calloc((size_t)(out->ndim > 0 ? out->ndim : 1), sizeof *st);
  if (!st) return mx_fail_int(MX_ENOMEM, "[cuda_kernel] Out of memory.");
  mx_tensor src = *out;
  src.data = one;
  src.strides = st;
  src.flags = 0;
  int rc = mx_cuda_copy_strided(&src, out, q, dev);
  free(st);
  return rc;
}

int mx_cuda_custom_kernel(const mx_kernel_ctx *ctx, const mx_tensor *in, int n_in,
                          mx_tensor *out, int n_out) {
  const mx_custom_kernel *k =
      ctx->params ? (const mx_custom_kernel *)((const mx_p_custom_kernel *)ctx->params)->kernel
                  : NULL;
  if (!k || k->n_in != n_in || k->n_out != n_out)
    return mx_fail_int(MX_EINVAL, "[CustomKernel] Expected %d inputs and %d outputs.",
                       k ? k->n_in : 0, k ? k->n_out : 0);
  const char *what = ck_what(k);
  cudaStream_t q = (cudaStream_t)ctx->queue;
  int dev = ctx->device_index, rc = -1;
  CUfunction fn;
  if (mx_cuda_jit_function(dev, k->source, k->source_len, k->precompiled, k->entry, NULL, what,
                           &fn) < 0)
    return -1;

  int n_args = n_out + k->n_scalars;
  for (int i = 0; i < n_in; i++)
    n_args += 1 + !!(k->layout_args[i] & MX_CK_SHAPE) + !!(k->layout_args[i] & MX_CK_STRIDES) +
              !!(k->layout_args[i] & MX_CK_NDIM);
  ck_arg *args = calloc((size_t)(n_args > 0 ? n_args : 1), sizeof *args);
  void **params = calloc((size_t)(n_args > 0 ? n_args : 1), sizeof *params);
  void **scratch = calloc((size_t)(n_in + n_out + 1), sizeof *scratch);
  if (!args || !params || !scratch) {
    mx_fail_int(MX_ENOMEM, "[%s] Out of memory.", what);
    goto done;
  }
  int a = 0;
  for (int i = 0; i < n_in; i++) {
    const mx_tensor *t = &in[i];
    if (t->ndim > MX_CK_MAX_NDIM && (k->layout_args[i] & (MX_CK_SHAPE | MX_CK_STRIDES))) {
      mx_fail_int(MX_EINVAL, "[%s] Input %d has %d dimensions; kernels see at most %d.", what,
                  i, t->ndim, MX_CK_MAX_NDIM);
      goto done;
    }
    mx_tensor use = *t;
    int64_t row_strides[MX_CK_MAX_NDIM];
    if (k->ensure_row_contiguous && !(t->flags & MX_ROW_CONTIG) && t->size > 0) {
      size_t esz = (size_t)mx_dtype_size(t->dtype);
      if (!(scratch[i] = mx_cuda_scratch((size_t)t->size * esz, q))) goto done;
      int64_t *st = t->ndim <= MX_CK_MAX_NDIM ? row_strides
                                               : malloc((size_t)t->ndim * sizeof *st);
      if (!st) {
        mx_fail_int(MX_ENOMEM, "[%s] Out of memory.", what);
        goto done;
      }
      for (int d = t->ndim - 1, s = 1; d >= 0; d--) {
        st[d] = s;
        s *= t->shape[d];
      }
      use.data = scratch[i];
      use.strides = st;
      use.flags = MX_ROW_CONTIG;
      int c = mx_cuda_copy_strided(t, &use, q, dev);
      if (st != row_strides) free(st);
      use.strides = row_strides;
      if (c < 0) goto done;
      if (t->ndim > MX_CK_MAX_NDIM) use.strides = NULL; /* never passed: no layout args */
    }
    args[a].ptr = (CUdeviceptr)use.data;
    params[a] = &args[a];
    a++;
    if (k->layout_args[i] & MX_CK_SHAPE) {
      for (int d = 0; d < use.ndim; d++) args[a].shape[d] = use.shape[d];
      params[a] = &args[a];
      a++;
    }
    if (k->layout_args[i] & MX_CK_STRIDES) {
      for (int d = 0; d < use.ndim; d++) args[a].strides[d] = use.strides[d];
      params[a] = &args[a];
      a++;
    }
    if (k->layout_args[i] & MX_CK_NDIM) {
      args[a].i = use.ndim;
      params[a] = &args[a];
      a++;
    }
  }
  for (int o = 0; o < n_out; o++) {
    if (k->has_init && ck_fill(&out[o], k->init_bits + 16 * o, q, dev, &scratch[n_in + o]) < 0)
      goto done;
    args[a].ptr = (CUdeviceptr)out[o].data;
    params[a] = &args[a];
    a++;
  }
  for (int s = 0; s < k->n_scalars; s++) {
    const mx_ck_scalar *v = &k->scalars[s];
    if (v->kind == MX_CK_BOOL)
      args[a].b = v->v.b;
    else if (v->kind == MX_CK_INT)
      args[a].i = v->v.i;
    else
      args[a].f = v->v.f;
    params[a] = &args[a];
    a++;
  }
  CUresult e;
  if (k->shared_memory > 48 * 1024 &&
      (e = cuFuncSetAttribute(fn, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
                              k->shared_memory)) != CUDA_SUCCESS) {
    const char *es = NULL;
    cuGetErrorString(e, &es);
    mx_fail_int(MX_EINVAL, "[%s] %d bytes of dynamic shared memory: %s.", what,
                k->shared_memory, es ? es : "refused");
    goto done;
  }
  unsigned blocks[3];
  for (int d = 0; d < 3; d++)
    blocks[d] = (unsigned)((k->grid[d] + (int64_t)k->group[d] - 1) / k->group[d]);
  e = cuLaunchKernel(fn, blocks[0], blocks[1], blocks[2], (unsigned)k->group[0],
                     (unsigned)k->group[1], (unsigned)k->group[2], (unsigned)k->shared_memory,
                     (CUstream)q, params, NULL);
  if (e != CUDA_SUCCESS) {
    const char *es = NULL;
    cuGetErrorString(e, &es);
    mx_fail_int(MX_ERUNTIME, "[%s] Launching %s failed: %s.", what, k->entry,
                es ? es : "unknown error");
    goto done;
  }
  rc = 0;
done:
  if (scratch)
    for (int i = 0; i < n_in + n_out; i++) mx_cuda_scratch_free(scratch[i], q);
  free(scratch);
  free(args);
  free(params);
  return rc;
}
