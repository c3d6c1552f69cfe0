/*-------------------------------------------------------------------------
 *
 * src/observe.c
 *	  Turn committed changes of performance_profiles into statistics.
 *
 * Only committed rows count.  During a transaction, every row change is
 * appended to a backend-local pending list: the per-node observations of
 * an inserted row (added) or of a deleted row (removed; an UPDATE is both),
 * or a TRUNCATE marker.  At PRE_COMMIT -- before the commit makes the rows
 * visible, so that a transaction deleting one of them can only commit, and
 * apply its removal, after the addition -- an XactCallback hands the list to
 * shmem.c, which applies it without raising errors: every allocation
 * happened before, while the trigger ran.  Should the commit still fail
 * after that (a serialization failure at commit), the ABORT callback takes
 * the changes back.  Readers may thus see a committing transaction's rows
 * in the statistics a moment before they see them in the table.  At ABORT
 * the list is dropped;
 * at the abort of a subtransaction (a savepoint, a plpgsql EXCEPTION block)
 * the changes it made -- the tail of the list with a subtransaction id at
 * least its own -- are dropped.  A PREPARE TRANSACTION with pending changes
 * cannot be applied by this backend, so it marks the database's statistics
 * invalid instead: answers come from the table until pp_rebuild().
 *
 * The BEFORE trigger (ingest.c) has already walked an inserted profile; it
 * stages that walk here as an unconfirmed change.  The AFTER INSERT trigger
 * confirms it when the row was really written (INSERT ... ON CONFLICT DO
 * NOTHING skips the AFTER trigger, and the staged change is never applied)
 * by matching id, created_at and total_duration_ms; only when no staged
 * change matches does it walk the stored profile again.
 *
 * A row marked rejected (ppprof_rejected: a replicated profile that is not
 * valid, see ingest.c) counts nowhere, neither added nor removed; the
 * rejection itself is a pending change, counted in pp_info() at commit.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"

#include "config.h"
#include "dimensions.h"
#include "dump.h"
#include "guc.h"
#include "observe.h"
#include "profile.h"
#include "rollups.h"
#include "shmem.h"

PG_FUNCTION_INFO_V1(pp_profiles_observe);
PG_FUNCTION_INFO_V1(pp_profiles_truncated);

static MemoryContext PendingContext = NULL;

static PPRowChange *changes = NULL;
static int	n_changes = 0;
static int	cap_changes = 0;

static PPNodeObs *nodes = NULL;
static int	n_nodes = 0;
static int	cap_nodes = 0;

static char *names = NULL;		/* node names and dimension values, back
								 * to back */
static Size names_len = 0;
static Size names_cap = 0;
static Size *name_offsets = NULL;	/* per node: offset into names */

static PPDimObs *dims = NULL;	/* the nodes' values of the live dimensions */
static Size *dim_offsets = NULL;	/* per value: offset into names */
static int	n_dims = 0;
static int	cap_dims = 0;

/* first change the AFTER trigger has not matched yet */
static int	confirm_cursor = 0;

/* the pending changes were applied at PRE_COMMIT */
static bool applied = false;

/*
 * The transaction changed more than ppprof.max_transaction_nodes nodes:
 * nothing more is queued, and its commit invalidates the statistics (a
 * background rebuild follows) instead of applying them, so that one huge
 * transaction neither takes unbounded memory nor fails.
 */
static bool overflowed = false;

/* the reason of the last rejection staged (PP_CHANGE_REJECTED) */
static char rejected_reason[PP_REJECTED_REASON_LEN];

/* row changes this backend made while ppprof.enabled was off */
static int64 disabled_writes = 0;

static void *
grow(void *array, int *cap, int need, Size elem)
{
	int			newcap;

	if (need <= *cap)
		return array;
	newcap = Max(need, Max(64, *cap * 2));
	if (array == NULL)
		array = MemoryContextAlloc(PendingContext, (Size) newcap * elem);
	else
		array = repalloc(array, (Size) newcap * elem);
	*cap = newcap;
	return array;
}

/* Give back the pending buffers' memory (they are empty). */
static void
pending_free(void)
{
	MemoryContextReset(PendingContext);
	changes = NULL;
	nodes = NULL;
	names = NULL;
	name_offsets = NULL;
	dims = NULL;
	dim_offsets = NULL;
	cap_changes = cap_nodes = cap_dims = 0;
	names_cap = 0;
}

static void
pending_reset(void)
{
	applied = false;
	overflowed = false;
	n_changes = 0;
	n_nodes = 0;
	names_len = 0;
	n_dims = 0;
	confirm_cursor = 0;
	/* give back what one huge transaction took */
	if (cap_nodes > 100000 || cap_dims > 100000)
		pending_free();
}

