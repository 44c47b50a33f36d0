/* test_gpu_prims.c: every primitive of tables/prims.def, every dtype: the CPU kernel
 * (mx_prims[p].eval_cpu) and the CUDA kernel (mx_cuda_kernel(p)) on the same seeded inputs,
 * including strided, transposed, negative-stride, misaligned, broadcast, > 8-dim and empty
 * views; exact comparison for integers, bool, copies and bits, tolerances for float math.
 * Prints a table and the primitives without a CUDA kernel. Calls the kernels directly on
 * mx_tensor views over cudaMalloc'd memory (no backend glue needed). SKIPs (exit 0) without
 * a GPU. Seed: MX_TEST_SEED. CUDA builds only. */
#include <cuda_runtime_api.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "half.h"
#include "param_enums.h"
#include "prim.h"
#include "prims_gen.h"

#include "../../src/backend/formulas.h"

mx_kernel_fn mx_cuda_kernel(int prim);

/* ---------------------------------------------------------------- harness state */

#define MAXD 16
#define NDT MX_DTYPE_COUNT

static uint64_t g_seed = 20250101u, g_rng;
static int g_fail_total, g_cases_total, g_verbose_left = 40;
static cudaStream_t g_stream;

/* status per (prim, dtype): 0 untested, 1 pass, 2 both rejected, 3 fail, 4 error parity */
static unsigned char g_stat[MX_PRIM_COUNT][NDT];
static int g_ncases[MX_PRIM_COUNT];

static void mark(int prim, mx_dtype t, int st) {
  static const int prio[5] = {0, 2, 1, 3, 4}; /* a pass outranks "rejected by both" */
  if (prio[st] > prio[g_stat[prim][t]]) g_stat[prim][t] = (unsigned char)st;
}

