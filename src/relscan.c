/*-------------------------------------------------------------------------
 *
 * relscan.c
 *	  Index lookups on the extension's own tables without SPI, for the read
 *	  paths that run on every request (the account and plan a charge or a
 *	  read-out needs, the counter slots and holds a read-out sums).
 *
 * An SPI statement spends most of its time starting and ending its executor;
 * these reads are one index probe each, so they go straight to the index
 * (systable_beginscan_ordered) with the caller's MVCC snapshot.  Relation
 * and column numbers are looked up by name and cached per relation OID, so
 * a dropped and re-created extension is picked up.  Tables are opened with
 * AccessShareLock, kept to the end of the transaction, as a SELECT would.
 *
 * IDENTIFICATION
 *	  src/relscan.c
 *
 *-------------------------------------------------------------------------
 */
#include "fluxcredits.h"

#include "access/genam.h"
#include "access/hash.h"
#include "access/nbtree.h"
#include "access/htup_details.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "catalog/namespace.h"
#include "catalog/pg_am_d.h"
#include "common/hashfn.h"
#include "executor/tuptable.h"
#include "lib/stringinfo.h"
#include "pgstat.h"
#include "storage/lmgr.h"
#include "storage/bufmgr.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

/*
 * The OID of fluxcredits.<relname>; an error if the extension is gone.
 * Looked up once per backend and name, and checked again (by name and
 * schema, in the relation cache) whenever it is opened, so that a dropped
 * and re-created extension is picked up.
 */
#define FC_RELID_CACHE_SIZE 16

typedef struct RelidCacheEntry
{
	const char *relname;		/* a string constant of the caller */
	Oid			relid;
} RelidCacheEntry;

static RelidCacheEntry relid_cache[FC_RELID_CACHE_SIZE];
static int	relid_cache_used = 0;

static Oid
fc_relid_lookup(const char *relname, bool missing_ok)
{
	Oid			nsp = get_namespace_oid("fluxcredits", false);
	Oid			relid = get_relname_relid(relname, nsp);

	if (!OidIsValid(relid) && !missing_ok)
		elog(ERROR, "fluxcredits: relation fluxcredits.%s does not exist", relname);
	return relid;
}

static RelidCacheEntry *
fc_relid_entry(const char *relname)
{
	int			i;

	for (i = 0; i < relid_cache_used; i++)
		if (relid_cache[i].relname == relname || strcmp(relid_cache[i].relname, relname) == 0)
			return &relid_cache[i];
	if (relid_cache_used == FC_RELID_CACHE_SIZE)
		elog(ERROR, "fluxcredits: relation cache full");
	relid_cache[relid_cache_used].relname = relname;
	relid_cache[relid_cache_used].relid = InvalidOid;
	return &relid_cache[relid_cache_used++];
}

/* Is rel still fluxcredits.<relname>? */
static bool
fc_rel_is(Relation rel, const char *relname)
{
	static Oid	fluxcredits_nsp = InvalidOid;
	Oid			nsp = RelationGetNamespace(rel);

	if (strcmp(RelationGetRelationName(rel), relname) != 0)
		return false;
	if (nsp != fluxcredits_nsp)
	{
		char	   *name = get_namespace_name(nsp);

		if (name == NULL || strcmp(name, "fluxcredits") != 0)
			return false;
		fluxcredits_nsp = nsp;
	}
	return true;
}

/*
 * Open fluxcredits.<relname> (table or index) with lockmode; if it does not
 * exist, NULL when missing_ok, else an error.
 */
static Relation
fc_open_shell(const char *relname, bool index, LOCKMODE lockmode, bool missing_ok)
{
	RelidCacheEntry *e = fc_relid_entry(relname);
	Relation	rel;

	/*
	 * The cached OID: what relation_open() does, without try_relation_open()'s
	 * catalog probe (a relation dropped meanwhile is gone from the relation
	 * cache once the lock is granted, which processes invalidations, and
	 * RelationIdGetRelation() then finds no pg_class row).
	 */
	if (OidIsValid(e->relid))
	{
		LockRelationOid(e->relid, lockmode);
		rel = RelationIdGetRelation(e->relid);
		if (rel != NULL && fc_rel_is(rel, relname))
		{
			pgstat_init_relation(rel);
			return rel;
		}
		if (rel != NULL)
			RelationClose(rel);
		UnlockRelationOid(e->relid, lockmode);
	}
	e->relid = fc_relid_lookup(relname, missing_ok);
	if (!OidIsValid(e->relid))
		return NULL;
	return index ? index_open(e->relid, lockmode) : table_open(e->relid, lockmode);
}

