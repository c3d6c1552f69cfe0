/*-------------------------------------------------------------------------
 *
 * test/unit/test_trend.c
 *	  cmocka tests of src/core/trend.c: the Theil-Sen line (exact lines, an
 *	  outlier, duplicate x, agreement with a sort-based median on random
 *	  inputs full of ties, errors), the Mann-Kendall test (monotonic and
 *	  constant series, a small example worked by hand, short series,
 *	  errors) and the normal p-value.
 *
 * Every allocation goes through a counting allocator, which checks that
 * each call frees what it took, error paths included.  Random inputs come
 * from pp_rng with a fixed seed, so a failure reproduces.
 *
 * No PostgreSQL headers; allocation through pp_allocator_t.
 *
 *-------------------------------------------------------------------------
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>

#include "helpers.h"
#include "reservoir.h"
#include "trend.h"

#define assert_near(a, b, tol) \
	do { \
		double _a = (a), _b = (b); \
		if (!(fabs(_a - _b) <= (tol) * (1 + fabs(_b)))) \
			fail_msg("%s = %.17g, expected %.17g", #a, _a, _b); \
	} while (0)

/* ---------------------------------------------------------------------
 * Allocators
 * ---------------------------------------------------------------------
 */

/* malloc that counts live blocks, so a test can check nothing leaks */
static int	live_blocks;

static void *
counting_malloc(size_t size, void *ctx)
{
	void	   *p = malloc(size);

	(void) ctx;
	if (p != NULL)
		live_blocks++;
	return p;
}

static void
counting_free(void *ptr, void *ctx)
{
	(void) ctx;
	live_blocks--;
	free(ptr);
}

static const pp_allocator_t counting = {
	counting_malloc, counting_free, NULL
};

static void *
failing_malloc(size_t size, void *ctx)
{
	(void) size;
	(void) ctx;
	return NULL;
}

static void
failing_free(void *ptr, void *ctx)
{
	(void) ptr;
	(void) ctx;
	fail_msg("freed a block the failing allocator never gave");
}

static const pp_allocator_t failing = {
	failing_malloc, failing_free, NULL
};

/* Theil-Sen through the counting allocator; checks the balance */
static pp_error_code_t
theil_sen(const double *x, const double *y, int n, double *slope,
		  double *intercept)
{
	pp_error_code_t rc = pp_theil_sen(x, y, n, &counting, slope, intercept);

	assert_int_equal(live_blocks, 0);
	return rc;
}

static pp_error_code_t
mann_kendall(const double *y, int n, pp_mann_kendall_t *mk)
{
	pp_error_code_t rc = pp_mann_kendall(y, n, &counting, mk);

	assert_int_equal(live_blocks, 0);
	return rc;
}

/* ---------------------------------------------------------------------
 * Normal p-value
 * ---------------------------------------------------------------------
 */

static void
test_normal_p(void **state)
{
	(void) state;
	assert_true(pp_normal_two_sided_p(0.0) == 1.0);
	assert_near(pp_normal_two_sided_p(1.959963984540054), 0.05, 1e-12);
	assert_near(pp_normal_two_sided_p(-1.959963984540054), 0.05, 1e-12);
	assert_near(pp_normal_two_sided_p(3.2905267314919255), 0.001, 1e-9);
	/* 1 - erf(1/sqrt 2): P(|Z| >= 1) */
	assert_near(pp_normal_two_sided_p(1.0), 0.31731050786291415, 1e-12);
	assert_true(pp_normal_two_sided_p(40.0) < 1e-300);
	assert_true(pp_normal_two_sided_p(INFINITY) == 0.0);
}

/* ---------------------------------------------------------------------
 * Theil-Sen
 * ---------------------------------------------------------------------
 */

