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
 *	n_minute x (bucket record, sketch image[, time-to-first-token sketch
 *	          image when the record's flags say so])
 *	n_hour  x (the same)
 *	n_paths x path record              (an operation record whose parent
 *	                                    is -1 or an earlier path's index)
 *	n_path_minute x bucket record      (of a path: no sketch)
 *	n_path_hour   x bucket record
 *	n_dims  x dimension record         (an operation record whose parent
 *	                                    is its operation's index)
 *	n_dim_hour x (bucket record, sketch image)   (hour buckets only)
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
 * Times.  The file's times are PostgreSQL timestamps (microseconds since
 * 2000-01-01), checked against the loader's clock (layout->now).  The
 * checker rejects what cannot be corrected without making the statistics
 * claim rows they do not hold: region starts that are not whole hours,
 * that lie after the current hour, or out of order (horizon after minute
 * start); a file written in the future; buckets not aligned to their width
 * or outside their region.  pp_dump_sanitize then corrects, in place, what
 * can be: it recomputes every operation's name hash (layout->op_hash, from
 * the record's name and kind: the server finds operations by that hash;
 * paths' and dimensions' from their parents'), lowers last-use times and reset
 * times to now (a last use in the future would keep an operation from ever
 * being evicted), and clears the rebuild-started times (no rebuild survives
 * a restart, and one in the future would block every automatic rebuild).
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
	uint32_t	n_paths;		/* format 5 on */
	uint32_t	reserved3;
	uint64_t	n_path_minute;
	uint64_t	n_path_hour;
	uint32_t	n_dims;			/* format 7 on */
	uint32_t	reserved4;
	uint64_t	n_dim_hour;
} pp_dump_header_t;

#define PP_DUMP_USECS_PER_MINUTE	INT64_C(60000000)
#define PP_DUMP_USECS_PER_HOUR		INT64_C(3600000000)

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
	size_t		op_hash_offset; /* a uint64_t: recomputed by op_hash */
	size_t		op_last_used_offset;	/* an int64_t time: at most now */
	size_t		op_parent_offset;	/* paths: an int32_t, -1 or an earlier
									 * path's index */
	size_t		db_last_reset_offset;	/* an int64_t time: at most now */
	size_t		db_rebuild_started_offset;	/* an int64_t time: cleared */
	size_t		bucket_op_offset;	/* an int32_t: 0 .. n_ops - 1 */
	size_t		bucket_calls_offset;	/* an int64_t: the sketch's count */
	size_t		bucket_start_offset;	/* an int64_t time: aligned, in its
										 * region */
	bool		bucket_has_ttft;	/* operations' buckets may carry a second
									 * sketch, of times to first token: */
	size_t		bucket_flags_offset;	/* an int32_t: 0, or 1 when it follows
										 * the first (a count from 1 to the
										 * bucket's calls) */
	uint32_t	max_dbs;
	uint32_t	max_ops;
	uint32_t	max_paths;
	uint32_t	max_dims;
	uint64_t	max_minute;
	uint64_t	max_hour;
	uint32_t	(*crc32c) (const void *data, size_t len);
	uint64_t	(*op_hash) (const char *op);	/* the hash an operation
												 * record is found by */
	/* the hash a path record is found by, from its parent's (0: a root) */
	uint64_t	(*path_hash) (const char *op, uint64_t parent_hash);
	/* the hash a dimension record is found by, from its operation's record */
	uint64_t	(*dim_hash) (const char *dim, const char *op);
	int64_t		now;			/* the loader's clock */
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

/*
 * Correct in place the values of a file pp_dump_check accepted (with the
 * same layout and header) that the loader must not take as they are; see
 * "Times" above.  Returns how many values it changed.
 */
extern int	pp_dump_sanitize(char *buf, size_t len,
							 const pp_dump_layout_t *layout,
							 const pp_dump_header_t *header);

/*
 * t (a timestamp, microseconds; may be negative) rounded down to a
 * multiple of unit (> 0): the start of its bucket.  The server sets its
 * region starts with it, so the check above agrees with them.
 */
static inline int64_t
pp_time_floor(int64_t t, int64_t unit)
{
	int64_t		r = t - t % unit;

	return r > t ? r - unit : r;
}

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
