# test/t/022_rollups.pl -- rollups written in the background, the writer
# that was still writing when pp_rollup() started, and a crash.
#
#  - A committing writer starts the background "ppprof rollup" worker once a
#    minute closed; its rollups equal plain SQL over the closed minute.
#  - A transaction that writes a row dated in a minute before the rollup
#    horizon it read, and commits after pp_rollup() raised the horizon, is
#    waited for: pp_rollup() waits in WaitForLockers until it commits, and
#    its rollup then holds the row (no mark needed).
#  - After a crash, the horizon is the server's start: a row dated before
#    it, in a minute already written, is marked.
use strict;
use warnings;

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PPTest;

my $node = pp_start_node('rollups');
pp_client_env($node, 'postgres');
$node->safe_psql('postgres', 'CREATE EXTENSION ppprof');

sub profile_sql
{
	my ($tag, $when) = @_;
	return qq{
	INSERT INTO performance_profiles (query_id, profile_data, created_at)
	SELECT '$tag-' || g, jsonb_build_object('operation_name', 'rag', 'duration_ms', 100 + g,
	         'children', jsonb_build_array(jsonb_build_object('operation_name', 'search',
	           'duration_ms', 10 + g % 50))),
	       $when
	  FROM generate_series(1, 20) g};
}

# calls per (minute, kind, name) in the rollups and in the table; the
# minutes of the table that have a rollup
my $compare = q{
	WITH e AS (
	  SELECT date_trunc('minute', created_at) AS b, 'o' AS kind, 'rag' AS name, count(*) AS calls
	    FROM performance_profiles GROUP BY 1
	  UNION ALL
	  SELECT date_trunc('minute', created_at), 'o', 'search', count(*) FROM performance_profiles GROUP BY 1
	  UNION ALL
	  SELECT date_trunc('minute', created_at), 'p', '', count(*) FROM performance_profiles GROUP BY 1),
	r AS (
	  SELECT bucket_start AS b, kind::text AS kind, name, (pp_rollup_contents(data)->>'calls')::bigint AS calls
	    FROM performance_rollups WHERE width = 'minute')
	SELECT count(*) || ' ' || count(*) FILTER (WHERE r.calls = e.calls)
	  FROM e JOIN r USING (b, kind, name)};

# 1. The background worker.  Rows of the current minute, then, once the
# minute closed, a commit that claims the worker.
$node->safe_psql('postgres', profile_sql('a', 'now()'));
my $first = $node->safe_psql('postgres', q{SELECT date_trunc('minute', max(created_at)) FROM performance_profiles});
ok($node->poll_query_until('postgres', qq{SELECT now() >= '$first'::timestamptz + interval '1 minute'}),
	'the first minute closed');
$node->safe_psql('postgres', profile_sql('b', 'now()'));
ok($node->poll_query_until('postgres', qq{
	SELECT count(*) > 0 FROM performance_rollups
	 WHERE width = 'minute' AND kind = 'p' AND bucket_start = '$first'}),
	'the background worker wrote the closed minute');
is($node->safe_psql('postgres', qq{
	SELECT (pp_rollup_contents(data)->>'calls')::int FROM performance_rollups
	 WHERE width = 'minute' AND kind = 'o' AND name = 'search' AND bucket_start = '$first'}),
	'20', 'its rollup holds the 20 calls of the minute');
like($node->safe_psql('postgres', $compare), qr/^(\d+) \1$/, 'every rollup equals the table');

# 2. A writer still writing when pp_rollup() starts.  pp_rollup() makes
# the horizon the current minute; once a new minute began, a transaction
# writes rows dated in the previous one (not before the horizon it reads,
# so it marks nothing) and stays open.
$node->safe_psql('postgres', 'SELECT pp_rollup()');
my $horizon = $node->safe_psql('postgres', q{SELECT date_trunc('minute', now())});
ok($node->poll_query_until('postgres', qq{SELECT now() >= '$horizon'::timestamptz + interval '1 minute'}),
	'a minute after the horizon');
$node->safe_psql('postgres', q{SELECT pg_advisory_lock(7)});
my $tmp = PostgreSQL::Test::Utils::tempdir;
my %w = (out => '', err => '');
open my $f, '>', "$tmp/writer.sql" or die;
print $f "BEGIN;\n" . profile_sql('late', "'$horizon'::timestamptz + interval '30 seconds'") .
  ";\nSELECT pg_advisory_xact_lock(8);\nCOMMIT;\n";
close $f;
my $holder = IPC::Run::start(
	[ 'psql', '-X', '-At', '-d', 'application_name=holder', '-c', 'SELECT pg_advisory_lock(8); SELECT pg_sleep(600)' ],
	'>', \my $hout, '2>', \my $herr);
ok($node->poll_query_until('postgres', q{
	SELECT count(*) = 1 FROM pg_locks WHERE locktype = 'advisory' AND objid = 8 AND granted}),
	'the holder has advisory lock 8');
