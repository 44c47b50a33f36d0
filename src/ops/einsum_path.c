/* einsum_path.c: parsing of einsum subscripts (implicit and explicit output, one ellipsis
 * per term, repeated letters, size-1 broadcasting) and the greedy contraction-path search
 * with MLX's cost model (flops = size of the letters involved times the term factor). */
#include "einsum_internal.h"
#include "layout_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int es_letter(char c) {
  if (c >= 'a' && c <= 'z') return c - 'a';
  if (c >= 'A' && c <= 'Z') return 26 + (c - 'A');
  return -1;
}

static char es_char(int l) { return (char)(l < 26 ? 'a' + l : 'A' + (l - 26)); }

static int es_popcount(uint64_t x) {
  int n = 0;
  for (; x; x &= x - 1) n++;
  return n;
}

static uint64_t es_set_size(uint64_t set, const int64_t *dim) {
  uint64_t n = 1;
  for (int l = 0; l < MX_ES_LETTERS; l++)
    if (set >> l & 1) n *= (uint64_t)dim[l];
  return n;
}

static uint64_t es_flops(uint64_t set, bool inner, int n_terms, const int64_t *dim) {
  uint64_t f = n_terms - 1 > 1 ? (uint64_t)(n_terms - 1) : 1;
  return es_set_size(set, dim) * (f + (inner ? 1 : 0));
}

static int es_term_set(mx_es_term *t, const int8_t *ch, int len) {
  t->len = len;
  t->ch = malloc((size_t)(len > 0 ? len : 1));
  if (!t->ch) return mx_fail_int(MX_ENOMEM, "[einsum] out of memory.");
  memcpy(t->ch, ch, (size_t)len);
  t->set = 0;
  for (int i = 0; i < len; i++) t->set |= 1ull << ch[i];
  return 0;
}

/* A term of the letters of set, smallest dims first (ties by letter). */
static int es_term_from_set(mx_es_term *t, uint64_t set, const int64_t *dim) {
  int8_t ch[MX_ES_LETTERS];
  int n = 0;
  for (int l = 0; l < MX_ES_LETTERS; l++)
    if (set >> l & 1) {
      int k = n++;
      while (k > 0 && dim[ch[k - 1]] > dim[l]) ch[k] = ch[k - 1], k--;
      ch[k] = (int8_t)l;
    }
  return es_term_set(t, ch, n);
}

void mx_es_plan_free(mx_es_plan *plan) {
  for (int i = 0; i < plan->n_nodes; i++) {
    mx_es_node *nd = &plan->nodes[i];
    for (int j = 0; j < nd->n_in; j++) free(nd->in[j].ch);
    free(nd->in);
    free(nd->pos);
    free(nd->out.ch);
  }
  free(plan->nodes);
  plan->nodes = NULL;
  plan->n_nodes = 0;
}

/* ---- parsing ---- */

typedef struct es_parsed {
  int n;          /* input terms */
  char **in;      /* expanded text of each input term */
  char *out;
} es_parsed;

static void es_parsed_free(es_parsed *p) {
  if (p->in)
    for (int i = 0; i < p->n; i++) free(p->in[i]);
  free(p->in);
  free(p->out);
}

static char *es_strndup(const char *s, size_t n) {
  char *r = malloc(n + 1);
  if (!r) return mx_fail(MX_ENOMEM, "[einsum] out of memory.");
  memcpy(r, s, n);
  r[n] = 0;
  return r;
}

static int es_cmp_char(const void *a, const void *b) {
  return (int)*(const unsigned char *)a - (int)*(const unsigned char *)b;
}

/* Splits into input terms and the output (inferred in implicit mode: an ellipsis first,
 * then the letters used once, sorted). */
