/* eval.c: the scheduler (DESIGN sections 3 and 5). Under the graph lock an iterative
 * depth-first walk orders the unscheduled nodes; each op is then scheduled: views are
 * resolved in place, everything else gets output buffers (donated when allowed), an event
 * and a compute task on its stream. Scheduled nodes are detached so intermediates free as
 * the walk goes; at most MX_MAX_IN_FLIGHT tasks are outstanding, and scheduling waits while
 * active memory is over the memory limit. */
#include "eval.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "allocator.h"
#include "device.h"
#include "error.h"
#include "prim.h"
#include "task.h"

#define MX_MAX_IN_FLIGHT 10
/* The last nodes of a walk may be launched by the evaluating thread itself (an idle device
 * stream, stream.c); earlier ones go to the stream's worker, which launches them while the
 * walk goes on. */
#define MX_LAUNCH_HERE_TAIL 4

static pthread_mutex_t graph_mu = PTHREAD_MUTEX_INITIALIZER;
static _Thread_local int lock_depth;
static uint64_t visit_stamp; /* under graph_mu */
static _Thread_local int trace_depth;

void mx_graph_lock(void) {
  if (lock_depth++ == 0) pthread_mutex_lock(&graph_mu);
}

void mx_graph_unlock(void) {
  MX_ASSERT(lock_depth > 0);
  if (--lock_depth == 0) pthread_mutex_unlock(&graph_mu);
}

static _Thread_local int shapeless_depth;
bool mx_trace_shapeless(void) { return shapeless_depth > 0; }
void mx_trace_shapeless_push(void) { shapeless_depth++; }
void mx_trace_shapeless_pop(void) {
  MX_ASSERT(shapeless_depth > 0);
  shapeless_depth--;
}

int mx_trace_depth(void) { return trace_depth; }
void mx_trace_push(void) { trace_depth++; }
void mx_trace_pop(void) {
  MX_ASSERT(trace_depth > 0);
  trace_depth--;
}

/* ---- small growable vectors ---- */

typedef struct node_vec {
  mx_array **v;
  size_t n, cap;
} node_vec;

static int vec_push(node_vec *s, mx_array *a) {
  if (s->n == s->cap) {
    size_t cap = s->cap ? s->cap * 2 : 256;
    mx_array **nv = realloc(s->v, cap * sizeof *nv);
    if (!nv) return mx_fail_int(MX_ENOMEM, "[eval] Unable to grow the walk.");
    s->v = nv;
    s->cap = cap;
  }
  s->v[s->n++] = a;
  return 0;
}

typedef struct frame {
  mx_array *node;
  int next;
} frame;

/* Post-order of the UNSCHEDULED nodes reachable from outs; each entry retained. */
static int topo_order(mx_array *const *outs, int n, node_vec *order) {
  uint64_t stamp = ++visit_stamp;
  frame *stack = NULL;
  size_t sn = 0, scap = 0;
  int rc = 0;
  for (int i = 0; i < n && rc == 0; i++) {
    mx_array *root = outs[i];
    if (!root || atomic_load(&root->status) != MX_UNSCHEDULED || root->visit == stamp) continue;
    root->visit = stamp;
    if (sn == scap) {
      scap = scap ? scap * 2 : 256;
      frame *ns = realloc(stack, scap * sizeof *ns);
      if (!ns) {
        rc = mx_fail_int(MX_ENOMEM, "[eval] Unable to grow the walk.");
        break;
      }
      stack = ns;
    }
    stack[sn++] = (frame){root, 0};
    while (sn && rc == 0) {
      frame *f = &stack[sn - 1];
      mx_op *op = f->node->op;
      if (op && f->next < op->n_in) {
        mx_array *in = op->inputs[f->next++];
        if (atomic_load(&in->status) == MX_UNSCHEDULED && in->visit != stamp) {
          in->visit = stamp;
          if (sn == scap) {
            scap *= 2;
            frame *ns = realloc(stack, scap * sizeof *ns);
            if (!ns) {
              rc = mx_fail_int(MX_ENOMEM, "[eval] Unable to grow the walk.");
              break;
            }
            stack = ns;
          }
          stack[sn++] = (frame){in, 0};
        }
        continue;
      }
      mx_array_retain(f->node);
      if (vec_push(order, f->node) != 0) {
        mx_array_release(f->node);
        rc = -1;
      }
      sn--;
    }
  }
  free(stack);
  return rc;
}

/* ---- donation (DESIGN section 5) ---- */

typedef struct eval_ctx {
  mx_array *const *outs;
  int n_outs;
  mx_event *ring[MX_MAX_IN_FLIGHT];
  int ring_n, ring_head;
  bool walk_tail; /* the node being scheduled is among the walk's last few */
} eval_ctx;

