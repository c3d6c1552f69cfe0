/*-------------------------------------------------------------------------
 *
 * client/report.c
 *	  ppprof report: pp_optimization_report as text for people, as JSON,
 *	  or as one self-contained HTML file.
 *
 * The report is read in the order a person asks its questions: what
 * changed (against the previous window, or a baseline), where the time
 * goes (each operation's share of the self time, so that a wrapper does
 * not count twice), the bottlenecks, the suggestions.  The keys that came
 * with ppprof 1.3's readable report ("compared_with", "changes",
 * "time_share", a bottleneck's "reason" and "via", a suggestion's
 * "measure") are rendered when the server sends them; an older server's
 * report has none, and the text says so in place of "what changed", takes
 * the share of time from pp_operation_stats, and leaves the other columns
 * out.
 *
 * Numbers are rounded for reading (cli_round): 1891 ms, 12.3 ms, 75.4%.
 * Names are never cut: each column is as wide as its longest name.
 *
 * The HTML file needs nothing but itself: the styles are inline, the flame
 * graph (pp_flamegraph(window), when the server has it) and the p95 charts
 * are inline SVG, there is no script, and a Content-Security-Policy of
 * default-src 'none' forbids any request, so that it opens offline and
 * cannot reach anything when it is mailed around.  Everything from the
 * server is escaped for HTML (and its control characters as in the text).
 *
 *-------------------------------------------------------------------------
 */
#define _GNU_SOURCE
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"

#define SHARE_BAR_WIDTH 30
#define TREND_OPERATIONS 5		/* p95 charts: the top operations by time */

void
cli_report_usage(FILE *f)
{
	fprintf(f,
			"Usage: ppprof [--dsn DSN] report [--window 24h] [--baseline NAME]\n"
			"       [--format text|json|html]\n\n"
			"Prints pp_optimization_report(window): what changed against the previous\n"
			"window (or the baseline NAME), where the time goes, the bottlenecks and the\n"
			"suggestions, for people (text, the default); the report itself, pretty-printed\n"
			"with its numbers rounded (json); or one self-contained HTML file with a flame\n"
			"graph, the p95 per hour of the top operations and the suggestions (html:\n"
			"ppprof report --format html > report.html).  The window is a number with s, m,\n"
			"h, d or w, or any PostgreSQL interval.\n");
}

/* ---- reading the report ---- */

