/*-------------------------------------------------------------------------
 *
 * locks.c
 *	  Transaction-level advisory locks that serialise the calls that must
 *	  see each other: the calls of one account with one idempotency key, and
 *	  the AI charges and refunds of one image in one billing period.
 *
 * They are taken before any row lock (see fluxcredits.h) and released at
 * commit or rollback, so a waiting call re-reads the ledger after the first
 * call's outcome is final.  The lock space is PostgreSQL's advisory locks
 * with a class id of fluxcredits' own in the first key; a hash collision only
 * makes two unrelated calls wait for each other.
 *
 *-------------------------------------------------------------------------
 */
#include "fluxcredits.h"

#include "common/hashfn.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "storage/lock.h"
#include "utils/builtins.h"

#define FC_LOCK_CLASS_KEY	0x46430001	/* "FC", idempotency keys */
#define FC_LOCK_CLASS_IMAGE 0x46430002	/* "FC", AI images */

static void
advisory_xact_lock(uint32 classid, const StringInfo data)
{
	LOCKTAG		tag;
	uint32		hash = hash_bytes((const unsigned char *) data->data, data->len);

	/* the same tag as pg_advisory_xact_lock(int4, int4) */
	SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, classid, hash, 2);
	(void) LockAcquire(&tag, ExclusiveLock, false, false);
}

/* Serialise the calls of account with idempotency key. */
void
fc_lock_key(const char *account, const char *key)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendBinaryStringInfo(&buf, account, strlen(account) + 1);
	appendStringInfoString(&buf, key);
	advisory_xact_lock(FC_LOCK_CLASS_KEY, &buf);
	pfree(buf.data);
}

/* Serialise the AI charges and refunds of account's image in a period. */
void
fc_lock_image(const char *account, const char *image, TimestampTz period_start)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendBinaryStringInfo(&buf, (const char *) &period_start, sizeof(period_start));
	appendBinaryStringInfo(&buf, account, strlen(account) + 1);
	appendStringInfoString(&buf, image);
	advisory_xact_lock(FC_LOCK_CLASS_IMAGE, &buf);
	pfree(buf.data);
}

/* _lock_image(account, image, period_start), for credits_refund(). */
PG_FUNCTION_INFO_V1(fc_lock_image_sql);
Datum
fc_lock_image_sql(PG_FUNCTION_ARGS)
{
	fc_lock_image(text_to_cstring(PG_GETARG_TEXT_PP(0)),
				  text_to_cstring(PG_GETARG_TEXT_PP(1)),
				  PG_GETARG_TIMESTAMPTZ(2));
	PG_RETURN_VOID();
}
