/* closure.c: the closure handles of mlx/c/closure.h over refcounted boxes
 * (closure_private.h), and the adapter that lets the core call a closure. */
#include "closure_private.h"

#include <stdatomic.h>
#include <stdlib.h>

#define HERE __FILE__, __LINE__

static const char *kind_name(mx_cls_kind k) {
  static const char *names[] = {"mlx_closure", "mlx_closure_value_and_grad", "mlx_closure_custom",
                                "mlx_closure_custom_jvp", "mlx_closure_custom_vmap",
                                "mlx_closure_kwargs"};
  return names[k];
}

mx_cls *mx_cls_new(mx_cls_kind kind, void (*fn)(void), bool with_payload, void *payload,
                   void (*dtor)(void *)) {
  mx_cls *c = calloc(1, sizeof *c);
  if (!c) return mx_fail(MX_ENOMEM, "[malloc] Unable to allocate a closure.");
  atomic_init(&c->refs, 1);
  c->kind = kind;
  c->fn = fn;
  c->with_payload = with_payload;
  c->payload = payload;
  c->dtor = dtor;
  return c;
}

void mx_cls_retain(mx_cls *c) {
  if (c) atomic_fetch_add(&c->refs, 1);
}

void mx_cls_release(mx_cls *c) {
  if (!c || atomic_fetch_sub(&c->refs, 1) != 1) return;
  if (c->dtor) c->dtor(c->payload);
  free(c);
}

/* A failed callback without a core error of its own. */
static int returned_nonzero(void) {
  if (mx_error_kind_get() == MX_OK) mx_fail_int(MX_ERUNTIME, "mlx_closure returned a non-zero value");
  return 1;
}

/* Moves a callee-filled temporary into the caller's handle. */
static void move_va(mlx_vector_array *dst, mlx_vector_array tmp) {
  mlx_vector_array_free(*dst);
  *dst = tmp;
}

typedef int (*plain_fn)(mlx_vector_array *, const mlx_vector_array);
typedef int (*plain_pfn)(mlx_vector_array *, const mlx_vector_array, void *);
typedef int (*vag_fn)(mlx_vector_array *, mlx_vector_array *, const mlx_vector_array);
typedef int (*vag_pfn)(mlx_vector_array *, mlx_vector_array *, const mlx_vector_array, void *);
typedef int (*custom_fn)(mlx_vector_array *, const mlx_vector_array, const mlx_vector_array,
                         const mlx_vector_array);
typedef int (*custom_pfn)(mlx_vector_array *, const mlx_vector_array, const mlx_vector_array,
                          const mlx_vector_array, void *);
typedef int (*jvp_fn)(mlx_vector_array *, const mlx_vector_array, const mlx_vector_array,
                      const int *, size_t);
typedef int (*jvp_pfn)(mlx_vector_array *, const mlx_vector_array, const mlx_vector_array,
                       const int *, size_t, void *);
typedef int (*vmap_fn)(mlx_vector_array *, mlx_vector_int *, const mlx_vector_array, const int *,
                       size_t);
typedef int (*vmap_pfn)(mlx_vector_array *, mlx_vector_int *, const mlx_vector_array, const int *,
                        size_t, void *);

int mx_cls_call(mx_cls *c, mlx_vector_array *res, const mlx_vector_array in) {
  mlx_vector_array tmp = {NULL};
  int rc = c->with_payload ? ((plain_pfn)c->fn)(&tmp, in, c->payload) : ((plain_fn)c->fn)(&tmp, in);
  if (rc) {
    mlx_vector_array_free(tmp);
    return returned_nonzero();
  }
  move_va(res, tmp);
  return 0;
}

int mx_cls_call_vag(mx_cls *c, mlx_vector_array *r0, mlx_vector_array *r1, const mlx_vector_array in) {
  mlx_vector_array t0 = {NULL}, t1 = {NULL};
  int rc = c->with_payload ? ((vag_pfn)c->fn)(&t0, &t1, in, c->payload) : ((vag_fn)c->fn)(&t0, &t1, in);
  if (rc) {
    mlx_vector_array_free(t0);
    mlx_vector_array_free(t1);
    return returned_nonzero();
  }
  move_va(r0, t0);
  move_va(r1, t1);
  return 0;
}

