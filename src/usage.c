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
	U_NCOLUMNS
};

/* credits_usage(account, at) */
PG_FUNCTION_INFO_V1(fc_credits_usage);
Datum
fc_credits_usage(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr counters_plan = NULL;
	static const Oid types[2] = {TEXTOID, TIMESTAMPTZOID};
	char	   *account = fc_arg_text(fcinfo, 0, "account", FC_MAX_ACCOUNT_LEN, true);
	TimestampTz at = fc_arg_at(fcinfo, 1);
	TupleDesc	tupdesc;
	FcAccount	acc;
	TimestampTz start,
				end;
	int64		compression_used = 0,
				ai_used = 0,
				ai_topup_used = 0,
				ai_monthly_left;
	Datum		args[2];
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

	args[0] = CStringGetTextDatum(account);
	args[1] = TimestampTzGetDatum(start);
	if (SPI_execute_plan(fc_plan(&counters_plan,
								 "SELECT kind::text, sum(used)::int8, sum(topup_used)::int8"
								 "  FROM fluxcredits.counters"
								 " WHERE account = $1 AND period_start = $2"
								 " GROUP BY kind",
								 2, types),
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

		if (strcmp(kind, "ai") == 0)
		{
			ai_used = used;
			ai_topup_used = topup_used;
		}
		else
			compression_used = used;
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
	values[U_IA_TOPUP_CREDITS] = Int64GetDatum(acc.topup_balance);
	values[U_IA_CREDITS_REMAINING] = Int64GetDatum(ai_monthly_left + acc.topup_balance);
	values[U_CAN_COMPRESS] = BoolGetDatum(acc.compression_unlimited ||
										  compression_used < acc.compression_limit);
	values[U_CAN_USE_IA] = BoolGetDatum(ai_monthly_left + acc.topup_balance > 0);
	values[U_PERIOD_START] = TimestampTzGetDatum(start);
	values[U_PERIOD_END] = TimestampTzGetDatum(end);

	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(tupdesc),
													  values, nulls)));
}
