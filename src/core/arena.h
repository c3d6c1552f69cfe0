/*-------------------------------------------------------------------------
 *
 * src/core/arena.h
 *	  A fixed-size block allocator over a caller-given memory block (the
 *	  shared memory of the bucket sketches): power-of-two size classes,
 *	  binary buddies, blocks addressed by offset.
 *
 * The caller hands pp_arena_init a block of memory once; everything the
 * allocator needs afterwards (its header, a one-byte tag per smallest block
 * and the free lists) lives inside that block, and no function allocates.
 * The block is carved into pages of PP_ARENA_PAGE bytes.  Class c
 * (0 .. PP_ARENA_NCLASSES - 1) hands out blocks of PP_ARENA_BLOCK(c) =
 * PP_ARENA_MIN_BLOCK << c bytes, so the largest class is a whole page: 80,
 * 160, 320, ..., 20480 bytes.  A request takes a free block of its class,
 * else splits the smallest larger free block in halves (the buddies); a
 * freed block merges with its buddy whenever that is free too, recursively,
 * so that free memory is never lost to one class: after every block is
 * freed the arena is whole pages again.  Each class keeps a doubly linked
 * free list threaded through the free blocks themselves.  Every operation
 * costs O(PP_ARENA_NCLASSES).
 *
 * Blocks are named by their byte offset from the start of the memory block
 * (never 0), so the arena may be mapped at any address; pp_arena_ptr turns
 * an offset into a pointer.  Offsets are multiples of 16, so blocks have
 * the alignment of the memory block (which must be at least 8).
 *
 * Not thread-safe: the caller serialises (src/shmem.c holds its LWLock).
 *
 * No PostgreSQL headers; no allocation.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PP_ARENA_H
#define PP_ARENA_H

#include "pp_core.h"

#define PP_ARENA_NCLASSES	9
#define PP_ARENA_MIN_BLOCK	80
#define PP_ARENA_BLOCK(c)	((size_t) PP_ARENA_MIN_BLOCK << (c))
#define PP_ARENA_PAGE		PP_ARENA_BLOCK(PP_ARENA_NCLASSES - 1)	/* 20480 */

/* A block's offset from the start of the arena; 0 = no block. */
typedef uint64_t pp_arena_off_t;

typedef struct pp_arena_t pp_arena_t;

typedef struct pp_arena_stats_t
{
	size_t		total_bytes;	/* the pages (what can be handed out) */
	size_t		used_bytes;		/* in blocks handed out */
	size_t		largest_free;	/* largest block available now, bytes; 0 if
								 * none */
	uint64_t	blocks[PP_ARENA_NCLASSES];	/* handed out, per class */
	uint64_t	failures;		/* requests that found no block */
} pp_arena_stats_t;

/*
 * Make an empty arena over size bytes at mem (8-byte aligned).  Returns the
 * arena (== mem), or NULL when size cannot hold one page.
 */
extern pp_arena_t *pp_arena_init(void *mem, size_t size);

/* A block of class c, or 0 when none is free (counted in failures). */
extern pp_arena_off_t pp_arena_alloc(pp_arena_t *a, int c);

/*
 * Give a block back.  Returns false, changing nothing, when off is not a
 * block handed out by pp_arena_alloc and not yet freed.
 */
extern bool pp_arena_free(pp_arena_t *a, pp_arena_off_t off);

/* The class of a block handed out; -1 when off is not one. */
extern int	pp_arena_class_of(const pp_arena_t *a, pp_arena_off_t off);

extern void pp_arena_stats(const pp_arena_t *a, pp_arena_stats_t *st);

static inline void *
pp_arena_ptr(pp_arena_t *a, pp_arena_off_t off)
{
	return (char *) a + off;
}

#endif							/* PP_ARENA_H */
