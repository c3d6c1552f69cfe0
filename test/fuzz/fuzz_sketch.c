/*-------------------------------------------------------------------------
 *
 * test/fuzz/fuzz_sketch.c
 *	  libFuzzer target: sketches and reservoirs read from untrusted bytes,
 *	  as the statistics file loader reads them.
 *
 * The input is cut into a sketch image (its capacity taken from the bytes)
 * and a reservoir image.  Whatever pp_sketch_validate or
 * pp_reservoir_validate accepts must then survive every operation: merge
 * into a fresh sketch and back out, quantiles, accumulator sums; a merge
 * followed by a subtraction must give back the empty sketch.
 *
 *-------------------------------------------------------------------------
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "reservoir.h"
#include "sketch.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
exercise_sketch(const pp_sketch_t *s)
{
	size_t		big = PP_SKETCH_SIZE(PP_SKETCH_HOUR_CAPACITY);
	pp_sketch_t *dst = calloc(1, big);
	pp_sketch_acc_t *acc = pp_sketch_acc_create(NULL);
	double		q;

	if (dst == NULL || acc == NULL)
		abort();
	pp_sketch_init(dst, PP_SKETCH_HOUR_CAPACITY);
	if (pp_sketch_merge(dst, s) == PP_OK &&
		dst->collapse_index == 0 && s->collapse_index == 0)
	{
		if (pp_sketch_subtract(dst, s) != PP_OK || pp_sketch_count(dst) != 0)
			__builtin_trap();	/* merge then subtract gives back nothing */
	}
	for (q = 0; q <= 1.0; q += 0.25)
		(void) pp_sketch_quantile(s, q);
	if (pp_sketch_acc_add_sketch(acc, s) == PP_OK)
	{
		if (pp_sketch_acc_count(acc) != pp_sketch_count(s))
			__builtin_trap();
		(void) pp_sketch_acc_quantile(acc, 0.99);
		(void) pp_sketch_acc_count_above(acc, 100.0);
		(void) pp_sketch_acc_subtract_sketch(acc, s);
	}
	pp_sketch_acc_free(acc);
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
		(void) pp_reservoir_count(r);
	}
	free(sk);
	free(res);
	return 0;
}
