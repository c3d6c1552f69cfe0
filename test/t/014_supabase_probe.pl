# test/t/014_supabase_probe.pl -- the outside audit's probe (issue 15), run
# as a test against a Supabase-style cluster.
#
# Roles as on Supabase: anon and authenticated (NOLOGIN), service_role
# (NOLOGIN BYPASSRLS), and an authenticator login (NOINHERIT) granted all
# three.  In every database, Supabase's default privileges (ALL on the
# tables, functions and sequences created in public) are in place BEFORE
# CREATE EXTENSION ppprof, and service_role owns a schema of its own (svc)
# holding svc.planted_log and svc.planted(what): every object the attacker
# plants calls svc.planted, which records who ran it in svc.planted_log,
# raises a WARNING and tries ALTER ROLE authenticator SUPERUSER.
#
# Each attack runs as authenticator after SET ROLE service_role (or
# authenticated, where the finding is about authenticated), and each
# subtest asserts the secure outcome the issue demands: no role gained an
# attribute or a membership (rolsuper stays false), no new table or function
# privilege (has_table_privilege, has_function_privilege), no planted object
# ever ran (svc.planted_log empty, no WARNING).  Where the issue accepts
# more than one secure form (an error or a harmless success), each is named
# and accepted; the insecure outcome never is.  At the end the server log
# must hold no crash.
#
# One subtest per finding, named after it:
#   1   search_path in the C readers (planted svc.>= and public.>=)
#   2   TRIGGER, TRUNCATE and REFERENCES on the extension tables
#   8   the documented RLS policy (run from docs/security.md as written)
#   9   an 8,000-character alert rule name
#   16  pp_info() shows other databases' counters
#   6   client-supplied created_at (years ahead, infinity)
#   7   the rebuild waits for a table lock with no timeout
#   4   unbounded backend memory reading a window from the table
#   5   eviction floods
#   3   a far-future range holds the shared lock
# in that order.  6 runs on a cluster of its own: on a vulnerable server it
# moves the shared-memory regions of every database.  The floods (4, 5) and
# the lock attacks (7, 3) come last, each in a database of its own, and 3
# ends with the range to the year 294276, which on a vulnerable server
# holds the lock, uninterruptibly, for longer than the test may last: then
# the server is stopped in immediate mode.
#
# Timing: the one timing check is the issue's "no lock held longer than a
# second" in 3 (a concurrent pp_ingest, measured with Time::HiRes, must
# finish within 1 s while the attack runs; the attack is as heavy as the
# audit's, which held the lock for 11 s).  Subtest 7 waits, at most 15 s,
# for the victim to finish while the other session keeps its lock: not a
# timing check, a hang detector (a vulnerable server waits until the lock
# is released).
use strict;
use warnings;

use Cwd qw(abs_path);
use File::Basename qw(dirname);
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(gettimeofday tv_interval usleep);
use PPTest;

my $root = abs_path(dirname(__FILE__) . '/../..');

#
# The clusters, the roles, the databases and the attacker's schema
#
# The cluster the helpers below work on: the probe's, and for subtest 6 one
# of its own (what it attacks is shared by every database of a cluster).
our $node;

# Supabase's default privileges, then the extension, then service_role's
# schema with the recorder every planted object calls.
sub supabase_db
{
	my ($db) = @_;
	$node->safe_psql('postgres', "CREATE DATABASE $db");
	$node->safe_psql($db, q{
GRANT USAGE ON SCHEMA public TO anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON TABLES TO anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON FUNCTIONS TO anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON SEQUENCES TO anon, authenticated, service_role;
CREATE EXTENSION ppprof;
CREATE SCHEMA svc AUTHORIZATION service_role;
SET ROLE service_role;
CREATE TABLE svc.planted_log (what text NOT NULL, run_as name NOT NULL,
                              at timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp());
CREATE FUNCTION svc.planted(what text) RETURNS void LANGUAGE plpgsql AS $f$
BEGIN
    INSERT INTO svc.planted_log (what, run_as) VALUES (what, current_user);
    RAISE WARNING 'planted object % executed as %', what, current_user;
    BEGIN
        ALTER ROLE authenticator SUPERUSER;
    EXCEPTION WHEN OTHERS THEN
        NULL;
    END;
END
$f$;
RESET ROLE;
});
	return;
}

# A started cluster with ppprof preloaded, the roles, and the databases.
sub probe_cluster
{
	my ($name, @dbs) = @_;
	my $n = pp_start_node($name, conf => q{
max_prepared_transactions = 4
});
	$n->safe_psql('postgres', q{
CREATE ROLE anon NOLOGIN;
CREATE ROLE authenticated NOLOGIN;
CREATE ROLE service_role NOLOGIN BYPASSRLS;
CREATE ROLE authenticator LOGIN NOINHERIT;
GRANT anon, authenticated, service_role TO authenticator;
});
	local $node = $n;
	supabase_db($_) for @dbs;
	return $n;
}

my $crash_re = qr/PANIC|TRAP:|terminated by signal|server process .* was terminated/;

my @dbs = qw(main app app2 rb mem lock);
$node = probe_cluster('probe', @dbs);
# the bootstrap superuser, who owns the extension: the OS user running the
# test (postgres as root, anyone else as themselves)
my $owner = $node->safe_psql('postgres', 'SELECT current_user');

# rolsuper and the other attributes, and the memberships, of the four roles
sub roles_state
{
	return $node->safe_psql('postgres', q{
SELECT string_agg(line, E'\n' ORDER BY line) FROM (
  SELECT format('%s super=%s createrole=%s createdb=%s bypassrls=%s replication=%s inherit=%s login=%s',
                rolname, rolsuper, rolcreaterole, rolcreatedb, rolbypassrls, rolreplication,
                rolinherit, rolcanlogin) AS line
    FROM pg_roles WHERE rolname IN ('anon', 'authenticated', 'service_role', 'authenticator')
  UNION ALL
  SELECT format('%s member of %s admin=%s', m.rolname, r.rolname, a.admin_option)
    FROM pg_auth_members a JOIN pg_roles r ON r.oid = a.roleid JOIN pg_roles m ON m.oid = a.member
   WHERE m.rolname IN ('anon', 'authenticated', 'service_role', 'authenticator')) s});
}

my $roles_expected = join("\n",
	'anon super=f createrole=f createdb=f bypassrls=f replication=f inherit=t login=f',
	'authenticated super=f createrole=f createdb=f bypassrls=f replication=f inherit=t login=f',
	'authenticator member of anon admin=f',
	'authenticator member of authenticated admin=f',
	'authenticator member of service_role admin=f',
	'authenticator super=f createrole=f createdb=f bypassrls=f replication=f inherit=f login=t',
	'service_role super=f createrole=f createdb=f bypassrls=t replication=f inherit=t login=f');
is(roles_state(), $roles_expected, 'the Supabase-style roles are in place, none superuser');