/*
 * On a Citus node where fluxcredits.<table> is distributed, *shard is the
 * OID of relname (the table or one of its indexes, by name) on the shard
 * that holds account here (citus.c; the shard's metadata lock taken), or
 * InvalidOid for an index missing there when missing_ok; returns false
 * elsewhere.
 */
static bool
fc_citus_relid(const char *table, const char *relname, const char *account,
			   bool missing_ok, Oid *shard)
{
	Relation	shell;
	Oid			shellid;

	if (!fc_citus_preloaded())
		return false;
	if (fc_citus_shard_cached(relname, account, shard))
		return true;
	/* the shell, checked by name as always, tells whether it is distributed */
	shell = fc_open_shell(table, false, AccessShareLock, false);
	shellid = RelationGetRelid(shell);
	table_close(shell, NoLock);
	if (!fc_citus_table(shellid))
		return false;
	*shard = fc_citus_shard(shellid, relname, account, missing_ok);
	fc_citus_shard_remember(relname, account, *shard);
	return true;
}

/*
 * Open relname, fluxcredits.<table> or an index of it by name, with
 * lockmode, for account (NULL: for no account; only the plans table is read
 * so).  On a Citus node where the table is distributed, that is the shard
 * that holds the account there, never the shell.  If an index does not
 * exist, NULL when missing_ok, else an error.
 */
static Relation
fc_open_missing_ok(const char *table, const char *relname, bool index,
				   const char *account, LOCKMODE lockmode, bool missing_ok)
{
	Oid			shard;

	if (fc_citus_relid(table, relname, account, missing_ok, &shard))
	{
		if (!OidIsValid(shard))
			return NULL;
		return index ? index_open(shard, lockmode) : table_open(shard, lockmode);
	}
	return fc_open_shell(relname, index, lockmode, missing_ok);
}

/*
 * On a Citus node where fluxcredits.<table> is distributed, the OID of its
 * shard holding account here (as fc_open_missing_ok() opens it); else
 * InvalidOid.
 */
Oid
fc_shard_relid(const char *table, const char *account)
{
	Oid			shard;

	return fc_citus_relid(table, table, account, false, &shard) ? shard : InvalidOid;
}

/* Open relname (fluxcredits.<table> or its index) for account, with lockmode. */
static Relation
fc_open(const char *table, const char *relname, bool index, const char *account,
		LOCKMODE lockmode)
{
	return fc_open_missing_ok(table, relname, index, account, lockmode, false);
}

/*
 * fluxcredits.<relname>, a table, opened with lockmode for account (for the
 * writes of write.c; see fc_open_missing_ok).
 */
Relation
fc_table_open(const char *relname, const char *account, LOCKMODE lockmode)
{
	return fc_open(relname, relname, false, account, lockmode);
}

/*
 * Has fluxcredits.<index>, a btree, never held an entry?  Then its metapage
 * names no root page (a btree makes its root on the first insert and keeps
 * it), and a scan of it can be skipped.  Read from the metapage in shared
 * buffers: no system call, unlike asking for the index's size.
 */
bool
fc_index_never_used(const char *table, const char *index, const char *account)
{
	Relation	rel = fc_open(table, index, true, account, AccessShareLock);
	bool		never = false;

	if (rel->rd_rel->relam == BTREE_AM_OID)
	{
		Buffer		buf = ReadBuffer(rel, BTREE_METAPAGE);
		BTMetaPageData *meta;

		LockBuffer(buf, BUFFER_LOCK_SHARE);
		meta = BTPageGetMeta(BufferGetPage(buf));
		never = meta->btm_magic == BTREE_MAGIC && meta->btm_root == P_NONE;
		UnlockReleaseBuffer(buf);
	}
	index_close(rel, NoLock);
	return never;
}

/*
 * Column numbers of cols->names in rel, cached per relation OID and number
 * of columns.  The last cols->noptional columns may be missing (a column a
 * later extension script adds): their number is then InvalidAttrNumber,
 * until the script has run (ALTER TABLE ... ADD COLUMN: one column more).
 */
