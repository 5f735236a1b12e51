/*-------------------------------------------------------------------------
 *
 * billing_period.c
 *	  Billing periods: the calendar-month period that contains a time, for an
 *	  account anchored at a timestamptz in a time zone.
 *
 * Period k (any sign) of an account starts at
 *
 *	 start_k = ((anchor AT TIME ZONE tz) + k * interval '1 month') AT TIME ZONE tz
 *
 * and the period containing "at" is [start_k, start_(k+1)) for the one k with
 * start_k <= at < start_(k+1).  The code below must agree with that SQL
 * expression on every input, so it follows PostgreSQL 15's own code paths
 * step by step:
 *
 *	 - the zone name is resolved as timestamptz_zone() and timestamp_zone()
 *	   resolve it: truncated to TZ_STRLEN_MAX bytes, looked up first as an
 *	   abbreviation (DecodeTimezoneAbbrev: fixed TZ/DTZ or dynamic DYNTZ),
 *	   then as a full zone name or POSIX specification (pg_tzset);
 *	 - "anchor AT TIME ZONE tz" is computed as timestamptz_zone() does;
 *	 - "+ k months" is timestamp_pl_interval()'s month arithmetic: add to the
 *	   month, clip the day to the last day of the target month, keep the time
 *	   of day;
 *	 - "AT TIME ZONE tz" back to timestamptz is timestamp_zone(): for a full
 *	   zone, DetermineTimeZoneOffset() on the local fields, which is what
 *	   decides DST gaps (a local time that does not exist) and overlaps (one
 *	   that exists twice).
 *
 * It is O(1) in the distance between anchor and at: the local anchor is
 * decomposed once; k is estimated from the local year/month/day/time-of-day
 * difference (exact for fixed-offset zones), then corrected by a step when a
 * UTC offset change moves a boundary across at.  Only two or three starts are
 * ever computed.
 *
 * Caching: the credits code calls fc_billing_period() on every request, so
 * resolved zones are kept in a small static cache keyed by name.  The
 * abbreviation table depends on the timezone_abbreviations setting, so the
 * cache is emptied whenever that setting's value is a different string than
 * the one the entries were resolved under (every SET, RESET, rollback of a
 * SET and configuration reload installs a newly allocated string, and the
 * table is only ever read from the file when the setting is assigned).
 * The last anchor's decomposition is cached too.  Once a zone is cached, a
 * call allocates nothing but the result range.
 *
 * Errors: an unknown zone raises 22023 with PostgreSQL's own message.  An
 * infinite anchor or at raises 22008: no period contains an infinite time
 * (the SQL expression above would yield infinite starts, so no k satisfies
 * start_k <= at < start_(k+1)).  A period whose start or end, or a local time
 * on the way, falls outside the timestamp range raises 22008 as well.
 *
 * Accounts (1.7): an account's zone is a name that pg_timezone_names lists
 * (fc_check_account_time_zone), and its periods read it as that zone of the
 * time zone database, never as an abbreviation (fc_account_billing_period):
 * a few names, such as EST and CET, are abbreviations too, whose meaning
 * the session's timezone_abbreviations decides.  For the other names, UTC
 * and every name with a slash, both readings are the same zone.
 *
 * IDENTIFICATION
 *	  src/billing_period.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "parser/scansup.h"
#include "pgtime.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/guc.h"
#include "utils/guc_tables.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/rangetypes.h"
#include "utils/timestamp.h"
#include "utils/typcache.h"

#include "billing_period.h"

/* How a zone name resolved, as timestamptz_zone()/timestamp_zone() see it */
typedef enum FcZoneKind
{
	FC_ZONE_FIXED,				/* fixed-offset abbreviation (TZ, DTZ) */
	FC_ZONE_DYNAMIC,			/* dynamic abbreviation (DYNTZ) */
	FC_ZONE_FULL				/* full zone name or POSIX spec (pg_tzset) */
} FcZoneKind;

