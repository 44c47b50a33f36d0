/* array_buffer.c: mx.array's host-memory exports: the buffer protocol (evaluates, then
 * exposes the host copy read-only with byte strides; bfloat16 is refused), __array__ for
 * NumPy, pickling as (NumPy array, dtype number) with bfloat16 as uint16 bits, and
 * __copy__/__deepcopy__. NumPy is imported lazily and only where a NumPy object is made. */
#include "mxpy_internal.h"

#include <string.h>

/* struct-module format of each dtype; NULL where none exists (bfloat16). */
static const char *buffer_format(mx_dtype t) {
  switch (t) {
    case MX_BOOL: return "?";
    case MX_UINT8: return "B";
    case MX_UINT16: return "H";
    case MX_UINT32: return "I";
    case MX_UINT64: return "Q";
    case MX_INT8: return "b";
    case MX_INT16: return "h";
    case MX_INT32: return "i";
    case MX_INT64: return "q";
    case MX_FLOAT16: return "e";
    case MX_FLOAT32: return "f";
    case MX_FLOAT64: return "d";
    case MX_COMPLEX64: return "Zf";
    default: return NULL;
  }
}

/* NumPy dtype name of each dtype (bfloat16 travels as its uint16 bits). */
static const char *numpy_name(mx_dtype t) {
  switch (t) {
    case MX_BOOL: return "bool";
    case MX_BFLOAT16: return "uint16";
    default: return mx_dtype_name(t);
  }
}

/* ------------------------------------------------------------------------------------ */
/* buffer protocol                                                                       */

typedef struct {
  mx_array *node;       /* retained: the exported value outlives a rebinding of the object */
  Py_ssize_t dims[];    /* shape (ndim) then byte strides (ndim) */
} export_info;

/* Evaluated node of self, copied to row-major layout if `need_contig` and it is not. */
static mx_array *evaluated_node(PyObject *self, bool need_contig, void **data) {
  mx_array *a = mxpy_array_node_retained(self);
  if (!a) return NULL;
  *data = mxpy_host_data_nogil(a);
  if (!*data) goto fail;
  if (need_contig && a->size > 0 && !(a->flags & MX_ROW_CONTIG)) {
    mx_array *c = mx_copy(a, mx_stream_default());
    mx_array_release(a);
    if (!c) {
      mxpy_raise_or_runtime("buffer");
      return NULL;
    }
    a = c;
    *data = mxpy_host_data_nogil(a);
    if (!*data) goto fail;
    if (!(a->flags & MX_ROW_CONTIG)) {
      PyErr_SetString(PyExc_BufferError, "[buffer] could not make the array contiguous");
      goto fail;
    }
  }
  return a;
fail:
  mx_array_release(a);
  return NULL;
}

static int array_getbuffer(PyObject *self, Py_buffer *view, int flags) {
  memset(view, 0, sizeof *view);
  mx_array *n = mxpy_array_node(self);
  if (!n) return -1;
  const char *fmt = buffer_format(n->dtype);
  if (!fmt) {
    PyErr_SetString(PyExc_BufferError,
                    "[buffer] bfloat16 arrays cannot be exported through the buffer protocol; "
                    "cast to float32 (or view as uint16) first.");
    return -1;
  }
  if (flags & PyBUF_WRITABLE) {
    PyErr_SetString(PyExc_BufferError, "[buffer] mlx arrays are read-only.");
    return -1;
  }
  bool with_strides = (flags & PyBUF_STRIDES) == PyBUF_STRIDES;
  bool need_contig = !with_strides || (flags & PyBUF_ANY_CONTIGUOUS) == PyBUF_ANY_CONTIGUOUS ||
                     (flags & PyBUF_C_CONTIGUOUS) == PyBUF_C_CONTIGUOUS ||
                     (flags & PyBUF_F_CONTIGUOUS) == PyBUF_F_CONTIGUOUS;
  void *data;
  mx_array *a = evaluated_node(self, need_contig, &data);
  if (!a) return -1;
  if ((flags & PyBUF_F_CONTIGUOUS) == PyBUF_F_CONTIGUOUS && a->ndim > 1 &&
      !(a->flags & MX_COL_CONTIG)) {
    mx_array_release(a);
    PyErr_SetString(PyExc_BufferError, "[buffer] mlx arrays are exported in row-major order.");
    return -1;
  }
  export_info *info = PyMem_Malloc(sizeof(export_info) + 2 * sizeof(Py_ssize_t) * (size_t)a->ndim);
  if (!info) {
    mx_array_release(a);
    PyErr_NoMemory();
    return -1;
  }
  Py_ssize_t isz = mx_dtype_size(a->dtype);
  info->node = a;
  for (int i = 0; i < a->ndim; i++) {
    info->dims[i] = a->shape[i];
    info->dims[a->ndim + i] = (Py_ssize_t)a->strides[i] * isz;
  }
  view->obj = Py_NewRef(self);
  view->buf = data;
  view->len = (Py_ssize_t)mx_array_nbytes(a);
  view->itemsize = isz;
  view->readonly = 1;
  view->ndim = a->ndim;
  view->format = (flags & PyBUF_FORMAT) ? (char *)fmt : NULL;
  view->shape = (flags & PyBUF_ND) == PyBUF_ND ? info->dims : NULL;
  view->strides = with_strides ? info->dims + a->ndim : NULL;
  view->internal = info;
  ((mxpy_array *)self)->exports++;
  return 0;
}

