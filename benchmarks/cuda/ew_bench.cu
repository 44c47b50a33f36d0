/* ew_bench.cu: standalone workbench for the contiguous element-wise kernel (elementwise.cuh
 * ew_linear): float32 add (two inputs) and exp (one input) over 2^28 elements with 16-byte
 * vectors, as a grid-stride loop capped at 16 blocks per SM (the current kernel), with 2 or 4
 * vectors per thread and step, as a one-shot grid of 128- or 256-thread blocks, and with
 * streaming (evict-first) loads and stores; each checked and timed with CUDA events (median
 * of 20) against a device-to-device copy of the same bytes.
 *   nvcc -O3 -std=c++17 -arch=sm_90 benchmarks/cuda/ew_bench.cu -o /tmp/ew_bench */
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <vector>

struct Add {
  static constexpr int NIN = 2;
  __device__ static float f(float a, float b) { return a + b; }
};
struct Exp {
  static constexpr int NIN = 1;
  __device__ static float f(float a, float) { return expf(a); }
};

template <bool STREAM>
__device__ __forceinline__ float4 ld(const float4 *p) {
  if constexpr (STREAM) return __ldcs(p);
  else return *p;
}
template <bool STREAM>
__device__ __forceinline__ void st(float4 *p, float4 v) {
  if constexpr (STREAM) __stcs(p, v);
  else *p = v;
}

template <class Op>
__device__ __forceinline__ float4 apply(float4 a, float4 b) {
  return make_float4(Op::f(a.x, b.x), Op::f(a.y, b.y), Op::f(a.z, b.z), Op::f(a.w, b.w));
}

/* grid-stride, U vectors per thread and step (loads first) */
template <class Op, int U, bool STREAM>
__global__ void __launch_bounds__(256) k_stride(const float4 *x, const float4 *y, float4 *o,
                                                 long nv) {
  long step = (long)gridDim.x * blockDim.x * U;
  for (long b = ((long)blockIdx.x * blockDim.x) * U + threadIdx.x; b < nv; b += step) {
    float4 a[U], c[U];
#pragma unroll
    for (int u = 0; u < U; u++) {
      long i = b + (long)u * blockDim.x;
      if (i < nv) {
        a[u] = ld<STREAM>(x + i);
        if constexpr (Op::NIN == 2) c[u] = ld<STREAM>(y + i);
        else c[u] = a[u];
      }
    }
#pragma unroll
    for (int u = 0; u < U; u++) {
      long i = b + (long)u * blockDim.x;
      if (i < nv) st<STREAM>(o + i, apply<Op>(a[u], c[u]));
    }
  }
}

