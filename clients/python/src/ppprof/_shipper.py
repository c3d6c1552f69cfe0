"""ppprof._shipper -- the bounded queue of finished trees and the one thread
that sends them.

The caller's side is put(): under a lock held for a few instructions it
appends the root TimingRecord to a deque, or drops it and counts it when the
deque is full or the shipper is closed.  Nothing is serialized and nothing
touches the network in the caller's thread.

The sender thread wakes every flush_interval (at once when a batch is full
or flush() is called), serializes up to batch_size trees to JSON lines and
hands them to the transport.  A batch the server refuses for its data is
sent again in halves, down to the trees refused on their own (counted in
refused and failed); a batch that fails otherwise is tried once more on a
new connection, then counted in failed, and the thread pauses (50 ms,
doubling up to 1 s) before the next try.  Threshold changes travel in the
same queue, so that the trees recorded before a change are sent before it
is written and those recorded after are analysed under it.
"""

import json
import os
import threading
import weakref
from collections import deque
from typing import Any, Deque, Dict, List, Optional, Union

from ._records import TimingRecord
from ._transport import OneByOne, Refused, SendFailed, Transport

__all__ = ["Shipper", "tree_json"]

_BACKOFF_MIN = 0.05
_BACKOFF_MAX = 1.0


def _node(rec: TimingRecord) -> Dict[str, Any]:
    # a child whose block had not ended when its root ended (a task that
    # outlived the block it was created in) has no duration: left out
    return {
        "operation_name": rec.operation_name,
        "start_time": rec.start_time,
        "end_time": rec.end_time,
        "duration_ms": rec.duration_ms,
        "metadata": rec.metadata,
        "children": [_node(c) for c in list(rec.children) if c.duration_ms is not None],
        "error": rec.error,
    }


# one encoder for every tree: json.dumps() with options builds a new one per
# call, which cost three times the encoding itself (bench/python.sh)
_encode = json.JSONEncoder(separators=(",", ":"), default=str, allow_nan=False).encode


def tree_json(root: TimingRecord) -> str:
    """The tree as one line of JSON, as pp_ingest_jsonl reads it.

    Values JSON has no type for are written as their str(); NaN and the
    infinities, which JSON cannot hold, raise ValueError.
    """
    return _encode(_node(root))


class _ThresholdChange:
    __slots__ = ("values",)

    def __init__(self, values: Dict[str, float]) -> None:
        self.values = values


_Item = Union[TimingRecord, _ThresholdChange]

# every live shipper, so that a forked child starts its own thread
_shippers: "weakref.WeakSet[Shipper]" = weakref.WeakSet()


def _after_fork() -> None:
    for s in list(_shippers):
        s._forked()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork)


