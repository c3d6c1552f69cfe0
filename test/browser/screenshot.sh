#!/usr/bin/env bash
# test/browser/screenshot.sh [PNG] -- the HTML report's first screen as a PNG
# (default docs/img/report-html.png), for the documentation.
#
# Run it against the demo's database, from the top of the tree, after
# "make" (client/ppprof) and with Node.js and Debian's chromium:
#
#   DEMO_KEEP=1 make demo          # prints how to connect; then, e.g.
#   PGHOST=/tmp/ppprof-demo.XXXX PGPORT=NNNN PGUSER=postgres PGDATABASE=demo \
#       test/browser/screenshot.sh
#
# It writes "ppprof report --format html" to a temporary file and opens it
# in headless Chromium (render.js), which must report no console error and
# no request.
set -euo pipefail
cd "$(dirname "$0")/../.."
png=$(realpath -m "${1:-docs/img/report-html.png}")
html=$(mktemp /tmp/ppprof-report.XXXXXX.html)
trap 'rm -f "$html"' EXIT
client/ppprof report --format html >"$html"
chmod 644 "$html"
if [ -z "${NODE_EXTRA_CA_CERTS:-}" ] && [ -r /etc/ssl/certs/ca-certificates.crt ]; then
	export NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt
fi
[ -d test/browser/node_modules ] || npm ci --no-audit --no-fund --prefix test/browser >/dev/null
out=$(node test/browser/render.js "$html" "$png")
node -e '
const r = JSON.parse(process.argv[1]);
const bad = [...r.console, ...r.pageErrors, ...r.requests];
if (bad.length) { console.error("screenshot.sh: " + bad.join("\n")); process.exit(1); }
console.log(`wrote ${process.argv[2]} (${r.width}x${r.height}, ${r.colours} colours)`);
' "$out" "$png"
