/*-------------------------------------------------------------------------
 *
 * test/unit/dump_image.h
 *	  A small, valid statistics file image for the core check
 *	  (src/core/dumpfile.c), with made-up record layouts: shared by
 *	  test_dumpfile.c and test/fuzz/fuzz_dump.c.
 *
 * Records: a database is 16 bytes (last reset at 0, rebuild started at
 * 8); an operation 56 (in_use at 0, name_len at 4, name at 8, name hash at
 * 40, last use at 48); a bucket 24 (operation index at 0, calls at 8,
 * start at 16).  Reservoirs hold TEST_RES_CAP samples.  The image has 1
 * database, 2 operations, 2 minute buckets and 1 hour bucket, each sketch
 * at its own capacity (test_sketch_caps), then the CRC-32C; it was written at TEST_WRITTEN and is read at TEST_NOW, with
 * the minute region from TEST_MINUTE_START and the hour region from
 * TEST_HORIZON_START.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PP_TEST_DUMP_IMAGE_H
#define PP_TEST_DUMP_IMAGE_H

#include <stdint.h>
#include <string.h>

#include "dumpfile.h"
#include "reservoir.h"
#include "sketch.h"

#define TEST_RES_CAP		4
#define TEST_NAME_MAX		31
#define TEST_DB_SIZE		16
#define TEST_OP_SIZE		64
#define TEST_BUCKET_SIZE	24

/* the capacities of the three buckets' sketches, in file order */
static const uint16_t test_sketch_caps[3] = {8, 128, 512};

/* times, microseconds since 2000-01-01: 2025-06-01 12:34:56 and around */
#define TEST_NOW			INT64_C(802010096000000)
#define TEST_WRITTEN		(TEST_NOW - INT64_C(600000000))
#define TEST_MINUTE_START	(TEST_NOW - TEST_NOW % PP_DUMP_USECS_PER_HOUR - 24 * PP_DUMP_USECS_PER_HOUR)
#define TEST_HORIZON_START	(TEST_MINUTE_START - 6 * 24 * PP_DUMP_USECS_PER_HOUR)

/* FNV-1a, standing in for the server's hash of a name */
static uint64_t
test_name_hash(const char *name, size_t len)
{
	uint64_t	h = UINT64_C(14695981039346656037);

	for (size_t i = 0; i < len; i++)
	{
		h ^= (unsigned char) name[i];
		h *= UINT64_C(1099511628211);
	}
	return h;
}

/* CRC-32C (Castagnoli), bit by bit: slow and obviously right */
static uint32_t
test_crc32c(const void *data, size_t len)
{
	const uint8_t *p = data;
	uint32_t	crc = 0xFFFFFFFFu;

	while (len--)
	{
		crc ^= *p++;
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1u)));
	}
	return crc ^ 0xFFFFFFFFu;
}

static size_t
test_reservoir_bytes(void)
{
	return (pp_reservoir_size(TEST_RES_CAP) + 7) & ~(size_t) 7;
}

/* an operation record's hash: its name's (name_len at 4, name at 8) */
static uint64_t
test_op_hash(const char *op)
{
	int32_t		name_len;

	memcpy(&name_len, op + 4, sizeof(name_len));
	return test_name_hash(op + 8, (size_t) name_len);
}

/* a path record's hash: its name's combined with its parent's */
static uint64_t
test_path_hash(const char *op, uint64_t parent_hash)
{
	return (parent_hash * UINT64_C(31)) ^ test_op_hash(op);
}

/* a dimension record's hash: its value's combined with its operation's */
static uint64_t
test_dim_hash(const char *dim, const char *op)
{
	return (test_op_hash(op) * UINT64_C(17)) ^ test_op_hash(dim);
}

