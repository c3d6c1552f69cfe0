/*-------------------------------------------------------------------------
 *
 * src/core/rollup.c
 *	  Encoding and strict decoding of a rollup: the counters and sketches
 *	  of one closed time bucket (layout in rollup.h).
 *
 *-------------------------------------------------------------------------
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "rollup.h"

/* A varint of a uint64 takes at most 10 bytes. */
#define VARINT_MAX	10

/* Most bytes of one stored sketch: its two counts and its bins. */
static size_t
sketch_bound(const pp_sketch_t *s)
{
	if (s == NULL)
		return 0;
	/* a bin's delta fits 2 bytes (NBINS < 2^14), its count 5 */
	return 2 * VARINT_MAX + (size_t) s->nbins * (2 + 5);
}

size_t
pp_rollup_bound(const pp_rollup_t *r, const pp_sketch_t *durations,
				const pp_sketch_t *ttft)
{
	size_t		n_ints = r->n_ints < 0 ? 0 : (size_t) r->n_ints;
	size_t		n_floats = r->n_floats < 0 ? 0 : (size_t) r->n_floats;

	return 2 + VARINT_MAX + n_ints * VARINT_MAX + VARINT_MAX + n_floats * 8 +
		sketch_bound(durations) + sketch_bound(ttft);
}

static uint8_t *
put_varint(uint8_t *p, uint64_t v)
{
	while (v >= 0x80)
	{
		*p++ = (uint8_t) (v | 0x80);
		v >>= 7;
	}
	*p++ = (uint8_t) v;
	return p;
}

static uint8_t *
put_double(uint8_t *p, double d)
{
	uint64_t	bits;
	int			i;

	memcpy(&bits, &d, sizeof(bits));
	for (i = 0; i < 8; i++)
		*p++ = (uint8_t) (bits >> (8 * i));
	return p;
}

static uint8_t *
put_sketch(uint8_t *p, const pp_sketch_t *s)
{
	uint16_t	prev = 0;
	int			i;

	p = put_varint(p, s->zero_count);
	p = put_varint(p, s->nbins);
	for (i = 0; i < s->nbins; i++)
	{
		uint16_t	index;
		uint32_t	count;

		pp_sketch_slot(s, i, &index, &count);
		p = put_varint(p, (uint64_t) (index - prev));
		p = put_varint(p, count);
		prev = index;
	}
	return p;
}

pp_error_code_t
pp_rollup_encode(const pp_rollup_t *r, const pp_sketch_t *durations,
				 const pp_sketch_t *ttft, uint8_t *buf, size_t *len)
{
	uint8_t    *p = buf;
	int			i;

	if (r->n_ints < 0 || r->n_ints > PP_ROLLUP_MAX_INTS ||
		r->n_floats < 0 || r->n_floats > PP_ROLLUP_MAX_FLOATS)
		return PP_ERR_INVALID_VALUE;
	for (i = 0; i < r->n_floats; i++)
		if (isnan(r->floats[i]))
			return PP_ERR_INVALID_VALUE;

	*p++ = PP_ROLLUP_VERSION;
	*p++ = (uint8_t) ((durations != NULL ? PP_ROLLUP_HAS_DURATIONS : 0) |
					  (ttft != NULL ? PP_ROLLUP_HAS_TTFT : 0));
	p = put_varint(p, (uint64_t) r->n_ints);
	for (i = 0; i < r->n_ints; i++)
	{
		uint64_t	u = (uint64_t) r->ints[i];

		/* zigzag: small magnitudes of either sign take few bytes */
		p = put_varint(p, (u << 1) ^ (r->ints[i] < 0 ? ~(uint64_t) 0 : 0));
	}
	p = put_varint(p, (uint64_t) r->n_floats);
	for (i = 0; i < r->n_floats; i++)
		p = put_double(p, r->floats[i]);
	if (durations != NULL)
		p = put_sketch(p, durations);
	if (ttft != NULL)
		p = put_sketch(p, ttft);
	*len = (size_t) (p - buf);
	return PP_OK;
}

/* The decoder's position; every read checks the end. */
typedef struct reader_t
{
	const uint8_t *p;
	const uint8_t *end;
	pp_error_t *err;
} reader_t;

static pp_error_code_t
get_varint(reader_t *rd, const char *what, uint64_t *v)
{
	uint64_t	x = 0;
	int			shift;

	for (shift = 0; shift < 64; shift += 7)
	{
		uint8_t		b;

		if (rd->p >= rd->end)
			return pp_error_set(rd->err, PP_ERR_INVALID_VALUE, what,
								"the rollup ends inside a number");
		b = *rd->p++;
		/* the tenth byte may only hold the top bit of 64 */
		if (shift == 63 && b > 1)
			break;
		x |= (uint64_t) (b & 0x7f) << shift;
		if ((b & 0x80) == 0)
		{
			*v = x;
			return PP_OK;
		}
	}
	return pp_error_set(rd->err, PP_ERR_INVALID_VALUE, what,
						"a number is longer than 64 bits");
}

