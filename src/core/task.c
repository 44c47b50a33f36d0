/* task.c: building, running and freeing compute tasks (task.h). A task waits for the
 * events of its inputs' producers, resolves its buffers on its device (making a mirror
 * copy if needed, DESIGN section 4), runs the kernel and signals its event -- with the
 * error if any step failed, so the error reaches whoever waits. */
#include "task.h"

#include <stdlib.h>
#include <string.h>

#include "allocator.h"
#include "device.h"
#include "prims_gen.h"

mx_task *mx_task_new(int n_in, int n_out, const int *ndims, int n_wait) {
  int n = n_in + n_out;
  size_t dims = 0;
  for (int i = 0; i < n; i++) dims += (size_t)ndims[i];
  size_t size = sizeof(mx_task) + (size_t)n_wait * sizeof(mx_event *) +
                (size_t)n * (sizeof(mx_buffer *) + sizeof(int64_t) + sizeof(mx_tensor)) +
                dims * (sizeof(int64_t) + sizeof(int32_t));
  mx_task *t = calloc(1, size);
  if (!t) return mx_fail(MX_ENOMEM, "[malloc] Unable to allocate %zu bytes.", size);
  char *p = (char *)(t + 1);
  t->tensors = (mx_tensor *)p;
  p += (size_t)n * sizeof(mx_tensor);
  t->offsets = (int64_t *)p;
  p += (size_t)n * sizeof(int64_t);
  int64_t *strides = (int64_t *)p;
  p += dims * sizeof(int64_t);
  t->bufs = (mx_buffer **)p;
  p += (size_t)n * sizeof(mx_buffer *);
  t->waits = (mx_event **)p;
  p += (size_t)n_wait * sizeof(mx_event *);
  int32_t *shapes = (int32_t *)p;
  for (int i = 0; i < n; i++) {
    t->tensors[i].ndim = ndims[i];
    t->tensors[i].strides = strides;
    t->tensors[i].shape = shapes;
    strides += ndims[i];
    shapes += ndims[i];
  }
  t->n_in = n_in;
  t->n_out = n_out;
  return t;
}

void mx_task_free(mx_task *t) {
  if (!t) return;
  for (int i = 0; i < t->n_wait; i++) mx_event_release(t->waits[i]);
  for (int i = 0; i < t->n_in + t->n_out; i++) mx_buffer_release(t->bufs[i]);
  mx_params_release(t->params);
  mx_event_release(t->event);
  free(t);
}

/* Input i is one element of at most 8 bytes only on the host, and the device kernel takes
 * such inputs by value (DESIGN section 4). */
static bool host_scalar(const mx_task *t, int i) {
  const mx_buffer *b = t->bufs[i];
  if (b->nbytes > 8 || b->nbytes != (size_t)mx_dtype_size(t->tensors[i].dtype) ||
      t->offsets[i] != 0 || t->tensors[i].size == 0 || mx_buffer_valid_on(b, MX_MEM_DEVICE) ||
      !mx_buffer_valid_on(b, MX_MEM_HOST))
    return false;
  const mx_gpu_backend *g = mx_gpu();
  return g && g->host_scalars && g->host_scalars(t->prim);
}

static int run_kernel(mx_task *t, void *queue) {
  for (int i = 0; i < t->n_wait; i++) {
    /* work already queued on the same device stream runs first anyway */
    if (t->where == MX_MEM_DEVICE && queue && mx_event_stream(t->waits[i]) == t->stream &&
        !mx_event_done(t->waits[i]))
      continue;
    if (mx_event_wait(t->waits[i]) != 0) return -1;
  }
  for (int i = 0; i < t->n_in + t->n_out; i++) {
    mx_tensor *x = &t->tensors[i];
    char *base;
    if (i < t->n_in && t->where == MX_MEM_DEVICE && host_scalar(t, i)) {
      base = t->bufs[i]->host; /* a scalar goes to the kernel by value, never as a copy */
      x->flags |= MX_ON_HOST;
    } else {
      base = mx_buffer_data_on(t->bufs[i], t->where, queue);
    }
    if (!base) return -1;
    x->data = base + t->offsets[i] * mx_dtype_size(x->dtype);
  }
  if (!t->fn && t->n_in + t->n_out == 0) return 0; /* a join: only orders its waits */
  if (!t->fn)
    return mx_fail_int(MX_ERUNTIME, "[%s] has no %s implementation.", mx_prim_name(t->prim),
                       t->where == MX_MEM_DEVICE ? "GPU" : "CPU");
  mx_kernel_ctx ctx = {t->params, queue, 0};
  int rc = t->fn(&ctx, t->tensors, t->n_in, t->tensors + t->n_in, t->n_out);
  if (rc != 0 && mx_error_kind_get() == MX_OK)
    mx_fail(MX_ERUNTIME, "[%s] kernel failed.", mx_prim_name(t->prim));
  return rc;
}

int mx_task_launch(mx_task *t, void *queue) {
  mx_error_clear();
  mx_in_task = true; /* residency copies made here count as allocations inside the task */
  int rc = run_kernel(t, queue);
  mx_in_task = false;
  return rc;
}

void mx_task_run(mx_task *t, void *queue) { mx_task_finish(t, mx_task_launch(t, queue)); }

void mx_task_finish(mx_task *t, int rc) {
  /* release the buffers before signalling, so a waiter sees exact refcounts (donation) and
   * exact active memory */
  mx_event *e = t->event;
  t->event = NULL;
  mx_task_free(t);
  if (rc == 0) {
    mx_event_signal(e, MX_OK, NULL);
  } else {
    mx_event_signal(e, mx_error_kind_get(), mx_error_message());
    mx_error_clear();
  }
  mx_event_release(e);
}
