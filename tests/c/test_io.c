/* test_io.c: the mlx-c I/O API as mlx-c's examples use it: the GGUF container round trip of
 * example-gguf.c (tensors, string / string-list / array metadata), safetensors maps with
 * metadata through paths and through custom in-memory writers and readers (the vtable's
 * free runs), .npy through both, maps and iterators, and failures reported through the
 * error handler (missing files, truncated data) without crashing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mlx/c/mlx.h"

static int failures = 0;
#define CHECK(cond)                                                          \
  do {                                                                       \
    if (!(cond)) {                                                           \
      fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);        \
      failures++;                                                            \
    }                                                                        \
  } while (0)

static int handler_calls = 0;
static char last_error[1024];
static void record_error(const char *msg, void *data) {
  (void)data;
  handler_calls++;
  snprintf(last_error, sizeof last_error, "%s", msg);
}

static char dir[256];
static void path_of(char *out, size_t cap, const char *name) { snprintf(out, cap, "%s/%s", dir, name); }

/* ---- an in-memory stream for mlx_io_reader / mlx_io_writer ---- */
typedef struct memfile {
  char *data;
  size_t n, cap, pos;
  int frees;
  bool fail_writes;
} memfile;

static bool mf_is_open(void *d) { return d != NULL; }
static bool mf_good(void *d) { return !((memfile *)d)->fail_writes; }
static size_t mf_tell(void *d) { return ((memfile *)d)->pos; }
static void mf_seek(void *d, int64_t off, int whence) {
  memfile *m = d;
  int64_t base = whence == SEEK_SET ? 0 : whence == SEEK_CUR ? (int64_t)m->pos : (int64_t)m->n;
  int64_t p = base + off;
  m->pos = p < 0 ? 0 : (size_t)p > m->n ? m->n : (size_t)p;
}
static void mf_read(void *d, char *out, size_t n) {
  memfile *m = d;
  if (m->pos + n > m->n) {
    m->fail_writes = true; /* reading past the end makes the stream bad */
    n = m->n - m->pos;
  }
  memcpy(out, m->data + m->pos, n);
  m->pos += n;
}
static void mf_read_at(void *d, char *out, size_t n, size_t off) {
  memfile *m = d;
  memcpy(out, m->data + off, off + n <= m->n ? n : 0);
}
static void mf_write(void *d, const char *src, size_t n) {
  memfile *m = d;
  if (m->fail_writes) return;
  if (m->pos + n > m->cap) {
    m->cap = (m->pos + n) * 2;
    m->data = realloc(m->data, m->cap);
  }
  memcpy(m->data + m->pos, src, n);
  m->pos += n;
  if (m->pos > m->n) m->n = m->pos;
}
static const char *mf_label(void *d) {
  (void)d;
  return "<memfile>";
}
static void mf_free(void *d) { ((memfile *)d)->frees++; }

static mlx_io_vtable mf_vtable(void) {
  mlx_io_vtable vt = {mf_is_open, mf_good, mf_tell, mf_seek, mf_read,
                      mf_read_at, mf_write, mf_label, mf_free};
  return vt;
}

static mlx_array arange_f32(int n, int rows) {
  float *v = malloc((size_t)n * sizeof *v);
  for (int i = 0; i < n; i++) v[i] = (float)i * 0.5f - 3.0f;
  int shape[2] = {rows, n / rows};
  mlx_array a = mlx_array_new_data(v, shape, 2, MLX_FLOAT32);
  free(v);
  return a;
}

/* Same shape, float32, same values in row-major order (data_* gives the raw buffer, so
 * both are flattened first: a reshape of a transposed view is a row-major copy). */
