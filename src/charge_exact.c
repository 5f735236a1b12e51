/*-------------------------------------------------------------------------
 *
 * charge_exact.c
 *	  The exact path of a charge, taken when no counter slot could take it
 *	  at once (charge_fast.c): the period has no slot yet, every slot with
 *	  room is busy, the caps leave no room near a limit, or AI credits must
 *	  come from the top-up.  It decides on the totals of every slot of the
 *	  period, under the account's lock.
 *
 * Under the account's row lock, which fc_under_account() takes so that it
 * is never held while waiting for a slot (a transaction that charged the
 * account before keeps its slot while its next charge waits for the
 * account; under_account.c):
 *	 1. the period's first slot (exact_first_slot): a limited kind's period
 *		with no slot gets slot 0, with the whole limit as its cap and the
 *		charge on it; an unlimited kind, this backend's own slot when every
 *		other one is busy;
 *	 2. else the decision on the totals (exact_totals): holds past their
 *		ttl give their credits back first (release_expired); every slot of
 *		the period is locked, in slot order; compression needs
 *		used + amount <= limit (always fits when unlimited); AI draws from
 *		the monthly allocation first, then from the top-up balance; the
 *		charge is counted on the slot with the most room, the top-up part
 *		taken off the account's balance, and the caps of the period's slots
 *		shared out again (_rebalance; when a slot with room was busy, it
 *		adds slots, up to fluxcredits.counter_slots).
 * A charge that does not fit writes nothing.
 *
 * The rows are read, locked and updated without SQL, as on the fast path
 * (relscan.c, write.c); SQL is left for what is rare: releasing expired
 * holds, a period's first slot, and sharing out the caps.  The libraries
 * before 1.4 ran the decision on the totals in PL/pgSQL (_charge_slow,
 * which 1.4 drops), whose statements spent most of a charge starting
 * executors and rebuilding the CHECK constraints of the tables they
 * updated.
 *
 * IDENTIFICATION
 *	  src/charge_exact.c
 *
 *-------------------------------------------------------------------------
 */
#include "fluxcredits.h"

#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/pg_type_d.h"
#include "common/int.h"
#include "executor/tuptable.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/snapmgr.h"

/*
 * fluxcredits.counter_slots: the most counter slots one account's kind may
 * use in one billing period (_rebalance reads it too).  Slots are made only
 * on the exact path, under the account's lock.
 */
static int	counter_slots = 16;

/* Module set-up: the fluxcredits.counter_slots setting. */
void
fc_exact_init(void)
{
	if (fc_guc_defined("fluxcredits.counter_slots"))
		return;
	DefineCustomIntVariable("fluxcredits.counter_slots",
							"Most counter slots one account's kind may use in one billing period.",
							"Concurrent charges of one account lock different slots; reads sum them.",
							&counter_slots,
							16, 1, 64,
							PGC_SUSET, 0,
							NULL, NULL, NULL);
}

/*
 * The first slot of a period, or, for an unlimited kind, this backend's own
 * slot when every other one is busy: created (or counted on) under the
 * account's row lock, which the caller holds, the same lock a plan change
 * takes, so the plan read here is the one in force.  A limited kind's first
 * slot is slot 0 with the whole limit as its cap, made only when the period
 * has no slot at all (an unlimited kind's slots stay when a plan change
 * limits it); otherwise, or when the amount does not fit, nothing happens
 * and false sends the charge on to the decision on the totals.  The limit
 * is fc_kind_limit()'s, of the account as read under that lock.
 */
static bool
exact_first_slot(const FcCharge *a, TimestampTz start, TimestampTz end)
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
	values[5] = Int16GetDatum((int16) (MyProcPid % counter_slots));
	values[6] = Int64GetDatum(lim);
	return fc_execute(a->account, &plan,
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
					  7, types, values, nulls, 0, SPI_OK_INSERT, "counter insert") == 1;
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
	rel = fc_table_open("counters", a->account, RowExclusiveLock);
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
	fc_scan_begin(&scan, "reservations", "reservations_held", a->account, &cols, 1, texteq, &key, snapshot);
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
	if (fc_execute(NULL, &spi_plan, "SELECT fluxcredits._release_expired($1, $2, $3)::bigint",
				   3, types, values, NULL, 1, SPI_OK_SELECT,
				   "release of expired holds") != 1)
		elog(ERROR, "fluxcredits: release of expired holds failed");
	fc_get_int64(1, &n);
	return n > 0;
}

