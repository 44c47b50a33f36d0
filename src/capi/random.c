/* random.c: the C API's own random key sequence (DESIGN section 3: one key per thread,
 * seeded from the clock until mlx_random_seed) and the random.h functions that are not plain
 * wrappers: mlx_random_seed, mlx_random_split (a pair of keys) and mlx_random_normal (float
 * loc/scale). The other random wrappers are generated into capi_ops_gen.c. */
#include "capi_private.h"

#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#define HERE __FILE__, __LINE__

/* ---- the per-thread key ---- */

static pthread_key_t key_slot;
static pthread_once_t key_once = PTHREAD_ONCE_INIT;

static void drop_key(void *p) { mx_array_release(p); }
static void make_slot(void) { pthread_key_create(&key_slot, drop_key); }

static void set_state(mx_array *k_steal) {
  pthread_once(&key_once, make_slot);
  mx_array *old = pthread_getspecific(key_slot);
  pthread_setspecific(key_slot, k_steal);
  mx_array_release(old);
}

static mx_array *state(void) {
  pthread_once(&key_once, make_slot);
  mx_array *k = pthread_getspecific(key_slot);
  if (!k) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t ms = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
    k = mx_random_key(ms);
    if (k) pthread_setspecific(key_slot, k);
  }
  return k;
}

int mx_capi_split_pair(mx_array *key, mx_stream s, mx_array **k0, mx_array **k1) {
  *k0 = *k1 = NULL;
  mx_array *both = mx_random_split(key, 2, s); /* (2, 2) */
  if (!both) return -1;
  const int32_t strides[2] = {1, 1}, shape[1] = {2};
  mx_array **outs[2] = {k0, k1};
  for (int32_t r = 0; r < 2; r++) {
    const int32_t start[2] = {r, 0}, stop[2] = {r + 1, 2};
    mx_array *row = mx_slice(both, start, stop, strides, s);
    *outs[r] = mx_reshape(row, shape, 1, s);
    mx_array_release(row);
  }
  mx_array_release(both);
  if (*k0 && *k1) return 0;
  mx_array_release(*k0);
  mx_array_release(*k1);
  *k0 = *k1 = NULL;
  return -1;
}

/* A fresh sub-key: state, use = split(state); the new state is sub-key 0. */
static mx_array *next_key(void) {
  mx_array *k = state();
  if (!k) return NULL;
  mx_array *k0, *k1;
  if (mx_capi_split_pair(k, mx_stream_default(), &k0, &k1)) return NULL;
  set_state(k0);
  return k1;
}

mx_array *mx_capi_key(mlx_array key, mx_array **owned) {
  *owned = NULL;
  if (key.ctx) return mx_capi_node(key);
  *owned = next_key();
  return *owned;
}

/* ---- hand-written random.h functions ---- */

int mlx_random_seed(uint64_t seed) {
  mx_array *k = mx_random_key(seed);
  if (!k) return mx_capi_report(HERE);
  set_state(k);
  return 0;
}

int mlx_random_split(mlx_array *res_0, mlx_array *res_1, const mlx_array key, const mlx_stream s) {
  mx_stream st;
  if (mx_capi_stream(s, &st)) return 1;
  mx_array *own, *k = mx_capi_key(key, &own);
  mx_array *k0 = NULL, *k1 = NULL;
  int rc = k ? mx_capi_split_pair(k, st, &k0, &k1) : -1;
  mx_array_release(own);
  if (rc) return mx_capi_report(HERE);
  if (mx_capi_set_array_at(res_0, k0, HERE)) {
    mx_array_release(k1);
    return 1;
  }
  return mx_capi_set_array_at(res_1, k1, HERE);
}

int mlx_random_normal(mlx_array *res, const int *shape, size_t shape_num, mlx_dtype dtype,
                      float loc, float scale, const mlx_array key, const mlx_stream s) {
  mx_stream st;
  if (mx_capi_stream(s, &st)) return 1;
  mx_array *own, *k = mx_capi_key(key, &own);
  /* as MLX: loc 0 and scale 1 are not applied at all */
  mx_array *loc_a = loc != 0.0f ? mx_array_scalar_f64(loc, (mx_dtype)dtype) : NULL;
  mx_array *scale_a = scale != 1.0f ? mx_array_scalar_f64(scale, (mx_dtype)dtype) : NULL;
  mx_array *r = NULL;
  if (k && (loc == 0.0f || loc_a) && (scale == 1.0f || scale_a))
    r = mx_random_normal((const int32_t *)shape, (int)shape_num, (mx_dtype)dtype, loc_a, scale_a,
                         k, st);
  mx_array_release(loc_a);
  mx_array_release(scale_a);
  mx_array_release(own);
  return mx_capi_set_array_at(res, r, HERE);
}
