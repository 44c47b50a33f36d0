/* kernel.h: what a compute task hands a kernel (DESIGN section 3): borrowed views of its
 * input and output buffers on the kernel's device, and the primitive's parameters. Tasks
 * capture buffers and parameters, never the graph. Kernels return 0, or -1 with the error
 * set (it is carried on the task's event). */
#ifndef MX_KERNEL_H
#define MX_KERNEL_H

#include "dtype.h"

typedef struct mx_tensor {
  void *data;               /* first element, offset applied */
  mx_dtype dtype;
  int32_t ndim;
  const int32_t *shape;
  const int64_t *strides;   /* elements */
  int64_t size;             /* elements */
  uint8_t flags;            /* MX_ROW_CONTIG | MX_COL_CONTIG | MX_ON_HOST */
} mx_tensor;

/* A device kernel's input whose every element is the one element at data, in host memory (a
 * scalar or a broadcast view of one): only for primitives whose backend says it reads such
 * inputs itself (mx_gpu_backend.host_scalars). */
enum { MX_ON_HOST = 1u << 7 };

typedef struct mx_kernel_ctx {
  const void *params;       /* the primitive's parameter struct (prims_gen.h), may be NULL */
  void *queue;              /* backend queue (cudaStream_t on CUDA), NULL on the CPU */
  int32_t device_index;
} mx_kernel_ctx;

typedef int (*mx_kernel_fn)(const mx_kernel_ctx *ctx, const mx_tensor *in, int n_in,
                            mx_tensor *out, int n_out);

#endif
