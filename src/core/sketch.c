/*-------------------------------------------------------------------------
 *
 * src/core/sketch.c
 *	  Log-bucketed quantile sketch with exact merge and subtraction: the
 *	  fixed-size sparse pp_sketch_t and the dense pp_sketch_acc_t.
 *
 * See sketch.h for the layout and the collapsing rule.  This file holds the
 * bin map, the operations and the proof of the error bound.
 *
 * Error bound.  Let gamma = (1 + a) / (1 - a) with a = PP_SKETCH_ALPHA.
 * Bin k holds the values x with gamma^(k-1) < x <= gamma^k and is
 * represented by v_k = (1 - a) * gamma^k (= 2 gamma^k / (gamma + 1)).  For x
 * in bin k, v_k / x lies in [1 - a, (1 - a) * gamma) = [1 - a, 1 + a), so
 * |v_k - x| <= a * x.
 *
 * Now take n values x_(1) <= ... <= x_(n) and r = max(1, ceil(q * n)), the
 * rank percentile_disc picks.  The bin map is non-decreasing in x, so let b
 * be the bin of x_(r): every value in a bin below b is < x_(r), hence at
 * most r - 1 values lie below b, while x_(1) .. x_(r) all lie in bins <= b.
 * The first bin whose cumulative count reaches r is therefore exactly b, and
 * the answer v_b is within a relative a of x_(r).  Merging, subtracting or
 * removing changes only integer counts, so the argument holds for the
 * multiset the sketch holds after any sequence of them.  Exceptions: x_(r)
 * in the zero bucket (answer 0, absolute error < 1e-4 ms), above the top bin
 * (answer ~2.17e9 ms, an underestimate), or among collapsed bins (answer
 * v_collapse_index, an upper bound).  In floating point, log() is monotone,
 * so the map stays monotone and the bound holds up to rounding (~1e-15
 * relative) for values on a bin edge.
 *
 * No PostgreSQL headers; allocation through pp_allocator_t.
 *
 *-------------------------------------------------------------------------
 */
#include "sketch.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* ln(gamma) = ln(1.005 / 0.995), as the nearest double */
#define LN_GAMMA		0.010000083334583179

/* layout checks: no padding, so memcmp and dumps are deterministic */
_Static_assert(sizeof(pp_sketch_t) ==
			   32 + PP_SKETCH_CAPACITY * (sizeof(uint32_t) + sizeof(uint16_t)),
			   "pp_sketch_t must have no padding");
_Static_assert(PP_SKETCH_NBINS <= UINT16_MAX, "bin index must fit uint16");
_Static_assert(PP_SKETCH_CAPACITY <= UINT16_MAX, "nbins must fit uint16");

struct pp_sketch_acc_t
{
	pp_allocator_t alloc;		/* copy of the allocator it came from */
	uint64_t	count;			/* values in the accumulator */
	uint64_t	zero_count;		/* values in the zero bucket */
	uint64_t	collapsed_count;	/* values with index <= collapse_index */
	int			collapse_index; /* 0 = none */
	uint64_t	bins[PP_SKETCH_NBINS + 1];	/* values per index; [0] unused */
};


/* ---------------------------------------------------------------------
 * Bin map
 * ---------------------------------------------------------------------
 */

/*
 * Index (1..NBINS) of the bin holding value_ms, or 0 for the zero bucket
 * (values <= ~9.90e-5 ms, negatives, NaN).  Values above the top bin map to
 * NBINS.
 */
int
pp_sketch_index_of(double value_ms)
{
	double		k;

	if (!(value_ms > 0.0))
		return 0;
	if (isinf(value_ms))
		return PP_SKETCH_NBINS;
	k = ceil(log(value_ms) / LN_GAMMA);
	if (k < PP_SKETCH_KEY_MIN)
		return 0;
	if (k > PP_SKETCH_KEY_MAX)
		return PP_SKETCH_NBINS;
	return (int) k - PP_SKETCH_KEY_MIN + 1;
}

