/*-------------------------------------------------------------------------
 *
 * test/unit/test_score.c
 *	  cmocka tests of src/core/score.c: the impact score (bounds, monotony,
 *	  the worked example of docs/report.md), priority bands, timelines,
 *	  effort weights and expected savings.
 *
 * Random inputs come from a fixed-seed generator, so a failure reproduces.
 *
 *-------------------------------------------------------------------------
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "score.h"

#define assert_near(a, b) \
	do { \
		double _a = (a), _b = (b); \
		if (!(fabs(_a - _b) <= 1e-9 * (1 + fabs(_b)))) \
			fail_msg("%s = %.17g, expected %.17g", #a, _a, _b); \
	} while (0)

/* ---------------------------------------------------------------------
 * A fixed-seed generator (xorshift64*)
 * ---------------------------------------------------------------------
 */
static uint64_t rng_state = 0x9E3779B97F4A7C15ULL;

static uint64_t
rng_next(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545F4914F6CDD1DULL;
}

/* uniform in [0, 1) */
static double
rng_unit(void)
{
	return (double) (rng_next() >> 11) / 9007199254740992.0;
}

/* uniform in [lo, hi) */
static double
rng_range(double lo, double hi)
{
	return lo + (hi - lo) * rng_unit();
}

/* Any double, weighted towards the awkward ones. */
static double
rng_extreme(void)
{
	static const double special[] = {
		0.0, -0.0, 1.0, -1.0, 0.5, 0.2, 4.0, 10.0, 1e-300, -1e-300,
		DBL_MIN, DBL_MAX, -DBL_MAX, DBL_TRUE_MIN, 1e300, -1e300,
	};
	uint64_t	r = rng_next() % 8;

	switch (r)
	{
		case 0:
			return NAN;
		case 1:
			return rng_next() % 2 ? INFINITY : -INFINITY;
		case 2:
			return special[rng_next() % (sizeof(special) / sizeof(special[0]))];
		case 3:
			{
				/* any bit pattern: subnormals, huge, NaN payloads */
				uint64_t	bits = rng_next();
				double		d;

				memcpy(&d, &bits, sizeof(d));
				return d;
			}
		case 4:
			return rng_range(-10, 10);
		case 5:
			return rng_range(0, 1);
		default:
			return rng_range(0, 1) * pow(10, rng_range(-6, 6));
	}
}

/* ---------------------------------------------------------------------
 * Helpers
 * ---------------------------------------------------------------------
 */
static double
weighted(const pp_impact_parts_t *p)
{
	return 100 * (0.40 * p->share + 0.25 * p->slowness + 0.15 * p->variance +
				  0.15 * p->errors + 0.05 * p->frequency);
}

static void
check_bounds(const pp_impact_input_t *in)
{
	pp_impact_parts_t p;
	double		s = pp_impact_score(in, &p);

	if (!(s >= 0 && s <= 100))
		fail_msg("score %.17g out of [0,100] for share %g p50 %g p95 %g p99 %g "
				 "threshold %g errors %g calls %g", s, in->share, in->p50_ms,
				 in->p95_ms, in->p99_ms, in->threshold_ms, in->error_rate,
				 in->calls_per_profile);
	assert_true(p.share >= 0 && p.share <= 1);
	assert_true(p.slowness >= 0 && p.slowness <= 1);
	assert_true(p.variance >= 0 && p.variance <= 1);
	assert_true(p.errors >= 0 && p.errors <= 1);
	assert_true(p.frequency >= 0 && p.frequency <= 1);
	assert_near(s, weighted(&p));
	/* parts are optional */
	assert_true(pp_impact_score(in, NULL) == s);
}

