# test/t/018_visualize.pl -- the flame graphs and exports, checked by tools
# other than ppprof.
#
# Profiles: 200 generated ones (test/gen/rag_profiles.sql) in the hour
# before the last, 100 in the last hour of which half have a slow
# vector_search (the generator's 6x case), and hostile ones: names with
# markup, a CDATA end, non-ASCII and control characters; 100 levels deep;
# 40 overlapping children with children of their own; no start times; a
# child longer than its parent; 3,000 nodes.  Each profile's
# pp_flamegraph, pp_speedscope and pp_chrome_trace, pp_flamegraph of the
# window and pp_flamegraph_diff of the two hours are written to files and
# checked by test/viz/check.js with pinned npm packages (test/viz/
# package-lock.json, installed with npm ci; without npm or the registry the
# test fails): every SVG parses as XML (saxes, strict) and has no script
# or link, no frame is wider than its parent or outside it, widths are
# proportional to time within a pixel, no two frames of a row overlap;
# speedscope's output validates against the schema shipped in the
# speedscope package (ajv) and its events open and close like a stack; the
# Chrome trace is JSON whose complete events nest on every row.  The counts
# are compared with the database (one frame, one speedscope open, one
# Chrome event per node; one window frame per path), the SVGs are parsed
# again by Python's xml.etree, and the checker is shown to fail on a broken
# SVG, a frame wider than its parent and an unbalanced speedscope file.
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

# the checkers: npm ci from the lock file (a failure fails the test)
my $npm_cache = PostgreSQL::Test::Utils::tempdir('npm');
# the system's CA store as well as Node's own (test/lib.sh says why)
$ENV{NODE_EXTRA_CA_CERTS} //= '/etc/ssl/certs/ca-certificates.crt'
  if -r '/etc/ssl/certs/ca-certificates.crt';
my $npm_ok = IPC::Run::run(
	[ 'npm', 'ci', '--no-audit', '--no-fund', '--cache', $npm_cache, '--prefix', "$root/test/viz" ],
	'>', \$out, '2>', \$err);
ok($npm_ok, 'npm ci installs the pinned checkers (speedscope, ajv, saxes)')
  or die "npm ci failed (npm and the npm registry are needed): $err";

my $node = pp_start_node('viz');
$node->safe_psql('postgres', 'CREATE EXTENSION ppprof');
pp_install_generator($node);

sub q1 { return $node->safe_psql('postgres', $_[0]); }

# the generated profiles: the hour before the last, then the last hour
# with half of the vector searches slow
q1(q{SELECT ppgen.load(200, '1 hour', now() - '1 hour'::interval)});
q1(q{
	INSERT INTO performance_profiles (query_id, profile_data, created_at)
	SELECT 'after-' || g, ppgen.profile(g, t), t
	  FROM (SELECT g, now() - '59 minutes'::interval
	                  + (row_number() OVER (ORDER BY g)) * '30 seconds'::interval AS t
	          FROM ((SELECT g FROM generate_series(1, 4000) AS g
	                  WHERE ppgen.u(g, 5) < 0.05 ORDER BY g LIMIT 50)
	                UNION ALL
	                (SELECT g FROM generate_series(1, 4000) AS g
	                  WHERE ppgen.u(g, 5) >= 0.05 ORDER BY g LIMIT 50)) s) s2});
is(q1(q{SELECT count(*) FROM performance_profiles WHERE query_id LIKE 'after-%'}), 100,
	'100 profiles in the last hour');

# hostile profiles
my $json = JSON::PP->new->canonical->ascii;
my %hostile;
my $t0 = 1764151200;

$hostile{names} = {
	operation_name => "root <svg onload=\"alert(1)\"> & ]]>",
	start_time => $t0, duration_ms => 100,
	children => [
		{ operation_name => "\x{65e5}\x{672c}\x{8a9e} \x{2713} caf\x{e9}", start_time => $t0, duration_ms => 30 },
		{ operation_name => "ctl\x{01}\x{1f}x", start_time => $t0 + 0.03, duration_ms => 30,
		  error => "<script>alert('x')</script> & \"quotes\"" },
		{ operation_name => "<![CDATA[ x ]]>", start_time => $t0 + 0.06, duration_ms => 30 } ] };

my $deep = { operation_name => 'level100', start_time => $t0 + 0.099, duration_ms => 1 };
for my $d (reverse 1 .. 99)
{
	$deep = { operation_name => "level$d", start_time => $t0 + ($d - 1) / 1000,
		duration_ms => 100 - ($d - 1), children => [$deep] };
}
$hostile{deep} = $deep;

