/*-------------------------------------------------------------------------
 *
 * src/compare.c
 *	  Statistics of an arbitrary time range and the before/after comparison
 *	  of two ranges: pp_range_stats and pp_compare.
 *
 * Both read their ranges with pp_window_read, so counts and averages are
 * exact and percentiles carry the sketch's bound, whichever path answered.
 * pp_compare tests whether durations changed with a Mann-Whitney U test on
 * the two ranges' sketches (values in the same 0.5% bin count as ties; see
 * src/core/sketch.h) and whether the error rate changed with a
 * two-proportion z test.  docs/operations.md explains how to read them.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "fmgr.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "changes.h"
#include "config.h"
#include "stats.h"
#include "trend.h"
#include "window.h"

PG_FUNCTION_INFO_V1(pp_range_stats);
PG_FUNCTION_INFO_V1(pp_compare);

/* below this many calls on either side a comparison is not attempted */
#define PP_COMPARE_MIN_CALLS 5
/* the significance level of pp_compare's verdicts */
#define PP_COMPARE_ALPHA 0.05

/*
 * pp_range_stats(range tstzrange)
 *
 * pp_operation_stats' first columns, cache_lookups and cache_hit_rate, then
 * its usage columns, for the
 * profiles created in range, with a first row for the profiles themselves
 * (operation NULL, type 'profile').
 */
