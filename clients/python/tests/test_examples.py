"""Every example of issue 19, run against the live server: what each one
stores (or returns) is checked."""

import asyncio
import dataclasses

import pytest

from conftest import expected, profiles, rows
from ppprof import PerformanceProfiler, PerformanceSnapshot, TimingRecord, profile_operation


def names(tree):
    return [tree["operation_name"], [names(c) for c in tree["children"]]]


def test_nested_async_with(dsn):
    profiler = PerformanceProfiler(dsn, enable_profiling=True)

    async def main():
        async with profiler.profile("rag_query", query_id="123") as record:
            async with profiler.profile("retrieval"):
                async with profiler.profile("embedding_generation"):
                    await asyncio.sleep(0.01)
        return record

    record = asyncio.run(main())
    assert isinstance(record, TimingRecord)
    assert profiler.flush(30)
    stored = profiles(dsn)
    assert len(stored) == 1
    assert stored[0]["query_id"] == "123"
    assert names(stored[0]["profile"]) == ["rag_query", [["retrieval", [["embedding_generation", []]]]]]
    assert stored[0]["profile"] == expected(record)
    assert stored[0]["profile"]["metadata"] == {"query_id": "123"}
    profiler.close()


def test_plain_with(dsn):
    profiler = PerformanceProfiler(dsn)
    with profiler.profile("rag_query", query_id="plain", user_tier="pro") as record:
        with profiler.profile("cache_lookup", cache="miss"):
            pass
        with profiler.profile("llm_generation", model="m"):
            pass
    assert profiler.flush(30)
    stored = profiles(dsn)
    assert [s["query_id"] for s in stored] == ["plain"]
    assert stored[0]["profile"] == expected(record)
    assert [c["metadata"] for c in stored[0]["profile"]["children"]] == [{"cache": "miss"}, {"model": "m"}]
    profiler.close()


def test_decorators(dsn):
    profiler = PerformanceProfiler(dsn)

    @profiler.profile_async
    async def embedding_generation(text):
        await asyncio.sleep(0)
        return [len(text)]

    @profiler.profile_sync
    def post_process_results(results):
        return sorted(results)

    @profile_operation(profiler)
    async def complex_operation():
        return await embedding_generation("abc")

    @profile_operation(profiler)
    def sync_operation(x):
        return post_process_results([x, 1])

    async def main():
        async with profiler.profile("rag_query", query_id="deco"):
            a = await embedding_generation("hello")
            b = post_process_results([3, 2])
            c = await complex_operation()
            d = sync_operation(5)
        return a, b, c, d

    assert asyncio.run(main()) == ([5], [2, 3], [3], [1, 5])
    # the decorated functions keep their names and documentation
    assert embedding_generation.__name__ == "embedding_generation"
    assert complex_operation.__name__ == "complex_operation"
    # a decorated call outside any block is a root of its own
    assert sync_operation(7) == [1, 7]
    assert profiler.flush(30)
    stored = profiles(dsn)
    assert len(stored) == 2
    by_root = {s["profile"]["operation_name"]: s["profile"] for s in stored}
    assert names(by_root["rag_query"]) == ["rag_query", [
        ["embedding_generation", []],
        ["post_process_results", []],
        ["complex_operation", [["embedding_generation", []]]],
        ["sync_operation", [["post_process_results", []]]],
    ]]
    assert names(by_root["sync_operation"]) == ["sync_operation", [["post_process_results", []]]]
    profiler.close()


def test_thresholds_written_through(dsn):
    profiler = PerformanceProfiler(dsn)
    profiler.bottleneck_thresholds = {"retrieval": 500, "llm_generation": 2000, "rerank_step": 5}
    assert isinstance(profiler.bottleneck_thresholds, dict)
    assert profiler.bottleneck_thresholds == {"retrieval": 500.0, "llm_generation": 2000.0,
                                              "rerank_step": 5.0}
    profiler.bottleneck_thresholds["retrieval"] = 1
    profiler.bottleneck_thresholds |= {"cache_lookup": 40}
    profiler.bottleneck_thresholds.update(database_query=90)
    profiler.bottleneck_thresholds.setdefault("api_call", 900)
    with profiler.profile("rag_query", query_id="th"):
        with profiler.profile("retrieval"):
            pass
        with profiler.profile("rerank_step"):
            import time
            time.sleep(0.01)
    assert profiler.flush(30)
    assert profiler.stats()["thresholds_failed"] == 0
    got = dict(rows(dsn, "SELECT operation_type, threshold_ms FROM performance_thresholds"))
    assert got == {"retrieval": 1.0, "llm_generation": 2000.0, "rerank_step": 5.0, "cache_lookup": 40.0,
                   "database_query": 90.0, "api_call": 900.0,
                   # the seeded one no assignment named is left as it was
                   "embedding_generation": 200.0}
    # the profile was analysed under them: rerank_step (10 ms > 5 ms) is a
    # bottleneck by its exact name
    (bott,) = rows(dsn, "SELECT bottleneck_operations FROM performance_profiles WHERE query_id = 'th'")[0]
    assert "rerank_step" in [b["operation"] for b in bott]
    # a key taken out of the dict is not deleted from the table
    del profiler.bottleneck_thresholds["rerank_step"]
    assert profiler.flush(30)
    assert rows(dsn, "SELECT threshold_ms FROM performance_thresholds WHERE operation_type = 'rerank_step'") \
        == [(5.0,)]
    profiler.close()