/* A realistic input: every value finite and in its usual range. */
static pp_impact_input_t
random_input(void)
{
	pp_impact_input_t in;

	in.share = rng_range(0, 1);
	in.p50_ms = rng_range(0.1, 1000);
	in.p95_ms = in.p50_ms * rng_range(1, 20);
	in.p99_ms = in.p95_ms * rng_range(1, 5);
	in.threshold_ms = rng_next() % 4 == 0 ? NAN : rng_range(1, 3000);
	in.error_rate = rng_range(0, 1);
	in.calls_per_profile = rng_range(0, 3);
	return in;
}

/* ---------------------------------------------------------------------
 * Tests
 * ---------------------------------------------------------------------
 */

/* The worked example of docs/report.md. */
static void
test_worked_example(void **state)
{
	pp_impact_input_t in = {
		.share = 0.15, .p50_ms = 300, .p95_ms = 800, .p99_ms = 1200,
		.threshold_ms = 500, .error_rate = 0.02, .calls_per_profile = 1,
	};
	pp_impact_parts_t p;
	double		s;

	(void) state;
	s = pp_impact_score(&in, &p);
	assert_near(p.share, 0.30);		/* 2 * 0.15 */
	assert_near(p.slowness, 0.20);	/* (800 / 500 - 1) / 3 */
	assert_near(p.variance, 1.0 / 3);	/* (1200 / 300 - 1) / 9 */
	assert_near(p.errors, 0.10);	/* 5 * 0.02 */
	assert_near(p.frequency, 1.0);	/* min(1, 1) */
	/* 100 * (0.12 + 0.05 + 0.05 + 0.015 + 0.05) */
	assert_near(s, 28.5);
	assert_near(round(s * 10) / 10, 28.5);	/* as the report prints it */
	assert_string_equal(pp_priority_of(s), "medium");
	assert_string_equal(pp_timeline_of(pp_priority_of(s)),
						"medium term: this quarter");

	/* without a threshold the slowness part drops out: 28.5 - 5 */
	in.threshold_ms = NAN;
	assert_near(pp_impact_score(&in, NULL), 23.5);
	in.threshold_ms = 0;
	assert_near(pp_impact_score(&in, NULL), 23.5);
	in.threshold_ms = -500;
	assert_near(pp_impact_score(&in, NULL), 23.5);

	/* the suggestion of the example: 40% of 300 ms once per profile */
	assert_near(pp_expected_saving_ms(300, 1, 40), 120);
	/* 120 ms of a 2000 ms average profile */
	assert_near(100 * pp_expected_saving_ms(300, 1, 40) / 2000, 6.0);
	/* rank: saving per effort weight, medium = 2 */
	assert_near(pp_expected_saving_ms(300, 1, 40) / pp_effort_weight("medium"), 60);
}

