/*-------------------------------------------------------------------------
 *
 * src/report_changes.c
 *	  What changed: the report's `compared_with` and `changes`.
 *
 * Two comparisons, each per operation of its newer period and per measure
 * (p95, error rate, share of self time), judged by src/core/changes.c:
 *
 *	window     the report's window against the previous window of the same
 *	           length, [t0 - (t1 - t0), t0) -- or, when a baseline is named,
 *	           against that row of performance_baselines and its operations
 *	           (which kept calls, p95 and error rate, but no sketch and no
 *	           self time: p95 is tested with the exceedance test, and the
 *	           share of time is not compared)
 *	last_hour  for windows of 3 hours or more, the last hour [t1 - 1 h, t1]
 *	           against the rest of the window [t0, t1 - 1 h): a regression
 *	           an hour old holds a twenty-fourth of a 24-hour window and
 *	           barely moves its p95 or shares, but it is the whole last hour
 *
 * An operation and measure found by both comparisons is reported once, by
 * the window.  Each period is read with pp_window_read (shared buckets and
 * table edges), so the figures are those of pp_range_stats; the rest of the
 * window starts at the window's edge, whose rows the report's scan cache
 * (window.c) replays rather than reading them again.
 *
 * Example profiles come from the operation's reservoir (its slowest samples
 * in the newer period) and, when it holds fewer than PP_EXAMPLES there (it
 * is a random sample), or for error rates (the reservoir does not record
 * failures), from a bounded read of the table: the PP_EXAMPLE_SCAN most recent profiles of the newer period,
 * through the created_at index, searched with a jsonpath.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"

#include "changes.h"
#include "jsonb_build.h"
#include "report_changes.h"
#include "shmem.h"
#include "spi_owner.h"
#include "stats.h"

#define MAX_CHANGES			20	/* most significant first */
#define LAST_HOUR			USECS_PER_HOUR
#define LAST_HOUR_FROM		(3 * USECS_PER_HOUR)	/* windows this long or more */
#define PP_EXAMPLE_SCAN		500 /* profiles read for examples, at most */

typedef enum Scope
{
	SCOPE_WINDOW,
	SCOPE_LAST_HOUR
} Scope;

/* What the other side of a comparison knows of one operation */
typedef struct BaselineOp
{
	char	   *name;
	int64		calls;
	double		p95_ms;
	double		error_rate;
} BaselineOp;

typedef struct Baseline
{
	TimestampTz start;
	TimestampTz end;
	BaselineOp *ops;
	int			n_ops;
} Baseline;

typedef struct Change
{
	char	   *name;			/* the operation, NUL-terminated */
	int			name_len;
	int64		calls_after;
	Scope		scope;
	TimestampTz t0;				/* the newer period, closed */
	TimestampTz t1;
	int64		calls_before;
	pp_change_t c;
} Change;

typedef struct Changes
{
	Change	   *items;
	int			n;
	int			cap;
	MemoryContext cxt;			/* of items and their names */
} Changes;

/* Sum of the self times of a period, the fold row included */
static double
total_self_ms(PPWindow *w)
{
	PPAgg	  **aggs;
	int			n,
				i;
	double		sum = w->other.c.self_sum_ms;

	aggs = pp_window_sorted(w, &n);
	for (i = 0; i < n; i++)
		sum += aggs[i]->c.self_sum_ms;
	return sum;
}

static void
side_of_agg(pp_change_side_t *s, const PPAgg *a, double total_self, double profiles)
{
	s->calls = a->c.calls;
	s->errors = a->c.errors;
	s->p95_ms = pp_agg_quantile(a, 0.95);
	s->share = total_self > 0 ? a->c.self_sum_ms / total_self : NAN;
	s->profiles = profiles;
}

static bool
already(const Changes *ch, const PPAgg *a, pp_change_measure_t m)
{
	int			i;

	for (i = 0; i < ch->n; i++)
		if (ch->items[i].c.measure == m &&
			ch->items[i].name_len == a->name_len &&
			memcmp(ch->items[i].name, a->name, a->name_len) == 0)
			return true;
	return false;
}

/* The significant changes of one operation, in the context of ch */
static void
judge_all(Changes *ch, const pp_change_input_t *in, const PPAgg *a, Scope scope,
		  TimestampTz t0, TimestampTz t1)
{
	int			m;

	for (m = 0; m < PP_N_CHANGE_MEASURES; m++)
	{
		Change		c;

		if (!pp_change_judge(in, (pp_change_measure_t) m, &c.c))
			continue;
		if (scope == SCOPE_LAST_HOUR && already(ch, a, (pp_change_measure_t) m))
			continue;
		c.name = MemoryContextStrdup(ch->cxt, a->name);
		c.name_len = a->name_len;
		c.calls_after = a->c.calls;
		c.scope = scope;
		c.t0 = t0;
		c.t1 = t1;
		c.calls_before = in->before.calls;
		if (ch->n == ch->cap)
		{
			ch->cap = Max(16, 2 * ch->cap);
			ch->items = ch->items ? repalloc(ch->items, sizeof(Change) * ch->cap) :
				MemoryContextAlloc(ch->cxt, sizeof(Change) * ch->cap);
		}
		ch->items[ch->n++] = c;
	}
}

