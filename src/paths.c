/*-------------------------------------------------------------------------
 *
 * src/paths.c
 *	  Statistics per call path (root -> ... -> node): the window of paths
 *	  and the SQL functions pp_path_stats, pp_range_path_stats and
 *	  pp_folded.
 *
 * A window of paths is read as a window of operations is (window.c): the
 * shared buckets of the path entries entirely inside it (shmem.c), the
 * bucket its start cuts and, when newer rows exist, its last minute from
 * the table; the whole window from the table when the shared statistics
 * cannot answer.  Every profile read from the table is walked with the
 * ingest trigger's walker and its nodes are added to the path of their
 * parent, so both ways give the same calls, errors and sums.
 *
 * Memory.  A window keeps at most ppprof.max_window_paths paths; a node
 * whose path would be one more, and every node under it, is added to one
 * fold row instead (exact counts and sums), so the rows' calls always add
 * up to the window's nodes.  A path is keyed by its parent path and its
 * last name, so a node costs one lookup whatever its depth.
 *
 * The report asks the same window which child operation holds most of a
 * wrapper's time (pp_path_top_children): the durations of the paths that
 * end in the wrapper, and of their children, summed by operation name.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/xact.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/varlena.h"

#include "config.h"
#include "guc.h"
#include "paths.h"
#include "rebuild.h"
#include "rollup_read.h"
#include "rollups.h"
#include "shmem.h"
#include "stats.h"
#include "window.h"

PG_FUNCTION_INFO_V1(pp_path_stats);
PG_FUNCTION_INFO_V1(pp_range_path_stats);
PG_FUNCTION_INFO_V1(pp_folded);

/* One call path of a window; its hash key is (parent, name, name_len). */
typedef struct PPPathAgg
{
	struct PPPathAgg *parent;	/* NULL for a root */
	const char *name;			/* NUL-terminated, in the window's memory */
	int			name_len;
	int			depth;
	PPCounters	c;
} PPPathAgg;

typedef struct PPPathWindow
{
	HTAB	   *paths;			/* at most ppprof.max_window_paths */
	PPPathAgg	fold;			/* the nodes of the paths beyond them */
	const void *last_id;		/* the shared path visited last */
	PPPathAgg  *last_agg;
	PPPathAgg **row;			/* per node of the row read: its path */
	int			row_cap;
} PPPathWindow;

/* the columns of pp_path_stats */
#define PP_PATH_COLUMNS 10

StaticAssertDecl(offsetof(PPPathAgg, parent) == offsetof(PPPathKey, parent) &&
				 offsetof(PPPathAgg, name) == offsetof(PPPathKey, name) &&
				 offsetof(PPPathAgg, name_len) == offsetof(PPPathKey, name_len),
				 "PPPathAgg begins with a PPPathKey");

uint32
pp_path_key_hash(const void *key, Size keysize)
{
	const PPPathKey *k = key;

	return hash_combine(hash_bytes((const unsigned char *) k->name, k->name_len),
						hash_bytes((const unsigned char *) &k->parent, sizeof(k->parent)));
}

int
pp_path_key_match(const void *key1, const void *key2, Size keysize)
{
	const PPPathKey *a = key1;
	const PPPathKey *b = key2;

	return a->parent == b->parent && a->name_len == b->name_len &&
		memcmp(a->name, b->name, a->name_len) == 0 ? 0 : 1;
}

/*
 * The path that ends in name under parent (NULL: a root); the fold row when
 * the parent is folded or the window holds its share of paths already.
 */
static PPPathAgg *
path_get(PPPathWindow *w, PPPathAgg *parent, const char *name, int name_len)
{
	PPPathAgg	key;
	PPPathAgg  *a;
	bool		found;
	char	   *copy;

	if (parent == &w->fold)
		return &w->fold;
	key.parent = parent;
	key.name = name;
	key.name_len = Min(name_len, PP_NAME_MAX);
	a = hash_search(w->paths, &key, HASH_FIND, NULL);
	if (a != NULL)
		return a;
	if (hash_get_num_entries(w->paths) >= pp_max_window_paths)
		return &w->fold;
	a = hash_search(w->paths, &key, HASH_ENTER, &found);
	/* the key points at the caller's memory until it is copied */
	copy = palloc(key.name_len + 1);
	memcpy(copy, name, key.name_len);
	copy[key.name_len] = '\0';
	a->name = copy;
	a->depth = parent == NULL ? 1 : parent->depth + 1;
	memset(&a->c, 0, sizeof(PPCounters));
	return a;
}

