# test/t/011_mixed_load.pl -- sixteen clients at once for PP_MIXED_SECONDS
# (default 20; docs/reliability.md reports a 60-second run): ten ingest,
# the others read the report, trends and comparisons, reset and rebuild the
# statistics, purge old profiles, take snapshots and check alerts, and
# delete recent rows.
#
# Afterwards: no pgbench client saw an error (the deleters retry deadlocks
# among themselves, as clients do; nothing else is retried), no server
# process crashed, the table holds exactly what was committed minus what was
# deleted or purged, and once the last rebuild has made the statistics valid
# again they equal the exact SQL over the table for several windows.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PPTest;

my $seconds = $ENV{PP_MIXED_SECONDS} // 20;

my $node = pp_start_node('mixed', conf => q{
max_connections = 60
deadlock_timeout = 100ms
});
pp_client_env($node, 'postgres');
$node->safe_psql('postgres', 'CREATE EXTENSION ppprof');
pp_install_generator($node);
pp_create_exact_nodes($node);
pp_create_stats_mismatches($node);
$node->safe_psql('postgres', q{
CREATE TABLE removed_log (id uuid PRIMARY KEY, how text NOT NULL);
CREATE TABLE purge_log (deleted bigint NOT NULL);
INSERT INTO performance_alert_rules (name, operation_type, metric, threshold, "window")
VALUES ('llm p95', 'llm_generation', 'p95', 1500, '5 minutes');
SELECT pp_capture_baseline('start', '1 hour');
});

my $tmp = PostgreSQL::Test::Utils::tempdir;
sub script
{
	my ($name, $text) = @_;
	PostgreSQL::Test::Utils::append_to_file("$tmp/$name.sql", $text);
	return "$tmp/$name.sql";
}

# Two recent profiles and one three hours old (for the purger) per run.
my $writer = script('writer', q{
\set i random(1, 1000000)
BEGIN;
INSERT INTO performance_profiles (query_id, profile_data) SELECT 'w', ppgen.profile(:i);
SELECT pp_ingest(ppgen.profile(:i + 1), 'w');
INSERT INTO performance_profiles (query_id, profile_data, created_at)
SELECT 'old', ppgen.profile(:i + 2), now() - interval '3 hours';
COMMIT;
});
my $reporter = script('reporter', q{
SELECT pp_optimization_report('1 hour') IS NOT NULL;
SELECT count(*) FROM pp_bottlenecks('4 hours');
SELECT count(*) FROM pp_trends('6 hours', '1 hour');
SELECT count(*) FROM pp_trend_summary('6 hours');
SELECT count(*) FROM pp_compare(tstzrange(now() - interval '4 hours', now() - interval '2 hours'),
                                tstzrange(now() - interval '1 hour', now()));
});
my $resetter = script('resetter', q{
SELECT pp_reset();
SELECT pg_sleep(0.2);
SELECT pp_rebuild();
SELECT pg_sleep(0.5);
});
# pp_purge of the profiles over two hours old; what it deleted is logged
# through a statement-level count (the rows themselves are gone)
my $purger = script('purger', q{
INSERT INTO purge_log SELECT deleted FROM pp_purge('2 hours', 50) WHERE table_name = 'performance_profiles';
SELECT pg_sleep(0.3);
});
my $operator = script('operator', q{
SELECT count(*) FROM pp_snapshot();
SELECT count(*) FROM pp_check_alerts();
SELECT count(*) FROM pp_baseline_check('start', '10 minutes');
SELECT pp_detect_bottlenecks('10 minutes');
SELECT pg_sleep(0.2);
});
my $deleter = script('deleter', q{
\set k random(0, 20)
WITH d AS (
  DELETE FROM performance_profiles
   WHERE id = (SELECT id FROM performance_profiles WHERE query_id = 'w'
                ORDER BY created_at DESC LIMIT 1 OFFSET :k)
  RETURNING id)
INSERT INTO removed_log SELECT id, 'deleted' FROM d;
});

sub start_pgbench
{
	my ($name, @opts) = @_;
	my $h = pp_start_pgbench(@opts, '-T', $seconds, 'postgres');
	$h->{name} = $name;
	return $h;
}

my @bench = (
	start_pgbench('writers', '-c', 10, '-j', 2, '-f', $writer),
	start_pgbench('reporters', '-c', 2, '-j', 1, '-f', $reporter),
	start_pgbench('resetter', '-c', 1, '-f', $resetter),
	start_pgbench('purger', '-c', 1, '-f', $purger),
	start_pgbench('operator', '-c', 1, '-f', $operator),
	start_pgbench('deleter', '-c', 1, '--max-tries', 5, '-f', $deleter));
is(scalar @bench, 6, 'sixteen clients in six pgbench runs');

my %runs;
for my $h (@bench)
{
	my $ok = $h->{run}->finish;
	ok($ok, "$h->{name}: pgbench exits 0") or diag("$h->{out}\n$h->{err}");
	like($h->{out}, qr/number of failed transactions: 0 /, "$h->{name}: no failed transaction");
	($runs{ $h->{name} }) = $h->{out} =~ /number of transactions actually processed: (\d+)/;
	cmp_ok($runs{ $h->{name} } // 0, '>', 0, "$h->{name}: ran");
}
note(join(', ', map { "$_ $runs{$_}" } sort keys %runs) . " script runs in $seconds s");

# The table is what was committed: 3 profiles per writer run, minus the
# deleted and the purged ones.
my ($rows, $deleted, $purged) = split /\|/, $node->safe_psql('postgres', q{
	SELECT (SELECT count(*) FROM performance_profiles) || '|' ||
	       (SELECT count(*) FROM removed_log) || '|' ||
	       (SELECT coalesce(sum(deleted), 0) FROM purge_log)});
cmp_ok($purged, '>', 0, "pp_purge deleted old profiles ($purged)");
cmp_ok($deleted, '>', 0, "the deleter deleted recent profiles ($deleted)");
is($rows + $deleted + $purged, 3 * $runs{writers},
	'table rows + deleted + purged = committed profiles');

# The last pp_reset may have left the statistics invalid: the rebuild that
# the next read starts makes them valid again.
$node->safe_psql('postgres', 'SELECT count(*) FROM pp_operation_stats()');
pp_poll_valid($node, 'after the workload');
for my $w ('1 hour', '4 hours', '1 day')
{
	pp_no_mismatches($node, $w,
		"pp_operation_stats('$w') equals the table after the mixed workload");
}
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM (SELECT rule, operation FROM performance_alerts WHERE status = 'firing'
	                       GROUP BY 1, 2 HAVING count(*) > 1) d}),
	'0', 'at most one open alert per rule and operation');

pp_log_lacks($node, qr/PANIC|TRAP:|terminated by signal|server process .* exited with exit code [^0]/,
	'no crash and no failed server process in the log');

$node->stop;
done_testing();