# Every privilege the four roles hold on the extension's tables and
# functions and on schema public, one per line.
sub privileges
{
	my ($db) = @_;
	return $node->safe_psql($db, q{
WITH roles(r) AS (VALUES ('anon'), ('authenticated'), ('service_role'), ('authenticator')),
ext AS (SELECT oid FROM pg_extension WHERE extname = 'ppprof'),
tabs AS (SELECT c.oid, c.relname FROM pg_depend d JOIN pg_class c ON c.oid = d.objid, ext
          WHERE d.refobjid = ext.oid AND d.classid = 'pg_class'::regclass AND d.deptype = 'e'
            AND c.relkind IN ('r', 'p', 'v')),
funcs AS (SELECT p.oid FROM pg_depend d JOIN pg_proc p ON p.oid = d.objid, ext
           WHERE d.refobjid = ext.oid AND d.classid = 'pg_proc'::regclass AND d.deptype = 'e'),
privs(p) AS (VALUES ('SELECT'), ('INSERT'), ('UPDATE'), ('DELETE'), ('TRUNCATE'), ('REFERENCES'), ('TRIGGER'))
SELECT coalesce(string_agg(line, E'\n' ORDER BY line), '') FROM (
  SELECT r || ' ' || p || ' ON ' || relname AS line FROM roles, tabs, privs
   WHERE has_table_privilege(r, tabs.oid, p)
  UNION ALL
  SELECT r || ' EXECUTE ' || funcs.oid::regprocedure FROM roles, funcs
   WHERE has_function_privilege(r, funcs.oid, 'EXECUTE')
  UNION ALL
  SELECT r || ' ' || p || ' ON SCHEMA public' FROM roles, (VALUES ('CREATE'), ('USAGE')) v(p)
   WHERE has_schema_privilege(r, 'public', p)) s});
}

my %privileges_at_start = map { $_ => privileges($_) } @dbs;

# What the planted objects left: one line per execution.
sub planted_runs
{
	my ($db) = @_;
	return $node->safe_psql($db,
		q{SELECT coalesce(string_agg(what || ' as ' || run_as, '; ' ORDER BY at), '') FROM svc.planted_log});
}

# The checks every subtest ends with: no role gained an attribute or a
# membership, no privilege appeared, no planted object ran.
sub nothing_gained
{
	my ($how, @check_dbs) = @_;
	same_lines(roles_state(), $roles_expected,
		"$how: no role gained an attribute or a membership (rolsuper false)");
	for my $db (@check_dbs)
	{
		my $runs = planted_runs($db);
		ok($runs eq '', "$how: no planted object ran in database $db")
		  or diag(substr($runs, 0, 300));
		same_lines(privileges($db), $privileges_at_start{$db},
			"$how: no new table, function or schema privilege in database $db");
	}
	return;
}

# test: the lines of $got are those of $expected; the difference otherwise
sub same_lines
{
	my ($got, $expected, $name) = @_;
	my %g = map { $_ => 1 } split /\n/, $got;
	my %e = map { $_ => 1 } split /\n/, $expected;
	my @added = grep { !$e{$_} } sort keys %g;
	my @removed = grep { !$g{$_} } sort keys %e;
	return 1 if ok(!@added && !@removed, $name);
	diag(scalar(@added) . ' lines added, the first: ' . join('; ', grep { defined } @added[ 0 .. 4 ]))
	  if @added;
	diag(scalar(@removed) . ' lines gone, the first: ' . join('; ', grep { defined } @removed[ 0 .. 4 ]))
	  if @removed;
	return 0;
}

# test: the messages of a statement show no planted object running
sub no_planted_object
{
	my ($err, $name) = @_;
	my @runs = $err =~ /planted object ([^\n]*)/g;
	return ok(!@runs, $name) || diag(scalar(@runs) . " executions, the first: $runs[0]");
}

# After a subtest: whatever a successful attack did to the roles and the
# record is undone, so that the next subtest starts clean.
sub restore
{
	my (@restore_dbs) = @_;
	$node->safe_psql('postgres', q{
ALTER ROLE anon NOSUPERUSER NOCREATEROLE NOCREATEDB NOREPLICATION NOBYPASSRLS;
ALTER ROLE authenticated NOSUPERUSER NOCREATEROLE NOCREATEDB NOREPLICATION NOBYPASSRLS;
ALTER ROLE service_role NOSUPERUSER NOCREATEROLE NOCREATEDB NOREPLICATION BYPASSRLS;
ALTER ROLE authenticator NOSUPERUSER NOCREATEROLE NOCREATEDB NOREPLICATION NOBYPASSRLS;
});
	$node->safe_psql($_, 'TRUNCATE svc.planted_log') for @restore_dbs;
	return;
}

# Runs $sql in $db as authenticator, after SET ROLE $role unless $role is
# undef; messages carry their SQLSTATE.  Returns (rc, stdout, stderr).
sub as_role
{
	my ($db, $role, $sql) = @_;
	my $prefix = defined $role ? "SET ROLE $role;\n" : '';
	return $node->psql($db, $prefix . $sql,
		connstr => $node->connstr($db) . ' user=authenticator',
		extra_params => [ '-v', 'VERBOSITY=verbose' ]);
}

# As the extension's owner (the bootstrap superuser), with SQLSTATEs.
sub as_owner
{
	my ($db, $sql) = @_;
	return $node->psql($db, $sql, extra_params => [ '-v', 'VERBOSITY=verbose' ]);
}

sub sqlstate
{
	my ($err) = @_;
	return $err =~ /ERROR:\s+([0-9A-Z]{5}):/ ? $1 : '';
}

sub first_error
{
	my ($err) = @_;
	return $err =~ /(ERROR:[^\n]*)/ ? $1 : '';
}

