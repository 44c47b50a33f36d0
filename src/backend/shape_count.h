/* shape_count.h: the value NumberOfElements computes, shared by the CPU and CUDA kernels:
 * the product of x's sizes over the parameter axes, inverted when asked. */
#ifndef MX_BACKEND_SHAPE_COUNT_H
#define MX_BACKEND_SHAPE_COUNT_H

#include "../core/error.h"
#include "../core/kernel.h"
#include "prims_gen.h"

/* 0 and *v, or -1 when an axis is outside x. */
static inline int mx_shape_count(const void *params, const mx_tensor *x, double *v) {
  const mx_p_number_of_elements *p = (const mx_p_number_of_elements *)params;
  double n = 1;
  for (int i = 0; i < p->axes.n; i++) {
    int ax = p->axes.v[i];
    if (ax < 0 || ax >= x->ndim) return -1;
    n *= x->shape[ax];
  }
  *v = p->inverted ? 1.0 / n : n;
  return 0;
}

#endif
