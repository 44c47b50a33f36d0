/* dtype_py.c: mx.Dtype (the 14 singleton dtype objects), DtypeCategory (an enum.Enum, its
 * values also exported as mx.generic ... mx.complexfloating), issubdtype, finfo, iinfo,
 * result_type and can_cast. Tables come from core/dtype.h; nothing here evaluates. */
#include "mxpy_internal.h"

#include <structmember.h>

#include "dtype.h"

/* ------------------------------------------------------------------------------------ */
/* Dtype                                                                                 */

typedef struct {
  PyObject_HEAD
  int t; /* mx_dtype */
} mxpy_dtype_obj;

static PyObject *dtype_objs[MX_DTYPE_COUNT];       /* strong, created at init */
static PyObject *category_enum;                    /* DtypeCategory (enum.Enum subclass) */
static PyObject *category_objs[MX_CAT_COUNT];      /* strong, indexed by mx_dtype_category */

PyObject *mxpy_dtype_object(mx_dtype t) {
  if ((int)t < 0 || t >= MX_DTYPE_COUNT) {
    PyErr_SetString(PyExc_ValueError, "[dtype] invalid dtype");
    return NULL;
  }
  return dtype_objs[t];
}

int mxpy_dtype_from_object(PyObject *o, mx_dtype *out) {
  if (o != NULL && MXPY_IS_DTYPE(o)) {
    *out = (mx_dtype)((mxpy_dtype_obj *)o)->t;
    return 0;
  }
  PyErr_Format(PyExc_TypeError, "Expected an mlx.core.Dtype, got %s.",
               o ? Py_TYPE(o)->tp_name : "NULL");
  return -1;
}

/* Dtype(n) returns the singleton with enum number n: used by pickling only. */
static PyObject *dtype_new(PyTypeObject *type, PyObject *args, PyObject *kwds) {
  int n;
  if (kwds && PyDict_GET_SIZE(kwds) > 0) {
    PyErr_SetString(PyExc_TypeError, "Dtype() takes no keyword arguments");
    return NULL;
  }
  if (!PyArg_ParseTuple(args, "i:Dtype", &n)) return NULL;
  if (n < 0 || n >= MX_DTYPE_COUNT) {
    PyErr_Format(PyExc_ValueError, "[Dtype] invalid dtype number %d", n);
    return NULL;
  }
  return Py_NewRef(dtype_objs[n]);
}

static PyObject *dtype_repr(PyObject *self) {
  return PyUnicode_FromFormat("mlx.core.%s", mx_dtype_name((mx_dtype)((mxpy_dtype_obj *)self)->t));
}

static Py_hash_t dtype_hash(PyObject *self) { return (Py_hash_t)((mxpy_dtype_obj *)self)->t; }

static PyObject *dtype_richcompare(PyObject *a, PyObject *b, int op) {
  if (op != Py_EQ && op != Py_NE) Py_RETURN_NOTIMPLEMENTED;
  if (b == Py_None) /* as MLX's binding, which takes a Dtype and refuses None */
    return PyErr_Format(PyExc_TypeError, "__eq__(): incompatible function arguments. The following "
                        "argument types are supported:\n    1. __eq__(self, arg: mlx.core.Dtype, /) -> bool"
                        "\n\nInvoked with types: mlx.core.Dtype, NoneType");
  bool eq = MXPY_IS_DTYPE(b) && ((mxpy_dtype_obj *)a)->t == ((mxpy_dtype_obj *)b)->t;
  if (op == Py_NE) eq = !eq;
  return PyBool_FromLong(eq);
}

static PyObject *dtype_get_size(PyObject *self, void *closure) {
  return PyLong_FromLong(mx_dtype_size((mx_dtype)((mxpy_dtype_obj *)self)->t));
}

static PyObject *dtype_reduce(PyObject *self, PyObject *unused) {
  return Py_BuildValue("(O(i))", (PyObject *)Py_TYPE(self), ((mxpy_dtype_obj *)self)->t);
}

