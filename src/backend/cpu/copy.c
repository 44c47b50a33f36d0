/* copy.c: strided copy and astype between all 14 dtypes (the converters come from the
 * conversion formulas of formulas.h), and the kernels built on them: Copy, AsType and the
 * view primitives when a view cannot be resolved at schedule time (Reshape of a
 * non-contiguous input, Transpose, Broadcast, Slice, StopGradient), plus Depends. */
#include <string.h>

#include "../formulas.h"
#include "cpu.h"
#include "pool.h"
#include "tile_gather.h"

typedef void (*cvt_fn)(const void *src, int64_t ss, void *dst, int64_t ds, int64_t n);

/* cvt_<s>_<d>: n elements, contiguous fast loop or strided loop. */
#define CVT_FN(s, d)                                                                   \
  static void cvt_##s##_##d(const void *src_, int64_t ss, void *dst_, int64_t ds,       \
                            int64_t n) {                                               \
    const MX_ST_##s *src = (const MX_ST_##s *)src_;                                    \
    MX_ST_##d *dst = (MX_ST_##d *)dst_;                                                \
    if (ss == 1 && ds == 1) {                                                          \
      for (int64_t i = 0; i < n; i++) dst[i] = MX_CVT(s, d, src[i]);                   \
    } else {                                                                           \
      for (int64_t i = 0; i < n; i++) dst[i * ds] = MX_CVT(s, d, src[i * ss]);         \
    }                                                                                  \
  }
#define CVT_ROW(unused, s) MX_DTYPE_SFX_LIST2(CVT_FN, s)
MX_DTYPE_SFX_LIST(CVT_ROW, _)

#define CVT_ENT(s, d) [MX_DT_##d] = cvt_##s##_##d,
#define CVT_TAB_ROW(unused, s) [MX_DT_##s] = {MX_DTYPE_SFX_LIST2(CVT_ENT, s)},
static const cvt_fn cvt_tab[MX_DTYPE_COUNT][MX_DTYPE_COUNT] = {
    MX_DTYPE_SFX_LIST(CVT_TAB_ROW, _)};

/* Same-dtype copy by element size (bool/f16/bf16/c64 included: bits are copied). */
#define MOVE_SIZED(T)                                                       \
  do {                                                                      \
    const T *s_ = (const T *)src;                                           \
    T *d_ = (T *)dst;                                                       \
    if (ss == 0) {                                                          \
      T v_ = s_[0];                                                         \
      for (int64_t i = 0; i < n; i++) d_[i * ds] = v_;                      \
    } else {                                                                \
      for (int64_t i = 0; i < n; i++) d_[i * ds] = s_[i * ss];              \
    }                                                                       \
  } while (0)

static void move_same(const void *src, int64_t ss, void *dst, int64_t ds, int64_t n, int size) {
  if (ss == 1 && ds == 1) {
    if (src != dst) memcpy(dst, src, (size_t)n * (size_t)size);
    return;
  }
  switch (size) {
  case 1: MOVE_SIZED(uint8_t); break;
  case 2: MOVE_SIZED(uint16_t); break;
  case 4: MOVE_SIZED(uint32_t); break;
  default: MOVE_SIZED(uint64_t); break;
  }
}

/* bool (stored 0/1) to float32 / float64, contiguous: read as bytes so the loop vectorizes
 * (baseline, AVX2 and AVX-512 builds chosen at load time). */
#if defined(__x86_64__) && defined(__GNUC__) && defined(__linux__) && \
    !defined(__SANITIZE_THREAD__) && !defined(__clang__)
#define COPY_CLONES __attribute__((target_clones("default", "arch=x86-64-v3", "arch=x86-64-v4")))
#else
#define COPY_CLONES
#endif

COPY_CLONES static void cvt_bytes_f32(const uint8_t *src, float *dst, int64_t n) {
  for (int64_t i = 0; i < n; i++) dst[i] = (float)src[i];
}

