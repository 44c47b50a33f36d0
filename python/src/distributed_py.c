/* distributed_py.c: mlx.core.distributed: the Group type (rank, size, split), is_available,
 * init and the collectives, which take a group= keyword the generated converters do not
 * know. The groups themselves live in src/core/distributed.h. */
#include "mxpy_internal.h"

#include "../../src/core/distributed.h"
#include "convert_ext.h"

typedef struct {
  PyObject_HEAD
  mx_group *g;
} GroupObject;

static PyTypeObject GroupType;

static PyObject *group_wrap(mx_group *g) { /* steals g */
  if (!g) return mxpy_raise();
  GroupObject *o = PyObject_New(GroupObject, &GroupType);
  if (!o) {
    mx_group_release(g);
    return NULL;
  }
  o->g = g;
  return (PyObject *)o;
}

static void group_dealloc(PyObject *self) {
  mx_group_release(((GroupObject *)self)->g);
  PyObject_Free(self);
}

static PyObject *group_rank(PyObject *self, PyObject *unused) {
  (void)unused;
  return PyLong_FromLong(((GroupObject *)self)->g->rank);
}

static PyObject *group_size(PyObject *self, PyObject *unused) {
  (void)unused;
  return PyLong_FromLong(((GroupObject *)self)->g->size);
}

static const char *const split_names[] = {"color", "key"};
static PyObject *split_kw[2];
static const mxpy_sig split_sig = {"split", 2, 2, 0, 0x1u, 0, split_names, split_kw};

static PyObject *group_split(PyObject *self, PyObject *const *args, Py_ssize_t nargs,
                             PyObject *kwnames) {
  PyObject *av[2] = {NULL, NULL};
  int color, key = -1;
  if (mxpy_parse_args(&split_sig, args, nargs, kwnames, av) < 0 || mxpy_to_int(av[0], &color) < 0 ||
      (av[1] && mxpy_to_int(av[1], &key) < 0))
    return NULL;
  return group_wrap(mx_group_split(((GroupObject *)self)->g, color, key));
}

