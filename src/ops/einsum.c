/* einsum.c: mx_einsum runs the plan of einsum_path.c node by node: repeated letters become
 * diagonals, letters of one operand only are summed, a pair with a contracted letter goes
 * through one batched matmul (transpose + reshape), anything else multiplies with
 * broadcasting and sums. Also the einsum_path entry point. */
#include "einsum_internal.h"

#include <stdlib.h>
#include <string.h>

/* Removes repeated letters of t from x by taking diagonals; the diagonal axis goes last. */
static mx_array *es_collapse(mx_array *x, mx_es_term *t, mx_stream s) {
  for (;;) {
    int p1 = -1, p2 = -1;
    for (int i = 0; i < t->len && p2 < 0; i++)
      for (int j = i + 1; j < t->len; j++)
        if (t->ch[i] == t->ch[j]) {
          p1 = i, p2 = j;
          break;
        }
    if (p2 < 0) return x;
    int8_t c = t->ch[p1];
    x = mx_diagonal(x, 0, p1, p2, s);
    if (!x) return NULL;
    int w = 0;
    for (int i = 0; i < t->len; i++)
      if (i != p1 && i != p2) t->ch[w++] = t->ch[i];
    t->ch[w++] = c;
    t->len = w;
  }
}

/* Sums the letters of node input i that no other input of the node nor its output has. */
static mx_array *es_sum_single(mx_array *x, const mx_es_node *nd, int i, mx_stream s) {
  mx_es_term *t = &nd->in[i];
  uint64_t others = nd->out.set;
  for (int j = 0; j < nd->n_in; j++)
    if (j != i) others |= nd->in[j].set;
  int axes[MX_ES_LETTERS], na = 0, w = 0;
  for (int k = 0; k < t->len; k++) {
    if (others >> t->ch[k] & 1) t->ch[w++] = t->ch[k];
    else axes[na++] = k;
  }
  if (na == 0) return x;
  t->len = w;
  t->set &= others;
  return mx_sum(x, axes, na, false, s);
}

static int es_find(const mx_es_term *t, int l) {
  for (int k = 0; k < t->len; k++)
    if (t->ch[k] == l) return k;
  return -1;
}

/* The letter order of `from` permuted into `to` (both hold the same letters). */
static mx_array *es_permute(mx_array *x, const int8_t *from, int n, const mx_es_term *to,
                            mx_stream s) {
  int perm[MX_ES_LETTERS];
  bool identity = true;
  for (int k = 0; k < to->len; k++) {
    for (int j = 0; j < n; j++)
      if (from[j] == to->ch[k]) perm[k] = j;
    identity = identity && perm[k] == k;
  }
  return identity ? x : mx_transpose(x, perm, to->len, s);
}

/* a (letters ta) and b (tb) share at least one letter the output lacks: one matmul of
 * (batch, a-only, contracted) by (batch, contracted, b-only). */
