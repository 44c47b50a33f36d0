/* export_py.c: mx.export_function, mx.import_function and mx.exporter over
 * src/transforms/export.c (python-api.md section 18); export_function to a callback is
 * described by export_callback_py.c. Inputs are positional and keyword
 * arrays, or one tuple and/or one dict of arrays; keyword inputs are ordered by name. The
 * function returns an array or a list/tuple of arrays; an imported function returns a
 * tuple. The core calls run without the GIL. */
#include "transforms_py.h"

#include <stdlib.h>
#include <string.h>

static const char *inputs_error =
    "Inputs can either be a variable number of positional and keyword arrays or a single tuple "
    "and/or dictionary of arrays.";

/* The call's inputs: positional arrays (a tuple), keyword names sorted and their arrays. */
typedef struct call_inputs {
  PyObject *pos;     /* tuple */
  PyObject *names;   /* sorted list of str */
  PyObject *kw;      /* dict name -> array, in sorted order */
} call_inputs;

static void call_inputs_clear(call_inputs *c) {
  Py_CLEAR(c->pos);
  Py_CLEAR(c->names);
  Py_CLEAR(c->kw);
}

static int split_inputs(const char *tag, PyObject *rest, PyObject *kwargs, call_inputs *c) {
  Py_ssize_t n = PyTuple_GET_SIZE(rest);
  bool no_kw = !kwargs || PyDict_GET_SIZE(kwargs) == 0;
  PyObject *pos = rest, *kw = kwargs;
  if (no_kw && (n == 1 || n == 2) && PyTuple_Check(PyTuple_GET_ITEM(rest, 0)) &&
      (n == 1 || PyDict_Check(PyTuple_GET_ITEM(rest, 1)))) {
    pos = PyTuple_GET_ITEM(rest, 0);
    kw = n == 2 ? PyTuple_GET_ITEM(rest, 1) : NULL;
  } else if (no_kw && n == 1 && PyDict_Check(PyTuple_GET_ITEM(rest, 0))) {
    pos = NULL;
    kw = PyTuple_GET_ITEM(rest, 0);
  }
  c->pos = pos ? PySequence_Tuple(pos) : PyTuple_New(0);
  c->names = kw ? PyDict_Keys(kw) : PyList_New(0);
  c->kw = PyDict_New();
  if (!c->pos || !c->names || !c->kw || PyList_Sort(c->names) < 0) goto fail;
  for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(c->pos); i++)
    if (!MXPY_IS_ARRAY(PyTuple_GET_ITEM(c->pos, i))) goto bad;
  for (Py_ssize_t j = 0; j < PyList_GET_SIZE(c->names); j++) {
    PyObject *k = PyList_GET_ITEM(c->names, j), *v = PyDict_GetItemWithError(kw, k);
    if (!v || !PyUnicode_Check(k) || !MXPY_IS_ARRAY(v)) goto bad;
    if (PyDict_SetItem(c->kw, k, v) < 0) goto fail;
  }
  return 0;
bad:
  if (!PyErr_Occurred()) PyErr_Format(PyExc_ValueError, "[%s] %s", tag, inputs_error);
fail:
  call_inputs_clear(c);
  return -1;
}

/* Retained nodes of the inputs (positional then keyword) and the C keyword names. */
static mx_array **input_nodes(call_inputs *c, int *n, const char ***names) {
  PyObject *all = PySequence_List(c->pos);
  if (!all) return NULL;
  Py_ssize_t nk = PyList_GET_SIZE(c->names);
  *names = PyMem_Calloc((size_t)nk + 1, sizeof(char *));
  for (Py_ssize_t j = 0; *names && j < nk; j++) {
    PyObject *k = PyList_GET_ITEM(c->names, j);
    if (!((*names)[j] = PyUnicode_AsUTF8(k)) || PyList_Append(all, PyDict_GetItem(c->kw, k)) < 0) {
      PyMem_Free(*names);
      *names = NULL;
    }
  }
  mx_array **nodes = *names ? mxpy_nodes_from_list(all, n) : NULL;
  if (!*names && !PyErr_Occurred()) PyErr_NoMemory();
  Py_DECREF(all);
  if (!nodes) {
    PyMem_Free(*names);
    *names = NULL;
  }
  return nodes;
}

