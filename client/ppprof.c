/*-------------------------------------------------------------------------
 *
 * client/ppprof.c
 *	  The ppprof command: its options and commands; ingest and check are
 *	  here, the report in report.c, show, top and flamegraph in views.c,
 *	  collect in collect.c.
 *
 *	ppprof [--dsn DSN] ingest FILE.jsonl [--batch N]
 *	ppprof [--dsn DSN] ingest --format otlp FILE
 *	ppprof [--dsn DSN] collect [--listen HOST:PORT] [--max-body BYTES] ...
 *	ppprof [--dsn DSN] report [--window 24h] [--format text|json|html]
 *	ppprof [--dsn DSN] show ID
 *	ppprof [--dsn DSN] top [--window 24h]
 *	ppprof [--dsn DSN] flamegraph (--profile ID | --window 1h |
 *	       --before RANGE --after RANGE)
 *	ppprof [--dsn DSN] check --baseline NAME [--window 1h]
 *	       [--max-regression 10%] [--metric p95|p99|avg|p50]
 *	ppprof --version
 *
 * The connection comes from the libpq environment (PGHOST, PGDATABASE, ...)
 * unless --dsn gives a connection string.  Exit status: 0 success, 1 a
 * regression (check) or a failed ingest, 2 a usage or connection error.
 * An option error says what is wrong, then prints the usage.
 *
 * The extension's schema is looked up once (connection.c) and every name
 * the statements use is qualified, so that neither the schema the extension
 * lives in nor what the search_path holds changes what runs.  What does
 * not come from the command is printed escaped (cli_util.c).
 *
 * --version prints PPPROF_VERSION, the extension's default_version in
 * ppprof.control, which client/Makefile passes when it builds the command:
 * the command and the extension of one build say the same version.
 *
 *-------------------------------------------------------------------------
 */
#define _GNU_SOURCE				/* asprintf */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "collect.h"

static void
usage_main(FILE *f)
{
	fprintf(f,
			"ppprof %s: the command-line client of the ppprof PostgreSQL extension\n\n"
			"Usage:\n"
			"  ppprof [--dsn DSN] ingest FILE.jsonl [--batch N]\n"
			"  ppprof [--dsn DSN] ingest --format otlp FILE\n"
			"  ppprof [--dsn DSN] collect [--listen HOST:PORT] [--max-body BYTES]\n"
			"  ppprof [--dsn DSN] report [--window 24h] [--format text|json|html]\n"
			"  ppprof [--dsn DSN] show ID\n"
			"  ppprof [--dsn DSN] top [--window 24h] [--limit N]\n"
			"  ppprof [--dsn DSN] flamegraph (--profile ID | --window 1h |\n"
			"                                 --before RANGE --after RANGE) > out.svg\n"
			"  ppprof [--dsn DSN] check --baseline NAME [--window 1h] [--max-regression 10%%]\n"
			"         [--metric p95|p99|p50|avg]\n"
			"  ppprof --version\n"
			"  ppprof COMMAND --help\n\n"
			"The connection comes from the libpq environment (PGHOST, PGPORT, PGDATABASE,\n"
			"PGUSER, ...) unless --dsn gives a connection string.\n", PPPROF_VERSION);
}

static void
usage_ingest(FILE *f)
{
	fprintf(f,
			"Usage: ppprof [--dsn DSN] ingest FILE.jsonl [--batch N]\n"
			"       ppprof [--dsn DSN] ingest --format otlp FILE\n\n"
			"Stores one profile (a TimingRecord JSON object) per line of FILE (\"-\" reads\n"
			"standard input) through pp_ingest_jsonl, N profiles per batch (default 500).\n"
			"Blank lines are skipped.  A line that is not a JSON object stops the run before\n"
			"anything is sent; a batch the server refuses stops it after the batches already\n"
			"stored.  Shows a progress bar when standard error is a terminal.\n\n"
			"--format otlp reads OpenTelemetry's file exporter format instead: one OTLP/JSON\n"
			"TracesData (ExportTraceServiceRequest) per line, each sent as it is to\n"
			"pp_ingest_otlp.  Exits 1 when a line is refused or spans were rejected.\n");
}

