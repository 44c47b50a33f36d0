/* io.c: the I/O functions of the mlx-c API (mlx/c/io.h, io_types.h) over src/io: npy,
 * safetensors and GGUF from paths (memory-mapped, lazy) or user readers (read completely
 * into memory, from the current position to the end), saves to paths or user writers, and
 * the mlx_io_gguf container (tensors plus typed metadata). */
#include "map_private.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../io/io.h"

#define HERE __FILE__, __LINE__

/* ---- readers and writers ----------------------------------------------------------------- */

typedef struct io_box {
  void *desc;
  mlx_io_vtable vt;
} io_box;

static void *io_new(void *desc, mlx_io_vtable vt) {
  io_box *b = malloc(sizeof *b);
  if (!b) {
    mx_capi_fail(HERE, MX_ENOMEM, "[malloc] Unable to allocate an io object.");
    return NULL;
  }
  b->desc = desc;
  b->vt = vt;
  return b;
}

static int io_free(void *ctx) {
  io_box *b = ctx;
  if (b && b->vt.free) b->vt.free(b->desc);
  free(b);
  return 0;
}

static int io_descriptor(void **desc, void *ctx) {
  if (!ctx) return mx_capi_fail(HERE, MX_EINVAL, "expected a non-empty io object");
  *desc = ((io_box *)ctx)->desc;
  return 0;
}

static const char *io_label(io_box *b) {
  const char *l = b->vt.label ? b->vt.label(b->desc) : NULL;
  return l ? l : "<custom io>";
}

static int io_tostring(mlx_string *str, void *ctx) {
  if (!ctx) return mx_capi_fail(HERE, MX_EINVAL, "expected a non-empty io object");
  const char *l = io_label(ctx);
  size_t n = strlen(l) + 1;
  char *d = malloc(n);
  if (d) memcpy(d, l, n);
  return mx_capi_set_string(str, d);
}

mlx_io_reader mlx_io_reader_new(void *desc, mlx_io_vtable vtable) {
  mlx_io_reader r = {io_new(desc, vtable)};
  return r;
}
int mlx_io_reader_descriptor(void **desc_, mlx_io_reader io) { return io_descriptor(desc_, io.ctx); }
int mlx_io_reader_tostring(mlx_string *str_, mlx_io_reader io) { return io_tostring(str_, io.ctx); }
int mlx_io_reader_free(mlx_io_reader io) { return io_free(io.ctx); }

mlx_io_writer mlx_io_writer_new(void *desc, mlx_io_vtable vtable) {
  mlx_io_writer w = {io_new(desc, vtable)};
  return w;
}
int mlx_io_writer_descriptor(void **desc_, mlx_io_writer io) { return io_descriptor(desc_, io.ctx); }
int mlx_io_writer_tostring(mlx_string *str_, mlx_io_writer io) { return io_tostring(str_, io.ctx); }
int mlx_io_writer_free(mlx_io_writer io) { return io_free(io.ctx); }

/* The rest of a reader as a heap blob. NULL + core error. */
static mx_io_blob *reader_blob(mlx_io_reader r, const char *op) {
  io_box *b = r.ctx;
  if (!b) return mx_fail(MX_EINVAL, "expected a non-empty mlx_io_reader");
  if ((b->vt.is_open && !b->vt.is_open(b->desc)) || (b->vt.good && !b->vt.good(b->desc)))
    return mx_fail(MX_ERUNTIME, "[%s] Failed to open %s", op, io_label(b));
  if (!b->vt.tell || !b->vt.seek || !b->vt.read)
    return mx_fail(MX_EINVAL, "[%s] the reader needs tell, seek and read.", op);
  size_t start = b->vt.tell(b->desc);
  b->vt.seek(b->desc, 0, SEEK_END);
  size_t end = b->vt.tell(b->desc);
  b->vt.seek(b->desc, (int64_t)start, SEEK_SET);
  if (end < start) return mx_fail(MX_ERUNTIME, "[%s] cannot size %s", op, io_label(b));
  size_t n = end - start;
  uint8_t *data = malloc(n ? n : 1);
  if (!data) return mx_fail(MX_ENOMEM, "[malloc] Unable to allocate %zu bytes.", n);
  if (n) b->vt.read(b->desc, (char *)data, n);
  if (b->vt.good && !b->vt.good(b->desc)) {
    free(data);
    return mx_fail(MX_ERUNTIME, "[%s] Unable to read %zu bytes from %s", op, n, io_label(b));
  }
  return mx_io_blob_from_memory(data, n, io_label(b));
}

