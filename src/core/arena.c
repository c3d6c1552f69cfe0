/*-------------------------------------------------------------------------
 *
 * src/core/arena.c
 *	  Buddy allocator over a caller-given memory block (see arena.h).
 *
 * Layout of the memory block:
 *
 *	  pp_arena_t   the header: page count, free-list heads, counters
 *	  tag[units]   one byte per PP_ARENA_MIN_BLOCK unit of the pages
 *	  (padding to 16 bytes)
 *	  pages        n_pages x PP_ARENA_PAGE
 *
 * A block of class c starts on a unit u that is a multiple of 2^c (units
 * counted from the first page, and a page is 2^(NCLASSES-1) units, so a
 * block never straddles pages); its buddy starts at u ^ 2^c.  Only the tag
 * of a block's first unit means anything: TAG_FREE | c for a free block,
 * c for one handed out.  The tag at a buddy's start always describes the
 * block that starts there (a block of class c, or the first of its smaller
 * pieces), because a larger block containing it would contain this block
 * too; so "tag[buddy] == (TAG_FREE | c)" is exact.  Every other unit is
 * TAG_NONE or a stale free tag, never a class without TAG_FREE, so
 * pp_arena_free recognises a block handed out and refuses anything else
 * (a double free, an offset inside a block).  A free block holds its
 * free-list links (offsets; 0 ends the list) in its first 16 bytes.
 *
 * No PostgreSQL headers; no allocation.
 *
 *-------------------------------------------------------------------------
 */
#include <string.h>

#include "arena.h"

#define ARENA_MAGIC		0x70704172u	/* "ppAr" */
#define TAG_FREE		0x80
#define TAG_NONE		0xFF	/* inside a block, or never a block start */
#define UNITS_PER_PAGE	((size_t) 1 << (PP_ARENA_NCLASSES - 1))

_Static_assert(PP_ARENA_MIN_BLOCK % 16 == 0, "blocks keep 16-byte offsets");
_Static_assert(PP_ARENA_NCLASSES <= 16, "a class fits the tag's low bits");

struct pp_arena_t
{
	uint32_t	magic;
	uint32_t	reserved;
	uint64_t	n_pages;
	uint64_t	pages_off;		/* offset of the first page */
	pp_arena_off_t free_head[PP_ARENA_NCLASSES];
	uint64_t	free_blocks[PP_ARENA_NCLASSES];
	uint64_t	blocks[PP_ARENA_NCLASSES];	/* handed out */
	uint64_t	used_bytes;
	uint64_t	failures;
	/* uint8_t tag[n_pages * UNITS_PER_PAGE] follows */
};

typedef struct free_links_t
{
	pp_arena_off_t next;
	pp_arena_off_t prev;
} free_links_t;

static inline uint8_t *
arena_tags(pp_arena_t *a)
{
	return (uint8_t *) a + sizeof(pp_arena_t);
}

static inline const uint8_t *
arena_ctags(const pp_arena_t *a)
{
	return (const uint8_t *) a + sizeof(pp_arena_t);
}

static inline free_links_t *
links(pp_arena_t *a, pp_arena_off_t off)
{
	return (free_links_t *) pp_arena_ptr(a, off);
}

static inline size_t
unit_of(const pp_arena_t *a, pp_arena_off_t off)
{
	return (size_t) ((off - a->pages_off) / PP_ARENA_MIN_BLOCK);
}

static inline pp_arena_off_t
off_of(const pp_arena_t *a, size_t unit)
{
	return a->pages_off + (pp_arena_off_t) unit * PP_ARENA_MIN_BLOCK;
}

static void
list_push(pp_arena_t *a, int c, pp_arena_off_t off)
{
	free_links_t *l = links(a, off);

	l->next = a->free_head[c];
	l->prev = 0;
	if (l->next != 0)
		links(a, l->next)->prev = off;
	a->free_head[c] = off;
	a->free_blocks[c]++;
	arena_tags(a)[unit_of(a, off)] = (uint8_t) (TAG_FREE | c);
}

static void
list_unlink(pp_arena_t *a, int c, pp_arena_off_t off)
{
	free_links_t *l = links(a, off);

	if (l->prev != 0)
		links(a, l->prev)->next = l->next;
	else
		a->free_head[c] = l->next;
	if (l->next != 0)
		links(a, l->next)->prev = l->prev;
	a->free_blocks[c]--;
}

