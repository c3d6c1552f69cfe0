/*-------------------------------------------------------------------------
 *
 * src/rollups.c
 *	  Statistics persisted per closed time bucket: pp_rollup(), which
 *	  writes them into performance_rollups, and pp_rollup_contents(), which
 *	  reads one back.
 *
 * A rollup holds, for one minute, hour or day and one operation (kind
 * 'o') or the profiles themselves (kind 'p'), the counters and sketches
 * that the shared memory keeps per bucket, in the stored form of
 * src/core/rollup.h; for one call path (kind 'c') its counters; and, for
 * minutes and hours inside ppprof.horizon, for one value of a live
 * dimension and one operation (kind 'd') its counters and durations, which
 * only pp_rebuild reads (src/rebuild.c).
 * It is computed from the table, not copied from shared memory, so that it
 * is exactly the rows of its bucket in one snapshot, whatever the shared
 * statistics hold.
 *
 * Rows that change after their bucket's rollup was written.  pp_rollup()
 * first raises the database's rollup horizon in shared memory to the start
 * of the current minute (every rollup it writes is of a bucket before it),
 * then waits for every transaction that holds a writer's lock on
 * performance_profiles (WaitForLockers; new writers do not wait), then
 * takes the snapshot it reads with.  A transaction that wrote before the
 * wait ended is in that snapshot.  One that writes later reads the raised
 * horizon when it starts writing (observe.c), and marks every minute before
 * it that it changes in performance_rollup_stale, in its own transaction:
 * the mark commits with the change or not at all.  The next pp_rollup()
 * writes the marked minutes, and their hours, again and deletes the marks
 * its snapshot saw (a mark made again meanwhile is a new row version and
 * stays).  So a rollup without a mark equals the table.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <ctype.h>
#include <math.h>

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "tcop/tcopprot.h"
#include "postmaster/bgworker.h"
#include "storage/ipc.h"
#include "commands/trigger.h"
#include "storage/lmgr.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "commands/extension.h"
#include "utils/hsearch.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "allocator.h"
#include "config.h"
#include "dimensions.h"
#include "guc.h"
#include "jsonb_build.h"
#include "paths.h"
#include "rollup.h"
#include "rollups.h"
#include "shmem.h"
#include "spi_owner.h"
#include "window.h"

PG_FUNCTION_INFO_V1(pp_rollup);
PG_FUNCTION_INFO_V1(pp_rollup_contents);
PG_FUNCTION_INFO_V1(pp_rollup_replace);

/* pp_rollup() is inserting rows whose bucket it emptied (pp_rollup_replace) */
static bool rollup_writing = false;

PGDLLEXPORT void pp_rollup_worker_main(Datum arg);

/* Minute rollups are kept this long; hour rollups ppprof.rollup_retention. */
#define PP_ROLLUP_MINUTES_KEPT	(USECS_PER_DAY)

/*
 * The counters of PPCounters in the stored form, in this order (a later
 * version may append, never reorder).  name: the key pp_rollup_contents
 * shows it under, NULL for those it shows otherwise.
 */
typedef struct RollupCounter
{
	const char *name;
	size_t		offset;			/* in PPCounters */
} RollupCounter;

static const RollupCounter rollup_ints[] = {
	{"calls", offsetof(PPCounters, calls)},
	{"errors", offsetof(PPCounters, errors)},
	{NULL, offsetof(PPCounters, first_at)},
	{NULL, offsetof(PPCounters, last_at)},
	{"repeat_calls", offsetof(PPCounters, repeat_calls)},
	{"repeat_groups", offsetof(PPCounters, repeat_groups)},
	{"parallel_parents", offsetof(PPCounters, parallel_parents)},
	{"cache_hits", offsetof(PPCounters, cache_hits)},
	{"cache_misses", offsetof(PPCounters, cache_misses)},
	{"input_tokens", offsetof(PPCounters, input_tokens)},
	{"output_tokens", offsetof(PPCounters, output_tokens)},
	{NULL, offsetof(PPCounters, cost_nusd)},
};

static const RollupCounter rollup_floats[] = {
	{"sum_ms", offsetof(PPCounters, sum_ms)},
	{"sumsq_ms", offsetof(PPCounters, sumsq_ms)},
	{"self_sum_ms", offsetof(PPCounters, self_sum_ms)},
	{"min_ms", offsetof(PPCounters, min_ms)},
	{"max_ms", offsetof(PPCounters, max_ms)},
	{"parallel_saving_ms", offsetof(PPCounters, parallel_saving_ms)},
};

/*
 * The longest stored name of a call path, in bytes: well inside a btree
 * entry of the primary key; a longer path is counted in the fold row.
 */
#define PP_ROLLUP_PATH_NAME_MAX	2000

#define PP_ROLLUP_N_INTS	((int) lengthof(rollup_ints))
#define PP_ROLLUP_N_FLOATS	((int) lengthof(rollup_floats))

StaticAssertDecl(lengthof(rollup_ints) <= PP_ROLLUP_MAX_INTS, "too many counters");
StaticAssertDecl(lengthof(rollup_floats) <= PP_ROLLUP_MAX_FLOATS, "too many counters");

#define COUNTER_INT(c, i) \
	(*(const int64 *) ((const char *) (c) + rollup_ints[i].offset))
#define COUNTER_FLOAT(c, i) \
	(*(const double *) ((const char *) (c) + rollup_floats[i].offset))

/* One (kind, name) of a bucket being computed. */
typedef struct RollupEntry
{
	const char *name;			/* hash key with name_len (a PPNameKey);
								 * NUL-terminated */
	int			name_len;
	char		kind;			/* 'p', 'o', 'c' or 'd' */
	PPCounters	c;
	pp_sketch_t *durations;		/* grows by copy; NULL for the fold row */
	pp_sketch_t *ttft;			/* NULL until a time to first token */
} RollupEntry;

/* A call path met walking the rows of a bucket. */
typedef struct RollupPath
{
	struct RollupPath *parent;	/* hash key with name, name_len (a
								 * PPPathKey); NULL for a root */
	const char *name;			/* NUL-terminated, in the bucket's memory */
	int			name_len;
	PPCounters	c;
} RollupPath;

typedef struct RollupBucket
{
	HTAB	   *entries;		/* operations, at most
								 * ppprof.max_window_operations */
	RollupEntry root;			/* the profiles */
	RollupEntry other;			/* operations beyond the cap, counters only */
	HTAB	   *paths;			/* RollupPath, walking rows: at most
								 * ppprof.max_window_paths */
	RollupPath	path_fold;		/* the nodes of the paths beyond them */
	RollupPath **row;			/* per node of the row walked: its path */
	int			row_cap;
	HTAB	   *cpaths;			/* kind 'c' entries by stored name, at most
								 * ppprof.max_window_paths */
	RollupEntry cfold;			/* the call paths beyond them */
	HTAB	   *dims;			/* kind 'd' entries by stored name, at most
								 * ppprof.max_dimension_entries */
	RollupEntry dfold;			/* what did not fit: then none is stored */
	PPDimObs   *values;			/* the live dimensions' values of a row */
	int			values_cap;
	StringInfoData dim_name;	/* scratch: a stored name */
} RollupBucket;

