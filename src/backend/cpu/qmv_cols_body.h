/* qmv_cols_body.h: the column-block loop of qmv_cols.c, included once per instruction set
 * with QC_(name) naming its functions. */

/* One weight row's ng groups for one row of x: o += (x * scale) * code per column (4-bit:
 * even columns in o[0, gs/2), odd ones in o[gs/2, gs) of each group), ba += x * bias. */
static inline __attribute__((always_inline)) void QC_(row)(
    float *restrict o, float *restrict ba, const uint8_t *restrict q, const float *restrict s,
    const float *restrict b, float xv, int ng, int bits, const int gs) {
  const int half = gs / 2;
  for (int g = 0; g < ng; g++, o += gs) {
    const float f = xv * s[g];
    ba[g] += xv * b[g];
    if (bits == 4) {
      for (int t = 0; t < half; t++) {
        o[t] += f * (float)(q[t] & 15);
        o[half + t] += f * (float)(q[t] >> 4);
      }
      q += half;
    } else {
      for (int t = 0; t < gs; t++) o[t] += f * (float)q[t];
      q += gs;
    }
  }
}

/* Columns [c0, c1) (whole groups) of out for every row of x. acc: M x ((c1-c0) + groups). */
static void QC_(block)(const qc_job *j, int64_t c0, int64_t c1, float *acc) {
  const int M = j->M, gs = j->gs, half = gs / 2, B = (int)(c1 - c0), ng = B / gs;
  const int64_t groups_per_row = j->N / gs;
  float *bacc = acc + (size_t)M * B;
  memset(acc, 0, sizeof(float) * (size_t)M * (size_t)(B + ng));
  for (int k = 0; k < j->K; k++) {
    const uint8_t *wr = j->w + (int64_t)k * j->row_bytes + c0 * j->bits / 8;
    const float *s = j->sc + (int64_t)k * groups_per_row + c0 / gs;
    const float *b = j->bi + (int64_t)k * groups_per_row + c0 / gs;
    for (int i = 0; i < M; i++) {
      const float xv = j->x[(int64_t)i * j->K + k];
      float *a = acc + (size_t)i * B, *ba = bacc + (size_t)i * ng;
      switch (gs) { /* the usual group sizes unrolled */
        case 32: QC_(row)(a, ba, wr, s, b, xv, ng, j->bits, 32); break;
        case 64: QC_(row)(a, ba, wr, s, b, xv, ng, j->bits, 64); break;
        case 128: QC_(row)(a, ba, wr, s, b, xv, ng, j->bits, 128); break;
        default: QC_(row)(a, ba, wr, s, b, xv, ng, j->bits, gs);
      }
    }
  }
  for (int i = 0; i < M; i++) {
    float *dst = j->out + (int64_t)i * j->N + c0;
    const float *a = acc + (size_t)i * B, *ba = bacc + (size_t)i * ng;
    for (int g = 0; g < ng; g++) {
      const float *o = a + (size_t)g * gs;
      float *d = dst + (size_t)g * gs;
      if (j->bits == 4) {
        for (int t = 0; t < half; t++) {
          d[2 * t] = o[t] + ba[g];
          d[2 * t + 1] = o[half + t] + ba[g];
        }
      } else {
        for (int t = 0; t < gs; t++) d[t] = o[t] + ba[g];
      }
    }
  }
}
