/*-------------------------------------------------------------------------
 *
 * trigger.c
 *	  fluxcredits.charge(): the trigger that charges a credit for every row
 *	  a statement inserts into one of the app's own tables, in the same
 *	  transaction as the insert.
 *
 *	  CREATE TRIGGER charge_compression AFTER INSERT ON images
 *	  REFERENCING NEW TABLE AS fluxcredits_inserted
 *	  FOR EACH STATEMENT EXECUTE FUNCTION
 *	  fluxcredits.charge('compression', 'account_id', 'id');
 *
 * Arguments: the credit kind, the column holding the account, and
 * optionally the columns holding the image reference, the idempotency key,
 * and a bigint column into which the charge id is written; '' skips an
 * optional one.
 *
 * The trigger runs once per statement, on the rows the statement inserted
 * (its transition table): a row that ON CONFLICT skipped or turned into an
 * update, or that another BEFORE trigger dropped, is not there, and rows
 * routed into partitions are, in the partitioned table's form.  The rows are
 * charged per account in account order: first the rows with an idempotency
 * key one by one (as credits_consume would), then the others as one charge
 * per account and kind (one limit check, one counter update) and one ledger
 * row per charged image.  AI rows are deduplicated by image within the
 * statement and against the period's earlier charges (dedupe.c), under one
 * lock on all the account's images of the period (advisory_locks.c).  A
 * statement whose charges do not fit raises the "not enough credits" error
 * (FC001), which undoes the whole statement.
 *
 * An AFTER trigger cannot change the rows, so a charge id column is filled
 * by a second, BEFORE INSERT FOR EACH ROW, trigger with the same arguments:
 * it gives each row the ledger id its charge will have, and the statement
 * trigger writes the ledger row of that id (a row that costs nothing, an AI
 * image already charged or a replayed key, gets a ledger row of its own that
 * names the charge covering it).  A row that ON CONFLICT skips leaves a gap
 * in the ledger's ids, as any sequence does.
 *
 * The account, image and key columns are read as text without the type's
 * output function where that depends on session settings: text, varchar,
 * char(n) (without its trailing blanks, as char(n) compares), smallint,
 * integer, bigint and uuid, and domains over them.  Other types are refused
 * when the trigger is created (fluxcredits._charge_ddl, an event trigger)
 * and, should one get past that, at the first insert.
 *
 * IDENTIFICATION
 *	  src/trigger.c
 *
 *-------------------------------------------------------------------------
 */
#include "fluxcredits.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/indexing.h"
#include "catalog/partition.h"
#include "catalog/pg_trigger.h"
#include "catalog/pg_type_d.h"
#include "commands/trigger.h"
#include "common/hashfn.h"
#include "executor/tuptable.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/tuplestore.h"
#include "utils/uuid.h"

#define CHARGE_ARGS_HINT \
	"The arguments are: kind, account column, and optionally image column, idempotency key column, charge id column."

/* How a column's value becomes the text of an account, image or key. */
typedef enum ColumnText
{
	CT_TEXT,					/* text, varchar */
	CT_BPCHAR,					/* char(n): trailing blanks dropped */
	CT_INT2,
	CT_INT4,
	CT_INT8,
	CT_UUID
} ColumnText;

typedef struct ChargeColumn
{
	AttrNumber	attnum;			/* 0: not given */
	ColumnText	how;
} ChargeColumn;

/* A charge() trigger's arguments, checked against its table. */
typedef struct ChargeTrigger
{
	FcKind		kind;
	ChargeColumn account;
	ChargeColumn image;
	ChargeColumn key;
	AttrNumber	charge_col;		/* 0: not given */
	bool		id_step;		/* the BEFORE ROW trigger filling charge_col */
	bool		bounded;		/* at must lie in the account's life (1.7) */
} ChargeTrigger;