StaticAssertDecl(offsetof(RollupEntry, name) == offsetof(PPNameKey, name) &&
				 offsetof(RollupEntry, name_len) == offsetof(PPNameKey, name_len),
				 "RollupEntry begins with a PPNameKey");
StaticAssertDecl(offsetof(RollupPath, parent) == offsetof(PPPathKey, parent) &&
				 offsetof(RollupPath, name) == offsetof(PPPathKey, name) &&
				 offsetof(RollupPath, name_len) == offsetof(PPPathKey, name_len),
				 "RollupPath begins with a PPPathKey");

static pp_sketch_t *
sketch_new(uint16 capacity)
{
	pp_sketch_t *s = palloc(PP_SKETCH_SIZE(capacity));

	pp_sketch_init(s, capacity);
	return s;
}

/*
 * Add n values of bin index to *s, moving it into a larger sketch when it
 * is full.
 */
static void
sketch_add_index(pp_sketch_t **s, int index, uint32 n)
{
	if (*s == NULL)
		*s = sketch_new(16);
	while (pp_sketch_add_index_exact(*s, index, n) == PP_ERR_FULL)
	{
		uint16		capacity = Min((*s)->capacity * 2, PP_SKETCH_MAX_CAPACITY);
		pp_sketch_t *bigger = sketch_new(capacity);

		(void) pp_sketch_copy(bigger, capacity, *s);
		pfree(*s);
		*s = bigger;
	}
}

/*
 * The entry of name in entries, created when there is room (at most cap);
 * else the fold row.  An operation's entry has a sketch, a call path's none.
 */
static RollupEntry *
entry_get(HTAB *entries, RollupEntry *fold, char kind, const char *name,
		  int name_len, int cap)
{
	PPNameKey	key;
	RollupEntry *e;
	bool		found;
	char	   *copy;

	key.name = name;
	key.name_len = name_len;
	e = hash_search(entries, &key, HASH_FIND, NULL);
	if (e != NULL)
		return e;
	if (hash_get_num_entries(entries) >= cap)
		return fold;
	e = hash_search(entries, &key, HASH_ENTER, &found);
	copy = palloc(name_len + 1);
	memcpy(copy, name, name_len);
	copy[name_len] = '\0';
	e->kind = kind;
	e->name = copy;
	memset(&e->c, 0, sizeof(e->c));
	e->durations = kind == 'o' || kind == 'd' ? sketch_new(16) : NULL;
	e->ttft = NULL;
	return e;
}

/* The operation name's entry of b, or its fold row. */
#define OP_ENTRY(b, name, len) \
	entry_get((b)->entries, &(b)->other, 'o', (name), Min((len), PP_NAME_MAX), \
			  pp_max_window_operations)
/* The call path's entry of b by its stored name, or its fold row. */
#define PATH_ENTRY(b, name, len) \
	entry_get((b)->cpaths, &(b)->cfold, 'c', (name), (len), pp_max_window_paths)

/* The dimension entry of b by its stored name, or the overflow row. */
#define DIM_ENTRY(b, name, len) \
	entry_get((b)->dims, &(b)->dfold, 'd', (name), (len), pp_max_dimension_entries)

/* The path that ends in name under parent (NULL: a root), or the fold. */
static RollupPath *
path_get(RollupBucket *b, RollupPath *parent, const char *name, int name_len)
{
	RollupPath	key;
	RollupPath *p;
	bool		found;
	char	   *copy;

	if (parent == &b->path_fold)
		return &b->path_fold;
	key.parent = parent;
	key.name = name;
	key.name_len = Min(name_len, PP_NAME_MAX);
	p = hash_search(b->paths, &key, HASH_FIND, NULL);
	if (p != NULL)
		return p;
	if (hash_get_num_entries(b->paths) >= pp_max_window_paths)
		return &b->path_fold;
	p = hash_search(b->paths, &key, HASH_ENTER, &found);
	copy = palloc(key.name_len + 1);
	memcpy(copy, name, key.name_len);
	copy[key.name_len] = '\0';
	p->name = copy;
	memset(&p->c, 0, sizeof(p->c));
	return p;
}

/* The stored name of path p: each name, root first, as "length:name". */
static void
path_name(StringInfo buf, const RollupPath *p)
{
	if (p->parent != NULL)
		path_name(buf, p->parent);
	appendStringInfo(buf, "%d:", p->name_len);
	appendBinaryStringInfo(buf, p->name, p->name_len);
}

int
pp_rollup_path_names(const char *name, int name_len, const char **names,
					 int *name_lens, int max)
{
	const char *p = name;
	const char *end = name + name_len;
	int			n = 0;

	while (p < end)
	{
		int			len = 0;

		if (n == max || !isdigit((unsigned char) *p))
			return -1;
		while (p < end && isdigit((unsigned char) *p) && len <= PP_NAME_MAX)
			len = len * 10 + (*p++ - '0');
		if (p == end || *p++ != ':' || len > PP_NAME_MAX || len > end - p)
			return -1;
		names[n] = p;
		name_lens[n] = len;
		n++;
		p += len;
	}
	return n;
}

/*
 * The stored name of a dimension entry: the dimension's identity (16 hex
 * digits), then the operation and the value as "length:text", or "-" for
 * the nodes without a value.
 */
static void
dim_name(StringInfo buf, uint64 dim_id, const char *op, int op_len,
		 const PPDimObs *v)
{
	resetStringInfo(buf);
	appendStringInfo(buf, "%016" INT64_MODIFIER "x:%d:", dim_id, op_len);
	appendBinaryStringInfo(buf, op, op_len);
	if (v->value_len < 0)
		appendStringInfoChar(buf, '-');
	else
	{
		appendStringInfo(buf, "%d:", v->value_len);
		appendBinaryStringInfo(buf, v->value, v->value_len);
	}
}

/*
 * Read "length:" at *p (before end), a length of at most max: the text
 * that follows must hold it.  Moves *p past the colon.
 */
static bool
read_length(const char **p, const char *end, int max, int *len)
{
	*len = 0;
	if (*p == end || !isdigit((unsigned char) **p))
		return false;
	while (*p < end && isdigit((unsigned char) **p) && *len <= max)
		*len = *len * 10 + (*(*p)++ - '0');
	if (*p == end || *(*p)++ != ':' || *len > max || *len > end - *p)
		return false;
	return true;
}

