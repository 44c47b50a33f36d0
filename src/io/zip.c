/* zip.c: ZIP reading and writing for .npz (zip.h): PKWARE APPNOTE 6.3 central directory,
 * ZIP64 end records and extra fields, stored and DEFLATE (zlib, raw streams) members.
 * Every offset and length read from the file is checked against the blob before use, and
 * an inflated size is bounded by DEFLATE's maximum ratio, so no input can make the reader
 * read out of bounds or allocate without limit. */
#include "zip.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

#define SIG_LOCAL 0x04034b50u
#define SIG_CENTRAL 0x02014b50u
#define SIG_EOCD 0x06054b50u
#define SIG_EOCD64 0x06064b50u
#define SIG_LOC64 0x07064b50u
#define DEFLATE_MAX_RATIO 1032u /* longest output per input byte of any DEFLATE stream */

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t rd32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t rd64(const uint8_t *p) { return rd32(p) | (uint64_t)rd32(p + 4) << 32; }

static int bad_zip(const mx_io_blob *b, const char *what) {
  return mx_fail_int(MX_EINVAL, "[load_npz] %s is not a valid zip file (%s).", b->label, what);
}

/* True if [off, off + n) lies inside the blob. */
static bool in_blob(const mx_io_blob *b, uint64_t off, uint64_t n) {
  return off <= b->size && n <= b->size - off;
}

/* Applies a ZIP64 extended-information extra field to the fields that overflowed. */
static int apply_zip64(const mx_io_blob *b, const uint8_t *extra, size_t len, uint64_t *usize,
                       uint64_t *csize, uint64_t *off) {
  size_t i = 0;
  while (i + 4 <= len) {
    uint16_t id = rd16(extra + i), sz = rd16(extra + i + 2);
    if (i + 4 + sz > len) return bad_zip(b, "truncated extra field");
    if (id == 0x0001) {
      const uint8_t *p = extra + i + 4;
      size_t k = 0;
      uint64_t *fields[3] = {usize, csize, off};
      for (int f = 0; f < 3; f++) {
        if (*fields[f] != 0xFFFFFFFFu) continue;
        if (k + 8 > sz) return bad_zip(b, "truncated ZIP64 field");
        *fields[f] = rd64(p + k);
        k += 8;
      }
      return 0;
    }
    i += 4 + (size_t)sz;
  }
  return 0;
}

void mx_zip_free_dir(mx_zip_entry *entries, size_t n) {
  for (size_t i = 0; entries && i < n; i++) free(entries[i].name.s);
  free(entries);
}

