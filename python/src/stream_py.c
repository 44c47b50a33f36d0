/* stream_py.c: mx.Device, mx.DeviceType (enum.Enum: mx.cpu, mx.gpu), mx.Stream,
 * mx.ThreadLocalStream, the StreamContext behind `with mx.stream(s)`, and the device/stream
 * functions (default_device ... synchronize, clear_streams) over core/stream.h.
 * Exports mxpy_stream_from_object, which the stream converter of the bindings uses. */
#include "mxpy_internal.h"

#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "allocator.h"
#include "device.h"
#include "stream.h"

static PyObject *device_type_enum;  /* DeviceType (enum.Enum subclass) */
static PyObject *device_type_objs[2]; /* mx.cpu, mx.gpu */

/* ------------------------------------------------------------------------------------ */
/* Device                                                                                */

typedef struct {
  PyObject_HEAD
  mx_device d;
} mxpy_device_obj;

typedef struct {
  PyObject_HEAD
  mx_stream s;
} mxpy_stream_obj;

typedef struct {
  PyObject_HEAD
  int32_t id;
  mx_device device;
} mxpy_tls_obj;

static PyTypeObject device_type, stream_type, tls_type, stream_ctx_type;

/* 1 + *t if o is a DeviceType member, 0 if not, -1 on error. */
static int device_type_of(PyObject *o, int32_t *t) {
  int r = PyObject_IsInstance(o, device_type_enum);
  if (r <= 0) return r;
  PyObject *v = PyObject_GetAttrString(o, "value");
  if (!v) return -1;
  long n = PyLong_AsLong(v);
  Py_DECREF(v);
  if (n == -1 && PyErr_Occurred()) return -1;
  *t = (int32_t)n;
  return 1;
}

int mxpy_device_from_object(PyObject *o, mx_device *out) {
  if (PyObject_TypeCheck(o, &device_type)) {
    *out = ((mxpy_device_obj *)o)->d;
    return 0;
  }
  int32_t t;
  int r = device_type_of(o, &t);
  if (r < 0) return -1;
  if (r == 1) {
    out->type = t;
    out->index = 0;
    return 0;
  }
  PyErr_Format(PyExc_TypeError, "Expected a Device or DeviceType, got %s.", Py_TYPE(o)->tp_name);
  return -1;
}

PyObject *mxpy_device_object(mx_device d) {
  mxpy_device_obj *o = PyObject_New(mxpy_device_obj, &device_type);
  if (o) o->d = d;
  return (PyObject *)o;
}

static const char *device_type_name(int32_t t) { return t == MX_GPU ? "gpu" : "cpu"; }

static PyObject *device_new(PyTypeObject *type, PyObject *args, PyObject *kwds) {
  static char *kwlist[] = {"type", "index", NULL};
  PyObject *t_obj;
  int index = 0;
  int32_t t;
  if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|i:Device", kwlist, &t_obj, &index)) return NULL;
  int r = device_type_of(t_obj, &t);
  if (r < 0) return NULL;
  if (r == 0) {
    PyErr_Format(PyExc_TypeError, "Device(): type must be a DeviceType, got %s.",
                 Py_TYPE(t_obj)->tp_name);
    return NULL;
  }
  mxpy_device_obj *o = (mxpy_device_obj *)type->tp_alloc(type, 0);
  if (!o) return NULL;
  o->d.type = t;
  o->d.index = index;
  return (PyObject *)o;
}

static PyObject *device_repr(PyObject *self) {
  mx_device d = ((mxpy_device_obj *)self)->d;
  return PyUnicode_FromFormat("Device(%s, %d)", device_type_name(d.type), (int)d.index);
}

/* == None raises, as MLX's bindings (which take a Device or a Stream) do. */
static PyObject *compare_none(const char *type) {
  return PyErr_Format(PyExc_TypeError, "__eq__(): incompatible function arguments: "
                      "mlx.core.%s compared with None.", type);
}

