/*-------------------------------------------------------------------------
 *
 * client/collect.c
 *	  ppprof collect: an OTLP/HTTP receiver that forwards the traces it is
 *	  sent to pp_ingest_otlp (docs/opentelemetry.md, "ppprof collect").
 *
 * HTTP is libmicrohttpd's, with a pool of worker threads; each worker keeps
 * its own database connection, opened when first needed and opened again
 * after it broke, so a database that is away costs 503 answers, never the
 * receiver.  A request is POST /v1/traces with a JSON or protobuf body,
 * gzip-compressed or not.  JSON is checked here and passed on as it came;
 * protobuf is decoded (otlp_proto.c) into the same JSON form.  The answers
 * are those of the OTLP/HTTP specification:
 *
 *	200	the request was taken; the body is an ExportTraceServiceResponse
 *		(JSON or protobuf, as the request) whose partialSuccess tells the
 *		spans pp_ingest_otlp rejected and why
 *	400	the body cannot be decoded, or the server refused it as malformed
 *		(SQLSTATE class 22) or too big (class 54): never worth a retry
 *	404, 405	another path, another method
 *	413	the body, or what it inflates to, is larger than --max-body
 *	415	another content type or content encoding
 *	500	the server failed in another way (e.g. privileges)
 *	503	the database cannot be reached or is overloaded; Retry-After
 *
 * SIGTERM and SIGINT stop accepting connections, let the requests in hand
 * finish, and exit 0.  Each problem is one line on standard error, which
 * never quotes a request's content.
 *
 *-------------------------------------------------------------------------
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <libpq-fe.h>
#include <microhttpd.h>
#include <zlib.h>

#include "client_internal.h"
#include "collect.h"
#include "otlp_proto.h"

#define EXIT_FAILED 1
#define EXIT_USAGE 2

/* settings */
static const char *collect_dsn = "";
static size_t max_body = 20 * 1024 * 1024;
static unsigned int retry_after = 5;
static unsigned int workers = 4;

static atomic_int in_flight;	/* requests begun and not yet completed */

/* a worker's database connection */
typedef struct worker_db
{
	PGconn	   *conn;
	char	   *sql;			/* the pp_ingest_otlp call, schema-qualified */
} worker_db;

/* one per worker, handed out on first use, closed at the end */
static pthread_mutex_t dbs_lock = PTHREAD_MUTEX_INITIALIZER;
static worker_db *dbs;
static unsigned int ndbs;

static __thread worker_db *wdb;

enum body_kind
{
	BODY_JSON,
	BODY_PROTOBUF
};

/* one request */
typedef struct request
{
	int			status;			/* decided early (0: not yet) */
	const char *problem;		/* why, when status is decided early */
	enum body_kind kind;
	bool		gzip;
	char	   *body;
	size_t		len;
	size_t		cap;
	char		peer[64];
} request;

/* ---- logging: one line, escaped ---- */

static void
log_line(const char *fmt,...)
__attribute__((format(printf, 1, 2)));

static void
log_line(const char *fmt,...)
{
	char		msg[1024];
	char		out[4096];
	size_t		i = 0,
				o = 0,
				len;
	va_list		ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	len = strlen(msg);
	while (i < len && o + 8 < sizeof(out))
	{
		size_t		n = pp__utf8_sequence((const unsigned char *) msg + i, len - i);
		unsigned char c = (unsigned char) msg[i];

		if (n == 0 || (n == 1 && (c < 0x20 || c == 0x7f || c == '\\')))
		{
			o += (size_t) (c == '\\' ? sprintf(out + o, "\\\\") : sprintf(out + o, "\\x%02x", c));
			i++;
		}
		else if (n == 2 && c == 0xC2 && (unsigned char) msg[i + 1] < 0xA0)
		{
			o += (size_t) sprintf(out + o, "\\u%04x", (unsigned char) msg[i + 1]);
			i += 2;
		}
		else
		{
			memcpy(out + o, msg + i, n);
			o += n;
			i += n;
		}
	}
	out[o] = '\0';
	fprintf(stderr, "ppprof collect: %s\n", out);
}

