/* cpu.h: what the CPU kernel files share: the N-d strided iterator (dims of size 1 dropped,
 * dims contiguous for every operand merged, no ndim cap, no recursion), the dtype
 * converter and strided copy of copy.c, and the kernel entry points register.c installs.
 * Depends on core/kernel.h, core/error.h and the generated prims_gen.h. */
#ifndef MX_BACKEND_CPU_H
#define MX_BACKEND_CPU_H

#include <stdlib.h>

#include "error.h"
#include "kernel.h"
#include "prims_gen.h"

#define MX_CPU_MAX_OPS 4        /* operands one iterator walks together */
#define MX_CPU_ITER_INLINE 16   /* dims held without a heap allocation */
#define MX_CPU_TILE 1024        /* elements per scratch tile on the stack */
#define MX_CPU_GRAIN 32768      /* below this many elements work stays on the calling thread */

/* Walks `shape` for nops operands as runs along the innermost collapsed dim. After
 * mx_cpu_iter_init: ndim >= 1, shape[ndim-1] is the run length, stride(it, op) the
 * operand's element stride along the run, nruns the number of runs; offsets are in
 * elements from each operand's data pointer. Strides may be 0 or negative. */
typedef struct mx_cpu_iter {
  int nops, ndim;
  int64_t nruns;
  int64_t *shape;           /* [ndim] */
  int64_t *strides;         /* [nops * ndim], strides[op * ndim + d] */
  int64_t *idx;             /* [ndim] counter over the outer dims */
  int64_t *heap;
  int64_t buf[(2 + MX_CPU_MAX_OPS) * MX_CPU_ITER_INLINE];
} mx_cpu_iter;

static inline void mx_cpu_iter_free(mx_cpu_iter *it) {
  free(it->heap);
  it->heap = NULL;
}

/* strides[op] points to ndim element strides of operand op. 0, or -1 with ENOMEM set. */
static inline int mx_cpu_iter_init(mx_cpu_iter *it, int nops, int ndim, const int32_t *shape,
                                   const int64_t *const *strides) {
  int cap = ndim > 1 ? ndim : 1;
  it->nops = nops;
  it->heap = NULL;
  int64_t *mem = it->buf;
  size_t need = (size_t)(2 + nops) * (size_t)cap;
  if (cap > MX_CPU_ITER_INLINE) {
    it->heap = (int64_t *)malloc(need * sizeof(int64_t));
    if (!it->heap)
      return mx_fail_int(MX_ENOMEM, "[malloc] Unable to allocate %zu bytes.",
                         need * sizeof(int64_t));
    mem = it->heap;
  }
  it->shape = mem;
  it->idx = mem + cap;
  it->strides = mem + 2 * cap;
  /* Collect from the innermost dim outwards, merging into the current outer dim when
   * every operand steps through it contiguously. Filled back to front. */
  int n = 0;
  for (int d = ndim - 1; d >= 0; d--) {
    int64_t sz = shape[d];
    if (sz == 1) continue;
    int slot = cap - 1 - n;
    if (n > 0 && sz != 0 && it->shape[slot + 1] != 0) {
      int merge = 1;
      for (int op = 0; op < nops && merge; op++)
        merge = strides[op][d] == it->strides[op * cap + slot + 1] * it->shape[slot + 1];
      if (merge) {
        it->shape[slot + 1] *= sz;
        continue;
      }
    }
    it->shape[slot] = sz;
    for (int op = 0; op < nops; op++) it->strides[op * cap + slot] = strides[op][d];
    n++;
  }
  if (n == 0) { /* every dim is 1: one run of one element */
    it->shape[cap - 1] = 1;
    for (int op = 0; op < nops; op++) it->strides[op * cap + cap - 1] = 0;
    n = 1;
  }
  /* Move the n used slots to the front. */
  int off = cap - n;
  for (int i = 0; i < n; i++) it->shape[i] = it->shape[off + i];
  for (int op = 0; op < nops; op++) /* op-major: a write never clobbers an unread source */
    for (int i = 0; i < n; i++) it->strides[op * n + i] = it->strides[op * cap + off + i];
  it->ndim = n;
  it->nruns = 1;
  for (int i = 0; i < n - 1; i++) it->nruns *= it->shape[i];
  if (it->shape[n - 1] == 0) it->nruns = 0;
  for (int i = 0; i < n; i++) it->idx[i] = 0;
  return 0;
}

