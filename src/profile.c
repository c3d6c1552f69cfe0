/*-------------------------------------------------------------------------
 *
 * src/profile.c
 *	  A stored row of performance_profiles as ppprof reads it.
 *
 * Four paths read stored profiles: the BEFORE trigger (ingest.c) walks the
 * profile it is about to store; the AFTER trigger (observe.c) walks a row it
 * did not see staged, or one that is deleted; the rebuild (rebuild.c) walks
 * every row; a window (window.c) walks the rows of its edges.  They share
 * here the column map, the walk with the ppprof.max_* limits, the newest
 * created_at accepted, and the one function that turns a stored profile
 * into the per-node observations the statistics consume.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/datum.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "allocator.h"
#include "config.h"
#include "guc.h"
#include "jsonb_source.h"
#include "profile.h"

/* Walks of stored profiles; reset at the start of each. */
static MemoryContext ProfileContext = NULL;

/*
 * The attribute numbers of performance_profiles' columns in desc, indexed
 * by PPColumn.  Looked up by name once; later calls only check that each
 * number still names its column (an ALTER TABLE may have moved one), which
 * costs a tenth of the lookups.
 */
const int *
pp_profile_columns(TupleDesc desc)
{
	static const char *const names[PP_NUM_COLUMNS] = {
		"id", "query_id", "profile_data", "total_duration_ms",
		"bottleneck_operations", "optimization_suggestions", "created_at",
		"ppprof_analyzed", "ppprof_rejected"
	};
	static int	attnums[PP_NUM_COLUMNS];
	static bool known = false;
	int			c;

	for (c = 0; known && c < PP_NUM_COLUMNS; c++)
	{
		Form_pg_attribute att;

		if (attnums[c] > desc->natts)
			break;
		att = TupleDescAttr(desc, attnums[c] - 1);
		if (att->attisdropped || strcmp(NameStr(att->attname), names[c]) != 0)
			break;
	}
	if (known && c == PP_NUM_COLUMNS)
		return attnums;

	known = false;
	for (c = 0; c < PP_NUM_COLUMNS; c++)
	{
		attnums[c] = SPI_fnumber(desc, names[c]);
		if (attnums[c] <= 0)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("performance_profiles has no column \"%s\"", names[c]),
					 errhint("Drop and create the extension ppprof again.")));
	}
	known = true;
	return attnums;
}

bool
pp_profile_rejected(HeapTuple tuple, TupleDesc desc)
{
	return !heap_attisnull(tuple, pp_profile_columns(desc)[PP_COL_PPPROF_REJECTED],
						   desc);
}

/* Same value in both tuples: a binary comparison, after detoasting. */
bool
pp_profile_column_equal(HeapTuple a, HeapTuple b, TupleDesc desc,
						PPColumn column)
{
	int			attnum = pp_profile_columns(desc)[column];
	bool		anull,
				bnull;
	Datum		ad = heap_getattr(a, attnum, desc, &anull);
	Datum		bd = heap_getattr(b, attnum, desc, &bnull);
	Form_pg_attribute att = TupleDescAttr(desc, attnum - 1);
	struct varlena *av,
			   *bv;

	if (anull || bnull)
		return anull == bnull;
	if (att->attlen != -1)
		return datumIsEqual(ad, bd, att->attbyval, att->attlen);
	av = pg_detoast_datum_packed((struct varlena *) DatumGetPointer(ad));
	bv = pg_detoast_datum_packed((struct varlena *) DatumGetPointer(bd));
	return VARSIZE_ANY_EXHDR(av) == VARSIZE_ANY_EXHDR(bv) &&
		memcmp(VARDATA_ANY(av), VARDATA_ANY(bv), VARSIZE_ANY_EXHDR(av)) == 0;
}

TimestampTz
pp_created_at_limit(void)
{
	return GetCurrentTimestamp() + (int64) pp_max_clock_skew_s * USECS_PER_SEC;
}

bool
pp_profile_tree(Jsonb *jb, MemoryContext cxt, pp_tree_t *tree, pp_error_t *err)
{
	pp_tree_source_t source;
	pp_tree_limits_t limits;

	limits.max_depth = pp_max_depth;
	limits.max_nodes = pp_max_nodes;
	limits.max_name_length = (size_t) pp_max_name_length;
	pp_jsonb_source_init(&source);
	return pp_tree_walk(&source, pp_jsonb_root_handle(jb), &limits,
						pp_palloc_allocator(cxt), tree, err) == PP_OK;
}

