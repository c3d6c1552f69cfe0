/*-------------------------------------------------------------------------
 *
 * test/unit/test_sketch.c
 *	  cmocka tests of src/core/sketch.c: the relative-error bound against
 *	  exact percentile_disc order statistics, exact merge and subtraction,
 *	  collapsing, and validation of corrupted sketches.
 *
 * Every random input comes from pp_rng with a fixed seed, so a failure
 * reproduces.  The bound checked is the documented one: for a quantile not
 * flagged collapsed, |estimate - exact| <= alpha * exact (plus 1e-9 relative
 * for rounding on bin edges); for exact values in the zero bucket the
 * estimate is 0.
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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reservoir.h"
#include "sketch.h"

#define NQ	1001				/* quantiles checked: q = 0, 0.001, ..., 1 */

/* ---------------------------------------------------------------------
 * Helpers
 * ---------------------------------------------------------------------
 */

static double
gauss(pp_rng_t *rng)
{
	double		u1 = 1.0 - pp_rng_double(rng);	/* (0, 1] */
	double		u2 = pp_rng_double(rng);

	return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

typedef enum dist_t
{
	DIST_UNIFORM,				/* uniform 0 .. 1000 ms */
	DIST_LOGNORMAL,				/* median 100 ms, sigma 1 */
	DIST_EXPONENTIAL,			/* mean 50 ms */
	DIST_BIMODAL,				/* 70% ~5 ms, 30% ~800 ms */
	DIST_ZEROS,					/* 30% exact zeros, rest lognormal */
	DIST_WIDE,					/* log-uniform 0.001 .. 1e6 ms */
	NDIST
} dist_t;

static const char *const dist_name[NDIST] = {
	"uniform", "lognormal", "exponential", "bimodal", "zeros", "wide"
};

static double
draw(pp_rng_t *rng, dist_t d)
{
	switch (d)
	{
		case DIST_UNIFORM:
			return 1000.0 * pp_rng_double(rng);
		case DIST_LOGNORMAL:
			return 100.0 * exp(gauss(rng));
		case DIST_EXPONENTIAL:
			return -50.0 * log(1.0 - pp_rng_double(rng));
		case DIST_BIMODAL:
			if (pp_rng_double(rng) < 0.7)
				return 5.0 * exp(0.3 * gauss(rng));
			return 800.0 * exp(0.2 * gauss(rng));
		case DIST_ZEROS:
			if (pp_rng_double(rng) < 0.3)
				return 0.0;
			return 20.0 * exp(gauss(rng));
		case DIST_WIDE:
			return 0.001 * pow(10.0, 9.0 * pp_rng_double(rng));
		case NDIST:
			break;
	}
	return 0.0;
}

static int
cmp_double(const void *a, const void *b)
{
	double		x = *(const double *) a;
	double		y = *(const double *) b;

	return (x > y) - (x < y);
}

/* percentile_disc over sorted values: x[max(1, ceil(q n)) - 1] */
static double
exact_quantile(const double *sorted, size_t n, double q)
{
	double		r = ceil(q * (double) n);
	size_t		rank = r < 1.0 ? 1 : (size_t) r;

	if (rank > n)
		rank = n;
	return sorted[rank - 1];
}

static bool
within_bound(double est, double exact)
{
	if (exact <= PP_SKETCH_ZERO_MAX_MS)
		return est <= PP_SKETCH_ZERO_MAX_MS * (1 + PP_SKETCH_ALPHA);
	return fabs(est - exact) <= PP_SKETCH_ALPHA * exact * (1.0 + 1e-9);
}

static double
q_at(int i)
{
	return (double) i / (NQ - 1);
}

static double *
make_values(uint64_t seed, dist_t d, size_t n)
{
	pp_rng_t	rng;
	double	   *v = malloc(n * sizeof(double));
	size_t		i;

	assert_non_null(v);
	pp_rng_seed(&rng, seed);
	for (i = 0; i < n; i++)
		v[i] = draw(&rng, d);
	return v;
}

static double *
sorted_copy(const double *v, size_t n)
{
	double	   *s = malloc(n * sizeof(double));

	assert_non_null(s);
	memcpy(s, v, n * sizeof(double));
	qsort(s, n, sizeof(double), cmp_double);
	return s;
}

static void
assert_valid(const pp_sketch_t *s)
{
	pp_error_t	err;

	memset(&err, 0, sizeof(err));
	if (pp_sketch_validate(s, &err) != PP_OK)
		fail_msg("invalid sketch: %s: %s", err.path, err.text);
}

/* Allocator that fails every call */
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
}

