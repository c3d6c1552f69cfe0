/*-------------------------------------------------------------------------
 *
 * src/core/tree.c
 *	  Walk and validate one profile tree, computing every node's duration
 *	  and self time, without recursion.
 *
 * The walk is a pre-order traversal driven by an explicit stack of frames,
 * one per open node (so the stack depth is the nesting depth and never
 * exceeds max_depth + 1 frames' worth of work: a node deeper than the limit
 * is rejected before anything is pushed for it).  Each node is checked when
 * it is first reached, in the order the rules are listed in tree.h, so the
 * first error reported is the first one in document order.  Both the node
 * array and the stack start small and grow by doubling through the
 * allocator; the node array never grows past max_nodes entries.
 *
 * Self times need the intervals of each node's children side by side, and
 * in pre-order the children of a node are scattered, so they are computed
 * in a second pass once the walk has succeeded: the children's intervals
 * are gathered into one array grouped by parent (offsets from the child
 * counts), each group is sorted by start time and merged when every child
 * has both times, and otherwise the children's durations are summed.
 *
 * Error paths are built from the parent links of the nodes already
 * numbered, from the leaf up.  A path that does not fit PP_ERROR_PATH_SIZE
 * keeps its tail: "$" and the leading segments that do not fit are replaced
 * by "$..", so a truncated path reads "$...children[3].children[0].end_time"
 * and always names the offending key and its nearest ancestors.
 * pp_tree_node_path instead truncates like snprintf (keeps the head) and
 * returns the full length, so callers can size a buffer.
 *
 * On any failure everything allocated is freed and *tree is left zeroed.
 *
 * No PostgreSQL headers; allocation through pp_allocator_t.
 *
 *-------------------------------------------------------------------------
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tree.h"

/* One open node on the walker's stack. */
typedef struct pp_frame_t
{
	const void *handle;			/* the source's handle on the node */
	int32_t		node;			/* its pre-order index */
	size_t		n_children;		/* length of its children array */
	size_t		next_child;		/* index of the next child to visit */
} pp_frame_t;

typedef struct pp_walker_t
{
	const pp_tree_source_t *source;
	const pp_tree_limits_t *limits;
	const pp_allocator_t *allocator;
	pp_error_t *err;

	pp_tree_node_t *nodes;		/* n_nodes used of nodes_cap */
	int32_t		n_nodes;
	int32_t		nodes_cap;
	int			max_depth_seen;

	pp_frame_t *stack;			/* depth used of stack_cap */
	int			depth;
	int			stack_cap;
} pp_walker_t;

/* A child's interval, gathered for its parent's self time. */
typedef struct pp_interval_t
{
	double		start;			/* seconds */
	double		end;			/* seconds */
	double		duration_ms;
	bool		has_both;		/* start and end are valid */
} pp_interval_t;

#define PP_NODES_INITIAL	64
#define PP_STACK_INITIAL	16
/* "$.." replaces the dropped head of a truncated error path */
#define PP_PATH_ELLIPSIS	"$.."

const char *
pp_json_type_name(pp_json_type_t type)
{
	switch (type)
	{
		case PP_JSON_ABSENT:
			return "nothing";
		case PP_JSON_NULL:
			return "null";
		case PP_JSON_BOOL:
			return "boolean";
		case PP_JSON_NUMBER:
			return "number";
		case PP_JSON_STRING:
			return "string";
		case PP_JSON_ARRAY:
			return "array";
		case PP_JSON_OBJECT:
			return "object";
	}
	return "unknown";
}

/*
 * Prepend the len bytes at seg to the path being built backwards in
 * [buf, *pos), keeping room for the ellipsis.  False when it does not fit.
 */
static bool
path_prepend(char *buf, char **pos, const char *seg, size_t len)
{
	if ((size_t) (*pos - buf) < len + strlen(PP_PATH_ELLIPSIS))
		return false;
	*pos -= len;
	memcpy(*pos, seg, len);
	return true;
}

