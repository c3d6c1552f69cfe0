#!/usr/bin/env bash
# test/viz/pictures.sh -- the pictures of docs/visualize.md, from the demo's
# data.
#
#   DEMO_KEEP=1 make demo                 (prints how to connect)
#   test/viz/pictures.sh -h DIR -p PORT -U postgres demo
#
# The arguments are psql's connection options.  Adds 100 profiles of the
# demo's generator to the last hour, half of them with the generator's slow
# vector_search (6x), so that the difference has something to show, then
# writes into docs/img:
#   flamegraph-profile.svg   pp_flamegraph of the profile of the last hour whose
#                            vector_search was slowest
#   flamegraph-window.svg    pp_flamegraph('24 hours')
#   flamegraph-diff.svg      pp_flamegraph_diff(the 23 hours before, the last hour)
set -euo pipefail
cd "$(dirname "$0")/../.."
out=docs/img
q() { psql -X -q -v ON_ERROR_STOP=1 -At "$@"; }

q "$@" -c "
INSERT INTO performance_profiles (query_id, profile_data, created_at)
SELECT 'slow-hour-' || g, ppgen.profile(g, t), t
  FROM (SELECT g, now() - '59 minutes'::interval
                  + (row_number() OVER (ORDER BY g)) * '30 seconds'::interval AS t
          FROM ((SELECT g FROM generate_series(100001, 104000) AS g
                  WHERE ppgen.u(g, 5) < 0.05 ORDER BY g LIMIT 50)
                UNION ALL
                (SELECT g FROM generate_series(100001, 104000) AS g
                  WHERE ppgen.u(g, 5) >= 0.05 ORDER BY g LIMIT 50)) s) s2"
id=$(q "$@" -c "SELECT id FROM performance_profiles
                 WHERE created_at > now() - '1 hour'::interval
                 ORDER BY jsonb_path_query_first(profile_data,
                            'strict \$.**?(@.operation_name == \"vector_search\").duration_ms')::float8 DESC,
                          id
                 LIMIT 1")
q "$@" -c "SELECT pp_flamegraph('$id'::uuid)" >"$out/flamegraph-profile.svg"
q "$@" -c "SELECT pp_flamegraph('24 hours'::interval)" >"$out/flamegraph-window.svg"
q "$@" -c "SELECT pp_flamegraph_diff(tstzrange(now() - '24 hours'::interval, now() - '1 hour'::interval),
                                     tstzrange(now() - '1 hour'::interval, now(), '[]'))" >"$out/flamegraph-diff.svg"
echo "wrote $out/flamegraph-profile.svg (profile $id), $out/flamegraph-window.svg, $out/flamegraph-diff.svg"
