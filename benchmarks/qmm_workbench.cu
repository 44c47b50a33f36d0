/* qmm_workbench.cu: standalone workbench for the CUDA 4-bit affine quantized matmul
 * (out = x @ dequantize(w)^T, bf16/f16): a float32 cuBLAS reference, the numbered decode
 * (M <= 8) and prefill kernel variants, a validation and a timing table (us(rot): weights
 * rotated over copies larger than L2; us(same): one copy, as benchmarks/gpu_lm.py times it).
 * Needs only the CUDA toolkit:
 *   nvcc -O3 -std=c++17 -arch=sm_90 benchmarks/qmm_workbench.cu -lcublas -o qmm_wb && ./qmm_wb 7 */
#include <cublas_v2.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <vector>

#define CK(x)                                                                          \
  do {                                                                                 \
    cudaError_t e_ = (x);                                                              \
    if (e_ != cudaSuccess) {                                                           \
      printf("CUDA error %s at line %d: %s\n", #x, __LINE__, cudaGetErrorString(e_));  \
      exit(1);                                                                         \
    }                                                                                  \
  } while (0)

/* ---- half-precision traits: magic 0x4300 (bf16 128.0) / 0x6400 (f16 1024.0) ---- */

template <class T>
struct qh;
template <>
struct qh<__nv_bfloat16> {
  static constexpr uint32_t MAGIC = 0x43004300u;
  __device__ static uint32_t dq(uint32_t h, uint32_t s2, uint32_t b2) {
    uint32_t mg = MAGIC;
    __nv_bfloat162 v = *(__nv_bfloat162 *)&h, m = *(__nv_bfloat162 *)&mg;
    v = __hfma2(__hsub2(v, m), *(__nv_bfloat162 *)&s2, *(__nv_bfloat162 *)&b2);
    return *(uint32_t *)&v;
  }
  __device__ static void mma(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, "
        "{%8,%9}, {%0,%1,%2,%3};\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
  }
  __device__ static float ld(__nv_bfloat16 v) { return __bfloat162float(v); }
  __host__ __device__ static __nv_bfloat16 sv(float v) { return __float2bfloat16(v); }
  __device__ static uint32_t pack2(float a, float b) {
    __nv_bfloat162 v = __floats2bfloat162_rn(a, b);
    return *(uint32_t *)&v;
  }
};
template <>
struct qh<__half> {
  static constexpr uint32_t MAGIC = 0x64006400u;
  __device__ static uint32_t dq(uint32_t h, uint32_t s2, uint32_t b2) {
    uint32_t mg = MAGIC;
    __half2 v = *(__half2 *)&h, m = *(__half2 *)&mg;
    v = __hfma2(__hsub2(v, m), *(__half2 *)&s2, *(__half2 *)&b2);
    return *(uint32_t *)&v;
  }
  __device__ static void mma(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, "
        "{%8,%9}, {%0,%1,%2,%3};\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
  }
  __device__ static float ld(__half v) { return __half2float(v); }
  __host__ __device__ static __half sv(float v) { return __float2half(v); }
  __device__ static uint32_t pack2(float a, float b) {
    __half2 v = __floats2half2_rn(a, b);
    return *(uint32_t *)&v;
  }
};

/* Codes 2p, 2p+1 (byte p of w) as a half pair (MAGIC + c, MAGIC + c'). */
__device__ __forceinline__ uint32_t q_pair(uint32_t w, uint32_t sel, uint32_t magic) {
  uint32_t v = __byte_perm(w, 0u, sel); /* the byte alone in bits 0..7 */
  uint32_t m = v * 0x1001u;             /* low nibble at 0..3, high nibble at 16..19 */
  return (m & 0x000F000Fu) | magic;
}

__device__ __forceinline__ uint32_t smem_u32(const void *p) {
  return (uint32_t)__cvta_generic_to_shared(p);
}
__device__ __forceinline__ void cp_async16(uint32_t dst, const void *src, int bytes) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(src),
               "r"(bytes));
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n"); }
template <int N>
__device__ __forceinline__ void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N));
}
__device__ __forceinline__ void ldsm_x4(uint32_t (&r)[4], uint32_t addr) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(addr));
}
__device__ __forceinline__ void ldsm_x2(uint32_t &r0, uint32_t &r1, uint32_t addr) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x2.shared.b16 {%0,%1}, [%2];\n"
               : "=r"(r0), "=r"(r1)
               : "r"(addr));
}

/* ---- data: random weights, quantized on the device (affine, 4 bits) ---- */

__device__ float hrand(uint64_t i, uint32_t seed) {
  uint64_t z = i * 0x9E3779B97F4A7C15ull + seed * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  float u1 = ((z >> 40) + 1) * (1.0f / 16777217.0f), u2 = ((z & 0xFFFFFF) + 0.5f) * (1.0f / 16777216.0f);
  return sqrtf(-2.0f * logf(u1)) * cosf(6.2831853f * u2);
}

template <class T>
__global__ void k_fill(T *p, int64_t n, float scale, uint32_t seed) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
       i += (int64_t)gridDim.x * blockDim.x)
    p[i] = qh<T>::sv(hrand(i, seed) * scale);
}

/* One thread per group of gs: scale/bias in T, codes packed little-endian. */
template <class T>
__global__ void k_quantize(int64_t groups, int gs, uint32_t seed, uint32_t *wq, T *sc, T *bi) {
  for (int64_t g = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; g < groups;
       g += (int64_t)gridDim.x * blockDim.x) {
    float v[128], lo = 1e30f, hi = -1e30f;
    for (int i = 0; i < gs; i++) {
      v[i] = qh<T>::ld(qh<T>::sv(hrand(g * gs + i, seed) * 0.02f));
      lo = fminf(lo, v[i]);
      hi = fmaxf(hi, v[i]);
    }
    float s = (hi - lo) / 15.0f;
    if (s == 0.0f) s = 1e-8f;
    T st = qh<T>::sv(s), bt = qh<T>::sv(lo);
    sc[g] = st;
    bi[g] = bt;
    float sf = qh<T>::ld(st), bf = qh<T>::ld(bt);
    for (int i = 0; i < gs; i += 8) {
      uint32_t word = 0;
      for (int j = 0; j < 8; j++) {
        int c = (int)rintf((v[i + j] - bf) / sf);
        c = c < 0 ? 0 : c > 15 ? 15 : c;
        word |= (uint32_t)c << (4 * j);
      }
      wq[(g * gs + i) / 8] = word;
    }
  }
}

template <class T>
__global__ void k_dequant_f32(const uint32_t *wq, const T *sc, const T *bi, int gs, float *out,
                              int64_t n) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
       i += (int64_t)gridDim.x * blockDim.x) {
    uint32_t c = (wq[i / 8] >> (4 * (i % 8))) & 15u;
    out[i] = qh<T>::ld(sc[i / gs]) * (float)c + qh<T>::ld(bi[i / gs]);
  }
}