static PyObject *device_richcompare(PyObject *a, PyObject *b, int op) {
  if (op != Py_EQ && op != Py_NE) Py_RETURN_NOTIMPLEMENTED;
  if (b == Py_None) return compare_none("Device");
  mx_device db;
  bool eq = false;
  if (PyObject_TypeCheck(b, &device_type)) {
    db = ((mxpy_device_obj *)b)->d;
    eq = mx_device_equal(((mxpy_device_obj *)a)->d, db);
  } else {
    int32_t t;
    int r = device_type_of(b, &t);
    if (r < 0) return NULL;
    if (r == 1) {
      db.type = t;
      db.index = 0;
      eq = mx_device_equal(((mxpy_device_obj *)a)->d, db);
    }
  }
  return PyBool_FromLong(op == Py_EQ ? eq : !eq);
}

static Py_hash_t device_hash(PyObject *self) {
  mx_device d = ((mxpy_device_obj *)self)->d;
  Py_hash_t h = (Py_hash_t)(d.type * 1000003 + d.index);
  return h == -1 ? -2 : h;
}

static PyObject *device_get_type(PyObject *self, void *c) {
  int32_t t = ((mxpy_device_obj *)self)->d.type;
  return Py_NewRef(device_type_objs[t == MX_GPU ? 1 : 0]);
}

static PyObject *device_get_index(PyObject *self, void *c) {
  return PyLong_FromLong(((mxpy_device_obj *)self)->d.index);
}