static const pp_allocator_t failing_allocator = {
	failing_malloc, failing_free, NULL
};

/* ---------------------------------------------------------------------
 * Bin map
 * ---------------------------------------------------------------------
 */

static void
test_bin_map_range(void **state)
{
	pp_rng_t	rng;
	int			i;

	(void) state;

	/* documented range: 0.001 ms .. 1e9 ms resolvable, not clamped */
	assert_true(pp_sketch_index_of(0.001) > 1);
	assert_true(pp_sketch_index_of(1e9) < PP_SKETCH_NBINS);
	assert_int_equal(pp_sketch_index_of(1e12), PP_SKETCH_NBINS);
	assert_int_equal(pp_sketch_index_of(INFINITY), PP_SKETCH_NBINS);

	/* zero bucket: 0, negatives, NaN, tiny values; its documented edge */
	assert_int_equal(pp_sketch_index_of(0.0), 0);
	assert_int_equal(pp_sketch_index_of(-5.0), 0);
	assert_int_equal(pp_sketch_index_of(NAN), 0);
	assert_int_equal(pp_sketch_index_of(5e-5), 0);
	assert_int_equal(pp_sketch_index_of(PP_SKETCH_ZERO_MAX_MS * 0.9999), 0);
	assert_int_equal(pp_sketch_index_of(PP_SKETCH_ZERO_MAX_MS * 1.0001), 1);
	assert_int_equal(pp_sketch_index_of(1e-4), 1);

	/* KEY_MIN is ceil(log_gamma(1e-4)), as the header says */
	assert_int_equal((int) ceil(log(1e-4) /
								log((1 + PP_SKETCH_ALPHA) /
									(1 - PP_SKETCH_ALPHA))),
					 PP_SKETCH_KEY_MIN);

	/* every representative is within alpha of every value mapped to it */
	pp_rng_seed(&rng, 1);
	for (i = 0; i < 200000; i++)
	{
		double		x = 0.001 * pow(10.0, 12.0 * pp_rng_double(&rng));
		double		v = pp_sketch_index_value(pp_sketch_index_of(x));

		if (!within_bound(v, x))
			fail_msg("x=%.17g -> %.17g (rel %.3g)", x, v, fabs(v - x) / x);
	}

	/* monotone map */
	for (i = 1; i < PP_SKETCH_NBINS; i++)
		assert_true(pp_sketch_index_value(i) < pp_sketch_index_value(i + 1));
}

/* ---------------------------------------------------------------------
 * Accuracy
 * ---------------------------------------------------------------------
 */

/*
 * Dense accumulator: every quantile of every distribution within the bound.
 * The fixed sketch: every quantile not flagged collapsed within the bound,
 * every collapsed one an upper bound; and where nothing collapsed, the same
 * answer as the accumulator.
 */
static void
check_distribution(dist_t d, size_t n, uint64_t seed, double *worst)
{
	double	   *v = make_values(seed, d, n);
	double	   *sorted = sorted_copy(v, n);
	pp_sketch_acc_t *acc = pp_sketch_acc_create(NULL);
	pp_sketch_t s;
	size_t		i;
	int			k;

	assert_non_null(acc);
	pp_sketch_init(&s);
	for (i = 0; i < n; i++)
	{
		assert_int_equal(pp_sketch_acc_add(acc, v[i]), PP_OK);
		assert_int_equal(pp_sketch_add(&s, v[i]), PP_OK);
	}
	assert_valid(&s);
	assert_int_equal(pp_sketch_acc_count(acc), n);
	assert_int_equal(pp_sketch_count(&s), n);

	for (k = 0; k < NQ; k++)
	{
		double		q = q_at(k);
		double		exact = exact_quantile(sorted, n, q);
		double		est;
		double		fest;
		int			flags;

		assert_int_equal(pp_sketch_acc_quantile_ex(acc, q, &est, &flags),
						 PP_OK);
		if (!within_bound(est, exact))
			fail_msg("%s n=%zu acc q=%g: exact %.17g est %.17g",
					 dist_name[d], n, q, exact, est);
		if (exact > PP_SKETCH_ZERO_MAX_MS &&
			fabs(est - exact) / exact > *worst)
			*worst = fabs(est - exact) / exact;

		assert_int_equal(pp_sketch_quantile_ex(&s, q, &fest, &flags), PP_OK);
		if (flags & PP_SKETCH_Q_COLLAPSED)
		{
			if (fest < exact * (1 - PP_SKETCH_ALPHA) * (1 - 1e-9))
				fail_msg("%s n=%zu fixed q=%g: collapsed %.17g < exact %.17g",
						 dist_name[d], n, q, fest, exact);
		}
		else
		{
			if (!within_bound(fest, exact))
				fail_msg("%s n=%zu fixed q=%g: exact %.17g est %.17g",
						 dist_name[d], n, q, exact, fest);
			if (s.collapsed_count == 0)
				assert_true(fest == est);
		}
	}
	pp_sketch_acc_free(acc);
	free(sorted);
	free(v);
}

