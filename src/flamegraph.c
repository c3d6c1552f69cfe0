/*-------------------------------------------------------------------------
 *
 * src/flamegraph.c
 *	  Flame graphs as SVG text: pp_flamegraph(profile_id),
 *	  pp_flamegraph(window) and pp_flamegraph_diff(before, after).
 *
 * A profile's flame graph is an icicle on the profile's own timeline
 * (timeline.c): the root on top, each frame at its start and as wide as
 * its duration, parallel children in separate rows, gaps left empty:
 * uninstrumented time shows as white space under a frame.
 *
 * The window and differential graphs merge every profile by call path
 * (root -> ... -> node), from pp_path_stats / pp_range_path_stats, called
 * by schema-qualified name as the caller with a pinned search_path: what
 * the caller may see there is what the graph shows.  A frame is as wide as
 * its path's total time; frames of one parent are side by side in path
 * order.  Children that ran in parallel can add up to more than their
 * parent: they are then drawn scaled down together to fit it (the tooltip
 * says by how much), so that no frame is wider than its parent.  The
 * difference of two windows is measured by the average time of a path per
 * profile of each window, which counts both slower calls and more calls;
 * a frame is as wide as the larger of the two (a path that disappeared
 * still shows) and coloured red when slower, blue when faster, light grey when
 * unchanged, by the square root of the relative change (a 25% change
 * is half-way), fully at 100% or more, and for new and gone paths.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"

#include "config.h"
#include "spi_owner.h"
#include "svg.h"
#include "timeline.h"

PG_FUNCTION_INFO_V1(pp_flamegraph_profile);
PG_FUNCTION_INFO_V1(pp_flamegraph_window);
PG_FUNCTION_INFO_V1(pp_flamegraph_diff);

#define GRAPH_TOP		70		/* px above the first row: titles, axis */
#define TOOLTIP_ERROR_CHARS 300 /* an error text is cut to this in a tooltip */
#define UNCHANGED_GREY	242		/* #f2f2f2: a path whose time did not change */

static int
cmp_cstring(const void *a, const void *b)
{
	return strcmp(*(const char *const *) a, *(const char *const *) b);
}

/*
 * The distinct strings of types[0..n) (sorted) into *out; returns how many.
 */
static int
distinct_types(const char **types, int n, const char ***out)
{
	const char **sorted = palloc(sizeof(char *) * Max(n, 1));
	int			k = 0;
	int			i;

	memcpy(sorted, types, sizeof(char *) * n);
	qsort(sorted, n, sizeof(char *), cmp_cstring);
	for (i = 0; i < n; i++)
		if (k == 0 || strcmp(sorted[k - 1], sorted[i]) != 0)
			sorted[k++] = sorted[i];
	*out = sorted;
	return k;
}

/* A legend of the operation types' colours at y. */
static void
type_legend(StringInfo out, int y, const char **types, int n)
{
	const char **colours = palloc(sizeof(char *) * Max(n, 1));
	int			i;

	for (i = 0; i < n; i++)
		colours[i] = pp_svg_type_colour(types[i]);
	pp_svg_legend(out, y, types, colours, n);
}

/* A time axis over [0, span_ms] above the first row. */
static void
time_axis(StringInfo out, double span_ms, double px_per_ms, int rows)
{
	double		raw = span_ms / 10;
	double		mag,
				step,
				t;
	int			decimals,
				i;

	if (span_ms <= 0)
		return;
	mag = pow(10, floor(log10(raw)));
	step = raw / mag < 1.5 ? 1 : raw / mag < 3.5 ? 2 : raw / mag < 7.5 ? 5 : 10;
	step *= mag;
	decimals = step >= 1 ? 0 : (int) ceil(-log10(step) - 1e-9);
	for (i = 0, t = 0; t <= span_ms * (1 + 1e-9); t = ++i * step)
	{
		double		x = PP_SVG_MARGIN + t * px_per_ms;

		appendStringInfo(out,
						 "<line x1=\"%.3f\" y1=\"%d\" x2=\"%.3f\" y2=\"%d\" stroke=\"#e4e4e4\"/>"
						 "<text x=\"%.3f\" y=\"%d\" text-anchor=\"%s\" fill=\"#777777\" font-size=\"9\">%.*f ms</text>\n",
						 x, GRAPH_TOP - 6, x, GRAPH_TOP + rows * PP_SVG_FRAME_HEIGHT,
						 x, GRAPH_TOP - 9, i == 0 ? "start" : "middle", decimals, t);
	}
}

