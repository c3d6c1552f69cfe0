/*-------------------------------------------------------------------------
 *
 * src/shmem.c
 *	  Live per-operation statistics in shared memory.
 *
 * Every committed change to performance_profiles adds (or, for DELETE and
 * UPDATE, removes) one observation per node to the entry of its operation,
 * keyed by (database, operation name), and one line per profile to the
 * database's ROOT entry.  Every observation goes into the hour bucket of the
 * row's created_at and, inside the minute region, into its minute bucket
 * too:
 *
 *	  minute buckets  created_at >= minute_start (about the last 24-25 hours)
 *	  hour buckets    created_at >= horizon_start (ppprof.horizon)
 *	  nothing         created_at < horizon_start (windows reaching there are
 *	                  read from the table)
 *
 * minute_start and horizon_start are hour-aligned and only move forward:
 * with the clock (minute_start = hour_floor(now - 24h), horizon_start =
 * hour_floor(now - ppprof.horizon)), and under memory pressure (below); the
 * buckets they pass are dropped.  Feeding hour buckets directly, rather than
 * merging minute buckets into them, costs a second bucket update per
 * observation but makes aging free and lets memory pressure take minute
 * buckets without losing an observation.  Each bucket entry holds counters
 * (PPCounters) and the offset of its sketch in the sketch arena.  Bins are
 * plain counts, so removing an observation is exact.
 *
 * Sketch arena.  Every bucket sketch lives in one block of the arena of
 * ppprof.sketch_memory bytes (src/core/arena.c: power-of-two blocks of 80
 * to 20,480 bytes, binary buddies), in the smallest that holds its bins: a
 * new bucket gets 8 slots, and before a value that needs one bin more is
 * added, the sketch moves to a block of twice the size (bucket_sketch_add).
 * Bucket sketches therefore never collapse, and every percentile keeps the
 * 0.5% bound of src/core/sketch.h.
 *
 * Memory pressure.  When a pool is full or the arena has no block of the
 * size needed, make_room gives up time resolution, never accuracy: the
 * buckets of freed slots are swept (arena); the minute buckets of the oldest
 * hour that has any are dropped (minute_start moves on: those minutes remain
 * in their hour buckets, and windows cutting them read that edge from the
 * table); once only the current hour has minutes, the oldest hour buckets
 * are dropped (horizon_start moves on).  The current hour is never given up;
 * when nothing more may go, the observation is dropped (below).
 * PPShared.degraded records the worst step taken and when, for pp_info().
 *
 * A window [t0, t1] is answered from the buckets entirely inside it: whole
 * hours from hour buckets, the minutes before the first and after the last
 * whole hour from minute buckets, so a day merges about 24 + 120 sketches
 * rather than 1440.  The bucket that t0 cuts is read from the table instead
 * (its rows only, through the created_at index), and so is t1's minute when
 * rows newer than t1 have been seen.  A database's statistics are "valid" --
 * equal to its table -- from CREATE EXTENSION, TRUNCATE or pp_rebuild() on;
 * anything that could make them differ (a prepared transaction, a failed
 * subtraction, a restart) clears the flag and every answer comes from the
 * table until the next rebuild.  An observation that cannot be stored
 * (pools and arena exhausted) moves the database's incomplete_before past
 * it instead: windows that start before that instant are read from the
 * table.
 *
 * Operations live in a fixed array of ppprof.max_operations slots, found
 * through a hash on (database, kind, 64-bit hash of the name); the name is
 * stored and compared, so a hash collision cannot merge two operations.
 * When the array is full the slot used least recently is evicted with its
 * buckets, and its database's incomplete_before moves past its last
 * observation.  A slot's generation is part of its buckets' keys.
 *
 * Each operation slot also owns a reservoir of ppprof.reservoir_size
 * samples (src/core/reservoir.c) for drill-down to example profiles.
 *
 * Call paths.  Every node is also observed into the entry of its call path
 * (PP_KIND_PATH): the slots after the operations' (ppprof.max_paths of
 * them), so that paths never take an operation's slot.  A path entry is
 * its last name and its parent's path entry (slot and generation), found
 * through the same index by a hash of the whole path (pp_path_hash) and
 * checked against the parent's slot and the name, so no collision can
 * merge two paths.  Its buckets share the minute and hour pools and their
 * memory pressure, but have no sketch (counts and sums only: no
 * percentiles per path).  A path's parent is observed with it, in the same
 * row, so the parent's last use is never older than its children's; the
 * least recently used path is evicted with the paths under it, never one
 * on the path being added, and what eviction, refusal or a drop loses
 * moves the database's paths_incomplete_before, which only path windows
 * heed: a path's overflow never sends operation windows to the table.
 *
 * Dimensions.  Every node is also observed, for each live dimension
 * (src/dimensions.c), into the entry of (dimension, its value, its
 * operation) (PP_KIND_DIM): the slots after the paths'
 * (ppprof.max_dimension_entries), so that they never take an operation's
 * or a path's slot.  An entry is its value (or none) and its operation's
 * slot as parent, whose eviction frees it; it has hour buckets only (a
 * day's window reads the part of the hour its start cuts from the table),
 * with sketches, so a dimension window has the percentiles of an
 * operation window.  They share
 * the pools and the arena with the operations and paths, but never take
 * from them: a dimension bucket that finds no room is dropped (never
 * make_room), and an operation or path bucket that finds none frees every
 * dimension entry first (dims_give_way).  What a dimension loses moves
 * the database's dims_incomplete_before, which only dimension windows heed.
 * The values were read with the declarations of the writing backend: each
 * change carries their signature, and one that differs from the
 * database's invalidates its statistics (the next read rebuilds them).
 *
 * Locking
 *	  One LWLock (tranche "ppprof") guards everything here: the shared
 *	  state, the database and operation hashes, the op slots, both bucket
 *	  hashes, the sketch arena and the reservoirs.  Committing backends take it exclusively
 *	  (at PRE_COMMIT, see observe.c) to apply their observations (work proportional to the nodes of the
 *	  transaction, plus an occasional region sweep); readers take it shared
 *	  while they merge the buckets of a window.  Writers run at commit, so
 *	  nothing that can raise an ERROR runs while they hold it: insertions
 *	  use HASH_ENTER_NULL and no memory is allocated.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/xlog.h"
#include "common/hashfn.h"
#include "miscadmin.h"
#include "port/pg_crc32c.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/hsearch.h"
#include "utils/timestamp.h"

#include "arena.h"
#include "dumpfile.h"
#include "guc.h"
#include "profile.h"
#include "shmem.h"

#define USECS_PER_MINUTE	INT64CONST(60000000)
#define MINUTE_REGION		(24 * USECS_PER_HOUR)
#define MAX_DATABASES		64

/*
 * When every operation slot is in use, a name not tracked yet of a
 * database that holds its equal share of the slots already is admitted
 * (evicting another) only the second time it is seen: a single profile of
 * thousands of unique names cannot push out the operations that every
 * profile has.  A database below its share takes a slot at once.  The names seen once are remembered in a direct-mapped table
 * of this many keys; a name whose entry was overwritten before it came back
 * waits for a third sighting.
 */
#define PP_DOORKEEPER		4096

typedef struct PPOpKey
{
	Oid			dbid;
	int32		kind;			/* PP_KIND_* */
	uint64		name_hash;
} PPOpKey;

typedef struct PPOpIndex
{
	PPOpKey		key;
	int32		slot;
} PPOpIndex;

/* An operation slot.  All fields protected by shared->lock. */
typedef struct PPOp
{
	PPOpKey		key;
	bool		in_use;
	uint32		generation;		/* bumped at each (re)use of the slot */
	TimestampTz last_used;		/* wall clock of the last observation */
	TimestampTz last_at;		/* latest created_at observed */
	int32		n_minute;		/* minute buckets of this generation */
	int32		n_hour;			/* hour buckets of this generation */
	int32		parent;			/* PATH: the parent path's slot, -1 for a
								 * root (in the file: its index there) */
	uint32		parent_generation;	/* PATH: the parent slot's generation */
	int32		depth;			/* PATH: names in the path (root: 1) */
	uint64		dim_id;			/* DIM: the dimension (its parent is the
								 * operation's slot, name its value) */
	bool		no_value;		/* DIM: the nodes without a value */
	int			name_len;
	char		name[PP_NAME_MAX + 1];
} PPOp;

typedef struct PPBucketKey
{
	int32		slot;
	uint32		generation;
	TimestampTz start;			/* bucket start, minute or hour aligned */
} PPBucketKey;

typedef struct PPBucket
{
	PPBucketKey key;
	PPCounters	c;
	pp_arena_off_t sketch;		/* its pp_sketch_t in the arena, which fills
								 * its block (capacity grows with the block) */
	pp_arena_off_t ttft;		/* the sketch of its times to first token,
								 * allocated with the first one (0: none) */
} PPBucket;

#define BUCKET_SKETCH(b)	((pp_sketch_t *) pp_arena_ptr(arena, (b)->sketch))
#define BUCKET_TTFT(b)		((pp_sketch_t *) pp_arena_ptr(arena, (b)->ttft))

/* What gave way under memory pressure, in increasing severity */
typedef enum PPDegradation
{
	DEGRADED_NONE = 0,
	DEGRADED_MINUTES,			/* minute buckets of old hours given up */
	DEGRADED_HOURS,				/* hour buckets given up: the horizon moved */
	DEGRADED_OBSERVATIONS		/* observations dropped: incomplete_before */
} PPDegradation;

static const char *const degradation_names[] = {
	"none", "minute_buckets", "hour_buckets", "observations"
};

/* What pp_info() shows every caller of a database (since start-up). */
typedef struct PPDbCounters
{
	int64		profiles;		/* committed profiles applied */
	int64		nodes;			/* their nodes */
	int64		timed_profiles; /* profiles whose ingest time was measured */
	double		ingest_us;		/* their ingest time, microseconds */
	int64		sampled_out;	/* pp_ingest calls dropped by sample_rate */
	int64		usage_ignored;	/* usage values in metadata not valid */
	int64		cost_unknown;	/* nodes with tokens whose cost is unknown */
	int64		rejected;		/* replicated rows stored as rejected */
	TimestampTz rejected_last_at;	/* when the last one committed */
	char		rejected_last[PP_REJECTED_REASON_LEN];	/* and why */
} PPDbCounters;

typedef struct PPDb
{
	Oid			dbid;
	bool		valid;			/* statistics equal the table */
	TimestampTz incomplete_before;	/* windows starting earlier read the
									 * table */
	TimestampTz max_at;			/* latest created_at applied */
	TimestampTz last_reset;
	bool		auto_rebuild;	/* when invalid, a read starts a rebuild */
	int32		n_ops;			/* op slots in use by this database */
	int32		n_paths;		/* path slots in use by this database */
	TimestampTz paths_incomplete_before;	/* path windows starting earlier
											 * read the table */
	int32		n_dims;			/* dimension slots in use by this database */
	TimestampTz dims_incomplete_before; /* dimension windows starting
										 * earlier read the table */
	uint64		dims_sig;		/* signature of the dimension declarations
								 * its entries were made with; 0: none yet */
	TimestampTz rebuild_started;	/* a background rebuild was started; 0 if
									 * none */
	TimestampTz future_from;	/* the statistics hold the rows before this
								 * only: the rebuild found rows dated later
								 * than the clock allowed (DT_NOEND: none) */
	int64		future_rows;	/* how many */
	TimestampTz rollup_next;	/* no background pp_rollup() is started
								 * before this */
	PPDbCounters counters;		/* zeroed at start-up, not kept in the file */
} PPDb;

typedef struct PPShared
{
	LWLock	   *lock;
	TimestampTz minute_start;	/* minute buckets hold created_at >= this */
	TimestampTz horizon_start;	/* hour buckets hold [this, minute_start) */
	int64		n_minute;		/* minute bucket entries in use */
	int64		n_hour;			/* hour bucket entries in use */
	int64		stale_minute;	/* of n_minute, those of freed slots */
	int64		stale_hour;		/* of n_hour, those of freed slots */
	int32		n_ops;			/* op slots in use */
	int64		ops_evicted;
	int64		ops_refused;	/* new names not admitted (doorkeeper) */
	int32		n_paths;		/* path slots in use */
	int64		paths_evicted;
	int64		paths_refused;	/* new paths not admitted (doorkeeper) */
	int32		n_dims;			/* dimension slots in use */
	int64		dims_evicted;
	int64		dims_refused;	/* new entries not admitted (doorkeeper) */
	int64		dims_dropped;	/* dimension observations without room */
	int64		dims_gave_way;	/* dims_give_way calls that freed entries */
	uint64		doorkeeper[PP_DOORKEEPER];	/* keys of names seen once */
	uint64		path_doorkeeper[PP_DOORKEEPER]; /* keys of paths seen once */
	int64		obs_dropped;
	int32		degraded;		/* PPDegradation: the worst since start */
	TimestampTz degraded_since; /* first time anything gave way; 0 if never */
	TimestampTz degraded_last;	/* latest time */
	int64		profiles;		/* committed profiles applied */
	int64		nodes;			/* their nodes */
	int64		timed_profiles; /* profiles whose ingest time was measured */
	double		ingest_us;		/* their ingest time, microseconds */
	int64		sampled_out;	/* pp_ingest calls dropped by sample_rate */
	char		dump_status[128];	/* what start-up did with the dump file */
	pg_atomic_uint64 rollup_horizon;	/* pp_rollup() of any database wrote,
										 * or is writing, rollups of buckets
										 * before this only (a TimestampTz) */
} PPShared;

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

static PPShared *shared = NULL;
static PPOp *ops = NULL;
static pp_arena_t *arena = NULL;	/* the bucket sketches */
static char *reservoirs = NULL;

/*
 * Per operation slot, the minute and the hour bucket it last observed into
 * (entries 2 * slot and 2 * slot + 1).  A commit's observations nearly
 * always fall into them, which spares two hash lookups per node while the
 * lock is held exclusively.  Dynahash entries never move, and a bucket
 * leaves this cache when it leaves its table (bucket_remove, slot_free).
 * Not part of the statistics file.
 */
static PPBucket **current_buckets = NULL;

#define CURRENT_BUCKET(slot, minute) \
	(&current_buckets[2 * (slot) + ((minute) ? 0 : 1)])

/*
 * Backend-local: the slot an operation key had when this backend last
 * applied to it, checked against the slot under the lock before use.
 * Spares the operation index lookup per node.
 */
#define SLOT_HINTS 256
static int32 slot_hints[SLOT_HINTS];	/* slot + 1; 0: none */

static HTAB *db_hash = NULL;
static HTAB *op_hash = NULL;
static HTAB *minute_hash = NULL;
static HTAB *hour_hash = NULL;

static size_t reservoir_bytes;
static TimestampTz apply_now;	/* clock of the apply in progress */
static TimestampTz apply_at;	/* created_at of the change being applied */
static pp_rng_t rng;
static bool rng_seeded = false;

/*
 * Operation slots are [0, max_operations), path slots the next max_paths,
 * dimension slots the next max_dimension_entries.
 */
