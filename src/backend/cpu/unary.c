/* unary.c: the unary family on the CPU. One tile function per (member, dtype) is generated
 * from MX_UNARY_PRIMS and the formulas of formulas.h; the transcendental members on
 * float32/float16/bfloat16 use the vectorised loops of vmath.h instead. One driver walks
 * strided/broadcast inputs as runs (cpu.h iterator) into the row-contiguous output. Adding a
 * unary op touches prims.def and formulas.h only. */
#include "../formulas.h"
#include "cpu.h"
#include "pool.h"
#include "vmath.h"

/* y[0..n) = f(x[0], x[sx], ...): y contiguous, x with any element stride. */
typedef void (*unary_tile_fn)(const void *x, int64_t sx, void *y, int64_t n);

#define UNARY_TILE(stem, sfx)                                                             \
  static void unary_##stem##_##sfx(const void *x_, int64_t sx, void *y_, int64_t n) {     \
    const MX_ST_##sfx *x = (const MX_ST_##sfx *)x_;                                       \
    MX_ST_##sfx *y = (MX_ST_##sfx *)y_;                                                   \
    if (sx == 1) {                                                                        \
      for (int64_t i = 0; i < n; i++) y[i] = MX_SV_##sfx(MX_FN(stem, sfx)(MX_LD_##sfx(x[i]))); \
    } else if (sx == 0) {                                                                 \
      MX_ST_##sfx v = MX_SV_##sfx(MX_FN(stem, sfx)(MX_LD_##sfx(x[0])));                   \
      for (int64_t i = 0; i < n; i++) y[i] = v;                                           \
    } else {                                                                              \
      for (int64_t i = 0; i < n; i++)                                                     \
        y[i] = MX_SV_##sfx(MX_FN(stem, sfx)(MX_LD_##sfx(x[i * sx])));                     \
    }                                                                                     \
  }

#define UNARY_ENTRY(stem, sfx) [MX_DT_##sfx] = unary_##stem##_##sfx,

/* ---- the vmath.h members: every float32 input goes through the vector loop (strided ones
 * gathered first), so an element's result never depends on the layout; float16/bfloat16
 * widen to float32 tiles and round back, as their formulas do. ---- */
static void unary_vm_f32(mx_vm_f32_fn f, const void *x_, int64_t sx, void *y_, int64_t n) {
  const float *x = x_;
  float *y = y_;
  if (sx == 1) {
    f(x, y, n);
  } else if (sx == 0) {
    float v;
    f(x, &v, 1);
    for (int64_t i = 0; i < n; i++) y[i] = v;
  } else {
    float t[MX_CPU_TILE];
    for (int64_t j = 0; j < n; j += MX_CPU_TILE) {
      int64_t c = n - j < MX_CPU_TILE ? n - j : MX_CPU_TILE;
      for (int64_t i = 0; i < c; i++) t[i] = x[(j + i) * sx];
      f(t, y + j, c);
    }
  }
}

#define UNARY_VM_HALF(sfx)                                                                \
  static void unary_vm_##sfx(mx_vm_f32_fn f, const void *x_, int64_t sx, void *y_, int64_t n) { \
    const MX_ST_##sfx *x = x_;                                                            \
    MX_ST_##sfx *y = y_;                                                                  \
    float t[MX_CPU_TILE];                                                                 \
    int64_t step = sx == 0 ? 1 : MX_CPU_TILE;                                             \
    for (int64_t j = 0; j < n; j += step) {                                               \
      int64_t c = sx == 0 ? 1 : (n - j < MX_CPU_TILE ? n - j : MX_CPU_TILE);              \
      for (int64_t i = 0; i < c; i++) t[i] = MX_LD_##sfx(x[(j + i) * sx]);                \
      f(t, t, c);                                                                         \
      for (int64_t i = 0; i < c; i++) y[j + i] = MX_SV_##sfx(t[i]);                       \
      if (sx == 0) {                                                                      \
        for (int64_t i = 1; i < n; i++) y[i] = y[0];                                      \
        break;                                                                            \
      }                                                                                   \
    }                                                                                     \
  }
UNARY_VM_HALF(f16)
UNARY_VM_HALF(bf16)

/* the float64 entry of each vmath member's table (defined below), or none */
#define UNARY_VM64_exp unary_vm_exp_f64
#define UNARY_VM64_expm1 unary_vm_expm1_f64
#define UNARY_VM64_log unary_vm_log_f64
#define UNARY_VM64_log1p unary_vm_log1p_f64
#define UNARY_VM64_sin unary_vm_sin_f64
#define UNARY_VM64_cos unary_vm_cos_f64
#define UNARY_VM64_tanh unary_vm_tanh_f64
#define UNARY_VM64_log2 NULL
#define UNARY_VM64_log10 NULL
#define UNARY_VM64_erf NULL
#define UNARY_VM64_sigmoid NULL
#define UNARY_VM64_DECL(stem) \
  static void unary_vm_##stem##_f64(const void *x, int64_t sx, void *y, int64_t n);
