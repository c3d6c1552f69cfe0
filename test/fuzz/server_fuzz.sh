#!/usr/bin/env bash
# test/fuzz/server_fuzz.sh -- the long SQL fuzz run against a live server.
#
# Starts a throwaway cluster with ppprof preloaded, feeds FUZZ_CASES (100,000
# by default) mutated profiles (test/fuzz/mutate.sql) through pp_ingest in
# batches of 1,000, and checks that every outcome is 'stored' or a 22xxx /
# 54xxx SQLSTATE, that the server log has no crash, and that the statistics
# equal the exact SQL over the stored rows.  Prints one summary line.
#
# FUZZ_ASAN=1 runs the server with ppprof built with AddressSanitizer and
# UndefinedBehaviorSanitizer: the PostgreSQL installation is copied under the
# run's directory (its binaries find their files relative to themselves),
# ppprof is built with -fsanitize=address,undefined and installed into the
# copy only, and the server runs with the ASan runtime preloaded; every
# sanitizer report goes to a file, and any such file fails the run.
set -euo pipefail
cd "$(dirname "$0")/../.."
. test/lib.sh

CASES=${FUZZ_CASES:-100000}
pp_install_deps

dir=$(mktemp -d /tmp/ppprof-sqlfuzz.XXXXXX)
chmod 755 "$dir"
[ "$(id -u)" = 0 ] && chown postgres "$dir"
cleanup() { pp_as_pg env PATH="$PGBIN:$PATH" pg_ctl -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true; rm -rf "$dir"; }
trap cleanup EXIT

preload_env=()
if [ "${FUZZ_ASAN:-0}" = 1 ]; then
	sysbin=$("$PG_CONFIG" --bindir)
	syslib=$("$PG_CONFIG" --pkglibdir)
	sysshare=$("$PG_CONFIG" --sharedir)
	mkdir -p "$dir/pg$(dirname "$sysbin")" "$dir/pg$(dirname "$sysshare")"
	cp -a "$(dirname "$sysbin")/." "$dir/pg$(dirname "$sysbin")/"
	cp -a "$sysshare" "$dir/pg$(dirname "$sysshare")/"
	[ "$syslib" = "$(dirname "$sysbin")/lib" ] ||
		{ echo "server_fuzz: unexpected layout: $syslib" >&2; exit 2; }
	make -s clean
	make -s PG_CONFIG="$PG_CONFIG" COPT='-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all' \
		LDFLAGS_SL='-fsanitize=address,undefined' all >/dev/null
	make -s PG_CONFIG="$PG_CONFIG" DESTDIR="$dir/pg" install >/dev/null
	make -s clean
	PGBIN="$dir/pg$sysbin"
	mkdir -p "$dir/asan"
	chmod 777 "$dir/asan"
	[ "$(id -u)" = 0 ] && chown -R postgres "$dir/pg"
	preload_env=(LD_PRELOAD="$(gcc -print-file-name=libasan.so):$(gcc -print-file-name=libubsan.so)"
		ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:log_path=$dir/asan/report"
		UBSAN_OPTIONS="print_stacktrace=1:log_path=$dir/asan/report")
else
	pp_build_install >/dev/null
fi

pp_as_pg env PATH="$PGBIN:$PATH" initdb -D "$dir/data" -A trust --no-locale -E UTF8 >/dev/null
cat >> "$dir/data/postgresql.conf" <<CONF
shared_preload_libraries = 'ppprof'
listen_addresses = ''
unix_socket_directories = '$dir'
fsync = off
synchronous_commit = off
CONF
pp_as_pg env PATH="$PGBIN:$PATH" "${preload_env[@]}" pg_ctl -D "$dir/data" -l "$dir/log" -w start >/dev/null
cp test/gen/rag_profiles.sql test/fuzz/mutate.sql "$dir/"
chmod 644 "$dir"/*.sql
psql_() { pp_as_pg psql -h "$dir" -d postgres -X -q -v ON_ERROR_STOP=1 "$@"; }
psql_ -c "CREATE EXTENSION ppprof" -f "$dir/rag_profiles.sql" -f "$dir/mutate.sql" \
	-c "CREATE TABLE outcomes (g int, outcome text)"

start=$(date +%s)
for ((b = 0; b < CASES; b += 1000)); do
	n=$(( CASES - b < 1000 ? CASES - b : 1000 ))
	psql_ -c "SELECT setseed(($b % 99991) / 99991.0)" \
		-c "INSERT INTO outcomes SELECT g, try_ingest(mutate(g)) FROM generate_series($b + 1, $b + $n) g"
done
elapsed=$(( $(date +%s) - start ))

psql_ -At -F ' ' -c "
SELECT count(*),
       count(*) FILTER (WHERE outcome = 'stored'),
       count(*) FILTER (WHERE outcome LIKE '22%'),
       count(*) FILTER (WHERE outcome LIKE '54%'),
       count(*) FILTER (WHERE outcome <> 'stored' AND outcome NOT LIKE '22%' AND outcome NOT LIKE '54%')
  FROM outcomes" > "$dir/counts"
read -r total stored c22 c54 other < "$dir/counts"
exact=$(psql_ -At -c "
WITH RECURSIVE nodes AS (
  SELECT profile_data AS n FROM performance_profiles
  UNION ALL
  SELECT c FROM nodes, jsonb_array_elements(CASE WHEN jsonb_typeof(n->'children') = 'array' THEN n->'children' ELSE '[]' END) c),
e AS (SELECT n->>'operation_name' AS operation, count(*) AS calls,
             count(*) FILTER (WHERE jsonb_typeof(n->'error') = 'string') AS errors FROM nodes GROUP BY 1)
SELECT count(*) FILTER (WHERE s.calls IS DISTINCT FROM e.calls OR s.errors IS DISTINCT FROM e.errors)
  FROM e FULL JOIN pp_operation_stats('1000 years') s USING (operation)")
crashes=$(grep -cE "terminated by signal|PANIC|TRAP" "$dir/log" || true)
reports=$(find "$dir/asan" -type f 2>/dev/null | wc -l)
[ "$reports" = 0 ] || head -50 "$dir"/asan/* >&2
echo "cases=$total stored=$stored sqlstate_22=$c22 sqlstate_54=$c54 other=$other" \
	"operations_differing=$exact crashes=$crashes sanitizer_reports=$reports" \
	"sanitized=${FUZZ_ASAN:-0} seconds=$elapsed"
[ "$other" = 0 ] && [ "$exact" = 0 ] && [ "$crashes" = 0 ] && [ "$reports" = 0 ]
