/* mxpy_internal.h: what the hand-written parts of the mlx.core extension share among
 * themselves (module init hooks, type objects, tree walking, evaluation without the GIL).
 * Depends on convert.h (array object, converters) and the core headers; not used by the
 * generated bindings, which see only convert.h. */
#ifndef MXPY_INTERNAL_H
#define MXPY_INTERNAL_H

#include "convert.h"

#include "eval.h"
#include "error.h"

/* ---- per-file init hooks, called by PyInit_core in this order; 0 or -1 + exception ---- */
int mxpy_dtype_init(PyObject *m);
int mxpy_stream_init(PyObject *m);
int mxpy_array_init(PyObject *m);         /* merges mxpy_array_methods_gen into the type */
int mxpy_eval_init(PyObject *m);
int mxpy_transforms_init(PyObject *m);
int mxpy_random_init(PyObject *m, PyObject *random_module);
int mxpy_random_dist_init(PyObject *random_module); /* random_dist_py.c: permutation */
int mxpy_distributed_init(PyObject *m, PyObject *distributed_module); /* distributed_py.c */
int mxpy_fast_init(PyObject *m, PyObject *fast_module);   /* fast_py.c */

/* Method tables of the hand-written top-level functions (NULL-terminated). */
extern PyMethodDef mxpy_dtype_methods[];
extern PyMethodDef mxpy_stream_methods[];
extern PyMethodDef mxpy_eval_methods[];
extern PyMethodDef mxpy_transforms_methods[];
extern PyMethodDef mxpy_random_methods[];
extern PyMethodDef mxpy_creation_methods[]; /* full, full_like, arange, asarray (creation_py.c) */

/* Resets the calling thread's random state (clear_streams does this). */
void mxpy_random_reset_thread(void);

/* ---- arrays ---- */
/* The node of an mx.array object, retained (caller releases), or NULL + RuntimeError for an
 * object whose __init__ never ran. o must be an mx.array. */
mx_array *mxpy_array_node_retained(PyObject *o);
/* Borrowed node or NULL + RuntimeError (same condition). */
mx_array *mxpy_array_node(PyObject *o);
/* Replaces the node of an mx.array object (the rebinding of a += 1, a[i] = v); steals. */
void mxpy_array_rebind(PyObject *o, mx_array *node_steal);
/* Evaluates a (retained by the caller) with the GIL released; 0 or -1 + Python exception. */
int mxpy_eval_nogil(mx_array *a);
/* Evaluates and returns the host pointer of the first element with the GIL released;
 * NULL + Python exception. A size-0 array yields a non-NULL dummy pointer. */
void *mxpy_host_data_nogil(mx_array *a);
/* Python scalar from one element at p. */
PyObject *mxpy_scalar_from_ptr(const void *p, mx_dtype t);
/* x.item(): evaluates (GIL released); ValueError unless size 1. */
PyObject *mxpy_array_item(PyObject *self);

/* Hooks the array type calls into (array_index.c, array_number.c, array_buffer.c). */
PyObject *mxpy_array_getitem(PyObject *self, PyObject *idx);
int mxpy_array_setitem(PyObject *self, PyObject *idx, PyObject *value);
/* x.at (the ArrayAt helper) and the ArrayAt type's registration (array_index.c). */
PyObject *mxpy_array_get_at(PyObject *self, void *closure);
int mxpy_index_init(PyObject *m);
/* mx.searchsorted (searchsorted_py.c), added by mxpy_index_init. */
int mxpy_searchsorted_init(PyObject *m);
/* Sub-array i along axis 0 (no bounds check beyond the caller's). New node or NULL. */
mx_array *mxpy_index_axis0(mx_array *a, int64_t i);
extern PyNumberMethods mxpy_array_as_number;
PyObject *mxpy_array_richcompare(PyObject *a, PyObject *b, int op);
extern PyBufferProcs mxpy_array_as_buffer;
extern PyMethodDef mxpy_array_buffer_methods[]; /* __array__, pickling, copies */
extern PyMethodDef mxpy_array_number_methods[]; /* __complex__ */
extern PyMethodDef mxpy_array_dlpack_methods[]; /* __dlpack__, __dlpack_device__ */
/* Copies the elements of a strided view (nd dims, element strides, elements of esz bytes)
 * into dst in row-major order (array_buffer.c). */
void mxpy_copy_row_major(char *dst, const char *src, size_t esz, int nd, const int32_t *shape,
                         const int64_t *strides);
extern PyMethodDef mxpy_dlpack_methods[];       /* from_dlpack */

/* ---- trees: nested list/tuple/dict of leaves (tree_py.c) ---- */
/* Appends every mx.array leaf of tree to `arrays` (a list); other leaves are ignored unless
 * strict, where they raise ValueError naming `op`. 0 or -1. */
int mxpy_tree_collect(PyObject *tree, PyObject *arrays, bool strict, const char *op);
/* A copy of tree whose k-th mx.array leaf is replaced by replacements[*index + k] (a
 * sequence); *index counts leaves consumed. New reference or NULL. */
PyObject *mxpy_tree_replace(PyObject *tree, PyObject *replacements, Py_ssize_t *index);
/* The tree with every array replaced by the slot object (mxpy_tree_slot), so it keeps no
 * array alive; *n_arrays (may be NULL) gets their number. New reference or NULL. */
PyObject *mxpy_tree_structure(PyObject *tree, Py_ssize_t *n_arrays);
/* A copy of a structure whose slots (and arrays) take replacements[*index ...] in order. */
PyObject *mxpy_tree_fill_slots(PyObject *structure, PyObject *replacements, Py_ssize_t *index);
/* The unique object marking an array's place in a structure (borrowed). */
PyObject *mxpy_tree_slot(void);
/* In place: the mx.array leaves of tree become replacements[*index ...] in order, until the
 * replacements run out; tuples holding arrays are rebuilt inside their parent list/dict (a
 * tuple at the top of the tree cannot be: ValueError naming op). 0 or -1. */
int mxpy_tree_fill(PyObject *tree, PyObject *replacements, Py_ssize_t *index, const char *op);
/* Retained nodes of a list of mx.array objects (PyMem); free with mxpy_nodes_free. */
mx_array **mxpy_nodes_from_list(PyObject *list, int *n);
/* Releases the non-NULL entries and frees the vector. */
void mxpy_nodes_free(mx_array **nodes, int n);
/* A list wrapping nodes[0..n) (stolen, slots cleared even on failure). */
PyObject *mxpy_list_from_nodes(mx_array **nodes, int n);

/* ---- devices and streams (stream_py.c) ---- */
PyObject *mxpy_device_object(mx_device d);  /* new reference */
PyObject *mxpy_stream_object(mx_stream s);  /* new reference */
/* Device, DeviceType or (type, index) -> mx_device. 0 or -1 + TypeError. */
int mxpy_device_from_object(PyObject *o, mx_device *out);

/* ---- dtypes (dtype_py.c) ---- */
extern PyTypeObject mxpy_dtype_type;
#define MXPY_IS_DTYPE(o) PyObject_TypeCheck((o), &mxpy_dtype_type)

/* ---- small helpers ---- */
/* Sets the Python exception for a failed core call (the core error, or a RuntimeError
 * when the core recorded none); returns NULL. */
PyObject *mxpy_raise_or_runtime(const char *what);

#endif
