# test/t/012_client.pl -- libppprof and the ppprof command against a real
# server.
#
# The library: 8 threads record 50 trees each at once; every tree arrives
# whole and only with its own thread's spans.  Then one thread records a
# tree every 2 ms while the server is stopped for two seconds and started
# again: the caller goes on (trees are dropped and counted while the server
# is away), and trees are stored again once it is back.
#
# Names: the library refuses a span whose name the server would refuse
# (empty, over 200 bytes, not UTF-8) with the reason, and only that span
# and what it holds are lost.  A tree the server refuses anyway (a 300-byte
# name let through by max_name_length 1000) is lost alone: the other 97 of
# its batch of 100 are stored.  A batch refused for another reason
# (privileges) is not split.
#
# The command: --help of each subcommand; ingest of a JSON-lines file in
# batches, and of a file with a bad line (nothing stored, the line named);
# report in text and JSON; check against a baseline, passing, then failing
# on a regression (exit 1), and with an unknown baseline (exit 2).
#
# The readable commands: the text report's sections in order, every
# operation named whole in "where the time goes" with a bar and a share
# (two 61-character names that differ in their last character), no float
# noise in the text or in the JSON (every real rounded: whole from 100 up,
# three significant digits below); top (every operation, most self time
# first, calls, percentiles, errors, --limit); check (regressions first,
# the largest first, with calls); show of a profile with parallel children
# and a failed node, by id and by query_id (each bar at its offset on a
# 48-cell timeline, indentation, start, duration, self time, BOTTLENECK and
# ERROR marks); flamegraph (an SVG when the server has pp_flamegraph, the
# reason otherwise); argument errors (what is wrong, then the usage, exit
# 2, before any connection); --version (ppprof.control's default_version,
# the extension's version, the installed command's); where make install
# links the command (path-link-dir; a link made; a file left alone).
#
# Schema and search_path: the extension in schema "Prof", which is not on
# the search_path; then a hostile search_path whose first schema holds
# functions, views, operators and types named as those the client uses
# (each would count in a sequence and log "ppprof-spy" when run): the
# library and every command work, and nothing planted runs.
#
# Escapes: operation names holding ESC, DEL, C1 controls and backslashes
# come out of report (text), check and the error messages escaped, and out
# of report --format json as JSON with the same values.
use strict;
use warnings;

use Cwd qw(abs_path);
use File::Basename qw(dirname);
use IPC::Run;
use Encode;
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
# An extension without pp_ingest_jsonl (as 1.1 was; its script is gone, so
# the function is taken out of an install): the library falls back to
# pp_ingest_batch and loses nothing
#
$node->safe_psql('postgres', 'CREATE DATABASE old_ppprof');
$node->safe_psql('old_ppprof', q{
	CREATE EXTENSION ppprof;
	ALTER EXTENSION ppprof DROP FUNCTION pp_ingest_jsonl(text);
	DROP FUNCTION pp_ingest_jsonl(text)});
($rc, $o, $e) = run_prog($prog, 'threads', $node->connstr('old_ppprof'), 2, 10);
is($rc, 0, 'no pp_ingest_jsonl: the program succeeds') or diag($e);
$s = stats_of((split /\n/, $o)[-1]);
is("$s->{sent},$s->{dropped}", '20,0', 'no pp_ingest_jsonl: 20 trees sent, none dropped');
is($node->safe_psql('old_ppprof', 'SELECT count(*) FROM performance_profiles'), '20',
	'no pp_ingest_jsonl: 20 profiles stored through pp_ingest_batch');

#
# Span names the server would refuse are refused by the library, with the
# reason; only the span and what it holds are lost
#
# (a database in UTF8 whatever the environment's locale)
$node->safe_psql('postgres', q{CREATE DATABASE utf8 ENCODING 'UTF8' LOCALE 'C' TEMPLATE template0});
$node->safe_psql('utf8', 'CREATE EXTENSION ppprof');
my $utf8 = $node->connstr('utf8');
($rc, $o, $e) = run_prog($prog, 'names', $utf8);
is($rc, 0, 'names: the program succeeds') or diag($e);
my %code = $o =~ /^name (\w+) code=(\w+) handle=set/mg;
is_deeply(\%code, {
		a200 => 'OK', a201 => 'NAME_TOO_LONG', empty => 'NAME_EMPTY', null => 'NAME_EMPTY',
		utf8 => 'OK', invalid => 'NAME_NOT_UTF8', overlong => 'NAME_NOT_UTF8',
		surrogate => 'NAME_NOT_UTF8', above_max => 'NAME_NOT_UTF8',
		truncated => 'NAME_NOT_UTF8', lone_c1_byte => 'NAME_NOT_UTF8' },
	'names: 200 bytes and UTF-8 accepted; empty, 201 bytes, malformed UTF-8 refused');
like($o, qr/^name a201 .* text=a span name of 201 bytes was refused: the limit is 200$/m,
	'names: the error text gives the length and the limit');
like($o, qr/^name invalid .* text=a span name was refused: byte 3 \(0xff\) is not UTF-8$/m,
	'names: ... and the offending byte');
like($o, qr/^last any=1 code=NAME_NOT_UTF8 .*byte 4 \(0xfe\)/m,
	'names: pp_client_last_error gives the reason of a refusal through pp_span_begin');
