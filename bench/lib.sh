# bench/lib.sh -- what the benchmark scripts share: a throwaway cluster in a
# temporary directory, a server that is checked to run the build just
# installed, and a few statistics helpers.  Source it after test/lib.sh and
# after setting PORT (it only names the socket file; there is no TCP).

# posint NAME VALUE: exit 2 unless VALUE is a positive integer.
posint() {
	case $2 in
	'' | *[!0-9]* | 0) echo "bench: $1 must be a positive integer, got '$2'" >&2; exit 2 ;;
	esac
}

# increasing NAME LIST: exit 2 unless LIST is one or more positive integers,
# each larger than the one before.
increasing() {
	local prev=0 v
	[ -n "$2" ] || { echo "bench: $1 is empty" >&2; exit 2; }
	for v in $2; do
		posint "$1" "$v"
		[ "$v" -gt "$prev" ] || { echo "bench: $1 must increase, got '$2'" >&2; exit 2; }
		prev=$v
	done
}

# bench_tmp NAME: TMP, DATA and SOCK in a new directory /tmp/NAME.XXXXXX,
# removed (and its server stopped) when the script exits.
bench_tmp() {
	TMP=$(mktemp -d "/tmp/$1.XXXXXX")
	DATA=$TMP/data
	SOCK=$TMP/sock
	mkdir -p "$SOCK"
	[ "$(id -u)" = 0 ] && chown -R postgres:postgres "$TMP"
	chmod 755 "$TMP"
	trap bench_cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
}

bench_cleanup() {
	local rc=$?
	if [ -f "$DATA/postmaster.pid" ]; then
		pp_as_pg pg_ctl -D "$DATA" -m fast -w stop >/dev/null 2>&1 || true
	fi
	rm -rf "$TMP"
	exit $rc
}

# bench_initdb NAME: initdb in $DATA, reachable only through $SOCK (no
# TCP), postgresql.conf headed by NAME; the caller appends its own settings.
bench_initdb() {
	pp_as_pg initdb -D "$DATA" -A trust -U postgres --no-locale -E UTF8 >"$TMP/initdb.log" 2>&1 ||
		{ cat "$TMP/initdb.log" >&2; exit 1; }
	cat >>"$DATA/postgresql.conf" <<CONF
# $1
listen_addresses = ''
port = $PORT
unix_socket_directories = '$SOCK'
CONF
}

# psql on database $DB (default bench) of the throwaway cluster, as its
# superuser "postgres" (bench_initdb), whoever the OS user is
psql_q() { pp_as_pg psql -X -q -v ON_ERROR_STOP=1 -h "$SOCK" -p "$PORT" -U postgres -d "${DB:-bench}" "$@"; }
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }
load1() { cut -d' ' -f1 /proc/loadavg; }
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
range() { printf '%s\n' "$@" | sort -g | awk 'NR == 1 {lo = $1} {hi = $1} END {printf "%.0f–%.0f", lo, hi}'; }

start_server() {
	if ! pp_as_pg pg_ctl -D "$DATA" -l "$TMP/server.log" -w start >/dev/null; then
		cat "$TMP/server.log" >&2
		exit 1
	fi
}
stop_server() { pp_as_pg pg_ctl -D "$DATA" -m fast -w stop >/dev/null; }

# The server must run what was just built.  On a shared machine someone may
# install another build between our install and a server start: then install
# again and restart, a few times.
PKGLIB=$("$PG_CONFIG" --pkglibdir)
start_checked() {
	local attempt
	for attempt in 1 2 3 4 5; do
		start_server
		cmp -s ppprof.so "$PKGLIB/ppprof.so" && return 0
		stop_server
		if [ "$attempt" = 5 ]; then
			echo "bench: $PKGLIB/ppprof.so keeps differing from the ppprof.so just built (installed concurrently)" >&2
			exit 1
		fi
		echo "bench: $PKGLIB/ppprof.so was replaced by another build; installing again" >&2
		sleep 2
		pp_build_install
	done
}
