/*-------------------------------------------------------------------------
 *
 * src/export.c
 *	  One profile in the formats of the tools people already have:
 *	  pp_speedscope (speedscope's file format, evented profiles) and
 *	  pp_chrome_trace (the Trace Event Format of chrome://tracing and
 *	  Perfetto, complete "X" events).
 *
 * Both take the profile's layout from timeline.c: times from the root's
 * start, children within their parent, and tracks in which events nest.
 * Each track is one speedscope profile or one Chrome thread (tid): the
 * root and the sequential nodes below it on the first, each group of
 * parallel children (a lane of their parent) on another, reused once free.
 * Events of a track are written depth first, each node's children by
 * start, so on every track they open and close like a call stack.
 *
 * speedscope: frames are shared, one per distinct operation name; times
 * are milliseconds to the microsecond.  Chrome: ts and dur are whole
 * microseconds, the end rounded as the start is, so that rounding never
 * lets a child outlast its parent; each event's args carry the exact
 * duration, self time, type and error.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "fmgr.h"
#include "miscadmin.h"
#include "utils/jsonb.h"
#include "utils/uuid.h"

#include "jsonb_build.h"
#include "timeline.h"

PG_FUNCTION_INFO_V1(pp_speedscope);
PG_FUNCTION_INFO_V1(pp_chrome_trace);

/* What a track writes for a node opening or closing there. */
typedef void (*event_fn) (JsonbParseState **st, const PPTimeline *tl,
						  int32 node, bool open, void *arg);

/*
 * The nodes of each track, in drawing order: by_track[first[t] ..
 * first[t + 1]).  One counting sort, so that writing every track costs one
 * pass over the nodes whatever the number of tracks.
 */
static void
track_lists(const PPTimeline *tl, int32 **first, int32 **by_track)
{
	int32		n = tl->tree.n_nodes;
	int32	   *start = palloc0(sizeof(int32) * (tl->n_tracks + 1));
	int32	   *fill = palloc0(sizeof(int32) * tl->n_tracks);
	int32	   *list = palloc(sizeof(int32) * n);
	int32		k;

	for (k = 0; k < n; k++)
		start[tl->nodes[k].track + 1]++;
	for (k = 0; k < tl->n_tracks; k++)
		start[k + 1] += start[k];
	for (k = 0; k < n; k++)
	{
		int32		v = tl->order[k];
		int32		t = tl->nodes[v].track;

		list[start[t] + fill[t]++] = v;
	}
	*first = start;
	*by_track = list;
}

/*
 * The events of the track whose nodes are list[0 .. len): before a node
 * opens, whatever is open on the track and is not its parent closes.
 */
static void
track_events(JsonbParseState **st, const PPTimeline *tl, const int32 *list,
			 int32 len, int32 *stack, event_fn emit, void *arg)
{
	int32		sp = 0;
	int32		k;

	for (k = 0; k < len; k++)
	{
		int32		v = list[k];

		CHECK_FOR_INTERRUPTS();
		while (sp > 0 && stack[sp - 1] != tl->tree.nodes[v].parent)
			emit(st, tl, stack[--sp], false, arg);
		emit(st, tl, v, true, arg);
		stack[sp++] = v;
	}
	while (sp > 0)
		emit(st, tl, stack[--sp], false, arg);
}

/* The name of track t: the root's, or the parent of its parallel nodes'. */
static void
track_name(StringInfo buf, const PPTimeline *tl, int32 t)
{
	const pp_tree_node_t *n;

	resetStringInfo(buf);
	if (t == 0)
	{
		n = &tl->tree.nodes[0];
		appendBinaryStringInfo(buf, n->name, n->name_len);
		return;
	}
	n = &tl->tree.nodes[tl->track_parent[t]];
	appendStringInfo(buf, "parallel under ");
	appendBinaryStringInfo(buf, n->name, n->name_len);
	appendStringInfo(buf, " (track %d)", t + 1);
}

/* Node indexes by name, for speedscope's shared frames. */
static const PPTimeline *sort_tl;

