/*-------------------------------------------------------------------------
 *
 * src/config.c
 *	  The per-backend cache of ppprof's configuration tables:
 *	  operation_categories, performance_thresholds, optimization_catalog,
 *	  usage_keys, model_prices and operation_dimensions.
 *
 * The ingest trigger must not query these tables for every row, so each
 * backend loads them once into ConfigContext and keeps them until they
 * change.  A change is seen through the relcache: a statement trigger on each
 * configuration table (pp_config_changed) calls
 * CacheInvalidateRelcacheByRelid, which is transactional -- other backends
 * receive the invalidation when the change commits, the changing backend at
 * its next command -- and the callback registered here drops the cache.  A
 * generation counter in shared memory would also work, but it would need the
 * library preloaded and would have to be bumped at commit, not before; the
 * relcache already does both.
 *
 * The tables are read as their owner, so that what the cache holds does not
 * depend on which role happened to trigger the load (row level security and
 * grants restrict users, not ppprof itself).
 *
 * The statistics sum the tokens and cost that usage_keys and model_prices
 * give each node (src/usage.c), and keep the values of the dimensions that
 * operation_dimensions declares: a committed change of any of the three
 * makes them disagree with what the table now gives, so it invalidates the
 * statistics of the database at commit (the table answers, and the next
 * read starts a rebuild with the new configuration).
 *
 * The classifier bounds its rules (src/core/classify.h): a configuration
 * beyond them cannot be loaded, so the statement trigger loads the changed
 * operation_categories once, throwaway, and an INSERT or UPDATE that would
 * pass a limit fails with its reason instead of breaking every later load.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/indexing.h"
#include "catalog/pg_class.h"
#include "catalog/pg_extension.h"
#include "commands/extension.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "catalog/pg_type.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "storage/lmgr.h"
#include "utils/lsyscache.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

#include "allocator.h"
#include "config.h"
#include "dimensions.h"
#include "dump.h"
#include "rollups.h"
#include "shmem.h"
#include "spi_owner.h"

PG_FUNCTION_INFO_V1(pp_config_changed);

static MemoryContext ConfigContext = NULL;
static PPConfig *config = NULL;

/* relations whose invalidation drops the cache; valid while config != NULL */
#define N_WATCHED 7
static Oid	watched_relids[N_WATCHED];

/*
 * usage_keys, model_prices or operation_dimensions changed in this
 * transaction
 */
static bool usage_config_changed = false;

/*
 * Free the configurations loaded before the current one.  Only at the end
 * of a transaction: a caller may hold a pointer into the configuration it
 * read while a lock or a walk loads it again (a change committed
 * meanwhile), and that pointer stays valid until then.
 */
static void
config_retire(void)
{
	MemoryContext child;

	if (ConfigContext == NULL)
		return;
	child = ConfigContext->firstchild;
	while (child != NULL)
	{
		MemoryContext next = child->nextchild;

		if (config == NULL || child != config->cxt)
			MemoryContextDelete(child);
		child = next;
	}
}

static void
config_xact_callback(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT ||
		event == XACT_EVENT_PREPARE || event == XACT_EVENT_PARALLEL_ABORT ||
		event == XACT_EVENT_PARALLEL_COMMIT)
		config_retire();
	if (!usage_config_changed)
		return;
	/*
	 * After the commit, so that a rebuild from now on reads the new rows; at
	 * PREPARE already, since COMMIT PREPARED may come from another session.
	 */
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_PREPARE)
	{
		if (pp_shmem_attached())
			pp_shmem_invalidate(MyDatabaseId, true);
		else
			pp_dump_discard();
	}
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT ||
		event == XACT_EVENT_PREPARE || event == XACT_EVENT_PARALLEL_ABORT ||
		event == XACT_EVENT_PARALLEL_COMMIT)
		usage_config_changed = false;
}

static void
config_invalidate(Datum arg, Oid relid)
{
	int			i;

	if (config == NULL)
		return;
	if (OidIsValid(relid))
	{
		for (i = 0; i < N_WATCHED; i++)
			if (watched_relids[i] == relid)
				break;
		if (i == N_WATCHED)
			return;
	}
	/* The memory is released at the transaction's end (config_retire). */
	config = NULL;
}

