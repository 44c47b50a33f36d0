/* vselect.h: the contiguous select o[i] = c[i] ? x[i] : y[i] on 1/2/4/8-byte elements, where
 * x and y may each be one broadcast element; built for AVX-512, AVX2 and baseline x86-64 and
 * picked at run time with vmath.h's level. The bits are copied as they are. */
#ifndef MX_CPU_VSELECT_H
#define MX_CPU_VSELECT_H

#include <stdbool.h>
#include <stdint.h>

/* width: 1, 2, 4 or 8 bytes; c contiguous bools; x_step/y_step: 1 (contiguous) or 0 (one
 * element for all); o contiguous. Returns false (nothing done) for another width. */
bool mx_vsel_run(int width, const bool *c, const void *x, int64_t x_step, const void *y,
                 int64_t y_step, void *o, int64_t n);

#endif
