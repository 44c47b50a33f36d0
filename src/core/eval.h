/* eval.h: evaluation (DESIGN section 3). One process-wide graph lock; an iterative
 * topological walk schedules compute tasks on streams, detaches what it scheduled, bounds
 * the tasks in flight and waits while active memory is over the memory limit. Errors from
 * tasks arrive on events and are raised by the waits here. Callers from Python release the
 * GIL around these. */
#ifndef MX_EVAL_H
#define MX_EVAL_H

#include "array.h"

/* Schedules and waits for every array in outs (NULL entries are skipped). 0 or -1 + error. */
int mx_eval(mx_array *const *outs, int n);
/* Schedules only; later reads wait. Raises (EINVAL) for a tracer inside a transformation. */
int mx_async_eval(mx_array *const *outs, int n);

/* The graph lock (recursive per thread). */
void mx_graph_lock(void);
void mx_graph_unlock(void);

/* Trace state of this thread (grad/vjp/jvp/vmap/compile in progress). */
int mx_trace_depth(void);
void mx_trace_push(void);
void mx_trace_pop(void);
/* Whether this thread is tracing a shapeless function (compile or export with shapeless):
 * ops then record what depends on input sizes as ops instead of constants. */
bool mx_trace_shapeless(void);
void mx_trace_shapeless_push(void);
void mx_trace_shapeless_pop(void);

/* Writes the lazy graph of outs in DOT to f; names[i] (may be NULL) label outs[i].
 * Iterative; unnamed nodes get letters A, B, ... */
int mx_export_to_dot(void *file /* FILE* */, mx_array *const *outs, const char *const *names,
                     int n);

#endif
