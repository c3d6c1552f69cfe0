#!/usr/bin/env bash
# test/gen/demo.sh -- what "make demo" runs.
#
# On a Debian/Ubuntu machine, as root or as a user with sudo:
#   1. installs the missing dependencies and builds and installs ppprof;
#   2. starts a throwaway PostgreSQL $PG_MAJOR (test/lib.sh) cluster in a
#      temporary directory, listening only on a Unix socket in that
#      directory, with ppprof preloaded (run by the postgres OS user when
#      invoked as root, by the invoking user otherwise);
#   3. creates database "demo" with the extension and DEMO_PROFILES (5000)
#      generated RAG profiles spread over the last 24 hours;
#   4. runs examples/rag_pipeline.py, an asyncio RAG service profiled with
#      the Python client (clients/python), for DEMO_PY_REQUESTS (60) more
#      profiles stored now, as the invoking user over the cluster's socket;
#   5. prints the result (test/gen/demo_report.sql), the optimization
#      report and the slowest profile as the ppprof command renders them,
#      and writes the HTML report and three flame graphs to DEMO_OUT
#      (./demo-out).
#
# The cluster is stopped and its directory removed on exit, unless
# DEMO_KEEP=1: then it keeps running and the script prints how to connect
# and how to stop it.
set -euo pipefail
cd "$(dirname "$0")/../.."
. test/lib.sh

DEMO_PROFILES=${DEMO_PROFILES:-5000}
DEMO_PY_REQUESTS=${DEMO_PY_REQUESTS:-60}
DEMO_KEEP=${DEMO_KEEP:-0}
DEMO_OUT=${DEMO_OUT:-$PWD/demo-out}

step() { printf '\n== %s\n' "$*"; }

step "dependencies"
pp_install_deps

step "build and install ppprof"
pp_build_install

# A free port: nothing listens on it over TCP and no server holds its lock
# file.  The server listens only on its own socket directory, so this just
# keeps the socket name unambiguous.
free_port() {
	local port
	for _ in $(seq 1 100); do
		port=$((20000 + RANDOM % 40000))
		if ! ss -Hltn "sport = :$port" 2>/dev/null | grep -q . &&
			[ ! -e "/tmp/.s.PGSQL.$port.lock" ] &&
			[ ! -e "/var/run/postgresql/.s.PGSQL.$port.lock" ]; then
			echo "$port"
			return 0
		fi
	done
	echo "no free port found" >&2
	return 1
}

DEMO_DIR=$(mktemp -d /tmp/ppprof-demo.XXXXXX)
PORT=$(free_port)
started=0

cleanup() {
	local rc=$?
	if [ "$DEMO_KEEP" = 1 ] && [ "$rc" = 0 ]; then
		return
	fi
	if [ "$started" = 1 ]; then
		pp_as_pg pg_ctl -D "$DEMO_DIR/data" -m fast -w stop >/dev/null 2>&1 || true
	fi
	rm -rf "$DEMO_DIR"
	if [ "$rc" != 0 ]; then
		echo "demo failed (exit $rc)" >&2
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ "$(id -u)" = 0 ]; then
	chown postgres:postgres "$DEMO_DIR"
fi
chmod 700 "$DEMO_DIR"

step "throwaway PostgreSQL $PG_MAJOR cluster in $DEMO_DIR (socket only, port $PORT)"
pp_as_pg initdb -D "$DEMO_DIR/data" -A trust -E UTF8 --locale=C -U postgres \
	>"$DEMO_DIR/initdb.log" 2>&1 || { cat "$DEMO_DIR/initdb.log" >&2; exit 1; }
pp_as_pg tee -a "$DEMO_DIR/data/postgresql.conf" >/dev/null <<EOF

