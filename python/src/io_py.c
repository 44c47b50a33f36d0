/* io_py.c: mx.load, mx.save, mx.savez, mx.savez_compressed, mx.save_safetensors and
 * mx.save_gguf (spec/python-api.md section 13) over src/io: paths (str or os.PathLike,
 * memory-mapped and lazy) and binary file objects (read eagerly; written through their
 * write method, with the GIL taken back for each call). The core runs with the GIL
 * released. Depends on mxpy_internal.h and src/io/io.h. */
#include "mxpy_internal.h"

#include <stdlib.h>
#include <string.h>

#include "../../src/io/io.h"

/* ---- arguments ------------------------------------------------------------------------- */

/* str or os.PathLike -> a new UTF-8 copy in *path (caller frees); 0 if o is neither (no
 * error), 1 on success, -1 with an exception. */
static int as_path(PyObject *o, char **path) {
  *path = NULL;
  if (!PyUnicode_Check(o) && !PyObject_HasAttrString(o, "__fspath__")) return 0;
  PyObject *fs = PyOS_FSPath(o);
  if (!fs) return -1;
  if (PyBytes_Check(fs)) {
    PyObject *s = PyUnicode_DecodeFSDefaultAndSize(PyBytes_AS_STRING(fs), PyBytes_GET_SIZE(fs));
    Py_DECREF(fs);
    fs = s;
    if (!fs) return -1;
  }
  Py_ssize_t n;
  const char *u = PyUnicode_AsUTF8AndSize(fs, &n);
  if (u && (Py_ssize_t)strlen(u) != n) {
    PyErr_SetString(PyExc_ValueError, "embedded null character in path");
    u = NULL;
  }
  if (u) {
    *path = malloc((size_t)n + 1);
    if (*path) memcpy(*path, u, (size_t)n + 1);
    else PyErr_NoMemory();
  }
  Py_DECREF(fs);
  return *path ? 1 : -1;
}

static PyObject *str_object(const mx_io_str *s) {
  return PyUnicode_DecodeUTF8(s->s, (Py_ssize_t)s->len, "surrogateescape");
}

/* The UTF-8 bytes of a str key (borrowed). */
static const char *key_utf8(PyObject *k, Py_ssize_t *n, const char *op, const char *what) {
  if (!PyUnicode_Check(k)) {
    PyErr_Format(PyExc_TypeError, "[%s] %s must be str, got %s.", op, what, Py_TYPE(k)->tp_name);
    return NULL;
  }
  return PyUnicode_AsUTF8AndSize(k, n);
}

/* ---- Python file objects as writers ------------------------------------------------------ */

typedef struct py_sink {
  PyObject *file;
  PyObject *exc_type, *exc_value, *exc_tb; /* the exception write raised, re-raised later */
} py_sink;

#define PY_WRITE_CHUNK ((size_t)1 << 24)

static int py_write(void *ctx, const void *data, size_t n) {
  py_sink *s = ctx;
  PyGILState_STATE g = PyGILState_Ensure();
  int rc = 0;
  const char *p = data;
  while (n > 0 && rc == 0) {
    size_t k = n < PY_WRITE_CHUNK ? n : PY_WRITE_CHUNK;
    /* a bytes copy: the file object may keep what it is given */
    PyObject *b = PyBytes_FromStringAndSize(p, (Py_ssize_t)k);
    PyObject *r = b ? PyObject_CallMethod(s->file, "write", "O", b) : NULL;
    Py_XDECREF(b);
    if (!r) {
      rc = -1;
      break;
    }
    Py_ssize_t wrote = (Py_ssize_t)k;
    if (PyLong_Check(r)) { /* raw files may write less than asked */
      wrote = PyLong_AsSsize_t(r);
      if (wrote < 0 || (size_t)wrote > k) {
        if (!PyErr_Occurred())
          PyErr_SetString(PyExc_RuntimeError, "[save] file.write returned a bad count.");
        rc = -1;
      } else if (wrote == 0) {
        PyErr_SetString(PyExc_RuntimeError, "[save] file.write wrote nothing.");
        rc = -1;
      }
    }
    Py_DECREF(r);
    p += wrote;
    n -= (size_t)wrote;
  }
  if (rc != 0) {
    PyErr_Fetch(&s->exc_type, &s->exc_value, &s->exc_tb);
    mx_fail(MX_ERUNTIME, "[save] writing to the file object failed.");
  }
  PyGILState_Release(g);
  return rc;
}

