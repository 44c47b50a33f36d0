/* export_callback_py.c: mx.export_function with a callback in place of a file. As MLX does,
 * the traced graph is described to the callback one dict at a time: the inputs, the keyword
 * inputs, the outputs, the constants, then each primitive in tape order, every node named
 * A, B, ..., Z, AA, AB, ... in the order it is first described. Primitive parameters are
 * given as MLX's `state()` of the same primitive (shapes as tuples, axes as lists). */
#include "transforms_py.h"

#include "../../src/core/param_enums.h"
#include "../../src/core/reduce_scan_enums.h"
#include "../../src/transforms/tape.h"

typedef struct namer {
  PyObject *names; /* (kind, index, out) -> str */
  Py_ssize_t count;
} namer;

/* The name of ref r (borrowed), given on first use: 1 -> A, 26 -> Z, 27 -> AA, ... */
static PyObject *mxpy_export_name(namer *nm, mx_cref r) {
  PyObject *key = Py_BuildValue("(iii)", (int)r.kind, (int)r.index, r.kind == MX_REF_OP ? (int)r.out : 0);
  if (!key) return NULL;
  PyObject *name = PyDict_GetItemWithError(nm->names, key);
  if (!name && !PyErr_Occurred()) {
    char letters[32];
    int len = 0;
    for (Py_ssize_t v = ++nm->count; v > 0 && len < 31; v = (v - 1) / 26) letters[len++] = (char)('A' + (v - 1) % 26);
    char buf[32];
    for (int i = 0; i < len; i++) buf[i] = letters[len - 1 - i];
    name = PyUnicode_FromStringAndSize(buf, len);
    if (name && PyDict_SetItem(nm->names, key, name) < 0) Py_CLEAR(name);
    Py_XDECREF(name); /* the dict holds it */
  }
  Py_DECREF(key);
  return name;
}

static PyObject *mxpy_export_ints_tuple(int n, const int32_t *v) {
  PyObject *t = PyTuple_New(n);
  for (int i = 0; t && i < n; i++) {
    PyObject *x = PyLong_FromLong(v[i]);
    if (!x) Py_CLEAR(t);
    else PyTuple_SET_ITEM(t, i, x);
  }
  return t;
}

static PyObject *mxpy_export_ints_list(mx_ints a) {
  PyObject *t = mxpy_export_ints_tuple(a.n, a.v);
  PyObject *l = t ? PySequence_List(t) : NULL;
  Py_XDECREF(t);
  return l;
}

/* (name, shape, dtype) of ref r. */
static PyObject *mxpy_export_spec(namer *nm, const mx_tape *t, mx_cref r) {
  int ndim;
  const int32_t *shape;
  mx_dtype dtype;
  if (r.kind == MX_REF_INPUT) {
    ndim = t->in_ndims[r.index], shape = t->in_shapes[r.index], dtype = t->in_dtypes[r.index];
  } else if (r.kind == MX_REF_CONST) {
    const mx_array *c = t->consts[r.index];
    ndim = c->ndim, shape = c->shape, dtype = c->dtype;
  } else {
    const mx_tape_op *op = &t->ops[r.index];
    ndim = op->ndims[r.out], shape = op->shapes[r.out], dtype = op->dtypes[r.out];
  }
  PyObject *name = mxpy_export_name(nm, r);
  PyObject *sh = name ? mxpy_export_ints_tuple(ndim, shape) : NULL;
  if (!sh) return NULL;
  return Py_BuildValue("(ONO)", name, sh, mxpy_dtype_object(dtype));
}

/* MLX's Scatter / SliceUpdate reduce type (Max, Min, Sum, Prod, None). */
static int mxpy_export_scatter_kind(int reduce) {
  switch (reduce) {
    case MX_REDUCE_MAX: return 0;
    case MX_REDUCE_MIN: return 1;
    case MX_REDUCE_SUM: return 2;
    case MX_REDUCE_PROD: return 3;
    default: return 4;
  }
}

/* MLX's Scan reduce type (Max, Min, Sum, Prod, LogAddExp). */
static int mxpy_export_scan_kind(int kind) {
  switch (kind) {
    case MX_SCAN_MAX: return 0;
    case MX_SCAN_MIN: return 1;
    case MX_SCAN_SUM: return 2;
    case MX_SCAN_PROD: return 3;
    default: return 4;
  }
}

static PyObject *mxpy_export_no_state(const char *name) {
  PyErr_Format(PyExc_ValueError, "[export_function] Unable to get state for primitive %s", name);
  return NULL;
}

