/* attention.cuh: scaled-dot-product attention kernels for float16/bfloat16 (fast.cu's fast
 * paths, benchmarks/attention_bench.cu's variants): a flash-attention prefill on tensor cores
 * (mma.sync m16n8k16, online softmax in float, K/V tiles streamed through swizzled shared
 * memory by cp.async, causal tiles skipped) and split-key decoding whose splits the last block
 * of each row merges. sm_80 or later. Depends only on the CUDA runtime headers. */
#ifndef MX_CUDA_ATTENTION_CUH
#define MX_CUDA_ATTENTION_CUH

#include <cuda_runtime.h>
#include <math.h>
#include <stdint.h>

/* Mask element types (att_args.mkind). */
enum { ATT_MASK_BOOL, ATT_MASK_U8, ATT_MASK_I32, ATT_MASK_F16, ATT_MASK_BF16, ATT_MASK_F32,
       ATT_MASK_F64 };
/* Mask modes of the prefill kernel. */
enum { ATT_PLAIN, ATT_CAUSAL, ATT_ARRAY };

struct att_args {
  const void *q, *k, *v;       /* 2-byte elements, unit last stride, rows 16-byte aligned */
  int64_t qs[3], ks[3], vs[3]; /* batch, head, row strides (elements) */
  const void *mask;            /* NULL when none */
  int mkind;                   /* ATT_MASK_* */
  int64_t ms[4];               /* mask strides over (B, NQ, TQ, TK), 0 where broadcast */
  const double *sinks;         /* (NQ,) or NULL */
  void *out;                   /* (B, NQ, TQ, DV) row-contiguous, 16-byte aligned */
  int64_t B, NQ, NKV, TQ, TK, D, DV;
  int64_t chunk;               /* decode: keys per split */
  float *part;                 /* decode, several splits: rows x splits x (DV + 2) partials */
  unsigned *ticket;            /* and one zeroed counter per row (zero again afterwards) */
  float scale;
  float masked;                /* the score of a hidden key (finite, per dtype) */
  bool causal;
};

/* ---------------------------------------------------------------- scalar helpers */

template <bool BF>
__device__ __forceinline__ float att_ld(uint16_t u) {
  if constexpr (BF) {
    return __uint_as_float((uint32_t)u << 16);
  } else {
    float f;
    asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(u));
    return f;
  }
}

template <bool BF>
__device__ __forceinline__ uint16_t att_st(float f) {
  uint16_t u;
  if constexpr (BF) asm("cvt.rn.bf16.f32 %0, %1;" : "=h"(u) : "f"(f));
  else asm("cvt.rn.f16.f32 %0, %1;" : "=h"(u) : "f"(f));
  return u;
}

/* lo in the low half, hi in the high half, rounded to the 2-byte type. */
template <bool BF>
__device__ __forceinline__ uint32_t att_pack2(float lo, float hi) {
  uint32_t r;
  if constexpr (BF) asm("cvt.rn.bf16x2.f32 %0, %1, %2;" : "=r"(r) : "f"(hi), "f"(lo));
  else asm("cvt.rn.f16x2.f32 %0, %1, %2;" : "=r"(r) : "f"(hi), "f"(lo));
  return r;
}

/* Mask elements of kind K (ATT_MASK_*): their size, and the element at p as a float (a
 * boolean as 0 or 1). */
template <int K>
__device__ __forceinline__ constexpr int att_mask_bytes() {
  return K == ATT_MASK_BOOL || K == ATT_MASK_U8 ? 1
         : K == ATT_MASK_F16 || K == ATT_MASK_BF16 ? 2
         : K == ATT_MASK_F64 ? 8 : 4;
}
template <int K>
__device__ __forceinline__ float att_mask_cvt(const char *p) {
  if constexpr (K == ATT_MASK_BOOL) return *(const uint8_t *)p ? 1.0f : 0.0f;
  else if constexpr (K == ATT_MASK_U8) return (float)*(const uint8_t *)p;
  else if constexpr (K == ATT_MASK_I32) return (float)*(const int32_t *)p;
  else if constexpr (K == ATT_MASK_F16) return att_ld<false>(*(const uint16_t *)p);
  else if constexpr (K == ATT_MASK_BF16) return att_ld<true>(*(const uint16_t *)p);
  else if constexpr (K == ATT_MASK_F64) return (float)*(const double *)p;
  else return *(const float *)p;
}

/* Elements p[0] and p[1] of kind K, read as one load (p aligned to both). */
template <int K>
__device__ __forceinline__ void att_mask_pair(const char *p, float &lo, float &hi) {
  if constexpr (att_mask_bytes<K>() == 1) {
    const uint16_t v = *(const uint16_t *)p;
    lo = att_mask_cvt<K>((const char *)&v);
    hi = att_mask_cvt<K>((const char *)&v + 1);
  } else if constexpr (att_mask_bytes<K>() == 2) {
    const uint32_t v = *(const uint32_t *)p;
    lo = att_mask_cvt<K>((const char *)&v);
    hi = att_mask_cvt<K>((const char *)&v + 2);
  } else if constexpr (att_mask_bytes<K>() == 4) {
    const uint2 v = *(const uint2 *)p;
    lo = att_mask_cvt<K>((const char *)&v.x);
    hi = att_mask_cvt<K>((const char *)&v.y);
  } else {
    const double2 v = *(const double2 *)p;
    lo = (float)v.x;
    hi = (float)v.y;
  }
}

