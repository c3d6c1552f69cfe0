# test/t/016_accuracy_burst.pl -- percentiles within 1% at the default
# settings under the loads that used to break them (issue 16), and honest
# degradation when the sketch memory runs out.
#
#   burst   20,000 profiles committed within one minute, four operations
#           with wide distributions (lognormal, Pareto tail, bimodal cache
#           hit/miss, log-uniform 0.001 ms .. 1e6 ms);
#   volume  the density of 1M profiles a day (694 a minute), back-filled
#           over 3 hours with lognormal durations (sigma 0.35 .. 1);
#   reload  the statistics file of the volume case loaded into 128kB: what
#           does not fit is left out and read from the table;
#   small   ppprof.sketch_memory = 256kB (and the removed
#           ppprof.minute_sketch_slots left in postgresql.conf, which only
#           warns): the minute buckets of old hours
#           give way, then old hour buckets; the bound still holds (the
#           table answers the windows that reach what was given up) and
#           pp_info() says what gave way and since when.
#
# Each p50/p95/p99 of pp_operation_stats, pp_range_stats and the hourly
# buckets of pp_trends must lie within 1% of the exact percentile_disc over
# the same rows (the rule of test/sql/accuracy.sql).  The node count is what is
# scaled down for the run time (4 nodes a profile), never the density.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PPTest;

# exact_nodes: every node of the profiles, materialised after each load;
# misses(rows, lo, hi): the rows of a statistics function whose p50, p95 or
# p99 is not within 1% of the exact value over [lo, hi] (hi_open: [lo, hi))
my $setup = q{
CREATE TABLE exact_nodes (created_at timestamptz, operation text, d float8);
CREATE FUNCTION refresh_exact() RETURNS void LANGUAGE sql AS $$
  TRUNCATE exact_nodes;
  INSERT INTO exact_nodes
  WITH RECURSIVE nodes AS (
    SELECT created_at, profile_data AS n FROM performance_profiles
    UNION ALL
    SELECT nodes.created_at, c FROM nodes, jsonb_array_elements(n->'children') c)
  SELECT created_at, n->>'operation_name', (n->>'duration_ms')::float8 FROM nodes
  UNION ALL
  SELECT created_at, NULL, total_duration_ms FROM performance_profiles;
$$;
CREATE FUNCTION misses(label text, lo timestamptz, hi timestamptz, hi_open boolean, with_profiles boolean,
                       got_op text[], got_calls bigint[], p50 float8[], p95 float8[], p99 float8[])
RETURNS SETOF text LANGUAGE sql AS $$
  WITH g AS (SELECT * FROM unnest(got_op, got_calls, p50, p95, p99) AS g(op, calls, p50, p95, p99)),
       e AS (SELECT operation AS op, count(*) AS calls,
                    percentile_disc(0.50) WITHIN GROUP (ORDER BY d) AS p50,
                    percentile_disc(0.95) WITHIN GROUP (ORDER BY d) AS p95,
                    percentile_disc(0.99) WITHIN GROUP (ORDER BY d) AS p99
               FROM exact_nodes
              WHERE created_at >= lo AND (created_at < hi OR (NOT hi_open AND created_at = hi))
                AND (with_profiles OR operation IS NOT NULL)
              GROUP BY 1)
  SELECT format('%s %s: calls %s/%s p50 %s/%s p95 %s/%s p99 %s/%s', label, coalesce(e.op, '(profiles)'),
                g.calls, e.calls, g.p50, e.p50, g.p95, e.p95, g.p99, e.p99)
    FROM e FULL JOIN g ON coalesce(g.op, '') = coalesce(e.op, '')
   WHERE g.calls IS DISTINCT FROM e.calls
      OR NOT abs(g.p50 - e.p50) <= 0.01 * e.p50
      OR NOT abs(g.p95 - e.p95) <= 0.01 * e.p95
      OR NOT abs(g.p99 - e.p99) <= 0.01 * e.p99
$$;
-- pp_operation_stats(w) against [now() - w, now()]
CREATE FUNCTION stats_misses(w interval) RETURNS SETOF text LANGUAGE sql AS $$
  SELECT misses('stats ' || w, now() - w, now(), false, false,
                array_agg(operation), array_agg(calls), array_agg(p50_ms), array_agg(p95_ms), array_agg(p99_ms))
    FROM pp_operation_stats(w)
$$;
-- pp_range_stats(r) (the profiles row included; r includes its lower bound)
CREATE FUNCTION range_misses(r tstzrange) RETURNS SETOF text LANGUAGE sql AS $$
  SELECT misses('range ' || r, lower(r), upper(r), NOT upper_inc(r), true,
                array_agg(operation), array_agg(calls), array_agg(p50_ms), array_agg(p95_ms), array_agg(p99_ms))
    FROM pp_range_stats(r)
$$;
-- the hourly buckets of pp_trends(w) that lie wholly inside [now() - w, now()]
CREATE FUNCTION trend_misses(w interval) RETURNS SETOF text LANGUAGE sql AS $$
  SELECT m FROM (SELECT bucket_start, array_agg(operation) AS ops, array_agg(calls) AS calls,
                        array_agg(p50_ms) AS p50, array_agg(p95_ms) AS p95, array_agg(p99_ms) AS p99
                   FROM pp_trends(w, '1 hour')
                  WHERE bucket_start >= now() - w AND bucket_start + interval '1 hour' <= now()
                  GROUP BY 1) t,
       LATERAL misses('trend ' || t.bucket_start, t.bucket_start, t.bucket_start + interval '1 hour', true, true,
                      t.ops, t.calls, t.p50, t.p95, t.p99) m
$$;
SELECT setseed(0.16);
};

