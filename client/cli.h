/*-------------------------------------------------------------------------
 *
 * client/cli.h
 *	  What the files of the ppprof command share (cli_util.c): the
 *	  connection, escaped printing of text that does not come from the
 *	  command, numbers rounded for reading, option errors.
 *
 * Not installed, not part of libppprof.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PPPROF_CLI_H
#define PPPROF_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <jansson.h>
#include <libpq-fe.h>

#include "client_internal.h"

#define EXIT_REGRESSION 1
#define EXIT_USAGE 2

extern const char *cli_dsn;		/* --dsn, or "" for the libpq environment */
extern pp__extension_t cli_ext; /* found by cli_connect */

/* A usage text printer (one per command). */
typedef void (*cli_usage_fn) (FILE *f);

/* p, or exit 2 saying "out of memory" when it is NULL. */
extern void *cli_checked(void *p);

/*
 * s escaped for a terminal (malloc'd): C0 controls, DEL and bytes that are
 * not UTF-8 as \xNN, C1 controls as \u00NN, the backslash as \\; layout
 * keeps newlines and tabs.  At most max characters (an escape is never
 * cut); *width receives the characters written.
 */
extern char *cli_escape(const char *s, bool layout, size_t max, size_t *width);

/* cli_escape of one line for a printf argument (valid for 32 more calls). */
extern const char *cli_esc(const char *s);

/* The same for a message of libpq or the server (lines and tabs kept). */
extern const char *cli_esc_msg(const char *s);

/* The characters s takes once escaped. */
extern size_t cli_text_width(const char *s);

/*
 * s escaped, whole, padded to width characters (left- or right-aligned).
 * A name longer than the column is printed whole: the caller sizes its
 * columns with cli_text_width.
 */
extern void cli_print_cell(const char *s, int width, bool left);

/* A JSON value as terminal-safe JSON text (malloc'd): DEL and C1 escaped. */
extern char *cli_json_text(const json_t *v, size_t flags);

/*
 * v with every real number rounded by cli_round (a new reference): whole
 * numbers become JSON integers, so that the text has no float noise.
 */
extern json_t *cli_json_rounded(json_t *v);

/* A statement, the extension's schema written in by the caller (malloc'd). */
extern char *cli_sql(const char *fmt,...) __attribute__((format(printf, 1, 2)));

/* "24h" -> "24 hours"; anything else is passed to PostgreSQL as it is. */
extern char *cli_window_interval(const char *w);

/* Connect and find the extension (cli_ext); exits 2 when either fails. */
extern PGconn *cli_connect(void);

/*
 * Run a statement with nparams text parameters.  Returns the result when
 * it has tuples; otherwise prints the server's message (with a word on a
 * missing function: the extension is older than the command) and returns
 * NULL.
 */
extern PGresult *cli_query(PGconn *conn, const char *sql, int nparams,
						   const char *const *params);

/* Does the connected extension have a function of this name? */
extern bool cli_has_function(PGconn *conn, const char *name);

/*
 * Numbers for people: at least 100 rounded to a whole number, below that
 * three significant digits, trailing zeros dropped (1891, 12.3, 1.5,
 * 0.0123).  Valid for 32 more calls.
 */
extern double cli_round(double v);
extern const char *cli_num(double v);

/* A share 0..1 as a percentage, by the same rule ("62.3%", "0.41%"). */
extern const char *cli_pct(double share);

/* A total time in ms, in the unit that reads best ("850 ms", "12.3 s", "4.1 min", "2.05 h"). */
extern const char *cli_duration(double ms);

/* A timestamp as PostgreSQL prints it, without its fraction of a second. */
extern const char *cli_timestamp(const char *ts);

/* A bar of width cells, filled for fraction (0..1), with eighth blocks. */
extern void cli_print_bar(double fraction, int width);

/*
 * Option errors: say what is wrong, then the usage, on standard error;
 * exit 2.
 */
extern void cli_usage_error(cli_usage_fn usage, const char *fmt,...)
			__attribute__((format(printf, 2, 3), noreturn));

/*
 * The value of option argv[*i] (advancing *i), or a usage error when it
 * has none.
 */
extern const char *cli_option_value(int argc, char **argv, int *i, cli_usage_fn usage);

/* The commands beside ingest, collect and check (report.c, views.c). */
extern int	cli_report(int argc, char **argv);
extern int	cli_show(int argc, char **argv);
extern int	cli_top(int argc, char **argv);
extern int	cli_flamegraph(int argc, char **argv);
extern void cli_report_usage(FILE *f);
extern void cli_show_usage(FILE *f);
extern void cli_top_usage(FILE *f);
extern void cli_flamegraph_usage(FILE *f);

#endif							/* PPPROF_CLI_H */