typedef struct FcZone
{
	bool		valid;
	uint64		generation;		/* changes whenever the entry is refilled */
	bool		as_zone;		/* resolved as a zone name only (accounts) */
	FcZoneKind	kind;
	int			offset;			/* FIXED: seconds east of UTC */
	pg_tz	   *tzp;			/* DYNAMIC, FULL: zone data (never freed) */
	int			namelen;
	char		name[TZ_STRLEN_MAX + 1];	/* as AT TIME ZONE sees it */
} FcZone;

/* The anchor in local time, decomposed once */
typedef struct FcAnchor
{
	const FcZone *zone;			/* zone entry and its generation ... */
	uint64		generation;		/* ... that this decomposition used */
	TimestampTz anchor;
	Timestamp	local;			/* anchor AT TIME ZONE tz */
	struct pg_tm tm;			/* local fields */
	fsec_t		fsec;
	int64		tod;			/* local time of day, microseconds */
} FcAnchor;

#define FC_ZONE_CACHE_SIZE 8

static FcZone fc_zone_cache[FC_ZONE_CACHE_SIZE];
static int	fc_zone_last = 0;	/* most recently used entry */
static int	fc_zone_next = 0;	/* next entry to replace */
static uint64 fc_zone_generation = 0;
static FcAnchor fc_anchor_cache;

static const FcZone *fc_zone_lookup(const char *name, int len, bool as_zone);
static void fc_zone_resolve(FcZone *zone, const char *name, int len, bool as_zone);
static const FcAnchor *fc_anchor_local(const FcZone *zone, TimestampTz anchor);
static TimestampTz fc_period_start(const FcZone *zone, const FcAnchor *a,
								   int64 k);
static void fc_period_containing(const FcZone *zone, TimestampTz anchor,
								 TimestampTz at, TimestampTz *start,
								 TimestampTz *end);
static void fc_out_of_range(void) pg_attribute_noreturn();
static void fc_bad_zone_kind(const FcZone *zone) pg_attribute_noreturn();

/*
 * Raise the error for a period, or a local time on the way to one, that
 * falls outside the range of timestamp.
 */
static void
fc_out_of_range(void)
{
	ereport(ERROR,
			(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
			 errmsg("timestamp out of range"),
			 errdetail("The billing period, or the anchor in local time, lies outside the range of timestamp.")));
}

/* A zone entry of no known kind: an internal error. */
static void
fc_bad_zone_kind(const FcZone *zone)
{
	elog(ERROR, "unexpected time zone kind %d", (int) zone->kind);
	pg_unreachable();
}

/*
 * Resolve a zone name into *zone exactly as timestamptz_zone() does in
 * PostgreSQL 15: abbreviations first (they win over zone names that look the
 * same, such as "EST"), then pg_tzset(), which also accepts POSIX-style
 * specifications.  name[0..len) is already truncated as text_to_cstring_buffer
 * would truncate it; it need not be NUL-terminated.
 *
 * With as_zone, for an account's zone (a name pg_timezone_names lists, see
 * fc_check_account_time_zone), the name is the zone database's and nothing
 * else: no abbreviation is looked up, as the session's
 * timezone_abbreviations decides those ("EST" is -05:00 or +10:00, "CET" a
 * fixed +01:00 where the zone CET has summer time).  A zone of one fixed
 * offset (UTC, Etc/GMT-14) is kept as that offset, which gives the same
 * periods with less work.
 */
