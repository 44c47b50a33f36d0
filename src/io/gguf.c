/* gguf.c: the GGUF container (spec/semantics.md 9.3, 9.4): v2/v3 reader with every count,
 * length and offset checked against the blob (metadata as MLX returns it: numbers as 0-d
 * or 1-d arrays, float64 as float32, strings, string lists) and the v3 writer (MLX's tensor
 * types F32 F16 I8 I16 I32, dimensions reversed, data aligned to 32).
 * Plain tensors load lazily like any mapped tensor; quantized ones are converted at load
 * (gguf_quant.c). Depends on io.h and gguf.h. */
#include <stdlib.h>
#include <string.h>

#include "../core/half.h"
#include "gguf.h"

enum {
  GV_UINT8 = 0, GV_INT8, GV_UINT16, GV_INT16, GV_UINT32, GV_INT32, GV_FLOAT32, GV_BOOL,
  GV_STRING, GV_ARRAY, GV_UINT64, GV_INT64, GV_FLOAT64, GV_COUNT
};

#define GGUF_MAX_DIMS 8
#define GGUF_ALIGNMENT 32

typedef struct gcur {
  const uint8_t *p;
  uint64_t size, pos;
  const char *label;
} gcur;

static int gfail(const gcur *c, const char *what) {
  return mx_fail_int(MX_ERUNTIME, "[load_gguf] Invalid GGUF file %s: %s (at byte %llu).",
                     c->label, what, (unsigned long long)c->pos);
}

static bool have(const gcur *c, uint64_t n) { return n <= c->size - c->pos; }

static int rd_u32(gcur *c, uint32_t *v) {
  if (!have(c, 4)) return gfail(c, "truncated");
  const uint8_t *p = c->p + c->pos;
  *v = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
  c->pos += 4;
  return 0;
}

static int rd_u64(gcur *c, uint64_t *v) {
  uint32_t lo = 0, hi = 0;
  if (rd_u32(c, &lo) || rd_u32(c, &hi)) return -1;
  *v = lo | (uint64_t)hi << 32;
  return 0;
}

static int rd_str(gcur *c, const char **s, uint64_t *n) {
  if (rd_u64(c, n) != 0) return -1;
  if (!have(c, *n)) return gfail(c, "string runs past the end");
  *s = (const char *)c->p + c->pos;
  c->pos += *n;
  return 0;
}

/* Element size and the dtype MLX returns for a numeric metadata type (float64 -> float32). */
static int gv_size(uint32_t t) {
  static const int sz[GV_COUNT] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
  return t < GV_COUNT ? sz[t] : 0;
}

static mx_dtype gv_dtype(uint32_t t) {
  static const mx_dtype dt[GV_COUNT] = {MX_UINT8,  MX_INT8,   MX_UINT16, MX_INT16, MX_UINT32,
                                        MX_INT32,  MX_FLOAT32, MX_BOOL,  MX_BOOL,  MX_BOOL,
                                        MX_UINT64, MX_INT64,  MX_FLOAT32};
  return dt[t];
}

/* n numeric values of type t at the cursor as an array (0-d when scalar). */
static mx_array *numeric_array(gcur *c, uint32_t t, uint64_t n, bool scalar) {
  int es = gv_size(t);
  if (n > INT32_MAX || !have(c, n * (uint64_t)es)) return gfail(c, "array runs past the end"), NULL;
  int32_t len = (int32_t)n;
  mx_array *a = mx_array_from_data(NULL, gv_dtype(t), scalar ? 0 : 1, &len);
  if (!a) return NULL;
  const uint8_t *src = c->p + c->pos;
  uint8_t *dst = n ? a->buf->host : NULL;
  if (t == GV_FLOAT64) {
    for (uint64_t i = 0; i < n; i++) {
      double d;
      memcpy(&d, src + 8 * i, 8);
      float f = (float)d;
      memcpy(dst + 4 * i, &f, 4);
    }
  } else if (t == GV_BOOL) {
    for (uint64_t i = 0; i < n; i++) dst[i] = src[i] != 0;
  } else if (n) {
    memcpy(dst, src, (size_t)n * (size_t)es);
  }
  c->pos += n * (uint64_t)es;
  return a;
}

