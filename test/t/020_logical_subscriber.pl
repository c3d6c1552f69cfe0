# test/t/020_logical_subscriber.pl -- ppprof as a central analysis node fed
# by logical replication (issue 22, item 5).
#
# Two publishers without ppprof (not installed in their databases, not in
# shared_preload_libraries; wal_level = logical) hold the seed's
# performance_profiles and publish it; one subscriber with ppprof preloaded
# subscribes to both.  On the subscriber:
#  - the rows of the initial copy (tablesync's COPY) and of the stream
#    (INSERT, UPDATE, DELETE) are validated, analysed and counted: the live
#    statistics stay valid and pp_operation_stats and pp_range_stats equal
#    the exact SQL over the table's counted rows (calls, errors and averages
#    exact, p50/p95/p99 within 1% of percentile_disc), from shared memory,
#    from the table after pp_reset() and after pp_rebuild();
#  - a malformed profile, in the initial copy or streamed (a bad tree, a
#    negative total_duration_ms, an UPDATE that breaks a profile), does not
#    stop the subscription: the row is stored with the reason in
#    ppprof_rejected, left out of the statistics, logged as a WARNING,
#    counted in pp_info() (replicated_rejected, _last, _last_at), and a
#    later good row arrives; an UPDATE that repairs it makes it count;
#  - neither subscription records an apply or sync error.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PPTest;

# The seed's table: what the application's database has (no ppprof column).
my $seed_table = q{
CREATE TABLE performance_profiles (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    query_id text NOT NULL,
    profile_data jsonb NOT NULL,
    total_duration_ms float NOT NULL,
    bottleneck_operations jsonb DEFAULT '[]',
    optimization_suggestions jsonb DEFAULT '[]',
    created_at timestamptz DEFAULT now()
);
CREATE INDEX ON performance_profiles (created_at);
};

# $n profiles written as an application without ppprof writes them (it
# computes total_duration_ms itself), query_id $prefix || g, created_at
# within the last $span; every 13th vector_search fails.
sub app_profiles
{
	my ($n, $prefix, $span, $extra_op) = @_;
	my $extra = $extra_op
	  ? qq{, jsonb_build_object('operation_name', '$extra_op', 'duration_ms', x)}
	  : '';
	return qq{
INSERT INTO performance_profiles (query_id, profile_data, total_duration_ms, created_at)
SELECT '$prefix' || g,
       jsonb_build_object('operation_name', 'rag_request', 'duration_ms', a + b + c + x + 1,
         'children', jsonb_build_array(
           jsonb_build_object('operation_name', 'embedding_generation', 'duration_ms', a),
           jsonb_build_object('operation_name', 'vector_search', 'duration_ms', b)
             || CASE WHEN g % 13 = 0 THEN '{"error": "timeout"}'::jsonb ELSE '{}'::jsonb END,
           jsonb_build_object('operation_name', 'llm_generation', 'duration_ms', c)$extra)),
       a + b + c + x + 1,
       now() - random() * interval '$span'
  FROM (SELECT g,
               40 * exp(0.5 * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random())) AS a,
               120 * exp(0.8 * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random())) AS b,
               900 * exp(0.7 * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random())) AS c,
               15 * exp(0.4 * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random())) AS x
          FROM generate_series(1, $n) g) v};
}

my @pubs;
for my $i (1, 2)
{
	my $pub = pp_start_node("publisher$i", preload => 0, init => [ allows_streaming => 'logical' ]);
	is($pub->safe_psql('postgres', 'SHOW shared_preload_libraries'), '',
		"publisher $i: nothing in shared_preload_libraries");
	is($pub->safe_psql('postgres', 'SHOW wal_level'), 'logical', "publisher $i: wal_level = logical");
	$pub->safe_psql('postgres', $seed_table);
	$pub->safe_psql('postgres', qq{SELECT setseed(0.2$i)});
	$pub->safe_psql('postgres',
		q{CREATE PUBLICATION ppprof_profiles FOR TABLE performance_profiles
		  WITH (publish = 'insert, update, delete')});
	push @pubs, $pub;
}
my ($pub1, $pub2) = @pubs;

# rows before the subscriptions: they arrive by the initial copy, one of
# them malformed (a negative duration)
$pub1->safe_psql('postgres', app_profiles(300, 'p1-', '20 hours'));
$pub1->safe_psql('postgres', q{
INSERT INTO performance_profiles (query_id, profile_data, total_duration_ms)
VALUES ('p1-bad', '{"operation_name": "rag_request", "duration_ms": -5}', 5)});
$pub2->safe_psql('postgres', app_profiles(250, 'p2-', '20 hours', 'reranking'));

