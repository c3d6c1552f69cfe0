/*-------------------------------------------------------------------------
 *
 * src/jsonb_source.c
 *	  The tree walker's view of a Jsonb document, read in place.
 *
 * src/core/tree.c validates a profile through a pp_tree_source_t and never
 * sees a PostgreSQL type.  This file implements that source over the binary
 * Jsonb format: a node handle is a JsonbValue, keys are found with
 * getKeyJsonValueFromContainer (a binary search over the object's sorted
 * keys) and children with getIthJsonbValueFromContainer.  Nothing is printed
 * to text or parsed again.  Handles are palloc'd in the current memory
 * context, which the caller resets after each profile.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"

#include "ppprof.h"

static pp_json_type_t
jsonb_value_type(const JsonbValue *v)
{
	switch (v->type)
	{
		case jbvNull:
			return PP_JSON_NULL;
		case jbvBool:
			return PP_JSON_BOOL;
		case jbvNumeric:
			return PP_JSON_NUMBER;
		case jbvString:
			return PP_JSON_STRING;
		case jbvArray:
			return PP_JSON_ARRAY;
		case jbvObject:
			return PP_JSON_OBJECT;
		case jbvBinary:
			if (JsonContainerIsObject(v->val.binary.data))
				return PP_JSON_OBJECT;
			return PP_JSON_ARRAY;
		default:
			/* jbvDatetime cannot appear in a stored jsonb */
			return PP_JSON_NULL;
	}
}

/* A numeric as a double; +-HUGE_VAL when it does not fit, never an error. */
static double
numeric_to_double(Numeric num)
{
	return DatumGetFloat8(DirectFunctionCall1(numeric_float8_no_overflow,
											  NumericGetDatum(num)));
}

static void
read_field(JsonbContainer *obj, const char *key, pp_field_t *field)
{
	JsonbValue	buf;
	JsonbValue *v = getKeyJsonValueFromContainer(obj, key, strlen(key), &buf);

	memset(field, 0, sizeof(*field));
	if (v == NULL)
	{
		field->type = PP_JSON_ABSENT;
		return;
	}
	field->type = jsonb_value_type(v);
	switch (field->type)
	{
		case PP_JSON_NUMBER:
			field->num = numeric_to_double(v->val.numeric);
			break;
		case PP_JSON_STRING:
			/* points into the container, which outlives the walk */
			field->str = v->val.string.val;
			field->len = v->val.string.len;
			break;
		case PP_JSON_ARRAY:
			field->len = JsonContainerSize(v->val.binary.data);
			break;
		default:
			break;
	}
}

static pp_json_type_t
jsonb_read_node(void *state, const void *node, pp_node_fields_t *fields)
{
	const JsonbValue *v = node;
	pp_json_type_t type = jsonb_value_type(v);
	JsonbContainer *obj;

	if (type != PP_JSON_OBJECT)
		return type;

	obj = v->val.binary.data;
	read_field(obj, "operation_name", &fields->operation_name);
	read_field(obj, "start_time", &fields->start_time);
	read_field(obj, "end_time", &fields->end_time);
	read_field(obj, "duration_ms", &fields->duration_ms);
	read_field(obj, "metadata", &fields->metadata);
	read_field(obj, "children", &fields->children);
	read_field(obj, "error", &fields->error);
	return type;
}

static const void *
jsonb_child(void *state, const void *node, size_t i)
{
	const JsonbValue *v = node;
	JsonbValue	buf;
	JsonbValue *children;

	children = getKeyJsonValueFromContainer(v->val.binary.data,
											"children", strlen("children"),
											&buf);
	Assert(children != NULL && children->type == jbvBinary);
	return getIthJsonbValueFromContainer(children->val.binary.data, (uint32) i);
}

void
pp_jsonb_source_init(pp_tree_source_t *source)
{
	source->read_node = jsonb_read_node;
	source->child = jsonb_child;
	source->state = NULL;
}

/* The handle of a document's root value. */
const void *
pp_jsonb_root_handle(Jsonb *jb)
{
	JsonbValue *root = palloc(sizeof(JsonbValue));

	if (JB_ROOT_IS_SCALAR(jb))
	{
		if (!JsonbExtractScalar(&jb->root, root))
			elog(ERROR, "ppprof: malformed scalar jsonb");
	}
	else
	{
		root->type = jbvBinary;
		root->val.binary.data = &jb->root;
		root->val.binary.len = VARSIZE(jb) - VARHDRSZ;
	}
	return root;
}
