/*-------------------------------------------------------------------------
 *
 * src/ingest.c
 *	  Ingest of profiles: the BEFORE INSERT OR UPDATE trigger on
 *	  performance_profiles, pp_ingest, pp_ingest_batch, pp_ingest_jsonl and
 *	  pp_analyze_profile.
 *
 * Every path goes through the trigger, so a plain INSERT from a Supabase or
 * psycopg client and pp_ingest give identical rows.  For each profile the
 * trigger
 *	1. walks profile_data in place (src/jsonb_source.c) with the core walker
 *	   (src/core/tree.c), which validates it and computes every node's
 *	   duration and self time in one pass without recursion;
 *	2. classifies every node and looks up its threshold in the cached
 *	   configuration (src/config.c), with no query per row;
 *	3. fills total_duration_ms, bottleneck_operations and
 *	   optimization_suggestions when the client left them NULL or empty.
 * A bad profile raises one ERROR whose message names the JSON path of the
 * offending value; the row is not stored.  Except from a logical
 * replication worker (a subscription's initial copy or its apply), which
 * would retry the failed change forever: there the row is stored with the
 * reason in ppprof_rejected, left out of every statistic, and counted in
 * pp_info() (docs/scaling.md).
 *
 * Per-profile work happens in IngestContext, reset at the start of each
 * profile, so that a long batch does not accumulate memory.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "common/pg_prng.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "portability/instr_time.h"
#include "replication/logicalworker.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"

#include "config.h"
#include "guc.h"
#include "ingest.h"
#include "jsonb_build.h"
#include "observe.h"
#include "profile.h"
#include "shmem.h"
#include "spi_owner.h"

PG_FUNCTION_INFO_V1(pp_profiles_trigger);
PG_FUNCTION_INFO_V1(pp_ingest);
PG_FUNCTION_INFO_V1(pp_ingest_batch);
PG_FUNCTION_INFO_V1(pp_ingest_jsonl);
PG_FUNCTION_INFO_V1(pp_analyze_profile);

/* Analysis of one profile; lives in IngestContext. */
typedef struct ProfileAnalysis
{
	pp_tree_t	tree;
	const char **types;			/* per node: operation type */
	double	   *thresholds_ms;	/* per node: threshold, NAN when none */
	int			n_bottlenecks;
} ProfileAnalysis;

/*
 * Why a row cannot be counted: the ERROR a local write raises, or what a
 * replicated row is marked with (reject_row).
 */
typedef struct Rejection
{
	int			sqlstate;
	char	   *message;
	const char *hint;
} Rejection;

static MemoryContext IngestContext = NULL;

/* The statements of the pp_ingest functions (get_plan) */
typedef enum IngestStatement
{
	STMT_ONE,					/* pp_ingest: one profile */
	STMT_ARRAY_ELEMENTS,		/* pp_ingest_batch: a jsonb array's elements */
	STMT_UNNEST,				/* pp_ingest_jsonl: a jsonb[]'s elements */
	NUM_STATEMENTS
} IngestStatement;


void
pp_ingest_init(void)
{
	IngestContext = AllocSetContextCreate(TopMemoryContext,
										  "ppprof ingest",
										  ALLOCSET_DEFAULT_SIZES);
}

static int
error_sqlstate(pp_error_code_t code)
{
	switch (code)
	{
		case PP_ERR_OUT_OF_RANGE:
			return ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE;
		case PP_ERR_NAME_TOO_LONG:
		case PP_ERR_TOO_DEEP:
		case PP_ERR_TOO_MANY_NODES:
			return ERRCODE_PROGRAM_LIMIT_EXCEEDED;
		case PP_ERR_NO_MEMORY:
			return ERRCODE_OUT_OF_MEMORY;
		default:
			return ERRCODE_INVALID_PARAMETER_VALUE;
	}
}

static const char *
error_hint(pp_error_code_t code)
{
	switch (code)
	{
		case PP_ERR_NAME_TOO_LONG:
			return "Shorten the operation name or raise ppprof.max_name_length.";
		case PP_ERR_TOO_DEEP:
			return "Flatten the profile or raise ppprof.max_depth.";
		case PP_ERR_TOO_MANY_NODES:
			return "Split the profile or raise ppprof.max_nodes.";
		default:
			return "Each node is an object with operation_name, duration_ms (or start_time and end_time), and optionally metadata, children and error.";
	}
}

/* errdetail saying what was not stored */
static int
errdetail_not_stored(const char *query_id)
{
	if (query_id != NULL)
		return errdetail("The profile of query_id \"%s\" was not stored.", query_id);
	return errdetail("The profile was not stored.");
}

/*
 * Error context of the profile a batch function is checking: which one
 * failed, and that the batch was stored whole or not at all.
 */
static void
batch_element_context(void *arg)
{
	errcontext("profile $[%d] of the batch; no profile of the batch was stored",
			   *(int *) arg);
}

static void
jsonl_line_context(void *arg)
{
	errcontext("profile on line %d of the batch; no profile of the batch was stored",
			   *(int *) arg);
}

static void
raise_rejection(const Rejection *r, const char *query_id)
{
	ereport(ERROR,
			(errcode(r->sqlstate),
			 errmsg_internal("%s", r->message),
			 errdetail_not_stored(query_id),
			 errhint("%s", r->hint)));
}

static void
profile_rejection(const pp_error_t *err, Rejection *r)
{
	r->sqlstate = error_sqlstate(err->code);
	r->message = psprintf("invalid profile at %s: %s", err->path, err->text);
	r->hint = error_hint(err->code);
}

