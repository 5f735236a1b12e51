/*-------------------------------------------------------------------------
 *
 * citus.c
 *	  On a Citus node, the extension's tables by name are shells: the rows
 *	  live in shards (fluxcredits.accounts_102008, ...).  The C that reads
 *	  and writes the tables directly (relscan.c, write.c) goes through here
 *	  to address the shard that holds an account on this node, or the local
 *	  placement of the plans reference table.
 *
 * Citus is not a build or link dependency: its functions are looked up in
 * citus.so at run time, and only in a server that preloads Citus (a
 * library loaded otherwise would refuse to initialise).  On a server
 * without Citus, or with fluxcredits' tables not distributed, nothing here
 * runs but a flag test and one hash lookup in Citus's own cache.
 *
 * What this file relies on from Citus 13.2 (checked at first use: the
 * extension version, and each shard interval's node name and relation):
 *	- GetCitusTableCacheEntry, FindShardInterval (hashes the account as
 *	  Citus routes it), the ShardInterval layout for its shardId;
 *	- ActiveShardPlacementOnGroup(GetLocalGroupId(), shard): is the
 *	  account's placement on this node;
 *	- LockShardDistributionMetadata(shard, ShareLock), which Citus's own
 *	  writes take (AcquireMetadataLocks) and a shard move takes in
 *	  ExclusiveLock (BlockWritesToShardList) before it copies or switches:
 *	  a charge in progress holds the move back, and one that comes after
 *	  the move finds the placement gone;
 *	- AppendShardIdToName: the shard's table and index names.
 *
 * An account whose placement is not on this node is an error, never a
 * write to the shell: the call reached a node that does not hold the
 * account (it was not delegated, or the account moved while the call was
 * on its way).  It is a serialization failure, which a client retries.
 *
 * IDENTIFICATION
 *	  src/citus.c
 *
 *-------------------------------------------------------------------------
 */
#include "fluxcredits.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/indexing.h"
#include "catalog/pg_extension.h"
#include "commands/extension.h"
#include "nodes/extensible.h"
#include "access/xact.h"
#include "storage/lmgr.h"
#include "storage/proc.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/varlena.h"
#include "miscadmin.h"

/* Citus 13.2's ShardInterval (distributed/metadata_utility.h) */
typedef struct FcCitusNode
{
	ExtensibleNode extensible;
	int			citus_tag;
} FcCitusNode;

typedef struct FcShardInterval
{
	FcCitusNode type;
	Oid			relationId;
	char		storageType;
	Oid			valueTypeId;
	int			valueTypeLen;
	bool		valueByVal;
	bool		minValueExists;
	bool		maxValueExists;
	Datum		minValue;
	Datum		maxValue;
	uint64		shardId;
	int			shardIndex;
} FcShardInterval;

/* Citus 13.2's CitusTableType values used here (distributed/metadata_cache.h) */
#define FC_CITUS_HASH_DISTRIBUTED 0
#define FC_CITUS_REFERENCE_TABLE 6

static struct
{
	bool		(*IsCitusTable) (Oid relid);
	bool		(*IsCitusTableType) (Oid relid, int type);
	void	   *(*GetCitusTableCacheEntry) (Oid relid);
	FcShardInterval *(*FindShardInterval) (Datum value, void *entry);
	int32		(*GetLocalGroupId) (void);
	void	   *(*ActiveShardPlacementOnGroup) (int32 group, uint64 shard);
	void		(*AppendShardIdToName) (char **name, uint64 shard);
	void		(*LockShardDistributionMetadata) (int64 shard, LOCKMODE mode);
} citus;

/* -1: not known yet; 0: no Citus in this server; 1: Citus preloaded */
static int	citus_preloaded = -1;
static bool citus_checked = false;	/* functions found, version checked */

/* Is citus in shared_preload_libraries?  Fixed for the server's life. */
bool
fc_citus_preloaded(void)
{
	if (citus_preloaded < 0)
	{
		char	   *copy = pstrdup(shared_preload_libraries_string ?
								   shared_preload_libraries_string : "");
		List	   *names;
		ListCell   *lc;

		citus_preloaded = 0;
		if (SplitIdentifierString(copy, ',', &names))
			foreach(lc, names)
				if (strcmp((char *) lfirst(lc), "citus") == 0)
					citus_preloaded = 1;
	}
	return citus_preloaded == 1;
}

