/* prim.h: one vtable per primitive kind (STYLE section 3), indexed by mx_prim from
 * prims.def. src/core stores the pointers; the layers above fill them in at init
 * (backend kernels, rules). A NULL kernel means "unsupported on that device" and eval
 * raises a named error built from the table. */
#ifndef MX_PRIM_H
#define MX_PRIM_H

#include "kernel.h"
#include "op.h"

/* Rules (DESIGN section 7), written with ops inside a scope: results are scope-owned.
 * vjp: cotangents[i] for each output (NULL = zero), grads[j] for each argnum (NULL = zero).
 * jvp: tangents[i] for each input (NULL = zero), out_tangents[k] for each output.
 * vmap: axes[i] = mapped axis of input i or -1; fills outputs and out_axes. */
typedef int (*mx_vjp_fn)(const mx_op *op, mx_array *const *primals,
                         mx_array *const *cotangents, const int *argnums, int n_argnums,
                         mx_array *const *outputs, mx_array **grads);
typedef int (*mx_jvp_fn)(const mx_op *op, mx_array *const *primals,
                         mx_array *const *tangents, mx_array *const *outputs,
                         mx_array **out_tangents);
typedef int (*mx_vmap_fn)(const mx_op *op, mx_array *const *inputs, const int *axes,
                          mx_array **outputs, int *out_axes);
/* Resolves outputs as views of inputs at schedule time (inputs' layouts are known).
 * Returns 1 if it set each live output's buf (retained), strides, offset and flags from
 * in[view_source(k)], 0 if a compute task is needed instead. out[k] may be NULL (freed). */
typedef int (*mx_view_fn)(const mx_op *op, mx_array *const *in, mx_array *const *out);

enum {
  MX_PF_DONATE = 1u << 0,   /* an output may take over an input's buffer (section 5) */
  MX_PF_DONATE_FIRST = 1u << 2, /* ... but only the first input's (its kernel reads the others) */
  MX_PF_RANDOM = 1u << 1,
};

typedef struct mx_prim_vt {
  const char *name;         /* MLX's class name: "Exp", "Add", "Reduce", ... */
  uint32_t flags;
  mx_kernel_fn eval_cpu;
  mx_kernel_fn eval_gpu;
  mx_view_fn view;
  mx_vjp_fn vjp;
  mx_jvp_fn jvp;
  mx_vmap_fn vmap;
} mx_prim_vt;

extern mx_prim_vt mx_prims[MX_PRIM_COUNT];

/* Registration by the upper layers at library init. */
void mx_prims_register_kernels(void);   /* backend/cpu (and the GPU backend's) */
void mx_prims_register_rules(void);     /* rules/ */
void mx_prims_register_views(void);     /* ops/views.c */

#endif
