/* version.c: mlx_version (mlx/c/version.h): the MLX version whose API this library
 * reproduces (mlx-c 0.6.0 wraps MLX 0.31.2). */
#include "capi_private.h"

#include <stdlib.h>
#include <string.h>

#define MX_CAPI_MLX_VERSION "0.31.2"

int mlx_version(mlx_string *str) {
  char *text = malloc(sizeof MX_CAPI_MLX_VERSION);
  if (text) memcpy(text, MX_CAPI_MLX_VERSION, sizeof MX_CAPI_MLX_VERSION);
  return mx_capi_set_string(str, text);
}