int mx_zip_read_dir(mx_io_blob *b, mx_zip_entry **entries, size_t *n_out) {
  *entries = NULL;
  *n_out = 0;
  if (b->size < 22) return bad_zip(b, "too short");
  /* the end record sits in the last 22 + 65535 bytes */
  uint64_t lo = b->size > 22 + 65535 ? b->size - 22 - 65535 : 0;
  uint64_t eocd = UINT64_MAX;
  for (uint64_t p = b->size - 22 + 1; p-- > lo;) {
    if (rd32(b->data + p) == SIG_EOCD && p + 22 + rd16(b->data + p + 20) <= b->size) {
      eocd = p;
      break;
    }
  }
  if (eocd == UINT64_MAX) return bad_zip(b, "no end of central directory");
  const uint8_t *e = b->data + eocd;
  uint64_t count = rd16(e + 10), cd_size = rd32(e + 12), cd_off = rd32(e + 16);
  if (count == 0xFFFF || cd_size == 0xFFFFFFFFu || cd_off == 0xFFFFFFFFu) {
    if (eocd < 20 || rd32(b->data + eocd - 20) != SIG_LOC64)
      return bad_zip(b, "missing ZIP64 locator");
    uint64_t z = rd64(b->data + eocd - 20 + 8);
    if (!in_blob(b, z, 56) || rd32(b->data + z) != SIG_EOCD64)
      return bad_zip(b, "bad ZIP64 end record");
    count = rd64(b->data + z + 32);
    cd_size = rd64(b->data + z + 40);
    cd_off = rd64(b->data + z + 48);
  }
  if (!in_blob(b, cd_off, cd_size)) return bad_zip(b, "central directory out of bounds");
  if (count > cd_size / 46) return bad_zip(b, "entry count exceeds the directory");
  mx_zip_entry *v = calloc(count ? count : 1, sizeof *v);
  if (!v) return mx_fail_int(MX_ENOMEM, "[load_npz] out of memory.");
  uint64_t p = cd_off, end = cd_off + cd_size;
  size_t n = 0;
  int rc = 0;
  for (; n < count; n++) {
    if (p + 46 > end || rd32(b->data + p) != SIG_CENTRAL) {
      rc = bad_zip(b, "bad central directory entry");
      break;
    }
    const uint8_t *c = b->data + p;
    uint16_t flags = rd16(c + 8), method = rd16(c + 10);
    uint16_t nlen = rd16(c + 28), xlen = rd16(c + 30), clen = rd16(c + 32);
    if (p + 46 + (uint64_t)nlen + xlen + clen > end) {
      rc = bad_zip(b, "central directory entry out of bounds");
      break;
    }
    if (flags & 1) {
      rc = bad_zip(b, "encrypted member");
      break;
    }
    mx_zip_entry *z = &v[n];
    z->method = method;
    z->crc = rd32(c + 16);
    z->csize = rd32(c + 20);
    z->usize = rd32(c + 24);
    uint64_t loc = rd32(c + 42);
    if ((rc = apply_zip64(b, c + 46 + nlen, xlen, &z->usize, &z->csize, &loc)) != 0) break;
    if ((rc = mx_io_str_set(&z->name, (const char *)c + 46, nlen)) != 0) break;
    /* the local header gives where the data starts */
    if (!in_blob(b, loc, 30) || rd32(b->data + loc) != SIG_LOCAL) {
      rc = bad_zip(b, "bad local header");
      n++;
      break;
    }
    uint64_t data = loc + 30 + rd16(b->data + loc + 26) + (uint64_t)rd16(b->data + loc + 28);
    if (!in_blob(b, data, z->csize)) {
      rc = bad_zip(b, "member data out of bounds");
      n++;
      break;
    }
    z->data_off = data;
    p += 46 + (uint64_t)nlen + xlen + clen;
  }
  if (rc != 0) {
    mx_zip_free_dir(v, n);
    return rc;
  }
  *entries = v;
  *n_out = n;
  return 0;
}

int mx_zip_member(mx_io_blob *b, const mx_zip_entry *e, mx_io_blob **out, uint64_t *off,
                  uint64_t *size) {
  if (e->method == 0) {
    if (e->csize != e->usize) return bad_zip(b, "stored member with two sizes");
    mx_io_blob_retain(b);
    *out = b;
    *off = e->data_off;
    *size = e->csize;
    return 0;
  }
  if (e->method != 8)
    return mx_fail_int(MX_EINVAL, "[load_npz] Unsupported compression method %u for %.200s.",
                       e->method, e->name.s);
  if (e->usize > e->csize * (uint64_t)DEFLATE_MAX_RATIO + 1024 || e->usize > SIZE_MAX - 1)
    return bad_zip(b, "impossible uncompressed size");
  uint8_t *dst = malloc(e->usize ? (size_t)e->usize : 1);
  if (!dst)
    return mx_fail_int(MX_ENOMEM, "[malloc] Unable to allocate %llu bytes.",
                       (unsigned long long)e->usize);
  z_stream zs;
  memset(&zs, 0, sizeof zs);
  if (inflateInit2(&zs, -15) != Z_OK) {
    free(dst);
    return mx_fail_int(MX_ENOMEM, "[load_npz] zlib initialisation failed.");
  }
  const uint8_t *src = b->data + e->data_off;
  uint64_t src_left = e->csize, dst_done = 0;
  int zr = Z_OK;
  while (zr == Z_OK) {
    uInt in_chunk = src_left > 1u << 30 ? 1u << 30 : (uInt)src_left;
    uint64_t dst_left = e->usize - dst_done;
    uInt out_chunk = dst_left > 1u << 30 ? 1u << 30 : (uInt)dst_left;
    zs.next_in = (Bytef *)src;
    zs.avail_in = in_chunk;
    zs.next_out = dst + dst_done;
    zs.avail_out = out_chunk;
    zr = inflate(&zs, Z_NO_FLUSH);
    uint64_t used = in_chunk - zs.avail_in, made = out_chunk - zs.avail_out;
    src += used;
    src_left -= used;
    dst_done += made;
    if (zr == Z_OK && used == 0 && made == 0) zr = Z_BUF_ERROR; /* no progress possible */
  }
  inflateEnd(&zs);
  if (zr != Z_STREAM_END || dst_done != e->usize) {
    free(dst);
    return bad_zip(b, "corrupt DEFLATE data");
  }
  uLong crc = crc32(0L, Z_NULL, 0);
  for (uint64_t i = 0; i < dst_done;) {
    uInt k = dst_done - i > 1u << 30 ? 1u << 30 : (uInt)(dst_done - i);
    crc = crc32(crc, dst + i, k);
    i += k;
  }
  if ((uint32_t)crc != e->crc) {
    free(dst);
    return bad_zip(b, "CRC mismatch");
  }
  mx_io_blob *m = mx_io_blob_from_memory(dst, (size_t)dst_done, b->label);
  if (!m) return -1;
  *out = m;
  *off = 0;
  *size = dst_done;
  return 0;
}

