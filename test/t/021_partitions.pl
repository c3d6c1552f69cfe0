# test/t/021_partitions.pl -- performance_profiles partitioned by day.
#
# (a) ppprof.partition_profiles at CREATE EXTENSION and pp_create_partitions:
#     profiles over four days through the parent; the live statistics equal
#     the exact SQL; a clean restart writes and loads them (valid at once,
#     still exact).
# (b) Retention while profiles arrive: two pgbench clients write profiles
#     dated in an old partition (today's once it is gone) and today, while
#     that partition is dropped and another is detached; no deadlock, no
#     error, and the statistics equal the table's afterwards.  A role that
#     owns neither is refused at once, without queueing for a lock behind
#     an open writer.
# (c) pg_dump -Fc and pg_restore with ppprof.partition_profiles on.
# (d) pg_partman (Debian's postgresql-15-partman, 4.x): create_parent daily,
#     run_maintenance with retention dropping, then detaching, partitions;
#     the statistics stay valid and exact.  Skipped, with the reason, where
#     pg_partman 4.x is not installed (the PostgreSQL 17 chroot).
# (e) Without shared_preload_libraries: created partitioned, a partition
#     dropped, the statistics (from the table) count what is left.
#
# The windows compared are read in one transaction; no window edge is near
# a row that changes during the test.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use PPTest;

my $node = pp_start_node('partitions', conf => "timezone = 'UTC'");
pp_client_env($node, 'postgres');
my @windows = ('1 hour', '1 day', '5 days');

sub partitioned_install
{
	$node->safe_psql('postgres', q{
		SET ppprof.partition_profiles = on;
		CREATE EXTENSION ppprof;
	});
	pp_install_generator($node);
	pp_create_exact_nodes($node);
	pp_create_stats_mismatches($node);
	return;
}

sub drop_all
{
	$node->safe_psql('postgres', q{
		DROP VIEW exact_nodes CASCADE;
		DROP FUNCTION stats_mismatches(interval);
		DO $$
		DECLARE
		  r regclass;
		BEGIN
		  FOR r IN SELECT inhrelid::regclass FROM pg_inherits
		            WHERE inhparent = 'performance_profiles'::regclass LOOP
		    EXECUTE format('DROP TABLE %s', r);
		  END LOOP;
		END;
		$$;
		DROP EXTENSION ppprof;
		DROP SCHEMA ppgen CASCADE;
	});
	return;
}

sub day_partition
{
	my ($days_ago) = @_;
	return $node->safe_psql('postgres',
		"SELECT format('performance_profiles_p%s', to_char(current_date - $days_ago, 'YYYYMMDD'))");
}

#
# (a) four days of profiles, a clean restart
#
partitioned_install();
is($node->safe_psql('postgres', 'SELECT count(*) FROM pp_create_partitions(1, current_date - 4)'),
	'6', 'six daily partitions');
is($node->safe_psql('postgres', q{
	SELECT ppgen.load(600, '50 minutes', now() - interval '5 minutes')
	     + ppgen.load(1400, '3 days 23 hours', date_trunc('day', now()) - interval '10 minutes')}),
	'2000', '2000 profiles over five days');
is($node->safe_psql('postgres', q{
	SELECT count(DISTINCT tableoid) FROM performance_profiles}), '5', 'in five partitions');
pp_check_exact($node, \@windows, 'partitioned');
$node->restart;
is(pp_info_field($node, 'statistics'), 'valid', 'clean restart: statistics valid at once');
like(pp_info_field($node, 'statistics_file'), qr/^loaded: /, 'clean restart: the statistics file was loaded');
pp_check_exact($node, \@windows, 'partitioned, after a clean restart');

