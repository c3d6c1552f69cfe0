/*-------------------------------------------------------------------------
 *
 * test/unit/test_rollup.c
 *	  cmocka tests of src/core/rollup.c: a bucket's counters and sketches
 *	  survive the stored form bit for bit (random sketches of every size,
 *	  extreme integers, infinities), the form is small, and the decoder
 *	  rejects every malformed input -- each truncation, a trailing byte,
 *	  another version, unknown flags, a NaN, too many counters, bins out of
 *	  order or out of range, a zero count, overflowing totals -- and never
 *	  reads outside the bytes it is given (every input is copied into a heap
 *	  block of exactly its length, ASan-checked).
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
#include "rollup.h"
#include "sketch.h"

#define BIG		PP_SKETCH_SIZE(PP_SKETCH_MAX_CAPACITY)

/* A sketch of n values spread over about `spread` bins, from rng. */
static pp_sketch_t *
random_sketch(pp_rng_t *rng, int n, int spread)
{
	pp_sketch_t *s = malloc(BIG);
	int			i;
	int			base = 1 + (int) (uniform(rng) * (PP_SKETCH_NBINS - spread));

	pp_sketch_init(s, PP_SKETCH_MAX_CAPACITY);
	for (i = 0; i < n; i++)
	{
		int			index = uniform(rng) < 0.05 ? 0 :
			base + (int) (uniform(rng) * spread);

		assert_int_equal(pp_sketch_add_index_exact(s, index, 1 + (uint32_t) (uniform(rng) * 3)), PP_OK);
	}
	return s;
}

/* Decode buf[0..len) from a heap block of exactly len bytes. */
static pp_error_code_t
decode_exact(const uint8_t *buf, size_t len, pp_rollup_t *r, uint8_t *flags,
			 pp_sketch_t *d, pp_sketch_t *t, pp_error_t *err)
{
	uint8_t    *copy = malloc(len > 0 ? len : 1);
	pp_error_code_t rc;

	memcpy(copy, buf, len);
	rc = pp_rollup_decode(copy, len, r, flags, d, t, err);
	free(copy);
	return rc;
}

/* The used slots and counts of two sketches are the same. */
static void
assert_same_sketch(const pp_sketch_t *a, const pp_sketch_t *b)
{
	int			i;

	assert_int_equal(a->count, b->count);
	assert_int_equal(a->zero_count, b->zero_count);
	assert_int_equal(a->nbins, b->nbins);
	for (i = 0; i < a->nbins; i++)
	{
		uint16_t	ia,
					ib;
		uint32_t	ca,
					cb;

		pp_sketch_slot(a, i, &ia, &ca);
		pp_sketch_slot(b, i, &ib, &cb);
		assert_int_equal(ia, ib);
		assert_int_equal(ca, cb);
	}
}

static void
fill_counters(pp_rollup_t *r, pp_rng_t *rng)
{
	int			i;

	r->n_ints = 20;
	for (i = 0; i < r->n_ints; i++)
		r->ints[i] = (int64_t) pp_rng_next(rng) >> (int) (uniform(rng) * 63);
	r->ints[0] = INT64_MIN;
	r->ints[1] = INT64_MAX;
	r->ints[2] = -1;
	r->ints[3] = 0;
	r->n_floats = 8;
	for (i = 0; i < r->n_floats; i++)
		r->floats[i] = (uniform(rng) - 0.5) * 1e6;
	r->floats[0] = INFINITY;
	r->floats[1] = -INFINITY;
	r->floats[2] = -0.0;
	r->floats[3] = 5e-324;
}

