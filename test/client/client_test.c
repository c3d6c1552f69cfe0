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
 *
 * Both end with one line: "queued=N sent=N dropped=N failed=N sampled=N
 * max_end_us=N", max_end_us being the slowest root pp_span_end (which
 * queues the tree) seen by the caller.
 *
 *-------------------------------------------------------------------------
 */
#include <pthread.h>
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
	printf("queued=%llu sent=%llu dropped=%llu failed=%llu sampled=%llu max_end_us=%.0f\n",
		   (unsigned long long) s.trees_queued, (unsigned long long) s.trees_sent,
		   (unsigned long long) s.trees_dropped, (unsigned long long) s.batches_failed,
		   (unsigned long long) s.trees_sampled_out, max_end_us);
}

int
main(int argc, char **argv)
{
	pp_client_config_t cfg = {0};

	if (argc < 4)
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
	else
	{
		fprintf(stderr, "client_test: bad arguments\n");
		return 2;
	}
	print_stats();
	return 0;
}
