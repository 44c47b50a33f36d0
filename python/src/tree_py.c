/* tree_py.c: the tree helpers every transformation shares (eval, grad, vmap, compile,
 * custom_function): nested list/tuple/dict containers whose leaves are mx.array objects or
 * other values. Flattening order is depth-first, sequences in order and dicts in insertion
 * order, so flatten and the rebuilding/filling functions agree leaf for leaf. Iterative in
 * data but recursive in nesting depth, guarded by Py_EnterRecursiveCall. */
#include "mxpy_internal.h"

static bool is_container(PyObject *o) {
  return PyList_Check(o) || PyTuple_Check(o) || PyDict_Check(o);
}

int mxpy_tree_collect(PyObject *tree, PyObject *arrays, bool strict, const char *op) {
  if (MXPY_IS_ARRAY(tree)) return PyList_Append(arrays, tree);
  if (!is_container(tree)) {
    if (!strict) return 0;
    PyErr_Format(PyExc_ValueError, "[%s] The argument should contain only arrays, got %s.", op,
                 Py_TYPE(tree)->tp_name);
    return -1;
  }
  if (Py_EnterRecursiveCall(" while flattening a tree of arrays")) return -1;
  int rc = 0;
  if (PyDict_Check(tree)) {
    Py_ssize_t pos = 0;
    PyObject *k, *v;
    while (rc == 0 && PyDict_Next(tree, &pos, &k, &v)) rc = mxpy_tree_collect(v, arrays, strict, op);
  } else {
    Py_ssize_t n = PySequence_Fast_GET_SIZE(tree); /* list or tuple */
    for (Py_ssize_t i = 0; rc == 0 && i < n; i++)
      rc = mxpy_tree_collect(PySequence_Fast_GET_ITEM(tree, i), arrays, strict, op);
  }
  Py_LeaveRecursiveCall();
  return rc;
}

/* A tuple of the same type as tree (namedtuples keep their class) holding items (stolen). */
static PyObject *same_tuple_type(PyObject *tree, PyObject *items) {
  PyObject *t = PyList_AsTuple(items);
  Py_DECREF(items);
  if (!t || PyTuple_CheckExact(tree)) return t;
  PyObject *out;
  if (PyObject_HasAttrString(tree, "_fields")) /* namedtuple(*fields) */
    out = PyObject_Call((PyObject *)Py_TYPE(tree), t, NULL);
  else
    out = PyObject_CallOneArg((PyObject *)Py_TYPE(tree), t);
  Py_DECREF(t);
  return out;
}

static PyObject *slot_object;

PyObject *mxpy_tree_slot(void) {
  if (!slot_object) slot_object = PyObject_CallNoArgs((PyObject *)&PyBaseObject_Type);
  return slot_object;
}

static PyObject *replace(PyObject *tree, PyObject *slot, PyObject *replacements, Py_ssize_t *index) {
  if (MXPY_IS_ARRAY(tree) || (slot && tree == slot)) {
    if (*index >= PySequence_Size(replacements)) {
      PyErr_SetString(PyExc_RuntimeError, "[tree] fewer replacement arrays than leaves");
      return NULL;
    }
    return PySequence_GetItem(replacements, (*index)++);
  }
  if (!is_container(tree)) return Py_NewRef(tree);
  if (Py_EnterRecursiveCall(" while rebuilding a tree of arrays")) return NULL;
  PyObject *out = NULL;
  if (PyDict_Check(tree)) {
    out = PyDict_New();
    Py_ssize_t pos = 0;
    PyObject *k, *v;
    while (out && PyDict_Next(tree, &pos, &k, &v)) {
      PyObject *r = replace(v, slot, replacements, index);
      if (!r || PyDict_SetItem(out, k, r) < 0) Py_CLEAR(out);
      Py_XDECREF(r);
    }
  } else {
    Py_ssize_t n = PySequence_Fast_GET_SIZE(tree);
    PyObject *items = PyList_New(n);
    for (Py_ssize_t i = 0; items && i < n; i++) {
      PyObject *r = replace(PySequence_Fast_GET_ITEM(tree, i), slot, replacements, index);
      if (!r) Py_CLEAR(items);
      else PyList_SET_ITEM(items, i, r);
    }
    if (items && PyList_Check(tree)) out = items;
    else if (items) out = same_tuple_type(tree, items);
  }
  Py_LeaveRecursiveCall();
  return out;
}

PyObject *mxpy_tree_replace(PyObject *tree, PyObject *replacements, Py_ssize_t *index) {
  return replace(tree, NULL, replacements, index);
}

PyObject *mxpy_tree_fill_slots(PyObject *structure, PyObject *replacements, Py_ssize_t *index) {
  PyObject *slot = mxpy_tree_slot();
  return slot ? replace(structure, slot, replacements, index) : NULL;
}

PyObject *mxpy_tree_structure(PyObject *tree, Py_ssize_t *n_arrays) {
  PyObject *leaves = PyList_New(0);
  PyObject *slot = mxpy_tree_slot();
  if (!leaves || !slot || mxpy_tree_collect(tree, leaves, false, "tree") < 0) {
    Py_XDECREF(leaves);
    return NULL;
  }
  Py_ssize_t n = PyList_GET_SIZE(leaves);
  for (Py_ssize_t i = 0; i < n; i++)
    if (PyList_SetItem(leaves, i, Py_NewRef(slot)) < 0) {
      Py_DECREF(leaves);
      return NULL;
    }
  Py_ssize_t index = 0;
  PyObject *r = replace(tree, NULL, leaves, &index);
  Py_DECREF(leaves);
  if (r && n_arrays) *n_arrays = n;
  return r;
}