static pp_error_code_t
get_count(reader_t *rd, const char *what, uint64_t max, uint64_t *v)
{
	pp_error_code_t rc = get_varint(rd, what, v);

	if (rc != PP_OK)
		return rc;
	if (*v > max)
		return pp_error_set(rd->err, PP_ERR_INVALID_VALUE, what,
							"%llu exceeds %llu", (unsigned long long) *v,
							(unsigned long long) max);
	return PP_OK;
}

static pp_error_code_t
get_sketch(reader_t *rd, const char *what, pp_sketch_t *s)
{
	uint64_t	zero_count;
	uint64_t	nbins;
	uint64_t	total;
	uint64_t	index = 0;
	uint64_t	i;
	pp_error_code_t rc;

	if ((rc = get_varint(rd, what, &zero_count)) != PP_OK ||
		(rc = get_count(rd, what, PP_SKETCH_NBINS, &nbins)) != PP_OK)
		return rc;
	/* as many slots as bins: a reader merging thousands touches no more */
	pp_sketch_init(s, (uint16_t) (nbins > 0 ? nbins : 1));
	total = zero_count;
	for (i = 0; i < nbins; i++)
	{
		uint64_t	delta;
		uint64_t	count;

		if ((rc = get_count(rd, what, PP_SKETCH_NBINS, &delta)) != PP_OK ||
			(rc = get_count(rd, what, UINT32_MAX, &count)) != PP_OK)
			return rc;
		index += delta;
		if (delta == 0 || index > PP_SKETCH_NBINS || count == 0)
			return pp_error_set(rd->err, PP_ERR_INVALID_VALUE, what,
								"bin %llu: index %llu out of order or out of range, or count 0",
								(unsigned long long) i, (unsigned long long) index);
		if (total + count < total)
			return pp_error_set(rd->err, PP_ERR_INVALID_VALUE, what,
								"the counts overflow");
		total += count;
		/* increasing indexes, so each lands in the next free slot */
		if (pp_sketch_add_index_exact(s, (int) index, (uint32_t) count) != PP_OK)
			return pp_error_set(rd->err, PP_ERR_INVALID_VALUE, what,
								"bin %llu cannot be stored", (unsigned long long) i);
	}
	s->zero_count = zero_count;
	s->count = total;
	return pp_sketch_validate(s, PP_SKETCH_SIZE(s->capacity), rd->err);
}

pp_error_code_t
pp_rollup_decode(const uint8_t *buf, size_t len, pp_rollup_t *r, uint8_t *flags,
				 pp_sketch_t *durations, pp_sketch_t *ttft, pp_error_t *err)
{
	reader_t	rd = {buf, buf + len, err};
	uint64_t	n;
	uint64_t	i;
	pp_error_code_t rc;

	memset(r, 0, sizeof(*r));
	*flags = 0;
	if (len < 2)
		return pp_error_set(err, PP_ERR_INVALID_VALUE, "version",
							"%zu bytes are fewer than the 2 of a rollup's header", len);
	if (buf[0] != PP_ROLLUP_VERSION)
		return pp_error_set(err, PP_ERR_INVALID_VALUE, "version",
							"version %u, expected %d", buf[0], PP_ROLLUP_VERSION);
	if ((buf[1] & ~(PP_ROLLUP_HAS_DURATIONS | PP_ROLLUP_HAS_TTFT)) != 0)
		return pp_error_set(err, PP_ERR_INVALID_VALUE, "flags",
							"unknown flags 0x%02x", buf[1]);
	rd.p += 2;

	if ((rc = get_count(&rd, "ints", PP_ROLLUP_MAX_INTS, &n)) != PP_OK)
		return rc;
	for (i = 0; i < n; i++)
	{
		uint64_t	z;

		if ((rc = get_varint(&rd, "ints", &z)) != PP_OK)
			return rc;
		r->ints[i] = (int64_t) ((z >> 1) ^ (~(z & 1) + 1));
	}
	r->n_ints = (int) n;

	if ((rc = get_count(&rd, "floats", PP_ROLLUP_MAX_FLOATS, &n)) != PP_OK)
		return rc;
	if ((size_t) (rd.end - rd.p) < n * 8)
		return pp_error_set(err, PP_ERR_INVALID_VALUE, "floats",
							"the rollup ends inside a double");
	for (i = 0; i < n; i++)
	{
		uint64_t	bits = 0;
		int			b;

		for (b = 0; b < 8; b++)
			bits |= (uint64_t) rd.p[b] << (8 * b);
		rd.p += 8;
		memcpy(&r->floats[i], &bits, sizeof(double));
		if (isnan(r->floats[i]))
			return pp_error_set(err, PP_ERR_INVALID_VALUE, "floats",
								"double %llu is not a number",
								(unsigned long long) i);
	}
	r->n_floats = (int) n;

	if ((buf[1] & PP_ROLLUP_HAS_DURATIONS) &&
		(rc = get_sketch(&rd, "durations", durations)) != PP_OK)
		return rc;
	if ((buf[1] & PP_ROLLUP_HAS_TTFT) &&
		(rc = get_sketch(&rd, "ttft", ttft)) != PP_OK)
		return rc;
	if (rd.p != rd.end)
		return pp_error_set(err, PP_ERR_INVALID_VALUE, "end",
							"the rollup is followed by %zu more bytes", (size_t) (rd.end - rd.p));
	*flags = buf[1];
	return PP_OK;
}
