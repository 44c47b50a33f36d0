/* conv_winograd.c: 3x3, stride-1 2-D convolutions of float32 with enough channels (the forward
 * and, through the vjp's flipped convolution, the input gradient) by Winograd's F(4x4, 3x3):
 * each 4x4 output tile is A^T [U . (B^T d B)] A over its 6x6 input patch d, so a block of tiles
 * costs 36 GEMMs (tiles x C_in) @ (C_in x C_out), a quarter of im2col's multiply-adds; the weight
 * gradient (ConvolutionWeight) runs the adjoint transforms. Blocks of
 * tiles split over the thread pool (BLAS single-threaded inside). The transforms would spread a
 * NaN or inf over whole tiles: when an input holds one, the caller redoes the product by im2col. Depends on conv.h, gemm.h and
 * pool.h. */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "conv.h"
#include "gemm.h"
#include "pool.h"

#define WINO_MIN_CHANNELS 16  /* below, the GEMMs are too thin to beat im2col */
#define WINO_VEC 16           /* channels transformed together */
#define WINO_BLOCK_ELEMS 4096 /* tiles per block x max(C_in, C_out): the block stays in L2 */

bool mx_cpu_conv_winograd_ok(const conv_plan *p) {
  if (p->nsp != 2 || p->t != MX_FLOAT32 || p->groups != 1 || p->cig < WINO_MIN_CHANNELS ||
      p->cout < WINO_MIN_CHANNELS || (p->sc != 1 && p->cig > 1))
    return false;
  for (int d = 0; d < 2; d++) {
    const conv_dim *c = &p->dims[d];
    if (p->kshape[d] != 3 || p->oshape[d] < 4 || c->e != 1) return false;
    if (p->oshape[d] > 1 && c->base[1] - c->base[0] != 1) return false; /* stride 1 */
    bool fwd = c->koff[0] == 0 && c->koff[1] == 1 && c->koff[2] == 2;
    bool flip = c->koff[0] == 2 && c->koff[1] == 1 && c->koff[2] == 0;
    if (!fwd && !flip) return false;  /* kernel dilation 1 */
  }
  return true;
}

typedef struct wino_job {
  const conv_plan *p;
  const float *cot;          /* weight gradient: (N, OH, OW, C_out) */
  float *acc;                /* weight gradient: [36][C_in][C_out] sums */
  pthread_mutex_t mu;
  const float *u;            /* [36][C_in][C_out]: G g G^T per tap pair */
  float *out;                /* (N, OH, OW, C_out) */
  int64_t th, tw, tb, tiles; /* tiles along H and W, tiles per block, all tiles */
  _Atomic int failed;
  _Atomic int nonfinite;      /* an input held NaN or inf: the caller falls back */
} wino_job;

/* U = G g G^T for every (c_out, c_in), g read from w (C_out, 3, 3, C_in) with its strides,
 * reversed when the plan's taps are flipped. */
static bool wino_weights(const conv_plan *p, const mx_tensor *w, float *u) {
  static const double G[6][3] = {{0.25, 0, 0},
                                 {-1.0 / 6, -1.0 / 6, -1.0 / 6},
                                 {-1.0 / 6, 1.0 / 6, -1.0 / 6},
                                 {1.0 / 24, 1.0 / 12, 1.0 / 6},
                                 {1.0 / 24, -1.0 / 12, 1.0 / 6},
                                 {0, 0, 1}};
  const float *wd = (const float *)w->data;
  const int64_t *ws = w->strides;
  int64_t cin = p->cig, cout = p->cout;
  for (int64_t o = 0; o < cout; o++)
    for (int64_t i = 0; i < cin; i++) {
      double g[3][3], t[6][3];
      for (int a = 0; a < 3; a++)
        for (int b = 0; b < 3; b++) {
          int64_t ka = p->dims[0].koff[a], kb = p->dims[1].koff[b];
          g[a][b] = wd[o * ws[0] + ka * ws[1] + kb * ws[2] + i * ws[3]];
          if (!isfinite(g[a][b])) return false;
        }
      for (int r = 0; r < 6; r++)
        for (int b = 0; b < 3; b++) t[r][b] = G[r][0] * g[0][b] + G[r][1] * g[1][b] + G[r][2] * g[2][b];
      for (int r = 0; r < 6; r++)
        for (int s = 0; s < 6; s++)
          u[((r * 6 + s) * cin + i) * cout + o] =
              (float)(t[r][0] * G[s][0] + t[r][1] * G[s][1] + t[r][2] * G[s][2]);
    }
  return true;
}