/* Representative value of bin index (0 -> 0.0), ms */
double
pp_sketch_index_value(int index)
{
	int			k;

	if (index <= 0)
		return 0.0;
	if (index > PP_SKETCH_NBINS)
		index = PP_SKETCH_NBINS;
	k = index + PP_SKETCH_KEY_MIN - 1;
	return (1.0 - PP_SKETCH_ALPHA) * exp((double) k * LN_GAMMA);
}

/* percentile_disc rank: max(1, ceil(q * n)), as PostgreSQL computes it */
static uint64_t
quantile_rank(double q, uint64_t n)
{
	double		r = ceil(q * (double) n);

	if (r < 1.0)
		return 1;
	if (r >= (double) n)
		return n;
	return (uint64_t) r;
}

static bool
add_overflows(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b;
}


/* ---------------------------------------------------------------------
 * Fixed-size sketch
 * ---------------------------------------------------------------------
 */

void
pp_sketch_init(pp_sketch_t *s)
{
	memset(s, 0, sizeof(*s));
}

/* Binary search; returns true if found; *pos = slot or insertion point */
static bool
sketch_find(const pp_sketch_t *s, int index, int *pos)
{
	int			lo = 0;
	int			hi = s->nbins;

	while (lo < hi)
	{
		int			mid = (lo + hi) / 2;

		if (s->bin_index[mid] < index)
			lo = mid + 1;
		else
			hi = mid;
	}
	*pos = lo;
	return lo < s->nbins && s->bin_index[lo] == index;
}

/* Drop slot pos, shifting the rest down and clearing the freed last slot */
static void
sketch_delete_slot(pp_sketch_t *s, int pos)
{
	int			tail = s->nbins - pos - 1;

	memmove(&s->bin_index[pos], &s->bin_index[pos + 1],
			tail * sizeof(uint16_t));
	memmove(&s->bin_count[pos], &s->bin_count[pos + 1],
			tail * sizeof(uint32_t));
	s->nbins--;
	s->bin_index[s->nbins] = 0;
	s->bin_count[s->nbins] = 0;
}

/* Fold every bin with index <= upto into the collapsed counter */
static void
sketch_collapse_upto(pp_sketch_t *s, int upto)
{
	while (s->nbins > 0 && s->bin_index[0] <= upto)
	{
		s->collapsed_count += s->bin_count[0];
		sketch_delete_slot(s, 0);
	}
	if (upto > s->collapse_index)
		s->collapse_index = (uint16_t) upto;
}

/* Keep the invariant collapse_index != 0 <=> collapsed_count != 0 */
static void
sketch_normalize(pp_sketch_t *s)
{
	if (s->collapsed_count == 0)
		s->collapse_index = 0;
}

pp_error_code_t
pp_sketch_add_n(pp_sketch_t *s, double value_ms, uint32_t n)
{
	int			index;
	int			pos;

	if (!isfinite(value_ms))
		return PP_ERR_INVALID_VALUE;
	if (n == 0)
		return PP_OK;
	if (add_overflows(s->count, n))
		return PP_ERR_OUT_OF_RANGE;

	index = pp_sketch_index_of(value_ms);
	if (index == 0)
		s->zero_count += n;
	else if (index <= s->collapse_index)
		s->collapsed_count += n;
	else if (sketch_find(s, index, &pos))
	{
		if (s->bin_count[pos] > UINT32_MAX - n)
			return PP_ERR_OUT_OF_RANGE;
		s->bin_count[pos] += n;
	}
	else
	{
		if (s->nbins == PP_SKETCH_CAPACITY)
		{
			if (pos == 0)
			{
				/* the new bin is the lowest of CAPACITY + 1: collapse it */
				s->collapse_index = (uint16_t) index;
				s->collapsed_count += n;
				s->count += n;
				return PP_OK;
			}
			sketch_collapse_upto(s, s->bin_index[0]);
			pos--;
		}
		memmove(&s->bin_index[pos + 1], &s->bin_index[pos],
				(s->nbins - pos) * sizeof(uint16_t));
		memmove(&s->bin_count[pos + 1], &s->bin_count[pos],
				(s->nbins - pos) * sizeof(uint32_t));
		s->bin_index[pos] = (uint16_t) index;
		s->bin_count[pos] = n;
		s->nbins++;
	}
	s->count += n;
	return PP_OK;
}

