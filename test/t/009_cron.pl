# test/t/009_cron.pl -- ppprof's pg_cron jobs: pp_schedule_jobs() and
# pp_unschedule_jobs() against a real pg_cron (Debian's postgresql-15-cron,
# 1.4, or postgresql-17-cron; minute-granular schedules), which runs its jobs
# in background workers in the database "postgres".
#
#  1. pp_schedule_jobs() registers six jobs (ppprof_snapshot,
#     ppprof_detect_bottlenecks, ppprof_check_alerts, ppprof_baseline,
#     ppprof_purge, ppprof_otlp_flush) in cron.job with the default schedules and commands, and
#     returns them with their jobids; calling it again changes nothing (same
#     six jobids); a new schedule updates the job in place (same jobid); a
#     NULL schedule removes that job.
#  2. With the snapshot and alert jobs every minute, pg_cron really runs
#     them: cron.job_run_details shows both succeeded, performance_snapshots
#     has a row, and an alert rule that the profiles breach has fired.  No
#     ppprof job failed.
#  3. pp_unschedule_jobs() removes the six jobs and returns 6; a second call
#     returns 0.
#  4. In a database without pg_cron, pp_schedule_jobs() and
#     pp_unschedule_jobs() fail with "pg_cron is not installed in this
#     database" (SQLSTATE 55000).
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PPTest;

my $node = pp_start_node('cron', conf => q{
shared_preload_libraries = 'ppprof,pg_cron'
cron.database_name = 'postgres'
cron.use_background_workers = on
max_worker_processes = 32
});

is($node->safe_psql('postgres', 'SHOW shared_preload_libraries'), 'ppprof,pg_cron',
	'ppprof and pg_cron are preloaded');
$node->safe_psql('postgres', 'CREATE EXTENSION ppprof');
$node->safe_psql('postgres', 'CREATE EXTENSION pg_cron');
is($node->safe_psql('postgres',
	q{SELECT string_agg(extname, ',' ORDER BY extname) FROM pg_extension WHERE extname IN ('ppprof', 'pg_cron')}),
	'pg_cron,ppprof', 'both extensions are installed in postgres');

my $profile = q{{"operation_name": "rag", "duration_ms": 120, "children": [{"operation_name": "vector_search", "duration_ms": 80}]}};
$node->safe_psql('postgres', join("\n", map {
	"INSERT INTO performance_profiles (query_id, profile_data) VALUES ('q$_', '$profile');"
} 1 .. 5));
is($node->safe_psql('postgres', 'SELECT count(*) FROM performance_profiles'), '5',
	'five profiles inserted');

# the default jobs, by name: schedule and command
my $pin = 'SET LOCAL search_path = pg_catalog, pg_temp; ';
my %default = (
	ppprof_snapshot           => [ '* * * * *',   "${pin}SELECT public.pp_snapshot()" ],
	ppprof_detect_bottlenecks => [ '*/5 * * * *', $pin . q{SELECT public.pp_detect_bottlenecks('1 hour'::pg_catalog.interval)} ],
	ppprof_check_alerts       => [ '*/5 * * * *', "${pin}SELECT public.pp_check_alerts()" ],
	ppprof_baseline           => [ '17 3 * * *',  $pin . q{SELECT public.pp_capture_baseline('default'::pg_catalog.text, '7 days'::pg_catalog.interval)} ],
	ppprof_purge              => [ '47 3 * * *',  $pin . q{SELECT public.pp_purge('30 days'::pg_catalog.interval)} ],
	ppprof_otlp_flush         => [ '* * * * *',   $pin . q{SELECT public.pp_otlp_flush(NULL::pg_catalog.interval)} ],
);
my @names = sort keys %default;

# "name|schedule|command" for every job in %$jobs, sorted by name
sub expected_jobs
{
	my ($jobs) = @_;
	return join("\n", map { "$_|$jobs->{$_}[0]|$jobs->{$_}[1]" } sort keys %$jobs);
}

# the ppprof jobs of cron.job: "name|schedule|command", sorted by name
sub cron_jobs
{
	return $node->safe_psql('postgres', q{
		SELECT jobname, schedule, command FROM cron.job
		 WHERE jobname LIKE 'ppprof\_%' ORDER BY jobname});
}