/*
 * Build into out (PP_ERROR_PATH_SIZE bytes) the path of child ci of node
 * parent (the root when parent < 0), followed by field (".end_time", or
 * "" for the node itself).  Keeps the tail when the path is too long.
 */
static void
walker_path(const pp_walker_t *w, int32_t parent, size_t ci,
			const char *field, char *out)
{
	char		buf[PP_ERROR_PATH_SIZE];
	char	   *end = buf + sizeof(buf) - 1;
	char	   *pos = end;
	char		seg[48];
	int			len;
	bool		fits;

	*end = '\0';
	fits = path_prepend(buf, &pos, field, strlen(field));
	if (fits && parent >= 0)
	{
		len = snprintf(seg, sizeof(seg), ".children[%zu]", ci);
		fits = path_prepend(buf, &pos, seg, (size_t) len);
		while (fits && parent > 0)
		{
			const pp_tree_node_t *p = &w->nodes[parent];

			len = snprintf(seg, sizeof(seg), ".children[%d]",
						   (int) p->child_index);
			fits = path_prepend(buf, &pos, seg, (size_t) len);
			parent = p->parent;
		}
	}
	if (fits)
	{
		*--pos = '$';
	}
	else
	{
		pos -= strlen(PP_PATH_ELLIPSIS);
		memcpy(pos, PP_PATH_ELLIPSIS, strlen(PP_PATH_ELLIPSIS));
	}
	memcpy(out, pos, (size_t) (end - pos) + 1);
}

/*
 * Report an error about child ci of parent (or its key field) and return
 * its code.
 */
static pp_error_code_t
walker_fail(pp_walker_t *w, pp_error_code_t code, int32_t parent, size_t ci,
			const char *field, const char *fmt,...)
			__attribute__((format(printf, 6, 7)));

static pp_error_code_t
walker_fail(pp_walker_t *w, pp_error_code_t code, int32_t parent, size_t ci,
			const char *field, const char *fmt,...)
{
	char		path[PP_ERROR_PATH_SIZE];
	char		text[PP_ERROR_TEXT_SIZE];
	va_list		ap;

	if (w->err == NULL)
		return code;
	walker_path(w, parent, ci, field, path);
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	return pp_error_set(w->err, code, path, "%s", text);
}

/*
 * Replace *array (holding used elements of elem_size bytes, capacity *cap)
 * by one of new_cap elements.  False when the allocator fails; *array is
 * then untouched.
 */
static bool
walker_grow(pp_walker_t *w, void **array, size_t used, size_t elem_size,
			size_t new_cap)
{
	void	   *grown;

	if (new_cap > SIZE_MAX / elem_size)
		return false;
	grown = pp_alloc(w->allocator, new_cap * elem_size);
	if (grown == NULL)
		return false;
	if (used > 0)
		memcpy(grown, *array, used * elem_size);
	pp_free(w->allocator, *array);
	*array = grown;
	return true;
}

/*
 * Check that a number is finite; the error names the key.
 */
static pp_error_code_t
check_finite(pp_walker_t *w, int32_t idx, const char *field,
			 const pp_field_t *f)
{
	const pp_tree_node_t *n = &w->nodes[idx];

	if (!isfinite(f->num))
		return walker_fail(w, PP_ERR_OUT_OF_RANGE, n->parent,
						   (size_t) n->child_index, field,
						   "expected a finite number, got %g", f->num);
	if (fabs(f->num) > PP_MAX_EPOCH_SECONDS)
		return walker_fail(w, PP_ERR_OUT_OF_RANGE, n->parent,
						   (size_t) n->child_index, field,
						   "%s must be seconds since the epoch (at most 1e11), got %.17g: milliseconds?",
						   field + 1, f->num);
	return PP_OK;
}

/*
 * Validate the keys of node idx (already numbered) and fill its entry.
 * *n_children receives the length of its children array.
 */
