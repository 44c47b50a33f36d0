/* capi_private.h: how mlx-c handles map onto the core (DESIGN section 1): an mlx_array's ctx
 * is a small heap box owning one strong reference to a node; writing a result into a handle
 * that already holds a box swaps the node inside it. Errors go to the installed handler. The
 * other handle kinds are boxes too; capi_ops_gen.c and the src/capi files share them. */
#ifndef MX_CAPI_PRIVATE_H
#define MX_CAPI_PRIVATE_H

#include "mlx/c/mlx.h"
#include "../ops/ops.h"

typedef struct mx_capi_array_box {
  mx_array *node;
} mx_capi_array_box;

/* The node behind a handle (borrowed), or NULL + EINVAL "expected a non-empty mlx_array". */
mx_array *mx_capi_node(mlx_array a);
/* Stores a NEW node reference (stolen) into *res, allocating the box if empty.
 * NULL node: reports the pending core error through the handler; returns 1. Else 0. */
int mx_capi_set_array(mlx_array *res, mx_array *node_steal);
/* Reports the pending core error through the handler and returns 1. */
int mx_capi_report(const char *file, int line);
/* mlx_stream -> core stream; -1 + report on an empty handle. */
int mx_capi_stream(mlx_stream s, mx_stream *out);

/* ---- extensions (src/capi/array.c, error.c, vector.c, stream.c, random.c) ---- */

/* mx_capi_set_array reporting a failure at file:line (the generated wrapper's location). */
int mx_capi_set_array_at(mlx_array *res, mx_array *node_steal, const char *file, int line);
/* Sets the core error (kind, message) and reports it at file:line; returns 1. */
int mx_capi_fail(const char *file, int line, int kind, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Calls the installed handler with "<msg> at <file>:<line>" (no core error involved). */
void mx_capi_error_at(const char *file, int line, const char *msg);

/* Streams and devices are values in the core; their handles box a copy. */
typedef struct mx_capi_stream_box {
  mx_stream s;
} mx_capi_stream_box;
typedef struct mx_capi_device_box {
  mx_device d;
} mx_capi_device_box;
typedef struct mx_capi_string_box {
  char *data;  /* malloc'd, NUL-terminated */
} mx_capi_string_box;
/* mx_device of a handle; -1 + report on an empty handle. */
int mx_capi_device(mlx_device d, mx_device *out);
/* Writes a stream value into a handle (allocating the box if empty). 0, or 1 + report. */
int mx_capi_set_stream(mlx_stream *res, mx_stream s);
int mx_capi_set_device(mlx_device *res, mx_device d);
/* Stores a malloc'd string (stolen) into a handle. 0, or 1 + report. */
int mx_capi_set_string(mlx_string *res, char *text_steal);

/* A vector of arrays: strong references to nodes. */
typedef struct mx_capi_vector_array_box {
  mx_array **v;
  size_t n, cap;
} mx_capi_vector_array_box;
/* The nodes of a vector (borrowed, valid while the vector is unchanged) and their count;
 * -1 + report on an empty handle. */
int mx_capi_vector_nodes(mlx_vector_array v, mx_array *const **nodes, int *n);
/* Replaces the contents of *res (allocating the box if empty) with n NEW node references
 * (stolen, the pointer array is not). Any NULL node: releases all, reports, returns 1. */
int mx_capi_set_vector_at(mlx_vector_array *res, mx_array **nodes_steal, int n,
                          const char *file, int line);

/* Random keys of the C API (DESIGN section 3: the C API keeps its own key, per thread).
 * key may be empty: then a fresh sub-key is drawn from the calling thread's key sequence and
 * returned in *owned as well (the caller releases it); else the borrowed node of key. */
mx_array *mx_capi_key(mlx_array key, mx_array **owned);
/* The two rows of split(key) as (2,) keys: NEW references in *k0, *k1. 0 or -1 + error. */
int mx_capi_split_pair(mx_array *key, mx_stream s, mx_array **k0, mx_array **k1);

#endif
