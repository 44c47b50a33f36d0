/* register.cu: the CUDA kernel table (mx_cuda_kernel), built once: the element-wise families
 * from the generated lists (a new member is picked up without touching this file), the
 * others by name; and the cached device properties the launchers size their grids with.
 * Primitives with no CUDA kernel answer NULL (the backend reports them by name). */
#include <atomic>
#include <pthread.h>

#include "cuda.h"

static mx_kernel_fn kernel_tab[MX_PRIM_COUNT];
static bool by_value_tab[MX_PRIM_COUNT]; /* kernels built on elementwise.cuh */
static pthread_once_t kernel_once = PTHREAD_ONCE_INIT;

static void kernel_tab_build(void) {
  mx_kernel_fn *f = kernel_tab;
  static mx_kernel_fn ew[MX_PRIM_COUNT]; /* the element-wise engine's kernels */
  /* element-wise families: every member has a kernel generated from its formula */
#define REG_UNARY(NAME, stem) f[MX_PRIM_##NAME] = ew[MX_PRIM_##NAME] = mx_cuda_unary_##stem;
#define REG_BINARY(NAME, stem) f[MX_PRIM_##NAME] = ew[MX_PRIM_##NAME] = mx_cuda_binary_##stem;
#define REG_COMPARE(NAME, stem) f[MX_PRIM_##NAME] = ew[MX_PRIM_##NAME] = mx_cuda_compare_##stem;
#define REG_TERNARY(NAME, stem) f[MX_PRIM_##NAME] = ew[MX_PRIM_##NAME] = mx_cuda_ternary_##stem;
  MX_UNARY_PRIMS(REG_UNARY)
  MX_BINARY_PRIMS(REG_BINARY)
  MX_COMPARE_PRIMS(REG_COMPARE)
  MX_TERNARY_PRIMS(REG_TERNARY)
#undef REG_UNARY
#undef REG_BINARY
#undef REG_COMPARE
#undef REG_TERNARY
  /* Copy and AsType are straight strided copies (as on the CPU). */
  f[MX_PRIM_COPY] = mx_cuda_copy;
  f[MX_PRIM_ASTYPE] = mx_cuda_astype;
  /* the other families one by one: a member added without a CUDA kernel stays NULL */
  f[MX_PRIM_REDUCE] = mx_cuda_reduce;
  f[MX_PRIM_NUMBER_OF_ELEMENTS] = mx_cuda_number_of_elements;
  f[MX_PRIM_RESHAPE] = mx_cuda_reshape;
  f[MX_PRIM_TRANSPOSE] = mx_cuda_transpose;
  f[MX_PRIM_BROADCAST] = mx_cuda_broadcast;
  f[MX_PRIM_SLICE] = mx_cuda_slice;
  f[MX_PRIM_STOP_GRADIENT] = mx_cuda_stop_gradient;
  f[MX_PRIM_SLICE_UPDATE] = mx_cuda_slice_update;
  f[MX_PRIM_MATMUL] = mx_cuda_matmul;
  f[MX_PRIM_RANDOM_BITS] = mx_cuda_random_bits;
  f[MX_PRIM_DEPENDS] = mx_cuda_depends;
  f[MX_PRIM_COMPILED] = mx_cuda_compiled;
  /* ==== section A: unary math and creation ==== */
  f[MX_PRIM_ARANGE] = mx_cuda_arange;
  /* (end of section A) */

  /* ==== section B: binary, logical, bitwise, operators ==== */
  f[MX_PRIM_DIVMOD] = mx_cuda_divmod;
  /* (end of section B) */

  /* ==== section C: reductions and scans ==== */
  f[MX_PRIM_ARG_REDUCE] = mx_cuda_arg_reduce;
  f[MX_PRIM_SOFTMAX] = mx_cuda_softmax;
  f[MX_PRIM_LOGSUMEXP] = mx_cuda_logsumexp;
  f[MX_PRIM_SCAN] = mx_cuda_scan;
  /* (end of section C) */

  /* ==== section D: shapes, views, layout, matmul products ==== */
  f[MX_PRIM_AS_STRIDED] = mx_cuda_as_strided;
  f[MX_PRIM_CONTIGUOUS] = mx_cuda_contiguous;
  f[MX_PRIM_VIEW] = mx_cuda_view;
  f[MX_PRIM_CONCATENATE] = mx_cuda_concatenate;
  f[MX_PRIM_PAD] = mx_cuda_pad;
  f[MX_PRIM_ADDMM] = mx_cuda_addmm;
  /* (end of section D) */

  /* ==== section E: indexing, gather/scatter, sorting ==== */
  f[MX_PRIM_GATHER] = mx_cuda_gather;
  f[MX_PRIM_GATHER_AXIS] = mx_cuda_gather_axis;
  f[MX_PRIM_SCATTER] = mx_cuda_scatter;
  f[MX_PRIM_SCATTER_AXIS] = mx_cuda_scatter_axis;
  f[MX_PRIM_DYNAMIC_SLICE] = mx_cuda_dynamic_slice;
  f[MX_PRIM_MASKED_SCATTER] = mx_cuda_masked_scatter;
  f[MX_PRIM_DYNAMIC_SLICE_UPDATE] = mx_cuda_dynamic_slice_update;
  f[MX_PRIM_SORT] = mx_cuda_sort;
  f[MX_PRIM_ARGSORT] = mx_cuda_argsort;
  f[MX_PRIM_PARTITION] = mx_cuda_partition;
  f[MX_PRIM_ARGPARTITION] = mx_cuda_argpartition;
  f[MX_PRIM_SEARCH_SORTED] = mx_cuda_search_sorted;
  /* (end of section E) */

  /* ==== section I: convolution ==== */
  f[MX_PRIM_CONVOLUTION] = mx_cuda_convolution;
  f[MX_PRIM_CONV_WEIGHT] = mx_cuda_conv_weight;
  /* (end of section I) */

  /* ==== section CU: language-model primitives ==== */
  f[MX_PRIM_QUANTIZED_MATMUL] = mx_cuda_quantized_matmul;
  f[MX_PRIM_GATHER_QMM] = mx_cuda_gather_qmm;
  f[MX_PRIM_QUANTIZE] = mx_cuda_quantize;
  f[MX_PRIM_DEQUANTIZE] = mx_cuda_dequantize;
  f[MX_PRIM_TO_FP8] = mx_cuda_to_fp8;
  f[MX_PRIM_FROM_FP8] = mx_cuda_from_fp8;
  f[MX_PRIM_RMS_NORM] = mx_cuda_rms_norm;
  f[MX_PRIM_CUSTOM_KERNEL] = mx_cuda_custom_kernel; /* custom_kernel.c */
  f[MX_PRIM_LAYER_NORM] = mx_cuda_layer_norm;
  f[MX_PRIM_ROPE] = mx_cuda_rope;
  f[MX_PRIM_SDPA] = mx_cuda_sdpa;
  f[MX_PRIM_GATHER_MM] = mx_cuda_gather_mm;
  int mx_cuda_qqmatmul(const mx_kernel_ctx *, const mx_tensor *, int, mx_tensor *, int);
  f[MX_PRIM_QQMATMUL] = mx_cuda_qqmatmul; /* qqmm.cu */
  /* (end of section CU) */

  /* ==== section GF: FFT and Hadamard ==== */
  f[MX_PRIM_FFT] = mx_cuda_fft;
  f[MX_PRIM_HADAMARD] = mx_cuda_hadamard;
  /* (end of section GF) */

  /* ==== section LA: linear-algebra factorizations (linalg.cu, linalg_decomp.cu) ==== */
  int mx_cuda_inverse(const mx_kernel_ctx *, const mx_tensor *, int, mx_tensor *, int);
  int mx_cuda_cholesky(const mx_kernel_ctx *, const mx_tensor *, int, mx_tensor *, int);
  int mx_cuda_qrf(const mx_kernel_ctx *, const mx_tensor *, int, mx_tensor *, int);
  int mx_cuda_svd(const mx_kernel_ctx *, const mx_tensor *, int, mx_tensor *, int);
  int mx_cuda_eig(const mx_kernel_ctx *, const mx_tensor *, int, mx_tensor *, int);
  int mx_cuda_eigh(const mx_kernel_ctx *, const mx_tensor *, int, mx_tensor *, int);
  int mx_cuda_luf(const mx_kernel_ctx *, const mx_tensor *, int, mx_tensor *, int);
  f[MX_PRIM_INVERSE] = mx_cuda_inverse;
  f[MX_PRIM_CHOLESKY] = mx_cuda_cholesky;
  f[MX_PRIM_QRF] = mx_cuda_qrf;
  f[MX_PRIM_SVD] = mx_cuda_svd;
  f[MX_PRIM_EIG] = mx_cuda_eig;
  f[MX_PRIM_EIGH] = mx_cuda_eigh;
  f[MX_PRIM_LUF] = mx_cuda_luf;
  /* (end of section LA) */

  /* kernels of elementwise.cuh take host scalars by value (not Copy/AsType: copy.cu) */
  for (int p = 0; p < MX_PRIM_COUNT; p++) by_value_tab[p] = ew[p] && ew[p] == f[p];
}