static pp_error_code_t
check_fields(pp_walker_t *w, int32_t idx, const pp_node_fields_t *f,
			 size_t *n_children)
{
	pp_tree_node_t *n = &w->nodes[idx];
	int32_t		parent = n->parent;
	size_t		ci = (size_t) n->child_index;
	size_t		max_name = w->limits->max_name_length;
	pp_error_code_t rc;

	/* operation_name */
	if (f->operation_name.type == PP_JSON_ABSENT)
		return walker_fail(w, PP_ERR_MISSING, parent, ci, ".operation_name",
						   "expected a non-empty string, got nothing");
	if (f->operation_name.type != PP_JSON_STRING)
		return walker_fail(w, PP_ERR_WRONG_TYPE, parent, ci, ".operation_name",
						   "expected a non-empty string, got %s",
						   pp_json_type_name(f->operation_name.type));
	if (f->operation_name.len == 0)
		return walker_fail(w, PP_ERR_INVALID_VALUE, parent, ci,
						   ".operation_name",
						   "expected a non-empty string");
	if (f->operation_name.len > max_name)
		return walker_fail(w, PP_ERR_NAME_TOO_LONG, parent, ci,
						   ".operation_name",
						   "operation_name is %zu bytes long, the limit is %zu",
						   f->operation_name.len, max_name);
	n->name = f->operation_name.str;
	n->name_len = f->operation_name.len;

	/* start_time: absent or a finite number */
	if (f->start_time.type == PP_JSON_NUMBER)
	{
		if ((rc = check_finite(w, idx, ".start_time", &f->start_time)) != PP_OK)
			return rc;
		n->start_time = f->start_time.num;
		n->has_start = true;
	}
	else if (f->start_time.type != PP_JSON_ABSENT)
		return walker_fail(w, PP_ERR_WRONG_TYPE, parent, ci, ".start_time",
						   "expected a number, got %s",
						   pp_json_type_name(f->start_time.type));

	/* end_time: absent, null or a finite number */
	if (f->end_time.type == PP_JSON_NUMBER)
	{
		if ((rc = check_finite(w, idx, ".end_time", &f->end_time)) != PP_OK)
			return rc;
		n->end_time = f->end_time.num;
		n->has_end = true;
	}
	else if (f->end_time.type != PP_JSON_ABSENT &&
			 f->end_time.type != PP_JSON_NULL)
		return walker_fail(w, PP_ERR_WRONG_TYPE, parent, ci, ".end_time",
						   "expected a number or null, got %s",
						   pp_json_type_name(f->end_time.type));

	/* duration_ms: absent, null or a number in [0, 1e9] */
	if (f->duration_ms.type == PP_JSON_NUMBER)
	{
		if (!(f->duration_ms.num >= 0 &&
			  f->duration_ms.num <= PP_MAX_DURATION_MS))
			return walker_fail(w, PP_ERR_OUT_OF_RANGE, parent, ci,
							   ".duration_ms",
							   "duration_ms must be between 0 and 1e9, got %g",
							   f->duration_ms.num);
		n->duration_ms = f->duration_ms.num;
	}
	else if (f->duration_ms.type == PP_JSON_ABSENT ||
			 f->duration_ms.type == PP_JSON_NULL)
	{
		if (!n->has_start || !n->has_end)
			return walker_fail(w, PP_ERR_MISSING, parent, ci, ".duration_ms",
							   "duration_ms is required unless start_time and end_time are given");
	}
	else
		return walker_fail(w, PP_ERR_WRONG_TYPE, parent, ci, ".duration_ms",
						   "expected a number or null, got %s",
						   pp_json_type_name(f->duration_ms.type));

	/* end_time >= start_time, and the duration they give */
	if (n->has_start && n->has_end && n->end_time < n->start_time)
		return walker_fail(w, PP_ERR_INVALID_VALUE, parent, ci, ".end_time",
						   "end_time is before start_time");
	if (f->duration_ms.type != PP_JSON_NUMBER)
	{
		double		d = (n->end_time - n->start_time) * 1000.0;

		if (!(d >= 0 && d <= PP_MAX_DURATION_MS))
			return walker_fail(w, PP_ERR_OUT_OF_RANGE, parent, ci, ".end_time",
							   "end_time - start_time gives %g ms, duration_ms must be between 0 and 1e9",
							   d);
		n->duration_ms = d;
	}

	/* metadata: absent, null or an object */
	if (f->metadata.type != PP_JSON_ABSENT &&
		f->metadata.type != PP_JSON_NULL &&
		f->metadata.type != PP_JSON_OBJECT)
		return walker_fail(w, PP_ERR_WRONG_TYPE, parent, ci, ".metadata",
						   "expected an object or null, got %s",
						   pp_json_type_name(f->metadata.type));

	if (f->metadata.type == PP_JSON_OBJECT)
	{
		n->cache = (int8_t) f->cache;
		n->metadata = f->metadata_handle;
	}

	/* error: absent, null or a string */
	if (f->error.type == PP_JSON_STRING)
	{
		n->failed = true;
		n->error = f->error.str;
		n->error_len = f->error.len;
	}
	else if (f->error.type != PP_JSON_ABSENT && f->error.type != PP_JSON_NULL)
		return walker_fail(w, PP_ERR_WRONG_TYPE, parent, ci, ".error",
						   "expected a string or null, got %s",
						   pp_json_type_name(f->error.type));

	/* children: absent, null or an array (its elements are checked later) */
	*n_children = 0;
	if (f->children.type == PP_JSON_ARRAY)
		*n_children = f->children.len;
	else if (f->children.type != PP_JSON_ABSENT &&
			 f->children.type != PP_JSON_NULL)
		return walker_fail(w, PP_ERR_WRONG_TYPE, parent, ci, ".children",
						   "expected an array or null, got %s",
						   pp_json_type_name(f->children.type));
	return PP_OK;
}