static float median(std::vector<float> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

template <class F>
static float time_ms(F f) {
  cudaEvent_t s, e;
  cudaEventCreate(&s);
  cudaEventCreate(&e);
  for (int i = 0; i < 3; i++) f();
  std::vector<float> t;
  for (int i = 0; i < 20; i++) {
    cudaEventRecord(s);
    f();
    cudaEventRecord(e);
    cudaEventSynchronize(e);
    float ms;
    cudaEventElapsedTime(&ms, s, e);
    t.push_back(ms);
  }
  return median(t);
}

int main() {
  const long n = 1L << 28, nv = n / 4;
  int sms;
  cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0);
  float *x, *y, *o;
  cudaMalloc(&x, n * 4);
  cudaMalloc(&y, n * 4);
  cudaMalloc(&o, n * 4);
  std::vector<float> h(n);
  for (long i = 0; i < n; i++) h[i] = (float)((i * 2654435761u) % 1000) * 1e-3f - 0.5f;
  cudaMemcpy(x, h.data(), n * 4, cudaMemcpyHostToDevice);
  cudaMemcpy(y, h.data(), n * 4, cudaMemcpyHostToDevice);
  float copy = time_ms([&] { cudaMemcpyAsync(o, x, n * 4, cudaMemcpyDeviceToDevice); });
  double bw = 2.0 * n * 4 / (copy * 1e-3);
  printf("copy %.3f ms = %.0f GB/s (read + write)\n", copy, bw / 1e9);
  printf("%-44s %10s %10s\n", "variant", "add ms", "exp ms");
  auto check = [&](bool add) {
    std::vector<float> r(1 << 20);
    cudaMemcpy(r.data(), o + (n - (1 << 20)), r.size() * 4, cudaMemcpyDeviceToHost);
    for (size_t i = 0; i < r.size(); i++) {
      float a = h[n - (1 << 20) + i];
      float want = add ? a + a : expf(a);
      if (fabsf(r[i] - want) > 1e-5f * fabsf(want) + 1e-6f) return false;
    }
    return true;
  };
  const float4 *X = (const float4 *)x, *Y = (const float4 *)y;
  float4 *O = (float4 *)o;
#define ROW(name, LAUNCH_ADD, LAUNCH_EXP)                                                  \
  do {                                                                                     \
    cudaMemset(o, 0, n * 4);                                                               \
    float ta = time_ms([&] { LAUNCH_ADD; });                                               \
    bool oka = check(true);                                                                \
    cudaMemset(o, 0, n * 4);                                                               \
    float te = time_ms([&] { LAUNCH_EXP; });                                               \
    bool oke = check(false);                                                               \
    printf("%-44s %7.3f %s %7.3f %s  (add %.0f%%, exp %.0f%% of copy bw)\n", name, ta,      \
           oka ? "ok" : "BAD", te, oke ? "ok" : "BAD", 3.0 * n * 4 / (ta * 1e-3) / bw * 100,  \
           2.0 * n * 4 / (te * 1e-3) / bw * 100);                                          \
  } while (0)
  unsigned cap = sms * 16;
  auto grid = [&](long per_block) { return (unsigned)std::min<long>((nv + per_block - 1) / per_block, cap); };
  auto once = [&](long per_block) { return (unsigned)((nv + per_block - 1) / per_block); };
  ROW("stride cap16/SM, 256 thr, U=1 (current)",
      (k_stride<Add, 1, false><<<grid(256), 256>>>(X, Y, O, nv)),
      (k_stride<Exp, 1, false><<<grid(256), 256>>>(X, Y, O, nv)));
  ROW("stride cap16/SM, 256 thr, U=2",
      (k_stride<Add, 2, false><<<grid(512), 256>>>(X, Y, O, nv)),
      (k_stride<Exp, 2, false><<<grid(512), 256>>>(X, Y, O, nv)));
  ROW("stride cap16/SM, 256 thr, U=4",
      (k_stride<Add, 4, false><<<grid(1024), 256>>>(X, Y, O, nv)),
      (k_stride<Exp, 4, false><<<grid(1024), 256>>>(X, Y, O, nv)));
  ROW("stride cap16/SM, U=1, streaming ld/st",
      (k_stride<Add, 1, true><<<grid(256), 256>>>(X, Y, O, nv)),
      (k_stride<Exp, 1, true><<<grid(256), 256>>>(X, Y, O, nv)));
  ROW("stride cap16/SM, U=4, streaming ld/st",
      (k_stride<Add, 4, true><<<grid(1024), 256>>>(X, Y, O, nv)),
      (k_stride<Exp, 4, true><<<grid(1024), 256>>>(X, Y, O, nv)));
  ROW("one-shot, 128 thr, U=1",
      (k_stride<Add, 1, false><<<once(128), 128>>>(X, Y, O, nv)),
      (k_stride<Exp, 1, false><<<once(128), 128>>>(X, Y, O, nv)));
  ROW("one-shot, 256 thr, U=1",
      (k_stride<Add, 1, false><<<once(256), 256>>>(X, Y, O, nv)),
      (k_stride<Exp, 1, false><<<once(256), 256>>>(X, Y, O, nv)));
  ROW("one-shot, 256 thr, U=2",
      (k_stride<Add, 2, false><<<once(512), 256>>>(X, Y, O, nv)),
      (k_stride<Exp, 2, false><<<once(512), 256>>>(X, Y, O, nv)));
  ROW("one-shot, 256 thr, U=4",
      (k_stride<Add, 4, false><<<once(1024), 256>>>(X, Y, O, nv)),
      (k_stride<Exp, 4, false><<<once(1024), 256>>>(X, Y, O, nv)));
  ROW("one-shot, 128 thr, U=4, streaming ld/st",
      (k_stride<Add, 4, true><<<once(512), 128>>>(X, Y, O, nv)),
      (k_stride<Exp, 4, true><<<once(512), 128>>>(X, Y, O, nv)));
  ROW("one-shot, 256 thr, U=1, streaming ld/st",
      (k_stride<Add, 1, true><<<once(256), 256>>>(X, Y, O, nv)),
      (k_stride<Exp, 1, true><<<once(256), 256>>>(X, Y, O, nv)));
  ROW("stride cap32/SM, 256 thr, U=2",
      (k_stride<Add, 2, false><<<std::min<long>(once(512), 2L * cap), 256>>>(X, Y, O, nv)),
      (k_stride<Exp, 2, false><<<std::min<long>(once(512), 2L * cap), 256>>>(X, Y, O, nv)));
  printf("last error: %s\n", cudaGetErrorString(cudaGetLastError()));
  return 0;
}
