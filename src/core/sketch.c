/*-------------------------------------------------------------------------
 *
 * src/core/sketch.c
 *	  Log-bucketed quantile sketch with exact merge and subtraction: the
 *	  fixed-size sparse pp_sketch_t and the dense pp_sketch_acc_t, and the
 *	  Mann-Whitney test between two accumulators.
 *
 * See sketch.h for the layout and the collapsing rule.  This file holds the
 * bin map, the operations and the proof of the error bound.  The
 * Mann-Whitney test takes its normal p-value from trend.c.
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
#include "trend.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* ln(gamma) = ln(1.005 / 0.995), as the nearest double */
#define LN_GAMMA		0.010000083334583179

/* layout checks: no hidden padding, so memcmp and dumps are deterministic */
_Static_assert(sizeof(pp_sketch_t) == 32, "pp_sketch_t header must be 32 bytes");
_Static_assert(PP_SKETCH_SIZE(1) == 40 && PP_SKETCH_SIZE(4) == 56,
			   "PP_SKETCH_SIZE rounds to 8 bytes");
_Static_assert(PP_SKETCH_SIZE(PP_SKETCH_MINUTE_CAPACITY) == 800,
			   "minute sketch size as documented");
_Static_assert(PP_SKETCH_SIZE(PP_SKETCH_HOUR_CAPACITY) == 3104,
			   "hour sketch size as documented");
_Static_assert(PP_SKETCH_SIZE(PP_SKETCH_MAX_CAPACITY) == 18464,
			   "maximal sketch size as documented");
_Static_assert(PP_SKETCH_NBINS <= UINT16_MAX, "bin index must fit uint16");
_Static_assert(PP_SKETCH_MAX_CAPACITY == PP_SKETCH_NBINS,
			   "a sketch of the maximal capacity never collapses");

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

/*
 * The slot arrays follow the header: bin_count[capacity] at offset
 * sizeof(pp_sketch_t) (32, so 4-aligned), then bin_index[capacity].
 */
static inline uint32_t *
sk_count(pp_sketch_t *s)
{
	return (uint32_t *) ((char *) s + sizeof(pp_sketch_t));
}

static inline uint16_t *
sk_index(pp_sketch_t *s)
{
	return (uint16_t *) ((char *) s + sizeof(pp_sketch_t) +
						 (size_t) s->capacity * sizeof(uint32_t));
}

static inline const uint32_t *
sk_ccount(const pp_sketch_t *s)
{
	return (const uint32_t *) ((const char *) s + sizeof(pp_sketch_t));
}

static inline const uint16_t *
sk_cindex(const pp_sketch_t *s)
{
	return (const uint16_t *) ((const char *) s + sizeof(pp_sketch_t) +
							   (size_t) s->capacity * sizeof(uint32_t));
}

/*
 * Zero PP_SKETCH_SIZE(capacity) bytes and set the capacity.  capacity must
 * be 1 .. PP_SKETCH_MAX_CAPACITY; a larger one is lowered to the maximum
 * (which uses fewer bytes than the caller provided).
 */
void
pp_sketch_init(pp_sketch_t *s, uint16_t capacity)
{
	if (capacity > PP_SKETCH_MAX_CAPACITY)
		capacity = PP_SKETCH_MAX_CAPACITY;
	memset(s, 0, PP_SKETCH_SIZE(capacity));
	s->capacity = capacity;
}

/* Binary search; returns true if found; *pos = slot or insertion point */
static bool
sketch_find(const pp_sketch_t *s, int index, int *pos)
{
	const uint16_t *idx = sk_cindex(s);
	int			lo = 0;
	int			hi = s->nbins;

	while (lo < hi)
	{
		int			mid = (lo + hi) / 2;

		if (idx[mid] < index)
			lo = mid + 1;
		else
			hi = mid;
	}
	*pos = lo;
	return lo < s->nbins && idx[lo] == index;
}