/*
 * Visit one node at depth 'depth', child ci of parent (-1 for the root):
 * check it, number it and push a frame for its children.
 */
static pp_error_code_t
walker_visit(pp_walker_t *w, const void *handle, int32_t parent, size_t ci,
			 int depth)
{
	const pp_tree_source_t *src = w->source;
	pp_node_fields_t fields;
	pp_json_type_t type;
	pp_tree_node_t *n;
	pp_frame_t *frame;
	size_t		n_children;
	int32_t		idx;
	pp_error_code_t rc;

	memset(&fields, 0, sizeof(fields));
	type = src->read_node(src->state, handle, &fields);
	if (type != PP_JSON_OBJECT)
		return walker_fail(w, PP_ERR_WRONG_TYPE, parent, ci, "",
						   "expected an object, got %s",
						   pp_json_type_name(type));
	if (depth > w->limits->max_depth)
		return walker_fail(w, PP_ERR_TOO_DEEP, parent, ci, "",
						   "nesting depth exceeds the limit of %d",
						   w->limits->max_depth);
	if (w->n_nodes >= w->limits->max_nodes)
		return walker_fail(w, PP_ERR_TOO_MANY_NODES, parent, ci, "",
						   "more than %d nodes", w->limits->max_nodes);

	/* number the node */
	if (w->n_nodes == w->nodes_cap)
	{
		int64_t		cap = w->nodes_cap ? (int64_t) w->nodes_cap * 2 :
			PP_NODES_INITIAL;

		if (cap > w->limits->max_nodes)
			cap = w->limits->max_nodes;
		if (!walker_grow(w, (void **) &w->nodes, (size_t) w->n_nodes,
						 sizeof(pp_tree_node_t), (size_t) cap))
			return walker_fail(w, PP_ERR_NO_MEMORY, parent, ci, "",
							   "out of memory for %lld nodes",
							   (long long) cap);
		w->nodes_cap = (int32_t) cap;
	}
	idx = w->n_nodes++;
	n = &w->nodes[idx];
	memset(n, 0, sizeof(*n));
	n->parent = parent;
	n->child_index = (int32_t) ci;
	n->depth = depth;
	if (depth > w->max_depth_seen)
		w->max_depth_seen = depth;

	if ((rc = check_fields(w, idx, &fields, &n_children)) != PP_OK)
		return rc;
	/* more children than INT32_MAX would exceed max_nodes first */
	n->n_children = n_children > INT32_MAX ? INT32_MAX : (int32_t) n_children;

	/* open it */
	if (w->depth == w->stack_cap)
	{
		size_t		cap = w->stack_cap ? (size_t) w->stack_cap * 2 :
			PP_STACK_INITIAL;

		if (cap > INT32_MAX ||
			!walker_grow(w, (void **) &w->stack, (size_t) w->depth,
						 sizeof(pp_frame_t), cap))
			return walker_fail(w, PP_ERR_NO_MEMORY, parent, ci, "",
							   "out of memory for %zu levels of nesting",
							   cap);
		w->stack_cap = (int) cap;
	}
	frame = &w->stack[w->depth++];
	frame->handle = handle;
	frame->node = idx;
	frame->n_children = n_children;
	frame->next_child = 0;
	return PP_OK;
}

