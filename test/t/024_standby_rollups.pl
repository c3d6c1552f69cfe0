# test/t/024_standby_rollups.pl -- a hot standby answers from the rollups
# it receives by streaming replication, plus the table rows they lack.
#
# The primary writes three days of profiles and their rollups (minutes,
# hours, days), then changes rows the rollups already hold: a profile dated
# into an old minute, a deletion and an update that moves a row between
# hours (all three mark their minutes), and profiles newer than the last
# rollup.  On the standby:
#  - the report says source 'rollups' (the primary's, 'shared memory');
#  - pp_operation_stats equals plain SQL over the replicated table, in
#    every window (calls, errors, sums, first and last seen);
#  - over one fixed range the standby's pp_range_stats equals the
#    primary's: counts and sums exact, percentiles within 1%;
#  - pp_range_path_stats (call paths, rolled up too) and the report's
#    wrappers' children equal the primary's;
#  - pp_trends has the primary's calls per bucket, and pp_compare its
#    calls and verdicts;
#  - after the primary writes the marked buckets again, the same holds;
#  - a rollup that is not one (edited on the primary) is an error that
#    says so, not a wrong answer.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PPTest;

my $primary = pp_start_node('primary', init => [ allows_streaming => 1 ],
	conf => 'ppprof.rollup_worker = off');
$primary->safe_psql('postgres', 'CREATE EXTENSION ppprof');
pp_install_generator($primary);
pp_create_exact_nodes($primary);

# three days, ending two hours ago, rolled up
$primary->safe_psql('postgres', q{SELECT ppgen.load(3000, '3 days', now() - interval '2 hours')});
cmp_ok($primary->safe_psql('postgres', 'SELECT pp_rollup()'), '>', 0, 'pp_rollup() writes rollups');
is($primary->safe_psql('postgres',
	q{SELECT string_agg(DISTINCT width, ',' ORDER BY width) FROM performance_rollups}),
	'day,hour,minute', 'rollups of days, hours and minutes');

$primary->backup('b');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'b', has_streaming => 1);
$standby->start;

# changes the rollups hold already (marked), and rows after the last rollup
$primary->safe_psql('postgres', q{
	INSERT INTO performance_profiles (query_id, profile_data, created_at)
	VALUES ('late', ppgen.profile(7, now() - interval '30 hours'), now() - interval '30 hours');
	DELETE FROM performance_profiles WHERE query_id IN ('q-100', 'q-2000');
	UPDATE performance_profiles SET created_at = created_at - interval '90 minutes'
	 WHERE query_id = 'q-2500';
	SELECT ppgen.load(200, '100 minutes', now());
});
cmp_ok($primary->safe_psql('postgres', 'SELECT count(*) FROM performance_rollup_stale'),
	'>=', 4, 'the changes marked their minutes');

my @windows = ('1 hour', '1 day', '3 days', '7 days');

