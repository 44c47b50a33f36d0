/* test_kernels.c: the CPU kernels called directly through mx_prims after
 * mx_prims_register_kernels(), on hand-made mx_tensor views (contiguous, transposed,
 * broadcast stride-0, sliced, size-0, size-1, > 16 dims) for every dtype, against
 * double-precision references; plus dtype tables, half conversions and the Threefry
 * known answers of spec/semantics.md section 7. Seed: MX_TEST_SEED (printed on failure).
 * Standalone build: -DMX_KERNEL_TEST_STANDALONE (defines mx_prims here). */
#include <complex.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "half.h"
#include "param_enums.h"
#include "prim.h"

#include "../../src/backend/cpu/cpu.h"
#include "../../src/backend/formulas.h"

#ifdef MX_KERNEL_TEST_STANDALONE
mx_prim_vt mx_prims[MX_PRIM_COUNT];
#endif

/* ---------------------------------------------------------------- harness */

static int g_failures, g_test_failures;
static uint64_t g_seed = 20240611u, g_rng;

#define FAIL(...)                                                                                  \
  do {                                                                                             \
    g_failures++;                                                                                  \
    if (g_test_failures++ < 12) {                                                                  \
      fprintf(stderr, "  %s:%d: ", __FILE__, __LINE__);                                            \
      fprintf(stderr, __VA_ARGS__);                                                                \
      fputc('\n', stderr);                                                                         \
    }                                                                                              \
  } while (0)
#define EXPECT(cond, ...)                                                                          \
  do {                                                                                             \
    if (!(cond)) FAIL(__VA_ARGS__);                                                                \
  } while (0)

