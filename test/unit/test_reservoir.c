/*-------------------------------------------------------------------------
 *
 * test/unit/test_reservoir.c
 *	  cmocka tests of src/core/reservoir.c: layout, Algorithm R's uniform
 *	  inclusion probability (a chi-square check that a biased sampler
 *	  fails), determinism, removal of a profile's samples, validation, and
 *	  the splitmix64 generator.
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
#include <string.h>

#include "helpers.h"
#include "reservoir.h"

static pp_reservoir_t *
new_reservoir(uint32_t capacity)
{
	void	   *mem = malloc(pp_reservoir_size(capacity));

	assert_non_null(mem);
	memset(mem, 0xAB, pp_reservoir_size(capacity));	/* init must clear */
	return pp_reservoir_init(mem, capacity);
}

static pp_reservoir_sample_t
make_sample(uint64_t i, uint8_t profile)
{
	pp_reservoir_sample_t s;

	memset(&s, 0, sizeof(s));
	s.duration_ms = (double) i + 0.5;
	s.self_ms = (double) i * 0.25;
	s.created_at = (int64_t) i * 1000000;
	memset(s.profile_id, profile, PP_PROFILE_ID_SIZE);
	return s;
}

static void
test_layout(void **state)
{
	pp_reservoir_t *r;
	pp_reservoir_sample_t s = make_sample(1, 1);

	(void) state;
	assert_int_equal(sizeof(pp_reservoir_sample_t), 40);
	assert_int_equal(pp_reservoir_size(0), sizeof(pp_reservoir_t));
	assert_int_equal(pp_reservoir_size(1000), 16 + 1000 * 40);
	assert_null(pp_reservoir_init(NULL, 10));

	r = new_reservoir(3);
	assert_int_equal(r->capacity, 3);
	assert_int_equal(r->nsamples, 0);
	assert_int_equal(r->seen, 0);
	assert_int_equal(pp_reservoir_validate(r, pp_reservoir_size(3), NULL),
					 PP_OK);

	/* the first capacity offers are stored in order, whatever the random */
	assert_int_equal(pp_reservoir_offer(r, &s, UINT64_MAX), 0);
	assert_int_equal(pp_reservoir_offer(r, &s, 0), 1);
	assert_int_equal(pp_reservoir_offer(r, &s, 12345), 2);
	assert_int_equal(r->nsamples, 3);
	/* then slot j = random mod seen, if j < capacity */
	assert_int_equal(pp_reservoir_offer(r, &s, 3), -1);	/* 3 mod 4 = 3 */
	assert_int_equal(pp_reservoir_offer(r, &s, 6), 1);	/* 6 mod 5 = 1 */
	assert_int_equal(r->seen, 5);
	assert_int_equal(r->nsamples, 3);
	free(r);

	/* capacity 0 counts and never stores */
	r = new_reservoir(0);
	assert_int_equal(pp_reservoir_offer(r, &s, 0), -1);
	assert_int_equal(r->seen, 1);
	assert_int_equal(pp_reservoir_validate(r, pp_reservoir_size(0), NULL),
					 PP_OK);
	free(r);
}

/*
 * Inclusion counts of every stream position over many runs, and Pearson's
 * statistic sum (c_i - E)^2 / E against the expected E = runs * k / n.
 * biased = true replaces a random slot on every offer past capacity (a
 * classic bug that favours recent values); the same check must reject it.
 */
#define UNI_N		100			/* stream length */
#define UNI_K		10			/* capacity */
#define UNI_RUNS	20000