template <class T>
__global__ void k_to_f32(const T *a, float *b, int64_t n) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
       i += (int64_t)gridDim.x * blockDim.x)
    b[i] = qh<T>::ld(a[i]);
}

/* ---- D0: the current GEMV (quantized.cu q_gemv_t, bf16, 4 bits, R=4, UPL=2, W=4) ---- */

struct gemv_args {
  const void *x;
  const uint32_t *w;
  const void *sc, *bi;
  void *out;
  int M, N, K, gs;
};

__global__ void __launch_bounds__(128) d0_gemv(const gemv_args a) {
  constexpr int R = 4, UPL = 2, W = 4, BITS = 4;
  typedef __nv_bfloat16 S;
  const int lane = threadIdx.x & 31;
  const int n0 = (blockIdx.x * W + (threadIdx.x >> 5)) * R;
  if (n0 >= a.N) return;
  const int U = a.K / 32, G = a.K / a.gs;
  const uint32_t *wrow[R];
  const S *srow[R], *brow[R];
  for (int r = 0; r < R; r++) {
    const int64_t row = (n0 + r < a.N ? n0 + r : n0);
    wrow[r] = a.w + row * U * BITS;
    srow[r] = (const S *)a.sc + row * G;
    brow[r] = (const S *)a.bi + row * G;
  }
  const S *xb = (const S *)a.x;
  for (int m = 0; m < a.M; m++) {
    float acc[R];
    for (int r = 0; r < R; r++) acc[r] = 0.0f;
    for (int u0 = lane; u0 < U; u0 += 32 * UPL) {
      uint32_t wv[UPL][R][BITS];
      S sv[UPL][R], bv[UPL][R];
#pragma unroll
      for (int j = 0; j < UPL; j++) {
        const int u = u0 + 32 * j;
        if (u < U) {
          const int g0 = u * 32 / a.gs;
#pragma unroll
          for (int r = 0; r < R; r++) {
            uint4 v = ((const uint4 *)(wrow[r] + u * BITS))[0];
            wv[j][r][0] = v.x;
            wv[j][r][1] = v.y;
            wv[j][r][2] = v.z;
            wv[j][r][3] = v.w;
            sv[j][r] = srow[r][g0];
            bv[j][r] = brow[r][g0];
          }
        }
      }
#pragma unroll
      for (int j = 0; j < UPL; j++) {
        const int u = u0 + 32 * j;
        if (u < U) {
          float xv[32];
          const uint4 *xp = (const uint4 *)(xb + (int64_t)m * a.K + u * 32);
#pragma unroll
          for (int p = 0; p < 4; p++) {
            uint4 pk = xp[p];
            const __nv_bfloat16 *e = (const __nv_bfloat16 *)&pk;
#pragma unroll
            for (int q = 0; q < 8; q++) xv[p * 8 + q] = __bfloat162float(e[q]);
          }
          float xs = 0.0f;
#pragma unroll
          for (int k = 0; k < 32; k++) xs += xv[k];
#pragma unroll
          for (int r = 0; r < R; r++) {
            float d = 0.0f;
#pragma unroll
            for (int k = 0; k < 32; k++) {
              const int wd = k / 8, sh = (k % 8) * 4;
              const uint32_t hw = (k % 8) < 4 ? wv[j][r][wd] : wv[j][r][wd] >> 16;
              const int s2 = sh % 16;
              const uint32_t e = (uint32_t)(127 + 23 - s2) << 23;
              d += xv[k] * (__uint_as_float((hw & (15u << s2)) | e) - __uint_as_float(e));
            }
            acc[r] += __bfloat162float(sv[j][r]) * d + __bfloat162float(bv[j][r]) * xs;
          }
        }
      }
    }
    for (int r = 0; r < R; r++) {
      float s = acc[r];
      for (int o = 16; o > 0; o >>= 1) s += __shfl_xor_sync(0xffffffffu, s, o);
      if (lane == 0 && n0 + r < a.N) ((S *)a.out)[(int64_t)m * a.N + n0 + r] = __float2bfloat16(s);
    }
  }
}

/* ---- D1: tensor-core GEMV: a warp owns 16*RT weight rows and every S-th 128-k step ----
 * mma.m16n8k16 with the weights as A (dequantized to T in registers: the 32 codes of a 16-byte
 * load of one row) and x as B (n = row of x, up to 8). Lane (g, t) loads 32 codes of rows g and
 * g+8 at k = 128 st + 32 t; a word's codes decode into pairs (c0,c4) (c1,c5) (c2,c6) (c3,c7),
 * so the same k permutation is applied to x: (x0,x4) (x1,x5) | (x2,x6) (x3,x7). */
