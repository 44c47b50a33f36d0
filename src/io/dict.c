/* dict.c: the ordered containers the loaders fill and the savers read (io.h): named arrays
 * and metadata entries (string, list of strings, array), plus the duplicate-name check.
 * Depends on core (arrays, eval, errors). */
#include "io.h"

#include <stdlib.h>
#include <string.h>

#include "../core/eval.h"

int mx_io_str_set(mx_io_str *dst, const char *s, size_t n) {
  dst->s = malloc(n + 1);
  if (!dst->s) return mx_fail_int(MX_ENOMEM, "[io] out of memory.");
  if (n) memcpy(dst->s, s, n);
  dst->s[n] = '\0';
  dst->len = n;
  return 0;
}

static int grow(void **v, size_t *cap, size_t n, size_t elem) {
  if (n < *cap) return 0;
  size_t c = *cap ? *cap * 2 : 16;
  void *p = realloc(*v, c * elem);
  if (!p) return mx_fail_int(MX_ENOMEM, "[io] out of memory.");
  *v = p;
  *cap = c;
  return 0;
}

int mx_io_arrays_push(mx_io_arrays *d, const char *name, size_t len, mx_array *a_steal) {
  if (!a_steal) return -1;
  if (grow((void **)&d->v, &d->cap, d->n, sizeof *d->v) != 0 ||
      mx_io_str_set(&d->v[d->n].name, name, len) != 0) {
    mx_array_release(a_steal);
    return -1;
  }
  d->v[d->n].array = a_steal;
  d->n++;
  return 0;
}

void mx_io_arrays_clear(mx_io_arrays *d) {
  for (size_t i = 0; i < d->n; i++) {
    free(d->v[i].name.s);
    mx_array_release(d->v[i].array);
  }
  free(d->v);
  d->v = NULL;
  d->n = d->cap = 0;
}

static int cmp_str(const mx_io_str *a, const mx_io_str *b) {
  size_t n = a->len < b->len ? a->len : b->len;
  int c = memcmp(a->s, b->s, n);
  if (c) return c;
  return a->len < b->len ? -1 : a->len > b->len;
}

static int cmp_named_ptr(const void *x, const void *y) {
  return cmp_str(&(*(const mx_io_named *const *)x)->name, &(*(const mx_io_named *const *)y)->name);
}

int mx_io_arrays_check_unique(const mx_io_arrays *d, const char *op) {
  if (d->n < 2) return 0;
  const mx_io_named **idx = malloc(d->n * sizeof *idx);
  if (!idx) return mx_fail_int(MX_ENOMEM, "[%s] out of memory.", op);
  for (size_t i = 0; i < d->n; i++) idx[i] = &d->v[i];
  qsort(idx, d->n, sizeof *idx, cmp_named_ptr);
  int rc = 0;
  for (size_t i = 1; i < d->n && rc == 0; i++)
    if (cmp_str(&idx[i - 1]->name, &idx[i]->name) == 0)
      rc = mx_fail_int(MX_EINVAL, "[%s] Duplicate parameter name %s.", op, idx[i]->name.s);
  free(idx);
  return rc;
}

static mx_io_meta_entry *meta_add(mx_io_meta *m, const char *key, size_t klen,
                                  mx_io_meta_kind kind) {
  if (grow((void **)&m->v, &m->cap, m->n, sizeof *m->v) != 0) return NULL;
  mx_io_meta_entry *e = &m->v[m->n];
  memset(e, 0, sizeof *e);
  if (mx_io_str_set(&e->key, key, klen) != 0) return NULL;
  e->kind = kind;
  m->n++;
  return e;
}

int mx_io_meta_push_string(mx_io_meta *m, const char *key, size_t klen, const char *s,
                           size_t len) {
  mx_io_meta_entry *e = meta_add(m, key, klen, MX_IO_META_STRING);
  if (!e) return -1;
  return mx_io_str_set(&e->str, s, len);
}

int mx_io_meta_push_strings(mx_io_meta *m, const char *key, size_t klen,
                            const char *const *strs, const size_t *lens, size_t n) {
  size_t total = 0;
  for (size_t i = 0; i < n; i++) {
    if (lens[i] > SIZE_MAX / 2 - total) return mx_fail_int(MX_ENOMEM, "[io] out of memory.");
    total += lens[i] + 1;
  }
  if (n > (SIZE_MAX / 2 - total) / sizeof(mx_io_str))
    return mx_fail_int(MX_ENOMEM, "[io] out of memory.");
  mx_io_str *block = malloc(n * sizeof(mx_io_str) + total + 1);
  if (!block) return mx_fail_int(MX_ENOMEM, "[io] out of memory.");
  char *p = (char *)(block + n);
  for (size_t i = 0; i < n; i++) {
    block[i].s = p;
    block[i].len = lens[i];
    if (lens[i]) memcpy(p, strs[i], lens[i]);
    p[lens[i]] = '\0';
    p += lens[i] + 1;
  }
  mx_io_meta_entry *e = meta_add(m, key, klen, MX_IO_META_STRINGS);
  if (!e) {
    free(block);
    return -1;
  }
  e->strs = block;
  e->n_strs = n;
  return 0;
}

int mx_io_meta_push_array(mx_io_meta *m, const char *key, size_t klen, mx_array *a_steal) {
  if (!a_steal) return -1;
  mx_io_meta_entry *e = meta_add(m, key, klen, MX_IO_META_ARRAY);
  if (!e) {
    mx_array_release(a_steal);
    return -1;
  }
  e->array = a_steal;
  return 0;
}

static void entry_free(mx_io_meta_entry *e) {
  free(e->key.s);
  free(e->str.s);
  free(e->strs);
  mx_array_release(e->array);
}

void mx_io_meta_remove(mx_io_meta *m, size_t i) {
  if (i >= m->n) return;
  entry_free(&m->v[i]);
  memmove(&m->v[i], &m->v[i + 1], (m->n - i - 1) * sizeof *m->v);
  m->n--;
}

void mx_io_meta_clear(mx_io_meta *m) {
  for (size_t i = 0; i < m->n; i++) entry_free(&m->v[i]);
  free(m->v);
  m->v = NULL;
  m->n = m->cap = 0;
}

int mx_io_eval_all(const mx_io_arrays *d) {
  if (d->n == 0) return 0;
  if (d->n > INT32_MAX) return mx_fail_int(MX_EINVAL, "[save] too many arrays.");
  mx_array **v = malloc(d->n * sizeof *v);
  if (!v) return mx_fail_int(MX_ENOMEM, "[save] out of memory.");
  for (size_t i = 0; i < d->n; i++) v[i] = d->v[i].array;
  int rc = mx_eval(v, (int)d->n);
  free(v);
  return rc;
}