static void
usage_check(FILE *f)
{
	fprintf(f,
			"Usage: ppprof [--dsn DSN] check --baseline NAME [--window 1h]\n"
			"       [--max-regression 10%%] [--metric p95|p99|p50|avg]\n\n"
			"Compares every operation of the window with the baseline NAME (captured with\n"
			"pp_capture_baseline) and exits 1 when the metric of any operation rose by more\n"
			"than the maximum regression; 0 otherwise.  The regressions come first, the\n"
			"largest change first, then the other operations by name.  For CI/CD pipelines.\n");
}

/* Run a one-parameter query that returns one text value; NULL (said) on error. */
static char *
query_value(PGconn *conn, const char *sql, const char *param)
{
	const char *values[1] = {param};
	PGresult   *res = cli_query(conn, sql, param ? 1 : 0, values);
	char	   *v;

	if (res == NULL)
		return NULL;
	if (PQntuples(res) != 1)
	{
		fprintf(stderr, "ppprof: the server returned %d rows where one was expected\n",
				PQntuples(res));
		PQclear(res);
		return NULL;
	}
	v = cli_checked(strdup(PQgetvalue(res, 0, 0)));
	PQclear(res);
	return v;
}

/* ---- ingest ---- */

/*
 * ingest --format otlp: every line of f (already opened from path) is one
 * OTLP/JSON request, sent as it is to pp_ingest_otlp, so that the spans of
 * one export stay in one call.  Every line is checked before anything is
 * sent.
 */