static int es_split(const char *subscripts, es_parsed *p) {
  size_t n = strlen(subscripts);
  char *s = malloc(n + 4), *rhs = NULL;
  if (!s) return mx_fail_int(MX_ENOMEM, "[einsum] out of memory.");
  size_t m = 0;
  for (size_t i = 0; i < n; i++)
    if (subscripts[i] != ' ') s[m++] = subscripts[i];
  s[m] = 0;
  char *arrow = strstr(s, "->");
  if (arrow) {
    *arrow = 0;
    rhs = es_strndup(arrow + 2, strlen(arrow + 2));
  } else {
    int count[256] = {0};
    bool dots = false;
    rhs = malloc(m + 4);
    if (rhs) {
      size_t k = 0;
      for (size_t i = 0; i < m; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == ',') continue;
        if (c == '.' && !dots) {
          dots = true;
          continue;
        }
        count[c]++;
      }
      if (dots) memcpy(rhs, "...", 3), k = 3;
      for (int c = 0; c < 256; c++)
        if (count[c] == 1) rhs[k++] = (char)c;
      rhs[k] = 0;
      qsort(rhs, k, 1, es_cmp_char);
    } else {
      mx_fail(MX_ENOMEM, "[einsum] out of memory.");
    }
  }
  if (!rhs) {
    free(s);
    return -1;
  }
  p->out = rhs;
  int terms = 1;
  for (char *c = s; *c; c++) terms += *c == ',';
  p->in = calloc((size_t)terms, sizeof(char *));
  if (!p->in) {
    free(s);
    return mx_fail_int(MX_ENOMEM, "[einsum] out of memory.");
  }
  p->n = terms;
  char *start = s;
  for (int t = 0; t < terms; t++) {
    char *comma = strchr(start, ',');
    size_t len = comma ? (size_t)(comma - start) : strlen(start);
    if (!(p->in[t] = es_strndup(start, len))) {
      free(s);
      return -1;
    }
    start += len + 1;
  }
  free(s);
  return 0;
}

/* Checks a term's characters and replaces its ellipsis by the last letters of `spare`
 * (as many as the operand's extra dims; the output takes the longest). */
static int es_expand(const char *name, char **term, mx_array *op, int idx, const char *spare,
                     int *max_ell) {
  char *t = *term;
  int len = (int)strlen(t), before = 0, after = 0, at = -1;
  for (int i = 0; i < len; i++) {
    if (es_letter(t[i]) < 0) {
      if (i + 2 >= len || t[i] != '.' || t[i + 1] != '.' || t[i + 2] != '.')
        return mx_fail_int(MX_EINVAL, "[%s] Subscripts must be letters, but got '%c'.", name, t[i]);
      if (at >= 0)
        return mx_fail_int(MX_EINVAL, "[%s] Only one ellipsis per subscript is allowed but found "
                                      "more in '%s'.", name, t);
      at = i;
      i += 2;
      continue;
    }
    if (at >= 0) after++;
    else before++;
  }
  if (at < 0) return 0;
  int ell;
  if (op) {
    ell = op->ndim - before - after;
    if (ell < 0) {
      char sh[256];
      mx_lay_shape_str(sh, sizeof sh, op->ndim, op->shape);
      return mx_fail_int(MX_EINVAL, "[%s] Operand %d with shape %s has insufficient dimensions "
                                    "for subscript '%s'. The ellipsis requires at least %d "
                                    "dimensions but the operand has %d dimensions.",
                         name, idx, sh, t, before + after, op->ndim);
    }
    if (ell > *max_ell) *max_ell = ell;
  } else {
    ell = *max_ell;
  }
  int nspare = (int)strlen(spare);
  if (ell > nspare)
    return mx_fail_int(MX_EINVAL, "[%s] The ellipsis needs %d letters but only %d are unused.",
                       name, ell, nspare);
  char *r = malloc((size_t)(before + after + ell + 1));
  if (!r) return mx_fail_int(MX_ENOMEM, "[einsum] out of memory.");
  memcpy(r, t, (size_t)before);
  memcpy(r + before, spare + nspare - ell, (size_t)ell);
  memcpy(r + before + ell, t + at + 3, (size_t)after);
  r[before + after + ell] = 0;
  free(t);
  *term = r;
  return 0;
}

/* ---- the greedy path ---- */

typedef struct es_cand {
  int64_t removed;          /* size freed by the contraction (may be negative) */
  uint64_t cost, out;
  int dims, x, y;
} es_cand;

typedef struct es_greedy {
  mx_es_term *terms;        /* the running operand terms */
  int n;
  es_cand *cand;
  int n_cand, cap_cand;
  uint64_t out_set, mem_limit, cost_limit, path_cost;
  const int64_t *dim;
} es_greedy;