void
pp_config_init(void)
{
	CacheRegisterRelcacheCallback(config_invalidate, (Datum) 0);
	RegisterXactCallback(config_xact_callback, NULL);
}

/* PostgreSQL 15 keeps get_extension_schema() static; this is its twin. */
static Oid
extension_schema(Oid ext)
{
	Relation	rel;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tuple;
	Oid			nsp = InvalidOid;

	rel = table_open(ExtensionRelationId, AccessShareLock);
	ScanKeyInit(&key, Anum_pg_extension_oid, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(ext));
	scan = systable_beginscan(rel, ExtensionOidIndexId, true, NULL, 1, &key);
	tuple = systable_getnext(scan);
	if (HeapTupleIsValid(tuple))
		nsp = ((Form_pg_extension) GETSTRUCT(tuple))->extnamespace;
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	if (!OidIsValid(nsp))
		elog(ERROR, "ppprof: extension %u has no schema", ext);
	return nsp;
}

Oid
pp_config_relation_owner(Oid relid)
{
	HeapTuple	tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	Oid			owner;

	if (!HeapTupleIsValid(tuple))
		elog(ERROR, "ppprof: cache lookup failed for relation %u", relid);
	owner = ((Form_pg_class) GETSTRUCT(tuple))->relowner;
	ReleaseSysCache(tuple);
	return owner;
}

static Oid
config_relid(Oid schema, const char *relname)
{
	Oid			relid = get_relname_relid(relname, schema);

	if (!OidIsValid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("ppprof table \"%s\" does not exist", relname),
				 errhint("Drop and create the extension ppprof again.")));
	return relid;
}

static void
config_check_oom(pp_error_code_t rc)
{
	if (rc != PP_OK)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory while loading the ppprof configuration")));
}

/* A row of operation_categories into the classifier, within its limits. */
static void
config_add_rule(pp_classifier_t *classifier, const char *pattern,
				const char *type)
{
	pp_error_code_t rc = pp_classifier_add_rule(classifier, pattern, type);

	if (rc == PP_ERR_TOO_MANY_RULES)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("too many classification rules in operation_categories"),
				 errdetail("ppprof accepts at most %d patterns with wildcards, %d bytes of them in all, and %d exact names; pattern \"%.*s\" is beyond them.",
						   PP_CLASSIFY_MAX_PATTERNS, PP_CLASSIFY_MAX_PATTERN_BYTES,
						   PP_CLASSIFY_MAX_EXACT,
						   pg_mbcliplen(pattern, strlen(pattern), 64), pattern),
				 errhint("Delete patterns that are not needed, or name operations exactly.")));
	config_check_oom(rc);
}

/* The classifier's interrupt check: lets a cancel through a long lookup. */
static void
config_check_interrupts(void *arg)
{
	CHECK_FOR_INTERRUPTS();
}

