"""Exceptions inside blocks, and every error path of the API: the message,
and that nothing was stored."""

import asyncio
import math

import pytest

from conftest import expected, profiles, rows
from ppprof import PerformanceProfiler, profile_operation


class RateLimitError(Exception):
    pass


def test_exception_recorded_and_reraised_unchanged(dsn):
    profiler = PerformanceProfiler(dsn)
    err = RateLimitError("retry later")
    with pytest.raises(RateLimitError) as info:
        with profiler.profile("rag_query", query_id="e1") as root:
            with profiler.profile("retrieval"):
                pass
            with profiler.profile("llm_generation"):
                raise err
    # the very same object, with its traceback
    assert info.value is err
    assert info.tb is not None
    assert profiler.flush(30)
    (s,) = profiles(dsn)
    tree = s["profile"]
    assert tree == expected(root)
    assert tree["error"] == "RateLimitError: retry later"
    assert [c["error"] for c in tree["children"]] == [None, "RateLimitError: retry later"]
    # a failed profile: the node counts as an error in the statistics
    assert rows(dsn, "SELECT calls, errors FROM pp_operation_stats() WHERE operation = 'llm_generation'") \
        == [(1, 1)]
    profiler.close()


def test_exception_caught_inside_the_root(dsn):
    profiler = PerformanceProfiler(dsn)

    async def main():
        async with profiler.profile("rag_query", query_id="e2"):
            try:
                async with profiler.profile("cache_lookup"):
                    raise KeyError("doc-7")
            except KeyError:
                pass
            async with profiler.profile("fallback"):
                pass

    asyncio.run(main())
    assert profiler.flush(30)
    (s,) = profiles(dsn)
    assert s["profile"]["error"] is None
    assert [(c["operation_name"], c["error"]) for c in s["profile"]["children"]] == [
        ("cache_lookup", "KeyError: 'doc-7'"), ("fallback", None)]
    profiler.close()


def test_exception_through_decorators(dsn):
    profiler = PerformanceProfiler(dsn)

    @profiler.profile_async
    async def embedding_generation(text):
        raise ValueError("empty text")

    @profile_operation(profiler)
    def parse():
        raise TimeoutError()

    async def main():
        with pytest.raises(ValueError, match="^empty text$"):
            await embedding_generation("")
        with pytest.raises(TimeoutError):
            parse()

    asyncio.run(main())
    assert profiler.flush(30)
    got = sorted((s["profile"]["operation_name"], s["profile"]["error"]) for s in profiles(dsn))
    assert got == [("embedding_generation", "ValueError: empty text"), ("parse", "TimeoutError: ")]
    profiler.close()


def test_cancelled_task(dsn):
    profiler = PerformanceProfiler(dsn)

    async def slow():
        async with profiler.profile("rag_query", query_id="cancel"):
            await asyncio.sleep(10)

    async def main():
        t = asyncio.create_task(slow())
        await asyncio.sleep(0.01)
        t.cancel()
        with pytest.raises(asyncio.CancelledError):
            await t

    asyncio.run(main())
    assert profiler.flush(30)
    (s,) = profiles(dsn)
    assert s["profile"]["error"] == "CancelledError: "
    profiler.close()


def test_bad_client():
    with pytest.raises(TypeError, match=r"^client must be a DSN string, a psycopg2 or psycopg connection, "
                                        r"or a supabase Client \(an object with \.rpc\(\)\), got int$"):
        PerformanceProfiler(42)
    with pytest.raises(ValueError, match="^client: an empty DSN"):
        PerformanceProfiler("  ")


def test_bad_arguments(dsn):
    with pytest.raises(ValueError, match=r"^sample_rate must be a number between 0 and 1, got 1\.5$"):
        PerformanceProfiler(dsn, sample_rate=1.5)
    with pytest.raises(ValueError, match=r"^queue_size must be a positive integer, got 0$"):
        PerformanceProfiler(dsn, queue_size=0)
    with pytest.raises(ValueError, match=r"^batch_size must be a positive integer, got 'x'$"):
        PerformanceProfiler(dsn, batch_size="x")
    with pytest.raises(ValueError, match=r"^flush_interval must be a number of seconds in \(0, 60\], got 0$"):
        PerformanceProfiler(dsn, flush_interval=0)
    profiler = PerformanceProfiler(dsn)
    with pytest.raises(ValueError, match="^operation_name must be a non-empty string, got ''$"):
        profiler.profile("")
    with pytest.raises(ValueError, match="^operation_name must be a non-empty string, got None$"):
        profiler.profile(None)
    with pytest.raises(ValueError, match=r"^sample_rate must be a number between 0 and 1, got -0\.1$"):
        profiler.sample_rate = -0.1
    assert profiler.sample_rate == 1.0
    with pytest.raises(ValueError, match=r"^hours must be a positive number, got 0$"):
        asyncio.run(profiler.get_optimization_report(hours=0))
    with pytest.raises(ValueError, match=r"^hours must be a positive number, got nan$"):
        asyncio.run(profiler.get_optimization_report(hours=math.nan))
    assert profiler.flush(5)
    assert profiles(dsn) == []
    profiler.close()