static PyGetSetDef dtype_getset[] = {
    {"size", dtype_get_size, NULL, "Size of the type in bytes.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyMethodDef dtype_methods_tp[] = {
    {"__reduce__", dtype_reduce, METH_NOARGS, NULL},
    {NULL, NULL, 0, NULL},
};

PyTypeObject mxpy_dtype_type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "mlx.core.Dtype",
    .tp_basicsize = sizeof(mxpy_dtype_obj),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "An object to hold the type of a :class:`array`.",
    .tp_new = dtype_new,
    .tp_repr = dtype_repr,
    .tp_hash = dtype_hash,
    .tp_richcompare = dtype_richcompare,
    .tp_getset = dtype_getset,
    .tp_methods = dtype_methods_tp,
};

/* ------------------------------------------------------------------------------------ */
/* DtypeCategory                                                                         */

/* 1 = dtype in *t, 2 = category in *c, 0 = neither (no exception), -1 = error. */
static int dtype_or_category(PyObject *o, mx_dtype *t, mx_dtype_category *c) {
  if (MXPY_IS_DTYPE(o)) {
    *t = (mx_dtype)((mxpy_dtype_obj *)o)->t;
    return 1;
  }
  int is_cat = PyObject_IsInstance(o, category_enum);
  if (is_cat < 0) return -1;
  if (!is_cat) return 0;
  PyObject *v = PyObject_GetAttrString(o, "value");
  if (!v) return -1;
  long n = PyLong_AsLong(v);
  Py_DECREF(v);
  if (n == -1 && PyErr_Occurred()) return -1;
  if (n < 0 || n >= MX_CAT_COUNT) {
    PyErr_SetString(PyExc_ValueError, "[issubdtype] invalid DtypeCategory");
    return -1;
  }
  *c = (mx_dtype_category)n;
  return 2;
}

static PyObject *py_issubdtype(PyObject *mod, PyObject *const *args, Py_ssize_t nargs) {
  if (nargs != 2) {
    PyErr_Format(PyExc_TypeError, "issubdtype() takes exactly 2 positional arguments (%zd given)",
                 nargs);
    return NULL;
  }
  mx_dtype t1 = MX_BOOL, t2 = MX_BOOL;
  mx_dtype_category c1 = MX_CAT_GENERIC, c2 = MX_CAT_GENERIC;
  int k1 = dtype_or_category(args[0], &t1, &c1);
  if (k1 < 0) return NULL;
  int k2 = dtype_or_category(args[1], &t2, &c2);
  if (k2 < 0) return NULL;
  if (k1 == 0 || k2 == 0) {
    PyErr_Format(PyExc_TypeError,
                 "issubdtype(): incompatible function arguments: expected Dtype or "
                 "DtypeCategory, got %s and %s.",
                 Py_TYPE(args[0])->tp_name, Py_TYPE(args[1])->tp_name);
    return NULL;
  }
  bool r;
  if (k1 == 1 && k2 == 1) r = mx_issubdtype_dt(t1, t2);
  else if (k1 == 1) r = mx_issubdtype_dc(t1, c2);
  else if (k2 == 1) r = mx_issubdtype_cd(c1, t2);
  else r = mx_issubdtype_cc(c1, c2);
  return PyBool_FromLong(r);
}

/* ------------------------------------------------------------------------------------ */
/* finfo / iinfo                                                                         */

typedef struct {
  PyObject_HEAD
  double min, max, eps, smallest_normal;
  int bits;
  PyObject *dtype;
} mxpy_finfo_obj;

typedef struct {
  PyObject_HEAD
  PyObject *min, *max, *dtype;
  int bits;
} mxpy_iinfo_obj;