bool
pp_rollup_dim_name(const char *name, int name_len, uint64 *dim_id,
				   const char **op, int *op_len, const char **value,
				   int *value_len)
{
	const char *end = name + name_len;
	const char *p = name;
	int			i;

	*dim_id = 0;
	for (i = 0; i < 16; i++, p++)
	{
		if (p == end || !isxdigit((unsigned char) *p))
			return false;
		*dim_id = (*dim_id << 4) |
			(uint64) (isdigit((unsigned char) *p) ? *p - '0' :
					  tolower((unsigned char) *p) - 'a' + 10);
	}
	if (p == end || *p++ != ':' || !read_length(&p, end, PP_NAME_MAX, op_len))
		return false;
	*op = p;
	p += *op_len;
	if (p + 1 == end && *p == '-')
	{
		*value = NULL;
		*value_len = -1;
		return true;
	}
	if (!read_length(&p, end, PP_ROLLUP_PATH_NAME_MAX, value_len) ||
		*value_len != end - p)
		return false;
	*value = p;
	return true;
}

static void
entry_add(RollupEntry *e, const PPNodeObs *o, TimestampTz at)
{
	pp_counters_add(&e->c, 1, o, at);
	if (e->durations == NULL)
		return;					/* the fold row */
	sketch_add_index(&e->durations, pp_sketch_index_of(o->duration_ms), 1);
	if (o->ttft_ms >= 0)
		sketch_add_index(&e->ttft, pp_sketch_index_of(o->ttft_ms), 1);
}

/*
 * The nodes of one profile into the entries of the live dimensions' values
 * (src/dimensions.c), as shared memory counts them: no time to first token.
 */
static void
visit_row_dims(RollupBucket *b, const pp_tree_t *tree, const PPNodeObs *obs,
			   TimestampTz at)
{
	PPConfig   *cfg = pp_config_get();
	int			n = cfg->n_live_dimensions;
	int32		k;
	int			d;

	if (n == 0)
		return;
	if (tree->n_nodes * n > b->values_cap)
	{
		b->values_cap = Max(tree->n_nodes * n, 2 * b->values_cap);
		b->values = b->values ? repalloc(b->values, sizeof(PPDimObs) * b->values_cap)
			: palloc(sizeof(PPDimObs) * b->values_cap);
	}
	pp_dimension_values(cfg, tree, obs, at, b->values);
	for (k = 0; k < tree->n_nodes; k++)
	{
		PPNodeObs	o = obs[k];

		o.ttft_ms = -1;
		for (d = 0; d < n; d++)
		{
			const pp_tree_node_t *tn = &tree->nodes[k];

			dim_name(&b->dim_name, cfg->dimensions[d].id, tn->name,
					 Min((int) tn->name_len, PP_NAME_MAX), &b->values[k * n + d]);
			entry_add(b->dim_name.len <= PP_ROLLUP_PATH_NAME_MAX ?
					  DIM_ENTRY(b, b->dim_name.data, b->dim_name.len) : &b->dfold,
					  &o, at);
		}
	}
}

/* One profile of the bucket's rows. */
static void
visit_row(void *arg, const pp_tree_t *tree, const PPNodeObs *obs,
		  TimestampTz at, const pg_uuid_t *id, double total)
{
	RollupBucket *b = arg;
	PPNodeObs	root;
	int32		k;

	memset(&root, 0, sizeof(root));
	root.duration_ms = total;
	root.self_ms = total;
	if (tree->n_nodes > b->row_cap)
	{
		b->row_cap = Max(tree->n_nodes, 2 * b->row_cap);
		b->row = b->row ? repalloc(b->row, sizeof(RollupPath *) * b->row_cap)
			: palloc(sizeof(RollupPath *) * b->row_cap);
	}
	for (k = 0; k < tree->n_nodes; k++)
	{
		const pp_tree_node_t *n = &tree->nodes[k];

		CHECK_FOR_INTERRUPTS();
		entry_add(OP_ENTRY(b, n->name, (int) n->name_len), &obs[k], at);
		root.failed |= n->failed;
		/* pre-order: the parent's path is known */
		b->row[k] = path_get(b, n->parent < 0 ? NULL : b->row[n->parent],
							 n->name, (int) n->name_len);
		pp_counters_add(&b->row[k]->c, 1, &obs[k], at);
	}
	pp_obs_sum_usage(&root, obs, tree->n_nodes);
	entry_add(&b->root, &root, at);
	if (b->dims != NULL)
		visit_row_dims(b, tree, obs, at);
}

/* The stored form of an entry (a call path's has no sketch), as a bytea. */
static bytea *
entry_encode(const RollupEntry *e)
{
	const PPCounters *c = &e->c;
	pp_rollup_t r;
	bytea	   *out;
	size_t		len;
	int			i;

	r.n_ints = PP_ROLLUP_N_INTS;
	for (i = 0; i < PP_ROLLUP_N_INTS; i++)
		r.ints[i] = COUNTER_INT(c, i);
	r.n_floats = PP_ROLLUP_N_FLOATS;
	for (i = 0; i < PP_ROLLUP_N_FLOATS; i++)
		r.floats[i] = COUNTER_FLOAT(c, i);

	out = palloc(VARHDRSZ + pp_rollup_bound(&r, e->durations, e->ttft));
	if (pp_rollup_encode(&r, e->durations, e->ttft,
						 (uint8_t *) VARDATA(out), &len) != PP_OK)
		elog(ERROR, "ppprof: a rollup of \"%s\" cannot be stored", e->name);
	SET_VARSIZE(out, VARHDRSZ + len);
	return out;
}

/* A table of entries keyed by name, in CurrentMemoryContext. */
static HTAB *
entries_create(const char *what)
{
	HASHCTL		ctl;

	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(PPNameKey);
	ctl.entrysize = sizeof(RollupEntry);
	ctl.hash = pp_name_key_hash;
	ctl.match = pp_name_key_match;
	ctl.hcxt = CurrentMemoryContext;
	return hash_create(what, 64, &ctl,
					   HASH_ELEM | HASH_FUNCTION | HASH_COMPARE | HASH_CONTEXT);
}

/* An empty entry of kind and name (not in a table: the root, a fold). */
static void
entry_init(RollupEntry *e, char kind, const char *name)
{
	memset(e, 0, sizeof(*e));
	e->kind = kind;
	e->name = name;
	e->name_len = strlen(name);
}

/* An empty bucket, in CurrentMemoryContext. */
static void
bucket_init(RollupBucket *b)
{
	HASHCTL		ctl;

	b->entries = entries_create("ppprof rollup entries");
	entry_init(&b->root, 'p', "");
	b->root.durations = sketch_new(16);
	entry_init(&b->other, 'o', PP_FOLD_NAME);

	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(PPPathKey);
	ctl.entrysize = sizeof(RollupPath);
	ctl.hash = pp_path_key_hash;
	ctl.match = pp_path_key_match;
	ctl.hcxt = CurrentMemoryContext;
	b->paths = hash_create("ppprof rollup paths", 64, &ctl,
						   HASH_ELEM | HASH_FUNCTION | HASH_COMPARE | HASH_CONTEXT);
	memset(&b->path_fold, 0, sizeof(b->path_fold));
	b->row = NULL;
	b->row_cap = 0;
	b->cpaths = entries_create("ppprof rollup stored paths");
	entry_init(&b->cfold, 'c', PP_FOLD_NAME);
	b->dims = pp_max_dimension_entries > 0 ?
		entries_create("ppprof rollup dimension values") : NULL;
	entry_init(&b->dfold, 'd', PP_FOLD_NAME);
	b->values = NULL;
	b->values_cap = 0;
	initStringInfo(&b->dim_name);
}