static void
fc_zone_resolve(FcZone *zone, const char *name, int len, bool as_zone)
{
	char		tzname[TZ_STRLEN_MAX + 1];
	char	   *lowzone;
	int			type = UNKNOWN_FIELD,
				val;
	pg_tz	   *tzp;

	Assert(len <= TZ_STRLEN_MAX);
	memcpy(tzname, name, len);
	tzname[len] = '\0';

	zone->valid = false;

	if (!as_zone)
	{
		/* DecodeTimezoneAbbrev requires lowercase input */
		lowzone = downcase_truncate_identifier(tzname, strlen(tzname), false);
		type = DecodeTimezoneAbbrev(0, lowzone, &val, &tzp);
		pfree(lowzone);
	}

	if (type == TZ || type == DTZ)
	{
		zone->kind = FC_ZONE_FIXED;
		zone->offset = val;
		zone->tzp = NULL;
	}
	else if (type == DYNTZ)
	{
		zone->kind = FC_ZONE_DYNAMIC;
		zone->offset = 0;
		zone->tzp = tzp;
	}
	else
	{
		long		gmtoff;

		tzp = pg_tzset(tzname);
		if (tzp == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("time zone \"%s\" not recognized", tzname),
					 errhint("Use a name from pg_timezone_names, an abbreviation from pg_timezone_abbrevs, or a POSIX time zone specification.")));
		if (as_zone && pg_get_timezone_offset(tzp, &gmtoff))
		{
			zone->kind = FC_ZONE_FIXED;
			zone->offset = (int) gmtoff;
			zone->tzp = NULL;
		}
		else
		{
			zone->kind = FC_ZONE_FULL;
			zone->offset = 0;
			zone->tzp = tzp;
		}
	}

	memcpy(zone->name, tzname, len + 1);
	zone->namelen = len;
	zone->as_zone = as_zone;
	zone->generation = ++fc_zone_generation;
	zone->valid = true;
}

/*
 * The resolved zone for name[0..len), from the cache when it was resolved
 * under the current timezone_abbreviations.  Truncates the name as AT TIME
 * ZONE does.  as_zone: see fc_zone_resolve.
 */
static const FcZone *
fc_zone_lookup(const char *name, int len, bool as_zone)
{
	static char **abbrevs_var = NULL;	/* the setting's variable */
	static const char *abbrevs_ptr = NULL;	/* its string ... */
	static char *abbrevs_copy = NULL;	/* ... and value, entries resolved under */
	const char *abbrevs;
	FcZone	   *zone;
	int			i;

	/*
	 * The setting's variable, found once (GetConfigOption() would search the
	 * settings by name on every call); built-in settings never move.
	 */
	if (abbrevs_var == NULL)
	{
		struct config_generic **vars = get_guc_variables();
		int			n = GetNumConfigOptions();

		for (i = 0; i < n; i++)
			if (vars[i]->vartype == PGC_STRING &&
				strcmp(vars[i]->name, "timezone_abbreviations") == 0)
				abbrevs_var = ((struct config_string *) vars[i])->variable;
		if (abbrevs_var == NULL)
			elog(ERROR, "fluxcredits: setting timezone_abbreviations not found");
	}
	abbrevs = *abbrevs_var;
	if (abbrevs != abbrevs_ptr || abbrevs_copy == NULL ||
		strcmp(abbrevs ? abbrevs : "", abbrevs_copy) != 0)
	{
		char	   *copy = MemoryContextStrdup(TopMemoryContext, abbrevs ? abbrevs : "");

		if (abbrevs_copy != NULL)
			pfree(abbrevs_copy);
		abbrevs_copy = copy;
		abbrevs_ptr = abbrevs;
		for (i = 0; i < FC_ZONE_CACHE_SIZE; i++)
			fc_zone_cache[i].valid = false;
	}

	/* text_to_cstring_buffer(zone, tzname, TZ_STRLEN_MAX + 1) truncation */
	if (len > TZ_STRLEN_MAX)
		len = pg_mbcliplen(name, len, TZ_STRLEN_MAX);

	zone = &fc_zone_cache[fc_zone_last];
	if (zone->valid && zone->as_zone == as_zone && zone->namelen == len &&
		memcmp(zone->name, name, len) == 0)
		return zone;

	for (i = 0; i < FC_ZONE_CACHE_SIZE; i++)
	{
		zone = &fc_zone_cache[i];
		if (zone->valid && zone->as_zone == as_zone && zone->namelen == len &&
			memcmp(zone->name, name, len) == 0)
		{
			fc_zone_last = i;
			return zone;
		}
	}

	zone = &fc_zone_cache[fc_zone_next];
	fc_zone_resolve(zone, name, len, as_zone);
	fc_zone_last = fc_zone_next;
	fc_zone_next = (fc_zone_next + 1) % FC_ZONE_CACHE_SIZE;
	return zone;
}

