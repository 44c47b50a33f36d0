/* fast_kernel.c: mx.fast.cuda_kernel and precompiled_cuda_kernel at the op layer. A JIT
 * kernel's source is generated per call from the input dtypes and template arguments, laid
 * out as MLX's CUDA back-end lays it out (prelude, header, a __global__ function in
 * mlx::core::cu whose parameters are each input pointer with the shape/strides/ndim the body
 * mentions, then the outputs), and applied as a CustomKernel primitive on a GPU stream. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/strbuf.h"
#include "custom_kernel.h"
#include "ops.h"

/* What every generated kernel sees before the user's header: fixed-width integers, half
 * types, cooperative groups, the Shape/Strides arguments and elem_to_loc. */
static const char ck_prelude[] =
    "#include <cuda/std/cstdint>\n"
    "#include <cuda_fp16.h>\n"
    "#include <cuda_bf16.h>\n"
    "#include <cooperative_groups.h>\n"
    "\n"
    "typedef float2 complex64_t;\n"
    "\n"
    "#define MAX_NDIM 10\n"
    "#define inf __int_as_float(0x7f800000)\n"
    "\n"
    "template <typename T, int N>\n"
    "struct mx_dims {\n"
    "  T v[N];\n"
    "  __host__ __device__ T &operator[](int i) { return v[i]; }\n"
    "  __host__ __device__ const T &operator[](int i) const { return v[i]; }\n"
    "  __host__ __device__ T *data() { return v; }\n"
    "  __host__ __device__ const T *data() const { return v; }\n"
    "  __host__ __device__ static constexpr int size() { return N; }\n"
    "};\n"
    "typedef mx_dims<int32_t, MAX_NDIM> Shape;\n"
    "typedef mx_dims<int64_t, MAX_NDIM> Strides;\n"
    "\n"
    "/* Offset of the elem-th element (row-major order) of an array with these dims. */\n"
    "template <typename IdxT>\n"
    "__device__ __forceinline__ IdxT elem_to_loc(IdxT elem, const int32_t *shape,\n"
    "                                            const int64_t *strides, int ndim) {\n"
    "  IdxT loc = 0;\n"
    "  for (int i = ndim - 1; i >= 0 && elem > 0; --i) {\n"
    "    loc += IdxT(elem % IdxT(shape[i])) * IdxT(strides[i]);\n"
    "    elem /= IdxT(shape[i]);\n"
    "  }\n"
    "  return loc;\n"
    "}\n"
    "\n";

const char *mx_ck_type_name(mx_dtype t) {
  static const char *const names[MX_DTYPE_COUNT] = {
      [MX_BOOL] = "bool",       [MX_UINT8] = "uint8_t",     [MX_UINT16] = "uint16_t",
      [MX_UINT32] = "uint32_t", [MX_UINT64] = "uint64_t",   [MX_INT8] = "int8_t",
      [MX_INT16] = "int16_t",   [MX_INT32] = "int32_t",     [MX_INT64] = "int64_t",
      [MX_FLOAT16] = "__half",  [MX_FLOAT32] = "float",     [MX_FLOAT64] = "double",
      [MX_BFLOAT16] = "__nv_bfloat16", [MX_COMPLEX64] = "complex64_t"};
  return (unsigned)t < MX_DTYPE_COUNT ? names[t] : "void";
}

/* ---- the primitive's parameter object ---- */

static void ck_destroy(mx_object *o) {
  mx_custom_kernel *k = (mx_custom_kernel *)o;
  free(k->entry);
  free(k->source);
  free(k->layout_args);
  free(k->init_bits);
  free(k->scalars);
  free(k);
}

static mx_custom_kernel *ck_new(int n_in, int n_out, int n_scalars) {
  mx_custom_kernel *k = calloc(1, sizeof *k);
  if (!k) return NULL;
  mx_object_init(&k->base, ck_destroy);
  k->n_in = n_in;
  k->n_out = n_out;
  k->n_scalars = n_scalars;
  k->layout_args = calloc((size_t)(n_in > 0 ? n_in : 1), 1);
  k->init_bits = calloc((size_t)(n_out > 0 ? n_out : 1), 16);
  k->scalars = calloc((size_t)(n_scalars > 0 ? n_scalars : 1), sizeof(mx_ck_scalar));
  if (!k->layout_args || !k->init_bits || !k->scalars) {
    ck_destroy(&k->base);
    return NULL;
  }
  return k;
}

