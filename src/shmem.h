/*-------------------------------------------------------------------------
 *
 * src/shmem.h
 *	  Live per-operation statistics in shared memory: what a committed
 *	  profile adds, how a window is read back.  See shmem.c.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PP_SHMEM_H
#define PP_SHMEM_H

#include "postgres.h"

#include "common/hashfn.h"
#include "datatype/timestamp.h"
#include "utils/uuid.h"

#include "patterns.h"
#include "reservoir.h"
#include "sketch.h"

/*
 * Windows at least this long read whole hours from hour buckets; shorter
 * ones read minute buckets only, so that their middle (window.c) never
 * falls inside a bucket.
 */
#define PP_HOUR_BUCKETS_FROM	(3 * USECS_PER_HOUR)

/* What a tracked entry is */
/* pp_info() keeps this much of the last rejection's reason */
#define PP_REJECTED_REASON_LEN	256

#define PP_KIND_OPERATION	0	/* one operation_name of a database */
#define PP_KIND_ROOT		1	/* the profiles themselves (one per database) */
#define PP_KIND_PATH		2	/* one call path root -> ... -> node of a
								 * database (its own slots: ppprof.max_paths) */
#define PP_KIND_DIM			3	/* one (dimension, value, operation) of a
								 * database (its own slots:
								 * ppprof.max_dimension_entries) */

/*
 * Dimensions kept in shared memory: the first PP_DIM_LIVE declared, in byte
 * order of their names (src/dimensions.c); the others are read from the
 * table.
 */
#define PP_DIM_LIVE 8

/*
 * The value of one node for one live dimension, its own or inherited
 * (src/dimensions.c): value_len -1 when it has none.
 */
typedef struct PPDimObs
{
	const char *value;			/* not NUL-terminated */
	int			value_len;
	uint64		hash;			/* of the value's bytes; 0 when none */
} PPDimObs;

/* Counters of one time bucket; the same struct aggregates a window. */
typedef struct PPCounters
{
	int64		calls;			/* nodes (profiles for ROOT) */
	int64		errors;			/* failed nodes (failed profiles for ROOT) */
	double		sum_ms;			/* sum of durations, ms */
	double		sumsq_ms;		/* sum of squared durations, ms^2 */
	double		self_sum_ms;	/* sum of self times, ms */
	double		min_ms;			/* smallest duration added (deletions do not
								 * raise it) */
	double		max_ms;			/* largest duration added (deletions do not
								 * lower it) */
	TimestampTz first_at;		/* earliest created_at added */
	TimestampTz last_at;		/* latest created_at added */
	int64		repeat_calls;	/* nodes in a same-name sibling group of >=
								 * PP_REPEAT_MIN (n_plus_one) */
	int64		repeat_groups;	/* such groups */
	int64		parallel_parents;	/* nodes whose sequential same-type
									 * children could run at once */
	double		parallel_saving_ms; /* what that would save, ms */
	int64		cache_hits;		/* nodes whose metadata says cache hit */
	int64		cache_misses;	/* ... says cache miss */
	int64		input_tokens;	/* sums of the nodes' usage (src/usage.c) */
	int64		output_tokens;
	int64		cost_nusd;		/* nano-USD; int64 sums are exact, and wrap
								 * back (-fwrapv) when a deletion subtracts */
} PPCounters;

