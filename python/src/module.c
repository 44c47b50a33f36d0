/* module.c: PyInit_core for the `mlx.core` extension: the module and its submodules random,
 * linalg, fft, fast, distributed (registered in sys.modules), the generated method tables plus the hand-written
 * ones, the types, constants, __version__, and the drain of every stream at exit and
 * before fork. Depends on py_bindings_gen.h (generated) and the hand-written *_py.c files. */
#include "mxpy_internal.h"

#include <math.h>

#include "py_bindings_gen.h"
#include "stream.h"

/* broadcast_shapes (shape_py.c). */
extern PyMethodDef mxpy_shape_methods[];

/* mlx.core._testing (testing_py.c): fault-injection hooks for the test suite. */
PyObject *mxpy_testing_module(void);
/* load/save functions (io_py.c). */
extern PyMethodDef mxpy_io_methods[];

/* Our own version, in a form that compares as MLX 0.32.2 (a PEP 440 local label). */
#ifndef MXPY_VERSION
#define MXPY_VERSION "0.32.2+mlxc.0.1.0"
#endif

/* Waits for every stream of the process; the GIL is released while waiting. */
static PyObject *py_drain(PyObject *m, PyObject *unused) {
  Py_BEGIN_ALLOW_THREADS
  mx_synchronize_all();
  Py_END_ALLOW_THREADS
  mx_error_clear(); /* errors of unwaited work are not reported at exit */
  Py_RETURN_NONE;
}

static PyMethodDef drain_def = {"_drain_all_streams", py_drain, METH_NOARGS,
                                "Wait for every stream (used at exit and before fork)."};

/* atexit.register(drain); os.register_at_fork(before=drain). */
static int register_drain(PyObject *m) {
  PyObject *fn = PyCFunction_NewEx(&drain_def, m, NULL);
  if (!fn) return -1;
  int rc = -1;
  PyObject *atexit = PyImport_ImportModule("atexit");
  PyObject *os = atexit ? PyImport_ImportModule("os") : NULL;
  if (!os) goto done;
  PyObject *r = PyObject_CallMethod(atexit, "register", "O", fn);
  if (!r) goto done;
  Py_DECREF(r);
  PyObject *reg = PyObject_GetAttrString(os, "register_at_fork");
  if (reg) { /* absent on platforms without fork */
    PyObject *kw = Py_BuildValue("{s:O}", "before", fn);
    PyObject *empty = PyTuple_New(0);
    r = (kw && empty) ? PyObject_Call(reg, empty, kw) : NULL;
    Py_XDECREF(kw);
    Py_XDECREF(empty);
    Py_DECREF(reg);
    if (!r) goto done;
    Py_DECREF(r);
  } else {
    PyErr_Clear();
  }
  rc = PyModule_AddObjectRef(m, "_drain_all_streams", fn);
done:
  Py_XDECREF(os);
  Py_XDECREF(atexit);
  Py_DECREF(fn);
  return rc;
}

static int add_constants(PyObject *m) {
  struct {
    const char *name;
    double v;
  } consts[] = {
      {"e", 2.71828182845904523536},
      {"pi", 3.14159265358979323846},
      {"inf", INFINITY},
      {"nan", NAN},
      {"euler_gamma", 0.57721566490153286061},
  };
  for (size_t i = 0; i < MX_ARRAY_LEN(consts); i++) {
    PyObject *f = PyFloat_FromDouble(consts[i].v);
    if (!f || PyModule_AddObject(m, consts[i].name, f) < 0) {
      Py_XDECREF(f);
      return -1;
    }
  }
  if (PyModule_AddObjectRef(m, "newaxis", Py_None) < 0) return -1;
  return PyModule_AddStringConstant(m, "__version__", MXPY_VERSION);
}

/* Adds a submodule as m.<attr> and sys.modules[<full name>]; steals sub. */
static int add_submodule(PyObject *m, const char *attr, const char *full, PyObject *sub) {
  if (!sub) return -1;
  int rc = -1;
  PyObject *modules = PyImport_GetModuleDict();
  if (PyDict_SetItemString(modules, full, sub) == 0) rc = PyModule_AddObjectRef(m, attr, sub);
  Py_DECREF(sub);
  return rc;
}

/* The submodules: generated functions first, then the optional hand-written init (whose
 * definitions win on a clash). PyModuleDef must outlive the module: static storage. */