static int es_add_cand(es_greedy *g, int p1, int p2) {
  uint64_t both = g->terms[p1].set | g->terms[p2].set, rest = g->out_set;
  for (int i = 0; i < g->n; i++)
    if (i != p1 && i != p2) rest |= g->terms[i].set;
  uint64_t keep = both & rest;
  uint64_t new_size = es_set_size(keep, g->dim);
  if (new_size > g->mem_limit) return 0;
  int64_t removed = (int64_t)(es_set_size(g->terms[p1].set, g->dim) +
                              es_set_size(g->terms[p2].set, g->dim) - new_size);
  bool inner = es_popcount(both) > es_popcount(keep);
  uint64_t cost = es_flops(both, inner, 2, g->dim);
  if (g->path_cost + cost > g->cost_limit) return 0;
  if (g->n_cand == g->cap_cand) {
    int cap = g->cap_cand ? 2 * g->cap_cand : 16;
    es_cand *c = realloc(g->cand, (size_t)cap * sizeof(es_cand));
    if (!c) return mx_fail_int(MX_ENOMEM, "[einsum] out of memory.");
    g->cand = c, g->cap_cand = cap;
  }
  g->cand[g->n_cand++] = (es_cand){removed, cost, keep, es_popcount(both), p1, p2};
  return 0;
}

static int es_node_init(mx_es_node *nd, int n_in) {
  nd->n_in = n_in;
  nd->pos = malloc((size_t)n_in * sizeof(int));
  nd->in = calloc((size_t)n_in, sizeof(mx_es_term));
  nd->out.ch = NULL;
  if (!nd->pos || !nd->in) return mx_fail_int(MX_ENOMEM, "[einsum] out of memory.");
  return 0;
}

/* Moves the remaining terms into one naive node (all positions). */
static int es_naive_node(mx_es_plan *plan, es_greedy *g, const mx_es_term *out) {
  mx_es_node *nd = &plan->nodes[plan->n_nodes++];
  if (es_node_init(nd, g->n) < 0) return -1;
  uint64_t all = 0;
  for (int i = 0; i < g->n; i++) {
    nd->pos[i] = i;
    nd->in[i] = g->terms[i];
    all |= g->terms[i].set;
    g->terms[i].ch = NULL;
  }
  bool inner = (all & ~out->set) != 0;
  g->path_cost += es_flops(all, inner, g->n, plan->dim);
  if (es_popcount(all) > plan->opt_scaling) plan->opt_scaling = es_popcount(all);
  g->n = 0;
  return es_term_set(&nd->out, out->ch, out->len);
}

static int es_greedy_path(mx_es_plan *plan, es_greedy *g, const mx_es_term *out) {
  int rc = 0, n0 = g->n;
  /* pairs to consider this round: all at first, then (i, newest) */
  int *pairs = malloc((size_t)n0 * (size_t)n0 * 2 * sizeof(int));
  if (!pairs) return mx_fail_int(MX_ENOMEM, "[einsum] out of memory.");
  int n_pairs = 0;
  for (int i = 0; i < n0; i++)
    for (int j = i + 1; j < n0; j++) pairs[2 * n_pairs] = i, pairs[2 * n_pairs + 1] = j, n_pairs++;
  for (int it = 0; it < n0 - 1 && rc == 0; it++) {
    for (int k = 0; k < n_pairs && rc == 0; k++) {
      int p1 = pairs[2 * k], p2 = pairs[2 * k + 1];
      if (g->terms[p1].set & g->terms[p2].set) rc = es_add_cand(g, p1, p2);
    }
    if (rc == 0 && g->n_cand == 0) /* outer products only if nothing else */
      for (int k = 0; k < n_pairs && rc == 0; k++) rc = es_add_cand(g, pairs[2 * k], pairs[2 * k + 1]);
    if (rc) break;
    if (g->n_cand == 0) {
      rc = es_naive_node(plan, g, out);
      break;
    }
    es_cand best = g->cand[0];
    for (int k = 1; k < g->n_cand; k++) {
      es_cand *c = &g->cand[k];
      if (c->removed > best.removed || (c->removed == best.removed && c->cost < best.cost)) best = *c;
    }
    if (best.dims > plan->opt_scaling) plan->opt_scaling = best.dims;
    mx_es_node *nd = &plan->nodes[plan->n_nodes++];
    if ((rc = es_node_init(nd, 2)) < 0) break;
    nd->pos[0] = best.x, nd->pos[1] = best.y;
    nd->in[0] = g->terms[best.x], nd->in[1] = g->terms[best.y];
    if ((rc = es_term_from_set(&nd->out, best.out, plan->dim)) < 0) break;
    /* drop x and y, append the result */
    int w = 0;
    for (int i = 0; i < g->n; i++)
      if (i != best.x && i != best.y) g->terms[w++] = g->terms[i];
    g->n = w;
    if ((rc = es_term_set(&g->terms[g->n], nd->out.ch, nd->out.len)) < 0) break;
    g->n++;
    w = 0;
    for (int k = 0; k < g->n_cand; k++) {
      es_cand c = g->cand[k];
      if (c.x == best.x || c.x == best.y || c.y == best.x || c.y == best.y) continue;
      c.x -= (c.x > best.x) + (c.x > best.y);
      c.y -= (c.y > best.x) + (c.y > best.y);
      g->cand[w++] = c;
    }
    g->n_cand = w;
    n_pairs = 0;
    for (int i = 0; i < g->n - 1; i++) pairs[2 * n_pairs] = i, pairs[2 * n_pairs + 1] = g->n - 1, n_pairs++;
    g->path_cost += best.cost;
  }
  free(pairs);
  if (rc == 0) {
    mx_es_node *last = &plan->nodes[plan->n_nodes - 1];
    free(last->out.ch);
    rc = es_term_set(&last->out, out->ch, out->len);
  }
  return rc;
}

