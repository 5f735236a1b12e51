/*-------------------------------------------------------------------------
 *
 * advisory_locks.c
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
 * IDENTIFICATION
 *	  src/advisory_locks.c
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
#define FC_LOCK_CLASS_IMAGES 0x46430003 /* "FC", all AI images of a period */

static void
advisory_xact_lock(uint32 classid, const StringInfo data, LOCKMODE mode)
{
	LOCKTAG		tag;
	uint32		hash = hash_bytes((const unsigned char *) data->data, data->len);

	/* the same tag as pg_advisory_xact_lock(int4, int4) (_shared for ShareLock) */
	SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, classid, hash, 2);
	(void) LockAcquire(&tag, mode, false, false);
}

/* The account's period, the key of the lock on all its AI images. */
static void
period_key(StringInfo buf, const char *account, TimestampTz period_start)
{
	initStringInfo(buf);
	appendBinaryStringInfo(buf, (const char *) &period_start, sizeof(period_start));
	appendBinaryStringInfo(buf, account, strlen(account) + 1);
}

/* Serialise the calls of account with idempotency key. */
void
fc_lock_key(const char *account, const char *key)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendBinaryStringInfo(&buf, account, strlen(account) + 1);
	appendStringInfoString(&buf, key);
	advisory_xact_lock(FC_LOCK_CLASS_KEY, &buf, ExclusiveLock);
	pfree(buf.data);
}

/*
 * Serialise the AI charges and refunds of account's image in a period.  The
 * image's own lock is taken under a shared lock on all the account's images
 * of the period, which a statement of the charge() trigger takes whole
 * (fc_lock_images) rather than one lock per image: a bulk insert of many
 * thousands of images would need more locks than the lock table holds.
 */
void
fc_lock_image(const char *account, const char *image, TimestampTz period_start)
{
	StringInfoData buf;

	period_key(&buf, account, period_start);
	advisory_xact_lock(FC_LOCK_CLASS_IMAGES, &buf, ShareLock);
	appendStringInfoString(&buf, image);
	advisory_xact_lock(FC_LOCK_CLASS_IMAGE, &buf, ExclusiveLock);
	pfree(buf.data);
}

/* Serialise against every AI charge and refund of account's images in a period. */
void
fc_lock_images(const char *account, TimestampTz period_start)
{
	StringInfoData buf;

	period_key(&buf, account, period_start);
	advisory_xact_lock(FC_LOCK_CLASS_IMAGES, &buf, ExclusiveLock);
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

/* _lock_image under the name of its 1.6 definition: see fc_credits_consume_1_6. */
PG_FUNCTION_INFO_V1(fc_lock_image_sql_1_6);
Datum
fc_lock_image_sql_1_6(PG_FUNCTION_ARGS)
{
	return fc_lock_image_sql(fcinfo);
}