/*
 * pp_flamegraph(profile_id uuid) RETURNS text: the profile on its timeline.
 */
Datum
pp_flamegraph_profile(PG_FUNCTION_ARGS)
{
	PPTimeline *tl = pp_timeline_load(PG_GETARG_UUID_P(0));
	const pp_tree_node_t *tn = tl->tree.nodes;
	int32		n = tl->tree.n_nodes;
	double		root_ms = tn[0].duration_ms;
	double		px_per_ms = tl->end_ms > 0 ?
		(PP_SVG_WIDTH - 2 * PP_SVG_MARGIN) / tl->end_ms : 0;
	const char **types = palloc(sizeof(char *) * n);
	const char **legend;
	int			n_legend;
	int			legend_y,
				height;
	StringInfoData out,
				title,
				sub,
				tip;
	int32		k;

	for (k = 0; k < n; k++)
		types[k] = tl->nodes[k].type;
	n_legend = distinct_types(types, n, &legend);
	legend_y = GRAPH_TOP + tl->n_rows * PP_SVG_FRAME_HEIGHT + 12;
	height = legend_y + pp_svg_legend_height(legend, n_legend) + 6;

	initStringInfo(&title);
	appendStringInfo(&title, "Flame graph of profile %s", pp_timeline_id_text(tl));
	initStringInfo(&sub);
	appendBinaryStringInfo(&sub, tn[0].name, tn[0].name_len);
	appendStringInfoString(&sub, " - ");
	pp_svg_ms(&sub, root_ms);
	if (tl->query_id)
		appendStringInfo(&sub, " - query_id %s", tl->query_id);
	if (tl->created_at != DT_NOBEGIN)
		appendStringInfo(&sub, " - %s", timestamptz_to_str(tl->created_at));
	appendStringInfo(&sub, " - %d node%s", n, n == 1 ? "" : "s");
	if (tl->n_untimed > 0)
		appendStringInfo(&sub, ", %d without start_time placed after their previous sibling",
						 tl->n_untimed);
	if (tl->n_clipped > 0)
		appendStringInfo(&sub, ", %d drawn clipped to their parent", tl->n_clipped);

	initStringInfo(&out);
	pp_svg_begin(&out, height, title.data, sub.data);
	time_axis(&out, tl->end_ms, px_per_ms, tl->n_rows);

	initStringInfo(&tip);
	for (k = 0; k < n; k++)
	{
		int32		i = tl->order[k];
		const PPTimelineNode *v = &tl->nodes[i];
		PPSvgFrame	f;

		CHECK_FOR_INTERRUPTS();
		resetStringInfo(&tip);
		pp_svg_text(&tip, tn[i].name, tn[i].name_len, 0);
		appendStringInfoString(&tip, "\ntype: ");
		pp_svg_text(&tip, v->type, strlen(v->type), 0);
		appendStringInfoString(&tip, "\nduration: ");
		pp_svg_ms(&tip, tn[i].duration_ms);
		if (root_ms > 0)
			appendStringInfo(&tip, " (%.1f%% of the profile)",
							 100 * tn[i].duration_ms / root_ms);
		appendStringInfoString(&tip, "\nself: ");
		pp_svg_ms(&tip, tn[i].self_ms);
		appendStringInfoString(&tip, "\nstarts at: +");
		pp_svg_ms(&tip, v->offset_ms);
		if (!v->timed && i > 0)
			appendStringInfoString(&tip, " (no start_time: placed after its previous sibling)");
		if (v->clipped)
			appendStringInfoString(&tip, " (drawn clipped to its parent)");
		appendStringInfoString(&tip, "\nerror: ");
		if (tn[i].failed)
			pp_svg_text(&tip, tn[i].error, tn[i].error_len, TOOLTIP_ERROR_CHARS);
		else
			appendStringInfoString(&tip, "none");

		f.id = i;
		f.parent = tn[i].parent;
		f.x = PP_SVG_MARGIN + v->start_ms * px_per_ms;
		f.y = GRAPH_TOP + v->row * PP_SVG_FRAME_HEIGHT;
		f.width = (v->end_ms - v->start_ms) * px_per_ms;
		f.ms = tn[i].duration_ms;
		f.scale = (v->clipped && tn[i].duration_ms > 0) ?
			(v->end_ms - v->start_ms) / tn[i].duration_ms : 1;
		f.fill = pp_svg_type_colour(v->type);
		f.failed = tn[i].failed;
		f.name = tn[i].name;
		f.name_len = tn[i].name_len;
		f.suffix = NULL;
		f.tooltip = tip.data;
		pp_svg_frame(&out, &f);
	}
	type_legend(&out, legend_y, legend, n_legend);
	pp_svg_end(&out);
	PG_RETURN_TEXT_P(cstring_to_text_with_len(out.data, out.len));
}

