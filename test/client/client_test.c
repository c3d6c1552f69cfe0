/*-------------------------------------------------------------------------
 *
 * test/client/client_test.c
 *	  Drives libppprof against a real server for test/t/012_client.pl.
 *
 *	client_test threads CONNINFO THREADS TREES
 *		THREADS threads each record TREES trees (root "tN", children
 *		"tN.a", "tN.a.x", "tN.b"), with a random pause inside; then flush
 *		and stop.
 *	client_test sampling CONNINFO TREES
 *		TREES trees at sample_rate 0.5, then recording switched off for
 *		TREES more (whose pp_span_begin must return NULL) and on again for
 *		one last tree.
 *	client_test outage CONNINFO SECONDS
 *		one tree every 2 ms for SECONDS, while the test stops and restarts
 *		the server; prints "progress sent=N" lines every 200 ms.
 *	client_test names CONNINFO
 *		span names the library must refuse or accept (a line "name LABEL
 *		code=CODE handle=set|null text=T" each, for a root span holding a child
 *		"inside"), then a tree "mixed" with refused children among kept
 *		ones, a tree whose refused child is left open by hand, and a tree
 *		"after_unbalanced"; a "last" line (below) after a refused name.
 *	client_test refused CONNINFO TREES BAD
 *		TREES trees (root "batch", query_id "r-I"), in one batch of TREES,
 *		of which those whose index is in the comma-separated list BAD have
 *		a 300-byte root name: accepted by the library (max_name_length
 *		1000), refused by the server (200 bytes by default).  Ends with
 *		"last any=0|1 code=CODE sqlstate=S query_id=Q text=T"
 *		(pp_client_last_error) before the statistics.
 *
 * All end with one line: "queued=N sent=N dropped=N failed=N sampled=N
 * refused=N spans_dropped=N max_end_us=N", max_end_us being the slowest
 * root pp_span_end (which queues the tree) seen by the caller.
 *
 *-------------------------------------------------------------------------
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ppprof_client.h"

static double max_end_us;
static pthread_mutex_t max_lock = PTHREAD_MUTEX_INITIALIZER;

static double
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static void
record_tree(const char *name, unsigned int *seed)
{
	char		buf[64];
	pp_span_t  *root = pp_span_begin(name);
	double		t0;

	{
		snprintf(buf, sizeof(buf), "%s.a", name);
		PP_SCOPE(buf);
		pp_span_meta_str("thread", name);
		{
			snprintf(buf, sizeof(buf), "%s.a.x", name);
			PP_SCOPE(buf);
			usleep(rand_r(seed) % 200);
		}
	}
	snprintf(buf, sizeof(buf), "%s.b", name);
	PP_CALL(buf, usleep(rand_r(seed) % 100));
	t0 = now_us();
	pp_span_end(root);
	t0 = now_us() - t0;
	pthread_mutex_lock(&max_lock);
	if (t0 > max_end_us)
		max_end_us = t0;
	pthread_mutex_unlock(&max_lock);
}

typedef struct
{
	int			id;
	int			trees;
} worker_arg;

static void *
worker(void *p)
{
	worker_arg *a = p;
	char		name[16];
	unsigned int seed = (unsigned int) a->id;
	int			i;

	snprintf(name, sizeof(name), "t%d", a->id);
	for (i = 0; i < a->trees; i++)
		record_tree(name, &seed);
	return NULL;
}

static void
print_stats(void)
{
	pp_client_stats_t s;

	pp_client_stats(&s);
	printf("queued=%llu sent=%llu dropped=%llu failed=%llu sampled=%llu refused=%llu"
		   " spans_dropped=%llu max_end_us=%.0f\n",
		   (unsigned long long) s.trees_queued, (unsigned long long) s.trees_sent,
		   (unsigned long long) s.trees_dropped, (unsigned long long) s.batches_failed,
		   (unsigned long long) s.trees_sampled_out, (unsigned long long) s.trees_refused,
		   (unsigned long long) s.spans_dropped, max_end_us);
}

static const char *
code_name(pp_client_error_code_t code)
{
	switch (code)
	{
		case PP_CLIENT_OK:
			return "OK";
		case PP_CLIENT_ERR_NAME_EMPTY:
			return "NAME_EMPTY";
		case PP_CLIENT_ERR_NAME_TOO_LONG:
			return "NAME_TOO_LONG";
		case PP_CLIENT_ERR_NAME_NOT_UTF8:
			return "NAME_NOT_UTF8";
		case PP_CLIENT_ERR_TOO_DEEP:
			return "TOO_DEEP";
		case PP_CLIENT_ERR_TOO_MANY_SPANS:
			return "TOO_MANY_SPANS";
		case PP_CLIENT_ERR_NO_MEMORY:
			return "NO_MEMORY";
		case PP_CLIENT_ERR_QUEUE_FULL:
			return "QUEUE_FULL";
		case PP_CLIENT_ERR_REFUSED:
			return "REFUSED";
		case PP_CLIENT_ERR_SEND_FAILED:
			return "SEND_FAILED";
	}
	return "?";
}

static void
print_last_error(void)
{
	pp_client_error_t e;
	bool		any = pp_client_last_error(&e);

	printf("last any=%d code=%s sqlstate=%s query_id=%s text=%s\n", any, code_name(e.code),
		   e.sqlstate, e.query_id, e.text);
}

/* A root span named name holding a child "inside"; prints what begin said. */
static void
name_case(const char *label, const char *name)
{
	pp_client_error_t err;
	pp_span_t  *root = pp_span_begin_ex(name, &err);

	printf("name %s code=%s handle=%s text=%s\n", label, code_name(err.code),
		   root ? "set" : "null", err.text);
	PP_CALL("inside", usleep(10));
	pp_span_end(root);
}

