/* compile.c: mx.compile's core (DESIGN section 6, spec/semantics.md section 10). A function
 * is traced once on placeholders (data-less tracers: evaluating one raises) into a tape,
 * which is simplified and fused, then cached under the caller's key (function identity and
 * constants) plus the input signature, the default stream and the shapeless flag. Calls
 * replay the tape: one op record per tape op, no Python. Shapeless tapes re-infer output
 * shapes from the new input shapes. The cache is bounded and evicts the least recently used
 * entry. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/error.h"
#include "../core/eval.h"
#include "../core/prim.h"
#include "graph_walk.h"
#include "tape.h"

/* ---- mode ---- */

static _Atomic int mode_set = -1; /* -1: not set by a call, the environment decides */

void mx_compile_set_mode(mx_compile_mode m) { atomic_store(&mode_set, (int)m); }

mx_compile_mode mx_compile_get_mode(void) {
  int m = atomic_load(&mode_set);
  if (m >= 0) return (mx_compile_mode)m;
  return getenv("MLX_DISABLE_COMPILE") ? MX_COMPILE_DISABLED : MX_COMPILE_ENABLED;
}

/* ---- tracing into a tape ---- */

#define TAG(kind, index) ((int32_t)((kind) | ((index) << 2)))
#define TAG_KIND(t) ((t) & 3)
#define TAG_INDEX(t) ((t) >> 2)

static int set_ref(mx_node_map *m, mx_array *a, int kind, int index) {
  mx_array_retain(a);
  return mx_node_map_put_tagged(m, a, a, TAG(kind, index));
}

static int add_traced_op(mx_tape *t, mx_node_map *refs, mx_op *op);

/* The reference of node a; a node not on a path from the inputs becomes a constant, except
 * a pending Broadcast of a constant, which stays an op (so a shapeless replay re-infers its
 * shape and fusion reads the constant with broadcast strides). */
static int ref_of(mx_tape *t, mx_node_map *refs, mx_array *a, mx_cref *r) {
  int32_t tag;
  if (!mx_node_map_get_tagged(refs, a, &tag) && a->op && a->op->prim == MX_PRIM_BROADCAST &&
      a->op->n_in == 1 && mx_array_status(a) == MX_UNSCHEDULED) {
    if (add_traced_op(t, refs, a->op) != 0) return -1;
  }
  if (!mx_node_map_get_tagged(refs, a, &tag)) {
    int c = mx_tape_add_const(t, a);
    if (c < 0 || set_ref(refs, a, MX_REF_CONST, c) != 0) return -1;
    tag = TAG(MX_REF_CONST, c);
  }
  r->kind = TAG_KIND(tag);
  r->index = TAG_INDEX(tag);
  r->out = r->kind == MX_REF_OP ? a->out_index : 0;
  return 0;
}

static bool depends_on_inputs(const mx_node_map *refs, const mx_op *op) {
  for (int i = 0; i < op->n_in; i++) {
    int32_t tag;
    if (mx_node_map_get_tagged(refs, op->inputs[i], &tag) && TAG_KIND(tag) != MX_REF_CONST) return true;
  }
  return false;
}

static int add_traced_op(mx_tape *t, mx_node_map *refs, mx_op *op) {
  mx_cref small_in[16];
  mx_dtype small_t[8];
  int32_t small_n[8];
  const int32_t *small_s[8];
  mx_cref *in = op->n_in <= 16 ? small_in : malloc((size_t)op->n_in * sizeof *in);
  mx_dtype *dt = op->n_out <= 8 ? small_t : malloc((size_t)op->n_out * sizeof *dt);
  int32_t *nd = op->n_out <= 8 ? small_n : malloc((size_t)op->n_out * sizeof *nd);
  const int32_t **sh = op->n_out <= 8 ? small_s : malloc((size_t)op->n_out * sizeof *sh);
  int rc = (in && dt && nd && sh) ? 0 : mx_fail_int(MX_ENOMEM, "[compile] out of memory.");
  for (int i = 0; rc == 0 && i < op->n_in; i++) rc = ref_of(t, refs, op->inputs[i], &in[i]);
  for (int k = 0; rc == 0 && k < op->n_out; k++) {
    const mx_array *o = op->outputs[k];
    dt[k] = o ? o->dtype : op->out_specs[k].dtype;
    nd[k] = o ? o->ndim : op->out_specs[k].ndim;
    sh[k] = o ? o->shape : op->out_specs[k].shape;
  }
  int idx = rc == 0 ? mx_tape_add_op(t, op->prim, op->params, op->stream, op->n_in, in, op->n_out, dt, nd, sh) : -1;
  for (int k = 0; idx >= 0 && k < op->n_out; k++)
    if (op->outputs[k] && set_ref(refs, op->outputs[k], MX_REF_OP, idx) != 0) idx = -1;
  if (in != small_in) free(in);
  if (dt != small_t) free(dt);
  if (nd != small_n) free(nd);
  if (sh != small_s) free((void *)sh);
  return idx < 0 ? -1 : 0;
}

/* The tape of outs traced from the placeholders ph. */
static int build_tape(mx_tape *t, mx_array *const *ph, int n, mx_array *const *outs, int n_out) {
  mx_node_map refs = {0};
  mx_array **order = NULL;
  size_t n_order = 0;
  int rc = 0;
  t->n_inputs = n;
  t->in_dtypes = malloc((size_t)(n ? n : 1) * sizeof *t->in_dtypes);
  t->in_ndims = malloc((size_t)(n ? n : 1) * sizeof *t->in_ndims);
  t->in_shapes = calloc((size_t)(n ? n : 1), sizeof *t->in_shapes);
  t->outputs = calloc((size_t)(n_out ? n_out : 1), sizeof *t->outputs);
  t->n_outputs = n_out;
  if (!t->in_dtypes || !t->in_ndims || !t->in_shapes || !t->outputs)
    return mx_fail_int(MX_ENOMEM, "[compile] out of memory.");
  for (int i = 0; rc == 0 && i < n; i++) {
    t->in_dtypes[i] = ph[i]->dtype;
    t->in_ndims[i] = ph[i]->ndim;
    t->in_shapes[i] = malloc((size_t)(ph[i]->ndim ? ph[i]->ndim : 1) * sizeof(int32_t));
    if (!t->in_shapes[i]) rc = mx_fail_int(MX_ENOMEM, "[compile] out of memory.");
    else if (ph[i]->ndim) memcpy(t->in_shapes[i], ph[i]->shape, (size_t)ph[i]->ndim * sizeof(int32_t));
    if (rc == 0) rc = set_ref(&refs, ph[i], MX_REF_INPUT, i);
  }
  if (rc == 0) rc = mx_traced_order(outs, n_out, &order, &n_order);
  for (size_t oi = 0; rc == 0 && oi < n_order; oi++) {
    mx_array *a = order[oi];
    int32_t tag;
    if (mx_node_map_get_tagged(&refs, a, &tag) || !depends_on_inputs(&refs, a->op)) continue;
    rc = add_traced_op(t, &refs, a->op);
  }
  for (int k = 0; rc == 0 && k < n_out; k++) rc = ref_of(t, &refs, outs[k], &t->outputs[k]);
  for (size_t i = 0; i < n_order; i++) mx_array_release(order[i]);
  free(order);
  mx_node_map_free(&refs);
  return rc;
}

/* ---- shapes of a shapeless replay ---- */

typedef struct shp {
  int32_t ndim;
  int32_t *shape;   /* owned */
} shp;

