/*-------------------------------------------------------------------------
 *
 * src/core/decimal.h
 *	  Doubles from and to decimal mantissas and powers of ten.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PP_DECIMAL_H
#define PP_DECIMAL_H

#include <stdbool.h>
#include <stdint.h>

/*
 * Set *out to the double nearest to mantissa * 10^exp10 (ties to even), as
 * strtod() rounds the same number, and return true; return false, leaving
 * *out alone, for the cases this does not cover (the caller then asks
 * strtod).  Covered: every mantissa with -19 <= exp10 <= 19, and any
 * exp10 within +-22 when the mantissa is below 2^53.
 */
extern bool pp_decimal_to_double(uint64_t mantissa, int exp10, double *out);

/*
 * The number printf("%.15g") writes for d, as *mantissa / 10^*scale with
 * scale >= 0 and no trailing zero after the point (what PostgreSQL's
 * float8_numeric() keeps of a double), and return true; return false,
 * leaving both alone, for the cases this does not cover (the caller then
 * prints).  Covered: zero, and 1e-5 <= |d| < 1e15 unless the 16th digit
 * is too close to a 5 to decide without printing.
 */
extern bool pp_double_to_decimal15(double d, int64_t *mantissa, int *scale);

#endif							/* PP_DECIMAL_H */
