/* array_type.c: the mx.array type: construction, properties, item/tolist, printing,
 * len/iter, hashing by identity, the merge of the generated op methods (astype, sum, ...),
 * and the glue the other array_*.c files share (node access, rebinding, evaluation with the
 * GIL released, error translation). Operators live in array_number.c, indexing in
 * array_index.c, buffers/NumPy/pickling in array_buffer.c. */
#include "mxpy_internal.h"

#include <string.h>

#include "print.h"
#include "py_bindings_gen.h"

PyTypeObject *mxpy_array_type;
static PyTypeObject array_type;
static PyTypeObject array_iter_type;

/* ------------------------------------------------------------------------------------ */
/* errors                                                                                */

PyObject *mxpy_raise_or_runtime(const char *what) {
  /* A pending Python error (e.g. raised by a callback) and the core's error are translated
   * by mxpy_raise (convert.c); a failure that recorded neither still raises. */
  if (PyErr_Occurred() || mx_error_kind_get() != MX_OK) return mxpy_raise();
  PyErr_Format(PyExc_RuntimeError, "[%s] operation failed.", what);
  return NULL;
}

/* ------------------------------------------------------------------------------------ */
/* node access                                                                           */

static PyObject *uninitialized(void) {
  PyErr_SetString(PyExc_RuntimeError, "[array] The array object was never initialized.");
  return NULL;
}

mx_array *mxpy_array_node(PyObject *o) {
  mx_array *a = ((mxpy_array *)o)->node;
  if (!a) uninitialized();
  return a;
}

mx_array *mxpy_array_node_retained(PyObject *o) {
  mx_array *a = mxpy_array_node(o);
  if (a) mx_array_retain(a);
  return a;
}

void mxpy_array_rebind(PyObject *o, mx_array *node_steal) {
  mxpy_array *self = (mxpy_array *)o;
  mx_array *old = self->node;
  self->node = node_steal;
  if (old) mx_array_release(old);
}

PyObject *mxpy_array_wrap(mx_array *a_steal) {
  if (!a_steal) return mxpy_raise_or_runtime("array");
  mxpy_array *o = (mxpy_array *)array_type.tp_alloc(&array_type, 0);
  if (!o) {
    mx_array_release(a_steal);
    return NULL;
  }
  o->node = a_steal;
  o->weakrefs = NULL;
  o->exports = 0;
  return (PyObject *)o;
}

/* ------------------------------------------------------------------------------------ */
/* evaluation                                                                            */

int mxpy_eval_nogil(mx_array *a) {
  int rc;
  Py_BEGIN_ALLOW_THREADS
  rc = mx_array_eval(a);
  Py_END_ALLOW_THREADS
  if (rc < 0) mxpy_raise_or_runtime("eval");
  return rc;
}

void *mxpy_host_data_nogil(mx_array *a) {
  static uint64_t empty_dummy;
  void *p = NULL;
  int rc;
  Py_BEGIN_ALLOW_THREADS
  rc = mx_array_eval(a);
  if (rc == 0 && a->size > 0) p = mx_array_host_data(a);
  Py_END_ALLOW_THREADS
  if (rc < 0) {
    mxpy_raise_or_runtime("eval");
    return NULL;
  }
  if (a->size == 0) return &empty_dummy;
  if (!p) mxpy_raise_or_runtime("eval");
  return p;
}

/* ------------------------------------------------------------------------------------ */
/* scalars                                                                               */

static double bf16_to_double(uint16_t b) {
  uint32_t bits = (uint32_t)b << 16;
  float f;
  memcpy(&f, &bits, sizeof f);
  return (double)f;
}

