/*-------------------------------------------------------------------------
 *
 * test/unit/test_dumpfile.c
 *	  cmocka tests of src/core/dumpfile.c: a valid statistics file is
 *	  accepted and its records read back in order; each way a file can be
 *	  wrong is rejected with its reason, nothing read out of bounds;
 *	  hostile times are rejected or corrected and name hashes recomputed.
 *
 * No PostgreSQL headers.
 *
 *-------------------------------------------------------------------------
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "dump_image.h"

/* offsets in the image of test/unit/dump_image.h */
#define OFF_DBS			sizeof(pp_dump_header_t)
#define OFF_OP(i)		(OFF_DBS + TEST_DB_SIZE + (i) * (TEST_OP_SIZE + test_reservoir_bytes()))
#define OFF_RES(i)		(OFF_OP(i) + TEST_OP_SIZE)
#define OFF_BUCKET(i)	test_bucket_offset(i)
#define OFF_SKETCH(i)	(OFF_BUCKET(i) + TEST_BUCKET_SIZE)

/* a fresh image in an 8-byte aligned buffer with room for extra bytes */
static char *
image(size_t extra)
{
	char	   *buf = aligned_alloc(8, (test_dump_size() + extra + 7) & ~(size_t) 7);

	assert_non_null(buf);
	memset(buf, 0, test_dump_size() + extra);
	test_dump_image(buf);
	return buf;
}

static const char *
check(const char *buf, size_t len)
{
	pp_dump_layout_t l;
	pp_dump_header_t h;

	test_dump_layout(&l);
	return pp_dump_check(buf, len, &l, &h);
}

/* the reason after a change at offset (CRC fixed again unless told not to) */
static void
expect_after(size_t offset, const void *bytes, size_t n, const char *reason)
{
	char	   *buf = image(0);

	memcpy(buf + offset, bytes, n);
	test_dump_fix_crc(buf, test_dump_size());
	if (reason == NULL)
		assert_null(check(buf, test_dump_size()));
	else
		assert_string_equal(check(buf, test_dump_size()), reason);
	free(buf);
}

static void
test_valid_file_reads_back(void **state)
{
	char	   *buf = image(0);
	pp_dump_layout_t l;
	pp_dump_header_t h;
	pp_dump_reader_t r;
	const char *op;
	const char *bucket;
	int32_t		name_len;
	int64_t		calls;

	(void) state;
	/* the CRC-32C check value (RFC 3720's polynomial), as PostgreSQL's */
	assert_int_equal(test_crc32c("123456789", 9), 0xE3069283u);
	test_dump_layout(&l);
	assert_null(pp_dump_check(buf, test_dump_size(), &l, &h));
	assert_int_equal(h.n_dbs, 1);
	assert_int_equal(h.n_ops, 2);
	assert_int_equal(h.n_minute + h.n_hour, 3);

	pp_dump_reader_init(&r, buf, test_dump_size());
	assert_ptr_equal(pp_dump_take(&r, TEST_DB_SIZE), buf + OFF_DBS);
	op = pp_dump_take(&r, TEST_OP_SIZE);
	assert_ptr_equal(op, buf + OFF_OP(0));
	memcpy(&name_len, op + 4, sizeof(name_len));
	assert_int_equal(name_len, 3);
	assert_memory_equal(op + 8, "emb", 3);
	assert_non_null(pp_dump_take(&r, l.reservoir_bytes));
	assert_non_null(pp_dump_take(&r, TEST_OP_SIZE));
	assert_non_null(pp_dump_take(&r, l.reservoir_bytes));
	bucket = pp_dump_take(&r, TEST_BUCKET_SIZE);
	memcpy(&calls, bucket + 8, sizeof(calls));
	assert_int_equal(calls, 4);
	{
		const pp_sketch_t *sk = pp_dump_take_sketch(&r);

		/* each sketch is read at its own capacity */
		assert_ptr_equal(sk, buf + OFF_SKETCH(0));
		assert_int_equal(sk->capacity, test_sketch_caps[0]);
		assert_int_equal(sk->count, 4);
		assert_ptr_equal(pp_dump_take(&r, TEST_BUCKET_SIZE), buf + OFF_BUCKET(1));
		sk = pp_dump_take_sketch(&r);
		assert_int_equal(sk->capacity, test_sketch_caps[1]);
		assert_ptr_equal(pp_dump_take(&r, TEST_BUCKET_SIZE), buf + OFF_BUCKET(2));
		sk = pp_dump_take_sketch(&r);
		assert_int_equal(sk->capacity, test_sketch_caps[2]);
	}
	/* the reader stops at the CRC */
	assert_null(pp_dump_take(&r, 1));
	assert_ptr_equal(r.p, buf + test_dump_size() - sizeof(uint32_t));
	free(buf);
}

