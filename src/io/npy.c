/* npy.c: the .npy format (spec/semantics.md 9.1): header parsing with full validation
 * (magic, versions 1-3, a Python dict literal with descr / fortran_order / shape, sizes
 * against the data present) and the writer (MLX's header text, padded so the data starts
 * 64-byte aligned as NumPy does, which keeps our own files zero-copy on load).
 * Depends on io.h (blobs, writers) and ops (transpose, copy). */
#include "io.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/eval.h"
#include "../ops/ops.h"

static const uint8_t NPY_MAGIC[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};

/* ---- header parsing ---------------------------------------------------------------------- */

typedef struct hdr_parser {
  const char *p, *end;
} hdr_parser;

static void skip_ws(hdr_parser *h) {
  while (h->p < h->end && (*h->p == ' ' || *h->p == '\t' || *h->p == '\n' || *h->p == '\r'))
    h->p++;
}

static bool eat(hdr_parser *h, char c) {
  skip_ws(h);
  if (h->p < h->end && *h->p == c) {
    h->p++;
    return true;
  }
  return false;
}

/* A quoted string ('...' or "..."); no escapes (NumPy never writes them here). */
static bool parse_str(hdr_parser *h, const char **s, size_t *n) {
  skip_ws(h);
  if (h->p >= h->end || (*h->p != '\'' && *h->p != '"')) return false;
  char q = *h->p++;
  const char *start = h->p;
  while (h->p < h->end && *h->p != q) {
    if (*h->p == '\\') return false;
    h->p++;
  }
  if (h->p >= h->end) return false;
  *s = start;
  *n = (size_t)(h->p - start);
  h->p++;
  return true;
}

static bool parse_word(hdr_parser *h, const char *w) {
  skip_ws(h);
  size_t n = strlen(w);
  if ((size_t)(h->end - h->p) >= n && memcmp(h->p, w, n) == 0) {
    h->p += n;
    return true;
  }
  return false;
}

/* A non-negative dimension (optionally with Python 2's L suffix) that fits int32. */
static bool parse_dim(hdr_parser *h, int32_t *out) {
  skip_ws(h);
  if (h->p >= h->end || *h->p < '0' || *h->p > '9') return false;
  int64_t v = 0;
  while (h->p < h->end && *h->p >= '0' && *h->p <= '9') {
    v = v * 10 + (*h->p - '0');
    if (v > INT32_MAX) return false;
    h->p++;
  }
  if (h->p < h->end && *h->p == 'L') h->p++;
  *out = (int32_t)v;
  return true;
}

typedef struct npy_info {
  mx_dtype dtype;
  int swap;        /* byte-swap unit, 0 = none */
  bool fortran;
  int ndim;
  int32_t *shape;  /* malloc'd */
} npy_info;

/* descr: [<>|=]?<kind><size>, the MLX dtypes only (bfloat16 is V2). */
static int parse_descr(const char *s, size_t n, npy_info *info) {
  char buf[16];
  size_t k = n < sizeof buf - 1 ? n : sizeof buf - 1;
  memcpy(buf, s, k);
  buf[k] = '\0';
  const char *r = buf;
  bool big = false;
  if (*r == '<' || *r == '|' || *r == '=' || *r == '>') big = *r++ == '>';
  struct {
    const char *code;
    mx_dtype t;
  } table[] = {{"b1", MX_BOOL},    {"u1", MX_UINT8},   {"u2", MX_UINT16},   {"u4", MX_UINT32},
               {"u8", MX_UINT64},  {"i1", MX_INT8},    {"i2", MX_INT16},    {"i4", MX_INT32},
               {"i8", MX_INT64},   {"f2", MX_FLOAT16}, {"f4", MX_FLOAT32},  {"f8", MX_FLOAT64},
               {"V2", MX_BFLOAT16}, {"c8", MX_COMPLEX64}};
  if (n < sizeof buf - 1) {
    for (size_t i = 0; i < MX_ARRAY_LEN(table); i++) {
      if (strcmp(r, table[i].code) == 0) {
        info->dtype = table[i].t;
        info->swap = big ? mx_dtype_size(table[i].t) : 0;
        if (info->swap == 1) info->swap = 0;
        return 0;
      }
    }
  }
  return mx_fail_int(MX_EINVAL, "[load] Unsupported array protocol type-string: %.*s",
                     (int)(n > 64 ? 64 : n), s);
}