typedef int (*save_fn)(mx_io_writer *w, void *args);

/* Runs fn on a writer over `file` (a path, with ext appended unless NULL, or an object with
 * a write method) with the GIL released. Returns None or NULL with an exception. */
static PyObject *run_save(PyObject *file, const char *ext, const char *op, save_fn fn,
                          void *args) {
  char *path = NULL;
  int is_path = as_path(file, &path);
  if (is_path < 0) return NULL;
  mx_io_writer w = {0};
  py_sink sink = {file, NULL, NULL, NULL};
  int rc;
  if (is_path) {
    char *full = ext ? mx_io_path_with_ext(path, ext) : path;
    if (ext) free(path);
    if (!full) return mxpy_raise();
    Py_BEGIN_ALLOW_THREADS
    rc = mx_io_writer_open_file(&w, full, op);
    if (rc == 0) {
      rc = fn(&w, args);
      if (mx_io_writer_close_file(&w, rc == 0, op) != 0 && rc == 0) rc = -1;
    }
    Py_END_ALLOW_THREADS
    free(full);
  } else {
    if (!PyObject_HasAttrString(file, "write")) {
      PyErr_Format(PyExc_ValueError,
                   "[%s] Input must be a file-like object opened in binary mode, or string", op);
      return NULL;
    }
    w.write = py_write;
    w.ctx = &sink;
    Py_BEGIN_ALLOW_THREADS
    rc = fn(&w, args);
    Py_END_ALLOW_THREADS
  }
  if (rc != 0) {
    if (sink.exc_type) {
      mx_error_clear();
      PyErr_Restore(sink.exc_type, sink.exc_value, sink.exc_tb);
      return NULL;
    }
    return mxpy_raise();
  }
  Py_RETURN_NONE;
}

/* ---- save ---------------------------------------------------------------------------------- */

static int save_npy_cb(mx_io_writer *w, void *a) { return mx_io_save_npy(w, a); }

static PyObject *py_save(PyObject *m, PyObject *args, PyObject *kwds) {
  static char *kwlist[] = {"file", "arr", NULL};
  PyObject *file, *arr;
  if (!PyArg_ParseTupleAndKeywords(args, kwds, "OO:save", kwlist, &file, &arr)) return NULL;
  if (!MXPY_IS_ARRAY(arr)) {
    PyErr_Format(PyExc_TypeError, "save(): arr must be an mlx.core.array, got %s.",
                 Py_TYPE(arr)->tp_name);
    return NULL;
  }
  mx_array *a = mxpy_array_node_retained(arr);
  if (!a) return NULL;
  PyObject *r = run_save(file, ".npy", "save", save_npy_cb, a);
  mx_array_release(a);
  return r;
}

/* Appends dict/kwargs items (str -> mx.array) to d; `op` names errors. */
static int collect_dict(PyObject *dict, mx_io_arrays *d, const char *op) {
  if (!PyDict_Check(dict)) {
    PyErr_Format(PyExc_TypeError, "[%s] arrays must be a dict of str to mlx.core.array, got %s.",
                 op, Py_TYPE(dict)->tp_name);
    return -1;
  }
  Py_ssize_t pos = 0;
  PyObject *k, *v;
  while (PyDict_Next(dict, &pos, &k, &v)) {
    Py_ssize_t n;
    const char *key = key_utf8(k, &n, op, "array names");
    if (!key) return -1;
    if (!MXPY_IS_ARRAY(v)) {
      PyErr_Format(PyExc_TypeError, "[%s] value of '%s' must be an mlx.core.array, got %s.", op,
                   key, Py_TYPE(v)->tp_name);
      return -1;
    }
    mx_array *a = mxpy_array_node_retained(v);
    if (!a || mx_io_arrays_push(d, key, (size_t)n, a) != 0) return a ? mxpy_raise_int() : -1;
  }
  return 0;
}

typedef struct savez_args {
  mx_io_arrays *d;
  bool compressed;
} savez_args;

