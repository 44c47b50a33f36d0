/* array.c: mlx_array handles (mlx/c/array.h) over core nodes (core/array.h). A handle's ctx
 * is an mx_capi_array_box owning one node reference; results are stored with
 * mx_capi_set_array*, which rebinds a non-empty handle in place (so `mlx_divide(&a, a, b, s)`
 * works). Evaluation goes through core/eval.h, printing through core/print.h. */
#include "capi_private.h"

#include <stdlib.h>
#include <string.h>

#include "half.h"
#include "print.h"

_Static_assert(MLX_BOOL == (int)MX_BOOL && MLX_INT64 == (int)MX_INT64 &&
                   MLX_FLOAT64 == (int)MX_FLOAT64 && MLX_BFLOAT16 == (int)MX_BFLOAT16 &&
                   MLX_COMPLEX64 == (int)MX_COMPLEX64,
               "mlx_dtype and mx_dtype must share their numbering");
_Static_assert(sizeof(size_t) == sizeof(int64_t), "strides are returned as size_t");
_Static_assert(sizeof(int) == sizeof(int32_t), "shapes are returned as int");

/* ---- boxes ---- */

mx_array *mx_capi_node(mlx_array a) {
  mx_capi_array_box *b = a.ctx;
  if (!b || !b->node) return mx_fail(MX_EINVAL, "expected a non-empty mlx_array");
  return b->node;
}

int mx_capi_set_array_at(mlx_array *res, mx_array *node_steal, const char *file, int line) {
  if (!node_steal) return mx_capi_report(file, line);
  if (!res) {
    mx_array_release(node_steal);
    return mx_capi_fail(file, line, MX_EINVAL, "expected a non-null mlx_array output pointer");
  }
  mx_capi_array_box *b = res->ctx;
  if (b) {
    mx_array *old = b->node;
    b->node = node_steal; /* swap first: old may be the last owner of an input of node */
    mx_array_release(old);
    return 0;
  }
  b = malloc(sizeof *b);
  if (!b) {
    mx_array_release(node_steal);
    return mx_capi_fail(file, line, MX_ENOMEM, "[malloc] Unable to allocate %zu bytes.",
                        sizeof *b);
  }
  b->node = node_steal;
  res->ctx = b;
  return 0;
}

int mx_capi_set_array(mlx_array *res, mx_array *node_steal) {
  return mx_capi_set_array_at(res, node_steal, __FILE__, __LINE__);
}

/* A new handle owning node (stolen); the empty handle after reporting when node is NULL. */
static mlx_array new_handle(mx_array *node, const char *file, int line) {
  mlx_array h = {NULL};
  mx_capi_set_array_at(&h, node, file, line);
  return h;
}
#define NEW_HANDLE(node) new_handle((node), __FILE__, __LINE__)
#define SET_HANDLE(res, node) mx_capi_set_array_at((res), (node), __FILE__, __LINE__)

static mx_array *node_or_report(mlx_array a) {
  mx_array *n = mx_capi_node(a);
  if (!n) mx_capi_report(__FILE__, __LINE__);
  return n;
}

/* ---- creation ---- */

size_t mlx_dtype_size(mlx_dtype dtype) {
  if ((int)dtype < 0 || (int)dtype >= MX_DTYPE_COUNT) {
    mx_capi_fail(__FILE__, __LINE__, MX_EINVAL, "[dtype_size] Invalid dtype %d.", (int)dtype);
    return 0;
  }
  return (size_t)mx_dtype_size((mx_dtype)dtype);
}

static bool valid_dtype(mlx_dtype t) { return (int)t >= 0 && (int)t < MX_DTYPE_COUNT; }

static mx_array *make_data(const void *data, const int *shape, int dim, mlx_dtype dtype) {
  if (!valid_dtype(dtype)) return mx_fail(MX_EINVAL, "[array] Invalid dtype %d.", (int)dtype);
  if (dim < 0 || (dim > 0 && !shape))
    return mx_fail(MX_EINVAL, "[array] Invalid shape (dim = %d).", dim);
  for (int i = 0; i < dim; i++)
    if (shape[i] < 0) return mx_fail(MX_EINVAL, "[array] Negative dimension %d.", shape[i]);
  return mx_array_from_data(data, (mx_dtype)dtype, dim, (const int32_t *)shape);
}

static void release_nothing(void *p) { (void)p; }

