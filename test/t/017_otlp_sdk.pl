# test/t/017_otlp_sdk.pl -- ppprof collect, the OTLP/HTTP receiver, fed by
# the official OpenTelemetry JavaScript SDK, and ppprof ingest --format otlp.
#
# The SDK (pinned in test/otlp/package-lock.json) is installed with npm ci;
# without npm or the registry the test fails.  test/otlp/rag.js runs a small
# RAG pipeline (a root span; retrieve holding embed and two concurrent
# vector searches; a rerank that fails with an exception; a generate span
# with gen_ai attributes), exported in three batches (forceFlush between
# spans, so the trace arrives in pieces), the second batch sent twice (an
# exporter retrying).  It runs once over JSON and once over protobuf, and
# prints each span as the SDK recorded it.  Each stored tree is checked
# node by node against that: names, nesting, order, durations to the
# nanosecond, errors, typed metadata; and pp_operation_stats exactly against
# the table (the retry counted nothing twice).
#
# Before that, collect's options (--help; bad ones exit 2).  Then, with raw
# HTTP: a request in the shape of the OTLP specification's example; partial
# success over JSON and protobuf (the protobuf encoded here by hand); empty
# requests; protobuf value types; 400 (bad JSON, bad protobuf, values
# nested too deep, a varint too long, a request pp_ingest_otlp refuses),
# 404, 405, 413 (by Content-Length and by what a gzip body inflates to),
# 415, each storing nothing; gzip over JSON and protobuf, and in two
# members; 503 with Retry-After while the server is stopped, and 200 again
# once it is back; SIGTERM while a request waits for a lock: the request is
# answered and stored, then exit 0; SIGINT: exit 0; one log line per
# problem, none quoting a profile's content.  Last, ingest --format otlp of
# a file-exporter file, and of a file with a bad line (nothing stored).
use strict;
use warnings;

use Cwd qw(abs_path);
use File::Basename qw(dirname);
use HTTP::Tiny;
use IO::Compress::Gzip qw(gzip $GzipError);
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

# the SDK: npm ci from the lock file (a failure fails the test)
my $npm_cache = PostgreSQL::Test::Utils::tempdir('npm');
# the system's CA store as well as Node's own (test/lib.sh says why)
$ENV{NODE_EXTRA_CA_CERTS} //= '/etc/ssl/certs/ca-certificates.crt'
  if -r '/etc/ssl/certs/ca-certificates.crt';
my $npm_ok = IPC::Run::run(
	[ 'npm', 'ci', '--no-audit', '--no-fund', '--cache', $npm_cache, '--prefix', "$root/test/otlp" ],
	'>', \$out, '2>', \$err);
ok($npm_ok, 'npm ci installs the pinned OpenTelemetry JavaScript SDK')
  or die "npm ci failed (npm and the npm registry are needed): $err";

my $node = pp_start_node('otlp');
$node->safe_psql('postgres', 'CREATE EXTENSION ppprof');
pp_create_exact_nodes($node);
my $conninfo = $node->connstr('postgres');
my $json = JSON::PP->new->canonical;
my $http = HTTP::Tiny->new(timeout => 60);

sub q1 { return $node->safe_psql('postgres', $_[0]); }

# Start ppprof collect on a free port; returns (handle, url, \stderr).
sub start_collect
{
	my (@opts) = @_;
	my ($o, $e) = ('', '');
	my $h = IPC::Run::start([ $cli, '--dsn', $conninfo, 'collect', '--listen', '127.0.0.1:0', @opts ],
		'>', \$o, '2>', \$e, IPC::Run::timeout(600));
	my $t = time;
	until ($e =~ /listening on 127\.0\.0\.1:\d+/ || time - $t > 60)
	{
		$h->pump_nb;
		select(undef, undef, undef, 0.1);
	}
	my ($port) = $e =~ /listening on 127\.0\.0\.1:(\d+)/;
	die "ppprof collect did not start: $e" unless $port;
	return ($h, "http://127.0.0.1:$port/v1/traces", \$e);
}

sub post
{
	my ($url, $ctype, $body, %hdr) = @_;
	return $http->request('POST', $url,
		{ headers => { 'Content-Type' => $ctype, %hdr }, content => $body });
}

