/* fuzz_common.h: what the libFuzzer targets share. Each input is loaded twice, as the
 * front ends do: from memory (tensors copied at load) and from a memory-backed file that
 * is mmap'd (tensors zero-copy or lazy Load ops); every array is then evaluated and its
 * bytes read, so an out-of-bounds view or a bad Load op trips AddressSanitizer. Load
 * errors are expected and ignored; crashes, leaks and sanitizer reports are failures. */
#ifndef MX_FUZZ_COMMON_H
#define MX_FUZZ_COMMON_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memfd_create */
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../../src/io/io.h"

/* Reads every byte of an evaluated array (a checksum the compiler cannot drop). */
static inline void fuzz_touch(mx_array *a) {
  if (!a || mx_array_eval(a) != 0) {
    mx_error_clear();
    return;
  }
  if (a->size == 0) return;
  const uint8_t *p = mx_array_host_data(a);
  if (!p) {
    mx_error_clear();
    return;
  }
  /* the elements of a view are reached through its strides; read first and last rows */
  volatile uint8_t sink = 0;
  size_t es = (size_t)mx_dtype_size(a->dtype);
  int64_t lo = 0, hi = 0;
  for (int d = 0; d < a->ndim; d++) {
    int64_t span = (int64_t)(a->shape[d] - 1) * a->strides[d];
    if (span < 0) lo += span;
    else hi += span;
  }
  for (int64_t i = lo; i <= hi; i += (hi - lo) / 64 + 1)
    for (size_t k = 0; k < es; k++) sink ^= p[(size_t)(i * (int64_t)es) + k];
  (void)sink;
}

static inline void fuzz_touch_all(mx_array *single, mx_io_arrays *d, mx_io_meta *m) {
  fuzz_touch(single);
  for (size_t i = 0; d && i < d->n; i++) fuzz_touch(d->v[i].array);
  for (size_t i = 0; m && i < m->n; i++)
    if (m->v[i].kind == MX_IO_META_ARRAY) fuzz_touch(m->v[i].array);
}

static inline void fuzz_load_blob(mx_io_blob *b, mx_io_format f) {
  if (!b) {
    mx_error_clear();
    return;
  }
  mx_array *single = NULL;
  mx_io_arrays d = {0};
  mx_io_meta m = {0};
  if (mx_io_load_blob(b, f, mx_stream_default(), &single, &d, &m) == 0) {
    fuzz_touch_all(single, &d, &m);
    mx_array_release(single);
    mx_io_arrays_clear(&d);
    mx_io_meta_clear(&m);
  }
  mx_error_clear();
  mx_io_blob_release(b);
}

/* Loads data as format f from memory and from an mmap'd memfd. */
static inline int fuzz_one(const uint8_t *data, size_t size, mx_io_format f) {
  fuzz_load_blob(mx_io_blob_borrow(data, size, "fuzz input"), f);
  int fd = memfd_create("fuzz", 0);
  if (fd < 0) return 0;
  if (size == 0 || write(fd, data, size) == (ssize_t)size) {
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    fuzz_load_blob(mx_io_blob_map(path, "fuzz", MX_ERUNTIME), f);
  }
  close(fd);
  return 0;
}

#endif