/* n <= WINO_VEC floats; a full vector as one fixed-size copy (rep movs is slow for these). */
static inline void wino_copy(float *restrict dst, const float *restrict src, int64_t n) {
  if (n == WINO_VEC) {
    for (int c = 0; c < WINO_VEC; c++) dst[c] = src[c];
  } else {
    for (int64_t c = 0; c < n; c++) dst[c] = src[c];
  }
}

/* Whether 36 transformed vectors are all finite (x - x is NaN exactly for NaN and inf). */
static inline bool wino_finite(float (*z)[WINO_VEC]) {
  float acc[WINO_VEC] = {0};
  for (int k = 0; k < 36; k++)
    for (int c = 0; c < WINO_VEC; c++) acc[c] += z[k][c] - z[k][c];
  float all = 0;
  for (int c = 0; c < WINO_VEC; c++) all += acc[c];
  return all == 0;
}

/* B^T applied along one axis of a 6x6 patch: z[k * st] from d[k * st] (WINO_VEC lanes each). */
#define WINO_BT(d, z, st)                                                                     \
  for (int c = 0; c < WINO_VEC; c++) {                                                        \
    float d0 = d[0 * st][c], d1 = d[1 * st][c], d2 = d[2 * st][c], d3 = d[3 * st][c];         \
    float d4 = d[4 * st][c], d5 = d[5 * st][c];                                               \
    z[0 * st][c] = 4 * d0 - 5 * d2 + d4;                                                      \
    z[1 * st][c] = -4 * (d1 + d2) + d3 + d4;                                                  \
    z[2 * st][c] = 4 * (d1 - d2) - d3 + d4;                                                   \
    z[3 * st][c] = 2 * (d3 - d1) - d2 + d4;                                                   \
    z[4 * st][c] = 2 * (d1 - d3) - d2 + d4;                                                   \
    z[5 * st][c] = 4 * d1 - 5 * d3 + d5;                                                      \
  }

/* Tiles [t0, t0 + nt) into v [36][tb][C_in]. */
CONV_CLONES static void wino_input(const wino_job *j, int64_t t0, int64_t nt, float *v) {
  const conv_plan *p = j->p;
  int64_t cin = p->cig, H = p->dims[0].span, W = p->dims[1].span;
  int64_t sh = p->dims[0].xs, sw = p->dims[1].xs, per_image = j->th * j->tw;
  for (int64_t i = 0; i < nt; i++) {
    int64_t t = t0 + i, n = t / per_image, ty = t % per_image / j->tw, tx = t % j->tw;
    int64_t y0 = p->dims[0].base[ty * 4], x0 = p->dims[1].base[tx * 4];
    const float *xb = (const float *)p->x + n * p->sn, *src[36];
    for (int a = 0; a < 6; a++)
      for (int b = 0; b < 6; b++) {
        int64_t iy = y0 + a, ix = x0 + b;
        src[a * 6 + b] = iy >= 0 && iy < H && ix >= 0 && ix < W ? xb + iy * sh + ix * sw : NULL;
      }
    for (int64_t c0 = 0; c0 < cin; c0 += WINO_VEC) {
      int64_t cn = cin - c0 < WINO_VEC ? cin - c0 : WINO_VEC;
      float d[36][WINO_VEC], z[36][WINO_VEC];
      for (int k = 0; k < 36; k++) {
        if (cn < WINO_VEC || !src[k]) memset(d[k], 0, sizeof d[k]);
        if (src[k]) wino_copy(d[k], src[k] + c0, cn);
      }
      for (int b = 0; b < 6; b++) {
        float(*dc)[WINO_VEC] = d + b, (*zc)[WINO_VEC] = z + b;
        WINO_BT(dc, zc, 6)
      }
      for (int a = 0; a < 6; a++) {
        float(*zr)[WINO_VEC] = z + a * 6, (*dr)[WINO_VEC] = d + a * 6;
        WINO_BT(zr, dr, 1)
      }
      if (!wino_finite(d)) atomic_store_explicit(&((wino_job *)j)->nonfinite, 1, memory_order_relaxed);
      for (int k = 0; k < 36; k++)
        wino_copy(v + (k * j->tb + i) * cin + c0, d[k], cn);
    }
  }
}

