/* export.c: traced functions saved to and loaded from .mlxfn files (spec/semantics.md 9.5:
 * our own format, round-tripping within this implementation). A file holds a metadata
 * string and one or more traces; each trace is a simplified tape (tape.h) of a function on
 * inputs given as positional arrays then keyword arrays sorted by name, with its constants
 * written out. Primitives are stored by class name and their parameters through the
 * generated mx_params_serialize. Loaded traces are replayed on the caller's default stream;
 * a call picks the trace whose input count, keyword names, dtypes and shapes (ndims only
 * when shapeless) match. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/error.h"
#include "../core/eval.h"
#include "../core/prim.h"
#include "tape.h"

#define MAGIC "MLXCFN"
#define VERSION 1u

typedef struct export_trace {
  int n_args, n_kw;
  char **kw_names;  /* sorted */
  bool shapeless;
  mx_tape tape;
} export_trace;

struct mx_exported {
  char *metadata;
  int n, cap;
  export_trace *traces;
};

static char *dup_str(const char *s) {
  size_t n = strlen(s ? s : "");
  char *d = malloc(n + 1);
  if (d) memcpy(d, s ? s : "", n + 1);
  return d;
}

mx_exported *mx_exported_new(const char *metadata) {
  mx_exported *e = calloc(1, sizeof *e);
  if (!e || !(e->metadata = dup_str(metadata))) {
    free(e);
    return mx_fail(MX_ENOMEM, "[export] out of memory.");
  }
  return e;
}

static void trace_free(export_trace *t) {
  for (int i = 0; i < t->n_kw; i++) free(t->kw_names ? t->kw_names[i] : NULL);
  free(t->kw_names);
  mx_tape_free(&t->tape);
}

void mx_exported_free(mx_exported *e) {
  if (!e) return;
  for (int i = 0; i < e->n; i++) trace_free(&e->traces[i]);
  free(e->traces);
  free(e->metadata);
  free(e);
}

const char *mx_exported_metadata(const mx_exported *e) { return e->metadata; }

int mx_exported_count(const mx_exported *e) { return e->n; }

const mx_tape *mx_exported_trace(const mx_exported *e, int i, int *n_args, int *n_kw,
                                 const char *const **kw_names) {
  const export_trace *t = &e->traces[i];
  *n_args = t->n_args;
  *n_kw = t->n_kw;
  *kw_names = (const char *const *)t->kw_names;
  return &t->tape;
}

static export_trace *push_trace(mx_exported *e) {
  if (e->n == e->cap) {
    int cap = e->cap ? e->cap * 2 : 4;
    export_trace *nv = realloc(e->traces, (size_t)cap * sizeof *nv);
    if (!nv) return mx_fail(MX_ENOMEM, "[export] out of memory.");
    e->traces = nv;
    e->cap = cap;
  }
  export_trace *t = &e->traces[e->n];
  memset(t, 0, sizeof *t);
  return t;
}

static int copy_names(export_trace *t, const char *const *names, int n) {
  t->kw_names = calloc((size_t)n + 1, sizeof *t->kw_names);
  if (!t->kw_names) return mx_fail_int(MX_ENOMEM, "[export] out of memory.");
  t->n_kw = n;
  for (int i = 0; i < n; i++)
    if (!(t->kw_names[i] = dup_str(names[i]))) return mx_fail_int(MX_ENOMEM, "[export] out of memory.");
  return 0;
}

static bool trace_matches(const export_trace *t, mx_array *const *inputs, int n_args,
                          const char *const *kw_names, int n_kw);

