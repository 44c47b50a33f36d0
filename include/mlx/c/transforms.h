/* transforms.h: evaluation entry points of the mlx-c API (vjp/jvp/value_and_grad/
 * custom functions land with the transforms layer). */
#ifndef MLX_TRANSFORMS_H
#define MLX_TRANSFORMS_H

#include "mlx/c/array.h"
#include "mlx/c/vector.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Evaluates every array of the vector and waits. */
int mlx_eval(const mlx_vector_array outputs);
/* Schedules evaluation and returns; later reads wait. */
int mlx_async_eval(const mlx_vector_array outputs);

#ifdef __cplusplus
}
#endif

#endif