static int dtype_arg(PyObject *args, PyObject *kwds, const char *fname, mx_dtype *t) {
  static char *kwlist[] = {"dtype", NULL};
  PyObject *o;
  char fmt[32];
  snprintf(fmt, sizeof fmt, "O:%s", fname);
  if (!PyArg_ParseTupleAndKeywords(args, kwds, fmt, kwlist, &o)) return -1;
  if (MXPY_IS_ARRAY(o)) { /* NumPy-style convenience: finfo(x) uses x.dtype */
    mx_array *a = mxpy_array_node(o);
    if (!a) return -1;
    *t = a->dtype;
    return 0;
  }
  return mxpy_dtype_from_object(o, t);
}

static PyObject *finfo_new(PyTypeObject *type, PyObject *args, PyObject *kwds) {
  mx_dtype t;
  mx_finfo fi;
  if (dtype_arg(args, kwds, "finfo", &t) < 0) return NULL;
  if (mx_finfo_get(t, &fi) < 0) return mxpy_raise_or_runtime("finfo");
  mxpy_finfo_obj *self = (mxpy_finfo_obj *)type->tp_alloc(type, 0);
  if (!self) return NULL;
  self->min = fi.min;
  self->max = fi.max;
  self->eps = fi.eps;
  self->smallest_normal = fi.smallest_normal;
  self->bits = fi.bits;
  self->dtype = Py_NewRef(dtype_objs[fi.dtype]);
  return (PyObject *)self;
}

static void finfo_dealloc(PyObject *self) {
  Py_XDECREF(((mxpy_finfo_obj *)self)->dtype);
  Py_TYPE(self)->tp_free(self);
}

/* C++ ostream formatting of a double (6 significant digits, %g). */
static void fmt_g(char *buf, size_t n, double v) { snprintf(buf, n, "%g", v); }

static PyObject *finfo_repr(PyObject *o) {
  mxpy_finfo_obj *self = (mxpy_finfo_obj *)o;
  char a[64], b[64];
  fmt_g(a, sizeof a, self->min);
  fmt_g(b, sizeof b, self->max);
  return PyUnicode_FromFormat("finfo(min=%s, max=%s, dtype=%s)", a, b,
                              mx_dtype_name((mx_dtype)((mxpy_dtype_obj *)self->dtype)->t));
}

static PyMemberDef finfo_members[] = {
    {"min", T_DOUBLE, offsetof(mxpy_finfo_obj, min), READONLY, "The smallest representable number."},
    {"max", T_DOUBLE, offsetof(mxpy_finfo_obj, max), READONLY, "The largest representable number."},
    {"eps", T_DOUBLE, offsetof(mxpy_finfo_obj, eps), READONLY,
     "The difference between 1.0 and the next representable number above 1.0."},
    {"smallest_normal", T_DOUBLE, offsetof(mxpy_finfo_obj, smallest_normal), READONLY,
     "The smallest positive normal number."},
    {"bits", T_INT, offsetof(mxpy_finfo_obj, bits), READONLY, "Bits in the type."},
    {"dtype", T_OBJECT, offsetof(mxpy_finfo_obj, dtype), READONLY, "The Dtype."},
    {NULL, 0, 0, 0, NULL},
};

static PyTypeObject finfo_type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "mlx.core.finfo",
    .tp_basicsize = sizeof(mxpy_finfo_obj),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Get information on floating-point types.",
    .tp_new = finfo_new,
    .tp_dealloc = finfo_dealloc,
    .tp_repr = finfo_repr,
    .tp_members = finfo_members,
};

static PyObject *iinfo_new(PyTypeObject *type, PyObject *args, PyObject *kwds) {
  mx_dtype t;
  mx_iinfo ii;
  if (dtype_arg(args, kwds, "iinfo", &t) < 0) return NULL;
  if (mx_iinfo_get(t, &ii) < 0) return mxpy_raise_or_runtime("iinfo");
  mxpy_iinfo_obj *self = (mxpy_iinfo_obj *)type->tp_alloc(type, 0);
  if (!self) return NULL;
  self->min = PyLong_FromLongLong(ii.min);
  self->max = PyLong_FromUnsignedLongLong(ii.max);
  self->dtype = Py_NewRef(dtype_objs[ii.dtype]);
  self->bits = ii.bits;
  if (!self->min || !self->max) {
    Py_DECREF(self);
    return NULL;
  }
  return (PyObject *)self;
}

