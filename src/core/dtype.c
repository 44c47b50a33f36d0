/* dtype.c: the dtype tables of dtype.h: sizes, names, kinds, categories, the promotion
 * lattice copied verbatim from spec/semantics.md section 2, and finfo/iinfo limits as
 * MLX reports them. Pure tables; depends on dtype.h and error.h. */
#include "dtype.h"

#include "error.h"

typedef struct dtype_info {
  const char *name;
  const char *py_name;
  int size;
  char kind;
  mx_dtype_category cat;
} dtype_info;

static const dtype_info k_info[MX_DTYPE_COUNT] = {
    [MX_BOOL] = {"bool", "bool_", 1, 'b', MX_CAT_GENERIC},
    [MX_UINT8] = {"uint8", "uint8", 1, 'u', MX_CAT_UNSIGNEDINTEGER},
    [MX_UINT16] = {"uint16", "uint16", 2, 'u', MX_CAT_UNSIGNEDINTEGER},
    [MX_UINT32] = {"uint32", "uint32", 4, 'u', MX_CAT_UNSIGNEDINTEGER},
    [MX_UINT64] = {"uint64", "uint64", 8, 'u', MX_CAT_UNSIGNEDINTEGER},
    [MX_INT8] = {"int8", "int8", 1, 'i', MX_CAT_SIGNEDINTEGER},
    [MX_INT16] = {"int16", "int16", 2, 'i', MX_CAT_SIGNEDINTEGER},
    [MX_INT32] = {"int32", "int32", 4, 'i', MX_CAT_SIGNEDINTEGER},
    [MX_INT64] = {"int64", "int64", 8, 'i', MX_CAT_SIGNEDINTEGER},
    [MX_FLOAT16] = {"float16", "float16", 2, 'f', MX_CAT_FLOATING},
    [MX_FLOAT32] = {"float32", "float32", 4, 'f', MX_CAT_FLOATING},
    [MX_FLOAT64] = {"float64", "float64", 8, 'f', MX_CAT_FLOATING},
    [MX_BFLOAT16] = {"bfloat16", "bfloat16", 2, 'V', MX_CAT_FLOATING},
    [MX_COMPLEX64] = {"complex64", "complex64", 8, 'c', MX_CAT_COMPLEXFLOATING},
};

static const char *const k_cat_names[MX_CAT_COUNT] = {
    [MX_CAT_COMPLEXFLOATING] = "complexfloating",
    [MX_CAT_FLOATING] = "floating",
    [MX_CAT_INEXACT] = "inexact",
    [MX_CAT_SIGNEDINTEGER] = "signedinteger",
    [MX_CAT_UNSIGNEDINTEGER] = "unsignedinteger",
    [MX_CAT_INTEGER] = "integer",
    [MX_CAT_NUMBER] = "number",
    [MX_CAT_GENERIC] = "generic",
};

static bool valid(mx_dtype t) { return (unsigned)t < (unsigned)MX_DTYPE_COUNT; }

int mx_dtype_size(mx_dtype t) { return valid(t) ? k_info[t].size : 0; }
const char *mx_dtype_name(mx_dtype t) { return valid(t) ? k_info[t].name : "invalid"; }
const char *mx_dtype_py_name(mx_dtype t) { return valid(t) ? k_info[t].py_name : "invalid"; }
char mx_dtype_kind(mx_dtype t) { return valid(t) ? k_info[t].kind : '?'; }

const char *mx_dtype_category_name(mx_dtype_category c) {
  return (unsigned)c < (unsigned)MX_CAT_COUNT ? k_cat_names[c] : "invalid";
}

