/* qdot_avx512.c: the rows of qdot.h's integer path with AVX-512 VNNI (compiled for that
 * target, called only when the CPU reports it): 64 packed bytes at a time, each code plane
 * meets the int8 x in the same plane order through vpdpbusd, and the int32 lanes of each
 * group are scaled by (weight scale x activation scale) into float accumulators. */
#include "qdot.h"

#ifdef MX_QDOT_HAVE_AVX512
#include <immintrin.h>

#define QD_ATTR __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni")))

QD_ATTR void mx_cpu_qdot_rows_avx512(const mx_qdot_job *j, int64_t n0, int64_t n1,
                                     uint8_t *scratch) {
  const int K = j->K, ng = j->ng, M = j->M, kb = j->kb, e = 8 / kb;
  const int64_t wpr = (int64_t)K * j->bits / 32, rb = K / e, xl = j->xp_len;
  const int gb = j->gs / e; /* packed bytes per group: 4 to 128, a power of two */
  const __m512i cmask = _mm512_set1_epi8((char)((1u << kb) - 1u));
  int32_t lane_group[16];
  for (int l = 0; l < 16; l++) lane_group[l] = gb < 64 ? l / (gb / 4) : 0;
  const __m512i idx = _mm512_loadu_si512(lane_group);
  const int gpp = gb < 64 ? 64 / gb : 1;
  for (int64_t n = n0; n < n1; n++) {
    const uint8_t *pb = (const uint8_t *)(j->w + n * wpr);
    if (kb != j->bits) {
      mx_cpu_qdot_unpack(j->w + n * wpr, K, j->bits, scratch);
      pb = scratch;
    }
    const float *s = j->sc + (int64_t)n * ng, *bi = j->bi + (int64_t)n * ng;
    __m512 facc[MX_QDOT_MAX_M];
    for (int m = 0; m < M; m++) facc[m] = _mm512_setzero_ps();
    for (int64_t P = 0; P < rb; P += MX_QDOT_PIECE) {
      int64_t nb = rb - P < MX_QDOT_PIECE ? rb - P : MX_QDOT_PIECE;
      __mmask64 lm = nb == 64 ? ~0ULL : ((1ULL << nb) - 1ULL);
      __m512i v = _mm512_maskz_loadu_epi8(lm, pb + P);
      __m512i acc[MX_QDOT_MAX_M];
      for (int m = 0; m < M; m++) acc[m] = _mm512_setzero_si512();
      const int8_t *xpp = j->xp + P * e;
      for (int p = 0; p < e; p++) {
        __m512i c = kb == 8 ? v : _mm512_and_si512(_mm512_srl_epi16(v, _mm_cvtsi32_si128(p * kb)), cmask);
        __mmask64 xm = kb == 8 ? lm : ~0ULL;
        for (int m = 0; m < M; m++)
          acc[m] = _mm512_dpbusd_epi32(acc[m], c,
                                       _mm512_maskz_loadu_epi8(xm, xpp + m * xl + p * MX_QDOT_PIECE));
      }
      int64_t g0 = P / gb;
      if (gb >= 64) {
        for (int m = 0; m < M; m++) {
          __m512 sd = _mm512_set1_ps(s[g0] * j->xd[(int64_t)m * ng + g0]);
          facc[m] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(acc[m]), sd, facc[m]);
        }
      } else {
        int have = ng - g0 < gpp ? (int)(ng - g0) : gpp;
        __mmask16 km = (__mmask16)((1u << have) - 1u);
        __m512 vs = _mm512_maskz_loadu_ps(km, s + g0);
        for (int m = 0; m < M; m++) {
          __m512 vd = _mm512_maskz_loadu_ps(km, j->xd + (int64_t)m * ng + g0);
          __m512 sd = _mm512_permutexvar_ps(idx, _mm512_mul_ps(vs, vd));
          facc[m] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(acc[m]), sd, facc[m]);
        }
      }
    }
    for (int m = 0; m < M; m++) {
      const float *xs = j->xs + (int64_t)m * ng, *xr = j->xr + (int64_t)m * ng;
      __m512 bacc = _mm512_setzero_ps(), racc = _mm512_setzero_ps();
      int g = 0;
      for (; g + 16 <= ng; g += 16) {
        bacc = _mm512_fmadd_ps(_mm512_loadu_ps(bi + g), _mm512_loadu_ps(xs + g), bacc);
        racc = _mm512_fmadd_ps(_mm512_loadu_ps(s + g), _mm512_loadu_ps(xr + g), racc);
      }
      float tot = _mm512_reduce_add_ps(facc[m]) + _mm512_reduce_add_ps(bacc);
      float res = _mm512_reduce_add_ps(racc);
      for (; g < ng; g++) {
        tot += bi[g] * xs[g];
        res += s[g] * xr[g];
      }
      j->out[(int64_t)m * j->N + n] = tot + j->mid * res;
    }
  }
}

#endif