int mx_cls_call_custom(mx_cls *c, mlx_vector_array *res, const mlx_vector_array a,
                       const mlx_vector_array b, const mlx_vector_array d) {
  mlx_vector_array tmp = {NULL};
  int rc = c->with_payload ? ((custom_pfn)c->fn)(&tmp, a, b, d, c->payload)
                           : ((custom_fn)c->fn)(&tmp, a, b, d);
  if (rc) {
    mlx_vector_array_free(tmp);
    return returned_nonzero();
  }
  move_va(res, tmp);
  return 0;
}

int mx_cls_call_jvp(mx_cls *c, mlx_vector_array *res, const mlx_vector_array a,
                    const mlx_vector_array b, const int *argnums, size_t n) {
  mlx_vector_array tmp = {NULL};
  int rc = c->with_payload ? ((jvp_pfn)c->fn)(&tmp, a, b, argnums, n, c->payload)
                           : ((jvp_fn)c->fn)(&tmp, a, b, argnums, n);
  if (rc) {
    mlx_vector_array_free(tmp);
    return returned_nonzero();
  }
  move_va(res, tmp);
  return 0;
}

int mx_cls_call_vmap(mx_cls *c, mlx_vector_array *r0, mlx_vector_int *r1, const mlx_vector_array a,
                     const int *axes, size_t n) {
  mlx_vector_array t0 = {NULL};
  mlx_vector_int t1 = {NULL};
  int rc = c->with_payload ? ((vmap_pfn)c->fn)(&t0, &t1, a, axes, n, c->payload)
                           : ((vmap_fn)c->fn)(&t0, &t1, a, axes, n);
  if (rc) {
    mlx_vector_array_free(t0);
    mlx_vector_int_free(t1);
    return returned_nonzero();
  }
  move_va(r0, t0);
  mlx_vector_int_free(*r1);
  *r1 = t1;
  return 0;
}

mlx_vector_array mx_cls_vector(mx_array *const *nodes, int n) {
  mlx_vector_array v = mlx_vector_array_new();
  mx_capi_vector_array_box *b = v.ctx;
  if (!b) return v;
  b->v = malloc((size_t)(n ? n : 1) * sizeof *b->v);
  if (!b->v) {
    mlx_vector_array_free(v);
    mx_fail(MX_ENOMEM, "[malloc] Unable to allocate a vector.");
    return (mlx_vector_array){NULL};
  }
  b->cap = (size_t)(n ? n : 1);
  for (int i = 0; i < n; i++) {
    mx_array_retain(nodes[i]);
    b->v[b->n++] = nodes[i];
  }
  return v;
}

int mx_cls_take(mlx_vector_array v, mx_array **out, int max, int *n) {
  mx_capi_vector_array_box *b = v.ctx;
  *n = 0;
  if (!b) return mx_fail_int(MX_EINVAL, "[closure] The closure returned an empty vector handle.");
  if ((int)b->n > max) return mx_fail_int(MX_EINVAL, "[closure] The closure returned too many arrays.");
  for (size_t i = 0; i < b->n; i++) {
    mx_array_retain(b->v[i]);
    out[i] = b->v[i];
  }
  *n = (int)b->n;
  return 0;
}

static int core_call(void *payload, mx_array *const *in, int n_in, mx_array **out, int max_out,
                     int *n_out) {
  mx_cls *c = payload;
  *n_out = 0;
  mlx_vector_array vin = mx_cls_vector(in, n_in), vout = {NULL};
  if (!vin.ctx) return -1;
  int rc = mx_cls_call(c, &vout, vin);
  mlx_vector_array_free(vin);
  if (rc == 0) rc = mx_cls_take(vout, out, max_out, n_out);
  mlx_vector_array_free(vout);
  return rc ? -1 : 0;
}

mx_closure mx_cls_core(mx_cls *c) { return (mx_closure){core_call, c}; }

/* ---- the public handles ---- */

static int unary_tramp(mlx_vector_array *res, const mlx_vector_array in, void *payload) {
  int (*f)(mlx_array *, const mlx_array) = *(int (**)(mlx_array *, const mlx_array))payload;
  mlx_array x = mlx_array_new(), y = mlx_array_new();
  if (mlx_vector_array_size(in) != 1) {
    mx_fail_int(MX_EINVAL, "[closure] A unary closure takes one array.");
    return 1;
  }
  int rc = mlx_vector_array_get(&x, in, 0);
  if (rc == 0) rc = f(&y, x);
  if (rc == 0) rc = mlx_vector_array_set_value(res, y);
  mlx_array_free(x);
  mlx_array_free(y);
  return rc;
}