extern "C" mx_kernel_fn mx_cuda_kernel(int prim) {
  pthread_once(&kernel_once, kernel_tab_build);
  if (prim < 0 || prim >= MX_PRIM_COUNT) return nullptr;
  return kernel_tab[prim];
}

extern "C" bool mx_cuda_host_scalars(int prim) {
  pthread_once(&kernel_once, kernel_tab_build);
  return prim >= 0 && prim < MX_PRIM_COUNT && by_value_tab[prim];
}

#define MXC_MAX_DEVICES 64
static std::atomic<int> sm_counts[MXC_MAX_DEVICES];

int mxc_sm_count(int dev) {
  if (dev < 0 || dev >= MXC_MAX_DEVICES) dev = 0;
  int v = sm_counts[dev].load(std::memory_order_relaxed);
  if (v > 0) return v;
  if (cudaDeviceGetAttribute(&v, cudaDevAttrMultiProcessorCount, dev) != cudaSuccess || v <= 0) {
    (void)cudaGetLastError();
    v = 32;
  }
  sm_counts[dev].store(v, std::memory_order_relaxed);
  return v;
}

static std::atomic<int> capabilities[MXC_MAX_DEVICES];

int mxc_compute_capability(int dev) {
  if (dev < 0 || dev >= MXC_MAX_DEVICES) dev = 0;
  int v = capabilities[dev].load(std::memory_order_relaxed);
  if (v > 0) return v;
  int major = 0, minor = 0;
  if (cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev) != cudaSuccess ||
      cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, dev) != cudaSuccess) {
    (void)cudaGetLastError();
    return 0;
  }
  v = 10 * major + minor;
  capabilities[dev].store(v, std::memory_order_relaxed);
  return v;
}