static PyMethodDef group_methods[] = {
    {"rank", group_rank, METH_NOARGS, "rank(self) -> int\n--\n\nThe rank of this process in the group."},
    {"size", group_size, METH_NOARGS, "size(self) -> int\n--\n\nThe number of processes in the group."},
    {"split", (PyCFunction)(void (*)(void))group_split, METH_FASTCALL | METH_KEYWORDS,
     "split(self, color, key=-1)\n--\n\nSplit the group into sub-groups of the processes that "
     "pass the same color, ranked by key (the current rank when key is negative)."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject GroupType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "mlx.core.distributed.Group",
    .tp_basicsize = sizeof(GroupObject),
    .tp_dealloc = group_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "An mlx.core.distributed.Group represents a group of independent mlx processes "
              "that can communicate.",
    .tp_methods = group_methods,
};

/* The group= argument: None -> NULL (the global group), else a Group (borrowed). */
static int to_group(PyObject *o, mx_group **out) {
  *out = NULL;
  if (!o || o == Py_None) return 0;
  if (!PyObject_TypeCheck(o, &GroupType)) {
    PyErr_Format(PyExc_TypeError, "group must be a mlx.core.distributed.Group or None, got '%s'.",
                 Py_TYPE(o)->tp_name);
    return -1;
  }
  *out = ((GroupObject *)o)->g;
  return 0;
}

static int to_backend(PyObject *o, const char **out) {
  *out = "any";
  return o ? mxpy_to_str(o, out) : 0;
}

static const char *const avail_names[] = {"backend"};
static PyObject *avail_kw[1];
static const mxpy_sig avail_sig = {"is_available", 1, 1, 0, 0, 0, avail_names, avail_kw};

static PyObject *is_available(PyObject *m, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames) {
  (void)m;
  PyObject *av[1] = {NULL};
  const char *bk;
  if (mxpy_parse_args(&avail_sig, args, nargs, kwnames, av) < 0 || to_backend(av[0], &bk) < 0) return NULL;
  int r = mx_dist_is_available(bk);
  if (r < 0) return mxpy_raise();
  return PyBool_FromLong(r);
}

static const char *const init_names[] = {"strict", "backend", "all_gather_factory"};
static PyObject *init_kw[3];
static const mxpy_sig init_sig = {"init", 3, 2, 0, 0, 0, init_names, init_kw};

static PyObject *init(PyObject *m, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames) {
  (void)m;
  PyObject *av[3] = {NULL, NULL, NULL};
  bool strict = false;
  const char *bk;
  if (mxpy_parse_args(&init_sig, args, nargs, kwnames, av) < 0 ||
      (av[0] && mxpy_to_bool(av[0], &strict) < 0) || to_backend(av[1], &bk) < 0)
    return NULL;
  if (av[2] && av[2] != Py_None && !PyCallable_Check(av[2])) {
    PyErr_SetString(PyExc_TypeError, "init(): all_gather_factory must be callable or None.");
    return NULL;
  }
  /* all_gather_factory only serves the jaccl transport, which is not built in. */
  return group_wrap(mx_dist_init(strict, bk));
}

/* ---- collectives: f(x, *, group=None, stream=None) ---- */
static const char *const coll_names[] = {"x", "group", "stream"};
static PyObject *coll_kw[3];

static PyObject *collective(const char *name, mx_array *(*fn)(mx_array *, struct mx_group *, mx_stream),
                            PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames) {
  const mxpy_sig sig = {name, 3, 1, 0, 0x1u, 0, coll_names, coll_kw};
  PyObject *av[3] = {NULL, NULL, NULL};
  mx_group *g;
  mx_stream s;
  mx_array *x = NULL;
  if (mxpy_parse_args(&sig, args, nargs, kwnames, av) < 0 || to_group(av[1], &g) < 0 ||
      mxpy_to_stream(av[2], &s) < 0 || mxpy_to_array(av[0], &x) < 0)
    return NULL;
  mx_array *r = fn(x, g, s);
  mx_array_release(x);
  return r ? mxpy_array_wrap(r) : mxpy_raise();
}

#define MXPY_COLLECTIVE(name)                                                                  \
  static PyObject *py_##name(PyObject *m, PyObject *const *args, Py_ssize_t nargs,             \
                             PyObject *kwnames) {                                              \
    (void)m;                                                                                   \
    return collective(#name, mx_dist_##name, args, nargs, kwnames);                            \
  }
MXPY_COLLECTIVE(all_sum)
MXPY_COLLECTIVE(all_max)
MXPY_COLLECTIVE(all_min)
MXPY_COLLECTIVE(all_gather)
MXPY_COLLECTIVE(sum_scatter)

/* send(x, dst, *, group=None, stream=None) and recv_like(x, src, *, group=None, stream=None) */
static const char *const send_names[] = {"x", "dst", "group", "stream"};
static PyObject *send_kw[4];
static const mxpy_sig send_sig = {"send", 4, 2, 0, 0x3u, 0, send_names, send_kw};
static const char *const recv_like_names[] = {"x", "src", "group", "stream"};
static PyObject *recv_like_kw[4];
static const mxpy_sig recv_like_sig = {"recv_like", 4, 2, 0, 0x3u, 0, recv_like_names, recv_like_kw};

static PyObject *array_rank_call(const mxpy_sig *sig, bool send, PyObject *const *args,
                                 Py_ssize_t nargs, PyObject *kwnames) {
  PyObject *av[4] = {NULL, NULL, NULL, NULL};
  int rank;
  mx_group *g;
  mx_stream s;
  mx_array *x = NULL;
  if (mxpy_parse_args(sig, args, nargs, kwnames, av) < 0 || mxpy_to_int(av[1], &rank) < 0 ||
      to_group(av[2], &g) < 0 || mxpy_to_stream(av[3], &s) < 0 || mxpy_to_array(av[0], &x) < 0)
    return NULL;
  mx_array *r = send ? mx_dist_send(x, rank, g, s) : mx_dist_recv_like(x, rank, g, s);
  mx_array_release(x);
  return r ? mxpy_array_wrap(r) : mxpy_raise();
}

static PyObject *py_send(PyObject *m, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames) {
  (void)m;
  return array_rank_call(&send_sig, true, args, nargs, kwnames);
}

static PyObject *py_recv_like(PyObject *m, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames) {
  (void)m;
  return array_rank_call(&recv_like_sig, false, args, nargs, kwnames);
}

/* recv(shape, dtype, src, *, group=None, stream=None) */
static const char *const recv_names[] = {"shape", "dtype", "src", "group", "stream"};
static PyObject *recv_kw[5];
static const mxpy_sig recv_sig = {"recv", 5, 3, 0, 0x7u, 0, recv_names, recv_kw};

static PyObject *py_recv(PyObject *m, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames) {
  (void)m;
  PyObject *av[5] = {NULL, NULL, NULL, NULL, NULL};
  int32_t store[8], *shape, *heap = NULL;
  int n, src;
  mx_dtype t;
  mx_group *g;
  mx_stream s;
  if (mxpy_parse_args(&recv_sig, args, nargs, kwnames, av) < 0 ||
      mxpy_to_shape(av[0], &shape, &n, store, 8, &heap) < 0)
    return NULL;
  PyObject *ret = NULL;
  if (mxpy_to_dtype(av[1], &t) == 0 && mxpy_to_int(av[2], &src) == 0 && to_group(av[3], &g) == 0 &&
      mxpy_to_stream(av[4], &s) == 0) {
    mx_array *r = mx_dist_recv(shape, n, t, src, g, s);
    ret = r ? mxpy_array_wrap(r) : mxpy_raise();
  }
  free(heap);
  return ret;
}

#define MXPY_FAST(name, fn, doc) \
  {name, (PyCFunction)(void (*)(void))fn, METH_FASTCALL | METH_KEYWORDS, doc}
static PyMethodDef distributed_methods[] = {
    MXPY_FAST("is_available", is_available, "is_available(backend='any')\n--\n\n"
              "Whether a communication backend is built in ('any': whether one is)."),
    MXPY_FAST("init", init, "init(strict=False, backend='any', *, all_gather_factory=None)\n--\n\n"
              "Initialize the communication backend and return the global group (the singleton "
              "group of this process when no backend forms one and strict is False)."),
    MXPY_FAST("all_sum", py_all_sum, "all_sum(x, *, group=None, stream=None)\n--\n\n"
              "All-reduce sum of x over the processes of the group."),
    MXPY_FAST("all_max", py_all_max, "all_max(x, *, group=None, stream=None)\n--\n\n"
              "All-reduce maximum of x over the processes of the group."),
    MXPY_FAST("all_min", py_all_min, "all_min(x, *, group=None, stream=None)\n--\n\n"
              "All-reduce minimum of x over the processes of the group."),
    MXPY_FAST("all_gather", py_all_gather, "all_gather(x, *, group=None, stream=None)\n--\n\n"
              "Concatenate x of every process of the group along the first axis."),
    MXPY_FAST("sum_scatter", py_sum_scatter, "sum_scatter(x, *, group=None, stream=None)\n--\n\n"
              "Sum x over the group and give each process its slice of the first axis."),
    MXPY_FAST("send", py_send, "send(x, dst, *, group=None, stream=None)\n--\n\n"
              "Send x to the process of rank dst; returns an array that performs the send when "
              "evaluated."),
    MXPY_FAST("recv", py_recv, "recv(shape, dtype, src, *, group=None, stream=None)\n--\n\n"
              "Receive an array of the given shape and dtype from the process of rank src."),
    MXPY_FAST("recv_like", py_recv_like, "recv_like(x, src, *, group=None, stream=None)\n--\n\n"
              "Receive an array with the shape and dtype of x from the process of rank src."),
    {NULL, NULL, 0, NULL},
};

int mxpy_distributed_init(PyObject *core, PyObject *module) {
  (void)core;
  if (PyType_Ready(&GroupType) < 0) return -1;
  if (PyModule_AddObjectRef(module, "Group", (PyObject *)&GroupType) < 0) return -1;
  return PyModule_AddFunctions(module, distributed_methods);
}