pp_error_code_t
pp_sketch_add(pp_sketch_t *s, double value_ms)
{
	return pp_sketch_add_n(s, value_ms, 1);
}

/*
 * Remove n copies of a value previously added.  Fails with
 * PP_ERR_OUT_OF_RANGE, leaving the sketch unchanged, when the sketch does
 * not hold them (a count would go negative).
 */
pp_error_code_t
pp_sketch_remove_n(pp_sketch_t *s, double value_ms, uint32_t n)
{
	int			index;
	int			pos;

	if (!isfinite(value_ms))
		return PP_ERR_INVALID_VALUE;
	if (n == 0)
		return PP_OK;

	index = pp_sketch_index_of(value_ms);
	if (index == 0)
	{
		if (s->zero_count < n)
			return PP_ERR_OUT_OF_RANGE;
		s->zero_count -= n;
	}
	else if (index <= s->collapse_index)
	{
		if (s->collapsed_count < n)
			return PP_ERR_OUT_OF_RANGE;
		s->collapsed_count -= n;
		sketch_normalize(s);
	}
	else
	{
		if (!sketch_find(s, index, &pos) || s->bin_count[pos] < n)
			return PP_ERR_OUT_OF_RANGE;
		s->bin_count[pos] -= n;
		if (s->bin_count[pos] == 0)
			sketch_delete_slot(s, pos);
	}
	s->count -= n;
	return PP_OK;
}

pp_error_code_t
pp_sketch_remove(pp_sketch_t *s, double value_ms)
{
	return pp_sketch_remove_n(s, value_ms, 1);
}

/*
 * dst += src.  The union of both bin lists is built aside; bins at or
 * below the higher collapse_index are folded, then the lowest bins while
 * more than CAPACITY remain.  On a count overflow dst is left unchanged.
 * dst and src may be the same sketch.
 */
pp_error_code_t
pp_sketch_merge(pp_sketch_t *dst, const pp_sketch_t *src)
{
	uint16_t	idx[2 * PP_SKETCH_CAPACITY];
	uint64_t	cnt[2 * PP_SKETCH_CAPACITY];
	int			m = 0;
	int			i = 0;
	int			j = 0;
	int			first;
	int			collapse;
	uint64_t	collapsed;

	if (add_overflows(dst->count, src->count) ||
		add_overflows(dst->collapsed_count, src->collapsed_count))
		return PP_ERR_OUT_OF_RANGE;

	collapse = dst->collapse_index > src->collapse_index ?
		dst->collapse_index : src->collapse_index;
	collapsed = dst->collapsed_count + src->collapsed_count;

	while (i < dst->nbins || j < src->nbins)
	{
		uint16_t	index;
		uint64_t	c;

		if (j >= src->nbins ||
			(i < dst->nbins && dst->bin_index[i] < src->bin_index[j]))
		{
			index = dst->bin_index[i];
			c = dst->bin_count[i++];
		}
		else if (i >= dst->nbins || src->bin_index[j] < dst->bin_index[i])
		{
			index = src->bin_index[j];
			c = src->bin_count[j++];
		}
		else
		{
			index = dst->bin_index[i];
			c = (uint64_t) dst->bin_count[i++] + src->bin_count[j++];
		}
		if (index <= collapse)
			collapsed += c;
		else
		{
			idx[m] = index;
			cnt[m++] = c;
		}
	}

	/* over capacity: fold the lowest bins */
	first = 0;
	while (m - first > PP_SKETCH_CAPACITY)
	{
		collapse = idx[first];
		collapsed += cnt[first++];
	}
	for (i = first; i < m; i++)
	{
		if (cnt[i] > UINT32_MAX)
			return PP_ERR_OUT_OF_RANGE;
	}

	dst->count += src->count;
	dst->zero_count += src->zero_count;
	dst->collapsed_count = collapsed;
	dst->collapse_index = (uint16_t) collapse;
	dst->nbins = (uint16_t) (m - first);
	for (i = 0; i < PP_SKETCH_CAPACITY; i++)
	{
		bool		used = i < m - first;

		dst->bin_index[i] = used ? idx[first + i] : 0;
		dst->bin_count[i] = used ? (uint32_t) cnt[first + i] : 0;
	}
	return PP_OK;
}