bool mx_dtype_is_integer(mx_dtype t) { return t >= MX_UINT8 && t <= MX_INT64; }
bool mx_dtype_is_floating(mx_dtype t) {
  return t == MX_FLOAT16 || t == MX_FLOAT32 || t == MX_FLOAT64 || t == MX_BFLOAT16;
}
bool mx_dtype_is_complex(mx_dtype t) { return t == MX_COMPLEX64; }
bool mx_dtype_is_inexact(mx_dtype t) { return mx_dtype_is_floating(t) || mx_dtype_is_complex(t); }
bool mx_dtype_is_signed(mx_dtype t) {
  return (t >= MX_INT8 && t <= MX_INT64) || mx_dtype_is_inexact(t);
}

/* ---- issubdtype (MLX's category tree; bool sits only under generic) ---- */

bool mx_issubdtype_cc(mx_dtype_category a, mx_dtype_category b) {
  if (a == b) return true;
  switch (a) {
  case MX_CAT_GENERIC:
    return false;
  case MX_CAT_NUMBER:
    return b == MX_CAT_GENERIC;
  case MX_CAT_INTEGER:
  case MX_CAT_INEXACT:
    return b == MX_CAT_NUMBER || b == MX_CAT_GENERIC;
  case MX_CAT_SIGNEDINTEGER:
  case MX_CAT_UNSIGNEDINTEGER:
    return b == MX_CAT_INTEGER || b == MX_CAT_NUMBER || b == MX_CAT_GENERIC;
  case MX_CAT_FLOATING:
  case MX_CAT_COMPLEXFLOATING:
    return b == MX_CAT_INEXACT || b == MX_CAT_NUMBER || b == MX_CAT_GENERIC;
  default:
    return false;
  }
}

bool mx_issubdtype_dt(mx_dtype a, mx_dtype b) { return a == b; }

bool mx_issubdtype_dc(mx_dtype a, mx_dtype_category c) {
  return valid(a) && mx_issubdtype_cc(k_info[a].cat, c);
}

bool mx_issubdtype_cd(mx_dtype_category a, mx_dtype b) {
  (void)a;
  (void)b;
  return false; /* as MLX: a category is never a subtype of a concrete dtype */
}

/* ---- promotion (spec/semantics.md section 2, row = one operand, column = other) ---- */

#define b_ MX_BOOL
#define u1 MX_UINT8
#define u2 MX_UINT16
#define u4 MX_UINT32
#define u8 MX_UINT64
#define i1 MX_INT8
#define i2 MX_INT16
#define i4 MX_INT32
#define i8 MX_INT64
#define h_ MX_FLOAT16
#define f_ MX_FLOAT32
#define d_ MX_FLOAT64
#define bf MX_BFLOAT16
#define c_ MX_COMPLEX64

static const uint8_t k_promote[MX_DTYPE_COUNT][MX_DTYPE_COUNT] = {
    /*         b   u8  u16 u32 u64 i8  i16 i32 i64 f16 f32 f64 bf16 c64 */
    /* b   */ {b_, u1, u2, u4, u8, i1, i2, i4, i8, h_, f_, d_, bf, c_},
    /* u8  */ {u1, u1, u2, u4, u8, i2, i2, i4, i8, h_, f_, d_, bf, c_},
    /* u16 */ {u2, u2, u2, u4, u8, i4, i4, i4, i8, h_, f_, d_, bf, c_},
    /* u32 */ {u4, u4, u4, u4, u8, i8, i8, i8, i8, h_, f_, d_, bf, c_},
    /* u64 */ {u8, u8, u8, u8, u8, f_, f_, f_, f_, h_, f_, d_, bf, c_},
    /* i8  */ {i1, i2, i4, i8, f_, i1, i2, i4, i8, h_, f_, d_, bf, c_},
    /* i16 */ {i2, i2, i4, i8, f_, i2, i2, i4, i8, h_, f_, d_, bf, c_},
    /* i32 */ {i4, i4, i4, i8, f_, i4, i4, i4, i8, h_, f_, d_, bf, c_},
    /* i64 */ {i8, i8, i8, i8, f_, i8, i8, i8, i8, h_, f_, d_, bf, c_},
    /* f16 */ {h_, h_, h_, h_, h_, h_, h_, h_, h_, h_, f_, d_, f_, c_},
    /* f32 */ {f_, f_, f_, f_, f_, f_, f_, f_, f_, f_, f_, d_, f_, c_},
    /* f64 */ {d_, d_, d_, d_, d_, d_, d_, d_, d_, d_, d_, d_, d_, c_},
    /* bf16*/ {bf, bf, bf, bf, bf, bf, bf, bf, bf, f_, f_, d_, bf, c_},
    /* c64 */ {c_, c_, c_, c_, c_, c_, c_, c_, c_, c_, c_, c_, c_, c_},
};