static double
inclusion_chi2(bool biased, uint64_t seed, double *max_dev_sd)
{
	uint64_t	hits[UNI_N];
	pp_reservoir_t *r = new_reservoir(UNI_K);
	pp_rng_t	rng;
	double		expected = (double) UNI_RUNS * UNI_K / UNI_N;
	double		sd = sqrt(UNI_RUNS * ((double) UNI_K / UNI_N) *
						  (1.0 - (double) UNI_K / UNI_N));
	double		chi2 = 0.0;
	int			run;
	int			i;

	memset(hits, 0, sizeof(hits));
	pp_rng_seed(&rng, seed);
	*max_dev_sd = 0.0;
	for (run = 0; run < UNI_RUNS; run++)
	{
		pp_reservoir_init(r, UNI_K);
		for (i = 0; i < UNI_N; i++)
		{
			pp_reservoir_sample_t s = make_sample(i, 0);
			uint64_t	rnd = pp_rng_next(&rng);

			if (biased && r->nsamples == UNI_K)
				rnd = rnd % UNI_K;	/* always a hit */
			(void) pp_reservoir_offer(r, &s, rnd);
		}
		assert_int_equal(r->nsamples, UNI_K);
		for (i = 0; i < UNI_K; i++)
			hits[(int) r->samples[i].created_at / 1000000]++;
	}
	for (i = 0; i < UNI_N; i++)
	{
		double		d = (double) hits[i] - expected;

		chi2 += d * d / expected;
		if (fabs(d) / sd > *max_dev_sd)
			*max_dev_sd = fabs(d) / sd;
	}
	free(r);
	return chi2;
}

static void
test_uniformity(void **state)
{
	double		chi2;
	double		dev;

	(void) state;

	/*
	 * 100 cells, each inclusion Binomial(runs, k/n): the statistic has mean
	 * about 99 * (1 - k/n) = 89 and sd about 13; 160 is beyond p = 1e-5.
	 * No position may be off by more than 5 standard deviations.
	 */
	chi2 = inclusion_chi2(false, 2024, &dev);
	print_message("algorithm R: chi2 = %.1f (99 df), max deviation %.2f sd\n",
				  chi2, dev);
	assert_true(chi2 < 160.0);
	assert_true(dev < 5.0);

	/* the check is able to fail */
	chi2 = inclusion_chi2(true, 2024, &dev);
	print_message("biased sampler: chi2 = %.1f, max deviation %.2f sd\n",
				  chi2, dev);
	assert_true(chi2 > 1000.0);
}

/* Large reservoir, long stream: inclusion frequency ~ capacity / seen */
static void
test_long_stream(void **state)
{
	pp_reservoir_t *r = new_reservoir(1000);
	pp_rng_t	rng;
	uint64_t	n = 100000;
	uint64_t	i;
	uint32_t	first_half = 0;

	(void) state;
	pp_rng_seed(&rng, 7);
	for (i = 0; i < n; i++)
	{
		pp_reservoir_sample_t s = make_sample(i, 0);

		(void) pp_reservoir_offer(r, &s, pp_rng_next(&rng));
	}
	assert_int_equal(r->nsamples, 1000);
	assert_int_equal(r->seen, n);
	for (i = 0; i < 1000; i++)
		if (r->samples[i].created_at < (int64_t) (n / 2) * 1000000)
			first_half++;
	/* Hypergeometric-ish: 500 +- 16 sd; allow 5 sd */
	print_message("first half of the stream: %u of 1000 samples\n",
				  first_half);
	assert_true(first_half > 420 && first_half < 580);
	assert_int_equal(pp_reservoir_validate(r, pp_reservoir_size(1000), NULL),
					 PP_OK);
	free(r);
}

static void
test_deterministic(void **state)
{
	pp_reservoir_t *a = new_reservoir(50);
	pp_reservoir_t *b = new_reservoir(50);
	pp_rng_t	ra;
	pp_rng_t	rb;
	int			i;

	(void) state;
	pp_rng_seed(&ra, 42);
	pp_rng_seed(&rb, 42);
	for (i = 0; i < 5000; i++)
	{
		pp_reservoir_sample_t s = make_sample(i, (uint8_t) i);

		assert_int_equal(pp_reservoir_offer(a, &s, pp_rng_next(&ra)),
						 pp_reservoir_offer(b, &s, pp_rng_next(&rb)));
	}
	assert_memory_equal(a, b, pp_reservoir_size(50));
	free(a);
	free(b);
}

