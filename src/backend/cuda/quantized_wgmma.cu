/* quantized_wgmma.cu: the Hopper GEMM of QuantizedMatmul and GatherQMM for 4-bit affine weights
 * with float16/bfloat16 x, scales and biases and more than 8 rows of x (wgmma, sm_90a).
 * out = x @ dequantize(W)^T is computed per CTA as D = W x^T: 128 weight rows (two consumer
 * warpgroups of 64) by BT rows of x. The weights are the A operand, dequantized into registers
 * (s * code + b rounded once to the dtype, as the GEMV does; lane (g, t) takes the 32 codes at
 * k = 128 kt + 32 t of rows g and g + 8, whose pairs (c_p, c_p+4) fill the fragment), so x is
 * first rearranged by qwg_tile_x into xt: the same k permutation, cut into k tiles and
 * pre-swizzled, so that a tile is the shared-memory image wgmma reads as its B operand (K-major,
 * 128-byte swizzle) and one bulk copy. A producer warp fills an S-stage ring (x tile: one bulk
 * copy; packed W: 16-byte cp.async) completing on the stage's full mbarrier; the consumer
 * warpgroups wait on it, dequantize, run 8 wgmmas, wait for them and release the stage on its
 * empty mbarrier, with no CTA barrier in the loop (the warpgroups drift apart, so one's
 * dequantization overlaps the other's wgmmas). The result leaves through shared memory in
 * 16-byte rows. Built for sm_90a only (MX_CUDA_SM90A); elsewhere the dispatch says no. */
#include <atomic>

#include "quantized_mma.cuh"

#define QWG_MAX_DEVICES 64

#if defined(MX_CUDA_SM90A) && (!defined(__CUDA_ARCH__) || defined(__CUDA_ARCH_FEAT_SM90_ALL))
#define QWG_ENABLED 1
#else
#define QWG_ENABLED 0
#endif

#if QWG_ENABLED

/* ---- wgmma: D (64 x N, float32) += A (64 x 16, registers) * B (16 x N, descriptor) ---- */
#define QWG_MMA_N64(DT)                                                          \
  __device__ __forceinline__ void qwg_mma_n64_##DT(float (&d)[32], const uint32_t (&a)[4], uint64_t desc, \
                                           int acc) {                         \
    asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %37, 0;\n"                       \
                 "wgmma.mma_async.sync.aligned.m64n64k16.f32." #DT "." #DT " "       \
                 "{%0,%1,%2,%3,%4,%5,%6,%7,%8,%9,%10,%11,%12,%13,%14,%15,%16,%17,%18,%19,%20,%21,%22,%23,%24" \
                 ",%25,%26,%27,%28,%29,%30,%31}, {%32,%33,%34,%35}, %36, p, 1, 1, 0;\n}\n" \
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]) \
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(desc), "r"(acc)); \
  }

#define QWG_MMA_N128(DT)                                                          \
  __device__ __forceinline__ void qwg_mma_n128_##DT(float (&d)[64], const uint32_t (&a)[4], uint64_t desc, \
                                           int acc) {                         \
    asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %69, 0;\n"                       \
                 "wgmma.mma_async.sync.aligned.m64n128k16.f32." #DT "." #DT " "       \
                 "{%0,%1,%2,%3,%4,%5,%6,%7,%8,%9,%10,%11,%12,%13,%14,%15,%16,%17,%18,%19,%20,%21,%22,%23,%24" \
                 ",%25,%26,%27,%28,%29,%30,%31,%32,%33,%34,%35,%36,%37,%38,%39,%40,%41,%42,%43,%44,%45,%46,%" \
                 "47,%48,%49,%50,%51,%52,%53,%54,%55,%56,%57,%58,%59,%60,%61,%62,%63}, {%64,%65,%66,%67}, %6" \
                 "8, p, 1, 1, 0;\n}\n" \
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]), "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]), "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]), "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]), "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63]) \
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(desc), "r"(acc)); \
  }

