/*-------------------------------------------------------------------------
 *
 * src/partitions.c
 *	  performance_profiles partitioned: the statistics of the rows that a
 *	  partition takes away or brings without a row trigger.
 *
 * Dropping or detaching a partition removes its rows, attaching one adds
 * its rows, and no row trigger fires for either; truncating a partition
 * fires no trigger of the parent, and statement triggers are not cloned.
 * The event trigger ppprof_partitions (ddl_command_start, DROP TABLE and
 * ALTER TABLE) and, for TRUNCATE, which no event trigger sees, a
 * ProcessUtility hook find the partitions of performance_profiles that the
 * command names, take the locks the command is about to take, in its order
 * (the parent first), and queue the rows of each leaf as a DELETE or an
 * INSERT would: they are applied at commit and forgotten if the command
 * fails.  A removal does not read rows older than the statistics' horizon,
 * which count nowhere, so dropping old partitions for retention reads
 * nothing.
 *
 * What neither sees is not covered: a partition dropped by DROP SCHEMA ...
 * CASCADE or DROP OWNED, and a TRUNCATE in a backend that has not loaded
 * ppprof (without shared_preload_libraries, where there are no live
 * statistics to keep); docs/scaling.md says so, and pp_rebuild() repairs it.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/table.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/namespace.h"
#include "catalog/partition.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_inherits.h"
#include "catalog/pg_type.h"
#include "commands/event_trigger.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "storage/lmgr.h"
#include "tcop/utility.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"

#include "config.h"
#include "dump.h"
#include "guc.h"
#include "observe.h"
#include "partitions.h"
#include "rollups.h"
#include "shmem.h"
#include "spi_owner.h"
#include "window.h"

PG_FUNCTION_INFO_V1(pp_profiles_partition_ddl);

static ProcessUtility_hook_type prev_process_utility = NULL;

/*
 * The current user may run the command on relid (owns it, or, for DROP,
 * its schema).  The locks are taken only then, as PostgreSQL's own checks
 * do before locking: otherwise any role could queue for an exclusive lock
 * on performance_profiles and stall its writers before being refused.
 */
static bool
may_alter(Oid relid, bool or_schema_owner)
{
	Oid			user = GetUserId();

#if PG_VERSION_NUM >= 160000
	return object_ownercheck(RelationRelationId, relid, user) ||
		(or_schema_owner &&
		 object_ownercheck(NamespaceRelationId, get_rel_namespace(relid), user));
#else
	return pg_class_ownercheck(relid, user) ||
		(or_schema_owner && pg_namespace_ownercheck(get_rel_namespace(relid), user));
#endif
}

/* relid is a partition of performance_profiles, at any depth */
static bool
is_profiles_partition(Oid relid, Oid profiles)
{
	List	   *ancestors;
	bool		found;

	if (!get_rel_relispartition(relid))
		return false;
	ancestors = get_partition_ancestors(relid);
	found = list_member_oid(ancestors, profiles);
	list_free(ancestors);
	return found;
}

/* One row of a leaf into the queue; arg points at the PPChangeKind. */
static void
queue_row(void *arg, Datum profile, double total_ms, TimestampTz created_at,
		  const pg_uuid_t *id)
{
	pp_observe_stored(*(PPChangeKind *) arg, id, created_at, total_ms, profile);
}

/*
 * Queue every row of the leaf table relid as added or removed.  The rows
 * are read as the table's owner, in a snapshot taken now that the command's
 * locks are held.
 */
static void
queue_leaf_rows(Oid relid, PPChangeKind kind)
{
	Oid			argtypes[1] = {TIMESTAMPTZOID};
	Datum		args[1];
	char	   *q;

	q = psprintf("SELECT profile_data, total_duration_ms, created_at, id"
				 " FROM ONLY %s"
				 " WHERE created_at OPERATOR(pg_catalog.>=) $1"
				 " AND ppprof_rejected IS NULL",
				 quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)),
											get_rel_name(relid)));
	/* a removal skips what counts nowhere; an addition reads every row */
	args[0] = TimestampTzGetDatum(kind == PP_CHANGE_REMOVE ?
								  pp_shmem_horizon_start() : DT_NOBEGIN);

	/* not read-only: a snapshot taken after the locks were granted */
	pp_window_scan_query(pp_config_relation_owner(relid), q, 1, argtypes, args,
						 false, queue_row, &kind);
}

/*
 * The rows of the leaf relid join the table (attached) or leave it
 * (dropped, detached, truncated): mark their minutes before the rollup
 * horizon, as their INSERTs or DELETEs would have (src/rollups.c) --
 * unless they leave with ppprof.rollup_keep on, as pp_purge sets it, to
 * keep their rollups (docs/scaling.md).  profiles is performance_profiles,
 * open.  Whatever ppprof.enabled and the shared statistics are: the
 * rollups must stay equal to the table.
 */
