/* binary_fast_body.h: binary_fast.h's tiles, included by binary_fast.c once per instruction
 * set inside a `#pragma GCC target` region with BF_(name) (the per-set name), BF_F16_IN and
 * BF_F16_OUT (float16 <-> float32 over a whole chunk) defined. The loops are plain C that
 * GCC vectorises for the region's instruction set. */

#define BF_TILE(stem, sfx, T, OT)                                                          \
  static void BF_(stem##_##sfx)(const void *a_, int64_t sa, const void *b_, int64_t sb,   \
                                void *o_, int64_t n) {                                    \
    const T *a = (const T *)a_;                                                           \
    const T *b = (const T *)b_;                                                           \
    OT *o = (OT *)o_;                                                                     \
    if (sa == 1 && sb == 1) {                                                             \
      for (int64_t i = 0; i < n; i++) o[i] = mx_f_##stem##_##sfx(a[i], b[i]);             \
    } else if (sa == 0 && sb == 1) {                                                      \
      T av = a[0];                                                                        \
      for (int64_t i = 0; i < n; i++) o[i] = mx_f_##stem##_##sfx(av, b[i]);               \
    } else if (sa == 1 && sb == 0) {                                                      \
      T bv = b[0];                                                                        \
      for (int64_t i = 0; i < n; i++) o[i] = mx_f_##stem##_##sfx(a[i], bv);               \
    } else {                                                                              \
      for (int64_t i = 0; i < n; i++) o[i] = mx_f_##stem##_##sfx(a[i * sa], b[i * sb]);   \
    }                                                                                     \
  }

/* float16 / bfloat16: chunks widened to float32, the float32 tile, rounded back */
#define BF_HALF_CHUNK 256

static void BF_(bf16_in)(const mx_bf16 *x, int64_t s, float *t, int64_t c) {
  if (s == 1) {
    for (int64_t i = 0; i < c; i++) {
      uint32_t u = (uint32_t)x[i] << 16;
      __builtin_memcpy(&t[i], &u, 4);
    }
  } else {
    for (int64_t i = 0; i < c; i++) t[i] = mx_bf16_to_f32(x[i * s]);
  }
}

