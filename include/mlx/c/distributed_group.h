/* distributed_group.h: communication groups of the mlx-c API and the collectives that take
 * them. An empty group handle (ctx NULL) means the global group; backend names bk are "any",
 * "mpi", "ring", "nccl" or "jaccl". Without a built-in transport the global group is the
 * singleton group of this process, on which the collectives return their input. */
#ifndef MLX_DISTRIBUTED_GROUP_H
#define MLX_DISTRIBUTED_GROUP_H

#include <stdbool.h>
#include <stddef.h>

#include "mlx/c/array.h"
#include "mlx/c/stream.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mlx_distributed_group_ {
  void* ctx;
} mlx_distributed_group;

/* An empty handle (the global group wherever a group is taken). */
mlx_distributed_group mlx_distributed_group_new(void);
int mlx_distributed_group_free(mlx_distributed_group group);
int mlx_distributed_group_rank(mlx_distributed_group group);
int mlx_distributed_group_size(mlx_distributed_group group);
int mlx_distributed_group_split(mlx_distributed_group* res, mlx_distributed_group group, int color,
                                int key);
bool mlx_distributed_is_available(const char* bk);
int mlx_distributed_init(mlx_distributed_group* res, bool strict, const char* bk);

int mlx_distributed_all_sum(mlx_array* res, const mlx_array x, const mlx_distributed_group group,
                            const mlx_stream s);
int mlx_distributed_all_max(mlx_array* res, const mlx_array x, const mlx_distributed_group group,
                            const mlx_stream s);
int mlx_distributed_all_min(mlx_array* res, const mlx_array x, const mlx_distributed_group group,
                            const mlx_stream s);
int mlx_distributed_all_gather(mlx_array* res, const mlx_array x,
                               const mlx_distributed_group group, const mlx_stream s);
int mlx_distributed_sum_scatter(mlx_array* res, const mlx_array x,
                                const mlx_distributed_group group, const mlx_stream s);
int mlx_distributed_send(mlx_array* res, const mlx_array x, int dst,
                         const mlx_distributed_group group, const mlx_stream s);
int mlx_distributed_recv(mlx_array* res, const int* shape, size_t shape_num, mlx_dtype dtype,
                         int src, const mlx_distributed_group group, const mlx_stream s);
int mlx_distributed_recv_like(mlx_array* res, const mlx_array x, int src,
                              const mlx_distributed_group group, const mlx_stream s);

#ifdef __cplusplus
}
#endif

#endif