template <class T, int GS, int S, int U, int RT>
__global__ void __launch_bounds__(32 * S) d1_gemv_mma(const gemv_args a) {
  __shared__ float red[S][RT][16][8];
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, g = lane >> 2, t = lane & 3;
  const int n0 = blockIdx.x * 16 * RT;
  const int KW = a.K / 8, G = a.K / GS;
  const uint32_t *wr[RT][2];
  const uint16_t *sr[RT][2], *br[RT][2];
#pragma unroll
  for (int r = 0; r < RT; r++)
#pragma unroll
    for (int h = 0; h < 2; h++) {
      int row = n0 + 16 * r + 8 * h + g;
      row = row < a.N ? row : a.N - 1;
      wr[r][h] = a.w + (int64_t)row * KW;
      sr[r][h] = (const uint16_t *)a.sc + (int64_t)row * G;
      br[r][h] = (const uint16_t *)a.bi + (int64_t)row * G;
    }
  const T *xr = (const T *)a.x + (int64_t)(g < a.M ? g : a.M - 1) * a.K;
  float acc[RT][4];
#pragma unroll
  for (int r = 0; r < RT; r++) acc[r][0] = acc[r][1] = acc[r][2] = acc[r][3] = 0.0f;
  const int nst = (a.K + 127) / 128;
  for (int st0 = warp * U; st0 < nst; st0 += S * U) {
    uint4 wv[U][RT][2], xv[U][4];
    uint32_t s2[U][RT][2], b2[U][RT][2];
#pragma unroll
    for (int u = 0; u < U; u++) {
      const int k0 = (st0 + u) * 128 + 32 * t;
      const bool ok = st0 + u < nst && k0 < a.K;
#pragma unroll
      for (int r = 0; r < RT; r++)
#pragma unroll
        for (int h = 0; h < 2; h++) {
          if (ok) {
            wv[u][r][h] = *(const uint4 *)(wr[r][h] + k0 / 8);
            const uint32_t s = sr[r][h][k0 / GS], b = br[r][h][k0 / GS];
            s2[u][r][h] = s | (s << 16);
            b2[u][r][h] = b | (b << 16);
          } else {
            wv[u][r][h] = make_uint4(0, 0, 0, 0);
            s2[u][r][h] = b2[u][r][h] = 0;
          }
        }
#pragma unroll
      for (int i = 0; i < 4; i++)
        xv[u][i] = ok ? *(const uint4 *)(xr + k0 + 8 * i) : make_uint4(0, 0, 0, 0);
    }
#pragma unroll
    for (int u = 0; u < U; u++)
#pragma unroll
      for (int i = 0; i < 4; i++) {
        const uint4 xq = xv[u][i];
        const uint32_t xb0 = __byte_perm(xq.x, xq.z, 0x5410), xb1 = __byte_perm(xq.x, xq.z, 0x7632);
        const uint32_t xb2 = __byte_perm(xq.y, xq.w, 0x5410), xb3 = __byte_perm(xq.y, xq.w, 0x7632);
#pragma unroll
        for (int r = 0; r < RT; r++) {
          const uint32_t wa = ((const uint32_t *)&wv[u][r][0])[i];
          const uint32_t wb = ((const uint32_t *)&wv[u][r][1])[i];
          uint32_t pa[4], pb[4];
#pragma unroll
          for (int p = 0; p < 4; p++) {
            pa[p] = qh<T>::dq(((wa >> (4 * p)) & 0x000F000Fu) | qh<T>::MAGIC, s2[u][r][0], b2[u][r][0]);
            pb[p] = qh<T>::dq(((wb >> (4 * p)) & 0x000F000Fu) | qh<T>::MAGIC, s2[u][r][1], b2[u][r][1]);
          }
          const uint32_t f0[4] = {pa[0], pb[0], pa[1], pb[1]};
          const uint32_t f1[4] = {pa[2], pb[2], pa[3], pb[3]};
          qh<T>::mma(acc[r], f0, xb0, xb1);
          qh<T>::mma(acc[r], f1, xb2, xb3);
        }
      }
  }
#pragma unroll
  for (int r = 0; r < RT; r++) {
    red[warp][r][g][2 * t] = acc[r][0];
    red[warp][r][g][2 * t + 1] = acc[r][1];
    red[warp][r][g + 8][2 * t] = acc[r][2];
    red[warp][r][g + 8][2 * t + 1] = acc[r][3];
  }
  __syncthreads();
  for (int e = threadIdx.x; e < RT * 128; e += 32 * S) {
    const int r = e >> 7, row = (e >> 3) & 15, m = e & 7, n = n0 + 16 * r + row;
    if (m >= a.M || n >= a.N) continue;
    float s = 0.0f;
#pragma unroll
    for (int w = 0; w < S; w++) s += red[w][r][row][m];
    ((T *)a.out)[(int64_t)m * a.N + n] = qh<T>::sv(s);
  }
}

/* ---- D3: D1 with the next run of U steps loaded (into a second register set) before the
 * current one is computed, so a warp's loads and arithmetic overlap ---- */
template <class T, int GS, int S, int U>
__global__ void __launch_bounds__(32 * S) d3_gemv(const gemv_args a) {
  __shared__ float red[S][16][8];
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, g = lane >> 2, t = lane & 3;
  const int n0 = blockIdx.x * 16;
  const int KW = a.K / 8, G = a.K / GS;
  const uint32_t *wr[2];
  const uint16_t *sr[2], *br[2];
#pragma unroll
  for (int h = 0; h < 2; h++) {
    int row = n0 + 8 * h + g;
    row = row < a.N ? row : a.N - 1;
    wr[h] = a.w + (int64_t)row * KW;
    sr[h] = (const uint16_t *)a.sc + (int64_t)row * G;
    br[h] = (const uint16_t *)a.bi + (int64_t)row * G;
  }
  const T *xr = (const T *)a.x + (int64_t)(g < a.M ? g : a.M - 1) * a.K;
  const int nst = (a.K + 127) / 128;
  struct buf {
    uint4 w[U][2], x[U][4];
    uint32_t s[U][2], b[U][2];
  };
  auto load = [&](buf &B, int st0) {
#pragma unroll
    for (int u = 0; u < U; u++) {
      const int k0 = (st0 + u) * 128 + 32 * t;
      const bool ok = st0 + u < nst && k0 < a.K;
#pragma unroll
      for (int h = 0; h < 2; h++) {
        B.w[u][h] = ok ? *(const uint4 *)(wr[h] + k0 / 8) : make_uint4(0, 0, 0, 0);
        const uint32_t sv = ok ? sr[h][k0 / GS] : 0u, bv = ok ? br[h][k0 / GS] : 0u;
        B.s[u][h] = sv | (sv << 16);
        B.b[u][h] = bv | (bv << 16);
      }
#pragma unroll
      for (int i = 0; i < 4; i++)
        B.x[u][i] = ok ? *(const uint4 *)(xr + k0 + 8 * i) : make_uint4(0, 0, 0, 0);
    }
  };
  float acc[4] = {0.0f, 0.0f, 0.0f, 0.0f};
  auto compute = [&](const buf &B) {
#pragma unroll
    for (int u = 0; u < U; u++)
#pragma unroll
      for (int i = 0; i < 4; i++) {
        const uint4 xq = B.x[u][i];
        const uint32_t xb0 = __byte_perm(xq.x, xq.z, 0x5410), xb1 = __byte_perm(xq.x, xq.z, 0x7632);
        const uint32_t xb2 = __byte_perm(xq.y, xq.w, 0x5410), xb3 = __byte_perm(xq.y, xq.w, 0x7632);
        const uint32_t wa = i == 0 ? B.w[u][0].x : i == 1 ? B.w[u][0].y : i == 2 ? B.w[u][0].z : B.w[u][0].w;
        const uint32_t wb = i == 0 ? B.w[u][1].x : i == 1 ? B.w[u][1].y : i == 2 ? B.w[u][1].z : B.w[u][1].w;
        uint32_t pa[4], pb[4];
#pragma unroll
        for (int p = 0; p < 4; p++) {
          pa[p] = qh<T>::dq(((wa >> (4 * p)) & 0x000F000Fu) | qh<T>::MAGIC, B.s[u][0], B.b[u][0]);
          pb[p] = qh<T>::dq(((wb >> (4 * p)) & 0x000F000Fu) | qh<T>::MAGIC, B.s[u][1], B.b[u][1]);
        }
        const uint32_t f0[4] = {pa[0], pb[0], pa[1], pb[1]};
        const uint32_t f1[4] = {pa[2], pb[2], pa[3], pb[3]};
        qh<T>::mma(acc, f0, xb0, xb1);
        qh<T>::mma(acc, f1, xb2, xb3);
      }
  };
  buf A, B;
  int st = warp * U;
  if (st < nst) load(A, st);
  while (st < nst) {
    if (st + S * U < nst) load(B, st + S * U);
    compute(A);
    st += S * U;
    if (st >= nst) break;
    if (st + S * U < nst) load(A, st + S * U);
    compute(B);
    st += S * U;
  }
  red[warp][g][2 * t] = acc[0];
  red[warp][g][2 * t + 1] = acc[1];
  red[warp][g + 8][2 * t] = acc[2];
  red[warp][g + 8][2 * t + 1] = acc[3];
  __syncthreads();
  for (int e = threadIdx.x; e < 128; e += 32 * S) {
    const int row = e >> 3, m = e & 7, n = n0 + row;
    if (m >= a.M || n >= a.N) continue;
    float s = 0.0f;
#pragma unroll
    for (int w = 0; w < S; w++) s += red[w][row][m];
    ((T *)a.out)[(int64_t)m * a.N + n] = qh<T>::sv(s);
  }
}