def test_bad_decorator_use(dsn):
    profiler = PerformanceProfiler(dsn)

    def plain():
        pass

    async def coro():
        pass

    with pytest.raises(TypeError, match=r"^profile_async decorates async functions; "
                                        r"test_bad_decorator_use\.<locals>\.plain is not one \(use profile_sync\)$"):
        profiler.profile_async(plain)
    with pytest.raises(TypeError, match=r"^profile_sync decorates plain functions; "
                                        r"test_bad_decorator_use\.<locals>\.coro is async \(use profile_async\)$"):
        profiler.profile_sync(coro)
    with pytest.raises(TypeError, match="^profile_operation needs a PerformanceProfiler, got str$"):
        profile_operation("not a profiler")
    profiler.close()


def test_bad_thresholds_change_nothing(dsn):
    profiler = PerformanceProfiler(dsn)
    before = rows(dsn, "SELECT operation_type, threshold_ms FROM performance_thresholds ORDER BY 1")
    with pytest.raises(ValueError, match=r"^bottleneck_thresholds: the threshold of 'retrieval' must be a "
                                         r"finite number of milliseconds above 0, got -5$"):
        profiler.bottleneck_thresholds = {"llm_generation": 10, "retrieval": -5}
    with pytest.raises(ValueError, match=r"^bottleneck_thresholds: the threshold of 'x' must be a finite "
                                         r"number of milliseconds above 0, got inf$"):
        profiler.bottleneck_thresholds["x"] = math.inf
    with pytest.raises(ValueError, match=r"^bottleneck_thresholds: the threshold of 'x' must be a finite "
                                         r"number of milliseconds above 0, got True$"):
        profiler.bottleneck_thresholds.update(x=True)
    with pytest.raises(ValueError, match="^bottleneck_thresholds: a key must be a non-empty operation name "
                                         "or type, got ''$"):
        profiler.bottleneck_thresholds[""] = 5
    assert profiler.bottleneck_thresholds["llm_generation"] == 2000.0
    assert "x" not in profiler.bottleneck_thresholds
    assert profiler.flush(10)
    assert rows(dsn, "SELECT operation_type, threshold_ms FROM performance_thresholds ORDER BY 1") == before
    profiler.close()


def test_refused_tree_is_lost_alone(dsn):
    """A name over the server's 200-byte limit: that tree alone is refused."""
    profiler = PerformanceProfiler(dsn, flush_interval=5)
    for i in range(10):
        with profiler.profile("rag_query", query_id="ok%d" % i):
            if i in (3, 7):
                with profiler.profile("n" * 300):
                    pass
    assert profiler.flush(30)
    st = profiler.stats()
    assert (st["sent"], st["failed"], st["refused"], st["dropped"]) == (8, 2, 2, 0)
    assert st["last_error"].startswith("the server refused a tree: invalid profile at "
                                       "$.children[0].operation_name: operation_name is 300 bytes long")
    assert sorted(s["query_id"] for s in profiles(dsn)) == sorted("ok%d" % i for i in range(10) if i not in (3, 7))
    profiler.close()


def test_metadata_that_json_cannot_hold(dsn):
    profiler = PerformanceProfiler(dsn)
    import datetime
    with profiler.profile("rag_query", query_id="nan", score=math.nan):
        pass
    when = datetime.date(2026, 1, 2)
    with profiler.profile("rag_query", query_id="date", day=when):
        pass
    assert profiler.flush(30)
    st = profiler.stats()
    assert (st["sent"], st["failed"], st["refused"]) == (1, 1, 1)
    assert st["last_error"] == ("tree 'rag_query' not sent: ValueError: Out of range float values "
                                "are not JSON compliant")
    (s,) = profiles(dsn)
    # a value JSON has no type for is stored as its str()
    assert s["query_id"] == "date" and s["profile"]["metadata"]["day"] == "2026-01-02"
    profiler.close()


def test_database_without_the_extension(server):
    dsn = server.dsn(server.new_database(with_extension=False))
    profiler = PerformanceProfiler(dsn)
    with profiler.profile("rag_query"):
        pass
    assert profiler.flush(30)
    st = profiler.stats()
    assert (st["sent"], st["failed"], st["batches_failed"]) == (0, 1, 1)
    assert st["last_error"] == ('batch of 1 trees not stored: extension "ppprof" is not installed in '
                                'database "%s"' % dsn.split("dbname=")[1].split()[0])
    with pytest.raises(Exception, match="ppprof"):
        asyncio.run(profiler.get_optimization_report())
    profiler.close()
