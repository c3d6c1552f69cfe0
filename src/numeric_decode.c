/*-------------------------------------------------------------------------
 *
 * src/numeric_decode.c
 *	  A numeric's value as a double, read from its stored digits.
 *
 * Every number of a profile is a jsonb numeric.  PostgreSQL's own
 * conversion (numeric_float8_no_overflow) prints the numeric as text and
 * parses the text again, which cost more than the rest of a node's walk.
 * This file reads the stored digits instead.  It mirrors the layout that
 * src/backend/utils/adt/numeric.c keeps private (the NumericShort and
 * NumericLong headers, the NUMERIC_SHORT_* masks, base-10000 digits): the
 * on-disk format, which pg_upgrade carries from release to release and so
 * does not change.  Checked against numeric.c of PostgreSQL 15 and 17; the
 * regression test `ingest` compares the result with float8in's for 4,000
 * random numbers and the edge cases ("numbers are read as float8in reads
 * their text").  Anything it does not handle (NaN, infinities, more than
 * PP_NUMERIC_MAX_DIGITS digits) takes PostgreSQL's path.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <stdlib.h>

#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/numeric.h"
#if PG_VERSION_NUM >= 160000
#include "varatt.h"				/* VARSIZE and friends left postgres.h in 16 */
#endif

#include "decimal.h"
#include "numeric_decode.h"

/*
 * Numeric to double without the general path's text round trip.
 *
 * A numeric is stored as base-10000 digits with a weight (the power of 10000
 * of the first digit), behind a "short" header (sign, scale and weight in
 * one uint16, used for every value of moderate scale) or a "long" one (a
 * sign-and-scale uint16, then an int16 weight).  This is the on-disk
 * format, fixed by pg_upgrade compatibility.  When the digits form an
 * integer mantissa M below 2^64 (trailing zeros of the last base-10000
 * digit dropped) and the decimal exponent E is one pp_decimal_to_double()
 * covers -- within +-19, which takes in epoch timestamps with up to seven
 * decimals -- that gives the correctly rounded result; otherwise the digits
 * are written as "<M>e<E>" into a stack buffer for strtod, which rounds
 * correctly too.  Either way the
 * result is the double float8in() gives for the same JSON text.  Returns
 * false for special values and very long numbers, which take the general
 * path.
 */
#define PP_NUMERIC_SIGN_MASK		0xC000
#define PP_NUMERIC_NEG				0x4000
#define PP_NUMERIC_SHORT			0x8000
#define PP_NUMERIC_SPECIAL			0xC000
#define PP_NUMERIC_SHORT_SIGN		0x2000
#define PP_NUMERIC_SHORT_WSIGN		0x0040
#define PP_NUMERIC_SHORT_WEIGHT		0x003F
#define PP_NUMERIC_MAX_DIGITS		24	/* base-10000 digits for strtod */

static bool
numeric_to_double_fast(Numeric num, double *result)
{
	const char *p = (const char *) num + VARHDRSZ;
	Size		body = VARSIZE(num) - VARHDRSZ;
	uint16		header;
	bool		negative;
	int			weight;
	int			ndigits;
	const char *digits;
	uint64		mantissa = 0;
	bool		exact = true;
	int			exp10;
	int			i;

	if (VARATT_IS_EXTENDED(num) || body < sizeof(uint16))
		return false;
	memcpy(&header, p, sizeof(uint16));
	if ((header & PP_NUMERIC_SIGN_MASK) == PP_NUMERIC_SHORT)
	{
		negative = (header & PP_NUMERIC_SHORT_SIGN) != 0;
		weight = (header & PP_NUMERIC_SHORT_WEIGHT);
		if (header & PP_NUMERIC_SHORT_WSIGN)
			weight |= ~PP_NUMERIC_SHORT_WEIGHT;
		digits = p + sizeof(uint16);
		ndigits = (body - sizeof(uint16)) / sizeof(uint16);
	}
	else if ((header & PP_NUMERIC_SIGN_MASK) != PP_NUMERIC_SPECIAL &&
			 body >= 2 * sizeof(uint16))
	{
		int16		w;

		negative = (header & PP_NUMERIC_SIGN_MASK) == PP_NUMERIC_NEG;
		memcpy(&w, p + sizeof(uint16), sizeof(int16));
		weight = w;
		digits = p + 2 * sizeof(uint16);
		ndigits = (body - 2 * sizeof(uint16)) / sizeof(uint16);
	}
	else
		return false;

	if (ndigits == 0)
	{
		*result = 0.0;
		return true;
	}
	if (ndigits > PP_NUMERIC_MAX_DIGITS)
		return false;

	for (i = 0; i < ndigits && exact; i++)
	{
		uint16		d;

		memcpy(&d, digits + i * sizeof(uint16), sizeof(uint16));
		/* room for one more digit; trailing zeros are stripped below */
		if (mantissa > (PG_UINT64_MAX - 9999) / 10000)
			exact = false;
		else
			mantissa = mantissa * 10000 + d;
	}
	exp10 = 4 * (weight - ndigits + 1);
	if (exact)
	{
		/* the strtod path below still writes every digit with exp10 */
		int			e = exp10;

		while (e < 0 && mantissa != 0 && mantissa % 10 == 0)
		{
			mantissa /= 10;
			e++;
		}
		exact = pp_decimal_to_double(mantissa, e, result);
	}
	if (!exact)
	{
		char		buf[PP_NUMERIC_MAX_DIGITS * 4 + 16];
		char	   *w = buf;

		for (i = 0; i < ndigits; i++)
		{
			uint16		d;

			memcpy(&d, digits + i * sizeof(uint16), sizeof(uint16));
			w[0] = '0' + d / 1000;
			w[1] = '0' + (d / 100) % 10;
			w[2] = '0' + (d / 10) % 10;
			w[3] = '0' + d % 10;
			w += 4;
		}
		{
			/* "e<exp10>" without snprintf: |exp10| < 2^16 * 4 */
			char		digits_rev[8];
			int			nd = 0;
			unsigned	e = (unsigned) (exp10 < 0 ? -exp10 : exp10);

			*w++ = 'e';
			if (exp10 < 0)
				*w++ = '-';
			do
			{
				digits_rev[nd++] = (char) ('0' + e % 10);
				e /= 10;
			} while (e > 0);
			while (nd > 0)
				*w++ = digits_rev[--nd];
			*w = '\0';
		}
		*result = strtod(buf, NULL);
	}
	if (negative)
		*result = -*result;
	return true;
}

double
pp_numeric_to_double(Numeric num)
{
	double		d;

	if (numeric_to_double_fast(num, &d))
		return d;
	return DatumGetFloat8(DirectFunctionCall1(numeric_float8_no_overflow,
											  NumericGetDatum(num)));
}