/* Every part saturated: 100; every part zero: 0. */
static void
test_extremes(void **state)
{
	pp_impact_input_t top = {
		.share = 0.5, .p50_ms = 10, .p95_ms = 40, .p99_ms = 100,
		.threshold_ms = 10, .error_rate = 0.2, .calls_per_profile = 1,
	};
	pp_impact_input_t zero = {
		.share = 0, .p50_ms = 10, .p95_ms = 10, .p99_ms = 10,
		.threshold_ms = 10, .error_rate = 0, .calls_per_profile = 0,
	};
	pp_impact_input_t nan = {NAN, NAN, NAN, NAN, NAN, NAN, NAN};
	pp_impact_input_t neg = {-1, -1, -1, -1, -1, -1, -1};
	pp_impact_input_t huge = {DBL_MAX, DBL_MAX, DBL_MAX, DBL_MAX, DBL_MAX, DBL_MAX, DBL_MAX};
	pp_impact_parts_t p;

	(void) state;
	assert_near(pp_impact_score(&top, NULL), 100);
	assert_near(pp_impact_score(&zero, NULL), 0);

	/* far beyond saturation changes nothing */
	top.share = 1e300;
	top.p95_ms = 1e300;
	top.p99_ms = 1e300;
	top.error_rate = 1;
	top.calls_per_profile = 1e9;
	assert_near(pp_impact_score(&top, NULL), 100);

	/* NaN and negative inputs count as 0 */
	assert_true(pp_impact_score(&nan, &p) == 0);
	assert_true(p.share == 0 && p.slowness == 0 && p.variance == 0 &&
				p.errors == 0 && p.frequency == 0);
	assert_true(pp_impact_score(&neg, NULL) == 0);

	/* a zero threshold or median: no division, the part is 0 */
	zero.threshold_ms = 0;
	zero.p50_ms = 0;
	zero.p95_ms = 1000;
	zero.p99_ms = 1000;
	assert_true(pp_impact_score(&zero, &p) == 0);
	assert_true(p.slowness == 0 && p.variance == 0);

	/* DBL_MAX everywhere: share, errors, frequency saturate; the ratios are 1 */
	check_bounds(&huge);
	assert_near(pp_impact_score(&huge, NULL), 100 * (0.40 + 0.15 + 0.05));

	/* infinite percentiles or thresholds: within bounds, parts 0 */
	{
		pp_impact_input_t in = top;

		in.p95_ms = INFINITY;
		in.p99_ms = INFINITY;
		check_bounds(&in);
		pp_impact_score(&in, &p);
		assert_true(p.slowness == 0 && p.variance == 0);
		in.threshold_ms = INFINITY;
		in.p50_ms = INFINITY;
		in.p95_ms = 10;
		in.p99_ms = 10;
		check_bounds(&in);
		pp_impact_score(&in, &p);
		assert_true(p.slowness == 0 && p.variance == 0);
		/* a denormal threshold: p95 / threshold overflows to inf */
		in.threshold_ms = DBL_TRUE_MIN;
		in.p95_ms = 1e300;
		check_bounds(&in);
		pp_impact_score(&in, &p);
		assert_true(p.slowness == 1);
	}
}

/* Random and extreme inputs never leave [0, 100]. */
static void
test_bounds_random(void **state)
{
	int			i;

	(void) state;
	for (i = 0; i < 200000; i++)
	{
		pp_impact_input_t in;

		in.share = rng_extreme();
		in.p50_ms = rng_extreme();
		in.p95_ms = rng_extreme();
		in.p99_ms = rng_extreme();
		in.threshold_ms = rng_extreme();
		in.error_rate = rng_extreme();
		in.calls_per_profile = rng_extreme();
		check_bounds(&in);
	}
	for (i = 0; i < 100000; i++)
	{
		pp_impact_input_t in = random_input();

		check_bounds(&in);
	}
}

/*
 * Sweep one input upwards over a grid, the others fixed: the score never
 * falls, and it rises strictly whenever the part is not saturated on both
 * steps (was below 1 and becomes above 0; each step moves an unsaturated part
 * by more than 0.1%, far above rounding).
 */
typedef enum
{
	IN_SHARE, IN_P95, IN_THRESHOLD_DOWN, IN_P99, IN_P50_DOWN, IN_ERRORS, IN_CALLS
} sweep_t;

static double
part_of(const pp_impact_parts_t *p, sweep_t which)
{
	switch (which)
	{
		case IN_SHARE:
			return p->share;
		case IN_P95:
		case IN_THRESHOLD_DOWN:
			return p->slowness;
		case IN_P99:
		case IN_P50_DOWN:
			return p->variance;
		case IN_ERRORS:
			return p->errors;
		case IN_CALLS:
			return p->frequency;
	}
	return NAN;
}

/* Set step k of n of the sweep; the grid overshoots saturation both ways. */
static void
sweep_set(pp_impact_input_t *in, const pp_impact_input_t *base, sweep_t which,
		  int k, int n)
{
	double		t = (double) k / n;

	*in = *base;
	switch (which)
	{
		case IN_SHARE:
			in->share = -0.1 + 0.8 * t;
			break;
		case IN_P95:
			in->p95_ms = base->threshold_ms * 5 * t;
			break;
		case IN_THRESHOLD_DOWN:
			/* p95 / threshold from 0.5 to 5 */
			in->threshold_ms = base->p95_ms / (0.5 + 4.5 * t);
			break;
		case IN_P99:
			in->p99_ms = base->p50_ms * 12 * t;
			break;
		case IN_P50_DOWN:
			/* p99 / p50 from 0.5 to 12 */
			in->p50_ms = base->p99_ms / (0.5 + 11.5 * t);
			break;
		case IN_ERRORS:
			in->error_rate = -0.05 + 0.35 * t;
			break;
		case IN_CALLS:
			in->calls_per_profile = -0.5 + 2 * t;
			break;
	}
}