COPY_CLONES static void cvt_bytes_f64(const uint8_t *src, double *dst, int64_t n) {
  for (int64_t i = 0; i < n; i++) dst[i] = (double)src[i];
}

void mx_cpu_convert(const void *src, mx_dtype st, int64_t ss, void *dst, mx_dtype dt, int64_t ds,
                    int64_t n) {
  if (n <= 0) return;
  if (st == MX_BOOL && ss == 1 && ds == 1 && (dt == MX_FLOAT32 || dt == MX_FLOAT64)) {
    if (dt == MX_FLOAT32) cvt_bytes_f32((const uint8_t *)src, (float *)dst, n);
    else cvt_bytes_f64((const uint8_t *)src, (double *)dst, n);
    return;
  }
  if (st == dt)
    move_same(src, ss, dst, ds, n, mx_dtype_size(st));
  else
    cvt_tab[st][dt](src, ss, dst, ds, n);
}

static int check_dtype(const char *op, mx_dtype t) {
  if ((unsigned)t >= (unsigned)MX_DTYPE_COUNT)
    return mx_fail_int(MX_ETYPE, "[%s] Invalid dtype %d.", op, (int)t);
  return 0;
}

#define COPY_BLOCK 64 /* transposing copies move COPY_BLOCK x COPY_BLOCK tiles */

/* Runs over equal shapes: dst[idx] = convert(src[idx]). When the run is strided in src but
 * the next-outer dim is contiguous in src (a transpose), each plane of those two dims is
 * copied in tiles through a small buffer: every src and dst line is touched once, in
 * order, so power-of-two strides do not thrash cache sets or the TLB. */
static int copy_same_shape(const mx_tensor *src, mx_tensor *dst) {
  const int64_t *strides[2] = {dst->strides, src->strides};
  mx_cpu_iter it;
  if (mx_cpu_iter_init(&it, 2, dst->ndim, dst->shape, strides) < 0) return -1;
  int nd = it.ndim;
  int64_t n = mx_cpu_iter_len(&it), offs[2];
  int64_t sd = mx_cpu_iter_stride(&it, 0), ssrc = mx_cpu_iter_stride(&it, 1);
  int64_t rows = nd >= 2 ? it.shape[nd - 2] : 1;
  bool tiled = nd >= 2 && n >= COPY_BLOCK && rows >= COPY_BLOCK && ssrc != 1 &&
               it.strides[1 * nd + nd - 2] == 1;
  int64_t rd = tiled ? it.strides[0 * nd + nd - 2] : 0; /* dst stride between runs */
  int dsz = mx_dtype_size(dst->dtype);
  char *buf = NULL; /* tile, [j][i], in the dst dtype */
  if (tiled && !(buf = (char *)malloc((size_t)COPY_BLOCK * COPY_BLOCK * (size_t)dsz))) {
    mx_cpu_iter_free(&it);
    return mx_fail_int(MX_ENOMEM, "[malloc] Unable to allocate %zu bytes.",
                       (size_t)COPY_BLOCK * COPY_BLOCK * (size_t)dsz);
  }
  mx_cpu_iter_seek(&it, 0, offs);
  for (int64_t r = 0; r < it.nruns;) {
    int64_t g = 1;
    if (tiled) { /* a whole (rows x n) plane; the iterator sits at its first run */
      g = rows;
      for (int64_t ib = 0; ib < rows; ib += COPY_BLOCK) {
        int64_t gi = rows - ib < COPY_BLOCK ? rows - ib : COPY_BLOCK;
        for (int64_t jb = 0; jb < n; jb += COPY_BLOCK) {
          int64_t gj = n - jb < COPY_BLOCK ? n - jb : COPY_BLOCK;
          char *b = buf;
          for (int64_t j = 0; j < gj; j++) /* src: gi contiguous elements per column */
            mx_cpu_convert(mx_cpu_at(src, offs[1] + ib + (jb + j) * ssrc), src->dtype, 1,
                           b + j * COPY_BLOCK * dsz, dst->dtype, 1, gi);
          for (int64_t i = 0; i < gi; i++) /* dst: gj elements along each row */
            mx_cpu_convert(b + i * dsz, dst->dtype, COPY_BLOCK,
                           mx_cpu_at(dst, offs[0] + (ib + i) * rd + jb * sd), dst->dtype, sd, gj);
        }
      }
    } else {
      mx_cpu_convert(mx_cpu_at(src, offs[1]), src->dtype, ssrc, mx_cpu_at(dst, offs[0]),
                     dst->dtype, sd, n);
    }
    for (int64_t k = 0; k < g; k++) mx_cpu_iter_next(&it, offs);
    r += g;
  }
  free(buf);
  mx_cpu_iter_free(&it);
  return 0;
}

