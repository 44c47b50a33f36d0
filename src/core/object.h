/* object.h: a refcounted opaque object the core can hold in primitive parameters (the
 * "obj" parameter type of prims.def): custom-function closures, compiled programs. The
 * creator embeds mx_object first in its own struct and supplies destroy, which runs when
 * the last reference drops, on whichever thread drops it. */
#ifndef MX_OBJECT_H
#define MX_OBJECT_H

#include <stdatomic.h>

#include "common.h"

typedef struct mx_object {
  _Atomic int64_t refs;
  void (*destroy)(struct mx_object *self);
} mx_object;

/* Sets refs = 1 and the destructor. */
static inline void mx_object_init(mx_object *o, void (*destroy)(mx_object *)) {
  atomic_init(&o->refs, 1);
  o->destroy = destroy;
}

static inline void mx_object_retain(mx_object *o) {
  if (o) atomic_fetch_add_explicit(&o->refs, 1, memory_order_relaxed);
}

static inline void mx_object_release(mx_object *o) {
  if (o && atomic_fetch_sub_explicit(&o->refs, 1, memory_order_acq_rel) == 1) o->destroy(o);
}

#endif