static inline int64_t mx_cpu_iter_len(const mx_cpu_iter *it) { return it->shape[it->ndim - 1]; }
static inline int64_t mx_cpu_iter_stride(const mx_cpu_iter *it, int op) {
  return it->strides[op * it->ndim + it->ndim - 1];
}

/* Positions the counter at run r (0 <= r < nruns) and writes each operand's offset. */
static inline void mx_cpu_iter_seek(mx_cpu_iter *it, int64_t r, int64_t *offs) {
  int nd = it->ndim;
  for (int op = 0; op < it->nops; op++) offs[op] = 0;
  for (int d = nd - 2; d >= 0; d--) {
    int64_t i = r % it->shape[d];
    r /= it->shape[d];
    it->idx[d] = i;
    for (int op = 0; op < it->nops; op++) offs[op] += i * it->strides[op * nd + d];
  }
}

/* Advances to the next run (offsets updated in place). */
static inline void mx_cpu_iter_next(mx_cpu_iter *it, int64_t *offs) {
  int nd = it->ndim;
  for (int d = nd - 2; d >= 0; d--) {
    if (++it->idx[d] < it->shape[d]) {
      for (int op = 0; op < it->nops; op++) offs[op] += it->strides[op * nd + d];
      return;
    }
    it->idx[d] = 0;
    for (int op = 0; op < it->nops; op++) offs[op] -= (it->shape[d] - 1) * it->strides[op * nd + d];
  }
}

/* True if t's strides are row-major for its shape (size-1 dims ignored). */
static inline bool mx_cpu_is_row_contig(const mx_tensor *t) {
  if (t->size == 0) return true; /* nothing to address (row strides count a 0 dim as 1) */
  int64_t expect = 1;
  for (int d = t->ndim - 1; d >= 0; d--) {
    if (t->shape[d] == 1) continue;
    if (t->strides[d] != expect) return false;
    expect *= t->shape[d];
  }
  return true;
}

/* True if t has out's shape and row-major strides: t's elements in out's order. */
static inline bool mx_cpu_same_rows(const mx_tensor *t, const mx_tensor *out) {
  if (t->ndim != out->ndim) return false;
  for (int d = 0; d < t->ndim; d++)
    if (t->shape[d] != out->shape[d]) return false;
  return mx_cpu_is_row_contig(t);
}

/* Strides of `in` broadcast to out's shape (NumPy rules, right-aligned; size-1 or missing
 * dims get stride 0), in inline storage up to MX_CPU_ITER_INLINE dims, else on the heap. */
typedef struct mx_cpu_bstrides {
  int64_t *s;
  int64_t inline_s[MX_CPU_ITER_INLINE];
} mx_cpu_bstrides;

static inline int mx_cpu_bstrides_init(mx_cpu_bstrides *b, const char *op, const mx_tensor *in,
                                       const mx_tensor *out) {
  int nd = out->ndim;
  b->s = b->inline_s;
  if (nd > MX_CPU_ITER_INLINE) {
    b->s = (int64_t *)malloc((size_t)nd * sizeof(int64_t));
    if (!b->s)
      return mx_fail_int(MX_ENOMEM, "[malloc] Unable to allocate %zu bytes.",
                         (size_t)nd * sizeof(int64_t));
  }
  int lead = nd - in->ndim;
  if (lead < 0) goto bad;
  for (int d = 0; d < nd; d++) {
    if (d < lead) {
      b->s[d] = 0;
    } else if (in->shape[d - lead] == out->shape[d]) {
      b->s[d] = out->shape[d] == 1 ? 0 : in->strides[d - lead];
    } else if (in->shape[d - lead] == 1) {
      b->s[d] = 0;
    } else {
      goto bad;
    }
  }
  return 0;
bad:
  if (b->s != b->inline_s) free(b->s);
  b->s = b->inline_s;
  return mx_fail_int(MX_EINVAL, "[%s] An input of %d dims does not broadcast to the output.", op,
                     in->ndim);
}

