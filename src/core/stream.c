/* stream.c: devices, streams and their worker threads (DESIGN section 3, spec/semantics.md
 * section 6). Each stream is a FIFO of tasks run by one worker; streams live in a global
 * registry indexed by mx_stream.index. Default streams are per thread and per device;
 * new_stream streams may only be used by the thread that made them. On an asynchronous
 * device the last tasks of a walk may be launched by the evaluating thread, and a thread
 * waiting for a device task completes it itself (docs/architecture.md, deviation 18). */
#include "stream.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "allocator.h"
#include "device.h"
#include "error.h"
#include "task.h"

typedef struct stream_impl {
  mx_stream s;
  mx_stream_kind kind;
  pthread_t owner;
  pthread_t thread;
  bool started;
  bool stop;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  mx_task *head, *tail;
  mx_event *last;           /* event of the last task submitted */
  void *queue;              /* GPU backend queue */
  /* asynchronous devices: launched tasks wait here for their token, in order */
  pthread_t completer;
  bool completer_started;
  pthread_cond_t done_cv;
  mx_task *done_head, *done_tail;
  bool launching;           /* a thread holds a task it has not handed on yet */
  bool completing;          /* a thread is waiting for a launched task's token */
  int helpers;              /* threads completing tasks here while they wait for one */
} stream_impl;

static pthread_mutex_t reg_mu = PTHREAD_MUTEX_INITIALIZER;
static stream_impl **registry;
static int32_t reg_n, reg_cap;
static _Atomic int32_t next_tls_id;
static mx_device default_device;
static bool default_device_set;
static _Atomic uint64_t generation = 1; /* bumped in a forked child: thread state is stale */

/* Per-thread state: default streams, streams this thread made, thread-local stream map. */
typedef struct thread_streams {
  uint64_t gen;
  int32_t deflt[2];
  int32_t *mine;
  int n_mine, cap_mine;
  int32_t *tls_map; /* tls id -> stream index */
  int n_tls;
} thread_streams;

static _Thread_local thread_streams tl;
static pthread_key_t exit_key;
static pthread_once_t exit_once = PTHREAD_ONCE_INIT;

static void thread_exit(void *arg);
static void make_exit_key(void) { pthread_key_create(&exit_key, thread_exit); }

static thread_streams *ts(void) {
  uint64_t g = atomic_load(&generation);
  if (tl.gen != g) {
    tl.gen = g;
    tl.deflt[0] = tl.deflt[1] = -1;
    tl.n_mine = 0;
    tl.n_tls = 0;
    pthread_once(&exit_once, make_exit_key);
    pthread_setspecific(exit_key, &tl);
  }
  return &tl;
}

/* ---- devices ---- */

bool mx_device_equal(mx_device a, mx_device b) { return a.type == b.type && a.index == b.index; }

int mx_device_count(mx_device_type t) {
  if (t == MX_CPU) return 1;
  const mx_gpu_backend *g = mx_gpu();
  return g ? g->device_count() : 0;
}

bool mx_device_is_available(mx_device d) {
  return d.index >= 0 && d.index < mx_device_count((mx_device_type)d.type);
}

mx_device mx_default_device(void) {
  pthread_mutex_lock(&reg_mu);
  if (!default_device_set) {
    pthread_mutex_unlock(&reg_mu);
    mx_device d = {mx_device_count(MX_GPU) > 0 ? MX_GPU : MX_CPU, 0};
    pthread_mutex_lock(&reg_mu);
    if (!default_device_set) {
      default_device = d;
      default_device_set = true;
    }
  }
  mx_device d = default_device;
  pthread_mutex_unlock(&reg_mu);
  return d;
}

int mx_set_default_device(mx_device d) {
  if (!mx_device_is_available(d))
    return mx_fail_int(MX_EINVAL, "[set_default_device] Device %s:%d is not available.",
                       d.type == MX_GPU ? "gpu" : "cpu", d.index);
  pthread_mutex_lock(&reg_mu);
  default_device = d;
  default_device_set = true;
  pthread_mutex_unlock(&reg_mu);
  return 0;
}

/* ---- workers ---- */

static bool async_device(const stream_impl *st) {
  return st->queue && mx_gpu() && mx_gpu()->record;
}

static _Thread_local bool gpu_thread_ready;

static void gpu_thread(void) {
  if (!gpu_thread_ready && mx_gpu()->thread_init) mx_gpu()->thread_init();
  gpu_thread_ready = true;
}

/* Completes a task claimed by claim_launched: waits for its token, then releases its buffers
 * and signals its event (with the device's error, if any). Called and returns with st->mu
 * held; releases it meanwhile. */
