/* blob.c: byte sources of the loaders (io.h): mmap'd files and heap blocks, and how a
 * tensor stored in one becomes an array -- a zero-copy view of the mapping (a wrapped
 * NEVER_DONATE buffer holding a reference to the blob), a lazy Load op, or a copy.
 * Depends on core (buffer, array, op) only. */
#include "io.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../core/op.h"

static char *dup_label(const char *s) {
  size_t n = strlen(s);
  char *d = malloc(n + 1);
  if (d) memcpy(d, s, n + 1);
  return d;
}

static mx_io_blob *blob_new(const char *label) {
  mx_io_blob *b = calloc(1, sizeof *b);
  if (!b) return mx_fail(MX_ENOMEM, "[load] out of memory.");
  atomic_init(&b->refs, 1);
  b->label = dup_label(label ? label : "");
  if (!b->label) {
    free(b);
    return mx_fail(MX_ENOMEM, "[load] out of memory.");
  }
  return b;
}

mx_io_blob *mx_io_blob_map(const char *path, const char *op, mx_error_kind kind) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return mx_fail(kind, "[%s] Failed to open file %s", op, path);
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return mx_fail(kind, "[%s] Failed to open file %s", op, path);
  }
  mx_io_blob *b = blob_new(path);
  if (!b) {
    close(fd);
    return NULL;
  }
  b->size = (size_t)st.st_size;
  if (b->size > 0) {
    /* PROT_READ: wrapped buffers are never donated, so nothing writes into the mapping */
    void *p = mmap(NULL, b->size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      close(fd);
      mx_io_blob_release(b);
      return mx_fail(kind, "[%s] Failed to map file %s (%s)", op, path, strerror(errno));
    }
    b->data = p;
    b->mapped = true;
  }
  close(fd); /* the mapping keeps the file */
  return b;
}

mx_io_blob *mx_io_blob_from_memory(void *data_steal, size_t n, const char *label) {
  mx_io_blob *b = blob_new(label);
  if (!b) {
    free(data_steal);
    return NULL;
  }
  b->data = data_steal;
  b->size = n;
  return b;
}

mx_io_blob *mx_io_blob_borrow(const void *data, size_t n, const char *label) {
  mx_io_blob *b = blob_new(label);
  if (!b) return NULL;
  b->data = data;
  b->size = n;
  b->borrowed = true;
  return b;
}

void mx_io_blob_retain(mx_io_blob *b) {
  if (b) atomic_fetch_add_explicit(&b->refs, 1, memory_order_relaxed);
}

void mx_io_blob_release(mx_io_blob *b) {
  if (!b) return;
  int64_t old = atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel);
  MX_ASSERT(old > 0);
  if (old != 1) return;
  if (b->mapped)
    munmap((void *)b->data, b->size);
  else if (!b->borrowed)
    free((void *)b->data);
  free(b->label);
  free(b);
}

static void blob_release_cb(void *payload) { mx_io_blob_release(payload); }

/* A buffer over bytes [off, off + n) of a mapped blob, holding a blob reference. */
static mx_buffer *wrap_region(mx_io_blob *b, uint64_t off, size_t n) {
  mx_io_blob_retain(b);
  mx_buffer *buf = mx_buffer_wrap((void *)(b->data + off), n, blob_release_cb, b);
  if (!buf) mx_io_blob_release(b);
  return buf;
}

mx_array *mx_io_load_op(mx_array *bytes, mx_dtype t, int ndim, const int32_t *shape, int swap,
                        mx_stream s) {
  if (!bytes) return NULL;
  if (bytes->dtype != MX_UINT8) return mx_fail(MX_EINVAL, "[load] Load reads uint8 bytes.");
  int64_t n = mx_shape_size("load", ndim, shape);
  if (n < 0) return NULL;
  if (bytes->size != n * mx_dtype_size(t))
    return mx_fail(MX_EINVAL, "[load] %lld bytes do not hold a tensor of %lld bytes.",
                   (long long)bytes->size, (long long)(n * mx_dtype_size(t)));
  mx_p_load p = {.swap = swap};
  return mx_op_make1(MX_PRIM_LOAD, &p, s, 1, &bytes, t, ndim, shape);
}

