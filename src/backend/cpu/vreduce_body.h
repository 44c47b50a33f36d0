/* vreduce_body.h: vreduce.h's loops, included by vreduce.c once per instruction set inside
 * a `#pragma GCC target` region with VD_(name) and VD_NB (bytes per native vector)
 * defined. The accumulators are 128 bytes (32 floats / 16 doubles) held as 128 / VD_NB
 * native GCC vectors: lane k always takes the elements i with i % lanes == k. */
#define VD_BYTES 128
#define VD_K (VD_BYTES / VD_NB)

#define VD_DEF(T, sfx, U)                                                                  \
  typedef T VD_(v_##sfx) __attribute__((vector_size(VD_NB)));                             \
  typedef U VD_(m_##sfx) __attribute__((vector_size(VD_NB)));                             \
  static inline VD_(v_##sfx) VD_(sel_##sfx)(VD_(m_##sfx) m, VD_(v_##sfx) a, VD_(v_##sfx) b) { \
    return (VD_(v_##sfx))((m & (VD_(m_##sfx))a) | (~m & (VD_(m_##sfx))b));               \
  }                                                                                        \
  static inline VD_(v_##sfx) VD_(sum_##sfx)(VD_(v_##sfx) a, VD_(v_##sfx) x) { return a + x; } \
  static inline VD_(v_##sfx) VD_(max_##sfx)(VD_(v_##sfx) a, VD_(v_##sfx) x) {             \
    return VD_(sel_##sfx)((x > a) | (x != x), x, a);                                      \
  }                                                                                        \
  static inline VD_(v_##sfx) VD_(min_##sfx)(VD_(v_##sfx) a, VD_(v_##sfx) x) {             \
    return VD_(sel_##sfx)((x < a) | (x != x), x, a);                                      \
  }                                                                                        \
  static inline T VD_(sum1_##sfx)(T a, T x) { return a + x; }                              \
  static inline T VD_(max1_##sfx)(T a, T x) { return (x > a || x != x) ? x : a; }          \
  static inline T VD_(min1_##sfx)(T a, T x) { return (x < a || x != x) ? x : a; }          \
  VD_RUN(sum, sfx, T, 0.0)                                                                 \
  VD_RUN(max, sfx, T, -INFINITY)                                                           \
  VD_RUN(min, sfx, T, INFINITY)

/* The lanes fold pairwise (halves) into one; the tail is padded with the identity. */
#define VD_RUN(kind, sfx, T, ID)                                                           \
  static void VD_(run_##kind##_##sfx)(void *acc_, const void *x_, int64_t n) {            \
    const T *x = (const T *)x_;                                                           \
    enum { L = VD_NB / sizeof(T), W = VD_BYTES / sizeof(T) };                             \
    VD_(v_##sfx) a[VD_K], v;                                                              \
    for (int q = 0; q < VD_K; q++)                                                        \
      for (int k = 0; k < L; k++) a[q][k] = (T)ID;                                        \
    int64_t i = 0;                                                                        \
    for (; i + W <= n; i += W)                                                            \
      for (int q = 0; q < VD_K; q++) {                                                    \
        __builtin_memcpy(&v, x + i + q * L, sizeof v);                                    \
        a[q] = VD_(kind##_##sfx)(a[q], v);                                                \
      }                                                                                   \
    T l[W];                                                                               \
    __builtin_memcpy(l, a, sizeof l);                                                     \
    for (int k = 0; i < n; i++, k++) l[k] = VD_(kind##1_##sfx)(l[k], x[i]);               \
    for (int h = W / 2; h > 0; h /= 2)                                                    \
      for (int k = 0; k < h; k++) l[k] = VD_(kind##1_##sfx)(l[k], l[k + h]);              \
    *(T *)acc_ = VD_(kind##1_##sfx)(*(T *)acc_, l[0]);                                    \
  }                                                                                       \
  static void VD_(cols_##kind##_##sfx)(void *acc_, const void *x_, int64_t n) {           \
    T *acc = (T *)acc_;                                                                   \
    const T *x = (const T *)x_;                                                           \
    enum { L = VD_NB / sizeof(T) };                                                       \
    VD_(v_##sfx) a, v;                                                                    \
    int64_t i = 0;                                                                        \
    for (; i + L <= n; i += L) {                                                          \
      __builtin_memcpy(&a, acc + i, sizeof a);                                            \
      __builtin_memcpy(&v, x + i, sizeof v);                                              \
      a = VD_(kind##_##sfx)(a, v);                                                        \
      __builtin_memcpy(acc + i, &a, sizeof a);                                            \
    }                                                                                     \
    for (; i < n; i++) acc[i] = VD_(kind##1_##sfx)(acc[i], x[i]);                         \
  }

VD_DEF(float, f32, int32_t)
VD_DEF(double, f64, int64_t)

static mx_vred_fn VD_(pick)(int kind, int f64, int cols) {
  switch (kind) {
  case MX_REDUCE_SUM:
    return cols ? (f64 ? VD_(cols_sum_f64) : VD_(cols_sum_f32)) : (f64 ? VD_(run_sum_f64) : VD_(run_sum_f32));
  case MX_REDUCE_MAX:
    return cols ? (f64 ? VD_(cols_max_f64) : VD_(cols_max_f32)) : (f64 ? VD_(run_max_f64) : VD_(run_max_f32));
  case MX_REDUCE_MIN:
    return cols ? (f64 ? VD_(cols_min_f64) : VD_(cols_min_f32)) : (f64 ? VD_(run_min_f64) : VD_(run_min_f32));
  default:
    return NULL;
  }
}
#undef VD_DEF
#undef VD_RUN
#undef VD_BYTES
#undef VD_K
