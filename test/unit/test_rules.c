/*-------------------------------------------------------------------------
 *
 * test/unit/test_rules.c
 *	  cmocka tests of src/core/rules.c: each pattern rule just below, at
 *	  and above its thresholds, the evidence each pattern cites, the
 *	  bottleneck rule clause by clause (its reason, wrappers and their
 *	  children included), and the table's names and order.
 *
 * Every case starts from a quiet operation (facts that trigger nothing)
 * and changes only the facts the rule under test reads.
 *
 *-------------------------------------------------------------------------
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "rules.h"

#define BIT(p)	(1u << (p))

/* 100 calls of a steady 10 ms operation: no pattern, not a bottleneck */
static pp_op_facts_t
quiet(void)
{
	pp_op_facts_t f;

	memset(&f, 0, sizeof(f));
	f.calls = 100;
	f.avg_ms = 10;
	f.p50_ms = 10;
	f.p95_ms = 12;
	f.p99_ms = 14;
	f.stddev_ms = 2;
	f.threshold_ms = NAN;
	f.breach_rate = NAN;
	f.profiles = 50;
	f.impact = 5;
	f.self_avg_ms = 10;			/* all of its time is its own */
	f.top_child_share = NAN;
	return f;
}

static pp_op_verdict_t
apply(const pp_op_facts_t *f)
{
	pp_op_verdict_t v;

	memset(&v, 0xA5, sizeof(v));	/* apply must set every field */
	pp_rules_apply(f, &v);
	return v;
}

static unsigned
patterns_of(const pp_op_facts_t *f)
{
	return apply(f).patterns;
}

/* The halves of a window: n calls each, mean m1 then m2, sample sd s */
static void
set_halves(pp_op_facts_t *f, int64_t n, double m1, double m2, double s)
{
	f->early.n = n;
	f->early.sum_ms = n * m1;
	f->early.sumsq_ms = (n - 1) * s * s + n * m1 * m1;
	f->late.n = n;
	f->late.sum_ms = n * m2;
	f->late.sumsq_ms = (n - 1) * s * s + n * m2 * m2;
}

static void
test_quiet(void **state)
{
	pp_op_facts_t f = quiet();
	pp_op_verdict_t v = apply(&f);

	(void) state;
	assert_int_equal(v.patterns, 0);
	assert_false(v.bottleneck);
	assert_int_equal(v.reason, PP_REASON_NONE);
	assert_null(pp_reason_name(v.reason));
	assert_true(isnan(v.degrade_ratio) && isnan(v.degrade_t));
	assert_true(v.repeat_group_size == 0);
	assert_true(v.parallel_saving_per_profile_ms == 0);
}

static void
test_table(void **state)
{
	static const char *const names[PP_N_PATTERNS] = {
		"n_plus_one", "parallelizable", "long_tail", "high_variance",
		"error_prone", "degrading", "threshold_breach"
	};
	int			p;

	(void) state;
	for (p = 0; p < PP_N_PATTERNS; p++)
		assert_string_equal(pp_pattern_name((pp_pattern_t) p), names[p]);
	assert_null(pp_pattern_name(PP_N_PATTERNS));
	assert_null(pp_pattern_name((pp_pattern_t) -1));
}

