/*-------------------------------------------------------------------------
 *
 * under_account.c
 *	  The account's lock for the writers that need every counter slot of a
 *	  period (the exact path of a charge, refunds, the resolution of a
 *	  reservation, plan changes), taken so that it is never held while
 *	  waiting for a slot.
 *
 * A charge's fast path locks one slot and nothing else, and keeps it to the
 * end of its transaction; a transaction that charges the account again
 * (several calls, the charge() trigger on a multi-row INSERT) may then wait
 * for the account's row.  A writer that waited for that slot while holding
 * the account's row would close a cycle.  So fc_under_account() takes the
 * account's row (waiting as long as it takes) and runs the writer's work in
 * a subtransaction with lock_timeout at one millisecond, the shortest wait
 * it allows, so that a lock not granted at once fails: the subtransaction
 * is rolled back (letting the account go), the busy slots are waited for
 * one at a time without keeping them, and it starts over.  After eight
 * attempts it waits as long as it takes, rather than retry without end.
 *
 * IDENTIFICATION
 *	  src/under_account.c
 *
 *-------------------------------------------------------------------------
 */
#include "fluxcredits.h"

#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "executor/tuptable.h"
#include "utils/snapmgr.h"
#include "catalog/pg_type_d.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/resowner.h"

#define FC_PATIENT_AFTER 8

/* SPI arguments of a slot set: account, kind (NULL: all), period (NULL: all) */
static void
slot_args(const FcSlotSet *set, Datum *values, char *nulls)
{
	values[0] = CStringGetTextDatum(set->account);
	values[1] = set->kind ? CStringGetTextDatum(set->kind) : (Datum) 0;
	nulls[1] = set->kind ? ' ' : 'n';
	values[2] = TimestampTzGetDatum(set->period_start);
	nulls[2] = set->any_period ? 'n' : ' ';
}

#define FC_SLOT_FILTER \
	" WHERE c.account = $1" \
	"   AND ($2::text IS NULL OR c.kind = $2::fluxcredits.credit_kind)" \
	"   AND ($3::timestamptz IS NULL OR c.period_start = $3)"

/*
 * The internal subtransactions of this file: begin one; end it, keeping
 * what it did or not, back in the caller's memory context and resource
 * owner; and, in PG_CATCH, take the error out of the error state and roll
 * the subtransaction back before the error goes on up, so that a caller's
 * own subtransaction (a PL/pgSQL EXCEPTION block) is the one it then ends.
 */
static void
subxact_begin(MemoryContext cxt)
{
	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);
}

static void
subxact_end(bool keep, MemoryContext cxt, ResourceOwner owner)
{
	if (keep)
		ReleaseCurrentSubTransaction();
	else
		RollbackAndReleaseCurrentSubTransaction();
	MemoryContextSwitchTo(cxt);
	CurrentResourceOwner = owner;
}

static ErrorData *
subxact_abort_caught(MemoryContext cxt, ResourceOwner owner)
{
	ErrorData  *edata;

	MemoryContextSwitchTo(cxt);
	edata = CopyErrorData();
	FlushErrorState();
	subxact_end(false, cxt, owner);
	return edata;
}

/*
 * Run plan in a subtransaction that is rolled back at once, keeping its
 * result (slot, period_start, kind of each row, when slots is not NULL) but
 * none of its locks.  An error (a cancel, a deadlock) leaves the
 * subtransaction before it goes on up.
 */
static void
run_in_subxact_rollback(SPIPlanPtr plan, Datum *values, char *nulls, uint64 *n,
						int16 **slots, TimestampTz **periods, char ***kinds)
{
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;

	subxact_begin(cxt);
	PG_TRY();
	{
		if (SPI_execute_plan(plan, values, nulls, false, 0) != SPI_OK_SELECT)
			elog(ERROR, "fluxcredits: slot scan failed");
		*n = SPI_processed;
		if (slots != NULL)
		{
			*slots = palloc(sizeof(int16) * (SPI_processed + 1));
			*periods = palloc(sizeof(TimestampTz) * (SPI_processed + 1));
			*kinds = palloc(sizeof(char *) * (SPI_processed + 1));
			for (uint64 i = 0; i < SPI_processed; i++)
			{
				bool		isnull;
				HeapTuple	t = SPI_tuptable->vals[i];
				TupleDesc	d = SPI_tuptable->tupdesc;

				(*slots)[i] = DatumGetInt16(SPI_getbinval(t, d, 1, &isnull));
				(*periods)[i] = DatumGetTimestampTz(SPI_getbinval(t, d, 2, &isnull));
				(*kinds)[i] = SPI_getvalue(t, d, 3);
			}
		}
	}
	PG_CATCH();
	{
		ReThrowError(subxact_abort_caught(cxt, owner));
	}
	PG_END_TRY();
	subxact_end(false, cxt, owner);
}