static void array_releasebuffer(PyObject *self, Py_buffer *view) {
  export_info *info = view->internal;
  if (info) {
    mx_array_release(info->node);
    PyMem_Free(info);
    view->internal = NULL;
  }
  ((mxpy_array *)self)->exports--;
}

PyBufferProcs mxpy_array_as_buffer = {
    .bf_getbuffer = array_getbuffer,
    .bf_releasebuffer = array_releasebuffer,
};

/* ------------------------------------------------------------------------------------ */
/* NumPy                                                                                 */

static PyObject *import_numpy(const char *what) {
  PyObject *np = PyImport_ImportModule("numpy");
  if (!np) {
    PyErr_Clear();
    PyErr_Format(PyExc_ImportError, "[%s] NumPy is required for this operation.", what);
  }
  return np;
}

static PyObject *array_dunder_array(PyObject *self, PyObject *args, PyObject *kwds) {
  static char *kwlist[] = {"dtype", "copy", NULL};
  PyObject *dtype = Py_None, *copy = Py_None;
  if (!PyArg_ParseTupleAndKeywords(args, kwds, "|OO:__array__", kwlist, &dtype, &copy))
    return NULL;
  mx_array *n = mxpy_array_node(self);
  if (!n) return NULL;
  if (n->dtype == MX_BFLOAT16) {
    PyErr_SetString(PyExc_ValueError,
                    "[__array__] bfloat16 arrays cannot be converted to NumPy; cast to float32 "
                    "first.");
    return NULL;
  }
  PyObject *np = import_numpy("__array__");
  if (!np) return NULL;
  PyObject *out = NULL, *mv = PyMemoryView_FromObject(self);
  if (mv) {
    out = PyObject_CallMethod(np, copy == Py_False ? "asarray" : "array", "O", mv);
    Py_DECREF(mv);
  }
  if (out && dtype != Py_None) {
    PyObject *cast = PyObject_CallMethod(out, "astype", "O", dtype);
    Py_DECREF(out);
    out = cast;
  }
  Py_DECREF(np);
  return out;
}

void mxpy_copy_row_major(char *dst, const char *src, size_t esz, int nd, const int32_t *shape,
                         const int64_t *strides) {
  int64_t n = 1;
  for (int d = 0; d < nd; d++) n *= shape[d];
  if (n == 0) return;
  int64_t idx_small[MX_INLINE_DIMS], *idx = idx_small;
  if (nd > MX_INLINE_DIMS) idx = calloc((size_t)nd, sizeof(int64_t));
  if (!idx) return;
  memset(idx, 0, sizeof(int64_t) * (size_t)(nd > 0 ? nd : 1));
  int64_t off = 0;
  for (int64_t e = 0; e < n; e++) {
    memcpy(dst + (size_t)e * esz, src + off * (int64_t)esz, esz);
    for (int k = nd - 1; k >= 0; k--) { /* odometer increment */
      idx[k]++;
      off += strides[k];
      if (idx[k] < shape[k]) break;
      off -= strides[k] * shape[k];
      idx[k] = 0;
    }
  }
  if (idx != idx_small) free(idx);
}

/* Row-major copy of an evaluated array's elements into dst. */
static void copy_row_major(char *dst, const char *src, const mx_array *a) {
  size_t isz = (size_t)mx_dtype_size(a->dtype);
  if (a->size == 0) return;
  if (a->flags & MX_ROW_CONTIG) {
    memcpy(dst, src, (size_t)a->size * isz);
    return;
  }
  mxpy_copy_row_major(dst, src, isz, a->ndim, a->shape, a->strides);
}

