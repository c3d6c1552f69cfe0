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

#endif							/* PP_SCORE_H */