/* One node of a committed row, as the statistics consume it. */
typedef struct PPNodeObs
{
	const char *name;			/* not NUL-terminated */
	int			name_len;
	uint64		name_hash;
	double		duration_ms;
	double		self_ms;
	bool		failed;
	bool		repeated;		/* see src/core/patterns.h */
	bool		repeat_first;
	double		parallel_saving_ms;
	int8		cache;			/* PP_CACHE_* of src/core/tree.h */
	int64		input_tokens;	/* from metadata (src/usage.c), 0 if none */
	int64		output_tokens;
	int64		cost_nusd;		/* explicit or priced, nano-USD; 0 if none
								 * or unknown */
	double		ttft_ms;		/* time to first token, -1 if not known */
	bool		cost_unknown;	/* tokens, but no cost_usd and no price */
	int16		usage_ignored;	/* mapped metadata values not valid */
	const char *model;			/* its usage model and provider, pointing
								 * into its metadata (NULL: none); for the
								 * dimensions, while the row is staged */
	int			model_len;
	const char *provider;
	int			provider_len;
	int32		parent;			/* index of the parent among the row's
								 * nodes, -1 for the root */
	uint64		path_hash;		/* hash of the call path root -> ... -> this
								 * node (pp_path_hash) */
	int32		path_slot;		/* scratch of pp_shmem_apply: the node's
								 * path entry while its row is applied */
} PPNodeObs;

/*
 * The hash of the call path that ends in a node named name_hash under the
 * path parent_hash (0 for a root): names are hashed once, paths combine.
 */
#define PP_PATH_SEED	UINT64CONST(0x70705f7061746873)	/* "pp_paths" */
static inline uint64
pp_path_hash(uint64 parent_hash, uint64 name_hash)
{
	return hash_combine64(parent_hash == 0 ? PP_PATH_SEED : parent_hash,
						  name_hash);
}

/* What one row change does to the statistics. */
typedef enum PPChangeKind
{
	PP_CHANGE_ADD,				/* an inserted row, or the new side of an
								 * UPDATE */
	PP_CHANGE_REMOVE,			/* a deleted row, or the old side */
	PP_CHANGE_TRUNCATE,			/* the table was truncated */
	PP_CHANGE_REJECTED			/* a replicated row stored as rejected: no
								 * statistic, only pp_info()'s count */
} PPChangeKind;

typedef struct PPRowChange
{
	PPChangeKind kind;
	bool		confirmed;		/* the row really was written (see observe.c) */
	SubTransactionId subid;		/* subtransaction that made the change */
	TimestampTz created_at;
	pg_uuid_t	id;
	double		total_ms;		/* total_duration_ms column */
	double		ingest_us;		/* time the BEFORE trigger took, 0 if unknown */
	bool		failed;			/* any node failed */
	int32		usage_ignored;	/* its nodes' usage_ignored */
	int32		cost_unknown;	/* its nodes whose cost is unknown */
	int			first_node;		/* index into the node array */
	int			n_nodes;
	int			first_dim;		/* index into the dimension values: node k's
								 * value of dimension d is at first_dim + k *
								 * n_dims + d */
	int			n_dims;			/* live dimensions */
	uint64		dims_sig;		/* pp_dimensions_signature() of the
								 * declarations the values were read with */
	uint64		dim_ids[PP_DIM_LIVE];	/* their identities */
} PPRowChange;

/* Where the shared buckets stop and the table must be read. */
typedef struct PPWindowPlan
{
	bool		use_table;		/* whole window from the table */
	bool		invalid;		/* because the statistics are not valid */
	bool		rebuild;		/* rows once dated in the future are due:
								 * invalidate and rebuild */
	const char *why;			/* when use_table: the reason */
	TimestampTz edge_lo_from;	/* old edge read from the table: */
	TimestampTz edge_lo_to;		/* [from, to), empty when from == to */
	TimestampTz edge_hi_from;	/* new edge read from the table: */
	TimestampTz edge_hi_to;		/* [from, to], empty when from > to; */
	bool		edge_hi_open;	/* [from, to) for a half-open window */
} PPWindowPlan;

