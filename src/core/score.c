/*-------------------------------------------------------------------------
 *
 * src/core/score.c
 *	  The impact score of an operation, its priority and expected gains.
 *
 * impact = 100 * (0.40 share + 0.25 slowness + 0.15 variance
 *                 + 0.15 errors + 0.05 frequency), each part clamped to 0..1:
 *
 *	share      2 * (self time / total profile time): an operation holding half
 *	           the time of the profiles scores fully.  Self time, so a parent
 *	           slow only because of a child is not blamed for it.
 *	slowness   (p95 / threshold - 1) / 3: p95 at four times its threshold
 *	           scores fully; an operation without a threshold scores 0.
 *	variance   (p99 / p50 - 1) / 9: a p99 ten times the median scores fully.
 *	errors     5 * error rate: one call in five failing scores fully.
 *	frequency  calls per profile: an operation in every profile scores
 *	           fully.
 *
 * Every part rises with its input and the weights sum to 1, so the score
 * stays in 0..100 and rises with each input.
 *
 * A suggestion's gain is computed on the measure it improves only: a
 * duration saves self_avg_ms x calls_per_profile x reduction_pct / 100 per
 * profile (Amdahl: only the operation's own time shrinks); time to first
 * token, cost and error rate save no measured milliseconds.
 *
 * No PostgreSQL headers.
 *
 *-------------------------------------------------------------------------
 */
#include "score.h"

#include <math.h>
#include <string.h>

static double
clamp01(double x)
{
	if (!isfinite(x) || x <= 0)
		return isinf(x) && x > 0 ? 1 : 0;
	return x >= 1 ? 1 : x;
}

double
pp_impact_score(const pp_impact_input_t *in, pp_impact_parts_t *parts)
{
	pp_impact_parts_t p;

	p.share = clamp01(2 * in->share);
	p.slowness = (isfinite(in->threshold_ms) && in->threshold_ms > 0 && isfinite(in->p95_ms))
		? clamp01((in->p95_ms / in->threshold_ms - 1) / 3) : 0;
	p.variance = (isfinite(in->p50_ms) && in->p50_ms > 0 && isfinite(in->p99_ms))
		? clamp01((in->p99_ms / in->p50_ms - 1) / 9) : 0;
	p.errors = clamp01(5 * in->error_rate);
	p.frequency = clamp01(in->calls_per_profile);
	if (parts)
		*parts = p;
	return 100 * (0.40 * p.share + 0.25 * p.slowness + 0.15 * p.variance +
				  0.15 * p.errors + 0.05 * p.frequency);
}

const char *
pp_priority_of(double impact)
{
	if (impact >= 70)
		return "critical";
	if (impact >= 45)
		return "high";
	if (impact >= 20)
		return "medium";
	return "low";
}

const char *
pp_timeline_of(const char *priority)
{
	if (strcmp(priority, "critical") == 0)
		return "immediate: this week";
	if (strcmp(priority, "high") == 0)
		return "short term: this sprint";
	if (strcmp(priority, "medium") == 0)
		return "medium term: this quarter";
	return "backlog";
}

int
pp_effort_weight(const char *effort)
{
	if (effort != NULL && strcmp(effort, "low") == 0)
		return 1;
	if (effort != NULL && strcmp(effort, "high") == 0)
		return 3;
	return 2;
}

double
pp_expected_saving_ms(double self_avg_ms, double calls_per_profile,
					  double reduction_pct)
{
	double		s = self_avg_ms * calls_per_profile * reduction_pct / 100;

	return isfinite(s) && s > 0 ? s : 0;
}

pp_measure_t
pp_measure_parse(const char *name)
{
	static const char *const names[] = {
		[PP_MEASURE_DURATION] = "duration",
		[PP_MEASURE_TIME_TO_FIRST_TOKEN] = "time_to_first_token",
		[PP_MEASURE_COST] = "cost",
		[PP_MEASURE_ERROR_RATE] = "error_rate",
	};
	int			m;

	for (m = 0; name != NULL && m < PP_MEASURE_UNKNOWN; m++)
		if (strcmp(name, names[m]) == 0)
			return (pp_measure_t) m;
	return PP_MEASURE_UNKNOWN;
}

double
pp_measure_saving_ms(pp_measure_t measure, double self_avg_ms,
					 double calls_per_profile, double reduction_pct)
{
	if (measure != PP_MEASURE_DURATION)
		return 0;
	return pp_expected_saving_ms(self_avg_ms, calls_per_profile, reduction_pct);
}

bool
pp_measure_worth(pp_measure_t measure, double saving_pct, double own_pct,
				 int64_t errors, double min_pct)
{
	switch (measure)
	{
		case PP_MEASURE_DURATION:
			return saving_pct >= min_pct;
		case PP_MEASURE_ERROR_RATE:
			return errors > 0;
		case PP_MEASURE_TIME_TO_FIRST_TOKEN:
		case PP_MEASURE_COST:
			return own_pct >= min_pct;
		case PP_MEASURE_UNKNOWN:
			break;
	}
	return false;
}