#define PATH_FIRST		pp_max_operations
#define DIM_FIRST		(pp_max_operations + pp_max_paths)
#define N_SLOTS			(DIM_FIRST + pp_max_dimension_entries)
#define SLOT_FIRST(kind)	((kind) == PP_KIND_PATH ? PATH_FIRST : \
							 (kind) == PP_KIND_DIM ? DIM_FIRST : 0)
#define SLOT_END(kind)		((kind) == PP_KIND_PATH ? DIM_FIRST : \
							 (kind) == PP_KIND_DIM ? N_SLOTS : pp_max_operations)
#define IS_PATH_SLOT(slot)	((slot) >= PATH_FIRST && (slot) < DIM_FIRST)
#define IS_DIM_SLOT(slot)	((slot) >= DIM_FIRST)

/* Operations and the profiles (ROOT) share their slots; paths, dimensions */
#define KIND_CLASS(kind)	((kind) == PP_KIND_ROOT ? PP_KIND_OPERATION : (kind))

static Size
arena_bytes(void)
{
	return mul_size((Size) pp_sketch_memory_kb, 1024);
}

static Size
shmem_size(void)
{
	Size		size = MAXALIGN(sizeof(PPShared));

	size = add_size(size, mul_size(N_SLOTS, sizeof(PPOp)));
	size = add_size(size, mul_size(2 * N_SLOTS, sizeof(PPBucket *)));
	size = add_size(size, mul_size(pp_max_operations,
								   MAXALIGN(pp_reservoir_size(pp_reservoir_capacity))));
	size = add_size(size, hash_estimate_size(MAX_DATABASES, sizeof(PPDb)));
	size = add_size(size, hash_estimate_size(N_SLOTS, sizeof(PPOpIndex)));
	size = add_size(size, hash_estimate_size(pp_max_minute_buckets,
											 sizeof(PPBucket)));
	size = add_size(size, hash_estimate_size(pp_max_hour_buckets,
											 sizeof(PPBucket)));
	size = add_size(size, arena_bytes());
	return size;
}

static void
pp_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(shmem_size());
	RequestNamedLWLockTranche("ppprof", 1);
}

static void
pp_shmem_startup(void)
{
	bool		found;
	HASHCTL		info;
	int			i;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();

	shared = NULL;
	ops = NULL;
	arena = NULL;
	reservoirs = NULL;
	reservoir_bytes = MAXALIGN(pp_reservoir_size(pp_reservoir_capacity));

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);

	shared = ShmemInitStruct("ppprof", sizeof(PPShared), &found);
	if (!found)
	{
		TimestampTz now = GetCurrentTimestamp();

		memset(shared, 0, sizeof(PPShared));
		pg_atomic_init_u64(&shared->rollup_horizon, 0);
		shared->lock = &(GetNamedLWLockTranche("ppprof"))->lock;
		shared->minute_start = pp_time_floor(now - MINUTE_REGION, USECS_PER_HOUR);
		shared->horizon_start = pp_time_floor(now - (int64) pp_horizon_min * USECS_PER_MINUTE,
										 USECS_PER_HOUR);
		strlcpy(shared->dump_status, "none", sizeof(shared->dump_status));
	}

	ops = ShmemInitStruct("ppprof operations",
						  mul_size(N_SLOTS, sizeof(PPOp)), &found);
	if (!found)
		memset(ops, 0, mul_size(N_SLOTS, sizeof(PPOp)));

	current_buckets = ShmemInitStruct("ppprof current buckets",
									  mul_size(2 * N_SLOTS, sizeof(PPBucket *)),
									  &found);
	if (!found)
		memset(current_buckets, 0, mul_size(2 * N_SLOTS, sizeof(PPBucket *)));

	reservoirs = ShmemInitStruct("ppprof reservoirs",
								 mul_size(pp_max_operations, reservoir_bytes), &found);
	if (!found)
		for (i = 0; i < pp_max_operations; i++)
			pp_reservoir_init(reservoirs + (Size) i * reservoir_bytes,
							  (uint32) pp_reservoir_capacity);

	arena = ShmemInitStruct("ppprof sketches", arena_bytes(), &found);
	if (!found && pp_arena_init(arena, arena_bytes()) == NULL)
		elog(FATAL, "ppprof: ppprof.sketch_memory is too small");

	memset(&info, 0, sizeof(info));
	info.keysize = sizeof(Oid);
	info.entrysize = sizeof(PPDb);
	db_hash = ShmemInitHash("ppprof databases", MAX_DATABASES, MAX_DATABASES,
							&info, HASH_ELEM | HASH_BLOBS);

	memset(&info, 0, sizeof(info));
	info.keysize = sizeof(PPOpKey);
	info.entrysize = sizeof(PPOpIndex);
	op_hash = ShmemInitHash("ppprof operation index", N_SLOTS,
							N_SLOTS, &info, HASH_ELEM | HASH_BLOBS);

	memset(&info, 0, sizeof(info));
	info.keysize = sizeof(PPBucketKey);
	info.entrysize = sizeof(PPBucket);
	minute_hash = ShmemInitHash("ppprof minute buckets", pp_max_minute_buckets,
								pp_max_minute_buckets, &info, HASH_ELEM | HASH_BLOBS);

	memset(&info, 0, sizeof(info));
	info.keysize = sizeof(PPBucketKey);
	info.entrysize = sizeof(PPBucket);
	hour_hash = ShmemInitHash("ppprof hour buckets", pp_max_hour_buckets,
							  pp_max_hour_buckets, &info, HASH_ELEM | HASH_BLOBS);

	LWLockRelease(AddinShmemInitLock);
}

/* What start-up did with the statistics file (dump.c), for pp_info(). */
void
pp_shmem_set_dump_status(const char *status)
{
	strlcpy(shared->dump_status, status, sizeof(shared->dump_status));
}

/* Called from _PG_init. */
void
pp_shmem_init(void)
{
	if (!process_shared_preload_libraries_in_progress)
		return;
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = pp_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = pp_shmem_startup;
}

bool
pp_shmem_attached(void)
{
	return shared != NULL;
}

/*
 * Raise an ERROR unless func may change the statistics here: the library
 * is preloaded and the server is not in recovery.
 */
void
pp_shmem_require_writable(const char *func)
{
	if (!pp_shmem_attached())
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("%s() needs ppprof in shared_preload_libraries", func),
				 errhint("Add ppprof to shared_preload_libraries in postgresql.conf and restart the server.")));
	if (RecoveryInProgress())
		ereport(ERROR,
				(errcode(ERRCODE_READ_ONLY_SQL_TRANSACTION),
				 errmsg("%s() cannot run during recovery", func),
				 errhint("A standby answers every ppprof function from the replicated table.")));
}

TimestampTz
pp_shmem_horizon_start(void)
{
	TimestampTz h;

	if (shared == NULL)
		return DT_NOBEGIN;
	LWLockAcquire(shared->lock, LW_SHARED);
	h = shared->horizon_start;
	LWLockRelease(shared->lock);
	return h;
}

static void regions_follow_clock(void);

/*
 * The regions now (see the top of this file), moved with the clock first:
 * hour buckets from *horizon, minute buckets from *minute_start.
 */
void
pp_shmem_regions(TimestampTz *horizon, TimestampTz *minute_start)
{
	*horizon = *minute_start = DT_NOBEGIN;
	if (shared == NULL)
		return;
	LWLockAcquire(shared->lock, LW_EXCLUSIVE);
	regions_follow_clock();
	*horizon = shared->horizon_start;
	*minute_start = shared->minute_start;
	LWLockRelease(shared->lock);
}

/* ---- helpers; the caller holds shared->lock exclusively ---- */

static PPDb *
db_get(Oid dbid, bool create)
{
	bool		found;
	PPDb	   *db;

	db = hash_search(db_hash, &dbid, create ? HASH_ENTER_NULL : HASH_FIND, &found);
	if (db != NULL && !found)
	{
		db->valid = false;
		db->incomplete_before = DT_NOBEGIN;
		db->max_at = DT_NOBEGIN;
		db->last_reset = 0;
		db->auto_rebuild = true;
		db->n_ops = 0;
		db->n_paths = 0;
		db->paths_incomplete_before = DT_NOBEGIN;
		db->n_dims = 0;
		db->dims_incomplete_before = DT_NOBEGIN;
		db->dims_sig = 0;
		db->rebuild_started = 0;
		db->future_from = DT_NOEND;
		db->future_rows = 0;
		db->rollup_next = DT_NOBEGIN;
		memset(&db->counters, 0, sizeof(db->counters));
	}
	return db;
}

static void
db_incomplete(PPDb *db, TimestampTz before)
{
	if (db != NULL && db->incomplete_before < before)
		db->incomplete_before = before;
}

/*
 * What an entry of kind lost: only path windows heed a path's loss, only
 * dimension windows a dimension's.
 */
static void
kind_incomplete(PPDb *db, int kind, TimestampTz before)
{
	if (kind == PP_KIND_PATH)
	{
		if (db != NULL && db->paths_incomplete_before < before)
			db->paths_incomplete_before = before;
	}
	else if (kind == PP_KIND_DIM)
	{
		if (db != NULL && db->dims_incomplete_before < before)
			db->dims_incomplete_before = before;
	}
	else
		db_incomplete(db, before);
}

/* Windows of kind's entries starting before this read the table. */
static TimestampTz
kind_incomplete_before(const PPDb *db, int kind)
{
	if (kind == PP_KIND_PATH)
		return Max(db->incomplete_before, db->paths_incomplete_before);
	if (kind == PP_KIND_DIM)
		return Max(db->incomplete_before, db->dims_incomplete_before);
	return db->incomplete_before;
}

/* Slots of kind in use by db, or by every database (db NULL). */
static int
kind_count(const PPDb *db, int kind)
{
	switch (KIND_CLASS(kind))
	{
		case PP_KIND_PATH:
			return db ? db->n_paths : shared->n_paths;
		case PP_KIND_DIM:
			return db ? db->n_dims : shared->n_dims;
		default:
			return db ? db->n_ops : shared->n_ops;
	}
}

/* Add delta to the slots of kind in use by db and in all. */
static void
kind_count_add(PPDb *db, int kind, int delta)
{
	switch (KIND_CLASS(kind))
	{
		case PP_KIND_PATH:
			shared->n_paths += delta;
			if (db != NULL)
				db->n_paths += delta;
			break;
		case PP_KIND_DIM:
			shared->n_dims += delta;
			if (db != NULL)
				db->n_dims += delta;
			break;
		default:
			shared->n_ops += delta;
			if (db != NULL)
				db->n_ops += delta;
			break;
	}
}

static pp_reservoir_t *
slot_reservoir(int slot)
{
	return (pp_reservoir_t *) (reservoirs + (Size) slot * reservoir_bytes);
}

static void bucket_remove(HTAB *htab, PPBucket *b);
static void db_clear(Oid dbid);

/*
 * Remove the buckets of freed slots from htab.  slot_free leaves them in
 * place, unreachable (no slot of their generation is in use), so that an
 * eviction costs the same whatever the pools hold; they are collected here,
 * in one pass, when a pool is full.
 */
static void
buckets_sweep(HTAB *htab)
{
	HASH_SEQ_STATUS status;
	PPBucket   *b;

	hash_seq_init(&status, htab);
	while ((b = hash_seq_search(&status)) != NULL)
	{
		const PPOp *op = &ops[b->key.slot];

		if (!op->in_use || op->generation != b->key.generation)
			bucket_remove(htab, b);
	}
}

static void
slot_free(int slot)
{
	PPOp	   *op = &ops[slot];
	PPDb	   *db = db_get(op->key.dbid, false);

	shared->stale_minute += op->n_minute;
	shared->stale_hour += op->n_hour;
	op->n_minute = op->n_hour = 0;
	*CURRENT_BUCKET(slot, true) = NULL;
	*CURRENT_BUCKET(slot, false) = NULL;
	hash_search(op_hash, &op->key, HASH_REMOVE, NULL);
	op->in_use = false;
	kind_count_add(db, op->key.kind, -1);
	if (KIND_CLASS(op->key.kind) == PP_KIND_OPERATION)
		pp_reservoir_init(slot_reservoir(slot), (uint32) pp_reservoir_capacity);
}

/*
 * Free the path entries whose parent entry is gone (after an eviction),
 * and theirs, recording what the path windows lost.
 */
static void
paths_free_orphans(void)
{
	bool		again = true;
	int			i;

	while (again)
	{
		again = false;
		for (i = SLOT_FIRST(PP_KIND_PATH); i < SLOT_END(PP_KIND_PATH); i++)
		{
			PPOp	   *op = &ops[i];

			if (!op->in_use || op->parent < 0 ||
				(ops[op->parent].in_use &&
				 ops[op->parent].generation == op->parent_generation))
				continue;
			kind_incomplete(db_get(op->key.dbid, false), PP_KIND_PATH,
							op->last_at + 1);
			slot_free(i);
			shared->paths_evicted++;
			again = true;
		}
	}
}

/*
 * Free the dimension entries whose operation's entry is gone (after an
 * eviction), recording what the dimension windows lost.
 */
static void
dims_free_orphans(void)
{
	int			i;

	for (i = SLOT_FIRST(PP_KIND_DIM); i < SLOT_END(PP_KIND_DIM); i++)
	{
		PPOp	   *op = &ops[i];

		if (!op->in_use || (ops[op->parent].in_use &&
							ops[op->parent].generation == op->parent_generation))
			continue;
		kind_incomplete(db_get(op->key.dbid, false), PP_KIND_DIM,
						op->last_at + 1);
		slot_free(i);
		shared->dims_evicted++;
	}
}

/*
 * An operation or a path needs room that dimension buckets hold: free
 * every dimension entry (their buckets and sketches go with the sweep of
 * the pools), so that dimensions never take from them.  Every database's
 * dimension windows up to its latest observation then read the table.
 * Returns false when there was nothing to free.
 */
static bool
dims_give_way(void)
{
	int			i;

	if (shared->n_dims == 0)
		return false;
	for (i = SLOT_FIRST(PP_KIND_DIM); i < SLOT_END(PP_KIND_DIM); i++)
	{
		PPDb	   *db;

		if (!ops[i].in_use)
			continue;
		db = db_get(ops[i].key.dbid, false);
		if (db != NULL)
			kind_incomplete(db, PP_KIND_DIM, Max(db->max_at, apply_at) + 1);
		slot_free(i);
	}
	buckets_sweep(minute_hash);
	buckets_sweep(hour_hash);
	shared->dims_gave_way++;
	return true;
}

/*
 * An equal share of the operation slots among the databases that hold any,
 * for_db counted in.
 */
static int
slot_share(const PPDb *for_db, int kind)
{
	HASH_SEQ_STATUS status;
	PPDb	   *db;
	int			n_dbs = 0;

	hash_seq_init(&status, db_hash);
	while ((db = hash_seq_search(&status)) != NULL)
		if (kind_count(db, kind) > 0 || db == for_db)
			n_dbs++;
	return (SLOT_END(kind) - SLOT_FIRST(kind)) / Max(n_dbs, 1);
}