# name => jobid of the ppprof jobs of cron.job
sub cron_jobids
{
	my %ids = map { split /\|/ } split /\n/, $node->safe_psql('postgres', q{
		SELECT jobname, jobid FROM cron.job WHERE jobname LIKE 'ppprof\_%' ORDER BY jobname});
	return \%ids;
}

# pp_schedule_jobs($args): its rows as "name|schedule|command|jobid", sorted
sub schedule_jobs
{
	my ($args) = @_;
	return $node->safe_psql('postgres',
		"SELECT job_name, schedule, command, jobid FROM pp_schedule_jobs($args) ORDER BY job_name");
}

sub ids_line
{
	my ($ids) = @_;
	return join(',', map { "$_=" . ($ids->{$_} // '-') } sort keys %$ids);
}

#
# 1. Scheduling, idempotence, a changed schedule, a removed job
#
my $ret = schedule_jobs('');
my $ids = cron_jobids();
is(scalar(keys %$ids), 6, 'pp_schedule_jobs() creates six jobs in cron.job');
is(cron_jobs(), expected_jobs(\%default), 'the six jobs have the default schedules and commands');
is($ret, join("\n", map { "$_|$default{$_}[0]|$default{$_}[1]|" . ($ids->{$_} // '-') } @names),
	'pp_schedule_jobs() returns the six jobs with their cron.job jobids');
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM cron.job
	 WHERE jobname LIKE 'ppprof\_%' AND database = 'postgres' AND username = current_user AND active}),
	'6', 'the jobs are active and run in database postgres as the calling user');

$ret = schedule_jobs('');
is(ids_line(cron_jobids()), ids_line($ids), 'a second pp_schedule_jobs() keeps the same six jobids');
is(cron_jobs(), expected_jobs(\%default), 'a second pp_schedule_jobs() leaves the schedules and commands');
is($ret, join("\n", map { "$_|$default{$_}[0]|$default{$_}[1]|" . ($ids->{$_} // '-') } @names),
	'a second pp_schedule_jobs() returns the same jobs');

schedule_jobs(q{snapshot => '*/2 * * * *'});
my %changed = (%default, ppprof_snapshot => [ '*/2 * * * *', $default{ppprof_snapshot}[1] ]);
is(cron_jobs(), expected_jobs(\%changed), q{snapshot => '*/2 * * * *' changes the snapshot schedule only});
is(ids_line(cron_jobids()), ids_line($ids), 'the changed job keeps its jobid (updated in place)');

$ret = schedule_jobs(q{snapshot => '*/2 * * * *', purge => NULL});
my %no_purge = %changed;
delete $no_purge{ppprof_purge};
is(cron_jobs(), expected_jobs(\%no_purge), 'purge => NULL removes ppprof_purge from cron.job');
is(join(',', map { (split /\|/)[0] } split /\n/, $ret),
	'ppprof_baseline,ppprof_check_alerts,ppprof_detect_bottlenecks,ppprof_otlp_flush,ppprof_snapshot',
	'purge => NULL: pp_schedule_jobs() returns the five other jobs');
my %kept = %$ids;
delete $kept{ppprof_purge};
is(ids_line(cron_jobids()), ids_line(\%kept), 'the five other jobs keep their jobids');

#
# 2. pg_cron runs the jobs
#
# an alert rule the profiles breach: vector_search takes 80 ms on average
$node->safe_psql('postgres', q{
	INSERT INTO performance_alert_rules (name, operation, metric, comparator, threshold, "window")
	VALUES ('slow_vector_search', 'vector_search', 'avg', '>', 50, '1 hour')});
$ret = schedule_jobs(q{snapshot => '* * * * *', alerts => '* * * * *'});
my %every_minute = (%default, ppprof_check_alerts => [ '* * * * *', $default{ppprof_check_alerts}[1] ]);
is(cron_jobs(), expected_jobs(\%every_minute),
	'scheduled again: six jobs, snapshot and alerts every minute, purge back');
my $ids2 = cron_jobids();
is(ids_line({ map { $_ => $ids2->{$_} } keys %kept }), ids_line(\%kept),
	'the five jobs kept keep their jobids');
isnt($ids2->{ppprof_purge} // '', '', 'ppprof_purge has a jobid again');

# the runs that count start after the rule and the schedules above (a run
# from part 1 may have happened already)
my $t0 = $node->safe_psql('postgres', 'SELECT clock_timestamp()');

sub job_succeeded
{
	my ($name) = @_;
	return qq{SELECT EXISTS (SELECT 1 FROM cron.job_run_details d JOIN cron.job j USING (jobid)
	                          WHERE j.jobname = '$name' AND d.status = 'succeeded'
	                            AND d.start_time >= '$t0')};
}

ok($node->poll_query_until('postgres', job_succeeded('ppprof_snapshot')),
	'pg_cron ran ppprof_snapshot successfully')
  or diag($node->safe_psql('postgres', 'SELECT * FROM cron.job_run_details'));
cmp_ok($node->safe_psql('postgres', "SELECT count(*) FROM performance_snapshots WHERE taken_at >= '$t0'"), '>=', 1,
	'the snapshot job stored a row in performance_snapshots');
is($node->safe_psql('postgres', qq{
	SELECT return_message FROM cron.job_run_details d JOIN cron.job j USING (jobid)
	 WHERE j.jobname = 'ppprof_snapshot' AND d.status = 'succeeded' AND d.start_time >= '$t0'
	 ORDER BY runid LIMIT 1}),
	'SELECT 1', 'the snapshot job returned one row');
is($node->safe_psql('postgres', qq{
	SELECT window_profiles || ' ' || avg_response_time_ms || ' ' || (memory_usage_mb > 0)
	  FROM performance_snapshots WHERE taken_at >= '$t0' ORDER BY taken_at LIMIT 1}),
	'5 120 true', 'the snapshot counts the five recent profiles (mean 120 ms) and some memory');

ok($node->poll_query_until('postgres', job_succeeded('ppprof_otlp_flush')),
	'pg_cron ran ppprof_otlp_flush successfully')
  or diag($node->safe_psql('postgres', 'SELECT * FROM cron.job_run_details'));

ok($node->poll_query_until('postgres', job_succeeded('ppprof_check_alerts')),
	'pg_cron ran ppprof_check_alerts successfully')
  or diag($node->safe_psql('postgres', 'SELECT * FROM cron.job_run_details'));
is($node->safe_psql('postgres', q{
	SELECT rule || '|' || operation || '|' || metric || '|' || value || '|' || threshold || '|' || status
	  FROM performance_alerts ORDER BY fired_at}),
	'slow_vector_search|vector_search|avg|80|50|firing',
	'the alert job fired the breached rule once');

is($node->safe_psql('postgres', q{
	SELECT coalesce(string_agg(j.jobname || ': ' || d.return_message, '; '), '')
	  FROM cron.job_run_details d JOIN cron.job j USING (jobid)
	 WHERE j.jobname LIKE 'ppprof\_%' AND d.status = 'failed'}),
	'', 'no ppprof job failed');

#
# 3. Unscheduling
#
is($node->safe_psql('postgres', 'SELECT pp_unschedule_jobs()'), '6',
	'pp_unschedule_jobs() returns 6');
is($node->safe_psql('postgres', q{SELECT count(*) FROM cron.job WHERE jobname LIKE 'ppprof\_%'}), '0',
	'cron.job has no ppprof job left');
is($node->safe_psql('postgres', 'SELECT pp_unschedule_jobs()'), '0',
	'a second pp_unschedule_jobs() returns 0');

#
# 4. A database without pg_cron
#
$node->safe_psql('postgres', 'CREATE DATABASE other');
$node->safe_psql('other', 'CREATE EXTENSION ppprof');
is($node->safe_psql('other', q{SELECT count(*) FROM pg_extension WHERE extname = 'pg_cron'}), '0',
	'pg_cron is not installed in database other');
for my $f ('pp_schedule_jobs', 'pp_unschedule_jobs')
{
	my ($rc, $out, $err) = $node->psql('other', "\\set VERBOSITY verbose\nSELECT $f()");
	isnt($rc, 0, "$f() fails in a database without pg_cron");
	like($err, qr/ERROR:  55000: pg_cron is not installed in this database/,
		"$f(): 'pg_cron is not installed in this database', SQLSTATE 55000");
	like($err, qr/DETAIL:  pg_cron keeps its jobs in database "postgres"/,
		"$f(): the detail names pg_cron's database")
	  if $f eq 'pp_schedule_jobs';
}
is($node->safe_psql('postgres', q{SELECT count(*) FROM cron.job WHERE jobname LIKE 'ppprof\_%'}), '0',
	'the failed call scheduled nothing');

pp_log_lacks($node, qr/PANIC|TRAP:|terminated by signal/,
	'no crash in the server log');
$node->stop;
done_testing();
