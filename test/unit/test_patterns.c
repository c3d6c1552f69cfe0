/*-------------------------------------------------------------------------
 *
 * test/unit/test_patterns.c
 *	  cmocka tests of src/core/patterns.c: repeated same-name siblings
 *	  (n_plus_one) and sequential same-type siblings (parallelizable).
 *
 * Trees are either walked from JSON (single quotes turned into double
 * quotes) through the jansson source of json_source.h, or built by hand
 * (names pointing into one shared buffer without NUL terminators, random
 * shapes, very wide trees).  A node's operation type is the first byte of
 * its name for JSON trees, and a per-node string for hand-built ones.
 * Every call of pp_tree_shapes goes through a counting allocator, so every
 * test also checks that nothing is leaked; random trees are compared with a
 * brute-force O(n^2) reference.
 *
 *-------------------------------------------------------------------------
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "helpers.h"
#include "json_source.h"
#include "patterns.h"
#include "tree.h"

/* ---------------------------------------------------------------------
 * Counting allocator
 * ---------------------------------------------------------------------
 */
typedef struct counting_t
{
	long		fail_after;		/* fail once this many succeeded; -1 never */
	long		allocs;			/* successful allocations */
	long		live;			/* allocated and not yet freed */
} counting_t;

static void *
counting_malloc(size_t size, void *ctx)
{
	counting_t *c = ctx;

	if (c->fail_after >= 0 && c->allocs >= c->fail_after)
		return NULL;
	c->allocs++;
	c->live++;
	return malloc(size);
}

static void
counting_free(void *ptr, void *ctx)
{
	counting_t *c = ctx;

	c->live--;
	free(ptr);
}

static counting_t counts;
static const pp_allocator_t counting = {counting_malloc, counting_free, &counts};

static void
counting_reset(long fail_after)
{
	memset(&counts, 0, sizeof(counts));
	counts.fail_after = fail_after;
}

