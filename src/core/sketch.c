/*-------------------------------------------------------------------------
 *
 * src/core/sketch.c
 *	  Log-bucketed quantile sketch: the fixed-size sparse pp_sketch_t of
 *	  the shared-memory buckets, the pp_sketch_acc_t that sums them at
 *	  query time, and the Mann-Whitney test between two accumulators.
 *
 * See sketch.h for the layout.  This file holds the bin map, the
 * operations the server uses and the proof of the error bound.  The
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
 * the answer v_b is within a relative a of x_(r).  Adding a sketch to an
 * accumulator or removing a value changes only integer counts, so the
 * argument holds for the multiset held after any sequence of them.
 * Exceptions: x_(r) in the zero bucket (answer 0, absolute error < 1e-4 ms)
 * or above the top bin (answer ~2.17e9 ms, an underestimate).  In floating
 * point, log() is monotone, so the map stays monotone and the bound holds up to rounding (~1e-15
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
_Static_assert(PP_SKETCH_SIZE(128) == 800 && PP_SKETCH_SIZE(512) == 3104,
			   "sketch sizes as documented");
_Static_assert(PP_SKETCH_SIZE(PP_SKETCH_MAX_CAPACITY) == 18464,
			   "maximal sketch size as documented");
_Static_assert(PP_SKETCH_NBINS <= UINT16_MAX, "bin index must fit uint16");
_Static_assert(PP_SKETCH_MAX_CAPACITY == PP_SKETCH_NBINS,
			   "a sketch of the maximal capacity is never full");

/*
 * The accumulator starts sparse: counts[] and index[] hold nbins (count,
 * bin index) pairs with strictly increasing indexes, in one block of cap
 * pairs (the counts, then the indexes) that doubles as needed.  When a bin
 * would make more than PP_SKETCH_ACC_SPARSE_MAX pairs it turns dense for
 * good: counts[] becomes the PP_SKETCH_NBINS + 1 counts indexed by bin
 * ([0] unused) and index is NULL.
 */
