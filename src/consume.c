/*-------------------------------------------------------------------------
 *
 * consume.c
 *	  credits_consume() and credits_try_consume(): charge credits, all or
 *	  nothing.
 *
 * One call (locks in the order of fluxcredits.h):
 *	 1. with an idempotency key: under the key's advisory lock, a key the
 *		account already used returns that call's charge id and charges
 *		nothing (other arguments: an error);
 *	 2. an AI call on an image: under the image's advisory lock, an image
 *		already charged in this period (and not refunded) returns the
 *		covering charge's id and charges nothing;
 *	 3. the charge is counted: on a counter slot with room, locking that row
 *		only (the fast path); else on the period's first slot; else on the
 *		exact path (charge_slow), which decides with the totals under the
 *		account's lock: compression needs used + amount <= limit (always fits
 *		when unlimited); AI draws from the monthly allocation first, then
 *		from the top-up balance;
 *	 4. one ledger row is written.
 * A charge that does not fit writes nothing.
 *
 *-------------------------------------------------------------------------
 */
#include "fluxcredits.h"

#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "common/int.h"
#include "billing_period.h"
#include "executor/tuptable.h"
#include "storage/lmgr.h"
#include "catalog/pg_type_d.h"
#include "utils/builtins.h"
#include "miscadmin.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

/*
 * The arguments of credits_consume, credits_try_consume and _hold.  bounded:
 * the call came through the 1.7 definitions, which bound at to the
 * account's life (writer_checks.c); the earlier ones did not.
 */
static void
consume_args(FunctionCallInfo fcinfo, FcCharge *a, bool bounded)
{
	memset(a, 0, sizeof(*a));
	a->account = fc_arg_text(fcinfo, 0, "account", FC_MAX_ACCOUNT_LEN, true);
	a->kind = fc_arg_kind(fcinfo, 1);
	if (PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("amount must not be null"),
				 errhint("Leave it out to charge one credit.")));
	a->amount = PG_GETARG_INT32(2);
	a->image = fc_arg_text(fcinfo, 3, "image", FC_MAX_IMAGE_LEN, false);
	a->key = fc_arg_text(fcinfo, 4, "idempotency_key", FC_MAX_KEY_LEN, false);
	a->at = fc_arg_at(fcinfo, 5);
	a->hold = false;
	a->bounded = bounded;
	fc_check_charge(a);
}

/* Checks of a charge's arguments that do not depend on how they came. */
void
fc_check_charge(const FcCharge *a)
{
	if (a->amount <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("amount must be positive"),
				 errdetail("The amount given is %d.", a->amount)));
	if (a->kind == FC_KIND_AI && a->image != NULL && a->amount != 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("an AI charge for an image costs exactly one credit"),
				 errdetail("AI credits are charged at most once per image and billing period; the amount given is %d.",
						   a->amount),
				 errhint("Leave the amount at 1, or charge without an image.")));
}