/* Is slot the path entry parent or one of its ancestors? */
static bool
path_on_chain(int slot, int parent)
{
	for (; parent >= 0; parent = ops[parent].parent)
		if (parent == slot)
			return true;
	return false;
}

/*
 * Evict, for a new operation of database for_db, the slot used least
 * recently among those it may take: its own database's, and those of
 * databases holding more than share slots, so that one database cannot
 * empty another's statistics.  A database's ROOT slot is never taken.
 * Returns the freed slot, or -1.
 */
static int
slot_evict(const PPDb *for_db, int share, int kind, int parent)
{
	int			victim = -1;
	int			i;
	PPDb	   *db;
	Oid			last_dbid = InvalidOid;
	bool		last_may = false;

	for (i = SLOT_FIRST(kind); i < SLOT_END(kind); i++)
	{
		const PPOp *op = &ops[i];

		if (!op->in_use || op->key.kind == PP_KIND_ROOT)
			continue;
		if (op->key.dbid != last_dbid)
		{
			db = db_get(op->key.dbid, false);
			last_dbid = op->key.dbid;
			last_may = op->key.dbid == for_db->dbid || db == NULL ||
				kind_count(db, kind) > share;
		}
		if (!last_may)
			continue;
		if (victim >= 0 && op->last_used > ops[victim].last_used)
			continue;

		/*
		 * Paths: at equal last use the deeper goes first (a parent is used
		 * whenever its children are), and never one the new path hangs on.
		 */
		if (victim >= 0 && op->last_used == ops[victim].last_used &&
			op->depth <= ops[victim].depth)
			continue;
		if (kind == PP_KIND_PATH && path_on_chain(i, parent))
			continue;
		victim = i;
	}
	if (victim < 0)
		return -1;
	db = db_get(ops[victim].key.dbid, false);
	kind_incomplete(db, kind, ops[victim].last_at + 1);
	slot_free(victim);
	if (kind == PP_KIND_PATH)
	{
		shared->paths_evicted++;
		paths_free_orphans();
	}
	else if (kind == PP_KIND_DIM)
		shared->dims_evicted++;
	else
	{
		shared->ops_evicted++;
		dims_free_orphans();
	}
	return victim;
}

/*
 * Admit a name not tracked yet while every slot is in use, for a database
 * that holds its share already?  Only when it was seen before
 * (PP_DOORKEEPER); else remember it and refuse.
 */
static bool
slot_admit(const PPDb *db, int kind, uint64 hash)
{
	uint64		key = hash ^ ((uint64) db->dbid * UINT64CONST(0x9E3779B97F4A7C15)) ^
		(uint64) kind;
	uint64	   *seen = kind == PP_KIND_OPERATION ?
		&shared->doorkeeper[key % PP_DOORKEEPER] :
		&shared->path_doorkeeper[key % PP_DOORKEEPER];	/* paths and
														 * dimensions: the
														 * kind is in key */

	if (kind == PP_KIND_ROOT || *seen == key)
		return true;
	*seen = key;
	if (kind == PP_KIND_PATH)
		shared->paths_refused++;
	else if (kind == PP_KIND_DIM)
		shared->dims_refused++;
	else
		shared->ops_refused++;
	return false;
}

/*
 * Is op the entry of name (under the path entry parent, for a path; the
 * value name -- none when name_len is -1 -- of dimension dim_id under the
 * operation slot parent, for a dimension)?
 */
static inline bool
slot_is(const PPOp *op, int kind, const char *name, int name_len, int parent,
		uint64 dim_id)
{
	if (kind == PP_KIND_DIM)
	{
		if (op->dim_id != dim_id || op->no_value != (name_len < 0) ||
			op->parent != parent ||
			op->parent_generation != ops[parent].generation)
			return false;
		if (name_len < 0)
			return true;
	}
	if (op->name_len != name_len || memcmp(op->name, name, name_len) != 0)
		return false;
	if (kind != PP_KIND_PATH)
		return true;
	return op->parent == parent &&
		(parent < 0 || op->parent_generation == ops[parent].generation);
}

/*
 * The slot of (dbid, kind, name) -- for a path, the path that ends in name
 * under the path entry parent (-1: a root); for a dimension, the value name
 * (name_len -1: none) of dim_id under the operation slot parent --, created
 * when create is set.  Returns -1 when it does not exist (or cannot be
 * created).
 */
static int
slot_get(PPDb *db, int kind, const char *name, int name_len, uint64 hash,
		 int parent, uint64 dim_id, bool create)
{
	PPOpKey		key;
	PPOpIndex  *idx;
	bool		found;
	int			slot;
	PPOp	   *op;
	int32	   *hint = &slot_hints[(hash ^ (uint64) kind ^ db->dbid) % SLOT_HINTS];

	if (*hint > 0)
	{
		op = &ops[*hint - 1];
		if (op->in_use && op->key.dbid == db->dbid && op->key.kind == kind &&
			op->key.name_hash == hash &&
			slot_is(op, kind, name, name_len, parent, dim_id))
			return *hint - 1;
	}

	memset(&key, 0, sizeof(key));
	key.dbid = db->dbid;
	key.kind = kind;
	key.name_hash = hash;

	idx = hash_search(op_hash, &key, HASH_FIND, NULL);
	if (idx != NULL)
	{
		op = &ops[idx->slot];
		if (!slot_is(op, kind, name, name_len, parent, dim_id))
			return -1;			/* 64-bit hash collision */
		*hint = idx->slot + 1;
		return idx->slot;
	}
	if (!create)
		return -1;

	if (kind_count(NULL, kind) >= SLOT_END(kind) - SLOT_FIRST(kind))
	{
		int			share = slot_share(db, kind);

		/* a database below its share takes a slot at once */
		if (kind_count(db, kind) >= share &&
			!slot_admit(db, kind, hash))
			return -1;
		slot = slot_evict(db, share, kind, parent);
		if (slot < 0)
			return -1;
	}
	else
	{
		for (slot = SLOT_FIRST(kind); slot < SLOT_END(kind); slot++)
			if (!ops[slot].in_use)
				break;
		Assert(slot < SLOT_END(kind));
	}

	idx = hash_search(op_hash, &key, HASH_ENTER_NULL, &found);
	if (idx == NULL)
		return -1;
	idx->slot = slot;

	op = &ops[slot];
	op->key = key;
	op->in_use = true;
	op->generation++;
	op->last_used = 0;
	op->last_at = DT_NOBEGIN;
	op->n_minute = op->n_hour = 0;
	op->name_len = Min(Max(name_len, 0), PP_NAME_MAX);
	memcpy(op->name, name, op->name_len);
	op->name[op->name_len] = '\0';
	op->parent = parent;
	op->parent_generation = parent < 0 ? 0 : ops[parent].generation;
	op->depth = kind == PP_KIND_DIM ? 0 : parent < 0 ? 1 : ops[parent].depth + 1;
	op->dim_id = dim_id;
	op->no_value = name_len < 0;
	kind_count_add(db, kind, 1);
	*hint = slot + 1;
	return slot;
}

static void regions_advance(TimestampTz minute_start, TimestampTz horizon_start);

/* Why an observation could not be stored, and what must give way */
typedef enum PPShortage
{
	SHORT_NONE = 0,
	SHORT_MINUTE_POOL,			/* ppprof.max_minute_buckets reached */
	SHORT_HOUR_POOL,			/* ppprof.max_hour_buckets reached */
	SHORT_SKETCH_MEMORY			/* the arena has no block of the size */
} PPShortage;

/* Count a bucket just entered into the minute or hour pool for its slot. */
static void
bucket_counted(int slot, bool minute)
{
	if (minute)
	{
		shared->n_minute++;
		ops[slot].n_minute++;
	}
	else
	{
		shared->n_hour++;
		ops[slot].n_hour++;
	}
}

/*
 * Find the bucket (slot, start) in htab, or create it when create is set.
 * Returns NULL when it does not exist, or when it cannot be created
 * (*full says why).
 */
static PPBucket *
bucket_get(HTAB *htab, int slot, TimestampTz start, bool create,
		   PPShortage *full)
{
	bool		minute = htab == minute_hash;
	PPBucket  **current = CURRENT_BUCKET(slot, minute);
	PPBucketKey key;
	PPBucket   *b;
	bool		found;
	pp_arena_off_t sketch;

	b = *current;
	if (b != NULL && b->key.start == start && b->key.slot == slot &&
		b->key.generation == ops[slot].generation)
		return b;

	memset(&key, 0, sizeof(key));
	key.slot = slot;
	key.generation = ops[slot].generation;
	key.start = start;

	b = hash_search(htab, &key, HASH_FIND, NULL);
	if (b != NULL)
		*current = b;
	if (b != NULL || !create)
		return b;

	if (minute ? shared->n_minute >= pp_max_minute_buckets &&
		shared->stale_minute > 0
		: shared->n_hour >= pp_max_hour_buckets && shared->stale_hour > 0)
		buckets_sweep(htab);
	if (minute ? shared->n_minute >= pp_max_minute_buckets
		: shared->n_hour >= pp_max_hour_buckets)
	{
		*full = minute ? SHORT_MINUTE_POOL : SHORT_HOUR_POOL;
		return NULL;
	}
	/* a path's buckets have no sketch (offset 0) */
	sketch = IS_PATH_SLOT(slot) ? 0 : pp_arena_alloc(arena, 0);
	if (sketch == 0 && !IS_PATH_SLOT(slot))
	{
		*full = SHORT_SKETCH_MEMORY;
		return NULL;
	}
	b = hash_search(htab, &key, HASH_ENTER_NULL, &found);
	if (b == NULL)
	{
		if (sketch != 0)
			pp_arena_free(arena, sketch);
		*full = minute ? SHORT_MINUTE_POOL : SHORT_HOUR_POOL;
		return NULL;
	}
	memset(&b->c, 0, sizeof(PPCounters));
	b->c.first_at = DT_NOEND;
	b->c.last_at = DT_NOBEGIN;
	b->sketch = sketch;
	b->ttft = 0;
	if (sketch != 0)
		pp_sketch_init(BUCKET_SKETCH(b), pp_sketch_capacity_in(PP_ARENA_BLOCK(0)));
	bucket_counted(slot, minute);
	*current = b;
	return b;
}

static void
bucket_remove(HTAB *htab, PPBucket *b)
{
	bool		minute = htab == minute_hash;
	PPOp	   *op = &ops[b->key.slot];
	bool		live = op->in_use && op->generation == b->key.generation;
	PPBucket  **current = CURRENT_BUCKET(b->key.slot, minute);

	if (*current == b)
		*current = NULL;
	if (b->sketch != 0)
		pp_arena_free(arena, b->sketch);
	if (b->ttft != 0)
		pp_arena_free(arena, b->ttft);
	hash_search(htab, &b->key, HASH_REMOVE, NULL);
	if (minute)
	{
		shared->n_minute--;
		if (live)
			op->n_minute--;
		else
			shared->stale_minute--;
	}
	else
	{
		shared->n_hour--;
		if (live)
			op->n_hour--;
		else
			shared->stale_hour--;
	}
}

/*
 * The rare path of bucket_sketch_add: the sketch of b is full and value_ms
 * needs a new bin (about log2(bins / 8) times in a bucket's life).  Move
 * the sketch into a block of the next class (twice the bytes, about twice
 * the slots) and add the value there.  PP_ERR_FULL, b unchanged, when the
 * arena has no such block.
 */
static pg_noinline pp_error_code_t
bucket_sketch_grow(pp_arena_off_t *sketch, int index)
{
	pp_sketch_t *s = pp_arena_ptr(arena, *sketch);
	int			c = pp_arena_class_of(arena, *sketch) + 1;
	pp_arena_off_t grown;

	Assert(c > 0 && c < PP_ARENA_NCLASSES);
	grown = pp_arena_alloc(arena, c);
	if (grown == 0)
		return PP_ERR_FULL;
	if (pp_sketch_copy(pp_arena_ptr(arena, grown),
					   pp_sketch_capacity_in(PP_ARENA_BLOCK(c)), s) != PP_OK)
	{
		pp_arena_free(arena, grown);
		return PP_ERR_FULL;
	}
	pp_arena_free(arena, *sketch);
	*sketch = grown;
	return pp_sketch_add_index_exact(pp_arena_ptr(arena, grown), index, 1);
}

/*
 * Add a value (its bin index: pp_sketch_index_of) to the sketch at
 * *sketch (a bucket's duration or time-to-first-token sketch), growing it
 * when full.  Returns PP_OK; PP_ERR_FULL when the arena has no larger
 * block (the sketch unchanged); another code when the sketch refuses it.
 */
static inline pp_error_code_t
bucket_sketch_add(pp_arena_off_t *sketch, int index)
{
	pp_error_code_t rc = pp_sketch_add_index_exact(pp_arena_ptr(arena, *sketch),
												   index, 1);

	if (likely(rc != PP_ERR_FULL))
		return rc;
	return bucket_sketch_grow(sketch, index);
}

/*
 * Add one value to the sketch m of a minute bucket (NULL outside the
 * minute region) and h of the hour bucket, both or neither: when the
 * hour's cannot take it, the minute's gets it removed again (removal is
 * exact).
 */
static inline pp_error_code_t
buckets_sketch_add(pp_arena_off_t *m, pp_arena_off_t *h, double value_ms)
{
	int			index;
	pp_error_code_t rc;

	if (!isfinite(value_ms))
		return PP_ERR_INVALID_VALUE;
	/* the logarithm once for both sketches */
	index = pp_sketch_index_of(value_ms);
	rc = m != NULL ? bucket_sketch_add(m, index) : PP_OK;
	if (rc == PP_OK)
	{
		rc = bucket_sketch_add(h, index);
		if (rc != PP_OK && m != NULL)
			(void) pp_sketch_remove(pp_arena_ptr(arena, *m), value_ms);
	}
	return rc;
}

/*
 * The time-to-first-token sketch of b, allocated (smallest class) with the
 * bucket's first such value: most operations never have one, and their
 * buckets pay nothing for it.  False when the arena has no block.
 */
static bool
bucket_ttft_ensure(PPBucket *b)
{
	if (b->ttft != 0)
		return true;
	b->ttft = pp_arena_alloc(arena, 0);
	if (b->ttft == 0)
		return false;
	pp_sketch_init(BUCKET_TTFT(b), pp_sketch_capacity_in(PP_ARENA_BLOCK(0)));
	return true;
}

/*
 * Add the duration of o, and its time to first token when it has one, to
 * the sketches of m (NULL outside the minute region) and h; all of them or
 * none.
 */
static pp_error_code_t
buckets_sketches_add(PPBucket *m, PPBucket *h, const PPNodeObs *o)
{
	pp_error_code_t rc = buckets_sketch_add(m ? &m->sketch : NULL, &h->sketch,
											o->duration_ms);

	if (rc != PP_OK || o->ttft_ms < 0)
		return rc;
	if ((m != NULL && !bucket_ttft_ensure(m)) || !bucket_ttft_ensure(h))
		rc = PP_ERR_FULL;
	else
		rc = buckets_sketch_add(m ? &m->ttft : NULL, &h->ttft, o->ttft_ms);
	if (rc != PP_OK)
	{
		/* take the duration back (an empty TTFT sketch goes with its bucket) */
		if (m != NULL)
			(void) pp_sketch_remove(BUCKET_SKETCH(m), o->duration_ms);
		(void) pp_sketch_remove(BUCKET_SKETCH(h), o->duration_ms);
	}
	return rc;
}