static bool is_elementwise(int prim) {
  const char *f = mx_prim_family(prim);
  return !strcmp(f, "unary") || !strcmp(f, "binary") || !strcmp(f, "compare") ||
         !strcmp(f, "ternary") || !strcmp(f, "binary_two") || prim == MX_PRIM_COMPILED;
}

/* The primitives whose output shapes follow from their inputs' shapes and parameters
 * (MLX's Primitive::output_shapes set, plus Scatter, Depends and CustomTransforms). As in
 * MLX, Slice (static bounds), AsStrided, View, Pad, RandomBits, FFT, QRF, SVD, Inverse,
 * Cholesky and LUF raise instead. */
static bool can_infer(int prim) {
  if (is_elementwise(prim)) return true;
  switch (prim) {
    case MX_PRIM_REDUCE: case MX_PRIM_RESHAPE: case MX_PRIM_TRANSPOSE: case MX_PRIM_BROADCAST:
    case MX_PRIM_MATMUL: case MX_PRIM_STOP_GRADIENT: case MX_PRIM_DEPENDS: case MX_PRIM_CUSTOM:
    case MX_PRIM_SOFTMAX: case MX_PRIM_LOGSUMEXP: case MX_PRIM_ARG_REDUCE: case MX_PRIM_SCAN:
    case MX_PRIM_SORT: case MX_PRIM_ARGSORT: case MX_PRIM_PARTITION: case MX_PRIM_ARGPARTITION:
    case MX_PRIM_CONTIGUOUS: case MX_PRIM_CONCATENATE: case MX_PRIM_ADDMM: case MX_PRIM_GATHER:
    case MX_PRIM_GATHER_AXIS: case MX_PRIM_SCATTER: case MX_PRIM_SCATTER_AXIS:
    case MX_PRIM_SLICE_UPDATE: case MX_PRIM_DYNAMIC_SLICE_UPDATE: case MX_PRIM_SEARCH_SORTED:
    case MX_PRIM_ARANGE: case MX_PRIM_NUMBER_OF_ELEMENTS: case MX_PRIM_CONVOLUTION:
    case MX_PRIM_CONV_WEIGHT: case MX_PRIM_GATHER_MM: case MX_PRIM_QUANTIZE: case MX_PRIM_DEQUANTIZE:
    case MX_PRIM_QUANTIZED_MATMUL: case MX_PRIM_GATHER_QMM: case MX_PRIM_TO_FP8: case MX_PRIM_FROM_FP8:
    case MX_PRIM_HADAMARD: case MX_PRIM_RMS_NORM: case MX_PRIM_LAYER_NORM: case MX_PRIM_ROPE:
    case MX_PRIM_SDPA: case MX_PRIM_MASKED_SCATTER: case MX_PRIM_DYNAMIC_SLICE: case MX_PRIM_EIG:
    case MX_PRIM_EIGH:
      return true;
    default:
      return false;
  }
}

static void shp_str(const shp *s, char *buf, size_t cap) {
  int len = snprintf(buf, cap, "(");
  for (int d = 0; d < s->ndim && len < (int)cap; d++)
    len += snprintf(buf + len, cap - (size_t)len, d ? ",%d" : "%d", (int)s->shape[d]);
  if (len < (int)cap) snprintf(buf + len, cap - (size_t)len, ")");
}

static int shp_set(shp *s, int ndim, const int32_t *shape) {
  free(s->shape);
  s->ndim = ndim;
  s->shape = malloc((size_t)(ndim ? ndim : 1) * sizeof(int32_t));
  if (!s->shape) return mx_fail_int(MX_ENOMEM, "[compile] out of memory.");
  if (ndim && shape) memcpy(s->shape, shape, (size_t)ndim * sizeof(int32_t));
  else if (ndim) memset(s->shape, 0, (size_t)ndim * sizeof(int32_t));
  return 0;
}

/* NumPy broadcast of a and b into *out. */
static int shp_broadcast(const shp *a, const shp *b, shp *out) {
  int n = a->ndim > b->ndim ? a->ndim : b->ndim;
  int32_t *r = malloc((size_t)(n ? n : 1) * sizeof(int32_t));
  if (!r) return mx_fail_int(MX_ENOMEM, "[compile] out of memory.");
  for (int d = 0; d < n; d++) {
    int da = d - (n - a->ndim), db = d - (n - b->ndim);
    int32_t x = da >= 0 ? a->shape[da] : 1, y = db >= 0 ? b->shape[db] : 1;
    if (x != y && x != 1 && y != 1) {
      free(r);
      char sa[128], sb[128];
      shp_str(a, sa, sizeof sa);
      shp_str(b, sb, sizeof sb);
      return mx_fail_int(MX_EINVAL, "[broadcast_shapes] Shapes %s and %s cannot be broadcast.", sa, sb);
    }
    r[d] = x == 1 ? y : x;
  }
  free(out->shape);
  out->ndim = n;
  out->shape = r;
  return 0;
}

static int64_t prod(const int32_t *s, int a, int b) {
  int64_t p = 1;
  for (int i = a; i < b; i++) p *= s[i];
  return p;
}

/* A reshape re-inferred: the traced input/output dims are split into groups of equal
 * product; each group takes the new product of its input dims, split as traced with the
 * last output dim of the group absorbing the change. */
static int infer_reshape(const shp *tin, const shp *tout, const shp *nin, shp *out) {
  if (shp_set(out, tout->ndim, tout->shape) != 0) return -1;
  if (prod(nin->shape, 0, nin->ndim) == prod(tin->shape, 0, tin->ndim) &&
      !memcmp(nin->shape, tin->shape, (size_t)tin->ndim * sizeof(int32_t)))
    return 0;
  int i = 0, o = 0;
  while (i < tin->ndim || o < tout->ndim) {
    int i0 = i, o0 = o;
    int64_t pi = 1, po = 1;
    if (i < tin->ndim) pi *= tin->shape[i++];
    if (o < tout->ndim) po *= tout->shape[o++];
    while (pi != po) {
      if (pi < po && i < tin->ndim) pi *= tin->shape[i++];
      else if (po < pi && o < tout->ndim) po *= tout->shape[o++];
      else break;
    }
    if (pi != po || pi == 0) goto fail;
    /* trailing size-1 dims join the group */
    while (i < tin->ndim && tin->shape[i] == 1 && (o >= tout->ndim || tout->shape[o] != 1)) i++;
    while (o < tout->ndim && tout->shape[o] == 1 && (i >= tin->ndim || tin->shape[i] != 1)) o++;
    int64_t np = prod(nin->shape, i0, i);
    if (o == o0) {
      if (np != 1) goto fail;
      continue;
    }
    /* the last dim of the group that was not 1 absorbs the change */
    int at = o - 1;
    while (at > o0 && tout->shape[at] == 1) at--;
    int64_t rest = prod(tout->shape, o0, o) / (tout->shape[at] ? tout->shape[at] : 1);
    if (rest == 0 || tout->shape[at] == 0 || np % rest) goto fail;
    out->shape[at] = (int32_t)(np / rest);
  }
  return 0;
fail:;
  char a[128], b[128];
  shp_str(nin, a, sizeof a);
  shp_str(tout, b, sizeof b);
  return mx_fail_int(MX_EINVAL, "[compile] Cannot infer the shapeless reshape of %s (traced to %s).", a, b);
}

static bool shp_equal(const shp *a, const shp *b) {
  return a->ndim == b->ndim && !memcmp(a->shape, b->shape, (size_t)a->ndim * sizeof(int32_t));
}

