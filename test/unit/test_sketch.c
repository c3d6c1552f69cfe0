/*-------------------------------------------------------------------------
 *
 * test/unit/test_sketch.c
 *	  cmocka tests of src/core/sketch.c as the server uses it: bucket
 *	  sketches filled by bin index, full at their capacity and grown by
 *	  copy into a larger one, values removed again; validation of
 *	  corrupted sketches (the dump file); the accumulator that sums them at
 *	  query time, its relative-error bound against exact percentile_disc,
 *	  its sparse and dense forms (same answers, their memory, running out
 *	  of it).
 *
 * Every random input comes from pp_rng with a fixed seed, so a failure
 * reproduces.  The bound checked is the documented one: |estimate - exact|
 * <= alpha * exact (plus 1e-9 relative for rounding on bin edges); for
 * exact values in the zero bucket the estimate is 0.  Sketches live in
 * heap blocks of exactly PP_SKETCH_SIZE(capacity) bytes (ASan-checked);
 * accumulators in a pool_t (helpers.h), the memory context of the tests.
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

#include "helpers.h"
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
	double		u1 = 1.0 - uniform(rng);	/* (0, 1] */
	double		u2 = uniform(rng);

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
			return 1000.0 * uniform(rng);
		case DIST_LOGNORMAL:
			return 100.0 * exp(gauss(rng));
		case DIST_EXPONENTIAL:
			return -50.0 * log(1.0 - uniform(rng));
		case DIST_BIMODAL:
			if (uniform(rng) < 0.7)
				return 5.0 * exp(0.3 * gauss(rng));
			return 800.0 * exp(0.2 * gauss(rng));
		case DIST_ZEROS:
			if (uniform(rng) < 0.3)
				return 0.0;
			return 20.0 * exp(gauss(rng));
		case DIST_WIDE:
			return 0.001 * pow(10.0, 9.0 * uniform(rng));
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

/* Capacities every property is checked with: tiny, small, larger, maximal */
static const uint16_t caps[] = {4, 128, 512, PP_SKETCH_MAX_CAPACITY};

#define NCAPS	((int) (sizeof(caps) / sizeof(caps[0])))

/*
 * The documented layout: bin_count[capacity] right after the 32-byte
 * header, then bin_index[capacity].
 */
static uint32_t *
t_count(pp_sketch_t *s)
{
	return (uint32_t *) ((char *) s + 32);
}

static uint16_t *
t_index(pp_sketch_t *s)
{
	return (uint16_t *) ((char *) s + 32 + 4 * (size_t) s->capacity);
}

/* A sketch in exactly PP_SKETCH_SIZE(capacity) heap bytes (ASan-checked) */
static pp_sketch_t *
sk_new(uint16_t capacity)
{
	pp_sketch_t *s = malloc(PP_SKETCH_SIZE(capacity));

	assert_non_null(s);
	memset(s, 0xA5, PP_SKETCH_SIZE(capacity));	/* init must clear it all */
	pp_sketch_init(s, capacity);
	return s;
}

static pp_sketch_t *
sk_dup(const pp_sketch_t *s)
{
	pp_sketch_t *t = malloc(PP_SKETCH_SIZE(s->capacity));

	assert_non_null(t);
	memcpy(t, s, PP_SKETCH_SIZE(s->capacity));
	return t;
}

/* dst = src; dst has PP_SKETCH_SIZE(src->capacity) bytes */
static void
sk_copy(pp_sketch_t *dst, const pp_sketch_t *src)
{
	memcpy(dst, src, PP_SKETCH_SIZE(src->capacity));
}

static void
assert_sketch_equal(const pp_sketch_t *a, const pp_sketch_t *b)
{
	assert_int_equal(a->capacity, b->capacity);
	assert_memory_equal(a, b, PP_SKETCH_SIZE(a->capacity));
}

static void
assert_valid(const pp_sketch_t *s)
{
	pp_error_t	err;

	memset(&err, 0, sizeof(err));
	if (pp_sketch_validate(s, PP_SKETCH_SIZE(s->capacity), &err) != PP_OK)
		fail_msg("invalid sketch (capacity %u): %s: %s", s->capacity,
				 err.path, err.text);
}

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
		double		x = 0.001 * pow(10.0, 12.0 * uniform(&rng));
		double		v = pp_sketch_index_value(pp_sketch_index_of(x));

		if (!within_bound(v, x))
			fail_msg("x=%.17g -> %.17g (rel %.3g)", x, v, fabs(v - x) / x);
	}

	/* monotone map */
	for (i = 1; i < PP_SKETCH_NBINS; i++)
		assert_true(pp_sketch_index_value(i) < pp_sketch_index_value(i + 1));
}

static void
expect_invalid_size(const pp_sketch_t *s, size_t size, const char *what)
{
	pp_error_t	err;

	memset(&err, 0, sizeof(err));
	if (pp_sketch_validate(s, size, &err) != PP_ERR_INVALID_VALUE)
		fail_msg("corruption not detected (capacity %u): %s",
				 s ? s->capacity : 0, what);
	assert_int_equal(err.code, PP_ERR_INVALID_VALUE);
	assert_true(err.text[0] != '\0');
}

static void
expect_invalid(const pp_sketch_t *s, const char *what)
{
	expect_invalid_size(s, PP_SKETCH_SIZE(s->capacity), what);
}

/* Add n copies of value_ms as the server does: by bin index, never growing */
static pp_error_code_t
sk_add(pp_sketch_t *s, double value_ms, uint32_t n)
{
	return pp_sketch_add_index_exact(s, pp_sketch_index_of(value_ms), n);
}