PyObject *mxpy_scalar_from_ptr(const void *p, mx_dtype t) {
  switch (t) {
    case MX_BOOL: return PyBool_FromLong(*(const uint8_t *)p != 0);
    case MX_UINT8: return PyLong_FromUnsignedLong(*(const uint8_t *)p);
    case MX_UINT16: return PyLong_FromUnsignedLong(*(const uint16_t *)p);
    case MX_UINT32: return PyLong_FromUnsignedLong(*(const uint32_t *)p);
    case MX_UINT64: return PyLong_FromUnsignedLongLong(*(const uint64_t *)p);
    case MX_INT8: return PyLong_FromLong(*(const int8_t *)p);
    case MX_INT16: return PyLong_FromLong(*(const int16_t *)p);
    case MX_INT32: return PyLong_FromLong(*(const int32_t *)p);
    case MX_INT64: return PyLong_FromLongLong(*(const int64_t *)p);
    case MX_FLOAT16: {
      double v = PyFloat_Unpack2((const char *)p, 1);
      if (v == -1.0 && PyErr_Occurred()) return NULL;
      return PyFloat_FromDouble(v);
    }
    case MX_FLOAT32: return PyFloat_FromDouble((double)*(const float *)p);
    case MX_FLOAT64: return PyFloat_FromDouble(*(const double *)p);
    case MX_BFLOAT16: return PyFloat_FromDouble(bf16_to_double(*(const uint16_t *)p));
    case MX_COMPLEX64: {
      const float *c = (const float *)p;
      return PyComplex_FromDoubles((double)c[0], (double)c[1]);
    }
    default: break;
  }
  PyErr_SetString(PyExc_RuntimeError, "[item] unknown dtype");
  return NULL;
}

PyObject *mxpy_array_item(PyObject *self) {
  mx_array *a = mxpy_array_node_retained(self);
  if (!a) return NULL;
  PyObject *out = NULL;
  if (a->size != 1) {
    PyErr_SetString(PyExc_ValueError, "item can only be called on arrays of size 1.");
  } else {
    void *p = mxpy_host_data_nogil(a);
    if (p) out = mxpy_scalar_from_ptr(p, a->dtype);
  }
  mx_array_release(a);
  return out;
}

static PyObject *array_item_meth(PyObject *self, PyObject *unused) { return mxpy_array_item(self); }

static PyObject *tolist_rec(const char *p, const mx_array *a, int dim, size_t itemsize) {
  if (dim == a->ndim) return mxpy_scalar_from_ptr(p, a->dtype);
  Py_ssize_t n = a->shape[dim];
  PyObject *list = PyList_New(n);
  if (!list) return NULL;
  for (Py_ssize_t i = 0; i < n; i++) {
    PyObject *v = tolist_rec(p + (ptrdiff_t)(i * a->strides[dim]) * (ptrdiff_t)itemsize, a,
                             dim + 1, itemsize);
    if (!v) {
      Py_DECREF(list);
      return NULL;
    }
    PyList_SET_ITEM(list, i, v);
  }
  return list;
}

static PyObject *array_tolist(PyObject *self, PyObject *unused) {
  mx_array *a = mxpy_array_node_retained(self);
  if (!a) return NULL;
  PyObject *out = NULL;
  const char *p = mxpy_host_data_nogil(a);
  if (p) out = tolist_rec(p, a, 0, (size_t)mx_dtype_size(a->dtype));
  mx_array_release(a);
  return out;
}

/* ------------------------------------------------------------------------------------ */
/* construction                                                                          */

static PyObject *array_tp_new(PyTypeObject *type, PyObject *args, PyObject *kwds) {
  mxpy_array *o = (mxpy_array *)type->tp_alloc(type, 0);
  if (!o) return NULL;
  o->node = NULL; /* __init__ (or __setstate__ when unpickling) sets it */
  o->weakrefs = NULL;
  o->exports = 0;
  return (PyObject *)o;
}

static int array_tp_init(PyObject *self, PyObject *args, PyObject *kwds) {
  static char *kwlist[] = {"val", "dtype", NULL};
  PyObject *val, *dt = Py_None;
  mx_dtype t = MX_FLOAT32;
  mx_array *node = NULL;
  if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|O:array", kwlist, &val, &dt)) return -1;
  if (dt != Py_None) {
    /* scalars, lists and buffers convert straight to t (float64 keeps its precision) */
    if (mxpy_dtype_from_object(dt, &t) < 0 || mxpy_to_array_dtype(val, t, &node) < 0) return -1;
  } else if (mxpy_to_array(val, &node) < 0) {
    return -1;
  }
  mxpy_array_rebind(self, node);
  return 0;
}

static void array_dealloc(PyObject *o) {
  mxpy_array *self = (mxpy_array *)o;
  if (self->weakrefs) PyObject_ClearWeakRefs(o);
  if (self->node) {
    mx_array *n = self->node;
    self->node = NULL;
    mx_array_release(n);
  }
  Py_TYPE(o)->tp_free(o);
}

static Py_hash_t array_hash(PyObject *o) { return _Py_HashPointer(o); }