/* The trigger's argument n as a column number of the table; 0 when skipped. */
static AttrNumber
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
				 errhint(CHARGE_ARGS_HINT)));
	return (AttrNumber) attnum;
}

/* The trigger's argument n as a column read as text (see ColumnText). */
static ChargeColumn
text_column(Trigger *trigger, Relation rel, int n, const char *role)
{
	ChargeColumn c = {.attnum = trigger_column(trigger, rel, n, role)};
	Form_pg_attribute att;
	Oid			base;

	if (c.attnum == 0)
		return c;
	att = TupleDescAttr(RelationGetDescr(rel), c.attnum - 1);
	base = getBaseType(att->atttypid);
	switch (base)
	{
		case TEXTOID:
		case VARCHAROID:
			c.how = CT_TEXT;
			break;
		case BPCHAROID:
			c.how = CT_BPCHAR;
			break;
		case INT2OID:
			c.how = CT_INT2;
			break;
		case INT4OID:
			c.how = CT_INT4;
			break;
		case INT8OID:
			c.how = CT_INT8;
			break;
		case UUIDOID:
			c.how = CT_UUID;
			break;
		default:
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("%s column \"%s\" of table \"%s\" is of type %s, which fluxcredits.charge() does not take",
							role, NameStr(att->attname), RelationGetRelationName(rel),
							format_type_be(att->atttypid)),
					 errdetail("The %s is the column's text, which must not depend on session settings: the column must be text, varchar, char(n), smallint, integer, bigint or uuid, or a domain over one of them.",
							   role),
					 errhint("Name a column of one of these types, or add one (a generated column can hold another column's value as text).")));
	}
	return c;
}

/*
 * Has rel a charge() trigger (an enabled one, with enabled) with trigger's
 * arguments in the other form: the statement trigger (want_id_step false)
 * or the charge id step?
 */
static bool
has_partner(Trigger *trigger, Relation rel, bool want_id_step, bool enabled)
{
	TriggerDesc *td = rel->trigdesc;

	for (int i = 0; td != NULL && i < td->numtriggers; i++)
	{
		Trigger    *t = &td->triggers[i];
		bool		same = t->tgfoid == trigger->tgfoid && t->tgoid != trigger->tgoid &&
			(!enabled || t->tgenabled != TRIGGER_DISABLED) && t->tgnargs == trigger->tgnargs;

		for (int a = 0; same && a < t->tgnargs; a++)
			same = strcmp(t->tgargs[a], trigger->tgargs[a]) == 0;
		if (!same)
			continue;
		if (want_id_step ? (TRIGGER_FOR_BEFORE(t->tgtype) && TRIGGER_FOR_ROW(t->tgtype) &&
							TRIGGER_FOR_INSERT(t->tgtype)) :
			(TRIGGER_FOR_AFTER(t->tgtype) && !TRIGGER_FOR_ROW(t->tgtype) &&
			 TRIGGER_FOR_INSERT(t->tgtype) && t->tgnewtable != NULL))
			return true;
	}
	return false;
}

/*
 * For a partition's charge id step: has one of its ancestors the statement
 * trigger (which charges the rows inserted through it and routed here)?
 */
static bool
ancestor_has_partner(Trigger *trigger, Relation rel, bool enabled)
{
	ListCell   *lc;
	bool		found = false;

	if (!rel->rd_rel->relispartition)
		return false;
	foreach(lc, get_partition_ancestors(RelationGetRelid(rel)))
	{
		Relation	parent = table_open(lfirst_oid(lc), AccessShareLock);

		found = has_partner(trigger, parent, false, enabled);
		table_close(parent, AccessShareLock);
		if (found)
			break;
	}
	return found;
}

/*
 * Check trigger (a charge() trigger on rel) and read its arguments: its
 * form, its kind, its columns and their types.  Errors name the trigger.
 */