#define QWG_MMA_N256(DT)                                                          \
  __device__ __forceinline__ void qwg_mma_n256_##DT(float (&d)[128], const uint32_t (&a)[4], uint64_t desc, \
                                           int acc) {                         \
    asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %133, 0;\n"                       \
                 "wgmma.mma_async.sync.aligned.m64n256k16.f32." #DT "." #DT " "       \
                 "{%0,%1,%2,%3,%4,%5,%6,%7,%8,%9,%10,%11,%12,%13,%14,%15,%16,%17,%18,%19,%20,%21,%22,%23,%24" \
                 ",%25,%26,%27,%28,%29,%30,%31,%32,%33,%34,%35,%36,%37,%38,%39,%40,%41,%42,%43,%44,%45,%46,%" \
                 "47,%48,%49,%50,%51,%52,%53,%54,%55,%56,%57,%58,%59,%60,%61,%62,%63,%64,%65,%66,%67,%68,%69" \
                 ",%70,%71,%72,%73,%74,%75,%76,%77,%78,%79,%80,%81,%82,%83,%84,%85,%86,%87,%88,%89,%90,%91,%" \
                 "92,%93,%94,%95,%96,%97,%98,%99,%100,%101,%102,%103,%104,%105,%106,%107,%108,%109,%110,%111" \
                 ",%112,%113,%114,%115,%116,%117,%118,%119,%120,%121,%122,%123,%124,%125,%126,%127}, {%128,%" \
                 "129,%130,%131}, %132, p, 1, 1, 0;\n}\n" \
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]), "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]), "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]), "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]), "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63]), "+f"(d[64]), "+f"(d[65]), "+f"(d[66]), "+f"(d[67]), "+f"(d[68]), "+f"(d[69]), "+f"(d[70]), "+f"(d[71]), "+f"(d[72]), "+f"(d[73]), "+f"(d[74]), "+f"(d[75]), "+f"(d[76]), "+f"(d[77]), "+f"(d[78]), "+f"(d[79]), "+f"(d[80]), "+f"(d[81]), "+f"(d[82]), "+f"(d[83]), "+f"(d[84]), "+f"(d[85]), "+f"(d[86]), "+f"(d[87]), "+f"(d[88]), "+f"(d[89]), "+f"(d[90]), "+f"(d[91]), "+f"(d[92]), "+f"(d[93]), "+f"(d[94]), "+f"(d[95]), "+f"(d[96]), "+f"(d[97]), "+f"(d[98]), "+f"(d[99]), "+f"(d[100]), "+f"(d[101]), "+f"(d[102]), "+f"(d[103]), "+f"(d[104]), "+f"(d[105]), "+f"(d[106]), "+f"(d[107]), "+f"(d[108]), "+f"(d[109]), "+f"(d[110]), "+f"(d[111]), "+f"(d[112]), "+f"(d[113]), "+f"(d[114]), "+f"(d[115]), "+f"(d[116]), "+f"(d[117]), "+f"(d[118]), "+f"(d[119]), "+f"(d[120]), "+f"(d[121]), "+f"(d[122]), "+f"(d[123]), "+f"(d[124]), "+f"(d[125]), "+f"(d[126]), "+f"(d[127]) \
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(desc), "r"(acc)); \
  }


QWG_MMA_N64(bf16)
QWG_MMA_N64(f16)
QWG_MMA_N128(bf16)
QWG_MMA_N128(f16)
QWG_MMA_N256(bf16)
QWG_MMA_N256(f16)
#undef QWG_MMA_N64
#undef QWG_MMA_N128
#undef QWG_MMA_N256

template <class H, int BT>
struct qwg_mma;
#define QWG_MMA_SPEC(HT, N, DT)                                                          \
  template <>                                                                            \
  struct qwg_mma<HT, N> {                                                                \
    __device__ static void run(float (&d)[N / 2], const uint32_t (&a)[4], uint64_t desc, int acc) { \
      qwg_mma_n##N##_##DT(d, a, desc, acc);                                              \
    }                                                                                    \
  };
QWG_MMA_SPEC(qmma_bf16, 64, bf16)
QWG_MMA_SPEC(qmma_bf16, 128, bf16)
QWG_MMA_SPEC(qmma_bf16, 256, bf16)
QWG_MMA_SPEC(qmma_f16, 64, f16)
QWG_MMA_SPEC(qmma_f16, 128, f16)
QWG_MMA_SPEC(qmma_f16, 256, f16)
#undef QWG_MMA_SPEC