/* n_plus_one: repeated calls >= half the calls, in at least one group */
static void
test_n_plus_one(void **state)
{
	pp_op_facts_t f = quiet();
	pp_op_verdict_t v;
	pp_evidence_t ev[PP_EVIDENCE_MAX];

	(void) state;
	f.repeat_groups = 1;
	f.repeat_calls = 49;
	assert_int_equal(patterns_of(&f), 0);
	f.repeat_calls = 50;
	v = apply(&f);
	assert_int_equal(v.patterns, BIT(PP_PATTERN_N_PLUS_ONE));
	assert_true(v.bottleneck);	/* n_plus_one alone makes a bottleneck */
	f.repeat_groups = 0;		/* no group: never */
	assert_int_equal(patterns_of(&f), 0);

	f.repeat_groups = 3;
	f.repeat_calls = 80;
	v = apply(&f);
	assert_true(v.repeat_group_size == 80.0 / 3);
	assert_int_equal(pp_pattern_evidence(PP_PATTERN_N_PLUS_ONE, &f, &v, ev), 4);
	assert_string_equal(ev[0].key, "repeated_calls");
	assert_int_equal(ev[0].kind, PP_EVIDENCE_COUNT);
	assert_int_equal(ev[0].count, 80);
	assert_string_equal(ev[1].key, "groups");
	assert_int_equal(ev[1].count, 3);
	assert_string_equal(ev[2].key, "avg_group_size");
	assert_int_equal(ev[2].kind, PP_EVIDENCE_NUMBER);
	assert_true(ev[2].value == 26.67);
	assert_string_equal(ev[3].key, "calls");
	assert_int_equal(ev[3].count, 100);
}

/* parallelizable: >= a fifth of the calls, and a saving */
static void
test_parallelizable(void **state)
{
	pp_op_facts_t f = quiet();
	pp_op_verdict_t v;
	pp_evidence_t ev[PP_EVIDENCE_MAX];

	(void) state;
	f.parallel_parents = 19;
	f.parallel_saving_ms = 300;
	assert_int_equal(patterns_of(&f), 0);
	f.parallel_parents = 20;
	v = apply(&f);
	assert_int_equal(v.patterns, BIT(PP_PATTERN_PARALLELIZABLE));
	assert_true(v.bottleneck);
	assert_true(v.parallel_saving_per_profile_ms == 6);	/* 300 / 50 */
	f.parallel_saving_ms = 0;
	assert_int_equal(patterns_of(&f), 0);

	f.parallel_saving_ms = 300;
	f.profiles = 0;
	v = apply(&f);
	assert_true(v.parallel_saving_per_profile_ms == 0);
	assert_int_equal(pp_pattern_evidence(PP_PATTERN_PARALLELIZABLE, &f, &v, ev), 3);
	assert_string_equal(ev[0].key, "occurrences");
	assert_int_equal(ev[0].count, 20);
	assert_string_equal(ev[1].key, "saving_ms_per_occurrence");
	assert_int_equal(ev[1].kind, PP_EVIDENCE_MS);
	assert_true(ev[1].value == 15);
	assert_string_equal(ev[2].key, "saving_ms_per_profile");
	assert_true(ev[2].value == 0);
}

/* long_tail: p99 >= 5 p50, 20 calls or more, p50 > 0 */
static void
test_long_tail(void **state)
{
	pp_op_facts_t f = quiet();
	pp_op_verdict_t v;
	pp_evidence_t ev[PP_EVIDENCE_MAX];

	(void) state;
	f.p99_ms = 49.99;
	assert_int_equal(patterns_of(&f), 0);
	f.p99_ms = 50;
	v = apply(&f);
	assert_int_equal(v.patterns, BIT(PP_PATTERN_LONG_TAIL));
	assert_false(v.bottleneck);	/* a pattern of evidence only */
	f.calls = 19;
	assert_int_equal(patterns_of(&f), 0);
	f.calls = 20;
	f.p50_ms = 0;
	assert_int_equal(patterns_of(&f), 0);

	f.p50_ms = 3;
	f.p99_ms = 20;
	v = apply(&f);
	assert_int_equal(pp_pattern_evidence(PP_PATTERN_LONG_TAIL, &f, &v, ev), 3);
	assert_string_equal(ev[0].key, "p50_ms");
	assert_true(ev[0].value == 3);
	assert_string_equal(ev[1].key, "p99_ms");
	assert_true(ev[1].value == 20);
	assert_string_equal(ev[2].key, "p99_over_p50");
	assert_true(ev[2].value == 6.67);
}

