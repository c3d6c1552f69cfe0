/*-------------------------------------------------------------------------
 *
 * client/ppprof.c
 *	  The ppprof command: ingest JSON-lines profiles, print the optimization
 *	  report, and check a window against a baseline for CI/CD.
 *
 *	ppprof [--dsn DSN] ingest FILE.jsonl [--batch N]
 *	ppprof [--dsn DSN] report [--window 24h] [--format text|json]
 *	ppprof [--dsn DSN] check --baseline NAME [--window 1h]
 *	       [--max-regression 10%] [--metric p95|p99|avg|p50]
 *
 * The connection comes from the libpq environment (PGHOST, PGDATABASE, ...)
 * unless --dsn gives a connection string.  Exit status: 0 success, 1 a
 * regression (check) or a failed ingest, 2 a usage or connection error.
 *
 *-------------------------------------------------------------------------
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <libpq-fe.h>

#define EXIT_REGRESSION 1
#define EXIT_USAGE 2

static const char *dsn = "";

static void
usage_main(FILE *f)
{
	fprintf(f,
			"ppprof: the command-line client of the ppprof PostgreSQL extension\n\n"
			"Usage:\n"
			"  ppprof [--dsn DSN] ingest FILE.jsonl [--batch N]\n"
			"  ppprof [--dsn DSN] report [--window 24h] [--format text|json]\n"
			"  ppprof [--dsn DSN] check --baseline NAME [--window 1h] [--max-regression 10%%]\n"
			"         [--metric p95|p99|p50|avg]\n"
			"  ppprof COMMAND --help\n\n"
			"The connection comes from the libpq environment (PGHOST, PGPORT, PGDATABASE,\n"
			"PGUSER, ...) unless --dsn gives a connection string.\n");
}

static void
usage_ingest(FILE *f)
{
	fprintf(f,
			"Usage: ppprof [--dsn DSN] ingest FILE.jsonl [--batch N]\n\n"
			"Stores one profile (a TimingRecord JSON object) per line of FILE (\"-\" reads\n"
			"standard input) through pp_ingest_jsonl, N profiles per batch (default 500).\n"
			"Blank lines are skipped.  A line that is not a JSON object stops the run before\n"
			"anything is sent; a batch the server refuses stops it after the batches already\n"
			"stored.  Shows a progress bar when standard error is a terminal.\n");
}

static void
usage_report(FILE *f)
{
	fprintf(f,
			"Usage: ppprof [--dsn DSN] report [--window 24h] [--format text|json]\n\n"
			"Prints pp_optimization_report(window): a readable summary, bottlenecks and\n"
			"optimizations (text, the default) or the report itself (json).  The window is\n"
			"a number with s, m, h, d or w, or any PostgreSQL interval.\n");
}

static void
usage_check(FILE *f)
{
	fprintf(f,
			"Usage: ppprof [--dsn DSN] check --baseline NAME [--window 1h]\n"
			"       [--max-regression 10%%] [--metric p95|p99|p50|avg]\n\n"
			"Compares every operation of the window with the baseline NAME (captured with\n"
			"pp_capture_baseline) and exits 1 when the metric of any operation rose by more\n"
			"than the maximum regression; 0 otherwise.  For CI/CD pipelines.\n");
}

/* "24h" -> "24 hours"; anything else is passed to PostgreSQL as it is. */
static char *
window_interval(const char *w)
{
	char	   *end;
	double		n = strtod(w, &end);
	const char *unit = NULL;
	char	   *out;

	if (end != w && end[0] != '\0' && end[1] == '\0')
	{
		switch (end[0])
		{
			case 's':
				unit = "seconds";
				break;
			case 'm':
				unit = "minutes";
				break;
			case 'h':
				unit = "hours";
				break;
			case 'd':
				unit = "days";
				break;
			case 'w':
				unit = "weeks";
				break;
		}
	}
	if (unit == NULL)
		return strdup(w);
	out = malloc(64);
	if (out)
		snprintf(out, 64, "%g %s", n, unit);
	return out;
}