/* Add one observation (sign +1) or remove it (-1). */
static inline void
pp_counters_add(PPCounters *c, int sign, const PPNodeObs *o, TimestampTz at)
{
	c->calls += sign;
	c->errors += o->failed ? sign : 0;
	c->sum_ms += sign * o->duration_ms;
	c->sumsq_ms += sign * o->duration_ms * o->duration_ms;
	c->self_sum_ms += sign * o->self_ms;
	c->repeat_calls += o->repeated ? sign : 0;
	c->repeat_groups += o->repeat_first ? sign : 0;
	c->parallel_parents += o->parallel_saving_ms > 0 ? sign : 0;
	c->parallel_saving_ms += sign * o->parallel_saving_ms;
	c->cache_hits += o->cache == PP_CACHE_HIT ? sign : 0;
	c->cache_misses += o->cache == PP_CACHE_MISS ? sign : 0;
	c->input_tokens += sign * o->input_tokens;
	c->output_tokens += sign * o->output_tokens;
	c->cost_nusd += sign * o->cost_nusd;
	if (sign > 0)
	{
		if (c->calls == 1 || o->duration_ms < c->min_ms)
			c->min_ms = o->duration_ms;
		if (c->calls == 1 || o->duration_ms > c->max_ms)
			c->max_ms = o->duration_ms;
		if (c->calls == 1 || at < c->first_at)
			c->first_at = at;
		if (c->calls == 1 || at > c->last_at)
			c->last_at = at;
	}
}

/*
 * The usage of a profile's own row (PP_KIND_ROOT) into root: the sums of
 * its n nodes' tokens and cost (a call recorded on two nested nodes counts
 * twice); no time to first token.
 */
static inline void
pp_obs_sum_usage(PPNodeObs *root, const PPNodeObs *nodes, int n)
{
	int			i;

	for (i = 0; i < n; i++)
	{
		root->input_tokens += nodes[i].input_tokens;
		root->output_tokens += nodes[i].output_tokens;
		root->cost_nusd += nodes[i].cost_nusd;
	}
	root->ttft_ms = -1;
}

/* Merge counters src into dst. */
static inline void
pp_counters_merge(PPCounters *dst, const PPCounters *src)
{
	if (src->calls <= 0)
		return;
	if (dst->calls == 0 || src->min_ms < dst->min_ms)
		dst->min_ms = src->min_ms;
	if (dst->calls == 0 || src->max_ms > dst->max_ms)
		dst->max_ms = src->max_ms;
	if (dst->calls == 0 || src->first_at < dst->first_at)
		dst->first_at = src->first_at;
	if (dst->calls == 0 || src->last_at > dst->last_at)
		dst->last_at = src->last_at;
	dst->calls += src->calls;
	dst->errors += src->errors;
	dst->sum_ms += src->sum_ms;
	dst->sumsq_ms += src->sumsq_ms;
	dst->self_sum_ms += src->self_sum_ms;
	dst->repeat_calls += src->repeat_calls;
	dst->repeat_groups += src->repeat_groups;
	dst->parallel_parents += src->parallel_parents;
	dst->parallel_saving_ms += src->parallel_saving_ms;
	dst->cache_hits += src->cache_hits;
	dst->cache_misses += src->cache_misses;
	dst->input_tokens += src->input_tokens;
	dst->output_tokens += src->output_tokens;
	dst->cost_nusd += src->cost_nusd;
}

/* Receives the shared buckets of a window, under the shared lock. */
typedef void (*pp_bucket_visitor) (void *arg, int kind, const char *name,
								   int name_len, TimestampTz start,
								   const PPCounters *c,
								   const pp_sketch_t *sketch,
								   const pp_sketch_t *ttft_sketch);

/*
 * Receives the shared buckets of a call path: id is the same for every
 * bucket of one path (and stays valid under the lock), names[0 .. depth-1]
 * its names from the root, NUL-terminated.
 */
typedef void (*pp_path_visitor) (void *arg, const void *id, int depth,
								 const char *const *names,
								 const int *name_lens, TimestampTz start,
								 const PPCounters *c);

extern void pp_shmem_init(void);
extern bool pp_shmem_attached(void);

/* ERROR unless func may change the statistics (preloaded, not in recovery) */
extern void pp_shmem_require_writable(const char *func);

/*
 * Rows created before this instant are in no bucket and no reservoir; it
 * only moves forward (DT_NOBEGIN when not preloaded).
 */
extern TimestampTz pp_shmem_horizon_start(void);

/*
 * Called just before commit; never raises an error.  These three write
 * only the nodes' path_slot scratch.  dims holds the changes' dimension
 * values (PPRowChange.first_dim).
 */