static void
test_round_trip(void **state)
{
	pp_rng_t	rng;
	int			round;
	pp_sketch_t *d = malloc(BIG);
	pp_sketch_t *t = malloc(BIG);

	(void) state;
	pp_rng_seed(&rng, 21);
	for (round = 0; round < 400; round++)
	{
		pp_rollup_t r;
		pp_rollup_t back;
		int			n = round % 4 == 0 ? 0 : 1 + (int) (uniform(&rng) * 5000);
		int			spread = 1 + (int) (uniform(&rng) * (round % 3 == 0 ? PP_SKETCH_NBINS - 1 : 80));
		pp_sketch_t *sd = random_sketch(&rng, n, spread);
		pp_sketch_t *st = round % 2 ? random_sketch(&rng, n / 3, 20) : NULL;
		uint8_t    *buf;
		size_t		len = 0;
		uint8_t		flags;
		int			i;

		fill_counters(&r, &rng);
		buf = malloc(pp_rollup_bound(&r, sd, st));
		assert_int_equal(pp_rollup_encode(&r, sd, st, buf, &len), PP_OK);
		assert_true(len <= pp_rollup_bound(&r, sd, st));
		assert_int_equal(decode_exact(buf, len, &back, &flags, d, t, NULL), PP_OK);
		assert_int_equal(flags, PP_ROLLUP_HAS_DURATIONS | (st ? PP_ROLLUP_HAS_TTFT : 0));
		assert_int_equal(back.n_ints, r.n_ints);
		assert_int_equal(back.n_floats, r.n_floats);
		for (i = 0; i < r.n_ints; i++)
			assert_true(back.ints[i] == r.ints[i]);
		/* bit for bit: -0.0 stays negative */
		assert_memory_equal(back.floats, r.floats, sizeof(double) * r.n_floats);
		assert_same_sketch(d, sd);
		assert_int_equal(pp_sketch_validate(d, BIG, NULL), PP_OK);
		if (st)
			assert_same_sketch(t, st);
		free(buf);
		free(sd);
		free(st);
	}
	free(d);
	free(t);
}

/* A bucket of 700 durations over 60 bins takes a few hundred bytes. */
static void
test_compact(void **state)
{
	pp_rng_t	rng;
	pp_rollup_t r = {0};
	pp_sketch_t *sd;
	uint8_t		buf[4096];
	size_t		len;

	(void) state;
	pp_rng_seed(&rng, 7);
	sd = random_sketch(&rng, 700, 60);
	r.n_ints = 12;
	r.ints[0] = 700;
	r.n_floats = 7;
	r.floats[0] = 123456.789;
	assert_true(pp_rollup_bound(&r, sd, NULL) <= sizeof(buf));
	assert_int_equal(pp_rollup_encode(&r, sd, NULL, buf, &len), PP_OK);
	print_message("700 values in %u bins: %zu bytes (shared memory image %zu)\n",
				  sd->nbins, len, PP_SKETCH_SIZE(sd->nbins));
	assert_true(len < 300);
	free(sd);
}

/* A rollup with both sketches, as the malformed inputs' base. */
static size_t
sample(uint8_t *buf, pp_rng_t *rng)
{
	pp_rollup_t r;
	pp_sketch_t *sd = random_sketch(rng, 300, 40);
	pp_sketch_t *st = random_sketch(rng, 50, 10);
	size_t		len;

	fill_counters(&r, rng);
	assert_int_equal(pp_rollup_encode(&r, sd, st, buf, &len), PP_OK);
	free(sd);
	free(st);
	return len;
}

static void
expect_invalid(const uint8_t *buf, size_t len, const char *path)
{
	pp_rollup_t r;
	uint8_t		flags = 0xff;
	pp_error_t	err;
	pp_sketch_t *d = malloc(BIG);
	pp_sketch_t *t = malloc(BIG);

	memset(&err, 0, sizeof(err));
	assert_int_equal(decode_exact(buf, len, &r, &flags, d, t, &err), PP_ERR_INVALID_VALUE);
	assert_int_equal(flags, 0);
	if (path != NULL)
		assert_string_equal(err.path, path);
	assert_true(err.text[0] != '\0');
	free(d);
	free(t);
}

