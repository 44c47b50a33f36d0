/* array.c: graph nodes -- construction of leaves, layout helpers, reference counting with
 * iterative release (a 10^6-node chain frees without recursion), and host data access.
 * The op record side lives in op.c; scheduling in eval.c. */
#include "array.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "eval.h"
#include "half.h"
#include "op.h"

void mx_row_strides(int ndim, const int32_t *shape, int64_t *strides) {
  /* unsigned: an empty array's other dims may multiply past int64 (the strides are unused) */
  uint64_t s = 1;
  for (int i = ndim - 1; i >= 0; i--) {
    strides[i] = (int64_t)s;
    s *= (uint64_t)(shape[i] > 0 ? shape[i] : 1);
  }
}

uint8_t mx_layout_flags(int ndim, const int32_t *shape, const int64_t *strides) {
  bool row = true, col = true;
  uint64_t s = 1; /* unsigned: see mx_row_strides */
  for (int i = ndim - 1; i >= 0; i--) {
    if (shape[i] != 1 && strides[i] != (int64_t)s) row = false;
    s *= (uint64_t)shape[i];
  }
  s = 1;
  for (int i = 0; i < ndim; i++) {
    if (shape[i] != 1 && strides[i] != (int64_t)s) col = false;
    s *= (uint64_t)shape[i];
  }
  if (s == 0) row = col = true;
  return (uint8_t)((row ? MX_ROW_CONTIG : 0) | (col ? MX_COL_CONTIG : 0));
}

int64_t mx_shape_size(const char *op, int ndim, const int32_t *shape) {
  bool empty = false;
  for (int i = 0; i < ndim; i++) {
    if (shape[i] < 0) {
      mx_fail(MX_EINVAL, "[%s] Negative dimensions are not allowed (got %d).", op, shape[i]);
      return -1;
    }
    empty |= shape[i] == 0;
  }
  if (empty) return 0; /* whatever the other dims, so the answer does not depend on their order */
  int64_t n = 1;
  for (int i = 0; i < ndim; i++) {
    if (n > INT64_MAX / 16 / shape[i]) {
      mx_fail(MX_EINVAL, "[%s] Shape is too large.", op);
      return -1;
    }
    n *= shape[i];
  }
  return n;
}

mx_array *mx_array_alloc_node(mx_dtype t, int ndim, const int32_t *shape) {
  mx_array *a = calloc(1, sizeof *a);
  if (!a) return mx_fail(MX_ENOMEM, "[malloc] Unable to allocate a node.");
  atomic_init(&a->refs, 1);
  a->dtype = t;
  if (ndim > MX_INLINE_DIMS) {
    /* shape and strides in one block, strides first for alignment */
    int64_t *blk = malloc((size_t)ndim * (sizeof(int64_t) + sizeof(int32_t)));
    if (!blk) {
      free(a);
      return mx_fail(MX_ENOMEM, "[malloc] Unable to allocate shape.");
    }
    a->strides = blk;
    a->shape = (int32_t *)(blk + ndim);
  } else {
    a->shape = a->shape_inline;
    a->strides = a->strides_inline;
  }
  a->ndim = ndim;
  if (ndim) memcpy(a->shape, shape, (size_t)ndim * sizeof(int32_t));
  uint64_t n = 1; /* unsigned: a 0 dim after huge ones must not overflow on the way */
  for (int i = 0; i < ndim; i++) n *= (uint64_t)shape[i];
  a->size = (int64_t)n;
  return a;
}

mx_array *mx_array_from_buffer(mx_buffer *buf, mx_dtype t, int ndim, const int32_t *shape) {
  if (mx_shape_size("array", ndim, shape) < 0) return NULL;
  mx_array *a = mx_array_alloc_node(t, ndim, shape);
  if (!a) return NULL;
  mx_buffer_retain(buf);
  a->buf = buf;
  mx_row_strides(ndim, shape, a->strides);
  a->flags = mx_layout_flags(ndim, shape, a->strides);
  atomic_store(&a->status, MX_AVAILABLE);
  return a;
}

mx_array *mx_array_from_data(const void *data, mx_dtype t, int ndim, const int32_t *shape) {
  int64_t n = mx_shape_size("array", ndim, shape);
  if (n < 0) return NULL;
  size_t nbytes = (size_t)n * (size_t)mx_dtype_size(t);
  mx_buffer *b = mx_buffer_alloc(nbytes, MX_MEM_HOST);
  if (!b) return NULL;
  if (nbytes && data) memcpy(b->host, data, nbytes);
  mx_array *a = mx_array_from_buffer(b, t, ndim, shape);
  mx_buffer_release(b);
  return a;
}