/*
 * Merged graphs: one frame per call path.
 */
typedef struct PathFrame
{
	char	  **names;			/* the path, root first */
	int			depth;			/* number of names */
	int			level;			/* drawn row: its parent's plus one */
	int32		parent;			/* -1: drawn as a root */
	char	   *type;
	int64		calls[2];		/* [0]: the window, or before; [1]: after */
	int64		errors[2];
	double		total_ms[2];
	double		self_ms;		/* window only */
	double		avg_ms;			/* window only */
	double		value;			/* the width measure */
	double		scale;			/* drawn at value * scale */
	double		x;				/* drawn start, in value units */
} PathFrame;

typedef struct PathGraph
{
	PathFrame  *frames;
	int32		n;
	int			n_levels;
	int64		profiles[2];	/* calls of the roots: profiles per window */
	double		span;			/* the roots' values, added */
	int64		hidden;			/* rows not drawn: the fold row, and paths
								 * whose parent is not among the rows */
	double		hidden_ms[2];	/* their total time per window */
} PathGraph;

/* Is a's path a proper prefix of the path names[0 .. n-1]? */
static bool
path_prefix_names(const PathFrame *a, const Datum *names, const bool *nulls, int n)
{
	int			i;

	if (a->depth >= n)
		return false;
	for (i = 0; i < a->depth; i++)
	{
		text	   *t;

		if (nulls[i])
			return false;
		t = DatumGetTextPP(names[i]);
		if (strlen(a->names[i]) != VARSIZE_ANY_EXHDR(t) ||
			memcmp(a->names[i], VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t)) != 0)
			return false;
	}
	return true;
}

static int64
int8_or_zero(HeapTuple tup, TupleDesc desc, int col)
{
	bool		isnull;
	Datum		d = SPI_getbinval(tup, desc, col, &isnull);

	return isnull ? 0 : DatumGetInt64(d);
}

static double
float8_or_zero(HeapTuple tup, TupleDesc desc, int col)
{
	bool		isnull;
	Datum		d = SPI_getbinval(tup, desc, col, &isnull);

	return isnull ? 0 : DatumGetFloat8(d);
}

/*
 * Run query (as the caller, search_path pinned) and build the graph from
 * its rows: path_array, operation_type, then for each of n_windows
 * windows calls, errors, total_ms; for one window also self_ms, avg_ms.
 * Rows come ordered by path_array, so a path's parent, when the function
 * returned it, is on the stack of the paths above it.
 */
