/* closure_private.h: how the closure handles of mlx/c/closure.h map onto the core: a handle
 * boxes a refcounted function object (the user's function or one made by a transform),
 * shared by its copies. Internal functions report failures as core errors (not through the
 * handler); the public _apply functions report them. Used by closure.c, transforms.c and
 * compile.c. */
#ifndef MX_CAPI_CLOSURE_PRIVATE_H
#define MX_CAPI_CLOSURE_PRIVATE_H

#include "capi_private.h"
#include "mlx/c/closure.h"
#include "../transforms/transforms.h"

typedef enum {
  MX_CLS_PLAIN,         /* mlx_closure */
  MX_CLS_VAG,           /* mlx_closure_value_and_grad */
  MX_CLS_CUSTOM,        /* mlx_closure_custom */
  MX_CLS_CUSTOM_JVP,    /* mlx_closure_custom_jvp */
  MX_CLS_CUSTOM_VMAP,   /* mlx_closure_custom_vmap */
  MX_CLS_KWARGS,        /* mlx_closure_kwargs (closure_kwargs.c) */
} mx_cls_kind;

typedef struct mx_cls {
  _Atomic int64_t refs;
  mx_cls_kind kind;
  void (*fn)(void);     /* the function, of the kind's signature, with or without payload */
  bool with_payload;
  void *payload;
  void (*dtor)(void *);
} mx_cls;

/* A new box (refs 1); NULL + ENOMEM. */
mx_cls *mx_cls_new(mx_cls_kind kind, void (*fn)(void), bool with_payload, void *payload,
                   void (*dtor)(void *));
void mx_cls_retain(mx_cls *c);
void mx_cls_release(mx_cls *c);

/* Calls a box; outputs arrive in fresh handles the callee fills. 0, or non-zero with a core
 * error set (a bare non-zero return becomes "mlx_closure returned a non-zero value"). */
int mx_cls_call(mx_cls *c, mlx_vector_array *res, const mlx_vector_array in);
int mx_cls_call_vag(mx_cls *c, mlx_vector_array *r0, mlx_vector_array *r1, const mlx_vector_array in);
int mx_cls_call_custom(mx_cls *c, mlx_vector_array *res, const mlx_vector_array a,
                       const mlx_vector_array b, const mlx_vector_array d);
int mx_cls_call_jvp(mx_cls *c, mlx_vector_array *res, const mlx_vector_array a,
                    const mlx_vector_array b, const int *argnums, size_t n);
int mx_cls_call_vmap(mx_cls *c, mlx_vector_array *r0, mlx_vector_int *r1, const mlx_vector_array a,
                     const int *axes, size_t n);

int mx_cls_call_kwargs(mx_cls *c, mlx_vector_array *res, const mlx_vector_array args,
                       const mlx_map_string_to_array kwargs);

/* The core closure calling a plain box (payload: the box, borrowed). */
mx_closure mx_cls_core(mx_cls *c);

/* A vector handle holding nodes[0..n) (retained). {NULL} + core error on failure. */
mlx_vector_array mx_cls_vector(mx_array *const *nodes, int n);
/* Moves the nodes of v into out (new references, at most max); -1 + core error. */
int mx_cls_take(mlx_vector_array v, mx_array **out, int max, int *n);

#endif