static void
test_remove_profile(void **state)
{
	pp_reservoir_t *r = new_reservoir(20);
	pp_reservoir_sample_t s;
	uint8_t		id2[PP_PROFILE_ID_SIZE];
	uint8_t		id9[PP_PROFILE_ID_SIZE];
	uint32_t	i;
	int			prev = -1;

	(void) state;
	for (i = 0; i < 20; i++)
	{
		s = make_sample(i, (uint8_t) (i % 5));
		assert_int_equal(pp_reservoir_offer(r, &s, 0), (int) i);
	}
	memset(id2, 2, sizeof(id2));
	memset(id9, 9, sizeof(id9));

	assert_int_equal(pp_reservoir_remove_profile(r, id9), 0);
	assert_int_equal(pp_reservoir_remove_profile(r, id2), 4);
	assert_int_equal(r->nsamples, 16);
	assert_int_equal(r->seen, 20);
	for (i = 0; i < 16; i++)
	{
		int			pos = (int) (r->samples[i].created_at / 1000000);

		assert_true(memcmp(r->samples[i].profile_id, id2, sizeof(id2)) != 0);
		assert_true(pos > prev);	/* order kept */
		assert_true(r->samples[i].duration_ms == pos + 0.5);
		prev = pos;
	}
	/* freed slots zeroed: the reservoir validates */
	assert_int_equal(pp_reservoir_validate(r, pp_reservoir_size(20), NULL),
					 PP_OK);
	assert_int_equal(pp_reservoir_remove_profile(r, id2), 0);

	/* the next offers refill the freed slots unconditionally */
	s = make_sample(100, 7);
	assert_int_equal(pp_reservoir_offer(r, &s, UINT64_MAX), 16);
	assert_int_equal(r->nsamples, 17);
	assert_int_equal(r->seen, 21);

	/* removing everything */
	for (i = 0; i < 10; i++)
	{
		uint8_t		id[PP_PROFILE_ID_SIZE];

		memset(id, (int) i, sizeof(id));
		(void) pp_reservoir_remove_profile(r, id);
	}
	assert_int_equal(r->nsamples, 0);
	assert_int_equal(pp_reservoir_validate(r, pp_reservoir_size(20), NULL),
					 PP_OK);
	free(r);
}

static void
test_validate(void **state)
{
	size_t		size = pp_reservoir_size(8);
	pp_reservoir_t *good = new_reservoir(8);
	pp_reservoir_t *r = malloc(size);
	pp_error_t	err;
	pp_rng_t	rng;
	int			i;
	int			accepted = 0;

	(void) state;
	for (i = 0; i < 5; i++)
	{
		pp_reservoir_sample_t s = make_sample(i, 1);

		(void) pp_reservoir_offer(good, &s, 0);
	}
	assert_int_equal(pp_reservoir_validate(good, size, &err), PP_OK);

	memcpy(r, good, size);
	assert_int_equal(pp_reservoir_validate(r, size - 1, &err),
					 PP_ERR_INVALID_VALUE);
	assert_int_equal(pp_reservoir_validate(r, 4, &err),
					 PP_ERR_INVALID_VALUE);
	r->capacity = 9;
	assert_int_equal(pp_reservoir_validate(r, size, &err),
					 PP_ERR_INVALID_VALUE);
	memcpy(r, good, size);
	r->nsamples = 9;
	assert_int_equal(pp_reservoir_validate(r, size, &err),
					 PP_ERR_INVALID_VALUE);
	memcpy(r, good, size);
	r->seen = 4;
	assert_int_equal(pp_reservoir_validate(r, size, &err),
					 PP_ERR_INVALID_VALUE);
	memcpy(r, good, size);
	r->samples[6].self_ms = 1.0;
	assert_int_equal(pp_reservoir_validate(r, size, &err),
					 PP_ERR_INVALID_VALUE);
	assert_true(err.text[0] != '\0');

	/* byte mutations: never a crash; accepted ones can be used */
	pp_rng_seed(&rng, 3);
	for (i = 0; i < 5000; i++)
	{
		uint8_t    *p = (uint8_t *) r;

		memcpy(r, good, size);
		p[pp_rng_next(&rng) % size] ^= (uint8_t) (1 + pp_rng_next(&rng) % 255);
		if (pp_reservoir_validate(r, size, NULL) == PP_OK)
		{
			pp_reservoir_sample_t s = make_sample(i, 3);
			uint8_t		id[PP_PROFILE_ID_SIZE];

			accepted++;
			memset(id, 1, sizeof(id));
			(void) pp_reservoir_offer(r, &s, pp_rng_next(&rng));
			(void) pp_reservoir_remove_profile(r, id);
			assert_int_equal(pp_reservoir_validate(r, size, NULL), PP_OK);
		}
	}
	print_message("fuzz: %d of 5000 mutated reservoirs were still valid\n",
				  accepted);
	free(r);
	free(good);
}

