/*-------------------------------------------------------------------------
 *
 * src/core/sketch.h
 *	  Quantile sketch over durations in milliseconds (DDSketch-style
 *	  log-bucketed histogram with a 0.5% relative-error guarantee), in a
 *	  fixed-size form for shared memory and an accumulator (sparse while
 *	  small, then dense) for query time.
 *
 * Bins.  With alpha = PP_SKETCH_ALPHA = 0.005 and gamma = (1 + alpha) /
 * (1 - alpha), a value x > 0 falls into the bin with key
 * k = ceil(log_gamma(x)), i.e. gamma^(k-1) < x <= gamma^k.  Keys run from
 * PP_SKETCH_KEY_MIN (bin upper edge ~1.0002e-4 ms) to PP_SKETCH_KEY_MAX
 * (upper edge ~2.17e9 ms, 25 days), PP_SKETCH_NBINS = 3072 keys in all,
 * stored as a 1-based uint16 "index" (index = k - KEY_MIN + 1; index 0 is
 * never a valid bin).  Values at or below gamma^(KEY_MIN-1) (~9.90e-5 ms),
 * negatives included, are counted in an exact zero bucket; values above the
 * top bin are counted in the top bin.  So every value from 0.001 ms to
 * 1e9 ms is resolved with the relative guarantee below.
 *
 * Guarantee (see the proof in sketch.c): for any q, pp_sketch_acc_quantile
 * returns v with |v - x| <= alpha * x, where x is the exact percentile_disc
 * value of the multiset of values held (the smallest value whose
 * cumulative count reaches ceil(q * n)) -- provided x lies in the
 * indexable range.  The bins are plain integer counts, so adding sketches
 * and removing values are exact: the guarantee survives any sequence of
 * them.
 *
 * Storage.  A dense sketch needs 3072 counters (12-24 KB); there are
 * thousands of time buckets per operation in shared memory.  pp_sketch_t
 * therefore keeps at most `capacity` non-empty bins as a sorted array of
 * (uint16 index, uint32 count) pairs.  The capacity is a runtime property
 * of each sketch (set by pp_sketch_init, 1 .. PP_SKETCH_MAX_CAPACITY): the
 * server's bucket sketches live in blocks of src/core/arena.c and move to
 * a larger block (pp_sketch_copy) when pp_sketch_add_index_exact says they
 * are full, so no value is ever approximated beyond its bin.  A sketch
 * occupies PP_SKETCH_SIZE(capacity) bytes: a 32-byte header, then the
 * count array, then the index array, then zero padding to a multiple of 8
 * bytes.  It contains no pointer, can be memcpy'd, kept in shared memory
 * and written to a dump file as is (host byte order; the dump header
 * carries PP_SKETCH_FORMAT_VERSION).  Unused slots, reserved fields and
 * padding are always zero, so equal contents compare equal with memcmp
 * over PP_SKETCH_SIZE(capacity).
 *
 * Every function but pp_sketch_validate assumes a valid sketch (one made
 * by these functions, or one pp_sketch_validate accepted).
 *
 * The accumulator (pp_sketch_acc_t) holds uint64 counts for any of the
 * 3072 bins, lives on the heap (pp_allocator_t) and is used at query time
 * to sum many pp_sketch_t of any capacity, answer quantiles and compare
 * two samples (Mann-Whitney U, ties resolved at bin width).  It is sparse
 * -- sorted (bin, count) pairs, 10 bytes each -- up to
 * PP_SKETCH_ACC_SPARSE_MAX bins, and dense (all 3072 bins, about 24.6 KB)
 * beyond: an operation seen a few times in a window costs a few dozen
 * bytes, a busy one what it always did.  It is freed with the allocator's
 * memory (the server's memory context).
 *
 * No PostgreSQL headers; allocation through pp_allocator_t.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PP_SKETCH_H
#define PP_SKETCH_H

#include "pp_core.h"

/* On-disk/shared-memory layout version of pp_sketch_t; bump on any change */
#define PP_SKETCH_FORMAT_VERSION	2

