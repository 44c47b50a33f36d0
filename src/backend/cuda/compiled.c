/* compiled.c: the Compiled primitive on CUDA, host side: flattens the transforms' program
 * (the instructions of a fused element-wise region, src/transforms/tape.h) into the plain
 * mxc_cprog, which a generated kernel (compiled_jit.c) runs, or the interpreter kernel of
 * compiled.cu where the generator does not take it. */
#include <stdlib.h>
#include <string.h>

#include "../../core/error.h"
#include "../../core/kernel.h"
#include "../../transforms/tape.h"
#include "compiled_prog.h"

int mx_cuda_compiled_run(const mxc_cprog *p, const mx_tensor *in, int n_in, mx_tensor *out,
                         void *queue, int device);

/* Generated kernels (compiled_jit.c) unless MLX_CUDA_JIT=0 asks for the interpreter. */
static bool jit_enabled(void) {
  static int on = -1; /* a benign race: every thread computes the same value */
  if (on < 0) {
    const char *e = getenv("MLX_CUDA_JIT");
    on = !(e && strcmp(e, "0") == 0);
  }
  return on == 1;
}

int mx_cuda_compiled(const mx_kernel_ctx *ctx, const mx_tensor *in, int n_in, mx_tensor *out,
                     int n_out) {
  const mx_program *p = ctx->params ? (const mx_program *)((const mx_p_compiled *)ctx->params)->program
                                    : NULL;
  if (!p || n_out != 1 || n_in != p->n_in)
    return mx_fail_int(MX_EINVAL, "[Compiled] Expected %d inputs and 1 output.", p ? p->n_in : 0);
  if (p->n_instr < 1 || p->n_instr > MXC_CP_MAX_INSTR || n_in > MXC_CP_MAX_IN)
    return mx_fail_int(MX_EINVAL, "[Compiled] %d instructions over %d inputs exceed the GPU "
                       "program limits (%d, %d).", p->n_instr, n_in, MXC_CP_MAX_INSTR, MXC_CP_MAX_IN);
  mxc_cprog cp;
  memset(&cp, 0, sizeof cp);
  cp.n_instr = p->n_instr;
  cp.n_in = n_in;
  for (int k = 0; k < p->n_instr; k++) {
    const mx_pinstr *s = &p->instr[k];
    mxc_cinstr *d = &cp.ins[k];
    d->prim = s->prim;
    d->dtype = (int32_t)s->dtype;
    d->n_in = s->n_in;
    if (s->n_in < 1 || s->n_in > 3)
      return mx_fail_int(MX_EINVAL, "[Compiled] Instruction %d has %d operands.", k, s->n_in);
    for (int j = 0; j < s->n_in; j++) {
      int32_t a = s->in[j];
      if (a >= k || -a - 1 >= n_in)
        return mx_fail_int(MX_EINVAL, "[Compiled] Instruction %d reads operand %d.", k, a);
      d->in[j] = a;
    }
    /* the formula computes in its (value) operands' dtype: the first, or the second of a
     * ternary (whose first operand is the bool condition) */
    int32_t v = s->in[s->n_in == 3 ? 1 : 0];
    d->tin = (int32_t)(v >= 0 ? p->instr[v].dtype : in[-v - 1].dtype);
    d->res = strcmp(mx_prim_family(s->prim), "compare") == 0 ? (int32_t)MX_BOOL : d->tin;
  }
  /* the generated kernel first; 1 means it does not take this program or layout */
  int rc = jit_enabled() ? mx_cuda_compiled_jit(&cp, in, n_in, out, ctx->queue, ctx->device_index) : 1;
  if (rc <= 0) return rc;
  return mx_cuda_compiled_run(&cp, in, n_in, out, ctx->queue, ctx->device_index);
}
