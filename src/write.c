/*-------------------------------------------------------------------------
 *
 * write.c
 *	  The writes of a charge: one ledger row inserted, one counter slot's
 *	  "used" (and "topup_used") raised, and on a charge drawn from a
 *	  top-up, the account's "topup_balance" lowered; without the executor
 *	  where the table allows it, else through SQL.
 *
 * A charge is on every request of the app, and an SPI statement doing these
 * writes (an UPDATE of the slot, an INSERT into the ledger) spends most of
 * its time starting and ending the executor: opening and describing the
 * ledger's indexes, compiling their predicates and the counters' CHECK
 * constraints, building projections.  Here the rows are written with the
 * table access method and the index entries with index_insert(), as
 * PostgreSQL's own catalog code does, with what is built per relation
 * (column numbers, the identity sequence, the indexes' descriptions and
 * compiled predicates) kept for the life of the backend and dropped on any
 * invalidation of the relation.
 *
 * What this leaves out of a SQL INSERT/UPDATE, and why it does not matter:
 *	- triggers: the ledger has none on INSERT, counters and accounts none
 *	  but their foreign keys', which an UPDATE that keeps the keys does not
 *	  fire; if a DBA adds one (or a rule, or row-level security), the write
 *	  goes through SQL instead (build_ledger_shape, update_direct_ok);
 *	- CHECK constraints: an updated row is checked against its table's,
 *	  compiled once (the executor rebuilds them on every UPDATE); a ledger
 *	  with CHECK constraints or extra columns goes through SQL;
 *	- an index with an exclusion constraint or a deferrable unique one, or
 *	  not yet ready for inserts, gets its entries from the executor's
 *	  routine (ExecInsertIndexTuples); expression indexes (the hash index
 *	  on counters is one) are computed here with FormIndexDatum, as the
 *	  executor computes them;
 *	- permissions: the callers run as the extension's owner (SECURITY
 *	  DEFINER), who owns the tables.
 * Unique indexes are checked by index_insert() as the executor would (the
 * same "duplicate key" error), and the writes are WAL-logged and counted in
 * the statistics as any other.
 *
 * IDENTIFICATION
 *	  src/write.c
 *
 *-------------------------------------------------------------------------
 */
#include "fluxcredits.h"

#include "access/genam.h"
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/dependency.h"
#include "catalog/index.h"
#include "catalog/pg_trigger.h"
#include "catalog/pg_type_d.h"
#include "commands/sequence.h"
#include "commands/trigger.h"
#include "common/int.h"
#include "executor/executor.h"
#include "nodes/makefuncs.h"
#include "optimizer/optimizer.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"

/* The ledger's columns, in the order of FcLedgerRow and the SQL below. */
enum
{
	L_ID, L_AT, L_ACCOUNT, L_ENTRY, L_KIND, L_PERIOD_START, L_MONTHLY, L_TOPUP,
	L_IMAGE, L_KEY, L_REFERENCE, L_CHARGE, L_NCOLS
};
static const char *const ledger_columns[L_NCOLS] = {
	"id", "at", "account", "entry", "kind", "period_start", "monthly", "topup",
	"image", "idempotency_key", "reference", "charge"
};

/* One index of a relation, described once (see RelIndexes). */
typedef struct IndexEntry
{
	Oid			indexid;
	IndexInfo  *info;
	ExprState  *predicate;		/* NULL: not partial */
} IndexEntry;

/*
 * A relation's indexes, described and with compiled predicates, and its
 * CHECK constraints, compiled.
 */
typedef struct RelIndexes
{
	Oid			relid;			/* InvalidOid: not built (or invalidated) */
	bool		plain;			/* every index can be written here */
	int			n;
	IndexEntry *entries;
	int			nchecks;
	ExprState **checks;
	char	  **check_names;
	EState	   *estate;			/* its per-tuple context evaluates the
								 * predicates and expressions */
	MemoryContext cxt;
} RelIndexes;

/* What is kept of the ledger. */
typedef struct LedgerShape
{
	Oid			relid;			/* InvalidOid: not built (or invalidated) */
	bool		direct;			/* rows may be written here */
	int			natts;
	AttrNumber	attnos[L_NCOLS];
	Oid			seqid;
	Oid			kind_type;
	Oid			entry_type;
	Oid			kind_values[2]; /* FC_KIND_COMPRESSION, FC_KIND_AI */
	Oid			entry_consume;	/* the ledger_entry labels a charge writes */
	Oid			entry_hold;
} LedgerShape;