/* Shared-memory matrix descriptor: K-major, 128-byte swizzle, 8-row groups 1024 bytes apart
 * (tiles are 1024-byte aligned; a k16 step inside the 128-byte row adds 32 bytes). */
__device__ __forceinline__ uint64_t qwg_desc(uint32_t saddr) {
  return (uint64_t)((saddr & 0x3FFFF) >> 4) | ((uint64_t)1 << 16) | ((uint64_t)(1024 >> 4) << 32) |
         ((uint64_t)1 << 62);
}

__device__ __forceinline__ void qwg_bar_init(uint32_t bar, uint32_t count) {
  asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\n" ::"r"(bar), "r"(count) : "memory");
}
__device__ __forceinline__ void qwg_bar_wait(uint32_t bar, uint32_t parity) {
  uint32_t done;
  do {
    asm volatile(
        "{\n .reg .pred p;\n mbarrier.try_wait.parity.shared::cta.b64 p, [%1], %2;\n"
        " selp.u32 %0, 1, 0, p;\n}\n"
        : "=r"(done)
        : "r"(bar), "r"(parity)
        : "memory");
  } while (!done);
}

/* xt[i] for x matrix i: m block mb (BT rows, zero past M), k tile kt at (mb KT + kt) BT 256
 * bytes: two 64-k halves of BT rows x 128 bytes, 16-byte chunk c of row r at c ^ (r % 8),
 * holding xp[m][128 kt + 32 i + 16 h + kk] = x[m][128 kt + 32 t + 8 i + 2 h + (kk >> 3) +
 * 4 (kk & 1)], t = (kk & 7) >> 1: the x value that the fragment's k position kk of step 2 i + h
 * meets. A block row per padded row of x (grid-stride over rows), a thread per (kt, i). */
template <int BT>
__global__ void qwg_tile_x(const uint16_t *x, uint16_t *xt, int rows, int M, int Mpad, int K) {
  const int per = K / 32, KT = K / 128;
  for (int row = blockIdx.x; row < rows; row += gridDim.x) {
    const int mat = row / Mpad, m = row - mat * Mpad, mb = m / BT, rr = m % BT;
    const uint16_t *src = x + ((int64_t)mat * M + m) * K;
    uint8_t *dst = (uint8_t *)(xt + (int64_t)mat * Mpad * K) + (int64_t)mb * KT * BT * 256;
    for (int r = threadIdx.x; r < per; r += blockDim.x) {
      const int kt = r >> 2, i = r & 3;
      uint16_t in[4][8], o[32];
#pragma unroll
      for (int q = 0; q < 4; q++)
        *(uint4 *)in[q] = m < M ? *(const uint4 *)(src + 128 * kt + 8 * i + 32 * q) : make_uint4(0, 0, 0, 0);
#pragma unroll
      for (int h = 0; h < 2; h++)
#pragma unroll
        for (int kk = 0; kk < 16; kk++) o[16 * h + kk] = in[(kk & 7) >> 1][2 * h + (kk >> 3) + 4 * (kk & 1)];
      uint8_t *tile = dst + (int64_t)kt * BT * 256;
#pragma unroll
      for (int q = 0; q < 4; q++) {
        const int ch = 4 * i + q, half = ch >> 3, cc = ch & 7;
        *(uint4 *)(tile + half * (BT * 128) + rr * 128 + ((cc ^ (rr & 7)) << 4)) = ((const uint4 *)o)[q];
      }
    }
  }
}

template <int BT, int S>
struct qwg_shape {
  static constexpr int XST = BT * 256, WST = 128 * 64, STB = XST + WST;
  static constexpr int OS = 136; /* staged output row: 128 values + 8 of padding */
  static constexpr size_t smem = (size_t)S * STB + 16 * S + 1024;
  static_assert(BT * OS * 2 <= S * STB, "output staging fits the ring");
};

