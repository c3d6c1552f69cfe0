#!/usr/bin/env bash
# test/fuzz/server_fuzz.sh -- the long SQL fuzz run against a live server.
#
# Starts a throwaway cluster with ppprof preloaded, feeds FUZZ_CASES (100,000
# by default) mutated profiles (test/fuzz/mutate.sql) through pp_ingest in
# batches of 1,000, and checks that every outcome is 'stored' or a 22xxx /
# 54xxx SQLSTATE, that the server log has no crash, and that the statistics
# equal the exact SQL over the stored rows.  Prints one summary line.
#
# FUZZ_VALGRIND=1 runs the server under valgrind (memcheck, following every
# backend): each error report whose stack passes through ppprof (its
# object, or a source file of src/ or src/core/) fails the run (reports from PostgreSQL itself, which is not built for valgrind, are
# counted apart).  About 30 times slower: use a few thousand cases.
#
# FUZZ_ASAN=1 builds ppprof with AddressSanitizer (in a copy of the tree)
# and installs that build for the run; the server runs with gcc's ASan
# runtime preloaded, and test/fuzz/nointl.c after it (with the runtime
# preloaded, Debian's postgres deadlocks in glibc's bindtextdomain at
# start-up; the shim turns message catalogs off).  Every ASan report fails
# the run.  At exit the normal build is installed again.  PostgreSQL itself
# is not instrumented: what ASan sees is ppprof's code, its stack and
# globals, and every malloc'd block (memory contexts' blocks included, not
# the chunks inside them).
set -euo pipefail
cd "$(dirname "$0")/../.."
. test/lib.sh

CASES=${FUZZ_CASES:-100000}
pp_install_deps

dir=$(mktemp -d /tmp/ppprof-sqlfuzz.XXXXXX)
chmod 755 "$dir"
[ "$(id -u)" = 0 ] && chown postgres "$dir"
cleanup() {
	pp_as_pg pg_ctl -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
	rm -rf "$dir"
	if [ "${FUZZ_ASAN:-0}" = 1 ]; then pp_build_install >/dev/null; fi
}
trap cleanup EXIT

pp_build_install >/dev/null