static void
fc_columns(FcColumns *cols, Relation rel)
{
	Oid			relid = RelationGetRelid(rel);

	if (cols->relid == relid && cols->natts == RelationGetNumberOfAttributes(rel))
		return;
	Assert(cols->n <= FC_SCAN_MAX_COLUMNS && cols->noptional <= cols->n);
	for (int i = 0; i < cols->n; i++)
	{
		cols->attnos[i] = get_attnum(relid, cols->names[i]);
		if (cols->attnos[i] == InvalidAttrNumber && i < cols->n - cols->noptional)
			elog(ERROR, "fluxcredits: column %s of fluxcredits.%s does not exist",
				 cols->names[i], RelationGetRelationName(rel));
	}
	cols->relid = relid;
	cols->natts = RelationGetNumberOfAttributes(rel);
}

/*
 * Begin an equality scan of fluxcredits.<table> through fluxcredits.<index>
 * on the table's columns cols->names[0..nkeys-1] (equality functions
 * eqfuncs, values).  Afterwards cols->attnos has the column numbers of all
 * of cols->names, for reading the tuples.
 */
void
fc_scan_begin(FcScan *s, const char *table, const char *index, const char *account,
			  FcColumns *cols, int nkeys, const Oid *eqfuncs, const Datum *values,
			  Snapshot snapshot)
{
	ScanKeyData keys[FC_SCAN_MAX_KEYS];

	Assert(nkeys <= FC_SCAN_MAX_KEYS && nkeys <= cols->n);
	s->iscan = NULL;
	s->heap = fc_open(table, table, false, account, AccessShareLock);
	s->index = fc_open(table, index, true, account, AccessShareLock);
	fc_columns(cols, s->heap);
	for (int i = 0; i < nkeys; i++)
		ScanKeyEntryInitialize(&keys[i], 0, cols->attnos[i], BTEqualStrategyNumber,
							   InvalidOid, s->index->rd_indcollation[i],
							   eqfuncs[i], values[i]);
	s->scan = systable_beginscan_ordered(s->heap, s->index, snapshot, nkeys, keys);
	s->slot = s->scan->slot;
}

/*
 * The value counters_account_period indexes for (account, period_start):
 * a 64-bit hash of the account's bytes seeded with the period start.  The
 * hash index finds an account's counter slots of one period in one bucket
 * page, where the primary key's btree descends its levels comparing text;
 * rows of other accounts or periods that share the value are skipped by
 * comparing the columns (fc_scan_next).
 */
static int64
fc_counters_key_of(const char *account, int len, TimestampTz start)
{
	return (int64) hash_bytes_extended((const unsigned char *) account, len,
									   (uint64) start);
}

/* _counters_key(account, period_start), the index expression */
PG_FUNCTION_INFO_V1(fc_counters_key);
Datum
fc_counters_key(PG_FUNCTION_ARGS)
{
	text	   *account = PG_GETARG_TEXT_PP(0);

	PG_RETURN_INT64(fc_counters_key_of(VARDATA_ANY(account),
									   VARSIZE_ANY_EXHDR(account),
									   PG_GETARG_TIMESTAMPTZ(1)));
}

/*
 * fluxcredits.<name> if it exists and is a valid one-column hash index
 * (extension scripts before 1.3 do not make the hash indexes), opened with
 * AccessShareLock; else NULL.
 */
static Relation
fc_hash_index_open(const char *table, const char *name, const char *account)
{
	Relation	rel = fc_open_missing_ok(table, name, true, account, AccessShareLock, true);

	if (rel != NULL &&
		(rel->rd_rel->relam != HASH_AM_OID || !rel->rd_index->indisvalid ||
		 rel->rd_index->indnatts != 1))
	{
		index_close(rel, NoLock);
		rel = NULL;
	}
	return rel;
}

/*
 * Begin a scan of heap through its hash index (both opened) for the rows
 * whose column cols->attnos[0] is account (and, if check_start, whose
 * cols->attnos[1] is start): the index returns every row whose key hashes
 * alike, and fc_scan_next() skips those of other accounts or periods.
 */
static void
fc_hash_scan_begin(FcScan *s, Relation heap, Relation index, FcColumns *cols,
				   Oid eqfunc, Datum key, const char *account,
				   bool check_start, TimestampTz start, Snapshot snapshot)
{
	ScanKeyData skey;

	s->scan = NULL;
	s->heap = heap;
	s->index = index;
	fc_columns(cols, s->heap);
	s->account = account;
	s->account_len = strlen(account);
	s->check_start = check_start;
	s->start = start;
	s->account_attno = cols->attnos[0];
	s->start_attno = cols->attnos[1];
	ScanKeyEntryInitialize(&skey, 0, 1, HTEqualStrategyNumber, InvalidOid,
						   index->rd_indcollation[0], eqfunc, key);
	s->iscan = index_beginscan(s->heap, s->index, snapshot, 1, 0);
	index_rescan(s->iscan, &skey, 1, NULL, 0);
	s->slot = table_slot_create(s->heap, NULL);
}

