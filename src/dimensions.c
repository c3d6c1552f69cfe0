/*-------------------------------------------------------------------------
 *
 * src/dimensions.c
 *	  Statistics sliced by a dimension: pp_dimension_stats and
 *	  pp_range_dimension_stats, per operation and value of a metadata key
 *	  declared in operation_dimensions, and pp_compare_values.
 *
 * A dimension is a name and a key path into a node's metadata, or a text
 * field of the usage_keys mapping (model, provider: src/usage.c), in the
 * table operation_dimensions, seeded with model (the usage model, under
 * whichever key the node names it) and release.  A node's value is its own
 * metadata's value at that path, or the model or provider that usage_keys
 * read in it, else its nearest ancestor's (so a
 * release set on the root slices every node under it, and a model set on
 * an LLM node slices that node and its children); a node with no value in
 * its chain has none (NULL).  A JSON null counts as absent.  A string is
 * its text; a number is written as the JSON has it (jsonb keeps its digits:
 * 1.0 stays "1.0"); true and false are "true" and "false"; an object or an
 * array is its jsonb text.  A value is cut to PP_DIM_VALUE_MAX bytes, at a
 * character boundary.  A usage field is the text usage_keys accepts (a
 * non-empty string of at most PP_USAGE_MAX_NAME bytes; anything else is
 * absent).
 *
 * Live.  The first PP_DIM_LIVE declared dimensions (by name) are kept in
 * shared memory: every committed node adds, per live dimension, to the
 * entry of (dimension, its value, its operation) (src/shmem.c,
 * PP_KIND_DIM), whose values pp_dimension_values reads at ingest with the
 * same rules as the table read below.  A window is answered from those
 * buckets, its edges from the table, exactly as pp_operation_stats';
 * whatever shared memory does not cover (not preloaded, statistics not
 * valid, a dimension beyond PP_DIM_LIVE, what a full pool or slot table
 * dropped) is read from the table.  An entry's identity is a hash of the
 * dimension's name and declaration, so a changed declaration is a new
 * dimension; a committed change invalidates the statistics anyway
 * (src/config.c), and the rebuild reads the values anew.
 *
 * The table.  Every profile of [now() - window, now()] is walked with the
 * ingest trigger's walker, so calls, errors and sums are exact and the
 * percentiles are the sketch's (within 1% of percentile_disc, as
 * pp_operation_stats') (docs/statistics.md, "Dimensions").
 *
 * Bound.  A dimension keeps apart at most ppprof.max_dimension_values
 * values: those with the most nodes in the window, ties in byte order of
 * the value.  The nodes of every other value are added, per operation, to
 * one fold row (exact counts and sums, no percentiles), so the rows' calls
 * always add up to the window's nodes.  To bound backend memory, a read
 * tracks at most ten times as many distinct values (PP_DIM_TRACKED_VALUES)
 * and folds the nodes of any value it meets beyond them at once, the rows
 * being read in (created_at, id) order.  A live answer has every value's
 * count, so it keeps the same values when the window has at most
 * PP_DIM_TRACKED_VALUES distinct ones; when it has more, the window is read
 * from the table, so that both give the same rows.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/timestamp.h"

#include "allocator.h"
#include "config.h"
#include "dimensions.h"
#include "guc.h"
#include "profile.h"
#include "rebuild.h"
#include "shmem.h"
#include "spi_owner.h"
#include "stats.h"
#include "usage.h"
#include "window.h"

PG_FUNCTION_INFO_V1(pp_dimension_stats);
PG_FUNCTION_INFO_V1(pp_range_dimension_stats);
PG_FUNCTION_INFO_V1(pp_compare_values);

/* Bytes of a dimension value kept (longer values are cut). */
#define PP_DIM_VALUE_MAX 200

/*
 * Distinct values a read tracks (each with a sketch per operation): the
 * nodes of values first met beyond them are folded at once.
 */
#define PP_DIM_TRACKED_VALUES ((long) pp_max_dimension_values * 10)

/* the columns of pp_dimension_stats */
#define PP_DIM_COLUMNS 15

/* A value of a node: value_len -1 when the node has none. */
typedef struct PPDimValue
{
	const char *value;
	int			value_len;
} PPDimValue;

/* One (operation, value) of the window; the key is its first four fields. */
typedef struct PPDimAgg
{
	const char *op;				/* NUL-terminated, in the window's memory */
	int			op_len;
	const char *value;			/* NUL-terminated; NULL when value_len -1 */
	int			value_len;
	bool		folded;			/* the fold row of op */
	PPCounters	c;
	pp_sketch_acc_t *acc;		/* NULL for a fold row */
} PPDimAgg;

