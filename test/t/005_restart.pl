# test/t/005_restart.pl -- what the live statistics become across restarts.
#
# (a) A clean restart writes pg_stat/ppprof.stat at shutdown and loads it at
#     start-up: the statistics are valid at once, and pp_operation_stats over
#     15 minutes, 1 day and 3 days (every column) and pp_operation_samples
#     answer exactly as before the restart.  The file is unlinked once
#     loaded.
# (b) A statistics file that is garbage, truncated, has one byte flipped, a
#     wrong magic number or another format version is logged, rejected and
#     unlinked: the server starts, answers come from the table (exact), the
#     first read starts the background rebuild, and the rebuilt statistics
#     are exact.
# (c) After an immediate shutdown no file is written: nothing is loaded,
#     the statistics are invalid until rebuilt, then valid and exact.
#
# The profiles are placed at least two minutes away from every window edge
# the test reads, so that the clock moving on during the test does not
# change which rows a window covers.
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

my $node = PostgreSQL::Test::Cluster->new('restart');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'ppprof'
});
$node->start;

$ENV{PGHOST} = $node->host;
$ENV{PGPORT} = $node->port;
$ENV{PGDATABASE} = 'postgres';

my $stat_file = $node->data_dir . '/pg_stat/ppprof.stat';
my @windows = ('15 minutes', '1 day', '3 days');

