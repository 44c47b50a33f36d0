/* compile.c: mlx/c/compile.h over src/transforms/compile.c. A compiled closure holds the
 * function's closure and its cache key; mlx_compile's key is the compiled closure itself and
 * its entries are erased when it is freed. */
#include "closure_private.h"

#include <stdlib.h>
#include <string.h>

#include "mlx/c/compile.h"

#define HERE __FILE__, __LINE__

typedef struct compiled_payload {
  mx_cls *fun;
  uintptr_t fun_id;     /* 0: the payload's own address (mlx_compile) */
  bool shapeless;
  bool erase;           /* erase the cache entries when freed */
  int n_constants;
  uint64_t constants[];
} compiled_payload;

static void compiled_free(void *p) {
  compiled_payload *c = p;
  if (c->erase) mx_compile_erase(c->fun_id);
  mx_cls_release(c->fun);
  free(c);
}

static int compiled_apply(mlx_vector_array *res, const mlx_vector_array in, void *payload) {
  compiled_payload *c = payload;
  mx_array *const *nodes;
  int n;
  if (mx_capi_vector_nodes(in, &nodes, &n)) return 1;
  mx_array **outs = calloc(MX_MAX_OUTPUTS, sizeof *outs);
  if (!outs) {
    mx_fail_int(MX_ENOMEM, "[compile] out of memory.");
    return 1;
  }
  mx_compile_key key = {c->fun_id, c->constants, c->n_constants, c->shapeless};
  int n_out = 0;
  int rc = mx_compile_call(&key, mx_cls_core(c->fun), NULL, nodes, n, outs, MX_MAX_OUTPUTS, &n_out, NULL);
  if (rc == 0) {
    mlx_vector_array v = mx_cls_vector(outs, n_out);
    for (int i = 0; i < n_out; i++) mx_array_release(outs[i]);
    if (!v.ctx) rc = -1;
    mlx_vector_array_free(*res);
    *res = v;
  }
  free(outs);
  return rc ? 1 : 0;
}

static int make_compiled(mlx_closure *res, const mlx_closure fun, uintptr_t fun_id, bool own_id,
                         bool shapeless, const uint64_t *constants, size_t n_constants) {
  mx_cls *f = fun.ctx;
  if (!f) return mx_capi_fail(HERE, MX_EINVAL, "expected a non-empty mlx_closure");
  if (!res) return mx_capi_fail(HERE, MX_EINVAL, "expected a non-null output pointer");
  compiled_payload *c = malloc(sizeof *c + n_constants * sizeof(uint64_t));
  if (!c) return mx_capi_fail(HERE, MX_ENOMEM, "[malloc] out of memory.");
  mx_cls_retain(f);
  c->fun = f;
  c->fun_id = own_id ? (uintptr_t)c : fun_id;
  c->shapeless = shapeless;
  c->erase = own_id;
  c->n_constants = (int)n_constants;
  if (n_constants) memcpy(c->constants, constants, n_constants * sizeof(uint64_t));
  mx_cls *box = mx_cls_new(MX_CLS_PLAIN, (void (*)(void))compiled_apply, true, c, compiled_free);
  if (!box) {
    compiled_free(c);
    return mx_capi_report(HERE);
  }
  mx_cls_release(res->ctx);
  res->ctx = box;
  return 0;
}

int mlx_compile(mlx_closure *res, const mlx_closure fun, bool shapeless) {
  return make_compiled(res, fun, 0, true, shapeless, NULL, 0);
}

int mlx_detail_compile(mlx_closure *res, const mlx_closure fun, uintptr_t fun_id, bool shapeless,
                       const uint64_t *constants, size_t constants_num) {
  return make_compiled(res, fun, fun_id, false, shapeless, constants, constants_num);
}

int mlx_detail_compile_clear_cache(void) {
  mx_compile_clear_cache();
  return 0;
}

int mlx_detail_compile_erase(uintptr_t fun_id) {
  mx_compile_erase(fun_id);
  return 0;
}

int mlx_disable_compile(void) {
  mx_compile_set_mode(MX_COMPILE_DISABLED);
  return 0;
}

int mlx_enable_compile(void) {
  mx_compile_set_mode(MX_COMPILE_ENABLED);
  return 0;
}

int mlx_set_compile_mode(mlx_compile_mode mode) {
  if ((int)mode < MLX_COMPILE_MODE_DISABLED || (int)mode > MLX_COMPILE_MODE_ENABLED)
    return mx_capi_fail(HERE, MX_EINVAL, "[compile] Invalid compile mode %d.", (int)mode);
  mx_compile_set_mode((mx_compile_mode)mode);
  return 0;
}