static int read_value(gcur *c, const char *key, uint64_t klen, uint32_t type, mx_io_meta *meta,
                      uint32_t *alignment) {
  if (type == GV_STRING) {
    const char *s = NULL;
    uint64_t n = 0;
    if (rd_str(c, &s, &n) != 0) return -1;
    return mx_io_meta_push_string(meta, key, klen, s, n);
  }
  if (type == GV_ARRAY) {
    uint32_t et = 0;
    uint64_t n = 0;
    if (rd_u32(c, &et) || rd_u64(c, &n)) return -1;
    if (et == GV_ARRAY)
      return mx_fail_int(MX_EINVAL, "[load_gguf] Only supports loading 1-layer of nested arrays.");
    if (et == GV_STRING) {
      if (n > (c->size - c->pos) / 8) return gfail(c, "string array runs past the end");
      const char **strs = malloc((n ? n : 1) * sizeof *strs);
      size_t *lens = malloc((n ? n : 1) * sizeof *lens);
      int rc = (strs && lens) ? 0 : mx_fail_int(MX_ENOMEM, "[load_gguf] out of memory.");
      for (uint64_t i = 0; rc == 0 && i < n; i++) {
        uint64_t l = 0;
        rc = rd_str(c, &strs[i], &l);
        lens[i] = (size_t)l;
      }
      if (rc == 0) rc = mx_io_meta_push_strings(meta, key, klen, strs, lens, (size_t)n);
      free(strs);
      free(lens);
      return rc;
    }
    if (gv_size(et) == 0) return gfail(c, "unknown array element type");
    return mx_io_meta_push_array(meta, key, klen, numeric_array(c, et, n, false));
  }
  if (gv_size(type) == 0) return gfail(c, "unknown metadata value type");
  if (type == GV_UINT32 && klen == 17 && memcmp(key, "general.alignment", 17) == 0) {
    const uint8_t *p = c->p + c->pos;
    if (have(c, 4)) {
      *alignment = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                   (uint32_t)p[3] << 24;
      if (*alignment == 0 || (*alignment & (*alignment - 1)) != 0)
        return gfail(c, "general.alignment must be a power of two");
    }
  }
  return mx_io_meta_push_array(meta, key, klen, numeric_array(c, type, 1, true));
}

typedef struct tinfo {
  const char *name;
  uint64_t nlen;
  uint32_t ndim, type;
  uint64_t dims[GGUF_MAX_DIMS];
  uint64_t offset;
} tinfo;

