/*-------------------------------------------------------------------------
 *
 * src/trends.c
 *	  Time series of the live statistics: pp_trends (one row per bucket and
 *	  operation, for dashboards) and pp_trend_summary (slope, significance,
 *	  regression flag and threshold forecast per operation).
 *
 * Each bucket is read like any window (pp_window_read, half-open), so its
 * counts are exact and its percentiles carry the sketch's bound.  Buckets
 * are aligned on multiples of their width since 2000-01-01 00:00 UTC, so
 * hourly buckets coincide with the shared hour buckets and cost a few hash
 * lookups each.
 *
 * The summary fits p95 against time with the Theil-Sen estimator (median of
 * pairwise slopes: one wild bucket does not tilt it) and tests it with
 * Mann-Kendall (src/core/trend.c); see docs/operations.md.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "allocator.h"
#include "config.h"
#include "guc.h"
#include "rollup_read.h"
#include "shmem.h"
#include "stats.h"
#include "trend.h"
#include "window.h"

PG_FUNCTION_INFO_V1(pp_trends);
PG_FUNCTION_INFO_V1(pp_trend_summary);

#define PP_TREND_MAX_BUCKETS 10000
/*
 * pp_trend_summary keeps at most this many points (bucket, p95) over all
 * its series, 16 bytes each: 16 MB.  With n buckets it keeps
 * min(ppprof.max_window_operations, PP_TREND_MAX_POINTS / n) operations
 * apart (1000 at the defaults for 7 days of hours; 100 for 10,000
 * buckets) and folds the others into one row.
 */
#define PP_TREND_MAX_POINTS 1000000
/* significance level of the summary's trend verdict */
#define PP_TREND_ALPHA 0.05
/* fewest non-empty buckets for a trend */
#define PP_TREND_MIN_POINTS 4

/* A bucket width in microseconds: whole minutes, no months. */
static int64
bucket_width(Interval *iv)
{
	int64		us;

	if (iv->month != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("bucket must not contain months or years"),
				 errdetail("Months have no fixed length."),
				 errhint("Use days, hours or minutes, such as '1 day' or '15 minutes'.")));
	us = iv->day * USECS_PER_DAY + iv->time;
	if (us < USECS_PER_MINUTE || us % USECS_PER_MINUTE != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("bucket must be a positive whole number of minutes"),
				 errhint("Use an interval such as '1 hour' or '5 minutes'.")));
	return us;
}

static TimestampTz
floor_to_width(TimestampTz t, int64 width)
{
	TimestampTz r = (t / width) * width;

	return r > t ? r - width : r;
}

typedef void (*bucket_visitor) (void *arg, TimestampTz start, PPWindow *w);

/*
 * Read the buckets of width 'width' that meet [t0, t1] in time order; the
 * first one starts at t0 and the last one stops at t1 (closed), so that no
 * bucket counts a row outside the window.  Each bucket's window lives in a context
 * reset after its visit.
 */
static void
read_buckets(TimestampTz t0, TimestampTz t1, int64 width,
			 bucket_visitor visit, void *arg)
{
	TimestampTz b;
	MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext,
											  "ppprof trend bucket",
											  ALLOCSET_DEFAULT_SIZES);

	if ((t1 - floor_to_width(t0, width)) / width >= PP_TREND_MAX_BUCKETS)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("a trend of more than %d buckets was requested", PP_TREND_MAX_BUCKETS),
				 errhint("Use a wider bucket or a shorter window.")));

	/* every bucket reads which rollups exist once (src/rollup_read.c) */
	pp_rollup_cache_begin(t0, t1 + 1);
	for (b = floor_to_width(t0, width); b <= t1; b += width)
	{
		MemoryContext old = MemoryContextSwitchTo(cxt);
		PPWindow	w;
		bool		last = (b + width > t1);

		CHECK_FOR_INTERRUPTS();
		pp_window_read(&w, Max(b, t0), last ? t1 : b + width, !last);
		MemoryContextSwitchTo(old);
		visit(arg, b, &w);
		MemoryContextReset(cxt);
	}
	pp_rollup_cache_end();
	MemoryContextDelete(cxt);
}