static void
test_accuracy_distributions(void **state)
{
	static const size_t sizes[] = {1, 2, 7, 60, 100, 1000, 20000};
	double		worst = 0.0;
	int			d;
	size_t		i;

	(void) state;
	for (d = 0; d < NDIST; d++)
		for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
			check_distribution((dist_t) d, sizes[i], 1000 + d * 31 + i,
							   &worst);
	print_message("worst relative error over all quantiles: %.9f "
				  "(bound %.3f)\n", worst, PP_SKETCH_ALPHA);
	assert_true(worst <= PP_SKETCH_ALPHA * (1 + 1e-9));
}

/* percentile_disc's lower-rank definition on a hand-checked example */
static void
test_percentile_disc_definition(void **state)
{
	pp_sketch_t s;
	int			i;

	(void) state;
	pp_sketch_init(&s);
	for (i = 1; i <= 10; i++)
		assert_int_equal(pp_sketch_add(&s, (double) i), PP_OK);
	/* SELECT percentile_disc(q) WITHIN GROUP (ORDER BY x) over 1..10 */
	assert_true(within_bound(pp_sketch_quantile(&s, 0.0), 1.0));
	assert_true(within_bound(pp_sketch_quantile(&s, 0.1), 1.0));
	assert_true(within_bound(pp_sketch_quantile(&s, 0.11), 2.0));
	assert_true(within_bound(pp_sketch_quantile(&s, 0.5), 5.0));
	assert_true(within_bound(pp_sketch_quantile(&s, 0.51), 6.0));
	assert_true(within_bound(pp_sketch_quantile(&s, 0.95), 10.0));
	assert_true(within_bound(pp_sketch_quantile(&s, 1.0), 10.0));
}

