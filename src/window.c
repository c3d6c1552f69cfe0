/*-------------------------------------------------------------------------
 *
 * src/window.c
 *	  Read the per-operation statistics of a window [t0, t1].
 *
 * The window is what `WHERE created_at >= t0 AND created_at <= t1` selects
 * from performance_profiles (`< t1` for the half-open windows of trends and
 * comparisons).  pp_window_read merges the shared buckets that
 * lie entirely inside it (shmem.c) and reads the rest -- the bucket t0 cuts,
 * and the newest minute when rows newer than t1 exist -- from the table
 * through the created_at index, walking each profile with the same walker
 * as the ingest trigger.  When the shared statistics cannot answer (not
 * preloaded, not yet rebuilt, a window beyond the horizon, a hot standby),
 * the whole window is read from the table: slower, same answer.
 *
 * Counts, sums and averages are exact on every path.  Percentiles come from
 * a sketch accumulator on every path, so they carry the sketch's
 * relative-error bound (0.5%) whether the rows came from shared memory or
 * from the table.
 *
 * Memory.  A window keeps at most ppprof.max_window_operations operations;
 * the operations met after that many are folded into one row (w->other,
 * PP_FOLD_NAME) with exact counts and sums but no sketch, so the memory of
 * a window is bounded whatever the table holds: an operation costs its
 * aggregate (about 500 bytes), its name, and an accumulator that is a few
 * dozen bytes while it has few distinct values and 24.6 KB at most
 * (src/core/sketch.h).  Which operations keep their own row is decided in
 * the order they are met: shared memory first (tracked operations, in
 * slot order), then the table's edges in row order.  An operation that has
 * its own row has all of its observations in it.
 *
 * The table is read as its owner: access to these statistics is granted
 * through EXECUTE on the SQL functions, and the answer must not depend on
 * the path taken (shared statistics do not see row level security).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rangetypes.h"
#include "utils/timestamp.h"

#include "allocator.h"
#include "config.h"
#include "guc.h"
#include "profile.h"
#include "rebuild.h"
#include "rollup_read.h"
#include "shmem.h"
#include "spi_owner.h"
#include "trend.h"
#include "window.h"

static bool noticed_no_preload = false;

static void
check_acc(pp_error_code_t rc)
{
	if (rc == PP_ERR_NO_MEMORY)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY),
						errmsg("out of memory")));
}

/* The hash key of an aggregate is its (name, name_len). */
StaticAssertDecl(offsetof(PPAgg, name) == offsetof(PPNameKey, name) &&
				 offsetof(PPAgg, name_len) == offsetof(PPNameKey, name_len),
				 "PPAgg must begin with a PPNameKey");

uint32
pp_name_key_hash(const void *key, Size keysize)
{
	const PPNameKey *k = key;

	return hash_bytes((const unsigned char *) k->name, k->name_len);
}

int
pp_name_key_match(const void *key1, const void *key2, Size keysize)
{
	const PPNameKey *a = key1;
	const PPNameKey *b = key2;

	return a->name_len == b->name_len &&
		memcmp(a->name, b->name, a->name_len) == 0 ? 0 : 1;
}

PPAgg *
pp_window_find(PPWindow *w, const char *name, int name_len)
{
	PPAgg		key;

	key.name = name;
	key.name_len = name_len;
	return hash_search(w->ops, &key, HASH_FIND, NULL);
}

static PPAgg *
agg_get(PPWindow *w, int kind, const char *name, int name_len)
{
	PPAgg		key;
	PPAgg	   *a;
	bool		found;
	char	   *copy;

	if (kind == PP_KIND_ROOT)
		a = &w->root;
	else
	{
		key.name = name;
		key.name_len = Min(name_len, PP_NAME_MAX);
		a = hash_search(w->ops, &key, HASH_FIND, NULL);
		if (a != NULL)
			return a;
		if (hash_get_num_entries(w->ops) >= pp_max_window_operations)
			return &w->other;
		a = hash_search(w->ops, &key, HASH_ENTER, &found);
		/* the key points at the caller's memory until it is copied */
		copy = palloc(key.name_len + 1);
		memcpy(copy, name, key.name_len);
		copy[key.name_len] = '\0';
		a->name = copy;
		a->folded = false;
		memset(&a->c, 0, sizeof(PPCounters));
		memset(&a->early, 0, sizeof(PPCounters));
		memset(&a->late, 0, sizeof(PPCounters));
		a->n_examples = 0;
		a->acc = NULL;
		a->ttft_acc = NULL;
	}
	if (a->acc == NULL)
	{
		a->acc = pp_sketch_acc_create(pp_palloc_allocator(CurrentMemoryContext));
		if (a->acc == NULL)
			ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY),
							errmsg("out of memory")));
	}
	return a;
}

