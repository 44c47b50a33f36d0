/* zip.h: the ZIP container of .npz files (private to src/io): a central-directory reader
 * (ZIP64 aware; stored and DEFLATE members, bounds-checked) and a streaming writer.
 * DEFLATE comes from zlib. */
#ifndef MX_IO_ZIP_H
#define MX_IO_ZIP_H

#include "io.h"

typedef struct mx_zip_entry {
  mx_io_str name;
  uint16_t method;        /* 0 stored, 8 deflate */
  uint32_t crc;
  uint64_t csize, usize;
  uint64_t data_off;      /* offset of the member data in the blob */
} mx_zip_entry;

/* Reads the central directory. -1 + error when b is not a well-formed ZIP. */
int mx_zip_read_dir(mx_io_blob *b, mx_zip_entry **entries, size_t *n);
void mx_zip_free_dir(mx_zip_entry *entries, size_t n);
/* The bytes of a member: stored members are the region [*off, *off + *size) of b itself
 * (*out = b, retained), deflated ones a new heap blob (*off = 0), CRC-checked. */
int mx_zip_member(mx_io_blob *b, const mx_zip_entry *e, mx_io_blob **out, uint64_t *off,
                  uint64_t *size);

typedef struct mx_zip_chunk {
  const void *data;
  size_t n;
} mx_zip_chunk;

typedef struct mx_zip_writer {
  mx_io_writer *w;
  mx_zip_entry *v;        /* data_off holds the local header offset */
  size_t n, cap;
  uint16_t dos_time, dos_date;
} mx_zip_writer;

void mx_zip_writer_init(mx_zip_writer *z, mx_io_writer *w);
/* Appends one member made of the concatenated chunks, stored or deflated. */
int mx_zip_add(mx_zip_writer *z, const char *name, size_t nlen, const mx_zip_chunk *chunks,
               int nchunks, bool deflate);
/* Writes the central directory (and ZIP64 records when needed) and frees z. */
int mx_zip_finish(mx_zip_writer *z);
void mx_zip_writer_free(mx_zip_writer *z);

#endif