static void
names(void)
{
	char		long_name[202];
	pp_span_t  *root;
	pp_span_t  *bad;

	memset(long_name, 'a', 201);
	long_name[201] = '\0';
	name_case("a201", long_name);
	long_name[200] = '\0';
	name_case("a200", long_name);
	name_case("empty", "");
	name_case("null", NULL);
	name_case("utf8", "caf\xc3\xa9 \xe6\x97\xa5\xf0\x9f\x98\x80");
	name_case("invalid", "bad\xff");
	name_case("overlong", "\xc0\xaf");
	name_case("surrogate", "\xed\xa0\x80");
	name_case("above_max", "\xf4\x90\x80\x80");
	name_case("truncated", "x\xe2\x82");
	name_case("lone_c1_byte", "\x9b");
	pp_span_end(pp_span_begin("last\xfe"));
	print_last_error();

	/* refused children among kept ones; bad text in an error and metadata */
	{
		PP_SCOPE("mixed");
		PP_CALL("kept1", usleep(10));
		{
			PP_SCOPE("bad\xff child");
			PP_CALL("lost_inside", usleep(10));
		}
		{
			PP_SCOPE("kept2");
			pp_span_error("failed \xff");
			pp_span_meta_str("k\xfe", "v\xfd");
		}
		long_name[200] = 'a';
		PP_CALL(long_name, usleep(10));
	}

	/* a refused child left open: ending its parent ends it */
	root = pp_span_begin("unbalanced");
	bad = pp_span_begin("\xff");
	pp_span_begin("lost_too");
	(void) bad;
	pp_span_end(root);
	PP_CALL("after_unbalanced", PP_CALL("inside", usleep(10)));
}

