"""The four kinds of client: a DSN, a psycopg2 connection, a psycopg (3)
connection and a supabase-py Client (the fake of conftest.py, which goes the
way PostgREST goes, as service_role)."""

import asyncio

import psycopg
import psycopg2
import pytest

from conftest import FakeSupabase, expected, profiles, rows
from ppprof import PerformanceProfiler


def record_three(profiler, prefix):
    recs = []
    for i in range(3):
        with profiler.profile("rag_query", query_id="%s%d" % (prefix, i)) as rec:
            with profiler.profile("retrieval", k=i):
                pass
        recs.append(rec)
    return recs


def check_stored(dsn, recs, prefix):
    got = profiles(dsn)
    stored = {s["query_id"]: s["profile"] for s in got}
    assert len(got) == len(recs)
    assert stored == {"%s%d" % (prefix, i): expected(r) for i, r in enumerate(recs)}


def test_dsn(dsn):
    profiler = PerformanceProfiler(dsn)
    recs = record_three(profiler, "dsn")
    assert profiler.flush(30)
    check_stored(dsn, recs, "dsn")
    assert profiler.stats()["sent"] == 3
    profiler.close()


def test_psycopg2_connection(dsn):
    app = psycopg2.connect(dsn)
    profiler = PerformanceProfiler(app)
    # the application is in the middle of a transaction of its own
    cur = app.cursor()
    cur.execute("CREATE TABLE app_data (x int)")
    recs = record_three(profiler, "pg2-")
    assert profiler.flush(30)
    # stored and committed, while the application's transaction is still open
    check_stored(dsn, recs, "pg2-")
    assert app.get_transaction_status() == psycopg2.extensions.TRANSACTION_STATUS_INTRANS
    app.rollback()
    assert rows(dsn, "SELECT to_regclass('app_data') IS NULL") == [(True,)]
    assert len(profiles(dsn)) == 3
    profiler.close()
    # the application's connection is the application's: still open
    assert app.closed == 0
    app.close()


def test_psycopg3_connection(dsn):
    app = psycopg.connect(dsn)
    profiler = PerformanceProfiler(app)
    app.execute("CREATE TABLE app_data (x int)")
    recs = record_three(profiler, "pg3-")
    assert profiler.flush(30)
    check_stored(dsn, recs, "pg3-")
    assert app.info.transaction_status == psycopg.pq.TransactionStatus.INTRANS
    app.rollback()
    report = asyncio.run(profiler.get_optimization_report(hours=1))
    assert report["summary"]["total_profiled_queries"] == 3
    profiler.close()
    assert not app.closed
    app.close()


def test_fake_supabase(dsn, fake_supabase):
    profiler = PerformanceProfiler(fake_supabase)
    profiler.bottleneck_thresholds["retrieval"] = 123
    recs = record_three(profiler, "sb")
    assert profiler.flush(30)
    check_stored(dsn, recs, "sb")
    assert fake_supabase.calls[:2] == ["table:performance_thresholds", "pp_ingest_jsonl"]
    assert rows(dsn, "SELECT threshold_ms FROM performance_thresholds WHERE operation_type = 'retrieval'") \
        == [(123.0,)]
    report = asyncio.run(profiler.get_optimization_report(hours=24))
    assert report["summary"]["total_profiled_queries"] == 3

    async def snap():
        return await profiler.capture_performance_snapshot()
    s = asyncio.run(snap())
    (avg,) = rows(dsn, "SELECT avg(total_duration_ms) FROM performance_profiles")[0]
    assert s.avg_response_time_ms == pytest.approx(avg, rel=0.01, abs=0.01)
    st = profiler.stats()
    assert (st["sent"], st["failed"], st["thresholds_failed"]) == (3, 0, 0)
    profiler.close()


def test_fake_supabase_refused_tree(dsn, fake_supabase):
    profiler = PerformanceProfiler(fake_supabase, flush_interval=5)
    for i in range(6):
        with profiler.profile("rag_query" if i != 4 else "x" * 201, query_id="r%d" % i):
            pass
    assert profiler.flush(30)
    st = profiler.stats()
    assert (st["sent"], st["refused"], st["failed"]) == (5, 1, 1)
    assert "operation_name is 201 bytes long, the limit is 200" in st["last_error"]
    assert sorted(s["query_id"] for s in profiles(dsn)) == ["r0", "r1", "r2", "r3", "r5"]
    profiler.close()