static void
test_quantile_edges(void **state)
{
	pp_sketch_t s;
	pp_sketch_acc_t *acc;
	double		v;
	int			flags;

	(void) state;
	pp_sketch_init(&s);
	assert_int_equal(pp_sketch_quantile_ex(&s, 0.5, &v, &flags),
					 PP_ERR_MISSING);
	assert_true(isnan(v));
	assert_true(isnan(pp_sketch_quantile(&s, 0.5)));

	assert_int_equal(pp_sketch_add(&s, 42.0), PP_OK);
	assert_int_equal(pp_sketch_quantile_ex(&s, -0.1, &v, NULL),
					 PP_ERR_OUT_OF_RANGE);
	assert_int_equal(pp_sketch_quantile_ex(&s, 1.1, &v, NULL),
					 PP_ERR_OUT_OF_RANGE);
	assert_int_equal(pp_sketch_quantile_ex(&s, NAN, &v, NULL),
					 PP_ERR_OUT_OF_RANGE);
	assert_true(isnan(v));
	assert_true(within_bound(pp_sketch_quantile(&s, 0.0), 42.0));
	assert_true(within_bound(pp_sketch_quantile(&s, 1.0), 42.0));

	/* NaN and infinities are refused and change nothing */
	assert_int_equal(pp_sketch_add(&s, NAN), PP_ERR_INVALID_VALUE);
	assert_int_equal(pp_sketch_add(&s, INFINITY), PP_ERR_INVALID_VALUE);
	assert_int_equal(pp_sketch_add(&s, -INFINITY), PP_ERR_INVALID_VALUE);
	assert_int_equal(pp_sketch_remove(&s, NAN), PP_ERR_INVALID_VALUE);
	assert_int_equal(pp_sketch_count(&s), 1);

	/* negatives go to the zero bucket */
	assert_int_equal(pp_sketch_add(&s, -3.0), PP_OK);
	assert_int_equal(pp_sketch_quantile_ex(&s, 0.0, &v, &flags), PP_OK);
	assert_true(v == 0.0);
	assert_int_equal(flags, PP_SKETCH_Q_ZERO);

	/* beyond the top bin: clamped and flagged */
	assert_int_equal(pp_sketch_add(&s, 1e15), PP_OK);
	assert_int_equal(pp_sketch_quantile_ex(&s, 1.0, &v, &flags), PP_OK);
	assert_int_equal(flags, PP_SKETCH_Q_CLAMPED);
	assert_true(v > 2e9 && v < 2.2e9);
	assert_valid(&s);

	/* per-bin count overflow is refused, sketch unchanged */
	pp_sketch_init(&s);
	assert_int_equal(pp_sketch_add_n(&s, 7.0, UINT32_MAX), PP_OK);
	assert_int_equal(pp_sketch_add(&s, 7.0), PP_ERR_OUT_OF_RANGE);
	assert_int_equal(pp_sketch_count(&s), UINT32_MAX);
	assert_valid(&s);
	{
		pp_sketch_t t = s;

		assert_int_equal(pp_sketch_merge(&t, &s), PP_ERR_OUT_OF_RANGE);
		assert_memory_equal(&t, &s, sizeof(s));
	}

	/* accumulator: same edges; failing allocator gives NULL */
	assert_null(pp_sketch_acc_create(&failing_allocator));
	acc = pp_sketch_acc_create(NULL);
	assert_non_null(acc);
	assert_int_equal(pp_sketch_acc_quantile_ex(acc, 0.5, &v, NULL),
					 PP_ERR_MISSING);
	assert_int_equal(pp_sketch_acc_add(acc, NAN), PP_ERR_INVALID_VALUE);
	assert_int_equal(pp_sketch_acc_remove(acc, 1.0), PP_ERR_OUT_OF_RANGE);
	assert_int_equal(pp_sketch_acc_add(acc, 3.0), PP_OK);
	assert_int_equal(pp_sketch_acc_quantile_ex(acc, 2.0, &v, NULL),
					 PP_ERR_OUT_OF_RANGE);
	assert_true(within_bound(pp_sketch_acc_quantile(acc, 0.5), 3.0));
	assert_int_equal(pp_sketch_acc_remove(acc, 3.0), PP_OK);
	assert_int_equal(pp_sketch_acc_count(acc), 0);
	pp_sketch_acc_free(acc);
	pp_sketch_acc_free(NULL);
}

/* ---------------------------------------------------------------------
 * Merge and subtract
 * ---------------------------------------------------------------------
 */

/* merge of parts == adding every value, bit for bit, with or without collapse */
static void
test_merge_equals_add(void **state)
{
	static const size_t sizes[] = {50, 100, 5000};
	int			d;
	size_t		z;

	(void) state;
	for (d = 0; d < NDIST; d++)
		for (z = 0; z < sizeof(sizes) / sizeof(sizes[0]); z++)
		{
			size_t		n = sizes[z];
			double	   *v = make_values(77 + d + z, (dist_t) d, n);
			pp_sketch_t all;
			pp_sketch_t part[3];
			pp_sketch_t merged;
			pp_sketch_acc_t *acc_all = pp_sketch_acc_create(NULL);
			pp_sketch_acc_t *acc_parts = pp_sketch_acc_create(NULL);
			pp_rng_t	rng;
			size_t		i;
			int			k;

			pp_rng_seed(&rng, 5 + z);
			pp_sketch_init(&all);
			for (k = 0; k < 3; k++)
				pp_sketch_init(&part[k]);
			for (i = 0; i < n; i++)
			{
				assert_int_equal(pp_sketch_add(&all, v[i]), PP_OK);
				assert_int_equal(pp_sketch_add(&part[pp_rng_next(&rng) % 3],
											   v[i]), PP_OK);
				assert_int_equal(pp_sketch_acc_add(acc_all, v[i]), PP_OK);
			}
			pp_sketch_init(&merged);
			for (k = 0; k < 3; k++)
			{
				assert_int_equal(pp_sketch_merge(&merged, &part[k]), PP_OK);
				assert_valid(&merged);
				assert_int_equal(pp_sketch_acc_add_sketch(acc_parts, &part[k]),
								 PP_OK);
			}
			assert_memory_equal(&merged, &all, sizeof(all));

			/* accumulator fed sketches vs values: same quantiles where exact */
			assert_int_equal(pp_sketch_acc_count(acc_parts), n);
			for (k = 0; k < NQ; k++)
			{
				double		a;
				double		b;
				int			fa;
				int			fb;

				assert_int_equal(pp_sketch_acc_quantile_ex(acc_parts, q_at(k),
														   &a, &fa), PP_OK);
				assert_int_equal(pp_sketch_acc_quantile_ex(acc_all, q_at(k),
														   &b, &fb), PP_OK);
				if (!(fa & PP_SKETCH_Q_COLLAPSED))
					assert_true(a == b);
			}
			pp_sketch_acc_free(acc_all);
			pp_sketch_acc_free(acc_parts);
			free(v);
		}
}