#undef b_
#undef u1
#undef u2
#undef u4
#undef u8
#undef i1
#undef i2
#undef i4
#undef i8
#undef h_
#undef f_
#undef d_
#undef bf
#undef c_

mx_dtype mx_promote_types(mx_dtype a, mx_dtype b) {
  MX_ASSERT(valid(a) && valid(b));
  return (mx_dtype)k_promote[a][b];
}

mx_dtype mx_at_least_float(mx_dtype t) { return mx_dtype_is_inexact(t) ? t : MX_FLOAT32; }

/* ---- finfo / iinfo ---- */

int mx_finfo_get(mx_dtype t, mx_finfo *out) {
  if (!valid(t) || !mx_dtype_is_inexact(t))
    return mx_fail_int(MX_EINVAL, "[finfo] dtype %s is not inexact.", mx_dtype_name(t));
  switch (t) {
  case MX_FLOAT16:
    out->max = 65504.0;
    out->eps = 0.0009765625;              /* 2^-10 */
    out->smallest_normal = 6.103515625e-05; /* 2^-14 */
    break;
  case MX_BFLOAT16:
    out->max = 3.3895313892515355e38;          /* (2 - 2^-7) * 2^127 */
    out->eps = 0.0078125;                      /* 2^-7 */
    out->smallest_normal = 1.1754943508222875e-38; /* 2^-126 */
    break;
  case MX_FLOAT64:
    out->max = 1.7976931348623157e308;
    out->eps = 2.220446049250313e-16;           /* 2^-52 */
    out->smallest_normal = 2.2250738585072014e-308; /* 2^-1022 */
    break;
  default: /* float32 and complex64 (which answers as float32) */
    out->max = 3.4028234663852886e38;
    out->eps = 1.1920928955078125e-07;          /* 2^-23 */
    out->smallest_normal = 1.1754943508222875e-38; /* 2^-126 */
    break;
  }
  out->min = -out->max;
  out->dtype = t == MX_COMPLEX64 ? MX_FLOAT32 : t;
  out->bits = 8 * mx_dtype_size(out->dtype);
  return 0;
}

int mx_iinfo_get(mx_dtype t, mx_iinfo *out) {
  switch (t) {
  case MX_BOOL: out->min = 0; out->max = 1; break;
  case MX_UINT8: out->min = 0; out->max = UINT8_MAX; break;
  case MX_UINT16: out->min = 0; out->max = UINT16_MAX; break;
  case MX_UINT32: out->min = 0; out->max = UINT32_MAX; break;
  case MX_UINT64: out->min = 0; out->max = UINT64_MAX; break;
  case MX_INT8: out->min = INT8_MIN; out->max = INT8_MAX; break;
  case MX_INT16: out->min = INT16_MIN; out->max = INT16_MAX; break;
  case MX_INT32: out->min = INT32_MIN; out->max = INT32_MAX; break;
  case MX_INT64: out->min = INT64_MIN; out->max = INT64_MAX; break;
  default:
    return mx_fail_int(MX_EINVAL, "[iinfo] Only integer types supported but %s was provided",
                       mx_dtype_name(t));
  }
  out->bits = 8 * mx_dtype_size(t);
  out->dtype = t;
  return 0;
}