int mx_exported_add(mx_exported *e, mx_closure fn, mx_array *const *inputs, int n_args,
                    const char *const *kw_names, int n_kw, bool shapeless) {
  for (int i = 0; i < e->n; i++)
    if (trace_matches(&e->traces[i], inputs, n_args, kw_names, n_kw))
      return mx_fail_int(MX_ERUNTIME, "[export_function] Attempting to export a function twice with the "
                         "same signature is not allowed.");
  export_trace *t = push_trace(e);
  if (!t) return -1;
  t->n_args = n_args;
  t->shapeless = shapeless;
  int rc = copy_names(t, kw_names, n_kw);
  if (rc == 0) {
    int scopes = mx_scope_suspend();
    rc = mx_tape_trace(&t->tape, fn, inputs, n_args + n_kw, MX_MAX_OUTPUTS, shapeless);
    mx_scope_resume(scopes);
  }
  for (int k = 0; rc == 0 && k < t->tape.n_ops; k++)
    if (t->tape.ops[k].prim == MX_PRIM_CUSTOM)
      rc = mx_fail_int(MX_EINVAL, "[export_function] Unable to serialize primitive CustomTransforms.");
  if (rc == 0) rc = mx_tape_simplify(&t->tape);
  if (rc == 0) rc = mx_tape_compact(&t->tape);
  if (rc != 0) {
    trace_free(t);
    return -1;
  }
  e->n++;
  return 0;
}

/* ---- writing ---- */

typedef struct writer {
  FILE *f;
  int rc;
} writer;

static void put(writer *w, const void *p, size_t n) {
  if (w->rc == 0 && n && fwrite(p, 1, n, w->f) != n)
    w->rc = mx_fail_int(MX_ERUNTIME, "[export_function] Unable to write the file.");
}
static void put_i32(writer *w, int32_t v) { put(w, &v, 4); }
static void put_u64(writer *w, uint64_t v) { put(w, &v, 8); }
static void put_str(writer *w, const char *s) {
  uint32_t n = (uint32_t)strlen(s);
  put(w, &n, 4);
  put(w, s, n);
}
static void put_shape(writer *w, int32_t dtype, int32_t ndim, const int32_t *shape) {
  put_i32(w, dtype);
  put_i32(w, ndim);
  put(w, shape, (size_t)ndim * sizeof(int32_t));
}
static void put_ref(writer *w, mx_cref r) {
  put_i32(w, r.kind);
  put_i32(w, r.index);
  put_i32(w, r.out);
}

/* A row-contiguous evaluated copy of a (new reference). */
static mx_array *contiguous(mx_array *a) {
  if (mx_array_eval(a) != 0) return NULL;
  if ((a->flags & MX_ROW_CONTIG) && a->buf) {
    mx_array_retain(a);
    return a;
  }
  int scopes = mx_scope_suspend();
  mx_array *c = mx_copy(a, mx_default_stream((mx_device){MX_CPU, 0}));
  mx_scope_resume(scopes);
  if (c && mx_array_eval(c) != 0) {
    mx_array_release(c);
    return NULL;
  }
  return c;
}

static void write_tape(writer *w, const mx_tape *t) {
  put_i32(w, t->n_inputs);
  for (int i = 0; i < t->n_inputs; i++) put_shape(w, t->in_dtypes[i], t->in_ndims[i], t->in_shapes[i]);
  put_i32(w, t->n_consts);
  for (int i = 0; i < t->n_consts && w->rc == 0; i++) {
    mx_array *c = contiguous(t->consts[i]);
    const void *data = c ? mx_array_host_data(c) : NULL;
    if (!data) {
      w->rc = -1;
    } else {
      put_shape(w, c->dtype, c->ndim, c->shape);
      put_u64(w, mx_array_nbytes(c));
      put(w, data, mx_array_nbytes(c));
    }
    mx_array_release(c);
  }
  put_i32(w, t->n_ops);
  uint8_t *buf = NULL;
  size_t cap = 0;
  for (int k = 0; k < t->n_ops && w->rc == 0; k++) {
    const mx_tape_op *op = &t->ops[k];
    put_str(w, mx_prim_name(op->prim));
    put_i32(w, op->n_in);
    for (int i = 0; i < op->n_in; i++) put_ref(w, op->in[i]);
    put_i32(w, op->n_out);
    for (int j = 0; j < op->n_out; j++) put_shape(w, op->dtypes[j], op->ndims[j], op->shapes[j]);
    int64_t n = mx_params_serialize(op->prim, op->params, buf, cap);
    if (n < 0) {
      w->rc = -1;
      break;
    }
    if ((size_t)n > cap) {
      uint8_t *nb = realloc(buf, (size_t)n);
      if (!nb) {
        w->rc = mx_fail_int(MX_ENOMEM, "[export] out of memory.");
        break;
      }
      buf = nb;
      cap = (size_t)n;
      mx_params_serialize(op->prim, op->params, buf, cap);
    }
    put_u64(w, (uint64_t)n);
    put(w, buf, (size_t)n);
  }
  free(buf);
  put_i32(w, t->n_outputs);
  for (int k = 0; k < t->n_outputs; k++) put_ref(w, t->outputs[k]);
}