extern void pp_shmem_apply(Oid dbid, const PPRowChange *changes, int n_changes,
						   PPNodeObs *nodes, const PPDimObs *dims);

/* Take back an apply whose commit then failed; never raises an error. */
extern void pp_shmem_undo(Oid dbid, const PPRowChange *changes, int n_changes,
						  PPNodeObs *nodes, const PPDimObs *dims);

/* pp_rebuild: apply committed rows while the statistics are invalid. */
extern void pp_shmem_load(Oid dbid, const PPRowChange *changes, int n_changes,
						  PPNodeObs *nodes, const PPDimObs *dims);

/*
 * pp_rebuild: add the rollup of one closed bucket of dbid that starts at
 * start -- a minute (minute), or an hour that ends before the minute
 * region -- to the entry of kind, as if its rows had been loaded:
 * PP_KIND_ROOT, PP_KIND_OPERATION: names[0]; PP_KIND_PATH: the depth names
 * from the root; PP_KIND_DIM: the value names[1] (name_lens[1] -1: none)
 * of the dimension dim_id for the operation names[0].  durations and ttft
 * may be NULL (a call path's has none).
 */
extern void pp_shmem_load_rollup(Oid dbid, int kind, int depth,
								 const char *const *names, const int *name_lens,
								 uint64 dim_id, TimestampTz start, bool minute,
								 const PPCounters *c,
								 const pp_sketch_t *durations,
								 const pp_sketch_t *ttft);

/*
 * pp_rebuild: the dimension entries of dbid were loaded with the
 * declarations of signature sig; dimension windows starting before
 * incomplete_before read the table.
 */
extern void pp_shmem_rebuilt_dims(Oid dbid, uint64 sig,
								  TimestampTz incomplete_before);

/*
 * The regions, moved with the clock: hour buckets hold created_at >=
 * *horizon, minute buckets >= *minute_start (DT_NOBEGIN when not preloaded).
 */
extern void pp_shmem_regions(TimestampTz *horizon, TimestampTz *minute_start);

/* The statistics of dbid no longer match the table until a rebuild. */
extern void pp_shmem_invalidate(Oid dbid, bool auto_rebuild);
extern void pp_shmem_count_sampled_out(Oid dbid);

/* The reason of the last replicated row of dbid stored as rejected. */
extern void pp_shmem_note_rejected(Oid dbid, const char *reason);

/* Forget the statistics of dbid; valid=true when the table is empty. */
extern void pp_shmem_reset(Oid dbid, bool valid, bool auto_rebuild);

/* Free everything of dbid (its database or the extension was dropped). */
extern void pp_shmem_forget(Oid dbid);

/* Mark dbid's statistics as matching the table (end of a rebuild). */
extern void pp_shmem_set_valid(Oid dbid, TimestampTz future_from,
							   int64 future_rows);

/* Background rebuild bookkeeping (rebuild.c). */
extern void pp_shmem_rollup_raise(TimestampTz t);
extern TimestampTz pp_shmem_rollup_horizon(void);
extern bool pp_shmem_claim_rollup(Oid dbid);
extern bool pp_shmem_claim_rebuild(Oid dbid);
extern void pp_shmem_release_rebuild(Oid dbid);

/*
 * Read the window [t0, t1] of dbid -- [t0, t1) when end_open -- : visit
 * every shared bucket entirely inside it and say which edges must come from
 * the table.  Returns false (plan->use_table set) when the shared
 * statistics cannot answer.
 */
extern bool pp_shmem_collect(Oid dbid, TimestampTz t0, TimestampTz t1,
							 bool end_open,
							 pp_bucket_visitor visit, void *arg,
							 PPWindowPlan *plan);

/* The same for the call paths of dbid (PP_KIND_PATH entries). */
extern bool pp_shmem_collect_paths(Oid dbid, TimestampTz t0, TimestampTz t1,
								   bool end_open, pp_path_visitor visit,
								   void *arg, PPWindowPlan *plan);