static bool is_eval_output(const eval_ctx *c, const mx_array *a) {
  for (int i = 0; i < c->n_outs; i++)
    if (c->outs[i] == a) return true;
  return false;
}

static bool donatable(const eval_ctx *c, mx_array *in, const mx_array *out, mx_mem_where where) {
  mx_buffer *b = in->buf;
  return b && mx_array_refs(in) == 1 && mx_buffer_refs(b) == 1 &&
         !(atomic_load(&b->flags) & (MX_BUF_NEVER_DONATE | MX_BUF_IMMORTAL)) &&
         mx_dtype_size(in->dtype) == mx_dtype_size(out->dtype) && in->size == out->size &&
         (in->flags & MX_ROW_CONTIG) && in->offset == 0 &&
         b->nbytes == (size_t)out->size * (size_t)mx_dtype_size(out->dtype) &&
         (atomic_load(&in->status) == MX_AVAILABLE ||
          (in->event && mx_event_done(in->event) && !mx_event_failed(in->event))) &&
         mx_buffer_valid_on(b, where) &&
         !is_eval_output(c, in);
}

/* ---- scheduling one op ---- */

static void set_scheduled(mx_array *a, mx_event *e) {
  mx_event_retain(e);
  mx_event_release(a->event);
  a->event = e;
  atomic_store_explicit(&a->status, e ? MX_SCHEDULED : MX_AVAILABLE, memory_order_release);
}

/* Events the task must wait for: producers of inputs still running. */
static int collect_waits(mx_op *op, mx_event **waits) {
  int n = 0;
  for (int i = 0; i < op->n_in; i++) {
    mx_array *in = op->inputs[i];
    mx_event *e = atomic_load(&in->status) == MX_SCHEDULED ? in->event : NULL;
    if (!e) continue;
    if (mx_event_done(e) && !mx_event_failed(e)) continue;
    bool dup = false;
    for (int j = 0; j < n; j++) dup |= waits[j] == e;
    if (!dup) waits[n++] = e;
  }
  return n;
}

static void fill_tensor(mx_task *t, int slot, const mx_array *a, mx_buffer *buf) {
  mx_tensor *x = &t->tensors[slot];
  x->dtype = a->dtype;
  if (a->ndim) {
    memcpy((int32_t *)x->shape, a->shape, (size_t)a->ndim * sizeof(int32_t));
    memcpy((int64_t *)x->strides, a->strides, (size_t)a->ndim * sizeof(int64_t));
  }
  x->size = a->size;
  x->flags = a->flags;
  t->offsets[slot] = a->offset;
  mx_buffer_retain(buf);
  t->bufs[slot] = buf;
}

static mx_mem_where stream_where(mx_stream s) { return s.device.type == MX_GPU ? MX_MEM_DEVICE : MX_MEM_HOST; }

