# test/t/001_dump_restore.pl -- a database using ppprof survives pg_dump and
# pg_restore (custom format) and pg_dump | psql (plain format) the way a user
# runs them: no --disable-triggers, no --clean, into a new database.
#
# The source database holds generated profiles analysed under the seeded
# configuration, then configuration edits (an updated seeded threshold, a
# threshold for an operation name, a category pattern, a disabled and a new
# catalogue entry), then profiles analysed under the edited configuration,
# a pp_ingest'ed profile and a performance_bottlenecks row.  After each
# restore, every table of the extension must hold exactly the same rows, the
# edits must be in force, and pp_ingest must analyse a profile exactly as the
# source database does.
use strict;
use warnings;

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PPTest;

# no background rollups: the rollups written by pp_rollup() below must be
# restored as they were, not rewritten meanwhile (TAP 021 restores with the
# worker on)
my $node = pp_start_node('dump_restore', conf => 'ppprof.rollup_worker = off');

# The client programs talk to this node.
pp_client_env($node, undef);

# Run a client program; returns (success, stdout, stderr).
sub run_client
{
	my ($cmd, @redirects) = @_;
	my ($out, $err) = ('', '');
	my $ok = IPC::Run::run($cmd, @redirects, '>', \$out, '2>', \$err);
	note(join(' ', @$cmd) . " -> " . ($ok ? 'ok' : "exit $?"));
	return ($ok, $out, $err);
}

# The tables of the extension, as pg_extension_config_dump registered them.
$node->safe_psql('postgres', 'CREATE DATABASE src');
$node->safe_psql('src', 'CREATE EXTENSION ppprof');
my @tables = split /\n/, $node->safe_psql('src', q{
	SELECT c.relname FROM pg_extension e, unnest(e.extconfig) AS r(oid)
	  JOIN pg_class c ON c.oid = r.oid
	 WHERE e.extname = 'ppprof' ORDER BY 1});
is_deeply(\@tables,
	[qw(model_prices operation_attribute_categories operation_categories operation_dimensions optimization_catalog
		performance_alert_rules performance_alerts performance_baseline_operations
		performance_baselines performance_bottlenecks performance_otlp_spans
		performance_otlp_traces performance_profiles performance_rollup_stale
		performance_rollups performance_snapshots performance_thresholds usage_keys)],
	'every table of the extension is a configuration table that pg_dump dumps');

# The seeded configuration, to check later that untouched seeded rows are
# restored exactly once.
my %seed_count;
$seed_count{$_} = $node->safe_psql('src', "SELECT count(*) FROM $_")
  for qw(performance_thresholds operation_categories optimization_catalog);

#
# Source database
#
my ($ok, $out, $err) = pp_install_generator($node, 'src');
is($err, '', 'generator installs without messages');

# profiles analysed under the seeded configuration
is($node->safe_psql('src', 'SELECT ppgen.load(200)'), '200', '200 generated profiles');

# configuration edits
$node->safe_psql('src', q{
	UPDATE performance_thresholds SET threshold_ms = 3000 WHERE operation_type = 'llm_generation';
	INSERT INTO performance_thresholds (operation_type, threshold_ms) VALUES ('vector_search', 250);
	INSERT INTO operation_categories (pattern, operation_type) VALUES ('guardrail%', 'api_call');
	UPDATE optimization_catalog SET enabled = false
	 WHERE operation_type = 'llm_generation' AND suggestion = 'Use prompt caching';
	INSERT INTO optimization_catalog (operation_type, suggestion, effort, expected_reduction_pct)
	VALUES ('retrieval', 'Precompute answers to frequent questions', 'high', 70);
	UPDATE usage_keys SET priority = 9 WHERE metadata_key = 'model';
	INSERT INTO usage_keys (metadata_key, usage_field) VALUES ('usage.prompt', 'input_tokens');
	UPDATE model_prices SET input_usd_per_million = 2 WHERE model_pattern = 'gpt-4o';
	INSERT INTO model_prices (model_pattern, valid_from, input_usd_per_million, output_usd_per_million)
	VALUES ('gpt-4o', '2027-01-01', 1.5, 6);
	UPDATE operation_dimensions SET key_path = '{deploy,release}' WHERE name = 'release';
	INSERT INTO operation_dimensions (name, key_path) VALUES ('tenant', '{tenant}');
});