for my $bad ([ '--help' ], [ '--listen', 'nowhere' ], [ '--max-body', '0' ], [ '--workers', '100' ], [ '--bogus' ])
{
	my ($o, $e) = ('', '');
	my $rc = IPC::Run::run([ $cli, '--dsn', $conninfo, 'collect', @$bad ], '>', \$o, '2>', \$e) ? 0 : $? >> 8;
	if ($bad->[0] eq '--help')
	{
		is($rc, 0, 'collect --help: exit 0');
		like($o, qr/^Usage: ppprof \[--dsn DSN\] collect/, 'collect --help: the usage');
	}
	else
	{
		is($rc, 2, "collect @$bad: exit 2");
		isnt($e, '', "collect @$bad: says why");
	}
}

my ($collect, $url, $log) = start_collect();
ok($collect, 'ppprof collect listens');

#
# The SDK's RAG pipeline, over JSON and over protobuf
#
my %sdk;    # protocol => [ spans as the SDK recorded them ]
for my $proto ('json', 'proto')
{
	my ($o, $e) = ('', '');
	my $ok = IPC::Run::run([ 'node', "$root/test/otlp/rag.js", $url, $proto, "rag-$proto" ],
		'>', \$o, '2>', \$e);
	ok($ok, "$proto: the instrumented pipeline exports without an error") or diag($e);
	like($o, qr/^exports 4$/m, "$proto: four exports (three batches, one sent twice)");
	$sdk{$proto} = [ map { $json->decode($_) } grep { /^\{/ } split /\n/, $o ];
	is(scalar(@{ $sdk{$proto} }), 7, "$proto: the SDK recorded seven spans");
}

# The stored tree, flattened: one row per node with its parent's span id.
sub stored_nodes
{
	my ($trace) = @_;
	my $rows = q1(qq{
WITH RECURSIVE n AS (
  SELECT profile_data AS node, NULL::text AS parent, ''::text AS path, 0 AS depth
    FROM performance_profiles WHERE query_id = '$trace'
  UNION ALL
  SELECT c.value, n.node->'metadata'->>'otel.span_id', n.path || '/' || lpad(c.ordinality::text, 3, '0'), n.depth + 1
    FROM n, jsonb_array_elements(n.node->'children') WITH ORDINALITY c)
SELECT node->'metadata'->>'otel.span_id', coalesce(parent, ''), node->>'operation_name',
       ((node->>'duration_ms')::numeric * 1000000)::bigint, coalesce(node->>'error', ''),
       ((node->>'start_time')::numeric * 1000000000)::bigint, node->'metadata'
  FROM n ORDER BY path});
	return [ map { [ split /\|/, $_, 7 ] } split /\n/, $rows ];
}

for my $proto ('json', 'proto')
{
	my @spans = @{ $sdk{$proto} };
	my %by_id = map { $_->{spanId} => $_ } @spans;
	my ($trace) = map { $_->{traceId} } @spans;
	is(q1("SELECT count(*) FROM performance_profiles WHERE query_id = '$trace'"), '1',
		"$proto: the trace is one profile");
	my $nodes = stored_nodes($trace);
	is(scalar(@$nodes), 7, "$proto: the profile holds seven nodes");
	is(join(',', sort map { $_->[0] } @$nodes), join(',', sort keys %by_id),
		"$proto: each span of the SDK is one node, once");
	my @order;
	for my $n (@$nodes)
	{
		my ($id, $parent, $name, $dur_ns, $error, $start_ns, $meta) = @$n;
		my $s = $by_id{$id} or next;
		is($name, $s->{name}, "$proto: span $id is named $s->{name}");
		is($parent, $s->{parentSpanId}, "$proto: $s->{name} ($id) hangs from its parent");
		is($dur_ns, $s->{end} - $s->{start},
			"$proto: $s->{name} ($id) lasts as the SDK timed it, to the nanosecond");
		is($start_ns, $s->{start}, "$proto: $s->{name} ($id) starts when the SDK said");
		is($error, $s->{status} == 2 ? $s->{message} : '',
			"$proto: $s->{name} ($id) " . ($s->{status} == 2 ? 'failed with its message' : 'did not fail'));
		my $m = $json->decode($meta);
		is($m->{'service.name'}, "rag-$proto", "$proto: $s->{name} ($id) has the resource's service.name");
		for my $k (sort keys %{ $s->{attributes} })
		{
			is($json->encode([ $m->{$k} ]), $json->encode([ $s->{attributes}{$k} ]),
				"$proto: $s->{name} ($id): attribute $k with its type");
		}
		push @order, "$parent>$id";
	}
	# children in start order (then span id), as the SDK's times give it
	my @expected = map { "$_->{parentSpanId}>$_->{spanId}" }
	  sort { $a->{start} <=> $b->{start} || $a->{spanId} cmp $b->{spanId} } @spans;
	my %pos;
	@pos{@expected} = 0 .. $#expected;
	my @kids_stored = map { my $p = $_; [ grep { /^\Q$p\E>/ } @order ] } map { $_->{spanId} } @spans;
	my @kids_sdk = map { my $p = $_; [ grep { /^\Q$p\E>/ } @expected ] } map { $_->{spanId} } @spans;
	is($json->encode(\@kids_stored), $json->encode(\@kids_sdk),
		"$proto: every node's children in start order");
	my ($root) = grep { $_->{parentSpanId} eq '' } @spans;
	is(q1("SELECT created_at = to_timestamp($root->{start}::numeric / 1e9) FROM performance_profiles WHERE query_id = '$trace'"),
		't', "$proto: created_at is the root span's start");
	is(q1("SELECT profile_data->'metadata' ? 'otel.incomplete' FROM performance_profiles WHERE query_id = '$trace'"),
		'f', "$proto: the trace is complete");
}

# statistics: each operation counted once per trace, although one batch
# was sent twice
is(q1(q{SELECT string_agg(operation || '=' || calls || '/' || errors, ',' ORDER BY operation)
          FROM pp_operation_stats('1 day')}),
	'embed=2/0,generate=2/0,rag.query=2/0,rerank=2/2,retrieve=2/0,vector_search=4/0',
	'statistics: calls and errors per operation, the retried batch counted once');
is(q1(q{SELECT string_agg(operation || '=' || operation_type, ',' ORDER BY operation)
          FROM pp_operation_stats('1 day')}),
	'embed=embedding_generation,generate=llm_generation,rag.query=other,rerank=retrieval,'
	  . 'retrieve=retrieval,vector_search=retrieval',
	'statistics: operation types from names and gen_ai / db attributes');
pp_check_exact($node, [ '1 day', '1 hour' ], 'SDK traces');

#
# Raw HTTP
#
my $profiles = sub { q1('SELECT count(*) FROM performance_profiles') };
my $before = $profiles->();
my $now_ns = q1(q{SELECT (extract(epoch FROM now()) * 1000000)::bigint * 1000});

# a request in the shape of the specification's example: resource, scope
# with attributes, a server span with a parent that never arrives
my $example = $json->encode({
	resourceSpans => [ {
		resource => { attributes => [ { key => 'service.name', value => { stringValue => 'spec.example' } } ] },
		scopeSpans => [ {
			scope => { name => 'spec.library', version => '1.0.0',
				attributes => [ { key => 'spec.scope.attribute', value => { stringValue => 'scope value' } } ] },
			spans => [ {
				traceId => '5B8EFFF798038103D269B633813FC60D', spanId => 'EEE19B7EC3C1B175',
				parentSpanId => 'EEE19B7EC3C1B176', flags => 257, name => 'spec server span',
				startTimeUnixNano => "" . ($now_ns - 2_000_000_000), endTimeUnixNano => "" . ($now_ns - 1_000_000_000),
				kind => 2,
				attributes => [ { key => 'spec.span.attribute', value => { stringValue => 'some value' } } ] } ] } ] } ] });
my $r = post($url, 'application/json', $example);
is($r->{status}, 200, 'specification example: 200');
is($r->{content}, '{"partialSuccess":{}}', 'specification example: nothing rejected');
is(q1(q{SELECT count(*) FROM performance_profiles WHERE query_id = '5b8efff798038103d269b633813fc60d'}), '0',
	'specification example: its trace waits for its root');
is(q1(q{SELECT pp_otlp_flush('0')}), '3', 'specification example: closed with the two SDK traces');
is(q1(q{SELECT profile_data->>'operation_name' || ',' || (profile_data->>'duration_ms')::numeric || ','
               || (profile_data->'metadata'->>'otel.incomplete') || ',' || (profile_data->'metadata'->>'spec.span.attribute')
               || ',' || (profile_data->'metadata'->>'otel.span_kind')
          FROM performance_profiles WHERE query_id = '5b8efff798038103d269b633813fc60d'}),
	'spec server span,1000,true,some value,server',
	'specification example: stored, incomplete, 1000 ms, its attributes');
$before = $profiles->();

# partial success over JSON: one good span, one that ends before it starts
my $good_bad = sub {
	my ($trace) = @_;
	return ({ traceId => $trace, spanId => '1111111111111111', name => 'ok span',
			  startTimeUnixNano => "" . ($now_ns - 5_000_000), endTimeUnixNano => "" . ($now_ns - 4_000_000) },
			{ traceId => $trace, spanId => '2222222222222222', parentSpanId => '1111111111111111',
			  name => 'bad span', startTimeUnixNano => "" . ($now_ns - 3_000_000),
			  endTimeUnixNano => "" . ($now_ns - 4_000_000) });
};
$r = post($url, 'application/json',
	$json->encode({ resourceSpans => [ { scopeSpans => [ { spans => [ $good_bad->('a' x 32) ] } ] } ] }));
is($r->{status}, 200, 'partial success (JSON): 200');
my $ps = eval { $json->decode($r->{content}) } // {};
is($ps->{partialSuccess}{rejectedSpans}, '1', 'partial success (JSON): one span rejected');
like($ps->{partialSuccess}{errorMessage} // '', qr/endTimeUnixNano is before startTimeUnixNano/,
	'partial success (JSON): the reason');

# protobuf, encoded here by hand
sub varint { my ($v) = @_; my $s = ''; while ($v >= 128) { $s .= chr(($v & 127) | 128); $v >>= 7 } return $s . chr($v) }
sub fld { my ($f, $bytes) = @_; return varint($f << 3 | 2) . varint(length $bytes) . $bytes }
sub fixed64 { my ($f, $v) = @_; return varint($f << 3 | 1) . pack('Q<', $v) }
sub pb_span
{
	my ($s) = @_;
	return fld(1, pack('H*', $s->{traceId})) . fld(2, pack('H*', $s->{spanId}))
	  . ($s->{parentSpanId} ? fld(4, pack('H*', $s->{parentSpanId})) : '') . fld(5, $s->{name})
	  . fixed64(7, $s->{startTimeUnixNano}) . fixed64(8, $s->{endTimeUnixNano});
}
my $pb = fld(1, fld(2, join('', map { fld(2, pb_span($_)) } $good_bad->('b' x 32))));
$r = post($url, 'application/x-protobuf', $pb);
is($r->{status}, 200, 'partial success (protobuf): 200');
is($r->{headers}{'content-type'}, 'application/x-protobuf', 'partial success (protobuf): a protobuf answer');
my $msg = 'span $.resourceSpans[0].scopeSpans[0].spans[1]: endTimeUnixNano is before startTimeUnixNano';
is(unpack('H*', $r->{content}), unpack('H*', fld(1, "\x08\x01" . fld(2, $msg))),
	'partial success (protobuf): rejected_spans 1 and the error message');
is($profiles->(), $before + 2, 'partial success: the good spans were stored');
$before = $profiles->();

# an empty request is a success, as OTLP asks
$r = post($url, 'application/json', '');
is("$r->{status} $r->{content}", '200 {"partialSuccess":{}}', 'an empty JSON request: 200');
$r = post($url, 'application/x-protobuf', '');
is("$r->{status}:" . length($r->{content}), '200:0', 'an empty protobuf request: 200');

# protobuf value types: negative int, double NaN, bytes, a kvlist holding an
# array, an empty value
sub kv { my ($k, $anyvalue) = @_; return fld(1, $k) . fld(2, $anyvalue) }
my $attrs = join('', map { fld(9, $_) }
	kv('neg', varint(3 << 3) . varint(~41)),
	kv('nan', varint(4 << 3 | 1) . pack('d<', 9**9**9 / 9**9**9)),
	kv('raw', fld(7, "\x00\xffpp")),
	kv('map', fld(6, fld(1, kv('list', fld(5, fld(1, fld(1, 'x')) . fld(1, varint(2 << 3) . varint(1))))))),
	kv('none', ''));
my ($one) = $good_bad->('7' x 32);
$r = post($url, 'application/x-protobuf', fld(1, fld(2, fld(2, pb_span($one) . $attrs))));
is("$r->{status}:" . length($r->{content}), '200:0', 'protobuf value types: 200, nothing rejected');
is(q1(q{SELECT jsonb_build_array(m->'neg', m->'nan', m->'raw', m->'map', m->'none')
          FROM (SELECT profile_data->'metadata' m FROM performance_profiles WHERE query_id = '77777777777777777777777777777777') s}),
	'[-42, "NaN", "AP9wcA==", {"list": ["x", true]}, null]',
	'protobuf value types: int64, NaN, base64 bytes, kvlist and array, empty value as JSON');

# gzip, JSON and protobuf
my ($gz_json, $gz_pb);
($one) = $good_bad->('c' x 32);
gzip(\$json->encode({ resourceSpans => [ { scopeSpans => [ { spans => [$one] } ] } ] }) => \$gz_json)
  or die $GzipError;
$r = post($url, 'application/json', $gz_json, 'Content-Encoding' => 'gzip');
is("$r->{status} $r->{content}", '200 {"partialSuccess":{}}', 'gzip JSON: 200, nothing rejected');
($one) = $good_bad->('d' x 32);
gzip(\fld(1, fld(2, fld(2, pb_span($one)))) => \$gz_pb) or die $GzipError;
$r = post($url, 'application/x-protobuf', $gz_pb, 'Content-Encoding' => 'gzip');
is("$r->{status}:" . length($r->{content}), '200:0', 'gzip protobuf: 200, an empty response (nothing rejected)');
is(q1(q{SELECT string_agg(query_id, ',' ORDER BY query_id) FROM performance_profiles WHERE query_id ~ '^(c+|d+)$'}),
	('c' x 32) . ',' . ('d' x 32), 'gzip: both traces stored');
# two gzip members, the second one bigger than the first's output buffer
my ($m1, $m2);
my @two = $good_bad->('6' x 32);
$two[0]{attributes} = [ { key => 'padding', value => { stringValue => 'p' x 3000 } } ];
my $two_json = $json->encode({ resourceSpans => [ { scopeSpans => [ { spans => [ $two[0] ] } ] } ] });
my $cut = 40;
my ($head, $tail) = (substr($two_json, 0, $cut), substr($two_json, $cut));
gzip(\$head => \$m1) or die $GzipError;
gzip(\$tail => \$m2) or die $GzipError;
$r = post($url, 'application/json', $m1 . $m2, 'Content-Encoding' => 'gzip');
is("$r->{status} $r->{content}", '200 {"partialSuccess":{}}', 'gzip in two members: 200');
is(q1(q{SELECT length(profile_data->'metadata'->>'padding') FROM performance_profiles WHERE query_id = '66666666666666666666666666666666'}),
	'3000', 'gzip in two members: the whole body was read');
$before = $profiles->();
my $held = q1('SELECT count(*) FROM performance_otlp_spans');

# what is refused stores nothing
my @refused = (
	[ 'JSON that does not parse', 400, 'application/json', '{"resourceSpans": [', qr/invalid JSON at line 1/ ],
	[ 'a JSON array', 400, 'application/json', '[]', qr/not a JSON object/ ],
	[ 'truncated protobuf', 400, 'application/x-protobuf', "\x0a\xff\x01\x12", qr/undecodable protobuf: length \d+ beyond the end/ ],
	[ 'protobuf with a group', 400, 'application/x-protobuf', "\x0b", qr/resourceSpans has wire type 3/ ],
	[ 'protobuf values nested 33 deep', 400, 'application/x-protobuf',
		fld(1, fld(2, fld(2, pb_span(($good_bad->('8' x 32))[0]) . fld(9, kv('deep', (sub { my $v = fld(1, 'x'); $v = fld(5, fld(1, $v)) for 1 .. 33; $v })->()))))),
		qr/values nested more than 32 deep/ ],
	[ 'protobuf, a varint of 11 bytes', 400, 'application/x-protobuf', "\x10" . ("\xff" x 10) . "\x01", qr/varint longer than 64 bits at byte 1/ ],
	[ 'protobuf values nested 32 deep, and a bad span', 200, 'application/x-protobuf',
		fld(1, fld(2, fld(2, pb_span(($good_bad->('8' x 32))[1]) . fld(9, kv('deep', (sub { my $v = fld(1, 'x'); $v = fld(5, fld(1, $v)) for 1 .. 32; $v })->()))))),
		qr/^\x0a.\x08\x01\x12.span \$\.resourceSpans\[0\]\.scopeSpans\[0\]\.spans\[0\]: endTimeUnixNano is before startTimeUnixNano\z/s ],
	[ 'a request pp_ingest_otlp refuses', 400, 'application/json',
		'{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "' . ('e' x 32)
		  . '", "spanId": "1111111111111111", "name": "x", "startTimeUnixNano": "soon", "endTimeUnixNano": "1"}]}]}]}',
		qr/invalid OTLP request at \$\.resourceSpans\[0\]\.scopeSpans\[0\]\.spans\[0\]\.startTimeUnixNano/ ],
	[ 'gzip that is not gzip', 400, 'application/json', 'not gzip', qr/not valid gzip/, 'Content-Encoding' => 'gzip' ],
	[ 'text/plain', 415, 'text/plain', $example, qr/unsupported content type/ ],
	[ 'Content-Encoding br', 415, 'application/json', $example, qr/unsupported content encoding/, 'Content-Encoding' => 'br' ],
);
for my $c (@refused)
{
	my ($what, $status, $ctype, $body, $re, %h) = @$c;
	$r = post($url, $ctype, $body, %h);
	is($r->{status}, $status, "$what: $status");
	like($r->{content}, $re, "$what: the answer says why");
}
$r = post("$url/extra", 'application/json', $example);
is($r->{status}, 404, 'another path: 404');
$r = $http->request('GET', $url);
is($r->{status}, 405, 'GET: 405');
is($profiles->(), $before, 'refused requests stored nothing');
is(q1('SELECT count(*) FROM performance_otlp_spans'), $held, '... and hold no span');

# 503 while the database is away, then 200 again
$node->stop;
$r = post($url, 'application/json', $example);
is($r->{status}, 503, 'database stopped: 503');
is($r->{headers}{'retry-after'}, '5', 'database stopped: Retry-After 5');
$node->start;
($one) = $good_bad->('f' x 32);
$r = post($url, 'application/json', $json->encode({ resourceSpans => [ { scopeSpans => [ { spans => [$one] } ] } ] }));
is($r->{status}, 200, 'database back: 200 (a new connection)');
is(q1(q{SELECT count(*) FROM performance_profiles WHERE query_id = 'ffffffffffffffffffffffffffffffff'}), '1',
	'database back: stored');

# SIGTERM while a request waits for a lock: it is finished, then the exit
my ($lin, $lout, $lerr) = ("BEGIN;\nLOCK TABLE performance_otlp_traces IN ACCESS EXCLUSIVE MODE;\n\\echo locked\n", '', '');
my $locker = IPC::Run::start([ 'psql', '-X', '-A', '-t', '-q', '-d', $conninfo ],
	'<', \$lin, '>', \$lout, '2>', \$lerr);
until ($lout =~ /locked/ || $lerr ne '')
{
	$locker->pump_nb;
	select(undef, undef, undef, 0.05);
}
($one) = $good_bad->('9' x 32);
my ($pout, $perr) = ('', '');
my $poster = IPC::Run::start([ 'perl', '-MHTTP::Tiny', '-e',
	'my $r = HTTP::Tiny->new(timeout => 300)->request("POST", $ARGV[0], {headers => {"Content-Type" => "application/json"}, content => $ARGV[1]}); print "$r->{status} $r->{content}"',
	$url, $json->encode({ resourceSpans => [ { scopeSpans => [ { spans => [$one] } ] } ] }) ],
	'>', \$pout, '2>', \$perr);
ok($node->poll_query_until('postgres',
	q{SELECT count(*) > 0 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%pp_ingest_otlp%'}),
	'SIGTERM: a request is in hand, waiting for the lock');
$collect->signal('TERM');
until ($$log =~ /finishing 1 request/)
{
	$collect->pump_nb;
	select(undef, undef, undef, 0.05);
}
ok(1, 'SIGTERM: ppprof collect finishes the request in hand');
$lin .= "COMMIT;\n";
$locker->finish;
$poster->finish;
is($pout, '200 {"partialSuccess":{}}', 'SIGTERM: the request in hand is answered 200');
ok(eval { $collect->finish; 1 }, 'SIGTERM: ppprof collect ends');
is(($collect->full_results)[0], 0, 'SIGTERM: exit status 0');
is(q1(q{SELECT count(*) FROM performance_profiles WHERE query_id = '99999999999999999999999999999999'}), '1',
	'SIGTERM: the request in hand was stored');
like($$log, qr/stopped\n\z/, 'SIGTERM: it says it stopped');
unlike($$log, qr/rag\.query|reranker|what is ppprof|spec server span|some value/,
	'the log never quotes a profile');
my @lines = split /\n/, $$log;
# 13 refused requests, 3 with rejected spans
is(scalar(grep { /^ppprof collect: (\d{3} to |could not connect)/ } @lines), 16,
	'one log line per refused request or rejected span') or diag($$log);

# 413, with a small --max-body
($collect, $url, $log) = start_collect('--max-body', '1k');
$r = post($url, 'application/json', '{"resourceSpans": []' . (' ' x 2000) . '}');
is($r->{status}, 413, '413: a body over --max-body');
my $bomb;
gzip(\('{"resourceSpans": []' . (' ' x 100000) . '}') => \$bomb) or die $GzipError;
cmp_ok(length($bomb), '<', 1024, '413: the gzip body is smaller than --max-body ...');
$r = post($url, 'application/json', $bomb, 'Content-Encoding' => 'gzip');
is($r->{status}, 413, '413: ... but inflates beyond it');
like($r->{content}, qr/inflates to more than --max-body/, '413: the answer says why');
$r = post($url, 'application/json', '{"resourceSpans": []}');
is("$r->{status} $r->{content}", '200 {"partialSuccess":{}}', 'a small body still passes');
$collect->signal('INT');
$collect->finish;
is(($collect->full_results)[0], 0, 'SIGINT: exit status 0');

#
# ingest --format otlp: the file exporter's JSON lines
#
my $dir = PostgreSQL::Test::Utils::tempdir('otlp');
my $line = sub {
	my ($trace, @spans) = @_;
	return $json->encode({ resourceSpans => [ { resource => { attributes => [ { key => 'service.name', value => { stringValue => 'file' } } ] },
		scopeSpans => [ { spans => [ map { { traceId => $trace, %$_ } } @spans ] } ] } ] });
};
my $t0 = $now_ns - 60_000_000;
open(my $fh, '>', "$dir/traces.jsonl") or die;
print $fh $line->('1' x 32, { spanId => 'a000000000000002', parentSpanId => 'a000000000000001', name => 'file child',
	startTimeUnixNano => "" . ($t0 + 1000), endTimeUnixNano => "" . ($t0 + 2_001_000) }), "\n";
print $fh "\n";
print $fh $line->('1' x 32, { spanId => 'a000000000000001', name => 'file root',
	startTimeUnixNano => "$t0", endTimeUnixNano => "" . ($t0 + 3_000_000) }), "\n";
close $fh;
my ($rc, $o, $e) = (0, '', '');
$rc = IPC::Run::run([ $cli, '--dsn', $conninfo, 'ingest', '--format', 'otlp', "$dir/traces.jsonl" ], '>', \$o, '2>', \$e) ? 0 : $? >> 8;
is($rc, 0, 'ingest --format otlp: succeeds') or diag($e);
is($o, "2 requests: 2 spans accepted, 0 rejected; 1 profiles stored, 0 updated\n", 'ingest --format otlp: what it did');
is(q1(q{SELECT profile_data->>'operation_name' || '>' || (profile_data->'children'->0->>'operation_name') || ','
               || (profile_data->'children'->0->>'duration_ms')::numeric
          FROM performance_profiles WHERE query_id = '11111111111111111111111111111111'}),
	'file root>file child,2', 'ingest --format otlp: the tree, across two lines');

$before = $profiles->();
open($fh, '>', "$dir/bad.jsonl") or die;
print $fh $line->('2' x 32, { spanId => 'b000000000000001', name => 'never', startTimeUnixNano => "$t0",
	endTimeUnixNano => "" . ($t0 + 1000) }), "\n{\"resourceSpans\": [\n";
close $fh;
$rc = IPC::Run::run([ $cli, '--dsn', $conninfo, 'ingest', '--format', 'otlp', "$dir/bad.jsonl" ], '>', \$o, '2>', \$e) ? 0 : $? >> 8;
is($rc, 1, 'ingest --format otlp, a bad line: exit 1');
like($e, qr/line 2 of ".*bad\.jsonl" is not a JSON object/, 'ingest --format otlp, a bad line: named');
is($profiles->(), $before, 'ingest --format otlp, a bad line: nothing stored');

$node->stop;
done_testing();
