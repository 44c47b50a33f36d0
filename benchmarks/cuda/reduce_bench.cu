/* reduce_bench.cu: standalone workbench for the CUDA sum and softmax kernels (reduce.cu,
 * softmax.cu): kernel variants for a full float32 sum (grid-stride vs contiguous chunks, block
 * size, loads in flight, load hints, second pass vs last-block ticket), row and column sums of
 * (2^16, 4096) float32 and a bf16 softmax over (8192, 8192) (three passes vs the row in
 * registers), each checked against a reference and timed with CUDA events (median of 20).
 *   nvcc -O3 -std=c++17 -arch=sm_90 benchmarks/cuda/reduce_bench.cu -o /tmp/reduce_bench */
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <vector>

#define CK(x)                                                                    \
  do {                                                                           \
    cudaError_t e_ = (x);                                                        \
    if (e_ != cudaSuccess) {                                                     \
      printf("CUDA error %s at %s:%d\n", cudaGetErrorString(e_), __FILE__, __LINE__); \
      exit(1);                                                                   \
    }                                                                            \
  } while (0)

static int g_nsm;

template <class F>
static float time_ms(F f, int reps = 20) {
  for (int i = 0; i < 3; i++) f();
  CK(cudaDeviceSynchronize());
  cudaEvent_t a, b;
  cudaEventCreate(&a);
  cudaEventCreate(&b);
  std::vector<float> ts;
  for (int i = 0; i < reps; i++) {
    cudaEventRecord(a);
    f();
    cudaEventRecord(b);
    cudaEventSynchronize(b);
    float ms;
    cudaEventElapsedTime(&ms, a, b);
    ts.push_back(ms);
  }
  CK(cudaGetLastError());
  std::sort(ts.begin(), ts.end());
  return ts[ts.size() / 2];
}

struct row_t {
  const char *name;
  float ms;
  double gbs;
  double err;
};
static std::vector<row_t> g_rows;
static void report(const char *name, float ms, double bytes, double err) {
  row_t r = {name, ms, bytes / (ms * 1e-3) / 1e9, err};
  g_rows.push_back(r);
  printf("%-44s %9.4f ms %8.0f GB/s  err %.3g\n", name, ms, r.gbs, err);
  fflush(stdout);
}

__global__ void fill_k(float *x, int64_t n, uint32_t seed) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
       i += (int64_t)gridDim.x * blockDim.x) {
    uint32_t h = (uint32_t)i * 2654435761u ^ seed;
    h ^= h >> 15;
    h *= 2246822519u;
    h ^= h >> 13;
    x[i] = (float)(h & 0xffffff) / (float)0x1000000 * 2.f - 1.f;
  }
}
__global__ void tobf16_k(const float *x, __nv_bfloat16 *y, int64_t n, float scale) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
       i += (int64_t)gridDim.x * blockDim.x)
    y[i] = __float2bfloat16(x[i] * scale);
}

/* ---- loads ---- */
template <int MODE>
__device__ __forceinline__ float4 ld4(const float4 *p) {
  if constexpr (MODE == 0) {
    return *p;
  } else if constexpr (MODE == 1) {
    return __ldcs(p);
  } else {
    float4 r;
    asm volatile("ld.global.nc.L1::no_allocate.L2::256B.v4.f32 {%0,%1,%2,%3}, [%4];"
                 : "=f"(r.x), "=f"(r.y), "=f"(r.z), "=f"(r.w)
                 : "l"(p));
    return r;
  }
}

__device__ __forceinline__ float warp_sum(float v) {
  for (int d = 16; d > 0; d >>= 1) v += __shfl_xor_sync(0xffffffffu, v, d);
  return v;
}
template <int T>
__device__ __forceinline__ float block_sum(float v, float *sh) {
  v = warp_sum(v);
  if constexpr (T == 32) return v;
  if ((threadIdx.x & 31) == 0) sh[threadIdx.x / 32] = v;
  __syncthreads();
  float r = 0;
  if (threadIdx.x < 32) {
    r = threadIdx.x < T / 32 ? sh[threadIdx.x] : 0.f;
    r = warp_sum(r);
  }
  __syncthreads();
  return r;
}