static void
test_header_reasons(void **state)
{
	char	   *buf = image(0);
	uint32_t	v;

	(void) state;
	/* shorter than a header and its CRC: nothing else is read */
	assert_string_equal(check(buf, sizeof(pp_dump_header_t) + 3), "file is truncated");
	assert_string_equal(check(buf, 0), "file is truncated");

	v = 0x12345678;
	expect_after(offsetof(pp_dump_header_t, magic), &v, sizeof(v), "not a ppprof statistics file");
	v = 1;
	expect_after(offsetof(pp_dump_header_t, format), &v, sizeof(v), "written by another version");
	v = 16;
	expect_after(offsetof(pp_dump_header_t, pg_major), &v, sizeof(v), "written by another version");
	v = 40;
	expect_after(offsetof(pp_dump_header_t, op_size), &v, sizeof(v), "written by another version");
	v = TEST_RES_CAP + 1;
	expect_after(offsetof(pp_dump_header_t, reservoir_capacity), &v, sizeof(v),
				 "written with other settings");
	v = 9;
	expect_after(offsetof(pp_dump_header_t, n_ops), &v, sizeof(v),
				 "more entries than the settings allow");

	/* sketches of another bin count: another version */
	v = PP_SKETCH_MAX_CAPACITY + 1;
	expect_after(offsetof(pp_dump_header_t, sketch_max_capacity), &v, sizeof(v),
				 "written by another version");

	/* one flipped bit anywhere: the checksum */
	buf[OFF_SKETCH(1) + 20] ^= 0x10;
	assert_string_equal(check(buf, test_dump_size()), "checksum mismatch");
	free(buf);
}

static void
test_record_reasons(void **state)
{
	char		zero = 0;
	int32_t		i32;
	int64_t		i64;
	char		junk[64];

	(void) state;
	expect_after(OFF_OP(1), &zero, 1, "corrupt operation entry");
	i32 = TEST_NAME_MAX + 1;
	expect_after(OFF_OP(0) + 4, &i32, sizeof(i32), "corrupt operation entry");
	i32 = -1;
	expect_after(OFF_OP(0) + 4, &i32, sizeof(i32), "corrupt operation entry");

	memset(junk, 0xFF, sizeof(junk));
	expect_after(OFF_RES(1), junk, 16, "corrupt reservoir");

	i32 = 2;					/* there are two operations: 0 and 1 */
	expect_after(OFF_BUCKET(1), &i32, sizeof(i32), "corrupt bucket entry");
	i32 = -1;
	expect_after(OFF_BUCKET(0), &i32, sizeof(i32), "corrupt bucket entry");

	expect_after(OFF_SKETCH(0), junk, 32, "corrupt sketch");

	/*
	 * The capacity in a sketch's header sizes its image: out of range is
	 * corrupt; a smaller or larger one in range misplaces every record after
	 * it, which the check sees (the next sketch, or the file's end).
	 */
	{
		uint16_t	cap;
		size_t		cap_at = offsetof(pp_sketch_t, capacity);

		cap = 0;
		expect_after(OFF_SKETCH(1) + cap_at, &cap, sizeof(cap), "corrupt sketch");
		cap = PP_SKETCH_MAX_CAPACITY + 1;
		expect_after(OFF_SKETCH(1) + cap_at, &cap, sizeof(cap), "corrupt sketch");
		cap = PP_SKETCH_MAX_CAPACITY;
		expect_after(OFF_SKETCH(2) + cap_at, &cap, sizeof(cap), "file is truncated");
		cap = 1;
		expect_after(OFF_SKETCH(2) + cap_at, &cap, sizeof(cap), "corrupt sketch");
	}

	i64 = 5;
	expect_after(OFF_BUCKET(0) + 8, &i64, sizeof(i64), "bucket counters disagree with their sketch");
	i64 = -4;
	expect_after(OFF_BUCKET(0) + 8, &i64, sizeof(i64), "bucket counters disagree with their sketch");
}

