/*-------------------------------------------------------------------------
 *
 * client/views.c
 *	  ppprof show (one profile as a terminal waterfall), ppprof top (the
 *	  operations by share of time) and ppprof flamegraph (the server's SVG
 *	  flame graphs, written to standard output).
 *
 * show.  A profile is found by its id (a uuid) or, failing that, by its
 * query_id (the latest profile of that query_id).  pp_analyze_profile
 * gives each node with its path, depth, duration, self time (the server's
 * definition: parallel children count once), threshold and error; the
 * node's place on the timeline comes from the profile itself: its
 * start_time against the root's.  A node without start_time starts where
 * its previous sibling ended (or with its parent), as a sequential
 * pipeline would.  The bar of each node covers the cells of the timeline
 * its interval touches, so that parallel children are drawn side by side
 * at their real offsets, and a gap is uninstrumented time.
 *
 * BOTTLENECK, in one profile, marks the nodes whose own time (self time)
 * is at least 20% of the profile's duration, or above the threshold of
 * their operation type: self time, so that a wrapper whose time is its
 * children's is not marked in their place, and one whose own code is slow
 * is.  ERROR marks a failed node, with its message.
 *
 * top.  pp_operation_stats(window), by self time: each operation's share
 * of the time spent in the window, its total time (children included),
 * calls, p50/p95/p99 and errors, as pg_stat_statements is read sorted by
 * total time.
 *
 *-------------------------------------------------------------------------
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

#define WATERFALL_WIDTH 48		/* cells of the timeline */
#define TOP_BAR_WIDTH 20
#define BOTTLENECK_SHARE 0.2	/* self time of a BOTTLENECK: 20% of the profile */

void
cli_show_usage(FILE *f)
{
	fprintf(f,
			"Usage: ppprof [--dsn DSN] show ID\n\n"
			"Prints one profile as a waterfall: one line per node, indented by depth, with\n"
			"a bar on the profile's timeline (parallel children at their real offsets),\n"
			"its start, duration and self time, and the marks BOTTLENECK (its own time is\n"
			"at least 20%% of the profile's, or above its operation's threshold) and ERROR.\n"
			"ID is a profile id (uuid) or a query_id (its latest profile).\n");
}

void
cli_top_usage(FILE *f)
{
	fprintf(f,
			"Usage: ppprof [--dsn DSN] top [--window 24h] [--limit N]\n\n"
			"The operations of the window by their share of the time (self time: an\n"
			"operation's own time, without its children's), with their total time, calls,\n"
			"average, p50, p95 and p99 in ms, and errors; from pp_operation_stats.  --limit\n"
			"prints the first N operations (all by default).\n");
}

void
cli_flamegraph_usage(FILE *f)
{
	fprintf(f,
			"Usage: ppprof [--dsn DSN] flamegraph --profile ID > profile.svg\n"
			"       ppprof [--dsn DSN] flamegraph --window 1h > window.svg\n"
			"       ppprof [--dsn DSN] flamegraph --before RANGE --after RANGE > diff.svg\n\n"
			"Writes an SVG flame graph: of one profile on its timeline (pp_flamegraph(id);\n"
			"ID is a profile id or a query_id), of every profile of a window merged by call\n"
			"path (pp_flamegraph(window)), or the difference between two time ranges\n"
			"(pp_flamegraph_diff).  A RANGE is a PostgreSQL tstzrange such as\n"
			"'[2026-12-04 10:00, 2026-12-04 11:00)', or FROM..TO where each end is a\n"
			"timestamp, \"now\", or a time ago such as 2h: --before 2h..1h --after 1h..now.\n");
}

/* Is s written as a uuid (8-4-4-4-12 hexadecimal digits)? */
static bool
is_uuid(const char *s)
{
	int			i;

	if (strlen(s) != 36)
		return false;
	for (i = 0; i < 36; i++)
	{
		if (i == 8 || i == 13 || i == 18 || i == 23)
		{
			if (s[i] != '-')
				return false;
		}
		else if (!isxdigit((unsigned char) s[i]))
			return false;
	}
	return true;
}