/* A^T along one axis: y[k * st] for k < 4 from m[k * st], k < 6. */
#define WINO_AT(m, y, st)                                                                     \
  for (int c = 0; c < WINO_VEC; c++) {                                                        \
    float m0 = m[0 * st][c], m1 = m[1 * st][c], m2 = m[2 * st][c], m3 = m[3 * st][c];         \
    float m4 = m[4 * st][c], m5 = m[5 * st][c];                                               \
    float s12 = m1 + m2, d12 = m1 - m2, s34 = m3 + m4, d34 = m3 - m4;                         \
    y[0 * st][c] = m0 + s12 + s34;                                                            \
    y[1 * st][c] = d12 + 2 * d34;                                                             \
    y[2 * st][c] = s12 + 4 * s34;                                                             \
    y[3 * st][c] = d12 + 8 * d34 + m5;                                                        \
  }

/* Products m [36][tb][C_out] of tiles [t0, t0 + nt) into the output. */
CONV_CLONES static void wino_output(const wino_job *j, int64_t t0, int64_t nt, const float *m) {
  const conv_plan *p = j->p;
  int64_t cout = p->cout, OH = p->oshape[0], OW = p->oshape[1], per_image = j->th * j->tw;
  for (int64_t i = 0; i < nt; i++) {
    int64_t t = t0 + i, n = t / per_image, oy0 = t % per_image / j->tw * 4, ox0 = t % j->tw * 4;
    int64_t ny = OH - oy0 < 4 ? OH - oy0 : 4, nx = OW - ox0 < 4 ? OW - ox0 : 4;
    float *ob = j->out + ((n * OH + oy0) * OW + ox0) * cout;
    for (int64_t c0 = 0; c0 < cout; c0 += WINO_VEC) {
      int64_t cn = cout - c0 < WINO_VEC ? cout - c0 : WINO_VEC;
      float q[36][WINO_VEC], s[36][WINO_VEC];
      for (int k = 0; k < 36; k++) {
        if (cn < WINO_VEC) memset(q[k], 0, sizeof q[k]);
        wino_copy(q[k], m + (k * j->tb + i) * cout + c0, cn);
      }
      for (int b = 0; b < 6; b++) {
        float(*qc)[WINO_VEC] = q + b, (*sc)[WINO_VEC] = s + b;
        WINO_AT(qc, sc, 6)
      }
      for (int a = 0; a < 4; a++) {
        float(*sr)[WINO_VEC] = s + a * 6, (*qr)[WINO_VEC] = q + a * 6;
        WINO_AT(sr, qr, 1)
      }
      for (int64_t a = 0; a < ny; a++)
        for (int64_t b = 0; b < nx; b++)
          wino_copy(ob + (a * OW + b) * cout + c0, q[a * 6 + b], cn);
    }
  }
}

static void wino_tiling(wino_job *j, const conv_plan *p);

/* Blocks [b, e) of tiles (pool callback). */
static void wino_blocks(void *ctx, int64_t b, int64_t e) {
  wino_job *j = (wino_job *)ctx;
  const conv_plan *p = j->p;
  int64_t cin = p->cig, cout = p->cout;
  float *v = (float *)malloc((size_t)(36 * j->tb * cin) * sizeof(float));
  float *m = (float *)malloc((size_t)(36 * j->tb * cout) * sizeof(float));
  if (!v || !m) {
    atomic_store(&j->failed, 1);
  } else {
    for (int64_t blk = b; blk < e; blk++) {
      int64_t t0 = blk * j->tb, nt = j->tiles - t0 < j->tb ? j->tiles - t0 : j->tb;
      wino_input(j, t0, nt, v);
      for (int k = 0; k < 36; k++)
        mx_cpu_gemm(MX_FLOAT32, false, false, (int)nt, (int)cout, (int)cin, v + k * j->tb * cin,
                    (int)cin, j->u + k * cin * cout, (int)cout, false, m + k * j->tb * cout,
                    (int)cout);
      wino_output(j, t0, nt, m);
    }
  }
  free(v);
  free(m);
}

