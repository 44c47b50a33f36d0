/* register.c: installs the CPU kernels into the primitive vtable (core/prim.h) at library
 * init, from the generated family lists, so a new family member is picked up without
 * touching this file. Names and flags are filled by the core, not here. */
#include "cpu.h"
#include "prim.h"

void mx_prims_register_kernels(void) {
#define REG_UNARY(NAME, stem) mx_prims[MX_PRIM_##NAME].eval_cpu = mx_cpu_unary_##stem;
#define REG_BINARY(NAME, stem) mx_prims[MX_PRIM_##NAME].eval_cpu = mx_cpu_binary_##stem;
#define REG_COMPARE(NAME, stem) mx_prims[MX_PRIM_##NAME].eval_cpu = mx_cpu_compare_##stem;
#define REG_TERNARY(NAME, stem) mx_prims[MX_PRIM_##NAME].eval_cpu = mx_cpu_ternary_##stem;
#define REG_STEM(NAME, stem) mx_prims[MX_PRIM_##NAME].eval_cpu = mx_cpu_##stem;
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
  /* Copy and AsType have identity formulas (the generic unary path is correct), but a
   * straight strided copy/convert is faster. */
  mx_prims[MX_PRIM_COPY].eval_cpu = mx_cpu_copy;
  mx_prims[MX_PRIM_ASTYPE].eval_cpu = mx_cpu_astype;
  /* ==== section A: unary math and creation ==== */
  /* The new unary members come in through MX_UNARY_PRIMS above; Arange is the creation
   * family's only member (backend/cpu/creation.c). */
  MX_CPU_KERNEL(mx_cpu_arange)
  mx_prims[MX_PRIM_ARANGE].eval_cpu = mx_cpu_arange;
  /* (end of section A) */

  /* ==== section B: binary, logical, bitwise, operators ==== */
  /* the new binary/compare members come with the family lists above; DivMod (binary_two.c) */
  MX_CPU_KERNEL(mx_cpu_divmod)
  mx_prims[MX_PRIM_DIVMOD].eval_cpu = mx_cpu_divmod;
  /* (end of section B) */

  /* ==== section C: reductions and scans ==== */
  {
    MX_CPU_KERNEL(mx_cpu_scan) /* scan.c: the scan family has one member */
    mx_prims[MX_PRIM_SCAN].eval_cpu = mx_cpu_scan;
  }
  /* (end of section C) */

  /* ==== section D: shapes, views, layout, matmul products ==== */
  /* (end of section D) */

  /* ==== section E: indexing, gather/scatter, sorting ==== */
  /* (end of section E) */

  /* ==== section F: file I/O ==== */
  MX_CPU_KERNEL(mx_cpu_load)
  mx_prims[MX_PRIM_LOAD].eval_cpu = mx_cpu_load;
  /* (end of section F) */

  /* ==== section I: convolution ==== */
  MX_CPU_KERNEL(mx_cpu_convolution) /* conv.c */
  MX_CPU_KERNEL(mx_cpu_conv_weight)
  mx_prims[MX_PRIM_CONVOLUTION].eval_cpu = mx_cpu_convolution;
  mx_prims[MX_PRIM_CONV_WEIGHT].eval_cpu = mx_cpu_conv_weight;
  /* (end of section I) */

  /* ==== section J: random samplers and distributed ==== */
  { /* distributed.c: the collectives call the group's transport */
    MX_CPU_KERNEL(mx_cpu_all_reduce)
    MX_CPU_KERNEL(mx_cpu_all_gather)
    MX_CPU_KERNEL(mx_cpu_reduce_scatter)
    MX_CPU_KERNEL(mx_cpu_send)
    MX_CPU_KERNEL(mx_cpu_recv)
    mx_prims[MX_PRIM_ALL_REDUCE].eval_cpu = mx_cpu_all_reduce;
    mx_prims[MX_PRIM_ALL_GATHER].eval_cpu = mx_cpu_all_gather;
    mx_prims[MX_PRIM_REDUCE_SCATTER].eval_cpu = mx_cpu_reduce_scatter;
    mx_prims[MX_PRIM_SEND].eval_cpu = mx_cpu_send;
    mx_prims[MX_PRIM_RECV].eval_cpu = mx_cpu_recv;
  }
  /* (end of section J) */

  /* ==== section L: linear algebra ==== */
  {
    MX_CPU_KERNEL(mx_cpu_inverse) /* linalg.c */
    MX_CPU_KERNEL(mx_cpu_cholesky)
    MX_CPU_KERNEL(mx_cpu_luf)
    MX_CPU_KERNEL(mx_cpu_qrf) /* linalg_decomp.c */
    MX_CPU_KERNEL(mx_cpu_svd)
    MX_CPU_KERNEL(mx_cpu_eig)
    MX_CPU_KERNEL(mx_cpu_eigh)
    void LAPACKE_set_nancheck(int flag);
    LAPACKE_set_nancheck(0); /* NaN inputs give NaN results, as LAPACK itself */
    mx_prims[MX_PRIM_INVERSE].eval_cpu = mx_cpu_inverse;
    mx_prims[MX_PRIM_CHOLESKY].eval_cpu = mx_cpu_cholesky;
    mx_prims[MX_PRIM_LUF].eval_cpu = mx_cpu_luf;
    mx_prims[MX_PRIM_QRF].eval_cpu = mx_cpu_qrf;
    mx_prims[MX_PRIM_SVD].eval_cpu = mx_cpu_svd;
    mx_prims[MX_PRIM_EIG].eval_cpu = mx_cpu_eig;
    mx_prims[MX_PRIM_EIGH].eval_cpu = mx_cpu_eigh;
  }
  /* (end of section L) */

  /* ==== section T: FFT ==== */
  MX_CPU_KERNEL(mx_cpu_fft) /* fft.c (plans in fft_plan.c) */
  mx_prims[MX_PRIM_FFT].eval_cpu = mx_cpu_fft;
  /* (end of section T) */

  /* ==== section Q: quantization ==== */
  MX_CPU_KERNEL(mx_cpu_quantize) /* quantized.c */
  MX_CPU_KERNEL(mx_cpu_dequantize)
  MX_CPU_KERNEL(mx_cpu_to_fp8)
  MX_CPU_KERNEL(mx_cpu_from_fp8)
  MX_CPU_KERNEL(mx_cpu_quantized_matmul) /* quantized_matmul.c */
  MX_CPU_KERNEL(mx_cpu_gather_qmm)
  mx_prims[MX_PRIM_QUANTIZE].eval_cpu = mx_cpu_quantize;
  mx_prims[MX_PRIM_DEQUANTIZE].eval_cpu = mx_cpu_dequantize;
  mx_prims[MX_PRIM_TO_FP8].eval_cpu = mx_cpu_to_fp8;
  mx_prims[MX_PRIM_FROM_FP8].eval_cpu = mx_cpu_from_fp8;
  mx_prims[MX_PRIM_QUANTIZED_MATMUL].eval_cpu = mx_cpu_quantized_matmul;
  mx_prims[MX_PRIM_GATHER_QMM].eval_cpu = mx_cpu_gather_qmm;
  MX_CPU_KERNEL(mx_cpu_qqmatmul) /* qqmm.c */
  mx_prims[MX_PRIM_QQMATMUL].eval_cpu = mx_cpu_qqmatmul;
  /* (end of section Q) */

  /* ==== section S: mx.fast ==== */
  MX_CPU_KERNEL(mx_cpu_rms_norm) /* fast_norm.c */
  MX_CPU_KERNEL(mx_cpu_layer_norm)
  MX_CPU_KERNEL(mx_cpu_rope) /* fast_rope.c */
  MX_CPU_KERNEL(mx_cpu_sdpa) /* fast_sdpa.c */
  mx_prims[MX_PRIM_RMS_NORM].eval_cpu = mx_cpu_rms_norm;
  mx_prims[MX_PRIM_LAYER_NORM].eval_cpu = mx_cpu_layer_norm;
  mx_prims[MX_PRIM_ROPE].eval_cpu = mx_cpu_rope;
  mx_prims[MX_PRIM_SDPA].eval_cpu = mx_cpu_sdpa;
  /* (end of section S) */

  /* ==== section M: einsum and structured products ==== */
  MX_CPU_KERNEL(mx_cpu_gather_mm) /* gather_mm.c */
  MX_CPU_KERNEL(mx_cpu_hadamard)  /* hadamard.c */
  mx_prims[MX_PRIM_GATHER_MM].eval_cpu = mx_cpu_gather_mm;
  mx_prims[MX_PRIM_HADAMARD].eval_cpu = mx_cpu_hadamard;
  /* (end of section M) */
}
