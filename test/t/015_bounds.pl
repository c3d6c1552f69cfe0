# test/t/015_bounds.pl -- what one caller can make others wait for or the
# server spend (issue 15): the rebuild's table lock, a window's memory, and
# what pp_info() shows to another database.
#
# 1. A rebuild does not stay in the table's lock queue.  A prepared
#    transaction that wrote a row keeps the table's ROW EXCLUSIVE lock and
#    invalidates the statistics; the next read starts a background rebuild,
#    which cannot have its SHARE ROW EXCLUSIVE lock.  Before the fix it
#    waited in the lock queue and every later writer waited behind it; now
#    it joins the queue for 100 ms once a second at most, so victims'
#    pp_ingest calls (with a lock_timeout that fails them if they wait for
#    good) succeed, statistics answer from the table, the worker gives up
#    with a LOG line, and once the transaction is gone the next read
#    rebuilds.  pp_rebuild() that cannot have the lock fails with 55P03 and
#    leaves the statistics as they were.
# 2. A window read from the table with 19,998 unique operation names (the
#    audit's two profiles of 9,999) keeps 1,000 operations and one fold row
#    whose calls complete the table's; the backend's peak resident memory
#    grows by less than 100 MB (the audit measured 532 MB before the fix),
#    and nothing stays allocated after the call.
# 3. pp_info() in one database counts that database's profiles only; a role
#    without pg_read_all_stats sees no count of all databases.
#
# No timing assertion: waits are polls with the default timeout, and the
# victim's lock_timeout only turns a hang into a failure.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PPTest;

my $node = pp_start_node('bounds', conf => q{max_prepared_transactions = 5});
$node->safe_psql('postgres', 'CREATE EXTENSION ppprof');
pp_create_exact_nodes($node);

my $profile = sub {
	my ($name, $ms) = @_;
	return qq{'{"operation_name": "$name", "duration_ms": $ms}'};
};
$node->safe_psql('postgres', 'SELECT pp_ingest(' . $profile->('warm', 5) . ", 'w$_')")
  for 1 .. 3;
is(pp_info_field($node, 'statistics'), 'valid', 'statistics valid at the start');

#
# 1. The rebuild's table lock
#
my $worker_running = q{SELECT count(*) > 0 FROM pg_stat_activity WHERE backend_type = 'ppprof rebuild'};

$node->safe_psql('postgres', 'BEGIN; SELECT pp_ingest(' . $profile->('held', 7)
	  . ", 'held'); PREPARE TRANSACTION 'holder';");
like(pp_info_field($node, 'statistics'), qr/^invalid/, 'a prepared transaction invalidates the statistics');
my $log_offset = -s $node->logfile;

# a read starts the background rebuild, which finds the table locked
$node->safe_psql('postgres', q{SELECT count(*) FROM pp_operation_stats('1 hour')});
ok($node->poll_query_until('postgres', $worker_running), 'a read started the background rebuild');

# 20 victims, one after the other, for the 10 s the worker tries
my ($ret, $out, $err) = $node->psql('postgres', "SET lock_timeout = '60s';\n"
	  . join('', map { 'SELECT pp_ingest(' . $profile->('victim', 3) . ", 'victim$_') IS NOT NULL;\n" } 1 .. 20));
is($ret, 0, 'writers are not held up by the rebuild') or diag($err);
is($out, join("\n", ('t') x 20), 'the victims\' profiles are stored');
ok($node->safe_psql('postgres', $worker_running) eq 't' || $node->log_contains(qr/ppprof could not lock/, $log_offset),
	'while the rebuild was trying');
like(pp_info_field($node, 'statistics'), qr/^(rebuilding|invalid)/, 'the statistics say they answer from the table');
is($node->safe_psql('postgres', q{SELECT calls FROM pp_operation_stats('1 hour') WHERE operation = 'victim'}),
	'20', 'the statistics answer from the table meanwhile');

ok($node->wait_for_log(qr/ppprof could not lock performance_profiles of database \d+ for a background rebuild/,
		$log_offset), 'the worker gives up and says so');
ok($node->poll_query_until('postgres', "SELECT NOT ($worker_running)"), 'the worker has exited');
like(pp_info_field($node, 'statistics'), qr/^invalid/, 'the statistics stay invalid, to be rebuilt later');

# once the writer is gone, the next read rebuilds
$node->safe_psql('postgres', q{COMMIT PREPARED 'holder'});
$node->safe_psql('postgres', q{SELECT count(*) FROM pp_operation_stats('1 hour')});
pp_poll_valid($node, 'after the writer ended');
pp_check_exact($node, ['1 hour'], 'after the rebuild');

# pp_rebuild() that cannot have the lock fails and changes nothing
my $holder = $node->background_psql('postgres');
$holder->query_safe('BEGIN');
$holder->query_safe('SELECT pp_ingest(' . $profile->('open', 4) . ", 'open')");
($ret, $out, $err) = $node->psql('postgres', q{SET lock_timeout = '200ms'; SELECT pp_rebuild();});
isnt($ret, 0, 'pp_rebuild() fails while a writer holds the table');
like($err, qr/ERROR:  could not lock performance_profiles to rebuild the statistics/, 'pp_rebuild(): the error says why');
like($err, qr/DETAIL:  Transactions writing the table kept it locked for 200 ms/, 'pp_rebuild(): the detail says how long it tried');
($ret, $out, $err) = $node->psql('postgres', q{SET lock_timeout = '200ms'; SET client_min_messages = error;
  DO $$ BEGIN PERFORM pp_rebuild(); EXCEPTION WHEN lock_not_available THEN RAISE NOTICE 'caught'; END $$;
  SELECT pp_info()->>'statistics';});