static bool same_f32(mlx_array a, mlx_array b) {
  if (mlx_array_dtype(a) != MLX_FLOAT32 || mlx_array_dtype(b) != MLX_FLOAT32) return false;
  if (mlx_array_ndim(a) != mlx_array_ndim(b) || mlx_array_size(a) != mlx_array_size(b))
    return false;
  for (size_t d = 0; d < mlx_array_ndim(a); d++)
    if (mlx_array_shape(a)[d] != mlx_array_shape(b)[d]) return false;
  int n = (int)mlx_array_size(a);
  mlx_stream s = mlx_default_cpu_stream_new();
  mlx_array fa = mlx_array_new(), fb = mlx_array_new();
  bool ok = mlx_reshape(&fa, a, &n, 1, s) == 0 && mlx_reshape(&fb, b, &n, 1, s) == 0 &&
            mlx_array_eval(fa) == 0 && mlx_array_eval(fb) == 0 &&
            memcmp(mlx_array_data_float32(fa), mlx_array_data_float32(fb),
                   (size_t)n * sizeof(float)) == 0;
  mlx_array_free(fa);
  mlx_array_free(fb);
  mlx_stream_free(s);
  return ok;
}

static void test_gguf(mlx_stream s) {
  char file[512];
  path_of(file, sizeof file, "test"); /* ".gguf" appended by save */
  mlx_io_gguf g = mlx_io_gguf_new();
  mlx_array z3 = mlx_array_new(), z2 = mlx_array_new();
  CHECK(mlx_zeros(&z3, (int[]){3, 4, 5}, 3, MLX_FLOAT16, s) == 0);
  CHECK(mlx_zeros(&z2, (int[]){6, 7}, 2, MLX_FLOAT32, s) == 0);
  mlx_array r = arange_f32(12, 3);
  CHECK(mlx_io_gguf_set_array(g, "array3D", z3) == 0);
  CHECK(mlx_io_gguf_set_array(g, "array2D", z2) == 0);
  CHECK(mlx_io_gguf_set_array(g, "ramp", r) == 0);
  CHECK(mlx_io_gguf_set_metadata_string(g, "array2D", "a 6x7 zero array") == 0);
  mlx_vector_string vs = mlx_vector_string_new_data((const char *[]){"x", "yz", ""}, 3);
  CHECK(mlx_io_gguf_set_metadata_vector_string(g, "tokens", vs) == 0);
  mlx_array m = mlx_array_new_int(42);
  CHECK(mlx_io_gguf_set_metadata_array(g, "answer", m) == 0);
  CHECK(mlx_save_gguf(file, g) == 0);
  mlx_io_gguf_free(g);

  char full[520];
  snprintf(full, sizeof full, "%s.gguf", file);
  mlx_io_gguf l = mlx_io_gguf_new();
  CHECK(mlx_load_gguf(&l, full, s) == 0);
  mlx_vector_string keys = mlx_vector_string_new();
  CHECK(mlx_io_gguf_get_keys(&keys, l) == 0);
  CHECK(mlx_vector_string_size(keys) == 3);
  mlx_array v = mlx_array_new();
  for (size_t i = 0; i < mlx_vector_string_size(keys); i++) {
    char *key;
    CHECK(mlx_vector_string_get(&key, keys, i) == 0);
    CHECK(mlx_io_gguf_get_array(&v, l, key) == 0);
    bool flag = false;
    CHECK(mlx_io_gguf_has_metadata_string(&flag, l, key) == 0);
    CHECK(flag == (strcmp(key, "array2D") == 0));
    if (strcmp(key, "array3D") == 0) {
      CHECK(mlx_array_ndim(v) == 3 && mlx_array_dtype(v) == MLX_FLOAT16);
      CHECK(mlx_array_shape(v)[0] == 3 && mlx_array_shape(v)[2] == 5);
    } else if (strcmp(key, "array2D") == 0) {
      CHECK(mlx_array_ndim(v) == 2 && mlx_array_dtype(v) == MLX_FLOAT32);
    } else {
      CHECK(strcmp(key, "ramp") == 0);
      CHECK(same_f32(v, r));
    }
  }
  mlx_string str = mlx_string_new();
  CHECK(mlx_io_gguf_get_metadata_string(&str, l, "array2D") == 0);
  CHECK(strcmp(mlx_string_data(str), "a 6x7 zero array") == 0);
  mlx_vector_string toks = mlx_vector_string_new();
  CHECK(mlx_io_gguf_get_metadata_vector_string(&toks, l, "tokens") == 0);
  CHECK(mlx_vector_string_size(toks) == 3);
  char *t1;
  CHECK(mlx_vector_string_get(&t1, toks, 1) == 0 && strcmp(t1, "yz") == 0);
  bool flag = false;
  CHECK(mlx_io_gguf_has_metadata_array(&flag, l, "answer") == 0 && flag);
  CHECK(mlx_io_gguf_has_metadata_vector_string(&flag, l, "answer") == 0 && !flag);
  mlx_array ans = mlx_array_new();
  CHECK(mlx_io_gguf_get_metadata_array(&ans, l, "answer") == 0);
  int32_t iv = 0;
  CHECK(mlx_array_item_int32(&iv, ans) == 0 && iv == 42);
  /* wrong kind or missing key: an error, not a crash */
  int before = handler_calls;
  CHECK(mlx_io_gguf_get_metadata_string(&str, l, "answer") == 1);
  CHECK(mlx_io_gguf_get_array(&v, l, "nope") == 1);
  CHECK(handler_calls == before + 2);

  mlx_array_free(ans);
  mlx_vector_string_free(toks);
  mlx_string_free(str);
  mlx_array_free(v);
  mlx_vector_string_free(keys);
  mlx_io_gguf_free(l);
  mlx_vector_string_free(vs);
  mlx_array_free(m);
  mlx_array_free(r);
  mlx_array_free(z2);
  mlx_array_free(z3);
}