static void
test_length_reasons(void **state)
{
	char	   *buf;
	uint64_t	n;

	(void) state;
	/* the header promises one more hour bucket than the file holds */
	n = 2;
	expect_after(offsetof(pp_dump_header_t, n_hour), &n, sizeof(n), "file is truncated");

	/* the last bucket cut off, the CRC right for what is left */
	buf = image(0);
	n = 0;
	memcpy(buf + offsetof(pp_dump_header_t, n_hour), &n, sizeof(n));
	test_dump_fix_crc(buf, test_dump_size() - TEST_BUCKET_SIZE - PP_SKETCH_SIZE(test_sketch_caps[2]));
	assert_null(check(buf, test_dump_size() - TEST_BUCKET_SIZE - PP_SKETCH_SIZE(test_sketch_caps[2])));
	free(buf);

	/* eight bytes more than the records before the CRC */
	buf = image(8);
	test_dump_fix_crc(buf, test_dump_size() + 8);
	assert_string_equal(check(buf, test_dump_size() + 8), "trailing bytes");
	free(buf);
}

/* Hostile header and bucket times: rejected, each with its reason. */
static void
test_hostile_times(void **state)
{
	int64_t		t;

	(void) state;
	/* region starts in the next hour, not whole hours, out of order */
	t = TEST_MINUTE_START + 25 * PP_DUMP_USECS_PER_HOUR;
	expect_after(offsetof(pp_dump_header_t, minute_start), &t, sizeof(t), "region starts out of range");
	t = INT64_MAX - INT64_MAX % PP_DUMP_USECS_PER_HOUR;
	expect_after(offsetof(pp_dump_header_t, minute_start), &t, sizeof(t), "region starts out of range");
	t = TEST_MINUTE_START + 1;
	expect_after(offsetof(pp_dump_header_t, minute_start), &t, sizeof(t), "region starts out of range");
	t = TEST_HORIZON_START - 60;
	expect_after(offsetof(pp_dump_header_t, horizon_start), &t, sizeof(t), "region starts out of range");
	t = TEST_MINUTE_START + PP_DUMP_USECS_PER_HOUR;
	expect_after(offsetof(pp_dump_header_t, horizon_start), &t, sizeof(t), "region starts out of range");
	/* written after the loader's now (a clock set back, or forged) */
	t = TEST_NOW + 1;
	expect_after(offsetof(pp_dump_header_t, written_at), &t, sizeof(t), "written in the future");
	t = INT64_MAX;
	expect_after(offsetof(pp_dump_header_t, written_at), &t, sizeof(t), "written in the future");

	/* ancient region starts are fine: the server moves them with its clock */
	t = TEST_HORIZON_START - 1000 * PP_DUMP_USECS_PER_HOUR;
	expect_after(offsetof(pp_dump_header_t, horizon_start), &t, sizeof(t), NULL);

	/* a minute bucket not on a minute, before the minute region; an hour
	 * bucket not on an hour, before the horizon */
	t = TEST_MINUTE_START + 7 * PP_DUMP_USECS_PER_MINUTE + 1;
	expect_after(OFF_BUCKET(0) + 16, &t, sizeof(t), "bucket outside its region");
	t = TEST_MINUTE_START - PP_DUMP_USECS_PER_MINUTE;
	expect_after(OFF_BUCKET(1) + 16, &t, sizeof(t), "bucket outside its region");
	t = TEST_HORIZON_START + 90 * PP_DUMP_USECS_PER_MINUTE;
	expect_after(OFF_BUCKET(2) + 16, &t, sizeof(t), "bucket outside its region");
	t = TEST_HORIZON_START - PP_DUMP_USECS_PER_HOUR;
	expect_after(OFF_BUCKET(2) + 16, &t, sizeof(t), "bucket outside its region");
	t = INT64_MIN;
	expect_after(OFF_BUCKET(2) + 16, &t, sizeof(t), "bucket outside its region");
}

/*
 * Values the loader corrects: wrong name hashes are recomputed from the
 * names, last uses and resets in the future come back to now, rebuild
 * times are cleared; everything else is left as it was.
 */