/*
 * "anchor AT TIME ZONE tz" (timestamptz_zone), then decomposed as
 * timestamp_pl_interval() decomposes it.  Cached for the last anchor.
 */
static const FcAnchor *
fc_anchor_local(const FcZone *zone, TimestampTz anchor)
{
	FcAnchor   *a = &fc_anchor_cache;
	Timestamp	local;
	struct pg_tm tm;
	fsec_t		fsec;
	int			tz;

	if (a->zone == zone && a->generation == zone->generation &&
		a->anchor == anchor)
		return a;

	a->zone = NULL;

	switch (zone->kind)
	{
		case FC_ZONE_FIXED:
			/* tz = -val; dt2local(timestamp, tz) */
			local = anchor + (int64) zone->offset * USECS_PER_SEC;
			break;
		case FC_ZONE_DYNAMIC:
			{
				int			isdst;

				tz = DetermineTimeZoneAbbrevOffsetTS(anchor, zone->name,
													 zone->tzp, &isdst);
				local = anchor - (int64) tz * USECS_PER_SEC;
			}
			break;
		case FC_ZONE_FULL:
			if (timestamp2tm(anchor, &tz, &tm, &fsec, NULL, zone->tzp) != 0 ||
				tm2timestamp(&tm, fsec, NULL, &local) != 0)
				fc_out_of_range();
			break;
		default:
			fc_bad_zone_kind(zone);
	}
	if (!IS_VALID_TIMESTAMP(local))
		fc_out_of_range();

	/* timestamp_pl_interval: timestamp2tm(timestamp, NULL, tm, &fsec, ...) */
	if (timestamp2tm(local, NULL, &a->tm, &a->fsec, NULL, NULL) != 0)
		fc_out_of_range();
	a->local = local;
	a->tod = ((((int64) a->tm.tm_hour * MINS_PER_HOUR) + a->tm.tm_min) *
			  SECS_PER_MINUTE + a->tm.tm_sec) * USECS_PER_SEC + a->fsec;
	a->anchor = anchor;
	a->generation = zone->generation;
	a->zone = zone;
	return a;
}

/*
 * start_k = ((anchor AT TIME ZONE tz) + k * interval '1 month') AT TIME ZONE tz
 */
static TimestampTz
fc_period_start(const FcZone *zone, const FcAnchor *a, int64 k)
{
	struct pg_tm tm;
	Timestamp	local;
	TimestampTz result;
	int			tz;

	if (k == 0)
	{
		/* timestamp_pl_interval does no month arithmetic for 0 months */
		local = a->local;
		tm = a->tm;
	}
	else
	{
		/* timestamp_pl_interval: add months, clip the day, keep the time */
		int64		months = (int64) a->tm.tm_year * MONTHS_PER_YEAR +
			(a->tm.tm_mon - 1) + k;
		int64		year = months / MONTHS_PER_YEAR;
		int			mon = (int) (months % MONTHS_PER_YEAR);
		int			mdays;

		if (mon < 0)
		{
			mon += MONTHS_PER_YEAR;
			year--;
		}
		if (year < JULIAN_MINYEAR || year > JULIAN_MAXYEAR)
			fc_out_of_range();
		tm = a->tm;
		tm.tm_year = (int) year;
		tm.tm_mon = mon + 1;
		mdays = day_tab[isleap(tm.tm_year)][tm.tm_mon - 1];
		if (tm.tm_mday > mdays)
			tm.tm_mday = mdays;

		/*
		 * tm2timestamp(tm, fsec, NULL, &local).  With valid fields and a time
		 * of day below 24:00, its overflow checks reduce to these two.
		 */
		if (!IS_VALID_JULIAN(tm.tm_year, tm.tm_mon, tm.tm_mday))
			fc_out_of_range();
		local = (date2j(tm.tm_year, tm.tm_mon, tm.tm_mday) - POSTGRES_EPOCH_JDATE) *
			USECS_PER_DAY + a->tod;
		if (!IS_VALID_TIMESTAMP(local))
			fc_out_of_range();
	}

	/* timestamp_zone(): the local time back to timestamptz */
	switch (zone->kind)
	{
		case FC_ZONE_FIXED:
			/* tz = val; dt2local(timestamp, tz) */
			result = local - (int64) zone->offset * USECS_PER_SEC;
			break;
		case FC_ZONE_DYNAMIC:
			tz = -DetermineTimeZoneAbbrevOffset(&tm, zone->name, zone->tzp);
			result = local - (int64) tz * USECS_PER_SEC;
			break;
		case FC_ZONE_FULL:
			/* tz = DetermineTimeZoneOffset(); tm2timestamp(&tm, fsec, &tz) */
			tz = DetermineTimeZoneOffset(&tm, zone->tzp);
			result = local + (int64) tz * USECS_PER_SEC;
			break;
		default:
			fc_bad_zone_kind(zone);
	}
	if (!IS_VALID_TIMESTAMP(result))
		fc_out_of_range();
	return result;
}

