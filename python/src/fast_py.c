/* fast_py.c: the hand-written parts of mx.fast: scaled_dot_product_attention (its mask is
 * None, the string "causal" or an array), and the custom-kernel builders metal_kernel,
 * cuda_kernel and precompiled_cuda_kernel, which raise as MLX's builds without those
 * back-ends do: the builders return a kernel whose call raises RuntimeError. */
#include "mxpy_internal.h"

#define SDPA_NAME "scaled_dot_product_attention"

static const char *const sdpa_names[] = {"q",     "k",     "v",           "scale",
                                         "mask",  "sinks", "force_fused", "stream"};
static PyObject *sdpa_kw[8];
static const mxpy_sig sdpa_sig = {SDPA_NAME, 8, 3, 0, 0xfu, 0, sdpa_names, sdpa_kw};

/* mask: None -> mode "", "causal" -> "causal", an array -> "array" (*mask set). */
static int sdpa_mask_arg(PyObject *o, const char **mode, mx_array **mask) {
  *mode = "";
  *mask = NULL;
  if (!o || o == Py_None) return 0;
  if (PyUnicode_Check(o)) {
    const char *sv = PyUnicode_AsUTF8(o);
    if (!sv) return -1;
    if (strcmp(sv, "causal") != 0) {
      PyErr_Format(PyExc_ValueError,
                   "[" SDPA_NAME "] invalid mask option '%s'. Must be 'causal', or an array.", sv);
      return -1;
    }
    *mode = "causal";
    return 0;
  }
  if (PyBool_Check(o) || PyLong_Check(o) || PyFloat_Check(o) || PyComplex_Check(o) ||
      PyList_Check(o) || PyTuple_Check(o)) {
    PyErr_Format(PyExc_TypeError,
                 SDPA_NAME "(): mask must be None, 'causal' or an array, not %s.",
                 Py_TYPE(o)->tp_name);
    return -1;
  }
  if (mxpy_to_array(o, mask) < 0) return -1;
  *mode = "array";
  return 0;
}

static PyObject *py_sdpa(PyObject *m, PyObject *const *args, Py_ssize_t nargs, PyObject *kw) {
  (void)m;
  PyObject *av[8] = {NULL};
  if (mxpy_parse_args(&sdpa_sig, args, nargs, kw, av) < 0) return NULL;
  mx_array *q = NULL, *k = NULL, *v = NULL, *mask = NULL, *sinks = NULL;
  double scale;
  bool force = false;
  const char *mode;
  mx_stream s;
  PyObject *ret = NULL;
  if (mxpy_to_array(av[0], &q) < 0 || mxpy_to_array(av[1], &k) < 0 ||
      mxpy_to_array(av[2], &v) < 0 || mxpy_to_double(av[3], &scale) < 0 ||
      sdpa_mask_arg(av[4], &mode, &mask) < 0 ||
      (av[5] && av[5] != Py_None && mxpy_to_array(av[5], &sinks) < 0) ||
      (av[6] && mxpy_to_bool(av[6], &force) < 0) || mxpy_to_stream(av[7], &s) < 0)
    goto done;
  /* force_fused asks for the fused kernel, which every CPU call uses */
  ret = mxpy_array_wrap(mx_fast_sdpa(q, k, v, scale, mode, mask, sinks, s));
done:
  if (q) mx_array_release(q);
  if (k) mx_array_release(k);
  if (v) mx_array_release(v);
  if (mask) mx_array_release(mask);
  if (sinks) mx_array_release(sinks);
  return ret;
}

/* ---- custom kernels ---- */

/* The call of a kernel object: self is the message it raises. */
static PyObject *py_kernel_call(PyObject *self, PyObject *args, PyObject *kw) {
  (void)args;
  (void)kw;
  PyErr_SetObject(PyExc_RuntimeError, self);
  return NULL;
}

static PyMethodDef kernel_call_def = {"kernel", (PyCFunction)(void (*)(void))py_kernel_call,
                                      METH_VARARGS | METH_KEYWORDS,
                                      "Launch the custom kernel (needs its GPU back-end)."};

/* Checks the builder's arguments as MLX's binding types them, then returns the kernel. */
static PyObject *make_kernel(const char *fn, const mxpy_sig *sig, PyObject *const *args,
                             Py_ssize_t nargs, PyObject *kw, const char *msg) {
  PyObject *av[8] = {NULL};
  if (mxpy_parse_args(sig, args, nargs, kw, av) < 0) return NULL;
  const int str_params[] = {0, 3, 4};
  for (int i = 0; i < 3; i++) {
    PyObject *o = av[str_params[i]];
    if (o && !PyUnicode_Check(o)) {
      PyErr_Format(PyExc_TypeError, "%s(): %s must be a str, not %s.", fn,
                   sig->names[str_params[i]], Py_TYPE(o)->tp_name);
      return NULL;
    }
  }
  for (int i = 1; i <= 2; i++) {
    PyObject *seq = PySequence_Fast(av[i], "");
    if (!seq) {
      PyErr_Format(PyExc_TypeError, "%s(): %s must be a sequence of str.", fn, sig->names[i]);
      return NULL;
    }
    for (Py_ssize_t e = 0; e < PySequence_Fast_GET_SIZE(seq); e++)
      if (!PyUnicode_Check(PySequence_Fast_GET_ITEM(seq, e))) {
        Py_DECREF(seq);
        PyErr_Format(PyExc_TypeError, "%s(): %s must be a sequence of str.", fn, sig->names[i]);
        return NULL;
      }
    Py_DECREF(seq);
  }
  PyObject *text = PyUnicode_FromString(msg);
  if (!text) return NULL;
  PyObject *k = PyCFunction_New(&kernel_call_def, text);
  Py_DECREF(text);
  return k;
}

