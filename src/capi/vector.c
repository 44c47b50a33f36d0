/* vector.c: the four vector handle kinds of mlx/c/vector.h. A vector of arrays holds strong
 * node references; a vector of vectors holds private copies of its member vectors (arrays are
 * immutable, so copying references is copying values); strings are owned copies.
 * _new() makes a real empty vector; an empty handle accepts set* (allocating) but not append*. */
#include "capi_private.h"

#include <stdlib.h>
#include <string.h>

#define HERE __FILE__, __LINE__

static int grow(void **v, size_t *cap, size_t need, size_t elem) {
  if (need <= *cap) return 0;
  size_t c = *cap ? *cap : 4;
  while (c < need) c *= 2;
  void *nv = realloc(*v, c * elem);
  if (!nv) return mx_capi_fail(HERE, MX_ENOMEM, "[malloc] Unable to allocate %zu bytes.", c * elem);
  *v = nv;
  *cap = c;
  return 0;
}

static int empty_handle(const char *kind) {
  return mx_capi_fail(HERE, MX_EINVAL, "expected a non-empty %s", kind);
}

/* ======================= vector of arrays ======================= */

typedef mx_capi_vector_array_box va_box;

static va_box *va_alloc(void) {
  va_box *b = calloc(1, sizeof *b);
  if (!b) mx_capi_fail(HERE, MX_ENOMEM, "[malloc] Unable to allocate a vector.");
  return b;
}

static void va_clear(va_box *b) {
  for (size_t i = 0; i < b->n; i++) mx_array_release(b->v[i]);
  b->n = 0;
}

static void va_destroy(va_box *b) {
  if (!b) return;
  va_clear(b);
  free(b->v);
  free(b);
}

/* Appends the nodes of data[0..size) (retained). On failure nothing is appended. */
static int va_append(va_box *b, const mlx_array *data, size_t size) {
  for (size_t i = 0; i < size; i++)
    if (!mx_capi_node(data[i])) return mx_capi_report(HERE);
  if (grow((void **)&b->v, &b->cap, b->n + size, sizeof *b->v)) return 1;
  for (size_t i = 0; i < size; i++) {
    mx_array *n = mx_capi_node(data[i]);
    mx_array_retain(n);
    b->v[b->n++] = n;
  }
  return 0;
}

/* Replaces the contents of *vec (allocating a box for an empty handle). */
static int va_assign(mlx_vector_array *vec, const mlx_array *data, size_t size) {
  if (!vec) return mx_capi_fail(HERE, MX_EINVAL, "expected a non-null mlx_vector_array pointer");
  va_box *fresh = va_alloc();
  if (!fresh) return 1;
  if (va_append(fresh, data, size)) {
    va_destroy(fresh);
    return 1;
  }
  va_destroy(vec->ctx);
  vec->ctx = fresh;
  return 0;
}

int mx_capi_vector_nodes(mlx_vector_array v, mx_array *const **nodes, int *n) {
  va_box *b = v.ctx;
  if (!b) {
    empty_handle("mlx_vector_array");
    return -1;
  }
  *nodes = b->v;
  *n = (int)b->n;
  return 0;
}

int mx_capi_set_vector_at(mlx_vector_array *res, mx_array **nodes_steal, int n,
                          const char *file, int line) {
  bool bad = false;
  for (int i = 0; i < n; i++) bad |= nodes_steal[i] == NULL;
  va_box *fresh = bad || !res ? NULL : va_alloc();
  if (!fresh || grow((void **)&fresh->v, &fresh->cap, (size_t)n, sizeof *fresh->v)) {
    for (int i = 0; i < n; i++) mx_array_release(nodes_steal[i]);
    va_destroy(fresh);
    if (!res) return mx_capi_fail(file, line, MX_EINVAL, "expected a non-null output pointer");
    return mx_error_kind_get() != MX_OK ? mx_capi_report(file, line) : 1;
  }
  for (int i = 0; i < n; i++) fresh->v[fresh->n++] = nodes_steal[i];
  va_destroy(res->ctx);
  res->ctx = fresh;
  return 0;
}

