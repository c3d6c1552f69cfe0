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

/*
 * Merge into visit the rollups that can stand for the table's rows of
 * [t0, t1] ([t0, t1) when end_open) -- no bucket straddling mid -- and
 * list in plan the ranges left to read from the table, in
 * CurrentMemoryContext.  The profiles and the operations (PP_KIND_ROOT,
 * PP_KIND_OPERATION), or, when paths, the call paths (PP_KIND_PATH, by
 * their stored names, counters only).  False (nothing visited) when no
 * rollup serves.  Rollups are handed over with a transient name: visit
 * must copy it.
 */
extern bool pp_rollup_collect(TimestampTz t0, TimestampTz t1, bool end_open,
							  TimestampTz mid, bool paths,
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
