/*-------------------------------------------------------------------------
 *
 * test/unit/test_mann_whitney.c
 *	  cmocka tests of pp_sketch_acc_mann_whitney (src/core/sketch.c): small
 *	  examples worked by hand, identical and separated samples, ties within
 *	  a bin, the zero bucket, counts beyond 2^32, and agreement with a pair-by-pair count and the
 *	  textbook tie-corrected variance on random samples.
 *
 * Random inputs come from pp_rng with a fixed seed, so a failure
 * reproduces.
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
#include "sketch.h"
#include "trend.h"

/* the tests' memory context: released at the end of each test */
static pool_t pool;

#define assert_near(a, b, tol) \
	do { \
		double _a = (a), _b = (b); \
		if (!(fabs(_a - _b) <= (tol) * (1 + fabs(_b)))) \
			fail_msg("%s = %.17g, expected %.17g", #a, _a, _b); \
	} while (0)

/* An accumulator holding values v[0 .. n-1] */
static pp_sketch_acc_t *
acc_of(const double *v, int n)
{
	pp_sketch_acc_t *acc = pp_sketch_acc_create(&pool.allocator);
	int			i;

	assert_non_null(acc);
	for (i = 0; i < n; i++)
		assert_int_equal(pp_sketch_acc_add(acc, v[i]), PP_OK);
	return acc;
}

/* Test a against b, and b against a, which must be the mirror image */
static void
compare(const pp_sketch_acc_t *a, const pp_sketch_acc_t *b,
		pp_mann_whitney_t *mw)
{
	pp_mann_whitney_t rev;

	pp_sketch_acc_mann_whitney(a, b, mw);
	pp_sketch_acc_mann_whitney(b, a, &rev);
	assert_true(rev.n_a == mw->n_b && rev.n_b == mw->n_a);
	assert_near(rev.u, (double) mw->n_a * (double) mw->n_b - mw->u, 1e-12);
	assert_near(rev.effect, 1 - mw->effect, 1e-12);
	assert_near(rev.z, -mw->z, 1e-12);
	assert_near(rev.p, mw->p, 1e-12);
}

/*
 * a = {1, 2, 3}, b = {4, 5, 6}: each b value beats all three a values, U_b
 * = 9 = n_a n_b, effect 1.  No ties: sigma^2 = 3 * 3 / 12 * 7 = 5.25;
 * z = (9 - 4.5 - 0.5) / sqrt(5.25) = 1.7457431; p = erfc(z / sqrt 2) =
 * 0.0808556.
 */
static void
test_by_hand(void **state)
{
	double		va[] = {1, 2, 3};
	double		vb[] = {4, 5, 6};
	pp_sketch_acc_t *a = acc_of(va, 3);
	pp_sketch_acc_t *b = acc_of(vb, 3);
	pp_mann_whitney_t mw;

	(void) state;
	compare(a, b, &mw);
	assert_true(mw.n_a == 3 && mw.n_b == 3);
	assert_true(mw.u == 9.0);
	assert_true(mw.effect == 1.0);
	assert_near(mw.z, 4 / sqrt(5.25), 1e-12);
	assert_near(mw.p, 0.0808555983700523, 1e-9);
	pool_release(&pool);
}

/*
 * a = {1, 2, 3}, b = {3, 4, 5}: the 3s tie.  U_b = (2 + 1/2) + 3 + 3 =
 * 8.5, effect 8.5 / 9.  One tie group of t = 2: sigma^2 = 9 / 12 * (7 -
 * (8 - 2) / (6 * 5)) = 0.75 * 6.8 = 5.1; z = (8.5 - 4.5 - 0.5) / sqrt(5.1)
 * = 1.5498260; p = 0.1211833 (R: wilcox.test(c(3, 4, 5), c(1, 2, 3),
 * exact = FALSE) gives W = 8.5, p = 0.1212).
 */
static void
test_tie(void **state)
{
	double		va[] = {1, 2, 3};
	double		vb[] = {3, 4, 5};
	pp_sketch_acc_t *a = acc_of(va, 3);
	pp_sketch_acc_t *b = acc_of(vb, 3);
	pp_mann_whitney_t mw;

	(void) state;
	compare(a, b, &mw);
	assert_true(mw.u == 8.5);
	assert_near(mw.effect, 8.5 / 9, 1e-15);
	assert_near(mw.z, 3.5 / sqrt(5.1), 1e-12);
	assert_near(mw.p, 0.12118327283746322, 1e-9);
	pool_release(&pool);
}

/* Values in one bin (0.3% apart) tie; one bin further they do not */
static void
test_same_bin(void **state)
{
	double		va[] = {100};
	double		vb[] = {100.3};
	double		vc[] = {102};
	pp_sketch_acc_t *a = acc_of(va, 1);
	pp_sketch_acc_t *b = acc_of(vb, 1);
	pp_sketch_acc_t *c = acc_of(vc, 1);
	pp_mann_whitney_t mw;

	(void) state;
	assert_int_equal(pp_sketch_index_of(100), pp_sketch_index_of(100.3));
	assert_true(pp_sketch_index_of(102) > pp_sketch_index_of(100.3));
	compare(a, b, &mw);
	assert_true(mw.u == 0.5 && mw.effect == 0.5);
	assert_true(mw.z == 0.0 && mw.p == 1.0);	/* one bin: all tie */
	compare(a, c, &mw);
	assert_true(mw.u == 1.0 && mw.effect == 1.0);
	/* sigma^2 = 1 / 12 * 3 = 0.25; z = (1 - 0.5 - 0.5) / 0.5 = 0 */
	assert_true(mw.z == 0.0 && mw.p == 1.0);
	pool_release(&pool);
}

/*
 * The zero bucket (negatives, 0 and values up to ~1e-4 ms) is one tie
 * group below every bin: a = {-5, 0}, b = {1e-5, 1}: U_b = (0 + 2/2) + 2 =
 * 3, effect 3/4.
 */
static void
test_zero_bucket(void **state)
{
	double		va[] = {-5, 0};
	double		vb[] = {1e-5, 1};
	pp_sketch_acc_t *a = acc_of(va, 2);
	pp_sketch_acc_t *b = acc_of(vb, 2);
	pp_mann_whitney_t mw;

	(void) state;
	compare(a, b, &mw);
	assert_true(mw.u == 3.0);
	assert_true(mw.effect == 0.75);
	pool_release(&pool);
}

/* The same 500 values on both sides: effect 0.5, z 0, p 1 */
static void
test_identical(void **state)
{
	pp_sketch_acc_t *a = pp_sketch_acc_create(&pool.allocator);
	pp_sketch_acc_t *b = pp_sketch_acc_create(&pool.allocator);
	pp_mann_whitney_t mw;
	pp_rng_t	rng;
	int			i;

	(void) state;
	pp_rng_seed(&rng, 11);
	for (i = 0; i < 500; i++)
	{
		double		v = 50.0 * exp(2 * uniform(&rng));

		pp_sketch_acc_add(a, v);
		pp_sketch_acc_add(b, v);
	}
	compare(a, b, &mw);
	assert_true(mw.n_a == 500 && mw.n_b == 500);
	assert_true(mw.u == 125000.0);
	assert_true(mw.effect == 0.5);
	assert_true(mw.z == 0.0);
	assert_true(mw.p > 0.999);
	pool_release(&pool);
}

/*
 * a = 10 * 1.03^i ms, b = 10000 * 1.03^i ms, i < 100, every value in a bin
 * of its own: U_b = n_a n_b = 10000, effect 1.  No ties: sigma^2 = 10000 /
 * 12 * 201 = 167500; z = 4999.5 / sqrt(167500) = 12.2157, p ~ 2.5e-34.
 */
static void
test_separated(void **state)
{
	pp_sketch_acc_t *a = pp_sketch_acc_create(&pool.allocator);
	pp_sketch_acc_t *b = pp_sketch_acc_create(&pool.allocator);
	pp_mann_whitney_t mw;
	int			i;

	(void) state;
	for (i = 0; i < 100; i++)
	{
		double		v = pow(1.03, i);

		assert_true(i == 0 || pp_sketch_index_of(10 * v) >
					pp_sketch_index_of(10 * pow(1.03, i - 1)));
		pp_sketch_acc_add(a, 10 * v);
		pp_sketch_acc_add(b, 10000 * v);
	}
	compare(a, b, &mw);
	assert_true(mw.u == 10000.0);
	assert_true(mw.effect == 1.0);
	assert_near(mw.z, 4999.5 / sqrt(167500.0), 1e-12);
	assert_true(mw.p < 1e-30 && mw.p > 0);
	pool_release(&pool);
}

/* Either sample empty: p 1, z 0, effect 0.5 */
static void
test_empty(void **state)
{
	double		va[] = {1, 2, 3};
	pp_sketch_acc_t *a = acc_of(va, 3);
	pp_sketch_acc_t *e = pp_sketch_acc_create(&pool.allocator);
	pp_mann_whitney_t mw;

	(void) state;
	assert_non_null(e);
	compare(a, e, &mw);
	assert_true(mw.n_a == 3 && mw.n_b == 0);
	assert_true(mw.u == 0.0 && mw.effect == 0.5);
	assert_true(mw.z == 0.0 && mw.p == 1.0);
	compare(e, e, &mw);
	assert_true(mw.n_a == 0 && mw.effect == 0.5 && mw.p == 1.0);
	pool_release(&pool);
}

/*
 * Counts beyond 2^32 per bin: 3 x 4e9 values of 1 ms in a, 3 x 4e9 of 2 ms
 * in b; then identical.  The sums stay exact enough in doubles.
 */
static void
test_large_counts(void **state)
{
	pp_sketch_acc_t *a = pp_sketch_acc_create(&pool.allocator);
	pp_sketch_acc_t *b = pp_sketch_acc_create(&pool.allocator);
	pp_sketch_t *s = malloc(PP_SKETCH_SIZE(4));
	pp_mann_whitney_t mw;
	double		n = 3 * 4e9;
	int			i;

	(void) state;
	assert_non_null(s);
	for (i = 0; i < 3; i++)
	{
		pp_sketch_init(s, 4);
		assert_int_equal(pp_sketch_add_index_exact(s, pp_sketch_index_of(1.0),
												   4000000000u), PP_OK);
		assert_int_equal(pp_sketch_acc_add_sketch(a, s), PP_OK);
		pp_sketch_init(s, 4);
		assert_int_equal(pp_sketch_add_index_exact(s, pp_sketch_index_of(2.0),
												   4000000000u), PP_OK);
		assert_int_equal(pp_sketch_acc_add_sketch(b, s), PP_OK);
	}
	compare(a, b, &mw);
	assert_true(mw.n_a == 12000000000u && mw.n_b == 12000000000u);
	assert_true(mw.u == n * n);
	assert_true(mw.effect == 1.0);
	/* two groups of n: sigma^2 = n^2 / 12 * 6 n^3 / (2n (2n - 1)) */
	assert_near(mw.z, (n * n / 2 - 0.5) /
				sqrt(n * n / 12 * 6 * n * n * n / (2 * n * (2 * n - 1))),
				1e-9);
	assert_true(mw.p == 0.0);

	/* a fresh a with b's values: identical */
	a = pp_sketch_acc_create(&pool.allocator);
	for (i = 0; i < 3; i++)
	{
		pp_sketch_init(s, 4);
		assert_int_equal(pp_sketch_add_index_exact(s, pp_sketch_index_of(2.0),
												   4000000000u), PP_OK);
		assert_int_equal(pp_sketch_acc_add_sketch(a, s), PP_OK);
	}
	compare(a, b, &mw);
	assert_true(mw.effect == 0.5);
	assert_true(mw.z == 0.0 && mw.p == 1.0);
	free(s);
	pool_release(&pool);
}

/*
 * Random samples of 1 .. 60 values drawn from a handful of levels far
 * more than one bin apart (so bins resolve them exactly, with many ties):
 * U equals the pair-by-pair count (ties 1/2), and z the textbook formula
 * sigma^2 = n_a n_b / 12 ((N + 1) - sum (t^3 - t) / (N (N - 1))) computed
 * from the raw values.
 */
static void
test_random_against_pairs(void **state)
{
	pp_rng_t	rng;
	int			round;

	(void) state;
	pp_rng_seed(&rng, 2024);
	for (round = 0; round < 500; round++)
	{
		int			na = 1 + (int) (pp_rng_next(&rng) % 60);
		int			nb = 1 + (int) (pp_rng_next(&rng) % 60);
		int			levels = 1 + (int) (pp_rng_next(&rng) % 8);
		int			shift = (int) (pp_rng_next(&rng) % 3);
		double		va[60];
		double		vb[60];
		int			tie[12] = {0};
		pp_sketch_acc_t *a;
		pp_sketch_acc_t *b;
		pp_mann_whitney_t mw;
		double		u = 0;
		double		n = na + nb;
		double		tsum = 0;
		double		sigma2;
		double		d;
		int			i;
		int			j;

		for (i = 0; i < na; i++)
		{
			int			l = (int) (pp_rng_next(&rng) % levels);

			va[i] = 10.0 * (l + 1);
			tie[l]++;
		}
		for (i = 0; i < nb; i++)
		{
			int			l = (int) (pp_rng_next(&rng) % levels) + shift;

			vb[i] = 10.0 * (l + 1);
			tie[l]++;
		}
		for (i = 0; i < na; i++)
		{
			for (j = 0; j < nb; j++)
				u += vb[j] > va[i] ? 1.0 : vb[j] == va[i] ? 0.5 : 0.0;
		}
		for (i = 0; i < 12; i++)
			tsum += (double) tie[i] * tie[i] * tie[i] - tie[i];
		sigma2 = (double) na * nb / 12 * ((n + 1) - tsum / (n * (n - 1)));
		d = u - (double) na * nb / 2;
		d = d > 0.5 ? d - 0.5 : d < -0.5 ? d + 0.5 : 0;

		a = acc_of(va, na);
		b = acc_of(vb, nb);
		compare(a, b, &mw);
		if (mw.u != u)
			fail_msg("round %d: U %.17g, pairs %.17g", round, mw.u, u);
		assert_near(mw.effect, u / ((double) na * nb), 1e-12);
		if (sigma2 > 1e-9)
		{
			assert_near(mw.z, d / sqrt(sigma2), 1e-9);
			assert_near(mw.p, pp_normal_two_sided_p(d / sqrt(sigma2)), 1e-9);
		}
		else
		{
			assert_true(mw.z == 0.0 && mw.p == 1.0);
		}
		pool_release(&pool);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_by_hand),
		cmocka_unit_test(test_tie),
		cmocka_unit_test(test_same_bin),
		cmocka_unit_test(test_zero_bucket),
		cmocka_unit_test(test_identical),
		cmocka_unit_test(test_separated),
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_large_counts),
		cmocka_unit_test(test_random_against_pairs),
	};

	pool_init(&pool);
	return cmocka_run_group_tests_name("mann_whitney", tests, NULL, NULL);
}