my $sub = pp_start_node('subscriber');
$sub->safe_psql('postgres', 'CREATE EXTENSION ppprof');
$sub->safe_psql('postgres', q{
CREATE TABLE exact (created_at timestamptz, operation text, d float8, failed boolean);
-- every node of the counted rows, and one row per profile (operation NULL:
-- total_duration_ms, failed when a node failed)
CREATE FUNCTION refresh_exact() RETURNS void LANGUAGE sql AS $$
  TRUNCATE exact;
  INSERT INTO exact
  WITH RECURSIVE nodes AS (
    SELECT id, created_at, profile_data AS n FROM performance_profiles WHERE ppprof_rejected IS NULL
    UNION ALL
    SELECT nodes.id, nodes.created_at, c FROM nodes,
           jsonb_array_elements(CASE WHEN jsonb_typeof(n->'children') = 'array' THEN n->'children' ELSE '[]' END) c),
  flat AS (SELECT id, created_at, n->>'operation_name' AS operation, (n->>'duration_ms')::float8 AS d,
                  coalesce(jsonb_typeof(n->'error') = 'string', false) AS failed FROM nodes)
  SELECT created_at, operation, d, failed FROM flat
  UNION ALL
  SELECT p.created_at, NULL, p.total_duration_ms, bool_or(f.failed)
    FROM performance_profiles p JOIN flat f ON f.id = p.id
   WHERE p.ppprof_rejected IS NULL
   GROUP BY p.id, p.created_at, p.total_duration_ms;
$$;
-- the rows of a statistics function (as jsonb) that differ from the exact
-- answer over [lo, hi] (hi_open: [lo, hi)); with_profiles: the profile row
CREATE FUNCTION misses(label text, lo timestamptz, hi timestamptz, hi_open boolean,
                       with_profiles boolean, got jsonb) RETURNS SETOF text LANGUAGE sql AS $$
  WITH g AS (SELECT * FROM jsonb_to_recordset(got) AS x(operation text, calls bigint, errors bigint,
                                                         avg_ms float8, p50_ms float8, p95_ms float8, p99_ms float8)),
       e AS (SELECT operation, count(*) AS calls, count(*) FILTER (WHERE failed) AS errors, avg(d) AS avg_ms,
                    percentile_disc(0.50) WITHIN GROUP (ORDER BY d) AS p50,
                    percentile_disc(0.95) WITHIN GROUP (ORDER BY d) AS p95,
                    percentile_disc(0.99) WITHIN GROUP (ORDER BY d) AS p99
               FROM exact
              WHERE created_at >= lo AND (created_at < hi OR (NOT hi_open AND created_at = hi))
                AND (with_profiles OR operation IS NOT NULL)
              GROUP BY 1)
  SELECT format('%s %s: calls %s/%s errors %s/%s avg %s/%s p50 %s/%s p95 %s/%s p99 %s/%s',
                label, coalesce(e.operation, g.operation, '(profiles)'), g.calls, e.calls,
                g.errors, e.errors, g.avg_ms, e.avg_ms, g.p50_ms, e.p50, g.p95_ms, e.p95, g.p99_ms, e.p99)
    FROM e FULL JOIN g ON coalesce(g.operation, '') = coalesce(e.operation, '')  -- names are never empty
   WHERE g.calls IS DISTINCT FROM e.calls OR g.errors IS DISTINCT FROM e.errors
      OR NOT abs(g.avg_ms - e.avg_ms) <= 1e-9 * e.avg_ms
      OR NOT abs(g.p50_ms - e.p50) <= 0.01 * e.p50
      OR NOT abs(g.p95_ms - e.p95) <= 0.01 * e.p95
      OR NOT abs(g.p99_ms - e.p99) <= 0.01 * e.p99
$$;
-- pp_operation_stats(w) against [now() - w, now()]
CREATE FUNCTION stats_misses(w interval) RETURNS SETOF text LANGUAGE sql AS $$
  SELECT misses('stats ' || w, now() - w, now(), false, false,
                (SELECT coalesce(jsonb_agg(to_jsonb(s)), '[]') FROM pp_operation_stats(w) s))
$$;
-- pp_range_stats(r), the profile row included
CREATE FUNCTION range_misses(r tstzrange) RETURNS SETOF text LANGUAGE sql AS $$
  SELECT misses('range ' || r, lower(r), upper(r), NOT upper_inc(r), true,
                (SELECT coalesce(jsonb_agg(to_jsonb(s)), '[]') FROM pp_range_stats(r) s))
$$;
});