/* ---- writer ------------------------------------------------------------------------------ */

void mx_zip_writer_init(mx_zip_writer *z, mx_io_writer *w) {
  memset(z, 0, sizeof *z);
  z->w = w;
  time_t now = time(NULL);
  struct tm tmv;
  if (localtime_r(&now, &tmv) && tmv.tm_year >= 80) {
    z->dos_time = (uint16_t)(tmv.tm_hour << 11 | tmv.tm_min << 5 | tmv.tm_sec / 2);
    z->dos_date = (uint16_t)((tmv.tm_year - 80) << 9 | (tmv.tm_mon + 1) << 5 | tmv.tm_mday);
  } else {
    z->dos_date = 1 << 5 | 1; /* 1980-01-01 */
  }
}

void mx_zip_writer_free(mx_zip_writer *z) {
  mx_zip_free_dir(z->v, z->n);
  z->v = NULL;
  z->n = z->cap = 0;
}

static uLong crc_chunks(const mx_zip_chunk *c, int n) {
  uLong crc = crc32(0L, Z_NULL, 0);
  for (int i = 0; i < n; i++) {
    const uint8_t *p = c[i].data;
    for (size_t k = 0; k < c[i].n;) {
      uInt m = c[i].n - k > 1u << 30 ? 1u << 30 : (uInt)(c[i].n - k);
      crc = crc32(crc, p + k, m);
      k += m;
    }
  }
  return crc;
}

static int deflate_chunks(const mx_zip_chunk *c, int n, mx_io_membuf *out) {
  z_stream zs;
  memset(&zs, 0, sizeof zs);
  if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    return mx_fail_int(MX_ENOMEM, "[savez] zlib initialisation failed.");
  mx_io_writer w;
  mx_io_writer_memory(&w, out);
  uint8_t buf[1 << 16];
  int rc = 0;
  for (int i = 0; i <= n && rc == 0; i++) {
    const uint8_t *p = i < n ? c[i].data : NULL;
    size_t left = i < n ? c[i].n : 0;
    int flush = Z_NO_FLUSH;
    do {
      uInt k = left > 1u << 30 ? 1u << 30 : (uInt)left;
      if (i == n) flush = Z_FINISH;
      zs.next_in = (Bytef *)p;
      zs.avail_in = k;
      int zr;
      do {
        zs.next_out = buf;
        zs.avail_out = sizeof buf;
        zr = deflate(&zs, flush);
        if (zr == Z_STREAM_ERROR) {
          rc = mx_fail_int(MX_ERUNTIME, "[savez] zlib deflate failed.");
          break;
        }
        if (mx_io_write(&w, buf, sizeof buf - zs.avail_out) != 0) {
          rc = -1;
          break;
        }
      } while (zs.avail_out == 0 && rc == 0);
      p += k;
      left -= k;
      if (flush == Z_FINISH && zr != Z_STREAM_END && rc == 0)
        rc = mx_fail_int(MX_ERUNTIME, "[savez] zlib deflate did not finish.");
    } while (left > 0 && rc == 0);
  }
  deflateEnd(&zs);
  return rc;
}

