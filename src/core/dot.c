/* dot.c: DOT export of a lazy graph (mx.export_to_dot). Iterative walk from the outputs;
 * arrays are boxes labelled by name, shape and dtype, ops are ellipses labelled by the
 * primitive and its parameters. Unnamed arrays get A, B, ..., Z, AA, ... */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "eval.h"
#include "op.h"

typedef struct seen {
  const void **keys;
  size_t n, cap;
} seen;

/* Open addressing set of pointers; returns 1 if newly inserted, 0 if present, -1 on OOM. */
static int seen_add(seen *s, const void *k) {
  if ((s->n + 1) * 2 > s->cap) {
    size_t cap = s->cap ? s->cap * 2 : 256;
    const void **nk = calloc(cap, sizeof *nk);
    if (!nk) return -1;
    for (size_t i = 0; i < s->cap; i++) {
      if (!s->keys[i]) continue;
      size_t h = ((uintptr_t)s->keys[i] >> 4) & (cap - 1);
      while (nk[h]) h = (h + 1) & (cap - 1);
      nk[h] = s->keys[i];
    }
    free(s->keys);
    s->keys = nk;
    s->cap = cap;
  }
  size_t h = ((uintptr_t)k >> 4) & (s->cap - 1);
  while (s->keys[h]) {
    if (s->keys[h] == k) return 0;
    h = (h + 1) & (s->cap - 1);
  }
  s->keys[h] = k;
  s->n++;
  return 1;
}

static void letter_name(size_t i, char *buf) {
  char tmp[16];
  int n = 0;
  i++;
  while (i > 0 && n < 15) {
    i--;
    tmp[n++] = (char)('A' + i % 26);
    i /= 26;
  }
  for (int k = 0; k < n; k++) buf[k] = tmp[n - 1 - k];
  buf[n] = '\0';
}

static void put_array(FILE *f, const mx_array *a, const char *label) {
  fprintf(f, "  \"a%p\" [shape=box, label=\"%s\\n(", (const void *)a, label);
  for (int d = 0; d < a->ndim; d++) fprintf(f, d ? ", %d" : "%d", a->shape[d]);
  fprintf(f, ") %s\"];\n", mx_dtype_name(a->dtype));
}

int mx_export_to_dot(void *file, mx_array *const *outs, const char *const *names, int n) {
  FILE *f = file;
  seen arrays = {0}, ops = {0};
  mx_array **stack = NULL;
  size_t sn = 0, scap = 0, unnamed = 0;
  int rc = 0;
  fprintf(f, "digraph {\n");
  mx_graph_lock();
  for (int i = 0; i < n && rc == 0; i++) {
    if (!outs[i]) continue;
    int ins = seen_add(&arrays, outs[i]);
    if (ins < 0) rc = -1;
    if (ins != 1) continue;
    put_array(f, outs[i], names && names[i] ? names[i] : "");
    if (sn == scap) {
      scap = scap ? scap * 2 : 256;
      mx_array **ns = realloc(stack, scap * sizeof *ns);
      if (!ns) { rc = -1; break; }
      stack = ns;
    }
    stack[sn++] = outs[i];
  }
  while (sn && rc == 0) {
    mx_array *a = stack[--sn];
    mx_op *op = a->op;
    if (!op) continue;
    int fresh = seen_add(&ops, op);
    if (fresh < 0) { rc = -1; break; }
    fprintf(f, "  \"a%p\" -> \"a%p\";\n", (void *)op, (void *)a);
    if (!fresh) continue;
    char params[256];
    mx_params_print(op->prim, op->params, params, sizeof params);
    fprintf(f, "  \"a%p\" [label=\"%s%s%s\"];\n", (void *)op, mx_prim_name(op->prim),
            params[0] ? "\\n" : "", params);
    for (int i = 0; i < op->n_in; i++) {
      mx_array *in = op->inputs[i];
      int ins = seen_add(&arrays, in);
      if (ins < 0) { rc = -1; break; }
      if (ins == 1) {
        char name[16];
        letter_name(unnamed++, name);
        put_array(f, in, name);
        if (sn == scap) {
          scap = scap ? scap * 2 : 256;
          mx_array **ns = realloc(stack, scap * sizeof *ns);
          if (!ns) { rc = -1; break; }
          stack = ns;
        }
        stack[sn++] = in;
      }
      fprintf(f, "  \"a%p\" -> \"a%p\";\n", (void *)in, (void *)op);
    }
  }
  mx_graph_unlock();
  fprintf(f, "}\n");
  free(stack);
  free(arrays.keys);
  free(ops.keys);
  if (rc) return mx_fail_int(MX_ENOMEM, "[export_to_dot] out of memory.");
  return 0;
}