/* ---- P3: unpack with U units (16 bytes each) per thread in flight, grid-stride ---- */
template <class T, int GS, int U>
__global__ void __launch_bounds__(256) p3_unpack(const uint32_t *w, const T *sc, const T *bi,
                                                 T *out, int64_t units) {
  const int64_t stride = (int64_t)gridDim.x * blockDim.x;
  for (int64_t u0 = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; u0 < units; u0 += U * stride) {
    uint4 q[U];
    uint32_t s2[U], b2[U];
#pragma unroll
    for (int j = 0; j < U; j++) {
      const int64_t u = u0 + j * stride;
      if (u < units) {
        q[j] = ((const uint4 *)w)[u];
        const uint32_t s = ((const uint16_t *)sc)[u * 32 / GS], b = ((const uint16_t *)bi)[u * 32 / GS];
        s2[j] = s | (s << 16);
        b2[j] = b | (b << 16);
      }
    }
#pragma unroll
    for (int j = 0; j < U; j++) {
      const int64_t u = u0 + j * stride;
      if (u >= units) break;
      const uint32_t wd[4] = {q[j].x, q[j].y, q[j].z, q[j].w};
      uint4 *o = (uint4 *)(out + u * 32);
#pragma unroll
      for (int i = 0; i < 4; i++) {
        uint4 r;
        r.x = qh<T>::dq(q_pair(wd[i], 0x4440u, qh<T>::MAGIC), s2[j], b2[j]);
        r.y = qh<T>::dq(q_pair(wd[i], 0x4441u, qh<T>::MAGIC), s2[j], b2[j]);
        r.z = qh<T>::dq(q_pair(wd[i], 0x4442u, qh<T>::MAGIC), s2[j], b2[j]);
        r.w = qh<T>::dq(q_pair(wd[i], 0x4443u, qh<T>::MAGIC), s2[j], b2[j]);
        o[i] = r;
      }
    }
  }
}

/* ---- P0: the current unpack kernel (quantized.cu q_unpack, bf16, 4 bits) ---- */

__global__ void __launch_bounds__(256) p0_unpack(const uint32_t *w, const __nv_bfloat16 *sc,
                                                 const __nv_bfloat16 *bi, __nv_bfloat16 *out,
                                                 int64_t octs, int gs) {
  constexpr int IN = 4;
  const int64_t stride = (int64_t)gridDim.x * blockDim.x;
  for (int64_t t0 = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; t0 < octs; t0 += IN * stride) {
    uint32_t v[IN];
    float s[IN], b[IN];
#pragma unroll
    for (int u = 0; u < IN; u++) {
      const int64_t t = t0 + u * stride;
      v[u] = 0;
      s[u] = b[u] = 0.0f;
      if (t < octs) {
        v[u] = w[t];
        s[u] = __bfloat162float(sc[t * 8 / gs]);
        b[u] = __bfloat162float(bi[t * 8 / gs]);
      }
    }
#pragma unroll
    for (int u = 0; u < IN; u++) {
      const int64_t t = t0 + u * stride;
      if (t >= octs) break;
      __align__(16) __nv_bfloat16 f[8];
#pragma unroll
      for (int k = 0; k < 8; k++) {
        const uint32_t c = (v[u] >> (k * 4)) & 15u;
        f[k] = __float2bfloat16(s[u] * (__int_as_float(0x4B000000u | c) - 8388608.0f) + b[u]);
      }
      *(uint4 *)(out + t * 8) = *(uint4 *)f;
    }
  }
}

/* ---- P1: unpack at full bandwidth: a thread per 32 codes (16 bytes in, 64 out) ---- */

template <class T, int GS>
__global__ void __launch_bounds__(256) p1_unpack(const uint32_t *w, const T *sc, const T *bi,
                                                 T *out, int64_t units) {
  for (int64_t u = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; u < units;
       u += (int64_t)gridDim.x * blockDim.x) {
    const uint4 q = ((const uint4 *)w)[u];
    const uint32_t s = ((const uint16_t *)sc)[u * 32 / GS], b = ((const uint16_t *)bi)[u * 32 / GS];
    const uint32_t s2 = s | (s << 16), b2 = b | (b << 16);
    const uint32_t wd[4] = {q.x, q.y, q.z, q.w};
    uint4 *o = (uint4 *)(out + u * 32);
#pragma unroll
    for (int i = 0; i < 4; i++) {
      uint4 r;
      r.x = qh<T>::dq(q_pair(wd[i], 0x4440u, qh<T>::MAGIC), s2, b2);
      r.y = qh<T>::dq(q_pair(wd[i], 0x4441u, qh<T>::MAGIC), s2, b2);
      r.z = qh<T>::dq(q_pair(wd[i], 0x4442u, qh<T>::MAGIC), s2, b2);
      r.w = qh<T>::dq(q_pair(wd[i], 0x4443u, qh<T>::MAGIC), s2, b2);
      o[i] = r;
    }
  }
}

/* ---- F: fused tensor-core GEMM, out (M x N) = x (M x K) @ W^T, W (N x K) 4-bit packed ----
 * CTA: 128 rows of x x BN rows of W, 8 warps as WMW x WNW, k tiles of 64 (S-stage cp.async
 * ring of x tiles (128-byte rows, 16-byte chunks swizzled by row % 8) and packed W tiles).
 * SD: each k tile's packed W is dequantized once into a bf16/f16 tile (double-buffered) read
 * with ldmatrix; RD: each warp dequantizes its own B fragments from the packed tile. */