#define BUILD(...) Py_BuildValue(__VA_ARGS__)
#define TUP(ints) mxpy_export_ints_tuple((ints).n, (ints).v)
#define LST(ints) mxpy_export_ints_list(ints)

/* The primitive's name as MLX reports it (*name) and its state as a list. */
static PyObject *mxpy_export_state(const mx_tape_op *op, const char **name) {
  const void *p = op->params;
  *name = mx_prim_name(op->prim);
  PyObject *st = NULL;
  switch (op->prim) {
    case MX_PRIM_SQRT: *name = "Sqrt"; st = BUILD("[O]", Py_False); break;
    case MX_PRIM_RSQRT: *name = "Sqrt"; st = BUILD("[O]", Py_True); break;
    case MX_PRIM_LOG: *name = "Log"; st = BUILD("[i]", 2); break;
    case MX_PRIM_LOG2: *name = "Log"; st = BUILD("[i]", 0); break;
    case MX_PRIM_LOG10: *name = "Log"; st = BUILD("[i]", 1); break;
    case MX_PRIM_EQUAL: st = BUILD("[O]", Py_False); break;
    case MX_PRIM_BITWISE_AND: *name = "BitwiseBinary"; st = BUILD("[i]", 0); break;
    case MX_PRIM_BITWISE_OR: *name = "BitwiseBinary"; st = BUILD("[i]", 1); break;
    case MX_PRIM_BITWISE_XOR: *name = "BitwiseBinary"; st = BUILD("[i]", 2); break;
    case MX_PRIM_LEFT_SHIFT: *name = "BitwiseBinary"; st = BUILD("[i]", 3); break;
    case MX_PRIM_RIGHT_SHIFT: *name = "BitwiseBinary"; st = BUILD("[i]", 4); break;
    case MX_PRIM_ASTYPE: st = BUILD("[O]", mxpy_dtype_object(op->dtypes[0])); break;
    case MX_PRIM_VIEW: st = BUILD("[O]", mxpy_dtype_object(((const mx_p_view *)p)->dtype)); break;
    case MX_PRIM_REDUCE: {
      const mx_p_reduce *r = p;
      st = BUILD("[iN]", (int)r->kind, LST(r->axes));
      break;
    }
    case MX_PRIM_ARG_REDUCE: {
      const mx_p_arg_reduce *r = p;
      st = BUILD("[ii]", (int)r->kind, (int)r->axis);
      break;
    }
    case MX_PRIM_SCAN: {
      const mx_p_scan *r = p;
      if (r->kind == MX_SCAN_LOGADDEXP) return mxpy_export_no_state("CumLogAddExp");
      st = BUILD("[iiOO]", mxpy_export_scan_kind(r->kind), (int)r->axis, r->reverse ? Py_True : Py_False,
                 r->inclusive ? Py_True : Py_False);
      break;
    }
    case MX_PRIM_SOFTMAX: st = BUILD("[O]", ((const mx_p_softmax *)p)->precise ? Py_True : Py_False); break;
    case MX_PRIM_NUMBER_OF_ELEMENTS: {
      const mx_p_number_of_elements *r = p;
      st = BUILD("[NOO]", LST(r->axes), r->inverted ? Py_True : Py_False, mxpy_dtype_object(r->dtype));
      break;
    }
    case MX_PRIM_RESHAPE: st = BUILD("[N]", TUP(((const mx_p_reshape *)p)->shape)); break;
    case MX_PRIM_BROADCAST: st = BUILD("[N]", TUP(((const mx_p_broadcast *)p)->shape)); break;
    case MX_PRIM_TRANSPOSE: st = BUILD("[N]", LST(((const mx_p_transpose *)p)->axes)); break;
    case MX_PRIM_SLICE: {
      const mx_p_slice *r = p;
      st = BUILD("[NNN]", TUP(r->start), TUP(r->stop), TUP(r->strides));
      break;
    }
    case MX_PRIM_SLICE_UPDATE: {
      const mx_p_slice_update *r = p;
      st = BUILD("[iNNN]", 4, TUP(r->start), TUP(r->stop), TUP(r->strides));
      break;
    }
    case MX_PRIM_AS_STRIDED: {
      const mx_p_as_strided *r = p;
      PyObject *strides = PyTuple_New(r->strides.n);
      for (int i = 0; strides && i < r->strides.n; i++) {
        PyObject *x = PyLong_FromLongLong(r->strides.v[i]);
        if (!x) Py_CLEAR(strides);
        else PyTuple_SET_ITEM(strides, i, x);
      }
      if (strides) st = BUILD("[NNL]", TUP(r->shape), strides, (long long)r->offset);
      break;
    }
    case MX_PRIM_CONCATENATE: st = BUILD("[i]", (int)((const mx_p_concatenate *)p)->axis); break;
    case MX_PRIM_PAD: {
      const mx_p_pad *r = p;
      st = BUILD("[NNN]", LST(r->axes), TUP(r->low), TUP(r->high));
      break;
    }
    case MX_PRIM_ADDMM: {
      const mx_p_addmm *r = p;
      st = BUILD("[dd]", (double)(float)r->alpha, (double)(float)r->beta);
      break;
    }
    case MX_PRIM_ARANGE: {
      const mx_p_arange *r = p;
      st = BUILD("[ddd]", r->start, r->stop, r->step);
      break;
    }
    case MX_PRIM_GATHER: {
      const mx_p_gather *r = p;
      st = BUILD("[NN]", LST(r->axes), TUP(r->slice_sizes));
      break;
    }
    case MX_PRIM_GATHER_AXIS: st = BUILD("[i]", (int)((const mx_p_gather_axis *)p)->axis); break;
    case MX_PRIM_SCATTER: {
      const mx_p_scatter *r = p;
      st = BUILD("[iN]", mxpy_export_scatter_kind(r->reduce), LST(r->axes));
      break;
    }
    case MX_PRIM_SCATTER_AXIS: {
      const mx_p_scatter_axis *r = p;
      st = BUILD("[ii]", r->reduce == MX_REDUCE_SUM ? 0 : 1, (int)r->axis);
      break;
    }
    case MX_PRIM_DYNAMIC_SLICE: {
      const mx_p_dynamic_slice *r = p;
      st = BUILD("[NN]", LST(r->axes), TUP(r->slice_size));
      break;
    }
    case MX_PRIM_DYNAMIC_SLICE_UPDATE: st = BUILD("[N]", LST(((const mx_p_dynamic_slice_update *)p)->axes)); break;
    case MX_PRIM_SORT: st = BUILD("[i]", (int)((const mx_p_sort *)p)->axis); break;
    case MX_PRIM_ARGSORT: st = BUILD("[i]", (int)((const mx_p_argsort *)p)->axis); break;
    case MX_PRIM_PARTITION: {
      const mx_p_partition *r = p;
      st = BUILD("[ii]", (int)r->kth, (int)r->axis);
      break;
    }
    case MX_PRIM_ARGPARTITION: {
      const mx_p_argpartition *r = p;
      st = BUILD("[ii]", (int)r->kth, (int)r->axis);
      break;
    }
    case MX_PRIM_SEARCH_SORTED: st = BUILD("[O]", ((const mx_p_search_sorted *)p)->right ? Py_True : Py_False); break;
    case MX_PRIM_RANDOM_BITS:
      st = BUILD("[Ni]", mxpy_export_ints_tuple(op->ndims[0], op->shapes[0]), (int)((const mx_p_random_bits *)p)->width);
      break;
    case MX_PRIM_CONVOLUTION: {
      const mx_p_convolution *r = p;
      st = BUILD("[NNNNNiO]", LST(r->strides), LST(r->padding_lo), LST(r->padding_hi), LST(r->kernel_dilation),
                 LST(r->input_dilation), (int)r->groups, r->flip ? Py_True : Py_False);
      break;
    }
    case MX_PRIM_CONV_WEIGHT: {
      const mx_p_conv_weight *r = p;
      st = BUILD("[NNNNNiON]", LST(r->strides), LST(r->padding_lo), LST(r->padding_hi), LST(r->kernel_dilation),
                 LST(r->input_dilation), (int)r->groups, r->flip ? Py_True : Py_False, TUP(r->kernel));
      break;
    }
    case MX_PRIM_INVERSE: {
      const mx_p_inverse *r = p;
      st = BUILD("[OO]", r->tri ? Py_True : Py_False, r->upper ? Py_True : Py_False);
      break;
    }
    case MX_PRIM_CHOLESKY: st = BUILD("[O]", ((const mx_p_cholesky *)p)->upper ? Py_True : Py_False); break;
    case MX_PRIM_SVD: st = BUILD("[O]", ((const mx_p_svd *)p)->compute_uv ? Py_True : Py_False); break;
    case MX_PRIM_EIG: st = BUILD("[O]", ((const mx_p_eig *)p)->compute_eigenvectors ? Py_True : Py_False); break;
    case MX_PRIM_EIGH: {
      const mx_p_eigh *r = p;
      st = BUILD("[sO]", r->upper ? "U" : "L", r->compute_eigenvectors ? Py_True : Py_False);
      break;
    }
    case MX_PRIM_FFT: {
      const mx_p_fft *r = p;
      bool odd = r->real && r->inverse && (r->n % 2) != 0;
      st = BUILD("[NOOO]", LST(r->axes), r->inverse ? Py_True : Py_False, r->real ? Py_True : Py_False,
                 odd ? Py_True : Py_False);
      break;
    }
    case MX_PRIM_QUANTIZE:
    case MX_PRIM_DEQUANTIZE: {
      const mx_p_quantize *r = p; /* Dequantize has the same fields */
      bool deq = op->prim == MX_PRIM_DEQUANTIZE;
      *name = "Quantize";
      st = BUILD("[iiiO]", (int)r->group_size, (int)r->bits, (int)r->mode, deq ? Py_True : Py_False);
      break;
    }
    case MX_PRIM_QUANTIZED_MATMUL: {
      const mx_p_quantized_matmul *r = p;
      st = BUILD("[iiiO]", (int)r->group_size, (int)r->bits, (int)r->mode, r->transpose ? Py_True : Py_False);
      break;
    }
    case MX_PRIM_GATHER_QMM: {
      const mx_p_gather_qmm *r = p;
      st = BUILD("[iiiOOO]", (int)r->group_size, (int)r->bits, (int)r->mode, r->transpose ? Py_True : Py_False,
                 r->left_sorted ? Py_True : Py_False, r->right_sorted ? Py_True : Py_False);
      break;
    }
    case MX_PRIM_GATHER_MM:
      st = BUILD("[OO]", Py_False, ((const mx_p_gather_mm *)p)->sorted_indices ? Py_True : Py_False);
      break;
    case MX_PRIM_HADAMARD: st = BUILD("[d]", (double)(float)((const mx_p_hadamard *)p)->scale); break;
    case MX_PRIM_RMS_NORM: st = BUILD("[d]", (double)(float)((const mx_p_rms_norm *)p)->eps); break;
    case MX_PRIM_LAYER_NORM: st = BUILD("[d]", (double)(float)((const mx_p_layer_norm *)p)->eps); break;
    case MX_PRIM_ROPE: {
      const mx_p_rope *r = p;
      st = BUILD("[iOddO]", (int)r->dims, r->traditional ? Py_True : Py_False, (double)(float)r->base,
                 (double)(float)r->scale, r->forward ? Py_True : Py_False);
      break;
    }
    case MX_PRIM_SDPA: {
      const mx_p_sdpa *r = p;
      st = BUILD("[dOOO]", (double)(float)r->scale, r->causal ? Py_True : Py_False,
                 r->has_sinks ? Py_True : Py_False, Py_False);
      break;
    }
    case MX_PRIM_TO_FP8: *name = "ConvertFP8"; st = BUILD("[O]", Py_True); break;
    case MX_PRIM_FROM_FP8: *name = "ConvertFP8"; st = BUILD("[O]", Py_False); break;
    /* MLX has no state for these */
    case MX_PRIM_CONTIGUOUS: case MX_PRIM_BITWISE_INVERT: case MX_PRIM_LUF: case MX_PRIM_CUSTOM:
    case MX_PRIM_COMPILED: case MX_PRIM_LOAD: case MX_PRIM_ALL_REDUCE: case MX_PRIM_ALL_GATHER:
    case MX_PRIM_REDUCE_SCATTER: case MX_PRIM_SEND: case MX_PRIM_RECV: case MX_PRIM_CUSTOM_KERNEL:
      return mxpy_export_no_state(*name);
    default: st = PyList_New(0); break;
  }
  return st;
}