/* ---- the database ---- */

/* Drop this worker's connection (it broke, or could not be set up). */
static void
db_drop(void)
{
	PQfinish(wdb->conn);
	wdb->conn = NULL;
	free(wdb->sql);
	wdb->sql = NULL;
}

/* This worker's connection, opened if need be; false (said) if none. */
static bool
db_ready(void)
{
	pp__extension_t ext;
	char		why[256];

	if (wdb == NULL)
	{
		/* libmicrohttpd runs the handlers in exactly "workers" threads */
		pthread_mutex_lock(&dbs_lock);
		if (ndbs < workers)
			wdb = &dbs[ndbs++];
		pthread_mutex_unlock(&dbs_lock);
		if (wdb == NULL)
		{
			log_line("more worker threads than --workers");
			return false;
		}
	}
	if (wdb->conn != NULL)
		return true;
	wdb->conn = pp__connect(collect_dsn);
	if (PQstatus(wdb->conn) != CONNECTION_OK)
	{
		log_line("could not connect to the database: %s", PQerrorMessage(wdb->conn));
		db_drop();
		return false;
	}
	if (!pp__find_extension(wdb->conn, &ext, why, sizeof(why)))
	{
		log_line("%s", why);
		db_drop();
		return false;
	}
	if (asprintf(&wdb->sql, "SELECT %s.pp_ingest_otlp($1::pg_catalog.jsonb)::pg_catalog.text",
				 ext.schema) < 0)
		wdb->sql = NULL;
	pp__extension_free(&ext);
	if (wdb->sql == NULL)
	{
		log_line("out of memory");
		db_drop();
		return false;
	}
	return true;
}

/*
 * Send one OTLP/JSON request (text) to pp_ingest_otlp.  Returns the HTTP
 * status; on 200 *rejected and *message (malloc'd or NULL) tell the partial
 * success, otherwise *message says what went wrong.
 */
static int
db_ingest(const char *text, const char *peer, int64_t *rejected, char **message)
{
	const char *values[1] = {text};
	PGresult   *res;
	const char *state;
	int			status;
	bool		was_open = wdb != NULL && wdb->conn != NULL;

	*rejected = 0;
	*message = NULL;
	if (!db_ready())
	{
		*message = strdup("the database is unavailable");
		return MHD_HTTP_SERVICE_UNAVAILABLE;
	}
	res = PQexecParams(wdb->conn, wdb->sql, 1, NULL, values, NULL, NULL, 0);
	if (was_open && PQstatus(wdb->conn) != CONNECTION_OK)
	{
		/*
		 * A connection that broke while idle (the server restarted): once
		 * more on a new one.  Sending the request again is harmless, as
		 * pp_ingest_otlp takes the same spans twice without change.
		 */
		PQclear(res);
		db_drop();
		if (!db_ready())
		{
			*message = strdup("the database is unavailable");
			return MHD_HTTP_SERVICE_UNAVAILABLE;
		}
		res = PQexecParams(wdb->conn, wdb->sql, 1, NULL, values, NULL, NULL, 0);
	}
	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
	{
		json_t	   *r = json_loads(PQgetvalue(res, 0, 0), 0, NULL);
		const char *m = json_string_value(json_object_get(r, "error_message"));

		*rejected = (int64_t) json_integer_value(json_object_get(r, "rejected_spans"));
		*message = m ? strdup(m) : NULL;
		json_decref(r);
		PQclear(res);
		return MHD_HTTP_OK;
	}
	state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	if (PQstatus(wdb->conn) != CONNECTION_OK || state == NULL)
	{
		log_line("503 to %s: the database connection broke: %s", peer,
				 PQerrorMessage(wdb->conn));
		PQclear(res);
		db_drop();
		*message = strdup("the database is unavailable");
		return MHD_HTTP_SERVICE_UNAVAILABLE;
	}
	if (strncmp(state, "22", 2) == 0 || strncmp(state, "54", 2) == 0)
		status = MHD_HTTP_BAD_REQUEST;
	else if (strncmp(state, "08", 2) == 0 || strncmp(state, "53", 2) == 0 ||
			 strncmp(state, "57", 2) == 0 || strncmp(state, "40", 2) == 0 ||
			 strcmp(state, "55P03") == 0)
		status = MHD_HTTP_SERVICE_UNAVAILABLE;
	else
		status = MHD_HTTP_INTERNAL_SERVER_ERROR;
	{
		const char *primary = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);

		log_line("%d to %s: the database said %s: %s", status, peer, state,
				 primary ? primary : "");
		*message = strdup(primary ? primary : "the database refused the request");
	}
	PQclear(res);
	return status;
}