/* Keep the slowest PP_EXAMPLES profile ids seen from the table. */
static void
agg_example(PPAgg *a, double d, const pg_uuid_t *id)
{
	int			i;
	int			at;

	if (a->n_examples == PP_EXAMPLES && d <= a->example_ms[PP_EXAMPLES - 1])
		return;
	at = a->n_examples < PP_EXAMPLES ? a->n_examples++ : PP_EXAMPLES - 1;
	for (i = at; i > 0 && a->example_ms[i - 1] < d; i--)
	{
		a->example_ms[i] = a->example_ms[i - 1];
		a->examples[i] = a->examples[i - 1];
	}
	a->example_ms[i] = d;
	a->examples[i] = *id;
}

/* The time-to-first-token accumulator of a, created with its first value. */
static pp_sketch_acc_t *
agg_ttft_acc(PPAgg *a)
{
	if (a->ttft_acc == NULL)
	{
		a->ttft_acc = pp_sketch_acc_create(pp_palloc_allocator(CurrentMemoryContext));
		if (a->ttft_acc == NULL)
			ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY),
							errmsg("out of memory")));
	}
	return a->ttft_acc;
}

static void
agg_add_obs(PPWindow *w, PPAgg *a, const PPNodeObs *o, TimestampTz at,
			const pg_uuid_t *id)
{
	pp_counters_add(&a->c, 1, o, at);
	pp_counters_add(at < w->mid ? &a->early : &a->late, 1, o, at);
	if (a->folded)
		return;
	check_acc(pp_sketch_acc_add(a->acc, o->duration_ms));
	if (o->ttft_ms >= 0)
		check_acc(pp_sketch_acc_add(agg_ttft_acc(a), o->ttft_ms));
	agg_example(a, o->duration_ms, id);
}

static void
visit_bucket(void *arg, int kind, const char *name, int name_len,
			 TimestampTz start, const PPCounters *c, const pp_sketch_t *sketch,
			 const pp_sketch_t *ttft_sketch)
{
	PPWindow   *w = arg;
	PPAgg	   *a;

	/* buckets arrive operation by operation: look the name up once */
	if (name != w->last_name || kind != w->last_kind)
	{
		w->last_agg = agg_get(w, kind, name, name_len);
		w->last_name = name;
		w->last_kind = kind;
	}
	a = w->last_agg;
	pp_counters_merge(&a->c, c);
	pp_counters_merge(start < w->mid ? &a->early : &a->late, c);
	if (!a->folded)
		check_acc(pp_sketch_acc_add_sketch(a->acc, sketch));
	if (!a->folded && ttft_sketch != NULL)
		check_acc(pp_sketch_acc_add_sketch(agg_ttft_acc(a), ttft_sketch));
}

/*
 * A rollup: its name is transient, so it is looked up every time.  A
 * bucket's fold row has no sketch: its counts go to the window's.
 */
static void
visit_rollup(void *arg, int kind, const char *name, int name_len,
			 TimestampTz start, const PPCounters *c, const pp_sketch_t *sketch,
			 const pp_sketch_t *ttft_sketch)
{
	PPWindow   *w = arg;

	if (sketch == NULL)
	{
		pp_counters_merge(&w->other.c, c);
		pp_counters_merge(start < w->mid ? &w->other.early : &w->other.late, c);
		return;
	}
	w->last_name = NULL;
	visit_bucket(arg, kind, name, name_len, start, c, sketch, ttft_sketch);
}

/*
 * The scan cache.  While one is open (pp_window_scan_cache_begin), every
 * range pp_window_scan reads from the table is kept -- each profile walked,
 * its tree and observations copied -- so that a later scan of a range inside
 * it replays those profiles instead of reading and walking them again: the
 * report reads the window, its call paths and the rest of the window before
 * the last hour, which all start at the bucket the window's start cuts.  All
 * of one statement's reads see the same snapshot, so a replay hands over the
 * rows a read would.  A range is kept only while the cache holds less than
 * PP_SCAN_CACHE_BYTES; beyond that it is read as without a cache.
 */
#define PP_SCAN_CACHE_BYTES (32 * 1024 * 1024)