/*
 * The counters of one value added to a bucket (its sketch has it already:
 * buckets_sketch_add), or the value removed from both.  Returns false when
 * a removal finds less than it removes.  An emptied bucket is freed.
 */
static bool
bucket_observe(HTAB *htab, PPBucket *b, int sign, const PPNodeObs *o,
			   TimestampTz at)
{
	if (sign < 0 && b->sketch != 0 &&
		pp_sketch_remove(BUCKET_SKETCH(b), o->duration_ms) != PP_OK)
		return false;
	if (sign < 0 && o->ttft_ms >= 0 && b->sketch != 0 &&
		(b->ttft == 0 || pp_sketch_remove(BUCKET_TTFT(b), o->ttft_ms) != PP_OK))
		return false;
	pp_counters_add(&b->c, sign, o, at);
	if (b->c.calls < 0)
		return false;
	/* the sketch counts them: no counter of its own (shared memory) */
	if (b->ttft != 0 && BUCKET_TTFT(b)->count == 0)
	{
		/* no time to first token left: give its memory back */
		pp_arena_free(arena, b->ttft);
		b->ttft = 0;
	}
	if (b->c.calls == 0)
		bucket_remove(htab, b);
	return true;
}

/*
 * Move minute_start and horizon_start forward (never back), dropping the
 * minute buckets and hour buckets that fall out of their regions.  Every
 * observation is in its hour bucket too, so nothing needs merging.
 */
static void
regions_advance(TimestampTz minute_start, TimestampTz horizon_start)
{
	HASH_SEQ_STATUS status;
	PPBucket   *b;

	if (horizon_start < shared->horizon_start)
		horizon_start = shared->horizon_start;
	if (minute_start < shared->minute_start)
		minute_start = shared->minute_start;
	if (horizon_start > minute_start)
		minute_start = horizon_start;

	if (horizon_start > shared->horizon_start)
	{
		hash_seq_init(&status, hour_hash);
		while ((b = hash_seq_search(&status)) != NULL)
			if (b->key.start < horizon_start)
				bucket_remove(hour_hash, b);
		shared->horizon_start = horizon_start;
	}
	if (minute_start > shared->minute_start)
	{
		hash_seq_init(&status, minute_hash);
		while ((b = hash_seq_search(&status)) != NULL)
			if (b->key.start < minute_start)
				bucket_remove(minute_hash, b);
		shared->minute_start = minute_start;
	}
}

/* Move the regions with the clock. */
static void
regions_follow_clock(void)
{
	TimestampTz now = GetCurrentTimestamp();

	regions_advance(pp_time_floor(now - MINUTE_REGION, USECS_PER_HOUR),
					pp_time_floor(now - (int64) pp_horizon_min * USECS_PER_MINUTE,
							 USECS_PER_HOUR));
}

/* Remember that something gave way under memory pressure. */
static void
degraded(PPDegradation what)
{
	if (shared->degraded_since == 0)
		shared->degraded_since = apply_now;
	shared->degraded_last = apply_now;
	if ((int32) what > shared->degraded)
		shared->degraded = (int32) what;
}

/* The start of the oldest bucket in htab; DT_NOEND when it is empty. */
static TimestampTz
oldest_start(HTAB *htab)
{
	HASH_SEQ_STATUS status;
	PPBucket   *b;
	TimestampTz oldest = DT_NOEND;

	hash_seq_init(&status, htab);
	while ((b = hash_seq_search(&status)) != NULL)
		if (b->key.start < oldest)
			oldest = b->key.start;
	return oldest;
}

/*
 * Make room after a shortage, giving up time resolution, never accuracy:
 * a full pool of minute (hour) buckets gives up its oldest hour; the arena,
 * after the buckets of freed operations are swept, gives up the minute
 * buckets of the oldest hour that has any, and once only the current hour
 * has minutes, the oldest hour buckets (the horizon moves).  The current
 * hour is never given up.  Returns false when nothing more may go: the
 * caller drops the observation.
 */
static bool
make_room(PPShortage why)
{
	TimestampTz current_hour = pp_time_floor(apply_now, USECS_PER_HOUR);
	TimestampTz oldest;

	if (why == SHORT_SKETCH_MEMORY && shared->stale_minute + shared->stale_hour > 0)
	{
		if (shared->stale_minute > 0)
			buckets_sweep(minute_hash);
		if (shared->stale_hour > 0)
			buckets_sweep(hour_hash);
		return true;
	}
	if (why != SHORT_HOUR_POOL)
	{
		oldest = pp_time_floor(Max(oldest_start(minute_hash), shared->minute_start),
						  USECS_PER_HOUR);
		if (oldest < current_hour)
		{
			regions_advance(oldest + USECS_PER_HOUR, shared->horizon_start);
			degraded(DEGRADED_MINUTES);
			return true;
		}
	}
	if (why != SHORT_MINUTE_POOL)
	{
		oldest = pp_time_floor(Max(oldest_start(hour_hash), shared->horizon_start),
						  USECS_PER_HOUR);
		if (oldest < current_hour)
		{
			regions_advance(shared->minute_start, oldest + USECS_PER_HOUR);
			degraded(DEGRADED_HOURS);
			return true;
		}
	}
	return false;
}

/*
 * Apply one observation of (slot, at) to its hour bucket and, inside the
 * minute region, to its minute bucket.  When a bucket or its sketch cannot
 * get the memory, make_room gives up old buckets and the observation is
 * tried again; when nothing more may go, it is dropped.  Returns false when
 * the statistics can no longer be trusted (a removal that finds less than
 * it removes).
 */
static bool
bucket_apply(PPDb *db, int slot, int sign, const PPNodeObs *o, TimestampTz at)
{
	for (;;)
	{
		bool		in_minutes;
		PPShortage	why = SHORT_NONE;
		PPBucket   *h;
		PPBucket   *m = NULL;

		if (at < shared->horizon_start)
			return true;		/* beyond the horizon: the table answers */
		/* dimensions keep hour buckets only (see collect) */
		in_minutes = at >= shared->minute_start && !IS_DIM_SLOT(slot);

		h = bucket_get(hour_hash, slot, pp_time_floor(at, USECS_PER_HOUR), sign > 0, &why);
		if (h != NULL && in_minutes)
			m = bucket_get(minute_hash, slot, pp_time_floor(at, USECS_PER_MINUTE), sign > 0, &why);
		if (why == SHORT_NONE && sign > 0 && !IS_PATH_SLOT(slot))
		{
			pp_error_code_t rc = buckets_sketches_add(m, h, o);

			if (rc == PP_ERR_FULL)
				why = SHORT_SKETCH_MEMORY;
			else if (rc != PP_OK)
				return false;
		}
		if (why != SHORT_NONE)
		{
			/* take back the buckets just created for it */
			if (m != NULL && m->c.calls == 0)
				bucket_remove(minute_hash, m);
			if (h != NULL && h->c.calls == 0)
				bucket_remove(hour_hash, h);
			if (IS_DIM_SLOT(slot))
			{
				/* a dimension takes no room from the others: dropped */
				kind_incomplete(db, PP_KIND_DIM, at + 1);
				shared->dims_dropped++;
				return true;
			}
			if (dims_give_way() || make_room(why))
				continue;
			break;
		}
		if (h == NULL || (in_minutes && m == NULL))
		{
			/* a removal of what was never stored (dropped, or evicted) */
			return sign > 0 || at < kind_incomplete_before(db, ops[slot].key.kind);
		}
		if (m != NULL && !bucket_observe(minute_hash, m, sign, o, at))
			return false;
		return bucket_observe(hour_hash, h, sign, o, at);
	}

	/* nothing more may give way: count the drop, never fail */
	if (sign > 0)
	{
		kind_incomplete(db, ops[slot].key.kind, at + 1);
		shared->obs_dropped++;
		degraded(DEGRADED_OBSERVATIONS);
		return true;
	}
	return at < kind_incomplete_before(db, ops[slot].key.kind);
}

/*
 * Apply node i of ch to its call path entry, whose parent's entry the
 * parent node (applied before it: pre-order) left in its path_slot.
 * Returns false as bucket_apply does.
 */
static bool
apply_path(PPDb *db, const PPRowChange *ch, PPNodeObs *nodes, int i,
		   TimestampTz now, int sign)
{
	PPNodeObs  *n = &nodes[ch->first_node + i];
	int			parent = -1;
	int			slot = -1;

	n->path_slot = -1;
	if (pp_max_paths == 0)
		return true;
	if (n->parent >= 0)
		parent = nodes[ch->first_node + n->parent].path_slot;
	if (n->parent < 0 || parent >= 0)
		slot = slot_get(db, PP_KIND_PATH, n->name, n->name_len, n->path_hash,
						parent, 0, sign > 0);
	if (slot < 0)
	{
		if (sign < 0)
			return ch->created_at < kind_incomplete_before(db, PP_KIND_PATH) ||
				ch->created_at < shared->horizon_start;
		kind_incomplete(db, PP_KIND_PATH, ch->created_at + 1);
		return true;
	}
	n->path_slot = slot;
	/* never below a child's: eviction relies on it (slot_evict) */
	ops[slot].last_used = Max(ops[slot].last_used, now);
	if (sign > 0 && ch->created_at > ops[slot].last_at)
		ops[slot].last_at = ch->created_at;
	return bucket_apply(db, slot, sign, n, ch->created_at);
}

/*
 * Apply node i (n) of ch, whose operation's entry is op_slot, to the entry
 * of each live dimension's value.  Returns false as bucket_apply does.
 */
static bool
apply_dims(PPDb *db, const PPRowChange *ch, const PPNodeObs *n, int i,
		   int op_slot, const PPDimObs *dims, TimestampTz now, int sign)
{
	PPNodeObs	o = *n;
	int			d;

	o.ttft_ms = -1;				/* no time to first token per dimension */
	for (d = 0; d < ch->n_dims; d++)
	{
		const PPDimObs *v = &dims[ch->first_dim + i * ch->n_dims + d];
		uint64		hash = hash_combine64(hash_combine64(ch->dim_ids[d], n->name_hash),
										  v->hash);
		int			slot = slot_get(db, PP_KIND_DIM, v->value, v->value_len,
									hash, op_slot, ch->dim_ids[d], sign > 0);

		if (slot < 0)
		{
			if (sign < 0)
			{
				if (ch->created_at < kind_incomplete_before(db, PP_KIND_DIM) ||
					ch->created_at < shared->horizon_start)
					continue;
				return false;
			}
			kind_incomplete(db, PP_KIND_DIM, ch->created_at + 1);
			continue;
		}
		ops[slot].last_used = now;
		if (sign > 0 && ch->created_at > ops[slot].last_at)
			ops[slot].last_at = ch->created_at;
		if (!bucket_apply(db, slot, sign, &o, ch->created_at))
			return false;
	}
	return true;
}

static bool
apply_change(PPDb *db, const PPRowChange *ch, PPNodeObs *nodes,
			 const PPDimObs *dims, TimestampTz now, int sign)
{
	int			slot;
	int			i;

	/* windows reaching future_from read the table: such rows stay out */
	if (ch->created_at >= db->future_from)
		return true;

	apply_at = ch->created_at;
	slot = slot_get(db, PP_KIND_ROOT, "", 0, 0, -1, 0, sign > 0);
	if (slot < 0)
	{
		if (sign < 0)
			return ch->created_at < db->incomplete_before ||
				ch->created_at < shared->horizon_start;
		db_incomplete(db, ch->created_at + 1);
		shared->obs_dropped++;
	}
	else
	{
		PPNodeObs	root;

		memset(&root, 0, sizeof(root));
		root.duration_ms = ch->total_ms;
		root.self_ms = ch->total_ms;
		root.failed = ch->failed;
		pp_obs_sum_usage(&root, &nodes[ch->first_node], ch->n_nodes);
		ops[slot].last_used = now;
		if (!bucket_apply(db, slot, sign, &root, ch->created_at))
			return false;
	}

	for (i = 0; i < ch->n_nodes; i++)
	{
		const PPNodeObs *n = &nodes[ch->first_node + i];

		if (!apply_path(db, ch, nodes, i, now, sign))
			return false;
		slot = slot_get(db, PP_KIND_OPERATION, n->name, n->name_len,
						n->name_hash, -1, 0, sign > 0);
		if (slot < 0)
		{
			if (sign < 0)
			{
				if (ch->created_at < db->incomplete_before ||
					ch->created_at < shared->horizon_start)
					continue;
				return false;
			}
			db_incomplete(db, ch->created_at + 1);
			shared->obs_dropped++;
			continue;
		}
		ops[slot].last_used = now;
		if (sign > 0 && ch->created_at > ops[slot].last_at)
			ops[slot].last_at = ch->created_at;
		if (!bucket_apply(db, slot, sign, n, ch->created_at))
			return false;
		if (ch->n_dims > 0 && pp_max_dimension_entries > 0 &&
			!apply_dims(db, ch, n, i, slot, dims, now, sign))
			return false;

		if (pp_reservoir_capacity > 0 && ch->created_at >= shared->horizon_start)
		{
			pp_reservoir_t *r = slot_reservoir(slot);

			if (sign > 0)
			{
				pp_reservoir_sample_t s;

				s.duration_ms = n->duration_ms;
				s.self_ms = n->self_ms;
				s.created_at = ch->created_at;
				memcpy(s.profile_id, ch->id.data, PP_PROFILE_ID_SIZE);
				(void) pp_reservoir_offer(r, &s, pp_rng_next(&rng));
			}
			else
				(void) pp_reservoir_remove_profile(r, ch->id.data);
		}
	}

	if (sign > 0 && ch->created_at > db->max_at)
		db->max_at = ch->created_at;
	return true;
}

/*
 * The statistics of db can no longer be trusted: never show numbers that
 * disagree with the table.  During a rebuild, which marks them valid at
 * its end, every window reads the table instead.
 */
static void
db_distrust(PPDb *db, bool rebuilding)
{
	db_clear(db->dbid);
	db->valid = false;
	db->auto_rebuild = true;
	if (rebuilding)
		db->incomplete_before = DT_NOEND;
}

/* ---- loading rollups (pp_rebuild) ---- */

/* Bins of the union of the bins of a and b (zero values excluded). */
static int
sketch_union_bins(const pp_sketch_t *a, const pp_sketch_t *b)
{
	int			i = 0;
	int			j = 0;
	int			n = 0;

	while (i < a->nbins || j < b->nbins)
	{
		uint16		ia = PG_UINT16_MAX;
		uint16		ib = PG_UINT16_MAX;
		uint32		count;

		if (i < a->nbins)
			pp_sketch_slot(a, i, &ia, &count);
		if (j < b->nbins)
			pp_sketch_slot(b, j, &ib, &count);
		i += ia <= ib;
		j += ib <= ia;
		n++;
	}
	return n;
}