/*
 * Validate and analyse jb in IngestContext (which the caller has reset).
 * Returns false, with the reason in *r (allocated in the caller's context),
 * for a bad profile.
 */
static bool
analyze_profile(Jsonb *jb, PPConfig *cfg, ProfileAnalysis *pa, Rejection *r)
{
	MemoryContext caller = CurrentMemoryContext;
	MemoryContext old = MemoryContextSwitchTo(IngestContext);
	pp_error_t	err;
	int32_t		i;

	memset(pa, 0, sizeof(*pa));
	if (!pp_profile_tree(jb, IngestContext, &pa->tree, &err))
	{
		MemoryContextSwitchTo(caller);
		profile_rejection(&err, r);
		return false;
	}

	pa->types = palloc(sizeof(char *) * pa->tree.n_nodes);
	pa->thresholds_ms = palloc(sizeof(double) * pa->tree.n_nodes);
	for (i = 0; i < pa->tree.n_nodes; i++)
	{
		const pp_tree_node_t *n = &pa->tree.nodes[i];
		double		t;

		CHECK_FOR_INTERRUPTS();
		pa->types[i] = pp_classifier_type(cfg->classifier, n->name, n->name_len);
		if (pp_classifier_threshold(cfg->classifier, n->name, n->name_len,
									pa->types[i], &t))
		{
			pa->thresholds_ms[i] = t;
			if (n->duration_ms > t)
				pa->n_bottlenecks++;
		}
		else
			pa->thresholds_ms[i] = NAN;
	}
	MemoryContextSwitchTo(old);
	return true;
}

/* The same, raising the ERROR of a bad profile (the batch functions). */
static void
analyze_profile_or_error(Jsonb *jb, PPConfig *cfg, ProfileAnalysis *pa)
{
	Rejection	r;

	if (!analyze_profile(jb, cfg, pa, &r))
		raise_rejection(&r, NULL);
}

static inline bool
is_bottleneck(const ProfileAnalysis *pa, int32_t i)
{
	return !isnan(pa->thresholds_ms[i]) &&
		pa->tree.nodes[i].duration_ms > pa->thresholds_ms[i];
}

/* A node's JSON path, palloc'd. */
static char *
node_path(const ProfileAnalysis *pa, int32_t i)
{
	char		small[128];
	size_t		len = pp_tree_node_path(&pa->tree, i, small, sizeof(small));
	char	   *buf;

	if (len < sizeof(small))
		return pstrdup(small);
	buf = palloc(len + 1);
	pp_tree_node_path(&pa->tree, i, buf, len + 1);
	return buf;
}

/*
 * What bottleneck_operations may hold (docs/profile-format.md): the
 * PP_MAX_STORED_BOTTLENECKS slowest bottlenecks, each path at most
 * PP_MAX_STORED_PATH bytes.  Without them one deep, wide profile of 531 KB
 * stored 13.2 MB of paths.  pp_analyze_profile() has every node.
 */
#define PP_MAX_STORED_BOTTLENECKS	100
#define PP_MAX_STORED_PATH			256
#define PATH_HEAD					96	/* bytes kept before the "..." */

/*
 * A stored path: the node's JSON path, or when longer than
 * PP_MAX_STORED_PATH its head and tail, cut between ".children[i]"
 * segments, around "..": "$.children[0].children[2]...children[7]".
 */
static char *
stored_path(const ProfileAnalysis *pa, int32_t i)
{
	char	   *path = node_path(pa, i);
	size_t		len = strlen(path);
	size_t		head;
	size_t		tail;

	if (len <= PP_MAX_STORED_PATH)
		return path;
	/* the last segment start at or before PATH_HEAD, the first after */
	head = PATH_HEAD;
	while (head > 1 && path[head] != '.')
		head--;
	tail = len - (PP_MAX_STORED_PATH - head - 2);
	while (tail < len && path[tail] != '.')
		tail++;
	return psprintf("%.*s..%s", (int) head, path, path + tail);
}

/* slowest first, then document order */
static int
bottleneck_cmp(const void *a, const void *b, void *arg)
{
	const ProfileAnalysis *pa = arg;
	int32_t		x = *(const int32_t *) a;
	int32_t		y = *(const int32_t *) b;
	double		dx = pa->tree.nodes[x].duration_ms;
	double		dy = pa->tree.nodes[y].duration_ms;

	if (dx != dy)
		return dx > dy ? -1 : 1;
	return x < y ? -1 : x > y;
}

static int
int32_cmp(const void *a, const void *b)
{
	int32_t		x = *(const int32_t *) a;
	int32_t		y = *(const int32_t *) b;

	return x < y ? -1 : x > y;
}

/*
 * bottleneck_operations: the nodes whose duration exceeds their threshold,
 * in document order; the PP_MAX_STORED_BOTTLENECKS slowest of them when
 * there are more.
 */