/*
 * Add one value as the server's bucket_sketch_add does: when the sketch is
 * full, copy it into twice the capacity (at most the maximum) and add
 * there.  Returns the sketch, which may have moved.
 */
static pp_sketch_t *
sk_add_grow(pp_sketch_t *s, double value_ms, int *grows)
{
	pp_error_code_t rc = sk_add(s, value_ms, 1);

	if (rc == PP_ERR_FULL)
	{
		uint16_t	cap = s->capacity * 2 > PP_SKETCH_MAX_CAPACITY ?
			PP_SKETCH_MAX_CAPACITY : (uint16_t) (s->capacity * 2);
		pp_sketch_t *t = sk_new(cap);

		assert_int_equal(pp_sketch_copy(t, cap, s), PP_OK);
		free(s);
		s = t;
		if (grows)
			(*grows)++;
		rc = sk_add(s, value_ms, 1);
	}
	assert_int_equal(rc, PP_OK);
	return s;
}

/* A sketch of capacity cap holding cap distinct bins and some zeros */
static pp_sketch_t *
make_full(uint16_t cap)
{
	pp_sketch_t *s = sk_new(cap);
	int			base = cap <= PP_SKETCH_NBINS - 100 ? 100 : 1;
	int			i;

	for (i = 0; i < cap; i++)
		assert_int_equal(pp_sketch_add_index_exact(s, base + i, 1 + i % 3), PP_OK);
	assert_int_equal(pp_sketch_add_index_exact(s, 0, 5), PP_OK);
	assert_int_equal(s->nbins, cap);
	return s;
}

/* ---------------------------------------------------------------------
 * Layout
 * ---------------------------------------------------------------------
 */

static void
test_layout(void **state)
{
	pp_sketch_t *s;
	int			c;

	(void) state;
	assert_int_equal(sizeof(pp_sketch_t), 32);
	assert_int_equal(PP_SKETCH_SIZE(128), 800);
	assert_int_equal(PP_SKETCH_SIZE(512), 3104);
	assert_int_equal(PP_SKETCH_SIZE(PP_SKETCH_MAX_CAPACITY), 18464);
	assert_int_equal(PP_SKETCH_SIZE(4), 56);
	assert_int_equal(PP_SKETCH_SIZE(1), 40);	/* 38 rounded up */
	assert_int_equal(PP_SKETCH_SIZE(3), 56);	/* 50 rounded up */
	assert_int_equal(PP_SKETCH_MAX_CAPACITY, PP_SKETCH_NBINS);
	for (c = 1; c <= PP_SKETCH_MAX_CAPACITY; c++)
	{
		size_t		z = PP_SKETCH_SIZE(c);

		assert_int_equal(z % 8, 0);
		assert_true(z >= 32 + 6 * (size_t) c && z < 32 + 6 * (size_t) c + 8);
	}

	/* the documented offsets, with init clearing every byte */
	for (c = 0; c < NCAPS; c++)
	{
		s = sk_new(caps[c]);
		assert_int_equal(s->capacity, caps[c]);
		assert_int_equal(s->nbins, 0);
		assert_valid(s);
		assert_int_equal(sk_add(s, 1000.0, 3), PP_OK);
		assert_int_equal(sk_add(s, 1.0, 7), PP_OK);
		assert_int_equal(s->nbins, 2);
		assert_int_equal(t_count(s)[0], 7);
		assert_int_equal(t_count(s)[1], 3);
		assert_int_equal(t_index(s)[0], pp_sketch_index_of(1.0));
		assert_int_equal(t_index(s)[1], pp_sketch_index_of(1000.0));
		assert_true(s->count == 10 && s->zero_count == 0);
		assert_valid(s);
		free(s);
	}

	/* capacity 1 has 2 padding bytes, kept zero */
	s = sk_new(1);
	assert_int_equal(sk_add(s, 5.0, 1), PP_OK);
	assert_int_equal(sk_add(s, 0.0, 2), PP_OK);
	assert_int_equal(sk_add(s, 50.0, 1), PP_ERR_FULL);
	assert_true(s->nbins == 1 && s->count == 3 && s->zero_count == 2);
	assert_int_equal(((uint8_t *) s)[38], 0);
	assert_int_equal(((uint8_t *) s)[39], 0);
	assert_valid(s);
	free(s);

	/* a capacity above the maximum is lowered by init */
	s = malloc(PP_SKETCH_SIZE(PP_SKETCH_MAX_CAPACITY));
	assert_non_null(s);
	pp_sketch_init(s, PP_SKETCH_MAX_CAPACITY + 1);
	assert_int_equal(s->capacity, PP_SKETCH_MAX_CAPACITY);
	assert_valid(s);
	free(s);
}

/* ---------------------------------------------------------------------
 * Adding, full sketches, copying, removing
 * ---------------------------------------------------------------------
 */

