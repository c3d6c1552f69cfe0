/*-------------------------------------------------------------------------
 *
 * src/rollup_read.c
 *	  Answer a window from the rollups (performance_rollups) and the table
 *	  rows they do not hold, when the shared statistics cannot answer: on a
 *	  hot standby, before the live statistics' horizon, while they are
 *	  rebuilt, or for a window reaching before the oldest raw profile.
 *
 * The window is cut into buckets whose rollup can stand for the table: a
 * day, hour or minute that lies entirely inside the window (and on one side
 * of its middle, as the halves of a window need), that has a rollup, and
 * whose minutes carry no mark in performance_rollup_stale.  Everything else
 * -- the edges that cut a bucket, the buckets marked or without a rollup,
 * and the rows newer than the last rollup -- is left as ranges of time for
 * the caller to read from the table.  The rollups, the marks and the table
 * are all read in the statement's snapshot, and a rollup without a mark
 * equals the table's rows of its bucket in any snapshot that sees it
 * (src/rollups.c), so counts and sums are the table's, and percentiles
 * merge the same sketch bins the table's rows would fill.
 *
 * One exception, by design: rows that pp_purge deleted stay counted in
 * their rollups (their deletion marks nothing), so that statistics outlive
 * the raw profiles (docs/scaling.md).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "config.h"
#include "rollup.h"
#include "rollup_read.h"
#include "rollups.h"
#include "spi_owner.h"
#include "window.h"

/* The widths, longest first. */
static const struct
{
	const char *name;
	TimestampTz usecs;
}			widths[PP_ROLLUP_WIDTHS] = {
	{"day", USECS_PER_DAY},
	{"hour", USECS_PER_HOUR},
	{"minute", USECS_PER_MINUTE},
};

/*
 * A set of bucket starts, in memory cxt (named: SPI calls switch to their
 * own context when they return).
 */