typedef struct TrendsState
{
	ReturnSetInfo *rsinfo;
	PPConfig   *cfg;
} TrendsState;

static void
trends_bucket(void *arg, TimestampTz start, PPWindow *w)
{
	TrendsState *st = arg;
	PPAgg	  **aggs;
	int			n,
				i;

	/* the profiles, the operations, then the fold row */
	aggs = pp_window_sorted(w, &n);
	for (i = -1; i <= n; i++)
	{
		const PPAgg *a = i < 0 ? &w->root : i == n ? &w->other : aggs[i];
		const PPCounters *c = &a->c;
		Datum		values[11];
		bool		nulls[11] = {false};
		double		rate;

		if (c->calls <= 0)
			continue;
		values[0] = TimestampTzGetDatum(start);
		pp_agg_name_columns(st->cfg, a, &values[1], &nulls[1]);
		values[3] = Int64GetDatum(c->calls);
		values[4] = Int64GetDatum(c->errors);
		values[5] = Float8GetDatum((double) c->errors / c->calls);
		values[6] = Float8GetDatum(c->sum_ms / c->calls);
		values[7] = Float8GetDatum(pp_agg_quantile(a, 0.50));
		values[8] = Float8GetDatum(pp_agg_quantile(a, 0.95));
		values[9] = Float8GetDatum(pp_agg_quantile(a, 0.99));
		nulls[7] = nulls[8] = nulls[9] = (a->acc == NULL);
		nulls[10] = !pp_agg_cache_hit_rate(a, &rate);
		values[10] = Float8GetDatum(nulls[10] ? 0 : rate);
		tuplestore_putvalues(st->rsinfo->setResult, st->rsinfo->setDesc, values, nulls);
	}
}

/*
 * pp_trends(window interval DEFAULT '7 days', bucket interval DEFAULT '1 hour')
 */
Datum
pp_trends(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	TimestampTz t0,
				t1;
	int64		width;
	TrendsState st;

	InitMaterializedSRF(fcinfo, 0);
	pp_window_bounds(PG_GETARG_DATUM(0), &t0, &t1);
	width = bucket_width(PG_GETARG_INTERVAL_P(1));
	st.rsinfo = rsinfo;
	st.cfg = pp_config_get();
	read_buckets(t0, t1, width, trends_bucket, &st);
	return (Datum) 0;
}

/* The p95 series of one operation (name_len 0: the profiles). */
typedef struct Series
{
	char		name[PP_NAME_MAX + 1];	/* hash key */
	int			name_len;
	int			n;
	int			cap;
	double	   *x;				/* bucket middle, days since the window's
								 * start */
	double	   *y;				/* p95, ms */
	int64		calls;
} Series;

typedef struct SummaryState
{
	HTAB	   *series;
	MemoryContext cxt;			/* outlives the buckets */
	TimestampTz t0;
	int64		width;
	int64		max_series;		/* besides the profiles' */
	int64		fold_calls;		/* calls of the operations beyond it */
	int			fold_points;	/* buckets that had some */
} SummaryState;

