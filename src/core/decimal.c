/*-------------------------------------------------------------------------
 *
 * src/core/decimal.c
 *	  Doubles from and to decimal mantissas and powers of ten.
 *
 * Numbers in profiles reach the walk as decimal digits (a numeric in
 * jsonb, a JSON token in the client).  strtod() reads them correctly but
 * spends a thousand or more instructions on each, and epoch timestamps
 * with seven decimals -- 17 significant digits -- are common.  Two exact
 * ways cover nearly all of them:
 *
 * - a mantissa below 2^53 and a power of ten up to 10^22 are both exact
 *	 doubles, so one IEEE multiplication or division rounds correctly;
 * - otherwise, with 128-bit integers: M * 10^e (e >= 0) is an exact
 *	 integer, and (M << 64) / 10^-e gives the quotient's leading bits plus
 *	 a remainder.  Keeping 54 bits and a sticky bit for everything below
 *	 them is enough to round to 53 bits, to nearest and ties to even.
 *
 * Everything else returns false and is left to strtod().
 *
 * The other way, the analysis columns and reports write doubles as the
 * numerics float8_numeric() makes: printed with 15 significant digits
 * ("%.15g", about 4,000 instructions with the parse back) -- see
 * pp_double_to_decimal15().
 *
 * No PostgreSQL headers.
 *
 *-------------------------------------------------------------------------
 */
#include <math.h>

#include "decimal.h"

static const double pow10_exact[] = {
	1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
	1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22
};

#ifdef __SIZEOF_INT128__

typedef unsigned __int128 pp_uint128_t;

static int
bit_length(pp_uint128_t v)
{
	uint64_t	hi = (uint64_t) (v >> 64);
	uint64_t	lo = (uint64_t) v;

	if (hi != 0)
		return 128 - __builtin_clzll(hi);
	return lo != 0 ? 64 - __builtin_clzll(lo) : 0;
}

/*
 * The double nearest to (q + f) * 2^exp2, where q has at least 54 bits and
 * f, a fraction in [0, 1), is known only as zero or not (inexact).
 */
static double
round_to_double(pp_uint128_t q, bool inexact, int exp2)
{
	int			shift = bit_length(q) - 54;
	uint64_t	top = (uint64_t) (q >> shift);	/* 54 bits */
	uint64_t	mant = top >> 1;
	bool		half = (top & 1) != 0;
	bool		below = inexact ||
		(q & ((((pp_uint128_t) 1) << shift) - 1)) != 0;

	if (half && (below || (mant & 1) != 0))
		mant++;					/* 2^53 after a carry is still exact */
	return ldexp((double) mant, exp2 + shift + 1);
}

#endif

/*
 * For 1e-5 <= |d| < 1e15, x = |d| * 10^k with 10^14 <= x < 10^15 (10^k is
 * exact for k <= 22, and the product is rounded once, by at most half an
 * ulp of x: 1/16).  The 15 digits are x rounded to an integer, unless x's
 * fraction is within 1/8 of one half, where that rounding error could
 * decide.  Trailing zeros go, as %g drops them; the digits left after the
 * point are the scale.
 */
bool
pp_double_to_decimal15(double d, int64_t *mantissa, int *scale)
{
	double		a = fabs(d);
	double		x;
	double		frac;
	int64_t		m;
	int			k;

	if (a == 0)
	{
		*mantissa = 0;
		*scale = 0;
		return true;
	}
	if (!(a >= 1e-5 && a < 1e15))
		return false;

	for (k = 0; k < 19 && a * pow10_exact[k] < 1e14; k++)
		;
	x = a * pow10_exact[k];
	frac = x - floor(x);
	if (x >= 1e15 || x < 1e14 || fabs(frac - 0.5) < 0.125)
		return false;
	m = (int64_t) floor(x) + (frac > 0.5 ? 1 : 0);
	while (k > 0 && m % 10 == 0)
	{
		m /= 10;
		k--;
	}
	*mantissa = d < 0 ? -m : m;
	*scale = k;
	return true;
}

bool
pp_decimal_to_double(uint64_t mantissa, int exp10, double *out)
{
	if (mantissa == 0)
	{
		*out = 0.0;
		return true;
	}
	if (mantissa < ((uint64_t) 1 << 53) && exp10 >= -22 && exp10 <= 22)
	{
		*out = exp10 >= 0 ? (double) mantissa * pow10_exact[exp10]
			: (double) mantissa / pow10_exact[-exp10];
		return true;
	}
#ifdef __SIZEOF_INT128__
	if (exp10 >= -19 && exp10 <= 19)
	{
		uint64_t	p = 1;
		int			i;

		for (i = 0; i < (exp10 < 0 ? -exp10 : exp10); i++)
			p *= 10;
		/* mantissa >= 2^53 and p < 2^64: either integer has 54+ bits */
		if (exp10 >= 0)
			*out = round_to_double((pp_uint128_t) mantissa * p, false, 0);
		else
		{
			pp_uint128_t n = (pp_uint128_t) mantissa << 64;

			*out = round_to_double(n / p, n % p != 0, -64);
		}
		return true;
	}
#endif
	return false;
}
