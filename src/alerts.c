/*-------------------------------------------------------------------------
 *
 * alerts.c
 *	  Usage alerts: when a charge takes an account's monthly compression or
 *	  AI usage to or past one of its plan's thresholds
 *	  (fluxcredits.plans.alert_thresholds, percent of the plan's monthly
 *	  limit; 80 and 100 by default), record the alert in
 *	  fluxcredits.alerts_sent and, when the transaction commits, send
 *	  NOTIFY fluxcredits_alert with a JSON payload.
 *
 * Each threshold fires at most once per account, kind and period: the
 * charge that first finds usage at or past it inserts a row into
 * fluxcredits.alerts_sent (a concurrent charge waits on that row's unique
 * key, then finds it and stays quiet).  The row is written in the charge's
 * transaction, so it commits or rolls back with the charge, and it is what
 * the view fluxcredits.alerts shows: the durable record, which a listener
 * that missed a notification reads to catch up.  Unlimited kinds have no
 * thresholds.
 *
 * The notification is not sent from inside the charge: PostgreSQL refuses
 * PREPARE TRANSACTION after NOTIFY (0A000), so a charge that crossed a
 * threshold could never be prepared.  The payloads of the alerts this
 * transaction recorded wait in a backend-local list (in
 * TopTransactionContext, each with the subtransaction that recorded it)
 * and are queued with Async_Notify() at XACT_EVENT_PRE_COMMIT, which
 * CommitTransaction() calls before PreCommit_Notify(): they go out with
 * the commit, exactly as a NOTIFY run in the transaction would.  An alert
 * recorded in a subtransaction that rolls back leaves the list with the
 * row it recorded.  PREPARE TRANSACTION drops the list: a prepared
 * transaction's alerts are in fluxcredits.alerts once COMMIT PREPARED has
 * run, and nothing is notified for them (COMMIT PREPARED runs no code of
 * ours).
 *
 * The setting fluxcredits.alert_thresholds, which chose the thresholds up
 * to 1.6, is still defined (so that a configuration or a client that sets
 * it keeps working) but no longer read: what a session sets must not
 * change which alerts fire.
 *
 * IDENTIFICATION
 *	  src/alerts.c
 *
 *-------------------------------------------------------------------------
 */
#include "fluxcredits.h"

#include "access/xact.h"
#include "catalog/pg_type_d.h"
#include "commands/async.h"
#include "nodes/pg_list.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/varlena.h"

/* The channel of the notifications. */
#define FC_ALERT_CHANNEL "fluxcredits_alert"

/*
 * The end of the statement that records alerts (WITH sent AS (INSERT INTO
 * alerts_sent ...)): the payload of each threshold it recorded, in order.
 * A threshold already recorded is skipped: it fires once per period.
 */
#define ALERTS_SENT_PAYLOADS \
	"  ON CONFLICT DO NOTHING" \
	"  RETURNING threshold)" \
	" SELECT json_build_object('account', $1, 'kind', $2, 'threshold', threshold," \
	"                          'used', $5, 'limit', $6," \
	"                          'period_start', $3, 'period_end', $7)::text" \
	"   FROM sent ORDER BY threshold"

/* An alert recorded by this transaction, to be notified at its commit. */
typedef struct PendingAlert
{
	SubTransactionId subid;		/* the subtransaction that recorded it */
	char	   *payload;
} PendingAlert;

/* In TopTransactionContext; NIL outside a transaction that recorded one. */
static List *pending_alerts = NIL;
static bool callbacks_registered = false;

static char *alert_thresholds_string = NULL;

/*
 * The value of fluxcredits.alert_thresholds is checked as before 1.7 (a
 * comma-separated list of percentages from 1 to 100, at most 16), so that
 * whatever was accepted is still accepted and a typo in a configuration
 * still shows; it is never used.
 */