/*
 * Receives the shared buckets of one dimension, under the shared lock:
 * value_len -1 for the nodes without a value.
 */
typedef void (*pp_dim_visitor) (void *arg, const char *op, int op_len,
								const char *value, int value_len,
								TimestampTz start, const PPCounters *c,
								const pp_sketch_t *sketch);

/* The same for the entries of the dimension dim_id of dbid. */
extern bool pp_shmem_collect_dims(Oid dbid, uint64 dim_id, TimestampTz t0,
								  TimestampTz t1, bool end_open,
								  pp_dim_visitor visit, void *arg,
								  PPWindowPlan *plan);

/* Copy the reservoir of an operation of dbid; NULL when not tracked. */
extern pp_reservoir_t *pp_shmem_samples(Oid dbid, const char *name,
										int name_len);

/* State of the shared statistics, for pp_info(). */
typedef struct PPShmemInfo
{
	bool		attached;
	bool		db_valid;		/* this database's statistics equal its table */
	bool		auto_rebuild;	/* a read starts a rebuild when invalid */
	TimestampTz rebuild_started;	/* a background rebuild is running */
	TimestampTz incomplete_before;
	TimestampTz future_from;	/* rows from here on are read from the table */
	int64		future_rows;
	TimestampTz last_reset;
	TimestampTz minute_start;
	TimestampTz horizon_start;
	int			db_operations;	/* tracked for this database */
	int			operations;		/* tracked, all databases */
	int64		minute_buckets;
	int64		hour_buckets;
	int64		operations_evicted;
	int64		operations_refused; /* new names not admitted when full */
	int			db_paths;		/* call paths tracked for this database */
	int			paths;			/* tracked, all databases */
	int64		paths_evicted;
	int64		paths_refused;
	TimestampTz paths_incomplete_before;	/* this database's path windows
											 * starting earlier read the table */
	int			db_dimension_entries;	/* (dimension, value, operation)
										 * entries of this database */
	int			dimension_entries;	/* all databases */
	int64		dimension_entries_evicted;
	int64		dimension_entries_refused;
	int64		dimension_observations_dropped; /* no room in a pool */
	int64		dimensions_gave_way;	/* times every dimension entry was
										 * freed for an operation or a path */
	TimestampTz dimensions_incomplete_before;	/* this database's dimension
												 * windows starting earlier
												 * read the table */
	int64		observations_dropped;
	Size		shmem_bytes;	/* requested at start */
	Size		shmem_used_bytes;	/* operations and buckets in use */
	Size		sketch_bytes;	/* the arena of bucket sketches */
	Size		sketch_used_bytes;	/* its blocks in use */
	const char *degradation;	/* what gave way under memory pressure */
	TimestampTz degraded_since; /* first time; 0 if never */
	TimestampTz degraded_last;	/* latest time */
	int64		profiles;		/* committed profiles applied */
	int64		nodes;
	int64		sampled_out;
	double		mean_ingest_us;
	int64		db_profiles;	/* the same four for this database */
	int64		db_nodes;
	int64		db_sampled_out;
	double		db_mean_ingest_us;
	int64		db_usage_ignored;	/* usage values in metadata not valid */
	int64		db_cost_unknown;	/* nodes with tokens but no known cost */
	int64		db_rejected;	/* replicated rows stored as rejected */
	TimestampTz db_rejected_last_at;	/* the last one's commit; 0 if none */
	char		db_rejected_last[PP_REJECTED_REASON_LEN];	/* its reason */
	char		dump_status[128];	/* what start-up did with the dump */
} PPShmemInfo;

extern void pp_shmem_info(Oid dbid, PPShmemInfo *info);

/* The statistics as a dump image (dump.c reads and writes the file). */
extern bool pp_shmem_dump(FILE *f);
extern const char *pp_shmem_undump(char *buf, Size len, int *n_ops_loaded,
								   int *n_corrected);
extern void pp_shmem_set_dump_status(const char *status);

#endif							/* PP_SHMEM_H */