static PyObject *array_getstate(PyObject *self, PyObject *unused) {
  void *data;
  mx_array *a = evaluated_node(self, false, &data);
  if (!a) return NULL;
  PyObject *np = NULL, *bytes = NULL, *flat = NULL, *shape = NULL, *arr = NULL, *out = NULL;
  np = import_numpy("__getstate__");
  if (!np) goto done;
  bytes = PyByteArray_FromStringAndSize(NULL, (Py_ssize_t)mx_array_nbytes(a));
  if (!bytes) goto done;
  copy_row_major(PyByteArray_AS_STRING(bytes), data, a);
  flat = PyObject_CallMethod(np, "frombuffer", "Os", bytes, numpy_name(a->dtype));
  if (!flat) goto done;
  shape = PyTuple_New(a->ndim);
  if (!shape) goto done;
  for (int i = 0; i < a->ndim; i++) PyTuple_SET_ITEM(shape, i, PyLong_FromLong(a->shape[i]));
  arr = PyObject_CallMethod(flat, "reshape", "O", shape);
  if (!arr) goto done;
  out = Py_BuildValue("(Oi)", arr, (int)a->dtype);
done:
  Py_XDECREF(arr);
  Py_XDECREF(shape);
  Py_XDECREF(flat);
  Py_XDECREF(bytes);
  Py_XDECREF(np);
  mx_array_release(a);
  return out;
}

/* state = (C-contiguous buffer object, dtype number); a bare array-like is also accepted. */
static PyObject *array_setstate(PyObject *self, PyObject *state) {
  mx_array *node = NULL;
  if (PyTuple_Check(state) && PyTuple_GET_SIZE(state) == 2 &&
      PyLong_Check(PyTuple_GET_ITEM(state, 1))) {
    long code = PyLong_AsLong(PyTuple_GET_ITEM(state, 1));
    if (code < 0 || code >= MX_DTYPE_COUNT) {
      PyErr_SetString(PyExc_ValueError, "[__setstate__] invalid dtype number");
      return NULL;
    }
    mx_dtype t = (mx_dtype)code;
    Py_buffer view;
    if (PyObject_GetBuffer(PyTuple_GET_ITEM(state, 0), &view, PyBUF_C_CONTIGUOUS) < 0)
      return NULL;
    int32_t shape_small[MX_INLINE_DIMS], *shape = shape_small;
    if (view.ndim > MX_INLINE_DIMS) shape = PyMem_Malloc(sizeof(int32_t) * (size_t)view.ndim);
    if (!shape) {
      PyBuffer_Release(&view);
      return PyErr_NoMemory();
    }
    int64_t count = 1;
    for (int i = 0; i < view.ndim; i++) {
      shape[i] = (int32_t)view.shape[i];
      count *= view.shape[i];
    }
    if (view.ndim == 0) count = view.len / (view.itemsize > 0 ? view.itemsize : 1);
    if (count * mx_dtype_size(t) != view.len) {
      PyErr_SetString(PyExc_ValueError, "[__setstate__] data size does not match the dtype");
    } else {
      node = mx_array_from_data(view.buf, t, view.ndim, shape);
      if (!node) mxpy_raise_or_runtime("__setstate__");
    }
    if (shape != shape_small) PyMem_Free(shape);
    PyBuffer_Release(&view);
    if (!node) return NULL;
  } else if (mxpy_to_array(state, &node) < 0) {
    return NULL;
  }
  mxpy_array_rebind(self, node);
  Py_RETURN_NONE;
}

/* (copyreg.__newobj__, (type,), state): unpickling makes an empty object and calls
 * __setstate__, for every pickle protocol (0 and 1 included). */
static PyObject *array_reduce(PyObject *self, PyObject *unused) {
  PyObject *copyreg = PyImport_ImportModule("copyreg");
  if (!copyreg) return NULL;
  PyObject *newobj = PyObject_GetAttrString(copyreg, "__newobj__");
  Py_DECREF(copyreg);
  if (!newobj) return NULL;
  PyObject *state = array_getstate(self, NULL);
  PyObject *out = state ? Py_BuildValue("(O(O)O)", newobj, (PyObject *)Py_TYPE(self), state) : NULL;
  Py_XDECREF(state);
  Py_DECREF(newobj);
  return out;
}

static PyObject *array_copy(PyObject *self, PyObject *unused) {
  mx_array *a = mxpy_array_node_retained(self);
  return a ? mxpy_array_wrap(a) : NULL;
}

static PyObject *array_deepcopy(PyObject *self, PyObject *memo) { return array_copy(self, NULL); }

PyMethodDef mxpy_array_buffer_methods[] = {
    {"__array__", (PyCFunction)(void (*)(void))array_dunder_array, METH_VARARGS | METH_KEYWORDS,
     "__array__(self, dtype=None, copy=None)\n--\n\nEvaluate and convert to a NumPy array."},
    {"__getstate__", array_getstate, METH_NOARGS, NULL},
    {"__setstate__", array_setstate, METH_O, NULL},
    {"__reduce__", array_reduce, METH_NOARGS, NULL},
    {"__copy__", array_copy, METH_NOARGS, NULL},
    {"__deepcopy__", array_deepcopy, METH_O, NULL},
    {NULL, NULL, 0, NULL},
};
