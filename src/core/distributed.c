/* distributed.c: groups, the registry of transports and the global group. */
#include "distributed.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"

static const char *const known[] = {"mpi", "ring", "nccl", "jaccl"};
enum { N_KNOWN = 4 };

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static const mx_dist_backend *backends[N_KNOWN];
static mx_group *global; /* formed by the first successful init */

static void group_destroy(mx_object *o) {
  mx_group *g = (mx_group *)o;
  if (g->backend && g->backend->free_ctx) g->backend->free_ctx(g->ctx);
  free(g);
}

mx_group *mx_group_new(int rank, int size, const mx_dist_backend *backend, void *ctx) {
  mx_group *g = malloc(sizeof *g);
  if (!g) return mx_fail(MX_ENOMEM, "[distributed] out of memory.");
  mx_object_init(&g->obj, group_destroy);
  g->rank = rank;
  g->size = size;
  g->backend = backend;
  g->ctx = ctx;
  return g;
}

mx_group *mx_group_split(mx_group *g, int color, int key) {
  if (!g) return NULL;
  if (g->size == 1 || !g->backend || !g->backend->split)
    return mx_fail(MX_ERUNTIME, "Cannot split the distributed group further.");
  return g->backend->split(g, color, key);
}

static int known_index(const char *name) {
  for (int i = 0; i < N_KNOWN; i++)
    if (strcmp(name, known[i]) == 0) return i;
  return -1;
}

static int check_name(const char *name) {
  if (strcmp(name, "any") == 0 || known_index(name) >= 0) return 0;
  mx_fail(MX_EINVAL, "[distributed] The only valid values for backend are 'any', 'mpi', 'nccl', "
                     "'jaccl' and 'ring' but '%s' was provided.", name);
  return -1;
}

int mx_dist_register_backend(const mx_dist_backend *b) {
  int i = b && b->name ? known_index(b->name) : -1;
  if (i < 0) {
    mx_fail(MX_EINVAL, "[distributed] unknown backend name.");
    return -1;
  }
  pthread_mutex_lock(&lock);
  backends[i] = b;
  pthread_mutex_unlock(&lock);
  return 0;
}

int mx_dist_is_available(const char *name) {
  if (check_name(name) < 0) return -1;
  pthread_mutex_lock(&lock);
  int any = 0;
  for (int i = 0; i < N_KNOWN; i++)
    if (backends[i] && (strcmp(name, "any") == 0 || strcmp(name, known[i]) == 0)) any = 1;
  pthread_mutex_unlock(&lock);
  return any;
}

/* The messages MLX gives when a transport cannot form a group. */
static const char *const unavailable[] = {
    "Cannot initialize MPI", "Cannot initialize ring distributed backend.",
    "Cannot initialize nccl distributed backend.", "Cannot initialize jaccl distributed backend."};

mx_group *mx_dist_init(bool strict, const char *name) {
  if (check_name(name) < 0) return NULL;
  bool any = strcmp(name, "any") == 0;
  pthread_mutex_lock(&lock);
  mx_group *g = global;
  /* MLX tries the transports in this order for "any". */
  static const int order[N_KNOWN] = {0, 1, 2, 3};
  for (int k = 0; !g && k < N_KNOWN; k++) {
    int i = order[k];
    if (!any && strcmp(name, known[i]) != 0) continue;
    if (backends[i] && backends[i]->init) {
      g = backends[i]->init(strict && !any);
      if (!g && strict && !any) break;
    } else if (strict && !any) {
      mx_fail(MX_ERUNTIME, "%s", unavailable[i]);
      break;
    }
  }
  if (g && !global) {
    global = g; /* the registry keeps this reference */
  }
  if (!g && !(strict && !any)) {
    if (strict) {
      mx_fail(MX_ERUNTIME, "[distributed] Couldn't initialize any backend");
    } else {
      g = mx_group_new(0, 1, NULL, NULL); /* a fresh singleton; not kept as the global group */
      pthread_mutex_unlock(&lock);
      return g;
    }
  }
  if (g) mx_group_retain(g);
  pthread_mutex_unlock(&lock);
  return g;
}
