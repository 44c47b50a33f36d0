/* closure_kwargs.c: mlx_closure_kwargs, a closure taking positional arrays and a map of
 * keyword arrays, over the shared closure boxes of closure_private.h. */
#include "closure_private.h"

#include <stdlib.h>

#define HERE __FILE__, __LINE__

typedef int (*kw_fn)(mlx_vector_array *, const mlx_vector_array, const mlx_map_string_to_array);
typedef int (*kw_pfn)(mlx_vector_array *, const mlx_vector_array, const mlx_map_string_to_array,
                      void *);

int mx_cls_call_kwargs(mx_cls *c, mlx_vector_array *res, const mlx_vector_array args,
                       const mlx_map_string_to_array kwargs) {
  mlx_vector_array tmp = {NULL};
  int rc = c->with_payload ? ((kw_pfn)c->fn)(&tmp, args, kwargs, c->payload)
                           : ((kw_fn)c->fn)(&tmp, args, kwargs);
  if (rc) {
    mlx_vector_array_free(tmp);
    if (mx_error_kind_get() == MX_OK) mx_fail_int(MX_ERUNTIME, "mlx_closure returned a non-zero value");
    return 1;
  }
  mlx_vector_array_free(*res);
  *res = tmp;
  return 0;
}

mlx_closure_kwargs mlx_closure_kwargs_new(void) { return (mlx_closure_kwargs){NULL}; }

int mlx_closure_kwargs_free(mlx_closure_kwargs cls) {
  mx_cls_release(cls.ctx);
  return 0;
}

int mlx_closure_kwargs_set(mlx_closure_kwargs *cls, const mlx_closure_kwargs src) {
  if (!cls) return mx_capi_fail(HERE, MX_EINVAL, "expected a non-null mlx_closure_kwargs pointer");
  if (cls->ctx == src.ctx) return 0;
  mx_cls_retain(src.ctx);
  mx_cls_release(cls->ctx);
  cls->ctx = src.ctx;
  return 0;
}

static mlx_closure_kwargs make(void (*fn)(void), bool with_payload, void *payload, void (*dtor)(void *)) {
  mx_cls *c = mx_cls_new(MX_CLS_KWARGS, fn, with_payload, payload, dtor);
  if (!c) mx_capi_report(HERE);
  return (mlx_closure_kwargs){c};
}

mlx_closure_kwargs mlx_closure_kwargs_new_func(int (*fun)(mlx_vector_array *, const mlx_vector_array,
                                                          const mlx_map_string_to_array)) {
  return make((void (*)(void))fun, false, NULL, NULL);
}

mlx_closure_kwargs mlx_closure_kwargs_new_func_payload(
    int (*fun)(mlx_vector_array *, const mlx_vector_array, const mlx_map_string_to_array, void *),
    void *payload, void (*dtor)(void *)) {
  return make((void (*)(void))fun, true, payload, dtor);
}

int mlx_closure_kwargs_apply(mlx_vector_array *res, mlx_closure_kwargs cls, const mlx_vector_array input_0,
                             const mlx_map_string_to_array input_1) {
  if (!cls.ctx) return mx_capi_fail(HERE, MX_EINVAL, "expected a non-empty mlx_closure_kwargs");
  if (!res) return mx_capi_fail(HERE, MX_EINVAL, "expected a non-null output pointer");
  mx_error_clear();
  return mx_cls_call_kwargs(cls.ctx, res, input_0, input_1) ? mx_capi_report(HERE) : 0;
}
