/* string.c: mlx_string handles (mlx/c/string.h): a box owning one malloc'd NUL-terminated
 * string. mlx_string_new() is the empty handle; filled handles are freed with
 * mlx_string_free. */
#include "capi_private.h"

#include <stdlib.h>
#include <string.h>

static char *dup_text(const char *s) {
  size_t n = strlen(s) + 1;
  char *d = malloc(n);
  if (d) memcpy(d, s, n);
  return d;
}

int mx_capi_set_string(mlx_string *res, char *text_steal) {
  if (!text_steal)
    return mx_capi_fail(__FILE__, __LINE__, MX_ENOMEM, "[malloc] Unable to allocate a string.");
  if (!res) {
    free(text_steal);
    return mx_capi_fail(__FILE__, __LINE__, MX_EINVAL,
                        "expected a non-null mlx_string output pointer");
  }
  mx_capi_string_box *b = res->ctx;
  if (!b) {
    b = malloc(sizeof *b);
    if (!b) {
      free(text_steal);
      return mx_capi_fail(__FILE__, __LINE__, MX_ENOMEM, "[malloc] Unable to allocate a string.");
    }
    b->data = NULL;
    res->ctx = b;
  }
  free(b->data);
  b->data = text_steal;
  return 0;
}

mlx_string mlx_string_new(void) {
  mlx_string s = {NULL};
  return s;
}

mlx_string mlx_string_new_data(const char *str) {
  mlx_string s = {NULL};
  if (!str) {
    mx_capi_fail(__FILE__, __LINE__, MX_EINVAL, "expected a non-null string");
    return s;
  }
  mx_capi_set_string(&s, dup_text(str));
  return s;
}

int mlx_string_set(mlx_string *str, const mlx_string src) {
  mx_capi_string_box *b = src.ctx;
  if (!b) return mx_capi_fail(__FILE__, __LINE__, MX_EINVAL, "expected a non-empty mlx_string");
  if (str && str->ctx == src.ctx) return 0;
  return mx_capi_set_string(str, dup_text(b->data));
}

const char *mlx_string_data(mlx_string str) {
  mx_capi_string_box *b = str.ctx;
  if (!b) {
    mx_capi_fail(__FILE__, __LINE__, MX_EINVAL, "expected a non-empty mlx_string");
    return NULL;
  }
  return b->data;
}

int mlx_string_free(mlx_string str) {
  mx_capi_string_box *b = str.ctx;
  if (!b) return 0;
  free(b->data);
  free(b);
  return 0;
}