static void
charge_trigger_read(Trigger *trigger, Relation rel, bool firing, ChargeTrigger *ct)
{
	int16		type = trigger->tgtype;
	bool		insert_only = TRIGGER_FOR_INSERT(type) && !TRIGGER_FOR_UPDATE(type) &&
		!TRIGGER_FOR_DELETE(type) && !TRIGGER_FOR_TRUNCATE(type);

	if (trigger->tgnargs < 2 || trigger->tgnargs > 5)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg_plural("trigger \"%s\" on table \"%s\" has %d argument; fluxcredits.charge() takes 2 to 5",
							   "trigger \"%s\" on table \"%s\" has %d arguments; fluxcredits.charge() takes 2 to 5",
							   trigger->tgnargs,
							   trigger->tgname, RelationGetRelationName(rel), trigger->tgnargs),
				 errhint(CHARGE_ARGS_HINT)));
	if (strcmp(trigger->tgargs[0], "compression") == 0)
		ct->kind = FC_KIND_COMPRESSION;
	else if (strcmp(trigger->tgargs[0], "ai") == 0)
		ct->kind = FC_KIND_AI;
	else
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("trigger \"%s\" on table \"%s\" names unknown credit kind \"%s\"",
						trigger->tgname, RelationGetRelationName(rel), trigger->tgargs[0]),
				 errhint("The first argument is 'compression' or 'ai'.")));
	if (trigger->tgargs[1][0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("trigger \"%s\" on table \"%s\" names no account column",
						trigger->tgname, RelationGetRelationName(rel)),
				 errhint(CHARGE_ARGS_HINT)));
	ct->account = text_column(trigger, rel, 1, "account");
	ct->image = text_column(trigger, rel, 2, "image");
	ct->key = text_column(trigger, rel, 3, "idempotency key");
	ct->charge_col = trigger_column(trigger, rel, 4, "charge id");
	if (ct->charge_col != 0 &&
		getBaseType(TupleDescAttr(RelationGetDescr(rel), ct->charge_col - 1)->atttypid) != INT8OID)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("charge id column \"%s\" of table \"%s\" must be of type bigint",
						trigger->tgargs[4], RelationGetRelationName(rel))));

	ct->id_step = TRIGGER_FOR_BEFORE(type) && TRIGGER_FOR_ROW(type) && insert_only &&
		ct->charge_col != 0;
	if (ct->id_step)
	{
		/*
		 * Without the statement trigger, nothing would be charged.  It must
		 * exist when the id step is created, and be enabled when it fires
		 * (both may be disabled, as DISABLE TRIGGER ALL does).
		 */
		if (!has_partner(trigger, rel, false, firing) &&
			!ancestor_has_partner(trigger, rel, firing))
			ereport(ERROR,
					(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
					 errmsg("trigger \"%s\" on table \"%s\" fills charge id column \"%s\", but no %strigger of the table charges the rows",
							trigger->tgname, RelationGetRelationName(rel), trigger->tgargs[4],
							firing ? "enabled " : ""),
					 errdetail("A BEFORE INSERT FOR EACH ROW trigger of fluxcredits.charge() only gives each row the id of its charge; the AFTER INSERT ... REFERENCING NEW TABLE ... FOR EACH STATEMENT trigger with the same arguments charges them."),
					 errhint("Create the statement trigger first.")));
		return;
	}
	if (!(TRIGGER_FOR_AFTER(type) && !TRIGGER_FOR_ROW(type) && insert_only &&
		  trigger->tgnewtable != NULL))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("trigger \"%s\" on table \"%s\" must be AFTER INSERT ... REFERENCING NEW TABLE ... FOR EACH STATEMENT",
						trigger->tgname, RelationGetRelationName(rel)),
				 errdetail("fluxcredits.charge() charges the rows a statement inserted, once the statement has inserted them%s.",
						   ct->charge_col != 0 ? "; with a charge id column, a BEFORE INSERT FOR EACH ROW trigger with the same arguments fills it" : ""),
				 errhint("CREATE TRIGGER %s AFTER INSERT ON %s REFERENCING NEW TABLE AS fluxcredits_inserted FOR EACH STATEMENT EXECUTE FUNCTION fluxcredits.charge(...), or use fluxcredits.attach().",
						 quote_identifier(trigger->tgname),
						 quote_qualified_identifier(get_namespace_name(RelationGetNamespace(rel)),
													RelationGetRelationName(rel)))));
}

