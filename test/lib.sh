# test/lib.sh -- helpers shared by test/run_all.sh, the demo and the benchmarks.
# Source it; it sets PG_MAJOR, PG_CONFIG, PGBIN, SUDO, PP_PACKAGES_BUILD and
# PP_PACKAGES and defines the functions below.

# PG_MAJOR is the PostgreSQL major version: the server tree and the package
# names follow from it (15 unless set; a PG_CONFIG given without PG_MAJOR
# decides it).
if [ -z "${PG_MAJOR:-}" ] && [ -n "${PG_CONFIG:-}" ] && [ -x "$PG_CONFIG" ]; then
	PG_MAJOR=$("$PG_CONFIG" --version | sed -n 's/^PostgreSQL \([0-9]*\).*/\1/p')
fi
PG_MAJOR=${PG_MAJOR:-15}
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/$PG_MAJOR/bin/pg_config}
# the server's programs sit beside its pg_config (PG_CONFIG may point at a
# private copy of the server tree, for working on several trees at once)
PGBIN=$(dirname "$PG_CONFIG")
if [ "$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi

# What the Python client's tests (the suite "python") and the demo's
# example (examples/rag_pipeline.py) need: Debian's Python 3 with both
# drivers, pytest, and pip with setuptools (the offline install is tested).
PP_PACKAGES_PYTHON="python3 python3-psycopg2 python3-psycopg python3-pytest python3-pip python3-setuptools"
# The Python that runs them: Debian's, whatever python3 comes first on PATH.
PP_PYTHON=${PP_PYTHON:-/usr/bin/python3}
# What the build, the unit tests, pg_regress, the TAP tests (pg_cron's
# included) and the Python tests need ...
PP_PACKAGES_BUILD="make gcc libc6-dev postgresql-$PG_MAJOR postgresql-server-dev-$PG_MAJOR \
postgresql-client-$PG_MAJOR postgresql-$PG_MAJOR-cron libjansson-dev libpq-dev libcmocka-dev \
libipc-run-perl perl libmicrohttpd-dev zlib1g-dev $PP_PACKAGES_PYTHON"
# ... and what the fuzzers (clang and its sanitizer runtimes), the
# benchmarks and TAP 021's pg_partman part add (that part is skipped where
# pg_partman 4.x is missing, as in the PostgreSQL 17 chroot).
PP_PACKAGES="$PP_PACKAGES_BUILD postgresql-$PG_MAJOR-tdigest postgresql-$PG_MAJOR-partman gnuplot-nox clang libclang-rt-dev valgrind"

# What TAP 019 adds (the HTML report in a headless browser), when
# PP_NEED_CHROMIUM=1.
PP_PACKAGES_BROWSER="chromium"

# npm (TAP 017 and 019, bench/otlp.sh) trusts the system's CA store as well as
# Node's own: a machine behind a TLS-inspecting proxy has the proxy's CA
# there, and a Node.js not built by Debian does not read it by itself.
if [ -z "${NODE_EXTRA_CA_CERTS:-}" ] && [ -r /etc/ssl/certs/ca-certificates.crt ]; then
	export NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt
fi

# Install whatever of $PP_PACKAGES is missing (Debian/Ubuntu).
pp_install_deps() {
	local missing=
	for p in $PP_PACKAGES; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
	done
	# TAP 017 runs the OpenTelemetry JavaScript SDK: Node.js and npm, Debian's
	# unless the machine has its own (NodeSource's, say); PP_NEED_NODE=0 when
	# that test does not run
	if [ "${PP_NEED_NODE:-1}" = 1 ] && ! command -v npm >/dev/null; then
		missing="$missing nodejs npm"
	fi
	# TAP 019 opens the HTML report in Debian's chromium (driven by
	# puppeteer-core from npm): run_all.sh sets PP_NEED_CHROMIUM=1 when it
	# runs the TAP tests (unless it is set to 0); the demo and the benchmarks
	# do without
	if [ "${PP_NEED_CHROMIUM:-0}" = 1 ]; then
		for p in $PP_PACKAGES_BROWSER; do
			dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
		done
	fi
	[ -z "$missing" ] && return 0
	echo "installing:$missing"
	$SUDO apt-get update -qq
	# the Debian package would create and start a default cluster; we use our own
	$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
}

# Build and install the extension from the current directory.
pp_build_install() {
	make -s PG_CONFIG="$PG_CONFIG" all
	$SUDO make -s PG_CONFIG="$PG_CONFIG" install
}

# Run "$@" as a user that initdb accepts.  As root that is the postgres OS
# user, in a copy of the tree it can write (given in $PP_WORKDIR).
pp_as_pg() {
	if [ "$(id -u)" = 0 ]; then
		runuser -u postgres -- env PATH="$PGBIN:$PATH" "$@"
	else
		env PATH="$PGBIN:$PATH" "$@"
	fi
}

# A copy of the source tree that the test user can write; prints its path.
pp_workdir() {
	if [ "$(id -u)" = 0 ]; then
		local d
		d=$(mktemp -d /tmp/ppprof-work.XXXXXX)
		cp -a . "$d/"
		chown -R postgres:postgres "$d"
		chmod 755 "$d"
		echo "$d"
	else
		pwd
	fi
}