# profiles analysed under the edited configuration
is($node->safe_psql('src', q{SELECT ppgen.load(100, '1 hour')}), '100',
	'100 more generated profiles');

# rows in the operations tables (1.1), two of them referencing others
is($node->safe_psql('src', q{
	SELECT count(*) FROM pp_snapshot();
	SELECT pp_capture_baseline('before-dump', '1 day');
	INSERT INTO performance_alert_rules (name, operation, metric, threshold, "window")
	VALUES ('openai slow', 'openai_chat', 'p95', 1, '1 hour');
	SELECT count(*) FROM pp_check_alerts();
	SELECT (SELECT count(*) FROM performance_snapshots) || ',' ||
	       (SELECT count(*) FROM performance_baselines) || ',' ||
	       (SELECT count(*) > 5 FROM performance_baseline_operations) || ',' ||
	       (SELECT count(*) FROM performance_alerts WHERE status = 'firing');
}), "1
10
1
1,1,true,1", 'a snapshot, a baseline and a firing alert to dump');

# A profile whose analysis depends on every edit: guardrail_check is an
# api_call (1000 ms) only through the new pattern; vector_search exceeds only
# its own 250 ms, not retrieval's 500 ms; llm_generation and openai_chat
# exceed the seeded 2000 ms but not the raised 3000 ms, chat_completion
# exceeds both; llm_generation's suggestions lack the disabled one and
# retrieval's include the added one.
my $profile = q{{"operation_name": "rag_pipeline", "duration_ms": 7800,
 "metadata": {"query_id": "dump-restore-1"},
 "children": [
  {"operation_name": "guardrail_check", "duration_ms": 1200},
  {"operation_name": "retrieval", "duration_ms": 450,
   "children": [{"operation_name": "vector_search", "duration_ms": 300}]},
  {"operation_name": "llm_generation", "duration_ms": 2600,
   "children": [{"operation_name": "openai_chat", "duration_ms": 2590}]},
  {"operation_name": "chat_completion", "duration_ms": 3500}]}};
my $ingest = "SELECT pp_ingest('$profile')";

# What the analysis of $profile must be under the edited configuration.
my $expected_bottlenecks =
  'guardrail_check:api_call:1000,vector_search:retrieval:250,chat_completion:llm_generation:3000';
my $bottlenecks_of = q{
	SELECT string_agg(b->>'operation' || ':' || (b->>'operation_type') || ':' || (b->>'threshold_ms'),
	                  ',' ORDER BY ord)
	  FROM performance_profiles p,
	       jsonb_array_elements(p.bottleneck_operations) WITH ORDINALITY AS x(b, ord)
	 WHERE p.id = '%s'};
my $suggestions_of = q{
	SELECT string_agg(s->>'suggestion', ',' ORDER BY s->>'suggestion')
	  FROM performance_profiles p, jsonb_array_elements(p.optimization_suggestions) s
	 WHERE p.id = '%s' AND s->>'operation_type' = '%s'};

my $src_id = $node->safe_psql('src', $ingest);
like($src_id, qr/^[0-9a-f-]{36}$/, 'pp_ingest in the source database');
is($node->safe_psql('src', sprintf($bottlenecks_of, $src_id)), $expected_bottlenecks,
	'the source analysis uses every configuration edit');

$node->safe_psql('src', q{
	INSERT INTO performance_bottlenecks
	    (operation_type, avg_duration_ms, p95_duration_ms, p99_duration_ms,
	     occurrence_count, impact_score, suggested_optimizations, detected_at)
	VALUES ('retrieval', 512.5, 1080.25, 1500.125, 17, 0.42,
	        '["Cache results of semantically similar queries"]',
	        '2026-01-02 03:04:05.678901+00');
});

# The data must be able to show a difference: profiles with and without
# bottlenecks, analysed under both configurations.
my $mix = $node->safe_psql('src', q{
	SELECT count(*) FILTER (WHERE bottleneck_operations = '[]') > 0
	   AND count(*) FILTER (WHERE bottleneck_operations <> '[]') > 0
	   AND count(*) FILTER (WHERE optimization_suggestions = '[]') > 0
	  FROM performance_profiles});
is($mix, 't', 'the source holds profiles with and without bottlenecks');

# count and md5 of a table's rows (the expression $row of t) in a fixed order
sub table_digest
{
	my ($db, $table, $row, $where) = @_;
	$row //= 't::text';
	$where //= 'true';
	return $node->safe_psql($db, qq{
		SELECT count(*) || ' ' || coalesce(md5(string_agg($row, '|' ORDER BY $row COLLATE "C")), '-')
		  FROM $table t WHERE $where});
}

# Show the rows that differ between src and $db; profile_data is left out.
sub diag_differences
{
	my ($db, $table, $out) = @_;
	my $q = qq{SELECT (to_jsonb(t) - 'profile_data')::text AS r FROM $table t ORDER BY 1};
	my %in_src = map { $_ => 1 } split /\n/, $node->safe_psql('src', $q);
	my %in_dst = map { $_ => 1 } split /\n/, $node->safe_psql($db, $q);
	my @only_src = grep { !$in_dst{$_} } sort keys %in_src;
	my @only_dst = grep { !$in_src{$_} } sort keys %in_dst;
	$out->(scalar(@only_src) . " rows of $table only in src, " . scalar(@only_dst) . " only in $db");
	$out->("src: " . substr($only_src[$_], 0, 1500)) for grep { $_ < @only_src } 0 .. 1;
	$out->("$db: " . substr($only_dst[$_], 0, 1500)) for grep { $_ < @only_dst } 0 .. 1;
	return;
}

# A row marked rejected, as an analysis node stores a malformed profile that
# arrived by logical replication (test 020): restored as it is.
my $rejected = 'rejected-1 invalid profile at $.children: expected an array or null, got string';
$node->safe_psql('src', q{
	INSERT INTO performance_profiles (query_id, profile_data, total_duration_ms, ppprof_rejected)
	VALUES ('rejected-1', '{"operation_name": "rag_pipeline", "children": "none"}', 5,
	        'invalid profile at $.children: expected an array or null, got string')});

# rollups of every closed minute and hour, and a mark (pg_dump keeps both)
my $horizon = $node->safe_psql('src', q{SELECT date_trunc('minute', now())});
$node->safe_psql('src', q{
	SELECT pp_rollup();
	INSERT INTO performance_profiles (query_id, profile_data, created_at)
	VALUES ('late-1', '{"operation_name": "rag_pipeline", "duration_ms": 5}', now() - interval '3 hours');
});
is($node->safe_psql('src', q{
	SELECT (SELECT count(*) > 0 FROM performance_rollups) || ' ' ||
	       (SELECT count(*) FROM performance_rollup_stale)}),
	'true 1', 'rollups and one mark to dump');

my %src_digest;
$src_digest{$_} = table_digest('src', $_) for @tables;

# the profiles whose analysis found a bottleneck
my $with_bottlenecks = 'id IN (' . join(',', map { "'$_'" } split /\n/,
	$node->safe_psql('src', q{
		SELECT id FROM performance_profiles WHERE bottleneck_operations <> '[]'})) . ')';
my $stored = q{ROW(t.id, t.query_id, t.profile_data, t.total_duration_ms, t.created_at)::text};
my %src_profiles = (
	stored => table_digest('src', 'performance_profiles', $stored),
	with_bottlenecks => table_digest('src', 'performance_profiles', undef, $with_bottlenecks));

#
# Checks of a restored database
#
sub check_restored
{
	my ($db, $how) = @_;

	# every table is identical, row for row
	for my $t (@tables)
	{
		# the restored rows dated before the rollup horizon (at least the
		# minute of the pp_rollup() above) have their minutes marked
		# (docs/scaling.md, "Rollups"), the dumped mark among them; the
		# restored prices and usage keys mark every rollup with raw rows
		# (one mark at -infinity per transaction that loads them)
		if ($t eq 'performance_rollup_stale')
		{
			cmp_ok($node->safe_psql($db, q{SELECT count(*) FROM performance_rollup_stale
				WHERE bucket_start = '-infinity'}), '>', 0,
				"$how: the restored configuration marks every rollup");
			is($node->safe_psql($db, qq{
				SELECT count(*) || coalesce(' ' || string_agg(coalesce(p.m, s.bucket_start)::text
				                                               || CASE WHEN p.m IS NULL THEN ' marked, no row' ELSE ' rows, no mark' END, ', '), '')
				  FROM (SELECT DISTINCT date_trunc('minute', created_at) AS m
				                        FROM performance_profiles
				                       WHERE created_at < '$horizon') p
				  FULL JOIN (SELECT * FROM performance_rollup_stale
				              WHERE bucket_start > '-infinity' AND bucket_start < '$horizon') s
				    ON s.bucket_start = p.m
				 WHERE s.bucket_start IS NULL OR p.m IS NULL}),
				'0', "$how: every minute of a restored row before the horizon is marked, and nothing else");
			next;
		}
		# A restored row arrives with ppprof_analyzed = true, so the trigger
		# keeps its analysis instead of re-analysing it under the
		# configuration of the moment of the restore.
		my $d = table_digest($db, $t);
		is($d, $src_digest{$t}, "$how: $t identical");
		next if $d eq $src_digest{$t};
		diag_differences($db, $t, \&diag);
	}

	# what the trigger must keep of every profile, and the whole row of every
	# profile with bottlenecks
	is(table_digest($db, 'performance_profiles', $stored), $src_profiles{stored},
		"$how: id, query_id, profile_data, total_duration_ms, created_at of every profile identical");
	is(table_digest($db, 'performance_profiles', undef, $with_bottlenecks),
		$src_profiles{with_bottlenecks},
		"$how: profiles with bottlenecks identical");
	{
		is($node->safe_psql($db, q{
			SELECT count(*) FILTER (WHERE bottleneck_operations <> '[]') || ' '
			       || count(*) FILTER (WHERE optimization_suggestions <> '[]')
			  FROM performance_profiles}),
		   $node->safe_psql('src', q{
			SELECT count(*) FILTER (WHERE bottleneck_operations <> '[]') || ' '
			       || count(*) FILTER (WHERE optimization_suggestions <> '[]')
			  FROM performance_profiles}),
		   "$how: no profile gained bottlenecks or suggestions");
	}

	# the rejected row is still marked, and counts nowhere; the triggers
	# still fire always (CREATE EXTENSION made them so again)
	is($node->safe_psql($db, q{
		SELECT query_id || ' ' || ppprof_rejected FROM performance_profiles WHERE ppprof_rejected IS NOT NULL}),
		$rejected, "$how: the rejected row is restored, still marked");
	is($node->safe_psql($db, q{
		SELECT (SELECT calls FROM pp_range_stats(tstzrange(min(created_at), max(created_at), '[]'))
		         WHERE operation IS NULL)
		       || ' ' || count(*) FILTER (WHERE ppprof_rejected IS NULL)
		  FROM performance_profiles}) =~ /^(\d+) (\d+)$/ && $1 == $2 ? 'equal' : 'differ',
		'equal', "$how: the statistics count every profile but the rejected one");
	is($node->safe_psql($db, q{SELECT pp_info()->>'replicated_rows_counted'}), 'true',
		"$how: the triggers fire always");

	# the configuration edits survived, and seeded rows are there once
	is($node->safe_psql($db, q{
		SELECT operation_type || '=' || threshold_ms FROM performance_thresholds
		 WHERE operation_type IN ('retrieval', 'vector_search', 'llm_generation')
		 ORDER BY 1}),
	   "llm_generation=3000\nretrieval=500\nvector_search=250",
	   "$how: edited, added and untouched thresholds");
	is($node->safe_psql($db, q{
		SELECT operation_type FROM operation_categories WHERE pattern = 'guardrail%'}),
	   'api_call', "$how: added category pattern");
	is($node->safe_psql($db, q{
		SELECT string_agg(suggestion || '=' || enabled, ',' ORDER BY suggestion)
		  FROM optimization_catalog
		 WHERE suggestion IN ('Use prompt caching', 'Precompute answers to frequent questions',
		                      'Stream responses to the client')}),
	   'Precompute answers to frequent questions=true,Stream responses to the client=true,Use prompt caching=false',
	   "$how: disabled, added and untouched catalogue entries");
	is($node->safe_psql($db, 'SELECT count(*) FROM performance_thresholds'),
		$seed_count{performance_thresholds} + 1, "$how: seeded thresholds once, plus one");
	is($node->safe_psql($db, 'SELECT count(*) FROM operation_categories'),
		$seed_count{operation_categories} + 1, "$how: seeded categories once, plus one");
	is($node->safe_psql($db, 'SELECT count(*) FROM optimization_catalog'),
		$seed_count{optimization_catalog} + 1, "$how: seeded catalogue once, plus one");

	# pp_ingest in the restored database analyses like the source database
	my $id = $node->safe_psql($db, $ingest);
	like($id, qr/^[0-9a-f-]{36}$/, "$how: pp_ingest works");
	my $cols = q{SELECT query_id, total_duration_ms, bottleneck_operations,
	                    optimization_suggestions FROM performance_profiles WHERE id = '%s'};
	is($node->safe_psql($db, sprintf($cols, $id)), $node->safe_psql('src', sprintf($cols, $src_id)),
		"$how: pp_ingest gives the source's analysis");
	is($node->safe_psql($db, sprintf($bottlenecks_of, $id)), $expected_bottlenecks,
		"$how: the analysis uses every configuration edit");
	is($node->safe_psql($db, sprintf($suggestions_of, $id, 'llm_generation')),
		'Route simple queries to a smaller model,Send fewer prompt tokens,Stream responses to the client',
		"$how: the disabled suggestion is not offered");
	like($node->safe_psql($db, sprintf($suggestions_of, $id, 'retrieval')),
		qr/^Cache results.*,Precompute answers to frequent questions,/,
		"$how: the added suggestion is offered");
	my $analyze = qq{SELECT * FROM pp_analyze_profile('$profile')};
	is($node->safe_psql($db, $analyze), $node->safe_psql('src', $analyze),
		"$how: pp_analyze_profile gives the source's rows");
	# the generator came along as an ordinary schema and still works
	is($node->safe_psql($db, q{SELECT ppgen.load(3, '1 minute')}), '3',
		"$how: generated profiles can be inserted");
	return;
}

#
# Custom format: pg_dump -Fc, pg_restore into a new database
#
my $tmp = PostgreSQL::Test::Utils::tempdir;
($ok, $out, $err) = run_client([ 'pg_dump', '-Fc', '-d', 'src', '-f', "$tmp/src.dump" ]);
ok($ok, 'pg_dump -Fc exits 0');
is($err, '', 'pg_dump -Fc prints nothing on stderr');

$node->safe_psql('postgres', 'CREATE DATABASE restored');
($ok, $out, $err) = run_client([ 'pg_restore', '-d', 'restored', "$tmp/src.dump" ]);
ok($ok, 'pg_restore exits 0');
is($err, '', 'pg_restore prints nothing on stderr');
check_restored('restored', 'pg_restore');

#
# Plain format: pg_dump | psql -v ON_ERROR_STOP=1 into a new database
#
$node->safe_psql('postgres', 'CREATE DATABASE plain');
my ($dump_err, $psql_out, $psql_err) = ('', '', '');
$ok = IPC::Run::run(
	[ 'pg_dump', '-d', 'src' ], '2>', \$dump_err, '|',
	[ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', 'plain' ],
	'>', \$psql_out, '2>', \$psql_err);
ok($ok, 'pg_dump | psql -v ON_ERROR_STOP=1 exits 0');
is($dump_err . $psql_err, '', 'pg_dump | psql prints nothing on stderr');
check_restored('plain', 'pg_dump | psql');

$node->stop;
done_testing();
