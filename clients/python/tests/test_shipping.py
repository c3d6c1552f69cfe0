"""Never in the way: the queue, the sender thread, a database that goes away
and comes back, flush/close/atexit, sampling and enabled per root.  No
timing is asserted: "never blocks" is shown by recording while the sender
is held, which would deadlock if the caller waited for it."""

import os
import random
import re
import subprocess
import sys
import threading

from conftest import HERE, profiles, rows, wait_for
from ppprof import PerformanceProfiler


def settled(st):
    return st["sent"] + st["dropped"] + st["failed"] + st["queued"]


def test_caller_never_waits_for_the_sender(dsn):
    profiler = PerformanceProfiler(dsn, queue_size=50, batch_size=10)
    hold = threading.Event()
    entered = threading.Event()
    real_send = profiler._transport.send

    def held_send(lines):
        entered.set()
        hold.wait()
        real_send(lines)

    profiler._transport.send = held_send
    with profiler.profile("first", query_id="first"):
        pass
    profiler._shipper._wake.set()
    assert entered.wait(30)
    # the sender is stuck in its send: 500 more roots still complete
    for i in range(500):
        with profiler.profile("rag_query", query_id="q%d" % i):
            with profiler.profile("retrieval"):
                pass
    st = profiler.stats()
    assert st["queued"] == 50
    assert st["dropped"] == 450
    assert st["last_error"] == "the queue is full (50 trees): tree dropped"
    # flush gives up after its timeout and says so
    assert profiler.flush(0.2) is False
    hold.set()
    assert profiler.flush(30)
    st = profiler.stats()
    assert (st["sent"], st["dropped"], st["failed"], st["queued"]) == (51, 450, 0, 0)
    assert len(profiles(dsn)) == 51
    profiler.close()


def test_database_down_then_back(server):
    name = server.new_database()
    dsn = server.dsn(name)
    profiler = PerformanceProfiler(dsn, queue_size=100, batch_size=20, flush_interval=0.05)
    with profiler.profile("before", query_id="before"):
        pass
    assert profiler.flush(30)
    server.stop()
    try:
        n = 0
        # record until the sender has failed at least twice and the queue
        # has overflowed: nothing the caller does waits for the database
        while n < 100000 and not (profiler.stats()["batches_failed"] >= 2 and profiler.stats()["dropped"] > 0):
            with profiler.profile("rag_query", query_id="down%d" % n):
                with profiler.profile("retrieval"):
                    pass
            n += 1
        st = profiler.stats()
        assert st["batches_failed"] >= 2
        assert st["failed"] >= 2 and st["dropped"] > 0
        assert st["sent"] == 1
        # with nothing more recorded, the sender's next failure is the last
        # error: the driver's, named with the batch
        failures = st["batches_failed"]
        assert wait_for(lambda: profiler.stats()["batches_failed"] > failures)
        last = profiler.stats()["last_error"]
        assert re.match(r"batch of [0-9]+ trees not stored: ", last), last
        assert "Is the server running" in last, last
    finally:
        server.start()
    # recording resumes: the next trees are stored
    wait_for(lambda: profiler.flush(1))
    before_back = profiler.stats()
    for i in range(10):
        with profiler.profile("rag_query", query_id="back%d" % i):
            pass
    assert profiler.flush(30)
    st = profiler.stats()
    assert settled(st) == n + 1 + 10
    assert st["sent"] >= before_back["sent"] + 10
    ids = [r[0] for r in rows(dsn, "SELECT query_id FROM performance_profiles")]
    assert ids.count("before") == 1
    assert sorted(i for i in ids if i.startswith("back")) == sorted("back%d" % i for i in range(10))
    # what was sent is exactly what is stored
    assert len(ids) == st["sent"]
    profiler.close()


def test_sampling_per_root(dsn):
    random.seed(19)
    profiler = PerformanceProfiler(dsn, sample_rate=0.5)
    for i in range(200):
        with profiler.profile("rag_query", query_id="s%d" % i):
            with profiler.profile("retrieval"):
                with profiler.profile("vector_search"):
                    pass
    assert profiler.flush(30)
    st = profiler.stats()
    stored = profiles(dsn)
    assert 0 < st["sent"] < 200
    assert st["sent"] + st["sampled_out"] == 200
    assert len(stored) == st["sent"]
    # a tree is kept whole or not at all
    for s in stored:
        assert [c["operation_name"] for c in s["profile"]["children"]] == ["retrieval"]
        assert [c["operation_name"] for c in s["profile"]["children"][0]["children"]] == ["vector_search"]
    profiler.sample_rate = 0
    with profiler.profile("never"):
        pass
    profiler.sample_rate = 1
    with profiler.profile("always", query_id="always"):
        pass
    assert profiler.flush(30)
    assert profiler.stats()["sampled_out"] == st["sampled_out"] + 1
    assert "always" in [r[0] for r in rows(dsn, "SELECT query_id FROM performance_profiles")]
    profiler.close()


def test_enabled_applies_per_root(dsn):
    profiler = PerformanceProfiler(dsn)
    with profiler.profile("rag_query", query_id="kept"):
        profiler.enabled = False
        with profiler.profile("retrieval"):
            pass
    # a root begun while disabled is not recorded, even if enabled inside
    with profiler.profile("rag_query", query_id="skipped"):
        profiler.enabled = True
        with profiler.profile("retrieval"):
            pass
    assert profiler.flush(30)
    (s,) = profiles(dsn)
    assert s["query_id"] == "kept"
    assert [c["operation_name"] for c in s["profile"]["children"]] == ["retrieval"]
    st = profiler.stats()
    assert (st["sent"], st["sampled_out"]) == (1, 0)
    profiler.close()


def test_close_then_record(dsn):
    profiler = PerformanceProfiler(dsn)
    with profiler.profile("rag_query", query_id="c1"):
        pass
    assert profiler.close(30)
    with profiler.profile("rag_query", query_id="c2"):
        pass
    st = profiler.stats()
    assert (st["sent"], st["dropped"]) == (1, 1)
    assert st["last_error"] == "the profiler is closed: tree dropped"
    assert [s["query_id"] for s in profiles(dsn)] == ["c1"]
    # the sender thread has ended
    assert not profiler._shipper._thread.is_alive()


def test_atexit_flushes(dsn):
    """A program that never calls flush() or close(): its trees are stored
    when it exits."""
    script = (
        "import sys; sys.path.insert(0, %r)\n"
        "from ppprof import PerformanceProfiler\n"
        "p = PerformanceProfiler(%r, flush_interval=60)\n"
        "for i in range(25):\n"
        "    with p.profile('rag_query', query_id='exit%%d' %% i):\n"
        "        with p.profile('retrieval'):\n"
        "            pass\n"
        "print(p.stats()['queued'])\n"
    ) % (os.path.join(os.path.dirname(HERE), "src"), dsn)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    # nothing had been sent when the program ended (flush_interval=60)
    assert out.stdout.strip() == "25"
    assert len(profiles(dsn)) == 25


def test_fork_child_ships_its_own(dsn):
    profiler = PerformanceProfiler(dsn)
    with profiler.profile("parent", query_id="parent"):
        pass
    assert profiler.flush(30)
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            with profiler.profile("child", query_id="child"):
                pass
            code = 0 if profiler.flush(30) and profiler.stats()["sent"] >= 1 else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.WEXITSTATUS(status) == 0
    assert sorted(s["query_id"] for s in profiles(dsn)) == ["child", "parent"]
    profiler.close()
