/* dlpack_py.c: DLPack exchange (the DLPack 1.x ABI, versioned and legacy capsules): the array
 * methods __dlpack__ / __dlpack_device__ export the evaluated host memory of an array
 * read-only, zero-copy, keeping the array alive until the consumer's deleter runs; and
 * mx.from_dlpack imports any object with __dlpack__ (or the buffer protocol) whose memory is
 * on the CPU (copied;
 * float64 becomes float32, as mx.array of a NumPy array). */
#include "mxpy_internal.h"

#include <string.h>

/* ---- the DLPack ABI (dlpack.h, version 1.0) ---- */
enum { DL_CPU = 1, DL_CUDA = 2, DL_CUDA_HOST = 3, DL_CUDA_MANAGED = 13 };
enum { DL_INT = 0, DL_UINT = 1, DL_FLOAT = 2, DL_BFLOAT = 4, DL_COMPLEX = 5, DL_BOOL = 6 };
#define DL_FLAG_READ_ONLY ((uint64_t)1 << 0)

typedef struct { int32_t device_type, device_id; } dl_device;
typedef struct { uint8_t code, bits; uint16_t lanes; } dl_dtype;
typedef struct {
  void *data;
  dl_device device;
  int32_t ndim;
  dl_dtype dtype;
  int64_t *shape, *strides; /* strides in elements; NULL = row-major */
  uint64_t byte_offset;
} dl_tensor;
typedef struct dl_managed {
  dl_tensor t;
  void *ctx;
  void (*deleter)(struct dl_managed *);
} dl_managed;
typedef struct { uint32_t major, minor; } dl_version;
typedef struct dl_managed_v {
  dl_version version;
  void *ctx;
  void (*deleter)(struct dl_managed_v *);
  uint64_t flags;
  dl_tensor t;
} dl_managed_v;

static const char CAPSULE[] = "dltensor", CAPSULE_V[] = "dltensor_versioned";
static const char USED[] = "used_dltensor", USED_V[] = "used_dltensor_versioned";

static int dl_of_dtype(mx_dtype t, dl_dtype *d) {
  d->lanes = 1;
  d->bits = (uint8_t)(8 * mx_dtype_size(t));
  switch (t) {
    case MX_BOOL: d->code = DL_BOOL; return 0;
    case MX_UINT8: case MX_UINT16: case MX_UINT32: case MX_UINT64: d->code = DL_UINT; return 0;
    case MX_INT8: case MX_INT16: case MX_INT32: case MX_INT64: d->code = DL_INT; return 0;
    case MX_FLOAT16: case MX_FLOAT32: case MX_FLOAT64: d->code = DL_FLOAT; return 0;
    case MX_BFLOAT16: d->code = DL_BFLOAT; return 0;
    case MX_COMPLEX64: d->code = DL_COMPLEX; return 0;
    default: return -1;
  }
}

static int dtype_of_dl(dl_dtype d, mx_dtype *t) {
  if (d.lanes != 1) return -1;
  static const struct { uint8_t code, bits; mx_dtype t; } map[] = {
      {DL_BOOL, 8, MX_BOOL},      {DL_UINT, 8, MX_UINT8},       {DL_UINT, 16, MX_UINT16},
      {DL_UINT, 32, MX_UINT32},   {DL_UINT, 64, MX_UINT64},     {DL_INT, 8, MX_INT8},
      {DL_INT, 16, MX_INT16},     {DL_INT, 32, MX_INT32},       {DL_INT, 64, MX_INT64},
      {DL_FLOAT, 16, MX_FLOAT16}, {DL_FLOAT, 32, MX_FLOAT32},   {DL_FLOAT, 64, MX_FLOAT64},
      {DL_BFLOAT, 16, MX_BFLOAT16}, {DL_COMPLEX, 64, MX_COMPLEX64},
  };
  for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
    if (map[i].code == d.code && map[i].bits == d.bits) return *t = map[i].t, 0;
  return -1;
}