/* Adds the arrays of one tensor (one, or the affine triple of Q4_0/Q4_1/Q8_0). */
static int load_tensor(mx_io_blob *b, const gcur *c, uint64_t data_start, const tinfo *t,
                       mx_stream s, mx_io_arrays *out) {
  const mx_ggml_type *gt = mx_ggml_type_get(t->type);
  if (!gt)
    return mx_fail_int(MX_ERUNTIME, "[load_gguf] Tensor %.*s has unsupported GGML type %u.",
                       (int)(t->nlen > 200 ? 200 : t->nlen), t->name, t->type);
  int32_t shape[GGUF_MAX_DIMS];
  uint64_t count = 1;
  bool overflow = false;
  for (uint32_t d = 0; d < t->ndim; d++) {
    uint64_t v = t->dims[t->ndim - 1 - d]; /* GGML order is innermost first */
    if (v > INT32_MAX) return gfail(c, "dimension too large");
    shape[d] = (int32_t)v;
    if (v && count > (UINT64_MAX >> 8) / v) overflow = true;
    count *= v;
  }
  if (overflow) return gfail(c, "tensor too large");
  if (gt->block > 1 && (t->ndim == 0 || t->dims[0] % (uint64_t)gt->block != 0))
    return mx_fail_int(MX_ERUNTIME,
                       "[load_gguf] tensor %.*s has incompatible last dim shape: %llu",
                       (int)(t->nlen > 200 ? 200 : t->nlen), t->name,
                       (unsigned long long)(t->ndim ? t->dims[0] : 0));
  uint64_t nbytes = count / (uint64_t)gt->block * (uint64_t)gt->bytes;
  if (t->offset > b->size - data_start || nbytes > b->size - data_start - t->offset)
    return mx_fail_int(MX_ERUNTIME,
                       "[load_gguf] Tensor %.*s data lies outside the file %s.",
                       (int)(t->nlen > 200 ? 200 : t->nlen), t->name, b->label);
  uint64_t off = data_start + t->offset;
  if (gt->dtype >= 0) {
    mx_array *a = mx_io_blob_array(b, off, (mx_dtype)gt->dtype, (int)t->ndim, shape, 0, s,
                                   "load_gguf");
    return mx_io_arrays_push(out, t->name, t->nlen, a);
  }
  const uint8_t *src = b->data + off;
  if (t->type == MX_GGML_Q4_0 || t->type == MX_GGML_Q4_1 || t->type == MX_GGML_Q8_0) {
    mx_array *w, *sc, *bi;
    if (mx_ggml_to_affine(t->type, src, (int)t->ndim, shape, &w, &sc, &bi) != 0) return -1;
    /* "<prefix>.scales" / ".biases" where prefix drops a ".weight" suffix */
    size_t plen = t->nlen >= 7 && memcmp(t->name + t->nlen - 7, ".weight", 7) == 0
                      ? (size_t)t->nlen - 7
                      : (size_t)t->nlen;
    char *k = malloc(plen + 8);
    if (!k) {
      mx_array_release(w);
      mx_array_release(sc);
      mx_array_release(bi);
      return mx_fail_int(MX_ENOMEM, "[load_gguf] out of memory.");
    }
    memcpy(k, t->name, plen);
    int rc = mx_io_arrays_push(out, t->name, t->nlen, w);
    memcpy(k + plen, ".scales", 7);
    if (rc == 0) rc = mx_io_arrays_push(out, k, plen + 7, sc);
    else mx_array_release(sc);
    memcpy(k + plen, ".biases", 7);
    if (rc == 0) rc = mx_io_arrays_push(out, k, plen + 7, bi);
    else mx_array_release(bi);
    free(k);
    return rc;
  }
  return mx_io_arrays_push(out, t->name, t->nlen,
                           mx_ggml_dequantize_f16(t->type, src, (int)t->ndim, shape));
}

int mx_io_load_gguf(mx_io_blob *b, mx_stream s, mx_io_arrays *out, mx_io_meta *meta) {
  gcur c = {b->data, b->size, 0, b->label};
  uint32_t magic = 0, version = 0;
  if (rd_u32(&c, &magic) != 0 || magic != 0x46554747u) /* "GGUF" */
    return mx_fail_int(MX_ERUNTIME, "[load_gguf] %s is not a GGUF file (bad magic).", b->label);
  if (rd_u32(&c, &version) != 0) return -1;
  if (version == 0x03000000u || version == 0x02000000u)
    return mx_fail_int(MX_ERUNTIME, "[load_gguf] Big-endian GGUF files are not supported (%s).",
                       b->label);
  if (version != 2 && version != 3)
    return mx_fail_int(MX_ERUNTIME, "[load_gguf] Unsupported GGUF version %u in %s.", version,
                       b->label);
  uint64_t n_tensors = 0, n_kv = 0;
  if (rd_u64(&c, &n_tensors) || rd_u64(&c, &n_kv)) return -1;
  mx_io_meta local = {0};
  mx_io_meta *m = meta ? meta : &local;
  uint32_t alignment = GGUF_ALIGNMENT;
  int rc = 0;
  for (uint64_t i = 0; rc == 0 && i < n_kv; i++) {
    const char *key = NULL;
    uint64_t klen = 0;
    uint32_t type = 0;
    if ((rc = rd_str(&c, &key, &klen)) != 0 || (rc = rd_u32(&c, &type)) != 0) break;
    rc = read_value(&c, key, klen, type, m, &alignment);
  }
  mx_io_meta_clear(&local);
  if (rc != 0) return -1;
  /* each tensor info takes at least 8 + 4 + 4 + 8 bytes */
  if (n_tensors > (c.size - c.pos) / 24) return gfail(&c, "tensor count exceeds the file");
  tinfo *ti = malloc((n_tensors ? n_tensors : 1) * sizeof *ti);
  if (!ti) return mx_fail_int(MX_ENOMEM, "[load_gguf] out of memory.");
  for (uint64_t i = 0; rc == 0 && i < n_tensors; i++) {
    tinfo *t = &ti[i];
    if ((rc = rd_str(&c, &t->name, &t->nlen)) != 0 || (rc = rd_u32(&c, &t->ndim)) != 0) break;
    if (t->ndim > GGUF_MAX_DIMS) {
      rc = gfail(&c, "too many dimensions");
      break;
    }
    for (uint32_t d = 0; rc == 0 && d < t->ndim; d++) rc = rd_u64(&c, &t->dims[d]);
    if (rc == 0) rc = rd_u32(&c, &t->type);
    if (rc == 0) rc = rd_u64(&c, &t->offset);
  }
  uint64_t data_start = (c.pos + alignment - 1) / alignment * alignment;
  if (rc == 0 && data_start > b->size && n_tensors > 0)
    rc = gfail(&c, "data section starts past the end");
  for (uint64_t i = 0; rc == 0 && i < n_tensors; i++)
    rc = load_tensor(b, &c, data_start, &ti[i], s, out);
  free(ti);
  if (rc == 0) rc = mx_io_arrays_check_unique(out, "load_gguf");
  return rc;
}