int mx_exported_save(const mx_exported *e, const char *path) {
  FILE *f = fopen(path, "wb");
  if (!f) return mx_fail_int(MX_ERUNTIME, "[export_function] Failed to open %s", path);
  writer w = {f, 0};
  put(&w, MAGIC, 6);
  put_i32(&w, VERSION);
  put_str(&w, e->metadata);
  put_i32(&w, e->n);
  for (int i = 0; i < e->n && w.rc == 0; i++) {
    const export_trace *t = &e->traces[i];
    put_i32(&w, t->shapeless);
    put_i32(&w, t->n_args);
    put_i32(&w, t->n_kw);
    for (int j = 0; j < t->n_kw; j++) put_str(&w, t->kw_names[j]);
    write_tape(&w, &t->tape);
  }
  if (fclose(f) != 0 && w.rc == 0)
    w.rc = mx_fail_int(MX_ERUNTIME, "[export_function] Unable to write %s.", path);
  return w.rc;
}

/* ---- reading ---- */

typedef struct reader {
  FILE *f;
  int rc;
} reader;

static void get(reader *r, void *p, size_t n) {
  if (r->rc == 0 && n && fread(p, 1, n, r->f) != n)
    r->rc = mx_fail_int(MX_EINVAL, "[import_function] The file is truncated or not an exported function.");
}
static int32_t get_i32(reader *r) {
  int32_t v = 0;
  get(r, &v, 4);
  return v;
}
static uint64_t get_u64(reader *r) {
  uint64_t v = 0;
  get(r, &v, 8);
  return v;
}
static int32_t get_count(reader *r, int32_t max) {
  int32_t n = get_i32(r);
  if (r->rc == 0 && (n < 0 || n > max))
    r->rc = mx_fail_int(MX_EINVAL, "[import_function] Corrupt file (a count of %d).", (int)n);
  return r->rc == 0 ? n : 0;
}
static char *get_str(reader *r) {
  uint32_t n = 0;
  get(r, &n, 4);
  if (r->rc == 0 && n > (1u << 28)) r->rc = mx_fail_int(MX_EINVAL, "[import_function] Corrupt file.");
  char *s = r->rc == 0 ? malloc((size_t)n + 1) : NULL;
  if (r->rc == 0 && !s) r->rc = mx_fail_int(MX_ENOMEM, "[import_function] out of memory.");
  if (s) {
    get(r, s, n);
    s[n] = '\0';
  }
  return s;
}
/* dtype, ndim and shape (shape malloc'd into *shape). */
static void get_shape(reader *r, int32_t *dtype, int32_t *ndim, int32_t **shape) {
  *dtype = get_i32(r);
  *ndim = get_count(r, 1 << 16);
  *shape = malloc((size_t)(*ndim ? *ndim : 1) * sizeof(int32_t));
  if (!*shape) {
    if (r->rc == 0) r->rc = mx_fail_int(MX_ENOMEM, "[import_function] out of memory.");
    return;
  }
  get(r, *shape, (size_t)*ndim * sizeof(int32_t));
  if (r->rc == 0 && (*dtype < 0 || *dtype >= MX_DTYPE_COUNT))
    r->rc = mx_fail_int(MX_EINVAL, "[import_function] Corrupt file (dtype %d).", (int)*dtype);
}
static mx_cref get_ref(reader *r, const mx_tape *t, int op_index) {
  mx_cref c = {get_i32(r), get_i32(r), get_i32(r)};
  bool ok = (c.kind == MX_REF_INPUT && c.index >= 0 && c.index < t->n_inputs) ||
            (c.kind == MX_REF_CONST && c.index >= 0 && c.index < t->n_consts) ||
            (c.kind == MX_REF_OP && c.index >= 0 && c.index < op_index && c.out >= 0 &&
             c.out < t->ops[c.index].n_out);
  if (r->rc == 0 && !ok) r->rc = mx_fail_int(MX_EINVAL, "[import_function] Corrupt file (a reference).");
  return c;
}

