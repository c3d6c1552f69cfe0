/*-------------------------------------------------------------------------
 *
 * src/report.c
 *	  The optimization engine: pp_optimization_report, pp_bottlenecks,
 *	  pp_detect_bottlenecks.
 *
 * Everything here works on the per-operation aggregates of one window
 * (window.c), so the report costs what reading the window costs, whatever
 * the number of profiles -- plus the call paths of the same window when a
 * wrapper needs its child named (src/paths.c), and the periods compared and
 * example profiles of the changes (src/report_changes.c).  Per operation it
 * derives:
 *
 *	share      self time / total time of the window's profiles (the
 *	           operation's own contribution, children excluded)
 *	impact     0-100 from share, p95 against the threshold, p99/p50, error
 *	           rate and calls per profile (src/core/score.c)
 *	patterns   n_plus_one, parallelizable (from shape counters gathered at
 *	           ingest), long_tail, high_variance, error_prone, degrading,
 *	           threshold_breach (from the aggregates); each with its evidence
 *	           (the rules: src/core/rules.c)
 *	reason     why it is a bottleneck: its self time, or (a wrapper) one
 *	           child holding most of its time, named in via
 *	suggestions the catalogue's entries for the operation's type plus one
 *	           per actionable pattern, each with the measure it improves and
 *	           the time it would save per profile on duration (Amdahl: only
 *	           the operation's own time shrinks) and its share of the
 *	           average profile; "instrument it deeper" for a bottleneck
 *	           with nothing else to suggest
 *	time_share its summed self time over all self time
 *
 * The rules and their thresholds are decided in src/core/rules.c and
 * documented in docs/report.md; this file gathers their facts and writes
 * their verdicts.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"

#include "config.h"
#include "jsonb_build.h"
#include "paths.h"
#include "report_changes.h"
#include "rules.h"
#include "score.h"
#include "shmem.h"
#include "spi_owner.h"
#include "stats.h"
#include "window.h"

PG_FUNCTION_INFO_V1(pp_optimization_report);
PG_FUNCTION_INFO_V1(pp_bottlenecks);
PG_FUNCTION_INFO_V1(pp_detect_bottlenecks);

#define MAX_PRIORITIES			20
#define MIN_SAVING_PCT			0.1 /* of the average profile, to suggest */

typedef struct OpAnalysis
{
	PPAgg	   *a;
	const char *type;
	double		threshold_ms;	/* NaN when none */
	double		avg_ms;
	double		p50_ms;
	double		p95_ms;
	double		p99_ms;
	double		self_avg_ms;
	double		error_rate;
	double		calls_per_profile;
	double		share;			/* self time / profiles' total time */
	double		impact;
	pp_impact_parts_t parts;
	pp_op_facts_t facts;		/* what the rules read */
	pp_op_verdict_t verdict;	/* their patterns and bottleneck flag */
	const char *via;			/* the child that holds most of a wrapper's
								 * time, NUL-terminated; NULL unless looked up
								 * and seen */
} OpAnalysis;

#define HAS_PATTERN(o, p)	(((o)->verdict.patterns & (1u << (p))) != 0)

typedef struct Suggestion
{
	OpAnalysis *op;
	const char *text;
	const char *effort;
	const char *source;			/* "catalog", "instrument" or a pattern name */
	const char *measure;		/* what it improves: "duration",
								 * "time_to_first_token", "cost" or
								 * "error_rate" */
	double		reduction_pct;	/* of that measure */
	double		saving_ms;		/* of duration, per profile; 0 for the
								 * other measures */
	double		saving_pct;		/* of the average profile */
	double		uninstrumented_ms;	/* "instrument": the self time per profile
									 * it would break down; else NaN */
	double		rank;			/* saving_ms (or uninstrumented_ms) /
								 * effort weight */
	double		saving_usd;		/* of cost, per profile: the operation's
								 * cost per profile x reduction_pct, for
								 * measure "cost"; else 0 */
} Suggestion;

typedef struct Analysis
{
	PPWindow	w;
	PPConfig   *cfg;
	OpAnalysis *ops;			/* sorted by impact, descending */
	int			n_ops;
	double		profiles;
	double		avg_profile_ms;
	double		total_ms;		/* sum of the profiles' durations */
} Analysis;

static int
op_cmp_impact(const void *a, const void *b)
{
	const OpAnalysis *x = a;
	const OpAnalysis *y = b;

	if (x->impact != y->impact)
		return x->impact > y->impact ? -1 : 1;
	return strcmp(x->a->name, y->a->name);
}