#undef BUILD
#undef TUP
#undef LST

/* Calls cb with a dict of the given (key, value) pairs (values stolen; NULL: failure). */
static int mxpy_export_emit(PyObject *cb, int n, const char *const *keys, PyObject **values) {
  PyObject *d = PyDict_New();
  int rc = d ? 0 : -1;
  for (int i = 0; i < n; i++) {
    if (rc == 0 && (!values[i] || PyDict_SetItemString(d, keys[i], values[i]) < 0)) rc = -1;
    Py_XDECREF(values[i]);
  }
  if (rc == 0) {
    PyObject *r = PyObject_CallOneArg(cb, d);
    if (!r) rc = -1;
    Py_XDECREF(r);
  }
  Py_XDECREF(d);
  return rc;
}

static int mxpy_export_emit_list(PyObject *cb, const char *key, const char *type, PyObject *list) {
  const char *keys[] = {key, "type"};
  PyObject *values[] = {list, PyUnicode_FromString(type)};
  return mxpy_export_emit(cb, 2, keys, values);
}

/* A list of the specs of refs[0..n). */
static PyObject *mxpy_export_specs(namer *nm, const mx_tape *t, int n, const mx_cref *refs) {
  PyObject *l = PyList_New(n);
  for (int i = 0; l && i < n; i++) {
    PyObject *s = mxpy_export_spec(nm, t, refs[i]);
    if (!s) Py_CLEAR(l);
    else PyList_SET_ITEM(l, i, s);
  }
  return l;
}