/* A flash lane's mask elements of one key tile (rows mb[mi][r], contiguous keys from an even
 * j0, every key inside the tile): fragment (mi, n) element e holds key j0 + 8 n + (e & 1) of
 * row mb[mi][e >> 1]. */
template <int K, int MI, int NB>
__device__ __forceinline__ void att_mask_tile(float (&mk)[MI][NB][4],
                                              const char *const (&mb)[MI][2], int64_t j0) {
  constexpr int SZ = att_mask_bytes<K>();
#pragma unroll
  for (int mi = 0; mi < MI; mi++)
#pragma unroll
    for (int r = 0; r < 2; r++) {
      const char *p = mb[mi][r] + j0 * SZ;
      if (((uintptr_t)p & (2 * SZ - 1)) == 0) { /* j0 is even: pairs, when the row allows */
#pragma unroll
        for (int n = 0; n < NB; n++)
          att_mask_pair<K>(p + 8 * n * SZ, mk[mi][n][2 * r], mk[mi][n][2 * r + 1]);
      } else {
#pragma unroll
        for (int n = 0; n < NB; n++) {
          mk[mi][n][2 * r] = att_mask_cvt<K>(p + 8 * n * SZ);
          mk[mi][n][2 * r + 1] = att_mask_cvt<K>(p + (8 * n + 1) * SZ);
        }
      }
    }
}

/* f(att_kind<K>()) for the runtime kind k: the one switch over the mask kinds. */
template <int K>
struct att_kind {
  static constexpr int v = K;
};
template <class F>
__device__ __forceinline__ auto att_mask_kind(int k, F f) {
  switch (k) {
    case ATT_MASK_BOOL: return f(att_kind<ATT_MASK_BOOL>());
    case ATT_MASK_U8: return f(att_kind<ATT_MASK_U8>());
    case ATT_MASK_I32: return f(att_kind<ATT_MASK_I32>());
    case ATT_MASK_F16: return f(att_kind<ATT_MASK_F16>());
    case ATT_MASK_BF16: return f(att_kind<ATT_MASK_BF16>());
    case ATT_MASK_F64: return f(att_kind<ATT_MASK_F64>());
    default: return f(att_kind<ATT_MASK_F32>());
  }
}
__device__ __forceinline__ int att_mask_size(int k) {
  return att_mask_kind(k, [](auto kd) { return att_mask_bytes<decltype(kd)::v>(); });
}
__device__ __forceinline__ float att_mask_at(const char *p, int k) {
  return att_mask_kind(k, [&](auto kd) { return att_mask_cvt<decltype(kd)::v>(p); });
}
/* Element i of the mask m of kind `kind`. */
__device__ __forceinline__ float att_mask_ld(const void *m, int kind, int64_t i) {
  return att_mask_at((const char *)m + i * att_mask_size(kind), kind);
}

/* 2^x; -inf gives 0, results below 2^-126 flush to 0. */
__device__ __forceinline__ float att_exp2(float x) {
  float y;
  asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
  return y;
}

/* ---------------------------------------------------------------- tensor-core primitives */

__device__ __forceinline__ uint32_t att_smem(const void *p) {
  return (uint32_t)__cvta_generic_to_shared(p);
}

/* 16 bytes global -> shared, zero-filled when !ok. */
__device__ __forceinline__ void att_cp16(uint32_t dst, const void *src, bool ok) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(src),
               "r"(ok ? 16 : 0));
}
__device__ __forceinline__ void att_cp_commit() { asm volatile("cp.async.commit_group;\n" ::); }
__device__ __forceinline__ void att_cp_wait_all() { asm volatile("cp.async.wait_group 0;\n" ::); }

__device__ __forceinline__ void att_ldsm4(uint32_t (&r)[4], uint32_t addr) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(addr));
}
__device__ __forceinline__ void att_ldsm4_t(uint32_t (&r)[4], uint32_t addr) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(addr));
}