MX_VM64_STEMS(UNARY_VM64_DECL)

#define UNARY_VM_TILES(stem)                                                              \
  static void unary_vm_##stem##_f32(const void *x, int64_t sx, void *y, int64_t n) {      \
    unary_vm_f32(mx_vm_##stem##_f32, x, sx, y, n);                                        \
  }                                                                                       \
  static void unary_vm_##stem##_f16(const void *x, int64_t sx, void *y, int64_t n) {      \
    unary_vm_f16(mx_vm_##stem##_f32, x, sx, y, n);                                        \
  }                                                                                       \
  static void unary_vm_##stem##_bf16(const void *x, int64_t sx, void *y, int64_t n) {     \
    unary_vm_bf16(mx_vm_##stem##_f32, x, sx, y, n);                                       \
  }                                                                                       \
  static const unary_tile_fn unary_vm_tab_##stem[MX_DTYPE_COUNT] = {                      \
      [MX_FLOAT32] = unary_vm_##stem##_f32, [MX_FLOAT16] = unary_vm_##stem##_f16,           \
      [MX_BFLOAT16] = unary_vm_##stem##_bf16, [MX_FLOAT64] = UNARY_VM64_##stem};
#define UNARY_VM_STEMS(X) \
  X(exp) X(expm1) X(log) X(log1p) X(log2) X(log10) X(sin) X(cos) X(tanh) X(erf) X(sigmoid)
UNARY_VM_STEMS(UNARY_VM_TILES)

/* float64 members with a vmath64 loop: strided inputs are gathered into a tile first */
static void unary_vm_f64(mx_vm_f64_fn f, const void *x_, int64_t sx, void *y_, int64_t n) {
  const double *x = x_;
  double *y = y_;
  if (sx == 1) {
    f(x, y, n);
  } else if (sx == 0) {
    double v;
    f(x, &v, 1);
    for (int64_t i = 0; i < n; i++) y[i] = v;
  } else {
    double t[MX_CPU_TILE];
    for (int64_t j = 0; j < n; j += MX_CPU_TILE) {
      int64_t c = n - j < MX_CPU_TILE ? n - j : MX_CPU_TILE;
      for (int64_t i = 0; i < c; i++) t[i] = x[(j + i) * sx];
      f(t, y + j, c);
    }
  }
}
#define UNARY_VM64_TILE(stem)                                                             \
  static void unary_vm_##stem##_f64(const void *x, int64_t sx, void *y, int64_t n) {      \
    unary_vm_f64(mx_vm_##stem##_f64, x, sx, y, n);                                        \
  }
MX_VM64_STEMS(UNARY_VM64_TILE)

/* floor's, ceil's, sqrt's and rsqrt's tables (below, after their scalar tiles) */
static const unary_tile_fn unary_vm_tab_floor[MX_DTYPE_COUNT];
static const unary_tile_fn unary_vm_tab_ceil[MX_DTYPE_COUNT];
static const unary_tile_fn unary_vm_tab_sqrt[MX_DTYPE_COUNT];
static const unary_tile_fn unary_vm_tab_rsqrt[MX_DTYPE_COUNT];

/* The vector table of a primitive, or NULL. */
static const unary_tile_fn *unary_vm_tab(int prim) {
  switch (prim) {
#define UNARY_VM_CASE(NAME, stem) case MX_PRIM_##NAME: return unary_vm_tab_##stem;
    UNARY_VM_CASE(EXP, exp)
    UNARY_VM_CASE(EXPM1, expm1)
    UNARY_VM_CASE(LOG, log)
    UNARY_VM_CASE(LOG2, log2)
    UNARY_VM_CASE(LOG10, log10)
    UNARY_VM_CASE(SIN, sin)
    UNARY_VM_CASE(COS, cos)
    UNARY_VM_CASE(TANH, tanh)
    UNARY_VM_CASE(ERF, erf)
    UNARY_VM_CASE(SIGMOID, sigmoid)
    UNARY_VM_CASE(LOG1P, log1p)
    UNARY_VM_CASE(FLOOR, floor)
    UNARY_VM_CASE(CEIL, ceil)
    UNARY_VM_CASE(SQRT, sqrt)
    UNARY_VM_CASE(RSQRT, rsqrt)
#undef UNARY_VM_CASE
    default: return NULL;
  }
}

