/*-------------------------------------------------------------------------
 *
 * client/ppprof_client.h
 *	  libppprof: profile C code into ppprof.
 *
 * Spans nest per thread (a thread-local stack, so threads never mix their
 * trees).  When a thread's root span ends, its tree is serialized (jansson)
 * and queued; a background thread ships the queue through libpq to
 * pp_ingest_jsonl() (pp_ingest_batch() before ppprof 1.2), in the schema
 * where the extension is, whatever the search_path.  The queue is bounded:
 * when the database is slow or absent, finished trees are dropped and
 * counted, and the caller never waits.  A tree the server refuses is lost
 * alone: the rest of its batch is sent again (pp_client_last_error says
 * why).
 *
 *	pp_client_start(&(pp_client_config_t) {.conninfo = "dbname=app"});
 *	{
 *		PP_SCOPE("rag_pipeline");			// ends at the closing brace
 *		pp_span_meta_str("user", "u1");
 *		PP_CALL("embed_query", v = embed(q));	// a call as a child span
 *		if (v == NULL)
 *			pp_span_error("embedding failed");
 *	}
 *	pp_client_stop(5000);				// flush for at most 5 s
 *
 *-------------------------------------------------------------------------
 */
#ifndef PPPROF_CLIENT_H
#define PPPROF_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct pp_client_config_t
{
	const char *conninfo;		/* libpq connection string; NULL or "" uses
								 * the PG* environment */
	size_t		queue_capacity; /* finished trees waiting; default 1024 */
	int			batch_size;		/* trees per send; default 100 */
	int			flush_interval_ms;	/* at most this long between sends;
									 * default 200 */
	double		sample_rate;	/* fraction of root spans kept; default 1
								 * (0 in the struct means 1) */
	const char *query_id_prefix;	/* query_id = prefix + a counter;
									 * default "c-" */
	size_t		max_name_length;	/* longest span name, bytes; default
									 * PP_CLIENT_MAX_NAME_LENGTH */
} pp_client_config_t;

/*
 * The server's default ppprof.max_name_length.  A server configured with a
 * larger limit accepts longer names: set max_name_length to match.
 */
#define PP_CLIENT_MAX_NAME_LENGTH 200

/* What the library refused or lost, and why (pp_span_begin_ex, pp_client_last_error) */
typedef enum pp_client_error_code_t
{
	PP_CLIENT_OK = 0,
	PP_CLIENT_ERR_NAME_EMPTY,	/* span name NULL or "" */
	PP_CLIENT_ERR_NAME_TOO_LONG,	/* over max_name_length bytes */
	PP_CLIENT_ERR_NAME_NOT_UTF8,	/* not well-formed UTF-8 */
	PP_CLIENT_ERR_TOO_DEEP,		/* nesting over 100 */
	PP_CLIENT_ERR_TOO_MANY_SPANS,	/* over 10,000 spans in one tree */
	PP_CLIENT_ERR_NO_MEMORY,
	PP_CLIENT_ERR_QUEUE_FULL,	/* a finished tree found the queue full */
	PP_CLIENT_ERR_REFUSED,		/* the server refused one tree (sqlstate,
								 * query_id); the rest of its batch was sent */
	PP_CLIENT_ERR_SEND_FAILED	/* a batch could not be sent: no connection,
								 * no extension, or a server error that is
								 * not about the data (sqlstate) */
} pp_client_error_code_t;

#define PP_CLIENT_ERROR_TEXT_LENGTH 256

typedef struct pp_client_error_t
{
	pp_client_error_code_t code;
	char		sqlstate[6];	/* the server's SQLSTATE, or "" */
	char		query_id[64];	/* the refused tree's query_id, or "" */
	char		text[PP_CLIENT_ERROR_TEXT_LENGTH];	/* one line, or "" */
} pp_client_error_t;

typedef struct pp_client_stats_t
{
	uint64_t	trees_queued;	/* finished root spans accepted */
	uint64_t	trees_sent;		/* stored by the server */
	uint64_t	trees_dropped;	/* lost: queue full, batch not sent, or
								 * refused by the server */
	uint64_t	trees_sampled_out;
	uint64_t	batches_failed; /* batches not sent (PP_CLIENT_ERR_SEND_FAILED) */
	uint64_t	spans_dropped;	/* spans refused: bad name, nesting over 100
								 * deep, over 10,000 spans */
	uint64_t	trees_refused;	/* refused by the server, one by one (also
								 * in trees_dropped) */
} pp_client_stats_t;

/* Start the flusher.  Returns 0, or -1 (errno set) when it cannot. */
extern int	pp_client_start(const pp_client_config_t *config);

/*
 * Stop: send what is queued for at most timeout_ms, then drop the rest and
 * join the flusher.  Spans still open in other threads are discarded.
 */
extern void pp_client_stop(int timeout_ms);

/* Turn recording on or off at run time (on after start). */
extern void pp_client_set_enabled(bool enabled);

extern void pp_client_stats(pp_client_stats_t *stats);

/*
 * The last thing the library refused or lost, in any thread: a span name,
 * a tree the server refused, a batch not sent, a full queue.  Returns false
 * (and code PP_CLIENT_OK) when nothing was, since pp_client_start.
 */
extern bool pp_client_last_error(pp_client_error_t *error);

/* Wait until the queue is empty or timeout_ms passed; true when empty. */
extern bool pp_client_flush(int timeout_ms);

/*
 * Spans of the calling thread.  pp_span_begin opens a span inside the
 * current one (or a new tree) and returns an opaque handle (NULL when
 * recording is off); pp_span_end(handle) ends it and the spans still open
 * inside it.  The metadata and error calls apply to the current span.
 *
 * A name must be non-empty, well-formed UTF-8 and at most max_name_length
 * bytes, as the server requires.  A span with a bad name is refused: it is
 * not recorded, nor anything opened inside it (a refused root: the whole
 * tree), while the rest of its tree is; the handle returned is to be ended
 * as any other.  A span deeper than 100 or past 10,000 spans in its tree is
 * refused too (NULL).  pp_span_begin_ex also fills *error (when not NULL):
 * code PP_CLIENT_OK, or why the span was refused.
 */
typedef struct pp_span_t pp_span_t;

extern pp_span_t *pp_span_begin(const char *operation);
extern pp_span_t *pp_span_begin_ex(const char *operation, pp_client_error_t *error);
extern void pp_span_end(pp_span_t *span);
/* Bytes that are not UTF-8 in a message, key or value become U+FFFD. */
extern void pp_span_error(const char *message);
extern void pp_span_meta_str(const char *key, const char *value);
extern void pp_span_meta_num(const char *key, double value);
extern void pp_span_meta_bool(const char *key, bool value);

/* C's context manager: a span that ends when the enclosing block ends. */
extern void pp__span_cleanup(pp_span_t **span);

#define PP__CAT2(a, b) a##b
#define PP__CAT(a, b) PP__CAT2(a, b)
#define PP_SCOPE(operation) \
	pp_span_t *PP__CAT(pp__scope_, __LINE__) __attribute__((cleanup(pp__span_cleanup), unused)) = \
		pp_span_begin(operation)

/* C's decorator: the body of a function as a span named after it. */
#define PP_FUNCTION() PP_SCOPE(__func__)

/* A statement (typically a call) as a child span. */
#define PP_CALL(operation, statement) \
	do { \
		PP_SCOPE(operation); \
		statement; \
	} while (0)

#endif							/* PPPROF_CLIENT_H */