static mx_array *make_managed(void *data, const int *shape, int dim, mlx_dtype dtype,
                              void *payload, void (*dtor)(void *)) {
  if (!valid_dtype(dtype)) return mx_fail(MX_EINVAL, "[array] Invalid dtype %d.", (int)dtype);
  if (dim < 0 || (dim > 0 && !shape))
    return mx_fail(MX_EINVAL, "[array] Invalid shape (dim = %d).", dim);
  int64_t n = mx_shape_size("array", dim, (const int32_t *)shape);
  if (n < 0) return NULL;
  size_t nbytes = (size_t)n * (size_t)mx_dtype_size((mx_dtype)dtype);
  mx_buffer *buf = mx_buffer_wrap(data, nbytes, dtor ? dtor : release_nothing, payload);
  if (!buf) return NULL;
  mx_array *a = mx_array_from_buffer(buf, (mx_dtype)dtype, dim, (const int32_t *)shape);
  mx_buffer_release(buf);
  return a;
}

mlx_array mlx_array_new(void) {
  mlx_array h = {NULL};
  return h;
}

int mlx_array_free(mlx_array arr) {
  mx_capi_array_box *b = arr.ctx;
  if (!b) return 0;
  mx_array_release(b->node);
  free(b);
  return 0;
}

mlx_array mlx_array_new_bool(bool val) { return NEW_HANDLE(mx_array_scalar_i64(val, MX_BOOL)); }
mlx_array mlx_array_new_int(int val) { return NEW_HANDLE(mx_array_scalar_i64(val, MX_INT32)); }
mlx_array mlx_array_new_float32(float val) {
  return NEW_HANDLE(mx_array_scalar_f64(val, MX_FLOAT32));
}
mlx_array mlx_array_new_float(float val) { return mlx_array_new_float32(val); }
mlx_array mlx_array_new_float64(double val) {
  return NEW_HANDLE(mx_array_scalar_f64(val, MX_FLOAT64));
}
mlx_array mlx_array_new_double(double val) { return mlx_array_new_float64(val); }
mlx_array mlx_array_new_complex(float real_val, float imag_val) {
  return NEW_HANDLE(mx_array_scalar_c64(real_val, imag_val));
}
mlx_array mlx_array_new_data(const void *data, const int *shape, int dim, mlx_dtype dtype) {
  return NEW_HANDLE(make_data(data, shape, dim, dtype));
}
mlx_array mlx_array_new_data_managed(void *data, const int *shape, int dim, mlx_dtype dtype,
                                     void (*dtor)(void *)) {
  return NEW_HANDLE(make_managed(data, shape, dim, dtype, data, dtor));
}
mlx_array mlx_array_new_data_managed_payload(void *data, const int *shape, int dim,
                                             mlx_dtype dtype, void *payload,
                                             void (*dtor)(void *)) {
  return NEW_HANDLE(make_managed(data, shape, dim, dtype, payload, dtor));
}

int mlx_array_set(mlx_array *arr, const mlx_array src) {
  mx_array *n = mx_capi_node(src);
  if (n) mx_array_retain(n);
  return SET_HANDLE(arr, n);
}
int mlx_array_set_bool(mlx_array *arr, bool val) {
  return SET_HANDLE(arr, mx_array_scalar_i64(val, MX_BOOL));
}
int mlx_array_set_int(mlx_array *arr, int val) {
  return SET_HANDLE(arr, mx_array_scalar_i64(val, MX_INT32));
}
int mlx_array_set_float32(mlx_array *arr, float val) {
  return SET_HANDLE(arr, mx_array_scalar_f64(val, MX_FLOAT32));
}
int mlx_array_set_float(mlx_array *arr, float val) { return mlx_array_set_float32(arr, val); }
int mlx_array_set_float64(mlx_array *arr, double val) {
  return SET_HANDLE(arr, mx_array_scalar_f64(val, MX_FLOAT64));
}
int mlx_array_set_double(mlx_array *arr, double val) { return mlx_array_set_float64(arr, val); }
int mlx_array_set_complex(mlx_array *arr, float real_val, float imag_val) {
  return SET_HANDLE(arr, mx_array_scalar_c64(real_val, imag_val));
}
int mlx_array_set_data(mlx_array *arr, const void *data, const int *shape, int dim,
                       mlx_dtype dtype) {
  return SET_HANDLE(arr, make_data(data, shape, dim, dtype));
}

/* ---- metadata ---- */