$node->safe_psql('postgres', 'CREATE EXTENSION ppprof');
my ($out, $err) = ('', '');
ok(IPC::Run::run([ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-f', $generator ],
		'>', \$out, '2>', \$err), 'generator installs')
  or diag($err);

# The exact answer from the table: every node, flattened.
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

# pp_operation_stats equals the table for every window: calls and errors per
# operation compared as text, and every operation whose calls, errors,
# average, total, first or last created_at differ listed.  One transaction
# (one now()); the table's nodes are flattened once into a temporary table.
my $check_sql = q{
BEGIN;
CREATE TEMP TABLE en ON COMMIT DROP AS SELECT * FROM exact_nodes;
WITH w(w) AS (SELECT unnest('{%s}'::interval[])),
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
  FROM w ORDER BY w;
COMMIT;
};

sub check_exact
{
	my ($how) = @_;
	my $res = $node->safe_psql('postgres',
		sprintf($check_sql, join(',', map { qq{"$_"} } @windows)));
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
	my ($field) = @_;
	return $node->safe_psql('postgres', "SELECT pp_info()->>'$field'");
}

sub poll_valid
{
	my ($how) = @_;
	ok($node->poll_query_until('postgres', "SELECT pp_info()->>'statistics' = 'valid'"),
		"$how: the background rebuild makes the statistics valid");
	return;
}

#
# Profiles over 3 days, in three groups away from the window edges:
# [now-12 min, now-2 min) in minute buckets (50 a minute), [now-23 h, now-1 h)
# and [now-71.5 h, now-24.5 h) in hour buckets.  Then DELETEs and UPDATEs.
#
is($node->safe_psql('postgres', q{
	SELECT ppgen.load(500, '10 minutes', now() - interval '2 minutes')
	     + ppgen.load(1200, '22 hours', now() - interval '1 hour')
	     + ppgen.load(1300, '47 hours', now() - interval '24 hours 30 minutes')}),
	'3000', '3000 profiles over 3 days');
$node->safe_psql('postgres', q{
	DELETE FROM performance_profiles WHERE query_id IN ('q-7', 'q-77', 'q-777');
	DELETE FROM performance_profiles WHERE query_id LIKE 'q-4_';
	UPDATE performance_profiles SET created_at = created_at - interval '2 hours'
	 WHERE query_id IN ('q-100', 'q-200', 'q-300');
	UPDATE performance_profiles SET profile_data = ppgen.profile(100000 + length(query_id))
	 WHERE query_id IN ('q-11', 'q-12', 'q-13', 'q-1000');
});
is(info('statistics'), 'valid', 'statistics valid before the restart');
is(info('statistics_file'), 'none: no statistics file', 'no statistics file at the first start');
check_exact('before the restart');

#
# (a) clean restart
#
my $full = q{SELECT * FROM pp_operation_stats('%s')};
my $samples = q{SELECT * FROM pp_operation_samples('vector_search')};
my %before;
$before{$_} = $node->safe_psql('postgres', sprintf($full, $_)) for @windows;
$before{samples} = $node->safe_psql('postgres', $samples);
my $ops_before = info('operations_all_databases');
my $samples_count = scalar(my @s = split /\n/, $before{samples});
cmp_ok($samples_count, '>', 100, 'vector_search has a reservoir');

my $offset = -s $node->logfile;
$node->restart;
ok(!-e $stat_file, 'the statistics file is unlinked once loaded');
is(info('statistics'), 'valid', 'clean restart: statistics valid at once');
is(info('statistics_file'), "loaded: $ops_before operations from the last clean shutdown",
	'clean restart: the statistics file was loaded, every operation');
ok(!$node->log_contains('ignoring ppprof statistics file', $offset), 'clean restart: nothing ignored');
for my $w (@windows)
{
	my $after = $node->safe_psql('postgres', sprintf($full, $w));
	my $rows = scalar(my @r = split /\n/, $after);
	cmp_ok($rows, '>=', 10, "clean restart, $w: every operation present");
	is($after, $before{$w}, "clean restart, $w: pp_operation_stats identical in every column");
}
is($node->safe_psql('postgres', $samples), $before{samples},
	'clean restart: pp_operation_samples identical');
check_exact('clean restart');
is(info('statistics'), 'valid', 'clean restart: reading did not invalidate anything');

# the loaded statistics stay live: new rows are counted
$node->safe_psql('postgres', q{
	SELECT ppgen.load(40, '5 minutes', now() - interval '3 minutes');
	DELETE FROM performance_profiles WHERE query_id IN ('q-5', 'q-6');
});
check_exact('clean restart, then inserts and deletes');
is(info('statistics'), 'valid', 'clean restart, then writes: still valid');

#
# (b) files that must be rejected
#
# Each case stops the node cleanly (which writes a real file), replaces or
# edits the file, and starts the node.
sub rejected_case
{
	my ($how, $edit, $why) = @_;

	$node->stop;
	ok(-s $stat_file, "$how: a clean shutdown writes the statistics file");
	$edit->();
	my $offset = -s $node->logfile;
	$node->start;
	ok($node->log_contains(qr/LOG:  ignoring ppprof statistics file "pg_stat\/ppprof.stat": /, $offset),
		"$how: the server log says the file is ignored");
	ok(!-e $stat_file, "$how: the rejected file is unlinked");
	like(info('statistics_file'), $why, "$how: pp_info says the file was rejected, and why");
	is(info('statistics'), 'invalid: answers from the table until pp_rebuild()',
		"$how: statistics invalid before any read");
	check_exact("$how, from the table");
	poll_valid($how);
	check_exact("$how, rebuilt");
	return;
}

sub write_file
{
	my ($bytes) = @_;
	open my $fh, '>:raw', $stat_file or die "open $stat_file: $!";
	print $fh $bytes;
	close $fh or die;
	return;
}

sub read_file
{
	open my $fh, '<:raw', $stat_file or die "open $stat_file: $!";
	local $/;
	my $bytes = <$fh>;
	close $fh;
	return $bytes;
}

rejected_case('garbage file',
	sub { write_file(join('', map { chr(int(rand(256))) } 1 .. 8192)) },
	qr/^rejected: (not a ppprof statistics file|file is truncated)$/);

rejected_case('truncated file',
	sub {
		my $size = -s $stat_file;
		cmp_ok($size, '>', 100_000, 'truncated file: the real file holds the buckets');
		truncate($stat_file, int($size / 2)) or die "truncate: $!";
	},
	qr/^rejected: (checksum mismatch|file is truncated)$/);

rejected_case('file with one byte flipped',
	sub {
		my $bytes = read_file();
		my $mid = int(length($bytes) / 2);
		substr($bytes, $mid, 1) = chr(ord(substr($bytes, $mid, 1)) ^ 0x5a);
		write_file($bytes);
	},
	qr/^rejected: checksum mismatch$/);

rejected_case('file with another magic number',
	sub {
		my $bytes = read_file();
		substr($bytes, 0, 4) = pack('L', 0x12345678);
		write_file($bytes);
	},
	qr/^rejected: not a ppprof statistics file$/);

# a file written by another version of the format is rejected too
rejected_case('file of another format version',
	sub {
		my $bytes = read_file();
		substr($bytes, 4, 4) = pack('L', unpack('L', substr($bytes, 4, 4)) + 1);
		write_file($bytes);
	},
	qr/^rejected: written by another version$/);

#
# (c) immediate shutdown: no file
#
$node->safe_psql('postgres', q{SELECT ppgen.load(30, '5 minutes', now() - interval '3 minutes')});
check_exact('before the immediate shutdown');
$node->stop('immediate');
ok(!-e $stat_file, 'immediate shutdown: no statistics file written');
$offset = -s $node->logfile;
$node->start;
is(info('statistics_file'), 'none: no statistics file', 'immediate shutdown: nothing loaded');
ok(!$node->log_contains('ignoring ppprof statistics file', $offset),
	'immediate shutdown: nothing to ignore');
is(info('statistics'), 'invalid: answers from the table until pp_rebuild()',
	'immediate shutdown: statistics invalid before any read');
check_exact('immediate shutdown, from the table');
poll_valid('immediate shutdown');
check_exact('immediate shutdown, rebuilt');
ok($node->log_contains(qr/ppprof rebuilt the statistics of database \d+ from \d+ profiles/, $offset),
	'immediate shutdown: the rebuild is logged');

# and a clean restart after that carries the rebuilt statistics
$node->restart;
like(info('statistics_file'), qr/^loaded: \d+ operations/, 'clean restart after a rebuild: loaded');
is(info('statistics'), 'valid', 'clean restart after a rebuild: valid');
check_exact('clean restart after a rebuild');

# Known limitation (docs/statistics.md, "Only committed data counts"): like
# min_ms and max_ms, first_seen and last_seen are not subtracted.  Deleting
# the oldest profile of a window leaves the window's first_seen at the
# deleted profile's created_at.  A TODO test, so that a fix shows up.
{
	my $seen = q{
		SELECT (SELECT string_agg(operation || '=' || first_seen, ',' ORDER BY operation)
		          FROM pp_operation_stats('1 day'))
		UNION ALL
		SELECT (SELECT string_agg(operation || '=' || min, ',' ORDER BY operation)
		          FROM (SELECT operation, min(created_at) FROM exact_nodes
		                 WHERE created_at >= now() - interval '1 day' AND created_at <= now()
		                 GROUP BY 1) e)};
	my ($live, $exact) = split /\n/, $node->safe_psql('postgres', $seen);
	is($live, $exact, 'first_seen per operation equals the table\'s');
	$node->safe_psql('postgres', q{
		DELETE FROM performance_profiles
		 WHERE id = (SELECT id FROM performance_profiles
		              WHERE created_at >= now() - interval '1 day' ORDER BY created_at LIMIT 1)});
	($live, $exact) = split /\n/, $node->safe_psql('postgres', $seen);
	local $TODO = 'first_seen and last_seen are not subtracted on DELETE (like min_ms and max_ms)';
	is($live, $exact, 'after deleting the oldest profile of the window, first_seen equals the table\'s');
}

$node->stop;
done_testing();
