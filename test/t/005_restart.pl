# test/t/005_restart.pl -- what the live statistics become across restarts.
#
# (a) A clean restart writes pg_stat/ppprof.stat at shutdown and loads it at
#     start-up: the statistics are valid at once, and pp_operation_stats over
#     15 minutes, 1 day and 3 days (every column), pp_path_stats over the
#     same windows (every column, from the loaded path entries) and
#     pp_operation_samples answer exactly as before the restart.  The file
#     is unlinked once loaded.  So do the dimension entries: pp_dimension_stats
#     answers identically from them.
# (b) A statistics file that is garbage, truncated, has one byte flipped, a
#     wrong magic number or another format version (format 4, written
#     before call paths, included) is logged, rejected and
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

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PPTest;

my $node = pp_start_node('restart');
pp_client_env($node, 'postgres');

my $stat_file = $node->data_dir . '/pg_stat/ppprof.stat';
my @windows = ('15 minutes', '1 day', '3 days');

$node->safe_psql('postgres', 'CREATE EXTENSION ppprof');
pp_install_generator($node);

# The exact answer from the table: every node, flattened.
pp_create_exact_nodes($node);

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
# model calls with tokens, a price and a time to first token (docs/cost.md):
# their sums and their second sketch go through the file too
$node->safe_psql('postgres', q{
	INSERT INTO performance_profiles (query_id, profile_data, created_at)
	SELECT 'u-' || g, jsonb_build_object('operation_name', 'chat', 'duration_ms', 50 + g,
	         'metadata', jsonb_build_object('gen_ai.response.model', 'gpt-4o-mini',
	           'gen_ai.usage.input_tokens', g * 10, 'gen_ai.usage.output_tokens', g,
	           'time_to_first_token_ms', 20 + g % 37)),
	       now() - interval '3 minutes' - (g % 9) * interval '1 minute' - (g % 3) * interval '8 hours'
	  FROM generate_series(1, 200) g;
});
is($node->safe_psql('postgres', q{
	SELECT input_tokens = 201000 AND output_tokens = 20100 AND cost_usd > 0 AND ttft_p95_ms > ttft_p50_ms
	  FROM pp_operation_stats('1 day') WHERE operation = 'chat'}),
	't', 'tokens, cost and time to first token are in the statistics');
is(pp_info_field($node, 'statistics'), 'valid', 'statistics valid before the restart');
is(pp_info_field($node, 'statistics_file'), 'none: no statistics file', 'no statistics file at the first start');
pp_check_exact($node, \@windows, 'before the restart');

#
# (a) clean restart
#
my $full = q{SELECT * FROM pp_operation_stats('%s')};
my $samples = q{SELECT * FROM pp_operation_samples('vector_search')};
my %before;
$before{$_} = $node->safe_psql('postgres', sprintf($full, $_)) for @windows;
$before{samples} = $node->safe_psql('postgres', $samples);
my $ops_before = pp_info_field($node, 'operations_all_databases');
my $paths = q{SELECT * FROM pp_path_stats('%s')};
$before{"paths $_"} = $node->safe_psql('postgres', sprintf($paths, $_)) for @windows;
my $paths_before = pp_info_field($node, 'paths');
cmp_ok($paths_before, '>', 5, 'call paths are tracked in shared memory');
is(pp_info_field($node, 'paths_incomplete_before'), '', 'every path is in shared memory');
my $samples_count = scalar(my @s = split /\n/, $before{samples});
cmp_ok($samples_count, '>', 100, 'vector_search has a reservoir');

# dimensions: their entries and hour buckets go through the file too
my $dims = q{SELECT d, w, s.* FROM unnest(ARRAY['model', 'release']) d,
                    unnest(ARRAY['1 day', '3 days']::interval[]) w, LATERAL pp_dimension_stats(w, d) s};
$node->safe_psql('postgres', "CREATE TABLE dims_before AS $dims");
my $dim_entries = pp_info_field($node, 'dimension_entries');
cmp_ok($dim_entries, '>', 10, 'dimension entries in shared memory');
is(pp_info_field($node, 'dimensions_incomplete_before'), '', 'every dimension entry is in shared memory');
my $dims_compare = qq{
WITH a AS ($dims)
SELECT (SELECT count(*) FROM a),
       (SELECT count(*) FROM ((TABLE a EXCEPT ALL TABLE dims_before) UNION ALL
                              (TABLE dims_before EXCEPT ALL TABLE a)) x)};

my $offset = -s $node->logfile;
$node->restart;
ok(!-e $stat_file, 'the statistics file is unlinked once loaded');
is(pp_info_field($node, 'dimension_entries'), $dim_entries, 'clean restart: every dimension entry loaded');
is(pp_info_field($node, 'dimensions_incomplete_before'), '',
	'clean restart: dimension windows answer from shared memory');
