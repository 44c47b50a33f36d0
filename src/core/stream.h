/* stream.h: devices and streams (DESIGN section 3, spec/semantics.md section 6).
 * A stream is an ordered queue of compute tasks on one device, run by its own worker
 * thread. Each thread has its own default stream per device; new_stream streams belong to
 * the thread that made them. mx_stream is a small value; the runtime object is found by
 * index. */
#ifndef MX_STREAM_H
#define MX_STREAM_H

#include "common.h"

typedef enum mx_device_type { MX_CPU = 0, MX_GPU = 1 } mx_device_type;

typedef struct mx_device {
  int32_t type;  /* mx_device_type */
  int32_t index;
} mx_device;

typedef struct mx_stream {
  int32_t index;  /* process-wide unique; -1 = none */
  mx_device device;
} mx_stream;

typedef enum mx_stream_kind {
  MX_STREAM_DEFAULT = 0,    /* a thread's default stream for a device */
  MX_STREAM_OWNED,          /* new_stream: usable only on the creating thread */
  MX_STREAM_THREAD_UNSAFE,  /* new_thread_unsafe_stream: usable anywhere */
  MX_STREAM_THREAD_LOCAL,   /* one per thread behind a ThreadLocalStream */
} mx_stream_kind;

/* Devices */
bool mx_device_equal(mx_device a, mx_device b);
bool mx_device_is_available(mx_device d);
int mx_device_count(mx_device_type t);
mx_device mx_default_device(void);
int mx_set_default_device(mx_device d);          /* -1 + EINVAL if unavailable */

/* Streams */
mx_stream mx_default_stream(mx_device d);        /* this thread's default for d */
int mx_set_default_stream(mx_stream s);          /* for s.device, on this thread */
mx_stream mx_new_stream(mx_device d);            /* owned by the calling thread */
mx_stream mx_new_thread_unsafe_stream(mx_device d);
/* A ThreadLocalStream is an id; each thread resolves it to a stream of its own. */
int32_t mx_new_thread_local_stream_id(mx_device d);
mx_stream mx_thread_local_stream_resolve(int32_t id);
/* 0 if the calling thread may use s, else -1 + ERUNTIME. */
int mx_stream_check_usable(mx_stream s);
bool mx_stream_equal(mx_stream a, mx_stream b);
/* Waits for every task already scheduled on s; re-raises a task's error. */
int mx_synchronize(mx_stream s);
/* Completes launched tasks of stream `index` on the calling thread, oldest first, until e is
 * done; returns at once if the stream is not an asynchronous device's or another thread is
 * completing its tasks. */
struct mx_event;
void mx_stream_help_complete(int32_t index, struct mx_event *e);
/* Drains and destroys this thread's streams (default, owned, thread-local). */
void mx_clear_streams(void);
/* Drains every stream of the process (atexit, before fork). */
void mx_synchronize_all(void);

/* The default stream of the default device: what `stream=None` means. */
static inline mx_stream mx_stream_default(void) { return mx_default_stream(mx_default_device()); }

#endif