static int box_write(void *ctx, const void *data, size_t n) {
  io_box *b = ctx;
  b->vt.write(b->desc, data, n);
  if (b->vt.good && !b->vt.good(b->desc))
    return mx_fail_int(MX_ERUNTIME, "[save] Failed to write to %s", io_label(b));
  return 0;
}

static int writer_of(mlx_io_writer w, mx_io_writer *out, const char *op) {
  io_box *b = w.ctx;
  if (!b) return mx_fail_int(MX_EINVAL, "expected a non-empty mlx_io_writer");
  if (!b->vt.write) return mx_fail_int(MX_EINVAL, "[%s] the writer has no write function.", op);
  if ((b->vt.is_open && !b->vt.is_open(b->desc)) || (b->vt.good && !b->vt.good(b->desc)))
    return mx_fail_int(MX_ERUNTIME, "[%s] Failed to open %s", op, io_label(b));
  out->write = box_write;
  out->ctx = b;
  out->pos = 0;
  return 0;
}

typedef int (*save_fn)(mx_io_writer *w, void *args);

/* Saves to path (ext appended when missing) through fn. 0 or -1 + core error. */
static int save_path(const char *file, const char *ext, const char *op, save_fn fn, void *args) {
  if (!file) return mx_fail_int(MX_EINVAL, "[%s] expected a non-null file name", op);
  char *full = mx_io_path_with_ext(file, ext);
  if (!full) return -1;
  mx_io_writer w;
  int rc = mx_io_writer_open_file(&w, full, op);
  if (rc == 0) {
    rc = fn(&w, args);
    if (mx_io_writer_close_file(&w, rc == 0, op) != 0 && rc == 0) rc = -1;
  }
  free(full);
  return rc;
}

/* ---- npy ------------------------------------------------------------------------------------ */

static int load_npy_blob(mlx_array *res, mx_io_blob *b, const mlx_stream s) {
  mx_stream st;
  if (!b) return mx_capi_report(HERE);
  if (mx_capi_stream(s, &st)) {
    mx_io_blob_release(b);
    return 1;
  }
  mx_array *a = mx_io_load_npy(b, 0, b->size, st);
  mx_io_blob_release(b);
  return mx_capi_set_array_at(res, a, HERE);
}

int mlx_load(mlx_array *res, const char *file, const mlx_stream s) {
  if (!file) return mx_capi_fail(HERE, MX_EINVAL, "[load] expected a non-null file name");
  return load_npy_blob(res, mx_io_open(file, MX_IO_NPY), s);
}

int mlx_load_reader(mlx_array *res, mlx_io_reader in_stream, const mlx_stream s) {
  return load_npy_blob(res, reader_blob(in_stream, "load"), s);
}

static int save_npy_cb(mx_io_writer *w, void *a) { return mx_io_save_npy(w, a); }

int mlx_save(const char *file, const mlx_array a) {
  mx_array *node = mx_capi_node(a);
  if (!node) return mx_capi_report(HERE);
  return save_path(file, ".npy", "save", save_npy_cb, node) ? mx_capi_report(HERE) : 0;
}

int mlx_save_writer(mlx_io_writer out_stream, const mlx_array a) {
  mx_array *node = mx_capi_node(a);
  mx_io_writer w;
  if (!node || writer_of(out_stream, &w, "save") != 0 || mx_io_save_npy(&w, node) != 0)
    return mx_capi_report(HERE);
  return 0;
}

