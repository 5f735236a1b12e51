/*-------------------------------------------------------------------------
 *
 * writer_checks.c
 *	  What a function that writes checks before it locks anything (1.7):
 *	  that the transaction may write, and that its "at" lies within the
 *	  account's life.
 *
 * Read-only: on a hot standby, or in a READ ONLY transaction, every writer
 * refuses with 25006 first, before it takes a row lock, an advisory lock or
 * a transaction id (on a standby, taking one fails with an internal error;
 * on a primary, a READ ONLY transaction would otherwise lock the account's
 * row and get an xid before a write refused).  Readers make no such check:
 * they work on a standby.
 *
 * The clock: "at" is the app's to give only from the start of the account's
 * first billing period (its anchor; once credits_set_plan() gave it a new
 * anchor, the time that took effect) to the current time plus
 * fluxcredits.max_clock_skew (a few minutes by default; superuser only, -1
 * for no upper bound, which is how tests and demos move the clock ahead).
 * Charges dated between the two land in their own billing period, within
 * its limit.  The lower bound is read from the account's row, so writers
 * check it once they have the row; it never changes but for a new anchor,
 * which only moves it later, under the account's lock.
 *
 * IDENTIFICATION
 *	  src/writer_checks.c
 *
 *-------------------------------------------------------------------------
 */
#include "fluxcredits.h"

#include <limits.h>

#include "access/xact.h"
#include "access/xlog.h"
#include "utils/builtins.h"
#include "utils/guc.h"

/* fluxcredits.max_clock_skew, in seconds; -1: no upper bound */
int			fc_max_clock_skew = 300;

/*
 * Raise 25006 unless the transaction may write: not in recovery (a hot
 * standby), not READ ONLY.  action says what was refused ("charge credits").
 */
void
fc_check_writable(const char *action)
{
	if (RecoveryInProgress())
		ereport(ERROR,
				(errcode(ERRCODE_READ_ONLY_SQL_TRANSACTION),
				 errmsg("cannot %s in a read-only transaction", action),
				 errdetail("The server is a hot standby."),
				 errhint("Write on the primary; reads such as credits_usage() work here.")));
	if (XactReadOnly)
		ereport(ERROR,
				(errcode(ERRCODE_READ_ONLY_SQL_TRANSACTION),
				 errmsg("cannot %s in a read-only transaction", action)));
}

/* The hint of a time before the account's life (errhint: returns 0) */
static int
fc_clock_early_hint(bool new_anchor)
{
	if (new_anchor)
		return errhint("The periods of the account's earlier anchor are closed to new writes.");
	return errhint("A time before the account's anchor is in none of its billing periods.");
}

/*
 * Raise 22023 unless at lies within the account's life: from anchor (or,
 * when anchor_since is not NULL, from *anchor_since, when its current anchor
 * took effect) to the current time plus fluxcredits.max_clock_skew.
 */
void
fc_check_clock(const char *account, TimestampTz anchor, const TimestampTz *anchor_since,
			   TimestampTz at)
{
	TimestampTz from = anchor_since ? *anchor_since : anchor;
	const char *from_what = anchor_since ? "when its current billing anchor took effect" :
		"its anchor";
	TimestampTz until = 0;
	bool		early = at < from;
	bool		late = false;

	if (fc_max_clock_skew >= 0)
	{
		int64		skew = (int64) fc_max_clock_skew * USECS_PER_SEC;

		/*
		 * The clock is never behind the transaction's start (now(), the
		 * usual at): a time within the skew of that needs no reading of it.
		 */
		if (at - skew > GetCurrentTransactionStartTimestamp())
		{
			until = GetCurrentTimestamp() + skew;
			late = at > until;
		}
	}
	if (!early && !late)
		return;

	if (fc_max_clock_skew < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("at is outside the times account \"%s\" allows", account),
				 errdetail("The allowed range is from %s (%s) on, as fluxcredits.max_clock_skew is -1; at is %s.",
						   fc_timestamp_str(from), from_what, fc_timestamp_str(at)),
				 fc_clock_early_hint(anchor_since != NULL)));
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("at is outside the times account \"%s\" allows", account),
			 errdetail("The allowed range is from %s (%s) to %s (the current time plus fluxcredits.max_clock_skew, %s); at is %s.",
					   fc_timestamp_str(from), from_what, fc_timestamp_str(until),
					   GetConfigOptionByName("fluxcredits.max_clock_skew", NULL, false),
					   fc_timestamp_str(at)),
			 early ? fc_clock_early_hint(anchor_since != NULL) :
			 errhint("Leave at out to use now(); only a superuser can let the clock move further ahead (fluxcredits.max_clock_skew).")));
}

/* _check_writable(action): 25006 in a read-only transaction or on a standby */
PG_FUNCTION_INFO_V1(fc_check_writable_sql);
Datum
fc_check_writable_sql(PG_FUNCTION_ARGS)
{
	fc_check_writable(PG_ARGISNULL(0) ? "write" : text_to_cstring(PG_GETARG_TEXT_PP(0)));
	PG_RETURN_VOID();
}

/*
 * _check_clock(account, at, anchor, anchor_since): 22023 unless at lies
 * within the account's life (anchor and anchor_since as in its row).
 */
PG_FUNCTION_INFO_V1(fc_check_clock_sql);
Datum
fc_check_clock_sql(PG_FUNCTION_ARGS)
{
	TimestampTz since = 0;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("account, at and anchor must not be null")));
	if (!PG_ARGISNULL(3))
		since = PG_GETARG_TIMESTAMPTZ(3);
	fc_check_clock(text_to_cstring(PG_GETARG_TEXT_PP(0)), PG_GETARG_TIMESTAMPTZ(2),
				   PG_ARGISNULL(3) ? NULL : &since, PG_GETARG_TIMESTAMPTZ(1));
	PG_RETURN_VOID();
}

/* Module set-up: the fluxcredits.max_clock_skew setting. */
void
fc_writer_checks_init(void)
{
	if (fc_guc_defined("fluxcredits.max_clock_skew"))
		return;
	DefineCustomIntVariable("fluxcredits.max_clock_skew",
							"How far past the current time the \"at\" of a write may be.",
							"-1: no upper bound (a test clock). Times before an account's anchor are refused whatever it is.",
							&fc_max_clock_skew,
							300, -1, INT_MAX,
							PGC_SUSET, GUC_UNIT_S,
							NULL, NULL, NULL);
}
