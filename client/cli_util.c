/*-------------------------------------------------------------------------
 *
 * client/cli_util.c
 *	  What the files of the ppprof command share: the connection and its
 *	  statements, escaped printing, numbers rounded for reading, bars, and
 *	  option errors (cli.h).
 *
 * Escapes.  Operation names, baseline names, server messages and
 * everything else that does not come from the command are printed
 * escaped: a name such as "llm\e[2J" must show as text, never clear the
 * terminal.  C0 controls, DEL and bytes that are not UTF-8 are written
 * \xNN, C1 controls (U+0080 to U+009F) \u00NN, and the backslash \\, so
 * that an escape is never mistaken for a name that spells one.  JSON
 * output stays JSON: jansson escapes C0 controls, and DEL and C1 controls,
 * which JSON allows raw inside strings, are written \u00NN too.
 *
 * Numbers.  A duration, a count or a share is read by a person: 1891 ms,
 * not 1891.3579999999999.  At least 100 is rounded to a whole number,
 * below that to three significant digits (cli_round); --format json
 * rounds every real of the report the same way (cli_json_rounded).
 *
 *-------------------------------------------------------------------------
 */
#define _GNU_SOURCE				/* vasprintf */
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

const char *cli_dsn = "";
pp__extension_t cli_ext;

void *
cli_checked(void *p)
{
	if (p == NULL)
	{
		fprintf(stderr, "ppprof: out of memory\n");
		exit(EXIT_USAGE);
	}
	return p;
}

/* ---- escapes ---- */

/*
 * The escaped form of the character at s (n > 0 bytes left) into buf (at
 * least 7 bytes); returns its length, and in *used the bytes of s it stands
 * for.
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

char *
cli_escape(const char *s, bool layout, size_t max, size_t *width)
{
	size_t		len = strlen(s);
	char	   *out = cli_checked(malloc(6 * len + 1));
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

/* A string for a printf argument: lives until 32 more have been made. */
static const char *
keep(char *s)
{
	static char *ring[32];
	static int	next;

	free(ring[next]);
	ring[next] = s;
	next = (next + 1) % 32;
	return s;
}

const char *
cli_esc(const char *s)
{
	return keep(cli_escape(s ? s : "", false, SIZE_MAX, NULL));
}

const char *
cli_esc_msg(const char *s)
{
	return keep(cli_escape(s ? s : "", true, SIZE_MAX, NULL));
}

size_t
cli_text_width(const char *s)
{
	size_t		w;

	free(cli_escape(s ? s : "", false, SIZE_MAX, &w));
	return w;
}

void
cli_print_cell(const char *s, int width, bool left)
{
	size_t		w;
	char	   *e = cli_escape(s ? s : "", false, SIZE_MAX, &w);
	int			pad = width > (int) w ? width - (int) w : 0;

	if (left)
		printf("%s%*s", e, pad, "");
	else
		printf("%*s%s", pad, "", e);
	free(e);
}

/*
 * jansson's JSON text (UTF-8, C0 controls escaped) with DEL and the C1
 * controls as \u escapes.  In UTF-8, 0xC2 only ever starts a character, so
 * a C1 control is 0xC2 0x80..0x9F wherever it appears.
 */
