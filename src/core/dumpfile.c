/*-------------------------------------------------------------------------
 *
 * src/core/dumpfile.c
 *	  The statistics file's check (see dumpfile.h): bounds, version,
 *	  checksum, settings, times, and every record, before anything is
 *	  loaded; then the correction of what the loader must not take as it
 *	  is (name hashes, times).
 *
 *-------------------------------------------------------------------------
 */
#include <string.h>

#include "dumpfile.h"
#include "reservoir.h"
#include "sketch.h"

void
pp_dump_reader_init(pp_dump_reader_t *r, const char *buf, size_t len)
{
	r->p = buf + sizeof(pp_dump_header_t);
	r->end = buf + len - sizeof(uint32_t);
}

const void *
pp_dump_take(pp_dump_reader_t *r, size_t len)
{
	const char *p = r->p;

	if ((size_t) (r->end - r->p) < len)
		return NULL;
	r->p += len;
	return p;
}

const pp_sketch_t *
pp_dump_take_sketch(pp_dump_reader_t *r)
{
	pp_sketch_t head;

	if ((size_t) (r->end - r->p) < sizeof(head))
		return NULL;
	memcpy(&head, r->p, sizeof(head));
	if (head.capacity < 1 || head.capacity > PP_SKETCH_MAX_CAPACITY)
		return NULL;
	return pp_dump_take(r, PP_SKETCH_SIZE(head.capacity));
}

static int32_t
read_int32(const char *record, size_t offset)
{
	int32_t		v;

	memcpy(&v, record + offset, sizeof(v));
	return v;
}

static int64_t
read_int64(const char *record, size_t offset)
{
	int64_t		v;

	memcpy(&v, record + offset, sizeof(v));
	return v;
}

/* Store v at offset; true when that changed the record. */
static bool
write_int64(char *record, size_t offset, int64_t v)
{
	if (read_int64(record, offset) == v)
		return false;
	memcpy(record + offset, &v, sizeof(v));
	return true;
}

/* The header's times: NULL when sane, else why not. */
static const char *
check_header_times(const pp_dump_header_t *h, int64_t now)
{
	if (h->written_at > now)
		return "written in the future";
	if (h->minute_start % PP_DUMP_USECS_PER_HOUR != 0 ||
		h->horizon_start % PP_DUMP_USECS_PER_HOUR != 0 ||
		h->horizon_start > h->minute_start ||
		h->minute_start > pp_time_floor(now, PP_DUMP_USECS_PER_HOUR))
		return "region starts out of range";
	return NULL;
}

/*
 * A path or dimension record (an operation record with a parent): in use,
 * a name length within 0 .. name_max, and a parent within
 * parent_min .. parent_end - 1.
 */
static bool
check_named_entry(const char *entry, const pp_dump_layout_t *l,
				  int64_t parent_min, int64_t parent_end)
{
	int32_t		name_len = read_int32(entry, l->op_name_len_offset);
	int32_t		parent = read_int32(entry, l->op_parent_offset);

	return entry[l->op_in_use_offset] != 0 && name_len >= 0 &&
		(uint32_t) name_len <= l->name_max &&
		(int64_t) parent >= parent_min && (int64_t) parent < parent_end;
}