/*
 * Make the bucket sketch at *sketch able to take every bin of src: move it
 * to a block of the class that holds their union.  PP_ERR_FULL, the sketch
 * unchanged, when the arena has no such block.
 */
static pp_error_code_t
bucket_sketch_reserve(pp_arena_off_t *sketch, const pp_sketch_t *src)
{
	pp_sketch_t *s = pp_arena_ptr(arena, *sketch);
	int			need = sketch_union_bins(s, src);
	int			c = pp_arena_class_of(arena, *sketch);
	pp_arena_off_t grown;

	if (need <= s->capacity)
		return PP_OK;
	while (c < PP_ARENA_NCLASSES - 1 &&
		   pp_sketch_capacity_in(PP_ARENA_BLOCK(c)) < need)
		c++;
	if (pp_sketch_capacity_in(PP_ARENA_BLOCK(c)) < need)
		return PP_ERR_FULL;
	grown = pp_arena_alloc(arena, c);
	if (grown == 0)
		return PP_ERR_FULL;
	if (pp_sketch_copy(pp_arena_ptr(arena, grown),
					   pp_sketch_capacity_in(PP_ARENA_BLOCK(c)), s) != PP_OK)
	{
		pp_arena_free(arena, grown);
		return PP_ERR_FULL;
	}
	pp_arena_free(arena, *sketch);
	*sketch = grown;
	return PP_OK;
}

/* Add every value of src to the sketch at off (reserved for them). */
static pp_error_code_t
bucket_sketch_merge(pp_arena_off_t off, const pp_sketch_t *src)
{
	pp_sketch_t *s = pp_arena_ptr(arena, off);
	pp_error_code_t rc;
	int			i;

	if (src->zero_count > PG_UINT32_MAX)
		return PP_ERR_OUT_OF_RANGE;
	rc = pp_sketch_add_index_exact(s, 0, (uint32) src->zero_count);
	for (i = 0; rc == PP_OK && i < src->nbins; i++)
	{
		uint16		index;
		uint32		count;

		pp_sketch_slot(src, i, &index, &count);
		rc = pp_sketch_add_index_exact(s, index, count);
	}
	return rc;
}

/*
 * Make the sketches of b (a minute or an hour bucket; NULL for none) able
 * to take the durations d and the times to first token t (NULL: none).
 */
static pp_error_code_t
bucket_reserve(PPBucket *b, const pp_sketch_t *d, const pp_sketch_t *t)
{
	pp_error_code_t rc = PP_OK;

	if (b == NULL || b->sketch == 0)
		return PP_OK;
	if (d != NULL)
		rc = bucket_sketch_reserve(&b->sketch, d);
	if (rc == PP_OK && t != NULL && t->count > 0)
	{
		if (!bucket_ttft_ensure(b))
			return PP_ERR_FULL;
		rc = bucket_sketch_reserve(&b->ttft, t);
	}
	return rc;
}

/* Add the counters and the sketches reserved for them to b. */
static bool
bucket_merge(PPBucket *b, const PPCounters *c, const pp_sketch_t *d,
			 const pp_sketch_t *t)
{
	if (b->sketch != 0 && d != NULL && bucket_sketch_merge(b->sketch, d) != PP_OK)
		return false;
	if (b->sketch != 0 && t != NULL && t->count > 0 &&
		bucket_sketch_merge(b->ttft, t) != PP_OK)
		return false;
	pp_counters_merge(&b->c, c);
	return true;
}

/*
 * The rollup of one closed bucket of slot -- a minute (minute) or an hour
 * before the minute region -- into its hour bucket and, inside the minute
 * region, its minute bucket, as bucket_apply adds one observation: memory
 * pressure gives up old buckets, and when nothing more may go, the rollup
 * is dropped and the entries' windows before its end read the table.
 * Returns false when the sketches refuse its values.
 */
static bool
bucket_load(PPDb *db, int slot, TimestampTz start, bool minute,
			const PPCounters *c, const pp_sketch_t *d, const pp_sketch_t *t)
{
	TimestampTz end = start + (minute ? USECS_PER_MINUTE : USECS_PER_HOUR);
	int			kind = ops[slot].key.kind;

	Assert(minute || end <= shared->minute_start);
	for (;;)
	{
		PPShortage	why = SHORT_NONE;
		PPBucket   *h;
		PPBucket   *m = NULL;

		if (start < shared->horizon_start)
			return true;		/* beyond the horizon: the table answers */
		h = bucket_get(hour_hash, slot, pp_time_floor(start, USECS_PER_HOUR), true, &why);
		/* dimensions keep hour buckets only (see collect) */
		if (h != NULL && minute && start >= shared->minute_start && !IS_DIM_SLOT(slot))
			m = bucket_get(minute_hash, slot, start, true, &why);
		if (why == SHORT_NONE &&
			(bucket_reserve(m, d, t) != PP_OK || bucket_reserve(h, d, t) != PP_OK))
			why = SHORT_SKETCH_MEMORY;
		if (why == SHORT_NONE)
			return (m == NULL || bucket_merge(m, c, d, t)) && bucket_merge(h, c, d, t);
		/* take back the buckets just created for it */
		if (m != NULL && m->c.calls == 0)
			bucket_remove(minute_hash, m);
		if (h != NULL && h->c.calls == 0)
			bucket_remove(hour_hash, h);
		if (!dims_give_way() && !make_room(why))
			break;
	}
	kind_incomplete(db, kind, end);
	shared->obs_dropped += c->calls;
	degraded(DEGRADED_OBSERVATIONS);
	return true;
}

/*
 * pp_rebuild: add the rollup of one closed bucket of dbid (see
 * pp_shmem_load_rollup in shmem.h).
 */
void
pp_shmem_load_rollup(Oid dbid, int kind, int depth, const char *const *names,
					 const int *name_lens, uint64 dim_id, TimestampTz start,
					 bool minute, const PPCounters *c,
					 const pp_sketch_t *durations, const pp_sketch_t *ttft)
{
	TimestampTz now = GetCurrentTimestamp();
	TimestampTz end = start + (minute ? USECS_PER_MINUTE : USECS_PER_HOUR);
	PPDb	   *db;
	int			slot = -1;
	int			i;

	if (shared == NULL || c->calls <= 0)
		return;
	LWLockAcquire(shared->lock, LW_EXCLUSIVE);
	regions_follow_clock();
	apply_now = now;
	apply_at = start;
	db = db_get(dbid, true);
	if (db == NULL)
	{
		LWLockRelease(shared->lock);
		return;
	}
	if (kind == PP_KIND_PATH)
	{
		uint64		hash = 0;

		/* the path's entry, and its parents' (each has its own rollup) */
		for (i = 0; i < depth; i++)
		{
			int			parent = slot;

			hash = pp_path_hash(hash,
								hash_bytes_extended((const unsigned char *) names[i],
													name_lens[i], 0));
			slot = slot_get(db, PP_KIND_PATH, names[i], name_lens[i], hash,
							parent, 0, true);
			if (slot < 0)
				break;
			ops[slot].last_used = Max(ops[slot].last_used, now);
		}
	}
	else if (kind == PP_KIND_DIM)
	{
		/* the value names[1] of the operation names[0] (see apply_dims) */
		uint64		op_hash = hash_bytes_extended((const unsigned char *) names[0],
												  name_lens[0], 0);
		int			op_slot = slot_get(db, PP_KIND_OPERATION, names[0], name_lens[0],
									   op_hash, -1, 0, true);

		if (op_slot >= 0)
			slot = slot_get(db, PP_KIND_DIM, names[1], name_lens[1],
							hash_combine64(hash_combine64(dim_id, op_hash),
										   name_lens[1] < 0 ? 0 :
										   hash_bytes_extended((const unsigned char *) names[1],
															   name_lens[1], 0)),
							op_slot, dim_id, true);
	}
	else
		slot = slot_get(db, kind, names[0], name_lens[0],
						kind == PP_KIND_ROOT ? 0 :
						hash_bytes_extended((const unsigned char *) names[0],
											name_lens[0], 0),
						-1, 0, true);
	if (slot < 0)
	{
		kind_incomplete(db, kind, end);
		if (kind == PP_KIND_ROOT || kind == PP_KIND_OPERATION)
			shared->obs_dropped += c->calls;
	}
	else
	{
		ops[slot].last_used = now;
		ops[slot].last_at = Max(ops[slot].last_at, c->last_at);
		if (kind == PP_KIND_ROOT || kind == PP_KIND_OPERATION)
			db->max_at = Max(db->max_at, c->last_at);
		if (!bucket_load(db, slot, start, minute, c, durations, ttft))
			db_distrust(db, true);
	}
	LWLockRelease(shared->lock);
}

/*
 * pp_rebuild: the dimension entries of dbid were loaded with the
 * declarations of signature sig; dimension windows starting before
 * incomplete_before read the table.
 */
void
pp_shmem_rebuilt_dims(Oid dbid, uint64 sig, TimestampTz incomplete_before)
{
	PPDb	   *db;

	if (shared == NULL)
		return;
	LWLockAcquire(shared->lock, LW_EXCLUSIVE);
	db = db_get(dbid, true);
	if (db != NULL)
	{
		if (db->dims_sig == 0)
			db->dims_sig = sig;
		kind_incomplete(db, PP_KIND_DIM, incomplete_before);
	}
	LWLockRelease(shared->lock);
}

/* Forget every operation of dbid (caller holds the lock exclusively). */
static void
db_clear(Oid dbid)
{
	int			i;

	for (i = 0; i < N_SLOTS; i++)
		if (ops[i].in_use && ops[i].key.dbid == dbid)
			slot_free(i);
}

/* ---- entry points ---- */

typedef enum ApplyMode
{
	APPLY_COMMIT,				/* a committing transaction's changes */
	APPLY_REBUILD,				/* rows read by pp_rebuild (statistics invalid) */
	APPLY_UNDO					/* take back changes of a failed commit */
} ApplyMode;

static void
apply_all(Oid dbid, const PPRowChange *changes, int n_changes,
		  PPNodeObs *nodes, const PPDimObs *dims, ApplyMode mode)
{
	PPDb	   *db;
	TimestampTz now;
	int			i;

	if (shared == NULL || n_changes == 0)
		return;
	now = GetCurrentTimestamp();
	if (!rng_seeded)
	{
		/* the reservoirs' random numbers, one stream per backend */
		pp_rng_seed(&rng, (uint64) MyProcPid ^ (uint64) now);
		rng_seeded = true;
	}

	LWLockAcquire(shared->lock, LW_EXCLUSIVE);
	regions_follow_clock();
	apply_now = now;
	db = db_get(dbid, true);
	for (i = 0; db != NULL && i < n_changes; i++)
	{
		/* an undo takes the changes back in reverse order */
		const PPRowChange *ch = &changes[mode == APPLY_UNDO ? n_changes - 1 - i : i];
		int			sign = ch->kind == PP_CHANGE_ADD ? 1 : -1;

		if (mode == APPLY_UNDO)
			sign = -sign;
		if (ch->kind == PP_CHANGE_REJECTED)
		{
			/* counted whether the statistics are valid or not */
			db->counters.rejected += mode == APPLY_UNDO ? -1 : 1;
			continue;
		}
		if (ch->kind == PP_CHANGE_TRUNCATE)
		{
			db_clear(dbid);
			/* an undone TRUNCATE cannot bring the statistics back */
			db->valid = mode != APPLY_UNDO;
			db->auto_rebuild = true;
			db->incomplete_before = DT_NOBEGIN;
			db->paths_incomplete_before = DT_NOBEGIN;
			db->dims_incomplete_before = DT_NOBEGIN;
			db->dims_sig = ch->dims_sig;
			db->max_at = DT_NOBEGIN;
			db->future_from = DT_NOEND;
			db->future_rows = 0;
			db->last_reset = now;
			continue;
		}
		if (!(db->valid || mode == APPLY_REBUILD) || !ch->confirmed)
			continue;
		if (ch->dims_sig != db->dims_sig)
		{
			/* values read with other declarations than the entries' */
			if (db->dims_sig == 0 || mode == APPLY_REBUILD)
				db->dims_sig = ch->dims_sig;
			else
			{
				db_clear(dbid);
				db->valid = false;
				db->auto_rebuild = true;
				continue;
			}
		}
		if (ch->kind == PP_CHANGE_ADD && mode != APPLY_REBUILD)
		{
			shared->profiles += sign;
			shared->nodes += sign * ch->n_nodes;
			db->counters.profiles += sign;
			db->counters.nodes += sign * ch->n_nodes;
			db->counters.usage_ignored += sign * ch->usage_ignored;
			db->counters.cost_unknown += sign * ch->cost_unknown;
			if (ch->ingest_us > 0)
			{
				shared->timed_profiles += sign;
				shared->ingest_us += sign * ch->ingest_us;
				db->counters.timed_profiles += sign;
				db->counters.ingest_us += sign * ch->ingest_us;
			}
		}
		if (!apply_change(db, ch, nodes, dims, now, sign))
			db_distrust(db, mode == APPLY_REBUILD);
	}
	LWLockRelease(shared->lock);
}

void
pp_shmem_apply(Oid dbid, const PPRowChange *changes, int n_changes,
			   PPNodeObs *nodes, const PPDimObs *dims)
{
	apply_all(dbid, changes, n_changes, nodes, dims, APPLY_COMMIT);
}

/* Take back what pp_shmem_apply applied, for a commit that failed after it. */
void
pp_shmem_undo(Oid dbid, const PPRowChange *changes, int n_changes,
			  PPNodeObs *nodes, const PPDimObs *dims)
{
	apply_all(dbid, changes, n_changes, nodes, dims, APPLY_UNDO);
}

void
pp_shmem_load(Oid dbid, const PPRowChange *changes, int n_changes,
			  PPNodeObs *nodes, const PPDimObs *dims)
{
	apply_all(dbid, changes, n_changes, nodes, dims, APPLY_REBUILD);
}

void
pp_shmem_invalidate(Oid dbid, bool auto_rebuild)
{
	PPDb	   *db;
	bool		valid;

	if (shared == NULL)
		return;
	/* cheap when already invalid: ppprof.enabled = off calls this per row */
	LWLockAcquire(shared->lock, LW_SHARED);
	db = hash_search(db_hash, &dbid, HASH_FIND, NULL);
	valid = db != NULL && db->valid;
	LWLockRelease(shared->lock);
	if (!valid)
		return;

	LWLockAcquire(shared->lock, LW_EXCLUSIVE);
	db = db_get(dbid, false);
	if (db != NULL)
	{
		db_clear(dbid);
		db->valid = false;
		db->auto_rebuild = auto_rebuild;
	}
	LWLockRelease(shared->lock);
}

/* sampled out by ppprof.sample_rate */
void
pp_shmem_count_sampled_out(Oid dbid)
{
	PPDb	   *db;

	if (shared == NULL)
		return;
	LWLockAcquire(shared->lock, LW_EXCLUSIVE);
	shared->sampled_out++;
	db = db_get(dbid, true);
	if (db != NULL)
		db->counters.sampled_out++;
	LWLockRelease(shared->lock);
}