static int save_npz_cb(mx_io_writer *w, void *p) {
  savez_args *a = p;
  return mx_io_save_npz(w, a->d, a->compressed);
}

static PyObject *savez_impl(PyObject *args, PyObject *kwds, bool compressed) {
  const char *op = compressed ? "savez_compressed" : "savez";
  Py_ssize_t nargs = PyTuple_GET_SIZE(args);
  PyObject *file = nargs ? PyTuple_GET_ITEM(args, 0) : NULL, *kw = NULL;
  if (!file && kwds) { /* savez(file=..., a=...) */
    file = PyDict_GetItemString(kwds, "file");
    if (file && !(kw = PyDict_Copy(kwds))) return NULL;
    if (kw && PyDict_DelItemString(kw, "file") < 0) {
      Py_DECREF(kw);
      return NULL;
    }
    kwds = kw;
  }
  if (!file) {
    PyErr_Format(PyExc_TypeError, "%s() missing required argument 'file'", op);
    return NULL;
  }
  mx_io_arrays d = {0};
  PyObject *res = NULL;
  for (Py_ssize_t i = 1; i < nargs; i++) { /* positional arrays after the file */
    char name[32];
    snprintf(name, sizeof name, "arr_%zd", i - 1);
    PyObject *v = PyTuple_GET_ITEM(args, i);
    if (kwds && PyDict_GetItemString(kwds, name)) {
      PyErr_Format(PyExc_ValueError, "[savez] Cannot use un-named variables and keyword %s",
                   name);
      goto done;
    }
    if (!MXPY_IS_ARRAY(v)) {
      PyErr_Format(PyExc_TypeError, "[%s] arguments must be mlx.core.array, got %s.", op,
                   Py_TYPE(v)->tp_name);
      goto done;
    }
    mx_array *a = mxpy_array_node_retained(v);
    if (!a) goto done;
    if (mx_io_arrays_push(&d, name, strlen(name), a) != 0) {
      mxpy_raise();
      goto done;
    }
  }
  if (kwds && collect_dict(kwds, &d, op) != 0) goto done;
  savez_args sa = {&d, compressed};
  res = run_save(file, ".npz", op, save_npz_cb, &sa);
done:
  mx_io_arrays_clear(&d);
  Py_XDECREF(kw);
  return res;
}

static PyObject *py_savez(PyObject *m, PyObject *args, PyObject *kwds) {
  return savez_impl(args, kwds, false);
}

static PyObject *py_savez_compressed(PyObject *m, PyObject *args, PyObject *kwds) {
  return savez_impl(args, kwds, true);
}

typedef struct dict_args {
  mx_io_arrays *d;
  mx_io_meta *meta;
} dict_args;

static int save_st_cb(mx_io_writer *w, void *p) {
  dict_args *a = p;
  return mx_io_save_safetensors(w, a->d, a->meta);
}

static int save_gguf_cb(mx_io_writer *w, void *p) {
  dict_args *a = p;
  return mx_io_save_gguf(w, a->d, a->meta);
}

static PyObject *py_save_safetensors(PyObject *m, PyObject *args, PyObject *kwds) {
  static char *kwlist[] = {"file", "arrays", "metadata", NULL};
  PyObject *file, *arrays, *metadata = Py_None;
  if (!PyArg_ParseTupleAndKeywords(args, kwds, "OO|O:save_safetensors", kwlist, &file, &arrays,
                                   &metadata))
    return NULL;
  mx_io_arrays d = {0};
  mx_io_meta meta = {0};
  PyObject *res = NULL;
  if (collect_dict(arrays, &d, "save_safetensors") != 0) goto done;
  if (metadata != Py_None) {
    bool ok = PyDict_Check(metadata);
    Py_ssize_t pos = 0;
    PyObject *k, *v;
    while (ok && PyDict_Next(metadata, &pos, &k, &v)) {
      Py_ssize_t kn, vn;
      const char *ks, *vs;
      if (!PyUnicode_Check(k) || !PyUnicode_Check(v)) {
        ok = false;
        break;
      }
      if (!(ks = PyUnicode_AsUTF8AndSize(k, &kn)) || !(vs = PyUnicode_AsUTF8AndSize(v, &vn)))
        goto done;
      if (mx_io_meta_push_string(&meta, ks, (size_t)kn, vs, (size_t)vn) != 0) {
        mxpy_raise();
        goto done;
      }
    }
    if (!ok) {
      PyErr_SetString(PyExc_ValueError, "[save_safetensors] Metadata must be a dictionary with "
                                        "string keys and values");
      goto done;
    }
  }
  dict_args da = {&d, &meta};
  res = run_save(file, ".safetensors", "save_safetensors", save_st_cb, &da);
done:
  mx_io_arrays_clear(&d);
  mx_io_meta_clear(&meta);
  return res;
}