$hostile{parallel} = {
	operation_name => 'fan_out', start_time => $t0, duration_ms => 500,
	children => [ map {
		my $s = $t0 + ($_ % 7) * 0.01;
		{ operation_name => "worker_$_", start_time => $s, duration_ms => 100 + $_ * 5,
		  children => [
			{ operation_name => 'fetch', start_time => $s, duration_ms => 40 },
			{ operation_name => 'parse', start_time => $s + 0.04, duration_ms => 50 + $_ } ] }
	} 0 .. 39 ] };

$hostile{untimed} = {
	operation_name => 'no_times', duration_ms => 60,
	children => [
		{ operation_name => 'first', duration_ms => 20, children => [ { operation_name => 'inner', duration_ms => 5 } ] },
		{ operation_name => 'second', duration_ms => 25 },
		{ operation_name => 'too_long', duration_ms => 40 } ] };

$hostile{many} = {
	operation_name => 'many', start_time => $t0, duration_ms => 3000,
	children => [ map { { operation_name => "op_$_", start_time => $t0 + $_ / 1000, duration_ms => 0.9 } } 0 .. 2998 ] };

for my $label (sort keys %hostile)
{
	my $doc = $json->encode($hostile{$label});
	$doc =~ s/'/''/g;
	q1("INSERT INTO performance_profiles (query_id, profile_data) VALUES ('hostile-$label', '$doc')");
}

my $dir = PostgreSQL::Test::Utils::tempdir('viz');
my @files;

sub write_file
{
	my ($name, $content) = @_;
	open my $fh, '>:raw', "$dir/$name" or die "$dir/$name: $!";
	print $fh $content;
	close $fh;
	push @files, "$dir/$name";
	return "$dir/$name";
}

# The profiles drawn: each hostile one, and generated ones (two of each
# hour, and the first with a failed llm call)
my %nodes;
my @picked = split /\n/, q1(q{
	SELECT query_id || ' ' || id || ' ' ||
	       (SELECT count(*) FROM pp_analyze_profile(profile_data))
	  FROM performance_profiles
	 WHERE query_id LIKE 'hostile-%' OR query_id IN ('q-1', 'q-150')
	    OR id IN (SELECT id FROM performance_profiles WHERE query_id LIKE 'after-%'
	               ORDER BY created_at LIMIT 2)
	    OR id = (SELECT id FROM performance_profiles
	              WHERE profile_data::text LIKE '%RateLimitError%' ORDER BY query_id LIMIT 1)
	 ORDER BY 1});
cmp_ok(scalar(@picked), '>=', 9, 'the profiles to draw are there');
for my $line (@picked)
{
	my ($qid, $id, $n) = split / /, $line;
	$nodes{$qid} = $n;
	write_file("profile-$qid.svg", q1("SELECT pp_flamegraph('$id'::uuid)"));
	write_file("speedscope-$qid.json", q1("SELECT pp_speedscope('$id'::uuid)"));
	write_file("chrome-$qid.json", q1("SELECT pp_chrome_trace('$id'::uuid)"));
}
write_file('window.svg', q1(q{SELECT pp_flamegraph('3 hours'::interval)}));
my $diff = write_file('diff.svg', q1(q{
	SELECT pp_flamegraph_diff(tstzrange(now() - '2 hours'::interval, now() - '1 hour'::interval),
	                          tstzrange(now() - '1 hour'::interval, now()))}));
# the paths the window graph can draw: those whose parents are all rows too
# (the fold row beyond ppprof.max_window_paths has no path, and a path whose
# parent was folded has no place; the subtitle counts both)
my $paths = q1(q{
	WITH RECURSIVE p AS (SELECT * FROM pp_path_stats('3 hours')),
	d AS (SELECT path_array FROM p WHERE depth = 1
	      UNION ALL
	      SELECT c.path_array FROM p c JOIN d
	          ON c.depth = cardinality(d.path_array) + 1
	         AND c.path_array[1:cardinality(d.path_array)] = d.path_array)
	SELECT count(*) FROM d});
my $hidden = q1(q{SELECT count(*) FROM pp_path_stats('3 hours')}) - $paths;

# the checker
my $ok = IPC::Run::run([ 'node', "$root/test/viz/check.js", @files ], '>', \$out, '2>', \$err);
ok($ok, 'check.js finds no problem') or diag($err);
my $summary;
for my $line (split /\n/, $out)
{
	if ($line =~ /^ok - (.*)$/) { pass($1); }
	elsif ($line =~ /^not ok - (.*)$/) { fail($1); }
	elsif ($line =~ /^summary (.*)$/) { $summary = decode_json($1); }
}
ok(defined $summary, 'check.js printed its summary') or BAIL_OUT('no summary');