/* ------------------------------------------------------------------------------------ */
/* printing                                                                              */

static PyObject *array_repr(PyObject *self) {
  mx_array *a = mxpy_array_node_retained(self);
  if (!a) return NULL;
  char *text = NULL;
  int rc;
  Py_BEGIN_ALLOW_THREADS
  rc = mx_array_format(a, true, &text);
  Py_END_ALLOW_THREADS
  mx_array_release(a);
  if (rc < 0) return mxpy_raise_or_runtime("print");
  PyObject *s = PyUnicode_FromString(text);
  free(text);
  return s;
}

static PyObject *array_format(PyObject *self, PyObject *spec) {
  mx_array *a = mxpy_array_node(self);
  if (!a) return NULL;
  Py_ssize_t n = PyObject_Length(spec);
  if (n < 0) return NULL;
  if (a->ndim > 0) {
    if (n > 0) {
      PyErr_SetString(PyExc_TypeError, "unsupported format string passed to mx.array.__format__");
      return NULL;
    }
    return array_repr(self);
  }
  PyObject *v = mxpy_array_item(self);
  if (!v) return NULL;
  PyObject *out = PyObject_Format(v, spec);
  Py_DECREF(v);
  return out;
}

/* ------------------------------------------------------------------------------------ */
/* properties                                                                            */

static PyObject *get_shape(PyObject *self, void *c) {
  mx_array *a = mxpy_array_node(self);
  if (!a) return NULL;
  PyObject *t = PyTuple_New(a->ndim);
  if (!t) return NULL;
  for (int i = 0; i < a->ndim; i++) {
    PyObject *d = PyLong_FromLong(a->shape[i]);
    if (!d) {
      Py_DECREF(t);
      return NULL;
    }
    PyTuple_SET_ITEM(t, i, d);
  }
  return t;
}

static PyObject *get_dtype(PyObject *self, void *c) {
  mx_array *a = mxpy_array_node(self);
  return a ? Py_XNewRef(mxpy_dtype_object(a->dtype)) : NULL;
}

static PyObject *get_ndim(PyObject *self, void *c) {
  mx_array *a = mxpy_array_node(self);
  return a ? PyLong_FromLong(a->ndim) : NULL;
}

static PyObject *get_size(PyObject *self, void *c) {
  mx_array *a = mxpy_array_node(self);
  return a ? PyLong_FromLongLong(a->size) : NULL;
}

static PyObject *get_itemsize(PyObject *self, void *c) {
  mx_array *a = mxpy_array_node(self);
  return a ? PyLong_FromLong(mx_dtype_size(a->dtype)) : NULL;
}

static PyObject *get_nbytes(PyObject *self, void *c) {
  mx_array *a = mxpy_array_node(self);
  return a ? PyLong_FromSize_t(mx_array_nbytes(a)) : NULL;
}

static PyObject *get_T(PyObject *self, void *c) {
  mx_array *a = mxpy_array_node(self);
  return a ? mxpy_array_wrap(mx_transpose(a, NULL, -1, mx_stream_default())) : NULL;
}

static PyObject *get_real(PyObject *self, void *c) {
  mx_array *a = mxpy_array_node(self);
  return a ? mxpy_array_wrap(mx_real(a, mx_stream_default())) : NULL;
}

static PyObject *get_imag(PyObject *self, void *c) {
  mx_array *a = mxpy_array_node(self);
  return a ? mxpy_array_wrap(mx_imag(a, mx_stream_default())) : NULL;
}