static mx_array *es_dot(mx_array *a, const mx_es_term *ta, mx_array *b, const mx_es_term *tb,
                        const mx_es_term *out, mx_stream s) {
  int pa[MX_ES_LETTERS], pb[MX_ES_LETTERS], nbat = 0, nca = 0, ncb = 0, nk = 0;
  int8_t order[MX_ES_LETTERS];
  int bat[MX_ES_LETTERS], cona[MX_ES_LETTERS], conb[MX_ES_LETTERS], kin[MX_ES_LETTERS];
  for (int i = 0; i < ta->len; i++) {
    int l = ta->ch[i];
    if (!(out->set >> l & 1)) kin[nk++] = i;
    else if (tb->set >> l & 1) bat[nbat++] = i;
    else cona[nca++] = i;
  }
  for (int i = 0; i < tb->len; i++)
    if ((out->set >> tb->ch[i] & 1) && !(ta->set >> tb->ch[i] & 1)) conb[ncb++] = i;
  /* sizes broadcast between a and b on the shared letters */
  int32_t sa[MX_ES_LETTERS], sb[MX_ES_LETTERS], ra[MX_ES_LETTERS], rb[MX_ES_LETTERS], ro[MX_ES_LETTERS];
  memcpy(sa, a->shape, (size_t)a->ndim * sizeof(int32_t));
  memcpy(sb, b->shape, (size_t)b->ndim * sizeof(int32_t));
  int64_t m = 1, n = 1, k = 1;
  int no = 0;
  for (int i = 0; i < nbat; i++) {
    int j = es_find(tb, ta->ch[bat[i]]);
    int32_t d = sa[bat[i]] > sb[j] ? sa[bat[i]] : sb[j];
    sa[bat[i]] = sb[j] = d;
    pa[i] = bat[i], pb[i] = j, ra[i] = rb[i] = ro[no] = d, order[no++] = ta->ch[bat[i]];
  }
  for (int i = 0; i < nk; i++) {
    int j = es_find(tb, ta->ch[kin[i]]);
    int32_t d = sa[kin[i]] > sb[j] ? sa[kin[i]] : sb[j];
    sa[kin[i]] = sb[j] = d;
    pa[nbat + nca + i] = kin[i], pb[nbat + i] = j, k *= d;
  }
  for (int i = 0; i < nca; i++)
    pa[nbat + i] = cona[i], m *= sa[cona[i]], ro[no] = sa[cona[i]], order[no++] = ta->ch[cona[i]];
  for (int i = 0; i < ncb; i++)
    pb[nbat + nk + i] = conb[i], n *= sb[conb[i]], ro[no] = sb[conb[i]], order[no++] = tb->ch[conb[i]];
  if (m > INT32_MAX || n > INT32_MAX || k > INT32_MAX)
    return mx_fail(MX_EINVAL, "[einsum] A contraction of %lld x %lld by %lld x %lld is beyond "
                              "the supported size.", (long long)m, (long long)k, (long long)k,
                   (long long)n);
  ra[nbat] = (int32_t)m, ra[nbat + 1] = (int32_t)k;
  rb[nbat] = (int32_t)k, rb[nbat + 1] = (int32_t)n;
  a = mx_broadcast_to(a, sa, a->ndim, s);
  b = mx_broadcast_to(b, sb, b->ndim, s);
  a = mx_reshape(mx_transpose(a, pa, ta->len, s), ra, nbat + 2, s);
  b = mx_reshape(mx_transpose(b, pb, tb->len, s), rb, nbat + 2, s);
  mx_array *r = mx_reshape(mx_matmul(a, b, s), ro, no, s);
  return r ? es_permute(r, order, no, out, s) : NULL;
}

/* Multiplies the node's operands aligned on a common letter order and sums what the output
 * lacks. */
static mx_array *es_naive(mx_array **x, const mx_es_node *nd, mx_stream s) {
  int8_t order[MX_ES_LETTERS];
  int n = 0;
  uint64_t seen = 0;
  for (int i = 0; i < nd->n_in; i++)
    for (int k = 0; k < nd->in[i].len; k++)
      if (!(seen >> nd->in[i].ch[k] & 1)) seen |= 1ull << nd->in[i].ch[k], order[n++] = nd->in[i].ch[k];
  mx_array *acc = NULL;
  for (int i = 0; i < nd->n_in; i++) {
    const mx_es_term *t = &nd->in[i];
    mx_array *v = x[nd->pos[i]];
    int32_t shape[MX_ES_LETTERS];
    int perm[MX_ES_LETTERS], extra = t->len;
    memcpy(shape, v->shape, (size_t)t->len * sizeof(int32_t));
    for (int k = t->len; k < n; k++) shape[k] = 1;
    bool identity = true;
    for (int k = 0; k < n; k++) {
      int j = es_find(t, order[k]);
      perm[k] = j >= 0 ? j : extra++;
      identity = identity && perm[k] == k;
    }
    if (n != t->len) v = mx_reshape(v, shape, n, s);
    if (!identity) v = mx_transpose(v, perm, n, s);
    acc = acc ? mx_multiply(acc, v, s) : v;
  }
  int axes[MX_ES_LETTERS], na = 0, w = 0;
  int8_t kept[MX_ES_LETTERS];
  for (int k = 0; k < n; k++) {
    if (nd->out.set >> order[k] & 1) kept[w++] = order[k];
    else axes[na++] = k;
  }
  if (na) acc = mx_sum(acc, axes, na, false, s);
  return acc ? es_permute(acc, kept, w, &nd->out, s) : NULL;
}

