# test/t/025_crash_rollups.pl -- after a crash, the statistics are rebuilt
# from the rollups and the rows they lack.
#
# Three days of generated profiles are rolled up; then rows change in
# minutes already rolled up (late inserts, deletes, moves: marked), and new
# rows arrive after the last rollup.  The postmaster and every process of
# the node are killed with SIGKILL, so no statistics file is written.  After
# the restart the first read starts the background rebuild, which must:
#
#  - load rollups and read only a small part of the table (its log line
#    says how many of each);
#  - make pp_operation_stats equal plain SQL over the table (calls, errors,
#    averages, totals, first and last seen) in three windows, with
#    p50/p95/p99 within 1% of percentile_disc;
#  - make pp_path_stats and pp_dimension_stats equal the table's, answered
#    from shared memory (no dimension window left to the table);
#  - answer exactly as a rebuild that reads every row
#    (ppprof.rebuild_from_rollups = off): the same counts and the same
#    sketch bins, so the same percentiles.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PPTest;
use Time::HiRes qw(usleep);

# rollups only when the test writes them
my $node = pp_start_node('crash_rollups', conf => q{ppprof.rollup_worker = off});
pp_client_env($node, 'postgres');

$node->safe_psql('postgres', 'CREATE EXTENSION ppprof');
pp_install_generator($node);
pp_create_exact_nodes($node);

my @windows = ('1 hour', '1 day', '3 days');

# 6,000 profiles over the three days up to now, rolled up
$node->safe_psql('postgres', q{SELECT ppgen.load(6000, '3 days')});
cmp_ok($node->safe_psql('postgres', 'SELECT pp_rollup()'), '>', 1000, 'pp_rollup() wrote the rollups');

# changes in minutes already rolled up (each marks its minute; before the
# minute region, where minute rollups are no longer kept, the rebuild reads
# the whole hour of a marked minute), and rows newer than the last rollup
$node->safe_psql('postgres', q{
INSERT INTO performance_profiles (query_id, profile_data, created_at)
SELECT 'late-' || g, ppgen.profile(100000 + g), now() - interval '2 days' - g * interval '7 minutes'
  FROM generate_series(1, 30) g;
INSERT INTO performance_profiles (query_id, profile_data, created_at)
SELECT 'late-recent-' || g, ppgen.profile(200000 + g), now() - interval '5 hours' - g * interval '3 minutes'
  FROM generate_series(1, 30) g;
DELETE FROM performance_profiles WHERE query_id IN (SELECT 'q-' || g FROM generate_series(1000, 1100, 5) g);
UPDATE performance_profiles SET created_at = created_at - interval '90 minutes'
 WHERE query_id IN (SELECT 'q-' || g FROM generate_series(2500, 2560, 3) g);
INSERT INTO performance_profiles (query_id, profile_data)
SELECT 'new-' || g, ppgen.profile(300000 + g) FROM generate_series(1, 40) g;
});
cmp_ok($node->safe_psql('postgres', 'SELECT count(DISTINCT bucket_start) FROM performance_rollup_stale'),
	'>=', 40, 'the changed minutes are marked');
my $total = $node->safe_psql('postgres', 'SELECT count(*) FROM performance_profiles');
pp_check_exact($node, \@windows, 'before the crash');

# kill the postmaster and every process of the node (no statistics file)
my $pm_pid = (split /\n/, slurp_file($node->data_dir . '/postmaster.pid'))[0];
my @children;
for my $stat (glob '/proc/[0-9]*/stat')
{
	open my $sf, '<', $stat or next;
	my $line = <$sf>;
	close $sf;
	next unless defined $line && $line =~ /^(\d+) \(.*\) \S+ (\d+) /;
	push @children, $1 if $2 == $pm_pid;
}
$node->kill9;
kill 'KILL', @children;
for my $pid ($pm_pid, @children)
{
	usleep(50_000) while kill(0, $pid);
}
ok(!-e $node->data_dir . '/pg_stat/ppprof.stat', 'no statistics file written');

my $offset = -s $node->logfile;
$node->start;
is(pp_info_field($node, 'statistics_file'), 'none: no statistics file', 'no statistics file loaded');
is(pp_info_field($node, 'statistics'), 'invalid: answers from the table until pp_rebuild()',
	'statistics invalid after the crash');

# the first read starts the background rebuild
$node->safe_psql('postgres', q{SELECT count(*) FROM pp_operation_stats('1 day')});
pp_poll_valid($node, 'after the crash');
ok($node->wait_for_log(qr/ppprof rebuilt the statistics of database \d+ from \d+ profiles and \d+ rollups/,
		$offset), 'the rebuild logged what it read');
my ($read, $loaded) = (slurp_file($node->logfile, $offset) =~
	  /ppprof rebuilt the statistics of database \d+ from (\d+) profiles and (\d+) rollups/);
cmp_ok($loaded, '>', 1000, "the rebuild loaded $loaded rollups");
cmp_ok($read, '<', $total / 4, "the rebuild read $read of the $total profiles from the table");
cmp_ok($read, '>=', 40, 'the rows newer than the last rollup were read');

pp_check_exact($node, \@windows, 'rebuilt from the rollups');