void
pp_shmem_note_rejected(Oid dbid, const char *reason)
{
	PPDb	   *db;

	if (shared == NULL)
		return;
	LWLockAcquire(shared->lock, LW_EXCLUSIVE);
	db = db_get(dbid, true);
	if (db != NULL)
	{
		strlcpy(db->counters.rejected_last, reason, PP_REJECTED_REASON_LEN);
		db->counters.rejected_last_at = GetCurrentTimestamp();
	}
	LWLockRelease(shared->lock);
}

void
pp_shmem_reset(Oid dbid, bool valid, bool auto_rebuild)
{
	PPDb	   *db;

	if (shared == NULL)
		return;
	LWLockAcquire(shared->lock, LW_EXCLUSIVE);
	db_clear(dbid);
	db = db_get(dbid, true);
	if (db != NULL)
	{
		db->valid = valid;
		db->auto_rebuild = auto_rebuild;
		db->incomplete_before = DT_NOBEGIN;
		db->paths_incomplete_before = DT_NOBEGIN;
		db->dims_incomplete_before = DT_NOBEGIN;
		db->dims_sig = 0;
		db->max_at = DT_NOBEGIN;
		db->future_from = DT_NOEND;
		db->future_rows = 0;
		db->last_reset = GetCurrentTimestamp();
	}
	LWLockRelease(shared->lock);
}

void
pp_shmem_set_valid(Oid dbid, TimestampTz future_from, int64 future_rows)
{
	PPDb	   *db;

	if (shared == NULL)
		return;
	LWLockAcquire(shared->lock, LW_EXCLUSIVE);
	db = db_get(dbid, true);
	if (db != NULL)
	{
		db->valid = true;
		db->auto_rebuild = true;
		db->rebuild_started = 0;
		db->future_from = future_from;
		db->future_rows = future_rows;
	}
	LWLockRelease(shared->lock);
}

/* A dropped database, or a dropped extension: free everything of dbid. */
void
pp_shmem_forget(Oid dbid)
{
	if (shared == NULL)
		return;
	LWLockAcquire(shared->lock, LW_EXCLUSIVE);
	db_clear(dbid);
	hash_search(db_hash, &dbid, HASH_REMOVE, NULL);
	LWLockRelease(shared->lock);
}

/*
 * Claim the background rebuild of dbid: true when its statistics are invalid,
 * a rebuild is wanted and none was started in the last minute.
 */
bool
pp_shmem_claim_rebuild(Oid dbid)
{
	PPDb	   *db;
	TimestampTz now = GetCurrentTimestamp();
	bool		claimed = false;

	if (shared == NULL)
		return false;
	LWLockAcquire(shared->lock, LW_EXCLUSIVE);
	db = db_get(dbid, true);
	if (db != NULL && !db->valid && db->auto_rebuild &&
		(db->rebuild_started == 0 ||
		 now - db->rebuild_started > 60 * USECS_PER_SEC))
	{
		db->rebuild_started = now;
		claimed = true;
	}
	LWLockRelease(shared->lock);
	return claimed;
}

/*
 * pp_rollup() is about to write rollups of buckets before t: from now on, a
 * writer marks the minutes before t it changes (rollups.c).  One horizon
 * for every database, the latest: a writer marks what it need not only in
 * a database whose rollups lag the others'.
 */
void
pp_shmem_rollup_raise(TimestampTz t)
{
	uint64		old = pg_atomic_read_u64(&shared->rollup_horizon);

	while ((int64) old < t &&
		   !pg_atomic_compare_exchange_u64(&shared->rollup_horizon, &old, (uint64) t))
		;
}

/*
 * Rollups are of buckets before the returned time.  A crash forgets the
 * horizon, but every rollup written before it is of a bucket before the
 * server's start.  Read without a lock: the caller took its lock on the
 * table before (a barrier), and pp_rollup() raises before it waits for the
 * table's lockers.
 */
TimestampTz
pp_shmem_rollup_horizon(void)
{
	TimestampTz t = PgStartTime;

	if (shared != NULL)
	{
		pg_memory_barrier();
		t = Max(t, (TimestampTz) pg_atomic_read_u64(&shared->rollup_horizon));
	}
	return t;
}

/*
 * Claim the background pp_rollup() of dbid: true at most once a minute,
 * the first time after a minute closed.
 */
bool
pp_shmem_claim_rollup(Oid dbid)
{
	PPDb	   *db;
	TimestampTz now = GetCurrentTimestamp();
	bool		claimed = false;

	if (shared == NULL)
		return false;
	LWLockAcquire(shared->lock, LW_EXCLUSIVE);
	db = db_get(dbid, true);
	if (db != NULL && now >= db->rollup_next)
	{
		db->rollup_next = now - now % USECS_PER_MINUTE + USECS_PER_MINUTE;
		claimed = true;
	}
	LWLockRelease(shared->lock);
	return claimed;
}

/* The claimed rebuild did not happen. */
void
pp_shmem_release_rebuild(Oid dbid)
{
	PPDb	   *db;

	if (shared == NULL)
		return;
	LWLockAcquire(shared->lock, LW_EXCLUSIVE);
	db = db_get(dbid, false);
	if (db != NULL)
		db->rebuild_started = 0;
	LWLockRelease(shared->lock);
}

static bool
plan_table(PPWindowPlan *plan, const char *why)
{
	plan->use_table = true;
	plan->why = why;
	return false;
}

/* Whom the buckets of a window go to, and which entries: see visit_one. */
typedef struct PPVisit
{
	int			kind;			/* PP_KIND_PATH: paths; PP_KIND_DIM:
								 * dimension dim_id; else the others */
	pp_bucket_visitor visit;	/* operations and root */
	pp_path_visitor visit_path; /* paths */
	pp_dim_visitor visit_dim;	/* dimensions */
	uint64		dim_id;
	void	   *arg;
	int			names_slot;		/* the path whose names are in names */
	int			names_depth;
	int			names_cap;
	const char **names;
	int		   *name_lens;
} PPVisit;

/* Hand one bucket of slot to the visitor. */
static void
visit_one(PPVisit *v, int slot, TimestampTz start, const PPBucket *b)
{
	const PPOp *op = &ops[slot];

	if (v->kind == PP_KIND_DIM)
	{
		const PPOp *parent = &ops[op->parent];

		if (op->dim_id == v->dim_id)
			v->visit_dim(v->arg, parent->name, parent->name_len, op->name,
						 op->no_value ? -1 : op->name_len, start, &b->c,
						 BUCKET_SKETCH(b));
		return;
	}
	if (v->kind != PP_KIND_PATH)
	{
		v->visit(v->arg, op->key.kind, op->name, op->name_len, start, &b->c,
				 BUCKET_SKETCH(b), b->ttft != 0 ? BUCKET_TTFT(b) : NULL);
		return;
	}
	if (v->names_slot != slot)
	{
		int			d;
		int			s;

		if (op->depth > v->names_cap)
		{
			v->names_cap = Max(op->depth, 2 * v->names_cap);
			v->names = v->names ? repalloc(v->names, sizeof(char *) * v->names_cap)
				: palloc(sizeof(char *) * v->names_cap);
			v->name_lens = v->name_lens ? repalloc(v->name_lens, sizeof(int) * v->names_cap)
				: palloc(sizeof(int) * v->names_cap);
		}
		/* from the leaf up: every ancestor of a tracked path is tracked */
		for (d = op->depth - 1, s = slot; d >= 0 && s >= 0; d--, s = ops[s].parent)
		{
			v->names[d] = ops[s].name;
			v->name_lens[d] = ops[s].name_len;
		}
		Assert(d < 0 && s < 0);
		v->names_slot = slot;
		v->names_depth = op->depth;
	}
	v->visit_path(v->arg, op, v->names_depth, v->names, v->name_lens, start,
				  &b->c);
}

/* Visit the buckets of one entry starting in [from, to), by key. */
static void
visit_range(HTAB *htab, const PPOp *op, int slot, TimestampTz from,
			TimestampTz to, int64 step, PPVisit *v)
{
	PPBucketKey key;
	TimestampTz t;

	memset(&key, 0, sizeof(key));
	key.slot = slot;
	key.generation = op->generation;
	for (t = from; t < to; t += step)
	{
		PPBucket   *b;

		key.start = t;
		b = hash_search(htab, &key, HASH_FIND, NULL);
		if (b != NULL)
			visit_one(v, slot, t, b);
	}
}

/*
 * Visit every bucket of db's entries of v's kind in htab starting in
 * [from, to).  No bucket starts after db's newest observation, so the range
 * stops there; then the buckets are looked up by key, entry by entry, or,
 * when that would take more look-ups than htab has entries, found by one
 * walk through htab.  Either way the work is bounded by the pools, whatever
 * range the caller asked for: this runs under the shared lock.
 */
static void
visit_region(HTAB *htab, const PPDb *db, TimestampTz from, TimestampTz to,
			 int64 step, PPVisit *v)
{
	int			slot;
	int			n_entries = kind_count(db, v->kind);

	if (db->max_at == DT_NOBEGIN)
		return;
	to = Min(to, pp_time_floor(db->max_at, step) + step);
	if (from >= to)
		return;

	if ((to - from) / step * n_entries <= hash_get_num_entries(htab))
	{
		for (slot = SLOT_FIRST(v->kind); slot < SLOT_END(v->kind); slot++)
			if (ops[slot].in_use && ops[slot].key.dbid == db->dbid &&
				(v->kind != PP_KIND_DIM || ops[slot].dim_id == v->dim_id))
				visit_range(htab, &ops[slot], slot, from, to, step, v);
	}
	else
	{
		HASH_SEQ_STATUS status;
		PPBucket   *b;

		hash_seq_init(&status, htab);
		while ((b = hash_seq_search(&status)) != NULL)
		{
			const PPOp *op = &ops[b->key.slot];

			if (op->in_use && op->key.dbid == db->dbid &&
				KIND_CLASS(op->key.kind) == KIND_CLASS(v->kind) &&
				b->key.generation == op->generation &&
				b->key.start >= from && b->key.start < to)
				visit_one(v, b->key.slot, b->key.start, b);
		}
	}
}

static bool
collect(Oid dbid, TimestampTz t0, TimestampTz t1, bool end_open, PPVisit *v,
		PPWindowPlan *plan)
{
	PPDb	   *db;
	TimestampTz lo;				/* buckets cover [lo, hi) */
	TimestampTz hi;
	TimestampTz h1;				/* hour buckets cover [h1, h2) */
	TimestampTz h2;

	memset(plan, 0, sizeof(*plan));
	if (shared == NULL)
		return plan_table(plan, "ppprof is not in shared_preload_libraries");

	LWLockAcquire(shared->lock, LW_SHARED);
	db = hash_search(db_hash, &dbid, HASH_FIND, NULL);
	if (db == NULL || !db->valid)
	{
		plan->invalid = true;
		LWLockRelease(shared->lock);
		return plan_table(plan, "statistics are not valid");
	}
	if (v->kind == PP_KIND_PATH && pp_max_paths == 0)
	{
		LWLockRelease(shared->lock);
		return plan_table(plan, "ppprof.max_paths is 0: no call path is kept in shared memory");
	}
	if (v->kind == PP_KIND_DIM && pp_max_dimension_entries == 0)
	{
		LWLockRelease(shared->lock);
		return plan_table(plan, "ppprof.max_dimension_entries is 0: no dimension is kept in shared memory");
	}
	if (t0 < shared->horizon_start || t0 < kind_incomplete_before(db, v->kind))
	{
		LWLockRelease(shared->lock);
		return plan_table(plan, "the window reaches beyond the statistics kept in shared memory");
	}
	if (t1 >= db->future_from)
	{
		/* once the clock allows those rows, a rebuild takes them in */
		plan->rebuild = pp_created_at_limit() >= db->future_from;
		LWLockRelease(shared->lock);
		return plan_table(plan, "the window reaches rows dated after the server's clock");
	}

	if (v->kind == PP_KIND_DIM)
	{
		/*
		 * Dimensions keep hour buckets only: the hours inside the window
		 * come from them, the part of the hour t0 cuts from the table, and
		 * t1's hour too when rows newer than t1 were seen.  A window within
		 * less than that is read from the table.
		 */
		lo = pp_time_floor(t0, USECS_PER_HOUR);
		if (lo != t0)
			lo += USECS_PER_HOUR;
		hi = pp_time_floor(t1, USECS_PER_HOUR);
		if (!end_open && db->max_at <= t1)
			hi += USECS_PER_HOUR;
		if (hi <= lo)
		{
			LWLockRelease(shared->lock);
			return plan_table(plan, "the window holds no whole hour of the dimension's buckets");
		}
		plan->edge_lo_from = t0;
		plan->edge_lo_to = lo;
		plan->edge_hi_from = hi;
		plan->edge_hi_to = t1;
		plan->edge_hi_open = end_open;
		visit_region(hour_hash, db, lo, hi, USECS_PER_HOUR, v);
		LWLockRelease(shared->lock);
		return true;
	}

	/* old edge: the bucket t0 cuts is read from the table */
	if (t0 >= shared->minute_start)
		lo = pp_time_floor(t0, USECS_PER_MINUTE);
	else
		lo = pp_time_floor(t0, USECS_PER_HOUR);
	plan->edge_lo_from = t0;
	plan->edge_lo_to = t0;
	if (lo != t0)
	{
		lo += t0 >= shared->minute_start ? USECS_PER_MINUTE : USECS_PER_HOUR;
		plan->edge_lo_to = lo;
	}

	/*
	 * new edge: buckets hold nothing newer than t1 unless rows newer than t1
	 * were seen; then t1's minute is read from the table.  A half-open
	 * window ending on a minute needs no table read at that end.
	 */
	hi = pp_time_floor(t1, USECS_PER_MINUTE);
	if (!end_open && db->max_at <= t1)
		hi += USECS_PER_MINUTE;
	if (hi < lo)
		hi = lo;
	plan->edge_hi_open = end_open;

	/*
	 * Whole hours come from hour buckets, the minutes around them from minute
	 * buckets: a day merges about 24 + 2 * 60 sketches, not 1440.
	 */
	h1 = pp_time_floor(lo, USECS_PER_HOUR);
	if (h1 < lo)
		h1 += USECS_PER_HOUR;
	h2 = pp_time_floor(hi, USECS_PER_HOUR);
	if (h1 >= h2 ||
		(hi - lo < PP_HOUR_BUCKETS_FROM && lo >= shared->minute_start))
		h1 = h2 = lo;			/* short recent window: minutes only */
	else if (h2 < shared->minute_start)
	{
		/* minute buckets of the last partial hour are gone: use the table */
		hi = h2;
	}
	if (h1 == h2 && lo < shared->minute_start && hi > lo)
	{
		/* no minute buckets there: read [lo, hi) from the table too */
		hi = lo;
	}
	plan->edge_hi_from = hi;
	plan->edge_hi_to = t1;

	visit_region(hour_hash, db, h1, h2, USECS_PER_HOUR, v);
	if (h1 == h2)
		visit_region(minute_hash, db, lo, hi, USECS_PER_MINUTE, v);
	else
	{
		visit_region(minute_hash, db, lo, h1, USECS_PER_MINUTE, v);
		visit_region(minute_hash, db, h2, hi, USECS_PER_MINUTE, v);
	}
	LWLockRelease(shared->lock);
	return true;
}