static int prim_by_name(const char *name) {
  for (int p = 0; p < MX_PRIM_COUNT; p++)
    if (!strcmp(mx_prim_name(p), name)) return p;
  return -1;
}

static void read_tape(reader *r, mx_tape *t) {
  t->n_inputs = get_count(r, 1 << 20);
  t->in_dtypes = calloc((size_t)t->n_inputs + 1, sizeof *t->in_dtypes);
  t->in_ndims = calloc((size_t)t->n_inputs + 1, sizeof *t->in_ndims);
  t->in_shapes = calloc((size_t)t->n_inputs + 1, sizeof *t->in_shapes);
  if (r->rc == 0 && (!t->in_dtypes || !t->in_ndims || !t->in_shapes))
    r->rc = mx_fail_int(MX_ENOMEM, "[import_function] out of memory.");
  for (int i = 0; i < t->n_inputs && r->rc == 0; i++) {
    int32_t dt;
    get_shape(r, &dt, &t->in_ndims[i], &t->in_shapes[i]);
    t->in_dtypes[i] = (mx_dtype)dt;
  }
  int n_consts = get_count(r, 1 << 24);
  for (int i = 0; i < n_consts && r->rc == 0; i++) {
    int32_t dt, nd, *shape = NULL;
    get_shape(r, &dt, &nd, &shape);
    uint64_t nb = get_u64(r);
    int64_t size = r->rc == 0 ? mx_shape_size("import_function", nd, shape) : -1;
    if (r->rc == 0 && (size < 0 || nb != (uint64_t)size * (uint64_t)mx_dtype_size((mx_dtype)dt)))
      r->rc = mx_fail_int(MX_EINVAL, "[import_function] Corrupt file (constant %d).", i);
    void *data = r->rc == 0 ? malloc(nb ? nb : 1) : NULL;
    if (r->rc == 0 && !data) r->rc = mx_fail_int(MX_ENOMEM, "[import_function] out of memory.");
    get(r, data, nb);
    mx_array *a = r->rc == 0 ? mx_array_from_data(data, (mx_dtype)dt, nd, shape) : NULL;
    if (r->rc == 0 && (!a || mx_tape_add_const(t, a) < 0)) r->rc = -1;
    mx_array_release(a);
    free(data);
    free(shape);
  }
  int n_ops = get_count(r, 1 << 24);
  for (int k = 0; k < n_ops && r->rc == 0; k++) {
    char *name = get_str(r);
    int prim = name && r->rc == 0 ? prim_by_name(name) : -1;
    if (r->rc == 0 && prim < 0)
      r->rc = mx_fail_int(MX_EINVAL, "[import_function] Unknown primitive %s.", name ? name : "?");
    free(name);
    int n_in = get_count(r, 1 << 20);
    mx_cref *in = calloc((size_t)n_in + 1, sizeof *in);
    for (int i = 0; i < n_in && r->rc == 0 && in; i++) in[i] = get_ref(r, t, k);
    int n_out = get_count(r, 1 << 20);
    mx_dtype *dts = calloc((size_t)n_out + 1, sizeof *dts);
    int32_t *nds = calloc((size_t)n_out + 1, sizeof *nds);
    int32_t **shs = calloc((size_t)n_out + 1, sizeof *shs);
    if (r->rc == 0 && (!in || !dts || !nds || !shs)) r->rc = mx_fail_int(MX_ENOMEM, "[import_function] out of memory.");
    for (int j = 0; j < n_out && r->rc == 0; j++) {
      int32_t dt;
      get_shape(r, &dt, &nds[j], &shs[j]);
      dts[j] = (mx_dtype)dt;
    }
    uint64_t np = get_u64(r);
    uint8_t *pb = r->rc == 0 && np < (1u << 30) ? malloc(np ? np : 1) : NULL;
    if (r->rc == 0 && !pb) r->rc = mx_fail_int(MX_EINVAL, "[import_function] Corrupt file (parameters).");
    get(r, pb, np);
    void *params = NULL;
    if (r->rc == 0 && mx_params_deserialize(prim, pb, np, &params) != 0) r->rc = -1;
    if (r->rc == 0 &&
        mx_tape_add_op(t, prim, params, mx_stream_default(), n_in, in, n_out, dts, nds,
                       (const int32_t *const *)shs) < 0)
      r->rc = -1;
    mx_params_release(params);
    free(pb);
    for (int j = 0; shs && j < n_out; j++) free(shs[j]);
    free(shs);
    free(nds);
    free(dts);
    free(in);
  }
  t->n_outputs = get_count(r, 1 << 20);
  t->outputs = calloc((size_t)t->n_outputs + 1, sizeof *t->outputs);
  if (r->rc == 0 && !t->outputs) r->rc = mx_fail_int(MX_ENOMEM, "[import_function] out of memory.");
  for (int k = 0; k < t->n_outputs && r->rc == 0; k++) t->outputs[k] = get_ref(r, t, t->n_ops);
}

