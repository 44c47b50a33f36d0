/* memory.c: allocator statistics and limits of the mlx-c API (mlx/c/memory.h) over
 * core/allocator.h. */
#include "capi_private.h"

#include "allocator.h"

#define CHECK_OUT(p)                                                                   \
  if (!(p))                                                                            \
  return mx_capi_fail(__FILE__, __LINE__, MX_EINVAL, "expected a non-null size_t pointer")

int mlx_clear_cache(void) {
  mx_memory_clear_cache();
  return 0;
}
int mlx_get_active_memory(size_t *res) {
  CHECK_OUT(res);
  *res = mx_memory_active();
  return 0;
}
int mlx_get_cache_memory(size_t *res) {
  CHECK_OUT(res);
  *res = mx_memory_cache();
  return 0;
}
int mlx_get_memory_limit(size_t *res) {
  CHECK_OUT(res);
  *res = mx_memory_limit();
  return 0;
}
int mlx_get_peak_memory(size_t *res) {
  CHECK_OUT(res);
  *res = mx_memory_peak();
  return 0;
}
int mlx_reset_peak_memory(void) {
  mx_memory_reset_peak();
  return 0;
}
int mlx_set_cache_limit(size_t *res, size_t limit) {
  CHECK_OUT(res);
  *res = mx_memory_set_cache_limit(limit);
  return 0;
}
int mlx_set_memory_limit(size_t *res, size_t limit) {
  CHECK_OUT(res);
  *res = mx_memory_set_limit(limit);
  return 0;
}
int mlx_set_wired_limit(size_t *res, size_t limit) {
  CHECK_OUT(res);
  *res = mx_memory_set_wired_limit(limit);
  return 0;
}
