/*-------------------------------------------------------------------------
 *
 * test/fuzz/fuzz_dump.c
 *	  libFuzzer target: the statistics file check (src/core/dumpfile.c)
 *	  on untrusted bytes, as the postmaster reads pg_stat/ppprof.stat.
 *
 * The input is a whole file in the layout of test/unit/dump_image.h.  Its
 * last 4 bytes are overwritten with the right CRC-32C first (unless the
 * first byte is 0xFF), so that the fuzzer gets past the checksum into the
 * records.  Whatever pp_dump_check accepts is then corrected with
 * pp_dump_sanitize and walked as the loader in src/shmem.c walks it: every record must be there, every bucket's
 * operation index in range, every sketch and reservoir usable, and the
 * walk must end exactly at the CRC.
 *
 * FUZZ_DUMP_SEED=path writes the valid image of dump_image.h, with its
 * call paths and a dimension entry, to path and exits: the seed corpus
 * (make corpus/dump).
 *
 *-------------------------------------------------------------------------
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dump_image.h"

int			LLVMFuzzerInitialize(int *argc, char ***argv);
int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *seed = getenv("FUZZ_DUMP_SEED");
	char	   *buf;
	FILE	   *f;
	size_t		len;

	(void) argc;
	(void) argv;
	if (seed == NULL)
		return 0;
	/* with call paths and a dimension, so that the fuzzer starts from every section */
	buf = aligned_alloc(8, (test_dump_size_with_paths() + TEST_OP_SIZE + 7) & ~(size_t) 7);
	if (buf == NULL)
		abort();
	memset(buf, 0, test_dump_size_with_paths() + TEST_OP_SIZE);
	test_dump_image(buf);
	test_dump_add_paths(buf);
	len = test_dump_add_dims(buf, test_dump_size_with_paths());
	f = fopen(seed, "wb");
	if (f == NULL || fwrite(buf, 1, len, f) != len || fclose(f) != 0)
		abort();
	free(buf);
	exit(0);
}

/* an arena block of the largest class, as the loader copies sketches into */
static uint64_t copy[PP_SKETCH_SIZE(PP_SKETCH_MAX_CAPACITY) / 8];

static void
walk(const char *buf, size_t len, const pp_dump_layout_t *l, const pp_dump_header_t *h)
{
	pp_dump_reader_t r;
	uint64_t	i;

	pp_dump_reader_init(&r, buf, len);
	for (i = 0; i < h->n_dbs; i++)
		if (pp_dump_take(&r, l->db_size) == NULL)
			__builtin_trap();
	for (i = 0; i < h->n_ops; i++)
	{
		const pp_reservoir_t *res;

		if (pp_dump_take(&r, l->op_size) == NULL ||
			(res = pp_dump_take(&r, l->reservoir_bytes)) == NULL)
			__builtin_trap();
		if (res->nsamples > TEST_RES_CAP)
			__builtin_trap();
	}
	for (i = 0; i < h->n_minute + h->n_hour; i++)
	{
		const char *bucket = pp_dump_take(&r, l->bucket_size);
		const pp_sketch_t *sk = pp_dump_take_sketch(&r);
		int32_t		op;

		if (bucket == NULL || sk == NULL)
			__builtin_trap();
		memcpy(&op, bucket + l->bucket_op_offset, sizeof(op));
		if (op < 0 || (uint32_t) op >= h->n_ops)
			__builtin_trap();
		/* what the loader does: copy it into an arena block */
		if (pp_sketch_copy((pp_sketch_t *) copy, PP_SKETCH_MAX_CAPACITY, sk) != PP_OK)
			__builtin_trap();
	}
	for (i = 0; i < h->n_paths; i++)
	{
		const char *op = pp_dump_take(&r, l->op_size);
		int32_t		parent;

		if (op == NULL)
			__builtin_trap();
		memcpy(&parent, op + l->op_parent_offset, sizeof(parent));
		if (parent < -1 || (int64_t) parent >= (int64_t) i)
			__builtin_trap();
	}
	for (i = 0; i < h->n_path_minute + h->n_path_hour; i++)
	{
		const char *bucket = pp_dump_take(&r, l->bucket_size);
		int32_t		op;

		if (bucket == NULL)
			__builtin_trap();
		memcpy(&op, bucket + l->bucket_op_offset, sizeof(op));
		if (op < 0 || (uint32_t) op >= h->n_paths)
			__builtin_trap();
	}
	for (i = 0; i < h->n_dims; i++)
	{
		const char *dim = pp_dump_take(&r, l->op_size);
		int32_t		parent;

		if (dim == NULL)
			__builtin_trap();
		memcpy(&parent, dim + l->op_parent_offset, sizeof(parent));
		if (parent < 0 || (uint32_t) parent >= h->n_ops)
			__builtin_trap();
	}
	for (i = 0; i < h->n_dim_hour; i++)
	{
		const char *bucket = pp_dump_take(&r, l->bucket_size);
		const pp_sketch_t *sk = pp_dump_take_sketch(&r);
		int32_t		op;

		if (bucket == NULL || sk == NULL)
			__builtin_trap();
		memcpy(&op, bucket + l->bucket_op_offset, sizeof(op));
		if (op < 0 || (uint32_t) op >= h->n_dims)
			__builtin_trap();
		if (pp_sketch_copy((pp_sketch_t *) copy, PP_SKETCH_MAX_CAPACITY, sk) != PP_OK)
			__builtin_trap();
	}
	if (r.p != r.end)
		__builtin_trap();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	pp_dump_layout_t l;
	pp_dump_header_t h;
	char	   *buf;

	/* a copy, aligned as the loader's palloc'd buffer is */
	buf = aligned_alloc(8, (size + 8) & ~(size_t) 7);
	if (buf == NULL)
		abort();
	memcpy(buf, data, size);
	if (size >= sizeof(uint32_t) && (size == 0 || data[0] != 0xFF))
		test_dump_fix_crc(buf, size);

	test_dump_layout(&l);
	if (pp_dump_check(buf, size, &l, &h) == NULL)
	{
		(void) pp_dump_sanitize(buf, size, &l, &h);
		walk(buf, size, &l, &h);
	}
	free(buf);
	return 0;
}
