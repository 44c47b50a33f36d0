/* half.h: float16_t / bfloat16_t of the mlx-c API. mlx-c defines them on ARM only; here they
 * always exist: native types where the compiler has them (__fp16 / _Float16; __bf16 on aarch64
 * with BF16), else uint16_t holding the raw binary16 / bfloat16 bits.
 * MLX_FLOAT16_IS_BITS / MLX_BFLOAT16_IS_BITS say which (1 = raw bits). */
#ifndef MLX_HALF_H
#define MLX_HALF_H

#include <stdint.h>

#if defined(__aarch64__) && defined(__ARM_FP16_FORMAT_IEEE)
typedef __fp16 float16_t;
#define MLX_FLOAT16_IS_BITS 0
#elif defined(__FLT16_MANT_DIG__) && !defined(__cplusplus)
__extension__ typedef _Float16 float16_t;
#define MLX_FLOAT16_IS_BITS 0
#else
typedef uint16_t float16_t; /* IEEE binary16 bits */
#define MLX_FLOAT16_IS_BITS 1
#endif

#if defined(__aarch64__) && defined(__ARM_FEATURE_BF16)
typedef __bf16 bfloat16_t;
#define MLX_BFLOAT16_IS_BITS 0
#else
typedef uint16_t bfloat16_t; /* bfloat16 bits: the top half of a float32 */
#define MLX_BFLOAT16_IS_BITS 1
#endif

/* The float16/bfloat16 item and data functions always exist in this implementation. */
#ifndef HAS_FLOAT16
#define HAS_FLOAT16
#endif
#ifndef HAS_BFLOAT16
#define HAS_BFLOAT16
#endif

#endif