static Jsonb *
build_bottlenecks(const ProfileAnalysis *pa)
{
	JsonbParseState *st = NULL;
	JsonbValue *res;
	int32_t    *kept = palloc(sizeof(int32_t) * Max(pa->n_bottlenecks, 1));
	int			n_kept = 0;
	int			k;
	int32_t		i;

	for (i = 0; i < pa->tree.n_nodes && n_kept < pa->n_bottlenecks; i++)
		if (is_bottleneck(pa, i))
			kept[n_kept++] = i;
	if (n_kept > PP_MAX_STORED_BOTTLENECKS)
	{
		qsort_arg(kept, n_kept, sizeof(int32_t), bottleneck_cmp, (void *) pa);
		n_kept = PP_MAX_STORED_BOTTLENECKS;
		qsort(kept, n_kept, sizeof(int32_t), int32_cmp);
	}

	pushJsonbValue(&st, WJB_BEGIN_ARRAY, NULL);
	for (k = 0; k < n_kept; k++)
	{
		const pp_tree_node_t *n = &pa->tree.nodes[kept[k]];
		char	   *path;

		i = kept[k];
		CHECK_FOR_INTERRUPTS();
		path = stored_path(pa, i);
		pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
		pp_jb_string_n(&st, "path", path, strlen(path));
		pp_jb_string_n(&st, "operation", n->name, n->name_len);
		pp_jb_string_n(&st, "operation_type", pa->types[i], strlen(pa->types[i]));
		pp_jb_number(&st, "duration_ms", n->duration_ms);
		pp_jb_number(&st, "self_ms", n->self_ms);
		pp_jb_number(&st, "threshold_ms", pa->thresholds_ms[i]);
		pushJsonbValue(&st, WJB_END_OBJECT, NULL);
	}
	res = pushJsonbValue(&st, WJB_END_ARRAY, NULL);
	return JsonbValueToJsonb(res);
}

/*
 * optimization_suggestions: the catalogue's entries for each type that has a
 * bottleneck, types in order of their first bottleneck.  The result depends
 * only on that sequence of types, so it is built once per sequence and kept
 * with the configuration (which a change to the catalogue reloads).
 */
#define SUGGESTION_KEY_MAX 256
#define SUGGESTION_CACHE_MAX 256

typedef struct SuggestionCacheEntry
{
	char		key[SUGGESTION_KEY_MAX];	/* types, separated by \x1f */
	Jsonb	   *value;
} SuggestionCacheEntry;