/* The text of a column's value (see ColumnText), NULL for SQL NULL. */
static char *
column_text(TupleTableSlot *slot, ChargeColumn c)
{
	bool		isnull;
	Datum		d;

	if (c.attnum == 0)
		return NULL;
	d = slot_getattr(slot, c.attnum, &isnull);
	if (isnull)
		return NULL;
	switch (c.how)
	{
		case CT_TEXT:
			return TextDatumGetCString(d);
		case CT_BPCHAR:
			{
				char	   *s = TextDatumGetCString(d);
				int			len = strlen(s);

				while (len > 0 && s[len - 1] == ' ')
					len--;
				s[len] = '\0';
				return s;
			}
		case CT_INT2:
			return psprintf("%d", (int) DatumGetInt16(d));
		case CT_INT4:
			return psprintf("%d", DatumGetInt32(d));
		case CT_INT8:
			return psprintf(INT64_FORMAT, DatumGetInt64(d));
		case CT_UUID:
			return DatumGetCString(DirectFunctionCall1(uuid_out, d));
	}
	return NULL;				/* not reached */
}

/* One inserted row, as charged. */
typedef struct ChargeRow
{
	char	   *account;
	char	   *image;			/* NULL: none */
	char	   *key;			/* NULL: none */
	int64		id;				/* from the charge id column; 0: none */
	int			seq;			/* its place in the statement */
} ChargeRow;

static int
charge_row_cmp(const void *x, const void *y)
{
	const ChargeRow *a = (const ChargeRow *) x;
	const ChargeRow *b = (const ChargeRow *) y;
	int			c = strcmp(a->account, b->account);

	if (c != 0)
		return c;
	return (a->seq > b->seq) - (a->seq < b->seq);
}

/* The statement's images, a hash table of FcImageEntry keyed by pointer. */
static uint32
image_hash(const void *key, Size keysize)
{
	const char *s = *(const char *const *) key;

	(void) keysize;
	return hash_bytes((const unsigned char *) s, strlen(s));
}

static int
image_match(const void *k1, const void *k2, Size keysize)
{
	(void) keysize;
	return strcmp(*(const char *const *) k1, *(const char *const *) k2);
}

/* Write one row's ledger row. */
static int64
write_row(const ChargeRow *r, FcKind kind, TimestampTz at, TimestampTz start,
		  int32 monthly, int32 topup, int64 covering)
{
	FcLedgerRow row = {
		.at = at,
		.account = r->account,
		.entry = "consume",
		.has_kind = true,
		.kind = kind,
		.has_period = true,
		.period_start = start,
		.monthly = monthly,
		.topup = topup,
		.image = r->image,
		.key = NULL,
		.has_charge = covering != 0,
		.charge = covering,
		.id = r->id
	};

	return fc_ledger_insert(&row);
}

/*
 * Charge the rows without an idempotency key of one account, rows[0..n) in
 * statement order: one count of the credits they need, then their ledger
 * rows, the first ones drawn from the monthly allocation, the rest from the
 * top-up balance (as one charge of that many credits would draw them).
 */