/* ---- export ---- */

/* What a capsule owns: the evaluated node (keeps the memory alive) and shape/strides. */
typedef struct {
  mx_array *node;
  int64_t dims[]; /* shape (ndim) then strides (ndim) */
} dl_owner;

static void owner_free(dl_owner *o) {
  if (!o) return;
  mx_array_release(o->node); /* thread-safe: deleters may run on any thread, without the GIL */
  PyMem_RawFree(o);
}

static void deleter_legacy(dl_managed *m) {
  owner_free(m->ctx);
  PyMem_RawFree(m);
}
static void deleter_versioned(dl_managed_v *m) {
  owner_free(m->ctx);
  PyMem_RawFree(m);
}

/* Capsule destructors: only a capsule no consumer took still owns its tensor. */
static void capsule_legacy(PyObject *cap) {
  if (PyCapsule_IsValid(cap, CAPSULE)) {
    dl_managed *m = PyCapsule_GetPointer(cap, CAPSULE);
    if (m && m->deleter) m->deleter(m);
  }
}
static void capsule_versioned(PyObject *cap) {
  if (PyCapsule_IsValid(cap, CAPSULE_V)) {
    dl_managed_v *m = PyCapsule_GetPointer(cap, CAPSULE_V);
    if (m && m->deleter) m->deleter(m);
  }
}

/* Fills t over the evaluated host memory of self; *owner receives what keeps it alive. */
static int export_tensor(PyObject *self, dl_tensor *t, dl_owner **owner) {
  mx_array *a = mxpy_array_node_retained(self);
  if (!a) return -1;
  void *data = mxpy_host_data_nogil(a);
  if (!data) {
    mx_array_release(a);
    return -1;
  }
  dl_owner *o = PyMem_RawMalloc(sizeof *o + 2 * sizeof(int64_t) * (size_t)(a->ndim ? a->ndim : 1));
  if (!o) {
    mx_array_release(a);
    PyErr_NoMemory();
    return -1;
  }
  o->node = a;
  for (int i = 0; i < a->ndim; i++) {
    o->dims[i] = a->shape[i];
    o->dims[a->ndim + i] = a->strides[i];
  }
  memset(t, 0, sizeof *t);
  dl_of_dtype(a->dtype, &t->dtype);
  t->data = data;
  t->device = (dl_device){DL_CPU, 0};
  t->ndim = a->ndim;
  t->shape = o->dims;
  t->strides = o->dims + a->ndim;
  *owner = o;
  return 0;
}

static PyObject *array_dlpack(PyObject *self, PyObject *args, PyObject *kwds) {
  static char *kwlist[] = {"stream", "max_version", "dl_device", "copy", NULL};
  PyObject *stream = Py_None, *max_version = Py_None, *dl_dev = Py_None, *copy = Py_None;
  if (!PyArg_ParseTupleAndKeywords(args, kwds, "|$OOOO:__dlpack__", kwlist, &stream,
                                   &max_version, &dl_dev, &copy))
    return NULL;
  if (dl_dev != Py_None) {
    int type = 0, id = 0;
    if (!PyArg_ParseTuple(dl_dev, "ii", &type, &id)) return NULL;
    if (type != DL_CPU) {
      PyErr_Format(PyExc_BufferError, "[__dlpack__] Can only export to the CPU (1, 0), got (%d, %d).",
                   type, id);
      return NULL;
    }
  }
  if (copy == Py_True) {
    PyErr_SetString(PyExc_BufferError, "[__dlpack__] copy=True is not supported; "
                    "export a copy made with mx.array(x) instead.");
    return NULL;
  }
  long major = 0;
  if (max_version != Py_None) {
    long minor;
    if (!PyArg_ParseTuple(max_version, "ll", &major, &minor)) return NULL;
  }
  dl_tensor t;
  dl_owner *o;
  if (export_tensor(self, &t, &o) < 0) return NULL;
  PyObject *cap;
  if (major >= 1) {
    dl_managed_v *m = PyMem_RawMalloc(sizeof *m);
    if (!m) {
      owner_free(o);
      return PyErr_NoMemory();
    }
    *m = (dl_managed_v){{1, 0}, o, deleter_versioned, DL_FLAG_READ_ONLY, t};
    cap = PyCapsule_New(m, CAPSULE_V, capsule_versioned);
    if (!cap) deleter_versioned(m);
  } else {
    dl_managed *m = PyMem_RawMalloc(sizeof *m);
    if (!m) {
      owner_free(o);
      return PyErr_NoMemory();
    }
    *m = (dl_managed){t, o, deleter_legacy};
    cap = PyCapsule_New(m, CAPSULE, capsule_legacy);
    if (!cap) deleter_legacy(m);
  }
  return cap;
}