# profiles of four operations; $when is the created_at expression over g
sub burst_sql
{
	my ($n, $when, $prefix) = @_;
	return qq{
INSERT INTO performance_profiles (query_id, profile_data, created_at)
SELECT '$prefix' || g,
       jsonb_build_object('operation_name', 'rag_request', 'duration_ms', ln + pa + bi + wi + 1,
         'children', jsonb_build_array(
           jsonb_build_object('operation_name', 'llm_call', 'duration_ms', ln),
           jsonb_build_object('operation_name', 'vector_search', 'duration_ms', pa),
           jsonb_build_object('operation_name', 'cache_lookup', 'duration_ms', bi),
           jsonb_build_object('operation_name', 'tool_call', 'duration_ms', wi))),
       $when
  FROM (SELECT g,
               -- lognormal, median 100 ms, sigma 1.5
               100 * exp(1.5 * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random())) AS ln,
               -- Pareto, x_m 2 ms, shape 1.1, capped at 1e6 ms
               least(2 * power(1 - random(), -1 / 1.1), 1e6) AS pa,
               -- bimodal: cache hits around 0.05 ms, misses around 800 ms
               CASE WHEN random() < 0.7 THEN 0.05 * exp(0.3 * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random()))
                    ELSE 800 * exp(0.5 * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random())) END AS bi,
               -- log-uniform 0.001 .. 1e6 ms
               exp(ln(0.001) + random() * ln(1e9)) AS wi
          FROM generate_series(1, $n) g) v};
}

# profiles of three lognormal operations (sigma 0.35, 0.7, 1), as at volume
sub volume_sql
{
	my ($n, $when, $prefix) = @_;
	return qq{
INSERT INTO performance_profiles (query_id, profile_data, created_at)
SELECT '$prefix' || g,
       jsonb_build_object('operation_name', 'rag_request', 'duration_ms', a + b + c + 0.5,
         'children', jsonb_build_array(
           jsonb_build_object('operation_name', 'embed', 'duration_ms', a),
           jsonb_build_object('operation_name', 'retrieve', 'duration_ms', b),
           jsonb_build_object('operation_name', 'cache_lookup', 'duration_ms', c))),
       $when
  FROM (SELECT g,
               40 * exp(0.35 * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random())) AS a,
               120 * exp(0.7 * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random())) AS b,
               2 * exp(1.0 * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random())) AS c
          FROM generate_series(1, $n) g) v};
}

