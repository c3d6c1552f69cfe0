# test/t/013_minute_slots.pl -- ppprof.minute_sketch_slots: a minute of one
# operation whose values spread over more 1%-wide bins than a minute sketch
# keeps loses its low quantiles (the lowest bins are merged); with more slots
# it keeps every quantile within 1%.  Changing the setting rejects the
# statistics file written with the old one, and the rebuild from the table
# uses the new sketches.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PPTest;

my $node = pp_start_node('minute_slots');
$node->safe_psql('postgres', 'CREATE EXTENSION ppprof');
is($node->safe_psql('postgres', 'SHOW ppprof.minute_sketch_slots'), '128', 'the default is 128 slots');

# 1,500 nodes of one operation in one minute (one statement, one now()):
# lognormal durations around 50 ms with a log-space deviation of 1.25
$node->safe_psql('postgres', q{
SELECT setseed(0.25);
INSERT INTO performance_profiles (query_id, profile_data)
SELECT 'w' || g, jsonb_build_object('operation_name', 'wide', 'duration_ms',
         round((50 * exp(1.25 * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random())))::numeric, 3))
  FROM generate_series(1, 1500) g;
});
my $bins = $node->safe_psql('postgres', q{
	SELECT count(DISTINCT ceil(ln(total_duration_ms) / ln(1.005 / 0.995))) FROM performance_profiles});
cmp_ok($bins, '>', 128, "the minute's values fall into more than 128 bins ($bins)");
cmp_ok($bins, '<=', 512, '... and at most 512');

# relative error of p50 and p99 of pp_operation_stats against the exact values
my $errors = q{
	WITH e AS (SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY total_duration_ms) AS p50,
	                  percentile_disc(0.99) WITHIN GROUP (ORDER BY total_duration_ms) AS p99
	             FROM performance_profiles),
	     s AS (SELECT p50_ms, p99_ms FROM pp_operation_stats('1 hour') WHERE operation = 'wide')
	SELECT round((abs(s.p50_ms - e.p50) / e.p50 * 100)::numeric, 2) || ' ' ||
	       round((abs(s.p99_ms - e.p99) / e.p99 * 100)::numeric, 2)
	  FROM e, s};
is(pp_info_field($node, 'statistics'), 'valid', 'statistics valid');
my ($p50, $p99) = split / /, $node->safe_psql('postgres', $errors);
cmp_ok($p50, '>', 5, "128 slots: p50 is off by more than 5% ($p50%): it fell among merged bins");
cmp_ok($p99, '<=', 1, "128 slots: p99 keeps its accuracy ($p99%)");
my $shmem_128 = pp_info_field($node, 'shared_memory_bytes');

$node->stop;
$node->append_conf('postgresql.conf', 'ppprof.minute_sketch_slots = 512');
$node->start;
is($node->safe_psql('postgres', 'SHOW ppprof.minute_sketch_slots'), '512', 'now 512 slots');
like(pp_info_field($node, 'statistics_file'), qr/written with other settings/,
	'the statistics file of 128-slot sketches is rejected');
cmp_ok(pp_info_field($node, 'shared_memory_bytes'), '>', $shmem_128,
	'the minute buckets take more shared memory');
# the first read answers from the table and starts the rebuild
($p50, $p99) = split / /, $node->safe_psql('postgres', $errors);
pp_poll_valid($node, '512 slots');
($p50, $p99) = split / /, $node->safe_psql('postgres', $errors);
cmp_ok($p50, '<=', 1, "512 slots: p50 within 1% ($p50%)");
cmp_ok($p99, '<=', 1, "512 slots: p99 within 1% ($p99%)");

# and a clean restart with the same setting loads the file back
$node->restart;
like(pp_info_field($node, 'statistics_file'), qr/^loaded: 2 operations/, 'same setting: the file is loaded (the operation and the profiles)');
is($node->safe_psql('postgres', $errors), "$p50 $p99", 'same setting: the same percentiles');

done_testing();
