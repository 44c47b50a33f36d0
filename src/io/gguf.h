/* gguf.h: GGML tensor types and their conversions (private to src/io): the block table,
 * Q4_0 / Q4_1 / Q8_0 to MLX affine triples (semantics 9.4) and the dequantization of the
 * other block types to float16, following GGML's reference formulas. */
#ifndef MX_IO_GGUF_H
#define MX_IO_GGUF_H

#include "io.h"

enum {
  MX_GGML_F32 = 0, MX_GGML_F16 = 1, MX_GGML_Q4_0 = 2, MX_GGML_Q4_1 = 3, MX_GGML_Q5_0 = 6,
  MX_GGML_Q5_1 = 7, MX_GGML_Q8_0 = 8, MX_GGML_Q8_1 = 9, MX_GGML_Q2_K = 10, MX_GGML_Q3_K = 11,
  MX_GGML_Q4_K = 12, MX_GGML_Q5_K = 13, MX_GGML_Q6_K = 14, MX_GGML_Q8_K = 15,
  MX_GGML_I8 = 24, MX_GGML_I16 = 25, MX_GGML_I32 = 26, MX_GGML_I64 = 27, MX_GGML_F64 = 28,
  MX_GGML_BF16 = 30,
};

typedef struct mx_ggml_type {
  const char *name;       /* NULL: unsupported */
  int block;              /* elements per block */
  int bytes;              /* bytes per block */
  int dtype;              /* stored as this dtype as is, or -1 (converted) */
} mx_ggml_type;

/* The table entry of a GGML type id, or NULL when we cannot load it. */
const mx_ggml_type *mx_ggml_type_get(uint32_t type);
/* Q4_0, Q4_1, Q8_0: the packed uint32 codes and float16 scales/biases, group size 32.
 * src holds nblocks = size/32 blocks of the type; shape's last dim is a multiple of 32. */
int mx_ggml_to_affine(uint32_t type, const uint8_t *src, int ndim, const int32_t *shape,
                      mx_array **w, mx_array **scales, mx_array **biases);
/* Any block type of the table to a float16 array of the given shape. */
mx_array *mx_ggml_dequantize_f16(uint32_t type, const uint8_t *src, int ndim,
                                 const int32_t *shape);

#endif
