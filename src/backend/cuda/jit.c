/* jit.c: NVRTC compilation and module loading for run-time kernels (jit.h). Each distinct
 * (device, entry, image) is cached once; modules live as long as the process, as the
 * functions handed out may be launched at any later time. */
#include "jit.h"

#include <cuda_runtime.h>
#include <nvrtc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../core/error.h"

#ifndef MX_CUDA_INCLUDE_DIR
#define MX_CUDA_INCLUDE_DIR "/usr/local/cuda/include"
#endif

typedef struct jit_entry {
  struct jit_entry *next;
  int dev;
  uint64_t hash;
  size_t len;
  char *image, *entry;
  CUfunction fn;
} jit_entry;

static pthread_mutex_t jit_mu = PTHREAD_MUTEX_INITIALIZER;
static jit_entry *jit_cache;

static uint64_t fnv1a(const char *p, size_t n, uint64_t h) {
  for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)p[i]) * 0x100000001b3ull;
  return h;
}

/* The CUDA headers' directory: $CUDA_HOME/include, $CUDA_PATH/include, else the toolkit
 * the library was built with. */
static const char *include_dir(char *buf, size_t cap) {
  const char *envs[] = {"CUDA_HOME", "CUDA_PATH"};
  for (int i = 0; i < 2; i++) {
    const char *v = getenv(envs[i]);
    if (v && v[0]) {
      snprintf(buf, cap, "%s/include", v);
      return buf;
    }
  }
  return MX_CUDA_INCLUDE_DIR;
}

int mx_cuda_jit_compile(const char *source, const char *entry, int arch,
                        const mx_jit_headers *headers, const char *what, char **lowered,
                        char **cubin, size_t *cubin_len) {
  *lowered = *cubin = NULL;
  *cubin_len = 0;
  nvrtcProgram prog;
  nvrtcResult r = nvrtcCreateProgram(&prog, source, "kernel.cu", headers ? headers->n : 0,
                                     headers ? headers->texts : NULL,
                                     headers ? headers->names : NULL);
  if (r != NVRTC_SUCCESS)
    return mx_fail_int(MX_ERUNTIME, "[%s] NVRTC could not create a program: %s.", what,
                       nvrtcGetErrorString(r));
  char opt_arch[48], opt_inc[4200], opt_cccl[4200], dir[4096];
  const char *inc = include_dir(dir, sizeof dir);
  snprintf(opt_arch, sizeof opt_arch, "--gpu-architecture=sm_%d", arch);
  snprintf(opt_inc, sizeof opt_inc, "--include-path=%s", inc);
  snprintf(opt_cccl, sizeof opt_cccl, "--include-path=%s/cccl", inc);
  const char *opts[] = {opt_arch, "--std=c++17", opt_inc, opt_cccl, "--fmad=false"};
  int n_opts = headers && headers->no_fmad ? 5 : 4;
  int rc = -1;
  if ((r = nvrtcAddNameExpression(prog, entry)) != NVRTC_SUCCESS) {
    mx_fail_int(MX_ERUNTIME, "[%s] NVRTC rejected the kernel name %s: %s.", what, entry,
                nvrtcGetErrorString(r));
    goto done;
  }
  r = nvrtcCompileProgram(prog, n_opts, opts);
  if (r != NVRTC_SUCCESS) {
    size_t n = 0;
    char *log = NULL;
    if (nvrtcGetProgramLogSize(prog, &n) == NVRTC_SUCCESS && (log = malloc(n + 1))) {
      if (nvrtcGetProgramLog(prog, log) != NVRTC_SUCCESS) log[0] = 0;
      log[n] = 0;
      fprintf(stderr, "[%s] NVRTC log for %s:\n%s\n", what, entry, log);
    }
    mx_fail_int(MX_ERUNTIME, "[%s] Failed to compile kernel %s: %s", what, entry,
                log && log[0] ? log : nvrtcGetErrorString(r));
    free(log);
    goto done;
  }
  const char *low = NULL;
  size_t n = 0;
  if (nvrtcGetLoweredName(prog, entry, &low) != NVRTC_SUCCESS || !low ||
      nvrtcGetCUBINSize(prog, &n) != NVRTC_SUCCESS || n == 0) {
    mx_fail_int(MX_ERUNTIME, "[%s] NVRTC produced no code for %s.", what, entry);
    goto done;
  }
  *lowered = malloc(strlen(low) + 1);
  *cubin = malloc(n);
  if (!*lowered || !*cubin) {
    mx_fail_int(MX_ENOMEM, "[%s] Out of memory.", what);
    goto done;
  }
  strcpy(*lowered, low);
  if (nvrtcGetCUBIN(prog, *cubin) != NVRTC_SUCCESS) {
    mx_fail_int(MX_ERUNTIME, "[%s] NVRTC produced no code for %s.", what, entry);
    goto done;
  }
  *cubin_len = n;
  rc = 0;
done:
  if (rc < 0) {
    free(*lowered);
    free(*cubin);
    *lowered = *cubin = NULL;
  }
  nvrtcDestroyProgram(&prog);
  return rc;
}