static int unary_forward(const char *name, const unary_tile_fn *tab, const unary_tile_fn *vm,
                         const mx_tensor *in, int n_in, mx_tensor *out, int n_out);

#define UNARY_DEFINE(NAME, stem)                                                          \
  MX_F_##stem##_TYPES(UNARY_TILE, stem)                                                   \
  static const unary_tile_fn unary_tab_##stem[MX_DTYPE_COUNT] = {                         \
      MX_F_##stem##_TYPES(UNARY_ENTRY, stem)};                                            \
  int mx_cpu_unary_##stem(const mx_kernel_ctx *ctx, const mx_tensor *in, int n_in,          \
                          mx_tensor *out, int n_out) {                                    \
    (void)ctx;                                                                            \
    return unary_forward(#stem, unary_tab_##stem, unary_vm_tab(MX_PRIM_##NAME), in, n_in,  \
                         out, n_out);                                                     \
  }

MX_UNARY_PRIMS(UNARY_DEFINE)

/* floor, ceil, sqrt and rsqrt of float32/float64: one instruction each (sqrt and division
 * round correctly, as the scalar formulas) in AVX2/AVX-512 builds of the loop, else the
 * scalar tile (floor/ceil: libm's call per element without SSE4.1). */
#define UNARY_ISA_LOOP(stem, T, fn, isa, attr)                                          \
  attr static void unary_isa_##stem##_##T##_##isa(const T *restrict x, T *restrict y, int64_t n) { \
    for (int64_t i = 0; i < n; i++) y[i] = fn(x[i]);                                      \
  }
#define UNARY_ISA_TILE(stem, T, sfx, fn)                                                \
  UNARY_ISA_LOOP(stem, T, fn, avx512,                                                   \
                   __attribute__((target("avx512f,avx512dq,avx512vl,avx2,fma"))))          \
  UNARY_ISA_LOOP(stem, T, fn, avx2, __attribute__((target("avx2,fma"))))                \
  static void unary_vm_##stem##_##sfx(const void *x_, int64_t sx, void *y_, int64_t n) {  \
    const T *x = x_;                                                                      \
    T *y = y_;                                                                            \
    int l = mx_vm_level();                                                                \
    if (sx == 1 && l == 2) unary_isa_##stem##_##T##_avx512(x, y, n);                       \
    else if (sx == 1 && l == 1) unary_isa_##stem##_##T##_avx2(x, y, n);                    \
    else unary_##stem##_##sfx(x_, sx, y_, n);                                             \
  }
UNARY_ISA_TILE(floor, float, f32, floorf)
UNARY_ISA_TILE(floor, double, f64, floor)
UNARY_ISA_TILE(ceil, float, f32, ceilf)
UNARY_ISA_TILE(ceil, double, f64, ceil)
UNARY_ISA_TILE(sqrt, float, f32, mx_f_sqrt_f32)
UNARY_ISA_TILE(sqrt, double, f64, mx_f_sqrt_f64)
UNARY_ISA_TILE(rsqrt, float, f32, mx_f_rsqrt_f32)
UNARY_ISA_TILE(rsqrt, double, f64, mx_f_rsqrt_f64)
static const unary_tile_fn unary_vm_tab_floor[MX_DTYPE_COUNT] = {
    [MX_FLOAT32] = unary_vm_floor_f32, [MX_FLOAT64] = unary_vm_floor_f64};
static const unary_tile_fn unary_vm_tab_ceil[MX_DTYPE_COUNT] = {
    [MX_FLOAT32] = unary_vm_ceil_f32, [MX_FLOAT64] = unary_vm_ceil_f64};
static const unary_tile_fn unary_vm_tab_sqrt[MX_DTYPE_COUNT] = {
    [MX_FLOAT32] = unary_vm_sqrt_f32, [MX_FLOAT64] = unary_vm_sqrt_f64};
static const unary_tile_fn unary_vm_tab_rsqrt[MX_DTYPE_COUNT] = {
    [MX_FLOAT32] = unary_vm_rsqrt_f32, [MX_FLOAT64] = unary_vm_rsqrt_f64};