# ppprof demo
shared_preload_libraries = 'ppprof'
listen_addresses = ''
unix_socket_directories = '$DEMO_DIR'
port = $PORT
EOF
started=1
pp_as_pg pg_ctl -D "$DEMO_DIR/data" -l "$DEMO_DIR/server.log" -w start >/dev/null ||
	{ cat "$DEMO_DIR/server.log" >&2; exit 1; }

# psql on the demo cluster; SQL files are redirected, so the server's OS user
# need not be able to read the source tree
demo_psql() {
	pp_as_pg psql -X -q -v ON_ERROR_STOP=1 -h "$DEMO_DIR" -p "$PORT" -U postgres "$@"
}

demo_psql -d postgres -c 'CREATE DATABASE demo'
demo_psql -d demo -c 'CREATE EXTENSION ppprof'

step "$DEMO_PROFILES generated RAG profiles over the last 24 hours"
demo_psql -d demo <test/gen/rag_profiles.sql
t0=$(date +%s.%N)
# over the 24 hours before now, less a minute so that all of them are still
# in the report's 24-hour window when it runs
n=$(demo_psql -d demo -At -c "SELECT ppgen.load($DEMO_PROFILES, '23 hours 59 minutes')")
t1=$(date +%s.%N)
awk -v n="$n" -v a="$t0" -v b="$t1" \
	'BEGIN { printf "inserted %d profiles in %.2f s (%.0f profiles/s, generation and ingest)\n", n, b - a, n / (b - a) }'

step "$DEMO_PY_REQUESTS requests of examples/rag_pipeline.py through the Python client"
PYTHONPATH=clients/python/src "$PP_PYTHON" examples/rag_pipeline.py \
	"host=$DEMO_DIR port=$PORT user=postgres dbname=demo" --requests "$DEMO_PY_REQUESTS"

step "result"
demo_psql -d demo <test/gen/demo_report.sql

# the report and the pictures, as the ppprof command renders them
dsn="host=$DEMO_DIR port=$PORT user=postgres dbname=demo"
step "the optimization report, for people (ppprof report)"
"$PGBIN/ppprof" --dsn "$dsn" report --window 24h

example=$(demo_psql -d demo -At -c \
	"SELECT id FROM performance_profiles WHERE query_id LIKE 'q-%' ORDER BY total_duration_ms DESC LIMIT 1")
step "the slowest generated profile on its timeline (ppprof show $example)"
"$PGBIN/ppprof" --dsn "$dsn" show "$example"

step "pictures in $DEMO_OUT"
mkdir -p "$DEMO_OUT"
"$PGBIN/ppprof" --dsn "$dsn" report --window 24h --format html >"$DEMO_OUT/report.html"
"$PGBIN/ppprof" --dsn "$dsn" flamegraph --window 24h >"$DEMO_OUT/flamegraph-window.svg"
"$PGBIN/ppprof" --dsn "$dsn" flamegraph --profile "$example" >"$DEMO_OUT/flamegraph-profile.svg"
"$PGBIN/ppprof" --dsn "$dsn" flamegraph --before "[$(date -u -d '-24 hours' '+%F %T+00'),$(date -u -d '-12 hours' '+%F %T+00'))" \
	--after "[$(date -u -d '-12 hours' '+%F %T+00'),$(date -u -d '+1 minute' '+%F %T+00'))" >"$DEMO_OUT/flamegraph-diff.svg"
ls -l "$DEMO_OUT"
echo "open $DEMO_OUT/report.html in a browser (it fetches nothing); docs/visualize.md explains the pictures"

if [ "$DEMO_KEEP" = 1 ]; then
	if [ "$(id -u)" = 0 ]; then as="runuser -u postgres -- "; else as=""; fi
	cat <<EOF

The demo cluster keeps running (DEMO_KEEP=1).
  connect:  ${as}$PGBIN/psql -h $DEMO_DIR -p $PORT -U postgres demo
  stop:     ${as}$PGBIN/pg_ctl -D $DEMO_DIR/data -m fast stop && rm -rf $DEMO_DIR
EOF
fi
