/* safetensors.c: the .safetensors format (spec/semantics.md 9.2). Load validates the
 * header length, the JSON, every dtype, shape and offset pair against the data present;
 * save writes compact JSON with sorted keys as MLX does, laying tensors out by decreasing
 * element size (then name) and padding the header with spaces to 8 bytes, so every tensor
 * is naturally aligned and loads zero-copy. Depends on io.h and json.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io.h"
#include "json.h"

#define ST_MAX_HEADER 100000000ull

static const struct {
  const char *name;
  mx_dtype t;
} st_types[] = {
    {"BOOL", MX_BOOL},   {"U8", MX_UINT8},      {"U16", MX_UINT16},  {"U32", MX_UINT32},
    {"U64", MX_UINT64},  {"I8", MX_INT8},       {"I16", MX_INT16},   {"I32", MX_INT32},
    {"I64", MX_INT64},   {"F16", MX_FLOAT16},   {"BF16", MX_BFLOAT16}, {"F32", MX_FLOAT32},
    {"C64", MX_COMPLEX64}, {"F8_E4M3", MX_UINT8}, {"F8_E8M0", MX_UINT8},
};

static const char *st_name(mx_dtype t) {
  for (size_t i = 0; i < MX_ARRAY_LEN(st_types); i++)
    if (st_types[i].t == t) return st_types[i].name;
  return NULL;
}

/* ---- load -------------------------------------------------------------------------------- */

static int st_fail(const char *fmt, const char *name, const char *label) {
  return mx_fail_int(MX_ERUNTIME, fmt, name, label);
}

static int load_tensor(mx_io_blob *b, uint64_t data_start, const mx_io_str *name,
                       const mx_json *v, mx_stream s, mx_io_arrays *out) {
  const mx_json *dt = mx_json_get(v, "dtype");
  const mx_json *sh = mx_json_get(v, "shape");
  const mx_json *off = mx_json_get(v, "data_offsets");
  if (v->type != MX_JSON_OBJECT || !dt || dt->type != MX_JSON_STRING || !sh ||
      sh->type != MX_JSON_ARRAY || !off || off->type != MX_JSON_ARRAY || off->n != 2 ||
      !off->items[0].is_uint || !off->items[1].is_uint)
    return st_fail("[load_safetensors] Tensor '%.200s' has an invalid entry in %s", name->s,
                   b->label);
  mx_dtype t = MX_BOOL;
  bool found = false;
  for (size_t i = 0; i < MX_ARRAY_LEN(st_types) && !found; i++)
    if (strlen(st_types[i].name) == dt->str.len && strcmp(st_types[i].name, dt->str.s) == 0)
      t = st_types[i].t, found = true;
  if (!found)
    return mx_fail_int(MX_ERUNTIME, "[safetensor] unsupported dtype %.64s", dt->str.s);
  if (sh->n > 1024)
    return st_fail("[load_safetensors] Tensor '%.200s' has too many dimensions in %s", name->s,
                   b->label);
  int32_t shape[1024];
  uint64_t count = 1;
  bool overflow = false;
  for (size_t d = 0; d < sh->n; d++) {
    const mx_json *x = &sh->items[d];
    if (!x->is_uint || x->u > INT32_MAX)
      return st_fail("[load_safetensors] Tensor '%.200s' has an invalid shape in %s", name->s,
                     b->label);
    shape[d] = (int32_t)x->u;
    if (x->u && count > UINT64_MAX / 16 / x->u) overflow = true;
    count *= x->u;
  }
  uint64_t begin = off->items[0].u, end = off->items[1].u;
  uint64_t data_size = b->size - data_start;
  if (begin > end || end > data_size)
    return mx_fail_int(MX_ERUNTIME,
                       "[load_safetensors] Tensor '%.200s' invalid data offsets (%llu, %llu) "
                       "exceeding the size of the file. Perhaps an incomplete download or "
                       "corrupt file?",
                       name->s, (unsigned long long)begin, (unsigned long long)end);
  if (overflow || count * (uint64_t)mx_dtype_size(t) != end - begin)
    return mx_fail_int(MX_ERUNTIME,
                       "[load_safetensors] Tensor '%.200s' data offsets (%llu, %llu) do not match "
                       "its shape and dtype %s.",
                       name->s, (unsigned long long)begin, (unsigned long long)end, dt->str.s);
  mx_array *a = mx_io_blob_array(b, data_start + begin, t, (int)sh->n, shape, 0, s,
                                 "load_safetensors");
  return mx_io_arrays_push(out, name->s, name->len, a);
}