/* A + B - B == A exactly (no collapse); removing every value gives init */
static void
test_subtract_inverse(void **state)
{
	double	   *x = make_values(11, DIST_ZEROS, 60);
	double	   *y = make_values(12, DIST_LOGNORMAL, 40);
	pp_sketch_t a;
	pp_sketch_t b;
	pp_sketch_t ab;
	pp_sketch_t empty;
	pp_sketch_t before;
	pp_sketch_acc_t *acc = pp_sketch_acc_create(NULL);
	double		qa[NQ];
	int			i;

	(void) state;
	pp_sketch_init(&a);
	pp_sketch_init(&b);
	pp_sketch_init(&empty);
	for (i = 0; i < 60; i++)
		assert_int_equal(pp_sketch_add(&a, x[i]), PP_OK);
	for (i = 0; i < 40; i++)
		assert_int_equal(pp_sketch_add(&b, y[i]), PP_OK);
	assert_int_equal(a.collapsed_count + b.collapsed_count, 0);
	for (i = 0; i < NQ; i++)
		qa[i] = pp_sketch_quantile(&a, q_at(i));

	ab = a;
	assert_int_equal(pp_sketch_merge(&ab, &b), PP_OK);
	assert_int_equal(pp_sketch_subtract(&ab, &b), PP_OK);
	assert_memory_equal(&ab, &a, sizeof(a));
	assert_int_equal(pp_sketch_count(&ab), 60);
	for (i = 0; i < NQ; i++)
		assert_true(pp_sketch_quantile(&ab, q_at(i)) == qa[i]);

	/* underflow: b is not in a; refused, a unchanged */
	before = a;
	assert_int_equal(pp_sketch_subtract(&a, &b), PP_ERR_OUT_OF_RANGE);
	assert_memory_equal(&a, &before, sizeof(a));
	assert_int_equal(pp_sketch_remove(&a, 123456.0), PP_ERR_OUT_OF_RANGE);
	assert_memory_equal(&a, &before, sizeof(a));

	/* value by value, in another order, back to the initial state */
	for (i = 59; i >= 0; i--)
		assert_int_equal(pp_sketch_remove(&a, x[i]), PP_OK);
	assert_memory_equal(&a, &empty, sizeof(a));
	assert_int_equal(pp_sketch_remove(&a, 0.0), PP_ERR_OUT_OF_RANGE);

	/* add_n / remove_n */
	assert_int_equal(pp_sketch_add_n(&a, 3.5, 10), PP_OK);
	assert_int_equal(pp_sketch_remove_n(&a, 3.5, 11), PP_ERR_OUT_OF_RANGE);
	assert_int_equal(pp_sketch_remove_n(&a, 3.5, 10), PP_OK);
	assert_memory_equal(&a, &empty, sizeof(a));

	/* accumulator: add two sketches, subtract one, same as the other */
	assert_int_equal(pp_sketch_acc_add_sketch(acc, &ab), PP_OK);
	assert_int_equal(pp_sketch_acc_add_sketch(acc, &b), PP_OK);
	assert_int_equal(pp_sketch_acc_subtract_sketch(acc, &b), PP_OK);
	assert_int_equal(pp_sketch_acc_count(acc), 60);
	for (i = 0; i < NQ; i++)
		assert_true(pp_sketch_acc_quantile(acc, q_at(i)) == qa[i]);
	assert_int_equal(pp_sketch_acc_subtract_sketch(acc, &b),
					 PP_ERR_OUT_OF_RANGE);
	assert_int_equal(pp_sketch_acc_count(acc), 60);
	assert_int_equal(pp_sketch_acc_subtract_sketch(acc, &ab), PP_OK);
	assert_int_equal(pp_sketch_acc_count(acc), 0);

	pp_sketch_acc_free(acc);
	free(x);
	free(y);
}

