/*-------------------------------------------------------------------------
 *
 * test/fuzz/fuzz_sketch.c
 *	  libFuzzer target: sketches and reservoirs read from untrusted bytes,
 *	  as the statistics file loader reads them.
 *
 * The input is cut into a sketch image (its capacity taken from the bytes)
 * and a reservoir image.  Whatever pp_sketch_validate or
 * pp_reservoir_validate accepts must then survive every operation the
 * server applies: summing into an accumulator and its quantiles, copying
 * into a larger block and adding there, removing every value it holds
 * (which must give back the empty sketch).
 *
 *-------------------------------------------------------------------------
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "reservoir.h"
#include "sketch.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
exercise_sketch(const pp_sketch_t *s)
{
	uint16_t	cap = PP_SKETCH_MAX_CAPACITY;
	pp_sketch_t *dst = calloc(1, PP_SKETCH_SIZE(cap));
	pool_t		pool;
	pp_sketch_acc_t *acc;
	const uint16_t *idx;
	double		q;

	pool_init(&pool);
	acc = pp_sketch_acc_create(&pool.allocator);
	if (dst == NULL || acc == NULL)
		abort();
	if (pp_sketch_acc_add_sketch(acc, s) != PP_OK)
		__builtin_trap();		/* a valid sketch is always accepted */
	for (q = 0; q <= 1.0; q += 0.25)
		(void) pp_sketch_acc_quantile(acc, q);
	(void) pp_sketch_acc_count_above(acc, 100.0);

	if (pp_sketch_copy(dst, cap, s) != PP_OK)
		__builtin_trap();		/* the maximal capacity holds any sketch */
	if (pp_sketch_add_index_exact(dst, pp_sketch_index_of(12.5), 1) == PP_OK &&
		pp_sketch_remove(dst, 12.5) != PP_OK)
		__builtin_trap();
	idx = (const uint16_t *) ((const char *) dst + sizeof(pp_sketch_t) +
							  (size_t) cap * sizeof(uint32_t));
	while (dst->nbins > 0)
		if (pp_sketch_remove(dst, pp_sketch_index_value(idx[0])) != PP_OK)
			__builtin_trap();	/* every value held can be removed */
	while (dst->zero_count > 0)
		if (pp_sketch_remove(dst, 0.0) != PP_OK)
			__builtin_trap();
	if (dst->count != 0)
		__builtin_trap();		/* removing them all gives back nothing */
	pool_release(&pool);
	free(dst);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t		cut;
	void	   *sk;
	void	   *res;

	if (size < 2)
		return 0;
	cut = (size_t) data[0] * 32;
	if (cut > size - 1)
		cut = size - 1;

	/* copies, so that the images are aligned as they are in memory */
	sk = calloc(1, cut + 8);
	res = calloc(1, size - 1 - cut + 8);
	if (sk == NULL || res == NULL)
		abort();
	memcpy(sk, data + 1, cut);
	memcpy(res, data + 1 + cut, size - 1 - cut);

	if (pp_sketch_validate((const pp_sketch_t *) sk, cut, NULL) == PP_OK)
		exercise_sketch((const pp_sketch_t *) sk);
	if (pp_reservoir_validate((const pp_reservoir_t *) res, size - 1 - cut, NULL) == PP_OK)
	{
		pp_reservoir_t *r = res;
		pp_reservoir_sample_t s;

		memset(&s, 0, sizeof(s));
		s.duration_ms = 1;
		(void) pp_reservoir_offer(r, &s, 12345);
		(void) pp_reservoir_remove_profile(r, s.profile_id);
		if (r->nsamples > r->capacity)
			__builtin_trap();
	}
	free(sk);
	free(res);
	return 0;
}
