/*-------------------------------------------------------------------------
 *
 * charge.c
 *	  A charge, all or nothing: the SQL entry points credits_consume(),
 *	  credits_try_consume() and _hold() under every name their definitions
 *	  have used, their arguments, and the orchestration of one charge.
 *
 * One call (locks in the order of fluxcredits.h):
 *	 0. the writer's checks first (writer_checks.c): the transaction may
 *		write, and (1.7) "at" lies in the account's life;
 *	 1. with an idempotency key: under the key's advisory lock, a key the
 *		account already used returns that call's charge id and charges
 *		nothing (other arguments: an error; dedupe.c);
 *	 2. an AI call on an image: under the image's advisory lock, an image
 *		already charged in this period (and not refunded) returns the
 *		covering charge's id and charges nothing (dedupe.c);
 *	 3. the charge is counted (fc_count): on a counter slot with room,
 *		locking that row only (the fast path, charge_fast.c); else on the
 *		exact path (charge_exact.c), which makes the period's first slot or
 *		decides with the totals under the account's lock; then the usage
 *		alerts it reaches are recorded (alerts.c);
 *	 4. one ledger row is written (write.c).
 * A charge that does not fit writes nothing.
 *
 * IDENTIFICATION
 *	  src/charge.c
 *
 *-------------------------------------------------------------------------
 */
#include "fluxcredits.h"

#include "utils/snapmgr.h"

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

/*
 * The refusal of a charge that does not fit: the "not enough credits" error
 * (FC001), with the figures the exact path decided with.
 */
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
	if (!fc_fast_count(a, start, limit > 0 ? limit : 0, &total, &nslots))
	{
		int64		used,
					balance;

		/*
		 * A limited kind's first slot is made only when the period has no
		 * slot, and slots are never deleted: with slots seen, the exact path
		 * goes straight to the decision on the totals (which also copes with
		 * a plan made unlimited since the account was read).
		 */
		switch (fc_exact_count(a, start, end, limit < 0 || nslots == 0,
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
		if (fc_find_replay(&a, &charge))
		{
			if (a.id != 0 && a.id != charge)
			{
				FcCharge	replay = a;

				replay.key = NULL;	/* the key stays with the first call */
				fc_ledger_insert_charge(&replay, start, 0, 0, true, charge);
			}
			goto done;
		}
	}
	if (a.kind == FC_KIND_AI && a.image != NULL)
	{
		fc_lock_image(a.account, a.image, start);
		if (fc_find_covering_charge(&a, start, &charge))
		{
			/* Keep the key, so that a replay in a later period charges nothing. */
			if (a.key != NULL || a.id != 0)
				fc_ledger_insert_charge(&a, start, 0, 0, true, charge);
			goto done;
		}
	}

	if (fc_count(&a, &acc, start, end, raise, &monthly, &topup))
		charge = fc_ledger_insert_charge(&a, start, monthly, topup, false, 0);

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
 * which a statement of the charge() trigger takes whole (advisory_locks.c);
 * a session that loaded an earlier library before the update would charge
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