static PyGetSetDef array_getset[] = {
    {"shape", get_shape, NULL, "The shape of the array as a Python tuple.", NULL},
    {"dtype", get_dtype, NULL, "The array's Dtype.", NULL},
    {"ndim", get_ndim, NULL, "The array's dimension.", NULL},
    {"size", get_size, NULL, "Number of elements in the array.", NULL},
    {"itemsize", get_itemsize, NULL, "The size of the array's datatype in bytes.", NULL},
    {"nbytes", get_nbytes, NULL, "The number of bytes in the array.", NULL},
    {"T", get_T, NULL, "Equivalent to calling self.transpose() with no arguments.", NULL},
    {"at", mxpy_array_get_at, NULL, "Used to apply updates at the given indices: x.at[idx].add(y).", NULL},
    {"real", get_real, NULL, "The real part of a complex array.", NULL},
    {"imag", get_imag, NULL, "The imaginary part of a complex array.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

/* ------------------------------------------------------------------------------------ */
/* methods                                                                               */

static PyObject *array_namespace(PyObject *self, PyObject *args, PyObject *kwds) {
  static char *kwlist[] = {"api_version", NULL};
  PyObject *v = Py_None;
  if (!PyArg_ParseTupleAndKeywords(args, kwds, "|O:__array_namespace__", kwlist, &v)) return NULL;
  if (v != Py_None) {
    PyErr_SetString(PyExc_ValueError,
                    "Explicitly specifying api_version is not yet implemented.");
    return NULL;
  }
  return PyImport_ImportModule("mlx.core");
}

static PyMethodDef array_methods_hand[] = {
    {"item", array_item_meth, METH_NOARGS,
     "item(self)\n--\n\nAccess the value of a scalar array as a standard Python scalar."},
    {"tolist", array_tolist, METH_NOARGS,
     "tolist(self)\n--\n\nConvert the array to a (nested) Python list."},
    {"__format__", array_format, METH_O, NULL},
    {"__array_namespace__", (PyCFunction)(void (*)(void))array_namespace,
     METH_VARARGS | METH_KEYWORDS, "Returns mlx.core (the Array API namespace)."},
    {NULL, NULL, 0, NULL},
};

/* ------------------------------------------------------------------------------------ */
/* len / iter                                                                            */

static Py_ssize_t array_len(PyObject *self) {
  mx_array *a = mxpy_array_node(self);
  if (!a) return -1;
  if (a->ndim == 0) {
    PyErr_SetString(PyExc_TypeError, "len() 0-dimensional array.");
    return -1;
  }
  return a->shape[0];
}

mx_array *mxpy_index_axis0(mx_array *a, int64_t i) {
  int nd = a->ndim;
  int32_t small[3 * MX_INLINE_DIMS];
  int32_t *buf = nd <= MX_INLINE_DIMS ? small : malloc(sizeof(int32_t) * 3 * (size_t)nd);
  if (!buf) return mx_fail(MX_ENOMEM, "[getitem] out of memory");
  int32_t *start = buf, *stop = buf + nd, *strides = buf + 2 * nd;
  for (int k = 0; k < nd; k++) {
    start[k] = 0;
    stop[k] = a->shape[k];
    strides[k] = 1;
  }
  start[0] = (int32_t)i;
  stop[0] = (int32_t)(i + 1);
  mx_stream s = mx_stream_default();
  mx_array *sl = mx_slice(a, start, stop, strides, s);
  mx_array *out = sl ? mx_reshape(sl, a->shape + 1, nd - 1, s) : NULL;
  if (sl) mx_array_release(sl);
  if (buf != small) free(buf);
  return out;
}

typedef struct {
  PyObject_HEAD
  mx_array *node; /* retained: the value iterated (rebinding the array does not affect it) */
  int64_t index, length;
} mxpy_array_iter;

static PyObject *array_iter(PyObject *self) {
  mx_array *a = mxpy_array_node(self);
  if (!a) return NULL;
  if (a->ndim == 0) {
    PyErr_SetString(PyExc_TypeError, "iteration over a 0-d array.");
    return NULL;
  }
  mxpy_array_iter *it = PyObject_New(mxpy_array_iter, &array_iter_type);
  if (!it) return NULL;
  mx_array_retain(a);
  it->node = a;
  it->index = 0;
  it->length = a->shape[0];
  return (PyObject *)it;
}

static PyObject *array_iter_next(PyObject *o) {
  mxpy_array_iter *it = (mxpy_array_iter *)o;
  if (it->index >= it->length) return NULL; /* StopIteration */
  return mxpy_array_wrap(mxpy_index_axis0(it->node, it->index++));
}

static void array_iter_dealloc(PyObject *o) {
  mxpy_array_iter *it = (mxpy_array_iter *)o;
  if (it->node) mx_array_release(it->node);
  PyObject_Free(o);
}

static PyTypeObject array_iter_type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "mlx.core.ArrayIterator",
    .tp_basicsize = sizeof(mxpy_array_iter),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A helper object to iterate over the 1st dimension of an array.",
    .tp_dealloc = array_iter_dealloc,
    .tp_iter = PyObject_SelfIter,
    .tp_iternext = array_iter_next,
};

/* mx.ArrayLike: the name MLX's signatures use for objects with __mlx_array__; ArrayLike(obj)
 * wraps one (as MLX's class does), nothing else depends on it. */
typedef struct {
  PyObject_HEAD
  PyObject *obj;
} mxpy_array_like;

static int array_like_init(PyObject *self, PyObject *args, PyObject *kw) {
  PyObject *o;
  if (kw && PyDict_GET_SIZE(kw) > 0) {
    PyErr_SetString(PyExc_TypeError, "ArrayLike() takes no keyword arguments");
    return -1;
  }
  if (!PyArg_ParseTuple(args, "O:ArrayLike", &o)) return -1;
  Py_XSETREF(((mxpy_array_like *)self)->obj, Py_NewRef(o));
  return 0;
}

static void array_like_dealloc(PyObject *self) {
  Py_XDECREF(((mxpy_array_like *)self)->obj);
  Py_TYPE(self)->tp_free(self);
}

static PyTypeObject array_like_type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "mlx.core.ArrayLike",
    .tp_basicsize = sizeof(mxpy_array_like),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_doc = "Any Python object with an ``__mlx_array__`` method returning an :obj:`array`.",
    .tp_new = PyType_GenericNew,
    .tp_init = array_like_init,
    .tp_dealloc = array_like_dealloc,
};