static void iinfo_dealloc(PyObject *o) {
  mxpy_iinfo_obj *self = (mxpy_iinfo_obj *)o;
  Py_XDECREF(self->min);
  Py_XDECREF(self->max);
  Py_XDECREF(self->dtype);
  Py_TYPE(o)->tp_free(o);
}

static PyObject *iinfo_repr(PyObject *o) {
  mxpy_iinfo_obj *self = (mxpy_iinfo_obj *)o;
  return PyUnicode_FromFormat("iinfo(min=%S, max=%S, dtype=%s)", self->min, self->max,
                              mx_dtype_name((mx_dtype)((mxpy_dtype_obj *)self->dtype)->t));
}

static PyMemberDef iinfo_members[] = {
    {"min", T_OBJECT, offsetof(mxpy_iinfo_obj, min), READONLY, "The smallest representable number."},
    {"max", T_OBJECT, offsetof(mxpy_iinfo_obj, max), READONLY, "The largest representable number."},
    {"bits", T_INT, offsetof(mxpy_iinfo_obj, bits), READONLY, "Bits in the type."},
    {"dtype", T_OBJECT, offsetof(mxpy_iinfo_obj, dtype), READONLY, "The Dtype."},
    {NULL, 0, 0, 0, NULL},
};

static PyTypeObject iinfo_type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "mlx.core.iinfo",
    .tp_basicsize = sizeof(mxpy_iinfo_obj),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Get information on integer types.",
    .tp_new = iinfo_new,
    .tp_dealloc = iinfo_dealloc,
    .tp_repr = iinfo_repr,
    .tp_members = iinfo_members,
};

/* ------------------------------------------------------------------------------------ */
/* result_type / can_cast                                                                */

static int dtype_of_operand(PyObject *o, mx_dtype *t, const char *op) {
  if (MXPY_IS_DTYPE(o)) {
    *t = (mx_dtype)((mxpy_dtype_obj *)o)->t;
    return 0;
  }
  if (MXPY_IS_ARRAY(o)) {
    mx_array *a = mxpy_array_node(o);
    if (!a) return -1;
    *t = a->dtype;
    return 0;
  }
  PyErr_Format(PyExc_TypeError, "[%s] Expected an array or a Dtype, got %s.", op,
               Py_TYPE(o)->tp_name);
  return -1;
}

static PyObject *py_result_type(PyObject *mod, PyObject *const *args, Py_ssize_t nargs) {
  if (nargs == 0) {
    PyErr_SetString(PyExc_ValueError, "[result_type] At least one array or dtype is required.");
    return NULL;
  }
  mx_dtype out;
  if (dtype_of_operand(args[0], &out, "result_type") < 0) return NULL;
  for (Py_ssize_t i = 1; i < nargs; i++) {
    mx_dtype t;
    if (dtype_of_operand(args[i], &t, "result_type") < 0) return NULL;
    out = mx_promote_types(out, t);
  }
  return Py_NewRef(dtype_objs[out]);
}

static PyObject *py_can_cast(PyObject *mod, PyObject *args, PyObject *kwds) {
  static char *kwlist[] = {"from_", "to", NULL};
  PyObject *a, *b;
  mx_dtype ta, tb;
  if (!PyArg_ParseTupleAndKeywords(args, kwds, "OO:can_cast", kwlist, &a, &b)) return NULL;
  if (dtype_of_operand(a, &ta, "can_cast") < 0) return NULL;
  if (mxpy_dtype_from_object(b, &tb) < 0) return NULL;
  return PyBool_FromLong(mx_promote_types(ta, tb) == tb);
}

