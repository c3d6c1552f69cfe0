/*-------------------------------------------------------------------------
 *
 * src/core/trend.c
 *	  Robust trend of a time series (Theil-Sen line, Mann-Kendall test), the
 *	  two-sided normal p-value, and the median and sample variance the glue
 *	  shares with them.
 *
 * Theil-Sen.  The slope is the median of all pairwise slopes, so a wild
 * point only moves the n - 1 slopes it takes part in; the breakdown point
 * is 1 - 1/sqrt(2), about 29% of the points.  The pairwise slopes are kept
 * in one array (n (n - 1) / 2 doubles: 36 MB for n = 3000) and the median
 * is found by selection, not sorting: Hoare's FIND, expected O(pairs), with
 * a partition budget of about 2 log2(pairs) after which the remaining range
 * is sorted, so the worst case stays O(pairs log pairs) whatever the order.
 *
 * Mann-Kendall.  S = sum over i < j of sign(y_j - y_i) is computed pair by
 * pair (O(n^2), a few million comparisons for a few thousand points, no
 * allocation); only the tie groups, which correct the variance, need a
 * sorted copy.  Under no trend, S is approximately normal with mean 0 and
 * the variance in trend.h; z moves S one unit toward 0 (continuity
 * correction) before dividing by its standard deviation.
 *
 * No PostgreSQL headers; allocation through pp_allocator_t.
 *
 *-------------------------------------------------------------------------
 */
#include "trend.h"

#include <math.h>
#include <stdlib.h>

#define SQRT1_2		0.70710678118654752440	/* 1 / sqrt(2) */

double
pp_normal_two_sided_p(double z)
{
	return erfc(fabs(z) * SQRT1_2);
}

double
pp_sample_variance(int64_t n, double sum, double sumsq)
{
	double		mean;
	double		var;

	if (n < 2)
		return NAN;
	mean = sum / n;
	var = (sumsq - mean * sum) / (n - 1);
	return var > 0 ? var : 0;
}

/* qsort order of doubles; the callers never pass NaN */
static int
cmp_double(const void *a, const void *b)
{
	double		x = *(const double *) a;
	double		y = *(const double *) b;

	return (x > y) - (x < y);
}

/*
 * Rearrange a[0 .. m-1] (m >= 1, no NaN) so that a[k] is its k-th smallest
 * value (0-based), nothing before a[k] is larger and nothing after it is
 * smaller; return a[k].  Hoare partitions around the middle element of the
 * range still holding k; once the budget of partitions is spent (only an
 * adversarial order gets there) the remaining range is sorted instead.
 */
static double
select_kth(double *a, size_t m, size_t k)
{
	ptrdiff_t	lo = 0;
	ptrdiff_t	hi = (ptrdiff_t) m - 1;
	ptrdiff_t	kk = (ptrdiff_t) k;
	int			budget = 8;
	size_t		t;

	for (t = m; t > 1; t >>= 1)
		budget += 2;

	while (lo < hi)
	{
		double		pivot = a[lo + (hi - lo) / 2];
		ptrdiff_t	i = lo;
		ptrdiff_t	j = hi;

		if (budget-- == 0)
		{
			qsort(a + lo, (size_t) (hi - lo + 1), sizeof(double), cmp_double);
			break;
		}
		/* afterwards a[lo..j] <= pivot, a[i..hi] >= pivot, between: pivot */
		while (i <= j)
		{
			while (a[i] < pivot)
				i++;
			while (pivot < a[j])
				j--;
			if (i <= j)
			{
				double		swap = a[i];

				a[i++] = a[j];
				a[j--] = swap;
			}
		}
		if (j < kk)
			lo = i;
		if (kk < i)
			hi = j;
	}
	return a[k];
}

double
pp_median(double *a, size_t m)
{
	size_t		k = m / 2;
	double		upper = select_kth(a, m, k);
	double		lower;
	size_t		i;

	if (m % 2 == 1)
		return upper;
	/* a[0 .. k-1] holds the k smallest values: the lower middle is theirs */
	lower = a[0];
	for (i = 1; i < k; i++)
	{
		if (a[i] > lower)
			lower = a[i];
	}
	return 0.5 * lower + 0.5 * upper;
}

