/*-------------------------------------------------------------------------
 *
 * client/ppprof_client.c
 *	  libppprof: per-thread span trees, their JSON (jansson), and the
 *	  bounded queue that a background thread ships to pp_ingest_jsonl()
 *	  through libpq.
 *
 * The caller's side takes one mutex for a few instructions when a root
 * span ends (to queue its JSON text) and never does I/O.  Span names are
 * checked as the server checks them (non-empty, UTF-8, at most
 * max_name_length bytes) when the span begins, so that a bad name costs its
 * own subtree and nothing else.
 *
 * The flusher owns the connection (connection.c: UTF-8, the extension's
 * schema found once per connection, every name qualified).  It reconnects
 * with a growing pause when the server is away, and a batch that cannot be
 * sent after one reconnect is dropped and counted, so memory stays bounded
 * by the queue.  A batch the server refuses for its data (SQLSTATE class
 * 22, 23 or 54: pp_ingest_jsonl stores all of a batch or nothing) is split
 * in halves and sent again, down to the refused trees, which alone are
 * lost: k bad trees in a batch of n cost about 2k log2(n) more statements.
 * Any other error (privileges, a read-only server, a cancelled statement)
 * is no reason to think one tree is to blame: the batch is dropped, as when
 * the server is away.
 *
 *-------------------------------------------------------------------------
 */
#define _GNU_SOURCE				/* asprintf */
#include "ppprof_client.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <libpq-fe.h>

#include "client_internal.h"

#define PP_MAX_DEPTH 100
#define PP_MAX_NODES 10000

struct pp_span_t
{
	char	   *name;
	double		start;			/* seconds since 1970 */
	struct timespec mono_start;
	double		duration_ms;
	json_t	   *metadata;		/* object, or NULL */
	char	   *error;
	bool		open;
	int			depth;
	struct pp_span_t *parent;
	struct pp_span_t *first_child;
	struct pp_span_t *last_child;
	struct pp_span_t *next;
};

/* the handle of spans inside a tree that is not recorded */
static struct pp_span_t skipped_span;

static __thread struct pp_span_t *tl_root;
static __thread struct pp_span_t *tl_current;
static __thread int tl_nodes;
static __thread int tl_skip_depth;	/* > 0: inside a tree not recorded */
static __thread unsigned int tl_seed;

/* shared state, guarded by lock */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static pthread_cond_t drained = PTHREAD_COND_INITIALIZER;
static char **queue;
static size_t queue_cap;
static size_t queue_head;
static size_t queue_len;
static bool running;
static bool stopping;
static bool in_flight;			/* the flusher holds a batch */
static pthread_t flusher;
static pp_client_config_t config;
static char *conninfo_copy;
static char *prefix_copy;
static pp_client_stats_t stats;
static pp_client_error_t last_error;
static uint64_t query_counter;

static volatile bool enabled = false;

/* ---- time ---- */

static double
now_epoch(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double) ts.tv_sec + ts.tv_nsec / 1e9;
}

static double
elapsed_ms(const struct timespec *since)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (ts.tv_sec - since->tv_sec) * 1e3 + (ts.tv_nsec - since->tv_nsec) / 1e6;
}

/* ---- errors ---- */

static void
error_set(pp_client_error_t *err, pp_client_error_code_t code,
		  const char *sqlstate, const char *fmt,...)
__attribute__((format(printf, 4, 5)));

static void
error_set(pp_client_error_t *err, pp_client_error_code_t code,
		  const char *sqlstate, const char *fmt,...)
{
	va_list		ap;
	char	   *nl;

	memset(err, 0, sizeof(*err));
	err->code = code;
	snprintf(err->sqlstate, sizeof(err->sqlstate), "%s", sqlstate ? sqlstate : "");
	va_start(ap, fmt);
	vsnprintf(err->text, sizeof(err->text), fmt, ap);
	va_end(ap);
	/* one line: libpq's messages end with a newline, some hold more */
	while ((nl = strchr(err->text, '\n')) != NULL)
		*nl = nl[1] == '\0' ? '\0' : ' ';
}