static int
interval_cmp(const void *a, const void *b)
{
	const pp_interval_t *x = a;
	const pp_interval_t *y = b;

	if (x->start < y->start)
		return -1;
	if (x->start > y->start)
		return 1;
	return 0;
}

/*
 * Second pass: every node's self time (see tree.h).
 */
static pp_error_code_t
walker_self_times(pp_walker_t *w)
{
	pp_tree_node_t *nodes = w->nodes;
	int32_t		n = w->n_nodes;
	int32_t    *offsets;
	pp_interval_t *iv;
	int64_t		off = 0;
	int32_t		i;

	if (n == 1)
	{
		nodes[0].self_ms = nodes[0].duration_ms;
		return PP_OK;
	}

	offsets = pp_alloc(w->allocator, (size_t) n * sizeof(int32_t));
	iv = pp_alloc(w->allocator, (size_t) (n - 1) * sizeof(pp_interval_t));
	if (offsets == NULL || iv == NULL)
	{
		pp_free(w->allocator, offsets);
		pp_free(w->allocator, iv);
		return walker_fail(w, PP_ERR_NO_MEMORY, -1, 0, "",
						   "out of memory computing self times of %d nodes",
						   (int) n);
	}

	/* children of node i go to iv[offsets[i] .. + n_children) */
	for (i = 0; i < n; i++)
	{
		offsets[i] = (int32_t) off;
		off += nodes[i].n_children;
	}
	for (i = 1; i < n; i++)
	{
		const pp_tree_node_t *c = &nodes[i];
		pp_interval_t *v = &iv[offsets[c->parent] + c->child_index];

		v->start = c->start_time;
		v->end = c->end_time;
		v->duration_ms = c->duration_ms;
		v->has_both = c->has_start && c->has_end;
	}

	for (i = 0; i < n; i++)
	{
		pp_tree_node_t *p = &nodes[i];
		pp_interval_t *group = &iv[offsets[i]];
		int32_t		k = p->n_children;
		double		busy_ms = 0;
		bool		all_timed = true;
		int32_t		j;

		for (j = 0; j < k; j++)
		{
			if (!group[j].has_both)
				all_timed = false;
		}

		if (k > 0 && all_timed)
		{
			/* union of [start, end] intervals: sort by start and merge */
			double		cur_start,
						cur_end,
						busy_s = 0;

			qsort(group, (size_t) k, sizeof(pp_interval_t), interval_cmp);
			cur_start = group[0].start;
			cur_end = group[0].end;
			for (j = 1; j < k; j++)
			{
				if (group[j].start > cur_end)
				{
					busy_s += cur_end - cur_start;
					cur_start = group[j].start;
					cur_end = group[j].end;
				}
				else if (group[j].end > cur_end)
					cur_end = group[j].end;
			}
			busy_s += cur_end - cur_start;

			/*
			 * Epoch timestamps in seconds carry about 0.2 us of binary
			 * rounding; report the union to the microsecond so that a
			 * child of 0.6 s covers 600 ms, not 599.99990463.
			 */
			busy_ms = round(busy_s * 1e6) / 1e3;
		}
		else
		{
			for (j = 0; j < k; j++)
				busy_ms += group[j].duration_ms;
		}

		p->self_ms = p->duration_ms - busy_ms;
		if (!(p->self_ms > 0))
			p->self_ms = 0;
	}

	pp_free(w->allocator, offsets);
	pp_free(w->allocator, iv);
	return PP_OK;
}

