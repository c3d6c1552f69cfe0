#!/usr/bin/env bash
# bench/callgrind.sh -- instructions per INSERT, plain table vs
# performance_profiles, counted by valgrind's callgrind.
#
# Instruction counts do not depend on what else the machine is doing, so
# this ratio is repeatable on a shared, noisy machine where tps ratios are
# not.  It runs `postgres --single` (no client, no network: the harshest
# case for ppprof, since a real client's round trip is not counted) under
# callgrind on the same prepared cluster:
#   base      start-up and shut-down only
#   plain     N single-row INSERTs of a realistic 10-node profile (JSON text
#             cast to jsonb, as a client sends it) into an identical plain
#             table
#   analysed  the same INSERTs into the plain table, with the two analysis
#             columns also sent by the client as JSON text, as the seed
#             application (which analysed each profile itself) writes them;
#             the values are ppprof's own for the same profile
#   lz4       the plain INSERTs into a copy of the plain table whose
#             profile_data is compressed with lz4, as performance_profiles'
#             is: ppprof's own work, without the difference in compression
#   ppprof    the same N INSERTs into performance_profiles, profile only
# and prints instructions per INSERT and the ratios, for each statement
# protocol:
#   simple    each INSERT sent as text: parsed, analysed and planned
#   prepared  PREPARE once, then EXECUTE per row, as pgbench -M prepared and
#             most drivers do: the per-row cost without parsing and
#             planning, which the longer statement of "analysed" makes
#             dearer in the simple protocol
#
#   bash bench/callgrind.sh            N=1000
#   BENCH_SMOKE=1 bash bench/callgrind.sh   N=50
set -euo pipefail
cd "$(dirname "$0")/.."
. test/lib.sh

N=${BENCH_ROWS:-1000}
[ "${BENCH_SMOKE:-0}" = 1 ] && N=50
pp_install_deps
command -v valgrind >/dev/null || $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq valgrind >/dev/null
pp_build_install >/dev/null

dir=$(mktemp -d /tmp/ppprof-callgrind.XXXXXX)
chmod 755 "$dir"
[ "$(id -u)" = 0 ] && chown postgres "$dir"
cleanup() { pp_as_pg pg_ctl -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true; rm -rf "$dir"; }
trap cleanup EXIT

pp_as_pg initdb -D "$dir/data" -A trust --no-locale -E UTF8 >/dev/null
cat >> "$dir/data/postgresql.conf" <<CONF
shared_preload_libraries = 'ppprof'
listen_addresses = ''
unix_socket_directories = '$dir'
fsync = off
synchronous_commit = off
CONF
pp_as_pg pg_ctl -D "$dir/data" -l "$dir/log" -w start >/dev/null
# the generator comes on standard input (-f -): as root, psql runs as the
# postgres OS user, who need not be able to read the source tree
pp_as_pg psql -h "$dir" -d postgres -X -q -v ON_ERROR_STOP=1 \
	-c "CREATE EXTENSION ppprof" -f - \
	-c "CREATE TABLE src AS SELECT g AS i, ppgen.profile(g)::text AS t FROM generate_series(1, $N) g" \
	-c "INSERT INTO performance_profiles (query_id, profile_data) SELECT i::text, t::jsonb FROM src" \
	-c "CREATE TABLE src_analysed AS SELECT s.i, s.t, p.bottleneck_operations::text AS bo, p.optimization_suggestions::text AS os FROM src s JOIN performance_profiles p ON p.query_id = s.i::text" \
	-c "TRUNCATE performance_profiles" -c "CREATE UNIQUE INDEX ON src (i)" -c "CREATE UNIQUE INDEX ON src_analysed (i)" \
	-c "VACUUM ANALYZE src" -c "VACUUM ANALYZE src_analysed" \
	-c "CREATE TABLE plain_profiles (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), query_id text NOT NULL, profile_data jsonb NOT NULL, total_duration_ms float NOT NULL, bottleneck_operations jsonb DEFAULT '[]', optimization_suggestions jsonb DEFAULT '[]', created_at timestamptz DEFAULT now())" \
	-c "CREATE INDEX ON plain_profiles (created_at)" \
	-c "CREATE TABLE plain_lz4 (LIKE plain_profiles INCLUDING ALL)" \
	-c "ALTER TABLE plain_lz4 ALTER COLUMN profile_data SET COMPRESSION lz4" <test/gen/rag_profiles.sql
pp_as_pg pg_ctl -D "$dir/data" -w stop >/dev/null

echo "SELECT 1" > "$dir/base.sql"
# statements NAME INSERT-WITH-$1: N of them in both protocols
statements() {
	local k
	for k in $(seq 1 "$N"); do echo "${2//\$1/$k}"; done > "$dir/simple-$1.sql"
	{
		echo "PREPARE ins(int) AS $2"
		for k in $(seq 1 "$N"); do echo "EXECUTE ins($k)"; done
	} > "$dir/prepared-$1.sql"
}
statements plain "INSERT INTO plain_profiles (query_id, profile_data, total_duration_ms) SELECT 'q', t::jsonb, 1 FROM src WHERE i = \$1"
statements analysed "INSERT INTO plain_profiles (query_id, profile_data, total_duration_ms, bottleneck_operations, optimization_suggestions) SELECT 'q', t::jsonb, 1, bo::jsonb, os::jsonb FROM src_analysed WHERE i = \$1"
statements lz4 "INSERT INTO plain_lz4 (query_id, profile_data, total_duration_ms) SELECT 'q', t::jsonb, 1 FROM src WHERE i = \$1"
statements ppprof "INSERT INTO performance_profiles (query_id, profile_data) SELECT 'q', t::jsonb FROM src WHERE i = \$1"
chmod 644 "$dir"/*.sql

count() {
	pp_as_pg valgrind --tool=callgrind --callgrind-out-file="$dir/cg.$1" \
		"$PGBIN/postgres" --single -D "$dir/data" postgres < "$dir/$1.sql" > "$dir/$1.log" 2>&1
	grep -h '^summary:' "$dir/cg.$1" | awk '{print $2}'
}
base=$(count base)
echo "| protocol | INSERTs | plain: instructions / INSERT | plain, analysis sent by the client | plain, lz4 | ppprof | plain / ppprof | plain with the client's analysis / ppprof | plain, lz4 / ppprof |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
for protocol in simple prepared; do
	plain=$(count "$protocol-plain")
	analysed=$(count "$protocol-analysed")
	lz4=$(count "$protocol-lz4")
	pp=$(count "$protocol-ppprof")
	awk -v p="$protocol" -v n="$N" -v a="$(( (plain - base) / N ))" -v c="$(( (analysed - base) / N ))" \
		-v l="$(( (lz4 - base) / N ))" -v b="$(( (pp - base) / N ))" \
		'BEGIN { printf "| %s | %d | %d | %d | %d | %d | %.3f | %.3f | %.3f |\n", p, n, a, c, l, b, a / b, c / b, l / b }'
done