/*
 * dst -= src, where src's values were all added to dst before (by add or
 * merge, in any order and grouping).  Exact in counts.  If src has
 * collapsed further than dst, dst is first collapsed to the same index (it
 * loses resolution there, never counts).  Fails with PP_ERR_OUT_OF_RANGE,
 * leaving dst unchanged, when some count would go negative.
 */
pp_error_code_t
pp_sketch_subtract(pp_sketch_t *dst, const pp_sketch_t *src)
{
	pp_sketch_t tmp;
	uint64_t	total = 0;
	int			i;
	int			pos;

	memcpy(&tmp, dst, sizeof(tmp));
	if (src->collapse_index > tmp.collapse_index)
		sketch_collapse_upto(&tmp, src->collapse_index);

	if (tmp.zero_count < src->zero_count ||
		tmp.collapsed_count < src->collapsed_count)
		return PP_ERR_OUT_OF_RANGE;
	tmp.zero_count -= src->zero_count;
	tmp.collapsed_count -= src->collapsed_count;
	total = src->zero_count + src->collapsed_count;

	for (i = 0; i < src->nbins && i < PP_SKETCH_CAPACITY; i++)
	{
		uint32_t	c = src->bin_count[i];

		if (src->bin_index[i] <= tmp.collapse_index)
		{
			if (tmp.collapsed_count < c)
				return PP_ERR_OUT_OF_RANGE;
			tmp.collapsed_count -= c;
		}
		else
		{
			if (!sketch_find(&tmp, src->bin_index[i], &pos) ||
				tmp.bin_count[pos] < c)
				return PP_ERR_OUT_OF_RANGE;
			tmp.bin_count[pos] -= c;
		}
		total += c;
	}
	if (tmp.count < total)
		return PP_ERR_OUT_OF_RANGE;
	tmp.count -= total;

	/* drop emptied slots */
	for (i = tmp.nbins - 1; i >= 0; i--)
	{
		if (tmp.bin_count[i] == 0)
			sketch_delete_slot(&tmp, i);
	}
	sketch_normalize(&tmp);
	memcpy(dst, &tmp, sizeof(tmp));
	return PP_OK;
}

uint64_t
pp_sketch_count(const pp_sketch_t *s)
{
	return s->count;
}

/*
 * percentile_disc estimate: the value of the smallest bin whose cumulative
 * count reaches max(1, ceil(q * n)).  Errors: PP_ERR_OUT_OF_RANGE for q
 * outside [0, 1] or NaN, PP_ERR_MISSING for an empty sketch; *value_ms is
 * then NaN.  *flags (optional) gets PP_SKETCH_Q_* bits.
 */