/* Traces fun on the inputs into e. */
static int add_trace(mx_exported *e, PyObject *fun, PyObject *rest, PyObject *kwargs, bool shapeless) {
  call_inputs c = {0};
  if (split_inputs("export_function", rest, kwargs, &c) < 0) return -1;
  const char **names = NULL;
  int n = 0, rc = -1;
  mx_array **nodes = input_nodes(&c, &n, &names);
  int n_args = (int)PyTuple_GET_SIZE(c.pos);
  int *pos = PyMem_Calloc((size_t)n_args + 1, sizeof(int));
  PyObject *kw_names = PyList_AsTuple(c.names);
  if (nodes && pos && kw_names) {
    for (int i = 0; i < n_args; i++) pos[i] = i;
    mxpy_closure p = {fun, c.pos, c.kw, pos, n_args, kw_names, MXPY_MODE_FLAT, "export_function", NULL};
    mx_closure cl = {mxpy_closure_call, &p};
    Py_BEGIN_ALLOW_THREADS
    rc = mx_exported_add(e, cl, nodes, n_args, names, n - n_args, shapeless);
    Py_END_ALLOW_THREADS
    if (rc < 0) mxpy_closure_raise(&p);
    mxpy_closure_clear(&p);
  } else if (!PyErr_Occurred()) {
    PyErr_NoMemory();
  }
  Py_XDECREF(kw_names);
  PyMem_Free(pos);
  PyMem_Free(names);
  mxpy_nodes_free(nodes, n);
  call_inputs_clear(&c);
  return rc;
}

/* The path of a str / os.PathLike argument (new bytes object) or NULL + exception. */
static PyObject *path_of(PyObject *file, const char *tag) {
  if (PyCallable_Check(file) && !PyUnicode_Check(file)) {
    PyErr_Format(PyExc_TypeError, "%s(): incompatible function arguments: the file must be a str "
                 "(only export_function takes a callback).", tag);
    return NULL;
  }
  PyObject *path = NULL;
  if (!PyUnicode_FSConverter(file, &path)) return NULL;
  return path;
}

static int metadata_of(PyObject *o, const char **out) {
  *out = NULL;
  if (!o || o == Py_None) return 0;
  if (!PyUnicode_Check(o)) {
    PyErr_Format(PyExc_TypeError, "[export_function] metadata must be a str, got %s.", Py_TYPE(o)->tp_name);
    return -1;
  }
  *out = PyUnicode_AsUTF8(o);
  return *out ? 0 : -1;
}

/* Removes and returns (borrowed, or NULL) the keyword options shapeless and metadata. */
static int pop_options(PyObject **kwargs, int *shapeless, PyObject **metadata) {
  *shapeless = 0;
  *metadata = NULL;
  if (!*kwargs) return 0;
  PyObject *kw = PyDict_Copy(*kwargs);
  if (!kw) return -1;
  PyObject *s = PyDict_GetItemString(kw, "shapeless");
  if (s) {
    *shapeless = PyObject_IsTrue(s);
    PyDict_DelItemString(kw, "shapeless");
  }
  PyObject *m = PyDict_GetItemString(kw, "metadata");
  if (m) {
    *metadata = Py_NewRef(m);
    PyDict_DelItemString(kw, "metadata");
  }
  *kwargs = kw;
  return *shapeless < 0 ? -1 : 0;
}

static PyObject *py_export_function(PyObject *m, PyObject *args, PyObject *kwargs) {
  if (PyTuple_GET_SIZE(args) < 2) {
    PyErr_SetString(PyExc_TypeError, "export_function() missing required arguments: 'file_or_callback', 'fun'");
    return NULL;
  }
  PyObject *file = PyTuple_GET_ITEM(args, 0), *fun = PyTuple_GET_ITEM(args, 1);
  PyObject *rest = PyTuple_GetSlice(args, 2, PyTuple_GET_SIZE(args)), *metadata = NULL, *path = NULL;
  PyObject *kw = kwargs, *result = NULL;
  int shapeless;
  const char *md;
  mx_exported *e = NULL;
  if (!rest || pop_options(&kw, &shapeless, &metadata) < 0 || metadata_of(metadata, &md) < 0) goto done;
  if (!PyCallable_Check(fun)) {
    PyErr_SetString(PyExc_TypeError, "[export_function] fun must be callable.");
    goto done;
  }
  bool to_callback = PyCallable_Check(file) && !PyUnicode_Check(file);
  if (to_callback && metadata && metadata != Py_None) {
    PyErr_SetString(PyExc_ValueError, "[export_function] The metadata argument is only supported when "
                                      "exporting to a file, not when using a callback.");
    goto done;
  }
  if (!to_callback && !(path = path_of(file, "export_function"))) goto done;
  if (!(e = mx_exported_new(md))) {
    mxpy_raise_or_runtime("export_function");
    goto done;
  }
  if (add_trace(e, fun, rest, kw, shapeless) < 0) goto done;
  if (to_callback) {
    if (mxpy_export_to_callback(file, e) == 0) result = Py_NewRef(Py_None);
    goto done;
  }
  int rc;
  Py_BEGIN_ALLOW_THREADS
  rc = mx_exported_save(e, PyBytes_AS_STRING(path));
  Py_END_ALLOW_THREADS
  if (rc < 0) mxpy_raise_or_runtime("export_function");
  else result = Py_NewRef(Py_None);
done:
  mx_exported_free(e);
  Py_XDECREF(rest);
  Py_XDECREF(path);
  Py_XDECREF(metadata);
  if (kw != kwargs) Py_XDECREF(kw);
  return result;
}

