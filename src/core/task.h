/* task.h: a compute task (DESIGN section 3): everything a kernel run needs, captured at
 * schedule time -- buffers, layouts and parameters, never graph nodes. Built by eval.c,
 * run by a stream's worker (stream.c). Internal to src/core. */
#ifndef MX_TASK_H
#define MX_TASK_H

#include "buffer.h"
#include "event.h"
#include "kernel.h"
#include "stream.h"

typedef struct mx_task {
  struct mx_task *next;
  int prim;
  mx_kernel_fn fn;          /* NULL: the event carries "no kernel" already */
  void *params;             /* retained parameter blob */
  mx_event *event;          /* signalled when the kernel is done */
  int n_wait;
  mx_event **waits;         /* producers of the inputs (retained) */
  int n_in, n_out;
  mx_buffer **bufs;         /* n_in + n_out, retained */
  int64_t *offsets;         /* element offsets, n_in + n_out */
  mx_tensor *tensors;       /* n_in + n_out; data pointers are set by the worker */
  mx_mem_where where;
  int32_t stream;           /* index of the stream it runs on */
  void *next_token;         /* asynchronous devices: marks the end of its kernels */
} mx_task;

/* Allocates a task with room for n_in + n_out tensors of the given ranks and n_wait events. */
mx_task *mx_task_new(int n_in, int n_out, const int *ndims, int n_wait);
void mx_task_free(mx_task *t);   /* releases everything the task holds */

/* Hands t to stream s's worker (takes ownership). With may_launch_here, a task of an idle
 * asynchronous device stream whose inputs are ready is launched on the calling thread. */
void mx_stream_submit(mx_stream s, mx_task *t, bool may_launch_here);
/* Runs t on the calling thread (used by workers): waits, kernel, signal. */
void mx_task_run(mx_task *t, void *queue);
/* The two halves of mx_task_run for asynchronous devices: launch enqueues the kernel (0, or
 * -1 with the error set); finish releases the buffers and signals the event with rc's error. */
int mx_task_launch(mx_task *t, void *queue);
void mx_task_finish(mx_task *t, int rc);

#endif
