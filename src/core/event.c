/* event.c: one-shot events with an error payload (see event.h). A done flag read without
 * the lock gives waiters a fast path; the mutex/condvar pair handles sleeping waiters. */
#include "event.h"

#include "stream.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

struct mx_event {
  _Atomic int64_t refs;
  _Atomic int done;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  mx_error_kind kind;
  char *msg;
  int32_t stream;
  _Atomic int reported;    /* the error has reached a caller already */
};

mx_event *mx_event_new(void) {
  mx_event *e = malloc(sizeof *e);
  if (!e) return mx_fail(MX_ENOMEM, "[malloc] Unable to allocate %zu bytes.", sizeof *e);
  atomic_init(&e->refs, 1);
  atomic_init(&e->done, 0);
  pthread_mutex_init(&e->mu, NULL);
  pthread_cond_init(&e->cv, NULL);
  e->kind = MX_OK;
  e->msg = NULL;
  e->stream = -1;
  atomic_init(&e->reported, 0);
  return e;
}

void mx_event_retain(mx_event *e) {
  if (e) atomic_fetch_add_explicit(&e->refs, 1, memory_order_relaxed);
}

void mx_event_release(mx_event *e) {
  if (!e) return;
  int64_t old = atomic_fetch_sub_explicit(&e->refs, 1, memory_order_acq_rel);
  MX_ASSERT(old > 0);
  if (old != 1) return;
  pthread_mutex_destroy(&e->mu);
  pthread_cond_destroy(&e->cv);
  free(e->msg);
  free(e);
}

void mx_event_signal(mx_event *e, mx_error_kind kind, const char *msg) {
  pthread_mutex_lock(&e->mu);
  MX_ASSERT(!atomic_load(&e->done));
  if (kind != MX_OK) {
    e->kind = kind;
    e->msg = strdup(msg ? msg : "");
  }
  atomic_store_explicit(&e->done, 1, memory_order_release);
  pthread_cond_broadcast(&e->cv);
  pthread_mutex_unlock(&e->mu);
}

bool mx_event_done(const mx_event *e) {
  return atomic_load_explicit(&((mx_event *)e)->done, memory_order_acquire);
}

bool mx_event_failed(const mx_event *e) { return mx_event_done(e) && e->kind != MX_OK; }

int mx_event_wait(mx_event *e) {
  if (!atomic_load_explicit(&e->done, memory_order_acquire) && e->stream >= 0)
    mx_stream_help_complete(e->stream, e);
  if (!atomic_load_explicit(&e->done, memory_order_acquire)) {
    pthread_mutex_lock(&e->mu);
    while (!atomic_load_explicit(&e->done, memory_order_acquire)) pthread_cond_wait(&e->cv, &e->mu);
    pthread_mutex_unlock(&e->mu);
  }
  if (e->kind != MX_OK) {
    atomic_store(&e->reported, 1);
    mx_error_restore(e->kind, e->msg ? e->msg : "");
    return -1;
  }
  return 0;
}

int mx_event_wait_unreported(mx_event *e) {
  bool seen = atomic_load(&e->reported);
  int rc = mx_event_wait(e);
  if (rc != 0 && seen) {
    mx_error_clear();
    return 0;
  }
  return rc;
}

void mx_event_set_stream(mx_event *e, int32_t stream_index) { e->stream = stream_index; }
int32_t mx_event_stream(const mx_event *e) { return e->stream; }