/*
 * One value of the window, with its nodes over all operations; the key is
 * its first two fields (a PPNameKey).
 */
typedef struct PPDimValueCount
{
	const char *value;
	int			value_len;
	int64		calls;
	bool		kept;
} PPDimValueCount;

StaticAssertDecl(offsetof(PPDimValueCount, value) == offsetof(PPNameKey, name) &&
				 offsetof(PPDimValueCount, value_len) == offsetof(PPNameKey, name_len),
				 "PPDimValueCount must begin with a PPNameKey");

typedef struct PPDimWindow
{
	HTAB	   *aggs;			/* (operation, value) -> PPDimAgg */
	HTAB	   *values;			/* value -> PPDimValueCount */
	MemoryContext cxt;			/* the window's memory */
	const PPDimValue *only;		/* when n_only > 0: the nodes of other
								 * values (or none) are skipped */
	int			n_only;
	bool		folded_early;	/* a value beyond PP_DIM_TRACKED_VALUES met */
} PPDimWindow;

static uint32
agg_key_hash(const void *key, Size keysize)
{
	const PPDimAgg *k = key;
	uint32		h = hash_bytes((const unsigned char *) k->op, k->op_len);

	if (k->value_len >= 0)
		h = hash_combine(h, hash_bytes((const unsigned char *) k->value,
									   k->value_len));
	return hash_combine(h, (uint32) (k->value_len + 1));
}

static int
agg_key_match(const void *key1, const void *key2, Size keysize)
{
	const PPDimAgg *a = key1;
	const PPDimAgg *b = key2;

	if (a->op_len != b->op_len || a->value_len != b->value_len ||
		memcmp(a->op, b->op, a->op_len) != 0)
		return 1;
	return a->value_len < 0 || memcmp(a->value, b->value, a->value_len) == 0
		? 0 : 1;
}

static char *
copy_bytes(MemoryContext cxt, const char *s, int len)
{
	char	   *copy = MemoryContextAlloc(cxt, len + 1);

	memcpy(copy, s, len);
	copy[len] = '\0';
	return copy;
}

static void
check_acc(pp_error_code_t rc)
{
	if (rc == PP_ERR_NO_MEMORY)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY),
						errmsg("out of memory")));
}

/* The aggregate of (op, value), created when absent (fold: no sketch). */
static PPDimAgg *
agg_get(PPDimWindow *w, const char *op, int op_len, const char *value,
		int value_len, bool folded)
{
	PPDimAgg	key;
	PPDimAgg   *a;
	bool		found;

	key.op = op;
	key.op_len = op_len;
	key.value = value;
	key.value_len = value_len;
	a = hash_search(w->aggs, &key, HASH_ENTER, &found);
	if (!found)
	{
		/* the key points at the caller's memory until it is copied */
		a->op = copy_bytes(w->cxt, op, op_len);
		a->value = value_len < 0 ? NULL : copy_bytes(w->cxt, value, value_len);
		a->folded = folded;
		memset(&a->c, 0, sizeof(PPCounters));
		a->acc = folded ? NULL :
			pp_sketch_acc_create(pp_palloc_allocator(w->cxt));
	}
	return a;
}

/*
 * The text of v (see the banner), in the current memory context; false
 * when v is a JSON null.
 */
static bool
value_text(const JsonbValue *v, const char **text, int *len)
{
	char	   *s;

	switch (v->type)
	{
		case jbvNull:
			return false;
		case jbvString:
			*text = v->val.string.val;
			*len = v->val.string.len;
			break;
		case jbvNumeric:
			s = DatumGetCString(DirectFunctionCall1(numeric_out,
													NumericGetDatum(v->val.numeric)));
			*text = s;
			*len = strlen(s);
			break;
		case jbvBool:
			*text = v->val.boolean ? "true" : "false";
			*len = v->val.boolean ? 4 : 5;
			break;
		case jbvBinary:
			s = JsonbToCString(NULL, v->val.binary.data, v->val.binary.len);
			*text = s;
			*len = strlen(s);
			break;
		default:
			/* scalars above and containers are all a stored jsonb holds */
			return false;
	}
	if (*len > PP_DIM_VALUE_MAX)
		*len = pg_mbcliplen(*text, *len, PP_DIM_VALUE_MAX);
	return true;
}

/*
 * The value of a node whose metadata object is metadata, of a row created
 * at at: at the dimension's key path, or its usage field -- o's, when the
 * caller has its observation, else read here.
 */