static Jsonb *
build_suggestions(const ProfileAnalysis *pa, PPConfig *cfg)
{
	JsonbParseState *st = NULL;
	const char **seen = palloc(sizeof(char *) * (pa->n_bottlenecks + 1));
	int			n_seen = 0;
	char		key[SUGGESTION_KEY_MAX];
	size_t		key_len = 0;
	bool		cacheable = true;
	SuggestionCacheEntry *entry = NULL;
	Jsonb	   *result;
	int32_t		i;
	int			t;

	for (i = 0; i < pa->tree.n_nodes; i++)
	{
		const char *type = pa->types[i];
		size_t		len = strlen(type);
		int			k;

		if (!is_bottleneck(pa, i))
			continue;
		for (k = 0; k < n_seen; k++)
			if (strcmp(seen[k], type) == 0)
				break;
		if (k < n_seen)
			continue;
		seen[n_seen++] = type;
		if (key_len + len + 2 > sizeof(key))
			cacheable = false;
		else
		{
			memcpy(key + key_len, type, len);
			key_len += len;
			key[key_len++] = '\x1f';
		}
	}

	if (cacheable)
	{
		bool		found;

		key[key_len] = '\0';
		if (cfg->suggestion_cache == NULL)
		{
			HASHCTL		info;

			memset(&info, 0, sizeof(info));
			info.keysize = SUGGESTION_KEY_MAX;
			info.entrysize = sizeof(SuggestionCacheEntry);
			info.hcxt = cfg->cxt;
			cfg->suggestion_cache = hash_create("ppprof suggestions", 32, &info,
												HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
		}
		entry = hash_search(cfg->suggestion_cache, key, HASH_FIND, NULL);
		if (entry != NULL && entry->value != NULL)
			return entry->value;
		if (entry == NULL &&
			hash_get_num_entries(cfg->suggestion_cache) < SUGGESTION_CACHE_MAX)
		{
			/* value stays NULL until built: an error meanwhile leaves no trap */
			entry = hash_search(cfg->suggestion_cache, key, HASH_ENTER, &found);
			entry->value = NULL;
		}
	}

	pushJsonbValue(&st, WJB_BEGIN_ARRAY, NULL);
	for (t = 0; t < n_seen; t++)
	{
		const char *type = seen[t];
		int			k;

		for (k = 0; k < cfg->n_catalog; k++)
		{
			const PPCatalogEntry *e = &cfg->catalog[k];

			if (strcmp(e->operation_type, type) != 0)
				continue;
			pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
			pp_jb_string_n(&st, "operation_type", type, strlen(type));
			pp_jb_string_n(&st, "suggestion", e->suggestion, strlen(e->suggestion));
			pp_jb_string_n(&st, "effort", e->effort, strlen(e->effort));
			pp_jb_number(&st, "expected_reduction_pct", e->expected_reduction_pct);
			pushJsonbValue(&st, WJB_END_OBJECT, NULL);
		}
	}
	result = pp_jb_finish(&st, false);
	if (entry != NULL)
	{
		Jsonb	   *copy = MemoryContextAlloc(cfg->cxt, VARSIZE(result));

		memcpy(copy, result, VARSIZE(result));
		entry->value = copy;
	}
	return result;
}

/* NULL or an empty JSON array: the client left the column to us. */
static bool
jsonb_is_unset(HeapTuple tuple, TupleDesc desc, int attnum)
{
	bool		isnull;
	Datum		d = heap_getattr(tuple, attnum, desc, &isnull);
	Jsonb	   *jb;

	if (isnull)
		return true;
	jb = DatumGetJsonbP(d);
	return JB_ROOT_IS_ARRAY(jb) && !JB_ROOT_IS_SCALAR(jb) && JB_ROOT_COUNT(jb) == 0;
}

/*
 * The root's metadata.query_id as text (what ->> gives), or NULL when there
 * is none or it is JSON null.
 */
static char *
metadata_query_id(Jsonb *jb)
{
	JsonbValue	meta;
	JsonbValue	v;

	if (!JB_ROOT_IS_OBJECT(jb) ||
		getKeyJsonValueFromContainer(&jb->root, "metadata", 8, &meta) == NULL ||
		meta.type != jbvBinary ||
		!JsonContainerIsObject(meta.val.binary.data) ||
		getKeyJsonValueFromContainer(meta.val.binary.data, "query_id", 8, &v) == NULL)
		return NULL;
	switch (v.type)
	{
		case jbvNull:
			return NULL;
		case jbvString:
			return pnstrdup(v.val.string.val, v.val.string.len);
		case jbvNumeric:
			return DatumGetCString(DirectFunctionCall1(numeric_out,
													   NumericGetDatum(v.val.numeric)));
		case jbvBool:
			return pstrdup(v.val.boolean ? "true" : "false");
		default:
			return JsonbToCString(NULL, v.val.binary.data, v.val.binary.len);
	}
}

/* A random (version 4) UUID as text, as gen_random_uuid()::text. */
static Datum
random_uuid_text(void)
{
	pg_uuid_t	uuid;

	if (!pg_strong_random(uuid.data, UUID_LEN))
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not generate random values")));
	uuid.data[6] = (uuid.data[6] & 0x0f) | 0x40;
	uuid.data[8] = (uuid.data[8] & 0x3f) | 0x80;
	return DirectFunctionCall1(textin, DirectFunctionCall1(uuid_out, UUIDPGetDatum(&uuid)));
}

/*
 * A row without query_id gets its profile's metadata.query_id, else a
 * random UUID, whichever way it is inserted (pp_ingest's statements leave
 * it NULL for this).  Returns the query_id to name in error messages: the
 * row's or the metadata's, NULL when it had to be generated.  *fill is the
 * value to store, (Datum) 0 when the row has one.
 */
static char *
fill_query_id(HeapTuple tuple, TupleDesc desc, int att, Jsonb *profile,
			  Datum *fill)
{
	bool		isnull;
	Datum		q = heap_getattr(tuple, att, desc, &isnull);
	char	   *query_id;

	*fill = (Datum) 0;
	if (!isnull)
		return TextDatumGetCString(q);
	query_id = metadata_query_id(profile);
	*fill = query_id != NULL ? CStringGetTextDatum(query_id) : random_uuid_text();
	return query_id;
}

/*
 * created_at must be finite and no later than pp_created_at_limit(): the
 * shared statistics follow the newest created_at they see, and a row dated
 * in the future would move them past real history.  An UPDATE that leaves
 * created_at as it was is not checked again.  Returns false, with the
 * reason in *r, when the row's created_at is refused.
 */
static bool
check_created_at(HeapTuple tuple, HeapTuple old, TupleDesc desc, int att,
				 Rejection *r)
{
	bool		isnull;
	Datum		d = heap_getattr(tuple, att, desc, &isnull);
	TimestampTz at;

	if (isnull ||
		(old != NULL && pp_profile_column_equal(old, tuple, desc, PP_COL_CREATED_AT)))
		return true;
	at = DatumGetTimestampTz(d);
	r->sqlstate = ERRCODE_DATETIME_VALUE_OUT_OF_RANGE;
	if (TIMESTAMP_NOT_FINITE(at))
	{
		r->message = psprintf("created_at must be finite, got \"%s\"",
							  TIMESTAMP_IS_NOBEGIN(at) ? "-infinity" : "infinity");
		r->hint = "Leave created_at out: it defaults to now().";
		return false;
	}
	if (at > pp_created_at_limit())
	{
		r->message = psprintf("created_at \"%s\" is in the future",
							  timestamptz_to_str(at));
		r->hint = psprintf("A profile may be dated at most ppprof.max_clock_skew (%d s) after the server's clock; "
						   "leave created_at out to use now().", pp_max_clock_skew_s);
		return false;
	}
	return true;
}

/*
 * A row that cannot be counted.  A local write raises the ERROR, and
 * nothing is stored.  A logical replication worker would retry the change
 * forever (the subscription would stop there), so the row it writes is
 * stored as it came, with the reason in ppprof_rejected and
 * ppprof_analyzed false; the AFTER trigger and every read of the table
 * leave it out, and the commit counts it in pp_info().  Returns the tuple
 * to store.
 */
static HeapTuple
reject_row(HeapTuple tuple, TupleDesc desc, const int *cols, const Rejection *r,
		   const char *query_id, int n_replace, int *attnums, Datum *values,
		   bool *nulls)
{
	bool		id_null;
	Datum		id;

	if (!IsLogicalWorker())
		raise_rejection(r, query_id);

	attnums[n_replace] = cols[PP_COL_PPPROF_REJECTED];
	values[n_replace++] = CStringGetTextDatum(r->message);
	attnums[n_replace] = cols[PP_COL_PPPROF_ANALYZED];
	values[n_replace++] = BoolGetDatum(false);
	tuple = heap_modify_tuple_by_cols(tuple, desc, n_replace, attnums, values,
									  nulls);
	id = heap_getattr(tuple, cols[PP_COL_ID], desc, &id_null);
	ereport(WARNING,
			(errmsg("replicated profile %s stored as rejected: %s",
					id_null ? "without id" : DatumGetCString(DirectFunctionCall1(uuid_out, id)),
					r->message),
			 errdetail("The row is stored with the reason in ppprof_rejected and counts in no statistic."),
			 errhint("Find such rows with: SELECT id, ppprof_rejected FROM performance_profiles WHERE ppprof_rejected IS NOT NULL;")));
	pp_observe_rejected(r->message);
	return tuple;
}

/*
 * BEFORE INSERT OR UPDATE FOR EACH ROW on performance_profiles.
 *
 * On UPDATE, a row whose profile_data did not change is returned as it is;
 * when profile_data changed, total_duration_ms and the two analysis columns
 * are recomputed unless the UPDATE itself set them to new non-empty values.
 * A row that cannot be counted goes to reject_row.
 */
Datum
pp_profiles_trigger(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	TupleDesc	desc;
	HeapTuple	tuple;
	HeapTuple	old = NULL;
	bool		isnull;
	Datum		profile;
	int			att_query,
				att_profile,
				att_total,
				att_bottlenecks,
				att_suggestions,
				att_analyzed;
	Datum		analyzed;
	bool		fill_total,
				fill_bottlenecks,
				fill_suggestions;
	char	   *query_id = NULL;
	PPConfig   *cfg;
	ProfileAnalysis pa;
	const int  *cols;
	HeapTuple	cmp;
	Rejection	rej;
	Datum		values[6];
	bool		nulls[6] = {false, false, false, false, false, false};
	int			attnums[6];
	Datum		query_fill;
	Datum		total;
	int			n_replace = 0;
	instr_time	started;
	instr_time	elapsed;

	if (!CALLED_AS_TRIGGER(fcinfo) ||
		!TRIGGER_FIRED_BEFORE(td->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(td->tg_event) ||
		TRIGGER_FIRED_BY_DELETE(td->tg_event) ||
		TRIGGER_FIRED_BY_TRUNCATE(td->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("pp_profiles_trigger() must be a BEFORE INSERT OR UPDATE row trigger")));

	desc = RelationGetDescr(td->tg_relation);
	if (TRIGGER_FIRED_BY_UPDATE(td->tg_event))
	{
		tuple = td->tg_newtuple;
		old = td->tg_trigtuple;
	}
	else
		tuple = td->tg_trigtuple;
	cols = pp_profile_columns(desc);
	att_query = cols[PP_COL_QUERY_ID];
	att_profile = cols[PP_COL_PROFILE_DATA];

	if (!pp_enabled)
	{
		pp_observe_disabled_write();
		/* stored as it is, but with a query_id as when enabled */
		profile = heap_getattr(tuple, att_profile, desc, &isnull);
		if (!isnull)
		{
			(void) fill_query_id(tuple, desc, att_query, DatumGetJsonbP(profile),
								 &values[0]);
			if (values[0] != (Datum) 0)
				tuple = heap_modify_tuple_by_cols(tuple, desc, 1, &att_query,
												  values, nulls);
		}
		return PointerGetDatum(tuple);
	}
	pp_observe_enabled_write();
	INSTR_TIME_SET_CURRENT(started);

	att_total = cols[PP_COL_TOTAL_DURATION_MS];
	att_bottlenecks = cols[PP_COL_BOTTLENECK_OPERATIONS];
	att_suggestions = cols[PP_COL_OPTIMIZATION_SUGGESTIONS];
	att_analyzed = cols[PP_COL_PPPROF_ANALYZED];

	profile = heap_getattr(tuple, att_profile, desc, &isnull);
	if (isnull)
		return PointerGetDatum(tuple);	/* NOT NULL reports it */

	/*
	 * A row inserted already rejected (a restore) is kept as it is, counted
	 * nowhere.  An UPDATE of a rejected row that changes none of what was
	 * checked leaves it rejected; one that does is checked as an INSERT
	 * would be (cmp NULL: nothing of the old row was accepted).
	 */
	cmp = old;
	if (old == NULL && pp_profile_rejected(tuple, desc))
		return PointerGetDatum(tuple);
	if (old != NULL && pp_profile_rejected(old, desc))
	{
		if (pp_profile_column_equal(old, tuple, desc, PP_COL_PROFILE_DATA) &&
			pp_profile_column_equal(old, tuple, desc, PP_COL_CREATED_AT) &&
			pp_profile_column_equal(old, tuple, desc, PP_COL_TOTAL_DURATION_MS) &&
			pp_profile_column_equal(old, tuple, desc, PP_COL_PPPROF_REJECTED))
			return PointerGetDatum(tuple);
		cmp = NULL;
	}

	query_id = fill_query_id(tuple, desc, att_query, DatumGetJsonbP(profile),
							 &query_fill);
	if (query_fill != (Datum) 0)
	{
		attnums[n_replace] = att_query;
		values[n_replace++] = query_fill;
	}
	if (!check_created_at(tuple, cmp, desc, cols[PP_COL_CREATED_AT], &rej))
		return PointerGetDatum(reject_row(tuple, desc, cols, &rej, query_id,
										  n_replace, attnums, values, nulls));

	total = heap_getattr(tuple, att_total, desc, &isnull);
	fill_total = isnull;
	if (!isnull &&
		(cmp == NULL ||
		 !pp_profile_column_equal(cmp, tuple, desc, PP_COL_TOTAL_DURATION_MS)) &&
		!(DatumGetFloat8(total) >= 0 && DatumGetFloat8(total) <= PP_MAX_DURATION_MS))
	{
		rej.sqlstate = ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE;
		rej.message = psprintf("total_duration_ms must be between 0 and 1e9, got %g",
							   DatumGetFloat8(total));
		rej.hint = "Leave total_duration_ms out: it is the root's duration_ms.";
		return PointerGetDatum(reject_row(tuple, desc, cols, &rej, query_id,
										  n_replace, attnums, values, nulls));
	}
	fill_bottlenecks = jsonb_is_unset(tuple, desc, att_bottlenecks);
	fill_suggestions = jsonb_is_unset(tuple, desc, att_suggestions);

	/*
	 * A row inserted as already analysed (a pg_restore, a copy between
	 * databases) keeps its analysis: re-analysing it under another
	 * configuration would change history.
	 */
	analyzed = heap_getattr(tuple, att_analyzed, desc, &isnull);
	if (cmp == NULL && !isnull && DatumGetBool(analyzed))
		fill_bottlenecks = fill_suggestions = false;

	if (cmp != NULL)
	{
		if (pp_profile_column_equal(cmp, tuple, desc, PP_COL_PROFILE_DATA))
		{
			/* ppprof_rejected is ppprof's: an UPDATE setting it is undone */
			if (!fill_total && !fill_bottlenecks && !fill_suggestions &&
				!pp_profile_rejected(tuple, desc))
				return PointerGetDatum(tuple);
		}
		else
		{
			fill_total |= pp_profile_column_equal(cmp, tuple, desc,
												  PP_COL_TOTAL_DURATION_MS);
			fill_bottlenecks |= pp_profile_column_equal(cmp, tuple, desc,
														PP_COL_BOTTLENECK_OPERATIONS);
			fill_suggestions |= pp_profile_column_equal(cmp, tuple, desc,
														PP_COL_OPTIMIZATION_SUGGESTIONS);
		}
	}

	cfg = pp_config_get();
	MemoryContextReset(IngestContext);
	if (!analyze_profile(DatumGetJsonbP(profile), cfg, &pa, &rej))
		return PointerGetDatum(reject_row(tuple, desc, cols, &rej, query_id,
										  n_replace, attnums, values, nulls));

	if (fill_total)
	{
		attnums[n_replace] = att_total;
		values[n_replace++] = Float8GetDatum(pa.tree.nodes[0].duration_ms);
	}
	if (fill_bottlenecks)
	{
		attnums[n_replace] = att_bottlenecks;
		values[n_replace++] = JsonbPGetDatum(build_bottlenecks(&pa));
	}
	if (fill_suggestions)
	{
		attnums[n_replace] = att_suggestions;
		values[n_replace++] = JsonbPGetDatum(build_suggestions(&pa, cfg));
	}

	attnums[n_replace] = att_analyzed;
	values[n_replace++] = BoolGetDatum(true);
	if (pp_profile_rejected(tuple, desc))
	{
		attnums[n_replace] = cols[PP_COL_PPPROF_REJECTED];
		nulls[n_replace] = true;
		values[n_replace++] = (Datum) 0;
	}

	if (n_replace > 0)
		tuple = heap_modify_tuple_by_cols(tuple, desc, n_replace, attnums,
										  values, nulls);

	/* hand the walk to the statistics; the AFTER trigger confirms it */
	if (old == NULL)
	{
		bool		id_null;
		bool		created_null;
		Datum		id = heap_getattr(tuple, cols[PP_COL_ID], desc, &id_null);
		Datum		created = heap_getattr(tuple, cols[PP_COL_CREATED_AT], desc,
										   &created_null);
		Datum		stored_total = heap_getattr(tuple, att_total, desc, &isnull);

		if (!id_null && !created_null && !isnull)
		{
			INSTR_TIME_SET_CURRENT(elapsed);
			INSTR_TIME_SUBTRACT(elapsed, started);
			pp_observe_stage(DatumGetUUIDP(id), DatumGetTimestampTz(created),
							 DatumGetFloat8(stored_total), &pa.tree, pa.types,
							 INSTR_TIME_GET_MICROSEC(elapsed));
		}
	}
	return PointerGetDatum(tuple);
}

/*
 * The statement which of the pp_ingest functions, prepared once per backend
 * and kept while the extension's schema stays the same.
 *
 * These statements run as the caller and name every table, function and
 * operator with its schema, so the caller's search_path cannot change what
 * they resolve to; they are not pinned as pp_spi_connect_as pins the
 * owner's queries: that would add a GUC change and its undo, and a new
 * search path to compute, to every call on the ingest path.  A NULL
 * query_id is filled in by the trigger.
 */
static SPIPlanPtr
get_plan(PPConfig *cfg, IngestStatement which)
{
	static const struct
	{
		const char *sql;		/* one %s: the schema */
		Oid			argtypes[2];
		int			nargs;
	}			statements[NUM_STATEMENTS] = {
		[STMT_ONE] = {
			"INSERT INTO %s.performance_profiles (query_id, profile_data)"
			" VALUES ($1, $2) RETURNING id",
			{TEXTOID, JSONBOID}, 2
		},
		[STMT_ARRAY_ELEMENTS] = {
			"INSERT INTO %s.performance_profiles (query_id, profile_data)"
			" SELECT NULL, e FROM pg_catalog.jsonb_array_elements($1) AS e",
			{JSONBOID}, 1
		},
		[STMT_UNNEST] = {
			"INSERT INTO %s.performance_profiles (query_id, profile_data)"
			" SELECT NULL, e FROM pg_catalog.unnest($1) AS e",
			{JSONBARRAYOID}, 1
		},
	};
	static SPIPlanPtr plans[NUM_STATEMENTS];
	static Oid	plan_schemas[NUM_STATEMENTS];
	StringInfoData q;
	SPIPlanPtr	plan;

	if (plans[which] != NULL && plan_schemas[which] == cfg->schema)
		return plans[which];
	if (plans[which] != NULL)
	{
		SPI_freeplan(plans[which]);
		plans[which] = NULL;
	}

	initStringInfo(&q);
	appendStringInfo(&q, statements[which].sql,
					 quote_identifier(get_namespace_name(cfg->schema)));
	plan = SPI_prepare(q.data, statements[which].nargs,
					   (Oid *) statements[which].argtypes);
	if (plan == NULL)
		elog(ERROR, "ppprof: SPI_prepare failed: %s",
			 SPI_result_code_string(SPI_result));
	if (SPI_keepplan(plan) != 0)
		elog(ERROR, "ppprof: SPI_keepplan failed");
	plans[which] = plan;
	plan_schemas[which] = cfg->schema;
	return plan;
}

/*
 * Execute a saved plan; the error of a rejected profile is the user's
 * error, not one of an internal statement: drop the "SQL statement"
 * context SPI adds.
 */
static void
execute_plan(SPIPlanPtr plan, Datum *values, const char *nulls, int expected,
			 MemoryContext cxt)
{
	PG_TRY();
	{
		if (SPI_execute_plan(plan, values, nulls, false, 0) != expected)
			elog(ERROR, "ppprof: could not insert the profiles");
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		edata->context = NULL;
		ReThrowError(edata);
	}
	PG_END_TRY();
}

/* Insert one profile through the saved plan; returns its id (palloc'd in cxt). */
static pg_uuid_t *
ingest_one(SPIPlanPtr plan, Datum query_id, bool query_id_null, Jsonb *profile,
		   MemoryContext cxt)
{
	Datum		values[2];
	char		nulls[2];
	bool		isnull;
	Datum		id;
	pg_uuid_t  *result;

	values[0] = query_id;
	nulls[0] = query_id_null ? 'n' : ' ';
	values[1] = JsonbPGetDatum(profile);
	nulls[1] = ' ';

	execute_plan(plan, values, nulls, SPI_OK_INSERT_RETURNING, cxt);
	if (SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("the profile was not stored"),
				 errdetail("A trigger or a row level security policy skipped the row.")));

	id = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	result = MemoryContextAlloc(cxt, sizeof(pg_uuid_t));
	memcpy(result, DatumGetUUIDP(id), sizeof(pg_uuid_t));
	return result;
}

/*
 * Store n profiles with one execution of statement which, its one argument
 * arg; an ERROR unless all n were stored.
 */
static void
store_checked(IngestStatement which, PPConfig *cfg, Datum arg, uint32 n)
{
	Datum		values[1];
	uint64		stored;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "ppprof: SPI_connect failed");
	values[0] = arg;
	execute_plan(get_plan(cfg, which), values, NULL, SPI_OK_INSERT,
				 CurrentMemoryContext);
	stored = SPI_processed;
	SPI_finish();

	if (stored != n)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("%u of %u profiles were not stored", (unsigned) (n - stored), n),
				 errdetail("A trigger or a row level security policy skipped the rows.")));
}