static void BF_(bf16_out)(const float *t, mx_bf16 *y, int64_t c) {
  for (int64_t i = 0; i < c; i++) {
    uint32_t u;
    __builtin_memcpy(&u, &t[i], 4);
    uint32_t r = (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
    y[i] = (mx_bf16)((u & 0x7fffffffu) > 0x7f800000u ? 0x7fc0u : r);
  }
}

static void BF_(f16_in)(const mx_f16 *x, int64_t s, float *t, int64_t c) {
  if (s == 1) {
    BF_F16_IN(x, t, c);
  } else {
    for (int64_t i = 0; i < c; i++) t[i] = _cvtsh_ss(x[i * s]);
  }
}

static void BF_(f16_out)(const float *t, mx_f16 *y, int64_t c) { BF_F16_OUT(t, y, c); }

#define BF_HALF_TILE(stem, sfx, OT, ELEM)                                                  \
  static void BF_(stem##_##sfx)(const void *a_, int64_t sa, const void *b_, int64_t sb,   \
                                void *o_, int64_t n) {                                    \
    const uint16_t *a = (const uint16_t *)a_, *b = (const uint16_t *)b_;                  \
    float ta[BF_HALF_CHUNK], tb[BF_HALF_CHUNK], to[BF_HALF_CHUNK];                        \
    if (sa == 0) BF_(sfx##_in)(a, 1, ta, 1);                                              \
    if (sb == 0) BF_(sfx##_in)(b, 1, tb, 1);                                              \
    for (int64_t j = 0; j < n; j += BF_HALF_CHUNK) {                                      \
      int64_t c = n - j < BF_HALF_CHUNK ? n - j : BF_HALF_CHUNK;                          \
      if (sa != 0) BF_(sfx##_in)(a + j * sa, sa, ta, c);                                  \
      if (sb != 0) BF_(sfx##_in)(b + j * sb, sb, tb, c);                                  \
      ELEM(stem, c, sa != 0, sb != 0, (OT *)o_ + j, sfx)                                  \
    }                                                                                     \
  }
/* arithmetic: into a float chunk, then rounded; comparisons: straight into the bools */
#define BF_HALF_ARITH(stem, c, as, bs, out, sfx)                                           \
  BF_(stem##_f32)(ta, as, tb, bs, to, c);                                                 \
  BF_(sfx##_out)(to, (uint16_t *)(out), c);
#define BF_HALF_CMP(stem, c, as, bs, out, sfx) \
  (void)to;                                    \
  BF_(stem##_f32)(ta, as, tb, bs, out, c);

#define BF_ARITH_STEMS(X, sfx, T) \
  X(add, sfx, T, T) X(subtract, sfx, T, T) X(multiply, sfx, T, T) X(maximum, sfx, T, T) \
  X(minimum, sfx, T, T)
#define BF_CMP_STEMS(X, sfx, T)                                                            \
  X(equal, sfx, T, bool) X(not_equal, sfx, T, bool) X(less, sfx, T, bool)                  \
  X(less_equal, sfx, T, bool) X(greater, sfx, T, bool) X(greater_equal, sfx, T, bool)

BF_ARITH_STEMS(BF_TILE, f32, float)
BF_TILE(divide, f32, float, float)
BF_CMP_STEMS(BF_TILE, f32, float)
BF_ARITH_STEMS(BF_TILE, f64, double)
BF_TILE(divide, f64, double, double)
BF_CMP_STEMS(BF_TILE, f64, double)
BF_ARITH_STEMS(BF_TILE, i32, int32_t)
BF_CMP_STEMS(BF_TILE, i32, int32_t)
BF_ARITH_STEMS(BF_TILE, i64, int64_t)
BF_CMP_STEMS(BF_TILE, i64, int64_t)

#define BF_HALF_A(stem, sfx, T, OT) BF_HALF_TILE(stem, sfx, uint16_t, BF_HALF_ARITH)
#define BF_HALF_C(stem, sfx, T, OT) BF_HALF_TILE(stem, sfx, bool, BF_HALF_CMP)
BF_ARITH_STEMS(BF_HALF_A, f16, float)
BF_HALF_A(divide, f16, float, float)
BF_CMP_STEMS(BF_HALF_C, f16, float)
BF_ARITH_STEMS(BF_HALF_A, bf16, float)
BF_HALF_A(divide, bf16, float, float)
BF_CMP_STEMS(BF_HALF_C, bf16, float)

/* The tile of (prim, dtype), or NULL. */
static mx_bf_tile_fn BF_(lookup)(int prim, mx_dtype t) {
#define BF_FLOATS(stem)                                                                    \
  t == MX_FLOAT32 ? BF_(stem##_f32) : t == MX_FLOAT64 ? BF_(stem##_f64)                    \
  : t == MX_FLOAT16 ? BF_(stem##_f16) : t == MX_BFLOAT16 ? BF_(stem##_bf16) : NULL
#define BF_ALL(stem)                                                                       \
  t == MX_INT32 ? BF_(stem##_i32) : t == MX_INT64 ? BF_(stem##_i64) : BF_FLOATS(stem)
  switch (prim) {
  case MX_PRIM_ADD: return BF_ALL(add);
  case MX_PRIM_SUBTRACT: return BF_ALL(subtract);
  case MX_PRIM_MULTIPLY: return BF_ALL(multiply);
  case MX_PRIM_DIVIDE: return BF_FLOATS(divide);
  case MX_PRIM_MAXIMUM: return BF_ALL(maximum);
  case MX_PRIM_MINIMUM: return BF_ALL(minimum);
  case MX_PRIM_EQUAL: return BF_ALL(equal);
  case MX_PRIM_NOT_EQUAL: return BF_ALL(not_equal);
  case MX_PRIM_LESS: return BF_ALL(less);
  case MX_PRIM_LESS_EQUAL: return BF_ALL(less_equal);
  case MX_PRIM_GREATER: return BF_ALL(greater);
  case MX_PRIM_GREATER_EQUAL: return BF_ALL(greater_equal);
  default: return NULL;
  }
#undef BF_FLOATS
#undef BF_ALL
}