/* ---- save -------------------------------------------------------------------------------- */

static int gguf_tensor_type(mx_dtype t) {
  switch (t) {
  case MX_FLOAT32: return MX_GGML_F32;
  case MX_FLOAT16: return MX_GGML_F16;
  case MX_INT8: return MX_GGML_I8;
  case MX_INT16: return MX_GGML_I16;
  case MX_INT32: return MX_GGML_I32;
  default: return -1;
  }
}

static int gguf_value_type(mx_dtype t) {
  switch (t) {
  case MX_FLOAT32: return GV_FLOAT32;
  case MX_INT64: return GV_INT64;
  case MX_INT32: return GV_INT32;
  case MX_INT16: return GV_INT16;
  case MX_INT8: return GV_INT8;
  case MX_UINT64: return GV_UINT64;
  case MX_UINT32: return GV_UINT32;
  case MX_UINT16: return GV_UINT16;
  case MX_UINT8: return GV_UINT8;
  case MX_BOOL: return GV_BOOL;
  default: return -1;
  }
}

static int write_str(mx_io_writer *w, const char *s, size_t n) {
  if (mx_io_write_u64(w, n) != 0) return -1;
  return mx_io_write(w, s, n);
}

/* Validates and evaluates the metadata arrays; owned[i] receives contiguous copies. */
static int check_meta(const mx_io_meta *meta, mx_array **use, mx_array **owned) {
  for (size_t i = 0; meta && i < meta->n; i++) {
    const mx_io_meta_entry *e = &meta->v[i];
    if (e->kind != MX_IO_META_ARRAY) continue;
    mx_array *a = e->array;
    if (a->ndim > 1)
      return mx_fail_int(MX_ERUNTIME,
                         "[save_gguf] Cannot save arrays with more than one dimension.");
    if (a->size == 0) return mx_fail_int(MX_ERUNTIME, "[save_gguf] Cannot save empty arrays.");
    if (gguf_value_type(a->dtype) < 0)
      return mx_fail_int(MX_EINVAL, "[save_gguf] array type %s not support for metadata.",
                         mx_dtype_name(a->dtype));
    const uint8_t *data;
    bool fortran;
    use[i] = a;
    if (mx_io_contiguous_bytes(&use[i], &owned[i], false, &data, &fortran) != 0) return -1;
  }
  return 0;
}

