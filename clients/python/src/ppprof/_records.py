"""ppprof._records -- the two dataclasses of the public API.

TimingRecord is one node of a request's timing tree, with the fields and the
order of the profile format (docs/profile-format.md): what
``dataclasses.asdict`` writes of it is what the database stores.
PerformanceSnapshot is what capture_performance_snapshot() returns.
"""

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

__all__ = ["TimingRecord", "PerformanceSnapshot"]


@dataclass
class TimingRecord:
    """One profiled block: a node of the timing tree.

    start_time and end_time are Unix times in seconds (time.time() at the
    root's start, and for a node below it that plus the monotonic time
    since, so that a tree keeps one clock; end_time is start_time plus the
    measured duration), duration_ms comes from a monotonic clock, metadata
    holds the keyword arguments of
    profile(), children the blocks opened inside this one (in the order they
    started), error ``"ExceptionType: message"`` when an exception left the
    block.  end_time and duration_ms are None while the block runs.
    """

    operation_name: str
    start_time: float
    end_time: Optional[float] = None
    duration_ms: Optional[float] = None
    metadata: Dict[str, Any] = field(default_factory=dict)
    children: List["TimingRecord"] = field(default_factory=list)
    error: Optional[str] = None


@dataclass
class PerformanceSnapshot:
    """A moment of the calling process, and the database's recent mean.

    timestamp        Unix time (seconds) of the snapshot
    active_operations root profile() blocks open in this process (in-flight profiles)
    memory_usage_mb  resident memory of this process
    cpu_percent      this process's CPU time over wall time since the previous
                     snapshot of this profiler (or since it was created), in %
    pending_tasks    unfinished asyncio tasks of the running event loop, the
                     caller's own task left out (0 outside a loop)
    cache_size       finished trees waiting in the profiler's queue to be sent
    avg_response_time_ms  from the database: the mean root duration of the
                     profiles stored in the last snapshot_window
                     (summary.avg_query_duration_ms of pp_optimization_report);
                     None when the database cannot be reached
    """

    timestamp: float
    active_operations: int
    memory_usage_mb: float
    cpu_percent: float
    pending_tasks: int
    cache_size: int
    avg_response_time_ms: Optional[float]