mx_array *mx_einsum(const char *subscripts, mx_array *const *operands, int n, mx_stream s) {
  if (!subscripts) return mx_fail(MX_EINVAL, "[einsum] The subscripts are missing.");
  mx_es_plan plan;
  if (mx_es_plan_make("einsum", subscripts, operands, n, &plan) < 0) return NULL;
  mx_array **x = malloc((size_t)(n + 1) * sizeof(mx_array *));
  if (!x) {
    mx_es_plan_free(&plan);
    return mx_fail(MX_ENOMEM, "[einsum] out of memory.");
  }
  memcpy(x, operands, (size_t)n * sizeof(mx_array *));
  int live = n;
  mx_array *r = NULL;
  MX_SCOPE_BEGIN;
  for (int i = 0; i < plan.n_nodes; i++) {
    mx_es_node *nd = &plan.nodes[i];
    for (int j = 0; j < nd->n_in; j++) {
      mx_es_term *t = &nd->in[j];
      x[nd->pos[j]] = es_collapse(x[nd->pos[j]], t, s);
      if (!x[nd->pos[j]]) goto end;
    }
    for (int j = 0; j < nd->n_in; j++)
      if (!(x[nd->pos[j]] = es_sum_single(x[nd->pos[j]], nd, j, s))) goto end;
    bool dot = nd->n_in == 2 && (nd->in[0].set & ~nd->out.set) != 0;
    mx_array *y = dot ? es_dot(x[nd->pos[0]], &nd->in[0], x[nd->pos[1]], &nd->in[1], &nd->out, s)
                      : es_naive(x, nd, s);
    if (!y) goto end;
    int w = 0;
    for (int k = 0; k < live; k++) {
      bool used = false;
      for (int j = 0; j < nd->n_in; j++) used = used || nd->pos[j] == k;
      if (!used) x[w++] = x[k];
    }
    x[w++] = y;
    live = w;
  }
  r = x[0];
end:
  free(x);
  mx_es_plan_free(&plan);
  MX_SCOPE_RETURN(r);
}

int mx_einsum_path(const char *subscripts, mx_array *const *operands, int n, int **path,
                   int *path_len, char **description) {
  if (!subscripts) return mx_fail_int(MX_EINVAL, "[einsum_path] The subscripts are missing.");
  mx_es_plan plan;
  if (mx_es_plan_make("einsum_path", subscripts, operands, n, &plan) < 0) return -1;
  int total = 0;
  for (int i = 0; i < plan.n_nodes; i++) total += plan.nodes[i].n_in + 1;
  *path = malloc((size_t)(total > 0 ? total : 1) * sizeof(int));
  *description = *path ? mx_es_plan_describe(&plan, subscripts) : NULL;
  if (!*path || !*description) {
    free(*path);
    *path = NULL;
    mx_es_plan_free(&plan);
    return mx_fail_int(MX_ENOMEM, "[einsum_path] out of memory.");
  }
  int k = 0;
  for (int i = 0; i < plan.n_nodes; i++) {
    (*path)[k++] = plan.nodes[i].n_in;
    for (int j = 0; j < plan.nodes[i].n_in; j++) (*path)[k++] = plan.nodes[i].pos[j];
  }
  *path_len = plan.n_nodes;
  mx_es_plan_free(&plan);
  return 0;
}
