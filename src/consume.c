/*-------------------------------------------------------------------------
 *
 * consume.c
 *	  credits_consume() and credits_try_consume(): charge credits, all or
 *	  nothing.
 *
 * One call, under the account's row lock (see fluxcredits.h):
 *	 1. an idempotency key already used by the account returns that call's
 *		charge id and charges nothing (other arguments: an error);
 *	 2. an AI call on an image already charged in this period (and not
 *		refunded) returns the covering charge's id and charges nothing;
 *	 3. the period's counter is checked against the plan: compression needs
 *		used + amount <= limit (always fits when unlimited); AI draws from the
 *		monthly allocation first, then from the top-up balance;
 *	 4. the counter, the top-up balance and one ledger row are written.
 * A charge that does not fit writes nothing.
 *
 *-------------------------------------------------------------------------
 */
#include "fluxcredits.h"

#include "billing_period.h"
#include "catalog/pg_type_d.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

typedef struct ConsumeArgs
{
	char	   *account;
	FcKind		kind;
	int32		amount;
	char	   *image;
	char	   *key;
	TimestampTz at;
} ConsumeArgs;

static void
consume_args(FunctionCallInfo fcinfo, ConsumeArgs *a)
{
	a->account = fc_arg_text(fcinfo, 0, "account", FC_MAX_ACCOUNT_LEN, true);
	a->kind = fc_arg_kind(fcinfo, 1);
	if (PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("amount must not be null"),
				 errhint("Leave it out to charge one credit.")));
	a->amount = PG_GETARG_INT32(2);
	if (a->amount <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("amount must be positive"),
				 errdetail("The amount given is %d.", a->amount)));
	a->image = fc_arg_text(fcinfo, 3, "image", FC_MAX_IMAGE_LEN, false);
	a->key = fc_arg_text(fcinfo, 4, "idempotency_key", FC_MAX_KEY_LEN, false);
	a->at = fc_arg_at(fcinfo, 5);
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
find_replay(const ConsumeArgs *a, int64 *charge)
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
find_covering_charge(const ConsumeArgs *a, TimestampTz period_start, int64 *charge)
{
	static SPIPlanPtr plan = NULL;
	static const Oid types[3] = {TEXTOID, TEXTOID, TIMESTAMPTZOID};
	Datum		values[3];

	values[0] = CStringGetTextDatum(a->account);
	values[1] = CStringGetTextDatum(a->image);
	values[2] = TimestampTzGetDatum(period_start);
	if (SPI_execute_plan(fc_plan(&plan,
								 "SELECT l.id FROM fluxcredits.ledger l"
								 " WHERE l.account = $1 AND l.image = $2 AND l.period_start = $3"
								 "   AND l.entry = 'consume' AND l.kind = 'ai' AND l.charge IS NULL"
								 "   AND NOT EXISTS (SELECT FROM fluxcredits.ledger r"
								 "                    WHERE r.entry = 'refund' AND r.charge = l.id)"
								 " ORDER BY l.id LIMIT 1",
								 3, types),
						 values, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "fluxcredits: image lookup failed");
	if (SPI_processed == 0)
		return false;
	fc_get_int64(1, charge);
	return true;
}

/* Credits of kind already drawn in the period: monthly and from top-up. */
static void
read_counter(const ConsumeArgs *a, TimestampTz period_start, int64 *used, int64 *topup_used)
{
	static SPIPlanPtr plan = NULL;
	static const Oid types[3] = {TEXTOID, TIMESTAMPTZOID, TEXTOID};
	Datum		values[3];

	values[0] = CStringGetTextDatum(a->account);
	values[1] = TimestampTzGetDatum(period_start);
	values[2] = CStringGetTextDatum(fc_kind_name(a->kind));
	if (SPI_execute_plan(fc_plan(&plan,
								 "SELECT used, topup_used FROM fluxcredits.counters"
								 " WHERE account = $1 AND period_start = $2"
								 "   AND kind = $3::fluxcredits.credit_kind",
								 3, types),
						 values, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "fluxcredits: counter lookup failed");
	*used = 0;
	*topup_used = 0;
	if (SPI_processed > 0)
	{
		fc_get_int64(1, used);
		fc_get_int64(2, topup_used);
	}
}

/* Write the charge: counter, top-up balance, ledger row.  Returns its id. */
static int64
write_charge(const ConsumeArgs *a, TimestampTz start, TimestampTz end,
			 int64 monthly, int64 topup, bool covered, int64 covering)
{
	static SPIPlanPtr counter_plan = NULL;
	static const Oid counter_types[6] = {TEXTOID, TEXTOID, TIMESTAMPTZOID,
	TIMESTAMPTZOID, INT8OID, INT8OID};
	static SPIPlanPtr balance_plan = NULL;
	static const Oid balance_types[2] = {TEXTOID, INT8OID};
	static SPIPlanPtr ledger_plan = NULL;
	static const Oid ledger_types[9] = {TIMESTAMPTZOID, TEXTOID, TEXTOID,
		TIMESTAMPTZOID, INT4OID, INT4OID, TEXTOID, TEXTOID, INT8OID};
	Datum		account = CStringGetTextDatum(a->account);
	Datum		kind = CStringGetTextDatum(fc_kind_name(a->kind));
	Datum		values[9];
	char		nulls[9];
	int64		id;

	if (!covered)
	{
		values[0] = account;
		values[1] = kind;
		values[2] = TimestampTzGetDatum(start);
		values[3] = TimestampTzGetDatum(end);
		values[4] = Int64GetDatum(monthly);
		values[5] = Int64GetDatum(topup);
		if (SPI_execute_plan(fc_plan(&counter_plan,
									 "INSERT INTO fluxcredits.counters AS c"
									 "       (account, kind, period_start, period_end, used, topup_used)"
									 " VALUES ($1, $2::fluxcredits.credit_kind, $3, $4, $5, $6)"
									 " ON CONFLICT (account, period_start, kind) DO UPDATE"
									 "   SET used = c.used + excluded.used,"
									 "       topup_used = c.topup_used + excluded.topup_used",
									 6, counter_types),
							 values, NULL, false, 0) != SPI_OK_INSERT)
			elog(ERROR, "fluxcredits: counter update failed");
	}
	if (topup > 0)
	{
		values[0] = account;
		values[1] = Int64GetDatum(topup);
		if (SPI_execute_plan(fc_plan(&balance_plan,
									 "UPDATE fluxcredits.accounts"
									 "   SET topup_balance = topup_balance - $2"
									 " WHERE account = $1",
									 2, balance_types),
							 values, NULL, false, 0) != SPI_OK_UPDATE)
			elog(ERROR, "fluxcredits: top-up balance update failed");
	}

	memset(nulls, ' ', sizeof(nulls));
	values[0] = TimestampTzGetDatum(a->at);
	values[1] = account;
	values[2] = kind;
	values[3] = TimestampTzGetDatum(start);
	values[4] = Int32GetDatum((int32) monthly);
	values[5] = Int32GetDatum((int32) -topup);
	values[6] = a->image ? CStringGetTextDatum(a->image) : (Datum) 0;
	nulls[6] = a->image ? ' ' : 'n';
	values[7] = a->key ? CStringGetTextDatum(a->key) : (Datum) 0;
	nulls[7] = a->key ? ' ' : 'n';
	values[8] = Int64GetDatum(covering);
	nulls[8] = covered ? ' ' : 'n';
	if (SPI_execute_plan(fc_plan(&ledger_plan,
								 "INSERT INTO fluxcredits.ledger"
								 "       (at, account, entry, kind, period_start, monthly, topup,"
								 "        image, idempotency_key, charge)"
								 " VALUES ($1, $2, 'consume', $3::fluxcredits.credit_kind, $4, $5, $6,"
								 "         $7, $8, $9)"
								 " RETURNING id",
								 9, ledger_types),
						 values, nulls, false, 0) != SPI_OK_INSERT_RETURNING ||
		SPI_processed != 1)
		elog(ERROR, "fluxcredits: ledger insert failed");
	fc_get_int64(1, &id);
	return id;
}

static void
insufficient(const ConsumeArgs *a, const FcAccount *acc, TimestampTz start,
			 TimestampTz end, int64 used)
{
	if (a->kind == FC_KIND_COMPRESSION)
		ereport(ERROR,
				(errcode(ERRCODE_FC_INSUFFICIENT_CREDITS),
				 errmsg("not enough compression credits for account \"%s\"", a->account),
				 errdetail("Used %lld of %lld compression credits in the billing period from %s to %s; this charge needs %d.",
						   (long long) used, (long long) acc->compression_limit,
						   fc_timestamp_str(start), fc_timestamp_str(end), a->amount),
				 errhint("Upgrade the plan, or wait for the next billing period.")));
	ereport(ERROR,
			(errcode(ERRCODE_FC_INSUFFICIENT_CREDITS),
			 errmsg("not enough AI credits for account \"%s\"", a->account),
			 errdetail("Used %lld of %lld monthly AI credits in the billing period from %s to %s and %lld top-up credits remain; this charge needs %d.",
					   (long long) used, (long long) acc->ai_monthly,
					   fc_timestamp_str(start), fc_timestamp_str(end),
					   (long long) acc->topup_balance, a->amount),
			 errhint("Buy a top-up with fluxcredits.credits_topup(), or upgrade the plan.")));
}

/*
 * The shared body.  Returns the charge id, or with raise = false, -1 when the
 * charge does not fit.
 */
static int64
consume(FunctionCallInfo fcinfo, bool raise)
{
	ConsumeArgs a;
	FcAccount	acc;
	TimestampTz start,
				end;
	int64		charge = -1;
	int64		used,
				topup_used,
				monthly,
				topup;
	bool		fits;

	consume_args(fcinfo, &a);

	SPI_connect();
	fc_account_load(a.account, true, &acc);
	fc_account_period(&acc, a.at, &start, &end);

	if (a.key != NULL && find_replay(&a, &charge))
		goto done;

	if (a.kind == FC_KIND_AI && a.image != NULL &&
		find_covering_charge(&a, start, &charge))
	{
		/* Keep the key, so that a replay in a later period charges nothing. */
		if (a.key != NULL)
			write_charge(&a, start, end, 0, 0, true, charge);
		goto done;
	}

	read_counter(&a, start, &used, &topup_used);
	if (a.kind == FC_KIND_COMPRESSION)
	{
		monthly = a.amount;
		topup = 0;
		fits = acc.compression_unlimited || used + a.amount <= acc.compression_limit;
	}
	else
	{
		int64		left = Max(acc.ai_monthly - used, 0);

		monthly = Min(left, (int64) a.amount);
		topup = a.amount - monthly;
		fits = topup <= acc.topup_balance;
	}
	if (!fits)
	{
		if (raise)
			insufficient(&a, &acc, start, end, used);
		goto done;
	}
	charge = write_charge(&a, start, end, monthly, topup, false, 0);

done:
	SPI_finish();
	return charge;
}

/* credits_consume(account, kind, amount, image, idempotency_key, at) */
PG_FUNCTION_INFO_V1(fc_credits_consume);
Datum
fc_credits_consume(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT64(consume(fcinfo, true));
}

/* credits_try_consume(...): false instead of the "not enough credits" error */
PG_FUNCTION_INFO_V1(fc_credits_try_consume);
Datum
fc_credits_try_consume(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(consume(fcinfo, false) >= 0);
}
