# test/t/006_crash.pl -- the live statistics after a crash.
#
# Four pgbench clients ingest generated profiles (a quarter of their
# transactions rolled back) while a dedicated session is in the middle of a
# long INSERT ... SELECT transaction.  Then:
#
#  1. that session's backend is killed with SIGKILL: the postmaster
#     reinitializes shared memory (restart_after_crash);
#  2. later, the postmaster and every process of the node are killed with
#     SIGKILL, and the node is started again (crash recovery).
#
# Each time: the aborted transaction's rows are absent; no statistics file
# is loaded and the statistics are invalid; answers come from the table
# and are exact; the first read starts the background rebuild, which runs
# while pgbench ingests again; once it is valid, pp_operation_stats equals
# plain SQL over the table -- every committed profile counted exactly once --
# and so do pp_path_stats, answered from the rebuilt path entries, and
# pp_dimension_stats by model, from the rebuilt dimension entries.
use strict;
use warnings;

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PPTest;
use Time::HiRes qw(usleep);

my $node = pp_start_node('crash', conf => q{
restart_after_crash = on
max_connections = 30
});
pp_client_env($node, 'postgres');

$node->safe_psql('postgres', 'CREATE EXTENSION ppprof');
pp_install_generator($node);

# The exact answer from the table: every node, flattened.
pp_create_exact_nodes($node);

my @windows = ('1 hour', '1 day');

# pp_path_stats('1 day') against the table walked in SQL, in one
# statement: the paths, and how many differ in calls, errors or total time
my $path_check = q{
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
  FROM e FULL JOIN pp_path_stats('1 day') s ON s.path_array = e.path};

# pp_dimension_stats('1 day', 'model') against the table: the value is the
# node's metadata model (the generator's only usage key), else its nearest
# ancestor's
my $dim_check = q{
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
       ON s.operation = e.op AND s.dimension_value IS NOT DISTINCT FROM e.v};

sub count_rows
{
	my ($where) = @_;
	return $node->safe_psql('postgres', "SELECT count(*) FROM performance_profiles WHERE $where");
}

# The pgbench script: two generated profiles per transaction, created in
# the last two hours; one transaction in four rolls back.
my $tmp = PostgreSQL::Test::Utils::tempdir;
my $script = "$tmp/ingest.sql";
append_to_file($script, q{
\set i random(1, 1000000000)
\set r random(1, 4)
BEGIN;
INSERT INTO performance_profiles (query_id, profile_data, created_at)
VALUES ('c-' || :i, ppgen.profile(:i), now() - random() * interval '2 hours'),
       ('c-' || (:i + 1), ppgen.profile(:i + 1), now() - random() * interval '2 hours');
\if :r = 1
ROLLBACK;
\else
COMMIT;
\endif
});

sub start_pgbench
{
	my (@args) = @_;
	return pp_start_pgbench('-c', '4', '-j', '2', '-f', $script, @args);
}