/* Whether a table's rows may be updated here (see update_direct_ok). */
typedef struct DirectOk
{
	Oid			relid;			/* InvalidOid: not checked (or invalidated) */
	bool		ok;
} DirectOk;

/*
 * Kept per relation: one, on a single node; on a Citus node, one per shard
 * of the table there (citus.c), by the shard's OID.  A slot taken by
 * another shard is built again.
 */
#define FC_REL_SLOTS 64
#define FC_REL_SLOT(cache, rel) (&(cache)[RelationGetRelid(rel) % FC_REL_SLOTS])

static LedgerShape ledger_shape[FC_REL_SLOTS];
static RelIndexes ledger_indexes[FC_REL_SLOTS];
static RelIndexes counters_indexes[FC_REL_SLOTS];
static RelIndexes accounts_indexes[FC_REL_SLOTS];
static DirectOk counters_ok[FC_REL_SLOTS];
static DirectOk accounts_ok[FC_REL_SLOTS];
static bool callback_registered = false;
static uint64 inval_count = 0;	/* relcache invalidations seen */

static void
forget_indexes(RelIndexes *ri)
{
	ri->relid = InvalidOid;
	if (ri->cxt != NULL)
		MemoryContextDelete(ri->cxt);
	ri->cxt = NULL;
	ri->entries = NULL;
	ri->estate = NULL;
	ri->n = 0;
	ri->nchecks = 0;
	ri->checks = NULL;
	ri->check_names = NULL;
}

/* Mark *built_for not built when relid is that relation, or 0 (all). */
static inline void
forget_relid(Oid *built_for, Oid relid)
{
	if (!OidIsValid(relid) || relid == *built_for)
		*built_for = InvalidOid;
}

/*
 * Relation cache invalidation: forget what was built for that relation.
 * Only marked here (the descriptions may be in use: an invalidation can
 * arrive while an index is opened); build_indexes() frees them.  What was
 * being built when one arrived serves the call that built it and is built
 * again by the next (inval_count).
 */
static void
relcache_callback(Datum arg, Oid relid)
{
	(void) arg;
	inval_count++;
	for (int i = 0; i < FC_REL_SLOTS; i++)
	{
		forget_relid(&ledger_shape[i].relid, relid);
		forget_relid(&ledger_indexes[i].relid, relid);
		forget_relid(&counters_indexes[i].relid, relid);
		forget_relid(&accounts_indexes[i].relid, relid);
		forget_relid(&counters_ok[i].relid, relid);
		forget_relid(&accounts_ok[i].relid, relid);
	}
}

static void
register_callback(void)
{
	if (!callback_registered)
	{
		CacheRegisterRelcacheCallback(relcache_callback, (Datum) 0);
		callback_registered = true;
	}
}

/*
 * Describe rel's indexes once: IndexInfo and compiled predicate of each, in
 * a context of their own, and compile its CHECK constraints.  ri->plain is
 * false when an index needs what only the executor does (exclusion
 * constraints, a deferrable unique constraint) or is not yet valid for
 * inserts.  Expressions are evaluated in ri->estate, prepared on first use.
 */
static void
build_indexes(RelIndexes *ri, Relation rel)
{
	List	   *oids;
	ListCell   *lc;
	MemoryContext old;
	TupleConstr *constr;
	int			i = 0;
	uint64		seen;

	register_callback();
	forget_indexes(ri);
	seen = inval_count;
	ri->cxt = AllocSetContextCreate(TopMemoryContext, "fluxcredits index descriptions",
									ALLOCSET_SMALL_SIZES);
	old = MemoryContextSwitchTo(ri->cxt);
	oids = RelationGetIndexList(rel);
	ri->plain = true;
	ri->entries = palloc0(sizeof(IndexEntry) * Max(list_length(oids), 1));
	ri->estate = CreateExecutorState();
	foreach(lc, oids)
	{
		Oid			indexid = lfirst_oid(lc);
		Relation	index = index_open(indexid, AccessShareLock);
		IndexInfo  *info = BuildIndexInfo(index);
		IndexEntry *e = &ri->entries[i++];

		if (info->ii_ExclusionOps != NULL ||
			!info->ii_ReadyForInserts || !index->rd_index->indimmediate)
			ri->plain = false;
		e->indexid = indexid;
		e->info = info;
		if (info->ii_Predicate != NIL)
			e->predicate = ExecInitQual((List *) expression_planner((Expr *) info->ii_Predicate),
										NULL);
		index_close(index, AccessShareLock);
	}
	ri->n = i;
	constr = RelationGetDescr(rel)->constr;
	if (constr != NULL && constr->num_check > 0)
	{
		ri->nchecks = constr->num_check;
		ri->checks = palloc(sizeof(ExprState *) * ri->nchecks);
		ri->check_names = palloc(sizeof(char *) * ri->nchecks);
		for (int c = 0; c < ri->nchecks; c++)
		{
			/* as the executor does it (ExecRelCheck), but once */
			ri->checks[c] = ExecPrepareExpr((Expr *) stringToNode(constr->check[c].ccbin),
											ri->estate);
			ri->check_names[c] = pstrdup(constr->check[c].ccname);
		}
	}
	MemoryContextSwitchTo(old);
	ri->relid = seen == inval_count ? RelationGetRelid(rel) : InvalidOid;
}

