/*-------------------------------------------------------------------------
 *
 * src/dump.c
 *	  The statistics file: written at a clean shutdown, read at start-up.
 *
 * At a clean shutdown (exit code 0, and the control file says the shutdown
 * checkpoint was written) the postmaster writes the shared
 * statistics to pg_stat/ppprof.stat.tmp and renames it durably to
 * pg_stat/ppprof.stat; at the next start it reads the file back and
 * unlinks it, so that a later crash can never bring back stale numbers.
 * The file carries a magic number, the PostgreSQL major version, format
 * versions, the capacities it was written with and a CRC-32C; shmem.c
 * checks all of it, and every entry and time (src/core/dumpfile.c), before
 * loading anything, and computes the name hashes again rather than take
 * the file's.  A missing,
 * truncated, corrupt or foreign file is reported in the server log and
 * ignored: the server always starts, and the statistics are then invalid
 * until rebuilt from the table.
 *
 * The file is only trustworthy if the table did not change while it sat on
 * disk.  A server started without ppprof preloaded still fires ppprof's
 * triggers (the library is loaded on demand); the first row change such a
 * backend sees unlinks the file (pp_dump_discard).  A standby starting up
 * (standby.signal or recovery.signal present) never loads it: replication
 * changes the table without triggers.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <sys/stat.h>
#include <unistd.h>

#include "miscadmin.h"
#include "pgstat.h"
#include "access/xlog.h"
#include "catalog/pg_control.h"
#include "common/controldata_utils.h"
#include "storage/fd.h"
#include "storage/ipc.h"

#include "dump.h"
#include "shmem.h"

#define PP_DUMP_FILE		PGSTAT_STAT_PERMANENT_DIRECTORY "/ppprof.stat"
#define PP_DUMP_FILE_TMP	PP_DUMP_FILE ".tmp"

/* Largest file start-up accepts, to bound the memory of a hostile file. */
#define PP_DUMP_MAX_BYTES	((Size) 1 << 30)

static bool dump_discarded = false;

static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

/* standby.signal or recovery.signal: replication changes the table */
static bool
starting_as_standby(void)
{
	struct stat st;

	return stat(STANDBY_SIGNAL_FILE, &st) == 0 ||
		stat(RECOVERY_SIGNAL_FILE, &st) == 0;
}

/*
 * Did the server just shut down cleanly?  Only then has every committed
 * transaction applied its observations: an immediate shutdown or a crash
 * can kill a backend between its commit and its commit callback.  The
 * control file says DB_SHUTDOWNED once the shutdown checkpoint is written.
 */
static bool
shut_down_cleanly(void)
{
	bool		clean = false;

	PG_TRY();
	{
		bool		crc_ok;
		ControlFileData *cf = get_controlfile(DataDir, &crc_ok);

		clean = crc_ok && cf->state == DB_SHUTDOWNED;
		pfree(cf);
	}
	PG_CATCH();
	{
		FlushErrorState();
		clean = false;
	}
	PG_END_TRY();
	return clean;
}

/* on_shmem_exit callback of the postmaster. */
static void
dump_save(int code, Datum arg)
{
	FILE	   *f;
	bool		ok;

	/* after a crash, an immediate shutdown, or in a standby: nothing to trust */
	if (code != 0 || starting_as_standby() || !shut_down_cleanly())
		return;

	f = AllocateFile(PP_DUMP_FILE_TMP, PG_BINARY_W);
	if (f == NULL)
	{
		ereport(LOG,
				(errcode_for_file_access(),
				 errmsg("could not write ppprof statistics file \"%s\": %m",
						PP_DUMP_FILE_TMP)));
		return;
	}
	ok = pp_shmem_dump(f);
	if (FreeFile(f) != 0)
		ok = false;
	if (!ok)
	{
		ereport(LOG,
				(errcode_for_file_access(),
				 errmsg("could not write ppprof statistics file \"%s\": %m",
						PP_DUMP_FILE_TMP)));
		unlink(PP_DUMP_FILE_TMP);
		return;
	}
	(void) durable_rename(PP_DUMP_FILE_TMP, PP_DUMP_FILE, LOG);
}

/* Load the file into the shared statistics; writes what it did into status. */
static void
dump_load(char *status, Size status_size)
{
	FILE	   *f;
	struct stat st;
	char	   *buf;
	const char *why;
	int			n_ops;
	int			n_corrected;

	if (stat(PP_DUMP_FILE, &st) != 0)
	{
		strlcpy(status, "none: no statistics file", status_size);
		return;
	}
	if (starting_as_standby())
	{
		strlcpy(status, "ignored: the server started as a standby", status_size);
		unlink(PP_DUMP_FILE);
		return;
	}
	if (st.st_size <= 0 || (Size) st.st_size > PP_DUMP_MAX_BYTES)
	{
		why = "file has an impossible size";
		goto rejected;
	}

	f = AllocateFile(PP_DUMP_FILE, PG_BINARY_R);
	if (f == NULL)
	{
		why = "could not be opened";
		goto rejected;
	}
	buf = palloc_extended((Size) st.st_size, MCXT_ALLOC_NO_OOM);
	if (buf == NULL || fread(buf, 1, (Size) st.st_size, f) != (Size) st.st_size)
	{
		FreeFile(f);
		if (buf != NULL)
			pfree(buf);
		why = "could not be read";
		goto rejected;
	}
	FreeFile(f);

	why = pp_shmem_undump(buf, (Size) st.st_size, &n_ops, &n_corrected);
	pfree(buf);
	if (why != NULL)
		goto rejected;
	if (n_corrected > 0)
	{
		ereport(LOG,
				(errmsg("ppprof statistics file \"%s\" had %d values that could not be taken as they were",
						PP_DUMP_FILE, n_corrected),
				 errdetail("Name hashes were computed again from the names, and times after now were brought back to now.")));
		snprintf(status, status_size,
				 "loaded: %d operations from the last clean shutdown (%d values corrected)",
				 n_ops, n_corrected);
	}
	else
		snprintf(status, status_size, "loaded: %d operations from the last clean shutdown", n_ops);
	unlink(PP_DUMP_FILE);
	return;

rejected:
	ereport(LOG,
			(errmsg("ignoring ppprof statistics file \"%s\": %s", PP_DUMP_FILE, why),
			 errdetail("Statistics will be answered from the table until pp_rebuild().")));
	snprintf(status, status_size, "rejected: %s", why);
	unlink(PP_DUMP_FILE);
}

/*
 * Run after shmem.c's start-up hook: the postmaster reloads the last clean
 * shutdown's statistics, and writes them at its own exit.
 */
static void
dump_shmem_startup(void)
{
	char		status[128];

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	if (IsUnderPostmaster || !pp_shmem_attached())
		return;
	dump_load(status, sizeof(status));
	pp_shmem_set_dump_status(status);
	on_shmem_exit(dump_save, (Datum) 0);
}

/* Called from _PG_init, after pp_shmem_init. */
void
pp_dump_init(void)
{
	if (!process_shared_preload_libraries_in_progress)
		return;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = dump_shmem_startup;
}

/*
 * A row changed while ppprof is not preloaded: a statistics file on disk no
 * longer matches the table.  Once per backend.
 */
void
pp_dump_discard(void)
{
	if (dump_discarded)
		return;
	dump_discarded = true;
	if (unlink(PP_DUMP_FILE) != 0 && errno != ENOENT)
		ereport(LOG,
				(errcode_for_file_access(),
				 errmsg("could not remove ppprof statistics file \"%s\": %m",
						PP_DUMP_FILE)));
}
