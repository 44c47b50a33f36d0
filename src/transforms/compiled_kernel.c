/* compiled_kernel.c: the Compiled primitive (DESIGN section 6): a program of element-wise
 * instructions run tile by tile over register tiles of TILE elements. Each instruction is
 * its primitive's own kernel applied to the tiles, and every register holds the
 * instruction's dtype, so the result equals the unfused ops bit for bit. Inputs broadcast
 * to the output shape: contiguous ones are read in place, scalars with stride 0, others
 * gathered into a tile. Tiles are split over the CPU thread pool; each range keeps its own
 * registers, reused once dead so the live ones stay in cache. Its rules expand the program
 * back into ops. */
#include <stdatomic.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "../core/device.h"
#include "../core/error.h"
#include "../core/prim.h"
#include "../backend/cpu/pool.h"
#include "../backend/cpu/tile_gather.h"
#include "tape.h"

#define TILE 8192
#define MAX_ELEM 8 /* bytes of the widest dtype */

static void program_destroy(mx_object *o) {
  mx_program *p = (mx_program *)o;
  for (int i = 0; i < p->n_instr; i++) mx_params_release(p->instr[i].params);
  free(p->instr);
  free(p);
}

mx_program *mx_program_new(int n_in, int n_instr, const mx_pinstr *instr) {
  mx_program *p = calloc(1, sizeof *p);
  mx_pinstr *v = malloc((size_t)n_instr * sizeof *v);
  if (!p || !v) {
    free(p);
    free(v);
    return mx_fail(MX_ENOMEM, "[compile] out of memory.");
  }
  memcpy(v, instr, (size_t)n_instr * sizeof *v);
  for (int i = 0; i < n_instr; i++) mx_params_retain(v[i].params);
  mx_object_init(&p->base, program_destroy);
  p->n_in = n_in;
  p->n_instr = n_instr;
  p->instr = v;
  return p;
}

/* GPU programs run by a backend's own Compiled kernel (CUDA: generated kernels, see
 * src/backend/cuda/compiled_jit.c) unless MLX_CUDA_FUSION=0 keeps the eager kernels. */
static bool gpu_fusion_enabled(void) {
  static int on = -1; /* a benign race: every thread computes the same value */
  if (on < 0) {
    const char *e = getenv("MLX_CUDA_FUSION");
    on = !(e && strcmp(e, "0") == 0);
  }
  return on == 1;
}

bool mx_program_can_run(int prim, mx_stream s) {
  if (!mx_prims[prim].eval_cpu) return false;
  if (s.device.type == MX_CPU) return true;
  const mx_gpu_backend *g = mx_gpu();
  mx_kernel_fn compiled = g ? g->kernel(MX_PRIM_COMPILED) : NULL;
  if (!compiled) return false;
  /* a backend running the CPU kernels on its memory (the fake device) runs this program;
   * a backend with its own Compiled kernel (CUDA) runs what its element-wise kernels run */
  if (compiled == mx_prims[MX_PRIM_COMPILED].eval_cpu)
    return g->kernel(prim) == mx_prims[prim].eval_cpu;
  return gpu_fusion_enabled() && g->kernel(prim) != NULL;
}

/* ---- the kernel ---- */

typedef enum { IN_DIRECT, IN_SCALAR, IN_GATHER } in_mode;

typedef struct in_view {
  in_mode mode;
  void *copy;     /* IN_DIRECT from a strided input: its row-major copy (owned) */
  bool periodic;  /* IN_GATHER: every tile gathers the same values */
  mx_cpu_gview g; /* IN_GATHER: the input broadcast to the output shape */
} in_view;

static const int64_t one_stride = 1, zero_stride = 0;

/* What every tile range shares; registers are slots reused once their value is dead. */
typedef struct ck_job {
  const mx_program *p;
  const mx_kernel_ctx *ctx;
  const mx_tensor *in;
  mx_tensor *out;
  const in_view *views;
  const int32_t *slot; /* [n_instr] register slot of each instruction's result */
  int n_slots, n_gather;
  int64_t N;
  _Atomic int rc;
} ck_job;