void
pp_tree_observations(const pp_tree_t *tree, TimestampTz created_at,
					 PPNodeObs *obs,
					 const char *(*type_of) (void *arg, int32_t i), void *arg)
{
	pp_node_shape_t *shapes = palloc(sizeof(pp_node_shape_t) * Max(tree->n_nodes, 1));
	PPConfig   *cfg = pp_config_get();
	int32		i;

	if (pp_tree_shapes(tree, type_of, arg, pp_current_allocator(), shapes) != PP_OK)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	for (i = 0; i < tree->n_nodes; i++)
	{
		const pp_tree_node_t *tn = &tree->nodes[i];
		PPNodeObs  *o = &obs[i];

		o->name = NULL;
		o->name_len = (int) tn->name_len;
		o->name_hash = hash_bytes_extended((const unsigned char *) tn->name,
										   (int) tn->name_len, 0);
		o->duration_ms = tn->duration_ms;
		o->self_ms = tn->self_ms;
		o->failed = tn->failed;
		o->repeated = shapes[i].repeated;
		o->repeat_first = shapes[i].repeat_first;
		o->parallel_saving_ms = shapes[i].parallel_saving_ms;
		o->cache = tn->cache;
		o->input_tokens = o->output_tokens = o->cost_nusd = 0;
		o->ttft_ms = -1;
		o->cost_unknown = false;
		o->usage_ignored = 0;
		o->model = o->provider = NULL;
		o->model_len = o->provider_len = 0;
		if (tn->metadata != NULL)
		{
			PPUsage		u;

			pp_usage_read(cfg, tn->metadata, created_at, &u);
			o->input_tokens = (int64) u.number[PP_USAGE_INPUT_TOKENS];
			o->output_tokens = (int64) u.number[PP_USAGE_OUTPUT_TOKENS];
			if (u.has[PP_USAGE_TTFT_MS])
				o->ttft_ms = u.number[PP_USAGE_TTFT_MS];
			if (u.cost_source == PP_COST_EXPLICIT || u.cost_source == PP_COST_PRICED)
				o->cost_nusd = u.cost_nusd;
			o->cost_unknown = u.cost_source == PP_COST_UNKNOWN;
			o->usage_ignored = (int16) Min(u.ignored, PG_INT16_MAX);
			if (u.has[PP_USAGE_MODEL])
			{
				o->model = u.model;
				o->model_len = u.model_len;
			}
			if (u.has[PP_USAGE_PROVIDER])
			{
				o->provider = u.provider;
				o->provider_len = u.provider_len;
			}
		}
		/* pre-order: the parent's path hash is known */
		o->parent = tn->parent;
		o->path_hash = pp_path_hash(tn->parent < 0 ? 0 : obs[tn->parent].path_hash,
									o->name_hash);
		o->path_slot = -1;
	}
	pfree(shapes);
}

/* The operation type of node i of the tree in arg, from the configuration. */
static const char *
node_type(void *arg, int32_t i)
{
	const pp_tree_t *tree = arg;
	PPConfig   *cfg = pp_config_get();

	return pp_classifier_type(cfg->classifier, tree->nodes[i].name,
							  tree->nodes[i].name_len);
}

bool
pp_profile_observations(Datum profile, TimestampTz created_at, pp_tree_t *tree,
						PPNodeObs **obs)
{
	pp_error_t	err;
	MemoryContext old;
	bool		ok;

	if (ProfileContext == NULL)
		ProfileContext = AllocSetContextCreate(TopMemoryContext,
											   "ppprof stored profile",
											   ALLOCSET_DEFAULT_SIZES);
	MemoryContextReset(ProfileContext);
	/* detoasted here too, so that a scan of many rows holds one at a time */
	old = MemoryContextSwitchTo(ProfileContext);
	ok = pp_profile_tree(DatumGetJsonbP(profile), ProfileContext, tree, &err);
	if (ok)
	{
		*obs = palloc(sizeof(PPNodeObs) * Max(tree->n_nodes, 1));
		pp_tree_observations(tree, created_at, *obs, node_type, tree);
	}
	MemoryContextSwitchTo(old);
	return ok;
}