/* ---- checks shared by both kernels ---- */

static int ck_check_call(const char *op, mx_array *const *inputs, int n_inputs,
                         const mx_ck_launch *l, mx_stream s) {
  for (int i = 0; i < n_inputs; i++)
    if (!inputs[i]) return -1;
  if (s.device.type != MX_GPU)
    return mx_fail_int(MX_EINVAL, "[%s] Only supports the GPU.", op);
  if (l->n_out < 1) return mx_fail_int(MX_EINVAL, "[%s] Must specify at least one output.", op);
  for (int i = 0; i < 3; i++) {
    if (l->grid[i] < 1 || l->group[i] < 1)
      return mx_fail_int(MX_EINVAL, "[%s] grid (%d, %d, %d) and threadgroup (%d, %d, %d) must be "
                         "positive.", op, l->grid[0], l->grid[1], l->grid[2], l->group[0],
                         l->group[1], l->group[2]);
  }
  if ((int64_t)l->group[0] * l->group[1] * l->group[2] > 1024)
    return mx_fail_int(MX_EINVAL, "[%s] A threadgroup of (%d, %d, %d) exceeds 1024 threads.", op,
                       l->group[0], l->group[1], l->group[2]);
  for (int o = 0; o < l->n_out; o++) {
    if ((unsigned)l->out_dtypes[o] >= MX_DTYPE_COUNT)
      return mx_fail_int(MX_ETYPE, "[%s] Output %d has no valid dtype.", op, o);
    if (l->out_ndims[o] < 0 || (l->out_ndims[o] > 0 && !l->out_shapes[o]))
      return mx_fail_int(MX_EINVAL, "[%s] Output %d has no valid shape.", op, o);
    for (int d = 0; d < l->out_ndims[o]; d++)
      if (l->out_shapes[o][d] < 0)
        return mx_fail_int(MX_EINVAL, "[%s] Output %d has a negative dimension %d.", op, o,
                           l->out_shapes[o][d]);
  }
  return 0;
}

/* Fills the launch fields of k shared by both kernels. */
static void ck_set_launch(mx_custom_kernel *k, const mx_ck_launch *l, int shared_memory,
                          bool row_contiguous) {
  for (int i = 0; i < 3; i++) k->grid[i] = l->grid[i], k->group[i] = l->group[i];
  k->shared_memory = shared_memory;
  k->ensure_row_contiguous = row_contiguous;
  k->has_init = l->has_init;
  if (l->has_init)
    for (int o = 0; o < l->n_out; o++)
      mx_dtype_store_f64(k->init_bits + 16 * o, l->out_dtypes[o], (double)l->init_value);
}

/* Makes the CustomKernel op over inputs with k (whose reference it consumes). */
static int ck_apply(mx_custom_kernel *k, mx_array *const *inputs, int n_inputs,
                    const mx_ck_launch *l, mx_stream s, mx_array **out) {
  mx_out_spec *specs = calloc((size_t)l->n_out, sizeof *specs);
  int rc = -1;
  if (!specs) {
    mx_object_release(&k->base);
    return mx_fail_int(MX_ENOMEM, "[cuda_kernel] Out of memory.");
  }
  for (int o = 0; o < l->n_out; o++)
    specs[o] = (mx_out_spec){l->out_dtypes[o], l->out_ndims[o], l->out_shapes[o]};
  mx_p_custom_kernel p = {&k->base};
  rc = mx_op_make(MX_PRIM_CUSTOM_KERNEL, &p, s, n_inputs, inputs, l->n_out, specs, out);
  mx_object_release(&k->base);
  free(specs);
  return rc;
}

/* ---- JIT kernels ---- */

static void ck_template_suffix(mx_strbuf *s, const mx_ck_template *t, int n) {
  for (int i = 0; i < n; i++) {
    if (t[i].kind == MX_CK_TEMPLATE_INT)
      mx_strbuf_add(s, "_%d", t[i].value);
    else if (t[i].kind == MX_CK_TEMPLATE_BOOL)
      mx_strbuf_add(s, t[i].value ? "_t" : "_f");
    else
      mx_strbuf_add(s, "_%s", mx_dtype_name((mx_dtype)t[i].value));
  }
}

