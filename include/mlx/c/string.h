/* string.h: mlx_string, an owned UTF-8 string handle (mlx-c API). Filled by every *_tostring
 * function and mlx_version. mlx_string_new() is the empty handle; mlx_string_data points into
 * storage owned by the handle, valid until it is modified or freed. */
#ifndef MLX_STRING_H
#define MLX_STRING_H

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mlx_string_ {
  void* ctx;
} mlx_string;

mlx_string mlx_string_new(void);
mlx_string mlx_string_new_data(const char* str);
int mlx_string_set(mlx_string* str, const mlx_string src);
const char* mlx_string_data(mlx_string str);
int mlx_string_free(mlx_string str);

#ifdef __cplusplus
}
#endif

#endif
