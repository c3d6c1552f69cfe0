/*-------------------------------------------------------------------------
 *
 * src/rebuild.c
 *	  Recompute the shared statistics of a database from its table:
 *	  pp_rebuild(), and the background worker that does it by itself.
 *
 * The statistics of a database become invalid after a restart that found
 * no trustworthy statistics file (a crash, a rejected file), after a
 * prepared transaction, or after a subtraction that found less than it
 * removed.  Until they are rebuilt every answer comes from the table.  The
 * first statistics call that finds them invalid starts a background worker
 * ("ppprof rebuild") that connects to the database and rebuilds them; a
 * database whose statistics were cleared on purpose (pp_reset) waits for
 * an explicit pp_rebuild().
 *
 * The table lock.  A rebuild needs SHARE ROW EXCLUSIVE on the table, which
 * waits for the transactions writing it; a lock request that waits makes
 * every writer that comes after it wait too (PostgreSQL grants in order),
 * so one open transaction that had written a row would stall every ingest
 * behind the rebuild.  The rebuild therefore asks for the lock without
 * waiting (ConditionalLockRelationOid) every few milliseconds, and only
 * once a second joins the queue, for PP_REBUILD_QUEUE_WAIT_MS (lock_timeout
 * set in a subtransaction): a stream of short writers that always leaves
 * one of them holding the table cannot starve it, and a writer waits for
 * it at most that long.  After PP_REBUILD_LOCK_WAIT_MS (or lock_timeout,
 * when set and shorter, for pp_rebuild()) the worker gives up and leaves
 * the rebuild to the next statistics call, which starts another;
 * pp_rebuild() fails with 55P03.  Meanwhile every answer still comes from
 * the table.  Once it has the lock, writers wait for it while it reads the
 * table.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lmgr.h"
#include "storage/proc.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"

#include "config.h"
#include "dimensions.h"
#include "dumpfile.h"
#include "guc.h"
#include "observe.h"
#include "profile.h"
#include "rebuild.h"
#include "rollup_read.h"
#include "rollups.h"
#include "shmem.h"
#include "spi_owner.h"

PG_FUNCTION_INFO_V1(pp_rebuild);

PGDLLEXPORT void pp_rebuild_worker_main(Datum arg);

/* How long a rebuild tries to lock the table before it gives up, ms */
#define PP_REBUILD_LOCK_WAIT_MS		10000
/* Longest pause between two tries without waiting, ms */
#define PP_REBUILD_LOCK_PAUSE_MS	50
/* Once a second, wait in the lock queue for this long at most, ms */
#define PP_REBUILD_QUEUE_EVERY_MS	1000
#define PP_REBUILD_QUEUE_WAIT_MS	100

/*
 * Run fn(arg) in a subtransaction.  An error of SQLSTATE caught rolls it
 * back and is returned, for the caller to free; any other is raised again.
 * NULL when fn returned (what it did passes to the transaction).
 */
static ErrorData *
in_subtransaction(void (*fn) (void *arg), void *arg, int caught)
{
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	ErrorData  *volatile edata = NULL;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		fn(arg);
		ReleaseCurrentSubTransaction();
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
		if (edata->sqlerrcode != caught)
			ReThrowError(edata);
	}
	PG_END_TRY();
	MemoryContextSwitchTo(cxt);
	CurrentResourceOwner = owner;
	return edata;
}

/* What lock_queued is handed */
typedef struct QueuedLock
{
	Oid			relid;
	int			timeout_ms;
} QueuedLock;