int mx_cpu_conv_winograd_forward(const conv_plan *p, const mx_tensor *w, mx_tensor *out) {
  wino_job j;
  memset(&j, 0, sizeof j);
  wino_tiling(&j, p);
  j.out = (float *)out->data;
  float *u = (float *)malloc((size_t)(36 * p->cig * p->cout) * sizeof(float));
  if (!u) return mx_fail_int(MX_ENOMEM, "[conv] out of memory.");
  if (!wino_weights(p, w, u)) {
    free(u);
    return 1;
  }
  j.u = u;
  int64_t blocks = (j.tiles + j.tb - 1) / j.tb;
  mx_cpu_parallel_for(blocks, 1, wino_blocks, &j);
  free(u);
  if (atomic_load(&j.failed)) return mx_fail_int(MX_ENOMEM, "[conv] out of memory.");
  return atomic_load(&j.nonfinite) ? 1 : 0;
}

/* The weight gradient is the adjoint of the forward in g: dW = G^T [sum over tiles of
 * (B^T d B) . (A c A^T)] G with c the tile's 4x4 cotangent (zeros past the output's edge). */

/* A applied along one axis: z[k * st], k < 6, from c[k * st], k < 4. */
#define WINO_A(c4, z, st)                                                                     \
  for (int l = 0; l < WINO_VEC; l++) {                                                        \
    float c0 = c4[0 * st][l], c1 = c4[1 * st][l], c2 = c4[2 * st][l], c3 = c4[3 * st][l];     \
    z[0 * st][l] = c0;                                                                        \
    z[1 * st][l] = c0 + c1 + c2 + c3;                                                         \
    z[2 * st][l] = c0 - c1 + c2 - c3;                                                         \
    z[3 * st][l] = c0 + 2 * c1 + 4 * c2 + 8 * c3;                                             \
    z[4 * st][l] = c0 - 2 * c1 + 4 * c2 - 8 * c3;                                             \
    z[5 * st][l] = c3;                                                                        \
  }

/* Cotangent tiles [t0, t0 + nt) into m [36][tb][C_out]. */
CONV_CLONES static void wino_cot(const wino_job *j, int64_t t0, int64_t nt, float *m) {
  const conv_plan *p = j->p;
  int64_t cout = p->cout, OH = p->oshape[0], OW = p->oshape[1], per_image = j->th * j->tw;
  for (int64_t i = 0; i < nt; i++) {
    int64_t t = t0 + i, n = t / per_image, oy0 = t % per_image / j->tw * 4, ox0 = t % j->tw * 4;
    int64_t ny = OH - oy0 < 4 ? OH - oy0 : 4, nx = OW - ox0 < 4 ? OW - ox0 : 4;
    const float *cb = j->cot + ((n * OH + oy0) * OW + ox0) * cout;
    for (int64_t c0 = 0; c0 < cout; c0 += WINO_VEC) {
      int64_t cn = cout - c0 < WINO_VEC ? cout - c0 : WINO_VEC;
      float q[36][WINO_VEC], s[36][WINO_VEC];
      memset(q, 0, sizeof q);
      for (int64_t a = 0; a < ny; a++)
        for (int64_t b = 0; b < nx; b++)
          wino_copy(q[a * 6 + b], cb + (a * OW + b) * cout + c0, cn);
      for (int b = 0; b < 4; b++) {
        float(*qc)[WINO_VEC] = q + b, (*sc)[WINO_VEC] = s + b;
        WINO_A(qc, sc, 6)
      }
      for (int a = 0; a < 6; a++) {
        float(*sr)[WINO_VEC] = s + a * 6, (*qr)[WINO_VEC] = q + a * 6;
        WINO_A(sr, qr, 1)
      }
      if (!wino_finite(q)) atomic_store_explicit(&((wino_job *)j)->nonfinite, 1, memory_order_relaxed);
      for (int k = 0; k < 36; k++)
        wino_copy(m + (k * j->tb + i) * cout + c0, q[k], cn);
    }
  }
}

