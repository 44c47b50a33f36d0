/* fft.cu: the FFT primitive on CUDA through cuFFT, the twin of cpu/fft.c: one pass per
 * transformed axis, last axis first; a real forward transform does its real axis (the last
 * of axes) first, a real inverse does it last after complex inverse passes into scratch.
 * A pass runs one batched 1-d single-precision plan over the lines along its axis, gathered
 * into contiguous scratch when they are not already; inverses divide by the length. */
#include <cufft.h>
#include <pthread.h>
#include <string.h>

#include "elementwise.cuh"
#include "../kernel_checks.h"

#define FT_CACHE 32

typedef enum { FT_C2C, FT_R2C, FT_C2R } ft_mode;

/* Plans are made without a work area (it comes from scratch at each execution), so one plan
 * serves every stream; the lock covers the cache and the set-stream/execute pair. */
typedef struct ft_key {
  int32_t dev, type;
  int64_t n, idist, odist, batch;
} ft_key;

typedef struct ft_entry {
  bool used;
  ft_key key;
  cufftHandle plan;
  size_t ws;
} ft_entry;

static pthread_mutex_t ft_lock = PTHREAD_MUTEX_INITIALIZER;
static ft_entry ft_cache[FT_CACHE];
static int ft_next; /* round-robin victim */

static int ft_fail(const char *what, cufftResult r) {
  return mx_fail_int(MX_ERUNTIME, "[fft] cuFFT %s failed (status %d).", what, (int)r);
}

/* The cached (or new) plan for k; called under ft_lock. NULL with the error set. */
static ft_entry *ft_plan(const ft_key *k) {
  for (int i = 0; i < FT_CACHE; i++)
    if (ft_cache[i].used && memcmp(&ft_cache[i].key, k, sizeof *k) == 0) return &ft_cache[i];
  ft_entry *e = &ft_cache[ft_next];
  ft_next = (ft_next + 1) % FT_CACHE;
  if (e->used) {
    /* executions already enqueued may still read the plan's tables */
    (void)cudaDeviceSynchronize();
    cufftDestroy(e->plan);
    e->used = false;
  }
  cufftHandle h;
  cufftResult r = cufftCreate(&h);
  if (r != CUFFT_SUCCESS) {
    ft_fail("plan creation", r);
    return nullptr;
  }
  r = cufftSetAutoAllocation(h, 0);
  long long n[1] = {(long long)k->n}, inembed[1] = {(long long)k->idist},
            onembed[1] = {(long long)k->odist};
  size_t ws = 0;
  if (r == CUFFT_SUCCESS)
    r = cufftMakePlanMany64(h, 1, n, inembed, 1, (long long)k->idist, onembed, 1,
                            (long long)k->odist, (cufftType)k->type, (long long)k->batch, &ws);
  if (r != CUFFT_SUCCESS) {
    cufftDestroy(h);
    ft_fail("plan", r);
    return nullptr;
  }
  e->used = true;
  e->key = *k;
  e->plan = h;
  e->ws = ws;
  return e;
}

/* Enqueues the transform of k from idata to odata on q. 0, or -1 with the error set. */
static int ft_exec(const ft_key *k, void *idata, void *odata, bool inverse, cudaStream_t q) {
  pthread_mutex_lock(&ft_lock);
  int rc = -1;
  ft_entry *e = ft_plan(k);
  void *ws = nullptr;
  if (e && e->ws > 0) ws = mx_cuda_scratch(e->ws, q);
  if (e && (e->ws == 0 || ws)) {
    cufftResult r = CUFFT_SUCCESS;
    if (ws) r = cufftSetWorkArea(e->plan, ws);
    if (r == CUFFT_SUCCESS) r = cufftSetStream(e->plan, q);
    if (r == CUFFT_SUCCESS) {
      switch (k->type) {
        case CUFFT_R2C:
          r = cufftExecR2C(e->plan, (cufftReal *)idata, (cufftComplex *)odata);
          break;
        case CUFFT_C2R:
          r = cufftExecC2R(e->plan, (cufftComplex *)idata, (cufftReal *)odata);
          break;
        default:
          r = cufftExecC2C(e->plan, (cufftComplex *)idata, (cufftComplex *)odata,
                           inverse ? CUFFT_INVERSE : CUFFT_FORWARD);
          break;
      }
    }
    rc = r == CUFFT_SUCCESS ? 0 : ft_fail("execution", r);
  }
  if (ws) mx_cuda_scratch_free(ws, q);
  pthread_mutex_unlock(&ft_lock);
  return rc;
}

