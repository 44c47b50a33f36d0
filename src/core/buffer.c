/* buffer.c: refcounted buffers and their host/device copies (DESIGN section 4). A copy is
 * made on first use on the other side and kept while the buffer lives; residency changes
 * are serialised by a striped lock keyed by the buffer's address. */
#include "buffer.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "allocator.h"
#include "device.h"
#include "error.h"

#define N_STRIPES 64
static pthread_mutex_t stripes[N_STRIPES];
static pthread_once_t stripes_once = PTHREAD_ONCE_INIT;

static void init_stripes(void) {
  for (int i = 0; i < N_STRIPES; i++) pthread_mutex_init(&stripes[i], NULL);
}

static pthread_mutex_t *stripe(const mx_buffer *b) {
  pthread_once(&stripes_once, init_stripes);
  return &stripes[((uintptr_t)b >> 6) % N_STRIPES];
}

static mx_buffer *buffer_header(size_t nbytes) {
  mx_buffer *b = malloc(sizeof *b);
  if (!b) return mx_fail(MX_ENOMEM, "[malloc] Unable to allocate %zu bytes.", sizeof *b);
  atomic_init(&b->refs, 1);
  b->nbytes = nbytes;
  b->host = b->dev = NULL;
  atomic_init(&b->flags, 0);
  b->release = NULL;
  b->payload = NULL;
  b->upload_queue = NULL;
  atomic_init(&b->upload_token, NULL);
  return b;
}

mx_buffer *mx_buffer_alloc(size_t nbytes, mx_mem_where where) {
  mx_buffer *b = buffer_header(nbytes);
  if (!b) return NULL;
  void *p = mx_mem_alloc(nbytes, where);
  if (!p) {
    free(b);
    return NULL;
  }
  if (where == MX_MEM_HOST) {
    b->host = p;
    atomic_store(&b->flags, MX_BUF_HOST_VALID);
  } else {
    b->dev = p;
    atomic_store(&b->flags, MX_BUF_DEV_VALID);
  }
  return b;
}

mx_buffer *mx_buffer_wrap(void *host, size_t nbytes, void (*release)(void *), void *payload) {
  mx_buffer *b = buffer_header(nbytes);
  if (!b) return NULL;
  b->host = host;
  b->release = release;
  b->payload = payload;
  atomic_store(&b->flags, MX_BUF_HOST_VALID | MX_BUF_NEVER_DONATE);
  return b;
}

/* Waits for a queued upload; the caller holds b's stripe or the last reference. */
static int settle_upload(mx_buffer *b) {
  if (!atomic_load_explicit(&b->upload_token, memory_order_acquire)) return 0; /* the usual case */
  void *token = atomic_exchange(&b->upload_token, NULL);
  if (!token) return 0;
  const mx_gpu_backend *g = mx_gpu();
  int rc = g->wait(token);
  g->token_free(token);
  b->upload_queue = NULL;
  return rc;
}

void mx_buffer_retain(mx_buffer *b) {
  if (b) atomic_fetch_add_explicit(&b->refs, 1, memory_order_relaxed);
}

void mx_buffer_release(mx_buffer *b) {
  if (!b) return;
  if (atomic_load_explicit(&b->flags, memory_order_relaxed) & MX_BUF_IMMORTAL) return;
  int64_t old = atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel);
  MX_ASSERT(old > 0);
  if (old != 1) return;
  settle_upload(b);
  if (b->release) {
    b->release(b->payload);
  } else if (b->host) {
    mx_mem_free(b->host, b->nbytes, MX_MEM_HOST);
  }
  if (b->dev) mx_mem_free(b->dev, b->nbytes, MX_MEM_DEVICE);
  free(b);
}

bool mx_buffer_valid_on(const mx_buffer *b, mx_mem_where where) {
  uint32_t f = atomic_load(&((mx_buffer *)b)->flags);
  return f & (where == MX_MEM_HOST ? MX_BUF_HOST_VALID : MX_BUF_DEV_VALID);
}

void *mx_buffer_data_on(mx_buffer *b, mx_mem_where where, void *queue) {
  uint32_t want = where == MX_MEM_HOST ? MX_BUF_HOST_VALID : MX_BUF_DEV_VALID;
  if ((atomic_load(&b->flags) & want) &&
      (where == MX_MEM_HOST || !atomic_load(&b->upload_token) || (queue && b->upload_queue == queue)))
    return where == MX_MEM_HOST ? b->host : b->dev;
  pthread_mutex_t *m = stripe(b);
  pthread_mutex_lock(m);
  void *res = NULL;
  if (atomic_load(&b->flags) & want) {
    res = where == MX_MEM_HOST ? b->host : b->dev;
    if (where == MX_MEM_DEVICE && !(queue && b->upload_queue == queue) && settle_upload(b) != 0)
      res = NULL;
  } else {
    const mx_gpu_backend *g = mx_gpu();
    if (!g) {
      mx_fail(MX_ERUNTIME, "[residency] no GPU backend for a device copy");
    } else if (where == MX_MEM_HOST) {
      if (!b->host) b->host = mx_mem_alloc(b->nbytes, MX_MEM_HOST);
      if (b->host && g->copy_to_host(b->host, b->dev, b->nbytes) == 0) res = b->host;
    } else {
      if (!b->dev) b->dev = mx_mem_alloc(b->nbytes, MX_MEM_DEVICE);
      bool queued = queue && g->record;
      if (b->dev && g->copy_to_device(b->dev, b->host, b->nbytes, queued ? queue : NULL) == 0) {
        res = b->dev;
        if (queued) {
          void *token = g->record(queue);
          if (token) {
            b->upload_queue = queue;
            atomic_store(&b->upload_token, token);
          } else if (g->queue_finish(queue) != 0) {
            res = NULL;
          }
        }
      }
    }
    if (res) atomic_fetch_or(&b->flags, want);
  }
  pthread_mutex_unlock(m);
  return res;
}

void *mx_buffer_data(mx_buffer *b, mx_mem_where where) { return mx_buffer_data_on(b, where, NULL); }

void mx_buffer_invalidate_others(mx_buffer *b, mx_mem_where where) {
  pthread_mutex_t *m = stripe(b);
  pthread_mutex_lock(m);
  if (where == MX_MEM_HOST) {
    settle_upload(b); /* its target is about to be freed */
    atomic_fetch_and(&b->flags, ~(uint32_t)MX_BUF_DEV_VALID);
    if (b->dev) mx_mem_free(b->dev, b->nbytes, MX_MEM_DEVICE);
    b->dev = NULL;
  } else {
    atomic_fetch_and(&b->flags, ~(uint32_t)MX_BUF_HOST_VALID);
    if (b->host && !b->release) mx_mem_free(b->host, b->nbytes, MX_MEM_HOST);
    if (!b->release) b->host = NULL;
  }
  pthread_mutex_unlock(m);
}
