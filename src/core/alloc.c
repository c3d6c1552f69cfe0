/*-------------------------------------------------------------------------
 *
 * src/core/alloc.c
 *	  Allocation hooks of the pure-C core.
 *
 * Every core allocation goes through a pp_allocator_t so that the server
 * glue can pass palloc (the memory then belongs to a memory context) and
 * the unit tests can pass an allocator that fails on purpose.  A NULL
 * allocator pointer means pp_default_allocator, which is malloc and free.
 * pp_alloc never asks the hook for zero bytes, so that a NULL result always
 * means "out of memory".
 *
 * No PostgreSQL headers; allocation through pp_allocator_t.
 *
 *-------------------------------------------------------------------------
 */
#include <stdlib.h>
#include <string.h>

#include "pp_core.h"

static void *
default_malloc(size_t size, void *ctx)
{
	(void) ctx;
	return malloc(size);
}

static void
default_free(void *ptr, void *ctx)
{
	(void) ctx;
	free(ptr);
}

const pp_allocator_t pp_default_allocator = {
	default_malloc,
	default_free,
	NULL
};

/*
 * Allocate size bytes (at least one) through a; NULL when the hook fails.
 */
void *
pp_alloc(const pp_allocator_t *a, size_t size)
{
	if (a == NULL)
		a = &pp_default_allocator;
	if (size == 0)
		size = 1;
	return a->malloc_fn(size, a->ctx);
}

/*
 * Like pp_alloc, and zero the block.
 */
void *
pp_alloc0(const pp_allocator_t *a, size_t size)
{
	void	   *ptr = pp_alloc(a, size);

	if (ptr != NULL)
		memset(ptr, 0, size);
	return ptr;
}

/*
 * Free a block from pp_alloc; a NULL ptr is ignored.
 */
void
pp_free(const pp_allocator_t *a, void *ptr)
{
	if (ptr == NULL)
		return;
	if (a == NULL)
		a = &pp_default_allocator;
	a->free_fn(ptr, a->ctx);
}