/*
 * The profile named by id (a uuid or a query_id): its row (id, query_id,
 * created_at, profile_data, the profiles of its query_id), or NULL when
 * there is none (said).
 */
static PGresult *
find_profile(PGconn *conn, const char *id)
{
	const char *params[1] = {id};
	PGresult   *res = NULL;
	char	   *sql;

	if (is_uuid(id))
	{
		sql = cli_sql("SELECT id, query_id, created_at, profile_data::pg_catalog.text, 1"
					  "  FROM %s.performance_profiles"
					  " WHERE id OPERATOR(pg_catalog.=) $1::pg_catalog.uuid",
					  cli_ext.schema);
		res = cli_query(conn, sql, 1, params);
		free(sql);
		if (res == NULL)
			return NULL;
		if (PQntuples(res) == 1)
			return res;
		PQclear(res);
	}
	sql = cli_sql("SELECT id, query_id, created_at, profile_data::pg_catalog.text,"
				  "       pg_catalog.count(*) OVER ()"
				  "  FROM %s.performance_profiles"
				  " WHERE query_id OPERATOR(pg_catalog.=) $1::pg_catalog.text"
				  " ORDER BY created_at DESC LIMIT 1",
				  cli_ext.schema);
	res = cli_query(conn, sql, 1, params);
	free(sql);
	if (res == NULL)
		return NULL;
	if (PQntuples(res) == 1)
		return res;
	PQclear(res);
	fprintf(stderr, "ppprof: no profile has the id or query_id \"%s\"\n", cli_esc(id));
	return NULL;
}

/* ---- show ---- */

typedef struct
{
	int			parent;			/* index, -1 for the root */
	int			depth;			/* the root is 1 */
	const char *operation;
	const char *type;
	double		duration_ms;
	double		self_ms;
	double		threshold_ms;	/* NAN when none */
	bool		failed;
	const char *error;			/* the node's message, or NULL */
	json_t	   *json;			/* the node in the profile */
	double		start_ms;		/* offset from the root's start */
	double		cursor_ms;		/* where the next child without start_time starts */
} wf_node;

/* The node of profile at path "$.children[0].children[3]", or NULL. */
static json_t *
node_at(json_t *profile, const char *path)
{
	json_t	   *n = profile;
	const char *p = path;

	if (*p++ != '$')
		return NULL;
	while (*p)
	{
		char	   *end;
		long		i;

		if (strncmp(p, ".children[", 10) != 0)
			return NULL;
		i = strtol(p + 10, &end, 10);
		if (*end != ']')
			return NULL;
		n = json_array_get(json_object_get(n, "children"), (size_t) i);
		if (n == NULL)
			return NULL;
		p = end + 1;
	}
	return n;
}

static bool
time_of(json_t *node, const char *key, double *t)
{
	json_t	   *v = json_object_get(node, key);

	if (!json_is_number(v))
		return false;
	*t = json_number_value(v);
	return true;
}

static bool
is_bottleneck(const wf_node *n, double profile_ms)
{
	return (profile_ms > 0 && n->self_ms >= BOTTLENECK_SHARE * profile_ms) ||
		(!isnan(n->threshold_ms) && n->self_ms > n->threshold_ms);
}

/* The timeline row of node n: cells touched by [start, end) on [0, total). */
static void
print_timeline(const wf_node *n, double total)
{
	int			from = (int) floor(n->start_ms / total * WATERFALL_WIDTH);
	int			to = (int) ceil((n->start_ms + n->duration_ms) / total * WATERFALL_WIDTH);
	int			i;

	if (from < 0)
		from = 0;
	if (from > WATERFALL_WIDTH - 1)
		from = WATERFALL_WIDTH - 1;
	if (to > WATERFALL_WIDTH)
		to = WATERFALL_WIDTH;
	if (to <= from)
		to = from + 1;			/* a node too short to fill a cell still shows */
	putchar('|');
	for (i = 0; i < WATERFALL_WIDTH; i++)
		fputs(i >= from && i < to ? "\u2588" : " ", stdout);
	putchar('|');
}