/* Wait in the lock queue with lock_timeout set (for in_subtransaction). */
static void
lock_queued(void *arg)
{
	QueuedLock *q = arg;
	char		value[16];
	int			nest = NewGUCNestLevel();

	snprintf(value, sizeof(value), "%d", q->timeout_ms);
	(void) set_config_option("lock_timeout", value, PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	LockRelationOid(q->relid, ShareRowExclusiveLock);
	AtEOXact_GUC(true, nest);
}

/*
 * Wait for the lock in its queue for at most timeout_ms (lock_timeout, set
 * in a subtransaction that a timeout rolls back).  False on the timeout;
 * any other error (a cancel) is raised again.  The lock passes to the
 * transaction.
 */
static bool
rebuild_lock_queued(Oid relid, int timeout_ms)
{
	QueuedLock	q;
	ErrorData  *edata;

	q.relid = relid;
	q.timeout_ms = timeout_ms;
	edata = in_subtransaction(lock_queued, &q, ERRCODE_LOCK_NOT_AVAILABLE);
	if (edata == NULL)
		return true;
	FreeErrorData(edata);
	return false;
}

/*
 * Lock relid in SHARE ROW EXCLUSIVE mode for a rebuild, for up to wait_ms:
 * try without waiting, pause (1, 2, 4 .. PP_REBUILD_LOCK_PAUSE_MS ms), try
 * again; once a second wait in the queue for PP_REBUILD_QUEUE_WAIT_MS.
 * False when the lock could not be had.
 */
static bool
rebuild_lock(Oid relid, int wait_ms)
{
	TimestampTz start = GetCurrentTimestamp();
	TimestampTz queued = start;
	long		pause_ms = 1;

	for (;;)
	{
		long		secs;
		int			usecs;
		long		left_ms;

		if (ConditionalLockRelationOid(relid, ShareRowExclusiveLock))
			return true;
		TimestampDifference(start, GetCurrentTimestamp(), &secs, &usecs);
		left_ms = wait_ms - (secs * 1000 + usecs / 1000);
		if (left_ms <= 0)
			return false;
		if (TimestampDifferenceExceeds(queued, GetCurrentTimestamp(),
									   PP_REBUILD_QUEUE_EVERY_MS))
		{
			if (rebuild_lock_queued(relid, (int) Min(left_ms, PP_REBUILD_QUEUE_WAIT_MS)))
				return true;
			queued = GetCurrentTimestamp();
			continue;
		}
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 Min(pause_ms, left_ms), PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
		pause_ms = Min(pause_ms * 2, PP_REBUILD_LOCK_PAUSE_MS);
	}
}

/*
 * Load the rows of [from, to] (to included) inside the statistics: the
 * prepared query plan selects them.  Rows dated after limit stay out and
 * are counted in *future_from and *future_rows.  Returns the rows loaded.
 */
static int64
rebuild_rows(SPIPlanPtr plan, TimestampTz from, TimestampTz to,
			 TimestampTz limit, MemoryContext batchcxt,
			 TimestampTz *future_from, int64 *future_rows)
{
	Datum		args[2];
	Portal		portal;
	int64		total = 0;
	PPConfig   *cfg;

	args[0] = TimestampTzGetDatum(from);
	args[1] = TimestampTzGetDatum(to);
	/* not read-only: a snapshot taken now, after the lock was granted */
	portal = SPI_cursor_open(NULL, plan, args, NULL, false);
	for (;;)
	{
		uint64		i;
		int			n_changes = 0;
		int			n_nodes = 0;
		int			cap_nodes = 1024;
		int			n_dims = 0;
		int			cap_dims = 1024;
		PPRowChange *changes;
		PPNodeObs  *nodes;
		PPDimObs   *dims;

		SPI_cursor_fetch(portal, true, 1000);
		if (SPI_processed == 0)
			break;

		MemoryContextReset(batchcxt);
		changes = MemoryContextAlloc(batchcxt, sizeof(PPRowChange) * SPI_processed);
		nodes = MemoryContextAlloc(batchcxt, sizeof(PPNodeObs) * cap_nodes);
		dims = MemoryContextAlloc(batchcxt, sizeof(PPDimObs) * cap_dims);
		for (i = 0; i < SPI_processed; i++)
		{
			HeapTuple	tup = SPI_tuptable->vals[i];
			TupleDesc	desc = SPI_tuptable->tupdesc;
			bool		isnull;
			Datum		id = SPI_getbinval(tup, desc, 1, &isnull);
			Datum		profile = SPI_getbinval(tup, desc, 2, &isnull);
			PPRowChange *ch = &changes[n_changes];
			TimestampTz created_at;
			pp_tree_t	tree;
			PPNodeObs  *obs;
			int32		k;
			MemoryContext old;

			CHECK_FOR_INTERRUPTS();
			created_at = DatumGetTimestampTz(SPI_getbinval(tup, desc, 4, &isnull));
			if (created_at > limit)
			{
				/* stored while ppprof was disabled, or before 1.3 */
				*future_from = Min(*future_from, created_at);
				(*future_rows)++;
				continue;
			}
			if (!pp_profile_observations(profile, created_at, &tree, &obs))
				continue;
			old = MemoryContextSwitchTo(batchcxt);
			memset(ch, 0, sizeof(*ch));
			ch->kind = PP_CHANGE_ADD;
			ch->confirmed = true;
			memcpy(&ch->id, DatumGetUUIDP(id), sizeof(pg_uuid_t));
			ch->total_ms = DatumGetFloat8(SPI_getbinval(tup, desc, 3, &isnull));
			ch->created_at = created_at;
			ch->first_node = n_nodes;
			ch->n_nodes = tree.n_nodes;
			if (n_nodes + tree.n_nodes > cap_nodes)
			{
				cap_nodes = Max(cap_nodes * 2, n_nodes + tree.n_nodes);
				nodes = repalloc(nodes, sizeof(PPNodeObs) * cap_nodes);
			}
			memcpy(&nodes[n_nodes], obs, sizeof(PPNodeObs) * tree.n_nodes);
			/* the configuration the walk used (reloaded if it changed) */
			cfg = pp_config_get();
			ch->dims_sig = cfg->dimensions_sig;
			ch->first_dim = n_dims;
			ch->n_dims = pp_max_dimension_entries > 0 ? cfg->n_live_dimensions : 0;
			if (ch->n_dims > 0)
			{
				int			n = tree.n_nodes * ch->n_dims;

				for (k = 0; k < ch->n_dims; k++)
					ch->dim_ids[k] = cfg->dimensions[k].id;
				if (n_dims + n > cap_dims)
				{
					cap_dims = Max(cap_dims * 2, n_dims + n);
					dims = repalloc(dims, sizeof(PPDimObs) * cap_dims);
				}
				pp_dimension_values(cfg, &tree, obs, created_at, &dims[n_dims]);
				/* copied: the walk's memory goes with the next row */
				for (k = 0; k < n; k++)
					if (dims[n_dims + k].value_len >= 0)
						dims[n_dims + k].value = pnstrdup(dims[n_dims + k].value,
														  dims[n_dims + k].value_len);
				n_dims += n;
			}
			for (k = 0; k < tree.n_nodes; k++)
			{
				const pp_tree_node_t *tn = &tree.nodes[k];
				char	   *name = palloc(tn->name_len + 1);

				CHECK_FOR_INTERRUPTS();
				memcpy(name, tn->name, tn->name_len);
				nodes[n_nodes + k].name = name;
				ch->failed |= tn->failed;
			}
			n_nodes += tree.n_nodes;
			n_changes++;
			MemoryContextSwitchTo(old);
		}
		pp_shmem_load(MyDatabaseId, changes, n_changes, nodes, dims);
		total += n_changes;
		SPI_freetuptable(SPI_tuptable);
	}
	SPI_cursor_close(portal);
	return total;
}

/* A bucket loaded, and the live dimensions it had values of */
typedef struct LoadedBucket
{
	TimestampTz start;			/* hash key */
	TimestampTz end;
	uint32		dims;			/* bit d: live dimension d */
} LoadedBucket;

/* What load_rollup is handed, and what it found */
typedef struct RebuildLoad
{
	int			n_dims;			/* the live dimensions, */
	uint64		dim_ids[PP_DIM_LIVE];	/* their identities */
	uint64		dims_sig;		/* and signature (a copy: the configuration
								 * may be read again meanwhile) */
	bool		minutes;		/* the minute region: only minute rollups */
	HTAB	   *buckets;		/* LoadedBucket, when dimensions are live */
	int64		rollups;		/* rows loaded */
} RebuildLoad;

StaticAssertDecl(PP_DIM_LIVE <= 32, "a bit per live dimension");

/* One rollup row (pp_rollup_collect's visitor) into the statistics. */
static void
load_rollup(void *arg, int kind, const char *name, int name_len,
			TimestampTz start, const PPCounters *c, const pp_sketch_t *sketch,
			const pp_sketch_t *ttft)
{
	RebuildLoad *l = arg;
	const char *names[PP_ROLLUP_PATH_DEPTH_MAX];
	int			name_lens[PP_ROLLUP_PATH_DEPTH_MAX];
	int			depth = 1;
	uint64		dim_id = 0;
	int			d = 0;

	/*
	 * Before the minute region a minute's rollup and an hour's both go to
	 * the hour bucket only; an hour-aligned minute counts as the hour, which
	 * only makes a drop (memory pressure) mark more as incomplete.
	 */
	bool		minute = l->minutes || start % USECS_PER_HOUR != 0;

	if (kind == PP_KIND_PATH)
	{
		depth = pp_rollup_path_names(name, name_len, names, name_lens,
									 PP_ROLLUP_PATH_DEPTH_MAX);
		if (depth <= 0)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("not a ppprof rollup"),
					 errdetail("The name of a call path's rollup is not a path.")));
	}
	else if (kind == PP_KIND_DIM)
	{
		LoadedBucket *b;

		if (!pp_rollup_dim_name(name, name_len, &dim_id, &names[0], &name_lens[0],
								&names[1], &name_lens[1]))
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("not a ppprof rollup"),
					 errdetail("The name of a dimension's rollup is not a dimension, an operation and a value.")));
		/* a dimension declared since, or no longer live: not loaded */
		for (d = 0; d < l->n_dims; d++)
			if (l->dim_ids[d] == dim_id)
				break;
		if (d == l->n_dims)
			return;
		b = hash_search(l->buckets, &start, HASH_FIND, NULL);
		if (b == NULL)
			return;				/* no profile loaded there */
		b->dims |= (uint32) 1 << d;
		depth = 2;
	}
	else
	{
		names[0] = name;
		name_lens[0] = name_len;
	}
	pp_shmem_load_rollup(MyDatabaseId, kind, depth, names, name_lens, dim_id,
						 start, minute, c, sketch, ttft);
	if (kind == PP_KIND_ROOT && l->buckets != NULL)
	{
		LoadedBucket *b = hash_search(l->buckets, &start, HASH_ENTER, NULL);

		b->end = start + (minute ? USECS_PER_MINUTE : USECS_PER_HOUR);
		b->dims = 0;
	}
	l->rollups++;
}

