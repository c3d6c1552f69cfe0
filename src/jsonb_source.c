/*-------------------------------------------------------------------------
 *
 * src/jsonb_source.c
 *	  The tree walker's view of a Jsonb document, read in place.
 *
 * src/core/tree.c validates a profile through a pp_tree_source_t and never
 * sees a PostgreSQL type.  This file implements that source over the binary
 * Jsonb format: a node handle is a JsonbValue, a node's keys are read in
 * one pass over its object's entries (see jsonb_read_node) and children
 * with getIthJsonbValueFromContainer.  Nothing is printed to text or parsed
 * again.  Handles are palloc'd in the current memory
 * context, which the caller resets after each profile.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/jsonb.h"
#include "utils/numeric.h"

#include "jsonb_source.h"
#include "numeric_decode.h"

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

/*
 * The keys of a node are read in one pass over the object's entries, in the
 * binary Jsonb layout (src/include/utils/jsonb.h): an object of n pairs has
 * 2n JEntry words -- the n keys, sorted by length then bytes, then their n
 * values -- followed by the data they point into; numerics and nested
 * containers start at an int-aligned offset.  One pass costs a fraction of
 * seven binary searches through getKeyJsonValueFromContainer.
 */
typedef enum NodeKey
{
	KEY_OPERATION_NAME,
	KEY_START_TIME,
	KEY_END_TIME,
	KEY_DURATION_MS,
	KEY_METADATA,
	KEY_CHILDREN,
	KEY_ERROR,
	KEY_OTHER
} NodeKey;

static NodeKey
node_key(const char *k, uint32 len)
{
	switch (len)
	{
		case 5:
			return memcmp(k, "error", 5) == 0 ? KEY_ERROR : KEY_OTHER;
		case 8:
			if (memcmp(k, "children", 8) == 0)
				return KEY_CHILDREN;
			if (memcmp(k, "end_time", 8) == 0)
				return KEY_END_TIME;
			if (memcmp(k, "metadata", 8) == 0)
				return KEY_METADATA;
			return KEY_OTHER;
		case 10:
			return memcmp(k, "start_time", 10) == 0 ? KEY_START_TIME : KEY_OTHER;
		case 11:
			return memcmp(k, "duration_ms", 11) == 0 ? KEY_DURATION_MS : KEY_OTHER;
		case 14:
			return memcmp(k, "operation_name", 14) == 0 ? KEY_OPERATION_NAME : KEY_OTHER;
		default:
			return KEY_OTHER;
	}
}

/* Where the data of a container with nentries JEntry words begins. */
static const char *
container_data(const JsonbContainer *c, uint32 nentries)
{
	return (const char *) &c->children[nentries];
}

/* A value whose JEntry is je, at offset (length len) from base. */
static void
fill_field(JEntry je, const char *base, uint32 offset, uint32 len,
		   pp_field_t *f)
{
	memset(f, 0, sizeof(*f));
	if (JBE_ISSTRING(je))
	{
		/* points into the container, which outlives the walk */
		f->type = PP_JSON_STRING;
		f->str = base + offset;
		f->len = len;
	}
	else if (JBE_ISNUMERIC(je))
	{
		f->type = PP_JSON_NUMBER;
		f->num = pp_numeric_to_double((Numeric) (base + INTALIGN(offset)));
	}
	else if (JBE_ISBOOL(je))
		f->type = PP_JSON_BOOL;
	else if (JBE_ISNULL(je))
		f->type = PP_JSON_NULL;
	else
	{
		const JsonbContainer *inner = (const JsonbContainer *) (base + INTALIGN(offset));

		if (JsonContainerIsObject(inner))
			f->type = PP_JSON_OBJECT;
		else
		{
			f->type = PP_JSON_ARRAY;
			f->len = JsonContainerSize(inner);
		}
	}
}

/*
 * What a metadata object says of a cache lookup: "cache": "hit" | "miss",
 * or "cache_hit": true | false.  Two binary searches, only for nodes that
 * carry metadata.
 */
