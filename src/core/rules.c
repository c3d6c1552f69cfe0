/*-------------------------------------------------------------------------
 *
 * src/core/rules.c
 *	  The report's rules, as one table: per pattern its name, the test
 *	  that finds it and the evidence it cites; then the bottleneck rule.
 *
 * Each rule reads only a pp_op_facts_t (counters, percentiles, shape
 * counts of one operation in one window), so each is a pure function the
 * unit tests (test/unit/test_rules.c) try at its thresholds.  A pattern's
 * place in the table is its place in the report.
 *
 *	n_plus_one        repeated same-name sibling calls are at least half of
 *	                  the calls
 *	parallelizable    at least a fifth of the calls had sequential children
 *	                  that could have run at once, saving time
 *	long_tail         p99 at least 5 times p50 (20 calls or more)
 *	high_variance     stddev at least the mean (20 calls or more)
 *	error_prone       3 errors or more, and at least 5% of the calls
 *	degrading         newer half's mean 1.2 times the older's or more, and
 *	                  Welch's t of the difference at least 3 (30 calls or
 *	                  more in each half)
 *	threshold_breach  10% of the calls or more above the threshold
 *
 * An operation is a bottleneck by its self time when its impact is 20 or
 * more, when it is n_plus_one, parallelizable, degrading or error_prone, or
 * when its p95 is above its threshold and at least half of its time is its
 * own.  A wrapper -- less than half of its time its own -- whose p95 is
 * above its threshold is a bottleneck through a child when one child
 * operation holds at least half of its time (the child is then named); a
 * wrapper whose time is spread over its children is not one: its children
 * are judged on their own figures.
 *
 * No PostgreSQL headers; nothing allocates.
 *
 *-------------------------------------------------------------------------
 */
#include "rules.h"
#include "trend.h"

#include <math.h>

typedef struct pattern_rule_t
{
	const char *name;
	bool		(*applies) (const pp_op_facts_t *f, const pp_op_verdict_t *v);
	int			(*evidence) (const pp_op_facts_t *f, const pp_op_verdict_t *v,
							 pp_evidence_t *out);
	bool		makes_bottleneck;	/* the pattern alone makes one */
} pattern_rule_t;

static double
mean_of(const pp_moments_t *m)
{
	return m->n > 0 ? m->sum_ms / m->n : NAN;
}

/* x rounded to a multiple of 1 / scale, as the report writes ratios */
static double
round_to(double x, double scale)
{
	return round(x * scale) / scale;
}

static pp_evidence_t
count_item(const char *key, int64_t count)
{
	pp_evidence_t e = {key, PP_EVIDENCE_COUNT, count, 0};

	return e;
}

static pp_evidence_t
ms_item(const char *key, double ms)
{
	pp_evidence_t e = {key, PP_EVIDENCE_MS, 0, ms};

	return e;
}

static pp_evidence_t
number_item(const char *key, double value)
{
	pp_evidence_t e = {key, PP_EVIDENCE_NUMBER, 0, value};

	return e;
}

/* --- n_plus_one --- */

static bool
n_plus_one_applies(const pp_op_facts_t *f, const pp_op_verdict_t *v)
{
	(void) v;
	return f->repeat_groups > 0 &&
		f->repeat_calls >= PP_RULE_N_PLUS_ONE_SHARE * f->calls;
}

static int
n_plus_one_evidence(const pp_op_facts_t *f, const pp_op_verdict_t *v,
					pp_evidence_t *out)
{
	out[0] = count_item("repeated_calls", f->repeat_calls);
	out[1] = count_item("groups", f->repeat_groups);
	out[2] = number_item("avg_group_size", round_to(v->repeat_group_size, 100));
	out[3] = count_item("calls", f->calls);
	return 4;
}

/* --- parallelizable --- */

static bool
parallelizable_applies(const pp_op_facts_t *f, const pp_op_verdict_t *v)
{
	(void) v;
	return f->parallel_parents >= PP_RULE_PARALLEL_SHARE * f->calls &&
		f->parallel_saving_ms > 0;
}

