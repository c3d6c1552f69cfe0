/*-------------------------------------------------------------------------
 *
 * src/allocator.c
 *	  The pure-C core's allocator interface (pp_allocator_t, src/core/
 *	  pp_core.h) over PostgreSQL memory contexts.
 *
 * The core never calls palloc: it receives an allocator.  These adapters
 * allocate without raising an error (MCXT_ALLOC_NO_OOM), so the core sees
 * NULL and returns PP_ERR_NO_MEMORY, and the caller reports it.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/memutils.h"

#include "allocator.h"

static void *
palloc_hook(size_t size, void *ctx)
{
	return MemoryContextAllocExtended((MemoryContext) ctx, size, MCXT_ALLOC_NO_OOM);
}

static void
pfree_hook(void *ptr, void *ctx)
{
	pfree(ptr);
}

static void *
palloc_current_hook(size_t size, void *ctx)
{
	return palloc_extended(size, MCXT_ALLOC_NO_OOM);
}

/* An allocator for the core that allocates in CurrentMemoryContext. */
const pp_allocator_t *
pp_current_allocator(void)
{
	static const pp_allocator_t current = {palloc_current_hook, pfree_hook, NULL};

	return &current;
}

/*
 * An allocator for the core that allocates in cxt.  The returned struct
 * lives in cxt too.
 */
const pp_allocator_t *
pp_palloc_allocator(MemoryContext cxt)
{
	pp_allocator_t *a = MemoryContextAlloc(cxt, sizeof(pp_allocator_t));

	a->malloc_fn = palloc_hook;
	a->free_fn = pfree_hook;
	a->ctx = cxt;
	return a;
}