static char *
json_terminal_safe(const char *j)
{
	size_t		len = strlen(j);
	char	   *out = cli_checked(malloc(6 * len + 1));
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

char *
cli_json_text(const json_t *v, size_t flags)
{
	/*
	 * 15 significant digits: a double rounded by cli_round prints as it
	 * reads (12.3, not jansson's default 12.300000000000001).
	 */
	char	   *raw = cli_checked(json_dumps(v, flags | JSON_ENCODE_ANY |
											 JSON_REAL_PRECISION(15)));
	char	   *safe = json_terminal_safe(raw);

	free(raw);
	return safe;
}

/* Replace every real under v by its rounded value, in place. */
static void
round_in_place(json_t *v)
{
	const char *key;
	json_t	   *item;
	size_t		i;
	void	   *tmp;

	if (json_is_object(v))
	{
		json_object_foreach_safe(v, tmp, key, item)
		{
			if (json_is_real(item))
			{
				double		r = cli_round(json_real_value(item));

				if (r == floor(r) && fabs(r) < 9007199254740992.0)
					json_object_set_new(v, key, json_integer((json_int_t) r));
				else
					json_object_set_new(v, key, json_real(r));
			}
			else
				round_in_place(item);
		}
	}
	else if (json_is_array(v))
	{
		json_array_foreach(v, i, item)
		{
			if (json_is_real(item))
			{
				double		r = cli_round(json_real_value(item));

				if (r == floor(r) && fabs(r) < 9007199254740992.0)
					json_array_set_new(v, i, json_integer((json_int_t) r));
				else
					json_array_set_new(v, i, json_real(r));
			}
			else
				round_in_place(item);
		}
	}
}

json_t *
cli_json_rounded(json_t *v)
{
	json_t	   *copy = cli_checked(json_deep_copy(v));

	round_in_place(copy);
	return copy;
}

/* ---- statements ---- */

char *
cli_sql(const char *fmt,...)
{
	va_list		ap;
	char	   *out;
	int			n;

	va_start(ap, fmt);
	n = vasprintf(&out, fmt, ap);
	va_end(ap);
	return cli_checked(n < 0 ? NULL : out);
}

char *
cli_window_interval(const char *w)
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
		return cli_checked(strdup(w));
	out = cli_checked(malloc(64));
	/* "1 hour", "24 hours" */
	snprintf(out, 64, "%g %.*s", n, (int) strlen(unit) - (n == 1), unit);
	return out;
}

PGconn *
cli_connect(void)
{
	PGconn	   *conn = pp__connect(cli_dsn);
	char		why[256];

	if (PQstatus(conn) != CONNECTION_OK)
	{
		fprintf(stderr, "ppprof: could not connect: %s", cli_esc_msg(PQerrorMessage(conn)));
		PQfinish(conn);
		exit(EXIT_USAGE);
	}
	if (!pp__find_extension(conn, &cli_ext, why, sizeof(why)))
	{
		fprintf(stderr, "ppprof: %s\n", cli_esc(why));
		PQfinish(conn);
		exit(EXIT_USAGE);
	}
	return conn;
}

PGresult *
cli_query(PGconn *conn, const char *sql, int nparams, const char *const *params)
{
	PGresult   *res = PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL, 0);
	const char *state;

	if (PQresultStatus(res) == PGRES_TUPLES_OK)
		return res;
	fprintf(stderr, "ppprof: %s", cli_esc_msg(PQerrorMessage(conn)));
	state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	if (state && strcmp(state, "42883") == 0)	/* undefined_function */
		fprintf(stderr, "ppprof: the ppprof extension in database \"%s\" lacks a function this"
				" command (ppprof %s) uses: install the extension the command came with\n",
				cli_esc(PQdb(conn)), PPPROF_VERSION);
	PQclear(res);
	return NULL;
}

bool
cli_has_function(PGconn *conn, const char *name)
{
	const char *params[1] = {name};
	PGresult   *res = PQexecParams(conn,
								   "SELECT FROM pg_catalog.pg_proc p"
								   "  JOIN pg_catalog.pg_extension e"
								   "    ON e.extnamespace OPERATOR(pg_catalog.=) p.pronamespace"
								   " WHERE e.extname OPERATOR(pg_catalog.=) 'ppprof'"
								   "   AND p.proname OPERATOR(pg_catalog.=) $1::pg_catalog.name",
								   1, NULL, params, NULL, NULL, 0);
	bool		found = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) > 0;

	PQclear(res);
	return found;
}

/* ---- numbers ---- */