template <class T, int BN, int WMW, int WNW, int S, bool RD, int GS>
__global__ void __launch_bounds__(256, 1)
    f_qmm(const T *__restrict__ x, const uint32_t *__restrict__ w, const T *__restrict__ sc,
          const T *__restrict__ bi, T *__restrict__ out, int M, int N, int K) {
  constexpr int BM = 128, WTM = BM / WMW, WTN = BN / WNW, MI = WTM / 16, NI = WTN / 8;
  constexpr int XS = BM * 64, WPS = BN * 8, WBS = BN * 64;
  constexpr int NGT = GS >= 64 ? 1 : 64 / GS;  /* groups per k tile (RD) */
  constexpr int ITEMS = BN * 8 / 256;          /* packed words per thread (SD) */
  constexpr int NSB = RD ? NI * NGT : ITEMS;
  static_assert(WMW * WNW == 8 && NI >= 1 && MI >= 1, "warp layout");
  static_assert(RD || (BN * 8) % 256 == 0, "SD items");
  extern __shared__ __align__(128) uint8_t smem[];
  T *xs = (T *)smem;
  uint32_t *wp = (uint32_t *)(smem + (size_t)S * XS * sizeof(T));
  T *wb = (T *)(smem + (size_t)S * XS * sizeof(T) + (size_t)S * WPS * 4);
  const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31, g = lane >> 2, t = lane & 3;
  const int wm = warp / WNW, wn = warp % WNW;
  const int m0 = blockIdx.x * BM, n0 = blockIdx.y * BN;
  const int KT = K / 64, KW = K / 8, G = K / GS;

  auto load_tile = [&](int kt, int st) {
#pragma unroll
    for (int i = 0; i < BM * 8 / 256; i++) {
      const int c = tid + 256 * i, r = c >> 3, ch = c & 7, gm = m0 + r;
      const T *src = x + (int64_t)(gm < M ? gm : M - 1) * K + kt * 64 + ch * 8;
      cp_async16(smem_u32(xs + st * XS + r * 64 + ((ch ^ (r & 7)) << 3)), src, gm < M ? 16 : 0);
    }
    for (int c = tid; c < BN * 2; c += 256) {
      const int r = c >> 1, ch = c & 1, gn = n0 + r < N ? n0 + r : N - 1;
      const int pos = RD ? (ch ^ ((r >> 2) & 1)) : ch;
      cp_async16(smem_u32(wp + st * WPS + r * 8 + pos * 4), w + (int64_t)gn * KW + kt * 8 + ch * 4,
                 16);
    }
  };
  auto load_sb = [&](int kt, uint32_t (&sb)[NSB]) {
    if (kt >= KT) return;
    if constexpr (RD) {
#pragma unroll
      for (int ni = 0; ni < NI; ni++) {
        int gn = n0 + wn * WTN + ni * 8 + g;
        gn = gn < N ? gn : N - 1;
#pragma unroll
        for (int q = 0; q < NGT; q++) {
          const int64_t gi = (int64_t)gn * G + kt * 64 / GS + q;
          sb[ni * NGT + q] = (uint32_t)((const uint16_t *)sc)[gi] |
                             ((uint32_t)((const uint16_t *)bi)[gi] << 16);
        }
      }
    } else {
#pragma unroll
      for (int i = 0; i < ITEMS; i++) {
        int gn = n0 + (tid >> 3) + 32 * i;
        gn = gn < N ? gn : N - 1;
        const int64_t gi = (int64_t)gn * G + (kt * 64 + 8 * (tid & 7)) / GS;
        sb[i] = (uint32_t)((const uint16_t *)sc)[gi] | ((uint32_t)((const uint16_t *)bi)[gi] << 16);
      }
    }
  };
  /* SD: packed tile of stage st -> T tile buf (row r: 64 values, chunk j at j ^ (r % 8)) */
  auto dequant = [&](int st, int buf, const uint32_t (&sb)[NSB]) {
#pragma unroll
    for (int i = 0; i < ITEMS; i++) {
      const int r = (tid >> 3) + 32 * i, j = tid & 7;
      const uint32_t wv = wp[st * WPS + r * 8 + j];
      const uint32_t s2 = __byte_perm(sb[i], 0, 0x1010), b2 = __byte_perm(sb[i], 0, 0x3232);
      uint4 o;
      o.x = qh<T>::dq(q_pair(wv, 0x4440u, qh<T>::MAGIC), s2, b2);
      o.y = qh<T>::dq(q_pair(wv, 0x4441u, qh<T>::MAGIC), s2, b2);
      o.z = qh<T>::dq(q_pair(wv, 0x4442u, qh<T>::MAGIC), s2, b2);
      o.w = qh<T>::dq(q_pair(wv, 0x4443u, qh<T>::MAGIC), s2, b2);
      *(uint4 *)(wb + buf * WBS + r * 64 + ((j ^ (r & 7)) << 3)) = o;
    }
  };

  float acc[MI][NI][4];
#pragma unroll
  for (int mi = 0; mi < MI; mi++)
#pragma unroll
    for (int ni = 0; ni < NI; ni++) acc[mi][ni][0] = acc[mi][ni][1] = acc[mi][ni][2] = acc[mi][ni][3] = 0.0f;

  auto compute = [&](int st, int buf, const uint32_t (&sb)[NSB]) {
    uint32_t s2[NSB], b2[NSB];
    if constexpr (RD) {
#pragma unroll
      for (int i = 0; i < NSB; i++) {
        s2[i] = __byte_perm(sb[i], 0, 0x1010);
        b2[i] = __byte_perm(sb[i], 0, 0x3232);
      }
    }
    const uint32_t sel = 0x4440u | (uint32_t)t;
#pragma unroll
    for (int s = 0; s < 4; s++) {
      uint32_t af[MI][4], bf[NI][2];
#pragma unroll
      for (int mi = 0; mi < MI; mi++) {
        const int r = wm * WTM + mi * 16 + (lane & 15), c = 2 * s + (lane >> 4);
        ldsm_x4(af[mi], smem_u32(xs + st * XS + r * 64 + ((c ^ (r & 7)) << 3)));
      }
      if constexpr (RD) {
#pragma unroll
        for (int ni = 0; ni < NI; ni++) {
          const int r = wn * WTN + ni * 8 + g;
          const uint2 q = *(const uint2 *)(wp + st * WPS + r * 8 + (((s >> 1) ^ ((r >> 2) & 1)) << 2) +
                                           ((2 * s) & 3));
          const int gi = ni * NGT + (NGT == 1 ? 0 : (s * 16) / GS);
          bf[ni][0] = qh<T>::dq(q_pair(q.x, sel, qh<T>::MAGIC), s2[gi], b2[gi]);
          bf[ni][1] = qh<T>::dq(q_pair(q.y, sel, qh<T>::MAGIC), s2[gi], b2[gi]);
        }
      } else {
#pragma unroll
        for (int ni = 0; ni + 1 < NI; ni += 2) {
          const int r = wn * WTN + ni * 8 + (lane & 7) + ((lane >> 4) << 3);
          const int c = 2 * s + ((lane >> 3) & 1);
          uint32_t q[4];
          ldsm_x4(q, smem_u32(wb + buf * WBS + r * 64 + ((c ^ (r & 7)) << 3)));
          bf[ni][0] = q[0];
          bf[ni][1] = q[1];
          bf[ni + 1][0] = q[2];
          bf[ni + 1][1] = q[3];
        }
        if constexpr (NI % 2 == 1) {
          const int r = wn * WTN + (NI - 1) * 8 + (lane & 7);
          const int c = 2 * s + ((lane >> 3) & 1);
          ldsm_x2(bf[NI - 1][0], bf[NI - 1][1],
                  smem_u32(wb + buf * WBS + r * 64 + ((c ^ (r & 7)) << 3)));
        }
      }
#pragma unroll
      for (int mi = 0; mi < MI; mi++)
#pragma unroll
        for (int ni = 0; ni < NI; ni++) qh<T>::mma(acc[mi][ni], af[mi], bf[ni][0], bf[ni][1]);
    }
  };

  for (int s = 0; s < S - 1; s++) {
    if (s < KT) load_tile(s, s);
    cp_async_commit();
  }
  uint32_t sbc[NSB], sbn[NSB];
#pragma unroll
  for (int i = 0; i < NSB; i++) sbc[i] = sbn[i] = 0;
  load_sb(0, sbc);
  if constexpr (!RD) {
    cp_async_wait<S - 2>();
    __syncthreads();
    dequant(0, 0, sbc);
    load_sb(1, sbc);
  }
  for (int kt = 0; kt < KT; kt++) {
    if constexpr (RD) cp_async_wait<S - 2>();
    else cp_async_wait<S - 3>();
    __syncthreads();
    if (kt + S - 1 < KT) load_tile(kt + S - 1, (kt + S - 1) % S);
    cp_async_commit();
    if constexpr (RD) {
      load_sb(kt + 1, sbn);
      compute(kt % S, 0, sbc);
    } else {
      load_sb(kt + 2, sbn);
      if (kt + 1 < KT) dequant((kt + 1) % S, (kt + 1) & 1, sbc);
      compute(kt % S, kt & 1, sbc);
    }
#pragma unroll
    for (int i = 0; i < NSB; i++) sbc[i] = sbn[i];
  }
  cp_async_wait<0>();

#pragma unroll
  for (int mi = 0; mi < MI; mi++)
#pragma unroll
    for (int ni = 0; ni < NI; ni++) {
      const int r = m0 + wm * WTM + mi * 16 + g, c = n0 + wn * WTN + ni * 8 + 2 * t;
      if (c >= N) continue;
      if (r < M) *(uint32_t *)(out + (int64_t)r * N + c) = qh<T>::pack2(acc[mi][ni][0], acc[mi][ni][1]);
      if (r + 8 < M)
        *(uint32_t *)(out + (int64_t)(r + 8) * N + c) = qh<T>::pack2(acc[mi][ni][2], acc[mi][ni][3]);
    }
}

