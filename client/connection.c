/*-------------------------------------------------------------------------
 *
 * client/connection.c
 *	  The connection of libppprof and of the ppprof command: UTF-8, and the
 *	  schema of the extension, found once per connection.
 *
 * Nothing the client runs depends on the session's search_path.  The
 * extension may live in any schema (Supabase installs it in "extensions",
 * which is not on the search_path of most roles), and the search_path may
 * hold a schema that someone else can write to: a function, operator or
 * type planted there under a name the client uses would run with the
 * client's rights.  So every statement names its objects in full: the
 * extension's functions and tables with the schema found here, catalogs,
 * functions, types and operators with pg_catalog (OPERATOR(pg_catalog.=)
 * for operators).  The session's search_path is never SET: through a
 * transaction pooler, a SET would stay on a server connection that other
 * clients use next.
 *
 *-------------------------------------------------------------------------
 */
#include "client_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

PGconn *
pp__connect(const char *conninfo)
{
	/*
	 * The connection string is expanded in place of "dbname"; the entry
	 * after it wins over the string and over PGCLIENTENCODING.
	 */
	const char *const keywords[] = {"dbname", "client_encoding", NULL};
	const char *const values[] = {conninfo ? conninfo : "", "UTF8", NULL};

	return PQconnectdbParams(keywords, values, 1);
}

bool
pp__find_extension(PGconn *conn, pp__extension_t *ext, char *err, size_t errsize)
{
	PGresult   *res;

	memset(ext, 0, sizeof(*ext));
	res = PQexec(conn,
				 "SELECT pg_catalog.quote_ident(n.nspname),"
				 "       EXISTS (SELECT FROM pg_catalog.pg_proc p"
				 "                WHERE p.pronamespace OPERATOR(pg_catalog.=) n.oid"
				 "                  AND p.proname OPERATOR(pg_catalog.=) 'pp_ingest_jsonl')"
				 "  FROM pg_catalog.pg_extension e"
				 "  JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) e.extnamespace"
				 " WHERE e.extname OPERATOR(pg_catalog.=) 'ppprof'");
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
	{
		const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
		size_t		len;

		snprintf(err, errsize, "could not look up the ppprof extension: %s",
				 msg ? msg : PQerrorMessage(conn));
		len = strlen(err);
		while (len > 0 && err[len - 1] == '\n')
			err[--len] = '\0';
		PQclear(res);
		return false;
	}
	if (PQntuples(res) != 1)
	{
		snprintf(err, errsize, "the ppprof extension is not installed in database \"%s\"",
				 PQdb(conn));
		PQclear(res);
		return false;
	}
	ext->schema = strdup(PQgetvalue(res, 0, 0));
	ext->has_jsonl = strcmp(PQgetvalue(res, 0, 1), "t") == 0;
	PQclear(res);
	if (ext->schema == NULL)
	{
		snprintf(err, errsize, "out of memory");
		return false;
	}
	return true;
}

void
pp__extension_free(pp__extension_t *ext)
{
	free(ext->schema);
	ext->schema = NULL;
}