# A session in the middle of a long transaction: 200 profiles inserted,
# then an INSERT ... SELECT that takes a row every 0.2 s.  Returns its
# IPC::Run handle and its backend pid, once the second INSERT runs.
sub start_long_transaction
{
	my ($tag) = @_;
	my %h = (out => '', err => '');
	my $sql = qq{
BEGIN;
INSERT INTO performance_profiles (query_id, profile_data, created_at)
SELECT '$tag-' || g, ppgen.profile(g), now() - g * interval '10 seconds' FROM generate_series(1, 200) g;
INSERT INTO performance_profiles (query_id, profile_data, created_at)
SELECT '$tag-slow-' || g, ppgen.profile(g), now() FROM generate_series(1, 1000) g WHERE pg_sleep(0.2) IS NOT NULL;
COMMIT;
};
	# a file, not stdin: IPC::Run feeds a scalar only when pumped
	my $file = "$tmp/$tag.sql";
	open my $sf, '>', $file or die;
	print $sf $sql;
	close $sf;
	$h{run} = IPC::Run::start(
		[ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', "application_name=$tag", '-f', $file ],
		'>', \$h{out}, '2>', \$h{err});
	ok($node->poll_query_until('postgres', qq{
		SELECT count(*) = 1 FROM pg_stat_activity
		 WHERE application_name = '$tag' AND state = 'active' AND query LIKE '%$tag-slow-%'}),
		"$tag: the long transaction is in its second INSERT");
	$h{pid} = $node->safe_psql('postgres',
		"SELECT pid FROM pg_stat_activity WHERE application_name = '$tag'");
	like($h{pid}, qr/^\d+$/, "$tag: backend pid known");
	return \%h;
}

# Wait until pgbench has committed at least $n more profiles.
sub wait_for_ingest
{
	my ($n) = @_;
	my $start = count_rows(q{query_id LIKE 'c-%'});
	ok($node->poll_query_until('postgres',
			"SELECT count(*) >= $start + $n FROM performance_profiles WHERE query_id LIKE 'c-%'"),
		"pgbench committed $n more profiles");
	return;
}

# After a crash: the aborted rows are gone, nothing was loaded, the table
# answers, the first read starts the rebuild, pgbench ingests while it
# runs, and the rebuilt statistics are exact.
sub check_after_crash
{
	my ($how, $tag) = @_;

	is(count_rows("query_id LIKE '$tag-%'"), '0', "$how: the killed transaction's rows are absent");
	cmp_ok(count_rows(q{query_id LIKE 'c-%'}), '>', 0, "$how: pgbench's committed rows are there");
	is(pp_info_field($node, 'statistics_file'), 'none: no statistics file', "$how: no statistics file loaded");
	is(pp_info_field($node, 'statistics'), 'invalid: answers from the table until pp_rebuild()',
		"$how: statistics invalid before any read");
	pp_check_exact($node, \@windows, "$how, from the table");

	my $bench = start_pgbench('-t', '40');
	# reads while pgbench runs start the rebuild (once) and get the table's answer
	for (1 .. 5)
	{
		$node->safe_psql('postgres', q{SELECT count(*) FROM pp_operation_stats('1 day')});
		usleep(100_000);
	}
	ok($bench->{run}->finish, "$how: pgbench during the rebuild succeeds") or diag($bench->{err});
	like($bench->{out}, qr/number of transactions actually processed: 160\/160/,
		"$how: every pgbench transaction ran");
	pp_poll_valid($node, $how);
	pp_check_exact($node, \@windows, "$how, rebuilt");
	is(pp_info_field($node, 'paths_incomplete_before'), '', "$how: every path rebuilt into shared memory");
	my ($n_paths, $wrong) = split /\|/, $node->safe_psql('postgres', $path_check);
	cmp_ok($n_paths, '>', 5, "$how: the window has call paths");
	is($wrong, '0', "$how, rebuilt: pp_path_stats equals the table's paths");
	is(pp_info_field($node, 'dimensions_incomplete_before'), '',
		"$how: every dimension entry rebuilt into shared memory");
	cmp_ok(pp_info_field($node, 'dimension_entries'), '>', 10, "$how: dimension entries rebuilt");
	my ($n_values, $dim_wrong) = split /\|/, $node->safe_psql('postgres', $dim_check);
	cmp_ok($n_values, '>=', 10, "$how: the window has (operation, model) rows");
	is($dim_wrong, '0', "$how, rebuilt: pp_dimension_stats equals the table's");
	is(pp_info_field($node, 'statistics'), 'valid', "$how: still valid after reading");
	return;
}

# some history first
$node->safe_psql('postgres', q{SELECT ppgen.load(300, '3 hours')});
pp_check_exact($node, \@windows, 'before any crash');

#
# 1. a backend killed with SIGKILL
#
my $bench = start_pgbench('-T', '60');
wait_for_ingest(20);
my $long = start_long_transaction('long1');
wait_for_ingest(20);

my $offset = -s $node->logfile;
is(kill('KILL', $long->{pid}), 1, 'SIGKILL sent to the backend of the long transaction');
ok($node->wait_for_log(qr/all server processes terminated; reinitializing/, $offset),
	'the postmaster reinitializes');
ok($node->poll_query_until('postgres', 'SELECT true'), 'the server accepts connections again');
$long->{run}->finish;
$bench->{run}->finish;
like($long->{err}, qr/server closed the connection unexpectedly|terminating connection/,
	'the long transaction lost its connection');
note("pgbench: $bench->{err}");
check_after_crash('backend killed', 'long1');

#
# 2. the postmaster and every process of the node killed with SIGKILL
#
$bench = start_pgbench('-T', '60');
wait_for_ingest(20);
$long = start_long_transaction('long2');
wait_for_ingest(20);

# the postmaster's children, found before the postmaster dies
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
cmp_ok(scalar(@children), '>=', 6, 'the postmaster has its children (backends, pgbench, workers)');
$node->kill9;
kill 'KILL', @children;
# wait until every one of them is gone
for my $pid ($pm_pid, @children)
{
	usleep(50_000) while kill(0, $pid);
}
ok(1, 'every process of the node is gone');
$long->{run}->finish;
$bench->{run}->finish;
ok(!-e $node->data_dir . '/pg_stat/ppprof.stat', 'no statistics file written');

$node->start;
check_after_crash('postmaster killed', 'long2');

$node->stop;
done_testing();
