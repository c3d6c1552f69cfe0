/*-------------------------------------------------------------------------
 *
 * src/allocator.h
 *	  The core's allocator interface over PostgreSQL memory contexts.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PP_ALLOCATOR_H
#define PP_ALLOCATOR_H

#include "postgres.h"

#include "pp_core.h"

/* Allocates in CurrentMemoryContext (whichever it is at each call). */
extern const pp_allocator_t *pp_current_allocator(void);

/* Allocates in cxt; the returned struct lives in cxt too. */
extern const pp_allocator_t *pp_palloc_allocator(MemoryContext cxt);

#endif							/* PP_ALLOCATOR_H */
