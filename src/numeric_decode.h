/*-------------------------------------------------------------------------
 *
 * src/numeric_decode.h
 *	  A numeric's value as a double, read from its stored digits.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PP_NUMERIC_DECODE_H
#define PP_NUMERIC_DECODE_H

#include "postgres.h"

#include "utils/numeric.h"

/*
 * The double float8in() gives for num's text; +-HUGE_VAL when it does not
 * fit; never an error.
 */
extern double pp_numeric_to_double(Numeric num);

#endif							/* PP_NUMERIC_DECODE_H */
