/*-------------------------------------------------------------------------
 *
 * alerts.c
 *	  Usage alerts: when a charge takes an account's monthly compression or
 *	  AI usage to or past a threshold (fluxcredits.alert_thresholds, percent
 *	  of the plan's monthly limit; 80 and 100 by default), send
 *	  NOTIFY fluxcredits_alert with a JSON payload.
 *
 * Each threshold fires at most once per account, kind and period: the
 * charge that first finds usage at or past it inserts a row into
 * fluxcredits.alerts_sent (a concurrent charge waits on that row's unique
 * key, then finds it and stays quiet) and notifies in the same transaction.
 * NOTIFY is delivered at commit only, and the row goes away with a rollback,
 * so a rolled-back charge neither alerts nor uses up its threshold.
 * Unlimited kinds have no thresholds.
 *
 *-------------------------------------------------------------------------
 */
#include "fluxcredits.h"

#include "catalog/pg_type_d.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/varlena.h"

#define FC_MAX_THRESHOLDS 16

static char *alert_thresholds_string = NULL;
static int	alert_thresholds[FC_MAX_THRESHOLDS] = {80, 100};
static int	alert_threshold_count = 2;

typedef struct ThresholdList
{
	int			count;
	int			values[FC_MAX_THRESHOLDS];
} ThresholdList;

static int
cmp_threshold(const void *a, const void *b)
{
	return *(const int *) a - *(const int *) b;
}

static bool
check_thresholds(char **newval, void **extra, GucSource source)
{
	char	   *raw = pstrdup(*newval);
	List	   *items;
	ListCell   *lc;
	ThresholdList *list;

	if (!SplitIdentifierString(raw, ',', &items))
	{
		GUC_check_errdetail("The value must be a comma-separated list of percentages.");
		return false;
	}
	(void) source;
	/* GUC extra data is malloc'd: the GUC machinery frees it with free() */
	list = (ThresholdList *) malloc(sizeof(ThresholdList));
	if (list == NULL)
	{
		GUC_check_errcode(ERRCODE_OUT_OF_MEMORY);
		return false;
	}
	list->count = 0;
	foreach(lc, items)
	{
		char	   *item = (char *) lfirst(lc);
		char	   *end;
		long		v = strtol(item, &end, 10);

		if (*item == '\0' || *end != '\0' || v < 1 || v > 100)
		{
			GUC_check_errdetail("\"%s\" is not a percentage from 1 to 100.", item);
			free(list);
			return false;
		}
		if (list->count == FC_MAX_THRESHOLDS)
		{
			GUC_check_errdetail("At most %d thresholds are allowed.", FC_MAX_THRESHOLDS);
			free(list);
			return false;
		}
		list->values[list->count++] = (int) v;
	}

	/*
	 * Ascending and without repeats, whatever the order given: every session
	 * then records the thresholds a charge reached in the same order, so two
	 * charges never wait for each other's alerts_sent rows crosswise.
	 */
	qsort(list->values, list->count, sizeof(int), cmp_threshold);
	{
		int			n = 0;

		for (int i = 0; i < list->count; i++)
			if (n == 0 || list->values[n - 1] != list->values[i])
				list->values[n++] = list->values[i];
		list->count = n;
	}
	*extra = list;
	return true;
}

static void
assign_thresholds(const char *newval, void *extra)
{
	ThresholdList *list = (ThresholdList *) extra;

	(void) newval;
	alert_threshold_count = list->count;
	memcpy(alert_thresholds, list->values, sizeof(int) * list->count);
}

void
fc_alerts_init(void)
{
	if (fc_guc_defined("fluxcredits.alert_thresholds"))
		return;
	DefineCustomStringVariable("fluxcredits.alert_thresholds",
							   "Percentages of a monthly limit at which NOTIFY fluxcredits_alert is sent.",
							   "A comma-separated list, for example '80,100'; an empty list sends no alert.",
							   &alert_thresholds_string,
							   "80,100",
							   PGC_USERSET, GUC_LIST_INPUT,
							   check_thresholds, assign_thresholds, NULL);
}

/*
 * After a charge of kind that left the period's monthly usage at used (of
 * limit): record and notify every threshold reached that was not yet sent.
 * Must be called inside SPI.
 */
void
fc_alert_after_charge(const char *account, FcKind kind, TimestampTz start,
					  TimestampTz end, int64 used, int64 limit)
{
	static SPIPlanPtr plan = NULL;
	static const Oid types[7] = {TEXTOID, TEXTOID, TIMESTAMPTZOID, INT4ARRAYOID,
	INT8OID, INT8OID, TIMESTAMPTZOID};
	Datum		reached[FC_MAX_THRESHOLDS];
	int			n = 0;
	Datum		values[7];

	if (limit <= 0)
		return;
	for (int i = 0; i < alert_threshold_count; i++)
	{
		/* used / limit >= t / 100, without rounding */
		if ((double) used * 100.0 >= (double) alert_thresholds[i] * (double) limit)
			reached[n++] = Int32GetDatum(alert_thresholds[i]);
	}
	if (n == 0)
		return;

	values[0] = CStringGetTextDatum(account);
	values[1] = CStringGetTextDatum(fc_kind_name(kind));
	values[2] = TimestampTzGetDatum(start);
	values[3] = PointerGetDatum(construct_array(reached, n, INT4OID, sizeof(int32), true, TYPALIGN_INT));
	values[4] = Int64GetDatum(used);
	values[5] = Int64GetDatum(limit);
	values[6] = TimestampTzGetDatum(end);
	if (SPI_execute_plan(fc_plan(&plan,
								 "WITH sent AS ("
								 "  INSERT INTO fluxcredits.alerts_sent (account, kind, period_start, threshold)"
								 "  SELECT $1, $2::fluxcredits.credit_kind, $3, t FROM unnest($4) AS t"
								 "  ON CONFLICT DO NOTHING"
								 "  RETURNING threshold)"
								 " SELECT pg_notify('fluxcredits_alert',"
								 "        json_build_object('account', $1, 'kind', $2, 'threshold', threshold,"
								 "                          'used', $5, 'limit', $6,"
								 "                          'period_start', $3, 'period_end', $7)::text)"
								 "   FROM sent ORDER BY threshold",
								 7, types),
						 values, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "fluxcredits: sending usage alerts failed");
}