/*
 * pp_ingest(profile jsonb, query_id text DEFAULT NULL) RETURNS uuid
 */
Datum
pp_ingest(PG_FUNCTION_ARGS)
{
	MemoryContext cxt = CurrentMemoryContext;
	PPConfig   *cfg;
	SPIPlanPtr	plan;
	pg_uuid_t  *id;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("profile must not be null")));

	/* sampled out: not stored, counted */
	if (pp_sample_rate < 1.0 && pg_prng_double(&pg_global_prng_state) >= pp_sample_rate)
	{
		pp_shmem_count_sampled_out(MyDatabaseId);
		PG_RETURN_NULL();
	}

	cfg = pp_config_get();
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "ppprof: SPI_connect failed");
	plan = get_plan(cfg, STMT_ONE);
	id = ingest_one(plan, PG_ARGISNULL(1) ? (Datum) 0 : PG_GETARG_DATUM(1),
					PG_ARGISNULL(1), PG_GETARG_JSONB_P(0), cxt);
	SPI_finish();
	PG_RETURN_UUID_P(id);
}

/*
 * pp_ingest_batch(profiles jsonb) RETURNS bigint
 *
 * All or nothing: the first bad element raises an ERROR whose context names
 * its index ("profile $[3] of the batch"), and the statement's rollback
 * removes the elements already inserted.
 */
