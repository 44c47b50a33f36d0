/* distributed.h: communication groups (spec/python-api.md section 23). A group has a rank,
 * a size and a transport: a table of byte-level collectives (MPI, NCCL, a ring over sockets)
 * that the AllReduce/AllGather/ReduceScatter/Send/Recv kernels call. No transport is built
 * in, so the global group is the singleton group of this process, on which the collective
 * ops (src/ops/distributed.c) are the identity and make no primitive at all. */
#ifndef MX_DISTRIBUTED_H
#define MX_DISTRIBUTED_H

#include <stdbool.h>

#include "dtype.h"
#include "object.h"

typedef struct mx_group mx_group;

/* Element-wise reductions of AllReduce and ReduceScatter (their `kind` parameter). */
enum { MX_DIST_SUM = 0, MX_DIST_MAX = 1, MX_DIST_MIN = 2 };

/* A transport. The data functions run inside kernels on contiguous host buffers, blocking
 * until done; each returns 0, or -1 with the error set. */
typedef struct mx_dist_backend {
  const char *name; /* "mpi", "ring", "nccl" or "jaccl" */
  /* Forms the global group; NULL with the error set when it cannot. */
  mx_group *(*init)(bool strict);
  /* out = reduction over the group of every rank's in (count elements of dtype t). */
  int (*all_reduce)(mx_group *g, const void *in, void *out, int64_t count, mx_dtype t, int kind);
  /* out = the nbytes of every rank, in rank order. */
  int (*all_gather)(mx_group *g, const void *in, void *out, int64_t nbytes);
  /* out = this rank's block (count elements) of the reduction of every rank's in. */
  int (*reduce_scatter)(mx_group *g, const void *in, void *out, int64_t count, mx_dtype t,
                        int kind);
  int (*send)(mx_group *g, const void *in, int64_t nbytes, int dst);
  int (*recv)(mx_group *g, void *out, int64_t nbytes, int src);
  /* Sub-group of the ranks that pass the same color, ordered by key; NULL + error. */
  mx_group *(*split)(mx_group *g, int color, int key);
  void (*free_ctx)(void *ctx);
} mx_dist_backend;

struct mx_group {
  mx_object obj; /* first: groups are primitive parameters (prims.def obj) */
  int rank, size;
  const mx_dist_backend *backend; /* NULL for the singleton group */
  void *ctx;                      /* the transport's communicator */
};

/* A new group (one reference); the backend's free_ctx releases ctx with the last one. */
mx_group *mx_group_new(int rank, int size, const mx_dist_backend *backend, void *ctx);
static inline void mx_group_retain(mx_group *g) { mx_object_retain(g ? &g->obj : NULL); }
static inline void mx_group_release(mx_group *g) { mx_object_release(g ? &g->obj : NULL); }
/* Sub-group of the processes that pass the same color, ranked by key (the current rank when
 * key < 0). NULL with the error set (a singleton group cannot split). */
mx_group *mx_group_split(mx_group *g, int color, int key);

/* Makes a transport available to init (a later registration of a name replaces it). 0 / -1. */
int mx_dist_register_backend(const mx_dist_backend *b);
/* Whether backend name ("any" or one of the transports) is available; -1 with the error set
 * for an unknown name. */
int mx_dist_is_available(const char *name);
/* The global group (a new reference): the first transport that forms one, else (strict
 * false) the singleton group; strict raises when none forms. The group formed first is
 * returned by later calls. NULL with the error set. */
mx_group *mx_dist_init(bool strict, const char *name);

#endif
