/*-------------------------------------------------------------------------
 *
 * src/core/rollup.h
 *	  The stored form of one closed time bucket of statistics (a rollup):
 *	  its counters and up to two sketches, in a compact, versioned byte
 *	  string that the server keeps in a bytea column.
 *
 * Layout, every integer a LEB128 varint unless said otherwise:
 *
 *	version (1 byte, PP_ROLLUP_VERSION)
 *	flags (1 byte: PP_ROLLUP_HAS_DURATIONS, PP_ROLLUP_HAS_TTFT; others 0)
 *	n_ints, then n_ints signed integers (zigzag)
 *	n_floats, then n_floats doubles (8 bytes each, IEEE 754, little endian)
 *	for each sketch the flags announce, durations first:
 *		zero_count, nbins, then nbins pairs (index - previous index, count),
 *		the first index counted from 0
 *
 * The counters are lists, not a struct, so that a later version of the
 * server can append counters: a decoder takes the counts it finds, and the
 * caller decides what a missing counter means.  A sketch is stored by its
 * used bins only: a bucket of 700 durations over 60 bins takes about 200
 * bytes instead of the 800-byte image of shared memory.
 *
 * pp_rollup_decode trusts nothing: it reads only inside [buf, buf + len),
 * rejects a truncated or over-long varint, trailing bytes, a NaN, more
 * counters than PP_ROLLUP_MAX_INTS / PP_ROLLUP_MAX_FLOATS, bins out of
 * order or out of range, a zero count, and totals that overflow; a sketch
 * it returns passes pp_sketch_validate.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PP_ROLLUP_H
#define PP_ROLLUP_H

#include "pp_core.h"
#include "sketch.h"

#define PP_ROLLUP_VERSION		1

#define PP_ROLLUP_HAS_DURATIONS	0x01
#define PP_ROLLUP_HAS_TTFT		0x02

#define PP_ROLLUP_MAX_INTS		32
#define PP_ROLLUP_MAX_FLOATS	16

/* The counters of a bucket, as the server lists them. */
typedef struct pp_rollup_t
{
	int			n_ints;
	int64_t		ints[PP_ROLLUP_MAX_INTS];
	int			n_floats;
	double		floats[PP_ROLLUP_MAX_FLOATS];
} pp_rollup_t;

/*
 * Most bytes pp_rollup_encode writes for r and the two sketches (either
 * may be NULL).
 */
extern size_t pp_rollup_bound(const pp_rollup_t *r, const pp_sketch_t *durations,
							  const pp_sketch_t *ttft);

/*
 * Write r and the sketches (NULL: none) into buf, which holds at least
 * pp_rollup_bound() bytes; returns the bytes written.  r's counts must be
 * within the maxima and its doubles not NaN (PP_ERR_INVALID_VALUE
 * otherwise, nothing meaningful written).
 */
extern pp_error_code_t pp_rollup_encode(const pp_rollup_t *r,
										const pp_sketch_t *durations,
										const pp_sketch_t *ttft,
										uint8_t *buf, size_t *len);

/*
 * Read a rollup.  durations and ttft point to
 * PP_SKETCH_SIZE(PP_SKETCH_MAX_CAPACITY) bytes each; a sketch the rollup
 * has is initialised there with as many slots as it has bins (so only
 * PP_SKETCH_SIZE(nbins) bytes are written); *flags says which.
 * Returns PP_OK, or PP_ERR_INVALID_VALUE with err saying where.
 */
extern pp_error_code_t pp_rollup_decode(const uint8_t *buf, size_t len,
										pp_rollup_t *r, uint8_t *flags,
										pp_sketch_t *durations,
										pp_sketch_t *ttft,
										pp_error_t *err);

#endif							/* PP_ROLLUP_H */