/* Keep *err as the last error (caller holds lock). */
static void
error_keep(const pp_client_error_t *err)
{
	last_error = *err;
}

/* ---- text ---- */

/* The problem with a span name, or PP_CLIENT_OK. */
static pp_client_error_code_t
name_check(const char *name, pp_client_error_t *err)
{
	size_t		max = config.max_name_length;
	size_t		len;
	size_t		i;
	size_t		n;

	if (name == NULL || name[0] == '\0')
	{
		error_set(err, PP_CLIENT_ERR_NAME_EMPTY, NULL,
				  "a span name must not be empty");
		return err->code;
	}
	len = strlen(name);
	if (len > max)
	{
		error_set(err, PP_CLIENT_ERR_NAME_TOO_LONG, NULL,
				  "a span name of %zu bytes was refused: the limit is %zu",
				  len, max);
		return err->code;
	}
	for (i = 0; i < len; i += n)
	{
		n = pp__utf8_sequence((const unsigned char *) name + i, len - i);
		if (n == 0)
		{
			error_set(err, PP_CLIENT_ERR_NAME_NOT_UTF8, NULL,
					  "a span name was refused: byte %zu (0x%02x) is not UTF-8",
					  i, (unsigned char) name[i]);
			return err->code;
		}
	}
	return PP_CLIENT_OK;
}

/*
 * A malloc'd copy of s in which every byte that does not belong to a
 * well-formed UTF-8 sequence is U+FFFD (jansson refuses such strings).
 */
static char *
utf8_repair(const char *s)
{
	size_t		len = strlen(s);
	char	   *out = malloc(3 * len + 1);
	char	   *p = out;
	size_t		i = 0;

	if (out == NULL)
		return NULL;
	while (i < len)
	{
		size_t		n = pp__utf8_sequence((const unsigned char *) s + i, len - i);

		if (n == 0)
		{
			p = stpcpy(p, "\xEF\xBF\xBD");
			i++;
		}
		else
		{
			memcpy(p, s + i, n);
			p += n;
			i += n;
		}
	}
	*p = '\0';
	return out;
}

/* ---- trees ---- */

static void
tree_free(struct pp_span_t *s)
{
	while (s != NULL)
	{
		struct pp_span_t *next = s->next;

		tree_free(s->first_child);
		free(s->name);
		free(s->error);
		if (s->metadata)
			json_decref(s->metadata);
		free(s);
		s = next;
	}
}

static json_t *
tree_json(const struct pp_span_t *s)
{
	json_t	   *o = json_object();
	json_t	   *children = json_array();
	const struct pp_span_t *c;

	json_object_set_new(o, "operation_name", json_string(s->name));
	json_object_set_new(o, "start_time", json_real(s->start));
	json_object_set_new(o, "end_time", json_real(s->start + s->duration_ms / 1e3));
	json_object_set_new(o, "duration_ms", json_real(round(s->duration_ms * 1e3) / 1e3));
	json_object_set_new(o, "metadata", s->metadata ? json_incref(s->metadata) : json_object());
	for (c = s->first_child; c != NULL; c = c->next)
		json_array_append_new(children, tree_json(c));
	json_object_set_new(o, "children", children);
	json_object_set_new(o, "error", s->error ? json_string(s->error) : json_null());
	return o;
}

