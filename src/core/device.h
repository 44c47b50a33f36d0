/* device.h: the GPU backend interface the core drives (DESIGN sections 3-4). Exactly one
 * backend is active: none (CPU only), the fake device (CI: a separate malloc'd memory and
 * the CPU kernels, enabled with MLX_FAKE_GPU=1) or CUDA. The core never includes a
 * backend's headers; backends fill this table. */
#ifndef MX_DEVICE_H
#define MX_DEVICE_H

#include "kernel.h"

typedef struct mx_gpu_backend {
  const char *name;                                   /* "fake", "cuda" */
  int (*device_count)(void);
  void *(*malloc)(size_t nbytes);                     /* device memory; NULL on failure */
  void (*free)(void *p);
  /* queue NULL: synchronous. A queue: ordered before the work later queued on it; src may
   * be reused once the call returns. */
  int (*copy_to_device)(void *dst, const void *src, size_t nbytes, void *queue);
  int (*copy_to_host)(void *dst, const void *src, size_t nbytes); /* synchronous */
  void *(*queue_new)(void);                           /* one per stream */
  void (*queue_free)(void *q);
  int (*queue_finish)(void *q);                       /* wait for the queue's work */
  mx_kernel_fn (*kernel)(int prim);                   /* NULL: no GPU kernel */
  /* True when prim's kernel takes an input over a one-element buffer of <= 8 bytes that is
   * only in host memory by value (flagged MX_ON_HOST) instead of an upload. NULL: never. */
  bool (*host_scalars)(int prim);
  size_t (*memory_size)(void);                        /* bytes on the device */
  const char *(*device_name)(void);
  const char *(*architecture)(void);
  /* Asynchronous completion. After a task's kernels are enqueued on q, record(q) returns a
   * token; wait(token) blocks until that work is done (0, or -1 with the error set, e.g. a
   * fault inside a kernel); token_free releases it. record == NULL: kernels are complete
   * when they return (the fake device). */
  void *(*record)(void *q);
  int (*wait)(void *token);
  void (*token_free)(void *token);
  /* Called once on each worker thread before it launches anything. */
  void (*thread_init)(void);
} mx_gpu_backend;

/* The active GPU backend, NULL when none. Chosen once at first use. */
const mx_gpu_backend *mx_gpu(void);
/* Backends that may be compiled in. */
const mx_gpu_backend *mx_fake_gpu_backend(void);
const mx_gpu_backend *mx_cuda_backend(void);   /* NULL when built without CUDA */

#endif