Datum
pp_ingest_batch(PG_FUNCTION_ARGS)
{
	Jsonb	   *batch;
	uint32		n,
				i;
	PPConfig   *cfg;
	MemoryContext element_cxt;
	MemoryContext old;
	int			element = 0;
	ErrorContextCallback errcb;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("profiles must not be null")));
	batch = PG_GETARG_JSONB_P(0);
	if (!JB_ROOT_IS_ARRAY(batch) || JB_ROOT_IS_SCALAR(batch))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("profiles must be a JSON array of profiles"),
				 errhint("Pass one profile to pp_ingest(), or wrap it in [ ].")));
	n = JB_ROOT_COUNT(batch);

	cfg = pp_config_get();

	/*
	 * Check every element first, so that a bad one is named by its index
	 * (the error context); then store them all with one INSERT ... SELECT,
	 * which costs what a multi-row INSERT costs (a statement per element
	 * through SPI costs several times more).  The trigger walks each profile
	 * again; it cannot fail where this pass succeeded.
	 */
	element_cxt = AllocSetContextCreate(CurrentMemoryContext,
										"ppprof batch element",
										ALLOCSET_DEFAULT_SIZES);
	errcb.callback = batch_element_context;
	errcb.arg = &element;
	errcb.previous = error_context_stack;
	error_context_stack = &errcb;
	for (i = 0; i < n; i++)
	{
		ProfileAnalysis pa;

		CHECK_FOR_INTERRUPTS();
		MemoryContextReset(element_cxt);
		old = MemoryContextSwitchTo(element_cxt);
		element = (int) i;
		MemoryContextReset(IngestContext);
		analyze_profile_or_error(JsonbValueToJsonb(getIthJsonbValueFromContainer(&batch->root, i)),
								 cfg, &pa);
		MemoryContextSwitchTo(old);
	}
	error_context_stack = errcb.previous;
	MemoryContextDelete(element_cxt);

	store_checked(STMT_ARRAY_ELEMENTS, cfg, JsonbPGetDatum(batch), n);
	PG_RETURN_INT64((int64) n);
}