/* Append len bytes to names; their offset. */
static Size
names_append(const char *bytes, Size len)
{
	Size		need = names_len + len;
	Size		at = names_len;

	if (need > names_cap)
	{
		Size		newcap = Max(need, Max(4096, names_cap * 2));

		names = names ? repalloc(names, newcap)
			: MemoryContextAlloc(PendingContext, newcap);
		names_cap = newcap;
	}
	memcpy(names + names_len, bytes, len);
	names_len = need;
	return at;
}

/*
 * The values of ch's nodes (tree, observations at first_obs) for the live
 * dimensions, copied into the pending buffers.
 */
static void
pending_dims(PPRowChange *ch, const pp_tree_t *tree, const PPNodeObs *first_obs)
{
	PPConfig   *cfg = pp_config_get();
	int			n;
	int			old_cap = cap_dims;
	int			i;
	PPDimObs   *tmp;

	ch->dims_sig = cfg->dimensions_sig;
	ch->first_dim = n_dims;
	ch->n_dims = pp_max_dimension_entries > 0 ? cfg->n_live_dimensions : 0;
	if (ch->n_dims == 0 || tree == NULL || tree->n_nodes == 0)
		return;
	for (i = 0; i < ch->n_dims; i++)
		ch->dim_ids[i] = cfg->dimensions[i].id;
	n = tree->n_nodes * ch->n_dims;
	dims = grow(dims, &cap_dims, n_dims + n, sizeof(PPDimObs));
	if (cap_dims != old_cap || dim_offsets == NULL)
		dim_offsets = dim_offsets ?
			repalloc(dim_offsets, sizeof(Size) * Max(cap_dims, 1)) :
			MemoryContextAlloc(PendingContext, sizeof(Size) * Max(cap_dims, 1));
	tmp = palloc(sizeof(PPDimObs) * n);
	pp_dimension_values(cfg, tree, first_obs, ch->created_at, tmp);
	for (i = 0; i < n; i++)
	{
		dims[n_dims + i] = tmp[i];
		/* values are pointed at at commit: the buffer may still move */
		dim_offsets[n_dims + i] = tmp[i].value_len >= 0 ?
			names_append(tmp[i].value, tmp[i].value_len) : 0;
	}
	pfree(tmp);
	n_dims += n;
}

/* node i's type from an array the caller already classified */
static const char *
type_from_array(void *arg, int32_t i)
{
	return ((const char *const *) arg)[i];
}

/*
 * Append one change with the nodes of tree (NULL for TRUNCATE): their
 * observations obs when the caller has them (a stored row), else computed
 * here from types, the nodes' operation types (a staged walk).  NULL once
 * the transaction changed more than ppprof.max_transaction_nodes nodes.
 */
static PPRowChange *
pending_add(PPChangeKind kind, bool confirmed, const pg_uuid_t *id,
			TimestampTz created_at, double total_ms, const pp_tree_t *tree,
			const PPNodeObs *obs, const char *const *types)
{
	PPRowChange *ch;
	int			n = tree ? tree->n_nodes : 0;
	int			old_cap = cap_nodes;
	int			i;

	if (overflowed)
		return NULL;
	if ((int64) n_nodes + n > pp_max_transaction_nodes)
	{
		ereport(NOTICE,
				(errmsg("this transaction changes more than %d profile nodes: the ppprof statistics will be rebuilt after it commits",
						pp_max_transaction_nodes),
				 errdetail("Until the rebuild ends, statistics are read from the rollups and the table."),
				 errhint("Load in transactions of fewer nodes, or raise ppprof.max_transaction_nodes.")));
		overflowed = true;
		/* what is queued will not be applied: give its memory back */
		n_changes = n_nodes = n_dims = 0;
		names_len = 0;
		confirm_cursor = 0;
		pending_free();
		return NULL;
	}

	changes = grow(changes, &cap_changes, n_changes + 1, sizeof(PPRowChange));
	nodes = grow(nodes, &cap_nodes, n_nodes + n, sizeof(PPNodeObs));
	if (cap_nodes != old_cap || name_offsets == NULL)
	{
		if (name_offsets == NULL)
			name_offsets = MemoryContextAlloc(PendingContext, sizeof(Size) * Max(cap_nodes, 1));
		else
			name_offsets = repalloc(name_offsets, sizeof(Size) * Max(cap_nodes, 1));
	}

	ch = &changes[n_changes];
	memset(ch, 0, sizeof(*ch));
	ch->kind = kind;
	ch->confirmed = confirmed;
	ch->subid = GetCurrentSubTransactionId();
	ch->created_at = created_at;
	if (id)
		ch->id = *id;
	ch->total_ms = total_ms;
	ch->first_node = n_nodes;
	ch->n_nodes = n;

	if (obs != NULL)
		memcpy(&nodes[n_nodes], obs, sizeof(PPNodeObs) * n);
	else if (n > 0)
		pp_tree_observations(tree, created_at, &nodes[n_nodes], type_from_array,
							 (void *) types);
	for (i = 0; i < n; i++)
	{
		const pp_tree_node_t *tn = &tree->nodes[i];

		CHECK_FOR_INTERRUPTS();
		/* names are pointed at at commit: the buffer may still move */
		name_offsets[n_nodes + i] = names_append(tn->name, tn->name_len);
		if (tn->failed)
			ch->failed = true;
		ch->usage_ignored += nodes[n_nodes + i].usage_ignored;
		ch->cost_unknown += nodes[n_nodes + i].cost_unknown ? 1 : 0;
	}
	pending_dims(ch, tree, &nodes[n_nodes]);
	n_nodes += n;
	n_changes++;
	return ch;
}

