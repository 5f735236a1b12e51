/*-------------------------------------------------------------------------
 *
 * usage.c
 *	  credits_usage(): the dashboard's read-out of one account.
 *
 * Reads without locking and without SPI (relscan.c), as of the calling
 * statement's snapshot: the account (with its plan), the counter slots of
 * the billing period containing "at" summed per kind, and the account's
 * held reservations.  A period nobody charged in has no
 * counter rows and reads as zero, which is the whole of the lazy reset.
 *
 * IDENTIFICATION
 *	  src/usage.c
 *
 *-------------------------------------------------------------------------
 */
#include "fluxcredits.h"

#include "access/htup_details.h"
#include "catalog/pg_type_d.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/snapmgr.h"
#include "utils/typcache.h"

/* Columns of the fluxcredits.credits_usage type, in order. */
enum
{
	U_PLAN,
	U_COMPRESSOR_USED,
	U_COMPRESSOR_LIMIT,
	U_IA_CREDITS_USED,
	U_IA_CREDITS_MONTHLY,
	U_IA_TOPUP_CREDITS,
	U_IA_CREDITS_REMAINING,
	U_CAN_COMPRESS,
	U_CAN_USE_IA,
	U_PERIOD_START,
	U_PERIOD_END,
	U_COMPRESSOR_RESERVED,
	U_IA_CREDITS_RESERVED,
	U_NCOLUMNS
};

