/*-------------------------------------------------------------------------
 *
 * src/span.c
 *	  In-database spans: pp_begin, pp_end, pp_time and pp_spans build one
 *	  TimingRecord tree per session, stored as a profile when its root ends.
 *
 * A session has at most one tree.  Its spans live in SpanContext (a child
 * of TopMemoryContext), so they outlive statements and transactions: an
 * application's pipeline may open the root in one transaction and end it
 * in another.  The open spans always form a chain from the root (a span is
 * opened inside the innermost open one), so "the current span" is the last
 * open one.
 *
 * Transactions.  Each span remembers the transaction (a per-backend
 * counter) and subtransaction that opened it.  When a transaction aborts,
 * the spans it opened that are still open are closed with the error
 * "transaction aborted" (a rolled-back savepoint: "subtransaction
 * aborted"), so nothing half-open leaks into what follows.  If that closes
 * the root, the tree is discarded: the profile would have been written by
 * the aborted transaction anyway.  Otherwise the tree goes on and is stored
 * when its root ends.  The profile is written through pp_ingest by the
 * statement that ends the root, inside its transaction.  A session that
 * ends with open spans stores nothing.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "config.h"
#include "guc.h"
#include "jsonb_build.h"

PG_FUNCTION_INFO_V1(pp_begin);
PG_FUNCTION_INFO_V1(pp_end);
PG_FUNCTION_INFO_V1(pp_time);
PG_FUNCTION_INFO_V1(pp_spans);

typedef struct PPSpan
{
	int64		id;				/* as pp_begin returned it */
	int			parent;			/* index in spans[], -1 for the root */
	int			depth;			/* root = 1 */
	char	   *name;
	Jsonb	   *metadata;		/* an object, or NULL */
	char	   *query_id;		/* root only, or NULL */
	TimestampTz start;
	TimestampTz end;
	char	   *error;			/* NULL when it did not fail */
	bool		open;
	uint64		xact;			/* the transaction that opened it */
	SubTransactionId subid;		/* ... and its subtransaction */
} PPSpan;

static MemoryContext SpanContext = NULL;
static PPSpan *spans = NULL;	/* the tree, in opening order (pre-order) */
static int	n_spans = 0;
static int	cap_spans = 0;
static int	current = -1;		/* the innermost open span, -1 if none */
static int64 next_span_id = 1;
static uint64 xact_counter = 0; /* bumped at every top-level transaction end */
static bool callbacks_registered = false;

static void
tree_discard(void)
{
	if (SpanContext != NULL)
		MemoryContextReset(SpanContext);
	spans = NULL;
	n_spans = 0;
	cap_spans = 0;
	current = -1;
}

/* Close the open spans from the current one up to (not beyond) 'stop'. */
static void
close_chain(int stop, TimestampTz at, const char *error)
{
	while (current >= 0 && current >= stop)
	{
		PPSpan	   *s = &spans[current];

		s->open = false;
		s->end = at;
		if (error != NULL && s->error == NULL)
			s->error = MemoryContextStrdup(SpanContext, error);
		current = s->parent;
		while (current >= 0 && !spans[current].open)
			current = spans[current].parent;
	}
}

/*
 * After an abort: close the open spans that the aborted (sub)transaction
 * opened; if the root is among them, discard the tree.
 */
static void
close_aborted(bool (*opened_in) (const PPSpan *s, SubTransactionId subid),
			  SubTransactionId subid, const char *error)
{
	int			first = -1;
	int			i;

	/* the open spans form a chain: find the outermost one to close */
	for (i = current; i >= 0; i = spans[i].parent)
		if (spans[i].open && opened_in(&spans[i], subid))
			first = i;
	if (first < 0)
		return;
	if (first == 0)
	{
		tree_discard();
		return;
	}
	close_chain(first, GetCurrentTimestamp(), error);
}

static bool
opened_in_xact(const PPSpan *s, SubTransactionId subid)
{
	return s->xact == xact_counter;
}

