/*-------------------------------------------------------------------------
 *
 * src/core/reservoir.h
 *	  Fixed-capacity uniform sample (Vitter's Algorithm R) of an operation's
 *	  observations, laid out in caller-provided memory, and the small
 *	  deterministic random generator that drives it.
 *
 * A pp_reservoir_t is one header plus `capacity` pp_reservoir_sample_t in a
 * single block of pp_reservoir_size(capacity) bytes that the caller owns:
 * shared memory in the server, a malloc'd or stack buffer in tests.  It
 * contains no pointer, so it can be memcpy'd and dumped to a file; unused
 * slots are kept zeroed so that dumps are deterministic.  The block must be
 * aligned for int64_t/double (8 bytes); ShmemAlloc and malloc give that.
 *
 * Algorithm R: the i-th value offered (i counted from 1 over the
 * reservoir's lifetime) is stored if i <= capacity; otherwise a uniform j
 * in [0, i) is drawn and the value replaces slot j if j < capacity.  After
 * n >= capacity offers every offered value is in the sample with
 * probability capacity / n.  The random number is supplied by the caller
 * (pp_rng_next, or any 64-bit source), which keeps the core deterministic
 * under test.  j = r mod i has a bias below i / 2^64, i.e. none that matters.
 *
 * Removal.  pp_reservoir_remove_profile drops every sample of a deleted
 * profile and compacts the rest (order kept).  The reservoir is then no
 * longer a uniform sample of the remaining values: the next offers fill the
 * freed slots unconditionally, so recent values are over-represented until
 * the stream has grown well past the number of values seen so far.
 * `seen` is not decreased (it counts offers, not live rows).
 *
 * No PostgreSQL headers; allocation through pp_allocator_t (none needed:
 * the caller provides the memory).
 *
 *-------------------------------------------------------------------------
 */
#ifndef PP_RESERVOIR_H
#define PP_RESERVOIR_H

#include "pp_core.h"

#define PP_PROFILE_ID_SIZE	16	/* a UUID, binary */

typedef struct pp_reservoir_sample_t
{
	double		duration_ms;	/* node duration, ms */
	double		self_ms;		/* node self time, ms */
	int64_t		created_at;		/* profile's created_at, microseconds since
								 * 2000-01-01 00:00 UTC (TimestampTz) */
	uint8_t		profile_id[PP_PROFILE_ID_SIZE]; /* owning profile (UUID) */
} pp_reservoir_sample_t;

typedef struct pp_reservoir_t
{
	uint32_t	capacity;		/* slots in samples[] */
	uint32_t	nsamples;		/* slots in use, <= capacity */
	uint64_t	seen;			/* values offered over the lifetime */
	pp_reservoir_sample_t samples[]; /* nsamples used, rest zeroed */
} pp_reservoir_t;

/* Bytes needed for a reservoir of capacity samples; 0 if it overflows */
extern size_t pp_reservoir_size(uint32_t capacity);

/* Initialise mem (pp_reservoir_size(capacity) bytes, 8-aligned) */
extern pp_reservoir_t *pp_reservoir_init(void *mem, uint32_t capacity);

/*
 * Offer one value with a uniformly random 64-bit number.  Returns the slot
 * it was stored in, or -1 if it was not sampled.
 */
extern int	pp_reservoir_offer(pp_reservoir_t *r,
							   const pp_reservoir_sample_t *sample,
							   uint64_t random_u64);

/*
 * Sort the samples slowest first, ties by profile id (a total order, so
 * every caller lists them alike).
 */
extern void pp_reservoir_sort_slowest(pp_reservoir_t *r);

/* Remove every sample of profile_id; returns how many were removed */
extern uint32_t pp_reservoir_remove_profile(pp_reservoir_t *r,
											const uint8_t *profile_id);

/* Check a reservoir read from untrusted bytes of size bytes */
extern pp_error_code_t pp_reservoir_validate(const pp_reservoir_t *r,
											 size_t size, pp_error_t *err);

/*
 * splitmix64 (Steele, Lea, Flood 2014): a 64-bit state, every seed valid,
 * passes BigCrush; fast and small enough for the hot path.
 */
typedef struct pp_rng_t
{
	uint64_t	state;
} pp_rng_t;

extern void pp_rng_seed(pp_rng_t *rng, uint64_t seed);
extern uint64_t pp_rng_next(pp_rng_t *rng);

#endif							/* PP_RESERVOIR_H */