# percentiles within 1% of percentile_disc, over the three days
my $pct_wrong = $node->safe_psql('postgres', q{
WITH e AS (SELECT operation,
                  percentile_disc(0.5) WITHIN GROUP (ORDER BY d) AS p50,
                  percentile_disc(0.95) WITHIN GROUP (ORDER BY d) AS p95,
                  percentile_disc(0.99) WITHIN GROUP (ORDER BY d) AS p99
             FROM exact_nodes WHERE created_at >= now() - interval '3 days' AND created_at <= now()
            GROUP BY 1)
SELECT count(e.operation) || ' ' || count(*) FILTER (
         WHERE s.operation IS NULL
            OR abs(s.p50_ms - e.p50) > 0.01 * e.p50 OR abs(s.p95_ms - e.p95) > 0.01 * e.p95
            OR abs(s.p99_ms - e.p99) > 0.01 * e.p99)
  FROM e LEFT JOIN pp_operation_stats('3 days') s USING (operation)});
my ($n_ops, $n_wrong) = split / /, $pct_wrong;
cmp_ok($n_ops, '>=', 5, 'the three days hold the operations');
is($n_wrong, '0', 'p50, p95 and p99 within 1% of percentile_disc');

# call paths and dimensions, from shared memory
is(pp_info_field($node, 'paths_incomplete_before'), '', 'every call path loaded');
is(pp_info_field($node, 'dimensions_incomplete_before'), '', 'every dimension value loaded');
my ($n_paths, $paths_wrong) = split /\|/, $node->safe_psql('postgres', q{
WITH RECURSIVE nodes AS (
  SELECT ARRAY[profile_data->>'operation_name'] AS path, profile_data AS n FROM performance_profiles
   WHERE created_at >= now() - interval '1 day' AND created_at <= now()
  UNION ALL
  SELECT nodes.path || (c->>'operation_name'), c FROM nodes,
         jsonb_array_elements(CASE WHEN jsonb_typeof(n->'children') = 'array' THEN n->'children' ELSE '[]' END) c),
e AS (SELECT path, count(*) AS calls, count(*) FILTER (WHERE jsonb_typeof(n->'error') = 'string') AS errors,
             sum(coalesce((n->>'duration_ms')::float8,
                          ((n->>'end_time')::float8 - (n->>'start_time')::float8) * 1000)) AS total
        FROM nodes GROUP BY path)
SELECT count(e.path), count(*) FILTER (WHERE s.path_array IS NULL OR e.path IS NULL OR s.calls <> e.calls
                                       OR s.errors <> e.errors OR abs(s.total_ms - e.total) > 1e-6 * greatest(1, e.total))
  FROM e FULL JOIN pp_path_stats('1 day') s ON s.path_array = e.path});
cmp_ok($n_paths, '>', 5, 'the day has call paths');
is($paths_wrong, '0', 'pp_path_stats equals the table');
my ($n_values, $dims_wrong) = split /\|/, $node->safe_psql('postgres', q{
WITH RECURSIVE nodes AS (
  SELECT profile_data->'metadata'->>'model' AS v, profile_data AS n FROM performance_profiles
   WHERE created_at >= now() - interval '1 day' AND created_at <= now()
  UNION ALL
  SELECT coalesce(c->'metadata'->>'model', nodes.v), c FROM nodes,
         jsonb_array_elements(CASE WHEN jsonb_typeof(n->'children') = 'array' THEN n->'children' ELSE '[]' END) c),
e AS (SELECT n->>'operation_name' AS op, v, count(*) AS calls,
             count(*) FILTER (WHERE jsonb_typeof(n->'error') = 'string') AS errors,
             sum(coalesce((n->>'duration_ms')::float8,
                          ((n->>'end_time')::float8 - (n->>'start_time')::float8) * 1000)) AS total
        FROM nodes GROUP BY 1, 2)
SELECT count(e.op), count(*) FILTER (WHERE s.operation IS NULL OR e.op IS NULL OR s.calls <> e.calls
                                     OR s.errors <> e.errors OR abs(s.total_ms - e.total) > 1e-6 * greatest(1, e.total))
  FROM e FULL JOIN pp_dimension_stats('1 day', 'model') s
       ON s.operation = e.op AND s.dimension_value IS NOT DISTINCT FROM e.v});
cmp_ok($n_values, '>=', 10, 'the day has (operation, model) rows');
is($dims_wrong, '0', 'pp_dimension_stats equals the table');

# the same answers as a rebuild that reads every row: a fixed range, so
# that both read the same rows (sums, added in another order, were
# compared with the table above)
my $range = $node->safe_psql('postgres',
	q{SELECT tstzrange(now() - interval '3 days', now() - interval '1 minute')});
my $answers = qq{
SELECT string_agg(concat_ws(' ', coalesce(operation, '(profiles)'), calls, errors, min_ms, max_ms,
                            p50_ms, p95_ms, p99_ms, first_seen, last_seen, input_tokens, output_tokens),
                  E'\\n' ORDER BY operation NULLS FIRST)
  FROM pp_range_stats('$range')
 UNION ALL
SELECT string_agg(concat_ws(' ', operation, dimension_value, calls, p50_ms, p99_ms), E'\\n'
                  ORDER BY operation, dimension_value)
  FROM pp_range_dimension_stats('$range', 'model')};
my $from_rollups = $node->safe_psql('postgres', $answers);
is($node->safe_psql('postgres', 'SET ppprof.rebuild_from_rollups = off; SELECT pp_rebuild()'),
	$total, 'a rebuild without the rollups reads every profile');
my $from_rows = $node->safe_psql('postgres', $answers);
cmp_ok(length($from_rows), '>', 500, 'the range has answers');
is($from_rollups, $from_rows, 'the rollups give the answers of a rebuild that reads every row');

$node->stop;
done_testing();
