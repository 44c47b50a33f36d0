/* convert_ext.h: the converters added to the fixed set of convert.h for the shape, layout and
 * product ops (tables/api.def section D documents their C arguments): strings, optional ints,
 * int-or-sequence parameters that remember which form they were given in, pad widths,
 * tensordot axes, and positional *arrays. Same conventions as convert.h: 0 on success, -1
 * with a Python exception set; on failure the caller has nothing to release. */
#ifndef MXPY_CONVERT_EXT_H
#define MXPY_CONVERT_EXT_H

#include "convert.h"

/* A str -> its UTF-8 text (borrowed from o, valid while o lives). */
int mxpy_to_str(PyObject *o, const char **out);
/* An int or a sequence of ints; *scalar says which (an int gives one element); None gives
 * *n = -1 (for parameters defaulting to None). Storage rules of mxpy_to_axes. */
int mxpy_to_ints(PyObject *o, int **v, int *n, int *storage, int cap, int **heap, bool *scalar);
/* pad_width: int, (int,), (int, int) -> one (low, high) pair; a sequence of (low, high) pairs
 * -> one per entry. *v holds 2 * *n ints; storage has room for cap pairs. */
int mxpy_to_pairs(PyObject *o, int32_t **v, int *n, int32_t *storage, int cap, int32_t **heap);
/* tensordot axes: an int (*scalar, *ival) or a sequence of two int sequences, stored one after
 * the other in *v (*n ints in all, the first *split of them for a). */
int mxpy_to_tdaxes(PyObject *o, int *ival, bool *scalar, int **v, int *n, int *split, int *storage,
                   int cap, int **heap);
/* Positional arguments of a *arrays parameter: NEW references in (*v)[0..n). */
int mxpy_to_array_args(PyObject *const *args, Py_ssize_t nargs, mx_array ***v, int *n,
                       mx_array **storage, int cap, mx_array ***heap);

#endif
