/*-------------------------------------------------------------------------
 *
 * src/core/trend.h
 *	  Robust trend of a time series: the Theil-Sen line, the Mann-Kendall
 *	  test, and the two-sided normal p-value that these and the sketch's
 *	  Mann-Whitney test share; the median and the sample variance.
 *
 * The caller passes clean arrays: points whose value is missing (NaN) are
 * skipped before the call.  x is time (days, as a double), y the value.
 *
 * No PostgreSQL headers; allocation through pp_allocator_t.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PP_TREND_H
#define PP_TREND_H

#include "pp_core.h"

typedef struct pp_mann_kendall_t
{
	int			n;				/* points in the series */
	int64_t		s;				/* sum over i < j of sign(y_j - y_i) */
	double		var_s;			/* variance of s under no trend, with the
								 * tie correction; 0 when every y ties */
	double		z;				/* (s -/+ 1) / sqrt(var_s); 0 when s = 0,
								 * var_s = 0 or n < 3 */
	double		p;				/* two-sided p-value of z; 1 when n < 3 */
	double		tau;			/* Kendall's tau-a: s / (n (n - 1) / 2), in
								 * -1..1; 0 when n < 2 */
} pp_mann_kendall_t;

/*
 * Two-sided p-value of a standard normal statistic: P(|Z| >= |z|) =
 * erfc(|z| / sqrt(2)).  1 for z = 0, NaN for NaN.
 */
extern double pp_normal_two_sided_p(double z);

/*
 * Median of a[0 .. m-1] (m >= 1, no NaN), by selection in expected O(m);
 * the mean of the two middle values when m is even.  Reorders a.
 */
extern double pp_median(double *a, size_t m);

/*
 * Unbiased sample variance of n values from their sum and sum of squares,
 * as SQL's var_samp(): NaN for fewer than two values, never below 0.
 */
extern double pp_sample_variance(int64_t n, double sum, double sumsq);

/*
 * Theil-Sen line through (x[i], y[i]), i < n: *slope is the median of the
 * pairwise slopes (y_j - y_i) / (x_j - x_i) over the pairs with x_j != x_i,
 * *intercept the median of y_i - *slope * x_i (medians of an even count are
 * the mean of the two middle values).  Up to 29% of the points can be
 * arbitrary without carrying the slope away.  O(n^2) time and memory (one
 * double per pair, through allocator; NULL means malloc).
 *
 * Returns PP_OK; PP_ERR_MISSING when n < 2 or no two x differ;
 * PP_ERR_INVALID_VALUE when an x or y is not finite; PP_ERR_OUT_OF_RANGE
 * when the slope or intercept overflows a double; PP_ERR_NO_MEMORY when the
 * allocator fails.  *slope and *intercept are NaN unless PP_OK.
 */
extern pp_error_code_t pp_theil_sen(const double *x, const double *y, int n,
									const pp_allocator_t *allocator,
									double *slope, double *intercept);

/*
 * Mann-Kendall test for a monotonic trend of y[0 .. n-1], in time order.
 * var_s = [n(n-1)(2n+5) - sum over groups of t tied values of
 * t(t-1)(2t+5)] / 18; z has the continuity correction; p = erfc(|z| /
 * sqrt(2)).  O(n^2) time; the tie count sorts a copy of y (n doubles,
 * through allocator; NULL means malloc).
 *
 * Returns PP_OK (n < 2 included: s = 0, p = 1); PP_ERR_INVALID_VALUE when a
 * y is NaN (infinities are ordered and allowed); PP_ERR_NO_MEMORY when the
 * allocator fails.  *out is filled as for an empty series unless PP_OK.
 */
extern pp_error_code_t pp_mann_kendall(const double *y, int n,
									   const pp_allocator_t *allocator,
									   pp_mann_kendall_t *out);

#endif							/* PP_TREND_H */