# counts against the database
for my $qid (sort keys %nodes)
{
	is($summary->{"profile-$qid.svg"}{frames}, $nodes{$qid}, "$qid: one frame per node");
	is($summary->{"speedscope-$qid.json"}{opens}, $nodes{$qid}, "$qid: one speedscope open per node");
	is($summary->{"chrome-$qid.json"}{events}, $nodes{$qid}, "$qid: one Chrome event per node");
}
is($summary->{'window.svg'}{frames}, $paths, 'window graph: one frame per call path');
cmp_ok($hidden, '>', 0, 'the window holds more paths than ppprof.max_window_paths');
like(slurp_file("$dir/window.svg"), qr/not drawn: $hidden rows? of paths beyond ppprof\.max_window_paths/,
	'and the window graph says how many rows it did not draw');
cmp_ok($summary->{'profile-hostile-parallel.svg'}{rows}, '>=', 7,
	'the 40 overlapping workers take separate rows');
cmp_ok($summary->{'chrome-hostile-parallel.json'}{rows}, '>', 1,
	'and separate Chrome threads');
is($summary->{'profile-hostile-deep.svg'}{rows}, 100, 'the deep profile has one row per level');
my @tips = @{ $summary->{'profile-hostile-names.svg'}{tooltips} };
like($tips[2], qr/\nerror: <script>alert\('x'\)<\/script> & "quotes"$/,
	'the error text reads back exactly from the tooltip');
like($tips[0], qr/^root <svg onload="alert\(1\)"> & \]\]>\n/, 'so does the hostile name');
like($tips[1], qr/^\x{65e5}\x{672c}\x{8a9e} \x{2713} caf\x{e9}\n/, 'and the non-ASCII one');
like($tips[2], qr/^ctl\x{fffd}\x{fffd}x\n/, 'control characters read as U+FFFD');

# the regression shows: vector_search slower, in red
my $svg = do { local $/; open my $fh, '<', $diff or die; <$fh> };
like($svg, qr/<g class="frame"[^>]*><title>rag_pipeline &gt; retrieval &gt; vector_search\n[^<]*change: \+[^<]*<\/title><rect [^>]*fill="#([0-9a-f]{2})/,
	'diff: vector_search is labelled slower');
my ($red) = $svg =~ /<title>rag_pipeline &gt; retrieval &gt; vector_search\n[^<]*<\/title><rect [^>]*fill="#([0-9a-f]{6})"/;
ok(defined $red && hex(substr($red, 0, 2)) > hex(substr($red, 4, 2)) + 60, "diff: vector_search is red (#$red)");

# every SVG parses with Python's xml.etree as well (Debian's python3; a
# second parser, skipped where there is no Python)
my ($python) = grep { -x } ('/usr/bin/python3', map { "$_/python3" } split /:/, $ENV{PATH});
SKIP:
{
	skip 'no python3', 1 unless $python;
	$ok = IPC::Run::run([ $python, '-c',
		'import sys, xml.etree.ElementTree as ET; [ET.parse(f) for f in sys.argv[1:]]; print(len(sys.argv) - 1)',
		grep { /\.svg$/ } @files ], '>', \$out, '2>', \$err);
	chomp $out;
	ok($ok, "xml.etree parses every SVG ($out files)") or diag($err);
}

# the checker can fail: a raw '<' in a label, a child wider than its
# parent, a speedscope close out of order
my $good = do { local $/; open my $fh, '<', "$dir/profile-q-1.svg" or die; <$fh> };
my $broken = $good =~ s/(<text x="[^"]*" y="[^"]*">)rag_pipeline/$1rag<pipeline/r;
my $wider = $good =~ s/(<g class="frame" id="f1" [^>]*>.*?<rect x="[^"]*" y="[^"]*" width=")[^"]*/${1}2000.000/rs;
my $ss = decode_json(do { local $/; open my $fh, '<', "$dir/speedscope-q-1.json" or die; <$fh> });
my $events = $ss->{profiles}[0]{events};
@$events[ 1, 2 ] = @$events[ 2, 1 ];
my $bad_dir = PostgreSQL::Test::Utils::tempdir('viz-bad');
for ([ 'broken.svg', $broken ], [ 'wider.svg', $wider ], [ 'speedscope-bad.json', encode_json($ss) ])
{
	open my $fh, '>:raw', "$bad_dir/$_->[0]" or die;
	print $fh $_->[1];
	close $fh;
}
$ok = IPC::Run::run([ 'node', "$root/test/viz/check.js", map { "$bad_dir/$_" } qw(broken.svg wider.svg speedscope-bad.json) ],
	'>', \$out, '2>', \$err);
ok(!$ok, 'check.js fails on broken files');
like($out, qr/^not ok - broken\.svg parses as XML/m, 'it sees the raw <');
like($out, qr/^not ok - wider\.svg: no child wider than its parent/m, 'it sees the wide child');
like($out, qr/^not ok - speedscope-bad\.json: events balanced/m, 'it sees the unbalanced events');

$node->stop;
done_testing();
