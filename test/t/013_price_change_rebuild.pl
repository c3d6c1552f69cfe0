# test/t/013_price_change_rebuild.pl -- a change of model_prices or
# usage_keys and a rebuild of the statistics never overlap.
#
# A node's cost depends on both tables, so the rebuild must read the rows
# with one configuration and a change must not commit while it reads: its
# invalidation would find the statistics already invalid (the rebuild
# cleared them) and the rebuild would then mark them valid with the old
# prices.  pp_config_changed takes the lock a writer of performance_profiles
# takes, which conflicts with the rebuild's, and the rebuild loads the
# configuration again once it holds its lock.  Checked both ways:
#  - a change made while a rebuild holds its lock waits for the rebuild's
#    transaction, and the statistics then have the new price;
#  - a rebuild started while a change is uncommitted waits for it (and
#    fails with 55P03 at lock_timeout), and then rebuilds with the change.
use strict;
use warnings;

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PPTest;

my $node = pp_start_node('price_rebuild');
pp_client_env($node, 'postgres');
$node->safe_psql('postgres', 'CREATE EXTENSION ppprof');

# 100 model calls of 1000 input and 100 output tokens each
$node->safe_psql('postgres', q{
	INSERT INTO model_prices (model_pattern, input_usd_per_million, output_usd_per_million)
	VALUES ('test-model', 1, 10);
	INSERT INTO performance_profiles (query_id, profile_data, created_at)
	SELECT 'p-' || g, jsonb_build_object('operation_name', 'chat', 'duration_ms', 10 + g,
	         'metadata', jsonb_build_object('model', 'test-model',
	           'input_tokens', 1000, 'output_tokens', 100)),
	       now() - g * interval '10 seconds'
	  FROM generate_series(1, 100) g;
});

# the cost in the statistics of the 100 calls: 100 * (1000 * in + 100 * out) / 1e6
my $cost = q{SELECT round(cost_usd::numeric, 6) FROM pp_operation_stats('1 hour') WHERE operation = 'chat'};
$node->safe_psql('postgres', 'SELECT pp_rebuild()');
is($node->safe_psql('postgres', $cost), '0.200000', 'cost at 1 and 10 USD per million tokens');

# A session that runs psql from a file and stays in its transaction until
# the file's last statement; a file, since IPC::Run feeds a scalar only
# when pumped.
my $tmp = PostgreSQL::Test::Utils::tempdir;
sub session
{
	my ($tag, $sql) = @_;
	my %h = (out => '', err => '');
	my $file = "$tmp/$tag.sql";
	open my $f, '>', $file or die;
	print $f $sql;
	close $f;
	$h{run} = IPC::Run::start(
		[ 'psql', '-X', '-At', '-v', 'ON_ERROR_STOP=1', '-d', "application_name=$tag", '-f', $file ],
		'>', \$h{out}, '2>', \$h{err});
	return \%h;
}

sub waiting_for_lock
{
	my ($tag) = @_;
	return $node->poll_query_until('postgres', qq{
		SELECT count(*) = 1 FROM pg_stat_activity
		 WHERE application_name = '$tag' AND wait_event_type = 'Lock'});
}

sub finish
{
	my ($h) = @_;
	IPC::Run::finish($h->{run});
	return ($h->{run}->result(0), $h->{out}, $h->{err});
}

# A session that holds advisory lock 42 until it is terminated: the
# sessions below wait for it at the end of their transaction.
sub hold_42
{
	my $h = session('holder', "SELECT pg_advisory_lock(42);\nSELECT pg_sleep(600);\n");
	ok($node->poll_query_until('postgres', q{
		SELECT count(*) = 1 FROM pg_locks WHERE locktype = 'advisory' AND objid = 42 AND granted}),
		'the holder has advisory lock 42');
	return $h;
}

sub release_42
{
	my ($h) = @_;
	$node->safe_psql('postgres',
		q{SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'holder'});
	finish($h);
	return;
}

# 1. A rebuild holds its lock until its transaction ends; a price change
# made meanwhile waits for that end.
my $holder = hold_42();
my $rebuild = session('rebuild1', q{
BEGIN;
SELECT pp_rebuild();
SELECT pg_advisory_xact_lock(42);
COMMIT;
});
ok(waiting_for_lock('rebuild1'), 'the rebuild is done and its transaction waits');
my $change = session('change1', q{
UPDATE model_prices SET input_usd_per_million = 2 WHERE model_pattern = 'test-model';
});
ok(waiting_for_lock('change1'), 'the price change waits for the rebuild\'s transaction');
is($node->safe_psql('postgres',
	q{SELECT input_usd_per_million FROM model_prices WHERE model_pattern = 'test-model'}),
	'1', 'the change is not committed while it waits');
release_42($holder);
my ($rc, $out, $err) = finish($rebuild);
is($rc, 0, 'the rebuild\'s transaction commits') or diag($err);
($rc, $out, $err) = finish($change);
is($rc, 0, 'then the price change commits') or diag($err);
is($node->safe_psql('postgres', $cost), '0.300000',
	'the statistics have the new input price (2 USD per million)');
is(pp_info_field($node, 'statistics'), 'valid', 'and are valid');

# 2. A price change is uncommitted; a rebuild waits for it, fails at its
# lock_timeout, and rebuilds with the change once it committed.
$holder = hold_42();
$change = session('change2', q{
BEGIN;
UPDATE model_prices SET output_usd_per_million = 20 WHERE model_pattern = 'test-model';
SELECT pg_advisory_xact_lock(42);
COMMIT;
});
ok(waiting_for_lock('change2'), 'the price change is made and its transaction waits');
my ($ret, $stdout, $stderr) = $node->psql('postgres',
	q{SET lock_timeout = '300ms'; SELECT pp_rebuild()});
like($stderr, qr/could not lock performance_profiles to rebuild the statistics/,
	'pp_rebuild() cannot rebuild while the change is uncommitted');
$rebuild = session('rebuild2', "SELECT pp_rebuild() > 0;\n");
ok(waiting_for_lock('rebuild2'), 'a rebuild waits for the change');
release_42($holder);
($rc, $out, $err) = finish($change);
is($rc, 0, 'the price change commits') or diag($err);
($rc, $out, $err) = finish($rebuild);
is($rc, 0, 'the waiting rebuild runs') or diag($err);
is($out, "t\n", 'and reads the profiles');
is($node->safe_psql('postgres', $cost), '0.400000',
	'the statistics have the new output price (20 USD per million)');
is($node->safe_psql('postgres', q{
	SELECT round(sum(u.cost_usd)::numeric, 6)
	  FROM performance_profiles p, pp_profile_usage(p.profile_data, p.created_at) u}),
	'0.400000', 'as plain SQL over the table says');

# 3. A usage_keys change waits for a rebuild too.
$holder = hold_42();
$rebuild = session('rebuild3', q{
BEGIN;
SELECT pp_rebuild();
SELECT pg_advisory_xact_lock(42);
COMMIT;
});
ok(waiting_for_lock('rebuild3'), 'another rebuild is done and its transaction waits');
$change = session('change3', q{
DELETE FROM usage_keys WHERE metadata_key = 'output_tokens';
});
ok(waiting_for_lock('change3'), 'a usage_keys change waits for it');
release_42($holder);
finish($rebuild);
($rc, $out, $err) = finish($change);
is($rc, 0, 'the usage_keys change commits') or diag($err);
is($node->safe_psql('postgres', $cost), '0.200000',
	'without output tokens, the statistics have only the input cost');

done_testing();
