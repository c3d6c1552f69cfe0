"""ppprof._profiler -- PerformanceProfiler, its profile() blocks and the
decorators.

The current block is a contextvars.ContextVar per profiler: asyncio tasks and
threads each see their own, a task created inside a block starts with a copy
of its creator's context and so attaches to that block, and a thread (which
starts with an empty context) starts trees of its own.  A root block decides
once whether its tree is recorded (enabled, sample_rate); the blocks inside
it follow that decision.  When a root ends, its TimingRecord goes to the
shipper's queue (_shipper.py); nothing else happens in the caller's thread.
"""

import asyncio
import atexit
import contextvars
import functools
import inspect
import math
import os
import random
import threading
import time
import weakref
from typing import Any, Callable, Dict, Optional, Set, TypeVar

from ._records import PerformanceSnapshot, TimingRecord
from ._shipper import Shipper
from ._transport import Transport, make_transport

__all__ = ["PerformanceProfiler", "profile_operation"]

F = TypeVar("F", bound=Callable[..., Any])

# The extension's seeded performance_thresholds (sql/src/config.sql): what
# the dict holds until the application assigns its own.
DEFAULT_THRESHOLDS = {
    "retrieval": 500.0,
    "embedding_generation": 200.0,
    "llm_generation": 2000.0,
    "cache_lookup": 50.0,
    "database_query": 100.0,
    "api_call": 1000.0,
}

_perf = time.perf_counter
_wall = time.time
_random = random.random


def _check_threshold(name: Any, ms: Any) -> float:
    if not isinstance(name, str) or not name:
        raise ValueError("bottleneck_thresholds: a key must be a non-empty operation name or type, got %r"
                         % (name,))
    if isinstance(ms, bool) or not isinstance(ms, (int, float)) or not math.isfinite(ms) or ms <= 0:
        raise ValueError("bottleneck_thresholds: the threshold of %r must be a finite number of "
                         "milliseconds above 0, got %r" % (name, ms))
    return float(ms)


