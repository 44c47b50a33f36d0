/* convert_conv.h: the converter added for the convolution ops (tables/api.def section I):
 * conv_general's padding, given as an int, a sequence of ints (both sides) or a pair of int
 * sequences (low, high). Conventions of convert.h: 0 on success, -1 with a Python exception
 * set; on failure the caller has nothing to release. */
#ifndef MXPY_CONVERT_CONV_H
#define MXPY_CONVERT_CONV_H

#include "convert.h"

/* *lo holds *nlo ints and *hi *nhi ints: in storage (2 * cap ints: lo first, hi from
 * storage + cap) or in one malloc'd block returned in *heap. */
int mxpy_to_convpad(PyObject *o, int **lo, int *nlo, int **hi, int *nhi, int *storage, int cap,
                    int **heap);

#endif