$s = stats_of((split /\n/, $o)[-1]);
is("$s->{sent},$s->{dropped},$s->{spans_dropped}", '5,0,13',
	'names: 5 trees sent, none dropped, the 13 refused spans counted');
is($node->safe_psql('utf8', q{
	SELECT string_agg(CASE WHEN length(profile_data->>'operation_name') = 200
	                       THEN 'a*200' ELSE profile_data->>'operation_name' END, ',' ORDER BY query_id)
	  FROM performance_profiles}),
	"a*200,caf\xc3\xa9 \xe6\x97\xa5\xf0\x9f\x98\x80,mixed,unbalanced,after_unbalanced",
	'names: the trees stored are those with good roots; no child of a refused root became a tree');
is($node->safe_psql('utf8', q{
	SELECT string_agg(c->>'operation_name', ',' ORDER BY o)
	  FROM performance_profiles, jsonb_array_elements(profile_data->'children') WITH ORDINALITY AS x(c, o)
	 WHERE profile_data->>'operation_name' = 'mixed'}), 'kept1,kept2',
	'names: refused children (and what they held) are missing, their siblings kept');
is($node->safe_psql('utf8', q{
	SELECT (c->>'error') || '|' || (c->'metadata')::text
	  FROM performance_profiles, jsonb_array_elements(profile_data->'children') c
	 WHERE c->>'operation_name' = 'kept2'}),
	"failed \xef\xbf\xbd|{\"k\xef\xbf\xbd\": \"v\xef\xbf\xbd\"}",
	'names: bytes not UTF-8 in an error or metadata become U+FFFD; the span stays failed');
is($node->safe_psql('utf8', q{
	SELECT count(*) FROM performance_profiles
	 WHERE profile_data->>'operation_name' = 'unbalanced' AND profile_data->'children' = '[]'}), '1',
	'names: a refused child left open ends with its parent; the next tree is recorded');

#
# A tree the server refuses is lost alone; the rest of its batch is stored
#
$node->safe_psql('utf8', 'TRUNCATE performance_profiles');
($rc, $o, $e) = run_prog($prog, 'refused', $utf8, 100, '0,41,99');
is($rc, 0, 'refused: the program succeeds') or diag($e);
$s = stats_of((split /\n/, $o)[-1]);
is("$s->{queued},$s->{sent},$s->{refused},$s->{dropped},$s->{failed}", '100,97,3,3,0',
	'refused: of a batch of 100 with 3 trees the server refuses, 97 sent, 3 refused and dropped');
is($node->safe_psql('utf8', q{
	SELECT count(*) || ',' || count(*) FILTER (WHERE query_id IN ('r-0', 'r-41', 'r-99'))
	  FROM performance_profiles}), '97,0', 'refused: the 97 others are stored, once each');
like($o, qr/^last any=1 code=REFUSED sqlstate=54000 query_id=r-99 text=the server refused the tree of query_id "r-99": invalid profile at \$\.operation_name: operation_name is 300 bytes long, the limit is 200$/m,
	'refused: pp_client_last_error names the tree, the SQLSTATE and the server\'s reason');

$node->safe_psql('postgres', 'CREATE ROLE nopriv LOGIN');
($rc, $o, $e) = run_prog($prog, 'refused', "$utf8 user=nopriv", 10, '');
is($rc, 0, 'no privilege: the program succeeds') or diag($e);
$s = stats_of((split /\n/, $o)[-1]);
is("$s->{sent},$s->{refused},$s->{dropped},$s->{failed}", '0,0,10,1',
	'no privilege: the batch is dropped whole, not split');
like($o, qr/^last any=1 code=SEND_FAILED sqlstate=42501 query_id= text=a batch of 10 trees was not sent: permission denied for function pp_ingest_jsonl$/m,
	'no privilege: pp_client_last_error says why');