mx_exported *mx_exported_load(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return mx_fail(MX_ERUNTIME, "[import_function] Failed to open %s", path);
  reader r = {f, 0};
  char magic[6] = {0};
  get(&r, magic, 6);
  if (r.rc == 0 && memcmp(magic, MAGIC, 6))
    r.rc = mx_fail_int(MX_EINVAL, "[import_function] %s is not an exported function.", path);
  if (r.rc == 0 && (uint32_t)get_i32(&r) != VERSION && r.rc == 0)
    r.rc = mx_fail_int(MX_EINVAL, "[import_function] Unsupported version of %s.", path);
  char *metadata = get_str(&r);
  mx_exported *e = r.rc == 0 ? mx_exported_new(metadata) : NULL;
  free(metadata);
  if (r.rc == 0 && !e) r.rc = -1;
  int n = get_count(&r, 1 << 16);
  for (int i = 0; i < n && r.rc == 0; i++) {
    export_trace *t = push_trace(e);
    if (!t) {
      r.rc = -1;
      break;
    }
    e->n++; /* freed with e whatever happens next */
    t->shapeless = get_i32(&r) != 0;
    t->n_args = get_count(&r, 1 << 20);
    int n_kw = get_count(&r, 1 << 20);
    t->kw_names = calloc((size_t)n_kw + 1, sizeof *t->kw_names);
    if (!t->kw_names && r.rc == 0) r.rc = mx_fail_int(MX_ENOMEM, "[import_function] out of memory.");
    for (int j = 0; j < n_kw && r.rc == 0; j++) {
      t->kw_names[j] = get_str(&r);
      t->n_kw = j + 1;
    }
    read_tape(&r, &t->tape);
    if (r.rc == 0 && t->tape.n_inputs != t->n_args + t->n_kw)
      r.rc = mx_fail_int(MX_EINVAL, "[import_function] Corrupt file (input count).");
  }
  fclose(f);
  if (r.rc != 0) {
    mx_exported_free(e);
    return NULL;
  }
  return e;
}

/* ---- calling ---- */

static bool trace_matches(const export_trace *t, mx_array *const *inputs, int n_args,
                          const char *const *kw_names, int n_kw) {
  if (t->n_args != n_args || t->n_kw != n_kw) return false;
  for (int j = 0; j < n_kw; j++)
    if (strcmp(t->kw_names[j], kw_names[j])) return false;
  for (int i = 0; i < n_args + n_kw; i++) {
    const mx_array *a = inputs[i];
    if (a->dtype != t->tape.in_dtypes[i] || a->ndim != t->tape.in_ndims[i]) return false;
    if (!t->shapeless && a->ndim &&
        memcmp(a->shape, t->tape.in_shapes[i], (size_t)a->ndim * sizeof(int32_t)))
      return false;
  }
  return true;
}

static int put_sig(char *buf, size_t cap, int len, const char *label, int32_t dt, int32_t nd,
                   const int32_t *shape) {
#define P(...) len += snprintf(buf + (len < (int)cap ? len : (int)cap), len < (int)cap ? cap - (size_t)len : 0, __VA_ARGS__)
  P("  %s: (", label);
  for (int d = 0; d < nd; d++) P(d ? ",%d" : "%d", (int)shape[d]);
  P(") %s\n", mx_dtype_name((mx_dtype)dt));
#undef P
  return len;
}