static HTAB *
start_set(const char *what, MemoryContext cxt)
{
	HASHCTL		ctl;

	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(TimestampTz);
	ctl.entrysize = sizeof(TimestampTz);
	ctl.hcxt = cxt;
	return hash_create(what, 256, &ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
}

static bool
set_has(HTAB *set, TimestampTz t)
{
	return hash_search(set, &t, HASH_FIND, NULL) != NULL;
}

static void
set_add(HTAB *set, TimestampTz t)
{
	(void) hash_search(set, &t, HASH_ENTER, NULL);
}

static TimestampTz
floor_to(TimestampTz t, TimestampTz width)
{
	TimestampTz r = t - t % width;

	return r > t ? r - width : r;
}

/*
 * The queries, prepared once per backend and schema (a trend reads a window
 * per bucket: parsing and planning them each time cost more than running
 * them).  Kept plans are checked again by the plan cache after DDL.
 */
enum
{
	Q_WRITTEN,					/* (width, from, to) -> bucket_start */
	Q_MARKS,					/* (from, to) -> bucket_start */
	Q_DATA,						/* (width, lo, hi) -> start, kind, name, data */
	Q_PATHS,					/* the same for the call paths */
	Q_DIMS,						/* the same for the dimensions' values */
	Q_ALL_MARKED,				/* () -> the oldest profile, when every
								 * bucket is marked (pp_rollup_mark_all) */
	Q_FOLDED,					/* (from, to) -> width, bucket_start of the
								 * buckets that have a fold row */
	N_QUERIES
};

static SPIPlanPtr plans[N_QUERIES];
static Oid	plans_schema = InvalidOid;

static SPIPlanPtr
plan_for(int q, const char *nsp, Oid schema)
{
	static Oid	types3[3] = {TEXTOID, TIMESTAMPTZOID, TIMESTAMPTZOID};
	static Oid	types2[2] = {TIMESTAMPTZOID, TIMESTAMPTZOID};
	const char *text = NULL;
	SPIPlanPtr	plan;
	int			i;

	if (schema != plans_schema)
	{
		for (i = 0; i < N_QUERIES; i++)
			if (plans[i] != NULL)
			{
				SPI_freeplan(plans[i]);
				plans[i] = NULL;
			}
		plans_schema = schema;
	}
	if (plans[q] != NULL)
		return plans[q];
	switch (q)
	{
		case Q_WRITTEN:
			text = psprintf("SELECT bucket_start FROM %s.performance_rollups"
							" WHERE width OPERATOR(pg_catalog.=) $1"
							" AND bucket_start OPERATOR(pg_catalog.>=) $2"
							" AND bucket_start OPERATOR(pg_catalog.<) $3"
							" AND kind OPERATOR(pg_catalog.=) 'p'", nsp);
			break;
		case Q_MARKS:
			text = psprintf("SELECT DISTINCT bucket_start FROM %s.performance_rollup_stale"
							" WHERE bucket_start OPERATOR(pg_catalog.>=) $1"
							" AND bucket_start OPERATOR(pg_catalog.<) $2", nsp);
			break;
		case Q_DATA:
		case Q_PATHS:
		case Q_DIMS:
			text = psprintf("SELECT bucket_start, kind, name, data"
							" FROM %s.performance_rollups"
							" WHERE width OPERATOR(pg_catalog.=) $1"
							" AND bucket_start OPERATOR(pg_catalog.>=) $2"
							" AND bucket_start OPERATOR(pg_catalog.<=) $3"
							" AND kind OPERATOR(pg_catalog.=) ANY (%s)",
							nsp, q == Q_PATHS ? "'{c}'::\"char\"[]" :
							q == Q_DIMS ? "'{d}'::\"char\"[]" : "'{p,o}'::\"char\"[]");
			break;
		case Q_ALL_MARKED:
			text = psprintf("SELECT min(created_at) FROM %s.performance_profiles"
							" WHERE EXISTS (SELECT FROM %s.performance_rollup_stale"
							" WHERE bucket_start OPERATOR(pg_catalog.=) '-infinity')",
							nsp, nsp);
			break;
		case Q_FOLDED:
			text = psprintf("SELECT DISTINCT width, bucket_start FROM %s.performance_rollups"
							" WHERE bucket_start OPERATOR(pg_catalog.>=) $1"
							" AND bucket_start OPERATOR(pg_catalog.<) $2"
							" AND name OPERATOR(pg_catalog.=) %s",
							nsp, quote_literal_cstr(PP_FOLD_NAME));
			break;
	}
	plan = SPI_prepare(text, q == Q_ALL_MARKED ? 0 :
					   q == Q_MARKS || q == Q_FOLDED ? 2 : 3,
					   q == Q_MARKS || q == Q_FOLDED ? types2 : types3);
	if (plan == NULL)
		elog(ERROR, "ppprof: SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
	if (SPI_keepplan(plan) != 0)
		elog(ERROR, "ppprof: SPI_keepplan failed");
	plans[q] = plan;
	return plan;
}

/* Run a read-only query in the statement's snapshot. */
static void
run(SPIPlanPtr plan, Datum *args)
{
	if (SPI_execute_plan(plan, args, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "ppprof: could not read rollups");
}

/*
 * The starts, within [t0, t1), of the buckets of one width that have a
 * rollup (their profiles' row, written for every bucket, empty or not).
 */
static HTAB *
read_written(SPIPlanPtr plan, int w, TimestampTz t0, TimestampTz t1,
			 MemoryContext cxt)
{
	HTAB	   *set = start_set("ppprof rollups written", cxt);
	Datum		args[3];
	uint64		i;

	args[0] = CStringGetTextDatum(widths[w].name);
	args[1] = TimestampTzGetDatum(t0);
	args[2] = TimestampTzGetDatum(t1);
	run(plan, args);
	for (i = 0; i < SPI_processed; i++)
	{
		bool		isnull;

		set_add(set, DatumGetTimestampTz(SPI_getbinval(SPI_tuptable->vals[i],
													   SPI_tuptable->tupdesc, 1,
													   &isnull)));
	}
	return set;
}

/* The bucket starts of one width that hold a marked minute of [t0, t1). */
static void
read_marks(SPIPlanPtr plan, TimestampTz t0, TimestampTz t1, HTAB **marked,
		   MemoryContext cxt)
{
	Datum		args[2];
	uint64		i;
	int			w;

	args[0] = TimestampTzGetDatum(t0);
	args[1] = TimestampTzGetDatum(t1);
	run(plan, args);
	for (w = 0; w < PP_ROLLUP_WIDTHS; w++)
		marked[w] = start_set("ppprof rollups marked", cxt);
	for (i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		TimestampTz m = DatumGetTimestampTz(SPI_getbinval(SPI_tuptable->vals[i],
														  SPI_tuptable->tupdesc,
														  1, &isnull));

		for (w = 0; w < PP_ROLLUP_WIDTHS; w++)
			set_add(marked[w], floor_to(m, widths[w].usecs));
	}
}

/*
 * The bucket starts, per width, within [t0, t1), that have a fold row (an
 * operation or a call path beyond ppprof.max_window_operations or
 * max_window_paths).  A real operation named like the fold row counts too:
 * its bucket is only read from the table.
 */
static void
read_folded(SPIPlanPtr plan, TimestampTz t0, TimestampTz t1, HTAB **folded,
			MemoryContext cxt)
{
	Datum		args[2];
	uint64		i;
	int			w;

	args[0] = TimestampTzGetDatum(t0);
	args[1] = TimestampTzGetDatum(t1);
	run(plan, args);
	for (w = 0; w < PP_ROLLUP_WIDTHS; w++)
		folded[w] = start_set("ppprof rollups folded", cxt);
	for (i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		char	   *width = TextDatumGetCString(SPI_getbinval(SPI_tuptable->vals[i],
															  SPI_tuptable->tupdesc,
															  1, &isnull));

		for (w = 0; w < PP_ROLLUP_WIDTHS; w++)
			if (strcmp(width, widths[w].name) == 0)
				set_add(folded[w],
						DatumGetTimestampTz(SPI_getbinval(SPI_tuptable->vals[i],
														  SPI_tuptable->tupdesc,
														  2, &isnull)));
	}
}

/*
 * Add [from, to) -- [from, to] when inclusive -- to the table's ranges,
 * joining it to the last one, in memory cxt.
 */
static void
rest_add(PPRollupPlan *plan, MemoryContext cxt, TimestampTz from,
		 TimestampTz to, bool inclusive)
{
	PPTimeRange *r;

	if (plan->n_rest > 0)
	{
		r = &plan->rest[plan->n_rest - 1];
		if (r->to == from && !r->inclusive)
		{
			r->to = to;
			r->inclusive = inclusive;
			return;
		}
	}
	if (plan->n_rest == plan->cap_rest)
	{
		plan->cap_rest = Max(16, plan->cap_rest * 2);
		plan->rest = plan->rest ?
			repalloc(plan->rest, sizeof(PPTimeRange) * plan->cap_rest) :
			MemoryContextAlloc(cxt, sizeof(PPTimeRange) * plan->cap_rest);
	}
	r = &plan->rest[plan->n_rest++];
	r->from = from;
	r->to = to;
	r->inclusive = inclusive;
}

/*
 * Merge the rollups of the buckets chosen (of width w, in [lo, hi]) into
 * visit, which runs in memory context caller: one index range read,
 * keeping the chosen buckets only.
 */
static void
visit_chosen(SPIPlanPtr plan, int w, HTAB *chosen, TimestampTz lo,
			 TimestampTz hi, pp_bucket_visitor visit, void *arg,
			 MemoryContext caller)
{
	Datum		args[3];
	Portal		portal;
	pp_sketch_t *durations = palloc(PP_SKETCH_SIZE(PP_SKETCH_MAX_CAPACITY));
	pp_sketch_t *ttft = palloc(PP_SKETCH_SIZE(PP_SKETCH_MAX_CAPACITY));

	args[0] = CStringGetTextDatum(widths[w].name);
	args[1] = TimestampTzGetDatum(lo);
	args[2] = TimestampTzGetDatum(hi);
	portal = SPI_cursor_open(NULL, plan, args, NULL, true);
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
			TimestampTz start = DatumGetTimestampTz(SPI_getbinval(tup, desc, 1, &isnull));
			char		kind = DatumGetChar(SPI_getbinval(tup, desc, 2, &isnull));
			text	   *name;
			PPCounters	c;
			uint8		flags;
			MemoryContext old;

			CHECK_FOR_INTERRUPTS();
			if (!set_has(chosen, start))
				continue;
			name = DatumGetTextPP(SPI_getbinval(tup, desc, 3, &isnull));
			pp_rollup_read_data(DatumGetByteaPP(SPI_getbinval(tup, desc, 4, &isnull)),
								&c, durations, ttft, &flags);
			if (c.calls <= 0)
				continue;		/* an empty bucket's profiles row */
			/* a bucket's fold row has no sketch: it folds in the window */
			old = MemoryContextSwitchTo(caller);
			visit(arg, kind == 'p' ? PP_KIND_ROOT : kind == 'c' ? PP_KIND_PATH :
				  kind == 'd' ? PP_KIND_DIM : PP_KIND_OPERATION,
				  VARDATA_ANY(name), VARSIZE_ANY_EXHDR(name), start, &c,
				  (flags & PP_ROLLUP_HAS_DURATIONS) ? durations : NULL,
				  (flags & PP_ROLLUP_HAS_TTFT) ? ttft : NULL);
			MemoryContextSwitchTo(old);
		}
		SPI_freetuptable(SPI_tuptable);
	}
	SPI_cursor_close(portal);
}

/*
 * What rollups exist and which buckets are marked, over [t0, t1): read
 * once per window, or once per statement for all of its windows (a trend's
 * buckets) between pp_rollup_cache_begin and pp_rollup_cache_end.
 */
typedef struct Coverage
{
	TimestampTz t0;
	TimestampTz t1;
	bool		any;			/* some rollup */
	HTAB	   *written[PP_ROLLUP_WIDTHS];
	HTAB	   *marked[PP_ROLLUP_WIDTHS];
	HTAB	   *folded[PP_ROLLUP_WIDTHS];	/* NULL unless read */
	HTAB	   *days_with_hours;	/* where to look for shorter buckets */
	HTAB	   *hours_with_minutes;
	TimestampTz stale_from;		/* every bucket that ends later is marked
								 * (DT_NOEND: none is) */
} Coverage;

static Coverage *cached = NULL;
static TimestampTz cache_t0;
static TimestampTz cache_t1;
static MemoryContext cache_cxt = NULL;

/*
 * Read the coverage of [t0, t1) into memory cxt (SPI connected), with the
 * buckets that have a fold row when folded.
 */
static Coverage *
coverage_read(const char *nsp, Oid schema, TimestampTz t0, TimestampTz t1,
			  bool folded, MemoryContext cxt)
{
	Coverage   *cov = MemoryContextAllocZero(cxt, sizeof(Coverage));
	HASH_SEQ_STATUS seq;
	TimestampTz *t;
	int			w;

	cov->t0 = t0;
	cov->t1 = t1;
	for (w = 0; w < PP_ROLLUP_WIDTHS; w++)
	{
		cov->written[w] = read_written(plan_for(Q_WRITTEN, nsp, schema), w, t0, t1, cxt);
		cov->any |= hash_get_num_entries(cov->written[w]) > 0;
	}
	read_marks(plan_for(Q_MARKS, nsp, schema), t0, t1, cov->marked, cxt);
	if (folded)
		read_folded(plan_for(Q_FOLDED, nsp, schema), t0, t1, cov->folded, cxt);
	run(plan_for(Q_ALL_MARKED, nsp, schema), NULL);
	{
		bool		isnull;
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);

		/* the buckets from the oldest profile on hold rows to compute again */
		cov->stale_from = isnull ? DT_NOEND : DatumGetTimestampTz(d);
	}
	cov->days_with_hours = start_set("ppprof days with hours", cxt);
	cov->hours_with_minutes = start_set("ppprof hours with minutes", cxt);
	hash_seq_init(&seq, cov->written[1]);
	while ((t = hash_seq_search(&seq)) != NULL)
		set_add(cov->days_with_hours, floor_to(*t, USECS_PER_DAY));
	hash_seq_init(&seq, cov->written[2]);
	while ((t = hash_seq_search(&seq)) != NULL)
	{
		set_add(cov->days_with_hours, floor_to(*t, USECS_PER_DAY));
		set_add(cov->hours_with_minutes, floor_to(*t, USECS_PER_HOUR));
	}
	return cov;
}

