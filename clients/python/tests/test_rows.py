"""The stored rows equal what the code did, node by node: the program logs
each step it takes; the row's profile_data, the trigger's columns and
pp_analyze_profile's nodes are compared with that log."""

import asyncio
import time

from conftest import expected, rows
from ppprof import PerformanceProfiler


class SearchError(Exception):
    pass


def test_rows_equal_the_code(dsn):
    profiler = PerformanceProfiler(dsn)
    profiler.bottleneck_thresholds = {"keyword_search": 1}
    log = []  # (path, operation, depth, failed) in the order the blocks start

    async def step(path, name, depth, sleep, fail=False, **meta):
        log.append((path, name, depth, fail))
        async with profiler.profile(name, **meta):
            await asyncio.sleep(sleep)
            if fail:
                raise SearchError("index %s offline" % name)

    async def request():
        log.append(("$", "rag_query", 1, True))
        async with profiler.profile("rag_query", query_id="rows-1", user_tier="pro") as root:
            await step("$.children[0]", "cache_lookup", 2, 0.001, cache="miss")
            log.append(("$.children[1]", "retrieval", 2, True))
            try:
                async with profiler.profile("retrieval"):
                    await step("$.children[1].children[0]", "vector_search", 3, 0.004, top_k=20)
                    await step("$.children[1].children[1]", "keyword_search", 3, 0.003, fail=True)
            except SearchError:
                pass
            await step("$.children[2]", "llm_generation", 2, 0.002, model="m")
            raise RuntimeError("answer rejected")
        return root

    async def main():
        try:
            await request()
        except RuntimeError as exc:
            assert str(exc) == "answer rejected"

    asyncio.run(main())
    assert profiler.flush(30)
    ((query_id, data, total, bottlenecks, analyzed),) = rows(
        dsn, "SELECT query_id, profile_data, total_duration_ms, bottleneck_operations, ppprof_analyzed"
             " FROM performance_profiles")
    assert query_id == "rows-1"
    assert analyzed is True
    assert total == data["duration_ms"]
    # node by node, as the server walks it (document order)
    nodes = rows(dsn, "SELECT path, operation, depth, failed FROM pp_analyze_profile(%s::jsonb) ORDER BY node",
                 (__import__("json").dumps(data),))
    assert nodes == log
    # errors, metadata
    assert data["error"] == "RuntimeError: answer rejected"
    assert data["metadata"] == {"query_id": "rows-1", "user_tier": "pro"}
    retrieval = data["children"][1]
    assert retrieval["error"] == "SearchError: index keyword_search offline"
    assert retrieval["children"][1]["error"] == "SearchError: index keyword_search offline"
    assert retrieval["children"][0]["metadata"] == {"top_k": 20}
    assert data["children"][0]["metadata"] == {"cache": "miss"}
    # the written-through threshold made keyword_search (>= 3 ms of sleep) a bottleneck
    assert [b["operation"] for b in bottlenecks if b["operation"] == "keyword_search"] == ["keyword_search"]

    # times: end = start + duration; a child within its parent; sequential
    # siblings in order; each block at least as long as its sleep
    def walk(node):
        assert abs(node["end_time"] - (node["start_time"] + node["duration_ms"] / 1000)) < 1e-6
        for a, b in zip(node["children"], node["children"][1:]):
            assert a["end_time"] <= b["start_time"] + 1e-6
        for c in node["children"]:
            assert node["start_time"] <= c["start_time"] + 1e-6
            assert c["end_time"] <= node["end_time"] + 1e-6
            walk(c)
    walk(data)
    sleeps = {"cache_lookup": 1, "vector_search": 4, "keyword_search": 3, "llm_generation": 2}
    for c in data["children"] + retrieval["children"]:
        if c["operation_name"] in sleeps:
            assert c["duration_ms"] >= sleeps[c["operation_name"]]
    profiler.close()


def test_start_time_is_wall_clock_and_duration_monotonic(dsn):
    profiler = PerformanceProfiler(dsn)
    t0 = time.time()
    with profiler.profile("rag_query", query_id="clock") as rec:
        time.sleep(0.002)
    t1 = time.time()
    assert t0 <= rec.start_time <= t1
    assert rec.duration_ms >= 2
    assert profiler.flush(30)
    ((data,),) = rows(dsn, "SELECT profile_data FROM performance_profiles")
    assert data == expected(rec)
    profiler.close()
