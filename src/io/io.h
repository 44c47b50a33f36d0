/* io.h: the file-format layer (DESIGN layer src/io; spec/semantics.md section 9): .npy,
 * .npz (ZIP, stored or DEFLATE), .safetensors and .gguf readers and writers over byte blobs
 * and output sinks. Depends on core (arrays, buffers, eval, errors) and on ops only for the
 * Load op and transposes. Every loader validates offsets, sizes and counts against the
 * blob before touching data, so hostile files fail with an error, never a bad read.
 *
 * Laziness: a blob made from a path is the mmap'd file. Tensors whose bytes are aligned for
 * their dtype and need no byte swap become arrays over a wrapped NEVER_DONATE buffer that
 * points into the mapping (zero copy: pages are read when touched); others become a lazy
 * Load op over a uint8 view of the bytes, copied at eval. Blobs held in memory (Python file
 * objects, mlx-c readers) are copied tensor by tensor at load time. */
#ifndef MX_IO_H
#define MX_IO_H

#include "../core/array.h"
#include "../core/error.h"

/* ---- byte sources ---------------------------------------------------------------------- */

typedef struct mx_io_blob {
  _Atomic int64_t refs;
  const uint8_t *data;
  size_t size;
  bool mapped;            /* data is an mmap of a file: tensors stay lazy */
  bool borrowed;          /* data belongs to the caller (valid while it holds the blob) */
  char *label;            /* path or description, for messages */
} mx_io_blob;

/* mmaps path read-only. NULL + error "[op] Failed to open file <path>" (kind as given). */
mx_io_blob *mx_io_blob_map(const char *path, const char *op, mx_error_kind kind);
/* Takes ownership of data (malloc'd, freed with free) of n bytes. NULL + ENOMEM. */
mx_io_blob *mx_io_blob_from_memory(void *data_steal, size_t n, const char *label);
/* Borrows n bytes the caller keeps alive until it drops its blob reference (tensors of a
 * heap blob are copied, so nothing else keeps it). */
mx_io_blob *mx_io_blob_borrow(const void *data, size_t n, const char *label);
void mx_io_blob_retain(mx_io_blob *b);
void mx_io_blob_release(mx_io_blob *b);

/* The array of dtype t and shape stored at bytes [off, off + nbytes(t, shape)) of b.
 * swap: the byte-swap unit (0 = none; complex64 swaps each 4-byte half). Lazy for mapped
 * blobs (see above), copied otherwise. NULL + EINVAL "[op] ..." when the range lies outside
 * the blob or the shape is too large. */
mx_array *mx_io_blob_array(mx_io_blob *b, uint64_t off, mx_dtype t, int ndim,
                           const int32_t *shape, int swap, mx_stream s, const char *op);
/* The Load op: an array of dtype t and shape whose bytes are those of the uint8 array
 * bytes (row-major), byte-swapped in units of swap (0 = none). Computed at eval. */
mx_array *mx_io_load_op(mx_array *bytes, mx_dtype t, int ndim, const int32_t *shape, int swap,
                        mx_stream s);

/* ---- output sinks ---------------------------------------------------------------------- */

typedef struct mx_io_writer {
  int (*write)(void *ctx, const void *data, size_t n); /* 0, or -1 with the error set */
  void *ctx;
  uint64_t pos;                                         /* bytes written so far */
} mx_io_writer;

int mx_io_write(mx_io_writer *w, const void *data, size_t n);
int mx_io_write_u16(mx_io_writer *w, uint16_t v);   /* little-endian */
int mx_io_write_u32(mx_io_writer *w, uint32_t v);
int mx_io_write_u64(mx_io_writer *w, uint64_t v);
int mx_io_write_zeros(mx_io_writer *w, size_t n);
/* A writer over a temporary file next to path that replaces path when closed with ok (so
 * arrays mapped from the old file stay valid and a failed save keeps the old file).
 * -1 + ERUNTIME "[op] Failed to open file <path>". */
int mx_io_writer_open_file(mx_io_writer *w, const char *path, const char *op);
/* Flushes and closes; renames into place when ok, else removes the temporary file.
 * -1 + ERUNTIME when the data did not reach the file. */
int mx_io_writer_close_file(mx_io_writer *w, bool ok, const char *op);
/* A writer appending to a growable memory buffer (the ZIP writer's deflate staging). */
typedef struct mx_io_membuf {
  uint8_t *data;
  size_t n, cap;
} mx_io_membuf;
void mx_io_writer_memory(mx_io_writer *w, mx_io_membuf *m);

/* Appends ext to path unless it already ends with it; malloc'd, NULL + ENOMEM. */
char *mx_io_path_with_ext(const char *path, const char *ext);

/* ---- named arrays and metadata --------------------------------------------------------- */

/* A byte string with a terminating NUL (len excludes it); names may hold any bytes. */
typedef struct mx_io_str {
  char *s;
  size_t len;
} mx_io_str;

typedef struct mx_io_named {
  mx_io_str name;
  mx_array *array;        /* strong */
} mx_io_named;

/* An ordered name -> array list (load results keep file order; saves keep caller order). */
typedef struct mx_io_arrays {
  mx_io_named *v;
  size_t n, cap;
} mx_io_arrays;