static void complete(stream_impl *st, mx_task *t) {
  pthread_mutex_unlock(&st->mu);
  void *token = t->next_token;
  int rc = mx_gpu()->wait(token);
  mx_gpu()->token_free(token);
  mx_task_finish(t, rc);
  pthread_mutex_lock(&st->mu);
  st->completing = false;
}

/* Pops the oldest launched task for completion, or NULL; the caller holds st->mu. One thread
 * completes at a time, so tasks finish in launch order; the completer thread stands aside
 * while a waiting thread completes them itself. */
static mx_task *claim_launched(stream_impl *st, bool completer) {
  mx_task *t = st->completing || (completer && st->helpers) ? NULL : st->done_head;
  if (!t) return NULL;
  st->done_head = t->next;
  if (!st->done_head) st->done_tail = NULL;
  st->completing = true;
  return t;
}

/* Asynchronous devices: completes launched tasks in launch order. */
static void *completer_main(void *arg) {
  stream_impl *st = arg;
  gpu_thread();
  pthread_mutex_lock(&st->mu);
  for (;;) {
    mx_task *t = claim_launched(st, true);
    if (!t) {
      if (st->stop && !st->head && !st->launching && !st->done_head && !st->completing) break;
      pthread_cond_wait(&st->done_cv, &st->mu);
      continue;
    }
    complete(st, t);
  }
  pthread_mutex_unlock(&st->mu);
  return NULL;
}

/* Launches t's kernels (the caller set st->launching), records their token and hands t to
 * the completion queue; clears st->launching. */
static void launch(stream_impl *st, mx_task *t) {
  int rc = mx_task_launch(t, st->queue);
  void *token = rc == 0 ? mx_gpu()->record(st->queue) : NULL;
  if (rc != 0 || !token) {
    if (rc == 0) mx_fail(MX_ERUNTIME, "[stream] could not record a device event.");
    mx_task_finish(t, -1);
    t = NULL;
  }
  pthread_mutex_lock(&st->mu);
  if (t) {
    t->next = NULL;
    t->next_token = token;
    if (st->done_tail) st->done_tail->next = t;
    else st->done_head = t;
    st->done_tail = t;
  }
  st->launching = false;
  pthread_cond_signal(&st->done_cv);
  if (st->head) pthread_cond_signal(&st->cv);
  pthread_mutex_unlock(&st->mu);
}

static void *worker_main(void *arg) {
  stream_impl *st = arg;
  bool async = async_device(st);
  if (async) gpu_thread();
  for (;;) {
    pthread_mutex_lock(&st->mu);
    while ((!st->head || st->launching) && !st->stop) pthread_cond_wait(&st->cv, &st->mu);
    mx_task *t = st->launching ? NULL : st->head;
    if (!t) {
      pthread_mutex_unlock(&st->mu);
      break;
    }
    st->head = t->next;
    if (!st->head) st->tail = NULL;
    st->launching = async;
    pthread_mutex_unlock(&st->mu);
    if (async) launch(st, t);
    else mx_task_run(t, st->queue);
  }
  return NULL;
}

static stream_impl *lookup(int32_t index) {
  pthread_mutex_lock(&reg_mu);
  stream_impl *st = (index >= 0 && index < reg_n) ? registry[index] : NULL;
  pthread_mutex_unlock(&reg_mu);
  return st;
}

static int32_t create_stream(mx_device d, mx_stream_kind kind) {
  stream_impl *st = calloc(1, sizeof *st);
  if (!st) return -1;
  st->kind = kind;
  st->owner = pthread_self();
  pthread_mutex_init(&st->mu, NULL);
  pthread_cond_init(&st->cv, NULL);
  pthread_cond_init(&st->done_cv, NULL);
  if (d.type == MX_GPU && mx_gpu() && mx_gpu()->queue_new) st->queue = mx_gpu()->queue_new();
  pthread_mutex_lock(&reg_mu);
  if (reg_n == reg_cap) {
    int32_t cap = reg_cap ? reg_cap * 2 : 16;
    stream_impl **nr = realloc(registry, (size_t)cap * sizeof *nr);
    if (!nr) {
      pthread_mutex_unlock(&reg_mu);
      free(st);
      return -1;
    }
    registry = nr;
    reg_cap = cap;
  }
  st->s.index = reg_n;
  st->s.device = d;
  registry[reg_n++] = st;
  pthread_mutex_unlock(&reg_mu);
  thread_streams *t = ts();
  if (t->n_mine == t->cap_mine) {
    int cap = t->cap_mine ? t->cap_mine * 2 : 8;
    int32_t *nm = realloc(t->mine, (size_t)cap * sizeof *nm);
    if (nm) {
      t->mine = nm;
      t->cap_mine = cap;
    }
  }
  if (t->n_mine < t->cap_mine) t->mine[t->n_mine++] = st->s.index;
  return st->s.index;
}

