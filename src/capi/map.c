/* map.c: mlx_map_string_to_array and mlx_map_string_to_string (mlx/c/map.h): an entry
 * vector with a per-entry hash for lookups; arrays are held by strong node references,
 * keys and string values are owned copies. Iterators hold a position (the map must not be
 * modified while one is in use, as with mlx-c's std::unordered_map iterators). */
#include "map_private.h"

#include <stdlib.h>
#include <string.h>

#define HERE __FILE__, __LINE__

typedef struct map_entry {
  char *key;
  uint64_t hash;
  char *str;          /* string maps */
  mx_array *node;     /* array maps (strong) */
} map_entry;

typedef struct map_box {
  map_entry *v;
  size_t n, cap;
  bool arrays;        /* which kind of map */
} map_box;

static uint64_t hash_key(const char *s) {
  uint64_t h = 1469598103934665603ull; /* FNV-1a */
  for (; *s; s++) h = (h ^ (uint8_t)*s) * 1099511628211ull;
  return h;
}

static char *dup_str(const char *s) {
  size_t n = strlen(s) + 1;
  char *d = malloc(n);
  if (d) memcpy(d, s, n);
  return d;
}

static map_box *box_new(bool arrays) {
  map_box *b = calloc(1, sizeof *b);
  if (!b) mx_capi_fail(HERE, MX_ENOMEM, "[malloc] Unable to allocate a map.");
  else b->arrays = arrays;
  return b;
}

static void box_free(map_box *b) {
  if (!b) return;
  for (size_t i = 0; i < b->n; i++) {
    free(b->v[i].key);
    free(b->v[i].str);
    mx_array_release(b->v[i].node);
  }
  free(b->v);
  free(b);
}

static map_entry *find(map_box *b, const char *key) {
  uint64_t h = hash_key(key);
  for (size_t i = 0; i < b->n; i++)
    if (b->v[i].hash == h && strcmp(b->v[i].key, key) == 0) return &b->v[i];
  return NULL;
}

/* Inserts or overwrites; node is borrowed (retained here), str copied. 0 or 1 + report. */
static int box_put(map_box *b, const char *key, mx_array *node, const char *str) {
  if (!key) return mx_capi_fail(HERE, MX_EINVAL, "expected a non-null map key");
  char *s = NULL;
  if (!b->arrays && !(s = dup_str(str ? str : "")))
    return mx_capi_fail(HERE, MX_ENOMEM, "[malloc] Unable to allocate a string.");
  map_entry *e = find(b, key);
  if (!e) {
    if (b->n == b->cap) {
      size_t cap = b->cap ? b->cap * 2 : 8;
      map_entry *v = realloc(b->v, cap * sizeof *v);
      if (!v) {
        free(s);
        return mx_capi_fail(HERE, MX_ENOMEM, "[malloc] Unable to allocate a map.");
      }
      b->v = v;
      b->cap = cap;
    }
    e = &b->v[b->n];
    memset(e, 0, sizeof *e);
    if (!(e->key = dup_str(key))) {
      free(s);
      return mx_capi_fail(HERE, MX_ENOMEM, "[malloc] Unable to allocate a string.");
    }
    e->hash = hash_key(key);
    b->n++;
  }
  if (b->arrays) {
    mx_array_retain(node);
    mx_array_release(e->node);
    e->node = node;
  } else {
    free(e->str);
    e->str = s;
  }
  return 0;
}

static map_box *box_copy(const map_box *src) {
  map_box *b = box_new(src->arrays);
  for (size_t i = 0; b && i < src->n; i++) {
    if (box_put(b, src->v[i].key, src->v[i].node, src->v[i].str) != 0) {
      box_free(b);
      b = NULL;
    }
  }
  return b;
}

static int empty_map(void) { return mx_capi_fail(HERE, MX_EINVAL, "expected a non-empty map"); }

/* ---- string -> array ---------------------------------------------------------------------- */

mlx_map_string_to_array mlx_map_string_to_array_new(void) {
  mlx_map_string_to_array m = {box_new(true)};
  return m;
}

int mlx_map_string_to_array_set(mlx_map_string_to_array *map,
                                const mlx_map_string_to_array src) {
  if (!src.ctx) return empty_map();
  if (map->ctx == src.ctx) return 0;
  map_box *b = box_copy(src.ctx);
  if (!b) return 1;
  box_free(map->ctx);
  map->ctx = b;
  return 0;
}

int mlx_map_string_to_array_free(mlx_map_string_to_array map) {
  box_free(map.ctx);
  return 0;
}

int mlx_map_string_to_array_insert(mlx_map_string_to_array map, const char *key,
                                   const mlx_array value) {
  if (!map.ctx) return empty_map();
  mx_array *node = mx_capi_node(value);
  if (!node) return mx_capi_report(HERE);
  return box_put(map.ctx, key, node, NULL);
}