/* ---- full sum ---- */
/* interleaved: thread t of the grid reads vectors t, t + S, ... (S threads), U at a time */
template <int T, int U, int MODE>
__global__ void __launch_bounds__(T) sum_gs(const float *x, int64_t nv, float *part) {
  __shared__ float sh[32];
  const float4 *p = (const float4 *)x;
  const int64_t S = (int64_t)gridDim.x * T;
  int64_t v = blockIdx.x * (int64_t)T + threadIdx.x;
  float acc = 0.f;
  for (; v + (U - 1) * S < nv; v += U * S) {
    float4 r[U];
#pragma unroll
    for (int u = 0; u < U; u++) r[u] = ld4<MODE>(p + v + u * S);
#pragma unroll
    for (int u = 0; u < U; u++) acc += (r[u].x + r[u].y) + (r[u].z + r[u].w);
  }
  for (; v < nv; v += S) {
    float4 r = ld4<MODE>(p + v);
    acc += (r.x + r.y) + (r.z + r.w);
  }
  acc = block_sum<T>(acc, sh);
  if (threadIdx.x == 0) part[blockIdx.x] = acc;
}
/* contiguous chunks: block b reads [b*chunk, (b+1)*chunk) vectors, threads interleaved */
template <int T, int U, int MODE>
__global__ void __launch_bounds__(T) sum_chunk(const float *x, int64_t nv, int64_t chunk,
                                               float *part) {
  __shared__ float sh[32];
  const float4 *p = (const float4 *)x;
  int64_t v0 = blockIdx.x * chunk, v1 = min(v0 + chunk, nv);
  int64_t v = v0 + threadIdx.x;
  float acc = 0.f;
  for (; v + (U - 1) * T < v1; v += U * T) {
    float4 r[U];
#pragma unroll
    for (int u = 0; u < U; u++) r[u] = ld4<MODE>(p + v + u * T);
#pragma unroll
    for (int u = 0; u < U; u++) acc += (r[u].x + r[u].y) + (r[u].z + r[u].w);
  }
  for (; v < v1; v += T) {
    float4 r = ld4<MODE>(p + v);
    acc += (r.x + r.y) + (r.z + r.w);
  }
  acc = block_sum<T>(acc, sh);
  if (threadIdx.x == 0) part[blockIdx.x] = acc;
}
/* the same with a last-block ticket finishing the sum */
template <int T, int U, int MODE>
__global__ void __launch_bounds__(T) sum_gs_ticket(const float *x, int64_t nv, float *part,
                                                   unsigned *ticket, float *out) {
  __shared__ float sh[32];
  __shared__ bool last;
  const float4 *p = (const float4 *)x;
  const int64_t S = (int64_t)gridDim.x * T;
  int64_t v = blockIdx.x * (int64_t)T + threadIdx.x;
  float acc = 0.f;
  for (; v + (U - 1) * S < nv; v += U * S) {
    float4 r[U];
#pragma unroll
    for (int u = 0; u < U; u++) r[u] = ld4<MODE>(p + v + u * S);
#pragma unroll
    for (int u = 0; u < U; u++) acc += (r[u].x + r[u].y) + (r[u].z + r[u].w);
  }
  for (; v < nv; v += S) {
    float4 r = ld4<MODE>(p + v);
    acc += (r.x + r.y) + (r.z + r.w);
  }
  acc = block_sum<T>(acc, sh);
  if (threadIdx.x == 0) {
    part[blockIdx.x] = acc;
    __threadfence();
    last = atomicAdd(ticket, 1u) == gridDim.x - 1;
  }
  __syncthreads();
  if (last) {
    __threadfence();
    float s = 0.f;
    for (int i = threadIdx.x; i < (int)gridDim.x; i += T) s += ((volatile float *)part)[i];
    s = block_sum<T>(s, sh);
    if (threadIdx.x == 0) {
      *out = s;
      *ticket = 0;
    }
  }
}
__global__ void finish_k(const float *part, int n, float *out) {
  __shared__ float sh[32];
  float s = 0.f;
  for (int i = threadIdx.x; i < n; i += 256) s += part[i];
  s = block_sum<256>(s, sh);
  if (threadIdx.x == 0) *out = s;
}