static bool
metadata_value(PPConfig *cfg, JsonbContainer *metadata, const PPNodeObs *o,
			   TimestampTz at, const PPDimensionDecl *dim, const char **text,
			   int *len)
{
	JsonbValue	v;
	int			k;

	if (dim->usage_field >= 0)
	{
		PPUsage		u;

		if (o == NULL)
		{
			pp_usage_read(cfg, metadata, at, &u);
			if (!u.has[dim->usage_field])
				return false;
			*text = dim->usage_field == PP_USAGE_MODEL ? u.model : u.provider;
			*len = dim->usage_field == PP_USAGE_MODEL ? u.model_len : u.provider_len;
			return true;
		}
		*text = dim->usage_field == PP_USAGE_MODEL ? o->model : o->provider;
		*len = dim->usage_field == PP_USAGE_MODEL ? o->model_len : o->provider_len;
		return *text != NULL;
	}
	v.type = jbvBinary;
	v.val.binary.data = metadata;
	for (k = 0; k < dim->n_keys; k++)
	{
		if (v.type != jbvBinary || !JsonContainerIsObject(v.val.binary.data))
			return false;
		if (getKeyJsonValueFromContainer(v.val.binary.data, dim->keys[k],
										 dim->key_lens[k], &v) == NULL)
			return false;
	}
	return value_text(&v, text, len);
}

/* The value of the node object node of a row created at at. */
static bool
node_value(PPConfig *cfg, JsonbContainer *node, TimestampTz at,
		   const PPDimensionDecl *dim, const char **text, int *len)
{
	JsonbValue	v;

	if (getKeyJsonValueFromContainer(node, "metadata", 8, &v) == NULL ||
		v.type != jbvBinary || !JsonContainerIsObject(v.val.binary.data))
		return false;
	return metadata_value(cfg, v.val.binary.data, NULL, at, dim, text, len);
}

void
pp_dimensions_prepare(PPConfig *cfg)
{
	uint64		sig = hash_bytes_uint32_extended((uint32) cfg->n_dimensions, 0);
	int			i,
				k;

	cfg->n_live_dimensions = Min(cfg->n_dimensions, PP_DIM_LIVE);
	for (i = 0; i < cfg->n_dimensions; i++)
	{
		PPDimensionDecl *d = &cfg->dimensions[i];
		StringInfoData id;

		/* the name, then the usage field or the keys, each NUL-terminated */
		initStringInfo(&id);
		appendBinaryStringInfo(&id, d->name, strlen(d->name) + 1);
		if (d->usage_field >= 0)
			appendStringInfo(&id, "usage:%s", pp_usage_field_name(d->usage_field));
		for (k = 0; k < d->n_keys; k++)
			appendBinaryStringInfo(&id, d->keys[k], d->key_lens[k] + 1);
		d->id = hash_bytes_extended((const unsigned char *) id.data, id.len, 0);
		d->live = i < cfg->n_live_dimensions;
		if (d->live)
			sig = hash_combine64(sig, d->id);
		pfree(id.data);
	}
	/* 0 says "none yet" in shared memory */
	cfg->dimensions_sig = sig == 0 ? 1 : sig;
}

void
pp_dimension_values(PPConfig *cfg, const pp_tree_t *tree, const PPNodeObs *obs,
					TimestampTz at, PPDimObs *out)
{
	int			n = cfg->n_live_dimensions;
	int32		k;
	int			d;

	for (k = 0; k < tree->n_nodes; k++)
	{
		const pp_tree_node_t *tn = &tree->nodes[k];

		for (d = 0; d < n; d++)
		{
			PPDimObs   *v = &out[k * n + d];

			if (tn->metadata != NULL &&
				metadata_value(cfg, (JsonbContainer *) tn->metadata, &obs[k], at,
							   &cfg->dimensions[d], &v->value, &v->value_len))
				v->hash = hash_bytes_extended((const unsigned char *) v->value,
											  v->value_len, 0);
			else if (tn->parent >= 0)
				*v = out[tn->parent * n + d];
			else
			{
				v->value = NULL;
				v->value_len = -1;
				v->hash = 0;
			}
		}
	}
}

/*
 * The value of every node of a stored profile, in the walker's pre-order
 * (document order), into values[0 .. n_nodes - 1]; the parents must agree
 * with the walker's.
 */
