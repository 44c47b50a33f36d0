/* print.h: the text form of an array (spec/semantics.md section 13): "array(<data>,
 * dtype=<name>)", %g-like 6 significant digits unless a precision is set, axes longer than
 * 6 summarised, bools True/False (Python) or true/false (C). Evaluates the array. */
#ifndef MX_PRINT_H
#define MX_PRINT_H

#include "array.h"

/* *out is malloc'd text (caller frees). 0 or -1 + error (e.g. the evaluation failed). */
int mx_array_format(mx_array *a, bool python_style, char **out);
/* Global float print precision; -1 = default formatting. */
int mx_print_precision(void);
void mx_set_print_precision(int precision);

#endif
