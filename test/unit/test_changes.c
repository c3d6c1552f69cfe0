/*-------------------------------------------------------------------------
 *
 * test/unit/test_changes.c
 *	  cmocka tests of src/core/changes.c: each measure just below and at its
 *	  minimum effect and calls, the tests that must agree with the effect,
 *	  the exceedance and two-proportion tests, and the order of changes.
 *
 * Every case starts from a steady operation (two sides that differ in
 * nothing) and changes only what the measure under test reads.
 *
 *-------------------------------------------------------------------------
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "changes.h"

/* 100 calls on each side, 100 profiles, 1% errors, p95 100 ms, 20% share */
static pp_change_input_t
steady(void)
{
	pp_change_input_t in;

	memset(&in, 0, sizeof(in));
	in.before.calls = in.after.calls = 100;
	in.before.errors = in.after.errors = 1;
	in.before.p95_ms = in.after.p95_ms = 100;
	in.before.share = in.after.share = 0.2;
	in.before.profiles = in.after.profiles = 100;
	in.duration_z = 0;
	in.duration_p = 1;
	return in;
}

static bool
judge(const pp_change_input_t *in, pp_change_measure_t m, pp_change_t *out)
{
	memset(out, 0xA5, sizeof(*out));	/* judge must set every field */
	return pp_change_judge(in, m, out);
}

static void
test_steady(void **state)
{
	pp_change_input_t in = steady();
	pp_change_t c;
	int			m;

	(void) state;
	for (m = 0; m < PP_N_CHANGE_MEASURES; m++)
	{
		assert_false(judge(&in, m, &c));
		assert_int_equal(c.measure, m);
		assert_true(c.strength == 0);
	}
	assert_string_equal(pp_change_measure_name(PP_CHANGE_P95), "p95_ms");
	assert_string_equal(pp_change_measure_name(PP_CHANGE_ERROR_RATE), "error_rate");
	assert_string_equal(pp_change_measure_name(PP_CHANGE_TIME_SHARE), "time_share");
	assert_null(pp_change_measure_name(PP_N_CHANGE_MEASURES));
}

/* p95: ratio >= 1.25 (or <= 0.8), duration test at 0.01, same direction */
static void
test_p95(void **state)
{
	pp_change_input_t in = steady();
	pp_change_t c;

	(void) state;
	in.after.p95_ms = 300;		/* 3 times slower */
	in.duration_z = 8;
	in.duration_p = 1e-15;
	assert_true(judge(&in, PP_CHANGE_P95, &c));
	assert_true(c.before == 100 && c.after == 300);
	assert_true(fabs(c.change - 3) < 1e-12);
	assert_true(c.p == 1e-15);
	assert_true(fabs(c.strength - log(3) / log(1.25)) < 1e-12);

	/* the minimum effect */
	in.after.p95_ms = 124.99;
	assert_false(judge(&in, PP_CHANGE_P95, &c));
	in.after.p95_ms = 125;
	assert_true(judge(&in, PP_CHANGE_P95, &c));
	assert_true(fabs(c.strength - 1) < 1e-9);

	/* the test: its level, and its direction */
	in.duration_p = 0.01;
	assert_false(judge(&in, PP_CHANGE_P95, &c));
	in.duration_p = 0.0099;
	assert_true(judge(&in, PP_CHANGE_P95, &c));
	in.duration_z = -8;			/* the calls got faster but p95 rose */
	assert_false(judge(&in, PP_CHANGE_P95, &c));
	in.duration_z = NAN;		/* no test could run */
	in.duration_p = NAN;
	assert_false(judge(&in, PP_CHANGE_P95, &c));

	/* faster */
	in.after.p95_ms = 80;
	in.duration_z = -5;
	in.duration_p = 1e-6;
	assert_true(judge(&in, PP_CHANGE_P95, &c));
	assert_true(fabs(c.change - 0.8) < 1e-12);
	in.after.p95_ms = 80.01;
	assert_false(judge(&in, PP_CHANGE_P95, &c));

	/* calls on each side */
	in.after.p95_ms = 300;
	in.duration_z = 8;
	in.before.calls = PP_CHANGE_MIN_CALLS - 1;
	assert_false(judge(&in, PP_CHANGE_P95, &c));
	assert_true(c.change == 3);	/* figures are still given */
	in.before.calls = PP_CHANGE_MIN_CALLS;
	assert_true(judge(&in, PP_CHANGE_P95, &c));
	in.after.calls = PP_CHANGE_MIN_CALLS - 1;
	assert_false(judge(&in, PP_CHANGE_P95, &c));

	/* no p95 before (or 0): no ratio */
	in.after.calls = 100;
	in.before.p95_ms = 0;
	assert_false(judge(&in, PP_CHANGE_P95, &c));
	assert_true(isnan(c.change));
	in.before.p95_ms = NAN;
	assert_false(judge(&in, PP_CHANGE_P95, &c));
}