#define PP_SKETCH_ALPHA			0.005	/* relative accuracy */
#define PP_SKETCH_KEY_MIN		(-921)	/* ceil(log_gamma(1e-4)) */
#define PP_SKETCH_NBINS			3072
#define PP_SKETCH_KEY_MAX		(PP_SKETCH_KEY_MIN + PP_SKETCH_NBINS - 1)

/*
 * Largest value counted in the zero bucket, ms: gamma^(KEY_MIN - 1), about
 * 9.90e-5 ms.  (The bin map is computed from keys, this is informative.)
 */
#define PP_SKETCH_ZERO_MAX_MS	9.90310783e-5

/*
 * PP_SKETCH_MAX_CAPACITY = PP_SKETCH_NBINS: a sketch of that capacity
 * (18464 bytes) has a slot for every bin and is never full.
 */
#define PP_SKETCH_MAX_CAPACITY		PP_SKETCH_NBINS

/*
 * The header; in memory it is followed by uint32_t bin_count[capacity]
 * (values per slot, > 0 for used slots, 0 otherwise), then uint16_t
 * bin_index[capacity] (strictly increasing, in 1 .. NBINS; 0 for unused
 * slots), then zero bytes up to PP_SKETCH_SIZE(capacity).  The
 * caller provides PP_SKETCH_SIZE(capacity) bytes, 8-byte aligned.
 */
typedef struct pp_sketch_t
{
	uint64_t	count;			/* values in the sketch (all stores) */
	uint64_t	zero_count;		/* values <= PP_SKETCH_ZERO_MAX_MS, negatives
								 * included */
	uint64_t	reserved_count; /* always 0 (formerly collapsed values) */
	uint16_t	reserved_index; /* always 0 (formerly a bin index) */
	uint16_t	nbins;			/* slots in use, 0..capacity */
	uint16_t	capacity;		/* slots, 1..PP_SKETCH_MAX_CAPACITY */
	uint16_t	reserved;		/* always 0 */
	/* uint32_t bin_count[capacity]; uint16_t bin_index[capacity]; padding */
} pp_sketch_t;

/*
 * Total bytes of a sketch of that capacity (header, both slot arrays, zero
 * padding to a multiple of 8): 800 for 128 slots, 3104 for 512, 18464 for
 * 3072.  An integer constant expression when capacity is one.
 */
#define PP_SKETCH_SIZE(capacity) \
	((size_t) ((sizeof(pp_sketch_t) + \
				(size_t) (capacity) * (sizeof(uint32_t) + sizeof(uint16_t)) + \
				7) & ~(size_t) 7))

/* Value <-> bin mapping (exposed for tests and the glue) */
extern int	pp_sketch_index_of(double value_ms);	/* 0 = zero bucket */
extern double pp_sketch_index_value(int index);	/* representative, ms */

/*
 * Fixed-size sketch.  pp_sketch_init zeroes the PP_SKETCH_SIZE(capacity)
 * bytes the caller provides at s; capacity 1..PP_SKETCH_MAX_CAPACITY.
 * pp_sketch_validate checks size readable bytes at s (it reads nothing
 * beyond): size >= PP_SKETCH_SIZE(s->capacity) is required.
 */
extern void pp_sketch_init(pp_sketch_t *s, uint16_t capacity);

/*
 * Add n copies of the value of bin index (pp_sketch_index_of's result,
 * 0 .. NBINS; PP_ERR_INVALID_VALUE otherwise): one mapping serves several
 * sketches.  When the value needs a new bin and all `capacity` slots are
 * taken, return PP_ERR_FULL and leave the sketch unchanged (the caller
 * copies it into a larger capacity and adds again).
 */
extern pp_error_code_t pp_sketch_add_index_exact(pp_sketch_t *s, int index,
												 uint32_t n);