pp_as_pg initdb -D "$dir/data" -A trust --no-locale -E UTF8 >/dev/null
cat >> "$dir/data/postgresql.conf" <<CONF
shared_preload_libraries = 'ppprof'
listen_addresses = ''
unix_socket_directories = '$dir'
fsync = off
synchronous_commit = off
CONF
cp test/gen/rag_profiles.sql test/fuzz/mutate.sql "$dir/"
chmod 644 "$dir"/*.sql
psql_() { pp_as_pg psql -h "$dir" -d postgres -X -q -v ON_ERROR_STOP=1 "$@"; }

# The cases are generated first, on the server running normally with the
# normal build (under valgrind or ASan the PL/pgSQL generator would take most
# of the time); then the server restarts (under valgrind with FUZZ_VALGRIND=1,
# with the ASan build with FUZZ_ASAN=1) and only ingest runs.
pp_as_pg pg_ctl -D "$dir/data" -l "$dir/gen.log" -w start >/dev/null
psql_ -c "CREATE EXTENSION ppprof" -f "$dir/rag_profiles.sql" -f "$dir/mutate.sql" \
	-c "CREATE TABLE cases (g int PRIMARY KEY, t text)" \
	-c "CREATE TABLE outcomes (g int, outcome text)"
for ((b = 0; b < CASES; b += 1000)); do
	n=$(( CASES - b < 1000 ? CASES - b : 1000 ))
	psql_ -o /dev/null -c "SELECT setseed(($b % 99991) / 99991.0)" \
		-c "INSERT INTO cases SELECT g, mutate(g) FROM generate_series($b + 1, $b + $n) g"
done
pp_as_pg pg_ctl -D "$dir/data" -m fast -w stop >/dev/null

# the instrumented build, for the ingest only
ASAN_ENV=()
if [ "${FUZZ_ASAN:-0}" = 1 ]; then
	mkdir -p "$dir/src" "$dir/asan"
	git ls-files -z | xargs -0 tar cf - | tar xf - -C "$dir/src"
	make -s -C "$dir/src" PG_CONFIG="$PG_CONFIG" PG_CFLAGS="-fsanitize=address -fno-omit-frame-pointer" \
		PG_LDFLAGS="-fsanitize=address" ppprof.so >/dev/null
	$SUDO install -m 755 "$dir/src/ppprof.so" "$("$PG_CONFIG" --pkglibdir)/ppprof.so"
	gcc -shared -fPIC -O2 -o "$dir/nointl.so" test/fuzz/nointl.c
	[ "$(id -u)" = 0 ] && chown postgres "$dir/asan"
	ASAN_ENV=(env "LD_PRELOAD=$(gcc -print-file-name=libasan.so) $dir/nointl.so"
		"ASAN_OPTIONS=detect_leaks=0:log_path=$dir/asan/report")
fi

if [ "${FUZZ_VALGRIND:-0}" = 1 ]; then
	mkdir -p "$dir/vg"
	[ "$(id -u)" = 0 ] && chown postgres "$dir/vg"
	pp_as_pg sh -c "valgrind --quiet --trace-children=yes --error-limit=no \
		--num-callers=30 --fullpath-after= --log-file='$dir/vg/%p.log' postgres -D '$dir/data' >'$dir/log' 2>&1 &"
	for _ in $(seq 1 120); do
		pp_as_pg pg_isready -q -h "$dir" && break
		sleep 1
	done
else
	pp_as_pg "${ASAN_ENV[@]}" pg_ctl -D "$dir/data" -l "$dir/log" -w start >/dev/null
fi
if [ "${FUZZ_ASAN:-0}" = 1 ]; then
	# the backends run the ASan runtime and the instrumented ppprof.so
	mapped=$(psql_ -At -c "SELECT count(*) FILTER (WHERE l LIKE '%libasan%') || ' ' ||
	                              count(*) FILTER (WHERE l LIKE '%/ppprof.so%')
	                         FROM regexp_split_to_table(pg_read_file('/proc/self/maps'), E'\\n') l")
	case $mapped in
	0\ * | *\ 0) echo "server_fuzz: the backend has not mapped libasan and ppprof.so ($mapped)" >&2; exit 1 ;;
	esac
	case $(nm -D "$("$PG_CONFIG" --pkglibdir)/ppprof.so") in
	*__asan_report*) ;;
	*) echo "server_fuzz: the installed ppprof.so is not instrumented" >&2; exit 1 ;;
	esac
fi
start=$(date +%s)
lost=0	# batches whose backend died (a crash, or a sanitizer report)
for ((b = 0; b < CASES; b += 1000)); do
	n=$(( CASES - b < 1000 ? CASES - b : 1000 ))
	if ! psql_ -o /dev/null \
		-c "INSERT INTO outcomes SELECT g, try_ingest(t) FROM cases WHERE g BETWEEN $b + 1 AND $b + $n ORDER BY g"; then
		lost=$((lost + 1))
		for _ in $(seq 1 60); do pp_as_pg pg_isready -q -h "$dir" && break; sleep 1; done
	fi
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
crashes=$(grep -cE "terminated by signal|exited with exit code|PANIC|TRAP" "$dir/log" || true)
# valgrind error reports, split into those through ppprof.so and the rest
ours=0
theirs=0
if [ "${FUZZ_VALGRIND:-0}" = 1 ]; then
	read -r ours theirs < <(cat "$dir"/vg/*.log 2>/dev/null | awk '
		/^==[0-9]+== [A-Z]/ && !inblock { inblock = 1; text = "" }
		inblock { text = text "\n" $0 }
		/^==[0-9]+== $/ && inblock { if (text ~ /ppprof\.so|src\/(core\/)?[a-z_]+\.c:[0-9]/) o++; else t++; inblock = 0 }
		END { print o + 0, t + 0 }')
	[ "$ours" = 0 ] || grep -lE 'ppprof\.so|src/(core/)?[a-z_]+\.c:[0-9]' "$dir"/vg/*.log | head -3 | xargs cat >&2
fi
asan=0
if [ "${FUZZ_ASAN:-0}" = 1 ]; then
	asan=$(cat "$dir"/asan/report.* 2>/dev/null | grep -c 'ERROR: AddressSanitizer' || true)
	[ "$asan" = 0 ] || cat "$dir"/asan/report.* | head -60 >&2
fi
echo "cases=$total stored=$stored sqlstate_22=$c22 sqlstate_54=$c54 other=$other" \
	"operations_differing=$exact crashes=$crashes valgrind=${FUZZ_VALGRIND:-0}" \
	"valgrind_reports_ppprof=$ours valgrind_reports_other=$theirs asan=${FUZZ_ASAN:-0}" \
	"asan_reports=$asan lost_batches=$lost seconds=$elapsed"
[ "$lost" = 0 ] && [ "$other" = 0 ] && [ "$exact" = 0 ] && [ "$crashes" = 0 ] && [ "$ours" = 0 ] && [ "$asan" = 0 ]