/* The calling thread's register tiles, kept between calls (freed when the thread exits): a
 * fresh allocation of this size would come from mmap and fault its pages in (zeroed by the
 * kernel) at every call. */
typedef struct ck_buf {
  char *p;
  size_t cap;
} ck_buf;

static pthread_key_t ck_key;
static pthread_once_t ck_key_once = PTHREAD_ONCE_INIT;

static void ck_buf_free(void *b) {
  if (!b) return;
  free(((ck_buf *)b)->p);
  free(b);
}

static void ck_key_make(void) { pthread_key_create(&ck_key, ck_buf_free); }

static char *ck_thread_regs(size_t bytes) {
  pthread_once(&ck_key_once, ck_key_make);
  ck_buf *b = pthread_getspecific(ck_key);
  if (!b) {
    if (!(b = calloc(1, sizeof *b))) return NULL;
    if (pthread_setspecific(ck_key, b) != 0) {
      free(b);
      return NULL;
    }
  }
  if (bytes > b->cap) {
    char *p = realloc(b->p, bytes);
    if (!p) return NULL;
    b->p = p;
    b->cap = bytes;
  }
  return b->p;
}

/* Runs tiles [tb, te) with its own registers and gather buffers. */
static void ck_tiles(void *c, int64_t tb, int64_t te) {
  ck_job *j = c;
  const mx_program *p = j->p;
  const mx_tensor *in = j->in, *out = j->out;
  int n_in = p->n_in;
  char *regs = ck_thread_regs((size_t)(j->n_slots + j->n_gather) * TILE * MAX_ELEM);
  char **gtile = malloc(((size_t)n_in + 1) * sizeof *gtile);
  if (!regs || !gtile) {
    free(gtile);
    atomic_store(&j->rc, mx_fail_int(MX_ENOMEM, "[Compiled] out of memory."));
    return;
  }
  for (int i = 0, g = 0; i < n_in; i++)
    gtile[i] = j->views[i].mode == IN_GATHER ? regs + (size_t)(j->n_slots + g++) * TILE * MAX_ELEM
                                             : NULL;
  mx_kernel_ctx kctx = *j->ctx;
  int32_t tile_shape[1];
  mx_tensor ops[3], res;
  int osz = mx_dtype_size(out->dtype);
  for (int64_t t = tb; t < te && atomic_load_explicit(&j->rc, memory_order_relaxed) == 0; t++) {
    int64_t t0 = t * TILE, n = j->N - t0 < TILE ? j->N - t0 : TILE;
    tile_shape[0] = (int32_t)n;
    for (int i = 0; i < n_in; i++)
      if (gtile[i] && (!j->views[i].periodic || t == tb))
        mx_cpu_gather_tile(&in[i], &j->views[i].g, j->views[i].periodic ? 0 : t0,
                           j->views[i].periodic ? (j->N < TILE ? j->N : TILE) : n, gtile[i]);
    for (int k = 0; k < p->n_instr; k++) {
      const mx_pinstr *ins = &p->instr[k];
      for (int a_i = 0; a_i < ins->n_in; a_i++) {
        mx_tensor *o = &ops[a_i];
        o->ndim = 1;
        o->shape = tile_shape;
        o->size = n;
        int32_t a = ins->in[a_i];
        if (a >= 0) {
          o->dtype = p->instr[a].dtype;
          o->data = regs + (size_t)j->slot[a] * TILE * MAX_ELEM;
          o->strides = &one_stride;
          o->flags = MX_ROW_CONTIG | MX_COL_CONTIG;
          continue;
        }
        const mx_tensor *x = &in[-a - 1];
        const in_view *v = &j->views[-a - 1];
        o->dtype = x->dtype;
        if (v->mode == IN_SCALAR) {
          o->data = x->data;
          o->strides = &zero_stride;
          o->flags = n == 1 ? MX_ROW_CONTIG | MX_COL_CONTIG : 0;
        } else {
          o->data = v->mode == IN_DIRECT ? (char *)x->data + t0 * mx_dtype_size(x->dtype)
                                         : gtile[-a - 1];
          o->strides = &one_stride;
          o->flags = MX_ROW_CONTIG | MX_COL_CONTIG;
        }
      }
      res.dtype = ins->dtype;
      res.ndim = 1;
      res.shape = tile_shape;
      res.size = n;
      res.strides = &one_stride;
      res.flags = MX_ROW_CONTIG | MX_COL_CONTIG;
      res.data = k == p->n_instr - 1 ? (char *)out->data + t0 * osz
                                     : regs + (size_t)j->slot[k] * TILE * MAX_ELEM;
      kctx.params = ins->params;
      if (mx_prims[ins->prim].eval_cpu(&kctx, ops, ins->n_in, &res, 1) != 0) {
        atomic_store(&j->rc, -1);
        break;
      }
    }
  }
  free(gtile);
}