/* Point the nodes' names and the dimension values into the buffer. */
static void
pending_point(void)
{
	int			i;

	for (i = 0; i < n_nodes; i++)
		nodes[i].name = names + name_offsets[i];
	for (i = 0; i < n_dims; i++)
		if (dims[i].value_len >= 0)
			dims[i].value = names + dim_offsets[i];
}

static void
pending_undo(void)
{
	pending_point();
	pp_shmem_undo(MyDatabaseId, changes, n_changes, nodes, dims);
}

static void
pending_apply(void)
{
	int			i;

	if (n_changes == 0)
		return;
	pending_point();
	pp_shmem_apply(MyDatabaseId, changes, n_changes, nodes, dims);
	/* the last rejection still pending is the last one staged */
	for (i = n_changes - 1; i >= 0; i--)
		if (changes[i].kind == PP_CHANGE_REJECTED)
		{
			pp_shmem_note_rejected(MyDatabaseId, rejected_reason);
			break;
		}
}

static void
observe_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_PRE_COMMIT:

			/*
			 * Before the commit makes the rows visible: another transaction
			 * that sees one of them (and deletes it) commits later, so its
			 * removal always finds the addition already applied.
			 */
			if (overflowed)
				pp_shmem_invalidate(MyDatabaseId, true);
			else
			{
				pending_apply();
				applied = true;
			}
			if (n_changes > 0 || overflowed)
				pp_rollup_request(MyDatabaseId);
			break;
		case XACT_EVENT_COMMIT:
			pending_reset();
			break;
		case XACT_EVENT_PREPARE:
			if (n_changes > 0 || overflowed)
				pp_shmem_invalidate(MyDatabaseId, true);
			pending_reset();
			break;
		case XACT_EVENT_ABORT:
			/* the commit failed after PRE_COMMIT: take the changes back */
			if (applied)
				pending_undo();
			pending_reset();
			break;
		case XACT_EVENT_PARALLEL_ABORT:
		case XACT_EVENT_PARALLEL_COMMIT:
			pending_reset();
			break;
		default:
			break;
	}
}

static void
observe_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
						 SubTransactionId parentSubid, void *arg)
{
	if (event != SUBXACT_EVENT_ABORT_SUB)
		return;
	while (n_changes > 0 && changes[n_changes - 1].subid >= mySubid)
	{
		n_changes--;
		if (changes[n_changes].n_nodes > 0)
			names_len = name_offsets[changes[n_changes].first_node];
		n_nodes = changes[n_changes].first_node;
		n_dims = changes[n_changes].first_dim;
	}
	if (confirm_cursor > n_changes)
		confirm_cursor = n_changes;
}

void
pp_observe_init(void)
{
	PendingContext = AllocSetContextCreate(TopMemoryContext,
										   "ppprof pending statistics",
										   ALLOCSET_DEFAULT_SIZES);
	RegisterXactCallback(observe_xact_callback, NULL);
	RegisterSubXactCallback(observe_subxact_callback, NULL);
}

/*
 * Called by the BEFORE INSERT trigger with its walk of the new row; the
 * AFTER trigger confirms it.
 */
void
pp_observe_stage(const pg_uuid_t *id, TimestampTz created_at, double total_ms,
				 const pp_tree_t *tree, const char *const *types, double ingest_us)
{
	PPRowChange *ch;

	if (!pp_shmem_attached())
		return;
	ch = pending_add(PP_CHANGE_ADD, false, id, created_at, total_ms, tree, NULL,
					 types);
	if (ch != NULL)
		ch->ingest_us = ingest_us;
}

