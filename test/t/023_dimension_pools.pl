# test/t/023_dimension_pools.pl -- dimensions never take buckets from the
# operations.  The pool of hour buckets holds the operations' hours, not
# the dimensions' too: the operations' statistics stay complete (no
# degradation, no window read from the table because of the dimensions),
# pp_info says the dimensions gave way, and pp_dimension_stats still equals
# the exact SQL, its windows reaching what was given up being read from the
# table.  Then the dimension slots themselves are too few: entries are
# refused or evicted, and the answers stay exact.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PPTest;

# 11 operation entries (10 names and the profiles) over 11 hours need 121
# hour buckets; the 20 dimension entries (model and release of each name)
# would need 220 more
my $node = pp_start_node('dimpools', conf => q{
ppprof.max_hour_buckets = 200
ppprof.max_paths = 0
ppprof.max_dimension_entries = 24
});

$node->safe_psql('postgres', 'CREATE EXTENSION ppprof');
pp_install_generator($node);
pp_create_exact_nodes($node);
pp_create_stats_mismatches($node);
$node->safe_psql('postgres', q{
-- pp_dimension_stats(w, 'model') rows that differ from the table: the value
-- is the node's metadata model (the generator's only usage key), else its
-- nearest ancestor's
CREATE FUNCTION dim_mismatches(w interval) RETURNS TABLE (n_rows bigint, wrong bigint) LANGUAGE sql AS $$
WITH RECURSIVE nodes AS (
  SELECT profile_data->'metadata'->>'model' AS v, profile_data AS n FROM performance_profiles
   WHERE created_at >= now() - w AND created_at <= now()
  UNION ALL
  SELECT coalesce(c->'metadata'->>'model', nodes.v), c FROM nodes,
         jsonb_array_elements(CASE WHEN jsonb_typeof(n->'children') = 'array' THEN n->'children' ELSE '[]' END) c),
e AS (SELECT n->>'operation_name' AS op, v, count(*) AS calls,
             count(*) FILTER (WHERE jsonb_typeof(n->'error') = 'string') AS errors,
             sum(coalesce((n->>'duration_ms')::float8,
                          ((n->>'end_time')::float8 - (n->>'start_time')::float8) * 1000)) AS total
        FROM nodes GROUP BY 1, 2)
SELECT count(e.op), count(*) FILTER (WHERE s.operation IS NULL OR e.op IS NULL OR s.calls <> e.calls
                                     OR s.errors <> e.errors OR abs(s.total_ms - e.total) > 1e-6 * greatest(1, e.total))
  FROM e FULL JOIN pp_dimension_stats(w, 'model') s
       ON s.operation = e.op AND s.dimension_value IS NOT DISTINCT FROM e.v
$$;
});
my @windows = ('2 hours', '1 day');

sub check_exact
{
	my ($how) = @_;
	for my $w (@windows)
	{
		is($node->safe_psql('postgres', "SELECT count(*) FROM stats_mismatches('$w')"), '0',
			"$how, $w: pp_operation_stats equals the table's");
		my ($rows, $wrong) = split /\|/, $node->safe_psql('postgres', "SELECT * FROM dim_mismatches('$w')");
		cmp_ok($rows, '>=', 10, "$how, $w: (operation, model) rows");
		is($wrong, '0', "$how, $w: pp_dimension_stats equals the table's");
	}
	return;
}

# 300 profiles over 11 hours, committed one hour at a time, oldest first
for my $h (reverse 0 .. 10)
{
	$node->safe_psql('postgres', qq{
		SELECT ppgen.load(30, '50 minutes', now() - interval '$h hours' - interval '5 minutes')});
}
is(pp_info_field($node, 'statistics'), 'valid', 'statistics valid');
is(pp_info_field($node, 'degradation'), 'none', 'the operations gave nothing up');
is(pp_info_field($node, 'incomplete_before'), '', 'every operation window answers from shared memory');
cmp_ok(pp_info_field($node, 'dimensions_gave_way'), '>', 0,
	'the dimension entries gave way to the operations');
isnt(pp_info_field($node, 'dimensions_incomplete_before'), '',
	'dimension windows reaching what they gave up read the table');
check_exact('dimensions gave way');

# more names than dimension slots: 40 operations with a model each
$node->safe_psql('postgres', q{
	INSERT INTO performance_profiles (query_id, profile_data, created_at)
	SELECT 'w-' || g, jsonb_build_object('operation_name', 'wide_' || (g % 40), 'duration_ms', 5 + g % 17,
	         'metadata', jsonb_build_object('model', 'm' || (g % 3))),
	       now() - interval '3 minutes' - (g % 50) * interval '1 second'
	  FROM generate_series(1, 400) g;
});
cmp_ok(pp_info_field($node, 'dimension_entries_refused') + pp_info_field($node, 'dimension_entries_evicted'),
	'>', 0, 'dimension entries refused or evicted when their slots are full');
cmp_ok(pp_info_field($node, 'dimension_entries'), '<=', 24, 'no more entries than ppprof.max_dimension_entries');
is(pp_info_field($node, 'incomplete_before'), '', 'operation windows do not heed the dimensions');
check_exact('dimension slots full');

$node->stop;
done_testing();
