/* matmul.c: the Matmul primitive on the CPU through OpenBLAS: sgemm/dgemm/cgemm, bfloat16
 * through cblas_sbgemm (float32 result, rounded) where the OpenBLAS build has it (Debian's
 * does not: then through float32, like float16). Inputs are
 * (..., M, K) @ (..., K, N) with equal (possibly stride-0) batch dims; row- or
 * column-major last-two-dim layouts go to BLAS as they are, anything else is first copied
 * to a contiguous scratch. A shared right operand folds the batch into M. One large product
 * is split over the thread pool by gemm.c; a batch of small ones is, item by item. */
#include <limits.h>
#include <stdatomic.h>
#include <string.h>

#include "gemm.h"
#include "pool.h"

/* How BLAS can read a rows x cols view with element strides (sr, sc): 0 row-major with
 * leading dim *ld, 1 transposed (column-major) with *ld, -1 needs a copy. */
static int mm_layout(int64_t rows, int64_t cols, int64_t sr, int64_t sc, int64_t *ld) {
  if ((cols == 1 || sc == 1) && (rows == 1 || sr >= cols)) {
    *ld = rows == 1 ? (cols > 1 ? cols : 1) : sr;
    return *ld <= INT_MAX ? 0 : -1;
  }
  if ((rows == 1 || sr == 1) && (cols == 1 || sc >= rows)) {
    *ld = cols == 1 ? (rows > 1 ? rows : 1) : sc;
    return *ld <= INT_MAX ? 1 : -1;
  }
  return -1;
}

/* Scratch buffers, allocated on first use and reused over the batch. */
typedef struct mm_scratch {
  void *a, *b, *c;
} mm_scratch;

static void *mm_alloc(void **slot, size_t bytes) {
  if (!*slot) {
    *slot = malloc(bytes ? bytes : 1);
    if (!*slot) mx_fail(MX_ENOMEM, "[malloc] Unable to allocate %zu bytes.", bytes);
  }
  return *slot;
}

typedef struct mm_operand {
  const void *ptr; /* what BLAS reads */
  int trans;       /* 0 / 1 */
  int64_t ld;
} mm_operand;

/* Prepares one operand (rows x cols at p with strides sr, sc) in BLAS dtype bt: as it is
 * when the layout and dtype allow, else converted/copied row-major into *scratch. */
static int mm_prepare(mm_operand *op, const char *p, mx_dtype t, mx_dtype bt, int64_t rows,
                      int64_t cols, int64_t sr, int64_t sc, void **scratch) {
  int lay = t == bt ? mm_layout(rows, cols, sr, sc, &op->ld) : -1;
  if (lay >= 0) {
    op->ptr = p;
    op->trans = lay;
    return 0;
  }
  int isz = mx_dtype_size(t), bsz = mx_dtype_size(bt);
  char *dst = (char *)mm_alloc(scratch, (size_t)(rows * cols * bsz));
  if (!dst) return -1;
  for (int64_t i = 0; i < rows; i++)
    mx_cpu_convert(p + i * sr * isz, t, sc, dst + i * cols * bsz, bt, 1, cols);
  op->ptr = dst;
  op->trans = 0;
  op->ld = cols > 1 ? cols : 1;
  return 0;
}

static void mm_gemm(mx_dtype bt, const mm_operand *A, const mm_operand *B, int M, int N, int K,
                    void *C, int ldc) {
  mx_cpu_gemm(bt, A->trans, B->trans, M, N, K, A->ptr, (int)A->ld, B->ptr, (int)B->ld, false, C,
              ldc);
}

/* One GEMM: C (M x N, contiguous, dtype t) = A (M x K view) @ B (K x N view). */
static int mm_one(mx_dtype t, const char *a, int64_t sam, int64_t sak, const char *b,
                  int64_t sbk, int64_t sbn, char *c, int64_t M, int64_t N, int64_t K,
                  mm_scratch *s) {
  bool sbgemm = mx_cpu_gemm_has_bf16();
  /* what BLAS reads */
  mx_dtype bt = (t == MX_FLOAT16 || (t == MX_BFLOAT16 && !sbgemm)) ? MX_FLOAT32 : t;
  mm_operand A, B;
  if (mm_prepare(&A, a, t, bt, M, K, sam, sak, &s->a) < 0) return -1;
  if (mm_prepare(&B, b, t, bt, K, N, sbk, sbn, &s->b) < 0) return -1;
  bool via_f32 = t == MX_FLOAT16 || t == MX_BFLOAT16; /* result in float32 first */
  void *cc = c;
  if (via_f32 && !(cc = mm_alloc(&s->c, (size_t)(M * N) * sizeof(float)))) return -1;
  mm_gemm(bt, &A, &B, (int)M, (int)N, (int)K, cc, (int)N);
  if (via_f32) mx_cpu_convert(cc, MX_FLOAT32, 1, c, t, 1, M * N);
  return 0;
}

