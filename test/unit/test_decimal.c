/*-------------------------------------------------------------------------
 *
 * test/unit/test_decimal.c
 *	  cmocka tests of src/core/decimal.c.  Reading: every covered case
 *	  agrees bit for bit with strtod() on the same digits -- random
 *	  mantissas of every length with every covered exponent, epoch
 *	  timestamps with up to seven decimals, exact halfway cases (ties to
 *	  even), powers of two and their neighbours -- and the uncovered cases
 *	  are refused.  Writing: every covered double gives the digits and
 *	  scale printf("%.15g") gives, over random doubles of every magnitude
 *	  in range and values near a half in the 16th digit.
 *
 * Random inputs come from pp_rng with a fixed seed, so a failure reproduces.
 *
 *-------------------------------------------------------------------------
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decimal.h"
#include "reservoir.h"

static pp_rng_t rng;

static int	checked = 0;

/* pp_decimal_to_double must cover (m, e) and agree with strtod. */
static void
expect_as_strtod(uint64_t m, int e)
{
	char		text[64];
	double		want;
	double		got = -1;

	snprintf(text, sizeof(text), "%" PRIu64 "e%d", m, e);
	want = strtod(text, NULL);
	if (!pp_decimal_to_double(m, e, &got))
		fail_msg("%s: not covered", text);
	if (memcmp(&got, &want, sizeof(double)) != 0)
		fail_msg("%s: got %.17g (%a), strtod gives %.17g (%a)", text, got, got, want, want);
	checked++;
}

static void
test_random_mantissas(void **state)
{
	int			i;

	(void) state;
	for (i = 0; i < 400000; i++)
	{
		/* every length from 1 to 64 bits, every covered exponent */
		int			bits = 1 + (int) (pp_rng_next(&rng) % 64);
		uint64_t	m = pp_rng_next(&rng) >> (64 - bits);
		int			e = (int) (pp_rng_next(&rng) % 39) - 19;

		expect_as_strtod(m, e);
	}
	for (i = 0; i < 50000; i++)
	{
		uint64_t	m = pp_rng_next(&rng) >> (11 + pp_rng_next(&rng) % 53);	/* below 2^53 */
		int			e = (int) (pp_rng_next(&rng) % 45) - 22;

		expect_as_strtod(m, e);
	}
}

static void
test_timestamps(void **state)
{
	int			i;

	(void) state;
	for (i = 0; i < 200000; i++)
	{
		/* 1.7e9 .. 1.8e9 seconds with 0 to 7 decimals */
		int			decimals = (int) (pp_rng_next(&rng) % 8);
		uint64_t	scale = 1;
		uint64_t	m;
		int			k;

		for (k = 0; k < decimals; k++)
			scale *= 10;
		m = (1700000000ULL + pp_rng_next(&rng) % 100000000ULL) * scale + pp_rng_next(&rng) % scale;
		expect_as_strtod(m, -decimals);
	}
}

static void
test_halfway_and_powers_of_two(void **state)
{
	int			b;
	uint64_t	i;

	(void) state;
	for (b = 53; b < 64; b++)
	{
		uint64_t	p = (uint64_t) 1 << b;

		/* below, at and above a power of two; odd multiples of half an ulp */
		for (i = 0; i < 64; i++)
		{
			expect_as_strtod(p + i, 0);
			expect_as_strtod(p - i, 0);
			expect_as_strtod(p + i, 3);
			expect_as_strtod(p - i, -3);
		}
	}
	/* ties between two doubles: ties to even, both ways */
	expect_as_strtod((((uint64_t) 1) << 53) + 1, 0);	/* 2^53 + 1 -> 2^53 */
	expect_as_strtod((((uint64_t) 1) << 53) + 3, 0);	/* 2^53 + 3 -> 2^53 + 4 */
	expect_as_strtod(10 * (((uint64_t) 1) << 53) + 5, -1);	/* 2^53 + 0.5 */
	expect_as_strtod(10 * ((((uint64_t) 1) << 53) + 1) + 5, -1);
	expect_as_strtod(1000 * (((uint64_t) 1) << 53) + 500, -3);
	/* just off a tie */
	expect_as_strtod(10 * (((uint64_t) 1) << 53) + 4, -1);
	expect_as_strtod(10 * (((uint64_t) 1) << 53) + 6, -1);
	/* the extremes */
	expect_as_strtod(UINT64_MAX, -19);
	expect_as_strtod(UINT64_MAX, 19);
	expect_as_strtod(UINT64_MAX, 0);
	expect_as_strtod(1, -22);
	expect_as_strtod(9007199254740991ULL, 22);
	expect_as_strtod(0, 300);
	expect_as_strtod(17672256001234567ULL, -7);
}

