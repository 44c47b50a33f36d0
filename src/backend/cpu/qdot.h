/* qdot.h: decode-sized affine quantized products with integer dot products (qdot.c drives,
 * qdot_avx512.c holds the AVX-512 VNNI rows). x rows are quantized once per call to int8
 * with one float scale per weight group; weight codes meet them in int32 multiply-adds and
 * each group's sum is scaled to float once. Depends on cpu.h and pool.h. */
#ifndef MX_CPU_QDOT_H
#define MX_CPU_QDOT_H

#include <stdbool.h>
#include <stdint.h>

#define MX_QDOT_MAX_M 8 /* rows of x one pass handles */
#define MX_QDOT_PIECE 64 /* packed bytes the vector rows load at once */

/* One product out (M x N) = x (M x K) @ dequantize(w (N rows of K codes))^T. */
typedef struct mx_qdot_job {
  const uint32_t *w;    /* N rows of K * bits / 32 words */
  const float *sc, *bi; /* N x ng group scales and biases */
  float *out;           /* M x N, row-major */
  int M, N, K, bits, gs, ng;
  int kb;               /* code width the rows read: bits for 1/2/4/8, else 8 (unpacked) */
  const int8_t *xn;     /* M x K int8 activations, natural order */
  const int8_t *xp;     /* M x xp_len, in the plane order of kb (== xn when kb is 8) */
  int64_t xp_len;
  const float *xd;      /* M x ng activation scales */
  const float *xs;      /* M x ng float sums of x per group */
  const float *xr;      /* M x ng rounding residuals: xs - xd * (sum of the group's int8) */
  float mid;            /* the middle code, (2^bits - 1) / 2 */
} mx_qdot_job;

/* True when quantized_matmul(transpose=True) of this size takes the integer path: affine,
 * at most MX_QDOT_MAX_M rows of x, K >= 512 and at least 2^20 weights. Its results differ
 * from the float path by the int8 rounding of x (about 0.5% of the output's scale). */
bool mx_cpu_qdot_applies(int M, int N, int K, int bits, int gs, int mode);

/* out = x @ W^T for W given as affine codes w with float scales/biases. 0; 1 when x holds
 * inf or NaN (nothing done: the caller takes the float path); -1 with the error set. */
int mx_cpu_qdot_matmul(const float *x, int M, int K, const uint32_t *w, const float *sc,
                       const float *bi, int N, int bits, int gs, float *out);

/* Unpacks the codes of one row (n codes, little-endian bit stream) to bytes. */
void mx_cpu_qdot_unpack(const uint32_t *w, int n, int bits, uint8_t *codes);

#if defined(__x86_64__) && defined(__GNUC__)
#define MX_QDOT_HAVE_AVX512 1
/* Rows [n0, n1) of the job with AVX-512 VNNI; scratch holds K bytes. */
void mx_cpu_qdot_rows_avx512(const mx_qdot_job *j, int64_t n0, int64_t n1, uint8_t *scratch);
#endif

#endif