/* ---------------------------------------------------------------------
 * Collapsing
 * ---------------------------------------------------------------------
 */

static void
test_collapse(void **state)
{
	size_t		n = 10000;
	double	   *v = make_values(21, DIST_LOGNORMAL, n);
	double	   *sorted = sorted_copy(v, n);
	pp_sketch_t s;
	pp_sketch_t t;
	int			k;
	size_t		i;
	double		first_exact_q = -1;

	(void) state;
	pp_sketch_init(&s);
	for (i = 0; i < n; i++)
		assert_int_equal(pp_sketch_add(&s, v[i]), PP_OK);
	assert_valid(&s);
	assert_int_equal(s.nbins, PP_SKETCH_CAPACITY);
	assert_true(s.collapsed_count > 0);
	assert_int_equal(pp_sketch_count(&s), n);

	/* add order does not matter: sorted order gives the same bytes */
	pp_sketch_init(&t);
	for (i = 0; i < n; i++)
		assert_int_equal(pp_sketch_add(&t, sorted[n - 1 - i]), PP_OK);
	assert_memory_equal(&s, &t, sizeof(s));

	/* upper quantiles keep the bound; collapsed ones are upper bounds */
	for (k = 0; k < NQ; k++)
	{
		double		q = q_at(k);
		double		exact = exact_quantile(sorted, n, q);
		double		est;
		int			flags;

		assert_int_equal(pp_sketch_quantile_ex(&s, q, &est, &flags), PP_OK);
		if (flags & PP_SKETCH_Q_COLLAPSED)
		{
			assert_true(first_exact_q < 0);	/* collapsed ones come first */
			assert_true(est >= exact * (1 - PP_SKETCH_ALPHA));
		}
		else
		{
			if (first_exact_q < 0)
				first_exact_q = q;
			assert_true(within_bound(est, exact));
		}
	}
	print_message("lognormal sigma 1, n %zu, capacity %d: %llu collapsed, "
				  "bound holds from q = %.3f\n", n, PP_SKETCH_CAPACITY,
				  (unsigned long long) s.collapsed_count, first_exact_q);
	assert_true(first_exact_q >= 0 && first_exact_q <= 0.95);

	/* removal of every value, collapsed ones included, gives init */
	for (i = 0; i < n; i++)
		assert_int_equal(pp_sketch_remove(&s, v[i]), PP_OK);
	pp_sketch_init(&t);
	assert_memory_equal(&s, &t, sizeof(s));

	free(sorted);
	free(v);
}

/* merge then subtract with collapse: counts exact, then empty again */
static void
test_collapse_subtract(void **state)
{
	double	   *x = make_values(31, DIST_WIDE, 3000);
	double	   *y = make_values(32, DIST_BIMODAL, 3000);
	double	   *ys = sorted_copy(y, 3000);
	pp_sketch_t a;
	pp_sketch_t b;
	pp_sketch_t ab;
	pp_sketch_t empty;
	int			i;

	(void) state;
	pp_sketch_init(&a);
	pp_sketch_init(&b);
	pp_sketch_init(&empty);
	for (i = 0; i < 3000; i++)
	{
		assert_int_equal(pp_sketch_add(&a, x[i]), PP_OK);
		assert_int_equal(pp_sketch_add(&b, y[i]), PP_OK);
	}
	ab = b;
	assert_int_equal(pp_sketch_merge(&ab, &a), PP_OK);
	assert_valid(&ab);
	assert_int_equal(pp_sketch_subtract(&ab, &a), PP_OK);
	assert_valid(&ab);
	assert_int_equal(pp_sketch_count(&ab), 3000);
	assert_true(ab.collapse_index >= b.collapse_index);
	/* what is not collapsed is still b's distribution within the bound */
	for (i = 0; i < NQ; i++)
	{
		double		est;
		int			flags;
		double		exact = exact_quantile(ys, 3000, q_at(i));

		assert_int_equal(pp_sketch_quantile_ex(&ab, q_at(i), &est, &flags),
						 PP_OK);
		if (flags & PP_SKETCH_Q_COLLAPSED)
			assert_true(est >= exact * (1 - PP_SKETCH_ALPHA));
		else
			assert_true(within_bound(est, exact));
	}
	assert_int_equal(pp_sketch_subtract(&ab, &b), PP_OK);
	assert_memory_equal(&ab, &empty, sizeof(ab));

	free(x);
	free(y);
	free(ys);
}