static void start_worker(stream_impl *st) {
  /* caller holds st->mu */
  if (st->started) return;
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, (size_t)8 << 20);
  if (pthread_create(&st->thread, &attr, worker_main, st) == 0) st->started = true;
  if (st->started && async_device(st) &&
      pthread_create(&st->completer, &attr, completer_main, st) == 0)
    st->completer_started = true;
  pthread_attr_destroy(&attr);
}

/* A device task whose waits are all met (or queued before it on its own stream) can be
 * launched without blocking. */
static bool ready_to_launch(const mx_task *t) {
  for (int i = 0; i < t->n_wait; i++)
    if (!mx_event_done(t->waits[i]) && mx_event_stream(t->waits[i]) != t->stream) return false;
  return true;
}

void mx_stream_submit(mx_stream s, mx_task *t, bool may_launch_here) {
  stream_impl *st = lookup(s.index);
  if (!st) st = lookup(mx_default_stream(s.device).index); /* its thread cleared it */
  MX_ASSERT(st != NULL);
  t->next = NULL;
  pthread_mutex_lock(&st->mu);
  start_worker(st);
  if (!st->started) {
    pthread_mutex_unlock(&st->mu);
    mx_task_run(t, st->queue); /* no thread could be made: run inline */
    return;
  }
  mx_event_retain(t->event);
  mx_event_release(st->last);
  st->last = t->event;
  /* an idle asynchronous stream: launching here saves waking the worker */
  if (may_launch_here && async_device(st) && !st->head && !st->launching && t->stream == st->s.index &&
      ready_to_launch(t)) {
    st->launching = true;
    pthread_mutex_unlock(&st->mu);
    gpu_thread();
    bool in_task = mx_in_task;
    launch(st, t);
    mx_in_task = in_task;
    return;
  }
  if (st->tail) st->tail->next = t;
  else st->head = t;
  st->tail = t;
  pthread_cond_signal(&st->cv);
  pthread_mutex_unlock(&st->mu);
}

void mx_stream_help_complete(int32_t index, mx_event *e) {
  stream_impl *st = lookup(index);
  if (!st || !async_device(st)) return;
  gpu_thread();
  pthread_mutex_lock(&st->mu);
  st->helpers++;
  /* no sleeping here: while this thread sleeps, the completer must not stand aside */
  mx_task *t;
  while (!mx_event_done(e) && (t = claim_launched(st, false))) complete(st, t);
  st->helpers--;
  if (st->done_head || st->stop) pthread_cond_signal(&st->done_cv);
  pthread_mutex_unlock(&st->mu);
}

static int sync_impl(stream_impl *st) {
  pthread_mutex_lock(&st->mu);
  mx_event *e = st->last;
  mx_event_retain(e);
  pthread_mutex_unlock(&st->mu);
  if (!e) return 0;
  int rc = mx_event_wait_unreported(e);
  mx_event_release(e);
  if (rc == 0 && st->queue && mx_gpu()->queue_finish) rc = mx_gpu()->queue_finish(st->queue);
  return rc;
}

static void destroy_stream(int32_t index) {
  pthread_mutex_lock(&reg_mu);
  stream_impl *st = (index >= 0 && index < reg_n) ? registry[index] : NULL;
  if (st) registry[index] = NULL;
  pthread_mutex_unlock(&reg_mu);
  if (!st) return;
  pthread_mutex_lock(&st->mu);
  st->stop = true;
  pthread_cond_signal(&st->cv);
  bool started = st->started, completer = st->completer_started;
  pthread_mutex_unlock(&st->mu);
  if (started) pthread_join(st->thread, NULL);
  if (completer) {
    pthread_mutex_lock(&st->mu);
    pthread_cond_signal(&st->done_cv);
    pthread_mutex_unlock(&st->mu);
    pthread_join(st->completer, NULL);
  }
  mx_event_release(st->last);
  if (st->queue) mx_gpu()->queue_free(st->queue);
  pthread_mutex_destroy(&st->mu);
  pthread_cond_destroy(&st->cv);
  pthread_cond_destroy(&st->done_cv);
  free(st);
}

/* ---- streams ---- */

bool mx_stream_equal(mx_stream a, mx_stream b) { return a.index == b.index; }

