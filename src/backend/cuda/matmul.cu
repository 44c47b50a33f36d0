/* matmul.cu: the Matmul primitive on CUDA through cuBLASLt, the twin of cpu/matmul.c:
 * float32 (TF32 off unless MLX_ENABLE_TF32=1), float16/bfloat16 (float32 compute), float64
 * and complex64. Row-major (..., M, K) @ (..., K, N) is computed as the column-major
 * C^T = B^T A^T; transposed operands go in as they are, a shared right operand folds the
 * batch into M, the batch becomes strided-batched calls, and an operand no layout describes
 * is first copied to scratch. One Lt handle per device; descriptors and the heuristic's
 * algorithm are cached per shape. */
#include <cublasLt.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "elementwise.cuh"

#define MM_MAX_DEVICES 64
#define MM_CACHE 32
#define MM_WORKSPACE_MAX ((uint64_t)32 << 20)

static pthread_mutex_t mm_lock = PTHREAD_MUTEX_INITIALIZER; /* handles, cache, enqueues */
static cublasLtHandle_t mm_handles[MM_MAX_DEVICES];

typedef struct mm_key {
  int32_t dev, dtype, ta, tb, tf32, ala, alb, alc;
  int64_t m, n, k, lda, ldb, ldc, batch, sa, sb, sc;
} mm_key;

typedef struct mm_entry {
  bool used;
  mm_key key;
  cublasLtMatmulDesc_t op;
  cublasLtMatrixLayout_t la, lb, lc;
  cublasLtMatmulAlgo_t algo;
  size_t ws;
} mm_entry;

static mm_entry mm_cache[MM_CACHE];
static int mm_next; /* round-robin victim */

static bool mm_tf32(void) {
  static int v = -1;
  if (v < 0) {
    const char *e = getenv("MLX_ENABLE_TF32");
    v = e && strcmp(e, "1") == 0;
  }
  return v == 1;
}

static int lt_fail(const char *what, cublasStatus_t s) {
  return mx_fail_int(MX_ERUNTIME, "[matmul] cuBLASLt %s failed: %s", what,
                     cublasLtGetStatusString(s));
}

static void mm_entry_free(mm_entry *e) {
  if (!e->used) return;
  cublasLtMatrixLayoutDestroy(e->la);
  cublasLtMatrixLayoutDestroy(e->lb);
  cublasLtMatrixLayoutDestroy(e->lc);
  cublasLtMatmulDescDestroy(e->op);
  e->used = false;
}

/* Alignment in bytes (power of two, <= 256) that p and every offset in offs[] keep. */
static uint32_t mm_align(const void *p, const int64_t *offs, int n) {
  uint64_t a = (uint64_t)(uintptr_t)p;
  for (int i = 0; i < n; i++) a |= (uint64_t)(offs[i] < 0 ? -offs[i] : offs[i]);
  uint32_t al = 256;
  while (al > 1 && (a % al) != 0) al >>= 1;
  return al;
}

static int mm_types(mx_dtype t, cudaDataType_t *dt, cublasComputeType_t *ct, cudaDataType_t *st) {
  switch (t) {
    case MX_FLOAT32:
      *dt = CUDA_R_32F;
      *ct = mm_tf32() ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
      *st = CUDA_R_32F;
      return 0;
    case MX_FLOAT16: *dt = CUDA_R_16F; *ct = CUBLAS_COMPUTE_32F; *st = CUDA_R_32F; return 0;
    case MX_BFLOAT16: *dt = CUDA_R_16BF; *ct = CUBLAS_COMPUTE_32F; *st = CUDA_R_32F; return 0;
    case MX_FLOAT64: *dt = CUDA_R_64F; *ct = CUBLAS_COMPUTE_64F; *st = CUDA_R_64F; return 0;
    case MX_COMPLEX64: *dt = CUDA_C_32F; *ct = CUBLAS_COMPUTE_32F; *st = CUDA_C_32F; return 0;
    default: return -1;
  }
}