static int shape_error(const char *what, const shp *now, const shp *traced) {
  char a[128], b[128];
  shp_str(now, a, sizeof a);
  shp_str(traced, b, sizeof b);
  return mx_fail_int(MX_EINVAL, "[compile] Cannot infer the shapeless %s of an input of shape %s "
                     "(traced with %s).", what, a, b);
}

static int infer_matmul(const shp *a, const shp *b, shp *out) {
  if (a->ndim < 2 || b->ndim < 2)
    return mx_fail_int(MX_EINVAL, "[compile] Cannot infer a shapeless matmul of vectors.");
  shp ba = {a->ndim - 2, a->shape}, bb = {b->ndim - 2, b->shape}, batch = {0};
  int rc = shp_broadcast(&ba, &bb, &batch);
  if (rc == 0 && a->shape[a->ndim - 1] != b->shape[b->ndim - 2])
    rc = mx_fail_int(MX_EINVAL, "[matmul] Last dimension of first input with shape (..., %d) must "
                     "match second to last dimension of second input with shape (..., %d).",
                     a->shape[a->ndim - 1], b->shape[b->ndim - 2]);
  if (rc == 0) {
    int32_t *s = malloc((size_t)(batch.ndim + 2) * sizeof(int32_t));
    if (!s) rc = mx_fail_int(MX_ENOMEM, "[compile] out of memory.");
    else {
      if (batch.ndim) memcpy(s, batch.shape, (size_t)batch.ndim * sizeof(int32_t));
      s[batch.ndim] = a->shape[a->ndim - 2];
      s[batch.ndim + 1] = b->shape[b->ndim - 1];
      rc = shp_set(out, batch.ndim + 2, s);
      free(s);
    }
  }
  free(batch.shape);
  return rc;
}

/* Inputs of equal rank agreeing off the axis; the axis sizes add up. */
static int infer_concatenate(const mx_tape_op *op, shp *const *ins, shp *out) {
  const mx_p_concatenate *r = op->params;
  int ax = r->axis;
  if (ins[0]->ndim <= ax || shp_set(out, ins[0]->ndim, ins[0]->shape) != 0) return -1;
  int64_t total = 0;
  for (int i = 0; i < op->n_in; i++) {
    bool ok = ins[i]->ndim == out->ndim;
    for (int d = 0; ok && d < out->ndim; d++) ok = d == ax || ins[i]->shape[d] == out->shape[d];
    if (!ok) {
      char a[128], b[128];
      shp_str(ins[0], a, sizeof a);
      shp_str(ins[i], b, sizeof b);
      return mx_fail_int(MX_EINVAL, "[concatenate] All the input array dimensions must match exactly "
                         "except for the concatenation axis. However, the provided shapes are %s, %s, "
                         "and the concatenation axis is %d.", a, b, ax);
    }
    total += ins[i]->shape[ax];
  }
  if (total > INT32_MAX) return mx_fail_int(MX_EINVAL, "[concatenate] The result is too large.");
  out->shape[ax] = (int32_t)total;
  return 0;
}

/* The (broadcast) index shape then the slice sizes; a slice that took a whole axis when
 * traced takes the whole new axis, other slice sizes stay. */
static int infer_gather(const mx_tape_op *op, shp *const *ins, shp *out, const shp *tin) {
  const mx_p_gather *r = op->params;
  const shp *a = ins[0];
  int ind = op->n_in > 1 ? ins[1]->ndim : 0, nd = r->slice_sizes.n;
  if (a->ndim != nd || tin[0].ndim != nd) return shape_error("gather", a, &tin[0]);
  for (int i = 2; i < op->n_in; i++)
    if (!shp_equal(ins[i], ins[1])) return shape_error("gather", ins[i], ins[1]);
  int32_t *s = malloc((size_t)(ind + nd + 1) * sizeof(int32_t));
  if (!s) return mx_fail_int(MX_ENOMEM, "[compile] out of memory.");
  if (ind) memcpy(s, ins[1]->shape, (size_t)ind * sizeof(int32_t));
  for (int d = 0; d < nd; d++) {
    bool indexed = false;
    for (int j = 0; j < r->axes.n; j++) indexed |= r->axes.v[j] == d;
    int32_t v = r->slice_sizes.v[d];
    if (!indexed && v == tin[0].shape[d]) v = a->shape[d];
    if (v > a->shape[d]) {
      free(s);
      return shape_error("gather", a, &tin[0]);
    }
    s[ind + d] = v;
  }
  int rc = shp_set(out, ind + nd, s);
  free(s);
  return rc;
}

/* Updates keep the shape of the array updated; the update must still fit where it lands. */
static int infer_update(const mx_tape_op *op, shp *const *ins, shp *out, const shp *tin) {
  const shp *a = ins[0];
  bool ok = a->ndim == tin[0].ndim;
  switch (op->prim) {
    case MX_PRIM_SCATTER: { /* indices..., updates = index shape + a window */
      const shp *u = ins[op->n_in - 1];
      int ind = op->n_in > 2 ? ins[1]->ndim : 0;
      ok = ok && u->ndim == ind + a->ndim;
      for (int i = 2; ok && i < op->n_in - 1; i++) ok = shp_equal(ins[i], ins[1]);
      for (int d = 0; ok && d < ind; d++) ok = u->shape[d] == ins[1]->shape[d];
      for (int d = 0; ok && d < a->ndim; d++) ok = u->shape[ind + d] <= a->shape[d];
      break;
    }
    case MX_PRIM_SCATTER_AXIS: { /* indices and updates of one shape, a's rank */
      const mx_p_scatter_axis *r = op->params;
      ok = ok && shp_equal(ins[1], ins[2]) && ins[1]->ndim == a->ndim;
      for (int d = 0; ok && d < a->ndim; d++) ok = d == r->axis || ins[1]->shape[d] <= a->shape[d];
      break;
    }
    case MX_PRIM_SLICE_UPDATE: { /* static bounds: the update as traced, inside the new a */
      const mx_p_slice_update *r = op->params;
      ok = ok && shp_equal(ins[1], &tin[1]) && ins[1]->ndim == a->ndim;
      for (int d = 0; ok && d < a->ndim; d++) {
        int64_t n = ins[1]->shape[d], lo = r->start.v[d], hi = lo + (n - 1) * (int64_t)r->strides.v[d];
        if (n > 0) ok = (lo < hi ? lo : hi) >= 0 && (lo < hi ? hi : lo) < a->shape[d];
      }
      break;
    }
    default: /* DynamicSliceUpdate: start clamped at run time; the update must fit */
      ok = ok && ins[1]->ndim == a->ndim;
      for (int d = 0; ok && d < a->ndim; d++) ok = ins[1]->shape[d] <= a->shape[d];
      break;
  }
  if (!ok) return shape_error(mx_prim_name(op->prim), a, &tin[0]);
  return shp_set(out, a->ndim, a->shape);
}

/* ins[0]'s shape with its last dim replaced by last (drop_last: removed). */
static int shp_last(shp *out, const shp *in, int64_t last, bool drop_last) {
  if (in->ndim == 0 || last < 0 || last > INT32_MAX) return mx_fail_int(MX_EINVAL, "[compile] Invalid shapeless shape.");
  if (shp_set(out, drop_last ? in->ndim - 1 : in->ndim, in->shape) != 0) return -1;
  if (!drop_last) out->shape[in->ndim - 1] = (int32_t)last;
  return 0;
}