/* ---- bodies ---- */

/*
 * Inflate a gzip body (several members allowed) into *out (malloc'd, NUL
 * after the end); returns 0, or the HTTP status to answer with.
 */
static int
gunzip(const char *in, size_t inlen, char **out, size_t *outlen, const char **why)
{
	z_stream	z;
	size_t		cap = inlen * 4 + 1024;
	char	   *buf;
	int			rc = Z_OK;

	if (cap > max_body + 1)
		cap = max_body + 1;
	buf = malloc(cap + 1);
	if (buf == NULL)
	{
		*why = "out of memory";
		return MHD_HTTP_SERVICE_UNAVAILABLE;
	}
	memset(&z, 0, sizeof(z));
	if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK)
	{
		free(buf);
		*why = "out of memory";
		return MHD_HTTP_SERVICE_UNAVAILABLE;
	}
	z.next_in = (Bytef *) in;
	z.avail_in = (uInt) inlen;
	z.next_out = (Bytef *) buf;
	z.avail_out = (uInt) cap;
	for (;;)
	{
		rc = inflate(&z, Z_NO_FLUSH);
		if (rc == Z_STREAM_END)
		{
			if (z.avail_in == 0)
				break;
			/* another gzip member follows */
			if (inflateReset(&z) != Z_OK)
				break;
			continue;
		}
		if (rc != Z_OK && rc != Z_BUF_ERROR)
			break;
		if (z.avail_out == 0)
		{
			/* (total_out restarts at each member) */
			size_t		used = (size_t) ((char *) z.next_out - buf);
			char	   *bigger;

			if (used > max_body)
			{
				inflateEnd(&z);
				free(buf);
				*why = "the body inflates to more than --max-body";
				return MHD_HTTP_CONTENT_TOO_LARGE;
			}
			cap = cap * 2 > max_body + 1 ? max_body + 1 : cap * 2;
			bigger = realloc(buf, cap + 1);
			if (bigger == NULL)
			{
				inflateEnd(&z);
				free(buf);
				*why = "out of memory";
				return MHD_HTTP_SERVICE_UNAVAILABLE;
			}
			buf = bigger;
			z.next_out = (Bytef *) buf + used;
			z.avail_out = (uInt) (cap - used);
			continue;
		}
		if (rc == Z_BUF_ERROR || z.avail_in == 0)
			break;				/* truncated */
	}
	*outlen = (size_t) ((char *) z.next_out - buf);
	inflateEnd(&z);
	if (rc != Z_STREAM_END || z.avail_in != 0)
	{
		free(buf);
		*why = "the body is not valid gzip";
		return MHD_HTTP_BAD_REQUEST;
	}
	if (*outlen > max_body)
	{
		free(buf);
		*why = "the body inflates to more than --max-body";
		return MHD_HTTP_CONTENT_TOO_LARGE;
	}
	buf[*outlen] = '\0';
	*out = buf;
	return 0;
}

/* ---- answers ---- */

/* google.rpc.Code of an error answer */
static int32_t
rpc_code(int status)
{
	switch (status)
	{
		case MHD_HTTP_SERVICE_UNAVAILABLE:
			return 14;			/* UNAVAILABLE */
		case MHD_HTTP_INTERNAL_SERVER_ERROR:
			return 13;			/* INTERNAL */
		case MHD_HTTP_NOT_FOUND:
			return 5;			/* NOT_FOUND */
		case MHD_HTTP_METHOD_NOT_ALLOWED:
		case MHD_HTTP_UNSUPPORTED_MEDIA_TYPE:
			return 12;			/* UNIMPLEMENTED */
		case MHD_HTTP_CONTENT_TOO_LARGE:
			return 8;			/* RESOURCE_EXHAUSTED */
		default:
			return 3;			/* INVALID_ARGUMENT */
	}
}