static void
test_add_index_exact_full(void **state)
{
	pp_sketch_t *s = sk_new(4);
	pp_sketch_t *before;
	pp_sketch_t *big;
	pp_sketch_t *tiny = sk_new(2);
	int			i;

	(void) state;
	for (i = 0; i < 4; i++)
		assert_int_equal(sk_add(s, 10.0 * (i + 1), 1), PP_OK);
	assert_int_equal(s->nbins, 4);
	before = sk_dup(s);

	/* a fifth bin: full, nothing changed */
	assert_int_equal(sk_add(s, 1.0, 1), PP_ERR_FULL);
	assert_int_equal(sk_add(s, 1000.0, 3), PP_ERR_FULL);
	assert_sketch_equal(s, before);

	/* existing bins, the zero bucket, n = 0 and bad indexes */
	assert_int_equal(sk_add(s, 10.0, 2), PP_OK);
	assert_int_equal(sk_add(s, 0.0, 1), PP_OK);
	assert_int_equal(sk_add(s, -3.0, 1), PP_OK);
	assert_int_equal(sk_add(s, 1.0, 0), PP_OK);
	assert_int_equal(pp_sketch_add_index_exact(s, -1, 1), PP_ERR_INVALID_VALUE);
	assert_int_equal(pp_sketch_add_index_exact(s, PP_SKETCH_NBINS + 1, 1),
					 PP_ERR_INVALID_VALUE);
	assert_true(s->count == 8 && s->zero_count == 2);
	assert_int_equal(t_count(s)[0], 3);
	assert_valid(s);

	/* a bin count cannot overflow: refused, unchanged */
	{
		pp_sketch_t *o = sk_new(2);

		assert_int_equal(sk_add(o, 7.0, UINT32_MAX), PP_OK);
		before = realloc(before, PP_SKETCH_SIZE(2));
		sk_copy(before, o);
		assert_int_equal(sk_add(o, 7.0, 1), PP_ERR_OUT_OF_RANGE);
		assert_sketch_equal(o, before);
		free(o);
	}

	/* copy into a larger capacity, then the new bin fits */
	big = sk_new(8);
	memset(big, 0xA5, PP_SKETCH_SIZE(8));
	assert_int_equal(pp_sketch_copy(big, 8, s), PP_OK);
	assert_valid(big);
	assert_int_equal(big->capacity, 8);
	assert_true(big->count == 8 && big->zero_count == 2);
	assert_int_equal(sk_add(big, 1.0, 1), PP_OK);
	assert_int_equal(big->nbins, 5);
	assert_int_equal(t_index(big)[0], pp_sketch_index_of(1.0));
	assert_valid(big);

	/* too small, or an invalid capacity: refused, dst untouched */
	memset(tiny, 0xA5, PP_SKETCH_SIZE(2));
	assert_int_equal(pp_sketch_copy(tiny, 2, s), PP_ERR_FULL);
	assert_int_equal(pp_sketch_copy(tiny, 0, s), PP_ERR_INVALID_VALUE);
	assert_int_equal(pp_sketch_copy(big, PP_SKETCH_MAX_CAPACITY + 1, s),
					 PP_ERR_INVALID_VALUE);
	assert_int_equal(((unsigned char *) tiny)[0], 0xA5);

	/* a copy to the same capacity is byte-identical */
	{
		pp_sketch_t *same = sk_new(4);

		assert_int_equal(pp_sketch_copy(same, 4, s), PP_OK);
		assert_sketch_equal(same, s);
		free(same);
	}
	free(s);
	free(before);
	free(big);
	free(tiny);
}

static void
test_capacity_in(void **state)
{
	size_t		b;

	(void) state;
	assert_int_equal(pp_sketch_capacity_in(0), 0);
	assert_int_equal(pp_sketch_capacity_in(39), 0);
	assert_int_equal(pp_sketch_capacity_in(40), 1);
	assert_int_equal(pp_sketch_capacity_in(80), 8);
	assert_int_equal(pp_sketch_capacity_in(800), 128);
	assert_int_equal(pp_sketch_capacity_in(18464), PP_SKETCH_MAX_CAPACITY);
	assert_int_equal(pp_sketch_capacity_in(1 << 20), PP_SKETCH_MAX_CAPACITY);
	for (b = 40; b < 20000; b++)
	{
		uint16_t	c = pp_sketch_capacity_in(b);

		assert_true(PP_SKETCH_SIZE(c) <= b);
		assert_true(c == PP_SKETCH_MAX_CAPACITY || PP_SKETCH_SIZE(c + 1) > b);
	}
}

static void
test_remove(void **state)
{
	pp_sketch_t *s = sk_new(8);
	pp_sketch_t *empty = sk_new(8);
	pp_sketch_t *before;

	(void) state;
	assert_int_equal(sk_add(s, 3.0, 2), PP_OK);
	assert_int_equal(sk_add(s, 30.0, 1), PP_OK);
	assert_int_equal(sk_add(s, 0.0, 1), PP_OK);
	before = sk_dup(s);

	/* absent values, an emptied zero bucket, non-finite input: unchanged */
	assert_int_equal(pp_sketch_remove(s, 300.0), PP_ERR_OUT_OF_RANGE);
	assert_int_equal(pp_sketch_remove(s, NAN), PP_ERR_INVALID_VALUE);
	assert_int_equal(pp_sketch_remove(s, INFINITY), PP_ERR_INVALID_VALUE);
	assert_sketch_equal(s, before);

	/* a value of the same bin removes that bin's count */
	assert_int_equal(pp_sketch_remove(s, 3.0 * 1.001), PP_OK);
	assert_int_equal(s->nbins, 2);
	assert_int_equal(pp_sketch_remove(s, 3.0), PP_OK);
	assert_int_equal(s->nbins, 1);		/* the emptied slot is dropped */
	assert_int_equal(t_index(s)[0], pp_sketch_index_of(30.0));
	assert_int_equal(t_index(s)[1], 0);
	assert_int_equal(t_count(s)[1], 0);
	assert_valid(s);
	assert_int_equal(pp_sketch_remove(s, 3.0), PP_ERR_OUT_OF_RANGE);
	assert_int_equal(pp_sketch_remove(s, -1.0), PP_OK);	/* zero bucket */
	assert_int_equal(pp_sketch_remove(s, 0.0), PP_ERR_OUT_OF_RANGE);
	assert_int_equal(pp_sketch_remove(s, 30.0), PP_OK);
	assert_sketch_equal(s, empty);
	free(s);
	free(empty);
	free(before);
}