static char *ck_source(const mx_ck_def *d, const char *fn, const mx_dtype *in_dtypes,
                       const uint8_t *layout, const mx_ck_launch *l) {
  mx_strbuf s = {0};
  mx_strbuf_add(&s, "%s%s\nnamespace mlx::core::cu {\n\nnamespace cg = cooperative_groups;\n\n"
             "__global__ void %s(\n", ck_prelude, d->header ? d->header : "", fn);
  for (int i = 0; i < d->n_inputs; i++) {
    const char *nm = d->input_names[i];
    mx_strbuf_add(&s, "    const %s* %s", mx_ck_type_name(in_dtypes[i]), nm);
    if (layout[i] & MX_CK_SHAPE)
      mx_strbuf_add(&s, ",\n    const __grid_constant__ Shape %s_shape", nm);
    if (layout[i] & MX_CK_STRIDES)
      mx_strbuf_add(&s, ",\n    const __grid_constant__ Strides %s_strides", nm);
    if (layout[i] & MX_CK_NDIM) mx_strbuf_add(&s, ",\n    const __grid_constant__ int %s_ndim", nm);
    mx_strbuf_add(&s, ",\n");
  }
  for (int o = 0; o < d->n_outputs; o++)
    mx_strbuf_add(&s, "    %s* %s%s", mx_ck_type_name(l->out_dtypes[o]), d->output_names[o],
           o + 1 < d->n_outputs ? ",\n" : ") {\n");
  for (int i = 0; i < l->n_templates; i++) {
    const mx_ck_template *t = &l->templates[i];
    if (t->kind == MX_CK_TEMPLATE_INT)
      mx_strbuf_add(&s, "  constexpr int %s = %d;\n", t->name, t->value);
    else if (t->kind == MX_CK_TEMPLATE_BOOL)
      mx_strbuf_add(&s, "  constexpr bool %s = %s;\n", t->name, t->value ? "true" : "false");
    else
      mx_strbuf_add(&s, "  using %s = %s;\n", t->name, mx_ck_type_name((mx_dtype)t->value));
  }
  mx_strbuf_add(&s, "%s%s\n}\n\n} // namespace mlx::core::cu\n", l->n_templates ? "\n" : "",
                d->source);
  if (s.oom) {
    free(s.p);
    return mx_fail(MX_ENOMEM, "[cuda_kernel] Out of memory generating the kernel source.");
  }
  return s.p;
}

/* Which layout arguments input i gets: those its name's _shape/_strides/_ndim the body
 * mentions, none for a 0-d input. */
static uint8_t ck_layout(const mx_ck_def *d, int i, int ndim) {
  char probe[256];
  const char *nm = d->input_names[i];
  uint8_t f = 0;
  if (ndim == 0) return 0;
  snprintf(probe, sizeof probe, "%s_shape", nm);
  if (strstr(d->source, probe)) f |= MX_CK_SHAPE;
  snprintf(probe, sizeof probe, "%s_strides", nm);
  if (strstr(d->source, probe)) f |= MX_CK_STRIDES;
  snprintf(probe, sizeof probe, "%s_ndim", nm);
  if (strstr(d->source, probe)) f |= MX_CK_NDIM;
  return f;
}

char *mx_fast_cuda_kernel_source(const mx_ck_def *d, const mx_dtype *in_dtypes,
                                 const int *in_ndims, const mx_ck_launch *l, char **entry,
                                 uint8_t *layout) {
  *entry = NULL;
  for (int i = 0; i < l->n_templates; i++)
    if (!l->templates[i].name || !l->templates[i].name[0] ||
        (unsigned)l->templates[i].kind > MX_CK_TEMPLATE_BOOL ||
        (l->templates[i].kind == MX_CK_TEMPLATE_DTYPE &&
         (unsigned)l->templates[i].value >= MX_DTYPE_COUNT))
      return mx_fail(MX_EINVAL, "[cuda_kernel] Template argument %d is not a named dtype, int "
                     "or bool.", i);
  for (int i = 0; i < d->n_inputs; i++) layout[i] = ck_layout(d, i, in_ndims[i]);
  mx_strbuf fn = {0}, e = {0};
  mx_strbuf_add(&fn, "custom_kernel_%s", d->name);
  ck_template_suffix(&fn, l->templates, l->n_templates);
  mx_strbuf_add(&e, "mlx::core::cu::%s", fn.p ? fn.p : "");
  char *src = fn.oom || e.oom ? NULL : ck_source(d, fn.p, in_dtypes, layout, l);
  if (src && l->verbose) {
    printf("Generated source code for `%s`:\n```\n%s\n```\n", fn.p, src);
    fflush(stdout);
  }
  free(fn.p);
  if (!src) {
    free(e.p);
    return fn.oom || e.oom ? mx_fail(MX_ENOMEM, "[cuda_kernel] Out of memory.") : NULL;
  }
  *entry = e.p;
  return src;
}