const char *
pp_dump_check(const char *buf, size_t len, const pp_dump_layout_t *l,
			  pp_dump_header_t *h)
{
	pp_dump_reader_t r;
	uint32_t	stored;
	uint64_t	i;

	if (l->op_hash_offset + sizeof(uint64_t) > l->op_size ||
		l->op_last_used_offset + sizeof(int64_t) > l->op_size ||
		l->db_last_reset_offset + sizeof(int64_t) > l->db_size ||
		l->db_rebuild_started_offset + sizeof(int64_t) > l->db_size ||
		l->bucket_start_offset + sizeof(int64_t) > l->bucket_size ||
		l->op_parent_offset + sizeof(int32_t) > l->op_size ||
		l->op_hash == NULL || l->path_hash == NULL)
		return "invalid layout";

	if (len < sizeof(pp_dump_header_t) + sizeof(uint32_t))
		return "file is truncated";
	memcpy(h, buf, sizeof(pp_dump_header_t));
	memcpy(&stored, buf + len - sizeof(uint32_t), sizeof(stored));

	if (h->magic != l->magic)
		return "not a ppprof statistics file";
	if (h->format != l->format || h->sketch_format != PP_SKETCH_FORMAT_VERSION ||
		h->pg_major != l->pg_major || h->db_size != l->db_size ||
		h->op_size != l->op_size || h->bucket_size != l->bucket_size ||
		h->sketch_max_capacity != PP_SKETCH_MAX_CAPACITY)
		return "written by another version";
	if (l->crc32c(buf, len - sizeof(uint32_t)) != stored)
		return "checksum mismatch";
	if (h->reservoir_capacity != l->reservoir_capacity ||
		h->name_max != l->name_max)
		return "written with other settings";
	if (h->n_dbs > l->max_dbs || h->n_ops > l->max_ops ||
		h->n_paths > l->max_paths ||
		h->n_minute > l->max_minute || h->n_hour > l->max_hour ||
		h->n_path_minute > l->max_minute - h->n_minute ||
		h->n_path_hour > l->max_hour - h->n_hour ||
		h->n_dims > l->max_dims ||
		h->n_dim_hour > l->max_hour - h->n_hour - h->n_path_hour)
		return "more entries than the settings allow";
	if (h->n_dims > 0 && l->dim_hash == NULL)
		return "invalid layout";
	{
		const char *why = check_header_times(h, l->now);

		if (why != NULL)
			return why;
	}

	pp_dump_reader_init(&r, buf, len);
	for (i = 0; i < h->n_dbs; i++)
		if (pp_dump_take(&r, l->db_size) == NULL)
			return "file is truncated";
	for (i = 0; i < h->n_ops; i++)
	{
		const char *op = pp_dump_take(&r, l->op_size);
		const pp_reservoir_t *res;
		int32_t		name_len;

		if (op == NULL || (res = pp_dump_take(&r, l->reservoir_bytes)) == NULL)
			return "file is truncated";
		name_len = read_int32(op, l->op_name_len_offset);
		if (op[l->op_in_use_offset] == 0 || name_len < 0 ||
			(uint32_t) name_len > l->name_max)
			return "corrupt operation entry";
		if (pp_reservoir_validate(res, l->reservoir_bytes, NULL) != PP_OK)
			return "corrupt reservoir";
	}
	for (i = 0; i < h->n_minute + h->n_hour; i++)
	{
		const char *bucket = pp_dump_take(&r, l->bucket_size);
		const pp_sketch_t *sketch;
		pp_sketch_t head;
		int32_t		op;
		int64_t		calls;
		int64_t		start;
		bool		minute = i < h->n_minute;

		if (bucket == NULL || (size_t) (r.end - r.p) < sizeof(head))
			return "file is truncated";
		memcpy(&head, r.p, sizeof(head));
		if (head.capacity < 1 || head.capacity > PP_SKETCH_MAX_CAPACITY)
			return "corrupt sketch";
		if ((sketch = pp_dump_take_sketch(&r)) == NULL)
			return "file is truncated";
		op = read_int32(bucket, l->bucket_op_offset);
		if (op < 0 || (uint32_t) op >= h->n_ops)
			return "corrupt bucket entry";
		start = read_int64(bucket, l->bucket_start_offset);
		if (start % (minute ? PP_DUMP_USECS_PER_MINUTE : PP_DUMP_USECS_PER_HOUR) != 0 ||
			start < (minute ? h->minute_start : h->horizon_start))
			return "bucket outside its region";
		if (pp_sketch_validate(sketch, PP_SKETCH_SIZE(sketch->capacity), NULL) != PP_OK)
			return "corrupt sketch";
		calls = read_int64(bucket, l->bucket_calls_offset);
		if (calls < 0 || (uint64_t) calls != sketch->count)
			return "bucket counters disagree with their sketch";
		if (l->bucket_has_ttft)
		{
			int32_t		flags = read_int32(bucket, l->bucket_flags_offset);

			if (flags != 0 && flags != 1)
				return "corrupt bucket entry";
			if (flags == 1)
			{
				if ((size_t) (r.end - r.p) < sizeof(head))
					return "file is truncated";
				memcpy(&head, r.p, sizeof(head));
				if (head.capacity < 1 || head.capacity > PP_SKETCH_MAX_CAPACITY)
					return "corrupt sketch";
				if ((sketch = pp_dump_take_sketch(&r)) == NULL)
					return "file is truncated";
				if (pp_sketch_validate(sketch, PP_SKETCH_SIZE(sketch->capacity), NULL) != PP_OK)
					return "corrupt sketch";
				/* some of the bucket's nodes, at least one */
				if (sketch->count == 0 || sketch->count > (uint64_t) calls)
					return "bucket counters disagree with their sketch";
			}
		}
	}
	for (i = 0; i < h->n_paths; i++)
	{
		const char *op = pp_dump_take(&r, l->op_size);

		if (op == NULL)
			return "file is truncated";
		/* a parent of -1 or an earlier path's index */
		if (!check_named_entry(op, l, -1, (int64_t) i))
			return "corrupt path entry";
	}
	for (i = 0; i < h->n_path_minute + h->n_path_hour; i++)
	{
		const char *bucket = pp_dump_take(&r, l->bucket_size);
		int32_t		op;
		int64_t		start;
		bool		minute = i < h->n_path_minute;

		if (bucket == NULL)
			return "file is truncated";
		op = read_int32(bucket, l->bucket_op_offset);
		if (op < 0 || (uint32_t) op >= h->n_paths ||
			read_int64(bucket, l->bucket_calls_offset) < 0)
			return "corrupt bucket entry";
		start = read_int64(bucket, l->bucket_start_offset);
		if (start % (minute ? PP_DUMP_USECS_PER_MINUTE : PP_DUMP_USECS_PER_HOUR) != 0 ||
			start < (minute ? h->minute_start : h->horizon_start))
			return "bucket outside its region";
	}
	for (i = 0; i < h->n_dims; i++)
	{
		const char *dim = pp_dump_take(&r, l->op_size);

		if (dim == NULL)
			return "file is truncated";
		/* a parent that is its operation's index */
		if (!check_named_entry(dim, l, 0, (int64_t) h->n_ops))
			return "corrupt dimension entry";
	}
	for (i = 0; i < h->n_dim_hour; i++)
	{
		const char *bucket = pp_dump_take(&r, l->bucket_size);
		const pp_sketch_t *sketch;
		pp_sketch_t head;
		int32_t		op;
		int64_t		calls;
		int64_t		start;

		if (bucket == NULL || (size_t) (r.end - r.p) < sizeof(head))
			return "file is truncated";
		memcpy(&head, r.p, sizeof(head));
		if (head.capacity < 1 || head.capacity > PP_SKETCH_MAX_CAPACITY)
			return "corrupt sketch";
		if ((sketch = pp_dump_take_sketch(&r)) == NULL)
			return "file is truncated";
		op = read_int32(bucket, l->bucket_op_offset);
		if (op < 0 || (uint32_t) op >= h->n_dims)
			return "corrupt bucket entry";
		start = read_int64(bucket, l->bucket_start_offset);
		if (start % PP_DUMP_USECS_PER_HOUR != 0 || start < h->horizon_start)
			return "bucket outside its region";
		if (pp_sketch_validate(sketch, PP_SKETCH_SIZE(sketch->capacity), NULL) != PP_OK)
			return "corrupt sketch";
		calls = read_int64(bucket, l->bucket_calls_offset);
		if (calls < 0 || (uint64_t) calls != sketch->count)
			return "bucket counters disagree with their sketch";
	}
	if (r.p != r.end)
		return "trailing bytes";
	return NULL;
}