static void test_safetensors(mlx_stream s) {
  char file[512];
  path_of(file, sizeof file, "arrays.safetensors");
  mlx_map_string_to_array arrays = mlx_map_string_to_array_new();
  mlx_map_string_to_string meta = mlx_map_string_to_string_new();
  mlx_array a = arange_f32(6, 2), b = arange_f32(8, 4), c = arange_f32(4, 1);
  CHECK(mlx_map_string_to_array_insert(arrays, "a", a) == 0);
  CHECK(mlx_map_string_to_array_insert(arrays, "b", c) == 0);
  CHECK(mlx_map_string_to_array_insert(arrays, "b", b) == 0); /* overwrites */
  CHECK(mlx_map_string_to_string_insert(meta, "format", "mlx") == 0);
  mlx_array got = mlx_array_new();
  CHECK(mlx_map_string_to_array_get(&got, arrays, "missing") == 2);
  CHECK(mlx_save_safetensors(file, arrays, meta) == 0);

  mlx_map_string_to_array la = mlx_map_string_to_array_new();
  mlx_map_string_to_string lm = mlx_map_string_to_string_new();
  CHECK(mlx_load_safetensors(&la, &lm, file, s) == 0);
  CHECK(mlx_map_string_to_array_get(&got, la, "a") == 0 && same_f32(got, a));
  CHECK(mlx_map_string_to_array_get(&got, la, "b") == 0 && same_f32(got, b));
  const char *fmt = NULL;
  CHECK(mlx_map_string_to_string_get(&fmt, lm, "format") == 0 && strcmp(fmt, "mlx") == 0);
  int n = 0;
  mlx_map_string_to_array_iterator it = mlx_map_string_to_array_iterator_new(la);
  const char *key;
  while (mlx_map_string_to_array_iterator_next(&key, &got, it) == 0) {
    n++;
    CHECK(strcmp(key, "a") == 0 || strcmp(key, "b") == 0);
  }
  mlx_map_string_to_array_iterator_free(it);
  CHECK(n == 2);

  /* a custom writer, then a custom reader over the same memory */
  memfile mf = {0};
  mlx_io_writer w = mlx_io_writer_new(&mf, mf_vtable());
  mlx_string label = mlx_string_new();
  CHECK(mlx_io_writer_tostring(&label, w) == 0 && strcmp(mlx_string_data(label), "<memfile>") == 0);
  CHECK(mlx_save_safetensors_writer(w, arrays, meta) == 0);
  CHECK(mf.n > 8);
  mlx_io_writer_free(w);
  CHECK(mf.frees == 1);
  mf.pos = 0;
  mlx_io_reader r = mlx_io_reader_new(&mf, mf_vtable());
  void *desc = NULL;
  CHECK(mlx_io_reader_descriptor(&desc, r) == 0 && desc == &mf);
  mlx_map_string_to_array ra = mlx_map_string_to_array_new();
  mlx_map_string_to_string rm = mlx_map_string_to_string_new();
  CHECK(mlx_load_safetensors_reader(&ra, &rm, r, s) == 0);
  CHECK(mlx_map_string_to_array_get(&got, ra, "b") == 0 && same_f32(got, b));
  mlx_map_string_to_string_iterator sit = mlx_map_string_to_string_iterator_new(rm);
  const char *k, *val;
  CHECK(mlx_map_string_to_string_iterator_next(&k, &val, sit) == 0);
  CHECK(strcmp(k, "format") == 0 && strcmp(val, "mlx") == 0);
  CHECK(mlx_map_string_to_string_iterator_next(&k, &val, sit) == 2);
  mlx_map_string_to_string_iterator_free(sit);
  mlx_io_reader_free(r);
  CHECK(mf.frees == 2);

  /* a truncated stream fails cleanly */
  mf.n = mf.n - 3;
  mf.pos = 0;
  r = mlx_io_reader_new(&mf, mf_vtable());
  int before = handler_calls;
  CHECK(mlx_load_safetensors_reader(&ra, &rm, r, s) == 1);
  CHECK(handler_calls == before + 1);
  CHECK(strstr(last_error, "load_safetensors") != NULL);
  mlx_io_reader_free(r);

  /* map copies are independent */
  mlx_map_string_to_array copy = mlx_map_string_to_array_new();
  CHECK(mlx_map_string_to_array_set(&copy, la) == 0);
  mlx_map_string_to_array_free(la);
  CHECK(mlx_map_string_to_array_get(&got, copy, "a") == 0 && same_f32(got, a));

  free(mf.data);
  mlx_string_free(label);
  mlx_map_string_to_array_free(copy);
  mlx_map_string_to_array_free(ra);
  mlx_map_string_to_string_free(rm);
  mlx_map_string_to_string_free(lm);
  mlx_array_free(got);
  mlx_array_free(a);
  mlx_array_free(b);
  mlx_array_free(c);
  mlx_map_string_to_array_free(arrays);
  mlx_map_string_to_string_free(meta);
}