static void swap_copy(uint8_t *dst, const uint8_t *src, size_t n, int unit) {
  for (size_t i = 0; i + (size_t)unit <= n; i += (size_t)unit)
    for (int k = 0; k < unit; k++) dst[i + (size_t)k] = src[i + (size_t)(unit - 1 - k)];
}

mx_array *mx_io_blob_array(mx_io_blob *b, uint64_t off, mx_dtype t, int ndim,
                           const int32_t *shape, int swap, mx_stream s, const char *op) {
  for (int d = 0; d < ndim; d++)
    if (shape[d] < 0) return mx_fail(MX_EINVAL, "[%s] Negative dimension %d.", op, shape[d]);
  int64_t n = mx_shape_size(op, ndim, shape);
  if (n < 0) return NULL;
  uint64_t es = (uint64_t)mx_dtype_size(t);
  if ((uint64_t)n > UINT64_MAX / es || (uint64_t)n * es > (uint64_t)PTRDIFF_MAX)
    return mx_fail(MX_EINVAL, "[%s] Tensor of %lld elements is too large.", op, (long long)n);
  uint64_t nbytes = (uint64_t)n * es;
  if (off > b->size || nbytes > b->size - off)
    return mx_fail(MX_EINVAL,
                   "[%s] Tensor data [%llu, %llu) lies outside the %zu bytes of %s.", op,
                   (unsigned long long)off, (unsigned long long)off + nbytes, b->size,
                   b->label);
  if (swap > 1 && t == MX_COMPLEX64) swap = 4; /* two big-endian float32 halves */
  if (swap > 1 && es == 1) swap = 0;
  if (!b->mapped || nbytes == 0) { /* heap blob: copy now */
    const uint8_t *src = nbytes ? b->data + off : NULL;
    mx_array *a = mx_array_from_data(NULL, t, ndim, shape);
    if (!a) return NULL;
    if (nbytes) {
      if (swap > 1)
        swap_copy(a->buf->host, src, (size_t)nbytes, swap);
      else
        memcpy(a->buf->host, src, (size_t)nbytes);
    }
    return a;
  }
  const uint8_t *src = b->data + off;
  /* zero copy when the kernels may read the elements in place: natural alignment */
  uint64_t align = es > 8 ? 8 : es;
  if (swap <= 1 && ((uintptr_t)src % align) == 0) {
    mx_buffer *buf = wrap_region(b, off, (size_t)nbytes);
    if (!buf) return NULL;
    mx_array *a = mx_array_from_buffer(buf, t, ndim, shape);
    mx_buffer_release(buf);
    return a;
  }
  /* the bytes as a uint8 array of shape (*shape, element size): every dim fits int32 */
  mx_buffer *buf = wrap_region(b, off, (size_t)nbytes);
  if (!buf) return NULL;
  int32_t small[MX_INLINE_DIMS + 1];
  int32_t *bshape = ndim <= MX_INLINE_DIMS ? small : malloc((size_t)(ndim + 1) * sizeof(int32_t));
  mx_array *bytes = NULL;
  if (bshape) {
    for (int d = 0; d < ndim; d++) bshape[d] = shape[d];
    bshape[ndim] = (int32_t)es;
    bytes = mx_array_from_buffer(buf, MX_UINT8, ndim + 1, bshape);
    if (bshape != small) free(bshape);
  } else {
    mx_fail(MX_ENOMEM, "[%s] out of memory.", op);
  }
  mx_buffer_release(buf);
  if (!bytes) return NULL;
  mx_array *a = mx_io_load_op(bytes, t, ndim, shape, swap > 1 ? swap : 0, s);
  mx_array_release(bytes);
  return a;
}