static int
ingest_otlp(FILE *f, const char *path)
{
	char	   *line = NULL;
	size_t		cap = 0;
	ssize_t		len;
	long		lineno = 0;
	long		requests = 0;
	long long	accepted = 0,
				rejected = 0,
				stored = 0,
				updated = 0;
	char	   *first_error = NULL;
	long		first_error_line = 0;
	char	   *sql;
	PGconn	   *conn;
	int			rc = 0;
	FILE	   *copy = NULL;
	char	   *copy_buf = NULL;
	size_t		copy_len = 0;

	/* check every line first; standard input is kept to be read again */
	if (f == stdin)
	{
		copy = open_memstream(&copy_buf, &copy_len);
		if (copy == NULL)
		{
			fprintf(stderr, "ppprof: out of memory\n");
			return EXIT_USAGE;
		}
	}
	while ((len = getline(&line, &cap, f)) >= 0)
	{
		json_error_t jerr;
		json_t	   *doc;

		lineno++;
		if (copy)
			fwrite(line, 1, (size_t) len, copy);
		if (strspn(line, " \t\r\n") == (size_t) len)
			continue;
		doc = json_loadb(line, (size_t) len, JSON_DECODE_INT_AS_REAL, &jerr);
		if (doc == NULL || !json_is_object(doc))
		{
			fprintf(stderr, "ppprof: line %ld of \"%s\" is not a JSON object%s%s\n",
					lineno, cli_esc(path), doc ? "" : ": ", doc ? "" : cli_esc(jerr.text));
			json_decref(doc);
			free(line);
			if (copy)
				fclose(copy);
			free(copy_buf);
			return EXIT_REGRESSION;
		}
		json_decref(doc);
	}
	if (copy)
	{
		fclose(copy);
		f = fmemopen(copy_buf, copy_len ? copy_len : 1, "r");
		if (f == NULL)
		{
			fprintf(stderr, "ppprof: out of memory\n");
			free(copy_buf);
			return EXIT_USAGE;
		}
	}
	else
		rewind(f);

	conn = cli_connect();
	sql = cli_sql("SELECT %s.pp_ingest_otlp($1::pg_catalog.jsonb)::pg_catalog.text",
					 cli_ext.schema);
	lineno = 0;
	while ((len = getline(&line, &cap, f)) >= 0)
	{
		char	   *result;
		json_t	   *r;

		lineno++;
		if (strspn(line, " \t\r\n") == (size_t) len)
			continue;
		result = query_value(conn, sql, line);
		if (result == NULL)
		{
			fprintf(stderr, "ppprof: line %ld of \"%s\" was refused; %ld lines were stored before it\n",
					lineno, cli_esc(path), requests);
			rc = EXIT_REGRESSION;
			break;
		}
		requests++;
		r = json_loads(result, 0, NULL);
		accepted += json_integer_value(json_object_get(r, "accepted_spans"));
		rejected += json_integer_value(json_object_get(r, "rejected_spans"));
		stored += json_integer_value(json_object_get(r, "profiles_stored"));
		updated += json_integer_value(json_object_get(r, "profiles_updated"));
		if (first_error == NULL && json_is_string(json_object_get(r, "error_message")))
		{
			first_error = cli_checked(strdup(json_string_value(json_object_get(r, "error_message"))));
			first_error_line = lineno;
		}
		json_decref(r);
		free(result);
	}
	printf("%ld requests: %lld spans accepted, %lld rejected; %lld profiles stored, %lld updated\n",
		   requests, accepted, rejected, stored, updated);
	if (first_error)
	{
		fprintf(stderr, "ppprof: line %ld: %s\n", first_error_line, cli_esc_msg(first_error));
		if (rc == 0)
			rc = EXIT_REGRESSION;
	}
	free(first_error);
	free(sql);
	free(line);
	fclose(f);
	free(copy_buf);
	PQfinish(conn);
	return rc;
}

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
send_batch(PGconn *conn, const char *sql, const char *batch, long first_line,
		   long last_line)
{
	const char *values[1] = {batch};
	PGresult   *res = PQexecParams(conn, sql, 1, NULL, values, NULL, NULL, 0);

	if (PQresultStatus(res) != PGRES_TUPLES_OK)
	{
		fprintf(stderr, "\nppprof: the batch of lines %ld to %ld was refused"
				" (its line 1 is line %ld of the file): %s",
				first_line, last_line, first_line, cli_esc_msg(PQerrorMessage(conn)));
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
	const char *format = "profiles";
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
	char	   *sql;
	PGconn	   *conn;
	int			i;

	for (i = 0; i < argc; i++)
	{
		if (strcmp(argv[i], "--help") == 0)
		{
			usage_ingest(stdout);
			return 0;
		}
		else if (strcmp(argv[i], "--batch") == 0)
		{
			const char *v = cli_option_value(argc, argv, &i, usage_ingest);
			char	   *end;

			batch_size = strtol(v, &end, 10);
			if (end == v || *end != '\0' || batch_size < 1 || batch_size > 100000)
				cli_usage_error(usage_ingest, "--batch must be a number between 1 and 100000, not \"%s\"",
								cli_esc(v));
		}
		else if (strcmp(argv[i], "--format") == 0)
		{
			format = cli_option_value(argc, argv, &i, usage_ingest);
			if (strcmp(format, "profiles") != 0 && strcmp(format, "otlp") != 0)
				cli_usage_error(usage_ingest, "--format must be profiles or otlp, not \"%s\"",
								cli_esc(format));
		}
		else if (argv[i][0] == '-' && strcmp(argv[i], "-") != 0)
			cli_usage_error(usage_ingest, "unknown option \"%s\" for ingest", cli_esc(argv[i]));
		else if (path == NULL)
			path = argv[i];
		else
			cli_usage_error(usage_ingest, "ingest reads one file; \"%s\" is a second one",
							cli_esc(argv[i]));
	}
	if (path == NULL)
		cli_usage_error(usage_ingest, "ingest needs a FILE (\"-\" for standard input)");

	f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
	if (f == NULL)
	{
		fprintf(stderr, "ppprof: could not open \"%s\": %s\n", cli_esc(path), strerror(errno));
		return EXIT_USAGE;
	}
	if (strcmp(format, "otlp") == 0)
		return ingest_otlp(f, path);
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
					lineno, cli_esc(path), doc ? "" : ": ", doc ? "" : cli_esc(jerr.text));
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

	conn = cli_connect();
	if (!cli_ext.has_jsonl)
	{
		fprintf(stderr, "ppprof: ingest needs pp_ingest_jsonl, which this ppprof does not have: install ppprof 1.3 (docs/install.md, \"Upgrading\")\n");
		free(batch);
		free(line);
		fclose(f);
		free(stdin_copy);
		PQfinish(conn);
		return EXIT_USAGE;
	}
	sql = cli_sql("SELECT %s.pp_ingest_jsonl($1::pg_catalog.text)", cli_ext.schema);
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
			if (send_batch(conn, sql, batch, first_line, lineno) != 0)
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
		if (send_batch(conn, sql, batch, first_line, lineno) != 0)
			goto failed;
		stored += in_batch;
	}
	if (tty)
	{
		progress(total, total, stored);
		fputc('\n', stderr);
	}
	printf("stored %ld profiles\n", stored);
	free(sql);
	free(batch);
	free(line);
	fclose(f);
	free(stdin_copy);
	PQfinish(conn);
	return 0;

