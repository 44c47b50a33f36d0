/* distributed.h: communication groups (spec/python-api.md section 23). A group has a rank,
 * a size and a backend: a table of collectives that a transport (MPI, NCCL, a ring over
 * sockets) implements. No transport is built in, so the global group is the singleton
 * group of this process; the collective ops (src/ops/distributed.c) are the identity on it. */
#ifndef MX_DISTRIBUTED_H
#define MX_DISTRIBUTED_H

#include <stdbool.h>

#include "array.h"
#include "stream.h"

typedef struct mx_group mx_group;

/* A transport. Each collective returns a NEW array (ops' ownership rule) or NULL with the
 * error set; they are called only for groups of size > 1. */
typedef struct mx_dist_backend {
  const char *name; /* "mpi", "ring", "nccl", "jaccl" */
  /* Forms the global group; NULL with the error set when it cannot (strict decides whether
   * the caller reports it). */
  mx_group *(*init)(bool strict);
  mx_array *(*all_sum)(mx_group *g, mx_array *x, mx_stream s);
  mx_array *(*all_max)(mx_group *g, mx_array *x, mx_stream s);
  mx_array *(*all_min)(mx_group *g, mx_array *x, mx_stream s);
  mx_array *(*all_gather)(mx_group *g, mx_array *x, mx_stream s);
  mx_array *(*sum_scatter)(mx_group *g, mx_array *x, mx_stream s);
  mx_array *(*send)(mx_group *g, mx_array *x, int dst, mx_stream s);
  mx_array *(*recv)(mx_group *g, const int32_t *shape, int ndim, mx_dtype t, int src, mx_stream s);
  mx_group *(*split)(mx_group *g, int color, int key);
  void (*free_ctx)(void *ctx);
} mx_dist_backend;

struct mx_group {
  int rank, size;
  const mx_dist_backend *backend; /* NULL for the singleton group */
  void *ctx;                      /* the backend's communicator */
  int refs;                       /* atomic */
};

/* A new group (one reference) of a backend; the backend's free_ctx releases ctx. */
mx_group *mx_group_new(int rank, int size, const mx_dist_backend *backend, void *ctx);
void mx_group_retain(mx_group *g);
void mx_group_release(mx_group *g);
/* Sub-group of the processes that pass the same color, ranked by key (the current rank when
 * key < 0). NULL with the error set (a singleton group cannot split). */
mx_group *mx_group_split(mx_group *g, int color, int key);

/* Makes a transport available to init (a later registration of a name replaces it). 0 / -1. */
int mx_dist_register_backend(const mx_dist_backend *b);
/* Whether backend name ("any" or one of the transports) is available. -1 with the error set
 * for an unknown name. */
int mx_dist_is_available(const char *name);
/* The global group (a new reference): the first backend that forms one, else (strict
 * false) the singleton group; strict true raises when none forms. Later calls return the
 * group formed first. NULL with the error set. */
mx_group *mx_dist_init(bool strict, const char *name);

#endif