static void
test_validate_corruptions_cap(uint16_t cap)
{
	pp_sketch_t *good = make_full(cap);
	pp_sketch_t *s = sk_new(cap);
	size_t		size = PP_SKETCH_SIZE(cap);

	assert_valid(good);
	assert_valid(s);
	assert_int_equal(pp_sketch_validate(good, size + 100, NULL), PP_OK);

	/* sizes */
	expect_invalid_size(good, size - 1, "size one byte short");
	expect_invalid_size(good, size - 8, "size 8 bytes short");
	expect_invalid_size(good, 31, "size below the header");
	expect_invalid_size(good, 0, "size 0");
	expect_invalid_size(NULL, 1000, "NULL sketch");
	if (cap > 1 && PP_SKETCH_SIZE(cap - 1) < size)
		expect_invalid_size(good, PP_SKETCH_SIZE(cap - 1), "smaller capacity");

	sk_copy(s, good); s->reserved = 1;
	expect_invalid(s, "reserved");
	sk_copy(s, good); s->reserved_index = 1;
	expect_invalid(s, "reserved index");
	sk_copy(s, good); s->reserved_count = 1; s->count++;
	expect_invalid(s, "reserved count");
	sk_copy(s, good); s->capacity = 0;
	expect_invalid_size(s, size, "capacity 0");
	sk_copy(s, good); s->capacity = PP_SKETCH_MAX_CAPACITY + 1;
	expect_invalid_size(s, 1 << 20, "capacity above the maximum");
	sk_copy(s, good); s->capacity = cap + 1;
	expect_invalid_size(s, size, "capacity larger than the bytes");
	sk_copy(s, good); s->nbins = cap + 1;
	expect_invalid(s, "nbins");
	sk_copy(s, good); s->nbins--;
	expect_invalid(s, "nbins short");
	sk_copy(s, good); s->count++;
	expect_invalid(s, "count");
	sk_copy(s, good); s->zero_count--;
	expect_invalid(s, "zero count");
	sk_copy(s, good); t_index(s)[3] = t_index(s)[2];
	expect_invalid(s, "duplicate index");
	sk_copy(s, good); t_index(s)[0] = 0;
	expect_invalid(s, "index 0");
	sk_copy(s, good); t_index(s)[s->nbins - 1] = PP_SKETCH_NBINS + 1;
	expect_invalid(s, "index range");
	sk_copy(s, good); s->count -= t_count(s)[1]; t_count(s)[1] = 0;
	expect_invalid(s, "zero count in a used bin");
	sk_copy(s, good); t_count(s)[0] = UINT32_MAX; t_count(s)[1] = UINT32_MAX;
	s->zero_count = UINT64_MAX - UINT32_MAX;
	expect_invalid(s, "overflow");

	pp_sketch_init(s, cap);
	t_index(s)[cap - 1] = 9;
	expect_invalid(s, "unused slot index");
	pp_sketch_init(s, cap);
	t_count(s)[cap - 1] = 1; s->count = 1;
	expect_invalid(s, "unused slot count");

	free(good);
	free(s);
}

static void
test_validate_corruptions(void **state)
{
	pp_sketch_t *s;
	int			c;
	uint16_t	cap;

	(void) state;
	for (c = 0; c < NCAPS; c++)
		test_validate_corruptions_cap(caps[c]);

	/* padding bytes: capacities 1 and 3 have some (2 and 6 bytes) */
	for (cap = 1; cap <= 3; cap += 2)
	{
		size_t		used = 32 + 6 * (size_t) cap;

		s = sk_new(cap);
		assert_int_equal(sk_add(s, 2.0, 1), PP_OK);
		assert_valid(s);
		((uint8_t *) s)[used] = 1;
		expect_invalid(s, "padding");
		((uint8_t *) s)[used] = 0;
		((uint8_t *) s)[PP_SKETCH_SIZE(cap) - 1] = 0x80;
		expect_invalid(s, "last padding byte");
		free(s);
	}
}

/*
 * Every operation the server applies to a sketch read from a dump file,
 * on one that validate() accepted: sum it into an accumulator and ask it,
 * copy it into a larger block and add there, remove every value it holds
 * (which must leave an empty sketch).
 */
static void
use_sketch(const pp_sketch_t *s)
{
	pool_t		pool;
	pp_sketch_acc_t *acc;
	uint16_t	cap = s->capacity < PP_SKETCH_MAX_CAPACITY ?
		(uint16_t) (s->capacity + 1) : s->capacity;
	pp_sketch_t *t = sk_new(cap);
	pp_sketch_t *empty = sk_new(cap);

	pool_init(&pool);
	acc = pp_sketch_acc_create(&pool.allocator);
	assert_non_null(acc);
	assert_int_equal(pp_sketch_acc_add_sketch(acc, s), PP_OK);
	(void) pp_sketch_acc_quantile(acc, 0.5);
	(void) pp_sketch_acc_quantile(acc, 0.99);
	(void) pp_sketch_acc_count_above(acc, 100.0);

	assert_int_equal(pp_sketch_copy(t, cap, s), PP_OK);
	assert_valid(t);
	if (sk_add(t, 12.5, 1) == PP_OK)
	{
		assert_valid(t);
		assert_int_equal(pp_sketch_remove(t, 12.5), PP_OK);
	}
	while (t->nbins > 0)
		assert_int_equal(pp_sketch_remove(t, pp_sketch_index_value(t_index(t)[0])),
						 PP_OK);
	while (t->zero_count > 0)
		assert_int_equal(pp_sketch_remove(t, 0.0), PP_OK);
	assert_sketch_equal(t, empty);
	free(t);
	free(empty);
	pool_release(&pool);
}