/* ---- safetensors ------------------------------------------------------------------------ */

/* Replaces the contents of a map handle (allocating one for an empty handle). */
static int fill_array_map(mlx_map_string_to_array *res, mx_io_arrays *d) {
  mlx_map_string_to_array m = mlx_map_string_to_array_new();
  if (!m.ctx) return 1;
  for (size_t i = 0; i < d->n; i++) {
    mlx_array h = {NULL};
    mx_array_retain(d->v[i].array);
    int rc = mx_capi_set_array(&h, d->v[i].array) || mlx_map_string_to_array_insert(m, d->v[i].name.s, h);
    mlx_array_free(h);
    if (rc) {
      mlx_map_string_to_array_free(m);
      return 1;
    }
  }
  mlx_map_string_to_array_free(*res);
  *res = m;
  return 0;
}

static int fill_string_map(mlx_map_string_to_string *res, mx_io_meta *meta) {
  mlx_map_string_to_string m = mlx_map_string_to_string_new();
  if (!m.ctx) return 1;
  for (size_t i = 0; i < meta->n; i++) {
    if (mlx_map_string_to_string_insert(m, meta->v[i].key.s, meta->v[i].str.s)) {
      mlx_map_string_to_string_free(m);
      return 1;
    }
  }
  mlx_map_string_to_string_free(*res);
  *res = m;
  return 0;
}

static int load_st_blob(mlx_map_string_to_array *res_0, mlx_map_string_to_string *res_1,
                        mx_io_blob *b, const mlx_stream s) {
  mx_stream st;
  if (!b) return mx_capi_report(HERE);
  if (mx_capi_stream(s, &st)) {
    mx_io_blob_release(b);
    return 1;
  }
  mx_io_arrays d = {0};
  mx_io_meta meta = {0};
  mx_array *single = NULL;
  int rc = mx_io_load_blob(b, MX_IO_SAFETENSORS, st, &single, &d, &meta);
  mx_io_blob_release(b);
  if (rc != 0) return mx_capi_report(HERE);
  rc = fill_array_map(res_0, &d);
  if (rc == 0 && res_1) rc = fill_string_map(res_1, &meta);
  mx_io_arrays_clear(&d);
  mx_io_meta_clear(&meta);
  return rc;
}

int mlx_load_safetensors(mlx_map_string_to_array *res_0, mlx_map_string_to_string *res_1,
                         const char *file, const mlx_stream s) {
  if (!file) return mx_capi_fail(HERE, MX_EINVAL, "[load_safetensors] expected a file name");
  return load_st_blob(res_0, res_1, mx_io_open(file, MX_IO_SAFETENSORS), s);
}

int mlx_load_safetensors_reader(mlx_map_string_to_array *res_0,
                                mlx_map_string_to_string *res_1, mlx_io_reader in_stream,
                                const mlx_stream s) {
  return load_st_blob(res_0, res_1, reader_blob(in_stream, "load_safetensors"), s);
}

typedef struct st_args {
  mx_io_arrays d;
  mx_io_meta meta;
} st_args;

/* Copies the maps into the io containers. 0 or -1 + core error. */
static int st_args_from(st_args *a, mlx_map_string_to_array param,
                        mlx_map_string_to_string metadata) {
  memset(a, 0, sizeof *a);
  if (!param.ctx) return mx_fail_int(MX_EINVAL, "expected a non-empty map");
  for (size_t i = 0; i < mx_capi_map_size(param.ctx); i++) {
    mx_array *n = mx_capi_map_node(param.ctx, i);
    const char *k = mx_capi_map_key(param.ctx, i);
    mx_array_retain(n);
    if (mx_io_arrays_push(&a->d, k, strlen(k), n) != 0) return -1;
  }
  for (size_t i = 0; metadata.ctx && i < mx_capi_map_size(metadata.ctx); i++) {
    const char *k = mx_capi_map_key(metadata.ctx, i), *v = mx_capi_map_str(metadata.ctx, i);
    if (mx_io_meta_push_string(&a->meta, k, strlen(k), v, strlen(v)) != 0) return -1;
  }
  return 0;
}