typedef struct PPScanRow
{
	TimestampTz at;
	pg_uuid_t	id;
	double		total_ms;
	pp_tree_t	tree;
	PPNodeObs  *obs;
} PPScanRow;

typedef struct PPScanRange
{
	TimestampTz from;			/* [from, to), or [from, to] when inclusive */
	TimestampTz to;
	bool		inclusive;
	bool		complete;		/* read to its end: replayable */
	PPScanRow  *rows;
	int			n_rows;
	int			cap_rows;
	struct PPScanRange *next;
} PPScanRange;

typedef struct PPScanCache
{
	MemoryContext cxt;
	PPScanRange *ranges;
	Size		bytes;			/* of the rows kept */
	MemoryContextCallback reset;
} PPScanCache;

static PPScanCache *scan_cache = NULL;

/* The cache's memory is gone (end, or an error): forget it. */
static void
scan_cache_forget(void *arg)
{
	if (scan_cache == arg)
		scan_cache = NULL;
}

void
pp_window_scan_cache_begin(void)
{
	MemoryContext cxt;

	pp_window_scan_cache_end();
	cxt = AllocSetContextCreate(CurrentMemoryContext, "ppprof scan cache",
								ALLOCSET_DEFAULT_SIZES);
	scan_cache = MemoryContextAllocZero(cxt, sizeof(PPScanCache));
	scan_cache->cxt = cxt;
	scan_cache->reset.func = scan_cache_forget;
	scan_cache->reset.arg = scan_cache;
	MemoryContextRegisterResetCallback(cxt, &scan_cache->reset);
}

void
pp_window_scan_cache_end(void)
{
	if (scan_cache != NULL)
		MemoryContextDelete(scan_cache->cxt);	/* forgets it */
}

/* A kept range that holds [from, to) or [from, to]; NULL when none. */
static PPScanRange *
scan_cache_find(TimestampTz from, TimestampTz to, bool inclusive)
{
	PPScanRange *r;

	if (scan_cache == NULL)
		return NULL;
	for (r = scan_cache->ranges; r != NULL; r = r->next)
		if (r->complete && r->from <= from &&
			(to < r->to || (to == r->to && (r->inclusive || !inclusive))))
			return r;
	return NULL;
}

/* Copy one walked profile into range r; false when the cache is full. */
static bool
scan_cache_add(PPScanRange *r, const pp_tree_t *tree, const PPNodeObs *obs,
			   TimestampTz at, const pg_uuid_t *id, double total_ms)
{
	MemoryContext cxt = scan_cache->cxt;
	PPScanRow  *row;
	Size		names = 0;
	Size		bytes;
	char	   *buf;
	int32		k;

	for (k = 0; k < tree->n_nodes; k++)
		names += tree->nodes[k].name_len +
			(tree->nodes[k].failed ? tree->nodes[k].error_len : 0);
	bytes = sizeof(PPScanRow) + names +
		(sizeof(pp_tree_node_t) + sizeof(PPNodeObs)) * tree->n_nodes;
	if (scan_cache->bytes + bytes > PP_SCAN_CACHE_BYTES)
		return false;
	scan_cache->bytes += bytes;
	if (r->n_rows == r->cap_rows)
	{
		r->cap_rows = Max(64, 2 * r->cap_rows);
		r->rows = r->rows ? repalloc(r->rows, sizeof(PPScanRow) * r->cap_rows) :
			MemoryContextAlloc(cxt, sizeof(PPScanRow) * r->cap_rows);
	}
	row = &r->rows[r->n_rows++];
	row->at = at;
	row->id = *id;
	row->total_ms = total_ms;
	row->tree = *tree;
	row->tree.allocator = NULL;
	row->tree.nodes = MemoryContextAlloc(cxt, sizeof(pp_tree_node_t) * Max(tree->n_nodes, 1));
	memcpy(row->tree.nodes, tree->nodes, sizeof(pp_tree_node_t) * tree->n_nodes);
	row->obs = MemoryContextAlloc(cxt, sizeof(PPNodeObs) * Max(tree->n_nodes, 1));
	memcpy(row->obs, obs, sizeof(PPNodeObs) * tree->n_nodes);
	/* the names and errors point into the profile read: copy them */
	buf = MemoryContextAlloc(cxt, Max(names, 1));
	for (k = 0; k < tree->n_nodes; k++)
	{
		pp_tree_node_t *n = &row->tree.nodes[k];

		memcpy(buf, n->name, n->name_len);
		n->name = buf;
		buf += n->name_len;
		if (n->failed)
		{
			memcpy(buf, n->error, n->error_len);
			n->error = buf;
			buf += n->error_len;
		}
	}
	return true;
}

