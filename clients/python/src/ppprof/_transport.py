"""ppprof._transport -- how the profiler talks to the database.

One class per kind of client: _SqlTransport for a DSN, a psycopg2 connection
or a psycopg (3) connection, _RpcTransport for a supabase-py Client (any
object with ``.rpc(name, params).execute()``).  Each stores batches of
finished trees (one JSON text per tree) through pp_ingest_jsonl, or
pp_ingest one tree at a time where the database has only that, writes
thresholds into performance_thresholds and reads pp_optimization_report.

A batch the server refuses for its data raises Refused (SQLSTATE class 22
data exception, 23 integrity constraint, 54 limit exceeded): something in
one of its trees is wrong, and the caller sends the halves again.  Anything
else (no connection, no privilege, a read-only server) raises SendFailed.
The database drivers are imported only here, and only when used.
"""

import inspect
import json
import threading
from typing import Any, Callable, Dict, List, Optional, Tuple

__all__ = ["OneByOne", "Refused", "SendFailed", "Transport", "make_transport"]

# SQLSTATE classes that blame the data sent rather than the connection or
# the role
_DATA_CLASSES = ("22", "23", "54")


class Refused(Exception):
    """The server refused the data of a batch (one of its trees is bad)."""

    def __init__(self, message: str, sqlstate: Optional[str]) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate


class SendFailed(Exception):
    """The batch could not be stored for a reason that is not its data."""


class OneByOne(Exception):
    """Nothing was stored: send the trees of the batch one at a time."""


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


class Transport:
    """What the shipper and the profiler need from a client."""

    #: whether send() takes several trees at once (pp_ingest_jsonl)
    batches: bool = True

    def send(self, lines: List[str]) -> None:
        raise NotImplementedError

    def write_thresholds(self, thresholds: Dict[str, float]) -> None:
        raise NotImplementedError

    def report(self, window: str) -> Dict[str, Any]:
        raise NotImplementedError

    def reset(self) -> None:
        """Forget the connection (the next call makes a new one)."""

    def close(self) -> None:
        """Close what this transport opened."""


# ---------------------------------------------------------------------------
# DSN, psycopg2 and psycopg (3)
# ---------------------------------------------------------------------------

class _Driver:
    """The few things that differ between psycopg2 and psycopg (3)."""

    def __init__(self, name: str) -> None:
        self.name = name
        if name == "psycopg2":
            import psycopg2  # noqa: F401  (optional dependency)

            self.module = psycopg2
        else:
            import psycopg  # noqa: F401  (optional dependency)

            self.module = psycopg

    def connect(self, dsn: str, params: Dict[str, str]) -> Any:
        if self.name == "psycopg2":
            conn = self.module.connect(dsn, client_encoding="UTF8", **params)
            conn.autocommit = True
            return conn
        return self.module.connect(dsn, autocommit=True, client_encoding="UTF8", **params)

    def message(self, exc: BaseException) -> str:
        """The server's primary message, else the driver's own."""
        diag = getattr(exc, "diag", None)
        primary = getattr(diag, "message_primary", None) if diag is not None else None
        return _one_line(primary or str(exc))

    def sqlstate(self, exc: BaseException) -> Optional[str]:
        if self.name == "psycopg2":
            return getattr(exc, "pgcode", None)
        return getattr(exc, "sqlstate", None)

    @property
    def error(self) -> type:
        return self.module.Error


def _driver_for_dsn() -> _Driver:
    for name in ("psycopg", "psycopg2"):
        try:
            return _Driver(name)
        except ImportError:
            continue
    raise ImportError("a DSN needs the psycopg (3) or the psycopg2 package; neither is installed")


def _connection_params(conn: Any, driver: str) -> Dict[str, str]:
    """The parameters of an open connection, its password included."""
    info = conn.info
    if driver == "psycopg2":
        params = dict(info.dsn_parameters)
    else:
        params = dict(info.get_parameters())
    password = getattr(info, "password", None)
    if password:
        params["password"] = password
    # the profiler's connection sets its own
    params.pop("client_encoding", None)
    return params


