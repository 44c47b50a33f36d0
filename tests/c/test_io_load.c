/* test_io_load.c: the Load primitive of src/io in isolation: byte copies into every dtype,
 * byte swapping (complex64 in 4-byte halves), strided byte inputs, its vmap rule over a
 * batch of byte rows (batch axis first or last), its zero vjp/jvp, and tensors stored in
 * memory-mapped files at aligned (zero-copy view, NEVER_DONATE) and unaligned (Load op)
 * offsets, including after the file is unlinked. Returns nonzero on failure. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "error.h"
#include "eval.h"
#include "prim.h"
#include "scope.h"

#include "../../src/io/io.h"
#include "../../src/ops/ops.h"

static int failures = 0;
#define CHECK(cond)                                                                      \
  do {                                                                                   \
    if (!(cond)) {                                                                       \
      fprintf(stderr, "FAIL %s:%d: %s (%s)\n", __FILE__, __LINE__, #cond,                \
              mx_error_message());                                                       \
      failures++;                                                                        \
    }                                                                                    \
  } while (0)

static mx_array *bytes_of(const uint8_t *p, int n) {
  int32_t shape[1] = {n};
  return mx_array_from_data(p, MX_UINT8, 1, shape);
}

/* The row-major bytes of a equal expect (a strided array is copied first). */
static bool bytes_equal(mx_array *a, const void *expect, size_t n) {
  if (mx_array_eval(a) != 0) return false;
  mx_array *f = a;
  if (!(a->flags & MX_ROW_CONTIG)) {
    f = mx_copy(a, mx_stream_default());
    if (!f || mx_array_eval(f) != 0 || !(f->flags & MX_ROW_CONTIG)) return false;
  }
  bool ok = mx_array_nbytes(f) == n && memcmp(mx_array_host_data(f), expect, n) == 0;
  if (f != a && !mx_scope_active()) mx_array_release(f); /* in a scope the scope owns it */
  return ok;
}

static void test_copy_and_swap(void) {
  uint8_t raw[16];
  for (int i = 0; i < 16; i++) raw[i] = (uint8_t)(i * 17 + 3);
  mx_array *b = bytes_of(raw, 16);
  const mx_dtype types[] = {MX_UINT8, MX_INT16, MX_FLOAT32, MX_FLOAT64, MX_BFLOAT16,
                            MX_COMPLEX64, MX_UINT64, MX_BOOL};
  for (size_t k = 0; k < sizeof types / sizeof types[0]; k++) {
    mx_dtype t = types[k];
    int es = mx_dtype_size(t);
    int32_t shape[2] = {2, 8 / es};
    mx_array *a = mx_io_load_op(b, t, 2, shape, 0, mx_stream_default());
    CHECK(a && a->dtype == t && mx_array_eval(a) == 0 && bytes_equal(a, raw, 16));
    mx_array_release(a);
    int unit = t == MX_COMPLEX64 ? 4 : es;
    if (unit > 1) {
      uint8_t sw[16];
      for (int i = 0; i < 16; i += unit)
        for (int j = 0; j < unit; j++) sw[i + j] = raw[i + unit - 1 - j];
      a = mx_io_load_op(b, t, 2, shape, unit, mx_stream_default());
      CHECK(a && mx_array_eval(a) == 0 && bytes_equal(a, sw, 16));
      mx_array_release(a);
    }
  }
  /* wrong byte count: an error, not a bad read */
  int32_t big[1] = {5};
  CHECK(mx_io_load_op(b, MX_FLOAT32, 1, big, 0, mx_stream_default()) == NULL);
  CHECK(mx_error_kind_get() == MX_EINVAL);
  mx_error_clear();
  mx_array_release(b);
}

static void test_strided_input(void) {
  uint8_t raw[12];
  for (int i = 0; i < 12; i++) raw[i] = (uint8_t)i;
  int32_t s34[2] = {3, 4};
  mx_array *m = mx_array_from_data(raw, MX_UINT8, 2, s34);
  mx_array *t = mx_transpose(m, NULL, -1, mx_stream_default()); /* (4, 3), strided */
  int32_t out_shape[1] = {3};
  mx_array *a = mx_io_load_op(t, MX_INT32, 1, out_shape, 0, mx_stream_default());
  uint8_t expect[12];
  for (int i = 0; i < 4; i++)
    for (int j = 0; j < 3; j++) expect[i * 3 + j] = raw[j * 4 + i];
  CHECK(a && mx_array_eval(a) == 0 && bytes_equal(a, expect, 12));
  mx_array_release(a);
  mx_array_release(t);
  mx_array_release(m);
}

