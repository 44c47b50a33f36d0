/* ops_fft.h: op constructors of mx.fft (discrete Fourier transforms of any length)
 * (declarations only; included by ops.h, whose ownership and error rules apply). */
#ifndef MX_OPS_FFT_H
#define MX_OPS_FFT_H

#endif