#
# (b) a partition dropped and another detached while profiles arrive
#
my $day2 = day_partition(2);
my $day3 = day_partition(3);
my $script = $node->basedir . '/writer.sql';
open(my $fh, '>', $script) or die "cannot write $script: $!";
print $fh <<'EOF';
DO $$
BEGIN
  INSERT INTO performance_profiles (query_id, profile_data, created_at)
  SELECT 'old', ppgen.profile(g, t), t
    FROM (SELECT (random() * 1000)::bigint AS g,
                 date_trunc('day', now()) - interval '2 days' + random() * interval '20 hours' AS t) r;
EXCEPTION WHEN check_violation THEN
  -- the partition is gone: today's instead
  INSERT INTO performance_profiles (query_id, profile_data)
  VALUES ('late', ppgen.profile(1, now()));
END;
$$;
SELECT pp_ingest(ppgen.profile(7, now()), 'new');
EOF
close $fh;
my $bench = pp_start_pgbench('-c', 2, '-t', 400, '-f', $script, 'postgres');
ok($node->poll_query_until('postgres', "SELECT count(*) >= 50 FROM $day2 WHERE query_id = 'old'"),
	'the writers reach the partition of two days ago');
$node->safe_psql('postgres', "DROP TABLE $day2");
$node->safe_psql('postgres', "ALTER TABLE performance_profiles DETACH PARTITION $day3");
ok($bench->{run}->finish, 'the writers end without error') or diag("$bench->{out}\n$bench->{err}");
like($bench->{out}, qr/number of failed transactions: 0/, 'no transaction failed');
is($node->safe_psql('postgres', "SELECT to_regclass('$day2') IS NULL"), 't', 'the partition is dropped');
note('profiles the writers moved to today once the partition was gone: '
	  . $node->safe_psql('postgres', "SELECT count(*) FROM performance_profiles WHERE query_id = 'late'"));
cmp_ok($node->safe_psql('postgres', "SELECT count(*) FROM $day3"), '>', 0,
	'the detached partition keeps its rows');
is(pp_info_field($node, 'statistics'), 'valid', 'retention under load: statistics valid');
pp_no_mismatches($node, $_, "retention under load, $_: calls, errors and avg equal the table's")
  for @windows;
$node->safe_psql('postgres', "DROP TABLE $day3");