static int apply_report(int rc) { return rc ? mx_capi_report(HERE) : 0; }

#define CLEAR_AND(x) (mx_error_clear(), (x))

static mx_cls *box_of(void *ctx, mx_cls_kind kind) {
  mx_cls *c = ctx;
  if (!c) {
    mx_capi_fail(HERE, MX_EINVAL, "expected a non-empty %s", kind_name(kind));
    return NULL;
  }
  return c;
}

#define CLOSURE_COMMON(T, KIND)                                                          \
  T T##_new(void) { return (T){NULL}; }                                                 \
  int T##_free(T cls) {                                                                 \
    mx_cls_release(cls.ctx);                                                            \
    return 0;                                                                           \
  }                                                                                     \
  int T##_set(T *cls, const T src) {                                                    \
    if (!cls) return mx_capi_fail(HERE, MX_EINVAL, "expected a non-null %s pointer", #T); \
    if (cls->ctx == src.ctx) return 0;                                                  \
    mx_cls_retain(src.ctx);                                                             \
    mx_cls_release(cls->ctx);                                                           \
    cls->ctx = src.ctx;                                                                 \
    return 0;                                                                           \
  }                                                                                     \
  static T T##_make(void (*fn)(void), bool with_payload, void *payload, void (*dtor)(void *)) { \
    mx_cls *c = mx_cls_new(KIND, fn, with_payload, payload, dtor);                      \
    if (!c) mx_capi_report(HERE);                                                       \
    return (T){c};                                                                      \
  }

CLOSURE_COMMON(mlx_closure, MX_CLS_PLAIN)
CLOSURE_COMMON(mlx_closure_value_and_grad, MX_CLS_VAG)
CLOSURE_COMMON(mlx_closure_custom, MX_CLS_CUSTOM)
CLOSURE_COMMON(mlx_closure_custom_jvp, MX_CLS_CUSTOM_JVP)
CLOSURE_COMMON(mlx_closure_custom_vmap, MX_CLS_CUSTOM_VMAP)

#define FN(f) ((void (*)(void))(f))

mlx_closure mlx_closure_new_func(int (*fun)(mlx_vector_array *, const mlx_vector_array)) {
  return mlx_closure_make(FN(fun), false, NULL, NULL);
}

mlx_closure mlx_closure_new_func_payload(int (*fun)(mlx_vector_array *, const mlx_vector_array, void *),
                                         void *payload, void (*dtor)(void *)) {
  return mlx_closure_make(FN(fun), true, payload, dtor);
}

mlx_closure mlx_closure_new_unary(int (*fun)(mlx_array *, const mlx_array)) {
  int (**holder)(mlx_array *, const mlx_array) = malloc(sizeof *holder);
  if (!holder) {
    mx_capi_fail(HERE, MX_ENOMEM, "[malloc] Unable to allocate a closure.");
    return (mlx_closure){NULL};
  }
  *holder = fun;
  return mlx_closure_make(FN(unary_tramp), true, holder, free);
}

int mlx_closure_apply(mlx_vector_array *res, mlx_closure cls, const mlx_vector_array input) {
  mx_cls *c = box_of(cls.ctx, MX_CLS_PLAIN);
  if (!c) return 1;
  if (!res) return mx_capi_fail(HERE, MX_EINVAL, "expected a non-null output pointer");
  return apply_report(CLEAR_AND(mx_cls_call(c, res, input)));
}

mlx_closure_value_and_grad mlx_closure_value_and_grad_new_func(
    int (*fun)(mlx_vector_array *, mlx_vector_array *, const mlx_vector_array)) {
  return mlx_closure_value_and_grad_make(FN(fun), false, NULL, NULL);
}

mlx_closure_value_and_grad mlx_closure_value_and_grad_new_func_payload(
    int (*fun)(mlx_vector_array *, mlx_vector_array *, const mlx_vector_array, void *), void *payload,
    void (*dtor)(void *)) {
  return mlx_closure_value_and_grad_make(FN(fun), true, payload, dtor);
}