static int
parallelizable_evidence(const pp_op_facts_t *f, const pp_op_verdict_t *v,
						pp_evidence_t *out)
{
	out[0] = count_item("occurrences", f->parallel_parents);
	out[1] = ms_item("saving_ms_per_occurrence",
					 f->parallel_parents > 0 ?
					 f->parallel_saving_ms / f->parallel_parents : 0);
	out[2] = ms_item("saving_ms_per_profile", v->parallel_saving_per_profile_ms);
	return 3;
}

/* --- long_tail --- */

static bool
long_tail_applies(const pp_op_facts_t *f, const pp_op_verdict_t *v)
{
	(void) v;
	return f->calls >= PP_RULE_MIN_CALLS_SHAPE && f->p50_ms > 0 &&
		f->p99_ms / f->p50_ms >= PP_RULE_LONG_TAIL_RATIO;
}

static int
long_tail_evidence(const pp_op_facts_t *f, const pp_op_verdict_t *v,
				   pp_evidence_t *out)
{
	(void) v;
	out[0] = ms_item("p50_ms", f->p50_ms);
	out[1] = ms_item("p99_ms", f->p99_ms);
	out[2] = number_item("p99_over_p50", round_to(f->p99_ms / f->p50_ms, 100));
	return 3;
}

/* --- high_variance --- */

static bool
high_variance_applies(const pp_op_facts_t *f, const pp_op_verdict_t *v)
{
	(void) v;
	return f->calls >= PP_RULE_MIN_CALLS_SHAPE && f->avg_ms > 0 &&
		f->stddev_ms / f->avg_ms >= PP_RULE_HIGH_VARIANCE_CV;
}

static int
high_variance_evidence(const pp_op_facts_t *f, const pp_op_verdict_t *v,
					   pp_evidence_t *out)
{
	(void) v;
	out[0] = ms_item("avg_ms", f->avg_ms);
	out[1] = ms_item("stddev_ms", f->stddev_ms);
	out[2] = number_item("coefficient_of_variation",
						 round_to(f->stddev_ms / f->avg_ms, 100));
	return 3;
}

/* --- error_prone --- */

static bool
error_prone_applies(const pp_op_facts_t *f, const pp_op_verdict_t *v)
{
	(void) v;
	return f->errors >= PP_RULE_ERROR_PRONE_MIN &&
		f->error_rate >= PP_RULE_ERROR_PRONE_RATE;
}

static int
error_prone_evidence(const pp_op_facts_t *f, const pp_op_verdict_t *v,
					 pp_evidence_t *out)
{
	(void) v;
	out[0] = count_item("errors", f->errors);
	out[1] = count_item("calls", f->calls);
	out[2] = number_item("error_rate", round_to(f->error_rate, 10000));
	return 3;
}

/* --- degrading --- */

static bool
degrading_applies(const pp_op_facts_t *f, const pp_op_verdict_t *v)
{
	(void) f;
	return v->degrade_ratio >= PP_RULE_DEGRADING_RATIO &&
		v->degrade_t >= PP_RULE_DEGRADING_T;
}

static int
degrading_evidence(const pp_op_facts_t *f, const pp_op_verdict_t *v,
				   pp_evidence_t *out)
{
	out[0] = ms_item("older_half_avg_ms", mean_of(&f->early));
	out[1] = ms_item("newer_half_avg_ms", mean_of(&f->late));
	out[2] = number_item("ratio", round_to(v->degrade_ratio, 100));
	out[3] = number_item("welch_t", round_to(v->degrade_t, 100));
	return 4;
}

/* --- threshold_breach --- */

static bool
threshold_breach_applies(const pp_op_facts_t *f, const pp_op_verdict_t *v)
{
	(void) v;
	return !isnan(f->threshold_ms) && f->breach_rate >= PP_RULE_BREACH_RATE;
}

static int
threshold_breach_evidence(const pp_op_facts_t *f, const pp_op_verdict_t *v,
						  pp_evidence_t *out)
{
	(void) v;
	out[0] = ms_item("threshold_ms", f->threshold_ms);
	out[1] = number_item("breach_rate", round_to(f->breach_rate, 10000));
	out[2] = ms_item("p95_ms", f->p95_ms);
	return 3;
}