# the comparisons, in one transaction (one now()); $how names the state
sub check_exact
{
	my ($how) = @_;
	my $out = $sub->safe_psql('postgres', q{
BEGIN;
SELECT refresh_exact();
SELECT * FROM stats_misses('1 day')
UNION ALL SELECT * FROM stats_misses('3 hours 17 minutes 3 seconds')
UNION ALL SELECT * FROM range_misses(tstzrange(now() - interval '11 hours 7 minutes', now() - interval '2 hours'))
UNION ALL SELECT * FROM range_misses(tstzrange(now() - interval '1 day', now(), '[]'));
COMMIT;
});
	my @lines = grep { $_ ne '' } split /\n/, $out;
	ok(@lines == 0, "$how: pp_operation_stats and pp_range_stats equal the exact SQL over the counted rows")
	  or diag(join("\n", @lines[ 0 .. ($#lines < 9 ? $#lines : 9) ]));
	# not vacuous: the window holds every counted profile and operation
	my ($live, $table) = split /\|/, $sub->safe_psql('postgres', q{
SELECT (SELECT calls FROM pp_range_stats(tstzrange(now() - interval '1 day', now(), '[]')) WHERE operation IS NULL)
       || ' profiles, ' || (SELECT count(*) FROM pp_operation_stats('1 day')) || ' operations',
       (SELECT count(*) FROM performance_profiles WHERE ppprof_rejected IS NULL)
       || ' profiles, ' || (SELECT count(DISTINCT operation) FROM exact WHERE operation IS NOT NULL) || ' operations'});
	is($live, $table, "$how: the statistics hold every counted profile and operation ($table)");
	return;
}

sub info
{
	my ($field) = @_;
	return pp_info_field($sub, $field);
}

# the subscriptions: the initial copy of both publishers
for my $i (1, 2)
{
	my $connstr = $pubs[ $i - 1 ]->connstr . ' dbname=postgres';
	$sub->safe_psql('postgres',
		"CREATE SUBSCRIPTION from_app$i CONNECTION '$connstr' PUBLICATION ppprof_profiles");
}
$sub->wait_for_subscription_sync($pub1, 'from_app1');
$sub->wait_for_subscription_sync($pub2, 'from_app2');

is($sub->safe_psql('postgres', 'SELECT count(*) FROM performance_profiles'), '551',
	'initial copy: every row of both publishers arrived, the malformed one too');
is($sub->safe_psql('postgres', q{
SELECT query_id || ' ' || ppprof_analyzed || ' ' || ppprof_rejected
  FROM performance_profiles WHERE ppprof_rejected IS NOT NULL}),
	'p1-bad false invalid profile at $.duration_ms: duration_ms must be between 0 and 1e9, got -5',
	'initial copy: the malformed profile is stored, marked with the reason, not analysed');
is($sub->safe_psql('postgres', q{
SELECT count(*) FILTER (WHERE NOT ppprof_analyzed) || ' ' || count(*) FILTER (WHERE bottleneck_operations <> '[]')
       || ' ' || count(*) FILTER (WHERE optimization_suggestions <> '[]')
  FROM performance_profiles WHERE ppprof_rejected IS NULL}) =~ /^0 (\d+) (\d+)$/ && $1 > 0 && $2 > 0,
	1, 'initial copy: every other row analysed by the subscriber (bottlenecks and suggestions filled)');
is(info('statistics'), 'valid', 'initial copy: the statistics are valid');
is(info('replicated_rows_counted'), 'true', "pp_info()->>'replicated_rows_counted' is true");
is(info('profiles_ingested'), '550', 'initial copy: 550 profiles counted by the triggers');
is(info('replicated_rejected'), '1', "initial copy: pp_info()->>'replicated_rejected' counts the malformed row");
like(info('replicated_rejected_last'), qr/^invalid profile at \$\.duration_ms: /,
	"initial copy: pp_info()->>'replicated_rejected_last' gives the reason");
isnt(info('replicated_rejected_last_at'), '', "initial copy: and when");
ok($sub->log_contains(qr/WARNING:  replicated profile [0-9a-f-]{36} stored as rejected: invalid profile at \$\.duration_ms/),
	'initial copy: the rejection is logged');
check_exact('initial copy');

# the stream: a malformed tree and a negative total on publisher 2 followed
# by good rows; then inserts, deletions and updates on publisher 1 (one
# breaks a profile, one repairs the malformed one of the copy, one changes
# the query_id of a rejected row, which stays rejected); then publisher 2
# deletes its malformed tree.  Each publisher's changes are waited for
# before the next's, so that the last rejection is known.
$pub2->safe_psql('postgres', q{
INSERT INTO performance_profiles (query_id, profile_data, total_duration_ms)
VALUES ('p2-bad-tree', '{"duration_ms": 3}', 3);
INSERT INTO performance_profiles (query_id, profile_data, total_duration_ms)
VALUES ('p2-bad-total', '{"operation_name": "rag_request", "duration_ms": 7}', -1);
INSERT INTO performance_profiles (query_id, profile_data, total_duration_ms)
VALUES ('p2-after', '{"operation_name": "rag_request", "duration_ms": 42,
  "children": [{"operation_name": "llm_generation", "duration_ms": 40}]}', 42);
});
$pub2->safe_psql('postgres', app_profiles(120, 'p2-late-', '40 minutes', 'reranking'));
$pub2->wait_for_catchup('from_app2');
$pub1->safe_psql('postgres', app_profiles(150, 'p1-late-', '2 hours'));
$pub1->safe_psql('postgres', q{
DELETE FROM performance_profiles WHERE query_id IN ('p1-1', 'p1-2', 'p1-3', 'p1-late-4');
UPDATE performance_profiles SET profile_data = jsonb_set(profile_data, '{children,0,duration_ms}', '7777')
 WHERE query_id IN ('p1-10', 'p1-11');
UPDATE performance_profiles SET created_at = created_at - interval '30 minutes' WHERE query_id = 'p1-12';
UPDATE performance_profiles SET profile_data = '{"operation_name": "rag_request", "duration_ms": 5, "children": "none"}'
 WHERE query_id = 'p1-13';
UPDATE performance_profiles SET query_id = 'p1-13b' WHERE query_id = 'p1-13';
UPDATE performance_profiles
   SET profile_data = '{"operation_name": "rag_request", "duration_ms": 5,
                        "children": [{"operation_name": "cache_lookup", "duration_ms": 4}]}'
 WHERE query_id = 'p1-bad';
});
$pub1->wait_for_catchup('from_app1');
$pub2->safe_psql('postgres', q{DELETE FROM performance_profiles WHERE query_id = 'p2-bad-tree'});
$pub2->wait_for_catchup('from_app2');

is($sub->safe_psql('postgres', q{SELECT count(*) FROM performance_profiles WHERE query_id = 'p2-after'}), '1',
	'stream: the good row after the malformed ones arrived (the subscription goes on)');
is($sub->safe_psql('postgres', q{SELECT count(*) FROM performance_profiles}),
	$pub1->safe_psql('postgres', q{SELECT count(*) FROM performance_profiles})
	  + $pub2->safe_psql('postgres', q{SELECT count(*) FROM performance_profiles}),
	'stream: the subscriber holds every row of both publishers');
is($sub->safe_psql('postgres', q{
SELECT string_agg(query_id || ': ' || ppprof_rejected, E'\n' ORDER BY query_id)
  FROM performance_profiles WHERE ppprof_rejected IS NOT NULL}),
	"p1-13b: invalid profile at \$.children: expected an array or null, got string\n"
	  . "p2-bad-total: total_duration_ms must be between 0 and 1e9, got -1",
	'stream: the rows now rejected, with their reasons (the repaired and the deleted one are gone)');
is($sub->safe_psql('postgres', q{
SELECT ppprof_analyzed || ' ' || jsonb_array_length(bottleneck_operations) FROM performance_profiles WHERE query_id = 'p1-bad'}),
	'true 0', 'stream: the repaired profile is analysed');
is($sub->safe_psql('postgres', q{
SELECT count(*) FROM performance_profiles
 WHERE query_id IN ('p1-10', 'p1-11')
   AND bottleneck_operations @> '[{"operation": "embedding_generation"}]'}),
	'2', 'stream: an updated profile is analysed again');
is(info('statistics'), 'valid', 'stream: the statistics are still valid');
is(info('replicated_rejected'), '4',
	"stream: pp_info()->>'replicated_rejected' counts every rejection (copy 1, stream 3)");
like(info('replicated_rejected_last'), qr/^invalid profile at \$\.children: /,
	"stream: pp_info()->>'replicated_rejected_last' gives the last reason");
ok($sub->log_contains(qr/stored as rejected: total_duration_ms must be between 0 and 1e9, got -1/),
	'stream: the negative total is logged');
is($sub->safe_psql('postgres', q{
SELECT string_agg(s.subname || ' ' || s.apply_error_count || ' ' || s.sync_error_count, ', ' ORDER BY s.subname)
  FROM pg_stat_subscription_stats s}),
	'from_app1 0 0, from_app2 0 0', 'no apply or sync error on either subscription');
check_exact('stream');

# the same answers from the table, then after a rebuild (which reads it)
$sub->safe_psql('postgres', 'SELECT pp_reset()');
like(info('statistics'), qr/^invalid/, 'after pp_reset(): answers from the table');
check_exact('from the table');
$sub->safe_psql('postgres', 'SELECT pp_rebuild()');
is(info('statistics'), 'valid', 'after pp_rebuild(): valid');
check_exact('rebuilt');

# the publishers never had ppprof
for my $i (1, 2)
{
	is($pubs[ $i - 1 ]->safe_psql('postgres',
		q{SELECT count(*) FROM pg_extension WHERE extname = 'ppprof'}), '0',
		"publisher $i: no ppprof in its database");
}

$sub->stop;
$pub1->stop;
$pub2->stop;
done_testing();