is($node->safe_psql('utf8', 'SELECT count(*) FROM performance_profiles'), '97',
	'no privilege: nothing stored');

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
for my $cmd ([], ['ingest'], ['report'], ['check'], ['show'], ['top'], ['flamegraph'])
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
like($e, qr/lines 1 to 4 was refused \(its line 1 is line 1 of the file\): ERROR:  invalid profile at \$\.duration_ms: .*\nCONTEXT:  profile on line 4 of the batch; no profile of the batch was stored$/ms,
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
unlike($o, qr/output tokens/, 'no token line when no profile reports tokens');
# a model call with tokens and a seeded price: the summary says what it cost
$node->safe_psql('postgres', q{INSERT INTO performance_profiles (query_id, profile_data) VALUES ('cost-1',
	'{"operation_name": "chat", "duration_ms": 5, "metadata": {"model": "gpt-4o-mini", "input_tokens": 1000000, "output_tokens": 1000000}}')});
($rc, $o, $e) = run_prog($cli, '--dsn', $conninfo, 'report', '--window', '1h');
like($o, qr/^  1000000 input and 1000000 output tokens; cost 0\.75 USD, 0\.00\d+ USD per profile$/m,
	'the text report gives the tokens and the cost');
$node->safe_psql('postgres', q{DELETE FROM performance_profiles WHERE query_id = 'cost-1'});
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
($rc, $o, $e) = run_prog($cli, '--dsn', $node->connstr('template1'), 'report');
is($rc, 2, 'a database without the extension: exit 2');
like($e, qr/^ppprof: the ppprof extension is not installed in database "template1"$/m, 'and says so');
($rc, $o, $e) = run_prog($cli, '--dsn', $node->connstr('old_ppprof'), 'ingest', $jsonl);
is($rc, 2, 'ingest into ppprof 1.1: exit 2');
like($e, qr/ingest needs pp_ingest_jsonl, which this ppprof does not have: install ppprof 1\.3/, 'and says so');
is($node->safe_psql('old_ppprof', 'SELECT count(*) FROM performance_profiles'), '20',
	'ingest into ppprof 1.1: nothing stored');

#
# The readable commands: report, top, show, flamegraph; check's order;
# argument errors; --version; where make install puts the command
#

# every real number of a JSON value is rounded for reading: a whole number
# from 100 up, three significant digits below (the rule of cli_round)
sub float_noise
{
	my ($v, $path) = @_;
	my @bad;
	if (ref $v eq 'HASH')
	{
		push @bad, float_noise($v->{$_}, "$path.$_") for sort keys %$v;
	}
	elsif (ref $v eq 'ARRAY')
	{
		push @bad, float_noise($v->[$_], "$path\[$_]") for 0 .. $#$v;
	}
	elsif (defined $v && !ref $v && $v =~ /^-?\d+(\.\d+)?(e[-+]?\d+)?$/i)
	{
		my $ok = abs($v) >= 100 ? $v == int($v) : (0 + sprintf('%.3g', $v)) == $v;
		push @bad, "$path=$v" unless $ok;
	}
	return @bad;
}

# two names that differ only in their last characters, longer than any
# column the text had
my $long = 'supabase_rpc_match_documents_hybrid_search_with_reranking_v';
$node->safe_psql('postgres', qq{
	SELECT pp_ingest(jsonb_build_object('operation_name', 'rag', 'duration_ms', 700,
	         'metadata', jsonb_build_object('query_id', 'long-' || g),
	         'children', jsonb_build_array(
	           jsonb_build_object('operation_name', '${long}2', 'duration_ms', 333.333 + g / 7.0),
	           jsonb_build_object('operation_name', '${long}3', 'duration_ms', 111.111 + g / 3.0))))
	  FROM generate_series(1, 20) g});
my @ops = split /\n/, $node->safe_psql('postgres',
	q{SELECT operation FROM pp_operation_stats('1 hour') ORDER BY 1});
is(scalar(@ops), 5, 'five operations in the window: ' . join(', ', @ops));

($rc, $o, $e) = run_prog($cli, '--dsn', $conninfo, 'report', '--window', '1h');
is($rc, 0, 'report (text) exits 0') or diag($e);
my @sections = $o =~ /^(What changed|Where the time goes|Bottlenecks|Suggestions)/mg;
is("@sections", 'What changed Where the time goes Bottlenecks Suggestions',
	'the text report\'s sections: what changed, where the time goes, bottlenecks, suggestions');
my ($share) = $o =~ /^Where the time goes.*?\n(.*?)\n\n/ms;
for my $op (@ops)
{
	like($share // '', qr/^  \Q$op\E +\S+ +(?:\S+ +)?[\d.]+%/m,
		"where the time goes: $op, whole, with its bar and share")
	  or diag($o);
}
unlike($o, qr/\d\.\d*(?:0000|9999)\d/, 'no float noise in the text report');
unlike($o, qr/\d\.\d{4,}/, 'no number with more than three decimals');
my $has_changes = $node->safe_psql('postgres', q{SELECT pp_optimization_report('1 hour') ? 'changes'});
if ($has_changes eq 't')
{
	unlike($o, qr/has no "changes"/, 'the server compares windows: what changed is rendered');
	like($o, qr/^What changed: the window against the previous one \(.* to .*\)/m,
		'... against the previous window, whose range is given');
	($rc, $o, $e) = run_prog($cli, '--dsn', $conninfo, 'report', '--window', '1h', '--baseline', 'ci');
	is($rc, 0, 'report --baseline ci exits 0') or diag($e);
	like($o, qr/^What changed: the window against baseline "ci" \(/m, 'report --baseline: against the baseline');
}
else
{
	like($o, qr/^What changed\n  \(this server's report does not compare windows: it has no "changes"\)$/m,
		'a server whose report has no "changes": the text says so in its place');
}

($rc, $o, $e) = run_prog($cli, '--dsn', $conninfo, 'report', '--window', '1h', '--format', 'json');
is($rc, 0, 'report --format json exits 0') or diag($e);
like($o, qr/^\{\n  "/, 'the JSON is pretty-printed');
like($o, $has_changes eq 't' ? qr/^\{\n  "compared_with": \{/ : qr/^\{\n  "summary": \{/,
	'the JSON\'s keys in the order of the text (the first: ' . ($has_changes eq 't' ? 'compared_with' : 'summary') . ')');
$report = decode_json($o);
is_deeply([ float_noise($report, '$') ], [], 'every number of the JSON report is rounded for reading');
is_deeply([ float_noise({ a => 1891.3579999999999, b => 12.3, c => [ 0.0123, 1891, 0.12345 ] }, '$') ],
	[ '$.a=1891.358', '$.c[2]=0.12345' ], '(the check of the numbers finds float noise)');

# top
($rc, $o, $e) = run_prog($cli, '--dsn', $conninfo, 'top', '--window', '1h');
is($rc, 0, 'top exits 0') or diag($e);
like($o, qr/^operation +type +share of time +self time +total time +calls +avg ms +p50 ms +p95 ms +p99 ms +errors$/m,
	'top: share of time, self and total time, calls, avg, p50, p95, p99, errors');
my @top = map { (split / +/)[0] } grep { /^\S/ && !/^(ppprof top|operation)/ } split /\n/, $o;
is("@top", join(' ', split /\n/, $node->safe_psql('postgres',
			q{SELECT operation FROM pp_operation_stats('1 hour') ORDER BY self_total_ms DESC, operation})),
	'top: every operation, the most self time first');
like($o, qr/^\Q${long}2\E +\S+ +\S+ +[\d.]+% +[\d.]+ s +[\d.]+ s +20 /m, 'top: a long name whole, with its calls');
like($o, qr/^\Q${long}3\E /m, '... and the one that differs in its last character');
unlike($o, qr/\d\.\d{4,}/, 'top: no float noise');
($rc, $o, $e) = run_prog($cli, '--dsn', $conninfo, 'top', '--window', '1h', '--limit', '2');
is(scalar(grep { /^\S/ && !/^(ppprof top|operation|\()/ } split /\n/, $o), 2, 'top --limit 2: two operations');
like($o, qr/^\(3 more operations: --limit 5\)$/m, '... and how many more');

# check: the regressions first, with their calls
($rc, $o, $e) = run_prog($cli, '--dsn', $conninfo, 'check', '--baseline', 'ci', '--window', '1h');
is($rc, 1, 'check still finds the regression');
my @rows = grep { /  (ok|REGRESSION)$/ } split /\n/, $o;
like($o, qr/^operation +baseline ms +now ms +change +baseline calls +calls now/m, 'check: the columns');
like($o, qr/^llm_generation +\d+ +\d+ +\+\d+% +250 +500  REGRESSION$/m,
	'check: the regression with its calls in the baseline and now');
my $marks = join '', map { /REGRESSION$/ ? 'R' : 'o' } @rows;
like($marks, qr/^R+o+$/, "check: the regressions first ($marks)");
my @changes = map { /([-+]\d+)%/ ? $1 : 0 } grep { /REGRESSION$/ } @rows;
is_deeply(\@changes, [ sort { $b <=> $a } @changes ], 'check: the largest change first (' . join(' ', @changes) . ')');

# show: a profile with parallel children and a failed node, on its timeline
$node->safe_psql('postgres', q{
	SELECT pp_ingest('{"operation_name": "answer", "start_time": 1000.0, "end_time": 1001.0, "duration_ms": 1000,
	  "metadata": {"query_id": "show-1"},
	  "children": [
	    {"operation_name": "retrieve", "start_time": 1000.1, "end_time": 1000.7, "duration_ms": 600,
	     "children": [
	       {"operation_name": "search_a", "start_time": 1000.1, "end_time": 1000.25, "duration_ms": 150},
	       {"operation_name": "search_b", "start_time": 1000.1, "end_time": 1000.7, "duration_ms": 600}]},
	    {"operation_name": "llm", "start_time": 1000.7, "end_time": 1000.95, "duration_ms": 250,
	     "error": "RateLimitError: retry later"}]}')});
my $show_id = $node->safe_psql('postgres', q{SELECT id FROM performance_profiles WHERE query_id = 'show-1'});
for my $id ($show_id, 'show-1')
{
	($rc, $o, $e) = run_prog($cli, '--dsn', $conninfo, 'show', $id);
	is($rc, 0, "show $id exits 0") or diag($e);
	like($o, qr/^profile \Q$show_id\E \(query_id show-1\), stored /m, "show $id: the profile");
}
$o = Encode::decode('UTF-8', $o);
like($o, qr/^5 nodes, 1000 ms, 1 failed$/m, 'show: nodes, duration, failures');
# 48 cells for 1000 ms: a node covers the cells its interval touches
my %expect = (
	answer => [ 0, 0, 48, '0', '1000', '150', 0 ],
	retrieve => [ 1, 4, 34, '100', '600', '0', 0 ],
	search_a => [ 2, 4, 12, '100', '150', '150', 0 ],
	search_b => [ 2, 4, 34, '100', '600', '600', 1 ],
	llm => [ 1, 33, 46, '700', '250', '250', 1 ]);
my @lines = grep { /\|/ && !/^node/ } split /\n/, $o;
is(scalar(@lines), 5, 'show: one line per node');
for my $line (@lines)
{
	my ($indent, $name, $bar, $start, $ms, $self, $marks) =
	  $line =~ /^( *)(\S+) +\|([^|]*)\| +(\S+) +(\S+) +(\S+)(.*)$/;
	my $x = $expect{ $name // '' } or do { fail("show: unexpected line $line"); next; };
	my $first = index($bar, "\x{2588}");
	my $last = rindex($bar, "\x{2588}") + 1;
	is(length($indent), 2 * $x->[0], "show: $name indented by its depth");
	is(length($bar), 48, "show: $name has a 48-cell timeline");
	is("$first..$last", "$x->[1]..$x->[2]", "show: ${name}'s bar at its offset on the timeline");
	is("$start $ms $self", "$x->[3] $x->[4] $x->[5]", "show: ${name}'s start, duration and self time in ms");
	is($marks =~ /BOTTLENECK/ ? 1 : 0, $x->[6], "show: $name is " . ($x->[6] ? '' : 'not ') . 'a BOTTLENECK');
	is($marks =~ /ERROR: RateLimitError: retry later$/ ? 1 : 0, $name eq 'llm' ? 1 : 0,
		"show: $name " . ($name eq 'llm' ? 'has' : 'has no') . ' ERROR mark');
}
($rc, $o, $e) = run_prog($cli, '--dsn', $conninfo, 'show', 'no-such-query');
is($rc, 2, 'show of an unknown id: exit 2');
is($e, "ppprof: no profile has the id or query_id \"no-such-query\"\n", 'show: says so');

# flamegraph: the server's SVG, when it has pp_flamegraph
my $has_flame = $node->safe_psql('postgres', q{SELECT count(*) FROM pg_proc WHERE proname = 'pp_flamegraph'});
for my $args ([ '--profile', 'show-1' ], [ '--profile', $show_id ], [ '--window', '1h' ],
	[ '--before', '2h..1h', '--after', '1h..now' ])
{
	($rc, $o, $e) = run_prog($cli, '--dsn', $conninfo, 'flamegraph', @$args);
	if ($has_flame > 0)
	{
		is($rc, 0, "flamegraph @$args exits 0") or diag($e);
		like($o, qr/\A(<\?xml[^>]*\?>\s*)?(<!DOCTYPE[^>]*>\s*)?<svg\b.*<\/svg>\n\z/s, "flamegraph @$args writes an SVG");
	}
	else
	{
		is($rc, 2, "flamegraph @$args: no pp_flamegraph on this server, exit 2");
		like($e, qr/lacks a function this command \(ppprof [\d.]+\) uses/, "flamegraph @$args: says why");
	}
}

# argument errors: what is wrong, then the usage; checked before connecting
for my $case (
	[ [ 'report', '--format', 'yaml' ], '--format must be text, json or html, not "yaml"', 'report' ],
	[ [ 'report', '--window' ], '--window needs a value', 'report' ],
	[ [ 'report', '--bogus' ], 'unknown argument "--bogus" for report', 'report' ],
	[ [ 'check' ], 'check needs --baseline NAME', 'check' ],
	[ [ 'check', '--baseline', 'ci', '--max-regression', 'ten' ],
	  '--max-regression takes a percentage such as 10%, not "ten"', 'check' ],
	[ [ 'check', '--baseline', 'ci', '--metric', 'p42' ], '--metric must be p95, p99, p50 or avg, not "p42"', 'check' ],
	[ [ 'ingest' ], 'ingest needs a FILE ("-" for standard input)', 'ingest' ],
	[ [ 'ingest', 'a', 'b' ], 'ingest reads one file; "b" is a second one', 'ingest' ],
	[ [ 'ingest', 'a', '--batch', '0' ], '--batch must be a number between 1 and 100000, not "0"', 'ingest' ],
	[ [ 'show' ], 'show needs the ID of a profile (its id or its query_id)', 'show' ],
	[ [ 'show', 'a', 'b' ], 'show takes one ID; "b" is a second one', 'show' ],
	[ [ 'top', '--limit', '0' ], '--limit must be a positive number, not "0"', 'top' ],
	[ [ 'flamegraph' ], 'flamegraph needs --profile ID, --window W, or --before RANGE and --after RANGE', 'flamegraph' ],
	[ [ 'flamegraph', '--window', '1h', '--profile', 'x' ],
	  'flamegraph takes one of --profile, --window, or --before and --after', 'flamegraph' ],
	[ [ 'flamegraph', '--before', '2h..1h' ], '--before needs --after too', 'flamegraph' ],
	[ [ '--bogus' ], 'unknown option "--bogus"', 'main' ],
	[ [], 'no command given', 'main' ],
	[ [ "fr\e[2Jobnicate" ], 'unknown command "fr\x1b[2Jobnicate"', 'main' ])
{
	my ($args, $msg, $usage) = @$case;
	($rc, $o, $e) = run_prog($cli, '--dsn', 'host=/nonexistent', @$args);
	is($rc, 2, "ppprof @$args: exit 2");
	my $head = $usage eq 'main' ? 'ppprof [\d.]+: the command-line client' : "Usage: ppprof \\[--dsn DSN\\] $usage";
	like($e, qr/\Appprof: \Q$msg\E\n\n$head/, "ppprof @$args: says what is wrong, then the usage");
	is($o, '', "ppprof @$args: nothing on standard output");
}

# --version: the extension's version, from ppprof.control
my ($control) = do { local $/; open(my $fh, '<', "$root/ppprof.control") or die; <$fh> } =~ /^default_version = '([^']+)'/m;
($rc, $o, $e) = run_prog($cli, '--version');
is($rc, 0, '--version exits 0');
is($o, "ppprof $control\n", "--version prints ppprof.control's default_version ($control)");
is($node->safe_psql('postgres', q{SELECT extversion FROM pg_extension WHERE extname = 'ppprof'}), $control,
	'... which is the version of the extension installed');
my $pg_config = $ENV{PG_CONFIG} // 'pg_config';
my $bindir = `$pg_config --bindir`;
chomp $bindir;
($rc, $o, $e) = run_prog("$bindir/ppprof", '--version');
is($o, "ppprof $control\n", 'make install put the command in pg_config --bindir, the same version');

# make install links the command where it is on the PATH: /usr/local/bin
# when --bindir is a directory under /usr that is not on the PATH
for my $case ([ 'BINDIR=/usr/lib/postgresql/15/bin', '/usr/local/bin' ], [ 'BINDIR=/usr/pgsql-15/bin', '/usr/local/bin' ],
	[ 'BINDIR=/usr/bin', '' ], [ 'BINDIR=/home/me/pg/bin', '' ],
	[ 'BINDIR=/usr/lib/postgresql/15/bin DESTDIR=/stage', '' ],
	[ 'BINDIR=/usr/lib/postgresql/15/bin PATH_LINK_DIR=', '' ])
{
	($rc, $o, $e) = run_prog('make', '-s', '-C', "$root/client", "PG_CONFIG=$pg_config", split(/ /, $case->[0]),
		'path-link-dir');
	is($o, "$case->[1]\n", "make install with $case->[0]: link in " . ($case->[1] || 'no directory'));
}
my $inst = PostgreSQL::Test::Utils::tempdir;
my @dirs = ("BINDIR=$inst/bin", "LIBDIR=$inst/lib", "INCLUDEDIR=$inst/include");
($rc, $o, $e) = run_prog('make', '-s', '-C', "$root/client", "PG_CONFIG=$pg_config", @dirs,
	"PATH_LINK_DIR=$inst/localbin", 'install');
is($rc, 0, 'make install with a PATH_LINK_DIR') or diag($e);
like($o, qr/^the ppprof command is \Q$inst\E\/bin\/ppprof, linked from \Q$inst\E\/localbin\/ppprof$/m, 'it says where the command is');
is(readlink("$inst/localbin/ppprof"), "$inst/bin/ppprof", 'the link points to the command');
{
	local $ENV{PATH} = "$inst/localbin:/usr/bin:/bin";
	($rc, $o, $e) = run_prog('ppprof', '--version');
}
is($o, "ppprof $control\n", 'ppprof runs from the PATH');
unlink "$inst/localbin/ppprof";
open($fh, '>', "$inst/localbin/ppprof") or die;
print $fh "mine\n";
close $fh;
($rc, $o, $e) = run_prog('make', '-s', '-C', "$root/client", "PG_CONFIG=$pg_config", @dirs,
	"PATH_LINK_DIR=$inst/localbin", 'install');
is($rc, 0, 'make install beside a file of the same name exits 0');
like($e, qr/ppprof exists and is not a symbolic link: left alone; the ppprof command is \Q$inst\E\/bin\/ppprof/, '... and says it left the file alone');
ok(!-l "$inst/localbin/ppprof", '... which is still a file');

#
# The extension in schema "Prof", which is not on the search_path; then a
# search_path whose first schema holds traps named as what the client uses
#
$node->safe_psql('postgres', q{CREATE DATABASE prof ENCODING 'UTF8' LOCALE 'C' TEMPLATE template0});
$node->safe_psql('prof', q{CREATE SCHEMA "Prof"; CREATE EXTENSION ppprof SCHEMA "Prof"});
is($node->safe_psql('prof', q{
	SELECT count(*) FROM pg_proc WHERE proname = 'pp_ingest_jsonl' AND pg_function_is_visible(oid)}),
	'0', '"Prof": the extension is not on the search_path');
my $prof = $node->connstr('prof');
my $hostile = qq{$prof options='-csearch_path=evil,pg_catalog,"Prof",public'};

# Everything the command and the library do, against the extension in
# "Prof".  The first run captures the baseline before the library's trees
# (whose microsecond timings vary too much to compare).
sub client_in_prof
{
	my ($dsn, $how) = @_;
	my $before = $node->safe_psql('prof', 'SELECT count(*) FROM "Prof".performance_profiles');
	my ($rc, $o, $e) = run_prog($cli, '--dsn', $dsn, 'ingest', $jsonl, '--batch', 100);
	is($rc, 0, "$how: ingest exits 0") or diag($e);
	like($o, qr/^stored 250 profiles$/m, "$how: ingest stored 250 profiles");
	is($node->safe_psql('prof', 'SELECT count(*) FROM "Prof".performance_profiles'), $before + 250,
		"$how: they are in \"Prof\".performance_profiles");
	($rc, $o, $e) = run_prog($cli, '--dsn', $dsn, 'report', '--window', '1h', '--format', 'json');
	is($rc, 0, "$how: report --format json exits 0") or diag($e);
	is(eval { decode_json($o)->{summary}{total_profiled_queries} }, $before + 250,
		"$how: the report counts them");
	($rc, $o, $e) = run_prog($cli, '--dsn', $dsn, 'report', '--window', '1h');
	is($rc, 0, "$how: report exits 0") or diag($e);
	like($o, qr/Bottlenecks.*llm_generation/s, "$how: the text report lists the bottleneck");
	$node->safe_psql('prof', q{SELECT "Prof".pp_capture_baseline('ci', '1 hour')}) if $before == 0;
	($rc, $o, $e) = run_prog($cli, '--dsn', $dsn, 'check', '--baseline', 'ci', '--window', '1h');
	is($rc, 0, "$how: check exits 0") or diag("$o\n$e");
	like($o, qr/^llm_generation .* ok$/m, "$how: check compares the operations");
	($rc, $o, $e) = run_prog($prog, 'threads', $dsn, 2, 10);
	is($rc, 0, "$how: the library's program succeeds") or diag($e);
	my $s = stats_of((split /\n/, $o)[-1]);
	is("$s->{sent},$s->{dropped}", '20,0', "$how: the library sent its 20 trees");
	is($node->safe_psql('prof', 'SELECT count(*) FROM "Prof".performance_profiles'), $before + 270,
		"$how: they are stored too");
	return;
}

client_in_prof($prof, '"Prof"');

$node->safe_psql('prof', q{
CREATE SCHEMA evil;
CREATE SEQUENCE evil.hits;
CREATE FUNCTION evil.spy(what text) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_catalog.nextval('evil.hits');
  RAISE LOG 'ppprof-spy: % was called', what;
  RETURN true;
END $$;
CREATE FUNCTION evil.pp_ingest_jsonl(profiles text) RETURNS bigint LANGUAGE plpgsql AS
  $$BEGIN PERFORM evil.spy('pp_ingest_jsonl'); RETURN 0; END$$;
CREATE FUNCTION evil.pp_ingest_batch(profiles jsonb) RETURNS bigint LANGUAGE plpgsql AS
  $$BEGIN PERFORM evil.spy('pp_ingest_batch'); RETURN 0; END$$;
CREATE FUNCTION evil.pp_optimization_report("window" interval) RETURNS jsonb LANGUAGE plpgsql AS
  $$BEGIN PERFORM evil.spy('pp_optimization_report'); RETURN '{}'; END$$;
CREATE FUNCTION evil.pp_operation_stats("window" interval)
  RETURNS TABLE (operation text, calls bigint, avg_ms float8, p50_ms float8, p95_ms float8, p99_ms float8)
  LANGUAGE plpgsql AS $$BEGIN PERFORM evil.spy('pp_operation_stats'); END$$;
CREATE VIEW evil.performance_baselines AS
  SELECT * FROM "Prof".performance_baselines WHERE evil.spy('performance_baselines');
CREATE VIEW evil.performance_baseline_operations AS
  SELECT * FROM "Prof".performance_baseline_operations WHERE evil.spy('performance_baseline_operations');
CREATE FUNCTION evil.quote_ident(name) RETURNS text LANGUAGE plpgsql AS
  $$BEGIN PERFORM evil.spy('quote_ident'); RETURN 'evil'; END$$;
CREATE FUNCTION evil.text_eq(text, text) RETURNS boolean LANGUAGE plpgsql AS
  $$BEGIN PERFORM evil.spy('= (text)'); RETURN $1 OPERATOR(pg_catalog.=) $2; END$$;
CREATE OPERATOR evil.= (LEFTARG = text, RIGHTARG = text, FUNCTION = evil.text_eq);
CREATE FUNCTION evil.name_eq(name, name) RETURNS boolean LANGUAGE plpgsql AS
  $$BEGIN PERFORM evil.spy('= (name)'); RETURN $1 OPERATOR(pg_catalog.=) $2; END$$;
CREATE OPERATOR evil.= (LEFTARG = name, RIGHTARG = name, FUNCTION = evil.name_eq);
CREATE FUNCTION evil.oid_eq(oid, oid) RETURNS boolean LANGUAGE plpgsql AS
  $$BEGIN PERFORM evil.spy('= (oid)'); RETURN $1 OPERATOR(pg_catalog.=) $2; END$$;
CREATE OPERATOR evil.= (LEFTARG = oid, RIGHTARG = oid, FUNCTION = evil.oid_eq);
CREATE DOMAIN evil.text AS pg_catalog.text CHECK (evil.spy('domain text'));
CREATE DOMAIN evil.jsonb AS pg_catalog.jsonb CHECK (evil.spy('domain jsonb'));
});
# the traps work: unqualified names under this search_path reach each kind
my $log_at = -s $node->logfile;
$node->safe_psql('prof', q{
	SET search_path = evil, pg_catalog, "Prof", public;
	SELECT pp_optimization_report('1 hour'), 'a'::text = 'b', '{}'::jsonb,
	       quote_ident(extname), oid = oid, extname = 'ppprof',
	       (SELECT count(*) FROM performance_baselines)
	  FROM pg_extension});
for my $what ('pp_optimization_report', 'domain text', '= \(text\)', 'domain jsonb',
	'quote_ident', '= \(oid\)', '= \(name\)', 'performance_baselines')
{
	ok($node->log_contains("ppprof-spy: $what was called", $log_at),
		"hostile search_path: the trap $what works when a name is not qualified");
}
$node->safe_psql('prof', q{SELECT setval('evil.hits', 1, false)});
$log_at = -s $node->logfile;

client_in_prof($hostile, 'hostile search_path');
is($node->safe_psql('prof', 'SELECT is_called FROM evil.hits'), 'f',
	'hostile search_path: no trap ran');
pp_log_lacks($node, qr/ppprof-spy/, 'hostile search_path: no trap in the server log', $log_at);

#
# Names with control characters are printed escaped
#
$node->safe_psql('postgres', q{CREATE DATABASE esc ENCODING 'UTF8' LOCALE 'C' TEMPLATE template0});
$node->safe_psql('esc', 'CREATE EXTENSION ppprof');
my $esc = $node->connstr('esc');
my $escjsonl = "$tmp/escapes.jsonl";
open($fh, '>', $escjsonl) or die;
for my $i (1 .. 20)
{
	# (JSON escapes: the file itself is plain ASCII)
	print $fh qq({"operation_name": "rag", "duration_ms": 6000, "metadata": {"query_id": "esc-$i"}, "children": [{"operation_name": "llm\\u001b[2J\\u001b[31mFAKE-OK", "duration_ms": 2500}, {"operation_name": "llm\\u007f\\u009b31m\\\\x1b", "duration_ms": 2000}]}\n);
}
close $fh;
($rc, $o, $e) = run_prog($cli, '--dsn', $esc, 'ingest', $escjsonl);
is($rc, 0, 'escapes: ingest exits 0') or diag($e);
my $ansi = "llm\e[2J\e[31mFAKE-OK";
my $c1 = "llm\x7f\x{9b}31m\\x1b";
is($node->safe_psql('esc', q{
	SELECT string_agg(DISTINCT encode(convert_to(c->>'operation_name', 'UTF8'), 'hex'), ','
	                  ORDER BY encode(convert_to(c->>'operation_name', 'UTF8'), 'hex'))
	  FROM performance_profiles, jsonb_array_elements(profile_data->'children') c}),
	join(',', sort map { unpack('H*', $_) } ($ansi, Encode::encode('UTF-8', $c1))),
	'escapes: the names are stored as they were sent');
my $bs = chr(92);
my $ansi_shown = "llm${bs}x1b[2J${bs}x1b[31mFAKE-OK";
my $c1_shown = "llm${bs}x7f${bs}u009b31m${bs}${bs}x1b";
my $raw_control = qr/[\x00-\x09\x0b-\x1f\x7f]|\xc2[\x80-\x9f]/;

($rc, $o, $e) = run_prog($cli, '--dsn', $esc, 'report', '--window', '1h');
is($rc, 0, 'escapes: report exits 0') or diag($e);
unlike($o, $raw_control, 'escapes: report prints no control character');
like($o, qr/^  \Q$ansi_shown\E +llm_generation /m, 'escapes: a bottleneck\'s name is shown escaped');
like($o, qr/^  \Q$c1_shown\E +llm_generation /m,
	'escapes: DEL, C1 and the backslash too (an escape is never mistaken for a name)');
like($o, qr/^ +\d+\. \Q$ansi_shown\E: /m, 'escapes: and in the optimizations');

($rc, $o, $e) = run_prog($cli, '--dsn', $esc, 'report', '--window', '1h', '--format', 'json');
is($rc, 0, 'escapes: report --format json exits 0') or diag($e);
unlike($o, $raw_control, 'escapes: the JSON holds no control character');
$report = eval { decode_json($o) };
ok($report, 'escapes: the JSON is still JSON') or diag($@);
is(join(',', sort map { $_->{operation} } grep { $_->{operation} =~ /^llm/ } @{ $report->{top_bottlenecks} }),
	join(',', sort ($ansi, $c1)), 'escapes: ... with the names as they are');

$node->safe_psql('esc', q{SELECT pp_capture_baseline('esc', '1 hour')});
($rc, $o, $e) = run_prog($cli, '--dsn', $esc, 'check', '--baseline', 'esc', '--window', '1h');
is($rc, 0, 'escapes: check exits 0') or diag("$o\n$e");
unlike($o, $raw_control, 'escapes: check prints no control character');
like($o, qr/^\Q$ansi_shown\E +2500 +2500 +\+0% +20 +20  ok$/m, 'escapes: check shows the names escaped');
like($o, qr/^\Q$c1_shown\E +2000 /m, 'escapes: ... all of them');

($rc, $o, $e) = run_prog($cli, '--dsn', $esc, 'check', '--baseline', "no\e[2J\xc2\x9b");
is($rc, 2, 'escapes: an unknown baseline: exit 2');
is($e, "ppprof: baseline \"no${bs}x1b[2J${bs}u009b\" does not exist\n",
	'escapes: its name is escaped in the message');
($rc, $o, $e) = run_prog($cli, '--dsn', $esc, 'ingest', "$tmp/no\e[31m.jsonl");
is($rc, 2, 'escapes: a file that does not exist: exit 2');
like($e, qr/^ppprof: could not open ".*\Qno${bs}x1b[31m.jsonl\E": /, 'escapes: its path is escaped');

$node->stop;
done_testing();