struct pp_sketch_acc_t
{
	pp_allocator_t alloc;		/* copy of the allocator it came from */
	uint64_t	count;			/* values in the accumulator */
	uint64_t	zero_count;		/* values in the zero bucket */
	bool		dense;			/* counts[] is indexed by bin */
	int			nbins;			/* sparse: pairs in use */
	int			cap;			/* sparse: pairs allocated */
	uint64_t   *counts;			/* sparse: per pair; dense: per index */
	uint16_t   *index;			/* sparse: per pair; dense: NULL */
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

/*
 * Add n copies of the value of bin index (0 .. NBINS, checked by the
 * caller).  When it needs a new bin and every slot is taken, return
 * PP_ERR_FULL leaving the sketch unchanged.
 */
static pp_error_code_t
sketch_add_index(pp_sketch_t *s, int index, uint32_t n)
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
	else if (sketch_find(s, index, &pos))
	{
		if (cnt[pos] > UINT32_MAX - n)
			return PP_ERR_OUT_OF_RANGE;
		cnt[pos] += n;
	}
	else
	{
		if (s->nbins >= s->capacity)
			return PP_ERR_FULL;
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
pp_sketch_add_index_exact(pp_sketch_t *s, int index, uint32_t n)
{
	if (index < 0 || index > PP_SKETCH_NBINS)
		return PP_ERR_INVALID_VALUE;
	return sketch_add_index(s, index, n);
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
	dst->nbins = src->nbins;
	memcpy(sk_count(dst), sk_ccount(src), (size_t) src->nbins * sizeof(uint32_t));
	memcpy(sk_index(dst), sk_cindex(src), (size_t) src->nbins * sizeof(uint16_t));
	return PP_OK;
}

void
pp_sketch_slot(const pp_sketch_t *s, int i, uint16_t *index, uint32_t *count)
{
	*index = sk_cindex(s)[i];
	*count = sk_ccount(s)[i];
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

/*
 * Remove one value previously added.  Fails with PP_ERR_OUT_OF_RANGE,
 * leaving the sketch unchanged, when the sketch does not hold it.
 */
pp_error_code_t
pp_sketch_remove(pp_sketch_t *s, double value_ms)
{
	uint32_t   *cnt = sk_count(s);
	int			index;
	int			pos;

	if (!isfinite(value_ms))
		return PP_ERR_INVALID_VALUE;
	index = pp_sketch_index_of(value_ms);
	if (index == 0)
	{
		if (s->zero_count == 0)
			return PP_ERR_OUT_OF_RANGE;
		s->zero_count--;
	}
	else
	{
		if (!sketch_find(s, index, &pos))
			return PP_ERR_OUT_OF_RANGE;
		if (--cnt[pos] == 0)
			sketch_delete_slots(s, pos, 1);
	}
	s->count--;
	return PP_OK;
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
	if (s->reserved_count != 0 || s->reserved_index != 0 || s->reserved != 0)
		return pp_error_set(err, PP_ERR_INVALID_VALUE, "reserved",
							"reserved fields are not 0");
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
	sum = s->zero_count;

	cnt = sk_ccount(s);
	idx = sk_cindex(s);
	prev = 0;
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
 * Accumulator: sparse while small, dense beyond PP_SKETCH_ACC_SPARSE_MAX
 * ---------------------------------------------------------------------
 */

/* Bytes of a sparse block of cap pairs: the counts, then the indexes. */
static size_t
acc_block_size(int cap)
{
	return (size_t) cap * (sizeof(uint64_t) + sizeof(uint16_t));
}

pp_sketch_acc_t *
pp_sketch_acc_create(const pp_allocator_t *a)
{
	pp_sketch_acc_t *acc;

	if (a == NULL)
		a = &pp_default_allocator;
	acc = pp_alloc0(a, sizeof(pp_sketch_acc_t));
	if (acc == NULL)
		return NULL;
	acc->alloc = *a;
	return acc;
}

/* Turn a sparse accumulator dense; PP_ERR_NO_MEMORY leaves it as it was. */
static pp_error_code_t
acc_make_dense(pp_sketch_acc_t *acc)
{
	uint64_t   *bins = pp_alloc0(&acc->alloc,
								 (PP_SKETCH_NBINS + 1) * sizeof(uint64_t));
	int			i;

	if (bins == NULL)
		return PP_ERR_NO_MEMORY;
	for (i = 0; i < acc->nbins; i++)
		bins[acc->index[i]] = acc->counts[i];
	pp_free(&acc->alloc, acc->counts);
	acc->counts = bins;
	acc->index = NULL;
	acc->dense = true;
	acc->nbins = 0;
	acc->cap = 0;
	return PP_OK;
}

/*
 * Room for `more` new pairs: a larger sparse block, or the dense form when
 * they would make more than PP_SKETCH_ACC_SPARSE_MAX.  PP_ERR_NO_MEMORY
 * leaves the accumulator as it was.
 */
static pp_error_code_t
acc_reserve(pp_sketch_acc_t *acc, int more)
{
	int			need = acc->nbins + more;
	int			cap;
	uint64_t   *counts;
	uint16_t   *index;

	if (acc->dense || need <= acc->cap)
		return PP_OK;
	if (need > PP_SKETCH_ACC_SPARSE_MAX)
		return acc_make_dense(acc);
	cap = acc->cap > 0 ? acc->cap : 4;
	while (cap < need)
		cap *= 2;
	if (cap > PP_SKETCH_ACC_SPARSE_MAX)
		cap = PP_SKETCH_ACC_SPARSE_MAX;
	counts = pp_alloc(&acc->alloc, acc_block_size(cap));
	if (counts == NULL)
		return PP_ERR_NO_MEMORY;
	index = (uint16_t *) (counts + cap);
	if (acc->nbins > 0)
	{
		memcpy(counts, acc->counts, (size_t) acc->nbins * sizeof(uint64_t));
		memcpy(index, acc->index, (size_t) acc->nbins * sizeof(uint16_t));
	}
	pp_free(&acc->alloc, acc->counts);
	acc->counts = counts;
	acc->index = index;
	acc->cap = cap;
	return PP_OK;
}

/* Sparse: binary search; true if found; *pos = pair or insertion point */
static bool
acc_find(const pp_sketch_acc_t *acc, int index, int *pos)
{
	int			lo = 0;
	int			hi = acc->nbins;

	while (lo < hi)
	{
		int			mid = (lo + hi) / 2;

		if (acc->index[mid] < index)
			lo = mid + 1;
		else
			hi = mid;
	}
	*pos = lo;
	return lo < acc->nbins && acc->index[lo] == index;
}

/* The count of bin index, or NULL when a sparse accumulator has no pair. */
static uint64_t *
acc_bin_find(pp_sketch_acc_t *acc, int index)
{
	int			pos;

	if (acc->dense)
		return &acc->counts[index];
	return acc_find(acc, index, &pos) ? &acc->counts[pos] : NULL;
}

/* The count of bin index, created at 0 if absent; NULL when out of memory. */
static uint64_t *
acc_bin(pp_sketch_acc_t *acc, int index)
{
	int			pos;

	if (!acc->dense && !acc_find(acc, index, &pos))
	{
		if (acc_reserve(acc, 1) != PP_OK)
			return NULL;
		if (!acc->dense)
		{
			memmove(&acc->counts[pos + 1], &acc->counts[pos],
					(size_t) (acc->nbins - pos) * sizeof(uint64_t));
			memmove(&acc->index[pos + 1], &acc->index[pos],
					(size_t) (acc->nbins - pos) * sizeof(uint16_t));
			acc->counts[pos] = 0;
			acc->index[pos] = (uint16_t) index;
			acc->nbins++;
			return &acc->counts[pos];
		}
	}
	return acc_bin_find(acc, index);
}

/*
 * Bins in increasing index order with a non-zero count: index 0 once they
 * are exhausted.
 */
typedef struct acc_iter_t
{
	const pp_sketch_acc_t *acc;
	int			pos;			/* dense: last index seen; sparse: pair */
	int			index;
	uint64_t	count;
} acc_iter_t;

static void
acc_iter_next(acc_iter_t *it)
{
	const pp_sketch_acc_t *acc = it->acc;
	int			p = it->pos + 1;

	if (acc->dense)
	{
		while (p <= PP_SKETCH_NBINS && acc->counts[p] == 0)
			p++;
		it->index = p <= PP_SKETCH_NBINS ? p : 0;
	}
	else
	{
		while (p < acc->nbins && acc->counts[p] == 0)
			p++;
		it->index = p < acc->nbins ? acc->index[p] : 0;
	}
	it->pos = p;
	it->count = it->index != 0 ? acc->counts[p] : 0;
}

static void
acc_iter_init(acc_iter_t *it, const pp_sketch_acc_t *acc)
{
	it->acc = acc;
	it->pos = acc->dense ? 0 : -1;
	acc_iter_next(it);
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
	else
	{
		uint64_t   *bin = acc_bin(acc, index);

		if (bin == NULL)
			return PP_ERR_NO_MEMORY;
		(*bin)++;
	}
	acc->count++;
	return PP_OK;
}

/* Capacity and bin indexes of s within range?  (guards the dense array) */
static bool
acc_sketch_in_range(const pp_sketch_t *s)
{
	const uint16_t *idx = sk_cindex(s);
	int			i;

	if (s->capacity > PP_SKETCH_MAX_CAPACITY || s->nbins > s->capacity)
		return false;
	for (i = 0; i < s->nbins; i++)
	{
		if (idx[i] == 0 || idx[i] > PP_SKETCH_NBINS)
			return false;
	}
	return true;
}

/*
 * acc += s, s of any capacity.  uint64 counts do not overflow in practice
 * (2^64 values).  The sketch's indexes are range-checked
 * (PP_ERR_INVALID_VALUE) and the room for its new bins is made
 * (PP_ERR_NO_MEMORY) before any change.  A sparse accumulator merges the
 * sorted pairs in place from the back, O(its bins + the sketch's).
 */
pp_error_code_t
pp_sketch_acc_add_sketch(pp_sketch_acc_t *acc, const pp_sketch_t *s)
{
	const uint32_t *cnt = sk_ccount(s);
	const uint16_t *idx = sk_cindex(s);
	int			more = 0;		/* s's bins without a pair */
	int			i;

	if (!acc_sketch_in_range(s))
		return PP_ERR_INVALID_VALUE;

	if (!acc->dense)
	{
		int			a = 0;
		pp_error_code_t rc;

		for (i = 0; i < s->nbins; i++)
		{
			while (a < acc->nbins && acc->index[a] < idx[i])
				a++;
			if (a == acc->nbins || acc->index[a] != idx[i])
				more++;
		}
		rc = acc_reserve(acc, more);
		if (rc != PP_OK)
			return rc;
	}

	acc->zero_count += s->zero_count;
	acc->count += s->zero_count;
	if (acc->dense)
	{
		for (i = 0; i < s->nbins; i++)
		{
			acc->counts[idx[i]] += cnt[i];
			acc->count += cnt[i];
		}
		return PP_OK;
	}
	else
	{
		/* a merge from the back into the room made above */
		int			a = acc->nbins - 1;
		int			j = s->nbins - 1;
		int			n = acc->nbins + more;
		int			w = n - 1;

		while (j >= 0)
		{
			uint64_t	c;

			if (a >= 0 && acc->index[a] > idx[j])
			{
				acc->index[w] = acc->index[a];
				acc->counts[w--] = acc->counts[a--];
				continue;
			}
			/* w may be a: read the pair before writing over it */
			c = cnt[j];
			if (a >= 0 && acc->index[a] == idx[j])
				c += acc->counts[a--];
			acc->index[w] = idx[j];
			acc->counts[w--] = c;
			acc->count += cnt[j--];
		}
		acc->nbins = n;
	}
	return PP_OK;
}

/*
 * percentile_disc estimate: the value of the smallest bin whose cumulative
 * count reaches max(1, ceil(q * n)); NaN for q outside [0, 1] (or NaN) and
 * for an empty accumulator.
 */
double
pp_sketch_acc_quantile(const pp_sketch_acc_t *acc, double q)
{
	uint64_t	rank;
	uint64_t	cum;
	acc_iter_t	it;
	int			last = 0;

	if (!(q >= 0.0 && q <= 1.0) || acc->count == 0)
		return NAN;
	rank = quantile_rank(q, acc->count);
	cum = acc->zero_count;
	if (rank <= cum)
		return 0.0;
	for (acc_iter_init(&it, acc); it.index != 0; acc_iter_next(&it))
	{
		last = it.index;
		cum += it.count;
		if (rank <= cum)
			break;
	}
	return pp_sketch_index_value(last);
}

uint64_t
pp_sketch_acc_count_above(const pp_sketch_acc_t *acc, double threshold_ms)
{
	uint64_t	n = 0;
	acc_iter_t	it;
	int			k;

	if (!(threshold_ms >= 0))
		return 0;
	k = pp_sketch_index_of(threshold_ms) + 1;
	for (acc_iter_init(&it, acc); it.index != 0; acc_iter_next(&it))
		if (it.index >= k)
			n += it.count;
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
	double		n_ab;
	double		n;
	double		d;
	double		sigma2;
	acc_iter_t	ia;
	acc_iter_t	ib;

	out->n_a = a->count;
	out->n_b = b->count;
	out->u = 0.0;
	out->effect = 0.5;
	out->z = 0.0;
	out->p = 1.0;
	if (a->count == 0 || b->count == 0)
		return;

	mw_feed(&sums, a->zero_count, b->zero_count);
	/* the bins of both, in increasing index order */
	acc_iter_init(&ia, a);
	acc_iter_init(&ib, b);
	while (ia.index != 0 || ib.index != 0)
	{
		if (ib.index == 0 || (ia.index != 0 && ia.index < ib.index))
		{
			mw_feed(&sums, ia.count, 0);
			acc_iter_next(&ia);
		}
		else if (ia.index == 0 || ib.index < ia.index)
		{
			mw_feed(&sums, 0, ib.count);
			acc_iter_next(&ib);
		}
		else
		{
			mw_feed(&sums, ia.count, ib.count);
			acc_iter_next(&ia);
			acc_iter_next(&ib);
		}
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
