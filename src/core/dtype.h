/* dtype.h: the 14 element types in MLX's enum order, their sizes, names, categories,
 * the promotion lattice (spec/semantics.md sections 1-2) and finfo/iinfo limits.
 * Pure tables: depends on nothing but common.h. */
#ifndef MX_DTYPE_H
#define MX_DTYPE_H

#include "common.h"

typedef enum mx_dtype {
  MX_BOOL = 0,
  MX_UINT8,
  MX_UINT16,
  MX_UINT32,
  MX_UINT64,
  MX_INT8,
  MX_INT16,
  MX_INT32,
  MX_INT64,
  MX_FLOAT16,
  MX_FLOAT32,
  MX_FLOAT64,
  MX_BFLOAT16,
  MX_COMPLEX64,
  MX_DTYPE_COUNT
} mx_dtype;

/* Categories, numbered as MLX's Dtype::Category. */
typedef enum mx_dtype_category {
  MX_CAT_COMPLEXFLOATING = 0,
  MX_CAT_FLOATING,
  MX_CAT_INEXACT,
  MX_CAT_SIGNEDINTEGER,
  MX_CAT_UNSIGNEDINTEGER,
  MX_CAT_INTEGER,
  MX_CAT_NUMBER,
  MX_CAT_GENERIC,
  MX_CAT_COUNT
} mx_dtype_category;

/* Host functions: kernels compiled at run time (NVRTC) see only the enumerations above. */
#if !defined(__CUDACC_RTC__)
int mx_dtype_size(mx_dtype t);             /* bytes per element */
const char *mx_dtype_name(mx_dtype t);     /* "float32", "bool" for MX_BOOL */
const char *mx_dtype_py_name(mx_dtype t);  /* "float32", "bool_" for MX_BOOL */
char mx_dtype_kind(mx_dtype t);            /* 'b','u','i','f','V'(bfloat16),'c' */
const char *mx_dtype_category_name(mx_dtype_category c);

bool mx_dtype_is_integer(mx_dtype t);     /* signed or unsigned ints (not bool) */
bool mx_dtype_is_signed(mx_dtype t);      /* signed ints and every float/complex */
bool mx_dtype_is_floating(mx_dtype t);    /* f16, f32, f64, bf16 */
bool mx_dtype_is_inexact(mx_dtype t);     /* floating or complex */
bool mx_dtype_is_complex(mx_dtype t);

/* issubdtype over dtypes and categories (bool is only under generic). */
bool mx_issubdtype_dt(mx_dtype a, mx_dtype b);
bool mx_issubdtype_dc(mx_dtype a, mx_dtype_category c);
bool mx_issubdtype_cc(mx_dtype_category a, mx_dtype_category b);
bool mx_issubdtype_cd(mx_dtype_category a, mx_dtype b);

mx_dtype mx_promote_types(mx_dtype a, mx_dtype b); /* the fixed lattice table */
mx_dtype mx_at_least_float(mx_dtype t);            /* non-inexact -> float32 */

/* finfo for floating/complex dtypes (complex64 answers as float32). */
typedef struct mx_finfo {
  double min, max, eps, smallest_normal;
  int bits;
  mx_dtype dtype;
} mx_finfo;
int mx_finfo_get(mx_dtype t, mx_finfo *out);  /* -1 + EINVAL for non-inexact */

/* iinfo for integer and bool dtypes (values as int64/uint64 pair). */
typedef struct mx_iinfo {
  int64_t min;
  uint64_t max;
  int bits;
  mx_dtype dtype;
} mx_iinfo;
int mx_iinfo_get(mx_dtype t, mx_iinfo *out);  /* -1 + EINVAL for floats */
#endif

#endif