/*
 * The index entries of the row in slot (just inserted into rel, or its new
 * version after an update that was not HOT), as the executor's
 * ExecInsertIndexTuples would make them for plain indexes.  Returns false,
 * having written nothing, when rel has an index that needs the executor.
 */
static bool
insert_index_entries(RelIndexes *ri, Relation rel, TupleTableSlot *slot)
{
	ExprContext *econtext;

	if (ri->relid != RelationGetRelid(rel))
		build_indexes(ri, rel);
	if (!ri->plain)
		return false;
	econtext = GetPerTupleExprContext(ri->estate);
	econtext->ecxt_scantuple = slot;
	for (int i = 0; i < ri->n; i++)
	{
		IndexEntry *e = &ri->entries[i];
		Relation	index;
		Datum		values[INDEX_MAX_KEYS];
		bool		isnull[INDEX_MAX_KEYS];
		bool		skip = false;

		if (e->predicate != NULL)
		{
			skip = !ExecQual(e->predicate, econtext);
			ResetExprContext(econtext);
		}
		if (skip)
			continue;
		/* the executor holds RowExclusiveLock on the indexes it writes */
		index = index_open(e->indexid, RowExclusiveLock);
		FormIndexDatum(e->info, slot, ri->estate, values, isnull);
		index_insert(index, values, isnull, &slot->tts_tid, rel,
					 index->rd_index->indisunique ? UNIQUE_CHECK_YES : UNIQUE_CHECK_NO,
					 false, e->info);
		ResetExprContext(econtext);
		index_close(index, NoLock);
	}
	econtext->ecxt_scantuple = NULL;
	return true;
}

/* The same with the executor's routine, for indexes insert_index_entries() cannot write. */
static void
insert_index_entries_executor(Relation rel, TupleTableSlot *slot)
{
	EState	   *estate = CreateExecutorState();
	ResultRelInfo *rri = makeNode(ResultRelInfo);
	List	   *recheck;

	InitResultRelInfo(rri, rel, 1, NULL, 0);
	ExecOpenIndices(rri, false);
	/*
	 * update = false even for an updated row's new version: with true, the
	 * executor looks the updated columns up in a range table, which this
	 * EState has none of, and crashes; the flag is only a hint to the
	 * btree's bottom-up deletion.
	 */
	recheck = ExecInsertIndexTuples(rri, slot, estate, false, false, NULL, NIL);
	if (recheck != NIL)
		elog(ERROR, "fluxcredits: deferred index checks on %s are not supported",
			 RelationGetRelationName(rel));
	ExecCloseIndices(rri);
	FreeExecutorState(estate);
}

/* Does rel have a trigger that fires on the event (TRIGGER_TYPE_INSERT or _UPDATE)? */
static bool
has_trigger(Relation rel, int16 event, bool ignore_foreign_keys)
{
	TriggerDesc *td = rel->trigdesc;

	if (td == NULL)
		return false;
	for (int i = 0; i < td->numtriggers; i++)
	{
		Trigger    *t = &td->triggers[i];

		if ((t->tgtype & event) == 0)
			continue;
		if (ignore_foreign_keys && RI_FKey_trigger_type(t->tgfoid) != RI_TRIGGER_NONE)
			continue;
		return true;
	}
	return false;
}

static Oid
enum_value(Oid typid, const char *label)
{
	return DatumGetObjectId(DirectFunctionCall2(enum_in, CStringGetDatum(label),
												ObjectIdGetDatum(typid)));
}