failed:
	fprintf(stderr, "ppprof: %ld profiles were stored before the failure\n", stored);
	free(sql);
	free(batch);
	free(line);
	fclose(f);
	free(stdin_copy);
	PQfinish(conn);
	return EXIT_REGRESSION;
}

/* ---- check ---- */

/* One operation of check: its values, and whether it regressed. */
typedef struct check_row
{
	const char *operation;
	double		baseline_ms;
	double		now_ms;
	double		change_pct;
	const char *calls_before;
	const char *calls_now;
	bool		regression;
} check_row;

/* Regressions first, the largest change first; then by name. */
static int
check_row_cmp(const void *a, const void *b)
{
	const check_row *x = a;
	const check_row *y = b;

	if (x->regression != y->regression)
		return x->regression ? -1 : 1;
	if (x->regression && x->change_pct != y->change_pct)
		return x->change_pct > y->change_pct ? -1 : 1;
	return strcmp(x->operation, y->operation);
}

static int
cmd_check(int argc, char **argv)
{
	const char *baseline = NULL;
	const char *window = "1h";
	const char *metric = "p95";
	double		max_pct = 10;
	char	   *iv;
	char	   *sql;
	const char *values[2];
	PGconn	   *conn;
	PGresult   *res;
	check_row  *rows;
	int			name_w = (int) strlen("operation");
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
		else if (strcmp(argv[i], "--baseline") == 0)
			baseline = cli_option_value(argc, argv, &i, usage_check);
		else if (strcmp(argv[i], "--window") == 0)
			window = cli_option_value(argc, argv, &i, usage_check);
		else if (strcmp(argv[i], "--metric") == 0)
			metric = cli_option_value(argc, argv, &i, usage_check);
		else if (strcmp(argv[i], "--max-regression") == 0)
		{
			const char *v = cli_option_value(argc, argv, &i, usage_check);
			char	   *end;

			max_pct = strtod(v, &end);
			if (end == v || (*end != '\0' && strcmp(end, "%") != 0) || max_pct < 0)
				cli_usage_error(usage_check, "--max-regression takes a percentage such as 10%%, not \"%s\"",
								cli_esc(v));
		}
		else
			cli_usage_error(usage_check, "unknown argument \"%s\" for check", cli_esc(argv[i]));
	}
	if (baseline == NULL)
		cli_usage_error(usage_check, "check needs --baseline NAME");
	if (strcmp(metric, "p95") != 0 && strcmp(metric, "p99") != 0 &&
		strcmp(metric, "p50") != 0 && strcmp(metric, "avg") != 0)
		cli_usage_error(usage_check, "--metric must be p95, p99, p50 or avg, not \"%s\"",
						cli_esc(metric));
	iv = cli_window_interval(window);
	conn = cli_connect();

	/* the baseline must exist */
	values[0] = baseline;
	sql = cli_sql("SELECT 1 FROM %s.performance_baselines"
				  " WHERE name OPERATOR(pg_catalog.=) $1::pg_catalog.text",
				  cli_ext.schema);
	res = PQexecParams(conn, sql, 1, NULL, values, NULL, NULL, 0);
	free(sql);
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1)
	{
		fprintf(stderr, "ppprof: baseline \"%s\" does not exist%s%s", cli_esc(baseline),
				PQresultStatus(res) == PGRES_TUPLES_OK ? "\n" : ": ",
				PQresultStatus(res) == PGRES_TUPLES_OK ? "" : cli_esc_msg(PQerrorMessage(conn)));
		PQclear(res);
		PQfinish(conn);
		free(iv);
		return EXIT_USAGE;
	}
	PQclear(res);

	/* metric is one of four words checked above */
	sql = cli_sql("SELECT o.operation, o.%s_ms, c.%s_ms, o.calls, c.calls"
				  "  FROM %s.performance_baseline_operations o"
				  "  JOIN %s.pp_operation_stats($2::pg_catalog.interval) c"
				  "    ON c.operation OPERATOR(pg_catalog.=) o.operation"
				  " WHERE o.baseline OPERATOR(pg_catalog.=) $1::pg_catalog.text",
				  metric, metric, cli_ext.schema, cli_ext.schema);
	values[1] = iv;
	res = cli_query(conn, sql, 2, values);
	free(sql);
	if (res == NULL)
	{
		PQfinish(conn);
		free(iv);
		return EXIT_USAGE;
	}
	n = PQntuples(res);
	rows = cli_checked(calloc((size_t) n + 1, sizeof(check_row)));
	for (i = 0; i < n; i++)
	{
		check_row  *r = &rows[i];
		int			w = (int) cli_text_width(PQgetvalue(res, i, 0));

		r->operation = PQgetvalue(res, i, 0);
		r->baseline_ms = atof(PQgetvalue(res, i, 1));
		r->now_ms = atof(PQgetvalue(res, i, 2));
		r->calls_before = PQgetvalue(res, i, 3);
		r->calls_now = PQgetvalue(res, i, 4);
		r->change_pct = r->baseline_ms > 0 ? 100.0 * (r->now_ms - r->baseline_ms) / r->baseline_ms : 0;
		r->regression = r->change_pct > max_pct;
		regressions += r->regression;
		if (w > name_w)
			name_w = w;
	}
	qsort(rows, (size_t) n, sizeof(check_row), check_row_cmp);
	printf("%-*s  %11s %11s %8s %14s %14s  %s\n", name_w, "operation",
		   "baseline ms", "now ms", "change", "baseline calls", "calls now", "");
	for (i = 0; i < n; i++)
	{
		check_row  *r = &rows[i];
		char		change[32];

		snprintf(change, sizeof(change), "%s%s%%", r->change_pct >= 0 ? "+" : "",
				 cli_num(r->change_pct));
		cli_print_cell(r->operation, name_w, true);
		printf("  %11s %11s %8s %14s %14s  %s\n", cli_num(r->baseline_ms), cli_num(r->now_ms),
			   change, r->calls_before, r->calls_now, r->regression ? "REGRESSION" : "ok");
	}
	printf("\n%s of %d operations compared: %d over the %g%% limit (window %s, baseline \"%s\")\n",
		   metric, n, regressions, max_pct, cli_esc(iv), cli_esc(baseline));
	free(rows);
	PQclear(res);
	PQfinish(conn);
	free(iv);
	return regressions > 0 ? EXIT_REGRESSION : 0;
}