/* Queue a finished tree's JSON text; never waits for the database. */
static void
enqueue(struct pp_span_t *root)
{
	char	   *text;
	json_t	   *doc;

	pthread_mutex_lock(&lock);
	if (root->metadata == NULL)
		root->metadata = json_object();
	if (json_object_get(root->metadata, "query_id") == NULL)
	{
		char		qid[64];

		snprintf(qid, sizeof(qid), "%s%llu", prefix_copy ? prefix_copy : "c-",
				 (unsigned long long) ++query_counter);
		json_object_set_new(root->metadata, "query_id", json_string(qid));
	}
	pthread_mutex_unlock(&lock);

	doc = tree_json(root);
	text = json_dumps(doc, JSON_COMPACT);
	json_decref(doc);

	pthread_mutex_lock(&lock);
	if (text == NULL || !running || stopping || queue_len == queue_cap)
	{
		pp_client_error_t err;

		if (text == NULL)
			error_set(&err, PP_CLIENT_ERR_NO_MEMORY, NULL,
					  "a finished tree was dropped: out of memory");
		else if (queue_len == queue_cap && running && !stopping)
			error_set(&err, PP_CLIENT_ERR_QUEUE_FULL, NULL,
					  "a finished tree was dropped: the queue holds %zu trees",
					  queue_cap);
		else
			err.code = PP_CLIENT_OK;	/* stopped: counted, no error */
		if (err.code != PP_CLIENT_OK)
			error_keep(&err);
		stats.trees_dropped++;
		pthread_mutex_unlock(&lock);
		free(text);
		return;
	}
	queue[(queue_head + queue_len) % queue_cap] = text;
	queue_len++;
	stats.trees_queued++;
	if (queue_len >= (size_t) config.batch_size)
		pthread_cond_signal(&wake);
	pthread_mutex_unlock(&lock);
}

/* Count a refused span, keep why, and tell the caller (err may be NULL). */
static void
span_refused(const pp_client_error_t *why, pp_client_error_t *err)
{
	__atomic_add_fetch(&stats.spans_dropped, 1, __ATOMIC_RELAXED);
	pthread_mutex_lock(&lock);
	error_keep(why);
	pthread_mutex_unlock(&lock);
	if (err != NULL)
		*err = *why;
}

pp_span_t *
pp_span_begin(const char *operation)
{
	return pp_span_begin_ex(operation, NULL);
}