static int
cmp_name(const void *a, const void *b)
{
	const pp_tree_node_t *x = &sort_tl->tree.nodes[*(const int32 *) a];
	const pp_tree_node_t *y = &sort_tl->tree.nodes[*(const int32 *) b];
	int			c = memcmp(x->name, y->name, Min(x->name_len, y->name_len));

	if (c != 0)
		return c;
	return (x->name_len > y->name_len) - (x->name_len < y->name_len);
}

static void
speedscope_event(JsonbParseState **st, const PPTimeline *tl, int32 node,
				 bool open, void *arg)
{
	const int32 *frame_of = arg;
	const PPTimelineNode *v = &tl->nodes[node];

	pp_jb_begin_object(st, NULL);
	pp_jb_string(st, "type", open ? "O" : "C");
	pp_jb_int(st, "frame", frame_of[node]);
	pp_jb_rounded(st, "at", open ? v->start_ms : v->end_ms);
	pp_jb_end_object(st);
}

/*
 * pp_speedscope(profile_id uuid) RETURNS jsonb
 */
Datum
pp_speedscope(PG_FUNCTION_ARGS)
{
	PPTimeline *tl = pp_timeline_load(PG_GETARG_UUID_P(0));
	int32		n = tl->tree.n_nodes;
	int32	   *by_name = palloc(sizeof(int32) * n);
	int32	   *frame_of = palloc(sizeof(int32) * n);
	int32		n_frames = 0;
	int32	   *first,
			   *by_track;
	int32	   *stack = palloc(sizeof(int32) * n);
	JsonbParseState *st = NULL;
	StringInfoData buf;
	int32		i,
				t;

	track_lists(tl, &first, &by_track);
	for (i = 0; i < n; i++)
		by_name[i] = i;
	sort_tl = tl;
	qsort(by_name, n, sizeof(int32), cmp_name);

	initStringInfo(&buf);
	pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
	pp_jb_string(&st, "$schema", "https://www.speedscope.app/file-format-schema.json");
	pp_jb_string(&st, "exporter", "ppprof");
	appendStringInfo(&buf, "profile %s", pp_timeline_id_text(tl));
	pp_jb_string(&st, "name", pstrdup(buf.data));
	pp_jb_int(&st, "activeProfileIndex", 0);

	pp_jb_begin_object(&st, "shared");
	pp_jb_begin_array(&st, "frames");
	for (i = 0; i < n; i++)
	{
		const pp_tree_node_t *tn = &tl->tree.nodes[by_name[i]];

		if (i == 0 || cmp_name(&by_name[i - 1], &by_name[i]) != 0)
		{
			pp_jb_begin_object(&st, NULL);
			pp_jb_string_n(&st, "name", tn->name, tn->name_len);
			pp_jb_end_object(&st);
			n_frames++;
		}
		frame_of[by_name[i]] = n_frames - 1;
	}
	pp_jb_end_array(&st);
	pp_jb_end_object(&st);

	pp_jb_begin_array(&st, "profiles");
	for (t = 0; t < tl->n_tracks; t++)
	{
		pp_jb_begin_object(&st, NULL);
		pp_jb_string(&st, "type", "evented");
		track_name(&buf, tl, t);
		pp_jb_string(&st, "name", pstrdup(buf.data));
		pp_jb_string(&st, "unit", "milliseconds");
		pp_jb_int(&st, "startValue", 0);
		pp_jb_rounded(&st, "endValue", tl->end_ms);
		pp_jb_begin_array(&st, "events");
		track_events(&st, tl, by_track + first[t], first[t + 1] - first[t],
					 stack, speedscope_event, frame_of);
		pp_jb_end_array(&st);
		pp_jb_end_object(&st);
	}
	pp_jb_end_array(&st);
	PG_RETURN_JSONB_P(pp_jb_finish(&st, true));
}

/* Milliseconds from the root's start as whole microseconds. */
static int64
to_us(double ms)
{
	return (int64) llround(ms * 1000.0);
}

