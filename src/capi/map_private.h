/* map_private.h: read access to the map boxes of map.c for the I/O functions of io.c. */
#ifndef MX_CAPI_MAP_PRIVATE_H
#define MX_CAPI_MAP_PRIVATE_H

#include "capi_private.h"

size_t mx_capi_map_size(void *ctx);                /* entries of a map handle's ctx */
const char *mx_capi_map_key(void *ctx, size_t i);
mx_array *mx_capi_map_node(void *ctx, size_t i);   /* borrowed; string->array maps */
const char *mx_capi_map_str(void *ctx, size_t i);  /* string->string maps */

#endif