/* c (16 x 8, float) += a (16 x 16) @ b (16 x 8) in the mma.sync fragment layouts. */
template <bool BF>
__device__ __forceinline__ void att_mma(float (&c)[4], const uint32_t (&a)[4], uint32_t b0,
                                        uint32_t b1) {
  if constexpr (BF)
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, "
        "{%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};\n"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
  else
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, "
        "{%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};\n"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

/* Element offset of 16-byte chunk ch of row r in a tile of rows of D elements: chunks are
 * XOR-swizzled by the row so that ldmatrix over 8 rows hits 8 distinct bank groups. */
template <int D>
__device__ __forceinline__ int att_swz(int r, int ch) {
  return r * D + ((ch ^ (r & 7)) << 3);
}

/* ---------------------------------------------------------------- prefill */

#define ATT_BN 64 /* keys per tile */

/* Dynamic shared memory of att_flash_fwd: the Q tile and st stages of K and V tiles. */
static inline size_t att_flash_smem(int d, int nw, int mi, int st) {
  return (size_t)(16 * mi * nw + 2 * st * ATT_BN) * (size_t)d * 2;
}

/* Flash attention forward, D == DV. Block (h, query tile, b): NW warps of 16 * MI query rows
 * each, ST stages of K/V tiles in flight; scores and probabilities stay in registers, in the
 * log2 domain (scale * log2 e folded in). With MI == 1 the Q fragments stay in registers,
 * otherwise they are read from the Q tile at every key tile. Requires TQ <= TK under
 * ATT_CAUSAL, so every row sees key 0. */
template <bool BF, int D, int NW, int MI, int ST, int MODE>
__global__ void __launch_bounds__(32 * NW, NW <= 4 ? 2 : 1) att_flash_fwd(const att_args a) {
  constexpr int WR = 16 * MI, BM = WR * NW, BN = ATT_BN, CH = D / 8, NT = 32 * NW;
  constexpr float L2E = 1.4426950408889634f;
  extern __shared__ __align__(128) uint16_t att_sh[];
  uint16_t *sQ = att_sh, *sK = sQ + BM * D, *sV = sK + ST * BN * D;
  const int tid = threadIdx.x, lane = tid & 31, w = tid >> 5, g = lane >> 2, t4 = lane & 3;
  const int64_t nqb = gridDim.y;
  const int64_t qb = MODE == ATT_CAUSAL ? nqb - 1 - blockIdx.y : blockIdx.y;
  const int64_t h = blockIdx.x, b = blockIdx.z, hk = h / (a.NQ / a.NKV);
  const int64_t i0 = qb * BM, iw = i0 + WR * w, off = a.TK - a.TQ;
  const uint16_t *qg = (const uint16_t *)a.q + b * a.qs[0] + h * a.qs[1];
  const uint16_t *kg = (const uint16_t *)a.k + b * a.ks[0] + hk * a.ks[1];
  const uint16_t *vg = (const uint16_t *)a.v + b * a.vs[0] + hk * a.vs[1];
  int64_t kend = a.TK;
  if (MODE == ATT_CAUSAL) {
    const int64_t last = (i0 + BM < a.TQ ? i0 + BM : a.TQ) - 1;
    kend = last + off + 1 < a.TK ? last + off + 1 : a.TK;
  }
  const int nkb = (int)((kend + BN - 1) / BN);
  const uint32_t aQ = att_smem(sQ), aK = att_smem(sK), aV = att_smem(sV);

  for (int c = tid; c < BM * CH; c += NT) {
    const int r = c / CH, ch = c % CH;
    const bool ok = i0 + r < a.TQ;
    att_cp16(aQ + 2 * att_swz<D>(r, ch), qg + (ok ? i0 + r : 0) * a.qs[2] + ch * 8, ok);
  }
  auto load_kv = [&](int kb, int st) {
    const int64_t n0 = (int64_t)kb * BN;
    for (int c = tid; c < BN * CH; c += NT) {
      const int r = c / CH, ch = c % CH;
      const bool ok = n0 + r < a.TK;
      const int64_t j = ok ? n0 + r : 0;
      const int so = 2 * (st * BN * D + att_swz<D>(r, ch));
      att_cp16(aK + so, kg + j * a.ks[2] + ch * 8, ok);
      att_cp16(aV + so, vg + j * a.vs[2] + ch * 8, ok);
    }
  };
#pragma unroll
  for (int st = 0; st < ST - 1; st++) {
    if (st < nkb) load_kv(st, st);
    att_cp_commit();
  }

  const float sc2 = a.scale * L2E;
  const float hid2 = fmaxf(a.masked * L2E, -3.4028234663852886e38f);
  uint32_t qf[MI == 1 ? D / 16 : 1][4];
  float o[MI][D / 8][4];
#pragma unroll
  for (int mi = 0; mi < MI; mi++)
#pragma unroll
    for (int n = 0; n < D / 8; n++) o[mi][n][0] = o[mi][n][1] = o[mi][n][2] = o[mi][n][3] = 0.0f;
  float mrow[MI][2], lrow[MI][2];
#pragma unroll
  for (int mi = 0; mi < MI; mi++) {
    mrow[mi][0] = mrow[mi][1] = -INFINITY;
    lrow[mi][0] = lrow[mi][1] = 0.0f;
  }
  const int64_t wlast = (iw + WR - 1 < a.TQ ? iw + WR - 1 : a.TQ - 1);
  /* ATT_ARRAY: this lane's mask elements of a key tile, loaded one tile ahead (during the
   * previous tile's P @ V) from the row starts of its two rows per fragment */
  constexpr int MM = MODE == ATT_ARRAY ? MI : 1, MN = MODE == ATT_ARRAY ? BN / 8 : 1;
  float mk[MM][MN][4];
  const char *mbase[MM][2];
  const int msz = MODE == ATT_ARRAY ? att_mask_size(a.mkind) : 0;
  const int64_t mjs = MODE == ATT_ARRAY ? a.ms[3] * msz : 0;
  auto load_mask = [&](int kb) {
    const int64_t n0 = (int64_t)kb * BN;
    if (a.ms[3] == 1 && n0 + BN <= a.TK) { /* unit key stride, a whole tile: immediates */
      const int64_t j0 = n0 + 2 * t4;
      att_mask_kind(a.mkind,
                    [&](auto kd) { att_mask_tile<decltype(kd)::v>(mk, mbase, j0); });
      return;
    }
#pragma unroll
    for (int mi = 0; mi < MM; mi++)
#pragma unroll
      for (int n = 0; n < MN; n++)
#pragma unroll
        for (int e = 0; e < 4; e++) {
          const int64_t j = n0 + 8 * n + 2 * t4 + (e & 1);
          mk[mi][n][e] = j < a.TK ? att_mask_at(mbase[mi][e >> 1] + j * mjs, a.mkind) : 0.0f;
        }
  };
  if constexpr (MODE == ATT_ARRAY) {
#pragma unroll
    for (int mi = 0; mi < MM; mi++)
#pragma unroll
      for (int r = 0; r < 2; r++) {
        const int64_t i = iw + 16 * mi + g + 8 * r, ic = i < a.TQ ? i : a.TQ - 1;
        mbase[mi][r] = (const char *)a.mask + (b * a.ms[0] + h * a.ms[1] + ic * a.ms[2]) * msz;
      }
    if (iw < a.TQ && nkb > 0) load_mask(0);
  }
  /* ldmatrix row of this lane in an A operand (16 x 16) and its chunk offset */
  const int arow = (lane & 7) + 8 * ((lane >> 3) & 1), ach = lane >> 4;

  for (int kb = 0; kb < nkb; kb++) {
    if (ST == 2) asm volatile("cp.async.wait_group 0;\n" ::);
    else asm volatile("cp.async.wait_group %0;\n" ::"n"(ST - 2));
    __syncthreads();
    if (MI == 1 && kb == 0) {
#pragma unroll
      for (int kc = 0; kc < (MI == 1 ? D / 16 : 0); kc++)
        att_ldsm4(qf[kc], aQ + 2 * att_swz<D>(WR * w + arow, 2 * kc + ach));
    }
    if (kb + ST - 1 < nkb) load_kv(kb + ST - 1, (kb + ST - 1) % ST);
    att_cp_commit();
    const int64_t n0 = (int64_t)kb * BN;
    if (iw >= a.TQ) continue;                                /* padding rows only */
    if (MODE == ATT_CAUSAL && n0 > wlast + off) continue;    /* every key hidden */
    const int stg = kb % ST;
    const uint32_t tK = aK + 2 * stg * BN * D, tV = aV + 2 * stg * BN * D;

    float s[MI][BN / 8][4];
#pragma unroll
    for (int mi = 0; mi < MI; mi++)
#pragma unroll
      for (int n = 0; n < BN / 8; n++) s[mi][n][0] = s[mi][n][1] = s[mi][n][2] = s[mi][n][3] = 0.0f;
#pragma unroll
    for (int kc = 0; kc < D / 16; kc++) {
      uint32_t qa[MI][4];
      if constexpr (MI == 1) {
#pragma unroll
        for (int e = 0; e < 4; e++) qa[0][e] = qf[kc][e];
      } else {
#pragma unroll
        for (int mi = 0; mi < MI; mi++)
          att_ldsm4(qa[mi], aQ + 2 * att_swz<D>(WR * w + 16 * mi + arow, 2 * kc + ach));
      }
#pragma unroll
      for (int np = 0; np < BN / 16; np++) {
        uint32_t kf[4];
        const int r = 16 * np + (lane & 7) + 8 * (lane >> 4), ch = 2 * kc + ((lane >> 3) & 1);
        att_ldsm4(kf, tK + 2 * att_swz<D>(r, ch));
#pragma unroll
        for (int mi = 0; mi < MI; mi++) {
          att_mma<BF>(s[mi][2 * np], qa[mi], kf[0], kf[1]);
          att_mma<BF>(s[mi][2 * np + 1], qa[mi], kf[2], kf[3]);
        }
      }
    }

#pragma unroll
    for (int mi = 0; mi < MI; mi++) {
      const int64_t im = iw + 16 * mi;
      const bool edge = n0 + BN > a.TK || (MODE == ATT_CAUSAL && n0 + BN - 1 > im + off);
#pragma unroll
      for (int n = 0; n < BN / 8; n++) {
#pragma unroll
        for (int e = 0; e < 4; e++) {
          const int64_t j = n0 + 8 * n + 2 * t4 + (e & 1), i = im + g + 8 * (e >> 1);
          float x = MODE == ATT_ARRAY ? s[mi][n][e] * sc2 : s[mi][n][e];
          if constexpr (MODE == ATT_ARRAY) {
            if (a.mkind == ATT_MASK_BOOL) x = mk[mi][n][e] != 0.0f ? x : hid2;
            else x += mk[mi][n][e] * L2E;
          }
          if (edge && (j >= a.TK || (MODE == ATT_CAUSAL && j > i + off))) x = -INFINITY;
          s[mi][n][e] = x;
        }
      }
      /* unmasked modes keep raw scores here: the scale joins the exponent's FMA */
      float mx[2] = {MODE == ATT_ARRAY ? mrow[mi][0] : -INFINITY,
                     MODE == ATT_ARRAY ? mrow[mi][1] : -INFINITY};
#pragma unroll
      for (int n = 0; n < BN / 8; n++) {
        mx[0] = fmaxf(mx[0], fmaxf(s[mi][n][0], s[mi][n][1]));
        mx[1] = fmaxf(mx[1], fmaxf(s[mi][n][2], s[mi][n][3]));
      }
      float mu[2], al[2];
#pragma unroll
      for (int r = 0; r < 2; r++) {
        mx[r] = fmaxf(mx[r], __shfl_xor_sync(0xffffffffu, mx[r], 1));
        mx[r] = fmaxf(mx[r], __shfl_xor_sync(0xffffffffu, mx[r], 2));
        if (MODE != ATT_ARRAY) mx[r] *= sc2;
        mx[r] = fmaxf(mx[r], mrow[mi][r]);
        mu[r] = mx[r] == -INFINITY ? 0.0f : mx[r];
        al[r] = att_exp2(mrow[mi][r] - mu[r]);
        mrow[mi][r] = mx[r];
        lrow[mi][r] *= al[r];
      }
#pragma unroll
      for (int n = 0; n < D / 8; n++) {
        o[mi][n][0] *= al[0];
        o[mi][n][1] *= al[0];
        o[mi][n][2] *= al[1];
        o[mi][n][3] *= al[1];
      }
#pragma unroll
      for (int n = 0; n < BN / 8; n++) {
#pragma unroll
        for (int e = 0; e < 4; e++)
          s[mi][n][e] = att_exp2(MODE == ATT_ARRAY ? s[mi][n][e] - mu[e >> 1]
                                                   : fmaf(s[mi][n][e], sc2, -mu[e >> 1]));
        lrow[mi][0] += s[mi][n][0] + s[mi][n][1];
        lrow[mi][1] += s[mi][n][2] + s[mi][n][3];
      }
    }

    if constexpr (MODE == ATT_ARRAY)
      if (kb + 1 < nkb) load_mask(kb + 1);
#pragma unroll
    for (int kc = 0; kc < BN / 16; kc++) {
      uint32_t pa[MI][4];
#pragma unroll
      for (int mi = 0; mi < MI; mi++) {
        pa[mi][0] = att_pack2<BF>(s[mi][2 * kc][0], s[mi][2 * kc][1]);
        pa[mi][1] = att_pack2<BF>(s[mi][2 * kc][2], s[mi][2 * kc][3]);
        pa[mi][2] = att_pack2<BF>(s[mi][2 * kc + 1][0], s[mi][2 * kc + 1][1]);
        pa[mi][3] = att_pack2<BF>(s[mi][2 * kc + 1][2], s[mi][2 * kc + 1][3]);
      }
#pragma unroll
      for (int dp = 0; dp < D / 16; dp++) {
        uint32_t vf[4];
        att_ldsm4_t(vf, tV + 2 * att_swz<D>(16 * kc + arow, 2 * dp + ach));
#pragma unroll
        for (int mi = 0; mi < MI; mi++) {
          att_mma<BF>(o[mi][2 * dp], pa[mi], vf[0], vf[1]);
          att_mma<BF>(o[mi][2 * dp + 1], pa[mi], vf[2], vf[3]);
        }
      }
    }
  }
  if (iw >= a.TQ) return;

  /* 1 / the row sums (the sink joining as one more key), then through this warp's rows of
   * the Q tile to 16-byte stores */
  uint16_t *og = (uint16_t *)a.out + (b * a.NQ + h) * a.TQ * D;
#pragma unroll
  for (int mi = 0; mi < MI; mi++) {
    float inv[2];
#pragma unroll
    for (int r = 0; r < 2; r++) {
      float l = lrow[mi][r];
      l += __shfl_xor_sync(0xffffffffu, l, 1);
      l += __shfl_xor_sync(0xffffffffu, l, 2);
      float f = 1.0f;
      if (a.sinks) {
        const float sk = (float)a.sinks[h] * L2E, m2 = fmaxf(mrow[mi][r], sk);
        f = mrow[mi][r] == -INFINITY ? 0.0f : att_exp2(mrow[mi][r] - m2);
        l = l * f + att_exp2(sk - m2);
      }
      inv[r] = l == 0.0f ? NAN : f / l;
    }
    const int rw = WR * w + 16 * mi;
#pragma unroll
    for (int n = 0; n < D / 8; n++) {
      *(uint32_t *)(sQ + att_swz<D>(rw + g, n) + 2 * t4) =
          att_pack2<BF>(o[mi][n][0] * inv[0], o[mi][n][1] * inv[0]);
      *(uint32_t *)(sQ + att_swz<D>(rw + g + 8, n) + 2 * t4) =
          att_pack2<BF>(o[mi][n][2] * inv[1], o[mi][n][3] * inv[1]);
    }
  }
  __syncwarp();
  for (int c = lane; c < WR * CH; c += 32) {
    const int r = c / CH, ch = c % CH;
    if (iw + r < a.TQ)
      *(uint4 *)(og + (iw + r) * D + ch * 8) = *(const uint4 *)(sQ + att_swz<D>(WR * w + r, ch));
  }
}

/* Launches att_flash_fwd in mask mode MODE over (NQ, query tiles of 16 * MI * NW rows, B). */
template <bool BF, int D, int NW, int MI, int ST, int MODE>
static cudaError_t att_flash_launch_mode_k(const att_args &a, cudaStream_t q) {
  const size_t smem = att_flash_smem(D, NW, MI, ST);
  const int bm = 16 * MI * NW;
  const dim3 grid((unsigned)a.NQ, (unsigned)((a.TQ + bm - 1) / bm), (unsigned)a.B);
  cudaError_t e = cudaFuncSetAttribute(att_flash_fwd<BF, D, NW, MI, ST, MODE>,
                                       cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem);
  if (e != cudaSuccess) return e;
  att_flash_fwd<BF, D, NW, MI, ST, MODE><<<grid, 32 * NW, smem, q>>>(a);
  return cudaGetLastError();
}

template <bool BF, int D, int NW, int MI, int ST>
static cudaError_t att_flash_launch_k(const att_args &a, int mode, cudaStream_t q) {
  return mode == ATT_CAUSAL  ? att_flash_launch_mode_k<BF, D, NW, MI, ST, ATT_CAUSAL>(a, q)
         : mode == ATT_ARRAY ? att_flash_launch_mode_k<BF, D, NW, MI, ST, ATT_ARRAY>(a, q)
                             : att_flash_launch_mode_k<BF, D, NW, MI, ST, ATT_PLAIN>(a, q);
}

/* ---------------------------------------------------------------- decode */

/* The adjusted score of key j for query i of (b, h): mask, then causal (finite hidden
 * score, so a row with every key hidden averages the values). */
__device__ __forceinline__ float att_adjust(const att_args &a, float s, int64_t b, int64_t h,
                                            int64_t i, int64_t j) {
  if (a.mask) {
    const int64_t mo = b * a.ms[0] + h * a.ms[1] + i * a.ms[2] + j * a.ms[3];
    if (a.mkind == ATT_MASK_BOOL) s = ((const bool *)a.mask)[mo] ? s : a.masked;
    else s += att_mask_ld(a.mask, a.mkind, mo);
  }
  if (a.causal && j > i + (a.TK - a.TQ)) s = a.masked;
  return s;
}

/* Online-softmax state of one half warp: running max, sum and 8 value dims. */
struct att_dstate {
  float m, l, acc[8];
};

/* Folds KU keys (scores sc, already adjusted; -inf past the split) into st. */
template <bool BF, int KU>
__device__ __forceinline__ void att_dstep(att_dstate &st, float (&sc)[KU], const uint4 (&vp)[KU],
                                          bool von) {
  float bm = -INFINITY;
#pragma unroll
  for (int u = 0; u < KU; u++) bm = sc[u] > bm ? sc[u] : bm;
  if (bm > st.m) {
    const float alpha = st.m == -INFINITY ? 0.0f : expf(st.m - bm);
    st.l *= alpha;
#pragma unroll
    for (int e = 0; e < 8; e++) st.acc[e] *= alpha;
    st.m = bm;
  }
  if (st.m == -INFINITY) { /* NaN scores still weigh: they poison the row as on the CPU */
    bool nan = false;
#pragma unroll
    for (int u = 0; u < KU; u++) nan |= sc[u] != sc[u];
    if (!nan) return;
  }
#pragma unroll
  for (int u = 0; u < KU; u++) {
    const float p = sc[u] == -INFINITY ? 0.0f : expf(sc[u] - st.m);
    st.l += p;
    if (p == 0.0f || !von) continue; /* a key of weight 0 adds nothing, not even inf * 0 */
    const uint16_t *vv = (const uint16_t *)&vp[u];
#pragma unroll
    for (int e = 0; e < 8; e++) st.acc[e] += p * att_ld<BF>(vv[e]);
  }
}

/* Scores of KU keys (kp) against qv: each half warp sums its 16 lanes. */
template <bool BF, int KU>
__device__ __forceinline__ void att_dscores(float (&sc)[KU], const float (&qv)[8],
                                            const uint4 (&kp)[KU], bool qon) {
#pragma unroll
  for (int u = 0; u < KU; u++) {
    float s = 0.0f;
    if (qon) {
      const uint16_t *kk = (const uint16_t *)&kp[u];
#pragma unroll
      for (int e = 0; e < 8; e++) s += qv[e] * att_ld<BF>(kk[e]);
    }
    sc[u] = s;
  }
#pragma unroll
  for (int d = 8; d > 0; d >>= 1)
#pragma unroll
    for (int u = 0; u < KU; u++) sc[u] += __shfl_xor_sync(0xffffffffu, sc[u], d);
}

/* The end of a decode block: merges the halves (shuffles) and the NW warps (shared memory);
 * with one split writes the output row (sinks applied), otherwise stores (max, sum, DV sums)
 * in a.part and the last block of the row to finish merges the splits (ATT_DEC_MAX_SPLITS).
 * Every thread of the block calls it. */
template <bool BF, int NW>
__device__ __forceinline__ void att_dfinish(const att_args &a, att_dstate st, int64_t row,
                                            int64_t h, int d0) {
  static_assert(NW % 4 == 0, "the merge takes 128 threads per output row");
  __shared__ float sm_m[NW], sm_l[NW];
  __shared__ __align__(16) float sm_acc[NW][128];
  const int lane = threadIdx.x & 31, wp = threadIdx.x >> 5;
  { /* the halves: lanes l and l ^ 16 hold the same dims */
    const float mo = __shfl_xor_sync(0xffffffffu, st.m, 16);
    const float lo = __shfl_xor_sync(0xffffffffu, st.l, 16);
    const float M = mo > st.m ? mo : st.m;
    const float ws = st.m == -INFINITY ? 0.0f : expf(st.m - M);
    const float wo = mo == -INFINITY ? 0.0f : expf(mo - M);
#pragma unroll
    for (int e = 0; e < 8; e++) {
      const float ao = __shfl_xor_sync(0xffffffffu, st.acc[e], 16);
      float r = 0.0f;
      if (ws != 0.0f) r += st.acc[e] * ws;
      if (wo != 0.0f) r += ao * wo;
      st.acc[e] = r;
    }
    st.l = (ws != 0.0f ? st.l * ws : 0.0f) + (wo != 0.0f ? lo * wo : 0.0f);
    st.m = M;
  }
  if (lane == 0) {
    sm_m[wp] = st.m;
    sm_l[wp] = st.l;
  }
  if (lane < 16 && d0 < 128)
#pragma unroll
    for (int e = 0; e < 8; e++) sm_acc[wp][d0 + e] = st.acc[e];
  __syncthreads();
  float M = sm_m[0];
#pragma unroll
  for (int w = 1; w < NW; w++) M = sm_m[w] > M ? sm_m[w] : M;
  float wt[NW], L = 0.0f;
#pragma unroll
  for (int w = 0; w < NW; w++) {
    wt[w] = sm_m[w] == -INFINITY ? 0.0f : expf(sm_m[w] - M);
    L += wt[w] == 0.0f ? 0.0f : sm_l[w] * wt[w];
  }
  const int nsplit = (int)gridDim.y;
  uint16_t *o = (uint16_t *)a.out + row * a.DV;
  if (nsplit == 1) {
    if (a.sinks) {
      const float sk = (float)a.sinks[h], M2 = sk > M ? sk : M;
      const float f = M == -INFINITY ? 0.0f : expf(M - M2);
#pragma unroll
      for (int w = 0; w < NW; w++) wt[w] *= f;
      L = L * f + expf(sk - M2);
    }
    for (int64_t d = threadIdx.x; d < a.DV; d += blockDim.x) {
      float s = 0.0f;
#pragma unroll
      for (int w = 0; w < NW; w++)
        if (wt[w] != 0.0f) s += sm_acc[w][d] * wt[w];
      o[d] = att_st<BF>(L == 0.0f ? NAN : s / L);
    }
    return;
  }
  /* several splits: the last block of the row to finish merges them */
  __shared__ int last;
  const int64_t P = a.DV + 2;
  float *pp = a.part + (row * nsplit + blockIdx.y) * P;
  if (threadIdx.x == 0) {
    pp[0] = M;
    pp[1] = L;
  }
  for (int64_t d = threadIdx.x; d < a.DV; d += blockDim.x) {
    float s = 0.0f;
#pragma unroll
    for (int w = 0; w < NW; w++)
      if (wt[w] != 0.0f) s += sm_acc[w][d] * wt[w];
    pp[2 + d] = s;
  }
  __syncthreads();
  if (threadIdx.x == 0) { /* releases the block's partial, acquires the others' when last */
    unsigned prev;
    asm volatile("atom.acq_rel.gpu.global.add.u32 %0, [%1], 1;"
                 : "=r"(prev)
                 : "l"(a.ticket + row)
                 : "memory");
    last = prev == (unsigned)nsplit - 1u;
  }
  __syncthreads();
  if (!last) return;
  /* the merge, its loads issued together: every split's (max, sum) into shared memory (sm_acc
   * is free now) and the first XR splits' sums of this thread's dim; NW / 4 groups of 128
   * threads take every (NW / 4)-th split of each output dim */
  constexpr int G = NW / 4, XR = 4;
  const float *pr = a.part + row * nsplit * P;
  float *wsm = &sm_acc[0][0], *lsm = wsm + nsplit;
  const int g = threadIdx.x >> 7, d = threadIdx.x & 127;
  float xr[XR];
#pragma unroll
  for (int i = 0; i < XR; i++) {
    const int r = g + i * G;
    xr[i] = d < a.DV && r < nsplit ? __ldcg(pr + r * P + 2 + d) : 0.0f;
  }
  float Ms = -INFINITY;
  for (int r = threadIdx.x; r < nsplit; r += blockDim.x) {
    const float mr = __ldcg(pr + r * P), lr = __ldcg(pr + r * P + 1);
    wsm[r] = mr;
    lsm[r] = lr;
    Ms = mr > Ms ? mr : Ms;
  }
#pragma unroll
  for (int k = 16; k > 0; k >>= 1) {
    const float mo = __shfl_xor_sync(0xffffffffu, Ms, k);
    Ms = mo > Ms ? mo : Ms;
  }
  if (lane == 0) sm_m[wp] = Ms; /* its earlier reads precede the ticket's barriers */
  __syncthreads();
#pragma unroll
  for (int w = 0; w < NW; w++) Ms = sm_m[w] > Ms ? sm_m[w] : Ms;
  const float sk = a.sinks ? (float)a.sinks[h] : -INFINITY, M2 = sk > Ms ? sk : Ms;
  float Ls = 0.0f;
  for (int r = threadIdx.x; r < nsplit; r += blockDim.x) {
    const float mr = wsm[r], wr = mr == -INFINITY ? 0.0f : expf(mr - M2);
    wsm[r] = wr;
    Ls += wr == 0.0f ? 0.0f : lsm[r] * wr;
  }
#pragma unroll
  for (int k = 16; k > 0; k >>= 1) Ls += __shfl_xor_sync(0xffffffffu, Ls, k);
  if (lane == 0) sm_l[wp] = Ls;
  __syncthreads();
  Ls = 0.0f;
#pragma unroll
  for (int w = 0; w < NW; w++) Ls += sm_l[w];
  if (a.sinks) Ls += expf(sk - M2);
  __shared__ float sm_red[G][128];
  float s = 0.0f; /* a split of weight 0 adds nothing, not even inf * 0 */
#pragma unroll
  for (int i = 0; i < XR; i++) {
    const int r = g + i * G;
    if (r < nsplit && wsm[r] != 0.0f) s += xr[i] * wsm[r];
  }
  if (d < a.DV) {
#pragma unroll 4
    for (int r = g + XR * G; r < nsplit; r += G) {
      const float wr = wsm[r], x = __ldcg(pr + r * P + 2 + d);
      s += wr == 0.0f ? 0.0f : x * wr;
    }
  }
  if constexpr (G > 1) {
    sm_red[g][d] = s;
    __syncthreads();
    if (g == 0)
#pragma unroll
      for (int gg = 1; gg < G; gg++) s += sm_red[gg][d];
  }
  if (g == 0 && d < a.DV) o[d] = att_st<BF>(Ls == 0.0f ? NAN : s / Ls);
  if (threadIdx.x == 0) a.ticket[row] = 0u;
}

/* What every decode block starts from: its row's coordinates, key range [j0, j1) and the
 * scaled query dims of this lane. */
struct att_drow {
  int64_t row, iq, h, b, hk, j0, j1;
  int d0;
  bool qon, von;
};

template <bool BF>
__device__ __forceinline__ att_drow att_drow_init(const att_args &a, float (&qv)[8]) {
  att_drow r;
  r.row = blockIdx.x;
  r.iq = r.row % a.TQ;
  r.h = (r.row / a.TQ) % a.NQ;
  r.b = r.row / (a.TQ * a.NQ);
  r.hk = r.h / (a.NQ / a.NKV);
  const int64_t off = a.TK - a.TQ;
  r.j0 = (int64_t)blockIdx.y * a.chunk;
  r.j1 = r.j0 + a.chunk < a.TK ? r.j0 + a.chunk : a.TK;
  if (a.causal && r.iq + off >= 0 && r.j1 > r.iq + off + 1) r.j1 = r.iq + off + 1;
  r.d0 = (threadIdx.x & 15) * 8;
  r.qon = r.d0 < a.D;
  r.von = r.d0 < a.DV;
#pragma unroll
  for (int e = 0; e < 8; e++) qv[e] = 0.0f;
  if (r.qon) {
    const uint16_t *qr = (const uint16_t *)a.q + r.b * a.qs[0] + r.h * a.qs[1] + r.iq * a.qs[2];
    const uint4 pk = *(const uint4 *)(qr + r.d0);
    const uint16_t *pv = (const uint16_t *)&pk;
#pragma unroll
    for (int e = 0; e < 8; e++) qv[e] = att_ld<BF>(pv[e]) * a.scale;
  }
  return r;
}

/* Split-key decoding for D, DV <= 128 (multiples of 8). Block (row, split) of NW warps; a
 * half warp takes one key at a time with 16-byte loads (lane l of a half holds dims
 * [8l, 8l + 8)), KU keys in flight, and runs its own online softmax; att_dfinish merges. */
template <bool BF, int KU, int NW>
__global__ void __launch_bounds__(32 * NW, 16 / NW) att_decode(const att_args a) {
  float qv[8];
  const att_drow r = att_drow_init<BF>(a, qv);
  const int half = (threadIdx.x >> 4) & 1, wp = threadIdx.x >> 5;
  att_dstate st;
  st.m = -INFINITY;
  st.l = 0.0f;
#pragma unroll
  for (int e = 0; e < 8; e++) st.acc[e] = 0.0f;
  const uint16_t *kb = (const uint16_t *)a.k + r.b * a.ks[0] + r.hk * a.ks[1] + r.d0;
  const uint16_t *vb = (const uint16_t *)a.v + r.b * a.vs[0] + r.hk * a.vs[1] + r.d0;
  for (int64_t jb = r.j0 + wp * 2 * KU; jb < r.j1; jb += NW * 2 * KU) {
    uint4 kp[KU], vp[KU];
#pragma unroll
    for (int u = 0; u < KU; u++) {
      const int64_t j = jb + 2 * u + half, jj = j < r.j1 ? j : r.j1 - 1;
      if (r.qon) kp[u] = *(const uint4 *)(kb + jj * a.ks[2]);
      if (r.von) vp[u] = *(const uint4 *)(vb + jj * a.vs[2]);
    }
    float sc[KU];
    att_dscores<BF, KU>(sc, qv, kp, r.qon);
#pragma unroll
    for (int u = 0; u < KU; u++) {
      const int64_t j = jb + 2 * u + half;
      sc[u] = j < r.j1 ? att_adjust(a, sc[u], r.b, r.h, r.iq, j) : -INFINITY;
    }
    att_dstep<BF, KU>(st, sc, vp, r.von);
  }
  att_dfinish<BF, NW>(a, st, r.row, r.h, r.d0);
}

/* Splits att_dfinish merges, at most: two floats each in its NW * 128 of shared memory. */
#define ATT_DEC_MAX_SPLITS(NW) ((NW) * 64)

/* Launches att_decode over rows = B * NQ * TQ query rows with nsplit <= ATT_DEC_MAX_SPLITS(NW)
 * splits of a.chunk keys; nsplit > 1 needs a.part and the zeroed a.ticket sized for it. */
template <bool BF, int KU, int NW>
static cudaError_t att_decode_launch_k(const att_args &a, int64_t rows, int nsplit,
                                       cudaStream_t q) {
  if (nsplit > 1 && !(a.part && a.ticket)) return cudaErrorInvalidValue;
  if (nsplit > ATT_DEC_MAX_SPLITS(NW)) return cudaErrorInvalidValue;
  att_decode<BF, KU, NW><<<dim3((unsigned)rows, (unsigned)nsplit, 1), 32 * NW, 0, q>>>(a);
  return cudaGetLastError();
}

#endif
