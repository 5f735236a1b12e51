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
 * AccessShareLock, as a SELECT would.
 *
 *-------------------------------------------------------------------------
 */
#include "fluxcredits.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "catalog/namespace.h"
#include "lib/stringinfo.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

/* The OID of fluxcredits.<relname>; an error if the extension is gone. */
static Oid
fc_relid(const char *relname)
{
	Oid			nsp = get_namespace_oid("fluxcredits", false);
	Oid			relid = get_relname_relid(relname, nsp);

	if (!OidIsValid(relid))
		elog(ERROR, "fluxcredits: relation fluxcredits.%s does not exist", relname);
	return relid;
}

/*
 * Begin an equality scan of fluxcredits.<table> through fluxcredits.<index>
 * on its first nkeys columns (heap column numbers attnos, equality
 * functions eqfuncs, values).
 */
void
fc_scan_begin(FcScan *s, const char *table, const char *index, int nkeys,
			  const AttrNumber *attnos, const Oid *eqfuncs, const Datum *values,
			  Snapshot snapshot)
{
	ScanKeyData keys[FC_SCAN_MAX_KEYS];

	Assert(nkeys <= FC_SCAN_MAX_KEYS);
	s->heap = table_open(fc_relid(table), AccessShareLock);
	s->index = index_open(fc_relid(index), AccessShareLock);
	for (int i = 0; i < nkeys; i++)
		ScanKeyEntryInitialize(&keys[i], 0, attnos[i], BTEqualStrategyNumber,
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
	index_close(s->index, AccessShareLock);
	table_close(s->heap, AccessShareLock);
}

/*
 * Column numbers of fluxcredits.<table>'s columns names[0..n-1] into
 * attnos, cached in *cache (keyed by the table's OID).
 */
void
fc_columns(FcColumns *cache, const char *table, int n, const char *const *names)
{
	Oid			relid = fc_relid(table);

	if (cache->relid == relid)
		return;
	Assert(n <= FC_SCAN_MAX_COLUMNS);
	for (int i = 0; i < n; i++)
	{
		cache->attnos[i] = get_attnum(relid, names[i]);
		if (cache->attnos[i] == InvalidAttrNumber)
			elog(ERROR, "fluxcredits: column %s of fluxcredits.%s does not exist",
				 names[i], table);
	}
	cache->relid = relid;
}
