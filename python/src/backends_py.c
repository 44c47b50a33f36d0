/* backends_py.c: mlx.core.metal and mlx.core.cuda, as MLX's builds without Metal have them:
 * metal.is_available() is False, start_capture/stop_capture do nothing, device_info() is {},
 * and the deprecated metal.* memory functions print a notice and forward to their mlx.core
 * namesakes; cuda.is_available() says whether the CUDA back-end is running a GPU. */
#include <string.h>

#include "mxpy_internal.h"

#include "../../src/core/device.h"

static PyObject *metal_is_available(PyObject *m, PyObject *u) {
  (void)m;
  (void)u;
  Py_RETURN_FALSE;
}

static PyObject *metal_capture(PyObject *m, PyObject *path) {
  (void)m;
  if (!PyUnicode_Check(path)) {
    PyErr_Format(PyExc_TypeError, "start_capture(): path must be a str, not %s.",
                 Py_TYPE(path)->tp_name);
    return NULL;
  }
  Py_RETURN_NONE;
}

static PyObject *metal_stop_capture(PyObject *m, PyObject *u) {
  (void)m;
  (void)u;
  Py_RETURN_NONE;
}

static PyObject *cuda_is_available(PyObject *m, PyObject *u) {
  (void)m;
  (void)u;
  const mx_gpu_backend *g = mx_gpu();
  return PyBool_FromLong(g && strcmp(g->name, "cuda") == 0 && g->device_count() > 0);
}

/* metal.<name>(*args): a notice on stderr, then mlx.core.<name>(*args) ({} for device_info:
 * there is no Metal device). */
static PyObject *metal_alias(PyObject *self, PyObject *args) {
  const char *name = PyUnicode_AsUTF8(self);
  if (!name) return NULL;
  PySys_FormatStderr("mx.metal.%s is deprecated and will be removed in a future version. "
                     "Use mx.%s instead.\n", name, name);
  if (strcmp(name, "device_info") == 0) return PyDict_New();
  PyObject *core = PyImport_ImportModule("mlx.core");
  if (!core) return NULL;
  PyObject *f = PyObject_GetAttr(core, self);
  Py_DECREF(core);
  if (!f) return NULL;
  PyObject *r = PyObject_Call(f, args, NULL);
  Py_DECREF(f);
  return r;
}

static PyMethodDef alias_def = {"alias", metal_alias, METH_VARARGS,
                                "Deprecated alias of the mlx.core function of the same name."};

static PyMethodDef metal_methods[] = {
    {"is_available", metal_is_available, METH_NOARGS,
     "is_available() -> bool\n--\n\nWhether the Metal back-end is available (never here)."},
    {"start_capture", metal_capture, METH_O,
     "start_capture(path)\n--\n\nStart a Metal capture (nothing to capture here)."},
    {"stop_capture", metal_stop_capture, METH_NOARGS,
     "stop_capture()\n--\n\nStop a Metal capture (nothing to capture here)."},
    {NULL, NULL, 0, NULL},
};

static PyMethodDef cuda_methods[] = {
    {"is_available", cuda_is_available, METH_NOARGS,
     "is_available() -> bool\n--\n\nWhether the CUDA back-end is available."},
    {NULL, NULL, 0, NULL},
};

int mxpy_metal_init(PyObject *core, PyObject *metal) {
  (void)core;
  if (PyModule_AddFunctions(metal, metal_methods) < 0) return -1;
  static const char *const aliases[] = {
      "device_info",     "get_active_memory", "get_peak_memory", "reset_peak_memory",
      "get_cache_memory", "set_memory_limit", "set_cache_limit", "set_wired_limit",
      "clear_cache"};
  for (size_t i = 0; i < sizeof aliases / sizeof *aliases; i++) {
    PyObject *name = PyUnicode_FromString(aliases[i]);
    PyObject *f = name ? PyCFunction_NewEx(&alias_def, name, NULL) : NULL;
    Py_XDECREF(name);
    if (!f || PyModule_AddObject(metal, aliases[i], f) < 0) {
      Py_XDECREF(f);
      return -1;
    }
  }
  return 0;
}

int mxpy_cuda_init(PyObject *core, PyObject *cuda) {
  (void)core;
  return PyModule_AddFunctions(cuda, cuda_methods);
}