/* Convolution (input, weight) and its weight gradient (input, cotangent). */
static int infer_conv(const mx_tape_op *op, shp *const *ins, shp *out, const shp *tin) {
  const mx_p_convolution *p = op->params; /* ConvolutionWeight starts with the same fields */
  const shp *x = ins[0], *w = ins[1];
  int nd = x->ndim, nsp = nd - 2;
  if (nsp < 0 || w->ndim != nd || p->strides.n != nsp || x->shape[0] != (op->prim == MX_PRIM_CONV_WEIGHT ? w->shape[0] : x->shape[0]))
    return shape_error("convolution", x, &tin[0]);
  if (op->prim == MX_PRIM_CONV_WEIGHT) {
    const mx_p_conv_weight *q = op->params;
    if (shp_set(out, nd, w->shape) != 0) return -1;
    out->shape[0] = w->shape[nd - 1];
    for (int d = 0; d < nsp; d++) out->shape[1 + d] = q->kernel.v[d];
    out->shape[nd - 1] = x->shape[nd - 1] / q->groups;
    return x->shape[nd - 1] % q->groups ? shape_error("convolution", x, &tin[0]) : 0;
  }
  if (x->shape[nd - 1] != (int64_t)w->shape[nd - 1] * p->groups) {
    char a[128], b[128];
    shp_str(x, a, sizeof a);
    shp_str(w, b, sizeof b);
    return mx_fail_int(MX_EINVAL, "[conv] Expect the input channels in the input and weight array to "
                       "match but got shapes - input: %s and weight: %s", a, b);
  }
  if (shp_set(out, nd, x->shape) != 0) return -1;
  out->shape[nd - 1] = w->shape[0];
  for (int d = 0; d < nsp; d++) {
    int64_t in_d = 1 + (int64_t)p->input_dilation.v[d] * (x->shape[1 + d] - 1);
    int64_t k_d = 1 + (int64_t)p->kernel_dilation.v[d] * (w->shape[1 + d] - 1);
    int64_t o = (in_d + p->padding_lo.v[d] + p->padding_hi.v[d] - k_d) / p->strides.v[d] + 1;
    if (o <= 0 || o > INT32_MAX) return shape_error("convolution", x, &tin[0]);
    out->shape[1 + d] = (int32_t)o;
  }
  return 0;
}

/* The quantized ops: outputs from the packed / unpacked last dims. */
static int infer_quantized(const mx_tape_op *op, shp *const *ins, shp *outs, const shp *tin) {
  const mx_p_quantize *q = op->params; /* every quant parameter struct starts so */
  const shp *a = ins[0];
  switch (op->prim) {
    case MX_PRIM_QUANTIZE: {
      int64_t k = a->ndim ? a->shape[a->ndim - 1] : 0;
      if (a->ndim < 2 || k % q->group_size || (k * q->bits) % 32) return shape_error("quantize", a, &tin[0]);
      int rc = shp_last(&outs[0], a, k * q->bits / 32, false);
      for (int j = 1; rc == 0 && j < op->n_out; j++) rc = shp_last(&outs[j], a, k / q->group_size, false);
      return rc;
    }
    case MX_PRIM_DEQUANTIZE:
      if (a->ndim < 2) return shape_error("dequantize", a, &tin[0]);
      return shp_last(&outs[0], a, (int64_t)a->shape[a->ndim - 1] * 32 / q->bits, false);
    case MX_PRIM_QUANTIZED_MATMUL: {
      const mx_p_quantized_matmul *r = op->params;
      const shp *w = ins[1];
      /* a 2-d w applies to x of any rank; a batched w was broadcast with x when traced */
      if (w->ndim < 2 || (w->ndim > 2 && a->ndim != w->ndim)) return shape_error("quantized_matmul", a, &tin[0]);
      int64_t unpacked = (int64_t)w->shape[w->ndim - 1] * 32 / r->bits;
      int64_t inner = r->transpose ? unpacked : w->shape[w->ndim - 2];
      int64_t outer = r->transpose ? w->shape[w->ndim - 2] : unpacked;
      bool ok = a->shape[a->ndim - 1] == inner;
      for (int d = 0; ok && w->ndim > 2 && d < a->ndim - 2; d++) ok = a->shape[d] == w->shape[d];
      if (!ok) return shape_error("quantized_matmul", a, &tin[0]);
      return shp_last(&outs[0], a, outer, false);
    }
    default: { /* GatherQMM: x, w, scales, [biases], lhs_indices, rhs_indices */
      const mx_p_gather_qmm *r = op->params;
      const shp *w = ins[1], *li = ins[op->n_in - 2], *ri = ins[op->n_in - 1];
      if (a->ndim < 2 || w->ndim < 2 || !shp_equal(li, ri)) return shape_error("gather_qmm", a, &tin[0]);
      int64_t unpacked = (int64_t)w->shape[w->ndim - 1] * 32 / r->bits;
      int64_t inner = r->transpose ? unpacked : w->shape[w->ndim - 2];
      int64_t outer = r->transpose ? w->shape[w->ndim - 2] : unpacked;
      if (a->shape[a->ndim - 1] != inner) return shape_error("gather_qmm", a, &tin[0]);
      if (shp_set(&outs[0], li->ndim + 2, NULL) != 0) return -1;
      if (li->ndim) memcpy(outs[0].shape, li->shape, (size_t)li->ndim * sizeof(int32_t));
      outs[0].shape[li->ndim] = a->shape[a->ndim - 2];
      outs[0].shape[li->ndim + 1] = (int32_t)outer;
      return 0;
    }
  }
}

/* GatherMM: a (batch, M, K), b (batch, K, N) and two index arrays of one shape. */
static int infer_gather_mm(shp *const *ins, shp *out, const shp *tin) {
  const shp *a = ins[0], *b = ins[1], *li = ins[2], *ri = ins[3];
  if (a->ndim < 2 || b->ndim < 2 || !shp_equal(li, ri)) return shape_error("gather_mm", a, &tin[0]);
  if (a->shape[a->ndim - 1] != b->shape[b->ndim - 2])
    return mx_fail_int(MX_EINVAL, "[gather_mm] Last dimension of first input with shape (..., %d) must "
                       "match second to last dimension of second input with shape (..., %d).",
                       a->shape[a->ndim - 1], b->shape[b->ndim - 2]);
  if (shp_set(out, li->ndim + 2, NULL) != 0) return -1;
  if (li->ndim) memcpy(out->shape, li->shape, (size_t)li->ndim * sizeof(int32_t));
  out->shape[li->ndim] = a->shape[a->ndim - 2];
  out->shape[li->ndim + 1] = b->shape[b->ndim - 1];
  return 0;
}

/* Output shapes of op k of a shapeless replay, from the shapes of its inputs. src[i] is the
 * shape input i had before a pending Broadcast (for elementwise consumers). */
