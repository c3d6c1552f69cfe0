/*-------------------------------------------------------------------------
 *
 * client/ppprof.c
 *	  The ppprof command: ingest JSON-lines profiles, print the optimization
 *	  report, and check a window against a baseline for CI/CD.
 *
 *	ppprof [--dsn DSN] ingest FILE.jsonl [--batch N]
 *	ppprof [--dsn DSN] ingest --format otlp FILE
 *	ppprof [--dsn DSN] collect [--listen HOST:PORT] [--max-body BYTES] ...
 *	ppprof [--dsn DSN] report [--window 24h] [--format text|json]
 *	ppprof [--dsn DSN] check --baseline NAME [--window 1h]
 *	       [--max-regression 10%] [--metric p95|p99|avg|p50]
 *
 * The connection comes from the libpq environment (PGHOST, PGDATABASE, ...)
 * unless --dsn gives a connection string.  Exit status: 0 success, 1 a
 * regression (check) or a failed ingest, 2 a usage or connection error.
 *
 * The extension's schema is looked up once (connection.c) and every name
 * the statements use is qualified, so that neither the schema the extension
 * lives in nor what the search_path holds changes what runs.
 *
 * Operation names, baseline names, server messages and everything else
 * that does not come from this file are printed escaped: a name such as
 * "llm\e[2J" must show as text, never clear the terminal.  In text output,
 * C0 controls, DEL and bytes that are not UTF-8 are written \xNN, C1
 * controls (U+0080 to U+009F) \u00NN, and the backslash \\, so that an
 * escape is never mistaken for a name that spells one.  JSON output stays
 * JSON: jansson escapes C0 controls, and DEL and C1 controls, which JSON
 * allows raw inside strings, are written \u00NN too.
 *
 *-------------------------------------------------------------------------
 */
#define _GNU_SOURCE				/* asprintf */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <libpq-fe.h>

#include "client_internal.h"
#include "collect.h"

#define EXIT_REGRESSION 1
#define EXIT_USAGE 2

static const char *dsn = "";
static pp__extension_t ext;		/* found by connect_db */

/* ---- printing text that does not come from this file ---- */

static void *
checked(void *p)
{
	if (p == NULL)
	{
		fprintf(stderr, "ppprof: out of memory\n");
		exit(EXIT_USAGE);
	}
	return p;
}

/*
 * The escaped form of the character at s (n > 0 bytes left) into buf (at
 * least 7 bytes); returns its length, and in *used the bytes of s it stands
 * for.  layout: newlines and tabs are kept (the layout of a message of
 * libpq or the server, which holds them).
 */
static size_t
escape_char(const char *s, size_t n, bool layout, char *buf, size_t *used)
{
	const unsigned char *u = (const unsigned char *) s;
	size_t		len = pp__utf8_sequence(u, n);

	*used = len ? len : 1;
	if (len == 0 || (len == 1 && (u[0] < 0x20 || u[0] == 0x7f) &&
					 !(layout && (u[0] == '\n' || u[0] == '\t'))))
		return (size_t) sprintf(buf, "\\x%02x", u[0]);
	if (len == 1 && u[0] == '\\')
		return (size_t) sprintf(buf, "\\\\");
	if (len == 2 && u[0] == 0xC2 && u[1] < 0xA0)
		return (size_t) sprintf(buf, "\\u%04x", u[1]);	/* C1: U+0080..U+009F */
	memcpy(buf, s, len);
	return len;
}

/*
 * s escaped (malloc'd), at most max characters of it (an escape counts its
 * characters and is never cut, nor is a UTF-8 sequence); *width (when not
 * NULL) receives the characters written.
 */
