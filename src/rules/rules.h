/* rules.h: helpers shared by the vjp/jvp/vmap rules (DESIGN section 7). Rules run inside
 * a scope opened by the transformation, so every array here is scope-owned. */
#ifndef MX_RULES_H
#define MX_RULES_H

#include "../core/error.h"
#include "../core/prim.h"
#include "../ops/ops.h"

/* Moves a mapped axis to 0 (axis < 0: unmapped, returned as is). */
mx_array *mx_rule_to_front(mx_array *x, int axis, mx_stream s);
/* Rules of what has no derivative: zero cotangents for every argnum (zeros like the primal)
 * and zero tangents (misc.c). */
int mx_rule_zero_vjp(const mx_op *op, mx_array *const *p, mx_array *const *cot,
                     const int *argnums, int n, mx_array *const *outputs, mx_array **grads);
int mx_rule_zero_jvp(const mx_op *op, mx_array *const *p, mx_array *const *t,
                     mx_array *const *outputs, mx_array **out);
/* Inserts size-1 axes after axis 0 until x has ndim dims (x already has the batch axis). */
mx_array *mx_rule_pad_after_batch(mx_array *x, int ndim, mx_stream s);
/* vmap of an element-wise primitive: batch axes to the front, ranks aligned, reapplied. */
int mx_rule_vmap_elementwise(const mx_op *op, mx_array *const *inputs, const int *axes,
                             mx_array **outputs, int *out_axes);

void mx_rules_register_unary(void);
void mx_rules_register_binary(void);
void mx_rules_register_reduce(void);
void mx_rules_register_shape(void);
void mx_rules_register_misc(void);

#endif