static int infer_op(const mx_tape *t, int k, shp *const *ins, shp *outs, const shp *tin) {
  const mx_tape_op *op = &t->ops[k];
  int p = op->prim;
  if (is_elementwise(p)) {
    shp acc = {0};
    int rc = shp_set(&acc, 0, NULL);
    for (int i = 0; rc == 0 && i < op->n_in; i++) rc = shp_broadcast(&acc, ins[i], &acc);
    for (int j = 0; rc == 0 && j < op->n_out; j++) rc = shp_set(&outs[j], acc.ndim, acc.shape);
    free(acc.shape);
    return rc;
  }
  if (op->n_in == 0) /* a creation op: its shape is its parameters' */
    return shp_set(&outs[0], op->ndims[0], op->shapes[0]);
  switch (p) {
    case MX_PRIM_SOFTMAX: case MX_PRIM_SCAN: case MX_PRIM_SORT: case MX_PRIM_ARGSORT:
    case MX_PRIM_CONTIGUOUS:
      return shp_set(&outs[0], ins[0]->ndim, ins[0]->shape);
    case MX_PRIM_PARTITION: case MX_PRIM_ARGPARTITION: {
      const mx_p_partition *r = op->params;
      if (r->axis >= ins[0]->ndim || r->kth >= ins[0]->shape[r->axis])
        return shape_error("partition", ins[0], &tin[0]);
      return shp_set(&outs[0], ins[0]->ndim, ins[0]->shape);
    }
    case MX_PRIM_LOGSUMEXP:
      if (ins[0]->ndim == 0 || shp_set(&outs[0], ins[0]->ndim, ins[0]->shape) != 0) return -1;
      outs[0].shape[ins[0]->ndim - 1] = 1;
      return 0;
    case MX_PRIM_ARG_REDUCE: {
      const mx_p_arg_reduce *r = op->params;
      if (r->axis >= ins[0]->ndim || shp_set(&outs[0], ins[0]->ndim, ins[0]->shape) != 0) return -1;
      outs[0].shape[r->axis] = 1;
      return 0;
    }
    case MX_PRIM_CONCATENATE:
      return infer_concatenate(op, ins, outs);
    case MX_PRIM_GATHER:
      return infer_gather(op, ins, outs, tin);
    case MX_PRIM_GATHER_AXIS:
      return shp_set(&outs[0], ins[1]->ndim, ins[1]->shape);
    case MX_PRIM_SEARCH_SORTED:
      return shp_set(&outs[0], ins[1]->ndim, ins[1]->shape);
    case MX_PRIM_SCATTER:
    case MX_PRIM_SCATTER_AXIS:
    case MX_PRIM_SLICE_UPDATE:
    case MX_PRIM_DYNAMIC_SLICE_UPDATE:
      return infer_update(op, ins, outs, tin);
    case MX_PRIM_ADDMM: {
      shp m = {0};
      int rc = infer_matmul(ins[0], ins[1], &m);
      shp bc = {0};
      if (rc == 0) rc = shp_broadcast(ins[2], &m, &bc);
      if (rc == 0 && !shp_equal(&m, &bc)) rc = shape_error("addmm", ins[2], &tin[2]);
      free(bc.shape);
      if (rc == 0) rc = shp_set(&outs[0], m.ndim, m.shape);
      free(m.shape);
      return rc;
    }
    case MX_PRIM_REDUCE: {
      const mx_p_reduce *r = op->params;
      if (shp_set(&outs[0], ins[0]->ndim, ins[0]->shape) != 0) return -1;
      for (int j = 0; j < r->axes.n; j++)
        if (r->axes.v[j] < outs[0].ndim) outs[0].shape[r->axes.v[j]] = 1;
      return 0;
    }
    case MX_PRIM_TRANSPOSE: {
      const mx_p_transpose *r = op->params;
      if (shp_set(&outs[0], ins[0]->ndim, ins[0]->shape) != 0) return -1;
      for (int d = 0; d < r->axes.n; d++) outs[0].shape[d] = ins[0]->shape[r->axes.v[d]];
      return 0;
    }
    case MX_PRIM_RESHAPE: {
      shp tout = {op->ndims[0], op->shapes[0]};
      return infer_reshape(&tin[0], &tout, ins[0], &outs[0]);
    }
    case MX_PRIM_MATMUL:
      return infer_matmul(ins[0], ins[1], &outs[0]);
    case MX_PRIM_STOP_GRADIENT:
      return shp_set(&outs[0], ins[0]->ndim, ins[0]->shape);
    case MX_PRIM_NUMBER_OF_ELEMENTS: {
      const mx_p_number_of_elements *r = op->params;
      for (int j = 0; j < r->axes.n; j++)
        if (r->axes.v[j] >= ins[0]->ndim) return shape_error("number_of_elements", ins[0], &tin[0]);
      return shp_set(&outs[0], 0, NULL);
    }
    case MX_PRIM_CONVOLUTION:
    case MX_PRIM_CONV_WEIGHT:
      return infer_conv(op, ins, outs, tin);
    case MX_PRIM_QUANTIZE:
    case MX_PRIM_DEQUANTIZE:
    case MX_PRIM_QUANTIZED_MATMUL:
    case MX_PRIM_GATHER_QMM:
      return infer_quantized(op, ins, outs, tin);
    case MX_PRIM_GATHER_MM:
      return infer_gather_mm(ins, outs, tin);
    case MX_PRIM_TO_FP8: case MX_PRIM_FROM_FP8: case MX_PRIM_HADAMARD: case MX_PRIM_RMS_NORM:
    case MX_PRIM_LAYER_NORM: case MX_PRIM_ROPE: case MX_PRIM_MASKED_SCATTER:
      return shp_set(&outs[0], ins[0]->ndim, ins[0]->shape);
    case MX_PRIM_SDPA: /* q's shape with v's head dim */
      if (ins[0]->ndim != 4 || ins[2]->ndim != 4) return shape_error("scaled_dot_product_attention", ins[0], &tin[0]);
      return shp_last(&outs[0], ins[0], ins[2]->shape[3], false);
    case MX_PRIM_DYNAMIC_SLICE: {
      const mx_p_dynamic_slice *r = op->params;
      bool ok = ins[0]->ndim == r->slice_size.n;
      for (int d = 0; ok && d < ins[0]->ndim; d++) ok = r->slice_size.v[d] <= ins[0]->shape[d];
      if (!ok) return shape_error("slice", ins[0], &tin[0]);
      return shp_set(&outs[0], r->slice_size.n, r->slice_size.v);
    }
    case MX_PRIM_EIG:
    case MX_PRIM_EIGH: { /* eigenvalues: the batch and one dim; eigenvectors: the input's */
      const shp *a = ins[0];
      if (a->ndim < 2 || a->shape[a->ndim - 1] != a->shape[a->ndim - 2])
        return shape_error(mx_prim_name(p), a, &tin[0]);
      int rc = shp_last(&outs[0], a, 0, true);
      for (int j = 1; rc == 0 && j < op->n_out; j++) rc = shp_set(&outs[j], a->ndim, a->shape);
      return rc;
    }
    case MX_PRIM_DEPENDS:
    case MX_PRIM_CUSTOM:
      for (int j = 0; j < op->n_out; j++)
        if (shp_set(&outs[j], ins[j]->ndim, ins[j]->shape) != 0) return -1;
      return 0;
    default:
      return mx_fail_int(MX_EINVAL, "[compile] %s cannot infer output shapes.", mx_prim_name(p));
  }
}

typedef struct replay_shapes {
  shp *ops;         /* flat: op k output j at ops[off[k] + j] */
  int32_t *off;
  int32_t n;
} replay_shapes;

static void replay_shapes_free(replay_shapes *r) {
  for (int i = 0; i < r->n; i++) free(r->ops[i].shape);
  free(r->ops);
  free(r->off);
}

static const shp *shape_of_ref(const mx_tape *t, const replay_shapes *rs, const shp *in_shp,
                               const shp *const_shp, mx_cref r) {
  if (r.kind == MX_REF_INPUT) return &in_shp[r.index];
  if (r.kind == MX_REF_CONST) return &const_shp[r.index];
  return &rs->ops[rs->off[r.index] + r.out];
}

/* The traced shape of a reference. */
static shp traced_shape(const mx_tape *t, mx_cref r) {
  if (r.kind == MX_REF_INPUT) return (shp){t->in_ndims[r.index], t->in_shapes[r.index]};
  if (r.kind == MX_REF_CONST) return (shp){t->consts[r.index]->ndim, t->consts[r.index]->shape};
  return (shp){t->ops[r.index].ndims[r.out], t->ops[r.index].shapes[r.out]};
}