my ($dim_rows, $dim_wrong) = split /\|/, $node->safe_psql('postgres', $dims_compare);
cmp_ok($dim_rows, '>', 20, 'clean restart: dimension rows to compare');
is($dim_wrong, '0', 'clean restart: pp_dimension_stats identical in every column');
is(pp_info_field($node, 'statistics'), 'valid', 'clean restart: statistics valid at once');
is(pp_info_field($node, 'statistics_file'), "loaded: $ops_before operations from the last clean shutdown",
	'clean restart: the statistics file was loaded, every operation');
pp_log_lacks($node, 'ignoring ppprof statistics file', 'clean restart: nothing ignored', $offset);
for my $w (@windows)
{
	my $after = $node->safe_psql('postgres', sprintf($full, $w));
	my $rows = scalar(my @r = split /\n/, $after);
	cmp_ok($rows, '>=', 10, "clean restart, $w: every operation present");
	is($after, $before{$w}, "clean restart, $w: pp_operation_stats identical in every column");
}
is($node->safe_psql('postgres', $samples), $before{samples},
	'clean restart: pp_operation_samples identical');
is(pp_info_field($node, 'paths'), $paths_before, 'clean restart: every path entry loaded');
is(pp_info_field($node, 'paths_incomplete_before'), '', 'clean restart: path windows answer from shared memory');
for my $w (@windows)
{
	is($node->safe_psql('postgres', sprintf($paths, $w)), $before{"paths $w"},
		"clean restart, $w: pp_path_stats identical in every column");
}
pp_check_exact($node, \@windows, 'clean restart');
is(pp_info_field($node, 'statistics'), 'valid', 'clean restart: reading did not invalidate anything');

# the loaded statistics stay live: new rows are counted
$node->safe_psql('postgres', q{
	SELECT ppgen.load(40, '5 minutes', now() - interval '3 minutes');
	DELETE FROM performance_profiles WHERE query_id IN ('q-5', 'q-6');
});
pp_check_exact($node, \@windows, 'clean restart, then inserts and deletes');
cmp_ok(pp_info_field($node, 'dimension_entries'), '>', 0, 'clean restart, then inserts: dimension entries again');
is(pp_info_field($node, 'statistics'), 'valid', 'clean restart, then writes: still valid');

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
	like(pp_info_field($node, 'statistics_file'), $why, "$how: pp_info says the file was rejected, and why");
	is(pp_info_field($node, 'statistics'), 'invalid: answers from the table until pp_rebuild()',
		"$how: statistics invalid before any read");
	pp_check_exact($node, \@windows, "$how, from the table");
	pp_poll_valid($node, $how);
	pp_check_exact($node, \@windows, "$how, rebuilt");
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

# and so is a file of format 4, from before call paths
rejected_case('file of format 4',
	sub {
		my $bytes = read_file();
		substr($bytes, 4, 4) = pack('L', 4);
		write_file($bytes);
	},
	qr/^rejected: written by another version$/);

#
# (c) immediate shutdown: no file
#
$node->safe_psql('postgres', q{SELECT ppgen.load(30, '5 minutes', now() - interval '3 minutes')});
pp_check_exact($node, \@windows, 'before the immediate shutdown');
$node->stop('immediate');
ok(!-e $stat_file, 'immediate shutdown: no statistics file written');
$offset = -s $node->logfile;
$node->start;
is(pp_info_field($node, 'statistics_file'), 'none: no statistics file', 'immediate shutdown: nothing loaded');
pp_log_lacks($node, 'ignoring ppprof statistics file', 'immediate shutdown: nothing to ignore', $offset);
is(pp_info_field($node, 'statistics'), 'invalid: answers from the table until pp_rebuild()',
	'immediate shutdown: statistics invalid before any read');
pp_check_exact($node, \@windows, 'immediate shutdown, from the table');
pp_poll_valid($node, 'immediate shutdown');
pp_check_exact($node, \@windows, 'immediate shutdown, rebuilt');
ok($node->log_contains(qr/ppprof rebuilt the statistics of database \d+ from \d+ profiles/, $offset),
	'immediate shutdown: the rebuild is logged');

# and a clean restart after that carries the rebuilt statistics
$node->restart;
like(pp_info_field($node, 'statistics_file'), qr/^loaded: \d+ operations/, 'clean restart after a rebuild: loaded');
is(pp_info_field($node, 'statistics'), 'valid', 'clean restart after a rebuild: valid');
pp_check_exact($node, \@windows, 'clean restart after a rebuild');

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