static int schedule_op(eval_ctx *c, mx_op *op, mx_event **made) {
  const mx_prim_vt *vt = &mx_prims[op->prim];
  mx_array *out[64];
  mx_array **outs = op->n_out <= 64 ? out : malloc((size_t)op->n_out * sizeof *outs);
  if (!outs) return mx_fail_int(MX_ENOMEM, "[eval] out of memory.");
  for (int k = 0; k < op->n_out; k++) {
    mx_array *o = op->outputs[k];
    outs[k] = (o && mx_array_try_retain(o)) ? o : NULL;
  }
  int rc = 0;
  *made = NULL;
  mx_mem_where where = stream_where(op->stream);

  if (vt->view && vt->view(op, op->inputs, outs)) {
    mx_event *e = NULL;
    if (op->n_in == 1) {
      e = atomic_load(&op->inputs[0]->status) == MX_SCHEDULED ? op->inputs[0]->event : NULL;
      for (int k = 0; k < op->n_out; k++)
        if (outs[k]) set_scheduled(outs[k], e);
      goto done;
    }
    /* several inputs (Depends): a join task with no kernel orders the outputs after all */
    mx_event *waits[64];
    int n_wait = op->n_in <= 64 ? collect_waits(op, waits) : 0;
    if (n_wait == 0) {
      for (int k = 0; k < op->n_out; k++)
        if (outs[k]) set_scheduled(outs[k], NULL);
      goto done;
    }
    e = mx_event_new();
    mx_task *t = e ? mx_task_new(0, 0, NULL, n_wait) : NULL;
    if (!t) {
      mx_event_release(e);
      rc = -1;
      goto done;
    }
    t->prim = op->prim;
    t->fn = NULL;
    t->where = where;
    t->stream = op->stream.index;
    mx_event_set_stream(e, op->stream.index);
    t->n_wait = n_wait;
    for (int j = 0; j < n_wait; j++) {
      mx_event_retain(waits[j]);
      t->waits[j] = waits[j];
    }
    mx_event_retain(e);
    t->event = e;
    for (int k = 0; k < op->n_out; k++)
      if (outs[k]) set_scheduled(outs[k], e);
    mx_stream_submit(op->stream, t, c->walk_tail);
    *made = e;
    goto done;
  }

  /* compute: buffers first (nothing is touched until every allocation succeeded) */
  mx_kernel_fn fn = NULL;
  if (where == MX_MEM_HOST) fn = vt->eval_cpu;
  else if (mx_gpu()) fn = mx_gpu()->kernel(op->prim);
  if (!fn) {
    rc = mx_fail_int(MX_ERUNTIME, "[%s] has no %s implementation.", mx_prim_name(op->prim),
                     where == MX_MEM_DEVICE ? "GPU" : "CPU");
    goto done;
  }
  mx_buffer *bufs[64];
  mx_buffer **ob = op->n_out <= 64 ? bufs : calloc((size_t)op->n_out, sizeof *ob);
  if (!ob) {
    rc = mx_fail_int(MX_ENOMEM, "[eval] out of memory.");
    goto done;
  }
  bool used[64] = {false};
  for (int k = 0; k < op->n_out; k++) {
    ob[k] = NULL;
    mx_dtype odt = outs[k] ? outs[k]->dtype : op->out_specs[k].dtype;
    int64_t osize = 1;
    if (outs[k]) {
      osize = outs[k]->size;
    } else { /* a freed sibling: the kernel still writes it, into scratch */
      for (int d = 0; d < op->out_specs[k].ndim; d++) osize *= op->out_specs[k].shape[d];
    }
    size_t nbytes = (size_t)osize * (size_t)mx_dtype_size(odt);
    if ((vt->flags & MX_PF_DONATE) && outs[k]) {
      int n_donors = (vt->flags & MX_PF_DONATE_FIRST) ? 1 : op->n_in;
      for (int i = 0; i < n_donors && i < 64; i++) {
        if (!used[i] && donatable(c, op->inputs[i], outs[k], where)) {
          used[i] = true;
          ob[k] = op->inputs[i]->buf;
          mx_buffer_retain(ob[k]);
          mx_buffer_invalidate_others(ob[k], where);
          break;
        }
      }
    }
    if (!ob[k]) ob[k] = mx_buffer_alloc(nbytes, where);
    if (!ob[k]) {
      for (int j = 0; j < k; j++) mx_buffer_release(ob[j]);
      rc = -1;
      break;
    }
  }
  if (rc != 0) {
    if (ob != bufs) free(ob);
    goto done;
  }
  mx_event *waits[64];
  mx_event **wv = op->n_in <= 64 ? waits : malloc((size_t)op->n_in * sizeof *wv);
  int n_wait = wv ? collect_waits(op, wv) : 0;
  int ndims_small[64];
  int n_t = op->n_in + op->n_out;
  int *ndims = n_t <= 64 ? ndims_small : malloc((size_t)n_t * sizeof(int));
  mx_event *e = mx_event_new();
  mx_task *t = NULL;
  if (ndims && e && wv) {
    for (int i = 0; i < op->n_in; i++) ndims[i] = op->inputs[i]->ndim;
    for (int k = 0; k < op->n_out; k++)
      ndims[op->n_in + k] = outs[k] ? outs[k]->ndim : op->out_specs[k].ndim;
    t = mx_task_new(op->n_in, op->n_out, ndims, n_wait);
  }
  if (!t) {
    for (int k = 0; k < op->n_out; k++) mx_buffer_release(ob[k]);
    mx_event_release(e);
    rc = mx_fail_int(MX_ENOMEM, "[eval] out of memory.");
  } else {
    t->prim = op->prim;
    t->fn = fn;
    t->where = where;
    t->stream = op->stream.index;
    mx_event_set_stream(e, op->stream.index);
    t->params = op->params;
    mx_params_retain(op->params);
    t->n_wait = n_wait;
    for (int j = 0; j < n_wait; j++) {
      mx_event_retain(wv[j]);
      t->waits[j] = wv[j];
    }
    for (int i = 0; i < op->n_in; i++) fill_tensor(t, i, op->inputs[i], op->inputs[i]->buf);
    for (int k = 0; k < op->n_out; k++) {
      mx_array *o = outs[k];
      if (o) {
        o->buf = ob[k]; /* the node takes the allocation's reference */
        o->offset = 0;
        mx_row_strides(o->ndim, o->shape, o->strides);
        o->flags = mx_layout_flags(o->ndim, o->shape, o->strides);
        fill_tensor(t, op->n_in + k, o, ob[k]);
      } else {
        const mx_out_spec *sp = &op->out_specs[k];
        mx_tensor *x = &t->tensors[op->n_in + k];
        x->dtype = sp->dtype;
        if (sp->ndim) memcpy((int32_t *)x->shape, sp->shape, (size_t)sp->ndim * sizeof(int32_t));
        mx_row_strides(sp->ndim, sp->shape, (int64_t *)x->strides);
        x->size = 1;
        for (int d = 0; d < sp->ndim; d++) x->size *= sp->shape[d];
        x->flags = MX_ROW_CONTIG;
        t->bufs[op->n_in + k] = ob[k]; /* the task takes the scratch reference */
      }
    }
    mx_event_retain(e);
    t->event = e;
    for (int k = 0; k < op->n_out; k++)
      if (outs[k]) set_scheduled(outs[k], e);
    mx_stream_submit(op->stream, t, c->walk_tail);
    *made = e;
  }
  if (ndims && ndims != ndims_small) free(ndims);
  if (wv && wv != waits) free(wv);
  if (ob != bufs) free(ob);
done:
  for (int k = 0; k < op->n_out; k++) mx_array_release(outs[k]);
  if (outs != out) free(outs);
  return rc;
}

