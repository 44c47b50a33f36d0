/* json.h: the small JSON reader and writer helpers of the safetensors format (private to
 * src/io). The reader builds a tree in one arena, bounds nesting depth, rejects invalid
 * UTF-8 escapes and duplicate keys, and keeps integers exact (uint64). */
#ifndef MX_IO_JSON_H
#define MX_IO_JSON_H

#include "io.h"

typedef enum mx_json_type {
  MX_JSON_NULL = 0,
  MX_JSON_BOOL,
  MX_JSON_NUMBER,
  MX_JSON_STRING,
  MX_JSON_ARRAY,
  MX_JSON_OBJECT,
} mx_json_type;

typedef struct mx_json mx_json;
struct mx_json {
  mx_json_type type;
  bool b;
  bool is_uint;           /* NUMBER: a non-negative integer that fits uint64 */
  uint64_t u;
  double d;
  mx_io_str str;          /* STRING (points into the arena) */
  size_t n;               /* ARRAY / OBJECT: number of items */
  mx_json *items;         /* ARRAY: values; OBJECT: values */
  mx_io_str *keys;        /* OBJECT: keys, parallel to items */
};

typedef struct mx_json_doc {
  mx_json root;
  void *arena;            /* every allocation of the tree, freed together */
} mx_json_doc;

/* Parses text[0, n) (trailing whitespace allowed). 0, or -1 + EINVAL "[op] ..." */
int mx_json_parse(const char *text, size_t n, mx_json_doc *doc, const char *op);
void mx_json_free(mx_json_doc *doc);
/* The value of key in an object, or NULL. */
const mx_json *mx_json_get(const mx_json *obj, const char *key);

/* Appends s as a JSON string literal (quotes and escapes as nlohmann's dump). */
int mx_json_write_string(mx_io_membuf *m, const char *s, size_t n);
int mx_json_write_raw(mx_io_membuf *m, const char *s);

#endif