static void
sweep(sweep_t which, const char *what)
{
	int			b;
	const int	n = 1000;

	for (b = 0; b < 200; b++)
	{
		pp_impact_input_t base = random_input();
		pp_impact_parts_t prev_p;
		double		prev = -1;
		int			k,
					strict = 0;

		if (isnan(base.threshold_ms))
			base.threshold_ms = rng_range(1, 3000);
		for (k = 0; k <= n; k++)
		{
			pp_impact_input_t in;
			pp_impact_parts_t p;
			double		s;

			sweep_set(&in, &base, which, k, n);
			s = pp_impact_score(&in, &p);
			if (k > 0)
			{
				if (s < prev)
					fail_msg("%s: score fell from %.17g to %.17g at step %d", what, prev, s, k);
				if (part_of(&p, which) < part_of(&prev_p, which))
					fail_msg("%s: part fell at step %d", what, k);
				/* (not by mere rounding: a ratio of exactly 1 may give 1e-17) */
				if (part_of(&prev_p, which) < 1 - 1e-9 && part_of(&p, which) > 1e-9)
				{
					if (!(s > prev))
						fail_msg("%s: score did not rise (%.17g) at step %d, part %.17g -> %.17g",
								 what, s, k, part_of(&prev_p, which), part_of(&p, which));
					strict++;
				}
			}
			prev = s;
			prev_p = p;
		}
		/* the grid crosses the unsaturated range in many steps */
		assert_true(strict >= 50);
		/* both ends reached: 0 below, 1 above */
		{
			pp_impact_input_t in;
			pp_impact_parts_t p;

			sweep_set(&in, &base, which, 0, n);
			pp_impact_score(&in, &p);
			assert_true(part_of(&p, which) == 0);
			sweep_set(&in, &base, which, n, n);
			pp_impact_score(&in, &p);
			assert_true(part_of(&p, which) == 1);
		}
	}
}

static void
test_monotone(void **state)
{
	(void) state;
	sweep(IN_SHARE, "share");
	sweep(IN_P95, "p95");
	sweep(IN_THRESHOLD_DOWN, "threshold (falling)");
	sweep(IN_P99, "p99");
	sweep(IN_P50_DOWN, "p50 (falling)");
	sweep(IN_ERRORS, "error rate");
	sweep(IN_CALLS, "calls per profile");
}

/* Pairwise: raising any one input of a random pair never lowers the score. */
static void
test_monotone_random_pairs(void **state)
{
	int			i;

	(void) state;
	for (i = 0; i < 200000; i++)
	{
		pp_impact_input_t a = random_input();
		pp_impact_input_t b = a;
		double		sa,
					sb;

		switch (rng_next() % 5)
		{
			case 0:
				b.share += rng_range(0, 1);
				break;
			case 1:
				b.p95_ms += rng_range(0, 5000);
				break;
			case 2:
				b.p99_ms += rng_range(0, 5000);
				break;
			case 3:
				b.error_rate += rng_range(0, 1);
				break;
			case 4:
				b.calls_per_profile += rng_range(0, 2);
				break;
		}
		sa = pp_impact_score(&a, NULL);
		sb = pp_impact_score(&b, NULL);
		if (sb < sa)
			fail_msg("score fell from %.17g to %.17g", sa, sb);
	}
}