static void
profile_values(PPConfig *cfg, Jsonb *jb, TimestampTz at, const pp_tree_t *tree,
			   const PPDimensionDecl *dim, PPDimValue *values)
{
	JsonbContainer **stack = palloc(sizeof(JsonbContainer *) * tree->n_nodes);
	int32	   *parents = palloc(sizeof(int32) * tree->n_nodes);
	int			top = 0;
	int32		k = 0;

	stack[top] = &jb->root;
	parents[top++] = -1;
	while (top > 0)
	{
		JsonbContainer *node = stack[--top];
		int32		parent = parents[top];
		JsonbValue	children;
		const char *text;
		int			len;

		CHECK_FOR_INTERRUPTS();
		if (k >= tree->n_nodes || tree->nodes[k].parent != parent)
			elog(ERROR, "ppprof: a stored profile's nodes differ from its walk");
		if (node_value(cfg, node, at, dim, &text, &len))
		{
			values[k].value = text;
			values[k].value_len = len;
		}
		else if (parent >= 0)
			values[k] = values[parent];
		else
			values[k].value_len = -1;

		/* children in reverse, so that the first is walked next */
		if (getKeyJsonValueFromContainer(node, "children", 8, &children) != NULL &&
			children.type == jbvBinary &&
			JsonContainerIsArray(children.val.binary.data))
		{
			int			n = JsonContainerSize(children.val.binary.data);
			int			i;

			if (top + n > tree->n_nodes)
				elog(ERROR, "ppprof: a stored profile's nodes differ from its walk");
			for (i = n - 1; i >= 0; i--)
			{
				JsonbValue *child = getIthJsonbValueFromContainer(children.val.binary.data, i);

				if (child == NULL || child->type != jbvBinary)
					elog(ERROR, "ppprof: a stored profile's nodes differ from its walk");
				stack[top] = child->val.binary.data;
				parents[top++] = k;
			}
		}
		k++;
	}
	if (k != tree->n_nodes)
		elog(ERROR, "ppprof: a stored profile's nodes differ from its walk");
}

/* Is v one of the values w is restricted to? */
static bool
value_wanted(const PPDimWindow *w, const PPDimValue *v)
{
	int			i;

	for (i = 0; i < w->n_only; i++)
		if (v->value_len == w->only[i].value_len &&
			memcmp(v->value, w->only[i].value, v->value_len) == 0)
			return true;
	return false;
}

/* One profile: every node into (its operation, its value). */
static void
add_profile(PPDimWindow *w, Datum profile, TimestampTz at,
			const PPDimensionDecl *dim)
{
	pp_tree_t	tree;
	PPNodeObs  *obs;
	PPDimValue *values;
	int32		k;

	/* false: stored while ppprof was disabled, and not a valid profile */
	if (!pp_profile_observations(profile, at, &tree, &obs))
		return;
	values = palloc(sizeof(PPDimValue) * Max(tree.n_nodes, 1));
	profile_values(pp_config_get(), DatumGetJsonbP(profile), at, &tree, dim,
				   values);
	for (k = 0; k < tree.n_nodes; k++)
	{
		const pp_tree_node_t *n = &tree.nodes[k];
		PPDimAgg   *a;

		if (w->n_only > 0 && !value_wanted(w, &values[k]))
			continue;
		if (values[k].value_len >= 0)
		{
			PPDimValueCount key;
			PPDimValueCount *vc;
			bool		found;

			key.value = values[k].value;
			key.value_len = values[k].value_len;
			vc = hash_search(w->values, &key, HASH_FIND, NULL);
			if (vc == NULL &&
				hash_get_num_entries(w->values) >= PP_DIM_TRACKED_VALUES)
			{
				/* a value beyond those the read tracks: folded at once */
				w->folded_early = true;
				a = agg_get(w, n->name, (int) n->name_len, "", -2, true);
				pp_counters_add(&a->c, 1, &obs[k], at);
				continue;
			}
			if (vc == NULL)
			{
				vc = hash_search(w->values, &key, HASH_ENTER, &found);
				vc->value = copy_bytes(w->cxt, key.value, key.value_len);
				vc->calls = 0;
				vc->kept = false;
			}
			vc->calls++;
		}
		a = agg_get(w, n->name, (int) n->name_len, values[k].value,
					values[k].value_len, false);
		pp_counters_add(&a->c, 1, &obs[k], at);
		check_acc(pp_sketch_acc_add(a->acc, obs[k].duration_ms));
	}
}

/*
 * The declared dimension name, copied out of the cached configuration
 * (which a change committed meanwhile may drop during the scan).
 */
