/* transforms.c: mlx_eval / mlx_async_eval (mlx/c/transforms.h) over core/eval.h; the other
 * transforms land with src/transforms. */
#include "capi_private.h"

#include "eval.h"

int mlx_eval(const mlx_vector_array outputs) {
  mx_array *const *nodes;
  int n;
  if (mx_capi_vector_nodes(outputs, &nodes, &n)) return 1;
  if (mx_eval(nodes, n) != 0) return mx_capi_report(__FILE__, __LINE__);
  return 0;
}

int mlx_async_eval(const mlx_vector_array outputs) {
  mx_array *const *nodes;
  int n;
  if (mx_capi_vector_nodes(outputs, &nodes, &n)) return 1;
  if (mx_async_eval(nodes, n) != 0) return mx_capi_report(__FILE__, __LINE__);
  return 0;
}