/* Insert one entry of a bucket into performance_rollups. */
static void
entry_store(SPIPlanPtr ins, Datum *args, const RollupEntry *e)
{
	args[2] = CharGetDatum(e->kind);
	args[3] = PointerGetDatum(cstring_to_text_with_len(e->name, e->name_len));
	args[4] = PointerGetDatum(entry_encode(e));
	if (SPI_execute_plan(ins, args, NULL, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "ppprof: could not insert a rollup");
}

/* Insert the entries of a table and their fold row; returns the rows. */
static int
entries_store(SPIPlanPtr ins, Datum *args, HTAB *entries, const RollupEntry *fold)
{
	HASH_SEQ_STATUS seq;
	RollupEntry *e;
	int			n = 0;

	hash_seq_init(&seq, entries);
	while ((e = hash_seq_search(&seq)) != NULL)
	{
		entry_store(ins, args, e);
		n++;
	}
	if (fold->c.calls > 0)
	{
		entry_store(ins, args, fold);
		n++;
	}
	return n;
}

/*
 * Replace the rows of bucket (width, start) in performance_rollups by b's;
 * returns the rows written.
 */
static int
bucket_store(SPIPlanPtr del, SPIPlanPtr ins, const char *width,
			 TimestampTz start, RollupBucket *b)
{
	Datum		args[5];
	int			n;

	args[0] = CStringGetTextDatum(width);
	args[1] = TimestampTzGetDatum(start);
	if (SPI_execute_plan(del, args, NULL, false, 0) != SPI_OK_DELETE)
		elog(ERROR, "ppprof: could not delete rollups");

	/* the profiles' row always, so that an empty bucket is known written */
	entry_store(ins, args, &b->root);
	n = 1 + entries_store(ins, args, b->entries, &b->other);

	/* the call paths walked, by their stored names */
	{
		HASH_SEQ_STATUS pseq;
		RollupPath *p;
		StringInfoData name;

		initStringInfo(&name);
		hash_seq_init(&pseq, b->paths);
		while ((p = hash_seq_search(&pseq)) != NULL)
		{
			resetStringInfo(&name);
			path_name(&name, p);
			pp_counters_merge(name.len <= PP_ROLLUP_PATH_NAME_MAX ?
							  &PATH_ENTRY(b, name.data, name.len)->c : &b->cfold.c,
							  &p->c);
		}
		pp_counters_merge(&b->cfold.c, &b->path_fold.c);
	}
	n += entries_store(ins, args, b->cpaths, &b->cfold);

	/*
	 * The dimensions' values, unless some did not fit: a bucket has all of
	 * them or none (pp_rebuild loads them only from a bucket that has them)
	 */
	if (b->dims != NULL && b->dfold.c.calls == 0)
	{
		HASH_SEQ_STATUS dseq;
		RollupEntry *e;

		hash_seq_init(&dseq, b->dims);
		while ((e = hash_seq_search(&dseq)) != NULL)
		{
			entry_store(ins, args, e);
			n++;
		}
	}
	return n;
}

/*
 * Compute the bucket [start, start + width) from the table, in the active
 * snapshot, and replace its rows in performance_rollups.  Returns the rows
 * written.  Runs inside the SPI connection of pp_rollup.
 */
static int
rollup_bucket(SPIPlanPtr del, SPIPlanPtr ins, bool minute,
			  TimestampTz start)
{
	RollupBucket b;
	MemoryContext cxt;
	MemoryContext old;
	int			n;

	cxt = AllocSetContextCreate(CurrentMemoryContext, "ppprof rollup bucket",
								ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(cxt);
	bucket_init(&b);

	/*
	 * The configuration of now: the walk of a previous bucket may have
	 * loaded it again (a change of performance_thresholds, say), freeing the
	 * one read before.
	 */
	pp_window_scan(pp_config_get(), start,
				   start + (minute ? USECS_PER_MINUTE : USECS_PER_HOUR),
				   false, visit_row, &b);
	n = bucket_store(del, ins, minute ? "minute" : "hour", start, &b);
	MemoryContextSwitchTo(old);
	MemoryContextDelete(cxt);
	return n;
}

/* Add the bins of src to *dst. */
static void
sketch_merge(pp_sketch_t **dst, const pp_sketch_t *src)
{
	int			i;

	if (src->zero_count > 0)
		sketch_add_index(dst, 0, (uint32) src->zero_count);
	for (i = 0; i < src->nbins; i++)
	{
		uint16		index;
		uint32		count;

		pp_sketch_slot(src, i, &index, &count);
		sketch_add_index(dst, index, count);
	}
}

/*
 * Compute the day [start, start + 1 day) by merging the rollups of its
 * hours -- those this pp_rollup() just wrote again included, which a new
 * snapshot of this transaction sees -- and replace its rows.  A day is
 * exact when its hours are: an hour has a rollup from the oldest row on,
 * and a change to any of its minutes marks the day as well.
 */
static int
rollup_day(SPIPlanPtr del, SPIPlanPtr ins, SPIPlanPtr hours, TimestampTz start)
{
	RollupBucket b;
	MemoryContext cxt;
	MemoryContext old;
	Datum		args[2];
	pp_sketch_t *durations;
	pp_sketch_t *ttft;
	uint64		i;
	int			n;

	cxt = AllocSetContextCreate(CurrentMemoryContext, "ppprof rollup day",
								ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(cxt);
	bucket_init(&b);
	durations = palloc(PP_SKETCH_SIZE(PP_SKETCH_MAX_CAPACITY));
	ttft = palloc(PP_SKETCH_SIZE(PP_SKETCH_MAX_CAPACITY));
	args[0] = TimestampTzGetDatum(start);
	args[1] = TimestampTzGetDatum(start + USECS_PER_DAY);
	if (SPI_execute_plan(hours, args, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "ppprof: could not read hour rollups");
	for (i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		char		kind = DatumGetChar(SPI_getbinval(tup, desc, 1, &isnull));
		text	   *name = DatumGetTextPP(SPI_getbinval(tup, desc, 2, &isnull));
		bytea	   *data = DatumGetByteaPP(SPI_getbinval(tup, desc, 3, &isnull));
		PPCounters	c;
		uint8		flags;
		RollupEntry *e;

		CHECK_FOR_INTERRUPTS();
		if (kind == 'd')
			continue;			/* days hold no dimensions (nothing reads them) */
		pp_rollup_read_data(data, &c, durations, ttft, &flags);
		if (kind == 'p')
			e = &b.root;
		else if (kind == 'c')
			e = (VARSIZE_ANY_EXHDR(name) == strlen(PP_FOLD_NAME) &&
				 memcmp(VARDATA_ANY(name), PP_FOLD_NAME, strlen(PP_FOLD_NAME)) == 0) ?
				&b.cfold : PATH_ENTRY(&b, VARDATA_ANY(name), VARSIZE_ANY_EXHDR(name));
		else if (!(flags & PP_ROLLUP_HAS_DURATIONS))
			e = &b.other;		/* an hour's fold row */
		else
			e = OP_ENTRY(&b, VARDATA_ANY(name), VARSIZE_ANY_EXHDR(name));
		pp_counters_merge(&e->c, &c);
		if (e->durations == NULL)
			continue;			/* folded in the day */
		if (flags & PP_ROLLUP_HAS_DURATIONS)
			sketch_merge(&e->durations, durations);
		if (flags & PP_ROLLUP_HAS_TTFT)
			sketch_merge(&e->ttft, ttft);
	}
	n = bucket_store(del, ins, "day", start, &b);
	MemoryContextSwitchTo(old);
	MemoryContextDelete(cxt);
	return n;
}

/* A timestamp result of a one-row, one-column query; DT_NOBEGIN when NULL. */
static TimestampTz
query_time(const char *q)
{
	bool		isnull;
	Datum		d;

	if (SPI_execute(q, true, 1) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "ppprof: could not read rollups: %s", q);
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	return isnull ? DT_NOBEGIN : DatumGetTimestampTz(d);
}

static TimestampTz
floor_to(TimestampTz t, TimestampTz width)
{
	TimestampTz r = t - t % width;

	return r > t ? r - width : r;
}

/* Add the buckets of [from, to) of one width to the list (sorted later). */
typedef struct BucketList
{
	TimestampTz *starts;
	int			n;
	int			cap;
} BucketList;

static void
list_add(BucketList *l, TimestampTz start)
{
	if (l->n == l->cap)
	{
		l->cap = Max(64, l->cap * 2);
		l->starts = l->starts ? repalloc(l->starts, sizeof(TimestampTz) * l->cap) :
			palloc(sizeof(TimestampTz) * l->cap);
	}
	l->starts[l->n++] = start;
}

static int
bucket_start_cmp(const void *a, const void *b)
{
	TimestampTz x = *(const TimestampTz *) a;
	TimestampTz y = *(const TimestampTz *) b;

	return x < y ? -1 : x > y ? 1 : 0;
}

/* Sort and drop repeats. */
static void
list_unique(BucketList *l)
{
	int			i,
				j = 0;

	if (l->n == 0)
		return;
	qsort(l->starts, l->n, sizeof(TimestampTz), bucket_start_cmp);
	for (i = 1; i < l->n; i++)
		if (l->starts[i] != l->starts[j])
			l->starts[++j] = l->starts[i];
	l->n = j + 1;
}

/*
 * Write the buckets listed; returns the rows written.  Each bucket's rows
 * are deleted first, so its inserts replace nothing (pp_rollup_replace).
 */
static int
write_buckets(SPIPlanPtr del, SPIPlanPtr ins, SPIPlanPtr hours_of_day,
			  const BucketList *minutes, const BucketList *hours,
			  const BucketList *days)
{
	volatile int written = 0;

	rollup_writing = true;
	PG_TRY();
	{
		int			i;

		for (i = 0; i < minutes->n; i++)
			written += rollup_bucket(del, ins, true, minutes->starts[i]);
		for (i = 0; i < hours->n; i++)
			written += rollup_bucket(del, ins, false, hours->starts[i]);
		/* after the hours: a day merges them */
		for (i = 0; i < days->n; i++)
			written += rollup_day(del, ins, hours_of_day, days->starts[i]);
	}
	PG_FINALLY();
	{
		rollup_writing = false;
	}
	PG_END_TRY();
	return written;
}

int
pp_rollup_write(void)
{
	PPConfig   *cfg;
	Oid			rollups_relid;
	Oid			profiles_relid;
	PPSavedUser saved;
	const char *nsp;
	TimestampTz now = GetCurrentTimestamp();
	TimestampTz through = floor_to(now, USECS_PER_MINUTE);
	TimestampTz hours_through = floor_to(through, USECS_PER_HOUR);
	TimestampTz days_through = floor_to(through, USECS_PER_DAY);
	TimestampTz minutes_from;
	TimestampTz hours_from;
	TimestampTz days_from;
	TimestampTz oldest;
	LOCKTAG		tag;
	BucketList	minutes = {0};
	BucketList	hours = {0};
	BucketList	days = {0};
	SPIPlanPtr	del;
	SPIPlanPtr	ins;
	SPIPlanPtr	hours_of_day;
	Oid			types[5] = {TEXTOID, TIMESTAMPTZOID, CHAROID, TEXTOID, BYTEAOID};
	Oid			range_types[2] = {TIMESTAMPTZOID, TIMESTAMPTZOID};
	ItemPointerData *marks_tid;
	TimestampTz *marks;
	uint64		n_marks;
	uint64		i;
	int			written = 0;

	pp_shmem_require_writable("pp_rollup");
	if (IsolationUsesXactSnapshot())
		ereport(ERROR,
				(errcode(ERRCODE_ACTIVE_SQL_TRANSACTION),
				 errmsg("pp_rollup() must run at READ COMMITTED isolation"),
				 errhint("Run it in its own transaction.")));
	/*
	 * The configuration is read again after each lock: taking a lock
	 * accepts invalidations, which may free what was read before.
	 */
	cfg = pp_config_get();
	rollups_relid = get_relname_relid("performance_rollups", cfg->schema);
	profiles_relid = cfg->profiles_relid;

	/* one pp_rollup() at a time per database */
	LockRelationOid(rollups_relid, ShareUpdateExclusiveLock);

	/* 1. the horizon, 2. the writers that may not have seen it */
	pp_shmem_rollup_raise(through);
	SET_LOCKTAG_RELATION(tag, MyDatabaseId, profiles_relid);
	WaitForLockers(tag, ShareLock, false);

	/* 3. one snapshot for every read below */
	PushActiveSnapshot(GetTransactionSnapshot());
	cfg = pp_config_get();
	nsp = quote_identifier(get_namespace_name(cfg->schema));
	pp_spi_connect_as(pp_config_owner(cfg), &saved);

	/* what was written before: the buckets after it are due */
	minutes_from = query_time(psprintf("SELECT max(bucket_start) + interval '1 minute'"
									   " FROM %s.performance_rollups"
									   " WHERE width = 'minute' AND kind = 'p'", nsp));
	hours_from = query_time(psprintf("SELECT max(bucket_start) + interval '1 hour'"
									 " FROM %s.performance_rollups"
									 " WHERE width = 'hour' AND kind = 'p'", nsp));
	days_from = query_time(psprintf("SELECT max(bucket_start) + interval '1 day'"
									" FROM %s.performance_rollups"
									" WHERE width = 'day' AND kind = 'p'", nsp));
	oldest = query_time(psprintf("SELECT min(created_at) FROM %s.performance_profiles", nsp));
	if (hours_from == DT_NOBEGIN)
		hours_from = oldest == DT_NOBEGIN ? hours_through : floor_to(oldest, USECS_PER_HOUR);
	if (days_from == DT_NOBEGIN)
		days_from = oldest == DT_NOBEGIN ? days_through : floor_to(oldest, USECS_PER_DAY);
	minutes_from = Max(minutes_from, through - PP_ROLLUP_MINUTES_KEPT);
	if (oldest != DT_NOBEGIN)
		minutes_from = Max(minutes_from, Min(floor_to(oldest, USECS_PER_MINUTE), through));
	else
		minutes_from = through;
	for (; minutes_from < through; minutes_from += USECS_PER_MINUTE)
		list_add(&minutes, minutes_from);
	for (; hours_from < hours_through; hours_from += USECS_PER_HOUR)
		list_add(&hours, hours_from);
	for (; days_from < days_through; days_from += USECS_PER_DAY)
		list_add(&days, days_from);

	/* the minutes marked, as this snapshot sees them */
	if (SPI_execute(psprintf("SELECT bucket_start, ctid FROM %s.performance_rollup_stale", nsp),
					true, 0) != SPI_OK_SELECT)
		elog(ERROR, "ppprof: could not read performance_rollup_stale");
	n_marks = SPI_processed;
	marks = palloc(sizeof(TimestampTz) * Max(n_marks, 1));
	marks_tid = palloc(sizeof(ItemPointerData) * Max(n_marks, 1));
	for (i = 0; i < n_marks; i++)
	{
		bool		isnull;

		marks[i] = DatumGetTimestampTz(SPI_getbinval(SPI_tuptable->vals[i],
													 SPI_tuptable->tupdesc, 1, &isnull));
		marks_tid[i] = *(ItemPointer) DatumGetPointer(SPI_getbinval(SPI_tuptable->vals[i],
														  SPI_tuptable->tupdesc, 2, &isnull));
		if (marks[i] == DT_NOBEGIN)
		{
			/*
			 * Every bucket that still has raw rows (pp_rollup_mark_all): the
			 * minutes, hours and days from the oldest profile on.
			 */
			TimestampTz t;

			if (oldest == DT_NOBEGIN)
				continue;
			for (t = Max(floor_to(oldest, USECS_PER_MINUTE), through - PP_ROLLUP_MINUTES_KEPT);
				 t < through; t += USECS_PER_MINUTE)
				list_add(&minutes, t);
			for (t = floor_to(oldest, USECS_PER_HOUR); t < hours_through; t += USECS_PER_HOUR)
				list_add(&hours, t);
			for (t = floor_to(oldest, USECS_PER_DAY); t < days_through; t += USECS_PER_DAY)
				list_add(&days, t);
			continue;
		}
		if (marks[i] >= through - PP_ROLLUP_MINUTES_KEPT && marks[i] < through)
			list_add(&minutes, floor_to(marks[i], USECS_PER_MINUTE));
		if (marks[i] < hours_through)
			list_add(&hours, floor_to(marks[i], USECS_PER_HOUR));
		if (marks[i] < days_through)
			list_add(&days, floor_to(marks[i], USECS_PER_DAY));
	}
	list_unique(&minutes);
	list_unique(&hours);
	list_unique(&days);

	/*
	 * Custom plans: a generic one made while the table was small scans it
	 * all at every bucket once it has grown (the table of a first call
	 * grows from nothing to tens of thousands of rows).
	 */
	del = SPI_prepare_cursor(psprintf("DELETE FROM %s.performance_rollups"
									  " WHERE width OPERATOR(pg_catalog.=) $1"
									  " AND bucket_start OPERATOR(pg_catalog.=) $2", nsp),
							 2, types, CURSOR_OPT_CUSTOM_PLAN);
	ins = SPI_prepare(psprintf("INSERT INTO %s.performance_rollups"
							   " (width, bucket_start, kind, name, data)"
							   " VALUES ($1, $2, $3, $4, $5)", nsp), 5, types);
	hours_of_day = SPI_prepare_cursor(psprintf("SELECT kind, name, data FROM %s.performance_rollups"
											   " WHERE width OPERATOR(pg_catalog.=) 'hour'"
											   " AND bucket_start OPERATOR(pg_catalog.>=) $1"
											   " AND bucket_start OPERATOR(pg_catalog.<) $2", nsp),
									  2, range_types, CURSOR_OPT_CUSTOM_PLAN);
	if (del == NULL || ins == NULL || hours_of_day == NULL)
		elog(ERROR, "ppprof: SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
	written = write_buckets(del, ins, hours_of_day, &minutes, &hours, &days);

	/*
	 * The marks this snapshot saw, by their row (marks are never updated,
	 * so a mark made since is another row and stays).
	 */
	if (n_marks > 0)
	{
		Datum	   *tids = palloc(sizeof(Datum) * n_marks);
		Oid			ttype = TIDARRAYOID;
		Datum		targ;

		for (i = 0; i < n_marks; i++)
			tids[i] = PointerGetDatum(&marks_tid[i]);
		targ = PointerGetDatum(construct_array(tids, (int) n_marks, TIDOID,
											   sizeof(ItemPointerData), false,
											   TYPALIGN_SHORT));
		if (SPI_execute_with_args(psprintf("DELETE FROM %s.performance_rollup_stale"
										   " WHERE ctid OPERATOR(pg_catalog.=) ANY ($1)", nsp),
								  1, &ttype, &targ, NULL, false, 0) != SPI_OK_DELETE)
			elog(ERROR, "ppprof: could not delete from performance_rollup_stale");
	}

	/*
	 * retention: minutes for a day, hours and days for
	 * ppprof.rollup_retention, the dimensions' values of hours as long as
	 * ppprof.horizon (only a rebuild reads them)
	 */
	{
		Oid			rtypes[3] = {TIMESTAMPTZOID, TIMESTAMPTZOID, TIMESTAMPTZOID};
		Datum		rargs[3];

		rargs[0] = TimestampTzGetDatum(through - PP_ROLLUP_MINUTES_KEPT);
		rargs[1] = TimestampTzGetDatum(through - (TimestampTz) pp_rollup_retention_min * USECS_PER_MINUTE);
		rargs[2] = TimestampTzGetDatum(through - (TimestampTz) pp_horizon_min * USECS_PER_MINUTE -
									   USECS_PER_HOUR);
		if (SPI_execute_with_args(psprintf("DELETE FROM %s.performance_rollups"
										   " WHERE (width OPERATOR(pg_catalog.=) 'minute'"
										   " AND bucket_start OPERATOR(pg_catalog.<) $1)"
										   " OR (width OPERATOR(pg_catalog.<>) 'minute'"
										   " AND bucket_start OPERATOR(pg_catalog.<) $2)"
										   " OR (kind OPERATOR(pg_catalog.=) 'd'"
										   " AND bucket_start OPERATOR(pg_catalog.<) $3)", nsp),
								  3, rtypes, rargs, NULL, false, 0) != SPI_OK_DELETE)
			elog(ERROR, "ppprof: could not delete old rollups");
	}
	pp_spi_finish_as(&saved);
	PopActiveSnapshot();
	return written;
}

/*
 * pp_rollup() RETURNS integer
 */
Datum
pp_rollup(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(pp_rollup_write());
}

void
pp_rollup_read_data(bytea *data, PPCounters *c, pp_sketch_t *durations,
					pp_sketch_t *ttft, uint8 *flags)
{
	pp_rollup_t r;
	pp_error_t	err;
	int			i;

	memset(&err, 0, sizeof(err));
	if (pp_rollup_decode((const uint8_t *) VARDATA_ANY(data), VARSIZE_ANY_EXHDR(data),
						 &r, flags, durations, ttft, &err) != PP_OK)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("not a ppprof rollup"),
				 errdetail("At %s: %s.", err.path, err.text)));
	if (r.n_ints < PP_ROLLUP_N_INTS || r.n_floats < PP_ROLLUP_N_FLOATS)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("not a ppprof rollup"),
				 errdetail("It has %d integer and %d floating-point counters, fewer than %d and %d.",
						   r.n_ints, r.n_floats, PP_ROLLUP_N_INTS, PP_ROLLUP_N_FLOATS)));
	/* counters a later version appended are not ours to read */
	for (i = 0; i < PP_ROLLUP_N_INTS; i++)
		*(int64 *) ((char *) c + rollup_ints[i].offset) = r.ints[i];
	for (i = 0; i < PP_ROLLUP_N_FLOATS; i++)
		*(double *) ((char *) c + rollup_floats[i].offset) = r.floats[i];
}

/*
 * pp_rollup_contents(data bytea) RETURNS jsonb
 */
/*
 * BEFORE INSERT FOR EACH ROW on performance_rollups: an inserted rollup
 * replaces the row of the same key.  A restore (pg_restore, psql of a
 * dump) loads performance_profiles first, whose commit may start the
 * background pp_rollup(), writing rollups of the same buckets.  The
 * trigger takes the lock pp_rollup() holds, so a restore and pp_rollup()
 * take turns.  pp_rollup()'s own rows replace nothing (it emptied their
 * buckets first).  The delete is planned for each row, so that it looks up
 * the key however large the table has grown during the restore.
 */
Datum
pp_rollup_replace(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	Relation	rel;
	TupleDesc	desc;
	HeapTuple	tup;
	Datum		args[4];
	bool		isnull[4];
	char		nulls[4];
	Oid			types[4] = {TEXTOID, TIMESTAMPTZOID, CHAROID, TEXTOID};
	static const char *const cols[4] = {"width", "bucket_start", "kind", "name"};
	int			i;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_BEFORE(td->tg_event) ||
		!TRIGGER_FIRED_BY_INSERT(td->tg_event) || !TRIGGER_FIRED_FOR_ROW(td->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("pp_rollup_replace() must be a BEFORE INSERT row trigger")));
	tup = td->tg_trigtuple;
	if (rollup_writing)
		return PointerGetDatum(tup);

	rel = td->tg_relation;
	desc = RelationGetDescr(rel);
	LockRelationOid(RelationGetRelid(rel), ShareUpdateExclusiveLock);
	for (i = 0; i < 4; i++)
	{
		int			attno = SPI_fnumber(desc, cols[i]);

		if (attno <= 0)
			elog(ERROR, "ppprof: performance_rollups has no column \"%s\"", cols[i]);
		args[i] = heap_getattr(tup, attno, desc, &isnull[i]);
		nulls[i] = isnull[i] ? 'n' : ' ';
	}
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "ppprof: SPI_connect failed");
	if (SPI_execute_with_args(psprintf("DELETE FROM %s.%s"
									   " WHERE width OPERATOR(pg_catalog.=) $1"
									   " AND bucket_start OPERATOR(pg_catalog.=) $2"
									   " AND kind OPERATOR(pg_catalog.=) $3"
									   " AND name OPERATOR(pg_catalog.=) $4",
									   quote_identifier(get_namespace_name(RelationGetNamespace(rel))),
									   quote_identifier(RelationGetRelationName(rel))),
							  4, types, args, nulls, false, 0) != SPI_OK_DELETE)
		elog(ERROR, "ppprof: could not delete the rollup an inserted one replaces");
	SPI_finish();
	return PointerGetDatum(tup);
}