static pp_moments_t
moments_of(const PPCounters *c)
{
	pp_moments_t m = {c->calls, c->sum_ms, c->sumsq_ms};

	return m;
}

static void
analyze_op(Analysis *an, OpAnalysis *o, PPAgg *a)
{
	const PPCounters *c = &a->c;
	pp_impact_input_t in;

	o->a = a;
	o->type = pp_classifier_type(an->cfg->classifier, a->name, a->name_len);
	if (!pp_classifier_threshold(an->cfg->classifier, a->name, a->name_len,
								 o->type, &o->threshold_ms))
		o->threshold_ms = NAN;
	o->avg_ms = c->sum_ms / c->calls;
	o->self_avg_ms = c->self_sum_ms / c->calls;
	o->p50_ms = pp_agg_quantile(a, 0.50);
	o->p95_ms = pp_agg_quantile(a, 0.95);
	o->p99_ms = pp_agg_quantile(a, 0.99);
	o->error_rate = (double) c->errors / c->calls;
	o->calls_per_profile = an->profiles > 0 ? c->calls / an->profiles : 0;
	o->share = an->total_ms > 0 ? c->self_sum_ms / an->total_ms : 0;

	in.share = o->share;
	in.p50_ms = o->p50_ms;
	in.p95_ms = o->p95_ms;
	in.p99_ms = o->p99_ms;
	in.threshold_ms = o->threshold_ms;
	in.error_rate = o->error_rate;
	in.calls_per_profile = o->calls_per_profile;
	o->impact = pp_impact_score(&in, &o->parts);

	/* the rules (src/core/rules.c) */
	o->facts.calls = c->calls;
	o->facts.errors = c->errors;
	o->facts.avg_ms = o->avg_ms;
	o->facts.p50_ms = o->p50_ms;
	o->facts.p95_ms = o->p95_ms;
	o->facts.p99_ms = o->p99_ms;
	o->facts.stddev_ms = pp_counters_stddev(c);
	o->facts.error_rate = o->error_rate;
	o->facts.threshold_ms = o->threshold_ms;
	o->facts.breach_rate = isnan(o->threshold_ms) ? NAN :
		(double) pp_sketch_acc_count_above(a->acc, o->threshold_ms) / c->calls;
	o->facts.early = moments_of(&a->early);
	o->facts.late = moments_of(&a->late);
	o->facts.repeat_calls = c->repeat_calls;
	o->facts.repeat_groups = c->repeat_groups;
	o->facts.parallel_parents = c->parallel_parents;
	o->facts.parallel_saving_ms = c->parallel_saving_ms;
	o->facts.profiles = an->profiles;
	o->facts.impact = o->impact;
	o->facts.self_avg_ms = o->self_avg_ms;
	o->facts.top_child_share = NAN; /* looked up for wrappers only */
}

/*
 * For the wrappers the rules ask about (pp_rules_wants_child), which child
 * operation holds most of their time, from the call-path statistics of the
 * same window (src/paths.c): over every path that ends in the wrapper, the
 * durations of its children summed by operation, against the wrapper's own
 * durations.  Sets facts.top_child_share (at most 1) and via; a wrapper
 * with no child in the window keeps NaN and no via.
 */
static void
lookup_children(Analysis *an)
{
	PPTopChild *wr = palloc0(sizeof(PPTopChild) * Max(an->n_ops, 1));
	OpAnalysis **of = palloc(sizeof(OpAnalysis *) * Max(an->n_ops, 1));
	int			n_wr = 0;
	int			i;

	for (i = 0; i < an->n_ops; i++)
		if (pp_rules_wants_child(&an->ops[i].facts))
		{
			of[n_wr] = &an->ops[i];
			wr[n_wr].name = an->ops[i].a->name;
			wr[n_wr].name_len = an->ops[i].a->name_len;
			n_wr++;
		}
	if (n_wr == 0)
		return;
	pp_path_top_children(an->w.t0, an->w.t1, wr, n_wr);
	for (i = 0; i < n_wr; i++)
	{
		if (wr[i].child == NULL || !(wr[i].own_ms > 0))
			continue;
		of[i]->facts.top_child_share = Min(1.0, wr[i].child_ms / wr[i].own_ms);
		of[i]->via = wr[i].child;
	}
}

