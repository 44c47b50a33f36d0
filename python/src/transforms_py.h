/* transforms_py.h: the Python callable as a core closure, shared by the transformation
 * bindings (grad, vjp/jvp, vmap, custom_function, checkpoint, compile). The closure takes the
 * GIL, puts its input nodes (as mx.array objects) into copies of the argument trees, calls
 * the function and returns the arrays of the result tree; a Python exception raised inside
 * is kept in the payload and re-raised unchanged once the C call has returned. */
#ifndef MXPY_TRANSFORMS_PY_H
#define MXPY_TRANSFORMS_PY_H

#include "mxpy_internal.h"

#include "../../src/transforms/transforms.h"

typedef enum {
  MXPY_MODE_GRAD,            /* one scalar array */
  MXPY_MODE_VALUE_AND_GRAD,  /* an array, or a tuple whose first item is an array */
  MXPY_MODE_LIST,            /* an array or a list/tuple tree of arrays only (vjp, jvp) */
  MXPY_MODE_TREE,            /* any tree of arrays only (vmap) */
  MXPY_MODE_ANY,             /* any tree; non-array leaves are kept (compile, custom) */
} mxpy_call_mode;

typedef struct mxpy_closure {
  PyObject *fun;
  PyObject *args;          /* positional arguments (tuple) */
  PyObject *kwargs;        /* dict or NULL */
  const int *pos;          /* the trees args[pos[i]] take the inputs first, in order */
  int n_pos;
  PyObject *kw_names;      /* then the trees kwargs[kw_names[j]] (tuple or NULL) */
  mxpy_call_mode mode;
  const char *tag;         /* "grad", "vjp", "vmap", ... for messages */
  PyObject *value_out;     /* the function's last return value */
  PyObject *exc_type, *exc_value, *exc_tb; /* a Python error raised inside */
} mxpy_closure;

/* The mx_closure_fn: payload is an mxpy_closure. */
int mxpy_closure_call(void *payload, mx_array *const *in, int n_in, mx_array **out, int max_out,
                      int *n_out);
/* Drops value_out and any kept exception. */
void mxpy_closure_clear(mxpy_closure *p);
/* After a failed core call: re-raises the Python error kept by the closure, else the core's
 * error. Returns NULL. */
PyObject *mxpy_closure_raise(mxpy_closure *p);
/* Keeps the Python exception now set (if any) in p and records an empty core error, as the
 * closure does when the function raised. Returns -1. */
int mxpy_closure_keep_error(mxpy_closure *p);

/* Init hooks of the other transformation files, called by mxpy_transforms_init: each
 * readies its types and adds its functions to the module. 0 or -1. */
int mxpy_vmap_init(PyObject *m);

#endif