pp_error_code_t
pp_sketch_quantile_ex(const pp_sketch_t *s, double q, double *value_ms,
					  int *flags)
{
	uint64_t	rank;
	uint64_t	cum;
	int			nbins;
	int			i;

	*value_ms = NAN;
	if (flags)
		*flags = 0;
	if (!(q >= 0.0 && q <= 1.0))
		return PP_ERR_OUT_OF_RANGE;
	if (s->count == 0)
		return PP_ERR_MISSING;

	rank = quantile_rank(q, s->count);
	cum = s->zero_count;
	if (rank <= cum)
	{
		*value_ms = 0.0;
		if (flags)
			*flags = PP_SKETCH_Q_ZERO;
		return PP_OK;
	}
	cum += s->collapsed_count;
	if (rank <= cum)
	{
		*value_ms = pp_sketch_index_value(s->collapse_index);
		if (flags)
			*flags = PP_SKETCH_Q_COLLAPSED;
		return PP_OK;
	}
	nbins = s->nbins < PP_SKETCH_CAPACITY ? s->nbins : PP_SKETCH_CAPACITY;
	for (i = 0; i < nbins; i++)
	{
		cum += s->bin_count[i];
		if (rank <= cum)
			break;
	}
	if (i >= nbins)
		return PP_ERR_INVALID_VALUE;	/* count exceeds the bins: corrupt */
	*value_ms = pp_sketch_index_value(s->bin_index[i]);
	if (flags && s->bin_index[i] == PP_SKETCH_NBINS)
		*flags = PP_SKETCH_Q_CLAMPED;
	return PP_OK;
}

/* As pp_sketch_quantile_ex; NaN on any error */
double
pp_sketch_quantile(const pp_sketch_t *s, double q)
{
	double		v;

	(void) pp_sketch_quantile_ex(s, q, &v, NULL);
	return v;
}

/*
 * Check a sketch read from untrusted bytes (dump file, fuzzer): every
 * invariant the operations above rely on.  Returns PP_OK or
 * PP_ERR_INVALID_VALUE with err (optional) naming the field.
 */
pp_error_code_t
pp_sketch_validate(const pp_sketch_t *s, pp_error_t *err)
{
	uint64_t	sum;
	int			prev;
	int			i;
	char		path[64];

	if (s->reserved != 0)
		return pp_error_set(err, PP_ERR_INVALID_VALUE, "reserved",
							"reserved field is %u, expected 0", s->reserved);
	if (s->nbins > PP_SKETCH_CAPACITY)
		return pp_error_set(err, PP_ERR_INVALID_VALUE, "nbins",
							"%u bins exceed the capacity %d",
							s->nbins, PP_SKETCH_CAPACITY);
	if (s->collapse_index > PP_SKETCH_NBINS)
		return pp_error_set(err, PP_ERR_INVALID_VALUE, "collapse_index",
							"collapse index %u out of range",
							s->collapse_index);
	if ((s->collapse_index == 0) != (s->collapsed_count == 0))
		return pp_error_set(err, PP_ERR_INVALID_VALUE, "collapsed_count",
							"collapsed count and collapse index disagree");
	if (add_overflows(s->zero_count, s->collapsed_count))
		return pp_error_set(err, PP_ERR_INVALID_VALUE, "count",
							"counts overflow");
	sum = s->zero_count + s->collapsed_count;

	prev = s->collapse_index;
	for (i = 0; i < PP_SKETCH_CAPACITY; i++)
	{
		snprintf(path, sizeof(path), "bin_index[%d]", i);
		if (i >= s->nbins)
		{
			if (s->bin_index[i] != 0 || s->bin_count[i] != 0)
				return pp_error_set(err, PP_ERR_INVALID_VALUE, path,
									"unused slot is not zero");
			continue;
		}
		if (s->bin_index[i] <= prev || s->bin_index[i] > PP_SKETCH_NBINS)
			return pp_error_set(err, PP_ERR_INVALID_VALUE, path,
								"bin index %u out of order or out of range",
								s->bin_index[i]);
		if (s->bin_count[i] == 0)
			return pp_error_set(err, PP_ERR_INVALID_VALUE, path,
								"used bin has a zero count");
		prev = s->bin_index[i];
		sum += s->bin_count[i]; /* <= 2^64 - 1: 128 * 2^32 plus checked */
		if (sum < s->bin_count[i])
			return pp_error_set(err, PP_ERR_INVALID_VALUE, "count",
								"counts overflow");
	}
	if (sum != s->count)
		return pp_error_set(err, PP_ERR_INVALID_VALUE, "count",
							"count %llu differs from the sum of the bins %llu",
							(unsigned long long) s->count,
							(unsigned long long) sum);
	return PP_OK;
}


