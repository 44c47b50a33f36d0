/* backend.c: the CUDA GPU backend table (core/device.h): device memory through cudaMalloc
 * behind the core's caching allocator, one non-blocking CUDA stream per mx stream, events
 * recorded after each task's kernels so completion (and any kernel fault) is reported
 * asynchronously, stream-ordered scratch memory for kernels, and device queries. */
#include <cuda_runtime.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../core/device.h"
#include "../../core/error.h"

mx_kernel_fn mx_cuda_kernel(int prim);
bool mx_cuda_host_scalars(int prim);

static int fail(const char *what, cudaError_t e) {
  cudaGetLastError(); /* clear a non-sticky error so later calls start clean */
  return mx_fail_int(MX_ERUNTIME, "[cuda] %s failed: %s", what, cudaGetErrorString(e));
}

static int device_count(void) {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();
    return 0;
  }
  return n;
}

/* Scratch (cudaMallocAsync) comes from the device's default pool, whose default release
 * threshold of 0 hands its memory back to the driver at every synchronization, so each
 * later scratch allocation maps memory again (~0.1 ms per reduction on the H100). The pool
 * keeps what it has instead; an allocation that fails trims it and retries. */
static void keep_pool_memory(int dev) {
  cudaMemPool_t pool;
  uint64_t keep = UINT64_MAX;
  if (cudaDeviceGetDefaultMemPool(&pool, dev) != cudaSuccess ||
      cudaMemPoolSetAttribute(pool, cudaMemPoolAttrReleaseThreshold, &keep) != cudaSuccess)
    cudaGetLastError();
}

static void trim_pool(void) {
  int dev = 0;
  cudaMemPool_t pool;
  if (cudaGetDevice(&dev) != cudaSuccess || cudaDeviceGetDefaultMemPool(&pool, dev) != cudaSuccess) {
    cudaGetLastError();
    return;
  }
  cudaDeviceSynchronize();
  cudaMemPoolTrimTo(pool, 0);
  cudaGetLastError();
}

static void *dmalloc(size_t n) {
  void *p = NULL;
  if (cudaMalloc(&p, n ? n : 1) != cudaSuccess) {
    cudaGetLastError();
    trim_pool();
    if (cudaMalloc(&p, n ? n : 1) != cudaSuccess) {
      cudaGetLastError();
      return NULL;
    }
  }
  return p;
}

static void dfree(void *p) { cudaFree(p); }

static int copy_to_device(void *dst, const void *src, size_t n, void *q) {
  if (!n) return 0;
  cudaError_t e;
  if (q) {
    /* from pageable memory the bytes are staged before the call returns */
    e = cudaMemcpyAsync(dst, src, n, cudaMemcpyHostToDevice, (cudaStream_t)q);
  } else {
    e = cudaMemcpy(dst, src, n, cudaMemcpyHostToDevice);
    /* From pageable memory cudaMemcpy may return once the bytes are staged, before the DMA
     * lands; kernels run on non-blocking streams, which do not wait for the legacy stream
     * the copy went to, so wait for it here. */
    if (e == cudaSuccess) e = cudaStreamSynchronize(cudaStreamLegacy);
  }
  return e == cudaSuccess ? 0 : fail("upload", e);
}

static int copy_to_host(void *dst, const void *src, size_t n) {
  cudaError_t e = n ? cudaMemcpy(dst, src, n, cudaMemcpyDeviceToHost) : cudaSuccess;
  return e == cudaSuccess ? 0 : fail("download", e);
}

static void *queue_new(void) {
  cudaStream_t s = NULL;
  if (cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking) != cudaSuccess) {
    cudaGetLastError();
    return NULL;
  }
  return s;
}

/* Per-stream counters of mx_cuda_tickets. */
typedef struct stream_tickets {
  cudaStream_t q;
  unsigned *p;
  size_t n;
} stream_tickets;
static pthread_mutex_t tickets_mu = PTHREAD_MUTEX_INITIALIZER;
static stream_tickets *tickets;
static int n_tickets, cap_tickets;

unsigned *mx_cuda_tickets(size_t n, cudaStream_t q) {
  pthread_mutex_lock(&tickets_mu);
  stream_tickets *t = NULL;
  for (int i = 0; i < n_tickets && !t; i++)
    if (tickets[i].q == q) t = &tickets[i];
  unsigned *p = t && t->n >= n ? t->p : NULL;
  if (!p) {
    size_t want = n < 1024 ? 1024 : n;
    cudaError_t e = cudaMallocAsync((void **)&p, want * sizeof *p, q);
    if (e == cudaSuccess) e = cudaMemsetAsync(p, 0, want * sizeof *p, q);
    if (e != cudaSuccess) {
      pthread_mutex_unlock(&tickets_mu);
      fail("ticket allocation", e);
      return NULL;
    }
    if (!t && n_tickets == cap_tickets) {
      int cap = cap_tickets ? 2 * cap_tickets : 8;
      stream_tickets *nt = realloc(tickets, (size_t)cap * sizeof *nt);
      if (nt) {
        tickets = nt;
        cap_tickets = cap;
      }
    }
    if (!t && n_tickets < cap_tickets) t = &tickets[n_tickets++];
    if (t) {
      if (t->p) cudaFreeAsync(t->p, q); /* after the kernels that use it */
      *t = (stream_tickets){q, p, want};
    } else {
      cudaFreeAsync(p, q);
      p = NULL;
      mx_fail(MX_ENOMEM, "[cuda] Unable to allocate a ticket table.");
    }
  }
  pthread_mutex_unlock(&tickets_mu);
  return p;
}