static void st_args_clear(st_args *a) {
  mx_io_arrays_clear(&a->d);
  mx_io_meta_clear(&a->meta);
}

static int save_st_cb(mx_io_writer *w, void *p) {
  st_args *a = p;
  return mx_io_save_safetensors(w, &a->d, &a->meta);
}

int mlx_save_safetensors(const char *file, const mlx_map_string_to_array param,
                         const mlx_map_string_to_string metadata) {
  st_args a;
  int rc = st_args_from(&a, param, metadata);
  if (rc == 0) rc = save_path(file, ".safetensors", "save_safetensors", save_st_cb, &a);
  st_args_clear(&a);
  return rc ? mx_capi_report(HERE) : 0;
}

int mlx_save_safetensors_writer(mlx_io_writer in_stream, const mlx_map_string_to_array param,
                                const mlx_map_string_to_string metadata) {
  st_args a;
  mx_io_writer w;
  int rc = st_args_from(&a, param, metadata);
  if (rc == 0) rc = writer_of(in_stream, &w, "save_safetensors");
  if (rc == 0) rc = mx_io_save_safetensors(&w, &a.d, &a.meta);
  st_args_clear(&a);
  return rc ? mx_capi_report(HERE) : 0;
}

/* ---- GGUF ---------------------------------------------------------------------------------- */

typedef struct gguf_box {
  mx_io_arrays d;
  mx_io_meta meta;
} gguf_box;

mlx_io_gguf mlx_io_gguf_new(void) {
  mlx_io_gguf g = {calloc(1, sizeof(gguf_box))};
  if (!g.ctx) mx_capi_fail(HERE, MX_ENOMEM, "[malloc] Unable to allocate a gguf object.");
  return g;
}

int mlx_io_gguf_free(mlx_io_gguf io) {
  gguf_box *b = io.ctx;
  if (!b) return 0;
  mx_io_arrays_clear(&b->d);
  mx_io_meta_clear(&b->meta);
  free(b);
  return 0;
}

static gguf_box *gguf_of(mlx_io_gguf io, const char *key) {
  if (!io.ctx) return mx_fail(MX_EINVAL, "expected a non-empty mlx_io_gguf");
  if (!key) return mx_fail(MX_EINVAL, "expected a non-null key");
  return io.ctx;
}

static mx_io_named *find_array(gguf_box *b, const char *key) {
  size_t n = strlen(key);
  for (size_t i = 0; i < b->d.n; i++)
    if (b->d.v[i].name.len == n && memcmp(b->d.v[i].name.s, key, n) == 0) return &b->d.v[i];
  return NULL;
}

static mx_io_meta_entry *find_meta(gguf_box *b, const char *key) {
  size_t n = strlen(key);
  for (size_t i = 0; i < b->meta.n; i++)
    if (b->meta.v[i].key.len == n && memcmp(b->meta.v[i].key.s, key, n) == 0)
      return &b->meta.v[i];
  return NULL;
}

int mlx_io_gguf_get_keys(mlx_vector_string *keys, mlx_io_gguf io) {
  gguf_box *b = gguf_of(io, "");
  if (!b) return mx_capi_report(HERE);
  const char **names = malloc((b->d.n ? b->d.n : 1) * sizeof *names);
  if (!names) return mx_capi_fail(HERE, MX_ENOMEM, "[malloc] Unable to allocate keys.");
  for (size_t i = 0; i < b->d.n; i++) names[i] = b->d.v[i].name.s;
  int rc = mlx_vector_string_set_data(keys, names, b->d.n);
  free(names);
  return rc;
}