/* Every operation of the newer period against the older one */
static void
compare_windows(Changes *ch, PPWindow *before, PPWindow *after, Scope scope)
{
	double		self_b = total_self_ms(before);
	double		self_a = total_self_ms(after);
	PPAgg	  **aggs;
	int			n,
				i;

	aggs = pp_window_sorted(after, &n);
	for (i = 0; i < n; i++)
	{
		PPAgg	   *a = aggs[i];
		PPAgg	   *b = pp_window_find(before, a->name, a->name_len);
		pp_change_input_t in;
		pp_mann_whitney_t mw;

		if (b == NULL || b->c.calls <= 0 || a->acc == NULL || b->acc == NULL)
			continue;
		side_of_agg(&in.before, b, self_b, (double) before->root.c.calls);
		side_of_agg(&in.after, a, self_a, (double) after->root.c.calls);
		pp_sketch_acc_mann_whitney(b->acc, a->acc, &mw);
		in.duration_z = mw.z;
		in.duration_p = mw.p;
		judge_all(ch, &in, a, scope, after->t0, after->t1);
	}
}

/* The window against a baseline: no sketch, no self time on its side */
static void
compare_baseline(Changes *ch, const Baseline *bl, PPWindow *after)
{
	double		self_a = total_self_ms(after);
	int			k;

	for (k = 0; k < bl->n_ops; k++)
	{
		const BaselineOp *o = &bl->ops[k];
		PPAgg	   *a = pp_window_find(after, o->name, strlen(o->name));
		pp_change_input_t in;

		if (a == NULL || a->c.calls <= 0 || a->acc == NULL)
			continue;
		memset(&in, 0, sizeof(in));
		in.before.calls = o->calls;
		in.before.errors = (int64) llround(o->error_rate * o->calls);
		in.before.p95_ms = o->p95_ms;
		in.before.share = NAN;
		side_of_agg(&in.after, a, self_a, (double) after->root.c.calls);
		pp_exceedance_test(pp_sketch_acc_count_above(a->acc, o->p95_ms),
						   (uint64) a->c.calls, 0.05, &in.duration_z, &in.duration_p);
		judge_all(ch, &in, a, SCOPE_WINDOW, after->t0, after->t1);
	}
}

/* The named baseline; an error when it does not exist */
static void
load_baseline(PPConfig *cfg, const char *name, Baseline *bl)
{
	const char *nsp = quote_identifier(get_namespace_name(cfg->schema));
	Oid			argtypes[1] = {TEXTOID};
	Datum		args[1] = {CStringGetTextDatum(name)};
	PPSavedUser saved;
	MemoryContext caller = CurrentMemoryContext;
	bool		isnull;
	uint64		i;

	pp_spi_connect_as(pp_config_owner(cfg), &saved);
	if (SPI_execute_with_args(psprintf("SELECT window_start, window_end"
									   " FROM %s.performance_baselines WHERE name = $1",
									   nsp), 1, argtypes, args, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "ppprof: could not read performance_baselines");
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("baseline \"%s\" does not exist", name),
				 errhint("Capture one with pp_capture_baseline('%s'), or pass NULL to compare with the previous window.",
						 name)));
	bl->start = DatumGetTimestampTz(SPI_getbinval(SPI_tuptable->vals[0],
												  SPI_tuptable->tupdesc, 1, &isnull));
	bl->end = DatumGetTimestampTz(SPI_getbinval(SPI_tuptable->vals[0],
												SPI_tuptable->tupdesc, 2, &isnull));
	if (SPI_execute_with_args(psprintf("SELECT operation, calls, p95_ms, error_rate"
									   " FROM %s.performance_baseline_operations"
									   " WHERE baseline = $1", nsp),
							  1, argtypes, args, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "ppprof: could not read performance_baseline_operations");
	bl->n_ops = (int) SPI_processed;
	bl->ops = MemoryContextAllocZero(caller, sizeof(BaselineOp) * Max(bl->n_ops, 1));
	for (i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		BaselineOp *o = &bl->ops[i];

		o->name = MemoryContextStrdup(caller, TextDatumGetCString(SPI_getbinval(tup, desc, 1, &isnull)));
		o->calls = DatumGetInt64(SPI_getbinval(tup, desc, 2, &isnull));
		o->p95_ms = DatumGetFloat8(SPI_getbinval(tup, desc, 3, &isnull));
		o->error_rate = DatumGetFloat8(SPI_getbinval(tup, desc, 4, &isnull));
	}
	pp_spi_finish_as(&saved);
}