__global__ void __launch_bounds__(MXC_THREADS) ft_scale(float *x, int64_t n, float s) {
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
       i += (int64_t)gridDim.x * blockDim.x)
    x[i] *= s;
}

/* The imaginary parts a real output cannot carry (the zero frequency's, and the Nyquist
 * frequency's for even n) are dropped, as the CPU's Hermitian extension does. */
__global__ void __launch_bounds__(MXC_THREADS) ft_hermitian_edges(float *x, int64_t lines,
                                                                  int64_t len, int64_t n) {
  for (int64_t l = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; l < lines;
       l += (int64_t)gridDim.x * blockDim.x) {
    x[2 * l * len + 1] = 0.0f;
    if (n % 2 == 0) x[2 * (l * len + n / 2) + 1] = 0.0f;
  }
}

static void ft_contig_strides(int nd, const int32_t *shape, int64_t *st) {
  int64_t acc = 1;
  for (int d = nd - 1; d >= 0; d--) {
    st[d] = acc;
    acc *= shape[d];
  }
}

/* One pass along `axis` from src to dst (which share every other dim; they may be the same
 * tensor). */
static int ft_pass(const mx_tensor *src, const mx_tensor *dst, int axis, ft_mode mode,
                   bool inverse, cudaStream_t q, int dev) {
  if (dst->size == 0) return 0;
  int nd = src->ndim;
  int64_t n_src = src->shape[axis], n_dst = dst->shape[axis];
  int64_t n = mode == FT_R2C ? n_src : n_dst;
  if ((mode == FT_R2C && n_dst != n / 2 + 1) || (mode == FT_C2R && n_src != n / 2 + 1) ||
      (mode == FT_C2C && n_src != n_dst))
    return mx_fail_int(MX_EINVAL, "[fft] Lengths %lld -> %lld do not fit the transform.",
                       (long long)n_src, (long long)n_dst);
  if (n == 1) { /* the identity (a real part for C2R) */
    if (src == dst) return 0;
    return mx_cuda_copy_strided(src, (mx_tensor *)dst, q, dev);
  }
  /* both seen with the axis moved last */
  size_t mem_bytes = (size_t)nd * (2 * sizeof(int32_t) + 4 * sizeof(int64_t));
  int64_t *mem = (int64_t *)malloc(mem_bytes);
  if (!mem) return mx_fail_int(MX_ENOMEM, "[malloc] Unable to allocate %zu bytes.", mem_bytes);
  int64_t *ss = mem, *ds = mem + nd, *cs = mem + 2 * nd, *cd = mem + 3 * nd;
  int32_t *ps = (int32_t *)(mem + 4 * nd), *pd = ps + nd;
  int k = 0;
  for (int d = 0; d < nd; d++) {
    if (d == axis) continue;
    ps[k] = src->shape[d];
    pd[k] = dst->shape[d];
    ss[k] = src->strides[d];
    ds[k] = dst->strides[d];
    k++;
  }
  ps[nd - 1] = (int32_t)n_src;
  pd[nd - 1] = (int32_t)n_dst;
  ss[nd - 1] = src->strides[axis];
  ds[nd - 1] = dst->strides[axis];
  ft_contig_strides(nd, ps, cs);
  ft_contig_strides(nd, pd, cd);
  mx_tensor sv = {src->data, src->dtype, nd, ps, ss, src->size, 0};
  mx_tensor dv = {dst->data, dst->dtype, nd, pd, ds, dst->size, 0};
  /* cuFFT's complex-to-real transform overwrites its input: that one always reads a copy */
  bool in_direct = mode != FT_C2R && mxc_is_row_contig(&sv) && mxc_align_of(src->data) >= 16;
  bool out_direct = mxc_is_row_contig(&dv) && mxc_align_of(dst->data) >= 16;
  int64_t lines = dst->size / n_dst;
  size_t isz = mode == FT_R2C ? sizeof(float) : 2 * sizeof(float);
  size_t osz = mode == FT_C2R ? sizeof(float) : 2 * sizeof(float);
  mxc_scratch_guard gi(q), go(q);
  int rc = -1;
  void *ibuf = src->data, *obuf = dst->data;
  if (!in_direct) {
    ibuf = gi.alloc((size_t)lines * (size_t)n_src * isz);
    if (!ibuf) goto done;
    mx_tensor cv = {ibuf, src->dtype, nd, ps, cs, src->size, 0};
    if (mx_cuda_copy_strided(&sv, &cv, q, dev) < 0) goto done;
    if (mode == FT_C2R) {
      ft_hermitian_edges<<<mxc_blocks(lines, MXC_THREADS, dev), MXC_THREADS, 0, q>>>(
          (float *)ibuf, lines, n_src, n);
      cudaError_t e = cudaGetLastError();
      if (e != cudaSuccess) {
        mx_fail_int(MX_ERUNTIME, "[fft] CUDA error: %s", cudaGetErrorString(e));
        goto done;
      }
    }
  }
  if (!out_direct) {
    if (mode == FT_C2C && !in_direct) {
      obuf = ibuf; /* in place in the gathered copy */
    } else {
      obuf = go.alloc((size_t)lines * (size_t)n_dst * osz);
      if (!obuf) goto done;
    }
  }
  {
    ft_key key;
    memset(&key, 0, sizeof key);
    key.dev = dev;
    key.type = mode == FT_R2C ? CUFFT_R2C : mode == FT_C2R ? CUFFT_C2R : CUFFT_C2C;
    key.n = n;
    key.idist = n_src;
    key.odist = n_dst;
    key.batch = lines;
    if (ft_exec(&key, ibuf, obuf, inverse, q) < 0) goto done;
  }
  if (inverse) {
    int64_t cnt = lines * n_dst * (int64_t)(osz / sizeof(float));
    ft_scale<<<mxc_blocks(cnt, MXC_THREADS, dev), MXC_THREADS, 0, q>>>(
        (float *)obuf, cnt, (float)(1.0 / (double)n));
    cudaError_t e = cudaGetLastError();
    if (e != cudaSuccess) {
      mx_fail_int(MX_ERUNTIME, "[fft] CUDA error: %s", cudaGetErrorString(e));
      goto done;
    }
  }
  if (!out_direct) {
    mx_tensor cv = {obuf, dst->dtype, nd, pd, cd, dst->size, 0};
    if (mx_cuda_copy_strided(&cv, &dv, q, dev) < 0) goto done;
  }
  rc = 0;
done:
  free(mem);
  return rc;
}