static int mxpy_export_describe(PyObject *cb, namer *nm, const mx_tape *t, int n_args, int n_kw,
                                const char *const *kw_names) {
  mx_cref *refs = PyMem_Calloc((size_t)t->n_inputs + 1, sizeof *refs);
  if (!refs) return PyErr_NoMemory(), -1;
  for (int i = 0; i < t->n_inputs; i++) refs[i] = (mx_cref){MX_REF_INPUT, i, 0};
  PyObject *inputs = mxpy_export_specs(nm, t, t->n_inputs, refs);
  PyMem_Free(refs);
  if (mxpy_export_emit_list(cb, "inputs", "inputs", inputs) < 0) return -1;

  PyObject *kws = PyList_New(n_kw);
  for (int j = 0; kws && j < n_kw; j++) {
    PyObject *name = mxpy_export_name(nm, (mx_cref){MX_REF_INPUT, n_args + j, 0});
    PyObject *pair = name ? Py_BuildValue("(sO)", kw_names[j], name) : NULL;
    if (!pair) Py_CLEAR(kws);
    else PyList_SET_ITEM(kws, j, pair);
  }
  if (mxpy_export_emit_list(cb, "keywords", "keyword_inputs", kws) < 0) return -1;

  if (mxpy_export_emit_list(cb, "outputs", "outputs", mxpy_export_specs(nm, t, t->n_outputs, t->outputs)) < 0)
    return -1;

  PyObject *consts = PyList_New(t->n_consts);
  for (int i = 0; consts && i < t->n_consts; i++) {
    PyObject *name = mxpy_export_name(nm, (mx_cref){MX_REF_CONST, i, 0});
    mx_array_retain(t->consts[i]);
    PyObject *arr = mxpy_array_wrap(t->consts[i]);
    PyObject *pair = name && arr ? Py_BuildValue("(OO)", name, arr) : NULL;
    Py_XDECREF(arr);
    if (!pair) Py_CLEAR(consts);
    else PyList_SET_ITEM(consts, i, pair);
  }
  if (mxpy_export_emit_list(cb, "constants", "constants", consts) < 0) return -1;

  for (int k = 0; k < t->n_ops; k++) {
    const mx_tape_op *op = &t->ops[k];
    const char *name;
    PyObject *state = mxpy_export_state(op, &name);
    if (!state) return -1;
    mx_cref *outs = PyMem_Calloc((size_t)op->n_out + 1, sizeof *outs);
    if (!outs) {
      Py_DECREF(state);
      return PyErr_NoMemory(), -1;
    }
    for (int j = 0; j < op->n_out; j++) outs[j] = (mx_cref){MX_REF_OP, k, j};
    const char *keys[] = {"arguments", "outputs", "inputs", "name", "type"};
    PyObject *values[5] = {state, NULL, NULL, NULL, NULL};
    values[2] = mxpy_export_specs(nm, t, op->n_in, op->in);
    values[1] = mxpy_export_specs(nm, t, op->n_out, outs);
    values[3] = PyUnicode_FromString(name);
    values[4] = PyUnicode_FromString("primitive");
    PyMem_Free(outs);
    if (mxpy_export_emit(cb, 5, keys, values) < 0) return -1;
  }
  return 0;
}

int mxpy_export_to_callback(PyObject *cb, const mx_exported *e) {
  int rc = 0;
  for (int i = 0; rc == 0 && i < mx_exported_count(e); i++) {
    int n_args, n_kw;
    const char *const *kw_names;
    const mx_tape *t = mx_exported_trace(e, i, &n_args, &n_kw, &kw_names);
    namer nm = {PyDict_New(), 0};
    rc = nm.names ? mxpy_export_describe(cb, &nm, t, n_args, n_kw, kw_names) : -1;
    Py_XDECREF(nm.names);
  }
  return rc;
}