/* Row-major walk of src into a row-contiguous dst of another shape. */
static int copy_reshaped(const mx_tensor *src, mx_tensor *dst) {
  const int64_t *strides[1] = {src->strides};
  mx_cpu_iter it;
  if (mx_cpu_iter_init(&it, 1, src->ndim, src->shape, strides) < 0) return -1;
  int64_t n = mx_cpu_iter_len(&it), s = mx_cpu_iter_stride(&it, 0), offs[1];
  mx_cpu_iter_seek(&it, 0, offs);
  for (int64_t r = 0; r < it.nruns; r++) {
    mx_cpu_convert(mx_cpu_at(src, offs[0]), src->dtype, s, mx_cpu_at(dst, r * n), dst->dtype, 1,
                   n);
    mx_cpu_iter_next(&it, offs);
  }
  mx_cpu_iter_free(&it);
  return 0;
}

static bool same_shape(const mx_tensor *a, const mx_tensor *b) {
  if (a->ndim != b->ndim) return false;
  for (int d = 0; d < a->ndim; d++)
    if (a->shape[d] != b->shape[d]) return false;
  return true;
}

/* Same-dtype copies whose source runs are short (under COPY_SHORT_RUN elements, contiguous
 * or repeated: window views, broadcasts, permutations that keep a short last axis) into a
 * row-contiguous dst: src gathered in its row-major order, tile by tile, split over the pool. */
#define COPY_SHORT_RUN 256
#define COPY_GATHER_TILE 4096

typedef struct copy_gather_job {
  const mx_tensor *src;
  mx_tensor *dst;
  const mx_cpu_gview *v;
} copy_gather_job;

static void copy_gather_tiles(void *ctx, int64_t t0, int64_t t1) {
  copy_gather_job *j = (copy_gather_job *)ctx;
  int64_t N = j->dst->size;
  for (int64_t t = t0; t < t1; t++) {
    int64_t e0 = t * COPY_GATHER_TILE, n = N - e0 < COPY_GATHER_TILE ? N - e0 : COPY_GATHER_TILE;
    mx_cpu_gather_tile(j->src, j->v, e0, n, mx_cpu_at(j->dst, e0));
  }
}

/* 1 when done, 0 when this path does not apply, -1 on error. */
static int copy_gathered(const mx_tensor *src, mx_tensor *dst) {
  if (src->dtype != dst->dtype || dst->size < COPY_GATHER_TILE || !mx_cpu_is_row_contig(dst))
    return 0;
  mx_cpu_gview v;
  if (mx_cpu_gview_init(&v, src, src) < 0) return -1;
  int64_t s0 = v.strides[v.nd - 1];
  int rc = 0;
  if (v.nd > 1 && v.shape[v.nd - 1] < COPY_SHORT_RUN && (s0 == 1 || s0 == 0)) {
    copy_gather_job j = {src, dst, &v};
    int64_t tiles = (dst->size + COPY_GATHER_TILE - 1) / COPY_GATHER_TILE;
    int64_t grain = MX_CPU_PARALLEL_GRAIN / COPY_GATHER_TILE;
    mx_cpu_parallel_for(tiles, grain > 0 ? grain : 1, copy_gather_tiles, &j);
    rc = 1;
  }
  mx_cpu_gview_free(&v);
  return rc;
}

