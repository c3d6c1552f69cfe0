/*-------------------------------------------------------------------------
 *
 * src/ppprof.c
 *	  Entry point of the ppprof extension: _PG_init calls one Init per module.
 *
 * ppprof turns PostgreSQL into the performance profiler of a RAG pipeline.
 * Applications store one timing tree per request in performance_profiles;
 * a trigger validates the tree in place (src/core/tree.c through
 * src/jsonb_source.c) and fills the analysis columns from the configuration
 * tables, which each backend caches (src/config.c).
 *
 * Glossary
 *	profile    one row of performance_profiles: a tree of timed operations
 *	node       one TimingRecord of that tree (the root is a node too)
 *	operation  a node's operation_name; statistics are kept per operation
 *	type       the category of an operation (retrieval, llm_generation, ...)
 *	           from operation_categories; it selects thresholds and advice
 *	self time  a node's duration minus the time covered by its children
 *	bottleneck a node whose duration exceeds its threshold
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/objectaccess.h"
#include "catalog/pg_database.h"
#include "catalog/pg_extension.h"
#include "commands/extension.h"
#include "fmgr.h"
#include "miscadmin.h"

#include "config.h"
#include "dump.h"
#include "guc.h"
#include "ingest.h"
#include "observe.h"
#include "partitions.h"
#include "shmem.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

static object_access_hook_type prev_object_access_hook = NULL;

/*
 * Dropping a database, or the extension, frees its shared statistics (a
 * rolled-back drop leaves them invalid, rebuilt from the table on first
 * use).
 */
static void
pp_object_access(ObjectAccessType access, Oid classId, Oid objectId,
				 int subId, void *arg)
{
	if (prev_object_access_hook)
		prev_object_access_hook(access, classId, objectId, subId, arg);
	if (access != OAT_DROP || !pp_shmem_attached())
		return;
	if (classId == DatabaseRelationId)
		pp_shmem_forget(objectId);
	else if (classId == ExtensionRelationId &&
			 objectId == get_extension_oid("ppprof", true))
		pp_shmem_forget(MyDatabaseId);
}

void
_PG_init(void)
{
	pp_guc_init();
	pp_shmem_init();
	pp_dump_init();
	pp_config_init();
	pp_ingest_init();
	pp_observe_init();
	pp_partitions_init();

	prev_object_access_hook = object_access_hook;
	object_access_hook = pp_object_access;
}