static struct PyModuleDef sub_defs[] = {
    {PyModuleDef_HEAD_INIT, .m_name = "mlx.core.random", .m_size = -1,
     .m_doc = "mlx.core.random: functionality related to random number generation"},
    {PyModuleDef_HEAD_INIT, .m_name = "mlx.core.linalg", .m_size = -1,
     .m_doc = "mlx.core.linalg: linear algebra"},
    {PyModuleDef_HEAD_INIT, .m_name = "mlx.core.fft", .m_size = -1,
     .m_doc = "mlx.core.fft: discrete Fourier transforms"},
    {PyModuleDef_HEAD_INIT, .m_name = "mlx.core.fast", .m_size = -1,
     .m_doc = "mlx.core.fast: fused operations of machine-learning models"},
    {PyModuleDef_HEAD_INIT, .m_name = "mlx.core.distributed", .m_size = -1,
     .m_doc = "mlx.core.distributed: communication between processes"},
    {PyModuleDef_HEAD_INIT, .m_name = "mlx.core.metal", .m_size = -1,
     .m_doc = "mlx.core.metal: the Metal back-end (absent in this build)"},
    {PyModuleDef_HEAD_INIT, .m_name = "mlx.core.cuda", .m_size = -1,
     .m_doc = "mlx.core.cuda: the CUDA back-end"},
};

int mxpy_linalg_init(PyObject *core, PyObject *linalg); /* linalg_py.c */
int mxpy_metal_init(PyObject *core, PyObject *metal);   /* backends_py.c */
int mxpy_cuda_init(PyObject *core, PyObject *cuda);     /* backends_py.c */
static PyMethodDef no_methods[] = {{NULL, NULL, 0, NULL}};

static int add_submodules(PyObject *m) {
  struct {
    const char *attr;
    PyMethodDef *generated;
    int (*init)(PyObject *core, PyObject *sub);
  } subs[] = {
      {"random", mxpy_random_methods_gen, mxpy_random_init},
      {"linalg", mxpy_linalg_methods_gen, mxpy_linalg_init},
      {"fft", mxpy_fft_methods_gen, NULL},
      {"fast", mxpy_fast_methods_gen, mxpy_fast_init},
      {"distributed", mxpy_distributed_methods_gen, mxpy_distributed_init},
      {"metal", no_methods, mxpy_metal_init},
      {"cuda", no_methods, mxpy_cuda_init},
  };
  _Static_assert(MX_ARRAY_LEN(subs) == MX_ARRAY_LEN(sub_defs), "one PyModuleDef a submodule");
  for (size_t i = 0; i < MX_ARRAY_LEN(subs); i++) {
    PyObject *r = PyModule_Create(&sub_defs[i]);
    if (!r) return -1;
    if (PyModule_AddFunctions(r, subs[i].generated) < 0 ||
        (subs[i].init && subs[i].init(m, r) < 0)) {
      Py_DECREF(r);
      return -1;
    }
    if (add_submodule(m, subs[i].attr, sub_defs[i].m_name, r) < 0) return -1;
  }
  return 0;
}

static struct PyModuleDef core_def = {
    PyModuleDef_HEAD_INIT,
    .m_name = "mlx.core",
    .m_doc = "mlx: a framework for machine learning on Linux CPUs and NVIDIA GPUs "
             "(MLX-compatible, C core)",
    .m_size = -1,
};

PyMODINIT_FUNC PyInit_core(void) {
  PyObject *m = PyModule_Create(&core_def);
  if (!m) return NULL;
  /* Types first: the generated functions and methods convert through them. */
  if (mxpy_dtype_init(m) < 0 || mxpy_stream_init(m) < 0 || mxpy_array_init(m) < 0 ||
      mxpy_eval_init(m) < 0 || mxpy_transforms_init(m) < 0)
    goto fail;
  if (mxpy_bindings_gen_init() < 0) goto fail;
  /* Generated functions first, hand-written ones after: on a clash the latter win. */
  if (PyModule_AddFunctions(m, mxpy_core_methods_gen) < 0 ||
      PyModule_AddFunctions(m, mxpy_dtype_methods) < 0 ||
      PyModule_AddFunctions(m, mxpy_stream_methods) < 0 ||
      PyModule_AddFunctions(m, mxpy_eval_methods) < 0 ||
      PyModule_AddFunctions(m, mxpy_transforms_methods) < 0 ||
      PyModule_AddFunctions(m, mxpy_shape_methods) < 0 ||
      PyModule_AddFunctions(m, mxpy_creation_methods) < 0 ||
      PyModule_AddFunctions(m, mxpy_io_methods) < 0 ||
      PyModule_AddFunctions(m, mxpy_dlpack_methods) < 0)
    goto fail;
  int mxpy_einsum_init(PyObject *m), mxpy_isdtype_init(PyObject *m); /* einsum_py.c, isdtype_py.c */
  if (mxpy_einsum_init(m) < 0 || mxpy_isdtype_init(m) < 0) goto fail;
  if (add_submodules(m) < 0 || add_constants(m) < 0 || register_drain(m) < 0) goto fail;
  if (add_submodule(m, "_testing", "mlx.core._testing", mxpy_testing_module()) < 0) goto fail;
  return m;
fail:
  Py_DECREF(m);
  return NULL;
}