static void
test_theil_sen_exact_line(void **state)
{
	/* unevenly spaced, unsorted days */
	double		x[] = {3.5, 0, 10, 1, 2.25, 7, 4, 19.75};
	double		y[8];
	double		b;
	double		c;
	int			i;

	(void) state;
	for (i = 0; i < 8; i++)
		y[i] = 2.5 * x[i] - 3;
	assert_int_equal(theil_sen(x, y, 8, &b, &c), PP_OK);
	assert_near(b, 2.5, 1e-12);
	assert_near(c, -3, 1e-12);

	/* two points (one pair); a falling line; a flat one */
	assert_int_equal(theil_sen(x, y, 2, &b, &c), PP_OK);
	assert_near(b, 2.5, 1e-12);
	assert_near(c, -3, 1e-12);
	for (i = 0; i < 8; i++)
		y[i] = 100 - 0.125 * x[i];
	assert_int_equal(theil_sen(x, y, 8, &b, &c), PP_OK);
	assert_near(b, -0.125, 1e-12);
	assert_near(c, 100, 1e-12);
	for (i = 0; i < 8; i++)
		y[i] = 42;
	assert_int_equal(theil_sen(x, y, 8, &b, &c), PP_OK);
	assert_true(b == 0.0);
	assert_true(c == 42.0);
}

/*
 * 20 daily points on y = 1.5 x + 10 with +-0.1 of noise, one of them 1000
 * too high.  Least squares follows the outlier (checked, so the test means
 * something); Theil-Sen stays within 1% of 1.5.
 */
static void
test_theil_sen_outlier(void **state)
{
	double		x[20];
	double		y[20];
	double		mx = 0;
	double		my = 0;
	double		sxy = 0;
	double		sxx = 0;
	double		b;
	double		c;
	pp_rng_t	rng;
	int			i;

	(void) state;
	pp_rng_seed(&rng, 20240501);
	for (i = 0; i < 20; i++)
	{
		x[i] = i;
		y[i] = 1.5 * i + 10 + 0.2 * (uniform(&rng) - 0.5);
	}
	y[13] += 1000;

	for (i = 0; i < 20; i++)
	{
		mx += x[i] / 20;
		my += y[i] / 20;
	}
	for (i = 0; i < 20; i++)
	{
		sxy += (x[i] - mx) * (y[i] - my);
		sxx += (x[i] - mx) * (x[i] - mx);
	}
	assert_true(fabs(sxy / sxx - 1.5) > 0.15 * 1.5);

	assert_int_equal(theil_sen(x, y, 20, &b, &c), PP_OK);
	assert_true(fabs(b - 1.5) <= 0.01 * 1.5);
	assert_true(fabs(c - 10) <= 0.2);
}

/*
 * Two points per day, y = 2 x + {0, 0.5}.  The 12 pairs with distinct x
 * have slopes 2, 2.5, 1.5, 2 (days 0-1), the same (days 1-2) and 2, 2.25,
 * 1.75, 2 (days 0-2); sorted, the middle two are 2 and 2: slope 2.  The
 * residuals y - 2x are 0, 0.5, 0, 0.5, 0, 0.5: intercept (0 + 0.5) / 2 =
 * 0.25.  The three same-day pairs are skipped.
 */
static void
test_theil_sen_duplicate_x(void **state)
{
	double		x[] = {0, 0, 1, 1, 2, 2};
	double		y[] = {0, 0.5, 2, 2.5, 4, 4.5};
	double		b;
	double		c;

	(void) state;
	assert_int_equal(theil_sen(x, y, 6, &b, &c), PP_OK);
	assert_true(b == 2.0);
	assert_true(c == 0.25);
}

static int
cmp_double(const void *a, const void *b)
{
	double		x = *(const double *) a;
	double		y = *(const double *) b;

	return (x > y) - (x < y);
}

static double
sorted_median(double *v, size_t m)
{
	qsort(v, m, sizeof(double), cmp_double);
	if (m % 2 == 1)
		return v[m / 2];
	return 0.5 * v[m / 2 - 1] + 0.5 * v[m / 2];
}

/*
 * The selection-based medians agree exactly with sorting, on random series
 * of 2 .. 80 points whose x and y take few values (many tied slopes,
 * duplicate x), given in increasing, decreasing and shuffled x order.
 */