mlx_vector_array mlx_vector_array_new(void) {
  mlx_vector_array v = {va_alloc()};
  return v;
}

int mlx_vector_array_set(mlx_vector_array *vec, const mlx_vector_array src) {
  va_box *s = src.ctx;
  if (!s) return empty_handle("mlx_vector_array");
  if (vec && vec->ctx == src.ctx) return 0;
  if (!vec) return mx_capi_fail(HERE, MX_EINVAL, "expected a non-null mlx_vector_array pointer");
  va_box *fresh = va_alloc();
  if (!fresh) return 1;
  if (grow((void **)&fresh->v, &fresh->cap, s->n, sizeof *fresh->v)) {
    va_destroy(fresh);
    return 1;
  }
  for (size_t i = 0; i < s->n; i++) {
    mx_array_retain(s->v[i]);
    fresh->v[fresh->n++] = s->v[i];
  }
  va_destroy(vec->ctx);
  vec->ctx = fresh;
  return 0;
}

int mlx_vector_array_free(mlx_vector_array vec) {
  va_destroy(vec.ctx);
  return 0;
}

mlx_vector_array mlx_vector_array_new_data(const mlx_array *data, size_t size) {
  mlx_vector_array v = {NULL};
  va_assign(&v, data, size);
  return v;
}

mlx_vector_array mlx_vector_array_new_value(const mlx_array val) {
  return mlx_vector_array_new_data(&val, 1);
}

int mlx_vector_array_set_data(mlx_vector_array *vec, const mlx_array *data, size_t size) {
  return va_assign(vec, data, size);
}

int mlx_vector_array_set_value(mlx_vector_array *vec, const mlx_array val) {
  return va_assign(vec, &val, 1);
}

int mlx_vector_array_append_data(mlx_vector_array vec, const mlx_array *data, size_t size) {
  if (!vec.ctx) return empty_handle("mlx_vector_array");
  return va_append(vec.ctx, data, size);
}

int mlx_vector_array_append_value(mlx_vector_array vec, const mlx_array val) {
  return mlx_vector_array_append_data(vec, &val, 1);
}

size_t mlx_vector_array_size(mlx_vector_array vec) {
  va_box *b = vec.ctx;
  if (!b) {
    empty_handle("mlx_vector_array");
    return 0;
  }
  return b->n;
}

int mlx_vector_array_get(mlx_array *res, const mlx_vector_array vec, size_t idx) {
  va_box *b = vec.ctx;
  if (!b) return empty_handle("mlx_vector_array");
  if (idx >= b->n)
    return mx_capi_fail(HERE, MX_EINDEX, "[vector_array_get] index %zu out of range (size %zu)",
                        idx, b->n);
  mx_array_retain(b->v[idx]);
  return mx_capi_set_array_at(res, b->v[idx], HERE);
}

/* ======================= vector of vectors of arrays ======================= */

typedef struct vva_box {
  va_box **v;  /* owned copies */
  size_t n, cap;
} vva_box;

static vva_box *vva_alloc(void) {
  vva_box *b = calloc(1, sizeof *b);
  if (!b) mx_capi_fail(HERE, MX_ENOMEM, "[malloc] Unable to allocate a vector.");
  return b;
}

static void vva_destroy(vva_box *b) {
  if (!b) return;
  for (size_t i = 0; i < b->n; i++) va_destroy(b->v[i]);
  free(b->v);
  free(b);
}

static va_box *va_clone(const va_box *s) {
  va_box *d = va_alloc();
  if (!d) return NULL;
  if (grow((void **)&d->v, &d->cap, s->n, sizeof *d->v)) {
    va_destroy(d);
    return NULL;
  }
  for (size_t i = 0; i < s->n; i++) {
    mx_array_retain(s->v[i]);
    d->v[d->n++] = s->v[i];
  }
  return d;
}