template <class T, int BN, int WMW, int WNW, int S, bool RD, int GS>
static size_t f_smem() {
  return (size_t)S * 128 * 64 * sizeof(T) + (size_t)S * BN * 32 + (RD ? 0 : (size_t)2 * BN * 64 * sizeof(T));
}

template <class T, int BN, int WMW, int WNW, int S, bool RD, int GS>
static void f_launch(const T *x, const uint32_t *w, const T *sc, const T *bi, T *out, int M, int N,
                     int K, cudaStream_t q) {
  auto kern = f_qmm<T, BN, WMW, WNW, S, RD, GS>;
  const size_t sm = f_smem<T, BN, WMW, WNW, S, RD, GS>();
  static bool set = false;
  if (!set) {
    CK(cudaFuncSetAttribute(kern, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)sm));
    set = true;
  }
  dim3 grid((M + 127) / 128, (N + BN - 1) / BN);
  kern<<<grid, 256, sm, q>>>(x, w, sc, bi, out, M, N, K);
}

/* ---- host side ---- */

struct qw {
  uint32_t *w;
  void *sc, *bi;
};

template <class T>
static qw make_weights(int N, int K, int gs, uint32_t seed) {
  qw r;
  const int64_t groups = (int64_t)N * K / gs;
  CK(cudaMalloc(&r.w, (size_t)N * K / 2));
  CK(cudaMalloc(&r.sc, groups * 2));
  CK(cudaMalloc(&r.bi, groups * 2));
  k_quantize<T><<<(groups + 127) / 128, 128>>>(groups, gs, seed, r.w, (T *)r.sc, (T *)r.bi);
  CK(cudaGetLastError());
  return r;
}

static cublasHandle_t cb;

/* ref (M x N float) = x @ dequant(w)^T in float32 through cuBLAS (no TF32). */
template <class T>
static void reference(const T *x, const qw &q, int M, int N, int K, int gs, float *ref) {
  float *wf, *xf;
  CK(cudaMalloc(&wf, (size_t)N * K * 4));
  CK(cudaMalloc(&xf, (size_t)M * K * 4));
  k_dequant_f32<T><<<4096, 256>>>(q.w, (const T *)q.sc, (const T *)q.bi, gs, wf, (int64_t)N * K);
  k_to_f32<T><<<1024, 256>>>(x, xf, (int64_t)M * K);
  const float one = 1.0f, zero = 0.0f;
  cublasSetMathMode(cb, CUBLAS_PEDANTIC_MATH);
  cublasSgemm(cb, CUBLAS_OP_T, CUBLAS_OP_N, N, M, K, &one, wf, K, xf, K, &zero, ref, N);
  cublasSetMathMode(cb, CUBLAS_DEFAULT_MATH);
  CK(cudaDeviceSynchronize());
  cudaFree(wf);
  cudaFree(xf);
}