/*
 * Random byte mutations of sketches of capacities 4, 128, 512 and 3072, each
 * in a heap block of exactly its size: validate never reads out of bounds or
 * crashes, and what it accepts works with every operation.
 */
static void
test_validate_fuzz(void **state)
{
	pp_sketch_t *seeds[3 * NCAPS];
	pp_rng_t	rng;
	int			accepted = 0;
	int			iter;
	int			c;

	(void) state;
	for (c = 0; c < NCAPS; c++)
	{
		seeds[3 * c] = make_full(caps[c]);
		seeds[3 * c + 1] = sk_new(caps[c]);
		for (iter = 0; iter < 4; iter++)
			assert_int_equal(sk_add(seeds[3 * c + 1], 1.0 + iter, 1), PP_OK);
		seeds[3 * c + 2] = sk_new(caps[c]);
	}

	pp_rng_seed(&rng, 99);
	for (iter = 0; iter < 30000; iter++)
	{
		const pp_sketch_t *seed = seeds[iter % (3 * NCAPS)];
		size_t		size = PP_SKETCH_SIZE(seed->capacity);
		pp_sketch_t *s = sk_dup(seed);
		uint8_t    *p = (uint8_t *) s;
		int			nmut = 1 + (int) (pp_rng_next(&rng) % 4);
		size_t		m;

		if (iter % 97 == 0)
		{
			/* pure garbage */
			for (m = 0; m < size; m++)
				p[m] = (uint8_t) pp_rng_next(&rng);
		}
		else
		{
			for (m = 0; m < (size_t) nmut; m++)
			{
				/* half of the mutations hit the 32-byte header */
				size_t		span = (pp_rng_next(&rng) & 1) ? 32 : size;
				size_t		off = pp_rng_next(&rng) % span;

				if (pp_rng_next(&rng) & 1)
					p[off] ^= (uint8_t) (1u << (pp_rng_next(&rng) % 8));
				else
					p[off] = (uint8_t) pp_rng_next(&rng);
			}
		}
		if (pp_sketch_validate(s, size, NULL) == PP_OK)
		{
			accepted++;
			use_sketch(s);
		}
		free(s);
	}
	print_message("fuzz: %d of 30000 mutated sketches were still valid\n",
				  accepted);
	assert_true(accepted > 0);
	for (c = 0; c < 3 * NCAPS; c++)
		free(seeds[c]);
}

/*
 * What the server does: start at 8 slots and, whenever a value needs a new
 * bin, copy into twice the capacity.  For every distribution, 20,000 values
 * (a burst minute) end in a sketch whose bins equal those of a sketch of
 * the maximal capacity fed the same values, and removing them all again
 * leaves it empty.
 */
static void
test_grow(void **state)
{
	const size_t n = 20000;
	int			d;

	(void) state;
	for (d = 0; d < NDIST; d++)
	{
		double	   *v = make_values(1000 + d, (dist_t) d, n);
		pp_sketch_t *s = sk_new(8);
		pp_sketch_t *full = sk_new(PP_SKETCH_MAX_CAPACITY);
		pp_sketch_t *cmp = sk_new(PP_SKETCH_MAX_CAPACITY);
		int			grows = 0;
		size_t		i;

		for (i = 0; i < n; i++)
		{
			s = sk_add_grow(s, v[i], &grows);
			assert_int_equal(sk_add(full, v[i], 1), PP_OK);
		}
		assert_valid(s);
		assert_true(s->count == n);
		assert_true(grows > 0);
		assert_int_equal(pp_sketch_copy(cmp, PP_SKETCH_MAX_CAPACITY, s), PP_OK);
		assert_sketch_equal(cmp, full);
		for (i = 0; i < n; i++)
			assert_int_equal(pp_sketch_remove(s, v[i]), PP_OK);
		assert_true(s->count == 0 && s->zero_count == 0);
		assert_int_equal(s->nbins, 0);
		assert_valid(s);
		free(v);
		free(s);
		free(full);
		free(cmp);
	}
}

/* ---------------------------------------------------------------------
 * Accumulator: accuracy
 * ---------------------------------------------------------------------
 */

/*
 * The path of a report: the values of a window spread over per-minute
 * bucket sketches (grown as needed), summed into one accumulator.  Every
 * quantile within the bound of the exact percentile_disc, and the same
 * answer as an accumulator fed the values one by one (the edge minutes
 * read from the table).
 */
static void
check_distribution(dist_t d, size_t n, uint64_t seed, double *worst)
{
	pool_t		pool;
	double	   *v = make_values(seed, d, n);
	double	   *sorted = sorted_copy(v, n);
	pp_sketch_acc_t *by_sketch;
	pp_sketch_acc_t *by_value;
	size_t		per_minute = n / 60 + 1;
	size_t		i;
	int			k;

	pool_init(&pool);
	by_sketch = pp_sketch_acc_create(&pool.allocator);
	by_value = pp_sketch_acc_create(&pool.allocator);
	assert_non_null(by_sketch);
	assert_non_null(by_value);
	for (i = 0; i < n; i += per_minute)
	{
		pp_sketch_t *minute = sk_new(8);
		size_t		j;

		for (j = i; j < n && j < i + per_minute; j++)
		{
			minute = sk_add_grow(minute, v[j], NULL);
			assert_int_equal(pp_sketch_acc_add(by_value, v[j]), PP_OK);
		}
		assert_int_equal(pp_sketch_acc_add_sketch(by_sketch, minute), PP_OK);
		free(minute);
	}
	for (k = 0; k < NQ; k++)
	{
		double		est = pp_sketch_acc_quantile(by_sketch, q_at(k));
		double		exact = exact_quantile(sorted, n, q_at(k));

		if (!within_bound(est, exact))
			fail_msg("%s n=%zu q=%g: %.17g for %.17g", dist_name[d], n,
					 q_at(k), est, exact);
		assert_true(est == pp_sketch_acc_quantile(by_value, q_at(k)));
		if (exact > 0 && fabs(est - exact) / exact > *worst)
			*worst = fabs(est - exact) / exact;
	}
	free(v);
	free(sorted);
	pool_release(&pool);
}