/*
 * The period [*start, *end) containing at.  Both timestamps must be finite.
 */
static void
fc_period_containing(const FcZone *zone, TimestampTz anchor, TimestampTz at,
					 TimestampTz *start, TimestampTz *end)
{
	const FcAnchor *a = fc_anchor_local(zone, anchor);
	Timestamp	local_at;
	int64		date;
	int64		tod;
	int			year,
				mon,
				mday;
	int64		k;
	int			clipped_day;
	TimestampTz s0,
				s1;

	/*
	 * Estimate at in local time with the anchor's UTC offset: exact for a
	 * fixed-offset zone, otherwise off by the change of offset between the
	 * two (a DST shift, or a zone's change of standard time), which moves k
	 * by one at most.  Offsets are below a day, so nothing overflows.
	 */
	local_at = at + (a->local - anchor);
	date = local_at / USECS_PER_DAY;
	tod = local_at % USECS_PER_DAY;
	if (tod < 0)
	{
		tod += USECS_PER_DAY;
		date--;
	}
	date += POSTGRES_EPOCH_JDATE;
	if (date < 0 || date > INT_MAX)
		fc_out_of_range();		/* so would be the period */
	j2date((int) date, &year, &mon, &mday);

	/* whole months from the local anchor to local at, day clipped */
	k = ((int64) year - a->tm.tm_year) * MONTHS_PER_YEAR + (mon - a->tm.tm_mon);
	clipped_day = Min(a->tm.tm_mday, day_tab[isleap(year)][mon - 1]);
	if (mday < clipped_day || (mday == clipped_day && tod < a->tod))
		k--;

	/*
	 * Correct the estimate.  start_k increases strictly with k (months are
	 * weeks long, UTC offset changes hours), so this ends after a step at
	 * most in practice; out-of-range starts raise an error, so it always
	 * ends.
	 */
	s0 = fc_period_start(zone, a, k);
	if (at < s0)
	{
		do
		{
			k--;
			s1 = s0;
			s0 = fc_period_start(zone, a, k);
		} while (at < s0);
	}
	else
	{
		s1 = fc_period_start(zone, a, k + 1);
		while (at >= s1)
		{
			k++;
			s0 = s1;
			s1 = fc_period_start(zone, a, k + 1);
		}
	}

	*start = s0;
	*end = s1;
}

/* An infinite timestamp as text, for messages. */
static inline const char *
fc_infinity_name(TimestampTz t)
{
	return TIMESTAMP_IS_NOBEGIN(t) ? "-infinity" : "infinity";
}

/*
 * Reject infinite inputs (22008): no period contains an infinite time, and
 * an infinite anchor has no months to count.
 */