/* Drop slots [pos, pos + n), shifting the rest down, zeroing freed slots */
static void
sketch_delete_slots(pp_sketch_t *s, int pos, int n)
{
	uint32_t   *cnt = sk_count(s);
	uint16_t   *idx = sk_index(s);
	int			tail = s->nbins - pos - n;

	if (n <= 0)
		return;
	memmove(&idx[pos], &idx[pos + n], tail * sizeof(uint16_t));
	memmove(&cnt[pos], &cnt[pos + n], tail * sizeof(uint32_t));
	s->nbins -= n;
	memset(&idx[s->nbins], 0, n * sizeof(uint16_t));
	memset(&cnt[s->nbins], 0, n * sizeof(uint32_t));
}

/* Fold every bin with index <= upto into the collapsed counter */
static void
sketch_collapse_upto(pp_sketch_t *s, int upto)
{
	const uint32_t *cnt = sk_count(s);
	const uint16_t *idx = sk_index(s);
	int			n = 0;

	while (n < s->nbins && idx[n] <= upto)
		s->collapsed_count += cnt[n++];
	sketch_delete_slots(s, 0, n);
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

/*
 * Add n copies of a value.  When it needs a new bin and every slot is
 * taken, collapse (the lowest bins fold into the collapsed counter) or,
 * without collapse, return PP_ERR_FULL leaving the sketch unchanged.
 */
static inline __attribute__((always_inline)) pp_error_code_t
sketch_add_index(pp_sketch_t *s, int index, uint32_t n, bool collapse)
{
	uint32_t   *cnt = sk_count(s);
	uint16_t   *idx = sk_index(s);
	int			pos;

	if (n == 0)
		return PP_OK;
	if (add_overflows(s->count, n))
		return PP_ERR_OUT_OF_RANGE;

	if (index == 0)
		s->zero_count += n;
	else if (index <= s->collapse_index)
		s->collapsed_count += n;
	else if (sketch_find(s, index, &pos))
	{
		if (cnt[pos] > UINT32_MAX - n)
			return PP_ERR_OUT_OF_RANGE;
		cnt[pos] += n;
	}
	else
	{
		if (s->nbins >= s->capacity)
		{
			if (!collapse)
				return PP_ERR_FULL;
			if (pos == 0)
			{
				/* the new bin is the lowest of capacity + 1: collapse it */
				s->collapse_index = (uint16_t) index;
				s->collapsed_count += n;
				s->count += n;
				return PP_OK;
			}
			sketch_collapse_upto(s, idx[0]);
			pos--;
		}
		memmove(&idx[pos + 1], &idx[pos],
				(s->nbins - pos) * sizeof(uint16_t));
		memmove(&cnt[pos + 1], &cnt[pos],
				(s->nbins - pos) * sizeof(uint32_t));
		idx[pos] = (uint16_t) index;
		cnt[pos] = n;
		s->nbins++;
	}
	s->count += n;
	return PP_OK;
}

pp_error_code_t
pp_sketch_add_n(pp_sketch_t *s, double value_ms, uint32_t n)
{
	if (!isfinite(value_ms))
		return PP_ERR_INVALID_VALUE;
	return sketch_add_index(s, pp_sketch_index_of(value_ms), n, true);
}

pp_error_code_t
pp_sketch_add_exact(pp_sketch_t *s, double value_ms, uint32_t n)
{
	if (!isfinite(value_ms))
		return PP_ERR_INVALID_VALUE;
	return sketch_add_index(s, pp_sketch_index_of(value_ms), n, false);
}

pp_error_code_t
pp_sketch_add_index_exact(pp_sketch_t *s, int index, uint32_t n)
{
	if (index < 0 || index > PP_SKETCH_NBINS)
		return PP_ERR_INVALID_VALUE;
	return sketch_add_index(s, index, n, false);
}

pp_error_code_t
pp_sketch_copy(pp_sketch_t *dst, uint16_t capacity, const pp_sketch_t *src)
{
	if (capacity < 1 || capacity > PP_SKETCH_MAX_CAPACITY)
		return PP_ERR_INVALID_VALUE;
	if (capacity < src->nbins)
		return PP_ERR_FULL;
	pp_sketch_init(dst, capacity);
	dst->count = src->count;
	dst->zero_count = src->zero_count;
	dst->collapsed_count = src->collapsed_count;
	dst->collapse_index = src->collapse_index;
	dst->nbins = src->nbins;
	memcpy(sk_count(dst), sk_ccount(src), (size_t) src->nbins * sizeof(uint32_t));
	memcpy(sk_index(dst), sk_cindex(src), (size_t) src->nbins * sizeof(uint16_t));
	return PP_OK;
}

uint16_t
pp_sketch_capacity_in(size_t bytes)
{
	size_t		c;

	if (bytes < PP_SKETCH_SIZE(1))
		return 0;
	c = (bytes - sizeof(pp_sketch_t)) / (sizeof(uint32_t) + sizeof(uint16_t));
	if (c > PP_SKETCH_MAX_CAPACITY)
		c = PP_SKETCH_MAX_CAPACITY;
	while (PP_SKETCH_SIZE(c) > bytes)
		c--;
	return (uint16_t) c;
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
	uint32_t   *cnt = sk_count(s);
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
		if (!sketch_find(s, index, &pos) || cnt[pos] < n)
			return PP_ERR_OUT_OF_RANGE;
		cnt[pos] -= n;
		if (cnt[pos] == 0)
			sketch_delete_slots(s, pos, 1);
	}
	s->count -= n;
	return PP_OK;
}

