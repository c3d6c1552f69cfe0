/*-------------------------------------------------------------------------
 *
 * src/window.h
 *	  Per-operation aggregates of a time window, whichever way they were
 *	  obtained (shared buckets, table edges, or the table alone).
 *
 *-------------------------------------------------------------------------
 */
#ifndef PP_WINDOW_H
#define PP_WINDOW_H

#include "postgres.h"

#include "utils/hsearch.h"

#include "config.h"
#include "shmem.h"
#include "tree.h"

#define PP_EXAMPLES 3

/*
 * The row that stands for the operations a window holds beyond
 * ppprof.max_window_operations (docs/statistics.md): its counts and sums
 * are exact, it has no sketch (no percentiles) and no examples.
 */
#define PP_FOLD_NAME	"(other)"
#define PP_FOLD_TYPE	"(folded)"

/*
 * The key of a hash table of names, (name, name_len), with its HASHCTL hash
 * and match: the entries begin with these two fields, as PPAgg does, and
 * keysize covers them.
 */
typedef struct PPNameKey
{
	const char *name;
	int			name_len;
} PPNameKey;

extern uint32 pp_name_key_hash(const void *key, Size keysize);
extern int	pp_name_key_match(const void *key1, const void *key2, Size keysize);

typedef struct PPAgg
{
	const char *name;			/* hash key with name_len (a PPNameKey):
								 * NUL-terminated, in the window's memory */
	int			name_len;
	bool		folded;			/* the fold row (PP_FOLD_NAME) */
	PPCounters	c;
	PPCounters	early;			/* the older half of the window */
	PPCounters	late;			/* the newer half */
	pp_sketch_acc_t *acc;		/* durations; NULL for the fold row */
	pp_sketch_acc_t *ttft_acc;	/* times to first token; NULL until one
								 * (never empty), and for the fold row */
	int			n_examples;		/* slowest profiles read from the table */
	double		example_ms[PP_EXAMPLES];
	pg_uuid_t	examples[PP_EXAMPLES];
} PPAgg;

typedef struct PPWindow
{
	TimestampTz t0;				/* window is [t0, t1] */
	TimestampTz t1;
	TimestampTz mid;			/* splits the window in halves (degrading) */
	bool		from_table;		/* answered from the table alone */
	bool		from_rollups;	/* from rollups and the rows they lack */
	const char *why;			/* why not from shared memory */
	HTAB	   *ops;			/* name -> PPAgg, operations, at most
								 * ppprof.max_window_operations */
	PPAgg		root;			/* the profiles themselves */
	PPAgg		other;			/* the operations beyond the cap, folded */
	const char *last_name;		/* the operation visited last (shmem name) */
	int			last_kind;
	PPAgg	   *last_agg;
} PPWindow;

/*
 * Fill w for [t0, t1] of the current database -- [t0, t1) when end_open --
 * in CurrentMemoryContext.
 */
extern void pp_window_read(PPWindow *w, TimestampTz t0, TimestampTz t1,
						   bool end_open);

/* The operation name of a window, NULL when absent (or folded). */
extern PPAgg *pp_window_find(PPWindow *w, const char *name, int name_len);

/* Sample standard deviation of a PPCounters, 0 when calls < 2. */
extern double pp_counters_stddev(const PPCounters *c);

/* Quantile of an aggregate's times to first token (NaN when none). */
extern double pp_agg_ttft_quantile(const PPAgg *a, double q);

/* Quantile of an aggregate (NaN when empty). */
extern double pp_agg_quantile(const PPAgg *a, double q);

/* The interval argument of an SQL function as [now() - window, now()]. */
extern void pp_window_bounds(Datum window, TimestampTz *t0, TimestampTz *t1);

/*
 * A finite, non-empty tstzrange argument as [t0, t1] or [t0, t1)
 * (*end_open); 'what' names the argument in errors.
 */
extern void pp_range_bounds(Datum range, const char *what, TimestampTz *t0,
							TimestampTz *t1, bool *end_open);

/* Once per session: the statistics are read from the table (not preloaded). */
extern void pp_window_notice_no_preload(void);

/* Receives one valid profile of the table (pp_window_scan). */
typedef void (*pp_row_visitor) (void *arg, const pp_tree_t *tree,
								const PPNodeObs *obs, TimestampTz at,
								const pg_uuid_t *id, double total_ms);

extern void pp_window_scan(PPConfig *cfg, TimestampTz from, TimestampTz to,
						   bool inclusive, pp_row_visitor visit, void *arg);

/* Receives one row of a query of pp_window_scan_query. */
typedef void (*pp_stored_row_visitor) (void *arg, Datum profile,
									   double total_ms, TimestampTz at,
									   const pg_uuid_t *id);

/*
 * The table read of pp_window_scan, for another query of the same columns
 * (profile_data, total_duration_ms, created_at, id), without the scan cache.
 */
extern void pp_window_scan_query(Oid owner, const char *query, int nargs,
								 Oid *argtypes, Datum *args, bool read_only,
								 pp_stored_row_visitor visit, void *arg);

/*
 * Keep what pp_window_scan reads from the table, in a child of
 * CurrentMemoryContext, until pp_window_scan_cache_end (or that context's
 * end): a later scan of a range inside one already read replays its
 * profiles instead of reading the table again.  For the reads of one
 * statement (one snapshot); begin ends a cache still open.
 */
extern void pp_window_scan_cache_begin(void);
extern void pp_window_scan_cache_end(void);

#endif							/* PP_WINDOW_H */
