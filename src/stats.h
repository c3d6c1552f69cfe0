/*-------------------------------------------------------------------------
 *
 * src/stats.h
 *	  The rows of pp_operation_stats and their columns, which the other
 *	  readers of a window (compare, trends, report) share.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PP_STATS_H
#define PP_STATS_H

#include "postgres.h"

#include "funcapi.h"

#include "config.h"
#include "window.h"

/* The operations of a window with calls, most total time first. */
extern PPAgg **pp_window_sorted(PPWindow *w, int *n);

/* The columns of pp_operation_stats for one aggregate. */
#define PP_AGG_COLUMNS 17
extern void pp_agg_values(PPConfig *cfg, const PPAgg *a, Datum *values,
						  bool *nulls);
extern bool pp_agg_cache_hit_rate(const PPAgg *a, double *rate);

/*
 * The usage columns that pp_operation_stats and pp_range_stats end with:
 * input_tokens, output_tokens, cost_usd, ttft_p50_ms, ttft_p95_ms.
 */
#define PP_USAGE_COLUMNS 5
extern void pp_agg_usage_values(const PPAgg *a, Datum *values, bool *nulls);

/*
 * The operation and operation_type columns (values[0], values[1]) of an
 * operation; name_len 0 is the profiles themselves: NULL and 'profile'.
 * pp_agg_name_columns does the same for an aggregate, the fold row
 * included (PP_FOLD_NAME, PP_FOLD_TYPE).
 */
extern void pp_operation_columns(PPConfig *cfg, const char *name, int name_len,
								 Datum *values, bool *nulls);
extern void pp_agg_name_columns(PPConfig *cfg, const PPAgg *a, Datum *values,
								bool *nulls);

/*
 * One row of pp_compare's columns comparing aggregate b (before) with a
 * (after), NULL on a side without calls (src/compare.c).
 */
#define PP_COMPARE_COLUMNS 20
extern void pp_compare_row(ReturnSetInfo *rsinfo, PPConfig *cfg,
						   const char *name, int name_len, const PPAgg *b,
						   const PPAgg *a, bool b_unknown, bool a_unknown);

#endif							/* PP_STATS_H */