pp_error_code_t
pp_theil_sen(const double *x, const double *y, int n,
			 const pp_allocator_t *allocator,
			 double *slope, double *intercept)
{
	uint64_t	npairs;
	size_t		len;
	double	   *buf;
	size_t		m = 0;
	double		b;
	double		c;
	int			i;
	int			j;

	*slope = NAN;
	*intercept = NAN;
	for (i = 0; i < n; i++)
	{
		if (!isfinite(x[i]) || !isfinite(y[i]))
			return PP_ERR_INVALID_VALUE;
	}
	if (n < 2)
		return PP_ERR_MISSING;

	/* one buffer: the pairwise slopes, then the n intercepts */
	npairs = (uint64_t) n * (uint64_t) (n - 1) / 2;
	if (npairs > SIZE_MAX / sizeof(double))
		return PP_ERR_NO_MEMORY;
	len = npairs > (uint64_t) n ? (size_t) npairs : (size_t) n;
	buf = pp_alloc(allocator, len * sizeof(double));
	if (buf == NULL)
		return PP_ERR_NO_MEMORY;

	for (i = 0; i < n; i++)
	{
		for (j = i + 1; j < n; j++)
		{
			double		s;

			if (x[j] == x[i])
				continue;
			s = (y[j] - y[i]) / (x[j] - x[i]);
			if (isnan(s))
			{
				/* both differences overflowed: inf / inf */
				pp_free(allocator, buf);
				return PP_ERR_OUT_OF_RANGE;
			}
			buf[m++] = s;
		}
	}
	if (m == 0)
	{
		pp_free(allocator, buf);
		return PP_ERR_MISSING;
	}
	b = pp_median(buf, m);
	if (!isfinite(b))
	{
		pp_free(allocator, buf);
		return PP_ERR_OUT_OF_RANGE;
	}

	/* b and x[i] finite, so y[i] - b * x[i] is never NaN */
	for (i = 0; i < n; i++)
		buf[i] = y[i] - b * x[i];
	c = pp_median(buf, (size_t) n);
	pp_free(allocator, buf);
	if (!isfinite(c))
		return PP_ERR_OUT_OF_RANGE;

	*slope = b;
	*intercept = c;
	return PP_OK;
}

pp_error_code_t
pp_mann_kendall(const double *y, int n, const pp_allocator_t *allocator,
				pp_mann_kendall_t *out)
{
	double	   *sorted;
	int64_t		s = 0;
	double		dn = (double) n;
	double		ties = 0.0;
	double		var_s;
	int			i;
	int			j;

	out->n = 0;
	out->s = 0;
	out->var_s = 0.0;
	out->z = 0.0;
	out->p = 1.0;
	out->tau = 0.0;
	for (i = 0; i < n; i++)
	{
		if (isnan(y[i]))
			return PP_ERR_INVALID_VALUE;
	}
	if (n < 2)
	{
		out->n = n > 0 ? n : 0;
		return PP_OK;
	}

	for (i = 0; i < n; i++)
	{
		for (j = i + 1; j < n; j++)
			s += (y[j] > y[i]) - (y[j] < y[i]);
	}

	/* tie groups: runs of equal values in a sorted copy */
	sorted = pp_alloc(allocator, (size_t) n * sizeof(double));
	if (sorted == NULL)
		return PP_ERR_NO_MEMORY;
	for (i = 0; i < n; i++)
		sorted[i] = y[i];
	qsort(sorted, (size_t) n, sizeof(double), cmp_double);
	for (i = 0; i < n; i = j)
	{
		double		t;

		for (j = i + 1; j < n && sorted[j] == sorted[i]; j++)
			;
		t = (double) (j - i);
		ties += t * (t - 1) * (2 * t + 5);
	}
	pp_free(allocator, sorted);

	/* exact in doubles up to n ~ 1e5 (the terms stay below 2^53) */
	var_s = (dn * (dn - 1) * (2 * dn + 5) - ties) / 18.0;
	if (var_s < 0)
		var_s = 0;

	out->n = n;
	out->s = s;
	out->var_s = var_s;
	out->tau = (double) s / (dn * (dn - 1) / 2);
	if (n >= 3 && var_s > 0 && s != 0)
	{
		out->z = (double) (s > 0 ? s - 1 : s + 1) / sqrt(var_s);
		out->p = pp_normal_two_sided_p(out->z);
	}
	return PP_OK;
}
