/* allocator.h: caching allocators for host memory and device memory, and the memory API
 * (DESIGN section 4): active bytes count live blocks exactly (both copies of a buffer),
 * cached blocks are not active; a soft memory limit that eval waits on; a cache limit.
 * Device memory comes from the GPU backend (device.h); host memory from malloc. */
#ifndef MX_ALLOCATOR_H
#define MX_ALLOCATOR_H

#include "buffer.h"

/* Raw blocks. NULL (with ENOMEM set) when even after clearing the cache nothing is had. */
void *mx_mem_alloc(size_t nbytes, mx_mem_where where);
void mx_mem_free(void *p, size_t nbytes, mx_mem_where where);

size_t mx_memory_active(void);
size_t mx_memory_peak(void);
void mx_memory_reset_peak(void);
size_t mx_memory_cache(void);
size_t mx_memory_limit(void);
size_t mx_memory_set_limit(size_t limit);       /* returns the previous limit */
size_t mx_memory_set_cache_limit(size_t limit); /* returns the previous limit */
size_t mx_memory_set_wired_limit(size_t limit); /* stored only (no wired memory here) */
void mx_memory_clear_cache(void);

/* Fault injection for tests: the next `count` allocations fail as if the system were out
 * of memory; with `in_tasks_only`, only allocations made by compute tasks count. */
void mx_memory_inject_failures(int count, bool in_tasks_only);
/* True on a stream worker while it runs a task (for the injection above). */
extern _Thread_local bool mx_in_task;

#endif