static void test_rules(void) {
  CHECK(mx_prims[MX_PRIM_LOAD].vmap && mx_prims[MX_PRIM_LOAD].vjp && mx_prims[MX_PRIM_LOAD].jvp);
  uint8_t raw[24];
  for (int i = 0; i < 24; i++) raw[i] = (uint8_t)(255 - i);
  mx_array *one = bytes_of(raw, 8);
  int32_t s2[1] = {2};
  mx_array *a = mx_io_load_op(one, MX_FLOAT32, 1, s2, 0, mx_stream_default());
  int32_t s38[2] = {3, 8}, s83[2] = {8, 3};
  mx_array *rows = mx_array_from_data(raw, MX_UINT8, 2, s38);
  mx_array *cols_src = mx_array_from_data(raw, MX_UINT8, 2, s38);
  mx_array *cols = mx_transpose(cols_src, NULL, -1, mx_stream_default()); /* (8, 3), batch last */
  (void)s83;
  for (int which = 0; which < 2; which++) {
    MX_SCOPE_BEGIN;
    mx_array *in[1] = {which == 0 ? rows : cols};
    int axes[1] = {which == 0 ? 0 : 1};
    mx_array *out[1] = {NULL};
    int out_axes[1] = {-2};
    int rc = mx_prims[MX_PRIM_LOAD].vmap(a->op, in, axes, out, out_axes);
    mx_array *kept = rc == 0 ? mx_keep(out[0]) : NULL;
    MX_SCOPE_END;
    CHECK(rc == 0 && kept && out_axes[0] == 0);
    CHECK(kept && kept->ndim == 2 && kept->shape[0] == 3 && kept->shape[1] == 2);
    CHECK(kept && kept->dtype == MX_FLOAT32 && mx_array_eval(kept) == 0 && bytes_equal(kept, raw, 24));
    mx_array_release(kept);
  }
  /* vjp: the byte input gets no gradient; jvp: a zero tangent */
  {
    MX_SCOPE_BEGIN;
    mx_array *primals[1] = {one};
    mx_array *ct[1] = {mx_ones(s2, 1, MX_FLOAT32, mx_stream_default())};
    mx_array *outs[1] = {a};
    int argnums[1] = {0};
    mx_array *grads[1] = {NULL};
    int rc = mx_prims[MX_PRIM_LOAD].vjp(a->op, primals, ct, argnums, 1, outs, grads);
    CHECK(rc == 0);
    static const uint8_t zeros[8];
    if (grads[0]) CHECK(grads[0]->size == 8 && bytes_equal(grads[0], zeros, 8));
    mx_array *tangents[1] = {mx_ones_like(one, mx_stream_default())};
    mx_array *ot[1] = {NULL};
    rc = mx_prims[MX_PRIM_LOAD].jvp(a->op, primals, tangents, outs, ot);
    CHECK(rc == 0);
    if (ot[0]) CHECK(ot[0]->size == 2 && ot[0]->dtype == MX_FLOAT32 && bytes_equal(ot[0], zeros, 8));
    MX_SCOPE_END;
  }
  mx_array_release(cols);
  mx_array_release(cols_src);
  mx_array_release(rows);
  mx_array_release(a);
  mx_array_release(one);
}

static void test_mapped_file(void) {
  char path[] = "/tmp/mlx_test_io_load_XXXXXX";
  int fd = mkstemp(path);
  CHECK(fd >= 0);
  if (fd < 0) return;
  float vals[9];
  for (int i = 0; i < 9; i++) vals[i] = (float)i * 1.5f;
  uint8_t file[64 + 40];
  memset(file, 0xAB, sizeof file);
  memcpy(file + 64, vals, 36); /* aligned */
  CHECK(write(fd, file, sizeof file) == (ssize_t)sizeof file);
  close(fd);
  mx_io_blob *b = mx_io_blob_map(path, "load", MX_ERUNTIME);
  CHECK(b && b->mapped);
  unlink(path); /* the mapping keeps the bytes */
  if (!b) return;
  int32_t s9[1] = {9};
  mx_array *a = mx_io_blob_array(b, 64, MX_FLOAT32, 1, s9, 0, mx_stream_default(), "load");
  CHECK(a && a->op == NULL && a->buf && (a->buf->flags & MX_BUF_NEVER_DONATE));
  CHECK(a && (const uint8_t *)a->buf->host == b->data + 64); /* zero copy */
  mx_array *u = mx_io_blob_array(b, 63, MX_FLOAT32, 1, s9, 0, mx_stream_default(), "load");
  CHECK(u && u->op && u->op->prim == MX_PRIM_LOAD); /* unaligned: lazy copy */
  mx_io_blob_release(b); /* the arrays hold the mapping */
  CHECK(a && bytes_equal(a, vals, 36));
  uint8_t shifted[36];
  memcpy(shifted, file + 63, 36);
  CHECK(u && mx_array_eval(u) == 0 && bytes_equal(u, shifted, 36));
  /* an op on the zero-copy array never writes into the mapping (NEVER_DONATE) */
  mx_array *neg = mx_negative(a, mx_stream_default());
  CHECK(neg && mx_array_eval(neg) == 0 && neg->buf != a->buf);
  mx_array_release(neg);
  /* out of range and overflowing shapes are refused */
  mx_io_blob *b2 = mx_io_blob_borrow(file, sizeof file, "mem");
  int32_t huge[3] = {1 << 30, 1 << 30, 1 << 30};
  CHECK(mx_io_blob_array(b2, 100, MX_FLOAT32, 1, s9, 0, mx_stream_default(), "load") == NULL);
  CHECK(mx_io_blob_array(b2, 0, MX_FLOAT32, 3, huge, 0, mx_stream_default(), "load") == NULL);
  CHECK(mx_io_blob_array(b2, UINT64_MAX - 3, MX_UINT8, 1, s9, 0, mx_stream_default(), "load") == NULL);
  mx_error_clear();
  mx_io_blob_release(b2);
  mx_array_release(a);
  mx_array_release(u);
}

int main(void) {
  test_copy_and_swap();
  test_strided_input();
  test_rules();
  test_mapped_file();
  if (failures) {
    fprintf(stderr, "test_io_load: %d failure(s)\n", failures);
    return 1;
  }
  printf("test_io_load: all passed\n");
  return 0;
}