template <class T>
static void gemm_t(const T *x, const T *w, T *out, int M, int N, int K, int ldc, cudaStream_t q) {
  const float one = 1.0f, zero = 0.0f;
  cudaDataType_t dt = sizeof(T) == 2 && qh<T>::MAGIC == 0x43004300u ? CUDA_R_16BF : CUDA_R_16F;
  cublasSetStream(cb, q);
  cublasStatus_t s = cublasGemmEx(cb, CUBLAS_OP_T, CUBLAS_OP_N, N, M, K, &one, w, dt, K, x, dt, K,
                                  &zero, out, dt, ldc, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
  if (s != CUBLAS_STATUS_SUCCESS) printf("cublasGemmEx failed %d\n", (int)s);
}

/* relative L2 error and max |err| / max |ref| of y (T) against ref */
template <class T>
static void compare(const char *name, const T *y, const float *ref, int64_t n, double *rel,
                    double *mx) {
  std::vector<T> hy(n);
  std::vector<float> hr(n);
  CK(cudaMemcpy(hy.data(), y, n * sizeof(T), cudaMemcpyDeviceToHost));
  CK(cudaMemcpy(hr.data(), ref, n * 4, cudaMemcpyDeviceToHost));
  double num = 0, den = 0, me = 0, mr = 0;
  int64_t bad = -1;
  for (int64_t i = 0; i < n; i++) {
    double v = (double)(sizeof(T) == 2 && qh<T>::MAGIC == 0x43004300u
                            ? __bfloat162float(*(__nv_bfloat16 *)&hy[i])
                            : __half2float(*(__half *)&hy[i]));
    double d = v - hr[i];
    if (!(d == d) && bad < 0) bad = i;
    num += d * d;
    den += (double)hr[i] * hr[i];
    me = fabs(d) > me ? fabs(d) : me;
    mr = fabs(hr[i]) > mr ? fabs(hr[i]) : mr;
  }
  *rel = sqrt(num / den);
  *mx = me / mr;
  if (bad >= 0) printf("  %s: NaN at %lld\n", name, (long long)bad);
}

template <class F>
static float time_us(F f, int reps) {
  for (int i = 0; i < 3; i++) f(i);
  cudaEvent_t a, b;
  cudaEventCreate(&a);
  cudaEventCreate(&b);
  cudaEventRecord(a);
  for (int i = 0; i < reps; i++) f(i);
  cudaEventRecord(b);
  CK(cudaEventSynchronize(b));
  float ms;
  cudaEventElapsedTime(&ms, a, b);
  CK(cudaGetLastError());
  return ms * 1000.0f / reps;
}

struct row_t {
  char name[96];
  float us, us2;
  double rel, mx;
};
static std::vector<row_t> rows;
static void add(const char *name, float us, float us2, double rel, double mx) {
  row_t r;
  snprintf(r.name, sizeof r.name, "%s", name);
  r.us = us;
  r.us2 = us2;
  r.rel = rel;
  r.mx = mx;
  rows.push_back(r);
  printf("%-58s %9.1f %9.1f   %.2e %.2e\n", name, us, us2, rel, mx);
  fflush(stdout);
}

#define NROT 4

template <class T>
static void run_decode(int N, int K, int gs, const char *tag) {
  qw q[NROT];
  for (int i = 0; i < NROT; i++) q[i] = make_weights<T>(N, K, gs, 11 + i);
  T *x, *y;
  float *ref;
  CK(cudaMalloc(&x, 8 * K * sizeof(T)));
  CK(cudaMalloc(&y, 8 * N * sizeof(T)));
  CK(cudaMalloc(&ref, 8 * N * 4));
  k_fill<T><<<64, 256>>>(x, 8 * K, 1.0f, 5);
  const int Ms[3] = {1, 5, 8};
  for (int mi = 0; mi < 3; mi++) {
    const int M = Ms[mi];
    reference<T>(x, q[0], M, N, K, gs, ref);
    char nm[96];
    auto one = [&](const char *v, auto launch) {
      double rel, mx;
      CK(cudaMemset(y, 0, 8 * N * sizeof(T)));
      launch(q[0]);
      CK(cudaDeviceSynchronize());
      compare<T>(v, y, ref, (int64_t)M * N, &rel, &mx);
      float rot = time_us([&](int i) { launch(q[i % NROT]); }, 50);
      float same = time_us([&](int i) { launch(q[0]); }, 50);
      snprintf(nm, sizeof nm, "%s M=%d %s", tag, M, v);
      add(nm, rot, same, rel, mx);
    };
    auto args = [&](const qw &w) {
      gemv_args a;
      a.x = x;
      a.w = w.w;
      a.sc = w.sc;
      a.bi = w.bi;
      a.out = y;
      a.M = M;
      a.N = N;
      a.K = K;
      a.gs = gs;
      return a;
    };
    if (qh<T>::MAGIC == 0x43004300u && gs == 64)
      one("D0 current gemv", [&](const qw &w) { d0_gemv<<<(N + 15) / 16, 128>>>(args(w)); });
#define D1(S_, U_, RT_)                                                                      \
  one("D1 mma S=" #S_ " U=" #U_ " RT=" #RT_, [&](const qw &w) {                                \
    if (gs == 64) d1_gemv_mma<T, 64, S_, U_, RT_><<<(N + 16 * RT_ - 1) / (16 * RT_), 32 * S_>>>(args(w)); \
    else d1_gemv_mma<T, 32, S_, U_, RT_><<<(N + 16 * RT_ - 1) / (16 * RT_), 32 * S_>>>(args(w)); \
  })
    D1(4, 1, 1);
#define D3(S_, U_)                                                                           \
  one("D3 prefetch S=" #S_ " U=" #U_, [&](const qw &w) {                                      \
    if (gs == 64) d3_gemv<T, 64, S_, U_><<<(N + 15) / 16, 32 * S_>>>(args(w));                \
    else d3_gemv<T, 32, S_, U_><<<(N + 15) / 16, 32 * S_>>>(args(w));                         \
  })
    D3(4, 1);
    D3(4, 2);
    D3(8, 1);
    D3(8, 2);
    D3(2, 1);
    D3(2, 2);
    D3(2, 4);
    D3(16, 1);
#undef D3
#undef D1
  }
  for (int i = 0; i < NROT; i++) {
    cudaFree(q[i].w);
    cudaFree(q[i].sc);
    cudaFree(q[i].bi);
  }
  cudaFree(x);
  cudaFree(y);
  cudaFree(ref);
}

