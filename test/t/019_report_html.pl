# test/t/019_report_html.pl -- ppprof report --format html, opened in
# headless Chromium.
#
# The browser is Debian's chromium, driven by puppeteer-core (pinned in
# test/browser/package-lock.json, installed with npm ci; without npm, the
# registry or /usr/bin/chromium the test fails).  test/browser/render.js
# opens the file offline and reports console messages, page errors, every
# request, the page's headings and text, and how much of the first
# screen's screenshot is not background.
#
# The data: 300 generated RAG profiles over six hours, and profiles whose
# operation names hold HTML (<script>, &, quotes) and an escape character.
# The file: one HTML document, no script element, no src or href but data:
# URLs, every operation of the window named (escaped for HTML, and an ESC
# written \x1b as in the terminal).  In the browser: no console error or
# warning, no page error, no request, no script; the sections in the
# order of the text report; the flame graph when the server has
# pp_flamegraph (the note saying it has not otherwise); the p95 charts; a
# screenshot that is not blank (over 5% of its pixels not background, over
# 20 colours).
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
my $cli = "$root/client/ppprof";
my ($out, $err) = ('', '');
ok(IPC::Run::run([ 'make', '-s', '-C', "$root/client" ], '>', \$out, '2>', \$err),
	'the ppprof command builds') or diag("$out\n$err");

# puppeteer-core: npm ci from the lock file (a failure fails the test)
my $npm_cache = PostgreSQL::Test::Utils::tempdir('npm');
# the system's CA store as well as Node's own (test/lib.sh says why)
$ENV{NODE_EXTRA_CA_CERTS} //= '/etc/ssl/certs/ca-certificates.crt'
  if -r '/etc/ssl/certs/ca-certificates.crt';
ok(IPC::Run::run(
		[ 'npm', 'ci', '--no-audit', '--no-fund', '--cache', $npm_cache, '--prefix', "$root/test/browser" ],
		'>', \$out, '2>', \$err),
	'npm ci installs the pinned puppeteer-core')
  or die "npm ci failed (npm and the npm registry are needed): $err";
ok(-x ($ENV{CHROMIUM} // '/usr/bin/chromium'), 'Debian\'s chromium is installed')
  or die 'no /usr/bin/chromium (apt-get install chromium; test/lib.sh installs it)';

my $node = pp_start_node('html');
$node->safe_psql('postgres', 'CREATE EXTENSION ppprof');
pp_install_generator($node);
is($node->safe_psql('postgres', q{SELECT ppgen.load(300, '6 hours')}), '300', '300 generated profiles');
my $html_name = q{<script>alert("x")</script> & 'q'};
my $esc_name = "llm\e[31m";
$node->safe_psql('postgres', qq{
	SELECT pp_ingest(jsonb_build_object('operation_name', 'rag', 'duration_ms', 900,
	         'children', jsonb_build_array(
	           jsonb_build_object('operation_name', \$n\$$html_name\$n\$, 'duration_ms', 500),
	           jsonb_build_object('operation_name', E'llm\\x1b[31m', 'duration_ms', 300))))
	  FROM generate_series(1, 10)});

my $tmp = PostgreSQL::Test::Utils::tempdir;
my $file = "$tmp/report.html";
my $ok = IPC::Run::run([ $cli, '--dsn', $node->connstr('postgres'), 'report', '--format', 'html' ],
	'>', $file, '2>', \$err);
ok($ok, 'report --format html exits 0') or diag($err);
chmod 0644, $file;
my $html = do { local $/; open(my $fh, '<:raw', $file) or die; <$fh> };

#
# The file
#
like($html, qr/\A<!DOCTYPE html>\n<html lang="en">/, 'one HTML document');
like($html, qr{</html>\n\z}, '... whole');
unlike($html, qr/<script/i, 'no script element');
my @urls = $html =~ /\b(?:src|href)="([^"]*)"/g;
is(scalar(grep { !/^data:/ } @urls), 0, 'no src or href but data: URLs (' . scalar(@urls) . ' seen)');
like($html, qr/Content-Security-Policy" content="default-src 'none'/, 'a policy that forbids any request');
like($html, qr/&lt;script&gt;alert\(&quot;x&quot;\)&lt;\/script&gt; &amp; &#39;q&#39;/,
	'a name holding HTML is escaped');
like($html, qr/llm\\x1b\[31m/, 'an escape character is written \x1b');
unlike($html, qr/\e/, 'no raw escape character');
my @ops = split /\n/, $node->safe_psql('postgres', q{SELECT operation FROM pp_operation_stats('24 hours') ORDER BY 1});
cmp_ok(scalar(@ops), '>=', 10, scalar(@ops) . ' operations in the window');
for my $op (@ops)
{
	my $h = $op;
	$h =~ s/\e/\\x1b/g;
	$h =~ s/&/&amp;/g;
	$h =~ s/</&lt;/g;
	$h =~ s/>/&gt;/g;
	$h =~ s/"/&quot;/g;
	$h =~ s/'/&#39;/g;
	like($html, qr/\Q$h\E/, "the file names operation $h");
}
(my $own = $html) =~ s{<div class="pp-flame">.*?</svg>\s*</div>}{}s;
unlike($own, qr/\d\.\d{5,}/, 'no float noise in the file (the server\'s flame graph aside)');

#
# In the browser
#
my $png = "$tmp/first-screen.png";
($out, $err) = ('', '');
$ok = IPC::Run::run([ 'node', "$root/test/browser/render.js", $file, $png ], '>', \$out, '2>', \$err);
ok($ok, 'render.js opens the report in headless Chromium') or diag($err);
my $r = eval { decode_json($out) } // {};
is_deeply($r->{console}, [], 'no console error or warning') or diag(explain($r->{console}));
is_deeply($r->{pageErrors}, [], 'no page error');
is_deeply($r->{requests}, [], 'no request (offline, nothing but the file)');
is($r->{scripts}, 0, 'no script element in the page');
is_deeply($r->{headings},
	[ 'What changed', 'Where the time goes', 'Flame graph of the window', 'p95 per hour',
	  'Bottlenecks', 'Suggestions, by priority' ],
	'the sections in the order of the text report');
like($r->{text} // '', qr/\Q<script>alert("x")<\/script> & 'q'\E/, 'the name holding HTML reads as text');
my $has_flame = $node->safe_psql('postgres',
	q{SELECT count(*) FROM pg_proc WHERE proname = 'pp_flamegraph' AND pronamespace = 'public'::regnamespace});
if ($has_flame > 0)
{
	cmp_ok($r->{flameFrames} // 0, '>', 0, 'the flame graph of the window is inline, with frames');
}
else
{
	like($r->{text} // '', qr/This server's ppprof has no pp_flamegraph/,
		'no pp_flamegraph on this server: the page says so');
}
my $trend_charts = () = $html =~ /<figure>/g;
cmp_ok($trend_charts, '>=', 2, "p95 per hour: $trend_charts charts");
is($r->{width} . 'x' . $r->{height}, '1280x900', 'the first screen is 1280 x 900');
cmp_ok($r->{nonBackground} // 0, '>', 0.05, 'the screenshot is not blank (' . ($r->{nonBackground} // 0) . ' of it drawn)');
cmp_ok($r->{colours} // 0, '>', 20, "... and has colours ($r->{colours})");
ok(-s $png, 'the screenshot is written');

$node->stop;
done_testing();