static uint64_t rng_u64(void) { /* splitmix64 */
  uint64_t z = (g_rng += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}
static double rng_unif(double lo, double hi) {
  return lo + (hi - lo) * (double)(rng_u64() >> 11) * 0x1.0p-53;
}

static const char *const SFX[NDT] = {"b",   "u8",  "u16", "u32", "u64", "i8",   "i16",
                                     "i32", "i64", "f16", "f32", "f64", "bf16", "c64"};

/* ---------------------------------------------------------------- tensors */

/* views: contiguous, reversed dims, stride 2, negative first dim, offset 1, stride-0 dims,
 * last two dims swapped (column-major matrices) */
typedef enum { V_C, V_T, V_S, V_N, V_O, V_B, V_TL } vkind;
typedef struct ht {
  mx_dtype dt;
  int ndim;
  int32_t shape[MAXD];
  int64_t strides[MAXD];
  int64_t off, span, size; /* elements: first element's offset in the buffer, buffer length */
  char *host;              /* buffer (span elements) */
  void *dev;               /* device copy of the buffer */
} ht;

static int esz(mx_dtype t) { return mx_dtype_size(t); }

static void ht_make(ht *t, mx_dtype dt, int ndim, const int32_t *shape, vkind k) {
  memset(t, 0, sizeof *t);
  t->dt = dt;
  t->ndim = ndim;
  int64_t size = 1;
  for (int d = 0; d < ndim; d++) {
    t->shape[d] = shape[d];
    size *= shape[d];
  }
  t->size = size;
  int64_t s = (k == V_S) ? 2 : 1;
  if (k == V_T) {
    for (int d = 0; d < ndim; d++) { /* dim 0 innermost in memory */
      t->strides[d] = s;
      s *= shape[d] > 0 ? shape[d] : 1;
    }
  } else if (k == V_TL && ndim >= 2) {
    int order[MAXD]; /* memory order, innermost last: dims ..., n-1, n-2 */
    for (int d = 0; d < ndim; d++) order[d] = d;
    order[ndim - 2] = ndim - 1;
    order[ndim - 1] = ndim - 2;
    for (int i = ndim - 1; i >= 0; i--) {
      t->strides[order[i]] = s;
      s *= shape[order[i]] > 0 ? shape[order[i]] : 1;
    }
  } else {
    for (int d = ndim - 1; d >= 0; d--) {
      t->strides[d] = (k == V_B && d % 2 == 0) ? 0 : s;
      if (!(k == V_B && d % 2 == 0)) s *= shape[d] > 0 ? shape[d] : 1;
    }
  }
  if (k == V_N && ndim > 0) t->strides[0] = -t->strides[0];
  int64_t lo = 0, hi = 0;
  for (int d = 0; d < ndim; d++) {
    int64_t ext = (shape[d] > 0 ? shape[d] - 1 : 0) * t->strides[d];
    if (ext < 0) lo += ext;
    else hi += ext;
  }
  t->off = -lo + (k == V_O ? 1 : 0);
  t->span = t->off + hi + 1;
  t->host = (char *)calloc((size_t)t->span, (size_t)esz(dt));
}

/* A tensor with explicit strides (elements) and offset into a buffer of `span` elements. */
static void ht_make_strided(ht *t, mx_dtype dt, int ndim, const int32_t *shape,
                            const int64_t *strides, int64_t off, int64_t span) {
  memset(t, 0, sizeof *t);
  t->dt = dt;
  t->ndim = ndim;
  t->size = 1;
  for (int d = 0; d < ndim; d++) {
    t->shape[d] = shape[d];
    t->strides[d] = strides[d];
    t->size *= shape[d];
  }
  t->off = off;
  t->span = span;
  t->host = (char *)calloc((size_t)span, (size_t)esz(dt));
}

static void ht_free(ht *t) {
  free(t->host);
  if (t->dev) cudaFree(t->dev);
  t->host = NULL;
  t->dev = NULL;
}

static void put(mx_dtype t, char *p, double re, double im) {
  switch (t) {
    case MX_BOOL: *(bool *)p = re != 0; break;
    case MX_UINT8: *(uint8_t *)p = (uint8_t)(int64_t)re; break;
    case MX_UINT16: *(uint16_t *)p = (uint16_t)(int64_t)re; break;
    case MX_UINT32: *(uint32_t *)p = (uint32_t)(int64_t)re; break;
    case MX_UINT64: *(uint64_t *)p = (uint64_t)(int64_t)re; break;
    case MX_INT8: *(int8_t *)p = (int8_t)(int64_t)re; break;
    case MX_INT16: *(int16_t *)p = (int16_t)(int64_t)re; break;
    case MX_INT32: *(int32_t *)p = (int32_t)(int64_t)re; break;
    case MX_INT64: *(int64_t *)p = (int64_t)re; break;
    case MX_FLOAT16: *(uint16_t *)p = mx_f32_to_f16((float)re); break;
    case MX_FLOAT32: *(float *)p = (float)re; break;
    case MX_FLOAT64: *(double *)p = re; break;
    case MX_BFLOAT16: *(uint16_t *)p = mx_f32_to_bf16((float)re); break;
    default: {
      mx_c64 z = {(float)re, (float)im};
      memcpy(p, &z, sizeof z);
    }
  }
}

typedef enum { P_GEN, P_POS, P_LOG, P_ERF, P_EXP, P_PROD, P_SPECIAL, P_BITS, P_UNIT } profile;

static double special_value(void) {
  static const double sp[] = {NAN, INFINITY, -INFINITY, 1e10, -1e10, 3e9, -0.0, 65520.0,
                              1e-8, 255.5, -129.0, 4294967296.0, 1e20};
  return sp[rng_u64() % (sizeof sp / sizeof sp[0])];
}

static double rand_real(mx_dtype t, profile pr) {
  if (t == MX_BOOL) return (double)(rng_u64() & 1);
  if (mx_dtype_is_integer(t)) {
    bool u = t <= MX_UINT64;
    switch (pr) {
      case P_PROD: return u ? (double)(rng_u64() % 4) : (double)(int)(rng_u64() % 7) - 3;
      case P_BITS:
      case P_SPECIAL: { /* full-width patterns: wraps and sign bits */
        int bits = 8 * esz(t);
        uint64_t v = rng_u64();
        if (bits < 64) v &= (1ull << bits) - 1;
        if (!u && bits < 64 && (v >> (bits - 1))) return (double)(int64_t)(v | ~((1ull << bits) - 1));
        if (!u && bits == 64) return (double)(int64_t)(v >> 12) * ((v & 1) ? -1 : 1);
        return (double)(v >> (bits == 64 ? 12 : 0));
      }
      default: return u ? (double)(rng_u64() % 41) : (double)(int)(rng_u64() % 41) - 20;
    }
  }
  switch (pr) {
    case P_POS: return rng_unif(0.5, 1.5);
    case P_LOG: return rng_unif(-1.0, 10.0);
    case P_ERF: return rng_unif(-1.05, 1.05);
    case P_EXP: return rng_unif(-10.0, 10.0);
    case P_PROD: return rng_unif(0.9, 1.1);
    case P_UNIT: return rng_unif(-1.0, 1.0);
    case P_SPECIAL: return (rng_u64() % 5 == 0) ? special_value() : rng_unif(-300.0, 300.0);
    default: return rng_unif(-4.0, 4.0);
  }
}

static void ht_fill(ht *t, profile pr) {
  for (int64_t i = 0; i < t->span; i++) {
    double re = rand_real(t->dt, pr), im = t->dt == MX_COMPLEX64 ? rand_real(t->dt, pr) : 0.0;
    put(t->dt, t->host + i * esz(t->dt), re, im);
  }
}

static int ht_upload(ht *t) {
  size_t n = (size_t)t->span * (size_t)esz(t->dt);
  if (cudaMalloc(&t->dev, n ? n : 1) != cudaSuccess) return -1;
  return cudaMemcpy(t->dev, t->host, n, cudaMemcpyHostToDevice) == cudaSuccess ? 0 : -1;
}

static mx_tensor view_of(const ht *t, bool device) {
  mx_tensor v;
  char *base = device ? (char *)t->dev : t->host;
  v.data = base + t->off * esz(t->dt);
  v.dtype = t->dt;
  v.ndim = t->ndim;
  v.shape = t->shape;
  v.strides = t->strides;
  v.size = t->size;
  v.flags = 0;
  return v;
}

/* ---------------------------------------------------------------- comparison */

typedef struct tol {
  double rtol, atol; /* rtol < 0: exact (values equal, NaN == NaN) */
} tol;
static const tol EXACT = {-1.0, 0.0};

static tol tol_math(mx_dtype t) {
  switch (t) {
    case MX_FLOAT16: return (tol){2e-3, 1e-4};
    case MX_BFLOAT16: return (tol){1.6e-2, 1e-3};
    case MX_FLOAT32: return (tol){1e-5, 1e-6};
    case MX_COMPLEX64: return (tol){1e-5, 1e-6};
    case MX_FLOAT64: return (tol){1e-12, 1e-14};
    default: return EXACT;
  }
}

static void get(mx_dtype t, const char *p, double *re, double *im, int64_t *iv) {
  *im = 0;
  *iv = 0;
  switch (t) {
    case MX_BOOL: *iv = *(const bool *)p; break;
    case MX_UINT8: *iv = *(const uint8_t *)p; break;
    case MX_UINT16: *iv = *(const uint16_t *)p; break;
    case MX_UINT32: *iv = *(const uint32_t *)p; break;
    case MX_UINT64: *iv = (int64_t) * (const uint64_t *)p; break;
    case MX_INT8: *iv = *(const int8_t *)p; break;
    case MX_INT16: *iv = *(const int16_t *)p; break;
    case MX_INT32: *iv = *(const int32_t *)p; break;
    case MX_INT64: *iv = *(const int64_t *)p; break;
    case MX_FLOAT16: *re = mx_f16_to_f32(*(const uint16_t *)p); break;
    case MX_FLOAT32: *re = *(const float *)p; break;
    case MX_FLOAT64: *re = *(const double *)p; break;
    case MX_BFLOAT16: *re = mx_bf16_to_f32(*(const uint16_t *)p); break;
    default: {
      mx_c64 z;
      memcpy(&z, p, sizeof z);
      *re = z.re;
      *im = z.im;
    }
  }
  if (t <= MX_INT64) *re = (double)*iv;
}

static bool real_close(double a, double b, tol tl, double scale) {
  if (a != a || b != b) return a != a && b != b;
  if (tl.rtol < 0 || isinf(a) || isinf(b)) return a == b;
  double m = fabs(a) > fabs(b) ? fabs(a) : fabs(b);
  if (scale > m) m = scale;
  return fabs(a - b) <= tl.atol + tl.rtol * m;
}

/* Compares n contiguous elements; returns the number of mismatches (first few printed). */
static int64_t compare(const char *label, mx_dtype t, const char *cpu, const char *gpu, int64_t n,
                       tol tl) {
  int64_t bad = 0;
  int sz = esz(t);
  for (int64_t i = 0; i < n; i++) {
    double ar, ai, br, bi;
    int64_t ia, ib;
    get(t, cpu + i * sz, &ar, &ai, &ia);
    get(t, gpu + i * sz, &br, &bi, &ib);
    bool ok;
    if (t <= MX_INT64) {
      ok = ia == ib;
    } else if (t == MX_COMPLEX64) {
      double mag = sqrt(ar * ar + ai * ai);
      ok = real_close(ar, br, tl, mag) && real_close(ai, bi, tl, mag);
      /* an overflowed complex product: where the inf * 0 NaNs appear depends on the order */
      if (!ok && tl.rtol >= 0 && !(isfinite(ar) && isfinite(ai)) && !(isfinite(br) && isfinite(bi)))
        ok = true;
    } else {
      ok = real_close(ar, br, tl, 0.0);
    }
    if (!ok) {
      if (bad < 3 && g_verbose_left > 0) {
        g_verbose_left--;
        if (t <= MX_INT64)
          fprintf(stderr, "    %s: [%lld] cpu %lld gpu %lld\n", label, (long long)i,
                  (long long)ia, (long long)ib);
        else
          fprintf(stderr, "    %s: [%lld] cpu (%.9g, %.9g) gpu (%.9g, %.9g)\n", label,
                  (long long)i, ar, ai, br, bi);
      }
      bad++;
    }
  }
  return bad;
}

/* ---------------------------------------------------------------- running one case */

typedef struct ocase {
  mx_dtype dt;
  int ndim;
  int32_t shape[MAXD];
  tol tl;
} ocase;

/* Runs prim on ins (CPU on host buffers, CUDA on device copies) into contiguous outputs of
 * the given dtypes/shapes; alias0: output 0 is input 0's buffer (donation). Records status
 * under column `col`. Returns 0 pass / both-rejected, 1 failure. */
static int run_case(int prim, const void *params, ht *ins, int n_in, const ocase *outs, int n_out,
                    bool alias0, mx_dtype col, const char *label) {
  char lab[256];
  snprintf(lab, sizeof lab, "%s %s %s", mx_prim_name(prim), SFX[col], label);
  g_cases_total++;
  g_ncases[prim]++;
  mx_kernel_fn cpu = mx_prims[prim].eval_cpu, gpu = mx_cuda_kernel(prim);
  if (!gpu || !cpu) return 0;
  mx_tensor cin[8], gin[8], cout[4], gout[4];
  int64_t osize[4];
  char *chost[4] = {0}, *gback[4] = {0};
  void *gdev[4] = {0};
  ht alias_c, alias_g;
  int rc = 0;
  for (int i = 0; i < n_in; i++) {
    if (ht_upload(&ins[i]) < 0) {
      fprintf(stderr, "  %s: device allocation failed\n", lab);
      return 1;
    }
    cin[i] = view_of(&ins[i], false);
    gin[i] = view_of(&ins[i], true);
  }
  /* outputs */
  static int64_t ostr[4][MAXD];
  for (int k = 0; k < n_out; k++) {
    const ocase *o = &outs[k];
    int64_t s = 1;
    for (int d = o->ndim - 1; d >= 0; d--) {
      ostr[k][d] = s;
      s *= o->shape[d];
    }
    osize[k] = s;
    size_t bytes = (size_t)s * (size_t)esz(o->dt);
    if (alias0 && k == 0) {
      /* the output takes input 0's buffer: separate host/device copies of it */
      alias_c = ins[0];
      alias_c.host = (char *)malloc((size_t)ins[0].span * esz(ins[0].dt) + 1);
      memcpy(alias_c.host, ins[0].host, (size_t)ins[0].span * esz(ins[0].dt));
      alias_g.dev = NULL;
      cudaMalloc(&alias_g.dev, (size_t)ins[0].span * esz(ins[0].dt) + 1);
      cudaMemcpy(alias_g.dev, ins[0].dev, (size_t)ins[0].span * esz(ins[0].dt),
                 cudaMemcpyDeviceToDevice);
      cin[0].data = alias_c.host + ins[0].off * esz(ins[0].dt);
      gin[0].data = (char *)alias_g.dev + ins[0].off * esz(ins[0].dt);
      chost[k] = (char *)cin[0].data;
      gdev[k] = gin[0].data;
    } else {
      chost[k] = (char *)malloc(bytes + 1);
      memset(chost[k], 0xAB, bytes + 1);
      cudaMalloc(&gdev[k], bytes + 1);
      cudaMemset(gdev[k], 0xCD, bytes + 1);
    }
    gback[k] = (char *)malloc(bytes + 1);
    cout[k].data = chost[k];
    gout[k].data = gdev[k];
    cout[k].dtype = gout[k].dtype = o->dt;
    cout[k].ndim = gout[k].ndim = o->ndim;
    cout[k].shape = gout[k].shape = o->shape;
    cout[k].strides = gout[k].strides = ostr[k];
    cout[k].size = gout[k].size = s;
    cout[k].flags = gout[k].flags = 0;
  }
  mx_kernel_ctx cctx = {params, NULL, 0}, gctx = {params, (void *)g_stream, 0};
  /* the fills and alias copies above went to the legacy stream, which the kernel's
   * non-blocking stream does not wait for */
  cudaDeviceSynchronize();
  mx_error_clear();
  int crc = cpu(&cctx, cin, n_in, cout, n_out);
  char cmsg[MX_ERROR_MAX];
  snprintf(cmsg, sizeof cmsg, "%s", mx_error_message());
  mx_error_clear();
  int grc = gpu(&gctx, gin, n_in, gout, n_out);
  char gmsg[MX_ERROR_MAX];
  snprintf(gmsg, sizeof gmsg, "%s", mx_error_message());
  cudaError_t se = cudaStreamSynchronize(g_stream);
  cudaError_t le = cudaGetLastError();
  if (se != cudaSuccess || le != cudaSuccess) {
    fprintf(stderr, "  %s: CUDA fault: %s\n", lab,
            cudaGetErrorString(se != cudaSuccess ? se : le));
    rc = 1;
    mark(prim, col, 3);
  } else if (crc < 0 || grc < 0) {
    if (crc < 0 && grc < 0) {
      mark(prim, col, 2);
    } else {
      if (g_verbose_left-- > 0)
        fprintf(stderr, "  %s: error parity: cpu %d (%s) gpu %d (%s)\n", lab, crc, cmsg, grc,
                gmsg);
      mark(prim, col, 4);
      rc = 1;
    }
  } else {
    int64_t bad = 0;
    for (int k = 0; k < n_out; k++) {
      size_t bytes = (size_t)osize[k] * (size_t)esz(outs[k].dt);
      cudaMemcpy(gback[k], gdev[k], bytes, cudaMemcpyDeviceToHost);
      bad += compare(lab, outs[k].dt, chost[k], gback[k], osize[k], outs[k].tl);
    }
    if (bad) {
      if (g_verbose_left-- > 0) fprintf(stderr, "  %s: %lld mismatches\n", lab, (long long)bad);
      mark(prim, col, 3);
      rc = 1;
    } else {
      mark(prim, col, 1);
    }
  }
  for (int k = 0; k < n_out; k++) {
    if (alias0 && k == 0) {
      free(alias_c.host);
      cudaFree(alias_g.dev);
    } else {
      free(chost[k]);
      cudaFree(gdev[k]);
    }
    free(gback[k]);
  }
  for (int i = 0; i < n_in; i++) {
    cudaFree(ins[i].dev);
    ins[i].dev = NULL;
  }
  g_fail_total += rc;
  return rc;
}

static ocase oc(mx_dtype dt, int ndim, const int32_t *shape, tol tl) {
  ocase o;
  memset(&o, 0, sizeof o);
  o.dt = dt;
  o.ndim = ndim;
  for (int d = 0; d < ndim; d++) o.shape[d] = shape[d];
  o.tl = tl;
  return o;
}

/* ---------------------------------------------------------------- element-wise families */

#define SFX_BIT(a, sfx) | (1u << MX_DT_##sfx)
#define TYPE_MASK(NAME, stem) [MX_PRIM_##NAME] = 0u MX_F_##stem##_TYPES(SFX_BIT, _),
static const uint32_t g_types[MX_PRIM_COUNT] = {
    MX_UNARY_PRIMS(TYPE_MASK) MX_BINARY_PRIMS(TYPE_MASK) MX_COMPARE_PRIMS(TYPE_MASK)
        MX_TERNARY_PRIMS(TYPE_MASK) MX_BINARY_TWO_PRIMS(TYPE_MASK)};

typedef struct shape_case {
  int ndim;
  int32_t shape[MAXD];
  vkind k;
  const char *name;
} shape_case;

static const shape_case UNARY_CASES[] = {
    {1, {100003}, V_C, "contig 100003"},
    {1, {4099}, V_O, "misaligned 4099"},
    {3, {37, 61, 5}, V_T, "transposed 37x61x5"},
    {2, {64, 33}, V_S, "stride2 64x33"},
    {2, {17, 23}, V_N, "negative 17x23"},
    {2, {31, 45}, V_B, "broadcast 31x45"},
    {10, {2, 3, 2, 2, 3, 2, 2, 2, 3, 2}, V_T, "10-d transposed"},
    {0, {0}, V_C, "0-d"},
    {2, {0, 5}, V_C, "empty 0x5"},
};

static profile unary_profile(const char *stem) {
  if (!strcmp(stem, "log") || !strcmp(stem, "sqrt")) return P_LOG;
  if (!strcmp(stem, "erfinv")) return P_ERF;
  if (!strcmp(stem, "exp")) return P_EXP;
  if (!strcmp(stem, "copy") || !strcmp(stem, "astype")) return P_SPECIAL;
  return P_GEN;
}

static void test_unary(int prim, const char *stem) {
  for (int t = 0; t < NDT; t++) {
    mx_dtype dt = (mx_dtype)t;
    bool ok_t = (g_types[prim] >> t) & 1u;
    int ncase = ok_t ? (int)(sizeof UNARY_CASES / sizeof UNARY_CASES[0]) : 1;
    for (int c = 0; c < ncase; c++) {
      const shape_case *sc = &UNARY_CASES[c];
      ht in;
      ht_make(&in, dt, sc->ndim, sc->shape, sc->k);
      ht_fill(&in, unary_profile(stem));
      mx_dtype odt = dt;
      if ((prim == MX_PRIM_ABS || prim == MX_PRIM_REAL || prim == MX_PRIM_IMAG) &&
          dt == MX_COMPLEX64)
        odt = MX_FLOAT32; /* as the op layer */
      ocase o = oc(odt, sc->ndim, sc->shape, tol_math(odt));
      run_case(prim, NULL, &in, 1, &o, 1, false, dt, sc->name);
      ht_free(&in);
    }
  }
}

typedef struct bin_case {
  int na, nb, no;
  int32_t a[MAXD], b[MAXD], o[MAXD];
  vkind ka, kb;
  const char *name;
} bin_case;

static const bin_case BINARY_CASES[] = {
    {1, 1, 1, {100003}, {100003}, {100003}, V_C, V_C, "contig"},
    {1, 1, 1, {100003}, {1}, {100003}, V_C, V_C, "scalar rhs"},
    {1, 1, 1, {1}, {4097}, {4097}, V_C, V_O, "scalar lhs, misaligned rhs"},
    {2, 2, 2, {33, 1}, {1, 65}, {33, 65}, V_C, V_C, "outer broadcast"},
    {3, 3, 3, {7, 9, 11}, {7, 9, 11}, {7, 9, 11}, V_T, V_S, "transposed/stride2"},
    {2, 2, 2, {19, 21}, {19, 21}, {19, 21}, V_N, V_C, "negative"},
    {3, 2, 3, {5, 1, 7}, {3, 1}, {5, 3, 7}, V_C, V_C, "rank broadcast"},
    {10, 10, 10, {2, 3, 2, 2, 3, 2, 2, 2, 3, 2}, {2, 3, 2, 2, 3, 2, 2, 2, 3, 2},
     {2, 3, 2, 2, 3, 2, 2, 2, 3, 2}, V_T, V_C, "10-d"},
    {2, 2, 2, {0, 4}, {1, 4}, {0, 4}, V_C, V_C, "empty"},
};

static void test_binary(int prim, bool cmp) {
  for (int t = 0; t < NDT; t++) {
    mx_dtype dt = (mx_dtype)t;
    bool ok_t = (g_types[prim] >> t) & 1u;
    int ncase = ok_t ? (int)(sizeof BINARY_CASES / sizeof BINARY_CASES[0]) : 1;
    for (int c = 0; c < ncase; c++) {
      const bin_case *bc = &BINARY_CASES[c];
      ht in[2];
      ht_make(&in[0], dt, bc->na, bc->a, bc->ka);
      ht_make(&in[1], dt, bc->nb, bc->b, bc->kb);
      ht_fill(&in[0], P_GEN);
      ht_fill(&in[1], P_GEN);
      mx_dtype odt = cmp ? MX_BOOL : dt;
      ocase o = oc(odt, bc->no, bc->o, tol_math(odt));
      run_case(prim, NULL, in, 2, &o, 1, false, dt, bc->name);
      ht_free(&in[0]);
      ht_free(&in[1]);
    }
  }
}

/* DivMod: (floor quotient, remainder), two outputs of the inputs' dtype */
static void test_binary_two(int prim) {
  for (int t = 0; t < NDT; t++) {
    mx_dtype dt = (mx_dtype)t;
    bool ok_t = (g_types[prim] >> t) & 1u;
    int ncase = ok_t ? (int)(sizeof BINARY_CASES / sizeof BINARY_CASES[0]) : 1;
    for (int c = 0; c < ncase; c++) {
      const bin_case *bc = &BINARY_CASES[c];
      ht in[2];
      ht_make(&in[0], dt, bc->na, bc->a, bc->ka);
      ht_make(&in[1], dt, bc->nb, bc->b, bc->kb);
      ht_fill(&in[0], P_GEN);
      ht_fill(&in[1], P_GEN);
      ocase o[2] = {oc(dt, bc->no, bc->o, tol_math(dt)), oc(dt, bc->no, bc->o, tol_math(dt))};
      run_case(prim, NULL, in, 2, o, 2, false, dt, bc->name);
      ht_free(&in[0]);
      ht_free(&in[1]);
    }
  }
}

static void test_ternary(int prim) {
  for (int t = 0; t < NDT; t++) {
    mx_dtype dt = (mx_dtype)t;
    bool ok_t = (g_types[prim] >> t) & 1u;
    int ncase = ok_t ? (int)(sizeof BINARY_CASES / sizeof BINARY_CASES[0]) : 1;
    for (int c = 0; c < ncase; c++) {
      const bin_case *bc = &BINARY_CASES[c];
      ht in[3];
      ht_make(&in[0], MX_BOOL, bc->nb, bc->b, bc->kb); /* condition shaped like rhs */
      ht_make(&in[1], dt, bc->na, bc->a, bc->ka);
      ht_make(&in[2], dt, bc->no, bc->o, V_C);
      ht_fill(&in[0], P_GEN);
      ht_fill(&in[1], P_GEN);
      ht_fill(&in[2], P_GEN);
      ocase o = oc(dt, bc->no, bc->o, EXACT);
      run_case(prim, NULL, in, 3, &o, 1, false, dt, bc->name);
      for (int i = 0; i < 3; i++) ht_free(&in[i]);
    }
  }
}

/* ---------------------------------------------------------------- copies and views */

static void test_copy_like(int prim) {
  /* Copy and StopGradient: same dtype; AsType: every destination dtype */
  for (int t = 0; t < NDT; t++) {
    mx_dtype st = (mx_dtype)t;
    for (int c = 0; c < (int)(sizeof UNARY_CASES / sizeof UNARY_CASES[0]); c++) {
      const shape_case *sc = &UNARY_CASES[c];
      for (int u = 0; u < NDT; u++) {
        mx_dtype dt = (mx_dtype)u;
        if (prim != MX_PRIM_ASTYPE && dt != st) continue;
        ht in;
        ht_make(&in, st, sc->ndim, sc->shape, sc->k);
        ht_fill(&in, P_SPECIAL);
        ocase o = oc(dt, sc->ndim, sc->shape, EXACT);
        char lab[96];
        snprintf(lab, sizeof lab, "%s -> %s", sc->name, SFX[u]);
        run_case(prim, NULL, &in, 1, &o, 1, false, st, lab);
        ht_free(&in);
      }
    }
    /* the tiled transpose: a large 2-d and a batched 3-d transposed source */
    const int32_t s2[2] = {130, 67}, s3[3] = {3, 96, 80};
    for (int u = 0; u < NDT; u++) {
      mx_dtype dt = (mx_dtype)u;
      if (prim != MX_PRIM_ASTYPE && dt != st) continue;
      if (prim == MX_PRIM_ASTYPE && dt != st && u % 3 != 0) continue; /* a sample of pairs */
      ht in;
      ht_make(&in, st, 2, s2, V_T);
      ht_fill(&in, P_SPECIAL);
      ocase o = oc(dt, 2, s2, EXACT);
      run_case(prim, NULL, &in, 1, &o, 1, false, st, "tiled 130x67");
      ht_free(&in);
      int64_t str[3] = {96 * 80, 1, 96}; /* batch outer, last two dims swapped */
      ht_make_strided(&in, st, 3, s3, str, 0, 3 * 96 * 80);
      ht_fill(&in, P_SPECIAL);
      o = oc(dt, 3, s3, EXACT);
      run_case(prim, NULL, &in, 1, &o, 1, false, st, "tiled batch 3x96x80");
      ht_free(&in);
    }
  }
}

static void test_views(int prim) {
  for (int t = 0; t < NDT; t++) {
    mx_dtype dt = (mx_dtype)t;
    ht in;
    if (prim == MX_PRIM_RESHAPE) {
      const int32_t s[2] = {6, 10}, o[3] = {4, 3, 5};
      ht_make(&in, dt, 2, s, V_T);
      ht_fill(&in, P_BITS);
      ocase oo = oc(dt, 3, o, EXACT);
      run_case(prim, NULL, &in, 1, &oo, 1, false, dt, "transposed 6x10 -> 4x3x5");
      ht_free(&in);
      const int32_t s2[3] = {2, 3, 4}, o2[1] = {24};
      ht_make(&in, dt, 3, s2, V_N);
      ht_fill(&in, P_BITS);
      oo = oc(dt, 1, o2, EXACT);
      run_case(prim, NULL, &in, 1, &oo, 1, false, dt, "negative 2x3x4 -> 24");
      ht_free(&in);
    } else if (prim == MX_PRIM_TRANSPOSE) {
      const int32_t s[3] = {3, 4, 5}, o[3] = {5, 3, 4};
      int32_t axes[3] = {2, 0, 1};
      mx_p_transpose p = {{3, axes}};
      ht_make(&in, dt, 3, s, V_C);
      ht_fill(&in, P_BITS);
      ocase oo = oc(dt, 3, o, EXACT);
      run_case(prim, &p, &in, 1, &oo, 1, false, dt, "3x4x5 (2,0,1)");
      ht_free(&in);
      const int32_t s2[2] = {130, 67}, o2[2] = {67, 130};
      int32_t ax2[2] = {1, 0};
      mx_p_transpose p2 = {{2, ax2}};
      ht_make(&in, dt, 2, s2, V_C);
      ht_fill(&in, P_BITS);
      oo = oc(dt, 2, o2, EXACT);
      run_case(prim, &p2, &in, 1, &oo, 1, false, dt, "130x67 (1,0) tiled");
      ht_free(&in);
      const int32_t s3[3] = {4, 96, 80}, o3[3] = {4, 80, 96};
      int32_t ax3[3] = {0, 2, 1};
      mx_p_transpose p3 = {{3, ax3}};
      ht_make(&in, dt, 3, s3, V_C);
      ht_fill(&in, P_BITS);
      oo = oc(dt, 3, o3, EXACT);
      run_case(prim, &p3, &in, 1, &oo, 1, false, dt, "4x96x80 (0,2,1) batched tiles");
      ht_free(&in);
    } else if (prim == MX_PRIM_BROADCAST) {
      const int32_t s[2] = {1, 5}, o[2] = {4, 5};
      int32_t shp[2] = {4, 5};
      mx_p_broadcast p = {{2, shp}};
      ht_make(&in, dt, 2, s, V_C);
      ht_fill(&in, P_BITS);
      ocase oo = oc(dt, 2, o, EXACT);
      run_case(prim, &p, &in, 1, &oo, 1, false, dt, "1x5 -> 4x5");
      ht_free(&in);
      const int32_t s2[2] = {3, 1}, o2[3] = {2, 3, 7};
      int32_t shp2[3] = {2, 3, 7};
      mx_p_broadcast p2 = {{3, shp2}};
      ht_make(&in, dt, 2, s2, V_S);
      ht_fill(&in, P_BITS);
      oo = oc(dt, 3, o2, EXACT);
      run_case(prim, &p2, &in, 1, &oo, 1, false, dt, "3x1 -> 2x3x7");
      ht_free(&in);
    } else if (prim == MX_PRIM_SLICE) {
      const int32_t s[2] = {10, 12}, o[2] = {4, 4};
      int32_t st[2] = {1, 2}, sp[2] = {9, 12}, sd[2] = {2, 3};
      mx_p_slice p = {{2, st}, {2, sp}, {2, sd}};
      ht_make(&in, dt, 2, s, V_C);
      ht_fill(&in, P_BITS);
      ocase oo = oc(dt, 2, o, EXACT);
      run_case(prim, &p, &in, 1, &oo, 1, false, dt, "[1:9:2, 2:12:3]");
      ht_free(&in);
      const int32_t o2[2] = {5, 6};
      int32_t st2[2] = {9, 11}, sp2[2] = {-1, -1}, sd2[2] = {-2, -2};
      mx_p_slice p2 = {{2, st2}, {2, sp2}, {2, sd2}};
      ht_make(&in, dt, 2, s, V_T);
      ht_fill(&in, P_BITS);
      oo = oc(dt, 2, o2, EXACT);
      run_case(prim, &p2, &in, 1, &oo, 1, false, dt, "[9::-2, 11::-2] of transposed");
      ht_free(&in);
    } else if (prim == MX_PRIM_STOP_GRADIENT) {
      const int32_t s[2] = {7, 9};
      ht_make(&in, dt, 2, s, V_S);
      ht_fill(&in, P_BITS);
      ocase oo = oc(dt, 2, s, EXACT);
      run_case(prim, NULL, &in, 1, &oo, 1, false, dt, "stride2 7x9");
      ht_free(&in);
    }
  }
}

static void test_depends(int prim) {
  for (int t = 0; t < NDT; t++) {
    mx_dtype dt = (mx_dtype)t;
    ht in[2];
    const int32_t s0[2] = {5, 7}, s1[1] = {3};
    ht_make(&in[0], dt, 2, s0, V_T);
    ht_make(&in[1], MX_FLOAT32, 1, s1, V_C);
    ht_fill(&in[0], P_BITS);
    ht_fill(&in[1], P_GEN);
    ocase o = oc(dt, 2, s0, EXACT);
    run_case(prim, NULL, in, 2, &o, 1, false, dt, "2 inputs, 1 output");
    ht_free(&in[0]);
    ht_free(&in[1]);
  }
}

/* ---------------------------------------------------------------- section D layout */

static void test_layout(int prim) {
  for (int t = 0; t < NDT; t++) {
    mx_dtype dt = (mx_dtype)t;
    ht in[3];
    if (prim == MX_PRIM_AS_STRIDED) {
      const int32_t s[1] = {60}, o[2] = {3, 4};
      int32_t shp[2] = {3, 4};
      int64_t str[2] = {8, 2};
      mx_p_as_strided p = {{2, shp}, {2, str}, 5};
      for (int k = 0; k < 2; k++) {
        ht_make(&in[0], dt, 1, s, k ? V_S : V_C);
        ht_fill(&in[0], P_BITS);
        ocase oo = oc(dt, 2, o, EXACT);
        run_case(prim, &p, in, 1, &oo, 1, false, dt, k ? "strided input" : "contiguous input");
        ht_free(&in[0]);
      }
    } else if (prim == MX_PRIM_CONTIGUOUS) {
      const int32_t s[2] = {7, 9};
      mx_p_contiguous p = {false};
      ht_make(&in[0], dt, 2, s, V_T);
      ht_fill(&in[0], P_BITS);
      ocase oo = oc(dt, 2, s, EXACT);
      run_case(prim, &p, in, 1, &oo, 1, false, dt, "transposed 7x9");
      ht_free(&in[0]);
    } else if (prim == MX_PRIM_VIEW) {
      const int32_t s[2] = {4, 6};
      int32_t o[2] = {4, 6 * esz(dt)};
      mx_p_view p = {MX_UINT8};
      ht_make(&in[0], dt, 2, s, V_T);
      ht_fill(&in[0], P_BITS);
      ocase oo = oc(MX_UINT8, 2, o, EXACT);
      run_case(prim, &p, in, 1, &oo, 1, false, dt, "transposed 4x6 as uint8");
      ht_free(&in[0]);
    } else if (prim == MX_PRIM_CONCATENATE) {
      const int32_t s0[3] = {2, 3, 4}, s1[3] = {2, 5, 4}, s2[3] = {2, 1, 4}, o[3] = {2, 9, 4};
      mx_p_concatenate p = {1};
      ht_make(&in[0], dt, 3, s0, V_C);
      ht_make(&in[1], dt, 3, s1, V_T);
      ht_make(&in[2], dt, 3, s2, V_S);
      for (int i = 0; i < 3; i++) ht_fill(&in[i], P_BITS);
      ocase oo = oc(dt, 3, o, EXACT);
      run_case(prim, &p, in, 3, &oo, 1, false, dt, "3 inputs along axis 1");
      for (int i = 0; i < 3; i++) ht_free(&in[i]);
    } else if (prim == MX_PRIM_PAD) {
      const int32_t s[2] = {5, 6}, o[2] = {8, 8};
      int32_t axes[2] = {0, 1}, lo[2] = {1, 2}, hi[2] = {2, 0};
      mx_p_pad p = {{2, axes}, {2, lo}, {2, hi}};
      ht_make(&in[0], dt, 2, s, V_S);
      ht_make(&in[1], dt, 0, s, V_C);
      ht_fill(&in[0], P_BITS);
      ht_fill(&in[1], P_BITS);
      ocase oo = oc(dt, 2, o, EXACT);
      run_case(prim, &p, in, 2, &oo, 1, false, dt, "5x6 -> 8x8");
      ht_free(&in[0]);
      ht_free(&in[1]);
    } else if (prim == MX_PRIM_ADDMM) {
      struct {
        int nd;
        int32_t a[3], b[3], o[3];
        vkind kc;
        const char *name;
      } cs[] = {{2, {16, 24}, {24, 8}, {16, 8}, V_B, "16x24 @ 24x8 + broadcast row"},
                {3, {3, 10, 12}, {3, 12, 7}, {3, 10, 7}, V_C, "batched 3"}};
      mx_p_addmm p = {0.5, 2.0};
      for (int c = 0; c < 2; c++) {
        ht_make(&in[0], dt, cs[c].nd, cs[c].a, V_C);
        ht_make(&in[1], dt, cs[c].nd, cs[c].b, V_TL);
        ht_make(&in[2], dt, cs[c].nd, cs[c].o, cs[c].kc);
        for (int i = 0; i < 3; i++) ht_fill(&in[i], P_UNIT);
        double K = cs[c].a[cs[c].nd - 1];
        tol tl = dt == MX_FLOAT16 ? (tol){2e-3, 2e-3}
                 : dt == MX_BFLOAT16 ? (tol){1.6e-2, 1.6e-2}
                 : dt == MX_FLOAT64 ? (tol){1e-12, 1e-13 * K} : (tol){1e-5, 1e-6 * K};
        ocase oo = oc(dt, cs[c].nd, cs[c].o, tl);
        run_case(prim, &p, in, 3, &oo, 1, false, dt, cs[c].name);
        for (int i = 0; i < 3; i++) ht_free(&in[i]);
        if (!mx_dtype_is_inexact(dt)) break;
      }
    }
  }
}

/* ---------------------------------------------------------------- reduce */

static mx_dtype sum_out(mx_dtype t) {
  switch (t) {
    case MX_BOOL: case MX_INT8: case MX_INT16: case MX_INT32: return MX_INT32;
    case MX_UINT8: case MX_UINT16: case MX_UINT32: return MX_UINT32;
    default: return t;
  }
}

typedef struct red_case {
  int ndim;
  int32_t shape[MAXD];
  int naxes;
  int32_t axes[MAXD];
  vkind k;
  const char *name;
} red_case;

static const red_case REDUCE_CASES[] = {
    {2, {37, 1000}, 1, {1}, V_C, "rows 37x1000 ax1"},
    {2, {37, 1000}, 1, {0}, V_C, "cols 37x1000 ax0"},
    {2, {37, 1000}, 2, {0, 1}, V_C, "all 37x1000"},
    {1, {300001}, 1, {0}, V_C, "split row 300001"},
    {1, {300001}, 1, {0}, V_O, "split row misaligned"},
    {2, {20000, 3}, 1, {0}, V_C, "split cols 20000x3 ax0"},
    {3, {8, 16, 33}, 2, {0, 2}, V_T, "transposed 8x16x33 ax(0,2)"},
    {3, {8, 16, 33}, 1, {1}, V_C, "middle 8x16x33 ax1"},
    {2, {64, 129}, 1, {1}, V_S, "stride2 rows 64x129"},
    {2, {3, 7}, 1, {1}, V_C, "short rows 3x7"},
    {3, {5, 0, 3}, 1, {1}, V_C, "empty reduced axis"},
    {2, {0, 3}, 1, {1}, V_C, "empty output"},
    {2, {9, 9}, 1, {1}, V_B, "broadcast input"},
};

static const char *const KIND_NAMES[6] = {"and", "or", "sum", "prod", "min", "max"};

static void test_reduce(int prim) {
  for (int kind = 0; kind < 6; kind++) {
    for (int t = 0; t < NDT; t++) {
      mx_dtype dt = (mx_dtype)t;
      mx_dtype odt = kind <= MX_REDUCE_OR ? MX_BOOL
                     : (kind <= MX_REDUCE_PROD ? sum_out(dt) : dt);
      profile pr = kind == MX_REDUCE_PROD ? P_PROD : (kind == MX_REDUCE_SUM ? P_POS : P_GEN);
      tol tl = tol_math(odt);
      if (kind == MX_REDUCE_SUM || kind == MX_REDUCE_PROD) { /* order of float accumulation */
        if (odt == MX_FLOAT32 || odt == MX_COMPLEX64) tl = (tol){1e-4, 1e-5};
        if (odt == MX_FLOAT64) tl = (tol){1e-10, 1e-12};
      }
      if (kind >= MX_REDUCE_MIN) tl = EXACT;
      for (int c = 0; c < (int)(sizeof REDUCE_CASES / sizeof REDUCE_CASES[0]); c++) {
        const red_case *rc = &REDUCE_CASES[c];
        ht in;
        ht_make(&in, dt, rc->ndim, rc->shape, rc->k);
        ht_fill(&in, pr);
        int32_t oshape[MAXD];
        for (int d = 0, a = 0; d < rc->ndim; d++) {
          bool r = a < rc->naxes && rc->axes[a] == d;
          if (r) a++;
          oshape[d] = r ? 1 : rc->shape[d];
        }
        mx_p_reduce p = {kind, {rc->naxes, rc->axes}};
        ocase o = oc(odt, rc->ndim, oshape, tl);
        char lab[96];
        snprintf(lab, sizeof lab, "%s %s", KIND_NAMES[kind], rc->name);
        run_case(prim, &p, &in, 1, &o, 1, false, dt, lab);
        ht_free(&in);
      }
    }
  }
  /* accumulator pairs without a fused instance (input converted first) and f16 -> f32 */
  const int32_t s[2] = {37, 1000}, os[2] = {37, 1};
  int32_t ax[1] = {1};
  mx_p_reduce p = {MX_REDUCE_SUM, {1, ax}};
  ht in;
  ht_make(&in, MX_INT32, 2, s, V_T);
  ht_fill(&in, P_GEN);
  ocase o = oc(MX_FLOAT32, 2, os, (tol){1e-5, 1e-6});
  run_case(prim, &p, &in, 1, &o, 1, false, MX_INT32, "sum int32 -> float32 (converted)");
  ht_free(&in);
  mx_p_reduce pm = {MX_REDUCE_MAX, {1, ax}};
  ht_make(&in, MX_FLOAT16, 2, s, V_C);
  ht_fill(&in, P_GEN);
  o = oc(MX_FLOAT32, 2, os, EXACT);
  run_case(prim, &pm, &in, 1, &o, 1, false, MX_FLOAT16, "max float16 -> float32");
  ht_free(&in);
}

/* ---------------------------------------------------------------- arange, arg reduce, softmax */

static void test_arange(int prim) {
  static const double AR[][3] = {{0, 1000, 1},    {-5, 5, 0.5},     {3, -20, -1.5},
                                 {0, 1, 0.1},     {100, 300000, 3}, {-0.0, 4, 1},
                                 {250, 260, 1.25}, {0, 70000, 1},   {7, 7, 1}};
  for (int t = 0; t < NDT; t++) {
    for (int c = 0; c < (int)(sizeof AR / sizeof AR[0]); c++) {
      mx_p_arange p = {AR[c][0], AR[c][1], AR[c][2]};
      double len = ceil((p.stop - p.start) / p.step);
      int32_t n[1] = {len > 0 ? (int32_t)len : 0};
      ocase o = oc((mx_dtype)t, 1, n, EXACT);
      char lab[96];
      snprintf(lab, sizeof lab, "(%g, %g, %g)", p.start, p.stop, p.step);
      run_case(prim, &p, NULL, 0, &o, 1, false, (mx_dtype)t, lab);
    }
  }
}

static const red_case ARGRED_CASES[] = {
    {2, {37, 1000}, 1, {1}, V_C, "rows 37x1000 ax1"},
    {2, {37, 1000}, 1, {0}, V_C, "cols 37x1000 ax0"},
    {1, {300001}, 1, {0}, V_C, "one long row"},
    {1, {300001}, 1, {0}, V_N, "one long row negative stride"},
    {2, {3000, 70}, 1, {0}, V_C, "cols 3000x70 ax0"},
    {2, {50000, 3}, 1, {1}, V_T, "strided short rows"},
    {3, {8, 16, 33}, 1, {1}, V_T, "transposed middle"},
    {3, {8, 16, 33}, 1, {2}, V_S, "stride2 last"},
    {2, {9, 9}, 1, {1}, V_B, "broadcast input"},
    {3, {5, 0, 3}, 1, {1}, V_C, "empty reduced axis"},
    {2, {0, 3}, 1, {1}, V_C, "empty output"},
};

static void test_arg_reduce(int prim) {
  for (int kind = 0; kind < 2; kind++) {
    for (int t = 0; t < NDT; t++) {
      mx_dtype dt = (mx_dtype)t;
      for (int c = 0; c < (int)(sizeof ARGRED_CASES / sizeof ARGRED_CASES[0]); c++) {
        for (int pi = 0; pi < 2; pi++) {
          const red_case *rc = &ARGRED_CASES[c];
          ht in;
          ht_make(&in, dt, rc->ndim, rc->shape, rc->k);
          ht_fill(&in, pi ? P_SPECIAL : P_GEN);
          int32_t oshape[MAXD];
          for (int d = 0; d < rc->ndim; d++) oshape[d] = d == rc->axes[0] ? 1 : rc->shape[d];
          mx_p_arg_reduce p = {kind, rc->axes[0]};
          ocase o = oc(MX_UINT32, rc->ndim, oshape, EXACT);
          char lab[96];
          snprintf(lab, sizeof lab, "%s %s%s", kind ? "argmax" : "argmin", rc->name,
                   pi ? " special" : "");
          run_case(prim, &p, &in, 1, &o, 1, false, dt, lab);
          ht_free(&in);
        }
      }
    }
  }
}

static const shape_case SOFTMAX_CASES[] = {
    {2, {37, 1000}, V_C, "rows 37x1000"},
    {2, {3, 5000}, V_C, "long rows 3x5000"},
    {2, {2000, 7}, V_C, "short rows 2000x7"},
    {3, {4, 6, 130}, V_T, "transposed"},
    {3, {4, 6, 130}, V_S, "stride2"},
    {2, {5, 300}, V_O, "misaligned"},
    {2, {9, 9}, V_B, "broadcast"},
    {1, {1}, V_C, "single"},
    {2, {0, 4}, V_C, "empty"},
};

static void test_softmax(int prim) {
  bool lse = prim == MX_PRIM_LOGSUMEXP;
  for (int t = 0; t < NDT; t++) {
    mx_dtype dt = (mx_dtype)t;
    tol tl = tol_math(dt);
    if (dt == MX_FLOAT32) tl = (tol){1e-4, 1e-6};
    if (dt == MX_FLOAT64) tl = (tol){1e-10, 1e-14};
    for (int c = 0; c < (int)(sizeof SOFTMAX_CASES / sizeof SOFTMAX_CASES[0]); c++) {
      for (int pi = 0; pi < 2; pi++) {
        const shape_case *sc = &SOFTMAX_CASES[c];
        ht in;
        ht_make(&in, dt, sc->ndim, sc->shape, sc->k);
        ht_fill(&in, pi ? P_SPECIAL : P_EXP);
        int32_t oshape[MAXD];
        for (int d = 0; d < sc->ndim; d++) oshape[d] = sc->shape[d];
        if (lse) oshape[sc->ndim - 1] = 1;
        mx_p_softmax p = {pi == 1};
        ocase o = oc(dt, sc->ndim, oshape, tl);
        char lab[96];
        snprintf(lab, sizeof lab, "%s%s", sc->name, pi ? " special" : "");
        run_case(prim, lse ? NULL : &p, &in, 1, &o, 1, false, dt, lab);
        ht_free(&in);
      }
    }
  }
}

/* ---------------------------------------------------------------- gather / scatter */

/* Fills an index tensor with values in [lo, hi] (a permutation of 0..n-1 when perm). */
static void fill_index(ht *t, int64_t lo, int64_t hi, bool perm) {
  for (int64_t i = 0; i < t->span; i++) {
    int64_t v = perm ? i : lo + (int64_t)(rng_u64() % (uint64_t)(hi - lo + 1));
    put(t->dt, t->host + i * esz(t->dt), (double)v, 0);
  }
  if (perm)
    for (int64_t i = t->span - 1; i > 0; i--) {
      int64_t j = (int64_t)(rng_u64() % (uint64_t)(i + 1));
      char tmp[8];
      memcpy(tmp, t->host + i * esz(t->dt), esz(t->dt));
      memcpy(t->host + i * esz(t->dt), t->host + j * esz(t->dt), esz(t->dt));
      memcpy(t->host + j * esz(t->dt), tmp, esz(t->dt));
    }
}

static const mx_dtype IDX_DTS[] = {MX_INT32, MX_UINT8, MX_INT64, MX_INT16, MX_UINT64};

static void test_gather(int prim) {
  for (int t = 0; t < NDT; t++) {
    mx_dtype dt = (mx_dtype)t;
    for (int c = 0; c < 4; c++) {
      const int32_t ashape[3] = {10, 7, 5}, ishape[2] = {4, 3};
      int32_t ax[2] = {0, 2}, ss[3] = {1, 7, 2};
      if (c == 3) ss[0] = 3, ss[1] = 2;
      ht in[3];
      ht_make(&in[0], dt, 3, ashape, c == 1 ? V_T : (c == 2 ? V_N : V_C));
      ht_fill(&in[0], P_GEN);
      for (int j = 0; j < 2; j++) {
        ht_make(&in[1 + j], IDX_DTS[(c + j) % 5], 2, ishape, j == 1 && c == 1 ? V_T : V_C);
        bool uns = IDX_DTS[(c + j) % 5] == MX_UINT8 || IDX_DTS[(c + j) % 5] == MX_UINT64;
        fill_index(&in[1 + j], uns ? 0 : -14, 14, false);
      }
      mx_p_gather p = {{2, ax}, {3, ss}};
      int32_t os[5] = {4, 3, ss[0], ss[1], ss[2]};
      ocase o = oc(dt, 5, os, EXACT);
      char lab[64];
      snprintf(lab, sizeof lab, "case %d", c);
      run_case(prim, &p, in, 3, &o, 1, false, dt, lab);
      for (int j = 0; j < 3; j++) ht_free(&in[j]);
    }
  }
}

static void test_gather_axis(int prim) {
  for (int t = 0; t < NDT; t++) {
    mx_dtype dt = (mx_dtype)t;
    for (int c = 0; c < 3; c++) {
      const int32_t ashape[2] = {6, 9}, ishape[2] = {6, 4};
      ht in[2];
      ht_make(&in[0], dt, 2, ashape, c == 1 ? V_T : V_C);
      ht_fill(&in[0], P_GEN);
      ht_make(&in[1], IDX_DTS[c], 2, ishape, c == 2 ? V_T : V_C);
      fill_index(&in[1], IDX_DTS[c] == MX_UINT8 ? 0 : -12, 12, false);
      mx_p_gather_axis p = {c == 2 ? 0 : 1};
      ocase o = oc(dt, 2, ishape, EXACT);
      run_case(prim, &p, in, 2, &o, 1, false, dt, c == 2 ? "axis 0" : "axis 1");
      ht_free(&in[0]);
      ht_free(&in[1]);
    }
  }
}

static void test_scatter(int prim) {
  static const char *const RN[5] = {"assign", "sum", "prod", "max", "min"};
  static const int RK[5] = {-1, MX_REDUCE_SUM, MX_REDUCE_PROD, MX_REDUCE_MAX, MX_REDUCE_MIN};
  for (int r = 0; r < 5; r++) {
    for (int t = 0; t < NDT; t++) {
      mx_dtype dt = (mx_dtype)t;
      profile pr = RK[r] == MX_REDUCE_SUM ? P_POS : (RK[r] == MX_REDUCE_PROD ? P_PROD : P_GEN);
      tol tl = RK[r] == MX_REDUCE_SUM || RK[r] == MX_REDUCE_PROD ? tol_math(dt) : EXACT;
      if (dt == MX_FLOAT16 || dt == MX_BFLOAT16) tl.rtol *= 4;
      for (int c = 0; c < 2; c++) {
        const int32_t ashape[2] = {10, 7}, ishape[1] = {c ? 10 : 24};
        const int32_t ushape[3] = {ishape[0], 1, c ? 3 : 7};
        int32_t ax[1] = {0};
        ht in[3];
        ht_make(&in[0], dt, 2, ashape, c ? V_T : V_C);
        ht_fill(&in[0], pr);
        ht_make(&in[1], IDX_DTS[c], 1, ishape, V_C);
        if (RK[r] < 0) fill_index(&in[1], 0, 0, true); /* unique targets: order-free */
        else fill_index(&in[1], -13, 12, false);
        if (RK[r] < 0 && c == 0) /* drop some: out of range after the wrap */
          for (int i = 10; i < 24; i++) put(in[1].dt, in[1].host + i * esz(in[1].dt), 30 + i, 0);
        ht_make(&in[2], dt, 3, ushape, c ? V_S : V_C);
        ht_fill(&in[2], pr);
        mx_p_scatter p = {RK[r], {1, ax}};
        ocase o = oc(dt, 2, ashape, tl);
        char lab[64];
        snprintf(lab, sizeof lab, "%s case %d", RN[r], c);
        run_case(prim, &p, in, 3, &o, 1, false, dt, lab);
        for (int j = 0; j < 3; j++) ht_free(&in[j]);
      }
    }
  }
}

static void test_scatter_axis(int prim) {
  static const int RK[5] = {-1, MX_REDUCE_SUM, MX_REDUCE_PROD, MX_REDUCE_MAX, MX_REDUCE_MIN};
  for (int r = 0; r < 5; r++) {
    for (int t = 0; t < NDT; t++) {
      mx_dtype dt = (mx_dtype)t;
      profile pr = RK[r] == MX_REDUCE_SUM ? P_POS : (RK[r] == MX_REDUCE_PROD ? P_PROD : P_GEN);
      tol tl = RK[r] == MX_REDUCE_SUM || RK[r] == MX_REDUCE_PROD ? tol_math(dt) : EXACT;
      if (dt == MX_FLOAT16 || dt == MX_BFLOAT16) tl.rtol *= 4;
      const int32_t ashape[2] = {6, 9}, ishape[2] = {6, RK[r] < 0 ? 9 : 20};
      ht in[3];
      ht_make(&in[0], dt, 2, ashape, V_C);
      ht_fill(&in[0], pr);
      ht_make(&in[1], MX_INT32, 2, ishape, V_C);
      if (RK[r] < 0) { /* a permutation of each row */
        for (int i = 0; i < 6; i++) {
          int32_t *row = (int32_t *)in[1].host + i * 9;
          for (int k = 0; k < 9; k++) row[k] = k - (k % 3 == 0 ? 9 : 0);
          for (int k = 8; k > 0; k--) {
            int j = (int)(rng_u64() % (uint64_t)(k + 1));
            int32_t tmp = row[k]; row[k] = row[j]; row[j] = tmp;
          }
        }
      } else {
        fill_index(&in[1], -11, 11, false);
      }
      ht_make(&in[2], dt, 2, ishape, V_T);
      ht_fill(&in[2], pr);
      mx_p_scatter_axis p = {RK[r], 1};
      ocase o = oc(dt, 2, ashape, tl);
      run_case(prim, &p, in, 3, &o, 1, false, dt, RK[r] < 0 ? "assign" : "reduce");
      for (int j = 0; j < 3; j++) ht_free(&in[j]);
    }
  }
}

static void test_dynamic_slice(int prim) {
  bool upd = prim == MX_PRIM_DYNAMIC_SLICE_UPDATE;
  static const int64_t STARTS[4][2] = {{2, 1}, {-3, -2}, {9, 5}, {-40, 0}};
  for (int t = 0; t < NDT; t++) {
    mx_dtype dt = (mx_dtype)t;
    for (int c = 0; c < 4; c++) {
      const int32_t ashape[3] = {10, 8, 6}, wshape[3] = {4, 8, 3}, sshape[1] = {2};
      int32_t ax[2] = {0, 2};
      ht in[3];
      int ni = 0;
      ht_make(&in[ni], dt, 3, ashape, c == 1 ? V_T : (c == 2 ? V_N : V_C));
      ht_fill(&in[ni++], P_GEN);
      if (upd) {
        ht_make(&in[ni], dt, 3, wshape, c == 3 ? V_S : V_C);
        ht_fill(&in[ni++], P_GEN);
      }
      ht_make(&in[ni], IDX_DTS[c], 1, sshape, V_C);
      for (int j = 0; j < 2; j++) {
        int64_t v = STARTS[c][j];
        if ((IDX_DTS[c] == MX_UINT8 || IDX_DTS[c] == MX_UINT64) && v < 0) v = -v;
        put(in[ni].dt, in[ni].host + j * esz(in[ni].dt), (double)v, 0);
      }
      ni++;
      char lab[64];
      snprintf(lab, sizeof lab, "starts case %d", c);
      if (upd) {
        mx_p_dynamic_slice_update p = {{2, ax}};
        ocase o = oc(dt, 3, ashape, EXACT);
        run_case(prim, &p, in, ni, &o, 1, false, dt, lab);
      } else {
        int32_t ss[3] = {4, 8, 3};
        mx_p_dynamic_slice p = {{2, ax}, {3, ss}};
        ocase o = oc(dt, 3, wshape, EXACT);
        run_case(prim, &p, in, ni, &o, 1, false, dt, lab);
      }
      for (int j = 0; j < ni; j++) ht_free(&in[j]);
    }
  }
}

/* ---------------------------------------------------------------- scan */

static const red_case SCAN_CASES[] = {
    {2, {37, 1000}, 1, {1}, V_C, "rows 37x1000 ax1"},
    {2, {37, 1000}, 1, {0}, V_C, "cols 37x1000 ax0"},
    {1, {5000}, 1, {0}, V_N, "one long row negative stride"},
    {3, {4, 6, 300}, 1, {2}, V_T, "transposed last"},
    {2, {3000, 20}, 1, {1}, V_S, "many rows stride2"},
    {2, {3, 7}, 1, {1}, V_C, "short"},
    {2, {0, 7}, 1, {1}, V_C, "empty"},
};

static void test_scan(int prim) {
  static const char *const KN[5] = {"cumsum", "cumprod", "cummin", "cummax", "logcumsumexp"};
  for (int kind = 0; kind < 5; kind++) {
    for (int t = 0; t < NDT; t++) {
      mx_dtype dt = (mx_dtype)t;
      profile pr = kind == 1 ? P_PROD : (kind == 0 ? P_POS : P_GEN);
      tol tl = kind == 2 || kind == 3 ? EXACT : tol_math(dt);
      if (kind != 2 && kind != 3) {
        if (dt == MX_FLOAT32 || dt == MX_COMPLEX64) tl = (tol){2e-4, 1e-5};
        if (dt == MX_FLOAT64) tl = (tol){1e-10, 1e-12};
        if (dt == MX_FLOAT16 || dt == MX_BFLOAT16) tl.rtol *= 4;
      }
      for (int c = 0; c < (int)(sizeof SCAN_CASES / sizeof SCAN_CASES[0]); c++) {
        for (int f = 0; f < 4; f++) {
          const red_case *rc = &SCAN_CASES[c];
          if (f != 0 && f != 3 && c != 0 && c != 2) continue;
          /* long complex products overflow: inf/NaN patterns depend on the combine order */
          if (kind == 1 && dt == MX_COMPLEX64 && rc->shape[rc->axes[0]] > 50) continue;
          ht in;
          ht_make(&in, dt, rc->ndim, rc->shape, rc->k);
          ht_fill(&in, pr);
          mx_p_scan p = {kind, rc->axes[0], (f & 1) != 0, (f & 2) == 0};
          ocase o = oc(dt, rc->ndim, rc->shape, tl);
          char lab[128];
          snprintf(lab, sizeof lab, "%s %s%s%s", KN[kind], rc->name, p.reverse ? " reverse" : "",
                   p.inclusive ? "" : " exclusive");
          run_case(prim, &p, &in, 1, &o, 1, false, dt, lab);
          ht_free(&in);
        }
      }
    }
  }
}

/* ---------------------------------------------------------------- sort, searchsorted */

static const red_case SORT_CASES[] = {
    {2, {37, 1000}, 1, {1}, V_C, "rows 37x1000 ax1"},
    {2, {37, 1000}, 1, {0}, V_C, "cols 37x1000 ax0"},
    {1, {5000}, 1, {0}, V_N, "one row negative stride"},
    {3, {4, 6, 33}, 1, {2}, V_T, "transposed last"},
    {2, {3, 1}, 1, {1}, V_C, "single"},
    {2, {0, 7}, 1, {1}, V_C, "empty"},
};

/* Sort and ArgSort (Partition orders the non-kth elements differently on each side: not
 * compared here). */
static void test_sort(int prim) {
  bool idx = prim == MX_PRIM_ARGSORT;
  for (int t = 0; t < NDT; t++) {
    mx_dtype dt = (mx_dtype)t;
    for (int c = 0; c < (int)(sizeof SORT_CASES / sizeof SORT_CASES[0]); c++) {
      for (int pi = 0; pi < 2; pi++) {
        const red_case *rc = &SORT_CASES[c];
        ht in;
        ht_make(&in, dt, rc->ndim, rc->shape, rc->k);
        ht_fill(&in, pi ? P_SPECIAL : P_GEN); /* P_GEN integers repeat: ties */
        mx_p_sort p = {rc->axes[0]};
        ocase o = oc(idx ? MX_UINT32 : dt, rc->ndim, rc->shape, EXACT);
        char lab[96];
        snprintf(lab, sizeof lab, "%s%s", rc->name, pi ? " special" : "");
        run_case(prim, &p, &in, 1, &o, 1, false, dt, lab);
        ht_free(&in);
      }
    }
  }
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : (x > y ? 1 : 0);
}

static void test_search_sorted(int prim) {
  for (int t = 0; t < NDT; t++) {
    mx_dtype dt = (mx_dtype)t;
    if (dt == MX_COMPLEX64) continue; /* sorted keys below are real */
    for (int right = 0; right < 2; right++) {
      const int32_t as[1] = {300}, vs[2] = {17, 23};
      ht in[2];
      ht_make(&in[0], dt, 1, as, right ? V_S : V_C);
      double *v = (double *)malloc(sizeof(double) * 300);
      for (int i = 0; i < 300; i++) v[i] = rand_real(dt, P_GEN);
      qsort(v, 300, sizeof(double), cmp_double);
      int64_t st = in[0].strides[0];
      for (int i = 0; i < 300; i++) put(dt, in[0].host + (in[0].off + i * st) * esz(dt), v[i], 0);
      free(v);
      ht_make(&in[1], dt, 2, vs, right ? V_T : V_C);
      ht_fill(&in[1], P_GEN);
      mx_p_search_sorted p = {right != 0};
      ocase o = oc(MX_UINT32, 2, vs, EXACT);
      run_case(prim, &p, in, 2, &o, 1, false, dt, right ? "right" : "left");
      ht_free(&in[0]);
      ht_free(&in[1]);
    }
  }
}

static void test_masked_scatter(int prim) {
  for (int t = 0; t < NDT; t++) {
    mx_dtype dt = (mx_dtype)t;
    for (int c = 0; c < 3; c++) {
      const int32_t ashape[2] = {6, 9}, sshape[1] = {c == 2 ? 5 : 60};
      ht in[3];
      ht_make(&in[0], dt, 2, ashape, c == 1 ? V_T : V_C);
      ht_fill(&in[0], P_GEN);
      ht_make(&in[1], MX_BOOL, 2, ashape, c == 1 ? V_T : V_C);
      ht_fill(&in[1], P_GEN);
      ht_make(&in[2], dt, 1, sshape, c == 1 ? V_S : V_C);
      ht_fill(&in[2], P_GEN);
      ocase o = oc(dt, 2, ashape, EXACT);
      run_case(prim, NULL, in, 3, &o, 1, false, dt,
               c == 2 ? "short source (both reject)" : (c ? "strided" : "contiguous"));
      for (int j = 0; j < 3; j++) ht_free(&in[j]);
    }
  }
}

/* ---------------------------------------------------------------- matmul */

typedef struct mm_case {
  int nd;
  int32_t a[MAXD], b[MAXD], o[MAXD];
  vkind ka, kb;
  const char *name;
} mm_case;

static const mm_case MATMUL_CASES[] = {
    {2, {64, 96}, {96, 80}, {64, 80}, V_C, V_C, "64x96 @ 96x80"},
    {2, {64, 96}, {96, 80}, {64, 80}, V_T, V_T, "transposed both"},
    {2, {33, 17}, {17, 40}, {33, 40}, V_C, V_T, "transposed B"},
    {3, {3, 33, 17}, {3, 17, 40}, {3, 33, 40}, V_C, V_C, "batched 3"},
    {4, {2, 1, 5, 7}, {1, 3, 7, 4}, {2, 3, 5, 4}, V_C, V_C, "broadcast batch"},
    {3, {4, 10, 8}, {1, 8, 6}, {4, 10, 6}, V_C, V_C, "shared B (folded)"},
    {3, {4, 10, 8}, {4, 8, 6}, {4, 10, 6}, V_TL, V_TL, "column-major batch A, B"},
    {3, {4, 10, 8}, {4, 8, 6}, {4, 10, 6}, V_T, V_C, "reversed A (copied)"},
    {2, {20, 30}, {30, 10}, {20, 10}, V_S, V_S, "stride2 (copied)"},
    {2, {5, 0}, {0, 4}, {5, 4}, V_C, V_C, "K = 0"},
    {2, {1, 50}, {50, 1}, {1, 1}, V_C, V_C, "1x50 @ 50x1"},
    {2, {7, 13}, {13, 9}, {7, 9}, V_N, V_C, "negative A (copied)"},
    {4, {2, 3, 6, 5}, {2, 3, 5, 7}, {2, 3, 6, 7}, V_TL, V_C, "4-d column-major A"},
    {4, {2, 3, 6, 5}, {1, 3, 5, 7}, {2, 3, 6, 7}, V_C, V_TL, "4-d shared-batch B"},
};

static void test_matmul(int prim) {
  for (int t = 0; t < NDT; t++) {
    mx_dtype dt = (mx_dtype)t;
    bool inexact = mx_dtype_is_inexact(dt);
    int ncase = inexact ? (int)(sizeof MATMUL_CASES / sizeof MATMUL_CASES[0]) : 1;
    for (int c = 0; c < ncase; c++) {
      const mm_case *mc = &MATMUL_CASES[c];
      ht in[2];
      ht_make(&in[0], dt, mc->nd, mc->a, mc->ka);
      ht_make(&in[1], dt, mc->nd, mc->b, mc->kb);
      ht_fill(&in[0], P_UNIT);
      ht_fill(&in[1], P_UNIT);
      double K = mc->a[mc->nd - 1];
      tol tl;
      switch (dt) {
        case MX_FLOAT16: tl = (tol){2e-3, 2e-3}; break;
        case MX_BFLOAT16: tl = (tol){1.6e-2, 1.6e-2}; break;
        case MX_FLOAT64: tl = (tol){1e-12, 1e-13 * K}; break;
        default: tl = (tol){1e-5, 1e-6 * K}; break;
      }
      ocase o = oc(dt, mc->nd, mc->o, tl);
      run_case(prim, NULL, in, 2, &o, 1, false, dt, mc->name);
      ht_free(&in[0]);
      ht_free(&in[1]);
    }
  }
}

/* ---------------------------------------------------------------- random bits */

static void test_random(int prim) {
  struct {
    int kd;
    int32_t ks[MAXD];
    vkind kk;
    int width, od;
    int32_t os[MAXD];
    const char *name;
  } cases[] = {
      {1, {2}, V_C, 4, 1, {1000}, "1 key, 1000 x u32"},
      {1, {2}, V_C, 1, 1, {4099}, "1 key, 4099 x u8 (odd words)"},
      {1, {2}, V_C, 2, 1, {7}, "1 key, 7 x u16"},
      {2, {5, 2}, V_C, 4, 2, {5, 33}, "5 keys, 33 x u32"},
      {2, {5, 2}, V_T, 1, 2, {5, 9}, "5 strided keys, 9 x u8"},
      {3, {3, 4, 2}, V_C, 2, 3, {3, 4, 1}, "3x4 keys, 1 x u16"},
      {2, {2, 2}, V_C, 4, 2, {2, 100000}, "2 keys, 100000 x u32"},
  };
  for (int c = 0; c < (int)(sizeof cases / sizeof cases[0]); c++) {
    ht key;
    ht_make(&key, MX_UINT32, cases[c].kd, cases[c].ks, cases[c].kk);
    ht_fill(&key, P_BITS);
    mx_dtype odt = cases[c].width == 1 ? MX_UINT8 : (cases[c].width == 2 ? MX_UINT16 : MX_UINT32);
    mx_p_random_bits p = {cases[c].width};
    ocase o = oc(odt, cases[c].od, cases[c].os, EXACT);
    run_case(prim, &p, &key, 1, &o, 1, false, odt, cases[c].name);
    ht_free(&key);
  }
}

/* ---------------------------------------------------------------- slice update */

static int64_t slice_n(int64_t st, int64_t sp, int64_t step) {
  if (step > 0) return sp > st ? (sp - st + step - 1) / step : 0;
  return st > sp ? (st - sp - step - 1) / -step : 0;
}

static void test_slice_update(int prim) {
  const int32_t s[3] = {8, 10, 12};
  struct {
    int32_t st[3], sp[3], sd[3];
    bool bcast, donate;
    vkind ks;
    const char *name;
  } cases[] = {
      {{1, 0, 2}, {7, 10, 12}, {2, 3, 1}, false, false, V_C, "[1:7:2, ::3, 2:]"},
      {{7, 9, 0}, {0, -1, 12}, {-2, -1, 4}, false, false, V_T, "negative steps, transposed src"},
      {{1, 0, 2}, {7, 10, 12}, {2, 3, 1}, true, false, V_C, "broadcast update"},
      {{0, 2, 0}, {8, 8, 12}, {1, 1, 1}, false, true, V_C, "donated"},
      {{3, 3, 3}, {3, 5, 5}, {1, 1, 1}, false, false, V_S, "empty region"},
  };
  for (int t = 0; t < NDT; t++) {
    mx_dtype dt = (mx_dtype)t;
    for (int c = 0; c < (int)(sizeof cases / sizeof cases[0]); c++) {
      int32_t rs[3];
      for (int d = 0; d < 3; d++) rs[d] = (int32_t)slice_n(cases[c].st[d], cases[c].sp[d], cases[c].sd[d]);
      if (cases[c].bcast) {
        rs[0] = 1;
        rs[2] = 1;
      }
      ht in[2];
      ht_make(&in[0], dt, 3, s, cases[c].donate ? V_C : cases[c].ks);
      ht_make(&in[1], dt, 3, rs, V_C);
      ht_fill(&in[0], P_BITS);
      ht_fill(&in[1], P_BITS);
      mx_p_slice_update p = {{3, cases[c].st}, {3, cases[c].sp}, {3, cases[c].sd}};
      ocase o = oc(dt, 3, s, EXACT);
      run_case(prim, &p, in, 2, &o, 1, cases[c].donate, dt, cases[c].name);
      ht_free(&in[0]);
      ht_free(&in[1]);
    }
  }
}

/* ---------------------------------------------------------------- main */

int main(void) {
  int ndev = 0;
  cudaError_t e = cudaGetDeviceCount(&ndev);
  if (e != cudaSuccess || ndev == 0) {
    printf("SKIP: no CUDA device (%s); the CPU-vs-CUDA kernel comparison did not run.\n",
           e != cudaSuccess ? cudaGetErrorString(e) : "0 devices");
    return 0;
  }
  const char *env = getenv("MX_TEST_SEED");
  if (env) g_seed = strtoull(env, NULL, 0);
  g_rng = g_seed;
  struct cudaDeviceProp prop;
  cudaGetDeviceProperties(&prop, 0);
  cudaSetDevice(0);
  cudaStreamCreateWithFlags(&g_stream, cudaStreamNonBlocking);
  printf("CPU vs CUDA kernels on %s (sm_%d%d), seed %llu\n", prop.name, prop.major, prop.minor,
         (unsigned long long)g_seed);

  bool tested[MX_PRIM_COUNT] = {false};
#define T_UNARY(NAME, stem)                                                                  \
  if (MX_PRIM_##NAME == MX_PRIM_COPY || MX_PRIM_##NAME == MX_PRIM_ASTYPE)                   \
    test_copy_like(MX_PRIM_##NAME);                                                          \
  else                                                                                       \
    test_unary(MX_PRIM_##NAME, #stem);                                                       \
  tested[MX_PRIM_##NAME] = true;
#define T_BINARY(NAME, stem) test_binary(MX_PRIM_##NAME, false); tested[MX_PRIM_##NAME] = true;
#define T_COMPARE(NAME, stem) test_binary(MX_PRIM_##NAME, true); tested[MX_PRIM_##NAME] = true;
#define T_TERNARY(NAME, stem) test_ternary(MX_PRIM_##NAME); tested[MX_PRIM_##NAME] = true;
  MX_UNARY_PRIMS(T_UNARY)
  MX_BINARY_PRIMS(T_BINARY)
  MX_COMPARE_PRIMS(T_COMPARE)
  MX_TERNARY_PRIMS(T_TERNARY)
  test_reduce(MX_PRIM_REDUCE);
  tested[MX_PRIM_REDUCE] = true;
  test_matmul(MX_PRIM_MATMUL);
  tested[MX_PRIM_MATMUL] = true;
  test_random(MX_PRIM_RANDOM_BITS);
  tested[MX_PRIM_RANDOM_BITS] = true;
  test_slice_update(MX_PRIM_SLICE_UPDATE);
  tested[MX_PRIM_SLICE_UPDATE] = true;
  test_depends(MX_PRIM_DEPENDS);
  tested[MX_PRIM_DEPENDS] = true;
  test_arange(MX_PRIM_ARANGE);
  tested[MX_PRIM_ARANGE] = true;
  test_arg_reduce(MX_PRIM_ARG_REDUCE);
  tested[MX_PRIM_ARG_REDUCE] = true;
  test_softmax(MX_PRIM_SOFTMAX);
  tested[MX_PRIM_SOFTMAX] = true;
  test_softmax(MX_PRIM_LOGSUMEXP);
  tested[MX_PRIM_LOGSUMEXP] = true;
  test_scan(MX_PRIM_SCAN);
  tested[MX_PRIM_SCAN] = true;
  test_sort(MX_PRIM_SORT);
  tested[MX_PRIM_SORT] = true;
  test_sort(MX_PRIM_ARGSORT);
  tested[MX_PRIM_ARGSORT] = true;
  test_search_sorted(MX_PRIM_SEARCH_SORTED);
  tested[MX_PRIM_SEARCH_SORTED] = true;
  test_masked_scatter(MX_PRIM_MASKED_SCATTER);
  tested[MX_PRIM_MASKED_SCATTER] = true;
  test_gather(MX_PRIM_GATHER);
  tested[MX_PRIM_GATHER] = true;
  test_gather_axis(MX_PRIM_GATHER_AXIS);
  tested[MX_PRIM_GATHER_AXIS] = true;
  test_scatter(MX_PRIM_SCATTER);
  tested[MX_PRIM_SCATTER] = true;
  test_scatter_axis(MX_PRIM_SCATTER_AXIS);
  tested[MX_PRIM_SCATTER_AXIS] = true;
  test_dynamic_slice(MX_PRIM_DYNAMIC_SLICE);
  tested[MX_PRIM_DYNAMIC_SLICE] = true;
  test_dynamic_slice(MX_PRIM_DYNAMIC_SLICE_UPDATE);
  tested[MX_PRIM_DYNAMIC_SLICE_UPDATE] = true;
  const int views[] = {MX_PRIM_RESHAPE, MX_PRIM_TRANSPOSE, MX_PRIM_BROADCAST, MX_PRIM_SLICE,
                       MX_PRIM_STOP_GRADIENT};
  for (int i = 0; i < 5; i++) {
    test_views(views[i]);
    tested[views[i]] = true;
  }
#define T_BINARY_TWO(NAME, stem) test_binary_two(MX_PRIM_##NAME); tested[MX_PRIM_##NAME] = true;
  MX_BINARY_TWO_PRIMS(T_BINARY_TWO)
  const int layout[] = {MX_PRIM_AS_STRIDED, MX_PRIM_CONTIGUOUS, MX_PRIM_VIEW,
                        MX_PRIM_CONCATENATE, MX_PRIM_PAD, MX_PRIM_ADDMM};
  for (int i = 0; i < 6; i++) {
    test_layout(layout[i]);
    tested[layout[i]] = true;
  }

  /* the table */
  printf("\n%-20s", "primitive");
  for (int t = 0; t < NDT; t++) printf(" %4s", SFX[t]);
  printf("  cases\n");
  static const char mark_ch[5] = {' ', '.', '-', 'X', '!'};
  for (int p = 0; p < MX_PRIM_COUNT; p++) {
    printf("%-20s", mx_prim_name(p));
    for (int t = 0; t < NDT; t++) printf(" %4c", mark_ch[g_stat[p][t]]);
    printf("  %d%s\n", g_ncases[p], mx_cuda_kernel(p) ? "" : "  (no CUDA kernel)");
  }
  printf("legend: . match  - rejected by both  X mismatch/fault  ! only one side rejected\n"
         "        (columns are input dtypes; AsType rows cover every destination dtype)\n");
  printf("\nprimitives without a CUDA kernel:");
  int nmiss = 0;
  for (int p = 0; p < MX_PRIM_COUNT; p++)
    if (!mx_cuda_kernel(p)) printf("%s %s", nmiss++ ? "," : "", mx_prim_name(p));
  printf("%s\n", nmiss ? "" : " none");
  printf("primitives without harness cases:");
  int nun = 0;
  for (int p = 0; p < MX_PRIM_COUNT; p++)
    if (!tested[p]) printf("%s %s", nun++ ? "," : "", mx_prim_name(p));
  printf("%s\n", nun ? "" : " none");
  cudaStreamDestroy(g_stream);
  if (g_fail_total) {
    printf("FAILED: %d of %d cases; seed %llu (rerun with MX_TEST_SEED=%llu)\n", g_fail_total,
           g_cases_total, (unsigned long long)g_seed, (unsigned long long)g_seed);
    return 1;
  }
  printf("all %d cases match (seed %llu)\n", g_cases_total, (unsigned long long)g_seed);
  return 0;
}
