/*-------------------------------------------------------------------------
 *
 * src/core/changes.h
 *	  What changed: whether an operation's p95, error rate or share of time
 *	  moved significantly between two periods, by how much, and how the
 *	  changes are ordered.  The report's `changes` (docs/report.md).
 *
 * The glue (src/report.c) reads the two periods, runs the duration test on
 * their sketches (Mann-Whitney, or the exceedance test below against a
 * baseline that kept no sketch) and fills a pp_change_input_t; every
 * decision is taken here, where the unit tests (test/unit/test_changes.c)
 * reach it.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PP_CHANGES_H
#define PP_CHANGES_H

#include "pp_core.h"

/* What "significantly" means (docs/report.md) */
#define PP_CHANGE_MIN_CALLS		30	/* on each side */
#define PP_CHANGE_ALPHA			0.01	/* every test's two-sided level */
#define PP_CHANGE_P95_RATIO		1.25	/* p95 after / before, or its inverse */
#define PP_CHANGE_ERROR_DELTA	0.02	/* error rate after - before, absolute */
#define PP_CHANGE_SHARE_DELTA	0.05	/* share of time after - before */
#define PP_CHANGE_CALLS_RATIO	1.25	/* calls per profile after / before */

typedef enum pp_change_measure_t
{
	PP_CHANGE_P95,
	PP_CHANGE_ERROR_RATE,
	PP_CHANGE_TIME_SHARE,
	PP_N_CHANGE_MEASURES
} pp_change_measure_t;

/* One side of a comparison, for one operation */
typedef struct pp_change_side_t
{
	int64_t		calls;
	int64_t		errors;
	double		p95_ms;			/* NaN when unknown */
	double		share;			/* self time / all self time, 0..1; NaN
								 * when unknown (a baseline) */
	double		profiles;		/* profiles of the period; 0 when unknown */
} pp_change_side_t;

typedef struct pp_change_input_t
{
	pp_change_side_t before;
	pp_change_side_t after;
	double		duration_z;		/* > 0 when the after durations tend higher;
								 * NaN when no test could run */
	double		duration_p;		/* its two-sided p-value, or NaN */
} pp_change_input_t;

typedef struct pp_change_t
{
	pp_change_measure_t measure;
	double		before;
	double		after;
	double		change;			/* after / before for p95, after - before
								 * for the error rate and the share */
	double		p;				/* p-value of the test that decided */
	double		strength;		/* the effect over its minimum, >= 1 when
								 * significant; the order of the report */
} pp_change_t;

/*
 * Whether the measure changed significantly: both sides have at least
 * PP_CHANGE_MIN_CALLS calls, the effect reaches its minimum and the test
 * that goes with the measure rejects "no change" at PP_CHANGE_ALPHA in the
 * direction of the effect:
 *
 *	p95         the duration test (duration_z, duration_p)
 *	error_rate  the two-proportion z test of errors / calls
 *	time_share  the duration test, or the calls-per-profile test
 *
 * out is filled in every case (NaN where a figure is missing).
 */
extern bool pp_change_judge(const pp_change_input_t *in, pp_change_measure_t measure,
							pp_change_t *out);

/* "p95_ms", "error_rate", "time_share"; NULL when out of range. */
extern const char *pp_change_measure_name(pp_change_measure_t measure);

/* Most significant first: strength, then measure order.  For qsort. */
extern int	pp_change_cmp(const pp_change_t *a, const pp_change_t *b);

/*
 * Two-sided p-value of the pooled two-proportion z test of x1 / n1 against
 * x2 / n2; 1 when a side is empty or both proportions are 0 or 1.
 */
extern double pp_two_proportion_p(int64_t x1, int64_t n1, int64_t x2, int64_t n2);

/*
 * The exceedance test: under "no change", a share q of the calls lie above
 * the old q-quantile, so k of n calls above it gives
 * z = (k / n - q) / sqrt(q (1 - q) / n), > 0 when the calls got slower.
 * *p is its two-sided p-value; z 0 and p 1 when n is 0.
 */
extern void pp_exceedance_test(uint64_t above, uint64_t n, double q,
							   double *z, double *p);

#endif							/* PP_CHANGES_H */