/* The buckets of a shared path entry (under the shared lock). */
static void
visit_path(void *arg, const void *id, int depth, const char *const *names,
		   const int *name_lens, TimestampTz start, const PPCounters *c)
{
	PPPathWindow *w = arg;

	if (id != w->last_id)
	{
		PPPathAgg  *a = NULL;
		int			d;

		for (d = 0; d < depth; d++)
			a = path_get(w, a, names[d], name_lens[d]);
		w->last_id = id;
		w->last_agg = a;
	}
	pp_counters_merge(&w->last_agg->c, c);
}

/* A call path's rollup: its stored name is split into its names. */
static void
visit_rollup_path(void *arg, int kind, const char *name, int name_len,
				  TimestampTz start, const PPCounters *c,
				  const pp_sketch_t *sketch, const pp_sketch_t *ttft_sketch)
{
	PPPathWindow *w = arg;
	const char *names[PP_ROLLUP_PATH_DEPTH_MAX];
	int			name_lens[PP_ROLLUP_PATH_DEPTH_MAX];
	PPPathAgg  *a = NULL;
	int			n;
	int			d;

	if (name_len == (int) strlen(PP_FOLD_NAME) &&
		memcmp(name, PP_FOLD_NAME, name_len) == 0)
	{
		pp_counters_merge(&w->fold.c, c);
		return;
	}
	n = pp_rollup_path_names(name, name_len, names, name_lens, PP_ROLLUP_PATH_DEPTH_MAX);
	if (n <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("not a ppprof rollup"),
				 errdetail("The name of a call path's rollup is not a path.")));
	for (d = 0; d < n; d++)
		a = path_get(w, a, names[d], name_lens[d]);
	pp_counters_merge(&a->c, c);
}

/* One profile of the table: each node into the path of its parent's. */
static void
visit_row(void *arg, const pp_tree_t *tree, const PPNodeObs *obs,
		  TimestampTz at, const pg_uuid_t *id, double total_ms)
{
	PPPathWindow *w = arg;
	int32		k;

	if (tree->n_nodes > w->row_cap)
	{
		w->row_cap = Max(tree->n_nodes, 2 * w->row_cap);
		w->row = w->row ? repalloc(w->row, sizeof(PPPathAgg *) * w->row_cap)
			: palloc(sizeof(PPPathAgg *) * w->row_cap);
	}
	for (k = 0; k < tree->n_nodes; k++)
	{
		const pp_tree_node_t *n = &tree->nodes[k];

		CHECK_FOR_INTERRUPTS();
		/* pre-order: the parent's path is known */
		w->row[k] = path_get(w, n->parent < 0 ? NULL : w->row[n->parent],
							 n->name, (int) n->name_len);
		pp_counters_add(&w->row[k]->c, 1, &obs[k], at);
	}
}

/*
 * Fill w with the paths of [t0, t1] of the current database -- [t0, t1)
 * when end_open -- in CurrentMemoryContext.
 */