static void
mark_minutes(Oid relid, Relation profiles, bool removed)
{
	Oid			argtypes[1] = {TIMESTAMPTZOID};
	Datum		args[1];
	PPSavedUser saved;
	MemoryContext caller = CurrentMemoryContext;
	TimestampTz *minutes;
	uint64		n;
	uint64		i;

	if (removed && pp_rollup_keep)
		return;
	args[0] = TimestampTzGetDatum(pp_shmem_rollup_horizon());
	pp_spi_connect_as(pp_config_relation_owner(relid), &saved);
	if (SPI_execute_with_args(psprintf("SELECT DISTINCT pg_catalog.date_trunc('minute', created_at)"
									   " FROM ONLY %s WHERE created_at OPERATOR(pg_catalog.<) $1",
									   quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)),
																  get_rel_name(relid))),
							  1, argtypes, args, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "ppprof: could not read the minutes of a partition");
	n = SPI_processed;
	minutes = MemoryContextAlloc(caller, sizeof(TimestampTz) * Max(n, 1));
	for (i = 0; i < n; i++)
	{
		bool		isnull;

		minutes[i] = DatumGetTimestampTz(SPI_getbinval(SPI_tuptable->vals[i],
													   SPI_tuptable->tupdesc, 1, &isnull));
	}
	pp_spi_finish_as(&saved);
	for (i = 0; i < n; i++)
		pp_rollup_note(profiles, minutes[i], removed);
	pfree(minutes);
}

/*
 * The rows of relid (a partition being dropped or detached, or a table
 * being attached) leave or join the rollups' marks and the statistics of
 * performance_profiles (profiles).  The caller holds the locks.
 */
static void
queue_rows(Oid relid, PPChangeKind kind, Oid profiles)
{
	List	   *tables;
	ListCell   *lc;
	Relation	rel;

	/* the command already holds or is about to take the same locks */
	tables = find_all_inheritors(relid, NoLock, NULL);
	rel = table_open(profiles, NoLock);
	foreach(lc, tables)
	{
		Oid			leaf = lfirst_oid(lc);

		if (get_rel_relkind(leaf) == RELKIND_RELATION)
			mark_minutes(leaf, rel, kind == PP_CHANGE_REMOVE);
	}
	table_close(rel, NoLock);

	if (!pp_enabled)
		/* the statistics no longer cover the table, as for any write */
		pp_observe_disabled_write();
	else if (!pp_shmem_attached())
		/* a statistics file on disk no longer matches the table */
		pp_dump_discard();
	else if (IsolationUsesXactSnapshot())
	{
		/*
		 * The transaction's snapshot may predate rows committed before the
		 * locks were granted: reading it could miss rows the statistics
		 * count.  Answer from the table until a rebuild instead.
		 */
		pp_shmem_invalidate(MyDatabaseId, true);
	}
	else
		foreach(lc, tables)
		{
			Oid			leaf = lfirst_oid(lc);

			if (get_rel_relkind(leaf) == RELKIND_RELATION)
				queue_leaf_rows(leaf, kind);
		}
	list_free(tables);
}

/*
 * DROP TABLE: each named partition of performance_profiles, locked as
 * DROP TABLE locks a partition (its parent, then itself, exclusively).
 */
static void
drop_table(DropStmt *stmt, Oid profiles)
{
	ListCell   *lc;

	foreach(lc, stmt->objects)
	{
		RangeVar   *rv = makeRangeVarFromNameList((List *) lfirst(lc));
		Oid			relid = RangeVarGetRelid(rv, NoLock, true);

		if (!OidIsValid(relid) || !is_profiles_partition(relid, profiles) ||
			!may_alter(relid, true))
			continue;
		LockRelationOid(get_partition_parent(relid, true), AccessExclusiveLock);
		LockRelationOid(relid, AccessExclusiveLock);
		/* detached or dropped while this waited for the locks */
		if (!SearchSysCacheExists1(RELOID, ObjectIdGetDatum(relid)) ||
			!is_profiles_partition(relid, profiles))
			continue;
		queue_rows(relid, PP_CHANGE_REMOVE, profiles);
	}
}

/*
 * ALTER TABLE parent DETACH PARTITION or ATTACH PARTITION, parent being
 * performance_profiles or one of its partitions.  The parent is locked
 * first, in the command's mode; the partition exclusively (a concurrent
 * detach only takes SHARE UPDATE EXCLUSIVE, but its rows must not change
 * while they are read: SHARE is enough for that).
 */