/* ---- imported functions ---- */

typedef struct {
  PyObject_HEAD
  mx_exported *e;
} mxpy_imported;

static PyObject *imported_call(PyObject *self, PyObject *args, PyObject *kwargs) {
  mxpy_imported *f = (mxpy_imported *)self;
  call_inputs c = {0};
  if (split_inputs("import_function::call", args, kwargs, &c) < 0) return NULL;
  const char **names = NULL;
  int n = 0, n_out = 0, rc;
  PyObject *result = NULL;
  mx_array **nodes = input_nodes(&c, &n, &names);
  mx_array **outs = nodes ? PyMem_Calloc(MX_MAX_OUTPUTS, sizeof(mx_array *)) : NULL;
  if (nodes && outs) {
    int n_args = (int)PyTuple_GET_SIZE(c.pos);
    Py_BEGIN_ALLOW_THREADS
    rc = mx_exported_call(f->e, nodes, n_args, names, n - n_args, outs, MX_MAX_OUTPUTS, &n_out);
    Py_END_ALLOW_THREADS
    if (rc < 0) {
      mxpy_raise_or_runtime("import_function::call");
    } else {
      PyObject *list = mxpy_list_from_nodes(outs, n_out);
      n_out = 0;
      if (list) result = PyList_AsTuple(list);
      Py_XDECREF(list);
    }
  } else if (nodes) {
    PyErr_NoMemory();
  }
  if (outs) mxpy_nodes_free(outs, n_out);
  mxpy_nodes_free(nodes, n);
  PyMem_Free(names);
  call_inputs_clear(&c);
  return result;
}

static void imported_dealloc(PyObject *o) {
  mx_exported_free(((mxpy_imported *)o)->e);
  Py_TYPE(o)->tp_free(o);
}

static PyTypeObject imported_type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "mlx.core.ImportedFunction",
    .tp_basicsize = sizeof(mxpy_imported),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A function loaded by mlx.core.import_function; returns a tuple of arrays.",
    .tp_call = imported_call,
    .tp_dealloc = imported_dealloc,
};

static PyObject *py_import_function(PyObject *m, PyObject *args, PyObject *kwds) {
  static char *kwlist[] = {"file", "return_metadata", NULL};
  PyObject *file;
  int want_md = 0;
  if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|p:import_function", kwlist, &file, &want_md)) return NULL;
  PyObject *path = NULL;
  if (!PyUnicode_FSConverter(file, &path)) return NULL;
  mx_exported *e;
  Py_BEGIN_ALLOW_THREADS
  e = mx_exported_load(PyBytes_AS_STRING(path));
  Py_END_ALLOW_THREADS
  Py_DECREF(path);
  if (!e) return mxpy_raise_or_runtime("import_function");
  mxpy_imported *f = PyObject_New(mxpy_imported, &imported_type);
  if (!f) {
    mx_exported_free(e);
    return NULL;
  }
  f->e = e;
  if (!want_md) return (PyObject *)f;
  PyObject *r = Py_BuildValue("(Ns)", (PyObject *)f, mx_exported_metadata(e));
  return r;
}

/* ---- the exporter (several traces in one file) ---- */

typedef struct {
  PyObject_HEAD
  PyObject *path;   /* bytes */
  PyObject *fun;
  int shapeless;
  mx_exported *e;   /* NULL once closed */
} mxpy_exporter;

static PyObject *exporter_close(PyObject *self, PyObject *unused) {
  mxpy_exporter *x = (mxpy_exporter *)self;
  if (!x->e) Py_RETURN_NONE;
  int rc;
  Py_BEGIN_ALLOW_THREADS
  rc = mx_exported_save(x->e, PyBytes_AS_STRING(x->path));
  Py_END_ALLOW_THREADS
  mx_exported_free(x->e);
  x->e = NULL;
  if (rc < 0) return mxpy_raise_or_runtime("exporter");
  Py_RETURN_NONE;
}