/* The cache's memory is gone (end, or an error): forget it. */
static void
cache_forget(void *arg)
{
	cached = NULL;
	cache_cxt = NULL;
}

void
pp_rollup_cache_begin(TimestampTz t0, TimestampTz t1)
{
	MemoryContextCallback *cb;

	pp_rollup_cache_end();
	cache_cxt = AllocSetContextCreate(CurrentMemoryContext, "ppprof rollup coverage",
									  ALLOCSET_DEFAULT_SIZES);
	cb = MemoryContextAlloc(cache_cxt, sizeof(MemoryContextCallback));
	cb->func = cache_forget;
	cb->arg = NULL;
	MemoryContextRegisterResetCallback(cache_cxt, cb);
	cache_t0 = t0;
	cache_t1 = t1;
}

void
pp_rollup_cache_end(void)
{
	if (cache_cxt != NULL)
		MemoryContextDelete(cache_cxt);	/* forgets it */
}

bool
pp_rollup_collect(TimestampTz t0, TimestampTz t1, bool end_open,
				  TimestampTz mid, int flags, pp_bucket_visitor visit,
				  void *arg, PPRollupPlan *plan)
{
	PPConfig   *cfg = pp_config_get();
	MemoryContext caller = CurrentMemoryContext;
	PPSavedUser saved;
	const char *nsp;
	Coverage   *cov;
	HTAB	   *chosen[PP_ROLLUP_WIDTHS];
	TimestampTz lo[PP_ROLLUP_WIDTHS];
	TimestampTz hi[PP_ROLLUP_WIDTHS];
	TimestampTz p;
	int			w;
	int			widest = (flags & PP_ROLLUP_MINUTES) ? 2 :
		(flags & PP_ROLLUP_NO_DAYS) ? 1 : 0;
	bool		unfolded = (flags & PP_ROLLUP_UNFOLDED) != 0;

	memset(plan, 0, sizeof(*plan));
	if (t0 >= t1 || !OidIsValid(get_relname_relid("performance_rollups", cfg->schema)))
		return false;
	nsp = quote_identifier(get_namespace_name(cfg->schema));

	pp_spi_connect_as(pp_config_owner(cfg), &saved);
	if (cache_cxt != NULL && cache_t0 <= t0 && t1 <= cache_t1 && !unfolded)
	{
		/* read once, over the whole range, the first time */
		if (cached == NULL)
			cached = coverage_read(nsp, cfg->schema, cache_t0, cache_t1, false,
								   cache_cxt);
		cov = cached;
	}
	else
		cov = coverage_read(nsp, cfg->schema, t0, t1, unfolded,
							CurrentMemoryContext);
	if (!cov->any)
	{
		pp_spi_finish_as(&saved);
		return false;
	}

	for (w = 0; w < PP_ROLLUP_WIDTHS; w++)
	{
		chosen[w] = start_set("ppprof rollups chosen", CurrentMemoryContext);
		lo[w] = DT_NOEND;
		hi[w] = DT_NOBEGIN;
	}

	/* walk the window, taking the longest usable bucket at each point */
	p = t0;
	while (p < t1)
	{
		TimestampTz next;

		CHECK_FOR_INTERRUPTS();
		for (w = widest; w < PP_ROLLUP_WIDTHS; w++)
		{
			TimestampTz u = widths[w].usecs;

			if (p % u == 0 && p + u <= t1 && !(p < mid && mid < p + u) &&
				p + u <= cov->stale_from &&
				set_has(cov->written[w], p) && !set_has(cov->marked[w], p) &&
				!(unfolded && set_has(cov->folded[w], p)))
				break;
		}
		if (w < PP_ROLLUP_WIDTHS)
		{
			set_add(chosen[w], p);
			lo[w] = Min(lo[w], p);
			hi[w] = Max(hi[w], p);
			plan->n_buckets++;
			p += widths[w].usecs;
			continue;
		}
		/* from the table: to the next point where a rollup may start */
		if (p % USECS_PER_DAY == 0 && !set_has(cov->days_with_hours, p))
			next = p + USECS_PER_DAY;
		else if (p % USECS_PER_HOUR == 0 && !set_has(cov->hours_with_minutes, p))
			next = p + USECS_PER_HOUR;
		else
			next = floor_to(p, USECS_PER_MINUTE) + USECS_PER_MINUTE;
		next = Min(next, t1);
		rest_add(plan, caller, p, next, false);
		p = next;
	}
	if (!end_open)
		rest_add(plan, caller, t1, t1, true);

	if (plan->n_buckets > 0)
		for (w = 0; w < PP_ROLLUP_WIDTHS; w++)
			if (hi[w] >= lo[w])
				visit_chosen(plan_for((flags & PP_ROLLUP_PATHS) ? Q_PATHS :
									  (flags & PP_ROLLUP_DIMS) ? Q_DIMS : Q_DATA,
									  nsp, cfg->schema),
							 w, chosen[w], lo[w], hi[w], visit, arg, caller);
	pp_spi_finish_as(&saved);
	return plan->n_buckets > 0;
}
