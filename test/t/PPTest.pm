# test/t/PPTest.pm -- helpers shared by the TAP tests of ppprof (test/t/*.pl).
#
# The tests find this module through PERL5LIB (test/run_all.sh puts test/t
# on it).  Every function is exported by default.
#
#   pp_generator()                  path of test/gen/rag_profiles.sql
#   pp_start_node($name, %opt)      a new PostgreSQL::Test::Cluster, ppprof
#                                   preloaded (unless preload => 0), extra
#                                   postgresql.conf lines (conf => '...'),
#                                   init arguments (init => [...]), started
#   pp_client_env($node, $db)       PGHOST/PGPORT for client programs, and
#                                   PGDATABASE = $db (deleted if $db undef)
#   pp_install_generator($node, $db)
#                                   psql -f the generator into $db (default
#                                   postgres); test 'generator installs';
#                                   returns (success, stdout, stderr)
#   pp_create_exact_nodes($node)    view exact_nodes: every node of every
#                                   profile, flattened recursively (the
#                                   exact answer from the table)
#   pp_create_stats_mismatches($node)
#                                   function stats_mismatches(interval): one
#                                   line per operation whose calls, errors
#                                   or avg differ between pp_operation_stats
#                                   and exact_nodes
#   pp_no_mismatches($node, $w, $name)
#                                   test: stats_mismatches($w) is empty
#                                   (diag of the first 10 lines otherwise)
#   pp_check_exact($node, \@windows, $how, read_only => 0|1)
#                                   tests: pp_operation_stats equals
#                                   exact_nodes for every window, calls and
#                                   errors as text, then calls, errors, avg,
#                                   total, first and last seen; read_only
#                                   runs one read-only statement (for a
#                                   standby) and also tests that it runs
#                                   without error or message
#   pp_info_field($node, $field)    pp_info()->>$field
#   pp_poll_valid($node, $how)      test: the statistics become 'valid'
#                                   (the background rebuild)
#   pp_log_lacks($node, $re, $name, $offset)
#                                   test: the server log (from $offset)
#                                   does not match $re
#   pp_start_pgbench(@args)         IPC::Run::start of pgbench -n @args;
#                                   returns { run, out, err }
package PPTest;

use strict;
use warnings;

use Cwd qw(abs_path);
use Exporter qw(import);
use File::Basename qw(dirname);
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

our @EXPORT = qw(
  pp_generator pp_start_node pp_client_env pp_install_generator
  pp_create_exact_nodes pp_create_stats_mismatches pp_no_mismatches
  pp_check_exact pp_info_field pp_poll_valid pp_log_lacks pp_start_pgbench);

my $root = abs_path(dirname(__FILE__) . '/../..');

sub pp_generator
{
	return "$root/test/gen/rag_profiles.sql";
}