template <class H, int BT, int S>
__global__ void __launch_bounds__(384, 1)
    qwg_gemm_k(const __grid_constant__ qmma_args a, const uint16_t *__restrict__ xt, int Mpad, int gsh, bool vec) {
  typedef qwg_shape<BT, S> SH;
  typedef typename H::L::S T;
  extern __shared__ uint8_t qwg_smem_raw[];
  uint8_t *smem = (uint8_t *)(((uintptr_t)qwg_smem_raw + 1023) & ~(uintptr_t)1023);
  const uint32_t sbase = (uint32_t)__cvta_generic_to_shared(smem);
  const uint32_t full0 = sbase + S * SH::STB, empty0 = full0 + 8 * S;
  const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
  const int mb = blockIdx.x, m0 = mb * BT, n0 = blockIdx.y * 128;
  const int M = a.M, N = a.N, K = a.K, KT = K / 128, KW = K / 8, G = K / a.gs;
  if (tid == 0) {
    for (int s = 0; s < S; s++) {
      qwg_bar_init(full0 + 8 * s, 33); /* the x copy's expect_tx + one cp.async arrival per lane */
      qwg_bar_init(empty0 + 8 * s, 8); /* one arrival per consumer warp */
    }
    asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
  }
  __syncthreads();

  if (warp >= 8) { /* the producer warpgroup: warp 8 loads, the registers go to the consumers */
    asm volatile("setmaxnreg.dec.sync.aligned.u32 56;\n" ::: "memory");
    if (warp != 8) return;
    int64_t xi = a.lhs ? (int64_t)a.lhs[blockIdx.z] : (int64_t)blockIdx.z;
    int64_t wi = a.rhs ? (int64_t)a.rhs[blockIdx.z] : a.w_batched ? (int64_t)blockIdx.z : 0;
    xi = xi < a.nx ? xi : a.nx - 1;
    wi = wi < a.nw ? wi : a.nw - 1;
    const uint8_t *xsrc = (const uint8_t *)(xt + xi * (int64_t)Mpad * K) + (int64_t)mb * KT * SH::XST;
    const uint32_t *wsrc = a.w + wi * (int64_t)N * KW;
    for (int kt = 0; kt < KT; kt++) {
      const int slot = kt % S, use = kt / S;
      if (use > 0) qwg_bar_wait(empty0 + 8 * slot, (uint32_t)(use - 1) & 1u);
      const uint32_t full = full0 + 8 * slot, dst = sbase + slot * SH::STB;
      if (lane == 0) {
        asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;\n" ::"r"(full),
                     "r"((uint32_t)SH::XST)
                     : "memory");
        asm volatile(
            "cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1], %2, [%3];\n" ::"r"(dst),
            "l"((uint64_t)__cvta_generic_to_global(xsrc + (int64_t)kt * SH::XST)), "r"((uint32_t)SH::XST),
            "r"(full)
            : "memory");
      }
#pragma unroll 1 /* the producer runs in 56 registers: no hoisted addresses */
      for (int j = 0; j < 16; j++) {
        const int r = (lane >> 2) + 8 * j, part = lane & 3, gn = n0 + r < N ? n0 + r : N - 1;
        asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"(dst + SH::XST + r * 64 + part * 16),
                     "l"(wsrc + (int64_t)gn * KW + kt * 16 + part * 4)
                     : "memory");
      }
      asm volatile("cp.async.mbarrier.arrive.noinc.shared::cta.b64 [%0];\n" ::"r"(full) : "memory");
    }
    asm volatile("cp.async.wait_all;\n" ::: "memory");
    return;
  }

  asm volatile("setmaxnreg.inc.sync.aligned.u32 224;\n" ::: "memory");
  const int wg = warp >> 2, g = lane >> 2, t = lane & 3;
  const int r0 = 64 * wg + 16 * (warp & 3) + g; /* this thread's rows r0 and r0 + 8 of the tile */
  const int gn0 = n0 + r0 < N ? n0 + r0 : N - 1, gn1 = n0 + r0 + 8 < N ? n0 + r0 + 8 : N - 1;
  int64_t wi = a.rhs ? (int64_t)a.rhs[blockIdx.z] : a.w_batched ? (int64_t)blockIdx.z : 0;
  wi = wi < a.nw ? wi : a.nw - 1;
  const uint16_t *sc = (const uint16_t *)a.sc + wi * (int64_t)N * G;
  const uint16_t *bi = (const uint16_t *)a.bi + wi * (int64_t)N * G;
  const uint16_t *s0p = sc + (int64_t)gn0 * G, *b0p = bi + (int64_t)gn0 * G;
  const uint16_t *s1p = sc + (int64_t)gn1 * G, *b1p = bi + (int64_t)gn1 * G;
  auto load_sb = [&](int kt, uint32_t (&v)[4]) {
    if (kt < KT) {
      const int gi = (kt * 128 + 32 * t) >> gsh;
      v[0] = s0p[gi];
      v[1] = b0p[gi];
      v[2] = s1p[gi];
      v[3] = b1p[gi];
    }
  };
  float acc[BT / 2];