bool
pp_shmem_collect(Oid dbid, TimestampTz t0, TimestampTz t1, bool end_open,
				 pp_bucket_visitor visit, void *arg, PPWindowPlan *plan)
{
	PPVisit		v;

	memset(&v, 0, sizeof(v));
	v.kind = PP_KIND_OPERATION;
	v.visit = visit;
	v.arg = arg;
	return collect(dbid, t0, t1, end_open, &v, plan);
}

bool
pp_shmem_collect_paths(Oid dbid, TimestampTz t0, TimestampTz t1, bool end_open,
					   pp_path_visitor visit, void *arg, PPWindowPlan *plan)
{
	PPVisit		v;

	memset(&v, 0, sizeof(v));
	v.kind = PP_KIND_PATH;
	v.visit_path = visit;
	v.arg = arg;
	v.names_slot = -1;
	return collect(dbid, t0, t1, end_open, &v, plan);
}

bool
pp_shmem_collect_dims(Oid dbid, uint64 dim_id, TimestampTz t0, TimestampTz t1,
					  bool end_open, pp_dim_visitor visit, void *arg,
					  PPWindowPlan *plan)
{
	PPVisit		v;

	memset(&v, 0, sizeof(v));
	v.kind = PP_KIND_DIM;
	v.visit_dim = visit;
	v.dim_id = dim_id;
	v.arg = arg;
	return collect(dbid, t0, t1, end_open, &v, plan);
}

pp_reservoir_t *
pp_shmem_samples(Oid dbid, const char *name, int name_len)
{
	PPOpKey		key;
	PPOpIndex  *idx;
	pp_reservoir_t *copy = NULL;

	if (shared == NULL)
		return NULL;
	memset(&key, 0, sizeof(key));
	key.dbid = dbid;
	key.kind = PP_KIND_OPERATION;
	key.name_hash = hash_bytes_extended((const unsigned char *) name, name_len, 0);

	copy = palloc(reservoir_bytes);
	LWLockAcquire(shared->lock, LW_SHARED);
	idx = hash_search(op_hash, &key, HASH_FIND, NULL);
	if (idx != NULL && ops[idx->slot].name_len == name_len &&
		memcmp(ops[idx->slot].name, name, name_len) == 0)
		memcpy(copy, slot_reservoir(idx->slot), reservoir_bytes);
	else
	{
		pfree(copy);
		copy = NULL;
	}
	LWLockRelease(shared->lock);
	return copy;
}

void
pp_shmem_info(Oid dbid, PPShmemInfo *info)
{
	PPDb	   *db;
	int			i;

	memset(info, 0, sizeof(*info));
	if (shared == NULL)
		return;
	info->attached = true;
	info->shmem_bytes = shmem_size();
	LWLockAcquire(shared->lock, LW_SHARED);
	db = hash_search(db_hash, &dbid, HASH_FIND, NULL);
	if (db != NULL)
	{
		info->db_valid = db->valid;
		info->rebuild_started = db->rebuild_started;
		info->auto_rebuild = db->auto_rebuild;
		info->incomplete_before = db->incomplete_before;
		info->last_reset = db->last_reset;
		info->future_from = db->future_from;
		info->future_rows = db->future_rows;
		info->db_profiles = db->counters.profiles;
		info->db_nodes = db->counters.nodes;
		info->db_sampled_out = db->counters.sampled_out;
		info->db_usage_ignored = db->counters.usage_ignored;
		info->db_cost_unknown = db->counters.cost_unknown;
		info->db_rejected = db->counters.rejected;
		info->db_rejected_last_at = db->counters.rejected_last_at;
		strlcpy(info->db_rejected_last, db->counters.rejected_last,
				PP_REJECTED_REASON_LEN);
		info->db_mean_ingest_us = db->counters.timed_profiles > 0 ?
			db->counters.ingest_us / db->counters.timed_profiles : 0;
		info->db_paths = db->n_paths;
		info->paths_incomplete_before = db->paths_incomplete_before;
		info->db_dimension_entries = db->n_dims;
		info->dimensions_incomplete_before = db->dims_incomplete_before;
	}
	info->minute_start = shared->minute_start;
	info->horizon_start = shared->horizon_start;
	info->operations = shared->n_ops;
	for (i = 0; i < pp_max_operations; i++)
		if (ops[i].in_use && ops[i].key.dbid == dbid &&
			ops[i].key.kind == PP_KIND_OPERATION)
			info->db_operations++;
	info->minute_buckets = shared->n_minute - shared->stale_minute;
	info->hour_buckets = shared->n_hour - shared->stale_hour;
	info->operations_evicted = shared->ops_evicted;
	info->operations_refused = shared->ops_refused;
	info->paths = shared->n_paths;
	info->paths_evicted = shared->paths_evicted;
	info->paths_refused = shared->paths_refused;
	info->dimension_entries = shared->n_dims;
	info->dimension_entries_evicted = shared->dims_evicted;
	info->dimension_entries_refused = shared->dims_refused;
	info->dimension_observations_dropped = shared->dims_dropped;
	info->dimensions_gave_way = shared->dims_gave_way;
	info->observations_dropped = shared->obs_dropped;
	info->profiles = shared->profiles;
	info->nodes = shared->nodes;
	info->sampled_out = shared->sampled_out;
	info->mean_ingest_us = shared->timed_profiles > 0 ?
		shared->ingest_us / shared->timed_profiles : 0;
	{
		pp_arena_stats_t st;

		pp_arena_stats(arena, &st);
		info->sketch_bytes = st.total_bytes;
		info->sketch_used_bytes = st.used_bytes;
	}
	info->degradation = degradation_names[shared->degraded];
	info->degraded_since = shared->degraded_since;
	info->degraded_last = shared->degraded_last;
	info->shmem_used_bytes = (Size) shared->n_ops * (sizeof(PPOp) + reservoir_bytes) +
		(Size) (shared->n_paths + shared->n_dims) * sizeof(PPOp) +
		(Size) (shared->n_minute + shared->n_hour) * sizeof(PPBucket) +
		info->sketch_used_bytes;
	strlcpy(info->dump_status, shared->dump_status, sizeof(info->dump_status));
	LWLockRelease(shared->lock);
}

/* ---- dump file: serialization (file handling is in dump.c) ---- */

/*
 * Dump file layout, host byte order (the header pins the platform-dependent
 * parts: PostgreSQL major version, format versions, capacities); its check
 * is src/core/dumpfile.c, the records are these structs:
 *
 *	pp_dump_header_t
 *	n_dbs  x PPDb
 *	n_ops  x (PPOp, reservoir of reservoir_bytes)
 *	n_minute x (PPDumpBucket, sketch of its own capacity, then the
 *	          time-to-first-token sketch when flags has PP_DUMP_TTFT)
 *	n_hour x (the same)
 *	n_paths x PPOp (parent: the parent's index among the paths, which
 *	          comes first)
 *	n_path_minute x PPDumpBucket (op: the path's index; no sketch)
 *	n_path_hour x PPDumpBucket
 *	n_dims x PPOp (parent: its operation's index among the operations)
 *	n_dim_hour x (PPDumpBucket, sketch of its own capacity) (op: the
 *	          dimension entry's index; hour buckets only, no TTFT)
 *	uint32 CRC-32C of everything before it
 */
#define PP_DUMP_MAGIC		0x50501126	/* "PP" + 11-26, the format's birthday */
#define PP_DUMP_FORMAT		7	/* 3: PPDb future rows and slot share, PPOp
								 * bucket counts; 4: sketches of any
								 * capacity; 5: call paths; 6: tokens, cost
								 * and TTFT in buckets; 7: dimension
								 * entries and their hour buckets */

StaticAssertDecl(sizeof(TimestampTz) == sizeof(int64_t),
				 "the dump header stores TimestampTz as int64_t");
StaticAssertDecl(sizeof(pg_crc32c) == sizeof(uint32_t),
				 "the dump file ends with a 4-byte CRC-32C");

#define PP_DUMP_TTFT	1		/* a time-to-first-token sketch follows */

typedef struct PPDumpBucket
{
	int32		op;				/* index of the operation in the file */
	int32		flags;			/* PP_DUMP_TTFT */
	TimestampTz start;
	PPCounters	c;
} PPDumpBucket;

static void
dump_put(FILE *f, pg_crc32c *crc, const void *p, Size len, bool *ok)
{
	if (!*ok)
		return;
	COMP_CRC32C(*crc, p, len);
	if (fwrite(p, 1, len, f) != len)
		*ok = false;
}

/* The buckets of the operations (with sketches), or of the paths. */
static void
dump_buckets(FILE *f, pg_crc32c *crc, HTAB *htab, const int32 *file_index,
			 bool paths, bool *ok)
{
	HASH_SEQ_STATUS status;
	PPBucket   *b;

	hash_seq_init(&status, htab);
	while ((b = hash_seq_search(&status)) != NULL)
	{
		PPDumpBucket db;

		if (IS_PATH_SLOT(b->key.slot) != paths || IS_DIM_SLOT(b->key.slot) ||
			file_index[b->key.slot] < 0 ||
			ops[b->key.slot].generation != b->key.generation)
			continue;
		memset(&db, 0, sizeof(db));
		db.op = file_index[b->key.slot];
		db.start = b->key.start;
		db.c = b->c;
		db.flags = !paths && b->ttft != 0 ? PP_DUMP_TTFT : 0;
		dump_put(f, crc, &db, sizeof(db), ok);
		if (!paths)
			dump_put(f, crc, BUCKET_SKETCH(b),
					 PP_SKETCH_SIZE(BUCKET_SKETCH(b)->capacity), ok);
		if (db.flags & PP_DUMP_TTFT)
			dump_put(f, crc, BUCKET_TTFT(b),
					 PP_SKETCH_SIZE(BUCKET_TTFT(b)->capacity), ok);
	}
}

/* The dimension entries' hour buckets, with their sketches. */
static void
dump_dim_buckets(FILE *f, pg_crc32c *crc, const int32 *file_index, bool *ok)
{
	HASH_SEQ_STATUS status;
	PPBucket   *b;

	hash_seq_init(&status, hour_hash);
	while ((b = hash_seq_search(&status)) != NULL)
	{
		PPDumpBucket db;

		if (!IS_DIM_SLOT(b->key.slot) || file_index[b->key.slot] < 0 ||
			ops[b->key.slot].generation != b->key.generation)
			continue;
		memset(&db, 0, sizeof(db));
		db.op = file_index[b->key.slot];
		db.start = b->key.start;
		db.c = b->c;
		dump_put(f, crc, &db, sizeof(db), ok);
		dump_put(f, crc, BUCKET_SKETCH(b),
				 PP_SKETCH_SIZE(BUCKET_SKETCH(b)->capacity), ok);
	}
}

/* Live dimension buckets (hour buckets only). */
static uint64
count_dim_buckets(void)
{
	HASH_SEQ_STATUS status;
	PPBucket   *b;
	uint64		n = 0;

	hash_seq_init(&status, hour_hash);
	while ((b = hash_seq_search(&status)) != NULL)
		if (IS_DIM_SLOT(b->key.slot) && ops[b->key.slot].in_use &&
			ops[b->key.slot].generation == b->key.generation)
			n++;
	return n;
}

static uint64
count_live_buckets(HTAB *htab, bool paths)
{
	HASH_SEQ_STATUS status;
	PPBucket   *b;
	uint64		n = 0;

	hash_seq_init(&status, htab);
	while ((b = hash_seq_search(&status)) != NULL)
		if (IS_PATH_SLOT(b->key.slot) == paths && !IS_DIM_SLOT(b->key.slot) &&
			ops[b->key.slot].in_use &&
			ops[b->key.slot].generation == b->key.generation)
			n++;
	return n;
}

/*
 * Write the statistics to f (the postmaster, at shutdown, when no backend
 * is left).  Returns false on a write error.
 */
bool
pp_shmem_dump(FILE *f)
{
	pp_dump_header_t h;
	pg_crc32c	crc;
	HASH_SEQ_STATUS status;
	PPDb	   *db;
	int32	   *file_index;
	int32	   *path_order;
	int			i;
	int			depth;
	int			max_depth = 0;
	bool		ok = true;

	if (shared == NULL)
		return false;

	file_index = palloc(sizeof(int32) * Max(N_SLOTS, 1));
	memset(&h, 0, sizeof(h));
	h.magic = PP_DUMP_MAGIC;
	h.format = PP_DUMP_FORMAT;
	h.pg_major = PG_VERSION_NUM / 100;
	h.sketch_format = PP_SKETCH_FORMAT_VERSION;
	h.sketch_max_capacity = PP_SKETCH_MAX_CAPACITY;
	h.reservoir_capacity = (uint32) pp_reservoir_capacity;
	h.name_max = PP_NAME_MAX;
	h.db_size = sizeof(PPDb);
	h.op_size = sizeof(PPOp);
	h.bucket_size = sizeof(PPDumpBucket);
	h.n_dbs = (uint32) hash_get_num_entries(db_hash);
	for (i = 0; i < pp_max_operations; i++)
		file_index[i] = ops[i].in_use ? (int32) h.n_ops++ : -1;
	/* paths by depth, so that a parent comes before its children */
	path_order = palloc(sizeof(int32) * Max(pp_max_paths, 1));
	for (i = PATH_FIRST; i < N_SLOTS; i++)
	{
		file_index[i] = -1;
		if (ops[i].in_use && IS_PATH_SLOT(i))
			max_depth = Max(max_depth, ops[i].depth);
	}
	for (depth = 1; depth <= max_depth; depth++)
		for (i = PATH_FIRST; i < DIM_FIRST; i++)
			if (ops[i].in_use && ops[i].depth == depth)
			{
				path_order[h.n_paths] = i;
				file_index[i] = (int32) h.n_paths++;
			}
	h.n_minute = count_live_buckets(minute_hash, false);
	h.n_hour = count_live_buckets(hour_hash, false);
	h.n_path_minute = count_live_buckets(minute_hash, true);
	h.n_path_hour = count_live_buckets(hour_hash, true);
	for (i = DIM_FIRST; i < N_SLOTS; i++)
		if (ops[i].in_use)
			file_index[i] = (int32) h.n_dims++;
	h.n_dim_hour = count_dim_buckets();
	h.minute_start = shared->minute_start;
	h.horizon_start = shared->horizon_start;
	h.written_at = GetCurrentTimestamp();

	INIT_CRC32C(crc);
	dump_put(f, &crc, &h, sizeof(h), &ok);
	hash_seq_init(&status, db_hash);
	while ((db = hash_seq_search(&status)) != NULL)
		dump_put(f, &crc, db, sizeof(PPDb), &ok);
	for (i = 0; i < pp_max_operations; i++)
	{
		if (!ops[i].in_use)
			continue;
		dump_put(f, &crc, &ops[i], sizeof(PPOp), &ok);
		dump_put(f, &crc, slot_reservoir(i), reservoir_bytes, &ok);
	}
	dump_buckets(f, &crc, minute_hash, file_index, false, &ok);
	dump_buckets(f, &crc, hour_hash, file_index, false, &ok);
	for (i = 0; i < (int) h.n_paths; i++)
	{
		PPOp		rec = ops[path_order[i]];

		rec.parent = rec.parent < 0 ? -1 : file_index[rec.parent];
		dump_put(f, &crc, &rec, sizeof(PPOp), &ok);
	}
	dump_buckets(f, &crc, minute_hash, file_index, true, &ok);
	dump_buckets(f, &crc, hour_hash, file_index, true, &ok);
	for (i = DIM_FIRST; i < N_SLOTS; i++)
	{
		PPOp		rec = ops[i];

		if (!rec.in_use)
			continue;
		rec.parent = file_index[rec.parent];
		dump_put(f, &crc, &rec, sizeof(PPOp), &ok);
	}
	dump_dim_buckets(f, &crc, file_index, &ok);
	FIN_CRC32C(crc);
	if (ok && fwrite(&crc, 1, sizeof(crc), f) != sizeof(crc))
		ok = false;
	pfree(file_index);
	pfree(path_order);
	return ok;
}

