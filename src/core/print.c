/* print.c: the text form of arrays (print.h, spec/semantics.md section 13). Walks the
 * evaluated array by its strides; rows are summarised past 6 entries. */
#include "print.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "half.h"

static int g_precision = -1;

int mx_print_precision(void) { return g_precision; }
void mx_set_print_precision(int p) { g_precision = p; }

typedef struct sbuf {
  char *s;
  size_t n, cap;
  bool oom;
} sbuf;

static void put(sbuf *b, const char *fmt, ...) {
  va_list ap;
  for (;;) {
    size_t room = b->cap - b->n;
    va_start(ap, fmt);
    int k = vsnprintf(b->s ? b->s + b->n : NULL, room, fmt, ap);
    va_end(ap);
    if (k < 0) return;
    if ((size_t)k < room) {
      b->n += (size_t)k;
      return;
    }
    size_t cap = (b->cap + (size_t)k + 1) * 2;
    char *ns = realloc(b->s, cap);
    if (!ns) {
      b->oom = true;
      return;
    }
    b->s = ns;
    b->cap = cap;
  }
}

static void put_float(sbuf *b, double v) {
  if (g_precision >= 0) put(b, "%.*f", g_precision, v);
  else put(b, "%g", v);
}

static void put_element(sbuf *b, const char *p, mx_dtype t, bool py) {
  switch (t) {
    case MX_BOOL: put(b, "%s", *(const uint8_t *)p ? (py ? "True" : "true") : (py ? "False" : "false")); break;
    case MX_UINT8: put(b, "%u", (unsigned)*(const uint8_t *)p); break;
    case MX_UINT16: put(b, "%u", (unsigned)*(const uint16_t *)p); break;
    case MX_UINT32: put(b, "%u", (unsigned)*(const uint32_t *)p); break;
    case MX_UINT64: put(b, "%llu", (unsigned long long)*(const uint64_t *)p); break;
    case MX_INT8: put(b, "%d", (int)*(const int8_t *)p); break;
    case MX_INT16: put(b, "%d", (int)*(const int16_t *)p); break;
    case MX_INT32: put(b, "%d", (int)*(const int32_t *)p); break;
    case MX_INT64: put(b, "%lld", (long long)*(const int64_t *)p); break;
    case MX_FLOAT16: put_float(b, mx_f16_to_f32(*(const uint16_t *)p)); break;
    case MX_BFLOAT16: put_float(b, mx_bf16_to_f32(*(const uint16_t *)p)); break;
    case MX_FLOAT32: put_float(b, *(const float *)p); break;
    case MX_FLOAT64: put_float(b, *(const double *)p); break;
    case MX_COMPLEX64: {
      const float *c = (const float *)p;
      put_float(b, c[0]);
      put(b, "%s", (c[1] >= 0 || isnan(c[1])) ? "+" : "-");
      put_float(b, fabs((double)c[1]));
      put(b, "j");
      break;
    }
    default: break;
  }
}

/* Iterative walk over dims with an explicit index vector (no recursion on ndim). */
static void put_data(sbuf *b, const char *base, const mx_array *a, bool py) {
  int nd = a->ndim, es = mx_dtype_size(a->dtype);
  if (nd == 0) {
    put_element(b, base, a->dtype, py);
    return;
  }
  int64_t *idx = calloc((size_t)nd, sizeof *idx);
  if (!idx) {
    b->oom = true;
    return;
  }
  int d = 0;
  put(b, "[");
  for (;;) {
    int64_t n = a->shape[d];
    if (idx[d] >= n) { /* close this level */
      put(b, "]");
      if (d == 0) break;
      d--;
      idx[d]++;
      if (idx[d] < a->shape[d]) put(b, ",\n%*s", 7 + d, "");
      continue;
    }
    if (n > 6 && idx[d] == 3) {
      put(b, "...");
      idx[d] = n - 3;
      put(b, d == nd - 1 ? ", " : ",\n%*s", 7 + d, "");
    }
    if (d == nd - 1) {
      int64_t off = 0;
      for (int k = 0; k < nd; k++) off += idx[k] * a->strides[k];
      put_element(b, base + off * es, a->dtype, py);
      idx[d]++;
      if (idx[d] < n) put(b, ", ");
      continue;
    }
    d++;
    idx[d] = 0;
    put(b, "[");
  }
  free(idx);
}

int mx_array_format(mx_array *a, bool py, char **out) {
  *out = NULL;
  const char *base = mx_array_host_data(a);
  if (!base && a->size > 0) return -1;
  mx_error_clear();
  sbuf b = {0};
  put(&b, "array(");
  put_data(&b, base, a, py);
  put(&b, ", dtype=%s)", mx_dtype_name(a->dtype));
  if (b.oom) {
    free(b.s);
    return mx_fail_int(MX_ENOMEM, "[print] out of memory.");
  }
  *out = b.s;
  return 0;
}