static void
analyze_window(Analysis *an, Datum window)
{
	TimestampTz t0,
				t1;
	PPAgg	  **aggs;
	int			n,
				i;

	memset(an, 0, sizeof(*an));
	pp_window_bounds(window, &t0, &t1);
	/* the window, its paths and its periods compared share their edges */
	pp_window_scan_cache_begin();
	pp_window_read(&an->w, t0, t1, false);
	an->cfg = pp_config_get();
	an->profiles = (double) an->w.root.c.calls;
	an->total_ms = an->w.root.c.sum_ms;
	an->avg_profile_ms = an->profiles > 0 ? an->total_ms / an->profiles : 0;

	aggs = pp_window_sorted(&an->w, &n);
	an->ops = palloc0(sizeof(OpAnalysis) * Max(n, 1));
	for (i = 0; i < n; i++)
		analyze_op(an, &an->ops[i], aggs[i]);
	an->n_ops = n;
	/* the rules (src/core/rules.c), wrappers' children first */
	lookup_children(an);
	for (i = 0; i < n; i++)
		pp_rules_apply(&an->ops[i].facts, &an->ops[i].verdict);
	qsort(an->ops, n, sizeof(OpAnalysis), op_cmp_impact);
}

static void
suggestion_set(Analysis *an, Suggestion *s, OpAnalysis *o, const char *text,
			   const char *effort, const char *source, const char *measure,
			   double reduction_pct, double saving_ms)
{
	s->op = o;
	s->text = text;
	s->effort = effort;
	s->source = source;
	s->measure = measure;
	s->reduction_pct = reduction_pct;
	s->saving_ms = saving_ms;
	s->saving_pct = an->avg_profile_ms > 0 ? 100 * saving_ms / an->avg_profile_ms : 0;
	s->uninstrumented_ms = NAN;
	s->rank = saving_ms / pp_effort_weight(effort);
	s->saving_usd = strcmp(measure, "cost") == 0 && an->profiles > 0 ?
		o->a->c.cost_nusd / PP_NUSD_PER_USD / an->profiles * reduction_pct / 100 : 0;
}

/*
 * The suggestions for one operation; returns how many were written.  A
 * catalogue entry's gain is computed on its measure only: a saving of
 * duration for "duration", none for the others (streaming brings the first
 * token sooner but does not shorten the call ppprof measured); a "cost"
 * entry states its saving of cost (suggestion_set, docs/cost.md).  Those are kept when the operation holds at least
 * MIN_SAVING_PCT of the average profile (error_rate ones when it fails at
 * all) and rank after every saving of time.
 */
static int
suggestions_for(Analysis *an, OpAnalysis *o, Suggestion *out, int max)
{
	int			n = 0;
	int			k;
	double		own_ms = o->self_avg_ms * o->calls_per_profile;	/* per profile */
	double		own_pct = an->avg_profile_ms > 0 ? 100 * own_ms / an->avg_profile_ms : 0;

	if (HAS_PATTERN(o, PP_PATTERN_N_PLUS_ONE) && n < max)
	{
		/* one batched call instead of g: about (g - 1) / g of the calls' time */
		double		g = o->verdict.repeat_group_size;
		double		pct = g > 1 ? 100 * (g - 1) / g : 0;

		suggestion_set(an, &out[n++], o,
					   psprintf("Batch the %.1f calls to %s under one parent into a single call",
								g, o->a->name),
					   "medium", pp_pattern_name(PP_PATTERN_N_PLUS_ONE), "duration", pct,
					   pp_expected_saving_ms(o->self_avg_ms,
											 (double) o->a->c.repeat_calls / Max(an->profiles, 1),
											 pct));
	}
	if (HAS_PATTERN(o, PP_PATTERN_PARALLELIZABLE) && n < max)
	{
		const PPCounters *c = &o->a->c;
		double		per_occurrence = c->parallel_saving_ms / c->parallel_parents;

		/* the saving is wall time of the parent: its share of the parent */
		suggestion_set(an, &out[n++], o,
					   psprintf("Run the children of %s that wait for one another concurrently",
								o->a->name),
					   "medium", pp_pattern_name(PP_PATTERN_PARALLELIZABLE), "duration",
					   o->avg_ms > 0 ? Min(100, 100 * per_occurrence / o->avg_ms) : 0,
					   o->verdict.parallel_saving_per_profile_ms);
	}
	/*
	 * A wrapper listed through its child gets none: the catalogue acts on
	 * its own time, which is not why it is listed; the child gets them.
	 */
	for (k = 0; o->verdict.reason != PP_REASON_CHILD &&
		 k < an->cfg->n_catalog && n < max; k++)
	{
		const PPCatalogEntry *e = &an->cfg->catalog[k];
		pp_measure_t m = pp_measure_parse(e->measure);

		if (strcmp(e->operation_type, o->type) != 0)
			continue;
		suggestion_set(an, &out[n], o, e->suggestion, e->effort, "catalog", e->measure,
					   e->expected_reduction_pct,
					   pp_measure_saving_ms(m, o->self_avg_ms, o->calls_per_profile,
											e->expected_reduction_pct));
		/* an operation with next to no time of its own gains next to nothing */
		if (pp_measure_worth(m, out[n].saving_pct, own_pct, o->a->c.errors,
							 MIN_SAVING_PCT))
			n++;
	}

	/*
	 * Nothing to suggest for a bottleneck by its own time (an operation of
	 * type "other", or of a type without catalogue entries): instrument it
	 * deeper.  It saves nothing by itself; it ranks by the self time per
	 * profile it would break down.
	 */
	if (n == 0 && n < max && o->verdict.reason == PP_REASON_SELF_TIME &&
		own_pct >= MIN_SAVING_PCT)
	{
		suggestion_set(an, &out[n], o,
					   psprintf("Instrument %s deeper: %.1f ms per call (%.1f%% of the profiles' time) is its own, not broken down into child operations",
								o->a->name, o->self_avg_ms, 100 * o->share),
					   "low", "instrument", "duration", 0, 0);
		out[n].uninstrumented_ms = own_ms;
		out[n].rank = own_ms / pp_effort_weight("low");
		n++;
	}
	return n;
}

