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
 *-------------------------------------------------------------------------
 */
#include "fluxcredits.h"

#include "access/genam.h"
#include "access/nbtree.h"
#include "access/htup_details.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "catalog/namespace.h"
#include "catalog/pg_am_d.h"
#include "lib/stringinfo.h"
#include "storage/bufmgr.h"
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
fc_relid_lookup(const char *relname)
{
	Oid			nsp = get_namespace_oid("fluxcredits", false);
	Oid			relid = get_relname_relid(relname, nsp);

	if (!OidIsValid(relid))
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

/* Open fluxcredits.<relname> (table or index) with lockmode. */
static Relation
fc_open(const char *relname, bool index, LOCKMODE lockmode)
{
	RelidCacheEntry *e = fc_relid_entry(relname);
	Relation	rel = NULL;

	if (OidIsValid(e->relid))
	{
		rel = index ? try_index_open(e->relid, lockmode)
			: try_table_open(e->relid, lockmode);
		if (rel != NULL && !fc_rel_is(rel, relname))
		{
			if (index)
				index_close(rel, lockmode);
			else
				table_close(rel, lockmode);
			rel = NULL;
		}
	}
	if (rel == NULL)
	{
		e->relid = fc_relid_lookup(relname);
		rel = index ? index_open(e->relid, lockmode)
			: table_open(e->relid, lockmode);
	}
	return rel;
}

/* fluxcredits.<relname>, a table, opened with lockmode (for the writes of write.c). */
Relation
fc_table_open(const char *relname, LOCKMODE lockmode)
{
	return fc_open(relname, false, lockmode);
}

/*
 * Has fluxcredits.<index>, a btree, never held an entry?  Then its metapage
 * names no root page (a btree makes its root on the first insert and keeps
 * it), and a scan of it can be skipped.  Read from the metapage in shared
 * buffers: no system call, unlike asking for the index's size.
 */
bool
fc_index_never_used(const char *index)
{
	Relation	rel = fc_open(index, true, AccessShareLock);
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

/* Column numbers of cols->names in rel, cached per relation OID. */
static void
fc_columns(FcColumns *cols, Relation rel)
{
	Oid			relid = RelationGetRelid(rel);

	if (cols->relid == relid)
		return;
	Assert(cols->n <= FC_SCAN_MAX_COLUMNS);
	for (int i = 0; i < cols->n; i++)
	{
		cols->attnos[i] = get_attnum(relid, cols->names[i]);
		if (cols->attnos[i] == InvalidAttrNumber)
			elog(ERROR, "fluxcredits: column %s of fluxcredits.%s does not exist",
				 cols->names[i], RelationGetRelationName(rel));
	}
	cols->relid = relid;
}

/*
 * Begin an equality scan of fluxcredits.<table> through fluxcredits.<index>
 * on the table's columns cols->names[0..nkeys-1] (equality functions
 * eqfuncs, values).  Afterwards cols->attnos has the column numbers of all
 * of cols->names, for reading the tuples.
 */
void
fc_scan_begin(FcScan *s, const char *table, const char *index, FcColumns *cols,
			  int nkeys, const Oid *eqfuncs, const Datum *values, Snapshot snapshot)
{
	ScanKeyData keys[FC_SCAN_MAX_KEYS];

	Assert(nkeys <= FC_SCAN_MAX_KEYS && nkeys <= cols->n);
	s->heap = fc_open(table, false, AccessShareLock);
	s->index = fc_open(index, true, AccessShareLock);
	fc_columns(cols, s->heap);
	for (int i = 0; i < nkeys; i++)
		ScanKeyEntryInitialize(&keys[i], 0, cols->attnos[i], BTEqualStrategyNumber,
							   InvalidOid, s->index->rd_indcollation[i],
							   eqfuncs[i], values[i]);
	s->scan = systable_beginscan_ordered(s->heap, s->index, snapshot, nkeys, keys);
}

HeapTuple
fc_scan_next(FcScan *s)
{
	return systable_getnext_ordered(s->scan, ForwardScanDirection);
}

void
fc_scan_end(FcScan *s)
{
	systable_endscan_ordered(s->scan);
	/* the locks are kept to the end of the transaction, as a SELECT's are */
	index_close(s->index, NoLock);
	table_close(s->heap, NoLock);
}
