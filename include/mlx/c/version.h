/* version.h: mlx_version (mlx-c API): the version of MLX whose API this library reproduces,
 * written into an mlx_string. */
#ifndef MLX_VERSION_H
#define MLX_VERSION_H

#include "mlx/c/string.h"

#ifdef __cplusplus
extern "C" {
#endif

int mlx_version(mlx_string* str);

#ifdef __cplusplus
}
#endif

#endif
