/*-------------------------------------------------------------------------
 *
 * client/ppprof_client.c
 *	  libppprof: per-thread span trees, their JSON (jansson), and the
 *	  bounded queue that a background thread ships to pp_ingest_jsonl()
 *	  through libpq.
 *
 * The caller's side takes one mutex for a few instructions when a root
 * span ends (to queue its JSON text) and never does I/O.  The flusher owns
 * the connection: it reconnects with a growing pause when the server is
 * away, and a batch that cannot be sent after one reconnect is dropped and
 * counted, so memory stays bounded by the queue.
 *
 *-------------------------------------------------------------------------
 */
#include "ppprof_client.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <libpq-fe.h>

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
	if (text == NULL)
		return;

	pthread_mutex_lock(&lock);
	if (!running || stopping || queue_len == queue_cap)
	{
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

pp_span_t *
pp_span_begin(const char *operation)
{
	struct pp_span_t *s;

	if (tl_skip_depth > 0)
	{
		tl_skip_depth++;
		return &skipped_span;
	}
	if (tl_root == NULL)
	{
		if (!enabled || operation == NULL || operation[0] == '\0')
			return NULL;
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
	if (operation == NULL || operation[0] == '\0' ||
		(tl_current != NULL && tl_current->depth >= PP_MAX_DEPTH) ||
		tl_nodes >= PP_MAX_NODES)
	{
		__atomic_add_fetch(&stats.spans_dropped, 1, __ATOMIC_RELAXED);
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (s == NULL || (s->name = strdup(operation)) == NULL)
	{
		free(s);
		__atomic_add_fetch(&stats.spans_dropped, 1, __ATOMIC_RELAXED);
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
	tl_current->error = strdup(message);
}

static void
meta_set(const char *key, json_t *value)
{
	if (tl_skip_depth > 0 || tl_current == NULL || key == NULL)
	{
		json_decref(value);
		return;
	}
	if (tl_current->metadata == NULL)
		tl_current->metadata = json_object();
	json_object_set_new(tl_current->metadata, key, value);
}

void
pp_span_meta_str(const char *key, const char *value)
{
	meta_set(key, value ? json_string(value) : json_null());
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

/*
 * Send one batch; true when the server stored it.  pp_ingest_jsonl (ppprof
 * 1.2) parses each profile on its own, which costs the server about half
 * of what pp_ingest_batch's one JSON array does; an extension not yet
 * updated to 1.2 has only pp_ingest_batch, used from then on.
 */
static bool
send_batch(PGconn **conn, char **items, size_t n)
{
	static bool has_jsonl = true;
	int			attempt;
	bool		ok = false;

	for (attempt = 0; attempt < 2 && !ok; attempt++)
	{
		char	   *batch;
		const char *values[1];
		PGresult   *res;
		const char *state;

		if (*conn == NULL || PQstatus(*conn) != CONNECTION_OK)
		{
			if (*conn)
				PQfinish(*conn);
			*conn = PQconnectdb(conninfo_copy ? conninfo_copy : "");
			if (PQstatus(*conn) != CONNECTION_OK)
				continue;
		}
		batch = has_jsonl ? join_items(items, n, "", '\n', "") :
			join_items(items, n, "[", ',', "]");
		if (batch == NULL)
			return false;
		values[0] = batch;
		res = PQexecParams(*conn, has_jsonl ? "SELECT pp_ingest_jsonl($1)" :
						   "SELECT pp_ingest_batch($1::jsonb)", 1, NULL,
						   values, NULL, NULL, 0);
		free(batch);
		ok = PQresultStatus(res) == PGRES_TUPLES_OK;
		state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
		if (!ok && has_jsonl && state != NULL && strcmp(state, "42883") == 0)
		{
			has_jsonl = false;	/* undefined_function: again, as a JSON array */
			PQclear(res);
			attempt--;
			continue;
		}
		PQclear(res);
		if (!ok && PQstatus(*conn) == CONNECTION_OK)
			break;				/* the server refused it: do not resend */
	}
	return ok;
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
	PGconn	   *conn = NULL;
	char	  **items = calloc((size_t) config.batch_size, sizeof(char *));
	int			pause_ms = 0;

	(void) arg;
	pthread_mutex_lock(&lock);
	while (items != NULL)
	{
		size_t		n = 0;
		bool		ok;
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

		ok = send_batch(&conn, items, n);
		for (i = 0; i < n; i++)
			free(items[i]);

		pthread_mutex_lock(&lock);
		in_flight = false;
		if (ok)
		{
			stats.trees_sent += n;
			pause_ms = 0;
		}
		else
		{
			stats.trees_dropped += n;
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
	if (conn)
		PQfinish(conn);
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