static int driver_fail(const char *what, const char *step, CUresult e) {
  const char *s = NULL;
  cuGetErrorString(e, &s);
  return mx_fail_int(MX_ERUNTIME, "[%s] %s failed: %s.", what, step, s ? s : "unknown error");
}

/* Compiles (or takes) and loads the image; *mod and *fn on success. */
static int load(int dev, const char *image, bool precompiled, const char *entry,
                const mx_jit_headers *headers, const char *what, CUmodule *mod,
                CUfunction *fn) {
  char *lowered = NULL, *cubin = NULL;
  size_t cubin_len = 0;
  const void *code = image;
  const char *symbol = entry;
  if (cudaSetDevice(dev) != cudaSuccess) {
    cudaGetLastError();
    return mx_fail_int(MX_ERUNTIME, "[%s] Cannot use CUDA device %d.", what, dev);
  }
  if (!precompiled) {
    int major = 0, minor = 0;
    cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev);
    cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, dev);
    if (mx_cuda_jit_compile(image, entry, major * 10 + minor, headers, what, &lowered, &cubin,
                            &cubin_len) < 0)
      return -1;
    code = cubin;
    symbol = lowered;
  }
  CUresult e = cuModuleLoadData(mod, code);
  int rc = 0;
  if (e != CUDA_SUCCESS)
    rc = driver_fail(what, "Loading the kernel image", e);
  else if ((e = cuModuleGetFunction(fn, *mod, symbol)) != CUDA_SUCCESS) {
    rc = mx_fail_int(MX_EINVAL, "[%s] The kernel image has no function %s.", what, entry);
    cuModuleUnload(*mod);
  }
  free(lowered);
  free(cubin);
  return rc;
}

/* The cached function of (dev, entry, image), or NULL; called under jit_mu. */
static jit_entry *lookup(int dev, uint64_t h, const char *image, size_t len, const char *entry) {
  for (jit_entry *c = jit_cache; c; c = c->next)
    if (c->dev == dev && c->hash == h && c->len == len && strcmp(c->entry, entry) == 0 &&
        memcmp(c->image, image, len) == 0)
      return c;
  return NULL;
}

int mx_cuda_jit_function(int dev, const char *image, size_t len, bool precompiled,
                         const char *entry, const mx_jit_headers *headers, const char *what,
                         CUfunction *fn) {
  uint64_t h = fnv1a(entry, strlen(entry) + 1, fnv1a(image, len, 0xcbf29ce484222325ull));
  pthread_mutex_lock(&jit_mu);
  jit_entry *c = lookup(dev, h, image, len, entry);
  if (c) *fn = c->fn;
  pthread_mutex_unlock(&jit_mu);
  if (c) return 0;
  /* compiled outside the lock, so launches of kernels already loaded never wait behind an
   * NVRTC compile; threads racing on one new kernel each build it and keep the first */
  CUmodule mod;
  if (load(dev, image, precompiled, entry, headers, what, &mod, fn) < 0) return -1;
  pthread_mutex_lock(&jit_mu);
  jit_entry *won = lookup(dev, h, image, len, entry);
  if (won) {
    *fn = won->fn;
  } else if ((c = calloc(1, sizeof *c)) && (c->image = malloc(len)) &&
             (c->entry = malloc(strlen(entry) + 1))) {
    memcpy(c->image, image, len);
    strcpy(c->entry, entry);
    c->dev = dev, c->hash = h, c->len = len, c->fn = *fn;
    c->next = jit_cache;
    jit_cache = c;
  } else if (c) { /* out of memory: the function works, it is just not cached */
    free(c->image);
    free(c);
  }
  pthread_mutex_unlock(&jit_mu);
  if (won) cuModuleUnload(mod);
  return 0;
}