/* ------------------------------------------------------------------------------------ */
/* the type                                                                              */

static PyMappingMethods array_as_mapping = {
    .mp_length = array_len,
    .mp_subscript = mxpy_array_getitem,
    .mp_ass_subscript = mxpy_array_setitem,
};

static PyTypeObject array_type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "mlx.core.array",
    .tp_basicsize = sizeof(mxpy_array),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_doc = "array(val, dtype=None)\n--\n\nAn N-dimensional array object.",
    .tp_new = array_tp_new,
    .tp_init = array_tp_init,
    .tp_dealloc = array_dealloc,
    .tp_repr = array_repr,
    .tp_str = array_repr,
    .tp_hash = array_hash, /* by identity (MLX arrays are hashable), despite __eq__ */
    .tp_richcompare = mxpy_array_richcompare,
    .tp_iter = array_iter,
    .tp_getset = array_getset,
    .tp_as_number = &mxpy_array_as_number,
    .tp_as_mapping = &array_as_mapping,
    .tp_as_buffer = &mxpy_array_as_buffer,
    .tp_weaklistoffset = offsetof(mxpy_array, weakrefs),
};

static Py_ssize_t count_methods(const PyMethodDef *m) {
  Py_ssize_t n = 0;
  while (m && m[n].ml_name) n++;
  return n;
}

int mxpy_array_init(PyObject *m) {
  /* Hand-written methods first: on a name clash the first definition wins. */
  const PyMethodDef *parts[] = {array_methods_hand, mxpy_array_number_methods,
                                mxpy_array_buffer_methods, mxpy_array_dlpack_methods,
                                mxpy_array_methods_gen};
  Py_ssize_t total = 0;
  for (size_t i = 0; i < MX_ARRAY_LEN(parts); i++) total += count_methods(parts[i]);
  PyMethodDef *all = PyMem_RawCalloc((size_t)total + 1, sizeof(PyMethodDef));
  if (!all) {
    PyErr_NoMemory();
    return -1;
  }
  Py_ssize_t k = 0;
  for (size_t i = 0; i < MX_ARRAY_LEN(parts); i++) {
    Py_ssize_t n = count_methods(parts[i]);
    memcpy(all + k, parts[i], sizeof(PyMethodDef) * (size_t)n);
    k += n;
  }
  array_type.tp_methods = all; /* lives as long as the process */
  if (PyType_Ready(&array_type) < 0 || PyType_Ready(&array_iter_type) < 0 ||
      PyType_Ready(&array_like_type) < 0)
    return -1;
  mxpy_array_type = &array_type;
  if (mxpy_index_init(m) < 0) return -1;
  if (PyModule_AddObjectRef(m, "array", (PyObject *)&array_type) < 0 ||
      PyModule_AddObjectRef(m, "ArrayIterator", (PyObject *)&array_iter_type) < 0 ||
      PyModule_AddObjectRef(m, "ArrayLike", (PyObject *)&array_like_type) < 0)
    return -1;
  return 0;
}