int
cli_show(int argc, char **argv)
{
	const char *id = NULL;
	PGconn	   *conn;
	PGresult   *prof;
	PGresult   *res;
	json_t	   *profile;
	json_error_t jerr;
	wf_node    *nodes;
	char	   *sql;
	const char *params[1];
	double		total,
				root_start = 0;
	bool		root_timed;
	int			n,
				i,
				name_w = 4,
				failed = 0;

	for (i = 0; i < argc; i++)
	{
		if (strcmp(argv[i], "--help") == 0)
		{
			cli_show_usage(stdout);
			return 0;
		}
		else if (argv[i][0] == '-')
			cli_usage_error(cli_show_usage, "unknown option \"%s\" for show", cli_esc(argv[i]));
		else if (id == NULL)
			id = argv[i];
		else
			cli_usage_error(cli_show_usage, "show takes one ID; \"%s\" is a second one", cli_esc(argv[i]));
	}
	if (id == NULL)
		cli_usage_error(cli_show_usage, "show needs the ID of a profile (its id or its query_id)");

	conn = cli_connect();
	prof = find_profile(conn, id);
	if (prof == NULL)
	{
		PQfinish(conn);
		return EXIT_USAGE;
	}
	profile = json_loads(PQgetvalue(prof, 0, 3), 0, &jerr);
	params[0] = PQgetvalue(prof, 0, 0);
	sql = cli_sql("SELECT a.path, a.parent, a.depth, a.operation, a.operation_type,"
				  "       a.duration_ms, a.self_ms, a.threshold_ms, a.failed"
				  "  FROM %s.performance_profiles p,"
				  "       %s.pp_analyze_profile(p.profile_data) a"
				  " WHERE p.id OPERATOR(pg_catalog.=) $1::pg_catalog.uuid"
				  " ORDER BY a.node",
				  cli_ext.schema, cli_ext.schema);
	res = cli_query(conn, sql, 1, params);
	free(sql);
	if (res == NULL || profile == NULL)
	{
		if (profile == NULL)
			fprintf(stderr, "ppprof: the profile is not JSON: %s\n", cli_esc(jerr.text));
		PQclear(res);
		PQclear(prof);
		json_decref(profile);
		PQfinish(conn);
		return EXIT_USAGE;
	}
	n = PQntuples(res);
	nodes = cli_checked(calloc((size_t) n + 1, sizeof(wf_node)));
	root_timed = time_of(profile, "start_time", &root_start);
	for (i = 0; i < n; i++)
	{
		wf_node    *w = &nodes[i];
		double		t;
		int			width;

		/* pp_analyze_profile numbers its nodes from 0, in document order */
		w->parent = PQgetisnull(res, i, 1) ? -1 : atoi(PQgetvalue(res, i, 1));
		w->depth = atoi(PQgetvalue(res, i, 2));
		w->operation = PQgetvalue(res, i, 3);
		w->type = PQgetvalue(res, i, 4);
		w->duration_ms = atof(PQgetvalue(res, i, 5));
		w->self_ms = atof(PQgetvalue(res, i, 6));
		w->threshold_ms = PQgetisnull(res, i, 7) ? NAN : atof(PQgetvalue(res, i, 7));
		w->failed = strcmp(PQgetvalue(res, i, 8), "t") == 0;
		w->json = node_at(profile, PQgetvalue(res, i, 0));
		w->error = json_string_value(json_object_get(w->json, "error"));
		failed += w->failed;
		if (w->parent < 0 || w->parent >= i)
			w->start_ms = 0;
		else if (root_timed && time_of(w->json, "start_time", &t))
		{
			/* to the microsecond, as the server rounds epoch seconds */
			w->start_ms = round((t - root_start) * 1e6) / 1e3;
		}
		else
			w->start_ms = nodes[w->parent].cursor_ms;
		if (w->parent >= 0 && w->parent < i)
			nodes[w->parent].cursor_ms = w->start_ms + w->duration_ms;
		w->cursor_ms = w->start_ms;
		width = 2 * (w->depth - 1) + (int) cli_text_width(w->operation);
		if (width > name_w)
			name_w = width;
	}
	total = n > 0 ? nodes[0].duration_ms : 0;
	for (i = 0; i < n; i++)
		if (nodes[i].start_ms + nodes[i].duration_ms > total)
			total = nodes[i].start_ms + nodes[i].duration_ms;
	if (total <= 0)
		total = 1;

	printf("profile %s (query_id %s), stored %s", cli_esc(PQgetvalue(prof, 0, 0)),
		   cli_esc(PQgetvalue(prof, 0, 1)), cli_timestamp(PQgetvalue(prof, 0, 2)));
	if (atol(PQgetvalue(prof, 0, 4)) > 1)
		printf(", the latest of %s profiles of this query_id", PQgetvalue(prof, 0, 4));
	printf("\n%d nodes, %s ms", n, n > 0 ? cli_num(nodes[0].duration_ms) : "0");
	if (failed)
		printf(", %d failed", failed);
	{
		/* the timeline's axis: "|0 ms" to its end, "2450 ms|" */
		char		axis[WATERFALL_WIDTH + 3];
		char		end[48];
		size_t		len = (size_t) snprintf(end, sizeof(end), "%s ms|", cli_num(total));

		memset(axis, ' ', WATERFALL_WIDTH + 2);
		axis[WATERFALL_WIDTH + 2] = '\0';
		memcpy(axis, "|0 ms", 5);
		if (len < WATERFALL_WIDTH - 4)
			memcpy(axis + WATERFALL_WIDTH + 2 - len, end, len);
		printf("\n\n%-*s  %s  %9s %9s %9s\n", name_w, "node", axis, "start ms", "ms", "self ms");
	}
	for (i = 0; i < n; i++)
	{
		wf_node    *w = &nodes[i];

		printf("%*s", 2 * (w->depth - 1), "");
		cli_print_cell(w->operation, name_w - 2 * (w->depth - 1), true);
		printf("  ");
		print_timeline(w, total);
		printf("  %9s %9s %9s", cli_num(w->start_ms), cli_num(w->duration_ms), cli_num(w->self_ms));
		if (is_bottleneck(w, nodes[0].duration_ms))
			printf("  BOTTLENECK");
		if (w->failed)
			printf("  ERROR: %s", cli_esc(w->error ? w->error : "(failed)"));
		printf("\n");
	}
	free(nodes);
	json_decref(profile);
	PQclear(res);
	PQclear(prof);
	PQfinish(conn);
	return 0;
}