static char *
escape_text(const char *s, bool layout, size_t max, size_t *width)
{
	size_t		len = strlen(s);
	char	   *out = checked(malloc(6 * len + 1));
	char	   *p = out;
	size_t		chars = 0;
	size_t		i = 0;

	while (i < len)
	{
		char		buf[8];
		size_t		used;
		size_t		n = escape_char(s + i, len - i, layout, buf, &used);
		size_t		c = buf[0] == '\\' ? n : 1;	/* an escape is all ASCII */

		if (chars + c > max)
			break;
		memcpy(p, buf, n);
		p += n;
		chars += c;
		i += used;
	}
	*p = '\0';
	if (width)
		*width = chars;
	return out;
}

/*
 * escape_text for a printf argument: the string lives until eight more have
 * been made, so that a call can print several.
 */
static const char *
keep(char *escaped)
{
	static char *ring[8];
	static int	next;

	free(ring[next]);
	ring[next] = escaped;
	next = (next + 1) % 8;
	return escaped;
}

/* One line of text from elsewhere: a name, a path, a JSON error. */
static const char *
esc(const char *s)
{
	return keep(escape_text(s ? s : "", false, SIZE_MAX, NULL));
}

/* A message of libpq or the server: its lines and tabs stay. */
static const char *
esc_msg(const char *s)
{
	return keep(escape_text(s ? s : "", true, SIZE_MAX, NULL));
}

/* s escaped in a column of width characters, cut to fit. */
static void
print_cell(const char *s, int width, bool left)
{
	size_t		w;
	char	   *e = escape_text(s ? s : "", false, (size_t) width, &w);

	if (left)
		printf("%s%*s", e, width - (int) w, "");
	else
		printf("%*s%s", width - (int) w, "", e);
	free(e);
}

/*
 * jansson's JSON text (UTF-8, C0 controls escaped) with DEL and the C1
 * controls as \u escapes: the same JSON values, shown by a terminal rather
 * than obeyed.  In UTF-8, 0xC2 only ever starts a character, so a C1
 * control is 0xC2 0x80..0x9F wherever it appears.
 */
static char *
json_terminal_safe(const char *j)
{
	size_t		len = strlen(j);
	char	   *out = checked(malloc(6 * len + 1));
	char	   *p = out;
	size_t		i;

	for (i = 0; i < len; i++)
	{
		const unsigned char c = (unsigned char) j[i];

		if (c == 0x7f)
			p += sprintf(p, "\\u007f");
		else if (c == 0xC2 && i + 1 < len && (unsigned char) j[i + 1] < 0xA0 &&
				 (unsigned char) j[i + 1] >= 0x80)
			p += sprintf(p, "\\u%04x", (unsigned char) j[++i]);
		else
			*p++ = (char) c;
	}
	*p = '\0';
	return out;
}

/* A JSON value as terminal-safe compact JSON text (malloc'd). */
static char *
json_text(const json_t *v, size_t flags)
{
	char	   *raw = checked(json_dumps(v, flags | JSON_ENCODE_ANY));
	char	   *safe = json_terminal_safe(raw);

	free(raw);
	return safe;
}

/* A statement, the extension's schema written in by the caller (malloc'd). */
static char *
sql_printf(const char *fmt,...)
__attribute__((format(printf, 1, 2)));

static char *
sql_printf(const char *fmt,...)
{
	va_list		ap;
	char	   *out;
	int			n;

	va_start(ap, fmt);
	n = vasprintf(&out, fmt, ap);
	va_end(ap);
	return checked(n < 0 ? NULL : out);
}