static void
test_priority_bands(void **state)
{
	(void) state;
	assert_string_equal(pp_priority_of(0), "low");
	assert_string_equal(pp_priority_of(-1), "low");
	assert_string_equal(pp_priority_of(19.999), "low");
	assert_string_equal(pp_priority_of(nextafter(20, 0)), "low");
	assert_string_equal(pp_priority_of(20), "medium");
	assert_string_equal(pp_priority_of(44.999), "medium");
	assert_string_equal(pp_priority_of(nextafter(45, 0)), "medium");
	assert_string_equal(pp_priority_of(45), "high");
	assert_string_equal(pp_priority_of(69.999), "high");
	assert_string_equal(pp_priority_of(nextafter(70, 0)), "high");
	assert_string_equal(pp_priority_of(70), "critical");
	assert_string_equal(pp_priority_of(100), "critical");
	assert_string_equal(pp_priority_of(INFINITY), "critical");
	assert_string_equal(pp_priority_of(NAN), "low");
}

static void
test_timelines(void **state)
{
	(void) state;
	assert_string_equal(pp_timeline_of("critical"), "immediate: this week");
	assert_string_equal(pp_timeline_of("high"), "short term: this sprint");
	assert_string_equal(pp_timeline_of("medium"), "medium term: this quarter");
	assert_string_equal(pp_timeline_of("low"), "backlog");
	assert_string_equal(pp_timeline_of(""), "backlog");
	assert_string_equal(pp_timeline_of("Critical"), "backlog");

	/* every band's timeline through pp_priority_of */
	assert_string_equal(pp_timeline_of(pp_priority_of(70)), "immediate: this week");
	assert_string_equal(pp_timeline_of(pp_priority_of(45)), "short term: this sprint");
	assert_string_equal(pp_timeline_of(pp_priority_of(20)), "medium term: this quarter");
	assert_string_equal(pp_timeline_of(pp_priority_of(19.999)), "backlog");
}

static void
test_effort_weights(void **state)
{
	(void) state;
	assert_int_equal(pp_effort_weight("low"), 1);
	assert_int_equal(pp_effort_weight("medium"), 2);
	assert_int_equal(pp_effort_weight("high"), 3);
	assert_int_equal(pp_effort_weight(NULL), 2);
	assert_int_equal(pp_effort_weight(""), 2);
	assert_int_equal(pp_effort_weight("LOW"), 2);
	assert_int_equal(pp_effort_weight("lowest"), 2);
}

static void
test_expected_saving(void **state)
{
	static const double odd[] = {NAN, INFINITY, -INFINITY, -1, 0, DBL_MAX};
	size_t		i,
				j,
				k;
	int			r;

	(void) state;
	assert_near(pp_expected_saving_ms(300, 1, 40), 120);
	assert_near(pp_expected_saving_ms(50, 5, 80), 200);
	assert_near(pp_expected_saving_ms(10, 0.5, 100), 5);
	assert_true(pp_expected_saving_ms(0, 1, 40) == 0);
	assert_true(pp_expected_saving_ms(300, 0, 40) == 0);
	assert_true(pp_expected_saving_ms(300, 1, 0) == 0);

	/* non-finite or negative: 0, never negative, never NaN */
	assert_true(pp_expected_saving_ms(NAN, 1, 40) == 0);
	assert_true(pp_expected_saving_ms(300, NAN, 40) == 0);
	assert_true(pp_expected_saving_ms(300, 1, NAN) == 0);
	assert_true(pp_expected_saving_ms(INFINITY, 1, 40) == 0);
	assert_true(pp_expected_saving_ms(INFINITY, 0, 40) == 0);
	assert_true(pp_expected_saving_ms(-300, 1, 40) == 0);
	assert_true(pp_expected_saving_ms(300, -1, 40) == 0);
	assert_true(pp_expected_saving_ms(DBL_MAX, DBL_MAX, 100) == 0);	/* overflow */
	for (i = 0; i < sizeof(odd) / sizeof(odd[0]); i++)
		for (j = 0; j < sizeof(odd) / sizeof(odd[0]); j++)
			for (k = 0; k < sizeof(odd) / sizeof(odd[0]); k++)
			{
				double		s = pp_expected_saving_ms(odd[i], odd[j], odd[k]);

				assert_true(isfinite(s) && s >= 0);
			}
	for (r = 0; r < 100000; r++)
	{
		double		s = pp_expected_saving_ms(rng_extreme(), rng_extreme(), rng_extreme());

		assert_true(isfinite(s) && s >= 0);
	}
}