def test_enabled_toggle(dsn):
    profiler = PerformanceProfiler(dsn)
    profiler.enabled = False
    with profiler.profile("off", query_id="off") as rec:
        with profiler.profile("inner"):
            pass
    # the block still gives a record, which is not stored
    assert rec.operation_name == "off"
    profiler.enabled = True
    with profiler.profile("on", query_id="on"):
        pass
    assert profiler.flush(30)
    assert [s["query_id"] for s in profiles(dsn)] == ["on"]
    profiler.close()


def test_snapshot(dsn):
    profiler = PerformanceProfiler(dsn)
    for i in range(3):
        with profiler.profile("rag_query", query_id="s%d" % i):
            pass
    assert profiler.flush(30)

    async def main():
        async def idle():
            await asyncio.sleep(10)

        t = asyncio.get_running_loop().create_task(idle())
        async with profiler.profile("open_root"):
            snap = await profiler.capture_performance_snapshot()
        t.cancel()
        return snap

    snap = asyncio.run(main())
    assert isinstance(snap, PerformanceSnapshot)
    assert [f.name for f in dataclasses.fields(snap)] == [
        "timestamp", "active_operations", "memory_usage_mb", "cpu_percent", "pending_tasks",
        "cache_size", "avg_response_time_ms"]
    assert snap.active_operations == 1          # open_root
    assert snap.pending_tasks == 1              # idle()
    assert snap.memory_usage_mb > 1
    assert snap.cpu_percent >= 0
    assert snap.cache_size == 0
    (avg, summary) = rows(dsn, "SELECT avg(total_duration_ms), pp_optimization_report('5 minutes')->'summary'"
                               "  FROM performance_profiles")[0]
    # the database's figure, which is the mean of the stored roots
    assert snap.avg_response_time_ms == summary["avg_query_duration_ms"], summary
    assert snap.avg_response_time_ms == pytest.approx(avg, rel=0.01, abs=0.01), (avg, summary)
    profiler.close()


def test_optimization_report(dsn):
    profiler = PerformanceProfiler(dsn)
    for i in range(4):
        with profiler.profile("rag_query", query_id="r%d" % i):
            with profiler.profile("retrieval"):
                pass
    assert profiler.flush(30)
    report = asyncio.run(profiler.get_optimization_report(hours=24))
    assert isinstance(report, dict)
    assert report["summary"]["total_profiled_queries"] == 4
    assert isinstance(report["summary"]["avg_query_duration_ms"], (int, float))
    assert isinstance(report["top_bottlenecks"], list)
    assert isinstance(report["optimization_priorities"], list)
    # the same JSON the database gives (but for the instants it was made at)
    (db,) = rows(dsn, "SELECT pp_optimization_report('24 hours')")[0]

    for key in ("total_profiled_queries", "avg_query_duration_ms"):
        assert report["summary"][key] == db["summary"][key], key
    assert set(report) == set(db)
    assert report["summary"]["window_start"] < db["summary"]["window_start"]
    profiler.close()


def test_report_keys_the_application_reads(dsn):
    """A slow retrieval makes a bottleneck and a priority: their keys."""
    profiler = PerformanceProfiler(dsn)
    profiler.bottleneck_thresholds = {"retrieval": 1}
    for i in range(3):
        with profiler.profile("rag_query", query_id="k%d" % i):
            with profiler.profile("retrieval"):
                import time
                time.sleep(0.005)
    assert profiler.flush(30)
    report = asyncio.run(profiler.get_optimization_report(hours=1))
    assert report["top_bottlenecks"], report
    b = report["top_bottlenecks"][0]
    for key in ("operation", "impact_score", "optimizations"):
        assert key in b, key
    assert report["optimization_priorities"], report
    for key in ("operation", "priority", "timeline", "expected_improvement", "effort_estimate"):
        assert key in report["optimization_priorities"][0], key
    profiler.close()