static const char *
str(json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

static double
num(json_t *o, const char *key)
{
	return json_number_value(json_object_get(o, key));
}

static bool
has_num(json_t *o, const char *key)
{
	return json_is_number(json_object_get(o, key));
}

/* The widest escaped value of key over the objects of array a, at least min. */
static int
column_width(json_t *a, const char *key, int min)
{
	size_t		i;
	json_t	   *o;
	int			w = min;

	json_array_foreach(a, i, o)
	{
		int			x = (int) cli_text_width(str(o, key));

		if (x > w)
			w = x;
	}
	return w;
}

/*
 * The share of time, from pp_operation_stats, for a server whose report
 * has no "time_share": the same objects (a new reference), or NULL.
 */
static json_t *
time_share_from_stats(PGconn *conn, const char *interval)
{
	char	   *sql = cli_sql("SELECT operation, operation_type, calls, self_total_ms,"
							  "       avg_ms, p95_ms"
							  "  FROM %s.pp_operation_stats($1::pg_catalog.interval)"
							  " ORDER BY self_total_ms DESC, operation",
							  cli_ext.schema);
	const char *params[1] = {interval};
	PGresult   *res = cli_query(conn, sql, 1, params);
	json_t	   *a;
	double		total = 0;
	int			i;

	free(sql);
	if (res == NULL)
		return NULL;
	for (i = 0; i < PQntuples(res); i++)
		total += atof(PQgetvalue(res, i, 3));
	a = json_array();
	for (i = 0; i < PQntuples(res); i++)
	{
		double		self = atof(PQgetvalue(res, i, 3));

		json_array_append_new(a, json_pack("{s:s, s:s, s:I, s:f, s:f, s:f, s:f}",
										   "operation", PQgetvalue(res, i, 0),
										   "operation_type", PQgetvalue(res, i, 1),
										   "calls", (json_int_t) atoll(PQgetvalue(res, i, 2)),
										   "self_ms", self,
										   "share", total > 0 ? self / total : 0.0,
										   "avg_ms", atof(PQgetvalue(res, i, 4)),
										   "p95_ms", atof(PQgetvalue(res, i, 5))));
	}
	PQclear(res);
	return a;
}

/* How a change's values read, by its measure. */
typedef enum
{
	MEASURE_MS,					/* p95_ms: ms, change an after/before ratio */
	MEASURE_RATE,				/* error_rate, time_share: %, change in points */
	MEASURE_OTHER
} measure_kind;

static measure_kind
measure_of(const char *m, const char **label)
{
	if (m && strcmp(m, "p95_ms") == 0)
	{
		*label = "p95";
		return MEASURE_MS;
	}
	if (m && strcmp(m, "error_rate") == 0)
	{
		*label = "error rate";
		return MEASURE_RATE;
	}
	if (m && strcmp(m, "time_share") == 0)
	{
		*label = "share of time";
		return MEASURE_RATE;
	}
	*label = m ? m : "?";
	return MEASURE_OTHER;
}

/* Over what a change was seen: the window, or its last hour. */
static const char *
scope_text(json_t *c)
{
	const char *scope = str(c, "scope");

	if (scope == NULL || strcmp(scope, "window") == 0)
		return "window";
	if (strcmp(scope, "last_hour") == 0)
		return "last hour";
	return cli_esc(scope);
}

/* A change's before, after and change columns, as text (static buffers). */
static void
change_cells(json_t *c, const char **before, const char **after, const char **change)
{
	static char b[64],
				a[64],
				ch[64];
	const char *label;
	measure_kind k = measure_of(str(c, "measure"), &label);

	switch (k)
	{
		case MEASURE_MS:
			snprintf(b, sizeof(b), "%s ms", cli_num(num(c, "before")));
			snprintf(a, sizeof(a), "%s ms", cli_num(num(c, "after")));
			snprintf(ch, sizeof(ch), "\u00d7%s", cli_num(num(c, "change")));
			break;
		case MEASURE_RATE:
			snprintf(b, sizeof(b), "%s", cli_pct(num(c, "before")));
			snprintf(a, sizeof(a), "%s", cli_pct(num(c, "after")));
			snprintf(ch, sizeof(ch), "%s%s pts", num(c, "change") >= 0 ? "+" : "",
					 cli_num(100 * num(c, "change")));
			break;
		case MEASURE_OTHER:
			snprintf(b, sizeof(b), "%s", cli_num(num(c, "before")));
			snprintf(a, sizeof(a), "%s", cli_num(num(c, "after")));
			snprintf(ch, sizeof(ch), "%s", cli_num(num(c, "change")));
			break;
	}
	*before = b;
	*after = a;
	*change = ch;
}

/*
 * What compared_with says: "the window against the previous one (start to
 * end); the last hour (from t) against the rest of the window".
 */
static char *
compared_with_text(json_t *cw)
{
	char	   *out;
	const char *kind = str(cw, "kind");
	int			n;

	const char *hour = str(cw, "last_hour_start");

	if (kind && strcmp(kind, "baseline") == 0)
		n = asprintf(&out, "the window against baseline \"%s\" (%s to %s)%s%s%s",
					 cli_esc(str(cw, "name")),
					 cli_timestamp(str(cw, "start")), cli_timestamp(str(cw, "end")),
					 hour ? "; the last hour (from " : "", hour ? cli_timestamp(hour) : "",
					 hour ? ") against the rest of the window" : "");
	else
		n = asprintf(&out, "the window against the previous one (%s to %s)%s%s%s",
					 cli_timestamp(str(cw, "start")), cli_timestamp(str(cw, "end")),
					 hour ? "; the last hour (from " : "", hour ? cli_timestamp(hour) : "",
					 hour ? ") against the rest of the window" : "");
	return cli_checked(n < 0 ? NULL : out);
}

/* "time_to_first_token" -> "time to first token" (static buffer). */
static const char *
measure_words(const char *m)
{
	static char buf[128];
	size_t		i;

	snprintf(buf, sizeof(buf), "%s", cli_esc(m));
	for (i = 0; buf[i]; i++)
		if (buf[i] == '_')
			buf[i] = ' ';
	return buf;
}

/* The expected gain of a suggestion, in words (malloc'd). */
static char *
gain_text(json_t *s)
{
	json_t	   *e = json_object_get(s, "expected_improvement");
	const char *measure = str(s, "measure");
	bool		duration = measure == NULL || strcmp(measure, "duration") == 0;
	char	   *buf = NULL;
	size_t		len = 0;
	FILE	   *f = open_memstream(&buf, &len);
	const char *key;
	json_t	   *v;
	const char *sep = "";

	cli_checked(f);
	json_object_foreach(e, key, v)
	{
		if (!json_is_number(v))
			continue;
		if (strcmp(key, "ms_per_profile") == 0 || strcmp(key, "pct_of_avg_profile") == 0)
		{
			/* a duration saved: none when the suggestion improves another measure */
			if (!duration)
				continue;
			if (key[0] == 'm')
				fprintf(f, "%s%s ms per profile", sep, cli_num(json_number_value(v)));
			else
				fprintf(f, "%s%s%% of an average profile", sep, cli_num(json_number_value(v)));
		}
		else if (strcmp(key, "operation_reduction_pct") == 0)
			fprintf(f, "%s%s%% off the operation's %s", sep, cli_num(json_number_value(v)),
					duration ? "time" : measure_words(measure));
		else
			fprintf(f, "%s%s %s", sep, cli_esc(key), cli_num(json_number_value(v)));
		sep = ", ";
	}
	fclose(f);
	return cli_checked(buf);
}

/* ---- text ---- */

static void
text_summary(json_t *r)
{
	json_t	   *s = json_object_get(r, "summary");
	const char *key;
	json_t	   *v;
	static const char *const known[] = {"total_profiled_queries", "p50_ms", "p95_ms", "p99_ms",
		"avg_query_duration_ms", "error_rate", "operations", "source", "window", "window_start",
		"generated_at", "input_tokens", "output_tokens", "total_cost_usd", "cost_per_profile_usd",
	NULL};

	printf("ppprof report: %s to %s (window %s)\n",
		   cli_timestamp(str(s, "window_start")), cli_timestamp(str(s, "generated_at")),
		   cli_esc(str(s, "window") ? str(s, "window") : "?"));
	printf("  %s profiles", cli_num(num(s, "total_profiled_queries")));
	if (has_num(s, "avg_query_duration_ms"))
		printf("; avg %s ms, p50 %s ms, p95 %s ms, p99 %s ms",
			   cli_num(num(s, "avg_query_duration_ms")), cli_num(num(s, "p50_ms")),
			   cli_num(num(s, "p95_ms")), cli_num(num(s, "p99_ms")));
	if (has_num(s, "error_rate"))
		printf("; %s failed", cli_pct(num(s, "error_rate")));
	if (has_num(s, "operations"))
		printf("; %s operations", cli_num(num(s, "operations")));
	if (str(s, "source"))
		printf(" (statistics from %s)", cli_esc(str(s, "source")));
	printf("\n");
	/* model calls: only when the profiles report any (docs/cost.md) */
	if (num(s, "input_tokens") > 0 || num(s, "output_tokens") > 0 ||
		num(s, "total_cost_usd") > 0)
		printf("  %s input and %s output tokens; cost %s USD, %s USD per profile\n",
			   cli_num(num(s, "input_tokens")), cli_num(num(s, "output_tokens")),
			   cli_num(num(s, "total_cost_usd")), cli_num(num(s, "cost_per_profile_usd")));
	json_object_foreach(s, key, v)
	{
		const char *const *k;
		char	   *t;

		for (k = known; *k && strcmp(*k, key) != 0; k++)
			;
		if (*k)
			continue;
		if (json_is_number(v))
		{
			printf("  %s: %s\n", cli_esc(key), cli_num(json_number_value(v)));
			continue;
		}
		t = json_is_string(v) ? NULL : cli_json_text(v, JSON_COMPACT);
		printf("  %s: %s\n", cli_esc(key), t ? t : cli_esc(json_string_value(v)));
		free(t);
	}
}

static void
text_changes(json_t *r)
{
	json_t	   *changes = json_object_get(r, "changes");
	json_t	   *cw = json_object_get(r, "compared_with");
	json_t	   *c;
	size_t		i;
	int			opw,
				typew;

	if (json_is_object(cw))
	{
		char	   *t = compared_with_text(cw);

		printf("\nWhat changed: %s\n", t);
		free(t);
	}
	else
		printf("\nWhat changed\n");
	if (!json_is_array(changes))
	{
		printf("  (this server's report does not compare windows: it has no \"changes\")\n");
		return;
	}
	if (json_array_size(changes) == 0)
	{
		printf("  (no operation changed significantly)\n");
		return;
	}
	opw = column_width(changes, "operation", 9);
	typew = column_width(changes, "operation_type", 4);
	printf("  %-*s  %-*s  %-13s %-9s %10s %10s %10s  %17s  %s\n", opw, "operation", typew, "type",
		   "measure", "over", "before", "after", "change", "calls", "example profile");
	json_array_foreach(changes, i, c)
	{
		const char *label;
		const char *b,
				   *a,
				   *ch;
		char		calls[48];
		json_t	   *ex = json_object_get(c, "example_profile_ids");

		measure_of(str(c, "measure"), &label);
		change_cells(c, &b, &a, &ch);
		snprintf(calls, sizeof(calls), "%s -> %s", cli_num(num(c, "calls_before")),
				 cli_num(num(c, "calls_after")));
		printf("  ");
		cli_print_cell(str(c, "operation"), opw, true);
		printf("  ");
		cli_print_cell(str(c, "operation_type"), typew, true);
		printf("  %-13s %-9s %10s %10s %*s  %17s  %s\n", label, scope_text(c), b, a,
			   10 + (strncmp(ch, "\u00d7", 2) == 0), ch, calls,
			   json_array_size(ex) ? cli_esc(json_string_value(json_array_get(ex, 0))) : "");
	}
}

static void
text_time_share(json_t *share, bool from_stats)
{
	json_t	   *t;
	size_t		i;
	int			opw = column_width(share, "operation", 9);
	int			typew = column_width(share, "operation_type", 4);

	printf("\nWhere the time goes (each operation's own time, without its children's)%s\n",
		   from_stats ? "\n  (from pp_operation_stats: this server's report has no \"time_share\")" : "");
	if (json_array_size(share) == 0)
	{
		printf("  (no operation in the window)\n");
		return;
	}
	printf("  %-*s  %-*s  %-*s %7s  %10s %9s %9s %9s\n", opw, "operation", typew, "type",
		   SHARE_BAR_WIDTH, "share of time", "", "self time", "calls", "avg ms", "p95 ms");
	json_array_foreach(share, i, t)
	{
		printf("  ");
		cli_print_cell(str(t, "operation"), opw, true);
		printf("  ");
		cli_print_cell(str(t, "operation_type"), typew, true);
		printf("  ");
		cli_print_bar(num(t, "share"), SHARE_BAR_WIDTH);
		printf(" %7s  %10s %9s %9s %9s\n", cli_pct(num(t, "share")),
			   cli_duration(num(t, "self_ms")), cli_num(num(t, "calls")),
			   cli_num(num(t, "avg_ms")), cli_num(num(t, "p95_ms")));
	}
}

/* The patterns of a bottleneck, comma separated (malloc'd). */
static char *
patterns_text(json_t *b)
{
	json_t	   *p;
	size_t		i;
	char	   *buf = NULL;
	size_t		len = 0;
	FILE	   *f = cli_checked(open_memstream(&buf, &len));

	json_array_foreach(json_object_get(b, "patterns"), i, p)
		fprintf(f, "%s%s", i ? ", " : "", cli_esc(json_string_value(p)));
	fclose(f);
	return cli_checked(buf);
}

/* Why a bottleneck is one: its own time, or through a child (static). */
static const char *
reason_text(json_t *b)
{
	static char buf[1024];
	const char *reason = str(b, "reason");

	if (reason == NULL)
		return "";
	if (strcmp(reason, "self_time") == 0)
		return "own time";
	if (strcmp(reason, "child") == 0)
	{
		snprintf(buf, sizeof(buf), "through %s", cli_esc(str(b, "via") ? str(b, "via") : "a child"));
		return buf;
	}
	return cli_esc(reason);
}

static void
text_bottlenecks(json_t *r)
{
	json_t	   *bs = json_object_get(r, "top_bottlenecks");
	json_t	   *b;
	size_t		i;
	int			opw = column_width(bs, "operation", 9);
	int			typew = column_width(bs, "operation_type", 4);
	int			whyw = 0;

	json_array_foreach(bs, i, b)
	{
		const char *why = reason_text(b);
		int			w = (int) strlen(why);	/* escaped already */

		if (w > whyw)
			whyw = w;
	}
	if (whyw > 0 && whyw < 3)
		whyw = 3;
	printf("\nBottlenecks\n");
	if (json_array_size(bs) == 0)
	{
		printf("  (none)\n");
		return;
	}
	printf("  %-*s  %-*s  ", opw, "operation", typew, "type");
	if (whyw)
		printf("%-*s  ", whyw, "why");
	printf("%6s  %-8s %9s %9s %9s  %s\n", "impact", "priority", "calls", "avg ms", "p95 ms", "patterns");
	json_array_foreach(bs, i, b)
	{
		char	   *p = patterns_text(b);

		printf("  ");
		cli_print_cell(str(b, "operation"), opw, true);
		printf("  ");
		cli_print_cell(str(b, "operation_type"), typew, true);
		printf("  ");
		if (whyw)
			printf("%-*s  ", whyw, reason_text(b));
		printf("%6s  ", cli_num(num(b, "impact_score")));
		cli_print_cell(str(b, "priority"), 8, true);
		printf(" %9s %9s %9s  %s\n", cli_num(num(b, "calls")), cli_num(num(b, "avg_ms")),
			   cli_num(num(b, "p95_ms")), p);
		free(p);
	}
}

static void
text_suggestions(json_t *r)
{
	json_t	   *ps = json_object_get(r, "optimization_priorities");
	json_t	   *s;
	size_t		i;

	printf("\nSuggestions, by priority\n");
	if (json_array_size(ps) == 0)
	{
		printf("  (none)\n");
		return;
	}
	json_array_foreach(ps, i, s)
	{
		char	   *gain = gain_text(s);

		printf("  %2zu. %s: %s\n", i + 1, cli_esc(str(s, "operation")), cli_esc(str(s, "suggestion")));
		printf("      ");
		if (str(s, "measure"))
			printf("improves %s; ", measure_words(str(s, "measure")));
		printf("effort %s", cli_esc(str(s, "effort_estimate") ? str(s, "effort_estimate") : "?"));
		if (gain[0])
			printf("; expected: %s", gain);
		printf("\n");
		free(gain);
	}
}

static void
print_text(json_t *r, json_t *share, bool share_from_stats)
{
	text_summary(r);
	text_changes(r);
	text_time_share(share, share_from_stats);
	text_bottlenecks(r);
	text_suggestions(r);
}

/* ---- JSON ---- */

/*
 * The report pretty-printed, its keys in the order of the text, numbers
 * rounded.
 */
static void
print_json(json_t *r)
{
	static const char *const order[] = {"compared_with", "changes", "time_share", "summary",
	"top_bottlenecks", "optimization_priorities", "patterns", NULL};
	json_t	   *rounded = cli_json_rounded(r);
	json_t	   *out = json_object();
	const char *const *k;
	const char *key;
	json_t	   *v;
	char	   *text;

	for (k = order; *k; k++)
		if (json_object_get(rounded, *k))
			json_object_set(out, *k, json_object_get(rounded, *k));
	json_object_foreach(rounded, key, v)
	{
		if (json_object_get(out, key) == NULL)
			json_object_set(out, key, v);
	}
	text = cli_json_text(out, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	printf("%s\n", text);
	free(text);
	json_decref(out);
	json_decref(rounded);
}

/* ---- HTML ---- */

/* s as HTML text: escaped as in the terminal, then &, <, >, " and '. */
static void
html(FILE *f, const char *s)
{
	char	   *e = cli_escape(s ? s : "", false, SIZE_MAX, NULL);
	const char *p;

	for (p = e; *p; p++)
	{
		switch (*p)
		{
			case '&':
				fputs("&amp;", f);
				break;
			case '<':
				fputs("&lt;", f);
				break;
			case '>':
				fputs("&gt;", f);
				break;
			case '"':
				fputs("&quot;", f);
				break;
			case '\'':
				fputs("&#39;", f);
				break;
			default:
				fputc(*p, f);
		}
	}
	free(e);
}

static const char html_style[] =
"body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:#1d2329;"
"background:#fff;margin:0 auto;max-width:1180px;padding:20px 28px 40px}"
"h1{font-size:22px;margin:0 0 2px}h2{font-size:17px;margin:26px 0 8px;border-bottom:1px solid #dde2e6;padding-bottom:3px}"
".pp-sub{color:#56616b;margin:0}.pp-note{color:#56616b;font-style:italic}"
"table.pp{border-collapse:collapse;width:100%}"
"table.pp th{text-align:left;font-weight:600;color:#3d4852;border-bottom:1px solid #c9d0d6;padding:4px 8px}"
"table.pp td{padding:3px 8px;border-bottom:1px solid #eef1f3;vertical-align:top}"
"table.pp td.n,table.pp th.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}"
"td.pp-name{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;word-break:break-all}"
".pp-bar{background:#eef1f3;height:14px;width:260px;border-radius:2px}"
".pp-bar div{background:#d9534f;height:14px;border-radius:2px}"
".pp-up{color:#b52b27;font-weight:600}.pp-down{color:#1f6fb2;font-weight:600}"
".pp-flame{overflow-x:auto;border:1px solid #dde2e6;padding:4px}"
".pp-flame svg{max-width:100%;height:auto}"
".pp-charts{display:flex;flex-wrap:wrap;gap:10px 24px}"
".pp-charts figure{margin:0}.pp-charts figcaption{font-size:13px;font-weight:600;"
"font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;word-break:break-all;max-width:540px}"
"ol.pp-sugg li{margin:0 0 8px}.pp-meta{color:#56616b;font-size:13px}"
"footer{margin-top:30px;color:#7a858f;font-size:12px}";

static void
html_summary(FILE *f, json_t *r)
{
	json_t	   *s = json_object_get(r, "summary");

	fprintf(f, "<header><h1>ppprof report</h1><p class=\"pp-sub\">");
	html(f, cli_timestamp(str(s, "window_start")));
	fprintf(f, " to ");
	html(f, cli_timestamp(str(s, "generated_at")));
	fprintf(f, " &middot; %s profiles", cli_num(num(s, "total_profiled_queries")));
	if (has_num(s, "p95_ms"))
		fprintf(f, " &middot; p50 %s ms, p95 %s ms, p99 %s ms", cli_num(num(s, "p50_ms")),
				cli_num(num(s, "p95_ms")), cli_num(num(s, "p99_ms")));
	if (has_num(s, "error_rate"))
		fprintf(f, " &middot; %s failed", cli_pct(num(s, "error_rate")));
	fprintf(f, "</p></header>\n");
}

static void
html_changes(FILE *f, json_t *r)
{
	json_t	   *changes = json_object_get(r, "changes");
	json_t	   *cw = json_object_get(r, "compared_with");
	json_t	   *c;
	size_t		i;

	fprintf(f, "<section><h2>What changed</h2>\n");
	if (json_is_object(cw))
	{
		char	   *t = compared_with_text(cw);

		fprintf(f, "<p class=\"pp-meta\">");
		html(f, t);
		fprintf(f, "</p>\n");
		free(t);
	}
	if (!json_is_array(changes))
		fprintf(f, "<p class=\"pp-note\">This server's report does not compare windows (it has no &quot;changes&quot;).</p>\n");
	else if (json_array_size(changes) == 0)
		fprintf(f, "<p class=\"pp-note\">No operation changed significantly.</p>\n");
	else
	{
		fprintf(f, "<table class=\"pp\"><tr><th>operation</th><th>type</th><th>measure</th><th>over</th>"
				"<th class=\"n\">before</th><th class=\"n\">after</th><th class=\"n\">change</th>"
				"<th class=\"n\">calls</th><th>example profile</th></tr>\n");
		json_array_foreach(changes, i, c)
		{
			const char *label;
			const char *b,
					   *a,
					   *ch;
			json_t	   *ex = json_object_get(c, "example_profile_ids");
			bool		worse = num(c, "after") > num(c, "before");

			measure_of(str(c, "measure"), &label);
			change_cells(c, &b, &a, &ch);
			fprintf(f, "<tr><td class=\"pp-name\">");
			html(f, str(c, "operation"));
			fprintf(f, "</td><td>");
			html(f, str(c, "operation_type"));
			fprintf(f, "</td><td>%s</td><td>", label);
			html(f, scope_text(c));
			fprintf(f, "</td><td class=\"n\">%s</td><td class=\"n\">%s</td>"
					"<td class=\"n %s\">%s</td><td class=\"n\">%s &rarr; %s</td><td class=\"pp-name\">",
					b, a, worse ? "pp-up" : "pp-down", ch,
					cli_num(num(c, "calls_before")), cli_num(num(c, "calls_after")));
			if (json_array_size(ex))
				html(f, json_string_value(json_array_get(ex, 0)));
			fprintf(f, "</td></tr>\n");
		}
		fprintf(f, "</table>\n");
	}
	fprintf(f, "</section>\n");
}

static void
html_time_share(FILE *f, json_t *share, bool from_stats)
{
	json_t	   *t;
	size_t		i;

	fprintf(f, "<section><h2>Where the time goes</h2>\n<p class=\"pp-meta\">Each operation's"
			" share of the time spent in its own code, without its children's%s.</p>\n",
			from_stats ? " (from pp_operation_stats: this server's report has no &quot;time_share&quot;)" : "");
	if (json_array_size(share) == 0)
	{
		fprintf(f, "<p class=\"pp-note\">No operation in the window.</p></section>\n");
		return;
	}
	fprintf(f, "<table class=\"pp\"><tr><th>operation</th><th>type</th><th>share of time</th>"
			"<th class=\"n\"></th><th class=\"n\">self time</th><th class=\"n\">calls</th>"
			"<th class=\"n\">avg ms</th><th class=\"n\">p95 ms</th></tr>\n");
	json_array_foreach(share, i, t)
	{
		double		s = num(t, "share");

		fprintf(f, "<tr><td class=\"pp-name\">");
		html(f, str(t, "operation"));
		fprintf(f, "</td><td>");
		html(f, str(t, "operation_type"));
		fprintf(f, "</td><td><div class=\"pp-bar\"><div style=\"width:%.2f%%\"></div></div></td>"
				"<td class=\"n\">%s</td><td class=\"n\">%s</td><td class=\"n\">%s</td>"
				"<td class=\"n\">%s</td><td class=\"n\">%s</td></tr>\n",
				100 * (s < 0 ? 0 : s > 1 ? 1 : s), cli_pct(s), cli_duration(num(t, "self_ms")),
				cli_num(num(t, "calls")), cli_num(num(t, "avg_ms")), cli_num(num(t, "p95_ms")));
	}
	fprintf(f, "</table></section>\n");
}

/*
 * The server's flame graph of the window, inline.  Its XML declaration and
 * doctype, which HTML does not take, are left out; an SVG holding a script
 * (which pp_flamegraph never writes) is not embedded.
 */
static void
html_flamegraph(FILE *f, PGconn *conn, const char *interval)
{
	char	   *sql;
	const char *params[1] = {interval};
	PGresult   *res;
	const char *svg;

	fprintf(f, "<section><h2>Flame graph of the window</h2>\n");
	if (!cli_has_function(conn, "pp_flamegraph"))
	{
		fprintf(f, "<p class=\"pp-note\">This server's ppprof has no pp_flamegraph.</p></section>\n");
		return;
	}
	sql = cli_sql("SELECT %s.pp_flamegraph($1::pg_catalog.interval)", cli_ext.schema);
	res = cli_query(conn, sql, 1, params);
	free(sql);
	if (res == NULL || PQntuples(res) != 1 || PQgetisnull(res, 0, 0))
	{
		fprintf(f, "<p class=\"pp-note\">pp_flamegraph gave no flame graph.</p></section>\n");
		PQclear(res);
		return;
	}
	svg = strstr(PQgetvalue(res, 0, 0), "<svg");
	if (svg == NULL || strcasestr(svg, "<script") != NULL)
		fprintf(f, "<p class=\"pp-note\">pp_flamegraph did not give an SVG this page can hold.</p>\n");
	else
		fprintf(f, "<p class=\"pp-meta\">Every profile of the window merged by call path; the"
				" width is the time. Hover a frame for its numbers.</p>\n<div class=\"pp-flame\">%s</div>\n",
				svg);
	fprintf(f, "</section>\n");
	PQclear(res);
}

/* One operation's p95 series: hours (epoch seconds) and values. */
typedef struct
{
	const char *operation;		/* NULL: the whole profiles */
	int			n;
	double	   *t;
	double	   *p95;
	double	   *calls;
} series;

/* A number a little above v that reads well as an axis's top: 1, 2, 2.5, 5 x 10^k. */
static double
nice_top(double v)
{
	double		m,
				e;

	if (!(v > 0))
		return 1;
	e = pow(10, floor(log10(v)));
	m = v / e;
	if (m <= 1)
		return e;
	if (m <= 2)
		return 2 * e;
	if (m <= 2.5)
		return 2.5 * e;
	if (m <= 5)
		return 5 * e;
	return 10 * e;
}

static void
html_time_label(FILE *f, double epoch)
{
	time_t		t = (time_t) epoch;
	struct tm	tm;
	char		buf[32];

	gmtime_r(&t, &tm);
	strftime(buf, sizeof(buf), "%m-%d %H:%M", &tm);
	fputs(buf, f);
}

/* A small line chart of a series (inline SVG, 540 x 130). */
static void
html_chart(FILE *f, series *s, double t0, double t1)
{
	const double W = 540,
				H = 130,
				L = 56,
				R = 10,
				T = 8,
				B = 22;
	double		top = 0;
	int			i;

	for (i = 0; i < s->n; i++)
		if (s->p95[i] > top)
			top = s->p95[i];
	top = nice_top(top);
	if (t1 <= t0)
		t1 = t0 + 3600;
	fprintf(f, "<figure><figcaption>");
	if (s->operation)
		html(f, s->operation);
	else
		fprintf(f, "whole profiles");
	fprintf(f, "</figcaption>\n<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\""
			" viewBox=\"0 0 %.0f %.0f\" role=\"img\" font-family=\"system-ui,sans-serif\" font-size=\"11\">\n",
			W, H, W, H);
	fprintf(f, "<rect x=\"%.0f\" y=\"%.0f\" width=\"%.0f\" height=\"%.0f\" fill=\"#fafbfc\" stroke=\"#dde2e6\"/>\n",
			L, T, W - L - R, H - T - B);
	fprintf(f, "<line x1=\"%.0f\" y1=\"%.1f\" x2=\"%.0f\" y2=\"%.1f\" stroke=\"#e3e7ea\"/>\n",
			L, T + (H - T - B) / 2, W - R, T + (H - T - B) / 2);
	fprintf(f, "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"end\" fill=\"#56616b\">%s ms</text>\n",
			L - 4, T + 9, cli_num(top));
	fprintf(f, "<text x=\"%.0f\" y=\"%.1f\" text-anchor=\"end\" fill=\"#56616b\">%s</text>\n",
			L - 4, T + (H - T - B) / 2 + 4, cli_num(top / 2));
	fprintf(f, "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"end\" fill=\"#56616b\">0</text>\n",
			L - 4, H - B);
	fprintf(f, "<text x=\"%.0f\" y=\"%.0f\" fill=\"#56616b\">", L, H - 6);
	html_time_label(f, t0);
	fprintf(f, "</text><text x=\"%.0f\" y=\"%.0f\" text-anchor=\"end\" fill=\"#56616b\">", W - R, H - 6);
	html_time_label(f, t1);
	fprintf(f, " UTC</text>\n<polyline fill=\"none\" stroke=\"#d9534f\" stroke-width=\"1.6\" points=\"");
	for (i = 0; i < s->n; i++)
		fprintf(f, "%s%.1f,%.1f", i ? " " : "",
				L + (s->t[i] - t0) / (t1 - t0) * (W - L - R),
				H - B - s->p95[i] / top * (H - T - B));
	fprintf(f, "\"/>\n");
	for (i = 0; i < s->n; i++)
	{
		fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.2\" fill=\"#d9534f\"><title>",
				L + (s->t[i] - t0) / (t1 - t0) * (W - L - R),
				H - B - s->p95[i] / top * (H - T - B));
		html_time_label(f, s->t[i]);
		fprintf(f, " UTC: p95 %s ms, %s calls</title></circle>\n", cli_num(s->p95[i]),
				cli_num(s->calls[i]));
	}
	fprintf(f, "</svg></figure>\n");
}

/* p95 per hour of the whole profiles and of the top operations (pp_trends). */
static void
html_trends(FILE *f, PGconn *conn, const char *interval, json_t *share)
{
	char	   *sql = cli_sql("SELECT operation, pg_catalog.date_part('epoch', bucket_start),"
							  "       p95_ms, calls"
							  "  FROM %s.pp_trends($1::pg_catalog.interval, '1 hour')"
							  " WHERE p95_ms IS NOT NULL"
							  " ORDER BY bucket_start",
							  cli_ext.schema);
	const char *params[1] = {interval};
	PGresult   *res = cli_query(conn, sql, 1, params);
	series		s[TREND_OPERATIONS + 1];
	int			ns = 0,
				i,
				k;
	double		t0 = INFINITY,
				t1 = -INFINITY;

	free(sql);
	fprintf(f, "<section><h2>p95 per hour</h2>\n");
	if (res == NULL)
	{
		fprintf(f, "<p class=\"pp-note\">pp_trends failed.</p></section>\n");
		return;
	}
	s[ns++] = (series) {NULL, 0, NULL, NULL, NULL};
	for (i = 0; i < (int) json_array_size(share) && ns <= TREND_OPERATIONS; i++)
		s[ns++] = (series) {str(json_array_get(share, (size_t) i), "operation"), 0, NULL, NULL, NULL};
	for (k = 0; k < ns; k++)
	{
		s[k].t = cli_checked(calloc((size_t) PQntuples(res) + 1, sizeof(double)));
		s[k].p95 = cli_checked(calloc((size_t) PQntuples(res) + 1, sizeof(double)));
		s[k].calls = cli_checked(calloc((size_t) PQntuples(res) + 1, sizeof(double)));
	}
	for (i = 0; i < PQntuples(res); i++)
	{
		double		t = atof(PQgetvalue(res, i, 1));

		if (t < t0)
			t0 = t;
		if (t > t1)
			t1 = t;
		for (k = 0; k < ns; k++)
		{
			bool		match = s[k].operation == NULL ? PQgetisnull(res, i, 0) :
				(!PQgetisnull(res, i, 0) && strcmp(s[k].operation, PQgetvalue(res, i, 0)) == 0);

			if (match)
			{
				s[k].t[s[k].n] = t;
				s[k].p95[s[k].n] = atof(PQgetvalue(res, i, 2));
				s[k].calls[s[k].n] = atof(PQgetvalue(res, i, 3));
				s[k].n++;
				break;
			}
		}
	}
	if (PQntuples(res) == 0)
		fprintf(f, "<p class=\"pp-note\">No hour of the window has profiles.</p>\n");
	else
	{
		fprintf(f, "<p class=\"pp-meta\">The whole profiles and the %d operations that take the most"
				" time; one point per hour that has calls.</p>\n<div class=\"pp-charts\">\n", ns - 1);
		for (k = 0; k < ns; k++)
			if (s[k].n > 0)
				html_chart(f, &s[k], t0, t1 + 3600);
		fprintf(f, "</div>\n");
	}
	for (k = 0; k < ns; k++)
	{
		free(s[k].t);
		free(s[k].p95);
		free(s[k].calls);
	}
	PQclear(res);
	fprintf(f, "</section>\n");
}

static void
html_bottlenecks(FILE *f, json_t *r)
{
	json_t	   *bs = json_object_get(r, "top_bottlenecks");
	json_t	   *b;
	size_t		i;
	bool		reasons = false;

	json_array_foreach(bs, i, b)
		reasons |= str(b, "reason") != NULL;
	fprintf(f, "<section><h2>Bottlenecks</h2>\n");
	if (json_array_size(bs) == 0)
	{
		fprintf(f, "<p class=\"pp-note\">None.</p></section>\n");
		return;
	}
	fprintf(f, "<table class=\"pp\"><tr><th>operation</th><th>type</th>%s<th class=\"n\">impact</th>"
			"<th>priority</th><th class=\"n\">calls</th><th class=\"n\">avg ms</th>"
			"<th class=\"n\">p95 ms</th><th>patterns</th></tr>\n", reasons ? "<th>why</th>" : "");
	json_array_foreach(bs, i, b)
	{
		char	   *p = patterns_text(b);

		fprintf(f, "<tr><td class=\"pp-name\">");
		html(f, str(b, "operation"));
		fprintf(f, "</td><td>");
		html(f, str(b, "operation_type"));
		fprintf(f, "</td>");
		if (reasons)
		{
			fprintf(f, "<td>");
			html(f, reason_text(b));
			fprintf(f, "</td>");
		}
		fprintf(f, "<td class=\"n\">%s</td><td>", cli_num(num(b, "impact_score")));
		html(f, str(b, "priority"));
		fprintf(f, "</td><td class=\"n\">%s</td><td class=\"n\">%s</td><td class=\"n\">%s</td><td>",
				cli_num(num(b, "calls")), cli_num(num(b, "avg_ms")), cli_num(num(b, "p95_ms")));
		html(f, p);
		fprintf(f, "</td></tr>\n");
		free(p);
	}
	fprintf(f, "</table></section>\n");
}

static void
html_suggestions(FILE *f, json_t *r)
{
	json_t	   *ps = json_object_get(r, "optimization_priorities");
	json_t	   *s;
	size_t		i;

	fprintf(f, "<section><h2>Suggestions, by priority</h2>\n");
	if (json_array_size(ps) == 0)
	{
		fprintf(f, "<p class=\"pp-note\">None.</p></section>\n");
		return;
	}
	fprintf(f, "<ol class=\"pp-sugg\">\n");
	json_array_foreach(ps, i, s)
	{
		char	   *gain = gain_text(s);

		fprintf(f, "<li><b>");
		html(f, str(s, "suggestion"));
		fprintf(f, "</b> &mdash; <span class=\"pp-name\">");
		html(f, str(s, "operation"));
		fprintf(f, "</span><br><span class=\"pp-meta\">");
		if (str(s, "measure"))
		{
			fprintf(f, "improves ");
			html(f, measure_words(str(s, "measure")));
			fprintf(f, "; ");
		}
		fprintf(f, "effort ");
		html(f, str(s, "effort_estimate") ? str(s, "effort_estimate") : "?");
		if (gain[0])
		{
			fprintf(f, "; expected: ");
			html(f, gain);
		}
		fprintf(f, "</span></li>\n");
		free(gain);
	}
	fprintf(f, "</ol></section>\n");
}

static void
print_html(json_t *r, json_t *share, bool share_from_stats, PGconn *conn, const char *interval)
{
	FILE	   *f = stdout;

	fprintf(f, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
			"<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
			"style-src 'unsafe-inline'; img-src data:\">\n"
			"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
			"<link rel=\"icon\" href=\"data:,\">\n"
			"<title>ppprof report</title>\n<style>%s</style></head><body>\n", html_style);
	html_summary(f, r);
	html_changes(f, r);
	html_time_share(f, share, share_from_stats);
	html_flamegraph(f, conn, interval);
	html_trends(f, conn, interval, share);
	html_bottlenecks(f, r);
	html_suggestions(f, r);
	fprintf(f, "<footer>ppprof %s &middot; pp_optimization_report(", PPPROF_VERSION);
	html(f, interval);
	fprintf(f, ")</footer>\n</body></html>\n");
}

/* ---- the command ---- */

int
cli_report(int argc, char **argv)
{
	const char *window = "24h";
	const char *format = "text";
	const char *baseline = NULL;
	const char *params[2];
	char	   *iv;
	char	   *sql;
	PGconn	   *conn;
	PGresult   *res;
	json_t	   *r;
	json_t	   *share;
	json_error_t jerr;
	bool		share_from_stats = false;
	int			i;

	for (i = 0; i < argc; i++)
	{
		if (strcmp(argv[i], "--help") == 0)
		{
			cli_report_usage(stdout);
			return 0;
		}
		else if (strcmp(argv[i], "--window") == 0)
			window = cli_option_value(argc, argv, &i, cli_report_usage);
		else if (strcmp(argv[i], "--format") == 0)
			format = cli_option_value(argc, argv, &i, cli_report_usage);
		else if (strcmp(argv[i], "--baseline") == 0)
			baseline = cli_option_value(argc, argv, &i, cli_report_usage);
		else
			cli_usage_error(cli_report_usage, "unknown argument \"%s\" for report", cli_esc(argv[i]));
	}
	if (strcmp(format, "text") != 0 && strcmp(format, "json") != 0 && strcmp(format, "html") != 0)
		cli_usage_error(cli_report_usage, "--format must be text, json or html, not \"%s\"",
						cli_esc(format));
	iv = cli_window_interval(window);
	conn = cli_connect();
	params[0] = iv;
	params[1] = baseline;
	if (baseline)
		sql = cli_sql("SELECT %s.pp_optimization_report($1::pg_catalog.interval,"
					  " $2::pg_catalog.text)::pg_catalog.text", cli_ext.schema);
	else
		sql = cli_sql("SELECT %s.pp_optimization_report($1::pg_catalog.interval)::pg_catalog.text",
					  cli_ext.schema);
	res = cli_query(conn, sql, baseline ? 2 : 1, params);
	free(sql);
	if (res == NULL)
	{
		PQfinish(conn);
		free(iv);
		return EXIT_USAGE;
	}
	r = json_loads(PQgetvalue(res, 0, 0), 0, &jerr);
	PQclear(res);
	if (!json_is_object(r))
	{
		fprintf(stderr, "ppprof: the report is not a JSON object: %s\n", cli_esc(jerr.text));
		json_decref(r);
		PQfinish(conn);
		free(iv);
		return EXIT_USAGE;
	}
	if (strcmp(format, "json") == 0)
		print_json(r);
	else
	{
		share = json_incref(json_object_get(r, "time_share"));
		if (!json_is_array(share))
		{
			json_decref(share);
			share = time_share_from_stats(conn, iv);
			share_from_stats = true;
			if (share == NULL)
			{
				json_decref(r);
				PQfinish(conn);
				free(iv);
				return EXIT_USAGE;
			}
		}
		if (strcmp(format, "text") == 0)
			print_text(r, share, share_from_stats);
		else
			print_html(r, share, share_from_stats, conn, iv);
		json_decref(share);
	}
	json_decref(r);
	PQfinish(conn);
	free(iv);
	return 0;
}
