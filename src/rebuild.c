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
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "commands/extension.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "storage/ipc.h"
#include "storage/lmgr.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/uuid.h"

#include "ppprof.h"
#include "shmem.h"

PG_FUNCTION_INFO_V1(pp_rebuild);

PGDLLEXPORT void pp_rebuild_worker_main(Datum arg);

/*
 * pp_rebuild(): recompute the statistics of this database from the table.
 *
 * Takes a SHARE ROW EXCLUSIVE lock on performance_profiles, which waits for
 * the transactions writing it to finish (their commit applies their changes
 * before their locks are released), keeps new writers -- and any other
 * rebuild -- waiting until this transaction ends, and lets readers read.
 * Then it reads every row with a snapshot taken after the lock was granted.
 * While it runs the statistics are marked invalid, so readers get the
 * table's answer.
 * Returns the number of profiles read.
 */
int64
pp_rebuild_database(void)
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

	pp_require_shmem("pp_rebuild");
	if (IsolationUsesXactSnapshot())
		ereport(ERROR,
				(errcode(ERRCODE_ACTIVE_SQL_TRANSACTION),
				 errmsg("pp_rebuild() must run at READ COMMITTED isolation"),
				 errhint("Run it in its own transaction.")));

	cfg = pp_config_get();
	LockRelationOid(cfg->profiles_relid, ShareRowExclusiveLock);
	pp_shmem_reset(MyDatabaseId, false, false);

	initStringInfo(&q);
	appendStringInfo(&q,
					 "SELECT id, profile_data, total_duration_ms, created_at"
					 " FROM %s.performance_profiles WHERE created_at IS NOT NULL",
					 quote_identifier(get_namespace_name(cfg->schema)));

	batchcxt = AllocSetContextCreate(CurrentMemoryContext, "ppprof rebuild",
									 ALLOCSET_DEFAULT_SIZES);
	pp_spi_connect_as(pp_config_owner(cfg), &saved);
	plan = SPI_prepare(q.data, 0, NULL);
	if (plan == NULL)
		elog(ERROR, "ppprof: SPI_prepare failed");
	/* not read-only: a snapshot taken now, after the lock was granted */
	portal = SPI_cursor_open(NULL, plan, NULL, NULL, false);
	for (;;)
	{
		uint64		i;
		int			n_changes = 0;
		int			n_nodes = 0;
		int			cap_nodes = 1024;

		SPI_cursor_fetch(portal, true, 1000);
		if (SPI_processed == 0)
			break;

		MemoryContextReset(batchcxt);
		changes = MemoryContextAlloc(batchcxt, sizeof(PPRowChange) * SPI_processed);
		nodes = MemoryContextAlloc(batchcxt, sizeof(PPNodeObs) * cap_nodes);
		for (i = 0; i < SPI_processed; i++)
		{
			HeapTuple	tup = SPI_tuptable->vals[i];
			TupleDesc	desc = SPI_tuptable->tupdesc;
			bool		isnull;
			Datum		id = SPI_getbinval(tup, desc, 1, &isnull);
			Datum		profile = SPI_getbinval(tup, desc, 2, &isnull);
			PPRowChange *ch = &changes[n_changes];
			pp_tree_t	tree;
			int32		k;
			MemoryContext old;

			CHECK_FOR_INTERRUPTS();
			if (!pp_profile_walk(DatumGetJsonbP(profile), &tree))
				continue;
			old = MemoryContextSwitchTo(batchcxt);
			memset(ch, 0, sizeof(*ch));
			ch->kind = PP_CHANGE_ADD;
			ch->confirmed = true;
			memcpy(&ch->id, DatumGetUUIDP(id), sizeof(pg_uuid_t));
			ch->total_ms = DatumGetFloat8(SPI_getbinval(tup, desc, 3, &isnull));
			ch->created_at = DatumGetTimestampTz(SPI_getbinval(tup, desc, 4, &isnull));
			ch->first_node = n_nodes;
			ch->n_nodes = tree.n_nodes;
			if (n_nodes + tree.n_nodes > cap_nodes)
			{
				cap_nodes = Max(cap_nodes * 2, n_nodes + tree.n_nodes);
				nodes = repalloc(nodes, sizeof(PPNodeObs) * cap_nodes);
			}
			pp_tree_observations(&tree, &nodes[n_nodes], pp_node_type, &tree);
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
		pp_shmem_load(MyDatabaseId, changes, n_changes, nodes);
		total += n_changes;
		SPI_freetuptable(SPI_tuptable);
	}
	SPI_cursor_close(portal);
	pp_spi_finish_as(&saved);
	MemoryContextSwitchTo(caller);

	pp_shmem_set_valid(MyDatabaseId);
	return total;
}

/*
 * pp_rebuild() RETURNS bigint
 */
Datum
pp_rebuild(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT64(pp_rebuild_database());
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

	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnectionByOid(dbid, InvalidOid, 0);

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, "ppprof: rebuilding statistics from performance_profiles");
	if (OidIsValid(get_extension_oid("ppprof", true)))
		n = pp_rebuild_database();
	PopActiveSnapshot();
	CommitTransactionCommand();
	pgstat_report_activity(STATE_IDLE, NULL);

	if (n >= 0)
		ereport(LOG,
				(errmsg("ppprof rebuilt the statistics of database %u from " INT64_FORMAT " profiles",
						dbid, n)));
	else
		pp_shmem_release_rebuild(dbid);
	proc_exit(0);
}
