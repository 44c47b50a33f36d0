/* transforms.h: function transformations over closures (DESIGN section 7). A closure is a
 * C function from arrays to arrays plus a payload; the Python layer wraps Python callables
 * in closures. Results follow the ownership rule of core/array.h (new references). */
#ifndef MX_TRANSFORMS_H
#define MX_TRANSFORMS_H

#include "../core/object.h"
#include "../ops/ops.h"

/* fn(payload, inputs, n_in, outputs, *n_out): fills outputs (new references, at most
 * max_out) and *n_out; returns 0 or -1 with the error set (Python errors are carried by the
 * Python layer itself and signalled as MX_ERUNTIME with an empty message). */
typedef int (*mx_closure_fn)(void *payload, mx_array *const *in, int n_in, mx_array **out,
                             int max_out, int *n_out);

typedef struct mx_closure {
  mx_closure_fn fn;
  void *payload;
} mx_closure;

#define MX_MAX_OUTPUTS 4096

/* Calls fn with scopes suspended (its results are new references); a failure without a
 * core error becomes MX_ERUNTIME with an empty message. */
int mx_trace_call(mx_closure fn, mx_array *const *args, int n, mx_array **outs, int max_out,
                  int *n_out);

/* vjp: outputs = fn(primals); cotangent-weighted gradients wrt every primal.
 * outs (capacity max_out) and grads (n_primals entries; zeros where no path) are filled with
 * new references; *n_out receives the output count. cotangents: one per output. */
int mx_vjp(mx_closure fn, mx_array *const *primals, int n_primals,
           mx_array *const *cotangents, int n_cot, mx_array **outs, int max_out, int *n_out,
           mx_array **grads);
/* jvp: outputs = fn(primals); directional derivatives along tangents (one per primal). */
int mx_jvp(mx_closure fn, mx_array *const *primals, int n_primals,
           mx_array *const *tangents, mx_array **outs, int max_out, int *n_out,
           mx_array **jvps);
/* value_and_grad of a scalar-valued fn wrt the primals listed in argnums: value (outs[0]
 * must be a 0-d array) plus grads (n_argnums). */
int mx_value_and_grad(mx_closure fn, mx_array *const *primals, int n_primals,
                      const int *argnums, int n_argnums, mx_array **outs, int max_out,
                      int *n_out, mx_array **grads);

/* vmap (spec/semantics.md section 11). in_axes[i] / out_axes[k]: the batch axis of input i
 * / output k, -1 = not batched (NULL: all 0). mx_vmap_trace calls fn on placeholders
 * (s_inputs, new references; unbatched inputs pass as themselves) and returns its outputs
 * s_outs; mx_vmap_replace replays that trace on the real inputs (outs: n_out new references).
 * mx_vmap does both. Sizes of the batched axes must agree. */
int mx_vmap_trace(mx_closure fn, mx_array *const *inputs, int n, const int *in_axes,
                  mx_array **s_inputs, mx_array **s_outs, int max_out, int *n_out);
int mx_vmap_replace(mx_array *const *inputs, mx_array *const *s_inputs, int n, const int *in_axes,
                    mx_array *const *s_outs, int n_out, const int *out_axes, mx_array **outs);
int mx_vmap(mx_closure fn, mx_array *const *inputs, int n, const int *in_axes,
            const int *out_axes, mx_array **outs, int max_out, int *n_out);

/* ---- custom_function / checkpoint ---- */
/* Callbacks of a custom function; every array they return is a new reference.
 * vjp: grads[i] for each primal (NULL = zero) from the cotangent of each output.
 * jvp: out_tangents[k] for each output; tangents[i] is NULL where primal i has none.
 * vmap: the outputs batched, with out_axes[k] their batch axis (-1 = not batched); axes[i]
 * is primal i's batch axis or -1. Each returns 0, or -1 with the error set. */
typedef int (*mx_custom_vjp_fn)(void *payload, mx_array *const *primals, int n_primals,
                                mx_array *const *cotangents, mx_array *const *outputs,
                                int n_outputs, mx_array **grads);
typedef int (*mx_custom_jvp_fn)(void *payload, mx_array *const *primals, int n_primals,
                                mx_array *const *tangents, mx_array **out_tangents, int n_outputs);
typedef int (*mx_custom_vmap_fn)(void *payload, mx_array *const *inputs, const int *axes, int n,
                                 mx_array **outs, int *out_axes, int max_out, int *n_out);