static PyObject *exporter_call(PyObject *self, PyObject *args, PyObject *kwargs) {
  mxpy_exporter *x = (mxpy_exporter *)self;
  if (!x->e) {
    PyErr_SetString(PyExc_RuntimeError, "[export_function] Attempting to write after exporting is closed.");
    return NULL;
  }
  if (add_trace(x->e, x->fun, args, kwargs, x->shapeless) < 0) return NULL;
  Py_RETURN_NONE;
}

static PyObject *exporter_enter(PyObject *self, PyObject *unused) { return Py_NewRef(self); }

static PyObject *exporter_exit(PyObject *self, PyObject *args) { return exporter_close(self, NULL); }

static void exporter_dealloc(PyObject *o) {
  mxpy_exporter *x = (mxpy_exporter *)o;
  if (x->e) { /* written when dropped unclosed, as a file object would flush */
    PyObject *r = exporter_close(o, NULL);
    if (!r) PyErr_WriteUnraisable(o);
    Py_XDECREF(r);
  }
  Py_XDECREF(x->path);
  Py_XDECREF(x->fun);
  Py_TYPE(o)->tp_free(o);
}

static PyMethodDef exporter_methods[] = {
    {"close", exporter_close, METH_NOARGS, "Write the file."},
    {"__enter__", exporter_enter, METH_NOARGS, NULL},
    {"__exit__", exporter_exit, METH_VARARGS, NULL},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject exporter_type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "mlx.core.FunctionExporter",
    .tp_basicsize = sizeof(mxpy_exporter),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Exports a function traced on each call's inputs (made by mlx.core.exporter).",
    .tp_call = exporter_call,
    .tp_dealloc = exporter_dealloc,
    .tp_methods = exporter_methods,
};

static PyObject *py_exporter(PyObject *m, PyObject *args, PyObject *kwds) {
  static char *kwlist[] = {"file", "fun", "shapeless", "metadata", NULL};
  PyObject *file, *fun, *metadata = Py_None;
  int shapeless = 0;
  const char *md;
  if (!PyArg_ParseTupleAndKeywords(args, kwds, "OO|$pO:exporter", kwlist, &file, &fun, &shapeless, &metadata))
    return NULL;
  if (!PyCallable_Check(fun)) {
    PyErr_SetString(PyExc_TypeError, "[exporter] fun must be callable.");
    return NULL;
  }
  if (metadata_of(metadata, &md) < 0) return NULL;
  PyObject *path = path_of(file, "exporter");
  if (!path) return NULL;
  mxpy_exporter *x = PyObject_New(mxpy_exporter, &exporter_type);
  if (!x) {
    Py_DECREF(path);
    return NULL;
  }
  x->path = path;
  x->fun = Py_NewRef(fun);
  x->shapeless = shapeless;
  x->e = mx_exported_new(md);
  if (!x->e) {
    Py_DECREF(x);
    return mxpy_raise_or_runtime("exporter");
  }
  return (PyObject *)x;
}

static PyMethodDef export_methods[] = {
    {"export_function", (PyCFunction)(void (*)(void))py_export_function, METH_VARARGS | METH_KEYWORDS,
     "export_function(file_or_callback, /, fun, *args, shapeless=False, metadata=None, **kwargs)\n--\n\n"
     "Trace fun on the example inputs and write it to a .mlxfn file."},
    {"import_function", (PyCFunction)(void (*)(void))py_import_function, METH_VARARGS | METH_KEYWORDS,
     "import_function(file, return_metadata=False)\n--\n\nLoad a function exported with "
     "export_function or exporter; calling it returns a tuple of arrays."},
    {"exporter", (PyCFunction)(void (*)(void))py_exporter, METH_VARARGS | METH_KEYWORDS,
     "exporter(file, fun, *, shapeless=False, metadata=None)\n--\n\nA context manager exporting fun "
     "traced on the inputs of each call; the file is written by close()."},
    {NULL, NULL, 0, NULL},
};

int mxpy_export_init(PyObject *m) {
  if (PyType_Ready(&imported_type) < 0 || PyType_Ready(&exporter_type) < 0) return -1;
  if (PyModule_AddObjectRef(m, "FunctionExporter", (PyObject *)&exporter_type) < 0) return -1;
  return PyModule_AddFunctions(m, export_methods);
}