static void
refused(int n, const char *bad_list)
{
	bool	   *bad = calloc((size_t) n, sizeof(bool));
	char		name[301];
	const char *p = bad_list;
	char	   *end;
	int			i;

	for (;;)
	{
		long		b = strtol(p, &end, 10);

		if (end == p)
			break;
		if (b >= 0 && b < n)
			bad[b] = true;
		p = *end == ',' ? end + 1 : end;
	}
	memset(name, 'x', 300);
	name[300] = '\0';
	for (i = 0; i < n; i++)
	{
		char		qid[32];

		snprintf(qid, sizeof(qid), "r-%d", i);
		{
			PP_SCOPE(bad[i] ? name : "batch");
			pp_span_meta_str("query_id", qid);
			PP_CALL("batch_child", usleep(10));
		}
	}
	free(bad);
}

int
main(int argc, char **argv)
{
	pp_client_config_t cfg = {0};

	if (argc < 3)
	{
		fprintf(stderr, "usage: client_test threads CONNINFO THREADS TREES | outage CONNINFO SECONDS\n");
		return 2;
	}
	cfg.conninfo = argv[2];
	if (strcmp(argv[1], "threads") == 0 && argc == 5)
	{
		int			n = atoi(argv[3]);
		pthread_t  *th = calloc((size_t) n, sizeof(pthread_t));
		worker_arg *args = calloc((size_t) n, sizeof(worker_arg));
		int			i;

		cfg.queue_capacity = 100000;
		if (pp_client_start(&cfg) != 0)
			return 2;
		for (i = 0; i < n; i++)
		{
			args[i].id = i + 1;
			args[i].trees = atoi(argv[4]);
			pthread_create(&th[i], NULL, worker, &args[i]);
		}
		for (i = 0; i < n; i++)
			pthread_join(th[i], NULL);
		free(th);
		free(args);
		pp_client_stop(30000);
	}
	else if (strcmp(argv[1], "sampling") == 0 && argc == 4)
	{
		int			n = atoi(argv[3]);
		unsigned int seed = 3;
		int			i;
		int			not_null = 0;

		cfg.sample_rate = 0.5;
		cfg.queue_capacity = (size_t) n + 10;
		if (pp_client_start(&cfg) != 0)
			return 2;
		for (i = 0; i < n; i++)
			record_tree("sampled", &seed);
		pp_client_set_enabled(false);
		for (i = 0; i < n; i++)
		{
			pp_span_t  *s = pp_span_begin("disabled");

			not_null += s != NULL;
			pp_span_end(s);
		}
		printf("disabled_handles=%d\n", not_null);
		pp_client_set_enabled(true);
		record_tree("enabled_again", &seed);
		pp_client_stop(30000);
	}
	else if (strcmp(argv[1], "outage") == 0 && argc == 4)
	{
		double		end = now_us() + atof(argv[3]) * 1e6;
		double		next_print = 0;
		unsigned int seed = 1;

		cfg.queue_capacity = 200;
		cfg.batch_size = 20;
		cfg.flush_interval_ms = 50;
		if (pp_client_start(&cfg) != 0)
			return 2;
		while (now_us() < end)
		{
			record_tree("outage", &seed);
			usleep(2000);
			if (now_us() >= next_print)
			{
				pp_client_stats_t s;

				pp_client_stats(&s);
				printf("progress sent=%llu\n", (unsigned long long) s.trees_sent);
				fflush(stdout);
				next_print = now_us() + 200000;
			}
		}
		pp_client_stop(10000);
	}
	else if (strcmp(argv[1], "names") == 0 && argc == 3)
	{
		if (pp_client_start(&cfg) != 0)
			return 2;
		names();
		pp_client_stop(30000);
	}
	else if (strcmp(argv[1], "refused") == 0 && argc == 5)
	{
		int			n = atoi(argv[3]);

		cfg.max_name_length = 1000;
		cfg.batch_size = n;
		cfg.queue_capacity = (size_t) n;
		cfg.flush_interval_ms = 60000;	/* one batch: sent when full */
		if (pp_client_start(&cfg) != 0)
			return 2;
		refused(n, argv[4]);
		pp_client_stop(30000);
		print_last_error();
	}
	else
	{
		fprintf(stderr, "client_test: bad arguments\n");
		return 2;
	}
	print_stats();
	return 0;
}