static const char *const metal_names[] = {"name",   "input_names", "output_names",
                                          "source", "header",      "ensure_row_contiguous",
                                          "atomic_outputs", "compile_options"};
static PyObject *metal_kw[8];
static const mxpy_sig metal_sig = {"metal_kernel", 8, 8, 0, 0xfu, 0, metal_names, metal_kw};

static PyObject *py_metal_kernel(PyObject *m, PyObject *const *args, Py_ssize_t nargs,
                                 PyObject *kw) {
  (void)m;
  return make_kernel("metal_kernel", &metal_sig, args, nargs, kw, "[metal_kernel] No Metal back-end.");
}

#ifdef MLX_HAS_CUDA
#define CUDA_KERNEL_MSG "[cuda_kernel] Custom CUDA kernels are not supported by this build."
#else
#define CUDA_KERNEL_MSG "[cuda_kernel] No CUDA back-end."
#endif

static const char *const cuda_names[] = {"name",   "input_names", "output_names",
                                         "source", "header",      "ensure_row_contiguous",
                                         "shared_memory"};
static PyObject *cuda_kw[7];
static const mxpy_sig cuda_sig = {"cuda_kernel", 7, 7, 0, 0xfu, 0, cuda_names, cuda_kw};

static PyObject *py_cuda_kernel(PyObject *m, PyObject *const *args, Py_ssize_t nargs,
                                PyObject *kw) {
  (void)m;
  return make_kernel("cuda_kernel", &cuda_sig, args, nargs, kw, CUDA_KERNEL_MSG);
}

static const char *const pre_names[] = {
    "name",      "compiled_source", "inputs",      "output_shapes",         "output_dtypes",
    "scalars",   "grid",            "threadgroup", "shared_memory",         "init_value",
    "ensure_row_contiguous",        "stream"};
static PyObject *pre_kw[12];
static const mxpy_sig pre_sig = {"precompiled_cuda_kernel", 12, 0, 0, 0xffu, 0, pre_names,
                                 pre_kw};

static PyObject *py_precompiled_cuda_kernel(PyObject *m, PyObject *const *args,
                                            Py_ssize_t nargs, PyObject *kw) {
  (void)m;
  PyObject *av[12] = {NULL};
  if (mxpy_parse_args(&pre_sig, args, nargs, kw, av) < 0) return NULL;
  PyErr_SetString(PyExc_RuntimeError, CUDA_KERNEL_MSG);
  return NULL;
}

#define FASTCALL_KW(f) (PyCFunction)(void (*)(void))(f), METH_FASTCALL | METH_KEYWORDS

static PyMethodDef fast_methods[] = {
    {SDPA_NAME, FASTCALL_KW(py_sdpa),
     SDPA_NAME "(q, k, v, *, scale, mask=None, sinks=None, force_fused=False, stream=None)\n--\n\n"
               "softmax(scale * q @ k^T + mask) @ v over grouped key/value heads; mask is "
               "None, 'causal', a boolean array (True: visible) or an additive array."},
    {"metal_kernel", FASTCALL_KW(py_metal_kernel),
     "metal_kernel(name, input_names, output_names, source, header='', "
     "ensure_row_contiguous=True, atomic_outputs=False, compile_options=None)\n--\n\n"
     "A custom Metal kernel; calling it raises RuntimeError where Metal is unavailable."},
    {"cuda_kernel", FASTCALL_KW(py_cuda_kernel),
     "cuda_kernel(name, input_names, output_names, source, header='', "
     "ensure_row_contiguous=True, shared_memory=0)\n--\n\n"
     "A custom CUDA kernel; calling it raises RuntimeError on this build."},
    {"precompiled_cuda_kernel", FASTCALL_KW(py_precompiled_cuda_kernel),
     "precompiled_cuda_kernel(*, name, compiled_source, inputs, output_shapes, output_dtypes, "
     "scalars, grid, threadgroup, shared_memory=0, init_value=None, "
     "ensure_row_contiguous=False, stream=None)\n--\n\n"
     "Launch a precompiled CUDA kernel; raises RuntimeError on this build."},
    {NULL, NULL, 0, NULL},
};

int mxpy_fast_init(PyObject *core, PyObject *fast_module) {
  (void)core;
  return PyModule_AddFunctions(fast_module, fast_methods);
}