/* GGUF metadata values: str, list[str] or mx.array. */
static int gguf_meta_value(mx_io_meta *meta, const char *k, size_t kn, PyObject *v) {
  if (PyUnicode_Check(v)) {
    Py_ssize_t n;
    const char *s = PyUnicode_AsUTF8AndSize(v, &n);
    if (!s) return -1;
    return mx_io_meta_push_string(meta, k, kn, s, (size_t)n) == 0 ? 0 : mxpy_raise_int();
  }
  if (MXPY_IS_ARRAY(v)) {
    mx_array *a = mxpy_array_node_retained(v);
    if (!a) return -1;
    return mx_io_meta_push_array(meta, k, kn, a) == 0 ? 0 : mxpy_raise_int();
  }
  if (PyList_Check(v)) {
    Py_ssize_t n = PyList_GET_SIZE(v);
    const char **strs = malloc((size_t)(n ? n : 1) * sizeof *strs);
    size_t *lens = malloc((size_t)(n ? n : 1) * sizeof *lens);
    int rc = (strs && lens) ? 0 : (PyErr_NoMemory(), -1);
    for (Py_ssize_t i = 0; rc == 0 && i < n; i++) {
      PyObject *e = PyList_GET_ITEM(v, i);
      Py_ssize_t l;
      if (!PyUnicode_Check(e)) {
        PyErr_Format(PyExc_TypeError, "[save_gguf] list metadata '%s' must hold only str.", k);
        rc = -1;
      } else if (!(strs[i] = PyUnicode_AsUTF8AndSize(e, &l))) {
        rc = -1;
      } else {
        lens[i] = (size_t)l;
      }
    }
    if (rc == 0 && mx_io_meta_push_strings(meta, k, kn, strs, lens, (size_t)n) != 0)
      rc = mxpy_raise_int();
    free(strs);
    free(lens);
    return rc;
  }
  PyErr_Format(PyExc_TypeError,
               "[save_gguf] Metadata value of '%s' must be str, list[str] or array, got %s.", k,
               Py_TYPE(v)->tp_name);
  return -1;
}

static PyObject *py_save_gguf(PyObject *m, PyObject *args, PyObject *kwds) {
  static char *kwlist[] = {"file", "arrays", "metadata", NULL};
  PyObject *file, *arrays, *metadata = Py_None;
  if (!PyArg_ParseTupleAndKeywords(args, kwds, "OO|O:save_gguf", kwlist, &file, &arrays,
                                   &metadata))
    return NULL;
  char *probe = NULL;
  int is_path = as_path(file, &probe);
  free(probe);
  if (is_path <= 0) {
    if (is_path == 0) PyErr_SetString(PyExc_ValueError, "[save_gguf] Input must be a string");
    return NULL;
  }
  mx_io_arrays d = {0};
  mx_io_meta meta = {0};
  PyObject *res = NULL;
  if (collect_dict(arrays, &d, "save_gguf") != 0) goto done;
  if (metadata != Py_None) {
    if (!PyDict_Check(metadata)) {
      PyErr_SetString(PyExc_TypeError, "[save_gguf] metadata must be a dict.");
      goto done;
    }
    Py_ssize_t pos = 0;
    PyObject *k, *v;
    while (PyDict_Next(metadata, &pos, &k, &v)) {
      Py_ssize_t kn;
      const char *ks = key_utf8(k, &kn, "save_gguf", "metadata keys");
      if (!ks || gguf_meta_value(&meta, ks, (size_t)kn, v) != 0) goto done;
    }
  }
  dict_args da = {&d, &meta};
  res = run_save(file, ".gguf", "save_gguf", save_gguf_cb, &da);
done:
  mx_io_arrays_clear(&d);
  mx_io_meta_clear(&meta);
  return res;
}

