/*-------------------------------------------------------------------------
 *
 * src/rollups.h
 *	  Statistics persisted per closed time bucket (performance_rollups).
 *
 *-------------------------------------------------------------------------
 */
#ifndef PP_ROLLUPS_H
#define PP_ROLLUPS_H

#include "postgres.h"

#include "datatype/timestamp.h"
#include "utils/rel.h"

#include "shmem.h"
#include "sketch.h"

/*
 * Write the rollups due in the current database (pp_rollup()); returns the
 * rows written.
 */
extern int	pp_rollup_write(void);

/*
 * Start the background pp_rollup() of dbid when a minute closed since the
 * last one.
 */
extern void pp_rollup_request(Oid dbid);

/*
 * A row change of performance_profiles (rel; its row trigger): mark the
 * minute of created_at when its rollup may have been written.
 */
extern void pp_rollup_note(Relation rel, TimestampTz created_at, bool deleted);

/*
 * Read a stored rollup into c and the sketches, which point to
 * PP_SKETCH_SIZE(PP_SKETCH_MAX_CAPACITY) bytes each; *flags says which
 * sketches it has (src/core/rollup.h).  ERROR when data is not a rollup.
 */
extern void pp_rollup_read_data(bytea *data, PPCounters *c,
								pp_sketch_t *durations, pp_sketch_t *ttft,
								uint8 *flags);

/* The deepest call path a rollup's stored name may hold */
#define PP_ROLLUP_PATH_DEPTH_MAX 1000

/*
 * Split the stored name of a call path (kind 'c': each name, root first,
 * as "length:name") into at most max names; returns how many, -1 when it
 * is not one.
 */
extern int	pp_rollup_path_names(const char *name, int name_len,
								 const char **names, int *name_lens, int max);

/*
 * Split the stored name of a dimension's entry (kind 'd'): the dimension's
 * identity, its operation and value (*value_len -1 for the nodes without
 * one).  False when it is not one.
 */
extern bool pp_rollup_dim_name(const char *name, int name_len, uint64 *dim_id,
							   const char **op, int *op_len,
							   const char **value, int *value_len);

/*
 * The configuration that computes what rollups hold changed (usage_keys,
 * model_prices, in schema nsp): mark every bucket that still has raw rows
 * stale, in this transaction -- one mark at -infinity, which readers and
 * pp_rollup() take for every bucket from the oldest profile on.  Older
 * buckets, whose rows pp_purge deleted, keep what they were computed with.
 */
extern void pp_rollup_mark_all(Oid nsp);

/* performance_profiles (rel) was truncated: so are its rollups. */
extern void pp_rollup_truncated(Relation rel);

#endif							/* PP_ROLLUPS_H */