int mlx_map_string_to_array_get(mlx_array *value, const mlx_map_string_to_array map,
                                const char *key) {
  if (!map.ctx) return empty_map();
  if (!key) return mx_capi_fail(HERE, MX_EINVAL, "expected a non-null map key");
  map_entry *e = find(map.ctx, key);
  if (!e) return 2;
  mx_array_retain(e->node);
  return mx_capi_set_array(value, e->node);
}

mlx_map_string_to_array_iterator mlx_map_string_to_array_iterator_new(
    mlx_map_string_to_array map) {
  mlx_map_string_to_array_iterator it = {NULL, map.ctx};
  if (!map.ctx) {
    empty_map();
    return it;
  }
  it.ctx = calloc(1, sizeof(size_t));
  if (!it.ctx) mx_capi_fail(HERE, MX_ENOMEM, "[malloc] Unable to allocate an iterator.");
  return it;
}

int mlx_map_string_to_array_iterator_free(mlx_map_string_to_array_iterator it) {
  free(it.ctx);
  return 0;
}

int mlx_map_string_to_array_iterator_next(const char **key, mlx_array *value,
                                          mlx_map_string_to_array_iterator it) {
  if (!it.ctx || !it.map_ctx)
    return mx_capi_fail(HERE, MX_EINVAL, "expected a non-empty map iterator");
  size_t *pos = it.ctx;
  map_box *b = it.map_ctx;
  if (*pos >= b->n) return 2;
  map_entry *e = &b->v[(*pos)++];
  *key = e->key;
  mx_array_retain(e->node);
  return mx_capi_set_array(value, e->node);
}

/* ---- string -> string --------------------------------------------------------------------- */

mlx_map_string_to_string mlx_map_string_to_string_new(void) {
  mlx_map_string_to_string m = {box_new(false)};
  return m;
}

int mlx_map_string_to_string_set(mlx_map_string_to_string *map,
                                 const mlx_map_string_to_string src) {
  if (!src.ctx) return empty_map();
  if (map->ctx == src.ctx) return 0;
  map_box *b = box_copy(src.ctx);
  if (!b) return 1;
  box_free(map->ctx);
  map->ctx = b;
  return 0;
}

int mlx_map_string_to_string_free(mlx_map_string_to_string map) {
  box_free(map.ctx);
  return 0;
}

int mlx_map_string_to_string_insert(mlx_map_string_to_string map, const char *key,
                                    const char *value) {
  if (!map.ctx) return empty_map();
  if (!value) return mx_capi_fail(HERE, MX_EINVAL, "expected a non-null map value");
  return box_put(map.ctx, key, NULL, value);
}

int mlx_map_string_to_string_get(const char **value, const mlx_map_string_to_string map,
                                 const char *key) {
  if (!map.ctx) return empty_map();
  if (!key) return mx_capi_fail(HERE, MX_EINVAL, "expected a non-null map key");
  map_entry *e = find(map.ctx, key);
  if (!e) return 2;
  *value = e->str;
  return 0;
}

mlx_map_string_to_string_iterator mlx_map_string_to_string_iterator_new(
    mlx_map_string_to_string map) {
  mlx_map_string_to_string_iterator it = {NULL, map.ctx};
  if (!map.ctx) {
    empty_map();
    return it;
  }
  it.ctx = calloc(1, sizeof(size_t));
  if (!it.ctx) mx_capi_fail(HERE, MX_ENOMEM, "[malloc] Unable to allocate an iterator.");
  return it;
}

int mlx_map_string_to_string_iterator_free(mlx_map_string_to_string_iterator it) {
  free(it.ctx);
  return 0;
}

int mlx_map_string_to_string_iterator_next(const char **key, const char **value,
                                           mlx_map_string_to_string_iterator it) {
  if (!it.ctx || !it.map_ctx)
    return mx_capi_fail(HERE, MX_EINVAL, "expected a non-empty map iterator");
  size_t *pos = it.ctx;
  map_box *b = it.map_ctx;
  if (*pos >= b->n) return 2;
  map_entry *e = &b->v[(*pos)++];
  *key = e->key;
  *value = e->str;
  return 0;
}

/* ---- for src/capi/io.c -------------------------------------------------------------------- */

size_t mx_capi_map_size(void *ctx) { return ctx ? ((map_box *)ctx)->n : 0; }

const char *mx_capi_map_key(void *ctx, size_t i) { return ((map_box *)ctx)->v[i].key; }

mx_array *mx_capi_map_node(void *ctx, size_t i) { return ((map_box *)ctx)->v[i].node; }

const char *mx_capi_map_str(void *ctx, size_t i) { return ((map_box *)ctx)->v[i].str; }
