/*-------------------------------------------------------------------------
 *
 * account.c
 *	  An account with its plan, as the C code reads it: the account's row,
 *	  its plan through a cache of plan rows, its billing period, whether it
 *	  may hold reservations, and the limit of a kind on its plan.
 *
 * IDENTIFICATION
 *	  src/account.c
 *
 *-------------------------------------------------------------------------
 */
#include "fluxcredits.h"

#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "billing_period.h"
#include "storage/bufmgr.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

/*
 * The plans an account read last, and where their rows were: a plan is
 * read through its cached row when that very version is still visible to
 * the snapshot (heap_fetch, no index descent), so a changed plan is read
 * again as soon as the change is visible, exactly as an index probe would
 * see it.  Plans are few and change rarely; this saves one probe on every
 * charge and read-out.
 */
#define FC_PLAN_CACHE_SIZE 8

typedef struct PlanCacheEntry
{
	Oid			relid;			/* InvalidOid: empty */
	char		name[NAMEDATALEN * 2];
	ItemPointerData tid;
	TransactionId xmin;
	int			natts;			/* plans' columns when read (a column added) */
	bool		compression_unlimited;
	int64		compression_limit;
	int64		ai_monthly;
	FcThresholds alert_thresholds;
} PlanCacheEntry;

static PlanCacheEntry plan_cache[FC_PLAN_CACHE_SIZE];
static int	plan_cache_next = 0;

static void
plan_load(FcAccount *acc, const char *account, Snapshot snapshot)
{
	static const char *const plan_columns[] = {
		"name", "compression_limit", "ai_monthly",
		"alert_thresholds"		/* 1.7 */
	};
	static FcColumns pcols = {.n = lengthof(plan_columns), .names = plan_columns,
	.noptional = 1};
	static const Oid texteq[1] = {F_TEXTEQ};
	Relation	rel = fc_table_open("plans", NULL, AccessShareLock);
	Oid			relid = RelationGetRelid(rel);
	bool		cacheable = strlen(acc->plan) < sizeof(plan_cache[0].name);
	PlanCacheEntry *e;
	FcScan		scan;
	HeapTuple	tuple;
	Datum		key;
	Datum		d;
	bool		isnull;

	for (int i = 0; cacheable && i < FC_PLAN_CACHE_SIZE; i++)
	{
		HeapTupleData t;
		Buffer		buf;
		bool		valid;

		e = &plan_cache[i];
		if (e->relid != relid || pcols.relid != relid ||
			e->natts != RelationGetNumberOfAttributes(rel) ||
			pcols.natts != e->natts || strcmp(e->name, acc->plan) != 0)
			continue;
		t.t_self = e->tid;
		/*
		 * The same version: same place, same xmin, same name.  Block 0 is
		 * there as long as any plan is, as the account's is (a later block
		 * is checked, as the table may have been truncated since).
		 */
		valid = (ItemPointerGetBlockNumber(&e->tid) == 0 ||
				 ItemPointerGetBlockNumber(&e->tid) < RelationGetNumberOfBlocks(rel)) &&
			heap_fetch(rel, snapshot, &t, &buf, false);
		if (valid)
		{
			char	   *name;

			name = TextDatumGetCString(heap_getattr(&t, pcols.attnos[0],
													RelationGetDescr(rel), &isnull));
			valid = TransactionIdEquals(HeapTupleHeaderGetXmin(t.t_data), e->xmin) &&
				strcmp(name, e->name) == 0;
			ReleaseBuffer(buf);
		}
		if (valid)
		{
			acc->compression_unlimited = e->compression_unlimited;
			acc->compression_limit = e->compression_limit;
			acc->ai_monthly = e->ai_monthly;
			acc->alert_thresholds = e->alert_thresholds;
			table_close(rel, NoLock);
			return;
		}
		e->relid = InvalidOid;
		break;
	}
	table_close(rel, NoLock);

	key = CStringGetTextDatum(acc->plan);
	fc_scan_begin(&scan, "plans", "plans_pkey", NULL, &pcols, 1, texteq, &key, snapshot);
	tuple = fc_scan_next(&scan);
	if (tuple == NULL)
		elog(ERROR, "fluxcredits: plan \"%s\" of account \"%s\" does not exist",
			 acc->plan, account);
	d = fc_scan_attr(&scan, pcols.attnos[1], &isnull);
	acc->compression_unlimited = isnull;
	acc->compression_limit = isnull ? 0 : DatumGetInt32(d);
	acc->ai_monthly = DatumGetInt32(fc_scan_attr(&scan, pcols.attnos[2], &isnull));
	if (pcols.attnos[3] == InvalidAttrNumber)
		fc_thresholds_default(&acc->alert_thresholds);
	else
	{
		d = fc_scan_attr(&scan, pcols.attnos[3], &isnull);
		if (isnull)				/* NOT NULL from the first script that has it */
			fc_thresholds_default(&acc->alert_thresholds);
		else
			fc_thresholds_of_plan(d, &acc->alert_thresholds);
	}
	if (cacheable)
	{
		e = &plan_cache[plan_cache_next];
		plan_cache_next = (plan_cache_next + 1) % FC_PLAN_CACHE_SIZE;
		e->relid = RelationGetRelid(scan.heap);
		strlcpy(e->name, acc->plan, sizeof(e->name));
		e->tid = tuple->t_self;
		e->xmin = HeapTupleHeaderGetXmin(tuple->t_data);
		e->natts = RelationGetNumberOfAttributes(scan.heap);
		e->compression_unlimited = acc->compression_unlimited;
		e->compression_limit = acc->compression_limit;
		e->ai_monthly = acc->ai_monthly;
		e->alert_thresholds = acc->alert_thresholds;
	}
	fc_scan_end(&scan);
}