/*
 * A suggestion's gain is on its measure only: 30% of a 1561 ms LLM call is
 * 468 ms of duration for a duration suggestion, and nothing for streaming
 * (time to first token), cost or error rate.
 */
static void
test_measures(void **state)
{
	(void) state;
	assert_int_equal(pp_measure_parse("duration"), PP_MEASURE_DURATION);
	assert_int_equal(pp_measure_parse("time_to_first_token"), PP_MEASURE_TIME_TO_FIRST_TOKEN);
	assert_int_equal(pp_measure_parse("cost"), PP_MEASURE_COST);
	assert_int_equal(pp_measure_parse("error_rate"), PP_MEASURE_ERROR_RATE);
	assert_int_equal(pp_measure_parse("Duration"), PP_MEASURE_UNKNOWN);
	assert_int_equal(pp_measure_parse(""), PP_MEASURE_UNKNOWN);
	assert_int_equal(pp_measure_parse(NULL), PP_MEASURE_UNKNOWN);

	assert_true(fabs(pp_measure_saving_ms(PP_MEASURE_DURATION, 1561, 1, 30) - 468.3) < 1e-9);
	assert_true(pp_measure_saving_ms(PP_MEASURE_TIME_TO_FIRST_TOKEN, 1561, 1, 30) == 0);
	assert_true(pp_measure_saving_ms(PP_MEASURE_COST, 1561, 1, 30) == 0);
	assert_true(pp_measure_saving_ms(PP_MEASURE_ERROR_RATE, 1561, 1, 30) == 0);
	assert_true(pp_measure_saving_ms(PP_MEASURE_UNKNOWN, 1561, 1, 30) == 0);

	/* worth suggesting: a duration saving of 0.1%; another measure for an
	 * operation holding 0.1%; error rate for one that failed */
	assert_true(pp_measure_worth(PP_MEASURE_DURATION, 0.1, 0, 0, 0.1));
	assert_false(pp_measure_worth(PP_MEASURE_DURATION, 0.0999, 50, 10, 0.1));
	assert_true(pp_measure_worth(PP_MEASURE_TIME_TO_FIRST_TOKEN, 0, 0.1, 0, 0.1));
	assert_false(pp_measure_worth(PP_MEASURE_TIME_TO_FIRST_TOKEN, 0, 0.0999, 0, 0.1));
	assert_true(pp_measure_worth(PP_MEASURE_COST, 0, 75, 0, 0.1));
	assert_false(pp_measure_worth(PP_MEASURE_COST, 0, 0.01, 0, 0.1));
	assert_true(pp_measure_worth(PP_MEASURE_ERROR_RATE, 0, 0, 1, 0.1));
	assert_false(pp_measure_worth(PP_MEASURE_ERROR_RATE, 0, 75, 0, 0.1));
	assert_false(pp_measure_worth(PP_MEASURE_UNKNOWN, 100, 100, 100, 0.1));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_worked_example),
		cmocka_unit_test(test_extremes),
		cmocka_unit_test(test_bounds_random),
		cmocka_unit_test(test_monotone),
		cmocka_unit_test(test_monotone_random_pairs),
		cmocka_unit_test(test_priority_bands),
		cmocka_unit_test(test_timelines),
		cmocka_unit_test(test_effort_weights),
		cmocka_unit_test(test_expected_saving),
		cmocka_unit_test(test_measures),
	};

	return cmocka_run_group_tests_name("score", tests, NULL, NULL);
}