/* Decimals that give v (not 0, below 100) three significant digits. */
static int
decimals_of(double v)
{
	int			d = 2 - (int) floor(log10(fabs(v)));

	return d < 0 ? 0 : d;
}

double
cli_round(double v)
{
	double		m;

	if (!isfinite(v) || v == 0)
		return v;
	if (fabs(v) >= 100)
		return round(v);
	m = pow(10, decimals_of(v));
	return round(v * m) / m;
}

const char *
cli_num(double v)
{
	double		r = cli_round(v);
	char	   *out;
	int			len;

	if (!isfinite(r))
		return keep(cli_checked(strdup(isnan(r) ? "-" : (r > 0 ? "inf" : "-inf"))));
	if (r == 0)
		return keep(cli_checked(strdup("0")));
	if (fabs(r) >= 100 || r == floor(r))
		len = asprintf(&out, "%.0f", r);
	else
		len = asprintf(&out, "%.*f", decimals_of(r), r);
	cli_checked(len < 0 ? NULL : out);
	if (strchr(out, '.'))
	{
		while (len > 0 && out[len - 1] == '0')
			out[--len] = '\0';
		if (len > 0 && out[len - 1] == '.')
			out[--len] = '\0';
	}
	return keep(out);
}

const char *
cli_pct(double share)
{
	char	   *out;

	cli_checked(asprintf(&out, "%s%%", cli_num(100 * share)) < 0 ? NULL : out);
	return keep(out);
}

const char *
cli_duration(double ms)
{
	char	   *out;
	int			n;

	if (fabs(ms) < 1000)
		n = asprintf(&out, "%s ms", cli_num(ms));
	else if (fabs(ms) < 60000)
		n = asprintf(&out, "%s s", cli_num(ms / 1000));
	else if (fabs(ms) < 3600000)
		n = asprintf(&out, "%s min", cli_num(ms / 60000));
	else
		n = asprintf(&out, "%s h", cli_num(ms / 3600000));
	cli_checked(n < 0 ? NULL : out);
	return keep(out);
}

const char *
cli_timestamp(const char *ts)
{
	const char *dot = ts ? strchr(ts, '.') : NULL;
	char	   *out;

	if (ts == NULL)
		return "?";
	if (dot == NULL)
		return cli_esc(ts);
	/* "2026-12-04 22:46:11.098949+00" -> "2026-12-04 22:46:11+00" */
	out = cli_checked(malloc(strlen(ts) + 1));
	memcpy(out, ts, (size_t) (dot - ts));
	strcpy(out + (dot - ts), dot + strspn(dot + 1, "0123456789") + 1);
	return keep(cli_escape(keep(out), false, SIZE_MAX, NULL));
}

void
cli_print_bar(double fraction, int width)
{
	static const char *const eighths[] = {"", "\u258f", "\u258e", "\u258d", "\u258c",
	"\u258b", "\u258a", "\u2589"};
	long		cells;
	int			full,
				rest,
				i;

	if (!(fraction > 0))
		fraction = 0;
	if (fraction > 1)
		fraction = 1;
	cells = lround(fraction * width * 8);
	if (cells == 0 && fraction > 0)
		cells = 1;				/* a sliver, not nothing */
	full = (int) (cells / 8);
	rest = (int) (cells % 8);
	for (i = 0; i < full; i++)
		fputs("\u2588", stdout);
	fputs(eighths[rest], stdout);
	printf("%*s", width - full - (rest ? 1 : 0), "");
}

/* ---- options ---- */

void
cli_usage_error(cli_usage_fn usage, const char *fmt,...)
{
	va_list		ap;

	fputs("ppprof: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\n\n", stderr);
	usage(stderr);
	exit(EXIT_USAGE);
}

const char *
cli_option_value(int argc, char **argv, int *i, cli_usage_fn usage)
{
	if (*i + 1 >= argc)
		cli_usage_error(usage, "%s needs a value", cli_esc(argv[*i]));
	*i += 1;
	return argv[*i];
}