/* batch followed by the last two dims of m. */
static int batch_and_matrix(const shp *batch, const shp *m, shp *out) {
  int32_t *v = malloc((size_t)(batch->ndim + 2) * sizeof(int32_t));
  if (!v) return mx_fail_int(MX_ENOMEM, "[compile] out of memory.");
  if (batch->ndim) memcpy(v, batch->shape, (size_t)batch->ndim * sizeof(int32_t));
  v[batch->ndim] = m->shape[m->ndim - 2];
  v[batch->ndim + 1] = m->shape[m->ndim - 1];
  int rc = shp_set(out, batch->ndim + 2, v);
  free(v);
  return rc;
}

/* The target of a Broadcast feeding a non-element-wise op: dims the broadcast kept (traced
 * input dim equal to the traced target's) follow the new input, expanded dims stay. */
static int broadcast_like(const shp *nin, const shp *tin, const shp *ttarget, shp *out) {
  if (nin->ndim != tin->ndim || tin->ndim > ttarget->ndim) return shp_broadcast(nin, ttarget, out);
  if (shp_set(out, ttarget->ndim, ttarget->shape) != 0) return -1;
  int lead = ttarget->ndim - tin->ndim;
  for (int d = 0; d < tin->ndim; d++)
    if (tin->shape[d] == ttarget->shape[lead + d]) out->shape[lead + d] = nin->shape[d];
  return 0;
}

/* Every op's output shapes for new input shapes. Broadcast ops take their target from
 * their element-wise consumers (the broadcast of the consumer's operands before their
 * broadcasts), else the traced target when compatible. */
static int infer_shapes(const mx_tape *t, mx_array *const *inputs, replay_shapes *rs) {
  int total = 0;
  rs->off = malloc(((size_t)t->n_ops + 1) * sizeof *rs->off);
  if (!rs->off) return mx_fail_int(MX_ENOMEM, "[compile] out of memory.");
  for (int k = 0; k < t->n_ops; k++) {
    rs->off[k] = total;
    total += t->ops[k].n_out;
  }
  rs->n = total;
  rs->ops = calloc((size_t)total + 1, sizeof *rs->ops);
  shp *in_shp = calloc((size_t)t->n_inputs + 1, sizeof *in_shp);
  shp *c_shp = calloc((size_t)t->n_consts + 1, sizeof *c_shp);
  bool *pending = calloc((size_t)t->n_ops + 1, sizeof *pending);
  shp **ins = NULL;
  shp *tin = NULL, *src = NULL;
  int rc = (rs->ops && in_shp && c_shp && pending) ? 0 : mx_fail_int(MX_ENOMEM, "[compile] out of memory.");
  for (int i = 0; rc == 0 && i < t->n_inputs; i++) in_shp[i] = (shp){inputs[i]->ndim, inputs[i]->shape};
  for (int i = 0; rc == 0 && i < t->n_consts; i++) c_shp[i] = (shp){t->consts[i]->ndim, t->consts[i]->shape};
  int max_in = 1;
  for (int k = 0; k < t->n_ops; k++) max_in = t->ops[k].n_in > max_in ? t->ops[k].n_in : max_in;
  ins = calloc((size_t)max_in, sizeof *ins);
  tin = calloc((size_t)max_in, sizeof *tin);
  src = calloc((size_t)max_in, sizeof *src);
  if (rc == 0 && (!ins || !tin || !src)) rc = mx_fail_int(MX_ENOMEM, "[compile] out of memory.");
  for (int k = 0; rc == 0 && k < t->n_ops; k++) {
    const mx_tape_op *op = &t->ops[k];
    if (op->prim == MX_PRIM_BROADCAST) {
      pending[k] = true;
      continue;
    }
    bool ew = is_elementwise(op->prim);
    /* element-wise: the target of the pending broadcasts among the operands */
    shp target = {0};
    if (ew) {
      rc = shp_set(&target, 0, NULL);
      for (int i = 0; rc == 0 && i < op->n_in; i++) {
        mx_cref r = op->in[i];
        const shp *s = (r.kind == MX_REF_OP && t->ops[r.index].prim == MX_PRIM_BROADCAST)
                           ? shape_of_ref(t, rs, in_shp, c_shp, t->ops[r.index].in[0])
                           : shape_of_ref(t, rs, in_shp, c_shp, r);
        rc = shp_broadcast(&target, s, &target);
      }
    }
    /* matmul (and the quantized one): operands broadcast to their sources' common batch shape */
    bool mm = (op->prim == MX_PRIM_MATMUL || op->prim == MX_PRIM_ADDMM ||
               op->prim == MX_PRIM_QUANTIZED_MATMUL) && op->n_in >= 2;
    int n_mm = op->prim == MX_PRIM_QUANTIZED_MATMUL ? op->n_in : 2; /* operands broadcast to the batch */
    if (mm && rc == 0) {
      rc = shp_set(&target, 0, NULL);
      for (int i = 0; rc == 0 && i < n_mm; i++) {
        mx_cref r = op->in[i];
        const shp *s = (r.kind == MX_REF_OP && t->ops[r.index].prim == MX_PRIM_BROADCAST)
                           ? shape_of_ref(t, rs, in_shp, c_shp, t->ops[r.index].in[0])
                           : shape_of_ref(t, rs, in_shp, c_shp, r);
        shp batch = {s->ndim >= 2 ? s->ndim - 2 : 0, s->shape};
        rc = shp_broadcast(&target, &batch, &target);
      }
    }
    for (int i = 0; rc == 0 && i < op->n_in; i++) {
      mx_cref r = op->in[i];
      if (r.kind == MX_REF_OP && pending[r.index]) {
        const mx_tape_op *b = &t->ops[r.index];
        shp *bs = &rs->ops[rs->off[r.index]];
        const shp *bin = shape_of_ref(t, rs, in_shp, c_shp, b->in[0]);
        shp tr = {b->ndims[0], b->shapes[0]};
        shp tbin = traced_shape(t, b->in[0]);
        if (ew) rc = shp_set(bs, target.ndim, target.shape);
        else if (mm && i < n_mm && bin->ndim >= 2) rc = batch_and_matrix(&target, bin, bs);
        else rc = broadcast_like(bin, &tbin, &tr, bs);
        if (rc == 0) {
          shp chk = {0};
          rc = shp_broadcast(bin, bs, &chk); /* the broadcast must be valid */
          if (rc == 0 && (chk.ndim != bs->ndim || memcmp(chk.shape, bs->shape, (size_t)chk.ndim * sizeof(int32_t))))
            rc = mx_fail_int(MX_EINVAL, "[compile] Broadcast target does not match the new shapes.");
          free(chk.shape);
        }
        pending[r.index] = false;
      }
      if (rc == 0) {
        ins[i] = (shp *)shape_of_ref(t, rs, in_shp, c_shp, r);
        tin[i] = traced_shape(t, r);
      }
    }
    free(target.shape);
    if (rc == 0) rc = infer_op(t, k, ins, &rs->ops[rs->off[k]], tin);
  }
  for (int k = 0; rc == 0 && k < t->n_ops; k++) {
    if (!pending[k]) continue;
    const mx_tape_op *b = &t->ops[k];
    shp tr = {b->ndims[0], b->shapes[0]};
    rc = shp_broadcast(shape_of_ref(t, rs, in_shp, c_shp, b->in[0]), &tr, &rs->ops[rs->off[k]]);
  }
  free(in_shp);
  free(c_shp);
  free(pending);
  free(ins);
  free(tin);
  free(src);
  return rc;
}