pp_span_t *
pp_span_begin_ex(const char *operation, pp_client_error_t *err)
{
	struct pp_span_t *s;
	pp_client_error_t why;

	if (err != NULL)
		memset(err, 0, sizeof(*err));
	if (tl_skip_depth > 0)
	{
		tl_skip_depth++;
		return &skipped_span;
	}
	if (tl_root == NULL && !enabled)
		return NULL;
	if (name_check(operation, &why) != PP_CLIENT_OK)
	{
		/* neither this span nor what it holds is recorded */
		span_refused(&why, err);
		tl_skip_depth = 1;
		return &skipped_span;
	}
	if (tl_root == NULL)
	{
		if (tl_seed == 0)
			tl_seed = (unsigned int) time(NULL) ^ (unsigned int) (uintptr_t) &tl_seed;
		if (config.sample_rate < 1.0 &&
			(double) rand_r(&tl_seed) / ((double) RAND_MAX + 1) >= config.sample_rate)
		{
			__atomic_add_fetch(&stats.trees_sampled_out, 1, __ATOMIC_RELAXED);
			tl_skip_depth = 1;
			return &skipped_span;
		}
	}
	if (tl_current != NULL && tl_current->depth >= PP_MAX_DEPTH)
	{
		error_set(&why, PP_CLIENT_ERR_TOO_DEEP, NULL,
				  "a span was refused: spans nest at most %d deep", PP_MAX_DEPTH);
		span_refused(&why, err);
		return NULL;
	}
	if (tl_nodes >= PP_MAX_NODES)
	{
		error_set(&why, PP_CLIENT_ERR_TOO_MANY_SPANS, NULL,
				  "a span was refused: a tree holds at most %d spans", PP_MAX_NODES);
		span_refused(&why, err);
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (s == NULL || (s->name = strdup(operation)) == NULL)
	{
		free(s);
		error_set(&why, PP_CLIENT_ERR_NO_MEMORY, NULL, "a span was refused: out of memory");
		span_refused(&why, err);
		return NULL;
	}
	s->start = now_epoch();
	clock_gettime(CLOCK_MONOTONIC, &s->mono_start);
	s->open = true;
	s->parent = tl_current;
	s->depth = tl_current ? tl_current->depth + 1 : 1;
	if (tl_current)
	{
		if (tl_current->last_child)
			tl_current->last_child->next = s;
		else
			tl_current->first_child = s;
		tl_current->last_child = s;
	}
	else
		tl_root = s;
	tl_current = s;
	tl_nodes++;
	return s;
}

void
pp_span_end(pp_span_t *span)
{
	struct pp_span_t *s;

	if (span == NULL)
		return;
	if (span == &skipped_span)
	{
		if (tl_skip_depth > 0)
			tl_skip_depth--;
		return;
	}
	/* only an open span of this thread's chain; end the ones inside it */
	for (s = tl_current; s != NULL && s != span; s = s->parent)
		;
	if (s == NULL)
		return;
	/* a refused span still open inside it ends with it */
	tl_skip_depth = 0;
	while (tl_current != span->parent)
	{
		tl_current->open = false;
		tl_current->duration_ms = elapsed_ms(&tl_current->mono_start);
		tl_current = tl_current->parent;
	}
	if (tl_current == NULL)
	{
		struct pp_span_t *root = tl_root;

		tl_root = NULL;
		tl_nodes = 0;
		enqueue(root);
		tree_free(root);
	}
}

void
pp__span_cleanup(pp_span_t **span)
{
	pp_span_end(*span);
}

void
pp_span_error(const char *message)
{
	if (tl_skip_depth > 0 || tl_current == NULL || message == NULL)
		return;
	free(tl_current->error);
	tl_current->error = utf8_repair(message);
}

static void
meta_set(const char *key, json_t *value)
{
	char	   *k;

	if (tl_skip_depth > 0 || tl_current == NULL || key == NULL ||
		(k = utf8_repair(key)) == NULL)
	{
		json_decref(value);
		return;
	}
	if (tl_current->metadata == NULL)
		tl_current->metadata = json_object();
	json_object_set_new(tl_current->metadata, k, value);
	free(k);
}

void
pp_span_meta_str(const char *key, const char *value)
{
	char	   *v;

	if (value == NULL)
	{
		meta_set(key, json_null());
		return;
	}
	v = utf8_repair(value);
	meta_set(key, v ? json_string(v) : NULL);
	free(v);
}

void
pp_span_meta_num(const char *key, double value)
{
	meta_set(key, isfinite(value) ? json_real(value) : json_null());
}

void
pp_span_meta_bool(const char *key, bool value)
{
	meta_set(key, json_boolean(value));
}

/* ---- the flusher ---- */

/*
 * items joined into one malloc'd string: open, the items separated by sep,
 * close.
 */
static char *
join_items(char **items, size_t n, const char *open, char sep, const char *close)
{
	size_t		len = strlen(open) + n + strlen(close) + 1;
	size_t		i;
	char	   *out;
	char	   *p;

	for (i = 0; i < n; i++)
		len += strlen(items[i]);
	out = malloc(len);
	if (out == NULL)
		return NULL;
	p = stpcpy(out, open);
	for (i = 0; i < n; i++)
	{
		if (i > 0)
			*p++ = sep;
		p = stpcpy(p, items[i]);
	}
	stpcpy(p, close);
	return out;
}

/* The flusher's connection, and the statement that stores a batch on it. */
typedef struct flusher_conn_t
{
	PGconn	   *conn;
	pp__extension_t ext;
	char	   *sql;			/* NULL until the extension is found */
} flusher_conn_t;

static void
conn_close(flusher_conn_t *fc)
{
	if (fc->conn)
		PQfinish(fc->conn);
	fc->conn = NULL;
	pp__extension_free(&fc->ext);
	free(fc->sql);
	fc->sql = NULL;
}

/*
 * Connect and find the extension, unless done already.  pp_ingest_jsonl
 * (ppprof 1.2) parses each profile on its own, which costs the server about
 * half of what pp_ingest_batch's one JSON array does; an extension not yet
 * updated to 1.2 has only pp_ingest_batch.  False, with *err, when the
 * connection or the extension is not there.
 */
static bool
conn_ready(flusher_conn_t *fc, pp_client_error_t *err)
{
	char		why[PP_CLIENT_ERROR_TEXT_LENGTH];

	if (fc->conn != NULL && fc->sql != NULL && PQstatus(fc->conn) == CONNECTION_OK)
		return true;
	conn_close(fc);
	fc->conn = pp__connect(conninfo_copy);
	if (PQstatus(fc->conn) != CONNECTION_OK)
	{
		error_set(err, PP_CLIENT_ERR_SEND_FAILED, NULL, "could not connect: %s",
				  PQerrorMessage(fc->conn));
		conn_close(fc);
		return false;
	}
	if (!pp__find_extension(fc->conn, &fc->ext, why, sizeof(why)))
	{
		error_set(err, PP_CLIENT_ERR_SEND_FAILED, NULL, "%s", why);
		conn_close(fc);
		return false;
	}
	if (asprintf(&fc->sql, fc->ext.has_jsonl ?
				 "SELECT %s.pp_ingest_jsonl($1::pg_catalog.text)" :
				 "SELECT %s.pp_ingest_batch($1::pg_catalog.jsonb)",
				 fc->ext.schema) < 0)
	{
		fc->sql = NULL;
		error_set(err, PP_CLIENT_ERR_NO_MEMORY, NULL, "out of memory");
		conn_close(fc);
		return false;
	}
	return true;
}

typedef enum send_result_t
{
	SEND_STORED,
	SEND_REFUSED,				/* refused for its data: nothing stored */
	SEND_FAILED					/* not sent, or refused for another reason */
} send_result_t;

/*
 * An error about the data sent: data exception (22: a profile that is not
 * valid, bytes not valid in the encoding), integrity constraint violation
 * (23), program limit exceeded (54: a name, depth or size limit).
 */
static bool
data_error(const char *sqlstate)
{
	return strncmp(sqlstate, "22", 2) == 0 || strncmp(sqlstate, "23", 2) == 0 ||
		strncmp(sqlstate, "54", 2) == 0;
}

/* Send one batch, on a new connection once more when the one in use broke. */
static send_result_t
send_batch(flusher_conn_t *fc, char **items, size_t n, pp_client_error_t *err)
{
	int			attempt;

	for (attempt = 0; attempt < 2; attempt++)
	{
		char	   *batch;
		const char *values[1];
		PGresult   *res;
		const char *msg;

		if (!conn_ready(fc, err))
			continue;
		batch = fc->ext.has_jsonl ? join_items(items, n, "", '\n', "") :
			join_items(items, n, "[", ',', "]");
		if (batch == NULL)
		{
			error_set(err, PP_CLIENT_ERR_NO_MEMORY, NULL, "out of memory");
			return SEND_FAILED;
		}
		values[0] = batch;
		res = PQexecParams(fc->conn, fc->sql, 1, NULL, values, NULL, NULL, 0);
		free(batch);
		if (PQresultStatus(res) == PGRES_TUPLES_OK)
		{
			PQclear(res);
			return SEND_STORED;
		}
		msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
		error_set(err, PP_CLIENT_ERR_SEND_FAILED,
				  PQresultErrorField(res, PG_DIAG_SQLSTATE),
				  "%s", msg ? msg : PQerrorMessage(fc->conn));
		PQclear(res);
		if (PQstatus(fc->conn) == CONNECTION_OK)
		{
			if (data_error(err->sqlstate))
				return SEND_REFUSED;
			/* the next batch looks for the extension again */
			conn_close(fc);
			return SEND_FAILED;
		}
	}
	return SEND_FAILED;
}

/* What became of the trees of one batch. */
typedef struct send_tally_t
{
	size_t		stored;
	size_t		refused;		/* refused alone */
	size_t		lost;			/* not sent */
	bool		failed;			/* a send failed: the rest is not tried */
	pp_client_error_t error;	/* the last refusal or failure */
} send_tally_t;

/*
 * Send items; when the server refuses them for their data, send each half
 * again, down to the trees it refuses alone.
 */
static void
send_items(flusher_conn_t *fc, char **items, size_t n, send_tally_t *t)
{
	pp_client_error_t err;
	char		server[PP_CLIENT_ERROR_TEXT_LENGTH];
	json_t	   *doc;
	const char *qid;

	if (t->failed)
	{
		t->lost += n;
		return;
	}
	switch (send_batch(fc, items, n, &err))
	{
		case SEND_STORED:
			t->stored += n;
			return;
		case SEND_REFUSED:
			if (n > 1)
			{
				send_items(fc, items, n / 2, t);
				send_items(fc, items + n / 2, n - n / 2, t);
				return;
			}
			memcpy(server, err.text, sizeof(server));
			doc = json_loads(items[0], 0, NULL);
			qid = json_string_value(json_object_get(json_object_get(doc, "metadata"),
													"query_id"));
			error_set(&t->error, PP_CLIENT_ERR_REFUSED, err.sqlstate,
					  "the server refused the tree of query_id \"%.63s\": %.160s",
					  qid ? qid : "", server);
			snprintf(t->error.query_id, sizeof(t->error.query_id), "%s", qid ? qid : "");
			json_decref(doc);
			t->refused++;
			return;
		case SEND_FAILED:
			memcpy(server, err.text, sizeof(server));
			error_set(&t->error, err.code, err.sqlstate,
					  "a batch of %zu trees was not sent: %.200s", n, server);
			t->lost += n;
			t->failed = true;
			return;
	}
}

/* The CLOCK_REALTIME instant ms from now (pthread_cond_timedwait's clock). */
static struct timespec
deadline_in(int ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long) (ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L)
	{
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	return ts;
}

/* Sleep on 'wake' (lock held) for at most ms. */
static void
wait_ms(int ms)
{
	struct timespec ts = deadline_in(ms);

	pthread_cond_timedwait(&wake, &lock, &ts);
}

static void *
flusher_main(void *arg)
{
	flusher_conn_t fc = {0};
	char	  **items = calloc((size_t) config.batch_size, sizeof(char *));
	int			pause_ms = 0;

	(void) arg;
	pthread_mutex_lock(&lock);
	while (items != NULL)
	{
		size_t		n = 0;
		send_tally_t tally = {0};
		size_t		i;

		if (queue_len == 0)
		{
			pthread_cond_broadcast(&drained);
			if (stopping)
				break;
			wait_ms(config.flush_interval_ms);
			continue;
		}
		if (queue_len < (size_t) config.batch_size && !stopping)
			wait_ms(config.flush_interval_ms);
		while (n < (size_t) config.batch_size && queue_len > 0)
		{
			items[n++] = queue[queue_head];
			queue_head = (queue_head + 1) % queue_cap;
			queue_len--;
		}
		in_flight = true;
		pthread_mutex_unlock(&lock);

		send_items(&fc, items, n, &tally);
		for (i = 0; i < n; i++)
			free(items[i]);

		pthread_mutex_lock(&lock);
		in_flight = false;
		stats.trees_sent += tally.stored;
		stats.trees_refused += tally.refused;
		stats.trees_dropped += tally.refused + tally.lost;
		if (tally.error.code != PP_CLIENT_OK)
			error_keep(&tally.error);
		if (!tally.failed)
			pause_ms = 0;
		else
		{
			stats.batches_failed++;
			/* the server is away or refusing: pause, up to a second */
			pause_ms = pause_ms ? (pause_ms * 2 > 1000 ? 1000 : pause_ms * 2) : 50;
			if (!stopping)
				wait_ms(pause_ms);
		}
	}
	/* whatever is left when stopping is dropped */
	while (queue_len > 0)
	{
		free(queue[queue_head]);
		queue_head = (queue_head + 1) % queue_cap;
		queue_len--;
		stats.trees_dropped++;
	}
	pthread_cond_broadcast(&drained);
	pthread_mutex_unlock(&lock);
	free(items);
	conn_close(&fc);
	return NULL;
}

int
pp_client_start(const pp_client_config_t *cfg)
{
	int			rc;

	pthread_mutex_lock(&lock);
	if (running)
	{
		pthread_mutex_unlock(&lock);
		errno = EALREADY;
		return -1;
	}
	memset(&config, 0, sizeof(config));
	if (cfg)
		config = *cfg;
	if (config.queue_capacity == 0)
		config.queue_capacity = 1024;
	if (config.batch_size <= 0)
		config.batch_size = 100;
	if (config.flush_interval_ms <= 0)
		config.flush_interval_ms = 200;
	if (!(config.sample_rate > 0) || config.sample_rate > 1)
		config.sample_rate = 1;
	if (config.max_name_length == 0)
		config.max_name_length = PP_CLIENT_MAX_NAME_LENGTH;
	free(conninfo_copy);
	free(prefix_copy);
	conninfo_copy = config.conninfo ? strdup(config.conninfo) : NULL;
	prefix_copy = config.query_id_prefix ? strdup(config.query_id_prefix) : NULL;
	queue = calloc(config.queue_capacity, sizeof(char *));
	if (queue == NULL)
	{
		pthread_mutex_unlock(&lock);
		errno = ENOMEM;
		return -1;
	}
	queue_cap = config.queue_capacity;
	queue_head = queue_len = 0;
	memset(&stats, 0, sizeof(stats));
	memset(&last_error, 0, sizeof(last_error));
	stopping = false;
	running = true;
	rc = pthread_create(&flusher, NULL, flusher_main, NULL);
	if (rc != 0)
	{
		running = false;
		free(queue);
		queue = NULL;
		pthread_mutex_unlock(&lock);
		errno = rc;
		return -1;
	}
	enabled = true;
	pthread_mutex_unlock(&lock);
	return 0;
}

bool
pp_client_flush(int timeout_ms)
{
	struct timespec deadline = deadline_in(timeout_ms);
	bool		empty;

	pthread_mutex_lock(&lock);
	pthread_cond_signal(&wake);
	while (running && (queue_len > 0 || in_flight))
	{
		if (pthread_cond_timedwait(&drained, &lock, &deadline) == ETIMEDOUT)
			break;
		pthread_cond_signal(&wake);
	}
	empty = queue_len == 0 && !in_flight;
	pthread_mutex_unlock(&lock);
	return empty;
}

void
pp_client_stop(int timeout_ms)
{
	if (!running)
		return;
	enabled = false;
	(void) pp_client_flush(timeout_ms);
	pthread_mutex_lock(&lock);
	stopping = true;
	pthread_cond_broadcast(&wake);
	pthread_mutex_unlock(&lock);
	pthread_join(flusher, NULL);
	pthread_mutex_lock(&lock);
	running = false;
	free(queue);
	queue = NULL;
	queue_cap = 0;
	pthread_mutex_unlock(&lock);
}

void
pp_client_set_enabled(bool on)
{
	enabled = on && running;
}

void
pp_client_stats(pp_client_stats_t *out)
{
	pthread_mutex_lock(&lock);
	*out = stats;
	out->trees_sampled_out = __atomic_load_n(&stats.trees_sampled_out, __ATOMIC_RELAXED);
	out->spans_dropped = __atomic_load_n(&stats.spans_dropped, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&lock);
}

bool
pp_client_last_error(pp_client_error_t *out)
{
	pthread_mutex_lock(&lock);
	*out = last_error;
	pthread_mutex_unlock(&lock);
	return out->code != PP_CLIENT_OK;
}