/* ---- top ---- */

int
cli_top(int argc, char **argv)
{
	const char *window = "24h";
	long		limit = -1;
	char	   *iv;
	char	   *sql;
	const char *params[1];
	PGconn	   *conn;
	PGresult   *res;
	double		total_self = 0;
	int			n,
				i,
				name_w = 9,
				type_w = 4;

	for (i = 0; i < argc; i++)
	{
		if (strcmp(argv[i], "--help") == 0)
		{
			cli_top_usage(stdout);
			return 0;
		}
		else if (strcmp(argv[i], "--window") == 0)
			window = cli_option_value(argc, argv, &i, cli_top_usage);
		else if (strcmp(argv[i], "--limit") == 0)
		{
			const char *v = cli_option_value(argc, argv, &i, cli_top_usage);
			char	   *end;

			limit = strtol(v, &end, 10);
			if (end == v || *end != '\0' || limit < 1)
				cli_usage_error(cli_top_usage, "--limit must be a positive number, not \"%s\"", cli_esc(v));
		}
		else
			cli_usage_error(cli_top_usage, "unknown argument \"%s\" for top", cli_esc(argv[i]));
	}
	iv = cli_window_interval(window);
	conn = cli_connect();
	sql = cli_sql("SELECT operation, operation_type, calls, errors, error_rate, total_ms,"
				  "       self_total_ms, avg_ms, p50_ms, p95_ms, p99_ms"
				  "  FROM %s.pp_operation_stats($1::pg_catalog.interval)"
				  " ORDER BY self_total_ms DESC, operation",
				  cli_ext.schema);
	params[0] = iv;
	res = cli_query(conn, sql, 1, params);
	free(sql);
	if (res == NULL)
	{
		PQfinish(conn);
		free(iv);
		return EXIT_USAGE;
	}
	n = PQntuples(res);
	if (limit > 0 && limit < n)
		n = (int) limit;
	for (i = 0; i < PQntuples(res); i++)
		total_self += atof(PQgetvalue(res, i, 6));
	for (i = 0; i < n; i++)
	{
		int			w = (int) cli_text_width(PQgetvalue(res, i, 0));
		int			t = (int) cli_text_width(PQgetvalue(res, i, 1));

		if (w > name_w)
			name_w = w;
		if (t > type_w)
			type_w = t;
	}
	printf("ppprof top: window %s, %d operations, %s of their own time\n\n", cli_esc(iv),
		   PQntuples(res), cli_duration(total_self));
	printf("%-*s  %-*s  %-*s %7s  %10s %10s %8s %8s %8s %8s %8s  %s\n", name_w, "operation", type_w,
		   "type", TOP_BAR_WIDTH, "share of time", "", "self time", "total time", "calls",
		   "avg ms", "p50 ms", "p95 ms", "p99 ms", "errors");
	for (i = 0; i < n; i++)
	{
		double		share = total_self > 0 ? atof(PQgetvalue(res, i, 6)) / total_self : 0;
		long		errors = atol(PQgetvalue(res, i, 3));

		cli_print_cell(PQgetvalue(res, i, 0), name_w, true);
		printf("  ");
		cli_print_cell(PQgetvalue(res, i, 1), type_w, true);
		printf("  ");
		cli_print_bar(share, TOP_BAR_WIDTH);
		printf(" %7s  %10s %10s %8s %8s %8s %8s %8s  ", cli_pct(share),
			   cli_duration(atof(PQgetvalue(res, i, 6))), cli_duration(atof(PQgetvalue(res, i, 5))),
			   PQgetvalue(res, i, 2), cli_num(atof(PQgetvalue(res, i, 7))),
			   cli_num(atof(PQgetvalue(res, i, 8))), cli_num(atof(PQgetvalue(res, i, 9))),
			   cli_num(atof(PQgetvalue(res, i, 10))));
		if (errors > 0)
			printf("%ld (%s)\n", errors, cli_pct(atof(PQgetvalue(res, i, 4))));
		else
			printf("0\n");
	}
	if (n < PQntuples(res))
		printf("(%d more operations: --limit %d)\n", PQntuples(res) - n, PQntuples(res));
	PQclear(res);
	PQfinish(conn);
	free(iv);
	return 0;
}

