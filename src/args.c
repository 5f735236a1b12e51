/*-------------------------------------------------------------------------
 *
 * args.c
 *	  Argument and kind helpers shared by the SQL-callable functions: the
 *	  checks of identifiers, "at" and credit_kind arguments, a credit_kind
 *	  as read from a table or named in SQL, and timestamps in messages; and
 *	  the same checks for the functions written in SQL (_check_text,
 *	  _check_time_zone).
 *
 * IDENTIFICATION
 *	  src/args.c
 *
 *-------------------------------------------------------------------------
 */
#include "fluxcredits.h"

#include "billing_period.h"
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

/*
 * The kind of a credit_kind Datum d (of the enum type typid), as read from a
 * table.  The label 'ai' is looked up once per type.
 */
FcKind
fc_kind_of(Datum d, Oid typid)
{
	static Oid	cached_type = InvalidOid;
	static Oid	ai_label = InvalidOid;

	if (typid != cached_type)
	{
		ai_label = DatumGetObjectId(DirectFunctionCall2(enum_in, CStringGetDatum("ai"),
														ObjectIdGetDatum(typid)));
		cached_type = typid;
	}
	return DatumGetObjectId(d) == ai_label ? FC_KIND_AI : FC_KIND_COMPRESSION;
}

const char *
fc_kind_name(FcKind kind)
{
	return kind == FC_KIND_AI ? "ai" : "compression";
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

/*
 * _check_time_zone(tz) up to 1.6: 22023 unless tz is a time zone AT TIME
 * ZONE accepts (credits_open_account then asked for a slash or UTC).
 */
PG_FUNCTION_INFO_V1(fc_check_time_zone_sql);
Datum
fc_check_time_zone_sql(PG_FUNCTION_ARGS)
{
	fc_check_time_zone(fc_arg_text(fcinfo, 0, "tz", 255, true));
	PG_RETURN_VOID();
}

/*
 * _check_time_zone(tz) since 1.7: 22023 unless tz may be an account's time
 * zone, a name pg_timezone_names lists that is not a leap-second zone.
 */
PG_FUNCTION_INFO_V1(fc_check_time_zone_sql_1_7);
Datum
fc_check_time_zone_sql_1_7(PG_FUNCTION_ARGS)
{
	fc_check_account_time_zone(fc_arg_text(fcinfo, 0, "tz", 255, true));
	PG_RETURN_VOID();
}