static const PPDimensionDecl *
dimension_get(PPConfig *cfg, text *name)
{
	char	   *cname = text_to_cstring(name);
	const PPDimensionDecl *decl = pp_config_dimension(cfg, cname);
	PPDimensionDecl *dim;
	int			k;

	if (decl == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("dimension \"%s\" is not declared", cname),
				 errhint("Declare it in %s.operation_dimensions (name, and key_path or usage_field).",
						 quote_identifier(get_namespace_name(cfg->schema)))));
	dim = palloc(sizeof(PPDimensionDecl));
	*dim = *decl;
	dim->name = cname;
	for (k = 0; k < dim->n_keys; k++)
		dim->keys[k] = pstrdup(decl->keys[k]);
	return dim;
}

/*
 * An empty w, in CurrentMemoryContext, for the n_only values only when
 * n_only > 0.
 */
static void
dim_window_init(PPDimWindow *w, const PPDimValue *only, int n_only)
{
	HASHCTL		info;

	memset(w, 0, sizeof(*w));
	w->cxt = CurrentMemoryContext;
	w->only = only;
	w->n_only = n_only;
	memset(&info, 0, sizeof(info));
	info.keysize = offsetof(PPDimAgg, value_len) + sizeof(int);
	info.entrysize = sizeof(PPDimAgg);
	info.hash = agg_key_hash;
	info.match = agg_key_match;
	info.hcxt = w->cxt;
	w->aggs = hash_create("ppprof dimension window", 64, &info,
						  HASH_ELEM | HASH_FUNCTION | HASH_COMPARE | HASH_CONTEXT);
	memset(&info, 0, sizeof(info));
	info.keysize = offsetof(PPDimValueCount, value_len) + sizeof(int);
	info.entrysize = sizeof(PPDimValueCount);
	info.hash = pp_name_key_hash;
	info.match = pp_name_key_match;
	info.hcxt = w->cxt;
	w->values = hash_create("ppprof dimension values", 64, &info,
							HASH_ELEM | HASH_FUNCTION | HASH_COMPARE | HASH_CONTEXT);
}

/*
 * Add to w the (operation, value) aggregates of dim over the profiles of
 * [t0, t1] -- [t0, t1) when end_open -- of the current database.
 */
static void
dim_window_scan(PPDimWindow *w, const PPDimensionDecl *dim, TimestampTz t0,
				TimestampTz t1, bool end_open)
{
	PPConfig   *cfg = pp_config_get();
	StringInfoData q;
	Oid			argtypes[2] = {TIMESTAMPTZOID, TIMESTAMPTZOID};
	Datum		args[2];
	Portal		portal;
	SPIPlanPtr	plan;
	PPSavedUser saved;
	MemoryContext rowcxt;

	if (t0 > t1 || (t0 == t1 && end_open))
		return;
	pp_spi_connect_as(pp_config_owner(cfg), &saved);
	initStringInfo(&q);
	appendStringInfo(&q,
					 "SELECT profile_data, created_at"
					 " FROM %s.performance_profiles"
					 " WHERE created_at OPERATOR(pg_catalog.>=) $1"
					 " AND created_at OPERATOR(pg_catalog.%s) $2"
					 " AND ppprof_rejected IS NULL"
					 " ORDER BY created_at, id",
					 quote_identifier(get_namespace_name(cfg->schema)),
					 end_open ? "<" : "<=");
	args[0] = TimestampTzGetDatum(t0);
	args[1] = TimestampTzGetDatum(t1);
	plan = SPI_prepare(q.data, 2, argtypes);
	if (plan == NULL)
		elog(ERROR, "ppprof: SPI_prepare failed: %s",
			 SPI_result_code_string(SPI_result));
	portal = SPI_cursor_open(NULL, plan, args, NULL, true);
	rowcxt = AllocSetContextCreate(CurrentMemoryContext,
								   "ppprof dimension row",
								   ALLOCSET_DEFAULT_SIZES);
	for (;;)
	{
		uint64		i;

		SPI_cursor_fetch(portal, true, 1000);
		if (SPI_processed == 0)
			break;
		for (i = 0; i < SPI_processed; i++)
		{
			HeapTuple	tup = SPI_tuptable->vals[i];
			TupleDesc	desc = SPI_tuptable->tupdesc;
			bool		isnull;
			Datum		profile = SPI_getbinval(tup, desc, 1, &isnull);
			TimestampTz at = DatumGetTimestampTz(SPI_getbinval(tup, desc, 2, &isnull));
			MemoryContext old = MemoryContextSwitchTo(rowcxt);

			add_profile(w, profile, at, dim);
			MemoryContextSwitchTo(old);
			MemoryContextReset(rowcxt);
		}
		SPI_freetuptable(SPI_tuptable);
	}
	SPI_cursor_close(portal);
	pp_spi_finish_as(&saved);
}

