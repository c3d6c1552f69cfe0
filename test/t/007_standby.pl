# test/t/007_standby.pl -- ppprof on a streaming hot standby, and after its
# promotion.
#
# The primary preloads ppprof; the standby, made from a cold backup taken
# after a clean shutdown (so the backup holds the primary's statistics
# file), preloads it too.  On the standby:
#  - the copied statistics file is ignored and unlinked (replication changes
#    the table without triggers);
#  - pp_info()->>'statistics' says 'standby: ...';
#  - pp_operation_stats equals plain SQL over the replicated table, for
#    profiles written before and after the backup;
#  - pp_operation_samples returns no row, without error;
#  - pp_rebuild() and pp_reset() fail with SQLSTATE 25006.
# After promotion the statistics are invalid (the table answers, exactly),
# the first read starts the background rebuild, and once valid, writes on
# the promoted node are counted exactly; a clean restart of the promoted
# node keeps them.
use strict;
use warnings;

use Cwd qw(abs_path);
use File::Basename qw(dirname);
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $root = abs_path(dirname(__FILE__) . '/../..');
my $generator = "$root/test/gen/rag_profiles.sql";

my $primary = PostgreSQL::Test::Cluster->new('primary');
$primary->init(allows_streaming => 1);
$primary->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'ppprof'
});
$primary->start;

$primary->safe_psql('postgres', 'CREATE EXTENSION ppprof');
{
	local $ENV{PGHOST} = $primary->host;
	local $ENV{PGPORT} = $primary->port;
	my ($out, $err) = ('', '');
	ok(IPC::Run::run([ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', 'postgres', '-f', $generator ],
			'>', \$out, '2>', \$err), 'generator installs')
	  or diag($err);
}

# The exact answer from the table: every node, flattened.
$primary->safe_psql('postgres', q{
CREATE VIEW exact_nodes AS
WITH RECURSIVE nodes AS (
  SELECT id, created_at, profile_data AS n FROM performance_profiles
  UNION ALL
  SELECT nodes.id, nodes.created_at, c FROM nodes,
         jsonb_array_elements(CASE WHEN jsonb_typeof(n->'children') = 'array' THEN n->'children' ELSE '[]' END) c)
SELECT id, created_at, n->>'operation_name' AS operation,
       coalesce((n->>'duration_ms')::float8, ((n->>'end_time')::float8 - (n->>'start_time')::float8) * 1000) AS d,
       jsonb_typeof(n->'error') = 'string' AS failed
  FROM nodes;
});

my @windows = ('1 hour', '1 day');

# pp_operation_stats equals the table: calls and errors per operation
# compared as text, and every operation whose calls, errors, average,
# total, first or last created_at differ listed.  One statement (one
# now()), read-only so that it runs on a standby.
my $check_sql = q{
WITH en AS MATERIALIZED (SELECT * FROM exact_nodes),
w(w) AS (SELECT unnest('{%s}'::interval[])),
e AS (SELECT w, operation, count(*) AS calls, count(*) FILTER (WHERE failed) AS errors,
             avg(d) AS avg_ms, sum(d) AS total_ms, min(created_at) AS first_seen, max(created_at) AS last_seen
        FROM w, en WHERE created_at >= now() - w AND created_at <= now() GROUP BY 1, 2),
s AS (SELECT w, s.* FROM w, pp_operation_stats(w) s)
SELECT w,
       (SELECT coalesce(string_agg(operation || '=' || calls || '/' || errors, ',' ORDER BY operation), '')
          FROM s WHERE s.w = w.w),
       (SELECT coalesce(string_agg(operation || '=' || calls || '/' || errors, ',' ORDER BY operation), '')
          FROM e WHERE e.w = w.w),
       (SELECT coalesce(string_agg(operation || ': ppprof ' || coalesce(s.calls::text, '-') || '/'
                 || coalesce(s.errors::text, '-') || ' avg ' || coalesce(s.avg_ms::text, '-')
                 || ' total ' || coalesce(s.total_ms::text, '-') || ' seen ' || coalesce(s.first_seen::text, '-')
                 || '..' || coalesce(s.last_seen::text, '-')
                 || ', table ' || coalesce(e.calls::text, '-') || '/' || coalesce(e.errors::text, '-')
                 || ' avg ' || coalesce(e.avg_ms::text, '-') || ' total ' || coalesce(e.total_ms::text, '-')
                 || ' seen ' || coalesce(e.first_seen::text, '-') || '..' || coalesce(e.last_seen::text, '-'), '; '), '')
          FROM (SELECT * FROM e WHERE e.w = w.w) e FULL JOIN (SELECT * FROM s WHERE s.w = w.w) s USING (operation)
         WHERE s.calls IS DISTINCT FROM e.calls OR s.errors IS DISTINCT FROM e.errors
            OR NOT abs(s.avg_ms - e.avg_ms) <= 1e-9 * e.avg_ms
            OR NOT abs(s.total_ms - e.total_ms) <= 1e-9 * e.total_ms
            OR s.first_seen IS DISTINCT FROM e.first_seen OR s.last_seen IS DISTINCT FROM e.last_seen)
  FROM w ORDER BY w
};

sub check_exact
{
	my ($node, $how) = @_;
	my ($ret, $res, $err) = $node->psql('postgres',
		sprintf($check_sql, join(',', map { qq{"$_"} } @windows)));
	is($ret, 0, "$how: the comparison runs");
	is($err, '', "$how: no message (no NOTICE, no error)");
	my @rows = map { [ split /\|/, $_, -1 ] } split /\n/, $res;
	is(scalar(@rows), scalar(@windows), "$how: one answer per window");
	for my $r (@rows)
	{
		my ($w, $live, $exact, $diff) = @$r;
		isnt($exact, '', "$how, $w: the window holds profiles");
		is($live, $exact, "$how, $w: calls and errors per operation equal the table's");
		is($diff, '', "$how, $w: calls, errors, avg, total, first and last seen equal the table's");
	}
	return;
}

sub info
{
	my ($node, $field) = @_;
	return $node->safe_psql('postgres', "SELECT pp_info()->>'$field'");
}

# profiles before the backup
$primary->safe_psql('postgres', q{SELECT ppgen.load(400, '20 hours')});
check_exact($primary, 'primary');

# A cold backup after a clean shutdown: it holds the primary's statistics
# file, which the standby must not load.
$primary->stop;
ok(-s $primary->data_dir . '/pg_stat/ppprof.stat', 'the primary wrote its statistics file');
$primary->backup_fs_cold('cold');
$primary->start;
like(info($primary, 'statistics_file'), qr/^loaded: \d+ operations/, 'the primary loaded its file');
is(info($primary, 'statistics'), 'valid', 'the primary is valid');

my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'cold', has_streaming => 1);
ok(-s $standby->data_dir . '/pg_stat/ppprof.stat', 'the backup holds the statistics file');
$standby->start;
ok(!-e $standby->data_dir . '/pg_stat/ppprof.stat', 'the standby unlinked the statistics file');
is(info($standby, 'statistics_file'), 'ignored: the server started as a standby',
	'the standby ignored the statistics file');