/* What a CustomTransforms op holds (its "fns" parameter). The creator allocates it, embeds
 * base first with its own destroy (which frees fun's payload and payload), and hands its
 * reference to mx_custom_function's op or releases it. NULL callbacks fall back to
 * transforming fun itself; checkpoint recomputes fun in the backward pass. */
typedef struct mx_custom {
  mx_object base;
  mx_closure fun;
  mx_custom_vjp_fn vjp;
  mx_custom_jvp_fn jvp;
  mx_custom_vmap_fn vmap;
  void *payload;
  bool checkpoint;
} mx_custom;

/* Runs fns->fun on in and returns its outputs (new references in outs, *n_out of them) as
 * outputs of a CustomTransforms op, so that transformations use fns' rules. */
int mx_custom_function(mx_custom *fns, mx_array *const *in, int n, mx_array **outs, int max_out,
                       int *n_out);

/* ---- compile (DESIGN section 6, spec/semantics.md section 10) ---- */
typedef enum mx_compile_mode {
  MX_COMPILE_DISABLED = 0,
  MX_COMPILE_NO_SIMPLIFY,   /* no common-subexpression merging */
  MX_COMPILE_NO_FUSE,       /* no element-wise fusion */
  MX_COMPILE_ENABLED,
} mx_compile_mode;
/* The mode set by the last call (overrides the environment), else DISABLED when
 * MLX_DISABLE_COMPILE is set, else ENABLED. */
mx_compile_mode mx_compile_get_mode(void);
void mx_compile_set_mode(mx_compile_mode m);

/* What the caller identifies a function and its non-array arguments by. */
typedef struct mx_compile_key {
  uintptr_t fun_id;
  const uint64_t *constants;
  int n_constants;
  bool shapeless;
} mx_compile_key;

/* Replays the cached trace of fn for key, the inputs' dtypes, ndims (and shapes unless
 * shapeless) and the default stream, tracing fn on placeholders first when there is none.
 * While tracing, fn may store an object in *trace_user: the cache entry takes it and every
 * call returns it (retained) in *user_out (may be NULL). With compile disabled fn is just
 * called. Results follow transforms.h's rules. */
int mx_compile_call(const mx_compile_key *key, mx_closure fn, mx_object **trace_user,
                    mx_array *const *inputs, int n, mx_array **outs, int max_out, int *n_out,
                    mx_object **user_out);
/* Drops the cache entries of a function (the Python layer does it when the compiled
 * callable dies), or all of them. */
void mx_compile_erase(uintptr_t fun_id);
void mx_compile_clear_cache(void);
/* The cache holds at most this many traces (least recently used evicted); default 1024. */
void mx_compile_set_cache_limit(size_t entries);
size_t mx_compile_cache_size(void);

/* ---- export (.mlxfn, export.c) ---- */
typedef struct mx_exported mx_exported;
/* An empty set of traces with a metadata string (may be NULL). */
mx_exported *mx_exported_new(const char *metadata);
void mx_exported_free(mx_exported *e);
const char *mx_exported_metadata(const mx_exported *e);
/* Traces fn on placeholders shaped as inputs: n_args positional arrays followed by n_kw
 * keyword arrays named kw_names (sorted). Custom functions with custom rules cannot be
 * exported (as in MLX). */
int mx_exported_add(mx_exported *e, mx_closure fn, mx_array *const *inputs, int n_args,
                    const char *const *kw_names, int n_kw, bool shapeless);
int mx_exported_save(const mx_exported *e, const char *path);
/* The number of traces, and trace i's tape (tape.h) with its input split. */
int mx_exported_count(const mx_exported *e);
struct mx_tape;
const struct mx_tape *mx_exported_trace(const mx_exported *e, int i, int *n_args, int *n_kw,
                                        const char *const **kw_names);
mx_exported *mx_exported_load(const char *path);
/* Replays the first trace matching the inputs (as for _add) on the default stream. */
int mx_exported_call(const mx_exported *e, mx_array *const *inputs, int n_args,
                     const char *const *kw_names, int n_kw, mx_array **outs, int max_out, int *n_out);
/* mlx-c's matching: the first trace with n inputs in all whose dtypes and shapes match,
 * however they were split into positional and keyword inputs. */
int mx_exported_call_flat(const mx_exported *e, mx_array *const *inputs, int n, mx_array **outs,
                          int max_out, int *n_out);

#endif