/*
 * Wait until no other transaction holds a slot of the set, keeping none:
 * the busy ones (those FOR UPDATE SKIP LOCKED leaves out) are each locked
 * in a subtransaction that is rolled back at once.
 */
static void
wait_for_slots(const FcSlotSet *set)
{
	static SPIPlanPtr busy_plan = NULL;
	static SPIPlanPtr wait_plan = NULL;
	static const Oid types[6] = {TEXTOID, TEXTOID, TIMESTAMPTZOID, INT2OID,
	TIMESTAMPTZOID, TEXTOID};
	Datum		values[6];
	char		nulls[6];
	uint64		nbusy;
	int16	   *slots;
	TimestampTz *periods;
	char	  **kinds;
	uint64		ignored;

	memset(nulls, ' ', sizeof(nulls));
	slot_args(set, values, nulls);
	run_in_subxact_rollback(fc_plan(set->account, &busy_plan,
									"SELECT c.slot, c.period_start, c.kind::text FROM fluxcredits.counters c"
									FC_SLOT_FILTER
									"   AND (c.account, c.period_start, c.kind, c.slot) NOT IN ("
									"       SELECT c.account, c.period_start, c.kind, c.slot"
									"         FROM fluxcredits.counters c" FC_SLOT_FILTER
									"          FOR UPDATE SKIP LOCKED)"
									" ORDER BY c.period_start, c.kind, c.slot",
									3, types),
							values, nulls, &nbusy, &slots, &periods, &kinds);
	for (uint64 i = 0; i < nbusy; i++)
	{
		values[3] = Int16GetDatum(slots[i]);
		values[4] = TimestampTzGetDatum(periods[i]);
		values[5] = CStringGetTextDatum(kinds[i]);
		run_in_subxact_rollback(fc_plan(set->account, &wait_plan,
										"SELECT FROM fluxcredits.counters c"
										" WHERE c.account = $1 AND c.period_start = $5"
										"   AND c.kind = $6::fluxcredits.credit_kind AND c.slot = $4"
										" FOR UPDATE",
										6, types),
								values, nulls, &ignored, NULL, NULL, NULL);
	}
}

/*
 * Lock the version at *tid of rel, found with snapshot, in mode, as SELECT
 * ... FOR UPDATE (FOR NO KEY UPDATE) does: waiting for a transaction that
 * holds it (for as long as lock_timeout allows), and in READ COMMITTED
 * following its updates to the newest version, which is then in ts.  Under
 * REPEATABLE READ or SERIALIZABLE a row changed since the snapshot is a
 * serialization failure.  Returns false when the row is gone (READ
 * COMMITTED), which FOR UPDATE skips.
 */
bool
fc_lock_newest(Relation rel, ItemPointer tid, Snapshot snapshot, TupleTableSlot *ts,
			   LockTupleMode mode)
{
	TM_FailureData tmfd;

	switch (table_tuple_lock(rel, tid, snapshot, ts, GetCurrentCommandId(true), mode,
							 LockWaitBlock,
							 IsolationUsesXactSnapshot() ? 0 : TUPLE_LOCK_FLAG_FIND_LAST_VERSION,
							 &tmfd))
	{
		case TM_Ok:
			return true;
		case TM_Updated:
			if (IsolationUsesXactSnapshot())
				ereport(ERROR,
						(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
						 errmsg("could not serialize access due to concurrent update")));
			break;
		case TM_Deleted:
			if (IsolationUsesXactSnapshot())
				ereport(ERROR,
						(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
						 errmsg("could not serialize access due to concurrent delete")));
			return false;
		default:
			break;
	}
	elog(ERROR, "fluxcredits: could not lock a row of %s", RelationGetRelationName(rel));
	return false;				/* keep the compiler quiet */
}

/*
 * The account's row lock, FOR NO KEY UPDATE, waiting for it as long as it
 * takes (a missing account gets no lock; the work then finds it missing).
 * Done here rather than with SQL, to spare the exact path of a charge the
 * start of a statement's executor.
 */
