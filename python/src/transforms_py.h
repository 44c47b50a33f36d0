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
  MXPY_MODE_FLAT,            /* an array or a flat list/tuple of arrays (export) */
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
} mxpy_closure;

/* The mx_closure_fn: payload is an mxpy_closure. */
int mxpy_closure_call(void *payload, mx_array *const *in, int n_in, mx_array **out, int max_out,
                      int *n_out);
/* Drops value_out. */
void mxpy_closure_clear(mxpy_closure *p);
/* After a failed core call: mxpy_raise_pending(p->tag). */
PyObject *mxpy_closure_raise(mxpy_closure *p);
/* mxpy_keep_error(). */
int mxpy_closure_keep_error(mxpy_closure *p);

/* Python callbacks run by the core (closures, custom rules) keep the exception they raised
 * with mxpy_keep_error (it also records an empty core error; returns -1); the entry point
 * that called the core re-raises it unchanged with mxpy_raise_pending, or the core's own
 * error when none was kept (returns NULL). mxpy_pending_clear drops a stale one. */
int mxpy_keep_error(void);
PyObject *mxpy_raise_pending(const char *tag);
void mxpy_pending_clear(void);

/* Drops a reference from any thread: at once when the GIL is held, else later on a Python
 * thread (the core releases objects wherever the last node dies, possibly under the graph
 * lock). mxpy_release_pending_objects runs the deferred releases now (GIL held). */
void mxpy_decref_anywhere(PyObject *o);
void mxpy_release_pending_objects(void);

/* Init hooks of the other transformation files, called by mxpy_transforms_init: each
 * readies its types and adds its functions to the module. 0 or -1. */
int mxpy_vmap_init(PyObject *m);
int mxpy_custom_init(PyObject *m);
int mxpy_compile_init(PyObject *m);
int mxpy_export_init(PyObject *m);
/* Describes every trace of e to the Python callable cb as MLX's export_function does with a
 * callback (export_callback_py.c). 0 or -1 + exception. */
int mxpy_export_to_callback(PyObject *cb, const mx_exported *e);

#endif
