/* error.h: the thread-local error of the core (DESIGN section 1).
 * Internal functions report a user error by calling mx_fail(), which records a kind and a
 * message and returns NULL, so `return mx_fail(...)` works in functions returning pointers.
 * Kinds map to Python exceptions: EINVAL->ValueError, ETYPE->TypeError, EINDEX->IndexError,
 * ENOMEM/ERUNTIME->RuntimeError. Messages are prefixed by the op: "[reshape] ...". */
#ifndef MX_ERROR_H
#define MX_ERROR_H

#include "common.h"

typedef enum mx_error_kind {
  MX_OK = 0,
  MX_EINVAL,   /* ValueError */
  MX_ETYPE,    /* TypeError */
  MX_EINDEX,   /* IndexError */
  MX_ENOMEM,   /* RuntimeError: a failed allocation */
  MX_ERUNTIME, /* RuntimeError */
} mx_error_kind;

#define MX_ERROR_MAX 512

/* Records the error for this thread (overwriting any previous one); returns NULL. */
void *mx_fail(mx_error_kind kind, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Same, returning -1 for int-returning functions. */
int mx_fail_int(mx_error_kind kind, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

mx_error_kind mx_error_kind_get(void);   /* MX_OK when no error is pending */
const char *mx_error_message(void);      /* "" when none; valid until the next mx_fail */
void mx_error_clear(void);
/* Copies this thread's error out (for carrying it on an event) and back in. */
void mx_error_save(mx_error_kind *kind, char msg[MX_ERROR_MAX]);
void mx_error_restore(mx_error_kind kind, const char *msg);

#endif