static int parse_shape(hdr_parser *h, npy_info *info) {
  if (!eat(h, '(')) return -1;
  int cap = 0;
  for (;;) {
    if (eat(h, ')')) return 0;
    int32_t d;
    if (!parse_dim(h, &d)) return -1;
    if (info->ndim == cap) {
      cap = cap ? cap * 2 : 8;
      if (cap > 1 << 16) return -1; /* more dimensions than any header can mean */
      int32_t *p = realloc(info->shape, (size_t)cap * sizeof(int32_t));
      if (!p) return mx_fail_int(MX_ENOMEM, "[load] out of memory.");
      info->shape = p;
    }
    info->shape[info->ndim++] = d;
    if (!eat(h, ',')) {
      if (eat(h, ')')) return 0;
      return -1;
    }
  }
}

static int parse_header(const char *text, size_t n, npy_info *info, const char *label) {
  hdr_parser h = {text, text + n};
  bool got_descr = false, got_fortran = false, got_shape = false;
  if (!eat(&h, '{')) goto bad;
  for (;;) {
    if (eat(&h, '}')) break;
    const char *key;
    size_t kn;
    if (!parse_str(&h, &key, &kn) || !eat(&h, ':')) goto bad;
    if (kn == 5 && memcmp(key, "descr", 5) == 0 && !got_descr) {
      const char *v;
      size_t vn;
      if (!parse_str(&h, &v, &vn)) goto bad;
      if (parse_descr(v, vn, info) != 0) return -1;
      got_descr = true;
    } else if (kn == 13 && memcmp(key, "fortran_order", 13) == 0 && !got_fortran) {
      if (parse_word(&h, "True"))
        info->fortran = true;
      else if (parse_word(&h, "False"))
        info->fortran = false;
      else
        goto bad;
      got_fortran = true;
    } else if (kn == 5 && memcmp(key, "shape", 5) == 0 && !got_shape) {
      if (parse_shape(&h, info) != 0) {
        if (mx_error_kind_get() == MX_ENOMEM) return -1;
        goto bad;
      }
      got_shape = true;
    } else {
      goto bad;
    }
    if (eat(&h, ',')) continue;
    if (eat(&h, '}')) break;
    goto bad;
  }
  if (got_descr && got_fortran && got_shape) return 0;
bad:
  return mx_fail_int(MX_EINVAL, "[load] Unknown error while parsing header in %s", label);
}

/* ---- load ---------------------------------------------------------------------------------- */

mx_array *mx_io_load_npy(mx_io_blob *b, uint64_t off, uint64_t size, mx_stream s) {
  if (off > b->size || size > b->size - off)
    return mx_fail(MX_EINVAL, "[load] Invalid npy region in %s", b->label);
  if (size < 10 || memcmp(b->data + off, NPY_MAGIC, 6) != 0)
    return mx_fail(MX_ERUNTIME, "[load] Invalid header in %s", b->label);
  const uint8_t *p = b->data + off;
  uint8_t major = p[6];
  if (major < 1 || major > 3)
    return mx_fail(MX_ERUNTIME, "[load] Unsupported npy format version in %s", b->label);
  uint64_t hlen, pre;
  if (major == 1) {
    hlen = (uint64_t)p[8] | (uint64_t)p[9] << 8;
    pre = 10;
  } else {
    if (size < 12) return mx_fail(MX_ERUNTIME, "[load] Invalid header in %s", b->label);
    hlen = (uint64_t)p[8] | (uint64_t)p[9] << 8 | (uint64_t)p[10] << 16 | (uint64_t)p[11] << 24;
    pre = 12;
  }
  if (hlen > size - pre)
    return mx_fail(MX_ERUNTIME, "[load] Header length %llu runs past the end of %s",
                   (unsigned long long)hlen, b->label);
  npy_info info = {0};
  if (parse_header((const char *)p + pre, (size_t)hlen, &info, b->label) != 0) {
    free(info.shape);
    return NULL;
  }
  /* Fortran order: the data is the row-major data of the reversed shape, transposed back */
  bool transpose = info.fortran && info.ndim > 1;
  if (transpose)
    for (int i = 0, j = info.ndim - 1; i < j; i++, j--) {
      int32_t t = info.shape[i];
      info.shape[i] = info.shape[j];
      info.shape[j] = t;
    }
  uint64_t data_off = off + pre + hlen;
  int64_t n = mx_shape_size("load", info.ndim, info.shape);
  mx_array *a = NULL;
  if (n >= 0) {
    uint64_t need = (uint64_t)n * (uint64_t)mx_dtype_size(info.dtype);
    if ((uint64_t)n > UINT64_MAX / 8 || need > size - pre - hlen)
      mx_fail(MX_EINVAL, "[load] %s holds %llu data bytes, the header describes %llu", b->label,
              (unsigned long long)(size - pre - hlen), (unsigned long long)need);
    else
      a = mx_io_blob_array(b, data_off, info.dtype, info.ndim, info.shape, info.swap, s, "load");
  }
  if (a && transpose) {
    mx_array *t = mx_transpose(a, NULL, -1, s);
    mx_array_release(a);
    a = t;
  }
  free(info.shape);
  return a;
}

