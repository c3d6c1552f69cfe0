/*-------------------------------------------------------------------------
 *
 * test/unit/test_arena.c
 *	  cmocka tests of src/core/arena.c: classes and sizes, splitting and
 *	  merging of buddies, exhaustion, fragmentation and its repair, refused
 *	  frees, and a long random run checked against a shadow of every block
 *	  (no two blocks overlap, the counters add up, every block keeps what was
 *	  written into it).
 *
 * Every arena lives in a heap block of exactly the size given to
 * pp_arena_init (AddressSanitizer catches a write beyond it).
 *
 * No PostgreSQL headers; allocation through malloc.
 *
 *-------------------------------------------------------------------------
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "helpers.h"
#include "reservoir.h"

/*
 * The fewest bytes (a multiple of 8) over which pp_arena_init makes an
 * arena of n_pages pages: its header and tags cost under 4 KB a page.
 */
static size_t
arena_size_for(size_t n_pages)
{
	size_t		most = n_pages * (PP_ARENA_PAGE + 4096) + 4096;
	void	   *mem = malloc(most);
	size_t		size;

	assert_non_null(mem);
	for (size = n_pages * PP_ARENA_PAGE; size <= most; size += 8)
	{
		pp_arena_t *a = pp_arena_init(mem, size);
		pp_arena_stats_t st;

		if (a == NULL)
			continue;
		pp_arena_stats(a, &st);
		if (st.total_bytes == n_pages * PP_ARENA_PAGE)
			break;
		assert_true(st.total_bytes < n_pages * PP_ARENA_PAGE);
	}
	free(mem);
	assert_true(size <= most);
	return size;
}

/* An arena of exactly n_pages pages, in a heap block of exactly its size */
static pp_arena_t *
arena_new(size_t n_pages, void **mem)
{
	size_t		size = arena_size_for(n_pages);
	pp_arena_t *a;
	pp_arena_stats_t st;

	*mem = malloc(size);
	assert_non_null(*mem);
	memset(*mem, 0x5A, size);
	a = pp_arena_init(*mem, size);
	assert_ptr_equal(a, *mem);
	pp_arena_stats(a, &st);
	assert_int_equal(st.total_bytes, n_pages * PP_ARENA_PAGE);
	assert_int_equal(st.used_bytes, 0);
	return a;
}

static void
test_classes(void **state)
{
	(void) state;
	assert_int_equal(PP_ARENA_BLOCK(0), 80);
	assert_int_equal(PP_ARENA_PAGE, 20480);
	assert_int_equal(PP_ARENA_BLOCK(1), 160);
	assert_int_equal(PP_ARENA_BLOCK(PP_ARENA_NCLASSES - 1), PP_ARENA_PAGE);
}

static void
test_init_sizes(void **state)
{
	char		small[256];
	void	   *mem;
	size_t		size = arena_size_for(3);
	pp_arena_t *a;
	pp_arena_stats_t st;

	(void) state;
	/* too small for one page */
	assert_null(pp_arena_init(small, sizeof(small)));
	assert_null(pp_arena_init(small, 0));

	/* one byte short of 3 pages gives 2; the exact size gives 3 */
	mem = malloc(size);
	assert_non_null(mem);
	a = pp_arena_init(mem, size - 1);
	assert_non_null(a);
	pp_arena_stats(a, &st);
	assert_int_equal(st.total_bytes, 2 * PP_ARENA_PAGE);
	a = pp_arena_init(mem, size);
	pp_arena_stats(a, &st);
	assert_int_equal(st.total_bytes, 3 * PP_ARENA_PAGE);
	assert_int_equal(st.largest_free, PP_ARENA_PAGE);
	free(mem);
}

static void
test_split_and_merge(void **state)
{
	void	   *mem;
	pp_arena_t *a = arena_new(1, &mem);
	pp_arena_stats_t st;
	pp_arena_off_t small;
	pp_arena_off_t big;
	int			c;

	(void) state;
	/* the smallest block splits the page down to class 0 */
	small = pp_arena_alloc(a, 0);
	assert_true(small != 0);
	assert_int_equal(small % 16, 0);
	assert_int_equal(pp_arena_class_of(a, small), 0);
	pp_arena_stats(a, &st);
	assert_int_equal(st.used_bytes, 80);
	assert_int_equal(st.blocks[0], 1);
	/* one free buddy of every class below the page remains */
	assert_int_equal(st.largest_free, PP_ARENA_BLOCK(PP_ARENA_NCLASSES - 2));
	for (c = 0; c < PP_ARENA_NCLASSES - 1; c++)
	{
		pp_arena_off_t o = pp_arena_alloc(a, c);

		assert_true(o != 0);
		assert_int_equal(pp_arena_class_of(a, o), c);
	}
	/* the page is now used up exactly */
	pp_arena_stats(a, &st);
	assert_int_equal(st.used_bytes, PP_ARENA_PAGE);
	assert_int_equal(st.largest_free, 0);
	assert_int_equal(pp_arena_alloc(a, 0), 0);
	assert_int_equal(st.failures, 0);
	pp_arena_stats(a, &st);
	assert_int_equal(st.failures, 1);

	/* free everything: the buddies merge back into the page */
	a = pp_arena_init(mem, arena_size_for(1));
	small = pp_arena_alloc(a, 0);
	assert_true(pp_arena_free(a, small));
	pp_arena_stats(a, &st);
	assert_int_equal(st.used_bytes, 0);
	assert_int_equal(st.largest_free, PP_ARENA_PAGE);
	big = pp_arena_alloc(a, PP_ARENA_NCLASSES - 1);
	assert_true(big != 0);
	assert_int_equal(pp_arena_alloc(a, 0), 0);
	assert_true(pp_arena_free(a, big));
	free(mem);
}