#pragma unroll
  for (int i = 0; i < BT / 2; i++) acc[i] = 0.0f;
  uint32_t A[8][4], v0[4] = {0, 0, 0, 0}, v1[4] = {0, 0, 0, 0}, v2[4] = {0, 0, 0, 0};
  load_sb(0, v0); /* scales and biases: two tiles ahead in registers */
  load_sb(1, v1);
  load_sb(2, v2);
  for (int kt = 0; kt < KT; kt++) {
    const int slot = kt % S;
    qwg_bar_wait(full0 + 8 * slot, (uint32_t)(kt / S) & 1u);
    const uint8_t *ws = smem + slot * SH::STB + SH::XST;
    const uint4 wa = *(const uint4 *)(ws + r0 * 64 + t * 16);
    const uint4 wb = *(const uint4 *)(ws + (r0 + 8) * 64 + t * 16);
    const uint32_t sa = qmma_dup(v0[0]), ba = qmma_dup(v0[1]);
    const uint32_t sb = qmma_dup(v0[2]), bb = qmma_dup(v0[3]);
#pragma unroll
    for (int i = 0; i < 4; i++) {
      const uint32_t xa = i == 0 ? wa.x : i == 1 ? wa.y : i == 2 ? wa.z : wa.w;
      const uint32_t xb = i == 0 ? wb.x : i == 1 ? wb.y : i == 2 ? wb.z : wb.w;
      qmma_fragments<H>(xa, xb, sa, ba, sb, bb, A[2 * i], A[2 * i + 1]);
    }
#pragma unroll
    for (int q = 0; q < 4; q++) {
      v0[q] = v1[q];
      v1[q] = v2[q];
    }
    load_sb(kt + 3, v2);
    /* every input of the wgmmas is defined before wgmma.fence, or ptxas serializes them */
    const uint32_t xs = sbase + slot * SH::STB;
    uint64_t desc[8];
#pragma unroll
    for (int s = 0; s < 8; s++) {
      desc[s] = qwg_desc(xs + (s >> 2) * (BT * 128) + (s & 3) * 32);
      asm volatile("" : "+l"(desc[s])::"memory");
    }
    int accumulate = 1;
    asm volatile("" : "+r"(accumulate)::"memory");
#pragma unroll
    for (int s = 0; s < 8; s++)
#pragma unroll
      for (int q = 0; q < 4; q++) asm volatile("" : "+r"(A[s][q])::"memory");
    asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory");
#pragma unroll
    for (int s = 0; s < 8; s++) qwg_mma<H, BT>::run(acc, A[s], desc[s], accumulate);
    asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory");
    asm volatile("wgmma.wait_group.sync.aligned 0;\n" ::: "memory");
    __syncwarp();
    if (lane == 0) asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];\n" ::"r"(empty0 + 8 * slot) : "memory");
  }
#pragma unroll
  for (int i = 0; i < BT / 2; i++) asm volatile("" : "+f"(acc[i])::"memory");

  /* the tile (BT rows of out x 128 columns) through shared memory: every stage has been
   * consumed by both warpgroups once they pass the consumers' barrier */
  T *st = (T *)smem;
  asm volatile("bar.sync 1, 256;\n" ::: "memory");
#pragma unroll
  for (int j = 0; j < BT / 8; j++) {
    const int tl = 8 * j + 2 * t;
    st[tl * SH::OS + r0] = H::L::sv(acc[4 * j]);
    st[(tl + 1) * SH::OS + r0] = H::L::sv(acc[4 * j + 1]);
    st[tl * SH::OS + r0 + 8] = H::L::sv(acc[4 * j + 2]);
    st[(tl + 1) * SH::OS + r0 + 8] = H::L::sv(acc[4 * j + 3]);
  }
  asm volatile("bar.sync 1, 256;\n" ::: "memory");
  const int rows = M - m0 < BT ? M - m0 : BT, cols = N - n0 < 128 ? N - n0 : 128;
  T *o = (T *)a.out + ((int64_t)blockIdx.z * M + m0) * N + n0;
  if (vec) {
    for (int c = tid; c < rows * 16; c += 256) {
      const int r = c >> 4, q = c & 15;
      if (8 * q < cols) *(uint4 *)(o + (int64_t)r * N + 8 * q) = *(const uint4 *)(st + r * SH::OS + 8 * q);
    }
  } else {
    for (int e = tid; e < rows * 128; e += 256) {
      const int r = e >> 7, c = e & 127;
      if (c < cols) o[(int64_t)r * N + c] = st[r * SH::OS + c];
    }
  }
}