/*
 * src collapsed further than dst: dst is collapsed up to src's index first.
 * src = {low} + 128 high bins, built so that it still carries the collapse
 * index of a removed set of low values; dst holds the same values, added
 * directly, and has collapsed less.
 */
static void
test_subtract_more_collapsed_src(void **state)
{
	pp_sketch_t src;
	pp_sketch_t dst;
	pp_sketch_t empty;
	pp_sketch_acc_t *acc = pp_sketch_acc_create(NULL);
	int			i;

	(void) state;
	pp_sketch_init(&src);
	pp_sketch_init(&dst);
	pp_sketch_init(&empty);
	for (i = 0; i < 50; i++)	/* 50 low bins: 1.0 .. ~1.6 ms */
		assert_int_equal(pp_sketch_add(&src, exp(i * 0.0101)), PP_OK);
	for (i = 0; i < PP_SKETCH_CAPACITY; i++)	/* high bins from 100 ms */
		assert_int_equal(pp_sketch_add(&src, 100 * exp(i * 0.0101)), PP_OK);
	for (i = 1; i < 50; i++)	/* keep only the lowest value, 1.0 ms */
		assert_int_equal(pp_sketch_remove(&src, exp(i * 0.0101)), PP_OK);
	assert_valid(&src);

	assert_int_equal(pp_sketch_add(&dst, 1.0), PP_OK);
	for (i = 0; i < PP_SKETCH_CAPACITY; i++)
		assert_int_equal(pp_sketch_add(&dst, 100 * exp(i * 0.0101)), PP_OK);
	assert_true(src.collapse_index > dst.collapse_index);

	assert_int_equal(pp_sketch_acc_add_sketch(acc, &dst), PP_OK);
	assert_int_equal(pp_sketch_subtract(&dst, &src), PP_OK);
	assert_memory_equal(&dst, &empty, sizeof(dst));
	assert_int_equal(pp_sketch_acc_subtract_sketch(acc, &src), PP_OK);
	assert_int_equal(pp_sketch_acc_count(acc), 0);
	pp_sketch_acc_free(acc);
}

/* ---------------------------------------------------------------------
 * Validation
 * ---------------------------------------------------------------------
 */

static void
make_collapsed(pp_sketch_t *s)
{
	double	   *v = make_values(41, DIST_WIDE, 2000);
	int			i;

	pp_sketch_init(s);
	for (i = 0; i < 2000; i++)
		assert_int_equal(pp_sketch_add(s, v[i]), PP_OK);
	assert_int_equal(pp_sketch_add(s, 0.0), PP_OK);
	free(v);
}

static void
expect_invalid(const pp_sketch_t *s, const char *what)
{
	pp_error_t	err;

	memset(&err, 0, sizeof(err));
	if (pp_sketch_validate(s, &err) != PP_ERR_INVALID_VALUE)
		fail_msg("corruption not detected: %s", what);
	assert_int_equal(err.code, PP_ERR_INVALID_VALUE);
	assert_true(err.text[0] != '\0');
}