/* Build rel's ledger_shape: can its rows be written here, and how. */
static void
build_ledger_shape(Relation rel)
{
	LedgerShape *s = FC_REL_SLOT(ledger_shape, rel);
	TupleDesc	desc = RelationGetDescr(rel);
	int			live = 0;

	uint64		seen;

	register_callback();
	seen = inval_count;
	s->relid = InvalidOid;
	s->direct = false;
	s->natts = desc->natts;
	for (int i = 0; i < desc->natts; i++)
		if (!TupleDescAttr(desc, i)->attisdropped)
			live++;
	for (int c = 0; c < L_NCOLS; c++)
	{
		s->attnos[c] = get_attnum(RelationGetRelid(rel), ledger_columns[c]);
		if (s->attnos[c] == InvalidAttrNumber)
			elog(ERROR, "fluxcredits: column %s of fluxcredits.ledger does not exist",
				 ledger_columns[c]);
	}
	s->kind_type = TupleDescAttr(desc, s->attnos[L_KIND] - 1)->atttypid;
	s->entry_type = TupleDescAttr(desc, s->attnos[L_ENTRY] - 1)->atttypid;
	s->kind_values[FC_KIND_COMPRESSION] = enum_value(s->kind_type, "compression");
	s->kind_values[FC_KIND_AI] = enum_value(s->kind_type, "ai");
	s->entry_consume = enum_value(s->entry_type, "consume");
	s->entry_hold = enum_value(s->entry_type, "hold");
	s->seqid = getIdentitySequence(RelationGetRelid(rel), s->attnos[L_ID], true);
	if (!OidIsValid(s->seqid) && strcmp(RelationGetRelationName(rel), "ledger") != 0)
	{
		/*
		 * A Citus shard of the ledger (citus.c): its id column is no
		 * identity; ids come from the node's sequence of the table,
		 * fluxcredits.ledger_id_seq (given a range of its own per node by
		 * distribute()), as they do for SQL's INSERT on this node.
		 */
		Oid			shell = get_relname_relid("ledger", RelationGetNamespace(rel));

		if (OidIsValid(shell))
			s->seqid = getIdentitySequence(shell, get_attnum(shell, ledger_columns[L_ID]), true);
	}
	s->direct = live == L_NCOLS && OidIsValid(s->seqid) &&
		!has_trigger(rel, TRIGGER_TYPE_INSERT, false) &&
		(desc->constr == NULL || desc->constr->num_check == 0) &&
		rel->rd_rules == NULL && !rel->rd_rel->relrowsecurity &&
		rel->rd_rel->relkind == RELKIND_RELATION;
	s->relid = seen == inval_count ? RelationGetRelid(rel) : InvalidOid;
}

/* The row's values in the ledger's column order (SQL's $1..$12 below, id aside). */
static void
ledger_values(const FcLedgerRow *row, Datum *v, bool *n)
{
	for (int c = 0; c < L_NCOLS; c++)
		n[c] = false;
	v[L_AT] = TimestampTzGetDatum(row->at);
	v[L_ACCOUNT] = CStringGetTextDatum(row->account);
	v[L_PERIOD_START] = TimestampTzGetDatum(row->period_start);
	n[L_PERIOD_START] = !row->has_period;
	v[L_MONTHLY] = Int32GetDatum(row->monthly);
	v[L_TOPUP] = Int32GetDatum(row->topup);
	v[L_IMAGE] = row->image ? CStringGetTextDatum(row->image) : (Datum) 0;
	n[L_IMAGE] = row->image == NULL;
	v[L_KEY] = row->key ? CStringGetTextDatum(row->key) : (Datum) 0;
	n[L_KEY] = row->key == NULL;
	v[L_REFERENCE] = (Datum) 0;
	n[L_REFERENCE] = true;
	v[L_CHARGE] = Int64GetDatum(row->charge);
	n[L_CHARGE] = !row->has_charge;
}