static void
lock_account_row(const char *account)
{
	static const char *const columns[] = {"account"};
	static FcColumns cols = {.n = lengthof(columns), .names = columns};
	Snapshot	snapshot;
	FcScan		scan;
	HeapTuple	tuple;
	ItemPointerData tid;
	bool		found;

	/* this transaction's own changes must be seen, as by a new statement */
	CommandCounterIncrement();
	snapshot = RegisterSnapshot(GetTransactionSnapshot());
	fc_account_scan_begin(&scan, &cols, account, snapshot);
	tuple = fc_scan_next(&scan);
	found = tuple != NULL;
	if (found)
		tid = tuple->t_self;
	fc_scan_end(&scan);		/* not waiting with the index's page pinned */
	if (found)
	{
		/* the table lock of SELECT ... FOR NO KEY UPDATE */
		Relation	rel = fc_table_open("accounts", account, RowShareLock);
		TupleTableSlot *ts = table_slot_create(rel, NULL);

		(void) fc_lock_newest(rel, &tid, snapshot, ts, LockTupleNoKeyExclusive);
		ExecDropSingleTupleTableSlot(ts);
		table_close(rel, NoLock);
	}
	UnregisterSnapshot(snapshot);
}

/*
 * Run work(arg) under the account's row lock without ever waiting for a
 * slot of set while holding it (see the head of this file).  work may run
 * more than once; what an attempt wrote is rolled back before the next.
 * The caller is connected to SPI.
 */
void
fc_under_account(const FcSlotSet *set, void (*work) (void *arg), void *arg)
{
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;

	for (volatile int attempt = 1;; attempt++)
	{
		volatile bool retry = false;
		bool		patient = attempt > FC_PATIENT_AFTER;

		subxact_begin(cxt);
		PG_TRY();
		{
			int			nest = -1;

			lock_account_row(set->account);
			if (!patient)
			{
				nest = NewGUCNestLevel();
				(void) set_config_option("lock_timeout", "1", PGC_USERSET, PGC_S_SESSION,
										 GUC_ACTION_SAVE, true, 0, false);
			}
			work(arg);
			if (nest >= 0)
				AtEOXact_GUC(true, nest);
			subxact_end(true, cxt, owner);
		}
		PG_CATCH();
		{
			ErrorData  *edata = subxact_abort_caught(cxt, owner);

			if (patient || edata->sqlerrcode != ERRCODE_LOCK_NOT_AVAILABLE)
				ReThrowError(edata);
			FreeErrorData(edata);
			retry = true;
		}
		PG_END_TRY();
		if (!retry)
			return;
		wait_for_slots(set);
	}
}

/* The slots of the set, locked in order (the work of _lock_account_slots). */
static void
lock_slots(void *arg)
{
	static SPIPlanPtr plan = NULL;
	static const Oid types[3] = {TEXTOID, TEXTOID, TIMESTAMPTZOID};
	const FcSlotSet *set = (const FcSlotSet *) arg;
	Datum		values[3];
	char		nulls[3];

	memset(nulls, ' ', sizeof(nulls));
	slot_args(set, values, nulls);
	(void) fc_execute(set->account, &plan,
					  "SELECT FROM fluxcredits.counters c" FC_SLOT_FILTER
					  " ORDER BY c.period_start, c.kind, c.slot FOR UPDATE",
					  3, types, values, nulls, 0, SPI_OK_SELECT, "slot lock");
}

/*
 * _lock_account_slots(account, kind, period_start): the account's row and
 * the counter slots of kind in the period (NULL: every kind, every period),
 * taken without holding the account while waiting for a slot.  For the
 * SQL-written writers, before they lock the account themselves.
 */
PG_FUNCTION_INFO_V1(fc_lock_account_slots);
Datum
fc_lock_account_slots(PG_FUNCTION_ARGS)
{
	FcSlotSet	set;

	if (PG_ARGISNULL(0))
		PG_RETURN_VOID();
	set.account = text_to_cstring(PG_GETARG_TEXT_PP(0));
	set.kind = PG_ARGISNULL(1) ? NULL :
		DatumGetCString(DirectFunctionCall1(enum_out, PG_GETARG_DATUM(1)));
	set.any_period = PG_ARGISNULL(2);
	set.period_start = set.any_period ? 0 : PG_GETARG_TIMESTAMPTZ(2);
	SPI_connect();
	fc_under_account(&set, lock_slots, &set);
	SPI_finish();
	PG_RETURN_VOID();
}
