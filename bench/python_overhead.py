#!/usr/bin/env python3
"""bench/python_overhead.py -- what one profile() block of the Python client
costs the caller, in microseconds: recorded (enabled), disabled, and in a
root that sampling left out.  bench/python.sh runs it against a throwaway
server; alone:

    PYTHONPATH=clients/python/src python3 bench/python_overhead.py "host=... dbname=bench"

Each case runs N blocks in a loop, ROUNDS times (alternating the cases from
round to round); the figure is the median over the rounds of (loop time -
the same loop's time with an empty body) / blocks.  "Recorded" includes
everything the caller pays while the sender thread serializes and ships the
trees in the background on the same interpreter (the GIL is shared), and
the run checks at the end that every recorded tree was stored.
No timing is asserted.
"""

import asyncio
import os
import statistics
import sys
import time

from ppprof import PerformanceProfiler

N = int(os.environ.get("BENCH_BLOCKS", "20000"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "7"))


def loop_empty(n):
    t = time.perf_counter()
    for _ in range(n):
        pass
    return time.perf_counter() - t


def roots(p, n):
    """n root blocks: one block each"""
    t = time.perf_counter()
    for _ in range(n):
        with p.profile("rag_query", query_id="b"):
            pass
    return time.perf_counter() - t, n


def nested(p, n):
    """trees of 10 blocks: a root and 9 children (2 levels), n blocks in all"""
    trees = n // 10
    t = time.perf_counter()
    for _ in range(trees):
        with p.profile("rag_query", user_tier="pro"):
            with p.profile("cache_lookup", cache="miss"):
                pass
            with p.profile("retrieval"):
                for _ in range(6):
                    with p.profile("vector_search", top_k=20):
                        pass
            with p.profile("llm_generation", model="m"):
                pass
    return time.perf_counter() - t, trees * 10


def async_nested(p, n):
    """the same trees with async with, in one coroutine"""
    trees = n // 10

    async def run():
        t = time.perf_counter()
        for _ in range(trees):
            async with p.profile("rag_query", user_tier="pro"):
                async with p.profile("cache_lookup", cache="miss"):
                    pass
                async with p.profile("retrieval"):
                    for _ in range(6):
                        async with p.profile("vector_search", top_k=20):
                            pass
                async with p.profile("llm_generation", model="m"):
                    pass
        return time.perf_counter() - t
    return asyncio.run(run()), trees * 10


def main():
    dsn = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("BENCH_DSN", "")
    if not dsn:
        print("usage: python_overhead.py DSN", file=sys.stderr)
        return 2
    total_trees = ROUNDS * (N + 2 * (N // 10))
    # room for every tree of every round: nothing is dropped, so what is
    # measured is the full path of each one
    profilers = {
        "recorded": PerformanceProfiler(dsn, queue_size=total_trees),
        "disabled": PerformanceProfiler(dsn, enable_profiling=False),
        "sampled out": PerformanceProfiler(dsn, sample_rate=0.0),
    }
    shapes = [("root blocks (with)", roots), ("trees of 10 (with)", nested),
              ("trees of 10 (async with)", async_nested)]
    results = {}
    for r in range(ROUNDS):
        cases = [(s, m) for s in shapes for m in profilers]
        if r % 2:
            cases.reverse()
        for (label, fn), mode in cases:
            dt, blocks = fn(profilers[mode], N)
            base = loop_empty(blocks)
            results.setdefault((label, mode), []).append((dt - base) / blocks * 1e6)
    rec = profilers["recorded"]
    ok = rec.flush(120)
    st = rec.stats()
    expected_trees = ROUNDS * (N + 2 * (N // 10))
    print("| blocks | recorded µs/block | disabled µs/block | sampled out µs/block |")
    print("|---|---:|---:|---:|")
    for label, _ in shapes:
        print("| %s | %.2f | %.2f | %.2f |" % (
            label, statistics.median(results[(label, "recorded")]),
            statistics.median(results[(label, "disabled")]),
            statistics.median(results[(label, "sampled out")])))
    print()
    print("python %s, %d blocks per case, %d rounds, medians; load %s" % (
        sys.version.split()[0], N, ROUNDS, open("/proc/loadavg").read().split()[:3]))
    print("recorded trees: sent %d, dropped %d, failed %d, queued %d (flushed: %s)" % (
        st["sent"], st["dropped"], st["failed"], st["queued"], ok))
    for p in profilers.values():
        p.close()
    if not ok or st["dropped"] or st["failed"] or st["sent"] != expected_trees:
        print("bench: not every recorded tree was stored (expected %d)" % expected_trees, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