pp_error_code_t
pp_sketch_remove(pp_sketch_t *s, double value_ms)
{
	return pp_sketch_remove_n(s, value_ms, 1);
}

/* First slot of s whose index is above upto */
static int
first_above(const pp_sketch_t *s, int upto)
{
	int			pos;

	if (upto <= 0)
		return 0;
	if (sketch_find(s, upto, &pos))
		pos++;
	return pos;
}

/*
 * dst += src; the capacities may differ, the result has dst's.  Bins at or
 * below the higher collapse_index are folded, then the lowest bins of the
 * union while more than dst->capacity remain.  On a count overflow dst is
 * left unchanged.  dst and src may be the same sketch.
 *
 * In place, without scratch memory: a read-only pass sizes the union and
 * finds the new collapse index (and checks every overflow), then dst's own
 * low bins are folded and the two bin lists are merged from the top down
 * into dst's arrays.  Once the folded bins are gone, the union has at
 * least as many bins at or below any dst bin as dst has, so a slot is
 * always written at or above the dst slot still to be read.
 */
pp_error_code_t
pp_sketch_merge(pp_sketch_t *dst, const pp_sketch_t *src)
{
	uint32_t   *dc = sk_count(dst);
	uint16_t   *di = sk_index(dst);
	const uint32_t *sc = sk_ccount(src);
	const uint16_t *si = sk_cindex(src);
	int			dn = dst->nbins;
	int			sn = src->nbins;
	int			collapse;
	int			m;
	int			nfold;
	int			i;
	int			j;
	int			k;
	int			w;

	if (add_overflows(dst->count, src->count) ||
		add_overflows(dst->zero_count, src->zero_count) ||
		add_overflows(dst->collapsed_count, src->collapsed_count))
		return PP_ERR_OUT_OF_RANGE;

	if (dst == src)
	{
		/* doubling: same bins, no fold */
		for (i = 0; i < dn; i++)
		{
			if (dc[i] > UINT32_MAX - dc[i])
				return PP_ERR_OUT_OF_RANGE;
		}
		for (i = 0; i < dn; i++)
			dc[i] *= 2;
		dst->count *= 2;
		dst->zero_count *= 2;
		dst->collapsed_count *= 2;
		return PP_OK;
	}

	collapse = dst->collapse_index > src->collapse_index ?
		dst->collapse_index : src->collapse_index;

	/* pass 1: distinct indexes above collapse */
	m = 0;
	i = first_above(dst, collapse);
	j = first_above(src, collapse);
	while (i < dn || j < sn)
	{
		if (j >= sn || (i < dn && di[i] < si[j]))
			i++;
		else if (i >= dn || si[j] < di[i])
			j++;
		else
		{
			i++;
			j++;
		}
		m++;
	}
	nfold = m > dst->capacity ? m - dst->capacity : 0;

	/* pass 2: the nfold lowest are folded; the others must fit uint32 */
	m = 0;
	i = first_above(dst, collapse);
	j = first_above(src, collapse);
	while (i < dn || j < sn)
	{
		int			index;
		uint64_t	c;

		if (j >= sn || (i < dn && di[i] < si[j]))
		{
			index = di[i];
			c = dc[i++];
		}
		else if (i >= dn || si[j] < di[i])
		{
			index = si[j];
			c = sc[j++];
		}
		else
		{
			index = di[i];
			c = (uint64_t) dc[i++] + sc[j++];
		}
		if (m++ < nfold)
			collapse = index;
		else if (c > UINT32_MAX)
			return PP_ERR_OUT_OF_RANGE;
	}

	/* apply: fold, then merge from the top */
	dst->count += src->count;
	dst->zero_count += src->zero_count;
	dst->collapsed_count += src->collapsed_count;
	sketch_collapse_upto(dst, collapse);
	j = first_above(src, collapse);
	for (i = 0; i < j; i++)
		dst->collapsed_count += sc[i];

	i = dst->nbins - 1;
	w = m - nfold - 1;
	dst->nbins = (uint16_t) (m - nfold);
	for (k = sn - 1; k >= j; w--)
	{
		if (i >= 0 && di[i] > si[k])
		{
			di[w] = di[i];
			dc[w] = dc[i--];
		}
		else if (i >= 0 && di[i] == si[k])
		{
			di[w] = di[i];
			dc[w] = dc[i--] + sc[k--];
		}
		else
		{
			di[w] = si[k];
			dc[w] = sc[k--];
		}
	}
	/* what is left of dst (slots 0 .. i) is already in place: w == i */
	return PP_OK;
}