/* ---------------------------------------------------------------------
 * Dense accumulator
 * ---------------------------------------------------------------------
 */

pp_sketch_acc_t *
pp_sketch_acc_create(const pp_allocator_t *a)
{
	pp_sketch_acc_t *acc;

	if (a == NULL)
		a = &pp_default_allocator;
	acc = pp_alloc(a, sizeof(pp_sketch_acc_t));
	if (acc == NULL)
		return NULL;
	acc->alloc = *a;
	pp_sketch_acc_reset(acc);
	return acc;
}

void
pp_sketch_acc_free(pp_sketch_acc_t *acc)
{
	pp_allocator_t a;

	if (acc == NULL)
		return;
	a = acc->alloc;
	pp_free(&a, acc);
}

void
pp_sketch_acc_reset(pp_sketch_acc_t *acc)
{
	acc->count = 0;
	acc->zero_count = 0;
	acc->collapsed_count = 0;
	acc->collapse_index = 0;
	memset(acc->bins, 0, sizeof(acc->bins));
}

static void
acc_collapse_upto(pp_sketch_acc_t *acc, int upto)
{
	int			k;

	for (k = acc->collapse_index + 1; k <= upto; k++)
	{
		acc->collapsed_count += acc->bins[k];
		acc->bins[k] = 0;
	}
	if (upto > acc->collapse_index)
		acc->collapse_index = upto;
}

pp_error_code_t
pp_sketch_acc_add(pp_sketch_acc_t *acc, double value_ms)
{
	int			index;

	if (!isfinite(value_ms))
		return PP_ERR_INVALID_VALUE;
	index = pp_sketch_index_of(value_ms);
	if (index == 0)
		acc->zero_count++;
	else if (index <= acc->collapse_index)
		acc->collapsed_count++;
	else
		acc->bins[index]++;
	acc->count++;
	return PP_OK;
}

pp_error_code_t
pp_sketch_acc_remove(pp_sketch_acc_t *acc, double value_ms)
{
	int			index;
	uint64_t   *c;

	if (!isfinite(value_ms))
		return PP_ERR_INVALID_VALUE;
	index = pp_sketch_index_of(value_ms);
	if (index == 0)
		c = &acc->zero_count;
	else if (index <= acc->collapse_index)
		c = &acc->collapsed_count;
	else
		c = &acc->bins[index];
	if (*c == 0)
		return PP_ERR_OUT_OF_RANGE;
	(*c)--;
	acc->count--;
	if (acc->collapsed_count == 0)
		acc->collapse_index = 0;
	return PP_OK;
}

/* Bin indexes of s within range?  (guards the dense array) */
static bool
acc_sketch_in_range(const pp_sketch_t *s)
{
	int			i;

	if (s->nbins > PP_SKETCH_CAPACITY || s->collapse_index > PP_SKETCH_NBINS)
		return false;
	for (i = 0; i < s->nbins; i++)
	{
		if (s->bin_index[i] == 0 || s->bin_index[i] > PP_SKETCH_NBINS)
			return false;
	}
	return true;
}

/*
 * acc += s.  uint64 counts do not overflow in practice (2^64 values); the
 * sketch's indexes are range-checked (PP_ERR_INVALID_VALUE) before any
 * change.
 */
pp_error_code_t
pp_sketch_acc_add_sketch(pp_sketch_acc_t *acc, const pp_sketch_t *s)
{
	int			i;

	if (!acc_sketch_in_range(s))
		return PP_ERR_INVALID_VALUE;
	if (s->collapse_index > acc->collapse_index)
		acc_collapse_upto(acc, s->collapse_index);
	acc->zero_count += s->zero_count;
	acc->collapsed_count += s->collapsed_count;
	acc->count += s->zero_count + s->collapsed_count;
	for (i = 0; i < s->nbins; i++)
	{
		if (s->bin_index[i] <= acc->collapse_index)
			acc->collapsed_count += s->bin_count[i];
		else
			acc->bins[s->bin_index[i]] += s->bin_count[i];
		acc->count += s->bin_count[i];
	}
	return PP_OK;
}