size_t mlx_array_itemsize(const mlx_array arr) {
  mx_array *n = node_or_report(arr);
  return n ? (size_t)mx_dtype_size(n->dtype) : 0;
}
size_t mlx_array_size(const mlx_array arr) {
  mx_array *n = node_or_report(arr);
  return n ? (size_t)n->size : 0;
}
size_t mlx_array_nbytes(const mlx_array arr) {
  mx_array *n = node_or_report(arr);
  return n ? mx_array_nbytes(n) : 0;
}
size_t mlx_array_ndim(const mlx_array arr) {
  mx_array *n = node_or_report(arr);
  return n ? (size_t)n->ndim : 0;
}
const int *mlx_array_shape(const mlx_array arr) {
  mx_array *n = node_or_report(arr);
  return n ? (const int *)n->shape : NULL;
}
const size_t *mlx_array_strides(const mlx_array arr) {
  mx_array *n = node_or_report(arr);
  return n ? (const size_t *)n->strides : NULL;
}
int mlx_array_dim(const mlx_array arr, int dim) {
  mx_array *n = node_or_report(arr);
  if (!n) return 0;
  int d = dim < 0 ? dim + n->ndim : dim;
  if (d < 0 || d >= n->ndim) {
    mx_capi_fail(__FILE__, __LINE__, MX_EINDEX,
                 "[array_dim] Dimension %d is out of range for an array with %d dimensions.",
                 dim, (int)n->ndim);
    return 0;
  }
  return n->shape[d];
}
mlx_dtype mlx_array_dtype(const mlx_array arr) {
  mx_array *n = node_or_report(arr);
  return n ? (mlx_dtype)n->dtype : MLX_FLOAT32;
}

int mlx_array_eval(mlx_array arr) {
  mx_array *n = node_or_report(arr);
  if (!n) return 1;
  if (mx_array_eval(n) != 0) return mx_capi_report(__FILE__, __LINE__);
  return 0;
}

int mlx_array_tostring(mlx_string *str, const mlx_array arr) {
  mx_array *n = node_or_report(arr);
  if (!n) return 1;
  char *text = NULL;
  if (mx_array_format(n, false, &text) != 0) return mx_capi_report(__FILE__, __LINE__);
  return mx_capi_set_string(str, text);
}

/* ---- item: evaluate, read the single element, convert ---- */

typedef struct scalar_val {
  double re, im; /* every dtype, as double */
  int64_t i;     /* integer dtypes and bool, exact */
  uint64_t u;
  bool is_int;
} scalar_val;

static int load_item(mlx_array arr, scalar_val *v) {
  mx_array *n = node_or_report(arr);
  if (!n) return 1;
  if (n->size != 1)
    return mx_capi_fail(__FILE__, __LINE__, MX_EINVAL,
                        "item can only be called on arrays of size 1.");
  const void *p = mx_array_host_data(n);
  if (!p) return mx_capi_report(__FILE__, __LINE__);
  memset(v, 0, sizeof *v);
  v->is_int = true;
  switch (n->dtype) {
    case MX_BOOL: v->i = *(const uint8_t *)p != 0; v->u = (uint64_t)v->i; break;
    case MX_UINT8: v->u = *(const uint8_t *)p; v->i = (int64_t)v->u; break;
    case MX_UINT16: v->u = *(const uint16_t *)p; v->i = (int64_t)v->u; break;
    case MX_UINT32: v->u = *(const uint32_t *)p; v->i = (int64_t)v->u; break;
    case MX_UINT64: v->u = *(const uint64_t *)p; v->i = (int64_t)v->u; v->re = (double)v->u; break;
    case MX_INT8: v->i = *(const int8_t *)p; v->u = (uint64_t)v->i; break;
    case MX_INT16: v->i = *(const int16_t *)p; v->u = (uint64_t)v->i; break;
    case MX_INT32: v->i = *(const int32_t *)p; v->u = (uint64_t)v->i; break;
    case MX_INT64: v->i = *(const int64_t *)p; v->u = (uint64_t)v->i; break;
    default: v->is_int = false; break;
  }
  if (v->is_int) {
    if (n->dtype != MX_UINT64) v->re = (double)v->i;
    return 0;
  }
  switch (n->dtype) {
    case MX_FLOAT16: v->re = mx_f16_to_f32(*(const mx_f16 *)p); break;
    case MX_BFLOAT16: v->re = mx_bf16_to_f32(*(const mx_bf16 *)p); break;
    case MX_FLOAT32: v->re = *(const float *)p; break;
    case MX_FLOAT64: v->re = *(const double *)p; break;
    case MX_COMPLEX64: {
      const float *c = p;
      v->re = c[0];
      v->im = c[1];
      break;
    }
    default: break;
  }
  return 0;
}

#define ITEM_INT(T, name)                                      \
  int mlx_array_item_##name(T *res, const mlx_array arr) {     \
    scalar_val v = {0};                                        \
    if (load_item(arr, &v)) return 1;                          \
    *res = v.is_int ? (T)v.i : (T)v.re;                        \
    return 0;                                                  \
  }
ITEM_INT(uint8_t, uint8)
ITEM_INT(uint16_t, uint16)
ITEM_INT(uint32_t, uint32)
ITEM_INT(int8_t, int8)
ITEM_INT(int16_t, int16)
ITEM_INT(int32_t, int32)
ITEM_INT(int64_t, int64)