static void
test_theil_sen_random(void **state)
{
	pp_rng_t	rng;
	int			round;

	(void) state;
	pp_rng_seed(&rng, 7);
	for (round = 0; round < 600; round++)
	{
		int			n = 2 + (int) (pp_rng_next(&rng) % 79);
		int			levels = 1 + (int) (pp_rng_next(&rng) % 12);
		int			order = round % 3;
		double	   *x = malloc(n * sizeof(double));
		double	   *y = malloc(n * sizeof(double));
		double	   *v = malloc((size_t) n * n * sizeof(double));
		size_t		m = 0;
		double		b;
		double		c;
		double		eb;
		int			i;
		int			j;

		assert_non_null(x);
		assert_non_null(y);
		assert_non_null(v);
		for (i = 0; i < n; i++)
		{
			x[i] = order == 2 ? (double) (pp_rng_next(&rng) % (n / 2 + 1))
				: order == 0 ? i / 2 : (n - i) / 2;
			y[i] = (double) (pp_rng_next(&rng) % levels) * 0.75 + 0.5 * x[i];
		}
		for (i = 0; i < n; i++)
		{
			for (j = i + 1; j < n; j++)
			{
				if (x[j] != x[i])
					v[m++] = (y[j] - y[i]) / (x[j] - x[i]);
			}
		}
		if (m == 0)
		{
			assert_int_equal(theil_sen(x, y, n, &b, &c), PP_ERR_MISSING);
		}
		else
		{
			eb = sorted_median(v, m);
			for (i = 0; i < n; i++)
				v[i] = y[i] - eb * x[i];
			assert_int_equal(theil_sen(x, y, n, &b, &c), PP_OK);
			if (b != eb)
				fail_msg("round %d n %d: slope %.17g, sorted %.17g",
						 round, n, b, eb);
			assert_true(c == sorted_median(v, (size_t) n));
		}
		free(x);
		free(y);
		free(v);
	}
}

static void
test_theil_sen_errors(void **state)
{
	double		x[] = {1, 1, 1, 2};
	double		y[] = {5, 6, 7, 8};
	double		b = 0;
	double		c = 0;

	(void) state;
	/* too few points, or every x the same */
	assert_int_equal(theil_sen(x, y, 0, &b, &c), PP_ERR_MISSING);
	assert_true(isnan(b) && isnan(c));
	assert_int_equal(theil_sen(x, y, 1, &b, &c), PP_ERR_MISSING);
	assert_int_equal(theil_sen(x, y, 3, &b, &c), PP_ERR_MISSING);
	assert_true(isnan(b) && isnan(c));
	/* the fourth point gives three pairs, of slopes 3, 2 and 1 */
	assert_int_equal(theil_sen(x, y, 4, &b, &c), PP_OK);
	assert_true(b == 2.0);

	/* not finite */
	y[2] = NAN;
	assert_int_equal(theil_sen(x, y, 4, &b, &c), PP_ERR_INVALID_VALUE);
	y[2] = INFINITY;
	assert_int_equal(theil_sen(x, y, 4, &b, &c), PP_ERR_INVALID_VALUE);
	y[2] = 7;
	x[0] = -INFINITY;
	assert_int_equal(theil_sen(x, y, 4, &b, &c), PP_ERR_INVALID_VALUE);
	x[0] = 1;

	/* overflow: (y_j - y_i) and (x_j - x_i) both infinite */
	{
		double		bx[] = {-1e308, 1e308};
		double		by[] = {-1e308, 1e308};

		assert_int_equal(theil_sen(bx, by, 2, &b, &c), PP_ERR_OUT_OF_RANGE);
		assert_true(isnan(b) && isnan(c));
	}
	/* a slope that overflows */
	{
		double		bx[] = {0, 1e-300};
		double		by[] = {0, 1e300};

		assert_int_equal(theil_sen(bx, by, 2, &b, &c), PP_ERR_OUT_OF_RANGE);
	}

	/* out of memory */
	assert_int_equal(pp_theil_sen(x, y, 4, &failing, &b, &c),
					 PP_ERR_NO_MEMORY);
	assert_true(isnan(b) && isnan(c));

	/* a NULL allocator means malloc */
	assert_int_equal(pp_theil_sen(x, y, 4, NULL, &b, &c), PP_OK);
	assert_true(b == 2.0);
}

/* ---------------------------------------------------------------------
 * Mann-Kendall
 * ---------------------------------------------------------------------
 */