/* Drops the op record from every output of op (they keep their data). */
static void detach(mx_op *op) {
  mx_op_retain(op);
  for (int k = 0; k < op->n_out; k++) {
    mx_array *o = op->outputs[k];
    if (o && o->op == op && !o->tracer && mx_array_try_retain(o)) {
      o->op = NULL;
      op->outputs[k] = NULL;
      mx_op_release(op);
      mx_array_release(o);
    }
  }
  mx_op_release(op);
}

static void ring_wait_oldest(eval_ctx *c) {
  mx_event *e = c->ring[c->ring_head];
  c->ring_head = (c->ring_head + 1) % MX_MAX_IN_FLIGHT;
  c->ring_n--;
  mx_event_wait(e); /* a task error is raised later by whoever waits on its outputs */
  mx_error_clear();
  mx_event_release(e);
}

static void ring_push(eval_ctx *c, mx_event *e) {
  if (!e) return;
  if (c->ring_n == MX_MAX_IN_FLIGHT) ring_wait_oldest(c);
  c->ring[(c->ring_head + c->ring_n) % MX_MAX_IN_FLIGHT] = e; /* takes e's reference */
  c->ring_n++;
}

static int schedule(mx_array *const *outs, int n) {
  node_vec order = {0};
  eval_ctx c = {outs, n, {0}, 0, 0, false};
  mx_graph_lock();
  int rc = topo_order(outs, n, &order);
  /* a node with neither data nor producer is a transformation's placeholder */
  for (size_t j = 0; rc == 0 && j < order.n; j++) {
    mx_array *a = order.v[j];
    if (a->op || atomic_load(&a->status) != MX_UNSCHEDULED) continue;
    if (a->tracer)
      rc = mx_fail_int(MX_EINVAL, "[eval] Attempting to eval an array during function "
                                  "transformations like compile or vmap is not allowed.");
    else
      rc = mx_fail_int(MX_ERUNTIME, "[eval] Attempting to eval an array without a primitive.");
  }
  size_t i = 0;
  for (; rc == 0 && i < order.n; i++) {
    mx_array *a = order.v[i];
    if (atomic_load(&a->status) == MX_UNSCHEDULED && a->op) {
      while (c.ring_n > 0 && mx_memory_active() > mx_memory_limit()) ring_wait_oldest(&c);
      mx_op *op = a->op;
      mx_event *made = NULL;
      c.walk_tail = order.n - i <= MX_LAUNCH_HERE_TAIL;
      rc = schedule_op(&c, op, &made);
      if (rc == 0) {
        ring_push(&c, made);
        detach(op);
      }
    }
    mx_array_release(a);
    order.v[i] = NULL;
  }
  for (; i < order.n; i++) mx_array_release(order.v[i]);
  free(order.v);
  mx_graph_unlock();
  while (c.ring_n) {
    mx_event_release(c.ring[c.ring_head]);
    c.ring_head = (c.ring_head + 1) % MX_MAX_IN_FLIGHT;
    c.ring_n--;
  }
  return rc;
}

int mx_eval(mx_array *const *outs, int n) {
  if (schedule(outs, n) != 0) return -1;
  for (int i = 0; i < n; i++)
    if (outs[i] && mx_array_wait(outs[i]) != 0) return -1;
  return 0;
}

int mx_async_eval(mx_array *const *outs, int n) {
  for (int i = 0; i < n && mx_trace_depth() > 0; i++) /* tracers carry the flag of any input */
    if (outs[i] && outs[i]->tracer && atomic_load(&outs[i]->status) != MX_AVAILABLE)
      return mx_fail_int(MX_EINVAL, "[async_eval] Not allowed inside a graph transformation.");
  return schedule(outs, n);
}