/* ---- row sums (rows, n): warp or block per row ---- */
template <int G, int U>
__global__ void __launch_bounds__(256) rowsum_k(const float *x, int64_t rows, int64_t n,
                                                float *out) {
  __shared__ float sh[32];
  constexpr int RPB = 256 / G;
  const int lane = threadIdx.x % G, sub = threadIdx.x / G;
  const int64_t nv = n / 4;
  for (int64_t r0 = blockIdx.x * (int64_t)RPB; r0 < rows; r0 += (int64_t)gridDim.x * RPB) {
    int64_t r = r0 + sub;
    float acc = 0.f;
    if (r < rows) {
      const float4 *p = (const float4 *)(x + r * n);
      int64_t v = lane;
      for (; v + (U - 1) * G < nv; v += U * G) {
        float4 q[U];
#pragma unroll
        for (int u = 0; u < U; u++) q[u] = p[v + u * G];
#pragma unroll
        for (int u = 0; u < U; u++) acc += (q[u].x + q[u].y) + (q[u].z + q[u].w);
      }
      for (; v < nv; v += G) {
        float4 q = p[v];
        acc += (q.x + q.y) + (q.z + q.w);
      }
    }
    if constexpr (G == 32) {
      acc = warp_sum(acc);
    } else {
      acc = block_sum<256>(acc, sh);
    }
    if (lane == 0 && r < rows) out[r] = acc;
  }
}

/* ---- column sums (rows, n) over rows: old scalar kernel and the vector tile kernel ---- */
__global__ void __launch_bounds__(256) colsum_old(const float *x, int64_t rows, int64_t n,
                                                  int64_t chunk, float *out) {
  __shared__ float part[8][33];
  const int tx = threadIdx.x, ty = threadIdx.y;
  const int64_t p = blockIdx.y;
  const int64_t r0 = p * chunk, r1 = min(r0 + chunk, rows);
  for (int64_t ob = blockIdx.x * 32; ob < n; ob += (int64_t)gridDim.x * 32) {
    int64_t o = ob + tx;
    float acc = 0.f;
    if (o < n) {
#pragma unroll 4
      for (int64_t r = r0 + ty; r < r1; r += 8) acc += x[o + r * n];
    }
    part[ty][tx] = acc;
    __syncthreads();
    if (ty == 0) {
      for (int k = 1; k < 8; k++) acc += part[k][tx];
      if (o < n) out[p * n + o] = acc;
    }
    __syncthreads();
  }
}
/* block (TX, TY): thread x owns 4 columns, rows of split blockIdx.y over threadIdx.y */
template <int U, int MODE>
__global__ void __launch_bounds__(256) colsum_v(const float *x, int64_t rows, int64_t n,
                                                int64_t rs, int64_t chunk, float *out) {
  __shared__ float4 sh[256];
  const int TX = blockDim.x, TY = blockDim.y;
  const int tx = threadIdx.x, ty = threadIdx.y;
  const int64_t r0 = blockIdx.y * chunk, r1 = min(r0 + chunk, rows);
  const int64_t c = blockIdx.x * (int64_t)TX + tx;
  float4 acc = make_float4(0, 0, 0, 0);
  if (c * 4 < n) {
    const float *base = x + c * 4;
    int64_t r = r0 + ty;
    for (; r + (U - 1) * TY < r1; r += U * TY) {
      float4 q[U];
#pragma unroll
      for (int u = 0; u < U; u++) q[u] = ld4<MODE>((const float4 *)(base + (r + u * TY) * rs));
#pragma unroll
      for (int u = 0; u < U; u++) {
        acc.x += q[u].x;
        acc.y += q[u].y;
        acc.z += q[u].z;
        acc.w += q[u].w;
      }
    }
    for (; r < r1; r += TY) {
      float4 q = ld4<MODE>((const float4 *)(base + r * rs));
      acc.x += q.x;
      acc.y += q.y;
      acc.z += q.z;
      acc.w += q.w;
    }
  }
  if (TY > 1) {
    sh[ty * TX + tx] = acc;
    __syncthreads();
    if (ty == 0) {
      for (int k = 1; k < TY; k++) {
        float4 q = sh[k * TX + tx];
        acc.x += q.x;
        acc.y += q.y;
        acc.z += q.z;
        acc.w += q.w;
      }
    }
  }
  if (ty == 0 && c * 4 < n) *(float4 *)(out + blockIdx.y * n + c * 4) = acc;
}