static bool
check_thresholds(char **newval, void **extra, GucSource source)
{
	char	   *raw = pstrdup(*newval);
	List	   *items;
	ListCell   *lc;
	int			n = 0;

	(void) extra;
	(void) source;
	if (!SplitIdentifierString(raw, ',', &items))
	{
		GUC_check_errdetail("The value must be a comma-separated list of percentages.");
		return false;
	}
	foreach(lc, items)
	{
		char	   *item = (char *) lfirst(lc);
		char	   *end;
		long		v = strtol(item, &end, 10);

		if (*item == '\0' || *end != '\0' || v < 1 || v > 100)
		{
			GUC_check_errdetail("\"%s\" is not a percentage from 1 to 100.", item);
			return false;
		}
		if (++n > 16)
		{
			GUC_check_errdetail("At most %d thresholds are allowed.", 16);
			return false;
		}
	}
	return true;
}

void
fc_alerts_init(void)
{
	if (fc_guc_defined("fluxcredits.alert_thresholds"))
		return;
	DefineCustomStringVariable("fluxcredits.alert_thresholds",
							   "Ignored since fluxcredits 1.7: the thresholds of usage alerts are per plan.",
							   "Set them in the column alert_thresholds of fluxcredits.plans.",
							   &alert_thresholds_string,
							   "80,100",
							   PGC_USERSET, GUC_LIST_INPUT,
							   check_thresholds, NULL, NULL);
}

/*
 * The transaction ends: at commit, queue the notifications of the alerts
 * it recorded (PreCommit_Notify, which runs after this, sends them with
 * the commit); otherwise forget them (PREPARE: they are in alerts_sent;
 * abort: so are not their rows).  The list's memory goes with
 * TopTransactionContext.
 */
static void
alerts_xact_callback(XactEvent event, void *arg)
{
	(void) arg;
	if (pending_alerts == NIL)
		return;
	if (event == XACT_EVENT_PRE_COMMIT)
	{
		List	   *alerts = pending_alerts;
		ListCell   *lc;

		pending_alerts = NIL;
		foreach(lc, alerts)
			Async_Notify(FC_ALERT_CHANNEL, ((PendingAlert *) lfirst(lc))->payload);
		return;
	}
	pending_alerts = NIL;
}

/*
 * A subtransaction rolls back: drop the alerts it, or a subtransaction
 * under it, recorded (their rows are rolled back too).  Subtransaction ids
 * grow within a transaction, and every subtransaction started since
 * mySubid was is under it, so these are the entries of ids from mySubid on.
 */
static void
alerts_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
						SubTransactionId parentSubid, void *arg)
{
	ListCell   *lc;

	(void) parentSubid;
	(void) arg;
	if (event != SUBXACT_EVENT_ABORT_SUB || pending_alerts == NIL)
		return;
	foreach(lc, pending_alerts)
	{
		if (((PendingAlert *) lfirst(lc))->subid >= mySubid)
			pending_alerts = foreach_delete_current(pending_alerts, lc);
	}
}

/* Keep payload, to be notified when this transaction commits. */
static void
alert_pending(const char *payload)
{
	MemoryContext old;
	PendingAlert *a;

	if (!callbacks_registered)
	{
		RegisterXactCallback(alerts_xact_callback, NULL);
		RegisterSubXactCallback(alerts_subxact_callback, NULL);
		callbacks_registered = true;
	}
	old = MemoryContextSwitchTo(TopTransactionContext);
	a = palloc(sizeof(PendingAlert));
	a->subid = GetCurrentSubTransactionId();
	a->payload = pstrdup(payload);
	pending_alerts = lappend(pending_alerts, a);
	MemoryContextSwitchTo(old);
}

/*
 * The thresholds of a plan's integer[] value d (plans.alert_thresholds): a
 * set of percentages, whatever their order and repeats.  Values outside
 * 1..100 and NULLs, which the column's CHECK constraint refuses, are
 * skipped.
 */