class _SqlTransport(Transport):
    """pp_ingest_jsonl over the profiler's own connection.

    A connection given by the application is never used: its parameters
    open one for the profiler, so that profiles never join, commit or
    break the application's transactions, and the sender thread never
    waits behind the application's queries.  Every name is qualified with
    the extension's schema as pg_extension gives it, and the search_path is
    never set.
    """

    def __init__(self, driver: _Driver, dsn: str, params: Dict[str, str]) -> None:
        self._driver = driver
        self._dsn = dsn
        self._params = params
        self._conn: Any = None
        self._schema: Optional[str] = None
        self.batches = True
        # the sender thread and the report/snapshot calls use separate
        # connections: each is only used under its own lock
        self._lock = threading.Lock()
        self._query_conn: Any = None
        self._query_schema = ""
        self._query_lock = threading.Lock()

    def describe(self) -> str:
        return self._driver.name

    def _open(self) -> Tuple[Any, str, bool]:
        conn = self._driver.connect(self._dsn, self._params)
        try:
            cur = conn.cursor()
            cur.execute(
                "SELECT pg_catalog.quote_ident(n.nspname),"
                " EXISTS (SELECT 1 FROM pg_catalog.pg_proc p"
                "          WHERE p.pronamespace OPERATOR(pg_catalog.=) n.oid"
                "            AND p.proname OPERATOR(pg_catalog.=) 'pp_ingest_jsonl')"
                "  FROM pg_catalog.pg_extension e"
                "  JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) e.extnamespace"
                " WHERE e.extname OPERATOR(pg_catalog.=) 'ppprof'")
            row = cur.fetchone()
            if row is None:
                cur.execute("SELECT pg_catalog.current_database()")
                db = cur.fetchone()[0]
                raise SendFailed('extension "ppprof" is not installed in database "%s"' % db)
            return conn, row[0], bool(row[1])
        except BaseException:
            conn.close()
            raise

    def _run(self, fn: Callable[[Any, str], Any]) -> Any:
        """fn(cursor, schema) on the sender's connection; errors classified."""
        try:
            if self._conn is None:
                self._conn, self._schema, self.batches = self._open()
            cur = self._conn.cursor()
            try:
                return fn(cur, self._schema)
            finally:
                cur.close()
        except SendFailed:
            self.reset()
            raise
        except self._driver.error as exc:
            state = self._driver.sqlstate(exc)
            message = self._driver.message(exc)
            if state is not None and state[:2] in _DATA_CLASSES:
                raise Refused(message, state) from exc
            # the connection may be gone or in a bad state: start again
            self.reset()
            raise SendFailed(message) from exc

    def send(self, lines: List[str]) -> None:
        def ingest(cur: Any, schema: str) -> None:
            # batches is known once connected: pp_ingest_jsonl exists or not
            if self.batches:
                cur.execute("SELECT %s.pp_ingest_jsonl(%%s::pg_catalog.text)" % schema,
                            ("\n".join(lines),))
                return
            # pp_ingest only: all or nothing as well
            cur.execute("BEGIN")
            try:
                for line in lines:
                    cur.execute("SELECT %s.pp_ingest(%%s::pg_catalog.jsonb)" % schema, (line,))
                cur.execute("COMMIT")
            except BaseException:
                try:
                    cur.execute("ROLLBACK")
                except Exception:
                    pass
                raise
        with self._lock:
            self._run(ingest)

    def write_thresholds(self, thresholds: Dict[str, float]) -> None:
        # performance_thresholds turns the insert of an existing key into
        # an update of that row (its BEFORE INSERT trigger)
        def write(cur: Any, schema: str) -> None:
            for name, ms in thresholds.items():
                cur.execute("INSERT INTO %s.performance_thresholds (operation_type, threshold_ms)"
                            " VALUES (%%s::pg_catalog.text, %%s::pg_catalog.float8)" % schema,
                            (name, ms))
        with self._lock:
            self._run(write)

    def report(self, window: str) -> Dict[str, Any]:
        with self._query_lock:
            try:
                if self._query_conn is None:
                    self._query_conn, schema, _ = self._open()
                    self._query_schema = schema
                cur = self._query_conn.cursor()
                cur.execute("SELECT %s.pp_optimization_report(%%s::pg_catalog.interval)::pg_catalog.text"
                            % self._query_schema, (window,))
                text = cur.fetchone()[0]
                cur.close()
            except self._driver.error:
                self._close_query()
                raise
            return json.loads(text)

    def _close_query(self) -> None:
        if self._query_conn is not None:
            try:
                self._query_conn.close()
            except Exception:
                pass
            self._query_conn = None

    def reset(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except Exception:
                pass
            self._conn = None

    def close(self) -> None:
        with self._lock:
            self.reset()
        with self._query_lock:
            self._close_query()


# ---------------------------------------------------------------------------
# supabase-py (PostgREST RPC)
# ---------------------------------------------------------------------------

# PostgREST's "no such function" and PostgreSQL's undefined_function
_NO_FUNCTION = ("PGRST202", "42883")


class _RpcTransport(Transport):
    """client.rpc(...).execute(), as the application's other calls.

    The functions are called by their bare names in the schema PostgREST
    exposes; thresholds go through client.table("performance_thresholds").
    """

    def __init__(self, client: Any) -> None:
        self._client = client
        self.batches = True
        self._lock = threading.Lock()

    def describe(self) -> str:
        return "rpc"

    def _execute(self, request: Any) -> Any:
        try:
            result = request.execute()
        except Exception as exc:
            code = getattr(exc, "code", None)
            message = _one_line(getattr(exc, "message", None) or str(exc))
            if isinstance(code, str) and code[:2] in _DATA_CLASSES and len(code) == 5:
                raise Refused(message, code) from exc
            raise SendFailed(message) from exc
        if inspect.isawaitable(result):
            if inspect.iscoroutine(result):
                result.close()
            raise SendFailed("the client's execute() returned an awaitable: an async supabase client "
                             "is not supported, pass a sync Client or a DSN")
        return result

    def send(self, lines: List[str]) -> None:
        with self._lock:
            if self.batches:
                try:
                    self._execute(self._client.rpc("pp_ingest_jsonl", {"profiles": "\n".join(lines)}))
                    return
                except SendFailed as exc:
                    cause = exc.__cause__
                    if getattr(cause, "code", None) not in _NO_FUNCTION:
                        raise
                    # an extension older than 1.2: one tree at a time from
                    # now on (PostgREST runs each call in a transaction of
                    # its own, so a batch could be stored in part)
                    self.batches = False
            if len(lines) > 1:
                raise OneByOne()
            self._execute(self._client.rpc("pp_ingest", {"profile": json.loads(lines[0])}))

    def write_thresholds(self, thresholds: Dict[str, float]) -> None:
        table = getattr(self._client, "table", None)
        if table is None:
            raise SendFailed("the client has no .table(): thresholds cannot be written through it")
        rows = [{"operation_type": k, "threshold_ms": v} for k, v in thresholds.items()]
        with self._lock:
            self._execute(table("performance_thresholds").insert(rows))

    def report(self, window: str) -> Dict[str, Any]:
        data = self._execute(self._client.rpc("pp_optimization_report", {"window": window})).data
        if isinstance(data, str):
            data = json.loads(data)
        if not isinstance(data, dict):
            raise SendFailed("pp_optimization_report returned %s, not a JSON object" % type(data).__name__)
        return data


def make_transport(client: Any) -> Transport:
    """The transport for a DSN, a psycopg2 or psycopg connection, or a supabase Client."""
    if isinstance(client, str):
        if not client.strip():
            raise ValueError("client: an empty DSN; give a connection string such as \"dbname=app\"")
        return _SqlTransport(_driver_for_dsn(), client, {})
    module = type(client).__module__ or ""
    if module.startswith("psycopg2"):
        driver = _Driver("psycopg2")
        if isinstance(client, driver.module.extensions.connection):
            return _SqlTransport(driver, "", _connection_params(client, "psycopg2"))
    elif module.startswith("psycopg"):
        driver = _Driver("psycopg")
        if isinstance(client, (driver.module.Connection, driver.module.AsyncConnection)):
            return _SqlTransport(driver, "", _connection_params(client, "psycopg"))
    if callable(getattr(client, "rpc", None)):
        return _RpcTransport(client)
    raise TypeError("client must be a DSN string, a psycopg2 or psycopg connection, or a supabase "
                    "Client (an object with .rpc()), got %s" % type(client).__name__)