static void
chrome_event(JsonbParseState **st, const PPTimeline *tl, int32 node,
			 bool open, void *arg)
{
	const PPTimelineNode *v = &tl->nodes[node];
	const pp_tree_node_t *tn = &tl->tree.nodes[node];

	if (!open)
		return;
	pp_jb_begin_object(st, NULL);
	pp_jb_string_n(st, "name", tn->name, tn->name_len);
	pp_jb_string(st, "cat", v->type);
	pp_jb_string(st, "ph", "X");
	pp_jb_int(st, "ts", to_us(v->start_ms));
	pp_jb_int(st, "dur", to_us(v->end_ms) - to_us(v->start_ms));
	pp_jb_int(st, "pid", 1);
	pp_jb_int(st, "tid", v->track + 1);
	pp_jb_begin_object(st, "args");
	pp_jb_string(st, "operation_type", v->type);
	pp_jb_rounded(st, "duration_ms", tn->duration_ms);
	pp_jb_rounded(st, "self_ms", tn->self_ms);
	pp_jb_rounded(st, "start_offset_ms", v->offset_ms);
	if (!v->timed && node > 0)
		pp_jb_bool(st, "no_start_time", true);
	if (v->clipped)
		pp_jb_bool(st, "clipped_to_parent", true);
	if (tn->failed)
		pp_jb_string_n(st, "error", tn->error, tn->error_len);
	pp_jb_end_object(st);
	pp_jb_end_object(st);
}

/* A metadata ("M") event. */
static void
chrome_metadata(JsonbParseState **st, const char *what, int32 tid,
				const char *key, const char *name, int64 number)
{
	pp_jb_begin_object(st, NULL);
	pp_jb_string(st, "name", what);
	pp_jb_string(st, "ph", "M");
	pp_jb_int(st, "pid", 1);
	pp_jb_int(st, "tid", tid);
	pp_jb_begin_object(st, "args");
	if (name)
		pp_jb_string(st, key, name);
	else
		pp_jb_int(st, key, number);
	pp_jb_end_object(st);
	pp_jb_end_object(st);
}

/*
 * pp_chrome_trace(profile_id uuid) RETURNS jsonb
 */
Datum
pp_chrome_trace(PG_FUNCTION_ARGS)
{
	PPTimeline *tl = pp_timeline_load(PG_GETARG_UUID_P(0));
	const pp_tree_node_t *root = &tl->tree.nodes[0];
	int32	   *first,
			   *by_track;
	int32	   *stack = palloc(sizeof(int32) * tl->tree.n_nodes);
	JsonbParseState *st = NULL;
	StringInfoData buf;
	int32		t;

	track_lists(tl, &first, &by_track);
	initStringInfo(&buf);
	pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
	pp_jb_begin_array(&st, "traceEvents");
	appendStringInfo(&buf, "ppprof profile %s", pp_timeline_id_text(tl));
	chrome_metadata(&st, "process_name", 0, "name", pstrdup(buf.data), 0);
	for (t = 0; t < tl->n_tracks; t++)
	{
		track_name(&buf, tl, t);
		chrome_metadata(&st, "thread_name", t + 1, "name", pstrdup(buf.data), 0);
		chrome_metadata(&st, "thread_sort_index", t + 1, "sort_index", NULL, t);
	}
	for (t = 0; t < tl->n_tracks; t++)
		track_events(&st, tl, by_track + first[t], first[t + 1] - first[t],
					 stack, chrome_event, NULL);
	pp_jb_end_array(&st);
	pp_jb_string(&st, "displayTimeUnit", "ms");
	pp_jb_begin_object(&st, "otherData");
	pp_jb_string(&st, "exporter", "ppprof");
	pp_jb_string(&st, "profile_id", pp_timeline_id_text(tl));
	pp_jb_string(&st, "query_id", tl->query_id);
	pp_jb_time(&st, "created_at", tl->created_at == DT_NOBEGIN ? 0 : tl->created_at);
	if (root->has_start)
		pp_jb_number(&st, "root_start_time", root->start_time);
	pp_jb_end_object(&st);
	PG_RETURN_JSONB_P(pp_jb_finish(&st, true));
}