/* credits_usage(account, at) */
PG_FUNCTION_INFO_V1(fc_credits_usage);
Datum
fc_credits_usage(PG_FUNCTION_ARGS)
{
	static const char *const counter_columns[] = {
		"account", "period_start", "kind", "used", "topup_used"
	};
	static const char *const reservation_columns[] = {
		"account", "kind", "period_start", "monthly", "topup", "expires_at", "state"
	};
	static FcColumns ccols = {.n = lengthof(counter_columns), .names = counter_columns};
	static FcColumns rcols = {.n = lengthof(reservation_columns), .names = reservation_columns};
	static const Oid eqfuncs[2] = {F_TEXTEQ, F_TIMESTAMPTZ_EQ};
	char	   *account = fc_arg_text(fcinfo, 0, "account", FC_MAX_ACCOUNT_LEN, true);
	TimestampTz at = fc_arg_at(fcinfo, 1);
	Oid			rettype;
	TupleDesc	tupdesc;
	FcAccount	acc;
	TimestampTz start,
				end;
	int64		compression_used = 0,
				compression_reserved = 0,
				ai_used = 0,
				ai_topup_used = 0,
				ai_reserved = 0,
				topup_balance,
				compression_limit,
				ai_limit,
				ai_monthly_left;
	bool		compression_limited;
	Snapshot	snapshot;
	FcScan		scan;
	HeapTuple	tuple;
	Datum		keys[2];
	Datum		values[U_NCOLUMNS];
	bool		nulls[U_NCOLUMNS];
	bool		isnull;

	/*
	 * The result type's descriptor, pinned in the type cache: the type is
	 * the named composite fluxcredits.credits_usage, so it needs no blessing.
	 * (get_call_result_type() would look the function up in the catalog on
	 * every call, as a function scan sets up its call anew on every
	 * execution.)
	 */
	rettype = get_fn_expr_rettype(fcinfo->flinfo);
	if (!OidIsValid(rettype))
		rettype = get_func_rettype(fcinfo->flinfo->fn_oid);	/* called without an expression */
	tupdesc = lookup_rowtype_tupdesc(rettype, -1);
	if (tupdesc->natts != U_NCOLUMNS)
		elog(ERROR, "fluxcredits: credits_usage type has %d columns, expected %d",
			 tupdesc->natts, U_NCOLUMNS);

	snapshot = RegisterSnapshot(GetActiveSnapshot());
	fc_account_load(account, snapshot, &acc);
	fc_account_period(&acc, at, false, &start, &end);
	topup_balance = acc.topup_balance;

	/* The period's counter slots, summed per kind. */
	fc_counters_scan_begin(&scan, &ccols, account, start, snapshot);
	while ((tuple = fc_scan_next(&scan)) != NULL)
	{
		TupleDesc	desc = RelationGetDescr(scan.heap);
		int64		used = DatumGetInt64(fc_scan_attr(&scan, ccols.attnos[3], &isnull));
		int64		topup_used = DatumGetInt64(fc_scan_attr(&scan, ccols.attnos[4], &isnull));

		if (fc_kind_of(fc_scan_attr(&scan, ccols.attnos[2], &isnull),
					   TupleDescAttr(desc, ccols.attnos[2] - 1)->atttypid) == FC_KIND_AI)
		{
			ai_used += used;
			ai_topup_used += topup_used;
		}
		else
			compression_used += used;
	}
	fc_scan_end(&scan);

	/*
	 * The account's reservations still held: live ones are the reserved
	 * figures (already counted as used); ones past their ttl, which a writer
	 * has not released yet, read as released (off used, their top-up
	 * credits back in the balance).
	 */
	if (!fc_account_may_hold(&acc))
		goto no_holds;			/* the account never reserved */
	keys[0] = CStringGetTextDatum(account);
	fc_scan_begin(&scan, "reservations", "reservations_held", account, &rcols, 1, eqfuncs, keys, snapshot);
	while ((tuple = fc_scan_next(&scan)) != NULL)
	{
		TupleDesc	desc = RelationGetDescr(scan.heap);
		char	   *state = TextDatumGetCString(fc_scan_attr(&scan, rcols.attnos[6], &isnull));
		bool		ai = fc_kind_of(fc_scan_attr(&scan, rcols.attnos[1], &isnull),
									TupleDescAttr(desc, rcols.attnos[1] - 1)->atttypid) == FC_KIND_AI;
		bool		this_period = DatumGetTimestampTz(fc_scan_attr(&scan, rcols.attnos[2], &isnull)) == start;
		int64		monthly = DatumGetInt64(fc_scan_attr(&scan, rcols.attnos[3], &isnull));
		int64		topup = DatumGetInt64(fc_scan_attr(&scan, rcols.attnos[4], &isnull));
		bool		expired = DatumGetTimestampTz(fc_scan_attr(&scan, rcols.attnos[5], &isnull)) <= at;

		if (strcmp(state, "held") != 0)
			continue;
		if (expired)
		{
			topup_balance += topup;
			if (this_period && ai)
			{
				ai_used -= monthly;
				ai_topup_used -= topup;
			}
			else if (this_period)
				compression_used -= monthly;
		}
		else if (this_period)
		{
			if (ai)
				ai_reserved += monthly + topup;
			else
				compression_reserved += monthly + topup;
		}
	}
	fc_scan_end(&scan);
no_holds:
	UnregisterSnapshot(snapshot);

	compression_limited = fc_kind_limit(&acc, FC_KIND_COMPRESSION, &compression_limit);
	(void) fc_kind_limit(&acc, FC_KIND_AI, &ai_limit);	/* the monthly allocation */
	ai_monthly_left = Max(ai_limit - ai_used, 0);
	memset(nulls, false, sizeof(nulls));
	values[U_PLAN] = CStringGetTextDatum(acc.plan);
	values[U_COMPRESSOR_USED] = Int64GetDatum(compression_used);
	values[U_COMPRESSOR_LIMIT] = Int64GetDatum(compression_limit);
	nulls[U_COMPRESSOR_LIMIT] = !compression_limited;
	values[U_IA_CREDITS_USED] = Int64GetDatum(ai_used + ai_topup_used);
	values[U_IA_CREDITS_MONTHLY] = Int64GetDatum(ai_limit);
	values[U_IA_TOPUP_CREDITS] = Int64GetDatum(topup_balance);
	values[U_IA_CREDITS_REMAINING] = Int64GetDatum(ai_monthly_left + topup_balance);
	values[U_CAN_COMPRESS] = BoolGetDatum(!compression_limited ||
										  compression_used < compression_limit);
	values[U_CAN_USE_IA] = BoolGetDatum(ai_monthly_left + topup_balance > 0);
	values[U_PERIOD_START] = TimestampTzGetDatum(start);
	values[U_PERIOD_END] = TimestampTzGetDatum(end);
	values[U_COMPRESSOR_RESERVED] = Int64GetDatum(compression_reserved);
	values[U_IA_CREDITS_RESERVED] = Int64GetDatum(ai_reserved);

	tuple = heap_form_tuple(tupdesc, values, nulls);
	ReleaseTupleDesc(tupdesc);
	PG_RETURN_DATUM(HeapTupleGetDatum(tuple));
}