static PyGetSetDef device_getset[] = {
    {"type", device_get_type, NULL, "The DeviceType.", NULL},
    {"index", device_get_index, NULL, "The device index.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject device_type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "mlx.core.Device",
    .tp_basicsize = sizeof(mxpy_device_obj),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A device to run operations on.",
    .tp_new = device_new,
    .tp_repr = device_repr,
    .tp_richcompare = device_richcompare,
    .tp_hash = device_hash,
    .tp_getset = device_getset,
};

/* ------------------------------------------------------------------------------------ */
/* Stream / ThreadLocalStream                                                            */

PyObject *mxpy_stream_object(mx_stream s) {
  mxpy_stream_obj *o = PyObject_New(mxpy_stream_obj, &stream_type);
  if (o) o->s = s;
  return (PyObject *)o;
}

static PyObject *stream_repr(PyObject *self) {
  mx_stream s = ((mxpy_stream_obj *)self)->s;
  return PyUnicode_FromFormat("Stream(Device(%s, %d), %d)", device_type_name(s.device.type),
                              (int)s.device.index, (int)s.index);
}

static PyObject *stream_richcompare(PyObject *a, PyObject *b, int op) {
  if (op != Py_EQ && op != Py_NE) Py_RETURN_NOTIMPLEMENTED;
  if (b == Py_None) return compare_none("Stream");
  bool eq = PyObject_TypeCheck(b, &stream_type) &&
            mx_stream_equal(((mxpy_stream_obj *)a)->s, ((mxpy_stream_obj *)b)->s);
  return PyBool_FromLong(op == Py_EQ ? eq : !eq);
}

static Py_hash_t stream_hash(PyObject *self) {
  Py_hash_t h = (Py_hash_t)((mxpy_stream_obj *)self)->s.index;
  return h == -1 ? -2 : h;
}

static PyObject *stream_get_device(PyObject *self, void *c) {
  return mxpy_device_object(((mxpy_stream_obj *)self)->s.device);
}

static PyObject *stream_get_index(PyObject *self, void *c) {
  return PyLong_FromLong(((mxpy_stream_obj *)self)->s.index);
}

static PyGetSetDef stream_getset[] = {
    {"device", stream_get_device, NULL, "The stream's device.", NULL},
    {"index", stream_get_index, NULL, "The stream's index.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject stream_type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "mlx.core.Stream",
    .tp_basicsize = sizeof(mxpy_stream_obj),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A stream for running operations on a given device.",
    .tp_repr = stream_repr,
    .tp_richcompare = stream_richcompare,
    .tp_hash = stream_hash,
    .tp_getset = stream_getset,
};

static PyObject *tls_repr(PyObject *self) {
  mx_device d = ((mxpy_tls_obj *)self)->device;
  return PyUnicode_FromFormat("ThreadLocalStream(Device(%s, %d))", device_type_name(d.type),
                              (int)d.index);
}

static PyObject *tls_get_device(PyObject *self, void *c) {
  return mxpy_device_object(((mxpy_tls_obj *)self)->device);
}

static PyGetSetDef tls_getset[] = {
    {"device", tls_get_device, NULL, "The stream's device.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject tls_type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "mlx.core.ThreadLocalStream",
    .tp_basicsize = sizeof(mxpy_tls_obj),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A stream that resolves to a stream of its own on each thread.",
    .tp_repr = tls_repr,
    .tp_getset = tls_getset,
};

int mxpy_stream_from_object(PyObject *o, mx_stream *out) {
  if (o == NULL || o == Py_None) {
    *out = mx_stream_default();
    return 0;
  }
  if (PyObject_TypeCheck(o, &stream_type)) {
    *out = ((mxpy_stream_obj *)o)->s;
    return 0;
  }
  if (PyObject_TypeCheck(o, &tls_type)) {
    *out = mx_thread_local_stream_resolve(((mxpy_tls_obj *)o)->id);
    if (out->index < 0) { mxpy_raise_or_runtime("stream"); return -1; }
    return 0;
  }
  if (PyObject_TypeCheck(o, &device_type)) {
    *out = mx_default_stream(((mxpy_device_obj *)o)->d);
    if (out->index < 0) { mxpy_raise_or_runtime("stream"); return -1; }
    return 0;
  }
  int32_t t;
  int r = device_type_of(o, &t);
  if (r < 0) return -1;
  if (r == 1) {
    mx_device d = {t, 0};
    *out = mx_default_stream(d);
    if (out->index < 0) { mxpy_raise_or_runtime("stream"); return -1; }
    return 0;
  }
  PyErr_Format(PyExc_TypeError,
               "Expected a Stream, Device, DeviceType, ThreadLocalStream or None, got %s.",
               Py_TYPE(o)->tp_name);
  return -1;
}

/* ------------------------------------------------------------------------------------ */
/* StreamContext                                                                         */

typedef struct {
  PyObject_HEAD
  PyObject *target;           /* what mx.stream() was given */
  mx_device prev_device;      /* default device before __enter__ */
  mx_stream prev_stream;      /* its default stream before __enter__ */
  mx_stream prev_target_default; /* default stream of the target's device before __enter__ */
  int entered;
  int target_is_stream;
} mxpy_stream_ctx;

static PyObject *stream_ctx_new_from(PyObject *s) {
  if (s == Py_None) {
    PyErr_SetString(PyExc_RuntimeError,
                    "[StreamContext] Invalid argument, please specify a stream or device.");
    return NULL;
  }
  mx_stream tmp;
  if (mxpy_stream_from_object(s, &tmp) < 0) return NULL;
  mxpy_stream_ctx *ctx = PyObject_New(mxpy_stream_ctx, &stream_ctx_type);
  if (!ctx) return NULL;
  ctx->target = Py_NewRef(s);
  ctx->entered = 0;
  ctx->target_is_stream =
      PyObject_TypeCheck(s, &stream_type) || PyObject_TypeCheck(s, &tls_type);
  return (PyObject *)ctx;
}

static PyObject *stream_ctx_tp_new(PyTypeObject *type, PyObject *args, PyObject *kwds) {
  static char *kwlist[] = {"s", NULL};
  PyObject *s;
  if (!PyArg_ParseTupleAndKeywords(args, kwds, "O:StreamContext", kwlist, &s)) return NULL;
  return stream_ctx_new_from(s);
}

static void stream_ctx_dealloc(PyObject *o) {
  Py_XDECREF(((mxpy_stream_ctx *)o)->target);
  PyObject_Free(o);
}

static PyObject *stream_ctx_enter(PyObject *o, PyObject *unused) {
  mxpy_stream_ctx *ctx = (mxpy_stream_ctx *)o;
  mx_stream s;
  if (mxpy_stream_from_object(ctx->target, &s) < 0) return NULL;
  ctx->prev_device = mx_default_device();
  ctx->prev_stream = mx_default_stream(ctx->prev_device);
  ctx->prev_target_default = mx_default_stream(s.device);
  if (mx_set_default_device(s.device) < 0) return mxpy_raise_or_runtime("StreamContext");
  if (ctx->target_is_stream && mx_set_default_stream(s) < 0) {
    mx_set_default_device(ctx->prev_device);
    return mxpy_raise_or_runtime("StreamContext");
  }
  ctx->entered = 1;
  Py_RETURN_NONE;
}

static PyObject *stream_ctx_exit(PyObject *o, PyObject *args) {
  mxpy_stream_ctx *ctx = (mxpy_stream_ctx *)o;
  if (ctx->entered) {
    ctx->entered = 0;
    if (ctx->target_is_stream) mx_set_default_stream(ctx->prev_target_default);
    mx_set_default_device(ctx->prev_device);
    mx_set_default_stream(ctx->prev_stream);
    mx_error_clear();
  }
  Py_RETURN_NONE;
}

static PyMethodDef stream_ctx_methods[] = {
    {"__enter__", stream_ctx_enter, METH_NOARGS, NULL},
    {"__exit__", stream_ctx_exit, METH_VARARGS, NULL},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject stream_ctx_type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "mlx.core.StreamContext",
    .tp_basicsize = sizeof(mxpy_stream_ctx),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A context manager for setting the current device and stream.",
    .tp_new = stream_ctx_tp_new,
    .tp_dealloc = stream_ctx_dealloc,
    .tp_methods = stream_ctx_methods,
};

/* ------------------------------------------------------------------------------------ */
/* functions                                                                             */

static PyObject *py_default_device(PyObject *m, PyObject *unused) {
  return mxpy_device_object(mx_default_device());
}

static PyObject *py_set_default_device(PyObject *m, PyObject *args, PyObject *kwds) {
  static char *kwlist[] = {"device", NULL};
  PyObject *o;
  mx_device d;
  if (!PyArg_ParseTupleAndKeywords(args, kwds, "O:set_default_device", kwlist, &o)) return NULL;
  if (mxpy_device_from_object(o, &d) < 0) return NULL;
  if (mx_set_default_device(d) < 0) return mxpy_raise_or_runtime("set_default_device");
  Py_RETURN_NONE;
}

static PyObject *py_is_available(PyObject *m, PyObject *args, PyObject *kwds) {
  static char *kwlist[] = {"device", NULL};
  PyObject *o;
  mx_device d;
  if (!PyArg_ParseTupleAndKeywords(args, kwds, "O:is_available", kwlist, &o)) return NULL;
  if (mxpy_device_from_object(o, &d) < 0) return NULL;
  return PyBool_FromLong(mx_device_is_available(d));
}

static PyObject *py_device_count(PyObject *m, PyObject *args, PyObject *kwds) {
  static char *kwlist[] = {"device_type", NULL};
  PyObject *o;
  mx_device d;
  if (!PyArg_ParseTupleAndKeywords(args, kwds, "O:device_count", kwlist, &o)) return NULL;
  if (mxpy_device_from_object(o, &d) < 0) return NULL;
  return PyLong_FromLong(mx_device_count((mx_device_type)d.type));
}

static void cpu_model_name(char *out, size_t n) {
  snprintf(out, n, "cpu");
  FILE *f = fopen("/proc/cpuinfo", "r");
  if (!f) return;
  char line[512];
  while (fgets(line, sizeof line, f)) {
    if (strncmp(line, "model name", 10) == 0) {
      char *p = strchr(line, ':');
      if (p) {
        p++;
        while (*p == ' ' || *p == '\t') p++;
        size_t len = strcspn(p, "\n");
        if (len >= n) len = n - 1;
        memcpy(out, p, len);
        out[len] = '\0';
      }
      break;
    }
  }
  fclose(f);
}

static int dict_set_str(PyObject *d, const char *k, const char *v) {
  PyObject *o = PyUnicode_FromString(v);
  int rc = o ? PyDict_SetItemString(d, k, o) : -1;
  Py_XDECREF(o);
  return rc;
}

static int dict_set_size(PyObject *d, const char *k, size_t v) {
  PyObject *o = PyLong_FromSize_t(v);
  int rc = o ? PyDict_SetItemString(d, k, o) : -1;
  Py_XDECREF(o);
  return rc;
}

static PyObject *py_device_info(PyObject *m, PyObject *args, PyObject *kwds) {
  static char *kwlist[] = {"d", NULL};
  PyObject *o = Py_None;
  mx_device d;
  if (!PyArg_ParseTupleAndKeywords(args, kwds, "|O:device_info", kwlist, &o)) return NULL;
  if (o == Py_None) d = mx_default_device();
  else if (mxpy_device_from_object(o, &d) < 0) return NULL;
  if (!mx_device_is_available(d)) {
    PyErr_Format(PyExc_ValueError, "[device_info] Device(%s, %d) is not available.",
                 device_type_name(d.type), (int)d.index);
    return NULL;
  }
  PyObject *info = PyDict_New();
  if (!info) return NULL;
  long pages = sysconf(_SC_PHYS_PAGES), page_size = sysconf(_SC_PAGESIZE);
  size_t mem = (pages > 0 && page_size > 0) ? (size_t)pages * (size_t)page_size : 0;
  struct utsname u;
  char name[256];
  const mx_gpu_backend *gpu = d.type == MX_GPU ? mx_gpu() : NULL;
  if (d.type == MX_CPU) {
    cpu_model_name(name, sizeof name);
  } else {
    const char *gname = gpu && gpu->device_name ? gpu->device_name() : NULL;
    snprintf(name, sizeof name, "%s", gname ? gname : "gpu");
    if (gpu && gpu->memory_size) mem = gpu->memory_size();
  }
  if (uname(&u) != 0) snprintf(u.machine, sizeof u.machine, "unknown");
  size_t limit = mx_memory_limit();
  if (dict_set_str(info, "device_name", name) < 0 ||
      dict_set_str(info, "architecture",
                   d.type == MX_CPU ? u.machine : (gpu && gpu->name ? gpu->name : "gpu")) < 0 ||
      dict_set_size(info, "memory_size", mem) < 0 ||
      dict_set_size(info, "max_recommended_working_set_size",
                    limit && (limit < mem || !mem) ? limit : mem) < 0) {
    Py_DECREF(info);
    return NULL;
  }
  return info;
}

static PyObject *py_default_stream(PyObject *m, PyObject *args, PyObject *kwds) {
  static char *kwlist[] = {"device", NULL};
  PyObject *o;
  mx_device d;
  if (!PyArg_ParseTupleAndKeywords(args, kwds, "O:default_stream", kwlist, &o)) return NULL;
  if (mxpy_device_from_object(o, &d) < 0) return NULL;
  mx_stream s = mx_default_stream(d);
  if (s.index < 0) return mxpy_raise_or_runtime("default_stream");
  return mxpy_stream_object(s);
}

static PyObject *py_set_default_stream(PyObject *m, PyObject *args, PyObject *kwds) {
  static char *kwlist[] = {"stream", NULL};
  PyObject *o;
  mx_stream s;
  if (!PyArg_ParseTupleAndKeywords(args, kwds, "O:set_default_stream", kwlist, &o)) return NULL;
  if (o == Py_None) {
    PyErr_SetString(PyExc_TypeError, "set_default_stream(): stream must be a Stream.");
    return NULL;
  }
  if (mxpy_stream_from_object(o, &s) < 0) return NULL;
  if (mx_set_default_stream(s) < 0) return mxpy_raise_or_runtime("set_default_stream");
  Py_RETURN_NONE;
}

typedef enum { NEW_OWNED, NEW_UNSAFE, NEW_LOCAL } new_kind;

static PyObject *new_stream_impl(PyObject *args, PyObject *kwds, new_kind kind, const char *fn) {
  static char *kwlist[] = {"device", NULL};
  PyObject *o;
  mx_device d;
  char fmt[64];
  snprintf(fmt, sizeof fmt, "O:%s", fn);
  if (!PyArg_ParseTupleAndKeywords(args, kwds, fmt, kwlist, &o)) return NULL;
  if (mxpy_device_from_object(o, &d) < 0) return NULL;
  if (!mx_device_is_available(d)) {
    PyErr_Format(PyExc_ValueError, "[%s] Device(%s, %d) is not available.", fn,
                 device_type_name(d.type), (int)d.index);
    return NULL;
  }
  if (kind == NEW_LOCAL) {
    int32_t id = mx_new_thread_local_stream_id(d);
    if (id < 0) return mxpy_raise_or_runtime(fn);
    mxpy_tls_obj *t = PyObject_New(mxpy_tls_obj, &tls_type);
    if (!t) return NULL;
    t->id = id;
    t->device = d;
    return (PyObject *)t;
  }
  mx_stream s = kind == NEW_OWNED ? mx_new_stream(d) : mx_new_thread_unsafe_stream(d);
  if (s.index < 0) return mxpy_raise_or_runtime(fn);
  return mxpy_stream_object(s);
}

static PyObject *py_new_stream(PyObject *m, PyObject *args, PyObject *kwds) {
  return new_stream_impl(args, kwds, NEW_OWNED, "new_stream");
}
static PyObject *py_new_thread_unsafe_stream(PyObject *m, PyObject *args, PyObject *kwds) {
  return new_stream_impl(args, kwds, NEW_UNSAFE, "new_thread_unsafe_stream");
}
static PyObject *py_new_thread_local_stream(PyObject *m, PyObject *args, PyObject *kwds) {
  return new_stream_impl(args, kwds, NEW_LOCAL, "new_thread_local_stream");
}

static PyObject *py_stream(PyObject *m, PyObject *args, PyObject *kwds) {
  static char *kwlist[] = {"s", NULL};
  PyObject *s;
  if (!PyArg_ParseTupleAndKeywords(args, kwds, "O:stream", kwlist, &s)) return NULL;
  return stream_ctx_new_from(s);
}

static PyObject *py_synchronize(PyObject *m, PyObject *args, PyObject *kwds) {
  static char *kwlist[] = {"stream", NULL};
  PyObject *o = Py_None;
  mx_stream s;
  int rc;
  if (!PyArg_ParseTupleAndKeywords(args, kwds, "|O:synchronize", kwlist, &o)) return NULL;
  if (mxpy_stream_from_object(o, &s) < 0) return NULL;
  Py_BEGIN_ALLOW_THREADS
  rc = mx_synchronize(s);
  Py_END_ALLOW_THREADS
  if (rc < 0) return mxpy_raise_or_runtime("synchronize");
  Py_RETURN_NONE;
}

static PyObject *py_clear_streams(PyObject *m, PyObject *unused) {
  Py_BEGIN_ALLOW_THREADS
  mx_clear_streams();
  Py_END_ALLOW_THREADS
  mxpy_random_reset_thread();
  if (PyErr_Occurred()) return NULL;
  Py_RETURN_NONE;
}

#define KW (METH_VARARGS | METH_KEYWORDS)
PyMethodDef mxpy_stream_methods[] = {
    {"default_device", py_default_device, METH_NOARGS,
     "default_device()\n--\n\nGet the default device."},
    {"set_default_device", (PyCFunction)(void (*)(void))py_set_default_device, KW,
     "set_default_device(device)\n--\n\nSet the default device."},
    {"is_available", (PyCFunction)(void (*)(void))py_is_available, KW,
     "is_available(device)\n--\n\nCheck if a back-end is available for the given device."},
    {"device_count", (PyCFunction)(void (*)(void))py_device_count, KW,
     "device_count(device_type)\n--\n\nGet the number of available devices of a type."},
    {"device_info", (PyCFunction)(void (*)(void))py_device_info, KW,
     "device_info(d=None)\n--\n\nGet information about a device."},
    {"default_stream", (PyCFunction)(void (*)(void))py_default_stream, KW,
     "default_stream(device)\n--\n\nGet the device's default stream."},
    {"set_default_stream", (PyCFunction)(void (*)(void))py_set_default_stream, KW,
     "set_default_stream(stream)\n--\n\nSet the default stream of the stream's device."},
    {"new_stream", (PyCFunction)(void (*)(void))py_new_stream, KW,
     "new_stream(device)\n--\n\nMake a new stream on the given device (usable on this thread)."},
    {"new_thread_unsafe_stream", (PyCFunction)(void (*)(void))py_new_thread_unsafe_stream, KW,
     "new_thread_unsafe_stream(device)\n--\n\nMake a new stream usable from any thread."},
    {"new_thread_local_stream", (PyCFunction)(void (*)(void))py_new_thread_local_stream, KW,
     "new_thread_local_stream(device)\n--\n\nMake a stream that resolves per thread."},
    {"stream", (PyCFunction)(void (*)(void))py_stream, KW,
     "stream(s)\n--\n\nCreate a context manager to set the default device and stream."},
    {"synchronize", (PyCFunction)(void (*)(void))py_synchronize, KW,
     "synchronize(stream=None)\n--\n\nSynchronize with the given stream."},
    {"clear_streams", py_clear_streams, METH_NOARGS,
     "clear_streams()\n--\n\nDestroy this thread's streams and reset its random state."},
    {NULL, NULL, 0, NULL},
};

/* DeviceType is an enum.Enum whose comparison with None raises and whose repr is
 * "DeviceType.gpu", as MLX's. */
static const char device_type_src[] =
    "import enum\n"
    "class DeviceType(enum.Enum):\n"
    "    cpu = 0\n"
    "    gpu = 1\n"
    "    def __eq__(self, other):\n"
    "        if other is None:\n"
    "            raise TypeError('__eq__(): incompatible function arguments: '\n"
    "                            'mlx.core.DeviceType compared with None.')\n"
    "        return self is other if isinstance(other, DeviceType) else NotImplemented\n"
    "    def __ne__(self, other):\n"
    "        eq = self.__eq__(other)\n"
    "        return eq if eq is NotImplemented else not eq\n"
    "    __hash__ = enum.Enum.__hash__\n"
    "    def __repr__(self):\n"
    "        return 'DeviceType.' + self.name\n"
    "DeviceType.__module__ = 'mlx.core'\n";

static int make_device_type_enum(PyObject *m) {
  PyObject *ns = PyDict_New();
  if (!ns) return -1;
  int rc = -1;
  PyObject *builtins = PyEval_GetBuiltins();
  if (PyDict_SetItemString(ns, "__builtins__", builtins) < 0) goto done;
  PyObject *r = PyRun_String(device_type_src, Py_file_input, ns, ns);
  if (!r) goto done;
  Py_DECREF(r);
  device_type_enum = PyDict_GetItemString(ns, "DeviceType");
  if (!device_type_enum) goto done;
  Py_INCREF(device_type_enum);
  device_type_objs[0] = PyObject_GetAttrString(device_type_enum, "cpu");
  device_type_objs[1] = PyObject_GetAttrString(device_type_enum, "gpu");
  if (!device_type_objs[0] || !device_type_objs[1]) goto done;
  if (PyModule_AddObjectRef(m, "DeviceType", device_type_enum) < 0 ||
      PyModule_AddObjectRef(m, "cpu", device_type_objs[0]) < 0 ||
      PyModule_AddObjectRef(m, "gpu", device_type_objs[1]) < 0)
    goto done;
  rc = 0;
done:
  Py_DECREF(ns);
  return rc;
}

int mxpy_stream_init(PyObject *m) {
  if (PyType_Ready(&device_type) < 0 || PyType_Ready(&stream_type) < 0 ||
      PyType_Ready(&tls_type) < 0 || PyType_Ready(&stream_ctx_type) < 0)
    return -1;
  if (make_device_type_enum(m) < 0) return -1;
  if (PyModule_AddObjectRef(m, "Device", (PyObject *)&device_type) < 0 ||
      PyModule_AddObjectRef(m, "Stream", (PyObject *)&stream_type) < 0 ||
      PyModule_AddObjectRef(m, "ThreadLocalStream", (PyObject *)&tls_type) < 0 ||
      PyModule_AddObjectRef(m, "StreamContext", (PyObject *)&stream_ctx_type) < 0)
    return -1;
  return 0;
}
