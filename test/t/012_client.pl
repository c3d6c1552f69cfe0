# test/t/012_client.pl -- libppprof and the ppprof command against a real
# server.
#
# The library: 8 threads record 50 trees each at once; every tree arrives
# whole and only with its own thread's spans.  Then one thread records a
# tree every 2 ms while the server is stopped for two seconds and started
# again: the caller goes on (trees are dropped and counted while the server
# is away), and trees are stored again once it is back.
#
# The command: --help of each subcommand; ingest of a JSON-lines file in
# batches, and of a file with a bad line (nothing stored, the line named);
# report in text and JSON; check against a baseline, passing, then failing
# on a regression (exit 1), and with an unknown baseline (exit 2).
use strict;
use warnings;

use Cwd qw(abs_path);
use File::Basename qw(dirname);
use IPC::Run;
use JSON::PP;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PPTest;

my $root = abs_path(dirname(__FILE__) . '/../..');
my ($out, $err) = ('', '');
ok(IPC::Run::run([ 'make', '-s', '-C', "$root/client" ], '>', \$out, '2>', \$err),
	'client library and command build') or diag("$out\n$err");
ok(IPC::Run::run([ 'make', '-s', '-C', "$root/test/client" ], '>', \$out, '2>', \$err),
	'test program builds') or diag("$out\n$err");
my $prog = "$root/test/client/client_test";
my $cli = "$root/client/ppprof";

my $node = pp_start_node('client');
$node->safe_psql('postgres', 'CREATE EXTENSION ppprof');
my $conninfo = $node->connstr('postgres');

sub run_prog
{
	my (@args) = @_;
	my ($o, $e) = ('', '');
	my $ok = IPC::Run::run([@args], '>', \$o, '2>', \$e);
	return ($ok ? 0 : $? >> 8, $o, $e);
}

sub stats_of
{
	my ($text) = @_;
	my %s = $text =~ /(\w+)=(\d+)/g;
	return \%s;
}

#
# Threads never mix their trees
#
my ($rc, $o, $e) = run_prog($prog, 'threads', $conninfo, 8, 50);
is($rc, 0, 'threads: the program succeeds') or diag($e);
my $s = stats_of((split /\n/, $o)[-1]);
is($s->{queued}, 400, 'threads: 400 trees queued');
is($s->{sent}, 400, 'threads: 400 trees sent');
is($s->{dropped}, 0, 'threads: none dropped');
is($node->safe_psql('postgres', 'SELECT count(*) FROM performance_profiles'), '400',
	'threads: 400 profiles stored');
is($node->safe_psql('postgres', q{
	WITH RECURSIVE n AS (
	  SELECT p.id, p.profile_data->>'operation_name' AS root, p.profile_data AS node
	    FROM performance_profiles p
	  UNION ALL
	  SELECT n.id, n.root, c FROM n, jsonb_array_elements(n.node->'children') c)
	SELECT count(*) FILTER (WHERE node->>'operation_name' NOT LIKE root || '.%'
	                          AND node->>'operation_name' <> root)
	  || ',' || count(*) FROM n}), '0,1600',
	'threads: 4 nodes per tree, all of the tree\'s own thread');
is($node->safe_psql('postgres', q{
	SELECT count(DISTINCT profile_data->>'operation_name') || ',' ||
	       bool_and(profile_data->'children'->0->'children'->0->>'operation_name'
	                = (profile_data->>'operation_name') || '.a.x') || ',' ||
	       bool_and(profile_data->'children'->0->'metadata'->>'thread' = profile_data->>'operation_name')
	  FROM performance_profiles}), '8,true,true',
	'threads: eight roots; nesting and metadata as recorded');
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM performance_profiles
	 WHERE total_duration_ms < (profile_data->'children'->0->>'duration_ms')::float8}), '0',
	'threads: no child lasts longer than its root');

#
# Sampling, and recording switched off and on
#
$node->safe_psql('postgres', 'TRUNCATE performance_profiles');
($rc, $o, $e) = run_prog($prog, 'sampling', $conninfo, 1000);
is($rc, 0, 'sampling: the program succeeds') or diag($e);
like($o, qr/^disabled_handles=0$/m, 'sampling: no span is recorded while switched off');
$s = stats_of((split /\n/, $o)[-1]);
is($s->{sent} + $s->{sampled}, 1001, 'sampling: every tree kept or counted as sampled out');
cmp_ok($s->{sampled}, '>', 350, "sampling: about half sampled out ($s->{sampled})");
cmp_ok($s->{sampled}, '<', 650, 'sampling: ... and about half kept');
# (the tree recorded after re-enabling is sampled like the others)
is($node->safe_psql('postgres', q{
	SELECT count(*) FILTER (WHERE profile_data->>'operation_name' IN ('sampled', 'enabled_again'))
	       || ',' || count(*) FILTER (WHERE profile_data->>'operation_name' = 'disabled')
	  FROM performance_profiles}), "$s->{sent},0",
	'sampling: the kept trees are stored, none recorded while off');

