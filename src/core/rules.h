/*-------------------------------------------------------------------------
 *
 * src/core/rules.h
 *	  The report's rules: the patterns an operation shows in a window
 *	  (n_plus_one, parallelizable, long_tail, high_variance, error_prone,
 *	  degrading, threshold_breach), the evidence each pattern cites, and
 *	  what makes an operation a bottleneck.  Thresholds and reasons are
 *	  documented in docs/report.md.
 *
 * The glue (src/report.c) fills a pp_op_facts_t from a window's aggregates
 * and writes what pp_rules_apply and pp_pattern_evidence return as jsonb;
 * every decision is taken here, where the unit tests reach it.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PP_RULES_H
#define PP_RULES_H

#include "pp_core.h"

/* Thresholds of the rules (docs/report.md) */
#define PP_RULE_MIN_CALLS_SHAPE		20	/* long_tail, high_variance */
#define PP_RULE_LONG_TAIL_RATIO		5.0 /* p99 / p50 */
#define PP_RULE_HIGH_VARIANCE_CV	1.0 /* stddev / mean */
#define PP_RULE_ERROR_PRONE_RATE	0.05
#define PP_RULE_ERROR_PRONE_MIN		3	/* errors */
#define PP_RULE_DEGRADING_MIN_CALLS 30	/* in each half of the window */
#define PP_RULE_DEGRADING_RATIO		1.2 /* newer half's mean / older half's */
#define PP_RULE_DEGRADING_T			3.0 /* Welch's t */
#define PP_RULE_BREACH_RATE			0.10	/* calls above the threshold */
#define PP_RULE_N_PLUS_ONE_SHARE	0.5 /* repeated calls / calls */
#define PP_RULE_PARALLEL_SHARE		0.2 /* calls with sequential children */
#define PP_RULE_BOTTLENECK_IMPACT	20.0
#define PP_RULE_OWN_TIME_SHARE		0.5 /* self time / duration: below, a wrapper */
#define PP_RULE_VIA_CHILD_SHARE		0.5 /* one child's time / a wrapper's time */

/* Count, sum and sum of squares of durations (ms) */
typedef struct pp_moments_t
{
	int64_t		n;
	double		sum_ms;
	double		sumsq_ms;
} pp_moments_t;

/* What the rules read of one operation in one window */
typedef struct pp_op_facts_t
{
	int64_t		calls;			/* > 0 */
	int64_t		errors;
	double		avg_ms;
	double		p50_ms;
	double		p95_ms;
	double		p99_ms;
	double		stddev_ms;		/* NaN below two calls */
	double		error_rate;		/* errors / calls */
	double		threshold_ms;	/* NaN when the operation has none */
	double		breach_rate;	/* calls above the threshold / calls; NaN
								 * without a threshold */
	pp_moments_t early;			/* the older half of the window */
	pp_moments_t late;			/* the newer half */
	int64_t		repeat_calls;	/* calls in same-name sibling groups */
	int64_t		repeat_groups;	/* such groups */
	int64_t		parallel_parents;	/* calls with sequential children that
									 * could run at once */
	double		parallel_saving_ms; /* what that would save, ms */
	double		profiles;		/* profiles in the window */
	double		impact;			/* pp_impact_score, 0..100 */
	double		self_avg_ms;	/* mean self time per call */
	double		top_child_share;	/* the time of its slowest child
									 * operation over its own duration, in
									 * the window's call paths; NaN when not
									 * looked up (pp_rules_wants_child) or
									 * not seen */
} pp_op_facts_t;

/* The patterns, in report order; bit (1 << p) of a pattern mask */
typedef enum pp_pattern_t
{
	PP_PATTERN_N_PLUS_ONE,
	PP_PATTERN_PARALLELIZABLE,
	PP_PATTERN_LONG_TAIL,
	PP_PATTERN_HIGH_VARIANCE,
	PP_PATTERN_ERROR_PRONE,
	PP_PATTERN_DEGRADING,
	PP_PATTERN_THRESHOLD_BREACH,
	PP_N_PATTERNS
} pp_pattern_t;

/* Why an operation is a bottleneck */
typedef enum pp_reason_t
{
	PP_REASON_NONE,				/* it is not one */
	PP_REASON_SELF_TIME,		/* by its own figures */
	PP_REASON_CHILD				/* a wrapper, through one child */
} pp_reason_t;

/* What the rules conclude of one operation */
typedef struct pp_op_verdict_t
{
	unsigned	patterns;		/* bit (1 << pp_pattern_t) per pattern */
	bool		bottleneck;		/* reason != PP_REASON_NONE */
	pp_reason_t reason;
	double		degrade_ratio;	/* newer mean / older mean; NaN unless both
								 * halves have enough calls */
	double		degrade_t;		/* Welch's t of that difference, or NaN */
	double		repeat_group_size;	/* repeated calls / groups; 0 without */
	double		parallel_saving_per_profile_ms; /* 0 without profiles */
} pp_op_verdict_t;

extern void pp_rules_apply(const pp_op_facts_t *facts, pp_op_verdict_t *verdict);

/*
 * Whether the operation is a wrapper (its self time under
 * PP_RULE_OWN_TIME_SHARE of its duration) whose p95 is above its
 * threshold: the only case in which pp_rules_apply reads
 * top_child_share, which the caller then looks up.
 */
extern bool pp_rules_wants_child(const pp_op_facts_t *facts);

/* "self_time", "child"; NULL for PP_REASON_NONE. */
extern const char *pp_reason_name(pp_reason_t reason);

/* The name of a pattern ("n_plus_one", ...); NULL when out of range. */
extern const char *pp_pattern_name(pp_pattern_t pattern);

/* One item of a pattern's evidence, in the order the report writes them */
typedef enum pp_evidence_kind_t
{
	PP_EVIDENCE_COUNT,			/* an integer: count */
	PP_EVIDENCE_MS,				/* milliseconds: value (rounded when written) */
	PP_EVIDENCE_NUMBER			/* value, rounded here */
} pp_evidence_kind_t;

typedef struct pp_evidence_t
{
	const char *key;
	pp_evidence_kind_t kind;
	int64_t		count;
	double		value;
} pp_evidence_t;

#define PP_EVIDENCE_MAX		4

/* The evidence of a pattern; returns how many items were written to out. */
extern int	pp_pattern_evidence(pp_pattern_t pattern, const pp_op_facts_t *facts,
								const pp_op_verdict_t *verdict,
								pp_evidence_t out[PP_EVIDENCE_MAX]);

#endif							/* PP_RULES_H */