/* Fills node in place; a tuple cannot change, so one holding arrays is rebuilt into *fresh
 * (a new reference the caller stores in the parent). 0 or -1. */
static int fill(PyObject *node, PyObject *replacements, Py_ssize_t n_rep, Py_ssize_t *index,
                PyObject **fresh) {
  *fresh = NULL;
  if (!is_container(node)) return 0;
  if (Py_EnterRecursiveCall(" while updating a tree of arrays")) return -1;
  int rc = 0;
  if (PyDict_Check(node)) {
    PyObject *keys = PyDict_Keys(node); /* assigning while iterating is not allowed */
    rc = keys ? 0 : -1;
    for (Py_ssize_t i = 0; rc == 0 && keys && i < PyList_GET_SIZE(keys) && *index < n_rep; i++) {
      PyObject *k = PyList_GET_ITEM(keys, i), *v = PyDict_GetItemWithError(node, k), *nv = NULL;
      if (!v) {
        rc = PyErr_Occurred() ? -1 : 0;
        continue;
      }
      if (MXPY_IS_ARRAY(v)) nv = PySequence_GetItem(replacements, (*index)++);
      else if ((rc = fill(v, replacements, n_rep, index, &nv)) < 0) break;
      if (MXPY_IS_ARRAY(v) && !nv) rc = -1;
      if (nv) {
        if (rc == 0) rc = PyDict_SetItem(node, k, nv);
        Py_DECREF(nv);
      }
    }
    Py_XDECREF(keys);
  } else if (PyList_Check(node)) {
    for (Py_ssize_t i = 0; rc == 0 && i < PyList_GET_SIZE(node) && *index < n_rep; i++) {
      PyObject *v = PyList_GET_ITEM(node, i), *nv = NULL;
      if (MXPY_IS_ARRAY(v)) {
        if (!(nv = PySequence_GetItem(replacements, (*index)++))) rc = -1;
      } else {
        rc = fill(v, replacements, n_rep, index, &nv);
      }
      if (nv) rc = rc == 0 ? PyList_SetItem(node, i, nv) : (Py_DECREF(nv), rc); /* steals */
    }
  } else { /* tuple: rebuilt when anything inside changes */
    Py_ssize_t n = PyTuple_GET_SIZE(node);
    PyObject *items = PyList_New(n);
    bool changed = false;
    for (Py_ssize_t i = 0; items && rc == 0 && i < n; i++) {
      PyObject *v = PyTuple_GET_ITEM(node, i), *nv = NULL;
      if (MXPY_IS_ARRAY(v) && *index < n_rep) {
        if (!(nv = PySequence_GetItem(replacements, (*index)++))) rc = -1;
      } else {
        rc = fill(v, replacements, n_rep, index, &nv);
      }
      changed |= nv != NULL;
      PyList_SET_ITEM(items, i, nv ? nv : Py_NewRef(v));
    }
    if (!items) rc = -1;
    if (rc == 0 && changed) {
      *fresh = same_tuple_type(node, items);
      items = NULL;
      if (!*fresh) rc = -1;
    }
    Py_XDECREF(items);
  }
  Py_LeaveRecursiveCall();
  return rc;
}

int mxpy_tree_fill(PyObject *tree, PyObject *replacements, Py_ssize_t *index, const char *op) {
  PyObject *fresh = NULL;
  int rc = fill(tree, replacements, PySequence_Size(replacements), index, &fresh);
  if (fresh) {
    Py_DECREF(fresh);
    PyErr_Format(PyExc_ValueError, "[%s] Cannot update the arrays of a tuple at the top of a tree.", op);
    return -1;
  }
  return rc;
}

mx_array **mxpy_nodes_from_list(PyObject *list, int *n) {
  Py_ssize_t k = PyList_GET_SIZE(list);
  mx_array **nodes = PyMem_Calloc((size_t)(k > 0 ? k : 1), sizeof(mx_array *));
  if (!nodes) {
    PyErr_NoMemory();
    return NULL;
  }
  for (Py_ssize_t i = 0; i < k; i++) {
    if (!(nodes[i] = mxpy_array_node_retained(PyList_GET_ITEM(list, i)))) {
      mxpy_nodes_free(nodes, (int)i);
      return NULL;
    }
  }
  *n = (int)k;
  return nodes;
}

void mxpy_nodes_free(mx_array **nodes, int n) {
  if (!nodes) return;
  for (int i = 0; i < n; i++)
    if (nodes[i]) mx_array_release(nodes[i]);
  PyMem_Free(nodes);
}

PyObject *mxpy_list_from_nodes(mx_array **nodes, int n) {
  PyObject *list = PyList_New(n);
  for (int i = 0; i < n; i++) {
    PyObject *w = NULL;
    if (list) {
      w = mxpy_array_wrap(nodes[i]);
      nodes[i] = NULL;
      if (!w) Py_CLEAR(list);
      else PyList_SET_ITEM(list, i, w);
    } else if (nodes[i]) {
      mx_array_release(nodes[i]);
      nodes[i] = NULL;
    }
  }
  return list;
}