int mlx_io_gguf_get_array(mlx_array *arr, mlx_io_gguf io, const char *key) {
  gguf_box *b = gguf_of(io, key);
  if (!b) return mx_capi_report(HERE);
  mx_io_named *e = find_array(b, key);
  if (!e) return mx_capi_fail(HERE, MX_EINVAL, "[gguf] no array named '%s'", key);
  mx_array_retain(e->array);
  return mx_capi_set_array(arr, e->array);
}

static mx_io_meta_entry *meta_of_kind(mlx_io_gguf io, const char *key, mx_io_meta_kind kind) {
  gguf_box *b = gguf_of(io, key);
  if (!b) return NULL;
  mx_io_meta_entry *e = find_meta(b, key);
  if (!e || e->kind != kind)
    return mx_fail(MX_EINVAL, "[gguf] no %s metadata named '%s'",
                   kind == MX_IO_META_ARRAY ? "array" : kind == MX_IO_META_STRING ? "string"
                                                                                    : "vector string",
                   key);
  return e;
}

int mlx_io_gguf_get_metadata_array(mlx_array *arr, mlx_io_gguf io, const char *key) {
  mx_io_meta_entry *e = meta_of_kind(io, key, MX_IO_META_ARRAY);
  if (!e) return mx_capi_report(HERE);
  mx_array_retain(e->array);
  return mx_capi_set_array(arr, e->array);
}

int mlx_io_gguf_get_metadata_string(mlx_string *str, mlx_io_gguf io, const char *key) {
  mx_io_meta_entry *e = meta_of_kind(io, key, MX_IO_META_STRING);
  if (!e) return mx_capi_report(HERE);
  char *d = malloc(e->str.len + 1);
  if (d) memcpy(d, e->str.s, e->str.len + 1);
  return mx_capi_set_string(str, d);
}

int mlx_io_gguf_get_metadata_vector_string(mlx_vector_string *vstr, mlx_io_gguf io,
                                           const char *key) {
  mx_io_meta_entry *e = meta_of_kind(io, key, MX_IO_META_STRINGS);
  if (!e) return mx_capi_report(HERE);
  const char **v = malloc((e->n_strs ? e->n_strs : 1) * sizeof *v);
  if (!v) return mx_capi_fail(HERE, MX_ENOMEM, "[malloc] Unable to allocate strings.");
  for (size_t i = 0; i < e->n_strs; i++) v[i] = e->strs[i].s;
  int rc = mlx_vector_string_set_data(vstr, v, e->n_strs);
  free(v);
  return rc;
}

static int has_meta(bool *flag, mlx_io_gguf io, const char *key, mx_io_meta_kind kind) {
  gguf_box *b = gguf_of(io, key);
  if (!b) return mx_capi_report(HERE);
  mx_io_meta_entry *e = find_meta(b, key);
  *flag = e && e->kind == kind;
  return 0;
}

int mlx_io_gguf_has_metadata_array(bool *flag, mlx_io_gguf io, const char *key) {
  return has_meta(flag, io, key, MX_IO_META_ARRAY);
}
int mlx_io_gguf_has_metadata_string(bool *flag, mlx_io_gguf io, const char *key) {
  return has_meta(flag, io, key, MX_IO_META_STRING);
}
int mlx_io_gguf_has_metadata_vector_string(bool *flag, mlx_io_gguf io, const char *key) {
  return has_meta(flag, io, key, MX_IO_META_STRINGS);
}

int mlx_io_gguf_set_array(mlx_io_gguf io, const char *key, const mlx_array arr) {
  gguf_box *b = gguf_of(io, key);
  mx_array *node = b ? mx_capi_node(arr) : NULL;
  if (!node) return mx_capi_report(HERE);
  mx_array_retain(node);
  mx_io_named *e = find_array(b, key);
  if (e) {
    mx_array_release(e->array);
    e->array = node;
    return 0;
  }
  return mx_io_arrays_push(&b->d, key, strlen(key), node) ? mx_capi_report(HERE) : 0;
}