#
# Asynchronous sessions, for the concurrent parts: statements are sent one at
# a time and their end is seen through a marker echoed on stdout and stderr.
#
sub session_open
{
	my ($db, $user, $setup) = @_;
	my $s = { in => '', out => '', err => '', n => 0 };
	$s->{run} = IPC::Run::start(
		[ 'psql', '-X', '-A', '-t', '-q', '-v', 'VERBOSITY=verbose', '-h', $node->host,
		  '-p', $node->port, '-U', $user, '-d', $db, '-f', '-' ],
		'<', \$s->{in}, '>', \$s->{out}, '2>', \$s->{err});
	my $n = session_send($s, ($setup // '') . "SELECT pg_backend_pid()");
	defined(session_wait($s, $n, 60)) or die "session to $db as $user did not start: $s->{err}";
	my ($out, $err) = session_take($s, $n);
	($s->{pid}) = $out =~ /(\d+)\s*$/;
	return $s;
}

sub session_send
{
	my ($s, $sql) = @_;
	my $n = ++$s->{n};
	$s->{in} .= "$sql\n;\n\\echo ::done $n\n\\warn ::done $n\n";
	$s->{run}->pump_nb;
	return $n;
}

# Seconds until statement $n ended, or undef after $timeout seconds.
sub session_wait
{
	my ($s, $n, $timeout) = @_;
	my $t0 = [gettimeofday];
	while (1)
	{
		return tv_interval($t0) if session_ended($s, $n);
		return undef if tv_interval($t0) > $timeout;
		usleep(5_000);
	}
}

# Has statement $n ended?  (Does not wait.)
sub session_ended
{
	my ($s, $n) = @_;
	$s->{run}->pump_nb;
	return $s->{out} =~ /^::done $n$/m && $s->{err} =~ /^::done $n$/m;
}

# stdout and stderr of statement $n (which has ended)
sub session_take
{
	my ($s, $n) = @_;
	my ($out) = $s->{out} =~ /\A(.*?)^::done $n\n/ms;
	my ($err) = $s->{err} =~ /\A(.*?)^::done $n\n/ms;
	$s->{out} =~ s/\A.*?^::done $n\n//ms;
	$s->{err} =~ s/\A.*?^::done $n\n//ms;
	return ($out // '', $err // '');
}

sub session_close
{
	my ($s) = @_;
	$s->{in} .= "\\q\n";
	$s->{run}->finish;
	return;
}

sub pp_info_field_db
{
	my ($db, $field) = @_;
	return $node->safe_psql($db, "SELECT pp_info()->>'$field'");
}

# A profile: a root and the given children, each with a duration.
sub profile
{
	my ($root, @children) = @_;
	my $kids = join(', ', map { qq{{"operation_name": "$_", "duration_ms": 40}} } @children);
	return qq{{"operation_name": "$root", "duration_ms": 200, "children": [$kids]}};
}

# $n profiles as INSERTs spread over the last $hours hours, as the owner.
sub owner_history
{
	my ($db, $n, $hours, $root, @children) = @_;
	my $p = profile($root, @children);
	$node->safe_psql($db, qq{
INSERT INTO performance_profiles (query_id, profile_data, created_at)
SELECT 'history:' || i, '$p', now() - (i * $hours / ${n}::float8) * interval '1 hour' - interval '30 seconds'
  FROM generate_series(1, $n) i});
	return;
}

owner_history('main', 40, 3, 'rag_pipeline', 'vector_search', 'embed_query', 'llm_generation');
$node->safe_psql('main', q{SELECT pp_capture_baseline('default', '7 days')});

#
# 1. search_path in the C readers
#
# Operators on (timestamptz, timestamptz) that give the right answer and
# call svc.planted first: what the audit planted (svc.>=), and its siblings.
my @planted_ops = (
	[ '>=', 'timestamptz_ge' ], [ '>', 'timestamptz_gt' ], [ '<=', 'timestamptz_le' ],
	[ '<', 'timestamptz_lt' ], [ '=', 'timestamptz_eq' ], [ '<>', 'timestamptz_ne' ]);

sub plant_operators_sql
{
	my ($schema) = @_;
	my $sql = '';
	my $i = 0;
	for my $op (@planted_ops)
	{
		my ($name, $f) = @$op;
		$i++;
		$sql .= qq{
CREATE FUNCTION $schema.planted_op$i(a timestamptz, b timestamptz) RETURNS boolean LANGUAGE plpgsql AS \$f\$
BEGIN
    PERFORM svc.planted('operator $schema.$name');
    RETURN pg_catalog.$f(a, b);
END
\$f\$;
CREATE OPERATOR $schema.$name (LEFTARG = timestamptz, RIGHTARG = timestamptz, FUNCTION = $schema.planted_op$i);
};
	}
	return $sql;
}

sub drop_operators_sql
{
	my ($schema) = @_;
	my $sql = '';
	my $i = 0;
	for my $op (@planted_ops)
	{
		$i++;
		$sql .= "DROP FUNCTION IF EXISTS $schema.planted_op$i(timestamptz, timestamptz) CASCADE;\n";
	}
	return $sql;
}

# Literal bounds (the attacker's own statements compare no timestamps).
my ($t_3h, $t_90m, $t_next) = split /\|/, $node->safe_psql('main', q{
SELECT (now() - interval '3 hours')::text || '|' || (now() - interval '90 minutes')::text
       || '|' || (now() + interval '1 minute')::text});
my $p1 = profile('probe_root', 'vector_search');

# name => statement; the readers the issue names first
my @reader_calls = (
	[ 'pp_range_stats',         qq{SELECT count(*) FROM pp_range_stats('[$t_3h,$t_next)')} ],
	[ 'pp_operation_stats',     q{SELECT count(*) FROM pp_operation_stats('1 hour')} ],
	[ 'pp_compare',             qq{SELECT count(*) FROM pp_compare('[$t_3h,$t_90m)', '[$t_90m,$t_next)')} ],
	# hour-aligned windows: beyond the horizon, so that the table is read
	[ 'pp_trends',              q{SELECT count(*) FROM pp_trends('8 days', '1 hour')} ],
	[ 'pp_trend_summary',       q{SELECT count(*) FROM pp_trend_summary('8 days')} ],
	[ 'pp_optimization_report', q{SELECT pp_optimization_report('1 hour') IS NOT NULL} ],
	[ 'pp_bottlenecks',         q{SELECT count(*) FROM pp_bottlenecks('1 hour')} ],
	[ 'pp_detect_bottlenecks',  q{SELECT pp_detect_bottlenecks('1 hour') >= 0} ],
	[ 'pp_operation_samples',   q{SELECT count(*) FROM pp_operation_samples('vector_search')} ],
	[ 'pp_info',                q{SELECT pp_info() IS NOT NULL} ],
	[ 'pp_snapshots',           q{SELECT count(*) FROM pp_snapshots('1 hour')} ],
	[ 'pp_baseline_check',      q{SELECT count(*) FROM pp_baseline_check('default', '1 hour', 1)} ],
	[ 'pp_baseline_check with a dimension', q{SELECT count(*) FROM pp_baseline_check('default', '1 hour', 1, 'model', 'a')} ],
	[ 'pp_dimension_stats',     q{SELECT count(*) FROM pp_dimension_stats('1 hour', 'model')} ],
	[ 'pp_range_dimension_stats', qq{SELECT count(*) FROM pp_range_dimension_stats('[$t_3h,$t_next)', 'model')} ],
	[ 'pp_compare_values',      qq{SELECT count(*) FROM pp_compare_values('[$t_3h,$t_next)', 'model', 'a', 'b')} ],
	[ 'pp_analyze_profile',     qq{SELECT count(*) FROM pp_analyze_profile('$p1')} ]);
# and the writers (the triggers run under the writer's search_path)
my @writer_calls = (
	[ 'pp_ingest',              qq{SELECT pp_ingest('$p1', 'probe:1') IS NOT NULL} ],
	[ 'pp_ingest_batch',        qq{SELECT pp_ingest_batch('[$p1]')} ],
	[ 'pp_ingest_jsonl',        qq{SELECT pp_ingest_jsonl('$p1')} ],
	[ 'INSERT',                 qq{INSERT INTO performance_profiles (query_id, profile_data) VALUES ('probe:2', '$p1')} ],
	[ 'pp_begin and pp_end',    q{SELECT pp_begin('probe_span') IS NOT NULL; SELECT pp_end() IS NOT NULL} ],
	[ 'pp_time',                q{SELECT pp_time('probe_time', 'SELECT 1') IS NOT NULL} ]);
# the owner's jobs and administration
my @owner_calls = (
	[ 'pp_snapshot',            q{SELECT count(*) FROM pp_snapshot()} ],
	[ 'pp_capture_baseline',    q{SELECT pp_capture_baseline('probe', '7 days') >= 0} ],
	[ 'pp_check_alerts',        q{SELECT count(*) FROM pp_check_alerts()} ],
	[ 'pp_purge',               q{SELECT count(*) FROM pp_purge('30 days')} ],
	[ 'pp_rebuild',             q{SELECT pp_rebuild() > 0} ]);

subtest '1 search_path in the C readers' => sub {
	my $how = 'planted svc operators';
	my ($rc, $out, $err) = as_role('main', 'service_role', plant_operators_sql('svc'));
	is($rc, 0, "$how: service_role creates the operators in its own schema svc") or diag($err);

	for my $c (@reader_calls, @writer_calls)
	{
		my ($name, $sql) = @$c;
		($rc, $out, $err) = as_role('main', 'service_role',
			"SET search_path = svc, pg_catalog, public;\n$sql");
		my $state = sqlstate($err);
		ok($rc == 0 || $state eq '42501',
			"service_role, search_path svc first, $name: runs, or is refused with 42501")
		  or diag(first_error($err));
		no_planted_object($err, "service_role, search_path svc first, $name: no planted operator ran");
		note("$name: " . ($rc == 0 ? 'ran' : "refused ($state)"));
	}
	nothing_gained('svc operators, every function as service_role', 'main');
	restore('main');

	# An owner whose search_path the attacker can write to: service_role
	# may create objects in public, and the owner's calls (its pg_cron jobs)
	# run with public first.
	$how = 'planted public operators';
	$node->safe_psql('main', 'GRANT CREATE ON SCHEMA public TO service_role');
	($rc, $out, $err) = as_role('main', 'service_role', plant_operators_sql('public'));
	is($rc, 0, "$how: service_role creates the operators in public") or diag($err);
	for my $c (@reader_calls, @writer_calls, @owner_calls)
	{
		my ($name, $sql) = @$c;
		($rc, $out, $err) = as_owner('main', "SET search_path = public, pg_catalog;\n$sql");
		is($rc, 0, "owner, search_path public first, $name: runs") or diag(first_error($err));
		no_planted_object($err, "owner, search_path public first, $name: no planted operator ran");
	}
	$node->safe_psql('main', drop_operators_sql('public') . 'REVOKE CREATE ON SCHEMA public FROM service_role');
	$node->safe_psql('main', drop_operators_sql('svc'));
	nothing_gained('public operators, every function as the owner', 'main');
	restore('main');
};

#
# 2. TRIGGER, TRUNCATE and REFERENCES on the extension tables
#
my @ext_tables = split /\n/, $node->safe_psql('main', q{
SELECT c.relname FROM pg_depend d JOIN pg_class c ON c.oid = d.objid
 WHERE d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'ppprof')
   AND d.classid = 'pg_class'::regclass AND d.deptype = 'e' AND c.relkind = 'r'
 ORDER BY 1});

# The Roles table of docs/security.md: the privilege keywords of the tables
# column and the functions of the functions column of service_role's row.
sub documented_service_role
{
	my $doc = PostgreSQL::Test::Utils::slurp_file("$root/docs/security.md");
	my ($row) = $doc =~ /^\|\s*`service_role`[^|]*\|([^\n]*)$/m;
	return unless defined $row;
	my ($tables, $functions) = split /\|/, $row;
	my %privs = map { $_ => 1 } $tables =~ /\b(SELECT|INSERT|UPDATE|DELETE|TRUNCATE|REFERENCES|TRIGGER)\b/g;
	my %funcs = map { $_ => 1 } ($functions // '') =~ /`(pp_\w+)`/g;
	return (\%privs, \%funcs);
}

subtest '2 TRIGGER, TRUNCATE and REFERENCES on the extension tables' => sub {
	cmp_ok(scalar(@ext_tables), '>=', 13, 'the extension has its thirteen tables');
	my $held = $node->safe_psql('main', q{
SELECT coalesce(string_agg(r || ' ' || p || ' ON ' || c.relname, E'\n' ORDER BY 1), '')
  FROM (VALUES ('anon'), ('authenticated'), ('service_role'), ('authenticator')) roles(r),
       (VALUES ('TRUNCATE'), ('REFERENCES'), ('TRIGGER')) privs(p),
       pg_depend d JOIN pg_class c ON c.oid = d.objid
 WHERE d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'ppprof')
   AND d.classid = 'pg_class'::regclass AND d.deptype = 'e' AND c.relkind = 'r'
   AND has_table_privilege(r, c.oid, p)});
	ok($held eq '', 'no role holds TRUNCATE, REFERENCES or TRIGGER on an extension table')
	  or diag(scalar(split /\n/, $held) . ' grants, the first: ' . (split /\n/, $held)[0]);

	# docs/security.md's list is the truth
	my ($doc_privs, $doc_funcs) = documented_service_role();
	ok(defined $doc_privs, "docs/security.md's Roles table has a row for service_role")
	  or return;
	my @granted_privs = split /\n/, $node->safe_psql('main', q{
SELECT DISTINCT p FROM (VALUES ('SELECT'), ('INSERT'), ('UPDATE'), ('DELETE'), ('TRUNCATE'),
                               ('REFERENCES'), ('TRIGGER')) privs(p),
       pg_depend d JOIN pg_class c ON c.oid = d.objid
 WHERE d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'ppprof')
   AND d.classid = 'pg_class'::regclass AND d.deptype = 'e' AND c.relkind = 'r'
   AND has_table_privilege('service_role', c.oid, p) ORDER BY 1});
	is(join(',', grep { !$doc_privs->{$_} } @granted_privs), '',
		'service_role holds no table privilege docs/security.md does not list');
	my @granted_funcs = split /\n/, $node->safe_psql('main', q{
SELECT DISTINCT p.proname FROM pg_depend d JOIN pg_proc p ON p.oid = d.objid
 WHERE d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'ppprof')
   AND d.classid = 'pg_proc'::regclass AND d.deptype = 'e'
   AND has_function_privilege('service_role', p.oid, 'EXECUTE') ORDER BY 1});
	my %granted = map { $_ => 1 } @granted_funcs;
	is(join(',', grep { !$doc_funcs->{$_} } @granted_funcs), '',
		'service_role may execute no function docs/security.md does not list ('
		  . scalar(keys %$doc_funcs) . ' listed, ' . scalar(@granted_funcs) . ' granted)');
	is(join(',', grep { !$granted{$_} } sort keys %$doc_funcs), '',
		'service_role may execute every function docs/security.md lists');

	# the attack: a trigger on every extension table, fired by the owner
	my ($rc, $out, $err) = as_role('main', 'service_role', q{
CREATE FUNCTION svc.planted_trigger() RETURNS trigger LANGUAGE plpgsql AS $f$
BEGIN
    PERFORM svc.planted('trigger on ' || TG_TABLE_NAME);
    RETURN NULL;
END
$f$});
	is($rc, 0, 'service_role creates a trigger function in svc') or diag($err);
	for my $t (@ext_tables)
	{
		($rc, $out, $err) = as_role('main', 'service_role', qq{
CREATE TRIGGER planted_trigger AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON public.$t
    FOR EACH STATEMENT EXECUTE FUNCTION svc.planted_trigger()});
		is(sqlstate($err), '42501', "service_role cannot create a trigger on $t (42501)")
		  or diag($rc == 0 ? 'the trigger was created' : first_error($err));
	}
	($rc, $out, $err) = as_role('main', 'service_role', 'TRUNCATE public.performance_snapshots');
	is(sqlstate($err), '42501', 'service_role cannot TRUNCATE performance_snapshots (42501)')
	  or diag($rc == 0 ? 'truncated' : first_error($err));
	($rc, $out, $err) = as_role('main', 'service_role',
		'CREATE TABLE svc.planted_refs (p uuid REFERENCES public.performance_profiles (id))');
	is(sqlstate($err), '42501',
		'service_role cannot reference performance_profiles from its own table (42501)')
	  or diag($rc == 0 ? 'the foreign key was created' : first_error($err));

	# the owner's jobs write every table a trigger could sit on
	for my $c (@owner_calls, [ 'pp_detect_bottlenecks', q{SELECT pp_detect_bottlenecks('1 hour') >= 0} ],
		[ 'INSERT', qq{INSERT INTO performance_profiles (query_id, profile_data) VALUES ('owner:1', '$p1')} ])
	{
		my ($name, $sql) = @$c;
		($rc, $out, $err) = as_owner('main', $sql);
		is($rc, 0, "owner, $name: runs") or diag(first_error($err));
		no_planted_object($err, "owner, $name: no planted trigger ran");
	}
	nothing_gained('after the owner\'s jobs', 'main');

	# clean up whatever the attack managed to create
	$node->safe_psql('main', join("\n",
		(map { "DROP TRIGGER IF EXISTS planted_trigger ON public.$_;" } @ext_tables),
		'DROP TABLE IF EXISTS svc.planted_refs;',
		'DROP FUNCTION svc.planted_trigger();'));
	restore('main');
};