sub no_misses
{
	my ($node, $sql, $name) = @_;
	my $out = $node->safe_psql('postgres', $sql);
	my @lines = grep { $_ ne '' } split /\n/, $out;
	ok(@lines == 0, $name) or diag(join("\n", @lines[0 .. ($#lines < 9 ? $#lines : 9)]));
}

sub no_degradation
{
	my ($node, $how) = @_;
	is($node->safe_psql('postgres',
		q{SELECT pp_info()->>'degradation' || ' ' || (pp_info()->>'observations_dropped') || ' ' ||
		         coalesce(pp_info()->>'degraded_since', 'never') || ' ' || (pp_info()->>'statistics')}),
		'none 0 never valid', "$how: nothing gave way, statistics valid");
}

# ---- defaults ----
my $node = pp_start_node('accuracy_burst');
$node->safe_psql('postgres', 'CREATE EXTENSION ppprof');
$node->safe_psql('postgres', $setup);
my $shmem = pp_info_field($node, 'shared_memory_bytes');
cmp_ok($shmem, '<=', 64 * 1024 * 1024, "shared memory at the defaults: $shmem bytes, at most 64 MB");
cmp_ok(pp_info_field($node, 'sketch_memory_bytes'), '>', 0, 'the sketch memory is reported');
is($node->safe_psql('postgres', q{SELECT count(*) FROM pg_settings WHERE name = 'ppprof.minute_sketch_slots'}),
	'0', 'ppprof.minute_sketch_slots is gone');

# (a) the burst: 20,000 profiles within one minute (one commit at now())
$node->safe_psql('postgres', burst_sql(20000, 'now()', 'burst-'));
$node->safe_psql('postgres', 'SELECT refresh_exact()');
is($node->safe_psql('postgres', q{SELECT count(*) FROM exact_nodes WHERE operation IS NOT NULL}),
	'100000', 'burst: 100,000 nodes in one minute');
no_degradation($node, 'burst');
no_misses($node, q{SELECT stats_misses('24 hours') UNION ALL SELECT stats_misses('10 minutes')
	UNION ALL SELECT range_misses(tstzrange(now() - interval '1 hour', now(), '[]'))},
	'burst: every p50/p95/p99 of pp_operation_stats and pp_range_stats within 1%');
my $used_burst = pp_info_field($node, 'sketch_memory_used_bytes');
note("burst: sketch memory used $used_burst bytes");

# (b) the volume: 3 hours at 1M profiles a day, back-filled, four nodes each
$node->safe_psql('postgres', 'TRUNCATE performance_profiles');
$node->safe_psql('postgres', volume_sql(125000, q{now() - (g * interval '86.4 milliseconds')}, 'vol-'));
$node->safe_psql('postgres', 'SELECT refresh_exact()');
no_degradation($node, 'volume');
no_misses($node, q{SELECT stats_misses('24 hours') UNION ALL SELECT stats_misses('2 hours 17 minutes 3 seconds')
	UNION ALL SELECT stats_misses('30 minutes')
	UNION ALL SELECT range_misses(tstzrange(now() - interval '163 minutes', now() - interval '21 minutes'))},
	'volume: every p50/p95/p99 of pp_operation_stats and pp_range_stats within 1%');
no_misses($node, q{SELECT trend_misses('24 hours')},
	'volume: every p50/p95/p99 of the hourly buckets of pp_trends within 1%');
is($node->safe_psql('postgres', q{SELECT count(*) >= 2 FROM pp_trends('24 hours', '1 hour')
	WHERE operation = 'embed' AND bucket_start >= now() - interval '24 hours'
	  AND bucket_start + interval '1 hour' <= now()}), 't', 'volume: whole hours were compared');
note('volume: sketch memory used ' . pp_info_field($node, 'sketch_memory_used_bytes') . ' bytes');

# the statistics file loaded into a sketch memory too small for it: the
# buckets that fit are loaded, incomplete_before moves past the others
$node->stop;
$node->append_conf('postgresql.conf', 'ppprof.sketch_memory = 128kB');
$node->start;
like(pp_info_field($node, 'statistics_file'), qr/^loaded: /, 'smaller sketch memory: the file is loaded');
is($node->safe_psql('postgres', q{SELECT pp_info()->>'statistics', (pp_info()->>'incomplete_before') IS NOT NULL}),
	'valid|t', 'smaller sketch memory: valid, incomplete_before set past the buckets left out');
no_misses($node, q{SELECT stats_misses('24 hours') UNION ALL SELECT stats_misses('30 minutes')},
	'smaller sketch memory: every p50/p95/p99 within 1%');
$node->stop;

# ---- (c) a small arena runs out ----
# (the removed ppprof.minute_sketch_slots of 1.2, left in the file, only warns)
my $small = pp_start_node('accuracy_small',
	conf => "ppprof.sketch_memory = 256kB\nppprof.minute_sketch_slots = 128");
ok(-s $small->logfile && slurp_file($small->logfile) =~ /ppprof\.minute_sketch_slots/,
	'a leftover ppprof.minute_sketch_slots is named in the log');
is($small->safe_psql('postgres', q{SELECT count(*) FROM pg_settings WHERE name = 'ppprof.minute_sketch_slots'}),
	'0', '... and is not a setting');
$small->safe_psql('postgres', 'CREATE EXTENSION ppprof');
$small->safe_psql('postgres', $setup);
is($small->safe_psql('postgres', 'SHOW ppprof.sketch_memory'), '256kB', 'a small sketch memory');
# 4 back-filled hours, 40 profiles a minute: the minute buckets do not fit,
# the hour buckets do
$small->safe_psql('postgres', volume_sql(9600, q{now() - (g * interval '1.5 seconds')}, 'min-'));
$small->safe_psql('postgres', 'SELECT refresh_exact()');
my ($what, $since, $minfrom) = split /\|/, $small->safe_psql('postgres',
	q{SELECT pp_info()->>'degradation', (pp_info()->>'degraded_since') IS NOT NULL,
	         (pp_info()->>'minute_buckets_from')::timestamptz > (SELECT min(created_at) FROM performance_profiles)});
is($what, 'minute_buckets', 'small: the minute buckets of old hours gave way first');
is($since, 't', 'small: pp_info() says since when');
is($minfrom, 't', 'small: minute_buckets_from moved past the given-up hours');
is(pp_info_field($small, 'observations_dropped'), '0', 'small: no observation dropped');
is(pp_info_field($small, 'statistics'), 'valid', 'small: statistics still valid');
no_misses($small, q{SELECT stats_misses('24 hours') UNION ALL SELECT stats_misses('3 hours 7 minutes')
	UNION ALL SELECT stats_misses('20 minutes')
	UNION ALL SELECT range_misses(tstzrange(now() - interval '200 minutes', now() - interval '13 minutes'))},
	'small, minutes given up: every p50/p95/p99 within 1%');

# 12 more hours of history with wide values: old hour buckets give way too
$small->safe_psql('postgres', burst_sql(14400, q{now() - interval '4 hours' - (g * interval '3 seconds')}, 'hour-'));
$small->safe_psql('postgres', 'SELECT refresh_exact()');
my ($what2, $horizon) = split /\|/, $small->safe_psql('postgres',
	q{SELECT pp_info()->>'degradation',
	         (pp_info()->>'hour_buckets_from')::timestamptz > now() - interval '16 hours'});
like($what2, qr/^(hour_buckets|observations)$/, "small: then old hour buckets gave way ($what2)");
is($horizon, 't', 'small: hour_buckets_from moved (the horizon)');
is(pp_info_field($small, 'statistics'), 'valid', 'small: statistics still valid');
cmp_ok(pp_info_field($small, 'sketch_memory_used_bytes'), '<=', pp_info_field($small, 'sketch_memory_bytes'),
	'small: within its sketch memory');
no_misses($small, q{SELECT stats_misses('24 hours') UNION ALL SELECT stats_misses('5 hours 7 minutes')
	UNION ALL SELECT stats_misses('20 minutes')
	UNION ALL SELECT range_misses(tstzrange(now() - interval '10 hours', now() - interval '2 hours'))},
	'small, hours given up: every p50/p95/p99 within 1%');
no_misses($small, q{SELECT trend_misses('24 hours')},
	'small: every p50/p95/p99 of the hourly buckets of pp_trends within 1%');

done_testing();