/* Blocks [b, e) of tiles: their products summed into a partial, added to acc (pool callback). */
static void wino_weight_blocks(void *ctx, int64_t b, int64_t e) {
  wino_job *j = (wino_job *)ctx;
  const conv_plan *p = j->p;
  int64_t cin = p->cig, cout = p->cout;
  float *v = (float *)malloc((size_t)(36 * j->tb * cin) * sizeof(float));
  float *m = (float *)malloc((size_t)(36 * j->tb * cout) * sizeof(float));
  float *part = (float *)malloc((size_t)(36 * cin * cout) * sizeof(float));
  if (!v || !m || !part) {
    atomic_store(&j->failed, 1);
  } else {
    for (int64_t blk = b; blk < e; blk++) {
      int64_t t0 = blk * j->tb, nt = j->tiles - t0 < j->tb ? j->tiles - t0 : j->tb;
      wino_input(j, t0, nt, v);
      wino_cot(j, t0, nt, m);
      for (int k = 0; k < 36; k++)
        mx_cpu_gemm(MX_FLOAT32, true, false, (int)cin, (int)cout, (int)nt, v + k * j->tb * cin,
                    (int)cin, m + k * j->tb * cout, (int)cout, blk > b, part + k * cin * cout,
                    (int)cout);
    }
    pthread_mutex_lock(&j->mu);
    for (int64_t i = 0; i < 36 * cin * cout; i++) j->acc[i] += part[i];
    pthread_mutex_unlock(&j->mu);
  }
  free(v);
  free(m);
  free(part);
}

/* dW (C_out, 3, 3, C_in) = G^T S G per (c_out, c_in), taps placed as the plan reads them. */
static void wino_weights_back(const conv_plan *p, const float *acc, mx_tensor *out) {
  static const double G[6][3] = {{0.25, 0, 0},
                                 {-1.0 / 6, -1.0 / 6, -1.0 / 6},
                                 {-1.0 / 6, 1.0 / 6, -1.0 / 6},
                                 {1.0 / 24, 1.0 / 12, 1.0 / 6},
                                 {1.0 / 24, -1.0 / 12, 1.0 / 6},
                                 {0, 0, 1}};
  int64_t cin = p->cig, cout = p->cout;
  float *od = (float *)out->data;
  for (int64_t o = 0; o < cout; o++)
    for (int64_t i = 0; i < cin; i++) {
      double t[3][6];
      for (int a = 0; a < 3; a++)
        for (int s = 0; s < 6; s++) {
          double v = 0;
          for (int r = 0; r < 6; r++) v += G[r][a] * acc[((r * 6 + s) * cin + i) * cout + o];
          t[a][s] = v;
        }
      for (int a = 0; a < 3; a++)
        for (int b = 0; b < 3; b++) {
          double v = 0;
          for (int s = 0; s < 6; s++) v += t[a][s] * G[s][b];
          int64_t ka = p->dims[0].koff[a], kb = p->dims[1].koff[b];
          od[((o * 3 + ka) * 3 + kb) * cin + i] = (float)v;
        }
    }
}

static void wino_tiling(wino_job *j, const conv_plan *p) {
  j->p = p;
  j->th = (p->oshape[0] + 3) / 4;
  j->tw = (p->oshape[1] + 3) / 4;
  j->tiles = (p->m / ((int64_t)p->oshape[0] * p->oshape[1])) * j->th * j->tw;
  int64_t widest = p->cig > p->cout ? p->cig : p->cout;
  j->tb = WINO_BLOCK_ELEMS / widest;
  if (j->tb < 16) j->tb = 16;
  if (j->tb > j->tiles) j->tb = j->tiles;
  atomic_init(&j->failed, 0);
  atomic_init(&j->nonfinite, 0);
}

int mx_cpu_conv_winograd_weight(const conv_plan *p, const float *cot, mx_tensor *out) {
  wino_job j;
  memset(&j, 0, sizeof j);
  wino_tiling(&j, p);
  j.cot = cot;
  j.acc = (float *)calloc((size_t)(36 * p->cig * p->cout), sizeof(float));
  if (!j.acc) return mx_fail_int(MX_ENOMEM, "[conv] out of memory.");
  pthread_mutex_init(&j.mu, NULL);
  int64_t blocks = (j.tiles + j.tb - 1) / j.tb;
  /* a few blocks per task: each task's partial sums cost a merge */
  int64_t grain = blocks / (2 * mx_cpu_pool_size());
  mx_cpu_parallel_for(blocks, grain > 0 ? grain : 1, wino_weight_blocks, &j);
  pthread_mutex_destroy(&j.mu);
  int rc = atomic_load(&j.failed) ? mx_fail_int(MX_ENOMEM, "[conv] out of memory.") : 0;
  if (rc == 0 && atomic_load(&j.nonfinite)) rc = 1;
  if (rc == 0) wino_weights_back(p, j.acc, out);
  free(j.acc);
  return rc;
}