static PGconn *
connect_db(void)
{
	PGconn	   *conn = PQconnectdb(dsn);

	if (PQstatus(conn) != CONNECTION_OK)
	{
		fprintf(stderr, "ppprof: could not connect: %s", PQerrorMessage(conn));
		PQfinish(conn);
		exit(EXIT_USAGE);
	}
	return conn;
}

/* Run a one-parameter query that returns one text value; exits on error. */
static char *
query_value(PGconn *conn, const char *sql, const char *param)
{
	const char *values[1] = {param};
	PGresult   *res = PQexecParams(conn, sql, param ? 1 : 0, NULL, values, NULL, NULL, 0);
	char	   *v;

	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1)
	{
		fprintf(stderr, "ppprof: %s", PQerrorMessage(conn));
		PQclear(res);
		PQfinish(conn);
		exit(EXIT_USAGE);
	}
	v = strdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	return v;
}

/* ---- ingest ---- */

static void
progress(size_t done_bytes, size_t total_bytes, long profiles)
{
	int			width = 40;
	int			filled;

	if (total_bytes == 0)
	{
		fprintf(stderr, "\r%ld profiles", profiles);
		return;
	}
	filled = (int) ((double) done_bytes / total_bytes * width);
	fprintf(stderr, "\r[%.*s%*s] %3d%% %ld profiles",
			filled, "########################################", width - filled, "",
			(int) (100.0 * done_bytes / total_bytes), profiles);
}

/*
 * Store one batch, lines first_line to last_line of the file (blank ones
 * kept, so that the server's "line N" is line first_line + N - 1).
 */
static int
send_batch(PGconn *conn, const char *batch, long first_line, long last_line)
{
	const char *values[1] = {batch};
	PGresult   *res = PQexecParams(conn, "SELECT pp_ingest_jsonl($1)", 1, NULL,
								   values, NULL, NULL, 0);

	if (PQresultStatus(res) != PGRES_TUPLES_OK)
	{
		fprintf(stderr, "\nppprof: the batch of lines %ld to %ld was refused"
				" (its line 1 is line %ld of the file): %s",
				first_line, last_line, first_line, PQerrorMessage(conn));
		PQclear(res);
		return -1;
	}
	PQclear(res);
	return 0;
}