static void
test_refused_frees(void **state)
{
	void	   *mem;
	pp_arena_t *a = arena_new(2, &mem);
	pp_arena_off_t o;
	pp_arena_off_t p;
	pp_arena_stats_t st;

	(void) state;
	o = pp_arena_alloc(a, 2);
	p = pp_arena_alloc(a, 2);
	assert_true(o != 0 && p != 0 && o != p);
	assert_false(pp_arena_free(a, 0));
	assert_false(pp_arena_free(a, 8));	/* inside the header */
	assert_false(pp_arena_free(a, o + 16));	/* not on a unit */
	assert_false(pp_arena_free(a, o + PP_ARENA_MIN_BLOCK));	/* inside o */
	assert_false(pp_arena_free(a, o + 10 * PP_ARENA_PAGE));	/* beyond */
	assert_int_equal(pp_arena_alloc(a, -1), 0);
	assert_int_equal(pp_arena_alloc(a, PP_ARENA_NCLASSES), 0);
	assert_true(pp_arena_free(a, o));
	assert_false(pp_arena_free(a, o));	/* twice */
	assert_int_equal(pp_arena_class_of(a, o), -1);
	pp_arena_stats(a, &st);
	assert_int_equal(st.used_bytes, PP_ARENA_BLOCK(2));
	assert_int_equal(st.blocks[2], 1);
	assert_true(pp_arena_free(a, p));
	pp_arena_stats(a, &st);
	assert_int_equal(st.used_bytes, 0);
	free(mem);
}

/*
 * Exhaustion and fragmentation: fill the arena with smallest blocks until
 * it refuses, free every other one (half the memory free, no page-sized
 * block possible), then free the rest: whole pages again.
 */
static void
test_exhaustion_fragmentation(void **state)
{
	enum
	{
		PAGES = 4
	};
	void	   *mem;
	pp_arena_t *a = arena_new(PAGES, &mem);
	size_t		per_page = PP_ARENA_PAGE / PP_ARENA_MIN_BLOCK;
	size_t		n = PAGES * per_page;
	pp_arena_off_t *blk = malloc(n * sizeof(pp_arena_off_t));
	pp_arena_stats_t st;
	size_t		i;

	(void) state;
	assert_non_null(blk);
	for (i = 0; i < n; i++)
	{
		blk[i] = pp_arena_alloc(a, 0);
		assert_true(blk[i] != 0);
		/* write the whole block: no overlap with another (checked below) */
		memset(pp_arena_ptr(a, blk[i]), (int) (i & 0x7F), PP_ARENA_MIN_BLOCK);
	}
	assert_int_equal(pp_arena_alloc(a, 0), 0);
	pp_arena_stats(a, &st);
	assert_int_equal(st.used_bytes, st.total_bytes);
	assert_int_equal(st.failures, 1);
	for (i = 0; i < n; i++)
	{
		const unsigned char *p = pp_arena_ptr(a, blk[i]);

		assert_int_equal(p[0], i & 0x7F);
		assert_int_equal(p[PP_ARENA_MIN_BLOCK - 1], i & 0x7F);
	}

	for (i = 0; i < n; i += 2)
		assert_true(pp_arena_free(a, blk[i]));
	pp_arena_stats(a, &st);
	assert_int_equal(st.used_bytes, st.total_bytes / 2);
	assert_int_equal(st.largest_free, PP_ARENA_MIN_BLOCK);
	/* fragmented: half free, yet nothing of class 1 or more */
	assert_int_equal(pp_arena_alloc(a, 1), 0);
	assert_int_equal(pp_arena_alloc(a, PP_ARENA_NCLASSES - 1), 0);
	/* the holes still serve their own class, and are refilled exactly */
	for (i = 0; i < n; i += 2)
	{
		blk[i] = pp_arena_alloc(a, 0);
		assert_true(blk[i] != 0);
	}
	assert_int_equal(pp_arena_alloc(a, 0), 0);

	/* freeing the blocks of the first page gives back a page */
	{
		pp_arena_off_t first = blk[0];

		for (i = 1; i < n; i++)
			if (blk[i] < first)
				first = blk[i];
		for (i = 0; i < n; i++)
			if (blk[i] < first + PP_ARENA_PAGE)
			{
				assert_true(pp_arena_free(a, blk[i]));
				blk[i] = 0;
			}
	}
	pp_arena_stats(a, &st);
	assert_int_equal(st.largest_free, PP_ARENA_PAGE);
	assert_int_equal(st.used_bytes, st.total_bytes - PP_ARENA_PAGE);
	{
		pp_arena_off_t page = pp_arena_alloc(a, PP_ARENA_NCLASSES - 1);

		assert_true(page != 0);
		assert_true(pp_arena_free(a, page));
	}
	for (i = 0; i < n; i++)
		if (blk[i] != 0)
			assert_true(pp_arena_free(a, blk[i]));
	pp_arena_stats(a, &st);
	assert_int_equal(st.used_bytes, 0);
	for (i = 0; i < PAGES; i++)
		assert_true(pp_arena_alloc(a, PP_ARENA_NCLASSES - 1) != 0);
	assert_int_equal(pp_arena_alloc(a, PP_ARENA_NCLASSES - 1), 0);
	free(blk);
	free(mem);
}