static void
charge_account_rows(FcKind kind, ChargeRow *rows, int n, TimestampTz at,
					bool bounded)
{
	FcCharge	req = {0};
	FcAccount	acc;
	TimestampTz start,
				end;
	HTAB	   *images = NULL;
	int64		charged = 0;
	int64		monthly = 0,
				topup = 0,
				written = 0;

	CommandCounterIncrement();
	fc_account_load(rows[0].account, GetTransactionSnapshot(), &acc);
	if (bounded)
		fc_check_clock(rows[0].account, acc.anchor,
					   acc.has_anchor_since ? &acc.anchor_since : NULL, at);
	fc_account_period(&acc, at, true, &start, &end);

	if (kind == FC_KIND_AI)
	{
		Datum	   *list = palloc(sizeof(Datum) * n);
		int			nlist = 0;

		for (int i = 0; i < n; i++)
		{
			FcImageEntry *e;
			bool		found;

			if (rows[i].image == NULL)
				continue;
			if (images == NULL)
			{
				HASHCTL		ctl = {.keysize = sizeof(char *),
					.entrysize = sizeof(FcImageEntry),
					.hash = image_hash,
					.match = image_match,
				.hcxt = CurrentMemoryContext};

				images = hash_create("fluxcredits statement images", Max(n, 16), &ctl,
									 HASH_ELEM | HASH_FUNCTION | HASH_COMPARE | HASH_CONTEXT);
			}
			e = hash_search(images, &rows[i].image, HASH_ENTER, &found);
			if (!found)
			{
				e->covering = 0;
				list[nlist++] = CStringGetTextDatum(rows[i].image);
			}
		}
		if (nlist > 0)
		{
			fc_lock_images(rows[0].account, start);
			CommandCounterIncrement();
			fc_find_covering_charges(rows[0].account, start, at, images, list, nlist);
		}
	}

	/* the credits the rows need: every row but an image already covered */
	for (int i = 0; i < n; i++)
	{
		FcImageEntry *e;

		if (images != NULL && rows[i].image != NULL)
		{
			e = hash_search(images, &rows[i].image, HASH_FIND, NULL);
			if (e->covering != 0)
				continue;
			e->covering = -1;	/* charged by this row */
		}
		charged++;
	}
	if (images != NULL)
	{
		/* back to "not yet written" for the pass that writes */
		HASH_SEQ_STATUS seq;
		FcImageEntry *e;

		hash_seq_init(&seq, images);
		while ((e = hash_seq_search(&seq)) != NULL)
			if (e->covering == -1)
				e->covering = 0;
	}

	if (charged > 0)
	{
		if (charged > PG_INT32_MAX)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("one statement may charge at most %d credits to one account",
							PG_INT32_MAX)));
		req.account = rows[0].account;
		req.kind = kind;
		req.amount = (int32) charged;
		req.at = at;
		req.batch = true;
		fc_count(&req, &acc, start, end, true, &monthly, &topup);
	}

	for (int i = 0; i < n; i++)
	{
		FcImageEntry *e = NULL;

		if (images != NULL && rows[i].image != NULL)
		{
			e = hash_search(images, &rows[i].image, HASH_FIND, NULL);
			if (e->covering != 0)
			{
				/* covered: a ledger row only to give the charge id a row */
				if (rows[i].id != 0)
					write_row(&rows[i], kind, at, start, 0, 0, e->covering);
				continue;
			}
		}
		{
			/* the first ones from the monthly allocation, as fc_count drew them */
			int64		id = written < monthly ?
				write_row(&rows[i], kind, at, start, 1, 0, 0) :
				write_row(&rows[i], kind, at, start, 0, -1, 0);

			if (e != NULL)
				e->covering = id;
		}
		written++;
	}
	Assert(written == charged);
}