/* The same row through SQL (a ledger this file cannot write to). */
static int64
ledger_insert_sql(const FcLedgerRow *row)
{
	static SPIPlanPtr plan = NULL;
	static SPIPlanPtr plan_id = NULL;
	static const Oid types[L_NCOLS] = {INT8OID, TIMESTAMPTZOID, TEXTOID, TEXTOID, TEXTOID,
		TIMESTAMPTZOID, INT4OID, INT4OID, TEXTOID, TEXTOID, TEXTOID, INT8OID};
	Datum		v[L_NCOLS];
	bool		n[L_NCOLS];
	char		nulls[L_NCOLS];
	int64		id;
	int			rc;

	ledger_values(row, v, n);
	v[L_ID] = Int64GetDatum(row->id);
	v[L_ENTRY] = CStringGetTextDatum(row->entry);
	v[L_KIND] = CStringGetTextDatum(fc_kind_name(row->kind));
	n[L_KIND] = !row->has_kind;
	for (int c = 0; c < L_NCOLS; c++)
		nulls[c] = n[c] ? 'n' : ' ';
	if (row->id == 0)
		rc = SPI_execute_plan(fc_plan(row->account, &plan,
									  "INSERT INTO fluxcredits.ledger"
									  "       (at, account, entry, kind, period_start, monthly, topup,"
									  "        image, idempotency_key, reference, charge)"
									  " VALUES ($1, $2, $3::fluxcredits.ledger_entry, $4::fluxcredits.credit_kind,"
									  "         $5, $6, $7, $8, $9, $10, $11)"
									  " RETURNING id",
									  L_NCOLS - 1, types + 1),
							  v + 1, nulls + 1, false, 0);
	else						/* the id the charge() trigger gave the row */
		rc = SPI_execute_plan(fc_plan(row->account, &plan_id,
									  "INSERT INTO fluxcredits.ledger"
									  "       (id, at, account, entry, kind, period_start, monthly, topup,"
									  "        image, idempotency_key, reference, charge)"
									  " OVERRIDING SYSTEM VALUE"
									  " VALUES ($1, $2, $3, $4::fluxcredits.ledger_entry, $5::fluxcredits.credit_kind,"
									  "         $6, $7, $8, $9, $10, $11, $12)"
									  " RETURNING id",
									  L_NCOLS, types),
							  v, nulls, false, 0);
	if (rc != SPI_OK_INSERT_RETURNING || SPI_processed != 1)
		elog(ERROR, "fluxcredits: ledger insert failed");
	fc_get_int64(1, &id);
	return id;
}

/*
 * Append row to the ledger.  Returns its id.  The caller is connected to
 * SPI (for a ledger that must be written through SQL).
 */
int64
fc_ledger_insert(const FcLedgerRow *row)
{
	Relation	rel = fc_table_open("ledger", row->account, RowExclusiveLock);
	LedgerShape *s = FC_REL_SLOT(ledger_shape, rel);
	RelIndexes *ri = FC_REL_SLOT(ledger_indexes, rel);
	TupleDesc	desc = RelationGetDescr(rel);
	TupleTableSlot *slot;
	Datum		v[L_NCOLS];
	bool		n[L_NCOLS];
	int64		id;

	if (s->relid != RelationGetRelid(rel))
		build_ledger_shape(rel);
	if (!s->direct || (ri->relid == RelationGetRelid(rel) && !ri->plain))
	{
		table_close(rel, NoLock);
		return ledger_insert_sql(row);
	}

	ledger_values(row, v, n);
	v[L_ENTRY] = ObjectIdGetDatum(strcmp(row->entry, "consume") == 0 ? s->entry_consume :
								  strcmp(row->entry, "hold") == 0 ? s->entry_hold :
								  enum_value(s->entry_type, row->entry));
	v[L_KIND] = ObjectIdGetDatum(row->has_kind ? s->kind_values[row->kind] : InvalidOid);
	n[L_KIND] = !row->has_kind;
	id = row->id != 0 ? row->id : nextval_internal(s->seqid, false);
	v[L_ID] = Int64GetDatum(id);

	slot = MakeSingleTupleTableSlot(desc, &TTSOpsVirtual);
	ExecClearTuple(slot);
	for (int i = 0; i < s->natts; i++)
		slot->tts_isnull[i] = true;
	for (int c = 0; c < L_NCOLS; c++)
	{
		slot->tts_values[s->attnos[c] - 1] = v[c];
		slot->tts_isnull[s->attnos[c] - 1] = n[c];
	}
	ExecStoreVirtualTuple(slot);
	table_tuple_insert(rel, slot, GetCurrentCommandId(true), 0, NULL);
	if (!insert_index_entries(ri, rel, slot))
		insert_index_entries_executor(rel, slot);
	ExecDropSingleTupleTableSlot(slot);
	table_close(rel, NoLock);
	return id;
}

