/* testing_py.c: mlx.core._testing, fault-injection hooks for the test suite (not part of
 * MLX's API): make allocations fail so errors raised inside compute tasks can be tested. */
#include "convert.h"

#include "../../src/core/allocator.h"

static PyObject *inject_allocation_failures(PyObject *self, PyObject *args, PyObject *kwargs) {
  static char *kwlist[] = {"count", "in_tasks_only", NULL};
  int count = 0, tasks_only = 0;
  if (!PyArg_ParseTupleAndKeywords(args, kwargs, "i|p", kwlist, &count, &tasks_only)) return NULL;
  mx_memory_inject_failures(count, tasks_only);
  Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"inject_allocation_failures", (PyCFunction)(void (*)(void))inject_allocation_failures,
     METH_VARARGS | METH_KEYWORDS,
     "inject_allocation_failures(count, in_tasks_only=False): the next count allocations fail."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, .m_name = "mlx.core._testing", .m_doc = "Fault injection for tests.",
    .m_size = -1, .m_methods = methods};

PyObject *mxpy_testing_module(void) { return PyModule_Create(&module); }