static int
suggestion_cmp(const void *a, const void *b)
{
	const Suggestion *x = a;
	const Suggestion *y = b;

	if (x->rank != y->rank)
		return x->rank > y->rank ? -1 : 1;
	if (x->op->impact != y->op->impact)
		return x->op->impact > y->op->impact ? -1 : 1;
	return strcmp(x->text, y->text);
}

/* rank_by => 'cost': the saving of cost first, then as by time */
static int
suggestion_cmp_cost(const void *a, const void *b)
{
	const Suggestion *x = a;
	const Suggestion *y = b;

	if (x->saving_usd / pp_effort_weight(x->effort) !=
		y->saving_usd / pp_effort_weight(y->effort))
		return x->saving_usd / pp_effort_weight(x->effort) >
			y->saving_usd / pp_effort_weight(y->effort) ? -1 : 1;
	return suggestion_cmp(a, b);
}

static void
push_suggestion(JsonbParseState **st, Analysis *an, const Suggestion *s,
				bool with_operation)
{
	const char *priority = pp_priority_of(s->op->impact);

	pp_jb_begin_object(st, NULL);
	if (with_operation)
	{
		pp_jb_string_n(st, "operation", s->op->a->name, s->op->a->name_len);
		pp_jb_string(st, "operation_type", s->op->type);
	}
	pp_jb_string(st, "suggestion", s->text);
	pp_jb_string(st, "source", s->source);
	pp_jb_string(st, "measure", s->measure);
	pp_jb_string(st, "priority", priority);
	pp_jb_string(st, "timeline", pp_timeline_of(priority));
	pp_jb_string(st, "effort_estimate", s->effort);
	pp_jb_begin_object(st, "expected_improvement");
	pp_jb_rounded(st, "ms_per_profile", s->saving_ms);
	pp_jb_number(st, "pct_of_avg_profile", round(s->saving_pct * 100) / 100);
	pp_jb_number(st, "operation_reduction_pct", round(s->reduction_pct * 100) / 100);
	if (strcmp(s->measure, "cost") == 0)
		pp_jb_number(st, "cost_usd_per_profile",
					 round(s->saving_usd * PP_NUSD_PER_USD) / PP_NUSD_PER_USD);
	if (!isnan(s->uninstrumented_ms))
		pp_jb_rounded(st, "uninstrumented_ms_per_profile", s->uninstrumented_ms);
	pp_jb_end_object(st);
	pp_jb_end_object(st);
}

static void
push_uuid(JsonbParseState **st, const uint8 *bytes)
{
	pp_jb_string(st, NULL,
				 DatumGetCString(DirectFunctionCall1(uuid_out,
													 UUIDPGetDatum((pg_uuid_t *) bytes))));
}

