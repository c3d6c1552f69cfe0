/*-------------------------------------------------------------------------
 *
 * test/unit/test_tree.c
 *	  cmocka tests of src/core/tree.c: validation, numbering, self times,
 *	  paths, limits and allocation failure.
 *
 * Documents are written in JSON with single quotes (turned into double
 * quotes before parsing) and read through the jansson source of
 * json_source.h.  Two other sources fake what jansson cannot hold: a
 * wrapping source that replaces one number by a non-finite one, and a
 * synthetic source whose nodes are computed from their index (a chain of
 * any depth, or a root with a million children) without a document.
 * Every walk goes through a counting allocator, so every test also checks
 * that nothing is leaked; the allocation failure test makes it fail after
 * N allocations for every N until the walk succeeds.
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

#include "helpers.h"
#include "json_source.h"
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
	size_t		largest;		/* largest single request, bytes */
} counting_t;

static void *
counting_malloc(size_t size, void *ctx)
{
	counting_t *c = ctx;

	if (c->fail_after >= 0 && c->allocs >= c->fail_after)
		return NULL;
	c->allocs++;
	c->live++;
	if (size > c->largest)
		c->largest = size;
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

static const pp_tree_limits_t limits = {100, 10000, 200};

/* ---------------------------------------------------------------------
 * Helpers
 * ---------------------------------------------------------------------
 */

/* Walk a JSON text written with single quotes. */
static pp_error_code_t
walk_json(const char *squoted, const pp_tree_limits_t *lim, json_t **doc,
		  pp_tree_t *tree, pp_error_t *err)
{
	char	   *text = strdup(squoted);
	pp_error_code_t rc;
	char	   *p;

	assert_non_null(text);
	for (p = text; *p; p++)
		if (*p == '\'')
			*p = '"';
	counting_reset(-1);
	rc = pp_json_source_walk_text(text, strlen(text), lim, &counting, doc,
								  tree, err);
	free(text);
	assert_non_null(*doc);		/* the test documents are all valid JSON */
	return rc;
}

static bool
tree_is_zero(const pp_tree_t *tree)
{
	return tree->nodes == NULL && tree->n_nodes == 0 &&
		tree->max_depth_seen == 0 && tree->allocator == NULL;
}

/* Walk and expect an error: code, exact path, a substring of the text. */
static void
check_error_lim(const char *json, const pp_tree_limits_t *lim,
				pp_error_code_t code, const char *path, const char *text)
{
	json_t	   *doc;
	pp_tree_t	tree;
	pp_error_t	err;
	pp_error_code_t rc;

	rc = walk_json(json, lim, &doc, &tree, &err);
	if (rc != code || err.code != code || strcmp(err.path, path) != 0 ||
		strstr(err.text, text) == NULL)
		fail_msg("%s\n  expected %d %s \"%s\"\n  got      %d %s \"%s\"",
				 json, (int) code, path, text, (int) rc, err.path, err.text);
	assert_true(tree_is_zero(&tree));
	assert_int_equal(counts.live, 0);

	/* the same walk without an error struct */
	tree_release(&tree);
	counting_reset(-1);
	{
		pp_tree_source_t src = pp_json_source();

		assert_int_equal(pp_tree_walk(&src, doc, lim, &counting, &tree, NULL),
						 code);
	}
	assert_int_equal(counts.live, 0);
	json_decref(doc);
}

static void
check_error(const char *json, pp_error_code_t code, const char *path,
			const char *text)
{
	check_error_lim(json, &limits, code, path, text);
}

/* Walk a document that must be valid. */
static void
walk_ok(const char *json, const pp_tree_limits_t *lim, json_t **doc,
		pp_tree_t *tree)
{
	pp_error_t	err;
	pp_error_code_t rc = walk_json(json, lim, doc, tree, &err);

	if (rc != PP_OK)
		fail_msg("%s\n  unexpected error %d %s \"%s\"", json, (int) rc,
				 err.path, err.text);
	assert_int_equal(err.code, PP_OK);
}

static void
done(json_t *doc, pp_tree_t *tree)
{
	tree_release(tree);
	assert_true(tree_is_zero(tree));
	assert_int_equal(counts.live, 0);
	json_decref(doc);
}

#define assert_near(a, b) \
	do { \
		double _a = (a), _b = (b); \
		if (!(fabs(_a - _b) <= 1e-9 * (1 + fabs(_b)))) \
			fail_msg("%s = %.17g, expected %.17g", #a, _a, _b); \
	} while (0)

/* ---------------------------------------------------------------------
 * A source that replaces one number of one node (non-finite values)
 * ---------------------------------------------------------------------
 */
typedef struct override_t
{
	pp_tree_source_t inner;
	const void *target;
	size_t		field_offset;	/* offsetof(pp_node_fields_t, ...) */
	double		num;
} override_t;

static pp_json_type_t
override_read_node(void *state, const void *node, pp_node_fields_t *fields)
{
	override_t *o = state;
	pp_json_type_t type = o->inner.read_node(o->inner.state, node, fields);

	if (node == o->target)
	{
		pp_field_t *f = (pp_field_t *) ((char *) fields + o->field_offset);

		f->type = PP_JSON_NUMBER;
		f->num = o->num;
	}
	return type;
}

static const void *
override_child(void *state, const void *node, size_t i)
{
	override_t *o = state;

	return o->inner.child(o->inner.state, node, i);
}

/* Walk json with field (of the node at JSON pointer 'where') set to num. */
static void
check_override(const char *json, const char *where, size_t field_offset,
			   double num, pp_error_code_t code, const char *path,
			   const char *text)
{
	override_t	o;
	pp_tree_source_t src;
	json_t	   *doc;
	json_t	   *target;
	pp_tree_t	tree;
	pp_error_t	err;
	pp_error_code_t rc;
	char	   *dq = strdup(json);
	char	   *p;

	for (p = dq; *p; p++)
		if (*p == '\'')
			*p = '"';
	doc = json_loads(dq, 0, NULL);
	free(dq);
	assert_non_null(doc);
	target = doc;
	/* where: a list of child indexes, e.g. "1.0" */
	for (p = (char *) where; *p; p++)
	{
		if (*p == '.')
			continue;
		target = json_array_get(json_object_get(target, "children"),
								(size_t) (*p - '0'));
		assert_non_null(target);
	}

	o.inner = pp_json_source();
	o.target = target;
	o.field_offset = field_offset;
	o.num = num;
	src.read_node = override_read_node;
	src.child = override_child;
	src.state = &o;

	counting_reset(-1);
	rc = pp_tree_walk(&src, doc, &limits, &counting, &tree, &err);
	if (rc != code || err.code != code || strcmp(err.path, path) != 0 ||
		strstr(err.text, text) == NULL)
		fail_msg("%s (%g)\n  expected %d %s \"%s\"\n  got      %d %s \"%s\"",
				 json, num, (int) code, path, text, (int) rc, err.path,
				 err.text);
	assert_true(tree_is_zero(&tree));
	assert_int_equal(counts.live, 0);
	json_decref(doc);
}

/* ---------------------------------------------------------------------
 * A synthetic source: a chain of 'depth' nodes, or a root with 'width'
 * leaves.  Handles point into a byte array, one byte per node.
 * ---------------------------------------------------------------------
 */
typedef struct synth_t
{
	char	   *base;			/* n bytes; node k is base + k */
	size_t		n;
	bool		chain;			/* else wide */
	size_t		bad;			/* node whose duration_ms is a string; or n */
} synth_t;

static pp_json_type_t
synth_read_node(void *state, const void *node, pp_node_fields_t *f)
{
	synth_t    *s = state;
	size_t		k = (size_t) ((const char *) node - s->base);

	assert_true(k < s->n);
	f->operation_name.type = PP_JSON_STRING;
	f->operation_name.str = k == 0 ? "root" : "node";
	f->operation_name.len = 4;
	if (s->chain)
	{
		f->duration_ms.type = PP_JSON_NUMBER;
		f->duration_ms.num = (double) (s->n - k);
		if (k + 1 < s->n)
		{
			f->children.type = PP_JSON_ARRAY;
			f->children.len = 1;
		}
	}
	else if (k == 0)
	{
		f->duration_ms.type = PP_JSON_NUMBER;
		f->duration_ms.num = (double) (s->n - 1);
		f->children.type = PP_JSON_ARRAY;
		f->children.len = s->n - 1;
	}
	else
	{
		/* leaf k runs 0.5 ms from k ms on, listed in reverse time order */
		f->start_time.type = PP_JSON_NUMBER;
		f->start_time.num = (double) (s->n - k) / 1000.0;
		f->end_time.type = PP_JSON_NUMBER;
		f->end_time.num = f->start_time.num + 0.0005;
	}
	if (k == s->bad)
	{
		f->duration_ms.type = PP_JSON_STRING;
		f->duration_ms.str = "x";
		f->duration_ms.len = 1;
	}
	return PP_JSON_OBJECT;
}

static const void *
synth_child(void *state, const void *node, size_t i)
{
	synth_t    *s = state;

	if (s->chain)
		return (const char *) node + 1;
	return s->base + 1 + i;
}

static pp_tree_source_t
synth_source(synth_t *s, size_t n, bool chain)
{
	pp_tree_source_t src;

	s->base = calloc(n, 1);
	assert_non_null(s->base);
	s->n = n;
	s->chain = chain;
	s->bad = n;
	src.read_node = synth_read_node;
	src.child = synth_child;
	src.state = s;
	return src;
}

/*
 * A jansson chain of depth nodes, built from the leaf up; each node lasts
 * one millisecond longer than its child, so every self time is 1.
 */
static json_t *
deep_json(size_t depth)
{
	json_t	   *node = NULL;
	size_t		d;

	for (d = depth; d >= 1; d--)
	{
		json_t	   *obj = json_object();

		json_object_set_new(obj, "operation_name", json_string("deep"));
		json_object_set_new(obj, "duration_ms",
							json_real((double) (depth - d + 1)));
		if (node != NULL)
		{
			json_t	   *children = json_array();

			json_array_append_new(children, node);
			json_object_set_new(obj, "children", children);
		}
		node = obj;
	}
	return node;
}

/* ---------------------------------------------------------------------
 * Tests
 * ---------------------------------------------------------------------
 */
static void
test_type_names(void **state)
{
	(void) state;
	assert_string_equal(pp_json_type_name(PP_JSON_ABSENT), "nothing");
	assert_string_equal(pp_json_type_name(PP_JSON_NULL), "null");
	assert_string_equal(pp_json_type_name(PP_JSON_BOOL), "boolean");
	assert_string_equal(pp_json_type_name(PP_JSON_NUMBER), "number");
	assert_string_equal(pp_json_type_name(PP_JSON_STRING), "string");
	assert_string_equal(pp_json_type_name(PP_JSON_ARRAY), "array");
	assert_string_equal(pp_json_type_name(PP_JSON_OBJECT), "object");
	assert_string_equal(pp_json_type_name((pp_json_type_t) 99), "unknown");
}

static void
test_single_node(void **state)
{
	json_t	   *doc;
	pp_tree_t	tree;
	const pp_tree_node_t *n;

	(void) state;
	walk_ok("{'operation_name':'root','duration_ms':12.5,'metadata':{'a':1},"
			"'error':null,'children':[],'other_key':[1,2]}",
			&limits, &doc, &tree);
	assert_int_equal(tree.n_nodes, 1);
	assert_int_equal(tree.max_depth_seen, 1);
	assert_ptr_equal(tree.allocator, &counting);
	n = &tree.nodes[0];
	assert_int_equal(n->name_len, 4);
	assert_memory_equal(n->name, "root", 4);
	assert_near(n->duration_ms, 12.5);
	assert_near(n->self_ms, 12.5);
	assert_false(n->has_start);
	assert_false(n->has_end);
	assert_false(n->failed);
	assert_null(n->error);
	assert_int_equal(n->depth, 1);
	assert_int_equal(n->parent, -1);
	assert_int_equal(n->child_index, 0);
	assert_int_equal(n->n_children, 0);
	done(doc, &tree);

	/* duration from start and end; a failed node; null metadata/children */
	walk_ok("{'operation_name':'r','start_time':100,'end_time':100.25,"
			"'metadata':null,'children':null,'error':'boom'}",
			&limits, &doc, &tree);
	n = &tree.nodes[0];
	assert_true(n->has_start);
	assert_true(n->has_end);
	assert_near(n->start_time, 100);
	assert_near(n->end_time, 100.25);
	assert_near(n->duration_ms, 250);
	assert_near(n->self_ms, 250);
	assert_true(n->failed);
	assert_int_equal(n->error_len, 4);
	assert_memory_equal(n->error, "boom", 4);
	done(doc, &tree);

	/* duration_ms wins over the times; null end_time is allowed */
	walk_ok("{'operation_name':'r','start_time':1,'end_time':2,'duration_ms':7}",
			&limits, &doc, &tree);
	assert_near(tree.nodes[0].duration_ms, 7);
	done(doc, &tree);
	walk_ok("{'operation_name':'r','start_time':1,'end_time':null,'duration_ms':0}",
			&limits, &doc, &tree);
	assert_true(tree.nodes[0].has_start);
	assert_false(tree.nodes[0].has_end);
	assert_near(tree.nodes[0].duration_ms, 0);
	done(doc, &tree);

	/* the bounds themselves are accepted */
	walk_ok("{'operation_name':'r','duration_ms':1e9}", &limits, &doc, &tree);
	done(doc, &tree);
	walk_ok("{'operation_name':'r','start_time':0,'end_time':1e6}",
			&limits, &doc, &tree);
	assert_near(tree.nodes[0].duration_ms, 1e9);
	done(doc, &tree);
	walk_ok("{'operation_name':'r','start_time':-5,'end_time':-5}",
			&limits, &doc, &tree);
	assert_near(tree.nodes[0].duration_ms, 0);
	done(doc, &tree);

	/* NULL limits mean the defaults */
	{
		pp_tree_source_t src = pp_json_source();
		pp_error_t	err;

		doc = deep_json(PP_TREE_DEFAULT_MAX_DEPTH);
		assert_int_equal(pp_tree_walk(&src, doc, NULL, NULL, &tree, &err),
						 PP_OK);
		assert_ptr_equal(tree.allocator, &pp_default_allocator);
		assert_int_equal(tree.n_nodes, PP_TREE_DEFAULT_MAX_DEPTH);
		tree_release(&tree);
		json_decref(doc);
		doc = deep_json(PP_TREE_DEFAULT_MAX_DEPTH + 1);
		assert_int_equal(pp_tree_walk(&src, doc, NULL, NULL, &tree, &err),
						 PP_ERR_TOO_DEEP);
		assert_true(tree_is_zero(&tree));
		json_decref(doc);
	}
}

static void
test_preorder(void **state)
{
	/* A{B{D,E},C{F}} -> A B D E C F */
	static const char *json =
		"{'operation_name':'A','duration_ms':100,'children':["
		"  {'operation_name':'B','duration_ms':40,'children':["
		"    {'operation_name':'D','duration_ms':10},"
		"    {'operation_name':'E','duration_ms':5,'error':'x'}]},"
		"  {'operation_name':'C','duration_ms':30,'children':["
		"    {'operation_name':'F','duration_ms':1}]}]}";
	static const char names[] = "ABDECF";
	static const int32_t parent[] = {-1, 0, 1, 1, 0, 4};
	static const int32_t child_index[] = {0, 0, 0, 1, 1, 0};
	static const int32_t n_children[] = {2, 2, 0, 0, 1, 0};
	static const int depth[] = {1, 2, 3, 3, 2, 3};
	static const char *paths[] = {
		"$", "$.children[0]", "$.children[0].children[0]",
		"$.children[0].children[1]", "$.children[1]",
		"$.children[1].children[0]"
	};
	json_t	   *doc;
	pp_tree_t	tree;
	int32_t		i;

	(void) state;
	walk_ok(json, &limits, &doc, &tree);
	assert_int_equal(tree.n_nodes, 6);
	assert_int_equal(tree.max_depth_seen, 3);
	for (i = 0; i < 6; i++)
	{
		const pp_tree_node_t *n = &tree.nodes[i];
		char		buf[64];

		assert_int_equal(n->name_len, 1);
		assert_int_equal(n->name[0], names[i]);
		assert_int_equal(n->parent, parent[i]);
		assert_int_equal(n->child_index, child_index[i]);
		assert_int_equal(n->n_children, n_children[i]);
		assert_int_equal(n->depth, depth[i]);
		assert_int_equal(n->failed, i == 3);
		assert_int_equal(pp_tree_node_path(&tree, i, buf, sizeof(buf)),
						 strlen(paths[i]));
		assert_string_equal(buf, paths[i]);
	}
	/* no times: the children's durations are subtracted */
	assert_near(tree.nodes[0].self_ms, 30);
	assert_near(tree.nodes[1].self_ms, 25);
	assert_near(tree.nodes[4].self_ms, 29);
	assert_near(tree.nodes[5].self_ms, 1);
	done(doc, &tree);
}

static void
test_node_path_truncation(void **state)
{
	static const char *full = "$.children[1].children[0]";
	json_t	   *doc;
	pp_tree_t	tree;
	char		buf[64];
	size_t		size;

	(void) state;
	walk_ok("{'operation_name':'A','duration_ms':1,'children':["
			"{'operation_name':'B','duration_ms':1},"
			"{'operation_name':'C','duration_ms':1,'children':["
			"{'operation_name':'D','duration_ms':1}]}]}",
			&limits, &doc, &tree);
	assert_int_equal(tree.n_nodes, 4);

	/* every buffer size behaves like snprintf */
	for (size = 0; size <= strlen(full) + 2; size++)
	{
		char		expect[64];

		memset(buf, 'Z', sizeof(buf));
		assert_int_equal(pp_tree_node_path(&tree, 3, buf, size), strlen(full));
		if (size == 0)
		{
			assert_int_equal(buf[0], 'Z');
			continue;
		}
		snprintf(expect, size, "%s", full);
		assert_string_equal(buf, expect);
		assert_int_equal(buf[size], 'Z');	/* nothing written past size */
	}

	/* out of range */
	strcpy(buf, "junk");
	assert_int_equal(pp_tree_node_path(&tree, 4, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "");
	strcpy(buf, "junk");
	assert_int_equal(pp_tree_node_path(&tree, -1, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "");
	assert_int_equal(pp_tree_node_path(NULL, 0, buf, sizeof(buf)), 0);
	done(doc, &tree);
}

static void
test_node_errors(void **state)
{
	(void) state;

	/* the root and every child are objects */
	check_error("[]", PP_ERR_WRONG_TYPE, "$", "expected an object, got array");
	check_error("'x'", PP_ERR_WRONG_TYPE, "$", "expected an object, got string");
	check_error("null", PP_ERR_WRONG_TYPE, "$", "expected an object, got null");
	check_error("{'operation_name':'r','duration_ms':1,'children':["
				"{'operation_name':'a','duration_ms':1},"
				"{'operation_name':'b','duration_ms':1},5]}",
				PP_ERR_WRONG_TYPE, "$.children[2]",
				"expected an object, got number");
	check_error("{'operation_name':'r','duration_ms':1,'children':["
				"{'operation_name':'a','duration_ms':1,'children':[true]}]}",
				PP_ERR_WRONG_TYPE, "$.children[0].children[0]",
				"expected an object, got boolean");
	check_error("{'operation_name':'r','duration_ms':1,'children':[[]]}",
				PP_ERR_WRONG_TYPE, "$.children[0]",
				"expected an object, got array");
}

static void
test_field_errors(void **state)
{
	(void) state;

	/* operation_name */
	check_error("{'duration_ms':1}", PP_ERR_MISSING, "$.operation_name",
				"expected a non-empty string, got nothing");
	check_error("{'operation_name':3,'duration_ms':1}", PP_ERR_WRONG_TYPE,
				"$.operation_name", "expected a non-empty string, got number");
	check_error("{'operation_name':null,'duration_ms':1}", PP_ERR_WRONG_TYPE,
				"$.operation_name", "expected a non-empty string, got null");
	check_error("{'operation_name':'','duration_ms':1}", PP_ERR_INVALID_VALUE,
				"$.operation_name", "expected a non-empty string");
	{
		char		json[512];
		char		name[251];

		memset(name, 'n', 250);
		name[250] = '\0';
		snprintf(json, sizeof(json),
				 "{'operation_name':'%s','duration_ms':1}", name);
		check_error(json, PP_ERR_NAME_TOO_LONG, "$.operation_name",
					"operation_name is 250 bytes long, the limit is 200");

		/* 200 bytes is fine; the limit counts bytes, not characters */
		name[200] = '\0';
		snprintf(json, sizeof(json),
				 "{'operation_name':'%s','duration_ms':1}", name);
		{
			json_t	   *doc;
			pp_tree_t	tree;

			walk_ok(json, &limits, &doc, &tree);
			done(doc, &tree);
		}
		/* 67 three-byte characters = 201 bytes */
		strcpy(json, "{'operation_name':'");
		for (int i = 0; i < 67; i++)
			strcat(json, "\xe2\x82\xac");
		strcat(json, "','duration_ms':1}");
		check_error(json, PP_ERR_NAME_TOO_LONG, "$.operation_name",
					"operation_name is 201 bytes long, the limit is 200");
	}

	/* start_time: absent or a number; null is an error */
	check_error("{'operation_name':'r','start_time':null,'duration_ms':1}",
				PP_ERR_WRONG_TYPE, "$.start_time",
				"expected a number, got null");
	check_error("{'operation_name':'r','start_time':'1','duration_ms':1}",
				PP_ERR_WRONG_TYPE, "$.start_time",
				"expected a number, got string");

	/* end_time: absent, null or a number */
	check_error("{'operation_name':'r','end_time':'2','duration_ms':1}",
				PP_ERR_WRONG_TYPE, "$.end_time",
				"expected a number or null, got string");
	check_error("{'operation_name':'r','end_time':{},'duration_ms':1}",
				PP_ERR_WRONG_TYPE, "$.end_time",
				"expected a number or null, got object");

	/* duration_ms */
	check_error("{'operation_name':'r','duration_ms':'5'}", PP_ERR_WRONG_TYPE,
				"$.duration_ms", "expected a number or null, got string");
	check_error("{'operation_name':'r','duration_ms':false}", PP_ERR_WRONG_TYPE,
				"$.duration_ms", "expected a number or null, got boolean");
	check_error("{'operation_name':'r','duration_ms':-0.001}",
				PP_ERR_OUT_OF_RANGE, "$.duration_ms",
				"duration_ms must be between 0 and 1e9");
	check_error("{'operation_name':'r','duration_ms':1000000000.5}",
				PP_ERR_OUT_OF_RANGE, "$.duration_ms",
				"duration_ms must be between 0 and 1e9");
	check_error("{'operation_name':'r'}", PP_ERR_MISSING, "$.duration_ms",
				"duration_ms is required unless start_time and end_time are given");
	check_error("{'operation_name':'r','duration_ms':null}", PP_ERR_MISSING,
				"$.duration_ms",
				"duration_ms is required unless start_time and end_time are given");
	check_error("{'operation_name':'r','start_time':1}", PP_ERR_MISSING,
				"$.duration_ms",
				"duration_ms is required unless start_time and end_time are given");
	check_error("{'operation_name':'r','end_time':1}", PP_ERR_MISSING,
				"$.duration_ms",
				"duration_ms is required unless start_time and end_time are given");
	check_error("{'operation_name':'r','start_time':1,'end_time':null}",
				PP_ERR_MISSING, "$.duration_ms",
				"duration_ms is required unless start_time and end_time are given");

	/* end_time >= start_time, even when duration_ms is given */
	check_error("{'operation_name':'r','start_time':2,'end_time':1}",
				PP_ERR_INVALID_VALUE, "$.end_time",
				"end_time is before start_time");
	check_error("{'operation_name':'r','start_time':2,'end_time':1.999,"
				"'duration_ms':3}",
				PP_ERR_INVALID_VALUE, "$.end_time",
				"end_time is before start_time");

	/* the computed duration is range checked too */
	check_error("{'operation_name':'r','start_time':0,'end_time':1000000.001}",
				PP_ERR_OUT_OF_RANGE, "$.end_time",
				"duration_ms must be between 0 and 1e9");
	check_error("{'operation_name':'r','start_time':-1e11,'end_time':1e11}",
				PP_ERR_OUT_OF_RANGE, "$.end_time",
				"duration_ms must be between 0 and 1e9");

	/* times in milliseconds where seconds since the epoch are expected */
	check_error("{'operation_name':'r','start_time':1733300000000,"
				"'end_time':1733300001200}",
				PP_ERR_OUT_OF_RANGE, "$.start_time",
				"start_time must be seconds since the epoch (at most 1e11), "
				"got 1733300000000: milliseconds?");
	check_error("{'operation_name':'r','duration_ms':1,'children':["
				"{'operation_name':'a','start_time':1733300000.5,"
				"'end_time':1733300001200}]}",
				PP_ERR_OUT_OF_RANGE, "$.children[0].end_time",
				"end_time must be seconds since the epoch");
	check_error("{'operation_name':'r','start_time':-1.5e11,'end_time':1}",
				PP_ERR_OUT_OF_RANGE, "$.start_time",
				"start_time must be seconds since the epoch");
	/* the largest accepted */
	{
		json_t	   *doc;
		pp_tree_t	tree;

		walk_ok("{'operation_name':'r','start_time':99999999999,"
				"'end_time':1e11}", &limits, &doc, &tree);
		assert_near(tree.nodes[0].duration_ms, 1000.0);
		done(doc, &tree);
	}

	/* metadata */
	check_error("{'operation_name':'r','duration_ms':1,'metadata':[]}",
				PP_ERR_WRONG_TYPE, "$.metadata",
				"expected an object or null, got array");
	check_error("{'operation_name':'r','duration_ms':1,'metadata':'m'}",
				PP_ERR_WRONG_TYPE, "$.metadata",
				"expected an object or null, got string");

	/* error */
	check_error("{'operation_name':'r','duration_ms':1,'error':1}",
				PP_ERR_WRONG_TYPE, "$.error",
				"expected a string or null, got number");
	check_error("{'operation_name':'r','duration_ms':1,'error':true}",
				PP_ERR_WRONG_TYPE, "$.error",
				"expected a string or null, got boolean");

	/* children */
	check_error("{'operation_name':'r','duration_ms':1,'children':{}}",
				PP_ERR_WRONG_TYPE, "$.children",
				"expected an array or null, got object");
	check_error("{'operation_name':'r','duration_ms':1,'children':'c'}",
				PP_ERR_WRONG_TYPE, "$.children",
				"expected an array or null, got string");

	/* nested paths */
	check_error("{'operation_name':'r','duration_ms':1,'children':["
				"{'operation_name':'a','duration_ms':1},"
				"{'operation_name':'b','duration_ms':1,'children':["
				"{'operation_name':'c','duration_ms':'slow'}]}]}",
				PP_ERR_WRONG_TYPE, "$.children[1].children[0].duration_ms",
				"expected a number or null, got string");
	check_error("{'operation_name':'r','duration_ms':1,'children':["
				"{'operation_name':'a','duration_ms':1,'children':[]},"
				"{'operation_name':'b','duration_ms':1,'children':["
				"{'operation_name':'c','duration_ms':1},"
				"{'operation_name':'d','duration_ms':1,'children':["
				"{'operation_name':'e','start_time':5,'end_time':4}]}]}]}",
				PP_ERR_INVALID_VALUE, "$.children[1].children[1].children[0].end_time",
				"end_time is before start_time");
}

static void
test_nonfinite(void **state)
{
	static const char *json =
		"{'operation_name':'r','duration_ms':1,'children':["
		"{'operation_name':'a','duration_ms':1},"
		"{'operation_name':'b','start_time':1,'end_time':2}]}";

	(void) state;
	check_override(json, "", offsetof(pp_node_fields_t, start_time), INFINITY,
				   PP_ERR_OUT_OF_RANGE, "$.start_time",
				   "expected a finite number");
	check_override(json, "1", offsetof(pp_node_fields_t, start_time), -HUGE_VAL,
				   PP_ERR_OUT_OF_RANGE, "$.children[1].start_time",
				   "expected a finite number");
	check_override(json, "1", offsetof(pp_node_fields_t, end_time), HUGE_VAL,
				   PP_ERR_OUT_OF_RANGE, "$.children[1].end_time",
				   "expected a finite number");
	check_override(json, "0", offsetof(pp_node_fields_t, duration_ms), INFINITY,
				   PP_ERR_OUT_OF_RANGE, "$.children[0].duration_ms",
				   "duration_ms must be between 0 and 1e9");
	check_override(json, "0", offsetof(pp_node_fields_t, duration_ms), NAN,
				   PP_ERR_OUT_OF_RANGE, "$.children[0].duration_ms",
				   "duration_ms must be between 0 and 1e9");
	check_override(json, "1", offsetof(pp_node_fields_t, end_time), NAN,
				   PP_ERR_OUT_OF_RANGE, "$.children[1].end_time",
				   "expected a finite number");
}

static void
test_error_order(void **state)
{
	(void) state;

	/* within a node, the rules are checked in the order of tree.h */
	check_error("{'duration_ms':'x','metadata':1}", PP_ERR_MISSING,
				"$.operation_name", "got nothing");
	check_error("{'operation_name':'r','start_time':null,'end_time':'x',"
				"'duration_ms':'x'}",
				PP_ERR_WRONG_TYPE, "$.start_time", "got null");
	check_error("{'operation_name':'r','end_time':'x','duration_ms':'x'}",
				PP_ERR_WRONG_TYPE, "$.end_time", "got string");
	check_error("{'operation_name':'r','start_time':2,'end_time':1,"
				"'duration_ms':-1}",
				PP_ERR_OUT_OF_RANGE, "$.duration_ms", "between 0 and 1e9");
	check_error("{'operation_name':'r','start_time':2,'end_time':1,"
				"'duration_ms':1,'metadata':1}",
				PP_ERR_INVALID_VALUE, "$.end_time", "before start_time");
	check_error("{'operation_name':'r','duration_ms':1,'metadata':1,'error':1}",
				PP_ERR_WRONG_TYPE, "$.metadata", "got number");
	check_error("{'operation_name':'r','duration_ms':1,'error':1,'children':1}",
				PP_ERR_WRONG_TYPE, "$.error", "got number");

	/* a node's own keys before its children */
	check_error("{'operation_name':'r','duration_ms':1,'metadata':1,"
				"'children':[{}]}",
				PP_ERR_WRONG_TYPE, "$.metadata", "got number");

	/* a whole subtree before its later siblings */
	check_error("{'operation_name':'r','duration_ms':1,'children':["
				"{'operation_name':'a','duration_ms':1,'children':["
				"{'operation_name':'b','duration_ms':1,'children':[{}]}]},"
				"{}]}",
				PP_ERR_MISSING, "$.children[0].children[0].children[0].operation_name",
				"got nothing");

	/* the object check comes before the depth and node limits */
	{
		pp_tree_limits_t lim = {2, 2, 200};

		check_error_lim("{'operation_name':'r','duration_ms':1,'children':["
						"{'operation_name':'a','duration_ms':1,'children':[1]}]}",
						&lim, PP_ERR_WRONG_TYPE, "$.children[0].children[0]",
						"expected an object, got number");
		check_error_lim("{'operation_name':'r','duration_ms':1,'children':["
						"{'operation_name':'a','duration_ms':1},1]}",
						&lim, PP_ERR_WRONG_TYPE, "$.children[1]",
						"expected an object, got number");
		/* and the limits before the node's own keys */
		check_error_lim("{'operation_name':'r','duration_ms':1,'children':["
						"{'operation_name':'a','duration_ms':1,'children':[{}]}]}",
						&lim, PP_ERR_TOO_DEEP, "$.children[0].children[0]",
						"nesting depth exceeds the limit of 2");
		check_error_lim("{'operation_name':'r','duration_ms':1,'children':["
						"{'operation_name':'a','duration_ms':1},{}]}",
						&lim, PP_ERR_TOO_MANY_NODES, "$.children[1]",
						"more than 2 nodes");
	}
}

static void
test_limits(void **state)
{
	pp_tree_limits_t lim = {3, 4, 200};
	json_t	   *doc;
	pp_tree_t	tree;

	(void) state;

	/* depth: exactly the limit is fine */
	walk_ok("{'operation_name':'r','duration_ms':1,'children':["
			"{'operation_name':'a','duration_ms':1,'children':["
			"{'operation_name':'b','duration_ms':1}]}]}",
			&lim, &doc, &tree);
	assert_int_equal(tree.max_depth_seen, 3);
	done(doc, &tree);
	check_error_lim("{'operation_name':'r','duration_ms':1,'children':["
					"{'operation_name':'a','duration_ms':1,'children':["
					"{'operation_name':'b','duration_ms':1,'children':["
					"{'operation_name':'c','duration_ms':1}]}]}]}",
					&lim, PP_ERR_TOO_DEEP,
					"$.children[0].children[0].children[0]",
					"nesting depth exceeds the limit of 3");

	/* nodes: exactly the limit is fine */
	walk_ok("{'operation_name':'r','duration_ms':1,'children':["
			"{'operation_name':'a','duration_ms':1},"
			"{'operation_name':'b','duration_ms':1},"
			"{'operation_name':'c','duration_ms':1}]}",
			&lim, &doc, &tree);
	assert_int_equal(tree.n_nodes, 4);
	done(doc, &tree);
	check_error_lim("{'operation_name':'r','duration_ms':1,'children':["
					"{'operation_name':'a','duration_ms':1},"
					"{'operation_name':'b','duration_ms':1,'children':["
					"{'operation_name':'c','duration_ms':1},"
					"{'operation_name':'d','duration_ms':1}]}]}",
					&lim, PP_ERR_TOO_MANY_NODES, "$.children[1].children[1]",
					"more than 4 nodes");

	/* the name limit is the caller's */
	lim.max_name_length = 1;
	check_error_lim("{'operation_name':'ab','duration_ms':1}", &lim,
					PP_ERR_NAME_TOO_LONG, "$.operation_name",
					"operation_name is 2 bytes long, the limit is 1");
}

static void
test_self_time(void **state)
{
	json_t	   *doc;
	pp_tree_t	tree;

	(void) state;

	/* overlapping children: the union is [0, 0.05] */
	walk_ok("{'operation_name':'r','duration_ms':100,'children':["
			"{'operation_name':'a','start_time':0.02,'end_time':0.05},"
			"{'operation_name':'b','start_time':0,'end_time':0.03}]}",
			&limits, &doc, &tree);
	assert_near(tree.nodes[0].self_ms, 50);
	assert_near(tree.nodes[1].duration_ms, 30);
	assert_near(tree.nodes[1].self_ms, 30);
	done(doc, &tree);

	/* disjoint children listed out of order; one contained in another */
	walk_ok("{'operation_name':'r','start_time':10,'end_time':10.1,'children':["
			"{'operation_name':'a','start_time':10.05,'end_time':10.06},"
			"{'operation_name':'b','start_time':10.0,'end_time':10.01},"
			"{'operation_name':'c','start_time':10.001,'end_time':10.002},"
			"{'operation_name':'d','start_time':10.06,'end_time':10.07}]}",
			&limits, &doc, &tree);
	assert_near(tree.nodes[0].duration_ms, 100);
	assert_near(tree.nodes[0].self_ms, 100 - 10 - 20);
	done(doc, &tree);

	/* duration_ms of a child is ignored when the intervals are used */
	walk_ok("{'operation_name':'r','duration_ms':100,'children':["
			"{'operation_name':'a','start_time':0,'end_time':0.01,'duration_ms':90},"
			"{'operation_name':'b','start_time':0,'end_time':0.02,'duration_ms':90}]}",
			&limits, &doc, &tree);
	assert_near(tree.nodes[0].self_ms, 80);
	done(doc, &tree);

	/* one child without times: the durations are summed */
	walk_ok("{'operation_name':'r','duration_ms':100,'children':["
			"{'operation_name':'a','start_time':0,'end_time':0.03},"
			"{'operation_name':'b','start_time':0.01,'end_time':0.03},"
			"{'operation_name':'c','duration_ms':5}]}",
			&limits, &doc, &tree);
	assert_near(tree.nodes[0].self_ms, 100 - 30 - 20 - 5);
	done(doc, &tree);

	/* a child with a start but a null end: summed */
	walk_ok("{'operation_name':'r','duration_ms':100,'children':["
			"{'operation_name':'a','start_time':0,'end_time':0.03},"
			"{'operation_name':'b','start_time':0,'end_time':null,'duration_ms':30}]}",
			&limits, &doc, &tree);
	assert_near(tree.nodes[0].self_ms, 40);
	done(doc, &tree);

	/* children longer than the parent: clamped at 0 */
	walk_ok("{'operation_name':'r','duration_ms':10,'children':["
			"{'operation_name':'a','duration_ms':6},"
			"{'operation_name':'b','duration_ms':6}]}",
			&limits, &doc, &tree);
	assert_near(tree.nodes[0].self_ms, 0);
	done(doc, &tree);
	walk_ok("{'operation_name':'r','duration_ms':10,'children':["
			"{'operation_name':'a','start_time':0,'end_time':1}]}",
			&limits, &doc, &tree);
	assert_true(tree.nodes[0].self_ms == 0);
	done(doc, &tree);

	/* grandchildren count only for their own parent */
	walk_ok("{'operation_name':'r','duration_ms':100,'children':["
			"{'operation_name':'a','duration_ms':60,'children':["
			"{'operation_name':'b','duration_ms':50,'children':["
			"{'operation_name':'c','duration_ms':45}]}]}]}",
			&limits, &doc, &tree);
	assert_near(tree.nodes[0].self_ms, 40);
	assert_near(tree.nodes[1].self_ms, 10);
	assert_near(tree.nodes[2].self_ms, 5);
	assert_near(tree.nodes[3].self_ms, 45);
	done(doc, &tree);
}

/* 100,000 levels of jansson: rejected at the limit, accepted beyond it */
static void
test_deep_document(void **state)
{
	pp_tree_source_t src = pp_json_source();
	json_t	   *doc = deep_json(100000);
	pp_tree_t	tree;
	pp_error_t	err;
	pp_tree_limits_t lim = limits;
	size_t		len;
	const char *tail;

	(void) state;
	counting_reset(-1);
	assert_int_equal(pp_tree_walk(&src, doc, &lim, &counting, &tree, &err),
					 PP_ERR_TOO_DEEP);
	assert_int_equal(err.code, PP_ERR_TOO_DEEP);
	assert_string_equal(err.text, "nesting depth exceeds the limit of 100");
	/* "$" + 100 x ".children[0]" does not fit: the tail is kept */
	len = strlen(err.path);
	assert_true(len <= PP_ERROR_PATH_SIZE - 1);
	assert_true(len >= PP_ERROR_PATH_SIZE - 16);
	assert_memory_equal(err.path, "$...children[0].children[0]", 27);
	tail = err.path + 3;
	while (*tail)
	{
		assert_memory_equal(tail, ".children[0]", 12);
		tail += 12;
	}
	assert_true(tree_is_zero(&tree));
	assert_int_equal(counts.live, 0);
	assert_true(counts.largest < 64 * 1024);

	/* with the limits raised, the same document is walked */
	lim.max_depth = 1000000;
	lim.max_nodes = 1000000;
	counting_reset(-1);
	assert_int_equal(pp_tree_walk(&src, doc, &lim, &counting, &tree, &err),
					 PP_OK);
	assert_int_equal(tree.n_nodes, 100000);
	assert_int_equal(tree.max_depth_seen, 100000);
	assert_int_equal(tree.nodes[99999].depth, 100000);
	assert_int_equal(tree.nodes[99999].parent, 99998);
	assert_near(tree.nodes[0].self_ms, 1);
	assert_near(tree.nodes[99999].self_ms, 1);
	assert_near(tree.nodes[0].duration_ms, 100000);
	{
		char		buf[32];

		assert_int_equal(pp_tree_node_path(&tree, 99999, buf, sizeof(buf)),
						 1 + 12 * 99999);
		assert_string_equal(buf, "$.children[0].children[0].child");
	}
	tree_release(&tree);
	assert_int_equal(counts.live, 0);

	/* an error at the bottom: the path keeps the key */
	{
		json_t	   *leaf = doc;

		while (json_object_get(leaf, "children"))
			leaf = json_array_get(json_object_get(leaf, "children"), 0);
		json_object_set_new(leaf, "error", json_integer(1));
	}
	counting_reset(-1);
	assert_int_equal(pp_tree_walk(&src, doc, &lim, &counting, &tree, &err),
					 PP_ERR_WRONG_TYPE);
	len = strlen(err.path);
	assert_true(len <= PP_ERROR_PATH_SIZE - 1);
	assert_memory_equal(err.path, "$...children[0]", 15);
	assert_string_equal(err.path + len - 18, ".children[0].error");
	assert_int_equal(counts.live, 0);

	pp_json_decref_deep(doc);
}

/* Error paths just around the truncation point. */
static void
test_error_path_truncation(void **state)
{
	pp_tree_limits_t lim = {1000, 10000, 200};
	int			depth;

	(void) state;
	for (depth = 35; depth <= 50; depth++)
	{
		pp_tree_source_t src = pp_json_source();
		json_t	   *doc = deep_json((size_t) depth);
		json_t	   *leaf = doc;
		pp_tree_t	tree;
		pp_error_t	err;
		char		full[2048];
		int			d;
		size_t		len;

		while (json_object_get(leaf, "children"))
			leaf = json_array_get(json_object_get(leaf, "children"), 0);
		json_object_set_new(leaf, "metadata", json_true());

		strcpy(full, "$");
		for (d = 1; d < depth; d++)
			strcat(full, ".children[0]");
		strcat(full, ".metadata");

		counting_reset(-1);
		assert_int_equal(pp_tree_walk(&src, doc, &lim, &counting, &tree, &err),
						 PP_ERR_WRONG_TYPE);
		len = strlen(err.path);
		if (strlen(full) < PP_ERROR_PATH_SIZE)
			assert_string_equal(err.path, full);
		else
		{
			/* "$.." stands for a head of whole segments */
			assert_true(len < PP_ERROR_PATH_SIZE);
			assert_memory_equal(err.path, "$...children[0]", 15);
			assert_string_equal(err.path + 3, full + strlen(full) - (len - 3));
		}
		assert_int_equal(counts.live, 0);
		json_decref(doc);
	}
}

/* A million nodes through the synthetic source. */
static void
test_million_nodes(void **state)
{
	synth_t		s;
	pp_tree_source_t src = synth_source(&s, 1000000, false);
	pp_tree_limits_t lim = {100, 1000000, 200};
	pp_tree_t	tree;
	pp_error_t	err;

	(void) state;
	counting_reset(-1);
	assert_int_equal(pp_tree_walk(&src, s.base, &lim, &counting, &tree, &err),
					 PP_OK);
	assert_int_equal(tree.n_nodes, 1000000);
	assert_int_equal(tree.nodes[0].n_children, 999999);
	assert_int_equal(tree.nodes[999999].child_index, 999998);
	/* 999999 disjoint half-millisecond intervals */
	assert_true(fabs(tree.nodes[0].self_ms - 999999 * 0.5) < 1e-3);
	tree_release(&tree);
	assert_int_equal(counts.live, 0);

	/* one node too many */
	lim.max_nodes = 999999;
	counting_reset(-1);
	assert_int_equal(pp_tree_walk(&src, s.base, &lim, &counting, &tree, &err),
					 PP_ERR_TOO_MANY_NODES);
	assert_string_equal(err.path, "$.children[999998]");
	assert_string_equal(err.text, "more than 999999 nodes");
	assert_int_equal(counts.live, 0);

	/* the error in the last node */
	lim.max_nodes = 1000000;
	s.bad = 999999;
	counting_reset(-1);
	assert_int_equal(pp_tree_walk(&src, s.base, &lim, &counting, &tree, &err),
					 PP_ERR_WRONG_TYPE);
	assert_string_equal(err.path, "$.children[999998].duration_ms");
	assert_int_equal(counts.live, 0);
	free(s.base);

	/* a synthetic 100,000-deep chain, rejected with a small footprint */
	src = synth_source(&s, 100000, true);
	counting_reset(-1);
	assert_int_equal(pp_tree_walk(&src, s.base, &limits, &counting, &tree,
								  &err),
					 PP_ERR_TOO_DEEP);
	assert_true(counts.largest < 64 * 1024);
	assert_int_equal(counts.live, 0);
	free(s.base);
}

/* Fail the N-th allocation, for every N until the walk succeeds. */
static void
fail_every_allocation(const pp_tree_source_t *src, const void *root,
					  const pp_tree_limits_t *lim, long min_failures)
{
	pp_tree_t	tree;
	pp_error_t	err;
	long		n;

	for (n = 0;; n++)
	{
		pp_error_code_t rc;

		counting_reset(n);
		rc = pp_tree_walk(src, root, lim, &counting, &tree, &err);
		assert_int_equal(counts.live, rc == PP_OK ? 1 : 0);
		if (rc == PP_OK)
			break;
		assert_int_equal(rc, PP_ERR_NO_MEMORY);
		assert_int_equal(err.code, PP_ERR_NO_MEMORY);
		assert_true(err.path[0] == '$');
		assert_non_null(strstr(err.text, "out of memory"));
		assert_true(tree_is_zero(&tree));

		/* and without an error struct */
		counting_reset(n);
		assert_int_equal(pp_tree_walk(src, root, lim, &counting, &tree, NULL),
						 PP_ERR_NO_MEMORY);
		assert_int_equal(counts.live, 0);
	}
	assert_true(n >= min_failures);
	tree_release(&tree);
	assert_int_equal(counts.live, 0);
}

static void
test_allocation_failure(void **state)
{
	pp_tree_source_t src = pp_json_source();
	pp_tree_limits_t lim = {1000, 10000, 200};
	json_t	   *doc;
	json_t	   *wide;
	int			i;

	(void) state;

	/* deep enough to grow the stack, wide enough to grow the node array */
	doc = deep_json(40);
	wide = json_array();
	for (i = 0; i < 300; i++)
	{
		json_t	   *c = json_object();

		json_object_set_new(c, "operation_name", json_string("w"));
		json_object_set_new(c, "start_time", json_real(i));
		json_object_set_new(c, "end_time", json_real(i + 0.5));
		json_array_append_new(wide, c);
	}
	json_object_set_new(doc, "children", wide);
	json_array_append_new(wide, deep_json(40));
	fail_every_allocation(&src, doc, &lim, 6);
	json_decref(doc);

	/* a single node: its array and the one stack frame */
	doc = json_loads("{\"operation_name\":\"r\",\"duration_ms\":1}", 0, NULL);
	fail_every_allocation(&src, doc, &lim, 2);
	json_decref(doc);
}

/* What metadata says of a cache lookup is carried to the node. */
static void
test_cache_flag(void **state)
{
	json_t	   *doc;
	pp_tree_t	tree;

	(void) state;
	walk_ok("{'operation_name': 'r', 'duration_ms': 9, 'children': ["
			"{'operation_name': 'a', 'duration_ms': 1, 'metadata': {'cache': 'hit'}},"
			"{'operation_name': 'b', 'duration_ms': 1, 'metadata': {'cache': 'miss'}},"
			"{'operation_name': 'c', 'duration_ms': 1, 'metadata': {'cache_hit': true}},"
			"{'operation_name': 'd', 'duration_ms': 1, 'metadata': {'cache_hit': false}},"
			"{'operation_name': 'e', 'duration_ms': 1, 'metadata': {'cache': 'warm', 'x': 1}},"
			"{'operation_name': 'f', 'duration_ms': 1, 'metadata': null},"
			"{'operation_name': 'g', 'duration_ms': 1}]}",
			&limits, &doc, &tree);
	assert_int_equal(tree.n_nodes, 8);
	assert_int_equal(tree.nodes[0].cache, PP_CACHE_UNKNOWN);
	assert_int_equal(tree.nodes[1].cache, PP_CACHE_HIT);
	assert_int_equal(tree.nodes[2].cache, PP_CACHE_MISS);
	assert_int_equal(tree.nodes[3].cache, PP_CACHE_HIT);
	assert_int_equal(tree.nodes[4].cache, PP_CACHE_MISS);
	assert_int_equal(tree.nodes[5].cache, PP_CACHE_UNKNOWN);
	assert_int_equal(tree.nodes[6].cache, PP_CACHE_UNKNOWN);
	assert_int_equal(tree.nodes[7].cache, PP_CACHE_UNKNOWN);
	tree_release(&tree);
	json_decref(doc);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_type_names),
		cmocka_unit_test(test_single_node),
		cmocka_unit_test(test_preorder),
		cmocka_unit_test(test_node_path_truncation),
		cmocka_unit_test(test_node_errors),
		cmocka_unit_test(test_field_errors),
		cmocka_unit_test(test_nonfinite),
		cmocka_unit_test(test_error_order),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_self_time),
		cmocka_unit_test(test_deep_document),
		cmocka_unit_test(test_error_path_truncation),
		cmocka_unit_test(test_million_nodes),
		cmocka_unit_test(test_allocation_failure),
		cmocka_unit_test(test_cache_flag),
	};

	return cmocka_run_group_tests_name("tree", tests, NULL, NULL);
}
