"""Fixtures of the ppprof Python client's tests: a temporary PostgreSQL
cluster with ppprof preloaded, one fresh database per test, and a fake
supabase-py Client.

The cluster is made with initdb from the server whose programs are found
through $PG_CONFIG (test/lib.sh sets it) or on PATH, by the user that runs
pytest (as the other server suites, the postgres OS user when `make test`
runs as root).  It listens only on a Unix socket in its own directory.
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any, Dict, List, Optional

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "src"))

import psycopg2  # noqa: E402
import psycopg2.extras  # noqa: E402


def _bindir() -> str:
    pg_config = os.environ.get("PG_CONFIG") or shutil.which("pg_config")
    if pg_config:
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=True)
        return out.stdout.strip()
    initdb = shutil.which("initdb")
    if initdb:
        return os.path.dirname(initdb)
    raise RuntimeError("no PostgreSQL server found: set PG_CONFIG")


def _free_port() -> int:
    for _ in range(100):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if not os.path.exists("/tmp/.s.PGSQL.%d.lock" % port):
            return port
    raise RuntimeError("no free port")


class Server:
    def __init__(self) -> None:
        self.bindir = _bindir()
        self.dir = tempfile.mkdtemp(prefix="ppprof-pytest.")
        self.data = os.path.join(self.dir, "data")
        self.port = _free_port()
        self._n = 0
        self._run("initdb", "-D", self.data, "-A", "trust", "-U", "postgres", "-E", "UTF8",
                  "--locale=C")
        with open(os.path.join(self.data, "postgresql.conf"), "a") as f:
            f.write("\nshared_preload_libraries = 'ppprof'\nlisten_addresses = ''\n"
                    "unix_socket_directories = '%s'\nport = %d\nfsync = off\n"
                    "max_connections = 60\n" % (self.dir, self.port))
        self.start()
        try:
            # Supabase's role for the application's server side: the RPC
            # path runs as it, with the grants the extension gives it
            self.execute("postgres", "CREATE ROLE service_role NOLOGIN BYPASSRLS",
                         "CREATE DATABASE tmpl")
            self.execute("tmpl", "CREATE EXTENSION ppprof")
        except BaseException:
            self.destroy()
            raise

    def execute(self, dbname: str, *statements: str) -> None:
        conn = self.connect(dbname)
        try:
            conn.autocommit = True
            for sql in statements:
                conn.cursor().execute(sql)
        finally:
            conn.close()

    def _run(self, prog: str, *args: str) -> None:
        subprocess.run([os.path.join(self.bindir, prog)] + list(args), check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def start(self) -> None:
        self._run("pg_ctl", "-D", self.data, "-l", os.path.join(self.dir, "server.log"), "-w", "start")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", self.data, "-m", "fast", "-w", "stop")

    def dsn(self, dbname: str) -> str:
        return "host=%s port=%d dbname=%s user=postgres" % (self.dir, self.port, dbname)

    def connect(self, dbname: str) -> Any:
        return psycopg2.connect(self.dsn(dbname))

    def new_database(self, with_extension: bool = True) -> str:
        self._n += 1
        name = "t%d" % self._n
        self.execute("postgres", "CREATE DATABASE %s%s" % (name, " TEMPLATE tmpl" if with_extension else ""))
        return name

    def destroy(self) -> None:
        try:
            self.stop()
        except subprocess.CalledProcessError:
            pass
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="session")
def server():
    s = Server()
    yield s
    s.destroy()


@pytest.fixture
def dsn(server: Server) -> str:
    """A fresh database with the extension."""
    return server.dsn(server.new_database())


def rows(dsn: str, sql: str, params: tuple = ()) -> List[tuple]:
    conn = psycopg2.connect(dsn)
    try:
        cur = conn.cursor()
        cur.execute(sql, params)
        return cur.fetchall()
    finally:
        conn.close()


def profiles(dsn: str) -> List[Dict[str, Any]]:
    """Every stored profile: query_id and profile_data, oldest first."""
    return [{"query_id": q, "profile": p} for q, p in
            rows(dsn, "SELECT query_id, profile_data FROM performance_profiles ORDER BY created_at, id")]


def expected(rec: Any) -> Dict[str, Any]:
    """A TimingRecord as the profile format says it is stored."""
    return {
        "operation_name": rec.operation_name,
        "start_time": rec.start_time,
        "end_time": rec.end_time,
        "duration_ms": rec.duration_ms,
        "metadata": rec.metadata,
        "children": [expected(c) for c in rec.children],
        "error": rec.error,
    }


# ---------------------------------------------------------------------------
# A fake supabase-py Client: client.rpc(name, params).execute() and
# client.table(name).insert(rows).execute(), as supabase-py's sync Client
# spells them, done the way PostgREST does them: a call by named arguments
# of a function in the exposed schema (public), as service_role, and an
# APIError carrying the SQLSTATE (PGRST202 for a missing function).
# ---------------------------------------------------------------------------


class APIError(Exception):
    def __init__(self, error: Dict[str, Any]) -> None:
        super().__init__(error.get("message"))
        self.code = error.get("code")
        self.message = error.get("message")
        self.details = error.get("details")
        self.hint = error.get("hint")


class APIResponse:
    def __init__(self, data: Any) -> None:
        self.data = data


class _Request:
    def __init__(self, client: "FakeSupabase", sql: str, params: tuple) -> None:
        self._client = client
        self._sql = sql
        self._params = params

    def execute(self) -> APIResponse:
        return self._client._execute(self._sql, self._params)


class _Table:
    def __init__(self, client: "FakeSupabase", name: str) -> None:
        self._client = client
        self._name = name

    def insert(self, rows: List[Dict[str, Any]]) -> _Request:
        cols = sorted(rows[0])
        values = ", ".join("(" + ", ".join(["%s"] * len(cols)) + ")" for _ in rows)
        params = tuple(r[c] for r in rows for c in cols)
        sql = "INSERT INTO public.%s (%s) VALUES %s RETURNING pg_catalog.to_jsonb(%s)" % (
            self._name, ", ".join(cols), values, self._name)
        return _Request(self._client, sql, params)


class FakeSupabase:
    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self.calls: List[str] = []
        self._conn: Optional[Any] = None
        self._lock = threading.Lock()

    def rpc(self, name: str, params: Dict[str, Any]) -> _Request:
        self.calls.append(name)
        args = ", ".join('"%s" => %%s' % k for k in params)
        values = tuple(json.dumps(v) if isinstance(v, (dict, list)) else v for v in params.values())
        return _Request(self, "SELECT pg_catalog.to_jsonb(r) FROM public.%s(%s) r" % (name, args), values)

    def table(self, name: str) -> _Table:
        self.calls.append("table:" + name)
        return _Table(self, name)

    def _execute(self, sql: str, params: tuple) -> APIResponse:
        with self._lock:
            try:
                if self._conn is None or self._conn.closed:
                    self._conn = psycopg2.connect(self.dsn)
                    self._conn.autocommit = True
                    self._conn.cursor().execute("SET ROLE service_role")
                cur = self._conn.cursor()
                cur.execute(sql, params)
                data = [r[0] for r in cur.fetchall()]
            except psycopg2.Error as exc:
                if self._conn is not None and exc.pgcode is None:
                    self._conn.close()
                    self._conn = None
                code = "PGRST202" if exc.pgcode == "42883" else exc.pgcode
                raise APIError({"code": code, "message": exc.diag.message_primary or str(exc),
                                "details": None, "hint": None}) from None
        if sql.startswith("SELECT"):
            return APIResponse(data[0] if data else None)
        return APIResponse(data)


@pytest.fixture
def fake_supabase(dsn: str) -> FakeSupabase:
    return FakeSupabase(dsn)


def wait_for(pred: Any, timeout: float = 30.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.02)
    return pred()