/* Drop a range being filled that did not fit (the last one added). */
static void
scan_cache_drop(PPScanRange *r)
{
	PPScanRange **p;

	for (p = &scan_cache->ranges; *p != NULL; p = &(*p)->next)
		if (*p == r)
		{
			*p = r->next;
			break;
		}
	/* the cache is full: no more ranges (its memory goes at the end) */
	scan_cache->bytes = PP_SCAN_CACHE_BYTES;
}

/*
 * Run query -- SELECT profile_data, total_duration_ms, created_at, id FROM a
 * table of profiles -- with its nargs parameters, as role owner, through a
 * cursor (read_only: in the current snapshot, else in one taken now), and
 * hand each row that has a profile_data to visit, in SPI's memory context.
 * Nothing is cached: only pp_window_scan keeps what it reads.
 */
void
pp_window_scan_query(Oid owner, const char *query, int nargs, Oid *argtypes,
					 Datum *args, bool read_only, pp_stored_row_visitor visit,
					 void *arg)
{
	PPSavedUser saved;
	SPIPlanPtr	plan;
	Portal		portal;

	pp_spi_connect_as(owner, &saved);
	plan = SPI_prepare(query, nargs, argtypes);
	if (plan == NULL)
		elog(ERROR, "ppprof: SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
	portal = SPI_cursor_open(NULL, plan, args, NULL, read_only);
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
			Datum		total;
			double		total_ms;
			TimestampTz at;
			pg_uuid_t  *id;

			CHECK_FOR_INTERRUPTS();
			/* NULL only in a table being attached, which the command refuses */
			if (isnull)
				continue;
			total = SPI_getbinval(tup, desc, 2, &isnull);
			total_ms = isnull ? 0 : DatumGetFloat8(total);
			at = DatumGetTimestampTz(SPI_getbinval(tup, desc, 3, &isnull));
			id = DatumGetUUIDP(SPI_getbinval(tup, desc, 4, &isnull));
			visit(arg, profile, total_ms, at, id);
		}
		SPI_freetuptable(SPI_tuptable);
	}
	SPI_cursor_close(portal);
	pp_spi_finish_as(&saved);
}

/* What pp_window_scan hands each row of the table to (scan_row). */
typedef struct PPScanState
{
	pp_row_visitor visit;
	void	   *arg;
	MemoryContext caller;		/* where visit runs */
	PPScanRange *filling;		/* the cache's range being filled, or NULL */
} PPScanState;

static void
scan_row(void *arg, Datum profile, double total, TimestampTz at,
		 const pg_uuid_t *id)
{
	PPScanState *s = arg;
	pp_tree_t	tree;
	PPNodeObs  *obs;
	MemoryContext old;

	/* false: stored while ppprof was disabled, and not a valid profile */
	if (!pp_profile_observations(profile, at, &tree, &obs))
		return;
	if (s->filling != NULL &&
		!scan_cache_add(s->filling, &tree, obs, at, id, total))
	{
		scan_cache_drop(s->filling);
		s->filling = NULL;
	}
	old = MemoryContextSwitchTo(s->caller);
	s->visit(s->arg, &tree, obs, at, id, total);
	MemoryContextSwitchTo(old);
}

/*
 * Hand every valid profile with created_at in [from, to) -- or [from, to]
 * when inclusive -- to visit, walked into its tree and observations, read
 * from the table through the created_at index as the table's owner (or
 * replayed from the scan cache).  visit runs in the caller's memory context.
 */