static void
path_window_read(PPPathWindow *w, TimestampTz t0, TimestampTz t1, bool end_open)
{
	HASHCTL		info;
	PPConfig   *cfg = pp_config_get();
	PPWindowPlan plan;

	memset(w, 0, sizeof(*w));
	memset(&info, 0, sizeof(info));
	info.keysize = offsetof(PPPathAgg, name_len) + sizeof(int);
	info.entrysize = sizeof(PPPathAgg);
	info.hash = pp_path_key_hash;
	info.match = pp_path_key_match;
	info.hcxt = CurrentMemoryContext;
	w->paths = hash_create("ppprof path window", 64, &info,
						   HASH_ELEM | HASH_FUNCTION | HASH_COMPARE | HASH_CONTEXT);
	w->fold.name = PP_FOLD_NAME;
	w->fold.name_len = strlen(PP_FOLD_NAME);
	w->fold.depth = 0;

	pp_window_notice_no_preload();
	if (t0 > t1 || (end_open && t0 == t1))
		return;
	if (!pp_shmem_collect_paths(MyDatabaseId, t0, t1, end_open, visit_path, w,
								&plan))
	{
		PPRollupPlan rplan;
		int			i;

		if (plan.rebuild)
			pp_shmem_invalidate(MyDatabaseId, true);
		if (plan.invalid || plan.rebuild)
			pp_request_rebuild(MyDatabaseId);
		/* the rollups and the rows they lack (src/rollup_read.c) */
		if (!pp_rollup_collect(t0, t1, end_open, DT_NOBEGIN, PP_ROLLUP_PATHS,
							   visit_rollup_path, w, &rplan))
		{
			pp_window_scan(cfg, t0, t1, !end_open, visit_row, w);
			return;
		}
		cfg = pp_config_get();
		for (i = 0; i < rplan.n_rest; i++)
			pp_window_scan(cfg, rplan.rest[i].from, rplan.rest[i].to,
						   rplan.rest[i].inclusive, visit_row, w);
		return;
	}
	pp_window_scan(cfg, plan.edge_lo_from, plan.edge_lo_to, false, visit_row, w);
	pp_window_scan(cfg, plan.edge_hi_from, plan.edge_hi_to, !plan.edge_hi_open,
				   visit_row, w);
}

/* The index in ops of the operation name, -1 when not one of them. */
static int
top_child_index(PPTopChild *ops, int n, const char *name, int name_len)
{
	int			i;

	for (i = 0; i < n; i++)
		if (ops[i].name_len == name_len && memcmp(ops[i].name, name, name_len) == 0)
			return i;
	return -1;
}

/* Add ms to the child operation name of ops[i] (in cxt). */
static void
top_child_add(PPTopChild *op, const char *name, int name_len, double ms,
			  MemoryContext cxt)
{
	int			k;

	for (k = 0; k < op->n_kids; k++)
		if (op->kids[k].name_len == name_len &&
			memcmp(op->kids[k].name, name, name_len) == 0)
			break;
	if (k == op->n_kids)
	{
		if (op->n_kids == op->cap_kids)
		{
			op->cap_kids = Max(8, 2 * op->cap_kids);
			op->kids = op->kids ?
				repalloc(op->kids, sizeof(PPChildTime) * op->cap_kids) :
				MemoryContextAlloc(cxt, sizeof(PPChildTime) * op->cap_kids);
		}
		op->kids[k].name = MemoryContextStrdup(cxt, name);
		op->kids[k].name_len = name_len;
		op->kids[k].ms = 0;
		op->n_kids++;
	}
	op->kids[k].ms += ms;
}

void
pp_path_top_children(TimestampTz t0, TimestampTz t1, PPTopChild *ops, int n)
{
	MemoryContext caller = CurrentMemoryContext;
	MemoryContext cxt;
	PPPathWindow w;
	HASH_SEQ_STATUS status;
	PPPathAgg  *a;
	int			i;

	for (i = 0; i < n; i++)
	{
		ops[i].own_ms = 0;
		ops[i].kids = NULL;
		ops[i].n_kids = ops[i].cap_kids = 0;
		ops[i].child = NULL;
		ops[i].child_ms = 0;
	}
	if (n == 0)
		return;
	cxt = AllocSetContextCreate(caller, "ppprof path children",
								ALLOCSET_DEFAULT_SIZES);
	MemoryContextSwitchTo(cxt);
	path_window_read(&w, t0, t1, false);
	MemoryContextSwitchTo(caller);

	hash_seq_init(&status, w.paths);
	while ((a = hash_seq_search(&status)) != NULL)
	{
		if (a->c.calls <= 0)
			continue;
		i = top_child_index(ops, n, a->name, a->name_len);
		if (i >= 0)
			ops[i].own_ms += a->c.sum_ms;
		if (a->parent == NULL)
			continue;
		i = top_child_index(ops, n, a->parent->name, a->parent->name_len);
		if (i >= 0)
			top_child_add(&ops[i], a->name, a->name_len, a->c.sum_ms, caller);
	}
	MemoryContextDelete(cxt);

	/* most time, then the first name: the same answer in any hash order */
	for (i = 0; i < n; i++)
	{
		PPTopChild *op = &ops[i];
		int			k;

		for (k = 0; k < op->n_kids; k++)
		{
			const PPChildTime *c = &op->kids[k];

			if (op->child == NULL || c->ms > op->child_ms ||
				(c->ms == op->child_ms && strcmp(c->name, op->child) < 0))
			{
				op->child = c->name;
				op->child_ms = c->ms;
			}
		}
	}
}