/* Example profile ids: the reservoir's slowest, else the table's. */
static void
push_examples(JsonbParseState **st, const PPWindow *w, OpAnalysis *o)
{
	pp_reservoir_t *r = pp_shmem_samples(MyDatabaseId, o->a->name, o->a->name_len);
	int			i;

	pp_jb_begin_array(st, "example_profile_ids");
	if (r != NULL && r->nsamples > 0)
	{
		int			n = 0;
		uint32		j;

		/* the reservoir spans the horizon: keep the window's samples */
		pp_reservoir_sort_slowest(r);
		for (j = 0; j < r->nsamples && n < PP_EXAMPLES; j++)
		{
			if (r->samples[j].created_at < w->t0 || r->samples[j].created_at > w->t1)
				continue;
			push_uuid(st, r->samples[j].profile_id);
			n++;
		}
	}
	else
		for (i = 0; i < o->a->n_examples; i++)
			push_uuid(st, o->a->examples[i].data);
	pp_jb_end_array(st);
}

static void
push_pattern(JsonbParseState **st, const PPWindow *w, OpAnalysis *o,
			 pp_pattern_t pattern, bool with_operation)
{
	pp_evidence_t ev[PP_EVIDENCE_MAX];
	int			n = pp_pattern_evidence(pattern, &o->facts, &o->verdict, ev);
	int			k;

	pp_jb_begin_object(st, NULL);
	pp_jb_string(st, "pattern", pp_pattern_name(pattern));
	if (with_operation)
	{
		pp_jb_string_n(st, "operation", o->a->name, o->a->name_len);
		pp_jb_string(st, "operation_type", o->type);
	}
	pp_jb_begin_object(st, "evidence");
	for (k = 0; k < n; k++)
	{
		switch (ev[k].kind)
		{
			case PP_EVIDENCE_COUNT:
				pp_jb_int(st, ev[k].key, ev[k].count);
				break;
			case PP_EVIDENCE_MS:
				pp_jb_rounded(st, ev[k].key, ev[k].value);
				break;
			case PP_EVIDENCE_NUMBER:
				pp_jb_number(st, ev[k].key, ev[k].value);
				break;
		}
	}
	pp_jb_end_object(st);
	push_examples(st, w, o);
	pp_jb_end_object(st);
}

/* An operation's patterns, in the rules' order. */
static int
patterns_of(const OpAnalysis *o, pp_pattern_t *patterns)
{
	int			n = 0;
	int			p;

	for (p = 0; p < PP_N_PATTERNS; p++)
		if (HAS_PATTERN(o, p))
			patterns[n++] = (pp_pattern_t) p;
	return n;
}

#define MAX_SUGGESTIONS_PER_OP 16

/* Most self time first, then by name */
static int
op_cmp_self(const void *a, const void *b)
{
	const OpAnalysis *x = *(OpAnalysis *const *) a;
	const OpAnalysis *y = *(OpAnalysis *const *) b;

	if (x->a->c.self_sum_ms != y->a->c.self_sum_ms)
		return x->a->c.self_sum_ms > y->a->c.self_sum_ms ? -1 : 1;
	return strcmp(x->a->name, y->a->name);
}

static void
push_share(JsonbParseState **st, const PPAgg *a, const char *type, double total_self)
{
	pp_jb_begin_object(st, NULL);
	pp_jb_string_n(st, "operation", a->name, a->name_len);
	pp_jb_string(st, "operation_type", type);
	pp_jb_int(st, "calls", a->c.calls);
	pp_jb_rounded(st, "self_ms", a->c.self_sum_ms);
	pp_jb_number(st, "share", total_self > 0 ?
				 round(a->c.self_sum_ms / total_self * 10000) / 10000 : 0);
	pp_jb_rounded(st, "avg_ms", a->c.sum_ms / a->c.calls);
	pp_jb_rounded(st, "p95_ms", pp_agg_quantile(a, 0.95));
	pp_jb_end_object(st);
}

/*
 * Where the time goes: every operation by its summed self time, so that a
 * wrapper does not count its children's time again; the fold row last.
 */
static void
push_time_share(JsonbParseState **st, Analysis *an)
{
	OpAnalysis **by_self = palloc(sizeof(OpAnalysis *) * Max(an->n_ops, 1));
	double		total_self = an->w.other.c.self_sum_ms;
	int			i;

	for (i = 0; i < an->n_ops; i++)
	{
		by_self[i] = &an->ops[i];
		total_self += an->ops[i].a->c.self_sum_ms;
	}
	qsort(by_self, an->n_ops, sizeof(OpAnalysis *), op_cmp_self);
	pp_jb_begin_array(st, "time_share");
	for (i = 0; i < an->n_ops; i++)
		push_share(st, by_self[i]->a, by_self[i]->type, total_self);
	if (an->w.other.c.calls > 0)
		push_share(st, &an->w.other, PP_FOLD_TYPE, total_self);
	pp_jb_end_array(st);
}

