/* conv.h: what the convolution kernel files (conv.c, conv_phase.c, conv_grouped.c,
 * conv_single.c, conv_lines.c, conv_winograd.c) share: the plan of one convolution (shapes,
 * group sizes, where each output index and tap read per dim), the blocked im2col + GEMM driver,
 * the phase split of input-dilated convolutions, the direct kernels of grouped convolutions
 * with few channels per group or of one group with few input channels, and the Winograd tiles
 * of 3x3 stride-1 convolutions. Private to src/backend/cpu; depends on cpu.h. */
#ifndef MX_BACKEND_CPU_CONV_H
#define MX_BACKEND_CPU_CONV_H

#include "cpu.h"

/* Direct loops built for the baseline, AVX2+FMA and AVX-512, chosen at load time (not under
 * ThreadSanitizer: the clones' ifunc resolvers run before its runtime is up). */
#if defined(__SANITIZE_THREAD__)
#define CONV_NO_CLONES 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define CONV_NO_CLONES 1
#endif
#endif
#if defined(__x86_64__) && defined(__GNUC__) && defined(__linux__) && !defined(CONV_NO_CLONES)
#define CONV_CLONES \
  __attribute__((target_clones("default", "arch=x86-64-v3", "arch=x86-64-v4")))
#else
#define CONV_CLONES
#endif

#define CONV_NONE INT64_MIN        /* offset of a tap that reads a zero */

/* Where output index o and tap k read along one spatial dim: position base[o] + koff[k] of
 * the dilated input (0 <= position < span, a multiple of e), input index position / e. */
typedef struct conv_dim {
  int64_t *base;              /* [O_d]: o * stride - padding_lo */
  int64_t *koff;              /* [K_d]: tap (reversed when flipped) * kernel dilation */
  int64_t span;               /* dilated input length: (L - 1) * e + 1, 0 when L = 0 */
  int64_t e;                  /* input dilation */
  int64_t xs;                 /* the input's element stride along the dim */
} conv_dim;

typedef struct conv_plan {
  int nsp;                    /* spatial dims */
  mx_dtype t, ct;             /* tensor dtype, compute dtype */
  int esz, csz;               /* their element sizes */
  int64_t groups, cig, cog, cout;
  int64_t kprod, kg, ktot;    /* taps, contraction length per group, im2col row length */
  int64_t m;                  /* output rows: N * prod(spatial_out) */
  const int32_t *oshape, *kshape; /* [nsp] */
  int64_t sn, sc;             /* input strides of the batch and channel dims */
  conv_dim *dims;             /* [nsp] */
  bool runs;                  /* im2col copies runs of taps along the last dim */
  conv_dim dims_inline[8];
  const char *x;
} conv_plan;

/* Sets up p for an input x (N, *S, C_in) read as dtype t (its compute dtype: float32 for
 * float16/bfloat16), output spatial shape oshape and kernel spatial shape kshape: per dim,
 * where each output index and tap read (prm's strides, padding, dilations and flip). 0, or -1
 * + error (mx_cpu_conv_plan_free is still to be called). */
int mx_cpu_conv_plan_init(conv_plan *p, const mx_p_convolution *prm, const mx_tensor *x,
                          mx_dtype t, const int32_t *oshape, const int32_t *kshape, int64_t cout,
                          int64_t cig);
void mx_cpu_conv_plan_free(conv_plan *p);
/* src as a row-major array of dtype ct: its own data when it already is one, else a copy in
 * *buf (freed by the caller). NULL + ENOMEM on failure. */
const char *mx_cpu_conv_pack(const mx_tensor *src, mx_dtype ct, char **buf);

/* Output row r: sets row[d] to its output coordinate's base position along each dim, zeroes
 * the tap counters kidx[d], returns the input's batch row. */
static inline const char *mx_cpu_conv_row(const conv_plan *p, int64_t r, int64_t *row,
                                          int64_t *kidx) {
  for (int d = p->nsp - 1; d >= 0; d--) {
    row[d] = p->dims[d].base[r % p->oshape[d]];
    r /= p->oshape[d];
    kidx[d] = 0;
  }
  return p->x + r * p->sn * p->esz;
}

/* Offset (elements) of tap counter kidx's input point from its batch row, CONV_NONE when the
 * tap reads a zero; then advances kidx to the next tap. */
static inline int64_t mx_cpu_conv_tap(const conv_plan *p, const int64_t *row, int64_t *kidx) {
  int64_t off = 0;
  for (int d = 0; d < p->nsp; d++) {
    const conv_dim *c = &p->dims[d];
    int64_t pos = row[d] + c->koff[kidx[d]];
    if (pos < 0 || pos >= c->span || (c->e > 1 && pos % c->e != 0)) {
      off = CONV_NONE;
      break;
    }
    off += (c->e > 1 ? pos / c->e : pos) * c->xs;
  }
  for (int d = p->nsp - 1; d >= 0; d--) {
    if (++kidx[d] < p->kshape[d]) break;
    kidx[d] = 0;
  }
  return off;
}

/* ---- conv.c: the blocked im2col + GEMM driver ---- */
/* C (m x n, ldc) = op(A) @ op(B) (+ C when accumulate) in the compute dtype ct; op transposes
 * when ta / tb. */