/* 1, 2, ..., 10: every pair rises */
static void
test_mann_kendall_increasing(void **state)
{
	double		y[10];
	pp_mann_kendall_t mk;
	int			i;

	(void) state;
	for (i = 0; i < 10; i++)
		y[i] = i + 1;
	assert_int_equal(mann_kendall(y, 10, &mk), PP_OK);
	assert_int_equal(mk.n, 10);
	assert_int_equal(mk.s, 45);
	assert_true(mk.tau == 1.0);
	assert_true(mk.var_s == 125.0);	/* 10 * 9 * 25 / 18 */
	assert_near(mk.z, 44 / sqrt(125.0), 1e-12);	/* 3.9355 */
	assert_true(mk.p < 0.001);
	assert_near(mk.p, 8.303070332644999e-05, 1e-9);

	/* reversed: the mirror image */
	for (i = 0; i < 10; i++)
		y[i] = 10 - i;
	assert_int_equal(mann_kendall(y, 10, &mk), PP_OK);
	assert_int_equal(mk.s, -45);
	assert_true(mk.tau == -1.0);
	assert_near(mk.z, -44 / sqrt(125.0), 1e-12);
	assert_near(mk.p, 8.303070332644999e-05, 1e-9);
}

/* every value tied: var_s is 0, which must not be divided by */
static void
test_mann_kendall_constant(void **state)
{
	double		y[12];
	pp_mann_kendall_t mk;
	int			i;

	(void) state;
	for (i = 0; i < 12; i++)
		y[i] = 3.25;
	assert_int_equal(mann_kendall(y, 12, &mk), PP_OK);
	assert_int_equal(mk.n, 12);
	assert_int_equal(mk.s, 0);
	assert_true(mk.var_s == 0.0);
	assert_true(mk.z == 0.0);
	assert_true(mk.p == 1.0);
	assert_true(mk.tau == 0.0);
}

/*
 * y = 1, 3, 2, 2, 5, by hand:
 *	 S: from 1: +1 +1 +1 +1 = 4; from 3: -1 -1 +1 = -1; from the first 2:
 *	    0 +1 = 1; from the second 2: +1.  S = 5, tau = 5 / 10 = 0.5.
 *	 var: one tie group of t = 2, 2 * 1 * 9 = 18;
 *	    (5 * 4 * 15 - 18) / 18 = 282 / 18 = 15.667.
 *	 z = (5 - 1) / sqrt(15.667) = 1.0105823; p = erfc(z / sqrt 2) = 0.312216.
 */
static void
test_mann_kendall_by_hand(void **state)
{
	double		y[] = {1, 3, 2, 2, 5};
	pp_mann_kendall_t mk;

	(void) state;
	assert_int_equal(mann_kendall(y, 5, &mk), PP_OK);
	assert_int_equal(mk.s, 5);
	assert_true(mk.tau == 0.5);
	assert_near(mk.var_s, 282.0 / 18.0, 1e-12);
	assert_near(mk.z, 1.0105823052798228, 1e-12);
	assert_near(mk.p, 0.31221638834331933, 1e-9);

	/* S = 1 is moved to 0 by the continuity correction */
	{
		double		y2[] = {1, 2, 2, 1, 3};	/* 3 + 0 + 0 + 1: S = 4 */
		double		y3[] = {2, 1, 3};	/* -1 +1 +1: S = 1 */

		assert_int_equal(mann_kendall(y2, 5, &mk), PP_OK);
		assert_int_equal(mk.s, 4);
		/* two tie groups of 2: (300 - 36) / 18 */
		assert_near(mk.var_s, 264.0 / 18.0, 1e-12);
		assert_near(mk.z, 3 / sqrt(264.0 / 18.0), 1e-12);
		assert_int_equal(mann_kendall(y3, 3, &mk), PP_OK);
		assert_int_equal(mk.s, 1);
		assert_true(mk.z == 0.0);
		assert_true(mk.p == 1.0);
	}
}

/* n < 3: p = 1, z = 0; S and tau still describe the pairs */
static void
test_mann_kendall_short(void **state)
{
	double		y[] = {1, 2};
	pp_mann_kendall_t mk;

	(void) state;
	assert_int_equal(mann_kendall(y, 2, &mk), PP_OK);
	assert_int_equal(mk.n, 2);
	assert_int_equal(mk.s, 1);
	assert_true(mk.tau == 1.0);
	assert_true(mk.z == 0.0);
	assert_true(mk.p == 1.0);

	assert_int_equal(mann_kendall(y, 1, &mk), PP_OK);
	assert_int_equal(mk.n, 1);
	assert_int_equal(mk.s, 0);
	assert_true(mk.p == 1.0);
	assert_true(mk.tau == 0.0);
	assert_int_equal(mann_kendall(NULL, 0, &mk), PP_OK);
	assert_int_equal(mk.n, 0);
	assert_true(mk.p == 1.0);
}

