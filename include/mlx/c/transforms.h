/* transforms.h: evaluation and function transformations of the mlx-c API (closures in
 * mlx/c/closure.h). */
#ifndef MLX_TRANSFORMS_H
#define MLX_TRANSFORMS_H

#include <stddef.h>

#include "mlx/c/array.h"
#include "mlx/c/closure.h"
#include "mlx/c/vector.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Evaluates every array of the vector and waits. */
int mlx_eval(const mlx_vector_array outputs);
/* Schedules evaluation and returns; later reads wait. */
int mlx_async_eval(const mlx_vector_array outputs);

/* fun's outputs and the cotangent-weighted gradients wrt every primal. */
int mlx_vjp(
    mlx_vector_array* res_0,
    mlx_vector_array* res_1,
    const mlx_closure fun,
    const mlx_vector_array primals,
    const mlx_vector_array cotangents);
/* fun's outputs and their derivatives along the tangents (one per primal). */
int mlx_jvp(
    mlx_vector_array* res_0,
    mlx_vector_array* res_1,
    const mlx_closure fun,
    const mlx_vector_array primals,
    const mlx_vector_array tangents);
/* A closure returning (outputs, gradients wrt the argnums inputs); fun's first output must
 * be a scalar. */
int mlx_value_and_grad(
    mlx_closure_value_and_grad* res,
    const mlx_closure fun,
    const int* argnums,
    size_t argnums_num);
/* fun with its own transformations; each of vjp, jvp, vmap may be empty (the default). */
int mlx_custom_function(
    mlx_closure* res,
    const mlx_closure fun,
    const mlx_closure_custom fun_vjp,
    const mlx_closure_custom_jvp fun_jvp,
    const mlx_closure_custom_vmap fun_vmap);
int mlx_custom_vjp(mlx_closure* res, const mlx_closure fun, const mlx_closure_custom fun_vjp);
/* fun whose backward pass recomputes it instead of keeping its intermediates. */
int mlx_checkpoint(mlx_closure* res, const mlx_closure fun);

#ifdef __cplusplus
}
#endif

#endif