static PyObject *array_dlpack_device(PyObject *self, PyObject *unused) {
  (void)self;
  (void)unused;
  return Py_BuildValue("(ii)", DL_CPU, 0);
}

PyMethodDef mxpy_array_dlpack_methods[] = {
    {"__dlpack__", (PyCFunction)(void (*)(void))array_dlpack, METH_VARARGS | METH_KEYWORDS,
     "__dlpack__(self, *, stream=None, max_version=None, dl_device=None, copy=None)\n--\n\n"
     "Export the evaluated array as a DLPack capsule (host memory, read-only, no copy)."},
    {"__dlpack_device__", array_dlpack_device, METH_NOARGS,
     "__dlpack_device__(self)\n--\n\nThe DLPack device of the exported memory: (1, 0), the CPU."},
    {NULL, NULL, 0, NULL},
};

/* ---- import ---- */

static PyObject *from_dlpack(PyObject *m, PyObject *args, PyObject *kwds) {
  (void)m;
  static char *kwlist[] = {"", "copy", NULL};
  PyObject *x, *copy = Py_None;
  if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|$O:from_dlpack", kwlist, &x, &copy)) return NULL;
  if (copy == Py_False) {
    PyErr_SetString(PyExc_ValueError, "[from_dlpack] copy=False is not supported: "
                    "mlx arrays own their memory, so the data is always copied.");
    return NULL;
  }
  PyObject *fn = PyObject_GetAttrString(x, "__dlpack__");
  if (!fn && PyObject_CheckBuffer(x)) { /* NumPy scalars and other buffer exporters */
    PyErr_Clear();
    mx_array *a;
    return mxpy_to_array(x, &a) < 0 ? NULL : mxpy_array_wrap(a);
  }
  if (!fn) {
    PyErr_Clear();
    PyErr_Format(PyExc_TypeError, "[from_dlpack] '%s' object has no __dlpack__ method.",
                 Py_TYPE(x)->tp_name);
    return NULL;
  }
  PyObject *kw = Py_BuildValue("{s(ii)}", "max_version", 1, 0);
  PyObject *empty = PyTuple_New(0);
  PyObject *cap = kw && empty ? PyObject_Call(fn, empty, kw) : NULL;
  if (!cap && PyErr_ExceptionMatches(PyExc_TypeError)) { /* a producer older than DLPack 1.0 */
    PyErr_Clear();
    cap = PyObject_CallNoArgs(fn);
  }
  Py_XDECREF(kw);
  Py_XDECREF(empty);
  Py_DECREF(fn);
  if (!cap) return NULL;
  bool versioned = PyCapsule_IsValid(cap, CAPSULE_V);
  if (!versioned && !PyCapsule_IsValid(cap, CAPSULE)) {
    Py_DECREF(cap);
    PyErr_SetString(PyExc_TypeError, "[from_dlpack] __dlpack__ did not return a DLPack capsule.");
    return NULL;
  }
  void *raw = PyCapsule_GetPointer(cap, versioned ? CAPSULE_V : CAPSULE);
  const dl_tensor *t = versioned ? &((dl_managed_v *)raw)->t : &((dl_managed *)raw)->t;
  if (versioned && ((dl_managed_v *)raw)->version.major > 1) {
    Py_DECREF(cap);
    PyErr_Format(PyExc_BufferError, "[from_dlpack] DLPack version %u is not supported.",
                 ((dl_managed_v *)raw)->version.major);
    return NULL;
  }
  PyObject *res = NULL;
  mx_dtype dt;
  int32_t *shape = NULL;
  char *buf = NULL;
  if (t->device.device_type != DL_CPU && t->device.device_type != DL_CUDA_HOST &&
      t->device.device_type != DL_CUDA_MANAGED) {
    PyErr_Format(PyExc_BufferError, "[from_dlpack] Only host memory can be imported, got "
                 "DLPack device type %d.", t->device.device_type);
  } else if (dtype_of_dl(t->dtype, &dt) < 0) {
    PyErr_Format(PyExc_TypeError, "[from_dlpack] Unsupported DLPack dtype (code %u, %u bits, "
                 "%u lanes).", t->dtype.code, t->dtype.bits, t->dtype.lanes);
  } else if (t->ndim < 0 || t->ndim > 64) {
    PyErr_Format(PyExc_ValueError, "[from_dlpack] Unsupported ndim %d.", t->ndim);
  } else {
    int64_t n = 1, es = mx_dtype_size(dt);
    shape = PyMem_Malloc(sizeof(int32_t) * (size_t)(t->ndim ? t->ndim : 1));
    bool ok = shape != NULL;
    for (int d = 0; ok && d < t->ndim; d++) {
      ok = t->shape[d] >= 0 && t->shape[d] <= INT32_MAX;
      if (ok) shape[d] = (int32_t)t->shape[d], n *= t->shape[d];
    }
    if (!shape) PyErr_NoMemory();
    else if (!ok) PyErr_SetString(PyExc_ValueError, "[from_dlpack] Dimension out of range.");
    else if (!(buf = PyMem_Malloc((size_t)(n * es > 0 ? n * es : 1)))) PyErr_NoMemory();
    else {
      const char *src = (const char *)t->data + t->byte_offset;
      if (t->strides) mxpy_copy_row_major(buf, src, (size_t)es, t->ndim, shape, t->strides);
      else memcpy(buf, src, (size_t)(n * es));
      mx_array *a = mx_array_from_data(buf, dt, t->ndim, shape);
      if (a && dt == MX_FLOAT64) { /* as mx.array of a NumPy array: float64 becomes float32 */
        mx_array *f = mx_astype(a, MX_FLOAT32, mx_default_stream((mx_device){MX_CPU, 0}));
        mx_array_release(a);
        a = f;
      }
      res = a ? mxpy_array_wrap(a) : mxpy_raise();
    }
  }
  PyMem_Free(shape);
  PyMem_Free(buf);
  /* consumed: rename so the capsule destructor leaves the tensor alone, then delete it */
  if (PyCapsule_SetName(cap, versioned ? USED_V : USED) == 0) {
    if (versioned) {
      dl_managed_v *mv = raw;
      if (mv->deleter) mv->deleter(mv);
    } else {
      dl_managed *ml = raw;
      if (ml->deleter) ml->deleter(ml);
    }
  }
  Py_DECREF(cap);
  return res;
}

PyMethodDef mxpy_dlpack_methods[] = {
    {"from_dlpack", (PyCFunction)(void (*)(void))from_dlpack, METH_VARARGS | METH_KEYWORDS,
     "from_dlpack(x, /, *, copy=None)\n--\n\nA new array holding a copy of the data of x, any "
     "object implementing __dlpack__ whose memory is on the CPU."},
    {NULL, NULL, 0, NULL},
};