/* high_variance: stddev >= mean, 20 calls or more */
static void
test_high_variance(void **state)
{
	pp_op_facts_t f = quiet();
	pp_op_verdict_t v;
	pp_evidence_t ev[PP_EVIDENCE_MAX];

	(void) state;
	f.stddev_ms = 9.99;
	assert_int_equal(patterns_of(&f), 0);
	f.stddev_ms = 10;
	assert_int_equal(patterns_of(&f), BIT(PP_PATTERN_HIGH_VARIANCE));
	f.calls = 19;
	assert_int_equal(patterns_of(&f), 0);
	f.calls = 100;
	f.stddev_ms = NAN;			/* fewer than two values */
	assert_int_equal(patterns_of(&f), 0);

	f.stddev_ms = 12.345;
	v = apply(&f);
	assert_false(v.bottleneck);
	assert_int_equal(pp_pattern_evidence(PP_PATTERN_HIGH_VARIANCE, &f, &v, ev), 3);
	assert_string_equal(ev[0].key, "avg_ms");
	assert_string_equal(ev[1].key, "stddev_ms");
	assert_true(ev[1].value == 12.345);
	assert_string_equal(ev[2].key, "coefficient_of_variation");
	assert_true(ev[2].value == 1.23);
}

/* error_prone: 3 errors or more, and 5% of the calls or more */
static void
test_error_prone(void **state)
{
	pp_op_facts_t f = quiet();
	pp_op_verdict_t v;
	pp_evidence_t ev[PP_EVIDENCE_MAX];

	(void) state;
	f.errors = 4;
	f.error_rate = 0.04;
	assert_int_equal(patterns_of(&f), 0);
	f.errors = 5;
	f.error_rate = 0.05;
	v = apply(&f);
	assert_int_equal(v.patterns, BIT(PP_PATTERN_ERROR_PRONE));
	assert_true(v.bottleneck);
	f.calls = 40;
	f.errors = 2;
	f.error_rate = 0.05;
	assert_int_equal(patterns_of(&f), 0);
	f.errors = 3;
	f.error_rate = 3.0 / 40;
	v = apply(&f);
	assert_int_equal(v.patterns, BIT(PP_PATTERN_ERROR_PRONE));
	assert_int_equal(pp_pattern_evidence(PP_PATTERN_ERROR_PRONE, &f, &v, ev), 3);
	assert_string_equal(ev[0].key, "errors");
	assert_int_equal(ev[0].count, 3);
	assert_string_equal(ev[1].key, "calls");
	assert_int_equal(ev[1].count, 40);
	assert_string_equal(ev[2].key, "error_rate");
	assert_true(ev[2].value == 0.075);
}

/*
 * degrading: both halves of 30 calls or more, newer mean >= 1.2 older,
 * Welch's t >= 3.  With n = 30 per half and sd 1: se = sqrt(2 / 30).
 */
