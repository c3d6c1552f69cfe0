/*-------------------------------------------------------------------------
 *
 * test/unit/helpers.h
 *	  Helpers shared by the unit tests and the fuzz targets: uniform random
 *	  doubles from pp_rng, a pool allocator, and tree_release.
 *
 * The server hands the core palloc and frees the core's objects with their
 * memory context, so the core has no free functions.  The pool plays the
 * memory context here: every block it hands out is linked into the pool
 * and pool_release() frees them all (LeakSanitizer sees nothing left).
 * The pool also counts the bytes it holds and its allocations, and can
 * fail every allocation from the fail_from-th on, for the out-of-memory
 * tests.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PP_TEST_HELPERS_H
#define PP_TEST_HELPERS_H

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "pp_core.h"
#include "reservoir.h"
#include "tree.h"

/* Uniform in [0, 1): the top 53 bits of the next number */
static inline double
uniform(pp_rng_t *rng)
{
	return (double) (pp_rng_next(rng) >> 11) * (1.0 / 9007199254740992.0);
}

typedef struct pool_link_t
{
	struct pool_link_t *prev;
	struct pool_link_t *next;
} pool_link_t;

typedef struct pool_block_t
{
	pool_link_t link;			/* first: a link is its block */
	size_t		size;
	max_align_t data[];
} pool_block_t;

typedef struct pool_t
{
	pool_link_t head;			/* circular list of live blocks */
	size_t		held;			/* bytes handed out and not freed */
	int			calls;			/* allocations that succeeded */
	int			fail_from;		/* fail from this allocation on; -1 never */
	pp_allocator_t allocator;	/* to pass to the core */
} pool_t;

static inline void *
pool_malloc(size_t size, void *ctx)
{
	pool_t	   *p = ctx;
	pool_block_t *b;

	if (p->fail_from >= 0 && p->calls >= p->fail_from)
		return NULL;
	b = malloc(sizeof(pool_block_t) + size);
	if (b == NULL)
		return NULL;
	b->size = size;
	b->link.next = p->head.next;
	b->link.prev = &p->head;
	p->head.next->prev = &b->link;
	p->head.next = &b->link;
	p->held += size;
	p->calls++;
	return b->data;
}

static inline void
pool_free(void *ptr, void *ctx)
{
	pool_t	   *p = ctx;
	pool_block_t *b;

	if (ptr == NULL)
		return;
	b = (pool_block_t *) ((char *) ptr - offsetof(pool_block_t, data));
	b->link.prev->next = b->link.next;
	b->link.next->prev = b->link.prev;
	p->held -= b->size;
	free(b);
}

/* An empty pool that never fails; p->allocator allocates from it */
static inline void
pool_init(pool_t *p)
{
	p->head.prev = p->head.next = &p->head;
	p->held = 0;
	p->calls = 0;
	p->fail_from = -1;
	p->allocator.malloc_fn = pool_malloc;
	p->allocator.free_fn = pool_free;
	p->allocator.ctx = p;
}

/* Free every block, as deleting a memory context does */
static inline void
pool_release(pool_t *p)
{
	while (p->head.next != &p->head)
		pool_free(((pool_block_t *) p->head.next)->data, p);
}

/*
 * Give back the one block of a walked tree (its node array) through the
 * allocator it came from, as the server's memory context would, and zero
 * the struct.
 */
static inline void
tree_release(pp_tree_t *tree)
{
	if (tree->nodes != NULL)
		pp_free(tree->allocator, tree->nodes);
	memset(tree, 0, sizeof(*tree));
}

#endif							/* PP_TEST_HELPERS_H */
