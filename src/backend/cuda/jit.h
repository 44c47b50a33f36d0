/* jit.h: CUDA functions from source compiled at run time (NVRTC) or from PTX/cubin images,
 * loaded once per device and cached by their exact bytes (C and C++). */
#ifndef MX_CUDA_JIT_H
#define MX_CUDA_JIT_H

#include <cuda.h>
#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Headers a source may include by name, held in memory, and compiler choices (NULL: none,
 * the defaults). */
typedef struct mx_jit_headers {
  int n;
  const char *const *names;
  const char *const *texts;
  bool no_fmad; /* --fmad=false: no multiply-add contraction anywhere in the kernel */
} mx_jit_headers;

/* The function `entry` of `image` on device dev. precompiled: image is PTX text or a cubin
 * and entry its symbol; else image is CUDA C++ that NVRTC compiles for the device's
 * architecture and entry the C++ name of a __global__ function. `what` names the caller in
 * errors ("cuda_kernel"). 0, or -1 with the error set (the compiler log in the message). */
int mx_cuda_jit_function(int dev, const char *image, size_t len, bool precompiled,
                         const char *entry, const mx_jit_headers *headers, const char *what,
                         CUfunction *fn);

/* NVRTC alone (no device needed): compiles source for sm_<arch> and returns the lowered
 * name of entry in *lowered (malloc'd) and the cubin in *cubin (malloc'd, *cubin_len
 * bytes). 0, or -1 with the error set. */
int mx_cuda_jit_compile(const char *source, const char *entry, int arch,
                        const mx_jit_headers *headers, const char *what, char **lowered,
                        char **cubin, size_t *cubin_len);

#ifdef __cplusplus
}
#endif

#endif