/* Add [from, to] to the n ranges of *ranges (a palloc'd array). */
static void
range_add(PPTimeRange **ranges, int *n, TimestampTz from, TimestampTz to)
{
	if (from > to)
		return;
	*ranges = *n == 0 ? palloc(sizeof(PPTimeRange) * 16) :
		(*n % 16 == 0 ? repalloc(*ranges, sizeof(PPTimeRange) * (*n + 16)) : *ranges);
	(*ranges)[*n].from = from;
	(*ranges)[*n].to = to;
	(*ranges)[*n].inclusive = true;
	(*n)++;
}

/*
 * Load into the (reset) statistics the rollups that can stand for the rows
 * inside the horizon, and list the ranges left to read from the table, in
 * time order, their ends included (palloc'd in the caller's context).
 * Before the minute region an hour takes its hour's rollup or its minutes'
 * (hour buckets only); inside it, minutes take their minute's rollup (the
 * minute buckets and their hour's).  A bucket of purged rows, before the
 * oldest profile, is not loaded: the statistics count the table's rows.
 * Runs in the active snapshot, taken after the lock.  Returns the ranges'
 * count; *l says what was loaded.
 */
static int
rebuild_from_rollups(PPConfig *cfg, TimestampTz horizon,
					 TimestampTz minute_start, PPTimeRange **ranges,
					 RebuildLoad *l)
{
	TimestampTz stop = pp_time_floor(GetCurrentTimestamp(), USECS_PER_MINUTE);
	TimestampTz from = horizon;
	PPSavedUser saved;
	MemoryContext caller = CurrentMemoryContext;
	int			n = 0;
	int			r;
	bool		isnull;
	Datum		oldest;
	struct
	{
		TimestampTz t0;
		TimestampTz t1;
		int			flags;
	}			region[2];

	pp_spi_connect_as(pp_config_owner(cfg), &saved);
	if (SPI_execute(psprintf("SELECT min(created_at) FROM %s.performance_profiles",
							 quote_identifier(get_namespace_name(cfg->schema))),
					true, 1) != SPI_OK_SELECT)
		elog(ERROR, "ppprof: could not read the oldest profile");
	oldest = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	if (!isnull)
		from = Max(from, DatumGetTimestampTz(oldest));
	pp_spi_finish_as(&saved);
	MemoryContextSwitchTo(caller);

	region[0].t0 = from;
	region[0].t1 = Min(minute_start, stop);
	region[0].flags = PP_ROLLUP_NO_DAYS | PP_ROLLUP_UNFOLDED;
	region[1].t0 = Max(from, minute_start);
	region[1].t1 = stop;
	region[1].flags = PP_ROLLUP_MINUTES | PP_ROLLUP_UNFOLDED;
	for (r = 0; !isnull && r < 2; r++)
	{
		PPRollupPlan plan;
		PPRollupPlan paths;
		int			i;

		if (region[r].t0 >= region[r].t1)
			continue;
		l->minutes = (region[r].flags & PP_ROLLUP_MINUTES) != 0;
		if (!pp_rollup_collect(region[r].t0, region[r].t1, true, DT_NOBEGIN,
							   region[r].flags, load_rollup, l, &plan))
		{
			range_add(ranges, &n, region[r].t0, region[r].t1 - 1);
			continue;
		}
		/* the same buckets (pp_rollup_collect), their call paths and values */
		(void) pp_rollup_collect(region[r].t0, region[r].t1, true, DT_NOBEGIN,
								 region[r].flags | PP_ROLLUP_PATHS, load_rollup,
								 l, &paths);
		if (l->buckets != NULL)
			(void) pp_rollup_collect(region[r].t0, region[r].t1, true, DT_NOBEGIN,
									 region[r].flags | PP_ROLLUP_DIMS, load_rollup,
									 l, &paths);
		for (i = 0; i < plan.n_rest; i++)
			range_add(ranges, &n, plan.rest[i].from,
					  plan.rest[i].inclusive ? plan.rest[i].to : plan.rest[i].to - 1);
	}
	/* the rows after the last rollup, and those dated later still */
	range_add(ranges, &n, isnull ? horizon : Max(from, stop), DT_NOEND);
	return n;
}

