/*-------------------------------------------------------------------------
 *
 * src/core/changes.c
 *	  What changed between two periods, per operation and measure: the
 *	  minimum effects, the tests that go with them and the order of the
 *	  report's `changes`.
 *
 * A change is reported when it is both large enough to matter and unlikely
 * to be noise:
 *
 *	p95         after / before >= 1.25 or <= 1 / 1.25, and the durations
 *	            moved the same way by the duration test (Mann-Whitney on the
 *	            two sketches; against a baseline, which kept no sketch, the
 *	            exceedance test: how many calls now lie above the baseline's
 *	            p95, where 5% would under no change)
 *	error_rate  |after - before| >= 0.02, two-proportion z test
 *	time_share  |after - before| >= 0.05 of all self time, and the
 *	            operation's calls got slower (duration test) or more
 *	            frequent per profile (conditional binomial test on the call
 *	            counts given the profiles of each side), in the direction of
 *	            the change; a share that moved only because other operations
 *	            changed is theirs to report
 *
 * Each side needs 30 calls; every test is two-sided at 0.01 (about ten
 * operations times three measures are tried per report, so 0.05 would flag
 * one in a few reports by chance).  The strength of a change is its effect
 * over its minimum (log ratio over log 1.25 for p95), so that changes of
 * different measures order on one scale.
 *
 * No PostgreSQL headers; nothing allocates.
 *
 *-------------------------------------------------------------------------
 */
#include "changes.h"
#include "trend.h"

#include <math.h>

static const char *const measure_names[PP_N_CHANGE_MEASURES] = {
	[PP_CHANGE_P95] = "p95_ms",
	[PP_CHANGE_ERROR_RATE] = "error_rate",
	[PP_CHANGE_TIME_SHARE] = "time_share",
};

const char *
pp_change_measure_name(pp_change_measure_t measure)
{
	if ((int) measure < 0 || measure >= PP_N_CHANGE_MEASURES)
		return NULL;
	return measure_names[measure];
}

double
pp_two_proportion_p(int64_t x1, int64_t n1, int64_t x2, int64_t n2)
{
	double		p,
				se;

	if (n1 <= 0 || n2 <= 0)
		return 1.0;
	p = (double) (x1 + x2) / (double) (n1 + n2);
	se = sqrt(p * (1 - p) * (1.0 / n1 + 1.0 / n2));
	if (!(se > 0))
		return 1.0;
	return pp_normal_two_sided_p(((double) x2 / n2 - (double) x1 / n1) / se);
}

void
pp_exceedance_test(uint64_t above, uint64_t n, double q, double *z, double *p)
{
	double		se;

	*z = 0;
	*p = 1;
	if (n == 0 || !(q > 0 && q < 1))
		return;
	se = sqrt(q * (1 - q) / (double) n);
	*z = ((double) above / (double) n - q) / se;
	*p = pp_normal_two_sided_p(*z);
}

/*
 * Calls per profile: given calls_b + calls_a calls over profiles_b +
 * profiles_a profiles at one rate, calls_a is binomial with the after
 * side's share of the profiles.  z > 0 when the after side calls more.
 */
static void
calls_rate_test(const pp_change_side_t *b, const pp_change_side_t *a,
				double *z, double *p)
{
	double		total = (double) (b->calls + a->calls);
	double		pi,
				se;

	*z = NAN;
	*p = NAN;
	if (!(b->profiles > 0 && a->profiles > 0) || total <= 0)
		return;
	pi = a->profiles / (a->profiles + b->profiles);
	se = sqrt(total * pi * (1 - pi));
	if (!(se > 0))
		return;
	*z = ((double) a->calls - total * pi) / se;
	*p = pp_normal_two_sided_p(*z);
}

/*
 * The effect reaches its minimum: strength >= 1, give or take the last
 * bits of the subtraction (0.03 - 0.01 is 0.019999999999999997).
 */
static bool
reaches(double strength)
{
	return strength >= 1 - 1e-9;
}

/* The test went the way of the effect (sign > 0: up) and rejected. */
static bool
rejects(double z, double p, double sign)
{
	return !isnan(p) && p < PP_CHANGE_ALPHA && z * sign > 0;
}

bool
pp_change_judge(const pp_change_input_t *in, pp_change_measure_t measure,
				pp_change_t *out)
{
	const pp_change_side_t *b = &in->before;
	const pp_change_side_t *a = &in->after;
	bool		enough = b->calls >= PP_CHANGE_MIN_CALLS && a->calls >= PP_CHANGE_MIN_CALLS;
	double		effect;

	out->measure = measure;
	out->before = out->after = out->change = NAN;
	out->p = NAN;
	out->strength = 0;

	switch (measure)
	{
		case PP_CHANGE_P95:
			out->before = b->p95_ms;
			out->after = a->p95_ms;
			if (!(b->p95_ms > 0) || !isfinite(b->p95_ms) || !isfinite(a->p95_ms))
				return false;
			out->change = a->p95_ms / b->p95_ms;
			out->p = in->duration_p;
			if (!(out->change > 0))
				return false;
			out->strength = fabs(log(out->change)) / log(PP_CHANGE_P95_RATIO);
			return enough && reaches(out->strength) &&
				rejects(in->duration_z, in->duration_p, out->change - 1);

		case PP_CHANGE_ERROR_RATE:
			if (b->calls <= 0 || a->calls <= 0)
				return false;
			out->before = (double) b->errors / b->calls;
			out->after = (double) a->errors / a->calls;
			out->change = out->after - out->before;
			out->p = pp_two_proportion_p(b->errors, b->calls, a->errors, a->calls);
			out->strength = fabs(out->change) / PP_CHANGE_ERROR_DELTA;
			return enough && reaches(out->strength) && out->p < PP_CHANGE_ALPHA;

		case PP_CHANGE_TIME_SHARE:
			{
				double		cz,
							cp;
				double		ratio;

				out->before = b->share;
				out->after = a->share;
				if (!isfinite(b->share) || !isfinite(a->share))
					return false;
				out->change = effect = a->share - b->share;
				out->strength = fabs(effect) / PP_CHANGE_SHARE_DELTA;
				if (!enough || !reaches(out->strength))
					return false;
				if (rejects(in->duration_z, in->duration_p, effect))
				{
					out->p = in->duration_p;
					return true;
				}
				/* more (or fewer) calls per profile, by enough, and not by chance */
				calls_rate_test(b, a, &cz, &cp);
				out->p = cp;
				ratio = (a->calls / a->profiles) / (b->calls / b->profiles);
				return rejects(cz, cp, effect) &&
					(effect > 0 ? ratio >= PP_CHANGE_CALLS_RATIO - 1e-9 :
					 ratio <= 1 / PP_CHANGE_CALLS_RATIO + 1e-9);
			}

		case PP_N_CHANGE_MEASURES:
			break;
	}
	return false;
}

int
pp_change_cmp(const pp_change_t *a, const pp_change_t *b)
{
	if (a->strength != b->strength)
		return a->strength > b->strength ? -1 : 1;
	if (a->measure != b->measure)
		return a->measure < b->measure ? -1 : 1;
	return 0;
}