static inline void
fc_check_finite(TimestampTz anchor, TimestampTz at)
{
	if (TIMESTAMP_NOT_FINITE(anchor))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("billing period anchor must be finite"),
				 errdetail("The anchor is %s.", fc_infinity_name(anchor))));
	if (TIMESTAMP_NOT_FINITE(at))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("no billing period contains an infinite timestamp"),
				 errdetail("The time is %s.", fc_infinity_name(at))));
}

/* Reject a NULL zone name (22004). */
static inline void
fc_check_zone_given(const char *tz)
{
	if (tz == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("time zone must not be null")));
}

/*
 * Raise SQLSTATE 22023 unless tz names a time zone that AT TIME ZONE accepts.
 */
void
fc_check_time_zone(const char *tz)
{
	fc_check_zone_given(tz);
	(void) fc_zone_lookup(tz, strlen(tz), false);
}

/*
 * The names pg_timezone_names lists, read once per backend: a hash table of
 * them, in TopMemoryContext.  pg_timezone_names() walks the zone database
 * with pg_tzenumerate_next(), which leaves out zones that count leap
 * seconds (pg_tz_acceptable: the right/ zones), and skips a zone whose
 * conversion of now() fails or whose abbreviation is absurdly long; so does
 * this.  The walk loads every zone file, far too slow for every check; a
 * table of names makes every later check a lookup.
 */
static HTAB *fc_listed_zones = NULL;

static bool
fc_zone_is_listed(const char *tz)
{
	char		key[TZ_STRLEN_MAX + 1];

	if (fc_listed_zones == NULL)
	{
		HASHCTL		ctl;
		HTAB	   *names;
		pg_tzenum  *tzenum;
		pg_tz	   *tzp;

		ctl.keysize = TZ_STRLEN_MAX + 1;
		ctl.entrysize = TZ_STRLEN_MAX + 1;
		ctl.hcxt = TopMemoryContext;
		names = hash_create("fluxcredits zone names", 2048, &ctl,
							HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
		PG_TRY();
		{
			tzenum = pg_tzenumerate_start();
			while ((tzp = pg_tzenumerate_next(tzenum)) != NULL)
			{
				struct pg_tm tm;
				fsec_t		fsec;
				const char *tzn;
				int			tzoff;

				/* pg_timezone_names()'s own two filters */
				if (timestamp2tm(GetCurrentTransactionStartTimestamp(), &tzoff, &tm,
								 &fsec, &tzn, tzp) != 0)
					continue;
				if (tzn && strlen(tzn) > 31)
					continue;
				strlcpy(key, pg_get_timezone_name(tzp), sizeof(key));
				(void) hash_search(names, key, HASH_ENTER, NULL);
			}
			pg_tzenumerate_end(tzenum);
		}
		PG_CATCH();
		{
			hash_destroy(names);
			PG_RE_THROW();
		}
		PG_END_TRY();
		fc_listed_zones = names;
	}
	if (strlen(tz) > TZ_STRLEN_MAX)
		return false;
	strlcpy(key, tz, sizeof(key));
	return hash_search(fc_listed_zones, key, HASH_FIND, NULL) != NULL;
}

/*
 * Raise SQLSTATE 22023 unless tz may be an account's time zone: a name that
 * pg_timezone_names lists (exactly so: names are case-sensitive there), and
 * not a leap-second zone (right/...).  Such a name means one zone of the
 * zone database in every session, which fc_account_billing_period() reads
 * it as; abbreviations and POSIX specifications are not names of it.
 */
void
fc_check_account_time_zone(const char *tz)
{
	bool		leap;

	fc_check_zone_given(tz);
	leap = strncmp(tz, "right/", 6) == 0;
	if (leap || !fc_zone_is_listed(tz))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("time zone \"%s\" cannot be an account's time zone", tz),
				 errdetail("An account's time zone must be a name that pg_timezone_names lists, and not a leap-second zone (right/...)."),
				 leap ?
				 errhint("Leap-second zones count seconds that timestamptz does not; use the name without \"right/\".") :
				 errhint("Names are case-sensitive; abbreviations and POSIX time zone specifications are not names.  Pick one from pg_timezone_names, such as Europe/Paris or UTC.")));
}