/* Runs [r0, r1) of the iteration (a thread pool can split this range later). */
static void unary_runs(unary_tile_fn fn, const mx_tensor *in, mx_tensor *out, mx_cpu_iter *it,
                       int64_t r0, int64_t r1) {
  int64_t n = mx_cpu_iter_len(it), sx = mx_cpu_iter_stride(it, 1), offs[2];
  int isz = mx_dtype_size(in->dtype), osz = mx_dtype_size(out->dtype);
  bool convert = in->dtype != out->dtype;
  /* Scratch for a result that changes dtype (e.g. abs of complex64 into float32). */
  uint64_t tile[MX_CPU_TILE];
  mx_cpu_iter_seek(it, r0, offs);
  for (int64_t r = r0; r < r1; r++) {
    const char *x = (const char *)in->data + offs[1] * isz;
    char *y = (char *)out->data + offs[0] * osz;
    if (!convert) {
      fn(x, sx, y, n);
    } else {
      for (int64_t j = 0; j < n; j += MX_CPU_TILE) {
        int64_t c = n - j < MX_CPU_TILE ? n - j : MX_CPU_TILE;
        fn(x + j * sx * isz, sx, tile, c);
        mx_cpu_convert(tile, in->dtype, 1, y + j * osz, out->dtype, 1, c);
      }
    }
    mx_cpu_iter_next(it, offs);
  }
}

/* The loop split over the thread pool: by elements of a single run, or by runs (each range
 * with its own iterator, since iterators carry a position). */
typedef struct unary_job {
  unary_tile_fn fn;
  const mx_tensor *in;
  mx_tensor *out;
  mx_cpu_iter *it;
  const int64_t *const *strides;
  int rc;
} unary_job;

static void unary_elements(void *ctx, int64_t b, int64_t e) {
  unary_job *j = ctx;
  int64_t sx = mx_cpu_iter_stride(j->it, 1), so = mx_cpu_iter_stride(j->it, 0);
  mx_tensor x = *j->in, y = *j->out;
  x.data = (char *)x.data + b * sx * mx_dtype_size(x.dtype);
  y.data = (char *)y.data + b * so * mx_dtype_size(y.dtype);
  int32_t len = (int32_t)(e - b);
  int64_t s0[1] = {so}, s1[1] = {sx};
  const int64_t *st[2] = {s0, s1};
  mx_cpu_iter sub;
  if (mx_cpu_iter_init(&sub, 2, 1, &len, st) != 0) {
    j->rc = -1;
    return;
  }
  unary_runs(j->fn, &x, &y, &sub, 0, sub.nruns);
  mx_cpu_iter_free(&sub);
}

static void unary_run_range(void *ctx, int64_t r0, int64_t r1) {
  unary_job *j = ctx;
  mx_cpu_iter sub;
  if (mx_cpu_iter_init(&sub, 2, j->out->ndim, j->out->shape, j->strides) != 0) {
    j->rc = -1;
    return;
  }
  unary_runs(j->fn, j->in, j->out, &sub, r0, r1);
  mx_cpu_iter_free(&sub);
}

static int unary_forward(const char *name, const unary_tile_fn *tab, const unary_tile_fn *vm,
                         const mx_tensor *in, int n_in, mx_tensor *out, int n_out) {
  if (n_in != 1 || n_out != 1)
    return mx_fail_int(MX_EINVAL, "[%s] Expected 1 input and 1 output.", name);
  if ((unsigned)in->dtype >= MX_DTYPE_COUNT || !tab[in->dtype])
    return mx_fail_int(MX_ETYPE, "[%s] Not supported for dtype %s.", name,
                       mx_dtype_name(in->dtype));
  if ((unsigned)out->dtype >= MX_DTYPE_COUNT)
    return mx_fail_int(MX_ETYPE, "[%s] Invalid output dtype.", name);
  if (in->ndim != out->ndim || in->size != out->size)
    return mx_fail_int(MX_EINVAL, "[%s] Input and output shapes differ.", name);
  if (!mx_cpu_is_row_contig(out))
    return mx_fail_int(MX_EINVAL, "[%s] The output must be row-contiguous.", name);
  if (out->size == 0) return 0;
  const int64_t *strides[2] = {out->strides, in->strides};
  mx_cpu_iter it;
  if (mx_cpu_iter_init(&it, 2, out->ndim, out->shape, strides) < 0) return -1;
  bool heavy = vm && vm[in->dtype];
  unary_tile_fn fn = heavy ? vm[in->dtype] : tab[in->dtype];
  unary_job job = {fn, in, out, &it, strides, 0};
  int64_t len = mx_cpu_iter_len(&it);
  /* a cheap member (a few cycles per element or less) splits only where each part still
   * outweighs waking a helper (tens of microseconds on a busy machine) */
  int64_t elems = heavy ? MX_CPU_PARALLEL_GRAIN : 4 * MX_CPU_PARALLEL_GRAIN;
  if (it.nruns == 1) {
    mx_cpu_parallel_for(len, elems, unary_elements, &job);
  } else {
    int64_t grain = elems / (len > 0 ? len : 1);
    mx_cpu_parallel_for(it.nruns, grain > 0 ? grain : 1, unary_run_range, &job);
  }
  mx_cpu_iter_free(&it);
  return job.rc;
}