/* Removes an existing metadata entry of any kind (set_* overwrite). */
static void drop_meta(gguf_box *b, const char *key) {
  mx_io_meta_entry *e = find_meta(b, key);
  if (e) mx_io_meta_remove(&b->meta, (size_t)(e - b->meta.v));
}

int mlx_io_gguf_set_metadata_array(mlx_io_gguf io, const char *key, const mlx_array marr) {
  gguf_box *b = gguf_of(io, key);
  mx_array *node = b ? mx_capi_node(marr) : NULL;
  if (!node) return mx_capi_report(HERE);
  drop_meta(b, key);
  mx_array_retain(node);
  return mx_io_meta_push_array(&b->meta, key, strlen(key), node) ? mx_capi_report(HERE) : 0;
}

int mlx_io_gguf_set_metadata_string(mlx_io_gguf io, const char *key, const char *mstr) {
  gguf_box *b = gguf_of(io, key);
  if (!b) return mx_capi_report(HERE);
  if (!mstr) return mx_capi_fail(HERE, MX_EINVAL, "expected a non-null string");
  drop_meta(b, key);
  return mx_io_meta_push_string(&b->meta, key, strlen(key), mstr, strlen(mstr))
             ? mx_capi_report(HERE)
             : 0;
}

int mlx_io_gguf_set_metadata_vector_string(mlx_io_gguf io, const char *key,
                                           const mlx_vector_string mvstr) {
  gguf_box *b = gguf_of(io, key);
  if (!b) return mx_capi_report(HERE);
  size_t n = mlx_vector_string_size(mvstr);
  if (!mvstr.ctx) return 1;
  const char **v = malloc((n ? n : 1) * sizeof *v);
  size_t *lens = malloc((n ? n : 1) * sizeof *lens);
  int rc = (v && lens) ? 0 : mx_capi_fail(HERE, MX_ENOMEM, "[malloc] Unable to allocate strings.");
  for (size_t i = 0; rc == 0 && i < n; i++) {
    char *s;
    rc = mlx_vector_string_get(&s, mvstr, i);
    v[i] = s;
    lens[i] = rc == 0 ? strlen(s) : 0;
  }
  if (rc == 0) {
    drop_meta(b, key);
    if (mx_io_meta_push_strings(&b->meta, key, strlen(key), v, lens, n) != 0)
      rc = mx_capi_report(HERE);
  }
  free(v);
  free(lens);
  return rc;
}

int mlx_load_gguf(mlx_io_gguf *res, const char *file, const mlx_stream s) {
  mx_stream st;
  if (!res) return mx_capi_fail(HERE, MX_EINVAL, "expected a non-null mlx_io_gguf pointer");
  if (!file) return mx_capi_fail(HERE, MX_EINVAL, "[load_gguf] expected a file name");
  if (mx_capi_stream(s, &st)) return 1;
  mx_io_blob *b = mx_io_open(file, MX_IO_GGUF);
  if (!b) return mx_capi_report(HERE);
  gguf_box *g = calloc(1, sizeof *g);
  mx_array *single = NULL;
  int rc = g ? mx_io_load_blob(b, MX_IO_GGUF, st, &single, &g->d, &g->meta)
             : mx_fail_int(MX_ENOMEM, "[malloc] Unable to allocate a gguf object.");
  mx_io_blob_release(b);
  if (rc != 0) {
    free(g);
    return mx_capi_report(HERE);
  }
  mlx_io_gguf_free(*res);
  res->ctx = g;
  return 0;
}

static int save_gguf_cb(mx_io_writer *w, void *p) {
  gguf_box *g = p;
  return mx_io_save_gguf(w, &g->d, &g->meta);
}

int mlx_save_gguf(const char *file, const mlx_io_gguf gguf) {
  if (!gguf.ctx) return mx_capi_fail(HERE, MX_EINVAL, "expected a non-empty mlx_io_gguf");
  return save_path(file, ".gguf", "save_gguf", save_gguf_cb, gguf.ctx) ? mx_capi_report(HERE)
                                                                        : 0;
}
