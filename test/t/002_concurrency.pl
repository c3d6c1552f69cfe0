# test/t/002_concurrency.pl -- the live statistics stay equal to the table
# under concurrent writers, rollbacks, savepoints, DELETEs, UPDATEs and
# readers.
#
# Eight pgbench clients insert generated profiles (INSERT and pp_ingest,
# with a savepoint rolled back and a whole transaction rolled back in every
# script run); at the same time other pgbench clients delete and update the
# newest rows (logging what they delete), move rows back in time, and call
# pp_operation_stats and pp_info.  When everything has finished, the
# statistics must still be valid and pp_operation_stats must equal what
# plain SQL computes from the table, for several windows.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PPTest;

my $clients = 8;
my $per_client = 300;

my $node = pp_start_node('concurrency', conf => q{
max_connections = 50
});
pp_client_env($node, 'postgres');

$node->safe_psql('postgres', 'CREATE EXTENSION ppprof');
pp_install_generator($node);

# The exact answer, from the table: every node, flattened.  Returns one line
# per operation whose calls, errors or average differ.
pp_create_exact_nodes($node);
pp_create_stats_mismatches($node);
$node->safe_psql('postgres', q{
CREATE TABLE deleted_log (id uuid PRIMARY KEY, query_id text NOT NULL);
});

is(pp_info_field($node, 'statistics'), 'valid',
	'statistics are valid after CREATE EXTENSION');

#
# Workloads
#
my $tmp = PostgreSQL::Test::Utils::tempdir;
sub script
{
	my ($name, $text) = @_;
	PostgreSQL::Test::Utils::append_to_file("$tmp/$name.sql", $text);
	return "$tmp/$name.sql";
}

# Per run: two committed profiles (INSERT and pp_ingest), one profile in a
# savepoint rolled back, one whole transaction rolled back, one profile in a
# savepoint released (committed) -- three committed profiles in all.
my $writer = script('writer', q{
\set i random(1, 100000)
BEGIN;
INSERT INTO performance_profiles (query_id, profile_data) SELECT 'q', ppgen.profile(:i);
SAVEPOINT s1;
INSERT INTO performance_profiles (query_id, profile_data) SELECT 'savepoint-rolled-back', ppgen.profile(:i + 1);
SELECT pp_ingest(ppgen.profile(:i + 2), 'savepoint-rolled-back');
ROLLBACK TO SAVEPOINT s1;
SELECT pp_ingest(ppgen.profile(:i + 3), 'q');
SAVEPOINT s2;
INSERT INTO performance_profiles (query_id, profile_data) SELECT 'q', ppgen.profile(:i + 4);
RELEASE SAVEPOINT s2;
COMMIT;
BEGIN;
INSERT INTO performance_profiles (query_id, profile_data) SELECT 'rolled-back', ppgen.profile(:i + 5);
SELECT pp_ingest(ppgen.profile(:i + 6), 'rolled-back');
ROLLBACK;
});
my $committed_per_run = 3;

# Deletes the newest row (the one most likely to have just been committed),
# or one a little older, logging what it deleted.
my $deleter = script('deleter', q{
\set k random(0, 20)
WITH d AS (
  DELETE FROM performance_profiles
   WHERE id = (SELECT id FROM performance_profiles ORDER BY created_at DESC LIMIT 1 OFFSET :k)
  RETURNING id, query_id)
INSERT INTO deleted_log SELECT id, query_id FROM d;
});

# Replaces a recent row's profile, and moves another one 90 minutes back
# (out of the one-hour window); a transaction updating and rolling back
# counts for nothing.
my $updater = script('updater', q{
\set k random(0, 30)
\set j random(100001, 200000)
UPDATE performance_profiles SET profile_data = ppgen.profile(:j)
 WHERE id = (SELECT id FROM performance_profiles ORDER BY created_at DESC LIMIT 1 OFFSET :k);
UPDATE performance_profiles SET created_at = created_at - interval '90 minutes'
 WHERE id = (SELECT id FROM performance_profiles ORDER BY created_at DESC LIMIT 1 OFFSET :k + 5);
BEGIN;
UPDATE performance_profiles SET profile_data = ppgen.profile(:j + 1)
 WHERE id = (SELECT id FROM performance_profiles ORDER BY created_at DESC LIMIT 1);
DELETE FROM performance_profiles
 WHERE id = (SELECT id FROM performance_profiles ORDER BY created_at DESC LIMIT 1 OFFSET 1);
ROLLBACK;
});

my $reader = script('reader', q{
SELECT count(*), sum(calls) FROM pp_operation_stats('1 hour');
SELECT count(*) FROM pp_operation_stats('3 hours');
SELECT pp_info();
});

# Start a pgbench; returns a handle for finish_pgbench.
sub start_pgbench
{
	my ($name, @opts) = @_;
	my $h = pp_start_pgbench(@opts, 'postgres');
	$h->{name} = $name;
	return $h;
}

