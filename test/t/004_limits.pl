# test/t/004_limits.pl -- tiny shared memory pools: far more operations and
# time buckets than fit.  Every INSERT still succeeds, pp_info counts the
# evictions and dropped observations, and pp_operation_stats stays equal to
# the exact SQL over the table for every window (windows the shared memory
# cannot answer exactly are read from the table).
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PPTest;

# the minimums of src/guc.c
my $node = pp_start_node('limits', conf => q{
ppprof.max_operations = 16
ppprof.max_minute_buckets = 100
ppprof.max_hour_buckets = 10
});

$node->safe_psql('postgres', 'CREATE EXTENSION ppprof');
is($node->safe_psql('postgres', q{
	SELECT (pp_info()->>'operations_max') || ' ' || (pp_info()->>'minute_buckets_max') || ' '
	       || (pp_info()->>'hour_buckets_max')}),
	'16 100 10', 'the pools are as configured');

pp_create_exact_nodes($node);
pp_create_stats_mismatches($node);
$node->safe_psql('postgres', q{
-- profile g: a root and three children named op_000 .. op_199, some failed
CREATE FUNCTION prof(g int) RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
  SELECT jsonb_build_object(
    'operation_name', 'req_' || (g % 5), 'duration_ms', 1000 + (g % 113) * 1.25,
    'children', jsonb_build_array(
      jsonb_build_object('operation_name', format('op_%s', lpad((g % 200)::text, 3, '0')),
                         'duration_ms', 10 + (g % 97) * 0.5),
      jsonb_build_object('operation_name', format('op_%s', lpad(((g * 7 + 3) % 200)::text, 3, '0')),
                         'duration_ms', 20 + (g % 89) * 0.75,
                         'error', CASE WHEN g % 13 = 0 THEN 'timeout' END),
      jsonb_build_object('operation_name', format('op_%s', lpad(((g * 31 + 11) % 200)::text, 3, '0')),
                         'duration_ms', 5 + (g % 71) * 2.5)))
$$;
});

# a batch of profiles per transaction, each with its own created_at; returns
# whether psql succeeded
my $failed_inserts = 0;
sub insert_batch
{
	my ($from, $to, $created_at) = @_;
	my ($rc, $out, $err) = $node->psql('postgres', qq{
		INSERT INTO performance_profiles (query_id, profile_data, created_at)
		SELECT 'p' || g, prof(g), $created_at FROM generate_series($from, $to) g});
	if ($rc != 0)
	{
		$failed_inserts++;
		diag("INSERT $from..$to failed: $err");
	}
	return;
}

# the last 4 hours, minute by minute, 20 transactions
for my $b (0 .. 19)
{
	insert_batch($b * 100 + 1, $b * 100 + 100, q{now() - (g % 240) * interval '1 minute' - interval '5 seconds'});
}
# back-filled: the last 3 days, hour by hour, oldest first and newest first
for my $b (0 .. 4)
{
	insert_batch(10000 + $b * 100 + 1, 10000 + $b * 100 + 100,
		q{now() - (g % 72) * interval '1 hour' - interval '7 minutes'});
}
for my $b (reverse 0 .. 4)
{
	insert_batch(20000 + $b * 100 + 1, 20000 + $b * 100 + 100,
		q{now() - (72 - g % 72) * interval '1 hour' + interval '13 minutes'});
}
# beyond the horizon (7 days)
insert_batch(30001, 30050, q{now() - interval '9 days' - g * interval '1 minute'});
# the last minutes, one row per transaction, through pp_ingest too
for my $g (40001 .. 40040)
{
	my ($rc, $out, $err) = $node->psql('postgres', $g % 2
		? "SELECT pp_ingest(prof($g), 'ingest-$g') IS NOT NULL"
		: "INSERT INTO performance_profiles (query_id, profile_data) VALUES ('p$g', prof($g))");
	if ($rc != 0)
	{
		$failed_inserts++;
		diag("row $g failed: $err");
	}
}
is($failed_inserts, 0, 'no INSERT failed');
is($node->safe_psql('postgres', 'SELECT count(*) FROM performance_profiles'), '3090',
	'every profile is in the table');
