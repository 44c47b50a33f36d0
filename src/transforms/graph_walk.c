/* graph_walk.c: node maps (open addressing with tombstones), the traced post-order, and the
 * end of a trace (tracer flags cleared once no transformation is active on the thread). */
#include "graph_walk.h"

#include <stdlib.h>

#include "../core/error.h"
#include "../core/eval.h"

#define TOMB ((const mx_array *)1)

static size_t slot_of(const mx_node_map *m, const mx_array *k) {
  size_t h = ((uintptr_t)k >> 4) * 0x9E3779B97F4A7C15ull;
  return (h >> 7) & (m->cap - 1);
}

static long find(const mx_node_map *m, const mx_array *k) {
  if (!m->cap) return -1;
  size_t i = slot_of(m, k);
  for (;;) {
    if (!m->keys[i]) return -1;
    if (m->keys[i] == k) return (long)i;
    i = (i + 1) & (m->cap - 1);
  }
}

mx_array *mx_node_map_get(const mx_node_map *m, const mx_array *k) {
  long i = find(m, k);
  return i < 0 ? NULL : m->vals[i];
}

static int grow(mx_node_map *m) {
  size_t cap = m->cap ? m->cap * 2 : 64;
  const mx_array **keys = calloc(cap, sizeof *keys);
  mx_array **vals = calloc(cap, sizeof *vals);
  int32_t *tags = calloc(cap, sizeof *tags);
  if (!keys || !vals || !tags) {
    free(keys);
    free(vals);
    free(tags);
    return mx_fail_int(MX_ENOMEM, "[transform] out of memory.");
  }
  mx_node_map nm = {keys, vals, 0, cap, tags};
  for (size_t i = 0; i < m->cap; i++) {
    if (!m->keys[i] || m->keys[i] == TOMB) continue;
    size_t j = slot_of(&nm, m->keys[i]);
    while (nm.keys[j]) j = (j + 1) & (cap - 1);
    nm.keys[j] = m->keys[i];
    nm.vals[j] = m->vals[i];
    nm.tags[j] = m->tags[i];
    nm.n++;
  }
  free(m->keys);
  free(m->vals);
  free(m->tags);
  *m = nm;
  return 0;
}

int mx_node_map_put_tagged(mx_node_map *m, const mx_array *k, mx_array *v, int32_t tag) {
  long i = find(m, k);
  if (i >= 0) {
    mx_array_release(m->vals[i]);
    m->vals[i] = v;
    m->tags[i] = tag;
    return 0;
  }
  if ((m->n + 1) * 2 > m->cap && grow(m) != 0) {
    mx_array_release(v);
    return -1;
  }
  size_t j = slot_of(m, k);
  while (m->keys[j] && m->keys[j] != TOMB) j = (j + 1) & (m->cap - 1);
  m->keys[j] = k;
  m->vals[j] = v;
  m->tags[j] = tag;
  m->n++;
  return 0;
}

int mx_node_map_put(mx_node_map *m, const mx_array *k, mx_array *v) {
  return mx_node_map_put_tagged(m, k, v, 0);
}

mx_array *mx_node_map_get_tagged(const mx_node_map *m, const mx_array *k, int32_t *tag) {
  long i = find(m, k);
  if (i < 0) return NULL;
  *tag = m->tags[i];
  return m->vals[i];
}

mx_array *mx_node_map_take(mx_node_map *m, const mx_array *k) {
  long i = find(m, k);
  if (i < 0) return NULL;
  mx_array *v = m->vals[i];
  m->vals[i] = NULL;
  return v;
}

void mx_node_map_free(mx_node_map *m) {
  for (size_t i = 0; i < m->cap; i++)
    if (m->keys[i] && m->keys[i] != TOMB) mx_array_release(m->vals[i]);
  free(m->keys);
  free(m->vals);
  free(m->tags);
  m->keys = NULL;
  m->vals = NULL;
  m->tags = NULL;
  m->n = m->cap = 0;
}

typedef struct frame {
  mx_array *node;
  int next;
} frame;