PyMethodDef mxpy_dtype_methods[] = {
    {"issubdtype", (PyCFunction)(void (*)(void))py_issubdtype, METH_FASTCALL,
     "issubdtype(arg1, arg2, /)\n--\n\nCheck if a Dtype or DtypeCategory is a subtype of another."},
    {"result_type", (PyCFunction)(void (*)(void))py_result_type, METH_FASTCALL,
     "result_type(*arrays_and_dtypes)\n--\n\nThe type that results from promoting the inputs."},
    {"can_cast", (PyCFunction)(void (*)(void))py_can_cast, METH_VARARGS | METH_KEYWORDS,
     "can_cast(from_, to)\n--\n\nTrue if promoting from_ with to yields to."},
    {NULL, NULL, 0, NULL},
};

/* ------------------------------------------------------------------------------------ */

static const char *const category_names[MX_CAT_COUNT] = {
    "complexfloating", "floating", "inexact", "signedinteger",
    "unsignedinteger", "integer",  "number",  "generic",
};

static int make_category_enum(PyObject *m) {
  PyObject *enum_mod = PyImport_ImportModule("enum");
  if (!enum_mod) return -1;
  PyObject *members = PyList_New(0);
  int rc = -1;
  PyObject *kw = NULL, *args = NULL, *cls = NULL;
  if (!members) goto done;
  for (int i = 0; i < MX_CAT_COUNT; i++) {
    PyObject *pair = Py_BuildValue("(si)", category_names[i], i);
    if (!pair || PyList_Append(members, pair) < 0) {
      Py_XDECREF(pair);
      goto done;
    }
    Py_DECREF(pair);
  }
  cls = PyObject_GetAttrString(enum_mod, "Enum");
  args = Py_BuildValue("(sO)", "DtypeCategory", members);
  kw = Py_BuildValue("{s:s,s:s}", "module", "mlx.core", "qualname", "DtypeCategory");
  if (!cls || !args || !kw) goto done;
  category_enum = PyObject_Call(cls, args, kw);
  if (!category_enum) goto done;
  for (int i = 0; i < MX_CAT_COUNT; i++) {
    category_objs[i] = PyObject_GetAttrString(category_enum, category_names[i]);
    if (!category_objs[i]) goto done;
    if (PyModule_AddObjectRef(m, category_names[i], category_objs[i]) < 0) goto done;
  }
  if (PyModule_AddObjectRef(m, "DtypeCategory", category_enum) < 0) goto done;
  rc = 0;
done:
  Py_XDECREF(kw);
  Py_XDECREF(args);
  Py_XDECREF(cls);
  Py_XDECREF(members);
  Py_DECREF(enum_mod);
  return rc;
}

int mxpy_dtype_init(PyObject *m) {
  if (PyType_Ready(&mxpy_dtype_type) < 0 || PyType_Ready(&finfo_type) < 0 ||
      PyType_Ready(&iinfo_type) < 0)
    return -1;
  for (int i = 0; i < MX_DTYPE_COUNT; i++) {
    mxpy_dtype_obj *o = PyObject_New(mxpy_dtype_obj, &mxpy_dtype_type);
    if (!o) return -1;
    o->t = i;
    dtype_objs[i] = (PyObject *)o;
    if (PyModule_AddObjectRef(m, mx_dtype_py_name((mx_dtype)i), dtype_objs[i]) < 0) return -1;
  }
  if (PyModule_AddObjectRef(m, "Dtype", (PyObject *)&mxpy_dtype_type) < 0 ||
      PyModule_AddObjectRef(m, "finfo", (PyObject *)&finfo_type) < 0 ||
      PyModule_AddObjectRef(m, "iinfo", (PyObject *)&iinfo_type) < 0)
    return -1;
  return make_category_enum(m);
}