/* ---- save ---------------------------------------------------------------------------------- */

static void descr_of(mx_dtype t, char out[8]) {
  int sz = mx_dtype_size(t);
  char kind = mx_dtype_kind(t);
  snprintf(out, 8, "%c%c%d", sz > 1 ? '<' : '|', kind, sz);
}

int mx_io_npy_header(mx_array *a, bool fortran, uint8_t **out, size_t *n) {
  char descr[8];
  descr_of(a->dtype, descr);
  /* dims as MLX writes them: "(2, 3, )", "()" for scalars */
  size_t cap = 96 + (size_t)a->ndim * 13;
  char *text = malloc(cap);
  if (!text) return mx_fail_int(MX_ENOMEM, "[save] out of memory.");
  int len = snprintf(text, cap, "{'descr': '%s', 'fortran_order': %s, 'shape': (", descr,
                     fortran ? "True" : "False");
  for (int d = 0; d < a->ndim; d++) len += snprintf(text + len, cap - (size_t)len, "%d, ", a->shape[d]);
  len += snprintf(text + len, cap - (size_t)len, ")}");
  size_t body = (size_t)len + 1; /* + '\n' */
  bool v1 = 10 + body + 63 <= 65535;
  size_t pre = v1 ? 10 : 12;
  size_t total = (pre + body + 63) / 64 * 64;
  uint8_t *h = malloc(total);
  if (!h) {
    free(text);
    return mx_fail_int(MX_ENOMEM, "[save] out of memory.");
  }
  size_t hlen = total - pre;
  memcpy(h, NPY_MAGIC, 6);
  h[6] = v1 ? 1 : 2;
  h[7] = 0;
  for (size_t i = 0; i < pre - 8; i++) h[8 + i] = (uint8_t)(hlen >> (8 * i));
  memcpy(h + pre, text, (size_t)len);
  memset(h + pre + len, ' ', total - pre - (size_t)len - 1);
  h[total - 1] = '\n';
  free(text);
  *out = h;
  *n = total;
  return 0;
}

int mx_io_contiguous_bytes(mx_array **a, mx_array **owned, bool allow_fortran,
                           const uint8_t **data, bool *fortran) {
  *owned = NULL;
  mx_array *x = *a;
  if (mx_array_eval(x) != 0) return -1;
  bool row = x->flags & MX_ROW_CONTIG, col = x->flags & MX_COL_CONTIG;
  if (!(row || (allow_fortran && col))) {
    mx_array *c = mx_copy(x, mx_stream_default());
    if (!c || mx_array_eval(c) != 0) {
      mx_array_release(c);
      return -1;
    }
    *owned = c;
    *a = x = c;
    row = x->flags & MX_ROW_CONTIG;
    col = x->flags & MX_COL_CONTIG;
    if (!row) return mx_fail_int(MX_ERUNTIME, "[save] could not make the array contiguous.");
  }
  *fortran = allow_fortran && col;
  if (x->size == 0) {
    *data = NULL;
    return 0;
  }
  *data = mx_array_host_data(x);
  return *data ? 0 : -1;
}

int mx_io_save_npy(mx_io_writer *w, mx_array *a) {
  mx_array *owned = NULL;
  const uint8_t *data;
  bool fortran;
  if (mx_io_contiguous_bytes(&a, &owned, true, &data, &fortran) != 0) return -1;
  uint8_t *h;
  size_t hn;
  int rc = mx_io_npy_header(a, fortran, &h, &hn);
  if (rc == 0) {
    rc = mx_io_write(w, h, hn);
    if (rc == 0) rc = mx_io_write(w, data, mx_array_nbytes(a));
    free(h);
  }
  mx_array_release(owned);
  return rc;
}