Datum
pp_range_stats(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	TimestampTz t0,
				t1;
	bool		end_open;
	PPWindow	w;
	PPConfig   *cfg;
	PPAgg	  **aggs;
	int			n,
				i;

	InitMaterializedSRF(fcinfo, 0);
	pp_range_bounds(PG_GETARG_DATUM(0), "the", &t0, &t1, &end_open);
	pp_window_read(&w, t0, t1, end_open);
	cfg = pp_config_get();
	aggs = pp_window_sorted(&w, &n);

	/* the profiles, the operations, then the fold row */
	for (i = -1; i <= n; i++)
	{
		const PPAgg *a = i < 0 ? &w.root : i == n ? &w.other : aggs[i];
		Datum		values[PP_AGG_COLUMNS + 2 + PP_USAGE_COLUMNS];
		bool		nulls[PP_AGG_COLUMNS + 2 + PP_USAGE_COLUMNS];
		double		rate;

		if (a->c.calls <= 0)
			continue;
		pp_agg_values(cfg, a, values, nulls);
		values[PP_AGG_COLUMNS] = Int64GetDatum(a->c.cache_hits + a->c.cache_misses);
		nulls[PP_AGG_COLUMNS] = false;
		nulls[PP_AGG_COLUMNS + 1] = !pp_agg_cache_hit_rate(a, &rate);
		values[PP_AGG_COLUMNS + 1] = Float8GetDatum(nulls[PP_AGG_COLUMNS + 1] ? 0 : rate);
		pp_agg_usage_values(a, values + PP_AGG_COLUMNS + 2, nulls + PP_AGG_COLUMNS + 2);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/* Relative change in percent; NULL (false) when the base is 0 or absent. */
static bool
change_pct(double before, double after, double *pct)
{
	if (!(before > 0) || isnan(after))
		return false;
	*pct = 100.0 * (after - before) / before;
	return true;
}

/*
 * One row of pp_compare (and of pp_compare_values, src/dimensions.c).  b
 * or a is NULL when the operation has no calls on that side, or --
 * *_unknown -- when that side folded operations it might be among (its
 * columns are then NULL, not 0).  The fold rows (and
 * any side without a sketch) get no percentiles, tests or verdict: they
 * stand for different operations on each side.
 */
void
pp_compare_row(ReturnSetInfo *rsinfo, PPConfig *cfg, const char *name,
			   int name_len, const PPAgg *b, const PPAgg *a, bool b_unknown,
			   bool a_unknown)
{
	Datum		values[PP_COMPARE_COLUMNS];
	bool		nulls[PP_COMPARE_COLUMNS];
	int64		nb = b ? b->c.calls : 0;
	int64		na = a ? a->c.calls : 0;
	const char *verdict;
	int			k;

	memset(nulls, 0, sizeof(nulls));
	if ((b && b->folded) || (a && a->folded))
		pp_agg_name_columns(cfg, b && b->folded ? b : a, values, nulls);
	else
		pp_operation_columns(cfg, name, name_len, values, nulls);
	values[2] = Int64GetDatum(nb);
	values[3] = Int64GetDatum(na);

	/* avg, p95, p99: before, after, change in percent */
	for (k = 0; k < 3; k++)
	{
		int			col = 4 + 3 * k;
		double		vb = NAN,
					va = NAN,
					pct;

		if (nb > 0)
			vb = k == 0 ? b->c.sum_ms / nb : pp_agg_quantile(b, k == 1 ? 0.95 : 0.99);
		if (na > 0)
			va = k == 0 ? a->c.sum_ms / na : pp_agg_quantile(a, k == 1 ? 0.95 : 0.99);
		values[col] = Float8GetDatum(vb);
		nulls[col] = nb == 0 || isnan(vb);
		values[col + 1] = Float8GetDatum(va);
		nulls[col + 1] = na == 0 || isnan(va);
		nulls[col + 2] = !change_pct(vb, va, &pct);
		values[col + 2] = Float8GetDatum(nulls[col + 2] ? 0 : pct);
	}

	/* error rates and their difference in percentage points */
	values[13] = Float8GetDatum(nb > 0 ? (double) b->c.errors / nb : 0);
	nulls[13] = nb == 0;
	values[14] = Float8GetDatum(na > 0 ? (double) a->c.errors / na : 0);
	nulls[14] = na == 0;
	values[15] = Float8GetDatum(nb > 0 && na > 0 ?
								100.0 * ((double) a->c.errors / na - (double) b->c.errors / nb) : 0);
	nulls[15] = nb == 0 || na == 0;

	if ((b && b->acc == NULL) || (a && a->acc == NULL) ||
		b_unknown || a_unknown)
	{
		static const int before_cols[] = {2, 4, 7, 10, 13};
		static const int after_cols[] = {3, 5, 8, 11, 14};
		static const int change_cols[] = {6, 9, 12, 15};

		/* a side that folded this operation away: unknown, not 0 */
		for (k = 0; k < lengthof(before_cols); k++)
		{
			nulls[before_cols[k]] |= b_unknown;
			nulls[after_cols[k]] |= a_unknown;
		}
		for (k = 0; k < lengthof(change_cols); k++)
			nulls[change_cols[k]] |= b_unknown || a_unknown;
		nulls[16] = nulls[17] = nulls[18] = true;
		verdict = NULL;
	}
	else if (nb < PP_COMPARE_MIN_CALLS || na < PP_COMPARE_MIN_CALLS)
	{
		nulls[16] = nulls[17] = nulls[18] = true;
		verdict = "insufficient data";
	}
	else
	{
		pp_mann_whitney_t mw;
		double		err_p = pp_two_proportion_p(b->c.errors, nb, a->c.errors, na);

		pp_sketch_acc_mann_whitney(b->acc, a->acc, &mw);
		values[16] = Float8GetDatum(mw.p);
		values[17] = Float8GetDatum(mw.effect);
		values[18] = Float8GetDatum(err_p);
		if (mw.p < PP_COMPARE_ALPHA)
			verdict = mw.effect > 0.5 ? "slower" : "faster";
		else
			verdict = "no significant change";
		if (err_p < PP_COMPARE_ALPHA)
		{
			bool		more = (double) a->c.errors / na > (double) b->c.errors / nb;

			if (mw.p < PP_COMPARE_ALPHA)
				verdict = psprintf("%s, %s errors", verdict, more ? "more" : "fewer");
			else
				verdict = more ? "more errors" : "fewer errors";
		}
	}
	nulls[19] = verdict == NULL;
	values[19] = verdict ? CStringGetTextDatum(verdict) : (Datum) 0;
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
}

/*
 * pp_compare(before tstzrange, after tstzrange)
 *
 * Per operation (and for the profiles, first): calls, avg/p95/p99 and error
 * rate before and after with their changes, the Mann-Whitney p-value and
 * effect (the probability that a call after is slower than one before),
 * the error-rate test's p-value and a verdict at the 5% level.
 */
Datum
pp_compare(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	TimestampTz b0,
				b1,
				a0,
				a1;
	bool		b_open,
				a_open;
	PPWindow	before,
				after;
	PPConfig   *cfg;
	PPAgg	  **aggs;
	int			n,
				i;

	InitMaterializedSRF(fcinfo, 0);
	pp_range_bounds(PG_GETARG_DATUM(0), "before", &b0, &b1, &b_open);
	pp_range_bounds(PG_GETARG_DATUM(1), "after", &a0, &a1, &a_open);
	pp_window_read(&before, b0, b1, b_open);
	pp_window_read(&after, a0, a1, a_open);
	cfg = pp_config_get();

	if (before.root.c.calls > 0 || after.root.c.calls > 0)
		pp_compare_row(rsinfo, cfg, NULL, 0,
					   before.root.c.calls > 0 ? &before.root : NULL,
					   after.root.c.calls > 0 ? &after.root : NULL, false, false);

	/*
	 * operations of the after range by total time, then those gone since,
	 * then the fold rows
	 */
	aggs = pp_window_sorted(&after, &n);
	for (i = 0; i < n; i++)
	{
		PPAgg	   *b = pp_window_find(&before, aggs[i]->name, aggs[i]->name_len);

		pp_compare_row(rsinfo, cfg, aggs[i]->name, aggs[i]->name_len,
					   b && b->c.calls > 0 ? b : NULL, aggs[i],
					   b == NULL && before.other.c.calls > 0, false);
	}
	aggs = pp_window_sorted(&before, &n);
	for (i = 0; i < n; i++)
	{
		PPAgg	   *x = pp_window_find(&after, aggs[i]->name, aggs[i]->name_len);

		if (x == NULL || x->c.calls <= 0)
			pp_compare_row(rsinfo, cfg, aggs[i]->name, aggs[i]->name_len,
						   aggs[i], NULL, false,
						   x == NULL && after.other.c.calls > 0);
	}
	if (before.other.c.calls > 0 || after.other.c.calls > 0)
		pp_compare_row(rsinfo, cfg, PP_FOLD_NAME, strlen(PP_FOLD_NAME),
					   before.other.c.calls > 0 ? &before.other : NULL,
					   after.other.c.calls > 0 ? &after.other : NULL, false,
					   false);
	return (Datum) 0;
}