static int vva_append(vva_box *b, const mlx_vector_array *data, size_t size) {
  for (size_t i = 0; i < size; i++)
    if (!data[i].ctx) return empty_handle("mlx_vector_array");
  if (grow((void **)&b->v, &b->cap, b->n + size, sizeof *b->v)) return 1;
  size_t start = b->n;
  for (size_t i = 0; i < size; i++) {
    va_box *c = va_clone(data[i].ctx);
    if (!c) {
      while (b->n > start) va_destroy(b->v[--b->n]);
      return 1;
    }
    b->v[b->n++] = c;
  }
  return 0;
}

static int vva_assign(mlx_vector_vector_array *vec, const mlx_vector_array *data, size_t size) {
  if (!vec) return mx_capi_fail(HERE, MX_EINVAL, "expected a non-null mlx_vector_vector_array pointer");
  vva_box *fresh = vva_alloc();
  if (!fresh) return 1;
  if (vva_append(fresh, data, size)) {
    vva_destroy(fresh);
    return 1;
  }
  vva_destroy(vec->ctx);
  vec->ctx = fresh;
  return 0;
}

mlx_vector_vector_array mlx_vector_vector_array_new(void) {
  mlx_vector_vector_array v = {vva_alloc()};
  return v;
}

int mlx_vector_vector_array_set(mlx_vector_vector_array *vec, const mlx_vector_vector_array src) {
  vva_box *s = src.ctx;
  if (!s) return empty_handle("mlx_vector_vector_array");
  if (vec && vec->ctx == src.ctx) return 0;
  if (!vec) return mx_capi_fail(HERE, MX_EINVAL, "expected a non-null mlx_vector_vector_array pointer");
  vva_box *fresh = vva_alloc();
  if (!fresh) return 1;
  if (grow((void **)&fresh->v, &fresh->cap, s->n, sizeof *fresh->v)) {
    vva_destroy(fresh);
    return 1;
  }
  for (size_t i = 0; i < s->n; i++) {
    va_box *c = va_clone(s->v[i]);
    if (!c) {
      vva_destroy(fresh);
      return 1;
    }
    fresh->v[fresh->n++] = c;
  }
  vva_destroy(vec->ctx);
  vec->ctx = fresh;
  return 0;
}

int mlx_vector_vector_array_free(mlx_vector_vector_array vec) {
  vva_destroy(vec.ctx);
  return 0;
}

mlx_vector_vector_array mlx_vector_vector_array_new_data(const mlx_vector_array *data, size_t size) {
  mlx_vector_vector_array v = {NULL};
  vva_assign(&v, data, size);
  return v;
}

mlx_vector_vector_array mlx_vector_vector_array_new_value(const mlx_vector_array val) {
  return mlx_vector_vector_array_new_data(&val, 1);
}

int mlx_vector_vector_array_set_data(mlx_vector_vector_array *vec, const mlx_vector_array *data,
                                     size_t size) {
  return vva_assign(vec, data, size);
}

int mlx_vector_vector_array_set_value(mlx_vector_vector_array *vec, const mlx_vector_array val) {
  return vva_assign(vec, &val, 1);
}

int mlx_vector_vector_array_append_data(mlx_vector_vector_array vec, const mlx_vector_array *data,
                                        size_t size) {
  if (!vec.ctx) return empty_handle("mlx_vector_vector_array");
  return vva_append(vec.ctx, data, size);
}

int mlx_vector_vector_array_append_value(mlx_vector_vector_array vec, const mlx_vector_array val) {
  return mlx_vector_vector_array_append_data(vec, &val, 1);
}

size_t mlx_vector_vector_array_size(mlx_vector_vector_array vec) {
  vva_box *b = vec.ctx;
  if (!b) {
    empty_handle("mlx_vector_vector_array");
    return 0;
  }
  return b->n;
}