/* The statement trigger: charge the rows in its transition table. */
static void
charge_statement(TriggerData *trigdata, const ChargeTrigger *ct)
{
	Relation	rel = trigdata->tg_relation;
	Tuplestorestate *store = trigdata->tg_newtable;
	TupleTableSlot *slot;
	ChargeRow  *rows = NULL;
	int			n = 0,
				max = 0;
	TimestampTz at = GetCurrentTransactionStartTimestamp();

	/* an id the app gave could be any number: only the id step's are taken */
	if (ct->charge_col != 0 && !has_partner(trigdata->tg_trigger, rel, true, true))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("trigger \"%s\" on table \"%s\" charges into charge id column \"%s\", but no enabled trigger of the table fills it",
						trigdata->tg_trigger->tgname, RelationGetRelationName(rel),
						trigdata->tg_trigger->tgargs[4]),
				 errdetail("A BEFORE INSERT FOR EACH ROW trigger of fluxcredits.charge() with the same arguments gives each row the id of its charge."),
				 errhint("Create that trigger, or leave the charge id column out.")));

	/* before anything is locked, as credits_consume */
	fc_check_writable("charge credits");

	slot = MakeSingleTupleTableSlot(RelationGetDescr(rel), &TTSOpsMinimalTuple);
	tuplestore_rescan(store);
	while (tuplestore_gettupleslot(store, true, false, slot))
	{
		ChargeRow  *r;

		if (n == max)
		{
			max = Max(64, 2 * max);
			rows = rows ? repalloc_huge(rows, sizeof(ChargeRow) * max)
				: palloc(sizeof(ChargeRow) * max);
		}
		r = &rows[n];
		r->seq = n++;
		r->account = fc_check_identifier(column_text(slot, ct->account), "account",
										 FC_MAX_ACCOUNT_LEN, true);
		r->image = fc_check_identifier(column_text(slot, ct->image), "image",
									   FC_MAX_IMAGE_LEN, false);
		r->key = fc_check_identifier(column_text(slot, ct->key), "idempotency_key",
									 FC_MAX_KEY_LEN, false);
		r->id = 0;
		if (ct->charge_col != 0)
		{
			bool		isnull;
			Datum		d = slot_getattr(slot, ct->charge_col, &isnull);

			if (isnull || DatumGetInt64(d) <= 0)
				ereport(ERROR,
						(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
						 errmsg("an inserted row of table \"%s\" has no charge id",
								RelationGetRelationName(rel)),
						 errdetail("Trigger \"%s\" charges into charge id column \"%s\", which a BEFORE INSERT FOR EACH ROW trigger with the same arguments fills.",
								   trigdata->tg_trigger->tgname, trigdata->tg_trigger->tgargs[4]),
						 errhint("Create that trigger, or leave the charge id column out.")));
			r->id = DatumGetInt64(d);
		}
	}
	ExecDropSingleTupleTableSlot(slot);
	if (n == 0)
		return;

	/* accounts in one order, so that two statements wait rather than deadlock */
	if (n > 1)
		qsort(rows, n, sizeof(ChargeRow), charge_row_cmp);

	fc_safe_path_push();
	SPI_connect();
	for (int first = 0; first < n;)
	{
		int			end = first;
		int			nplain = 0;

		while (end < n && strcmp(rows[end].account, rows[first].account) == 0)
			end++;
		/* the rows with a key, one by one, as credits_consume charges them */
		for (int i = first; i < end; i++)
		{
			FcCharge	req = {0};

			if (rows[i].key == NULL)
			{
				rows[first + nplain++] = rows[i];
				continue;
			}
			req.account = rows[i].account;
			req.kind = ct->kind;
			req.amount = 1;
			req.image = rows[i].image;
			req.key = rows[i].key;
			req.at = at;
			req.id = rows[i].id;
			req.bounded = ct->bounded;
			fc_check_charge(&req);
			(void) fc_consume(&req, true);
		}
		if (nplain > 0)
			charge_account_rows(ct->kind, &rows[first], nplain, at, ct->bounded);
		first = end;
	}
	SPI_finish();
	fc_safe_path_pop();
}