/*
 * Begin a scan of fluxcredits.accounts for account (cols->names begins with
 * "account"): through the hash index accounts_account, or the primary key
 * where that index is missing.  A hash index finds the row in one bucket
 * page and never touches a page every lookup shares, where a btree descends
 * from its root, which every backend pins and locks, so that concurrent
 * read-outs and charges contend on it.
 */
void
fc_account_scan_begin(FcScan *s, FcColumns *cols, const char *account,
					  Snapshot snapshot)
{
	static const Oid texteq[1] = {F_TEXTEQ};
	Relation	heap = fc_open("accounts", "accounts", false, account, AccessShareLock);	/* table first */
	Relation	index = fc_hash_index_open("accounts", "accounts_account", account);
	Datum		key = CStringGetTextDatum(account);

	if (index == NULL)
	{
		table_close(heap, NoLock);
		fc_scan_begin(s, "accounts", "accounts_pkey", account, cols, 1, texteq, &key, snapshot);
	}
	else
		fc_hash_scan_begin(s, heap, index, cols, F_TEXTEQ, key, account,
						   false, 0, snapshot);
}

/*
 * Begin a scan of fluxcredits.counters for one account's slots of the
 * period starting at start (cols->names begins with "account",
 * "period_start"): through the hash index counters_account_period, or the
 * primary key where that index is missing.
 */
void
fc_counters_scan_begin(FcScan *s, FcColumns *cols, const char *account,
					   TimestampTz start, Snapshot snapshot)
{
	static const Oid eqfuncs[2] = {F_TEXTEQ, F_TIMESTAMPTZ_EQ};
	Relation	heap = fc_open("counters", "counters", false, account, AccessShareLock);	/* table first */
	Relation	index = fc_hash_index_open("counters", "counters_account_period", account);

	if (index == NULL)
	{
		Datum		keys[2];

		table_close(heap, NoLock);
		keys[0] = CStringGetTextDatum(account);
		keys[1] = TimestampTzGetDatum(start);
		fc_scan_begin(s, "counters", "counters_pkey", account, cols, 2, eqfuncs, keys, snapshot);
	}
	else
		fc_hash_scan_begin(s, heap, index, cols, F_INT8EQ,
						   Int64GetDatum(fc_counters_key_of(account, strlen(account), start)),
						   account, true, start, snapshot);
}

HeapTuple
fc_scan_next(FcScan *s)
{
	const char *account;
	int			len;

	if (s->iscan == NULL)
		return systable_getnext_ordered(s->scan, ForwardScanDirection);

	account = s->account;
	len = s->account_len;
	while (index_getnext_slot(s->iscan, ForwardScanDirection, s->slot))
	{
		bool		isnull;
		Datum		d;
		text	   *t;

		/*
		 * The hash only narrows the search: check the columns (bytes equal
		 * is text equal, the database's collation being deterministic).
		 */
		if (s->check_start)
		{
			d = slot_getattr(s->slot, s->start_attno, &isnull);
			if (isnull || DatumGetTimestampTz(d) != s->start)
				continue;
		}
		d = slot_getattr(s->slot, s->account_attno, &isnull);
		if (isnull)
			continue;
		t = (text *) DatumGetPointer(d);
		if (VARATT_IS_EXTENDED(t))
			t = pg_detoast_datum_packed(t);
		if ((int) VARSIZE_ANY_EXHDR(t) == len && memcmp(VARDATA_ANY(t), account, len) == 0)
			return ExecFetchSlotHeapTuple(s->slot, false, NULL);
	}
	return NULL;
}

/*
 * Column attno of the tuple fc_scan_next() returned last, from its slot,
 * which takes the tuple apart once for all the columns read.
 */
Datum
fc_scan_attr(FcScan *s, AttrNumber attno, bool *isnull)
{
	return slot_getattr(s->slot, attno, isnull);
}

void
fc_scan_end(FcScan *s)
{
	if (s->scan == NULL)
	{
		index_endscan(s->iscan);
		ExecDropSingleTupleTableSlot(s->slot);
		index_close(s->index, NoLock);
		table_close(s->heap, NoLock);
		return;
	}
	systable_endscan_ordered(s->scan);
	/* the locks are kept to the end of the transaction, as a SELECT's are */
	index_close(s->index, NoLock);
	table_close(s->heap, NoLock);
}
