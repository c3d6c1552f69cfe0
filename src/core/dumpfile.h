/*-------------------------------------------------------------------------
 *
 * src/core/dumpfile.h
 *	  The statistics file's layout and its check: everything the loader
 *	  needs to decide, from untrusted bytes alone, that a file is whole and
 *	  well formed before one byte of it is loaded.
 *
 * The file (written by src/shmem.c at a clean shutdown):
 *
 *	pp_dump_header_t
 *	n_dbs   x database record          (layout->db_size bytes)
 *	n_ops   x (operation record, reservoir image of layout->reservoir_bytes)
 *	n_minute x (bucket record, sketch image)
 *	n_hour  x (bucket record, sketch image)
 *	CRC-32C of everything before it (4 bytes)
 *
 * The records are the server's own structs; the layout names their sizes
 * and the offsets of the few fields the check reads, so that this file
 * needs no PostgreSQL header and can be fuzzed on its own
 * (test/fuzz/fuzz_dump.c).  The CRC-32C comes from the caller too: the
 * server passes PostgreSQL's.
 *
 * pp_dump_check reads only inside [buf, buf + len).  When it returns NULL,
 * a reader started with pp_dump_reader_init returns every record in file
 * order with pp_dump_take (pp_dump_take_sketch for a sketch image), never
 * NULL, each bucket's operation index is below n_ops, and every reservoir
 * and sketch image passed its validator.  A sketch image is
 * PP_SKETCH_SIZE(capacity) bytes, its capacity (1 .. PP_SKETCH_MAX_CAPACITY)
 * read from its own header, so each bucket is written at the size it has.
 * The buffer must be 8-byte aligned (the images are read in place).
 *
 *-------------------------------------------------------------------------
 */
#ifndef PP_DUMPFILE_H
#define PP_DUMPFILE_H

#include "pp_core.h"

/* The header, as written; int64_t timestamps are PostgreSQL TimestampTz. */
typedef struct pp_dump_header_t
{
	uint32_t	magic;
	uint32_t	format;
	uint32_t	pg_major;
	uint32_t	sketch_format;
	uint32_t	sketch_max_capacity;	/* PP_SKETCH_MAX_CAPACITY */
	uint32_t	reserved2;
	uint32_t	reservoir_capacity;
	uint32_t	name_max;
	uint32_t	db_size;		/* sizes of the three record kinds */
	uint32_t	op_size;
	uint32_t	bucket_size;
	uint32_t	reserved;
	uint32_t	n_dbs;
	uint32_t	n_ops;
	uint64_t	n_minute;
	uint64_t	n_hour;
	int64_t		minute_start;
	int64_t		horizon_start;
	int64_t		written_at;
} pp_dump_header_t;

/* What the reader expects: the writer's values, sizes, offsets and limits. */
typedef struct pp_dump_layout_t
{
	uint32_t	magic;
	uint32_t	format;
	uint32_t	pg_major;
	uint32_t	reservoir_capacity;
	uint32_t	name_max;
	uint32_t	db_size;		/* multiples of 8 */
	uint32_t	op_size;
	uint32_t	bucket_size;
	size_t		reservoir_bytes;	/* a multiple of 8 */
	size_t		op_in_use_offset;	/* a bool (one byte): must be true */
	size_t		op_name_len_offset; /* an int32_t: 0 .. name_max */
	size_t		bucket_op_offset;	/* an int32_t: 0 .. n_ops - 1 */
	size_t		bucket_calls_offset;	/* an int64_t: the sketch's count */
	uint32_t	max_dbs;
	uint32_t	max_ops;
	uint64_t	max_minute;
	uint64_t	max_hour;
	uint32_t	(*crc32c) (const void *data, size_t len);
} pp_dump_layout_t;

typedef struct pp_dump_reader_t
{
	const char *p;
	const char *end;
} pp_dump_reader_t;

/* NULL when buf is a whole, valid file for layout; else why it is not. */
extern const char *pp_dump_check(const char *buf, size_t len,
								 const pp_dump_layout_t *layout,
								 pp_dump_header_t *header);

/* A cursor over the records of a file pp_dump_check accepted. */
extern void pp_dump_reader_init(pp_dump_reader_t *r, const char *buf, size_t len);

/* The next len bytes, or NULL when fewer are left. */
extern const void *pp_dump_take(pp_dump_reader_t *r, size_t len);

/*
 * The next sketch image (its size from its header), or NULL when fewer
 * bytes are left or its capacity is out of range.
 */
extern const struct pp_sketch_t *pp_dump_take_sketch(pp_dump_reader_t *r);

#endif							/* PP_DUMPFILE_H */