# a role that does not own a partition is refused before ppprof locks
# anything: it does not queue for the table behind an open writer
my $day1 = day_partition(1);
$node->safe_psql('postgres', 'CREATE ROLE intruder');
my $holder = $node->background_psql('postgres');
$holder->query_safe('BEGIN');
$holder->query_safe("SELECT pp_ingest(ppgen.profile(3, now()), 'held')");
my ($ret, $out, $err) = $node->psql('postgres', "SET ROLE intruder; SET lock_timeout = '60s'; DROP TABLE $day1");
like($err, qr/ERROR:  must be owner of table \Q$day1\E/, 'a role that does not own the partition is refused at once');
($ret, $out, $err) = $node->psql('postgres', "SET ROLE intruder; SET lock_timeout = '60s';
	ALTER TABLE performance_profiles DETACH PARTITION $day1");
like($err, qr/ERROR:  must be owner of table performance_profiles/, 'or the table, to detach it');
($ret, $out, $err) = $node->psql('postgres', "SET ROLE intruder; SET lock_timeout = '60s'; TRUNCATE $day1");
like($err, qr/ERROR:  permission denied for table \Q$day1\E/, 'or the right to truncate it');
$holder->query_safe('COMMIT');
$holder->quit;
$node->safe_psql('postgres', 'DROP ROLE intruder');
is(pp_info_field($node, 'statistics'), 'valid', 'refused commands: statistics valid');
pp_no_mismatches($node, '1 day', "refused commands: calls, errors and avg equal the table's");

#
# (c) pg_dump and pg_restore: the partitions are the user's tables, dumped
#     with their rows; restored with ppprof.partition_profiles on, the
#     extension makes the partitioned parent they attach to, and their rows
#     arrive through the cloned triggers
#
my $dump = $node->basedir . '/partitioned.dump';
my ($dump_out, $dump_err) = ('', '');
ok(IPC::Run::run([ 'pg_dump', '-Fc', '-d', 'postgres', '-f', $dump ], '>', \$dump_out, '2>', \$dump_err),
	'pg_dump -Fc exits 0') or diag($dump_err);
$node->safe_psql('postgres', 'CREATE DATABASE restored');
{
	# the partitions get the parent's key and created_at index when they are
	# attached: their own copies in the dump's post-data are left out
	my ($list, $err) = ('', '');
	ok(IPC::Run::run([ 'pg_restore', '-l', $dump ], '>', \$list, '2>', \$err), 'pg_restore -l exits 0');
	my @left = grep { / (?:CONSTRAINT \S+ \S+|INDEX \S+|INDEX ATTACH \S+) performance_profiles_p\d{8}_(?:pkey|created_at_idx) / }
	  split /\n/, $list;
	is(scalar(@left), 4 * 4, 'four entries per partition left out: key, index and their attachments');
	$list = join("\n", grep { !/ (?:CONSTRAINT \S+ \S+|INDEX \S+|INDEX ATTACH \S+) performance_profiles_p\d{8}_(?:pkey|created_at_idx) / }
		  split /\n/, $list) . "\n";
	my $list_file = $node->basedir . '/partitioned.list';
	open(my $lf, '>', $list_file) or die "cannot write $list_file: $!";
	print $lf $list;
	close $lf;
	local $ENV{PGOPTIONS} = '-c ppprof.partition_profiles=on';
	my $out = '';
	ok(IPC::Run::run([ 'pg_restore', '-L', $list_file, '-d', 'restored', $dump ], '>', \$out, '2>', \$err),
		'pg_restore with ppprof.partition_profiles on exits 0') or diag($err);
	is($err, '', 'pg_restore prints nothing on stderr');
}
is($node->safe_psql('restored', q{
	SELECT count(*) FILTER (WHERE i.indisprimary) || '/' || count(*) FROM pg_index i
	 WHERE i.indrelid IN (SELECT inhrelid FROM pg_inherits WHERE inhparent = 'performance_profiles'::regclass)}),
	'4/8', 'restored: each partition has the key and the created_at index');
my $rows = q{SELECT string_agg(format('%s=%s', tableoid::regclass, n), ',' ORDER BY 1)
               FROM (SELECT tableoid::regclass::text AS tableoid, count(*) AS n
                       FROM performance_profiles GROUP BY 1) c};
is($node->safe_psql('restored', $rows), $node->safe_psql('postgres', $rows),
	'restored: the same partitions with the same rows');
my $calls = q{SELECT string_agg(format('%s=%s/%s/%s', operation, calls, errors, round(total_ms::numeric, 6)), ','
                                ORDER BY operation)
                FROM pp_operation_stats('5 days')};
is($node->safe_psql('restored', $calls), $node->safe_psql('postgres', $calls),
	'restored: the statistics count every restored row, as the source does');
is($node->safe_psql('restored', "SELECT pp_info()->>'statistics'"), 'valid', 'restored: statistics valid');
$node->safe_psql('postgres', 'DROP DATABASE restored');
drop_all();

#
# (d) pg_partman
#
SKIP:
{
	my $partman = $node->safe_psql('postgres',
		"SELECT default_version FROM pg_available_extensions WHERE name = 'pg_partman'");
	skip "pg_partman is not installed (Debian: postgresql-15-partman)", 22 if $partman eq '';
	skip "pg_partman $partman is not 4.x, whose create_parent(p_type => 'native') this test calls", 22
	  if $partman !~ /^4\./;

	partitioned_install();
	$node->safe_psql('postgres', q{
		CREATE SCHEMA partman;
		CREATE EXTENSION pg_partman SCHEMA partman;
		SELECT partman.create_parent('public.performance_profiles', 'created_at', 'native', 'daily',
		                             p_premake := 2,
		                             p_start_partition := (current_date - 4)::text);
	});
	is($node->safe_psql('postgres', q{
		SELECT count(*) FROM pg_inherits WHERE inhparent = 'performance_profiles'::regclass}),
		'8', 'pg_partman: daily partitions from four days ago to two ahead, and a default');
	is($node->safe_psql('postgres', q{
		SELECT ppgen.load(600, '50 minutes', now() - interval '5 minutes')
		     + ppgen.load(1400, '3 days 23 hours', date_trunc('day', now()) - interval '10 minutes')}),
		'2000', 'pg_partman: 2000 profiles over five days');
	pp_check_exact($node, \@windows, 'pg_partman');

	# retention by dropping: the partitions that end two days ago or before
	$node->safe_psql('postgres', q{
		UPDATE partman.part_config SET retention = '2 days', retention_keep_table = false
		 WHERE parent_table = 'public.performance_profiles';
		SELECT partman.run_maintenance('public.performance_profiles');
	});
	is($node->safe_psql('postgres', q{
		SELECT min(created_at) >= date_trunc('day', now()) - interval '2 days' FROM performance_profiles}),
		't', 'pg_partman: retention dropped the older days');
	is(pp_info_field($node, 'statistics'), 'valid', 'pg_partman, dropped: statistics valid');
	pp_no_mismatches($node, $_, "pg_partman, dropped, $_: calls, errors and avg equal the table's")
	  for @windows;

	# retention by detaching (retention_keep_table)
	$node->safe_psql('postgres', q{
		UPDATE partman.part_config SET retention = '1 day', retention_keep_table = true
		 WHERE parent_table = 'public.performance_profiles';
		SELECT partman.run_maintenance('public.performance_profiles');
	});
	my $kept = day_partition(2);
	$kept =~ s/_p(\d{4})(\d\d)(\d\d)$/_p$1_$2_$3/;
	is($node->safe_psql('postgres', qq{
		SELECT (SELECT count(*) > 0 FROM $kept)
		   AND NOT EXISTS (SELECT FROM pg_inherits WHERE inhrelid = '$kept'::regclass)}),
		't', 'pg_partman: retention detached the day two days ago, its rows kept');
	is(pp_info_field($node, 'statistics'), 'valid', 'pg_partman, detached: statistics valid');
	pp_no_mismatches($node, $_, "pg_partman, detached, $_: calls, errors and avg equal the table's")
	  for @windows;
}

#
# (e) without shared_preload_libraries: the setting is a placeholder until
#     CREATE EXTENSION loads the library, and dropping a partition works
#     (there are no live statistics to keep; answers come from the table)
#
my $plain = pp_start_node('nopreload', preload => 0, conf => "timezone = 'UTC'");
$plain->safe_psql('postgres', q{
	SET ppprof.partition_profiles = on;
	CREATE EXTENSION ppprof;
	SELECT pp_create_partitions(0, current_date - 1);
	INSERT INTO performance_profiles (query_id, profile_data, created_at)
	SELECT 'p' || g, jsonb_build_object('operation_name', 'op', 'duration_ms', g),
	       date_trunc('day', now()) - interval '1 day' + g * interval '1 minute'
	  FROM generate_series(1, 30) g;
	INSERT INTO performance_profiles (query_id, profile_data)
	SELECT 'q' || g, jsonb_build_object('operation_name', 'op', 'duration_ms', g)
	  FROM generate_series(1, 20) g;
});
is($plain->safe_psql('postgres', q{SELECT relkind FROM pg_class WHERE oid = 'performance_profiles'::regclass}),
	'p', 'no preload: the table is partitioned');
$plain->safe_psql('postgres',
	"DROP TABLE " . $plain->safe_psql('postgres',
		"SELECT format('performance_profiles_p%s', to_char(current_date - 1, 'YYYYMMDD'))"));
is($plain->safe_psql('postgres', q{SELECT calls FROM pp_operation_stats('3 days') WHERE operation = 'op'}),
	'20', 'no preload: after the drop, the statistics read from the table count what is left');
$plain->stop;

done_testing();