int mx_io_load_safetensors(mx_io_blob *b, mx_stream s, mx_io_arrays *out, mx_io_meta *meta) {
  if (b->size < 8)
    return mx_fail_int(MX_ERUNTIME, "[load_safetensors] Invalid json header length %s", b->label);
  uint64_t n = 0;
  for (int i = 0; i < 8; i++) n |= (uint64_t)b->data[i] << (8 * i);
  if (n == 0 || n >= ST_MAX_HEADER)
    return mx_fail_int(MX_ERUNTIME, "[load_safetensors] Invalid json header length %s", b->label);
  if (n > b->size - 8)
    return mx_fail_int(MX_ERUNTIME,
                       "[load_safetensors] The json header (%llu bytes) runs past the end of %s",
                       (unsigned long long)n, b->label);
  mx_json_doc doc;
  if (mx_json_parse((const char *)b->data + 8, (size_t)n, &doc, "load_safetensors") != 0) {
    char msg[MX_ERROR_MAX];
    mx_error_kind k;
    mx_error_save(&k, msg);
    mx_error_restore(k == MX_EINVAL ? MX_ERUNTIME : k, msg); /* MLX raises RuntimeError */
    return -1;
  }
  int rc = 0;
  if (doc.root.type != MX_JSON_OBJECT) {
    rc = mx_fail_int(MX_ERUNTIME, "[load_safetensors] Invalid json metadata %s", b->label);
  }
  for (size_t i = 0; rc == 0 && i < doc.root.n; i++) {
    const mx_io_str *k = &doc.root.keys[i];
    const mx_json *v = &doc.root.items[i];
    if (strcmp(k->s, "__metadata__") == 0 && k->len == 12) {
      if (v->type == MX_JSON_NULL) continue; /* MLX writes null when there is no metadata */
      if (v->type != MX_JSON_OBJECT) {
        rc = mx_fail_int(MX_ERUNTIME, "[load_safetensors] __metadata__ must be an object in %s",
                         b->label);
        break;
      }
      for (size_t m = 0; rc == 0 && m < v->n; m++) {
        if (v->items[m].type != MX_JSON_STRING)
          rc = mx_fail_int(MX_ERUNTIME,
                           "[load_safetensors] Metadata value '%.200s' is not a string in %s",
                           v->keys[m].s, b->label);
        else if (meta)
          rc = mx_io_meta_push_string(meta, v->keys[m].s, v->keys[m].len, v->items[m].str.s,
                                      v->items[m].str.len);
      }
      continue;
    }
    rc = load_tensor(b, 8 + n, k, v, s, out);
  }
  mx_json_free(&doc);
  return rc;
}

/* ---- save -------------------------------------------------------------------------------- */

typedef struct st_item {
  const mx_io_str *name;
  mx_array *a;          /* row-contiguous, evaluated */
  mx_array *owned;
  const uint8_t *data;
  uint64_t begin, end;
} st_item;

static int cmp_bytes(const mx_io_str *a, const mx_io_str *b) {
  size_t n = a->len < b->len ? a->len : b->len;
  int c = memcmp(a->s, b->s, n);
  if (c) return c;
  return a->len < b->len ? -1 : a->len > b->len;
}

static int cmp_layout(const void *x, const void *y) {
  const st_item *a = x, *b = y;
  int sa = mx_dtype_size(a->a->dtype), sb = mx_dtype_size(b->a->dtype);
  if (sa != sb) return sa > sb ? -1 : 1;
  return cmp_bytes(a->name, b->name);
}

/* JSON object entries, sorted by key bytes as nlohmann's std::map orders them. */
typedef struct st_key {
  const mx_io_str *key;
  st_item *item;        /* NULL: the __metadata__ entry */
} st_key;

static int cmp_key(const void *x, const void *y) {
  return cmp_bytes(((const st_key *)x)->key, ((const st_key *)y)->key);
}

static int cmp_meta(const void *x, const void *y) {
  return cmp_bytes(&(*(const mx_io_meta_entry *const *)x)->key,
                   &(*(const mx_io_meta_entry *const *)y)->key);
}

static int write_metadata(mx_io_membuf *m, const mx_io_meta *meta) {
  if (mx_json_write_raw(m, "{") != 0) return -1;
  size_t n = meta ? meta->n : 0;
  const mx_io_meta_entry **idx = n ? malloc(n * sizeof *idx) : NULL;
  if (n && !idx) return mx_fail_int(MX_ENOMEM, "[save_safetensors] out of memory.");
  for (size_t i = 0; i < n; i++) idx[i] = &meta->v[i];
  if (n) qsort(idx, n, sizeof *idx, cmp_meta);
  int rc = 0;
  for (size_t i = 0; rc == 0 && i < n; i++) {
    if (idx[i]->kind != MX_IO_META_STRING) {
      rc = mx_fail_int(MX_EINVAL, "[save_safetensors] Metadata must be a dictionary with string "
                                  "keys and values");
      break;
    }
    if (i > 0 && cmp_bytes(&idx[i - 1]->key, &idx[i]->key) == 0) continue; /* last one wins */
    if ((i > 0 && mx_json_write_raw(m, ",") != 0) ||
        mx_json_write_string(m, idx[i]->key.s, idx[i]->key.len) != 0 ||
        mx_json_write_raw(m, ":") != 0 ||
        mx_json_write_string(m, idx[i]->str.s, idx[i]->str.len) != 0)
      rc = -1;
  }
  free(idx);
  return rc == 0 ? mx_json_write_raw(m, "}") : -1;
}

