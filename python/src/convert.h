/* convert.h: the fixed set of argument converters the generated bindings use (DESIGN
 * section 2), the Python array object, and error translation at the boundary.
 * Python errors are raised here and nowhere deeper: core errors (core/error.h) become
 * ValueError / TypeError / IndexError / RuntimeError by kind. */
#ifndef MXPY_CONVERT_H
#define MXPY_CONVERT_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "../../src/ops/ops.h"

typedef struct mxpy_array {
  PyObject_HEAD
  mx_array *node;           /* strong; rebinding (a += 1, a[i] = v) swaps it */
  PyObject *weakrefs;
  int64_t exports;          /* live buffer-protocol exports */
} mxpy_array;

extern PyTypeObject *mxpy_array_type;
#define MXPY_IS_ARRAY(o) PyObject_TypeCheck((o), mxpy_array_type)

/* Wraps a node (stolen). NULL node: raises the pending core error, returns NULL. */
PyObject *mxpy_array_wrap(mx_array *a_steal);
/* Raises the pending core error as the matching Python exception; returns NULL. */
PyObject *mxpy_raise(void);
/* -1 version for int-returning glue. */
int mxpy_raise_int(void);

/* ---- converters: each returns 0 on success, -1 with a Python exception set ---- */
/* Anything MLX accepts as an array: mx.array, Python scalar, nested list/tuple, NumPy or
 * buffer-protocol object, object with __mlx_array__. New reference in *out. */
int mxpy_to_array(PyObject *o, mx_array **out);
/* Weak-scalar conversion of n operands together (spec/semantics.md section 2.2): Python
 * scalars take the dtype of the array operands. New references in out[0..n). */
int mxpy_to_weak_arrays(PyObject *const *objs, int n, mx_array **out);
/* dtype objects (mx.float32 ...). */
int mxpy_to_dtype(PyObject *o, mx_dtype *out);
/* None -> default stream of the default device; Stream, Device, DeviceType, ThreadLocalStream. */
int mxpy_to_stream(PyObject *o, mx_stream *out);
/* Axis lists: None -> *n = -1; int -> one axis; sequence of ints. storage has room for
 * `cap` ints; longer lists are malloc'd into *heap (caller frees). */
int mxpy_to_axes(PyObject *o, int **axes, int *n, int *storage, int cap, int **heap);
/* Shapes: int or sequence of ints -> int32 dims (same storage rules as axes). */
int mxpy_to_shape(PyObject *o, int32_t **shape, int *n, int32_t *storage, int cap,
                  int32_t **heap);
int mxpy_to_int(PyObject *o, int *out);
int mxpy_to_bool(PyObject *o, bool *out);
int mxpy_to_double(PyObject *o, double *out);

/* Python objects of the module made by the hand-written parts. */
PyObject *mxpy_dtype_object(mx_dtype t);            /* borrowed mx.<dtype> object */

/* ---- provided by the hand-written parts (dtype_py.c, stream_py.c, random_py.c) ---- */
/* An mx.Dtype object -> *out; anything else: TypeError. 0 or -1. */
int mxpy_dtype_from_object(PyObject *o, mx_dtype *out);
/* None (default stream of the default device), Stream, Device, DeviceType (its device's
 * default stream) or ThreadLocalStream (resolved for the calling thread). 0 or -1. */
int mxpy_stream_from_object(PyObject *o, mx_stream *out);
/* Draws a key from this thread's mx.random.state (spec/semantics.md 7.1): the state becomes
 * sub-key 0 of split(state) and *out (new reference) is sub-key 1. Lazily seeded from
 * milliseconds since the epoch. Needs the GIL. 0 or -1 + Python exception. */
int mxpy_random_next_key(mx_array **out);

/* ---- extensions (convert.c) ----
 * Conventions of every converter here: a NULL object means "argument not passed" and is
 * accepted wherever None is (mxpy_to_stream, mxpy_to_axes); on failure the caller has
 * nothing to release (array out pointers NULL, heap pointers NULL); mxpy_to_weak_arrays
 * leaves every out[i] NULL on failure. */

/* uint64 (random.key seeds): a non-negative int. */
int mxpy_to_uint64(PyObject *o, uint64_t *out);
/* One array-like (*single = true, *n = 1) or a list/tuple of array-likes: NEW references in
 * (*v)[0..n). storage has room for cap; longer lists are malloc'd into *heap (the caller
 * releases the arrays, then frees *heap). */
int mxpy_to_array_list(PyObject *o, mx_array ***v, int *n, mx_array **storage, int cap,
                       mx_array ***heap, bool *single);
/* mx.array(o, dtype): like mxpy_to_array, but Python scalars, nested lists and buffers are
 * converted straight to t (float64 keeps full precision); mx.arrays are cast (mx_astype). */
int mxpy_to_array_dtype(PyObject *o, mx_dtype t, mx_array **out);
/* *args of array methods (x.reshape(2, 3) or x.reshape((2, 3)); x.transpose(1, 0)): one
 * sequence argument or several ints. No arguments: shape () / axes None (*n = -1). */
int mxpy_to_shape_args(PyObject *const *args, Py_ssize_t nargs, int32_t **shape, int *n,
                       int32_t *storage, int cap, int32_t **heap);
int mxpy_to_axes_args(PyObject *const *args, Py_ssize_t nargs, int **axes, int *n,
                      int *storage, int cap, int **heap);

/* ---- argument parsing of the generated bindings (METH_FASTCALL | METH_KEYWORDS) ---- */
typedef struct mxpy_sig {
  const char *name;           /* in messages: "sum", "array.sum" */
  int nparams;                /* named parameters (a *args parameter is not counted) */
  int npos;                   /* leading parameters that may be passed positionally */
  int nposonly;               /* leading parameters that must be passed positionally */
  uint32_t required;          /* bit i: parameter i has no default */
  int varargs;                /* 1: positional arguments belong to a *args parameter */
  const char *const *names;   /* nparams names */
  PyObject **interned;        /* nparams slots, filled by mxpy_sig_intern (or lazily) */
} mxpy_sig;
/* Matches args/kwnames to parameters: out[i] = the argument of parameter i (borrowed) or
 * NULL when not passed. Raises TypeError as CPython does for a bad call (too many
 * positional arguments, unexpected / duplicate / positional-only keywords, missing
 * arguments). Keywords are compared as interned pointers first, then as strings. 0 or -1. */
int mxpy_parse_args(const mxpy_sig *sig, PyObject *const *args, Py_ssize_t nargs,
                    PyObject *kwnames, PyObject **out);
/* Interns sig's keyword names now (mxpy_parse_args does it on first keyword use). 0 or -1. */
int mxpy_sig_intern(const mxpy_sig *sig);

#endif