static int cannot_infer(int prim) {
  return mx_fail_int(MX_EINVAL, "[Primitive::output_shapes] %s cannot infer output shapes.",
                     mx_prim_name(prim));
}

int mx_tape_check_shapeless(const mx_tape *t) {
  for (int k = 0; k < t->n_ops; k++)
    if (!can_infer(t->ops[k].prim)) return cannot_infer(t->ops[k].prim);
  /* constants still to be computed are part of the function too */
  mx_node_map seen = {0};
  mx_array **stack = NULL;
  size_t sn = 0, scap = 0;
  int rc = 0;
  for (int c = 0; c < t->n_consts && rc == 0; c++) {
    if (sn == scap) {
      scap = scap ? scap * 2 : 64;
      mx_array **ns = realloc(stack, scap * sizeof *ns);
      if (!ns) {
        rc = mx_fail_int(MX_ENOMEM, "[compile] out of memory.");
        break;
      }
      stack = ns;
    }
    stack[sn++] = t->consts[c];
    while (sn && rc == 0) {
      mx_array *a = stack[--sn];
      if (!a->op || mx_array_status(a) != MX_UNSCHEDULED || mx_node_map_get(&seen, a)) continue;
      mx_array_retain(a);
      if (mx_node_map_put(&seen, a, a) != 0) rc = -1;
      else if (!can_infer(a->op->prim)) rc = cannot_infer(a->op->prim);
      for (int i = 0; rc == 0 && i < a->op->n_in; i++) {
        if (sn == scap) {
          scap *= 2;
          mx_array **ns = realloc(stack, scap * sizeof *ns);
          if (!ns) {
            rc = mx_fail_int(MX_ENOMEM, "[compile] out of memory.");
            break;
          }
          stack = ns;
        }
        stack[sn++] = a->op->inputs[i];
      }
    }
    sn = 0;
  }
  free(stack);
  mx_node_map_free(&seen);
  return rc;
}

/* ---- replay ---- */

static bool same_input_shapes(const mx_tape *t, mx_array *const *inputs) {
  for (int i = 0; i < t->n_inputs; i++)
    if (inputs[i]->ndim != t->in_ndims[i] ||
        memcmp(inputs[i]->shape, t->in_shapes[i], (size_t)t->in_ndims[i] * sizeof(int32_t)))
      return false;
  return true;
}

int mx_tape_replay(const mx_tape *t, mx_array *const *inputs, bool shapeless, const mx_stream *stream,
                   mx_array **outs) {
  replay_shapes rs = {0};
  bool reinfer = shapeless && !same_input_shapes(t, inputs);
  int rc = reinfer ? infer_shapes(t, inputs, &rs) : 0;
  int total = 0;
  for (int k = 0; k < t->n_ops; k++) total += t->ops[k].n_out;
  mx_array **vals = calloc((size_t)total + 1, sizeof *vals);
  int32_t *off = malloc(((size_t)t->n_ops + 1) * sizeof *off);
  if (rc == 0 && (!vals || !off)) rc = mx_fail_int(MX_ENOMEM, "[compile] out of memory.");
  for (int k = 0, o = 0; rc == 0 && k < t->n_ops; k++) {
    off[k] = o;
    o += t->ops[k].n_out;
  }
#define RESOLVE(r) ((r).kind == MX_REF_INPUT ? inputs[(r).index] \
                    : (r).kind == MX_REF_CONST ? t->consts[(r).index] : vals[off[(r).index] + (r).out])
  mx_array *small_in[16];
  mx_out_spec small_spec[8];
  for (int k = 0; rc == 0 && k < t->n_ops; k++) {
    const mx_tape_op *op = &t->ops[k];
    mx_array **in = op->n_in <= 16 ? small_in : malloc((size_t)op->n_in * sizeof *in);
    mx_out_spec *spec = op->n_out <= 8 ? small_spec : malloc((size_t)op->n_out * sizeof *spec);
    if (!in || !spec) {
      rc = mx_fail_int(MX_ENOMEM, "[compile] out of memory.");
    } else {
      for (int j = 0; j < op->n_out; j++) {
        spec[j].dtype = op->dtypes[j];
        spec[j].ndim = reinfer ? rs.ops[rs.off[k] + j].ndim : op->ndims[j];
        spec[j].shape = reinfer ? rs.ops[rs.off[k] + j].shape : op->shapes[j];
      }
      MX_SCOPE_BEGIN;
      for (int i = 0; i < op->n_in; i++) {
        in[i] = RESOLVE(op->in[i]);
        /* element-wise kernels see equal shapes: new shapes may need a broadcast */
        if (reinfer && op->prim != MX_PRIM_COMPILED && is_elementwise(op->prim) &&
            (in[i]->ndim != spec[0].ndim ||
             memcmp(in[i]->shape, spec[0].shape, (size_t)spec[0].ndim * sizeof(int32_t))))
          in[i] = mx_broadcast_to(in[i], spec[0].shape, spec[0].ndim, stream ? *stream : op->stream);
      }
      const void *params = op->params;
      mx_p_gather gp;
      if (reinfer && op->prim == MX_PRIM_GATHER) { /* the kernel reads its slice sizes */
        gp = *(const mx_p_gather *)op->params;
        gp.slice_sizes.v = spec[0].shape + (spec[0].ndim - gp.slice_sizes.n);
        params = &gp;
      }
      rc = mx_op_make(op->prim, params, stream ? *stream : op->stream, op->n_in, in, op->n_out, spec,
                      vals + off[k]);
      for (int j = 0; rc == 0 && j < op->n_out; j++) mx_keep(vals[off[k] + j]);
      MX_SCOPE_END;
    }
    if (in && in != small_in) free(in);
    if (spec && spec != small_spec) free(spec);
  }
  for (int k = 0; rc == 0 && k < t->n_outputs; k++) {
    outs[k] = RESOLVE(t->outputs[k]);
    mx_array_retain(outs[k]);
  }
#undef RESOLVE
  for (int i = 0; vals && i < total; i++) mx_array_release(vals[i]);
  free(vals);
  free(off);
  if (reinfer) replay_shapes_free(&rs);
  return rc;
}

/* ---- the cache ---- */

typedef struct entry {
  _Atomic int64_t refs;
  uintptr_t fun_id;
  uint64_t *constants;
  int n_constants;
  bool shapeless;
  mx_stream stream;
  mx_tape tape;
  mx_object *user;
  uint64_t last_use;
  struct entry *next;
} entry;

static pthread_mutex_t cache_mu = PTHREAD_MUTEX_INITIALIZER;
static entry *cache_head;
static size_t cache_n;
static size_t cache_limit = 1024;
static uint64_t cache_clock;

static void entry_release(entry *e) {
  if (!e || atomic_fetch_sub(&e->refs, 1) != 1) return;
  mx_tape_free(&e->tape);
  free(e->constants);
  mx_object_release(e->user);
  free(e);
}

static bool stream_eq(mx_stream a, mx_stream b) {
  return a.device.type == b.device.type && a.device.index == b.device.index && a.index == b.index;
}