static int mm_layout_make(cublasLtMatrixLayout_t *l, cudaDataType_t dt, int64_t rows,
                          int64_t cols, int64_t ld, int64_t batch, int64_t stride) {
  cublasStatus_t s = cublasLtMatrixLayoutCreate(l, dt, (uint64_t)rows, (uint64_t)cols, ld);
  if (s != CUBLAS_STATUS_SUCCESS) return lt_fail("layout", s);
  if (batch > 1) {
    int32_t b = (int32_t)batch;
    cublasLtMatrixLayoutSetAttribute(*l, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, &b, sizeof b);
    cublasLtMatrixLayoutSetAttribute(*l, CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET, &stride,
                                     sizeof stride);
  }
  return 0;
}

/* The cached (or new) descriptors and algorithm for key; called under mm_lock. */
static mm_entry *mm_plan(const mm_key *k, cublasLtHandle_t h) {
  for (int i = 0; i < MM_CACHE; i++)
    if (mm_cache[i].used && memcmp(&mm_cache[i].key, k, sizeof *k) == 0) return &mm_cache[i];
  mm_entry *e = &mm_cache[mm_next];
  mm_next = (mm_next + 1) % MM_CACHE;
  mm_entry_free(e);
  cudaDataType_t dt = CUDA_R_32F, st = CUDA_R_32F;
  cublasComputeType_t ct = CUBLAS_COMPUTE_32F;
  mm_types((mx_dtype)k->dtype, &dt, &ct, &st);
  cublasStatus_t s = cublasLtMatmulDescCreate(&e->op, ct, st);
  if (s != CUBLAS_STATUS_SUCCESS) {
    lt_fail("descriptor", s);
    return nullptr;
  }
  cublasOperation_t ta = k->ta ? CUBLAS_OP_T : CUBLAS_OP_N, tb = k->tb ? CUBLAS_OP_T : CUBLAS_OP_N;
  cublasLtMatmulDescSetAttribute(e->op, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof ta);
  cublasLtMatmulDescSetAttribute(e->op, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof tb);
  /* Lt A (our B^T): m x k; Lt B (our A^T): k x n; C: m x n, all column-major */
  int64_t ar = k->ta ? k->k : k->m, ac = k->ta ? k->m : k->k;
  int64_t br = k->tb ? k->n : k->k, bc = k->tb ? k->k : k->n;
  int rc = mm_layout_make(&e->la, dt, ar, ac, k->lda, k->batch, k->sa);
  if (rc == 0) rc = mm_layout_make(&e->lb, dt, br, bc, k->ldb, k->batch, k->sb);
  if (rc == 0) rc = mm_layout_make(&e->lc, dt, k->m, k->n, k->ldc, k->batch, k->sc);
  if (rc < 0) {
    cublasLtMatmulDescDestroy(e->op); /* layouts made so far leak only on a library failure */
    return nullptr;
  }
  cublasLtMatmulPreference_t pref;
  s = cublasLtMatmulPreferenceCreate(&pref);
  if (s != CUBLAS_STATUS_SUCCESS) {
    lt_fail("preference", s);
    e->used = true;
    e->key = *k;
    mm_entry_free(e);
    return nullptr;
  }
  uint64_t wsmax = MM_WORKSPACE_MAX;
  uint32_t al[3] = {(uint32_t)k->ala, (uint32_t)k->alb, (uint32_t)k->alc};
  cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &wsmax,
                                       sizeof wsmax);
  cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, &al[0],
                                       sizeof al[0]);
  cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, &al[1],
                                       sizeof al[1]);
  cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, &al[2],
                                       sizeof al[2]);
  cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, &al[2],
                                       sizeof al[2]);
  cublasLtMatmulHeuristicResult_t res;
  int nres = 0;
  s = cublasLtMatmulAlgoGetHeuristic(h, e->op, e->la, e->lb, e->lc, e->lc, pref, 1, &res, &nres);
  cublasLtMatmulPreferenceDestroy(pref);
  e->used = true;
  e->key = *k;
  if (s != CUBLAS_STATUS_SUCCESS || nres < 1) {
    mm_entry_free(e);
    if (s != CUBLAS_STATUS_SUCCESS) lt_fail("heuristic", s);
    else
      mx_fail(MX_ERUNTIME, "[matmul] cuBLASLt has no algorithm for %s (%lld x %lld x %lld).",
              mx_dtype_name((mx_dtype)k->dtype), (long long)k->m, (long long)k->n,
              (long long)k->k);
    return nullptr;
  }
  e->algo = res.algo;
  e->ws = res.workspaceSize;
  return e;
}