static inline bool
str_equal(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* "3 compression credits for image \"x.png\"", for messages. */
static char *
describe_charge(int64 amount, const char *kind, const char *image)
{
	const char *unit = amount == 1 ? "credit" : "credits";

	if (image == NULL)
		return psprintf("%lld %s %s with no image", (long long) amount, kind, unit);
	return psprintf("%lld %s %s for image \"%s\"", (long long) amount, kind, unit, image);
}

/*
 * A previous call of this account with the same idempotency key: its charge
 * id in *charge, or false.  Other arguments than the first call's: an error.
 */
static bool
find_replay(const FcCharge *a, int64 *charge)
{
	static SPIPlanPtr plan = NULL;
	static const Oid types[2] = {TEXTOID, TEXTOID};
	Datum		values[2];
	int64		id,
				amount;
	char	   *kind,
			   *image;

	values[0] = CStringGetTextDatum(a->account);
	values[1] = CStringGetTextDatum(a->key);
	if (SPI_execute_plan(fc_plan(&plan,
								 "SELECT id, kind::text,"
								 "       CASE WHEN charge IS NULL THEN monthly - topup ELSE 1 END,"
								 "       image, coalesce(charge, id)"
								 "  FROM fluxcredits.ledger"
								 " WHERE account = $1 AND idempotency_key = $2",
								 2, types),
						 values, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "fluxcredits: idempotency lookup failed");
	if (SPI_processed == 0)
		return false;

	fc_get_int64(1, &id);
	kind = fc_get_text(2);
	fc_get_int64(3, &amount);
	image = fc_get_text(4);
	fc_get_int64(5, charge);
	if (strcmp(kind, fc_kind_name(a->kind)) != 0 || amount != a->amount ||
		!str_equal(image, a->image))
		ereport(ERROR,
				(errcode(ERRCODE_FC_IDEMPOTENCY_CONFLICT),
				 errmsg("idempotency key \"%s\" of account \"%s\" was already used with other arguments",
						a->key, a->account),
				 errdetail("The first call (ledger entry %lld) charged %s; this call asks for %s.",
						   (long long) id, describe_charge(amount, kind, image),
						   describe_charge(a->amount, fc_kind_name(a->kind), a->image)),
				 errhint("Use a new idempotency key for a new charge.")));
	return true;
}

/*
 * The charge that already paid for AI on this image in this period, if any.
 */
static bool
find_covering_charge(const FcCharge *a, TimestampTz period_start, int64 *charge)
{
	static SPIPlanPtr plan = NULL;
	static const Oid types[4] = {TEXTOID, TEXTOID, TIMESTAMPTZOID, TIMESTAMPTZOID};
	Datum		values[4];

	values[0] = CStringGetTextDatum(a->account);
	values[1] = CStringGetTextDatum(a->image);
	values[2] = TimestampTzGetDatum(period_start);
	values[3] = TimestampTzGetDatum(a->at);
	if (SPI_execute_plan(fc_plan(&plan,
								 "SELECT l.id FROM fluxcredits.ledger l"
								 " WHERE l.account = $1 AND l.image = $2 AND l.period_start = $3"
								 "   AND l.entry IN ('consume', 'hold') AND l.kind = 'ai' AND l.charge IS NULL"
								 "   AND NOT EXISTS (SELECT FROM fluxcredits.ledger r"
								 "                    WHERE r.entry IN ('refund', 'release') AND r.charge = l.id)"
								 "   AND NOT EXISTS (SELECT FROM fluxcredits.reservations v"
								 "                    WHERE v.id = l.id AND v.state = 'held' AND v.expires_at <= $4)"
								 " ORDER BY l.id LIMIT 1",
								 4, types),
						 values, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "fluxcredits: image lookup failed");
	if (SPI_processed == 0)
		return false;
	fc_get_int64(1, charge);
	return true;
}

/* Write the charge's ledger row.  Returns its id. */
static int64
insert_ledger(const FcCharge *a, TimestampTz start, int64 monthly, int64 topup,
			  bool covered, int64 covering)
{
	FcLedgerRow row = {
		.at = a->at,
		.account = a->account,
		.entry = a->hold && !covered ? "hold" : "consume",
		.has_kind = true,
		.kind = a->kind,
		.has_period = true,
		.period_start = start,
		.monthly = (int32) monthly,
		.topup = (int32) -topup,
		.image = a->image,
		.key = a->key,
		.has_charge = covered,
		.charge = covering,
		.id = a->id
	};

	return fc_ledger_insert(&row);
}

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
 * deadlock (seen under 16 clients on one account).  Here the room is checked
 * on the version that is then locked, without following its update chain:
 * a lock succeeds only on a version nobody changed, so the check holds for
 * it, and a slot that fails the check, is busy or was changed is left
 * unlocked.  When a changed slot was skipped and nothing was found, the scan
 * is repeated on a newer snapshot (up to three times).
 *
 * The slots are tried from the one the backend used last on, not from slot
 * 0: with every client of one account starting at slot 0, the first slots
 * were busy or changed for most of them, charges ran out of attempts and
 * queued on the exact path behind each other (16 clients on one account
 * with a limit: 1,100 to 7,000 charges a second from run to run; 7,700 to
 * 8,600 with the rotation).
 *
 * With fc_slot_direct_ok(), the charge is counted on the locked version
 * right here (fc_slot_add), and *added says so.
 */
static int
lock_slot(const FcCharge *a, TimestampTz start, int64 *total, bool *added, int *nslots)
{
	static int	last_slot = 0;	/* the slot this backend used last */
	static const char *const columns[] = {
		"account", "period_start", "kind", "slot", "used", "cap"
	};
	static FcColumns cols = {.n = lengthof(columns), .names = columns};
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

		*total = a->amount;
		*nslots = 0;
		fc_counters_scan_begin(&scan, &cols, a->account, start, snapshot);
		desc = RelationGetDescr(scan.heap);
		while ((tuple = fc_scan_next(&scan)) != NULL)
		{
			bool		isnull;
			int64		used;
			int64		cap;

			if (fc_kind_of(fc_scan_attr(&scan, cols.attnos[2], &isnull),
						   TupleDescAttr(desc, cols.attnos[2] - 1)->atttypid) != a->kind)
				continue;
			(*nslots)++;
			used = DatumGetInt64(fc_scan_attr(&scan, cols.attnos[4], &isnull));
			*total += used;
			cap = DatumGetInt64(fc_scan_attr(&scan, cols.attnos[5], &isnull));
			if (!isnull && used + a->amount > cap)
				continue;
			if (nroom == maxroom)
			{
				maxroom = Max(16, 2 * maxroom);
				room = room ? repalloc(room, sizeof(ItemPointerData) * maxroom)
					: palloc(sizeof(ItemPointerData) * maxroom);
			}
			if (DatumGetInt16(fc_scan_attr(&scan, cols.attnos[3], &isnull)) == last_slot)
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
					found = DatumGetInt16(slot_getattr(ts, cols.attnos[3], &isnull));
					last_slot = found;
					if (direct)
					{
						int64		amount = a->amount;

						fc_slot_add(scan.heap, ExecFetchSlotHeapTuple(ts, false, NULL),
									1, &cols.attnos[4], &amount);
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
 * Count monthly and topup on the counter slot numbered slot of the charge's
 * period, locked by this transaction, through SQL (for a counters table
 * that fc_slot_direct_ok() does not let this file update).
 */
static void
slot_add_sql(const FcCharge *a, TimestampTz start, int slot, int64 monthly, int64 topup)
{
	static SPIPlanPtr plan = NULL;
	static const Oid types[6] = {TEXTOID, TIMESTAMPTZOID, TEXTOID, INT8OID, INT2OID, INT8OID};
	Datum		values[6];

	values[0] = CStringGetTextDatum(a->account);
	values[1] = TimestampTzGetDatum(start);
	values[2] = CStringGetTextDatum(fc_kind_name(a->kind));
	values[3] = Int64GetDatum(monthly);
	values[4] = Int16GetDatum((int16) slot);
	values[5] = Int64GetDatum(topup);
	if (SPI_execute_plan(fc_plan(&plan,
								 "UPDATE fluxcredits.counters c"
								 "   SET used = c.used + $4, topup_used = c.topup_used + $6"
								 " WHERE c.account = $1 AND c.period_start = $2"
								 "   AND c.kind = $3::fluxcredits.credit_kind AND c.slot = $5",
								 6, types),
						 values, NULL, false, 0) != SPI_OK_UPDATE ||
		SPI_processed != 1)
		elog(ERROR, "fluxcredits: the locked counter slot %d was not updated", slot);
}

/*
 * The fast path: count the charge on a slot that lock_slot() locked (and
 * counted on, unless a trigger on counters needs SQL's UPDATE).  False when
 * there is no such slot; *total is the period's usage after the charge
 * (lock_slot sums it on the way).
 */
static bool
count_fast(const FcCharge *a, TimestampTz start, int64 *total, int *nslots)
{
	bool		added;
	int			slot = lock_slot(a, start, total, &added, nslots);

	if (slot < 0)
		return false;
	if (!added)
		slot_add_sql(a, start, slot, a->amount, 0);
	return true;
}

/*
 * The first slot of a period, or, for an unlimited kind, this backend's own
 * slot when every other one is busy: created (or counted on) under the
 * account's row lock, which the caller (charge_exact) holds, the same lock a
 * plan change takes, so the plan read here is the one in force.  A limited
 * kind's first slot is slot 0 with the whole limit as its cap, made only
 * when the period has no slot at all (an unlimited kind's slots stay when a
 * plan change limits it); otherwise, or when the amount does not fit,
 * nothing happens and false sends the charge down the exact path.  The
 * limit is fc_kind_limit()'s, of the account read under that lock, as
 * the statement would read it.
 */
static bool
charge_first_slot(const FcCharge *a, TimestampTz start, TimestampTz end)
{
	static SPIPlanPtr plan = NULL;
	static const Oid types[7] = {TEXTOID, TIMESTAMPTZOID, TEXTOID, TIMESTAMPTZOID,
	INT8OID, INT2OID, INT8OID};
	Datum		values[7];
	char		nulls[7] = {' ', ' ', ' ', ' ', ' ', ' ', ' '};
	FcAccount	acc;
	int64		lim;

	/* this transaction's own changes, as a new statement sees them */
	CommandCounterIncrement();
	fc_account_load(a->account, GetTransactionSnapshot(), &acc);
	if (!fc_kind_limit(&acc, a->kind, &lim))
		nulls[6] = 'n';
	values[0] = CStringGetTextDatum(a->account);
	values[1] = TimestampTzGetDatum(start);
	values[2] = CStringGetTextDatum(fc_kind_name(a->kind));
	values[3] = TimestampTzGetDatum(end);
	values[4] = Int64GetDatum(a->amount);
	values[5] = Int16GetDatum((int16) (MyProcPid % fc_counter_slots));
	values[6] = Int64GetDatum(lim);
	if (SPI_execute_plan(fc_plan(&plan,
								 "INSERT INTO fluxcredits.counters AS c"
								 "       (account, kind, period_start, slot, period_end, used, cap)"
								 " SELECT $1, $3::fluxcredits.credit_kind, $2,"
								 "        CASE WHEN $7::bigint IS NULL THEN $6 ELSE 0 END, $4, $5, $7"
								 "  WHERE $7::bigint IS NULL"
								 "     OR ($5 <= $7 AND NOT EXISTS ("
								 "         SELECT FROM fluxcredits.counters x"
								 "          WHERE x.account = $1 AND x.period_start = $2"
								 "            AND x.kind = $3::fluxcredits.credit_kind))"
								 " ON CONFLICT (account, period_start, kind, slot) DO UPDATE"
								 "   SET used = c.used + excluded.used"
								 " WHERE c.cap IS NULL AND excluded.cap IS NULL",
								 7, types),
						 values, nulls, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "fluxcredits: counter insert failed");
	return SPI_processed == 1;
}

/* A counter slot of the period, locked by the exact path, as locked. */
typedef struct LockedSlot
{
	int16		slot;
	int64		used;
	bool		capped;
	int64		cap;
	HeapTuple	tuple;			/* a copy of the version locked */
} LockedSlot;

/* A slot found by the exact path's scan, before it is locked. */
typedef struct FoundSlot
{
	int16		slot;
	ItemPointerData tid;
} FoundSlot;

static int
found_slot_cmp(const void *x, const void *y)
{
	int16		a = ((const FoundSlot *) x)->slot;
	int16		b = ((const FoundSlot *) y)->slot;

	return (a > b) - (a < b);
}

/* The columns of counters the exact path reads and writes. */
static const char *const exact_columns[] = {
	"account", "period_start", "kind", "slot", "used", "cap", "topup_used"
};
static FcColumns exact_cols = {.n = lengthof(exact_columns), .names = exact_columns};

#define EX_KIND		2
#define EX_SLOT		3
#define EX_USED		4
#define EX_CAP		5
#define EX_TOPUP	6

/*
 * Lock every counter slot of the charge's kind in the period, in slot
 * order, as SELECT ... ORDER BY slot FOR UPDATE does: waiting for a slot
 * that another transaction holds (for the lock_timeout fc_under_account
 * sets, after which it lets the account go and waits for the slot), and
 * reading each slot from the version locked, its newest.  In REPEATABLE
 * READ or SERIALIZABLE, a slot changed since the transaction's snapshot is
 * a serialization failure, as in SQL.  New slots are made only under the
 * account's lock, which the caller holds, so none can appear meanwhile.
 * Returns the number of slots, in *out.
 */
static int
lock_period_slots(const FcCharge *a, TimestampTz start, LockedSlot **out)
{
	Snapshot	snapshot;
	FcScan		scan;
	HeapTuple	tuple;
	TupleDesc	desc;
	TupleTableSlot *ts;
	Relation	rel;
	FoundSlot  *found = NULL;
	int			nfound = 0;
	int			maxfound = 0;
	int			n = 0;

	CommandCounterIncrement();
	snapshot = RegisterSnapshot(GetTransactionSnapshot());
	fc_counters_scan_begin(&scan, &exact_cols, a->account, start, snapshot);
	desc = RelationGetDescr(scan.heap);
	while ((tuple = fc_scan_next(&scan)) != NULL)
	{
		bool		isnull;

		if (fc_kind_of(fc_scan_attr(&scan, exact_cols.attnos[EX_KIND], &isnull),
					   TupleDescAttr(desc, exact_cols.attnos[EX_KIND] - 1)->atttypid) != a->kind)
			continue;
		if (nfound == maxfound)
		{
			maxfound = Max(16, 2 * maxfound);
			found = found ? repalloc(found, sizeof(FoundSlot) * maxfound)
				: palloc(sizeof(FoundSlot) * maxfound);
		}
		found[nfound].slot = DatumGetInt16(fc_scan_attr(&scan, exact_cols.attnos[EX_SLOT], &isnull));
		found[nfound++].tid = tuple->t_self;
	}
	fc_scan_end(&scan);		/* not waiting with the index's page pinned */
	if (nfound > 1)
		qsort(found, nfound, sizeof(FoundSlot), found_slot_cmp);

	/* the table lock of an UPDATE (the slot chosen is updated) */
	rel = fc_table_open("counters", RowExclusiveLock);
	ts = table_slot_create(rel, NULL);
	*out = palloc(sizeof(LockedSlot) * Max(nfound, 1));
	for (int i = 0; i < nfound; i++)
	{
		LockedSlot *s = &(*out)[n];
		bool		isnull;
		Datum		cap;

		if (!fc_lock_newest(rel, &found[i].tid, snapshot, ts, LockTupleExclusive))
			continue;			/* gone, as FOR UPDATE skips it */
		s->slot = DatumGetInt16(slot_getattr(ts, exact_cols.attnos[EX_SLOT], &isnull));
		s->used = DatumGetInt64(slot_getattr(ts, exact_cols.attnos[EX_USED], &isnull));
		cap = slot_getattr(ts, exact_cols.attnos[EX_CAP], &isnull);
		s->capped = !isnull;
		s->cap = isnull ? 0 : DatumGetInt64(cap);
		s->tuple = ExecCopySlotHeapTuple(ts);
		n++;
	}
	ExecDropSingleTupleTableSlot(ts);
	table_close(rel, NoLock);
	UnregisterSnapshot(snapshot);
	return n;
}

/*
 * Does the account hold a reservation past its ttl at the charge's time?
 * Not looked for in an account that never reserved (most accounts).
 */
static bool
has_expired_hold(const FcCharge *a, const FcAccount *acc)
{
	static const char *const columns[] = {"account", "state", "expires_at"};
	static FcColumns cols = {.n = lengthof(columns), .names = columns};
	static const Oid texteq[1] = {F_TEXTEQ};
	Snapshot	snapshot;
	FcScan		scan;
	Datum		key;
	bool		found = false;

	if (!fc_account_may_hold(acc))
		return false;
	snapshot = RegisterSnapshot(GetTransactionSnapshot());
	key = CStringGetTextDatum(a->account);
	fc_scan_begin(&scan, "reservations", "reservations_held", &cols, 1, texteq, &key, snapshot);
	while (!found && fc_scan_next(&scan) != NULL)
	{
		bool		isnull;
		char	   *state = TextDatumGetCString(fc_scan_attr(&scan, cols.attnos[1], &isnull));

		found = strcmp(state, "held") == 0 &&
			DatumGetTimestampTz(fc_scan_attr(&scan, cols.attnos[2], &isnull)) <= a->at;
	}
	fc_scan_end(&scan);
	UnregisterSnapshot(snapshot);
	return found;
}

/* Release the account's holds past their ttl (_release_expired).  Did it release any? */
static bool
release_expired(const FcCharge *a, const FcAccount *acc)
{
	static SPIPlanPtr spi_plan = NULL;
	static const Oid types[3] = {TEXTOID, TIMESTAMPTZOID, TEXTOID};
	Datum		values[3];
	int64		n;

	if (!has_expired_hold(a, acc))
		return false;
	values[0] = CStringGetTextDatum(a->account);
	values[1] = TimestampTzGetDatum(a->at);
	values[2] = CStringGetTextDatum(acc->plan);
	if (SPI_execute_plan(fc_plan(&spi_plan,
								 "SELECT fluxcredits._release_expired($1, $2, $3)::bigint",
								 3, types),
						 values, NULL, false, 1) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "fluxcredits: release of expired holds failed");
	fc_get_int64(1, &n);
	return n > 0;
}

/* The period's first slot, slot 0, with the charge on it (the exact path's). */
static void
insert_slot_sql(const FcCharge *a, TimestampTz start, TimestampTz end,
				int64 monthly, int64 topup)
{
	static SPIPlanPtr plan = NULL;
	static const Oid types[6] = {TEXTOID, TEXTOID, TIMESTAMPTZOID, TIMESTAMPTZOID,
	INT8OID, INT8OID};
	Datum		values[6];

	values[0] = CStringGetTextDatum(a->account);
	values[1] = CStringGetTextDatum(fc_kind_name(a->kind));
	values[2] = TimestampTzGetDatum(start);
	values[3] = TimestampTzGetDatum(end);
	values[4] = Int64GetDatum(monthly);
	values[5] = Int64GetDatum(topup);
	if (SPI_execute_plan(fc_plan(&plan,
								 "INSERT INTO fluxcredits.counters"
								 "       (account, kind, period_start, slot, period_end, used, topup_used)"
								 " VALUES ($1, $2::fluxcredits.credit_kind, $3, 0, $4, $5, $6)",
								 6, types),
						 values, NULL, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "fluxcredits: counter insert failed");
}

/* Take topup off the account's balance through SQL (accounts with a trigger). */
static void
account_topup_sql(const char *account, int64 topup)
{
	static SPIPlanPtr plan = NULL;
	static const Oid types[2] = {TEXTOID, INT8OID};
	Datum		values[2];

	values[0] = CStringGetTextDatum(account);
	values[1] = Int64GetDatum(topup);
	if (SPI_execute_plan(fc_plan(&plan,
								 "UPDATE fluxcredits.accounts a SET topup_balance = a.topup_balance - $2"
								 " WHERE a.account = $1",
								 2, types),
						 values, NULL, false, 0) != SPI_OK_UPDATE ||
		SPI_processed != 1)
		elog(ERROR, "fluxcredits: top-up balance update failed");
}

/* Share out the caps of the period's slots again (_rebalance). */
static void
rebalance(const FcCharge *a, TimestampTz start, TimestampTz end, int64 lim, bool grow)
{
	static SPIPlanPtr plan = NULL;
	static const Oid types[6] = {TEXTOID, TEXTOID, TIMESTAMPTZOID, TIMESTAMPTZOID,
	INT8OID, BOOLOID};
	Datum		values[6];
	char		nulls[6] = {' ', ' ', ' ', ' ', lim < 0 ? 'n' : ' ', ' '};

	values[0] = CStringGetTextDatum(a->account);
	values[1] = CStringGetTextDatum(fc_kind_name(a->kind));
	values[2] = TimestampTzGetDatum(start);
	values[3] = TimestampTzGetDatum(end);
	values[4] = Int64GetDatum(lim);
	values[5] = BoolGetDatum(grow);
	if (SPI_execute_plan(fc_plan(&plan,
								 "SELECT fluxcredits._rebalance($1, $2::fluxcredits.credit_kind,"
								 "                              $3, $4, $5, $6)",
								 6, types),
						 values, nulls, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "fluxcredits: rebalance failed");
}

/*
 * The exact path, taken when no slot could take the charge at once: near a
 * limit, when every slot is busy, or when AI credits must come from the
 * top-up.  Under the account's row lock (fc_under_account) and every
 * slot's lock it decides with the totals, counts the charge on the slot
 * with the most room, takes the top-up part off the balance, and shares
 * out the caps again.  Returns false, having written nothing, when the
 * charge does not fit; *used, *lim (-1: unlimited) and *balance are the
 * figures it decided with.
 *
 * The libraries before 1.4 called _charge_slow, the same in PL/pgSQL
 * (1.4 drops it): 722,000 instructions a charge drawn from a top-up
 * (callgrind), three quarters in starting executors for its statements and
 * rebuilding the CHECK constraints of the two it updated.  Here the rows
 * are read, locked and updated as on the fast path (relscan.c, write.c):
 * 155,000.  SQL is left for what is rare: releasing expired holds, a
 * period's first slot, and sharing out the caps.
 */
static bool
charge_slow(const FcCharge *a, TimestampTz start, TimestampTz end,
			int64 *monthly, int64 *topup, int64 *used, int64 *lim, int64 *balance)
{
	FcAccount	acc;
	LockedSlot *slots;
	int			n;
	int			best = -1;
	bool		contended = false;	/* a slot could take it: it was busy */
	bool		settled = true; /* every slot's cap is what it has used */

	/* the account's row, locked by fc_under_account: its newest version */
	CommandCounterIncrement();
	fc_account_load_row(a->account, GetTransactionSnapshot(), &acc);
	/* holds past their ttl give their credits back first (lazy expiry) */
	if (release_expired(a, &acc))
	{
		CommandCounterIncrement();
		fc_account_load_row(a->account, GetTransactionSnapshot(), &acc);
	}
	(void) fc_kind_limit(&acc, a->kind, lim);
	*balance = acc.topup_balance;

	n = lock_period_slots(a, start, &slots);
	*used = 0;
	for (int i = 0; i < n; i++)
	{
		LockedSlot *s = &slots[i];

		if (pg_add_s64_overflow(*used, s->used, used))
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("bigint out of range")));
		if (!s->capped || s->used + a->amount <= s->cap)
			contended = true;
		if (!s->capped || s->cap != s->used)
			settled = false;
		/* the most room first (no cap is the most), then the lowest slot */
		if (best < 0 ||
			(!s->capped && slots[best].capped) ||
			(s->capped && slots[best].capped &&
			 s->cap - s->used > slots[best].cap - slots[best].used))
			best = i;
	}
	if (n == 0)
		settled = false;

	if (*lim < 0)
	{
		*monthly = a->amount;
		*topup = 0;
	}
	else
	{
		*monthly = Min(a->amount, Max(*lim - *used, 0));
		*topup = a->amount - *monthly;
		if (*topup > 0 && (a->kind == FC_KIND_COMPRESSION || *topup > *balance))
			return false;
	}

	if (n == 0)
		insert_slot_sql(a, start, end, *monthly, *topup);
	else
	{
		Relation	rel = fc_table_open("counters", RowExclusiveLock);

		if (fc_slot_direct_ok(rel))
		{
			AttrNumber	attnos[2] = {exact_cols.attnos[EX_USED], exact_cols.attnos[EX_TOPUP]};
			int64		amounts[2] = {*monthly, *topup};

			fc_slot_add(rel, slots[best].tuple, 2, attnos, amounts);
		}
		else
			slot_add_sql(a, start, slots[best].slot, *monthly, *topup);
		table_close(rel, NoLock);
	}
	if (*topup > 0)
	{
		Relation	rel = fc_table_open("accounts", RowExclusiveLock);

		if (fc_account_direct_ok(rel))
			fc_account_add(rel, acc.row, acc.topup_balance_attno, -*topup);
		else
			account_topup_sql(a->account, *topup);
		table_close(rel, NoLock);
	}

	/*
	 * Past the monthly limit, with every slot already capped at what it
	 * used, sharing out the caps again would write the same caps: an AI
	 * charge drawn wholly from the top-up skips it.
	 */
	if (!(*monthly == 0 && settled && !contended))
		rebalance(a, start, end, *lim, contended);
	return true;
}

/*
 * The exact path: the period's first slot (charge_first_slot), else the
 * decision on the totals (charge_slow), under the account's lock, which
 * fc_under_account() takes so that it is never held while waiting for a
 * slot (a transaction that charged the account before keeps its slot while
 * its next charge waits for the account).
 */
typedef enum FcExact
{
	FC_EXACT_FIRST_SLOT,		/* counted on the period's first slot */
	FC_EXACT_CHARGED,			/* counted by the exact path */
	FC_EXACT_REFUSED			/* does not fit */
} FcExact;

typedef struct FcExactWork
{
	const FcCharge *a;
	TimestampTz start;
	TimestampTz end;
	bool		try_first_slot; /* false: a limited kind with slots already */
	FcExact		result;
	int64		monthly;
	int64		topup;
	int64		used;
	int64		lim;
	int64		balance;
} FcExactWork;

static void
exact_work(void *arg)
{
	FcExactWork *w = (FcExactWork *) arg;

	w->monthly = w->a->amount;
	w->topup = 0;
	if (w->try_first_slot && charge_first_slot(w->a, w->start, w->end))
		w->result = FC_EXACT_FIRST_SLOT;
	else if (charge_slow(w->a, w->start, w->end, &w->monthly, &w->topup, &w->used,
						 &w->lim, &w->balance))
		w->result = FC_EXACT_CHARGED;
	else
		w->result = FC_EXACT_REFUSED;
}

static FcExact
charge_exact(const FcCharge *a, TimestampTz start, TimestampTz end, bool try_first_slot,
			 int64 *monthly, int64 *topup, int64 *used, int64 *lim, int64 *balance)
{
	FcExactWork w = {.a = a, .start = start, .end = end, .try_first_slot = try_first_slot};
	FcSlotSet	set = {.account = a->account, .kind = fc_kind_name(a->kind),
	.any_period = false, .period_start = start};

	fc_under_account(&set, exact_work, &w);
	*monthly = w.monthly;
	*topup = w.topup;
	if (w.result != FC_EXACT_FIRST_SLOT)
	{
		/* the figures charge_slow read under the lock */
		*used = w.used;
		*lim = w.lim;
		*balance = w.balance;
	}
	return w.result;
}

static void
insufficient(const FcCharge *a, TimestampTz start, TimestampTz end,
			 int64 used, int64 lim, int64 balance)
{
	const char *needs = a->batch ? "the rows this statement inserts need" :
		"this charge needs";

	if (a->kind == FC_KIND_COMPRESSION)
		ereport(ERROR,
				(errcode(ERRCODE_FC_INSUFFICIENT_CREDITS),
				 errmsg("not enough compression credits for account \"%s\"", a->account),
				 errdetail("Used %lld of %lld compression credits in the billing period from %s to %s; %s %d.",
						   (long long) used, (long long) lim,
						   fc_timestamp_str(start), fc_timestamp_str(end), needs, a->amount),
				 errhint("Upgrade the plan, or wait for the next billing period.")));
	ereport(ERROR,
			(errcode(ERRCODE_FC_INSUFFICIENT_CREDITS),
			 errmsg("not enough AI credits for account \"%s\"", a->account),
			 errdetail("Used %lld of %lld monthly AI credits in the billing period from %s to %s and %lld top-up credits remain; %s %d.",
					   (long long) used, (long long) lim,
					   fc_timestamp_str(start), fc_timestamp_str(end),
					   (long long) balance, needs, a->amount),
			 errhint("Buy a top-up with fluxcredits.credits_topup(), or upgrade the plan.")));
}

/*
 * Count a->amount credits of a->kind for the account (as read into acc) in
 * the billing period [start, end): on a counter slot with room (the fast
 * path), else on the exact path, and send the usage alerts it reaches.
 * Writes no ledger row.  Returns false, having counted nothing, when the
 * credits do not fit (with raise, the "not enough credits" error instead);
 * *monthly and *topup are the parts drawn from the monthly allocation and
 * from the top-up balance.  The caller is connected to SPI.
 */
bool
fc_count(const FcCharge *a, const FcAccount *acc, TimestampTz start, TimestampTz end,
		 bool raise, int64 *monthly, int64 *topup)
{
	int64		limit,
				total = 0;
	int			nslots = 0;

	/* The plan's monthly limit of this kind, as read; -1: unlimited. */
	(void) fc_kind_limit(acc, a->kind, &limit);
	*monthly = a->amount;
	*topup = 0;
	if (!count_fast(a, start, &total, &nslots))
	{
		int64		used,
					balance;

		/*
		 * A limited kind's first slot is made only when the period has no
		 * slot, and slots are never deleted: with slots seen, the exact path
		 * goes straight to charge_slow (which also copes with a plan made
		 * unlimited since the account was read).
		 */
		switch (charge_exact(a, start, end, limit < 0 || nslots == 0,
							 monthly, topup, &used, &limit, &balance))
		{
			case FC_EXACT_FIRST_SLOT:
				total = a->amount;
				break;
			case FC_EXACT_CHARGED:
				total = used + *monthly;
				break;
			case FC_EXACT_REFUSED:
				if (raise)
					insufficient(a, start, end, used, limit, balance);
				return false;
		}
	}
	if (limit > 0 && *monthly > 0)
		fc_alert_after_charge(a->account, a->kind, start, end, total, limit,
							  &acc->alert_thresholds);
	return true;
}

/*
 * Charge *req: the body of credits_consume, credits_try_consume and the
 * charge() trigger's rows with an idempotency key.  Returns the charge id,
 * or with raise = false, -1 when the charge does not fit.  The arguments
 * must have passed the checks of consume_args().
 *
 * With req->id (the charge() trigger's charge id column), the charge's
 * ledger row gets that id, and a call that charges nothing (a replayed
 * idempotency key, an AI image already charged in the period) still writes
 * a row of that id that names the charge covering it, so that the id the
 * app stored always leads to a ledger row.
 */
int64
fc_consume(const FcCharge *req, bool raise)
{
	FcCharge	a = *req;
	FcAccount	acc;
	TimestampTz start,
				end;
	int64		charge = -1;
	int64		monthly,
				topup;

	/* before anything is locked (the slot lock below is not SQL's FOR UPDATE) */
	fc_check_writable("charge credits");

	fc_safe_path_push();
	SPI_connect();
	fc_account_load(a.account, GetTransactionSnapshot(), &acc);
	if (a.bounded)
		fc_check_clock(a.account, acc.anchor,
					   acc.has_anchor_since ? &acc.anchor_since : NULL, a.at);
	fc_account_period(&acc, a.at, true, &start, &end);

	if (a.key != NULL)
	{
		fc_lock_key(a.account, a.key);
		if (find_replay(&a, &charge))
		{
			if (a.id != 0 && a.id != charge)
			{
				FcCharge	replay = a;

				replay.key = NULL;	/* the key stays with the first call */
				insert_ledger(&replay, start, 0, 0, true, charge);
			}
			goto done;
		}
	}
	if (a.kind == FC_KIND_AI && a.image != NULL)
	{
		fc_lock_image(a.account, a.image, start);
		if (find_covering_charge(&a, start, &charge))
		{
			/* Keep the key, so that a replay in a later period charges nothing. */
			if (a.key != NULL || a.id != 0)
				insert_ledger(&a, start, 0, 0, true, charge);
			goto done;
		}
	}

	if (fc_count(&a, &acc, start, end, raise, &monthly, &topup))
		charge = insert_ledger(&a, start, monthly, topup, false, 0);

done:
	SPI_finish();
	fc_safe_path_pop();
	return charge;
}

/* credits_consume(account, kind, amount, image, idempotency_key, at) */
static Datum
credits_consume(FunctionCallInfo fcinfo, bool bounded)
{
	FcCharge	a;

	consume_args(fcinfo, &a, bounded);
	PG_RETURN_INT64(fc_consume(&a, true));
}

/* _hold(...): credits_consume recording a reservation's hold */
static Datum
hold(FunctionCallInfo fcinfo, bool bounded)
{
	FcCharge	a;

	consume_args(fcinfo, &a, bounded);
	a.hold = true;
	PG_RETURN_INT64(fc_consume(&a, true));
}

/* credits_try_consume(...): false instead of the "not enough credits" error */
static Datum
credits_try_consume(FunctionCallInfo fcinfo, bool bounded)
{
	FcCharge	a;

	consume_args(fcinfo, &a, bounded);
	PG_RETURN_BOOL(fc_consume(&a, false) >= 0);
}

/* The three under the names of their 1.0 and 1.1 definitions. */
PG_FUNCTION_INFO_V1(fc_credits_consume);
Datum
fc_credits_consume(PG_FUNCTION_ARGS)
{
	return credits_consume(fcinfo, false);
}

PG_FUNCTION_INFO_V1(fc_hold);
Datum
fc_hold(PG_FUNCTION_ARGS)
{
	return hold(fcinfo, false);
}

PG_FUNCTION_INFO_V1(fc_credits_try_consume);
Datum
fc_credits_try_consume(PG_FUNCTION_ARGS)
{
	return credits_try_consume(fcinfo, false);
}

/*
 * The same functions under the names the 1.2 SQL definitions use.  1.2
 * dropped their SET search_path because this library sets the path itself
 * (fc_safe_path_push); a session that loaded the 1.1 library before the
 * update keeps it until it reconnects, and that library does not.  Under
 * the old names it would run the SET-less definitions with the caller's
 * path; under these it finds no such function and refuses the call.
 */
PG_FUNCTION_INFO_V1(fc_credits_consume_1_2);
Datum
fc_credits_consume_1_2(PG_FUNCTION_ARGS)
{
	return fc_credits_consume(fcinfo);
}

PG_FUNCTION_INFO_V1(fc_credits_try_consume_1_2);
Datum
fc_credits_try_consume_1_2(PG_FUNCTION_ARGS)
{
	return fc_credits_try_consume(fcinfo);
}

/*
 * And under the names the 1.3 definitions use (_hold's too).  1.3 adds a
 * hash index on an expression to counters; the 1.2 library handed the
 * entries of such an index, on a slot update that was not HOT, to the
 * executor's routine in a way that crashed the backend (src/write.c,
 * insert_index_entries_executor).  A session that loaded the 1.2 library
 * before the update finds no function of these names and refuses the
 * charge instead.
 */
PG_FUNCTION_INFO_V1(fc_credits_consume_1_3);
Datum
fc_credits_consume_1_3(PG_FUNCTION_ARGS)
{
	return fc_credits_consume(fcinfo);
}

PG_FUNCTION_INFO_V1(fc_credits_try_consume_1_3);
Datum
fc_credits_try_consume_1_3(PG_FUNCTION_ARGS)
{
	return fc_credits_try_consume(fcinfo);
}

PG_FUNCTION_INFO_V1(fc_hold_1_3);
Datum
fc_hold_1_3(PG_FUNCTION_ARGS)
{
	return fc_hold(fcinfo);
}

/*
 * And under the names the 1.6 definitions use.  1.6 takes an AI image's
 * lock under a shared lock on all the account's images of the period,
 * which a statement of the charge() trigger takes whole (advisory_locks.c); a
 * session that loaded an earlier library before the update would charge
 * an image without it, so it finds no function of these names instead.
 */
PG_FUNCTION_INFO_V1(fc_credits_consume_1_6);
Datum
fc_credits_consume_1_6(PG_FUNCTION_ARGS)
{
	return credits_consume(fcinfo, false);
}

PG_FUNCTION_INFO_V1(fc_credits_try_consume_1_6);
Datum
fc_credits_try_consume_1_6(PG_FUNCTION_ARGS)
{
	return credits_try_consume(fcinfo, false);
}

PG_FUNCTION_INFO_V1(fc_hold_1_6);
Datum
fc_hold_1_6(PG_FUNCTION_ARGS)
{
	return hold(fcinfo, false);
}

/*
 * And under the names the 1.7 definitions use: only under these is at
 * bounded to the account's life (writer_checks.c), so a database keeps the
 * clock its version had until it is updated, and a session still running
 * the 1.6 library after the update finds no function of these names.
 */
PG_FUNCTION_INFO_V1(fc_credits_consume_1_7);
Datum
fc_credits_consume_1_7(PG_FUNCTION_ARGS)
{
	return credits_consume(fcinfo, true);
}

PG_FUNCTION_INFO_V1(fc_credits_try_consume_1_7);
Datum
fc_credits_try_consume_1_7(PG_FUNCTION_ARGS)
{
	return credits_try_consume(fcinfo, true);
}

PG_FUNCTION_INFO_V1(fc_hold_1_7);
Datum
fc_hold_1_7(PG_FUNCTION_ARGS)
{
	return hold(fcinfo, true);
}

/* Module set-up: the fluxcredits.counter_slots setting. */
int			fc_counter_slots = 16;

void
fc_consume_init(void)
{
	if (fc_guc_defined("fluxcredits.counter_slots"))
		return;
	DefineCustomIntVariable("fluxcredits.counter_slots",
							"Most counter slots one account's kind may use in one billing period.",
							"Concurrent charges of one account lock different slots; reads sum them.",
							&fc_counter_slots,
							16, 1, 64,
							PGC_SUSET, 0,
							NULL, NULL, NULL);
}