static void
test_accuracy_distributions(void **state)
{
	static const size_t sizes[] = {1, 2, 10, 1000, 20000};
	double		worst = 0;
	int			d;
	int			z;

	(void) state;
	for (d = 0; d < NDIST; d++)
		for (z = 0; z < (int) (sizeof(sizes) / sizeof(sizes[0])); z++)
			check_distribution((dist_t) d, sizes[z], 7 + d * 100 + z, &worst);
	print_message("worst relative error: %.9f\n", worst);
	assert_true(worst <= PP_SKETCH_ALPHA * (1 + 1e-9));
}

/*
 * percentile_disc picks x[max(1, ceil(q n)) - 1]: {1, 2, 3, 4} gives 1 at
 * q = 0 and 0.25, 2 at q = 0.26 and 0.5, 4 at q = 1 -- each within alpha.
 */
static void
test_percentile_disc_definition(void **state)
{
	pool_t		pool;
	pp_sketch_acc_t *acc;
	int			i;

	(void) state;
	pool_init(&pool);
	acc = pp_sketch_acc_create(&pool.allocator);
	for (i = 1; i <= 4; i++)
		assert_int_equal(pp_sketch_acc_add(acc, (double) i), PP_OK);
	assert_true(within_bound(pp_sketch_acc_quantile(acc, 0.0), 1.0));
	assert_true(within_bound(pp_sketch_acc_quantile(acc, 0.25), 1.0));
	assert_true(within_bound(pp_sketch_acc_quantile(acc, 0.26), 2.0));
	assert_true(within_bound(pp_sketch_acc_quantile(acc, 0.5), 2.0));
	assert_true(within_bound(pp_sketch_acc_quantile(acc, 0.75), 3.0));
	assert_true(within_bound(pp_sketch_acc_quantile(acc, 0.76), 4.0));
	assert_true(within_bound(pp_sketch_acc_quantile(acc, 1.0), 4.0));
	pool_release(&pool);
}

/* Empty, out-of-range q, the zero bucket, the top bin, bad input */
static void
test_quantile_edges(void **state)
{
	pool_t		pool;
	pp_sketch_acc_t *acc;
	pp_sketch_t *s = sk_new(4);

	(void) state;
	pool_init(&pool);
	acc = pp_sketch_acc_create(&pool.allocator);
	assert_true(isnan(pp_sketch_acc_quantile(acc, 0.5)));
	assert_int_equal(pp_sketch_acc_add(acc, 5.0), PP_OK);
	assert_true(isnan(pp_sketch_acc_quantile(acc, -0.01)));
	assert_true(isnan(pp_sketch_acc_quantile(acc, 1.01)));
	assert_true(isnan(pp_sketch_acc_quantile(acc, NAN)));
	assert_true(within_bound(pp_sketch_acc_quantile(acc, 0.5), 5.0));

	/* not finite: refused, nothing counted */
	assert_int_equal(pp_sketch_acc_add(acc, NAN), PP_ERR_INVALID_VALUE);
	assert_int_equal(pp_sketch_acc_add(acc, INFINITY), PP_ERR_INVALID_VALUE);
	assert_true(within_bound(pp_sketch_acc_quantile(acc, 1.0), 5.0));

	/* zeros and negatives answer 0; huge values the top bin */
	assert_int_equal(pp_sketch_acc_add(acc, 0.0), PP_OK);
	assert_int_equal(pp_sketch_acc_add(acc, -2.0), PP_OK);
	assert_int_equal(sk_add(s, 1e12, 1), PP_OK);
	assert_int_equal(pp_sketch_acc_add_sketch(acc, s), PP_OK);
	assert_true(pp_sketch_acc_quantile(acc, 0.0) == 0.0);
	assert_true(pp_sketch_acc_quantile(acc, 0.5) == 0.0);
	assert_true(within_bound(pp_sketch_acc_quantile(acc, 0.75), 5.0));
	assert_true(pp_sketch_acc_quantile(acc, 1.0) ==
				pp_sketch_index_value(PP_SKETCH_NBINS));

	/* a sketch with an index out of range is refused, nothing added */
	t_index(s)[0] = PP_SKETCH_NBINS + 1;
	assert_int_equal(pp_sketch_acc_add_sketch(acc, s), PP_ERR_INVALID_VALUE);
	assert_true(pp_sketch_acc_quantile(acc, 1.0) ==
				pp_sketch_index_value(PP_SKETCH_NBINS));
	assert_true(within_bound(pp_sketch_acc_quantile(acc, 0.75), 5.0));
	free(s);
	pool_release(&pool);
}