static void
test_degrading(void **state)
{
	pp_op_facts_t f = quiet();
	pp_op_verdict_t v;
	pp_evidence_t ev[PP_EVIDENCE_MAX];
	double		se = sqrt(2.0 / 30);

	(void) state;
	set_halves(&f, 30, 10, 12, 1);
	v = apply(&f);
	assert_int_equal(v.patterns, BIT(PP_PATTERN_DEGRADING));
	assert_true(v.bottleneck);
	assert_true(fabs(v.degrade_ratio - 1.2) < 1e-12);
	assert_true(fabs(v.degrade_t - 2 / se) < 1e-6);

	/* ratio below 1.2 */
	set_halves(&f, 30, 10, 11.9, 1);
	assert_int_equal(patterns_of(&f), 0);
	/* t below 3: a large spread */
	set_halves(&f, 30, 10, 13, 6);
	v = apply(&f);
	assert_true(v.degrade_t < 3 && v.degrade_ratio >= 1.2);
	assert_int_equal(v.patterns, 0);
	/* 29 calls in a half: not judged at all */
	set_halves(&f, 29, 10, 20, 1);
	v = apply(&f);
	assert_int_equal(v.patterns, 0);
	assert_true(isnan(v.degrade_ratio) && isnan(v.degrade_t));
	/* an older mean of 0: no ratio */
	set_halves(&f, 30, 0, 5, 1);
	assert_true(isnan(apply(&f).degrade_ratio));
	/* no spread at all: no t */
	set_halves(&f, 30, 10, 20, 0);
	v = apply(&f);
	assert_true(isnan(v.degrade_t));
	assert_int_equal(v.patterns, 0);

	set_halves(&f, 40, 10, 15, 2);
	v = apply(&f);
	assert_int_equal(pp_pattern_evidence(PP_PATTERN_DEGRADING, &f, &v, ev), 4);
	assert_string_equal(ev[0].key, "older_half_avg_ms");
	assert_int_equal(ev[0].kind, PP_EVIDENCE_MS);
	assert_true(fabs(ev[0].value - 10) < 1e-12);
	assert_string_equal(ev[1].key, "newer_half_avg_ms");
	assert_true(fabs(ev[1].value - 15) < 1e-12);
	assert_string_equal(ev[2].key, "ratio");
	assert_true(ev[2].value == 1.5);
	assert_string_equal(ev[3].key, "welch_t");
	assert_true(ev[3].value == round(5 / sqrt(8.0 / 40) * 100) / 100);
}

/* threshold_breach: 10% of the calls above the threshold, only with one */
static void
test_threshold_breach(void **state)
{
	pp_op_facts_t f = quiet();
	pp_op_verdict_t v;
	pp_evidence_t ev[PP_EVIDENCE_MAX];

	(void) state;
	f.breach_rate = 0.5;		/* without a threshold: never */
	assert_int_equal(patterns_of(&f), 0);
	f.threshold_ms = 13;
	f.breach_rate = 0.0999;
	assert_int_equal(patterns_of(&f), 0);
	f.breach_rate = 0.10;
	v = apply(&f);
	assert_int_equal(v.patterns, BIT(PP_PATTERN_THRESHOLD_BREACH));
	assert_false(v.bottleneck);	/* p95 12 <= 13 */
	assert_int_equal(pp_pattern_evidence(PP_PATTERN_THRESHOLD_BREACH, &f, &v, ev), 3);
	assert_string_equal(ev[0].key, "threshold_ms");
	assert_true(ev[0].value == 13);
	assert_string_equal(ev[1].key, "breach_rate");
	assert_true(ev[1].value == 0.1);
	assert_string_equal(ev[2].key, "p95_ms");
	assert_true(ev[2].value == 12);
}

/* bottleneck: impact >= 20, p95 above the threshold, or one of 4 patterns */
static void
test_bottleneck(void **state)
{
	pp_op_facts_t f = quiet();

	(void) state;
	f.impact = 19.99;
	assert_false(apply(&f).bottleneck);
	f.impact = 20;
	assert_true(apply(&f).bottleneck);
	assert_int_equal(apply(&f).reason, PP_REASON_SELF_TIME);
	assert_string_equal(pp_reason_name(PP_REASON_SELF_TIME), "self_time");
	f.impact = 5;

	f.threshold_ms = 12;		/* p95 = 12: not above */
	assert_false(apply(&f).bottleneck);
	f.threshold_ms = 11.99;
	assert_true(apply(&f).bottleneck);
	assert_int_equal(apply(&f).reason, PP_REASON_SELF_TIME);
	f.threshold_ms = NAN;

	/* long_tail, high_variance and threshold_breach alone do not */
	f.p99_ms = 100;
	f.stddev_ms = 50;
	f.threshold_ms = 1000;
	f.breach_rate = 0.5;
	assert_int_equal(patterns_of(&f), BIT(PP_PATTERN_LONG_TAIL) |
					 BIT(PP_PATTERN_HIGH_VARIANCE) |
					 BIT(PP_PATTERN_THRESHOLD_BREACH));
	assert_false(apply(&f).bottleneck);
}