void
pp_window_scan(PPConfig *cfg, TimestampTz from, TimestampTz to, bool inclusive,
			   pp_row_visitor visit, void *arg)
{
	StringInfoData q;
	Oid			argtypes[2] = {TIMESTAMPTZOID, TIMESTAMPTZOID};
	Datum		args[2];
	PPScanRange *kept;
	PPScanState state;

	if (from > to || (!inclusive && from == to))
		return;

	kept = scan_cache_find(from, to, inclusive);
	if (kept != NULL)
	{
		int			i;

		for (i = 0; i < kept->n_rows; i++)
		{
			const PPScanRow *row = &kept->rows[i];

			CHECK_FOR_INTERRUPTS();
			if (row->at < from || row->at > to || (!inclusive && row->at == to))
				continue;
			visit(arg, &row->tree, row->obs, row->at, &row->id, row->total_ms);
		}
		return;
	}
	state.visit = visit;
	state.arg = arg;
	state.caller = CurrentMemoryContext;
	state.filling = NULL;
	if (scan_cache != NULL && scan_cache->bytes < PP_SCAN_CACHE_BYTES)
	{
		state.filling = MemoryContextAllocZero(scan_cache->cxt, sizeof(PPScanRange));
		state.filling->from = from;
		state.filling->to = to;
		state.filling->inclusive = inclusive;
		state.filling->next = scan_cache->ranges;
		scan_cache->ranges = state.filling;
	}

	initStringInfo(&q);
	appendStringInfo(&q,
					 "SELECT profile_data, total_duration_ms, created_at, id"
					 " FROM %s.performance_profiles"
					 " WHERE created_at OPERATOR(pg_catalog.>=) $1"
					 " AND created_at OPERATOR(pg_catalog.%s) $2"
					 " AND ppprof_rejected IS NULL",
					 quote_identifier(get_namespace_name(cfg->schema)),
					 inclusive ? "<=" : "<");
	args[0] = TimestampTzGetDatum(from);
	args[1] = TimestampTzGetDatum(to);

	pp_window_scan_query(pp_config_owner(cfg), q.data, 2, argtypes, args, true,
						 scan_row, &state);
	if (state.filling != NULL)
		state.filling->complete = true;
}

/* One profile of the table into the operations of the window. */
static void
visit_row(void *arg, const pp_tree_t *tree, const PPNodeObs *obs,
		  TimestampTz at, const pg_uuid_t *id, double total)
{
	PPWindow   *w = arg;
	PPNodeObs	root;
	int32		k;

	memset(&root, 0, sizeof(root));
	root.duration_ms = total;
	root.self_ms = total;
	for (k = 0; k < tree->n_nodes; k++)
	{
		const pp_tree_node_t *n = &tree->nodes[k];

		CHECK_FOR_INTERRUPTS();
		agg_add_obs(w, agg_get(w, PP_KIND_OPERATION, n->name, (int) n->name_len),
					&obs[k], at, id);
		root.failed |= n->failed;
	}
	pp_obs_sum_usage(&root, obs, tree->n_nodes);
	agg_add_obs(w, agg_get(w, PP_KIND_ROOT, "", 0), &root, at, id);
}

static void
read_table(PPWindow *w, PPConfig *cfg, TimestampTz from, TimestampTz to,
		   bool inclusive)
{
	pp_window_scan(cfg, from, to, inclusive, visit_row, w);
}

/*
 * Say once per session that statistics come from the table because ppprof
 * is not preloaded.
 */
void
pp_window_notice_no_preload(void)
{
	if (!pp_shmem_attached() && !noticed_no_preload && !RecoveryInProgress())
	{
		ereport(NOTICE,
				(errmsg("ppprof is not in shared_preload_libraries: statistics are computed from the table"),
				 errhint("Add ppprof to shared_preload_libraries and restart for live statistics.")));
		noticed_no_preload = true;
	}
}

/*
 * The instant that splits the window in an older and a newer half: the
 * middle, rounded to the hour for windows that read hour buckets and to the
 * minute otherwise, so that no bucket straddles it and both halves are the
 * same whether the rows came from buckets or from the table.
 */
static TimestampTz
window_middle(TimestampTz t0, TimestampTz t1)
{
	TimestampTz middle = t0 + (t1 - t0) / 2;
	int64		unit = (t1 - t0 >= PP_HOUR_BUCKETS_FROM) ? USECS_PER_HOUR : USECS_PER_MINUTE;

	return ((middle + unit / 2) / unit) * unit;
}