/* What load_from_rollups is handed, and what it returns */
typedef struct RollupsCall
{
	PPConfig   *cfg;
	TimestampTz horizon;
	TimestampTz minute_start;
	PPTimeRange **ranges;
	RebuildLoad *l;
	int			n;
} RollupsCall;

static void
load_from_rollups(void *arg)
{
	RollupsCall *c = arg;

	c->n = rebuild_from_rollups(c->cfg, c->horizon, c->minute_start, c->ranges, c->l);
}

/*
 * rebuild_from_rollups in a subtransaction: a rollup that is not one (an
 * error of class XX001) leaves the statistics reset and the whole horizon
 * to the table, with a WARNING, so that a damaged rollup cannot keep the
 * statistics invalid.  Other errors are raised again.
 */
static int
rebuild_from_rollups_or_table(PPConfig *cfg, TimestampTz horizon,
							  TimestampTz minute_start, PPTimeRange **ranges,
							  RebuildLoad *l)
{
	RollupsCall c;
	ErrorData  *edata;

	c.cfg = cfg;
	c.horizon = horizon;
	c.minute_start = minute_start;
	c.ranges = ranges;
	c.l = l;
	c.n = 0;
	edata = in_subtransaction(load_from_rollups, &c, ERRCODE_DATA_CORRUPTED);
	if (edata == NULL)
		return c.n;

	ereport(WARNING,
			(errcode(ERRCODE_DATA_CORRUPTED),
			 errmsg("ppprof rebuilds the statistics from the table: %s", edata->message),
			 edata->detail ? errdetail_internal("%s", edata->detail) : 0,
			 errhint("Mark the minutes of the damaged rollup in performance_rollup_stale; the next pp_rollup() writes them again.")));
	FreeErrorData(edata);
	pp_shmem_reset(MyDatabaseId, false, false);
	l->rollups = 0;
	if (l->buckets != NULL)
	{
		HASH_SEQ_STATUS seq;
		LoadedBucket *b;

		hash_seq_init(&seq, l->buckets);
		while ((b = hash_seq_search(&seq)) != NULL)
			(void) hash_search(l->buckets, &b->start, HASH_REMOVE, NULL);
	}
	*ranges = NULL;
	c.n = 0;
	range_add(ranges, &c.n, horizon, DT_NOEND);
	return c.n;
}