int mx_cpu_copy_strided(const mx_tensor *src, mx_tensor *dst) {
  if (check_dtype("copy", src->dtype) < 0 || check_dtype("copy", dst->dtype) < 0) return -1;
  if (src->size == dst->size) {
    int g = copy_gathered(src, dst);
    if (g != 0) return g < 0 ? -1 : 0;
  }
  if (same_shape(src, dst)) return dst->size == 0 ? 0 : copy_same_shape(src, dst);
  if (src->size != dst->size)
    return mx_fail_int(MX_EINVAL, "[copy] Cannot copy %lld elements into %lld.",
                       (long long)src->size, (long long)dst->size);
  if (!mx_cpu_is_row_contig(dst))
    return mx_fail_int(MX_EINVAL, "[copy] A reshaping copy needs a row-contiguous destination.");
  return dst->size == 0 ? 0 : copy_reshaped(src, dst);
}

static int expect_io(const char *op, int n_in, int want_in, int n_out) {
  if (n_in != want_in || n_out != 1)
    return mx_fail_int(MX_EINVAL, "[%s] Expected %d input(s) and 1 output, got %d and %d.", op,
                       want_in, n_in, n_out);
  return 0;
}

/* ---- Copy, AsType, StopGradient, Reshape: src as it is into out ---- */

static int copy_forward(const char *op, const mx_tensor *in, int n_in, mx_tensor *out, int n_out) {
  if (expect_io(op, n_in, 1, n_out) < 0) return -1;
  if (in->size != out->size)
    return mx_fail_int(MX_EINVAL, "[%s] Input has %lld elements, output %lld.", op,
                       (long long)in->size, (long long)out->size);
  return mx_cpu_copy_strided(in, out);
}

int mx_cpu_copy(const mx_kernel_ctx *ctx, const mx_tensor *in, int n_in, mx_tensor *out,
                int n_out) {
  (void)ctx;
  return copy_forward("copy", in, n_in, out, n_out);
}

int mx_cpu_astype(const mx_kernel_ctx *ctx, const mx_tensor *in, int n_in, mx_tensor *out,
                  int n_out) {
  (void)ctx;
  return copy_forward("astype", in, n_in, out, n_out);
}

int mx_cpu_stop_gradient(const mx_kernel_ctx *ctx, const mx_tensor *in, int n_in, mx_tensor *out,
                         int n_out) {
  (void)ctx;
  return copy_forward("stop_gradient", in, n_in, out, n_out);
}

int mx_cpu_reshape(const mx_kernel_ctx *ctx, const mx_tensor *in, int n_in, mx_tensor *out,
                   int n_out) {
  (void)ctx;
  return copy_forward("reshape", in, n_in, out, n_out);
}

/* ---- Transpose, Broadcast, Slice: build the view of the input, then copy it ---- */

typedef struct view_buf {
  int64_t *strides;
  int64_t inline_strides[MX_CPU_ITER_INLINE];
} view_buf;

static int64_t *view_strides(view_buf *vb, int ndim) {
  if (ndim <= MX_CPU_ITER_INLINE) return vb->strides = vb->inline_strides;
  vb->strides = (int64_t *)malloc((size_t)ndim * sizeof(int64_t));
  if (!vb->strides)
    mx_fail(MX_ENOMEM, "[malloc] Unable to allocate %zu bytes.", (size_t)ndim * sizeof(int64_t));
  return vb->strides;
}

static void view_free(view_buf *vb) {
  if (vb->strides != vb->inline_strides) free(vb->strides);
}

static int copy_view(const mx_tensor *in, void *data, const int64_t *strides, mx_tensor *out) {
  mx_tensor v = *out;
  v.data = data;
  v.dtype = in->dtype;
  v.strides = strides;
  v.flags = 0;
  return mx_cpu_copy_strided(&v, out);
}

