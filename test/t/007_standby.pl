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
#  - pp_range_path_stats over a fixed range equals the primary's (read
#    from its shared memory);
#  - pp_operation_samples returns no row, without error;
#  - pp_rebuild() and pp_reset() fail with SQLSTATE 25006.
# After promotion the statistics are invalid (the table answers, exactly),
# the first read starts the background rebuild, and once valid, writes on
# the promoted node are counted exactly; a clean restart of the promoted
# node keeps them.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PPTest;

my $primary = pp_start_node('primary', init => [ allows_streaming => 1 ]);

$primary->safe_psql('postgres', 'CREATE EXTENSION ppprof');
pp_install_generator($primary);

# The exact answer from the table: every node, flattened.
pp_create_exact_nodes($primary);

my @windows = ('1 hour', '1 day');

# profiles before the backup
$primary->safe_psql('postgres', q{SELECT ppgen.load(400, '20 hours')});
pp_check_exact($primary, \@windows, 'primary', read_only => 1);

# A cold backup after a clean shutdown: it holds the primary's statistics
# file, which the standby must not load.
$primary->stop;
ok(-s $primary->data_dir . '/pg_stat/ppprof.stat', 'the primary wrote its statistics file');
$primary->backup_fs_cold('cold');
$primary->start;
like(pp_info_field($primary, 'statistics_file'), qr/^loaded: \d+ operations/, 'the primary loaded its file');
is(pp_info_field($primary, 'statistics'), 'valid', 'the primary is valid');

my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'cold', has_streaming => 1);
ok(-s $standby->data_dir . '/pg_stat/ppprof.stat', 'the backup holds the statistics file');
$standby->start;
ok(!-e $standby->data_dir . '/pg_stat/ppprof.stat', 'the standby unlinked the statistics file');
is(pp_info_field($standby, 'statistics_file'), 'ignored: the server started as a standby',
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
like(pp_info_field($standby, 'statistics'), qr/^standby: /, "pp_info()->>'statistics' says standby");
is(pp_info_field($standby, 'preloaded'), 'true', 'ppprof is preloaded on the standby');
pp_check_exact($standby, \@windows, 'standby', read_only => 1);
like(pp_info_field($standby, 'statistics'), qr/^standby: /, 'still standby after a read');

# the call paths of a fixed range: the standby's, from the replicated table,
# equal the primary's, from its shared memory (sums rounded: another order)
{
	my $range = $primary->safe_psql('postgres', q{SELECT tstzrange(now() - interval '2 hours', now())});
	my $sql = qq{SELECT path, calls, errors, round(total_ms::numeric, 6), round(self_ms::numeric, 6)
		FROM pp_range_path_stats('$range')};
	is(pp_info_field($primary, 'statistics'), 'valid', 'the primary answers from shared memory');
	my $on_primary = $primary->safe_psql('postgres', $sql);
	cmp_ok(scalar(my @p = split /\n/, $on_primary), '>', 5, 'the range has call paths');
	my ($ret, $out, $err) = $standby->psql('postgres', $sql);
	is($ret, 0, 'pp_range_path_stats runs on the standby');
	is($err, '', 'pp_range_path_stats: no message on the standby');
	is($out, $on_primary, 'pp_range_path_stats on the standby equals the primary\'s');
}

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
pp_log_lacks($standby, 'ppprof rebuilt', 'no rebuild on the standby');

#
# Promotion
#
$primary->stop;
$standby->promote;
is($standby->safe_psql('postgres', 'SELECT pg_is_in_recovery()'), 'f', 'the standby is promoted');
is(pp_info_field($standby, 'statistics'), 'invalid: answers from the table until pp_rebuild()',
	'after promotion: statistics invalid');

# a write before the first read
$standby->safe_psql('postgres', q{SELECT ppgen.load(50, '30 minutes', now() - interval '2 minutes')});
pp_check_exact($standby, \@windows, 'promoted, from the table', read_only => 1);
pp_poll_valid($standby, 'promoted');
pp_check_exact($standby, \@windows, 'promoted, rebuilt', read_only => 1);

# writes on the promoted node are counted
$standby->safe_psql('postgres', q{
	SELECT ppgen.load(120, '40 minutes', now() - interval '1 minute');
	DELETE FROM performance_profiles WHERE query_id IN ('q-44', 'q-45');
	UPDATE performance_profiles SET created_at = created_at - interval '10 minutes'
	 WHERE query_id IN ('q-30', 'q-31');
});
is(pp_info_field($standby, 'statistics'), 'valid', 'promoted, after writes: valid');
pp_check_exact($standby, \@windows, 'promoted, after writes', read_only => 1);
cmp_ok($standby->safe_psql('postgres', q{SELECT count(*) FROM pp_operation_samples('vector_search')}),
	'>', 0, 'promoted: pp_operation_samples has samples');

# a clean restart of the promoted node writes and loads its file
$standby->restart;
like(pp_info_field($standby, 'statistics_file'), qr/^loaded: \d+ operations/,
	'promoted, restarted: the statistics file is loaded');
is(pp_info_field($standby, 'statistics'), 'valid', 'promoted, restarted: valid');
pp_check_exact($standby, \@windows, 'promoted, restarted', read_only => 1);

$standby->stop;
done_testing();
