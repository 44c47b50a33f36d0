/* array.h: the graph node (DESIGN section 1). What users hold (a Python mx.array, an
 * mlx-c mlx_array box) owns one strong reference to a node; rebinding a handle swaps it.
 *
 * Ownership: mx_* functions that return mx_array* return a NEW reference -- unless a scope
 * (scope.h) is open on this thread, in which case the scope owns it and mx_keep() makes
 * one that escapes. Arguments are BORROWED, except parameters whose names end in _steal.
 * A NULL argument means "an error is already set": ops return NULL at once. */
#ifndef MX_ARRAY_H
#define MX_ARRAY_H

#include "buffer.h"
#include "dtype.h"
#include "event.h"
#include "stream.h"

typedef struct mx_op mx_op;

typedef enum mx_status {
  MX_UNSCHEDULED = 0,
  MX_SCHEDULED,   /* buffer and layout known, producer may still run: wait on event */
  MX_AVAILABLE,
} mx_status;

enum {
  MX_ROW_CONTIG = 1u << 0,
  MX_COL_CONTIG = 1u << 1,
};

typedef struct mx_array {
  _Atomic int64_t refs;
  mx_dtype dtype;
  int32_t ndim;
  int32_t *shape;           /* -> shape_inline, or heap when ndim > MX_INLINE_DIMS */
  int64_t *strides;         /* elements; valid once scheduled */
  int64_t size;             /* product of shape */
  int64_t offset;           /* elements from the buffer start; valid once scheduled */
  mx_buffer *buf;           /* strong; set when scheduled */
  mx_event *event;          /* strong; while SCHEDULED */
  mx_op *op;                /* strong; NULL for leaves and once detached */
  int32_t out_index;        /* position among op's outputs */
  _Atomic uint8_t status;   /* mx_status */
  uint8_t flags;            /* MX_ROW_CONTIG | MX_COL_CONTIG, valid once scheduled */
  uint8_t tracer;           /* under a transformation: never detached */
  uint64_t visit;           /* graph-walk stamp, touched only under the graph lock */
  int32_t shape_inline[MX_INLINE_DIMS];
  int64_t strides_inline[MX_INLINE_DIMS];
} mx_array;

/* A node with no producer holding `buf` (retained) with row-contiguous layout: AVAILABLE. */
mx_array *mx_array_from_buffer(mx_buffer *buf, mx_dtype t, int ndim, const int32_t *shape);
/* Copies row-major host data of the given shape. */
mx_array *mx_array_from_data(const void *data, mx_dtype t, int ndim, const int32_t *shape);
/* 0-d arrays from C scalars (value converted to t). */
mx_array *mx_array_scalar_f64(double v, mx_dtype t);
/* Stores v converted to t (as mx_array_scalar_f64 would hold it) at dst (16 bytes suffice). */
void mx_dtype_store_f64(void *dst, mx_dtype t, double v);
mx_array *mx_array_scalar_i64(int64_t v, mx_dtype t);
mx_array *mx_array_scalar_u64(uint64_t v, mx_dtype t);
mx_array *mx_array_scalar_c64(float re, float im);

void mx_array_retain(mx_array *a);
/* Drops a reference; freeing is iterative, so a 10^6-node chain frees without recursion. */
void mx_array_release(mx_array *a);
static inline int64_t mx_array_refs(const mx_array *a) { return a->refs; }

static inline mx_status mx_array_status(const mx_array *a) { return (mx_status)a->status; }
static inline size_t mx_array_nbytes(const mx_array *a) {
  return (size_t)a->size * (size_t)mx_dtype_size(a->dtype);
}
/* Evaluates (if needed) and waits; 0 or -1 with the error. */
int mx_array_eval(mx_array *a);
/* Waits for a scheduled array's producer; 0 or -1 with the error. */
int mx_array_wait(mx_array *a);
/* Host pointer to the first element (offset applied) of an evaluated array; makes the host
 * mirror if needed. NULL + error if not evaluated or on failure. */
void *mx_array_host_data(mx_array *a);

/* Layout helpers. */
void mx_row_strides(int ndim, const int32_t *shape, int64_t *strides);
uint8_t mx_layout_flags(int ndim, const int32_t *shape, const int64_t *strides);
/* A bare UNSCHEDULED node (refs = 1) of the given type and shape; strides unset. */
mx_array *mx_array_alloc_node(mx_dtype t, int ndim, const int32_t *shape);
/* Takes a reference unless the node is already dying (refs == 0); for weak pointers. */
bool mx_array_try_retain(mx_array *a);
/* Product of dims with overflow check; -1 + EINVAL "[op] shape too large" on overflow. */
int64_t mx_shape_size(const char *op, int ndim, const int32_t *shape);

#endif