/* One shared bucket of the dimension into w (under the shared lock). */
static void
visit_dim_bucket(void *arg, const char *op, int op_len, const char *value,
				 int value_len, TimestampTz start, const PPCounters *c,
				 const pp_sketch_t *sketch)
{
	PPDimWindow *w = arg;
	PPDimAgg   *a = agg_get(w, op, op_len, value, value_len, false);

	pp_counters_merge(&a->c, c);
	check_acc(pp_sketch_acc_add_sketch(a->acc, sketch));
	if (value_len >= 0)
	{
		PPDimValueCount key;
		PPDimValueCount *vc;
		bool		found;

		key.value = value;
		key.value_len = value_len;
		vc = hash_search(w->values, &key, HASH_ENTER, &found);
		if (!found)
		{
			vc->value = copy_bytes(w->cxt, value, value_len);
			vc->calls = 0;
			vc->kept = false;
		}
		vc->calls += c->calls;
	}
}

/*
 * Fill w with the (operation, value) aggregates of dimension name over the
 * profiles of [t0, t1] -- [t0, t1) when end_open -- of the current
 * database, in CurrentMemoryContext: from shared memory when it covers the
 * window, the edges from the table; else all from the table.
 */
static void
dim_window_get(PPDimWindow *w, text *name, TimestampTz t0, TimestampTz t1,
			   bool end_open)
{
	const PPDimensionDecl *dim = dimension_get(pp_config_get(), name);
	PPWindowPlan plan;

	dim_window_init(w, NULL, 0);
	if (t0 > t1 || (t0 == t1 && end_open))
		return;
	if (!dim->live || !pp_shmem_attached())
	{
		dim_window_scan(w, dim, t0, t1, end_open);
		return;
	}
	if (!pp_shmem_collect_dims(MyDatabaseId, dim->id, t0, t1, end_open,
							   visit_dim_bucket, w, &plan))
	{
		if (plan.rebuild)
			pp_shmem_invalidate(MyDatabaseId, true);
		if (plan.invalid || plan.rebuild)
			pp_request_rebuild(MyDatabaseId);
		dim_window_scan(w, dim, t0, t1, end_open);
		return;
	}
	dim_window_scan(w, dim, plan.edge_lo_from, plan.edge_lo_to, true);
	dim_window_scan(w, dim, plan.edge_hi_from, plan.edge_hi_to,
					plan.edge_hi_open);
	if (w->folded_early ||
		hash_get_num_entries(w->values) > PP_DIM_TRACKED_VALUES)
	{
		/* the table keeps the values it meets first: answer as it does */
		hash_destroy(w->aggs);
		hash_destroy(w->values);
		dim_window_init(w, NULL, 0);
		dim_window_scan(w, dim, t0, t1, end_open);
	}
}

/* dim_window_get from the table, for the n_only values only. */
static void
dim_window_read(PPDimWindow *w, text *name, TimestampTz t0, TimestampTz t1,
				bool end_open, const PPDimValue *only, int n_only)
{
	const PPDimensionDecl *dim = dimension_get(pp_config_get(), name);

	dim_window_init(w, only, n_only);
	dim_window_scan(w, dim, t0, t1, end_open);
}

/* Most nodes first, ties in byte order of the value. */
static int
value_count_cmp(const void *a, const void *b)
{
	const PPDimValueCount *x = *(PPDimValueCount *const *) a;
	const PPDimValueCount *y = *(PPDimValueCount *const *) b;
	int			r;

	if (x->calls != y->calls)
		return x->calls > y->calls ? -1 : 1;
	r = memcmp(x->value, y->value, Min(x->value_len, y->value_len));
	if (r != 0)
		return r;
	return x->value_len < y->value_len ? -1 : x->value_len > y->value_len;
}

/* Keep the ppprof.max_dimension_values values with the most nodes. */
static void
mark_kept_values(PPDimWindow *w)
{
	long		n = hash_get_num_entries(w->values);
	PPDimValueCount **order = palloc(sizeof(PPDimValueCount *) * Max(n, 1));
	HASH_SEQ_STATUS status;
	PPDimValueCount *vc;
	long		i = 0;

	hash_seq_init(&status, w->values);
	while ((vc = hash_seq_search(&status)) != NULL)
		order[i++] = vc;
	qsort(order, n, sizeof(PPDimValueCount *), value_count_cmp);
	for (i = 0; i < n && i < pp_max_dimension_values; i++)
		order[i]->kept = true;
}