static void
test_sanitize(void **state)
{
	char	   *buf = image(0);
	char	   *orig = image(0);
	pp_dump_layout_t l;
	pp_dump_header_t h;
	uint64_t	hash;
	int64_t		t;
	size_t		k;

	(void) state;
	test_dump_layout(&l);

	/* a clean file: nothing to correct but nothing either */
	assert_null(pp_dump_check(buf, test_dump_size(), &l, &h));
	assert_int_equal(pp_dump_sanitize(buf, test_dump_size(), &l, &h), 0);
	assert_memory_equal(buf, orig, test_dump_size());

	/* the second operation claims the first's hash, the first a made-up one */
	memcpy(&hash, buf + OFF_OP(0) + 40, sizeof(hash));
	memcpy(buf + OFF_OP(1) + 40, &hash, sizeof(hash));
	hash = 42;
	memcpy(buf + OFF_OP(0) + 40, &hash, sizeof(hash));
	t = INT64_MAX;				/* used "last" at the end of time */
	memcpy(buf + OFF_OP(1) + 48, &t, sizeof(t));
	t = TEST_NOW + 3600;		/* reset in the future */
	memcpy(buf + OFF_DBS, &t, sizeof(t));
	t = TEST_NOW + 100 * PP_DUMP_USECS_PER_HOUR;	/* rebuild "started" */
	memcpy(buf + OFF_DBS + 8, &t, sizeof(t));
	test_dump_fix_crc(buf, test_dump_size());
	assert_null(pp_dump_check(buf, test_dump_size(), &l, &h));
	assert_int_equal(pp_dump_sanitize(buf, test_dump_size(), &l, &h), 5);

	memcpy(&hash, buf + OFF_OP(0) + 40, sizeof(hash));
	assert_true(hash == test_name_hash("emb", 3));
	memcpy(&hash, buf + OFF_OP(1) + 40, sizeof(hash));
	assert_true(hash == test_name_hash("rera", 4));
	memcpy(&t, buf + OFF_OP(1) + 48, sizeof(t));
	assert_true(t == TEST_NOW);
	memcpy(&t, buf + OFF_DBS, sizeof(t));
	assert_true(t == TEST_NOW);
	memcpy(&t, buf + OFF_DBS + 8, sizeof(t));
	assert_true(t == 0);
	/* the other bytes (the CRC aside) are the original file's */
	for (k = 0; k < test_dump_size() - sizeof(uint32_t); k++)
	{
		if ((k >= OFF_OP(0) + 40 && k < OFF_OP(0) + 48) ||
			(k >= OFF_OP(1) + 40 && k < OFF_OP(1) + 56) ||
			(k >= OFF_DBS && k < OFF_DBS + 16))
			continue;
		if (buf[k] != orig[k])
			fail_msg("byte %zu changed", k);
	}
	/* sanitizing twice changes nothing more */
	assert_int_equal(pp_dump_sanitize(buf, test_dump_size(), &l, &h), 0);

	/* a layout whose offsets do not fit its records is refused */
	l.op_hash_offset = TEST_OP_SIZE - 4;
	assert_string_equal(pp_dump_check(buf, test_dump_size(), &l, &h), "invalid layout");
	test_dump_layout(&l);
	l.op_hash = NULL;
	assert_string_equal(pp_dump_check(buf, test_dump_size(), &l, &h), "invalid layout");
	free(buf);
	free(orig);
}