static void
test_dump_layout(pp_dump_layout_t *l)
{
	memset(l, 0, sizeof(*l));
	l->magic = 0x50501126;
	l->format = 5;
	l->pg_major = 15;
	l->reservoir_capacity = TEST_RES_CAP;
	l->name_max = TEST_NAME_MAX;
	l->db_size = TEST_DB_SIZE;
	l->op_size = TEST_OP_SIZE;
	l->bucket_size = TEST_BUCKET_SIZE;
	l->reservoir_bytes = test_reservoir_bytes();
	l->op_in_use_offset = 0;
	l->op_name_len_offset = 4;
	l->op_hash_offset = 40;
	l->op_last_used_offset = 48;
	l->op_parent_offset = 56;
	l->db_last_reset_offset = 0;
	l->db_rebuild_started_offset = 8;
	l->bucket_op_offset = 0;
	l->bucket_calls_offset = 8;
	l->bucket_start_offset = 16;
	l->max_dbs = 4;
	l->max_ops = 8;
	l->max_paths = 8;
	l->max_dims = 8;
	l->max_minute = 16;
	l->max_hour = 16;
	l->crc32c = test_crc32c;
	l->op_hash = test_op_hash;
	l->path_hash = test_path_hash;
	l->dim_hash = test_dim_hash;
	l->now = TEST_NOW;
}

/* offset of bucket record i (0 .. 3; 3 is where the CRC starts) */
static size_t
test_bucket_offset(int i)
{
	size_t		off = sizeof(pp_dump_header_t) + TEST_DB_SIZE +
		2 * (TEST_OP_SIZE + test_reservoir_bytes());
	int			k;

	for (k = 0; k < i; k++)
		off += TEST_BUCKET_SIZE + PP_SKETCH_SIZE(test_sketch_caps[k]);
	return off;
}

/* the image's total size */
static size_t
test_dump_size(void)
{
	return test_bucket_offset(3) + sizeof(uint32_t);
}

/* Store the CRC of buf[0 .. len - 4) in its last 4 bytes. */
static void
test_dump_fix_crc(char *buf, size_t len)
{
	uint32_t	crc = test_crc32c(buf, len - sizeof(uint32_t));

	memcpy(buf + len - sizeof(uint32_t), &crc, sizeof(crc));
}

/* Write the image into buf (test_dump_size() bytes, 8-byte aligned, zeroed). */
static void
test_dump_image(char *buf)
{
	pp_dump_header_t h;
	char	   *p = buf + sizeof(h);
	int			i;

	memset(&h, 0, sizeof(h));
	h.magic = 0x50501126;
	h.format = 5;
	h.pg_major = 15;
	h.sketch_format = PP_SKETCH_FORMAT_VERSION;
	h.sketch_max_capacity = PP_SKETCH_MAX_CAPACITY;
	h.reservoir_capacity = TEST_RES_CAP;
	h.name_max = TEST_NAME_MAX;
	h.db_size = TEST_DB_SIZE;
	h.op_size = TEST_OP_SIZE;
	h.bucket_size = TEST_BUCKET_SIZE;
	h.n_dbs = 1;
	h.n_ops = 2;
	h.n_minute = 2;
	h.n_hour = 1;
	h.minute_start = TEST_MINUTE_START;
	h.horizon_start = TEST_HORIZON_START;
	h.written_at = TEST_WRITTEN;
	memcpy(buf, &h, sizeof(h));

	{
		int64_t		reset = TEST_WRITTEN - INT64_C(86400000000);

		memcpy(p, &reset, sizeof(reset));
	}
	p += TEST_DB_SIZE;
	for (i = 0; i < 2; i++)
	{
		int32_t		name_len = 3 + i;
		const char *name = i ? "rerank" : "embed";
		uint64_t	hash = test_name_hash(name, (size_t) name_len);
		int64_t		last_used = TEST_WRITTEN - 1000 * i;
		pp_reservoir_t *r;
		pp_reservoir_sample_t s;

		p[0] = 1;
		memcpy(p + 4, &name_len, sizeof(name_len));
		memcpy(p + 8, name, (size_t) name_len);
		memcpy(p + 40, &hash, sizeof(hash));
		memcpy(p + 48, &last_used, sizeof(last_used));
		p += TEST_OP_SIZE;
		r = pp_reservoir_init(p, TEST_RES_CAP);
		memset(&s, 0, sizeof(s));
		s.duration_ms = 10.0 * (i + 1);
		(void) pp_reservoir_offer(r, &s, 7);
		p += test_reservoir_bytes();
	}
	for (i = 0; i < 3; i++)
	{
		uint16_t	cap = test_sketch_caps[i];
		int32_t		op = i % 2;
		int64_t		calls;
		int64_t		start = i < 2 ? TEST_MINUTE_START + 7 * PP_DUMP_USECS_PER_MINUTE :
			TEST_HORIZON_START + 3 * PP_DUMP_USECS_PER_HOUR;
		pp_sketch_t *sk = (pp_sketch_t *) (p + TEST_BUCKET_SIZE);

		pp_sketch_init(sk, cap);
		(void) pp_sketch_add_index_exact(sk, pp_sketch_index_of(1.5 + i), 1);
		(void) pp_sketch_add_index_exact(sk, pp_sketch_index_of(250.0), 1);
		(void) pp_sketch_add_index_exact(sk, 0, 2);
		calls = (int64_t) sk->count;
		memcpy(p, &op, sizeof(op));
		memcpy(p + 8, &calls, sizeof(calls));
		memcpy(p + 16, &start, sizeof(start));
		p += TEST_BUCKET_SIZE + PP_SKETCH_SIZE(cap);
	}
	test_dump_fix_crc(buf, test_dump_size());
}