# profiles, deletions and updates after the backup, streamed
$primary->safe_psql('postgres', q{
	SELECT ppgen.load(300, '50 minutes', now() - interval '1 minute');
	DELETE FROM performance_profiles WHERE query_id IN ('q-1', 'q-2', 'q-3');
	UPDATE performance_profiles SET profile_data = ppgen.profile(5000 + length(id::text))
	 WHERE query_id IN ('q-10', 'q-20');
});
$primary->wait_for_catchup($standby);
is($standby->safe_psql('postgres', 'SELECT count(*) FROM performance_profiles'),
	$primary->safe_psql('postgres', 'SELECT count(*) FROM performance_profiles'),
	'the standby has caught up');

#
# On the standby
#
is($standby->safe_psql('postgres', 'SELECT pg_is_in_recovery()'), 't', 'the standby is in recovery');
like(info($standby, 'statistics'), qr/^standby: /, "pp_info()->>'statistics' says standby");
is(info($standby, 'preloaded'), 'true', 'ppprof is preloaded on the standby');
check_exact($standby, 'standby');
like(info($standby, 'statistics'), qr/^standby: /, 'still standby after a read');

{
	my ($ret, $out, $err) = $standby->psql('postgres',
		q{SELECT count(*) FROM pp_operation_samples('vector_search')});
	is($ret, 0, 'pp_operation_samples runs on the standby');
	is($out, '0', 'pp_operation_samples returns no row on the standby');
	is($err, '', 'pp_operation_samples: no message on the standby');
}

for my $f ('pp_rebuild', 'pp_reset')
{
	my ($ret, $out, $err) = $standby->psql('postgres', "\\set VERBOSITY verbose\nSELECT $f()");
	isnt($ret, 0, "$f() fails on the standby");
	like($err, qr/ERROR:  25006: $f\(\) cannot run during recovery/,
		"$f() on the standby: SQLSTATE 25006 and a clear message");
}

# no background rebuild is started on a standby
ok(!$standby->log_contains('ppprof rebuilt'), 'no rebuild on the standby');

#
# Promotion
#
$primary->stop;
$standby->promote;
is($standby->safe_psql('postgres', 'SELECT pg_is_in_recovery()'), 'f', 'the standby is promoted');
is(info($standby, 'statistics'), 'invalid: answers from the table until pp_rebuild()',
	'after promotion: statistics invalid');

# a write before the first read
$standby->safe_psql('postgres', q{SELECT ppgen.load(50, '30 minutes', now() - interval '2 minutes')});
check_exact($standby, 'promoted, from the table');
ok($standby->poll_query_until('postgres', "SELECT pp_info()->>'statistics' = 'valid'"),
	'promoted: the background rebuild makes the statistics valid');
check_exact($standby, 'promoted, rebuilt');

# writes on the promoted node are counted
$standby->safe_psql('postgres', q{
	SELECT ppgen.load(120, '40 minutes', now() - interval '1 minute');
	DELETE FROM performance_profiles WHERE query_id IN ('q-44', 'q-45');
	UPDATE performance_profiles SET created_at = created_at - interval '10 minutes'
	 WHERE query_id IN ('q-30', 'q-31');
});
is(info($standby, 'statistics'), 'valid', 'promoted, after writes: valid');
check_exact($standby, 'promoted, after writes');
cmp_ok($standby->safe_psql('postgres', q{SELECT count(*) FROM pp_operation_samples('vector_search')}),
	'>', 0, 'promoted: pp_operation_samples has samples');

# a clean restart of the promoted node writes and loads its file
$standby->restart;
like(info($standby, 'statistics_file'), qr/^loaded: \d+ operations/,
	'promoted, restarted: the statistics file is loaded');
is(info($standby, 'statistics'), 'valid', 'promoted, restarted: valid');
check_exact($standby, 'promoted, restarted');

$standby->stop;
done_testing();