static bool
opened_in_subxact(const PPSpan *s, SubTransactionId subid)
{
	return s->xact == xact_counter && s->subid >= subid;
}

static void
span_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
			if (n_spans > 0)
				close_aborted(opened_in_xact, InvalidSubTransactionId, "transaction aborted");
			xact_counter++;
			break;
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_PREPARE:
			xact_counter++;
			break;
		default:
			break;
	}
}

static void
span_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
					  SubTransactionId parentSubid, void *arg)
{
	if (event == SUBXACT_EVENT_ABORT_SUB && n_spans > 0)
		close_aborted(opened_in_subxact, mySubid, "subtransaction aborted");
}

static void
spans_init(void)
{
	if (SpanContext == NULL)
		SpanContext = AllocSetContextCreate(TopMemoryContext, "ppprof spans",
											ALLOCSET_SMALL_SIZES);
	if (!callbacks_registered)
	{
		RegisterXactCallback(span_xact_callback, NULL);
		RegisterSubXactCallback(span_subxact_callback, NULL);
		callbacks_registered = true;
	}
}

/* Open a span inside the current one; returns its index. */
static int
span_open(text *operation, Jsonb *metadata, text *query_id)
{
	int			name_len = VARSIZE_ANY_EXHDR(operation);
	int			parent = current;
	int			depth = parent >= 0 ? spans[parent].depth + 1 : 1;
	PPSpan	   *s;

	if (name_len == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("span operation must not be empty")));
	if (name_len > pp_max_name_length)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("span operation is %d bytes long, the limit is %d", name_len,
						pp_max_name_length),
				 errhint("Raise ppprof.max_name_length or use a shorter name.")));
	if (metadata != NULL && !JB_ROOT_IS_OBJECT(metadata))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("span metadata must be a JSON object")));
	if (depth > pp_max_depth)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("spans nested deeper than ppprof.max_depth (%d)", pp_max_depth),
				 errhint("End the open spans with pp_end().")));
	if (n_spans >= pp_max_nodes)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("a span tree of more than ppprof.max_nodes (%d) spans", pp_max_nodes),
				 errhint("End the root span to store the profile, then start a new one.")));

	spans_init();
	if (n_spans == cap_spans)
	{
		int			newcap = Max(16, cap_spans * 2);

		spans = spans ? repalloc(spans, sizeof(PPSpan) * newcap)
			: MemoryContextAlloc(SpanContext, sizeof(PPSpan) * newcap);
		cap_spans = newcap;
	}
	s = &spans[n_spans];
	memset(s, 0, sizeof(*s));
	s->id = next_span_id++;
	s->parent = parent;
	s->depth = depth;
	s->name = MemoryContextAlloc(SpanContext, name_len + 1);
	memcpy(s->name, VARDATA_ANY(operation), name_len);
	s->name[name_len] = '\0';
	if (metadata != NULL && JsonContainerSize(&metadata->root) > 0)
	{
		s->metadata = MemoryContextAlloc(SpanContext, VARSIZE(metadata));
		memcpy(s->metadata, metadata, VARSIZE(metadata));
	}
	if (parent < 0 && query_id != NULL)
		s->query_id = MemoryContextStrdup(SpanContext, text_to_cstring(query_id));
	s->open = true;
	s->xact = xact_counter;
	s->subid = GetCurrentSubTransactionId();
	s->start = GetCurrentTimestamp();
	current = n_spans++;
	return current;
}

/*
 * Seconds since 1970 (the seed's start_time and end_time), exact to the
 * microsecond: a double printed with 15 significant digits keeps only 10
 * microseconds of a current time.
 */
