/* array.h: mlx_array, the N-dimensional array handle of the mlx-c API, and mlx_dtype.
 * A handle's ctx owns one reference to an immutable graph node (src/capi/array.c); writing a
 * result into a handle that already holds an array rebinds that handle. Metadata queries
 * never evaluate; item/tostring/eval evaluate. Depends on string.h and half.h. */
#ifndef MLX_ARRAY_H
#define MLX_ARRAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mlx/c/half.h"
#include "mlx/c/string.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mlx_array_ {
  void* ctx;
} mlx_array;

/* The empty handle: "no array" for parameters documented as optional. */
#if defined(__GNUC__)
__attribute__((unused))
#endif
static mlx_array mlx_array_empty;

typedef enum mlx_dtype_ {
  MLX_BOOL,
  MLX_UINT8,
  MLX_UINT16,
  MLX_UINT32,
  MLX_UINT64,
  MLX_INT8,
  MLX_INT16,
  MLX_INT32,
  MLX_INT64,
  MLX_FLOAT16,
  MLX_FLOAT32,
  MLX_FLOAT64,
  MLX_BFLOAT16,
  MLX_COMPLEX64,
} mlx_dtype;

#if defined(__cplusplus)
typedef struct mlx_complex64_t_ {
  float re, im;
} mlx_complex64_t;
#else
typedef float _Complex mlx_complex64_t;
#endif

/* Bytes per element. */
size_t mlx_dtype_size(mlx_dtype dtype);

/* Evaluates arr and writes its text form ("array([1, 2], dtype=int32)") into *str. */
int mlx_array_tostring(mlx_string* str, const mlx_array arr);

/* ---- creation: each returns a new handle (empty on failure, after reporting) ---- */
mlx_array mlx_array_new(void); /* the empty handle */
int mlx_array_free(mlx_array arr);
mlx_array mlx_array_new_bool(bool val);
mlx_array mlx_array_new_int(int val);          /* int32 */
mlx_array mlx_array_new_float32(float val);
mlx_array mlx_array_new_float(float val);      /* float32 */
mlx_array mlx_array_new_float64(double val);
mlx_array mlx_array_new_double(double val);    /* float64 */
mlx_array mlx_array_new_complex(float real_val, float imag_val); /* complex64 */
/* Copies row-major data of the given shape. */
mlx_array mlx_array_new_data(
    const void* data,
    const int* shape,
    int dim,
    mlx_dtype dtype);
/* Wraps data without copying; dtor(data) runs when the last reference dies. */
mlx_array mlx_array_new_data_managed(
    void* data,
    const int* shape,
    int dim,
    mlx_dtype dtype,
    void (*dtor)(void*));
/* Wraps data without copying; dtor(payload) runs when the last reference dies. */
mlx_array mlx_array_new_data_managed_payload(
    void* data,
    const int* shape,
    int dim,
    mlx_dtype dtype,
    void* payload,
    void (*dtor)(void*));

/* ---- the same constructors writing into an existing handle ---- */
int mlx_array_set(mlx_array* arr, const mlx_array src);
int mlx_array_set_bool(mlx_array* arr, bool val);
int mlx_array_set_int(mlx_array* arr, int val);
int mlx_array_set_float32(mlx_array* arr, float val);
int mlx_array_set_float(mlx_array* arr, float val);
int mlx_array_set_float64(mlx_array* arr, double val);
int mlx_array_set_double(mlx_array* arr, double val);
int mlx_array_set_complex(mlx_array* arr, float real_val, float imag_val);
int mlx_array_set_data(
    mlx_array* arr,
    const void* data,
    const int* shape,
    int dim,
    mlx_dtype dtype);

/* ---- metadata (never evaluates) ---- */
size_t mlx_array_itemsize(const mlx_array arr);
size_t mlx_array_size(const mlx_array arr);
size_t mlx_array_nbytes(const mlx_array arr);
size_t mlx_array_ndim(const mlx_array arr);
const int* mlx_array_shape(const mlx_array arr);
/* Element strides; meaningful once the array is evaluated. */
const size_t* mlx_array_strides(const mlx_array arr);
int mlx_array_dim(const mlx_array arr, int dim);
mlx_dtype mlx_array_dtype(const mlx_array arr);

int mlx_array_eval(mlx_array arr);

/* ---- scalar access: evaluates; the array must have exactly one element. The value is
 * converted from the array's dtype to the requested type. ---- */
int mlx_array_item_bool(bool* res, const mlx_array arr);
int mlx_array_item_uint8(uint8_t* res, const mlx_array arr);
int mlx_array_item_uint16(uint16_t* res, const mlx_array arr);
int mlx_array_item_uint32(uint32_t* res, const mlx_array arr);
int mlx_array_item_uint64(uint64_t* res, const mlx_array arr);
int mlx_array_item_int8(int8_t* res, const mlx_array arr);
int mlx_array_item_int16(int16_t* res, const mlx_array arr);
int mlx_array_item_int32(int32_t* res, const mlx_array arr);
int mlx_array_item_int64(int64_t* res, const mlx_array arr);
int mlx_array_item_float32(float* res, const mlx_array arr);
int mlx_array_item_float64(double* res, const mlx_array arr);
int mlx_array_item_complex64(mlx_complex64_t* res, const mlx_array arr);
int mlx_array_item_float16(float16_t* res, const mlx_array arr);
int mlx_array_item_bfloat16(bfloat16_t* res, const mlx_array arr);

/* ---- raw data: pointer to the first element of an evaluated array, valid while the array
 * lives. The pointer is reinterpreted, not converted: the dtype must match. (This
 * implementation evaluates an unevaluated array first; NULL on failure.) ---- */
const bool* mlx_array_data_bool(const mlx_array arr);
const uint8_t* mlx_array_data_uint8(const mlx_array arr);
const uint16_t* mlx_array_data_uint16(const mlx_array arr);
const uint32_t* mlx_array_data_uint32(const mlx_array arr);
const uint64_t* mlx_array_data_uint64(const mlx_array arr);
const int8_t* mlx_array_data_int8(const mlx_array arr);
const int16_t* mlx_array_data_int16(const mlx_array arr);
const int32_t* mlx_array_data_int32(const mlx_array arr);
const int64_t* mlx_array_data_int64(const mlx_array arr);
const float* mlx_array_data_float32(const mlx_array arr);
const double* mlx_array_data_float64(const mlx_array arr);
const mlx_complex64_t* mlx_array_data_complex64(const mlx_array arr);
const float16_t* mlx_array_data_float16(const mlx_array arr);
const bfloat16_t* mlx_array_data_bfloat16(const mlx_array arr);

/* ---- internal helpers (as mlx-c: use at your own risk) ---- */
int _mlx_array_is_available(bool* res, const mlx_array arr);
int _mlx_array_wait(const mlx_array arr);
int _mlx_array_is_contiguous(bool* res, const mlx_array arr);
int _mlx_array_is_row_contiguous(bool* res, const mlx_array arr);
int _mlx_array_is_col_contiguous(bool* res, const mlx_array arr);

#ifdef __cplusplus
}
#endif

#endif
