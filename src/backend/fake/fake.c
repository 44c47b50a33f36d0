/* fake.c: the fake device backend (DESIGN section 4): device memory is a separate malloc
 * and kernels are the CPU ones run on the device copies, so residency (uploads, host
 * mirrors, both copies counted as active) and asynchronous completion (queues, tokens, the
 * completer thread) are exercised without a GPU. Kernels finish before their launch
 * returns, so every token is already complete. */
#include <stdlib.h>
#include <string.h>

#include "../../core/device.h"
#include "../../core/prim.h"

static int count(void) { return 1; }
static void *dmalloc(size_t n) { return malloc(n); }
static void dfree(void *p) { free(p); }

static int copy(void *dst, const void *src, size_t n) {
  if (n) memcpy(dst, src, n);
  return 0;
}

static int upload(void *dst, const void *src, size_t n, void *queue) {
  (void)queue;
  return copy(dst, src, n);
}

static void *queue_new(void) { return malloc(1); }
static void queue_free(void *q) { free(q); }
static int queue_finish(void *q) {
  (void)q;
  return 0;
}

static char done_token;
static void *record(void *q) {
  (void)q;
  return &done_token;
}
static int wait_token(void *token) {
  (void)token;
  return 0;
}
static void token_free(void *token) { (void)token; }

static mx_kernel_fn kernel(int prim) { return mx_prims[prim].eval_cpu; }

/* As the CUDA back-end: element-wise kernels take host scalars by value (the CPU kernels
 * read them where they are). */
static bool host_scalars(int prim) {
  if (prim == MX_PRIM_COPY || prim == MX_PRIM_ASTYPE) return false; /* strided copies there */
  switch (prim) {
#define BY_VALUE(NAME, stem) case MX_PRIM_##NAME:
    MX_UNARY_PRIMS(BY_VALUE)
    MX_BINARY_PRIMS(BY_VALUE)
    MX_COMPARE_PRIMS(BY_VALUE)
    MX_TERNARY_PRIMS(BY_VALUE)
#undef BY_VALUE
      return true;
    default:
      return false;
  }
}
static size_t memory_size(void) { return (size_t)16 << 30; }
static const char *name(void) { return "Fake GPU (host memory)"; }

static const mx_gpu_backend fake = {
    .name = "fake",
    .device_count = count,
    .malloc = dmalloc,
    .free = dfree,
    .copy_to_device = upload,
    .copy_to_host = copy,
    .queue_new = queue_new,
    .queue_free = queue_free,
    .queue_finish = queue_finish,
    .kernel = kernel,
    .host_scalars = host_scalars,
    .memory_size = memory_size,
    .device_name = name,
    .record = record,
    .wait = wait_token,
    .token_free = token_free,
};

const mx_gpu_backend *mx_fake_gpu_backend(void) { return &fake; }