/*
 * Write the ledger row of charge a in the period starting at start, monthly
 * and topup the parts drawn from the monthly allocation and from the top-up
 * balance; with covered, a row that charges nothing and names the charge
 * covering it (covering).  Returns its id.
 */
int64
fc_ledger_insert_charge(const FcCharge *a, TimestampTz start, int64 monthly,
						int64 topup, bool covered, int64 covering)
{
	FcLedgerRow row = {
		.at = a->at,
		.account = a->account,
		.entry = a->hold && !covered ? "hold" : "consume",
		.has_kind = true,
		.kind = a->kind,
		.has_period = true,
		.period_start = start,
		.monthly = (int32) monthly,
		.topup = (int32) -topup,
		.image = a->image,
		.key = a->key,
		.has_charge = covered,
		.charge = covering,
		.id = a->id
	};

	return fc_ledger_insert(&row);
}

/* The next id of the ledger's identity sequence (the charge() trigger's charge ids). */
int64
fc_ledger_next_id(const char *account)
{
	Relation	rel = fc_table_open("ledger", account, RowExclusiveLock);
	LedgerShape *s = FC_REL_SLOT(ledger_shape, rel);
	int64		id;

	if (s->relid != RelationGetRelid(rel))
		build_ledger_shape(rel);
	if (!OidIsValid(s->seqid))
		elog(ERROR, "fluxcredits: fluxcredits.ledger.id has no identity sequence");
	id = nextval_internal(s->seqid, false);
	table_close(rel, NoLock);
	return id;
}

/*
 * Can rows of rel (counters, accounts) be updated here?  Not when a DBA
 * added a trigger on UPDATE other than a foreign key's (which an update
 * that keeps the keys does not fire: these updates change counts only), a
 * rule, row-level security or a stored generated column.
 */
static bool
update_direct_ok(DirectOk *c, Relation rel)
{
	if (c->relid != RelationGetRelid(rel))
	{
		TupleConstr *constr = RelationGetDescr(rel)->constr;
		uint64		seen;

		register_callback();
		seen = inval_count;
		c->ok = !has_trigger(rel, TRIGGER_TYPE_UPDATE, true) &&
			(constr == NULL || !constr->has_generated_stored) &&
			rel->rd_rules == NULL && !rel->rd_rel->relrowsecurity &&
			rel->rd_rel->relkind == RELKIND_RELATION;
		c->relid = seen == inval_count ? RelationGetRelid(rel) : InvalidOid;
	}
	return c->ok;
}

/* Can a counter slot of rel, fluxcredits.counters, be updated here? */
bool
fc_slot_direct_ok(Relation rel)
{
	return update_direct_ok(FC_REL_SLOT(counters_ok, rel), rel);
}

/* Can an account's row of rel, fluxcredits.accounts, be updated here? */
bool
fc_account_direct_ok(Relation rel)
{
	return update_direct_ok(FC_REL_SLOT(accounts_ok, rel), rel);
}

/* Raise the error of a CHECK constraint the new row fails, as the executor does. */
static void
check_constraints(RelIndexes *ri, Relation rel, TupleTableSlot *slot)
{
	ExprContext *econtext;

	if (ri->nchecks == 0)
		return;
	econtext = GetPerTupleExprContext(ri->estate);
	econtext->ecxt_scantuple = slot;
	for (int c = 0; c < ri->nchecks; c++)
		if (!ExecCheck(ri->checks[c], econtext))
			ereport(ERROR,
					(errcode(ERRCODE_CHECK_VIOLATION),
					 errmsg("new row for relation \"%s\" violates check constraint \"%s\"",
							RelationGetRelationName(rel), ri->check_names[c]),
					 errtableconstraint(rel, ri->check_names[c])));
	ResetExprContext(econtext);
	econtext->ecxt_scantuple = NULL;
}

/*
 * Add amounts[i] to the bigint column attnos[i] (i < n) of old, the newest
 * version of a row of rel that this transaction holds locked (so the
 * update cannot fail for a concurrent one).  The new row is checked
 * against rel's CHECK constraints; its index entries are made when the
 * update is not HOT.
 */