#
# 8. The documented RLS policy, run as docs/security.md writes it
#
sub documented_policy
{
	my $doc = PostgreSQL::Test::Utils::slurp_file("$root/docs/security.md");
	for my $block ($doc =~ /^```sql\n(.*?)^```/msg)
	{
		return $block if $block =~ /CREATE POLICY/ && $block =~ /\bauthenticated\b/;
	}
	return;
}

# A PostgREST request: one transaction, the role and the JWT claims local to
# it.
sub postgrest
{
	my ($db, $sub, $sql) = @_;
	return as_role($db, undef, qq{
BEGIN;
SET LOCAL ROLE authenticated;
SELECT set_config('request.jwt.claims', '{"role": "authenticated", "sub": "$sub"}', true) IS NOT NULL;
$sql;
COMMIT;});
}

subtest '8 the documented RLS policy' => sub {
	my $recipe = documented_policy();
	ok(defined $recipe, 'docs/security.md holds a policy for authenticated') or return;
	my ($rc, $out, $err) = as_owner('main', $recipe);
	is($rc, 0, 'the documented recipe runs') or diag($err);
	my $privs_before = privileges('main');
	$node->safe_psql('main', qq{
INSERT INTO performance_profiles (query_id, profile_data) VALUES
  ('victim-uuid:1', '$p1'), ('victim_uuid:1', '$p1'), ('other:1', '$p1')});

	# reads: the owner's rows only, the sub is not a pattern
	($rc, $out, $err) = postgrest('main', 'victim_uuid',
		q{SELECT coalesce(string_agg(query_id, ',' ORDER BY query_id), '') FROM performance_profiles});
	is($rc, 0, 'authenticated (sub victim_uuid) reads') or diag($err);
	is((split /\n/, $out)[-1], 'victim_uuid:1',
		'sub victim_uuid reads its own profile and not victim-uuid:1');
	($rc, $out, $err) = postgrest('main', 'victim_uuid',
		q{SELECT count(*) FROM performance_profiles WHERE query_id = 'victim-uuid:1'});
	is((split /\n/, $out)[-1], '0', 'sub victim_uuid cannot read victim-uuid:1 or its metadata');
	($rc, $out, $err) = postgrest('main', '%',
		q{SELECT count(*) FROM performance_profiles});
	is((split /\n/, $out)[-1], '0', 'sub % reads nothing');

	# writes: its own profile, nothing forged
	($rc, $out, $err) = postgrest('main', 'victim_uuid', qq{
INSERT INTO performance_profiles (query_id, profile_data) VALUES ('victim_uuid:2', '$p1')});
	is($rc, 0, 'authenticated inserts its own profile (query_id, profile_data)') or diag($err);
	# what is forged: columns, values, and how the stored row would show it
	my $forged_b = q{'[{"operation": "forged"}]'};
	my @forged = (
		[ 'created_at', q{'2001-01-01'}, q{created_at = '2001-01-01'} ],
		[ 'total_duration_ms', '0.001', 'total_duration_ms = 0.001' ],
		[ 'bottleneck_operations', $forged_b, "bottleneck_operations = $forged_b" ],
		[ 'optimization_suggestions', q{'[{"suggestion": "forged"}]'},
		  q{optimization_suggestions = '[{"suggestion": "forged"}]'} ],
		# marked analysed, the row keeps the analysis it came with
		[ 'ppprof_analyzed, bottleneck_operations', "true, $forged_b", "bottleneck_operations = $forged_b" ]);
	for my $f (@forged)
	{
		my ($cols, $values, $shows) = @$f;
		my $qid = 'victim_uuid:forged-' . ($cols =~ s/\W+/-/gr);
		($rc, $out, $err) = postgrest('main', 'victim_uuid', qq{
INSERT INTO performance_profiles (query_id, profile_data, $cols) VALUES ('$qid', '$p1', $values)});
		my $stored = $node->safe_psql('main',
			"SELECT count(*) FROM performance_profiles WHERE query_id = '$qid' AND $shows");
		# secure: refused (nothing stored), or stored with the server's values
		is($stored, '0', "authenticated cannot forge $cols")
		  or diag('the insert succeeded and kept the forged value');
		like($err, qr/ERROR:\s+42501:/, "inserting $cols is refused for lack of privilege (42501)")
		  if $rc != 0;
	}
	($rc, $out, $err) = postgrest('main', 'victim_uuid', qq{
INSERT INTO performance_profiles (query_id, profile_data) VALUES ('victim-uuid:2', '$p1')});
	isnt($rc, 0, 'sub victim_uuid cannot insert a profile of victim-uuid');
	is($node->safe_psql('main', q{SELECT count(*) FROM performance_profiles WHERE query_id = 'victim-uuid:2'}),
		'0', 'nothing stored for victim-uuid');

	same_lines(privileges('main'), $privs_before, 'the requests gained no privilege');
	same_lines(roles_state(), $roles_expected, 'no role gained an attribute or a membership');

	# undo the recipe
	$node->safe_psql('main', q{
DO $$
DECLARE p text;
BEGIN
    FOR p IN SELECT policyname FROM pg_policies WHERE tablename = 'performance_profiles' LOOP
        EXECUTE format('DROP POLICY %I ON public.performance_profiles', p);
    END LOOP;
END $$;
REVOKE ALL ON public.performance_profiles FROM authenticated;
DELETE FROM performance_profiles WHERE query_id LIKE 'victim%' OR query_id = 'other:1';
});
	nothing_gained('after the recipe was undone', 'main');
	restore('main');
};