/* Writes v (given as double, int64, uint64 or complex) converted to t at dst. */
static void store_scalar(void *dst, mx_dtype t, double d, int64_t i, uint64_t u, int kind,
                         float im) {
  /* kind: 0 double, 1 int64, 2 uint64 */
  double dv = kind == 0 ? d : kind == 1 ? (double)i : (double)u;
  int64_t iv = kind == 0 ? (int64_t)d : kind == 1 ? i : (int64_t)u;
  uint64_t uv = kind == 0 ? (uint64_t)(int64_t)d : kind == 1 ? (uint64_t)i : u;
  switch (t) {
    case MX_BOOL: *(uint8_t *)dst = kind == 0 ? (d != 0.0 || im != 0.0f) : (iv != 0 || uv != 0); break;
    case MX_UINT8: *(uint8_t *)dst = (uint8_t)uv; break;
    case MX_UINT16: *(uint16_t *)dst = (uint16_t)uv; break;
    case MX_UINT32: *(uint32_t *)dst = (uint32_t)uv; break;
    case MX_UINT64: *(uint64_t *)dst = kind == 0 && d >= 9.2233720368547758e18 ? (uint64_t)d : uv; break;
    case MX_INT8: *(int8_t *)dst = (int8_t)iv; break;
    case MX_INT16: *(int16_t *)dst = (int16_t)iv; break;
    case MX_INT32: *(int32_t *)dst = (int32_t)iv; break;
    case MX_INT64: *(int64_t *)dst = iv; break;
    case MX_FLOAT16: *(uint16_t *)dst = mx_f32_to_f16((float)dv); break;
    case MX_BFLOAT16: *(uint16_t *)dst = mx_f32_to_bf16((float)dv); break;
    case MX_FLOAT32: *(float *)dst = (float)dv; break;
    case MX_FLOAT64: *(double *)dst = dv; break;
    case MX_COMPLEX64: {
      float *c = dst;
      c[0] = (float)dv;
      c[1] = im;
      break;
    }
    default: break;
  }
}

void mx_dtype_store_f64(void *dst, mx_dtype t, double v) { store_scalar(dst, t, v, 0, 0, 0, 0.0f); }

static mx_array *scalar(mx_dtype t, double d, int64_t i, uint64_t u, int kind, float im) {
  unsigned char tmp[16];
  store_scalar(tmp, t, d, i, u, kind, im);
  return mx_array_from_data(tmp, t, 0, NULL);
}

mx_array *mx_array_scalar_f64(double v, mx_dtype t) { return scalar(t, v, 0, 0, 0, 0.0f); }
mx_array *mx_array_scalar_i64(int64_t v, mx_dtype t) { return scalar(t, 0, v, 0, 1, 0.0f); }
mx_array *mx_array_scalar_u64(uint64_t v, mx_dtype t) { return scalar(t, 0, 0, v, 2, 0.0f); }
mx_array *mx_array_scalar_c64(float re, float im) { return scalar(MX_COMPLEX64, re, 0, 0, 0, im); }

void mx_array_retain(mx_array *a) {
  if (a) atomic_fetch_add_explicit(&a->refs, 1, memory_order_relaxed);
}

bool mx_array_try_retain(mx_array *a) {
  int64_t r = atomic_load(&a->refs);
  while (r > 0)
    if (atomic_compare_exchange_weak(&a->refs, &r, r + 1)) return true;
  return false;
}

/* ---- iterative release ---- */

typedef struct release_stack {
  mx_array **v;
  size_t n, cap;
  bool draining;
} release_stack;

static _Thread_local release_stack rs;
static pthread_key_t rs_key;
static pthread_once_t rs_once = PTHREAD_ONCE_INIT;

static void rs_free(void *p) {
  release_stack *r = p;
  free(r->v);
  r->v = NULL;
  r->n = r->cap = 0;
}

static void rs_key_init(void) { pthread_key_create(&rs_key, rs_free); }

static void free_node(mx_array *a) {
  if (a->op) {
    mx_op *op = a->op;
    mx_graph_lock();
    if (op->outputs[a->out_index] == a) op->outputs[a->out_index] = NULL;
    mx_graph_unlock();
    a->op = NULL;
    mx_op_release(op);
  }
  mx_buffer_release(a->buf);
  mx_event_release(a->event);
  if (a->shape != a->shape_inline) free(a->strides);
  free(a);
}

void mx_array_release(mx_array *a) {
  if (!a) return;
  int64_t old = atomic_fetch_sub_explicit(&a->refs, 1, memory_order_acq_rel);
  MX_ASSERT(old > 0);
  if (old != 1) return;
  if (rs.n == rs.cap) {
    size_t cap = rs.cap ? rs.cap * 2 : 64;
    mx_array **nv = realloc(rs.v, cap * sizeof *nv);
    if (!nv) { /* cannot defer: free now (recursion bounded by memory pressure only) */
      free_node(a);
      return;
    }
    if (!rs.v) { /* first use on this thread: free at thread exit */
      pthread_once(&rs_once, rs_key_init);
      pthread_setspecific(rs_key, &rs);
    }
    rs.v = nv;
    rs.cap = cap;
  }
  rs.v[rs.n++] = a;
  if (rs.draining) return;
  rs.draining = true;
  while (rs.n) free_node(rs.v[--rs.n]);
  rs.draining = false;
}

/* ---- evaluation helpers ---- */

int mx_array_wait(mx_array *a) {
  mx_status st = (mx_status)atomic_load_explicit(&a->status, memory_order_acquire);
  if (st == MX_AVAILABLE) return 0;
  if (st == MX_UNSCHEDULED) return mx_fail_int(MX_ERUNTIME, "[eval] Array has not been scheduled.");
  mx_graph_lock();
  mx_event *e = a->event;
  mx_event_retain(e);
  mx_graph_unlock();
  if (!e) return 0;
  int rc = mx_event_wait(e);
  mx_event_release(e);
  return rc;
}

int mx_array_eval(mx_array *a) {
  if (atomic_load_explicit(&a->status, memory_order_acquire) == MX_AVAILABLE) return 0;
  return mx_eval(&a, 1);
}

void *mx_array_host_data(mx_array *a) {
  if (mx_array_eval(a) != 0) return NULL;
  if (!a->buf) return mx_fail(MX_ERUNTIME, "[data] Array has no data.");
  char *base = mx_buffer_data(a->buf, MX_MEM_HOST);
  if (!base) return NULL;
  return base + a->offset * mx_dtype_size(a->dtype);
}