/* The charge id step: give the row the ledger id its charge will have. */
static HeapTuple
charge_id_step(TriggerData *trigdata, const ChargeTrigger *ct)
{
	/* the account's node's sequence (on Citus, the shard that holds it there) */
	char	   *account = SPI_getvalue(trigdata->tg_trigtuple,
									   RelationGetDescr(trigdata->tg_relation),
									   ct->account.attnum);
	Datum		value = Int64GetDatum(fc_ledger_next_id(account));
	bool		isnull = false;
	int			col = ct->charge_col;

	return heap_modify_tuple_by_cols(trigdata->tg_trigtuple,
									 RelationGetDescr(trigdata->tg_relation), 1,
									 &col, &value, &isnull);
}

/*
 * charge(): the trigger charging one credit per inserted row.  bounded: as
 * 1.7 defines it, at (now()) must lie in the account's life.
 */
static Datum
charge_trigger(FunctionCallInfo fcinfo, bool bounded)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	ChargeTrigger ct;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("fluxcredits.charge() must be called as a trigger"),
				 errhint("Create it with fluxcredits.attach(), or with CREATE TRIGGER ... AFTER INSERT ... REFERENCING NEW TABLE ... FOR EACH STATEMENT.")));
	charge_trigger_read(trigdata->tg_trigger, trigdata->tg_relation, true, &ct);
	ct.bounded = bounded;
	if (ct.id_step)
		return PointerGetDatum(charge_id_step(trigdata, &ct));
	charge_statement(trigdata, &ct);
	return PointerGetDatum(NULL);
}

/* charge() as 1.6 defines it */
PG_FUNCTION_INFO_V1(fc_charge_trigger_1_6);
Datum
fc_charge_trigger_1_6(PG_FUNCTION_ARGS)
{
	return charge_trigger(fcinfo, false);
}

/* charge() as 1.7 defines it */
PG_FUNCTION_INFO_V1(fc_charge_trigger_1_7);
Datum
fc_charge_trigger_1_7(PG_FUNCTION_ARGS)
{
	return charge_trigger(fcinfo, true);
}

/*
 * charge() as 1.2 to 1.5 define it: a BEFORE INSERT FOR EACH ROW trigger
 * charging each row as it comes, kept so that this library serves an
 * install of those versions as they behaved until ALTER EXTENSION UPDATE
 * moves their triggers to the statement form (sql/fluxcredits--1.5--1.6.sql).
 */
static Datum
charge_row_1_5(FunctionCallInfo fcinfo)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	Trigger    *trigger = trigdata->tg_trigger;
	Relation	rel = trigdata->tg_relation;
	HeapTuple	tuple = trigdata->tg_trigtuple;
	TupleDesc	desc = RelationGetDescr(rel);
	FcCharge	req = {0};
	ChargeTrigger ct;
	int64		charge;

	if (trigger->tgnargs < 2 || trigger->tgnargs > 5 ||
		(strcmp(trigger->tgargs[0], "compression") != 0 && strcmp(trigger->tgargs[0], "ai") != 0) ||
		trigger->tgargs[1][0] == '\0')
		charge_trigger_read(trigger, rel, true, &ct);	/* raises the argument's error */
	req.kind = strcmp(trigger->tgargs[0], "ai") == 0 ? FC_KIND_AI : FC_KIND_COMPRESSION;
	ct.account.attnum = trigger_column(trigger, rel, 1, "account");
	ct.image.attnum = trigger_column(trigger, rel, 2, "image");
	ct.key.attnum = trigger_column(trigger, rel, 3, "idempotency key");
	ct.charge_col = trigger_column(trigger, rel, 4, "charge id");
	if (ct.charge_col != 0 && TupleDescAttr(desc, ct.charge_col - 1)->atttypid != INT8OID)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("charge id column \"%s\" of table \"%s\" must be of type bigint",
						trigger->tgargs[4], RelationGetRelationName(rel))));

	req.account = fc_check_identifier(SPI_getvalue(tuple, desc, ct.account.attnum),
									  "account", FC_MAX_ACCOUNT_LEN, true);
	req.amount = 1;
	req.image = ct.image.attnum ? fc_check_identifier(SPI_getvalue(tuple, desc, ct.image.attnum),
													  "image", FC_MAX_IMAGE_LEN, false) : NULL;
	req.key = ct.key.attnum ? fc_check_identifier(SPI_getvalue(tuple, desc, ct.key.attnum),
												  "idempotency_key", FC_MAX_KEY_LEN, false) : NULL;
	req.at = GetCurrentTransactionStartTimestamp();
	fc_check_charge(&req);
	charge = fc_consume(&req, true);
	if (ct.charge_col != 0)
	{
		Datum		value = Int64GetDatum(charge);
		bool		isnull = false;
		int			col = ct.charge_col;

		tuple = heap_modify_tuple_by_cols(tuple, desc, 1, &col, &value, &isnull);
	}
	return PointerGetDatum(tuple);
}