/*
 * pp_rebuild(): recompute the statistics of this database.
 *
 * Takes a SHARE ROW EXCLUSIVE lock on performance_profiles -- once no
 * transaction writing it holds its lock (their commit applies their changes
 * before their locks are released), queueing for it only briefly
 * (rebuild_lock) --
 * which keeps new writers -- and any other rebuild -- waiting until this
 * transaction ends, and lets readers read.  Then, in snapshots taken after
 * the lock was granted, it loads the rollups that stand for rows inside the
 * horizon (ppprof.rebuild_from_rollups) and reads every other row inside
 * it from the table.  A rollup without a mark equals its rows in any
 * snapshot that sees it (src/rollups.c), so the statistics equal those a
 * read of every row would build, but for the reservoirs, which sample the
 * rows read only, and the dimensions, which rollups do not hold: their
 * windows starting before the last rollup loaded read the table.  While it
 * runs the statistics are marked invalid, so readers get the table's (or
 * the rollups') answer.
 * Returns the number of profiles read from the table, or -1 when the
 * background worker (background) could not have the lock; pp_rebuild()
 * raises an error then.  *rollups is the rollup rows loaded.
 */
static int64
rebuild_database(bool background, int64 *rollups)
{
	PPConfig   *cfg;
	StringInfoData q;
	SPIPlanPtr	plan;
	int64		total = 0;
	PPSavedUser saved;
	MemoryContext caller = CurrentMemoryContext;
	MemoryContext batchcxt;
	TimestampTz limit;
	TimestampTz future_from = DT_NOEND;
	int64		future_rows = 0;
	int			wait_ms;
	TimestampTz horizon;
	TimestampTz minute_start;
	Oid			types[2] = {TIMESTAMPTZOID, TIMESTAMPTZOID};
	PPTimeRange *ranges = NULL;
	int			n_ranges = 0;
	RebuildLoad load;
	int			i;

	pp_shmem_require_writable("pp_rebuild");
	if (IsolationUsesXactSnapshot())
		ereport(ERROR,
				(errcode(ERRCODE_ACTIVE_SQL_TRANSACTION),
				 errmsg("pp_rebuild() must run at READ COMMITTED isolation"),
				 errhint("Run it in its own transaction.")));

	cfg = pp_config_get();
	wait_ms = PP_REBUILD_LOCK_WAIT_MS;
	if (!background && LockTimeout > 0)
		wait_ms = Min(wait_ms, LockTimeout);
	if (!rebuild_lock(cfg->profiles_relid, wait_ms))
	{
		if (background)
			return -1;
		ereport(ERROR,
				(errcode(ERRCODE_LOCK_NOT_AVAILABLE),
				 errmsg("could not lock performance_profiles to rebuild the statistics"),
				 errdetail("Transactions writing the table kept it locked for %d ms; pp_rebuild() does not stay in the lock queue behind them, so that writers do not wait for it.",
						   wait_ms),
				 errhint("Run pp_rebuild() again when the writing transactions have ended.")));
	}

	/*
	 * Again, now that writers are locked out, and with a snapshot taken now:
	 * a change of usage_keys or model_prices that was uncommitted when the
	 * statement began held the lock until its commit (pp_config_changed),
	 * and its invalidation came with the lock.  The rollups and their marks
	 * are read in the same snapshot: a writer that committed before it made
	 * its marks visible in it.
	 */
	PushActiveSnapshot(GetTransactionSnapshot());
	cfg = pp_config_get();
	pp_shmem_reset(MyDatabaseId, false, false);
	pp_shmem_regions(&horizon, &minute_start);
	memset(&load, 0, sizeof(load));
	if (cfg->n_live_dimensions > 0 && pp_max_dimension_entries > 0)
	{
		HASHCTL		ctl;

		load.n_dims = cfg->n_live_dimensions;
		for (i = 0; i < load.n_dims; i++)
			load.dim_ids[i] = cfg->dimensions[i].id;
		load.dims_sig = cfg->dimensions_sig;

		memset(&ctl, 0, sizeof(ctl));
		ctl.keysize = sizeof(TimestampTz);
		ctl.entrysize = sizeof(LoadedBucket);
		ctl.hcxt = CurrentMemoryContext;
		load.buckets = hash_create("ppprof rebuild buckets", 1024, &ctl,
								   HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	if (pp_rebuild_from_rollups)
		n_ranges = rebuild_from_rollups_or_table(cfg, horizon, minute_start,
												 &ranges, &load);
	else
		range_add(&ranges, &n_ranges, horizon, DT_NOEND);
	PopActiveSnapshot();
	cfg = pp_config_get();
	/* rows dated later stay out of the statistics (see check_created_at) */
	limit = pp_created_at_limit();

	/*
	 * Only the rows inside the horizon: an older row counts in no shared
	 * bucket (bucket_apply drops it, and the horizon only moves forward),
	 * so reading it was a walk of every retained day for nothing.
	 */
	initStringInfo(&q);
	appendStringInfo(&q,
					 "SELECT id, profile_data, total_duration_ms, created_at"
					 " FROM %s.performance_profiles"
					 " WHERE created_at OPERATOR(pg_catalog.>=) $1"
					 " AND created_at OPERATOR(pg_catalog.<=) $2"
					 " AND ppprof_rejected IS NULL",
					 quote_identifier(get_namespace_name(cfg->schema)));

	batchcxt = AllocSetContextCreate(CurrentMemoryContext, "ppprof rebuild",
									 ALLOCSET_DEFAULT_SIZES);
	pp_spi_connect_as(pp_config_owner(cfg), &saved);
	plan = SPI_prepare(q.data, 2, types);
	if (plan == NULL)
		elog(ERROR, "ppprof: SPI_prepare failed");
	for (i = 0; i < n_ranges; i++)
		total += rebuild_rows(plan, Max(ranges[i].from, horizon), ranges[i].to,
							  limit, batchcxt, &future_from, &future_rows);
	pp_spi_finish_as(&saved);
	MemoryContextSwitchTo(caller);

	/*
	 * A bucket loaded without the values of every live dimension (written
	 * before they were declared, or with more than ppprof.max_dimension_entries
	 * of them): dimension windows reaching it read the table.
	 */
	if (load.buckets != NULL)
	{
		HASH_SEQ_STATUS seq;
		LoadedBucket *b;
		uint32		all = (uint32) ((UINT64CONST(1) << load.n_dims) - 1);
		TimestampTz incomplete_before = DT_NOBEGIN;

		hash_seq_init(&seq, load.buckets);
		while ((b = hash_seq_search(&seq)) != NULL)
			if (b->dims != all)
				incomplete_before = Max(incomplete_before, b->end);
		pp_shmem_rebuilt_dims(MyDatabaseId, load.dims_sig, incomplete_before);
	}

	pp_shmem_set_valid(MyDatabaseId, future_from, future_rows);
	pp_observe_rebuilt();
	*rollups = load.rollups;
	return total;
}

/*
 * pp_rebuild() RETURNS bigint
 */
Datum
pp_rebuild(PG_FUNCTION_ARGS)
{
	int64		rollups;

	PG_RETURN_INT64(rebuild_database(false, &rollups));
}

/*
 * Start a background rebuild of dbid's statistics, unless one is running or
 * they were cleared on purpose.  Called when a read finds them invalid.
 */
void
pp_request_rebuild(Oid dbid)
{
	BackgroundWorker worker;

	if (!pp_shmem_attached() || RecoveryInProgress() ||
		!pp_shmem_claim_rebuild(dbid))
		return;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = BGW_NEVER_RESTART;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "ppprof");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "pp_rebuild_worker_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, "ppprof rebuild of database %u", dbid);
	snprintf(worker.bgw_type, BGW_MAXLEN, "ppprof rebuild");
	worker.bgw_main_arg = ObjectIdGetDatum(dbid);
	if (!RegisterDynamicBackgroundWorker(&worker, NULL))
	{
		pp_shmem_release_rebuild(dbid);
		ereport(LOG,
				(errmsg("ppprof could not start a background rebuild"),
				 errhint("Raise max_worker_processes, or run SELECT pp_rebuild().")));
	}
}

/* Entry point of the "ppprof rebuild" background worker. */
void
pp_rebuild_worker_main(Datum arg)
{
	Oid			dbid = DatumGetObjectId(arg);
	int64		n = -1;
	int64		rollups = 0;
	bool		installed;

	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnectionByOid(dbid, InvalidOid, 0);

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, "ppprof: rebuilding statistics from performance_profiles");
	installed = OidIsValid(get_extension_oid("ppprof", true));
	if (installed)
		n = rebuild_database(true, &rollups);
	PopActiveSnapshot();
	CommitTransactionCommand();
	pgstat_report_activity(STATE_IDLE, NULL);

	if (n >= 0)
		ereport(LOG,
				(errmsg("ppprof rebuilt the statistics of database %u from " INT64_FORMAT " profiles and " INT64_FORMAT " rollups",
						dbid, n, rollups)));
	else if (!installed)
		pp_shmem_release_rebuild(dbid);
	else
	{
		/* the next statistics call of the database starts another */
		pp_shmem_release_rebuild(dbid);
		ereport(LOG,
				(errmsg("ppprof could not lock performance_profiles of database %u for a background rebuild within %d ms",
						dbid, PP_REBUILD_LOCK_WAIT_MS),
				 errdetail("Transactions writing the table held it; the rebuild will be tried again at the next statistics call, which answers from the table meanwhile.")));
	}
	proc_exit(0);
}