#define assert_near(a, b) \
	do { \
		double _a = (a), _b = (b); \
		if (!(fabs(_a - _b) <= 1e-9 * (1 + fabs(_b)))) \
			fail_msg("%s = %.17g, expected %.17g", #a, _a, _b); \
	} while (0)

/* ---------------------------------------------------------------------
 * Trees from JSON; the type of a node is the first byte of its name
 * ---------------------------------------------------------------------
 */
static const char *
type_first_byte(void *arg, int32_t i)
{
	static char types[256][2];
	const pp_tree_t *tree = arg;
	unsigned char c = (unsigned char) tree->nodes[i].name[0];

	types[c][0] = (char) c;
	types[c][1] = '\0';
	return types[c];
}

typedef struct json_tree_t
{
	json_t	   *doc;
	pp_tree_t	tree;
	pp_node_shape_t *shapes;
} json_tree_t;

static void
json_tree(const char *squoted, json_tree_t *jt)
{
	char	   *text = strdup(squoted);
	pp_error_t	err;
	pp_error_code_t rc;
	char	   *p;

	assert_non_null(text);
	for (p = text; *p; p++)
		if (*p == '\'')
			*p = '"';
	rc = pp_json_source_walk_text(text, strlen(text), NULL, NULL, &jt->doc,
								  &jt->tree, &err);
	free(text);
	if (rc != PP_OK)
		fail_msg("%s\n  unexpected error %d %s \"%s\"", squoted, (int) rc,
				 err.path, err.text);
	jt->shapes = malloc(sizeof(pp_node_shape_t) * jt->tree.n_nodes);
	assert_non_null(jt->shapes);
	counting_reset(-1);
	assert_int_equal(pp_tree_shapes(&jt->tree, type_first_byte, &jt->tree,
									&counting, jt->shapes), PP_OK);
	assert_int_equal(counts.live, 0);
}

static void
json_tree_free(json_tree_t *jt)
{
	free(jt->shapes);
	tree_release(&jt->tree);
	json_decref(jt->doc);
}

/* The pre-order index of the node whose name is 'name' (must be unique). */
static int32_t
node_named(const pp_tree_t *tree, const char *name)
{
	int32_t		i,
				found = -1;

	for (i = 0; i < tree->n_nodes; i++)
		if (tree->nodes[i].name_len == strlen(name) &&
			memcmp(tree->nodes[i].name, name, tree->nodes[i].name_len) == 0)
		{
			if (found >= 0)
				fail_msg("name %s is not unique", name);
			found = i;
		}
	if (found < 0)
		fail_msg("no node %s", name);
	return found;
}

/* ---------------------------------------------------------------------
 * Hand-built trees
 * ---------------------------------------------------------------------
 */
typedef struct built_t
{
	pp_tree_t	tree;
	int32_t		cap;
	const char **types;
} built_t;

static void
built_init(built_t *b, int32_t cap)
{
	memset(b, 0, sizeof(*b));
	b->cap = cap;
	b->tree.nodes = calloc((size_t) cap, sizeof(pp_tree_node_t));
	b->types = calloc((size_t) cap, sizeof(char *));
	assert_non_null(b->tree.nodes);
	assert_non_null(b->types);
}

static void
built_free(built_t *b)
{
	free(b->tree.nodes);
	free(b->types);
}

/* Add a node; parent -1 for the root.  NaN start or end: absent. */
static int32_t
add_node(built_t *b, int32_t parent, const char *name, size_t len,
		 const char *type, double duration_ms, double start, double end)
{
	int32_t		i = b->tree.n_nodes++;
	pp_tree_node_t *n = &b->tree.nodes[i];

	assert_true(i < b->cap);
	assert_true(parent < i);
	n->name = name;
	n->name_len = len;
	n->duration_ms = duration_ms;
	n->self_ms = duration_ms;
	n->has_start = !isnan(start);
	n->has_end = !isnan(end);
	n->start_time = n->has_start ? start : 0;
	n->end_time = n->has_end ? end : 0;
	n->parent = parent;
	n->depth = parent < 0 ? 1 : b->tree.nodes[parent].depth + 1;
	if (parent >= 0)
		n->child_index = b->tree.nodes[parent].n_children++;
	b->types[i] = type;
	return i;
}

static const char *
type_of_built(void *arg, int32_t i)
{
	return ((const built_t *) arg)->types[i];
}

static pp_error_code_t
built_shapes(const built_t *b, pp_node_shape_t *shapes)
{
	return pp_tree_shapes(&b->tree, type_of_built, (void *) b, &counting, shapes);
}

/* ---------------------------------------------------------------------
 * Brute-force reference, O(n^2)
 * ---------------------------------------------------------------------
 */
static bool
names_equal(const pp_tree_node_t *a, const pp_tree_node_t *b)
{
	return a->name_len == b->name_len &&
		memcmp(a->name, b->name, a->name_len) == 0;
}

/* [s1, e1] and [s2, e2] share more than an instant */
static bool
overlap(const pp_tree_node_t *a, const pp_tree_node_t *b)
{
	return a->start_time < b->end_time && b->start_time < a->end_time;
}

static void
reference_shapes(const pp_tree_t *tree,
				 const char *(*type_of) (void *arg, int32_t i), void *arg,
				 pp_node_shape_t *ref)
{
	int32_t		n = tree->n_nodes;
	int32_t		i,
				j,
				p;

	memset(ref, 0, sizeof(pp_node_shape_t) * n);
	for (i = 1; i < n; i++)
	{
		int32_t		same = 0;
		bool		earlier = false;
		bool		timed = true;
		bool		concurrent = false;

		for (j = 1; j < n; j++)
			if (tree->nodes[j].parent == tree->nodes[i].parent &&
				names_equal(&tree->nodes[i], &tree->nodes[j]))
			{
				int32_t		k;

				same++;
				earlier |= j < i;
				timed &= tree->nodes[j].has_start && tree->nodes[j].has_end;
				/* any two of the group overlapping in time */
				for (k = 1; k < j; k++)
					if (tree->nodes[k].parent == tree->nodes[i].parent &&
						names_equal(&tree->nodes[i], &tree->nodes[k]) &&
						overlap(&tree->nodes[j], &tree->nodes[k]))
						concurrent = true;
			}
		/* a group that ran concurrently is not a loop of calls */
		ref[i].repeated = same >= PP_REPEAT_MIN && !(timed && concurrent);
		ref[i].repeat_first = ref[i].repeated && !earlier;
	}

	/* per parent, per type among its children: sum - max when sequential */
	for (p = 0; p < n; p++)
		for (i = 1; i < n; i++)
		{
			int32_t		members = 0;
			bool		first = true,
						timed = true,
						sequential = true;
			double		sum = 0,
						max = 0;

			if (tree->nodes[i].parent != p)
				continue;
			for (j = 1; j < n; j++)
			{
				const pp_tree_node_t *c = &tree->nodes[j];
				int32_t		k;

				if (c->parent != p || strcmp(type_of(arg, j), type_of(arg, i)) != 0)
					continue;
				if (j < i)
				{
					first = false;	/* the group was counted at its first */
					break;
				}
				members++;
				sum += c->duration_ms;
				max = c->duration_ms > max ? c->duration_ms : max;
				timed &= c->has_start && c->has_end;
				for (k = 1; k < j; k++)
					if (tree->nodes[k].parent == p &&
						strcmp(type_of(arg, k), type_of(arg, j)) == 0 &&
						overlap(&tree->nodes[k], c))
						sequential = false;
			}
			if (first && members >= 2 && timed && sequential)
				ref[p].parallel_saving_ms += sum - max;
		}
}

static void
dump_tree(const pp_tree_t *tree, const char *(*type_of) (void *arg, int32_t i),
		  void *arg)
{
	int32_t		k;

	for (k = 0; k < tree->n_nodes; k++)
	{
		const pp_tree_node_t *n = &tree->nodes[k];

		fprintf(stderr, "  node %d parent %d name %.*s type %s duration %g",
				k, n->parent, (int) n->name_len, n->name, type_of(arg, k),
				n->duration_ms);
		if (n->has_start)
			fprintf(stderr, " start %g", n->start_time);
		if (n->has_end)
			fprintf(stderr, " end %g", n->end_time);
		fprintf(stderr, "\n");
	}
}

static void
check_against_reference(const pp_tree_t *tree,
						const char *(*type_of) (void *arg, int32_t i),
						void *arg, const pp_node_shape_t *shapes)
{
	pp_node_shape_t *ref = malloc(sizeof(pp_node_shape_t) * (tree->n_nodes + 1));
	int32_t		i;

	assert_non_null(ref);
	reference_shapes(tree, type_of, arg, ref);
	for (i = 0; i < tree->n_nodes; i++)
	{
		if (shapes[i].repeated != ref[i].repeated ||
			shapes[i].repeat_first != ref[i].repeat_first ||
			fabs(shapes[i].parallel_saving_ms - ref[i].parallel_saving_ms) > 1e-9)
		{
			dump_tree(tree, type_of, arg);
			fail_msg("node %d (%.*s): repeated %d/%d first %d/%d saving %.17g/%.17g "
					 "(got/expected)", i, (int) tree->nodes[i].name_len,
					 tree->nodes[i].name, shapes[i].repeated, ref[i].repeated,
					 shapes[i].repeat_first, ref[i].repeat_first,
					 shapes[i].parallel_saving_ms, ref[i].parallel_saving_ms);
		}
	}
	free(ref);
}

/* ---------------------------------------------------------------------
 * Tests
 * ---------------------------------------------------------------------
 */

/*
 * Groups of 2, 3 and 5 'x' under different parents, interleaved with other
 * names; x's spread over parents never form a group.
 */
static void
test_repeat_groups(void **state)
{
	json_tree_t jt;
	int32_t		i;
	int32_t		two = -1,
				three = -1,
				five = -1;

	(void) state;
	json_tree("{'operation_name': 'root', 'duration_ms': 100, 'children': ["
			  " {'operation_name': 'two', 'duration_ms': 10, 'children': ["
			  "   {'operation_name': 'x', 'duration_ms': 1},"
			  "   {'operation_name': 'x', 'duration_ms': 1}]},"
			  " {'operation_name': 'three', 'duration_ms': 10, 'children': ["
			  "   {'operation_name': 'y', 'duration_ms': 1},"
			  "   {'operation_name': 'x', 'duration_ms': 1},"
			  "   {'operation_name': 'z', 'duration_ms': 1},"
			  "   {'operation_name': 'x', 'duration_ms': 1},"
			  "   {'operation_name': 'x', 'duration_ms': 1}]},"
			  " {'operation_name': 'five', 'duration_ms': 10, 'children': ["
			  "   {'operation_name': 'x', 'duration_ms': 1, 'children': ["
			  "     {'operation_name': 'conn', 'duration_ms': 1}]},"
			  "   {'operation_name': 'x', 'duration_ms': 1, 'children': ["
			  "     {'operation_name': 'conn', 'duration_ms': 1}]},"
			  "   {'operation_name': 'x', 'duration_ms': 1, 'children': ["
			  "     {'operation_name': 'conn', 'duration_ms': 1}]},"
			  "   {'operation_name': 'x', 'duration_ms': 1},"
			  "   {'operation_name': 'x', 'duration_ms': 1},"
			  "   {'operation_name': 'y', 'duration_ms': 1}]},"
			  " {'operation_name': 'one_a', 'duration_ms': 10, 'children': ["
			  "   {'operation_name': 'x', 'duration_ms': 1},"
			  "   {'operation_name': 'x', 'duration_ms': 1}]},"
			  " {'operation_name': 'one_b', 'duration_ms': 10, 'children': ["
			  "   {'operation_name': 'x', 'duration_ms': 1}]}]}", &jt);

	for (i = 0; i < jt.tree.n_nodes; i++)
	{
		const pp_tree_node_t *n = &jt.tree.nodes[i];
		int32_t		p = n->parent;
		bool		is_x = n->name_len == 1 && n->name[0] == 'x';
		bool		in_group = is_x && p >= 0 &&
			(p == node_named(&jt.tree, "three") || p == node_named(&jt.tree, "five"));

		assert_int_equal(jt.shapes[i].repeated, in_group);
		if (jt.shapes[i].repeat_first)
		{
			assert_true(in_group);
			if (p == node_named(&jt.tree, "three"))
			{
				assert_int_equal(three, -1);
				three = i;
			}
			else
			{
				assert_int_equal(five, -1);
				five = i;
			}
		}
		if (is_x && p == node_named(&jt.tree, "two"))
			two = i;
		/* no leaf and no parent here has sequential timed children */
		assert_true(jt.shapes[i].parallel_saving_ms == 0);
	}
	/* exactly one first per group, and it is the first in document order */
	assert_int_not_equal(two, -1);
	assert_int_equal(three, node_named(&jt.tree, "three") + 2);
	assert_int_equal(five, node_named(&jt.tree, "five") + 1);
	check_against_reference(&jt.tree, type_first_byte, &jt.tree, jt.shapes);
	json_tree_free(&jt);
}

/* Names that share a prefix, not NUL-terminated, differ only in length. */
static void
test_names_by_length(void **state)
{
	static const char buf[] = "abcabcabc";	/* names point into it */
	built_t		b;
	pp_node_shape_t shapes[16];
	int32_t		r,
				i;

	(void) state;

	/* ab, abc, ab, abc, abc, a: only the three abc form a group */
	built_init(&b, 16);
	r = add_node(&b, -1, "root", 4, "r", 10, NAN, NAN);
	add_node(&b, r, buf, 2, "t", 1, NAN, NAN);
	add_node(&b, r, buf, 3, "t", 1, NAN, NAN);
	add_node(&b, r, buf + 3, 2, "t", 1, NAN, NAN);	/* "ab" again, elsewhere */
	add_node(&b, r, buf + 3, 3, "t", 1, NAN, NAN);
	add_node(&b, r, buf + 6, 3, "t", 1, NAN, NAN);
	add_node(&b, r, buf, 1, "t", 1, NAN, NAN);
	counting_reset(-1);
	assert_int_equal(built_shapes(&b, shapes), PP_OK);
	assert_int_equal(counts.live, 0);
	for (i = 1; i < b.tree.n_nodes; i++)
	{
		assert_int_equal(shapes[i].repeated, b.tree.nodes[i].name_len == 3);
		assert_int_equal(shapes[i].repeat_first, i == 2);
	}
	check_against_reference(&b.tree, type_of_built, &b, shapes);
	built_free(&b);

	/* a, ab, abc: one each; merged by prefix they would make a group of 3 */
	built_init(&b, 16);
	r = add_node(&b, -1, "root", 4, "r", 10, NAN, NAN);
	add_node(&b, r, buf, 3, "t", 1, NAN, NAN);
	add_node(&b, r, buf, 2, "t", 1, NAN, NAN);
	add_node(&b, r, buf, 1, "t", 1, NAN, NAN);
	counting_reset(-1);
	assert_int_equal(built_shapes(&b, shapes), PP_OK);
	for (i = 0; i < b.tree.n_nodes; i++)
		assert_false(shapes[i].repeated || shapes[i].repeat_first);
	assert_int_equal(counts.live, 0);
	built_free(&b);

	/* names with embedded NUL bytes compare by all their bytes */
	built_init(&b, 16);
	r = add_node(&b, -1, "root", 4, "r", 10, NAN, NAN);
	add_node(&b, r, "a\0b", 3, "t", 1, NAN, NAN);
	add_node(&b, r, "a\0c", 3, "t", 1, NAN, NAN);
	add_node(&b, r, "a\0b", 3, "t", 1, NAN, NAN);
	add_node(&b, r, "a", 1, "t", 1, NAN, NAN);
	counting_reset(-1);
	assert_int_equal(built_shapes(&b, shapes), PP_OK);
	for (i = 0; i < b.tree.n_nodes; i++)
		assert_false(shapes[i].repeated);
	add_node(&b, r, "a\0bX", 3, "t", 1, NAN, NAN);
	assert_int_equal(built_shapes(&b, shapes), PP_OK);
	assert_true(shapes[1].repeated && shapes[3].repeated && shapes[5].repeated);
	assert_true(shapes[1].repeat_first && !shapes[3].repeat_first);
	assert_false(shapes[2].repeated || shapes[4].repeated);
	assert_int_equal(counts.live, 0);
	built_free(&b);
}

/* Sequential same-type children: the saving is sum - max, on the parent. */
static void
test_parallel_sequential(void **state)
{
	json_tree_t jt;
	int32_t		i;

	(void) state;
	/* vector_search_* are type 'v'; listed out of time order */
	json_tree("{'operation_name': 'retrieve', 'start_time': 0, 'end_time': 4,"
			  " 'children': ["
			  " {'operation_name': 'v3', 'start_time': 3, 'end_time': 3.5, 'duration_ms': 500},"
			  " {'operation_name': 'v1', 'start_time': 0, 'end_time': 1, 'duration_ms': 1000},"
			  " {'operation_name': 'v2', 'start_time': 1, 'end_time': 3, 'duration_ms': 2000}]}",
			  &jt);
	/* 1000 + 2000 + 500 - 2000; touching intervals are sequential */
	assert_near(jt.shapes[0].parallel_saving_ms, 1500);
	for (i = 1; i < jt.tree.n_nodes; i++)
		assert_true(jt.shapes[i].parallel_saving_ms == 0);
	check_against_reference(&jt.tree, type_first_byte, &jt.tree, jt.shapes);
	json_tree_free(&jt);

	/* the saving uses duration_ms, not the interval; nested parents each count */
	json_tree("{'operation_name': 'root', 'start_time': 0, 'end_time': 100,"
			  " 'children': ["
			  " {'operation_name': 'pa', 'start_time': 0, 'end_time': 10, 'children': ["
			  "   {'operation_name': 'q1', 'start_time': 0, 'end_time': 1, 'duration_ms': 700},"
			  "   {'operation_name': 'q2', 'start_time': 2, 'end_time': 3, 'duration_ms': 300}]},"
			  " {'operation_name': 'pb', 'start_time': 10, 'end_time': 20, 'children': ["
			  "   {'operation_name': 'q3', 'start_time': 10, 'end_time': 11},"
			  "   {'operation_name': 'q4', 'start_time': 11, 'end_time': 13},"
			  "   {'operation_name': 'q5', 'start_time': 15, 'end_time': 19}]}]}",
			  &jt);
	/* root: pa [0,10] and pb [10,20] are both type 'p', sequential */
	assert_near(jt.shapes[0].parallel_saving_ms, 10000 + 10000 - 10000);
	assert_near(jt.shapes[node_named(&jt.tree, "pa")].parallel_saving_ms, 300);
	assert_near(jt.shapes[node_named(&jt.tree, "pb")].parallel_saving_ms,
				1000 + 2000 + 4000 - 4000);
	check_against_reference(&jt.tree, type_first_byte, &jt.tree, jt.shapes);
	json_tree_free(&jt);

	/*
	 * a zero-length child at the instant another starts does not overlap
	 * it, whatever the document order (found by test_random_trees: the
	 * answer used to depend on the order)
	 */
	json_tree("{'operation_name': 'r', 'start_time': 0, 'end_time': 9, 'children': ["
			  " {'operation_name': 'v1', 'start_time': 1, 'end_time': 3, 'duration_ms': 2000},"
			  " {'operation_name': 'v2', 'start_time': 1, 'end_time': 1, 'duration_ms': 0.5}]}",
			  &jt);
	assert_near(jt.shapes[0].parallel_saving_ms, 0.5);
	json_tree_free(&jt);
	json_tree("{'operation_name': 'r', 'start_time': 0, 'end_time': 9, 'children': ["
			  " {'operation_name': 'v2', 'start_time': 1, 'end_time': 1, 'duration_ms': 0.5},"
			  " {'operation_name': 'v1', 'start_time': 1, 'end_time': 3, 'duration_ms': 2000}]}",
			  &jt);
	assert_near(jt.shapes[0].parallel_saving_ms, 0.5);
	json_tree_free(&jt);

	/* a single child, or a leaf: nothing */
	json_tree("{'operation_name': 'r', 'start_time': 0, 'end_time': 2, 'children': ["
			  " {'operation_name': 'v', 'start_time': 0, 'end_time': 1}]}", &jt);
	assert_true(jt.shapes[0].parallel_saving_ms == 0);
	assert_true(jt.shapes[1].parallel_saving_ms == 0);
	json_tree_free(&jt);
}

/* Overlapping same-type children save nothing. */
static void
test_parallel_overlap(void **state)
{
	static const char *docs[] = {
		/* plain overlap */
		"{'operation_name': 'r', 'start_time': 0, 'end_time': 5, 'children': ["
		" {'operation_name': 'v1', 'start_time': 0, 'end_time': 2},"
		" {'operation_name': 'v2', 'start_time': 1, 'end_time': 3}]}",
		/* same start */
		"{'operation_name': 'r', 'start_time': 0, 'end_time': 5, 'children': ["
		" {'operation_name': 'v1', 'start_time': 0, 'end_time': 1},"
		" {'operation_name': 'v2', 'start_time': 0, 'end_time': 1}]}",
		/* one long child containing two short sequential ones */
		"{'operation_name': 'r', 'start_time': 0, 'end_time': 20, 'children': ["
		" {'operation_name': 'v1', 'start_time': 1, 'end_time': 2},"
		" {'operation_name': 'v2', 'start_time': 0, 'end_time': 10},"
		" {'operation_name': 'v3', 'start_time': 5, 'end_time': 6}]}",
		/* four children, the last two overlap: the whole group saves nothing */
		"{'operation_name': 'r', 'start_time': 0, 'end_time': 20, 'children': ["
		" {'operation_name': 'v1', 'start_time': 0, 'end_time': 1},"
		" {'operation_name': 'v2', 'start_time': 1, 'end_time': 2},"
		" {'operation_name': 'v3', 'start_time': 2, 'end_time': 4},"
		" {'operation_name': 'v4', 'start_time': 3.999999, 'end_time': 5}]}",
	};
	size_t		d;

	(void) state;
	for (d = 0; d < sizeof(docs) / sizeof(docs[0]); d++)
	{
		json_tree_t jt;
		int32_t		i;

		json_tree(docs[d], &jt);
		for (i = 0; i < jt.tree.n_nodes; i++)
			if (jt.shapes[i].parallel_saving_ms != 0)
				fail_msg("document %zu node %d: saving %g", d, i,
						 jt.shapes[i].parallel_saving_ms);
		check_against_reference(&jt.tree, type_first_byte, &jt.tree, jt.shapes);
		json_tree_free(&jt);
	}
}

/* Children of different types are a pipeline: no saving across types. */
static void
test_parallel_mixed_types(void **state)
{
	json_tree_t jt;

	(void) state;
	/* embed, search, generate: sequential but each of its own type */
	json_tree("{'operation_name': 'rag', 'start_time': 0, 'end_time': 3, 'children': ["
			  " {'operation_name': 'embed', 'start_time': 0, 'end_time': 1},"
			  " {'operation_name': 'search', 'start_time': 1, 'end_time': 2},"
			  " {'operation_name': 'generate', 'start_time': 2, 'end_time': 3}]}",
			  &jt);
	assert_true(jt.shapes[0].parallel_saving_ms == 0);
	json_tree_free(&jt);

	/* v, k, v, k interleaved: each type's own run counts */
	json_tree("{'operation_name': 'r', 'start_time': 0, 'end_time': 4, 'children': ["
			  " {'operation_name': 'v1', 'start_time': 0, 'end_time': 1, 'duration_ms': 1000},"
			  " {'operation_name': 'k1', 'start_time': 1, 'end_time': 2, 'duration_ms': 500},"
			  " {'operation_name': 'v2', 'start_time': 2, 'end_time': 3, 'duration_ms': 1000},"
			  " {'operation_name': 'k2', 'start_time': 3, 'end_time': 4, 'duration_ms': 700}]}",
			  &jt);
	assert_near(jt.shapes[0].parallel_saving_ms, 1000 + 500);
	check_against_reference(&jt.tree, type_first_byte, &jt.tree, jt.shapes);
	json_tree_free(&jt);

	/* v sequential, k overlapping (a k overlaps a v: irrelevant across types) */
	json_tree("{'operation_name': 'r', 'start_time': 0, 'end_time': 4, 'children': ["
			  " {'operation_name': 'v1', 'start_time': 0, 'end_time': 1, 'duration_ms': 1000},"
			  " {'operation_name': 'v2', 'start_time': 1, 'end_time': 2, 'duration_ms': 400},"
			  " {'operation_name': 'k1', 'start_time': 0.5, 'end_time': 3, 'duration_ms': 2500},"
			  " {'operation_name': 'k2', 'start_time': 2, 'end_time': 4, 'duration_ms': 2000}]}",
			  &jt);
	assert_near(jt.shapes[0].parallel_saving_ms, 400);
	check_against_reference(&jt.tree, type_first_byte, &jt.tree, jt.shapes);
	json_tree_free(&jt);
}

/* A same-type group with an untimed member saves nothing. */
static void
test_parallel_untimed(void **state)
{
	static const char *docs[] = {
		/* no times at all */
		"{'operation_name': 'r', 'duration_ms': 10, 'children': ["
		" {'operation_name': 'v1', 'duration_ms': 3},"
		" {'operation_name': 'v2', 'duration_ms': 4}]}",
		/* one without end_time */
		"{'operation_name': 'r', 'duration_ms': 10, 'children': ["
		" {'operation_name': 'v1', 'start_time': 0, 'end_time': 1},"
		" {'operation_name': 'v2', 'start_time': 1, 'duration_ms': 4},"
		" {'operation_name': 'v3', 'start_time': 5, 'end_time': 6}]}",
		/* one without start_time */
		"{'operation_name': 'r', 'duration_ms': 10, 'children': ["
		" {'operation_name': 'v1', 'start_time': 0, 'end_time': 1},"
		" {'operation_name': 'v2', 'end_time': 3, 'duration_ms': 2}]}",
		/* end_time null */
		"{'operation_name': 'r', 'duration_ms': 10, 'children': ["
		" {'operation_name': 'v1', 'start_time': 0, 'end_time': 1},"
		" {'operation_name': 'v2', 'start_time': 2, 'end_time': null, 'duration_ms': 2}]}",
	};
	size_t		d;
	json_tree_t jt;

	(void) state;
	for (d = 0; d < sizeof(docs) / sizeof(docs[0]); d++)
	{
		json_tree(docs[d], &jt);
		if (jt.shapes[0].parallel_saving_ms != 0)
			fail_msg("document %zu: saving %g", d, jt.shapes[0].parallel_saving_ms);
		check_against_reference(&jt.tree, type_first_byte, &jt.tree, jt.shapes);
		json_tree_free(&jt);
	}

	/* an untimed group does not spoil a timed group of another type */
	json_tree("{'operation_name': 'r', 'duration_ms': 10, 'children': ["
			  " {'operation_name': 'v1', 'duration_ms': 3},"
			  " {'operation_name': 'v2', 'duration_ms': 4},"
			  " {'operation_name': 'k1', 'start_time': 0, 'end_time': 1},"
			  " {'operation_name': 'k2', 'start_time': 1, 'end_time': 1.25}]}", &jt);
	assert_near(jt.shapes[0].parallel_saving_ms, 250);
	json_tree_free(&jt);
}

/*
 * Random trees against the brute-force reference: few names and types so
 * that groups form, times on a coarse grid so that intervals touch, share
 * starts or have zero length, some children untimed.
 */
static uint64_t rng_state = 88172645463325252ULL;

static uint64_t
rng_next(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static void
test_random_trees(void **state)
{
	static const char names[] = "aaaabbbb";
	static const char *types[] = {"t1", "t2", "t3"};
	int			iter;

	(void) state;
	for (iter = 0; iter < 3000; iter++)
	{
		built_t		b;
		int32_t		n = 1 + (int32_t) (rng_next() % 40);
		int32_t		i;
		pp_node_shape_t *shapes;

		built_init(&b, n);
		shapes = malloc(sizeof(pp_node_shape_t) * n);
		assert_non_null(shapes);
		add_node(&b, -1, "root", 4, "r", 100, 0, 100);
		for (i = 1; i < n; i++)
		{
			/* parents among the first few nodes make wide sibling groups */
			int32_t		parent = (int32_t) (rng_next() % (uint64_t) (i < 4 ? i : 4));
			size_t		off = (rng_next() % 2) * 4;
			size_t		len = 1 + rng_next() % 3;
			double		start = (double) (rng_next() % 6);
			double		end = start + (double) (rng_next() % 3);
			double		duration = (double) (1 + rng_next() % 50);
			uint64_t	timing = rng_next() % 8;

			add_node(&b, parent, names + off, len, types[rng_next() % 3], duration,
					 timing == 0 ? NAN : start, timing == 1 ? NAN : end);
		}
		counting_reset(-1);
		assert_int_equal(built_shapes(&b, shapes), PP_OK);
		assert_int_equal(counts.live, 0);
		check_against_reference(&b.tree, type_of_built, &b, shapes);
		free(shapes);
		built_free(&b);
	}
}

/* Fail the N-th allocation for every N: no leak, PP_ERR_NO_MEMORY. */
static void
test_allocation_failure(void **state)
{
	json_tree_t jt;
	pp_node_shape_t *shapes;
	pp_node_shape_t one;
	long		n;
	int32_t		i;

	(void) state;
	json_tree("{'operation_name': 'r', 'start_time': 0, 'end_time': 9, 'children': ["
			  " {'operation_name': 'x', 'start_time': 0, 'end_time': 1},"
			  " {'operation_name': 'x', 'start_time': 1, 'end_time': 2},"
			  " {'operation_name': 'x', 'start_time': 2, 'end_time': 3}]}", &jt);
	shapes = malloc(sizeof(pp_node_shape_t) * jt.tree.n_nodes);
	assert_non_null(shapes);
	for (n = 0;; n++)
	{
		pp_error_code_t rc;

		memset(shapes, 0xAB, sizeof(pp_node_shape_t) * jt.tree.n_nodes);
		counting_reset(n);
		rc = pp_tree_shapes(&jt.tree, type_first_byte, &jt.tree, &counting, shapes);
		assert_int_equal(counts.live, 0);
		if (rc == PP_OK)
			break;
		assert_int_equal(rc, PP_ERR_NO_MEMORY);
		/* nothing half-done: every shape is cleared */
		for (i = 0; i < jt.tree.n_nodes; i++)
			assert_true(!shapes[i].repeated && !shapes[i].repeat_first &&
						shapes[i].parallel_saving_ms == 0);
	}
	assert_true(n >= 3);		/* three arrays */
	assert_true(shapes[1].repeated && shapes[1].repeat_first);
	assert_near(shapes[0].parallel_saving_ms, 2000);
	free(shapes);
	json_tree_free(&jt);

	/* a single node needs no memory at all */
	json_tree("{'operation_name': 'r', 'duration_ms': 1}", &jt);
	counting_reset(0);
	assert_int_equal(pp_tree_shapes(&jt.tree, type_first_byte, &jt.tree,
									&counting, &one), PP_OK);
	assert_int_equal(counts.allocs, 0);
	assert_false(one.repeated);
	json_tree_free(&jt);
}

/* Time the shapes of a root with n children, best of 3, in seconds. */
static double
time_wide(int32_t n, int32_t distinct_names, double *saving, int32_t *firsts)
{
	static char names[1000][16];
	built_t		b;
	pp_node_shape_t *shapes;
	double		best = INFINITY;
	double		sum = 0,
				max = 0;
	int			run;
	int32_t		i;

	for (i = 0; i < 1000; i++)
		snprintf(names[i], sizeof(names[i]), "n%03d", (int) i);
	built_init(&b, n + 1);
	shapes = malloc(sizeof(pp_node_shape_t) * (n + 1));
	assert_non_null(shapes);
	add_node(&b, -1, "root", 4, "r", 1e6, 0, 1e6);
	for (i = 0; i < n; i++)
	{
		/* listed newest first, so the sort has work to do */
		double		start = (double) (n - 1 - i);
		double		d = (double) (1 + (i * 7919) % 1000);

		add_node(&b, 0, names[(i * 31) % distinct_names], 4, "t", d,
				 start, start + 0.5);
		sum += d;
		max = d > max ? d : max;
	}
	for (run = 0; run < 3; run++)
	{
		struct timespec t0,
					t1;
		double		s;

		counting_reset(-1);
		clock_gettime(CLOCK_MONOTONIC, &t0);
		assert_int_equal(built_shapes(&b, shapes), PP_OK);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		assert_int_equal(counts.live, 0);
		s = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
		best = s < best ? s : best;
	}
	*saving = shapes[0].parallel_saving_ms;
	assert_near(*saving, sum - max);
	*firsts = 0;
	for (i = 1; i <= n; i++)
	{
		assert_true(shapes[i].repeated == (n / distinct_names >= PP_REPEAT_MIN));
		*firsts += shapes[i].repeat_first;
	}
	free(shapes);
	built_free(&b);
	return best;
}

static void
test_wide_tree(void **state)
{
	double		saving;
	int32_t		firsts;
	double		t10k,
				t100k,
				t_one;

	(void) state;
	/* 10,000 children: 100 names x 100 calls, all one type, sequential */
	t10k = time_wide(10000, 100, &saving, &firsts);
	assert_int_equal(firsts, 100);
	/* one name for all */
	t_one = time_wide(10000, 1, &saving, &firsts);
	assert_int_equal(firsts, 1);
	/* ten times wider: n log n grows ~12.5x, n^2 would grow 100x */
	t100k = time_wide(100000, 1000, &saving, &firsts);
	assert_int_equal(firsts, 1000);
	print_message("wide tree: 10,000 children %.2f ms (one name %.2f ms), "
				  "100,000 children %.2f ms\n", t10k * 1e3, t_one * 1e3, t100k * 1e3);
	/* the times are printed, not asserted: the machines are shared */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_repeat_groups),
		cmocka_unit_test(test_names_by_length),
		cmocka_unit_test(test_parallel_sequential),
		cmocka_unit_test(test_parallel_overlap),
		cmocka_unit_test(test_parallel_mixed_types),
		cmocka_unit_test(test_parallel_untimed),
		cmocka_unit_test(test_random_trees),
		cmocka_unit_test(test_allocation_failure),
		cmocka_unit_test(test_wide_tree),
	};

	return cmocka_run_group_tests_name("patterns", tests, NULL, NULL);
}
