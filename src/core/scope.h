/* scope.h: thread-local autorelease pools for temporaries (DESIGN section 1).
 * Inside MX_SCOPE_BEGIN / MX_SCOPE_END every array an op returns is owned by the scope and
 * released at MX_SCOPE_END; mx_keep() returns a new reference that escapes. So composite
 * ops and rules are straight-line code with one NULL check at the end. */
#ifndef MX_SCOPE_H
#define MX_SCOPE_H

#include "array.h"

/* Opens a scope; returns a mark for mx_scope_end. */
size_t mx_scope_begin(void);
/* Releases everything registered since mark and closes the scope. */
void mx_scope_end(size_t mark);
/* Called by every op constructor on its result: if a scope is open, the scope takes the
 * reference and the same pointer is returned (borrowed); else returned as is (owned). */
mx_array *mx_scope_adopt(mx_array *a);
/* A new reference to a that outlives the scope (NULL passes through). */
mx_array *mx_keep(mx_array *a);
bool mx_scope_active(void);
/* Closes scope ownership while foreign code runs (a user closure): ops then return owned
 * references again. Returns a token for mx_scope_resume. */
int mx_scope_suspend(void);
void mx_scope_resume(int token);

#define MX_SCOPE_BEGIN size_t mx_scope_mark_ = mx_scope_begin()
#define MX_SCOPE_END mx_scope_end(mx_scope_mark_)
/* Ends the scope and returns r under the ownership rule: adopted by the enclosing scope if
 * one is open, else a new reference. NULL passes through (the error stays set). */
#define MX_SCOPE_RETURN(r)                      \
  do {                                          \
    mx_array *mx_scope_kept_ = mx_keep(r);      \
    MX_SCOPE_END;                               \
    return mx_scope_adopt(mx_scope_kept_);      \
  } while (0)

#endif