#
# 9. An 8,000-character alert rule name
#
subtest '9 an 8,000-character alert rule name' => sub {
	$node->safe_psql('main', q{
INSERT INTO performance_alert_rules (name, operation, metric, comparator, threshold, "window")
VALUES ('probe_slow_vector_search', 'vector_search', 'avg', '>', 1, '1 hour')});
	my ($rc, $out, $err) = as_role('main', 'service_role', q{
INSERT INTO performance_alert_rules (name, operation, metric, comparator, threshold, "window")
VALUES (repeat('x', 8000), 'vector_search', 'avg', '>', 1, '1 hour')});
	my $state = sqlstate($err);
	# secure: refused (a bound on the name: class 22 or 23; no privilege:
	# 42501), or stored and harmless
	ok($rc == 0 || $state =~ /^(22|23)/ || $state eq '42501',
		'the long rule is stored, or refused with class 22, 23 or 42501')
	  or diag(first_error($err));
	note('the long rule was ' . ($rc == 0 ? 'stored' : "refused ($state)"));

	($rc, $out, $err) = as_owner('main', 'SELECT count(*) FROM pp_check_alerts()');
	is($rc, 0, 'pp_check_alerts() runs') or diag(first_error($err));
	is($node->safe_psql('main', q{
SELECT count(*) FROM performance_alerts WHERE rule = 'probe_slow_vector_search' AND status = 'firing'}),
		'1', 'the other rule fired and was recorded');
	$node->safe_psql('main', q{
DELETE FROM performance_alerts;
DELETE FROM performance_alert_rules;});
	nothing_gained('after pp_check_alerts', 'main');
	restore('main');
};