sub pp_start_node
{
	my ($name, %opt) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name);
	# UTF8 whatever the environment's locale (CI's new user has no LANG,
	# which made SQL_ASCII clusters that refuse non-ASCII profile names)
	$node->init(extra => [ '--encoding=UTF8', '--locale=C' ], @{ $opt{init} // [] });
	my $conf = '';
	$conf .= "shared_preload_libraries = 'ppprof'\n" if $opt{preload} // 1;
	$conf .= "$opt{conf}\n" if defined $opt{conf};
	$node->append_conf('postgresql.conf', $conf) if $conf ne '';
	$node->start;
	return $node;
}

sub pp_client_env
{
	my ($node, $db) = @_;
	$ENV{PGHOST} = $node->host;
	$ENV{PGPORT} = $node->port;
	if (defined $db)
	{
		$ENV{PGDATABASE} = $db;
	}
	else
	{
		delete $ENV{PGDATABASE};
	}
	return;
}

sub pp_install_generator
{
	my ($node, $db) = @_;
	$db //= 'postgres';
	my ($out, $err) = ('', '');
	my $ok = IPC::Run::run(
		[ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-h', $node->host, '-p', $node->port,
		  '-d', $db, '-f', pp_generator() ],
		'>', \$out, '2>', \$err);
	ok($ok, 'generator installs') or diag($err);
	return ($ok, $out, $err);
}

sub pp_create_exact_nodes
{
	my ($node) = @_;
	$node->safe_psql('postgres', q{
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
	return;
}

sub pp_create_stats_mismatches
{
	my ($node) = @_;
	$node->safe_psql('postgres', q{
CREATE FUNCTION stats_mismatches(w interval) RETURNS SETOF text LANGUAGE sql AS $$
  WITH e AS (SELECT operation, count(*) AS calls, count(*) FILTER (WHERE failed) AS errors, avg(d) AS avg_ms
               FROM exact_nodes WHERE created_at >= now() - w AND created_at <= now() GROUP BY 1),
       s AS (SELECT operation, calls, errors, avg_ms FROM pp_operation_stats(w))
  SELECT format('%s: stats calls=%s errors=%s avg=%s; table calls=%s errors=%s avg=%s',
                operation, s.calls, s.errors, s.avg_ms, e.calls, e.errors, e.avg_ms)
    FROM e FULL JOIN s USING (operation)
   WHERE s.calls IS DISTINCT FROM e.calls OR s.errors IS DISTINCT FROM e.errors
      OR NOT coalesce(abs(s.avg_ms - e.avg_ms) <= 1e-9 * abs(e.avg_ms), false)
   ORDER BY 1
$$;
});
	return;
}

sub pp_no_mismatches
{
	my ($node, $w, $name) = @_;
	my @bad = split /\n/, $node->safe_psql('postgres', "SELECT * FROM stats_mismatches('$w')");
	my $ok = is(scalar(@bad), 0, $name);
	diag(join("\n", @bad[ 0 .. ($#bad < 9 ? $#bad : 9) ])) unless $ok;
	return $ok;
}

# The comparison of pp_operation_stats with exact_nodes, after the CTE
# "en" (the flattened nodes) and before the end of the statement; %s is the
# list of windows.
my $compare_sql = q{w(w) AS (SELECT unnest('{%s}'::interval[])),
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
  FROM w ORDER BY w};

sub pp_check_exact
{
	my ($node, $windows, $how, %opt) = @_;
	my $list = join(',', map { qq{"$_"} } @$windows);
	my $res;
	if ($opt{read_only})
	{
		# one statement (one now()), read-only so that it runs on a standby
		my ($ret, $err);
		($ret, $res, $err) = $node->psql('postgres',
			sprintf("\nWITH en AS MATERIALIZED (SELECT * FROM exact_nodes),\n$compare_sql\n", $list));
		is($ret, 0, "$how: the comparison runs");
		is($err, '', "$how: no message (no NOTICE, no error)");
	}
	else
	{
		# one transaction (one now()); the nodes flattened once into a
		# temporary table
		$res = $node->safe_psql('postgres', sprintf(
			"\nBEGIN;\nCREATE TEMP TABLE en ON COMMIT DROP AS SELECT * FROM exact_nodes;\nWITH $compare_sql;\nCOMMIT;\n",
			$list));
	}
	my @rows = map { [ split /\|/, $_, -1 ] } split /\n/, $res;
	is(scalar(@rows), scalar(@$windows), "$how: one answer per window");
	for my $r (@rows)
	{
		my ($w, $live, $exact, $diff) = @$r;
		isnt($exact, '', "$how, $w: the window holds profiles");
		is($live, $exact, "$how, $w: calls and errors per operation equal the table's");
		is($diff, '', "$how, $w: calls, errors, avg, total, first and last seen equal the table's");
	}
	return;
}

sub pp_info_field
{
	my ($node, $field) = @_;
	return $node->safe_psql('postgres', "SELECT pp_info()->>'$field'");
}

sub pp_poll_valid
{
	my ($node, $how) = @_;
	return ok($node->poll_query_until('postgres', "SELECT pp_info()->>'statistics' = 'valid'"),
		"$how: the background rebuild makes the statistics valid");
}

sub pp_log_lacks
{
	my ($node, $re, $name, $offset) = @_;
	return ok(!$node->log_contains($re, $offset), $name);
}

sub pp_start_pgbench
{
	my (@args) = @_;
	my %h = (out => '', err => '');
	$h{run} = IPC::Run::start([ 'pgbench', '-n', @args ], '>', \$h{out}, '2>', \$h{err});
	return \%h;
}

1;