/* ---- softmax bf16 rows ---- */
__device__ __forceinline__ float bmax(float a, float b) { return b > a ? b : a; }
__global__ void __launch_bounds__(256) sm_old(const __nv_bfloat16 *x, __nv_bfloat16 *y,
                                              int64_t rows, int64_t n) {
  const int lane = threadIdx.x % 32, sub = threadIdx.x / 32;
  for (int64_t r0 = blockIdx.x * 8ll; r0 < rows; r0 += (int64_t)gridDim.x * 8) {
    int64_t r = r0 + sub;
    if (r >= rows) continue;
    const __nv_bfloat16 *xr = x + r * n;
    float m = -INFINITY;
    for (int64_t k = lane; k < n; k += 32) m = bmax(m, __bfloat162float(xr[k]));
    for (int d = 16; d > 0; d >>= 1) m = bmax(m, __shfl_xor_sync(0xffffffffu, m, d));
    float s = 0;
    for (int64_t k = lane; k < n; k += 32) s += expf(__bfloat162float(xr[k]) - m);
    s = warp_sum(s);
    float inv = 1.f / s;
    for (int64_t k = lane; k < n; k += 32)
      y[r * n + k] = __float2bfloat16(expf(__bfloat162float(xr[k]) - m) * inv);
  }
}

template <int TPR>
__device__ __forceinline__ float row_reduce(float v, bool is_max, float *sh) {
  for (int d = 16; d > 0; d >>= 1) {
    float o = __shfl_xor_sync(0xffffffffu, v, d);
    v = is_max ? bmax(v, o) : v + o;
  }
  if constexpr (TPR == 32) return v;
  if ((threadIdx.x & 31) == 0) sh[threadIdx.x / 32] = v;
  __syncthreads();
  float r = sh[0];
#pragma unroll
  for (int k = 1; k < TPR / 32; k++) r = is_max ? bmax(r, sh[k]) : r + sh[k];
  return r;
}

/* TPR threads per row, each caching VPT 16-byte vectors (8 bf16) of the row as floats */
template <int TPR, int VPT>
__global__ void __launch_bounds__(TPR < 256 ? 256 : TPR) sm_cached(const __nv_bfloat16 *x,
                                                                    __nv_bfloat16 *y,
                                                                    int64_t rows, int n) {
  constexpr int BT = TPR < 256 ? 256 : TPR, RPB = BT / TPR, V = 8;
  __shared__ float sha[32], shb[32];
  const int lane = threadIdx.x % TPR, sub = threadIdx.x / TPR;
  const int nv = n / V;
  for (int64_t r0 = blockIdx.x * (int64_t)RPB; r0 < rows; r0 += (int64_t)gridDim.x * RPB) {
    int64_t r = r0 + sub;
    bool act = r < rows;
    const uint4 *xr = (const uint4 *)(x + r * n);
    float v[VPT][V];
    float m = -INFINITY;
#pragma unroll
    for (int i = 0; i < VPT; i++) {
      int j = lane + i * TPR;
      if (act && j < nv) {
        uint4 q = xr[j];
        const __nv_bfloat16 *h = (const __nv_bfloat16 *)&q;
#pragma unroll
        for (int k = 0; k < V; k++) v[i][k] = __bfloat162float(h[k]);
      } else {
#pragma unroll
        for (int k = 0; k < V; k++) v[i][k] = -INFINITY;
      }
#pragma unroll
      for (int k = 0; k < V; k++) m = bmax(m, v[i][k]);
    }
    m = row_reduce<TPR>(m, true, sha);
    float s = 0.f;
#pragma unroll
    for (int i = 0; i < VPT; i++)
#pragma unroll
      for (int k = 0; k < V; k++) {
        v[i][k] = expf(v[i][k] - m);
        s += v[i][k];
      }
    s = row_reduce<TPR>(s, false, shb);
    float inv = 1.f / s;
    uint4 *yr = (uint4 *)(y + r * n);
#pragma unroll
    for (int i = 0; i < VPT; i++) {
      int j = lane + i * TPR;
      if (act && j < nv) {
        uint4 q;
        __nv_bfloat16 *h = (__nv_bfloat16 *)&q;
#pragma unroll
        for (int k = 0; k < V; k++) h[k] = __float2bfloat16(v[i][k] * inv);
        yr[j] = q;
      }
    }
  }
}