class _Thresholds(Dict[str, float]):
    """A dict whose assignments are written to performance_thresholds."""

    def __init__(self, shipper: Optional[Shipper], values: Dict[str, float]) -> None:
        super().__init__(values)
        self._shipper = shipper

    def __setitem__(self, name: str, ms: float) -> None:
        ms = _check_threshold(name, ms)
        super().__setitem__(name, ms)
        if self._shipper is not None:
            self._shipper.thresholds({name: ms})

    def update(self, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        values = {k: _check_threshold(k, v) for k, v in dict(*args, **kwargs).items()}
        super().update(values)
        if self._shipper is not None and values:
            self._shipper.thresholds(values)

    def __ior__(self, other: Any) -> "_Thresholds":  # type: ignore[override]
        self.update(other)
        return self

    def setdefault(self, name: str, ms: float = 0.0) -> float:  # type: ignore[override]
        if name not in self:
            self[name] = ms
        return self[name]


_SKIP = object()  # the context value inside a tree that is not recorded


class _Block:
    """One profile() call: a context manager, plain and async."""

    __slots__ = ("_p", "_name", "_meta", "_rec", "_token", "_t0", "_root", "_done")

    def __init__(self, profiler: "PerformanceProfiler", name: str, meta: Dict[str, Any]) -> None:
        self._p = profiler
        self._name = name
        self._meta = meta
        self._rec: Optional[TimingRecord] = None
        self._token: Any = None
        self._done = False

    def __enter__(self) -> TimingRecord:
        p = self._p
        parent = p._current.get()
        rec = TimingRecord(self._name, _wall(), None, None, self._meta, [], None)
        if parent is None:
            if not p.enabled:
                self._token = p._current.set(_SKIP)
                return rec
            rate = p._sample_rate
            if rate < 1.0 and _random() >= rate:
                p._sampled_out()
                self._token = p._current.set(_SKIP)
                return rec
            self._root = self
            p._open_roots.add(self)
        elif parent is _SKIP:
            return rec
        else:
            parent._rec.children.append(rec)
            self._root = parent._root
        self._rec = rec
        self._token = p._current.set(self)
        self._t0 = _perf()
        if self._root is not self:
            # one clock per tree: the root's wall time plus the monotonic time
            # since, so that a child never ends after its parent when the
            # wall clock is slewed or stepped while the tree is recorded
            rec.start_time = self._root._rec.start_time + (self._t0 - self._root._t0)
        return rec

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> bool:
        t1 = _perf()
        rec = self._rec
        p = self._p
        if self._token is not None:
            try:
                p._current.reset(self._token)
            except ValueError:  # exited in another context than it was entered
                pass
        if rec is None:
            return False
        root = self._root
        if root._done:
            # a task that outlived the block it was created in: its tree is
            # already on its way, and this node stays out of it
            return False
        if exc_type is not None:
            rec.error = "%s: %s" % (exc_type.__name__, exc)
        d = t1 - self._t0
        rec.end_time = rec.start_time + d
        rec.duration_ms = d * 1000.0
        if root is self:
            self._done = True
            p._open_roots.discard(self)
            p._shipper.put(rec)
        return False

    async def __aenter__(self) -> TimingRecord:
        return self.__enter__()

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> bool:
        return self.__exit__(exc_type, exc, tb)


def _close_at_exit(ref: "weakref.ReferenceType[PerformanceProfiler]") -> None:
    p = ref()
    if p is not None:
        p.close(timeout=p._exit_timeout)


class PerformanceProfiler:
    """Records timing trees and stores them in the ppprof extension.

    client: a DSN string, a psycopg2 connection, a psycopg (3) connection
    (the profiler opens its own connection with the same parameters), or a
    supabase-py Client (anything with .rpc()).
    """

    def __init__(self, client: Any, enable_profiling: bool = True, *,
                 sample_rate: float = 1.0, queue_size: int = 1024, batch_size: int = 100,
                 flush_interval: float = 0.2, snapshot_window: str = "5 minutes",
                 exit_timeout: float = 5.0) -> None:
        transport: Transport = make_transport(client)
        self.client = client
        self.enabled = bool(enable_profiling)
        self.sample_rate = sample_rate
        self.snapshot_window = snapshot_window
        self._exit_timeout = exit_timeout
        self._transport = transport
        self._shipper = Shipper(transport, queue_size, batch_size, flush_interval)
        self._current: contextvars.ContextVar[Any] = contextvars.ContextVar("ppprof_block", default=None)
        self._open_roots: Set[_Block] = set()
        self._stats_lock = threading.Lock()
        self._sampled = 0
        self._thresholds = _Thresholds(self._shipper, DEFAULT_THRESHOLDS)
        self._cpu_mark = (time.monotonic(), time.process_time())
        self._closed = False
        atexit.register(_close_at_exit, weakref.ref(self))

    # -- settings --------------------------------------------------------------

    @property
    def sample_rate(self) -> float:
        """The fraction of root blocks whose tree is recorded (0 to 1)."""
        return self._sample_rate

    @sample_rate.setter
    def sample_rate(self, rate: float) -> None:
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0.0 <= rate <= 1.0:
            raise ValueError("sample_rate must be a number between 0 and 1, got %r" % (rate,))
        self._sample_rate = float(rate)

    @property
    def bottleneck_thresholds(self) -> Dict[str, float]:
        """Milliseconds per operation type or name; assignments are written
        to the database's performance_thresholds (docs/python.md)."""
        return self._thresholds

    @bottleneck_thresholds.setter
    def bottleneck_thresholds(self, values: Dict[str, float]) -> None:
        checked = {k: _check_threshold(k, v) for k, v in dict(values).items()}
        self._thresholds = _Thresholds(self._shipper, checked)
        if checked:
            self._shipper.thresholds(checked)

    # -- recording -------------------------------------------------------------

    def profile(self, operation_name: str, **metadata: Any) -> _Block:
        """A block, ``with`` or ``async with``; the keywords are its metadata."""
        if not isinstance(operation_name, str) or not operation_name:
            raise ValueError("operation_name must be a non-empty string, got %r" % (operation_name,))
        return _Block(self, operation_name, metadata)

    def profile_async(self, func: F) -> F:
        """Decorator for async functions: the call is a block named after the function."""
        if not inspect.iscoroutinefunction(func):
            raise TypeError("profile_async decorates async functions; %s is not one (use profile_sync)"
                            % getattr(func, "__qualname__", repr(func)))
        name = func.__name__
        profile = self.profile

        @functools.wraps(func)
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            with profile(name):
                return await func(*args, **kwargs)
        return wrapper  # type: ignore[return-value]

    def profile_sync(self, func: F) -> F:
        """Decorator for plain functions: the call is a block named after the function."""
        if inspect.iscoroutinefunction(func):
            raise TypeError("profile_sync decorates plain functions; %s is async (use profile_async)"
                            % getattr(func, "__qualname__", repr(func)))
        name = func.__name__
        profile = self.profile

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with profile(name):
                return func(*args, **kwargs)
        return wrapper  # type: ignore[return-value]

    def _sampled_out(self) -> None:
        with self._stats_lock:
            self._sampled += 1

    # -- shipping --------------------------------------------------------------

    def flush(self, timeout: Optional[float] = 5.0) -> bool:
        """Wait until the trees finished before the call are stored or given
        up on; False when the timeout came first."""
        return self._shipper.flush(timeout)

    def close(self, timeout: Optional[float] = 5.0) -> bool:
        """flush(timeout), then stop the sender; later trees are dropped."""
        if self._closed:
            return True
        self._closed = True
        return self._shipper.close(timeout)

    def stats(self) -> Dict[str, Any]:
        """Counters of trees: sent (stored), dropped (queue full or closed),
        failed (not stored: the database could not be reached, or refused
        them), refused (of failed: bad trees), queued, sampled_out, in_flight;
        batches_failed, thresholds_failed, last_error."""
        s = self._shipper
        with s._lock:
            out: Dict[str, Any] = dict(s.counts)
            out["queued"] = sum(1 for i in s._queue if isinstance(i, TimingRecord))
        out["sampled_out"] = self._sampled
        out["in_flight"] = len(self._open_roots)
        out["last_error"] = s.last_error
        return out

    # -- reading ---------------------------------------------------------------

    async def get_optimization_report(self, hours: float = 24) -> Dict[str, Any]:
        """pp_optimization_report of the last `hours` as a dict (the
        database's JSON as it is).  Errors of the database are raised."""
        if isinstance(hours, bool) or not isinstance(hours, (int, float)) \
                or not math.isfinite(hours) or hours <= 0:
            raise ValueError("hours must be a positive number, got %r" % (hours,))
        window = "%r hours" % float(hours)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, self._transport.report, window)

    async def capture_performance_snapshot(self) -> PerformanceSnapshot:
        """This process's state, and the database's recent mean response time."""
        now = _wall()
        mono, cpu = time.monotonic(), time.process_time()
        last_mono, last_cpu = self._cpu_mark
        self._cpu_mark = (mono, cpu)
        cpu_percent = 100.0 * (cpu - last_cpu) / (mono - last_mono) if mono > last_mono else 0.0
        current = asyncio.current_task()
        pending = sum(1 for t in asyncio.all_tasks() if t is not current and not t.done())
        avg: Optional[float] = None
        loop = asyncio.get_running_loop()
        try:
            report = await loop.run_in_executor(None, self._transport.report, self.snapshot_window)
            value = report.get("summary", {}).get("avg_query_duration_ms")
            if isinstance(value, (int, float)) and report["summary"].get("total_profiled_queries"):
                avg = float(value)
        except Exception as exc:
            self._shipper.last_error = "snapshot: %s: %s" % (type(exc).__name__, exc)
        return PerformanceSnapshot(
            timestamp=now,
            active_operations=len(self._open_roots),
            memory_usage_mb=_resident_mb(),
            cpu_percent=cpu_percent,
            pending_tasks=pending,
            cache_size=self._shipper.pending(),
            avg_response_time_ms=avg,
        )


