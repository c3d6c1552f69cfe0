/*-------------------------------------------------------------------------
 *
 * examples/rag_pipeline.c
 *	  A fake RAG service profiled with libppprof: four worker threads answer
 *	  questions (cache lookup, embedding, vector search, rerank, LLM call),
 *	  each request one profile in performance_profiles.
 *
 *	make -C examples && ./examples/rag_pipeline "dbname=app"
 *	psql -c "SELECT * FROM pp_operation_stats('1 hour')"
 *
 *-------------------------------------------------------------------------
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "ppprof_client.h"

#define WORKERS 4
#define REQUESTS 25

static void
work_ms(unsigned int *seed, int median_ms)
{
	usleep((useconds_t) (median_ms * (500 + rand_r(seed) % 1000)));
}

/* a function profiled as a whole: C's decorator */
static void
embed_query(unsigned int *seed)
{
	PP_FUNCTION();
	pp_span_meta_str("model", "text-embedding-3-small");
	work_ms(seed, 8);
}

static int
vector_search(unsigned int *seed, int top_k)
{
	PP_FUNCTION();
	pp_span_meta_num("top_k", top_k);
	work_ms(seed, 12);
	return top_k;
}

static void *
worker(void *arg)
{
	unsigned int seed = (unsigned int) (uintptr_t) arg * 7919u + (unsigned int) time(NULL);
	int			r;

	for (r = 0; r < REQUESTS; r++)
	{
		PP_SCOPE("rag_pipeline");	/* the request: ends at the closing brace */
		bool		hit = rand_r(&seed) % 4 == 0;
		int			found = 0;

		pp_span_meta_num("worker", (double) (uintptr_t) arg);
		{
			PP_SCOPE("cache_lookup");
			pp_span_meta_str("cache", hit ? "hit" : "miss");
			work_ms(&seed, 1);
		}
		if (hit)
			continue;
		embed_query(&seed);
		{
			PP_SCOPE("retrieval");
			PP_CALL("vector_search_call", found = vector_search(&seed, 20));
			PP_CALL("rerank", work_ms(&seed, 5));
		}
		{
			PP_SCOPE("llm_generation");
			work_ms(&seed, 30);
			if (rand_r(&seed) % 20 == 0)
				pp_span_error("rate limited");
		}
		(void) found;
	}
	return NULL;
}

int
main(int argc, char **argv)
{
	pthread_t	threads[WORKERS];
	pp_client_stats_t st;
	int			i;

	if (pp_client_start(&(pp_client_config_t) {.conninfo = argc > 1 ? argv[1] : ""}) != 0)
	{
		perror("pp_client_start");
		return 1;
	}
	for (i = 0; i < WORKERS; i++)
		pthread_create(&threads[i], NULL, worker, (void *) (uintptr_t) (i + 1));
	for (i = 0; i < WORKERS; i++)
		pthread_join(threads[i], NULL);
	pp_client_stop(5000);
	pp_client_stats(&st);
	printf("requests queued %llu, stored %llu, dropped %llu, failed batches %llu\n",
		   (unsigned long long) st.trees_queued, (unsigned long long) st.trees_sent,
		   (unsigned long long) st.trees_dropped, (unsigned long long) st.batches_failed);
	return st.trees_sent == st.trees_queued ? 0 : 1;
}