static void
test_validate_corruptions(void **state)
{
	pp_sketch_t good;
	pp_sketch_t s;

	(void) state;
	make_collapsed(&good);
	assert_valid(&good);
	pp_sketch_init(&s);
	assert_valid(&s);

	s = good; s.reserved = 1;
	expect_invalid(&s, "reserved");
	s = good; s.nbins = PP_SKETCH_CAPACITY + 1;
	expect_invalid(&s, "nbins");
	s = good; s.nbins--;
	expect_invalid(&s, "nbins short");
	s = good; s.count++;
	expect_invalid(&s, "count");
	s = good; s.zero_count--;
	expect_invalid(&s, "zero count");
	s = good; s.collapse_index = 0;
	expect_invalid(&s, "collapse index without count");
	s = good; s.collapse_index = s.bin_index[0];
	expect_invalid(&s, "bin at collapse index");
	s = good; s.collapse_index = PP_SKETCH_NBINS + 1;
	expect_invalid(&s, "collapse index range");
	s = good; s.bin_index[5] = s.bin_index[4];
	expect_invalid(&s, "duplicate index");
	s = good; s.bin_index[PP_SKETCH_CAPACITY - 1] = PP_SKETCH_NBINS + 1;
	expect_invalid(&s, "index range");
	s = good; s.bin_count[7] = 0; s.count -= good.bin_count[7];
	expect_invalid(&s, "zero count in a used bin");

	pp_sketch_init(&s);
	s.bin_index[3] = 9;
	expect_invalid(&s, "unused slot");
	pp_sketch_init(&s);
	s.collapsed_count = 4; s.count = 4;
	expect_invalid(&s, "collapsed count without index");
	pp_sketch_init(&s);
	s.zero_count = UINT64_MAX; s.collapsed_count = 2; s.collapse_index = 1;
	expect_invalid(&s, "overflow");
}

/* Exercise every operation on a sketch that validate() accepted */
static void
use_sketch(const pp_sketch_t *s)
{
	pp_sketch_t t;
	pp_sketch_acc_t *acc = pp_sketch_acc_create(NULL);
	double		v;
	int			k;

	assert_non_null(acc);
	for (k = 0; k <= 10; k++)
		(void) pp_sketch_quantile_ex(s, k / 10.0, &v, NULL);
	t = *s;
	(void) pp_sketch_merge(&t, s);
	assert_valid(&t);
	assert_int_equal(pp_sketch_subtract(&t, s), PP_OK);
	assert_valid(&t);
	(void) pp_sketch_add(&t, 12.5);
	assert_valid(&t);
	assert_int_equal(pp_sketch_acc_add_sketch(acc, s), PP_OK);
	(void) pp_sketch_acc_quantile(acc, 0.99);
	assert_int_equal(pp_sketch_acc_subtract_sketch(acc, s), PP_OK);
	assert_int_equal(pp_sketch_acc_count(acc), 0);
	pp_sketch_acc_free(acc);
}

/* Random byte mutations: validate never crashes, and what it accepts works */
static void
test_validate_fuzz(void **state)
{
	pp_sketch_t seeds[3];
	pp_rng_t	rng;
	int			accepted = 0;
	int			iter;

	(void) state;
	make_collapsed(&seeds[0]);
	pp_sketch_init(&seeds[1]);
	for (iter = 0; iter < 20; iter++)
		assert_int_equal(pp_sketch_add(&seeds[1], 1.0 + iter), PP_OK);
	pp_sketch_init(&seeds[2]);

	pp_rng_seed(&rng, 99);
	for (iter = 0; iter < 20000; iter++)
	{
		pp_sketch_t s = seeds[iter % 3];
		uint8_t    *p = (uint8_t *) &s;
		int			nmut = 1 + (int) (pp_rng_next(&rng) % 4);
		int			m;

		if (iter % 97 == 0)
		{
			/* pure garbage */
			for (m = 0; m < (int) sizeof(s); m++)
				p[m] = (uint8_t) pp_rng_next(&rng);
		}
		else
		{
			for (m = 0; m < nmut; m++)
			{
				size_t		off = pp_rng_next(&rng) % sizeof(s);

				if (pp_rng_next(&rng) & 1)
					p[off] ^= (uint8_t) (1u << (pp_rng_next(&rng) % 8));
				else
					p[off] = (uint8_t) pp_rng_next(&rng);
			}
		}
		if (pp_sketch_validate(&s, NULL) == PP_OK)
		{
			accepted++;
			use_sketch(&s);
		}
	}
	print_message("fuzz: %d of 20000 mutated sketches were still valid\n",
				  accepted);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bin_map_range),
		cmocka_unit_test(test_accuracy_distributions),
		cmocka_unit_test(test_percentile_disc_definition),
		cmocka_unit_test(test_quantile_edges),
		cmocka_unit_test(test_merge_equals_add),
		cmocka_unit_test(test_subtract_inverse),
		cmocka_unit_test(test_collapse),
		cmocka_unit_test(test_collapse_subtract),
		cmocka_unit_test(test_subtract_more_collapsed_src),
		cmocka_unit_test(test_validate_corruptions),
		cmocka_unit_test(test_validate_fuzz),
	};

	return cmocka_run_group_tests_name("sketch", tests, NULL, NULL);
}