/* ---- the plan ---- */

static int es_to_term(mx_es_term *t, const char *text) {
  int len = (int)strlen(text);
  int8_t buf[256], *ch = len <= 256 ? buf : malloc((size_t)len);
  if (!ch) return mx_fail_int(MX_ENOMEM, "[einsum] out of memory.");
  for (int i = 0; i < len; i++) ch[i] = (int8_t)es_letter(text[i]);
  int rc = es_term_set(t, ch, len);
  if (ch != buf) free(ch);
  return rc;
}

static int es_check_dims(const char *name, const mx_es_term *t, mx_array *op, int i, int64_t *dim) {
  char sh[256];
  if (t->len != op->ndim)
    return mx_fail_int(MX_EINVAL, "[%s] Invalid number of subscripts %d for input %d with %d "
                                  "dimensions.", name, t->len, i, op->ndim);
  if (es_popcount(t->set) < t->len) {
    int64_t local[MX_ES_LETTERS] = {0};
    for (int j = 0; j < t->len; j++) {
      int64_t d = op->shape[j];
      if (local[t->ch[j]] == 0) local[t->ch[j]] = d + 1;
      else if (local[t->ch[j]] - 1 != d)
        return mx_fail_int(MX_EINVAL, "[%s] Dimensions of repeated subscripts do not have the "
                                      "same size (%lld != %lld).",
                           name, (long long)(local[t->ch[j]] - 1), (long long)d);
    }
  }
  for (int j = 0; j < t->len; j++) {
    int l = t->ch[j];
    int64_t d = op->shape[j];
    if (dim[l] < 0) {
      dim[l] = d;
    } else if (d != 1 && dim[l] != 1 && dim[l] != d) {
      mx_lay_shape_str(sh, sizeof sh, op->ndim, op->shape);
      return mx_fail_int(MX_EINVAL, "[%s] Cannot broadcast dimension %d of input %d with shape "
                                    "%s to size %lld.", name, j, i, sh, (long long)dim[l]);
    } else if (d > dim[l]) {
      dim[l] = d;
    }
  }
  return 0;
}