/* error rate: |difference| >= 0.02 and the two-proportion test at 0.01 */
static void
test_error_rate(void **state)
{
	pp_change_input_t in = steady();
	pp_change_t c;

	(void) state;
	in.before.calls = in.after.calls = 10000;
	in.before.errors = 100;
	in.after.errors = 299;		/* 1% -> 2.99% */
	assert_false(judge(&in, PP_CHANGE_ERROR_RATE, &c));
	assert_true(c.p < 1e-6);	/* significant, but too small to report */
	in.after.errors = 300;		/* 1% -> 3% */
	assert_true(judge(&in, PP_CHANGE_ERROR_RATE, &c));
	assert_true(c.before == 0.01 && c.after == 0.03);
	assert_true(fabs(c.change - 0.02) < 1e-12);
	assert_true(fabs(c.strength - 1) < 1e-9);

	/* large but not significant: 1 error in 40 calls, then 3 */
	in.before.calls = in.after.calls = 40;
	in.before.errors = 1;
	in.after.errors = 3;
	assert_false(judge(&in, PP_CHANGE_ERROR_RATE, &c));
	assert_true(fabs(c.change - 0.05) < 1e-12 && c.p > 0.01);

	/* fewer errors */
	in.before.calls = in.after.calls = 1000;
	in.before.errors = 100;
	in.after.errors = 10;
	assert_true(judge(&in, PP_CHANGE_ERROR_RATE, &c));
	assert_true(fabs(c.change + 0.09) < 1e-12);

	/* too few calls */
	in.before.calls = 29;
	in.before.errors = 20;
	assert_false(judge(&in, PP_CHANGE_ERROR_RATE, &c));
}

/* share: |difference| >= 0.05 and slower calls or more calls per profile */
static void
test_time_share(void **state)
{
	pp_change_input_t in = steady();
	pp_change_t c;

	(void) state;
	in.after.share = 0.2499;
	in.duration_z = 10;
	in.duration_p = 1e-20;
	assert_false(judge(&in, PP_CHANGE_TIME_SHARE, &c));
	in.after.share = 0.25;
	assert_true(judge(&in, PP_CHANGE_TIME_SHARE, &c));
	assert_true(fabs(c.change - 0.05) < 1e-12 && c.p == 1e-20);

	/* the share grew while the calls got faster: another operation's doing */
	in.duration_z = -10;
	assert_false(judge(&in, PP_CHANGE_TIME_SHARE, &c));

	/* same durations, twice the calls per profile (N+1 introduced) */
	in.duration_z = 0;
	in.duration_p = 1;
	in.after.calls = 200;
	assert_true(judge(&in, PP_CHANGE_TIME_SHARE, &c));
	assert_true(c.p < 1e-6);
	/* 24% more calls per profile: significant, below the minimum ratio */
	in.before.calls = in.after.calls = 10000;
	in.after.calls = 12400;
	assert_false(judge(&in, PP_CHANGE_TIME_SHARE, &c));
	assert_true(c.p < 1e-6);
	in.after.calls = 12500;
	assert_true(judge(&in, PP_CHANGE_TIME_SHARE, &c));
	/* profiles unknown: no rate test */
	in.after.profiles = 0;
	assert_false(judge(&in, PP_CHANGE_TIME_SHARE, &c));

	/* a share unknown (a baseline keeps none) */
	in = steady();
	in.after.share = 0.5;
	in.duration_z = 10;
	in.duration_p = 1e-20;
	in.before.share = NAN;
	assert_false(judge(&in, PP_CHANGE_TIME_SHARE, &c));
	assert_true(c.strength == 0);

	/* smaller share, faster calls */
	in.before.share = 0.5;
	in.after.share = 0.2;
	in.duration_z = -10;
	assert_true(judge(&in, PP_CHANGE_TIME_SHARE, &c));
	assert_true(fabs(c.change + 0.3) < 1e-12);
}

static void
test_tests(void **state)
{
	double		z,
				p;

	(void) state;
	/* 5% of 400 calls above the old p95: no change */
	pp_exceedance_test(20, 400, 0.05, &z, &p);
	assert_true(z == 0 && p == 1);
	/* 100 of 400: z = (0.25 - 0.05) / sqrt(0.0475 / 400) = 18.35 */
	pp_exceedance_test(100, 400, 0.05, &z, &p);
	assert_true(fabs(z - 0.2 / sqrt(0.0475 / 400)) < 1e-9);
	assert_true(p < 1e-50);
	/* none above: faster */
	pp_exceedance_test(0, 400, 0.05, &z, &p);
	assert_true(z < -4);
	pp_exceedance_test(0, 0, 0.05, &z, &p);
	assert_true(z == 0 && p == 1);

	/* 10/100 against 20/100: pooled p 0.15, z = 0.1 / sqrt(0.1275 * 0.02) */
	p = pp_two_proportion_p(10, 100, 20, 100);
	assert_true(fabs(p - erfc(0.1 / sqrt(0.15 * 0.85 * 0.02) / sqrt(2))) < 1e-12);
	assert_true(pp_two_proportion_p(0, 100, 0, 100) == 1);
	assert_true(pp_two_proportion_p(5, 0, 5, 10) == 1);
}

static void
test_order(void **state)
{
	pp_change_t a = {PP_CHANGE_P95, 0, 0, 0, 0, 3};
	pp_change_t b = {PP_CHANGE_ERROR_RATE, 0, 0, 0, 0, 2};
	pp_change_t c = {PP_CHANGE_TIME_SHARE, 0, 0, 0, 0, 3};

	(void) state;
	assert_true(pp_change_cmp(&a, &b) < 0);
	assert_true(pp_change_cmp(&b, &a) > 0);
	assert_true(pp_change_cmp(&a, &c) < 0);	/* ties: measure order */
	assert_true(pp_change_cmp(&c, &c) == 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_steady),
		cmocka_unit_test(test_p95),
		cmocka_unit_test(test_error_rate),
		cmocka_unit_test(test_time_share),
		cmocka_unit_test(test_tests),
		cmocka_unit_test(test_order),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