void
pp_observe_rejected(const char *reason)
{
	int			len;

	if (!pp_shmem_attached())
		return;
	(void) pending_add(PP_CHANGE_REJECTED, true, NULL, 0, 0, NULL, NULL, NULL);
	/* cut between characters: pp_info() shows it as a JSON string */
	len = pg_mbcliplen(reason, strlen(reason), sizeof(rejected_reason) - 1);
	memcpy(rejected_reason, reason, len);
	rejected_reason[len] = '\0';
}

/*
 * A row written while ppprof.enabled is off: the statistics no longer cover
 * the table.  They answer from the table until pp_rebuild().
 */
void
pp_observe_disabled_write(void)
{
	disabled_writes++;
	if (pp_shmem_attached())
		pp_shmem_invalidate(MyDatabaseId, false);
	else
		pp_dump_discard();
}

/* A rebuild read this session's writes made while disabled: nothing to say. */
void
pp_observe_rebuilt(void)
{
	disabled_writes = 0;
}

/* The first write after ppprof.enabled was turned back on says so. */
void
pp_observe_enabled_write(void)
{
	if (disabled_writes == 0)
		return;
	ereport(NOTICE,
			(errmsg("the statistics do not cover the " INT64_FORMAT " row changes made while ppprof.enabled was off",
					disabled_writes),
			 errhint("Run SELECT pp_rebuild(); to include them.")));
	disabled_writes = 0;
}

/* The row's id, created_at (false when NULL) and total_duration_ms. */
static bool
row_identity(HeapTuple tuple, TupleDesc desc, pg_uuid_t *id,
			 TimestampTz *created_at, double *total_ms)
{
	const int  *cols = pp_profile_columns(desc);
	bool		isnull;
	Datum		d;

	d = heap_getattr(tuple, cols[PP_COL_CREATED_AT], desc, &isnull);
	if (isnull)
		return false;
	*created_at = DatumGetTimestampTz(d);
	d = heap_getattr(tuple, cols[PP_COL_ID], desc, &isnull);
	if (isnull)
		memset(id, 0, sizeof(*id));
	else
		memcpy(id, DatumGetUUIDP(d), sizeof(*id));
	d = heap_getattr(tuple, cols[PP_COL_TOTAL_DURATION_MS], desc, &isnull);
	*total_ms = isnull ? 0 : DatumGetFloat8(d);
	return true;
}

/*
 * Walk a stored profile and append its change: a row of performance_profiles
 * added or removed without a row trigger (a partition attached, detached or
 * dropped; partitions.c), or by one (observe_row).
 */
void
pp_observe_stored(PPChangeKind kind, const pg_uuid_t *id, TimestampTz created_at,
				  double total_ms, Datum profile)
{
	pp_tree_t	tree;
	PPNodeObs  *obs;

	/*
	 * A row older than the horizon counts nowhere, and the horizon does not
	 * move back: removing it changes nothing.  This keeps a purge of old
	 * rows from walking, and holding until commit, every profile it deletes.
	 */
	if (kind == PP_CHANGE_REMOVE && created_at < pp_shmem_horizon_start())
		return;
	if (!pp_profile_observations(profile, created_at, &tree, &obs))
	{
		/* stored without validation (ppprof was disabled): not countable */
		pp_shmem_invalidate(MyDatabaseId, false);
		return;
	}
	(void) pending_add(kind, true, id, created_at, total_ms, &tree, obs, NULL);
}

/* Walk the stored row and append its change. */
static void
observe_row(PPChangeKind kind, HeapTuple tuple, TupleDesc desc)
{
	pg_uuid_t	id;
	TimestampTz created_at;
	double		total_ms;
	bool		isnull;
	Datum		profile;

	if (!row_identity(tuple, desc, &id, &created_at, &total_ms))
		return;					/* a NULL created_at is in no window */
	if (pp_profile_rejected(tuple, desc))
		return;					/* counted nowhere (ingest.c, reject_row) */
	profile = heap_getattr(tuple, pp_profile_columns(desc)[PP_COL_PROFILE_DATA],
						   desc, &isnull);
	if (isnull)
		return;
	pp_observe_stored(kind, &id, created_at, total_ms, profile);
}