void
pp_window_read(PPWindow *w, TimestampTz t0, TimestampTz t1, bool end_open)
{
	HASHCTL		info;
	PPConfig   *cfg = pp_config_get();
	PPWindowPlan plan;

	memset(w, 0, sizeof(*w));
	w->t0 = t0;
	w->t1 = t1;
	w->mid = window_middle(t0, t1);
	memset(&info, 0, sizeof(info));
	info.keysize = offsetof(PPAgg, name_len) + sizeof(int);
	info.entrysize = sizeof(PPAgg);
	info.hash = pp_name_key_hash;
	info.match = pp_name_key_match;
	info.hcxt = CurrentMemoryContext;
	w->ops = hash_create("ppprof window", 64, &info,
						 HASH_ELEM | HASH_FUNCTION | HASH_COMPARE | HASH_CONTEXT);
	w->root.name = "";
	(void) agg_get(w, PP_KIND_ROOT, "", 0);
	w->other.name = PP_FOLD_NAME;
	w->other.name_len = strlen(PP_FOLD_NAME);
	w->other.folded = true;

	pp_window_notice_no_preload();

	if (t0 > t1 || (end_open && t0 == t1))
		return;
	if (!pp_shmem_collect(MyDatabaseId, t0, t1, end_open, visit_bucket, w, &plan))
	{
		PPRollupPlan rplan;
		int			i;

		w->why = plan.why;
		if (plan.rebuild)
			pp_shmem_invalidate(MyDatabaseId, true);
		if (plan.invalid || plan.rebuild)
			pp_request_rebuild(MyDatabaseId);
		if (!pp_rollup_collect(t0, t1, end_open, w->mid, 0, visit_rollup, w,
							   &rplan))
		{
			w->from_table = true;
			read_table(w, cfg, t0, t1, !end_open);
			return;
		}
		/* the configuration may have been loaded again meanwhile */
		cfg = pp_config_get();
		w->from_rollups = true;
		for (i = 0; i < rplan.n_rest; i++)
			read_table(w, cfg, rplan.rest[i].from, rplan.rest[i].to,
					   rplan.rest[i].inclusive);
		return;
	}
	read_table(w, cfg, plan.edge_lo_from, plan.edge_lo_to, false);
	read_table(w, cfg, plan.edge_hi_from, plan.edge_hi_to, !plan.edge_hi_open);
}

double
pp_counters_stddev(const PPCounters *c)
{
	/* as SQL's stddev(): undefined (NaN) for fewer than two values */
	return sqrt(pp_sample_variance(c->calls, c->sum_ms, c->sumsq_ms));
}

double
pp_agg_ttft_quantile(const PPAgg *a, double q)
{
	if (a->ttft_acc == NULL)
		return NAN;
	return pp_sketch_acc_quantile(a->ttft_acc, q);
}

double
pp_agg_quantile(const PPAgg *a, double q)
{
	double		v;

	if (a->acc == NULL || a->c.calls <= 0)
		return NAN;				/* the fold row has no percentiles */
	v = pp_sketch_acc_quantile(a->acc, q);
	/* a bin's representative may lie outside the values seen: clamp */
	if (v < a->c.min_ms)
		v = a->c.min_ms;
	if (v > a->c.max_ms)
		v = a->c.max_ms;
	return v;
}

void
pp_window_bounds(Datum window, TimestampTz *t0, TimestampTz *t1)
{
	Interval   *iv = DatumGetIntervalP(window);
	Interval	zero;

	memset(&zero, 0, sizeof(zero));
	if (DatumGetInt32(DirectFunctionCall2(interval_cmp, window,
										  IntervalPGetDatum(&zero))) < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("window must not be negative"),
				 errhint("Pass an interval such as '24 hours'.")));
	*t1 = GetCurrentTransactionStartTimestamp();
	*t0 = DatumGetTimestampTz(DirectFunctionCall2(timestamptz_mi_interval,
												  TimestampTzGetDatum(*t1),
												  IntervalPGetDatum(iv)));
}

void
pp_range_bounds(Datum range, const char *what, TimestampTz *t0, TimestampTz *t1,
			 bool *end_open)
{
	RangeType  *r = DatumGetRangeTypeP(range);
	TypeCacheEntry *tc = lookup_type_cache(RangeTypeGetOid(r), TYPECACHE_RANGE_INFO);
	RangeBound	lower,
				upper;
	bool		empty;

	range_deserialize(tc, r, &lower, &upper, &empty);
	if (empty)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s range must not be empty", what)));
	if (lower.infinite || upper.infinite ||
		TIMESTAMP_NOT_FINITE(DatumGetTimestampTz(lower.val)) ||
		TIMESTAMP_NOT_FINITE(DatumGetTimestampTz(upper.val)))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s range must have finite bounds", what),
				 errhint("Pass a range such as tstzrange(now() - interval '2 days', now() - interval '1 day').")));
	*t0 = DatumGetTimestampTz(lower.val) + (lower.inclusive ? 0 : 1);
	*t1 = DatumGetTimestampTz(upper.val);
	*end_open = !upper.inclusive;
}