int mx_traced_order(mx_array *const *outs, int n, mx_array ***order_out, size_t *n_order) {
  mx_node_map seen = {0};
  frame *stack = NULL;
  mx_array **order = NULL;
  size_t sn = 0, scap = 0, on = 0, ocap = 0;
  int rc = 0;
  for (int r = 0; r < n && rc == 0; r++) {
    mx_array *root = outs[r];
    if (!root || !root->tracer || !root->op || mx_node_map_get(&seen, root)) continue;
    mx_array_retain(root);
    if (mx_node_map_put(&seen, root, root) != 0) { rc = -1; break; }
    if (sn == scap) {
      scap = scap ? scap * 2 : 256;
      frame *ns = realloc(stack, scap * sizeof *ns);
      if (!ns) { rc = mx_fail_int(MX_ENOMEM, "[transform] out of memory."); break; }
      stack = ns;
    }
    stack[sn++] = (frame){root, 0};
    while (sn && rc == 0) {
      frame *f = &stack[sn - 1];
      mx_op *op = f->node->op;
      if (f->next < op->n_in) {
        mx_array *in = op->inputs[f->next++];
        if (in->tracer && in->op && !mx_node_map_get(&seen, in)) {
          mx_array_retain(in);
          if (mx_node_map_put(&seen, in, in) != 0) { rc = -1; break; }
          if (sn == scap) {
            scap *= 2;
            frame *ns = realloc(stack, scap * sizeof *ns);
            if (!ns) { rc = mx_fail_int(MX_ENOMEM, "[transform] out of memory."); break; }
            stack = ns;
          }
          stack[sn++] = (frame){in, 0};
        }
        continue;
      }
      if (on == ocap) {
        ocap = ocap ? ocap * 2 : 256;
        mx_array **no = realloc(order, ocap * sizeof *no);
        if (!no) { rc = mx_fail_int(MX_ENOMEM, "[transform] out of memory."); break; }
        order = no;
      }
      mx_array_retain(f->node);
      order[on++] = f->node;
      sn--;
      /* siblings go right after, so reverse walks meet them together */
      for (int k = 0; k < op->n_out && rc == 0; k++) {
        mx_array *sib = op->outputs[k];
        if (!sib || sib == order[on - 1] || mx_node_map_get(&seen, sib)) continue;
        mx_array_retain(sib);
        if (mx_node_map_put(&seen, sib, sib) != 0) { rc = -1; break; }
        if (on == ocap) {
          ocap *= 2;
          mx_array **no = realloc(order, ocap * sizeof *no);
          if (!no) { rc = mx_fail_int(MX_ENOMEM, "[transform] out of memory."); break; }
          order = no;
        }
        mx_array_retain(sib);
        order[on++] = sib;
      }
    }
  }
  free(stack);
  mx_node_map_free(&seen);
  if (rc != 0) {
    for (size_t i = 0; i < on; i++) mx_array_release(order[i]);
    free(order);
    return -1;
  }
  *order_out = order;
  *n_order = on;
  return 0;
}

/* Clears the tracer flag of every tracer node reachable from roots (the flag itself marks
 * what is left to visit, so the walk needs no visited set). */
static void untrace(mx_array *const *roots, int n) {
  size_t sn = 0, scap = 64;
  mx_array **stack = malloc(scap * sizeof *stack);
  if (!stack) return; /* the flags only keep graphs alive longer */
  mx_graph_lock();
  for (int r = 0; r < n; r++) {
    if (!roots[r] || !roots[r]->tracer) continue;
    roots[r]->tracer = 0;
    stack[sn++] = roots[r];
    while (sn) {
      mx_array *a = stack[--sn];
      mx_op *op = a->op;
      if (!op) continue;
      for (int k = 0; k < op->n_out; k++)
        if (op->outputs[k]) op->outputs[k]->tracer = 0;
      for (int i = 0; i < op->n_in; i++) {
        mx_array *in = op->inputs[i];
        if (!in->tracer) continue;
        in->tracer = 0;
        if (sn == scap) {
          mx_array **ns = realloc(stack, scap * 2 * sizeof *ns);
          if (!ns) goto out;
          stack = ns;
          scap *= 2;
        }
        stack[sn++] = in;
      }
    }
  }
out:
  mx_graph_unlock();
  free(stack);
}

void mx_trace_finish(mx_array *const *a, int na, mx_array *const *b, int nb) {
  if (mx_trace_depth() > 0) return;
  untrace(a, na);
  untrace(b, nb);
}

int mx_rule_missing(const char *which, const mx_op *op) {
  if (op->prim == MX_PRIM_VIEW && op->params) /* MLX prints View with its dtype */
    return mx_fail_int(MX_EINVAL, "[Primitive::%s] Not implemented for View %s.", which,
                       mx_dtype_name((mx_dtype)((const mx_p_view *)op->params)->dtype));
  return mx_fail_int(MX_EINVAL, "[Primitive::%s] Not implemented for %s.", which, mx_prim_name(op->prim));
}