mx_stream mx_default_stream(mx_device d) {
  thread_streams *t = ts();
  int slot = d.type == MX_GPU ? 1 : 0;
  if (t->deflt[slot] < 0 || !lookup(t->deflt[slot])) t->deflt[slot] = create_stream(d, MX_STREAM_DEFAULT);
  mx_stream s = {t->deflt[slot], d};
  return s;
}

int mx_set_default_stream(mx_stream s) {
  stream_impl *st = lookup(s.index);
  if (!st) return mx_fail_int(MX_EINVAL, "[set_default_stream] Invalid stream %d.", s.index);
  ts()->deflt[s.device.type == MX_GPU ? 1 : 0] = s.index;
  return 0;
}

static mx_stream make_stream(mx_device d, mx_stream_kind kind) {
  mx_stream s = {create_stream(d, kind), d};
  return s;
}

mx_stream mx_new_stream(mx_device d) { return make_stream(d, MX_STREAM_OWNED); }
mx_stream mx_new_thread_unsafe_stream(mx_device d) { return make_stream(d, MX_STREAM_THREAD_UNSAFE); }

/* ThreadLocalStream ids encode the device in the low bit. */
int32_t mx_new_thread_local_stream_id(mx_device d) {
  return (atomic_fetch_add(&next_tls_id, 1) << 1) | (d.type == MX_GPU ? 1 : 0);
}

mx_stream mx_thread_local_stream_resolve(int32_t id) {
  thread_streams *t = ts();
  int slot = id >> 1;
  mx_device d = {(id & 1) ? MX_GPU : MX_CPU, 0};
  if (slot >= t->n_tls) {
    int32_t *nm = realloc(t->tls_map, (size_t)(slot + 1) * sizeof *nm);
    if (nm) {
      for (int i = t->n_tls; i <= slot; i++) nm[i] = -1;
      t->tls_map = nm;
      t->n_tls = slot + 1;
    }
  }
  if (slot < t->n_tls) {
    if (t->tls_map[slot] < 0 || !lookup(t->tls_map[slot]))
      t->tls_map[slot] = create_stream(d, MX_STREAM_THREAD_LOCAL);
    mx_stream s = {t->tls_map[slot], d};
    return s;
  }
  return mx_default_stream(d);
}

int mx_stream_check_usable(mx_stream s) {
  stream_impl *st = lookup(s.index);
  if (!st) return mx_fail_int(MX_ERUNTIME, "[stream] Stream %d does not exist (it was cleared).", s.index);
  if (st->kind == MX_STREAM_OWNED && !pthread_equal(st->owner, pthread_self()))
    return mx_fail_int(MX_ERUNTIME,
                       "[stream] Stream %d was created by another thread and cannot be used on "
                       "this one; use mx.new_thread_local_stream or mx.new_thread_unsafe_stream.",
                       s.index);
  if (s.device.type == MX_GPU && !mx_device_is_available(s.device))
    return mx_fail_int(MX_ERUNTIME, "[stream] No GPU device is available.");
  return 0;
}

int mx_synchronize(mx_stream s) {
  stream_impl *st = lookup(s.index);
  if (!st) return 0;
  return sync_impl(st);
}

void mx_synchronize_all(void) {
  pthread_mutex_lock(&reg_mu);
  int32_t n = reg_n;
  pthread_mutex_unlock(&reg_mu);
  for (int32_t i = 0; i < n; i++) {
    stream_impl *st = lookup(i);
    if (st) {
      sync_impl(st);
      mx_error_clear();
    }
  }
}

void mx_clear_streams(void) {
  thread_streams *t = ts();
  for (int i = 0; i < t->n_mine; i++) destroy_stream(t->mine[i]);
  t->n_mine = 0;
  t->deflt[0] = t->deflt[1] = -1;
  for (int i = 0; i < t->n_tls; i++) t->tls_map[i] = -1;
}

static void thread_exit(void *arg) {
  thread_streams *t = arg;
  if (t->gen != atomic_load(&generation)) return;
  for (int i = 0; i < t->n_mine; i++) destroy_stream(t->mine[i]);
  free(t->mine);
  free(t->tls_map);
  t->mine = NULL;
  t->tls_map = NULL;
  t->n_mine = t->cap_mine = t->n_tls = 0;
}

/* In a forked child the workers do not exist: forget every stream and thread state. */
static void after_fork_child(void) {
  pthread_mutex_init(&reg_mu, NULL);
  registry = NULL;
  reg_n = reg_cap = 0;
  atomic_fetch_add(&generation, 1);
  tl.mine = NULL;
  tl.tls_map = NULL;
  tl.cap_mine = 0;
}

__attribute__((constructor)) static void stream_init(void) {
  pthread_atfork(NULL, NULL, after_fork_child);
  atexit(mx_synchronize_all);
}
