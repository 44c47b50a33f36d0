/* d2h_latency.cu: wall time of "launch one tiny kernel, have its 4-byte result on the host"
 * through the ways a runtime can wait and download (event + cudaMemcpy from pageable memory,
 * event + async copy into pinned staging, the copy queued behind the kernel), median of 2000.
 *   nvcc -O3 -std=c++17 -arch=sm_90 benchmarks/cuda/d2h_latency.cu -o /tmp/d2h_latency */
#include <cuda_runtime.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <vector>

__global__ void bump(float *x) { x[threadIdx.x] += 1.0f; }

template <class F>
static double median_us(F f) {
  std::vector<double> t;
  for (int i = 0; i < 2200; i++) {
    auto a = std::chrono::steady_clock::now();
    f();
    auto b = std::chrono::steady_clock::now();
    if (i >= 200) t.push_back(std::chrono::duration<double, std::micro>(b - a).count());
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

int main() {
  cudaStream_t s;
  cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking);
  cudaStream_t s2;
  cudaStreamCreateWithFlags(&s2, cudaStreamNonBlocking);
  cudaEvent_t e;
  cudaEventCreateWithFlags(&e, cudaEventDisableTiming);
  float *d, *pinned, pageable[32];
  cudaMalloc(&d, 128);
  cudaMemset(d, 0, 128);
  cudaMallocHost(&pinned, 128);
  printf("%-58s %8s\n", "variant", "us");
  auto row = [](const char *n, double us) { printf("%-58s %8.2f\n", n, us); };
  row("kernel, event sync", median_us([&] {
        bump<<<1, 32, 0, s>>>(d);
        cudaEventRecord(e, s);
        cudaEventSynchronize(e);
      }));
  row("kernel, event sync, cudaMemcpy to pageable", median_us([&] {
        bump<<<1, 32, 0, s>>>(d);
        cudaEventRecord(e, s);
        cudaEventSynchronize(e);
        cudaMemcpy(pageable, d, 4, cudaMemcpyDeviceToHost);
      }));
  row("kernel, event sync, async copy to pinned on s, stream sync", median_us([&] {
        bump<<<1, 32, 0, s>>>(d);
        cudaEventRecord(e, s);
        cudaEventSynchronize(e);
        cudaMemcpyAsync(pinned, d, 4, cudaMemcpyDeviceToHost, s);
        cudaStreamSynchronize(s);
      }));
  row("kernel, event sync, async copy to pinned on s2, stream sync", median_us([&] {
        bump<<<1, 32, 0, s>>>(d);
        cudaEventRecord(e, s);
        cudaEventSynchronize(e);
        cudaMemcpyAsync(pinned, d, 4, cudaMemcpyDeviceToHost, s2);
        cudaStreamSynchronize(s2);
      }));
  row("kernel, event sync, async copy to pageable on s, sync", median_us([&] {
        bump<<<1, 32, 0, s>>>(d);
        cudaEventRecord(e, s);
        cudaEventSynchronize(e);
        cudaMemcpyAsync(pageable, d, 4, cudaMemcpyDeviceToHost, s);
        cudaStreamSynchronize(s);
      }));
  row("kernel, event sync, pinned copy, event sync", median_us([&] {
        bump<<<1, 32, 0, s>>>(d);
        cudaEventRecord(e, s);
        cudaEventSynchronize(e);
        cudaMemcpyAsync(pinned, d, 4, cudaMemcpyDeviceToHost, s);
        cudaEventRecord(e, s);
        cudaEventSynchronize(e);
      }));
  row("kernel, copy to pinned queued behind it, stream sync", median_us([&] {
        bump<<<1, 32, 0, s>>>(d);
        cudaMemcpyAsync(pinned, d, 4, cudaMemcpyDeviceToHost, s);
        cudaStreamSynchronize(s);
      }));
  row("kernel, copy to pageable queued behind it, stream sync", median_us([&] {
        bump<<<1, 32, 0, s>>>(d);
        cudaMemcpyAsync(pageable, d, 4, cudaMemcpyDeviceToHost, s);
        cudaStreamSynchronize(s);
      }));
  cudaError_t err = cudaGetLastError();
  printf("last error: %s\n", cudaGetErrorString(err));
  return 0;
}