/* Run query through SPI; the caller reads SPI_tuptable. */
static void
config_query(const char *query)
{
	if (SPI_execute(query, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "ppprof: could not read configuration: %s", query);
}

static char *
config_text(int row, int col)
{
	return SPI_getvalue(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col);
}

static double
config_float(int row, int col)
{
	bool		isnull;
	Datum		d = SPI_getbinval(SPI_tuptable->vals[row],
								  SPI_tuptable->tupdesc, col, &isnull);

	return isnull ? 0.0 : DatumGetFloat8(d);
}

/* Load the tables of cfg->schema into cfg (in cxt), read as owner. */
static void
config_load(PPConfig *cfg, MemoryContext cxt, Oid owner)
{
	const char *nsp = quote_identifier(get_namespace_name(cfg->schema));
	PPSavedUser saved;
	StringInfoData q;
	uint64		i;

	pp_spi_connect_as(owner, &saved);

	initStringInfo(&q);
	appendStringInfo(&q, "SELECT pattern, operation_type FROM %s.operation_categories", nsp);
	config_query(q.data);
	for (i = 0; i < SPI_processed; i++)
		config_add_rule(cfg->classifier, config_text(i, 1), config_text(i, 2));

	resetStringInfo(&q);
	appendStringInfo(&q, "SELECT operation_type, threshold_ms FROM %s.performance_thresholds", nsp);
	config_query(q.data);
	for (i = 0; i < SPI_processed; i++)
		config_check_oom(pp_classifier_add_threshold(cfg->classifier,
													 config_text(i, 1),
													 config_float(i, 2)));

	resetStringInfo(&q);
	appendStringInfo(&q,
					 "SELECT operation_type, suggestion, effort, expected_reduction_pct,"
					 " measure FROM %s.optimization_catalog WHERE enabled"
					 " ORDER BY operation_type COLLATE \"C\","
					 " expected_reduction_pct DESC, suggestion COLLATE \"C\"", nsp);
	config_query(q.data);
	cfg->n_catalog = (int) SPI_processed;
	cfg->catalog = MemoryContextAllocZero(cxt, sizeof(PPCatalogEntry) * (cfg->n_catalog + 1));
	for (i = 0; i < SPI_processed; i++)
	{
		PPCatalogEntry *e = &cfg->catalog[i];

		e->operation_type = MemoryContextStrdup(cxt, config_text(i, 1));
		e->suggestion = MemoryContextStrdup(cxt, config_text(i, 2));
		e->effort = MemoryContextStrdup(cxt, config_text(i, 3));
		e->expected_reduction_pct = config_float(i, 4);
		e->measure = MemoryContextStrdup(cxt, config_text(i, 5));
	}

	resetStringInfo(&q);
	appendStringInfo(&q, "SELECT metadata_key, usage_field, priority FROM %s.usage_keys", nsp);
	config_query(q.data);
	cfg->n_usage_keys = (int) SPI_processed;
	cfg->usage_keys = MemoryContextAllocZero(cxt, sizeof(PPUsageKey) * (cfg->n_usage_keys + 1));
	for (i = 0; i < SPI_processed; i++)
	{
		PPUsageKey *k = &cfg->usage_keys[i];
		char	   *field = config_text(i, 2);
		bool		isnull;

		k->key = MemoryContextStrdup(cxt, config_text(i, 1));
		k->len = (int) strlen(k->key);
		if (!pp_usage_field_parse(field, &k->field))
			elog(ERROR, "ppprof: unknown usage field \"%s\"", field);
		k->priority = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[i],
												  SPI_tuptable->tupdesc, 3, &isnull));
	}

	resetStringInfo(&q);
	appendStringInfo(&q,
					 "SELECT model_pattern, valid_from, input_usd_per_million,"
					 " output_usd_per_million FROM %s.model_prices", nsp);
	config_query(q.data);
	cfg->n_prices = (int) SPI_processed;
	cfg->prices = MemoryContextAllocZero(cxt, sizeof(PPPrice) * (cfg->n_prices + 1));
	for (i = 0; i < SPI_processed; i++)
	{
		PPPrice    *p = &cfg->prices[i];
		bool		isnull;

		p->pattern = MemoryContextStrdup(cxt, config_text(i, 1));
		p->valid_from = DatumGetTimestampTz(SPI_getbinval(SPI_tuptable->vals[i],
														  SPI_tuptable->tupdesc, 2, &isnull));
		p->input_per_million = config_float(i, 3);
		p->output_per_million = config_float(i, 4);
	}
	pp_usage_prepare(cfg);

	resetStringInfo(&q);
	appendStringInfo(&q,
					 "SELECT name, key_path, usage_field FROM %s.operation_dimensions"
					 " ORDER BY name COLLATE \"C\"", nsp);
	config_query(q.data);
	cfg->n_dimensions = (int) SPI_processed;
	cfg->dimensions = MemoryContextAllocZero(cxt, sizeof(PPDimensionDecl) * (cfg->n_dimensions + 1));
	for (i = 0; i < SPI_processed; i++)
	{
		PPDimensionDecl *d = &cfg->dimensions[i];
		bool		isnull;
		Datum	   *keys;
		bool	   *key_nulls;
		int			n,
					k;
		Datum		path;
		PPUsageField field;

		d->name = MemoryContextStrdup(cxt, config_text(i, 1));
		d->usage_field = -1;
		path = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2,
							 &isnull);
		/* the table's CHECK: a key path or a usage field, not both */
		if (isnull)
		{
			char	   *f = SPI_getvalue(SPI_tuptable->vals[i],
										 SPI_tuptable->tupdesc, 3);

			if (f == NULL || !pp_usage_field_parse(f, &field) ||
				(field != PP_USAGE_MODEL && field != PP_USAGE_PROVIDER))
				elog(ERROR, "ppprof: dimension \"%s\" has no key path and no usage field",
					 d->name);
			d->usage_field = (int) field;
			continue;
		}
		deconstruct_array(DatumGetArrayTypeP(path), TEXTOID, -1, false,
						  TYPALIGN_INT, &keys, &key_nulls, &n);
		/* the table's CHECK: 1 to PP_DIM_PATH_MAX keys, none NULL */
		if (n < 1 || n > PP_DIM_PATH_MAX)
			elog(ERROR, "ppprof: the key path of dimension \"%s\" has %d keys",
				 d->name, n);
		d->n_keys = n;
		for (k = 0; k < n; k++)
		{
			d->keys[k] = MemoryContextStrdup(cxt, TextDatumGetCString(keys[k]));
			d->key_lens[k] = strlen(d->keys[k]);
		}
	}

	pp_dimensions_prepare(cfg);

	pp_spi_finish_as(&saved);
}