/* true when line holds nothing but JSON whitespace */
static bool
blank_line(const char *line)
{
	for (; *line; line++)
		if (*line != ' ' && *line != '\t' && *line != '\r')
			return false;
	return true;
}

/*
 * Check, copy out and store every non-blank line of input (modified in
 * place); returns how many.
 */
static uint32
ingest_lines(char *input, PPConfig *cfg)
{
	char	   *line;
	char	   *next;
	int			lineno = 0;
	uint32		n = 0;
	uint32		capacity = 64;
	Datum	   *profiles = palloc(sizeof(Datum) * capacity);
	MemoryContext batch_cxt = CurrentMemoryContext;
	MemoryContext line_cxt;
	ErrorContextCallback errcb;

	line_cxt = AllocSetContextCreate(batch_cxt, "ppprof jsonl line",
									 ALLOCSET_DEFAULT_SIZES);
	errcb.callback = jsonl_line_context;
	errcb.arg = &lineno;
	errcb.previous = error_context_stack;
	error_context_stack = &errcb;
	for (line = input; line != NULL; line = next)
	{
		Datum		jb;
		ProfileAnalysis pa;

		CHECK_FOR_INTERRUPTS();
		lineno++;
		next = strchr(line, '\n');
		if (next != NULL)
			*next++ = '\0';
		if (blank_line(line))
			continue;

		MemoryContextReset(line_cxt);
		MemoryContextSwitchTo(line_cxt);
		jb = DirectFunctionCall1(jsonb_in, CStringGetDatum(line));
		MemoryContextReset(IngestContext);
		analyze_profile_or_error(DatumGetJsonbP(jb), cfg, &pa);

		MemoryContextSwitchTo(batch_cxt);
		if (n == capacity)
		{
			capacity *= 2;
			profiles = repalloc(profiles, sizeof(Datum) * capacity);
		}
		profiles[n++] = datumCopy(jb, false, -1);
	}
	error_context_stack = errcb.previous;
	MemoryContextDelete(line_cxt);

	if (n > 0)
		store_checked(STMT_UNNEST, cfg,
					  PointerGetDatum(construct_array(profiles, (int) n, JSONBOID,
													  -1, false, TYPALIGN_INT)),
					  n);
	return n;
}