template <class T>
static void run_prefill(int M, int N, int K, int gs, const char *tag, bool full, bool fused) {
  qw q[2];
  for (int i = 0; i < 2; i++) q[i] = make_weights<T>(N, K, gs, 21 + i);
  T *x, *y, *wt, *xb, *wb;
  float *ref;
  CK(cudaMalloc(&x, (size_t)M * K * sizeof(T)));
  CK(cudaMalloc(&y, (size_t)M * N * sizeof(T)));
  CK(cudaMalloc(&wt, (size_t)N * K * sizeof(T)));
  CK(cudaMalloc(&ref, (size_t)M * N * 4));
  k_fill<T><<<1024, 256>>>(x, (int64_t)M * K, 1.0f, 7);
  reference<T>(x, q[0], M, N, K, gs, ref);
  char nm[96];
  auto one = [&](const char *v, auto launch) {
    double rel, mx;
    CK(cudaMemset(y, 0, (size_t)M * N * sizeof(T)));
    launch(q[0]);
    CK(cudaDeviceSynchronize());
    CK(cudaGetLastError());
    compare<T>(v, y, ref, (int64_t)M * N, &rel, &mx);
    float rot = time_us([&](int i) { launch(q[i % 2]); }, 20);
    snprintf(nm, sizeof nm, "%s M=%d %s", tag, M, v);
    add(nm, rot, 0.0f, rel, mx);
  };
  const int64_t units = (int64_t)N * K / 32;
  if (full) {
    /* cuBLAS alone on bf16 weights (the target's denominator) */
    CK(cudaMalloc(&xb, (size_t)M * K * sizeof(T)));
    CK(cudaMalloc(&wb, (size_t)N * K * sizeof(T)));
    k_fill<T><<<1024, 256>>>(xb, (int64_t)M * K, 1.0f, 8);
    k_fill<T><<<4096, 256>>>(wb, (int64_t)N * K, 0.02f, 9);
    float tg = time_us([&](int) { gemm_t<T>(xb, wb, y, M, N, K, N, 0); }, 20);
    snprintf(nm, sizeof nm, "%s M=%d cuBLAS dense (no quant)", tag, M);
    add(nm, tg, 0.0f, 0, 0);
    cudaFree(xb);
    cudaFree(wb);
    if (qh<T>::MAGIC == 0x43004300u && gs == 64)
      one("P0 current unpack + cuBLAS", [&](const qw &w) {
        p0_unpack<<<132 * 8, 256>>>(w.w, (const __nv_bfloat16 *)w.sc, (const __nv_bfloat16 *)w.bi,
                                    (__nv_bfloat16 *)wt, units * 4, gs);
        gemm_t<T>(x, wt, y, M, N, K, N, 0);
      });
    auto unpack = [&](const qw &w, int r0, int nr, int var) {
      const int64_t u = (int64_t)nr * K / 32;
      const uint32_t *wp = w.w + (int64_t)r0 * K / 8;
      const T *sp = (const T *)w.sc + (int64_t)r0 * K / gs, *bp = (const T *)w.bi + (int64_t)r0 * K / gs;
      if (var == 1) p1_unpack<T, 64><<<(u + 255) / 256, 256>>>(wp, sp, bp, wt, u);
      else if (var == 2) p3_unpack<T, 64, 2><<<132 * 8, 256>>>(wp, sp, bp, wt, u);
      else if (var == 4) p3_unpack<T, 64, 4><<<132 * 8, 256>>>(wp, sp, bp, wt, u);
      else p3_unpack<T, 64, 4><<<132 * 16, 256>>>(wp, sp, bp, wt, u);
    };
    const int vars[4] = {1, 2, 4, 5};
    for (int vi = 0; vi < 4; vi++) {
      float tu = time_us([&](int i) { unpack(q[i % 2], 0, N, vars[vi]); }, 20);
      snprintf(nm, sizeof nm, "%s unpack var %d alone (all rows)", tag, vars[vi]);
      add(nm, tu, 0.0f, 0, 0);
    }
    const int chunks[5] = {1792, 2048, 3584, 4096, 7168};
    for (int ci = 0; ci < 5; ci++) {
      const int nc = chunks[ci];
      float tu = time_us([&](int i) {
        for (int r0 = 0; r0 < N; r0 += nc) unpack(q[i % 2], r0, N - r0 < nc ? N - r0 : nc, 4);
      }, 20);
      float tg = time_us([&](int i) {
        for (int r0 = 0; r0 < N; r0 += nc) gemm_t<T>(x, wt, y + r0, M, N - r0 < nc ? N - r0 : nc, K, N, 0);
      }, 20);
      snprintf(nm, sizeof nm, "%s Nc=%d unpack-chunks alone | gemm-chunks alone", tag, nc);
      add(nm, tu, tg, 0, 0);
      for (int vi = 2; vi < 4; vi++) {
        char v[64];
        snprintf(v, sizeof v, "P3 chunked unpack(var %d)+cuBLAS Nc=%d", vars[vi], nc);
        one(v, [&](const qw &w) {
          for (int r0 = 0; r0 < N; r0 += nc) {
            const int nr = N - r0 < nc ? N - r0 : nc;
            unpack(w, r0, nr, vars[vi]);
            gemm_t<T>(x, wt, y + r0, M, nr, K, N, 0);
          }
        });
      }
    }
  }
#define F(BN_, WMW_, WNW_, S_, RD_)                                                          \
  one("F BN=" #BN_ " " #WMW_ "x" #WNW_ " S=" #S_ " RD=" #RD_, [&](const qw &w) {             \
    if (gs == 64)                                                                            \
      f_launch<T, BN_, WMW_, WNW_, S_, RD_, 64>(x, w.w, (const T *)w.sc, (const T *)w.bi, y, M, N, K, 0); \
    else                                                                                     \
      f_launch<T, BN_, WMW_, WNW_, S_, RD_, 32>(x, w.w, (const T *)w.sc, (const T *)w.bi, y, M, N, K, 0); \
  })
  if (fused) {
    F(256, 2, 4, 4, false);
    F(256, 2, 4, 4, true);
    F(256, 1, 8, 4, true);
    F(128, 2, 4, 4, false);
    F(128, 2, 4, 4, true);
    F(224, 2, 4, 4, false);
    F(224, 2, 4, 4, true);
  }
#undef F
  for (int i = 0; i < 2; i++) {
    cudaFree(q[i].w);
    cudaFree(q[i].sc);
    cudaFree(q[i].bi);
  }
  cudaFree(x);
  cudaFree(y);
  cudaFree(wt);
  cudaFree(ref);
}

int main(int argc, char **argv) {
  /* 1: decode, 2: prefill through unpack + cuBLAS, 4: the fused prefill GEMMs */
  const int what = argc > 1 ? atoi(argv[1]) : 3;
  cublasCreate(&cb);
  printf("%-58s %9s %9s   %8s %8s\n", "variant", "us(rot)", "us(same)", "rel.err", "max.err");
  if (what & 1) {
    run_decode<__nv_bfloat16>(14336, 4096, 64, "dec bf16 g64 N=14336 K=4096");
    run_decode<__nv_bfloat16>(4096, 14336, 64, "dec bf16 g64 N=4096 K=14336");
    run_decode<__half>(4096, 4096, 32, "dec f16 g32 N=4096 K=4096");
  }
  if (what & 6) {
    run_prefill<__nv_bfloat16>(512, 14336, 4096, 64, "pre bf16 g64", (what & 2) != 0, (what & 4) != 0);
    run_prefill<__half>(512, 4096, 4096, 32, "pre f16 g32 N=4096 K=4096", false, (what & 4) != 0);
  }
  printf("\n==== summary ====\n");
  for (const row_t &r : rows)
    printf("%-58s %9.1f %9.1f   %.2e %.2e\n", r.name, r.us, r.us2, r.rel, r.mx);
  return 0;
}