void mx_cpu_conv_gemm(mx_dtype ct, bool ta, bool tb, int m, int n, int k, const void *a, int lda,
                      const void *b, int ldb, bool accumulate, void *c, int ldc);
/* Called with output rows [r0, r0 + n) and their matrix A: the block's im2col (row stride lda,
 * compute dtype) or, when direct, the input rows themselves (stride lda, the plan's dtype). */
typedef void (*conv_block_fn)(const conv_plan *p, int64_t r0, int64_t n, const char *a,
                              int64_t lda, bool direct, void *ctx);
/* Rows per block of the plan (all of them when the input rows are read directly: *direct, with
 * their stride *ld). */
int64_t mx_cpu_conv_block_rows(const conv_plan *p, const mx_tensor *x, bool *direct, int64_t *ld);
/* Runs fn over the plan's output rows in blocks (im2col filled on the pool). 0 or -1 + error. */
int mx_cpu_conv_blocks(const conv_plan *p, const mx_tensor *x, conv_block_fn fn, void *ctx);
/* Byte offset of group g's columns in a block's A. */
int64_t mx_cpu_conv_group_offset(const conv_plan *p, int64_t g, bool direct);
/* The ConvolutionWeight block: acc (C_out, kg) (+)= cot_rows^T @ A per group (block 0 sets). */
typedef struct conv_wgt {
  const char *cot;  /* (rows, C_out) compute dtype */
  char *acc;        /* (C_out, kg) compute dtype */
} conv_wgt;
void mx_cpu_conv_weight_block(const conv_plan *p, int64_t r0, int64_t n, const char *a,
                              int64_t lda, bool direct, void *ctx);

/* ---- conv_phase.c: input dilation without its zeros ---- */
/* Number of phase classes of the output positions (1: no input dilation to skip). */
int64_t mx_cpu_conv_phase_count(const mx_p_convolution *prm);
/* As the blocked driver, one sub-convolution per class: w (C_out, taps, C_in/g) and cot
 * (rows, C_out) packed in the compute dtype. */
int mx_cpu_conv_phased_forward(const conv_plan *p, const mx_p_convolution *prm,
                               const mx_tensor *x, const char *w, mx_tensor *out);
int mx_cpu_conv_phased_weight(const conv_plan *p, const mx_p_convolution *prm,
                              const mx_tensor *x, const char *cot, mx_tensor *out);

/* ---- conv_single.c: 1-D, one channel in and out, no input dilation (x in the compute dtype,
 * float32 or float64) ---- */
bool mx_cpu_conv_single_ok(const conv_plan *p);
/* out (N, O, 1) from the kernel w (K values, compute dtype). */
int mx_cpu_conv_single_forward(const conv_plan *p, const mx_p_convolution *prm, const char *w,
                               mx_tensor *out);
/* out (1, K, 1) from the cotangent cot (N * O values, compute dtype). */
int mx_cpu_conv_single_weight(const conv_plan *p, const mx_p_convolution *prm, const char *cot,
                              mx_tensor *out);

/* ---- conv_grouped.c: groups with few channels (the plan's input already in the compute
 * dtype, float32 or float64) ---- */
bool mx_cpu_conv_grouped_ok(int64_t groups, int64_t cig, int64_t cog, mx_dtype ct);
/* out (N, *O, C_out) from weights w packed as (K..., C_in/groups, C_out) in the compute dtype. */
int mx_cpu_conv_grouped_forward(const conv_plan *p, const char *w, mx_tensor *out);
/* out (C_out, K..., C_in/groups) from the cotangent packed as (rows, C_out), compute dtype. */
int mx_cpu_conv_grouped_weight(const conv_plan *p, const char *cot, mx_tensor *out);

/* ---- conv_lines.c: one group, few input channels, no input dilation (the plan's input in the
 * compute dtype, float32 or float64, as for conv_grouped.c) ---- */
bool mx_cpu_conv_lines_ok(const conv_plan *p);
/* out (N, *O, C_out) from weights packed as (K..., C_in, C_out) in the compute dtype. */
int mx_cpu_conv_lines_forward(const conv_plan *p, const char *w, mx_tensor *out);
/* out (C_out, K..., C_in) from the cotangent packed as (rows, C_out), compute dtype. */
int mx_cpu_conv_lines_weight(const conv_plan *p, const char *cot, mx_tensor *out);

/* ---- conv_winograd.c: 3x3, stride 1, 2-D, one group, float32, enough channels ---- */
bool mx_cpu_conv_winograd_ok(const conv_plan *p);
/* out (N, OH, OW, C_out) from the weights w (C_out, 3, 3, C_in), any strides. 0; 1 when an
 * input holds NaN or inf (out is then to be computed another way); -1 + error. */
int mx_cpu_conv_winograd_forward(const conv_plan *p, const mx_tensor *w, mx_tensor *out);
/* out (C_out, 3, 3, C_in), row-contiguous, from the cotangent (N, OH, OW, C_out) packed. As
 * the forward: 0, 1 (NaN or inf met), -1. */
int mx_cpu_conv_winograd_weight(const conv_plan *p, const float *cot, mx_tensor *out);

#endif
