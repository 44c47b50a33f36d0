/* einsum_internal.h: the contraction plan shared by einsum.c (which runs it) and
 * einsum_path.c (which parses the subscripts and searches the path). Subscript letters are
 * numbered 0..51 (a-z, A-Z); a term keeps its letters in order and as a bit set. */
#ifndef MX_EINSUM_INTERNAL_H
#define MX_EINSUM_INTERNAL_H

#include "ops.h"

#define MX_ES_LETTERS 52

typedef struct mx_es_term {
  int len;
  int8_t *ch;               /* letter numbers, len of them */
  uint64_t set;
} mx_es_term;

/* One contraction: the operands at `pos` (positions in the running operand list, which
 * drops them and appends the result) become `out`. */
typedef struct mx_es_node {
  int n_in;
  int *pos;
  mx_es_term *in;
  mx_es_term out;
} mx_es_node;

typedef struct mx_es_plan {
  int n_nodes;
  mx_es_node *nodes;
  int64_t dim[MX_ES_LETTERS]; /* broadcast size of each letter (0: unused) */
  uint64_t naive_cost, opt_cost;
  int naive_scaling, opt_scaling;
} mx_es_plan;

/* Parses and validates the subscripts against the operands and searches the path (greedy
 * by removed size, then flop cost). name is the op named in messages. 0, or -1 + error. */
int mx_es_plan_make(const char *name, const char *subscripts, mx_array *const *ops, int n,
                    mx_es_plan *plan);
void mx_es_plan_free(mx_es_plan *plan);
/* The description einsum_path returns, malloc'd. */
char *mx_es_plan_describe(const mx_es_plan *plan, const char *subscripts);

#endif
