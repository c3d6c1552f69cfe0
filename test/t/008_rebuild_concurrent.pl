# test/t/008_rebuild_concurrent.pl -- pp_reset() and pp_rebuild() in a loop
# while profiles are written and read.
#
# Four pgbench clients run a fixed number of transactions that insert
# generated profiles, roll back a savepoint, and then roll back, delete an
# older profile, update one, or commit.  Meanwhile one session loops
# SELECT pp_reset(); SELECT pp_rebuild(); (which loads the rollups written
# before and reads the rows they lack, the minutes the writers marked
# among them) until the writers are about half
# way, and another loops SELECT ... FROM pp_operation_stats('1 hour') until
# they are done.  Nothing may fail: pgbench runs every transaction, and
# neither session gets an error.  The last pp_rebuild() ran while the
# writers were writing, and what they wrote after it was applied live: when
# they are done the statistics must be valid and equal to plain SQL over the
# table; and again after a final pp_rebuild().
#
# The writers delete and update only profiles that are no window's oldest
# or newest (first_seen and last_seen are not subtracted, like min_ms and
# max_ms; see 005_restart.pl).
use strict;
use warnings;

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PPTest;
use Time::HiRes qw(usleep);

my $node = pp_start_node('rebuild_concurrent', conf => q{max_connections = 30});
pp_client_env($node, 'postgres');

$node->safe_psql('postgres', 'CREATE EXTENSION ppprof');
pp_install_generator($node);

# The exact answer from the table: every node, flattened.
pp_create_exact_nodes($node);

my @windows = ('1 hour', '1 day');

# older profiles, for the writers to delete and update; enough of them
# that each pp_rebuild() lasts long enough for writers to try to commit
# while it reads the table
$node->safe_psql('postgres', q{SELECT ppgen.load(3000, '20 hours')});
# their rollups, for the rebuilds to load while the writers add, delete and
# move rows of the minutes rolled up (which marks them); the background
# worker may have written them already
$node->safe_psql('postgres', 'SELECT pp_rollup()');
cmp_ok($node->safe_psql('postgres', 'SELECT count(*) FROM performance_rollups'),
	'>', 1000, 'the rollups are written');
pp_check_exact($node, \@windows, 'before');

# The writers' script.
my $tmp = PostgreSQL::Test::Utils::tempdir;
my $script = "$tmp/ingest.sql";
append_to_file($script, q{
\set i random(1, 1000000000)
\set r random(1, 6)
\set k random(500, 2500)
BEGIN;
INSERT INTO performance_profiles (query_id, profile_data, created_at)
VALUES ('c-' || :i, ppgen.profile(:i), now() - random() * interval '50 minutes'),
       ('c-' || (:i + 1), ppgen.profile(:i + 1), now() - random() * interval '20 hours');
SAVEPOINT s;
INSERT INTO performance_profiles (query_id, profile_data) VALUES ('sp-' || :i, ppgen.profile(:i + 2));
ROLLBACK TO SAVEPOINT s;
\if :r = 1
ROLLBACK;
\elif :r = 2
DELETE FROM performance_profiles WHERE query_id = 'q-' || :k;
COMMIT;
\elif :r = 3
UPDATE performance_profiles SET created_at = created_at - interval '5 minutes',
       profile_data = ppgen.profile(:k + 7)
 WHERE query_id = 'q-' || :k;
COMMIT;
\else
COMMIT;
\endif
});

# A psql session fed one command at a time; each command is followed by a
# marker, so that the test knows when it is done.
sub session_start
{
	my %s = (in => '', out => '', err => '', busy => 0, done => 0);
	$s{run} = IPC::Run::start([ 'psql', '-X', '-A', '-t', '-q' ],
		'<', \$s{in}, '>', \$s{out}, '2>', \$s{err});
	return \%s;
}

sub session_send
{
	my ($s, $sql) = @_;
	$s->{in} .= "$sql\n\\echo __done__\n";
	$s->{busy} = 1;
	return;
}

# true when the last command is done
sub session_poll
{
	my ($s) = @_;
	$s->{run}->pump_nb;
	if ($s->{busy} && $s->{out} =~ /__done__\n/)
	{
		$s->{busy} = 0;
		$s->{done}++;
	}
	return !$s->{busy};
}

my $clients = 4;
my $per_client = 120;
my $bench = pp_start_pgbench('-c', $clients, '-j', '2', '-t', $per_client, '-f', $script);

my $resetter = session_start();
my $reader = session_start();
my @reset_steps = ('SELECT pp_reset();', 'SELECT pp_rebuild();');
my $read_sql = q{SELECT 'read ' || (SELECT count(*) FROM pp_operation_stats('1 hour')) || ' '
                        || (SELECT count(*) FROM performance_profiles WHERE query_id LIKE 'c-%')
                        || ' ' || (pp_info()->>'statistics');};