/* ---- load ---------------------------------------------------------------------------------- */

static PyObject *arrays_dict(mx_io_arrays *d) {
  PyObject *out = PyDict_New();
  for (size_t i = 0; out && i < d->n; i++) {
    PyObject *k = str_object(&d->v[i].name);
    mx_array *a = d->v[i].array;
    d->v[i].array = NULL; /* the wrapper takes the reference */
    PyObject *v = k ? mxpy_array_wrap(a) : NULL;
    if (!k) mx_array_release(a);
    if (!v || PyDict_SetItem(out, k, v) < 0) Py_CLEAR(out);
    Py_XDECREF(k);
    Py_XDECREF(v);
  }
  return out;
}

static PyObject *meta_dict(mx_io_meta *m) {
  PyObject *out = PyDict_New();
  for (size_t i = 0; out && i < m->n; i++) {
    mx_io_meta_entry *e = &m->v[i];
    PyObject *k = str_object(&e->key), *v = NULL;
    if (!k) {
      Py_CLEAR(out);
      break;
    }
    if (e->kind == MX_IO_META_STRING) {
      v = str_object(&e->str);
    } else if (e->kind == MX_IO_META_STRINGS) {
      v = PyList_New((Py_ssize_t)e->n_strs);
      for (size_t j = 0; v && j < e->n_strs; j++) {
        PyObject *s = str_object(&e->strs[j]);
        if (!s) Py_CLEAR(v);
        else PyList_SET_ITEM(v, (Py_ssize_t)j, s);
      }
    } else {
      v = mxpy_array_wrap(e->array);
      e->array = NULL;
    }
    if (!v || PyDict_SetItem(out, k, v) < 0) Py_CLEAR(out);
    Py_DECREF(k);
    Py_XDECREF(v);
  }
  return out;
}

/* Reads a whole binary file object into a new bytes object. */
static PyObject *read_all(PyObject *file) {
  PyObject *data = PyObject_CallMethod(file, "read", NULL);
  if (data && !PyBytes_Check(data)) {
    PyObject *b = PyObject_Bytes(data); /* bytearray, memoryview */
    Py_DECREF(data);
    if (!b && PyErr_ExceptionMatches(PyExc_TypeError)) {
      PyErr_Clear();
      PyErr_SetString(PyExc_ValueError,
                      "[load] Input must be a file-like object opened in binary mode, or string");
    }
    data = b;
  }
  return data;
}