/* Add a bucket's point to its series; false when the series was folded. */
static bool
series_add(SummaryState *st, const char *name, int name_len, double x,
		   const PPAgg *a)
{
	char		key[PP_NAME_MAX + 1];
	Series	   *s;
	bool		found;

	memset(key, 0, sizeof(key));
	memcpy(key, name, name_len);
	s = hash_search(st->series, key, HASH_FIND, NULL);
	if (s == NULL && name_len > 0 &&
		hash_get_num_entries(st->series) > st->max_series)
	{
		st->fold_calls += a->c.calls;
		return false;
	}
	s = hash_search(st->series, key, HASH_ENTER, &found);
	if (!found)
	{
		s->name_len = name_len;
		s->n = 0;
		s->cap = 16;
		s->x = MemoryContextAlloc(st->cxt, sizeof(double) * s->cap);
		s->y = MemoryContextAlloc(st->cxt, sizeof(double) * s->cap);
		s->calls = 0;
	}
	if (s->n == s->cap)
	{
		s->cap *= 2;
		s->x = repalloc(s->x, sizeof(double) * s->cap);
		s->y = repalloc(s->y, sizeof(double) * s->cap);
	}
	s->x[s->n] = x;
	s->y[s->n] = pp_agg_quantile(a, 0.95);
	s->n++;
	s->calls += a->c.calls;
	return true;
}

static void
summary_bucket(void *arg, TimestampTz start, PPWindow *w)
{
	SummaryState *st = arg;
	double		x = (double) (start - st->t0 + st->width / 2) / USECS_PER_DAY;
	PPAgg	  **aggs;
	int			n,
				i;
	bool		folded = w->other.c.calls > 0;

	if (w->root.c.calls > 0)
		(void) series_add(st, "", 0, x, &w->root);
	/* by total time: the busiest operations keep their series */
	aggs = pp_window_sorted(w, &n);
	for (i = 0; i < n; i++)
		folded |= !series_add(st, aggs[i]->name, aggs[i]->name_len, x, aggs[i]);
	st->fold_calls += w->other.c.calls;
	if (folded)
		st->fold_points++;
}

#define SUMMARY_COLUMNS 14

static void
summary_row(ReturnSetInfo *rsinfo, PPConfig *cfg, const Series *s,
			TimestampTz t0, TimestampTz t1)
{
	Datum		values[SUMMARY_COLUMNS];
	bool		nulls[SUMMARY_COLUMNS];
	double		slope,
				intercept,
				threshold;
	double		span_days = (double) (t1 - t0) / USECS_PER_DAY;
	pp_mann_kendall_t mk;
	const char *trend;
	bool		regression;
	const pp_allocator_t *alloc = pp_current_allocator();
	double	   *ycopy;
	double		m;
	int			k;

	memset(nulls, 0, sizeof(nulls));
	pp_operation_columns(cfg, s->name, s->name_len, values, nulls);
	values[2] = Int32GetDatum(s->n);
	values[3] = Int64GetDatum(s->calls);

	if (s->n < PP_TREND_MIN_POINTS ||
		pp_theil_sen(s->x, s->y, s->n, alloc, &slope, &intercept) != PP_OK ||
		pp_mann_kendall(s->y, s->n, alloc, &mk) != PP_OK)
	{
		for (k = 4; k < SUMMARY_COLUMNS; k++)
			nulls[k] = true;
		nulls[11] = false;
		values[11] = CStringGetTextDatum("insufficient data");
		nulls[12] = false;
		values[12] = BoolGetDatum(false);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
		return;
	}

	values[4] = Float8GetDatum(intercept);
	values[5] = Float8GetDatum(intercept + slope * span_days);
	values[6] = Float8GetDatum(slope);
	/* the series' median, on a copy (pp_median reorders) */
	ycopy = palloc(sizeof(double) * s->n);
	memcpy(ycopy, s->y, sizeof(double) * s->n);
	m = pp_median(ycopy, s->n);
	pfree(ycopy);
	nulls[7] = !(m > 0);
	values[7] = Float8GetDatum(m > 0 ? 100.0 * slope / m : 0);
	values[8] = Float8GetDatum(mk.tau);
	values[9] = Float8GetDatum(mk.p);

	if (mk.p < PP_TREND_ALPHA && slope > 0)
		trend = "rising";
	else if (mk.p < PP_TREND_ALPHA && slope < 0)
		trend = "falling";
	else
		trend = "flat";
	regression = (strcmp(trend, "rising") == 0);

	/*
	 * The threshold, and for a regression the instant the fitted line meets
	 * it: ahead when p95 is still below, behind when it already crossed
	 * (within ten years either way).
	 */
	nulls[10] = s->name_len == 0 ||
		!pp_classifier_threshold(cfg->classifier, s->name, s->name_len,
								 pp_classifier_type(cfg->classifier, s->name, s->name_len),
								 &threshold);
	values[10] = Float8GetDatum(nulls[10] ? 0 : threshold);
	nulls[13] = true;
	if (!nulls[10] && regression)
	{
		double		days = (threshold - (intercept + slope * span_days)) / slope;

		if (fabs(days) < 3650)
		{
			nulls[13] = false;
			values[13] = TimestampTzGetDatum(t1 + (TimestampTz) (days * USECS_PER_DAY));
		}
	}
	values[11] = CStringGetTextDatum(trend);
	values[12] = BoolGetDatum(regression);
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
}

