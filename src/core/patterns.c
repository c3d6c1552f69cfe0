/*-------------------------------------------------------------------------
 *
 * src/core/patterns.c
 *	  Shape facts of a profile tree: repeated siblings (n_plus_one) and
 *	  sequential same-type siblings (parallelizable).  See patterns.h.
 *
 * Children are grouped per parent with one counting pass over the
 * pre-order node array (no recursion); each parent's children are sorted
 * once by name and once by (type, start), so the cost is O(n log n).
 * No PostgreSQL headers; allocation through pp_allocator_t.
 *
 *-------------------------------------------------------------------------
 */
#include "patterns.h"

#include <stdlib.h>
#include <string.h>

typedef struct child_ref_t
{
	const pp_tree_node_t *node;
	const char *type;
	int32_t		index;
} child_ref_t;

static int
cmp_name(const void *a, const void *b)
{
	const child_ref_t *x = a;
	const child_ref_t *y = b;
	size_t		n = x->node->name_len < y->node->name_len ? x->node->name_len : y->node->name_len;
	int			c = memcmp(x->node->name, y->node->name, n);

	if (c != 0)
		return c;
	if (x->node->name_len != y->node->name_len)
		return x->node->name_len < y->node->name_len ? -1 : 1;
	return x->index < y->index ? -1 : (x->index > y->index);
}

static int
cmp_type_start(const void *a, const void *b)
{
	const child_ref_t *x = a;
	const child_ref_t *y = b;
	int			c = strcmp(x->type, y->type);

	if (c != 0)
		return c;
	if (x->node->start_time != y->node->start_time)
		return x->node->start_time < y->node->start_time ? -1 : 1;
	/* a zero-length interval before one starting at the same instant */
	if (x->node->end_time != y->node->end_time)
		return x->node->end_time < y->node->end_time ? -1 : 1;
	return x->index < y->index ? -1 : (x->index > y->index);
}

static bool
same_name(const child_ref_t *a, const child_ref_t *b)
{
	return a->node->name_len == b->node->name_len &&
		memcmp(a->node->name, b->node->name, a->node->name_len) == 0;
}

static int
cmp_start(const void *a, const void *b)
{
	const child_ref_t *x = a;
	const child_ref_t *y = b;

	if (x->node->start_time != y->node->start_time)
		return x->node->start_time < y->node->start_time ? -1 : 1;
	if (x->node->end_time != y->node->end_time)
		return x->node->end_time < y->node->end_time ? -1 : 1;
	return x->index < y->index ? -1 : (x->index > y->index);
}

/*
 * Did the k calls of a same-name group run at the same time (every one has
 * start and end, and two of them overlap)?  Then they are already issued
 * together, not one after another.  Reorders the group.
 */
static bool
ran_together(child_ref_t *group, int32_t k)
{
	int32_t		m;
	double		end;

	for (m = 0; m < k; m++)
		if (!group[m].node->has_start || !group[m].node->has_end)
			return false;
	qsort(group, (size_t) k, sizeof(child_ref_t), cmp_start);
	end = group[0].node->end_time;
	for (m = 1; m < k; m++)
	{
		if (group[m].node->start_time < end)
			return true;
		if (group[m].node->end_time > end)
			end = group[m].node->end_time;
	}
	return false;
}

/*
 * Mark same-name groups of >= PP_REPEAT_MIN among one parent's children,
 * unless the group ran concurrently.
 */
static void
mark_repeats(child_ref_t *kids, int32_t k, pp_node_shape_t *shapes)
{
	int32_t		i = 0;

	qsort(kids, (size_t) k, sizeof(child_ref_t), cmp_name);
	while (i < k)
	{
		int32_t		j = i + 1;

		while (j < k && same_name(&kids[i], &kids[j]))
			j++;
		if (j - i >= PP_REPEAT_MIN && !ran_together(&kids[i], j - i))
		{
			int32_t		m;
			int32_t		first = kids[i].index;

			for (m = i; m < j; m++)
			{
				shapes[kids[m].index].repeated = true;
				if (kids[m].index < first)
					first = kids[m].index;
			}
			shapes[first].repeat_first = true;	/* first in document order */
		}
		i = j;
	}
}

/* Time saved if each same-type run of sequential children ran at once. */
static double
parallel_saving(child_ref_t *kids, int32_t k)
{
	double		saving = 0;
	int32_t		i = 0;

	qsort(kids, (size_t) k, sizeof(child_ref_t), cmp_type_start);
	while (i < k)
	{
		int32_t		j = i + 1;
		bool		timed = kids[i].node->has_start && kids[i].node->has_end;
		bool		sequential = true;
		double		sum = kids[i].node->duration_ms;
		double		max = kids[i].node->duration_ms;

		while (j < k && strcmp(kids[i].type, kids[j].type) == 0)
		{
			const pp_tree_node_t *prev = kids[j - 1].node;
			const pp_tree_node_t *cur = kids[j].node;

			timed = timed && cur->has_start && cur->has_end;
			if (timed && cur->start_time < prev->end_time)
				sequential = false;
			sum += cur->duration_ms;
			if (cur->duration_ms > max)
				max = cur->duration_ms;
			j++;
		}
		if (j - i >= 2 && timed && sequential)
			saving += sum - max;
		i = j;
	}
	return saving;
}

pp_error_code_t
pp_tree_shapes(const pp_tree_t *tree,
			   const char *(*type_of) (void *arg, int32_t i), void *arg,
			   const pp_allocator_t *allocator, pp_node_shape_t *shapes)
{
	int32_t		n = tree->n_nodes;
	int32_t    *offsets;
	int32_t    *fill;
	child_ref_t *kids;
	int32_t		i;

	memset(shapes, 0, sizeof(pp_node_shape_t) * (size_t) (n > 0 ? n : 0));
	if (n <= 1)
		return PP_OK;

	offsets = pp_alloc(allocator, sizeof(int32_t) * (size_t) (n + 1));
	fill = pp_alloc0(allocator, sizeof(int32_t) * (size_t) n);
	kids = pp_alloc(allocator, sizeof(child_ref_t) * (size_t) n);
	if (offsets == NULL || fill == NULL || kids == NULL)
	{
		pp_free(allocator, offsets);
		pp_free(allocator, fill);
		pp_free(allocator, kids);
		return PP_ERR_NO_MEMORY;
	}

	/* children of node p are kids[offsets[p] .. offsets[p + 1]) */
	offsets[0] = 0;
	for (i = 0; i < n; i++)
		offsets[i + 1] = offsets[i] + tree->nodes[i].n_children;
	for (i = 1; i < n; i++)
	{
		int32_t		p = tree->nodes[i].parent;
		child_ref_t *c = &kids[offsets[p] + fill[p]++];

		c->node = &tree->nodes[i];
		c->type = type_of(arg, i);
		c->index = i;
	}

	for (i = 0; i < n; i++)
	{
		int32_t		k = offsets[i + 1] - offsets[i];

		if (k < 2)
			continue;
		if (k >= PP_REPEAT_MIN)
			mark_repeats(&kids[offsets[i]], k, shapes);
		shapes[i].parallel_saving_ms = parallel_saving(&kids[offsets[i]], k);
	}

	pp_free(allocator, offsets);
	pp_free(allocator, fill);
	pp_free(allocator, kids);
	return PP_OK;
}
