# test/t/003_no_preload.pl -- ppprof works without shared_preload_libraries,
# answering the statistics from the table, and becomes live once it is
# preloaded and rebuilt.
#
# Without preload: CREATE EXTENSION, INSERT and pp_ingest work and fill the
# analysis columns; pp_operation_stats equals the exact SQL over the table
# and says so with one NOTICE per session; pp_info reports preloaded =
# false; pp_rebuild and pp_reset fail with SQLSTATE 55000.  Then ppprof is
# added to shared_preload_libraries and the server restarted: the statistics
# are not valid (the table answers) until pp_rebuild(), after which they are
# valid, equal to the table, and follow new writes.  pp_range_path_stats
# over a fixed range answers the same without preload (from the table) and
# preloaded (from the rebuilt path entries); pp_dimension_stats answers the
# same rows in both.
use strict;
use warnings;

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PPTest;

my $notice = 'ppprof is not in shared_preload_libraries: statistics are computed from the table';

my $node = pp_start_node('no_preload', preload => 0);
pp_client_env($node, 'postgres');

# Run psql in one session; returns (success, stdout, stderr).
sub psql_session
{
	my (@args) = @_;
	my ($out, $err) = ('', '');
	my $ok = IPC::Run::run([ 'psql', '-X', '-A', '-t', '-v', 'ON_ERROR_STOP=1', @args ],
		'>', \$out, '2>', \$err);
	chomp $out;
	return ($ok, $out, $err);
}

is($node->safe_psql('postgres', 'SHOW shared_preload_libraries'), '',
	'ppprof is not preloaded');
my ($ok, $out, $err) = psql_session('-c', 'CREATE EXTENSION ppprof');
ok($ok, 'CREATE EXTENSION works without preload') or diag($err);
pp_install_generator($node);

pp_create_exact_nodes($node);
pp_create_stats_mismatches($node);

# pp_operation_stats($w) equals the exact SQL, for a window holding rows
sub check_exact
{
	my ($w, $what) = @_;
	my ($ok, $out, $err) = psql_session('-c', "SELECT * FROM stats_mismatches('$w')");
	ok($ok, "$what: pp_operation_stats('$w') answers") or diag($err);
	is($out, '', "$what: pp_operation_stats('$w') equals the table (calls, errors, avg)");
	cmp_ok($node->safe_psql('postgres',
		"SELECT count(*) FROM exact_nodes WHERE created_at >= now() - interval '$w'"),
		'>', 0, "$what: the window '$w' holds nodes");
	return;
}

#
# Without preload
#
is($node->safe_psql('postgres', q{SELECT ppgen.load(300, '50 minutes')}), '300',
	'INSERT of 300 generated profiles');
$node->safe_psql('postgres', q{SELECT ppgen.load(50, '5 hours', now() - interval '1 hour')});

# a profile whose analysis is known under the seeded configuration
my $profile = q{{"operation_name": "rag_pipeline", "duration_ms": 7800,
 "children": [
  {"operation_name": "retrieval", "duration_ms": 450,
   "children": [{"operation_name": "vector_search", "duration_ms": 300}]},
  {"operation_name": "llm_generation", "duration_ms": 2600, "error": "boom",
   "children": [{"operation_name": "openai_chat", "duration_ms": 2590}]}]}};
my $id = $node->safe_psql('postgres', "SELECT pp_ingest('$profile', 'known')");
like($id, qr/^[0-9a-f-]{36}$/, 'pp_ingest works without preload');
is($node->safe_psql('postgres', qq{
	SELECT total_duration_ms || ' ' || ppprof_analyzed || ' '
	       || (SELECT string_agg(b->>'operation', ',' ORDER BY b->>'operation')
	             FROM jsonb_array_elements(bottleneck_operations) b) || ' '
	       || (jsonb_array_length(optimization_suggestions) > 0)
	  FROM performance_profiles WHERE id = '$id'}),
	'7800 true llm_generation,openai_chat true',
	'pp_ingest filled total_duration_ms, bottleneck_operations, optimization_suggestions');
is($node->safe_psql('postgres', q{
	SELECT count(*) FILTER (WHERE NOT ppprof_analyzed OR total_duration_ms IS NULL) || ' '
	       || count(*) FILTER (WHERE total_duration_ms = (profile_data->>'duration_ms')::float8) || ' '
	       || (count(*) FILTER (WHERE bottleneck_operations <> '[]') > 0)
	  FROM performance_profiles}),
	'0 351 true', 'every inserted row was analysed; some have bottlenecks');

# one NOTICE per session, not per call
($ok, $out, $err) = psql_session(
	'-c', q{SELECT count(*) FROM pp_operation_stats('1 hour')},
	'-c', q{SELECT count(*) FROM pp_operation_stats('1 day')});
ok($ok, 'two calls of pp_operation_stats in one session') or diag($err);
my $n = () = $err =~ /\Q$notice\E/g;
is($n, 1, 'the NOTICE is emitted exactly once in a session') or diag($err);
like($err, qr/^NOTICE:  \Q$notice\E$/m, 'the NOTICE text');
is($out, "10\n10", 'both calls answer (the 10 operations of the generated profiles)');
($ok, $out, $err) = psql_session('-c', q{SELECT count(*) FROM pp_operation_stats('1 hour')});
is(scalar(() = $err =~ /\Q$notice\E/g), 1, 'a new session gets the NOTICE again');