sub finish_pgbench
{
	my ($h) = @_;
	my $ok = $h->{run}->finish;
	ok($ok, "$h->{name}: pgbench exits 0") or diag("$h->{out}\n$h->{err}");
	like($h->{out}, qr/number of failed transactions: 0 /, "$h->{name}: no failed transaction")
	  if $h->{out} =~ /number of failed transactions/;
	my ($done) = $h->{out} =~ /number of transactions actually processed: (\d+)/;
	note("$h->{name}: " . ($done // '?') . " script runs");
	return $done // 0;
}

my $t_start = time;
my @bench = (start_pgbench('writers', '-c', $clients, '-j', 2, '-t', $per_client, '-f', $writer));
# The deleters and updaters start once the writers have committed rows: on
# a slow machine they could otherwise run all their transactions against an
# empty table.
ok($node->poll_query_until('postgres', 'SELECT count(*) >= 100 FROM performance_profiles'),
	'the writers committed rows');
push @bench,
	# deleters and updaters can deadlock with each other (they lock the
	# newest rows in whatever order they find them): retry, as clients do
	start_pgbench('deleters', '-c', 2, '-j', 1, '-t', 300, '--max-tries', 5, '-f', $deleter),
	start_pgbench('updaters', '-c', 2, '-j', 1, '-t', 200, '--max-tries', 5, '-f', $updater),
	start_pgbench('readers', '-c', 2, '-j', 1, '-t', 300, '-f', $reader);

# one more reader, in this process: pp_operation_stats answers while the
# writers run
my $reads = 0;
my $read_errors = 0;
my $first_invalid;
while ($bench[0]{run}->pumpable)
{
	my ($rc, $o, $e) = $node->psql('postgres',
		q{SELECT coalesce(sum(calls), 0) || ' ' || (pp_info()->>'statistics') FROM pp_operation_stats('1 hour')});
	$reads++;
	if ($rc != 0)
	{
		$read_errors++;
		diag("concurrent read failed: $e");
	}
	elsif ($o !~ /^\d+ valid$/ && !$first_invalid)
	{
		$first_invalid = "read $reads, " . (time - $t_start) . " s after the start: $o";
	}
	$bench[0]{run}->pump_nb;
	last if $reads > 2000;
}
cmp_ok($reads, '>', 0, "pp_operation_stats was called while the writers ran ($reads times)");
is($read_errors, 0, 'no concurrent read failed');
ok(!$first_invalid, 'the statistics stayed valid during the workload')
  or diag("statistics first seen not valid at $first_invalid");

my $writer_runs = finish_pgbench($bench[0]);
is($writer_runs, $clients * $per_client, 'every writer script run was processed');
finish_pgbench($_) for @bench[ 1 .. 3 ];
note('workload took ' . (time - $t_start) . ' s');

#
# The table is what the scripts committed
#
my $committed = $clients * $per_client * $committed_per_run;
my ($rows, $deleted) = split /\|/, $node->safe_psql('postgres', q{
	SELECT (SELECT count(*) FROM performance_profiles) || '|' || (SELECT count(*) FROM deleted_log)});
cmp_ok($deleted, '>', 0, "the deleters deleted rows ($deleted)");
is($rows + $deleted, $committed,
	"table rows + deleted rows = committed profiles ($committed)");
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM performance_profiles WHERE query_id <> 'q'}), '0',
	'no row of a rolled-back transaction or savepoint is in the table');
cmp_ok($node->safe_psql('postgres', q{
	SELECT count(*) FROM performance_profiles WHERE created_at < now() - interval '1 hour'}),
	'>', 0, 'some rows were moved out of the one-hour window');

#
# The statistics equal the table
#
is(pp_info_field($node, 'statistics'), 'valid',
	'statistics are still valid');
for my $w ('1 hour', '3 hours', '1 day')
{
	pp_no_mismatches($node, $w,
		"pp_operation_stats('$w'): calls, errors and avg of every operation equal the table");
}
is(pp_info_field($node, 'statistics'), 'valid',
	'statistics are valid after the comparisons');

# totals: one rag_pipeline per profile, 9 or 10 nodes per profile (embed_query
# only on a cache miss)
my $expected_nodes = $node->safe_psql('postgres', q{
	SELECT 10 * count(*) - count(*) FILTER (WHERE NOT profile_data->'children' @> '[{"operation_name": "embed_query"}]')
	  FROM performance_profiles WHERE created_at >= now() - interval '1 day'});
is($node->safe_psql('postgres', q{SELECT sum(calls) FROM pp_operation_stats('1 day')}),
	$expected_nodes, "total calls over a day = nodes of the committed profiles ($expected_nodes)");
is($node->safe_psql('postgres', q{
	SELECT calls FROM pp_operation_stats('1 day') WHERE operation = 'rag_pipeline'}),
	$rows, 'rag_pipeline calls over a day = rows of the table');
is($node->safe_psql('postgres', q{
	SELECT calls FROM pp_operation_stats('1 hour') WHERE operation = 'rag_pipeline'}),
	$node->safe_psql('postgres', q{
	SELECT count(*) FROM performance_profiles WHERE created_at >= now() - interval '1 hour'}),
	'rag_pipeline calls over an hour = rows of the last hour');
cmp_ok($node->safe_psql('postgres', q{
	SELECT errors FROM pp_operation_stats('1 day') WHERE operation = 'openai_chat'}),
	'>', 0, 'some generated llm calls failed');

# the shared statistics answered (and not the table): pp_rebuild rebuilds
# the same numbers
my $before = $node->safe_psql('postgres', q{
	SELECT string_agg(operation || ':' || calls || ':' || errors, ',' ORDER BY operation)
	  FROM pp_operation_stats('1 day')});
# (without the rollups, which the background worker may have written)
is($node->safe_psql('postgres', 'SET ppprof.rebuild_from_rollups = off; SELECT pp_rebuild()'),
	$rows, 'pp_rebuild reads every row');
is($node->safe_psql('postgres', q{
	SELECT string_agg(operation || ':' || calls || ':' || errors, ',' ORDER BY operation)
	  FROM pp_operation_stats('1 day')}), $before, 'pp_rebuild gives the same calls and errors');

pp_log_lacks($node, qr/ppprof rebuilt the statistics/,
	'no background rebuild was needed (the statistics were never invalidated)');
pp_log_lacks($node, qr/PANIC|TRAP:|terminated by signal|server process .* was terminated/,
	'no crash in the server log');
$node->stop;
done_testing();
