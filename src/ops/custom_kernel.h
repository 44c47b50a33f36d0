/* custom_kernel.h: the parameter object of the CustomKernel primitive (mx.fast.cuda_kernel and
 * precompiled_cuda_kernel), shared by the op layer that builds it and the CUDA launcher
 * (src/backend/cuda/custom_kernel.c) that runs it. C only. */
#ifndef MX_CUSTOM_KERNEL_H
#define MX_CUSTOM_KERNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../core/object.h"

/* Which of an input's layout arguments the generated signature takes (after its pointer). */
enum { MX_CK_SHAPE = 1, MX_CK_STRIDES = 2, MX_CK_NDIM = 4 };

/* Launch-time layout arrays have this many slots (unused ones are zero). */
#define MX_CK_MAX_NDIM 10

typedef enum mx_ck_scalar_kind { MX_CK_BOOL, MX_CK_INT, MX_CK_FLOAT } mx_ck_scalar_kind;

typedef struct mx_ck_scalar {
  mx_ck_scalar_kind kind;
  union {
    bool b;
    int32_t i;
    float f;
  } v;
} mx_ck_scalar;

typedef struct mx_custom_kernel {
  mx_object base;
  char *entry;              /* C++ name of the kernel (JIT) or its symbol (precompiled) */
  char *source;             /* CUDA C++ source, or PTX / cubin bytes when precompiled */
  size_t source_len;
  bool precompiled;
  int32_t grid[3], group[3]; /* grid in threads, as MLX's */
  int32_t n_in;
  uint8_t *layout_args;     /* n_in flags of MX_CK_* */
  bool ensure_row_contiguous;
  int32_t shared_memory;
  int32_t n_out;
  bool has_init;
  unsigned char *init_bits; /* n_out * 16 bytes: the init value stored in each output dtype */
  int32_t n_scalars;
  mx_ck_scalar *scalars;    /* appended after the outputs (precompiled kernels) */
} mx_custom_kernel;

#endif