my $writer = IPC::Run::start(
	[ 'psql', '-X', '-At', '-v', 'ON_ERROR_STOP=1', '-d', 'application_name=writer', '-f', "$tmp/writer.sql" ],
	'>', \$w{out}, '2>', \$w{err});
ok($node->poll_query_until('postgres', q{
	SELECT count(*) = 1 FROM pg_stat_activity WHERE application_name = 'writer' AND wait_event_type = 'Lock'}),
	'the writer wrote its rows and waits, uncommitted');
my %r = (out => '', err => '');
my $rollup = IPC::Run::start(
	[ 'psql', '-X', '-At', '-v', 'ON_ERROR_STOP=1', '-d', 'application_name=rollup', '-c', 'SELECT pp_rollup()' ],
	'>', \$r{out}, '2>', \$r{err});
ok($node->poll_query_until('postgres', q{
	SELECT count(*) = 1 FROM pg_stat_activity WHERE application_name = 'rollup' AND wait_event_type = 'Lock'}),
	'pp_rollup() waits for the writer');
$node->safe_psql('postgres',
	q{SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'holder'});
IPC::Run::finish($holder);
IPC::Run::finish($writer);
is($writer->result(0), 0, 'the writer commits') or diag($w{err});
IPC::Run::finish($rollup);
is($rollup->result(0), 0, 'pp_rollup() ends') or diag($r{err});
is($node->safe_psql('postgres', q{SELECT count(*) FROM performance_rollup_stale}), '0',
	'the writer marked nothing');
is($node->safe_psql('postgres', qq{
	SELECT (pp_rollup_contents(data)->>'calls')::int FROM performance_rollups
	 WHERE width = 'minute' AND kind = 'o' AND name = 'search' AND bucket_start = '$horizon'}),
	$node->safe_psql('postgres', qq{
	SELECT count(*) FROM performance_profiles WHERE date_trunc('minute', created_at) = '$horizon'}),
	'the rollup of its minute holds its rows');
is($node->safe_psql('postgres', qq{
	SELECT count(*) FROM performance_profiles
	 WHERE query_id LIKE 'late-%' AND date_trunc('minute', created_at) = '$horizon'}),
	'20', 'which are dated in that minute');
like($node->safe_psql('postgres', $compare), qr/^(\d+) \1$/, 'every rollup equals the table');

# 3. The configuration changes while pp_rollup() walks many buckets: each
# change frees the cached configuration at the next lock or walk, and
# pp_rollup() must not keep using the one it read first (the demo's
# background rollup crashed on this while the Python client wrote
# performance_thresholds).
$node->safe_psql('postgres', q{
	INSERT INTO performance_profiles (query_id, profile_data, created_at)
	SELECT 'day-' || g, jsonb_build_object('operation_name', 'rag', 'duration_ms', 100 + g,
	         'metadata', jsonb_build_object('model', 'gpt-4o', 'input_tokens', 10)),
	       now() - interval '2 hours' - g * interval '1 minute'
	  FROM generate_series(1, 600) g;
	DELETE FROM performance_rollups;
});
my %c = (out => '', err => '');
open my $cf, '>', "$tmp/config.sql" or die;
print $cf "UPDATE performance_thresholds SET threshold_ms = threshold_ms + 1 WHERE operation_type = 'retrieval';
"
  x 400;
close $cf;
my $changer = IPC::Run::start(
	[ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', 'application_name=changer', '-f', "$tmp/config.sql" ],
	'>', \$c{out}, '2>', \$c{err});
my ($ret, $stdout, $stderr) = $node->psql('postgres', 'SELECT pp_rollup() > 600');
IPC::Run::finish($changer);
is($ret, 0, 'pp_rollup() over 600 minutes while the configuration changes') or diag($stderr);
is($stdout, 't', 'it wrote every minute');
is($changer->result(0), 0, 'the configuration changes all committed') or diag($c{err});
like($node->safe_psql('postgres', $compare), qr/^(\d+) \1$/, 'every rollup equals the table');

# 4. A crash forgets the horizon; the server's start stands for it.  (No
# background worker from here on: it would write the marked minute at once.)
$node->append_conf('postgresql.conf', 'ppprof.rollup_worker = off');
$node->stop('immediate');
$node->start;
$node->safe_psql('postgres', profile_sql('after-crash', "'$first'::timestamptz + interval '5 seconds'"));
is($node->safe_psql('postgres', q{SELECT bucket_start FROM performance_rollup_stale}),
	$node->safe_psql('postgres', qq{SELECT '$first'::timestamptz}),
	'after a crash, a row in a written minute marks it');
$node->safe_psql('postgres', 'SELECT pp_rollup()');
like($node->safe_psql('postgres', $compare), qr/^(\d+) \1$/, 'and the next pp_rollup() writes it again');

done_testing();