static void
path_graph_load(PathGraph *g, const char *query, int nargs, Oid *argtypes,
				Datum *args, int n_windows)
{
	MemoryContext outer = CurrentMemoryContext;
	PPSavedUser saved;
	int32	   *stack;
	int32		sp = 0;
	uint64		r;

	memset(g, 0, sizeof(*g));
	pp_spi_connect_as(InvalidOid, &saved);
	if (SPI_execute_with_args(query, nargs, argtypes, args, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "ppprof: could not read the path statistics");

	MemoryContextSwitchTo(outer);
	g->frames = palloc0(sizeof(PathFrame) * Max(SPI_processed, 1));
	stack = palloc(sizeof(int32) * Max(SPI_processed, 1));
	for (r = 0; r < SPI_processed; r++)
	{
		HeapTuple	tup = SPI_tuptable->vals[r];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		PathFrame  *f = &g->frames[g->n];
		bool		isnull;
		Datum		d = SPI_getbinval(tup, desc, 1, &isnull);
		Datum	   *elems;
		bool	   *enulls;
		int			ne,
					i,
					w;

		CHECK_FOR_INTERRUPTS();
		if (isnull)
			continue;
		deconstruct_array(DatumGetArrayTypeP(d), TEXTOID, -1, false, TYPALIGN_INT,
						  &elems, &enulls, &ne);
		while (sp > 0 && ne > 0 && !path_prefix_names(&g->frames[stack[sp - 1]], elems, enulls, ne))
			sp--;
		if (ne == 0 || (ne > 1 && sp == 0))
		{
			/*
			 * The fold row of the paths beyond ppprof.max_window_paths has no
			 * path, and a path whose parent was folded has nowhere to go:
			 * neither is drawn, and the subtitle says how much time they hold.
			 */
			g->hidden++;
			for (w = 0; w < n_windows; w++)
				g->hidden_ms[w] += float8_or_zero(tup, desc, 5 + 3 * w);
			continue;
		}
		f->names = palloc(sizeof(char *) * ne);
		for (i = 0; i < ne; i++)
			f->names[i] = enulls[i] ? pstrdup("(null)") : TextDatumGetCString(elems[i]);
		f->depth = ne;
		d = SPI_getbinval(tup, desc, 2, &isnull);
		f->type = isnull ? pstrdup("other") : TextDatumGetCString(d);
		for (w = 0; w < n_windows; w++)
		{
			f->calls[w] = int8_or_zero(tup, desc, 3 + 3 * w);
			f->errors[w] = int8_or_zero(tup, desc, 4 + 3 * w);
			f->total_ms[w] = float8_or_zero(tup, desc, 5 + 3 * w);
			if (ne == 1)
				g->profiles[w] += f->calls[w];
		}
		if (n_windows == 1)
		{
			f->self_ms = float8_or_zero(tup, desc, 6);
			f->avg_ms = float8_or_zero(tup, desc, 7);
		}

		f->parent = sp > 0 ? stack[sp - 1] : -1;
		f->level = f->parent >= 0 ? g->frames[f->parent].level + 1 : 0;
		g->n_levels = Max(g->n_levels, f->level + 1);
		stack[sp++] = g->n++;
	}
	pp_spi_finish_as(&saved);
}

/*
 * Place the frames: roots side by side, children from their parent's left
 * edge, each as wide as its value times its scale; children that add up
 * to more than their parent are scaled down together.
 */
static void
path_graph_layout(PathGraph *g)
{
	double	   *child_sum = palloc0(sizeof(double) * Max(g->n, 1));
	double	   *cursor = palloc0(sizeof(double) * Max(g->n, 1));
	int32		i;

	for (i = 0; i < g->n; i++)
		if (g->frames[i].parent >= 0)
			child_sum[g->frames[i].parent] += g->frames[i].value;
	g->span = 0;
	for (i = 0; i < g->n; i++)
	{
		PathFrame  *f = &g->frames[i];

		if (f->parent < 0)
		{
			f->scale = 1;
			f->x = g->span;
			g->span += f->value;
		}
		else
		{
			PathFrame  *p = &g->frames[f->parent];
			double		fit = child_sum[f->parent] > p->value ?
				p->value / child_sum[f->parent] : 1;

			f->scale = p->scale * fit;
			f->x = cursor[f->parent];
		}
		if (f->parent >= 0)
			cursor[f->parent] += f->value * f->scale;
		cursor[i] = f->x;
	}
}

/*
 * The subtitle's note on the rows not drawn (path_graph_load), with the
 * time they hold in window w.
 */
static void
hidden_note(StringInfo sub, const PathGraph *g, int w)
{
	if (g->hidden == 0)
		return;
	appendStringInfo(sub, "; not drawn: %lld row%s of paths beyond ppprof.max_window_paths (",
					 (long long) g->hidden, g->hidden == 1 ? "" : "s");
	pp_svg_ms(sub, g->hidden_ms[w]);
	appendStringInfoChar(sub, ')');
}

/* The path as "a > b > c", escaped. */
static void
path_text(StringInfo out, const PathFrame *f)
{
	int			i;

	for (i = 0; i < f->depth; i++)
	{
		if (i > 0)
			appendStringInfoString(out, " &gt; ");
		pp_svg_text(out, f->names[i], strlen(f->names[i]), 0);
	}
}

/*
 * Where path frame i of a merged graph is drawn, px pixels per unit of
 * value; the caller sets its fill, failed, suffix and tooltip.
 */
static void
path_frame_place(PPSvgFrame *sf, const PathFrame *f, int32 i, double px)
{
	sf->id = i;
	sf->parent = f->parent;
	sf->x = PP_SVG_MARGIN + f->x * px;
	sf->y = GRAPH_TOP + f->level * PP_SVG_FRAME_HEIGHT;
	sf->width = f->value * f->scale * px;
	sf->ms = f->value;
	sf->scale = f->scale;
	sf->name = f->names[f->depth - 1];
	sf->name_len = strlen(sf->name);
}

/* The tooltip's note on a frame drawn scaled down, when it is. */
static void
scale_note(StringInfo tip, const PathFrame *f)
{
	if (f->scale < 1)
		appendStringInfo(tip,
						 "\ndrawn at %.0f%% of its time: it ran in parallel with its siblings",
						 100 * f->scale);
}

static char *
datum_text(Datum d, Oid type)
{
	Oid			out;
	bool		varlena;

	getTypeOutputInfo(type, &out, &varlena);
	return OidOutputFunctionCall(out, d);
}

/* The message drawn in place of frames when there are none. */
static void
empty_note(StringInfo out, const char *what)
{
	appendStringInfo(out,
					 "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" fill=\"#777777\">%s</text>\n",
					 PP_SVG_WIDTH / 2, GRAPH_TOP + 12, what);
}

/*
 * pp_flamegraph("window" interval) RETURNS text: the profiles of the
 * window merged by call path.
 */
Datum
pp_flamegraph_window(PG_FUNCTION_ARGS)
{
	Datum		window = PG_GETARG_DATUM(0);
	PPConfig   *cfg = pp_config_get();
	PathGraph	g;
	StringInfoData q,
				out,
				title,
				sub,
				tip;
	Oid			argtypes[1] = {INTERVALOID};
	const char **types;
	const char **legend;
	int			n_legend,
				legend_y,
				height;
	double		px;
	TimestampTz now,
				from;
	int32		i;

	initStringInfo(&q);
	appendStringInfo(&q,
					 "SELECT path_array, operation_type, calls, errors, total_ms, self_ms, avg_ms"
					 " FROM %s.pp_path_stats($1) ORDER BY path_array",
					 quote_identifier(get_namespace_name(cfg->schema)));
	path_graph_load(&g, q.data, 1, argtypes, &window, 1);
	for (i = 0; i < g.n; i++)
		g.frames[i].value = g.frames[i].total_ms[0];
	path_graph_layout(&g);
	px = g.span > 0 ? (PP_SVG_WIDTH - 2 * PP_SVG_MARGIN) / g.span : 0;

	types = palloc(sizeof(char *) * Max(g.n, 1));
	for (i = 0; i < g.n; i++)
		types[i] = g.frames[i].type;
	n_legend = distinct_types(types, g.n, &legend);
	legend_y = GRAPH_TOP + Max(g.n_levels, 1) * PP_SVG_FRAME_HEIGHT + 12;
	height = legend_y + pp_svg_legend_height(legend, n_legend) + 6;

	now = GetCurrentTransactionStartTimestamp();
	from = DatumGetTimestampTz(DirectFunctionCall2(timestamptz_mi_interval,
												   TimestampTzGetDatum(now), window));
	initStringInfo(&title);
	appendStringInfo(&title, "Where the time goes: %lld profile%s",
					 (long long) g.profiles[0], g.profiles[0] == 1 ? "" : "s");
	initStringInfo(&sub);
	/* timestamptz_to_str returns a static buffer */
	appendStringInfo(&sub, "created from %s", timestamptz_to_str(from));
	appendStringInfo(&sub, " to %s, merged by call path; width: total time of the path",
					 timestamptz_to_str(now));
	hidden_note(&sub, &g, 0);

	initStringInfo(&out);
	pp_svg_begin(&out, height, title.data, sub.data);
	if (g.span <= 0)
		empty_note(&out, "No profile in the window.");

	initStringInfo(&tip);
	for (i = 0; i < g.n && g.span > 0; i++)
	{
		PathFrame  *f = &g.frames[i];
		PPSvgFrame	sf;

		CHECK_FOR_INTERRUPTS();
		resetStringInfo(&tip);
		path_text(&tip, f);
		appendStringInfoString(&tip, "\ntype: ");
		pp_svg_text(&tip, f->type, strlen(f->type), 0);
		appendStringInfo(&tip, "\ncalls: %lld, errors: %lld\ntotal: ",
						 (long long) f->calls[0], (long long) f->errors[0]);
		pp_svg_ms(&tip, f->total_ms[0]);
		appendStringInfo(&tip, " (%.1f%% of all)\nself: ", 100 * f->total_ms[0] / g.span);
		pp_svg_ms(&tip, f->self_ms);
		appendStringInfoString(&tip, ", average: ");
		pp_svg_ms(&tip, f->avg_ms);
		appendStringInfoString(&tip, " per call");
		scale_note(&tip, f);

		path_frame_place(&sf, f, i, px);
		sf.fill = pp_svg_type_colour(f->type);
		sf.failed = f->errors[0] > 0;
		sf.suffix = NULL;
		sf.tooltip = tip.data;
		pp_svg_frame(&out, &sf);
	}
	type_legend(&out, legend_y, legend, n_legend);
	pp_svg_end(&out);
	PG_RETURN_TEXT_P(cstring_to_text_with_len(out.data, out.len));
}

/* Light grey (unchanged) to a full colour (r, g, b) by t in [0, 1]. */
static char *
mix_colour(int r, int g, int b, double t)
{
	char	   *buf = palloc(8);

	t = Max(0, Min(1, t));
	snprintf(buf, 8, "#%02x%02x%02x",
			 (int) lround(UNCHANGED_GREY - (UNCHANGED_GREY - r) * t),
			 (int) lround(UNCHANGED_GREY - (UNCHANGED_GREY - g) * t),
			 (int) lround(UNCHANGED_GREY - (UNCHANGED_GREY - b) * t));
	return buf;
}

/*
 * pp_flamegraph_diff(before tstzrange, after tstzrange) RETURNS text: the
 * call paths of two ranges, by the change of their average time per
 * profile.
 */
Datum
pp_flamegraph_diff(PG_FUNCTION_ARGS)
{
	PPConfig   *cfg = pp_config_get();
	Oid			rangetype = get_fn_expr_argtype(fcinfo->flinfo, 0);
	Datum		args[2] = {PG_GETARG_DATUM(0), PG_GETARG_DATUM(1)};
	Oid			argtypes[2];
	const char *schema = quote_identifier(get_namespace_name(cfg->schema));
	PathGraph	g;
	StringInfoData q,
				out,
				title,
				sub,
				tip,
				label;
	const char *legend[3] = {"faster", "unchanged", "slower"};
	const char *colours[3];
	int			legend_y,
				height;
	double		px;
	int32		i;

	if (!OidIsValid(rangetype))
		rangetype = TSTZRANGEOID;
	argtypes[0] = argtypes[1] = rangetype;
	initStringInfo(&q);
	appendStringInfo(&q,
					 "SELECT COALESCE(a.path_array, b.path_array),"
					 " COALESCE(a.operation_type, b.operation_type),"
					 " b.calls, b.errors, b.total_ms, a.calls, a.errors, a.total_ms"
					 " FROM %s.pp_range_path_stats($1) b"
					 " FULL JOIN %s.pp_range_path_stats($2) a"
					 " ON a.path_array OPERATOR(pg_catalog.=) b.path_array"
					 " ORDER BY 1",
					 schema, schema);
	path_graph_load(&g, q.data, 2, argtypes, args, 2);
	for (i = 0; i < g.n; i++)
	{
		PathFrame  *f = &g.frames[i];
		double		before = g.profiles[0] > 0 ? f->total_ms[0] / g.profiles[0] : 0;
		double		after = g.profiles[1] > 0 ? f->total_ms[1] / g.profiles[1] : 0;

		f->avg_ms = before;		/* per profile, before */
		f->self_ms = after;		/* per profile, after */
		f->value = Max(before, after);
	}
	path_graph_layout(&g);
	px = g.span > 0 ? (PP_SVG_WIDTH - 2 * PP_SVG_MARGIN) / g.span : 0;
	colours[0] = mix_colour(69, 117, 180, 1);
	colours[1] = mix_colour(0, 0, 0, 0);
	colours[2] = mix_colour(215, 48, 39, 1);
	legend_y = GRAPH_TOP + Max(g.n_levels, 1) * PP_SVG_FRAME_HEIGHT + 12;
	height = legend_y + pp_svg_legend_height(legend, 3) + 22;

	initStringInfo(&title);
	appendStringInfo(&title, "Differential flame graph: %lld profile%s after against %lld before",
					 (long long) g.profiles[1], g.profiles[1] == 1 ? "" : "s",
					 (long long) g.profiles[0]);
	initStringInfo(&sub);
	appendStringInfo(&sub,
					 "before %s, after %s",
					 datum_text(args[0], rangetype), datum_text(args[1], rangetype));
	hidden_note(&sub, &g, 1);

	initStringInfo(&out);
	pp_svg_begin(&out, height, title.data, sub.data);
	if (g.span <= 0)
		empty_note(&out, "No profile in either range.");

	initStringInfo(&tip);
	initStringInfo(&label);
	for (i = 0; i < g.n && g.span > 0; i++)
	{
		PathFrame  *f = &g.frames[i];
		double		before = f->avg_ms,
					after = f->self_ms,
					change = after - before;
		PPSvgFrame	sf;

		CHECK_FOR_INTERRUPTS();
		resetStringInfo(&label);
		if (f->calls[0] == 0)
			appendStringInfoString(&label, "new");
		else if (f->calls[1] == 0)
			appendStringInfoString(&label, "gone");
		else if (before > 0)
			appendStringInfo(&label, "%+.0f%%", 100 * change / before);
		else
			appendStringInfo(&label, "%+.3f ms", change);

		resetStringInfo(&tip);
		path_text(&tip, f);
		appendStringInfoString(&tip, "\ntype: ");
		pp_svg_text(&tip, f->type, strlen(f->type), 0);
		appendStringInfoString(&tip, "\nbefore: ");
		pp_svg_ms(&tip, before);
		appendStringInfo(&tip, " per profile (%lld calls, %lld errors)\nafter: ",
						 (long long) f->calls[0], (long long) f->errors[0]);
		pp_svg_ms(&tip, after);
		appendStringInfo(&tip, " per profile (%lld calls, %lld errors)\nchange: %s",
						 (long long) f->calls[1], (long long) f->errors[1],
						 change >= 0 ? "+" : "");
		pp_svg_ms(&tip, change);
		appendStringInfo(&tip, " per profile (%s)", label.data);
		scale_note(&tip, f);

		path_frame_place(&sf, f, i, px);
		if (change > 0)
			sf.fill = mix_colour(215, 48, 39, before > 0 ? sqrt(change / before) : 1);
		else if (change < 0)
			sf.fill = mix_colour(69, 117, 180, before > 0 ? sqrt(-change / before) : 1);
		else
			sf.fill = mix_colour(0, 0, 0, 0);
		sf.failed = false;
		sf.suffix = label.data;
		sf.tooltip = tip.data;
		pp_svg_frame(&out, &sf);
	}
	pp_svg_legend(&out, legend_y, legend, colours, 3);
	appendStringInfo(&out,
					 "<text x=\"%d\" y=\"%d\" fill=\"#555555\">Colour: change of the average time"
					 " per profile (full at +-100%%, new or gone). Width: the larger of the two averages.</text>\n",
					 PP_SVG_MARGIN, legend_y + pp_svg_legend_height(legend, 3) + 10);
	pp_svg_end(&out);
	PG_RETURN_TEXT_P(cstring_to_text_with_len(out.data, out.len));
}