int mx_io_save_gguf(mx_io_writer *w, const mx_io_arrays *arrays, const mx_io_meta *meta) {
  size_t nm = meta ? meta->n : 0, n = arrays->n;
  for (size_t i = 0; i < n; i++)
    if (gguf_tensor_type(arrays->v[i].array->dtype) < 0)
      return mx_fail_int(MX_ERUNTIME, "[save_gguf] dtype %s is not supported",
                         mx_dtype_name(arrays->v[i].array->dtype));
  if (mx_io_arrays_check_unique(arrays, "save_gguf") != 0) return -1;
  mx_array **muse = calloc(nm + 1, sizeof *muse), **mown = calloc(nm + 1, sizeof *mown);
  mx_array **tuse = calloc(n + 1, sizeof *tuse), **town = calloc(n + 1, sizeof *town);
  const uint8_t **tdata = calloc(n + 1, sizeof *tdata);
  int rc = (muse && mown && tuse && town && tdata)
               ? 0
               : mx_fail_int(MX_ENOMEM, "[save_gguf] out of memory.");
  if (rc == 0) rc = check_meta(meta, muse, mown);
  if (rc == 0) rc = mx_io_eval_all(arrays);
  for (size_t i = 0; rc == 0 && i < n; i++) {
    bool fortran;
    tuse[i] = arrays->v[i].array;
    rc = mx_io_contiguous_bytes(&tuse[i], &town[i], false, &tdata[i], &fortran);
  }
  /* header */
  if (rc == 0) rc = mx_io_write(w, "GGUF", 4);
  if (rc == 0) rc = mx_io_write_u32(w, 3);
  if (rc == 0) rc = mx_io_write_u64(w, n);
  if (rc == 0) rc = mx_io_write_u64(w, nm);
  for (size_t i = 0; rc == 0 && i < nm; i++) {
    const mx_io_meta_entry *e = &meta->v[i];
    rc = write_str(w, e->key.s, e->key.len);
    if (rc != 0) break;
    if (e->kind == MX_IO_META_STRING) {
      rc = mx_io_write_u32(w, GV_STRING);
      if (rc == 0) rc = write_str(w, e->str.s, e->str.len);
    } else if (e->kind == MX_IO_META_STRINGS) {
      rc = mx_io_write_u32(w, GV_ARRAY);
      if (rc == 0) rc = mx_io_write_u32(w, GV_STRING);
      if (rc == 0) rc = mx_io_write_u64(w, e->n_strs);
      for (size_t k = 0; rc == 0 && k < e->n_strs; k++)
        rc = write_str(w, e->strs[k].s, e->strs[k].len);
    } else {
      mx_array *a = muse[i];
      uint32_t vt = (uint32_t)gguf_value_type(a->dtype);
      const void *data = mx_array_host_data(a);
      if (!data) {
        rc = -1;
        break;
      }
      if (a->ndim == 1) {
        rc = mx_io_write_u32(w, GV_ARRAY);
        if (rc == 0) rc = mx_io_write_u32(w, vt);
        if (rc == 0) rc = mx_io_write_u64(w, (uint64_t)a->size);
      } else {
        rc = mx_io_write_u32(w, vt);
      }
      if (rc == 0) rc = mx_io_write(w, data, mx_array_nbytes(a));
    }
  }
  uint64_t offset = 0;
  for (size_t i = 0; rc == 0 && i < n; i++) {
    mx_array *a = tuse[i];
    rc = write_str(w, arrays->v[i].name.s, arrays->v[i].name.len);
    if (rc == 0) rc = mx_io_write_u32(w, (uint32_t)a->ndim);
    for (int d = a->ndim - 1; rc == 0 && d >= 0; d--) rc = mx_io_write_u64(w, (uint64_t)a->shape[d]);
    if (rc == 0) rc = mx_io_write_u32(w, (uint32_t)gguf_tensor_type(a->dtype));
    if (rc == 0) rc = mx_io_write_u64(w, offset);
    offset += mx_array_nbytes(a);
    offset = (offset + GGUF_ALIGNMENT - 1) / GGUF_ALIGNMENT * GGUF_ALIGNMENT;
  }
  /* data section: aligned start, each tensor aligned */
  for (size_t i = 0; rc == 0 && i < n; i++) {
    size_t pad = (size_t)((GGUF_ALIGNMENT - w->pos % GGUF_ALIGNMENT) % GGUF_ALIGNMENT);
    rc = mx_io_write_zeros(w, pad);
    if (rc == 0) rc = mx_io_write(w, tdata[i], mx_array_nbytes(tuse[i]));
  }
  for (size_t i = 0; mown && i < nm; i++) mx_array_release(mown[i]);
  for (size_t i = 0; town && i < n; i++) mx_array_release(town[i]);
  free(muse);
  free(mown);
  free(tuse);
  free(town);
  free(tdata);
  return rc;
}