sub compare_nodes
{
	my ($how) = @_;
	$primary->wait_for_catchup($standby);
	is($standby->safe_psql('postgres', 'SELECT count(*) FROM performance_profiles'),
		$primary->safe_psql('postgres', 'SELECT count(*) FROM performance_profiles'),
		"$how: the standby has caught up");

	is($primary->safe_psql('postgres', q{SELECT pp_optimization_report('3 days')->'summary'->>'source'}),
		'shared memory', "$how: the primary answers from shared memory");
	is($standby->safe_psql('postgres', q{SELECT pp_optimization_report('3 days')->'summary'->>'source'}),
		'rollups', "$how: the standby answers from the rollups");
	pp_check_exact($standby, \@windows, "$how, standby", read_only => 1);

	# one fixed range, ending after the last rollup, on both nodes
	my $range = $primary->safe_psql('postgres',
		q{SELECT tstzrange(now() - interval '2 days 7 hours 13 minutes 5 seconds', now() + interval '1 hour')});
	my $stats = qq{SELECT operation, calls, errors, round(total_ms::numeric, 3),
		p50_ms, p95_ms, p99_ms FROM pp_range_stats('$range') ORDER BY operation};
	my %p = map { my @f = split /\|/; ($f[0] => \@f) } split /\n/, $primary->safe_psql('postgres', $stats);
	my %s = map { my @f = split /\|/; ($f[0] => \@f) } split /\n/, $standby->safe_psql('postgres', $stats);
	cmp_ok(scalar(keys %p), '>=', 5, "$how: the range has operations");
	is(join(',', sort keys %s), join(',', sort keys %p), "$how: the same operations");
	my ($counts, $pct) = (0, 0);
	for my $op (keys %p)
	{
		next unless $s{$op};
		$counts++ if join('|', @{ $p{$op} }[1 .. 3]) eq join('|', @{ $s{$op} }[1 .. 3]);
		my $close = 1;
		for my $i (4 .. 6)
		{
			my ($a, $b) = ($p{$op}[$i], $s{$op}[$i]);
			$close = 0 unless abs($a - $b) <= 0.01 * abs($a);
		}
		$pct++ if $close;
	}
	is($counts, scalar(keys %p), "$how: calls, errors and total per operation equal the primary's");
	is($pct, scalar(keys %p), "$how: p50, p95 and p99 within 1% of the primary's");

	# the call paths over the same range (the report's wrappers read them)
	my $paths = qq{SELECT path, calls, errors, round(total_ms::numeric, 3), round(self_ms::numeric, 3)
		FROM pp_range_path_stats('$range') ORDER BY path};
	my $pp = $primary->safe_psql('postgres', $paths);
	cmp_ok(scalar(my @pl = split /\n/, $pp), '>', 5, "$how: the range has call paths");
	is($standby->safe_psql('postgres', $paths), $pp,
		"$how: pp_range_path_stats on the standby equals the primary's");
	my $report = q{SELECT jsonb_path_query_array(pp_optimization_report('3 days'),
		'$.top_bottlenecks[*] ? (@.reason == "child").via')};
	is($standby->safe_psql('postgres', $report), $primary->safe_psql('postgres', $report),
		"$how: the report's wrappers name the same children");

	# whole hours only (the first bucket starts at now() - 3 days)
	my ($lo, $hi) = split /\|/, $primary->safe_psql('postgres',
		q{SELECT date_trunc('hour', now()) - interval '70 hours', date_trunc('hour', now())});
	my $trends = qq{SELECT bucket_start, operation, calls FROM pp_trends('3 days', '1 hour')
		WHERE bucket_start >= '$lo' AND bucket_start < '$hi' ORDER BY 1, 2};
	my $pt = $primary->safe_psql('postgres', $trends);
	cmp_ok(scalar(my @l = split /\n/, $pt), '>', 70 * 5, "$how: trends have buckets");
	is($standby->safe_psql('postgres', $trends), $pt, "$how: pp_trends calls per bucket equal the primary's");

	my ($before, $after) = split /\|/, $primary->safe_psql('postgres',
		q{SELECT tstzrange(now() - interval '3 days', now() - interval '1 day'),
		         tstzrange(now() - interval '1 day', now() + interval '1 hour')});
	my $compare = qq{SELECT operation, calls_before, calls_after, verdict
		FROM pp_compare('$before', '$after') ORDER BY 1};
	is($standby->safe_psql('postgres', $compare), $primary->safe_psql('postgres', $compare),
		"$how: pp_compare's calls and verdicts equal the primary's");
	return;
}

compare_nodes('marked');

$primary->safe_psql('postgres', 'SELECT pp_rollup()');
is($primary->safe_psql('postgres', 'SELECT count(*) FROM performance_rollup_stale'), '0',
	'pp_rollup() wrote the marked buckets again');
compare_nodes('written again');

# a rollup that is not one
$primary->safe_psql('postgres', q{
	UPDATE performance_rollups SET data = '\x0900'
	 WHERE width = 'day' AND kind = 'o' AND name = 'vector_search'});
$primary->wait_for_catchup($standby);
my ($ret, $out, $err) = $standby->psql('postgres',
	"\\set VERBOSITY verbose\nSELECT count(*) FROM pp_operation_stats('7 days')");
isnt($ret, 0, 'a corrupt rollup fails the read');
like($err, qr/ERROR:  XX001: not a ppprof rollup\nDETAIL:  At version: version 9, expected 1\./,
	'a corrupt rollup: SQLSTATE XX001 and where it is wrong');

$standby->stop;
$primary->stop;
done_testing();