/* rank_by => 'cost': the bottlenecks by their cost, then by impact */
static int
op_cmp_cost(const void *a, const void *b)
{
	const OpAnalysis *x = *(OpAnalysis *const *) a;
	const OpAnalysis *y = *(OpAnalysis *const *) b;

	if (x->a->c.cost_nusd != y->a->c.cost_nusd)
		return x->a->c.cost_nusd > y->a->c.cost_nusd ? -1 : 1;
	return op_cmp_impact(x, y);
}

/*
 * pp_optimization_report(window interval DEFAULT '24 hours',
 *                        baseline text DEFAULT NULL,
 *                        rank_by text DEFAULT 'time') RETURNS jsonb
 *
 * NULL for a NULL window.  rank_by 'cost' orders the bottlenecks by their
 * cost in the window and the priorities by the cost they save.
 */
Datum
pp_optimization_report(PG_FUNCTION_ARGS)
{
	Analysis	an;
	JsonbParseState *st = NULL;
	Suggestion *all;
	int			n_all = 0;
	int			i,
				k;
	PPAgg	   *root;
	char	   *window_text;
	char	   *baseline;
	char	   *rank_by;
	bool		by_cost;
	OpAnalysis **order;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	baseline = PG_ARGISNULL(1) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(1));
	rank_by = PG_ARGISNULL(2) ? "time" : text_to_cstring(PG_GETARG_TEXT_PP(2));
	if (strcmp(rank_by, "time") != 0 && strcmp(rank_by, "cost") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("rank_by must be \"time\" or \"cost\""),
				 errhint("Pass rank_by => 'cost' to rank by cost, or leave it out.")));
	by_cost = strcmp(rank_by, "cost") == 0;
	analyze_window(&an, PG_GETARG_DATUM(0));
	root = &an.w.root;
	window_text = DatumGetCString(DirectFunctionCall1(interval_out, PG_GETARG_DATUM(0)));
	all = palloc(sizeof(Suggestion) * (an.n_ops * MAX_SUGGESTIONS_PER_OP + 1));

	pp_jb_begin_object(&st, NULL);

	/* what changed, then where the time goes (docs/report.md's order) */
	pp_report_changes(&st, an.cfg, &an.w, baseline);
	pp_window_scan_cache_end();
	push_time_share(&st, &an);

	pp_jb_begin_object(&st, "summary");
	pp_jb_int(&st, "total_profiled_queries", root->c.calls);
	pp_jb_rounded(&st, "avg_query_duration_ms", root->c.calls > 0 ? an.avg_profile_ms : 0);
	pp_jb_rounded(&st, "p50_ms", root->c.calls > 0 ? pp_agg_quantile(root, 0.50) : 0);
	pp_jb_rounded(&st, "p95_ms", root->c.calls > 0 ? pp_agg_quantile(root, 0.95) : 0);
	pp_jb_rounded(&st, "p99_ms", root->c.calls > 0 ? pp_agg_quantile(root, 0.99) : 0);
	pp_jb_number(&st, "error_rate", root->c.calls > 0 ?
				 round((double) root->c.errors / root->c.calls * 10000) / 10000 : 0);
	/* exact sums of the nodes' usage (docs/cost.md) */
	pp_jb_int(&st, "input_tokens", root->c.input_tokens);
	pp_jb_int(&st, "output_tokens", root->c.output_tokens);
	pp_jb_number(&st, "total_cost_usd", root->c.cost_nusd / PP_NUSD_PER_USD);
	pp_jb_number(&st, "cost_per_profile_usd", root->c.calls > 0 ?
				 round((double) root->c.cost_nusd / root->c.calls) / PP_NUSD_PER_USD : 0);
	pp_jb_string(&st, "window", window_text);
	pp_jb_time(&st, "window_start", an.w.t0);
	pp_jb_time(&st, "generated_at", GetCurrentTransactionStartTimestamp());
	pp_jb_int(&st, "operations", an.n_ops);
	/* beyond ppprof.max_window_operations: counted, not analysed */
	if (an.w.other.c.calls > 0)
		pp_jb_int(&st, "folded_calls", an.w.other.c.calls);
	pp_jb_string(&st, "source", an.w.from_table ? "table" :
				 an.w.from_rollups ? "rollups" : "shared memory");
	pp_jb_string(&st, "ranked_by", rank_by);
	pp_jb_end_object(&st);

	order = palloc(sizeof(OpAnalysis *) * (an.n_ops + 1));
	for (i = 0; i < an.n_ops; i++)
		order[i] = &an.ops[i];
	if (by_cost)
		qsort(order, an.n_ops, sizeof(OpAnalysis *), op_cmp_cost);
	pp_jb_begin_array(&st, "top_bottlenecks");
	for (i = 0; i < an.n_ops; i++)
	{
		OpAnalysis *o = order[i];
		pp_pattern_t pats[PP_N_PATTERNS];
		int			np = patterns_of(o, pats);
		Suggestion	own[MAX_SUGGESTIONS_PER_OP];
		int			ns;

		if (!o->verdict.bottleneck)
			continue;
		ns = suggestions_for(&an, o, own, MAX_SUGGESTIONS_PER_OP);
		pp_jb_begin_object(&st, NULL);
		pp_jb_string_n(&st, "operation", o->a->name, o->a->name_len);
		pp_jb_string(&st, "operation_type", o->type);
		pp_jb_string(&st, "reason", pp_reason_name(o->verdict.reason));
		if (o->verdict.reason == PP_REASON_CHILD)
			pp_jb_string(&st, "via", o->via);
		pp_jb_number(&st, "impact_score", round(o->impact * 10) / 10);
		pp_jb_string(&st, "priority", pp_priority_of(o->impact));
		pp_jb_number(&st, "cost_usd", o->a->c.cost_nusd / PP_NUSD_PER_USD);
		pp_jb_int(&st, "calls", o->a->c.calls);
		pp_jb_rounded(&st, "avg_ms", o->avg_ms);
		pp_jb_rounded(&st, "p95_ms", o->p95_ms);
		pp_jb_rounded(&st, "p99_ms", o->p99_ms);
		pp_jb_rounded(&st, "threshold_ms", o->threshold_ms);
		pp_jb_number(&st, "share_of_total_pct", round(o->share * 10000) / 100);
		pp_jb_rounded(&st, "self_ms", o->self_avg_ms);
		pp_jb_number(&st, "error_rate", round(o->error_rate * 10000) / 10000);
		pp_jb_begin_array(&st, "patterns");
		for (k = 0; k < np; k++)
			pp_jb_string(&st, NULL, pp_pattern_name(pats[k]));
		pp_jb_end_array(&st);
		pp_jb_begin_array(&st, "optimizations");
		for (k = 0; k < ns; k++)
		{
			push_suggestion(&st, &an, &own[k], false);
			all[n_all++] = own[k];
		}
		pp_jb_end_array(&st);
		pp_jb_end_object(&st);
	}
	pp_jb_end_array(&st);

	qsort(all, n_all, sizeof(Suggestion), by_cost ? suggestion_cmp_cost : suggestion_cmp);
	pp_jb_begin_array(&st, "optimization_priorities");
	for (i = 0; i < n_all && i < MAX_PRIORITIES; i++)
		push_suggestion(&st, &an, &all[i], true);
	pp_jb_end_array(&st);

	pp_jb_begin_array(&st, "patterns");
	for (i = 0; i < an.n_ops; i++)
	{
		pp_pattern_t pats[PP_N_PATTERNS];
		int			np = patterns_of(&an.ops[i], pats);

		for (k = 0; k < np; k++)
			push_pattern(&st, &an.w, &an.ops[i], pats[k], true);
	}
	pp_jb_end_array(&st);

	PG_RETURN_JSONB_P(pp_jb_finish(&st, true));
}

