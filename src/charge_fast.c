/*-------------------------------------------------------------------------
 *
 * charge_fast.c
 *	  The fast path of a charge: counted on one counter slot of the period
 *	  with room for it, locking that slot's row and nothing else.
 *
 * The credits of an account's kind in a period are counted on the rows of
 * fluxcredits.counters, its slots (up to fluxcredits.counter_slots), each
 * with a cap, its share of the limit (none when the kind is unlimited), so
 * that concurrent charges of one account lock different rows.  A charge
 * that can lock a slot with room at once is counted there and is done: it
 * never waits and never locks the account's row, so charges of one account
 * scale with its slots.  A charge that finds none (the period has no slot
 * yet, every slot with room is busy, or the caps leave no room) goes on to
 * the exact path (charge_exact.c).
 *
 * IDENTIFICATION
 *	  src/charge_fast.c
 *
 *-------------------------------------------------------------------------
 */
#include "fluxcredits.h"

#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "executor/tuptable.h"
#include "storage/lmgr.h"
#include "utils/lsyscache.h"
#include "utils/snapmgr.h"

/*
 * Lock a counter slot of the period with room for the charge (or no cap)
 * that no other transaction holds.  Returns its number, or -1 when there is
 * none: the period has no slot yet, every slot with room is busy, or the
 * caps leave no room.  *total is the period's usage of the kind after the
 * charge, as far as this transaction sees it (for the usage alerts).
 *
 * Done here rather than with SELECT ... FOR UPDATE SKIP LOCKED because of
 * what that does in READ COMMITTED to a slot that another charge changed
 * after the snapshot: it locks the newest version, rechecks the room on it
 * and, when the recheck fails, skips the slot but keeps it locked.  A charge
 * that then finds no slot waits for the account's lock, whose holder (the
 * exact path, a refund, a plan change) may be waiting for that very slot: a
 * deadlock.  Here the room is checked on the version that is then locked,
 * without following its update chain: a lock succeeds only on a version
 * nobody changed, so the check holds for it, and a slot that fails the
 * check, is busy or was changed is left unlocked.  When a changed slot was
 * skipped and nothing was found, the scan is repeated on a newer snapshot
 * (up to three times).
 *
 * The slots are tried from the one the backend used last on, not from slot
 * 0: with every client of one account starting at slot 0, the first slots
 * would be busy or changed for most of them, and charges would run out of
 * attempts and queue on the exact path behind each other.
 *
 * With fc_slot_direct_ok(), the charge is counted on the locked version
 * right here (fc_slot_add), and *added says so.
 */
static const char *const slot_columns[] = {
	"account", "period_start", "kind", "slot", "used", "cap"
};
#define SLOT_USED 4				/* slot_columns[SLOT_USED] */
static FcColumns slot_cols = {.n = lengthof(slot_columns), .names = slot_columns};

static int
lock_slot(const FcCharge *a, TimestampTz start, int64 *total, bool *added, int *nslots,
		  ItemPointerData **seen)
{
	static int	last_slot = 0;	/* the slot this backend used last */
	int			found = -1;

	*added = false;

	/* this transaction's own earlier charges must be seen */
	CommandCounterIncrement();
	for (int attempt = 0; attempt < 4 && found < 0; attempt++)
	{
		Snapshot	snapshot = RegisterSnapshot(GetTransactionSnapshot());
		FcScan		scan;
		HeapTuple	tuple;
		TupleTableSlot *ts;
		TupleDesc	desc;
		bool		changed = false;
		bool		direct;
		ItemPointerData *room = NULL;	/* the slots with room, in slot order */
		int			nroom = 0;
		int			maxroom = 0;
		int			first = 0;
		int			maxseen = 0;

		*total = a->amount;
		*nslots = 0;
		fc_counters_scan_begin(&scan, &slot_cols, a->account, start, snapshot);
		desc = RelationGetDescr(scan.heap);
		while ((tuple = fc_scan_next(&scan)) != NULL)
		{
			bool		isnull;
			int64		used;
			int64		cap;

			if (fc_kind_of(fc_scan_attr(&scan, slot_cols.attnos[2], &isnull),
						   TupleDescAttr(desc, slot_cols.attnos[2] - 1)->atttypid) != a->kind)
				continue;
			if (*nslots == maxseen)
			{
				maxseen = Max(16, 2 * maxseen);
				*seen = *seen ? repalloc(*seen, sizeof(ItemPointerData) * maxseen)
					: palloc(sizeof(ItemPointerData) * maxseen);
			}
			(*seen)[(*nslots)++] = tuple->t_self;
			used = DatumGetInt64(fc_scan_attr(&scan, slot_cols.attnos[SLOT_USED], &isnull));
			*total += used;
			cap = DatumGetInt64(fc_scan_attr(&scan, slot_cols.attnos[5], &isnull));
			if (!isnull && used + a->amount > cap)
				continue;
			if (nroom == maxroom)
			{
				maxroom = Max(16, 2 * maxroom);
				room = room ? repalloc(room, sizeof(ItemPointerData) * maxroom)
					: palloc(sizeof(ItemPointerData) * maxroom);
			}
			if (DatumGetInt16(fc_scan_attr(&scan, slot_cols.attnos[3], &isnull)) == last_slot)
				first = nroom;
			room[nroom++] = tuple->t_self;
		}

		/* the table lock of an UPDATE, or of SELECT ... FOR UPDATE */
		direct = fc_slot_direct_ok(scan.heap);
		LockRelationOid(RelationGetRelid(scan.heap),
						direct ? RowExclusiveLock : RowShareLock);
		ts = table_slot_create(scan.heap, NULL);

		/*
		 * Each backend tries the slots from the one it used last on, so
		 * that concurrent charges of one account spread over the slots
		 * instead of all queueing for the first ones.
		 */
		for (int i = 0; i < nroom && found < 0; i++)
		{
			ItemPointerData tid = room[(first + i) % nroom];
			TM_FailureData tmfd;
			bool		isnull;

			switch (table_tuple_lock(scan.heap, &tid, snapshot, ts,
									 GetCurrentCommandId(true), LockTupleExclusive,
									 LockWaitSkip, 0, &tmfd))
			{
				case TM_Ok:
					found = DatumGetInt16(slot_getattr(ts, slot_cols.attnos[3], &isnull));
					last_slot = found;
					if (direct)
					{
						int64		amount = a->amount;

						fc_slot_add(scan.heap, ExecFetchSlotHeapTuple(ts, false, NULL),
									1, &slot_cols.attnos[SLOT_USED], &amount);
						*added = true;
					}
					break;
				case TM_Updated:
				case TM_Deleted:
					changed = true;
					break;
				default:
					break;		/* busy */
			}
		}
		ExecDropSingleTupleTableSlot(ts);
		fc_scan_end(&scan);
		UnregisterSnapshot(snapshot);
		if (!changed)
			break;
	}
	return found;
}