/* ---- flamegraph ---- */

/*
 * One end of a RANGE FROM..TO as SQL (malloc'd), with its value as
 * parameter $param: "now", a time ago ("2h", "90 minutes" is not: use a
 * timestamp or the tstzrange form), or a timestamp.
 */
static char *
range_end(const char *text, int param, char **value)
{
	if (strcmp(text, "now") == 0 || text[0] == '\0')
	{
		*value = cli_checked(strdup("0 seconds"));
		return cli_sql("pg_catalog.now() OPERATOR(pg_catalog.-) $%d::pg_catalog.interval", param);
	}
	if (isdigit((unsigned char) text[0]) && strchr("smhdw", text[strlen(text) - 1]) &&
		strspn(text, "0123456789.") == strlen(text) - 1)
	{
		*value = cli_window_interval(text);
		return cli_sql("pg_catalog.now() OPERATOR(pg_catalog.-) $%d::pg_catalog.interval", param);
	}
	*value = cli_checked(strdup(text));
	return cli_sql("$%d::pg_catalog.timestamptz", param);
}

/*
 * A RANGE as SQL using parameters from $param (one for a tstzrange, two
 * for FROM..TO); values receives them, *count their number.
 */
static char *
range_sql(const char *range, int param, char **values, int *count)
{
	const char *dots = strstr(range, "..");
	char	   *from,
			   *to,
			   *a,
			   *b,
			   *out;

	if (dots == NULL)
	{
		values[0] = cli_checked(strdup(range));
		*count = 1;
		return cli_sql("$%d::pg_catalog.tstzrange", param);
	}
	from = cli_checked(strndup(range, (size_t) (dots - range)));
	to = cli_checked(strdup(dots + 2));
	a = range_end(from, param, &values[0]);
	b = range_end(to, param + 1, &values[1]);
	*count = 2;
	out = cli_sql("pg_catalog.tstzrange(%s, %s)", a, b);
	free(from);
	free(to);
	free(a);
	free(b);
	return out;
}