/*
 * A wrapper (self time under half its duration) above its threshold is a
 * bottleneck only through one child holding half of its time; its own
 * impact or patterns still make it one by self time.
 */
static void
test_wrapper(void **state)
{
	pp_op_facts_t f = quiet();
	pp_op_verdict_t v;

	(void) state;
	f.avg_ms = 1000;			/* retrieval: 1.5 ms of its own per call */
	f.self_avg_ms = 1.5;
	f.p50_ms = 900;
	f.p95_ms = 1400;
	f.p99_ms = 1500;
	f.stddev_ms = 200;
	f.threshold_ms = 500;
	f.breach_rate = 0.9;

	/* not looked up (or not seen): not reported in its children's place */
	assert_true(pp_rules_wants_child(&f));
	v = apply(&f);
	assert_false(v.bottleneck);
	assert_int_equal(v.reason, PP_REASON_NONE);
	assert_true(v.patterns & BIT(PP_PATTERN_THRESHOLD_BREACH));

	/* time spread over several children: none of them is the reason */
	f.top_child_share = 0.4999;
	assert_false(apply(&f).bottleneck);
	f.top_child_share = 0.5;
	v = apply(&f);
	assert_true(v.bottleneck);
	assert_int_equal(v.reason, PP_REASON_CHILD);
	assert_string_equal(pp_reason_name(v.reason), "child");

	/* the wrapper's own figures win over the child */
	f.impact = 20;
	assert_int_equal(apply(&f).reason, PP_REASON_SELF_TIME);
	f.impact = 5;
	f.repeat_groups = 10;
	f.repeat_calls = 100;
	assert_int_equal(apply(&f).reason, PP_REASON_SELF_TIME);
	f.repeat_groups = f.repeat_calls = 0;

	/* half of its time its own: no longer a wrapper, its breach is its own */
	f.self_avg_ms = 499.99;
	assert_true(pp_rules_wants_child(&f));
	f.self_avg_ms = 500;
	assert_false(pp_rules_wants_child(&f));
	f.top_child_share = NAN;
	v = apply(&f);
	assert_true(v.bottleneck);
	assert_int_equal(v.reason, PP_REASON_SELF_TIME);

	/* a wrapper under its threshold does not need its children */
	f.self_avg_ms = 1.5;
	f.p95_ms = 500;
	assert_false(pp_rules_wants_child(&f));
	f.top_child_share = 1;
	assert_false(apply(&f).bottleneck);
}

/* Several patterns at once, each its own bit; out-of-range evidence */
static void
test_combined(void **state)
{
	pp_op_facts_t f = quiet();
	pp_evidence_t ev[PP_EVIDENCE_MAX];
	pp_op_verdict_t v;

	(void) state;
	f.repeat_groups = 10;
	f.repeat_calls = 100;
	f.parallel_parents = 30;
	f.parallel_saving_ms = 5;
	f.p99_ms = 60;
	f.stddev_ms = 11;
	f.errors = 10;
	f.error_rate = 0.1;
	set_halves(&f, 50, 10, 20, 1);
	f.threshold_ms = 11;
	f.breach_rate = 0.3;
	v = apply(&f);
	assert_int_equal(v.patterns, BIT(PP_N_PATTERNS) - 1);
	assert_true(v.bottleneck);
	assert_int_equal(pp_pattern_evidence(PP_N_PATTERNS, &f, &v, ev), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_quiet),
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_n_plus_one),
		cmocka_unit_test(test_parallelizable),
		cmocka_unit_test(test_long_tail),
		cmocka_unit_test(test_high_variance),
		cmocka_unit_test(test_error_prone),
		cmocka_unit_test(test_degrading),
		cmocka_unit_test(test_threshold_breach),
		cmocka_unit_test(test_bottleneck),
		cmocka_unit_test(test_wrapper),
		cmocka_unit_test(test_combined),
	};

	return cmocka_run_group_tests_name("rules", tests, NULL, NULL);
}