check_exact('1 hour', 'not preloaded');
check_exact('3 hours', 'not preloaded');
check_exact('1 day', 'not preloaded');

is(pp_info_field($node, 'preloaded'), 'false',
	'pp_info: preloaded = false');
like(pp_info_field($node, 'statistics'), qr/from the table/,
	'pp_info: statistics answered from the table');

for my $f ('pp_rebuild', 'pp_reset')
{
	($ok, $out, $err) = psql_session('-c', '\set VERBOSITY verbose', '-c', "SELECT $f()");
	ok(!$ok, "$f() fails without preload");
	like($err, qr/ERROR:  55000: .*shared_preload_libraries/, "$f(): SQLSTATE 55000, names shared_preload_libraries")
	  or diag($err);
}

# DELETE and UPDATE without preload change nothing but the table
$node->safe_psql('postgres', q{
	DELETE FROM performance_profiles WHERE query_id IN ('q-1', 'q-2', 'q-3');
	UPDATE performance_profiles SET profile_data = ppgen.profile(777777) WHERE query_id = 'q-10';
	UPDATE performance_profiles SET created_at = created_at - interval '2 hours' WHERE query_id = 'q-11';
});
check_exact('1 hour', 'not preloaded, after DELETE and UPDATE');

# the call paths of a fixed range, which no later write reaches: sums
# rounded (shared buckets add in another order than the table's walk)
my $range = $node->safe_psql('postgres',
	q{SELECT tstzrange(now() - interval '7 hours', now() - interval '15 minutes')});
my $paths_sql = qq{SELECT path, calls, errors, round(total_ms::numeric, 6), round(self_ms::numeric, 6)
	FROM pp_range_path_stats('$range')};
my $paths_no_preload = $node->safe_psql('postgres', $paths_sql);
cmp_ok(scalar(my @p = split /\n/, $paths_no_preload), '>', 5, 'not preloaded: pp_range_path_stats answers its paths');

# statistics per dimension value (read from the table either way): the
# same rows without preload and preloaded
my $dims_sql = q{SELECT operation, dimension_value, folded, calls, errors,
	round(avg_ms::numeric, 6), round(p50_ms::numeric, 6), round(p95_ms::numeric, 6),
	round(p99_ms::numeric, 6) FROM pp_dimension_stats('30 days', 'model')};
my $dims_no_preload = $node->safe_psql('postgres', $dims_sql);
cmp_ok(scalar(my @d = grep { /\|gpt-4o-mini\|/ } split /\n/, $dims_no_preload), '>', 0,
	'not preloaded: pp_dimension_stats answers the model of the LLM nodes');

pp_log_lacks($node, qr/FATAL|PANIC|TRAP:|terminated by signal/,
	'no FATAL or crash in the server log without preload');

#
# Preloaded, after a restart
#
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'ppprof'");
$node->restart;
is(pp_info_field($node, 'preloaded'), 'true',
	'after the restart ppprof is preloaded');
my $state = pp_info_field($node, 'statistics');
isnt($state, 'valid', 'after the restart the statistics are not valid');
like($state, qr/from the table/, "they answer from the table ($state)");
($ok, $out, $err) = psql_session('-c', q{SELECT count(*) FROM pp_operation_stats('1 hour')});
unlike($err, qr/\Q$notice\E/, 'no NOTICE once preloaded');
is($node->safe_psql('postgres', $dims_sql), $dims_no_preload,
	'preloaded: pp_dimension_stats equals the answer without preload');
check_exact('1 hour', 'preloaded, before pp_rebuild');
check_exact('1 day', 'preloaded, before pp_rebuild');

# a write before the rebuild is not lost either (the first read above may
# have started a background rebuild: valid or not, the answer is exact)
$node->safe_psql('postgres', q{SELECT ppgen.load(20, '10 minutes')});
note('statistics before pp_rebuild(): ' . pp_info_field($node, 'statistics'));
check_exact('1 hour', 'preloaded, before pp_rebuild, after more writes');

my $rows = $node->safe_psql('postgres', 'SELECT count(*) FROM performance_profiles');
# (without the rollups, which the background worker may have written)
is($node->safe_psql('postgres', 'SET ppprof.rebuild_from_rollups = off; SELECT pp_rebuild()'),
	$rows, 'pp_rebuild() reads every row');
is(pp_info_field($node, 'statistics'), 'valid',
	'after pp_rebuild() the statistics are valid');
check_exact('1 hour', 'after pp_rebuild');
check_exact('3 hours', 'after pp_rebuild');
check_exact('1 day', 'after pp_rebuild');
is(pp_info_field($node, 'paths_incomplete_before'), '', 'after pp_rebuild every path is in shared memory');
is($node->safe_psql('postgres', $paths_sql), $paths_no_preload,
	'after pp_rebuild, pp_range_path_stats from shared memory equals the answer without preload');

# and they follow new writes
$node->safe_psql('postgres', q{
	SELECT ppgen.load(30, '20 minutes');
	DELETE FROM performance_profiles WHERE query_id IN ('q-4', 'q-5');
	UPDATE performance_profiles SET profile_data = ppgen.profile(888888) WHERE query_id = 'q-12';
});
is(pp_info_field($node, 'statistics'), 'valid',
	'still valid after INSERT, DELETE and UPDATE');
check_exact('1 hour', 'live');
check_exact('1 day', 'live');

pp_log_lacks($node, qr/FATAL|PANIC|TRAP:|terminated by signal/,
	'no FATAL or crash in the server log');
$node->stop;
done_testing();