template <class H, int BT, int S>
static int qwg_launch(const qmma_args *a, cudaStream_t q, int dev) {
  typedef qwg_shape<BT, S> SH;
  const int Mpad = (a->M + BT - 1) / BT * BT;
  mxc_scratch_guard gt(q);
  uint16_t *xt = (uint16_t *)gt.alloc((size_t)a->nx * Mpad * a->K * 2);
  if (!xt) return -1;
  const int64_t rows = a->nx * Mpad;
  const unsigned tb = a->K / 32 < 128 ? 32 * ((a->K / 32 + 31) / 32) : 128;
  qwg_tile_x<BT><<<(unsigned)(rows < 65535 * 8 ? rows : 65535 * 8), tb, 0, q>>>(
      (const uint16_t *)a->x, xt, (int)rows, a->M, Mpad, a->K);
  MX_CUDA_CHECK_LAUNCH("quantized_matmul");
  auto kern = qwg_gemm_k<H, BT, S>;
  static std::atomic<bool> set[QWG_MAX_DEVICES]; /* the shared-memory limit, once per device */
  if (dev < 0 || dev >= QWG_MAX_DEVICES || !set[dev].load(std::memory_order_relaxed)) {
    MX_CUDA_CHECK("quantized_matmul", cudaFuncSetAttribute(kern, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                                           (int)SH::smem));
    if (dev >= 0 && dev < QWG_MAX_DEVICES) set[dev].store(true, std::memory_order_relaxed);
  }
  const bool vec = a->N % 8 == 0 && mxc_align_of(a->out) >= 16;
  dim3 grid((unsigned)(Mpad / BT), (unsigned)((a->N + 127) / 128), (unsigned)a->nmat);
  kern<<<grid, 384, SH::smem, q>>>(*a, xt, Mpad, __builtin_ctz((unsigned)a->gs), vec);
  MX_CUDA_CHECK_LAUNCH("quantized_matmul");
  return 0;
}

template <class H>
static int qwg_dispatch(const qmma_args *a, cudaStream_t q, int dev) {
  if (a->M <= 64) return qwg_launch<H, 64, 6>(a, q, dev);
  if (a->M <= 128) return qwg_launch<H, 128, 4>(a, q, dev);
  return qwg_launch<H, 256, 3>(a, q, dev);
}

#endif

bool mx_cuda_qmma_gemm_fits(const qmma_args *a, int dev) {
#if QWG_ENABLED
  return mxc_compute_capability(dev) == 90 && (a->t == MX_FLOAT16 || a->t == MX_BFLOAT16) &&
         (a->gs == 32 || a->gs == 64 || a->gs == 128) && a->K % 128 == 0 && a->N > 0 &&
         a->M > 0 && a->nmat >= 1 && a->nmat <= 65535 && (a->N + 127) / 128 <= 65535 &&
         a->nx * (int64_t)((a->M + 255) / 256 * 256) <= INT32_MAX / 2 &&
         mxc_align_of(a->x) >= 16 && mxc_align_of(a->w) >= 16;
#else
  (void)a;
  (void)dev;
  return false;
#endif
}

int mx_cuda_qmma_gemm(const qmma_args *a, cudaStream_t q, int dev) {
#if QWG_ENABLED
  return a->t == MX_BFLOAT16 ? qwg_dispatch<qmma_bf16>(a, q, dev) : qwg_dispatch<qmma_f16>(a, q, dev);
#else
  (void)a;
  (void)q;
  (void)dev;
  return mx_fail_int(MX_EINVAL, "[quantized_matmul] the Hopper GEMM is not built.");
#endif
}