def _resident_mb() -> float:
    try:
        with open("/proc/self/statm") as f:
            pages = int(f.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / (1024.0 * 1024.0)
    except (OSError, ValueError, IndexError, AttributeError):
        pass
    try:
        import resource
        # the peak, in KiB on Linux, bytes on macOS
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return rss / (1024.0 * 1024.0) if os.uname().sysname == "Darwin" else rss / 1024.0
    except Exception:
        return 0.0


def profile_operation(profiler: PerformanceProfiler, operation_name: Optional[str] = None,
                      **metadata: Any) -> Callable[[F], F]:
    """Decorator factory for sync and async functions alike:
    ``@profile_operation(profiler)`` names the block after the function."""
    if not isinstance(profiler, PerformanceProfiler):
        raise TypeError("profile_operation needs a PerformanceProfiler, got %s" % type(profiler).__name__)

    def decorate(func: F) -> F:
        name = operation_name or func.__name__
        profile = profiler.profile
        if inspect.iscoroutinefunction(func):
            @functools.wraps(func)
            async def awrapper(*args: Any, **kwargs: Any) -> Any:
                with profile(name, **metadata):
                    return await func(*args, **kwargs)
            return awrapper  # type: ignore[return-value]

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with profile(name, **metadata):
                return func(*args, **kwargs)
        return wrapper  # type: ignore[return-value]
    return decorate