/* How a rows x cols view with element strides (sr, sc) is read: 0 row-major with leading
 * dim *ld, 1 column-major with *ld, -1 needs a copy. */
static int mm_layout(int64_t rows, int64_t cols, int64_t sr, int64_t sc, int64_t *ld) {
  if ((cols == 1 || sc == 1) && (rows == 1 || sr >= cols)) {
    *ld = rows == 1 ? (cols > 1 ? cols : 1) : sr;
    return 0;
  }
  if ((rows == 1 || sr == 1) && (cols == 1 || sc >= rows)) {
    *ld = cols == 1 ? (rows > 1 ? rows : 1) : sc;
    return 1;
  }
  return -1;
}

/* One operand as cuBLASLt reads it. */
typedef struct mm_operand {
  const char *ptr;
  int lay;        /* 0 row-major, 1 column-major */
  int64_t ld;
} mm_operand;

/* Enqueues C = A @ B (+ C when accumulate) for `batch` matrices spaced by (sa, sb, sc)
 * elements (our row-major view: A is M x K, B is K x N, C is M x N with rows ldc apart).
 * Called under mm_lock. */
static int mm_call(cublasLtHandle_t h, int dev, mx_dtype t, const mm_operand *A,
                   const mm_operand *B, char *C, int64_t ldc, bool accumulate, int64_t M,
                   int64_t N, int64_t K, int64_t batch, int64_t sa, int64_t sb, int64_t sc,
                   uint32_t ala, uint32_t alb, uint32_t alc, cudaStream_t q) {
  mm_key key;
  memset(&key, 0, sizeof key);
  key.dev = dev;
  key.dtype = (int32_t)t;
  key.tf32 = t == MX_FLOAT32 && mm_tf32();
  /* Lt A = our B^T (N x K): row-major B is that matrix column-major (N); column-major B is
   * B itself, transposed (T). Lt B = our A^T (K x M) likewise. */
  key.ta = B->lay == 1;
  key.tb = A->lay == 1;
  key.m = N;
  key.n = M;
  key.k = K;
  key.lda = B->ld;
  key.ldb = A->ld;
  key.ldc = ldc;
  key.batch = batch;
  key.sa = batch > 1 ? sb : 0;
  key.sb = batch > 1 ? sa : 0;
  key.sc = batch > 1 ? sc : 0;
  key.ala = (int32_t)alb;
  key.alb = (int32_t)ala;
  key.alc = (int32_t)alc;
  mm_entry *e = mm_plan(&key, h);
  if (!e) return -1;
  mxc_scratch_guard ws(q);
  if (e->ws && !ws.alloc(e->ws)) return -1;
  float one_f[2] = {1.0f, 0.0f}, zero_f[2] = {0.0f, 0.0f};
  double one_d = 1.0, zero_d = 0.0;
  const void *alpha = t == MX_FLOAT64 ? (const void *)&one_d : (const void *)one_f;
  const void *beta = accumulate ? alpha
                     : t == MX_FLOAT64 ? (const void *)&zero_d : (const void *)zero_f;
  cublasStatus_t s = cublasLtMatmul(h, e->op, alpha, B->ptr, e->la, A->ptr, e->lb, beta, C, e->lc,
                                    C, e->lc, &e->algo, ws.p, e->ws, q);
  if (s != CUBLAS_STATUS_SUCCESS) return lt_fail("matmul", s);
  return 0;
}

