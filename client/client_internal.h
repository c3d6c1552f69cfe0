/*-------------------------------------------------------------------------
 *
 * client/client_internal.h
 *	  What libppprof and the ppprof command share without exporting it: the
 *	  connection (connection.c) and the UTF-8 check (utf8.c).
 *
 * Not installed.  The functions are hidden from libppprof.so's dynamic
 * symbol table; the pp__ prefix keeps them out of the way of the
 * application's own names when it links libppprof.a.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PPPROF_CLIENT_INTERNAL_H
#define PPPROF_CLIENT_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include <libpq-fe.h>

#define PP__HIDDEN __attribute__((visibility("hidden")))

/* Where the ppprof extension lives in the connected database. */
typedef struct pp__extension_t
{
	char	   *schema;			/* its schema, quoted as quote_ident quotes
								 * it (malloc'd) */
	bool		has_jsonl;		/* pp_ingest_jsonl exists (ppprof 1.2) */
} pp__extension_t;

/*
 * Connect with conninfo (a libpq connection string or URI; NULL or "" uses
 * the PG* environment), client_encoding UTF8 whatever the environment says:
 * the JSON the client sends and reads is UTF-8.  Never NULL; check
 * PQstatus.
 */
extern PP__HIDDEN PGconn *pp__connect(const char *conninfo);

/*
 * Find the extension's schema from pg_extension, with a query that does not
 * depend on the session's search_path.  Fills *ext and returns true; or
 * writes why not into err (one line) and returns false.  The session is
 * left as it was (no SET): behind a transaction pooler a SET would reach
 * other clients.
 */
extern PP__HIDDEN bool pp__find_extension(PGconn *conn, pp__extension_t *ext,
										  char *err, size_t errsize);

extern PP__HIDDEN void pp__extension_free(pp__extension_t *ext);

/*
 * The length of the valid UTF-8 sequence that starts at s, of which n bytes
 * are available: 1 to 4, or 0 when s does not start one (RFC 3629: no
 * overlong form, no surrogate, nothing above U+10FFFF; PostgreSQL refuses
 * the same).  n must be at least 1.
 */
extern PP__HIDDEN size_t pp__utf8_sequence(const unsigned char *s, size_t n);

#endif							/* PPPROF_CLIENT_INTERNAL_H */
