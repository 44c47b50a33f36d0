/* json.c: JSON reader and writer helpers for safetensors headers (json.h). Recursive
 * descent with a depth bound of 64, strict RFC 8259 grammar, UTF-8 validated, duplicate
 * keys rejected; every node and string lives in one arena freed with the document. */
#include "json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JSON_MAX_DEPTH 64

typedef struct arena_chunk {
  struct arena_chunk *next;
  size_t used, cap;
  max_align_t data[];
} arena_chunk;

typedef struct jparser {
  const char *start, *p, *end;
  arena_chunk *arena;
  const char *op;
  int depth;
} jparser;

static void *arena_alloc(jparser *j, size_t n) {
  n = (n + 15) & ~(size_t)15;
  arena_chunk *c = j->arena;
  if (!c || c->cap - c->used < n) {
    size_t cap = n > 65536 ? n : 65536;
    c = malloc(sizeof(arena_chunk) + cap);
    if (!c) return mx_fail(MX_ENOMEM, "[%s] out of memory parsing JSON.", j->op);
    c->next = j->arena;
    c->used = 0;
    c->cap = cap;
    j->arena = c;
  }
  void *p = (char *)c->data + c->used;
  c->used += n;
  return p;
}

static int jfail(jparser *j, const char *what) {
  return mx_fail_int(MX_EINVAL, "[%s] Invalid JSON header: %s at byte %zu.", j->op, what,
                     (size_t)(j->p - j->start));
}

static void ws(jparser *j) {
  while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
    j->p++;
}

static int parse_value(jparser *j, mx_json *out);