/* Byte order of the operation, then value order (NULL, then fold, last). */
static int
agg_row_cmp(const void *a, const void *b)
{
	const PPDimAgg *x = *(PPDimAgg *const *) a;
	const PPDimAgg *y = *(PPDimAgg *const *) b;
	int			r = memcmp(x->op, y->op, Min(x->op_len, y->op_len));
	int			rank_x,
				rank_y;

	if (r != 0)
		return r;
	if (x->op_len != y->op_len)
		return x->op_len < y->op_len ? -1 : 1;
	rank_x = x->folded ? 2 : x->value_len < 0 ? 1 : 0;
	rank_y = y->folded ? 2 : y->value_len < 0 ? 1 : 0;
	if (rank_x != rank_y || rank_x != 0)
		return rank_x - rank_y;
	r = memcmp(x->value, y->value, Min(x->value_len, y->value_len));
	if (r != 0)
		return r;
	return x->value_len < y->value_len ? -1 : x->value_len > y->value_len;
}

static void
dim_values(PPConfig *cfg, const PPDimAgg *a, Datum *values, bool *nulls)
{
	const PPCounters *c = &a->c;

	memset(nulls, 0, sizeof(bool) * PP_DIM_COLUMNS);
	pp_operation_columns(cfg, a->op, a->op_len, &values[0], &nulls[0]);
	if (a->folded)
		values[2] = CStringGetTextDatum(PP_FOLD_NAME);
	else if (a->value_len < 0)
		nulls[2] = true;
	else
		values[2] = PointerGetDatum(cstring_to_text_with_len(a->value, a->value_len));
	values[3] = BoolGetDatum(a->folded);
	values[4] = Int64GetDatum(c->calls);
	values[5] = Int64GetDatum(c->errors);
	values[6] = Float8GetDatum((double) c->errors / c->calls);
	values[7] = Float8GetDatum(c->sum_ms / c->calls);
	if (a->acc != NULL)
	{
		values[8] = Float8GetDatum(pp_sketch_acc_quantile(a->acc, 0.50));
		values[9] = Float8GetDatum(pp_sketch_acc_quantile(a->acc, 0.95));
		values[10] = Float8GetDatum(pp_sketch_acc_quantile(a->acc, 0.99));
	}
	else
		nulls[8] = nulls[9] = nulls[10] = true;
	values[11] = Float8GetDatum(c->sum_ms);
	values[12] = Int64GetDatum(c->input_tokens);
	values[13] = Int64GetDatum(c->output_tokens);
	values[14] = Float8GetDatum(c->cost_nusd / PP_NUSD_PER_USD);
}

/* The rows of dimension name over [t0, t1] -- [t0, t1) when end_open. */
static void
dimension_stats(FunctionCallInfo fcinfo, text *name, TimestampTz t0,
				TimestampTz t1, bool end_open)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	PPDimWindow w;
	PPConfig   *cfg;
	HASH_SEQ_STATUS status;
	PPDimAgg   *a;
	PPDimAgg  **rows;
	List	   *folds = NIL;
	ListCell   *lc;
	int			n = 0,
				i;
	Datum		values[PP_DIM_COLUMNS];
	bool		nulls[PP_DIM_COLUMNS];

	dim_window_get(&w, name, t0, t1, end_open);
	mark_kept_values(&w);

	/* the values not kept go to their operation's fold row */
	hash_seq_init(&status, w.aggs);
	while ((a = hash_seq_search(&status)) != NULL)
	{
		PPDimValueCount key;
		PPDimValueCount *vc;

		if (a->folded || a->value_len < 0)
			continue;
		key.value = a->value;
		key.value_len = a->value_len;
		vc = hash_search(w.values, &key, HASH_FIND, NULL);
		if (vc == NULL || vc->kept)
			continue;
		folds = lappend(folds, a);
	}
	foreach(lc, folds)
	{
		PPDimAgg   *from = lfirst(lc);
		PPDimAgg   *fold;

		/* (op, NUL-less "(other)" key of length -2) cannot clash with a value */
		fold = agg_get(&w, from->op, from->op_len, "", -2, true);
		pp_counters_merge(&fold->c, &from->c);
		from->c.calls = 0;
	}

	cfg = pp_config_get();
	rows = palloc(sizeof(PPDimAgg *) * Max(hash_get_num_entries(w.aggs), 1));
	hash_seq_init(&status, w.aggs);
	while ((a = hash_seq_search(&status)) != NULL)
		if (a->c.calls > 0)
			rows[n++] = a;
	qsort(rows, n, sizeof(PPDimAgg *), agg_row_cmp);
	for (i = 0; i < n; i++)
	{
		dim_values(cfg, rows[i], values, nulls);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
}

