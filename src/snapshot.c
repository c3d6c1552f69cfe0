/*-------------------------------------------------------------------------
 *
 * src/snapshot.c
 *	  The measurements behind pp_snapshot() that only C can take: memory,
 *	  host CPU counters, the operations tracked and the mean response time
 *	  of the last ppprof.snapshot_window.  The SQL function pp_snapshot()
 *	  (sql/src/snapshots.sql) adds what SQL sees (backends, locks),
 *	  computes CPU use against the previous snapshot and stores the row.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <stdio.h>

#include "access/htup_details.h"
#include "access/xact.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "config.h"
#include "guc.h"
#include "shmem.h"
#include "window.h"

PG_FUNCTION_INFO_V1(pp_snapshot_probe);

/*
 * Busy and total CPU time of the host in clock ticks, from the first line of
 * /proc/stat ("cpu user nice system idle iowait irq softirq steal ...").
 * Idle and iowait count as not busy.  False when unreadable (not Linux).
 */
static bool
host_cpu_ticks(int64 *busy, int64 *total)
{
	FILE	   *f = fopen("/proc/stat", "r");
	long long	v[8] = {0};
	int			n,
				i;

	if (f == NULL)
		return false;
	n = fscanf(f, "cpu %lld %lld %lld %lld %lld %lld %lld %lld",
			   &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]);
	fclose(f);
	if (n < 4)
		return false;
	*total = 0;
	for (i = 0; i < 8; i++)
		*total += v[i];
	*busy = *total - v[3] - v[4];
	return true;
}

/*
 * pp_snapshot_probe(OUT shared_memory_mb float, OUT backend_memory_mb float,
 *	 OUT cpu_busy_ticks bigint, OUT cpu_total_ticks bigint,
 *	 OUT operations_tracked integer, OUT window_profiles bigint,
 *	 OUT avg_response_time_ms float, OUT retention interval)
 */
Datum
pp_snapshot_probe(PG_FUNCTION_ARGS)
{
	TupleDesc	desc;
	Datum		values[8];
	bool		nulls[8] = {false};
	Interval   *retention = palloc0(sizeof(Interval));
	PPShmemInfo info;
	int64		busy,
				total;
	TimestampTz t1 = GetCurrentTransactionStartTimestamp();
	PPWindow	w;

	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "ppprof: pp_snapshot_probe must return a record");
	desc = BlessTupleDesc(desc);

	(void) pp_config_get();
	pp_shmem_info(MyDatabaseId, &info);
	values[0] = Float8GetDatum((double) info.shmem_used_bytes / (1024.0 * 1024.0));
	values[1] = Float8GetDatum((double) MemoryContextMemAllocated(TopMemoryContext, true) /
							   (1024.0 * 1024.0));
	if (host_cpu_ticks(&busy, &total))
	{
		values[2] = Int64GetDatum(busy);
		values[3] = Int64GetDatum(total);
	}
	else
		nulls[2] = nulls[3] = true;
	values[4] = Int32GetDatum(info.db_operations);

	pp_window_read(&w, t1 - (TimestampTz) pp_snapshot_window_s * USECS_PER_SEC, t1, false);
	values[5] = Int64GetDatum(w.root.c.calls);
	nulls[6] = w.root.c.calls == 0;
	values[6] = Float8GetDatum(w.root.c.calls > 0 ? w.root.c.sum_ms / w.root.c.calls : 0);
	retention->time = (int64) pp_snapshot_retention_min * USECS_PER_MINUTE;
	values[7] = IntervalPGetDatum(retention);

	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(desc, values, nulls)));
}
