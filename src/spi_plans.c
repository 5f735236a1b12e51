/*-------------------------------------------------------------------------
 *
 * spi_plans.c
 *	  The search path a charge runs under, prepared SPI plans kept for the
 *	  life of the backend, and readers for the first row of the last SPI
 *	  result.
 *
 * Every statement names its objects with the fixed schema "fluxcredits" (the
 * extension is not relocatable) and is prepared and run under the search
 * path pg_catalog alone: either the calling function's SET search_path =
 * pg_catalog, pg_temp, or the path a charge pushes (fc_safe_path_push).
 * The plan cache parses a statement again under the path in force when it
 * runs (after an invalidation, or when that path differs from the one it
 * was parsed under), so that path must never be a caller's.
 *
 * IDENTIFICATION
 *	  src/spi_plans.c
 *
 *-------------------------------------------------------------------------
 */
#include "fluxcredits.h"

#include <ctype.h>

#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"

#include "catalog/namespace.h"
#include "utils/builtins.h"

/*
 * The charge functions (credits_consume, credits_try_consume, charge()) run
 * with the extension owner's rights but, from 1.2, without SET search_path:
 * the clause made every call set the search_path setting and restore the
 * caller's, each time looking the new path up in the catalogs, a cost on
 * every charge.  Instead fc_consume() and the charge() trigger push this
 * path, pg_catalog and nothing else (not even pg_temp), for as long as they
 * run: every name that anything run by a charge resolves (its SPI
 * statements, the PL/pgSQL functions it calls, a DBA's trigger or index
 * expression on the extension's tables) is resolved in it, never in the
 * caller's schemas.  An error pops it with the (sub)transaction it aborts.
 * (PostgreSQL 15's override search path: sql/privileges.sql, the hostile
 * caller, fails without it.)
 */
void
fc_safe_path_push(void)
{
	OverrideSearchPath path = {.schemas = NIL, .addCatalog = true, .addTemp = false};

	PushOverrideSearchPath(&path);
}

void
fc_safe_path_pop(void)
{
	PopOverrideSearchPath();
}

/*
 * On a Citus node, the statements of a charge name the account's shards
 * (counters_102041, ...) instead of the tables: Citus would plan each
 * statement on a distributed table as a distributed query, which costs far
 * more than the statement (an INSERT ... SELECT went through intermediate
 * results), while on the shard it is the plain statement of a single node.
 * Their plans are kept per statement and shard group, by the account's
 * shard of fluxcredits.accounts.
 */
static const char *const distributed_tables[] = {
	"accounts", "counters", "ledger", "reservations", "alerts_sent"
};

typedef struct ShardPlanKey
{
	SPIPlanPtr *cache;			/* the statement: its single-node plan's cache */
	Oid			group;			/* the account's shard of fluxcredits.accounts */
} ShardPlanKey;

typedef struct ShardPlanEntry
{
	ShardPlanKey key;
	SPIPlanPtr	plan;
} ShardPlanEntry;

static HTAB *shard_plans = NULL;

/* sql with fluxcredits.<table> of each distributed table its shard for account */
static char *
shard_sql(const char *sql, const char *account)
{
	static const char prefix[] = "fluxcredits.";
	StringInfoData buf;
	const char *p = sql;
	const char *m;

	initStringInfo(&buf);
	while ((m = strstr(p, prefix)) != NULL)
	{
		appendBinaryStringInfo(&buf, p, m - p + strlen(prefix));
		p = m + strlen(prefix);
		for (int i = 0; i < (int) lengthof(distributed_tables); i++)
		{
			int			len = strlen(distributed_tables[i]);

			if (strncmp(p, distributed_tables[i], len) == 0 &&
				!(isalnum((unsigned char) p[len]) || p[len] == '_'))
			{
				Oid			shard = fc_shard_relid(distributed_tables[i], account);

				appendStringInfoString(&buf, quote_identifier(get_rel_name(shard)));
				p += len;
				break;
			}
		}
	}
	appendStringInfoString(&buf, p);
	return buf.data;
}

static SPIPlanPtr
prepare_kept(const char *sql, int nargs, const Oid *argtypes)
{
	SPIPlanPtr	plan = SPI_prepare(sql, nargs, (Oid *) argtypes);

	if (plan == NULL)
		elog(ERROR, "fluxcredits: SPI_prepare failed for \"%s\": %s",
			 sql, SPI_result_code_string(SPI_result));
	if (SPI_keepplan(plan) != 0)
		elog(ERROR, "fluxcredits: SPI_keepplan failed");
	return plan;
}

/*
 * The plan for sql, a statement on the rows of account (NULL: of no
 * account), prepared and kept on first use; on a Citus node, of sql on the
 * account's shards (shard_sql).
 */
SPIPlanPtr
fc_plan(const char *account, SPIPlanPtr *cache, const char *sql, int nargs,
		const Oid *argtypes)
{
	if (account != NULL && fc_citus_preloaded())
	{
		Oid			group = fc_shard_relid("accounts", account);

		if (OidIsValid(group))
		{
			ShardPlanKey key = {.cache = cache, .group = group};
			ShardPlanEntry *e;
			bool		found;

			if (shard_plans == NULL)
			{
				HASHCTL		ctl = {.keysize = sizeof(ShardPlanKey),
				.entrysize = sizeof(ShardPlanEntry)};

				shard_plans = hash_create("fluxcredits shard plans", 256, &ctl,
										  HASH_ELEM | HASH_BLOBS);
			}
			e = hash_search(shard_plans, &key, HASH_FIND, NULL);
			if (e == NULL)
			{
				SPIPlanPtr	plan = prepare_kept(shard_sql(sql, account), nargs, argtypes);

				e = hash_search(shard_plans, &key, HASH_ENTER, &found);
				e->plan = plan;
			}
			return e->plan;
		}
	}
	if (*cache == NULL)
		*cache = prepare_kept(sql, nargs, argtypes);
	return *cache;
}

/*
 * Run sql, a statement on the rows of account (NULL: of no account), with
 * values (nulls as SPI_execute_plan() takes them; NULL: none is null), its
 * plan prepared and kept on first use (fc_plan), reading at most count rows
 * (0: all).  Raises "fluxcredits: <what> failed" unless SPI answers
 * expected.  Returns the number of rows processed.
 */
uint64
fc_execute(const char *account, SPIPlanPtr *cache, const char *sql, int nargs,
		   const Oid *argtypes, Datum *values, const char *nulls, long count,
		   int expected, const char *what)
{
	if (SPI_execute_plan(fc_plan(account, cache, sql, nargs, argtypes), values, nulls,
						 false, count) != expected)
		elog(ERROR, "fluxcredits: %s failed", what);
	return SPI_processed;
}

/* Column col (1-based) of the first row of SPI_tuptable, as int64; false if NULL. */
bool
fc_get_int64(int col, int64 *value)
{
	bool		isnull;
	Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc,
								  col, &isnull);

	if (isnull)
		return false;
	switch (SPI_gettypeid(SPI_tuptable->tupdesc, col))
	{
		case INT8OID:
			*value = DatumGetInt64(d);
			break;
		case INT4OID:
			*value = DatumGetInt32(d);
			break;
		default:
			elog(ERROR, "fluxcredits: column %d is not an integer", col);
	}
	return true;
}

/* Column col of the first row, as a palloc'd C string; NULL if NULL. */
char *
fc_get_text(int col)
{
	bool		isnull;
	Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc,
								  col, &isnull);

	if (isnull)
		return NULL;
	return TextDatumGetCString(d);
}
