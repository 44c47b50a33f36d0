/* reduce_scan_enums.h: the enumerations that the ArgReduce and Scan primitive parameters
 * (tables/prims.def section C) take; Reduce uses mx_reduce_kind of param_enums.h.
 * Shared by the op constructors, the rules and the kernels; depends on nothing. */
#ifndef MX_REDUCE_SCAN_ENUMS_H
#define MX_REDUCE_SCAN_ENUMS_H

typedef enum mx_arg_reduce_kind {
  MX_ARG_REDUCE_MIN = 0,
  MX_ARG_REDUCE_MAX,
} mx_arg_reduce_kind;

typedef enum mx_scan_kind {
  MX_SCAN_SUM = 0,
  MX_SCAN_PROD,
  MX_SCAN_MIN,
  MX_SCAN_MAX,
  MX_SCAN_LOGADDEXP,
} mx_scan_kind;

#endif