static Datum
charge_trigger_1_5(FunctionCallInfo fcinfo)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;

	if (CALLED_AS_TRIGGER(fcinfo) &&
		TRIGGER_FIRED_BEFORE(trigdata->tg_event) &&
		TRIGGER_FIRED_FOR_ROW(trigdata->tg_event) &&
		TRIGGER_FIRED_BY_INSERT(trigdata->tg_event))
		return charge_row_1_5(fcinfo);
	return charge_trigger(fcinfo, false);
}

/* charge() under the name of its 1.0 and 1.1 definitions. */
PG_FUNCTION_INFO_V1(fc_charge_trigger);
Datum
fc_charge_trigger(PG_FUNCTION_ARGS)
{
	return charge_trigger_1_5(fcinfo);
}

/* charge() under the name of its 1.2 definition: see fc_credits_consume_1_2. */
PG_FUNCTION_INFO_V1(fc_charge_trigger_1_2);
Datum
fc_charge_trigger_1_2(PG_FUNCTION_ARGS)
{
	return charge_trigger_1_5(fcinfo);
}

/* charge() under the name of its 1.3 to 1.5 definitions: see fc_credits_consume_1_3. */
PG_FUNCTION_INFO_V1(fc_charge_trigger_1_3);
Datum
fc_charge_trigger_1_3(PG_FUNCTION_ARGS)
{
	return charge_trigger_1_5(fcinfo);
}

/*
 * _charge_trigger_check(trigger oid): raise the error that charge() would
 * raise at the first insert, for the event trigger that checks a charge()
 * trigger when it is created and its table when it is altered.
 */
PG_FUNCTION_INFO_V1(fc_charge_trigger_check);
Datum
fc_charge_trigger_check(PG_FUNCTION_ARGS)
{
	Oid			tgoid = PG_GETARG_OID(0);
	Relation	tgrel;
	SysScanDesc scan;
	ScanKeyData key;
	HeapTuple	tuple;
	Oid			relid = InvalidOid;
	Relation	rel;

	tgrel = table_open(TriggerRelationId, AccessShareLock);
	ScanKeyInit(&key, Anum_pg_trigger_oid, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(tgoid));
	scan = systable_beginscan(tgrel, TriggerOidIndexId, true, NULL, 1, &key);
	if ((tuple = systable_getnext(scan)) != NULL)
		relid = ((Form_pg_trigger) GETSTRUCT(tuple))->tgrelid;
	systable_endscan(scan);
	table_close(tgrel, AccessShareLock);
	if (!OidIsValid(relid))
		PG_RETURN_VOID();

	rel = table_open(relid, AccessShareLock);
	if (rel->trigdesc != NULL)
	{
		for (int i = 0; i < rel->trigdesc->numtriggers; i++)
		{
			Trigger    *trigger = &rel->trigdesc->triggers[i];
			ChargeTrigger ct;

			if (trigger->tgoid == tgoid)
				charge_trigger_read(trigger, rel, false, &ct);
		}
	}
	table_close(rel, AccessShareLock);
	PG_RETURN_VOID();
}
