/* vrows_body.h: the bodies of vrows.h's kernels, included by vrows.c once per instruction
 * set inside a `#pragma GCC target` region, with VR_W (floats per vector) and VR_(name)
 * (the per-set name) defined. GCC vector extensions; no intrinsics. */
typedef float VR_(vf) __attribute__((vector_size(VR_W * 4)));
typedef int32_t VR_(vi) __attribute__((vector_size(VR_W * 4)));

static inline VR_(vf) VR_(splat)(float v) {
  VR_(vf) r;
  for (int k = 0; k < VR_W; k++) r[k] = v;
  return r;
}
static inline VR_(vf) VR_(sel)(VR_(vi) m, VR_(vf) a, VR_(vf) b) {
  return (VR_(vf))((m & (VR_(vi))a) | (~m & (VR_(vi))b));
}

/* e^x for x <= 0 (Cody-Waite by ln 2, Cephes' degree-6 polynomial, ~1 ulp); 0 below the
 * normal range. */
static inline VR_(vf) VR_(exp_nonpos)(VR_(vf) x) {
  const VR_(vf) lo = VR_(splat)(-87.33654f);
  VR_(vi) under = x < lo;
  VR_(vf) xc = VR_(sel)(under, lo, x);
  VR_(vi) n = __builtin_convertvector(xc * 1.44269504088896341f - 0.5f, VR_(vi));
  VR_(vf) fn = __builtin_convertvector(n, VR_(vf));
  VR_(vf) r = xc - fn * 0.693359375f + fn * 2.12194440e-4f;
  VR_(vf) p = VR_(splat)(1.9875691500e-4f);
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  VR_(vf) scale = (VR_(vf))((n + 127) << 23);
  return VR_(sel)(under, VR_(splat)(0.0f), p * scale);
}

static float VR_(max)(const float *x, int64_t n, bool *nonfinite) {
  VR_(vf) m0 = VR_(splat)(-INFINITY), m1 = m0, z0 = VR_(splat)(0.0f), z1 = z0, v;
  int64_t i = 0;
  for (; i + 2 * VR_W <= n; i += 2 * VR_W) {
    __builtin_memcpy(&v, x + i, sizeof v);
    m0 = VR_(sel)(v > m0, v, m0);
    z0 += v - v;
    __builtin_memcpy(&v, x + i + VR_W, sizeof v);
    m1 = VR_(sel)(v > m1, v, m1);
    z1 += v - v;
  }
  for (; i < n; i += VR_W) { /* the tail padded with its own first element */
    v = VR_(splat)(x[i]);
    __builtin_memcpy(&v, x + i, (size_t)(n - i < VR_W ? n - i : VR_W) * 4);
    m0 = VR_(sel)(v > m0, v, m0);
    z0 += v - v;
  }
  m0 = VR_(sel)(m1 > m0, m1, m0);
  z0 += z1;
  float r = m0[0], z = 0.0f;
  for (int k = 1; k < VR_W; k++) r = m0[k] > r ? m0[k] : r;
  for (int k = 0; k < VR_W; k++) z += z0[k];
  *nonfinite = z != z;
  return r;
}

static float VR_(exp_sum)(const float *x, float *y, int64_t n, float m) {
  VR_(vf) s0 = VR_(splat)(0.0f), s1 = s0, mv = VR_(splat)(m), v;
  int64_t i = 0;
  for (; i + 2 * VR_W <= n; i += 2 * VR_W) {
    __builtin_memcpy(&v, x + i, sizeof v);
    VR_(vf) e0 = VR_(exp_nonpos)(v - mv);
    __builtin_memcpy(&v, x + i + VR_W, sizeof v);
    VR_(vf) e1 = VR_(exp_nonpos)(v - mv);
    s0 += e0;
    s1 += e1;
    if (y) {
      __builtin_memcpy(y + i, &e0, sizeof e0);
      __builtin_memcpy(y + i + VR_W, &e1, sizeof e1);
    }
  }
  for (; i < n; i += VR_W) {
    int c = (int)(n - i < VR_W ? n - i : VR_W);
    v = VR_(splat)(-INFINITY);
    __builtin_memcpy(&v, x + i, (size_t)c * 4);
    VR_(vf) e = VR_(exp_nonpos)(v - mv); /* padding gives 0 */
    s0 += e;
    if (y) __builtin_memcpy(y + i, &e, (size_t)c * 4);
  }
  s0 += s1;
  float r = 0.0f;
  for (int k = 0; k < VR_W; k++) r += s0[k];
  return r;
}

static void VR_(scale)(float *y, int64_t n, float s) {
  VR_(vf) sv = VR_(splat)(s), v;
  int64_t i = 0;
  for (; i + VR_W <= n; i += VR_W) {
    __builtin_memcpy(&v, y + i, sizeof v);
    v *= sv;
    __builtin_memcpy(y + i, &v, sizeof v);
  }
  for (; i < n; i++) y[i] *= s;
}
