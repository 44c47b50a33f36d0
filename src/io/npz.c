/* npz.c: the .npz format: a ZIP whose members <name>.npy are .npy files (semantics 9.1).
 * Stored members of a mapped file load lazily like .npy files; deflated members are
 * inflated at load time. Members without the .npy suffix are skipped, as MLX does.
 * Depends on io.h and zip.h. */
#include <stdlib.h>
#include <string.h>

#include "io.h"
#include "zip.h"

int mx_io_load_npz(mx_io_blob *b, mx_stream s, mx_io_arrays *out) {
  mx_zip_entry *dir;
  size_t n;
  if (mx_zip_read_dir(b, &dir, &n) != 0) return -1;
  int rc = 0;
  for (size_t i = 0; rc == 0 && i < n; i++) {
    const mx_io_str *name = &dir[i].name;
    if (name->len < 4 || memcmp(name->s + name->len - 4, ".npy", 4) != 0) continue;
    mx_io_blob *mb;
    uint64_t off, size;
    if ((rc = mx_zip_member(b, &dir[i], &mb, &off, &size)) != 0) break;
    mx_array *a = mx_io_load_npy(mb, off, size, s);
    mx_io_blob_release(mb);
    rc = mx_io_arrays_push(out, name->s, name->len - 4, a);
  }
  mx_zip_free_dir(dir, n);
  if (rc == 0) rc = mx_io_arrays_check_unique(out, "load_npz");
  return rc;
}

int mx_io_save_npz(mx_io_writer *w, const mx_io_arrays *arrays, bool compressed) {
  if (mx_io_eval_all(arrays) != 0) return -1;
  mx_zip_writer z;
  mx_zip_writer_init(&z, w);
  int rc = 0;
  for (size_t i = 0; rc == 0 && i < arrays->n; i++) {
    mx_array *a = arrays->v[i].array, *owned = NULL;
    const uint8_t *data;
    bool fortran;
    if ((rc = mx_io_contiguous_bytes(&a, &owned, true, &data, &fortran)) != 0) break;
    uint8_t *hdr;
    size_t hn;
    if ((rc = mx_io_npy_header(a, fortran, &hdr, &hn)) == 0) {
      const mx_io_str *nm = &arrays->v[i].name;
      char *member = malloc(nm->len + 5);
      if (!member) {
        rc = mx_fail_int(MX_ENOMEM, "[savez] out of memory.");
      } else {
        memcpy(member, nm->s, nm->len);
        memcpy(member + nm->len, ".npy", 5);
        mx_zip_chunk chunks[2] = {{hdr, hn}, {data, mx_array_nbytes(a)}};
        rc = mx_zip_add(&z, member, nm->len + 4, chunks, 2, compressed);
        free(member);
      }
      free(hdr);
    }
    mx_array_release(owned);
  }
  if (rc != 0) {
    mx_zip_writer_free(&z);
    return -1;
  }
  return mx_zip_finish(&z);
}
