/* test_cuda_jit.c: the sources mx.fast.cuda_kernel generates compile with NVRTC (CUDA builds;
 * no GPU needed): every input dtype, shape/strides/ndim arguments, dtype/int/bool template
 * arguments, a header, several outputs, dynamic shared memory, cooperative groups; a kernel
 * with a syntax error fails with the compiler's message instead of crashing. So do the fused
 * kernels of the Compiled primitive (formulas.h from the embedded headers). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/backend/cuda/compiled_prog.h"
#include "../../src/backend/cuda/jit.h"
#include "../../src/ops/custom_kernel.h"
#include "../../src/ops/ops.h"
#include "error.h"

static int failures;
#define CHECK(c)                                                          \
  do {                                                                    \
    if (!(c)) {                                                           \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #c); \
      failures++;                                                         \
    }                                                                     \
  } while (0)

/* Generates and compiles one kernel; returns the compile status. */
static int build(const char *name, const char *source, const char *header, int n_in,
                 const char *const *in_names, const mx_dtype *in_dt, const int *in_nd,
                 int n_out, const char *const *out_names, const mx_dtype *out_dt,
                 const mx_ck_template *t, int n_t, uint8_t *layout) {
  mx_ck_def d = {name, source, header, in_names, n_in, out_names, n_out, true, 0};
  int32_t shape[1] = {4};
  const int32_t *shapes[4] = {shape, shape, shape, shape};
  int ndims[4] = {1, 1, 1, 1};
  mx_ck_launch l = {shapes, ndims, out_dt, n_out, {4, 1, 1}, {4, 1, 1}, t, n_t, false, 0, false};
  char *entry = NULL;
  char *src = mx_fast_cuda_kernel_source(&d, in_dt, in_nd, &l, &entry, layout);
  CHECK(src != NULL);
  if (!src) return -1;
  char *lowered = NULL, *cubin = NULL;
  size_t n = 0;
  int rc = mx_cuda_jit_compile(src, entry, 90, NULL, "cuda_kernel", &lowered, &cubin, &n);
  if (rc == 0) {
    CHECK(n > 0 && lowered && strstr(lowered, name));
  }
  free(lowered);
  free(cubin);
  free(src);
  free(entry);
  return rc;
}