static PyObject *py_load(PyObject *m, PyObject *args, PyObject *kwds) {
  static char *kwlist[] = {"", "format", "return_metadata", "stream", NULL};
  PyObject *file, *format = Py_None, *stream_obj = Py_None;
  int return_metadata = 0;
  if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|Op$O:load", kwlist, &file, &format,
                                   &return_metadata, &stream_obj))
    return NULL;
  /* Files are read on the CPU (as MLX): arrays move to the GPU when a GPU op uses them. */
  mx_stream s;
  if (stream_obj == Py_None) {
    s = mx_default_stream((mx_device){MX_CPU, 0});
    if (s.index < 0) return mxpy_raise();
  } else if (mxpy_to_stream(stream_obj, &s) < 0) {
    return NULL;
  }
  char *path = NULL;
  int is_path = as_path(file, &path);
  if (is_path < 0) return NULL;
  if (!is_path && !PyObject_HasAttrString(file, "read")) {
    PyErr_SetString(PyExc_ValueError,
                    "[load] Input must be a file-like object opened in binary mode, or string");
    return NULL;
  }
  /* the format: given, or from the extension of the path or of file.name */
  mx_io_format f;
  PyObject *res = NULL, *data = NULL, *name = NULL;
  int rc;
  if (format != Py_None) {
    const char *fs = PyUnicode_Check(format) ? PyUnicode_AsUTF8(format) : NULL;
    if (!fs) {
      if (!PyErr_Occurred()) PyErr_SetString(PyExc_TypeError, "[load] format must be a str.");
      goto done;
    }
    rc = mx_io_format_parse(fs, &f);
  } else if (is_path) {
    rc = mx_io_format_from_path(path, &f);
  } else {
    name = PyObject_GetAttrString(file, "name");
    char *np = NULL;
    int ok = name ? as_path(name, &np) : 0;
    if (ok <= 0) {
      PyErr_Clear();
      PyErr_SetString(PyExc_ValueError, "[load] Could not infer file format: the file object "
                                        "has no name; pass format=...");
      goto done;
    }
    rc = mx_io_format_from_path(np, &f);
    free(np);
  }
  if (rc != 0) {
    mxpy_raise();
    goto done;
  }
  if (return_metadata && (f == MX_IO_NPY || f == MX_IO_NPZ)) {
    PyErr_Format(PyExc_ValueError, "[load] metadata not supported for format %s",
                 f == MX_IO_NPY ? "npy" : "npz");
    goto done;
  }
  mx_array *single = NULL;
  mx_io_arrays arrays = {0};
  mx_io_meta meta = {0};
  if (is_path) {
    Py_BEGIN_ALLOW_THREADS
    mx_io_blob *b = mx_io_open(path, f);
    rc = b ? mx_io_load_blob(b, f, s, &single, &arrays, &meta) : -1;
    mx_io_blob_release(b);
    Py_END_ALLOW_THREADS
  } else {
    if (!(data = read_all(file))) goto done;
    const char *bytes = PyBytes_AS_STRING(data);
    size_t n = (size_t)PyBytes_GET_SIZE(data);
    Py_BEGIN_ALLOW_THREADS
    mx_io_blob *b = mx_io_blob_borrow(bytes, n, "file object");
    rc = b ? mx_io_load_blob(b, f, s, &single, &arrays, &meta) : -1;
    mx_io_blob_release(b);
    Py_END_ALLOW_THREADS
  }
  if (rc != 0) {
    mxpy_raise();
    goto done;
  }
  if (f == MX_IO_NPY) {
    res = mxpy_array_wrap(single);
  } else {
    res = arrays_dict(&arrays);
    if (res && return_metadata) {
      PyObject *md = meta_dict(&meta);
      PyObject *t = md ? PyTuple_Pack(2, res, md) : NULL;
      Py_XDECREF(md);
      Py_SETREF(res, t);
    }
  }
  mx_io_arrays_clear(&arrays);
  mx_io_meta_clear(&meta);
done:
  Py_XDECREF(data);
  Py_XDECREF(name);
  free(path);
  return res;
}

PyMethodDef mxpy_io_methods[] = {
    {"load", (PyCFunction)(void (*)(void))py_load, METH_VARARGS | METH_KEYWORDS,
     "load(file, /, format=None, return_metadata=False, *, stream=None)\n--\n\n"
     "Load arrays from a binary file (.npy, .npz, .safetensors or .gguf). Paths are memory-mapped "
     "and read lazily; file objects are read at once."},
    {"save", (PyCFunction)(void (*)(void))py_save, METH_VARARGS | METH_KEYWORDS,
     "save(file, arr)\n--\n\nSave an array to a binary file in .npy format."},
    {"savez", (PyCFunction)(void (*)(void))py_savez, METH_VARARGS | METH_KEYWORDS,
     "savez(file, *args, **kwargs)\n--\n\nSave several arrays to a binary file in uncompressed "
     ".npz format."},
    {"savez_compressed", (PyCFunction)(void (*)(void))py_savez_compressed,
     METH_VARARGS | METH_KEYWORDS,
     "savez_compressed(file, *args, **kwargs)\n--\n\nSave several arrays to a binary file in "
     "compressed .npz format."},
    {"save_safetensors", (PyCFunction)(void (*)(void))py_save_safetensors,
     METH_VARARGS | METH_KEYWORDS,
     "save_safetensors(file, arrays, metadata=None)\n--\n\nSave a dict of arrays (and str->str "
     "metadata) in the .safetensors format."},
    {"save_gguf", (PyCFunction)(void (*)(void))py_save_gguf, METH_VARARGS | METH_KEYWORDS,
     "save_gguf(file, arrays, metadata=None)\n--\n\nSave a dict of arrays (and metadata: str, "
     "list[str] or array values) in the .gguf format."},
    {NULL, NULL, 0, NULL},
};