/* A path ready for output: its names from the root. */
typedef struct PPPathRow
{
	PPPathAgg  *agg;
	PPPathAgg **chain;			/* depth entries, root first */
} PPPathRow;

/* text[] order, as ORDER BY path_array sorts: name by name, then shorter */
static int
path_row_cmp(const void *a, const void *b)
{
	const PPPathRow *x = a;
	const PPPathRow *y = b;
	int			n = Min(x->agg->depth, y->agg->depth);
	int			d;

	for (d = 0; d < n; d++)
	{
		int			r;

		if (x->chain[d] == y->chain[d])
			continue;
		r = varstr_cmp(x->chain[d]->name, x->chain[d]->name_len,
					   y->chain[d]->name, y->chain[d]->name_len,
					   DEFAULT_COLLATION_OID);
		if (r != 0)
			return r;
	}
	return x->agg->depth < y->agg->depth ? -1 : x->agg->depth > y->agg->depth;
}

/* The paths of w with calls, in path_array order. */
static PPPathRow *
path_rows(PPPathWindow *w, int *n)
{
	HASH_SEQ_STATUS status;
	PPPathAgg  *a;
	PPPathRow  *rows;
	int			count = 0;

	rows = palloc(sizeof(PPPathRow) * (hash_get_num_entries(w->paths) + 1));
	hash_seq_init(&status, w->paths);
	while ((a = hash_seq_search(&status)) != NULL)
	{
		PPPathAgg  *p;
		int			d;

		if (a->c.calls <= 0)
			continue;
		rows[count].agg = a;
		rows[count].chain = palloc(sizeof(PPPathAgg *) * a->depth);
		for (p = a, d = a->depth - 1; p != NULL; p = p->parent, d--)
			rows[count].chain[d] = p;
		count++;
	}
	qsort(rows, count, sizeof(PPPathRow), path_row_cmp);
	*n = count;
	return rows;
}

/*
 * The path as text: the names joined with ';', in which a backslash, a ';',
 * a newline and a carriage return of a name are written \\, \;, \n and \r.
 */
static void
append_path(StringInfo buf, const PPPathRow *row)
{
	int			d;

	for (d = 0; d < row->agg->depth; d++)
	{
		const PPPathAgg *p = row->chain[d];
		int			i;

		if (d > 0)
			appendStringInfoChar(buf, ';');
		for (i = 0; i < p->name_len; i++)
		{
			char		ch = p->name[i];

			switch (ch)
			{
				case '\\':
					appendStringInfoString(buf, "\\\\");
					break;
				case ';':
					appendStringInfoString(buf, "\\;");
					break;
				case '\n':
					appendStringInfoString(buf, "\\n");
					break;
				case '\r':
					appendStringInfoString(buf, "\\r");
					break;
				default:
					appendStringInfoChar(buf, ch);
			}
		}
	}
}

