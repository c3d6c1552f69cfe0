# test/t/010_alerts_notify.pl -- pp_check_alerts() tells listeners on
# channel ppprof_alerts, with a JSON payload, when an alert fires and when
# it resolves, and stays quiet while an open alert keeps firing.
#
# The regression test (test/sql/operations.sql) checks what is stored; psql
# prints notifications with the sender's PID, which pg_regress cannot
# compare, so the payloads are checked here: one psql session LISTENs and
# runs the checks, and its output is parsed.
use strict;
use warnings;

use JSON::PP;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PPTest;

my $node = pp_start_node('alerts_notify');
$node->safe_psql('postgres', q{
CREATE EXTENSION ppprof;
INSERT INTO performance_profiles (query_id, profile_data)
SELECT 'q' || g,
       jsonb_build_object('operation_name', 'rag', 'duration_ms', 900,
         'children', jsonb_build_array(
           jsonb_build_object('operation_name', 'retrieve', 'duration_ms', 600 + g)))
  FROM generate_series(1, 20) g;
INSERT INTO performance_alert_rules (name, operation, metric, threshold, "window")
VALUES ('retrieve slow', 'retrieve', 'p95', 500, '10 minutes');
});

# One session: LISTEN, then each statement; returns the payloads received,
# decoded, in order.
sub notifications
{
	my (@statements) = @_;
	my $sql = join("\n", 'LISTEN ppprof_alerts;', map { "$_;" } @statements);
	my ($ret, $out, $err) = $node->psql('postgres', $sql);
	is($ret, 0, "statements run: @statements") or diag($err);
	my @payloads;
	while ($out =~ /Asynchronous notification "ppprof_alerts" with payload "(.*?)" received from server process/g)
	{
		push @payloads, decode_json($1);
	}
	return @payloads;
}

my @n = notifications('SELECT count(*) FROM pp_check_alerts()');
is(scalar @n, 1, 'a breach sends one notification');
is($n[0]{status}, 'firing', 'status firing');
is($n[0]{rule}, 'retrieve slow', 'the rule');
is($n[0]{operation}, 'retrieve', 'the operation');
is($n[0]{metric}, 'p95', 'the metric');
is($n[0]{comparator}, '>', 'the comparator');
is($n[0]{threshold}, 500, 'the threshold');
cmp_ok($n[0]{value}, '>', 600, 'the value: p95 of retrieve');
is($n[0]{database}, 'postgres', 'the database');
like($n[0]{at}, qr/^\d{4}-\d\d-\d\dT/, 'when');

@n = notifications('SELECT count(*) FROM pp_check_alerts()', 'SELECT count(*) FROM pp_check_alerts()');
is(scalar @n, 0, 'an open alert that keeps firing sends nothing');
is($node->safe_psql('postgres', q{SELECT count(*) FROM performance_alerts WHERE status = 'firing'}),
	'1', 'one open alert');

@n = notifications(q{UPDATE performance_alert_rules SET threshold = 10000},
	'SELECT count(*) FROM pp_check_alerts()');
is(scalar @n, 1, 'the condition clears: one notification');
is($n[0]{status}, 'resolved', 'status resolved');
is($n[0]{threshold}, 10000, 'with the threshold it was checked against');

# a rolled-back check neither records nor notifies
@n = notifications(q{UPDATE performance_alert_rules SET threshold = 500},
	'BEGIN', 'SELECT count(*) FROM pp_check_alerts()', 'ROLLBACK');
is(scalar @n, 0, 'a rolled-back check sends nothing');
is($node->safe_psql('postgres', q{SELECT count(*) FROM performance_alerts WHERE status = 'firing'}),
	'0', 'and records nothing');

$node->stop;
done_testing();