int mx_es_plan_make(const char *name, const char *subscripts, mx_array *const *ops, int n,
                    mx_es_plan *plan) {
  memset(plan, 0, sizeof *plan);
  for (int i = 0; i < n; i++)
    if (!ops[i]) return -1;
  if (n == 0) return mx_fail_int(MX_EINVAL, "[%s] At least one operand is required.", name);
  es_parsed p = {0, NULL, NULL};
  mx_es_term *terms = NULL, out = {0, NULL, 0};
  es_greedy g = {0};
  int rc = es_split(subscripts, &p);
  if (rc == 0 && p.n != n)
    rc = mx_fail_int(MX_EINVAL, "[%s] Number of operands, %d, does not match number of input "
                                "subscripts, %d", name, n, p.n);
  char spare[MX_ES_LETTERS + 1];
  if (rc == 0) {
    bool used[256] = {false};
    for (const char *c = subscripts; *c; c++) used[(unsigned char)*c] = true;
    int k = 0;
    for (int l = 0; l < MX_ES_LETTERS; l++)
      if (!used[(unsigned char)es_char(l)]) spare[k++] = es_char(l);
    spare[k] = 0;
    int max_ell = 0;
    for (int i = 0; i < n && rc == 0; i++) rc = es_expand(name, &p.in[i], ops[i], i, spare, &max_ell);
    if (rc == 0) rc = es_expand(name, &p.out, NULL, -1, spare, &max_ell);
  }
  if (rc == 0) {
    if (!(terms = calloc((size_t)n + 1, sizeof(mx_es_term)))) rc = mx_fail_int(MX_ENOMEM, "[einsum] out of memory.");
  }
  if (rc == 0 && (rc = es_to_term(&out, p.out)) == 0 && es_popcount(out.set) < out.len)
    rc = mx_fail_int(MX_EINVAL, "[%s] Repeat indices not allowed in output.", name);
  for (int l = 0; l < MX_ES_LETTERS; l++) plan->dim[l] = -1;
  for (int i = 0; i < n && rc == 0; i++)
    if ((rc = es_to_term(&terms[i], p.in[i])) == 0) rc = es_check_dims(name, &terms[i], ops[i], i, plan->dim);
  uint64_t all = 0;
  for (int i = 0; i < n && rc == 0; i++) all |= terms[i].set;
  if (rc == 0 && (out.set & ~all)) {
    int l = 0;
    while (!((out.set & ~all) >> l & 1)) l++;
    rc = mx_fail_int(MX_EINVAL, "[%s] Output subscript '%c' does not appear in any input.", name,
                     es_char(l));
  }
  if (rc == 0) {
    for (int l = 0; l < MX_ES_LETTERS; l++)
      if (plan->dim[l] < 0) plan->dim[l] = 0;
    uint64_t max_size = 1;
    for (int j = 0; j < out.len; j++) max_size *= (uint64_t)plan->dim[out.ch[j]];
    for (int i = 0; i < n; i++) {
      uint64_t sz = 1;
      for (int j = 0; j < terms[i].len; j++) sz *= (uint64_t)plan->dim[terms[i].ch[j]];
      if (sz > max_size) max_size = sz;
    }
    plan->naive_cost = es_flops(all, (all & ~out.set) != 0, n, plan->dim);
    plan->naive_scaling = es_popcount(all);
    plan->nodes = calloc((size_t)n, sizeof(mx_es_node));
    if (!plan->nodes) rc = mx_fail_int(MX_ENOMEM, "[einsum] out of memory.");
    g = (es_greedy){terms, n, NULL, 0, 0, out.set, max_size, plan->naive_cost, 0, plan->dim};
    if (rc == 0 && n <= 2) {
      rc = es_naive_node(plan, &g, &out);
      plan->opt_cost = plan->naive_cost;
      plan->opt_scaling = plan->naive_scaling;
    } else if (rc == 0) {
      rc = es_greedy_path(plan, &g, &out);
      plan->opt_cost = g.path_cost;
    }
  }
  if (terms)
    for (int i = 0; i < g.n || (!g.terms && i < n); i++) free(terms[i].ch);
  free(terms);
  free(g.cand);
  free(out.ch);
  es_parsed_free(&p);
  if (rc) mx_es_plan_free(plan);
  return rc;
}

char *mx_es_plan_describe(const mx_es_plan *plan, const char *subscripts) {
  const char *fmt = "  Complete contraction:  %s\n"
                    "         Naive scaling:  %d\n"
                    "     Optimized scaling:  %d\n"
                    "      Naive FLOP count:  %llu\n"
                    "  Optimized FLOP count:  %llu\n";
  int len = snprintf(NULL, 0, fmt, subscripts, plan->naive_scaling, plan->opt_scaling,
                     (unsigned long long)plan->naive_cost, (unsigned long long)plan->opt_cost);
  char *r = malloc((size_t)len + 1);
  if (!r) return mx_fail(MX_ENOMEM, "[einsum_path] out of memory.");
  snprintf(r, (size_t)len + 1, fmt, subscripts, plan->naive_scaling, plan->opt_scaling,
           (unsigned long long)plan->naive_cost, (unsigned long long)plan->opt_cost);
  return r;
}