/*
 * pp_dimension_stats(window interval DEFAULT '24 hours',
 *					  dimension text DEFAULT 'model')
 */
Datum
pp_dimension_stats(PG_FUNCTION_ARGS)
{
	TimestampTz t0,
				t1;

	InitMaterializedSRF(fcinfo, 0);
	pp_window_bounds(PG_GETARG_DATUM(0), &t0, &t1);
	dimension_stats(fcinfo, PG_GETARG_TEXT_PP(1), t0, t1, false);
	return (Datum) 0;
}

/*
 * pp_range_dimension_stats(range tstzrange, dimension text DEFAULT 'model')
 */
Datum
pp_range_dimension_stats(PG_FUNCTION_ARGS)
{
	TimestampTz t0,
				t1;
	bool		end_open;

	InitMaterializedSRF(fcinfo, 0);
	pp_range_bounds(PG_GETARG_DATUM(0), "the", &t0, &t1, &end_open);
	dimension_stats(fcinfo, PG_GETARG_TEXT_PP(1), t0, t1, end_open);
	return (Datum) 0;
}

/* A value argument as the values of nodes are kept: cut like them. */
static void
value_arg(text *t, PPDimValue *v)
{
	v->value = VARDATA_ANY(t);
	v->value_len = VARSIZE_ANY_EXHDR(t);
	if (v->value_len > PP_DIM_VALUE_MAX)
		v->value_len = pg_mbcliplen(v->value, v->value_len, PP_DIM_VALUE_MAX);
}

/* The aggregate of (op, value) in w as a PPAgg for pp_compare_row. */
static bool
as_agg(PPDimWindow *w, const char *op, int op_len, const PPDimValue *v,
	   PPAgg *out)
{
	PPDimAgg	key;
	PPDimAgg   *a;

	key.op = op;
	key.op_len = op_len;
	key.value = v->value;
	key.value_len = v->value_len;
	a = hash_search(w->aggs, &key, HASH_FIND, NULL);
	if (a == NULL || a->c.calls <= 0)
		return false;
	memset(out, 0, sizeof(*out));
	out->name = a->op;
	out->name_len = a->op_len;
	out->c = a->c;
	out->acc = a->acc;
	return true;
}

/*
 * pp_compare_values(range tstzrange, dimension text, before_value text,
 *					 after_value text)
 *
 * pp_compare's columns per operation, comparing the nodes of the range
 * whose dimension value is before_value with those whose value is
 * after_value ("is prompt v7 slower than v6" in one call); operations in
 * byte order of their names.
 */
Datum
pp_compare_values(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	TimestampTz t0,
				t1;
	bool		end_open;
	PPDimValue	only[2];
	PPDimWindow w;
	PPConfig   *cfg;
	HASH_SEQ_STATUS status;
	PPDimAgg   *a;
	PPDimAgg  **rows;
	int			n = 0,
				i;

	InitMaterializedSRF(fcinfo, 0);
	pp_range_bounds(PG_GETARG_DATUM(0), "the", &t0, &t1, &end_open);
	value_arg(PG_GETARG_TEXT_PP(2), &only[0]);
	value_arg(PG_GETARG_TEXT_PP(3), &only[1]);
	dim_window_read(&w, PG_GETARG_TEXT_PP(1), t0, t1, end_open, only, 2);

	/* one row per operation: the first aggregate met of each, in order */
	rows = palloc(sizeof(PPDimAgg *) * Max(hash_get_num_entries(w.aggs), 1));
	hash_seq_init(&status, w.aggs);
	while ((a = hash_seq_search(&status)) != NULL)
		rows[n++] = a;
	qsort(rows, n, sizeof(PPDimAgg *), agg_row_cmp);
	cfg = pp_config_get();
	for (i = 0; i < n; i++)
	{
		PPAgg		b,
					x;
		bool		has_b,
					has_x;

		if (i > 0 && rows[i]->op_len == rows[i - 1]->op_len &&
			memcmp(rows[i]->op, rows[i - 1]->op, rows[i]->op_len) == 0)
			continue;
		has_b = as_agg(&w, rows[i]->op, rows[i]->op_len, &only[0], &b);
		has_x = as_agg(&w, rows[i]->op, rows[i]->op_len, &only[1], &x);
		pp_compare_row(rsinfo, cfg, rows[i]->op, rows[i]->op_len,
					   has_b ? &b : NULL, has_x ? &x : NULL, false, false);
	}
	return (Datum) 0;
}
