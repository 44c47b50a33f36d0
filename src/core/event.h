/* event.h: a one-shot completion flag that carries an error (DESIGN section 3).
 * A task signals its event when done; an error inside the task is stored on the event and
 * re-raised by whoever waits (eval, item, synchronize). Refcounted. */
#ifndef MX_EVENT_H
#define MX_EVENT_H

#include "error.h"

typedef struct mx_event mx_event;

mx_event *mx_event_new(void);       /* refs = 1, pending */
/* The stream whose task signals e (-1: none); tasks on that same GPU stream need not wait. */
void mx_event_set_stream(mx_event *e, int32_t stream_index);
int32_t mx_event_stream(const mx_event *e);
void mx_event_retain(mx_event *e);
void mx_event_release(mx_event *e);

/* Marks done. kind != MX_OK stores (kind, msg) as the event's error. Signal once. */
void mx_event_signal(mx_event *e, mx_error_kind kind, const char *msg);
bool mx_event_done(const mx_event *e);
bool mx_event_failed(const mx_event *e);
/* Blocks until done; returns 0, or -1 with this thread's error set to the event's error. */
int mx_event_wait(mx_event *e);
/* Same, but an error some caller has already received is not raised again (synchronize). */
int mx_event_wait_unreported(mx_event *e);

#endif