/* Register slots: an instruction's result takes a slot whose value was last read by an
 * earlier instruction (never one of its own operands). Returns the slot count. */
static int ck_assign_slots(const mx_program *p, int32_t *slot, int32_t *last, int32_t *free_at) {
  for (int k = 0; k < p->n_instr; k++) last[k] = k;
  for (int k = 0; k < p->n_instr; k++)
    for (int a = 0; a < p->instr[k].n_in; a++)
      if (p->instr[k].in[a] >= 0) last[p->instr[k].in[a]] = k;
  int n_slots = 0;
  for (int k = 0; k < p->n_instr; k++) {
    int s = -1;
    for (int q = 0; q < n_slots && s < 0; q++)
      if (free_at[q] < k) s = q;
    if (s < 0) s = n_slots++;
    slot[k] = s;
    free_at[s] = last[k];
  }
  return n_slots;
}

/* A large input that is a strided permutation of the output's elements (a transposed
 * gradient, say) is copied once in row-major order (copy.c's cache-blocked transposing
 * copy) and then read in place, instead of element by element in every tile. On success
 * with a copy, v->copy owns it and *x reads it; -1 on error. */
#define CK_COPY_MIN 16384

static int ck_copy_strided(const mx_tensor *in, const mx_tensor *out, in_view *v, mx_tensor *x) {
  const mx_cpu_gview *g = &v->g;
  int64_t s0 = g->strides[g->nd - 1];
  if (in->size != out->size || in->ndim != out->ndim || out->size < CK_COPY_MIN || g->nd < 2 ||
      s0 == 0 || s0 == 1 || out->ndim > 64) /* rs below holds 64 dims */
    return 0;
  bool unit = false; /* an outer dim steps by one element: a transpose */
  for (int d = 0; d < g->nd - 1; d++) unit |= g->strides[d] == 1 || g->strides[d] == -1;
  if (!unit) return 0;
  int es = mx_dtype_size(in->dtype);
  int64_t rs[64];
  void *buf = malloc((size_t)out->size * (size_t)es);
  if (!buf) return mx_fail_int(MX_ENOMEM, "[Compiled] out of memory.");
  mx_tensor dst = *out;
  dst.dtype = in->dtype;
  dst.data = buf;
  dst.strides = rs;
  mx_row_strides(out->ndim, out->shape, rs);
  if (mx_cpu_copy_strided(in, &dst) < 0) {
    free(buf);
    return -1;
  }
  mx_cpu_gview_free(&v->g);
  v->copy = buf;
  v->mode = IN_DIRECT;
  x->data = buf;
  x->strides = NULL; /* read as IN_DIRECT: contiguous */
  return 0;
}