static void
test_malformed(void **state)
{
	pp_rng_t	rng;
	uint8_t		buf[8192];
	uint8_t		bad[8192];
	size_t		len;
	size_t		cut;
	pp_rollup_t r = {0};
	uint8_t    *p;

	(void) state;
	pp_rng_seed(&rng, 99);
	len = sample(buf, &rng);

	/* every truncation, and one byte more */
	for (cut = 0; cut < len; cut++)
		expect_invalid(buf, cut, NULL);
	memcpy(bad, buf, len);
	bad[len] = 0;
	expect_invalid(bad, len + 1, "end");

	/* another version, unknown flags */
	memcpy(bad, buf, len);
	bad[0] = PP_ROLLUP_VERSION + 1;
	expect_invalid(bad, len, "version");
	memcpy(bad, buf, len);
	bad[1] |= 0x04;
	expect_invalid(bad, len, "flags");

	/* too many counters; a varint longer than 64 bits */
	p = bad;
	*p++ = PP_ROLLUP_VERSION;
	*p++ = 0;
	*p++ = PP_ROLLUP_MAX_INTS + 1;
	expect_invalid(bad, (size_t) (p - bad), "ints");
	p = bad + 2;
	*p++ = 1;
	memset(p, 0xff, 9);
	p += 9;
	*p++ = 0x02;
	*p++ = 0;
	expect_invalid(bad, (size_t) (p - bad), "ints");

	/* a NaN double */
	p = bad + 2;
	*p++ = 0;
	*p++ = 1;
	memset(p, 0xff, 8);
	p += 8;
	expect_invalid(bad, (size_t) (p - bad), "floats");

	/* sketches: a zero delta, an index past NBINS, a zero count, overflow */
	r.n_ints = 0;
	r.n_floats = 0;
	{
		uint8_t		head[] = {PP_ROLLUP_VERSION, PP_ROLLUP_HAS_DURATIONS, 0, 0};
		uint8_t		zero_delta[] = {0, 2, 5, 1, 0, 1};
		uint8_t		past[] = {0, 1, 0x81, 0x18, 1};	/* index 3073 */
		uint8_t		zero_count[] = {0, 1, 5, 0};
		uint8_t		overflow[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,
		1, 1, 1};
		uint8_t		too_many[] = {0, 0x81, 0x18};	/* 3073 bins */

		memcpy(bad, head, 4);
		memcpy(bad + 4, zero_delta, sizeof(zero_delta));
		expect_invalid(bad, 4 + sizeof(zero_delta), "durations");
		memcpy(bad + 4, past, sizeof(past));
		expect_invalid(bad, 4 + sizeof(past), "durations");
		memcpy(bad + 4, zero_count, sizeof(zero_count));
		expect_invalid(bad, 4 + sizeof(zero_count), "durations");
		memcpy(bad + 4, overflow, sizeof(overflow));
		expect_invalid(bad, 4 + sizeof(overflow), "durations");
		memcpy(bad + 4, too_many, sizeof(too_many));
		expect_invalid(bad, 4 + sizeof(too_many), "durations");
	}

	/* the encoder refuses what it cannot store */
	r.n_ints = PP_ROLLUP_MAX_INTS + 1;
	assert_int_equal(pp_rollup_encode(&r, NULL, NULL, bad, &len), PP_ERR_INVALID_VALUE);
	r.n_ints = 0;
	r.n_floats = 1;
	r.floats[0] = NAN;
	assert_int_equal(pp_rollup_encode(&r, NULL, NULL, bad, &len), PP_ERR_INVALID_VALUE);
}

/*
 * Every single-byte change of a valid rollup is either rejected or read as
 * a rollup whose sketches pass their validator; never a crash.
 */
static void
test_byte_flips(void **state)
{
	pp_rng_t	rng;
	uint8_t		buf[8192];
	uint8_t		bad[8192];
	size_t		len;
	size_t		i;
	pp_sketch_t *d = malloc(BIG);
	pp_sketch_t *t = malloc(BIG);
	int			accepted = 0;

	(void) state;
	pp_rng_seed(&rng, 5);
	len = sample(buf, &rng);
	for (i = 0; i < len; i++)
	{
		pp_rollup_t r;
		uint8_t		flags;

		memcpy(bad, buf, len);
		bad[i] ^= (uint8_t) (1 + (pp_rng_next(&rng) % 255));
		if (decode_exact(bad, len, &r, &flags, d, t, NULL) == PP_OK)
		{
			accepted++;
			if (flags & PP_ROLLUP_HAS_DURATIONS)
				assert_int_equal(pp_sketch_validate(d, BIG, NULL), PP_OK);
			if (flags & PP_ROLLUP_HAS_TTFT)
				assert_int_equal(pp_sketch_validate(t, BIG, NULL), PP_OK);
		}
	}
	/* a changed counter or count is still a valid rollup */
	assert_true(accepted > 0);
	free(d);
	free(t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_compact),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_byte_flips),
	};

	return cmocka_run_group_tests_name("rollup", tests, NULL, NULL);
}
