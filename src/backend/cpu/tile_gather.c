/* tile_gather.c: broadcast views of operands merged to few dims, their gather into
 * contiguous tiles (two innermost dims walked as a loop nest, one loop per element size),
 * and the tiled binary driver built on them. */
#include "tile_gather.h"

#include <stdatomic.h>
#include <string.h>

#include "pool.h"

#define TG_TILE 2048

int mx_cpu_gview_init(mx_cpu_gview *v, const mx_tensor *in, const mx_tensor *out) {
  int lead = out->ndim - in->ndim, n = 0, cap = out->ndim > 1 ? out->ndim : 1;
  v->heap = NULL;
  v->shape = v->buf;
  if (cap > MX_CPU_ITER_INLINE) {
    v->heap = (int64_t *)malloc((size_t)cap * 2 * sizeof(int64_t));
    if (!v->heap) return mx_fail_int(MX_ENOMEM, "[malloc] Unable to allocate a gather view.");
    v->shape = v->heap;
  }
  v->strides = v->shape + cap;
  if (lead < 0) {
    mx_cpu_gview_free(v);
    return mx_fail_int(MX_EINVAL, "[gather] The operand does not broadcast to the output.");
  }
  for (int d = 0; d < out->ndim; d++) {
    int64_t sz = out->shape[d], st = 0;
    if (d >= lead) {
      int32_t m = in->shape[d - lead];
      if (m == sz) {
        st = m == 1 ? 0 : in->strides[d - lead];
      } else if (m != 1) {
        mx_cpu_gview_free(v);
        return mx_fail_int(MX_EINVAL, "[gather] The operand does not broadcast to the output.");
      }
    }
    if (sz == 1) continue;
    if (n > 0 && v->strides[n - 1] == st * sz) {
      v->shape[n - 1] *= sz;
      v->strides[n - 1] = st;
      continue;
    }
    v->shape[n] = sz;
    v->strides[n++] = st;
  }
  if (n == 0) {
    v->shape[0] = 1;
    v->strides[0] = 0;
    n = 1;
  }
  v->nd = n;
  return 0;
}

bool mx_cpu_gview_periodic(const mx_cpu_gview *v, int64_t tile) {
  int64_t period = 1;
  int d = v->nd - 1;
  for (; d >= 0 && v->strides[d] != 0; d--) period *= v->shape[d];
  for (; d >= 0; d--)
    if (v->strides[d] != 0) return false;
  return period > 0 && tile % period == 0;
}

void mx_cpu_gview_free(mx_cpu_gview *v) {
  free(v->heap);
  v->heap = NULL;
}

/* tg_gather_<T>: the elements in order, the three innermost dims walked as a loop nest
 * (a block); the offset of each block's outer dims is computed from its index. */
#define TG_GATHER_DEF(T)                                                                   \
  static void tg_gather_##T(const T *base, const mx_cpu_gview *v, int64_t t0, int64_t n,  \
                            T *dst) {                                                     \
    int nd = v->nd;                                                                       \
    const int64_t *shape = v->shape, *bs = v->strides;                                    \
    int64_t n0 = shape[nd - 1], s0 = bs[nd - 1];                                          \
    int64_t n1 = nd > 1 ? shape[nd - 2] : 1, s1 = nd > 1 ? bs[nd - 2] : 0;                \
    int64_t n2 = nd > 2 ? shape[nd - 3] : 1, s2 = nd > 2 ? bs[nd - 3] : 0;                \
    int64_t plane = n0 * n1, block = plane * n2;                                          \
    int64_t blk = t0 / block, rem = t0 % block;                                           \
    int64_t i2 = rem / plane, i1 = rem % plane / n0, i0 = rem % n0, done = 0;             \
    for (; done < n; blk++) {                                                             \
      int64_t off = 0, b = blk;                                                           \
      for (int d = nd - 4; d >= 0 && b > 0; d--) {                                        \
        off += b % shape[d] * bs[d];                                                      \
        b /= shape[d];                                                                    \
      }                                                                                   \
      for (; i2 < n2 && done < n; i2++) {                                                 \
        for (; i1 < n1 && done < n; i1++) {                                               \
          int64_t run = n0 - i0 < n - done ? n0 - i0 : n - done;                          \
          const T *x = base + off + i2 * s2 + i1 * s1 + i0 * s0;                          \
          T *y = dst + done;                                                              \
          if (s0 == 1)                                                                    \
            for (int64_t i = 0; i < run; i++) y[i] = x[i];                                \
          else if (s0 == 0)                                                               \
            for (int64_t i = 0; i < run; i++) y[i] = x[0];                                \
          else                                                                            \
            for (int64_t i = 0; i < run; i++) y[i] = x[i * s0];                           \
          done += run;                                                                    \
          i0 = 0;                                                                         \
        }                                                                                 \
        if (done >= n) break;                                                             \
        i1 = 0;                                                                           \
      }                                                                                   \
      i2 = 0;                                                                             \
    }                                                                                     \
  }

TG_GATHER_DEF(uint8_t)
TG_GATHER_DEF(uint16_t)
TG_GATHER_DEF(uint32_t)
TG_GATHER_DEF(uint64_t)