int mlx_vector_vector_array_get(mlx_vector_array *res, const mlx_vector_vector_array vec,
                                size_t idx) {
  vva_box *b = vec.ctx;
  if (!b) return empty_handle("mlx_vector_vector_array");
  if (idx >= b->n)
    return mx_capi_fail(HERE, MX_EINDEX,
                        "[vector_vector_array_get] index %zu out of range (size %zu)", idx, b->n);
  mlx_vector_array src = {b->v[idx]};
  return mlx_vector_array_set(res, src);
}

/* ======================= vector of ints ======================= */

typedef struct vi_box {
  int *v;
  size_t n, cap;
} vi_box;

static vi_box *vi_alloc(void) {
  vi_box *b = calloc(1, sizeof *b);
  if (!b) mx_capi_fail(HERE, MX_ENOMEM, "[malloc] Unable to allocate a vector.");
  return b;
}

static void vi_destroy(vi_box *b) {
  if (!b) return;
  free(b->v);
  free(b);
}

static int vi_append(vi_box *b, const int *data, size_t size) {
  if (size && !data) return mx_capi_fail(HERE, MX_EINVAL, "expected non-null data");
  if (grow((void **)&b->v, &b->cap, b->n + size, sizeof *b->v)) return 1;
  if (size) memcpy(b->v + b->n, data, size * sizeof *data);
  b->n += size;
  return 0;
}

static int vi_assign(mlx_vector_int *vec, const int *data, size_t size) {
  if (!vec) return mx_capi_fail(HERE, MX_EINVAL, "expected a non-null mlx_vector_int pointer");
  vi_box *fresh = vi_alloc();
  if (!fresh) return 1;
  if (vi_append(fresh, data, size)) {
    vi_destroy(fresh);
    return 1;
  }
  vi_destroy(vec->ctx);
  vec->ctx = fresh;
  return 0;
}

mlx_vector_int mlx_vector_int_new(void) {
  mlx_vector_int v = {vi_alloc()};
  return v;
}

int mlx_vector_int_set(mlx_vector_int *vec, const mlx_vector_int src) {
  vi_box *s = src.ctx;
  if (!s) return empty_handle("mlx_vector_int");
  if (vec && vec->ctx == src.ctx) return 0;
  return vi_assign(vec, s->v, s->n);
}

int mlx_vector_int_free(mlx_vector_int vec) {
  vi_destroy(vec.ctx);
  return 0;
}

mlx_vector_int mlx_vector_int_new_data(int *data, size_t size) {
  mlx_vector_int v = {NULL};
  vi_assign(&v, data, size);
  return v;
}

mlx_vector_int mlx_vector_int_new_value(int val) { return mlx_vector_int_new_data(&val, 1); }

int mlx_vector_int_set_data(mlx_vector_int *vec, int *data, size_t size) {
  return vi_assign(vec, data, size);
}

int mlx_vector_int_set_value(mlx_vector_int *vec, int val) { return vi_assign(vec, &val, 1); }

int mlx_vector_int_append_data(mlx_vector_int vec, int *data, size_t size) {
  if (!vec.ctx) return empty_handle("mlx_vector_int");
  return vi_append(vec.ctx, data, size);
}

int mlx_vector_int_append_value(mlx_vector_int vec, int val) {
  return mlx_vector_int_append_data(vec, &val, 1);
}

size_t mlx_vector_int_size(mlx_vector_int vec) {
  vi_box *b = vec.ctx;
  if (!b) {
    empty_handle("mlx_vector_int");
    return 0;
  }
  return b->n;
}

int mlx_vector_int_get(int *res, const mlx_vector_int vec, size_t idx) {
  vi_box *b = vec.ctx;
  if (!b) return empty_handle("mlx_vector_int");
  if (idx >= b->n)
    return mx_capi_fail(HERE, MX_EINDEX, "[vector_int_get] index %zu out of range (size %zu)",
                        idx, b->n);
  *res = b->v[idx];
  return 0;
}

/* ======================= vector of strings ======================= */

