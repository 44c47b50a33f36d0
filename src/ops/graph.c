/* graph.c: mx_depends -- outputs alias the inputs but are ordered after dependencies. */
#include "ops.h"

#include <stdlib.h>

#include "../core/error.h"

int mx_depends(mx_array *const *inputs, int n_in, mx_array *const *deps, int n_deps,
               mx_array **outputs) {
  int n = n_in + n_deps;
  mx_array **all = malloc((size_t)(n ? n : 1) * sizeof *all);
  mx_out_spec *specs = malloc((size_t)(n_in ? n_in : 1) * sizeof *specs);
  int rc = -1;
  if (!all || !specs) {
    mx_fail(MX_ENOMEM, "[depends] out of memory.");
  } else {
    for (int i = 0; i < n_in; i++) {
      all[i] = inputs[i];
      if (inputs[i]) specs[i] = (mx_out_spec){inputs[i]->dtype, inputs[i]->ndim, inputs[i]->shape};
    }
    for (int i = 0; i < n_deps; i++) all[n_in + i] = deps[i];
    mx_stream s = mx_stream_default();
    rc = mx_op_make(MX_PRIM_DEPENDS, NULL, s, n, all, n_in, specs, outputs);
  }
  free(all);
  free(specs);
  return rc;
}