/* The rules, indexed by pp_pattern_t */
static const pattern_rule_t pattern_rules[PP_N_PATTERNS] = {
	[PP_PATTERN_N_PLUS_ONE] = {"n_plus_one", n_plus_one_applies,
	n_plus_one_evidence, true},
	[PP_PATTERN_PARALLELIZABLE] = {"parallelizable", parallelizable_applies,
	parallelizable_evidence, true},
	[PP_PATTERN_LONG_TAIL] = {"long_tail", long_tail_applies,
	long_tail_evidence, false},
	[PP_PATTERN_HIGH_VARIANCE] = {"high_variance", high_variance_applies,
	high_variance_evidence, false},
	[PP_PATTERN_ERROR_PRONE] = {"error_prone", error_prone_applies,
	error_prone_evidence, true},
	[PP_PATTERN_DEGRADING] = {"degrading", degrading_applies,
	degrading_evidence, true},
	[PP_PATTERN_THRESHOLD_BREACH] = {"threshold_breach", threshold_breach_applies,
	threshold_breach_evidence, false},
};

/* p95 above the threshold */
static bool
above_threshold(const pp_op_facts_t *f)
{
	return !isnan(f->threshold_ms) && f->p95_ms > f->threshold_ms;
}

/* Less than half of its time is its own: the rest is its children's */
static bool
is_wrapper(const pp_op_facts_t *f)
{
	return f->avg_ms > 0 && f->self_avg_ms < PP_RULE_OWN_TIME_SHARE * f->avg_ms;
}

void
pp_rules_apply(const pp_op_facts_t *f, pp_op_verdict_t *v)
{
	int			p;
	bool		own;

	v->patterns = 0;
	v->degrade_ratio = NAN;
	v->degrade_t = NAN;
	if (f->early.n >= PP_RULE_DEGRADING_MIN_CALLS &&
		f->late.n >= PP_RULE_DEGRADING_MIN_CALLS)
	{
		double		m1 = mean_of(&f->early);
		double		m2 = mean_of(&f->late);
		double		se = sqrt(pp_sample_variance(f->early.n, f->early.sum_ms,
												 f->early.sumsq_ms) / f->early.n +
							  pp_sample_variance(f->late.n, f->late.sum_ms,
												 f->late.sumsq_ms) / f->late.n);

		v->degrade_ratio = m1 > 0 ? m2 / m1 : NAN;
		v->degrade_t = se > 0 ? (m2 - m1) / se : NAN;
	}
	v->repeat_group_size = f->repeat_groups > 0 ?
		(double) f->repeat_calls / f->repeat_groups : 0;
	v->parallel_saving_per_profile_ms = f->profiles > 0 ?
		f->parallel_saving_ms / f->profiles : 0;

	own = f->impact >= PP_RULE_BOTTLENECK_IMPACT ||
		(above_threshold(f) && !is_wrapper(f));
	for (p = 0; p < PP_N_PATTERNS; p++)
	{
		if (!pattern_rules[p].applies(f, v))
			continue;
		v->patterns |= 1u << p;
		if (pattern_rules[p].makes_bottleneck)
			own = true;
	}
	if (own)
		v->reason = PP_REASON_SELF_TIME;
	else if (pp_rules_wants_child(f) &&
			 f->top_child_share >= PP_RULE_VIA_CHILD_SHARE)
		v->reason = PP_REASON_CHILD;
	else
		v->reason = PP_REASON_NONE;
	v->bottleneck = v->reason != PP_REASON_NONE;
}

bool
pp_rules_wants_child(const pp_op_facts_t *f)
{
	return above_threshold(f) && is_wrapper(f);
}

const char *
pp_reason_name(pp_reason_t reason)
{
	switch (reason)
	{
		case PP_REASON_SELF_TIME:
			return "self_time";
		case PP_REASON_CHILD:
			return "child";
		case PP_REASON_NONE:
			break;
	}
	return NULL;
}

const char *
pp_pattern_name(pp_pattern_t pattern)
{
	if ((int) pattern < 0 || pattern >= PP_N_PATTERNS)
		return NULL;
	return pattern_rules[pattern].name;
}

int
pp_pattern_evidence(pp_pattern_t pattern, const pp_op_facts_t *facts,
					const pp_op_verdict_t *verdict,
					pp_evidence_t out[PP_EVIDENCE_MAX])
{
	if ((int) pattern < 0 || pattern >= PP_N_PATTERNS)
		return 0;
	return pattern_rules[pattern].evidence(facts, verdict, out);
}
