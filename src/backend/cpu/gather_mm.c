/* gather_mm.c: the GatherMM primitive on the CPU: for each output matrix, the lhs and rhs
 * indices (any integer dtype, wrapped once, clamped into the batch) pick a (M, K) matrix of
 * a and a (K, N) matrix of b, multiplied by one BLAS GEMM (float16/bfloat16 through
 * float32). Operands BLAS cannot read as they are are copied into a row-major scratch. */
#include <cblas.h>
#include <limits.h>
#include <string.h>

#include "cpu.h"
#include "../formulas.h"
#include "../kernel_checks.h"

typedef struct gmm_op {
  const void *ptr;
  bool trans;
  int ld;
} gmm_op;

/* BLAS view of a rows x cols matrix at p with strides (sr, sc) in the BLAS dtype, or a
 * converted row-major copy in scratch (rows * cols elements of bt). */
static void gmm_prepare(gmm_op *o, const char *p, mx_dtype t, mx_dtype bt, int64_t rows,
                        int64_t cols, int64_t sr, int64_t sc, void *scratch) {
  if (t == bt) {
    if ((cols == 1 || sc == 1) && (rows == 1 || sr >= cols) && sr <= INT_MAX) {
      o->ptr = p, o->trans = false, o->ld = (int)(rows == 1 ? (cols > 1 ? cols : 1) : sr);
      return;
    }
    if ((rows == 1 || sr == 1) && (cols == 1 || sc >= rows) && sc <= INT_MAX) {
      o->ptr = p, o->trans = true, o->ld = (int)(cols == 1 ? (rows > 1 ? rows : 1) : sc);
      return;
    }
  }
  int isz = mx_dtype_size(t), bsz = mx_dtype_size(bt);
  for (int64_t i = 0; i < rows; i++)
    mx_cpu_convert(p + i * sr * isz, t, sc, (char *)scratch + i * cols * bsz, bt, 1, cols);
  o->ptr = scratch, o->trans = false, o->ld = (int)(cols > 1 ? cols : 1);
}

int mx_cpu_gather_mm(const mx_kernel_ctx *ctx, const mx_tensor *in, int n_in, mx_tensor *out,
                     int n_out) {
  (void)ctx;
  if (mx_check_gather_mm(in, n_in, out, n_out) < 0) return -1;
  const mx_tensor *a = &in[0], *b = &in[1], *li = &in[2], *ri = &in[3];
  mx_dtype t = out->dtype;
  int nb = out->ndim - 2;
  int64_t M = out->shape[nb], N = out->shape[nb + 1], K = a->shape[2];
  int64_t Ba = a->shape[0], Bb = b->shape[0];
  if (M > INT_MAX || N > INT_MAX || K > INT_MAX)
    return mx_fail_int(MX_EINVAL, "[gather_mm] Matrix dims beyond %d are not supported.", INT_MAX);
  if (!mx_cpu_is_row_contig(out)) return mx_fail_int(MX_EINVAL, "[gather_mm] The output must be row-contiguous.");
  if (out->size == 0) return 0;
  int osz = mx_dtype_size(t);
  if (K == 0) {
    memset(out->data, 0, (size_t)out->size * (size_t)osz);
    return 0;
  }
  if (Ba == 0 || Bb == 0) return mx_fail_int(MX_EINDEX, "[gather_mm] Cannot gather matrices from an empty batch.");
  mx_dtype bt = t == MX_FLOAT64 ? MX_FLOAT64 : MX_FLOAT32;
  int bsz = mx_dtype_size(bt);
  bool via = bt != t;
  char *scratch = malloc((size_t)(M * K + K * N + (via ? M * N : 0)) * (size_t)bsz + 16);
  if (!scratch) return mx_fail_int(MX_ENOMEM, "[malloc] Unable to allocate gather_mm scratch.");
  char *sa = scratch, *sb = sa + M * K * bsz, *sc = sb + K * N * bsz;
  mx_cpu_iter it;
  int rc = 0;
  if (nb == 0) {
    static const int64_t none[1] = {0};
    const int64_t *st[2] = {none, none};
    static const int32_t one[1] = {1};
    rc = mx_cpu_iter_init(&it, 2, 1, one, st);
  } else {
    const int64_t *st[2] = {li->strides, ri->strides};
    rc = mx_cpu_iter_init(&it, 2, nb, out->shape, st);
  }
  if (rc) {
    free(scratch);
    return rc;
  }
  int64_t len = mx_cpu_iter_len(&it), jl = mx_cpu_iter_stride(&it, 0), jr = mx_cpu_iter_stride(&it, 1);
  int64_t offs[2], mat = 0;
  mx_cpu_iter_seek(&it, 0, offs);
  for (int64_t r = 0; r < it.nruns; r++) {
    for (int64_t j = 0; j < len; j++, mat++) {
      int64_t ia = mx_index_clamp(mx_index_load(li->data, offs[0] + j * jl, li->dtype), Ba, 1);
      int64_t ib = mx_index_clamp(mx_index_load(ri->data, offs[1] + j * jr, ri->dtype), Bb, 1);
      gmm_op A, B;
      gmm_prepare(&A, (const char *)a->data + ia * a->strides[0] * osz, t, bt, M, K, a->strides[1],
                  a->strides[2], sa);
      gmm_prepare(&B, (const char *)b->data + ib * b->strides[0] * osz, t, bt, K, N, b->strides[1],
                  b->strides[2], sb);
      char *c = (char *)out->data + mat * M * N * osz;
      enum CBLAS_TRANSPOSE ta = A.trans ? CblasTrans : CblasNoTrans, tb = B.trans ? CblasTrans : CblasNoTrans;
      if (bt == MX_FLOAT64) {
        cblas_dgemm(CblasRowMajor, ta, tb, (int)M, (int)N, (int)K, 1.0, A.ptr, A.ld, B.ptr, B.ld, 0.0,
                    (double *)c, (int)N);
      } else {
        cblas_sgemm(CblasRowMajor, ta, tb, (int)M, (int)N, (int)K, 1.0f, A.ptr, A.ld, B.ptr, B.ld, 0.0f,
                    (float *)(via ? sc : c), (int)N);
        if (via) mx_cpu_convert(sc, MX_FLOAT32, 1, c, t, 1, M * N);
      }
    }
    mx_cpu_iter_next(&it, offs);
  }
  mx_cpu_iter_free(&it);
  free(scratch);
  return 0;
}