def test_service_role_without_the_grant(server):
    """The grant the RPC path needs: without EXECUTE on pp_ingest_jsonl the
    batch fails, with PostgREST's (the server's) message."""
    name = server.new_database()
    dsn = server.dsn(name)
    server.execute(name, "REVOKE EXECUTE ON FUNCTION pp_ingest_jsonl(text) FROM service_role")
    profiler = PerformanceProfiler(FakeSupabase(dsn))
    with profiler.profile("rag_query"):
        pass
    assert profiler.flush(30)
    st = profiler.stats()
    assert (st["sent"], st["failed"], st["batches_failed"]) == (0, 1, 1)
    assert st["last_error"] == ("batch of 1 trees not stored: permission denied for function "
                                "pp_ingest_jsonl")
    assert profiles(dsn) == []
    profiler.close()


def test_async_supabase_client_is_refused(dsn):
    class AsyncRequest:
        def execute(self):
            async def later():
                return None
            return later()

    class AsyncClient:
        def rpc(self, name, params):
            return AsyncRequest()

    profiler = PerformanceProfiler(AsyncClient())
    with profiler.profile("rag_query"):
        pass
    assert profiler.flush(30)
    st = profiler.stats()
    assert (st["sent"], st["failed"]) == (0, 1)
    assert st["last_error"] == ("batch of 1 trees not stored: the client's execute() returned an awaitable: "
                                "an async supabase client is not supported, pass a sync Client or a DSN")
    profiler.close()


@pytest.mark.parametrize("kind", ["dsn", "rpc"])
def test_pp_ingest_fallback(server, kind):
    """A database whose ppprof has no pp_ingest_jsonl: one pp_ingest per tree."""
    name = server.new_database()
    dsn = server.dsn(name)
    server.execute(name, "ALTER EXTENSION ppprof DROP FUNCTION pp_ingest_jsonl(text)",
                   "DROP FUNCTION pp_ingest_jsonl(text)")
    client = dsn if kind == "dsn" else FakeSupabase(dsn)
    profiler = PerformanceProfiler(client, flush_interval=5)
    recs = []
    for i in range(5):
        with profiler.profile("rag_query" if i != 2 else "y" * 250, query_id="f%d" % i) as rec:
            with profiler.profile("retrieval"):
                pass
        recs.append(rec)
    assert profiler.flush(30)
    st = profiler.stats()
    assert (st["sent"], st["refused"], st["failed"]) == (4, 1, 1)
    got = profiles(dsn)
    assert len(got) == 4
    stored = {s["query_id"]: s["profile"] for s in got}
    assert stored == {"f%d" % i: expected(r) for i, r in enumerate(recs) if i != 2}
    if kind == "rpc":
        assert client.calls.count("pp_ingest_jsonl") == 1
        assert client.calls.count("pp_ingest") == 5
    profiler.close()


def test_psycopg3_async_connection(dsn):
    async def main():
        app = await psycopg.AsyncConnection.connect(dsn)
        profiler = PerformanceProfiler(app)
        async with profiler.profile("rag_query", query_id="async-conn") as rec:
            async with profiler.profile("retrieval"):
                pass
        assert profiler.flush(30)
        report = await profiler.get_optimization_report(hours=1)
        profiler.close()
        await app.close()
        return rec, report

    rec, report = asyncio.run(main())
    assert report["summary"]["total_profiled_queries"] == 1
    assert [(s["query_id"], s["profile"]) for s in profiles(dsn)] == [("async-conn", expected(rec))]


@pytest.mark.parametrize("driver", ["psycopg2", "psycopg"])
def test_connection_parameters_carry_the_password(dsn, driver):
    """The profiler's own connection is opened with the application's
    parameters, the password included (libpq does not list it)."""
    from ppprof._transport import _connection_params
    module = psycopg2 if driver == "psycopg2" else psycopg
    app = module.connect(dsn + " password=s3cret application_name=app1")
    try:
        params = _connection_params(app, driver)
    finally:
        app.close()
    assert params["password"] == "s3cret"
    assert params["application_name"] == "app1"
    assert params["dbname"] == dsn.split("dbname=")[1].split()[0]
    assert "client_encoding" not in params
