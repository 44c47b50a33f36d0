/* device.c: mlx_device handles (mlx/c/device.h) boxing a core device value (core/stream.h),
 * and device_info: "device_name", "architecture" (strings) and "memory_size" (bytes) of the
 * CPU (from /proc/cpuinfo, uname, sysconf) or of the active GPU backend (core/device.h). */
#include "capi_private.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "device.h"

#define HERE __FILE__, __LINE__

int mx_capi_device(mlx_device d, mx_device *out) {
  mx_capi_device_box *b = d.ctx;
  if (!b) {
    mx_capi_fail(HERE, MX_EINVAL, "expected a non-empty mlx_device");
    return -1;
  }
  *out = b->d;
  return 0;
}

int mx_capi_set_device(mlx_device *res, mx_device d) {
  if (!res) return mx_capi_fail(HERE, MX_EINVAL, "expected a non-null mlx_device pointer");
  mx_capi_device_box *b = res->ctx;
  if (!b) {
    b = malloc(sizeof *b);
    if (!b) return mx_capi_fail(HERE, MX_ENOMEM, "[malloc] Unable to allocate a device.");
    res->ctx = b;
  }
  b->d = d;
  return 0;
}

mlx_device mlx_device_new(void) {
  mlx_device h = {NULL};
  return h;
}

mlx_device mlx_device_new_type(mlx_device_type type, int index) {
  mlx_device h = {NULL};
  if (type != MLX_CPU && type != MLX_GPU) {
    mx_capi_fail(HERE, MX_EINVAL, "[device] Invalid device type %d.", (int)type);
    return h;
  }
  mx_device d = {(int32_t)type, index};
  mx_capi_set_device(&h, d);
  return h;
}

int mlx_device_free(mlx_device dev) {
  free(dev.ctx);
  return 0;
}

int mlx_device_set(mlx_device *dev, const mlx_device src) {
  mx_device d;
  if (mx_capi_device(src, &d)) return 1;
  return mx_capi_set_device(dev, d);
}

int mlx_device_tostring(mlx_string *str, mlx_device dev) {
  mx_device d;
  if (mx_capi_device(dev, &d)) return 1;
  char buf[64];
  int n = snprintf(buf, sizeof buf, "Device(%s, %d)", d.type == MX_GPU ? "gpu" : "cpu",
                   (int)d.index);
  char *text = malloc((size_t)n + 1);
  if (text) memcpy(text, buf, (size_t)n + 1);
  return mx_capi_set_string(str, text);
}

bool mlx_device_equal(mlx_device lhs, mlx_device rhs) {
  mx_device a, b;
  if (mx_capi_device(lhs, &a) || mx_capi_device(rhs, &b)) return false;
  return mx_device_equal(a, b);
}

int mlx_device_get_index(int *index, mlx_device dev) {
  mx_device d;
  if (mx_capi_device(dev, &d)) return 1;
  *index = d.index;
  return 0;
}

int mlx_device_get_type(mlx_device_type *type, mlx_device dev) {
  mx_device d;
  if (mx_capi_device(dev, &d)) return 1;
  *type = d.type == MX_GPU ? MLX_GPU : MLX_CPU;
  return 0;
}

int mlx_get_default_device(mlx_device *dev) {
  return mx_capi_set_device(dev, mx_default_device());
}

int mlx_set_default_device(mlx_device dev) {
  mx_device d;
  if (mx_capi_device(dev, &d)) return 1;
  if (mx_set_default_device(d) != 0) return mx_capi_report(HERE);
  return 0;
}

int mlx_device_is_available(bool *avail, mlx_device dev) {
  mx_device d;
  if (mx_capi_device(dev, &d)) return 1;
  *avail = mx_device_is_available(d);
  return 0;
}

int mlx_device_count(int *count, mlx_device_type type) {
  if (type != MLX_CPU && type != MLX_GPU)
    return mx_capi_fail(HERE, MX_EINVAL, "[device_count] Invalid device type %d.", (int)type);
  *count = mx_device_count(type == MLX_GPU ? MX_GPU : MX_CPU);
  return 0;
}

/* ---- device_info ---- */

typedef struct info_entry {
  char *key;
  char *str;     /* NULL for a size value */
  size_t size;
} info_entry;

typedef struct info_box {
  info_entry *e;
  int n;
} info_box;

static void info_destroy(info_box *b) {
  if (!b) return;
  for (int i = 0; i < b->n; i++) {
    free(b->e[i].key);
    free(b->e[i].str);
  }
  free(b->e);
  free(b);
}

static char *dup_str(const char *s) {
  size_t n = strlen(s) + 1;
  char *d = malloc(n);
  if (d) memcpy(d, s, n);
  return d;
}

static int info_add(info_box *b, const char *key, const char *str, size_t size) {
  info_entry *ne = realloc(b->e, (size_t)(b->n + 1) * sizeof *ne);
  if (!ne) return -1;
  b->e = ne;
  info_entry *e = &b->e[b->n];
  e->key = dup_str(key);
  e->str = str ? dup_str(str) : NULL;
  e->size = size;
  if (!e->key || (str && !e->str)) {
    free(e->key);
    free(e->str);
    return -1;
  }
  b->n++;
  return 0;
}