/* The key hash slot_get finds an operation record by (0 for the profiles). */
static uint64_t
dump_op_hash(const char *record)
{
	PPOp		op;

	memcpy(&op, record, offsetof(PPOp, name));
	if (op.key.kind == PP_KIND_ROOT)
		return 0;
	return hash_bytes_extended((const unsigned char *) record + offsetof(PPOp, name),
							   op.name_len, 0);
}

/* The key hash of a path record, its parent's path hash given. */
static uint64_t
dump_path_hash(const char *record, uint64_t parent_hash)
{
	return pp_path_hash(parent_hash, dump_op_hash(record));
}

/* The key hash of a dimension record, under its operation's record. */
static uint64_t
dump_dim_hash(const char *record, const char *op_record)
{
	PPOp		dim;
	PPOp		op;

	memcpy(&dim, record, sizeof(PPOp));
	memcpy(&op, op_record, sizeof(PPOp));
	return hash_combine64(hash_combine64(dim.dim_id, op.key.name_hash),
						  dim.no_value ? 0 :
						  hash_bytes_extended((const unsigned char *) dim.name,
											  Min(Max(dim.name_len, 0), PP_NAME_MAX), 0));
}

static uint32_t
dump_crc32c(const void *data, size_t len)
{
	pg_crc32c	crc;

	INIT_CRC32C(crc);
	COMP_CRC32C(crc, data, len);
	FIN_CRC32C(crc);
	return crc;
}

/* What this build writes and accepts. */
static void
dump_layout(pp_dump_layout_t *l)
{
	StaticAssertStmt(sizeof(PPDb) % 8 == 0 && sizeof(PPOp) % 8 == 0 &&
					 sizeof(PPDumpBucket) % 8 == 0,
					 "dump records keep the images after them 8-byte aligned");
	memset(l, 0, sizeof(*l));
	l->magic = PP_DUMP_MAGIC;
	l->format = PP_DUMP_FORMAT;
	l->pg_major = PG_VERSION_NUM / 100;
	l->reservoir_capacity = (uint32) pp_reservoir_capacity;
	l->name_max = PP_NAME_MAX;
	l->db_size = sizeof(PPDb);
	l->op_size = sizeof(PPOp);
	l->bucket_size = sizeof(PPDumpBucket);
	l->reservoir_bytes = reservoir_bytes;
	l->op_in_use_offset = offsetof(PPOp, in_use);
	l->op_name_len_offset = offsetof(PPOp, name_len);
	l->op_hash_offset = offsetof(PPOp, key) + offsetof(PPOpKey, name_hash);
	l->op_last_used_offset = offsetof(PPOp, last_used);
	l->op_parent_offset = offsetof(PPOp, parent);
	l->db_last_reset_offset = offsetof(PPDb, last_reset);
	l->db_rebuild_started_offset = offsetof(PPDb, rebuild_started);
	l->bucket_op_offset = offsetof(PPDumpBucket, op);
	l->bucket_calls_offset = offsetof(PPDumpBucket, c) + offsetof(PPCounters, calls);
	l->bucket_has_ttft = true;
	l->bucket_flags_offset = offsetof(PPDumpBucket, flags);
	l->bucket_start_offset = offsetof(PPDumpBucket, start);
	l->max_dbs = MAX_DATABASES;
	l->max_ops = (uint32) pp_max_operations;
	l->max_paths = (uint32) pp_max_paths;
	l->max_dims = (uint32) pp_max_dimension_entries;
	l->max_minute = (uint64) pp_max_minute_buckets;
	l->max_hour = (uint64) pp_max_hour_buckets;
	l->crc32c = dump_crc32c;
	l->op_hash = dump_op_hash;
	l->path_hash = dump_path_hash;
	l->dim_hash = dump_dim_hash;
	l->now = GetCurrentTimestamp();
}

/*
 * Enter a bucket read from the statistics file into its pool for slot, with
 * its counters and no sketch; NULL when the pool is full or it is there
 * already.  The caller counts it (bucket_counted) once it keeps it.
 */
static PPBucket *
dump_bucket_enter(const PPDumpBucket *src, int32 slot, bool minute)
{
	PPBucketKey key;
	PPBucket   *b;
	bool		found;

	memset(&key, 0, sizeof(key));
	key.slot = slot;
	key.generation = 1;
	key.start = src->start;
	b = hash_search(minute ? minute_hash : hour_hash, &key, HASH_ENTER_NULL, &found);
	if (b == NULL || found)
		return NULL;
	b->c = src->c;
	b->sketch = 0;
	b->ttft = 0;
	return b;
}

/*
 * Load a dump written by pp_shmem_dump (the postmaster, at start-up, before
 * any backend).  The whole file is checked before anything is loaded, and
 * what cannot be taken as it is (name hashes, times in the future) is
 * corrected in buf first (*n_corrected values).  Returns NULL on success,
 * else why the file was rejected.
 */
const char *
pp_shmem_undump(char *buf, Size len, int *n_ops_loaded, int *n_corrected)
{
	pp_dump_header_t h;
	pp_dump_layout_t layout;
	pp_dump_reader_t r;
	const char *why;
	uint64		i;
	int32	   *slot_of;

	*n_ops_loaded = 0;
	*n_corrected = 0;
	if (shared == NULL)
		return "shared memory is not initialised";
	dump_layout(&layout);
	why = pp_dump_check(buf, len, &layout, &h);
	if (why != NULL)
		return why;
	*n_corrected = pp_dump_sanitize(buf, len, &layout, &h);

	pp_dump_reader_init(&r, buf, len);
	shared->minute_start = h.minute_start;
	shared->horizon_start = h.horizon_start;
	for (i = 0; i < h.n_dbs; i++)
	{
		const PPDb *src = pp_dump_take(&r, sizeof(PPDb));
		bool		found;
		PPDb	   *db = hash_search(db_hash, &src->dbid, HASH_ENTER_NULL, &found);

		if (db != NULL)
		{
			memcpy(db, src, sizeof(PPDb));
			db->n_ops = 0;		/* counted below, as the slots load */
			db->n_paths = 0;
			db->n_dims = 0;
			memset(&db->counters, 0, sizeof(db->counters));
		}
	}
	slot_of = palloc(sizeof(int32) * Max(h.n_ops, 1));
	for (i = 0; i < h.n_ops; i++)
	{
		const PPOp *src = pp_dump_take(&r, sizeof(PPOp));
		const void *res = pp_dump_take(&r, reservoir_bytes);
		PPOpIndex  *idx;
		bool		found;

		slot_of[i] = -1;
		if (src->key.kind == PP_KIND_PATH || src->key.kind == PP_KIND_DIM)
			continue;
		idx = hash_search(op_hash, &src->key, HASH_ENTER_NULL, &found);
		if (idx == NULL || found)
			continue;
		idx->slot = (int32) i;
		memcpy(&ops[i], src, sizeof(PPOp));
		ops[i].generation = 1;
		ops[i].n_minute = ops[i].n_hour = 0;	/* counted below */
		ops[i].name[ops[i].name_len] = '\0';
		memcpy(slot_reservoir((int) i), res, reservoir_bytes);
		slot_of[i] = (int32) i;
		shared->n_ops++;
		{
			PPDb	   *db = db_get(ops[i].key.dbid, false);

			if (db != NULL)
				db->n_ops++;
		}
	}
	for (i = 0; i < h.n_minute + h.n_hour; i++)
	{
		bool		minute = i < h.n_minute;
		const PPDumpBucket *src = pp_dump_take(&r, sizeof(PPDumpBucket));
		const pp_sketch_t *sk = pp_dump_take_sketch(&r);
		const pp_sketch_t *ttft = (src->flags & PP_DUMP_TTFT) ?
			pp_dump_take_sketch(&r) : NULL;
		int32		slot = slot_of[src->op];
		PPBucket   *b;
		int			c;

		if (slot < 0 || (b = dump_bucket_enter(src, slot, minute)) == NULL)
			continue;
		/* into the smallest block that holds its bins */
		for (c = 0; c < PP_ARENA_NCLASSES - 1; c++)
			if (pp_sketch_capacity_in(PP_ARENA_BLOCK(c)) >= sk->nbins)
				break;
		b->sketch = pp_arena_alloc(arena, c);
		if (b->sketch == 0)
		{
			/* a smaller ppprof.sketch_memory: the table answers before */
			hash_search(minute ? minute_hash : hour_hash, &b->key, HASH_REMOVE, NULL);
			db_incomplete(db_get(ops[slot].key.dbid, false),
						  src->start + (minute ? USECS_PER_MINUTE : USECS_PER_HOUR));
			continue;
		}
		(void) pp_sketch_copy(BUCKET_SKETCH(b),
							  pp_sketch_capacity_in(PP_ARENA_BLOCK(c)), sk);
		if (ttft != NULL)
		{
			for (c = 0; c < PP_ARENA_NCLASSES - 1; c++)
				if (pp_sketch_capacity_in(PP_ARENA_BLOCK(c)) >= ttft->nbins)
					break;
			b->ttft = pp_arena_alloc(arena, c);
			if (b->ttft == 0)
			{
				/* as above: give the bucket up, the table answers */
				pp_arena_free(arena, b->sketch);
				hash_search(minute ? minute_hash : hour_hash, &b->key, HASH_REMOVE, NULL);
				db_incomplete(db_get(ops[slot].key.dbid, false),
							  src->start + (minute ? USECS_PER_MINUTE : USECS_PER_HOUR));
				continue;
			}
			(void) pp_sketch_copy(BUCKET_TTFT(b),
								  pp_sketch_capacity_in(PP_ARENA_BLOCK(c)), ttft);
		}
		bucket_counted(slot, minute);
	}
	pfree(slot_of);

	/* the paths, parents first, into the path slots */
	slot_of = palloc(sizeof(int32) * Max(h.n_paths, 1));
	for (i = 0; i < h.n_paths; i++)
	{
		const PPOp *src = pp_dump_take(&r, sizeof(PPOp));
		int			slot = pp_max_operations + (int) i;
		int			parent = src->parent < 0 ? -1 : slot_of[src->parent];
		PPOp	   *op = &ops[slot];
		PPOpIndex  *idx;
		PPDb	   *db;
		bool		found;

		slot_of[i] = -1;
		if (src->key.kind != PP_KIND_PATH || (src->parent >= 0 && parent < 0))
			continue;			/* its parent was not loaded */
		idx = hash_search(op_hash, &src->key, HASH_ENTER_NULL, &found);
		if (idx == NULL || found)
			continue;
		idx->slot = slot;
		memcpy(op, src, sizeof(PPOp));
		op->generation = 1;
		op->n_minute = op->n_hour = 0;	/* counted below */
		op->name[op->name_len] = '\0';
		op->parent = parent;
		op->parent_generation = parent < 0 ? 0 : 1;
		op->depth = parent < 0 ? 1 : ops[parent].depth + 1;
		slot_of[i] = slot;
		shared->n_paths++;
		db = db_get(op->key.dbid, false);
		if (db != NULL)
			db->n_paths++;
	}
	for (i = 0; i < h.n_path_minute + h.n_path_hour; i++)
	{
		bool		minute = i < h.n_path_minute;
		const PPDumpBucket *src = pp_dump_take(&r, sizeof(PPDumpBucket));
		int32		slot = slot_of[src->op];

		/* a path's buckets have no sketch */
		if (slot >= 0 && dump_bucket_enter(src, slot, minute) != NULL)
			bucket_counted(slot, minute);
	}
	pfree(slot_of);

	/* the dimension entries, under their operations' slots (slot = index) */
	slot_of = palloc(sizeof(int32) * Max(h.n_dims, 1));
	for (i = 0; i < h.n_dims; i++)
	{
		const PPOp *src = pp_dump_take(&r, sizeof(PPOp));
		int			slot = DIM_FIRST + (int) i;
		PPOp	   *op = &ops[slot];
		PPOpIndex  *idx;
		PPDb	   *db;
		bool		found;

		slot_of[i] = -1;
		if (src->key.kind != PP_KIND_DIM || !ops[src->parent].in_use ||
			ops[src->parent].key.kind != PP_KIND_OPERATION)
			continue;			/* its operation was not loaded */
		idx = hash_search(op_hash, &src->key, HASH_ENTER_NULL, &found);
		if (idx == NULL || found)
			continue;
		idx->slot = slot;
		memcpy(op, src, sizeof(PPOp));
		op->generation = 1;
		op->n_minute = op->n_hour = 0;	/* counted below */
		op->name[op->name_len] = '\0';
		op->parent_generation = 1;
		slot_of[i] = slot;
		db = db_get(op->key.dbid, false);
		kind_count_add(db, PP_KIND_DIM, 1);
	}
	for (i = 0; i < h.n_dim_hour; i++)
	{
		const PPDumpBucket *src = pp_dump_take(&r, sizeof(PPDumpBucket));
		const pp_sketch_t *sk = pp_dump_take_sketch(&r);
		int32		slot = slot_of[src->op];
		PPBucket   *b;
		int			c;

		if (slot < 0 || (b = dump_bucket_enter(src, slot, false)) == NULL)
			continue;
		for (c = 0; c < PP_ARENA_NCLASSES - 1; c++)
			if (pp_sketch_capacity_in(PP_ARENA_BLOCK(c)) >= sk->nbins)
				break;
		b->sketch = pp_arena_alloc(arena, c);
		if (b->sketch == 0)
		{
			/* a smaller ppprof.sketch_memory: the table answers before */
			hash_search(hour_hash, &b->key, HASH_REMOVE, NULL);
			kind_incomplete(db_get(ops[slot].key.dbid, false), PP_KIND_DIM,
							src->start + USECS_PER_HOUR);
			continue;
		}
		(void) pp_sketch_copy(BUCKET_SKETCH(b),
							  pp_sketch_capacity_in(PP_ARENA_BLOCK(c)), sk);
		bucket_counted(slot, false);
	}
	pfree(slot_of);
	*n_ops_loaded = shared->n_ops;
	return NULL;
}