class Shipper:
    def __init__(self, transport: Transport, capacity: int, batch_size: int,
                 flush_interval: float) -> None:
        if not isinstance(capacity, int) or isinstance(capacity, bool) or capacity < 1:
            raise ValueError("queue_size must be a positive integer, got %r" % (capacity,))
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
            raise ValueError("batch_size must be a positive integer, got %r" % (batch_size,))
        if not isinstance(flush_interval, (int, float)) or isinstance(flush_interval, bool) \
                or not 0 < flush_interval <= 60:
            raise ValueError("flush_interval must be a number of seconds in (0, 60], got %r"
                             % (flush_interval,))
        self._transport = transport
        self._capacity = capacity
        self._batch_size = batch_size
        self._interval = float(flush_interval)
        self._queue: Deque[_Item] = deque()
        self._lock = threading.Lock()
        self._done = threading.Condition(threading.Lock())
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self._closed = False
        # _accepted counts items put on the queue, _settled those the thread
        # has finished with (stored, failed or refused): flush() waits for
        # _settled to reach _accepted
        self._accepted = 0
        self._settled = 0
        self.counts = {"sent": 0, "dropped": 0, "failed": 0, "refused": 0,
                       "batches_failed": 0, "thresholds_failed": 0}
        self.last_error: Optional[str] = None
        _shippers.add(self)

    # -- the caller's side ---------------------------------------------------

    def put(self, item: _Item) -> None:
        with self._lock:
            if self._closed or (len(self._queue) >= self._capacity
                                and not isinstance(item, _ThresholdChange)):
                self.counts["dropped"] += 1
                if self._closed:
                    self.last_error = "the profiler is closed: tree dropped"
                else:
                    self.last_error = "the queue is full (%d trees): tree dropped" % self._capacity
                return
            self._queue.append(item)
            self._accepted += 1
            full = len(self._queue) >= self._batch_size
            if self._thread is None:
                self._start()
        if full or isinstance(item, _ThresholdChange):
            self._wake.set()

    def thresholds(self, values: Dict[str, float]) -> None:
        self.put(_ThresholdChange(dict(values)))

    def pending(self) -> int:
        return len(self._queue)

    def flush(self, timeout: Optional[float]) -> bool:
        """Wait until everything queued before the call is settled."""
        with self._lock:
            target = self._accepted
        if self._thread is None:
            return self._settled >= target
        self._wake.set()
        with self._done:
            return self._done.wait_for(lambda: self._settled >= target, timeout)

    def close(self, timeout: Optional[float]) -> bool:
        flushed = self.flush(timeout)
        with self._lock:
            self._closed = True
            thread = self._thread
        self._stop.set()
        self._wake.set()
        if thread is not None:
            thread.join(timeout if timeout is None else max(timeout, 0.1))
        # what the thread could not send in time is lost
        with self._lock:
            while self._queue:
                item = self._queue.popleft()
                if isinstance(item, TimingRecord):
                    self.counts["dropped"] += 1
                self._settled += 1
        if thread is None or not thread.is_alive():
            self._transport.close()
        return flushed

    # -- the sender thread ---------------------------------------------------

    def _start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="ppprof-sender", daemon=True)
        self._thread.start()

    def _forked(self) -> None:
        # the thread and the connections stay with the parent
        self._lock = threading.Lock()
        self._done = threading.Condition(threading.Lock())
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = None
        self._queue.clear()
        self._accepted = self._settled = 0
        self._transport.reset()

    def _settle(self, n: int) -> None:
        with self._done:
            self._settled += n
            self._done.notify_all()

    def _count(self, key: str, n: int = 1) -> None:
        with self._lock:
            self.counts[key] += n

    def _run(self) -> None:
        backoff = 0.0
        while True:
            self._wake.wait(self._interval)
            self._wake.clear()
            while True:
                items = self._take()
                if not items:
                    break
                ok = self._ship(items)
                if ok:
                    backoff = 0.0
                else:
                    backoff = min(max(backoff * 2, _BACKOFF_MIN), _BACKOFF_MAX)
                    if self._stop.wait(backoff):
                        break
            if self._stop.is_set():
                return

    def _take(self) -> List[_Item]:
        """Up to a batch of trees, or one threshold change."""
        size = self._batch_size if self._transport.batches else 1
        items: List[_Item] = []
        with self._lock:
            q = self._queue
            if q and isinstance(q[0], _ThresholdChange):
                return [q.popleft()]
            while q and len(items) < size and not isinstance(q[0], _ThresholdChange):
                items.append(q.popleft())
        return items

    def _ship(self, items: List[_Item]) -> bool:
        """Send items; False when the database could not be reached."""
        first = items[0]
        if isinstance(first, _ThresholdChange):
            ok = self._try(lambda: self._transport.write_thresholds(first.values))
            if not ok:
                self._count("thresholds_failed")
            self._settle(1)
            return ok
        lines: List[str] = []
        for rec in items:
            try:
                lines.append(tree_json(rec))  # type: ignore[arg-type]
            except Exception as exc:  # NaN, a str() that fails, a tree too deep
                self._count("failed")
                self._count("refused")
                self.last_error = "tree %r not sent: %s: %s" % (
                    getattr(rec, "operation_name", "?"), type(exc).__name__, exc)
        try:
            if not lines:
                return True
            return self._send(lines)
        finally:
            self._settle(len(items))

    def _try(self, call: Any) -> bool:
        """call() with one retry on a new connection; False when both fail."""
        for attempt in (1, 2):
            try:
                call()
                return True
            except Refused as exc:
                self.last_error = "refused: %s" % exc
                return False
            except SendFailed as exc:
                self.last_error = str(exc)
            except Exception as exc:  # a driver's error outside its hierarchy
                self.last_error = "%s: %s" % (type(exc).__name__, exc)
            self._transport.reset()
        return False

    def _send(self, lines: List[str]) -> bool:
        """Store lines; refused ones alone are lost.  False when unreachable."""
        for attempt in (1, 2):
            try:
                self._transport.send(lines)
                self._count("sent", len(lines))
                return True
            except OneByOne:
                return all([self._send([line]) for line in lines])
            except Refused as exc:
                if len(lines) == 1:
                    self._count("failed")
                    self._count("refused")
                    self.last_error = "the server refused a tree: %s" % exc
                    return True
                half = len(lines) // 2
                a = self._send(lines[:half])
                b = self._send(lines[half:])
                return a and b
            except SendFailed as exc:
                self.last_error = "batch of %d trees not stored: %s" % (len(lines), exc)
            except Exception as exc:
                self.last_error = "batch of %d trees not stored: %s: %s" % (
                    len(lines), type(exc).__name__, exc)
            self._transport.reset()
        self._count("failed", len(lines))
        self._count("batches_failed")
        return False