/* The optimizations of one operation as a jsonb array. */
static Jsonb *
optimizations_jsonb(Analysis *an, OpAnalysis *o)
{
	JsonbParseState *st = NULL;
	Suggestion	own[MAX_SUGGESTIONS_PER_OP];
	int			ns = suggestions_for(an, o, own, MAX_SUGGESTIONS_PER_OP);
	int			k;

	pp_jb_begin_array(&st, NULL);
	for (k = 0; k < ns; k++)
		push_suggestion(&st, an, &own[k], false);
	return pp_jb_finish(&st, false);
}

/*
 * pp_bottlenecks(window interval DEFAULT '24 hours') RETURNS TABLE (...):
 * the report's top_bottlenecks as rows, reason and via last.
 */
Datum
pp_bottlenecks(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Analysis	an;
	int			i;

	InitMaterializedSRF(fcinfo, 0);
	analyze_window(&an, PG_GETARG_DATUM(0));
	pp_window_scan_cache_end();
	for (i = 0; i < an.n_ops; i++)
	{
		OpAnalysis *o = &an.ops[i];
		pp_pattern_t pats[PP_N_PATTERNS];
		Datum		pattern_datums[PP_N_PATTERNS];
		int			np,
					k;
		Datum		values[15];
		bool		nulls[15] = {false};

		if (!o->verdict.bottleneck)
			continue;
		np = patterns_of(o, pats);
		for (k = 0; k < np; k++)
			pattern_datums[k] = CStringGetTextDatum(pp_pattern_name(pats[k]));
		values[0] = PointerGetDatum(cstring_to_text_with_len(o->a->name, o->a->name_len));
		values[1] = CStringGetTextDatum(o->type);
		values[2] = Float8GetDatum(round(o->impact * 10) / 10);
		values[3] = CStringGetTextDatum(pp_priority_of(o->impact));
		values[4] = Int64GetDatum(o->a->c.calls);
		values[5] = Float8GetDatum(o->avg_ms);
		values[6] = Float8GetDatum(o->p95_ms);
		values[7] = Float8GetDatum(o->p99_ms);
		if (isnan(o->threshold_ms))
			nulls[8] = true;
		else
			values[8] = Float8GetDatum(o->threshold_ms);
		values[9] = Float8GetDatum(100 * o->share);
		values[10] = Float8GetDatum(o->self_avg_ms);
		values[11] = PointerGetDatum(construct_array(pattern_datums, np, TEXTOID, -1, false, TYPALIGN_INT));
		values[12] = JsonbPGetDatum(optimizations_jsonb(&an, o));
		values[13] = CStringGetTextDatum(pp_reason_name(o->verdict.reason));
		if (o->verdict.reason == PP_REASON_CHILD)
			values[14] = CStringGetTextDatum(o->via);
		else
			nulls[14] = true;
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/*
 * pp_detect_bottlenecks(window interval DEFAULT '1 hour') RETURNS integer:
 * one row per bottleneck into performance_bottlenecks; the job to schedule.
 */
Datum
pp_detect_bottlenecks(PG_FUNCTION_ARGS)
{
	Analysis	an;
	StringInfoData q;
	SPIPlanPtr	plan;
	Oid			argtypes[8] = {TEXTOID, TEXTOID, FLOAT8OID, FLOAT8OID, FLOAT8OID,
	INT4OID, FLOAT8OID, JSONBOID};
	int			inserted = 0;
	int			i;
	PPSavedUser saved;

	analyze_window(&an, PG_GETARG_DATUM(0));
	pp_window_scan_cache_end();

	initStringInfo(&q);
	appendStringInfo(&q,
					 "INSERT INTO %s.performance_bottlenecks (operation, operation_type,"
					 " avg_duration_ms, p95_duration_ms, p99_duration_ms, occurrence_count,"
					 " impact_score, suggested_optimizations)"
					 " VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
					 quote_identifier(get_namespace_name(an.cfg->schema)));
	pp_spi_connect_as(InvalidOid, &saved);
	plan = SPI_prepare(q.data, 8, argtypes);
	if (plan == NULL)
		elog(ERROR, "ppprof: SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
	for (i = 0; i < an.n_ops; i++)
	{
		OpAnalysis *o = &an.ops[i];
		Datum		values[8];

		if (!o->verdict.bottleneck)
			continue;
		values[0] = PointerGetDatum(cstring_to_text_with_len(o->a->name, o->a->name_len));
		values[1] = CStringGetTextDatum(o->type);
		values[2] = Float8GetDatum(o->avg_ms);
		values[3] = Float8GetDatum(o->p95_ms);
		values[4] = Float8GetDatum(o->p99_ms);
		values[5] = Int32GetDatum((int32) Min(o->a->c.calls, PG_INT32_MAX));
		values[6] = Float8GetDatum(round(o->impact * 10) / 10);
		values[7] = JsonbPGetDatum(optimizations_jsonb(&an, o));
		if (SPI_execute_plan(plan, values, NULL, false, 0) != SPI_OK_INSERT)
			elog(ERROR, "ppprof: could not insert into performance_bottlenecks");
		inserted++;
	}
	pp_spi_finish_as(&saved);
	PG_RETURN_INT32(inserted);
}
