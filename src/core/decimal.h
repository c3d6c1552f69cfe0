/*-------------------------------------------------------------------------
 *
 * src/core/decimal.h
 *	  The double nearest to a decimal mantissa times a power of ten.
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

#endif							/* PP_DECIMAL_H */
