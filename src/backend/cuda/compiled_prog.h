/* compiled_prog.h: the Compiled primitive's program as the CUDA interpreter reads it, a
 * plain struct shared by the C glue (compiled.c, which reads the transforms' program) and the
 * kernel (compiled.cu). Operand >= 0: an earlier instruction; < 0: input -(operand + 1). */
#ifndef MX_BACKEND_CUDA_COMPILED_PROG_H
#define MX_BACKEND_CUDA_COMPILED_PROG_H

#include <stdint.h>

#define MXC_CP_MAX_INSTR 64 /* fuse.c's largest region */
#define MXC_CP_MAX_IN 24

typedef struct mxc_cinstr {
  int32_t prim;   /* mx_prim of an element-wise family member */
  int32_t dtype;  /* the instruction's result dtype */
  int32_t tin;    /* dtype the formula computes in (its operands' dtype) */
  int32_t res;    /* dtype the formula returns (bool for comparisons, else tin) */
  int32_t n_in;
  int32_t in[3];
} mxc_cinstr;

typedef struct mxc_cprog {
  int32_t n_instr, n_in;
  mxc_cinstr ins[MXC_CP_MAX_INSTR];
} mxc_cprog;

#ifndef __CUDACC__
#include "../../core/kernel.h"
/* compiled_jit.c: runs p through an NVRTC-generated kernel: 0, -1 with the error set, or 1
 * when the generator does not take this program or layout (run the interpreter then). */
int mx_cuda_compiled_jit(const mxc_cprog *p, const mx_tensor *in, int n_in, mx_tensor *out,
                         void *queue, int dev);
/* The generated source for p over these inputs (malloc'd), or NULL + error (tests). */
char *mx_cuda_compiled_jit_source(const mxc_cprog *p, const mx_tensor *in, int n_in,
                                  const mx_tensor *out);
#endif

#endif