static void
row_add(RelIndexes *ri, Relation rel, HeapTuple old, int n, const AttrNumber *attnos,
		const int64 *amounts)
{
	TupleDesc	desc = RelationGetDescr(rel);
	Datum		values[2];
	bool		nulls[2];
	int			cols[2];
	HeapTuple	newtup;
	TupleTableSlot *slot;

	Assert(n <= lengthof(values));
	if (ri->relid != RelationGetRelid(rel))
		build_indexes(ri, rel);
	for (int i = 0; i < n; i++)
	{
		bool		isnull;
		int64		sum;

		if (pg_add_s64_overflow(DatumGetInt64(heap_getattr(old, attnos[i], desc, &isnull)),
								amounts[i], &sum))
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("bigint out of range")));
		cols[i] = attnos[i];
		values[i] = Int64GetDatum(sum);
		nulls[i] = false;
	}
	newtup = heap_modify_tuple_by_cols(old, desc, n, cols, values, nulls);
	slot = MakeSingleTupleTableSlot(desc, &TTSOpsHeapTuple);
	ExecStoreHeapTuple(newtup, slot, false);
	check_constraints(ri, rel, slot);
	simple_heap_update(rel, &old->t_self, newtup);
	if (!HeapTupleIsHeapOnly(newtup))
	{
		ExecStoreHeapTuple(newtup, slot, false);	/* its new place */
		if (!insert_index_entries(ri, rel, slot))
			insert_index_entries_executor(rel, slot);
	}
	ExecDropSingleTupleTableSlot(slot);
	heap_freetuple(newtup);
}

/*
 * Add amounts[i] to the columns attnos[i] (i < n, at most 2) of a counter
 * slot, locked, the version in locked (fc_slot_direct_ok() must allow it).
 */
void
fc_slot_add(Relation rel, HeapTuple locked, int n, const AttrNumber *attnos,
			const int64 *amounts)
{
	row_add(FC_REL_SLOT(counters_indexes, rel), rel, locked, n, attnos, amounts);
}

/*
 * Count monthly and topup on the counter slot numbered slot of the charge's
 * period, locked by this transaction, through SQL: fc_slot_add() for a
 * counters table that fc_slot_direct_ok() does not let this file update.
 */
void
fc_slot_add_sql(const FcCharge *a, TimestampTz start, int slot, int64 monthly, int64 topup)
{
	static SPIPlanPtr plan = NULL;
	static const Oid types[6] = {TEXTOID, TIMESTAMPTZOID, TEXTOID, INT8OID, INT2OID, INT8OID};
	Datum		values[6];

	values[0] = CStringGetTextDatum(a->account);
	values[1] = TimestampTzGetDatum(start);
	values[2] = CStringGetTextDatum(fc_kind_name(a->kind));
	values[3] = Int64GetDatum(monthly);
	values[4] = Int16GetDatum((int16) slot);
	values[5] = Int64GetDatum(topup);
	if (SPI_execute_plan(fc_plan(a->account, &plan,
								 "UPDATE fluxcredits.counters c"
								 "   SET used = c.used + $4, topup_used = c.topup_used + $6"
								 " WHERE c.account = $1 AND c.period_start = $2"
								 "   AND c.kind = $3::fluxcredits.credit_kind AND c.slot = $5",
								 6, types),
						 values, NULL, false, 0) != SPI_OK_UPDATE ||
		SPI_processed != 1)
		elog(ERROR, "fluxcredits: the locked counter slot %d was not updated", slot);
}

/*
 * Add amount to the bigint column attno of an account's row, locked, the
 * version in locked (fc_account_direct_ok() must allow it).
 */
void
fc_account_add(Relation rel, HeapTuple locked, AttrNumber attno, int64 amount)
{
	row_add(FC_REL_SLOT(accounts_indexes, rel), rel, locked, 1, &attno, &amount);
}

/*
 * Take topup off the account's balance through SQL: fc_account_add() for an
 * accounts table that fc_account_direct_ok() does not let this file update.
 */
void
fc_account_topup_sql(const char *account, int64 topup)
{
	static SPIPlanPtr plan = NULL;
	static const Oid types[2] = {TEXTOID, INT8OID};
	Datum		values[2];

	values[0] = CStringGetTextDatum(account);
	values[1] = Int64GetDatum(topup);
	if (fc_execute(account, &plan,
				   "UPDATE fluxcredits.accounts a SET topup_balance = a.topup_balance - $2"
				   " WHERE a.account = $1",
				   2, types, values, NULL, 0, SPI_OK_UPDATE, "top-up balance update") != 1)
		elog(ERROR, "fluxcredits: top-up balance update failed");
}
