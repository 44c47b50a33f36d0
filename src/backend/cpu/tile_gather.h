/* tile_gather.h: operands read tile by tile into a row-contiguous output: an operand's
 * strides broadcast to the output shape with dims that step as one merged, and the copy of
 * any run of its elements (in output order) into a contiguous tile. Used by the Compiled
 * kernel and by the binary driver when broadcasting leaves only short runs. */
#ifndef MX_BACKEND_CPU_TILE_GATHER_H
#define MX_BACKEND_CPU_TILE_GATHER_H

#include "cpu.h"

typedef struct mx_cpu_gview {
  int nd;
  int64_t *shape, *strides; /* [nd] merged dims */
  int64_t *heap;
  int64_t buf[2 * MX_CPU_ITER_INLINE];
} mx_cpu_gview;

/* v = in broadcast to out's shape (right-aligned). 0, or -1 with an error set. */
int mx_cpu_gview_init(mx_cpu_gview *v, const mx_tensor *in, const mx_tensor *out);
void mx_cpu_gview_free(mx_cpu_gview *v);

/* True if every tile of `tile` elements starting at a multiple of `tile` gathers the same
 * values (only dims whose sizes multiply to a divisor of tile step through memory: a bias
 * along the last axes), so one gathered tile serves them all. */
bool mx_cpu_gview_periodic(const mx_cpu_gview *v, int64_t tile);

/* Copies elements [t0, t0 + n) (in the output's row-major order) of in, viewed as v, to dst. */
void mx_cpu_gather_tile(const mx_tensor *in, const mx_cpu_gview *v, int64_t t0, int64_t n,
                        void *dst);

/* o[0..n) = f(a[i*sa], b[i*sb]), as binary.c's tile functions. */
typedef void (*mx_cpu_binary_tile_fn)(const void *a, int64_t sa, const void *b, int64_t sb,
                                      void *o, int64_t n);

/* out (row-contiguous, same dtype as fn's results unless res_t differs: then converted) =
 * fn over tiles of the output, each operand read in place when it is contiguous with the
 * output's shape, as a scalar when all its strides are 0, else gathered. */
int mx_cpu_binary_tiled(mx_cpu_binary_tile_fn fn, mx_dtype res_t, const mx_tensor *in,
                        mx_tensor *out);

#endif
