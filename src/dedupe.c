/*-------------------------------------------------------------------------
 *
 * dedupe.c
 *	  The lookups after which a call charges nothing: an idempotency key
 *	  the account already used (the first call's charge is replayed), and
 *	  an AI image already charged in the period (the charge covering it).
 *
 * Each runs under its advisory lock (advisory_locks.c), taken before any
 * row lock, so a waiting call reads the ledger once the first call's
 * outcome is final.  A key used again with other arguments is an error.
 * An AI image is covered in a period by the first charge or hold of it that
 * no refund or release took back and that is not a hold past its ttl; a
 * ledger row that names the charge covering it covers nothing itself.  One
 * call looks for its image (fc_find_covering_charge), a statement of the
 * charge() trigger for all its images at once (fc_find_covering_charges).
 *
 * IDENTIFICATION
 *	  src/dedupe.c
 *
 *-------------------------------------------------------------------------
 */
#include "fluxcredits.h"

#include "catalog/pg_type_d.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"

/*
 * The conditions under which ledger row l, of the account's image in the
 * period, covers the image: an AI charge or hold of it (not a row naming
 * the charge covering it) that no refund or release took back and that is
 * not a hold past its ttl at the call's time, $4.
 */
#define COVERS_IMAGE \
	"   AND l.entry IN ('consume', 'hold') AND l.kind = 'ai' AND l.charge IS NULL" \
	"   AND NOT EXISTS (SELECT FROM fluxcredits.ledger r" \
	"                    WHERE r.entry IN ('refund', 'release') AND r.charge = l.id)" \
	"   AND NOT EXISTS (SELECT FROM fluxcredits.reservations v" \
	"                    WHERE v.id = l.id AND v.state = 'held' AND v.expires_at <= $4)"

static inline bool
str_equal(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* "3 compression credits for image \"x.png\"", for messages. */
static char *
describe_charge(int64 amount, const char *kind, const char *image)
{
	const char *unit = amount == 1 ? "credit" : "credits";

	if (image == NULL)
		return psprintf("%lld %s %s with no image", (long long) amount, kind, unit);
	return psprintf("%lld %s %s for image \"%s\"", (long long) amount, kind, unit, image);
}

/*
 * A previous call of this account with the same idempotency key: its charge
 * id in *charge, or false.  Other arguments than the first call's: an error.
 */
bool
fc_find_replay(const FcCharge *a, int64 *charge)
{
	static SPIPlanPtr plan = NULL;
	static const Oid types[2] = {TEXTOID, TEXTOID};
	Datum		values[2];
	int64		id,
				amount;
	char	   *kind,
			   *image;

	values[0] = CStringGetTextDatum(a->account);
	values[1] = CStringGetTextDatum(a->key);
	if (fc_execute(a->account, &plan,
				   "SELECT id, kind::text,"
				   "       CASE WHEN charge IS NULL THEN monthly - topup ELSE 1 END,"
				   "       image, coalesce(charge, id)"
				   "  FROM fluxcredits.ledger"
				   " WHERE account = $1 AND idempotency_key = $2",
				   2, types, values, NULL, 1, SPI_OK_SELECT, "idempotency lookup") == 0)
		return false;

	fc_get_int64(1, &id);
	kind = fc_get_text(2);
	fc_get_int64(3, &amount);
	image = fc_get_text(4);
	fc_get_int64(5, charge);
	if (strcmp(kind, fc_kind_name(a->kind)) != 0 || amount != a->amount ||
		!str_equal(image, a->image))
		ereport(ERROR,
				(errcode(ERRCODE_FC_IDEMPOTENCY_CONFLICT),
				 errmsg("idempotency key \"%s\" of account \"%s\" was already used with other arguments",
						a->key, a->account),
				 errdetail("The first call (ledger entry %lld) charged %s; this call asks for %s.",
						   (long long) id, describe_charge(amount, kind, image),
						   describe_charge(a->amount, fc_kind_name(a->kind), a->image)),
				 errhint("Use a new idempotency key for a new charge.")));
	return true;
}

/*
 * The charge that already paid for AI on this image in this period, if any.
 * Called under fc_lock_image().
 */
bool
fc_find_covering_charge(const FcCharge *a, TimestampTz period_start, int64 *charge)
{
	static SPIPlanPtr plan = NULL;
	static const Oid types[4] = {TEXTOID, TEXTOID, TIMESTAMPTZOID, TIMESTAMPTZOID};
	Datum		values[4];

	values[0] = CStringGetTextDatum(a->account);
	values[1] = CStringGetTextDatum(a->image);
	values[2] = TimestampTzGetDatum(period_start);
	values[3] = TimestampTzGetDatum(a->at);
	if (fc_execute(a->account, &plan,
				   "SELECT l.id FROM fluxcredits.ledger l"
				   " WHERE l.account = $1 AND l.image = $2 AND l.period_start = $3"
				   COVERS_IMAGE
				   " ORDER BY l.id LIMIT 1",
				   4, types, values, NULL, 1, SPI_OK_SELECT, "image lookup") == 0)
		return false;
	fc_get_int64(1, charge);
	return true;
}

/*
 * The charges that already cover images of account in the period starting
 * at start (as fc_find_covering_charge sees them), entered in images, a
 * hash table of FcImageEntry; list holds the nlist images as text.  Called
 * under fc_lock_images().
 */
void
fc_find_covering_charges(const char *account, TimestampTz start, TimestampTz at,
						 HTAB *images, Datum *list, int nlist)
{
	static SPIPlanPtr plan = NULL;
	static const Oid types[4] = {TEXTOID, TEXTARRAYOID, TIMESTAMPTZOID, TIMESTAMPTZOID};
	Datum		values[4];
	uint64		n;

	values[0] = CStringGetTextDatum(account);
	values[1] = PointerGetDatum(construct_array(list, nlist, TEXTOID, -1, false, TYPALIGN_INT));
	values[2] = TimestampTzGetDatum(start);
	values[3] = TimestampTzGetDatum(at);
	n = fc_execute(account, &plan,
				   "SELECT l.image, min(l.id) FROM fluxcredits.ledger l"
				   " WHERE l.account = $1 AND l.image = ANY ($2) AND l.period_start = $3"
				   COVERS_IMAGE
				   " GROUP BY l.image",
				   4, types, values, NULL, 0, SPI_OK_SELECT, "image lookup");
	for (uint64 i = 0; i < n; i++)
	{
		bool		isnull;
		char	   *image = TextDatumGetCString(SPI_getbinval(SPI_tuptable->vals[i],
															  SPI_tuptable->tupdesc, 1, &isnull));
		int64		id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i],
													 SPI_tuptable->tupdesc, 2, &isnull));
		FcImageEntry *e = hash_search(images, &image, HASH_FIND, NULL);

		if (e != NULL)
			e->covering = id;
	}
}