static int
series_cmp(const void *a, const void *b)
{
	const Series *x = *(Series *const *) a;
	const Series *y = *(Series *const *) b;

	if (x->name_len == 0 || y->name_len == 0)
		return (y->name_len == 0) - (x->name_len == 0);
	return strcmp(x->name, y->name);
}

/*
 * pp_trend_summary(window interval DEFAULT '7 days')
 *
 * Buckets are an hour wide for windows of a day or more, otherwise a
 * 24th of the window (at least a minute).
 */
Datum
pp_trend_summary(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	TimestampTz t0,
				t1;
	SummaryState st;
	HASHCTL		info;
	HASH_SEQ_STATUS seq;
	Series	   *s;
	Series	  **all;
	int			n = 0,
				i;
	PPConfig   *cfg;

	InitMaterializedSRF(fcinfo, 0);
	pp_window_bounds(PG_GETARG_DATUM(0), &t0, &t1);
	cfg = pp_config_get();

	st.t0 = t0;
	st.cxt = CurrentMemoryContext;
	if (t1 - t0 >= USECS_PER_DAY)
		st.width = USECS_PER_HOUR;
	else
		st.width = Max(USECS_PER_MINUTE,
					   ((t1 - t0) / 24 / USECS_PER_MINUTE) * USECS_PER_MINUTE);
	st.max_series = Min(pp_max_window_operations,
						Max(1, PP_TREND_MAX_POINTS /
							((t1 - floor_to_width(t0, st.width)) / st.width + 1)));
	st.fold_calls = 0;
	st.fold_points = 0;
	memset(&info, 0, sizeof(info));
	info.keysize = PP_NAME_MAX + 1;
	info.entrysize = sizeof(Series);
	info.hcxt = CurrentMemoryContext;
	st.series = hash_create("ppprof trend series", 64, &info,
							HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
	/* the x axis counts from the window's start */
	read_buckets(t0, t1, st.width, summary_bucket, &st);

	all = palloc(sizeof(Series *) * (hash_get_num_entries(st.series) + 1));
	hash_seq_init(&seq, st.series);
	while ((s = hash_seq_search(&seq)) != NULL)
		all[n++] = s;
	qsort(all, n, sizeof(Series *), series_cmp);
	for (i = 0; i < n; i++)
		summary_row(rsinfo, cfg, all[i], t0, t1);
	if (st.fold_calls > 0)
	{
		Datum		values[SUMMARY_COLUMNS];
		bool		nulls[SUMMARY_COLUMNS];

		/* the folded operations: how many buckets had some, their calls */
		for (i = 0; i < SUMMARY_COLUMNS; i++)
			nulls[i] = true;
		nulls[0] = nulls[1] = nulls[2] = nulls[3] = false;
		values[0] = CStringGetTextDatum(PP_FOLD_NAME);
		values[1] = CStringGetTextDatum(PP_FOLD_TYPE);
		values[2] = Int32GetDatum(st.fold_points);
		values[3] = Int64GetDatum(st.fold_calls);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