static int write_entry(mx_io_membuf *m, const st_item *it) {
  char buf[96];
  snprintf(buf, sizeof buf, "{\"data_offsets\":[%llu,%llu],\"dtype\":\"%s\",\"shape\":[",
           (unsigned long long)it->begin, (unsigned long long)it->end, st_name(it->a->dtype));
  if (mx_json_write_raw(m, buf) != 0) return -1;
  for (int d = 0; d < it->a->ndim; d++) {
    snprintf(buf, sizeof buf, d ? ",%d" : "%d", it->a->shape[d]);
    if (mx_json_write_raw(m, buf) != 0) return -1;
  }
  return mx_json_write_raw(m, "]}");
}

int mx_io_save_safetensors(mx_io_writer *w, const mx_io_arrays *arrays, const mx_io_meta *meta) {
  size_t n = arrays->n;
  for (size_t i = 0; i < n; i++) {
    mx_dtype t = arrays->v[i].array->dtype;
    if (t == MX_FLOAT64)
      return mx_fail_int(MX_ERUNTIME, "[save_safetensors] received invalid dtype.");
    if (arrays->v[i].name.len == 12 && strcmp(arrays->v[i].name.s, "__metadata__") == 0)
      return mx_fail_int(MX_EINVAL, "[save_safetensors] '__metadata__' cannot name an array.");
  }
  if (mx_io_arrays_check_unique(arrays, "save_safetensors") != 0) return -1;
  if (mx_io_eval_all(arrays) != 0) return -1;
  st_item *items = calloc(n ? n : 1, sizeof *items);
  st_key *keys = calloc(n + 1, sizeof *keys);
  mx_io_membuf hdr = {0};
  int rc = (!items || !keys) ? mx_fail_int(MX_ENOMEM, "[save_safetensors] out of memory.") : 0;
  for (size_t i = 0; rc == 0 && i < n; i++) {
    items[i].name = &arrays->v[i].name;
    items[i].a = arrays->v[i].array;
    bool fortran;
    rc = mx_io_contiguous_bytes(&items[i].a, &items[i].owned, false, &items[i].data, &fortran);
  }
  if (rc == 0) {
    if (n) qsort(items, n, sizeof *items, cmp_layout);
    uint64_t offset = 0;
    for (size_t i = 0; i < n; i++) {
      items[i].begin = offset;
      offset += mx_array_nbytes(items[i].a);
      items[i].end = offset;
      keys[i] = (st_key){items[i].name, &items[i]};
    }
    static const mx_io_str meta_key = {"__metadata__", 12};
    keys[n] = (st_key){&meta_key, NULL};
    qsort(keys, n + 1, sizeof *keys, cmp_key);
    rc = mx_json_write_raw(&hdr, "{");
    for (size_t i = 0; rc == 0 && i <= n; i++) {
      if ((i > 0 && mx_json_write_raw(&hdr, ",") != 0) ||
          mx_json_write_string(&hdr, keys[i].key->s, keys[i].key->len) != 0 ||
          mx_json_write_raw(&hdr, ":") != 0)
        rc = -1;
      else
        rc = keys[i].item ? write_entry(&hdr, keys[i].item) : write_metadata(&hdr, meta);
    }
    if (rc == 0) rc = mx_json_write_raw(&hdr, "}");
    /* spaces after the JSON so the data (8 + header bytes in) starts 8-byte aligned */
    while (rc == 0 && (hdr.n % 8) != 0) rc = mx_json_write_raw(&hdr, " ");
  }
  if (rc == 0) rc = mx_io_write_u64(w, hdr.n);
  if (rc == 0) rc = mx_io_write(w, hdr.data, hdr.n);
  for (size_t i = 0; rc == 0 && i < n; i++)
    rc = mx_io_write(w, items[i].data, mx_array_nbytes(items[i].a));
  for (size_t i = 0; items && i < n; i++) mx_array_release(items[i].owned);
  free(items);
  free(keys);
  free(hdr.data);
  return rc;
}
