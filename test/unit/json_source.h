/*-------------------------------------------------------------------------
 *
 * test/unit/json_source.h
 *	  A pp_tree_source_t over jansson values, for the unit tests and the
 *	  fuzz targets.
 *
 * Header-only (static inline functions), because test/unit/Makefile links
 * each test_X.c with the core sources and nothing else.  A node handle is a
 * json_t pointer; jansson keeps the values alive as long as the document,
 * which outlives the walk.  Integers and reals both map to PP_JSON_NUMBER
 * (jansson rejects non-finite reals, so out-of-range numbers have to be
 * faked by a wrapping source; see test_tree.c).
 *
 * pp_json_decref_deep frees a document without recursion: json_decref
 * recurses once per nesting level, which overflows the C stack (or ASan's
 * larger frames) on the 100,000-deep documents the tests build.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PP_TEST_JSON_SOURCE_H
#define PP_TEST_JSON_SOURCE_H

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "tree.h"

static inline pp_json_type_t
pp_json_source_type(const json_t *v)
{
	if (v == NULL)
		return PP_JSON_ABSENT;
	switch (json_typeof(v))
	{
		case JSON_OBJECT:
			return PP_JSON_OBJECT;
		case JSON_ARRAY:
			return PP_JSON_ARRAY;
		case JSON_STRING:
			return PP_JSON_STRING;
		case JSON_INTEGER:
		case JSON_REAL:
			return PP_JSON_NUMBER;
		case JSON_TRUE:
		case JSON_FALSE:
			return PP_JSON_BOOL;
		case JSON_NULL:
			return PP_JSON_NULL;
	}
	return PP_JSON_ABSENT;
}

static inline void
pp_json_source_field(const json_t *obj, const char *key, pp_field_t *f)
{
	const json_t *v = json_object_get(obj, key);

	memset(f, 0, sizeof(*f));
	f->type = pp_json_source_type(v);
	switch (f->type)
	{
		case PP_JSON_NUMBER:
			f->num = json_number_value(v);
			break;
		case PP_JSON_STRING:
			f->str = json_string_value(v);
			f->len = json_string_length(v);
			break;
		case PP_JSON_ARRAY:
			f->len = json_array_size(v);
			break;
		default:
			break;
	}
}

static inline pp_json_type_t
pp_json_source_read_node(void *state, const void *node,
						 pp_node_fields_t *fields)
{
	const json_t *obj = node;
	pp_json_type_t type = pp_json_source_type(obj);

	(void) state;
	if (type != PP_JSON_OBJECT)
		return type;
	pp_json_source_field(obj, "operation_name", &fields->operation_name);
	pp_json_source_field(obj, "start_time", &fields->start_time);
	pp_json_source_field(obj, "end_time", &fields->end_time);
	pp_json_source_field(obj, "duration_ms", &fields->duration_ms);
	pp_json_source_field(obj, "metadata", &fields->metadata);
	pp_json_source_field(obj, "children", &fields->children);
	pp_json_source_field(obj, "error", &fields->error);
	fields->cache = PP_CACHE_UNKNOWN;
	if (json_is_object(json_object_get(obj, "metadata")))
	{
		const json_t *meta = json_object_get(obj, "metadata");
		const json_t *cache = json_object_get(meta, "cache");
		const json_t *hit = json_object_get(meta, "cache_hit");

		if (json_is_string(cache) && strcmp(json_string_value(cache), "hit") == 0)
			fields->cache = PP_CACHE_HIT;
		else if (json_is_string(cache) && strcmp(json_string_value(cache), "miss") == 0)
			fields->cache = PP_CACHE_MISS;
		else if (json_is_boolean(hit))
			fields->cache = json_is_true(hit) ? PP_CACHE_HIT : PP_CACHE_MISS;
	}
	return type;
}

static inline const void *
pp_json_source_child(void *state, const void *node, size_t i)
{
	(void) state;
	return json_array_get(json_object_get((const json_t *) node, "children"),
						  i);
}

/* The source itself; it has no state. */
static inline pp_tree_source_t
pp_json_source(void)
{
	pp_tree_source_t src;

	src.read_node = pp_json_source_read_node;
	src.child = pp_json_source_child;
	src.state = NULL;
	return src;
}

/*
 * Drop one reference to v without recursion: a container about to die
 * hands its members (with a reference each) to an explicit stack before it
 * is emptied and freed.  Aborts if the stack cannot be allocated.
 */
static inline void
pp_json_decref_deep(json_t *v)
{
	json_t	  **stack = NULL;
	size_t		n = 0,
				cap = 0;

	if (v == NULL)
		return;
	for (;;)
	{
		if (v->refcount == 1 && (json_is_object(v) || json_is_array(v)))
		{
			size_t		members = json_is_object(v) ? json_object_size(v) :
				json_array_size(v);

			if (n + members > cap)
			{
				cap = (n + members) * 2 + 16;
				stack = realloc(stack, cap * sizeof(json_t *));
				if (stack == NULL)
					abort();
			}
			if (json_is_object(v))
			{
				const char *key;
				json_t	   *member;

				json_object_foreach(v, key, member)
					stack[n++] = json_incref(member);
				json_object_clear(v);
			}
			else
			{
				size_t		i;

				for (i = 0; i < members; i++)
					stack[n++] = json_incref(json_array_get(v, i));
				json_array_clear(v);
			}
		}
		json_decref(v);
		if (n == 0)
			break;
		v = stack[--n];
	}
	free(stack);
}

/*
 * Parse text and walk it with the jansson source.  A document jansson
 * rejects fails the walk with PP_ERR_INVALID_VALUE and jansson's message.
 * *doc receives the document (free it after the tree) or NULL.
 */
static inline pp_error_code_t
pp_json_source_walk_text(const char *text, size_t len,
						 const pp_tree_limits_t *limits,
						 const pp_allocator_t *allocator,
						 json_t **doc, pp_tree_t *tree, pp_error_t *err)
{
	pp_tree_source_t src = pp_json_source();
	json_error_t jerr;

	memset(tree, 0, sizeof(*tree));
	*doc = json_loadb(text, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
	if (*doc == NULL)
		return pp_error_set(err, PP_ERR_INVALID_VALUE, "$",
							"invalid json: %s", jerr.text);
	return pp_tree_walk(&src, *doc, limits, allocator, tree, err);
}

#endif							/* PP_TEST_JSON_SOURCE_H */