int mx_cuda_fft(const mx_kernel_ctx *ctx, const mx_tensor *in, int n_in, mx_tensor *out,
                int n_out) {
  const mx_p_fft *p = (const mx_p_fft *)ctx->params;
  if (mx_check_fft(p, in, n_in, out, n_out) < 0) return -1;
  int na = p->axes.n;
  const int32_t *axes = p->axes.v;
  if (out->size == 0) return 0;
  cudaStream_t q = (cudaStream_t)ctx->queue;
  int dev = ctx->device_index;
  int last = axes[na - 1];
  if (!p->real) {
    const mx_tensor *src = in;
    for (int i = na - 1; i >= 0; i--) {
      if (ft_pass(src, out, axes[i], FT_C2C, p->inverse, q, dev) < 0) return -1;
      src = out;
    }
    return 0;
  }
  if (!p->inverse) {
    if (ft_pass(in, out, last, FT_R2C, false, q, dev) < 0) return -1;
    for (int i = na - 2; i >= 0; i--)
      if (ft_pass(out, out, axes[i], FT_C2C, false, q, dev) < 0) return -1;
    return 0;
  }
  if (na == 1) return ft_pass(in, out, last, FT_C2R, true, q, dev);
  /* complex inverse passes into a row-contiguous scratch copy of the input's shape */
  int nd = in->ndim;
  int64_t *st = (int64_t *)malloc((size_t)nd * sizeof(int64_t));
  if (!st) return mx_fail_int(MX_ENOMEM, "[malloc] Unable to allocate %zu bytes.", (size_t)nd * 8);
  ft_contig_strides(nd, in->shape, st);
  mxc_scratch_guard gt(q);
  int rc = -1;
  void *tmp = gt.alloc((size_t)in->size * 2 * sizeof(float));
  if (tmp) {
    mx_tensor t = {tmp, MX_COMPLEX64, nd, in->shape, st, in->size, 0};
    const mx_tensor *src = in;
    rc = 0;
    for (int i = na - 2; i >= 0 && rc == 0; i--) {
      rc = ft_pass(src, &t, axes[i], FT_C2C, true, q, dev);
      src = &t;
    }
    if (rc == 0) rc = ft_pass(&t, out, last, FT_C2R, true, q, dev);
  }
  free(st);
  return rc;
}
