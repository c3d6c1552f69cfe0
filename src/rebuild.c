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
#include "guc.h"
#include "observe.h"
#include "profile.h"
#include "rebuild.h"
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
 * Wait for the lock in its queue for at most timeout_ms (lock_timeout, set
 * in a subtransaction that a timeout rolls back).  False on the timeout;
 * any other error (a cancel) is raised again.
 */
static bool
rebuild_lock_queued(Oid relid, int timeout_ms)
{
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	char		value[16];
	volatile bool got = false;

	snprintf(value, sizeof(value), "%d", timeout_ms);
	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		int			nest = NewGUCNestLevel();

		(void) set_config_option("lock_timeout", value, PGC_USERSET, PGC_S_SESSION,
								 GUC_ACTION_SAVE, true, 0, false);
		LockRelationOid(relid, ShareRowExclusiveLock);
		AtEOXact_GUC(true, nest);
		/* the lock passes to the transaction */
		ReleaseCurrentSubTransaction();
		got = true;
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
		if (edata->sqlerrcode != ERRCODE_LOCK_NOT_AVAILABLE)
			ReThrowError(edata);
		FreeErrorData(edata);
	}
	PG_END_TRY();
	MemoryContextSwitchTo(cxt);
	CurrentResourceOwner = owner;
	return got;
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
 * pp_rebuild(): recompute the statistics of this database from the table.
 *
 * Takes a SHARE ROW EXCLUSIVE lock on performance_profiles -- once no
 * transaction writing it holds its lock (their commit applies their changes
 * before their locks are released), queueing for it only briefly
 * (rebuild_lock) --
 * which keeps new writers -- and any other rebuild -- waiting until this
 * transaction ends, and lets readers read.  Then it reads every row inside
 * the horizon with a snapshot taken after the lock was granted.  While it
 * runs the statistics are marked invalid, so readers get the table's (or
 * the rollups') answer.
 * Returns the number of profiles read, or -1 when the background worker
 * (background) could not have the lock; pp_rebuild() raises an error then.
 */
static int64
rebuild_database(bool background)
{
	PPConfig   *cfg;
	StringInfoData q;
	Portal		portal;
	SPIPlanPtr	plan;
	int64		total = 0;
	PPSavedUser saved;
	MemoryContext caller = CurrentMemoryContext;
	MemoryContext batchcxt;
	PPRowChange *changes;
	PPNodeObs  *nodes;
	TimestampTz limit;
	TimestampTz future_from = DT_NOEND;
	int64		future_rows = 0;
	int			wait_ms;
	Datum		horizon;
	Oid			horizon_type = TIMESTAMPTZOID;

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
	 * and its invalidation came with the lock.
	 */
	PushActiveSnapshot(GetTransactionSnapshot());
	cfg = pp_config_get();
	PopActiveSnapshot();
	pp_shmem_reset(MyDatabaseId, false, false);
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
					 " AND ppprof_rejected IS NULL",
					 quote_identifier(get_namespace_name(cfg->schema)));
	horizon = TimestampTzGetDatum(pp_shmem_horizon_start());

	batchcxt = AllocSetContextCreate(CurrentMemoryContext, "ppprof rebuild",
									 ALLOCSET_DEFAULT_SIZES);
	pp_spi_connect_as(pp_config_owner(cfg), &saved);
	plan = SPI_prepare(q.data, 1, &horizon_type);
	if (plan == NULL)
		elog(ERROR, "ppprof: SPI_prepare failed");
	/* not read-only: a snapshot taken now, after the lock was granted */
	portal = SPI_cursor_open(NULL, plan, &horizon, NULL, false);
	for (;;)
	{
		uint64		i;
		int			n_changes = 0;
		int			n_nodes = 0;
		int			cap_nodes = 1024;
		int			n_dims = 0;
		int			cap_dims = 1024;
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
				future_from = Min(future_from, created_at);
				future_rows++;
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
	pp_spi_finish_as(&saved);
	MemoryContextSwitchTo(caller);

	pp_shmem_set_valid(MyDatabaseId, future_from, future_rows);
	pp_observe_rebuilt();
	return total;
}

/*
 * pp_rebuild() RETURNS bigint
 */
Datum
pp_rebuild(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT64(rebuild_database(false));
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
		n = rebuild_database(true);
	PopActiveSnapshot();
	CommitTransactionCommand();
	pgstat_report_activity(STATE_IDLE, NULL);

	if (n >= 0)
		ereport(LOG,
				(errmsg("ppprof rebuilt the statistics of database %u from " INT64_FORMAT " profiles",
						dbid, n)));
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