/*
 * Infinities are ordered values; NaN is refused; allocation failure is
 * reported.  A noisy rising series of 200 points is found significant, a
 * shuffled one is not.
 */
static void
test_mann_kendall_edges(void **state)
{
	double		y[] = {-INFINITY, 0, 1, INFINITY};
	double		series[200];
	pp_mann_kendall_t mk;
	pp_rng_t	rng;
	int			i;

	(void) state;
	assert_int_equal(mann_kendall(y, 4, &mk), PP_OK);
	assert_int_equal(mk.s, 6);
	y[1] = NAN;
	assert_int_equal(mann_kendall(y, 4, &mk), PP_ERR_INVALID_VALUE);
	assert_int_equal(mk.n, 0);
	assert_true(mk.p == 1.0);
	y[1] = 0;
	assert_int_equal(pp_mann_kendall(y, 4, &failing, &mk), PP_ERR_NO_MEMORY);
	assert_true(mk.p == 1.0 && mk.s == 0);
	assert_int_equal(pp_mann_kendall(y, 4, NULL, &mk), PP_OK);
	assert_int_equal(mk.s, 6);

	pp_rng_seed(&rng, 99);
	for (i = 0; i < 200; i++)
		series[i] = 0.02 * i + uniform(&rng);
	assert_int_equal(mann_kendall(series, 200, &mk), PP_OK);
	assert_true(mk.s > 0 && mk.tau > 0.5 && mk.p < 1e-10);
	assert_true(fabs(mk.tau) <= 1.0);

	for (i = 0; i < 200; i++)
		series[i] = uniform(&rng);
	assert_int_equal(mann_kendall(series, 200, &mk), PP_OK);
	assert_true(mk.p > 0.01);
}

/* Medians by selection against a sorted copy; odd, even, ties, n = 1 */
static void
test_median(void **state)
{
	double		one[] = {7};
	double		odd[] = {5, 1, 4, 2, 3};
	double		even[] = {10, 1, 4, 3};
	double		ties[] = {2, 2, 2, 9, 2, 9};
	double		v[301];
	double		s[301];
	pp_rng_t	rng;
	int			round;

	(void) state;
	assert_true(pp_median(one, 1) == 7);
	assert_true(pp_median(odd, 5) == 3);
	assert_true(pp_median(even, 4) == 3.5);
	assert_true(pp_median(ties, 6) == 2);
	pp_rng_seed(&rng, 5);
	for (round = 0; round < 200; round++)
	{
		int			n = 1 + (int) (pp_rng_next(&rng) % 301);
		double		expect;
		int			i;

		for (i = 0; i < n; i++)
			v[i] = s[i] = floor(uniform(&rng) * 50);	/* many ties */
		qsort(s, n, sizeof(double), cmp_double);
		expect = n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
		assert_true(pp_median(v, (size_t) n) == expect);
	}
}

/* var_samp: NaN below two values, exact on small cases, never negative */
static void
test_sample_variance(void **state)
{
	(void) state;
	assert_true(isnan(pp_sample_variance(0, 0, 0)));
	assert_true(isnan(pp_sample_variance(1, 5, 25)));
	/* {1, 2, 3, 4}: mean 2.5, var_samp 5/3 */
	assert_true(fabs(pp_sample_variance(4, 10, 30) - 5.0 / 3) < 1e-15);
	/* equal values: 0; a sum of squares that rounding left too small: 0 */
	assert_true(pp_sample_variance(3, 6, 12) == 0);
	assert_true(pp_sample_variance(2, 2, 1.9) == 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_normal_p),
		cmocka_unit_test(test_theil_sen_exact_line),
		cmocka_unit_test(test_theil_sen_outlier),
		cmocka_unit_test(test_theil_sen_duplicate_x),
		cmocka_unit_test(test_theil_sen_random),
		cmocka_unit_test(test_theil_sen_errors),
		cmocka_unit_test(test_mann_kendall_increasing),
		cmocka_unit_test(test_mann_kendall_constant),
		cmocka_unit_test(test_mann_kendall_by_hand),
		cmocka_unit_test(test_mann_kendall_short),
		cmocka_unit_test(test_mann_kendall_edges),
		cmocka_unit_test(test_median),
		cmocka_unit_test(test_sample_variance),
	};

	return cmocka_run_group_tests_name("trend", tests, NULL, NULL);
}