int mx_cpu_transpose(const mx_kernel_ctx *ctx, const mx_tensor *in, int n_in, mx_tensor *out,
                     int n_out) {
  if (expect_io("transpose", n_in, 1, n_out) < 0) return -1;
  const mx_p_transpose *p = (const mx_p_transpose *)ctx->params;
  if (!p || p->axes.n != in->ndim || out->ndim != in->ndim)
    return mx_fail_int(MX_EINVAL, "[transpose] Axes do not match the input dimensions.");
  view_buf vb;
  if (!view_strides(&vb, in->ndim)) return -1;
  int rc = 0;
  for (int i = 0; i < in->ndim && rc == 0; i++) {
    int ax = p->axes.v[i];
    if (ax < 0 || ax >= in->ndim || in->shape[ax] != out->shape[i])
      rc = mx_fail_int(MX_EINVAL, "[transpose] Invalid axis %d for output dim %d.", ax, i);
    else
      vb.strides[i] = in->strides[ax];
  }
  if (rc == 0) rc = copy_view(in, in->data, vb.strides, out);
  view_free(&vb);
  return rc;
}

int mx_cpu_broadcast(const mx_kernel_ctx *ctx, const mx_tensor *in, int n_in, mx_tensor *out,
                     int n_out) {
  (void)ctx;
  if (expect_io("broadcast", n_in, 1, n_out) < 0) return -1;
  if (in->ndim > out->ndim)
    return mx_fail_int(MX_EINVAL, "[broadcast] Input has more dims than the output.");
  view_buf vb;
  if (!view_strides(&vb, out->ndim)) return -1;
  int lead = out->ndim - in->ndim, rc = 0;
  for (int i = 0; i < out->ndim && rc == 0; i++) {
    if (i < lead) {
      vb.strides[i] = 0;
      continue;
    }
    int32_t s = in->shape[i - lead];
    if (s == out->shape[i])
      vb.strides[i] = in->strides[i - lead];
    else if (s == 1)
      vb.strides[i] = 0;
    else
      rc = mx_fail_int(MX_EINVAL, "[broadcast] Cannot broadcast dim %d of size %d to %d.", i, s,
                       out->shape[i]);
  }
  if (rc == 0) rc = copy_view(in, in->data, vb.strides, out);
  view_free(&vb);
  return rc;
}

int mx_cpu_slice(const mx_kernel_ctx *ctx, const mx_tensor *in, int n_in, mx_tensor *out,
                 int n_out) {
  if (expect_io("slice", n_in, 1, n_out) < 0) return -1;
  const mx_p_slice *p = (const mx_p_slice *)ctx->params;
  if (!p || p->start.n != in->ndim || p->strides.n != in->ndim || out->ndim != in->ndim)
    return mx_fail_int(MX_EINVAL, "[slice] Parameters do not match the input dimensions.");
  view_buf vb;
  if (!view_strides(&vb, in->ndim)) return -1;
  int64_t off = 0;
  for (int i = 0; i < in->ndim; i++) {
    if (out->shape[i] > 0) off += (int64_t)p->start.v[i] * in->strides[i];
    vb.strides[i] = in->strides[i] * p->strides.v[i];
  }
  int rc = copy_view(in, out->size ? mx_cpu_at(in, off) : in->data, vb.strides, out);
  view_free(&vb);
  return rc;
}

/* Depends: outputs are the first n_out inputs, ordered after the rest; copy unless aliased. */
int mx_cpu_depends(const mx_kernel_ctx *ctx, const mx_tensor *in, int n_in, mx_tensor *out,
                   int n_out) {
  (void)ctx;
  if (n_out > n_in) return mx_fail_int(MX_EINVAL, "[depends] More outputs than inputs.");
  for (int i = 0; i < n_out; i++) {
    if (out[i].data == in[i].data && out[i].dtype == in[i].dtype) continue;
    if (mx_cpu_copy_strided(&in[i], &out[i]) < 0) return -1;
  }
  return 0;
}