static void
push_uuid(JsonbParseState **st, const pg_uuid_t *id)
{
	pp_jb_string(st, NULL,
				 DatumGetCString(DirectFunctionCall1(uuid_out, UUIDPGetDatum((pg_uuid_t *) id))));
}

/*
 * Up to PP_EXAMPLES ids from the table into out (returns how many), among
 * the PP_EXAMPLE_SCAN most recent profiles of [t0, t1]: those where the
 * operation took longest, or (failed) the most recent where it failed.
 */
static int
table_examples(PPConfig *cfg, const char *name, int name_len,
			   TimestampTz t0, TimestampTz t1, bool failed, pg_uuid_t *out)
{
	const char *nsp = quote_identifier(get_namespace_name(cfg->schema));
	Oid			argtypes[3] = {TIMESTAMPTZOID, TIMESTAMPTZOID, TEXTOID};
	Datum		args[3];
	PPSavedUser saved;
	const char *q;
	uint64		i;
	bool		isnull;

	args[0] = TimestampTzGetDatum(t0);
	args[1] = TimestampTzGetDatum(t1);
	args[2] = PointerGetDatum(cstring_to_text_with_len(name, name_len));
	if (failed)
		q = psprintf("SELECT p.id FROM (SELECT id, created_at, profile_data"
					 " FROM %s.performance_profiles"
					 " WHERE created_at OPERATOR(pg_catalog.>=) $1"
					 " AND created_at OPERATOR(pg_catalog.<=) $2"
					 " AND ppprof_rejected IS NULL"
					 " ORDER BY created_at DESC LIMIT %d) p"
					 " WHERE jsonb_path_exists(p.profile_data,"
					 " 'lax $.** ? (@.operation_name == $n && @.error.type() == \"string\")',"
					 " jsonb_build_object('n', $3))"
					 " ORDER BY p.created_at DESC, p.id LIMIT %d",
					 nsp, PP_EXAMPLE_SCAN, PP_EXAMPLES);
	else
		q = psprintf("SELECT p.id FROM (SELECT id, profile_data"
					 " FROM %s.performance_profiles"
					 " WHERE created_at OPERATOR(pg_catalog.>=) $1"
					 " AND created_at OPERATOR(pg_catalog.<=) $2"
					 " AND ppprof_rejected IS NULL"
					 " ORDER BY created_at DESC LIMIT %d) p,"
					 " LATERAL (SELECT max(d::float8) AS ms FROM jsonb_path_query(p.profile_data,"
					 " 'lax $.** ? (@.operation_name == $n).duration_ms ? (@.type() == \"number\")',"
					 " jsonb_build_object('n', $3)) d) m"
					 " WHERE m.ms IS NOT NULL ORDER BY m.ms DESC, p.id LIMIT %d",
					 nsp, PP_EXAMPLE_SCAN, PP_EXAMPLES);

	pp_spi_connect_as(pp_config_owner(cfg), &saved);
	if (SPI_execute_with_args(q, 3, argtypes, args, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "ppprof: could not read example profiles");
	for (i = 0; i < SPI_processed && i < PP_EXAMPLES; i++)
		out[i] = *DatumGetUUIDP(SPI_getbinval(SPI_tuptable->vals[i],
											  SPI_tuptable->tupdesc, 1, &isnull));
	pp_spi_finish_as(&saved);
	return (int) i;
}

static void
push_examples(JsonbParseState **st, PPConfig *cfg, const Change *c)
{
	pg_uuid_t	ids[PP_EXAMPLES];
	pg_uuid_t	more[PP_EXAMPLES];
	int			n = 0;
	int			n_more;
	int			i;
	int			k;

	if (c->c.measure != PP_CHANGE_ERROR_RATE)
	{
		pp_reservoir_t *r = pp_shmem_samples(MyDatabaseId, c->name, c->name_len);
		uint32		j;

		if (r != NULL)
		{
			pp_reservoir_sort_slowest(r);
			for (j = 0; j < r->nsamples && n < PP_EXAMPLES; j++)
			{
				if (r->samples[j].created_at < c->t0 || r->samples[j].created_at > c->t1)
					continue;
				memcpy(&ids[n++], r->samples[j].profile_id, sizeof(pg_uuid_t));
			}
		}
	}
	/* the reservoir is a random sample: the table tops it up */
	if (n < PP_EXAMPLES)
	{
		n_more = table_examples(cfg, c->name, c->name_len, c->t0, c->t1,
								c->c.measure == PP_CHANGE_ERROR_RATE, more);
		for (k = 0; k < n_more && n < PP_EXAMPLES; k++)
		{
			for (i = 0; i < n; i++)
				if (memcmp(&ids[i], &more[k], sizeof(pg_uuid_t)) == 0)
					break;
			if (i == n)
				ids[n++] = more[k];
		}
	}
	pp_jb_begin_array(st, "example_profile_ids");
	for (i = 0; i < n; i++)
		push_uuid(st, &ids[i]);
	pp_jb_end_array(st);
}

static int
change_cmp(const void *x, const void *y)
{
	const Change *a = x;
	const Change *b = y;
	int			r = pp_change_cmp(&a->c, &b->c);

	if (r != 0)
		return r;
	if (a->scope != b->scope)
		return a->scope < b->scope ? -1 : 1;
	r = memcmp(a->name, b->name, Min(a->name_len, b->name_len));
	if (r != 0)
		return r;
	return a->name_len - b->name_len;
}

/* p95 as a ratio to 0.01; rates and shares as differences to 0.0001 */
static void
push_change(JsonbParseState **st, PPConfig *cfg, const Change *c)
{
	bool		p95 = c->c.measure == PP_CHANGE_P95;

	pp_jb_begin_object(st, NULL);
	pp_jb_string_n(st, "operation", c->name, c->name_len);
	pp_jb_string(st, "operation_type",
				 pp_classifier_type(cfg->classifier, c->name, c->name_len));
	pp_jb_string(st, "measure", pp_change_measure_name(c->c.measure));
	pp_jb_string(st, "scope", c->scope == SCOPE_WINDOW ? "window" : "last_hour");
	if (p95)
	{
		pp_jb_rounded(st, "before", c->c.before);
		pp_jb_rounded(st, "after", c->c.after);
		pp_jb_number(st, "change", round(c->c.change * 100) / 100);
	}
	else
	{
		pp_jb_number(st, "before", round(c->c.before * 10000) / 10000);
		pp_jb_number(st, "after", round(c->c.after * 10000) / 10000);
		pp_jb_number(st, "change", round(c->c.change * 10000) / 10000);
	}
	pp_jb_int(st, "calls_before", c->calls_before);
	pp_jb_int(st, "calls_after", c->calls_after);
	push_examples(st, cfg, c);
	pp_jb_end_object(st);
}

/*
 * Read the periods of one comparison in a context of their own, dropped
 * once judged: a window holds a sketch per operation.
 */
static MemoryContext
periods_begin(void)
{
	return MemoryContextSwitchTo(AllocSetContextCreate(CurrentMemoryContext,
													   "ppprof changes",
													   ALLOCSET_DEFAULT_SIZES));
}

static void
periods_end(MemoryContext old)
{
	MemoryContext periods = CurrentMemoryContext;

	MemoryContextSwitchTo(old);
	MemoryContextDelete(periods);
}

void
pp_report_changes(JsonbParseState **st, PPConfig *cfg, PPWindow *w,
				  const char *baseline)
{
	Changes		ch = {NULL, 0, 0, CurrentMemoryContext};
	TimestampTz len = w->t1 - w->t0;
	PPWindow	before,
				rest,
				last;
	MemoryContext old;
	int			i;

	pp_jb_begin_object(st, "compared_with");
	if (baseline != NULL)
	{
		Baseline	bl;

		load_baseline(cfg, baseline, &bl);
		pp_jb_string(st, "kind", "baseline");
		pp_jb_string(st, "name", baseline);
		pp_jb_time(st, "start", bl.start);
		pp_jb_time(st, "end", bl.end);
		compare_baseline(&ch, &bl, w);
	}
	else
	{
		pp_jb_string(st, "kind", "previous_window");
		pp_jb_string(st, "name", NULL);
		pp_jb_time(st, "start", w->t0 - len);
		pp_jb_time(st, "end", w->t0);
		old = periods_begin();
		pp_window_read(&before, w->t0 - len, w->t0, true);
		compare_windows(&ch, &before, w, SCOPE_WINDOW);
		periods_end(old);
	}
	if (len >= LAST_HOUR_FROM)
	{
		pp_jb_time(st, "last_hour_start", w->t1 - LAST_HOUR);
		old = periods_begin();
		pp_window_read(&rest, w->t0, w->t1 - LAST_HOUR, true);
		pp_window_read(&last, w->t1 - LAST_HOUR, w->t1, false);
		compare_windows(&ch, &rest, &last, SCOPE_LAST_HOUR);
		periods_end(old);
	}
	else
		pp_jb_string(st, "last_hour_start", NULL);
	pp_jb_end_object(st);

	if (ch.n > 1)
		qsort(ch.items, ch.n, sizeof(Change), change_cmp);
	pp_jb_begin_array(st, "changes");
	for (i = 0; i < ch.n && i < MAX_CHANGES; i++)
		push_change(st, cfg, &ch.items[i]);
	pp_jb_end_array(st);
}
