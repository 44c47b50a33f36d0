/* param_enums.h: enumerations that primitive parameter fields (tables/prims.def) take. */
#ifndef MX_PARAM_ENUMS_H
#define MX_PARAM_ENUMS_H

typedef enum mx_reduce_kind {
  MX_REDUCE_AND = 0,
  MX_REDUCE_OR,
  MX_REDUCE_SUM,
  MX_REDUCE_PROD,
  MX_REDUCE_MIN,
  MX_REDUCE_MAX,
} mx_reduce_kind;

#endif
