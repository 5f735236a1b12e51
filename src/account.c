/*-------------------------------------------------------------------------
 *
 * account.c
 *	  Argument checks shared by the SQL-callable functions, and reading an
 *	  account with its plan.
 *
 *-------------------------------------------------------------------------
 */
#include "fluxcredits.h"

#include "billing_period.h"
#include "catalog/pg_type_d.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/timestamp.h"

/*
 * A required-or-optional identifier given as a C string (NULL for SQL NULL):
 * NULL when absent and not required; otherwise NULL and empty strings, and
 * strings longer than maxlen bytes, are errors naming it.
 */
char *
fc_check_identifier(char *value, const char *name, int maxlen, bool required)
{
	int			len;

	if (value == NULL)
	{
		if (!required)
			return NULL;
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be null", name)));
	}
	len = strlen(value);
	if (len == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must not be empty", name)));
	if (len > maxlen)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s is too long", name),
				 errdetail("It is %d bytes long; at most %d bytes are allowed.",
						   len, maxlen)));
	return value;
}

/* Text argument argno as a C string, checked by fc_check_identifier(). */
char *
fc_arg_text(FunctionCallInfo fcinfo, int argno, const char *name,
			int maxlen, bool required)
{
	return fc_check_identifier(PG_ARGISNULL(argno) ? NULL :
							   text_to_cstring(PG_GETARG_TEXT_PP(argno)),
							   name, maxlen, required);
}

/* The "at" argument: required and finite. */
TimestampTz
fc_arg_at(FunctionCallInfo fcinfo, int argno)
{
	TimestampTz at;

	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("at must not be null"),
				 errhint("Leave it out to use now().")));
	at = PG_GETARG_TIMESTAMPTZ(argno);
	if (TIMESTAMP_NOT_FINITE(at))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("at must be a finite timestamp")));
	return at;
}

/* The credit_kind argument: required. */
FcKind
fc_arg_kind(FunctionCallInfo fcinfo, int argno)
{
	char	   *label;

	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("kind must not be null"),
				 errhint("Use 'compression' or 'ai'.")));
	label = DatumGetCString(DirectFunctionCall1(enum_out, PG_GETARG_DATUM(argno)));
	if (strcmp(label, "compression") == 0)
		return FC_KIND_COMPRESSION;
	if (strcmp(label, "ai") == 0)
		return FC_KIND_AI;
	elog(ERROR, "fluxcredits: unexpected credit kind \"%s\"", label);
	return FC_KIND_COMPRESSION;	/* keep compiler quiet */
}

/*
 * A timestamptz as text for messages, in its own palloc'd string, in the
 * session's DateStyle like the SQL-written functions' messages.
 */
char *
fc_timestamp_str(TimestampTz t)
{
	return DatumGetCString(DirectFunctionCall1(timestamptz_out, TimestampTzGetDatum(t)));
}

const char *
fc_kind_name(FcKind kind)
{
	return kind == FC_KIND_AI ? "ai" : "compression";
}

/*
 * Read account (and its plan) into *acc, without locking; unknown accounts
 * are an error.  Must be called inside SPI; read_only as for SPI (true in
 * readers, which see the caller's snapshot; false in writers, which take a
 * new one).
 */
void
fc_account_load(const char *account, bool read_only, FcAccount *acc)
{
	static SPIPlanPtr plan = NULL;
	static const Oid types[1] = {TEXTOID};
	Datum		values[1];

	values[0] = CStringGetTextDatum(account);
	if (SPI_execute_plan(fc_plan(&plan,
								 "SELECT a.plan, a.anchor, a.tz, a.anchor_since, a.topup_balance,"
								 "       p.compression_limit, p.ai_monthly"
								 "  FROM fluxcredits.accounts a"
								 "  JOIN fluxcredits.plans p ON p.name = a.plan"
								 " WHERE a.account = $1",
								 1, types),
						 values, NULL, read_only, 1) != SPI_OK_SELECT)
		elog(ERROR, "fluxcredits: reading account failed");
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_FC_UNKNOWN_ACCOUNT),
				 errmsg("account \"%s\" does not exist", account),
				 errhint("Open it first with fluxcredits.credits_open_account().")));

	acc->plan = fc_get_text(1);
	fc_get_timestamptz(2, &acc->anchor);
	acc->tz = fc_get_text(3);
	acc->has_anchor_since = fc_get_timestamptz(4, &acc->anchor_since);
	fc_get_int64(5, &acc->topup_balance);
	acc->compression_unlimited = !fc_get_int64(6, &acc->compression_limit);
	fc_get_int64(7, &acc->ai_monthly);
}

/*
 * The account's billing period containing at.  A new anchor set by
 * credits_set_plan() applies from anchor_since on: the period in which it
 * took effect starts then, never earlier, and times before it are refused.
 */
void
fc_account_period(const FcAccount *acc, TimestampTz at,
				  TimestampTz *start, TimestampTz *end)
{
	if (acc->has_anchor_since && at < acc->anchor_since)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("at %s is before the account's current billing anchor took effect",
						fc_timestamp_str(at)),
				 errdetail("The anchor took effect at %s; it does not describe earlier times.",
						   fc_timestamp_str(acc->anchor_since))));
	fc_billing_period(acc->anchor, at, acc->tz, start, end);
	if (acc->has_anchor_since && *start < acc->anchor_since)
		*start = acc->anchor_since;
}

/*
 * _check_text(value, what, maxlen): the check fc_arg_text() applies, for the
 * functions written in SQL.  Internal: raises, or returns nothing.
 */
PG_FUNCTION_INFO_V1(fc_check_text_sql);
Datum
fc_check_text_sql(PG_FUNCTION_ARGS)
{
	char	   *what;

	if (PG_ARGISNULL(1) || PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("what and maxlen must not be null")));
	what = text_to_cstring(PG_GETARG_TEXT_PP(1));
	(void) fc_arg_text(fcinfo, 0, what, PG_GETARG_INT32(2), true);
	PG_RETURN_VOID();
}

/* _check_time_zone(tz): 22023 unless tz is a time zone AT TIME ZONE accepts. */
PG_FUNCTION_INFO_V1(fc_check_time_zone_sql);
Datum
fc_check_time_zone_sql(PG_FUNCTION_ARGS)
{
	fc_check_time_zone(fc_arg_text(fcinfo, 0, "tz", 255, true));
	PG_RETURN_VOID();
}
