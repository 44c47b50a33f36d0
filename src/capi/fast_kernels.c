/* fast_kernels.c: mlx-c's custom Metal and CUDA kernels (include/mlx/c/fast_kernels.h).
 * A kernel keeps copies of its name, sources, argument names and flags; a configuration
 * keeps its output shapes and dtypes, grid, thread group, initial value and template
 * arguments. Both families share one implementation; a Metal kernel reports that its
 * back-end is missing, a CUDA kernel runs through mx_fast_cuda_kernel (src/ops). */
#include <stdlib.h>
#include <string.h>

#include "capi_private.h"
#include "mlx/c/fast_kernels.h"

#define HERE __FILE__, __LINE__

typedef struct kcfg_output {
  int *shape;
  size_t ndim;
  mlx_dtype dtype;
} kcfg_output;

typedef struct kcfg_template {
  char *name;
  int kind; /* 0 dtype, 1 int, 2 bool */
  int value;
} kcfg_template;

typedef struct kcfg {
  kcfg_output *outputs;
  size_t n_outputs;
  kcfg_template *templates;
  size_t n_templates;
  int grid[3], group[3];
  float init_value;
  bool has_init, verbose;
} kcfg;

typedef struct kobj {
  char *name, *source, *header;
  char **names;             /* the n_inputs input names, then the n_outputs output names */
  size_t n_inputs, n_outputs;
  bool row_contiguous, atomic_outputs;
  int shared_memory;
} kobj;

static char *kdup(const char *s) {
  if (!s) s = "";
  size_t n = strlen(s) + 1;
  char *d = malloc(n);
  if (d) memcpy(d, s, n);
  return d;
}

static kcfg *kcfg_new(void) { return calloc(1, sizeof(kcfg)); }

static void kcfg_free(kcfg *c) {
  if (!c) return;
  for (size_t i = 0; i < c->n_outputs; i++) free(c->outputs[i].shape);
  for (size_t i = 0; i < c->n_templates; i++) free(c->templates[i].name);
  free(c->outputs);
  free(c->templates);
  free(c);
}

static kcfg *kcfg_get(void *ctx, const char *what) {
  if (!ctx) mx_capi_fail(HERE, MX_EINVAL, "expected a non-empty %s", what);
  return ctx;
}

static int kcfg_add_output(kcfg *c, const int *shape, size_t ndim, mlx_dtype dtype) {
  if (ndim && !shape) return mx_capi_fail(HERE, MX_EINVAL, "expected a non-null shape");
  kcfg_output *o = realloc(c->outputs, (c->n_outputs + 1) * sizeof(kcfg_output));
  if (!o) return mx_capi_fail(HERE, MX_ENOMEM, "[malloc] Unable to allocate output arguments.");
  c->outputs = o;
  int *sh = malloc((ndim ? ndim : 1) * sizeof(int));
  if (!sh) return mx_capi_fail(HERE, MX_ENOMEM, "[malloc] Unable to allocate a shape.");
  if (ndim) memcpy(sh, shape, ndim * sizeof(int));
  o[c->n_outputs++] = (kcfg_output){sh, ndim, dtype};
  return 0;
}

static int kcfg_add_template(kcfg *c, const char *name, int kind, int value) {
  kcfg_template *t = realloc(c->templates, (c->n_templates + 1) * sizeof(kcfg_template));
  if (!t) return mx_capi_fail(HERE, MX_ENOMEM, "[malloc] Unable to allocate template arguments.");
  c->templates = t;
  char *n = kdup(name);
  if (!n) return mx_capi_fail(HERE, MX_ENOMEM, "[malloc] Unable to allocate a name.");
  t[c->n_templates++] = (kcfg_template){n, kind, value};
  return 0;
}

static void kobj_free(kobj *k) {
  if (!k) return;
  for (size_t i = 0; k->names && i < k->n_inputs + k->n_outputs; i++) free(k->names[i]);
  free(k->names);
  free(k->name);
  free(k->source);
  free(k->header);
  free(k);
}

static kobj *kobj_new(const char *name, mlx_vector_string in, mlx_vector_string out,
                      const char *source, const char *header) {
  kobj *k = calloc(1, sizeof(kobj));
  if (!k) return NULL;
  k->name = kdup(name);
  k->source = kdup(source);
  k->header = kdup(header);
  k->n_inputs = in.ctx ? mlx_vector_string_size(in) : 0;
  k->n_outputs = out.ctx ? mlx_vector_string_size(out) : 0;
  k->names = calloc(k->n_inputs + k->n_outputs + 1, sizeof(char *));
  if (!k->name || !k->source || !k->header || !k->names) {
    kobj_free(k);
    return NULL;
  }
  for (size_t i = 0; i < k->n_inputs + k->n_outputs; i++) {
    char *nm = NULL;
    if (i < k->n_inputs)
      mlx_vector_string_get(&nm, in, i);
    else
      mlx_vector_string_get(&nm, out, i - k->n_inputs);
    if (!(k->names[i] = kdup(nm))) {
      kobj_free(k);
      return NULL;
    }
  }
  return k;
}