/* The row of pp_path_stats of a path (row->agg), or of the fold (NULL). */
static void
path_values(PPConfig *cfg, PPPathWindow *w, const PPPathRow *row,
			Datum *values, bool *nulls)
{
	const PPPathAgg *a = row ? row->agg : &w->fold;
	const PPCounters *c = &a->c;

	memset(nulls, 0, sizeof(bool) * PP_PATH_COLUMNS);
	if (row != NULL)
	{
		StringInfoData buf;
		Datum	   *names = palloc(sizeof(Datum) * a->depth);
		int			d;

		initStringInfo(&buf);
		append_path(&buf, row);
		values[0] = PointerGetDatum(cstring_to_text_with_len(buf.data, buf.len));
		for (d = 0; d < a->depth; d++)
			names[d] = PointerGetDatum(cstring_to_text_with_len(row->chain[d]->name,
																row->chain[d]->name_len));
		values[1] = PointerGetDatum(construct_array(names, a->depth, TEXTOID,
													-1, false, TYPALIGN_INT));
		pp_operation_columns(cfg, a->name, a->name_len, &values[3], &nulls[3]);
	}
	else
	{
		values[0] = CStringGetTextDatum(PP_FOLD_NAME);
		values[1] = PointerGetDatum(construct_empty_array(TEXTOID));
		values[3] = CStringGetTextDatum(PP_FOLD_NAME);
		values[4] = CStringGetTextDatum(PP_FOLD_TYPE);
	}
	values[2] = Int32GetDatum(a->depth);
	values[5] = Int64GetDatum(c->calls);
	values[6] = Int64GetDatum(c->errors);
	values[7] = Float8GetDatum(c->sum_ms);
	values[8] = Float8GetDatum(c->self_sum_ms);
	values[9] = Float8GetDatum(c->sum_ms / c->calls);
}

/* The rows of a window: the paths in path_array order, the fold row last. */
static void
path_stats(FunctionCallInfo fcinfo, TimestampTz t0, TimestampTz t1,
		   bool end_open)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	PPPathWindow w;
	PPConfig   *cfg;
	PPPathRow  *rows;
	Datum		values[PP_PATH_COLUMNS];
	bool		nulls[PP_PATH_COLUMNS];
	int			n,
				i;

	path_window_read(&w, t0, t1, end_open);
	cfg = pp_config_get();
	rows = path_rows(&w, &n);
	for (i = 0; i < n; i++)
	{
		path_values(cfg, &w, &rows[i], values, nulls);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	if (w.fold.c.calls > 0)
	{
		path_values(cfg, &w, NULL, values, nulls);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
}

/*
 * pp_path_stats(window interval DEFAULT '24 hours')
 */
Datum
pp_path_stats(PG_FUNCTION_ARGS)
{
	TimestampTz t0,
				t1;

	InitMaterializedSRF(fcinfo, 0);
	pp_window_bounds(PG_GETARG_DATUM(0), &t0, &t1);
	path_stats(fcinfo, t0, t1, false);
	return (Datum) 0;
}

/*
 * pp_range_path_stats(range tstzrange)
 */
Datum
pp_range_path_stats(PG_FUNCTION_ARGS)
{
	TimestampTz t0,
				t1;
	bool		end_open;

	InitMaterializedSRF(fcinfo, 0);
	pp_range_bounds(PG_GETARG_DATUM(0), "the", &t0, &t1, &end_open);
	path_stats(fcinfo, t0, t1, end_open);
	return (Datum) 0;
}

/*
 * pp_folded(window interval DEFAULT '24 hours') RETURNS text
 *
 * Folded stacks: one line per path, "a;b;c <self time in microseconds>",
 * in path_array order, the fold row last as "(other) <microseconds>".
 */
Datum
pp_folded(PG_FUNCTION_ARGS)
{
	TimestampTz t0,
				t1;
	PPPathWindow w;
	PPPathRow  *rows;
	StringInfoData buf;
	int			n,
				i;

	pp_window_bounds(PG_GETARG_DATUM(0), &t0, &t1);
	path_window_read(&w, t0, t1, false);
	rows = path_rows(&w, &n);
	initStringInfo(&buf);
	for (i = 0; i < n; i++)
	{
		append_path(&buf, &rows[i]);
		appendStringInfo(&buf, " " INT64_FORMAT "\n",
						 (int64) llround(rows[i].agg->c.self_sum_ms * 1000.0));
	}
	if (w.fold.c.calls > 0)
		appendStringInfo(&buf, "%s " INT64_FORMAT "\n", PP_FOLD_NAME,
						 (int64) llround(w.fold.c.self_sum_ms * 1000.0));
	PG_RETURN_TEXT_P(cstring_to_text_with_len(buf.data, buf.len));
}