void
fc_thresholds_of_plan(Datum d, FcThresholds *t)
{
	ArrayType  *arr = DatumGetArrayTypeP(d);
	Datum	   *values;
	bool	   *nulls;
	int			n;

	t->bits[0] = t->bits[1] = 0;
	t->of_plan = true;
	deconstruct_array(arr, INT4OID, sizeof(int32), true, TYPALIGN_INT,
					  &values, &nulls, &n);
	for (int i = 0; i < n; i++)
	{
		int32		p = nulls[i] ? 0 : DatumGetInt32(values[i]);

		if (p >= 1 && p <= 100)
			t->bits[p / 64] |= UINT64CONST(1) << (p % 64);
	}
	pfree(values);
	pfree(nulls);
}

/* The thresholds of a plan that has none of its own (before 1.7): 80, 100. */
void
fc_thresholds_default(FcThresholds *t)
{
	t->bits[0] = t->bits[1] = 0;
	t->of_plan = false;
	t->bits[80 / 64] |= UINT64CONST(1) << (80 % 64);
	t->bits[100 / 64] |= UINT64CONST(1) << (100 % 64);
}

/*
 * After a charge of kind that left the period's monthly usage at used (of
 * limit): record every threshold of thresholds (the account's plan's)
 * reached that was not yet recorded, and keep each one's notification for
 * the commit.  Runs no statement when usage reaches no threshold.  Must be
 * called inside SPI.
 *
 * Thresholds of a plan (1.7: plans.alert_thresholds exists, and so do the
 * columns of alerts_sent that 1.7 added) get rows with used, limit and the
 * period's end; an earlier database, its rows.
 */
void
fc_alert_after_charge(const char *account, FcKind kind, TimestampTz start,
					  TimestampTz end, int64 used, int64 limit,
					  const FcThresholds *thresholds)
{
	static SPIPlanPtr plan_figures = NULL;
	static SPIPlanPtr plan_plain = NULL;
	static const Oid types[7] = {TEXTOID, TEXTOID, TIMESTAMPTZOID, INT4ARRAYOID,
	INT8OID, INT8OID, TIMESTAMPTZOID};
	Datum		reached[100];
	int			n = 0;
	int			top;
	Datum		values[7];
	SPIPlanPtr	plan;

	if (limit <= 0)
		return;
	/* used / limit >= p / 100 for every whole p up to top, without rounding */
	top = used >= limit ? 100 : (int) (used * 100 / limit);
	for (int p = 1; p <= top; p++)
		if (thresholds->bits[p / 64] & (UINT64CONST(1) << (p % 64)))
			reached[n++] = Int32GetDatum(p);
	if (n == 0)
		return;

	/*
	 * Ascending: every session records the thresholds a charge reached in
	 * the same order, so two charges never wait for each other's rows
	 * crosswise.
	 */
	values[0] = CStringGetTextDatum(account);
	values[1] = CStringGetTextDatum(fc_kind_name(kind));
	values[2] = TimestampTzGetDatum(start);
	values[3] = PointerGetDatum(construct_array(reached, n, INT4OID, sizeof(int32), true, TYPALIGN_INT));
	values[4] = Int64GetDatum(used);
	values[5] = Int64GetDatum(limit);
	values[6] = TimestampTzGetDatum(end);
	if (thresholds->of_plan)
		plan = fc_plan(account, &plan_figures,
					   "WITH sent AS ("
					   "  INSERT INTO fluxcredits.alerts_sent"
					   "         (account, kind, period_start, threshold, used, \"limit\", period_end)"
					   "  SELECT $1, $2::fluxcredits.credit_kind, $3, t, $5, $6, $7 FROM unnest($4) AS t"
					   ALERTS_SENT_PAYLOADS,
					   7, types);
	else
		plan = fc_plan(account, &plan_plain,
					   "WITH sent AS ("
					   "  INSERT INTO fluxcredits.alerts_sent (account, kind, period_start, threshold)"
					   "  SELECT $1, $2::fluxcredits.credit_kind, $3, t FROM unnest($4) AS t"
					   ALERTS_SENT_PAYLOADS,
					   7, types);
	if (SPI_execute_plan(plan, values, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "fluxcredits: recording usage alerts failed");
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		Datum		d = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull);

		alert_pending(TextDatumGetCString(d));
	}
}