my $step = 0;
my ($rebuilds, $reads, $resetting, $writing, $written) = (0, 0, 1, 1, 0);
my $written_at_last_rebuild;
# half the profiles the writers commit (5 transactions in 6 commit 2)
my $half = $clients * $per_client * 2 * 5 / 6 / 2;
session_send($resetter, $reset_steps[0]);
session_send($reader, $read_sql);

# The resetter stops after a pp_rebuild() once the writers have committed
# about half of their profiles; the reader stops when they are done.
while ($writing || $resetting)
{
	if ($writing)
	{
		$bench->{run}->pump_nb;
		$writing = 0 unless $bench->{run}->pumpable;
	}
	if ($resetting && session_poll($resetter))
	{
		if ($step == 1)
		{
			$rebuilds++;
			$resetting = 0 if $written >= $half || !$writing;
		}
		if ($resetting)
		{
			$step = 1 - $step;
			session_send($resetter, $reset_steps[$step]);
		}
		else
		{
			ok($writing, 'the last pp_rebuild() ended while the writers were writing');
			$written_at_last_rebuild = $written;
		}
	}
	if (session_poll($reader) && $writing)
	{
		$reads++;
		$written = $1 while $reader->{out} =~ /^read \d+ (\d+) /mg;
		session_send($reader, $read_sql);
	}
	usleep(5_000);
}
# the reader's last command
usleep(5_000) until session_poll($reader);

ok($bench->{run}->finish, 'pgbench exits 0') or diag($bench->{err});
my $total = $clients * $per_client;
like($bench->{out}, qr/number of transactions actually processed: $total\/$total/,
	'pgbench ran every transaction');
unlike($bench->{out} . $bench->{err}, qr/ERROR|aborted/, 'pgbench: no error, no client aborted');

for my $s ($resetter, $reader)
{
	$s->{in} .= "\\q\n";
	$s->{run}->finish;
}
is($resetter->{err}, '', 'the pp_reset/pp_rebuild session got no error');
is($reader->{err}, '', 'the pp_operation_stats session got no error');
cmp_ok($rebuilds, '>=', 3, "pp_reset + pp_rebuild ran $rebuilds times while the writers wrote");
cmp_ok($reads, '>=', 10, "pp_operation_stats ran $reads times while the writers wrote");
# pp_reset() leaves the statistics invalid until pp_rebuild(), without a
# background rebuild; only something that went wrong -- a subtraction that
# found less than it removed, because a rebuild missed or double-counted a
# concurrent commit -- starts one.
# (Which of the two it saw depends on timing: the rebuild takes the table's
# lock only between writers, so under load it may see only the first.)
my %states = map { $_ => 1 } ($reader->{out} =~ /^read \d+ \d+ (.*)$/mg);
my @other = grep { $_ ne 'invalid: answers from the table until pp_rebuild()' && $_ ne 'valid' }
	sort keys %states;
ok(%states && !@other,
	'the reader saw the statistics valid or invalid (after pp_reset), never rebuilding')
	or diag('states seen: ' . join(', ', sort keys %states));
pp_log_lacks($node, 'ppprof rebuilt the statistics',
	'no background rebuild was needed (nothing went wrong)');
my @rebuilt = ($resetter->{out} =~ /^(\d+)$/mg);
is(scalar(@rebuilt), $rebuilds, 'every pp_rebuild returned the number of profiles it read');
my ($fewest) = sort { $a <=> $b } @rebuilt;
cmp_ok($fewest, '<', 3000,
	"a pp_rebuild loaded rollups: it read $fewest profiles of more than 3000");
my $committed = $node->safe_psql('postgres', q{SELECT count(*) FROM performance_profiles WHERE query_id LIKE 'c-%'});
cmp_ok($committed - $written_at_last_rebuild, '>=', $clients * 10,
	'the writers committed profiles after the last pp_rebuild (about '
	  . ($committed - $written_at_last_rebuild) . ')');

# the last rebuild ran during the writes, the rest was applied live
is(pp_info_field($node, 'statistics'), 'valid', 'valid after the loops');
pp_check_exact($node, \@windows, 'after the loops, without a final rebuild');

# (the rebuilds above loaded the rollups; this one reads every row)
my $n = $node->safe_psql('postgres',
	'SET ppprof.rebuild_from_rollups = off; SELECT pp_rebuild()');
is($n, $node->safe_psql('postgres', 'SELECT count(*) FROM performance_profiles'),
	'the final pp_rebuild, without the rollups, reads every profile');
is(pp_info_field($node, 'statistics'), 'valid', 'valid after the final pp_rebuild');
pp_check_exact($node, \@windows, 'after the final pp_rebuild');
pp_log_lacks($node, qr/\bERROR:/, 'no ERROR in the server log');

$node->stop;
done_testing();