static int compiled_kernel(const mx_kernel_ctx *ctx, const mx_tensor *in, int n_in, mx_tensor *out,
                           int n_out) {
  const mx_program *p = (const mx_program *)((const mx_p_compiled *)ctx->params)->program;
  if (n_out != 1 || n_in != p->n_in)
    return mx_fail_int(MX_EINVAL, "[Compiled] Expected %d inputs and 1 output.", p->n_in);
  int64_t N = out->size;
  if (N == 0) return 0;
  in_view *views = calloc((size_t)n_in + 1, sizeof *views);
  int32_t *slot = malloc((size_t)p->n_instr * 3 * sizeof *slot);
  mx_tensor *ins = malloc(((size_t)n_in + 1) * sizeof *ins); /* inputs as the tiles read them */
  int rc = (views && slot && ins) ? 0 : mx_fail_int(MX_ENOMEM, "[Compiled] out of memory.");
  for (int i = 0; rc == 0 && i < n_in; i++) ins[i] = in[i];
  int n_gather = 0;
  for (int i = 0; rc == 0 && i < n_in; i++) {
    bool zero_strides = true; /* a scalar broadcast to a shape */
    for (int d = 0; d < in[i].ndim; d++) zero_strides &= in[i].shape[d] == 1 || in[i].strides[d] == 0;
    if (in[i].size == 1 || zero_strides) {
      views[i].mode = IN_SCALAR;
    } else if (mx_cpu_same_rows(&in[i], out)) {
      views[i].mode = IN_DIRECT;
    } else {
      if (mx_cpu_gview_init(&views[i].g, &in[i], out) < 0) {
        rc = mx_fail_int(MX_EINVAL, "[Compiled] Input %d does not broadcast to the output.", i);
      } else if (ck_copy_strided(&in[i], out, &views[i], &ins[i]) < 0) {
        rc = -1;
      } else if (!views[i].copy) {
        views[i].mode = IN_GATHER;
        views[i].periodic = mx_cpu_gview_periodic(&views[i].g, TILE);
        n_gather++;
      }
    }
  }
  if (rc == 0) {
    ck_job job = {p, ctx, ins, out, views, slot, 0, n_gather, N, 0};
    job.n_slots = ck_assign_slots(p, slot, slot + p->n_instr, slot + 2 * p->n_instr);
    int64_t n_tiles = (N + TILE - 1) / TILE, grain = MX_CPU_PARALLEL_GRAIN / TILE;
    mx_cpu_parallel_for(n_tiles, grain > 0 ? grain : 1, ck_tiles, &job);
    rc = atomic_load(&job.rc);
    if (rc != 0 && !mx_error_message()[0])
      rc = mx_fail_int(MX_EINVAL, "[Compiled] A fused kernel failed.");
  }
  for (int i = 0; views && i < n_in; i++) {
    if (views[i].mode == IN_GATHER) mx_cpu_gview_free(&views[i].g);
    free(views[i].copy);
  }
  free(views);
  free(slot);
  free(ins);
  return rc;
}

/* ---- rules: the program expanded back into ops ---- */

typedef struct expand_payload {
  const mx_program *p;
  mx_stream stream;
  int32_t ndim;
  const int32_t *shape;
} expand_payload;

static int expand(void *payload, mx_array *const *in, int n_in, mx_array **out, int max_out, int *n_out) {
  expand_payload *e = payload;
  const mx_program *p = e->p;
  *n_out = 0;
  /* the output shape: the op's, broadcast with the inputs' */
  int cap = e->ndim;
  for (int i = 0; i < n_in; i++) cap = in[i]->ndim > cap ? in[i]->ndim : cap;
  int32_t *shape = malloc((size_t)(cap + 1) * sizeof(int32_t));
  int32_t *tmp = malloc((size_t)(cap + 1) * sizeof(int32_t));
  mx_array **regs = calloc((size_t)p->n_instr, sizeof *regs);
  if (!shape || !tmp || !regs) {
    free(shape);
    free(tmp);
    free(regs);
    return mx_fail_int(MX_ENOMEM, "[Compiled] out of memory.");
  }
  int n = e->ndim, rc = 0;
  if (n) memcpy(shape, e->shape, (size_t)n * sizeof(int32_t));
  for (int i = 0; i < n_in && rc == 0; i++) {
    int m = mx_broadcast_shapes("Compiled", n, shape, in[i]->ndim, in[i]->shape, tmp);
    if (m < 0) rc = -1;
    else {
      memcpy(shape, tmp, (size_t)m * sizeof(int32_t));
      n = m;
    }
  }
  MX_SCOPE_BEGIN;
  mx_array *ops[3];
  for (int k = 0; rc == 0 && k < p->n_instr; k++) {
    const mx_pinstr *ins = &p->instr[k];
    for (int j = 0; j < ins->n_in; j++) {
      int32_t a = ins->in[j];
      ops[j] = a >= 0 ? regs[a] : mx_broadcast_to(in[-a - 1], shape, n, e->stream);
    }
    regs[k] = mx_op_make1(ins->prim, ins->params, e->stream, ins->n_in, ops, ins->dtype, n, shape);
    if (!regs[k]) rc = -1;
  }
  if (rc == 0) {
    out[0] = mx_keep(regs[p->n_instr - 1]);
    *n_out = 1;
  }
  MX_SCOPE_END;
  free(shape);
  free(tmp);
  free(regs);
  return rc;
}