/*
 * acc -= s, s having been added (as a sketch or value by value) before.
 * Checked before any change: PP_ERR_OUT_OF_RANGE if a count would go
 * negative, PP_ERR_INVALID_VALUE for out-of-range indexes.
 */
pp_error_code_t
pp_sketch_acc_subtract_sketch(pp_sketch_acc_t *acc, const pp_sketch_t *s)
{
	int			collapse;
	uint64_t	have_collapsed;
	uint64_t	need_collapsed;
	uint64_t	total;
	int			k;
	int			i;

	if (!acc_sketch_in_range(s))
		return PP_ERR_INVALID_VALUE;
	collapse = acc->collapse_index > s->collapse_index ?
		acc->collapse_index : s->collapse_index;

	/* check pass */
	have_collapsed = acc->collapsed_count;
	for (k = acc->collapse_index + 1; k <= collapse; k++)
		have_collapsed += acc->bins[k];
	need_collapsed = s->collapsed_count;
	total = s->zero_count + s->collapsed_count;
	if (acc->zero_count < s->zero_count)
		return PP_ERR_OUT_OF_RANGE;
	for (i = 0; i < s->nbins; i++)
	{
		int			index = s->bin_index[i];

		if (index <= collapse)
			need_collapsed += s->bin_count[i];
		else if (acc->bins[index] < s->bin_count[i])
			return PP_ERR_OUT_OF_RANGE;
		total += s->bin_count[i];
	}
	if (have_collapsed < need_collapsed || acc->count < total)
		return PP_ERR_OUT_OF_RANGE;

	/* apply */
	acc_collapse_upto(acc, collapse);
	acc->zero_count -= s->zero_count;
	acc->collapsed_count -= need_collapsed;
	for (i = 0; i < s->nbins; i++)
	{
		if (s->bin_index[i] > collapse)
			acc->bins[s->bin_index[i]] -= s->bin_count[i];
	}
	acc->count -= total;
	if (acc->collapsed_count == 0)
		acc->collapse_index = 0;
	return PP_OK;
}

uint64_t
pp_sketch_acc_count(const pp_sketch_acc_t *acc)
{
	return acc->count;
}

/* Same definition and errors as pp_sketch_quantile_ex */
pp_error_code_t
pp_sketch_acc_quantile_ex(const pp_sketch_acc_t *acc, double q,
						  double *value_ms, int *flags)
{
	uint64_t	rank;
	uint64_t	cum;
	int			k;
	int			last = 0;

	*value_ms = NAN;
	if (flags)
		*flags = 0;
	if (!(q >= 0.0 && q <= 1.0))
		return PP_ERR_OUT_OF_RANGE;
	if (acc->count == 0)
		return PP_ERR_MISSING;

	rank = quantile_rank(q, acc->count);
	cum = acc->zero_count;
	if (rank <= cum)
	{
		*value_ms = 0.0;
		if (flags)
			*flags = PP_SKETCH_Q_ZERO;
		return PP_OK;
	}
	cum += acc->collapsed_count;
	if (rank <= cum)
	{
		*value_ms = pp_sketch_index_value(acc->collapse_index);
		if (flags)
			*flags = PP_SKETCH_Q_COLLAPSED;
		return PP_OK;
	}
	for (k = acc->collapse_index + 1; k <= PP_SKETCH_NBINS; k++)
	{
		if (acc->bins[k] == 0)
			continue;
		last = k;
		cum += acc->bins[k];
		if (rank <= cum)
			break;
	}
	*value_ms = pp_sketch_index_value(last);
	if (flags && last == PP_SKETCH_NBINS)
		*flags = PP_SKETCH_Q_CLAMPED;
	return PP_OK;
}

double
pp_sketch_acc_quantile(const pp_sketch_acc_t *acc, double q)
{
	double		v;

	(void) pp_sketch_acc_quantile_ex(acc, q, &v, NULL);
	return v;
}