#
# 16. pp_info() shows other databases' counters
#
sub info_as_service_role
{
	my ($db) = @_;
	my ($rc, $out, $err) = as_role($db, 'service_role',
		q{SELECT key || '=' || value FROM jsonb_each(pp_info()) ORDER BY key});
	return ($rc, sqlstate($err), { map { split /=/, $_, 2 } split /\n/, $out });
}

subtest '16 pp_info() shows other databases\' counters' => sub {
	owner_history('app2', 6, 1, 'app2_root', 'app2_search');
	my ($rc, $state, $before) = info_as_service_role('app2');
	ok($rc == 0 || $state eq '42501', 'service_role calls pp_info() in app2, or is refused (42501)');
	if ($rc == 0)
	{
		# activity in app only
		owner_history('app', 30, 1, 'app_root', map { "app_op_$_" } 1 .. 12);
		my ($rc2, $state2, $after) = info_as_service_role('app2');
		is($rc2, 0, 'pp_info() in app2 again');
		# what moves with the clock alone
		my %clock = map { $_ => 1 } qw(minute_buckets_from hour_buckets_from);
		my @leaks = grep { !$clock{$_} && ($before->{$_} // 'absent') ne ($after->{$_} // 'absent') }
		  sort(keys %$before, grep { !exists $before->{$_} } keys %$after);
		is(join(', ', @leaks), '',
			'no key of pp_info() in app2 changed with the activity of database app')
		  or diag(join("\n", map { "$_: " . ($before->{$_} // 'absent') . ' -> ' . ($after->{$_} // 'absent') } @leaks));
	}
	nothing_gained('after pp_info', 'app', 'app2');
	restore('app', 'app2');
};

#
# 6. Client-supplied created_at
#
sub future_state
{
	return $node->safe_psql('future', q{
SELECT concat_ws('|', coalesce(pp_info()->>'incomplete_before', 'none'),
                 coalesce(pp_info()->>'minute_buckets', '0'), coalesce(pp_info()->>'hour_buckets', '0'),
                 pp_optimization_report('4 days')->'summary'->>'source',
                 (SELECT sum(calls) FROM pp_operation_stats('4 days')))});
}

subtest '6 client-supplied created_at' => sub {
	# A cluster of its own: on a vulnerable server the attack moves the
	# regions of shared memory of every database (the hour pool fills up
	# with future buckets), which would spoil the later subtests.
	local $node = probe_cluster('future', 'future');
	local $privileges_at_start{future} = privileges('future');
	# real history: four days, hourly
	owner_history('future', 96, 96, 'history_root', 'history_search', 'history_llm');
	my $before = future_state();
	my ($incomplete0, $minute0, $hour0, $source0, $calls0) = split /\|/, $before, -1;
	is(pp_info_field_db('future', 'statistics'), 'valid', 'the statistics are valid');
	is($source0, 'shared memory', 'a four-day report is answered from shared memory');

	my $p = profile('future_root', 'future_child');
	# how, the attacker's statement, and what it needs first
	my @attacks = (
		[ 'a row dated infinity', qq{
INSERT INTO performance_profiles (query_id, profile_data, created_at) VALUES ('future:inf', '$p', 'infinity')} ],
		[ 'a row moved five years ahead', q{
UPDATE performance_profiles SET created_at = now() + interval '5 years' WHERE query_id = 'future:moved'},
		  # two rows in the same buckets: moving one leaves them in use
		  qq{INSERT INTO performance_profiles (query_id, profile_data) VALUES ('future:moved', '$p'), ('future:stays', '$p')} ],
		[ '2,600 rows one year ahead, an hour apart', qq{
INSERT INTO performance_profiles (query_id, profile_data, created_at)
SELECT 'future:' || i, '$p', now() + interval '1 year' + i * interval '1 hour'
  FROM generate_series(1, 2600) i} ]);
	for my $a (@attacks)
	{
		my ($how, $sql, $setup) = @$a;
		if (defined $setup)
		{
			my ($rc, $out, $err) = as_role('future', 'service_role', $setup);
			is($rc, 0, "$how: service_role inserts profiles dated now") or diag(first_error($err));
		}
		my ($b_incomplete, $b_minute, $b_hour) = split /\|/, future_state(), -1;
		my ($rc, $out, $err) = as_role('future', 'service_role', $sql);
		my $state = sqlstate($err);
		my $stored = $node->safe_psql('future', q{
SELECT count(*) FROM performance_profiles WHERE created_at > now() + interval '1 day'});
		my ($a_incomplete, $a_minute, $a_hour) = split /\|/, future_state(), -1;
		if ($rc != 0)
		{
			like($state, qr/^22/, "$how: refused with SQLSTATE class 22") or diag(first_error($err));
			is($stored, '0', "$how: refused, nothing stored");
		}
		else
		{
			# the other documented form: stored, but kept out of shared memory
			note("$how: stored");
			ok($a_minute <= $b_minute && $a_hour <= $b_hour,
				"$how: stored but kept out of shared memory (buckets $b_minute/$b_hour -> $a_minute/$a_hour)");
			is($a_incomplete, $b_incomplete, "$how: incomplete_before unchanged");
		}
		$node->safe_psql('future', q{DELETE FROM performance_profiles WHERE query_id LIKE 'future:%'});
	}
	my ($incomplete1, $minute1, $hour1, $source1, $calls1) = split /\|/, future_state(), -1;
	is($incomplete1, $incomplete0, 'pp_info()->incomplete_before is unchanged');
	is($source1, 'shared memory', 'the four-day report is still answered from shared memory');
	is($calls1, $calls0, 'the four days of history still count the same calls');
	nothing_gained('after the future rows', 'future');
	pp_log_lacks($node, $crash_re, 'no crash in the server log');
	$node->stop;
};

#
# 7. The rebuild waits for a table lock with no timeout
#
subtest '7 the rebuild waits for a table lock with no timeout' => sub {
	owner_history('rb', 20, 2, 'rb_root', 'rb_search');
	# the attacker's transaction holds its lock on performance_profiles, and
	# (being prepared) makes the statistics invalid: a read starts a rebuild
	my ($rc, $out, $err) = as_role('rb', 'service_role', qq{
BEGIN;
SELECT pp_ingest('$p1', 'rb:held') IS NOT NULL;
PREPARE TRANSACTION 'probe_held'});
	is($rc, 0, 'service_role prepares a transaction that wrote a profile') or diag($err);
	note('statistics: ' . pp_info_field_db('rb', 'statistics'));
	($rc, $out, $err) = as_role('rb', 'service_role', q{SELECT count(*) FROM pp_operation_stats('1 hour')});
	is($rc, 0, 'a read answers from the table (and asks for a rebuild)') or diag($err);
	# wait (up to 5 s) for a rebuild waiting for its lock, if one does
	my $waiting = 0;
	for (1 .. 100)
	{
		$waiting = $node->safe_psql('rb', q{
SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'ppprof rebuild' AND wait_event_type = 'Lock'});
		last if $waiting > 0;
		usleep(50_000);
	}
	note("rebuild workers waiting for a lock: $waiting");

	my $victim = session_open('rb', $owner);
	my $n = session_send($victim, qq{SELECT pp_ingest('$p1', 'rb:victim') IS NOT NULL});
	my $took = session_wait($victim, $n, 15);
	ok(defined $took, 'a victim\'s pp_ingest finishes while the other transaction keeps its lock')
	  or diag('still waiting after 15 s: '
		  . $node->safe_psql('rb', "SELECT wait_event_type || ' ' || wait_event FROM pg_stat_activity WHERE pid = $victim->{pid}"));
	$node->safe_psql('rb', q{ROLLBACK PREPARED 'probe_held'});
	$took = session_wait($victim, $n, 60) unless defined $took;
	my ($vout, $verr) = session_take($victim, $n);
	is($verr, '', 'the victim\'s pp_ingest succeeded');
	session_close($victim);
	ok($node->poll_query_until('rb', q{SELECT pp_info()->>'statistics' = 'valid'}),
		'once the lock is released the statistics become valid again');
	nothing_gained('after the rebuild', 'rb');
	restore('rb');
};

#
# 4. Unbounded backend memory reading a window from the table
#
sub peak_rss_kb
{
	my ($pid) = @_;
	my $status = PostgreSQL::Test::Utils::slurp_file("/proc/$pid/status");
	return $status =~ /^VmHWM:\s+(\d+) kB/m ? $1 : undef;
}

subtest '4 unbounded backend memory reading a window from the table' => sub {
	owner_history('mem', 1, 0.5, 'mem_warmup');
	my $reader = session_open('mem', 'authenticator', "SET ROLE service_role;\n");
	for my $w ('1 hour', '8 days')
	{
		my $n = session_send($reader, "SELECT count(*) FROM pp_operation_stats('$w')");
		session_wait($reader, $n, 60);
		session_take($reader, $n);
	}
	my $rss0 = peak_rss_kb($reader->{pid});

	# two profiles of 9,999 nodes: a root and 9,998 unique names each
	for my $k (1, 2)
	{
		my ($rc, $out, $err) = as_role('mem', 'service_role', qq{
SELECT pp_ingest(jsonb_build_object('operation_name', 'mem_root', 'duration_ms', 1000,
         'children', (SELECT jsonb_agg(jsonb_build_object('operation_name', 'mem_${k}_' || i, 'duration_ms', 0.01))
                        FROM generate_series(1, 9998) i)), 'mem:$k') IS NOT NULL});
		is($rc, 0, "service_role ingests profile $k of 9,998 unique names") or diag(first_error($err));
	}
	# '8 days' reaches beyond the horizon: the whole window from the table
	for my $w ('8 days', '1 hour')
	{
		my $n = session_send($reader, "SELECT count(*) || ' ' || sum(calls) FROM pp_operation_stats('$w')");
		ok(defined session_wait($reader, $n, 120), "pp_operation_stats('$w') returns");
		my ($out, $err) = session_take($reader, $n);
		my ($rows, $calls) = split / /, (split /\n/, $out)[-1] // '';
		is($err, '', "pp_operation_stats('$w'): no error");
		is($calls, 2 * 9999 + 1, "pp_operation_stats('$w'): every node is counted (rows: $rows)");
		my $rss = peak_rss_kb($reader->{pid});
		cmp_ok(($rss - $rss0) / 1024, '<', 100,
			"pp_operation_stats('$w'): the backend's peak memory grew by less than 100 MB ("
			  . int($rss0 / 1024) . ' MB -> ' . int($rss / 1024) . ' MB)');
	}
	session_close($reader);
	nothing_gained('after the wide window', 'mem');
	restore('mem');
	# its 20,000 names go with it
	$node->safe_psql('postgres', 'DROP DATABASE mem WITH (FORCE)');
};

#
# 5. Eviction floods
#
# operation => reservoir size, for the established operations of $db
sub samples
{
	my ($db, @ops) = @_;
	return join(',', map {
		"$_=" . $node->safe_psql($db, "SELECT count(*) FROM pp_operation_samples('$_')")
	} @ops);
}

subtest '5 eviction floods' => sub {
	my @app_ops = ('app_root', map { "app_op_$_" } 1 .. 12);
	my @app2_ops = ('app2_root', 'app2_search');
	# established: seen again and again (in subtest 16 and now)
	owner_history('app', 30, 1, 'app_root', map { "app_op_$_" } 1 .. 12);
	owner_history('app2', 30, 1, 'app2_root', 'app2_search');
	my $app_before = samples('app', @app_ops);
	my $app2_before = samples('app2', @app2_ops);
	my $app2_ops_before = pp_info_field_db('app2', 'operations');
	my $app_calls_before = $node->safe_psql('app', q{
SELECT string_agg(operation || '=' || calls, ',' ORDER BY operation) FROM pp_operation_stats('2 hours')});
	unlike($app_before, qr/=0\b/, 'the established operations of app have samples in shared memory');
	unlike($app2_before, qr/=0\b/, 'the established operations of app2 have samples in shared memory');

	# one profile of 10,000 nodes, 9,999 of them unique names, in app
	my ($rc, $out, $err) = as_role('app', 'service_role', q{
SELECT pp_ingest(jsonb_build_object('operation_name', 'flood_root', 'duration_ms', 1000,
         'children', (SELECT jsonb_agg(jsonb_build_object('operation_name', 'flood_' || i, 'duration_ms', 0.01))
                        FROM generate_series(1, 9999) i)), 'flood:1') IS NOT NULL});
	is($rc, 0, 'service_role ingests a profile of 9,999 unique names in app') or diag(first_error($err));

	is(samples('app', @app_ops), $app_before,
		'the established operations of app keep their samples (not evicted)');
	is($node->safe_psql('app', q{
SELECT string_agg(operation || '=' || calls, ',' ORDER BY operation) FROM pp_operation_stats('2 hours')
 WHERE operation NOT LIKE 'flood%' AND operation_type <> '(folded)'}), $app_calls_before,
		'the established operations of app keep their counts');
	is(pp_info_field_db('app2', 'operations'), $app2_ops_before,
		'pp_info()->operations of app2 is unchanged');
	is(samples('app2', @app2_ops), $app2_before,
		'the operations of app2 keep their samples (not evicted by app)');
	nothing_gained('after the flood', 'app', 'app2');
	restore('app', 'app2');
};

#
# 3. A far-future range holds the shared lock
#

subtest '3 a far-future range holds the shared lock' => sub {
	# 24 operations, seen in the last hour
	owner_history('lock', 10, 1, 'lock_root', map { "lock_op_$_" } 1 .. 23);
	is($node->safe_psql('lock', q{SELECT count(*) FROM pp_operation_stats('1 hour')}), '24',
		'24 operations in the last hour');
	is($node->safe_psql('lock', q{SELECT pp_optimization_report('1 hour')->'summary'->>'source'}),
		'shared memory', 'the last hour is answered from shared memory (the attack walks its buckets)');
	my $victim = session_open('lock', $owner);
	my $stuck;

	# The finding is about the lock, not the grant: should service_role no
	# longer be allowed to call pp_range_stats, a role that is (the owner)
	# attacks instead.
	my @attacker = ('authenticator', "SET ROLE service_role;\n");
	if ($node->safe_psql('lock',
			q{SELECT has_function_privilege('service_role', 'pp_range_stats(tstzrange)', 'EXECUTE')}) ne 't')
	{
		note('service_role may not execute pp_range_stats: the owner attacks');
		@attacker = ($owner);
	}

	for my $end ('5000-01-01', '294276-01-01')
	{
		my $attacker = session_open('lock', @attacker);
		my $t_attack = [gettimeofday];
		my $a = session_send($attacker,
			qq{SELECT count(*) FROM pp_range_stats(tstzrange(now() - interval '1 hour', '$end'))});
		# half a second for the call to be inside its walk
		usleep(500_000);
		my $t_victim = [gettimeofday];
		my $v = session_send($victim, qq{SELECT pp_ingest('$p1', 'lock:victim') IS NOT NULL});

		# Both sessions watched until both have ended.  The audit's year 5000
		# held the lock for 11 s; the year 294276 holds it for hours on a
		# vulnerable server, and neither can be cancelled: past the deadline
		# the test gives up on them.
		my $deadline = $end eq '5000-01-01' ? 150 : 10;
		my ($victim_s, $attack_s);
		while (!(defined $victim_s && defined $attack_s) && tv_interval($t_attack) < $deadline)
		{
			$victim_s //= tv_interval($t_victim) if session_ended($victim, $v);
			$attack_s //= tv_interval($t_attack) if session_ended($attacker, $a);
			usleep(5_000);
		}
		ok(defined $victim_s && $victim_s < 1.0, "range to $end: a concurrent pp_ingest finishes within 1 s")
		  or diag(defined $victim_s ? sprintf('it took %.2f s', $victim_s)
			  : sprintf('it was still waiting after %.0f s', tv_interval($t_victim)));
		if (!defined $victim_s || !defined $attack_s)
		{
			$stuck = $end;
			$_->{run}->kill_kill for ($attacker, $victim);
			last;
		}
		note(sprintf("range to $end: the attack took %.2f s, the victim's pp_ingest %.2f s",
			$attack_s, $victim_s));
		my ($vout, $verr) = session_take($victim, $v);
		is($verr, '', "range to $end: the victim's pp_ingest succeeded");
		my ($aout, $aerr) = session_take($attacker, $a);
		my $state = sqlstate($aerr);
		ok($aerr eq '' || $state =~ /^22/, "range to $end: answered, or refused with class 22")
		  or diag(first_error($aerr));
		note("range to $end: " . ($aerr eq '' ? 'answered' : "refused ($state)"));
		session_close($attacker);
	}
	if (!defined $stuck)
	{
		session_close($victim);
		nothing_gained('after the far-future ranges', 'lock');
	}
	pp_log_lacks($node, $crash_re, 'no crash in the server log');
	if (defined $stuck)
	{
		# nothing else can run: the server goes
		note("the range to $stuck still holds the lock: immediate shutdown");
		$node->stop('immediate');
	}
	else
	{
		$node->stop;
	}
};

done_testing();