is($out, 'valid', 'a failed pp_rebuild() leaves the statistics valid');
$holder->query_safe('COMMIT');
$holder->quit;
# (every row: the background worker may have written rollups)
is($node->safe_psql('postgres', 'SET ppprof.rebuild_from_rollups = off; SELECT pp_rebuild()'), '25',
	'pp_rebuild() runs once the writer is gone');
pp_check_exact($node, ['1 hour'], 'after pp_rebuild()');

#
# 2. A window's memory
#
$node->safe_psql('postgres', q{
CREATE FUNCTION wide(prefix text, n int) RETURNS jsonb LANGUAGE sql AS $$
  SELECT jsonb_build_object('operation_name', prefix || 'root', 'duration_ms', 5000,
           'children', (SELECT jsonb_agg(jsonb_build_object('operation_name', prefix || g,
                                                            'duration_ms', 0.5 + g % 7))
                          FROM generate_series(1, n) g))
$$;
INSERT INTO performance_profiles (query_id, profile_data) VALUES ('a', wide('a', 9999)), ('b', wide('b', 9999));
SELECT pp_reset();
});

# peak resident memory of this backend (kB), and what its contexts hold
my $memory = q{(SELECT substring(pg_read_file('/proc/self/status') FROM 'VmHWM:\s*(\d+) kB')::bigint),
  (SELECT sum(total_bytes) FROM pg_backend_memory_contexts)};
SKIP:
{
	skip 'no /proc/self/status', 5 unless -r '/proc/self/status';
	my $res = $node->safe_psql('postgres', qq{
SELECT count(*) FROM pp_range_stats(tstzrange(now() - interval '10 days', now() - interval '9 days'));
SELECT $memory;
SELECT count(*), count(*) FILTER (WHERE operation_type = '(folded)'), sum(calls)
  FROM pp_operation_stats('1 hour');
SELECT $memory;
SELECT count(*) FROM exact_nodes;
SET ppprof.max_window_operations = 1000000;
SELECT count(*) FROM pp_operation_stats('1 hour');
SELECT $memory;
});
	my @l = split /\n/, $res;
	my ($hwm0, $ctx0) = split /\|/, $l[1];
	my ($rows, $folds, $calls) = split /\|/, $l[2];
	my ($hwm1, $ctx1) = split /\|/, $l[3];
	is($rows, 1001, 'a window of 19,998 names keeps 1,000 operations and the fold row');
	is($folds, 1, 'one fold row');
	is($calls, $l[4], 'its calls complete the table\'s nodes');
	cmp_ok($hwm1 - $hwm0, '<', 100 * 1024, 'peak resident memory grew by less than 100 MB')
	  or diag("VmHWM $hwm0 kB -> $hwm1 kB");
	cmp_ok($ctx1 - $ctx0, '<', 8 * 1024 * 1024, 'nothing of the window stays allocated')
	  or diag("contexts $ctx0 -> $ctx1 bytes");
	my ($hwm2) = split /\|/, $l[6];
	note("VmHWM $hwm0 kB -> $hwm1 kB; contexts $ctx0 -> $ctx1 bytes; "
		  . "$l[5] rows without the cap (sparse accumulators only): VmHWM $hwm2 kB");
}
$node->safe_psql('postgres', 'SELECT pp_rebuild()');

#
# 3. pp_info() and other databases
#
$node->safe_psql('postgres', 'CREATE DATABASE app2');
$node->safe_psql('app2', 'CREATE EXTENSION ppprof');
$node->safe_psql('app2', 'SELECT pp_ingest(' . $profile->('other_db', 2) . ", 'o$_')") for 1 .. 4;
$node->safe_psql('postgres', q{CREATE ROLE reader LOGIN; GRANT EXECUTE ON FUNCTION pp_info() TO reader;});
my $own = $node->safe_psql('postgres', q{SELECT pp_info()->>'profiles_ingested'});
my $all = $node->safe_psql('postgres', q{SELECT pp_info()->>'profiles_ingested_all_databases'});
is($node->safe_psql('app2', q{SELECT pp_info()->>'profiles_ingested'}), '4', 'app2 counts its own 4 profiles');
is($all, $own + 4, 'a superuser sees both databases together');
is($node->safe_psql('postgres', q{SET ROLE reader; SELECT pp_info()->>'profiles_ingested'}), $own,
	'a reader of postgres sees postgres\'s count');
is($node->safe_psql('postgres', q{SET ROLE reader;
  SELECT count(*) FROM jsonb_each(pp_info()) WHERE key LIKE '%all_databases' AND value <> 'null'}),
	'0', 'and no count of all databases');

$node->stop;
done_testing();