typedef struct vs_box {
  char **v;  /* owned copies */
  size_t n, cap;
} vs_box;

static vs_box *vs_alloc(void) {
  vs_box *b = calloc(1, sizeof *b);
  if (!b) mx_capi_fail(HERE, MX_ENOMEM, "[malloc] Unable to allocate a vector.");
  return b;
}

static void vs_destroy(vs_box *b) {
  if (!b) return;
  for (size_t i = 0; i < b->n; i++) free(b->v[i]);
  free(b->v);
  free(b);
}

static int vs_append(vs_box *b, const char *const *data, size_t size) {
  for (size_t i = 0; i < size; i++)
    if (!data[i]) return mx_capi_fail(HERE, MX_EINVAL, "expected a non-null string");
  if (grow((void **)&b->v, &b->cap, b->n + size, sizeof *b->v)) return 1;
  size_t start = b->n;
  for (size_t i = 0; i < size; i++) {
    size_t len = strlen(data[i]) + 1;
    char *d = malloc(len);
    if (!d) {
      while (b->n > start) free(b->v[--b->n]);
      return mx_capi_fail(HERE, MX_ENOMEM, "[malloc] Unable to allocate %zu bytes.", len);
    }
    memcpy(d, data[i], len);
    b->v[b->n++] = d;
  }
  return 0;
}

static int vs_assign(mlx_vector_string *vec, const char *const *data, size_t size) {
  if (!vec) return mx_capi_fail(HERE, MX_EINVAL, "expected a non-null mlx_vector_string pointer");
  vs_box *fresh = vs_alloc();
  if (!fresh) return 1;
  if (vs_append(fresh, data, size)) {
    vs_destroy(fresh);
    return 1;
  }
  vs_destroy(vec->ctx);
  vec->ctx = fresh;
  return 0;
}

mlx_vector_string mlx_vector_string_new(void) {
  mlx_vector_string v = {vs_alloc()};
  return v;
}

int mlx_vector_string_set(mlx_vector_string *vec, const mlx_vector_string src) {
  vs_box *s = src.ctx;
  if (!s) return empty_handle("mlx_vector_string");
  if (vec && vec->ctx == src.ctx) return 0;
  return vs_assign(vec, (const char *const *)s->v, s->n);
}

int mlx_vector_string_free(mlx_vector_string vec) {
  vs_destroy(vec.ctx);
  return 0;
}

mlx_vector_string mlx_vector_string_new_data(const char **data, size_t size) {
  mlx_vector_string v = {NULL};
  vs_assign(&v, data, size);
  return v;
}

mlx_vector_string mlx_vector_string_new_value(const char *val) {
  return mlx_vector_string_new_data(&val, 1);
}

int mlx_vector_string_set_data(mlx_vector_string *vec, const char **data, size_t size) {
  return vs_assign(vec, data, size);
}

int mlx_vector_string_set_value(mlx_vector_string *vec, const char *val) {
  return vs_assign(vec, &val, 1);
}

int mlx_vector_string_append_data(mlx_vector_string vec, const char **data, size_t size) {
  if (!vec.ctx) return empty_handle("mlx_vector_string");
  return vs_append(vec.ctx, data, size);
}

int mlx_vector_string_append_value(mlx_vector_string vec, const char *val) {
  return mlx_vector_string_append_data(vec, &val, 1);
}

size_t mlx_vector_string_size(mlx_vector_string vec) {
  vs_box *b = vec.ctx;
  if (!b) {
    empty_handle("mlx_vector_string");
    return 0;
  }
  return b->n;
}

int mlx_vector_string_get(char **res, const mlx_vector_string vec, size_t idx) {
  vs_box *b = vec.ctx;
  if (!b) return empty_handle("mlx_vector_string");
  if (idx >= b->n)
    return mx_capi_fail(HERE, MX_EINDEX, "[vector_string_get] index %zu out of range (size %zu)",
                        idx, b->n);
  *res = b->v[idx];
  return 0;
}