/* Does a staged change match the inserted row?  Confirm it if so. */
static bool
confirm_staged(HeapTuple tuple, TupleDesc desc)
{
	pg_uuid_t	id;
	TimestampTz created_at;
	double		total_ms;
	int			i;

	if (!row_identity(tuple, desc, &id, &created_at, &total_ms))
		return true;			/* nothing to count */
	for (i = confirm_cursor; i < n_changes; i++)
	{
		PPRowChange *ch = &changes[i];

		if (ch->kind != PP_CHANGE_ADD || ch->confirmed)
			continue;
		if (memcmp(&ch->id, &id, sizeof(id)) == 0 &&
			ch->created_at == created_at && ch->total_ms == total_ms)
		{
			ch->confirmed = true;
			confirm_cursor = i + 1;
			return true;
		}
	}
	return false;
}

/* The minutes whose rollups the row change may make stale (rollups.c). */
static void
rollup_note(TriggerData *td, TupleDesc desc)
{
	const int  *cols = pp_profile_columns(desc);
	HeapTuple	oldt = td->tg_trigtuple;
	HeapTuple	newt = td->tg_newtuple;
	bool		isnull;
	Datum		d;

	if (TRIGGER_FIRED_BY_UPDATE(td->tg_event) &&
		pp_profile_column_equal(oldt, newt, desc, PP_COL_PROFILE_DATA) &&
		pp_profile_column_equal(oldt, newt, desc, PP_COL_CREATED_AT) &&
		pp_profile_column_equal(oldt, newt, desc, PP_COL_TOTAL_DURATION_MS))
		return;					/* nothing a rollup holds changed */
	d = heap_getattr(oldt, cols[PP_COL_CREATED_AT], desc, &isnull);
	if (!isnull)
		pp_rollup_note(td->tg_relation, DatumGetTimestampTz(d),
					   TRIGGER_FIRED_BY_DELETE(td->tg_event));
	if (TRIGGER_FIRED_BY_UPDATE(td->tg_event))
	{
		d = heap_getattr(newt, cols[PP_COL_CREATED_AT], desc, &isnull);
		if (!isnull)
			pp_rollup_note(td->tg_relation, DatumGetTimestampTz(d), false);
	}
}

/*
 * AFTER INSERT OR UPDATE OR DELETE FOR EACH ROW on performance_profiles.
 */
Datum
pp_profiles_observe(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	TupleDesc	desc;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_AFTER(td->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(td->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("pp_profiles_observe() must be an AFTER row trigger")));

	desc = RelationGetDescr(td->tg_relation);
	rollup_note(td, desc);
	if (!pp_enabled)
	{
		/* INSERT and UPDATE were counted by the BEFORE trigger */
		if (TRIGGER_FIRED_BY_DELETE(td->tg_event))
			pp_observe_disabled_write();
		return PointerGetDatum(NULL);
	}
	if (!pp_shmem_attached())
	{
		/* a statistics file on disk no longer matches the table */
		pp_dump_discard();
		return PointerGetDatum(NULL);
	}

	if (TRIGGER_FIRED_BY_INSERT(td->tg_event))
	{
		if (!confirm_staged(td->tg_trigtuple, desc))
			observe_row(PP_CHANGE_ADD, td->tg_trigtuple, desc);
	}
	else if (TRIGGER_FIRED_BY_DELETE(td->tg_event))
		observe_row(PP_CHANGE_REMOVE, td->tg_trigtuple, desc);
	else if (TRIGGER_FIRED_BY_UPDATE(td->tg_event))
	{
		HeapTuple	oldt = td->tg_trigtuple;
		HeapTuple	newt = td->tg_newtuple;

		if (!pp_profile_column_equal(oldt, newt, desc, PP_COL_PROFILE_DATA) ||
			!pp_profile_column_equal(oldt, newt, desc, PP_COL_CREATED_AT) ||
			!pp_profile_column_equal(oldt, newt, desc, PP_COL_TOTAL_DURATION_MS) ||
			!pp_profile_column_equal(oldt, newt, desc, PP_COL_ID) ||
			pp_profile_rejected(oldt, desc) != pp_profile_rejected(newt, desc))
		{
			observe_row(PP_CHANGE_REMOVE, oldt, desc);
			observe_row(PP_CHANGE_ADD, newt, desc);
		}
	}
	return PointerGetDatum(NULL);
}

/*
 * AFTER TRUNCATE FOR EACH STATEMENT on performance_profiles.
 */
Datum
pp_profiles_truncated(PG_FUNCTION_ARGS)
{
	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("pp_profiles_truncated() must be a trigger")));
	pp_rollup_truncated(((TriggerData *) fcinfo->context)->tg_relation);
	if (pp_shmem_attached())
		(void) pending_add(PP_CHANGE_TRUNCATE, true, NULL, 0, 0, NULL, NULL, NULL);
	else
		pp_dump_discard();
	return PointerGetDatum(NULL);
}