int mx_fast_cuda_kernel(const mx_ck_def *d, mx_array *const *inputs, int n_inputs,
                        const mx_ck_launch *l, mx_stream s, mx_array **out) {
  for (int o = 0; o < l->n_out; o++) out[o] = NULL;
  if (d->n_outputs < 1)
    return mx_fail_int(MX_EINVAL, "[cuda_kernel] Must specify at least one output.");
  if (n_inputs != d->n_inputs)
    return mx_fail_int(MX_EINVAL, "[cuda_kernel] Expected `inputs` to have size %d but got size "
                       "%d.", d->n_inputs, n_inputs);
  if (l->n_out != d->n_outputs)
    return mx_fail_int(MX_EINVAL, "[cuda_kernel] Expected `output_shapes` and `output_dtypes` to "
                       "have size %d but got size %d.", d->n_outputs, l->n_out);
  if (ck_check_call("cuda_kernel", inputs, n_inputs, l, s) < 0) return -1;
  mx_custom_kernel *k = ck_new(n_inputs, l->n_out, 0);
  mx_dtype *dt = calloc((size_t)n_inputs + 1, sizeof *dt);
  int *nd = calloc((size_t)n_inputs + 1, sizeof *nd);
  if (!k || !dt || !nd) {
    if (k) mx_object_release(&k->base);
    free(dt);
    free(nd);
    return mx_fail_int(MX_ENOMEM, "[cuda_kernel] Out of memory.");
  }
  for (int i = 0; i < n_inputs; i++) dt[i] = inputs[i]->dtype, nd[i] = inputs[i]->ndim;
  k->source = mx_fast_cuda_kernel_source(d, dt, nd, l, &k->entry, k->layout_args);
  free(dt);
  free(nd);
  if (!k->source) {
    mx_object_release(&k->base);
    return -1;
  }
  k->source_len = strlen(k->source);
  ck_set_launch(k, l, d->shared_memory, d->ensure_row_contiguous);
  return ck_apply(k, inputs, n_inputs, l, s, out);
}

/* ---- precompiled kernels ---- */

int mx_fast_precompiled_cuda_kernel(const char *name, const void *compiled, size_t compiled_len,
                                    mx_array *const *inputs, int n_inputs,
                                    const mx_ck_launch *l, const mx_ck_scalar *scalars,
                                    int n_scalars, int shared_memory,
                                    bool ensure_row_contiguous, mx_stream s, mx_array **out) {
  for (int o = 0; o < l->n_out; o++) out[o] = NULL;
  if (!name || !name[0])
    return mx_fail_int(MX_EINVAL, "[precompiled_cuda_kernel] Expected a kernel name.");
  if (!compiled || compiled_len == 0)
    return mx_fail_int(MX_EINVAL, "[precompiled_cuda_kernel] compiled_source is empty.");
  if (ck_check_call("precompiled_cuda_kernel", inputs, n_inputs, l, s) < 0) return -1;
  mx_custom_kernel *k = ck_new(n_inputs, l->n_out, n_scalars);
  if (!k) return mx_fail_int(MX_ENOMEM, "[precompiled_cuda_kernel] Out of memory.");
  k->precompiled = true;
  k->entry = malloc(strlen(name) + 1);
  /* one spare zero byte: PTX text must be NUL-terminated for the loader */
  k->source = malloc(compiled_len + 1);
  if (!k->entry || !k->source) {
    mx_object_release(&k->base);
    return mx_fail_int(MX_ENOMEM, "[precompiled_cuda_kernel] Out of memory.");
  }
  strcpy(k->entry, name);
  memcpy(k->source, compiled, compiled_len);
  k->source[compiled_len] = 0;
  k->source_len = compiled_len;
  for (int i = 0; i < n_scalars; i++) k->scalars[i] = scalars[i];
  ck_set_launch(k, l, shared_memory, ensure_row_contiguous);
  return ck_apply(k, inputs, n_inputs, l, s, out);
}