static int kobj_apply(const char *fn, void *kernel, void *config, mlx_vector_array *outputs,
                      const char *missing) {
  if (!outputs) return mx_capi_fail(HERE, MX_EINVAL, "expected a non-null mlx_vector_array pointer");
  if (!kernel) return mx_capi_fail(HERE, MX_EINVAL, "expected a non-empty %s", fn);
  if (!config) return mx_capi_fail(HERE, MX_EINVAL, "expected a non-empty %s_config", fn);
  return mx_capi_fail(HERE, MX_ERUNTIME, "%s", missing);
}

/* ---- the two families over the shared implementation ---- */

#define KERNEL_FAMILY(pre)                                                                     \
  pre##_config pre##_config_new(void) {                                                       \
    pre##_config c = {kcfg_new()};                                                            \
    return c;                                                                                 \
  }                                                                                           \
  void pre##_config_free(pre##_config cls) { kcfg_free(cls.ctx); }                            \
  int pre##_config_add_output_arg(pre##_config cls, const int *shape, size_t size,            \
                                  mlx_dtype dtype) {                                          \
    kcfg *c = kcfg_get(cls.ctx, #pre "_config");                                              \
    return c ? kcfg_add_output(c, shape, size, dtype) : 1;                                    \
  }                                                                                           \
  int pre##_config_set_grid(pre##_config cls, int g1, int g2, int g3) {                       \
    kcfg *c = kcfg_get(cls.ctx, #pre "_config");                                              \
    if (!c) return 1;                                                                         \
    c->grid[0] = g1, c->grid[1] = g2, c->grid[2] = g3;                                        \
    return 0;                                                                                 \
  }                                                                                           \
  int pre##_config_set_thread_group(pre##_config cls, int t1, int t2, int t3) {               \
    kcfg *c = kcfg_get(cls.ctx, #pre "_config");                                              \
    if (!c) return 1;                                                                         \
    c->group[0] = t1, c->group[1] = t2, c->group[2] = t3;                                     \
    return 0;                                                                                 \
  }                                                                                           \
  int pre##_config_set_init_value(pre##_config cls, float value) {                            \
    kcfg *c = kcfg_get(cls.ctx, #pre "_config");                                              \
    if (!c) return 1;                                                                         \
    c->init_value = value, c->has_init = true;                                                \
    return 0;                                                                                 \
  }                                                                                           \
  int pre##_config_set_verbose(pre##_config cls, bool verbose) {                              \
    kcfg *c = kcfg_get(cls.ctx, #pre "_config");                                              \
    if (!c) return 1;                                                                         \
    c->verbose = verbose;                                                                     \
    return 0;                                                                                 \
  }                                                                                           \
  int pre##_config_add_template_arg_dtype(pre##_config cls, const char *name,                 \
                                          mlx_dtype dtype) {                                  \
    kcfg *c = kcfg_get(cls.ctx, #pre "_config");                                              \
    return c ? kcfg_add_template(c, name, 0, (int)dtype) : 1;                                 \
  }                                                                                           \
  int pre##_config_add_template_arg_int(pre##_config cls, const char *name, int value) {      \
    kcfg *c = kcfg_get(cls.ctx, #pre "_config");                                              \
    return c ? kcfg_add_template(c, name, 1, value) : 1;                                      \
  }                                                                                           \
  int pre##_config_add_template_arg_bool(pre##_config cls, const char *name, bool value) {    \
    kcfg *c = kcfg_get(cls.ctx, #pre "_config");                                              \
    return c ? kcfg_add_template(c, name, 2, value) : 1;                                      \
  }                                                                                           \
  void pre##_free(pre cls) { kobj_free(cls.ctx); }

KERNEL_FAMILY(mlx_fast_metal_kernel)
KERNEL_FAMILY(mlx_fast_cuda_kernel)

mlx_fast_metal_kernel mlx_fast_metal_kernel_new(const char *name,
                                                const mlx_vector_string input_names,
                                                const mlx_vector_string output_names,
                                                const char *source, const char *header,
                                                bool ensure_row_contiguous, bool atomic_outputs) {
  kobj *k = kobj_new(name, input_names, output_names, source, header);
  if (k) {
    k->row_contiguous = ensure_row_contiguous;
    k->atomic_outputs = atomic_outputs;
  }
  mlx_fast_metal_kernel r = {k};
  return r;
}

int mlx_fast_metal_kernel_apply(mlx_vector_array *outputs, mlx_fast_metal_kernel cls,
                                const mlx_vector_array inputs,
                                const mlx_fast_metal_kernel_config config,
                                const mlx_stream stream) {
  (void)inputs;
  (void)stream;
  return kobj_apply("mlx_fast_metal_kernel", cls.ctx, config.ctx, outputs,
                    "[metal_kernel] No Metal back-end.");
}

mlx_fast_cuda_kernel mlx_fast_cuda_kernel_new(const char *name,
                                              const mlx_vector_string input_names,
                                              const mlx_vector_string output_names,
                                              const char *source, const char *header,
                                              bool ensure_row_contiguous, int shared_memory) {
  kobj *k = kobj_new(name, input_names, output_names, source, header);
  if (k) {
    k->row_contiguous = ensure_row_contiguous;
    k->shared_memory = shared_memory;
  }
  mlx_fast_cuda_kernel r = {k};
  return r;
}

#ifdef MLX_HAS_CUDA
/* Runs a CUDA kernel with a configuration (the Python kernel call's C twin). */
static int cuda_apply(mlx_vector_array *outputs, const kobj *k, const kcfg *c,
                      const mlx_vector_array inputs, const mlx_stream stream) {
  mx_array *const *in;
  int n_in;
  mx_stream s;
  if (mx_capi_vector_nodes(inputs, &in, &n_in) < 0 || mx_capi_stream(stream, &s) < 0) return 1;
  int n_out = (int)c->n_outputs;
  const int32_t **shapes = calloc((size_t)n_out + 1, sizeof *shapes);
  int *ndims = calloc((size_t)n_out + 1, sizeof *ndims);
  mx_dtype *dtypes = calloc((size_t)n_out + 1, sizeof *dtypes);
  mx_ck_template *t = calloc(c->n_templates + 1, sizeof *t);
  mx_array **outs = calloc((size_t)n_out + 1, sizeof *outs);
  int rc = 1;
  if (!shapes || !ndims || !dtypes || !t || !outs) {
    rc = mx_capi_fail(HERE, MX_ENOMEM, "[cuda_kernel] Out of memory.");
    goto done;
  }
  for (int o = 0; o < n_out; o++) {
    shapes[o] = c->outputs[o].shape;
    ndims[o] = (int)c->outputs[o].ndim;
    dtypes[o] = (mx_dtype)c->outputs[o].dtype;
  }
  for (size_t i = 0; i < c->n_templates; i++)
    t[i] = (mx_ck_template){c->templates[i].name, (mx_ck_template_kind)c->templates[i].kind,
                            c->templates[i].value};
  mx_ck_def d = {k->name, k->source, k->header, (const char *const *)k->names,
                 (int)k->n_inputs, (const char *const *)(k->names + k->n_inputs),
                 (int)k->n_outputs, k->row_contiguous, k->shared_memory};
  mx_ck_launch l = {shapes, ndims, dtypes, n_out, {c->grid[0], c->grid[1], c->grid[2]},
                    {c->group[0], c->group[1], c->group[2]}, t, (int)c->n_templates,
                    c->has_init, c->init_value, c->verbose};
  if (mx_fast_cuda_kernel(&d, in, n_in, &l, s, outs) < 0)
    rc = mx_capi_report(HERE);
  else
    rc = mx_capi_set_vector_at(outputs, outs, n_out, HERE);
done:
  free(shapes);
  free(ndims);
  free(dtypes);
  free(t);
  free(outs);
  return rc;
}
#endif

int mlx_fast_cuda_kernel_apply(mlx_vector_array *outputs, mlx_fast_cuda_kernel cls,
                               const mlx_vector_array inputs,
                               const mlx_fast_cuda_kernel_config config,
                               const mlx_stream stream) {
#ifdef MLX_HAS_CUDA
  if (!outputs) return mx_capi_fail(HERE, MX_EINVAL, "expected a non-null mlx_vector_array pointer");
  if (!cls.ctx) return mx_capi_fail(HERE, MX_EINVAL, "expected a non-empty mlx_fast_cuda_kernel");
  if (!config.ctx)
    return mx_capi_fail(HERE, MX_EINVAL, "expected a non-empty mlx_fast_cuda_kernel_config");
  return cuda_apply(outputs, cls.ctx, config.ctx, inputs, stream);
#else
  (void)inputs;
  (void)stream;
  return kobj_apply("mlx_fast_cuda_kernel", cls.ctx, config.ctx, outputs,
                    "[cuda_kernel] No CUDA back-end.");
#endif
}