Datum
pp_rollup_contents(PG_FUNCTION_ARGS)
{
	bytea	   *data = PG_GETARG_BYTEA_PP(0);
	PPCounters	c;
	uint8		flags;
	pp_sketch_t *durations = palloc(PP_SKETCH_SIZE(PP_SKETCH_MAX_CAPACITY));
	pp_sketch_t *ttft = palloc(PP_SKETCH_SIZE(PP_SKETCH_MAX_CAPACITY));
	JsonbParseState *st = NULL;
	int			i;

	pp_rollup_read_data(data, &c, durations, ttft, &flags);
	pp_jb_begin_object(&st, NULL);
	pp_jb_int(&st, "version", PP_ROLLUP_VERSION);
	for (i = 0; i < PP_ROLLUP_N_INTS; i++)
		if (rollup_ints[i].name != NULL)
			pp_jb_int(&st, rollup_ints[i].name, COUNTER_INT(&c, i));
	pp_jb_number(&st, "cost_usd", (double) c.cost_nusd / 1e9);
	if (c.calls > 0)
	{
		pp_jb_time(&st, "first_at", c.first_at);
		pp_jb_time(&st, "last_at", c.last_at);
		for (i = 0; i < PP_ROLLUP_N_FLOATS; i++)
			pp_jb_number(&st, rollup_floats[i].name, COUNTER_FLOAT(&c, i));
	}
	if ((flags & PP_ROLLUP_HAS_DURATIONS) && durations->count > 0)
	{
		pp_sketch_acc_t *acc = pp_sketch_acc_create(pp_palloc_allocator(CurrentMemoryContext));

		if (acc == NULL || pp_sketch_acc_add_sketch(acc, durations) != PP_OK)
			ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
		pp_jb_int(&st, "sketch_count", (int64) durations->count);
		pp_jb_number(&st, "p50_ms", Min(Max(pp_sketch_acc_quantile(acc, 0.50), c.min_ms), c.max_ms));
		pp_jb_number(&st, "p95_ms", Min(Max(pp_sketch_acc_quantile(acc, 0.95), c.min_ms), c.max_ms));
		pp_jb_number(&st, "p99_ms", Min(Max(pp_sketch_acc_quantile(acc, 0.99), c.min_ms), c.max_ms));
	}
	if ((flags & PP_ROLLUP_HAS_TTFT) && ttft->count > 0)
	{
		pp_sketch_acc_t *acc = pp_sketch_acc_create(pp_palloc_allocator(CurrentMemoryContext));

		if (acc == NULL || pp_sketch_acc_add_sketch(acc, ttft) != PP_OK)
			ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
		pp_jb_int(&st, "ttft_count", (int64) ttft->count);
		pp_jb_number(&st, "ttft_p50_ms", pp_sketch_acc_quantile(acc, 0.50));
		pp_jb_number(&st, "ttft_p95_ms", pp_sketch_acc_quantile(acc, 0.95));
	}
	PG_RETURN_JSONB_P(pp_jb_finish(&st, true));
}