int
pp_dump_sanitize(char *buf, size_t len, const pp_dump_layout_t *l,
				 const pp_dump_header_t *h)
{
	pp_dump_reader_t r;
	int			changed = 0;
	uint64_t	i;
	const char *ops;			/* the operation records, each followed by
								 * its reservoir */

	pp_dump_reader_init(&r, buf, len);
	ops = r.p + (size_t) h->n_dbs * l->db_size;
	for (i = 0; i < h->n_dbs; i++)
	{
		char	   *db = (char *) pp_dump_take(&r, l->db_size);
		int64_t		reset = read_int64(db, l->db_last_reset_offset);

		changed += write_int64(db, l->db_rebuild_started_offset, 0);
		if (reset > l->now)
			changed += write_int64(db, l->db_last_reset_offset, l->now);
	}
	for (i = 0; i < h->n_ops; i++)
	{
		char	   *op = (char *) pp_dump_take(&r, l->op_size);
		uint64_t	hash = l->op_hash(op);
		uint64_t	stored;

		(void) pp_dump_take(&r, l->reservoir_bytes);
		memcpy(&stored, op + l->op_hash_offset, sizeof(stored));
		if (stored != hash)
		{
			memcpy(op + l->op_hash_offset, &hash, sizeof(hash));
			changed++;
		}
		if (read_int64(op, l->op_last_used_offset) > l->now)
			changed += write_int64(op, l->op_last_used_offset, l->now);
	}
	/* skip the operations' buckets; a path's hash needs its parent's */
	for (i = 0; i < h->n_minute + h->n_hour; i++)
	{
		const char *bucket = pp_dump_take(&r, l->bucket_size);

		(void) pp_dump_take_sketch(&r);
		if (l->bucket_has_ttft && read_int32(bucket, l->bucket_flags_offset) == 1)
			(void) pp_dump_take_sketch(&r);
	}
	{
		char	   *paths = (char *) r.p;

		for (i = 0; i < h->n_paths; i++)
		{
			char	   *op = (char *) pp_dump_take(&r, l->op_size);
			int32_t		parent = read_int32(op, l->op_parent_offset);
			uint64_t	parent_hash = 0;
			uint64_t	hash;
			uint64_t	stored;

			if (parent >= 0)
				memcpy(&parent_hash,
					   paths + (size_t) parent * l->op_size + l->op_hash_offset,
					   sizeof(parent_hash));
			hash = l->path_hash(op, parent_hash);
			memcpy(&stored, op + l->op_hash_offset, sizeof(stored));
			if (stored != hash)
			{
				memcpy(op + l->op_hash_offset, &hash, sizeof(hash));
				changed++;
			}
			if (read_int64(op, l->op_last_used_offset) > l->now)
				changed += write_int64(op, l->op_last_used_offset, l->now);
		}
	}
	for (i = 0; i < h->n_path_minute + h->n_path_hour; i++)
		(void) pp_dump_take(&r, l->bucket_size);
	for (i = 0; i < h->n_dims; i++)
	{
		char	   *dim = (char *) pp_dump_take(&r, l->op_size);
		int32_t		parent = read_int32(dim, l->op_parent_offset);
		uint64_t	hash = l->dim_hash(dim, ops + (size_t) parent *
									   (l->op_size + l->reservoir_bytes));
		uint64_t	stored;

		memcpy(&stored, dim + l->op_hash_offset, sizeof(stored));
		if (stored != hash)
		{
			memcpy(dim + l->op_hash_offset, &hash, sizeof(hash));
			changed++;
		}
		if (read_int64(dim, l->op_last_used_offset) > l->now)
			changed += write_int64(dim, l->op_last_used_offset, l->now);
	}
	return changed;
}