static int write_local(mx_zip_writer *z, const mx_zip_entry *e, bool zip64) {
  mx_io_writer *w = z->w;
  int rc = mx_io_write_u32(w, SIG_LOCAL);
  rc = rc ? rc : mx_io_write_u16(w, zip64 ? 45 : 20);
  rc = rc ? rc : mx_io_write_u16(w, 0);
  rc = rc ? rc : mx_io_write_u16(w, e->method);
  rc = rc ? rc : mx_io_write_u16(w, z->dos_time);
  rc = rc ? rc : mx_io_write_u16(w, z->dos_date);
  rc = rc ? rc : mx_io_write_u32(w, e->crc);
  rc = rc ? rc : mx_io_write_u32(w, zip64 ? 0xFFFFFFFFu : (uint32_t)e->csize);
  rc = rc ? rc : mx_io_write_u32(w, zip64 ? 0xFFFFFFFFu : (uint32_t)e->usize);
  rc = rc ? rc : mx_io_write_u16(w, (uint16_t)e->name.len);
  rc = rc ? rc : mx_io_write_u16(w, zip64 ? 20 : 0);
  rc = rc ? rc : mx_io_write(w, e->name.s, e->name.len);
  if (zip64) {
    rc = rc ? rc : mx_io_write_u16(w, 0x0001);
    rc = rc ? rc : mx_io_write_u16(w, 16);
    rc = rc ? rc : mx_io_write_u64(w, e->usize);
    rc = rc ? rc : mx_io_write_u64(w, e->csize);
  }
  return rc;
}

int mx_zip_add(mx_zip_writer *z, const char *name, size_t nlen, const mx_zip_chunk *chunks,
               int nchunks, bool deflate) {
  if (nlen > 0xFFFF) return mx_fail_int(MX_EINVAL, "[savez] Member name too long.");
  if (z->n == z->cap) {
    size_t cap = z->cap ? z->cap * 2 : 8;
    mx_zip_entry *v = realloc(z->v, cap * sizeof *v);
    if (!v) return mx_fail_int(MX_ENOMEM, "[savez] out of memory.");
    z->v = v;
    z->cap = cap;
  }
  mx_zip_entry *e = &z->v[z->n];
  memset(e, 0, sizeof *e);
  if (mx_io_str_set(&e->name, name, nlen) != 0) return -1;
  z->n++;
  e->crc = (uint32_t)crc_chunks(chunks, nchunks);
  for (int i = 0; i < nchunks; i++) e->usize += chunks[i].n;
  e->data_off = z->w->pos;
  mx_io_membuf packed = {0};
  if (deflate) {
    if (deflate_chunks(chunks, nchunks, &packed) != 0) {
      free(packed.data);
      return -1;
    }
    e->method = 8;
    e->csize = packed.n;
  } else {
    e->csize = e->usize;
  }
  bool zip64 = e->usize >= 0xFFFFFFFFu || e->csize >= 0xFFFFFFFFu;
  int rc = write_local(z, e, zip64);
  if (rc == 0 && deflate) rc = mx_io_write(z->w, packed.data, packed.n);
  for (int i = 0; rc == 0 && !deflate && i < nchunks; i++)
    rc = mx_io_write(z->w, chunks[i].data, chunks[i].n);
  free(packed.data);
  return rc;
}