/*
 * The period's usage of the kind in the newest version of each of its slots
 * (the n versions at seen, as the fast path's scan found them), counted or
 * not: this transaction's charge, and the charges other transactions have
 * counted on other slots and not committed yet.
 *
 * The usage alerts need it.  With several slots, concurrent charges of one
 * account lock different rows, and each sees the others' counts only once
 * they commit: two charges that together take usage from 19 to 20 of 20,
 * each seeing 19, would both leave the 100% alert to the other.  Read after
 * the transaction's own count, the newest versions leave no such gap: of
 * the charges that commit, the one that counted last sees every other's
 * count, so it finds the threshold reached.  The price is that a charge may
 * raise an alert counting a concurrent charge that then rolls back.
 */
static int64
newest_total(const FcCharge *a, const ItemPointerData *seen, int n)
{
	Relation	rel = fc_table_open("counters", a->account, AccessShareLock);
	/* the column numbers lock_slot() just read the slots of rel with */
	AttrNumber	used = slot_cols.relid == RelationGetRelid(rel) ? slot_cols.attnos[SLOT_USED]
		: get_attnum(RelationGetRelid(rel), slot_columns[SLOT_USED]);
	SnapshotData dirty;
	TableScanDesc scan;
	TupleTableSlot *ts = table_slot_create(rel, NULL);
	int64		total = 0;

	InitDirtySnapshot(dirty);
	scan = table_beginscan_tid(rel, &dirty);
	for (int i = 0; i < n; i++)
	{
		ItemPointerData tid = seen[i];
		bool		isnull;

		table_tuple_get_latest_tid(scan, &tid);
		if (!table_tuple_fetch_row_version(rel, &tid, SnapshotAny, ts))
			continue;
		total += DatumGetInt64(slot_getattr(ts, used, &isnull));
	}
	table_endscan(scan);
	ExecDropSingleTupleTableSlot(ts);
	table_close(rel, NoLock);
	return total;
}

/*
 * The fast path: count the charge on a slot that lock_slot() locked (and
 * counted on, unless a trigger on counters needs SQL's UPDATE).  False when
 * there is no such slot; *total is the period's usage after the charge
 * (lock_slot sums it on the way; with several slots and *total below
 * alert_below, the newest versions' sum: newest_total), *nslots the number
 * of the period's slots of the kind it saw.
 */
bool
fc_fast_count(const FcCharge *a, TimestampTz start, int64 alert_below, int64 *total,
			  int *nslots)
{
	bool		added;
	ItemPointerData *seen = NULL;
	int			slot = lock_slot(a, start, total, &added, nslots, &seen);

	if (slot < 0)
		return false;
	if (!added)
		fc_slot_add_sql(a, start, slot, a->amount, 0);
	if (*nslots > 1 && *total < alert_below)
		*total = Max(*total, newest_total(a, seen, *nslots));
	return true;
}