int mlx_array_item_uint64(uint64_t *res, const mlx_array arr) {
  scalar_val v = {0};
  if (load_item(arr, &v)) return 1;
  *res = v.is_int ? v.u : (uint64_t)v.re;
  return 0;
}
int mlx_array_item_bool(bool *res, const mlx_array arr) {
  scalar_val v = {0};
  if (load_item(arr, &v)) return 1;
  *res = v.is_int ? v.i != 0 : (v.re != 0.0 || v.im != 0.0);
  return 0;
}
int mlx_array_item_float32(float *res, const mlx_array arr) {
  scalar_val v = {0};
  if (load_item(arr, &v)) return 1;
  *res = (float)v.re;
  return 0;
}
int mlx_array_item_float64(double *res, const mlx_array arr) {
  scalar_val v = {0};
  if (load_item(arr, &v)) return 1;
  *res = v.re;
  return 0;
}
int mlx_array_item_complex64(mlx_complex64_t *res, const mlx_array arr) {
  scalar_val v = {0};
  if (load_item(arr, &v)) return 1;
  float parts[2] = {(float)v.re, (float)v.im};
  memcpy(res, parts, sizeof parts);
  return 0;
}
int mlx_array_item_float16(float16_t *res, const mlx_array arr) {
  scalar_val v = {0};
  if (load_item(arr, &v)) return 1;
  mx_f16 h = mx_f32_to_f16((float)v.re);
  memcpy(res, &h, sizeof h);
  return 0;
}
int mlx_array_item_bfloat16(bfloat16_t *res, const mlx_array arr) {
  scalar_val v = {0};
  if (load_item(arr, &v)) return 1;
  mx_bf16 h = mx_f32_to_bf16((float)v.re);
  memcpy(res, &h, sizeof h);
  return 0;
}

/* ---- raw data ---- */

static const void *host_data(mlx_array arr) {
  mx_array *n = node_or_report(arr);
  if (!n) return NULL;
  if (mx_array_eval(n) == 0 && !(n->flags & MX_ROW_CONTIG)) {
    /* a broadcast or strided view (mlx_zeros, a transpose): the caller reads row-major
     * data, so the handle is rebound to a row-contiguous copy of the same values */
    mx_array *c = mx_contiguous(n, false, mx_default_stream((mx_device){MX_CPU, 0}));
    if (!c || mx_array_eval(c) != 0) {
      mx_array_release(c);
      mx_capi_report(__FILE__, __LINE__);
      return NULL;
    }
    mx_capi_array_box *box = arr.ctx;
    mx_array_release(box->node);
    box->node = n = c;
  }
  const void *p = mx_array_host_data(n);
  if (!p) mx_capi_report(__FILE__, __LINE__);
  return p;
}

#define DATA_FN(T, name) \
  const T *mlx_array_data_##name(const mlx_array arr) { return (const T *)host_data(arr); }
DATA_FN(bool, bool)
DATA_FN(uint8_t, uint8)
DATA_FN(uint16_t, uint16)
DATA_FN(uint32_t, uint32)
DATA_FN(uint64_t, uint64)
DATA_FN(int8_t, int8)
DATA_FN(int16_t, int16)
DATA_FN(int32_t, int32)
DATA_FN(int64_t, int64)
DATA_FN(float, float32)
DATA_FN(double, float64)
DATA_FN(mlx_complex64_t, complex64)
DATA_FN(float16_t, float16)
DATA_FN(bfloat16_t, bfloat16)

/* ---- internal helpers ---- */

int _mlx_array_is_available(bool *res, const mlx_array arr) {
  mx_array *n = node_or_report(arr);
  if (!n) return 1;
  *res = mx_array_status(n) == MX_AVAILABLE;
  return 0;
}
int _mlx_array_wait(const mlx_array arr) {
  mx_array *n = node_or_report(arr);
  if (!n) return 1;
  if (mx_array_wait(n) != 0) return mx_capi_report(__FILE__, __LINE__);
  return 0;
}
static int layout_flag(bool *res, mlx_array arr, unsigned mask) {
  mx_array *n = node_or_report(arr);
  if (!n) return 1;
  *res = (n->flags & mask) != 0;
  return 0;
}
int _mlx_array_is_contiguous(bool *res, const mlx_array arr) {
  return layout_flag(res, arr, MX_ROW_CONTIG | MX_COL_CONTIG);
}
int _mlx_array_is_row_contiguous(bool *res, const mlx_array arr) {
  return layout_flag(res, arr, MX_ROW_CONTIG);
}
int _mlx_array_is_col_contiguous(bool *res, const mlx_array arr) {
  return layout_flag(res, arr, MX_COL_CONTIG);
}