static uint64_t rng_u64(void) { /* splitmix64 */
  uint64_t z = (g_rng += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}
static double rng_unif(double lo, double hi) {
  return lo + (hi - lo) * (double)(rng_u64() >> 11) * 0x1.0p-53;
}

static const mx_dtype ALL[MX_DTYPE_COUNT] = {
    MX_BOOL,  MX_UINT8, MX_UINT16,  MX_UINT32,  MX_UINT64,  MX_INT8,     MX_INT16,
    MX_INT32, MX_INT64, MX_FLOAT16, MX_FLOAT32, MX_FLOAT64, MX_BFLOAT16, MX_COMPLEX64};

static bool is_cplx(mx_dtype t) {
  return t == MX_COMPLEX64;
}
static bool is_int(mx_dtype t) {
  return mx_dtype_is_integer(t);
}
static bool is_uint(mx_dtype t) {
  return t >= MX_UINT8 && t <= MX_UINT64;
}

/* ---------------------------------------------------------------- values */

typedef struct cval {
  double re, im;
} cval;
static cval cv(double re, double im) {
  cval v = {re, im};
  return v;
}

static cval rd_at(mx_dtype t, const char *p) {
  switch (t) {
    case MX_BOOL: return cv(*(const bool *)p, 0);
    case MX_UINT8: return cv(*(const uint8_t *)p, 0);
    case MX_UINT16: return cv(*(const uint16_t *)p, 0);
    case MX_UINT32: return cv(*(const uint32_t *)p, 0);
    case MX_UINT64: return cv((double)*(const uint64_t *)p, 0);
    case MX_INT8: return cv(*(const int8_t *)p, 0);
    case MX_INT16: return cv(*(const int16_t *)p, 0);
    case MX_INT32: return cv(*(const int32_t *)p, 0);
    case MX_INT64: return cv((double)*(const int64_t *)p, 0);
    case MX_FLOAT16: return cv(mx_f16_to_f32(*(const uint16_t *)p), 0);
    case MX_FLOAT32: return cv(*(const float *)p, 0);
    case MX_FLOAT64: return cv(*(const double *)p, 0);
    case MX_BFLOAT16: return cv(mx_bf16_to_f32(*(const uint16_t *)p), 0);
    default: {
      const mx_c64 *z = (const mx_c64 *)p;
      return cv(z->re, z->im);
    }
  }
}

/* Integers (and bool) exactly, u64 as its bit pattern. */
static int64_t rd_int(mx_dtype t, const char *p) {
  switch (t) {
    case MX_BOOL: return *(const bool *)p;
    case MX_UINT8: return *(const uint8_t *)p;
    case MX_UINT16: return *(const uint16_t *)p;
    case MX_UINT32: return *(const uint32_t *)p;
    case MX_UINT64: return (int64_t) * (const uint64_t *)p;
    case MX_INT8: return *(const int8_t *)p;
    case MX_INT16: return *(const int16_t *)p;
    case MX_INT32: return *(const int32_t *)p;
    default: return *(const int64_t *)p;
  }
}

/* Wraps an exact integer result to t's width (two's complement), u64 as bit pattern. */
static int64_t wrap_int(mx_dtype t, int64_t v) {
  switch (t) {
    case MX_BOOL: return v != 0;
    case MX_UINT8: return (uint8_t)v;
    case MX_UINT16: return (uint16_t)v;
    case MX_UINT32: return (uint32_t)v;
    case MX_INT8: return (int8_t)(uint8_t)v;
    case MX_INT16: return (int16_t)(uint16_t)v;
    case MX_INT32: return (int32_t)(uint32_t)v;
    default: return v;
  }
}

static void wr_at(mx_dtype t, char *p, cval v) {
  switch (t) {
    case MX_BOOL: *(bool *)p = v.re != 0; break;
    case MX_UINT8: *(uint8_t *)p = (uint8_t)(int64_t)v.re; break;
    case MX_UINT16: *(uint16_t *)p = (uint16_t)(int64_t)v.re; break;
    case MX_UINT32: *(uint32_t *)p = (uint32_t)(int64_t)v.re; break;
    case MX_UINT64: *(uint64_t *)p = (uint64_t)(int64_t)v.re; break;
    case MX_INT8: *(int8_t *)p = (int8_t)(int64_t)v.re; break;
    case MX_INT16: *(int16_t *)p = (int16_t)(int64_t)v.re; break;
    case MX_INT32: *(int32_t *)p = (int32_t)(int64_t)v.re; break;
    case MX_INT64: *(int64_t *)p = (int64_t)v.re; break;
    case MX_FLOAT16: *(uint16_t *)p = mx_f32_to_f16((float)v.re); break;
    case MX_FLOAT32: *(float *)p = (float)v.re; break;
    case MX_FLOAT64: *(double *)p = v.re; break;
    case MX_BFLOAT16: *(uint16_t *)p = mx_f32_to_bf16((float)v.re); break;
    default: {
      mx_c64 *z = (mx_c64 *)p;
      z->re = (float)v.re;
      z->im = (float)v.im;
    }
  }
}

/* |got - ref| <= rtol * scale + atol, NaN matching NaN and infinities matching exactly. */
static bool close1(double got, double ref, double rtol, double scale, double atol) {
  if (isnan(ref)) return isnan(got);
  if (isinf(ref)) return got == ref;
  return fabs(got - ref) <= rtol * scale + atol;
}
static double rtol_of(mx_dtype t) {
  switch (t) {
    case MX_FLOAT16: return 1.5e-3;
    case MX_BFLOAT16: return 1.2e-2;
    case MX_FLOAT32:
    case MX_COMPLEX64: return 3e-6;
    case MX_FLOAT64: return 1e-13;
    default: return 0;
  }
}

/* ---------------------------------------------------------------- test tensors */

#define MAXD 24

/* A view (shape, strides, offset) over owned zeroed storage of `elems` elements. */
typedef struct tt {
  mx_tensor t;
  int32_t shape[MAXD];
  int64_t strides[MAXD];
  char *store;
  int64_t elems;
} tt;

static void tt_view(tt *x, mx_dtype dt, int ndim, const int32_t *shape, const int64_t *strides,
                    int64_t elems, int64_t offset) {
  int sz = mx_dtype_size(dt);
  x->elems = elems > 0 ? elems : 1;
  x->store = (char *)calloc((size_t)x->elems, (size_t)sz);
  int64_t size = 1, st = 1;
  for (int d = ndim - 1; d >= 0; d--) {
    x->shape[d] = shape[d];
    x->strides[d] = strides ? strides[d] : st;
    st *= shape[d];
    size *= shape[d];
  }
  x->t.data = x->store + offset * sz;
  x->t.dtype = dt;
  x->t.ndim = ndim;
  x->t.shape = x->shape;
  x->t.strides = x->strides;
  x->t.size = size;
  x->t.flags = mx_cpu_is_row_contig(&x->t) ? MX_ROW_CONTIG : 0;
}

/* Row-contiguous tensor of `shape` whose storage is filled with a garbage pattern. */
static void tt_out(tt *x, mx_dtype dt, int ndim, const int32_t *shape) {
  int64_t n = 1;
  for (int d = 0; d < ndim; d++) n *= shape[d];
  tt_view(x, dt, ndim, shape, NULL, n, 0);
  memset(x->store, 0xA5, (size_t)x->elems * (size_t)mx_dtype_size(dt));
}

static void tt_free(tt *x) {
  free(x->store);
  x->store = NULL;
}

static char *tt_elem(const tt *x, int64_t lin) {
  int64_t off = 0;
  for (int d = x->t.ndim - 1; d >= 0; d--) {
    int64_t i = lin % x->shape[d];
    lin /= x->shape[d];
    off += i * x->strides[d];
  }
  return (char *)x->t.data + off * mx_dtype_size(x->t.dtype);
}

/* Value classes for random fills. */
enum { V_ANY, V_POS, V_UNIT, V_SMALL, V_NEAR1 };

static cval rand_val(mx_dtype t, int cls) {
  if (t == MX_BOOL) return cv((double)(rng_u64() & 1), 0);
  if (is_uint(t)) return cv((double)(rng_u64() % (cls == V_SMALL ? 4 : 201)), 0);
  if (is_int(t))
    return cv(
        (double)((int64_t)(rng_u64() % (cls == V_SMALL ? 7 : 201)) - (cls == V_SMALL ? 3 : 100)),
        0);
  double lo = -4, hi = 4;
  if (cls == V_POS) lo = 0.05;
  if (cls == V_UNIT) lo = -0.999, hi = 0.999;
  if (cls == V_SMALL) lo = -1.5, hi = 1.5;
  if (cls == V_NEAR1) { /* +-[0.8, 1.25]: long products stay in range */
    double m = rng_unif(0.8, 1.25), p = rng_unif(0.8, 1.25);
    return cv((rng_u64() & 1) ? -m : m, is_cplx(t) ? p - 1 : 0);
  }
  return cv(rng_unif(lo, hi), is_cplx(t) ? rng_unif(lo, hi) : 0);
}

static void tt_fill(tt *x, int cls) {
  int sz = mx_dtype_size(x->t.dtype);
  for (int64_t i = 0; i < x->elems; i++)
    wr_at(x->t.dtype, x->store + i * sz, rand_val(x->t.dtype, cls));
}

static int call(int prim, const void *params, tt *const *ins, int nin, tt *out) {
  mx_tensor in[4];
  for (int i = 0; i < nin; i++) in[i] = ins[i]->t;
  mx_kernel_ctx ctx = {params, NULL, 0};
  mx_error_clear();
  return mx_prims[prim].eval_cpu(&ctx, in, nin, &out->t, 1);
}

/* Input layouts for element-wise tests, all of logical shape `shape` (ndim 2). */
enum { L_CONTIG, L_TRANSPOSED, L_BCAST_ROW, L_SCALAR, L_STRIDED, L_EMPTY, L_ONE, L_COUNT };
static const char *const L_NAMES[L_COUNT] = {"contig",  "transposed", "bcast-row", "scalar",
                                             "strided", "empty",      "size-1"};

static void layout_shape(int lay, int32_t *shape) {
  shape[0] = lay == L_EMPTY ? 0 : (lay == L_ONE ? 1 : 5);
  shape[1] = lay == L_ONE ? 1 : 7;
}

static void tt_layout(tt *x, mx_dtype dt, int lay) {
  int32_t sh[2];
  layout_shape(lay, sh);
  int64_t st[2];
  switch (lay) {
    case L_TRANSPOSED:
      st[0] = 1;
      st[1] = sh[0];
      tt_view(x, dt, 2, sh, st, 35, 0);
      break;
    case L_BCAST_ROW:
      st[0] = 0;
      st[1] = 1;
      tt_view(x, dt, 2, sh, st, 7, 0);
      break;
    case L_SCALAR:
      st[0] = 0;
      st[1] = 0;
      tt_view(x, dt, 2, sh, st, 1, 0);
      break;
    case L_STRIDED:
      st[0] = 20;
      st[1] = 2;
      tt_view(x, dt, 2, sh, st, 100, 3);
      break;
    default: tt_view(x, dt, 2, sh, NULL, (int64_t)sh[0] * sh[1], 0); break;
  }
}

/* ---------------------------------------------------------------- dtype tables */

static void test_dtype(void) {
  EXPECT(mx_dtype_size(MX_BFLOAT16) == 2 && mx_dtype_size(MX_COMPLEX64) == 8, "sizes");
  EXPECT(!strcmp(mx_dtype_name(MX_BOOL), "bool") && !strcmp(mx_dtype_py_name(MX_BOOL), "bool_"),
         "bool names");
  EXPECT(mx_dtype_kind(MX_BFLOAT16) == 'V' && mx_dtype_kind(MX_COMPLEX64) == 'c', "kinds");
  for (int i = 0; i < MX_DTYPE_COUNT; i++)
    for (int j = 0; j < MX_DTYPE_COUNT; j++)
      EXPECT(mx_promote_types(ALL[i], ALL[j]) == mx_promote_types(ALL[j], ALL[i]),
             "promotion not symmetric at %d,%d", i, j);
  for (int i = 0; i < MX_DTYPE_COUNT; i++) {
    EXPECT(mx_promote_types(MX_BOOL, ALL[i]) == ALL[i], "bool is the identity");
    EXPECT(mx_promote_types(ALL[i], ALL[i]) == ALL[i], "promote(t, t) == t");
  }
  EXPECT(mx_promote_types(MX_INT32, MX_FLOAT16) == MX_FLOAT16, "int x f16");
  EXPECT(mx_promote_types(MX_UINT64, MX_BFLOAT16) == MX_BFLOAT16, "int x bf16");
  EXPECT(mx_promote_types(MX_FLOAT16, MX_BFLOAT16) == MX_FLOAT32, "f16 x bf16");
  EXPECT(mx_promote_types(MX_UINT64, MX_INT8) == MX_FLOAT32, "u64 x i8");
  EXPECT(mx_promote_types(MX_FLOAT64, MX_COMPLEX64) == MX_COMPLEX64, "f64 x c64");
  EXPECT(mx_promote_types(MX_UINT8, MX_INT8) == MX_INT16, "u8 x i8");
  EXPECT(mx_promote_types(MX_UINT32, MX_INT32) == MX_INT64, "u32 x i32");
  EXPECT(mx_at_least_float(MX_INT8) == MX_FLOAT32 && mx_at_least_float(MX_FLOAT16) == MX_FLOAT16,
         "at_least_float");
  EXPECT(!mx_issubdtype_dc(MX_BOOL, MX_CAT_INTEGER) && mx_issubdtype_dc(MX_BOOL, MX_CAT_GENERIC),
         "bool category");
  EXPECT(mx_issubdtype_dc(MX_BFLOAT16, MX_CAT_INEXACT) && mx_issubdtype_dc(MX_UINT8, MX_CAT_NUMBER),
         "categories");
  EXPECT(mx_issubdtype_cc(MX_CAT_SIGNEDINTEGER, MX_CAT_INTEGER) &&
             !mx_issubdtype_cc(MX_CAT_INTEGER, MX_CAT_SIGNEDINTEGER) &&
             !mx_issubdtype_cd(MX_CAT_FLOATING, MX_FLOAT32),
         "category tree");
  EXPECT(mx_dtype_is_signed(MX_FLOAT16) && !mx_dtype_is_signed(MX_UINT8) &&
             !mx_dtype_is_integer(MX_BOOL),
         "predicates");
  mx_finfo f;
  EXPECT(mx_finfo_get(MX_BFLOAT16, &f) == 0 && f.eps == 0.0078125 &&
             f.max == 3.3895313892515355e38 && f.smallest_normal == 1.1754943508222875e-38 &&
             f.min == -f.max && f.bits == 16,
         "finfo bf16");
  EXPECT(mx_finfo_get(MX_FLOAT16, &f) == 0 && f.eps == 0.0009765625 && f.max == 65504 &&
             f.smallest_normal == 6.103515625e-05,
         "finfo f16");
  EXPECT(mx_finfo_get(MX_FLOAT32, &f) == 0 && f.eps == 0x1p-23 && f.max == 0x1.fffffep127 &&
             f.smallest_normal == 0x1p-126 && f.bits == 32,
         "finfo f32");
  EXPECT(mx_finfo_get(MX_FLOAT64, &f) == 0 && f.eps == 0x1p-52 && f.smallest_normal == 0x1p-1022,
         "finfo f64");
  EXPECT(mx_finfo_get(MX_COMPLEX64, &f) == 0 && f.dtype == MX_FLOAT32 && f.bits == 32, "finfo c64");
  EXPECT(mx_finfo_get(MX_INT32, &f) == -1 && mx_error_kind_get() == MX_EINVAL, "finfo int");
  mx_iinfo ii;
  EXPECT(mx_iinfo_get(MX_INT8, &ii) == 0 && ii.min == -128 && ii.max == 127 && ii.bits == 8,
         "iinfo i8");
  EXPECT(mx_iinfo_get(MX_UINT64, &ii) == 0 && ii.min == 0 && ii.max == UINT64_MAX, "iinfo u64");
  EXPECT(mx_iinfo_get(MX_FLOAT32, &ii) == -1 && mx_error_kind_get() == MX_EINVAL, "iinfo f32");
}

/* ---------------------------------------------------------------- half conversions */

static double f16_val(uint16_t h) {
  return mx_f16_to_f32_portable(h);
}

/* Reference float -> bfloat16 by distances in double (ties to even). */
static uint16_t ref_bf16(float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return 0x7fc0;
  uint16_t lo = (uint16_t)(u >> 16), hi = (uint16_t)(lo + 1);
  double dl = fabs((double)f - (double)mx_bf16_to_f32(lo));
  double dh = fabs((double)f - (double)mx_bf16_to_f32(hi));
  if ((u & 0xffffu) == 0) return lo;
  if ((lo & 0x7fffu) == 0x7f7fu && dh >= dl) /* next is inf: compare with 2^128 */
    dh = fabs(fabs((double)f) - 0x1p128);
  if (dl < dh) return lo;
  if (dh < dl) return hi;
  return (lo & 1) ? hi : lo;
}

static void test_half(void) {
  /* every binary16 value survives f16 -> f32 -> f16 */
  for (uint32_t h = 0; h < 65536; h++) {
    float f = mx_f16_to_f32_portable((uint16_t)h);
    uint16_t back = mx_f32_to_f16_portable(f);
    if ((h & 0x7c00) == 0x7c00 && (h & 0x3ff)) {
      EXPECT(isnan(f) && (back & 0x7c00) == 0x7c00 && (back & 0x3ff), "NaN %04x", h);
    } else {
      EXPECT(back == h, "f16 round trip %04x -> %g -> %04x", h, f, back);
    }
    EXPECT(mx_f16_to_f32((uint16_t)h) == f || isnan(f), "f16 dispatch %04x", h);
  }
  EXPECT(f16_val(0x3c00) == 1.0 && f16_val(0x7bff) == 65504.0 && f16_val(0x0001) == 0x1p-24 &&
             f16_val(0x0400) == 0x1p-14 && isinf(f16_val(0x7c00)) && signbit(f16_val(0x8000)),
         "f16 values");
  /* rounding: midpoints tie to even, one float ulp off a midpoint goes to the nearer */
  for (uint32_t h = 0; h < 0x7c00; h++) {
    double a = f16_val((uint16_t)h), b = h == 0x7bff ? 65536.0 : f16_val((uint16_t)(h + 1));
    float m = (float)((a + b) / 2);
    uint16_t even = (h & 1) ? (uint16_t)(h + 1) : (uint16_t)h;
    EXPECT(mx_f32_to_f16_portable(m) == even, "tie at %04x", h);
    EXPECT(mx_f32_to_f16_portable(nextafterf(m, 0.f)) == h, "below mid %04x", h);
    EXPECT(mx_f32_to_f16_portable(nextafterf(m, INFINITY)) == h + 1, "above mid %04x", h);
    EXPECT(mx_f32_to_f16_portable(-m) == (even | 0x8000), "negative tie %04x", h);
  }
  EXPECT(mx_f32_to_f16_portable(1e10f) == 0x7c00 && mx_f32_to_f16_portable(-INFINITY) == 0xfc00,
         "f16 overflow");
  EXPECT(mx_f32_to_f16_portable(1e-10f) == 0 && mx_f32_to_f16_portable(-1e-10f) == 0x8000,
         "f16 underflow");
#ifdef __FLT16_MAX__
  /* against the compiler's own binary16 conversion on a sweep of float bit patterns */
  for (uint64_t u = 0; u < 0x100000000ull; u += 4099) {
    uint32_t b = (uint32_t)u;
    float f;
    memcpy(&f, &b, 4);
    _Float16 r = (_Float16)f;
    uint16_t rb;
    memcpy(&rb, &r, 2);
    uint16_t got = mx_f32_to_f16_portable(f);
    EXPECT(mx_f32_to_f16(f) == got, "f32->f16 dispatch (F16C) %08x", b);
    if (isnan(f))
      EXPECT((got & 0x7c00) == 0x7c00 && (got & 0x3ff), "NaN pattern %08x", b);
    else
      EXPECT(got == rb, "f32->f16 %08x (%g): %04x vs %04x", b, f, got, rb);
  }
#endif
  for (uint64_t u = 0; u < 0x100000000ull; u += 3001) {
    uint32_t b = (uint32_t)u;
    float f;
    memcpy(&f, &b, 4);
    uint16_t got = mx_f32_to_bf16(f), ref = ref_bf16(f);
    if (isnan(f))
      EXPECT(got == 0x7fc0, "bf16 NaN %08x: %04x (MLX's conversion gives 0x7fc0)", b, got);
    else
      EXPECT(got == ref, "f32->bf16 %08x: %04x vs %04x", b, got, ref);
  }
  EXPECT(mx_f32_to_bf16(3.3895313892515355e38f) == 0x7f7f && mx_f32_to_bf16(3.4e38f) == 0x7f80,
         "bf16 overflow");
}

/* ---------------------------------------------------------------- astype */

/* Reference conversion of an exactly known value (x is representable in the source). */
static void ref_convert(mx_dtype st, const char *src, mx_dtype dt, char *dst) {
  cval v = rd_at(st, src);
  if (dt == MX_BOOL) {
    *(bool *)dst = v.re != 0 || v.im != 0;
  } else if (is_int(dt)) {
    int64_t i = (is_int(st) || st == MX_BOOL) ? rd_int(st, src) : (int64_t)trunc(v.re);
    int64_t w = wrap_int(dt, i);
    switch (mx_dtype_size(dt)) {
      case 1: *(uint8_t *)dst = (uint8_t)w; break;
      case 2: *(uint16_t *)dst = (uint16_t)w; break;
      case 4: *(uint32_t *)dst = (uint32_t)w; break;
      default: *(int64_t *)dst = w; break;
    }
  } else if (st == MX_INT64 || st == MX_UINT64) {
    cval e = cv(st == MX_INT64 ? (double)rd_int(st, src) : (double)(uint64_t)rd_int(st, src), 0);
    if (dt == MX_FLOAT32 || dt == MX_FLOAT16 || dt == MX_BFLOAT16 || dt == MX_COMPLEX64)
      e.re = st == MX_INT64 ? (float)rd_int(st, src) : (float)(uint64_t)rd_int(st, src);
    wr_at(dt, dst, e);
  } else {
    wr_at(dt, dst, is_cplx(dt) ? v : cv(v.re, 0));
  }
}

static void test_astype(void) {
  static const double vals[] = {0,  1,  2,    3,    7,   100,  127,   200,     255,
                                -1, -3, -100, -128, 0.5, 2.75, -2.75, 1000.25, 65504};
  const int nv = (int)MX_ARRAY_LEN(vals);
  for (int si = 0; si < MX_DTYPE_COUNT; si++) {
    for (int di = 0; di < MX_DTYPE_COUNT; di++) {
      mx_dtype st = ALL[si], dt = ALL[di];
      for (int lay = 0; lay < 3; lay++) { /* contiguous, transposed (2 x nv), reversed */
        tt x, y;
        int32_t sh[2] = {2, nv};
        int64_t tr[2] = {1, 2}, rev[2] = {nv, -1};
        const int64_t *strides = lay == 0 ? NULL : (lay == 1 ? tr : rev);
        tt_view(&x, st, 2, sh, strides, 2 * nv, lay == 2 ? nv - 1 : 0);
        for (int64_t i = 0; i < 2 * nv; i++) {
          double v = vals[i % nv];
          if (st == MX_BOOL) v = v != 0;
          if (is_uint(st) && v < 0) v = -v;
          if (is_int(st) || st == MX_BOOL) v = trunc(v);
          if ((st == MX_INT8 && fabs(v) > 127) || (st == MX_UINT8 && v > 255)) v = 5;
          wr_at(st, tt_elem(&x, i), cv(v, i % 3 == 0 ? 0.0 : 1.5));
        }
        tt_out(&y, dt, 2, sh);
        tt *ins[1] = {&x};
        EXPECT(call(MX_PRIM_ASTYPE, NULL, ins, 1, &y) == 0, "astype %s->%s: %s", mx_dtype_name(st),
               mx_dtype_name(dt), mx_error_message());
        /* the generic unary path (identity formula + conversion) must agree */
        tt y2;
        tt_out(&y2, dt, 2, sh);
        mx_kernel_ctx ctx = {NULL, NULL, 0};
        EXPECT(mx_cpu_unary_astype(&ctx, &x.t, 1, &y2.t, 1) == 0, "unary astype");
        int sz = mx_dtype_size(dt);
        for (int64_t i = 0; i < 2 * nv; i++) {
          char ref[8];
          ref_convert(st, tt_elem(&x, i), dt, ref);
          EXPECT(!memcmp(ref, tt_elem(&y, i), (size_t)sz), "astype %s->%s [%d] elem %lld",
                 mx_dtype_name(st), mx_dtype_name(dt), lay, (long long)i);
          EXPECT(!memcmp(tt_elem(&y2, i), tt_elem(&y, i), (size_t)sz), "unary astype %s->%s",
                 mx_dtype_name(st), mx_dtype_name(dt));
        }
        tt_free(&x);
        tt_free(&y);
        tt_free(&y2);
      }
    }
  }
  /* out-of-range and NaN float -> int are defined (x86 patterns), never a trap */
  float specials[] = {NAN, INFINITY, -INFINITY, 3e9f, -3e9f, 1e20f, 300.7f, -1.0f};
  int32_t sh[1] = {8};
  tt x, y;
  tt_view(&x, MX_FLOAT32, 1, sh, NULL, 8, 0);
  memcpy(x.store, specials, sizeof specials);
  tt *ins[1] = {&x};
  tt_out(&y, MX_INT32, 1, sh);
  EXPECT(call(MX_PRIM_ASTYPE, NULL, ins, 1, &y) == 0, "specials");
  int32_t *o = (int32_t *)y.store;
  EXPECT(o[0] == INT32_MIN && o[1] == INT32_MIN && o[3] == INT32_MIN && o[6] == 300 && o[7] == -1,
         "f32->i32 specials %d %d %d %d", o[0], o[1], o[3], o[6]);
  tt_free(&y);
  tt_out(&y, MX_UINT8, 1, sh);
  EXPECT(call(MX_PRIM_ASTYPE, NULL, ins, 1, &y) == 0, "specials u8");
  EXPECT(((uint8_t *)y.store)[6] == 44 && ((uint8_t *)y.store)[7] == 255 &&
             ((uint8_t *)y.store)[0] == 0,
         "f32->u8 specials");
  tt_free(&y);
  tt_out(&y, MX_UINT64, 1, sh);
  EXPECT(call(MX_PRIM_ASTYPE, NULL, ins, 1, &y) == 0, "specials u64");
  EXPECT(((uint64_t *)y.store)[3] == 3000000000ull && ((uint64_t *)y.store)[7] == UINT64_MAX &&
             ((uint64_t *)y.store)[5] == 0x8000000000000000ull,
         "f32->u64 specials");
  tt_free(&y);
  tt_out(&y, MX_BOOL, 1, sh);
  EXPECT(call(MX_PRIM_ASTYPE, NULL, ins, 1, &y) == 0 && ((bool *)y.store)[0], "NaN -> true");
  tt_free(&y);
  tt_free(&x);
}

/* ---------------------------------------------------------------- unary */

static double ref_erfinv(double y) {
  if (isnan(y) || y == 0) return y;
  if (y <= -1) return y == -1 ? -INFINITY : NAN;
  if (y >= 1) return y == 1 ? INFINITY : NAN;
  double ay = fabs(y), lo = 0, hi = 10;
  for (int i = 0; i < 200 && hi - lo > 0; i++) { /* bisection on erf / erfc */
    double mid = 0.5 * (lo + hi);
    if (mid == lo || mid == hi) break;
    bool above = ay < 0.5 ? erf(mid) > ay : erfc(mid) < 1 - ay;
    if (above)
      hi = mid;
    else
      lo = mid;
  }
  double x = 0.5 * (lo + hi);
  return y < 0 ? -x : x;
}

typedef struct unary_case {
  int prim;
  const char *name;
  int cls;        /* value class of the inputs */
  uint32_t types; /* supported dtypes, bit per dtype */
} unary_case;

#define B(t) (1u << (t))
#define T_INTS                                                                                     \
  (B(MX_UINT8) | B(MX_UINT16) | B(MX_UINT32) | B(MX_UINT64) | B(MX_INT8) | B(MX_INT16) |           \
   B(MX_INT32) | B(MX_INT64))
#define T_FLOATS (B(MX_FLOAT16) | B(MX_FLOAT32) | B(MX_FLOAT64) | B(MX_BFLOAT16))
#define T_ALL (B(MX_BOOL) | T_INTS | T_FLOATS | B(MX_COMPLEX64))

static const unary_case UNARY[] = {
    {MX_PRIM_ABS, "abs", V_ANY, T_ALL},
    {MX_PRIM_NEGATIVE, "negative", V_ANY, T_INTS | T_FLOATS | B(MX_COMPLEX64)},
    {MX_PRIM_EXP, "exp", V_ANY, T_FLOATS | B(MX_COMPLEX64)},
    {MX_PRIM_LOG, "log", V_POS, T_FLOATS | B(MX_COMPLEX64)},
    {MX_PRIM_SQRT, "sqrt", V_ANY, T_FLOATS | B(MX_COMPLEX64)},
    {MX_PRIM_ERFINV, "erfinv", V_UNIT, T_FLOATS},
    {MX_PRIM_FLOOR, "floor", V_ANY, B(MX_BOOL) | T_INTS | T_FLOATS},
    {MX_PRIM_SIGN, "sign", V_ANY, T_ALL},
    {MX_PRIM_COPY, "copy", V_ANY, T_ALL},
};

static cval ref_unary(int prim, mx_dtype t, const char *xp) {
  cval x = rd_at(t, xp);
  if (is_int(t) || t == MX_BOOL) {
    int64_t v = rd_int(t, xp), r = v;
    bool u = is_uint(t);
    switch (prim) {
      case MX_PRIM_ABS: r = (!u && v < 0) ? -v : v; break;
      case MX_PRIM_NEGATIVE: r = (int64_t)(0 - (uint64_t)v); break;
      case MX_PRIM_SIGN: r = u ? v != 0 : (v > 0) - (v < 0); break;
      default: break;
    }
    return cv((double)wrap_int(t, r), 0);
  }
  if (is_cplx(t)) {
    double complex z = x.re + x.im * _Complex_I, r = z;
    switch (prim) {
      case MX_PRIM_ABS: r = cabs(z); break;
      case MX_PRIM_NEGATIVE: r = -z; break;
      case MX_PRIM_EXP: r = cexp(z); break;
      case MX_PRIM_LOG: r = clog(z); break;
      case MX_PRIM_SQRT: r = csqrt(z); break;
      case MX_PRIM_SIGN: r = z == 0 ? 0 : z / cabs(z); break;
      default: break;
    }
    return cv(creal(r), cimag(r));
  }
  double v = x.re, r = v;
  switch (prim) {
    case MX_PRIM_ABS: r = fabs(v); break;
    case MX_PRIM_NEGATIVE: r = -v; break;
    case MX_PRIM_EXP: r = exp(v); break;
    case MX_PRIM_LOG: r = log(v); break;
    case MX_PRIM_SQRT: r = sqrt(v); break;
    case MX_PRIM_ERFINV: r = ref_erfinv(v); break;
    case MX_PRIM_FLOOR: r = floor(v); break;
    case MX_PRIM_SIGN: r = v < 0 ? -1 : (v > 0 ? 1 : 0); break;
    default: break;
  }
  return cv(r, 0);
}

static void check_elem(const char *what, mx_dtype t, const char *got_p, cval ref, double rtol,
                       double scale, int64_t i) {
  if (is_int(t) || t == MX_BOOL) {
    int64_t g = rd_int(t, got_p);
    EXPECT(g == (int64_t)ref.re, "%s %s elem %lld: got %lld want %lld", what, mx_dtype_name(t),
           (long long)i, (long long)g, (long long)ref.re);
    return;
  }
  cval g = rd_at(t, got_p);
  if (is_cplx(t)) {
    double s = scale > 0 ? scale : hypot(ref.re, ref.im) + 1e-6;
    EXPECT(close1(g.re, ref.re, rtol, s, 1e-30) && close1(g.im, ref.im, rtol, s, 1e-30),
           "%s c64 elem %lld: got (%g,%g) want (%g,%g)", what, (long long)i, g.re, g.im, ref.re,
           ref.im);
    return;
  }
  double s = scale > 0 ? scale : fabs(ref.re);
  double atol = t == MX_FLOAT16 ? 1e-7 : 1e-300;
  EXPECT(close1(g.re, ref.re, rtol, s, atol), "%s %s elem %lld: got %.9g want %.9g", what,
         mx_dtype_name(t), (long long)i, g.re, ref.re);
}

static void test_unary(void) {
  for (size_t c = 0; c < MX_ARRAY_LEN(UNARY); c++) {
    const unary_case *uc = &UNARY[c];
    for (int ti = 0; ti < MX_DTYPE_COUNT; ti++) {
      mx_dtype t = ALL[ti];
      for (int lay = 0; lay < L_COUNT; lay++) {
        tt x, y;
        tt_layout(&x, t, lay);
        tt_fill(&x, uc->cls);
        tt_out(&y, t, 2, x.shape);
        tt *ins[1] = {&x};
        int rc = call(uc->prim, NULL, ins, 1, &y);
        if (!(uc->types & B(t))) {
          EXPECT(rc == -1 && mx_error_kind_get() == MX_ETYPE, "%s %s should be rejected", uc->name,
                 mx_dtype_name(t));
        } else {
          EXPECT(rc == 0, "%s %s %s: %s", uc->name, mx_dtype_name(t), L_NAMES[lay],
                 mx_error_message());
          double rtol = rtol_of(t) * (uc->prim == MX_PRIM_ERFINV && t == MX_FLOAT32 ? 4 : 1);
          for (int64_t i = 0; rc == 0 && i < x.t.size; i++)
            check_elem(uc->name, t, tt_elem(&y, i), ref_unary(uc->prim, t, tt_elem(&x, i)), rtol, 0,
                       i);
        }
        tt_free(&x);
        tt_free(&y);
      }
    }
  }
  /* in place (donated buffer: out aliases the input) */
  tt x;
  int32_t sh[1] = {1000};
  tt_view(&x, MX_FLOAT32, 1, sh, NULL, 1000, 0);
  tt_fill(&x, V_ANY);
  float *keep = (float *)malloc(1000 * sizeof(float));
  memcpy(keep, x.store, 1000 * sizeof(float));
  tt *ins[1] = {&x};
  EXPECT(call(MX_PRIM_NEGATIVE, NULL, ins, 1, &x) == 0, "donated negative");
  for (int i = 0; i < 1000; i++) EXPECT(((float *)x.store)[i] == -keep[i], "donated elem %d", i);
  free(keep);
  tt_free(&x);
  /* abs of complex64 into a float32 output (MLX casts abs(complex) to float32) */
  tt z, a;
  tt_view(&z, MX_COMPLEX64, 1, sh, NULL, 1000, 0);
  tt_fill(&z, V_ANY);
  tt_out(&a, MX_FLOAT32, 1, sh);
  ins[0] = &z;
  EXPECT(call(MX_PRIM_ABS, NULL, ins, 1, &a) == 0, "abs c64 -> f32");
  for (int i = 0; i < 1000; i++) {
    mx_c64 v = ((mx_c64 *)z.store)[i];
    EXPECT(close1(((float *)a.store)[i], hypot(v.re, v.im), 3e-7, hypot(v.re, v.im), 0),
           "abs c64 %d", i);
  }
  tt_free(&z);
  tt_free(&a);
  /* erfinv special values, float32 and float64 */
  const double sp[] = {0.0, -0.0, 1.0, -1.0, 1.5, NAN, 1e-30, 0.9999999, -0.99999994, 0.5};
  for (int k = 0; k < 2; k++) {
    mx_dtype t = k ? MX_FLOAT64 : MX_FLOAT32;
    int32_t n[1] = {(int32_t)MX_ARRAY_LEN(sp)};
    tt e, r;
    tt_view(&e, t, 1, n, NULL, n[0], 0);
    for (int i = 0; i < n[0]; i++) wr_at(t, tt_elem(&e, i), cv(sp[i], 0));
    tt_out(&r, t, 1, n);
    ins[0] = &e;
    EXPECT(call(MX_PRIM_ERFINV, NULL, ins, 1, &r) == 0, "erfinv specials");
    for (int i = 0; i < n[0]; i++) {
      double in = rd_at(t, tt_elem(&e, i)).re, want = ref_erfinv(in);
      check_elem("erfinv special", t, tt_elem(&r, i), cv(want, 0), k ? 1e-14 : 2e-6, 0, i);
    }
    tt_free(&e);
    tt_free(&r);
  }
  /* f64 erfinv across (-1, 1), including the tails */
  {
    int32_t n[1] = {4001};
    tt e, r;
    tt_view(&e, MX_FLOAT64, 1, n, NULL, n[0], 0);
    for (int i = 0; i < n[0]; i++) {
      double u = -1 + 2.0 * i / (n[0] - 1);
      if (i == 0) u = -1 + 0x1p-53;
      if (i == n[0] - 1) u = 1 - 0x1p-53;
      ((double *)e.store)[i] = u;
    }
    tt_out(&r, MX_FLOAT64, 1, n);
    ins[0] = &e;
    EXPECT(call(MX_PRIM_ERFINV, NULL, ins, 1, &r) == 0, "erfinv f64 sweep");
    for (int i = 0; i < n[0]; i++)
      check_elem("erfinv f64", MX_FLOAT64, tt_elem(&r, i),
                 cv(ref_erfinv(((double *)e.store)[i]), 0), 1e-14, 0, i);
    tt_free(&e);
    tt_free(&r);
  }
}

/* ---------------------------------------------------------------- binary and compare */

static const struct {
  int prim;
  const char *name;
  bool compare;
} BINARY[] = {
    {MX_PRIM_ADD, "add", false},           {MX_PRIM_SUBTRACT, "subtract", false},
    {MX_PRIM_MULTIPLY, "multiply", false}, {MX_PRIM_DIVIDE, "divide", false},
    {MX_PRIM_MAXIMUM, "maximum", false},   {MX_PRIM_MINIMUM, "minimum", false},
    {MX_PRIM_EQUAL, "equal", true},        {MX_PRIM_NOT_EQUAL, "not_equal", true},
    {MX_PRIM_LESS, "less", true},          {MX_PRIM_LESS_EQUAL, "less_equal", true},
    {MX_PRIM_GREATER, "greater", true},    {MX_PRIM_GREATER_EQUAL, "greater_equal", true},
};

static int cmp_lex(cval a, cval b) { /* MLX's complex order */
  if (a.re != b.re) return a.re < b.re ? -1 : 1;
  if (a.im != b.im) return a.im < b.im ? -1 : 1;
  return 0;
}

static bool ref_compare(int prim, mx_dtype t, const char *ap, const char *bp) {
  int c;
  if (is_int(t) || t == MX_BOOL) {
    int64_t a = rd_int(t, ap), b = rd_int(t, bp);
    if (t == MX_UINT64)
      c = (uint64_t)a < (uint64_t)b ? -1 : ((uint64_t)a > (uint64_t)b);
    else
      c = a < b ? -1 : (a > b);
  } else {
    c = cmp_lex(rd_at(t, ap), rd_at(t, bp));
  }
  switch (prim) {
    case MX_PRIM_EQUAL: return c == 0;
    case MX_PRIM_NOT_EQUAL: return c != 0;
    case MX_PRIM_LESS: return c < 0;
    case MX_PRIM_LESS_EQUAL: return c <= 0;
    case MX_PRIM_GREATER: return c > 0;
    default: return c >= 0;
  }
}

static cval ref_binary(int prim, mx_dtype t, const char *ap, const char *bp, double *scale) {
  *scale = 0;
  if (t == MX_BOOL) {
    bool a = rd_int(t, ap), b = rd_int(t, bp), r;
    switch (prim) {
      case MX_PRIM_ADD:
      case MX_PRIM_MAXIMUM: r = a || b; break;
      case MX_PRIM_SUBTRACT: r = a != b; break;
      default: r = a && b; break;
    }
    return cv(r, 0);
  }
  if (is_int(t)) {
    int64_t a = rd_int(t, ap), b = rd_int(t, bp), r = 0;
    bool u = is_uint(t);
    switch (prim) {
      case MX_PRIM_ADD: r = (int64_t)((uint64_t)a + (uint64_t)b); break;
      case MX_PRIM_SUBTRACT: r = (int64_t)((uint64_t)a - (uint64_t)b); break;
      case MX_PRIM_MULTIPLY: r = (int64_t)((uint64_t)a * (uint64_t)b); break;
      case MX_PRIM_DIVIDE: /* floor quotient, as MLX's integer Divide */
        r = b == 0 ? 0
                   : (u ? (int64_t)((uint64_t)a / (uint64_t)b)
                        : (b == -1 ? (int64_t)(0 - (uint64_t)a)
                                   : a / b - (a % b != 0 && (a < 0) != (b < 0))));
        break;
      case MX_PRIM_MAXIMUM: r = u ? ((uint64_t)a > (uint64_t)b ? a : b) : (a > b ? a : b); break;
      default: r = u ? ((uint64_t)a < (uint64_t)b ? a : b) : (a < b ? a : b); break;
    }
    return cv((double)wrap_int(t, r), 0);
  }
  cval a = rd_at(t, ap), b = rd_at(t, bp);
  if (is_cplx(t)) {
    double complex x = a.re + a.im * _Complex_I, y = b.re + b.im * _Complex_I, r = 0;
    switch (prim) {
      case MX_PRIM_ADD:
        r = x + y;
        *scale = cabs(x) + cabs(y);
        break;
      case MX_PRIM_SUBTRACT:
        r = x - y;
        *scale = cabs(x) + cabs(y);
        break;
      case MX_PRIM_MULTIPLY:
        r = x * y;
        *scale = cabs(x) * cabs(y);
        break;
      case MX_PRIM_DIVIDE:
        r = x / y;
        *scale = cabs(x) / cabs(y);
        break;
      case MX_PRIM_MAXIMUM: return cmp_lex(a, b) > 0 ? a : b;
      default: return cmp_lex(a, b) < 0 ? a : b;
    }
    return cv(creal(r), cimag(r));
  }
  double x = a.re, y = b.re;
  switch (prim) {
    case MX_PRIM_ADD: return cv(x + y, 0);
    case MX_PRIM_SUBTRACT: return cv(x - y, 0);
    case MX_PRIM_MULTIPLY: return cv(x * y, 0);
    case MX_PRIM_DIVIDE: return cv(x / y, 0);
    case MX_PRIM_MAXIMUM: return cv(isnan(y) ? y : (isnan(x) ? x : (x > y ? x : y)), 0);
    default: return cv(isnan(y) ? y : (isnan(x) ? x : (x < y ? x : y)), 0);
  }
}

static void test_binary(void) {
  static const int pairs[][2] = {{L_CONTIG, L_CONTIG},    {L_TRANSPOSED, L_CONTIG},
                                 {L_CONTIG, L_BCAST_ROW}, {L_SCALAR, L_STRIDED},
                                 {L_STRIDED, L_SCALAR},   {L_TRANSPOSED, L_BCAST_ROW},
                                 {L_EMPTY, L_EMPTY},      {L_ONE, L_ONE}};
  for (size_t k = 0; k < MX_ARRAY_LEN(BINARY); k++) {
    for (int ti = 0; ti < MX_DTYPE_COUNT; ti++) {
      mx_dtype t = ALL[ti];
      for (size_t pi = 0; pi < MX_ARRAY_LEN(pairs); pi++) {
        tt a, b, o;
        tt_layout(&a, t, pairs[pi][0]);
        tt_layout(&b, t, pairs[pi][1]);
        tt_fill(&a, V_ANY);
        tt_fill(&b, V_ANY);
        mx_dtype ot = BINARY[k].compare ? MX_BOOL : t;
        tt_out(&o, ot, 2, a.shape);
        tt *ins[2] = {&a, &b};
        int rc = call(BINARY[k].prim, NULL, ins, 2, &o);
        EXPECT(rc == 0, "%s %s: %s", BINARY[k].name, mx_dtype_name(t), mx_error_message());
        for (int64_t i = 0; rc == 0 && i < o.t.size; i++) {
          if (BINARY[k].compare) {
            bool want = ref_compare(BINARY[k].prim, t, tt_elem(&a, i), tt_elem(&b, i));
            EXPECT(*(bool *)tt_elem(&o, i) == want, "%s %s elem %lld", BINARY[k].name,
                   mx_dtype_name(t), (long long)i);
          } else {
            double scale;
            cval ref = ref_binary(BINARY[k].prim, t, tt_elem(&a, i), tt_elem(&b, i), &scale);
            check_elem(BINARY[k].name, t, tt_elem(&o, i), ref, rtol_of(t), scale, i);
          }
        }
        tt_free(&a);
        tt_free(&b);
        tt_free(&o);
      }
    }
  }
  /* kernel-level broadcasting: b of lower ndim, and a size-1 dim */
  {
    int32_t sa[3] = {3, 4, 5}, sb[2] = {1, 5};
    tt a, b, o;
    tt_view(&a, MX_FLOAT32, 3, sa, NULL, 60, 0);
    tt_view(&b, MX_FLOAT32, 2, sb, NULL, 5, 0);
    tt_fill(&a, V_ANY);
    tt_fill(&b, V_ANY);
    tt_out(&o, MX_FLOAT32, 3, sa);
    tt *ins[2] = {&a, &b};
    EXPECT(call(MX_PRIM_SUBTRACT, NULL, ins, 2, &o) == 0, "broadcast subtract");
    for (int i = 0; i < 60; i++)
      EXPECT(((float *)o.store)[i] == ((float *)a.store)[i] - ((float *)b.store)[i % 5], "bcast %d",
             i);
    int32_t bad[1] = {4};
    tt c;
    tt_view(&c, MX_FLOAT32, 1, bad, NULL, 4, 0);
    ins[1] = &c;
    EXPECT(call(MX_PRIM_ADD, NULL, ins, 2, &o) == -1 && mx_error_kind_get() == MX_EINVAL,
           "bad broadcast");
    tt_free(&a);
    tt_free(&b);
    tt_free(&c);
    tt_free(&o);
  }
  /* NaN propagation of maximum/minimum, both argument orders; donation into b */
  {
    int32_t n[1] = {4};
    tt a, b, o;
    tt_view(&a, MX_FLOAT32, 1, n, NULL, 4, 0);
    tt_view(&b, MX_FLOAT32, 1, n, NULL, 4, 0);
    float av[4] = {NAN, 1, 2, -INFINITY}, bv[4] = {1, NAN, -3, 0};
    memcpy(a.store, av, sizeof av);
    memcpy(b.store, bv, sizeof bv);
    tt_out(&o, MX_FLOAT32, 1, n);
    tt *ins[2] = {&a, &b};
    EXPECT(call(MX_PRIM_MAXIMUM, NULL, ins, 2, &o) == 0, "max nan");
    float *r = (float *)o.store;
    EXPECT(isnan(r[0]) && isnan(r[1]) && r[2] == 2 && r[3] == 0, "maximum NaN");
    EXPECT(call(MX_PRIM_MINIMUM, NULL, ins, 2, &b) == 0, "min nan donated");
    r = (float *)b.store;
    EXPECT(isnan(r[0]) && isnan(r[1]) && r[2] == -3 && isinf(r[3]), "minimum NaN (donated)");
    tt_free(&a);
    tt_free(&b);
    tt_free(&o);
  }
  /* mixed input dtypes are an error */
  {
    int32_t n[1] = {3};
    tt a, b, o;
    tt_view(&a, MX_FLOAT32, 1, n, NULL, 3, 0);
    tt_view(&b, MX_INT32, 1, n, NULL, 3, 0);
    tt_out(&o, MX_FLOAT32, 1, n);
    tt *ins[2] = {&a, &b};
    EXPECT(call(MX_PRIM_ADD, NULL, ins, 2, &o) == -1 && mx_error_kind_get() == MX_ETYPE,
           "mixed dtypes");
    tt_free(&a);
    tt_free(&b);
    tt_free(&o);
  }
}

/* ---------------------------------------------------------------- select */

static void test_select(void) {
  static const int lays[][3] = {{L_CONTIG, L_CONTIG, L_CONTIG},
                                {L_BCAST_ROW, L_TRANSPOSED, L_SCALAR},
                                {L_STRIDED, L_BCAST_ROW, L_CONTIG},
                                {L_EMPTY, L_EMPTY, L_EMPTY},
                                {L_ONE, L_ONE, L_ONE}};
  for (int ti = 0; ti < MX_DTYPE_COUNT; ti++) {
    mx_dtype t = ALL[ti];
    for (size_t li = 0; li < MX_ARRAY_LEN(lays); li++) {
      tt c, x, y, o;
      tt_layout(&c, MX_BOOL, lays[li][0]);
      tt_layout(&x, t, lays[li][1]);
      tt_layout(&y, t, lays[li][2]);
      tt_fill(&c, V_ANY);
      tt_fill(&x, V_ANY);
      tt_fill(&y, V_ANY);
      tt_out(&o, t, 2, x.shape);
      tt *ins[3] = {&c, &x, &y};
      EXPECT(call(MX_PRIM_SELECT, NULL, ins, 3, &o) == 0, "select %s: %s", mx_dtype_name(t),
             mx_error_message());
      int sz = mx_dtype_size(t);
      for (int64_t i = 0; i < o.t.size; i++) {
        const char *want = *(bool *)tt_elem(&c, i) ? tt_elem(&x, i) : tt_elem(&y, i);
        EXPECT(!memcmp(tt_elem(&o, i), want, (size_t)sz), "select %s elem %lld", mx_dtype_name(t),
               (long long)i);
      }
      tt_free(&c);
      tt_free(&x);
      tt_free(&y);
      tt_free(&o);
    }
  }
}

/* ---------------------------------------------------------------- reduce */

static mx_dtype sum_out(mx_dtype t) {
  switch (t) {
    case MX_BOOL:
    case MX_INT8:
    case MX_INT16:
    case MX_INT32: return MX_INT32;
    case MX_UINT8:
    case MX_UINT16:
    case MX_UINT32: return MX_UINT32;
    default: return t;
  }
}

/* Reference reduction of the elements of x (shape sh) selected by `mask` of reduced axes,
 * for output element o (row-major over the kept dims). */
static void ref_reduce(int kind, const tt *x, uint32_t mask, int64_t o, mx_dtype ot, cval *ref,
                       double *scale) {
  int nd = x->t.ndim;
  mx_dtype t = x->t.dtype;
  int64_t acc_i = (kind == MX_REDUCE_PROD || kind == MX_REDUCE_AND) ? 1 : 0;
  double complex acc = (kind == MX_REDUCE_PROD) ? 1 : 0;
  double mag = 0;
  bool have = false;
  cval best = cv(0, 0);
  int64_t best_i = 0;
  for (int64_t lin = 0; lin < x->t.size; lin++) {
    /* does lin project onto output element o? */
    int64_t rem = lin, ko = 0, kmul = 1;
    for (int d = nd - 1; d >= 0; d--) {
      int64_t i = rem % x->shape[d];
      rem /= x->shape[d];
      if (!(mask & (1u << d))) {
        ko += i * kmul;
        kmul *= x->shape[d];
      }
    }
    if (ko != o) continue;
    const char *p = tt_elem(x, lin);
    cval v = rd_at(t, p);
    int64_t vi = (is_int(t) || t == MX_BOOL) ? rd_int(t, p) : 0;
    switch (kind) {
      case MX_REDUCE_AND: acc_i = acc_i && (v.re != 0 || v.im != 0); break;
      case MX_REDUCE_OR: acc_i = acc_i || (v.re != 0 || v.im != 0); break;
      case MX_REDUCE_SUM:
        acc_i = (int64_t)((uint64_t)acc_i + (uint64_t)vi);
        acc += v.re + v.im * _Complex_I;
        mag += hypot(v.re, v.im);
        break;
      case MX_REDUCE_PROD:
        acc_i = (int64_t)((uint64_t)acc_i * (uint64_t)vi);
        acc *= v.re + v.im * _Complex_I;
        mag = mag == 0 ? hypot(v.re, v.im) : mag * hypot(v.re, v.im);
        break;
      default: {
        bool better;
        if (!have)
          better = true;
        else if (is_int(t) || t == MX_BOOL)
          better = is_uint(t) ? (kind == MX_REDUCE_MAX ? (uint64_t)vi > (uint64_t)best_i
                                                       : (uint64_t)vi < (uint64_t)best_i)
                              : (kind == MX_REDUCE_MAX ? vi > best_i : vi < best_i);
        else
          better = kind == MX_REDUCE_MAX ? cmp_lex(v, best) > 0 : cmp_lex(v, best) < 0;
        if (better) {
          best = v;
          best_i = vi;
        }
        have = true;
      }
    }
  }
  *scale = 0;
  if (kind == MX_REDUCE_AND || kind == MX_REDUCE_OR) {
    *ref = cv((double)acc_i, 0);
  } else if (kind == MX_REDUCE_MIN || kind == MX_REDUCE_MAX) {
    *ref = (is_int(t) || t == MX_BOOL) ? cv((double)best_i, 0) : best;
  } else if (is_int(ot) || ot == MX_BOOL) {
    *ref = cv((double)wrap_int(ot, acc_i), 0);
  } else {
    *ref = cv(creal(acc), cimag(acc));
    *scale = mag + hypot(ref->re, ref->im);
  }
}

static void run_reduce_case(int kind, mx_dtype t, mx_dtype ot, int lay, uint32_t mask) {
  /* x: (4, 5, 6) in several layouts */
  int32_t sh[3] = {4, 5, 6};
  int64_t st[3];
  tt x;
  switch (lay) {
    case 1:
      st[0] = 1;
      st[1] = 4;
      st[2] = 20;
      tt_view(&x, t, 3, sh, st, 120, 0);
      break; /* transposed */
    case 2:
      st[0] = 0;
      st[1] = 6;
      st[2] = 1;
      tt_view(&x, t, 3, sh, st, 30, 0);
      break; /* broadcast */
    case 3:
      st[0] = 70;
      st[1] = 12;
      st[2] = 2;
      tt_view(&x, t, 3, sh, st, 300, 1);
      break; /* strided */
    default: tt_view(&x, t, 3, sh, NULL, 120, 0); break;
  }
  tt_fill(&x, kind != MX_REDUCE_PROD ? V_ANY : (is_int(t) ? V_SMALL : V_NEAR1));
  int32_t osh[3], axes[3];
  int na = 0;
  for (int d = 0; d < 3; d++) {
    osh[d] = (mask & (1u << d)) ? 1 : sh[d];
    if (mask & (1u << d)) axes[na++] = d;
  }
  tt o;
  tt_out(&o, ot, 3, osh);
  mx_p_reduce p = {kind, {na, axes}};
  tt *ins[1] = {&x};
  int rc = call(MX_PRIM_REDUCE, &p, ins, 1, &o);
  EXPECT(rc == 0, "reduce kind %d %s->%s: %s", kind, mx_dtype_name(t), mx_dtype_name(ot),
         mx_error_message());
  for (int64_t i = 0; rc == 0 && i < o.t.size; i++) {
    cval ref;
    double scale;
    ref_reduce(kind, &x, mask, i, ot, &ref, &scale);
    if (ot == MX_FLOAT16 || ot == MX_BFLOAT16) /* rounding of the result + of the inputs' sum */
      scale = fabs(ref.re) + 1e-3 * scale;
    char what[64];
    snprintf(what, sizeof what, "reduce k%d lay%d mask%u", kind, lay, mask);
    check_elem(what, ot, tt_elem(&o, i), ref, ot == MX_FLOAT64 ? 1e-14 : rtol_of(ot), scale, i);
  }
  tt_free(&x);
  tt_free(&o);
}

static void test_reduce(void) {
  for (int kind = MX_REDUCE_AND; kind <= MX_REDUCE_MAX; kind++) {
    for (int ti = 0; ti < MX_DTYPE_COUNT; ti++) {
      mx_dtype t = ALL[ti], ot = t;
      if (kind == MX_REDUCE_AND || kind == MX_REDUCE_OR) ot = MX_BOOL;
      if (kind == MX_REDUCE_SUM || kind == MX_REDUCE_PROD) ot = sum_out(t);
      for (int lay = 0; lay < 4; lay++)
        for (uint32_t mask = 0; mask < 8; mask++) run_reduce_case(kind, t, ot, lay, mask);
    }
  }
  /* a reduced axis of size 0 gives the identity; a kept axis of size 0 gives nothing */
  {
    int32_t sh[2] = {3, 0}, osh[2] = {3, 1}, axes[1] = {1};
    tt x, o;
    tt_view(&x, MX_FLOAT32, 2, sh, NULL, 0, 0);
    tt_out(&o, MX_FLOAT32, 2, osh);
    mx_p_reduce p = {MX_REDUCE_PROD, {1, axes}};
    tt *ins[1] = {&x};
    EXPECT(call(MX_PRIM_REDUCE, &p, ins, 1, &o) == 0, "empty prod");
    for (int i = 0; i < 3; i++) EXPECT(((float *)o.store)[i] == 1.0f, "empty prod = 1");
    p.kind = MX_REDUCE_MAX;
    EXPECT(call(MX_PRIM_REDUCE, &p, ins, 1, &o) == 0 && isinf(((float *)o.store)[0]) &&
               ((float *)o.store)[0] < 0,
           "empty max = -inf");
    tt_free(&x);
    tt_free(&o);
  }
  /* long sums: accuracy of the blocked float32 accumulation, row and column strategies */
  {
    int32_t sh[1] = {1 << 20}, osh[1] = {1}, axes[1] = {0};
    tt x, o;
    tt_view(&x, MX_FLOAT32, 1, sh, NULL, sh[0], 0);
    tt_fill(&x, V_POS);
    double ref = 0;
    for (int i = 0; i < sh[0]; i++) ref += ((float *)x.store)[i];
    tt_out(&o, MX_FLOAT32, 1, osh);
    mx_p_reduce p = {MX_REDUCE_SUM, {1, axes}};
    tt *ins[1] = {&x};
    EXPECT(call(MX_PRIM_REDUCE, &p, ins, 1, &o) == 0, "long sum");
    EXPECT(fabs(((float *)o.store)[0] - ref) <= 2e-6 * ref, "long sum accuracy: %.9g vs %.9g",
           ((float *)o.store)[0], ref);
    tt_free(&o);
    /* the same data as (1024, 1024) summed over axis 0 (column strategy) */
    int32_t sh2[2] = {1024, 1024}, osh2[2] = {1, 1024};
    x.t.ndim = 2;
    x.shape[0] = 1024;
    x.shape[1] = 1024;
    x.strides[0] = 1024;
    x.strides[1] = 1;
    (void)sh2;
    tt_out(&o, MX_FLOAT32, 2, osh2);
    EXPECT(call(MX_PRIM_REDUCE, &p, ins, 1, &o) == 0, "column sum");
    for (int j = 0; j < 1024; j += 97) {
      double r = 0;
      for (int i = 0; i < 1024; i++) r += ((float *)x.store)[i * 1024 + j];
      EXPECT(fabs(((float *)o.store)[j] - r) <= 1e-5 * r, "column sum %d", j);
    }
    tt_free(&o);
    tt_free(&x);
  }
  /* bool -> int32 sum with an int64 input sum wrapping */
  {
    int32_t sh[1] = {300}, osh[1] = {1}, axes[1] = {0};
    tt x, o;
    tt_view(&x, MX_INT8, 1, sh, NULL, 300, 0);
    for (int i = 0; i < 300; i++) ((int8_t *)x.store)[i] = 100;
    tt_out(&o, MX_INT32, 1, osh);
    mx_p_reduce p = {MX_REDUCE_SUM, {1, axes}};
    tt *ins[1] = {&x};
    EXPECT(call(MX_PRIM_REDUCE, &p, ins, 1, &o) == 0 && ((int32_t *)o.store)[0] == 30000,
           "int8 sum -> int32");
    tt_free(&o);
    tt_out(&o, MX_INT8, 1, osh);
    EXPECT(call(MX_PRIM_REDUCE, &p, ins, 1, &o) == 0 &&
               ((int8_t *)o.store)[0] == (int8_t)(30000 & 0xff),
           "int8 sum wraps");
    tt_free(&o);
    tt_free(&x);
  }
}

/* ---------------------------------------------------------------- matmul */

static void run_matmul(mx_dtype t, int M, int K, int N, int nb, int alay, int blay, bool b_shared) {
  /* alay/blay: 0 row-major, 1 transposed storage, 2 every other column of a wider matrix */
  int32_t as[3] = {nb, M, K}, bs[3] = {nb, K, N}, os[3] = {nb, M, N};
  int64_t ast[3], bst[3];
  int64_t aw = alay == 2 ? 2 * K : K, bw = blay == 2 ? 2 * N : N;
  if (alay == 1) {
    ast[1] = 1;
    ast[2] = M;
  } else {
    ast[1] = aw;
    ast[2] = alay == 2 ? 2 : 1;
  }
  if (blay == 1) {
    bst[1] = 1;
    bst[2] = K;
  } else {
    bst[1] = bw;
    bst[2] = blay == 2 ? 2 : 1;
  }
  int64_t amat = (int64_t)M * aw, bmat = (int64_t)K * bw;
  ast[0] = amat;
  bst[0] = b_shared ? 0 : bmat;
  tt a, b, o;
  tt_view(&a, t, 3, as, ast, amat * nb, 0);
  tt_view(&b, t, 3, bs, bst, b_shared ? bmat : bmat * nb, 0);
  tt_fill(&a, V_ANY);
  tt_fill(&b, V_ANY);
  tt_out(&o, t, 3, os);
  tt *ins[2] = {&a, &b};
  int rc = call(MX_PRIM_MATMUL, NULL, ins, 2, &o);
  EXPECT(rc == 0, "matmul %s: %s", mx_dtype_name(t), mx_error_message());
  double rtol =
      t == MX_FLOAT16 ? 2e-3 : (t == MX_BFLOAT16 ? 1e-2 : (t == MX_FLOAT64 ? 1e-13 : 2e-6));
  for (int bi = 0; rc == 0 && bi < nb; bi++)
    for (int i = 0; i < M; i++)
      for (int j = 0; j < N; j++) {
        double complex acc = 0;
        double mag = 0;
        for (int k = 0; k < K; k++) {
          cval x = rd_at(t, tt_elem(&a, ((int64_t)bi * M + i) * K + k));
          cval y = rd_at(t, tt_elem(&b, ((int64_t)bi * K + k) * N + j));
          double complex p = (x.re + x.im * _Complex_I) * (y.re + y.im * _Complex_I);
          acc += p;
          mag += cabs(p);
        }
        cval ref = cv(creal(acc), cimag(acc));
        double scale = mag + cabs(acc);
        if (t == MX_FLOAT16 || t == MX_BFLOAT16) scale = cabs(acc) + 1e-3 * mag;
        check_elem("matmul", t, tt_elem(&o, ((int64_t)bi * M + i) * N + j), ref, rtol,
                   scale + 1e-30, i);
      }
  tt_free(&a);
  tt_free(&b);
  tt_free(&o);
}

static void test_matmul(void) {
  const mx_dtype ts[] = {MX_FLOAT32, MX_FLOAT64, MX_COMPLEX64, MX_FLOAT16, MX_BFLOAT16};
  for (size_t k = 0; k < MX_ARRAY_LEN(ts); k++) {
    for (int al = 0; al < 3; al++)
      for (int bl = 0; bl < 3; bl++) run_matmul(ts[k], 5, 7, 3, 1, al, bl, false);
    run_matmul(ts[k], 4, 6, 5, 3, 0, 0, true);  /* shared B: folded into one GEMM */
    run_matmul(ts[k], 4, 6, 5, 3, 1, 0, true);  /* shared B, transposed A: per batch */
    run_matmul(ts[k], 4, 6, 5, 3, 2, 1, false); /* batched, copies */
    run_matmul(ts[k], 1, 1, 1, 2, 0, 0, false);
    run_matmul(ts[k], 1, 8, 1, 1, 0, 0, false);
    run_matmul(ts[k], 0, 3, 4, 2, 0, 0, false); /* M = 0 */
    run_matmul(ts[k], 3, 0, 4, 2, 0, 0, false); /* K = 0: zeros */
  }
  /* integer matmul is rejected */
  int32_t s[2] = {2, 2};
  tt a, o;
  tt_view(&a, MX_INT32, 2, s, NULL, 4, 0);
  tt_out(&o, MX_INT32, 2, s);
  tt *ins[2] = {&a, &a};
  EXPECT(call(MX_PRIM_MATMUL, NULL, ins, 2, &o) == -1 && mx_error_kind_get() == MX_ETYPE,
         "int matmul");
  tt_free(&a);
  tt_free(&o);
}

/* ---------------------------------------------------------------- random bits */

/* Reference layout of spec/semantics.md section 7.3, written independently of random.c. */
static void ref_bits(uint32_t k0, uint32_t k1, uint8_t *out, int64_t nbytes) {
  int64_t W = (nbytes + 3) / 4, h = W / 2, o = W & 1;
  uint32_t *w = (uint32_t *)calloc((size_t)(W + 1), 4);
  for (int64_t j = 0; j < h; j++)
    mx_threefry2x32(k0, k1, (uint32_t)j, (uint32_t)(j + h + o), &w[j], &w[j + h + o]);
  if (o) {
    uint32_t dummy;
    mx_threefry2x32(k0, k1, (uint32_t)h, 0, &w[h], &dummy);
  }
  for (int64_t i = 0; i < nbytes; i++) out[i] = (uint8_t)(w[i / 4] >> (8 * (i % 4)));
  free(w);
}

static void run_bits(const tt *key, int width, int ndim, const int32_t *shape, const uint32_t *want,
                     const char *what) {
  mx_dtype ot = width == 1 ? MX_UINT8 : (width == 2 ? MX_UINT16 : MX_UINT32);
  tt o;
  tt_out(&o, ot, ndim, shape);
  mx_p_random_bits p = {width};
  tt *ins[1] = {(tt *)key};
  int rc = call(MX_PRIM_RANDOM_BITS, &p, ins, 1, &o);
  EXPECT(rc == 0, "%s: %s", what, mx_error_message());
  int64_t nkeys = key->t.size / 2, per = o.t.size / nkeys * width;
  for (int64_t k = 0; rc == 0 && k < nkeys; k++) {
    uint32_t k0 = *(uint32_t *)tt_elem(key, 2 * k), k1 = *(uint32_t *)tt_elem(key, 2 * k + 1);
    uint8_t *ref = (uint8_t *)malloc((size_t)per + 1);
    ref_bits(k0, k1, ref, per);
    EXPECT(!memcmp(ref, (uint8_t *)o.store + k * per, (size_t)per), "%s: key %lld block", what,
           (long long)k);
    free(ref);
  }
  if (want)
    for (int64_t i = 0; rc == 0 && i < o.t.size; i++)
      EXPECT(((uint32_t *)o.store)[i] == want[i], "%s [%lld]: %08x want %08x", what, (long long)i,
             ((uint32_t *)o.store)[i], want[i]);
  tt_free(&o);
}

static void test_random(void) {
  /* Random123 / spec known answers */
  uint32_t y0, y1;
  mx_threefry2x32(0, 0, 0, 0, &y0, &y1);
  EXPECT(y0 == 0x6b200159u && y1 == 0x99ba4efeu, "KAT zero: %08x %08x", y0, y1);
  mx_threefry2x32(0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, &y0, &y1);
  EXPECT(y0 == 0x1cb996fcu && y1 == 0xbb002be7u, "KAT ones: %08x %08x", y0, y1);
  mx_threefry2x32(0x13198a2eu, 0x03707344u, 0x243f6a88u, 0x85a308d3u, &y0, &y1);
  EXPECT(y0 == 0xc4923a9cu && y1 == 0x483df7a0u, "KAT pi: %08x %08x", y0, y1);

  int32_t ks[1] = {2};
  tt key0, key42;
  tt_view(&key0, MX_UINT32, 1, ks, NULL, 2, 0); /* key(0) = [0, 0] */
  tt_view(&key42, MX_UINT32, 1, ks, NULL, 2, 0);
  ((uint32_t *)key42.store)[1] = 42; /* key(42) = [0, 42] */
  const uint32_t b3[3] = {0xf71f4ea9u, 0x508efb2cu, 0xa20e4081u};
  const uint32_t b5[5] = {0x9312778bu, 0x19850714u, 0x64a626ecu, 0xe4e8dfbeu, 0x98b89669u};
  const uint32_t s0[4] = {0xf71f4ea9u, 0x39a405d9u, 0xa20e4081u, 0x4bdfae2fu};
  const uint32_t s42[4] = {0x92fb20eau, 0xdb4c98dbu, 0x0f38d913u, 0x0ff68959u};
  const uint32_t jax0[4] = {4146024105u, 967050713u, 2718843009u, 1272950319u};
  int32_t n3[1] = {3}, n5[1] = {5}, n22[2] = {2, 2};
  run_bits(&key0, 4, 1, n3, b3, "bits((3,), key(0))");
  run_bits(&key0, 4, 1, n5, b5, "bits((5,), key(0))");
  run_bits(&key0, 4, 2, n22, s0, "split(key(0))");
  run_bits(&key0, 4, 2, n22, jax0, "split(PRNGKey(0)) as JAX");
  run_bits(&key42, 4, 2, n22, s42, "split(key(42))");
  /* partial words: widths 1 and 2, odd and even word counts, short and long blocks */
  for (int n = 1; n <= 70; n += (n < 20 ? 1 : 7)) {
    int32_t sh[1] = {n};
    run_bits(&key42, 1, 1, sh, NULL, "uint8 bits");
    run_bits(&key42, 2, 1, sh, NULL, "uint16 bits");
    run_bits(&key42, 4, 1, sh, NULL, "uint32 bits");
  }
  int32_t big[1] = {100003};
  run_bits(&key42, 1, 1, big, NULL, "uint8 bits, long");
  /* a batch of keys (2 keys, stored transposed: shape (2, 2) strides (1, 2)) */
  {
    tt kb;
    int32_t kshape[2] = {2, 2};
    int64_t kst[2] = {1, 2};
    tt_view(&kb, MX_UINT32, 2, kshape, kst, 4, 0);
    uint32_t *kd = (uint32_t *)kb.store; /* key i = (kd[i], kd[2 + i]) */
    kd[0] = 0;
    kd[2] = 0;
    kd[1] = 0;
    kd[3] = 42;
    int32_t osh[3] = {2, 2, 2};
    uint32_t want[8];
    memcpy(want, s0, sizeof s0);
    memcpy(want + 4, s42, sizeof s42);
    run_bits(&kb, 4, 3, osh, want, "batched split");
    int32_t osh1[2] = {2, 7};
    run_bits(&kb, 1, 2, osh1, NULL, "batched uint8");
    tt_free(&kb);
  }
  /* width/dtype mismatch is an error */
  {
    tt o;
    int32_t sh[1] = {4};
    tt_out(&o, MX_UINT32, 1, sh);
    mx_p_random_bits p = {2};
    tt *ins[1] = {&key0};
    EXPECT(call(MX_PRIM_RANDOM_BITS, &p, ins, 1, &o) == -1, "width mismatch");
    tt_free(&o);
  }
  tt_free(&key0);
  tt_free(&key42);
}

/* ---------------------------------------------------------------- slice update */

static void run_slice_update(bool donate, const int32_t *start, const int32_t *stop,
                             const int32_t *step, bool bcast_update) {
  int32_t sh[2] = {6, 5};
  tt src, upd, out;
  tt_view(&src, MX_FLOAT32, 2, sh, NULL, 30, 0);
  for (int i = 0; i < 30; i++) ((float *)src.store)[i] = (float)i;
  float orig[30];
  memcpy(orig, src.store, sizeof orig);
  int32_t rsh[2];
  for (int d = 0; d < 2; d++) {
    int32_t n = step[d] > 0 ? (stop[d] - start[d] + step[d] - 1) / step[d]
                            : (start[d] - stop[d] - step[d] - 1) / -step[d];
    rsh[d] = n > 0 ? n : 0;
  }
  int32_t ush[1] = {1};
  if (bcast_update) {
    tt_view(&upd, MX_FLOAT32, 1, ush, NULL, 1, 0);
    ((float *)upd.store)[0] = -7;
  } else {
    tt_view(&upd, MX_FLOAT32, 2, rsh, NULL, (int64_t)rsh[0] * rsh[1], 0);
    for (int i = 0; i < rsh[0] * rsh[1]; i++) ((float *)upd.store)[i] = 100.0f + (float)i;
  }
  if (donate) {
    out = src;
  } else {
    tt_out(&out, MX_FLOAT32, 2, sh);
  }
  mx_p_slice_update p = {{2, start}, {2, stop}, {2, step}};
  tt *ins[2] = {&src, &upd};
  int rc = call(MX_PRIM_SLICE_UPDATE, &p, ins, 2, &out);
  EXPECT(rc == 0, "slice_update: %s", mx_error_message());
  float want[30];
  memcpy(want, orig, sizeof want);
  for (int i = 0; i < rsh[0]; i++)
    for (int j = 0; j < rsh[1]; j++)
      want[(start[0] + i * step[0]) * 5 + start[1] + j * step[1]] =
          bcast_update ? -7.0f : 100.0f + (float)(i * rsh[1] + j);
  for (int i = 0; rc == 0 && i < 30; i++)
    EXPECT(((float *)out.t.data)[i] == want[i], "slice_update%s elem %d: %g want %g",
           donate ? " (donated)" : "", i, ((float *)out.t.data)[i], want[i]);
  if (!donate) {
    EXPECT(!memcmp(src.store, orig, sizeof orig), "src untouched");
    tt_free(&out);
  }
  tt_free(&src);
  tt_free(&upd);
}

static void test_slice_update(void) {
  const int32_t st1[2] = {1, 0}, sp1[2] = {5, 5}, sd1[2] = {2, 3};
  const int32_t st2[2] = {5, 4}, sp2[2] = {0, -1}, sd2[2] = {-2, -1};
  const int32_t st3[2] = {2, 2}, sp3[2] = {2, 5}, sd3[2] = {1, 1}; /* empty region */
  for (int d = 0; d < 2; d++) {
    run_slice_update(d, st1, sp1, sd1, false);
    run_slice_update(d, st2, sp2, sd2, false);
    run_slice_update(d, st1, sp1, sd1, true);
    run_slice_update(d, st3, sp3, sd3, false);
  }
}

/* ---------------------------------------------------------------- views and copies */

static void test_views(void) {
  /* Reshape of a transposed (non-contiguous) input: row-major order of the view */
  int32_t sh[2] = {4, 6}, osh[3] = {2, 3, 4};
  int64_t st[2] = {1, 4};
  tt x, o;
  tt_view(&x, MX_INT32, 2, sh, st, 24, 0);
  for (int i = 0; i < 24; i++) ((int32_t *)x.store)[i] = i;
  tt_out(&o, MX_INT32, 3, osh);
  mx_p_reshape pr = {{3, osh}};
  tt *ins[1] = {&x};
  EXPECT(call(MX_PRIM_RESHAPE, &pr, ins, 1, &o) == 0, "reshape");
  for (int i = 0; i < 24; i++)
    EXPECT(((int32_t *)o.store)[i] == *(int32_t *)tt_elem(&x, i), "reshape elem %d", i);
  tt_free(&o);
  /* Transpose (1, 0) of the transposed view gives back the storage order */
  int32_t tsh[2] = {6, 4}, ax[2] = {1, 0};
  tt_out(&o, MX_INT32, 2, tsh);
  mx_p_transpose pt = {{2, ax}};
  EXPECT(call(MX_PRIM_TRANSPOSE, &pt, ins, 1, &o) == 0, "transpose");
  for (int i = 0; i < 24; i++) EXPECT(((int32_t *)o.store)[i] == i, "transpose elem %d", i);
  tt_free(&o);
  /* Broadcast (6,) -> (3, 6) */
  int32_t bsh[1] = {6}, bosh[2] = {3, 6};
  tt v;
  tt_view(&v, MX_FLOAT64, 1, bsh, NULL, 6, 0);
  for (int i = 0; i < 6; i++) ((double *)v.store)[i] = i * 1.5;
  tt_out(&o, MX_FLOAT64, 2, bosh);
  mx_p_broadcast pb = {{2, bosh}};
  ins[0] = &v;
  EXPECT(call(MX_PRIM_BROADCAST, &pb, ins, 1, &o) == 0, "broadcast");
  for (int i = 0; i < 18; i++)
    EXPECT(((double *)o.store)[i] == (i % 6) * 1.5, "broadcast elem %d", i);
  tt_free(&o);
  tt_free(&v);
  /* Slice with a negative step: x[3:0:-2, 1:6:2] of the (4, 6) view */
  int32_t s0[2] = {3, 1}, s1[2] = {0, 6}, s2[2] = {-2, 2}, ssh[2] = {2, 3};
  tt_out(&o, MX_INT32, 2, ssh);
  mx_p_slice ps = {{2, s0}, {2, s1}, {2, s2}};
  ins[0] = &x;
  EXPECT(call(MX_PRIM_SLICE, &ps, ins, 1, &o) == 0, "slice");
  for (int i = 0; i < 2; i++)
    for (int j = 0; j < 3; j++)
      EXPECT(
          ((int32_t *)o.store)[i * 3 + j] == *(int32_t *)tt_elem(&x, (3 - 2 * i) * 6 + 1 + 2 * j),
          "slice elem %d,%d", i, j);
  tt_free(&o);
  /* StopGradient and Copy of the strided view */
  for (int k = 0; k < 2; k++) {
    tt_out(&o, MX_INT32, 2, sh);
    EXPECT(call(k ? MX_PRIM_COPY : MX_PRIM_STOP_GRADIENT, NULL, ins, 1, &o) == 0, "copy");
    for (int i = 0; i < 24; i++)
      EXPECT(((int32_t *)o.store)[i] == *(int32_t *)tt_elem(&x, i), "copy %d", i);
    tt_free(&o);
  }
  tt_free(&x);
  /* transposing copies and casts (the tiled path, with partial tiles): (2, 70, 67) views of
   * (2, 67, 70) storage */
  const mx_dtype outs[3] = {MX_FLOAT32, MX_FLOAT16, MX_INT64};
  for (int k = 0; k < 3; k++) {
    int32_t tsh3[3] = {2, 70, 67};
    int64_t tst3[3] = {4690, 1, 70};
    tt src, dst;
    tt_view(&src, MX_FLOAT32, 3, tsh3, tst3, 2 * 4690, 0);
    for (int i = 0; i < 2 * 4690; i++) ((float *)src.store)[i] = (float)(i % 1000) - 500.0f;
    tt_out(&dst, outs[k], 3, tsh3);
    tt *in1[1] = {&src};
    EXPECT(call(outs[k] == MX_FLOAT32 ? MX_PRIM_COPY : MX_PRIM_ASTYPE, NULL, in1, 1, &dst) == 0,
           "transposing copy");
    for (int64_t i = 0; i < src.t.size; i++) {
      char ref[8];
      ref_convert(MX_FLOAT32, tt_elem(&src, i), outs[k], ref);
      EXPECT(!memcmp(ref, tt_elem(&dst, i), (size_t)mx_dtype_size(outs[k])),
             "transposing copy %s %lld", mx_dtype_name(outs[k]), (long long)i);
    }
    tt_free(&src);
    tt_free(&dst);
  }
}

/* More dims than the iterator keeps inline (16), none of them mergeable. */
static void test_many_dims(void) {
  enum { ND = 20 };
  int32_t sh[ND], osh[ND], axes[1] = {ND - 1};
  int64_t st[ND], n = 1;
  for (int d = 0; d < ND; d++) sh[d] = 2;
  for (int d = 0; d < ND; d++) { /* storage order reversed: transposed everywhere */
    st[d] = n;
    n *= 2;
  }
  tt x, o;
  tt_view(&x, MX_FLOAT32, ND, sh, st, n, 0);
  tt_fill(&x, V_ANY);
  tt_out(&o, MX_FLOAT32, ND, sh);
  tt *ins[1] = {&x};
  EXPECT(call(MX_PRIM_ABS, NULL, ins, 1, &o) == 0, "abs 20-d");
  for (int64_t i = 0; i < n; i++)
    EXPECT(((float *)o.store)[i] == fabsf(*(float *)tt_elem(&x, i)), "abs 20-d %lld", (long long)i);
  tt_free(&o);
  for (int d = 0; d < ND; d++) osh[d] = d == ND - 1 ? 1 : 2;
  tt_out(&o, MX_FLOAT32, ND, osh);
  mx_p_reduce p = {MX_REDUCE_SUM, {1, axes}};
  EXPECT(call(MX_PRIM_REDUCE, &p, ins, 1, &o) == 0, "sum 20-d");
  for (int64_t i = 0; i < n / 2; i++) {
    float want = *(float *)tt_elem(&x, 2 * i) + *(float *)tt_elem(&x, 2 * i + 1);
    EXPECT(((float *)o.store)[i] == want, "sum 20-d %lld", (long long)i);
  }
  tt_free(&o);
  tt_free(&x);
}

/* ---------------------------------------------------------------- main */

#define RUN(fn)                                                                                    \
  do {                                                                                             \
    g_test_failures = 0;                                                                           \
    g_rng = g_seed;                                                                                \
    fn();                                                                                          \
    printf("%-28s %s\n", #fn, g_test_failures ? "FAILED" : "ok");                                  \
    if (g_test_failures) printf("  (%d failures)\n", g_test_failures);                             \
  } while (0)

int main(void) {
  const char *env = getenv("MX_TEST_SEED");
  if (env) g_seed = strtoull(env, NULL, 0);
  mx_prims_register_kernels();
  RUN(test_dtype);
  RUN(test_half);
  RUN(test_astype);
  RUN(test_unary);
  RUN(test_binary);
  RUN(test_select);
  RUN(test_reduce);
  RUN(test_matmul);
  RUN(test_random);
  RUN(test_slice_update);
  RUN(test_views);
  RUN(test_many_dims);
  if (g_failures) {
    printf("FAILED: %d check(s); seed %llu (rerun with MX_TEST_SEED=%llu)\n", g_failures,
           (unsigned long long)g_seed, (unsigned long long)g_seed);
    return 1;
  }
  printf("all kernel tests passed (seed %llu)\n", (unsigned long long)g_seed);
  return 0;
}
