#!/usr/bin/env bash
# bench/spans.sh -- what a pp_begin / pp_end pair costs (docs/benchmarks.md).
# What "make bench-spans" runs (and "make bench" / "make bench-smoke").
#
#   bash bench/spans.sh                 200 trees of 1 root + 99 child spans, 5 rounds
#   BENCH_SMOKE=1 bash bench/spans.sh   10 trees, 1 round: proves the script works
#
# Method.  A throwaway cluster with ppprof preloaded.  In one PL/pgSQL call,
# each tree opens a root, then times (clock_timestamp) 99 iterations of
#   PERFORM pp_begin('child'); PERFORM pp_end();
# and ends the root (which stores the 100-node profile; not timed).  The same
# function also times 99 iterations of two PERFORMs of a trivial SQL
# expression, the PL/pgSQL overhead of the loop, so that the pair's own cost
# is the difference.  Reported: µs per pair, raw and net, median over rounds.
# No timing is asserted.
set -euo pipefail
cd "$(dirname "$0")/.."
. test/lib.sh

if [ "${BENCH_SMOKE:-0}" = 1 ]; then TREES=${BENCH_TREES:-10}; ROUNDS=${BENCH_ROUNDS:-1}
else TREES=${BENCH_TREES:-200}; ROUNDS=${BENCH_ROUNDS:-5}; fi
PORT=5494

pp_install_deps
pp_build_install
. bench/lib.sh
bench_tmp ppprof-bench-spans

bench_initdb bench/spans.sh
cat >>"$DATA/postgresql.conf" <<CONF
shared_preload_libraries = 'ppprof'
CONF
start_checked
pp_as_pg createdb -h "$SOCK" -p "$PORT" -U postgres bench
psql_q -c "CREATE EXTENSION ppprof"
psql_q <<'SQL' >/dev/null
CREATE FUNCTION bench_spans(trees int, OUT pair_us float8, OUT loop_us float8) LANGUAGE plpgsql AS $$
DECLARE t0 timestamptz; spans_us float8 := 0; empty_us float8 := 0;
BEGIN
    FOR t IN 1 .. trees LOOP
        PERFORM pp_begin('root');
        t0 := clock_timestamp();
        FOR i IN 1 .. 99 LOOP
            PERFORM pp_begin('child');
            PERFORM pp_end();
        END LOOP;
        spans_us := spans_us + extract(epoch FROM clock_timestamp() - t0) * 1e6;
        PERFORM pp_end();
        t0 := clock_timestamp();
        FOR i IN 1 .. 99 LOOP
            PERFORM 1 + i;
            PERFORM 2 + i;
        END LOOP;
        empty_us := empty_us + extract(epoch FROM clock_timestamp() - t0) * 1e6;
    END LOOP;
    pair_us := spans_us / (trees * 99);
    loop_us := empty_us / (trees * 99);
END $$;
SQL
echo "# bench/spans.sh: $TREES trees of 100 spans, $ROUNDS round(s), commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown), $(nproc) vCPU, load $(loadavg)"
echo
echo "| round | pp_begin + pp_end (µs) | two trivial PERFORMs (µs) | net (µs) |"
echo "|---:|---:|---:|---:|"
RAW=() NET=()
for r in $(seq 1 "$ROUNDS"); do
	read -r pair loop < <(psql_q -At -F ' ' -c "SELECT * FROM bench_spans($TREES)")
	net=$(awk -v a="$pair" -v b="$loop" 'BEGIN {printf "%.2f", a - b}')
	RAW+=("$pair") NET+=("$net")
	printf '| %d | %.2f | %.2f | %s |\n' "$r" "$pair" "$loop" "$net"
done
stored=$(psql_q -At -c "SELECT count(*) FROM performance_profiles")
[ "$stored" = $((TREES * ROUNDS)) ] || { echo "bench: $stored profiles stored, expected $((TREES * ROUNDS))" >&2; exit 1; }
echo
printf "Median: a pair costs %.2f µs in PL/pgSQL, %.2f µs net of the loop's own PERFORMs.\n" "$(median "${RAW[@]}")" "$(median "${NET[@]}")"