int
main(int argc, char **argv)
{
	const struct
	{
		const char *name;
		int			(*run) (int argc, char **argv);
	}			commands[] = {
		{"ingest", cmd_ingest},
		{"report", cli_report},
		{"show", cli_show},
		{"top", cli_top},
		{"flamegraph", cli_flamegraph},
		{"check", cmd_check},
	};
	int			i = 1;
	size_t		c;

	while (i < argc && argv[i][0] == '-')
	{
		if (strcmp(argv[i], "--dsn") == 0)
			cli_dsn = cli_option_value(argc, argv, &i, usage_main);
		else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
		{
			usage_main(stdout);
			return 0;
		}
		else if (strcmp(argv[i], "--version") == 0 || strcmp(argv[i], "-V") == 0)
		{
			printf("ppprof %s\n", PPPROF_VERSION);
			return 0;
		}
		else
			cli_usage_error(usage_main, "unknown option \"%s\"", cli_esc(argv[i]));
		i++;
	}
	if (i >= argc)
		cli_usage_error(usage_main, "no command given");
	if (strcmp(argv[i], "collect") == 0)
		return collect_main(argc - i - 1, argv + i + 1, cli_dsn);
	for (c = 0; c < sizeof(commands) / sizeof(commands[0]); c++)
		if (strcmp(argv[i], commands[c].name) == 0)
			return commands[c].run(argc - i - 1, argv + i + 1);
	cli_usage_error(usage_main, "unknown command \"%s\"", cli_esc(argv[i]));
}
