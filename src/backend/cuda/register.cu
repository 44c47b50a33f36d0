/* register.cu: the CUDA kernel table (mx_cuda_kernel), built once from the generated family
 * lists so a new family member is picked up without touching this file, and the cached
 * device properties the launchers size their grids with. Primitives with no CUDA kernel
 * answer NULL (the backend reports them by name). */
#include <atomic>
#include <pthread.h>

#include "cuda.h"

static mx_kernel_fn kernel_tab[MX_PRIM_COUNT];
static pthread_once_t kernel_once = PTHREAD_ONCE_INIT;

static void kernel_tab_build(void) {
  mx_kernel_fn *f = kernel_tab;
#define REG_UNARY(NAME, stem) f[MX_PRIM_##NAME] = mx_cuda_unary_##stem;
#define REG_BINARY(NAME, stem) f[MX_PRIM_##NAME] = mx_cuda_binary_##stem;
#define REG_COMPARE(NAME, stem) f[MX_PRIM_##NAME] = mx_cuda_compare_##stem;
#define REG_TERNARY(NAME, stem) f[MX_PRIM_##NAME] = mx_cuda_ternary_##stem;
#define REG_STEM(NAME, stem) f[MX_PRIM_##NAME] = mx_cuda_##stem;
  MX_UNARY_PRIMS(REG_UNARY)
  MX_BINARY_PRIMS(REG_BINARY)
  MX_COMPARE_PRIMS(REG_COMPARE)
  MX_TERNARY_PRIMS(REG_TERNARY)
  MX_REDUCE_PRIMS(REG_STEM)
  MX_VIEW_PRIMS(REG_STEM)
  MX_INDEXING_PRIMS(REG_STEM)
  MX_MATMUL_PRIMS(REG_STEM)
  MX_RANDOM_PRIMS(REG_STEM)
  MX_GRAPH_PRIMS(REG_STEM)
#undef REG_UNARY
#undef REG_BINARY
#undef REG_COMPARE
#undef REG_TERNARY
#undef REG_STEM
  /* Copy and AsType are straight strided copies (as on the CPU). */
  f[MX_PRIM_COPY] = mx_cuda_copy;
  f[MX_PRIM_ASTYPE] = mx_cuda_astype;
  /* ==== section A: unary math and creation ==== */
  /* (end of section A) */

  /* ==== section B: binary, logical, bitwise, operators ==== */
  /* (end of section B) */

  /* ==== section C: reductions and scans ==== */
  /* (end of section C) */

  /* ==== section D: shapes, views, layout, matmul products ==== */
  /* (end of section D) */

  /* ==== section E: indexing, gather/scatter, sorting ==== */
  /* (end of section E) */
}

extern "C" mx_kernel_fn mx_cuda_kernel(int prim) {
  pthread_once(&kernel_once, kernel_tab_build);
  if (prim < 0 || prim >= MX_PRIM_COUNT) return nullptr;
  return kernel_tab[prim];
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