/* Values above a threshold: whole bins above it only; NaN or < 0 -> 0 */
static void
test_count_above(void **state)
{
	pool_t		pool;
	pp_sketch_acc_t *acc;
	int			i;

	(void) state;
	pool_init(&pool);
	acc = pp_sketch_acc_create(&pool.allocator);
	assert_int_equal(pp_sketch_acc_count_above(acc, 1.0), 0);
	for (i = 1; i <= 100; i++)
		assert_int_equal(pp_sketch_acc_add(acc, (double) i), PP_OK);
	assert_int_equal(pp_sketch_acc_add(acc, 0.0), PP_OK);
	assert_int_equal(pp_sketch_acc_count_above(acc, 0.0), 100);
	assert_int_equal(pp_sketch_acc_count_above(acc, 50.0), 50);
	/* 50.1 shares 50's bin: not above 50 */
	assert_int_equal(pp_sketch_acc_add(acc, 50.1), PP_OK);
	assert_int_equal(pp_sketch_acc_count_above(acc, 50.0), 50);
	assert_int_equal(pp_sketch_acc_count_above(acc, 49.0), 52);
	assert_int_equal(pp_sketch_acc_count_above(acc, 100.0), 0);
	assert_int_equal(pp_sketch_acc_count_above(acc, -1.0), 0);
	assert_int_equal(pp_sketch_acc_count_above(acc, NAN), 0);
	pool_release(&pool);
}

/* ---------------------------------------------------------------------
 * Accumulator: sparse and dense forms
 * ---------------------------------------------------------------------
 */

/* A plain model of an accumulator: one count per bin index */
typedef struct model_t
{
	uint64_t	counts[PP_SKETCH_NBINS + 1];	/* [0] = zero bucket */
	uint64_t	n;
} model_t;

static double
model_quantile(const model_t *m, double q)
{
	double		r = ceil(q * (double) m->n);
	uint64_t	rank = r < 1.0 ? 1 : (uint64_t) r;
	uint64_t	cum = 0;
	int			k;

	for (k = 0; k <= PP_SKETCH_NBINS; k++)
	{
		cum += m->counts[k];
		if (cum >= rank)
			return pp_sketch_index_value(k);
	}
	return NAN;
}

static uint64_t
model_count_above(const model_t *m, double threshold_ms)
{
	uint64_t	n = 0;
	int			k;

	for (k = pp_sketch_index_of(threshold_ms) + 1; k <= PP_SKETCH_NBINS; k++)
		n += m->counts[k];
	return n;
}

/*
 * Random mixes of values and sketches (capacities 4 to 512) into one
 * accumulator, which starts sparse and turns dense in some rounds: after
 * every step its quantiles and counts above equal those of the plain
 * model.  While it has at most PP_SKETCH_ACC_SPARSE_MAX bins it holds
 * under a ninth of the dense form's memory.
 */
static void
test_acc_sparse_dense(void **state)
{
	static const double thresholds[] = {0, 0.5, 1, 3, 10, 50, 100, 1e3, 1e5};
	model_t    *m = malloc(sizeof(model_t));
	pp_rng_t	rng;
	int			round;
	int			went_dense = 0;

	(void) state;
	assert_non_null(m);
	pp_rng_seed(&rng, 4242);
	for (round = 0; round < 200; round++)
	{
		pool_t		pool;
		pp_sketch_acc_t *acc;
		double		spread = 0.02 + 0.5 * uniform(&rng);
		int			step;
		int			i;
		int			k;

		pool_init(&pool);
		acc = pp_sketch_acc_create(&pool.allocator);
		assert_non_null(acc);
		memset(m, 0, sizeof(model_t));
		for (step = 0; step < 30; step++)
		{
			if (pp_rng_next(&rng) % 2 == 0)
			{
				double		v = pp_rng_next(&rng) % 17 == 0 ? 0.0 :
					20.0 * exp(spread * 10 * gauss(&rng));

				assert_int_equal(pp_sketch_acc_add(acc, v), PP_OK);
				m->counts[pp_sketch_index_of(v)]++;
				m->n++;
			}
			else
			{
				static const uint16_t caps_mix[] = {4, 16, 128, 512};
				pp_sketch_t *sk = sk_new(caps_mix[pp_rng_next(&rng) % 4]);
				int			n = 1 + (int) (pp_rng_next(&rng) % 250);

				for (i = 0; i < n; i++)
				{
					double		v = 20.0 * exp(spread * 10 * gauss(&rng));

					if (sk_add(sk, v, 1) == PP_OK)
					{
						m->counts[pp_sketch_index_of(v)]++;
						m->n++;
					}
				}
				assert_int_equal(pp_sketch_acc_add_sketch(acc, sk), PP_OK);
				free(sk);
			}
			for (k = 0; k < NQ; k += 7)
				assert_true(pp_sketch_acc_quantile(acc, q_at(k)) ==
							model_quantile(m, q_at(k)));
			for (k = 0; k < (int) (sizeof(thresholds) / sizeof(thresholds[0])); k++)
				assert_true(pp_sketch_acc_count_above(acc, thresholds[k]) ==
							model_count_above(m, thresholds[k]));
		}
		for (i = 0, k = 0; i <= PP_SKETCH_NBINS; i++)
			k += i > 0 && m->counts[i] > 0;
		if (k > PP_SKETCH_ACC_SPARSE_MAX)
		{
			assert_true(pool.held >= (PP_SKETCH_NBINS + 1) * sizeof(uint64_t));
			went_dense++;
		}
		else
			assert_true(pool.held * 9 < (PP_SKETCH_NBINS + 1) * sizeof(uint64_t));
		pool_release(&pool);
	}
	free(m);
	print_message("sparse vs dense: %d of 200 rounds outgrew %d sparse bins\n",
				  went_dense, PP_SKETCH_ACC_SPARSE_MAX);
	assert_true(went_dense > 0 && went_dense < 200);
}