static size_t
header_bytes(size_t n_pages)
{
	size_t		h = sizeof(pp_arena_t) + n_pages * UNITS_PER_PAGE;

	return (h + 15) & ~(size_t) 15;
}

pp_arena_t *
pp_arena_init(void *mem, size_t size)
{
	pp_arena_t *a = mem;
	size_t		n_pages;
	size_t		i;

	if (size < header_bytes(1) + PP_ARENA_PAGE)
		return NULL;
	n_pages = (size - sizeof(pp_arena_t)) / (PP_ARENA_PAGE + UNITS_PER_PAGE);
	while (n_pages > 0 && header_bytes(n_pages) + n_pages * PP_ARENA_PAGE > size)
		n_pages--;
	if (n_pages == 0)
		return NULL;

	memset(a, 0, sizeof(pp_arena_t));
	/* no unit starts a block handed out until pp_arena_alloc says so */
	memset(arena_tags(a), TAG_NONE, header_bytes(n_pages) - sizeof(pp_arena_t));
	a->magic = ARENA_MAGIC;
	a->n_pages = n_pages;
	a->pages_off = header_bytes(n_pages);
	/* pushed last to first, so that the first page is handed out first */
	for (i = n_pages; i > 0; i--)
		list_push(a, PP_ARENA_NCLASSES - 1,
				  off_of(a, (i - 1) * UNITS_PER_PAGE));
	return a;
}

pp_arena_off_t
pp_arena_alloc(pp_arena_t *a, int c)
{
	int			from;
	pp_arena_off_t off;
	size_t		u;

	if (c < 0 || c >= PP_ARENA_NCLASSES)
		return 0;
	for (from = c; from < PP_ARENA_NCLASSES; from++)
		if (a->free_head[from] != 0)
			break;
	if (from == PP_ARENA_NCLASSES)
	{
		a->failures++;
		return 0;
	}
	off = a->free_head[from];
	list_unlink(a, from, off);
	u = unit_of(a, off);
	/* split: keep the lower half, free the upper one, down to class c */
	while (from > c)
	{
		from--;
		list_push(a, from, off_of(a, u + ((size_t) 1 << from)));
	}
	arena_tags(a)[u] = (uint8_t) c;
	a->blocks[c]++;
	a->used_bytes += PP_ARENA_BLOCK(c);
	return off;
}

int
pp_arena_class_of(const pp_arena_t *a, pp_arena_off_t off)
{
	size_t		u;
	uint8_t		tag;

	if (off < a->pages_off || (off - a->pages_off) % PP_ARENA_MIN_BLOCK != 0)
		return -1;
	u = unit_of(a, off);
	if (u >= a->n_pages * UNITS_PER_PAGE)
		return -1;
	tag = arena_ctags(a)[u];
	if ((tag & TAG_FREE) || tag >= PP_ARENA_NCLASSES ||
		(u & (((size_t) 1 << tag) - 1)) != 0)
		return -1;
	return tag;
}

bool
pp_arena_free(pp_arena_t *a, pp_arena_off_t off)
{
	int			c = pp_arena_class_of(a, off);
	size_t		u;

	if (c < 0)
		return false;
	u = unit_of(a, off);
	arena_tags(a)[u] = TAG_NONE;
	a->blocks[c]--;
	a->used_bytes -= PP_ARENA_BLOCK(c);
	while (c < PP_ARENA_NCLASSES - 1)
	{
		size_t		buddy = u ^ ((size_t) 1 << c);

		if (arena_tags(a)[buddy] != (uint8_t) (TAG_FREE | c))
			break;
		list_unlink(a, c, off_of(a, buddy));
		if (buddy < u)
			u = buddy;
		c++;
	}
	list_push(a, c, off_of(a, u));
	return true;
}

void
pp_arena_stats(const pp_arena_t *a, pp_arena_stats_t *st)
{
	int			c;

	memset(st, 0, sizeof(*st));
	st->total_bytes = (size_t) a->n_pages * PP_ARENA_PAGE;
	st->used_bytes = (size_t) a->used_bytes;
	st->failures = a->failures;
	for (c = 0; c < PP_ARENA_NCLASSES; c++)
	{
		st->blocks[c] = a->blocks[c];
		if (a->free_head[c] != 0)
			st->largest_free = PP_ARENA_BLOCK(c);
	}
}