is($node->safe_psql('postgres', 'SELECT count(DISTINCT operation) FROM exact_nodes'), '205',
	'205 distinct operations in the table');

my $info = sub { pp_info_field($node, $_[0]) };
my ($evicted, $dropped) = ($info->('operations_evicted'), $info->('observations_dropped'));
note("pp_info: " . $node->safe_psql('postgres', 'SELECT pp_info()'));
cmp_ok($evicted, '>', 0, "operations were evicted ($evicted)");
cmp_ok($evicted + $dropped, '>', 0, "evictions and dropped observations are counted ($evicted, $dropped)");
cmp_ok($info->('operations_all_databases'), '<=', 16, 'no more operations than ppprof.max_operations');
cmp_ok($info->('minute_buckets'), '<=', 100, 'no more minute buckets than ppprof.max_minute_buckets');
cmp_ok($info->('hour_buckets'), '<=', 10, 'no more hour buckets than ppprof.max_hour_buckets');
is($info->('statistics'), 'valid', 'the statistics are still valid (evictions are not errors)');

my @windows = ('1 minute', '10 minutes', '1 hour', '2 hours', '1 day', '2 days', '10 days');
sub check_windows
{
	my ($what) = @_;
	for my $w (@windows)
	{
		pp_no_mismatches($node, $w, "$what: pp_operation_stats('$w') equals the table");
	}
	return;
}
check_windows('after the inserts');
cmp_ok($node->safe_psql('postgres', q{SELECT count(*) FROM pp_operation_stats('10 minutes')}),
	'>', 16, 'the ten-minute window has more operations than the pool holds');

# DELETE and UPDATE of rows whose operations were evicted or dropped
$node->safe_psql('postgres', q{
	DELETE FROM performance_profiles WHERE query_id IN ('p5', 'p17', 'p10033', 'p20044', 'p30001', 'p40002');
	UPDATE performance_profiles SET profile_data = prof(777) WHERE query_id IN ('p8', 'p40004', 'p10090');
	UPDATE performance_profiles SET created_at = created_at - interval '3 hours' WHERE query_id IN ('p9', 'p40006');
});
$node->safe_psql('postgres', q{
	DELETE FROM performance_profiles WHERE query_id = 'p40008';
	INSERT INTO performance_profiles (query_id, profile_data) VALUES ('late', prof(123456));
});
check_windows('after DELETE and UPDATE');

# after a rebuild into the same tiny pools, still exact: one that loads
# the rollups (memory pressure gives way as rows do), and one that reads
# every row inside the horizon (which the pressure may have moved to the
# last hour or so: then there may be no rollup left to load)
cmp_ok($node->safe_psql('postgres', 'SELECT pp_rollup()'), '>', 0, 'pp_rollup() wrote rollups');
cmp_ok($node->safe_psql('postgres', 'SELECT pp_rebuild()'), '<=',
	$node->safe_psql('postgres', q{SELECT count(*) FROM performance_profiles
		WHERE created_at >= (pp_info()->>'hour_buckets_from')::timestamptz}),
	'pp_rebuild() from the rollups reads no row outside the horizon');
check_windows('after pp_rebuild from the rollups');
is($node->safe_psql('postgres', 'SET ppprof.rebuild_from_rollups = off; SELECT pp_rebuild()'),
	$node->safe_psql('postgres', q{SELECT count(*) FROM performance_profiles
		WHERE created_at >= (pp_info()->>'hour_buckets_from')::timestamptz}),
	'pp_rebuild() without the rollups reads every row inside the horizon');
check_windows('after pp_rebuild');

is($node->safe_psql('postgres', 'SELECT 1'), '1', 'the server is still up');
pp_log_lacks($node, qr/PANIC|TRAP:|terminated by signal|segmentation fault|server process .* was terminated/i,
	'no PANIC, failed assertion or crash in the server log');
$node->stop;
done_testing();
