/*-------------------------------------------------------------------------
 *
 * src/rollup_read.h
 *	  Answer a window from the rollups and the table rows they do not hold.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PP_ROLLUP_READ_H
#define PP_ROLLUP_READ_H

#include "postgres.h"

#include "datatype/timestamp.h"

#include "shmem.h"

/* day, hour, minute */
#define PP_ROLLUP_WIDTHS 3

/* [from, to), or [from, to] when inclusive. */
typedef struct PPTimeRange
{
	TimestampTz from;
	TimestampTz to;
	bool		inclusive;
} PPTimeRange;

typedef struct PPRollupPlan
{
	int			n_buckets;		/* rollups merged */
	int			n_rest;			/* ranges left to read from the table */
	int			cap_rest;
	PPTimeRange *rest;			/* in time order */
} PPRollupPlan;

/* What pp_rollup_collect visits and which buckets it may take */
#define PP_ROLLUP_PATHS		0x01	/* the call paths, not the operations */
#define PP_ROLLUP_NO_DAYS	0x02	/* hours and minutes only */
#define PP_ROLLUP_MINUTES	0x04	/* minutes only */
#define PP_ROLLUP_UNFOLDED	0x08	/* no bucket that has a fold row */
#define PP_ROLLUP_DIMS		0x10	/* the dimensions' values (PP_KIND_DIM, by
									 * their stored names: pp_rollup_dim_name) */

/*
 * Merge into visit the rollups that can stand for the table's rows of
 * [t0, t1] ([t0, t1) when end_open) -- no bucket straddling mid -- and
 * list in plan the ranges left to read from the table, in
 * CurrentMemoryContext.  The profiles and the operations (PP_KIND_ROOT,
 * PP_KIND_OPERATION), or, with PP_ROLLUP_PATHS, the call paths
 * (PP_KIND_PATH, by their stored names, counters only), or with
 * PP_ROLLUP_DIMS the dimensions' values.  The buckets taken depend on the
 * coverage and on the flags that say which buckets only, so the
 * operations, the paths and the dimensions of one range take the same
 * buckets.  False
 * (nothing visited) when no rollup serves.  Rollups are handed over with a
 * transient name: visit must copy it.
 */
extern bool pp_rollup_collect(TimestampTz t0, TimestampTz t1, bool end_open,
							  TimestampTz mid, int flags,
							  pp_bucket_visitor visit, void *arg,
							  PPRollupPlan *plan);

/*
 * Between these, the windows inside [t0, t1] read which rollups exist and
 * which are marked once, for all of them (a trend: one statement, one
 * snapshot).  The memory is a child of CurrentMemoryContext at begin.
 */
extern void pp_rollup_cache_begin(TimestampTz t0, TimestampTz t1);
extern void pp_rollup_cache_end(void);

#endif							/* PP_ROLLUP_READ_H */
