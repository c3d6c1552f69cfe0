/*-------------------------------------------------------------------------
 *
 * src/core/score.h
 *	  The impact score of an operation (0-100), its priority band and the
 *	  expected gain of a suggestion.  Formulas documented in docs/report.md.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PP_SCORE_H
#define PP_SCORE_H

#include "pp_core.h"

typedef struct pp_impact_input_t
{
	double		share;			/* the operation's self time / the profiles'
								 * total time, 0..1 */
	double		p50_ms;
	double		p95_ms;
	double		p99_ms;
	double		threshold_ms;	/* <= 0 or NaN: none */
	double		error_rate;		/* 0..1 */
	double		calls_per_profile;	/* >= 0 */
} pp_impact_input_t;

/* Each part in 0..1, before its weight. */
typedef struct pp_impact_parts_t
{
	double		share;			/* weight 0.40 */
	double		slowness;		/* weight 0.25 */
	double		variance;		/* weight 0.15 */
	double		errors;			/* weight 0.15 */
	double		frequency;		/* weight 0.05 */
} pp_impact_parts_t;

/*
 * 0..100.  NaN inputs, and infinite percentiles, count as 0; an infinite
 * share, error rate or frequency counts as full.  parts may be NULL.
 */
extern double pp_impact_score(const pp_impact_input_t *in, pp_impact_parts_t *parts);

/* "critical" (>= 70), "high" (>= 45), "medium" (>= 20) or "low". */
extern const char *pp_priority_of(double impact);

/* The timeline of a priority band. */
extern const char *pp_timeline_of(const char *priority);

/* 1 for low, 2 for medium, 3 for high (unknown: 2). */
extern int	pp_effort_weight(const char *effort);

/*
 * Time saved per profile, ms, if an operation taking self_avg_ms per call,
 * calls_per_profile times per profile, gets reduction_pct percent faster.
 */
extern double pp_expected_saving_ms(double self_avg_ms, double calls_per_profile,
									double reduction_pct);

/*
 * What a suggestion improves.  Only a duration is measured by the profiles:
 * the gain of a suggestion is computed on its measure only, so the others
 * save no milliseconds (streaming brings the first token sooner; it does
 * not shorten the call that was timed).
 */
typedef enum pp_measure_t
{
	PP_MEASURE_DURATION,
	PP_MEASURE_TIME_TO_FIRST_TOKEN,
	PP_MEASURE_COST,
	PP_MEASURE_ERROR_RATE,
	PP_MEASURE_UNKNOWN
} pp_measure_t;

/* "duration", ...; PP_MEASURE_UNKNOWN for anything else (or NULL). */
extern pp_measure_t pp_measure_parse(const char *name);

/*
 * Duration saved per profile, ms, by a suggestion improving measure by
 * reduction_pct for an operation of self_avg_ms, calls_per_profile times
 * per profile: pp_expected_saving_ms for a duration, 0 otherwise.
 */
extern double pp_measure_saving_ms(pp_measure_t measure, double self_avg_ms,
								   double calls_per_profile, double reduction_pct);

/*
 * Whether a suggestion is worth making, given the percentage of the
 * average profile it saves (saving_pct), the percentage the operation's own
 * time is of it (own_pct), and the operation's errors in the window: a
 * duration suggestion must save min_pct; one of another measure needs an
 * operation holding min_pct (error_rate: one that failed).
 */
extern bool pp_measure_worth(pp_measure_t measure, double saving_pct, double own_pct,
							 int64_t errors, double min_pct);

#endif							/* PP_SCORE_H */