/*
 * The first SPI arguments of the statements on the charge's slots of the
 * period below: $1 account, $2 kind, $3 period start, $4 period end.
 */
static void
period_values(const FcCharge *a, TimestampTz start, TimestampTz end, Datum *values)
{
	values[0] = CStringGetTextDatum(a->account);
	values[1] = CStringGetTextDatum(fc_kind_name(a->kind));
	values[2] = TimestampTzGetDatum(start);
	values[3] = TimestampTzGetDatum(end);
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

	period_values(a, start, end, values);
	values[4] = Int64GetDatum(monthly);
	values[5] = Int64GetDatum(topup);
	(void) fc_execute(a->account, &plan,
					  "INSERT INTO fluxcredits.counters"
					  "       (account, kind, period_start, slot, period_end, used, topup_used)"
					  " VALUES ($1, $2::fluxcredits.credit_kind, $3, 0, $4, $5, $6)",
					  6, types, values, NULL, 0, SPI_OK_INSERT, "counter insert");
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

	period_values(a, start, end, values);
	values[4] = Int64GetDatum(lim);
	values[5] = BoolGetDatum(grow);
	(void) fc_execute(NULL, &plan,
					  "SELECT fluxcredits._rebalance($1, $2::fluxcredits.credit_kind,"
					  "                              $3, $4, $5, $6)",
					  6, types, values, nulls, 0, SPI_OK_SELECT, "rebalance");
}

/*
 * The decision on the totals: under the account's row lock
 * (fc_under_account) and every slot's lock, decide with the totals, count
 * the charge on the slot with the most room, take the top-up part off the
 * balance, and share out the caps again.  Returns false, having written
 * nothing, when the charge does not fit; *used, *lim (-1: unlimited) and
 * *balance are the figures it decided with.
 */
static bool
exact_totals(const FcCharge *a, TimestampTz start, TimestampTz end,
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
		Relation	rel = fc_table_open("counters", a->account, RowExclusiveLock);

		if (fc_slot_direct_ok(rel))
		{
			AttrNumber	attnos[2] = {exact_cols.attnos[EX_USED], exact_cols.attnos[EX_TOPUP]};
			int64		amounts[2] = {*monthly, *topup};

			fc_slot_add(rel, slots[best].tuple, 2, attnos, amounts);
		}
		else
			fc_slot_add_sql(a, start, slots[best].slot, *monthly, *topup);
		table_close(rel, NoLock);
	}
	if (*topup > 0)
	{
		Relation	rel = fc_table_open("accounts", a->account, RowExclusiveLock);

		if (fc_account_direct_ok(rel))
			fc_account_add(rel, acc.row, acc.topup_balance_attno, -*topup);
		else
			fc_account_topup_sql(a->account, *topup);
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

/* What exact_work() did, and the figures it decided with. */
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

/* The work done under the account's lock (it may run more than once). */
static void
exact_work(void *arg)
{
	FcExactWork *w = (FcExactWork *) arg;

	w->monthly = w->a->amount;
	w->topup = 0;
	if (w->try_first_slot && exact_first_slot(w->a, w->start, w->end))
		w->result = FC_EXACT_FIRST_SLOT;
	else if (exact_totals(w->a, w->start, w->end, &w->monthly, &w->topup, &w->used,
						  &w->lim, &w->balance))
		w->result = FC_EXACT_CHARGED;
	else
		w->result = FC_EXACT_REFUSED;
}

/*
 * The exact path: the period's first slot (with try_first_slot), else the
 * decision on the totals, under the account's lock (see the head of this
 * file).  *monthly and *topup are the parts drawn from the monthly
 * allocation and from the top-up balance; unless the charge went on the
 * first slot, *used, *lim (-1: unlimited) and *balance are the figures
 * read under the lock.  The caller is connected to SPI.
 */
FcExact
fc_exact_count(const FcCharge *a, TimestampTz start, TimestampTz end, bool try_first_slot,
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
		/* the figures exact_totals read under the lock */
		*used = w.used;
		*lim = w.lim;
		*balance = w.balance;
	}
	return w.result;
}