#
# An extension not yet updated to 1.2 has no pp_ingest_jsonl: the library
# falls back to pp_ingest_batch and loses nothing
#
$node->safe_psql('postgres', 'CREATE DATABASE old_ppprof');
$node->safe_psql('old_ppprof', "CREATE EXTENSION ppprof VERSION '1.1'");
($rc, $o, $e) = run_prog($prog, 'threads', $node->connstr('old_ppprof'), 2, 10);
is($rc, 0, 'ppprof 1.1: the program succeeds') or diag($e);
$s = stats_of((split /\n/, $o)[-1]);
is("$s->{sent},$s->{dropped}", '20,0', 'ppprof 1.1: 20 trees sent, none dropped');
is($node->safe_psql('old_ppprof', 'SELECT count(*) FROM performance_profiles'), '20',
	'ppprof 1.1: 20 profiles stored through pp_ingest_batch');

#
# A server that stops mid-run
#
$node->safe_psql('postgres', 'TRUNCATE performance_profiles');
my %h = (out => '', err => '');
my $run = IPC::Run::start([ $prog, 'outage', $conninfo, 9 ], '>', \$h{out}, '2>', \$h{err});
my $sent_before = 0;
for (1 .. 100)
{
	$run->pump_nb;
	($sent_before) = $h{out} =~ /.*progress sent=(\d+)/s;
	last if ($sent_before // 0) > 0;
	select(undef, undef, undef, 0.1);
}
cmp_ok($sent_before // 0, '>', 0, 'outage: trees were stored before the stop');
$node->stop('fast');
select(undef, undef, undef, 2.0);
$run->pump_nb;
my ($sent_down) = $h{out} =~ /.*progress sent=(\d+)/s;
$node->start;
$run->finish;
is($? >> 8, 0, 'outage: the program ran to its end') or diag($h{err});
$s = stats_of((split /\n/, $h{out})[-1]);
cmp_ok($s->{dropped}, '>', 0, "outage: trees dropped while the server was away ($s->{dropped})");
cmp_ok($s->{failed}, '>', 0, "outage: failed sends counted ($s->{failed})");
cmp_ok($s->{sent}, '>', $sent_down, "outage: trees stored again after the restart ($sent_down -> $s->{sent})");
my $stored = $node->safe_psql('postgres', 'SELECT count(*) FROM performance_profiles');
cmp_ok($stored, '>=', $s->{sent}, 'outage: every tree reported sent is stored');
cmp_ok($stored, '<=', $s->{queued}, 'outage: nothing stored that was not queued');
note("outage: queued $s->{queued}, sent $s->{sent}, dropped $s->{dropped}, slowest root end $s->{max_end_us} us");

#
# The ppprof command
#
for my $cmd ([], ['ingest'], ['report'], ['check'])
{
	($rc, $o, $e) = run_prog($cli, @$cmd, '--help');
	is($rc, 0, "ppprof @$cmd --help exits 0");
	like($o, qr/Usage/, "ppprof @$cmd --help prints the usage");
}
($rc, $o, $e) = run_prog($cli, 'frobnicate');
is($rc, 2, 'an unknown command exits 2');
like($e, qr/unknown command "frobnicate"/, 'and says so');

my $tmp = PostgreSQL::Test::Utils::tempdir;
my $jsonl = "$tmp/profiles.jsonl";
open(my $fh, '>', $jsonl) or die;
for my $i (1 .. 250)
{
	my $llm = 1000 + $i;
	print $fh qq({"operation_name": "rag", "duration_ms": 1500, "metadata": {"query_id": "file-$i"}, "children": [{"operation_name": "vector_search", "duration_ms": 100}, {"operation_name": "llm_generation", "duration_ms": $llm}]}\n);
	print $fh "\n" if $i % 100 == 0;
}
close $fh;
$node->safe_psql('postgres', 'TRUNCATE performance_profiles');
($rc, $o, $e) = run_prog($cli, '--dsn', $conninfo, 'ingest', $jsonl, '--batch', 100);
is($rc, 0, 'ingest exits 0') or diag($e);
like($o, qr/^stored 250 profiles$/m, 'ingest reports 250 profiles');
is($node->safe_psql('postgres', q{SELECT count(*) || ',' || count(DISTINCT query_id) FROM performance_profiles}),
	'250,250', 'ingest stored every line with its query_id');

my $bad = "$tmp/bad.jsonl";
open($fh, '>', $bad) or die;
print $fh qq({"operation_name": "x", "duration_ms": 1}\n{"operation_name": "y", "duration_ms": 2}\n[1, 2]\n);
close $fh;
($rc, $o, $e) = run_prog($cli, '--dsn', $conninfo, 'ingest', $bad);
is($rc, 1, 'a file with a bad line: exit 1');
like($e, qr/line 3 of ".*bad.jsonl" is not a JSON object/, 'the bad line is named');
is($node->safe_psql('postgres', 'SELECT count(*) FROM performance_profiles'), '250',
	'nothing of the bad file is stored');

my $invalid = "$tmp/invalid.jsonl";
open($fh, '>', $invalid) or die;
print $fh qq({"operation_name": "ok", "duration_ms": 1}\n\n{"operation_name": "ok", "duration_ms": 1}\n{"operation_name": "bad", "duration_ms": "slow"}\n);
close $fh;
($rc, $o, $e) = run_prog($cli, '--dsn', $conninfo, 'ingest', $invalid, '--batch', 10);
is($rc, 1, 'a profile the server refuses: exit 1');
like($e, qr/lines 1 to 4 was refused \(its line 1 is line 1 of the file\): ERROR:  invalid profile on line 4 at \$\.duration_ms/,
	'the refused batch and the server\'s message, whose line number counts the blank line');
is($node->safe_psql('postgres', 'SELECT count(*) FROM performance_profiles'), '250',
	'nothing of the refused batch is stored');

# the libpq environment instead of --dsn
{
	local $ENV{PGHOST} = $node->host;
	local $ENV{PGPORT} = $node->port;
	local $ENV{PGDATABASE} = 'postgres';
	($rc, $o, $e) = run_prog($cli, 'report', '--window', '1h', '--format', 'json');
}
is($rc, 0, 'report --format json exits 0 (connection from the environment)') or diag($e);
my $report = eval { decode_json($o) };
ok($report, 'report --format json prints JSON');
is($report->{summary}{total_profiled_queries}, 250, 'the report counts the 250 profiles');
($rc, $o, $e) = run_prog($cli, '--dsn', $conninfo, 'report', '--window', '1h');
is($rc, 0, 'report (text) exits 0');
like($o, qr/Bottlenecks.*llm_generation/s, 'the text report lists the bottleneck');
($rc, $o, $e) = run_prog($cli, '--dsn', $conninfo, 'report', '--format', 'yaml');
is($rc, 2, 'report --format yaml: exit 2');

$node->safe_psql('postgres', q{SELECT pp_capture_baseline('ci', '1 hour')});
($rc, $o, $e) = run_prog($cli, '--dsn', $conninfo, 'check', '--baseline', 'ci',
	'--window', '1h', '--max-regression', '10%');
is($rc, 0, 'check against the baseline just captured passes') or diag("$o\n$e");
like($o, qr/llm_generation .* ok/, 'check lists the operations');
# the same traffic, three times slower in llm_generation
$node->safe_psql('postgres', q{
	INSERT INTO performance_profiles (query_id, profile_data)
	SELECT 'slow-' || g, jsonb_build_object('operation_name', 'rag', 'duration_ms', 4000,
	         'children', jsonb_build_array(
	           jsonb_build_object('operation_name', 'vector_search', 'duration_ms', 100),
	           jsonb_build_object('operation_name', 'llm_generation', 'duration_ms', 3000 + g)))
	  FROM generate_series(1, 250) g});
($rc, $o, $e) = run_prog($cli, '--dsn', $conninfo, 'check', '--baseline', 'ci',
	'--window', '1h', '--max-regression', '10%');
is($rc, 1, 'check fails on a regression (exit 1)');
like($o, qr/llm_generation .*REGRESSION/, 'the regressed operation is named');
like($o, qr/vector_search .* ok/, 'the unchanged one is ok');
($rc, $o, $e) = run_prog($cli, '--dsn', $conninfo, 'check', '--baseline', 'nope');
is($rc, 2, 'check with an unknown baseline: exit 2');
like($e, qr/baseline "nope" does not exist/, 'and says so');
($rc, $o, $e) = run_prog($cli, '--dsn', 'host=/nonexistent', 'report');
is($rc, 2, 'no server: exit 2');
like($e, qr/could not connect/, 'and says so');

$node->stop;
done_testing();