/*
 * The period [*start, *end) containing at, for a zone name tz read as
 * fc_zone_lookup() reads it (as_zone: see fc_zone_resolve).
 */
static void
fc_period_in_zone(TimestampTz anchor, TimestampTz at, const char *tz,
				  bool as_zone, TimestampTz *start, TimestampTz *end)
{
	const FcZone *zone;

	fc_check_finite(anchor, at);
	fc_check_zone_given(tz);
	zone = fc_zone_lookup(tz, strlen(tz), as_zone);
	fc_period_containing(zone, anchor, at, start, end);
}

/*
 * The billing period [*start, *end) that contains at; see billing_period.h.
 */
void
fc_billing_period(TimestampTz anchor, TimestampTz at, const char *tz,
				  TimestampTz *start, TimestampTz *end)
{
	fc_period_in_zone(anchor, at, tz, false, start, end);
}

/*
 * The billing period [*start, *end) of an account that contains at: as
 * fc_billing_period(), with tz read as the name of a zone of the time zone
 * database, never as an abbreviation (see fc_zone_resolve).  For every zone
 * an account could have before 1.7 (UTC, and names with a slash, which no
 * abbreviation has) the periods are the same.
 */
void
fc_account_billing_period(TimestampTz anchor, TimestampTz at, const char *tz,
						  TimestampTz *start, TimestampTz *end)
{
	fc_period_in_zone(anchor, at, tz, true, start, end);
}

/*
 * The tstzrange [start, end), start < end, laid out as range_serialize()
 * lays it out for an 8-byte pass-by-value, double-aligned element: header,
 * range type OID, lower bound, upper bound, flags byte.  Building it directly
 * skips the type cache and a comparison call per row.  Assert-enabled builds
 * check it against make_range().
 */
static RangeType *
fc_make_tstzrange(TimestampTz start, TimestampTz end)
{
	Size		size = sizeof(RangeType) + 2 * sizeof(TimestampTz) + sizeof(char);
	RangeType  *range;
	char	   *ptr;

	Assert(start < end);
	range = (RangeType *) palloc0(size);
	SET_VARSIZE(range, size);
	range->rangetypid = TSTZRANGEOID;
	ptr = (char *) (range + 1);
	memcpy(ptr, &start, sizeof(TimestampTz));
	memcpy(ptr + sizeof(TimestampTz), &end, sizeof(TimestampTz));
	ptr[2 * sizeof(TimestampTz)] = RANGE_LB_INC;

#ifdef USE_ASSERT_CHECKING
	{
		TypeCacheEntry *typcache = lookup_type_cache(TSTZRANGEOID,
													 TYPECACHE_RANGE_INFO);
		RangeBound	lower,
					upper;
		RangeType  *check;

		lower.val = TimestampTzGetDatum(start);
		lower.infinite = false;
		lower.inclusive = true;
		lower.lower = true;
		upper.val = TimestampTzGetDatum(end);
		upper.infinite = false;
		upper.inclusive = false;
		upper.lower = false;
		check = make_range(typcache, &lower, &upper, false);
		Assert(VARSIZE(check) == size && memcmp(check, range, size) == 0);
		pfree(check);
	}
#endif

	return range;
}

/* billing_period(anchor, at, tz): the period [start, next start) containing at */
PG_FUNCTION_INFO_V1(fc_billing_period_sql);

Datum
fc_billing_period_sql(PG_FUNCTION_ARGS)
{
	TimestampTz anchor = PG_GETARG_TIMESTAMPTZ(0);
	TimestampTz at = PG_GETARG_TIMESTAMPTZ(1);
	text	   *tz = PG_GETARG_TEXT_PP(2);
	const FcZone *zone;
	TimestampTz start,
				end;

	fc_check_finite(anchor, at);
	zone = fc_zone_lookup(VARDATA_ANY(tz), VARSIZE_ANY_EXHDR(tz), false);
	fc_period_containing(zone, anchor, at, &start, &end);

	PG_RETURN_RANGE_P(fc_make_tstzrange(start, end));
}
