/*-------------------------------------------------------------------------
 *
 * src/core/reservoir.c
 *	  Reservoir sampling (Algorithm R) in caller-provided memory, and the
 *	  splitmix64 generator.
 *
 * See reservoir.h for the layout, the sampling guarantee and what removal
 * does to it.  Every function is O(1) except removal and validation, which
 * are O(capacity).
 *
 * No PostgreSQL headers; allocation through pp_allocator_t (none needed:
 * the caller provides the memory).
 *
 *-------------------------------------------------------------------------
 */
#include "reservoir.h"

#include <stdlib.h>
#include <string.h>

_Static_assert(sizeof(pp_reservoir_sample_t) == 40,
			   "pp_reservoir_sample_t must have no padding");
_Static_assert(sizeof(pp_reservoir_t) == 16,
			   "pp_reservoir_t header must have no padding");

size_t
pp_reservoir_size(uint32_t capacity)
{
	/* at most 16 + 40 * (2^32 - 1) bytes: fits 64 bits, maybe not size_t */
	uint64_t	size = sizeof(pp_reservoir_t) +
		(uint64_t) capacity * sizeof(pp_reservoir_sample_t);

#if SIZE_MAX < UINT64_MAX
	if (size > SIZE_MAX)
		return 0;
#endif
	return (size_t) size;
}

pp_reservoir_t *
pp_reservoir_init(void *mem, uint32_t capacity)
{
	pp_reservoir_t *r = mem;
	size_t		size = pp_reservoir_size(capacity);

	if (mem == NULL || size == 0)
		return NULL;
	memset(mem, 0, size);
	r->capacity = capacity;
	return r;
}

int
pp_reservoir_offer(pp_reservoir_t *r, const pp_reservoir_sample_t *sample,
				   uint64_t random_u64)
{
	uint64_t	j;

	/* saturate: a wrapped count would make the modulo below divide by 0 */
	if (r->seen < UINT64_MAX)
		r->seen++;
	if (r->nsamples < r->capacity)
	{
		r->samples[r->nsamples] = *sample;
		return (int) r->nsamples++;
	}
	j = random_u64 % r->seen;	/* uniform in [0, seen) */
	if (j >= r->capacity)
		return -1;
	r->samples[j] = *sample;
	return (int) j;
}

static int
sample_slowest_first(const void *a, const void *b)
{
	const pp_reservoir_sample_t *x = a;
	const pp_reservoir_sample_t *y = b;

	if (x->duration_ms != y->duration_ms)
		return x->duration_ms > y->duration_ms ? -1 : 1;
	return memcmp(x->profile_id, y->profile_id, PP_PROFILE_ID_SIZE);
}

void
pp_reservoir_sort_slowest(pp_reservoir_t *r)
{
	qsort(r->samples, r->nsamples, sizeof(pp_reservoir_sample_t),
		  sample_slowest_first);
}

uint32_t
pp_reservoir_remove_profile(pp_reservoir_t *r, const uint8_t *profile_id)
{
	uint32_t	i;
	uint32_t	kept = 0;
	uint32_t	removed;

	for (i = 0; i < r->nsamples; i++)
	{
		if (memcmp(r->samples[i].profile_id, profile_id,
				   PP_PROFILE_ID_SIZE) == 0)
			continue;
		if (kept != i)
			r->samples[kept] = r->samples[i];
		kept++;
	}
	removed = r->nsamples - kept;
	memset(&r->samples[kept], 0, removed * sizeof(pp_reservoir_sample_t));
	r->nsamples = kept;
	return removed;
}

pp_error_code_t
pp_reservoir_validate(const pp_reservoir_t *r, size_t size, pp_error_t *err)
{
	const uint8_t *p;
	size_t		used;
	size_t		total;
	size_t		i;

	if (size < sizeof(pp_reservoir_t))
		return pp_error_set(err, PP_ERR_INVALID_VALUE, "capacity",
							"%zu bytes are too few for a reservoir", size);
	total = pp_reservoir_size(r->capacity);
	if (total == 0 || total != size)
		return pp_error_set(err, PP_ERR_INVALID_VALUE, "capacity",
							"capacity %u does not match %zu bytes",
							r->capacity, size);
	if (r->nsamples > r->capacity)
		return pp_error_set(err, PP_ERR_INVALID_VALUE, "nsamples",
							"%u samples exceed the capacity %u",
							r->nsamples, r->capacity);
	if (r->seen < r->nsamples)
		return pp_error_set(err, PP_ERR_INVALID_VALUE, "seen",
							"seen %llu is below the %u samples held",
							(unsigned long long) r->seen, r->nsamples);
	used = pp_reservoir_size(r->nsamples);
	p = (const uint8_t *) r;
	for (i = used; i < total; i++)
	{
		if (p[i] != 0)
			return pp_error_set(err, PP_ERR_INVALID_VALUE, "samples",
								"unused slot is not zero");
	}
	return PP_OK;
}

void
pp_rng_seed(pp_rng_t *rng, uint64_t seed)
{
	rng->state = seed;
}

uint64_t
pp_rng_next(pp_rng_t *rng)
{
	uint64_t	z = (rng->state += UINT64_C(0x9E3779B97F4A7C15));

	z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
	return z ^ (z >> 31);
}