const PPDimensionDecl *
pp_config_dimension(PPConfig *cfg, const char *name)
{
	int			i;

	for (i = 0; i < cfg->n_dimensions; i++)
		if (strcmp(cfg->dimensions[i].name, name) == 0)
			return &cfg->dimensions[i];
	return NULL;
}

/*
 * The configuration of the current database, loaded on first use and after
 * every change to the configuration tables.  Valid until the end of the
 * transaction, even when a later call loads a newer one.
 */
PPConfig *
pp_config_get(void)
{
	Oid			ext;
	PPConfig   *cfg;
	MemoryContext cxt;

	if (config != NULL)
		return config;

	if (!IsTransactionState())
		elog(ERROR, "ppprof: configuration read outside a transaction");

	ext = get_extension_oid("ppprof", true);
	if (!OidIsValid(ext))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("extension \"ppprof\" is not installed in this database"),
				 errhint("Run CREATE EXTENSION ppprof.")));

	if (ConfigContext == NULL)
		ConfigContext = AllocSetContextCreate(CacheMemoryContext,
											  "ppprof configuration",
											  ALLOCSET_SMALL_SIZES);
	/* Build into a new child, so a failed load leaves nothing behind. */
	cxt = AllocSetContextCreate(ConfigContext, "ppprof configuration load",
								ALLOCSET_DEFAULT_SIZES);
	PG_TRY();
	{
		cfg = MemoryContextAllocZero(cxt, sizeof(PPConfig));
		cfg->cxt = cxt;
		cfg->schema = extension_schema(ext);
		watched_relids[0] = config_relid(cfg->schema, "performance_profiles");
		watched_relids[1] = config_relid(cfg->schema, "performance_thresholds");
		watched_relids[2] = config_relid(cfg->schema, "operation_categories");
		watched_relids[3] = config_relid(cfg->schema, "optimization_catalog");
		watched_relids[4] = config_relid(cfg->schema, "usage_keys");
		watched_relids[5] = config_relid(cfg->schema, "model_prices");
		watched_relids[6] = config_relid(cfg->schema, "operation_dimensions");
		cfg->profiles_relid = watched_relids[0];
		cfg->classifier = pp_classifier_create(pp_palloc_allocator(cxt));
		if (cfg->classifier == NULL)
			config_check_oom(PP_ERR_NO_MEMORY);
		pp_classifier_set_utf8(cfg->classifier, GetDatabaseEncoding() == PG_UTF8);
		pp_classifier_set_interrupt(cfg->classifier, config_check_interrupts, NULL);
		config_load(cfg, cxt, pp_config_relation_owner(watched_relids[1]));
	}
	PG_CATCH();
	{
		MemoryContextDelete(cxt);
		PG_RE_THROW();
	}
	PG_END_TRY();

	/* the previous configuration's memory goes at the transaction's end */
	config = cfg;
	return config;
}

