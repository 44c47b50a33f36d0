/* buffer.h: refcounted bytes with a host copy and/or a device copy (DESIGN sections 1, 4).
 * A buffer is immutable once its producer has written it, so both copies may be valid at
 * once. Residency moves happen only after the producer's event (callers guarantee that).
 * Memory comes from allocator.h; foreign memory (mmap, NumPy) is wrapped NEVER_DONATE. */
#ifndef MX_BUFFER_H
#define MX_BUFFER_H

#include "common.h"

enum {
  MX_BUF_NEVER_DONATE = 1u << 0, /* memory the library does not own, or an immortal scalar */
  MX_BUF_HOST_VALID = 1u << 1,
  MX_BUF_DEV_VALID = 1u << 2,
  MX_BUF_IMMORTAL = 1u << 3, /* refcount never drops it */
};

typedef enum mx_mem_where { MX_MEM_HOST = 0, MX_MEM_DEVICE = 1 } mx_mem_where;

typedef struct mx_buffer {
  _Atomic int64_t refs;
  size_t nbytes;
  void *host;               /* host copy, NULL until needed */
  void *dev;                /* device copy, NULL until needed */
  _Atomic uint32_t flags;   /* MX_BUF_* */
  void (*release)(void *payload); /* foreign memory: called instead of freeing host */
  void *payload;
  /* An upload queued on upload_queue: work on another queue waits for upload_token first. */
  void *upload_queue;
  void *_Atomic upload_token;
} mx_buffer;

/* A new buffer of nbytes (refs = 1) with memory on `where`, marked valid there.
 * NULL + ENOMEM "[malloc] Unable to allocate N bytes" when memory cannot be had. */
mx_buffer *mx_buffer_alloc(size_t nbytes, mx_mem_where where);
/* Wraps host memory the library does not own; release(payload) runs when the last ref dies. */
mx_buffer *mx_buffer_wrap(void *host, size_t nbytes, void (*release)(void *), void *payload);

void mx_buffer_retain(mx_buffer *b);
void mx_buffer_release(mx_buffer *b);
static inline int64_t mx_buffer_refs(const mx_buffer *b) { return b->refs; }

/* Pointer to a valid copy on `where`, making one (upload/download mirror) if needed.
 * NULL + error on allocation failure. Thread-safe. */
void *mx_buffer_data(mx_buffer *b, mx_mem_where where);
/* The same for work about to be queued on the GPU backend queue `queue`: an upload is queued
 * there instead of waited for (NULL: as mx_buffer_data). */
void *mx_buffer_data_on(mx_buffer *b, mx_mem_where where, void *queue);
/* True if the copy on `where` is valid now. */
bool mx_buffer_valid_on(const mx_buffer *b, mx_mem_where where);
/* The buffer is about to be overwritten on `where` (donation): drop the other copy. */
void mx_buffer_invalidate_others(mx_buffer *b, mx_mem_where where);

#endif