static void queue_free(void *q) {
  pthread_mutex_lock(&tickets_mu);
  for (int i = 0; i < n_tickets; i++)
    if (tickets[i].q == (cudaStream_t)q) {
      cudaFreeAsync(tickets[i].p, (cudaStream_t)q);
      tickets[i] = tickets[--n_tickets];
      break;
    }
  pthread_mutex_unlock(&tickets_mu);
  cudaStreamDestroy((cudaStream_t)q);
}

static int queue_finish(void *q) {
  cudaError_t e = cudaStreamSynchronize((cudaStream_t)q);
  return e == cudaSuccess ? 0 : fail("synchronize", e);
}

static mx_kernel_fn kernel(int prim) { return mx_cuda_kernel(prim); }

static size_t memory_size(void) {
  size_t free_b = 0, total = 0;
  if (cudaMemGetInfo(&free_b, &total) != cudaSuccess) cudaGetLastError();
  return total;
}

static const char *device_name(void) {
  static char name[256];
  if (!name[0]) {
    struct cudaDeviceProp p;
    if (cudaGetDeviceProperties(&p, 0) == cudaSuccess) snprintf(name, sizeof name, "%s", p.name);
    else cudaGetLastError();
  }
  return name;
}

static const char *architecture(void) {
  static char arch[32];
  if (!arch[0]) {
    int major = 0, minor = 0;
    cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, 0);
    cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, 0);
    snprintf(arch, sizeof arch, "sm_%d%d", major, minor);
  }
  return arch;
}

/* Completion events are reused: creating one per task costs more than the small kernels
 * it follows. */
static pthread_mutex_t pool_mu = PTHREAD_MUTEX_INITIALIZER;
static cudaEvent_t *event_pool;
static int pool_n, pool_cap;

static void *record(void *q) {
  cudaEvent_t e = NULL;
  pthread_mutex_lock(&pool_mu);
  if (pool_n > 0) e = event_pool[--pool_n];
  pthread_mutex_unlock(&pool_mu);
  if (!e && cudaEventCreateWithFlags(&e, cudaEventDisableTiming) != cudaSuccess) {
    cudaGetLastError();
    return NULL;
  }
  if (cudaEventRecord(e, (cudaStream_t)q) != cudaSuccess) {
    cudaGetLastError();
    cudaEventDestroy(e);
    return NULL;
  }
  return e;
}

static int wait_token(void *token) {
  cudaError_t e = cudaEventSynchronize((cudaEvent_t)token);
  return e == cudaSuccess ? 0 : fail("kernel", e);
}

static void token_free(void *token) {
  pthread_mutex_lock(&pool_mu);
  if (pool_n == pool_cap) {
    int cap = pool_cap ? pool_cap * 2 : 64;
    cudaEvent_t *np = realloc(event_pool, (size_t)cap * sizeof *np);
    if (np) {
      event_pool = np;
      pool_cap = cap;
    }
  }
  if (pool_n < pool_cap) {
    event_pool[pool_n++] = (cudaEvent_t)token;
    token = NULL;
  }
  pthread_mutex_unlock(&pool_mu);
  if (token) cudaEventDestroy((cudaEvent_t)token);
}

static pthread_once_t pool_once = PTHREAD_ONCE_INIT;
static void pool_init(void) { keep_pool_memory(0); }

static void thread_init(void) {
  cudaSetDevice(0);
  pthread_once(&pool_once, pool_init);
}

/* Stream-ordered scratch memory for kernels (cuBLASLt workspaces, staging). */
void *mx_cuda_scratch(size_t nbytes, cudaStream_t q) {
  void *p = NULL;
  if (cudaMallocAsync(&p, nbytes ? nbytes : 1, q) != cudaSuccess) {
    cudaGetLastError();
    trim_pool();
    cudaError_t e = cudaMallocAsync(&p, nbytes ? nbytes : 1, q);
    if (e != cudaSuccess) {
      fail("scratch allocation", e);
      return NULL;
    }
  }
  return p;
}

void mx_cuda_scratch_free(void *p, cudaStream_t q) {
  if (p) cudaFreeAsync(p, q);
}

static const mx_gpu_backend cuda = {
    .name = "cuda",
    .device_count = device_count,
    .malloc = dmalloc,
    .free = dfree,
    .copy_to_device = copy_to_device,
    .copy_to_host = copy_to_host,
    .queue_new = queue_new,
    .queue_free = queue_free,
    .queue_finish = queue_finish,
    .kernel = kernel,
    .host_scalars = mx_cuda_host_scalars,
    .memory_size = memory_size,
    .device_name = device_name,
    .architecture = architecture,
    .record = record,
    .wait = wait_token,
    .token_free = token_free,
    .thread_init = thread_init,
};

const mx_gpu_backend *mx_cuda_backend(void) { return &cuda; }