static void
test_uncovered(void **state)
{
	double		d = 42;

	(void) state;
	assert_false(pp_decimal_to_double(1ULL << 53, 20, &d));
	assert_false(pp_decimal_to_double(1ULL << 53, -20, &d));
	assert_false(pp_decimal_to_double(5, 23, &d));
	assert_false(pp_decimal_to_double(5, -23, &d));
	assert_false(pp_decimal_to_double(UINT64_MAX, -300, &d));
	assert_true(d == 42);		/* left alone */
}

/*
 * The mantissa and scale of what "%.15g" prints for d: digits without the
 * point, the exponent applied, trailing zeros after the point dropped.
 */
static void
printed15(double d, int64_t *mantissa, int *scale)
{
	char		text[64];
	char	   *p = text;
	char	   *e;
	int64_t		m = 0;
	int			s = 0;
	int			exp10 = 0;
	bool		negative = false;

	snprintf(text, sizeof(text), "%.15g", d);
	if (*p == '-')
	{
		negative = true;
		p++;
	}
	for (; *p != '\0' && *p != 'e'; p++)
	{
		if (*p == '.')
		{
			s = -1;				/* counting from the next digit */
			continue;
		}
		m = m * 10 + (*p - '0');
		if (s < 0)
			s--;
	}
	s = s < 0 ? -s - 1 : 0;
	if (*p == 'e')
		exp10 = (int) strtol(p + 1, &e, 10);
	s -= exp10;
	for (; s < 0; s++)
		m *= 10;
	while (s > 0 && m % 10 == 0)
	{
		m /= 10;
		s--;
	}
	*mantissa = negative ? -m : m;
	*scale = s;
}

static int	written = 0;

static void
expect_as_printf(double d)
{
	int64_t		m = -1;
	int64_t		want_m;
	int			scale = -1;
	int			want_scale;

	if (!pp_double_to_decimal15(d, &m, &scale))
		return;					/* printed by the caller */
	printed15(d, &want_m, &want_scale);
	if (m != want_m || scale != want_scale)
		fail_msg("%.17g: got %" PRId64 "e-%d, \"%%.15g\" gives %" PRId64 "e-%d",
				 d, m, scale, want_m, want_scale);
	written++;
}

static void
test_writing(void **state)
{
	int			i;
	int64_t		m = -1;
	int			scale = -1;
	int			random_written;

	(void) state;
	for (i = 0; i < 300000; i++)
	{
		/* 1e-6 .. 1e16, every digit count, both signs */
		double		d = ldexp((double) (pp_rng_next(&rng) >> 11), -53) *
			pow(10.0, (double) (pp_rng_next(&rng) % 23) - 6);

		expect_as_printf((pp_rng_next(&rng) & 1) ? -d : d);
	}
	random_written = written;
	for (i = 0; i < 100000; i++)
	{
		/* 16 digits ending in 5: the 15-digit rounding is a near tie */
		double		d = (double) (100000000000000ULL * 10 + (pp_rng_next(&rng) % 900000000000000ULL) * 10 + 5) /
			pow(10.0, (double) (pp_rng_next(&rng) % 20));

		expect_as_printf(d);
	}
	expect_as_printf(0.1);
	expect_as_printf(0.3);
	expect_as_printf(2.5);
	expect_as_printf(1200);
	expect_as_printf(0.00001);
	expect_as_printf(999999999999999.9);
	expect_as_printf(-123.456);

	assert_true(pp_double_to_decimal15(0.0, &m, &scale));
	assert_true(m == 0 && scale == 0);
	assert_true(pp_double_to_decimal15(-0.0, &m, &scale));
	assert_true(m == 0 && scale == 0);
	m = 42;
	scale = 7;
	assert_false(pp_double_to_decimal15(1e15, &m, &scale));
	assert_false(pp_double_to_decimal15(9e-6, &m, &scale));
	assert_true(m == 42 && scale == 7);	/* left alone */
	/* most random doubles are covered: the fallback is the exception */
	/*
	 * Most random doubles are covered (20 of their 23 decades are in range;
	 * a quarter of the rest falls near a half): the fallback is the exception.
	 */
	assert_true(random_written > 150000);
}

static void
test_count(void **state)
{
	(void) state;
	/* the loops above ran, each case compared */
	assert_true(checked > 650000);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_random_mantissas),
		cmocka_unit_test(test_timestamps),
		cmocka_unit_test(test_halfway_and_powers_of_two),
		cmocka_unit_test(test_uncovered),
		cmocka_unit_test(test_writing),
		cmocka_unit_test(test_count),
	};

	pp_rng_seed(&rng, 20261126);
	return cmocka_run_group_tests_name("decimal", tests, NULL, NULL);
}