static int no_match(const mx_exported *e, mx_array *const *inputs, int n_args,
                    const char *const *kw_names, int n_kw) {
  char buf[4096], label[64];
  size_t cap = sizeof buf;
  int len = snprintf(buf, cap, "[import_function::call] No imported function found which matches the "
                               "given positional and keyword arguments. Possible functions include:\n");
  for (int i = 0; i < e->n && len < (int)cap; i++) {
    const export_trace *t = &e->traces[i];
    len += snprintf(buf + len, cap - (size_t)len, " %d. Function with %d positional inputs and %d keyword inputs:\n",
                    i + 1, t->n_args, t->n_kw);
    for (int j = 0; j < t->n_args + t->n_kw && len < (int)cap; j++) {
      if (j < t->n_args) snprintf(label, sizeof label, " %d", j + 1);
      else snprintf(label, sizeof label, " \"%s\"", t->kw_names[j - t->n_args]);
      len = put_sig(buf, cap, len, label, t->tape.in_dtypes[j], t->tape.in_ndims[j], t->tape.in_shapes[j]);
    }
  }
  if (len < (int)cap)
    len += snprintf(buf + len, cap - (size_t)len, "\nCalled with %d positional inputs and %d keyword inputs:\n",
                    n_args, n_kw);
  for (int j = 0; j < n_args + n_kw && len < (int)cap; j++) {
    if (j < n_args) snprintf(label, sizeof label, "%d", j + 1);
    else snprintf(label, sizeof label, "\"%s\"", kw_names[j - n_args]);
    len = put_sig(buf, cap, len, label, inputs[j]->dtype, inputs[j]->ndim, inputs[j]->shape);
  }
  return mx_fail_int(MX_EINVAL, "%s", buf);
}

static int replay_trace(const export_trace *t, mx_array *const *inputs, mx_array **outs, int max_out,
                        int *n_out) {
  if (t->tape.n_outputs > max_out) return mx_fail_int(MX_EINVAL, "[import_function::call] Too many outputs.");
  /* as in MLX, a shapeless trace is checked when called, whatever the shapes */
  if (t->shapeless && mx_tape_check_shapeless(&t->tape) != 0) return -1;
  mx_stream s = mx_stream_default();
  int scopes = mx_scope_suspend();
  int rc = mx_tape_replay(&t->tape, inputs, t->shapeless, &s, outs);
  mx_scope_resume(scopes);
  if (rc == 0) *n_out = t->tape.n_outputs;
  return rc;
}

int mx_exported_call(const mx_exported *e, mx_array *const *inputs, int n_args,
                     const char *const *kw_names, int n_kw, mx_array **outs, int max_out, int *n_out) {
  *n_out = 0;
  for (int i = 0; i < n_args + n_kw; i++)
    if (!inputs[i]) return mx_fail_int(MX_EINVAL, "[import_function::call] input %d is empty.", i);
  for (int i = 0; i < e->n; i++)
    if (trace_matches(&e->traces[i], inputs, n_args, kw_names, n_kw))
      return replay_trace(&e->traces[i], inputs, outs, max_out, n_out);
  return no_match(e, inputs, n_args, kw_names, n_kw);
}

int mx_exported_call_flat(const mx_exported *e, mx_array *const *inputs, int n, mx_array **outs,
                          int max_out, int *n_out) {
  *n_out = 0;
  for (int i = 0; i < n; i++)
    if (!inputs[i]) return mx_fail_int(MX_EINVAL, "[import_function::call] input %d is empty.", i);
  for (int i = 0; i < e->n; i++) {
    const export_trace *t = &e->traces[i];
    if (t->n_args + t->n_kw == n &&
        trace_matches(t, inputs, t->n_args, (const char *const *)t->kw_names, t->n_kw))
      return replay_trace(t, inputs, outs, max_out, n_out);
  }
  return no_match(e, inputs, n, NULL, 0);
}