void mx_cpu_gather_tile(const mx_tensor *in, const mx_cpu_gview *v, int64_t t0, int64_t n,
                        void *dst) {
  switch (mx_dtype_size(in->dtype)) {
  case 1: tg_gather_uint8_t(in->data, v, t0, n, (uint8_t *)dst); break;
  case 2: tg_gather_uint16_t(in->data, v, t0, n, (uint16_t *)dst); break;
  case 4: tg_gather_uint32_t(in->data, v, t0, n, (uint32_t *)dst); break;
  default: tg_gather_uint64_t(in->data, v, t0, n, (uint64_t *)dst); break;
  }
}

/* ---- the tiled binary driver ---- */

typedef enum { TG_DIRECT, TG_SCALAR, TG_GATHER, TG_PERIODIC } tg_mode;

typedef struct tg_job {
  mx_cpu_binary_tile_fn fn;
  mx_dtype res_t;
  const mx_tensor *in;
  mx_tensor *out;
  tg_mode mode[2];
  mx_cpu_gview view[2];
  _Atomic int failed;
} tg_job;

static void tg_tiles(void *ctx, int64_t t0, int64_t t1) {
  tg_job *j = (tg_job *)ctx;
  int isz = mx_dtype_size(j->in[0].dtype), osz = mx_dtype_size(j->out->dtype);
  bool convert = j->res_t != j->out->dtype;
  char *mem = (char *)malloc((size_t)TG_TILE * 8 * 3);
  if (!mem) {
    atomic_store(&j->failed, 1);
    return;
  }
  char *tile[2] = {mem, mem + TG_TILE * 8}, *res = mem + 2 * TG_TILE * 8;
  int64_t N = j->out->size;
  for (int k = 0; k < 2; k++) /* the same values in every tile (prefix for a short last one) */
    if (j->mode[k] == TG_PERIODIC)
      mx_cpu_gather_tile(&j->in[k], &j->view[k], 0, N < TG_TILE ? N : TG_TILE, tile[k]);
  for (int64_t t = t0; t < t1; t++) {
    int64_t e0 = t * TG_TILE, n = N - e0 < TG_TILE ? N - e0 : TG_TILE;
    const char *src[2];
    int64_t st[2];
    for (int k = 0; k < 2; k++) {
      const mx_tensor *x = &j->in[k];
      st[k] = j->mode[k] == TG_SCALAR ? 0 : 1;
      if (j->mode[k] == TG_DIRECT) {
        src[k] = (const char *)x->data + e0 * isz;
      } else if (j->mode[k] == TG_SCALAR) {
        src[k] = (const char *)x->data;
      } else if (j->mode[k] == TG_PERIODIC) {
        src[k] = tile[k];
      } else {
        mx_cpu_gather_tile(x, &j->view[k], e0, n, tile[k]);
        src[k] = tile[k];
      }
    }
    char *o = (char *)j->out->data + e0 * osz;
    if (!convert) {
      j->fn(src[0], st[0], src[1], st[1], o, n);
    } else {
      j->fn(src[0], st[0], src[1], st[1], res, n);
      mx_cpu_convert(res, j->res_t, 1, o, j->out->dtype, 1, n);
    }
  }
  free(mem);
}

int mx_cpu_binary_tiled(mx_cpu_binary_tile_fn fn, mx_dtype res_t, const mx_tensor *in,
                        mx_tensor *out) {
  tg_job j;
  j.fn = fn;
  j.res_t = res_t;
  j.in = in;
  j.out = out;
  atomic_init(&j.failed, 0);
  j.mode[0] = j.mode[1] = TG_DIRECT;
  int rc = 0, made = 0;
  for (int k = 0; k < 2 && rc == 0; k++) {
    const mx_tensor *x = &in[k];
    bool zero = true;
    for (int d = 0; d < x->ndim; d++) zero &= x->shape[d] == 1 || x->strides[d] == 0;
    if (zero) {
      j.mode[k] = TG_SCALAR;
    } else if (mx_cpu_same_rows(x, out)) {
      j.mode[k] = TG_DIRECT;
    } else {
      j.mode[k] = TG_GATHER;
      rc = mx_cpu_gview_init(&j.view[k], x, out);
      made += rc == 0;
      if (rc == 0 && mx_cpu_gview_periodic(&j.view[k], TG_TILE)) j.mode[k] = TG_PERIODIC;
    }
  }
  if (rc == 0) {
    int64_t tiles = (out->size + TG_TILE - 1) / TG_TILE, grain = MX_CPU_PARALLEL_GRAIN / TG_TILE;
    mx_cpu_parallel_for(tiles, grain > 0 ? grain : 1, tg_tiles, &j);
    if (atomic_load(&j.failed))
      rc = mx_fail_int(MX_ENOMEM, "[malloc] Unable to allocate kernel scratch.");
  }
  for (int k = 0; k < 2; k++)
    if ((j.mode[k] == TG_GATHER || j.mode[k] == TG_PERIODIC) && made-- > 0)
      mx_cpu_gview_free(&j.view[k]);
  return rc;
}
