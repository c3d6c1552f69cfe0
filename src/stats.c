/*-------------------------------------------------------------------------
 *
 * src/stats.c
 *	  SQL functions over the live statistics: pp_operation_stats,
 *	  pp_operation_samples, pp_reset, pp_rebuild.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/table.h"
#include "access/xact.h"
#include "commands/trigger.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/rel.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"

#include "config.h"
#include "guc.h"
#include "jsonb_build.h"
#include "otlp.h"
#include "shmem.h"
#include "spi_owner.h"
#include "stats.h"
#include "window.h"

PG_FUNCTION_INFO_V1(pp_operation_stats);
PG_FUNCTION_INFO_V1(pp_operation_samples);
PG_FUNCTION_INFO_V1(pp_reset);
PG_FUNCTION_INFO_V1(pp_stats_created);
PG_FUNCTION_INFO_V1(pp_info);

static int
agg_cmp_total(const void *a, const void *b)
{
	const PPAgg *x = *(PPAgg *const *) a;
	const PPAgg *y = *(PPAgg *const *) b;

	if (x->c.sum_ms != y->c.sum_ms)
		return x->c.sum_ms > y->c.sum_ms ? -1 : 1;
	return strcmp(x->name, y->name);
}

/* The operations of a window with calls, most total time first. */
PPAgg	  **
pp_window_sorted(PPWindow *w, int *n)
{
	HASH_SEQ_STATUS status;
	PPAgg	   *a;
	PPAgg	  **arr;
	int			count = 0;

	arr = palloc(sizeof(PPAgg *) * (hash_get_num_entries(w->ops) + 1));
	hash_seq_init(&status, w->ops);
	while ((a = hash_seq_search(&status)) != NULL)
		if (a->c.calls > 0)
			arr[count++] = a;
	qsort(arr, count, sizeof(PPAgg *), agg_cmp_total);
	*n = count;
	return arr;
}

/*
 * pp_operation_stats(window interval DEFAULT '24 hours')
 */
