"""ppprof -- record RAG request timing trees into PostgreSQL's ppprof extension.

A drop-in for the PerformanceProfiler that RAG applications use:

    from ppprof import PerformanceProfiler, profile_operation, TimingRecord, PerformanceSnapshot

    profiler = PerformanceProfiler("dbname=app", enable_profiling=True)
    async with profiler.profile("rag_query", query_id="123"):
        ...

Standard library only at import; psycopg (3) or psycopg2 is imported when a
DSN or one of their connections is given.  The guide is docs/python.md.
"""

from ._profiler import PerformanceProfiler, profile_operation
from ._records import PerformanceSnapshot, TimingRecord

__all__ = ["PerformanceProfiler", "profile_operation", "TimingRecord", "PerformanceSnapshot"]
__version__ = "1.3.0"