int
cli_flamegraph(int argc, char **argv)
{
	const char *profile = NULL;
	const char *window = NULL;
	const char *before = NULL;
	const char *after = NULL;
	char	   *values[4] = {NULL, NULL, NULL, NULL};
	int			nvalues = 0;
	char	   *sql;
	PGconn	   *conn;
	PGresult   *res;
	PGresult   *prof = NULL;
	const char *svg;
	size_t		len;
	int			i,
				kinds;

	for (i = 0; i < argc; i++)
	{
		if (strcmp(argv[i], "--help") == 0)
		{
			cli_flamegraph_usage(stdout);
			return 0;
		}
		else if (strcmp(argv[i], "--profile") == 0)
			profile = cli_option_value(argc, argv, &i, cli_flamegraph_usage);
		else if (strcmp(argv[i], "--window") == 0)
			window = cli_option_value(argc, argv, &i, cli_flamegraph_usage);
		else if (strcmp(argv[i], "--before") == 0)
			before = cli_option_value(argc, argv, &i, cli_flamegraph_usage);
		else if (strcmp(argv[i], "--after") == 0)
			after = cli_option_value(argc, argv, &i, cli_flamegraph_usage);
		else
			cli_usage_error(cli_flamegraph_usage, "unknown argument \"%s\" for flamegraph",
							cli_esc(argv[i]));
	}
	kinds = (profile != NULL) + (window != NULL) + (before != NULL || after != NULL);
	if (kinds == 0)
		cli_usage_error(cli_flamegraph_usage,
						"flamegraph needs --profile ID, --window W, or --before RANGE and --after RANGE");
	if (kinds > 1)
		cli_usage_error(cli_flamegraph_usage,
						"flamegraph takes one of --profile, --window, or --before and --after");
	if ((before == NULL) != (after == NULL))
		cli_usage_error(cli_flamegraph_usage, "--%s needs --%s too",
						before ? "before" : "after", before ? "after" : "before");

	conn = cli_connect();
	if (profile)
	{
		prof = find_profile(conn, profile);
		if (prof == NULL)
		{
			PQfinish(conn);
			return EXIT_USAGE;
		}
		values[0] = cli_checked(strdup(PQgetvalue(prof, 0, 0)));
		nvalues = 1;
		sql = cli_sql("SELECT %s.pp_flamegraph($1::pg_catalog.uuid)", cli_ext.schema);
	}
	else if (window)
	{
		values[0] = cli_window_interval(window);
		nvalues = 1;
		sql = cli_sql("SELECT %s.pp_flamegraph($1::pg_catalog.interval)", cli_ext.schema);
	}
	else
	{
		int			nb,
					na;
		char	   *b = range_sql(before, 1, values, &nb);
		char	   *a = range_sql(after, 1 + nb, values + nb, &na);

		nvalues = nb + na;
		sql = cli_sql("SELECT %s.pp_flamegraph_diff(%s, %s)", cli_ext.schema, b, a);
		free(b);
		free(a);
	}
	res = cli_query(conn, sql, nvalues, (const char *const *) values);
	free(sql);
	for (i = 0; i < nvalues; i++)
		free(values[i]);
	PQclear(prof);
	if (res == NULL)
	{
		PQfinish(conn);
		return EXIT_USAGE;
	}
	if (PQntuples(res) != 1 || PQgetisnull(res, 0, 0))
	{
		fprintf(stderr, "ppprof: the server gave no flame graph\n");
		PQclear(res);
		PQfinish(conn);
		return EXIT_USAGE;
	}
	svg = PQgetvalue(res, 0, 0);
	len = strlen(svg);
	if (isatty(STDOUT_FILENO))
		fprintf(stderr, "ppprof: writing SVG to the terminal (redirect it: > flame.svg)\n");
	fwrite(svg, 1, len, stdout);
	if (len == 0 || svg[len - 1] != '\n')
		putchar('\n');
	PQclear(res);
	PQfinish(conn);
	return fflush(stdout) == 0 ? 0 : EXIT_USAGE;
}