static void *
citus_function(const char *name)
{
	return load_external_function("citus", name, true, NULL);
}

/* pg_extension.extversion of ext, or NULL */
static char *
extension_version(Oid ext)
{
	Relation	rel = table_open(ExtensionRelationId, AccessShareLock);
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tuple;
	char	   *version = NULL;

	ScanKeyInit(&key, Anum_pg_extension_oid, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(ext));
	scan = systable_beginscan(rel, ExtensionOidIndexId, true, NULL, 1, &key);
	tuple = systable_getnext(scan);
	if (HeapTupleIsValid(tuple))
	{
		bool		isnull;
		Datum		d = heap_getattr(tuple, Anum_pg_extension_extversion,
									 RelationGetDescr(rel), &isnull);

		if (!isnull)
			version = TextDatumGetCString(d);
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return version;
}

/* Find Citus's functions, and refuse a Citus whose layout is not 13.2's. */
static void
citus_check(void)
{
	Oid			ext;
	char	   *version;

	if (citus_checked)
		return;
	ext = get_extension_oid("citus", true);
	version = OidIsValid(ext) ? extension_version(ext) : NULL;
	if (version == NULL || strncmp(version, "13.", 3) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("fluxcredits does not support Citus %s", version ? version : "(none)"),
				 errdetail("This build addresses the shards of Citus 13.")));
	citus.IsCitusTable = citus_function("IsCitusTable");
	citus.IsCitusTableType = citus_function("IsCitusTableType");
	citus.GetCitusTableCacheEntry = citus_function("GetCitusTableCacheEntry");
	citus.FindShardInterval = citus_function("FindShardInterval");
	citus.GetLocalGroupId = citus_function("GetLocalGroupId");
	citus.ActiveShardPlacementOnGroup = citus_function("ActiveShardPlacementOnGroup");
	citus.AppendShardIdToName = citus_function("AppendShardIdToName");
	citus.LockShardDistributionMetadata = citus_function("LockShardDistributionMetadata");
	citus_checked = true;
}

/*
 * Is shell, fluxcredits.<name>, a Citus table here?  False without Citus
 * (one flag test) and, with Citus, before the citus extension exists or
 * fluxcredits.distribute() has run.
 */
bool
fc_citus_table(Oid shell)
{
	if (!fc_citus_preloaded() || !OidIsValid(shell))
		return false;
	if (!citus_checked)
	{
		/* The citus extension may not exist yet: nothing is distributed. */
		if (!OidIsValid(get_extension_oid("citus", true)))
			return false;
		citus_check();
	}
	return citus.IsCitusTable(shell);
}

/*
 * The OID of the local shard of relname (the table shell or one of its
 * indexes, by name) holding account, shell being a Citus table (see
 * fc_citus_table); account NULL: shell is the plans reference table, whose
 * placement on this node is wanted.  InvalidOid when missing_ok and there
 * is no such index on the shard.  Takes the shard's metadata lock (shared)
 * for the rest of the transaction, as Citus's own writes do.
 */
