/* load.c: format dispatch shared by the Python and C front ends (io.h): the format from a
 * name or a path's extension as MLX infers it, the open error MLX raises per format, and
 * one entry point over the four loaders. */
#include <string.h>

#include "io.h"

static const char *const format_names[] = {"npy", "npz", "safetensors", "gguf"};

int mx_io_format_parse(const char *name, mx_io_format *out) {
  for (int i = 0; i < 4; i++)
    if (strcmp(name, format_names[i]) == 0) {
      *out = (mx_io_format)i;
      return 0;
    }
  return mx_fail_int(MX_EINVAL, "[load] Unknown file format %.200s", name);
}

int mx_io_format_from_path(const char *path, mx_io_format *out) {
  const char *dot = strrchr(path, '.');
  if (!dot) return mx_fail_int(MX_EINVAL, "[load] Could not infer file format from extension");
  return mx_io_format_parse(dot + 1, out);
}

mx_io_blob *mx_io_open(const char *path, mx_io_format f) {
  mx_io_blob *b;
  switch (f) {
  case MX_IO_NPY: return mx_io_blob_map(path, "load", MX_ERUNTIME);
  case MX_IO_SAFETENSORS: return mx_io_blob_map(path, "load_safetensors", MX_ERUNTIME);
  case MX_IO_GGUF:
    b = mx_io_blob_map(path, "load_gguf", MX_EINVAL);
    if (!b) mx_fail(MX_EINVAL, "[load_gguf] Failed to open %s", path);
    return b;
  default:
    b = mx_io_blob_map(path, "load_npz", MX_EINVAL);
    if (!b)
      mx_fail(MX_EINVAL, "[load_npz] Input must be a zip file or a file-like object that can be "
                         "opened with zipfile.ZipFile");
    return b;
  }
}

int mx_io_load_blob(mx_io_blob *b, mx_io_format f, mx_stream s, mx_array **single,
                    mx_io_arrays *arrays, mx_io_meta *meta) {
  int rc;
  switch (f) {
  case MX_IO_NPY:
    *single = mx_io_load_npy(b, 0, b->size, s);
    return *single ? 0 : -1;
  case MX_IO_NPZ: rc = mx_io_load_npz(b, s, arrays); break;
  case MX_IO_SAFETENSORS: rc = mx_io_load_safetensors(b, s, arrays, meta); break;
  default: rc = mx_io_load_gguf(b, s, arrays, meta); break;
  }
  if (rc != 0) {
    mx_io_arrays_clear(arrays);
    if (meta) mx_io_meta_clear(meta);
  }
  return rc;
}