/* Call paths (format 5): read back, hashes from the parent's, refusals */
static void
test_paths(void **state)
{
	size_t		len = test_dump_size_with_paths();
	char	   *buf = image(len - test_dump_size());
	pp_dump_layout_t l;
	pp_dump_header_t h;
	const char *paths = buf + test_dump_size() - sizeof(uint32_t);
	uint64_t	hash0;
	uint64_t	hash1;
	int32_t		v;

	(void) state;
	test_dump_add_paths(buf);
	test_dump_layout(&l);
	assert_null(pp_dump_check(buf, len, &l, &h));
	assert_int_equal(h.n_paths, 2);
	assert_int_equal(h.n_path_minute, 1);
	/* the two path hashes (written as 0) are computed, parent first */
	assert_int_equal(pp_dump_sanitize(buf, len, &l, &h), 2);
	memcpy(&hash0, paths + 40, sizeof(hash0));
	memcpy(&hash1, paths + TEST_OP_SIZE + 40, sizeof(hash1));
	assert_true(hash0 == test_path_hash(paths, 0));
	assert_true(hash1 == test_path_hash(paths + TEST_OP_SIZE, hash0));
	free(buf);

	/* a parent that is not an earlier path */
	buf = image(len - test_dump_size());
	test_dump_add_paths(buf);
	v = 0;
	memcpy(buf + test_dump_size() - sizeof(uint32_t) + 56, &v, sizeof(v));
	test_dump_fix_crc(buf, len);
	assert_string_equal(pp_dump_check(buf, len, &l, &h), "corrupt path entry");
	free(buf);

	/* a path bucket of no path */
	buf = image(len - test_dump_size());
	test_dump_add_paths(buf);
	v = 2;
	memcpy(buf + len - sizeof(uint32_t) - TEST_BUCKET_SIZE, &v, sizeof(v));
	test_dump_fix_crc(buf, len);
	assert_string_equal(pp_dump_check(buf, len, &l, &h), "corrupt bucket entry");
	free(buf);

	/* more paths than ppprof.max_paths */
	buf = image(len - test_dump_size());
	test_dump_add_paths(buf);
	l.max_paths = 1;
	assert_string_equal(pp_dump_check(buf, len, &l, &h), "more entries than the settings allow");
	free(buf);
}

/* Dimension entries (format 7): hash from their operation's, refusals */
static void
test_dims(void **state)
{
	size_t		len = test_dump_size() + TEST_OP_SIZE;
	char	   *buf = image(len - test_dump_size());
	pp_dump_layout_t l;
	pp_dump_header_t h;
	const char *dim = buf + test_dump_size() - sizeof(uint32_t);
	uint64_t	hash;
	int32_t		v;

	(void) state;
	assert_int_equal(test_dump_add_dims(buf, test_dump_size()), len);
	test_dump_layout(&l);
	assert_null(pp_dump_check(buf, len, &l, &h));
	assert_int_equal(h.n_dims, 1);
	/* the operations' hashes are sanitized first, then the entry's */
	(void) pp_dump_sanitize(buf, len, &l, &h);
	memcpy(&hash, dim + 40, sizeof(hash));
	assert_true(hash == test_dim_hash(dim, buf + OFF_OP(1)));
	assert_int_equal(pp_dump_sanitize(buf, len, &l, &h), 0);
	free(buf);

	/* an operation index beyond the operations */
	buf = image(len - test_dump_size());
	(void) test_dump_add_dims(buf, test_dump_size());
	v = 2;
	memcpy(buf + test_dump_size() - sizeof(uint32_t) + 56, &v, sizeof(v));
	test_dump_fix_crc(buf, len);
	assert_string_equal(pp_dump_check(buf, len, &l, &h), "corrupt dimension entry");
	free(buf);

	/* more entries than ppprof.max_dimension_entries, no hash function */
	buf = image(len - test_dump_size());
	(void) test_dump_add_dims(buf, test_dump_size());
	l.max_dims = 0;
	assert_string_equal(pp_dump_check(buf, len, &l, &h), "more entries than the settings allow");
	test_dump_layout(&l);
	l.dim_hash = NULL;
	assert_string_equal(pp_dump_check(buf, len, &l, &h), "invalid layout");
	free(buf);
}

/* Bucket starts: rounded down, also before 2000-01-01 (negative) */
static void
test_time_floor(void **state)
{
	const int64_t h = PP_DUMP_USECS_PER_HOUR;

	(void) state;
	assert_true(pp_time_floor(0, h) == 0);
	assert_true(pp_time_floor(h - 1, h) == 0);
	assert_true(pp_time_floor(h, h) == h);
	assert_true(pp_time_floor(5 * h + 7, h) == 5 * h);
	assert_true(pp_time_floor(-1, h) == -h);
	assert_true(pp_time_floor(-h, h) == -h);
	assert_true(pp_time_floor(-h - 1, h) == -2 * h);
	assert_true(pp_time_floor(-61, PP_DUMP_USECS_PER_MINUTE) ==
				-PP_DUMP_USECS_PER_MINUTE);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_file_reads_back),
		cmocka_unit_test(test_header_reasons),
		cmocka_unit_test(test_record_reasons),
		cmocka_unit_test(test_length_reasons),
		cmocka_unit_test(test_hostile_times),
		cmocka_unit_test(test_sanitize),
		cmocka_unit_test(test_paths),
		cmocka_unit_test(test_dims),
		cmocka_unit_test(test_time_floor),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