Oid
fc_citus_shard(Oid shell, const char *relname, const char *account, bool missing_ok)
{
	void	   *entry;
	FcShardInterval *si;
	uint64		shard;
	char	   *name;
	Oid			relid;

	if (account == NULL ? !citus.IsCitusTableType(shell, FC_CITUS_REFERENCE_TABLE)
		: !citus.IsCitusTableType(shell, FC_CITUS_HASH_DISTRIBUTED))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("fluxcredits.%s is not distributed as fluxcredits.distribute() does it",
						get_rel_name(shell)),
				 errhint("Run SELECT fluxcredits.distribute(); on the coordinator.")));
	entry = citus.GetCitusTableCacheEntry(shell);
	si = citus.FindShardInterval(account == NULL ? (Datum) 0 : CStringGetTextDatum(account),
								 entry);
	if (si == NULL || si->relationId != shell ||
		si->type.extensible.extnodename == NULL ||
		strcmp(si->type.extensible.extnodename, "ShardInterval") != 0)
		elog(ERROR, "fluxcredits: no shard of fluxcredits.%s found for account \"%s\"",
			 get_rel_name(shell), account ? account : "");
	shard = si->shardId;

	if (account != NULL)
	{
		/*
		 * As Citus's writes: a move in progress holds its lock in exclusive
		 * mode; once granted, the placements it changed are read anew.
		 */
		citus.LockShardDistributionMetadata((int64) shard, ShareLock);
		AcceptInvalidationMessages();
	}
	if (citus.ActiveShardPlacementOnGroup(citus.GetLocalGroupId(), shard) == NULL)
	{
		if (account == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("fluxcredits.%s has no placement on this node", get_rel_name(shell)),
					 errhint("Add the coordinator to the cluster with citus_set_coordinator_host() and run SELECT fluxcredits.distribute(); again.")));
		ereport(ERROR,
				(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
				 errmsg("account \"%s\" is not on this node", account),
				 errdetail("Its shard %llu of fluxcredits.%s is placed on another node: the call was not delegated to the account's node, or the account moved meanwhile.",
						   (unsigned long long) shard, get_rel_name(shell)),
				 errhint("Retry the transaction. Call account-keyed functions as SELECT fluxcredits.function('account', ...), which Citus delegates to the account's node.")));
	}
	name = pstrdup(relname);
	citus.AppendShardIdToName(&name, shard);
	relid = get_relname_relid(name, get_rel_namespace(shell));
	if (!OidIsValid(relid) && !missing_ok)
		ereport(ERROR,
				(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
				 errmsg("shard fluxcredits.%s of account \"%s\" does not exist on this node",
						name, account ? account : ""),
				 errhint("Retry the transaction.")));
	pfree(name);
	return relid;
}

/*
 * The shards this transaction opened, by relation name and account (the
 * plans reference table's placement under the empty account): a charge
 * opens its account's tables several times, and the first open took the
 * shard's metadata lock, which keeps the placement where it is until the
 * transaction ends (a reference table's placements do not move).  Entries of another transaction (MyProc->lxid) are
 * stale; a subtransaction that aborts releases its locks, so it empties the
 * cache.
 */
#define FC_SHARD_CACHE_SIZE 24

typedef struct ShardCacheEntry
{
	LocalTransactionId lxid;
	const char *relname;		/* a string constant of the caller */
	char		account[FC_MAX_ACCOUNT_LEN + 1];
	Oid			relid;
} ShardCacheEntry;

static ShardCacheEntry shard_cache[FC_SHARD_CACHE_SIZE];
static int	shard_cache_next = 0;
static bool shard_cache_callback = false;

static void
shard_cache_subxact(SubXactEvent event, SubTransactionId mySubid,
					SubTransactionId parentSubid, void *arg)
{
	(void) mySubid;
	(void) parentSubid;
	(void) arg;
	if (event == SUBXACT_EVENT_ABORT_SUB)
		for (int i = 0; i < FC_SHARD_CACHE_SIZE; i++)
			shard_cache[i].lxid = InvalidLocalTransactionId;
}

/* The shard of relname for account that this transaction found, if any. */
bool
fc_citus_shard_cached(const char *relname, const char *account, Oid *relid)
{
	if (account == NULL)
		account = "";			/* the plans reference table's placement */
	for (int i = 0; i < FC_SHARD_CACHE_SIZE; i++)
	{
		ShardCacheEntry *e = &shard_cache[i];

		if (e->lxid == MyProc->lxid && strcmp(e->relname, relname) == 0 &&
			strcmp(e->account, account) == 0)
		{
			*relid = e->relid;
			return true;
		}
	}
	return false;
}

/* Remember what fc_citus_shard() found for relname and account. */
void
fc_citus_shard_remember(const char *relname, const char *account, Oid relid)
{
	ShardCacheEntry *e;

	if (account == NULL)
		account = "";			/* the plans reference table's placement */
	if (strlen(account) > FC_MAX_ACCOUNT_LEN)
		return;
	if (!shard_cache_callback)
	{
		RegisterSubXactCallback(shard_cache_subxact, NULL);
		shard_cache_callback = true;
	}
	e = &shard_cache[shard_cache_next];
	shard_cache_next = (shard_cache_next + 1) % FC_SHARD_CACHE_SIZE;
	e->lxid = MyProc->lxid;
	e->relname = relname;
	strcpy(e->account, account);
	e->relid = relid;
}