static void
usage_main(FILE *f)
{
	fprintf(f,
			"ppprof: the command-line client of the ppprof PostgreSQL extension\n\n"
			"Usage:\n"
			"  ppprof [--dsn DSN] ingest FILE.jsonl [--batch N]\n"
			"  ppprof [--dsn DSN] ingest --format otlp FILE\n"
			"  ppprof [--dsn DSN] collect [--listen HOST:PORT] [--max-body BYTES]\n"
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

/* Connect, and find the extension (ext); exits when either fails. */
static PGconn *
connect_db(void)
{
	PGconn	   *conn = pp__connect(dsn);
	char		why[256];

	if (PQstatus(conn) != CONNECTION_OK)
	{
		fprintf(stderr, "ppprof: could not connect: %s", esc_msg(PQerrorMessage(conn)));
		PQfinish(conn);
		exit(EXIT_USAGE);
	}
	if (!pp__find_extension(conn, &ext, why, sizeof(why)))
	{
		fprintf(stderr, "ppprof: %s\n", esc(why));
		PQfinish(conn);
		exit(EXIT_USAGE);
	}
	return conn;
}

/* Run a one-parameter query that returns one text value; NULL (said) on error. */
static char *
query_value(PGconn *conn, const char *sql, const char *param)
{
	const char *values[1] = {param};
	PGresult   *res = PQexecParams(conn, sql, param ? 1 : 0, NULL, values, NULL, NULL, 0);
	char	   *v;

	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1)
	{
		fprintf(stderr, "ppprof: %s", esc_msg(PQerrorMessage(conn)));
		PQclear(res);
		return NULL;
	}
	v = checked(strdup(PQgetvalue(res, 0, 0)));
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
					lineno, esc(path), doc ? "" : ": ", doc ? "" : esc(jerr.text));
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

	conn = connect_db();
	sql = sql_printf("SELECT %s.pp_ingest_otlp($1::pg_catalog.jsonb)::pg_catalog.text",
					 ext.schema);
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
					lineno, esc(path), requests);
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
			first_error = checked(strdup(json_string_value(json_object_get(r, "error_message"))));
			first_error_line = lineno;
		}
		json_decref(r);
		free(result);
	}
	printf("%ld requests: %lld spans accepted, %lld rejected; %lld profiles stored, %lld updated\n",
		   requests, accepted, rejected, stored, updated);
	if (first_error)
	{
		fprintf(stderr, "ppprof: line %ld: %s\n", first_error_line, esc_msg(first_error));
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
				first_line, last_line, first_line, esc_msg(PQerrorMessage(conn)));
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
		else if (strcmp(argv[i], "--batch") == 0 && i + 1 < argc)
		{
			batch_size = strtol(argv[++i], NULL, 10);
			if (batch_size < 1 || batch_size > 100000)
			{
				fprintf(stderr, "ppprof: --batch must be between 1 and 100000\n");
				return EXIT_USAGE;
			}
		}
		else if (strcmp(argv[i], "--format") == 0 && i + 1 < argc)
		{
			format = argv[++i];
			if (strcmp(format, "profiles") != 0 && strcmp(format, "otlp") != 0)
			{
				fprintf(stderr, "ppprof: --format must be profiles or otlp\n");
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
		fprintf(stderr, "ppprof: could not open \"%s\": %s\n", esc(path), strerror(errno));
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
					lineno, esc(path), doc ? "" : ": ", doc ? "" : esc(jerr.text));
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
	if (!ext.has_jsonl)
	{
		fprintf(stderr, "ppprof: ingest needs pp_ingest_jsonl, which this ppprof does not have: install ppprof 1.3 (docs/install.md, \"Upgrading\")\n");
		free(batch);
		free(line);
		fclose(f);
		free(stdin_copy);
		PQfinish(conn);
		return EXIT_USAGE;
	}
	sql = sql_printf("SELECT %s.pp_ingest_jsonl($1::pg_catalog.text)", ext.schema);
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
			char	   *s = json_is_string(v) ? NULL : json_text(v, JSON_COMPACT);

			printf("  ");
			print_cell(key, 28, true);
			printf(" %s\n", s ? s : esc(json_string_value(v)));
			free(s);
		}
	}
	printf("\nBottlenecks\n\n  %-28s %-20s %7s %8s %10s %10s  %s\n",
		   "operation", "type", "impact", "priority", "avg ms", "p95 ms", "patterns");
	json_array_foreach(bottlenecks, i, b)
	{
		json_t	   *pats = json_object_get(b, "patterns");
		char	   *p = pats ? json_text(pats, JSON_COMPACT) : NULL;

		printf("  ");
		print_cell(json_string_value(json_object_get(b, "operation")), 28, true);
		printf(" ");
		print_cell(json_string_value(json_object_get(b, "operation_type")), 20, true);
		printf(" %7.1f ", json_number_value(json_object_get(b, "impact_score")));
		print_cell(json_string_value(json_object_get(b, "priority")), 8, false);
		printf(" %10.1f %10.1f  %s\n",
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
			   esc(json_string_value(json_object_get(b, "operation"))),
			   esc(json_string_value(json_object_get(b, "suggestion"))),
			   esc(json_string_value(json_object_get(b, "effort_estimate")) ?: "?"));
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
	char	   *sql;
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
	sql = sql_printf("SELECT %s.pp_optimization_report($1::pg_catalog.interval)::pg_catalog.text",
					 ext.schema);
	text = query_value(conn, sql, iv);
	free(sql);
	PQfinish(conn);
	if (text == NULL)
	{
		free(iv);
		return EXIT_USAGE;
	}
	r = json_loads(text, 0, &jerr);
	if (r == NULL)
	{
		fprintf(stderr, "ppprof: the report is not JSON: %s\n", esc(jerr.text));
		free(text);
		free(iv);
		return EXIT_USAGE;
	}
	if (strcmp(format, "json") == 0)
	{
		char	   *pretty = json_text(r, JSON_INDENT(2) | JSON_PRESERVE_ORDER);

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
	char	   *sql;
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
	sql = sql_printf("SELECT 1 FROM %s.performance_baselines"
					 " WHERE name OPERATOR(pg_catalog.=) $1::pg_catalog.text",
					 ext.schema);
	res = PQexecParams(conn, sql, 1, NULL, values, NULL, NULL, 0);
	free(sql);
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1)
	{
		fprintf(stderr, "ppprof: baseline \"%s\" does not exist%s%s", esc(baseline),
				PQresultStatus(res) == PGRES_TUPLES_OK ? "\n" : ": ",
				PQresultStatus(res) == PGRES_TUPLES_OK ? "" : esc_msg(PQerrorMessage(conn)));
		PQclear(res);
		PQfinish(conn);
		free(iv);
		return EXIT_USAGE;
	}
	PQclear(res);

	/* metric is one of four words checked above */
	sql = sql_printf("SELECT o.operation, o.%s_ms, c.%s_ms, c.calls"
					 "  FROM %s.performance_baseline_operations o"
					 "  JOIN %s.pp_operation_stats($2::pg_catalog.interval) c"
					 "    ON c.operation OPERATOR(pg_catalog.=) o.operation"
					 " WHERE o.baseline OPERATOR(pg_catalog.=) $1::pg_catalog.text"
					 " ORDER BY o.operation",
					 metric, metric, ext.schema, ext.schema);
	values[1] = iv;
	res = PQexecParams(conn, sql, 2, NULL, values, NULL, NULL, 0);
	free(sql);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
	{
		fprintf(stderr, "ppprof: %s", esc_msg(PQerrorMessage(conn)));
		PQclear(res);
		PQfinish(conn);
		free(iv);
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
		print_cell(PQgetvalue(res, i, 0), 28, true);
		printf(" %12.2f %12.2f %+8.1f%%  %s\n", b, c, pct, bad ? "REGRESSION" : "ok");
	}
	PQclear(res);
	PQfinish(conn);
	printf("\n%s of %d operations compared: %d over the %g%% limit (%s, window %s, baseline \"%s\")\n",
		   metric, n, regressions, max_pct, metric, esc(iv), esc(baseline));
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
	if (strcmp(argv[i], "collect") == 0)
		return collect_main(argc - i - 1, argv + i + 1, dsn);
	if (strcmp(argv[i], "report") == 0)
		return cmd_report(argc - i - 1, argv + i + 1);
	if (strcmp(argv[i], "check") == 0)
		return cmd_check(argc - i - 1, argv + i + 1);
	fprintf(stderr, "ppprof: unknown command \"%s\"\n\n", esc(argv[i]));
	usage_main(stderr);
	return EXIT_USAGE;
}