/* The owner of performance_profiles: ppprof reads the table as this role. */
Oid
pp_config_owner(PPConfig *cfg)
{
	return pp_config_relation_owner(cfg->profiles_relid);
}

/*
 * Load the configuration as it stands after the statement that fired the
 * trigger on rel, into a context dropped at once: a change that every
 * backend would refuse to load (too many rules) fails here, on the
 * statement that made it, and is not stored.  The cached configuration is
 * left alone (it must not hold rows that may still roll back).
 */
static void
config_validate(Relation rel)
{
	MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext,
											  "ppprof configuration check",
											  ALLOCSET_DEFAULT_SIZES);
	PPConfig   *cfg = MemoryContextAllocZero(cxt, sizeof(PPConfig));

	cfg->cxt = cxt;
	cfg->schema = RelationGetNamespace(rel);
	cfg->classifier = pp_classifier_create(pp_palloc_allocator(cxt));
	if (cfg->classifier == NULL)
		config_check_oom(PP_ERR_NO_MEMORY);
	pp_classifier_set_utf8(cfg->classifier, GetDatabaseEncoding() == PG_UTF8);
	/* the load's queries are read-only: let them see this statement's rows */
	CommandCounterIncrement();
	PushCopiedSnapshot(GetActiveSnapshot());
	UpdateActiveSnapshotCommandId();
	config_load(cfg, cxt, pp_config_relation_owner(RelationGetRelid(rel)));
	PopActiveSnapshot();
	MemoryContextDelete(cxt);
}

/*
 * Can this statement on operation_categories have added a rule?  An INSERT,
 * or an UPDATE of the pattern column (not the one pp_config_replace runs
 * for each replaced row, which sets the type only).
 */
static bool
config_rules_grew(TriggerData *trigdata)
{
	Relation	rel = trigdata->tg_relation;
	int			attnum;

	if (strcmp(RelationGetRelationName(rel), "operation_categories") != 0)
		return false;
	if (TRIGGER_FIRED_BY_INSERT(trigdata->tg_event))
		return true;
	if (!TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event))
		return false;
	attnum = SPI_fnumber(RelationGetDescr(rel), "pattern");
	return attnum <= 0 ||
		bms_is_member(attnum - FirstLowInvalidHeapAttributeNumber,
					  trigdata->tg_updatedcols);
}

/*
 * Statement trigger on the configuration tables: check that an INSERT or
 * UPDATE of operation_categories leaves a configuration that can be
 * loaded, then tell every backend (this one included) to drop its cached
 * configuration once the change commits.
 */
Datum
pp_config_changed(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("pp_config_changed() must be called as a trigger")));

	if (config_rules_grew(trigdata))
		config_validate(trigdata->tg_relation);
	/* not the seed of CREATE EXTENSION: the statistics were made with it */
	if (!creating_extension &&
		(strcmp(RelationGetRelationName(trigdata->tg_relation), "usage_keys") == 0 ||
		 strcmp(RelationGetRelationName(trigdata->tg_relation), "model_prices") == 0 ||
		 strcmp(RelationGetRelationName(trigdata->tg_relation), "operation_dimensions") == 0))
	{
		Oid			profiles = get_relname_relid("performance_profiles",
												 RelationGetNamespace(trigdata->tg_relation));

		/*
		 * Hold the lock a writer of performance_profiles holds until the
		 * commit: a rebuild, which locks the table against writers before it
		 * loads the configuration, then reads either this change or none of
		 * it, and a change made while a rebuild reads waits for its end, so
		 * that the commit's invalidation comes after the rebuild's validation.
		 */
		if (OidIsValid(profiles))
			LockRelationOid(profiles, RowExclusiveLock);
		usage_config_changed = true;
		/* tokens and costs in the rollups were computed with the old one */
		if (strcmp(RelationGetRelationName(trigdata->tg_relation), "operation_dimensions") != 0)
			pp_rollup_mark_all(RelationGetNamespace(trigdata->tg_relation));
	}
	CacheInvalidateRelcacheByRelid(RelationGetRelid(trigdata->tg_relation));
	return PointerGetDatum(NULL);
}