Datum
pp_operation_stats(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	TimestampTz t0,
				t1;
	PPWindow	w;
	PPConfig   *cfg;
	PPAgg	  **aggs;
	int			n,
				i;

	InitMaterializedSRF(fcinfo, 0);
	pp_window_bounds(PG_GETARG_DATUM(0), &t0, &t1);
	pp_window_read(&w, t0, t1, false);
	cfg = pp_config_get();
	aggs = pp_window_sorted(&w, &n);

	for (i = 0; i < n; i++)
	{
		Datum		values[PP_AGG_COLUMNS + PP_USAGE_COLUMNS];
		bool		nulls[PP_AGG_COLUMNS + PP_USAGE_COLUMNS];

		pp_agg_values(cfg, aggs[i], values, nulls);
		pp_agg_usage_values(aggs[i], values + PP_AGG_COLUMNS, nulls + PP_AGG_COLUMNS);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	if (w.other.c.calls > 0)
	{
		Datum		values[PP_AGG_COLUMNS + PP_USAGE_COLUMNS];
		bool		nulls[PP_AGG_COLUMNS + PP_USAGE_COLUMNS];

		pp_agg_values(cfg, &w.other, values, nulls);
		pp_agg_usage_values(&w.other, values + PP_AGG_COLUMNS, nulls + PP_AGG_COLUMNS);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/*
 * The PP_AGG_COLUMNS columns of pp_operation_stats for an aggregate with
 * calls; the profiles themselves (PP_KIND_ROOT) have a NULL operation and
 * the type 'profile', the fold row NULL percentiles.
 */
void
pp_agg_values(PPConfig *cfg, const PPAgg *a, Datum *values, bool *nulls)
{
	const PPCounters *c = &a->c;

	memset(nulls, 0, sizeof(bool) * PP_AGG_COLUMNS);
	pp_agg_name_columns(cfg, a, values, nulls);
	nulls[8] = nulls[9] = nulls[10] = (a->acc == NULL);
	values[2] = Int64GetDatum(c->calls);
	values[3] = Int64GetDatum(c->errors);
	values[4] = Float8GetDatum((double) c->errors / c->calls);
	values[5] = Float8GetDatum(c->sum_ms / c->calls);
	values[6] = Float8GetDatum(pp_counters_stddev(c));
	nulls[6] = c->calls < 2;
	values[7] = Float8GetDatum(c->min_ms);
	values[8] = Float8GetDatum(pp_agg_quantile(a, 0.50));
	values[9] = Float8GetDatum(pp_agg_quantile(a, 0.95));
	values[10] = Float8GetDatum(pp_agg_quantile(a, 0.99));
	values[11] = Float8GetDatum(c->max_ms);
	values[12] = Float8GetDatum(c->sum_ms);
	values[13] = Float8GetDatum(c->self_sum_ms / c->calls);
	values[14] = Float8GetDatum(c->self_sum_ms);
	values[15] = TimestampTzGetDatum(c->first_at);
	values[16] = TimestampTzGetDatum(c->last_at);
}

void
pp_agg_usage_values(const PPAgg *a, Datum *values, bool *nulls)
{
	memset(nulls, 0, sizeof(bool) * PP_USAGE_COLUMNS);
	values[0] = Int64GetDatum(a->c.input_tokens);
	values[1] = Int64GetDatum(a->c.output_tokens);
	values[2] = Float8GetDatum(a->c.cost_nusd / PP_NUSD_PER_USD);
	values[3] = Float8GetDatum(pp_agg_ttft_quantile(a, 0.50));
	values[4] = Float8GetDatum(pp_agg_ttft_quantile(a, 0.95));
	nulls[3] = nulls[4] = (a->ttft_acc == NULL);
}

void
pp_operation_columns(PPConfig *cfg, const char *name, int name_len,
					 Datum *values, bool *nulls)
{
	if (name_len == 0)
	{
		nulls[0] = true;
		values[0] = (Datum) 0;
		values[1] = CStringGetTextDatum("profile");
		return;
	}
	nulls[0] = false;
	values[0] = PointerGetDatum(cstring_to_text_with_len(name, name_len));
	values[1] = CStringGetTextDatum(pp_classifier_type(cfg->classifier, name, name_len));
}

void
pp_agg_name_columns(PPConfig *cfg, const PPAgg *a, Datum *values, bool *nulls)
{
	if (!a->folded)
	{
		pp_operation_columns(cfg, a->name, a->name_len, values, nulls);
		return;
	}
	nulls[0] = nulls[1] = false;
	values[0] = CStringGetTextDatum(PP_FOLD_NAME);
	values[1] = CStringGetTextDatum(PP_FOLD_TYPE);
}

/* Cache hit rate of an aggregate: NULL (false) when no node said hit or miss. */
bool
pp_agg_cache_hit_rate(const PPAgg *a, double *rate)
{
	int64		n = a->c.cache_hits + a->c.cache_misses;

	if (n <= 0)
		return false;
	*rate = (double) a->c.cache_hits / n;
	return true;
}

/*
 * pp_operation_samples(operation text)
 *
 * The reservoir of an operation, slowest first.  Without shared statistics
 * (not preloaded, or on a standby) there is no reservoir and no row.
 */
Datum
pp_operation_samples(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	text	   *op = PG_GETARG_TEXT_PP(0);
	pp_reservoir_t *r;
	uint32		i;

	InitMaterializedSRF(fcinfo, 0);
	(void) pp_config_get();
	r = pp_shmem_samples(MyDatabaseId, VARDATA_ANY(op), VARSIZE_ANY_EXHDR(op));
	if (r == NULL)
		return (Datum) 0;

	pp_reservoir_sort_slowest(r);
	for (i = 0; i < r->nsamples; i++)
	{
		const pp_reservoir_sample_t *s = &r->samples[i];
		Datum		values[4];
		bool		nulls[4] = {false};
		pg_uuid_t  *id = palloc(sizeof(pg_uuid_t));

		memcpy(id->data, s->profile_id, PP_PROFILE_ID_SIZE);
		values[0] = Float8GetDatum(s->duration_ms);
		values[1] = Float8GetDatum(s->self_ms);
		values[2] = UUIDPGetDatum(id);
		values[3] = TimestampTzGetDatum((TimestampTz) s->created_at);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/*
 * pp_reset(): forget the statistics of this database.  The table is not
 * touched; until pp_rebuild() every answer is read from it.
 */
Datum
pp_reset(PG_FUNCTION_ARGS)
{
	pp_shmem_require_writable("pp_reset");
	(void) pp_config_get();
	pp_shmem_reset(MyDatabaseId, false, false);
	PG_RETURN_VOID();
}

/*
 * Called by the install script: a new, empty table has empty and exact
 * statistics.  Should the table have rows, the statistics are only cleared
 * (pp_rebuild() makes them valid).  Does nothing when ppprof is not
 * preloaded.
 */
Datum
pp_stats_created(PG_FUNCTION_ARGS)
{
	PPConfig   *cfg;
	StringInfoData q;
	bool		empty;
	bool		isnull;
	PPSavedUser saved;

	if (!pp_shmem_attached())
		PG_RETURN_VOID();
	cfg = pp_config_get();
	initStringInfo(&q);
	appendStringInfo(&q, "SELECT NOT EXISTS (SELECT 1 FROM %s.performance_profiles)",
					 quote_identifier(get_namespace_name(cfg->schema)));
	pp_spi_connect_as(pp_config_owner(cfg), &saved);
	if (SPI_execute(q.data, true, 1) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "ppprof: could not read performance_profiles");
	empty = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0],
									   SPI_tuptable->tupdesc, 1, &isnull));
	pp_spi_finish_as(&saved);

	pp_shmem_reset(MyDatabaseId, empty, true);
	PG_RETURN_VOID();
}

/* A counter of all databases, or null for a caller who may not see them. */
static void
jb_int_if(JsonbParseState **st, const char *key, int64 n, bool visible)
{
	if (visible)
		pp_jb_int(st, key, n);
	else
		pp_jb_string(st, key, NULL);
}

/*
 * Do ppprof's three triggers on performance_profiles fire always, so that
 * rows written by logical replication (session_replication_role = replica)
 * are validated and counted?  The install script makes them so; ALTER
 * TABLE ... ENABLE TRIGGER (which a data-only restore with
 * --disable-triggers runs) makes them fire on origin only.
 */
static bool
triggers_fire_always(Oid relid)
{
	static const char *const names[] = {
		"ppprof_ingest", "ppprof_observe", "ppprof_truncated"
	};
	Relation	rel = table_open(relid, AccessShareLock);
	int			n_always = 0;
	int			i;
	int			k;

	for (i = 0; rel->trigdesc != NULL && i < rel->trigdesc->numtriggers; i++)
	{
		const Trigger *t = &rel->trigdesc->triggers[i];

		for (k = 0; k < lengthof(names); k++)
			if (strcmp(t->tgname, names[k]) == 0 &&
				t->tgenabled == TRIGGER_FIRES_ALWAYS)
				n_always++;
	}
	table_close(rel, AccessShareLock);
	return n_always == lengthof(names);
}

/*
 * pp_info() RETURNS jsonb: the profiler's own state.
 *
 * Every caller sees this database's state and counters and the settings;
 * what shared memory holds for all databases together (operations,
 * buckets, evictions, drops, memory in use, the statistics file's line)
 * only a role with the privileges of pg_read_all_stats sees (superusers
 * do), as for pg_stat_statements' other users' queries: a database must
 * not learn another's activity.  The others get null there.
 */
Datum
pp_info(PG_FUNCTION_ARGS)
{
	PPShmemInfo info;
	JsonbParseState *st = NULL;
	const char *state;
	bool		all;
	PPConfig   *cfg;

	cfg = pp_config_get();
	pp_shmem_info(MyDatabaseId, &info);
	all = has_privs_of_role(GetUserId(), ROLE_PG_READ_ALL_STATS);
	if (RecoveryInProgress())
		state = "standby: answers from the table";
	else if (!info.attached)
		state = "not preloaded: answers from the table";
	else if (!info.db_valid && info.rebuild_started != 0)
		state = "rebuilding: answers from the table until the rebuild ends";
	else if (!info.db_valid)
		state = "invalid: answers from the table until pp_rebuild()";
	else
		state = "valid";

	pp_jb_begin_object(&st, NULL);
	pp_jb_bool(&st, "preloaded", info.attached);
	pp_jb_bool(&st, "enabled", pp_enabled);
	pp_jb_string(&st, "statistics", state);
	pp_jb_time(&st, "last_reset", info.last_reset);
	pp_jb_time(&st, "incomplete_before", info.incomplete_before);
	pp_jb_time(&st, "future_rows_from", info.future_from);
	pp_jb_int(&st, "future_rows", info.future_rows);
	pp_jb_time(&st, "minute_buckets_from", info.minute_start);
	pp_jb_time(&st, "hour_buckets_from", info.horizon_start);
	pp_jb_int(&st, "operations", info.db_operations);
	jb_int_if(&st, "operations_all_databases", info.operations, all);
	pp_jb_int(&st, "operations_max", pp_max_operations);
	jb_int_if(&st, "operations_evicted", info.operations_evicted, all);
	jb_int_if(&st, "operations_refused", info.operations_refused, all);
	pp_jb_int(&st, "paths", info.db_paths);
	jb_int_if(&st, "paths_all_databases", info.paths, all);
	pp_jb_int(&st, "paths_max", pp_max_paths);
	jb_int_if(&st, "paths_evicted", info.paths_evicted, all);
	jb_int_if(&st, "paths_refused", info.paths_refused, all);
	pp_jb_time(&st, "paths_incomplete_before", info.paths_incomplete_before);
	pp_jb_int(&st, "dimension_entries", info.db_dimension_entries);
	jb_int_if(&st, "dimension_entries_all_databases", info.dimension_entries, all);
	pp_jb_int(&st, "dimension_entries_max", pp_max_dimension_entries);
	jb_int_if(&st, "dimension_entries_evicted", info.dimension_entries_evicted, all);
	jb_int_if(&st, "dimension_entries_refused", info.dimension_entries_refused, all);
	jb_int_if(&st, "dimension_observations_dropped", info.dimension_observations_dropped, all);
	jb_int_if(&st, "dimensions_gave_way", info.dimensions_gave_way, all);
	pp_jb_time(&st, "dimensions_incomplete_before", info.dimensions_incomplete_before);
	jb_int_if(&st, "minute_buckets", info.minute_buckets, all);
	pp_jb_int(&st, "minute_buckets_max", pp_max_minute_buckets);
	jb_int_if(&st, "hour_buckets", info.hour_buckets, all);
	pp_jb_int(&st, "hour_buckets_max", pp_max_hour_buckets);
	jb_int_if(&st, "observations_dropped", info.observations_dropped, all);
	pp_jb_int(&st, "shared_memory_bytes", (int64) info.shmem_bytes);
	jb_int_if(&st, "shared_memory_used_bytes", (int64) info.shmem_used_bytes, all);
	pp_jb_int(&st, "sketch_memory_bytes", (int64) info.sketch_bytes);
	jb_int_if(&st, "sketch_memory_used_bytes", (int64) info.sketch_used_bytes, all);
	pp_jb_string(&st, "degradation", info.degradation);
	pp_jb_time(&st, "degraded_since", info.degraded_since);
	pp_jb_time(&st, "degraded_last", info.degraded_last);
	pp_jb_int(&st, "profiles_ingested", info.db_profiles);
	pp_jb_int(&st, "nodes_ingested", info.db_nodes);
	pp_jb_int(&st, "sampled_out", info.db_sampled_out);
	pp_jb_rounded(&st, "mean_ingest_us", info.db_mean_ingest_us);
	pp_jb_int(&st, "usage_values_ignored", info.db_usage_ignored);
	pp_jb_int(&st, "cost_unknown_nodes", info.db_cost_unknown);
	pp_jb_int(&st, "replicated_rejected", info.db_rejected);
	pp_jb_string(&st, "replicated_rejected_last",
				 info.db_rejected > 0 ? info.db_rejected_last : NULL);
	pp_jb_time(&st, "replicated_rejected_last_at",
			   info.db_rejected > 0 ? info.db_rejected_last_at : 0);
	pp_jb_bool(&st, "replicated_rows_counted",
			   triggers_fire_always(cfg->profiles_relid));
	jb_int_if(&st, "profiles_ingested_all_databases", info.profiles, all);
	jb_int_if(&st, "nodes_ingested_all_databases", info.nodes, all);
	jb_int_if(&st, "sampled_out_all_databases", info.sampled_out, all);
	pp_jb_string(&st, "statistics_file", info.attached && all ? info.dump_status : NULL);
	pp_otlp_info(&st);
	PG_RETURN_JSONB_P(pp_jb_finish(&st, true));
}