static inline void mx_cpu_bstrides_free(mx_cpu_bstrides *b) {
  if (b->s != b->inline_s) free(b->s);
  b->s = b->inline_s;
}

static inline char *mx_cpu_at(const mx_tensor *t, int64_t off) {
  return (char *)t->data + off * (int64_t)mx_dtype_size(t->dtype);
}

/* ---- copy.c ---- */
/* Converts n elements of dtype st (element stride ss) into dtype dt (element stride ds)
 * with the astype rules of formulas.h; same dtype is a plain copy. Source and destination
 * may coincide exactly (in place) but must not otherwise overlap. */
void mx_cpu_convert(const void *src, mx_dtype st, int64_t ss, void *dst, mx_dtype dt, int64_t ds,
                    int64_t n);
/* Copies (and converts) src into dst. Equal shapes: element by multi-index, both views may
 * be strided, broadcast or negatively strided. Different shapes with equal sizes: dst must
 * be row-contiguous and receives src in row-major order (Reshape). 0, or -1 + error. */
int mx_cpu_copy_strided(const mx_tensor *src, mx_tensor *dst);

/* ---- kernels (mx_kernel_fn), installed by register.c ----
 * Element-wise families: mx_cpu_<family>_<stem>, generated from the family lists. Other
 * families: mx_cpu_<stem>. Copy and AsType also have the faster mx_cpu_copy/mx_cpu_astype. */
#define MX_CPU_KERNEL(name)                                                                \
  int name(const mx_kernel_ctx *ctx, const mx_tensor *in, int n_in, mx_tensor *out, int n_out);
#define MX_CPU_DECL_UNARY(NAME, stem) MX_CPU_KERNEL(mx_cpu_unary_##stem)
#define MX_CPU_DECL_BINARY(NAME, stem) MX_CPU_KERNEL(mx_cpu_binary_##stem)
#define MX_CPU_DECL_COMPARE(NAME, stem) MX_CPU_KERNEL(mx_cpu_compare_##stem)
#define MX_CPU_DECL_TERNARY(NAME, stem) MX_CPU_KERNEL(mx_cpu_ternary_##stem)
#define MX_CPU_DECL_STEM(NAME, stem) MX_CPU_KERNEL(mx_cpu_##stem)
MX_UNARY_PRIMS(MX_CPU_DECL_UNARY)
MX_BINARY_PRIMS(MX_CPU_DECL_BINARY)
MX_COMPARE_PRIMS(MX_CPU_DECL_COMPARE)
MX_TERNARY_PRIMS(MX_CPU_DECL_TERNARY)
MX_REDUCE_PRIMS(MX_CPU_DECL_STEM)
MX_VIEW_PRIMS(MX_CPU_DECL_STEM)
MX_INDEXING_PRIMS(MX_CPU_DECL_STEM)
MX_MATMUL_PRIMS(MX_CPU_DECL_STEM)
MX_RANDOM_PRIMS(MX_CPU_DECL_STEM)
MX_GRAPH_PRIMS(MX_CPU_DECL_STEM)
MX_CPU_KERNEL(mx_cpu_copy)
MX_CPU_KERNEL(mx_cpu_astype)
#undef MX_CPU_DECL_UNARY
#undef MX_CPU_DECL_BINARY
#undef MX_CPU_DECL_COMPARE
#undef MX_CPU_DECL_TERNARY
#undef MX_CPU_DECL_STEM

#endif