/* The CPU's model name from /proc/cpuinfo ("model name", or "Model"/"cpu" elsewhere). */
static void cpu_name(char *out, size_t cap) {
  snprintf(out, cap, "cpu");
  FILE *f = fopen("/proc/cpuinfo", "r");
  if (!f) return;
  char line[512];
  while (fgets(line, sizeof line, f)) {
    if (strncmp(line, "model name", 10) && strncmp(line, "Model", 5)) continue;
    char *colon = strchr(line, ':');
    if (!colon) continue;
    char *v = colon + 1;
    while (*v == ' ' || *v == '\t') v++;
    size_t len = strcspn(v, "\n");
    v[len] = '\0';
    if (len) snprintf(out, cap, "%s", v);
    break;
  }
  fclose(f);
}

static int fill_info(info_box *b, mx_device d) {
  char name[256];
  size_t mem = 0;
  struct utsname u;
  const char *arch = uname(&u) == 0 ? u.machine : "unknown";
  if (d.type == MX_GPU) {
    const mx_gpu_backend *g = mx_gpu();
    snprintf(name, sizeof name, "%s", g && g->device_name ? g->device_name() : "gpu");
    mem = g && g->memory_size ? g->memory_size() : 0;
    arch = g ? g->name : "none";
  } else {
    cpu_name(name, sizeof name);
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    mem = pages > 0 && page > 0 ? (size_t)pages * (size_t)page : 0;
  }
  if (info_add(b, "device_name", name, 0) || info_add(b, "architecture", arch, 0) ||
      info_add(b, "memory_size", NULL, mem))
    return mx_capi_fail(HERE, MX_ENOMEM, "[malloc] Unable to allocate device_info.");
  return 0;
}

mlx_device_info mlx_device_info_new(void) {
  mlx_device_info h = {NULL};
  return h;
}

int mlx_device_info_get(mlx_device_info *info, mlx_device dev) {
  mx_device d;
  if (mx_capi_device(dev, &d)) return 1;
  if (!info) return mx_capi_fail(HERE, MX_EINVAL, "expected a non-null mlx_device_info pointer");
  if (!mx_device_is_available(d))
    return mx_capi_fail(HERE, MX_EINVAL, "[device_info] Device %s:%d is not available.",
                        d.type == MX_GPU ? "gpu" : "cpu", (int)d.index);
  info_box *b = calloc(1, sizeof *b);
  if (!b) return mx_capi_fail(HERE, MX_ENOMEM, "[malloc] Unable to allocate device_info.");
  if (fill_info(b, d)) {
    info_destroy(b);
    return 1;
  }
  info_destroy(info->ctx);
  info->ctx = b;
  return 0;
}

int mlx_device_info_free(mlx_device_info info) {
  info_destroy(info.ctx);
  return 0;
}

static info_entry *find(info_box *b, const char *key) {
  for (int i = 0; key && i < b->n; i++)
    if (strcmp(b->e[i].key, key) == 0) return &b->e[i];
  return NULL;
}

int mlx_device_info_has_key(bool *exists, mlx_device_info info, const char *key) {
  if (!info.ctx) return mx_capi_fail(HERE, MX_EINVAL, "expected a non-empty mlx_device_info");
  *exists = find(info.ctx, key) != NULL;
  return 0;
}

int mlx_device_info_is_string(bool *is_string, mlx_device_info info, const char *key) {
  if (!info.ctx) return mx_capi_fail(HERE, MX_EINVAL, "expected a non-empty mlx_device_info");
  info_entry *e = find(info.ctx, key);
  if (!e) return 2;
  *is_string = e->str != NULL;
  return 0;
}

int mlx_device_info_get_string(const char **value, mlx_device_info info, const char *key) {
  if (!info.ctx) return mx_capi_fail(HERE, MX_EINVAL, "expected a non-empty mlx_device_info");
  info_entry *e = find(info.ctx, key);
  if (!e || !e->str) return 2;
  *value = e->str;
  return 0;
}

int mlx_device_info_get_size(size_t *value, mlx_device_info info, const char *key) {
  if (!info.ctx) return mx_capi_fail(HERE, MX_EINVAL, "expected a non-empty mlx_device_info");
  info_entry *e = find(info.ctx, key);
  if (!e || e->str) return 2;
  *value = e->size;
  return 0;
}

int mlx_device_info_get_keys(mlx_vector_string *keys, mlx_device_info info) {
  info_box *b = info.ctx;
  if (!b) return mx_capi_fail(HERE, MX_EINVAL, "expected a non-empty mlx_device_info");
  const char *names[8];
  int n = b->n < 8 ? b->n : 8;
  for (int i = 0; i < n; i++) names[i] = b->e[i].key;
  return mlx_vector_string_set_data(keys, names, (size_t)n);
}