static int
cmd_ingest(int argc, char **argv)
{
	const char *path = NULL;
	long		batch_size = 500;
	FILE	   *f;
	char	   *line = NULL;
	size_t		cap = 0;
	ssize_t		len;
	long		lineno = 0;
	long		first_line = 0;
	long		in_batch = 0;
	long		stored = 0;
	size_t		total = 0;
	size_t		done = 0;
	bool		tty = isatty(STDERR_FILENO);
	char	   *batch = NULL;
	size_t		batch_len = 0;
	size_t		batch_cap = 0;
	char	   *stdin_copy = NULL;
	PGconn	   *conn;
	int			i;

	for (i = 0; i < argc; i++)
	{
		if (strcmp(argv[i], "--help") == 0)
		{
			usage_ingest(stdout);
			return 0;
		}
		else if (strcmp(argv[i], "--batch") == 0 && i + 1 < argc)
		{
			batch_size = strtol(argv[++i], NULL, 10);
			if (batch_size < 1 || batch_size > 100000)
			{
				fprintf(stderr, "ppprof: --batch must be between 1 and 100000\n");
				return EXIT_USAGE;
			}
		}
		else if (path == NULL && (argv[i][0] != '-' || strcmp(argv[i], "-") == 0))
			path = argv[i];
		else
		{
			usage_ingest(stderr);
			return EXIT_USAGE;
		}
	}
	if (path == NULL)
	{
		usage_ingest(stderr);
		return EXIT_USAGE;
	}

	f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
	if (f == NULL)
	{
		fprintf(stderr, "ppprof: could not open \"%s\": %s\n", path, strerror(errno));
		return EXIT_USAGE;
	}
	if (f != stdin && fseek(f, 0, SEEK_END) == 0)
	{
		total = (size_t) ftell(f);
		rewind(f);
	}

	/* check every line first: nothing is sent from a file with a bad line */
	while ((len = getline(&line, &cap, f)) >= 0)
	{
		json_error_t jerr;
		json_t	   *doc;

		lineno++;
		if (strspn(line, " \t\r\n") == (size_t) len)
			continue;
		doc = json_loadb(line, (size_t) len, 0, &jerr);
		if (doc == NULL || !json_is_object(doc))
		{
			fprintf(stderr, "ppprof: line %ld of \"%s\" is not a JSON object%s%s\n",
					lineno, path, doc ? "" : ": ", doc ? "" : jerr.text);
			json_decref(doc);
			free(line);
			if (f != stdin)
				fclose(f);
			return EXIT_REGRESSION;
		}
		json_decref(doc);
		if (f == stdin)
		{
			/* standard input cannot be read twice: keep the lines */
			size_t		need = batch_len + (size_t) len + 2;

			if (need > batch_cap)
			{
				batch_cap = need * 2;
				batch = realloc(batch, batch_cap);
				if (batch == NULL)
				{
					fprintf(stderr, "ppprof: out of memory\n");
					return EXIT_USAGE;
				}
			}
			memcpy(batch + batch_len, line, (size_t) len);
			batch_len += (size_t) len;
			if (line[len - 1] != '\n')
				batch[batch_len++] = '\n';
		}
	}
	if (f == stdin)
	{
		stdin_copy = batch;
		f = fmemopen(stdin_copy, batch_len ? batch_len : 1, "r");
		total = batch_len;
		batch = NULL;
		batch_cap = 0;
	}
	else
		rewind(f);
	batch_len = 0;

	conn = connect_db();
	lineno = 0;
	while ((len = getline(&line, &cap, f)) >= 0)
	{
		lineno++;
		done += (size_t) len;
		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = '\0';
		if (strspn(line, " \t") == (size_t) len)
		{
			if (in_batch > 0)
				len = 0;		/* kept empty: the server's line numbers stay right */
			else
				continue;
		}
		if (batch_len + (size_t) len + 2 > batch_cap)
		{
			batch_cap = (batch_len + (size_t) len + 2) * 2;
			batch = realloc(batch, batch_cap);
			if (batch == NULL)
			{
				fprintf(stderr, "ppprof: out of memory\n");
				return EXIT_USAGE;
			}
		}
		memcpy(batch + batch_len, line, (size_t) len);
		batch_len += (size_t) len;
		batch[batch_len++] = '\n';
		batch[batch_len] = '\0';
		if (len == 0)
			continue;
		if (in_batch++ == 0)
			first_line = lineno;
		if (in_batch == batch_size)
		{
			if (send_batch(conn, batch, first_line, lineno) != 0)
				goto failed;
			stored += in_batch;
			in_batch = 0;
			batch_len = 0;
			if (tty)
				progress(done, total, stored);
		}
	}
	if (in_batch > 0)
	{
		if (send_batch(conn, batch, first_line, lineno) != 0)
			goto failed;
		stored += in_batch;
	}
	if (tty)
	{
		progress(total, total, stored);
		fputc('\n', stderr);
	}
	printf("stored %ld profiles\n", stored);
	free(batch);
	free(line);
	fclose(f);
	free(stdin_copy);
	PQfinish(conn);
	return 0;

failed:
	fprintf(stderr, "ppprof: %ld profiles were stored before the failure\n", stored);
	free(batch);
	free(line);
	fclose(f);
	free(stdin_copy);
	PQfinish(conn);
	return EXIT_REGRESSION;
}

/* ---- report ---- */