int mx_zip_finish(mx_zip_writer *z) {
  mx_io_writer *w = z->w;
  uint64_t cd_off = w->pos;
  int rc = 0;
  for (size_t i = 0; rc == 0 && i < z->n; i++) {
    const mx_zip_entry *e = &z->v[i];
    bool big_u = e->usize >= 0xFFFFFFFFu, big_c = e->csize >= 0xFFFFFFFFu;
    bool big_o = e->data_off >= 0xFFFFFFFFu;
    uint16_t xlen = (uint16_t)((big_u + big_c + big_o) * 8);
    bool zip64 = xlen > 0;
    rc = mx_io_write_u32(w, SIG_CENTRAL);
    rc = rc ? rc : mx_io_write_u16(w, 3 << 8 | (zip64 ? 45 : 20)); /* made on Unix */
    rc = rc ? rc : mx_io_write_u16(w, zip64 ? 45 : 20);
    rc = rc ? rc : mx_io_write_u16(w, 0);
    rc = rc ? rc : mx_io_write_u16(w, e->method);
    rc = rc ? rc : mx_io_write_u16(w, z->dos_time);
    rc = rc ? rc : mx_io_write_u16(w, z->dos_date);
    rc = rc ? rc : mx_io_write_u32(w, e->crc);
    rc = rc ? rc : mx_io_write_u32(w, big_c ? 0xFFFFFFFFu : (uint32_t)e->csize);
    rc = rc ? rc : mx_io_write_u32(w, big_u ? 0xFFFFFFFFu : (uint32_t)e->usize);
    rc = rc ? rc : mx_io_write_u16(w, (uint16_t)e->name.len);
    rc = rc ? rc : mx_io_write_u16(w, zip64 ? (uint16_t)(xlen + 4) : 0);
    rc = rc ? rc : mx_io_write_u16(w, 0);          /* comment */
    rc = rc ? rc : mx_io_write_u16(w, 0);          /* disk */
    rc = rc ? rc : mx_io_write_u16(w, 0);          /* internal attributes */
    rc = rc ? rc : mx_io_write_u32(w, 0600u << 16); /* rw------- regular file */
    rc = rc ? rc : mx_io_write_u32(w, big_o ? 0xFFFFFFFFu : (uint32_t)e->data_off);
    rc = rc ? rc : mx_io_write(w, e->name.s, e->name.len);
    if (zip64 && rc == 0) {
      rc = mx_io_write_u16(w, 0x0001);
      rc = rc ? rc : mx_io_write_u16(w, xlen);
      if (big_u && rc == 0) rc = mx_io_write_u64(w, e->usize);
      if (big_c && rc == 0) rc = mx_io_write_u64(w, e->csize);
      if (big_o && rc == 0) rc = mx_io_write_u64(w, e->data_off);
    }
  }
  uint64_t cd_size = w->pos - cd_off;
  bool zip64 = z->n >= 0xFFFF || cd_size >= 0xFFFFFFFFu || cd_off >= 0xFFFFFFFFu;
  if (zip64 && rc == 0) {
    uint64_t rec = w->pos;
    rc = mx_io_write_u32(w, SIG_EOCD64);
    rc = rc ? rc : mx_io_write_u64(w, 44);
    rc = rc ? rc : mx_io_write_u16(w, 3 << 8 | 45);
    rc = rc ? rc : mx_io_write_u16(w, 45);
    rc = rc ? rc : mx_io_write_u32(w, 0);
    rc = rc ? rc : mx_io_write_u32(w, 0);
    rc = rc ? rc : mx_io_write_u64(w, z->n);
    rc = rc ? rc : mx_io_write_u64(w, z->n);
    rc = rc ? rc : mx_io_write_u64(w, cd_size);
    rc = rc ? rc : mx_io_write_u64(w, cd_off);
    rc = rc ? rc : mx_io_write_u32(w, SIG_LOC64);
    rc = rc ? rc : mx_io_write_u32(w, 0);
    rc = rc ? rc : mx_io_write_u64(w, rec);
    rc = rc ? rc : mx_io_write_u32(w, 1);
  }
  if (rc == 0) {
    uint16_t cnt = zip64 ? 0xFFFF : (uint16_t)z->n;
    rc = mx_io_write_u32(w, SIG_EOCD);
    rc = rc ? rc : mx_io_write_u16(w, 0);
    rc = rc ? rc : mx_io_write_u16(w, 0);
    rc = rc ? rc : mx_io_write_u16(w, cnt);
    rc = rc ? rc : mx_io_write_u16(w, cnt);
    rc = rc ? rc : mx_io_write_u32(w, zip64 ? 0xFFFFFFFFu : (uint32_t)cd_size);
    rc = rc ? rc : mx_io_write_u32(w, zip64 ? 0xFFFFFFFFu : (uint32_t)cd_off);
    rc = rc ? rc : mx_io_write_u16(w, 0);
  }
  mx_zip_writer_free(z);
  return rc;
}