/* Appends code point cp as UTF-8 to buf (room for 4 bytes). */
static size_t put_utf8(char *buf, uint32_t cp) {
  if (cp < 0x80) {
    buf[0] = (char)cp;
    return 1;
  }
  if (cp < 0x800) {
    buf[0] = (char)(0xC0 | (cp >> 6));
    buf[1] = (char)(0x80 | (cp & 0x3F));
    return 2;
  }
  if (cp < 0x10000) {
    buf[0] = (char)(0xE0 | (cp >> 12));
    buf[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
    buf[2] = (char)(0x80 | (cp & 0x3F));
    return 3;
  }
  buf[0] = (char)(0xF0 | (cp >> 18));
  buf[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
  buf[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
  buf[3] = (char)(0x80 | (cp & 0x3F));
  return 4;
}

/* Length of the valid UTF-8 sequence at p (at most n bytes), 0 if invalid. */
static size_t utf8_len(const unsigned char *p, size_t n) {
  unsigned char c = p[0];
  size_t len;
  uint32_t cp, min;
  if (c < 0x80) return 1;
  if ((c & 0xE0) == 0xC0) len = 2, cp = c & 0x1F, min = 0x80;
  else if ((c & 0xF0) == 0xE0) len = 3, cp = c & 0x0F, min = 0x800;
  else if ((c & 0xF8) == 0xF0) len = 4, cp = c & 0x07, min = 0x10000;
  else return 0;
  if (n < len) return 0;
  for (size_t i = 1; i < len; i++) {
    if ((p[i] & 0xC0) != 0x80) return 0;
    cp = cp << 6 | (p[i] & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return len;
}

static int hex4(jparser *j, uint32_t *out) {
  if (j->end - j->p < 4) return jfail(j, "truncated \\u escape");
  uint32_t v = 0;
  for (int i = 0; i < 4; i++) {
    char c = j->p[i];
    v <<= 4;
    if (c >= '0' && c <= '9') v |= (uint32_t)(c - '0');
    else if (c >= 'a' && c <= 'f') v |= (uint32_t)(c - 'a' + 10);
    else if (c >= 'A' && c <= 'F') v |= (uint32_t)(c - 'A' + 10);
    else return jfail(j, "bad \\u escape");
  }
  j->p += 4;
  *out = v;
  return 0;
}

static int parse_string(jparser *j, mx_io_str *out) {
  j->p++; /* opening quote */
  /* the decoded string is never longer than its source text */
  const char *q = j->p;
  while (q < j->end && *q != '"') q += (*q == '\\' && q + 1 < j->end) ? 2 : 1;
  if (q >= j->end) return jfail(j, "unterminated string");
  char *buf = arena_alloc(j, (size_t)(q - j->p) + 1);
  if (!buf) return -1;
  size_t n = 0;
  while (*j->p != '"') {
    unsigned char c = (unsigned char)*j->p;
    if (c < 0x20) return jfail(j, "control character in string");
    if (c == '\\') {
      j->p++;
      char e = *j->p++;
      switch (e) {
      case '"': buf[n++] = '"'; break;
      case '\\': buf[n++] = '\\'; break;
      case '/': buf[n++] = '/'; break;
      case 'b': buf[n++] = '\b'; break;
      case 'f': buf[n++] = '\f'; break;
      case 'n': buf[n++] = '\n'; break;
      case 'r': buf[n++] = '\r'; break;
      case 't': buf[n++] = '\t'; break;
      case 'u': {
        uint32_t cp;
        if (hex4(j, &cp) != 0) return -1;
        if (cp >= 0xD800 && cp <= 0xDBFF) {
          uint32_t lo;
          if (j->end - j->p < 2 || j->p[0] != '\\' || j->p[1] != 'u')
            return jfail(j, "lone surrogate");
          j->p += 2;
          if (hex4(j, &lo) != 0) return -1;
          if (lo < 0xDC00 || lo > 0xDFFF) return jfail(j, "lone surrogate");
          cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
          return jfail(j, "lone surrogate");
        }
        /* a \uXXXX escape (6+ source bytes) never decodes to more bytes than it took */
        n += put_utf8(buf + n, cp);
        break;
      }
      default: return jfail(j, "bad escape");
      }
    } else {
      size_t l = utf8_len((const unsigned char *)j->p, (size_t)(j->end - j->p));
      if (l == 0) return jfail(j, "invalid UTF-8");
      memcpy(buf + n, j->p, l);
      n += l;
      j->p += l;
    }
  }
  j->p++; /* closing quote */
  buf[n] = '\0';
  out->s = buf;
  out->len = n;
  return 0;
}

static int parse_number(jparser *j, mx_json *out) {
  const char *start = j->p;
  bool neg = false, integer = true;
  if (*j->p == '-') neg = true, j->p++;
  if (j->p >= j->end) return jfail(j, "bad number");
  if (*j->p == '0') {
    j->p++;
  } else if (*j->p >= '1' && *j->p <= '9') {
    while (j->p < j->end && *j->p >= '0' && *j->p <= '9') j->p++;
  } else {
    return jfail(j, "bad number");
  }
  if (j->p < j->end && *j->p == '.') {
    integer = false;
    j->p++;
    if (j->p >= j->end || *j->p < '0' || *j->p > '9') return jfail(j, "bad number");
    while (j->p < j->end && *j->p >= '0' && *j->p <= '9') j->p++;
  }
  if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
    integer = false;
    j->p++;
    if (j->p < j->end && (*j->p == '+' || *j->p == '-')) j->p++;
    if (j->p >= j->end || *j->p < '0' || *j->p > '9') return jfail(j, "bad number");
    while (j->p < j->end && *j->p >= '0' && *j->p <= '9') j->p++;
  }
  size_t len = (size_t)(j->p - start);
  out->type = MX_JSON_NUMBER;
  out->is_uint = false;
  if (integer && !neg) {
    uint64_t v = 0;
    bool ok = true;
    for (const char *c = start; c < j->p; c++) {
      uint64_t d = (uint64_t)(*c - '0');
      if (v > (UINT64_MAX - d) / 10) {
        ok = false;
        break;
      }
      v = v * 10 + d;
    }
    out->is_uint = ok;
    out->u = v;
  }
  char small[64];
  char *tmp = len < sizeof small ? small : malloc(len + 1);
  if (!tmp) return mx_fail_int(MX_ENOMEM, "[%s] out of memory parsing JSON.", j->op);
  memcpy(tmp, start, len);
  tmp[len] = '\0';
  out->d = strtod(tmp, NULL);
  if (tmp != small) free(tmp);
  return 0;
}

typedef struct key_sort {
  const mx_io_str *keys;
  size_t i;
} key_sort;

static int cmp_keys(const void *x, const void *y) {
  const mx_io_str *a = ((const key_sort *)x)->keys + ((const key_sort *)x)->i;
  const mx_io_str *b = ((const key_sort *)y)->keys + ((const key_sort *)y)->i;
  size_t n = a->len < b->len ? a->len : b->len;
  int c = memcmp(a->s, b->s, n);
  if (c) return c;
  return a->len < b->len ? -1 : a->len > b->len;
}

static int check_unique(jparser *j, const mx_io_str *keys, size_t n) {
  if (n < 2) return 0;
  key_sort *idx = malloc(n * sizeof *idx);
  if (!idx) return mx_fail_int(MX_ENOMEM, "[%s] out of memory parsing JSON.", j->op);
  for (size_t i = 0; i < n; i++) idx[i] = (key_sort){keys, i};
  qsort(idx, n, sizeof *idx, cmp_keys);
  int rc = 0;
  for (size_t i = 1; i < n && rc == 0; i++)
    if (cmp_keys(&idx[i - 1], &idx[i]) == 0)
      rc = mx_fail_int(MX_EINVAL, "[%s] Invalid JSON header: duplicate key \"%.100s\".", j->op,
                       keys[idx[i].i].s);
  free(idx);
  return rc;
}

/* Array and object items are collected in a heap vector, then moved into the arena. */
static int parse_container(jparser *j, mx_json *out, bool object) {
  j->p++;
  if (++j->depth > JSON_MAX_DEPTH) return jfail(j, "nesting too deep");
  mx_json *vals = NULL;
  mx_io_str *keys = NULL;
  size_t n = 0, cap = 0;
  int rc = 0;
  ws(j);
  if (j->p < j->end && *j->p == (object ? '}' : ']')) {
    j->p++;
  } else {
    for (;;) {
      if (n == cap) {
        cap = cap ? cap * 2 : 8;
        mx_json *nv = realloc(vals, cap * sizeof *vals);
        if (nv) vals = nv;
        mx_io_str *nk = object ? realloc(keys, cap * sizeof *keys) : NULL;
        if (nk) keys = nk;
        if (!nv || (object && !nk)) {
          rc = mx_fail_int(MX_ENOMEM, "[%s] out of memory parsing JSON.", j->op);
          break;
        }
      }
      ws(j);
      if (object) {
        if (j->p >= j->end || *j->p != '"') {
          rc = jfail(j, "expected a key");
          break;
        }
        if ((rc = parse_string(j, &keys[n])) != 0) break;
        ws(j);
        if (j->p >= j->end || *j->p != ':') {
          rc = jfail(j, "expected ':'");
          break;
        }
        j->p++;
      }
      memset(&vals[n], 0, sizeof vals[n]);
      if ((rc = parse_value(j, &vals[n])) != 0) break;
      n++;
      ws(j);
      if (j->p < j->end && *j->p == ',') {
        j->p++;
        continue;
      }
      if (j->p < j->end && *j->p == (object ? '}' : ']')) {
        j->p++;
        break;
      }
      rc = jfail(j, object ? "expected ',' or '}'" : "expected ',' or ']'");
      break;
    }
  }
  if (rc == 0 && object) rc = check_unique(j, keys, n);
  if (rc == 0) {
    out->type = object ? MX_JSON_OBJECT : MX_JSON_ARRAY;
    out->n = n;
    if (n) {
      out->items = arena_alloc(j, n * sizeof *vals);
      if (!out->items) rc = -1;
      else memcpy(out->items, vals, n * sizeof *vals);
      if (rc == 0 && object) {
        out->keys = arena_alloc(j, n * sizeof *keys);
        if (!out->keys) rc = -1;
        else memcpy(out->keys, keys, n * sizeof *keys);
      }
    }
  }
  free(vals);
  free(keys);
  j->depth--;
  return rc;
}

static int parse_literal(jparser *j, const char *w, size_t n) {
  if ((size_t)(j->end - j->p) < n || memcmp(j->p, w, n) != 0) return jfail(j, "bad literal");
  j->p += n;
  return 0;
}

static int parse_value(jparser *j, mx_json *out) {
  ws(j);
  if (j->p >= j->end) return jfail(j, "unexpected end");
  switch (*j->p) {
  case '{': return parse_container(j, out, true);
  case '[': return parse_container(j, out, false);
  case '"':
    out->type = MX_JSON_STRING;
    return parse_string(j, &out->str);
  case 't':
    out->type = MX_JSON_BOOL;
    out->b = true;
    return parse_literal(j, "true", 4);
  case 'f':
    out->type = MX_JSON_BOOL;
    return parse_literal(j, "false", 5);
  case 'n':
    out->type = MX_JSON_NULL;
    return parse_literal(j, "null", 4);
  default: return parse_number(j, out);
  }
}

int mx_json_parse(const char *text, size_t n, mx_json_doc *doc, const char *op) {
  jparser j = {text, text, text + n, NULL, op, 0};
  memset(doc, 0, sizeof *doc);
  int rc = parse_value(&j, &doc->root);
  if (rc == 0) {
    ws(&j);
    /* safetensors writers may pad the header with spaces (done above) or NULs */
    while (j.p < j.end && *j.p == '\0') j.p++;
    if (j.p != j.end) rc = jfail(&j, "trailing characters");
  }
  doc->arena = j.arena;
  if (rc != 0) mx_json_free(doc);
  return rc;
}

void mx_json_free(mx_json_doc *doc) {
  arena_chunk *c = doc->arena;
  while (c) {
    arena_chunk *next = c->next;
    free(c);
    c = next;
  }
  doc->arena = NULL;
  memset(&doc->root, 0, sizeof doc->root);
}

const mx_json *mx_json_get(const mx_json *obj, const char *key) {
  if (!obj || obj->type != MX_JSON_OBJECT) return NULL;
  size_t kn = strlen(key);
  for (size_t i = 0; i < obj->n; i++)
    if (obj->keys[i].len == kn && memcmp(obj->keys[i].s, key, kn) == 0) return &obj->items[i];
  return NULL;
}

int mx_json_write_raw(mx_io_membuf *m, const char *s) {
  mx_io_writer w;
  mx_io_writer_memory(&w, m);
  return mx_io_write(&w, s, strlen(s));
}

int mx_json_write_string(mx_io_membuf *m, const char *s, size_t n) {
  mx_io_writer w;
  mx_io_writer_memory(&w, m);
  if (mx_io_write(&w, "\"", 1) != 0) return -1;
  size_t run = 0; /* bytes copied verbatim, flushed before each escape */
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    const char *esc = NULL;
    char ubuf[8];
    switch (c) {
    case '"': esc = "\\\""; break;
    case '\\': esc = "\\\\"; break;
    case '\b': esc = "\\b"; break;
    case '\f': esc = "\\f"; break;
    case '\n': esc = "\\n"; break;
    case '\r': esc = "\\r"; break;
    case '\t': esc = "\\t"; break;
    default:
      if (c < 0x20) {
        snprintf(ubuf, sizeof ubuf, "\\u%04x", c);
        esc = ubuf;
      }
    }
    if (!esc) {
      run++;
      continue;
    }
    if (mx_io_write(&w, s + i - run, run) != 0 || mx_io_write(&w, esc, strlen(esc)) != 0)
      return -1;
    run = 0;
  }
  if (mx_io_write(&w, s + n - run, run) != 0) return -1;
  return mx_io_write(&w, "\"", 1);
}
