/* writer.c: output sinks of the savers (io.h): a file opened by path, a growable memory
 * buffer, and caller-supplied callbacks (Python file objects, mlx-c writers), with the
 * little-endian integer helpers every format uses. Depends on core/error.h only. */
#include "io.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int mx_io_write(mx_io_writer *w, const void *data, size_t n) {
  if (n == 0) return 0;
  if (w->write(w->ctx, data, n) != 0) return -1;
  w->pos += n;
  return 0;
}

int mx_io_write_u16(mx_io_writer *w, uint16_t v) {
  uint8_t b[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
  return mx_io_write(w, b, 2);
}

int mx_io_write_u32(mx_io_writer *w, uint32_t v) {
  uint8_t b[4];
  for (int i = 0; i < 4; i++) b[i] = (uint8_t)(v >> (8 * i));
  return mx_io_write(w, b, 4);
}

int mx_io_write_u64(mx_io_writer *w, uint64_t v) {
  uint8_t b[8];
  for (int i = 0; i < 8; i++) b[i] = (uint8_t)(v >> (8 * i));
  return mx_io_write(w, b, 8);
}

int mx_io_write_zeros(mx_io_writer *w, size_t n) {
  static const uint8_t zeros[64];
  while (n > 0) {
    size_t k = n < sizeof zeros ? n : sizeof zeros;
    if (mx_io_write(w, zeros, k) != 0) return -1;
    n -= k;
  }
  return 0;
}

typedef struct file_sink {
  FILE *f;
  char *path;     /* the destination (symlinks resolved) */
  char *tmp;      /* the file written, renamed over path on success */
} file_sink;

static int file_write(void *ctx, const void *data, size_t n) {
  file_sink *fs = ctx;
  if (fwrite(data, 1, n, fs->f) != n)
    return mx_fail_int(MX_ERUNTIME, "[save] Failed to write %zu bytes to %s (%s).", n, fs->path,
                       strerror(errno));
  return 0;
}

static void sink_free(file_sink *fs) {
  free(fs->path);
  free(fs->tmp);
  free(fs);
}

/* Saves go to a temporary file next to the destination that replaces it when complete:
 * arrays loaded lazily from the old file (memory-mapped) stay valid, and a failed save
 * leaves the old file intact. */
int mx_io_writer_open_file(mx_io_writer *w, const char *path, const char *op) {
  file_sink *fs = calloc(1, sizeof *fs);
  char *real = fs ? realpath(path, NULL) : NULL; /* NULL when it does not exist yet */
  const char *dest = real ? real : path;
  size_t n = strlen(dest);
  if (fs) fs->path = malloc(n + 1);
  if (fs && fs->path) fs->tmp = malloc(n + 16);
  if (!fs || !fs->path || !fs->tmp) {
    free(real);
    if (fs) sink_free(fs);
    return mx_fail_int(MX_ENOMEM, "[%s] out of memory.", op);
  }
  memcpy(fs->path, dest, n + 1);
  free(real);
  snprintf(fs->tmp, n + 16, "%s.tmp.XXXXXX", fs->path);
  struct stat st;
  bool exists = stat(fs->path, &st) == 0;
  int fd = exists && !S_ISREG(st.st_mode) ? -1 : mkstemp(fs->tmp);
  if (fd >= 0) {
    mode_t mask = umask(0);
    umask(mask);
    /* keep an existing file's permissions, else the usual 0666 & ~umask */
    if (fchmod(fd, exists ? (st.st_mode & 07777) : (0666 & ~mask)) != 0) { /* best effort */
    }
    fs->f = fdopen(fd, "wb");
    if (!fs->f) {
      close(fd);
      unlink(fs->tmp);
    }
  }
  if (!fs->f) {
    /* a device, a FIFO or a directory we cannot create files in: write in place */
    free(fs->tmp);
    fs->tmp = NULL;
    fs->f = fopen(fs->path, "wb");
  }
  if (!fs->f) {
    sink_free(fs);
    return mx_fail_int(MX_ERUNTIME, "[%s] Failed to open file %s", op, path);
  }
  w->write = file_write;
  w->ctx = fs;
  w->pos = 0;
  return 0;
}

int mx_io_writer_close_file(mx_io_writer *w, bool ok, const char *op) {
  file_sink *fs = w->ctx;
  if (!fs) return 0;
  int rc = fclose(fs->f) == 0 ? 0 : -1;
  if (rc != 0 && ok)
    mx_fail(MX_ERUNTIME, "[%s] Failed to write %s (%s).", op, fs->path, strerror(errno));
  if (fs->tmp) {
    if (rc == 0 && ok && rename(fs->tmp, fs->path) != 0)
      rc = mx_fail_int(MX_ERUNTIME, "[%s] Failed to replace %s (%s).", op, fs->path,
                       strerror(errno));
    if (rc != 0 || !ok) unlink(fs->tmp);
  }
  sink_free(fs);
  w->ctx = NULL;
  return rc;
}

static int mem_write(void *ctx, const void *data, size_t n) {
  mx_io_membuf *m = ctx;
  if (n > SIZE_MAX - m->n) return mx_fail_int(MX_ENOMEM, "[save] buffer too large.");
  if (m->n + n > m->cap) {
    size_t cap = m->cap ? m->cap : 4096;
    while (cap < m->n + n) cap = cap > SIZE_MAX / 2 ? m->n + n : cap * 2;
    uint8_t *p = realloc(m->data, cap);
    if (!p) return mx_fail_int(MX_ENOMEM, "[malloc] Unable to allocate %zu bytes.", cap);
    m->data = p;
    m->cap = cap;
  }
  memcpy(m->data + m->n, data, n);
  m->n += n;
  return 0;
}

void mx_io_writer_memory(mx_io_writer *w, mx_io_membuf *m) {
  w->write = mem_write;
  w->ctx = m;
  w->pos = 0;
}

char *mx_io_path_with_ext(const char *path, const char *ext) {
  size_t n = strlen(path), e = strlen(ext);
  bool has = n >= e && memcmp(path + n - e, ext, e) == 0;
  char *out = malloc(n + (has ? 0 : e) + 1);
  if (!out) return mx_fail(MX_ENOMEM, "[save] out of memory.");
  memcpy(out, path, n);
  if (!has) memcpy(out + n, ext, e);
  out[n + (has ? 0 : e)] = '\0';
  return out;
}