/* The response for status, in the request's encoding. */
static struct MHD_Response *
make_response(const request *r, int status, int64_t rejected, const char *message)
{
	struct MHD_Response *resp;
	const char *ctype = r->kind == BODY_PROTOBUF ? "application/x-protobuf" : "application/json";
	void	   *body = NULL;
	size_t		len = 0;

	if (r->kind == BODY_PROTOBUF)
	{
		uint8_t    *b;

		if (status == MHD_HTTP_OK)
			len = otlp_proto_response(rejected, rejected ? message : NULL, &b);
		else
			len = otlp_proto_status(rpc_code(status), message, &b);
		body = b;
	}
	else
	{
		json_t	   *j;

		if (status == MHD_HTTP_OK)
		{
			json_t	   *ps = json_object();

			if (rejected)
			{
				char		n[24];

				snprintf(n, sizeof(n), "%lld", (long long) rejected);
				json_object_set_new(ps, "rejectedSpans", json_string(n));
				if (message)
					json_object_set_new(ps, "errorMessage", json_string(message));
			}
			j = json_pack("{so}", "partialSuccess", ps);
		}
		else
			j = json_pack("{siss}", "code", (int) rpc_code(status),
						  "message", message ? message : "");
		body = j ? json_dumps(j, JSON_COMPACT) : NULL;
		len = body ? strlen(body) : 0;
		json_decref(j);
	}
	resp = MHD_create_response_from_buffer(len, body ? body : (void *) "",
										   body ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
	if (resp == NULL)
	{
		free(body);
		return NULL;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
	if (status == MHD_HTTP_SERVICE_UNAVAILABLE)
	{
		char		s[16];

		snprintf(s, sizeof(s), "%u", retry_after);
		MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, s);
	}
	return resp;
}

/* Decode and store a whole request; the status, and what to answer. */
static int
handle_body(request *r, int64_t *rejected, char **message)
{
	char	   *plain = r->body;
	size_t		len = r->len;
	const char *why = NULL;
	char		err[256];
	int			status;
	char	   *text;
	json_t	   *doc;

	*rejected = 0;
	*message = NULL;
	if (r->gzip)
	{
		status = gunzip(r->body, r->len, &plain, &len, &why);
		if (status != 0)
		{
			log_line("%d to %s: %s", status, r->peer, why);
			*message = strdup(why);
			return status;
		}
	}
	if (len == 0)
	{
		/* an empty request: OTLP asks for success (protobuf's is empty too) */
		status = MHD_HTTP_OK;
		goto done;
	}
	if (r->kind == BODY_PROTOBUF)
	{
		doc = otlp_proto_decode((const uint8_t *) plain, len, err, sizeof(err));
		if (doc == NULL)
		{
			log_line("400 to %s: undecodable protobuf: %s", r->peer, err);
			if (asprintf(message, "undecodable protobuf: %s", err) < 0)
				*message = NULL;
			status = MHD_HTTP_BAD_REQUEST;
			goto done;
		}
		text = json_dumps(doc, JSON_COMPACT);
		json_decref(doc);
		if (text == NULL)
		{
			*message = strdup("out of memory");
			status = MHD_HTTP_SERVICE_UNAVAILABLE;
			goto done;
		}
		status = db_ingest(text, r->peer, rejected, message);
		free(text);
	}
	else
	{
		json_error_t jerr;

		/* checked here (ints as reals: no limit on their size), sent as it is */
		doc = json_loadb(plain, len, JSON_DECODE_INT_AS_REAL, &jerr);
		if (doc == NULL || !json_is_object(doc))
		{
			/* jerr.text may quote the body: only the position is told */
			if (doc == NULL)
				snprintf(err, sizeof(err), "invalid JSON at line %d, column %d",
						 jerr.line, jerr.column);
			else
				snprintf(err, sizeof(err), "the body is not a JSON object");
			log_line("400 to %s: %s", r->peer, err);
			*message = strdup(err);
			json_decref(doc);
			status = MHD_HTTP_BAD_REQUEST;
			goto done;
		}
		json_decref(doc);
		if (plain == r->body)
			r->body[r->len] = '\0';
		status = db_ingest(plain, r->peer, rejected, message);
	}
done:
	if (status == MHD_HTTP_OK && *rejected > 0)
		log_line("200 to %s: %lld span(s) rejected, the first: %s", r->peer,
				 (long long) *rejected, *message ? *message : "");
	if (plain != r->body)
		free(plain);
	return status;
}

/* ---- libmicrohttpd callbacks ---- */

/* Is the media type of value (parameters after ';' aside) type? */
static bool
media_type_is(const char *value, const char *type)
{
	size_t		n = strlen(type);

	while (*value == ' ' || *value == '\t')
		value++;
	if (strncasecmp(value, type, n) != 0)
		return false;
	value += n;
	while (*value == ' ' || *value == '\t')
		value++;
	return *value == '\0' || *value == ';';
}

static void
early(request *r, int status, const char *problem)
{
	if (r->status == 0)
	{
		r->status = status;
		r->problem = problem;
	}
}

/* Look at the request line and headers: what is wrong is known already. */
static void
check_headers(struct MHD_Connection *c, request *r, const char *url, const char *method)
{
	const char *ctype = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
	const char *enc = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_ENCODING);
	const char *clen = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);

	strcpy(r->peer, "?");
	if (ci && ci->client_addr)
	{
		char		host[48],
					port[8];
		socklen_t	sl = ci->client_addr->sa_family == AF_INET6 ?
			sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);

		if (getnameinfo(ci->client_addr, sl, host, sizeof(host), port, sizeof(port),
						NI_NUMERICHOST | NI_NUMERICSERV) == 0)
			snprintf(r->peer, sizeof(r->peer), "%s:%s", host, port);
	}
	if (strcmp(url, "/v1/traces") != 0)
		early(r, MHD_HTTP_NOT_FOUND, "no such path (OTLP traces go to /v1/traces)");
	else if (strcmp(method, "POST") != 0)
		early(r, MHD_HTTP_METHOD_NOT_ALLOWED, "only POST is accepted");
	if (ctype && media_type_is(ctype, "application/x-protobuf"))
		r->kind = BODY_PROTOBUF;
	else if (ctype && media_type_is(ctype, "application/json"))
		r->kind = BODY_JSON;
	else
		early(r, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE,
			  "unsupported content type (application/json or application/x-protobuf)");
	if (enc && media_type_is(enc, "gzip"))
		r->gzip = true;
	else if (enc && !media_type_is(enc, "identity"))
		early(r, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE,
			  "unsupported content encoding (gzip or none)");
	if (clen && strtoull(clen, NULL, 10) > max_body)
		early(r, MHD_HTTP_CONTENT_TOO_LARGE, "the body is larger than --max-body");
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
		   const char *version, const char *upload_data, size_t *upload_size,
		   void **con_cls)
{
	request    *r = *con_cls;
	struct MHD_Response *resp;
	enum MHD_Result ret;
	int			status;
	int64_t		rejected = 0;
	char	   *message = NULL;

	(void) cls;
	(void) version;
	if (r == NULL)
	{
		r = calloc(1, sizeof(request));
		if (r == NULL)
			return MHD_NO;
		*con_cls = r;
		atomic_fetch_add(&in_flight, 1);
		check_headers(c, r, url, method);
		return MHD_YES;
	}
	if (*upload_size > 0)
	{
		if (r->status == 0)
		{
			if (r->len + *upload_size > max_body)
			{
				early(r, MHD_HTTP_CONTENT_TOO_LARGE, "the body is larger than --max-body");
				free(r->body);
				r->body = NULL;
			}
			else
			{
				if (r->len + *upload_size + 1 > r->cap)
				{
					size_t		cap = (r->len + *upload_size + 1) * 2;
					char	   *b;

					if (cap > max_body + 1)
						cap = max_body + 1;
					b = realloc(r->body, cap);
					if (b == NULL)
					{
						early(r, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory");
						*upload_size = 0;
						return MHD_YES;
					}
					r->body = b;
					r->cap = cap;
				}
				memcpy(r->body + r->len, upload_data, *upload_size);
				r->len += *upload_size;
			}
		}
		*upload_size = 0;		/* what is not kept is dropped */
		return MHD_YES;
	}

	if (r->status != 0)
	{
		status = r->status;
		log_line("%d to %s: %s", status, r->peer, r->problem);
		message = strdup(r->problem);
	}
	else
	{
		if (r->body == NULL)
			r->body = calloc(1, 1);
		status = r->body ? handle_body(r, &rejected, &message) : MHD_HTTP_SERVICE_UNAVAILABLE;
	}
	resp = make_response(r, status, rejected, message);
	free(message);
	if (resp == NULL)
		return MHD_NO;
	ret = MHD_queue_response(c, (unsigned int) status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static void
on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	request    *r = *con_cls;

	(void) cls;
	(void) c;
	(void) toe;
	if (r == NULL)
		return;
	free(r->body);
	free(r);
	*con_cls = NULL;
	atomic_fetch_sub(&in_flight, 1);
}

/* ---- the command ---- */

void
collect_usage(FILE *f)
{
	fprintf(f,
			"Usage: ppprof [--dsn DSN] collect [--listen HOST:PORT] [--max-body BYTES]\n"
			"       [--workers N] [--retry-after SECONDS]\n\n"
			"Receives OpenTelemetry traces over OTLP/HTTP (POST /v1/traces, JSON or\n"
			"protobuf, gzip or not) and stores them through pp_ingest_otlp.  Listens on\n"
			"127.0.0.1:4318 unless --listen says otherwise (port 0: any free port; the\n"
			"port is printed on standard error).  Bodies above --max-body (default 20 MiB,\n"
			"after inflating) get 413; when the database is away, 503 with Retry-After\n"
			"(default 5 seconds).  N workers (default 4) each keep one database connection.\n"
			"SIGTERM or SIGINT: stop accepting, finish the requests in hand, exit 0.\n");
}

/* "123", "20MiB", "64k": bytes; 0 when invalid. */
static size_t
parse_size(const char *s)
{
	char	   *end;
	unsigned long long n = strtoull(s, &end, 10);

	if (end == s || s[0] == '-')
		return 0;
	if (strcasecmp(end, "k") == 0 || strcasecmp(end, "kib") == 0)
		n *= 1024;
	else if (strcasecmp(end, "m") == 0 || strcasecmp(end, "mib") == 0)
		n *= 1024 * 1024;
	else if (*end != '\0')
		return 0;
	return n > (1ULL << 31) ? 0 : (size_t) n;
}

int
collect_main(int argc, char **argv, const char *dsn)
{
	const char *listen = "127.0.0.1:4318";
	char	   *host;
	char	   *port;
	struct addrinfo hints,
			   *ai = NULL;
	struct MHD_Daemon *daemon;
	const union MHD_DaemonInfo *info;
	sigset_t	stop;
	int			sig = 0;
	int			rc;
	int			i;
	unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ITC | MHD_USE_POLL;
	time_t		deadline;

	collect_dsn = dsn;
	for (i = 0; i < argc; i++)
	{
		if (strcmp(argv[i], "--help") == 0)
		{
			collect_usage(stdout);
			return 0;
		}
		else if (strcmp(argv[i], "--listen") == 0 && i + 1 < argc)
			listen = argv[++i];
		else if (strcmp(argv[i], "--max-body") == 0 && i + 1 < argc)
		{
			max_body = parse_size(argv[++i]);
			if (max_body == 0)
			{
				fprintf(stderr, "ppprof: --max-body takes a size in bytes, such as 20MiB (at most 2 GiB)\n");
				return EXIT_USAGE;
			}
		}
		else if (strcmp(argv[i], "--workers") == 0 && i + 1 < argc)
		{
			long		n = strtol(argv[++i], NULL, 10);

			if (n < 1 || n > 64)
			{
				fprintf(stderr, "ppprof: --workers must be between 1 and 64\n");
				return EXIT_USAGE;
			}
			workers = (unsigned int) n;
		}
		else if (strcmp(argv[i], "--retry-after") == 0 && i + 1 < argc)
		{
			long		n = strtol(argv[++i], NULL, 10);

			if (n < 1 || n > 3600)
			{
				fprintf(stderr, "ppprof: --retry-after must be between 1 and 3600 seconds\n");
				return EXIT_USAGE;
			}
			retry_after = (unsigned int) n;
		}
		else
		{
			collect_usage(stderr);
			return EXIT_USAGE;
		}
	}

	/* HOST:PORT, or [IPv6]:PORT */
	host = strdup(listen);
	if (host == NULL)
		return EXIT_USAGE;
	port = strrchr(host, ':');
	if (port == NULL || port[1] == '\0')
	{
		fprintf(stderr, "ppprof: --listen takes HOST:PORT\n");
		free(host);
		return EXIT_USAGE;
	}
	*port++ = '\0';
	if (host[0] == '[' && host[strlen(host) - 1] == ']')
	{
		memmove(host, host + 1, strlen(host));
		host[strlen(host) - 1] = '\0';
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	rc = getaddrinfo(host[0] ? host : NULL, port, &hints, &ai);
	if (rc != 0)
	{
		fprintf(stderr, "ppprof: cannot listen on \"%s\": %s\n", listen, gai_strerror(rc));
		free(host);
		return EXIT_USAGE;
	}
	if (ai->ai_family == AF_INET6)
		flags |= MHD_USE_IPv6;

	dbs = calloc(workers, sizeof(worker_db));
	if (dbs == NULL)
		return EXIT_USAGE;

	/* the workers inherit this mask: only the main thread takes the signals */
	sigemptyset(&stop);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGINT);
	pthread_sigmask(SIG_BLOCK, &stop, NULL);
	signal(SIGPIPE, SIG_IGN);

	daemon = MHD_start_daemon(flags, 0, NULL, NULL, on_request, NULL,
							  MHD_OPTION_SOCK_ADDR, ai->ai_addr,
							  MHD_OPTION_THREAD_POOL_SIZE, workers,
							  MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
							  MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int) 60,
							  MHD_OPTION_END);
	freeaddrinfo(ai);
	if (daemon == NULL)
	{
		fprintf(stderr, "ppprof: cannot listen on \"%s\": %s\n", listen,
				errno ? strerror(errno) : "libmicrohttpd refused to start");
		free(host);
		return EXIT_USAGE;
	}
	info = MHD_get_daemon_info(daemon, MHD_DAEMON_INFO_BIND_PORT);
	log_line("listening on %s:%u", host, info ? (unsigned int) info->port : 0);
	free(host);

	while (sigwait(&stop, &sig) != 0)
		;

	/* stop accepting, let the requests in hand finish (a minute at most) */
	log_line("signal %d: finishing %d request(s) in hand", sig, atomic_load(&in_flight));
	{
		MHD_socket	fd = MHD_quiesce_daemon(daemon);

		if (fd != MHD_INVALID_SOCKET)
			close(fd);
	}
	deadline = time(NULL) + 60;
	while (atomic_load(&in_flight) > 0 && time(NULL) < deadline)
	{
		struct timespec ts = {0, 20 * 1000 * 1000};

		nanosleep(&ts, NULL);
	}
	rc = atomic_load(&in_flight) > 0 ? EXIT_FAILED : 0;
	MHD_stop_daemon(daemon);
	for (unsigned int k = 0; k < ndbs; k++)
	{
		PQfinish(dbs[k].conn);
		free(dbs[k].sql);
	}
	free(dbs);
	log_line("stopped");
	return rc;
}