/*
 * seen_wraps: a reservoir read from a file with seen = UINT64_MAX passes
 * validation; offering to it wrapped seen to 0 and divided by zero (found by
 * test/fuzz/fuzz_sketch).  seen now saturates.
 */
static void
test_seen_wraps(void **state)
{
	pp_reservoir_t *r = new_reservoir(4);
	pp_reservoir_sample_t s;
	int			i;

	(void) state;
	memset(&s, 0, sizeof(s));
	for (i = 0; i < 4; i++)
		assert_true(pp_reservoir_offer(r, &s, 7) >= 0);
	r->seen = UINT64_MAX;
	assert_int_equal(pp_reservoir_validate(r, pp_reservoir_size(4), NULL), PP_OK);
	(void) pp_reservoir_offer(r, &s, 12345);
	assert_true(r->seen == UINT64_MAX);
	assert_int_equal(r->nsamples, 4);
	free(r);
}

static void
test_rng(void **state)
{
	pp_rng_t	rng;
	int			i;
	double		sum = 0.0;

	(void) state;
	/* splitmix64 reference output for seed 0 */
	pp_rng_seed(&rng, 0);
	assert_true(pp_rng_next(&rng) == UINT64_C(0xE220A8397B1DCDAF));
	assert_true(pp_rng_next(&rng) == UINT64_C(0x6E789E6AA1B965F4));

	pp_rng_seed(&rng, 1);
	for (i = 0; i < 100000; i++)
	{
		double		u = uniform(&rng);

		assert_true(u >= 0.0 && u < 1.0);
		sum += u;
	}
	/* mean 0.5, sd of the mean 0.0009 */
	assert_true(fabs(sum / 100000 - 0.5) < 0.005);
}

/* Slowest first, equal durations by profile id */
static void
test_sort_slowest(void **state)
{
	void	   *mem = malloc(pp_reservoir_size(8));
	pp_reservoir_t *r = pp_reservoir_init(mem, 8);
	static const double d[] = {3, 9, 3, 1, 9, 5};
	static const uint8_t id0[] = {4, 0, 2, 9, 1, 7};
	uint32_t	i;

	(void) state;
	assert_non_null(mem);
	for (i = 0; i < 6; i++)
	{
		pp_reservoir_sample_t s;

		memset(&s, 0, sizeof(s));
		s.duration_ms = d[i];
		s.profile_id[0] = id0[i];
		assert_true(pp_reservoir_offer(r, &s, 0) >= 0);
	}
	pp_reservoir_sort_slowest(r);
	assert_int_equal(r->nsamples, 6);
	for (i = 1; i < r->nsamples; i++)
	{
		const pp_reservoir_sample_t *a = &r->samples[i - 1];
		const pp_reservoir_sample_t *b = &r->samples[i];

		assert_true(a->duration_ms > b->duration_ms ||
					(a->duration_ms == b->duration_ms &&
					 memcmp(a->profile_id, b->profile_id, PP_PROFILE_ID_SIZE) < 0));
	}
	assert_true(r->samples[0].duration_ms == 9 && r->samples[0].profile_id[0] == 0);
	assert_true(r->samples[1].duration_ms == 9 && r->samples[1].profile_id[0] == 1);
	assert_true(r->samples[5].duration_ms == 1);
	free(mem);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_layout),
		cmocka_unit_test(test_uniformity),
		cmocka_unit_test(test_long_stream),
		cmocka_unit_test(test_deterministic),
		cmocka_unit_test(test_remove_profile),
		cmocka_unit_test(test_validate),
		cmocka_unit_test(test_seen_wraps),
		cmocka_unit_test(test_rng),
		cmocka_unit_test(test_sort_slowest),
	};

	return cmocka_run_group_tests_name("reservoir", tests, NULL, NULL);
}