/*
 * Memory: one value costs a header and four pairs, 256 distinct bins stay
 * sparse (under 3 KB), the 257th makes the accumulator dense.
 */
static void
test_acc_memory(void **state)
{
	pool_t		pool;
	pp_sketch_acc_t *acc;
	size_t		header;
	int			i;

	(void) state;
	pool_init(&pool);
	acc = pp_sketch_acc_create(&pool.allocator);
	header = pool.held;
	assert_true(header < 128);
	assert_int_equal(pp_sketch_acc_add(acc, 12.5), PP_OK);
	assert_int_equal(pp_sketch_acc_add(acc, 12.5), PP_OK);
	assert_int_equal(pp_sketch_acc_add(acc, 0.0), PP_OK);
	assert_true(pool.held - header <= 4 * (sizeof(uint64_t) + sizeof(uint16_t)));
	for (i = 0; i < PP_SKETCH_ACC_SPARSE_MAX; i++)
		assert_int_equal(pp_sketch_acc_add(acc, pp_sketch_index_value(1100 + i)), PP_OK);
	/* 12.5 ms lies in one of those bins */
	assert_true(pp_sketch_index_of(12.5) >= 1100 &&
				pp_sketch_index_of(12.5) < 1100 + PP_SKETCH_ACC_SPARSE_MAX);
	assert_true(pool.held - header <= PP_SKETCH_ACC_SPARSE_MAX * (sizeof(uint64_t) + sizeof(uint16_t)));
	assert_int_equal(pp_sketch_acc_add(acc, pp_sketch_index_value(1100 + PP_SKETCH_ACC_SPARSE_MAX)), PP_OK);
	assert_true(pool.held - header >= (PP_SKETCH_NBINS + 1) * sizeof(uint64_t));
	/* the sparse block was given back when the dense one replaced it */
	assert_true(pool.held - header < (PP_SKETCH_NBINS + 1) * sizeof(uint64_t) + 64);
	assert_true(pp_sketch_acc_quantile(acc, 0.0) == 0.0);
	assert_true(pp_sketch_acc_quantile(acc, 1.0) ==
				pp_sketch_index_value(1100 + PP_SKETCH_ACC_SPARSE_MAX));
	pool_release(&pool);
}

/*
 * Out of memory: an add or a sketch sum that needs a new block returns
 * PP_ERR_NO_MEMORY and leaves the accumulator as it was (the growth of the
 * pairs and the move to the dense form both fail cleanly).
 */
static void
test_acc_no_memory(void **state)
{
	int			fail_at;
	int			failures = 0;
	pool_t		fail_all;

	(void) state;
	pool_init(&fail_all);
	fail_all.fail_from = 0;
	assert_null(pp_sketch_acc_create(&fail_all.allocator));

	for (fail_at = 1; fail_at < 12; fail_at++)
	{
		pool_t		pool;
		pp_sketch_acc_t *acc;
		pp_sketch_t *wide = sk_new(512);
		uint64_t	above;
		double		p50;
		int			i;

		pool_init(&pool);
		acc = pp_sketch_acc_create(&pool.allocator);
		for (i = 0; i < 400; i++)
			assert_int_equal(pp_sketch_add_index_exact(wide, 500 + i, 1), PP_OK);
		pool.fail_from = fail_at;
		for (i = 0; i < 300; i++)
		{
			pp_error_code_t rc;

			above = pp_sketch_acc_count_above(acc, 0.0);
			p50 = pp_sketch_acc_quantile(acc, 0.5);
			rc = pp_sketch_acc_add(acc, pp_sketch_index_value(100 + i));
			if (rc == PP_OK)
				continue;
			assert_int_equal(rc, PP_ERR_NO_MEMORY);
			assert_true(pp_sketch_acc_count_above(acc, 0.0) == above);
			assert_true(pp_sketch_acc_quantile(acc, 0.5) == p50 ||
						(isnan(p50) && isnan(pp_sketch_acc_quantile(acc, 0.5))));
			failures++;
			break;
		}
		above = pp_sketch_acc_count_above(acc, 0.0);
		p50 = pp_sketch_acc_quantile(acc, 0.5);
		if (pp_sketch_acc_add_sketch(acc, wide) == PP_ERR_NO_MEMORY)
		{
			assert_true(pp_sketch_acc_count_above(acc, 0.0) == above);
			assert_true(pp_sketch_acc_quantile(acc, 0.5) == p50 ||
						(isnan(p50) && isnan(pp_sketch_acc_quantile(acc, 0.5))));
			failures++;
		}
		free(wide);
		pool_release(&pool);
	}
	assert_true(failures >= 11);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bin_map_range),
		cmocka_unit_test(test_layout),
		cmocka_unit_test(test_add_index_exact_full),
		cmocka_unit_test(test_capacity_in),
		cmocka_unit_test(test_remove),
		cmocka_unit_test(test_grow),
		cmocka_unit_test(test_validate_corruptions),
		cmocka_unit_test(test_validate_fuzz),
		cmocka_unit_test(test_accuracy_distributions),
		cmocka_unit_test(test_percentile_disc_definition),
		cmocka_unit_test(test_quantile_edges),
		cmocka_unit_test(test_count_above),
		cmocka_unit_test(test_acc_sparse_dense),
		cmocka_unit_test(test_acc_memory),
		cmocka_unit_test(test_acc_no_memory),
	};

	return cmocka_run_group_tests_name("sketch", tests, NULL, NULL);
}