int main(void) {
  const char *in1[] = {"inp"}, *out1[] = {"out"};
  uint8_t layout[4];

  /* MLX's documented example, for every dtype of T */
  const char *exp_src =
      "auto elem = cooperative_groups::this_grid().thread_rank();\n"
      "T tmp = inp[elem];\n"
      "out[elem] = tmp;\n";
  for (int t = 0; t < MX_DTYPE_COUNT; t++) {
    mx_dtype dt = (mx_dtype)t;
    mx_ck_template tm = {"T", MX_CK_TEMPLATE_DTYPE, t};
    int nd = 1;
    int rc = build("copy", exp_src, "", 1, in1, &dt, &nd, 1, out1, &dt, &tm, 1, layout);
    if (rc != 0) fprintf(stderr, "dtype %s: %s\n", mx_dtype_name(dt), mx_error_message());
    CHECK(rc == 0);
  }

  /* math on float, strided access through the layout arguments */
  const char *strided =
      "uint32_t elem = blockIdx.x * blockDim.x + threadIdx.x;\n"
      "int64_t loc = elem_to_loc(int64_t(elem), inp_shape.data(), inp_strides.data(), inp_ndim);\n"
      "out[elem] = exp(inp[loc]) + inf * 0.0f;\n";
  {
    mx_dtype dt = MX_FLOAT32;
    int nd = 3;
    CHECK(build("strided", strided, "", 1, in1, &dt, &nd, 1, out1, &dt, NULL, 0, layout) == 0);
    CHECK(layout[0] == (MX_CK_SHAPE | MX_CK_STRIDES | MX_CK_NDIM));
    nd = 0; /* a 0-d input gets no layout arguments */
    const char *scalar_src = "out[threadIdx.x] = inp[0];\n";
    CHECK(build("scalar", scalar_src, "", 1, in1, &dt, &nd, 1, out1, &dt, NULL, 0, layout) == 0);
    CHECK(layout[0] == 0);
  }

  /* half types, header helpers, int and bool templates, two outputs, shared memory */
  {
    const char *in2[] = {"a", "b"}, *out2[] = {"s", "p"};
    mx_dtype idt[2] = {MX_FLOAT16, MX_BFLOAT16}, odt[2] = {MX_FLOAT32, MX_FLOAT32};
    int nd[2] = {1, 1};
    mx_ck_template tm[3] = {{"N", MX_CK_TEMPLATE_INT, 4},
                            {"twice", MX_CK_TEMPLATE_BOOL, 1},
                            {"U", MX_CK_TEMPLATE_DTYPE, MX_FLOAT32}};
    const char *hdr = "__device__ inline float my_add(float x, float y) { return x + y; }\n";
    const char *src =
        "extern __shared__ float tile[];\n"
        "int i = threadIdx.x;\n"
        "tile[i] = __half2float(a[i]);\n"
        "__syncthreads();\n"
        "U v = my_add(tile[i], __bfloat162float(b[i]));\n"
        "if (twice) v = v * 2;\n"
        "if (i < N) { s[i] = v; p[i] = tile[i] * __bfloat162float(b[i]); }\n";
    CHECK(build("mixed", src, hdr, 2, in2, idt, nd, 2, out2, odt, tm, 3, layout) == 0);
  }

  /* atomics on an output */
  {
    mx_dtype dt = MX_INT32, ot = MX_INT32;
    int nd = 1;
    const char *src = "atomicAdd(&out[inp[threadIdx.x] & 3], 1);\n";
    CHECK(build("histogram", src, "", 1, in1, &dt, &nd, 1, out1, &ot, NULL, 0, layout) == 0);
  }

  /* a syntax error: -1 with the compiler log in the message */
  {
    mx_dtype dt = MX_FLOAT32;
    int nd = 1;
    CHECK(build("broken", "out[0] = inp[0] +;\n", "", 1, in1, &dt, &nd, 1, out1, &dt, NULL, 0,
                layout) == -1);
    CHECK(strstr(mx_error_message(), "Failed to compile") != NULL);
  }

  /* bad template arguments are refused before compiling */
  {
    mx_dtype dt = MX_FLOAT32;
    int nd = 1;
    mx_ck_template bad = {"", MX_CK_TEMPLATE_INT, 1};
    mx_ck_def d = {"t", "out[0] = inp[0];", "", in1, 1, out1, 1, true, 0};
    int32_t shape[1] = {1};
    const int32_t *shapes[1] = {shape};
    int ndims[1] = {1};
    mx_ck_launch l = {shapes, ndims, &dt, 1, {1, 1, 1}, {1, 1, 1}, &bad, 1, false, 0, false};
    char *entry = NULL;
    CHECK(mx_fast_cuda_kernel_source(&d, &dt, &nd, &l, &entry, layout) == NULL);
    CHECK(entry == NULL);
  }

  /* a fused program: contiguous, scalar and broadcast inputs, float16 and a dtype change */
  {
    extern const int mx_nvrtc_header_count;
    extern const char *const mx_nvrtc_header_names[];
    extern const char *const mx_nvrtc_header_texts[];
    int32_t sh2[2] = {4, 5}, sh1[1] = {5};
    int64_t st2[2] = {5, 1}, st1[1] = {1};
    mx_tensor in[3] = {{NULL, MX_FLOAT32, 2, sh2, st2, 20, MX_ROW_CONTIG},
                       {NULL, MX_FLOAT32, 0, NULL, NULL, 1, MX_ROW_CONTIG},
                       {NULL, MX_FLOAT16, 1, sh1, st1, 5, MX_ROW_CONTIG}};
    mx_tensor out = {NULL, MX_FLOAT16, 2, sh2, st2, 20, MX_ROW_CONTIG};
    mxc_cprog p;
    memset(&p, 0, sizeof p);
    p.n_in = 3;
    const int F = MX_FLOAT32, H = MX_FLOAT16, B = MX_BOOL;
    mxc_cinstr code[] = {
        {MX_PRIM_EXP, F, F, F, 1, {-1}},
        {MX_PRIM_MULTIPLY, F, F, F, 2, {0, -2}},
        {MX_PRIM_GREATER, B, F, B, 2, {1, -1}},
        {MX_PRIM_SELECT, F, F, F, 3, {2, 1, -1}},
        {MX_PRIM_COPY, H, F, F, 1, {3}},
        {MX_PRIM_NEGATIVE, H, H, H, 1, {-3}},
        {MX_PRIM_ADD, H, H, H, 2, {4, 5}},
    };
    p.n_instr = (int32_t)(sizeof code / sizeof *code);
    memcpy(p.ins, code, sizeof code);
    char *src = mx_cuda_compiled_jit_source(&p, in, 3, &out);
    CHECK(src != NULL && strstr(src, "MX_CVT(f32, f16, q4)") && strstr(src, "g[0]"));
    mx_jit_headers h = {mx_nvrtc_header_count, mx_nvrtc_header_names, mx_nvrtc_header_texts,
                        true};
    char *lowered = NULL, *cubin = NULL;
    size_t n = 0;
    int rc = src ? mx_cuda_jit_compile(src, "mx_fused", 90, &h, "Compiled", &lowered, &cubin, &n)
                 : -1;
    if (rc != 0) fprintf(stderr, "fused: %s\n%s\n", mx_error_message(), src ? src : "");
    CHECK(rc == 0 && n > 0);
    free(lowered);
    free(cubin);
    free(src);
    /* an operand not in the compute dtype is left to the interpreter */
    p.ins[1].in[1] = -3;
    CHECK(mx_cuda_compiled_jit_source(&p, in, 3, &out) == NULL);
  }

  if (failures) {
    fprintf(stderr, "test_cuda_jit: %d failures\n", failures);
    return 1;
  }
  printf("test_cuda_jit: ok\n");
  return 0;
}