static void
account_load(const char *account, Snapshot snapshot, FcAccount *acc, bool keep_row)
{
	static const char *const account_columns[] = {
		"account", "plan", "anchor", "tz", "topup_balance", "anchor_since",
		"has_reserved"			/* 1.5 */
	};
	static FcColumns acols = {.n = lengthof(account_columns), .names = account_columns,
	.noptional = 1};
	FcScan		scan;
	HeapTuple	tuple;
	Datum		d;
	bool		isnull;

	snapshot = RegisterSnapshot(snapshot);

	acc->account = account;
	fc_account_scan_begin(&scan, &acols, account, snapshot);
	if ((tuple = fc_scan_next(&scan)) == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FC_UNKNOWN_ACCOUNT),
				 errmsg("account \"%s\" does not exist", account),
				 errhint("Open it first with fluxcredits.credits_open_account().")));
	acc->plan = TextDatumGetCString(fc_scan_attr(&scan, acols.attnos[1], &isnull));
	acc->anchor = DatumGetTimestampTz(fc_scan_attr(&scan, acols.attnos[2], &isnull));
	acc->tz = TextDatumGetCString(fc_scan_attr(&scan, acols.attnos[3], &isnull));
	acc->topup_balance = DatumGetInt64(fc_scan_attr(&scan, acols.attnos[4], &isnull));
	d = fc_scan_attr(&scan, acols.attnos[5], &isnull);
	acc->has_anchor_since = !isnull;
	acc->anchor_since = isnull ? 0 : DatumGetTimestampTz(d);
	if (acols.attnos[6] == InvalidAttrNumber)
		acc->holds = FC_HOLDS_UNKNOWN;
	else
	{
		d = fc_scan_attr(&scan, acols.attnos[6], &isnull);
		acc->holds = isnull || DatumGetBool(d) ? FC_HOLDS_MAYBE : FC_HOLDS_NONE;
	}
	acc->row = keep_row ? heap_copytuple(tuple) : NULL;
	acc->topup_balance_attno = acols.attnos[4];
	fc_scan_end(&scan);

	plan_load(acc, account, snapshot);
	UnregisterSnapshot(snapshot);
}

/*
 * Read account (and its plan) into *acc, without locking, as of snapshot;
 * unknown accounts are an error.  Two index probes, no SPI (relscan.c).
 */
void
fc_account_load(const char *account, Snapshot snapshot, FcAccount *acc)
{
	account_load(account, snapshot, acc, false);
}

/*
 * The same, keeping a copy of the row in acc->row: for a caller that holds
 * the account's row lock and may update the row (fc_account_add), which
 * needs the newest version: snapshot must be taken after the lock.
 */
void
fc_account_load_row(const char *account, Snapshot snapshot, FcAccount *acc)
{
	account_load(account, snapshot, acc, true);
}

/*
 * May the account have held reservations?  Not if it never reserved
 * (accounts.has_reserved, which credits_reserve() sets before its first
 * hold, in the hold's transaction: a snapshot that sees a hold sees the
 * flag).  Under scripts before 1.5, not if no reservation was ever held in
 * the database.  Read-outs and the exact path look for holds only if so.
 */
bool
fc_account_may_hold(const FcAccount *acc)
{
	if (acc->holds == FC_HOLDS_UNKNOWN)
		return !fc_index_never_used("reservations", "reservations_held", acc->account);
	return acc->holds == FC_HOLDS_MAYBE;
}

/*
 * The account's billing period containing at.  A new anchor set by
 * credits_set_plan() applies from anchor_since on: the period in which it
 * took effect starts then, never earlier.  Charges (for_write) dated before
 * it are refused; a read before it gets the new anchor's period cut at the
 * change, so that one account's odd dates never break a read of all
 * accounts (the usage view).  The account's zone is read as a zone of the
 * time zone database, never as an abbreviation (fc_account_billing_period).
 */
void
fc_account_period(const FcAccount *acc, TimestampTz at, bool for_write,
				  TimestampTz *start, TimestampTz *end)
{
	if (acc->has_anchor_since && at < acc->anchor_since && for_write)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("at %s is before the account's current billing anchor took effect",
						fc_timestamp_str(at)),
				 errdetail("The anchor took effect at %s; it does not describe earlier times.",
						   fc_timestamp_str(acc->anchor_since))));
	fc_account_billing_period(acc->anchor, at, acc->tz, start, end);
	if (acc->has_anchor_since)
	{
		if (at < acc->anchor_since)
		{
			if (*end > acc->anchor_since)
				*end = acc->anchor_since;
		}
		else if (*start < acc->anchor_since)
			*start = acc->anchor_since;
	}
}

/*
 * The monthly limit of kind on the account's plan, as read into acc: true,
 * with the limit in *limit; or false, with -1 in *limit, when the kind is
 * unlimited (a plan's compression_limit is NULL).  AI credits always have
 * one, the plan's monthly allocation (0: none).  The C code's only reading
 * of a kind's limit; the SQL-written functions have _plan_limit().
 */
bool
fc_kind_limit(const FcAccount *acc, FcKind kind, int64 *limit)
{
	if (kind == FC_KIND_COMPRESSION && acc->compression_unlimited)
	{
		*limit = -1;
		return false;
	}
	*limit = kind == FC_KIND_AI ? acc->ai_monthly : acc->compression_limit;
	return true;
}
