/*-------------------------------------------------------------------------
 *
 * client/ppprof_client.h
 *	  libppprof: profile C code into ppprof.
 *
 * Spans nest per thread (a thread-local stack, so threads never mix their
 * trees).  When a thread's root span ends, its tree is serialized (jansson)
 * and queued; a background thread ships the queue through libpq to
 * pp_ingest_batch().  The queue is bounded: when the database is slow or
 * absent, finished trees are dropped and counted, and the caller never
 * waits.
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
	int			batch_size;		/* trees per pp_ingest_batch; default 100 */
	int			flush_interval_ms;	/* at most this long between sends;
									 * default 200 */
	double		sample_rate;	/* fraction of root spans kept; default 1
								 * (0 in the struct means 1) */
	const char *query_id_prefix;	/* query_id = prefix + a counter;
									 * default "c-" */
} pp_client_config_t;

typedef struct pp_client_stats_t
{
	uint64_t	trees_queued;	/* finished root spans accepted */
	uint64_t	trees_sent;		/* stored by the server */
	uint64_t	trees_dropped;	/* queue full, or the server refused them */
	uint64_t	trees_sampled_out;
	uint64_t	batches_failed; /* sends that failed (connection, error) */
	uint64_t	spans_dropped;	/* spans refused: nesting over 100 deep */
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

/* Wait until the queue is empty or timeout_ms passed; true when empty. */
extern bool pp_client_flush(int timeout_ms);

/*
 * Spans of the calling thread.  pp_span_begin opens a span inside the
 * current one (or a new tree) and returns an opaque handle (NULL when
 * recording is off); pp_span_end(handle) ends it and the spans still open
 * inside it.  The metadata and error calls apply to the current span.
 */
typedef struct pp_span_t pp_span_t;

extern pp_span_t *pp_span_begin(const char *operation);
extern void pp_span_end(pp_span_t *span);
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