/* The batch of products, item i reading a at aoff[i] and b at boff[i] (elements). */
typedef struct mm_batch {
  mx_dtype t;
  const char *a, *b;
  char *c;
  const int64_t *aoff, *boff;
  int64_t sam, sak, sbk, sbn, M, N, K;
  _Atomic int failed;
} mm_batch;

static void mm_batch_range(void *ctx, int64_t i0, int64_t i1) {
  mm_batch *j = (mm_batch *)ctx;
  int isz = mx_dtype_size(j->t);
  mm_scratch s = {NULL, NULL, NULL};
  for (int64_t i = i0; i < i1 && !atomic_load(&j->failed); i++)
    if (mm_one(j->t, j->a + j->aoff[i] * isz, j->sam, j->sak, j->b + j->boff[i] * isz, j->sbk,
               j->sbn, j->c + i * j->M * j->N * isz, j->M, j->N, j->K, &s) < 0)
      atomic_store(&j->failed, 1);
  free(s.a);
  free(s.b);
  free(s.c);
}

/* Products over the output's nb batch dims (a's and b's batch strides sa, sb); items split over
 * the pool when each is too small to split itself. */
static int mm_batched(mx_dtype t, const mx_tensor *a, const mx_tensor *b, mx_tensor *out,
                      const int64_t *sa, const int64_t *sb, int nb, int64_t M, int64_t N,
                      int64_t K) {
  int nd = out->ndim;
  int64_t batch = 1;
  for (int d = 0; d < nb; d++) batch *= out->shape[d];
  int64_t *offs = (int64_t *)malloc((size_t)(2 * batch + 2) * sizeof(int64_t));
  int32_t *bshape = (int32_t *)malloc((size_t)(nb + 1) * sizeof(int32_t));
  int rc = offs && bshape ? 0 : mx_fail_int(MX_ENOMEM, "[malloc] Unable to allocate batch shape.");
  mx_cpu_iter it;
  if (rc == 0) {
    for (int d = 0; d < nb; d++) bshape[d] = out->shape[d];
    const int64_t *bs[2] = {sa, sb};
    rc = mx_cpu_iter_init(&it, 2, nb, bshape, bs);
  }
  if (rc == 0) {
    int64_t bn = mx_cpu_iter_len(&it), ja = mx_cpu_iter_stride(&it, 0);
    int64_t jb = mx_cpu_iter_stride(&it, 1), o[2], i = 0;
    mx_cpu_iter_seek(&it, 0, o);
    for (int64_t r = 0; r < it.nruns; r++) {
      for (int64_t q = 0; q < bn; q++, i++) offs[i] = o[0] + q * ja, offs[batch + i] = o[1] + q * jb;
      mx_cpu_iter_next(&it, o);
    }
    mx_cpu_iter_free(&it);
    mm_batch j = {t, (const char *)a->data, (const char *)b->data, (char *)out->data, offs,
                  offs + batch, a->strides[nd - 2], a->strides[nd - 1], b->strides[nd - 2],
                  b->strides[nd - 1], M, N, K, 0};
    int64_t work = M * N * K, grain = work > 0 ? (1 << 22) / work : batch;
    if (grain < 1) grain = 1;
    mx_cpu_parallel_for(batch, grain, mm_batch_range, &j);
    if (atomic_load(&j.failed)) rc = mx_fail_int(MX_ENOMEM, "[matmul] out of memory.");
  }
  free(offs);
  free(bshape);
  return rc;
}