/*
 * pp_ingest_jsonl(profiles text) RETURNS bigint
 *
 * One profile per line (JSON Lines; blank lines are skipped), all or
 * nothing, like pp_ingest_batch.  The reason to have it: the server parses
 * a jsonb argument whole before pp_ingest_batch runs, and one large JSON
 * array costs several times what its elements cost parsed one by one in a
 * context that is reset between them (docs/benchmarks.md).  Here each line
 * is parsed, checked and copied out on its own; then one INSERT ... SELECT
 * FROM unnest() stores them.
 */
Datum
pp_ingest_jsonl(PG_FUNCTION_ARGS)
{
	char	   *input;
	PPConfig   *cfg;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("profiles must not be null")));
	input = text_to_cstring(PG_GETARG_TEXT_PP(0));
	cfg = pp_config_get();
	PG_RETURN_INT64((int64) ingest_lines(input, cfg));
}

/*
 * pp_analyze_profile(profile jsonb) RETURNS TABLE (...)
 *
 * What the trigger sees in a profile, one row per node in document order,
 * without storing anything.
 */
Datum
pp_analyze_profile(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Jsonb	   *jb = PG_GETARG_JSONB_P(0);
	PPConfig   *cfg;
	ProfileAnalysis pa;
	int32_t		i;

	InitMaterializedSRF(fcinfo, 0);
	cfg = pp_config_get();
	MemoryContextReset(IngestContext);
	analyze_profile_or_error(jb, cfg, &pa);

	for (i = 0; i < pa.tree.n_nodes; i++)
	{
		const pp_tree_node_t *n = &pa.tree.nodes[i];
		Datum		values[11];
		bool		nulls[11] = {false};

		values[0] = Int32GetDatum(i);
		values[1] = CStringGetTextDatum(node_path(&pa, i));
		if (n->parent < 0)
			nulls[2] = true;
		else
			values[2] = Int32GetDatum(n->parent);
		values[3] = Int32GetDatum(n->depth);
		values[4] = PointerGetDatum(cstring_to_text_with_len(n->name, (int) n->name_len));
		values[5] = CStringGetTextDatum(pa.types[i]);
		values[6] = Float8GetDatum(n->duration_ms);
		values[7] = Float8GetDatum(n->self_ms);
		if (isnan(pa.thresholds_ms[i]))
			nulls[8] = true;
		else
			values[8] = Float8GetDatum(pa.thresholds_ms[i]);
		values[9] = BoolGetDatum(is_bottleneck(&pa, i));
		values[10] = BoolGetDatum(n->failed);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