static void
push_epoch(JsonbParseState **st, const char *key, TimestampTz t)
{
	pp_jb_decimal(st, key,
				  t + (int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * USECS_PER_DAY, 6);
}

/*
 * Push span i and its descendants (which follow it in spans[]); the root's
 * object is left open for pp_jb_finish.  Returns the index after them.
 */
static int
push_span(JsonbParseState **st, int i)
{
	const PPSpan *s = &spans[i];
	int			k;

	check_stack_depth();
	pp_jb_begin_object(st, NULL);
	pp_jb_string(st, "operation_name", s->name);
	push_epoch(st, "start_time", s->start);
	push_epoch(st, "end_time", s->end);
	pp_jb_rounded(st, "duration_ms", (double) (s->end - s->start) / 1000.0);
	pp_jb_key(st, "metadata");
	if (s->metadata != NULL)
	{
		JsonbValue	v;

		v.type = jbvBinary;
		v.val.binary.data = &s->metadata->root;
		v.val.binary.len = VARSIZE(s->metadata) - VARHDRSZ;
		pushJsonbValue(st, WJB_VALUE, &v);
	}
	else
	{
		pp_jb_begin_object(st, NULL);
		pp_jb_end_object(st);
	}
	pp_jb_begin_array(st, "children");
	for (k = i + 1; k < n_spans && spans[k].depth > s->depth;)
	{
		if (spans[k].parent == i)
			k = push_span(st, k);
		else
			k++;
	}
	pp_jb_end_array(st);
	pp_jb_string(st, "error", s->error);
	if (i > 0)
		pp_jb_end_object(st);
	return k;
}

/* The root ended: store the tree through pp_ingest; returns the id. */
static Datum
store_tree(bool *isnull)
{
	JsonbParseState *st = NULL;
	Jsonb	   *profile;
	PPConfig   *cfg = pp_config_get();
	char	   *q;
	Oid			argtypes[2] = {JSONBOID, TEXTOID};
	Datum		args[2];
	char		nulls[2] = {' ', ' '};
	Datum		id = (Datum) 0;
	bool		null = true;

	(void) push_span(&st, 0);
	profile = pp_jb_finish(&st, true);
	args[0] = JsonbPGetDatum(profile);
	if (spans[0].query_id != NULL)
		args[1] = CStringGetTextDatum(spans[0].query_id);
	else
		nulls[1] = 'n';
	/* the tree is gone whatever happens next: an error aborts its transaction */
	tree_discard();

	q = psprintf("SELECT %s.pp_ingest($1, $2)",
				 quote_identifier(get_namespace_name(cfg->schema)));
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "ppprof: SPI_connect failed");
	if (SPI_execute_with_args(q, 2, argtypes, args, nulls, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "ppprof: storing the span tree failed");
	if (SPI_processed == 1)
	{
		id = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &null);
		if (!null)
			id = SPI_datumTransfer(id, false, 16);
	}
	SPI_finish();
	*isnull = null;
	return id;
}

/*
 * pp_begin(operation text, metadata jsonb DEFAULT '{}', query_id text
 * DEFAULT NULL) RETURNS bigint
 */
Datum
pp_begin(PG_FUNCTION_ARGS)
{
	int			i;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("span operation must not be null")));
	i = span_open(PG_GETARG_TEXT_PP(0),
				  PG_ARGISNULL(1) ? NULL : PG_GETARG_JSONB_P(1),
				  PG_ARGISNULL(2) ? NULL : PG_GETARG_TEXT_PP(2));
	PG_RETURN_INT64(spans[i].id);
}

/* The index of the open span with this id; an ERROR if there is none. */
static int
open_span_index(int64 id)
{
	int			i;

	for (i = current; i >= 0; i = spans[i].parent)
		if (spans[i].id == id && spans[i].open)
			return i;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("span %lld is not open", (long long) id),
			 errhint("pp_spans() lists the open spans of this session.")));
	return -1;					/* keep compiler quiet */
}

/*
 * End span i (and the open spans inside it); store the tree when it is the
 * root.  Returns the stored profile's id, or NULL.
 */
