/*-------------------------------------------------------------------------
 *
 * src/core/dumpfile.c
 *	  The statistics file's check (see dumpfile.h): bounds, version,
 *	  checksum, settings, and every record, before anything is loaded.
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

const char *
pp_dump_check(const char *buf, size_t len, const pp_dump_layout_t *l,
			  pp_dump_header_t *h)
{
	pp_dump_reader_t r;
	uint32_t	stored;
	uint64_t	i;

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
		h->n_minute > l->max_minute || h->n_hour > l->max_hour)
		return "more entries than the settings allow";

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
		if (pp_sketch_validate(sketch, PP_SKETCH_SIZE(sketch->capacity), NULL) != PP_OK)
			return "corrupt sketch";
		calls = read_int64(bucket, l->bucket_calls_offset);
		if (calls < 0 || (uint64_t) calls != pp_sketch_count(sketch))
			return "bucket counters disagree with their sketch";
	}
	if (r.p != r.end)
		return "trailing bytes";
	return NULL;
}