int mx_cpu_matmul(const mx_kernel_ctx *ctx, const mx_tensor *in, int n_in, mx_tensor *out,
                  int n_out) {
  (void)ctx;
  if (n_in != 2 || n_out != 1)
    return mx_fail_int(MX_EINVAL, "[matmul] Expected 2 inputs and 1 output.");
  const mx_tensor *a = &in[0], *b = &in[1];
  mx_dtype t = out->dtype;
  if (a->dtype != t || b->dtype != t)
    return mx_fail_int(MX_ETYPE, "[matmul] Inputs (%s, %s) and output (%s) dtypes differ.",
                       mx_dtype_name(a->dtype), mx_dtype_name(b->dtype), mx_dtype_name(t));
  if (t != MX_FLOAT32 && t != MX_FLOAT64 && t != MX_FLOAT16 && t != MX_BFLOAT16 &&
      t != MX_COMPLEX64)
    return mx_fail_int(MX_ETYPE, "[matmul] Only inexact types are supported, got %s.",
                       mx_dtype_name(t));
  int nd = out->ndim;
  if (nd < 2 || a->ndim != nd || b->ndim != nd)
    return mx_fail_int(MX_EINVAL, "[matmul] Operands must have the output's ndim (>= 2).");
  int64_t M = a->shape[nd - 2], K = a->shape[nd - 1], N = b->shape[nd - 1];
  if (b->shape[nd - 2] != K || out->shape[nd - 2] != M || out->shape[nd - 1] != N)
    return mx_fail_int(MX_EINVAL,
                       "[matmul] Shapes (..., %lld, %lld) @ (..., %d, %lld) do not match.",
                       (long long)M, (long long)K, b->shape[nd - 2], (long long)N);
  if (M > INT_MAX || N > INT_MAX || K > INT_MAX)
    return mx_fail_int(MX_EINVAL, "[matmul] Matrix dims beyond %d are not supported.", INT_MAX);
  if (!mx_cpu_is_row_contig(out))
    return mx_fail_int(MX_EINVAL, "[matmul] The output must be row-contiguous.");
  if (out->size == 0) return 0;
  if (K == 0) {
    memset(out->data, 0, (size_t)out->size * (size_t)mx_dtype_size(t));
    return 0;
  }

  /* Batch strides of a and b over the output's batch dims (size 1 broadcasts). */
  int nb = nd - 2;
  int64_t *bstr = (int64_t *)malloc((size_t)(2 * nb + 2) * sizeof(int64_t));
  if (!bstr) return mx_fail_int(MX_ENOMEM, "[malloc] Unable to allocate batch strides.");
  int64_t *sa = bstr, *sb = bstr + nb + 1, batch = 1;
  bool b_shared = true;
  int rc = 0;
  for (int d = 0; d < nb && rc == 0; d++) {
    int32_t n = out->shape[d];
    if ((a->shape[d] != n && a->shape[d] != 1) || (b->shape[d] != n && b->shape[d] != 1))
      rc = mx_fail_int(MX_EINVAL, "[matmul] Batch dim %d does not match.", d);
    sa[d] = a->shape[d] == n && n != 1 ? a->strides[d] : 0;
    sb[d] = b->shape[d] == n && n != 1 ? b->strides[d] : 0;
    b_shared = b_shared && sb[d] == 0;
    batch *= n;
  }
  int64_t sam = a->strides[nd - 2], sak = a->strides[nd - 1];
  int64_t sbk = b->strides[nd - 2], sbn = b->strides[nd - 1];
  mm_scratch s = {NULL, NULL, NULL};

  /* A shared B and a batch of A rows evenly spaced: one GEMM with M' = batch * M. */
  bool folded = false;
  if (rc == 0 && batch > 1 && b_shared && batch * M <= INT_MAX) {
    sa[nb] = sam;
    int32_t *rshape = (int32_t *)malloc((size_t)(nb + 1) * sizeof(int32_t));
    if (rshape) {
      for (int d = 0; d < nb; d++) rshape[d] = out->shape[d];
      rshape[nb] = (int32_t)M;
      const int64_t *rs[1] = {sa};
      mx_cpu_iter it;
      int64_t ld;
      if (mx_cpu_iter_init(&it, 1, nb + 1, rshape, rs) == 0) {
        int64_t srow = mx_cpu_iter_stride(&it, 0);
        if (it.ndim == 1 && mm_layout(batch * M, K, srow, sak, &ld) == 0) {
          rc = mm_one(t, (const char *)a->data, srow, sak, (const char *)b->data, sbk, sbn,
                      (char *)out->data, batch * M, N, K, &s);
          folded = true;
        }
        mx_cpu_iter_free(&it);
      }
      free(rshape);
    } /* no memory for the check only means "not folded" */
  }

  if (rc == 0 && !folded) rc = mm_batched(t, a, b, out, sa, sb, nb, M, N, K);
  free(s.a);
  free(s.b);
  free(s.c);
  free(bstr);
  return rc;
}
