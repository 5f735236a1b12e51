/*-------------------------------------------------------------------------
 *
 * trigger.c
 *	  fluxcredits.charge(): a BEFORE INSERT FOR EACH ROW trigger that charges
 *	  a credit for every row inserted into one of the app's own tables, in
 *	  the same transaction as the insert.
 *
 *	  CREATE TRIGGER charge_compression BEFORE INSERT ON images
 *	  FOR EACH ROW EXECUTE FUNCTION
 *	  fluxcredits.charge('compression', 'account_id', 'id');
 *
 * Arguments: the credit kind, the column holding the account (any type: its
 * text form is the account), and optionally the columns holding the image
 * reference, the idempotency key, and a bigint column into which the charge
 * id is written; '' skips an optional one.  A row that does not fit raises
 * the "not enough credits" error (FC001), which rejects the insert; a
 * rolled-back insert leaves no charge, since the charge is part of it.
 *
 *-------------------------------------------------------------------------
 */
#include "fluxcredits.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/pg_type_d.h"
#include "commands/trigger.h"
#include "utils/rel.h"

/* The trigger's argument n as a column number of the table; 0 when skipped. */
static int
trigger_column(Trigger *trigger, Relation rel, int n, const char *role)
{
	const char *name;
	int			attnum;

	if (n >= trigger->tgnargs || trigger->tgargs[n][0] == '\0')
		return 0;
	name = trigger->tgargs[n];
	attnum = SPI_fnumber(RelationGetDescr(rel), name);
	if (attnum <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("column \"%s\" named as the %s column by trigger \"%s\" does not exist in table \"%s\"",
						name, role, trigger->tgname, RelationGetRelationName(rel)),
				 errhint("The arguments are: kind, account column, and optionally image column, idempotency key column, charge id column.")));
	return attnum;
}

/* The text form of column attnum of tuple, checked like an argument. */
static char *
column_text(HeapTuple tuple, Relation rel, int attnum, const char *what,
			int maxlen, bool required)
{
	char	   *value = SPI_getvalue(tuple, RelationGetDescr(rel), attnum);

	return fc_check_identifier(value, what, maxlen, required);
}

/* charge(): BEFORE INSERT FOR EACH ROW trigger charging one credit per row */
PG_FUNCTION_INFO_V1(fc_charge_trigger);
Datum
fc_charge_trigger(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	Trigger    *trigger;
	Relation	rel;
	HeapTuple	tuple;
	FcCharge	req;
	int			account_col,
				image_col,
				key_col,
				charge_col;
	int64		charge;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("fluxcredits.charge() must be called as a trigger"),
				 errhint("Create it with CREATE TRIGGER ... BEFORE INSERT ... FOR EACH ROW, or with fluxcredits.attach().")));
	trigger = trigdata->tg_trigger;
	rel = trigdata->tg_relation;
	if (!TRIGGER_FIRED_BEFORE(trigdata->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(trigdata->tg_event) ||
		!TRIGGER_FIRED_BY_INSERT(trigdata->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("trigger \"%s\" on table \"%s\" must be fired BEFORE INSERT FOR EACH ROW",
						trigger->tgname, RelationGetRelationName(rel)),
				 errdetail("fluxcredits.charge() charges a credit for each inserted row.")));
	if (trigger->tgnargs < 2 || trigger->tgnargs > 5)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg_plural("trigger \"%s\" on table \"%s\" has %d argument; fluxcredits.charge() takes 2 to 5",
							   "trigger \"%s\" on table \"%s\" has %d arguments; fluxcredits.charge() takes 2 to 5",
							   trigger->tgnargs,
							   trigger->tgname, RelationGetRelationName(rel), trigger->tgnargs),
				 errhint("The arguments are: kind, account column, and optionally image column, idempotency key column, charge id column.")));

	if (strcmp(trigger->tgargs[0], "compression") == 0)
		req.kind = FC_KIND_COMPRESSION;
	else if (strcmp(trigger->tgargs[0], "ai") == 0)
		req.kind = FC_KIND_AI;
	else
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("trigger \"%s\" on table \"%s\" names unknown credit kind \"%s\"",
						trigger->tgname, RelationGetRelationName(rel), trigger->tgargs[0]),
				 errhint("The first argument is 'compression' or 'ai'.")));
	account_col = trigger_column(trigger, rel, 1, "account");
	if (account_col == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("trigger \"%s\" on table \"%s\" names no account column",
						trigger->tgname, RelationGetRelationName(rel))));
	image_col = trigger_column(trigger, rel, 2, "image");
	key_col = trigger_column(trigger, rel, 3, "idempotency key");
	charge_col = trigger_column(trigger, rel, 4, "charge id");
	if (charge_col != 0 &&
		TupleDescAttr(RelationGetDescr(rel), charge_col - 1)->atttypid != INT8OID)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("charge id column \"%s\" of table \"%s\" must be of type bigint",
						trigger->tgargs[4], RelationGetRelationName(rel))));

	tuple = trigdata->tg_trigtuple;
	req.account = column_text(tuple, rel, account_col, "account", FC_MAX_ACCOUNT_LEN, true);
	req.amount = 1;
	req.image = image_col ? column_text(tuple, rel, image_col, "image", FC_MAX_IMAGE_LEN, false) : NULL;
	req.key = key_col ? column_text(tuple, rel, key_col, "idempotency_key", FC_MAX_KEY_LEN, false) : NULL;
	req.at = GetCurrentTransactionStartTimestamp();
	req.hold = false;
	fc_check_charge(&req);

	charge = fc_consume(&req, true);

	if (charge_col != 0)
	{
		Datum		value = Int64GetDatum(charge);
		bool		isnull = false;

		tuple = heap_modify_tuple_by_cols(tuple, RelationGetDescr(rel), 1,
										  &charge_col, &value, &isnull);
	}
	return PointerGetDatum(tuple);
}

/* charge() under the name of its 1.2 definition: see fc_credits_consume_1_2. */
PG_FUNCTION_INFO_V1(fc_charge_trigger_1_2);
Datum
fc_charge_trigger_1_2(PG_FUNCTION_ARGS)
{
	return fc_charge_trigger(fcinfo);
}

/* charge() under the name of its 1.3 definition: see fc_credits_consume_1_3. */
PG_FUNCTION_INFO_V1(fc_charge_trigger_1_3);
Datum
fc_charge_trigger_1_3(PG_FUNCTION_ARGS)
{
	return fc_charge_trigger(fcinfo);
}