/*
 * The writer's side.  The horizon is read once per transaction, after it
 * took its writer's lock on the table (its first row change): pp_rollup()
 * waits for every transaction that held the lock when it raised the
 * horizon, so a transaction that read an older one is in its snapshot.
 * A minute is marked once per transaction (the set of minutes marked is
 * forgotten when a subtransaction aborts, since its marks are gone).
 */
static bool horizon_read = false;	/* in this transaction */
static bool all_marked = false;	/* pp_rollup_mark_all, in this transaction */
static TimestampTz horizon;
static HTAB *marked = NULL;		/* minutes marked, in TopTransactionContext */
static bool callbacks_registered = false;

static void
rollup_xact_callback(XactEvent event, void *arg)
{
	horizon_read = false;
	all_marked = false;
	marked = NULL;				/* its memory went with the transaction */
}

static void
rollup_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
						SubTransactionId parentSubid, void *arg)
{
	if (event == SUBXACT_EVENT_ABORT_SUB)
	{
		marked = NULL;			/* its memory goes with the transaction */
		all_marked = false;
	}
}

/* Insert or renew the mark of minute in rel's schema, as rel's owner. */
static void
mark_minute(Relation rel, TimestampTz minute)
{
	PPSavedUser saved;
	Oid			type = TIMESTAMPTZOID;
	Datum		arg = TimestampTzGetDatum(minute);

	pp_spi_connect_as(rel->rd_rel->relowner, &saved);
	if (SPI_execute_with_args(psprintf("INSERT INTO %s.performance_rollup_stale (bucket_start)"
									   " VALUES ($1)",
									   quote_identifier(get_namespace_name(RelationGetNamespace(rel)))),
							  1, &type, &arg, NULL, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "ppprof: could not mark a stale rollup");
	pp_spi_finish_as(&saved);
}

static void
callbacks_register(void)
{
	if (!callbacks_registered)
	{
		RegisterXactCallback(rollup_xact_callback, NULL);
		RegisterSubXactCallback(rollup_subxact_callback, NULL);
		callbacks_registered = true;
	}
}

void
pp_rollup_note(Relation rel, TimestampTz created_at, bool deleted)
{
	TimestampTz minute;
	bool		found;

	callbacks_register();
	if (!horizon_read)
	{
		horizon = pp_shmem_rollup_horizon();
		horizon_read = true;
		marked = NULL;
	}
	if (created_at >= horizon || (deleted && pp_rollup_keep))
		return;
	if (marked == NULL)
	{
		HASHCTL		ctl;

		memset(&ctl, 0, sizeof(ctl));
		ctl.keysize = sizeof(TimestampTz);
		ctl.entrysize = sizeof(TimestampTz);
		ctl.hcxt = TopTransactionContext;
		marked = hash_create("ppprof minutes marked", 64, &ctl,
							 HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	minute = floor_to(created_at, USECS_PER_MINUTE);
	(void) hash_search(marked, &minute, HASH_ENTER, &found);
	if (!found)
		mark_minute(rel, minute);
}

/*
 * Start the background pp_rollup() of dbid, at most once a minute (called
 * before the commit of a transaction that changed performance_profiles).
 */
void
pp_rollup_request(Oid dbid)
{
	BackgroundWorker worker;

	if (!pp_rollup_worker || !IsUnderPostmaster || RecoveryInProgress() ||
		!pp_shmem_claim_rollup(dbid))
		return;
	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = BGW_NEVER_RESTART;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "ppprof");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "pp_rollup_worker_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, "ppprof rollup of database %u", dbid);
	snprintf(worker.bgw_type, BGW_MAXLEN, "ppprof rollup");
	worker.bgw_main_arg = ObjectIdGetDatum(dbid);
	if (!RegisterDynamicBackgroundWorker(&worker, NULL))
		ereport(LOG,
				(errmsg("ppprof could not start a background rollup"),
				 errhint("Raise max_worker_processes, or run SELECT pp_rollup() from pg_cron.")));
}

/* Entry point of the "ppprof rollup" background worker. */
void
pp_rollup_worker_main(Datum arg)
{
	Oid			dbid = DatumGetObjectId(arg);
	int			n = 0;

	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnectionByOid(dbid, InvalidOid, 0);

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	pgstat_report_activity(STATE_RUNNING, "ppprof: writing rollups");
	PushActiveSnapshot(GetTransactionSnapshot());
	if (OidIsValid(get_extension_oid("ppprof", true)))
		n = pp_rollup_write();
	PopActiveSnapshot();
	CommitTransactionCommand();
	pgstat_report_activity(STATE_IDLE, NULL);
	ereport(DEBUG1,
			(errmsg("ppprof wrote %d rollups of database %u", n, dbid)));
	proc_exit(0);
}

void
pp_rollup_mark_all(Oid nsp)
{
	PPSavedUser saved;
	Oid			stale = get_relname_relid("performance_rollup_stale", nsp);

	callbacks_register();
	if (all_marked || !OidIsValid(stale))
		return;				/* once per transaction is enough */
	pp_spi_connect_as(pp_config_relation_owner(stale), &saved);
	if (SPI_execute(psprintf("INSERT INTO %s.performance_rollup_stale (bucket_start)"
							 " VALUES ('-infinity')",
							 quote_identifier(get_namespace_name(nsp))),
					false, 0) != SPI_OK_INSERT)
		elog(ERROR, "ppprof: could not mark the rollups stale");
	pp_spi_finish_as(&saved);
	all_marked = true;
}

void
pp_rollup_truncated(Relation rel)
{
	PPSavedUser saved;
	const char *nsp = quote_identifier(get_namespace_name(RelationGetNamespace(rel)));

	pp_spi_connect_as(rel->rd_rel->relowner, &saved);
	if (SPI_execute(psprintf("DELETE FROM %s.performance_rollups", nsp), false, 0) != SPI_OK_DELETE ||
		SPI_execute(psprintf("DELETE FROM %s.performance_rollup_stale", nsp), false, 0) != SPI_OK_DELETE)
		elog(ERROR, "ppprof: could not delete the rollups of a truncated table");
	pp_spi_finish_as(&saved);
}