static void test_npy(mlx_stream s) {
  char file[512], full[520];
  path_of(file, sizeof file, "one");
  snprintf(full, sizeof full, "%s.npy", file);
  mlx_array a = arange_f32(12, 4), t = mlx_array_new(), l = mlx_array_new();
  CHECK(mlx_transpose(&t, a, s) == 0); /* column-major on disk (fortran_order) */
  CHECK(mlx_save(file, t) == 0);
  CHECK(mlx_load(&l, full, s) == 0);
  mlx_array tc = mlx_array_new();
  CHECK(mlx_copy(&tc, t, s) == 0);
  CHECK(same_f32(l, tc));

  memfile mf = {0};
  mlx_io_writer w = mlx_io_writer_new(&mf, mf_vtable());
  CHECK(mlx_save_writer(w, a) == 0);
  mlx_io_writer_free(w);
  mf.pos = 0;
  mlx_io_reader r = mlx_io_reader_new(&mf, mf_vtable());
  CHECK(mlx_load_reader(&l, r, s) == 0 && same_f32(l, a));
  mlx_io_reader_free(r);
  CHECK(mf.frees == 2);
  free(mf.data);

  int before = handler_calls;
  CHECK(mlx_load(&l, "/nonexistent/dir/x.npy", s) == 1);
  CHECK(handler_calls == before + 1 && strstr(last_error, "Failed to open") != NULL);
  mlx_array_free(tc);
  mlx_array_free(a);
  mlx_array_free(t);
  mlx_array_free(l);
}

int main(void) {
  snprintf(dir, sizeof dir, "/tmp/mlx_test_io_XXXXXX");
  if (!mkdtemp(dir)) {
    perror("mkdtemp");
    return 1;
  }
  mlx_set_error_handler(record_error, NULL, NULL);
  mlx_stream s = mlx_default_cpu_stream_new();
  test_gguf(s);
  test_safetensors(s);
  test_npy(s);
  mlx_stream_free(s);
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (system(cmd) != 0) fprintf(stderr, "note: could not remove %s\n", dir);
  if (failures) {
    fprintf(stderr, "test_io: %d failure(s)\n", failures);
    return 1;
  }
  printf("test_io: all passed\n");
  return 0;
}
