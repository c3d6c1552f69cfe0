"""Nesting follows contextvars: 50 concurrent asyncio requests and 8 threads
give 58 separate trees, each exactly what its request did; a task created
inside a block attaches to it; a thread starts trees of its own."""

import asyncio
import random
import threading
import time

from conftest import expected, profiles
from ppprof import PerformanceProfiler


def shape(tree):
    return (tree["operation_name"], tree["metadata"], tree["error"],
            [shape(c) for c in tree["children"]])


def test_50_tasks_and_8_threads(dsn):
    profiler = PerformanceProfiler(dsn, batch_size=7)
    records = {}
    want = {}

    async def request(i):
        # each request has its own number of documents, so that a node put
        # in the wrong tree shows
        docs = i % 5 + 1
        async with profiler.profile("rag_query", query_id="a%d" % i, n=i) as rec:
            async with profiler.profile("retrieval", request=i):
                for d in range(docs):
                    async with profiler.profile("fetch_document", request=i, doc=d):
                        await asyncio.sleep(random.random() / 100)
            async with profiler.profile("llm_generation", request=i):
                await asyncio.sleep(random.random() / 100)
        records["a%d" % i] = rec
        want["a%d" % i] = ("rag_query", {"query_id": "a%d" % i, "n": i}, None, [
            ("retrieval", {"request": i}, None,
             [("fetch_document", {"request": i, "doc": d}, None, []) for d in range(docs)]),
            ("llm_generation", {"request": i}, None, [])])

    def worker(t):
        for j in range(1):
            with profiler.profile("batch_job", query_id="t%d" % t, thread=t) as rec:
                for k in range(t % 3 + 1):
                    with profiler.profile("embed_documents", thread=t, k=k):
                        time.sleep(random.random() / 100)
            records["t%d" % t] = rec
            want["t%d" % t] = ("batch_job", {"query_id": "t%d" % t, "thread": t}, None,
                               [("embed_documents", {"thread": t, "k": k}, None, [])
                                for k in range(t % 3 + 1)])

    async def main():
        threads = [threading.Thread(target=worker, args=(t,)) for t in range(8)]
        for th in threads:
            th.start()
        await asyncio.gather(*(request(i) for i in range(50)))
        for th in threads:
            th.join()

    asyncio.run(main())
    assert profiler.flush(30)
    stored = profiles(dsn)
    assert len(stored) == 58
    assert sorted(s["query_id"] for s in stored) == sorted(want)
    for s in stored:
        q = s["query_id"]
        assert shape(s["profile"]) == want[q], q
        assert s["profile"] == expected(records[q]), q
    st = profiler.stats()
    assert (st["sent"], st["dropped"], st["failed"], st["queued"]) == (58, 0, 0, 0)
    profiler.close()


def test_task_created_inside_a_block_attaches(dsn):
    profiler = PerformanceProfiler(dsn)

    async def search(kind):
        async with profiler.profile(kind):
            await asyncio.sleep(0.01 if kind == "vector_search" else 0.001)

    async def main():
        async with profiler.profile("rag_query", query_id="tasks"):
            async with profiler.profile("retrieval"):
                # two tasks made inside retrieval run in parallel
                t1 = asyncio.create_task(search("vector_search"))
                t2 = asyncio.ensure_future(search("keyword_search"))
                await asyncio.gather(t1, t2)
            # a task made outside any block of this profiler's is a root
        await asyncio.create_task(search("standalone"))

    asyncio.run(main())
    assert profiler.flush(30)
    stored = {s["query_id"]: s["profile"] for s in profiles(dsn)}
    assert len(stored) == 2
    tree = stored["tasks"]
    retrieval = tree["children"][0]
    assert [c["operation_name"] for c in retrieval["children"]] == ["vector_search", "keyword_search"]
    # parallel children: keyword_search ended first but started second
    vs, ks = retrieval["children"]
    assert ks["end_time"] < vs["end_time"]
    others = [p for q, p in stored.items() if q != "tasks"]
    assert [p["operation_name"] for p in others] == ["standalone"]
    profiler.close()


def test_thread_started_inside_a_block_is_a_tree_of_its_own(dsn):
    profiler = PerformanceProfiler(dsn)

    def job():
        with profiler.profile("background_job", query_id="bg"):
            pass

    with profiler.profile("rag_query", query_id="fg"):
        th = threading.Thread(target=job)
        th.start()
        th.join()
    assert profiler.flush(30)
    stored = {s["query_id"]: s["profile"] for s in profiles(dsn)}
    assert set(stored) == {"fg", "bg"}
    assert stored["fg"]["children"] == []
    assert stored["bg"]["operation_name"] == "background_job"
    profiler.close()


def test_task_that_outlives_its_block_is_left_out(dsn):
    profiler = PerformanceProfiler(dsn)
    release = None

    async def late():
        async with profiler.profile("late_child") as rec:
            await release.wait()
        return rec

    async def main():
        nonlocal release
        release = asyncio.Event()
        async with profiler.profile("rag_query", query_id="late"):
            async with profiler.profile("on_time"):
                pass
            task = asyncio.create_task(late())
            await asyncio.sleep(0)
        release.set()
        return await task

    rec = asyncio.run(main())
    assert profiler.flush(30)
    (stored,) = profiles(dsn)
    assert [c["operation_name"] for c in stored["profile"]["children"]] == ["on_time"]
    # the late block's record says it was not measured
    assert rec.duration_ms is None and rec.end_time is None
    profiler.close()


def test_to_thread_attaches(dsn):
    """asyncio.to_thread runs the function in the caller's context: its
    blocks attach to the block that awaited it."""
    profiler = PerformanceProfiler(dsn)

    def blocking_parse():
        with profiler.profile("parse_pdf"):
            time.sleep(0.001)

    async def main():
        async with profiler.profile("rag_query", query_id="to_thread"):
            await asyncio.to_thread(blocking_parse)

    asyncio.run(main())
    assert profiler.flush(30)
    (s,) = profiles(dsn)
    assert [c["operation_name"] for c in s["profile"]["children"]] == ["parse_pdf"]
    profiler.close()