/*
 * Append to an image of len bytes (its CRC last) one dimension entry,
 * value "gpt" under operation 1, without buckets; the new size.
 */
static size_t
test_dump_add_dims(char *buf, size_t len)
{
	char	   *p = buf + len - sizeof(uint32_t);
	uint32_t	n_dims = 1;
	int32_t		name_len = 3;
	int32_t		parent = 1;
	int64_t		last_used = TEST_WRITTEN;

	memcpy(buf + offsetof(pp_dump_header_t, n_dims), &n_dims, sizeof(n_dims));
	memset(p, 0, TEST_OP_SIZE);
	p[0] = 1;
	memcpy(p + 4, &name_len, sizeof(name_len));
	memcpy(p + 8, "gpt", 3);
	memcpy(p + 48, &last_used, sizeof(last_used));
	memcpy(p + 56, &parent, sizeof(parent));
	test_dump_fix_crc(buf, len + TEST_OP_SIZE);
	return len + TEST_OP_SIZE;
}

/* the size of the image with the paths of test_dump_add_paths */
static size_t
test_dump_size_with_paths(void)
{
	return test_dump_size() + 2 * TEST_OP_SIZE + TEST_BUCKET_SIZE;
}

/*
 * Append to the image in buf (test_dump_size_with_paths() bytes) two call
 * paths, "rag" and "rag;llm" (parent 0), and a minute bucket of the second.
 */
static void
test_dump_add_paths(char *buf)
{
	char	   *p = buf + test_dump_size() - sizeof(uint32_t);
	uint32_t	n_paths = 2;
	uint64_t	n_path_minute = 1;
	int			i;

	memcpy(buf + offsetof(pp_dump_header_t, n_paths), &n_paths, sizeof(n_paths));
	memcpy(buf + offsetof(pp_dump_header_t, n_path_minute), &n_path_minute,
		   sizeof(n_path_minute));
	for (i = 0; i < 2; i++)
	{
		int32_t		name_len = 3;
		int32_t		parent = i - 1;
		int64_t		last_used = TEST_WRITTEN;

		memset(p, 0, TEST_OP_SIZE);
		p[0] = 1;
		memcpy(p + 4, &name_len, sizeof(name_len));
		memcpy(p + 8, i ? "llm" : "rag", 3);
		memcpy(p + 48, &last_used, sizeof(last_used));
		memcpy(p + 56, &parent, sizeof(parent));
		p += TEST_OP_SIZE;
	}
	{
		int32_t		op = 1;
		int64_t		calls = 3;
		int64_t		start = TEST_MINUTE_START + 9 * PP_DUMP_USECS_PER_MINUTE;

		memset(p, 0, TEST_BUCKET_SIZE);
		memcpy(p, &op, sizeof(op));
		memcpy(p + 8, &calls, sizeof(calls));
		memcpy(p + 16, &start, sizeof(start));
	}
	test_dump_fix_crc(buf, test_dump_size_with_paths());
}

#endif							/* PP_TEST_DUMP_IMAGE_H */
