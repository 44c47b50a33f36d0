/* fast_py.c: the hand-written parts of mx.fast: scaled_dot_product_attention (its mask is
 * None, the string "causal" or an array), and the custom-kernel builders metal_kernel,
 * cuda_kernel and precompiled_cuda_kernel (CUDA builds: kernels compiled at run time;
 * without CUDA they raise as MLX's builds do). metal_kernel returns a kernel whose call
 * raises RuntimeError (no Metal back-end). */
#include "mxpy_internal.h"

#include "../../src/ops/custom_kernel.h"

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

/* The call of a Metal kernel object: self is the message it raises. */
static PyObject *py_raising_kernel_call(PyObject *self, PyObject *args, PyObject *kw) {
  (void)args;
  (void)kw;
  PyErr_SetObject(PyExc_RuntimeError, self);
  return NULL;
}

static PyMethodDef raising_kernel_call_def = {
    "kernel", (PyCFunction)(void (*)(void))py_raising_kernel_call, METH_VARARGS | METH_KEYWORDS,
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
  PyObject *k = PyCFunction_New(&raising_kernel_call_def, text);
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

/* the builders' signatures, as MLX's bindings type them */
static const char *const cuda_names[] = {"name",   "input_names", "output_names",
                                         "source", "header",      "ensure_row_contiguous",
                                         "shared_memory"};
static PyObject *cuda_kw[7];
static const mxpy_sig cuda_sig = {"cuda_kernel", 7, 7, 0, 0xfu, 0, cuda_names, cuda_kw};

static const char *const pre_names[] = {
    "name",      "compiled_source", "inputs",      "output_shapes",         "output_dtypes",
    "scalars",   "grid",            "threadgroup", "shared_memory",         "init_value",
    "ensure_row_contiguous",        "stream"};
static PyObject *pre_kw[12];
static const mxpy_sig pre_sig = {"precompiled_cuda_kernel", 12, 0, 0, 0xffu, 0, pre_names,
                                 pre_kw};

#ifdef MLX_HAS_CUDA
/* ---- cuda_kernel: a kernel object holding its definition; each call generates the source
 * for its inputs and template arguments (src/ops/fast_kernel.c) ---- */

typedef struct ck_def_box {
  mx_ck_def def;
  char **names;             /* n_inputs + n_outputs owned strings */
  char *name, *source, *header;
} ck_def_box;

static void ck_box_free(PyObject *capsule) {
  ck_def_box *b = PyCapsule_GetPointer(capsule, "mlx.cuda_kernel");
  if (!b) return;
  int n = b->def.n_inputs + b->def.n_outputs;
  for (int i = 0; i < n && b->names; i++) PyMem_Free(b->names[i]);
  PyMem_Free(b->names);
  PyMem_Free(b->name);
  PyMem_Free(b->source);
  PyMem_Free(b->header);
  PyMem_Free(b);
}

static char *ck_strdup(PyObject *o) {
  Py_ssize_t n;
  const char *s = PyUnicode_AsUTF8AndSize(o, &n);
  if (!s) return NULL;
  char *d = PyMem_Malloc((size_t)n + 1);
  if (!d) {
    PyErr_NoMemory();
    return NULL;
  }
  memcpy(d, s, (size_t)n + 1);
  return d;
}

/* A sequence of exactly three ints. */
static int ck_triple(PyObject *o, const char *what, int out[3]) {
  PyObject *seq = o ? PySequence_Fast(o, "") : NULL;
  if (!seq || PySequence_Fast_GET_SIZE(seq) != 3) {
    Py_XDECREF(seq);
    PyErr_Clear();
    PyErr_Format(PyExc_TypeError, "cuda_kernel(): %s must be a tuple of three ints.", what);
    return -1;
  }
  for (int i = 0; i < 3; i++)
    if (mxpy_to_int(PySequence_Fast_GET_ITEM(seq, i), &out[i]) < 0) {
      Py_DECREF(seq);
      return -1;
    }
  Py_DECREF(seq);
  return 0;
}

/* The parts of a call both kernel kinds share: inputs, outputs, grid and threadgroup,
 * init_value and stream. Owns what it converts; ck_call_free releases it. */
typedef struct ck_call {
  mx_array **inputs;
  int n_inputs;
  int32_t **shapes;
  int *ndims;
  mx_dtype *dtypes;
  int n_out;
  mx_ck_launch l;
  mx_stream s;
} ck_call;

static void ck_call_free(ck_call *c) {
  for (int i = 0; i < c->n_inputs; i++)
    if (c->inputs[i]) mx_array_release(c->inputs[i]);
  for (int o = 0; o < c->n_out && c->shapes; o++) PyMem_Free(c->shapes[o]);
  PyMem_Free(c->inputs);
  PyMem_Free(c->shapes);
  PyMem_Free(c->ndims);
  PyMem_Free(c->dtypes);
}

static int ck_call_parse(const char *fn, PyObject *inputs, PyObject *shapes, PyObject *dtypes,
                         PyObject *grid, PyObject *group, PyObject *init, PyObject *stream,
                         ck_call *c) {
  memset(c, 0, sizeof *c);
  PyObject *si = PySequence_Fast(inputs, ""), *ss = NULL, *sd = NULL;
  if (!si) {
    PyErr_Format(PyExc_TypeError, "%s(): inputs must be a list of arrays.", fn);
    return -1;
  }
  int rc = -1;
  c->n_inputs = (int)PySequence_Fast_GET_SIZE(si);
  c->inputs = PyMem_Calloc((size_t)c->n_inputs + 1, sizeof *c->inputs);
  if (!c->inputs) goto nomem;
  for (int i = 0; i < c->n_inputs; i++)
    if (mxpy_to_array(PySequence_Fast_GET_ITEM(si, i), &c->inputs[i]) < 0) goto done;
  if (!(ss = PySequence_Fast(shapes, "")) || !(sd = PySequence_Fast(dtypes, ""))) {
    PyErr_Format(PyExc_TypeError, "%s(): output_shapes and output_dtypes must be lists.", fn);
    goto done;
  }
  if (PySequence_Fast_GET_SIZE(ss) != PySequence_Fast_GET_SIZE(sd)) {
    PyErr_Format(PyExc_ValueError, "[%s] Got %zd output shapes but %zd output dtypes.", fn,
                 PySequence_Fast_GET_SIZE(ss), PySequence_Fast_GET_SIZE(sd));
    goto done;
  }
  c->n_out = (int)PySequence_Fast_GET_SIZE(ss);
  c->shapes = PyMem_Calloc((size_t)c->n_out + 1, sizeof *c->shapes);
  c->ndims = PyMem_Calloc((size_t)c->n_out + 1, sizeof *c->ndims);
  c->dtypes = PyMem_Calloc((size_t)c->n_out + 1, sizeof *c->dtypes);
  if (!c->shapes || !c->ndims || !c->dtypes) goto nomem;
  for (int o = 0; o < c->n_out; o++) {
    int32_t storage[16], *sh = NULL, *heap = NULL;
    if (mxpy_to_shape(PySequence_Fast_GET_ITEM(ss, o), &sh, &c->ndims[o], storage, 16, &heap) < 0)
      goto done;
    c->shapes[o] = PyMem_Malloc(sizeof(int32_t) * (size_t)(c->ndims[o] + 1));
    if (!c->shapes[o]) {
      free(heap);
      goto nomem;
    }
    memcpy(c->shapes[o], sh, sizeof(int32_t) * (size_t)c->ndims[o]);
    free(heap);
    if (mxpy_to_dtype(PySequence_Fast_GET_ITEM(sd, o), &c->dtypes[o]) < 0) goto done;
  }
  if (ck_triple(grid, "grid", c->l.grid) < 0 || ck_triple(group, "threadgroup", c->l.group) < 0)
    goto done;
  if (init && init != Py_None) {
    double v;
    if (mxpy_to_double(init, &v) < 0) goto done;
    c->l.has_init = true;
    c->l.init_value = (float)v;
  }
  if (mxpy_to_stream(stream, &c->s) < 0) goto done;
  c->l.out_shapes = (const int32_t *const *)c->shapes;
  c->l.out_ndims = c->ndims;
  c->l.out_dtypes = c->dtypes;
  c->l.n_out = c->n_out;
  rc = 0;
  goto done;
nomem:
  PyErr_NoMemory();
done:
  Py_DECREF(si);
  Py_XDECREF(ss);
  Py_XDECREF(sd);
  if (rc < 0) ck_call_free(c);
  return rc;
}

/* template=[("T", mx.float32), ("N", 4), ("flag", True)] */
static int ck_templates(PyObject *o, mx_ck_template **out, int *n, PyObject **keep) {
  *out = NULL;
  *n = 0;
  *keep = NULL;
  if (!o || o == Py_None) return 0;
  PyObject *seq = PySequence_Fast(o, "");
  if (!seq) {
    PyErr_SetString(PyExc_TypeError, "cuda_kernel(): template must be a list of (name, value).");
    return -1;
  }
  int m = (int)PySequence_Fast_GET_SIZE(seq);
  mx_ck_template *t = PyMem_Calloc((size_t)m + 1, sizeof *t);
  if (!t) {
    Py_DECREF(seq);
    PyErr_NoMemory();
    return -1;
  }
  for (int i = 0; i < m; i++) {
    PyObject *pair = PySequence_Fast_GET_ITEM(seq, i), *nm, *v;
    if (!PyTuple_Check(pair) || PyTuple_GET_SIZE(pair) != 2 ||
        !PyUnicode_Check(nm = PyTuple_GET_ITEM(pair, 0))) {
      PyErr_SetString(PyExc_TypeError, "cuda_kernel(): template must be a list of (str, value).");
      goto fail;
    }
    v = PyTuple_GET_ITEM(pair, 1);
    if (!(t[i].name = PyUnicode_AsUTF8(nm))) goto fail;
    mx_dtype dt;
    if (PyBool_Check(v)) {
      t[i].kind = MX_CK_TEMPLATE_BOOL;
      t[i].value = v == Py_True;
    } else if (PyLong_Check(v)) {
      t[i].kind = MX_CK_TEMPLATE_INT;
      if (mxpy_to_int(v, &t[i].value) < 0) goto fail;
    } else if (mxpy_dtype_from_object(v, &dt) == 0) {
      t[i].kind = MX_CK_TEMPLATE_DTYPE;
      t[i].value = (int)dt;
    } else {
      PyErr_Clear();
      PyErr_Format(PyExc_TypeError, "[cuda_kernel] Invalid template argument %s: must be a Dtype, "
                   "int or bool, not %s.", t[i].name, Py_TYPE(v)->tp_name);
      goto fail;
    }
  }
  *out = t;
  *n = m;
  *keep = seq; /* keeps the names alive */
  return 0;
fail:
  PyMem_Free(t);
  Py_DECREF(seq);
  return -1;
}

static const char *const call_names[] = {"inputs",   "output_shapes", "output_dtypes",
                                         "grid",     "threadgroup",   "template",
                                         "init_value", "verbose",     "stream"};
static PyObject *call_kw[9];
static const mxpy_sig call_sig = {"cuda_kernel", 9, 0, 0, 0x1fu, 0, call_names, call_kw};

static PyObject *py_kernel_call(PyObject *self, PyObject *const *args, Py_ssize_t nargs,
                                PyObject *kw) {
  ck_def_box *b = PyCapsule_GetPointer(self, "mlx.cuda_kernel");
  if (!b) return NULL;
  PyObject *av[9] = {NULL};
  if (mxpy_parse_args(&call_sig, args, nargs, kw, av) < 0) return NULL;
  ck_call c;
  bool verbose = false;
  if ((av[7] && mxpy_to_bool(av[7], &verbose) < 0) ||
      ck_call_parse("cuda_kernel", av[0], av[1], av[2], av[3], av[4], av[6], av[8], &c) < 0)
    return NULL;
  PyObject *keep = NULL, *ret = NULL;
  mx_ck_template *t = NULL;
  if (ck_templates(av[5], &t, &c.l.n_templates, &keep) == 0) {
    c.l.templates = t;
    c.l.verbose = verbose;
    mx_array **outs = PyMem_Calloc((size_t)c.n_out + 1, sizeof *outs);
    if (!outs)
      PyErr_NoMemory();
    else if (mx_fast_cuda_kernel(&b->def, c.inputs, c.n_inputs, &c.l, c.s, outs) < 0)
      mxpy_raise();
    else
      ret = mxpy_list_from_nodes(outs, c.n_out);
    PyMem_Free(outs);
  }
  PyMem_Free(t);
  Py_XDECREF(keep);
  ck_call_free(&c);
  return ret;
}

static PyMethodDef kernel_call_def = {
    "kernel", (PyCFunction)(void (*)(void))py_kernel_call, METH_FASTCALL | METH_KEYWORDS,
    "kernel(*, inputs, output_shapes, output_dtypes, grid, threadgroup, template=None, "
    "init_value=None, verbose=False, stream=None)\n--\n\n"
    "Run the custom kernel; grid counts threads. Returns the list of outputs."};

static PyObject *ck_names(PyObject *o, const char *what, char **dst) {
  PyObject *seq = PySequence_Fast(o, "");
  if (!seq) {
    PyErr_Format(PyExc_TypeError, "cuda_kernel(): %s must be a sequence of str.", what);
    return NULL;
  }
  for (Py_ssize_t e = 0; e < PySequence_Fast_GET_SIZE(seq); e++) {
    PyObject *it = PySequence_Fast_GET_ITEM(seq, e);
    if (!PyUnicode_Check(it)) {
      Py_DECREF(seq);
      PyErr_Format(PyExc_TypeError, "cuda_kernel(): %s must be a sequence of str.", what);
      return NULL;
    }
    if (dst && !(dst[e] = ck_strdup(it))) {
      Py_DECREF(seq);
      return NULL;
    }
  }
  return seq;
}

static PyObject *py_cuda_kernel(PyObject *m, PyObject *const *args, Py_ssize_t nargs,
                                PyObject *kw) {
  (void)m;
  PyObject *av[7] = {NULL};
  if (mxpy_parse_args(&cuda_sig, args, nargs, kw, av) < 0) return NULL;
  const int str_params[] = {0, 3, 4};
  for (int i = 0; i < 3; i++) {
    PyObject *o = av[str_params[i]];
    if (o && !PyUnicode_Check(o)) {
      PyErr_Format(PyExc_TypeError, "cuda_kernel(): %s must be a str, not %s.",
                   cuda_names[str_params[i]], Py_TYPE(o)->tp_name);
      return NULL;
    }
  }
  bool row_contig = true;
  int smem = 0;
  if ((av[5] && mxpy_to_bool(av[5], &row_contig) < 0) || (av[6] && mxpy_to_int(av[6], &smem) < 0))
    return NULL;
  PyObject *si = ck_names(av[1], "input_names", NULL), *so = NULL;
  if (!si) return NULL;
  if (!(so = ck_names(av[2], "output_names", NULL))) {
    Py_DECREF(si);
    return NULL;
  }
  int ni = (int)PySequence_Fast_GET_SIZE(si), no = (int)PySequence_Fast_GET_SIZE(so);
  Py_DECREF(si);
  Py_DECREF(so);
  if (no < 1) {
    PyErr_SetString(PyExc_ValueError, "[cuda_kernel] Must specify at least one output.");
    return NULL;
  }
  ck_def_box *b = PyMem_Calloc(1, sizeof *b);
  if (!b) return PyErr_NoMemory();
  PyObject *cap = PyCapsule_New(b, "mlx.cuda_kernel", ck_box_free);
  if (!cap) {
    PyMem_Free(b);
    return NULL;
  }
  b->names = PyMem_Calloc((size_t)(ni + no + 1), sizeof(char *));
  if (!b->names) {
    Py_DECREF(cap);
    return PyErr_NoMemory();
  }
  b->def.n_inputs = ni;
  b->def.n_outputs = no;
  PyObject *t1 = NULL, *t2 = NULL;
  if (!(t1 = ck_names(av[1], "input_names", b->names)) ||
      !(t2 = ck_names(av[2], "output_names", b->names + ni)) || !(b->name = ck_strdup(av[0])) ||
      !(b->source = ck_strdup(av[3])) ||
      !(b->header = av[4] ? ck_strdup(av[4]) : PyMem_Calloc(1, 1))) {
    Py_XDECREF(t1);
    Py_XDECREF(t2);
    Py_DECREF(cap);
    return NULL;
  }
  Py_DECREF(t1);
  Py_DECREF(t2);
  b->def.name = b->name;
  b->def.source = b->source;
  b->def.header = b->header;
  b->def.input_names = (const char *const *)b->names;
  b->def.output_names = (const char *const *)(b->names + ni);
  b->def.ensure_row_contiguous = row_contig;
  b->def.shared_memory = smem;
  PyObject *k = PyCFunction_New(&kernel_call_def, cap);
  Py_DECREF(cap);
  return k;
}

static PyObject *py_precompiled_cuda_kernel(PyObject *m, PyObject *const *args,
                                            Py_ssize_t nargs, PyObject *kw) {
  (void)m;
  PyObject *av[12] = {NULL};
  if (mxpy_parse_args(&pre_sig, args, nargs, kw, av) < 0) return NULL;
  const char *name;
  char *bytes;
  Py_ssize_t len;
  if (!PyUnicode_Check(av[0]) || !(name = PyUnicode_AsUTF8(av[0]))) {
    if (!PyErr_Occurred())
      PyErr_SetString(PyExc_TypeError, "precompiled_cuda_kernel(): name must be a str.");
    return NULL;
  }
  if (!PyBytes_Check(av[1])) {
    PyErr_Format(PyExc_TypeError, "precompiled_cuda_kernel(): compiled_source must be bytes, "
                 "not %s.", Py_TYPE(av[1])->tp_name);
    return NULL;
  }
  PyBytes_AsStringAndSize(av[1], &bytes, &len);
  int smem = 0;
  bool row_contig = false;
  if ((av[8] && mxpy_to_int(av[8], &smem) < 0) || (av[10] && mxpy_to_bool(av[10], &row_contig) < 0))
    return NULL;
  PyObject *ss = PySequence_Fast(av[5], "");
  if (!ss) {
    PyErr_SetString(PyExc_TypeError, "precompiled_cuda_kernel(): scalars must be a list.");
    return NULL;
  }
  int nsc = (int)PySequence_Fast_GET_SIZE(ss);
  mx_ck_scalar *sc = PyMem_Calloc((size_t)nsc + 1, sizeof *sc);
  if (!sc) {
    Py_DECREF(ss);
    return PyErr_NoMemory();
  }
  for (int i = 0; i < nsc; i++) {
    PyObject *v = PySequence_Fast_GET_ITEM(ss, i);
    double d;
    if (PyBool_Check(v)) {
      sc[i].kind = MX_CK_BOOL;
      sc[i].v.b = v == Py_True;
    } else if (PyLong_Check(v)) {
      sc[i].kind = MX_CK_INT;
      if (mxpy_to_int(v, &sc[i].v.i) < 0) goto bad;
    } else if (PyFloat_Check(v) && mxpy_to_double(v, &d) == 0) {
      sc[i].kind = MX_CK_FLOAT;
      sc[i].v.f = (float)d;
    } else {
      PyErr_Format(PyExc_TypeError, "[precompiled_cuda_kernel] Scalar %d must be a bool, int or "
                   "float, not %s.", i, Py_TYPE(v)->tp_name);
      goto bad;
    }
  }
  Py_DECREF(ss);
  ck_call c;
  if (ck_call_parse("precompiled_cuda_kernel", av[2], av[3], av[4], av[6], av[7], av[9], av[11],
                    &c) < 0) {
    PyMem_Free(sc);
    return NULL;
  }
  PyObject *ret = NULL;
  mx_array **outs = PyMem_Calloc((size_t)c.n_out + 1, sizeof *outs);
  if (!outs)
    PyErr_NoMemory();
  else if (mx_fast_precompiled_cuda_kernel(name, bytes, (size_t)len, c.inputs, c.n_inputs, &c.l,
                                           sc, nsc, smem, row_contig, c.s, outs) < 0)
    mxpy_raise();
  else
    ret = mxpy_list_from_nodes(outs, c.n_out);
  PyMem_Free(outs);
  PyMem_Free(sc);
  ck_call_free(&c);
  return ret;
bad:
  Py_DECREF(ss);
  PyMem_Free(sc);
  return NULL;
}

#else /* no CUDA back-end: the builders raise, as MLX's do */

#define CUDA_KERNEL_MSG "[cuda_kernel] No CUDA back-end."

static PyObject *py_cuda_kernel(PyObject *m, PyObject *const *args, Py_ssize_t nargs,
                                PyObject *kw) {
  (void)m;
  PyObject *k = make_kernel("cuda_kernel", &cuda_sig, args, nargs, kw, CUDA_KERNEL_MSG);
  if (!k) return NULL;
  Py_DECREF(k);
  PyErr_SetString(PyExc_RuntimeError, CUDA_KERNEL_MSG);
  return NULL;
}

static PyObject *py_precompiled_cuda_kernel(PyObject *m, PyObject *const *args,
                                            Py_ssize_t nargs, PyObject *kw) {
  (void)m;
  PyObject *av[12] = {NULL};
  if (mxpy_parse_args(&pre_sig, args, nargs, kw, av) < 0) return NULL;
  PyErr_SetString(PyExc_RuntimeError, CUDA_KERNEL_MSG);
  return NULL;
}
#endif

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
     "A custom CUDA kernel compiled at run time (NVRTC) for the CUDA back-end; the body is "
     "source, the signature is generated from the inputs, outputs and template arguments."},
    {"precompiled_cuda_kernel", FASTCALL_KW(py_precompiled_cuda_kernel),
     "precompiled_cuda_kernel(*, name, compiled_source, inputs, output_shapes, output_dtypes, "
     "scalars, grid, threadgroup, shared_memory=0, init_value=None, "
     "ensure_row_contiguous=False, stream=None)\n--\n\n"
     "Launch the function `name` of a PTX or cubin image: arguments are the inputs, the "
     "outputs, then the scalars; grid counts threads."},
    {NULL, NULL, 0, NULL},
};

int mxpy_fast_init(PyObject *core, PyObject *fast_module) {
  (void)core;
  return PyModule_AddFunctions(fast_module, fast_methods);
}