int mlx_closure_value_and_grad_apply(mlx_vector_array *res_0, mlx_vector_array *res_1,
                                     mlx_closure_value_and_grad cls, const mlx_vector_array input) {
  mx_cls *c = box_of(cls.ctx, MX_CLS_VAG);
  if (!c) return 1;
  if (!res_0 || !res_1) return mx_capi_fail(HERE, MX_EINVAL, "expected non-null output pointers");
  return apply_report(CLEAR_AND(mx_cls_call_vag(c, res_0, res_1, input)));
}

mlx_closure_custom mlx_closure_custom_new_func(int (*fun)(mlx_vector_array *, const mlx_vector_array,
                                                          const mlx_vector_array,
                                                          const mlx_vector_array)) {
  return mlx_closure_custom_make(FN(fun), false, NULL, NULL);
}

mlx_closure_custom mlx_closure_custom_new_func_payload(
    int (*fun)(mlx_vector_array *, const mlx_vector_array, const mlx_vector_array,
               const mlx_vector_array, void *),
    void *payload, void (*dtor)(void *)) {
  return mlx_closure_custom_make(FN(fun), true, payload, dtor);
}

int mlx_closure_custom_apply(mlx_vector_array *res, mlx_closure_custom cls, const mlx_vector_array input_0,
                             const mlx_vector_array input_1, const mlx_vector_array input_2) {
  mx_cls *c = box_of(cls.ctx, MX_CLS_CUSTOM);
  if (!c) return 1;
  if (!res) return mx_capi_fail(HERE, MX_EINVAL, "expected a non-null output pointer");
  return apply_report(CLEAR_AND(mx_cls_call_custom(c, res, input_0, input_1, input_2)));
}

mlx_closure_custom_jvp mlx_closure_custom_jvp_new_func(int (*fun)(mlx_vector_array *,
                                                                  const mlx_vector_array,
                                                                  const mlx_vector_array,
                                                                  const int *, size_t)) {
  return mlx_closure_custom_jvp_make(FN(fun), false, NULL, NULL);
}

mlx_closure_custom_jvp mlx_closure_custom_jvp_new_func_payload(
    int (*fun)(mlx_vector_array *, const mlx_vector_array, const mlx_vector_array, const int *,
               size_t, void *),
    void *payload, void (*dtor)(void *)) {
  return mlx_closure_custom_jvp_make(FN(fun), true, payload, dtor);
}

int mlx_closure_custom_jvp_apply(mlx_vector_array *res, mlx_closure_custom_jvp cls,
                                 const mlx_vector_array input_0, const mlx_vector_array input_1,
                                 const int *input_2, size_t input_2_num) {
  mx_cls *c = box_of(cls.ctx, MX_CLS_CUSTOM_JVP);
  if (!c) return 1;
  if (!res) return mx_capi_fail(HERE, MX_EINVAL, "expected a non-null output pointer");
  return apply_report(CLEAR_AND(mx_cls_call_jvp(c, res, input_0, input_1, input_2, input_2_num)));
}

mlx_closure_custom_vmap mlx_closure_custom_vmap_new_func(int (*fun)(mlx_vector_array *,
                                                                    mlx_vector_int *,
                                                                    const mlx_vector_array,
                                                                    const int *, size_t)) {
  return mlx_closure_custom_vmap_make(FN(fun), false, NULL, NULL);
}

mlx_closure_custom_vmap mlx_closure_custom_vmap_new_func_payload(
    int (*fun)(mlx_vector_array *, mlx_vector_int *, const mlx_vector_array, const int *, size_t,
               void *),
    void *payload, void (*dtor)(void *)) {
  return mlx_closure_custom_vmap_make(FN(fun), true, payload, dtor);
}

int mlx_closure_custom_vmap_apply(mlx_vector_array *res_0, mlx_vector_int *res_1,
                                  mlx_closure_custom_vmap cls, const mlx_vector_array input_0,
                                  const int *input_1, size_t input_1_num) {
  mx_cls *c = box_of(cls.ctx, MX_CLS_CUSTOM_VMAP);
  if (!c) return 1;
  if (!res_0 || !res_1) return mx_capi_fail(HERE, MX_EINVAL, "expected non-null output pointers");
  return apply_report(CLEAR_AND(mx_cls_call_vmap(c, res_0, res_1, input_0, input_1, input_1_num)));
}