static Datum
span_close(int i, const char *error, bool *isnull)
{
	TimestampTz now = GetCurrentTimestamp();

	if (error != NULL)
		spans[i].error = MemoryContextStrdup(SpanContext, error);
	close_chain(i, now, NULL);
	*isnull = true;
	if (i == 0)
		return store_tree(isnull);
	return (Datum) 0;
}

/*
 * pp_end(span bigint DEFAULT NULL, error text DEFAULT NULL) RETURNS uuid
 *
 * Ends the span (the innermost open one when NULL), with the open spans
 * inside it; a non-NULL error marks it failed.  Ending the root stores the
 * tree and returns the profile's id (NULL when pp_ingest sampled it out).
 */
Datum
pp_end(PG_FUNCTION_ARGS)
{
	int			i;
	bool		isnull;
	Datum		id;

	if (current < 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("no span is open in this session"),
				 errhint("Open one with pp_begin().")));
	i = PG_ARGISNULL(0) ? current : open_span_index(PG_GETARG_INT64(0));
	id = span_close(i, PG_ARGISNULL(1) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(1)),
					&isnull);
	if (isnull)
		PG_RETURN_NULL();
	PG_RETURN_DATUM(id);
}

/*
 * pp_time(operation text, query text) RETURNS bigint
 *
 * Runs query as a span inside the current one (or as a root, stored at
 * once); returns the rows it processed.  When the query fails, the span
 * ends with the error's message and the error goes on (a root's tree is
 * discarded).
 */
Datum
pp_time(PG_FUNCTION_ARGS)
{
	char	   *query;
	int			i;
	int64		id;
	uint64		processed = 0;
	bool		isnull;
	MemoryContext cxt = CurrentMemoryContext;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("operation and query must not be null")));
	query = text_to_cstring(PG_GETARG_TEXT_PP(1));
	i = span_open(PG_GETARG_TEXT_PP(0), NULL, NULL);
	id = spans[i].id;

	PG_TRY();
	{
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "ppprof: SPI_connect failed");
		if (SPI_execute(query, false, 0) < 0)
			elog(ERROR, "ppprof: SPI_execute failed: %s", SPI_result_code_string(SPI_result));
		processed = SPI_processed;
		SPI_finish();
	}
	PG_CATCH();
	{
		ErrorData  *edata;
		int			k;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		/*
		 * The span may be gone if the query itself ended spans.  A root
		 * cannot be stored while the error unwinds: its tree is discarded.
		 */
		for (k = current; k >= 0; k = spans[k].parent)
			if (spans[k].id == id && spans[k].open)
			{
				if (k == 0)
					tree_discard();
				else
				{
					spans[k].error = MemoryContextStrdup(SpanContext, edata->message);
					close_chain(k, GetCurrentTimestamp(), NULL);
				}
				break;
			}
		FreeErrorData(edata);
		PG_RE_THROW();
	}
	PG_END_TRY();

	i = open_span_index(id);
	(void) span_close(i, NULL, &isnull);
	PG_RETURN_INT64((int64) processed);
}

/*
 * pp_spans() RETURNS TABLE (span bigint, parent bigint, operation text,
 * depth integer, started_at timestamptz, open boolean, error text)
 *
 * The spans of this session's tree, in opening order.
 */
Datum
pp_spans(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	int			i;

	InitMaterializedSRF(fcinfo, 0);
	for (i = 0; i < n_spans; i++)
	{
		const PPSpan *s = &spans[i];
		Datum		values[7];
		bool		nulls[7] = {false};

		values[0] = Int64GetDatum(s->id);
		nulls[1] = s->parent < 0;
		values[1] = Int64GetDatum(s->parent < 0 ? 0 : spans[s->parent].id);
		values[2] = CStringGetTextDatum(s->name);
		values[3] = Int32GetDatum(s->depth);
		values[4] = TimestampTzGetDatum(s->start);
		values[5] = BoolGetDatum(s->open);
		nulls[6] = s->error == NULL;
		values[6] = nulls[6] ? (Datum) 0 : CStringGetTextDatum(s->error);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