/* The handle of device dev, made on first use; called under mm_lock. NULL + error. */
static cublasLtHandle_t mm_handle(int dev) {
  if (dev < 0 || dev >= MM_MAX_DEVICES) {
    mx_fail(MX_EINVAL, "[matmul] Device index %d out of range.", dev);
    return nullptr;
  }
  if (!mm_handles[dev]) {
    cublasStatus_t s = cublasLtCreate(&mm_handles[dev]);
    if (s != CUBLAS_STATUS_SUCCESS) {
      mm_handles[dev] = nullptr;
      lt_fail("create", s);
      return nullptr;
    }
  }
  return mm_handles[dev];
}

extern "C" int mx_cuda_gemm(int dev, mx_dtype t, const void *a, bool a_colmajor, int64_t lda,
                            const void *b, bool b_colmajor, int64_t ldb, void *c, int64_t ldc,
                            bool accumulate, int64_t M, int64_t N, int64_t K, cudaStream_t q) {
  cudaDataType_t dt, st;
  cublasComputeType_t ct;
  if (mm_types(t, &dt, &ct, &st) < 0)
    return mx_fail_int(MX_ETYPE, "[matmul] Only inexact types are supported, got %s.",
                       mx_dtype_name(t));
  if (M == 0 || N == 0) return 0;
  int64_t esz = mx_dtype_size(t), offs[1];
  mm_operand A = {(const char *)a, a_colmajor ? 1 : 0, lda};
  mm_operand B = {(const char *)b, b_colmajor ? 1 : 0, ldb};
  offs[0] = lda * esz;
  uint32_t ala = mm_align(a, offs, 1);
  offs[0] = ldb * esz;
  uint32_t alb = mm_align(b, offs, 1);
  offs[0] = ldc * esz;
  uint32_t alc = mm_align(c, offs, 1);
  pthread_mutex_lock(&mm_lock);
  cublasLtHandle_t h = mm_handle(dev);
  int rc = h ? mm_call(h, dev, t, &A, &B, (char *)c, ldc, accumulate, M, N, K, 1, 0, 0, 0, ala,
                       alb, alc, q)
             : -1;
  pthread_mutex_unlock(&mm_lock);
  return rc;
}

/* A contiguous copy of operand x (its own shape) in scratch; strides written to str. */
static int mm_copy_contig(const mx_tensor *x, mxc_scratch_guard *g, int64_t *str, cudaStream_t q,
                          int dev) {
  if (!g->alloc((size_t)x->size * (size_t)mx_dtype_size(x->dtype))) return -1;
  int64_t s = 1;
  for (int d = x->ndim - 1; d >= 0; d--) {
    str[d] = s;
    s *= x->shape[d];
  }
  mx_tensor t = *x;
  t.data = g->p;
  t.strides = str;
  t.flags = 0;
  return mx_cuda_copy_strided(x, &t, q, dev);
}

