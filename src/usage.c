/*-------------------------------------------------------------------------
 *
 * usage.c
 *	  credits_usage(): the dashboard's read-out of one account.
 *
 * Reads without locking: the account (with its plan), then the counter
 * slots of the billing period containing "at", summed per kind.  A period nobody charged in has no
 * counter rows and reads as zero, which is the whole of the lazy reset.
 *
 *-------------------------------------------------------------------------
 */
#include "fluxcredits.h"

#include "access/htup_details.h"
#include "catalog/pg_type_d.h"
#include "funcapi.h"
#include "utils/builtins.h"

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
	static SPIPlanPtr counters_plan = NULL;
	static const Oid types[3] = {TEXTOID, TIMESTAMPTZOID, TIMESTAMPTZOID};
	char	   *account = fc_arg_text(fcinfo, 0, "account", FC_MAX_ACCOUNT_LEN, true);
	TimestampTz at = fc_arg_at(fcinfo, 1);
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
				ai_monthly_left;
	Datum		args[3];
	Datum		values[U_NCOLUMNS];
	bool		nulls[U_NCOLUMNS];
	text	   *plan_name;
	MemoryContext caller_cxt = CurrentMemoryContext;

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "fluxcredits: credits_usage must return a composite type");
	if (tupdesc->natts != U_NCOLUMNS)
		elog(ERROR, "fluxcredits: credits_usage type has %d columns, expected %d",
			 tupdesc->natts, U_NCOLUMNS);

	SPI_connect();
	fc_account_load(account, true, &acc);
	fc_account_period(&acc, at, &start, &end);

	/*
	 * One statement: the period's counter slots summed per kind, and the
	 * account's reservations still held: live ones are the reserved figures
	 * (already counted as used); ones past their ttl, which a writer has not
	 * released yet, are read as released (taken off used, top-up credits
	 * back in the balance).
	 */
	args[0] = CStringGetTextDatum(account);
	args[1] = TimestampTzGetDatum(start);
	args[2] = TimestampTzGetDatum(at);
	topup_balance = acc.topup_balance;
	if (SPI_execute_plan(fc_plan(&counters_plan,
								 "SELECT kind::text, sum(used)::int8, sum(topup_used)::int8, 0::int8, 0::int8"
								 "  FROM fluxcredits.counters"
								 " WHERE account = $1 AND period_start = $2"
								 " GROUP BY kind"
								 " UNION ALL"
								 " SELECT kind::text,"
								 "        -coalesce(sum(monthly) FILTER (WHERE expires_at <= $3 AND period_start = $2), 0)::int8,"
								 "        -coalesce(sum(topup) FILTER (WHERE expires_at <= $3 AND period_start = $2), 0)::int8,"
								 "        coalesce(sum(monthly + topup) FILTER (WHERE expires_at > $3 AND period_start = $2), 0)::int8,"
								 "        coalesce(sum(topup) FILTER (WHERE expires_at <= $3), 0)::int8"
								 "   FROM fluxcredits.reservations"
								 "  WHERE account = $1 AND state = 'held'"
								 "  GROUP BY kind",
								 3, types),
						 args, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "fluxcredits: counter lookup failed");
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	row = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		char	   *kind = TextDatumGetCString(SPI_getbinval(row, desc, 1, &isnull));
		int64		used = DatumGetInt64(SPI_getbinval(row, desc, 2, &isnull));
		int64		topup_used = DatumGetInt64(SPI_getbinval(row, desc, 3, &isnull));
		int64		reserved = DatumGetInt64(SPI_getbinval(row, desc, 4, &isnull));
		int64		topup_back = DatumGetInt64(SPI_getbinval(row, desc, 5, &isnull));

		if (strcmp(kind, "ai") == 0)
		{
			ai_used += used;
			ai_topup_used += topup_used;
			ai_reserved += reserved;
		}
		else
		{
			compression_used += used;
			compression_reserved += reserved;
		}
		topup_balance += topup_back;
	}
	/* The plan name outlives SPI: copy it into the caller's context. */
	plan_name = (text *) MemoryContextAlloc(caller_cxt, VARHDRSZ + strlen(acc.plan));
	SET_VARSIZE(plan_name, VARHDRSZ + strlen(acc.plan));
	memcpy(VARDATA(plan_name), acc.plan, strlen(acc.plan));
	SPI_finish();

	ai_monthly_left = Max(acc.ai_monthly - ai_used, 0);
	memset(nulls, false, sizeof(nulls));
	values[U_PLAN] = PointerGetDatum(plan_name);
	values[U_COMPRESSOR_USED] = Int64GetDatum(compression_used);
	values[U_COMPRESSOR_LIMIT] = Int64GetDatum(acc.compression_limit);
	nulls[U_COMPRESSOR_LIMIT] = acc.compression_unlimited;
	values[U_IA_CREDITS_USED] = Int64GetDatum(ai_used + ai_topup_used);
	values[U_IA_CREDITS_MONTHLY] = Int64GetDatum(acc.ai_monthly);
	values[U_IA_TOPUP_CREDITS] = Int64GetDatum(topup_balance);
	values[U_IA_CREDITS_REMAINING] = Int64GetDatum(ai_monthly_left + topup_balance);
	values[U_CAN_COMPRESS] = BoolGetDatum(acc.compression_unlimited ||
										  compression_used < acc.compression_limit);
	values[U_CAN_USE_IA] = BoolGetDatum(ai_monthly_left + topup_balance > 0);
	values[U_PERIOD_START] = TimestampTzGetDatum(start);
	values[U_PERIOD_END] = TimestampTzGetDatum(end);
	values[U_COMPRESSOR_RESERVED] = Int64GetDatum(compression_reserved);
	values[U_IA_CREDITS_RESERVED] = Int64GetDatum(ai_reserved);

	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(tupdesc),
													  values, nulls)));
}