/*
 * dst -= src, where src's values were all added to dst before (by add or
 * merge, in any order and grouping; the capacities may differ).  Exact in
 * counts.  If src has collapsed further than dst, dst is first collapsed to
 * the same index (it loses resolution there, never counts).  Everything is
 * checked before dst changes: fails with PP_ERR_OUT_OF_RANGE, leaving dst
 * unchanged, when some count would go negative.
 */
pp_error_code_t
pp_sketch_subtract(pp_sketch_t *dst, const pp_sketch_t *src)
{
	uint32_t   *dc = sk_count(dst);
	uint16_t   *di = sk_index(dst);
	const uint32_t *sc = sk_ccount(src);
	const uint16_t *si = sk_cindex(src);
	int			dn = dst->nbins;
	int			sn = src->nbins;
	int			collapse;
	int			i0;
	int			i;
	int			j;
	int			w;
	uint64_t	have_collapsed;
	uint64_t	need_collapsed;
	uint64_t	total;

	collapse = dst->collapse_index > src->collapse_index ?
		dst->collapse_index : src->collapse_index;

	/* check pass */
	if (dst->zero_count < src->zero_count)
		return PP_ERR_OUT_OF_RANGE;
	have_collapsed = dst->collapsed_count;
	i0 = first_above(dst, collapse);
	for (i = 0; i < i0; i++)
		have_collapsed += dc[i];
	need_collapsed = src->collapsed_count;
	if (add_overflows(src->zero_count, src->collapsed_count))
		return PP_ERR_OUT_OF_RANGE;
	total = src->zero_count + src->collapsed_count;
	i = i0;
	for (j = 0; j < sn; j++)
	{
		if (si[j] <= collapse)
		{
			if (add_overflows(need_collapsed, sc[j]))
				return PP_ERR_OUT_OF_RANGE;
			need_collapsed += sc[j];
		}
		else
		{
			while (i < dn && di[i] < si[j])
				i++;
			if (i >= dn || di[i] != si[j] || dc[i] < sc[j])
				return PP_ERR_OUT_OF_RANGE;
		}
		if (add_overflows(total, sc[j]))
			return PP_ERR_OUT_OF_RANGE;
		total += sc[j];
	}
	if (have_collapsed < need_collapsed || dst->count < total)
		return PP_ERR_OUT_OF_RANGE;

	/* apply */
	sketch_collapse_upto(dst, collapse);
	dn = dst->nbins;
	dst->zero_count -= src->zero_count;
	dst->collapsed_count -= need_collapsed;
	dst->count -= total;
	i = 0;
	for (j = first_above(src, collapse); j < sn; j++)
	{
		while (di[i] < si[j])
			i++;
		dc[i] -= sc[j];
	}

	/* drop emptied slots, zero the freed ones */
	w = 0;
	for (i = 0; i < dn; i++)
	{
		if (dc[i] == 0)
			continue;
		di[w] = di[i];
		dc[w++] = dc[i];
	}
	for (i = w; i < dn; i++)
	{
		di[i] = 0;
		dc[i] = 0;
	}
	dst->nbins = (uint16_t) w;
	sketch_normalize(dst);
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
	const uint32_t *cnt = sk_ccount(s);
	const uint16_t *idx = sk_cindex(s);
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
	nbins = s->nbins < s->capacity ? s->nbins : s->capacity;
	for (i = 0; i < nbins; i++)
	{
		cum += cnt[i];
		if (rank <= cum)
			break;
	}
	if (i >= nbins)
		return PP_ERR_INVALID_VALUE;	/* count exceeds the bins: corrupt */
	*value_ms = pp_sketch_index_value(idx[i]);
	if (flags && idx[i] == PP_SKETCH_NBINS)
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
 * Check a sketch read from untrusted bytes (dump file, shared memory,
 * fuzzer), size of them readable at s: every invariant the operations above
 * rely on.  Reads nothing beyond s + size.  Returns PP_OK or
 * PP_ERR_INVALID_VALUE with err (optional) naming the field.
 */
pp_error_code_t
pp_sketch_validate(const pp_sketch_t *s, size_t size, pp_error_t *err)
{
	const uint32_t *cnt;
	const uint16_t *idx;
	const unsigned char *pad;
	size_t		used;
	size_t		total;
	uint64_t	sum;
	int			prev;
	int			i;
	char		path[64];

	if (s == NULL || size < sizeof(pp_sketch_t))
		return pp_error_set(err, PP_ERR_INVALID_VALUE, "size",
							"%zu bytes are too few for a sketch header (%zu)",
							s == NULL ? (size_t) 0 : size,
							sizeof(pp_sketch_t));
	if (s->reserved != 0)
		return pp_error_set(err, PP_ERR_INVALID_VALUE, "reserved",
							"reserved field is %u, expected 0", s->reserved);
	if (s->capacity < 1 || s->capacity > PP_SKETCH_MAX_CAPACITY)
		return pp_error_set(err, PP_ERR_INVALID_VALUE, "capacity",
							"capacity %u out of range 1 .. %d",
							s->capacity, PP_SKETCH_MAX_CAPACITY);
	total = PP_SKETCH_SIZE(s->capacity);
	if (total > size)
		return pp_error_set(err, PP_ERR_INVALID_VALUE, "size",
							"a sketch of capacity %u needs %zu bytes, "
							"%zu available", s->capacity, total, size);
	if (s->nbins > s->capacity)
		return pp_error_set(err, PP_ERR_INVALID_VALUE, "nbins",
							"%u bins exceed the capacity %u",
							s->nbins, s->capacity);
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

	cnt = sk_ccount(s);
	idx = sk_cindex(s);
	prev = s->collapse_index;
	for (i = 0; i < s->capacity; i++)
	{
		if (i >= s->nbins)
		{
			if (idx[i] != 0 || cnt[i] != 0)
			{
				snprintf(path, sizeof(path), "bin_index[%d]", i);
				return pp_error_set(err, PP_ERR_INVALID_VALUE, path,
									"unused slot is not zero");
			}
			continue;
		}
		if (idx[i] <= prev || idx[i] > PP_SKETCH_NBINS)
		{
			snprintf(path, sizeof(path), "bin_index[%d]", i);
			return pp_error_set(err, PP_ERR_INVALID_VALUE, path,
								"bin index %u out of order or out of range",
								idx[i]);
		}
		if (cnt[i] == 0)
		{
			snprintf(path, sizeof(path), "bin_count[%d]", i);
			return pp_error_set(err, PP_ERR_INVALID_VALUE, path,
								"used bin has a zero count");
		}
		prev = idx[i];
		sum += cnt[i];
		if (sum < cnt[i])
			return pp_error_set(err, PP_ERR_INVALID_VALUE, "count",
								"counts overflow");
	}
	if (sum != s->count)
		return pp_error_set(err, PP_ERR_INVALID_VALUE, "count",
							"count %llu differs from the sum of the bins %llu",
							(unsigned long long) s->count,
							(unsigned long long) sum);

	used = sizeof(pp_sketch_t) +
		(size_t) s->capacity * (sizeof(uint32_t) + sizeof(uint16_t));
	pad = (const unsigned char *) s;
	for (; used < total; used++)
	{
		if (pad[used] != 0)
			return pp_error_set(err, PP_ERR_INVALID_VALUE, "padding",
								"padding byte %zu is not zero", used);
	}
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

/* Capacity and bin indexes of s within range?  (guards the dense array) */
static bool
acc_sketch_in_range(const pp_sketch_t *s)
{
	const uint16_t *idx = sk_cindex(s);
	int			i;

	if (s->capacity > PP_SKETCH_MAX_CAPACITY || s->nbins > s->capacity ||
		s->collapse_index > PP_SKETCH_NBINS)
		return false;
	for (i = 0; i < s->nbins; i++)
	{
		if (idx[i] == 0 || idx[i] > PP_SKETCH_NBINS)
			return false;
	}
	return true;
}

/*
 * acc += s, s of any capacity.  uint64 counts do not overflow in practice (2^64 values); the
 * sketch's indexes are range-checked (PP_ERR_INVALID_VALUE) before any
 * change.
 */
pp_error_code_t
pp_sketch_acc_add_sketch(pp_sketch_acc_t *acc, const pp_sketch_t *s)
{
	const uint32_t *cnt = sk_ccount(s);
	const uint16_t *idx = sk_cindex(s);
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
		if (idx[i] <= acc->collapse_index)
			acc->collapsed_count += cnt[i];
		else
			acc->bins[idx[i]] += cnt[i];
		acc->count += cnt[i];
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
	const uint32_t *cnt = sk_ccount(s);
	const uint16_t *idx = sk_cindex(s);
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
		int			index = idx[i];

		if (index <= collapse)
			need_collapsed += cnt[i];
		else if (acc->bins[index] < cnt[i])
			return PP_ERR_OUT_OF_RANGE;
		total += cnt[i];
	}
	if (have_collapsed < need_collapsed || acc->count < total)
		return PP_ERR_OUT_OF_RANGE;

	/* apply */
	acc_collapse_upto(acc, collapse);
	acc->zero_count -= s->zero_count;
	acc->collapsed_count -= need_collapsed;
	for (i = 0; i < s->nbins; i++)
	{
		if (idx[i] > collapse)
			acc->bins[idx[i]] -= cnt[i];
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

uint64_t
pp_sketch_acc_count_above(const pp_sketch_acc_t *acc, double threshold_ms)
{
	uint64_t	n = 0;
	int			k;

	if (!(threshold_ms >= 0))
		return 0;
	k = pp_sketch_index_of(threshold_ms) + 1;
	if (k <= acc->collapse_index)
		k = acc->collapse_index + 1;
	for (; k <= PP_SKETCH_NBINS; k++)
		n += acc->bins[k];
	return n;
}


/* ---------------------------------------------------------------------
 * Mann-Whitney test between two accumulators
 * ---------------------------------------------------------------------
 */

/*
 * Running sums of the test, fed one bin (tie group) at a time in increasing
 * value order.  For the tie correction, with t the combined count of each
 * bin,
 *
 *	sigma^2 = n_a n_b / 12 * ((N + 1) - sum (t^3 - t) / (N (N - 1)))
 *	        = n_a n_b / 12 * (N^3 - sum t^3) / (N (N - 1))
 *
 * (sum t = N).  N^3 - sum t^3 is accumulated as the increase of (P + t)^3 -
 * P^3 - t^3 = 3 P t (P + t) per bin, P the count below it: every term is
 * >= 0, so there is no cancellation between numbers near N^3, and the sum
 * is exactly 0 when one bin holds every value.
 */
typedef struct mw_sums_t
{
	double		below_a;		/* values of a in the bins fed so far */
	double		below;			/* values of both in the bins fed so far */
	double		u;				/* U of b over the bins fed so far */
	double		spread;			/* N^3 - sum t^3 over the bins fed so far */
} mw_sums_t;

static void
mw_feed(mw_sums_t *sums, uint64_t count_a, uint64_t count_b)
{
	double		ca = (double) count_a;
	double		cb = (double) count_b;
	double		t = ca + cb;

	sums->u += cb * (sums->below_a + 0.5 * ca);
	sums->spread += 3.0 * sums->below * t * (sums->below + t);
	sums->below_a += ca;
	sums->below += t;
}

void
pp_sketch_acc_mann_whitney(const pp_sketch_acc_t *a, const pp_sketch_acc_t *b,
						   pp_mann_whitney_t *out)
{
	mw_sums_t	sums = {0, 0, 0, 0};
	int			collapse;
	uint64_t	collapsed_a = a->collapsed_count;
	uint64_t	collapsed_b = b->collapsed_count;
	double		n_ab;
	double		n;
	double		d;
	double		sigma2;
	int			k;

	out->n_a = a->count;
	out->n_b = b->count;
	out->u = 0.0;
	out->effect = 0.5;
	out->z = 0.0;
	out->p = 1.0;
	if (a->count == 0 || b->count == 0)
		return;

	/* both sides collapse to the higher of the two collapse indexes */
	collapse = a->collapse_index > b->collapse_index ?
		a->collapse_index : b->collapse_index;
	for (k = a->collapse_index + 1; k <= collapse; k++)
		collapsed_a += a->bins[k];
	for (k = b->collapse_index + 1; k <= collapse; k++)
		collapsed_b += b->bins[k];

	mw_feed(&sums, a->zero_count, b->zero_count);
	mw_feed(&sums, collapsed_a, collapsed_b);
	for (k = collapse + 1; k <= PP_SKETCH_NBINS; k++)
	{
		if (a->bins[k] != 0 || b->bins[k] != 0)
			mw_feed(&sums, a->bins[k], b->bins[k]);
	}

	n_ab = (double) a->count * (double) b->count;
	n = (double) a->count + (double) b->count;
	out->u = sums.u;
	out->effect = sums.u / n_ab;

	sigma2 = n_ab / 12.0 * sums.spread / (n * (n - 1));
	if (!(sigma2 > 0))
		return;					/* a single bin: every value ties */
	d = sums.u - 0.5 * n_ab;
	if (d > 0.5)
		d -= 0.5;
	else if (d < -0.5)
		d += 0.5;
	else
		d = 0.0;
	out->z = d / sqrt(sigma2);
	out->p = pp_normal_two_sided_p(out->z);
}