int main() {
  cudaDeviceProp prop;
  CK(cudaGetDeviceProperties(&prop, 0));
  g_nsm = prop.multiProcessorCount;
  printf("device %s, %d SMs\n", prop.name, g_nsm);
  const int64_t N = 1ll << 28;
  float *x, *y, *part, *out;
  unsigned *ticket;
  CK(cudaMalloc(&x, N * 4));
  CK(cudaMalloc(&y, N * 4));
  CK(cudaMalloc(&part, 64 << 20));
  CK(cudaMalloc(&out, 64 << 20));
  CK(cudaMalloc(&ticket, 4));
  CK(cudaMemset(ticket, 0, 4));
  fill_k<<<4096, 256>>>(x, N, 12345u);
  CK(cudaDeviceSynchronize());

  float ms = time_ms([&] { cudaMemcpyAsync(y, x, N * 4, cudaMemcpyDeviceToDevice); });
  report("copy (cudaMemcpy d2d) 1 GiB", ms, 2.0 * N * 4, 0);
  double copy_gbs = g_rows.back().gbs;

  /* reference full sum in double on the host over a sample? use the first variant */
  const int64_t nv = N / 4;
  float ref = 0;
  {
    finish_k<<<1, 256>>>(x, 1, out); /* warm */
    sum_gs<256, 4, 0><<<g_nsm * 8, 256>>>(x, nv, part);
    finish_k<<<1, 256>>>(part, g_nsm * 8, out);
    CK(cudaMemcpy(&ref, out, 4, cudaMemcpyDeviceToHost));
  }
  auto check_sum = [&]() {
    float r;
    CK(cudaMemcpy(&r, out, 4, cudaMemcpyDeviceToHost));
    return (double)fabsf(r - ref) / (fabsf(ref) + 1.0);
  };
  char nm[128];
#define SUM_GS(T, U, MODE, BPS)                                                       \
  {                                                                                   \
    int nb = g_nsm * BPS;                                                             \
    ms = time_ms([&] {                                                                \
      sum_gs<T, U, MODE><<<nb, T>>>(x, nv, part);                                     \
      finish_k<<<1, 256>>>(part, nb, out);                                            \
    });                                                                               \
    snprintf(nm, sizeof nm, "sum gs T%d U%d ld%d %dxSM +fin", T, U, MODE, BPS);       \
    report(strdup(nm), ms, N * 4.0, check_sum());                                     \
  }
  SUM_GS(256, 4, 0, 4)
  SUM_GS(256, 4, 0, 8)
  SUM_GS(256, 8, 0, 4)
  SUM_GS(256, 8, 0, 8)
  SUM_GS(512, 4, 0, 4)
  SUM_GS(512, 8, 0, 2)
  SUM_GS(512, 8, 0, 4)
  SUM_GS(1024, 4, 0, 2)
  SUM_GS(1024, 8, 0, 1)
  SUM_GS(1024, 8, 0, 2)
  SUM_GS(256, 8, 1, 8)
  SUM_GS(256, 8, 2, 8)
  SUM_GS(512, 8, 2, 4)
  SUM_GS(256, 16, 0, 4)
  SUM_GS(256, 16, 2, 4)
#define SUM_OCC(T, U, MODE)                                                           \
  {                                                                                   \
    int oc = 0;                                                                       \
    cudaOccupancyMaxActiveBlocksPerMultiprocessor(&oc, sum_gs<T, U, MODE>, T, 0);     \
    int nb = g_nsm * oc;                                                              \
    ms = time_ms([&] {                                                                \
      sum_gs<T, U, MODE><<<nb, T>>>(x, nv, part);                                     \
      finish_k<<<1, 256>>>(part, nb, out);                                            \
    });                                                                               \
    snprintf(nm, sizeof nm, "sum gs T%d U%d ld%d occ %d/SM +fin", T, U, MODE, oc);    \
    report(strdup(nm), ms, N * 4.0, check_sum());                                     \
  }
  SUM_OCC(256, 4, 0)
  SUM_OCC(256, 8, 0)
  SUM_OCC(256, 8, 2)
  SUM_OCC(512, 8, 0)
  SUM_OCC(1024, 8, 0)
#define SUM_CH(T, U, MODE, BPS)                                                       \
  {                                                                                   \
    int nb = g_nsm * BPS;                                                             \
    int64_t chunk = (nv + nb - 1) / nb;                                               \
    ms = time_ms([&] {                                                                \
      sum_chunk<T, U, MODE><<<nb, T>>>(x, nv, chunk, part);                           \
      finish_k<<<1, 256>>>(part, nb, out);                                            \
    });                                                                               \
    snprintf(nm, sizeof nm, "sum chunk T%d U%d ld%d %dxSM +fin", T, U, MODE, BPS);    \
    report(strdup(nm), ms, N * 4.0, check_sum());                                     \
  }
  SUM_CH(256, 4, 0, 4)
  SUM_CH(256, 8, 0, 4)
  SUM_CH(256, 8, 0, 8)
  SUM_CH(512, 8, 0, 4)
#define SUM_TK(T, U, MODE, BPS)                                                       \
  {                                                                                   \
    int nb = g_nsm * BPS;                                                             \
    ms = time_ms([&] {                                                                \
      cudaMemsetAsync(ticket, 0, 4);                                                  \
      sum_gs_ticket<T, U, MODE><<<nb, T>>>(x, nv, part, ticket, out);                 \
    });                                                                               \
    snprintf(nm, sizeof nm, "sum gs ticket+memset T%d U%d ld%d %dxSM", T, U, MODE, BPS); \
    report(strdup(nm), ms, N * 4.0, check_sum());                                     \
    ms = time_ms([&] { sum_gs_ticket<T, U, MODE><<<nb, T>>>(x, nv, part, ticket, out); }); \
    snprintf(nm, sizeof nm, "sum gs ticket only T%d U%d ld%d %dxSM", T, U, MODE, BPS); \
    report(strdup(nm), ms, N * 4.0, check_sum());                                     \
  }
  SUM_TK(256, 8, 0, 8)
  SUM_TK(512, 8, 0, 4)

  /* row sums (65536, 4096) */
  const int64_t R = N / 4096, C = 4096;
  std::vector<float> hrow(R), hrow2(R);
  rowsum_k<256, 4><<<g_nsm * 16, 256>>>(x, R, C, out);
  CK(cudaMemcpy(hrow.data(), out, R * 4, cudaMemcpyDeviceToHost));
  auto check_rows = [&]() {
    CK(cudaMemcpy(hrow2.data(), out, R * 4, cudaMemcpyDeviceToHost));
    double e = 0;
    for (int64_t i = 0; i < R; i++) e = std::max(e, (double)fabsf(hrow[i] - hrow2[i]));
    return e;
  };
#define ROW(G, U, GRID)                                                               \
  {                                                                                   \
    unsigned nb = GRID;                                                               \
    ms = time_ms([&] { rowsum_k<G, U><<<nb, 256>>>(x, R, C, out); });                  \
    snprintf(nm, sizeof nm, "row sum G%d U%d grid %u", G, U, nb);                     \
    report(strdup(nm), ms, N * 4.0, check_rows());                                    \
  }
  ROW(256, 4, g_nsm * 16)
  ROW(256, 4, R)
  ROW(32, 4, g_nsm * 16)
  ROW(32, 8, g_nsm * 16)
  ROW(32, 8, R / 8)
  ROW(32, 16, R / 8)
  ROW(32, 8, g_nsm * 8)
  ROW(64, 8, R / 4)
  ROW(128, 8, R / 2)

  /* column sums (65536, 4096) over axis 0 */
  std::vector<float> hcol(C), hcol2(C);
  {
    std::vector<double> acc(C, 0.0);
    std::vector<float> hx(1 << 22);
    for (int64_t r0 = 0; r0 < R; r0 += 1024) {
      CK(cudaMemcpy(hx.data(), x + r0 * C, (size_t)1024 * C * 4, cudaMemcpyDeviceToHost));
      for (int64_t r = 0; r < 1024; r++)
        for (int64_t c = 0; c < C; c++) acc[c] += hx[r * C + c];
    }
    for (int64_t c = 0; c < C; c++) hcol[c] = (float)acc[c];
  }
  auto check_cols = [&]() {
    CK(cudaMemcpy(hcol2.data(), out, C * 4, cudaMemcpyDeviceToHost));
    double e = 0;
    for (int64_t i = 0; i < C; i++) e = std::max(e, (double)fabsf(hcol[i] - hcol2[i]));
    return e;
  };
  {
    int64_t gx = C / 32, P = (4 * g_nsm + gx - 1) / gx;
    int64_t chunk = (R + P - 1) / P;
    P = (R + chunk - 1) / chunk;
    ms = time_ms([&] {
      colsum_old<<<dim3(gx, P), dim3(32, 8)>>>(x, R, C, chunk, part);
      colsum_old<<<dim3(gx, 1), dim3(32, 8)>>>(part, P, C, P, out);
    });
    snprintf(nm, sizeof nm, "col sum old P%lld", (long long)P);
    report(strdup(nm), ms, N * 4.0, check_cols());
  }
#define COL(TX, TY, U, MODE, BPS)                                                     \
  {                                                                                   \
    int64_t gx = C / 4 / TX, P = ((int64_t)g_nsm * BPS + gx - 1) / gx;                \
    int64_t chunk = (R + P - 1) / P;                                                  \
    P = (R + chunk - 1) / chunk;                                                      \
    int64_t P2 = P;                                                                   \
    ms = time_ms([&] {                                                                \
      colsum_v<U, MODE><<<dim3(gx, P), dim3(TX, TY)>>>(x, R, C, C, chunk, part);      \
      colsum_v<4, 0><<<dim3(C / 4 / 32, 1), dim3(32, 8)>>>(part, P2, C, C, P2, out);  \
    });                                                                               \
    snprintf(nm, sizeof nm, "col sum v TX%d TY%d U%d ld%d P%lld", TX, TY, U, MODE,    \
             (long long)P);                                                           \
    report(strdup(nm), ms, N * 4.0, check_cols());                                    \
  }
  COL(256, 1, 8, 0, 4)
  COL(256, 1, 8, 0, 8)
  COL(256, 1, 4, 0, 8)
  COL(128, 2, 8, 0, 4)
  COL(128, 2, 8, 0, 8)
  COL(64, 4, 8, 0, 8)
  COL(32, 8, 8, 0, 4)
  COL(32, 8, 8, 0, 8)
  COL(32, 8, 8, 2, 8)
  COL(256, 1, 8, 2, 8)
  COL(256, 1, 16, 0, 4)

  /* softmax bf16 (8192, 8192) */
  const int64_t SR = 8192, SC = 8192;
  __nv_bfloat16 *sx = (__nv_bfloat16 *)y, *sy = sx + SR * SC, *sref = sy + SR * SC;
  tobf16_k<<<4096, 256>>>(x, sx, SR * SC, 4.f);
  sm_old<<<SR / 8, 256>>>(sx, sref, SR, SC);
  CK(cudaDeviceSynchronize());
  std::vector<uint16_t> h1(SR * SC), h2(SR * SC);
  CK(cudaMemcpy(h1.data(), sref, SR * SC * 2, cudaMemcpyDeviceToHost));
  auto bf = [](uint16_t u) {
    uint32_t w = (uint32_t)u << 16;
    float f;
    memcpy(&f, &w, 4);
    return f;
  };
  auto check_sm = [&]() {
    CK(cudaMemcpy(h2.data(), sy, SR * SC * 2, cudaMemcpyDeviceToHost));
    double e = 0;
    for (int64_t i = 0; i < SR * SC; i += 7) e = std::max(e, (double)fabsf(bf(h1[i]) - bf(h2[i])));
    return e;
  };
  ms = time_ms([&] { sm_old<<<std::min<int64_t>(SR / 8, g_nsm * 16), 256>>>(sx, sy, SR, SC); });
  report("softmax old warp/row 3 passes", ms, 2.0 * SR * SC * 2, check_sm());
#define SMC(TPR, VPT)                                                                 \
  {                                                                                   \
    constexpr int BT = TPR < 256 ? 256 : TPR;                                         \
    unsigned nb = (unsigned)(SR / (BT / TPR));                                        \
    ms = time_ms([&] { sm_cached<TPR, VPT><<<nb, BT>>>(sx, sy, SR, (int)SC); });       \
    snprintf(nm, sizeof nm, "softmax cached TPR%d VPT%d", TPR, VPT);                  \
    report(strdup(nm), ms, 2.0 * SR * SC * 2, check_sm());                            \
  }
  SMC(256, 4)
  SMC(512, 2)
  SMC(1024, 1)
  SMC(128, 8)
  {
    unsigned nb = g_nsm * 4;
    ms = time_ms([&] { sm_cached<256, 4><<<nb, 256>>>(sx, sy, SR, (int)SC); });
    report("softmax cached TPR256 VPT4 grid 4xSM", ms, 2.0 * SR * SC * 2, check_sm());
  }

  printf("\nsummary (copy %.0f GB/s)\n", copy_gbs);
  for (auto &r : g_rows)
    printf("%-44s %9.4f ms %6.1f%% of copy\n", r.name, r.ms, r.gbs / copy_gbs * 100);
  return 0;
}
