#!/usr/bin/env bash
# bench/python.sh -- the caller's cost of one profile() block of the Python
# client (clients/python), in microseconds: recorded, disabled, and in a root
# left out by sampling (bench/python_overhead.py says how it is measured).
# What "make bench-python" runs (and "make bench" / "make bench-smoke" too).
#
#   bash bench/python.sh                  20,000 blocks per case, 7 rounds
#   BENCH_SMOKE=1 bash bench/python.sh    2,000 blocks, 1 round: proves the script works
#
# Environment: BENCH_BLOCKS (blocks per case and round), BENCH_ROUNDS.
# A throwaway cluster (temp dir, Unix socket only) with ppprof preloaded;
# Debian's /usr/bin/python3 with python3-psycopg or python3-psycopg2
# (make test installs them), run as the invoking user.  No timing is
# asserted; the script fails if a recorded tree was not stored.
set -euo pipefail
cd "$(dirname "$0")/.."
. test/lib.sh

if [ "${BENCH_SMOKE:-0}" = 1 ]; then
	export BENCH_BLOCKS=${BENCH_BLOCKS:-2000} BENCH_ROUNDS=${BENCH_ROUNDS:-1}
else
	export BENCH_BLOCKS=${BENCH_BLOCKS:-20000} BENCH_ROUNDS=${BENCH_ROUNDS:-7}
fi
PYTHON=${PYTHON:-/usr/bin/python3}
PORT=5496	# only names the socket file in our own directory; no TCP
. bench/lib.sh
posint BENCH_BLOCKS "$BENCH_BLOCKS"
posint BENCH_ROUNDS "$BENCH_ROUNDS"

pp_build_install
bench_tmp ppprof-bench-python
bench_initdb bench/python.sh
echo "shared_preload_libraries = 'ppprof'" >>"$DATA/postgresql.conf"
start_checked
pp_as_pg createdb -h "$SOCK" -p "$PORT" -U postgres bench
psql_q -c "CREATE EXTENSION ppprof"

echo "## Python client: µs per profile() block (bench/python.sh, $(git rev-parse --short HEAD 2>/dev/null || echo '?'))"
echo
PYTHONPATH=clients/python/src "$PYTHON" bench/python_overhead.py "host=$SOCK port=$PORT user=postgres dbname=bench"