/* Remove one value added before; PP_ERR_OUT_OF_RANGE when it is absent. */
extern pp_error_code_t pp_sketch_remove(pp_sketch_t *s, double value_ms);

/*
 * Copy src into the PP_SKETCH_SIZE(capacity) bytes at dst (not overlapping
 * src) as a sketch of that capacity, the same values in the same bins:
 * PP_ERR_FULL when capacity < src->nbins, PP_ERR_INVALID_VALUE when it is
 * not 1 .. PP_SKETCH_MAX_CAPACITY; dst is untouched then.
 */
extern pp_error_code_t pp_sketch_copy(pp_sketch_t *dst, uint16_t capacity,
									  const pp_sketch_t *src);

/* The i-th used slot of s (0 .. nbins - 1): its bin index and count. */
extern void pp_sketch_slot(const pp_sketch_t *s, int i, uint16_t *index,
						   uint32_t *count);

/* Largest capacity whose PP_SKETCH_SIZE fits in bytes; 0 when none does. */
extern uint16_t pp_sketch_capacity_in(size_t bytes);
extern pp_error_code_t pp_sketch_validate(const pp_sketch_t *s, size_t size,
										  pp_error_t *err);

/*
 * Accumulator (query time).  PP_SKETCH_ACC_SPARSE_MAX: the most bins kept
 * as sparse pairs.  256 pairs (2.5 KB) are a tenth of the dense form; past
 * that the dense form's O(1) bin lookup and O(m) merge of an m-bin sketch
 * beat the pairs' binary search, O(n) insertion and O(n + m) merge, and a
 * 512-slot hour sketch from shared memory (merged under the shared lock)
 * makes an accumulator dense at once, as before.
 *
 * Adding a value or a sketch can need memory: PP_ERR_NO_MEMORY then leaves
 * the accumulator as it was.
 */
#define PP_SKETCH_ACC_SPARSE_MAX	256

typedef struct pp_sketch_acc_t pp_sketch_acc_t;

extern pp_sketch_acc_t *pp_sketch_acc_create(const pp_allocator_t *a);
extern pp_error_code_t pp_sketch_acc_add(pp_sketch_acc_t *acc,
										 double value_ms);
extern pp_error_code_t pp_sketch_acc_add_sketch(pp_sketch_acc_t *acc,
												const pp_sketch_t *s);

/*
 * percentile_disc estimate (the guarantee above); NaN for q outside
 * [0, 1] and for an empty accumulator.
 */
extern double pp_sketch_acc_quantile(const pp_sketch_acc_t *acc, double q);

/*
 * Values above threshold_ms: the values of every bin that lies entirely
 * above it (those of the threshold's own bin, within 1% of it, are not
 * counted).
 */
extern uint64_t pp_sketch_acc_count_above(const pp_sketch_acc_t *acc,
										  double threshold_ms);

/*
 * Mann-Whitney U test between the samples held by two accumulators, values
 * in the same bin counting as ties (the sketch cannot order them).  The
 * bins, in increasing value order, are the zero bucket (negatives
 * included), then each index (the top bin also holds every larger value).
 */
typedef struct pp_mann_whitney_t
{
	uint64_t	n_a;			/* values in a */
	uint64_t	n_b;			/* values in b */
	double		u;				/* U of b: pairs (a value, b value) with the
								 * b value higher, ties counting 1/2 */
	double		effect;			/* u / (n_a n_b) = P(b > a) + P(b = a) / 2,
								 * 0..1; 0.5 when a sample is empty */
	double		z;				/* (u - n_a n_b / 2), moved 0.5 toward 0,
								 * over its tie-corrected standard deviation;
								 * > 0 when b tends higher; 0 when a sample is
								 * empty or every value ties */
	double		p;				/* two-sided p-value of z */
} pp_mann_whitney_t;

extern void pp_sketch_acc_mann_whitney(const pp_sketch_acc_t *a,
									   const pp_sketch_acc_t *b,
									   pp_mann_whitney_t *out);

#endif							/* PP_SKETCH_H */