/* Appends (name copied, array stolen; a NULL array fails). 0 or -1 + error. */
int mx_io_arrays_push(mx_io_arrays *d, const char *name, size_t len, mx_array *a_steal);
void mx_io_arrays_clear(mx_io_arrays *d);
/* -1 + EINVAL "[op] Duplicate ..." if two entries share a name (O(n log n)). */
int mx_io_arrays_check_unique(const mx_io_arrays *d, const char *op);

typedef enum mx_io_meta_kind {
  MX_IO_META_STRING = 0,
  MX_IO_META_STRINGS,     /* a list of strings */
  MX_IO_META_ARRAY,       /* a 0-d or 1-d array */
} mx_io_meta_kind;

typedef struct mx_io_meta_entry {
  mx_io_str key;
  mx_io_meta_kind kind;
  mx_io_str str;          /* STRING */
  mx_io_str *strs;        /* STRINGS: one block holding descriptors and bytes */
  size_t n_strs;
  mx_array *array;        /* ARRAY (strong) */
} mx_io_meta_entry;

typedef struct mx_io_meta {
  mx_io_meta_entry *v;
  size_t n, cap;
} mx_io_meta;

int mx_io_meta_push_string(mx_io_meta *m, const char *key, size_t klen, const char *s,
                           size_t len);
/* strs[i] of lens[i] bytes are copied into one block. */
int mx_io_meta_push_strings(mx_io_meta *m, const char *key, size_t klen,
                            const char *const *strs, const size_t *lens, size_t n);
int mx_io_meta_push_array(mx_io_meta *m, const char *key, size_t klen, mx_array *a_steal);
void mx_io_meta_clear(mx_io_meta *m);
/* Frees entry i and closes the gap. */
void mx_io_meta_remove(mx_io_meta *m, size_t i);

/* Copies n bytes into a new NUL-terminated string; -1 + ENOMEM. */
int mx_io_str_set(mx_io_str *dst, const char *s, size_t n);

/* ---- formats --------------------------------------------------------------------------- */

/* .npy (semantics 9.1): versions 1-3, descr < > | =, fortran_order, bfloat16 as <V2. */
mx_array *mx_io_load_npy(mx_io_blob *b, uint64_t off, uint64_t size, mx_stream s);
/* The npy header (magic .. '\n') for a, data in C order unless fortran; malloc'd. */
int mx_io_npy_header(mx_array *a, bool fortran, uint8_t **out, size_t *n);
/* Evaluates a and writes it as .npy. */
int mx_io_save_npy(mx_io_writer *w, mx_array *a);
/* The contiguous host bytes of an evaluated array in the order save writes them; *fortran
 * says which. May replace *a with a contiguous copy (a new reference the caller releases
 * through *owned). */
int mx_io_contiguous_bytes(mx_array **a, mx_array **owned, bool allow_fortran,
                           const uint8_t **data, bool *fortran);

/* .npz: every member <name>.npy of the ZIP (stored or DEFLATE; ZIP64). */
int mx_io_load_npz(mx_io_blob *b, mx_stream s, mx_io_arrays *out);
int mx_io_save_npz(mx_io_writer *w, const mx_io_arrays *arrays, bool compressed);

/* .safetensors (semantics 9.2); metadata entries are strings. */
int mx_io_load_safetensors(mx_io_blob *b, mx_stream s, mx_io_arrays *out, mx_io_meta *meta);
int mx_io_save_safetensors(mx_io_writer *w, const mx_io_arrays *arrays, const mx_io_meta *meta);

/* .gguf (semantics 9.3, 9.4): v2/v3 read, v3 write. */
int mx_io_load_gguf(mx_io_blob *b, mx_stream s, mx_io_arrays *out, mx_io_meta *meta);
int mx_io_save_gguf(mx_io_writer *w, const mx_io_arrays *arrays, const mx_io_meta *meta);

/* Evaluates every array of d (NULL entries skipped). 0 or -1 + error. */
int mx_io_eval_all(const mx_io_arrays *d);

/* ---- dispatch (load.c) ------------------------------------------------------------------- */

typedef enum mx_io_format { MX_IO_NPY = 0, MX_IO_NPZ, MX_IO_SAFETENSORS, MX_IO_GGUF } mx_io_format;

/* "npy", "npz", "safetensors", "gguf"; -1 + EINVAL "[load] Unknown file format <name>". */
int mx_io_format_parse(const char *name, mx_io_format *out);
/* From the text after the last '.' of path; -1 + EINVAL as MLX when there is none. */
int mx_io_format_from_path(const char *path, mx_io_format *out);
/* Maps path with the error MLX raises for the format when it cannot be opened. */
mx_io_blob *mx_io_open(const char *path, mx_io_format f);
/* Loads a blob: npy gives *single, the other formats fill arrays (and meta, which may be
 * NULL, for safetensors and gguf). On failure nothing is left in the outputs. */
int mx_io_load_blob(mx_io_blob *b, mx_io_format f, mx_stream s, mx_array **single,
                    mx_io_arrays *arrays, mx_io_meta *meta);

#endif