pp_error_code_t
pp_tree_walk(const pp_tree_source_t *source, const void *root,
			 const pp_tree_limits_t *limits,
			 const pp_allocator_t *allocator,
			 pp_tree_t *tree, pp_error_t *err)
{
	static const pp_tree_limits_t default_limits = {
		PP_TREE_DEFAULT_MAX_DEPTH,
		PP_TREE_DEFAULT_MAX_NODES,
		PP_TREE_DEFAULT_MAX_NAME_LENGTH
	};
	pp_walker_t w;
	pp_error_code_t rc;

	memset(tree, 0, sizeof(*tree));
	memset(&w, 0, sizeof(w));
	w.source = source;
	w.limits = limits ? limits : &default_limits;
	w.allocator = allocator ? allocator : &pp_default_allocator;
	w.err = err;

	rc = walker_visit(&w, root, -1, 0, 1);
	while (rc == PP_OK && w.depth > 0)
	{
		pp_frame_t *top = &w.stack[w.depth - 1];

		if (top->next_child < top->n_children)
		{
			size_t		ci = top->next_child++;
			const void *child = source->child(source->state, top->handle, ci);

			/* may grow (move) the stack: top is not used after this */
			rc = walker_visit(&w, child, top->node, ci, w.depth + 1);
		}
		else
			w.depth--;
	}
	pp_free(w.allocator, w.stack);

	if (rc == PP_OK)
		rc = walker_self_times(&w);
	if (rc != PP_OK)
	{
		pp_free(w.allocator, w.nodes);
		return rc;
	}

	tree->nodes = w.nodes;
	tree->n_nodes = w.n_nodes;
	tree->max_depth_seen = w.max_depth_seen;
	tree->allocator = w.allocator;
	if (err != NULL)
	{
		/* what pp_error_set() would leave, without its formatting */
		err->code = PP_OK;
		err->path[0] = '\0';
		err->text[0] = '\0';
	}
	return PP_OK;
}

size_t
pp_tree_node_path(const pp_tree_t *tree, int32_t i, char *buf, size_t size)
{
	char		seg[32];
	size_t		total = 1;		/* "$" */
	size_t		pos;
	int32_t		j;

	if (tree == NULL || i < 0 || i >= tree->n_nodes)
	{
		if (size > 0)
			buf[0] = '\0';
		return 0;
	}

	/* the full length first */
	for (j = i; j > 0; j = tree->nodes[j].parent)
		total += (size_t) snprintf(seg, sizeof(seg), ".children[%d]",
								   (int) tree->nodes[j].child_index);
	if (size == 0)
		return total;

	/* then each segment, from the leaf back, clipped to size - 1 bytes */
	pos = total;
	for (j = i; j > 0; j = tree->nodes[j].parent)
	{
		size_t		len = (size_t) snprintf(seg, sizeof(seg), ".children[%d]",
											(int) tree->nodes[j].child_index);

		pos -= len;
		if (pos < size - 1)
			memcpy(buf + pos, seg,
				   pos + len <= size - 1 ? len : size - 1 - pos);
	}
	if (size > 1)
		buf[0] = '$';
	buf[total < size - 1 ? total : size - 1] = '\0';
	return total;
}