static expand_payload payload_of(const mx_op *op) {
  const mx_program *p = (const mx_program *)((const mx_p_compiled *)mx_op_params(op))->program;
  const mx_array *o = op->outputs[0];
  return (expand_payload){p, op->stream, o ? o->ndim : 0, o ? o->shape : NULL};
}

static int compiled_vjp(const mx_op *op, mx_array *const *p, mx_array *const *cot,
                        const int *argnums, int n, mx_array *const *outputs, mx_array **grads) {
  for (int j = 0; j < n; j++) grads[j] = NULL;
  if (!cot[0] || !op->outputs[0]) return 0;
  expand_payload e = payload_of(op);
  mx_array *fwd[1], **g = calloc((size_t)op->n_in, sizeof *g);
  int nf = 0;
  if (!g) return mx_fail_int(MX_ENOMEM, "[Compiled] out of memory.");
  int rc = mx_vjp((mx_closure){expand, &e}, p, op->n_in, cot, 1, fwd, 1, &nf, g);
  if (rc == 0) {
    mx_array_release(fwd[0]);
    for (int j = 0; j < n; j++) grads[j] = mx_scope_adopt(mx_keep(g[argnums[j]]));
    for (int i = 0; i < op->n_in; i++) mx_array_release(g[i]);
  }
  free(g);
  return rc;
}

static int compiled_jvp(const mx_op *op, mx_array *const *p, mx_array *const *t,
                        mx_array *const *outputs, mx_array **out) {
  out[0] = NULL;
  expand_payload e = payload_of(op);
  mx_array **tz = calloc((size_t)op->n_in, sizeof *tz);
  if (!tz) return mx_fail_int(MX_ENOMEM, "[Compiled] out of memory.");
  int rc = 0;
  for (int i = 0; rc == 0 && i < op->n_in; i++) {
    tz[i] = t[i] ? t[i] : mx_zeros_like(p[i], op->stream);
    if (!tz[i]) rc = -1;
  }
  mx_array *fwd[1], *jv[1];
  int nf = 0;
  if (rc == 0) rc = mx_jvp((mx_closure){expand, &e}, p, op->n_in, tz, fwd, 1, &nf, jv);
  if (rc == 0) {
    mx_array_release(fwd[0]);
    out[0] = mx_scope_adopt(jv[0]);
  }
  free(tz);
  return rc;
}

static int compiled_vmap(const mx_op *op, mx_array *const *in, const int *axes, mx_array **outputs,
                         int *out_axes) {
  expand_payload e = payload_of(op);
  mx_array *o[1];
  int no = 0;
  int rc = mx_vmap((mx_closure){expand, &e}, in, op->n_in, axes, NULL, o, 1, &no);
  if (rc == 0) {
    outputs[0] = mx_scope_adopt(o[0]);
    out_axes[0] = 0;
  }
  return rc;
}

__attribute__((constructor)) static void register_compiled(void) {
  mx_prims[MX_PRIM_COMPILED].eval_cpu = compiled_kernel;
  mx_prims[MX_PRIM_COMPILED].vjp = compiled_vjp;
  mx_prims[MX_PRIM_COMPILED].jvp = compiled_jvp;
  mx_prims[MX_PRIM_COMPILED].vmap = compiled_vmap;
}
