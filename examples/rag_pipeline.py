#!/usr/bin/env python3
"""examples/rag_pipeline.py -- a small asyncio RAG service profiled with the
ppprof Python client (clients/python).  The embedding model, the searches
and the LLM are fakes that sleep as long as real ones take, at a smaller
scale; some requests hit the cache, some retrievals time out, some LLM
calls are rate limited.  `make demo` runs it to fill the demo database.

    PYTHONPATH=clients/python/src python3 examples/rag_pipeline.py "dbname=app" [--requests 60]

Each request is one profile (query_id "py-<n>"); at the end the script
flushes, prints the profiler's counters and exits 1 if a tree was lost.
"""

import argparse
import asyncio
import random
import sys

from ppprof import PerformanceProfiler, profile_operation


class RateLimitError(Exception):
    pass


def build(profiler: PerformanceProfiler, rng: random.Random):
    cache = {}

    async def pause(lo_ms: float, hi_ms: float) -> None:
        await asyncio.sleep(rng.uniform(lo_ms, hi_ms) / 1000)

    @profiler.profile_async
    async def embed_query(text: str):
        await pause(15, 40)
        return [float(len(text))]

    @profile_operation(profiler)
    async def vector_search(vector, top_k: int = 20):
        await pause(20, 120)
        if rng.random() < 0.03:
            raise asyncio.TimeoutError("vector index did not answer in 100 ms")
        return ["doc-%d" % i for i in range(top_k)]

    @profile_operation(profiler)
    async def keyword_search(text: str):
        await pause(5, 30)
        return ["doc-%d" % i for i in range(5)]

    @profiler.profile_sync
    def rerank(docs):
        return sorted(set(docs))[:8]

    async def retrieve(question: str):
        async with profiler.profile("retrieval", strategy="hybrid"):
            vector = await embed_query(question)
            # both searches at once: two tasks created inside the block
            results = await asyncio.gather(vector_search(vector), keyword_search(question),
                                           return_exceptions=True)
            docs = [d for r in results if isinstance(r, list) for d in r]
            return rerank(docs)

    async def generate(question: str, docs) -> str:
        async with profiler.profile("llm_generation", model="fake-llm-small", prompt_docs=len(docs)):
            await pause(80, 300)
            if rng.random() < 0.05:
                raise RateLimitError("429 Too Many Requests")
            return "answer to %r from %d documents" % (question, len(docs))

    async def answer(n: int, question: str) -> str:
        async with profiler.profile("rag_query", query_id="py-%d" % n,
                                    user_tier=rng.choice(["free", "pro"])):
            async with profiler.profile("cache_lookup") as lookup:
                await pause(1, 4)
                hit = question in cache
                lookup.metadata["cache"] = "hit" if hit else "miss"
            if hit:
                return cache[question]
            docs = await retrieve(question)
            text = await generate(question, docs)
            cache[question] = text
            return text

    return answer


async def main_async(args) -> int:
    rng = random.Random(args.seed)
    profiler = PerformanceProfiler(args.dsn, enable_profiling=True)
    # the extension's own defaults: written through, they change nothing here
    profiler.bottleneck_thresholds = {"retrieval": 500, "llm_generation": 2000}
    answer = build(profiler, rng)
    questions = ["what is ppprof?", "how do I grant service_role?", "why is retrieval slow?",
                 "what does p95 mean?", "how big is a profile?", "can I sample?"]
    limit = asyncio.Semaphore(args.concurrency)
    failed = 0

    async def one(n: int) -> None:
        nonlocal failed
        async with limit:
            try:
                await answer(n, rng.choice(questions) + (" #%d" % (n % 9)))
            except RateLimitError:
                failed += 1

    await asyncio.gather(*(one(n) for n in range(args.requests)))
    snapshot = await profiler.capture_performance_snapshot()
    ok = profiler.flush(30)
    st = profiler.stats()
    print("%d requests (%d failed): %d profiles stored, %d dropped, %d failed; "
          "process %.0f MB; flushed: %s" % (args.requests, failed, st["sent"], st["dropped"],
                                            st["failed"], snapshot.memory_usage_mb, ok))
    report = await profiler.get_optimization_report(hours=1)
    print("report, last hour: %d profiles, mean %.0f ms" % (
        report["summary"]["total_profiled_queries"], report["summary"]["avg_query_duration_ms"]))
    profiler.close()
    if not ok or st["sent"] != args.requests:
        print("rag_pipeline: %s" % st["last_error"], file=sys.stderr)
        return 1
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("dsn", help='libpq connection string, e.g. "dbname=app"')
    ap.add_argument("--requests", type=int, default=60)
    ap.add_argument("--concurrency", type=int, default=20)
    ap.add_argument("--seed", type=int, default=19)
    args = ap.parse_args()
    if args.requests < 1 or args.concurrency < 1:
        ap.error("--requests and --concurrency must be positive")
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())