static bool entry_matches(const entry *e, const mx_compile_key *key, mx_stream s,
                          mx_array *const *inputs, int n) {
  if (e->fun_id != key->fun_id || e->shapeless != key->shapeless || e->n_constants != key->n_constants ||
      !stream_eq(e->stream, s) || e->tape.n_inputs != n)
    return false;
  if (key->n_constants && memcmp(e->constants, key->constants, (size_t)key->n_constants * sizeof(uint64_t)))
    return false;
  for (int i = 0; i < n; i++) {
    if (inputs[i]->dtype != e->tape.in_dtypes[i] || inputs[i]->ndim != e->tape.in_ndims[i]) return false;
    if (!e->shapeless &&
        memcmp(inputs[i]->shape, e->tape.in_shapes[i], (size_t)inputs[i]->ndim * sizeof(int32_t)))
      return false;
  }
  return true;
}

/* Unlinks entry *pp under the lock and drops the cache's reference. */
static void unlink_entry(entry **pp) {
  entry *e = *pp;
  *pp = e->next;
  cache_n--;
  entry_release(e);
}

static void evict_if_full(void) {
  while (cache_n > cache_limit) {
    entry **victim = NULL;
    for (entry **pp = &cache_head; *pp; pp = &(*pp)->next)
      if (!victim || (*pp)->last_use < (*victim)->last_use) victim = pp;
    if (!victim) return;
    unlink_entry(victim);
  }
}

void mx_compile_erase(uintptr_t fun_id) {
  pthread_mutex_lock(&cache_mu);
  for (entry **pp = &cache_head; *pp;) {
    if ((*pp)->fun_id == fun_id) unlink_entry(pp);
    else pp = &(*pp)->next;
  }
  pthread_mutex_unlock(&cache_mu);
}

void mx_compile_clear_cache(void) {
  pthread_mutex_lock(&cache_mu);
  while (cache_head) unlink_entry(&cache_head);
  pthread_mutex_unlock(&cache_mu);
}

void mx_compile_set_cache_limit(size_t entries) {
  pthread_mutex_lock(&cache_mu);
  cache_limit = entries;
  evict_if_full();
  pthread_mutex_unlock(&cache_mu);
}

size_t mx_compile_cache_size(void) {
  pthread_mutex_lock(&cache_mu);
  size_t n = cache_n;
  pthread_mutex_unlock(&cache_mu);
  return n;
}

static entry *lookup(const mx_compile_key *key, mx_stream s, mx_array *const *inputs, int n) {
  pthread_mutex_lock(&cache_mu);
  entry *found = NULL;
  for (entry *e = cache_head; e && !found; e = e->next)
    if (entry_matches(e, key, s, inputs, n)) found = e;
  if (found) {
    found->last_use = ++cache_clock;
    atomic_fetch_add(&found->refs, 1);
  }
  pthread_mutex_unlock(&cache_mu);
  return found;
}

int mx_tape_trace(mx_tape *t, mx_closure fn, mx_array *const *inputs, int n, int max_out,
                  bool shapeless) {
  mx_array **ph = calloc((size_t)n + 1, sizeof *ph);
  mx_array **outs = calloc((size_t)max_out + 1, sizeof *outs);
  int n_out = 0, rc = (ph && outs) ? 0 : mx_fail_int(MX_ENOMEM, "[compile] out of memory.");
  for (int i = 0; rc == 0 && i < n; i++) {
    ph[i] = mx_array_alloc_node(inputs[i]->dtype, inputs[i]->ndim, inputs[i]->shape);
    if (!ph[i]) rc = -1;
    else ph[i]->tracer = 1;
  }
  if (rc == 0) {
    mx_trace_push();
    if (shapeless) mx_trace_shapeless_push();
    rc = mx_trace_call(fn, ph, n, outs, max_out, &n_out);
    if (shapeless) mx_trace_shapeless_pop();
    mx_trace_pop();
  }
  if (rc == 0) rc = build_tape(t, ph, n, outs, n_out);
  for (int k = 0; k < n_out; k++) mx_array_release(outs[k]);
  for (int i = 0; ph && i < n; i++) mx_array_release(ph[i]);
  free(outs);
  free(ph);
  return rc;
}

/* Traces fn into a new entry (one reference for the caller, one for the cache). */
static entry *trace_entry(const mx_compile_key *key, mx_stream s, mx_closure fn,
                          mx_object **trace_user, mx_array *const *inputs, int n, int max_out) {
  entry *e = calloc(1, sizeof *e);
  int rc = e ? 0 : mx_fail_int(MX_ENOMEM, "[compile] out of memory.");
  if (rc == 0 && key->n_constants) {
    e->constants = malloc((size_t)key->n_constants * sizeof(uint64_t));
    if (!e->constants) rc = mx_fail_int(MX_ENOMEM, "[compile] out of memory.");
    else memcpy(e->constants, key->constants, (size_t)key->n_constants * sizeof(uint64_t));
  }
  if (rc == 0) rc = mx_tape_trace(&e->tape, fn, inputs, n, max_out, key->shapeless);
  mx_compile_mode mode = mx_compile_get_mode();
  if (rc == 0 && key->shapeless) rc = mx_tape_check_shapeless(&e->tape);
  if (rc == 0 && mode != MX_COMPILE_NO_SIMPLIFY) rc = mx_tape_simplify(&e->tape);
  if (rc == 0 && mode != MX_COMPILE_NO_FUSE) rc = mx_tape_fuse(&e->tape);
  if (rc == 0) rc = mx_tape_compact(&e->tape);
  if (rc != 0) {
    if (e) {
      mx_tape_free(&e->tape);
      free(e->constants);
      free(e);
    }
    return NULL;
  }
  atomic_init(&e->refs, 2);
  e->fun_id = key->fun_id;
  e->n_constants = key->n_constants;
  e->shapeless = key->shapeless;
  e->stream = s;
  if (trace_user) {
    e->user = *trace_user;
    *trace_user = NULL;
  }
  pthread_mutex_lock(&cache_mu);
  e->last_use = ++cache_clock;
  e->next = cache_head;
  cache_head = e;
  cache_n++;
  evict_if_full();
  pthread_mutex_unlock(&cache_mu);
  return e;
}

static int compile_call(const mx_compile_key *key, mx_closure fn, mx_object **trace_user,
                        mx_array *const *inputs, int n, mx_array **outs, int max_out, int *n_out,
                        mx_object **user_out) {
  *n_out = 0;
  if (user_out) *user_out = NULL;
  for (int i = 0; i < n; i++)
    if (!inputs[i]) return mx_fail_int(MX_EINVAL, "[compile] input %d is empty.", i);
  if (mx_compile_get_mode() == MX_COMPILE_DISABLED) return mx_trace_call(fn, inputs, n, outs, max_out, n_out);
  mx_stream s = mx_stream_default();
  entry *e = lookup(key, s, inputs, n);
  if (!e) e = trace_entry(key, s, fn, trace_user, inputs, n, max_out);
  if (!e) return -1;
  int rc = 0;
  if (e->tape.n_outputs > max_out)
    rc = mx_fail_int(MX_EINVAL, "[compile] The function returned too many arrays.");
  if (rc == 0) rc = mx_tape_replay(&e->tape, inputs, e->shapeless, NULL, outs);
  if (rc == 0) {
    *n_out = e->tape.n_outputs;
    if (user_out && e->user) {
      mx_object_retain(e->user);
      *user_out = e->user;
    }
  }
  entry_release(e);
  return rc;
}

int mx_compile_call(const mx_compile_key *key, mx_closure fn, mx_object **trace_user,
                    mx_array *const *inputs, int n, mx_array **outs, int max_out, int *n_out,
                    mx_object **user_out) {
  int scopes = mx_scope_suspend();
  int rc = compile_call(key, fn, trace_user, inputs, n, outs, max_out, n_out, user_out);
  mx_scope_resume(scopes);
  return rc;
}