extern "C" int mx_cuda_matmul(const mx_kernel_ctx *ctx, const mx_tensor *in, int n_in,
                              mx_tensor *out, int n_out) {
  if (n_in != 2 || n_out != 1)
    return mx_fail_int(MX_EINVAL, "[matmul] Expected 2 inputs and 1 output.");
  mx_tensor a = in[0], b = in[1];
  mx_dtype t = out->dtype;
  if (a.dtype != t || b.dtype != t)
    return mx_fail_int(MX_ETYPE, "[matmul] Inputs (%s, %s) and output (%s) dtypes differ.",
                       mx_dtype_name(a.dtype), mx_dtype_name(b.dtype), mx_dtype_name(t));
  cudaDataType_t dt, st;
  cublasComputeType_t ct;
  if (mm_types(t, &dt, &ct, &st) < 0)
    return mx_fail_int(MX_ETYPE, "[matmul] Only inexact types are supported, got %s.",
                       mx_dtype_name(t));
  int nd = out->ndim;
  if (nd < 2 || a.ndim != nd || b.ndim != nd)
    return mx_fail_int(MX_EINVAL, "[matmul] Operands must have the output's ndim (>= 2).");
  int64_t M = a.shape[nd - 2], K = a.shape[nd - 1], N = b.shape[nd - 1];
  if (b.shape[nd - 2] != K || out->shape[nd - 2] != M || out->shape[nd - 1] != N)
    return mx_fail_int(MX_EINVAL,
                       "[matmul] Shapes (..., %lld, %lld) @ (..., %d, %lld) do not match.",
                       (long long)M, (long long)K, b.shape[nd - 2], (long long)N);
  if (!mxc_is_row_contig(out))
    return mx_fail_int(MX_EINVAL, "[matmul] The output must be row-contiguous.");
  int nb = nd - 2;
  for (int d = 0; d < nb; d++) {
    int32_t n = out->shape[d];
    if ((a.shape[d] != n && a.shape[d] != 1) || (b.shape[d] != n && b.shape[d] != 1))
      return mx_fail_int(MX_EINVAL, "[matmul] Batch dim %d does not match.", d);
  }
  cudaStream_t q = (cudaStream_t)ctx->queue;
  int dev = ctx->device_index;
  if (out->size == 0) return 0;
  int esz = mx_dtype_size(t);
  if (K == 0) {
    MX_CUDA_CHECK("matmul", cudaMemsetAsync(out->data, 0, (size_t)out->size * (size_t)esz, q));
    return 0;
  }
  if (dev < 0 || dev >= MM_MAX_DEVICES)
    return mx_fail_int(MX_EINVAL, "[matmul] Device index %d out of range.", dev);

  /* operands cuBLASLt cannot read as they are are copied (their own shape) first */
  size_t sbytes = (size_t)(nd + 1) * 2 * sizeof(int64_t) + (size_t)(nb + 1) * 5 * sizeof(int64_t);
  int64_t *mem = (int64_t *)malloc(sbytes);
  if (!mem) return mx_fail_int(MX_ENOMEM, "[malloc] Unable to allocate %zu bytes.", sbytes);
  int64_t *astr = mem, *bstr = mem + nd + 1;
  int64_t *bshape = bstr + nd + 1, *ba = bshape + nb + 1, *bb = ba + nb + 1, *bc = bb + nb + 1;
  int64_t *tmp = bc + nb + 1;
  mxc_scratch_guard ga(q), gb(q);
  int rc = 0;
  mm_operand A, B;
  int64_t ld;
  if (mm_layout(M, K, a.strides[nd - 2], a.strides[nd - 1], &ld) < 0) {
    rc = mm_copy_contig(&in[0], &ga, astr, q, dev);
    a.data = ga.p;
    a.strides = astr;
  }
  if (rc == 0 && mm_layout(K, N, b.strides[nd - 2], b.strides[nd - 1], &ld) < 0) {
    rc = mm_copy_contig(&in[1], &gb, bstr, q, dev);
    b.data = gb.p;
    b.strides = bstr;
  }
  if (rc < 0) {
    free(mem);
    return -1;
  }
  A.ptr = (const char *)a.data;
  A.lay = mm_layout(M, K, a.strides[nd - 2], a.strides[nd - 1], &A.ld);
  B.ptr = (const char *)b.data;
  B.lay = mm_layout(K, N, b.strides[nd - 2], b.strides[nd - 1], &B.ld);

  /* batch dims collapsed for (A, B, C), innermost first; size-1 dims dropped */
  int n = 0;
  int64_t batch = 1, cstride = M * N;
  bool b_shared = true;
  for (int d = nb - 1; d >= 0; d--) {
    int64_t sz = out->shape[d];
    batch *= sz;
    if (sz == 1) continue;
    int64_t sa_ = a.shape[d] == 1 ? 0 : a.strides[d], sb_ = b.shape[d] == 1 ? 0 : b.strides[d];
    b_shared = b_shared && sb_ == 0;
    if (n > 0 && sa_ == ba[n - 1] * bshape[n - 1] && sb_ == bb[n - 1] * bshape[n - 1] &&
        cstride == bc[n - 1] * bshape[n - 1]) {
      bshape[n - 1] *= sz;
    } else {
      bshape[n] = sz;
      ba[n] = sa_;
      bb[n] = sb_;
      bc[n] = cstride;
      n++;
    }
    cstride *= sz;
  }
  char *C = (char *)out->data;
  pthread_mutex_lock(&mm_lock);
  cublasLtHandle_t h = mm_handle(dev);
  if (!h) {
    pthread_mutex_unlock(&mm_lock);
    free(mem);
    return -1;
  }
  uint32_t alc = mm_align(C, &cstride, 0);
  /* a shared B and A rows evenly spaced over the batch: one GEMM with M' = batch * M */
  int64_t srow = a.strides[nd - 2], sak = a.strides[nd - 1], fld;
  bool folded = false;
  if (batch > 1 && b_shared && n >= 1) {
    /* A's batch dims and its M dim must collapse to one dim of stride srow */
    bool ok = A.lay == 0 || M == 1;
    int64_t rows = M, rstride = M > 1 ? srow : 0;
    for (int i = 0; i < n && ok; i++) {
      if (rows == 1) {
        rstride = ba[i];
      } else if (ba[i] != rstride * rows) {
        ok = false;
      }
      rows *= bshape[i];
    }
    if (ok && mm_layout(batch * M, K, rstride, sak, &fld) == 0) {
      mm_operand A2 = {A.ptr, 0, fld};
      tmp[0] = fld * esz;
      rc = mm_call(h, dev, t, &A2, &B, C, N, false, batch * M, N, K, 1, 0, 0, 0,
                   mm_align(A.ptr, tmp, 1), mm_align(B.ptr, &B.ld, 0), alc, q);
      folded = true;
    }
  }
  if (!folded) {
    /* dim 0 of the collapsed batch is strided-batched; outer dims loop */
    int64_t inner = n > 0 ? bshape[0] : 1, outer = 1;
    for (int i = 1; i < n; i++) outer *= bshape[i];
    int64_t sa0 = n > 0 ? ba[0] : 0, sb0 = n > 0 ? bb[0] : 0, sc0 = n > 0 ? bc[0] : 0;
    for (int i = 0; i < n; i++) tmp[i] = ba[i] * esz;
    uint32_t ala = mm_align(A.ptr, tmp, n);
    for (int i = 0; i < n; i++) tmp[i] = bb[i] * esz;
    uint32_t alb = mm_align(B.ptr, tmp, n);
    for (int i = 0; i < n; i++) tmp[i] = bc[i] * esz;
    alc = mm_align(C, tmp, n);
    for (int64_t o = 0; o < outer && rc == 0; o++) {
      int64_t r = o, oa = 0, ob = 0, oc = 0;
      for (int i = 1; i < n; i++) {
        int64_t ix = r % bshape[i];
        r /= bshape[i];
        oa += ix * ba[i];
        ob += ix * bb[i];
        oc += ix * bc[i];
      }
      mm_operand Ao = {A.ptr + oa * esz, A.lay, A.ld}, Bo = {B.ptr + ob * esz, B.lay, B.ld};
      rc = mm_call(h, dev, t, &Ao, &Bo, C + oc * esz, N, false, M, N, K, inner, sa0, sb0, sc0, ala, alb,
                   alc, q);
    }
  }
  pthread_mutex_unlock(&mm_lock);
  free(mem);
  return rc;
}