/*
 * Random allocations and frees of every class against a shadow: each live
 * block is filled with its own byte; before each free the whole block must
 * still hold it (an overlap would have overwritten it), and the counters
 * must equal the shadow's sums.
 */
static void
test_random_shadow(void **state)
{
	enum
	{
		PAGES = 16, MAXLIVE = 2048, STEPS = 60000
	};
	void	   *mem;
	pp_arena_t *a = arena_new(PAGES, &mem);
	pp_arena_off_t live[MAXLIVE];
	unsigned char fill[MAXLIVE];
	int			n_live = 0;
	pp_rng_t	rng;
	uint64_t	refused = 0;
	int			step;

	(void) state;
	pp_rng_seed(&rng, 42);
	for (step = 0; step < STEPS; step++)
	{
		bool		do_alloc = n_live == 0 ||
			(n_live < MAXLIVE && uniform(&rng) < 0.55);

		if (do_alloc)
		{
			/* small classes mostly, as sketches are */
			int			c = (int) (uniform(&rng) * uniform(&rng) *
								   PP_ARENA_NCLASSES);
			pp_arena_off_t o = pp_arena_alloc(a, c);

			if (o == 0)
			{
				refused++;
				continue;
			}
			assert_int_equal(pp_arena_class_of(a, o), c);
			fill[n_live] = (unsigned char) (step & 0xFF);
			memset(pp_arena_ptr(a, o), fill[n_live], PP_ARENA_BLOCK(c));
			live[n_live++] = o;
		}
		else
		{
			int			k = (int) (uniform(&rng) * n_live);
			int			c = pp_arena_class_of(a, live[k]);
			const unsigned char *p = pp_arena_ptr(a, live[k]);
			size_t		j;

			assert_true(c >= 0);
			/* the free-list links may only be written once it is freed */
			for (j = 0; j < PP_ARENA_BLOCK(c); j++)
				if (p[j] != fill[k])
					fail_msg("block %d overwritten at byte %zu", k, j);
			assert_true(pp_arena_free(a, live[k]));
			live[k] = live[--n_live];
			fill[k] = fill[n_live];
		}
		if (step % 1000 == 0)
		{
			pp_arena_stats_t st;
			uint64_t	used = 0;
			int			i;

			pp_arena_stats(a, &st);
			for (i = 0; i < n_live; i++)
				used += PP_ARENA_BLOCK(pp_arena_class_of(a, live[i]));
			assert_int_equal(st.used_bytes, used);
			assert_int_equal(st.failures, refused);
		}
	}
	assert_true(refused > 0);	/* the run did reach exhaustion */
	while (n_live > 0)
		assert_true(pp_arena_free(a, live[--n_live]));
	{
		pp_arena_stats_t st;

		pp_arena_stats(a, &st);
		assert_int_equal(st.used_bytes, 0);
		assert_int_equal(st.largest_free, PP_ARENA_PAGE);
	}
	free(mem);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_classes),
		cmocka_unit_test(test_init_sizes),
		cmocka_unit_test(test_split_and_merge),
		cmocka_unit_test(test_refused_frees),
		cmocka_unit_test(test_exhaustion_fragmentation),
		cmocka_unit_test(test_random_shadow),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