static void
alter_table(AlterTableStmt *stmt, Oid profiles)
{
	Oid			parent;
	ListCell   *lc;

	if (stmt->objtype != OBJECT_TABLE)
		return;
	parent = RangeVarGetRelid(stmt->relation, NoLock, true);
	if (!OidIsValid(parent) ||
		(parent != profiles && !is_profiles_partition(parent, profiles)) ||
		!may_alter(parent, false))
		return;
	foreach(lc, stmt->cmds)
	{
		AlterTableCmd *cmd = (AlterTableCmd *) lfirst(lc);
		PartitionCmd *pc;
		Oid			relid;

		if (cmd->subtype != AT_AttachPartition && cmd->subtype != AT_DetachPartition)
			continue;
		pc = (PartitionCmd *) cmd->def;
		relid = RangeVarGetRelid(pc->name, NoLock, true);
		if (!OidIsValid(relid))
			continue;
		if (cmd->subtype == AT_AttachPartition)
		{
			if (!may_alter(relid, false))
				continue;
			LockRelationOid(parent, ShareUpdateExclusiveLock);
			LockRelationOid(relid, AccessExclusiveLock);
			/* not attachable: the command fails on its own */
			if (!SearchSysCacheExists1(RELOID, ObjectIdGetDatum(relid)) ||
				get_rel_relispartition(relid))
				continue;
			queue_rows(relid, PP_CHANGE_ADD, profiles);
		}
		else
		{
			/* FINALIZE (its own subtype) ends a detach counted when it began */
			if (!get_rel_relispartition(relid) ||
				get_partition_parent(relid, true) != parent)
				continue;
			LockRelationOid(parent, pc->concurrent ? ShareUpdateExclusiveLock :
							AccessExclusiveLock);
			LockRelationOid(relid, pc->concurrent ? ShareLock : AccessExclusiveLock);
			if (!SearchSysCacheExists1(RELOID, ObjectIdGetDatum(relid)) ||
				!get_rel_relispartition(relid) ||
				get_partition_parent(relid, true) != parent)
				continue;
			queue_rows(relid, PP_CHANGE_REMOVE, profiles);
		}
	}
}

/*
 * Event trigger ppprof_partitions: ddl_command_start for DROP TABLE and
 * ALTER TABLE, created by CREATE EXTENSION when performance_profiles is
 * partitioned.
 */
Datum
pp_profiles_partition_ddl(PG_FUNCTION_ARGS)
{
	EventTriggerData *trigdata = (EventTriggerData *) fcinfo->context;
	PPConfig   *cfg;

	if (!CALLED_AS_EVENT_TRIGGER(fcinfo) ||
		strcmp(trigdata->event, "ddl_command_start") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("pp_profiles_partition_ddl() must be a ddl_command_start event trigger")));

	cfg = pp_config_get();
	if (IsA(trigdata->parsetree, DropStmt) &&
		((DropStmt *) trigdata->parsetree)->removeType == OBJECT_TABLE)
		drop_table((DropStmt *) trigdata->parsetree, cfg->profiles_relid);
	else if (IsA(trigdata->parsetree, AlterTableStmt))
		alter_table((AlterTableStmt *) trigdata->parsetree, cfg->profiles_relid);
	PG_RETURN_VOID();
}

/*
 * TRUNCATE of partitions of performance_profiles, named without the table
 * itself (whose statement trigger clears the statistics of the database):
 * their rows leave the statistics as if deleted.  Only a role allowed to
 * truncate the partition makes it lock anything, as for the DDL above;
 * TRUNCATE locks each named table, and not its parent.
 */
static void
truncate_partitions(TruncateStmt *stmt)
{
	Oid			profiles;
	List	   *parts = NIL;
	ListCell   *lc;

	if (RecoveryInProgress() || XactReadOnly ||
		!OidIsValid(get_extension_oid("ppprof", true)))
		return;					/* refused by PostgreSQL, or none of ours */
	profiles = pp_config_get()->profiles_relid;
	if (get_rel_relkind(profiles) != RELKIND_PARTITIONED_TABLE)
		return;
	foreach(lc, stmt->relations)
	{
		Oid			relid = RangeVarGetRelid((RangeVar *) lfirst(lc), NoLock, true);

		if (relid == profiles)
			return;
		if (OidIsValid(relid) && is_profiles_partition(relid, profiles) &&
			pg_class_aclcheck(relid, GetUserId(), ACL_TRUNCATE) == ACLCHECK_OK)
			parts = lappend_oid(parts, relid);
	}
	foreach(lc, parts)
	{
		Oid			relid = lfirst_oid(lc);

		LockRelationOid(relid, AccessExclusiveLock);
		if (SearchSysCacheExists1(RELOID, ObjectIdGetDatum(relid)) &&
			is_profiles_partition(relid, profiles))
			queue_rows(relid, PP_CHANGE_REMOVE, profiles);
	}
	list_free(parts);
}

static void
pp_process_utility(PlannedStmt *pstmt, const char *queryString, bool readOnlyTree,
				   ProcessUtilityContext context, ParamListInfo params,
				   QueryEnvironment *queryEnv, DestReceiver *dest,
				   QueryCompletion *qc)
{
	if (IsA(pstmt->utilityStmt, TruncateStmt))
		truncate_partitions((TruncateStmt *) pstmt->utilityStmt);
	if (prev_process_utility)
		prev_process_utility(pstmt, queryString, readOnlyTree, context, params,
							 queryEnv, dest, qc);
	else
		standard_ProcessUtility(pstmt, queryString, readOnlyTree, context, params,
								queryEnv, dest, qc);
}

void
pp_partitions_init(void)
{
	prev_process_utility = ProcessUtility_hook;
	ProcessUtility_hook = pp_process_utility;
}