static void
print_report_text(json_t *r)
{
	json_t	   *summary = json_object_get(r, "summary");
	json_t	   *bottlenecks = json_object_get(r, "top_bottlenecks");
	json_t	   *priorities = json_object_get(r, "optimization_priorities");
	size_t		i;
	json_t	   *b;

	printf("ppprof report\n\n");
	if (json_is_object(summary))
	{
		const char *key;
		json_t	   *v;

		json_object_foreach(summary, key, v)
		{
			char	   *s = json_is_string(v) ? NULL : json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);

			printf("  %-28s %s\n", key, s ? s : json_string_value(v));
			free(s);
		}
	}
	printf("\nBottlenecks\n\n  %-28s %-20s %7s %8s %10s %10s  %s\n",
		   "operation", "type", "impact", "priority", "avg ms", "p95 ms", "patterns");
	json_array_foreach(bottlenecks, i, b)
	{
		json_t	   *pats = json_object_get(b, "patterns");
		char	   *p = pats ? json_dumps(pats, JSON_COMPACT) : NULL;

		printf("  %-28.28s %-20.20s %7.1f %8s %10.1f %10.1f  %s\n",
			   json_string_value(json_object_get(b, "operation")) ?: "",
			   json_string_value(json_object_get(b, "operation_type")) ?: "",
			   json_number_value(json_object_get(b, "impact_score")),
			   json_string_value(json_object_get(b, "priority")) ?: "",
			   json_number_value(json_object_get(b, "avg_ms")),
			   json_number_value(json_object_get(b, "p95_ms")),
			   p ? p : "");
		free(p);
	}
	if (json_array_size(bottlenecks) == 0)
		printf("  (none)\n");
	printf("\nOptimizations, by priority\n\n");
	json_array_foreach(priorities, i, b)
	{
		printf("  %2zu. %s: %s (%s effort)\n", i + 1,
			   json_string_value(json_object_get(b, "operation")) ?: "",
			   json_string_value(json_object_get(b, "suggestion")) ?: "",
			   json_string_value(json_object_get(b, "effort_estimate")) ?: "?");
	}
	if (json_array_size(priorities) == 0)
		printf("  (none)\n");
}

static int
cmd_report(int argc, char **argv)
{
	const char *window = "24h";
	const char *format = "text";
	char	   *iv;
	char	   *text;
	PGconn	   *conn;
	json_t	   *r;
	json_error_t jerr;
	int			i;

	for (i = 0; i < argc; i++)
	{
		if (strcmp(argv[i], "--help") == 0)
		{
			usage_report(stdout);
			return 0;
		}
		else if (strcmp(argv[i], "--window") == 0 && i + 1 < argc)
			window = argv[++i];
		else if (strcmp(argv[i], "--format") == 0 && i + 1 < argc)
			format = argv[++i];
		else
		{
			usage_report(stderr);
			return EXIT_USAGE;
		}
	}
	if (strcmp(format, "text") != 0 && strcmp(format, "json") != 0)
	{
		fprintf(stderr, "ppprof: --format must be text or json\n");
		return EXIT_USAGE;
	}
	iv = window_interval(window);
	conn = connect_db();
	text = query_value(conn, "SELECT pp_optimization_report($1::interval)::text", iv);
	PQfinish(conn);
	r = json_loads(text, 0, &jerr);
	if (r == NULL)
	{
		fprintf(stderr, "ppprof: the report is not JSON: %s\n", jerr.text);
		return EXIT_USAGE;
	}
	if (strcmp(format, "json") == 0)
	{
		char	   *pretty = json_dumps(r, JSON_INDENT(2) | JSON_PRESERVE_ORDER);

		printf("%s\n", pretty);
		free(pretty);
	}
	else
		print_report_text(r);
	json_decref(r);
	free(text);
	free(iv);
	return 0;
}

/* ---- check ---- */