static int
metadata_cache(const JsonbContainer *meta)
{
	JsonbValue	v;

	if (getKeyJsonValueFromContainer((JsonbContainer *) meta, "cache", 5, &v) &&
		v.type == jbvString)
	{
		if (v.val.string.len == 3 && memcmp(v.val.string.val, "hit", 3) == 0)
			return PP_CACHE_HIT;
		if (v.val.string.len == 4 && memcmp(v.val.string.val, "miss", 4) == 0)
			return PP_CACHE_MISS;
	}
	if (getKeyJsonValueFromContainer((JsonbContainer *) meta, "cache_hit", 9, &v) &&
		v.type == jbvBool)
		return v.val.boolean ? PP_CACHE_HIT : PP_CACHE_MISS;
	return PP_CACHE_UNKNOWN;
}

static pp_field_t *
field_of(pp_node_fields_t *fields, NodeKey key)
{
	switch (key)
	{
		case KEY_OPERATION_NAME:
			return &fields->operation_name;
		case KEY_START_TIME:
			return &fields->start_time;
		case KEY_END_TIME:
			return &fields->end_time;
		case KEY_DURATION_MS:
			return &fields->duration_ms;
		case KEY_METADATA:
			return &fields->metadata;
		case KEY_CHILDREN:
			return &fields->children;
		case KEY_ERROR:
			return &fields->error;
		default:
			return NULL;
	}
}

#define INLINE_KEYS 32

static pp_json_type_t
jsonb_read_node(void *state, const void *node, pp_node_fields_t *fields)
{
	const JsonbValue *v = node;
	pp_json_type_t type = jsonb_value_type(v);
	const JsonbContainer *obj;
	const char *base;
	uint8		inline_keys[INLINE_KEYS];
	uint8	   *keys = inline_keys;
	uint32		n,
				i,
				offset = 0;

	if (type != PP_JSON_OBJECT)
		return type;

	memset(fields, 0, sizeof(*fields));	/* every key absent */
	obj = v->val.binary.data;
	n = JsonContainerSize(obj);
	base = container_data(obj, 2 * n);
	if (n > INLINE_KEYS)
		keys = palloc(n);

	/* the keys, then their values: one pass with a running offset */
	for (i = 0; i < 2 * n; i++)
	{
		JEntry		je = obj->children[i];
		uint32		start = offset;

		JBE_ADVANCE_OFFSET(offset, je);
		if (i < n)
			keys[i] = (uint8) node_key(base + start, offset - start);
		else if (keys[i - n] != KEY_OTHER)
		{
			fill_field(je, base, start, offset - start,
					   field_of(fields, (NodeKey) keys[i - n]));
			if (keys[i - n] == KEY_METADATA && fields->metadata.type == PP_JSON_OBJECT)
			{
				const JsonbContainer *meta = (const JsonbContainer *) (base + INTALIGN(start));

				fields->cache = metadata_cache(meta);
				fields->metadata_handle = meta;
			}
		}
	}
	if (keys != inline_keys)
		pfree(keys);
	return type;
}

static const void *
jsonb_child(void *state, const void *node, size_t i)
{
	const JsonbValue *v = node;
	const JsonbContainer *obj = v->val.binary.data;
	uint32		n = JsonContainerSize(obj);
	const char *base = container_data(obj, 2 * n);
	uint32		k;

	for (k = 0; k < n; k++)
	{
		uint32		offset = getJsonbOffset(obj, (int) k);

		if (node_key(base + offset, getJsonbLength(obj, (int) k)) == KEY_CHILDREN)
		{
			offset = getJsonbOffset(obj, (int) (n + k));
			return getIthJsonbValueFromContainer((JsonbContainer *) (base + INTALIGN(offset)),
												 (uint32) i);
		}
	}
	elog(ERROR, "ppprof: node without children asked for a child");
	return NULL;				/* keep compiler quiet */
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