static int
cmd_check(int argc, char **argv)
{
	const char *baseline = NULL;
	const char *window = "1h";
	const char *metric = "p95";
	double		max_pct = 10;
	char	   *iv;
	char		sql[1024];
	const char *values[2];
	PGconn	   *conn;
	PGresult   *res;
	int			i,
				n,
				regressions = 0;

	for (i = 0; i < argc; i++)
	{
		if (strcmp(argv[i], "--help") == 0)
		{
			usage_check(stdout);
			return 0;
		}
		else if (strcmp(argv[i], "--baseline") == 0 && i + 1 < argc)
			baseline = argv[++i];
		else if (strcmp(argv[i], "--window") == 0 && i + 1 < argc)
			window = argv[++i];
		else if (strcmp(argv[i], "--metric") == 0 && i + 1 < argc)
			metric = argv[++i];
		else if (strcmp(argv[i], "--max-regression") == 0 && i + 1 < argc)
		{
			char	   *end;

			max_pct = strtod(argv[++i], &end);
			if (end == argv[i] || (*end != '\0' && strcmp(end, "%") != 0) || max_pct < 0)
			{
				fprintf(stderr, "ppprof: --max-regression takes a percentage such as 10%%\n");
				return EXIT_USAGE;
			}
		}
		else
		{
			usage_check(stderr);
			return EXIT_USAGE;
		}
	}
	if (baseline == NULL)
	{
		usage_check(stderr);
		return EXIT_USAGE;
	}
	if (strcmp(metric, "p95") != 0 && strcmp(metric, "p99") != 0 &&
		strcmp(metric, "p50") != 0 && strcmp(metric, "avg") != 0)
	{
		fprintf(stderr, "ppprof: --metric must be p95, p99, p50 or avg\n");
		return EXIT_USAGE;
	}
	iv = window_interval(window);
	conn = connect_db();

	/* the baseline must exist */
	values[0] = baseline;
	res = PQexecParams(conn, "SELECT 1 FROM performance_baselines WHERE name = $1",
					   1, NULL, values, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1)
	{
		fprintf(stderr, "ppprof: baseline \"%s\" does not exist%s%s", baseline,
				PQresultStatus(res) == PGRES_TUPLES_OK ? "\n" : ": ",
				PQresultStatus(res) == PGRES_TUPLES_OK ? "" : PQerrorMessage(conn));
		PQclear(res);
		PQfinish(conn);
		return EXIT_USAGE;
	}
	PQclear(res);

	snprintf(sql, sizeof(sql),
			 "SELECT o.operation, o.%s_ms, c.%s_ms, c.calls"
			 "  FROM performance_baseline_operations o"
			 "  JOIN pp_operation_stats($2::interval) c ON c.operation = o.operation"
			 " WHERE o.baseline = $1 ORDER BY o.operation",
			 metric, metric);
	values[1] = iv;
	res = PQexecParams(conn, sql, 2, NULL, values, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
	{
		fprintf(stderr, "ppprof: %s", PQerrorMessage(conn));
		PQclear(res);
		PQfinish(conn);
		return EXIT_USAGE;
	}
	n = PQntuples(res);
	printf("%-28s %12s %12s %9s  %s\n", "operation", "baseline ms", "now ms", "change", "");
	for (i = 0; i < n; i++)
	{
		double		b = atof(PQgetvalue(res, i, 1));
		double		c = atof(PQgetvalue(res, i, 2));
		double		pct = b > 0 ? 100.0 * (c - b) / b : 0;
		bool		bad = pct > max_pct;

		regressions += bad;
		printf("%-28.28s %12.2f %12.2f %+8.1f%%  %s\n", PQgetvalue(res, i, 0), b, c, pct,
			   bad ? "REGRESSION" : "ok");
	}
	PQclear(res);
	PQfinish(conn);
	printf("\n%s of %d operations compared: %d over the %g%% limit (%s, window %s, baseline \"%s\")\n",
		   metric, n, regressions, max_pct, metric, iv, baseline);
	free(iv);
	return regressions > 0 ? EXIT_REGRESSION : 0;
}

int
main(int argc, char **argv)
{
	int			i = 1;

	while (i < argc && argv[i][0] == '-')
	{
		if (strcmp(argv[i], "--dsn") == 0 && i + 1 < argc)
		{
			dsn = argv[i + 1];
			i += 2;
		}
		else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
		{
			usage_main(stdout);
			return 0;
		}
		else if (strcmp(argv[i], "--version") == 0)
		{
			printf("ppprof 1.1\n");
			return 0;
		}
		else
		{
			usage_main(stderr);
			return EXIT_USAGE;
		}
	}
	if (i >= argc)
	{
		usage_main(stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[i], "ingest") == 0)
		return cmd_ingest(argc - i - 1, argv + i + 1);
	if (strcmp(argv[i], "report") == 0)
		return cmd_report(argc - i - 1, argv + i + 1);
	if (strcmp(argv[i], "check") == 0)
		return cmd_check(argc - i - 1, argv + i + 1);
	fprintf(stderr, "ppprof: unknown command \"%s\"\n\n", argv[i]);
	usage_main(stderr);
	return EXIT_USAGE;
}
